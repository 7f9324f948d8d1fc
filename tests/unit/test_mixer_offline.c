/*
 * cl-mixer's offline modes (clients/cl-mixer/offline.c).
 *
 * Mixdown: WAV files written here (sines, DC, seeded noise; float and
 * 24-bit; mono and stereo; different lengths) and mix documents made from
 * the same C description that drives a reference mix computed by calling
 * the DSP directly (mixer_new, the setters, mixer_settle, mixer_process in
 * JACK-sized blocks of 256). Float output must equal the reference sample
 * for sample; 24-bit WAV and FLAC within half an LSB (rounded, not
 * truncated), 16-bit likewise, and PCM clips at full scale. A mono file
 * in the stereo offline mixer equals a mono strip. Every refused input (missing,
 * garbage or 3-channel file, mismatched rate, bad documents, bad output
 * names) gives -1 and a message naming the problem and leaves no output
 * and no temporary; an old output file keeps its bytes. A file-size limit
 * (RLIMIT_FSIZE, like a full disk) and SIGINT in mid-run do the same. The
 * progress bar shows on a terminal (a pty) and not elsewhere.
 *
 * Analysis: known answers through libebur128 (a -20 dBFS 1 kHz sine is
 * -23.0 LUFS), each bound of the fader proposal (target, ceiling, fader
 * top, gate), and --apply's rewrite of the document matching what it
 * printed.
 */
#include "offline.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pty.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sndfile.h>

#include "cl_check.h"
#include "cl_log.h"
#include "dsp.h"

#define RATE 48000
#define REF_BLOCK 256           /* a JACK period */
#define LSB24 (1.0 / 8388608.0)

static char dir[] = "/tmp/test-mixer-offline-XXXXXX";

#include "test_files.h"
static char err[1024];

/* ------------------------------------------------------------------ */
/* files */

/* SINE: channel c at freq * (c + 1) (so a swap shows); SINE_SAME: the
 * same sine in every channel. */
enum wave { SINE, SINE_SAME, NOISE, DC, PEAKY, SILENCE };

/* xorshift64*: the same noise everywhere. */
static uint64_t rng;
static double noise(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 2685821657736338717ull) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* Write a test file of `wave` at amplitude amp. */
static void write_wave(const char *name, int rate, int channels, double seconds, int format,
		       enum wave wave, double amp, double freq)
{
	SF_INFO info = { .samplerate = rate, .channels = channels, .format = format };
	SNDFILE *sf = sf_open(at(name), SFM_WRITE, &info);
	sf_count_t frames = (sf_count_t)lround(seconds * rate);
	float *buf = malloc(sizeof(float) * (size_t)(frames * channels + 1));
	if (!sf || !buf) {
		fprintf(stderr, "cannot write %s: %s\n", name, sf_strerror(NULL));
		exit(1);
	}
	rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(freq * 1000.0);
	for (sf_count_t i = 0; i < frames; i++) {
		for (int c = 0; c < channels; c++) {
			double v = 0.0;
			switch (wave) {
			case SINE: v = amp * sin(2.0 * M_PI * freq * (c + 1) * (double)i / rate); break;
			case SINE_SAME: v = amp * sin(2.0 * M_PI * freq * (double)i / rate); break;
			case NOISE: v = amp * noise(); break;
			case DC: v = amp; break;
			case PEAKY: /* quiet sine with a full-scale click every second */
				v = 0.001 * sin(2.0 * M_PI * 500.0 * (double)i / rate) +
				    (i % rate == 100 ? amp : 0.0);
				break;
			case SILENCE: v = 0.0; break;
			}
			buf[i * channels + c] = (float)v;
		}
	}
	if (sf_writef_float(sf, buf, frames) != frames || sf_close(sf) != 0) {
		fprintf(stderr, "cannot write %s\n", name);
		exit(1);
	}
	free(buf);
}

/* ------------------------------------------------------------------ */
/* mixes: one description, written as a document and mixed by the DSP */

struct tstrip {
	const char *file;
	double gain, volume, pan;
	bool mute, solo, phase;
	int sends;
	double send[MIXER_MAX_AUX];
	bool send_pre[MIXER_MAX_AUX];
};

struct tmix {
	int rate;                    /* 0: no "rate" key */
	int strips;
	struct tstrip strip[8];
	double master_volume;
	bool master_mute;
};

static json_t *level_json(double db)
{
	return isinf(db) ? json_string("-inf") : json_real(db);
}

static void write_mix(const char *name, const struct tmix *t)
{
	json_t *doc = json_pack("{s:s}", "schema", "cl-mixer-mix/1");
	if (t->rate)
		json_object_set_new(doc, "rate", json_integer(t->rate));
	json_t *strips = json_array();
	for (int i = 0; i < t->strips; i++) {
		const struct tstrip *s = &t->strip[i];
		json_t *o = json_pack("{s:s, s:f, s:o, s:f, s:b, s:b, s:b}", "file", s->file,
				      "gain", s->gain, "volume", level_json(s->volume), "pan", s->pan,
				      "mute", s->mute, "solo", s->solo, "phase", s->phase);
		if (s->sends) {
			json_t *sends = json_array(), *pre = json_array();
			for (int k = 0; k < s->sends; k++) {
				json_array_append_new(sends, level_json(s->send[k]));
				json_array_append_new(pre, json_boolean(s->send_pre[k]));
			}
			json_object_set_new(o, "sends", sends);
			json_object_set_new(o, "send_pre", pre);
		}
		json_array_append_new(strips, o);
	}
	json_object_set_new(doc, "strips", strips);
	json_object_set_new(doc, "master", json_pack("{s:o, s:b}", "volume",
						     level_json(t->master_volume), "mute", t->master_mute));
	if (json_dump_file(doc, at(name), JSON_INDENT(1)) != 0) {
		fprintf(stderr, "cannot write %s\n", name);
		exit(1);
	}
	json_decref(doc);
}

/* The mix by the DSP itself: files read with libsndfile, mono files fed
 * to both sides of a stereo strip (or, with mono_strips, to mono strips),
 * shorter files padded with silence, blocks of REF_BLOCK. Returns
 * interleaved stereo (malloc'd) and its frames. */
static float *reference_mix(const struct tmix *t, bool mono_strips, sf_count_t *frames_out)
{
	int channels = mono_strips ? 1 : 2, aux = 0;
	float *data[8];
	SF_INFO info[8];
	sf_count_t frames = 0;
	for (int i = 0; i < t->strips; i++) {
		data[i] = read_audio(at(t->strip[i].file), &info[i]);
		if (!data[i]) {
			fprintf(stderr, "reference: cannot read %s\n", t->strip[i].file);
			exit(1);
		}
		if (info[i].frames > frames)
			frames = info[i].frames;
		if (t->strip[i].sends > aux)
			aux = t->strip[i].sends;
	}
	/* Planar, padded: strip i channel c at lines[i * 2 + c]. */
	float *lines[16];
	for (int i = 0; i < t->strips; i++) {
		for (int c = 0; c < 2; c++) {
			lines[2 * i + c] = calloc((size_t)frames + 1, sizeof(float));
			for (sf_count_t f = 0; f < info[i].frames; f++)
				lines[2 * i + c][f] = data[i][f * info[i].channels +
							     (info[i].channels == 2 ? c : 0)];
		}
		free(data[i]);
	}
	struct mixer *m = mixer_new((uint32_t)(t->rate ? t->rate : info[0].samplerate), t->strips,
				    channels, aux);
	for (int i = 0; i < t->strips; i++) {
		const struct tstrip *s = &t->strip[i];
		mixer_set_gain(m, i, (float)s->gain);
		mixer_set_volume(m, i, (float)s->volume);
		mixer_set_pan(m, i, (float)s->pan);
		mixer_set_mute(m, i, s->mute);
		mixer_set_solo(m, i, s->solo);
		mixer_set_phase(m, i, s->phase);
		for (int k = 0; k < s->sends; k++) {
			mixer_set_send(m, i, k, (float)s->send[k]);
			mixer_set_send_pre(m, i, k, s->send_pre[k]);
		}
	}
	mixer_set_master_volume(m, (float)t->master_volume);
	mixer_set_master_mute(m, t->master_mute);
	mixer_settle(m);

	float *out = malloc(sizeof(float) * (size_t)(2 * frames + 1));
	float ml[REF_BLOCK], mr[REF_BLOCK], auxbuf[2 * MIXER_MAX_AUX][REF_BLOCK];
	float *master[2] = { ml, mr }, *auxp[2 * MIXER_MAX_AUX];
	for (int k = 0; k < 2 * MIXER_MAX_AUX; k++)
		auxp[k] = auxbuf[k];
	for (sf_count_t off = 0; off < frames; off += REF_BLOCK) {
		uint32_t n = (uint32_t)(frames - off < REF_BLOCK ? frames - off : REF_BLOCK);
		const float *in[16];
		for (int i = 0; i < t->strips; i++)
			for (int c = 0; c < channels; c++)
				in[i * channels + c] = lines[2 * i + c] + off;
		mixer_process(m, n, in, master, auxp);
		for (uint32_t f = 0; f < n; f++) {
			out[2 * (off + f)] = ml[f];
			out[2 * (off + f) + 1] = mr[f];
		}
	}
	mixer_free(m);
	for (int i = 0; i < 2 * t->strips; i++)
		free(lines[i]);
	*frames_out = frames;
	return out;
}

/* Mix `t` into `out_name` and compare with the DSP: exact for float,
 * within `tol_lsb` 24-bit steps otherwise (PCM output rounds to the
 * nearest step: half a step). */
static void check_mixdown(const char *what, const struct tmix *t, const char *out_name,
			  const char *format, int want_format, double tol_lsb, bool mono_ref)
{
	write_mix("mix.json", t);
	unlink(at(out_name));
	int r = offline_mixdown(at("mix.json"), at(out_name), format, false, err, sizeof err);
	CHECK(r == 0, "%s: mixdown succeeds (%s)", what, r ? err : "ok");
	if (r != 0)
		return;
	sf_count_t ref_frames;
	float *ref = reference_mix(t, mono_ref, &ref_frames);
	SF_INFO info;
	float *got = read_audio(at(out_name), &info);
	CHECK(got != NULL, "%s: output readable", what);
	if (!got) {
		free(ref);
		return;
	}
	CHECK(info.channels == 2 && info.frames == ref_frames &&
	      info.samplerate == (t->rate ? t->rate : info.samplerate),
	      "%s: %d channels, %lld frames at %d Hz (want 2, %lld)", what, info.channels,
	      (long long)info.frames, info.samplerate, (long long)ref_frames);
	CHECK(info.format == want_format, "%s: format 0x%x, want 0x%x", what, info.format, want_format);
	double worst = 0.0;
	sf_count_t worst_at = 0, n = info.frames < ref_frames ? info.frames : ref_frames;
	double ref_peak = 0.0;
	for (sf_count_t i = 0; i < 2 * n; i++) {
		double d = fabs((double)got[i] - (double)ref[i]);
		if (d > worst || isnan(d)) {
			worst = isnan(d) ? INFINITY : d;
			worst_at = i;
		}
		if (fabs(ref[i]) > ref_peak)
			ref_peak = fabs(ref[i]);
	}
	if (tol_lsb == 0.0)
		CHECK(worst == 0.0, "%s: equals the DSP sample for sample (worst difference %g at sample %lld)",
		      what, worst, (long long)worst_at);
	else
		CHECK(worst <= tol_lsb * LSB24, "%s: within %g LSB of the DSP (worst %.3f LSB at sample %lld)",
		      what, tol_lsb, worst / LSB24, (long long)worst_at);
	CHECK(ref_peak > 0.01 || t->master_mute || isinf(t->master_volume),
	      "%s: the reference is not silence (peak %g)", what, ref_peak);
	CHECK(hidden_files() == 0, "%s: no temporary left", what);
	free(ref);
	free(got);
}

static struct tmix base_mix(void)
{
	struct tmix t = { .rate = RATE, .strips = 4, .master_volume = -2.0 };
	t.strip[0] = (struct tstrip){ .file = "stereo_sine.wav", .gain = 3.0, .volume = -6.0, .pan = -0.4,
				      .sends = 2, .send = { -6.0, -INFINITY }, .send_pre = { true, false } };
	t.strip[1] = (struct tstrip){ .file = "mono_noise24.wav", .gain = -2.5, .volume = -3.0, .pan = 0.7,
				      .sends = 1, .send = { 0.0 } };
	t.strip[2] = (struct tstrip){ .file = "mono_dc.wav", .volume = -12.0, .pan = 0.0, .phase = true };
	t.strip[3] = (struct tstrip){ .file = "stereo_short.wav", .volume = 1.5, .pan = 1.0, .mute = false };
	return t;
}

static void test_mixdown(void)
{
	write_wave("stereo_sine.wav", RATE, 2, 2.0, SF_FORMAT_WAV | SF_FORMAT_FLOAT, SINE, 0.3, 440.0);
	write_wave("mono_noise24.wav", RATE, 1, 1.5, SF_FORMAT_WAV | SF_FORMAT_PCM_24, NOISE, 0.25, 1.0);
	write_wave("mono_dc.wav", RATE, 1, 0.7, SF_FORMAT_WAV | SF_FORMAT_FLOAT, DC, 0.25, 2.0);
	write_wave("stereo_short.wav", RATE, 2, 0.3337, SF_FORMAT_WAV | SF_FORMAT_PCM_16, SINE, 0.2, 1000.0);

	struct tmix t = base_mix();
	check_mixdown("4 strips, float WAV", &t, "out.wav", NULL, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.0, false);
	check_mixdown("4 strips, --format float", &t, "out.wav", "float", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.0,
		      false);
	check_mixdown("4 strips, 24-bit WAV", &t, "out24.wav", "24", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 0.5,
		      false);
	check_mixdown("4 strips, FLAC (24-bit by default)", &t, "out.flac", NULL,
		      SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 0.5, false);
	check_mixdown("4 strips, 16-bit WAV", &t, "out16.wav", "16", SF_FORMAT_WAV | SF_FORMAT_PCM_16,
		      0.5 * 256.0, false);
	check_mixdown("4 strips, AIFF float", &t, "out.aiff", NULL, SF_FORMAT_AIFF | SF_FORMAT_FLOAT, 0.0, false);

	t.strip[1].solo = true;
	t.strip[2].solo = true;
	t.strip[0].mute = true;
	check_mixdown("solo and mute", &t, "out.wav", NULL, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.0, false);

	t = base_mix();
	t.master_volume = -INFINITY;
	t.strip[0].volume = -INFINITY;
	check_mixdown("master at -inf", &t, "out.wav", NULL, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.0, false);
	SF_INFO info;
	float *silent = read_audio(at("out.wav"), &info);
	float peak = 0.0f;
	for (sf_count_t i = 0; silent && i < 2 * info.frames; i++)
		peak = fmaxf(peak, fabsf(silent[i]));
	CHECK(silent && peak == 0.0f, "master at -inf writes silence (peak %g)", peak);
	free(silent);

	/* Over full scale: float keeps it, PCM clips at the top step instead
	 * of wrapping round to negative. */
	struct tmix loud = { .rate = RATE, .strips = 1 };
	write_wave("dc_high.wav", RATE, 1, 0.1, SF_FORMAT_WAV | SF_FORMAT_FLOAT, DC, 0.9, 5.0);
	loud.strip[0] = (struct tstrip){ .file = "dc_high.wav", .gain = 6.0, .pan = 0.0 };
	const char *formats[3] = { NULL, "24", "16" };
	const double top[3] = { 0.0, 8388607.0 / 8388608.0, 32767.0 / 32768.0 };
	for (int f = 0; f < 3; f++) {
		write_mix("loud.json", &loud);
		int r = offline_mixdown(at("loud.json"), at("loud.wav"), formats[f], false, err, sizeof err);
		float *x = read_audio(at("loud.wav"), &info);
		sf_count_t wrong = 0;
		double want = f == 0 ? 0.9 * pow(10.0, 6.0 / 20.0) * sqrt(0.5) : top[f];
		for (sf_count_t i = 0; x && i < 2 * info.frames; i++)
			wrong += fabs(x[i] - want) > 1e-6;
		CHECK(r == 0 && x && info.frames == 4800 && wrong == 0,
		      "DC at +2.1 dBFS, format %s: every sample %.7f (%lld differ)", formats[f] ? formats[f] : "float",
		      want, (long long)wrong);
		free(x);
	}

	/* A mono file in the stereo mixer is a mono strip. */
	struct tmix mono = { .rate = RATE, .strips = 2 };
	mono.strip[0] = (struct tstrip){ .file = "mono_noise24.wav", .gain = 1.0, .volume = -4.0, .pan = -0.3 };
	mono.strip[1] = (struct tstrip){ .file = "mono_dc.wav", .volume = -10.0, .pan = 0.9 };
	check_mixdown("mono files equal mono strips", &mono, "mono.wav", NULL, SF_FORMAT_WAV | SF_FORMAT_FLOAT,
		      0.0, true);

	/* No "rate": the files' rate is the mix's. */
	write_wave("a44.wav", 44100, 2, 0.5, SF_FORMAT_WAV | SF_FORMAT_FLOAT, SINE, 0.4, 300.0);
	write_wave("b44.wav", 44100, 1, 0.25, SF_FORMAT_WAV | SF_FORMAT_FLOAT, NOISE, 0.4, 3.0);
	struct tmix r44 = { .rate = 0, .strips = 2 };
	r44.strip[0] = (struct tstrip){ .file = "a44.wav", .volume = -1.0 };
	r44.strip[1] = (struct tstrip){ .file = "b44.wav", .volume = -5.0, .pan = -1.0 };
	check_mixdown("44.1 kHz from the files", &r44, "r44.wav", NULL, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0.0,
		      false);
	free(read_audio(at("r44.wav"), &info));
	CHECK(info.samplerate == 44100, "output is at the files' 44100 Hz: %d", info.samplerate);

	/* Files given by absolute path work too. */
	struct tmix abs = { .rate = RATE, .strips = 1 };
	char abs_path[PATH_MAX];
	snprintf(abs_path, sizeof abs_path, "%s", at("stereo_sine.wav"));
	abs.strip[0] = (struct tstrip){ .file = abs_path, .volume = 0.0 };
	write_mix("abs.json", &abs);
	CHECK(offline_mixdown(at("abs.json"), at("abs.wav"), NULL, false, err, sizeof err) == 0,
	      "a strip file by absolute path mixes (%s)", err);
}

/* ------------------------------------------------------------------ */
/* errors */

/* Run a mixdown that must fail: -1, err contains every needle, the old
 * output keeps its bytes, no temporary is left. */
static void check_refused(const char *what, const char *mix_text, const char *out_name,
			  const char *format, const char *needle1, const char *needle2)
{
	static const char old[] = "old output, not audio\n";
	if (mix_text)
		write_text(at("bad.json"), mix_text);
	write_text(at(out_name), old);
	err[0] = '\0';
	int r = offline_mixdown(at("bad.json"), at(out_name), format, false, err, sizeof err);
	CHECK(r == -1, "%s: refused (returned %d)", what, r);
	CHECK(strstr(err, needle1) != NULL && (!needle2 || strstr(err, needle2) != NULL),
	      "%s: message names it: \"%s\" (want \"%s\"%s%s%s)", what, err, needle1,
	      needle2 ? " and \"" : "", needle2 ? needle2 : "", needle2 ? "\"" : "");
	const char *now = read_text(at(out_name));
	CHECK(now && strcmp(now, old) == 0, "%s: the old output is untouched", what);
	CHECK(hidden_files() == 0, "%s: no temporary left", what);
	unlink(at(out_name));
	r = offline_mixdown(at("bad.json"), at(out_name), format, false, err, sizeof err);
	CHECK(r == -1 && !exists(at(out_name)), "%s: no output file is created", what);
}

#define HEAD "{\"schema\": \"cl-mixer-mix/1\", \"rate\": 48000, "

static void test_errors(void)
{
	write_text(at("garbage.wav"), "RIFF this is not a wave file at all, just bytes \x01\x02\x03");
	write_wave("kick44.wav", 44100, 1, 0.2, SF_FORMAT_WAV | SF_FORMAT_FLOAT, SINE, 0.5, 60.0);
	write_wave("three.wav", RATE, 3, 0.2, SF_FORMAT_WAV | SF_FORMAT_FLOAT, SINE, 0.5, 60.0);
	mkdir(at("folder.wav"), 0755);

	check_refused("missing file",
		      HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\"}, {\"file\": \"nothere.wav\"}]}",
		      "out.wav", NULL, "strips[1]: cannot open nothere.wav", "No such file or directory");
	check_refused("garbage file", HEAD "\"strips\": [{\"file\": \"garbage.wav\"}]}", "out.wav", NULL,
		      "garbage.wav is not an audio file", NULL);
	check_refused("a folder as file", HEAD "\"strips\": [{\"file\": \"folder.wav\"}]}", "out.wav", NULL,
		      "folder.wav is a folder", NULL);
	check_refused("mismatched rate",
		      HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\"}, {\"file\": \"kick44.wav\"}]}", "out.wav",
		      NULL, "kick44.wav is 44100 Hz, the mix is 48000 Hz", "strips[1]");
	check_refused("mismatched rate, no rate key",
		      "{\"schema\": \"cl-mixer-mix/1\", \"strips\": [{\"file\": \"kick44.wav\"}, "
		      "{\"file\": \"stereo_sine.wav\"}]}",
		      "out.wav", NULL, "stereo_sine.wav is 48000 Hz, the mix is 44100 Hz (from kick44.wav)", NULL);
	check_refused("three channels", HEAD "\"strips\": [{\"file\": \"three.wav\"}]}", "out.wav", NULL,
		      "three.wav has 3 channels", NULL);
	check_refused("wrong schema", "{\"schema\": \"cl-fx-chain/1\", \"strips\": []}", "out.wav", NULL,
		      "not a cl-mixer-mix document", NULL);
	check_refused("newer schema", "{\"schema\": \"cl-mixer-mix/2\", \"strips\": []}", "out.wav", NULL,
		      "newer than this program", NULL);
	check_refused("no schema", "{\"strips\": []}", "out.wav", NULL, "no \"schema\"", NULL);
	check_refused("unknown top key", HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\"}], \"tempo\": 120}",
		      "out.wav", NULL, "unknown key \"tempo\"", NULL);
	check_refused("unknown strip key",
		      HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\"}, {\"file\": \"mono_dc.wav\", \"pann\": 0}]}",
		      "out.wav", NULL, "strips[1]: unknown key \"pann\"", NULL);
	check_refused("unknown master key",
		      HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\"}], \"master\": {\"gain\": 0}}", "out.wav",
		      NULL, "master: unknown key \"gain\"", NULL);
	check_refused("pan 5", HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\", \"pan\": 5}]}", "out.wav",
		      NULL, "strips[0].pan must be a number in -1..1, not 5", NULL);
	check_refused("volume \"loud\"",
		      HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\"}, {\"file\": \"mono_dc.wav\", \"volume\": \"loud\"}]}",
		      "out.wav", NULL, "strips[1].volume must be a number of dB", "\"loud\"");
	check_refused("volume over the top", HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\", \"volume\": 13}]}",
		      "out.wav", NULL, "strips[0].volume", "up to +12");
	check_refused("gain true", HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\", \"gain\": true}]}",
		      "out.wav", NULL, "strips[0].gain must be a number of dB in -24..24, not true", NULL);
	check_refused("mute \"yes\"", HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\", \"mute\": \"yes\"}]}",
		      "out.wav", NULL, "strips[0].mute must be true or false", NULL);
	check_refused("nine sends",
		      HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\", \"sends\": [0,0,0,0,0,0,0,0,0]}]}",
		      "out.wav", NULL, "strips[0].sends has 9 entries, at most 8", NULL);
	check_refused("send \"off\"",
		      HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\", \"sends\": [0, \"off\"]}]}", "out.wav",
		      NULL, "strips[0].sends[1] must be a number of dB", "\"off\"");
	check_refused("send_pre longer than sends",
		      HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\", \"sends\": [0], \"send_pre\": [true, false]}]}",
		      "out.wav", NULL, "strips[0].send_pre has 2 entries but sends has 1", NULL);
	check_refused("duplicate key",
		      HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\", \"pan\": 0, \"pan\": 1}]}", "out.wav",
		      NULL, "duplicate", NULL);
	check_refused("no file", HEAD "\"strips\": [{\"volume\": 0}]}", "out.wav", NULL,
		      "strips[0].file is missing", NULL);
	check_refused("empty strips", HEAD "\"strips\": []}", "out.wav", NULL, "\"strips\" must be a non-empty",
		      NULL);
	check_refused("strip not an object", HEAD "\"strips\": [5]}", "out.wav", NULL,
		      "strips[0] must be an object, not 5", NULL);
	check_refused("fractional rate",
		      "{\"schema\": \"cl-mixer-mix/1\", \"rate\": 44100.5, \"strips\": [{\"file\": \"a44.wav\"}]}",
		      "out.wav", NULL, "rate must be a whole number of Hz", "44100.5");
	check_refused("invalid JSON", "{\"schema\": \"cl-mixer-mix/1\", \"strips\": [", "out.wav", NULL,
		      "invalid JSON", NULL);
	unlink(at("bad.json"));
	check_refused("missing mix document", NULL, "out.wav", NULL, "bad.json", "No such file");

	write_text(at("bad.json"), HEAD "\"strips\": [{\"file\": \"stereo_sine.wav\"}]}");
	check_refused("unknown output type", NULL, "out.mp3", NULL, "out.mp3: cannot tell the file type",
		      NULL);
	check_refused("FLAC as float", NULL, "out.flac", "float", "FLAC holds integer samples only", NULL);
	check_refused("unknown format", NULL, "out.wav", "32", "unknown sample format \"32\"", NULL);
}

/* ------------------------------------------------------------------ */
/* a file-size limit (a full disk) and an interrupt, in child processes */

/* Child: mix mix.json into out.wav under a 100 kB file-size limit. */
static int child_fsize(bool ignore_sigxfsz, int pipe_fd)
{
	struct rlimit lim = { .rlim_cur = 100000, .rlim_max = 100000 };
	if (ignore_sigxfsz)
		signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
		return 4;
	int r = offline_mixdown(at("mix.json"), at("full.wav"), NULL, false, err, sizeof err);
	struct sigaction now;
	sigaction(SIGXFSZ, NULL, &now);
	bool restored = now.sa_handler == (ignore_sigxfsz ? SIG_IGN : SIG_DFL);
	if (write(pipe_fd, err, strlen(err)) < 0)
		return 5;
	return r == -1 ? (restored ? 0 : 6) : 3;
}

static void test_full_disk(void)
{
	struct tmix t = base_mix();   /* 2 s of float stereo: 768 kB */
	write_mix("mix.json", &t);
	for (int ignore = 1; ignore >= 0; ignore--) {
		static const char old[] = "the previous mix\n";
		write_text(at("full.wav"), old);
		int fds[2];
		if (pipe(fds) != 0)
			exit(1);
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			_exit(child_fsize(ignore, fds[1]));
		}
		close(fds[1]);
		char msg[1024];
		ssize_t n = read(fds[0], msg, sizeof msg - 1);
		msg[n > 0 ? n : 0] = '\0';
		close(fds[0]);
		int status;
		waitpid(pid, &status, 0);
		const char *how = ignore ? "SIGXFSZ ignored by the test" : "SIGXFSZ left at its default";
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "file-size limit, %s: mixdown returns -1 and restores SIGXFSZ (status 0x%x)", how, status);
		CHECK(strstr(msg, "cannot write") && strstr(msg, "full.wav") && strstr(msg, "too large"),
		      "file-size limit, %s: message says so: \"%s\"", how, msg);
		const char *now = read_text(at("full.wav"));
		CHECK(now && strcmp(now, old) == 0, "file-size limit, %s: the old output is untouched", how);
		CHECK(hidden_files() == 0, "file-size limit, %s: the partial temporary is removed", how);
		unlink(at("full.wav"));
	}
}

static void test_interrupt(void)
{
	/* Long enough that signals sent every 2 ms land mid-run. */
	write_wave("long.wav", RATE, 1, 30.0, SF_FORMAT_WAV | SF_FORMAT_FLOAT, NOISE, 0.1, 7.0);
	struct tmix t = { .rate = RATE, .strips = 8 };
	for (int i = 0; i < 8; i++)
		t.strip[i] = (struct tstrip){ .file = "long.wav", .volume = -20.0 };
	write_mix("long.json", &t);
	int fds[2];
	if (pipe(fds) != 0)
		exit(1);
	/* The child starts with SIGINT ignored: a signal that lands before
	 * the mixdown starts is not the test. */
	void (*old)(int) = signal(SIGINT, SIG_IGN);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		int r = offline_mixdown(at("long.json"), at("long_out.wav"), NULL, false, err, sizeof err);
		struct sigaction now;
		sigaction(SIGINT, NULL, &now);
		if (write(fds[1], err, strlen(err)) < 0)
			_exit(5);
		_exit(r == 0 ? 3 : now.sa_handler == SIG_IGN ? 0 : 6);
	}
	signal(SIGINT, old);
	close(fds[1]);
	int status = 0;
	for (int i = 0; i < 5000; i++) {
		kill(pid, SIGINT);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	char msg[1024];
	ssize_t n = read(fds[0], msg, sizeof msg - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "SIGINT mid-run: mixdown returns -1 and restores the old handler (status 0x%x, \"%s\")", status, msg);
	CHECK(strstr(msg, "interrupted") != NULL, "SIGINT mid-run: message \"%s\"", msg);
	CHECK(!exists(at("long_out.wav")) && hidden_files() == 0, "SIGINT mid-run: no output, no temporary");
}

/* ------------------------------------------------------------------ */
/* the progress bar */

static void test_progress(void)
{
	struct tmix t = base_mix();
	write_mix("mix.json", &t);

	/* stderr is a file: no bar. */
	int saved = dup(STDERR_FILENO);
	int fd = open(at("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	int r = offline_mixdown(at("mix.json"), at("p.wav"), NULL, true, err, sizeof err);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(fd);
	const char *text = read_text(at("stderr.txt"));
	CHECK(r == 0 && text && strstr(text, "mixdown") == NULL && strchr(text, '\r') == NULL,
	      "no progress bar when stderr is not a terminal (%d bytes written)", text ? (int)strlen(text) : -1);

	/* stderr is a terminal: a bar that ends at 100% and a newline. */
	int master, slave;
	if (openpty(&master, &slave, NULL, NULL, NULL) != 0) {
		CHECK(0, "openpty: %s", strerror(errno));
		return;
	}
	fflush(stderr);
	dup2(slave, STDERR_FILENO);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = offline_mixdown(at("mix.json"), at("p.wav"), NULL, true, err, sizeof err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(slave);
	char buf[8192];
	size_t len = 0;
	fcntl(master, F_SETFL, O_NONBLOCK);
	for (ssize_t n; len < sizeof buf - 1 && (n = read(master, buf + len, sizeof buf - 1 - len)) > 0;)
		len += (size_t)n;
	buf[len] = '\0';
	close(master);
	int draws = 0;
	for (size_t i = 0; i < len; i++)
		draws += buf[i] == '\r' && buf[i + 1] != '\n';
	double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(r == 0 && strstr(buf, "mixdown 100% [##############################]") && strstr(buf, "2.0 / 2.0 s"),
	      "a progress bar on a terminal ends at 100%%: \"%.200s\"", buf);
	CHECK(draws >= 1 && draws <= 2 + (int)(elapsed * 10.0), "%d draws in %.3f s (at most 10 a second)",
	      draws, elapsed);
}

/* ------------------------------------------------------------------ */
/* analysis and --apply */

static char *analyze_text(const char *file, double target, double ceiling, int *r)
{
	static char text[4096];
	char *files[1] = { (char *)file };
	FILE *out = fmemopen(text, sizeof text, "w");
	*r = offline_analyze(1, files, target, ceiling, out, err, sizeof err);
	fclose(out);
	return text;
}

/* The number after `key` in text, or NAN. */
static double number_after(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtod(p + strlen(key), NULL) : NAN;
}

static void test_analyze(void)
{
	int r;
	write_wave("sine20.wav", RATE, 1, 10.0, SF_FORMAT_WAV | SF_FORMAT_PCM_24, SINE, 0.1, 1000.0);
	char *text = analyze_text(at("sine20.wav"), -23.0, -1.0, &r);
	CHECK(r == 0 && strstr(text, "sine20.wav: -23.0 LUFS integrated, LRA 0.0 LU, true peak -20.0 dBTP -> "
				     "fader +0.0 dB (brings it to -23.0 LUFS; peak -23.0 dBTP)\n"),
	      "1 kHz -20 dBFS mono sine: %s", text);

	/* Stereo, both channels: -20 LUFS as a file, -23 through a centred strip. */
	write_wave("sine20st.wav", RATE, 2, 10.0, SF_FORMAT_WAV | SF_FORMAT_FLOAT, SINE_SAME, 0.1, 1000.0);
	text = analyze_text(at("sine20st.wav"), -18.0, -1.0, &r);
	CHECK(r == 0 && strstr(text, ": -20.0 LUFS integrated") && strstr(text, "-> fader +5.0 dB (brings it to "
									      "-18.0 LUFS; peak") &&
	      strstr(text, "; strip gain and pan -3.0 dB)"),
	      "stereo sine, target -18: %s", text);

	/* A quiet file with full-scale clicks: the ceiling decides, rounding down. */
	write_wave("peaky.wav", RATE, 1, 10.0, SF_FORMAT_WAV | SF_FORMAT_FLOAT, PEAKY, 0.5, 1.0);
	text = analyze_text(at("peaky.wav"), -23.0, -1.0, &r);
	double fader = number_after(text, "-> fader "), peak = number_after(text, "; peak ");
	CHECK(r == 0 && strstr(text, "(the -1.0 dBTP ceiling decides: brings it to ") &&
	      strstr(text, "LU under the -23.0 LUFS target; peak"),
	      "peaky file: the ceiling decides: %s", text);
	CHECK(peak <= -1.0 && peak > -1.2, "peaky file: its peak lands just under the ceiling: %g dBTP (fader %g)",
	      peak, fader);

	/* A very quiet file: the fader's top decides. */
	write_wave("quiet.wav", RATE, 1, 10.0, SF_FORMAT_WAV | SF_FORMAT_FLOAT, SINE, 0.001, 1000.0);
	text = analyze_text(at("quiet.wav"), -23.0, -1.0, &r);
	CHECK(r == 0 && strstr(text, "-> fader +12.0 dB (the fader's +12 dB top decides: brings it to -51.0 LUFS, "
				     "28.0 LU under the -23.0 LUFS target; peak -51.0 dBTP)"),
	      "quiet file: the fader top decides: %s", text);

	/* Silence: nothing to propose. */
	write_wave("silence.wav", RATE, 2, 2.0, SF_FORMAT_WAV | SF_FORMAT_FLOAT, SILENCE, 0.0, 1.0);
	text = analyze_text(at("silence.wav"), -23.0, -1.0, &r);
	CHECK(r == 0 && strstr(text, "silence.wav: no loudness above the -70 LUFS gate, true peak -inf dBTP -> "
				     "no fader proposed"),
	      "silence: %s", text);

	/* Several files; a bad one stops with its name. */
	char *files[3] = { (char *)at("sine20.wav"), (char *)at("garbage.wav"), (char *)at("quiet.wav") };
	char buf[4096];
	FILE *out = fmemopen(buf, sizeof buf, "w");
	r = offline_analyze(3, files, -23.0, -1.0, out, err, sizeof err);
	fclose(out);
	CHECK(r == -1 && strstr(err, "garbage.wav is not an audio file") && strstr(buf, "sine20.wav:"),
	      "analyze stops at an unreadable file: \"%s\"", err);
}

/* Run offline_apply with stdout captured. */
static int apply_captured(const char *mix, double target, double ceiling, char *out, size_t len)
{
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	int fd = open(at("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	int r = offline_apply(mix, target, ceiling, err, sizeof err);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	const char *text = read_text(at("stdout.txt"));
	snprintf(out, len, "%s", text ? text : "");
	return r;
}

static void test_apply(void)
{
	char out[4096];
	write_text(at("apply.json"),
		   "{\"schema\": \"cl-mixer-mix/1\", \"rate\": 48000, \"strips\": [\n"
		   "  {\"file\": \"sine20.wav\", \"name\": \"Tone\", \"volume\": -6, \"pan\": 0.5, \"gain\": 2},\n"
		   "  {\"file\": \"sine20st.wav\", \"volume\": \"-inf\"},\n"
		   "  {\"file\": \"peaky.wav\", \"volume\": 0, \"mute\": true},\n"
		   "  {\"file\": \"silence.wav\", \"volume\": -7}],\n"
		   " \"master\": {\"volume\": -3}}\n");
	int r = apply_captured(at("apply.json"), -23.0, -1.0, out, sizeof out);
	CHECK(r == 0, "apply succeeds (%s)", r ? err : "ok");
	CHECK(strstr(out, "strips[0] \"Tone\" (sine20.wav): volume -6.0 -> -2.0 dB (-23.0 LUFS integrated; "
			  "brings it to -23.0 LUFS; peak -21.2 dBTP; strip gain and pan +2.0 dB)\n") &&
	      strstr(out, "strips[1] (sine20st.wav): volume -inf -> +0.0 dB") == NULL &&
	      strstr(out, "strips[1] (sine20st.wav): volume -inf -> 0.0 dB (-20.0 LUFS integrated; brings it to "
			  "-23.0 LUFS") &&
	      strstr(out, "strips[2] (peaky.wav): volume 0.0 -> ") && strstr(out, "ceiling decides") &&
	      strstr(out, "strips[3] (silence.wav): no loudness above the -70 LUFS gate; volume stays -7.0 dB\n") &&
	      strstr(out, "apply.json: 3 of 4 faders changed, master unchanged\n"),
	      "apply prints what it changes:\n%s", out);

	json_error_t jerr;
	json_t *doc = json_load_file(at("apply.json"), 0, &jerr);
	json_t *strips = json_object_get(doc, "strips");
	double v0 = json_number_value(json_object_get(json_array_get(strips, 0), "volume"));
	double v1 = json_number_value(json_object_get(json_array_get(strips, 1), "volume"));
	double v2 = json_number_value(json_object_get(json_array_get(strips, 2), "volume"));
	double printed2 = number_after(strstr(out, "strips[2]"), "volume 0.0 -> ");
	CHECK(v0 == -2.0 && v1 == 0.0 && v2 == printed2 && json_is_real(json_object_get(json_array_get(strips, 1), "volume")),
	      "the document holds the printed faders: %g %g %g (printed %g)", v0, v1, v2, printed2);
	CHECK(json_integer_value(json_object_get(json_array_get(strips, 3), "volume")) == -7 &&
	      json_number_value(json_object_get(json_object_get(doc, "master"), "volume")) == -3.0 &&
	      json_is_true(json_object_get(json_array_get(strips, 2), "mute")) &&
	      strcmp(json_string_value(json_object_get(json_array_get(strips, 0), "name")), "Tone") == 0,
	      "everything else in the document stays as it was");
	json_decref(doc);
	CHECK(hidden_files() == 0, "apply leaves no temporary");

	/* A second run changes nothing and does not rewrite the file. */
	struct stat before, after;
	stat(at("apply.json"), &before);
	r = apply_captured(at("apply.json"), -23.0, -1.0, out, sizeof out);
	stat(at("apply.json"), &after);
	CHECK(r == 0 && strstr(out, "0 of 4 faders changed, master unchanged (file not rewritten)") &&
	      strstr(out, "volume -2.0 dB unchanged") && before.st_ino == after.st_ino,
	      "a second apply changes nothing:\n%s", out);

	/* The mixdown of a one-strip mix after apply measures at the target. */
	write_text(at("one.json"), "{\"schema\": \"cl-mixer-mix/1\", \"strips\": [{\"file\": \"sine20st.wav\", "
				   "\"volume\": 5, \"pan\": -0.5}]}");
	r = apply_captured(at("one.json"), -16.0, -1.0, out, sizeof out);
	CHECK(r == 0 && offline_mixdown(at("one.json"), at("one.wav"), NULL, false, err, sizeof err) == 0,
	      "apply then mixdown (%s)", err);
	int rr;
	char *text = analyze_text(at("one.wav"), -16.0, -1.0, &rr);
	double lufs = number_after(text, "one.wav: ");
	CHECK(rr == 0 && fabs(lufs - -16.0) <= 0.1, "the applied one-strip mix measures %g LUFS, target -16: %s",
	      lufs, text);

	/* A broken strip: nothing is written. */
	write_text(at("broken.json"), "{\"schema\": \"cl-mixer-mix/1\", \"strips\": [{\"file\": \"sine20.wav\", "
				      "\"volume\": 3}, {\"file\": \"garbage.wav\"}]}");
	const char *before_text = strdup(read_text(at("broken.json")));
	r = apply_captured(at("broken.json"), -23.0, -1.0, out, sizeof out);
	const char *now = read_text(at("broken.json"));
	CHECK(r == -1 && strstr(err, "strips[1]: garbage.wav is not an audio file") && strcmp(now, before_text) == 0 &&
	      out[0] == '\0',
	      "apply with an unreadable strip changes and prints nothing: \"%s\"", err);
	free((void *)before_text);
	write_text(at("bad.json"), HEAD "\"strips\": [{\"file\": \"sine20.wav\", \"pan\": 2}]}");
	r = apply_captured(at("bad.json"), -23.0, -1.0, out, sizeof out);
	CHECK(r == -1 && strstr(err, "strips[0].pan must be a number in -1..1, not 2"),
	      "apply checks the document like mixdown: \"%s\"", err);
}

static void remove_tree(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlink(at(e->d_name)) != 0)
			rmdir(at(e->d_name));
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(void)
{
	cl_log_init("test-mixer-offline", -2);   /* no "wrote ..." or clipping lines */
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_mixdown();
	test_errors();
	test_full_disk();
	test_interrupt();
	test_progress();
	test_analyze();
	test_apply();
	printf("test_mixer_offline: %d checks, %d failed\n", checks, failures);
	if (failures)
		printf("files kept in %s\n", dir);
	else
		remove_tree();
	return failures ? 1 : 0;
}
