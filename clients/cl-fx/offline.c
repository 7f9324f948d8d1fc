/*
 * cl-fx's offline renderer; offline.h says what it does and why.
 *
 * Everything that can be refused is checked before the output file is
 * opened: the output's name and format, bpm and tail, the chain document
 * (loaded, then parsed for the input's channel count, then built at the
 * input's rate) and the input. Only then are the signals caught and the
 * temporary created, so a mistake costs nothing and leaves nothing.
 *
 * The loop reads the input in whole blocks (libsndfile may return a block
 * in pieces; it is topped up until the block is full or the file ends),
 * tops the block up with silence once the input has ended, runs the chain
 * with the block's clock, and writes what is left of the block once the
 * first `latency` frames of the whole stream have been dropped. The
 * stream's length is known only when the input ends (a header may lie),
 * so the loop counts frames instead of trusting SF_INFO.frames, which
 * serves only the progress bar.
 */
#include "offline.h"

#include <errno.h>
#include <fcntl.h>
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sndfile.h>

#include "automation.h"
#include "chain.h"
#include "chaindoc.h"
#include "cl_audiofile.h"
#include "cl_doc.h"
#include "cl_log.h"
#include "cl_rt.h"

static const struct cl_schema chain_schema = {
	.kind = FX_CHAIN_SCHEMA_KIND, .version = FX_CHAIN_SCHEMA_VERSION, .oldest = 1,
};

/* The file is read and written FX_OFFLINE_IO_BLOCKS blocks at a time:
 * libsndfile passes each call straight to read(2)/write(2), and 8 KiB
 * calls cost a tenth of the render in system time. The chain still runs
 * block by block, so the output does not change. */
#define FX_OFFLINE_IO_BLOCKS 8
#define FX_OFFLINE_IO_FRAMES (FX_OFFLINE_IO_BLOCKS * FX_OFFLINE_BLOCK)

/* An open input file, and the chunk of it read ahead. */
struct input {
	int fd;
	SNDFILE *sf;
	SF_INFO info;
	float *chunk;          /* FX_OFFLINE_IO_FRAMES interleaved frames */
	long chunk_frames;     /* read into the chunk */
	long chunk_used;       /* of them, handed out */
	bool file_ended;
};

/* Open path for reading (1..FX_MAX_CHANNELS channels). 0, or -1 and err. */
static int input_open(const char *path, struct input *in, char *err, size_t errlen)
{
	struct stat st;
	*in = (struct input){ .fd = -1 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is a folder, not an audio file", path);
		close(fd);
		return -1;
	}
	SNDFILE *sf = sf_open_fd(fd, SFM_READ, &in->info, SF_FALSE);
	if (!sf) {
		snprintf(err, errlen, "%s is not an audio file libsndfile can read (%s)", path,
			 sf_strerror(NULL));
		close(fd);
		return -1;
	}
	if (in->info.channels < 1 || in->info.channels > FX_MAX_CHANNELS) {
		snprintf(err, errlen, "%s has %d channels; cl-fx takes 1 to %d", path, in->info.channels,
			 FX_MAX_CHANNELS);
		sf_close(sf);
		close(fd);
		return -1;
	}
	if (!(in->chunk = malloc(sizeof(float) * FX_OFFLINE_IO_FRAMES * (size_t)in->info.channels))) {
		snprintf(err, errlen, "out of memory");
		sf_close(sf);
		close(fd);
		return -1;
	}
	in->fd = fd;
	in->sf = sf;
	return 0;
}

/* Close an input (also one that never opened). */
static void input_close(struct input *in)
{
	if (in->sf)
		sf_close(in->sf);
	if (in->fd >= 0)
		close(in->fd);
	free(in->chunk);
	*in = (struct input){ .fd = -1 };
}

/* Fill the chunk with as many frames as the file still has, up to a
 * whole chunk (several reads when libsndfile hands out pieces). 0, or -1
 * and err. */
static int input_refill(struct input *in, const char *path, char *err, size_t errlen)
{
	long got = 0;
	while (!in->file_ended && got < FX_OFFLINE_IO_FRAMES) {
		sf_count_t n = sf_readf_float(in->sf, in->chunk + got * in->info.channels,
					      FX_OFFLINE_IO_FRAMES - got);
		if (n > 0) {
			got += (long)n;
			continue;
		}
		if (sf_error(in->sf) != SF_ERR_NO_ERROR) {
			snprintf(err, errlen, "cannot read %s: %s", path, sf_strerror(in->sf));
			return -1;
		}
		in->file_ended = true;
	}
	in->chunk_frames = got;
	in->chunk_used = 0;
	return 0;
}

/* The next block of the input, interleaved, left in the chunk: a whole
 * block, or what is left of the file. Sets *ended once the file has no
 * more frames. The count (with *frames), or -1 and err. */
static long input_read(struct input *in, const char *path, const float **frames, bool *ended,
		       char *err, size_t errlen)
{
	if (in->chunk_used == in->chunk_frames && !in->file_ended &&
	    input_refill(in, path, err, errlen) != 0)
		return -1;
	long left = in->chunk_frames - in->chunk_used;
	long n = left < FX_OFFLINE_BLOCK ? left : FX_OFFLINE_BLOCK;
	*frames = in->chunk + (size_t)in->chunk_used * (size_t)in->info.channels;
	in->chunk_used += n;
	*ended = in->file_ended && in->chunk_used == in->chunk_frames;
	return n;
}

/* Rendered frames wait in a chunk of FX_OFFLINE_IO_FRAMES and go to the
 * writer a chunk at a time. */
struct output_chunk {
	float *frames;
	uint32_t count;
};

static int output_flush(struct cl_audio_out *out, struct output_chunk *oc, char *err, size_t errlen)
{
	if (oc->count && cl_audio_out_write(out, oc->frames, oc->count, err, errlen) != 0)
		return -1;
	oc->count = 0;
	return 0;
}

/* The chain as the document says, settled (see offline.h). NULL and err
 * (naming the chain's file). */
static struct fx_chain *chain_make(const char *chain_path, json_t *doc, struct fx_doc *d,
				   uint32_t rate, int channels, double bpm, char *err, size_t errlen)
{
	char why[1024];
	uint32_t next_id = 1;
	if (fx_doc_parse(doc, channels, d, why, sizeof why) != 0) {
		snprintf(err, errlen, "%s: %s", chain_path, why);
		return NULL;
	}
	struct fx_chain *c = fx_doc_build(d, rate, channels, &next_id, why, sizeof why);
	if (!c) {
		snprintf(err, errlen, "%s: %s", chain_path, why);
		fx_doc_free(d);
		return NULL;
	}
	fx_chain_set_tempo(c, bpm);
	fx_automate(c, d->lanes, d->nlanes, 0.0, 0.0, true);
	for (int i = 0; i < c->count; i++)
		if (c->slot[i]->type->reset)
			c->slot[i]->type->reset(c->slot[i]->fx);
	return c;
}

/* Render a file through a chain document; see offline.h. */
int fx_offline_render(const char *chain_path, const char *in_path, const char *out_path,
		      const char *format, double bpm, double tail_seconds, bool progress,
		      char *err, size_t errlen)
{
	struct input in = { .fd = -1 };
	struct fx_doc d = { 0 };
	struct fx_chain *c = NULL;
	struct cl_audio_out *out = NULL;
	struct cl_render_signals saved;
	struct cl_progress bar = { 0 };
	json_t *doc = NULL;
	float *pool = NULL;
	struct output_chunk oc = { 0 };
	float *buf[FX_MAX_CHANNELS];
	bool caught = false, fenv_saved = false;
	fenv_t fenv;
	uint64_t written = 0;
	int sf_format, status = -1;

	if (cl_audio_format(out_path, format, &sf_format, err, errlen) != 0)
		return -1;
	if (bpm == 0.0)
		bpm = FX_OFFLINE_DEFAULT_BPM;
	if (!(bpm >= FX_OFFLINE_MIN_BPM && bpm <= FX_OFFLINE_MAX_BPM)) {
		snprintf(err, errlen, "bpm must be in %g..%g, not %g", FX_OFFLINE_MIN_BPM,
			 FX_OFFLINE_MAX_BPM, bpm);
		return -1;
	}
	if (!(tail_seconds >= 0.0 && tail_seconds <= FX_OFFLINE_MAX_TAIL_S)) {
		snprintf(err, errlen, "tail must be 0..%g s, not %g", FX_OFFLINE_MAX_TAIL_S, tail_seconds);
		return -1;
	}
	if (!(doc = cl_doc_load(chain_path, &chain_schema, err, errlen)))
		return -1;
	if (input_open(in_path, &in, err, errlen) != 0)
		goto done;
	const int channels = in.info.channels;
	const uint32_t rate = (uint32_t)in.info.samplerate;
	if (!(c = chain_make(chain_path, doc, &d, rate, channels, bpm, err, errlen)))
		goto done;

	const uint64_t latency = fx_chain_latency(c);
	const uint64_t tail = (uint64_t)llround(tail_seconds * rate);
	pool = malloc(sizeof(float) * FX_OFFLINE_BLOCK * (size_t)channels);
	oc.frames = malloc(sizeof(float) * FX_OFFLINE_IO_FRAMES * (size_t)channels);
	if (!pool || !oc.frames) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (int ch = 0; ch < channels; ch++)
		buf[ch] = pool + (size_t)ch * FX_OFFLINE_BLOCK;

	cl_render_signals_catch(&saved);
	caught = true;
	if (!(out = cl_audio_out_open(out_path, rate, channels, format, err, errlen)))
		goto done;
	/* A length libsndfile does not know (a pipe) shows as a full bar. */
	bool known = in.info.frames > 0 && in.info.frames < SF_COUNT_MAX;
	cl_progress_start(&bar, "render", known ? (uint64_t)in.info.frames + tail : 0, rate, progress);
	fegetenv(&fenv);
	fenv_saved = true;
	cl_rt_flush_denormals();

	/* fed: frames of the stream through the chain; input: of them, read
	 * from the file. The stream is input + latency + tail frames. */
	uint64_t fed = 0, input = 0;
	bool ended = false;
	for (;;) {
		if (cl_render_interrupted()) {
			snprintf(err, errlen, "interrupted: %s not written", out_path);
			goto done;
		}
		const float *inter = NULL;
		long got = ended ? 0 : input_read(&in, in_path, &inter, &ended, err, errlen);
		if (got < 0)
			goto done;
		input += (uint64_t)got;
		if (channels == 2) {   /* the common case, without the inner loop */
			for (long f = 0; f < got; f++) {
				buf[0][f] = inter[2 * f];
				buf[1][f] = inter[2 * f + 1];
			}
		} else {
			for (long f = 0; f < got; f++)
				for (int ch = 0; ch < channels; ch++)
					buf[ch][f] = inter[f * channels + ch];
		}
		uint32_t n = (uint32_t)got;
		if (ended) {
			uint64_t silence = input + latency + tail - (fed + n);
			if (silence > FX_OFFLINE_BLOCK - n)
				silence = FX_OFFLINE_BLOCK - n;
			for (int ch = 0; ch < channels; ch++)
				memset(buf[ch] + n, 0, sizeof(float) * (size_t)silence);
			n += (uint32_t)silence;
		}
		if (n == 0)
			break;

		double seconds = (double)fed / rate;
		const struct fx_clock clock = {
			.seconds = seconds,
			.beats = seconds * bpm / 60.0,
			.seconds_per_frame = 1.0 / rate,
			.beats_per_frame = bpm / 60.0 / rate,
			.has_beats = true,
		};
		fx_chain_run(c, d.lanes, d.nlanes, buf, n, &clock);

		/* Stream frame fed + i is output frame fed + i - latency. */
		uint32_t skip = fed >= latency ? 0 : (uint32_t)(latency - fed < n ? latency - fed : n);
		fed += n;
		if (skip == n)
			continue;
		if (oc.count + (n - skip) > FX_OFFLINE_IO_FRAMES && output_flush(out, &oc, err, errlen) != 0)
			goto done;
		float *dst = oc.frames + (size_t)oc.count * (size_t)channels;
		if (channels == 2) {
			for (uint32_t f = skip; f < n; f++) {
				dst[2 * (size_t)(f - skip)] = buf[0][f];
				dst[2 * (size_t)(f - skip) + 1] = buf[1][f];
			}
		} else {
			for (uint32_t f = skip; f < n; f++)
				for (int ch = 0; ch < channels; ch++)
					dst[(size_t)(f - skip) * (size_t)channels + (size_t)ch] = buf[ch][f];
		}
		oc.count += n - skip;
		written += n - skip;
		cl_progress_update(&bar, written);
	}
	if (output_flush(out, &oc, err, errlen) != 0)
		goto done;
	fesetenv(&fenv);
	fenv_saved = false;

	const struct cl_audio_out_info info = *cl_audio_out_info(out);
	int r = cl_audio_out_commit(out, err, errlen);
	out = NULL;
	if (r != 0)
		goto done;
	cl_progress_end(&bar, written, true);
	if (info.clipped)
		cl_warn("%s: %llu samples clipped (peak %+.1f dBFS): lower the chain's output or write float",
			out_path, (unsigned long long)info.clipped, 20.0 * log10(info.peak));
	else if (info.peak > 1.0f)
		cl_warn("%s: the output peaks at %+.1f dBFS, over full scale (kept in float)", out_path,
			20.0 * log10(info.peak));
	char tail_text[48] = "";
	if (tail)
		snprintf(tail_text, sizeof tail_text, " (%.1f s of tail)", (double)tail / rate);
	cl_info("wrote %s: %.1f s%s at %u Hz, %d channel%s, %s; %llu frames of latency compensated",
		out_path, (double)written / rate, tail_text, rate, channels, channels == 1 ? "" : "s",
		info.sample_name, (unsigned long long)latency);
	status = 0;
done:
	if (fenv_saved)
		fesetenv(&fenv);
	cl_audio_out_abort(out);
	if (status != 0)
		cl_progress_end(&bar, written, false);   /* the error starts on a line of its own */
	if (caught)
		cl_render_signals_restore(&saved);
	fx_chain_free_all(c);
	fx_doc_free(&d);
	free(pool);
	free(oc.frames);
	input_close(&in);
	json_decref(doc);
	return status;
}
