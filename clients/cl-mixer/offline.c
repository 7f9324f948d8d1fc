/*
 * cl-mixer without JACK: mixdown, loudness analysis and fader proposals.
 * See offline.h for the mix document and the contracts.
 *
 * Mixdown runs the very functions the live process callback runs: the
 * document's settings go through the same mixer_set_* calls, then
 * mixer_settle() so the file starts where the faders stand instead of
 * ramping in from the defaults, then mixer_process() in blocks of 1024
 * frames. Its output is therefore the live mix sample for sample. The
 * whole document is checked and every file opened before anything is
 * written, so most mistakes cost nothing; the output then goes through
 * the shared writer (cl_audiofile.h): a hidden temporary in the target's
 * folder, renamed into place only when complete, removed on any error or
 * interrupt.
 *
 * Analysis uses libebur128 (BS.1770-4 / EBU R128: gated integrated
 * loudness, loudness range, true peak by oversampling). A fader proposal
 * has to hold for the strip, not the bare file: a stereo file through a
 * centred strip loses 3 dB per side to the constant-power law, a mono file
 * none in total. So each file is measured twice in one pass: as it is
 * (what the user compares with other meters) and through a one-strip
 * mixer at the strip's gain and pan with the fader at 0 dB. The fader is
 * then target - strip loudness, rounded to 0.1 dB, lowered (rounding down)
 * when the strip's true peak would pass the ceiling, and capped at the
 * fader's top.
 */
#include "offline.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ebur128.h>
#include <jansson.h>
#include <sndfile.h>

#include "cl_audiofile.h"
#include "cl_doc.h"
#include "cl_log.h"
#include "dsp.h"

#define BLOCK_FRAMES 1024
#define MIN_RATE 8000
#define MAX_RATE 768000
#define GATE_LUFS (-70.0)   /* BS.1770's absolute gate */

struct mix_strip {
	const char *file;            /* as written (owned by the document) */
	const char *name;            /* or NULL */
	char *path;                  /* file resolved against the mix's folder */
	double gain, volume, pan;
	bool mute, solo, phase;
	int sends;
	double send[MIXER_MAX_AUX];
	bool send_pre[MIXER_MAX_AUX];
	/* while open */
	int fd;
	SNDFILE *sf;
	SF_INFO info;
	bool ended;
};

struct mix {
	const char *path;
	json_t *doc;
	uint32_t rate;               /* 0 until the document or a file says */
	int strips;
	struct mix_strip *strip;
	int aux;                     /* longest "sends" list */
	double master_volume;
	bool master_mute;
};

static const struct cl_schema mix_schema = {
	.kind = OFFLINE_MIX_KIND, .version = OFFLINE_MIX_VERSION, .oldest = 1,
};

/* ------------------------------------------------------------------ */
/* the mix document */

/* A short JSON rendering of v for error messages. */
static const char *json_text(const json_t *v, char *buf, size_t len)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!s) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (strlen(s) > 40)
		snprintf(buf, len, "%.37s...", s);
	else
		snprintf(buf, len, "%s", s);
	free(s);
	return buf;
}

/* Every key of obj is in keys (NULL-terminated); else err names the first
 * stranger and lists the known ones. */
static int check_keys(const struct mix *mx, json_t *obj, const char *const *keys,
		      const char *where, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		bool known = false;
		for (const char *const *k = keys; *k && !known; k++)
			known = strcmp(*k, key) == 0;
		if (known)
			continue;
		char list[256] = "";
		size_t used = 0;
		for (const char *const *k = keys; *k && used < sizeof list; k++)
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
						 k == keys ? "" : ", ", *k);
		snprintf(err, errlen, "%s: %sunknown key \"%s\" (known: %s)", mx->path, where, key, list);
		return -1;
	}
	return 0;
}

/* A level in dB up to max, or the string "-inf". */
static int parse_level(const struct mix *mx, json_t *v, double max, const char *field,
		       double *out, char *err, size_t errlen)
{
	char text[48];
	if (json_is_number(v) && json_number_value(v) <= max) {
		*out = json_number_value(v);
		return 0;
	}
	if (json_is_string(v) && strcmp(json_string_value(v), "-inf") == 0) {
		*out = -INFINITY;
		return 0;
	}
	snprintf(err, errlen, "%s: %s must be a number of dB up to %+g or \"-inf\", not %s",
		 mx->path, field, max, json_text(v, text, sizeof text));
	return -1;
}

/* A number in [min, max]; `unit` (" of dB" or "") goes into the error. */
static int parse_number(const struct mix *mx, json_t *v, double min, double max,
			const char *field, const char *unit, double *out, char *err, size_t errlen)
{
	char text[48];
	if (json_is_number(v) && json_number_value(v) >= min && json_number_value(v) <= max) {
		*out = json_number_value(v);
		return 0;
	}
	snprintf(err, errlen, "%s: %s must be a number%s in %g..%g, not %s", mx->path, field, unit,
		 min, max, json_text(v, text, sizeof text));
	return -1;
}

/* true or false, nothing else (no 0/1, no "on"). */
static int parse_bool(const struct mix *mx, json_t *v, const char *field, bool *out,
		      char *err, size_t errlen)
{
	char text[48];
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	snprintf(err, errlen, "%s: %s must be true or false, not %s", mx->path, field,
		 json_text(v, text, sizeof text));
	return -1;
}

/* The file of a strip, relative to the mix document's folder. */
static char *resolve_path(const char *mix_path, const char *file)
{
	const char *slash = strrchr(mix_path, '/');
	if (file[0] == '/' || !slash)
		return strdup(file);
	size_t dir_len = (size_t)(slash - mix_path);
	size_t len = dir_len + 1 + strlen(file) + 1;
	char *p = malloc(len);
	if (p)
		snprintf(p, len, "%.*s/%s", (int)dir_len, mix_path, file);
	return p;
}

/* Check strip i of the document into mx->strip[i]; defaults for what it
 * leaves out are the live strip's (0 dB, centre, sends at -inf, post). */
static int parse_strip(struct mix *mx, int i, json_t *obj, char *err, size_t errlen)
{
	static const char *const keys[] = { "file", "name", "gain", "volume", "pan", "mute", "solo",
					    "phase", "sends", "send_pre", NULL };
	struct mix_strip *s = &mx->strip[i];
	char where[32], field[48], text[48];
	json_t *v;

	*s = (struct mix_strip){ .fd = -1 };
	for (int k = 0; k < MIXER_MAX_AUX; k++)
		s->send[k] = -INFINITY;
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: strips[%d] must be an object, not %s", mx->path, i,
			 json_text(obj, text, sizeof text));
		return -1;
	}
	snprintf(where, sizeof where, "strips[%d]: ", i);
	if (check_keys(mx, obj, keys, where, err, errlen) != 0)
		return -1;

	v = json_object_get(obj, "file");
	if (!v) {
		snprintf(err, errlen, "%s: strips[%d].file is missing (each strip names its audio file)",
			 mx->path, i);
		return -1;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		snprintf(err, errlen, "%s: strips[%d].file must be a file name, not %s", mx->path, i,
			 json_text(v, text, sizeof text));
		return -1;
	}
	s->file = json_string_value(v);
	if ((v = json_object_get(obj, "name")) && !json_is_string(v)) {
		snprintf(err, errlen, "%s: strips[%d].name must be a string, not %s", mx->path, i,
			 json_text(v, text, sizeof text));
		return -1;
	}
	s->name = v ? json_string_value(v) : NULL;

#define FIELD(key) (snprintf(field, sizeof field, "strips[%d].%s", i, key), field)
	if ((v = json_object_get(obj, "gain")) &&
	    parse_number(mx, v, MIXER_GAIN_MIN_DB, MIXER_GAIN_MAX_DB, FIELD("gain"), " of dB",
			 &s->gain, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(obj, "volume")) &&
	    parse_level(mx, v, MIXER_VOLUME_MAX_DB, FIELD("volume"), &s->volume, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(obj, "pan")) &&
	    parse_number(mx, v, -1.0, 1.0, FIELD("pan"), "", &s->pan, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(obj, "mute")) && parse_bool(mx, v, FIELD("mute"), &s->mute, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(obj, "solo")) && parse_bool(mx, v, FIELD("solo"), &s->solo, err, errlen) != 0)
		return -1;
	if ((v = json_object_get(obj, "phase")) &&
	    parse_bool(mx, v, FIELD("phase"), &s->phase, err, errlen) != 0)
		return -1;

	if ((v = json_object_get(obj, "sends"))) {
		if (!json_is_array(v)) {
			snprintf(err, errlen, "%s: strips[%d].sends must be an array of dB levels, not %s",
				 mx->path, i, json_text(v, text, sizeof text));
			return -1;
		}
		if (json_array_size(v) > MIXER_MAX_AUX) {
			snprintf(err, errlen, "%s: strips[%d].sends has %zu entries, at most %d (one per aux bus)",
				 mx->path, i, json_array_size(v), MIXER_MAX_AUX);
			return -1;
		}
		s->sends = (int)json_array_size(v);
		for (int k = 0; k < s->sends; k++) {
			snprintf(field, sizeof field, "strips[%d].sends[%d]", i, k);
			if (parse_level(mx, json_array_get(v, (size_t)k), MIXER_SEND_MAX_DB, field,
					&s->send[k], err, errlen) != 0)
				return -1;
		}
	}
	if ((v = json_object_get(obj, "send_pre"))) {
		if (!json_is_array(v)) {
			snprintf(err, errlen, "%s: strips[%d].send_pre must be an array of true/false, not %s",
				 mx->path, i, json_text(v, text, sizeof text));
			return -1;
		}
		if (json_array_size(v) > (size_t)s->sends) {
			snprintf(err, errlen, "%s: strips[%d].send_pre has %zu entr%s but sends has %d",
				 mx->path, i, json_array_size(v), json_array_size(v) == 1 ? "y" : "ies",
				 s->sends);
			return -1;
		}
		for (size_t k = 0; k < json_array_size(v); k++) {
			snprintf(field, sizeof field, "strips[%d].send_pre[%zu]", i, k);
			if (parse_bool(mx, json_array_get(v, k), field, &s->send_pre[k], err, errlen) != 0)
				return -1;
		}
	}
#undef FIELD
	s->path = resolve_path(mx->path, s->file);
	if (!s->path) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (s->sends > mx->aux)
		mx->aux = s->sends;
	return 0;
}

/* Close the files and free everything a mix holds (safe after a partial
 * load). */
static void mix_done(struct mix *mx)
{
	for (int i = 0; i < mx->strips; i++) {
		struct mix_strip *s = &mx->strip[i];
		if (s->sf)
			sf_close(s->sf);
		if (s->fd >= 0)
			close(s->fd);
		free(s->path);
	}
	free(mx->strip);
	json_decref(mx->doc);
	*mx = (struct mix){ 0 };
}

/* Load and check a whole mix document; no file is opened yet. */
static int mix_load(struct mix *mx, const char *path, char *err, size_t errlen)
{
	static const char *const top_keys[] = { "schema", "rate", "strips", "master", NULL };
	static const char *const master_keys[] = { "volume", "mute", NULL };
	char text[48];
	json_t *v;

	*mx = (struct mix){ .path = path };
	mx->doc = cl_doc_load(path, &mix_schema, err, errlen);
	if (!mx->doc)
		return -1;
	if (check_keys(mx, mx->doc, top_keys, "", err, errlen) != 0)
		goto fail;

	if ((v = json_object_get(mx->doc, "rate"))) {
		if (!json_is_integer(v) || json_integer_value(v) < MIN_RATE ||
		    json_integer_value(v) > MAX_RATE) {
			snprintf(err, errlen, "%s: rate must be a whole number of Hz in %d..%d, not %s", path,
				 MIN_RATE, MAX_RATE, json_text(v, text, sizeof text));
			goto fail;
		}
		mx->rate = (uint32_t)json_integer_value(v);
	}

	v = json_object_get(mx->doc, "strips");
	if (!v || !json_is_array(v) || json_array_size(v) == 0) {
		snprintf(err, errlen, "%s: \"strips\" must be a non-empty array of strips, not %s", path,
			 v ? json_text(v, text, sizeof text) : "missing");
		goto fail;
	}
	if (json_array_size(v) > MIXER_MAX_STRIPS) {
		snprintf(err, errlen, "%s: %zu strips, at most %d", path, json_array_size(v),
			 MIXER_MAX_STRIPS);
		goto fail;
	}
	mx->strip = calloc(json_array_size(v), sizeof *mx->strip);
	if (!mx->strip) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		mx->strips = (int)i + 1;
		if (parse_strip(mx, (int)i, json_array_get(v, i), err, errlen) != 0)
			goto fail;
	}

	json_t *master = json_object_get(mx->doc, "master");
	if (master) {
		if (!json_is_object(master)) {
			snprintf(err, errlen, "%s: master must be an object, not %s", path,
				 json_text(master, text, sizeof text));
			goto fail;
		}
		if (check_keys(mx, master, master_keys, "master: ", err, errlen) != 0)
			goto fail;
		if ((v = json_object_get(master, "volume")) &&
		    parse_level(mx, v, MIXER_VOLUME_MAX_DB, "master.volume", &mx->master_volume, err,
				errlen) != 0)
			goto fail;
		if ((v = json_object_get(master, "mute")) &&
		    parse_bool(mx, v, "master.mute", &mx->master_mute, err, errlen) != 0)
			goto fail;
	}
	return 0;
fail:
	mix_done(mx);
	return -1;
}

/* Open an audio file for reading: mono or stereo. `who` prefixes errors
 * ("mix.json: strips[0]: " or ""). */
static int audio_open(const char *path, const char *shown, const char *who, int *fd_out,
		      SNDFILE **sf_out, SF_INFO *info, char *err, size_t errlen)
{
	const char *also = strcmp(path, shown) != 0 ? path : NULL;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%scannot open %s%s%s%s: %s", who, shown, also ? " (" : "",
			 also ? also : "", also ? ")" : "", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s%s is a folder, not an audio file", who, shown);
		close(fd);
		return -1;
	}
	memset(info, 0, sizeof *info);
	SNDFILE *sf = sf_open_fd(fd, SFM_READ, info, SF_FALSE);
	if (!sf) {
		snprintf(err, errlen, "%s%s is not an audio file libsndfile can read (%s)", who, shown,
			 sf_strerror(NULL));
		close(fd);
		return -1;
	}
	if (info->channels < 1 || info->channels > 2) {
		snprintf(err, errlen, "%s%s has %d channels; a strip takes mono or stereo files", who,
			 shown, info->channels);
		sf_close(sf);
		close(fd);
		return -1;
	}
	*fd_out = fd;
	*sf_out = sf;
	return 0;
}

/* Open every strip's file and settle the mix's rate. */
static int mix_open_files(struct mix *mx, char *err, size_t errlen)
{
	int rate_from = -1;   /* the strip that set the rate, when the document did not */
	for (int i = 0; i < mx->strips; i++) {
		struct mix_strip *s = &mx->strip[i];
		char who[PATH_MAX + 32];
		snprintf(who, sizeof who, "%s: strips[%d]: ", mx->path, i);
		if (audio_open(s->path, s->file, who, &s->fd, &s->sf, &s->info, err, errlen) != 0)
			return -1;
		if (mx->rate == 0) {
			mx->rate = (uint32_t)s->info.samplerate;
			rate_from = i;
		} else if ((uint32_t)s->info.samplerate != mx->rate) {
			if (rate_from >= 0)
				snprintf(err, errlen, "%s%s is %d Hz, the mix is %u Hz (from %s)", who, s->file,
					 s->info.samplerate, mx->rate, mx->strip[rate_from].file);
			else
				snprintf(err, errlen, "%s%s is %d Hz, the mix is %u Hz", who, s->file,
					 s->info.samplerate, mx->rate);
			return -1;
		}
	}
	return 0;
}

/* A mixer set as the document says, ramps finished. */
static struct mixer *mix_mixer(const struct mix *mx, char *err, size_t errlen)
{
	struct mixer *m = mixer_new(mx->rate, mx->strips, 2, mx->aux);
	if (!m) {
		snprintf(err, errlen, "cannot set up a mixer of %d strips and %d aux buses at %u Hz",
			 mx->strips, mx->aux, mx->rate);
		return NULL;
	}
	for (int i = 0; i < mx->strips; i++) {
		const struct mix_strip *s = &mx->strip[i];
		mixer_set_gain(m, i, (float)s->gain);
		mixer_set_volume(m, i, (float)s->volume);
		mixer_set_pan(m, i, (float)s->pan);
		mixer_set_mute(m, i, s->mute);
		mixer_set_solo(m, i, s->solo);
		mixer_set_phase(m, i, s->phase);
		for (int k = 0; k < mx->aux; k++) {
			mixer_set_send(m, i, k, (float)s->send[k]);
			mixer_set_send_pre(m, i, k, s->send_pre[k]);
		}
	}
	mixer_set_master_volume(m, (float)mx->master_volume);
	mixer_set_master_mute(m, mx->master_mute);
	mixer_settle(m);
	return m;
}

/* ------------------------------------------------------------------ */
/* mixdown */

/* Read the next block of every strip into its channel buffers; returns the
 * longest count read (0 when every file has ended), or -1 and err. */
static long mix_read_block(struct mix *mx, float *inter, float *const *bufs, const float **in,
			   char *err, size_t errlen)
{
	long longest = 0;
	for (int i = 0; i < mx->strips; i++) {
		struct mix_strip *s = &mx->strip[i];
		float *l = bufs[2 * i], *r = bufs[2 * i + 1];
		sf_count_t got = 0;
		if (!s->ended) {
			got = sf_readf_float(s->sf, inter, BLOCK_FRAMES);
			if (got < BLOCK_FRAMES) {
				if (sf_error(s->sf) != SF_ERR_NO_ERROR) {
					snprintf(err, errlen, "%s: strips[%d]: cannot read %s: %s", mx->path, i,
						 s->file, sf_strerror(s->sf));
					return -1;
				}
				s->ended = true;
			}
		}
		if (got == 0) {
			in[2 * i] = in[2 * i + 1] = NULL;   /* silence, as the DSP reads it */
			continue;
		}
		if (s->info.channels == 1) {
			memcpy(l, inter, sizeof(float) * (size_t)got);
			memset(l + got, 0, sizeof(float) * (size_t)(BLOCK_FRAMES - got));
			in[2 * i] = in[2 * i + 1] = l;      /* a mono file feeds both sides */
		} else {
			for (sf_count_t f = 0; f < got; f++) {
				l[f] = inter[2 * f];
				r[f] = inter[2 * f + 1];
			}
			memset(l + got, 0, sizeof(float) * (size_t)(BLOCK_FRAMES - got));
			memset(r + got, 0, sizeof(float) * (size_t)(BLOCK_FRAMES - got));
			in[2 * i] = l;
			in[2 * i + 1] = r;
		}
		if (got > longest)
			longest = (long)got;
	}
	return longest;
}

/* Mix a document's files into out_path; see offline.h. */
int offline_mixdown(const char *mix_path, const char *out_path, const char *format,
		    bool progress, char *err, size_t errlen)
{
	struct mix mx;
	struct mixer *m = NULL;
	float *inter = NULL, *out_inter = NULL, *pool = NULL;
	float **bufs = NULL;
	const float **in = NULL;
	float *master[2], *aux[2 * MIXER_MAX_AUX];
	int sf_format, status = -1;
	struct cl_audio_out *out = NULL;
	struct cl_render_signals saved;
	struct cl_progress bar = { 0 };
	uint64_t total = 0, done_frames = 0;

	if (cl_audio_format(out_path, format, &sf_format, err, errlen) != 0)
		return -1;
	if (mix_load(&mx, mix_path, err, errlen) != 0)
		return -1;
	cl_render_signals_catch(&saved);
	if (mix_open_files(&mx, err, errlen) != 0)
		goto done;
	if (!(m = mix_mixer(&mx, err, errlen)))
		goto done;

	/* Per strip: left and right buffers; then master and aux buses. */
	size_t nbufs = 2 * (size_t)mx.strips + 2 + 2 * (size_t)mx.aux;
	pool = calloc(nbufs * BLOCK_FRAMES, sizeof(float));
	bufs = calloc(2 * (size_t)mx.strips, sizeof *bufs);
	in = calloc(2 * (size_t)mx.strips, sizeof *in);
	inter = calloc(2 * BLOCK_FRAMES, sizeof(float));
	out_inter = calloc(2 * BLOCK_FRAMES, sizeof(float));
	if (!pool || !bufs || !in || !inter || !out_inter) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (size_t b = 0; b < 2 * (size_t)mx.strips; b++)
		bufs[b] = pool + b * BLOCK_FRAMES;
	master[0] = pool + (2 * (size_t)mx.strips) * BLOCK_FRAMES;
	master[1] = master[0] + BLOCK_FRAMES;
	for (int k = 0; k < 2 * mx.aux; k++)
		aux[k] = master[1] + (size_t)(k + 1) * BLOCK_FRAMES;

	for (int i = 0; i < mx.strips; i++)
		if (mx.strip[i].info.frames > 0 && (uint64_t)mx.strip[i].info.frames > total)
			total = (uint64_t)mx.strip[i].info.frames;

	if (!(out = cl_audio_out_open(out_path, mx.rate, 2, format, err, errlen)))
		goto done;
	cl_progress_start(&bar, "mixdown", total, mx.rate, progress);

	for (;;) {
		if (cl_render_interrupted()) {
			snprintf(err, errlen, "interrupted: %s not written", out_path);
			goto done;
		}
		long n = mix_read_block(&mx, inter, bufs, in, err, errlen);
		if (n < 0)
			goto done;
		if (n == 0)
			break;
		mixer_process(m, (uint32_t)n, in, master, aux);
		for (long f = 0; f < n; f++) {
			out_inter[2 * f] = master[0][f];
			out_inter[2 * f + 1] = master[1][f];
		}
		if (cl_audio_out_write(out, out_inter, (size_t)n, err, errlen) != 0)
			goto done;
		done_frames += (uint64_t)n;
		cl_progress_update(&bar, done_frames);
	}

	const struct cl_audio_out_info info = *cl_audio_out_info(out);
	int r = cl_audio_out_commit(out, err, errlen);
	out = NULL;
	if (r != 0)
		goto done;
	cl_progress_end(&bar, done_frames, true);
	if (info.clipped)
		cl_warn("%s: %llu samples clipped (master peak %+.1f dBFS): lower the master or write float",
			out_path, (unsigned long long)info.clipped, 20.0 * log10(info.peak));
	else if (info.peak > 1.0f)
		cl_warn("%s: the master peaks at %+.1f dBFS, over full scale (kept in float)", out_path,
			20.0 * log10(info.peak));
	cl_info("wrote %s: %.1f s at %u Hz, %s", out_path, (double)done_frames / mx.rate, mx.rate,
		info.sample_name);
	status = 0;
done:
	cl_audio_out_abort(out);
	if (status != 0)
		cl_progress_end(&bar, done_frames, false);   /* the error starts on a line of its own */
	cl_render_signals_restore(&saved);
	if (m)
		mixer_free(m);
	free(pool);
	free(bufs);
	free(in);
	free(inter);
	free(out_inter);
	mix_done(&mx);
	return status;
}

/* ------------------------------------------------------------------ */
/* loudness analysis and fader proposals */

struct measure {
	double integrated, lra, true_peak;   /* the file as it is (LUFS, LU, dBTP) */
	double strip_loudness, strip_peak;   /* through the strip, fader at 0 dB */
};

enum decided_by { BY_TARGET, BY_CEILING, BY_FADER_TOP, BY_GATE };

struct proposal {
	enum decided_by by;
	double fader;                        /* dB, rounded to 0.1 */
	double loudness, peak;               /* of the strip with that fader */
};

/* 20 log10 of a gain, -inf for 0. */
static double to_db(double linear)
{
	return linear > 0.0 ? 20.0 * log10(linear) : -INFINITY;
}

/* Integrated loudness of a state, or -inf for nothing above the gate. */
static double integrated_of(ebur128_state *st)
{
	double v;
	if (ebur128_loudness_global(st, &v) != EBUR128_SUCCESS || !isfinite(v))
		return -INFINITY;
	return v;
}

/* Largest true peak over the channels of a state, in dBTP. */
static double true_peak_of(ebur128_state *st, int channels)
{
	double peak = 0.0;
	for (int c = 0; c < channels; c++) {
		double v;
		if (ebur128_true_peak(st, (unsigned)c, &v) == EBUR128_SUCCESS && v > peak)
			peak = v;
	}
	return to_db(peak);
}

/*
 * Measure an open file, as it is and through a strip at gain_db and pan
 * (run by the real DSP, so the pan law is exactly the live one). `who`
 * and `shown` name the file in errors.
 */
static int measure_file(SNDFILE *sf, const SF_INFO *info, double gain_db, double pan,
			const char *who, const char *shown, struct measure *out,
			char *err, size_t errlen)
{
	int channels = info->channels, status = -1;
	ebur128_state *file_st = ebur128_init((unsigned)channels, (unsigned long)info->samplerate,
					      EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_TRUE_PEAK);
	ebur128_state *strip_st = ebur128_init(2, (unsigned long)info->samplerate,
					       EBUR128_MODE_I | EBUR128_MODE_TRUE_PEAK);
	struct mixer *m = mixer_new((uint32_t)info->samplerate, 1, 2, 0);
	float *inter = malloc(sizeof(float) * 2 * BLOCK_FRAMES);
	float *buf = malloc(sizeof(float) * 6 * BLOCK_FRAMES);

	if (!file_st || !strip_st || !m || !inter || !buf) {
		snprintf(err, errlen, "%scannot set up the loudness meter for %s (%d Hz)", who, shown,
			 info->samplerate);
		goto done;
	}
	mixer_set_gain(m, 0, (float)gain_db);
	mixer_set_pan(m, 0, (float)pan);
	mixer_settle(m);
	float *l = buf, *r = buf + BLOCK_FRAMES, *ml = buf + 2 * BLOCK_FRAMES,
	      *mr = buf + 3 * BLOCK_FRAMES, *strip_out = buf + 4 * BLOCK_FRAMES;
	float *master[2] = { ml, mr };
	for (;;) {
		sf_count_t got = sf_readf_float(sf, inter, BLOCK_FRAMES);
		if (got <= 0) {
			if (sf_error(sf) != SF_ERR_NO_ERROR) {
				snprintf(err, errlen, "%scannot read %s: %s", who, shown, sf_strerror(sf));
				goto done;
			}
			break;
		}
		if (ebur128_add_frames_float(file_st, inter, (size_t)got) != EBUR128_SUCCESS) {
			snprintf(err, errlen, "%sloudness measurement of %s failed", who, shown);
			goto done;
		}
		const float *in[2];
		if (channels == 1) {
			in[0] = in[1] = inter;
		} else {
			for (sf_count_t f = 0; f < got; f++) {
				l[f] = inter[2 * f];
				r[f] = inter[2 * f + 1];
			}
			in[0] = l;
			in[1] = r;
		}
		mixer_process(m, (uint32_t)got, in, master, NULL);
		for (sf_count_t f = 0; f < got; f++) {
			strip_out[2 * f] = ml[f];
			strip_out[2 * f + 1] = mr[f];
		}
		if (ebur128_add_frames_float(strip_st, strip_out, (size_t)got) != EBUR128_SUCCESS) {
			snprintf(err, errlen, "%sloudness measurement of %s failed", who, shown);
			goto done;
		}
	}

	out->integrated = integrated_of(file_st);
	if (ebur128_loudness_range(file_st, &out->lra) != EBUR128_SUCCESS || !isfinite(out->lra))
		out->lra = 0.0;
	out->true_peak = true_peak_of(file_st, channels);
	out->strip_loudness = integrated_of(strip_st);
	out->strip_peak = true_peak_of(strip_st, 2);
	status = 0;
done:
	if (file_st)
		ebur128_destroy(&file_st);
	if (strip_st)
		ebur128_destroy(&strip_st);
	if (m)
		mixer_free(m);
	free(inter);
	free(buf);
	return status;
}

/* The fader for a measured strip; see the top of this file. */
static struct proposal propose(const struct measure *me, double target, double ceiling)
{
	struct proposal p = { .by = BY_GATE, .fader = NAN };
	if (!isfinite(me->strip_loudness))
		return p;
	double for_target = round((target - me->strip_loudness) * 10.0) / 10.0;
	double for_ceiling = isfinite(me->strip_peak) ? ceiling - me->strip_peak : INFINITY;
	p.by = BY_TARGET;
	p.fader = for_target;
	if (for_target > for_ceiling) {
		/* Round down: the peak must stay at or under the ceiling. */
		p.by = BY_CEILING;
		p.fader = floor(for_ceiling * 10.0 + 1e-9) / 10.0;
	}
	if (p.fader > MIXER_VOLUME_MAX_DB) {
		p.by = BY_FADER_TOP;
		p.fader = MIXER_VOLUME_MAX_DB;
	}
	p.fader += 0.0;   /* -0.0 (a rounded -0.04) prints and saves as 0.0 */
	p.loudness = me->strip_loudness + p.fader;
	p.peak = me->strip_peak + p.fader;
	return p;
}

/* "%.1f" (or "%+.1f" with `sign`), or "-inf". */
static const char *fmt_db(char *buf, size_t len, double v, bool sign)
{
	if (isinf(v))
		snprintf(buf, len, "%s", v < 0 ? "-inf" : "+inf");
	else if (sign)
		snprintf(buf, len, "%+.1f", v);
	else
		snprintf(buf, len, "%.1f", v);
	return buf;
}

/* What a proposal does, inside the parentheses of a line:
 * "brings it to -23.0 LUFS; peak -5.4 dBTP", saying which bound decided
 * when it was not the target, and what the strip itself adds. */
static void describe(FILE *out, const struct measure *me, const struct proposal *p, double target,
		     double ceiling)
{
	char a[32], b[32];
	if (p->by == BY_CEILING)
		fprintf(out, "the %.1f dBTP ceiling decides: ", ceiling);
	else if (p->by == BY_FADER_TOP)
		fprintf(out, "the fader's %+.0f dB top decides: ", MIXER_VOLUME_MAX_DB);
	fprintf(out, "brings it to %.1f LUFS", p->loudness);
	if (p->by != BY_TARGET)
		fprintf(out, ", %.1f LU under the %.1f LUFS target", target - p->loudness, target);
	fprintf(out, "; peak %s dBTP", fmt_db(a, sizeof a, p->peak, false));
	double path = me->strip_loudness - me->integrated;
	if (fabs(path) >= 0.05)
		fprintf(out, "; strip gain and pan %s dB", fmt_db(b, sizeof b, path, true));
}

/* One measurement line per file on out; see offline.h. */
int offline_analyze(int nfiles, char **files, double target_lufs, double ceiling_dbtp,
		    FILE *out, char *err, size_t errlen)
{
	for (int i = 0; i < nfiles; i++) {
		int fd;
		SNDFILE *sf;
		SF_INFO info;
		struct measure me;
		char a[32];
		if (audio_open(files[i], files[i], "", &fd, &sf, &info, err, errlen) != 0)
			return -1;
		int r = measure_file(sf, &info, 0.0, 0.0, "", files[i], &me, err, errlen);
		sf_close(sf);
		close(fd);
		if (r != 0)
			return -1;
		struct proposal p = propose(&me, target_lufs, ceiling_dbtp);
		if (p.by == BY_GATE) {
			fprintf(out, "%s: no loudness above the %.0f LUFS gate, true peak %s dBTP -> no fader proposed\n",
				files[i], GATE_LUFS, fmt_db(a, sizeof a, me.true_peak, false));
			continue;
		}
		fprintf(out, "%s: %.1f LUFS integrated, LRA %.1f LU, true peak %s dBTP -> fader %+.1f dB (",
			files[i], me.integrated, me.lra, fmt_db(a, sizeof a, me.true_peak, false), p.fader);
		describe(out, &me, &p, target_lufs, ceiling_dbtp);
		fputs(")\n", out);
		fflush(out);
	}
	return 0;
}

/* Per-strip normalisation written into the document; see offline.h. */
int offline_apply(const char *mix_path, double target_lufs, double ceiling_dbtp,
		  char *err, size_t errlen)
{
	struct mix mx;
	struct measure *me = NULL;
	struct proposal *prop = NULL;
	int status = -1, changed = 0;

	if (mix_load(&mx, mix_path, err, errlen) != 0)
		return -1;
	if (mix_open_files(&mx, err, errlen) != 0)
		goto done;
	me = calloc((size_t)mx.strips, sizeof *me);
	prop = calloc((size_t)mx.strips, sizeof *prop);
	if (!me || !prop) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	/* Measure every strip before changing anything: all or nothing. */
	for (int i = 0; i < mx.strips; i++) {
		struct mix_strip *s = &mx.strip[i];
		char who[PATH_MAX + 32];
		snprintf(who, sizeof who, "%s: strips[%d]: ", mx.path, i);
		if (measure_file(s->sf, &s->info, s->gain, s->pan, who, s->file, &me[i], err, errlen) != 0)
			goto done;
	}

	/* Write first, then tell: the lines printed are what the file holds. */
	json_t *strips = json_object_get(mx.doc, "strips");
	for (int i = 0; i < mx.strips; i++) {
		prop[i] = propose(&me[i], target_lufs, ceiling_dbtp);
		if (prop[i].by != BY_GATE && prop[i].fader != mx.strip[i].volume) {
			changed++;
			json_object_set_new(json_array_get(strips, (size_t)i), "volume",
					    json_real(prop[i].fader));
		}
	}
	if (changed && cl_doc_save(mix_path, mx.doc, err, errlen) != 0)
		goto done;

	for (int i = 0; i < mx.strips; i++) {
		const struct mix_strip *s = &mx.strip[i];
		const struct proposal *p = &prop[i];
		char a[32];
		printf("strips[%d] ", i);
		if (s->name)
			printf("\"%s\" ", s->name);
		printf("(%s): ", s->file);
		if (p->by == BY_GATE) {
			printf("no loudness above the %.0f LUFS gate; volume stays %s dB\n", GATE_LUFS,
			       fmt_db(a, sizeof a, s->volume, false));
			continue;
		}
		if (p->fader == s->volume)
			printf("volume %.1f dB unchanged (", s->volume);
		else
			printf("volume %s -> %.1f dB (", fmt_db(a, sizeof a, s->volume, false), p->fader);
		printf("%.1f LUFS integrated; ", me[i].integrated);
		describe(stdout, &me[i], p, target_lufs, ceiling_dbtp);
		printf(")\n");
	}
	printf("%s: %d of %d faders changed, master unchanged%s\n", mix_path, changed, mx.strips,
	       changed ? "" : " (file not rewritten)");
	fflush(stdout);
	status = 0;
done:
	free(me);
	free(prop);
	mix_done(&mx);
	return status;
}
