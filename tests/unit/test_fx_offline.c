/*
 * cl-fx's offline renderer (clients/cl-fx/offline.c).
 *
 * "The same DSP": a stereo 48 kHz WAV (a sine and seeded noise per
 * channel) goes through a chain document (EQ, compressor, tempo-synced
 * delay, Freeverb, with a lane in seconds and a lane in beats). The test
 * computes its own reference from the same document with fx_doc_parse,
 * fx_doc_build and fx_chain_run, settled and clocked as offline.h
 * specifies, over the same input in the same 1024-frame blocks, and the
 * float output must equal it sample for sample (24-bit FLAC within half
 * an LSB). The bpm reaches the synced delay and the beat lane (90 bpm
 * differs from 120, and matches its own reference); a tail rings out
 * after the input; 4 channels render too; a render may replace its own
 * input.
 *
 * Latency: through a look-ahead limiter (5 ms = 240 frames here) an
 * impulse comes out at the very frame it went in, unchanged, and the
 * output is exactly as long as the input.
 *
 * Errors: missing, garbage, folder and 9-channel inputs; bad chains
 * (unknown type, bad value, unknown parameter, wrong schema, invalid
 * JSON, missing file); pingpong on a 4-channel file; an unknown output
 * extension or sample format; bpm and tail out of range. Each gives -1 and
 * a message naming the problem, and leaves an old output as it was and no
 * temporary. A file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored by the
 * caller, then at its default) and SIGINT in mid-run do the same, and
 * the caller's handlers come back. The progress bar shows on a terminal
 * (a pty) at most 10 times a second, and not when stderr is a file.
 */
#include "offline.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fenv.h>
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

#include "automation.h"
#include "chain.h"
#include "chaindoc.h"
#include "cl_check.h"
#include "cl_doc.h"
#include "cl_rt.h"

#define RATE 48000
#define BLOCK 1024
#define LSB24 (1.0 / 8388608.0)

static char dir[] = "/tmp/test-fx-offline-XXXXXX";
static char err[2048];

#include "test_files.h"

/* ------------------------------------------------------------------ */
/* files */

/* A deterministic noise source in -1..1. */
static float noise(uint32_t *seed)
{
	*seed = *seed * 1664525u + 1013904223u;
	return (float)((double)(*seed >> 8) / 8388608.0 - 1.0);
}

/* Write frames of interleaved float samples as a float WAV. */
static void write_wave(const char *name, int channels, const float *data, long frames)
{
	SF_INFO info = { .samplerate = RATE, .channels = channels, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT };
	SNDFILE *sf = sf_open(at(name), SFM_WRITE, &info);
	if (!sf || sf_writef_float(sf, data, frames) != frames || sf_close(sf) != 0) {
		fprintf(stderr, "cannot write %s: %s\n", name, sf_strerror(sf));
		exit(1);
	}
}

/* `channels` of sine + noise, each channel its own frequency and seed. */
static float *make_music(int channels, long frames)
{
	float *data = malloc(sizeof(float) * (size_t)channels * (size_t)frames);
	for (int c = 0; c < channels; c++) {
		uint32_t seed = 1234u + 77u * (uint32_t)c;
		double freq = 220.0 * (c + 2), amp = 0.3 - 0.03 * c;
		for (long f = 0; f < frames; f++)
			data[f * channels + c] = (float)(amp * sin(2.0 * M_PI * freq * (double)f / RATE)) +
						 0.05f * noise(&seed);
	}
	return data;
}

/* ------------------------------------------------------------------ */
/* the reference: the chain run directly, as offline.h specifies */

/*
 * The output a render of `input` (frames x channels, interleaved) through
 * the chain document text must give: built by fx_doc_parse/fx_doc_build,
 * settled (tempo, lanes at 0, reset), fed input + latency + tail frames of
 * silence in blocks of BLOCK with the clock of offline.h, with the first
 * `latency` frames dropped. *frames_out gets the output's length,
 * *latency_out the chain's latency. FTZ/DAZ as in the renderer.
 */
static float *reference(const char *chain_text, const float *input, long frames, int channels,
			double bpm, double tail_s, long *frames_out, uint32_t *latency_out)
{
	char why[1024];
	json_t *doc = cl_doc_parse(chain_text, strlen(chain_text), why, sizeof why);
	struct fx_doc d;
	uint32_t next_id = 1;
	if (!doc || fx_doc_parse(doc, channels, &d, why, sizeof why) != 0) {
		fprintf(stderr, "reference: the chain does not parse: %s\n", why);
		exit(1);
	}
	struct fx_chain *c = fx_doc_build(&d, RATE, channels, &next_id, why, sizeof why);
	if (!c) {
		fprintf(stderr, "reference: the chain does not build: %s\n", why);
		exit(1);
	}
	fx_chain_set_tempo(c, bpm);
	fx_automate(c, d.lanes, d.nlanes, 0.0, 0.0, true);
	for (int i = 0; i < c->count; i++)
		c->slot[i]->type->reset(c->slot[i]->fx);
	uint32_t latency = fx_chain_latency(c);
	long tail = lround(tail_s * RATE);
	long stream = frames + latency + tail;

	fenv_t env;
	fegetenv(&env);
	cl_rt_flush_denormals();
	float *out = calloc((size_t)(frames + tail) * (size_t)channels + 1, sizeof(float));
	float *buf[FX_MAX_CHANNELS];
	for (int ch = 0; ch < channels; ch++)
		buf[ch] = malloc(sizeof(float) * BLOCK);
	for (long fed = 0; fed < stream; fed += BLOCK) {
		uint32_t n = (uint32_t)(stream - fed < BLOCK ? stream - fed : BLOCK);
		for (uint32_t i = 0; i < n; i++)
			for (int ch = 0; ch < channels; ch++)
				buf[ch][i] = fed + i < frames ? input[(fed + i) * channels + ch] : 0.0f;
		double seconds = (double)fed / RATE;
		struct fx_clock clock = { .seconds = seconds, .beats = seconds * bpm / 60.0,
					  .seconds_per_frame = 1.0 / RATE,
					  .beats_per_frame = bpm / 60.0 / RATE, .has_beats = true };
		fx_chain_run(c, d.lanes, d.nlanes, buf, n, &clock);
		for (uint32_t i = 0; i < n; i++) {
			long o = fed + (long)i - (long)latency;
			if (o >= 0)
				for (int ch = 0; ch < channels; ch++)
					out[o * channels + ch] = buf[ch][i];
		}
	}
	fesetenv(&env);
	for (int ch = 0; ch < channels; ch++)
		free(buf[ch]);
	fx_chain_free_all(c);
	fx_doc_free(&d);
	json_decref(doc);
	*frames_out = frames + tail;
	*latency_out = latency;
	return out;
}

/* Compare a written file with a reference: same shape, and every sample
 * within tol (0 = bit for bit). */
static void check_same(const char *what, const char *path, const float *ref, long frames, int channels,
		       double tol)
{
	SF_INFO info;
	float *got = read_audio(path, &info);
	CHECK(got != NULL, "%s: the output reads back", what);
	if (!got)
		return;
	CHECK(info.frames == frames && info.channels == channels && info.samplerate == RATE,
	      "%s: %lld frames x %d channels at %d Hz (want %ld x %d at %d)", what, (long long)info.frames,
	      info.channels, info.samplerate, frames, channels, RATE);
	if (info.frames != frames || info.channels != channels) {
		free(got);
		return;
	}
	long bad = 0, first = -1;
	double worst = 0.0;
	for (long i = 0; i < frames * channels; i++) {
		double diff = fabs((double)got[i] - (double)ref[i]);
		if (diff > worst)
			worst = diff;
		if (tol == 0.0 ? got[i] != ref[i] : diff > tol) {
			if (first < 0)
				first = i;
			bad++;
		}
	}
	CHECK(bad == 0, "%s: %ld samples differ from the reference (first at frame %ld channel %ld: %.9g, want %.9g; "
	      "largest difference %.3g, allowed %.3g)", what, bad, first < 0 ? 0 : first / channels,
	      first < 0 ? 0 : first % channels, first < 0 ? 0.0 : got[first], first < 0 ? 0.0 : ref[first],
	      worst, tol);
	free(got);
}

/* Largest |sample| of frames [from, to) of an interleaved buffer. */
static double peak_of(const float *data, int channels, long from, long to)
{
	double peak = 0.0;
	for (long i = from * channels; i < to * channels; i++)
		if (fabs(data[i]) > peak)
			peak = fabs(data[i]);
	return peak;
}

/* ------------------------------------------------------------------ */
/* the same DSP */

#define MUSIC_S 3.0
static const char chain_text[] =
	"{\"schema\": \"cl-fx-chain/1\", \"effects\": ["
	" {\"type\": \"peq\", \"params\": {\"freq1\": 200, \"gain1\": 4, \"q1\": 0.7, \"freq5\": 3000, \"gain5\": -3}},"
	" {\"type\": \"compressor\", \"params\": {\"threshold\": -18, \"ratio\": 3, \"attack\": 2,"
	"   \"release\": 80, \"makeup\": 2}},"
	" {\"type\": \"delay\", \"params\": {\"sync\": 4, \"feedback\": 40, \"mix\": 25}},"
	" {\"type\": \"freeverb\", \"params\": {\"room\": 0.6, \"damp\": 0.4, \"mix\": 0.2}}],"
	" \"automation\": ["
	"  {\"slot\": 1, \"param\": \"threshold\", \"unit\": \"seconds\","
	"   \"points\": [[0, -24], [1.0, -30, \"linear\"], [2.0, -12, \"step\"]]},"
	"  {\"slot\": 3, \"param\": \"mix\", \"unit\": \"beats\", \"points\": [[0, 0.1, \"exp\"], [4, 0.5]]}]}\n";

static void test_same_dsp(void)
{
	const long frames = (long)(MUSIC_S * RATE) + 123;   /* not a whole number of blocks */
	float *music = make_music(2, frames);
	write_wave("music.wav", 2, music, frames);
	write_text(at("chain.json"), chain_text);
	SF_INFO info;
	float *input = read_audio(at("music.wav"), &info);   /* what the renderer reads */
	long n;
	uint32_t latency;

	float *ref120 = reference(chain_text, input, frames, 2, 120.0, 0.0, &n, &latency);
	CHECK(n == frames && latency == 0, "this chain has no latency (%u) and no tail", latency);
	int r = fx_offline_render(at("chain.json"), at("music.wav"), at("out.wav"), NULL, 0.0, 0.0, false,
				  err, sizeof err);
	CHECK(r == 0, "render to float WAV at the default 120 bpm (%s)", r ? err : "ok");
	check_same("float WAV, 120 bpm", at("out.wav"), ref120, n, 2, 0.0);
	SF_INFO oi;
	SNDFILE *sf = sf_open(at("out.wav"), SFM_READ, &oi);
	CHECK(sf && oi.format == (SF_FORMAT_WAV | SF_FORMAT_FLOAT), "a .wav is 32-bit float by default (0x%x)",
	      oi.format);
	if (sf)
		sf_close(sf);
	CHECK(peak_of(ref120, 2, 0, n) > 0.1 && peak_of(ref120, 2, 0, n) < 1.0,
	      "the reference is a real signal under full scale (peak %.3f)", peak_of(ref120, 2, 0, n));

	/* The chain really changes the sound, and the lanes move it. */
	double diff = 0.0;
	for (long i = 0; i < n * 2; i++)
		diff = fmax(diff, fabs((double)ref120[i] - (double)input[i]));
	CHECK(diff > 0.05, "the chain changes the signal (largest change %.3f)", diff);

	/* FLAC: 24-bit by default, within half an LSB of the same samples. */
	r = fx_offline_render(at("chain.json"), at("music.wav"), at("out.flac"), NULL, 120.0, 0.0, false,
			      err, sizeof err);
	CHECK(r == 0, "render to FLAC (%s)", r ? err : "ok");
	check_same("24-bit FLAC", at("out.flac"), ref120, n, 2, 0.5 * LSB24 * (1.0 + 1e-6));
	sf = sf_open(at("out.flac"), SFM_READ, &oi);
	CHECK(sf && oi.format == (SF_FORMAT_FLAC | SF_FORMAT_PCM_24), "a .flac is 24-bit (0x%x)", oi.format);
	if (sf)
		sf_close(sf);
	r = fx_offline_render(at("chain.json"), at("music.wav"), at("out24.wav"), "24", 120.0, 0.0, false,
			      err, sizeof err);
	CHECK(r == 0, "render to 24-bit WAV with format \"24\" (%s)", r ? err : "ok");
	check_same("24-bit WAV", at("out24.wav"), ref120, n, 2, 0.5 * LSB24 * (1.0 + 1e-6));

	/* 90 bpm: the synced delay and the beat lane follow. */
	float *ref90 = reference(chain_text, input, frames, 2, 90.0, 0.0, &n, &latency);
	double d90 = 0.0;
	for (long i = 0; i < n * 2; i++)
		d90 = fmax(d90, fabs((double)ref90[i] - (double)ref120[i]));
	CHECK(d90 > 0.01, "90 bpm sounds different from 120 (largest difference %.3f)", d90);
	r = fx_offline_render(at("chain.json"), at("music.wav"), at("out90.wav"), "float", 90.0, 0.0, false,
			      err, sizeof err);
	CHECK(r == 0, "render at 90 bpm (%s)", r ? err : "ok");
	check_same("float WAV, 90 bpm", at("out90.wav"), ref90, n, 2, 0.0);

	/* A tail: the input, then 1.5 s of the chain ringing out. */
	float *reft = reference(chain_text, input, frames, 2, 120.0, 1.5, &n, &latency);
	CHECK(n == frames + 72000, "a 1.5 s tail adds 72000 frames (%ld)", n - frames);
	r = fx_offline_render(at("chain.json"), at("music.wav"), at("tail.wav"), NULL, 120.0, 1.5, false,
			      err, sizeof err);
	CHECK(r == 0, "render with a tail (%s)", r ? err : "ok");
	check_same("float WAV with a 1.5 s tail", at("tail.wav"), reft, n, 2, 0.0);
	double ring = peak_of(reft, 2, frames, frames + 48000), late = peak_of(reft, 2, n - 4800, n);
	CHECK(ring > 0.01 && late < ring, "the tail rings out (peak %.4f in its first second, %.5f at its end)",
	      ring, late);

	/* A render may replace its own input. */
	write_wave("inplace.wav", 2, music, frames);
	r = fx_offline_render(at("chain.json"), at("inplace.wav"), at("inplace.wav"), NULL, 120.0, 0.0, false,
			      err, sizeof err);
	CHECK(r == 0, "render over its own input (%s)", r ? err : "ok");
	check_same("in place", at("inplace.wav"), ref120, frames, 2, 0.0);
	CHECK(hidden_files() == 0, "no temporary left after the renders");

	free(music);
	free(input);
	free(ref120);
	free(ref90);
	free(reft);
}

/* Four channels through effects that take them (and a lane in seconds);
 * mono; an empty input. */
static void test_channel_counts(void)
{
	static const char text[] =
		"{\"schema\": \"cl-fx-chain/1\", \"effects\": ["
		" {\"type\": \"highpass\", \"params\": {\"freq\": 120}},"
		" {\"type\": \"saturation\"},"
		" {\"type\": \"limiter\", \"params\": {\"ceiling\": -3, \"lookahead\": 3}}],"
		" \"automation\": [{\"slot\": 2, \"param\": \"ceiling\", \"unit\": \"seconds\","
		"   \"points\": [[0, -3], [0.5, -9]]}]}";
	const long frames = RATE + 17;
	float *music = make_music(4, frames);
	write_wave("quad.wav", 4, music, frames);
	write_text(at("quad.json"), text);
	SF_INFO info;
	float *input = read_audio(at("quad.wav"), &info);
	long n;
	uint32_t latency;
	float *ref = reference(text, input, frames, 4, 120.0, 0.0, &n, &latency);
	/* The saturation's oversampling filters add their own delay. */
	struct fx_slot *sat = fx_slot_new(&fx_saturation, 1, RATE, 4);
	uint32_t sat_latency = sat ? fx_slot_latency(sat) : 0;
	fx_slot_free(sat);
	CHECK(latency == 144 + sat_latency && sat_latency > 0,
	      "a 3 ms look-ahead (144 frames) and the saturation (%u) give %u frames of latency", sat_latency,
	      latency);
	int r = fx_offline_render(at("quad.json"), at("quad.wav"), at("quad_out.wav"), NULL, 0.0, 0.0, false,
				  err, sizeof err);
	CHECK(r == 0, "a 4-channel render (%s)", r ? err : "ok");
	check_same("4 channels", at("quad_out.wav"), ref, n, 4, 0.0);
	free(music);
	free(input);
	free(ref);

	/* Mono, through a delay and a reverb that take one channel. */
	static const char mono_text[] =
		"{\"schema\": \"cl-fx-chain/1\", \"effects\": ["
		" {\"type\": \"delay\", \"params\": {\"time\": 120, \"feedback\": 50}},"
		" {\"type\": \"plate\"}]}";
	music = make_music(1, RATE / 2);
	write_wave("mono.wav", 1, music, RATE / 2);
	write_text(at("mono.json"), mono_text);
	input = read_audio(at("mono.wav"), &info);
	ref = reference(mono_text, input, RATE / 2, 1, 120.0, 0.25, &n, &latency);
	r = fx_offline_render(at("mono.json"), at("mono.wav"), at("mono_out.aiff"), NULL, 0.0, 0.25, false,
			      err, sizeof err);
	CHECK(r == 0, "a mono render to AIFF (%s)", r ? err : "ok");
	check_same("mono AIFF with a tail", at("mono_out.aiff"), ref, n, 1, 0.0);
	free(music);
	free(input);
	free(ref);

	/* An empty input gives an empty output, or just the tail. */
	write_wave("empty.wav", 1, NULL, 0);
	r = fx_offline_render(at("mono.json"), at("empty.wav"), at("empty_out.wav"), NULL, 0.0, 0.0, false,
			      err, sizeof err);
	SNDFILE *sf = sf_open(at("empty_out.wav"), SFM_READ, &info);
	CHECK(r == 0 && sf && info.frames == 0 && info.channels == 1, "an empty input renders to an empty file (%s)",
	      r ? err : "ok");
	if (sf)
		sf_close(sf);
	r = fx_offline_render(at("mono.json"), at("empty.wav"), at("empty_out.wav"), NULL, 0.0, 0.1, false,
			      err, sizeof err);
	float *got = read_audio(at("empty_out.wav"), &info);
	/* (Feedback paths may carry anti-denormal offsets far below -120 dB.) */
	double quiet = got ? peak_of(got, 1, 0, info.frames) : 1.0;
	CHECK(r == 0 && got && info.frames == RATE / 10 && quiet < 1e-6,
	      "an empty input with a 0.1 s tail gives 4800 frames of silence (%s, %lld frames, peak %.3g)",
	      r ? err : "ok", got ? (long long)info.frames : -1LL, quiet);
	free(got);
}

/* ------------------------------------------------------------------ */
/* latency compensation */

static void test_latency(void)
{
	static const char text[] =
		"{\"schema\": \"cl-fx-chain/1\", \"effects\": ["
		" {\"type\": \"limiter\", \"params\": {\"ceiling\": -1, \"lookahead\": 5}}]}";
	const long frames = 20000, at_frame = 10000;
	float *pulse = calloc(2 * (size_t)frames, sizeof(float));
	pulse[2 * at_frame] = 0.5f;
	pulse[2 * at_frame + 1] = -0.25f;
	write_wave("pulse.wav", 2, pulse, frames);
	write_text(at("lim.json"), text);
	long n;
	uint32_t latency;
	float *ref = reference(text, pulse, frames, 2, 120.0, 0.0, &n, &latency);
	CHECK(latency == 240, "the limiter's 5 ms look-ahead is 240 frames of latency (%u)", latency);

	int r = fx_offline_render(at("lim.json"), at("pulse.wav"), at("pulse_out.wav"), NULL, 0.0, 0.0, false,
				  err, sizeof err);
	CHECK(r == 0, "render through a limiter (%s)", r ? err : "ok");
	SF_INFO info;
	float *got = read_audio(at("pulse_out.wav"), &info);
	CHECK(got && info.frames == frames, "the output is as long as the input (%lld, want %ld)",
	      got ? (long long)info.frames : -1LL, frames);
	if (got && info.frames == frames) {
		long where = -1;
		double peak = 0.0, rest = 0.0;
		for (long f = 0; f < frames; f++)
			if (fabs(got[2 * f]) > peak) {
				peak = fabs(got[2 * f]);
				where = f;
			}
		for (long f = 0; f < frames; f++)
			if (f != at_frame)
				rest = fmax(rest, fmax(fabs(got[2 * f]), fabs(got[2 * f + 1])));
		CHECK(where == at_frame && got[2 * at_frame] == 0.5f && got[2 * at_frame + 1] == -0.25f,
		      "the impulse comes out at frame %ld as it went in (at %ld: %.6f, %.6f)", at_frame, where,
		      where >= 0 ? got[2 * where] : 0.0, where >= 0 ? got[2 * where + 1] : 0.0);
		CHECK(rest == 0.0, "nothing else in the output (largest other sample %.3g)", rest);
	}
	check_same("limiter", at("pulse_out.wav"), ref, n, 2, 0.0);
	free(got);
	free(pulse);
	free(ref);
}

/* ------------------------------------------------------------------ */
/* errors */

/* A render that must fail: -1, err contains both needles, an old output
 * keeps its bytes, no temporary is left, and without an old output none
 * appears. */
static void check_refused(const char *what, const char *chain, const char *in, const char *out_name,
			  const char *format, double bpm, double tail, const char *needle1, const char *needle2)
{
	static const char old[] = "old output, not audio\n";
	char out[PATH_MAX];
	snprintf(out, sizeof out, "%s", at(out_name));
	write_text(out, old);
	err[0] = '\0';
	int r = fx_offline_render(at(chain), at(in), out, format, bpm, tail, false, err, sizeof err);
	CHECK(r == -1, "%s: refused (returned %d)", what, r);
	CHECK(strstr(err, needle1) != NULL && (!needle2 || strstr(err, needle2) != NULL),
	      "%s: message names it: \"%s\" (want \"%s\"%s%s%s)", what, err, needle1,
	      needle2 ? " and \"" : "", needle2 ? needle2 : "", needle2 ? "\"" : "");
	const char *now = read_text(out);
	CHECK(now && strcmp(now, old) == 0, "%s: the old output is untouched", what);
	CHECK(hidden_files() == 0, "%s: no temporary left", what);
	unlink(out);
	r = fx_offline_render(at(chain), at(in), out, format, bpm, tail, false, err, sizeof err);
	CHECK(r == -1 && !exists(out), "%s: no output file is created", what);
}

#define SCHEMA "{\"schema\": \"cl-fx-chain/1\", "

static void test_errors(void)
{
	write_text(at("garbage.wav"), "RIFF this is not a wave file at all, just bytes \x01\x02\x03");
	mkdir(at("folder.wav"), 0755);
	float *quad = make_music(4, 4800);
	write_wave("quad_short.wav", 4, quad, 4800);
	free(quad);
	float *nine = calloc(9 * 100, sizeof(float));
	write_wave("nine.wav", 9, nine, 100);
	free(nine);
	write_text(at("ok.json"), SCHEMA "\"effects\": [{\"type\": \"compressor\"}]}");

	check_refused("missing input", "ok.json", "nothere.wav", "o.wav", NULL, 0, 0, "cannot open",
		      "nothere.wav: No such file or directory");
	check_refused("garbage input", "ok.json", "garbage.wav", "o.wav", NULL, 0, 0,
		      "garbage.wav is not an audio file libsndfile can read", NULL);
	check_refused("a folder as input", "ok.json", "folder.wav", "o.wav", NULL, 0, 0,
		      "folder.wav is a folder", NULL);
	check_refused("nine channels", "ok.json", "nine.wav", "o.wav", NULL, 0, 0,
		      "nine.wav has 9 channels; cl-fx takes 1 to 8", NULL);

	write_text(at("bad.json"), SCHEMA "\"effects\": [{\"type\": \"compressor\"}, {\"type\": \"flanger\"}]}");
	check_refused("unknown effect type", "bad.json", "music.wav", "o.wav", NULL, 0, 0,
		      "bad.json: effects[1]: unknown effect type \"flanger\"", NULL);
	write_text(at("bad.json"), SCHEMA "\"effects\": [{\"type\": \"compressor\", \"params\": {\"ratio\": 50}}]}");
	check_refused("parameter out of range", "bad.json", "music.wav", "o.wav", NULL, 0, 0,
		      "bad.json: effects[0]: compressor.ratio must be a number in 1 .. 20", NULL);
	write_text(at("bad.json"), SCHEMA "\"effects\": [{\"type\": \"delay\", \"params\": {\"tone\": 1}}]}");
	check_refused("unknown parameter", "bad.json", "music.wav", "o.wav", NULL, 0, 0,
		      "effects[0]: delay has no parameter \"tone\"", NULL);
	write_text(at("bad.json"), SCHEMA "\"effects\": [{\"type\": \"delay\"}], \"automation\": "
		   "[{\"slot\": 0, \"param\": \"mix\", \"unit\": \"bars\", \"points\": [[0, 1]]}]}");
	check_refused("bad lane unit", "bad.json", "music.wav", "o.wav", NULL, 0, 0,
		      "automation[0]: \"unit\" must be", NULL);
	write_text(at("bad.json"), "{\"schema\": \"cl-mixer-mix/1\", \"strips\": []}");
	check_refused("wrong schema", "bad.json", "music.wav", "o.wav", NULL, 0, 0, "bad.json",
		      "not a cl-fx-chain document");
	write_text(at("bad.json"), SCHEMA "\"effects\": [");
	check_refused("invalid JSON", "bad.json", "music.wav", "o.wav", NULL, 0, 0, "bad.json", "invalid JSON");
	check_refused("missing chain", "nochain.json", "music.wav", "o.wav", NULL, 0, 0, "nochain.json",
		      "No such file");

	write_text(at("pp.json"), SCHEMA "\"effects\": [{\"type\": \"peq\"}, {\"type\": \"pingpong\"}]}");
	check_refused("pingpong on 4 channels", "pp.json", "quad_short.wav", "o.wav", NULL, 0, 0,
		      "pp.json: effects[1]: pingpong takes at most 2 channels", "4");

	check_refused("unknown output type", "ok.json", "music.wav", "o.mp3", NULL, 0, 0,
		      "o.mp3: cannot tell the file type", NULL);
	check_refused("no extension", "ok.json", "music.wav", "o", NULL, 0, 0, "cannot tell the file type",
		      NULL);
	check_refused("unknown sample format", "ok.json", "music.wav", "o.wav", "32", 0, 0,
		      "unknown sample format \"32\"", NULL);
	check_refused("FLAC as float", "ok.json", "music.wav", "o.flac", "float", 0, 0,
		      "FLAC holds integer samples only", NULL);
	check_refused("bpm 5", "ok.json", "music.wav", "o.wav", NULL, 5.0, 0, "bpm must be in 10..400", NULL);
	check_refused("bpm NaN", "ok.json", "music.wav", "o.wav", NULL, NAN, 0, "bpm must be in", NULL);
	check_refused("negative tail", "ok.json", "music.wav", "o.wav", NULL, 0, -1.0, "tail must be", NULL);
}

/* ------------------------------------------------------------------ */
/* a file-size limit (a full disk) and an interrupt, in child processes */

/* Child: render music.wav under a 100 kB file-size limit. */
static int child_fsize(bool ignore_sigxfsz, int pipe_fd)
{
	struct rlimit lim = { .rlim_cur = 100000, .rlim_max = 100000 };
	if (ignore_sigxfsz)
		signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
		return 4;
	int r = fx_offline_render(at("chain.json"), at("music.wav"), at("full.wav"), NULL, 0.0, 0.0, false,
				  err, sizeof err);
	struct sigaction now;
	sigaction(SIGXFSZ, NULL, &now);
	bool restored = now.sa_handler == (ignore_sigxfsz ? SIG_IGN : SIG_DFL);
	if (write(pipe_fd, err, strlen(err)) < 0)
		return 5;
	return r == -1 ? (restored ? 0 : 6) : 3;
}

static void test_full_disk(void)
{
	/* music.wav is 3 s of float stereo: 1.15 MB of output. */
	for (int ignore = 1; ignore >= 0; ignore--) {
		static const char old[] = "the previous render\n";
		write_text(at("full.wav"), old);
		int fds[2];
		if (pipe(fds) != 0)
			exit(1);
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			_exit(child_fsize(ignore, fds[1]));
		}
		close(fds[1]);
		char msg[2048];
		ssize_t n = read(fds[0], msg, sizeof msg - 1);
		msg[n > 0 ? n : 0] = '\0';
		close(fds[0]);
		int status;
		waitpid(pid, &status, 0);
		const char *how = ignore ? "SIGXFSZ ignored by the caller" : "SIGXFSZ at its default";
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "file-size limit, %s: the render returns -1 and restores SIGXFSZ (status 0x%x)", how, status);
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
	const long frames = 20L * RATE;
	float *music = make_music(2, frames);
	write_wave("long.wav", 2, music, frames);
	free(music);
	write_text(at("long.json"), SCHEMA "\"effects\": [{\"type\": \"hall\"}, {\"type\": \"plate\"}]}");
	int fds[2];
	if (pipe(fds) != 0)
		exit(1);
	/* The child starts with SIGINT ignored: a signal that lands before
	 * the render starts is not the test. */
	void (*old)(int) = signal(SIGINT, SIG_IGN);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		int r = fx_offline_render(at("long.json"), at("long.wav"), at("long_out.wav"), NULL, 0.0, 0.0,
					  false, err, sizeof err);
		struct sigaction now;
		sigaction(SIGINT, NULL, &now);
		if (write(fds[1], err, strlen(err)) < 0)
			_exit(5);
		_exit(r == 0 ? 3 : now.sa_handler == SIG_IGN ? 0 : 6);
	}
	signal(SIGINT, old);
	close(fds[1]);
	int status = 0;
	for (int i = 0; i < 30000; i++) {
		kill(pid, SIGINT);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	char msg[2048];
	ssize_t n = read(fds[0], msg, sizeof msg - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "SIGINT mid-run: the render returns -1 and restores the old handler (status 0x%x, \"%s\")", status,
	      msg);
	CHECK(strstr(msg, "interrupted: ") && strstr(msg, "long_out.wav not written"),
	      "SIGINT mid-run: message \"%s\"", msg);
	CHECK(!exists(at("long_out.wav")) && hidden_files() == 0, "SIGINT mid-run: no output, no temporary");
	unlink(at("long.wav"));
}

/* ------------------------------------------------------------------ */
/* the progress bar */

static void test_progress(void)
{
	/* stderr is a file: no bar. */
	int saved = dup(STDERR_FILENO);
	int fd = open(at("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	int r = fx_offline_render(at("chain.json"), at("music.wav"), at("p.wav"), NULL, 0.0, 0.0, true,
				  err, sizeof err);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(fd);
	const char *text = read_text(at("stderr.txt"));
	CHECK(r == 0 && text && strstr(text, "render") == NULL && strchr(text, '\r') == NULL,
	      "no progress bar when stderr is not a terminal (%d bytes written)", text ? (int)strlen(text) : -1);

	/* stderr is a terminal: a bar that ends at 100% and a newline. */
	int master, slave;
	if (openpty(&master, &slave, NULL, NULL, NULL) != 0) {
		printf("progress bar on a terminal not checked: openpty: %s\n", strerror(errno));
		close(saved);
		return;
	}
	fflush(stderr);
	dup2(slave, STDERR_FILENO);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = fx_offline_render(at("chain.json"), at("music.wav"), at("p.wav"), NULL, 0.0, 0.0, true,
			      err, sizeof err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(slave);
	char buf[16384];
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
	CHECK(r == 0 && strstr(buf, "render 100% [##############################]") && strstr(buf, "3.0 / 3.0 s"),
	      "a progress bar on a terminal ends at 100%%: \"%.200s\"", buf);
	CHECK(len > 0 && (buf[len - 1] == '\n'), "the bar ends with a newline");
	CHECK(draws >= 1 && draws <= 2 + (int)(elapsed * 10.0), "%d draws in %.3f s (at most 10 a second)",
	      draws, elapsed);
}

/* ------------------------------------------------------------------ */

/* Remove the test folder and what is in it. */
static void cleanup(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		if (unlink(p) != 0)
			rmdir(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_same_dsp();
	test_channel_counts();
	test_latency();
	test_errors();
	test_full_disk();
	test_interrupt();
	test_progress();
	cleanup();
	printf("%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
