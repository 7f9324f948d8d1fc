/*
 * cl-mixer's short-term loudness meter (clients/cl-mixer/loudness.c)
 * against known answers and against libebur128, an independent
 * implementation of the same standard, fed the very same samples.
 *
 * Known answers: the BS.1770-4 48 kHz K-weighting table; a 997 Hz sine
 * at 0 dBFS in one channel reads -3.01 LKFS (the standard's own
 * calibration statement); in both channels +3.01 dB more; a 1 kHz sine at
 * -20 dBFS (peak) reads -23.0x in one channel. libebur128's
 * ebur128_loudness_shortterm then checks sines and pink noise, mono and
 * stereo, at 32, 44.1, 48 and 96 kHz, and level steps that move through
 * the 3 s window, within 0.1 LU (they agree to about 0.001 LU). The
 * samples always go in whole 100 ms blocks: this meter's window moves in
 * block steps, libebur128's by the sample.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ebur128.h>

#include "cl_check.h"
#include "loudness.h"

/* One test signal: one or two channels. */
struct signal {
	uint32_t rate;
	int channels;
	uint32_t frames;
	float *ch[2];
};

static struct signal signal_new(uint32_t rate, int channels, double seconds)
{
	struct signal s = { .rate = rate, .channels = channels,
			    .frames = (uint32_t)lround(seconds * rate) };
	for (int c = 0; c < 2; c++)
		s.ch[c] = calloc(s.frames ? s.frames : 1, sizeof(float));
	if (!s.ch[0] || !s.ch[1]) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return s;
}

static void signal_free(struct signal *s)
{
	free(s->ch[0]);
	free(s->ch[1]);
}

/* A sine of peak level `db` dBFS into channel c, frames [from, to). */
static void put_sine(struct signal *s, int c, double freq, double db, uint32_t from, uint32_t to)
{
	double amp = pow(10.0, db / 20.0);
	for (uint32_t i = from; i < to && i < s->frames; i++)
		s->ch[c][i] = (float)(amp * sin(2.0 * M_PI * freq * i / s->rate));
}

/* xorshift64*: the same noise on every machine. */
static uint64_t rng_state;
static double rng_uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* Pink-ish noise (Paul Kellet's economy filter on white noise), scaled so
 * its peak stays near `amp`. */
static void put_pink(struct signal *s, int c, double amp, uint64_t seed)
{
	double b0 = 0, b1 = 0, b2 = 0;
	rng_state = seed;
	for (uint32_t i = 0; i < s->frames; i++) {
		double white = rng_uniform();
		b0 = 0.99765 * b0 + white * 0.0990460;
		b1 = 0.96300 * b1 + white * 0.2965164;
		b2 = 0.57000 * b2 + white * 1.0526913;
		double pink = b0 + b1 + b2 + white * 0.1848;
		s->ch[c][i] = (float)(amp * pink / 4.0);
	}
}

/* Short-term loudness by this meter after the first `frames` frames,
 * fed `chunk` frames at a time. */
static double ours_after(const struct signal *s, uint32_t frames, uint32_t chunk)
{
	struct loudness l;
	loudness_init(&l, s->rate, s->channels);
	for (uint32_t done = 0; done < frames;) {
		uint32_t n = frames - done < chunk ? frames - done : chunk;
		const float *ch[2] = { s->ch[0] + done, s->ch[1] + done };
		loudness_process(&l, ch, n);
		done += n;
	}
	return loudness_short_term(&l);
}

/* libebur128's short-term loudness after the first `frames` frames. */
static double ebur128_after(const struct signal *s, uint32_t frames)
{
	ebur128_state *st = ebur128_init((unsigned)s->channels, s->rate, EBUR128_MODE_S);
	float *inter = malloc(sizeof(float) * frames * (size_t)s->channels + 1);
	double out = NAN;
	if (!st || !inter) {
		fprintf(stderr, "libebur128 set-up failed\n");
		exit(1);
	}
	for (uint32_t i = 0; i < frames; i++)
		for (int c = 0; c < s->channels; c++)
			inter[(size_t)i * s->channels + c] = s->ch[c][i];
	if (ebur128_add_frames_float(st, inter, frames) != EBUR128_SUCCESS ||
	    ebur128_loudness_shortterm(st, &out) != EBUR128_SUCCESS)
		out = NAN;
	free(inter);
	ebur128_destroy(&st);
	return out;
}

/* Compare both meters at `seconds` (a whole number of 100 ms blocks,
 * at least 3 s so libebur128's window holds only signal). */
static void compare(const struct signal *s, double seconds, const char *what)
{
	uint32_t frames = (uint32_t)lround(seconds * s->rate);
	double ours = ours_after(s, frames, 1024);
	double ref = ebur128_after(s, frames);
	CHECK(fabs(ours - ref) <= 0.1, "%s at %u Hz, %d ch, %.1f s: ours %.4f LUFS, libebur128 %.4f",
	      what, s->rate, s->channels, seconds, ours, ref);
}

static void check_table(void)
{
	/* ITU-R BS.1770-4, tables 1 and 2 (48 kHz). */
	struct loudness l;
	loudness_init(&l, 48000, 2);
	const double shelf[5] = { 1.53512485958697, -2.69169618940638, 1.19839281085285,
				  -1.69065929318241, 0.73248077421585 };
	const double got[5] = { l.shelf.b0, l.shelf.b1, l.shelf.b2, l.shelf.a1, l.shelf.a2 };
	for (int i = 0; i < 5; i++)
		CHECK(fabs(got[i] - shelf[i]) < 1e-7, "48 kHz shelf coefficient %d: %.14f, table %.14f",
		      i, got[i], shelf[i]);
	CHECK(l.highpass.b0 == 1.0 && l.highpass.b1 == -2.0 && l.highpass.b2 == 1.0,
	      "48 kHz RLB numerator 1, -2, 1: %g %g %g", l.highpass.b0, l.highpass.b1, l.highpass.b2);
	CHECK(fabs(l.highpass.a1 - -1.99004745483398) < 1e-7 &&
	      fabs(l.highpass.a2 - 0.99007225036621) < 1e-7,
	      "48 kHz RLB denominator: %.14f %.14f", l.highpass.a1, l.highpass.a2);
	CHECK(l.block_len == 4800, "48 kHz block is 4800 frames: %u", l.block_len);
	loudness_init(&l, 44100, 1);
	CHECK(l.block_len == 4410, "44.1 kHz block is 4410 frames: %u", l.block_len);
}

static void check_known_answers(void)
{
	const uint32_t rates[] = { 44100, 48000 };
	for (int r = 0; r < 2; r++) {
		uint32_t rate = rates[r];
		/* The standard: 0 dBFS 997 Hz in one front channel reads -3.01. */
		struct signal mono = signal_new(rate, 1, 4.0);
		put_sine(&mono, 0, 997.0, 0.0, 0, mono.frames);
		double v = ours_after(&mono, mono.frames, 1024);
		CHECK(fabs(v - -3.01) <= 0.01, "%u Hz: 997 Hz 0 dBFS mono reads %.4f LUFS, want -3.01", rate, v);
		signal_free(&mono);

		struct signal left = signal_new(rate, 2, 4.0);
		put_sine(&left, 0, 997.0, 0.0, 0, left.frames);
		v = ours_after(&left, left.frames, 1024);
		CHECK(fabs(v - -3.01) <= 0.01, "%u Hz: 997 Hz 0 dBFS in the left channel only reads %.4f LUFS, want -3.01",
		      rate, v);
		put_sine(&left, 1, 997.0, 0.0, 0, left.frames);
		v = ours_after(&left, left.frames, 1024);
		CHECK(fabs(v - 0.0) <= 0.01, "%u Hz: 997 Hz 0 dBFS in both channels reads %.4f LUFS, want 0.00",
		      rate, v);
		signal_free(&left);

		/* 1 kHz at -20 dBFS peak: -20 - 3.01 + the shelf's +0.7 dB at
		 * 1 kHz - 0.691 = -23.0x. */
		struct signal s = signal_new(rate, 1, 4.0);
		put_sine(&s, 0, 1000.0, -20.0, 0, s.frames);
		double mono_v = ours_after(&s, s.frames, 1024);
		CHECK(mono_v >= -23.1 && mono_v <= -23.0, "%u Hz: 1 kHz -20 dBFS mono reads %.4f LUFS, want -23.0x",
		      rate, mono_v);
		compare(&s, 3.0, "1 kHz -20 dBFS sine");
		compare(&s, 4.0, "1 kHz -20 dBFS sine");
		signal_free(&s);

		struct signal st = signal_new(rate, 2, 4.0);
		put_sine(&st, 0, 1000.0, -20.0, 0, st.frames);
		put_sine(&st, 1, 1000.0, -20.0, 0, st.frames);
		v = ours_after(&st, st.frames, 1024);
		CHECK(fabs(v - (mono_v + 10.0 * log10(2.0))) < 0.001,
		      "%u Hz: 1 kHz -20 dBFS in both channels reads %.4f LUFS, want the mono %.4f + 3.01",
		      rate, v, mono_v);
		compare(&st, 4.0, "1 kHz -20 dBFS sine, both channels");
		signal_free(&st);
	}
}

static void check_against_ebur128(void)
{
	const uint32_t rates[] = { 32000, 44100, 48000, 96000 };
	for (int r = 0; r < 4; r++) {
		uint32_t rate = rates[r];
		for (int channels = 1; channels <= 2; channels++) {
			struct signal s = signal_new(rate, channels, 5.0);
			put_pink(&s, 0, 0.5, 12345);
			if (channels == 2)
				put_pink(&s, 1, 0.3, 777);
			compare(&s, 3.0, "pink noise");
			compare(&s, 5.0, "pink noise");
			signal_free(&s);

			/* Low and high frequencies, where the two filters act. */
			s = signal_new(rate, channels, 4.0);
			put_sine(&s, 0, 40.0, -6.0, 0, s.frames);
			if (channels == 2)
				put_sine(&s, 1, rate > 40000 ? 15000.0 : 9000.0, -12.0, 0, s.frames);
			compare(&s, 4.0, "40 Hz + treble sines");
			signal_free(&s);
		}
	}

	/* A level step moving through the window: 2 s at -30, then -10 dBFS;
	 * compare each block boundary as the louder part fills the window. */
	struct signal step = signal_new(48000, 2, 8.0);
	put_sine(&step, 0, 440.0, -30.0, 0, 96000);
	put_sine(&step, 0, 440.0, -10.0, 96000, step.frames);
	put_pink(&step, 1, 0.05, 99);
	for (double t = 3.0; t <= 8.0 + 1e-9; t += 0.5)
		compare(&step, t, "level step at 2 s");
	signal_free(&step);
}

static void check_window_and_state(void)
{
	struct signal s = signal_new(48000, 2, 10.0);
	put_pink(&s, 0, 0.5, 4242);
	put_pink(&s, 1, 0.5, 4343);

	/* Chunk size does not matter (one frame, odd sizes, whole blocks). */
	uint32_t frames = 4 * 48000;
	double ref = ours_after(&s, frames, 4800);
	const uint32_t chunks[] = { 1, 7, 256, 1000, 4801, frames };
	for (int i = 0; i < 6; i++) {
		double v = ours_after(&s, frames, chunks[i]);
		CHECK(fabs(v - ref) < 1e-9, "fed %u frames at a time: %.12f LUFS, whole blocks %.12f",
		      chunks[i], v, ref);
	}

	struct loudness l;
	loudness_init(&l, 48000, 2);
	CHECK(isinf(loudness_short_term(&l)) && loudness_short_term(&l) < 0,
	      "nothing measured yet reads -inf: %g", loudness_short_term(&l));
	const float *chs[2] = { s.ch[0], s.ch[1] };
	loudness_process(&l, chs, 4799);
	CHECK(isinf(loudness_short_term(&l)), "less than one block reads -inf: %g", loudness_short_term(&l));
	loudness_process(&l, (const float *const[]){ s.ch[0] + 4799, s.ch[1] + 4799 }, 1);
	CHECK(isfinite(loudness_short_term(&l)), "one full block reads a level: %g", loudness_short_term(&l));

	/* Before 3 s the mean is over the blocks there are: 1 s of steady
	 * noise already reads what 3 s do. */
	double one_s = ours_after(&s, 48000, 1024), three_s = ours_after(&s, 3 * 48000, 1024);
	CHECK(fabs(one_s - three_s) < 0.5, "1 s of steady noise reads %.3f, 3 s %.3f", one_s, three_s);

	/* Digital silence reads -inf; 3 s of silence after a signal leave
	 * only the filters' tail in the window (the RLB high-pass rings for
	 * a while after low-frequency noise: about -52 LUFS here, as
	 * libebur128 says too), and 6 s leave nothing audible. */
	struct signal quiet = signal_new(48000, 2, 4.0);
	loudness_init(&l, 48000, 2);
	loudness_process(&l, (const float *const[]){ quiet.ch[0], quiet.ch[1] }, quiet.frames);
	CHECK(isinf(loudness_short_term(&l)), "digital silence reads -inf: %g", loudness_short_term(&l));
	loudness_process(&l, chs, 3 * 48000);
	double loud = loudness_short_term(&l);
	loudness_process(&l, (const float *const[]){ quiet.ch[0], quiet.ch[1] }, 3 * 48000);
	double after = loudness_short_term(&l);
	struct signal tail = signal_new(48000, 2, 9.0);
	memcpy(tail.ch[0], s.ch[0], sizeof(float) * 3 * 48000);
	memcpy(tail.ch[1], s.ch[1], sizeof(float) * 3 * 48000);
	compare(&tail, 6.0, "3 s of noise, then 3 s of silence");
	CHECK(after < loud - 30.0, "3 s of silence after noise at %.1f LUFS read %.1f", loud, after);
	loudness_process(&l, (const float *const[]){ quiet.ch[0], quiet.ch[1] }, 3 * 48000);
	after = loudness_short_term(&l);
	CHECK(after < -120.0, "6 s of silence after noise read %.1f", after);
	signal_free(&tail);
	CHECK(l.z[0][0] == 0.0 && l.z[0][2] == 0.0 && l.z[1][3] == 0.0,
	      "filter states flushed to zero after silence (no denormals): %g %g %g",
	      l.z[0][0], l.z[0][2], l.z[1][3]);

	/* NULL channels read as silence. */
	loudness_init(&l, 48000, 2);
	loudness_process(&l, (const float *const[]){ s.ch[0], NULL }, 3 * 48000);
	struct signal one = signal_new(48000, 2, 3.0);
	memcpy(one.ch[0], s.ch[0], sizeof(float) * one.frames);
	double with_zero = ours_after(&one, one.frames, 1024);
	CHECK(fabs(loudness_short_term(&l) - with_zero) < 1e-9,
	      "a NULL channel reads as silence: %.6f vs %.6f", loudness_short_term(&l), with_zero);
	signal_free(&one);

	/* A NaN sample does not poison the meter for good. */
	loudness_init(&l, 48000, 2);
	float bad[2] = { NAN, INFINITY };
	loudness_process(&l, (const float *const[]){ &bad[0], &bad[1] }, 1);
	loudness_process(&l, chs, 4 * 48000);
	double healed = loudness_short_term(&l);
	CHECK(isfinite(healed) && fabs(healed - ref) < 1.0,
	      "after a NaN and 4 s of noise the meter reads %.3f (clean: %.3f)", healed, ref);

	/* Reset forgets everything. */
	loudness_reset(&l);
	CHECK(isinf(loudness_short_term(&l)), "reset reads -inf: %g", loudness_short_term(&l));
	loudness_process(&l, chs, 4 * 48000);
	CHECK(fabs(loudness_short_term(&l) - ref) < 1e-9, "after reset the same signal reads the same: %.6f vs %.6f",
	      loudness_short_term(&l), ref);

	signal_free(&quiet);
	signal_free(&s);
}

int main(void)
{
	check_table();
	check_known_answers();
	check_against_ebur128();
	check_window_and_state();
	printf("test_mixer_loudness: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
