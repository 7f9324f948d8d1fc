/*
 * cl-fx EQ effects (peq, lowshelf, highshelf, highpass, lowpass) against
 * known answers.
 *
 * Reference: the analog prototypes of the RBJ Audio EQ Cookbook
 * (peaking, shelves, 2nd-order low and high pass; the 24 dB passes as the
 * 4th-order Butterworth pair Q 0.5412 / 1.3066 * q / 0.7071), normalised
 * to a corner of 1 rad/s and evaluated at s = j W with the bilinear
 * prewarp at the corner: W = tan(pi f / rate) / tan(pi fc / rate). That is
 * the response a bilinear-transformed filter must have, so the tolerance
 * (0.1 dB) leaves room only for float rounding and measurement. Every
 * level is MEASURED on the processed output: a steady sine, 1 s to
 * settle, then the RMS ratio out/in over a whole number of periods
 * (about 0.5 s), at 48 kHz, all test frequencies below 10 kHz.
 *
 * Also: gain-0 bands and shelves pass the signal bit-identical; parameter
 * jumps on a steady sine do not click (the largest 4th difference of the
 * output during the change stays within 4x of the steady state, where an
 * unsmoothed direct-form biquad switch scores about 35x), and the level
 * before and after each jump is the reference's; block
 * sizes 1, 13, 64 and 4096 (with parameter changes at the same frames)
 * give bit-identical output; every parameter at its min, max and default,
 * all at min, all at max and random combinations, over full-scale noise, a
 * full-scale square and silence, mono and stereo, and under per-block
 * random automation: no NaN or Inf, silence stays exactly silent, and no
 * sample exceeds 4x the filter's largest steady-state gain (from the
 * reference) times the input peak; a +-3e38 square gives finite output
 * and the filter is normal a block later. Ends with a timing print (best
 * of 5, stereo, 128-frame blocks).
 *
 * All of it runs twice: with the loops the CPU runs fastest (an AVX2 +
 * FMA copy where it has them) and with the portable copy
 * (CL_FX_SIMD=baseline); then the two copies must agree within 1e-5.
 */
#include "cl_check.h"
#include "effect.h"

#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 48000
#define AMP 0.25
#define DB_TOL 0.1
#define MAXP 24
#define BW4_Q1 0.5411961
#define BW4_Q2 1.3065630
#define BW2_Q 0.70710678

/* Zeroed floats, or exit. */
static float *buffer(size_t frames)
{
	float *b = calloc(frames, sizeof *b);
	if (b == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return b;
}

static uint32_t rng_state = 12345;

/* A fixed-seed generator, uniform in [0, 1). */
static double rnd(void)
{
	rng_state = rng_state * 1664525u + 1013904223u;
	return (rng_state >> 8) / 16777216.0;
}

/* Index of parameter `name` of t, or exit. */
static int pidx(const struct fx_type *t, const char *name)
{
	int i = fx_param_index(t, name);
	if (i < 0) {
		fprintf(stderr, "FAIL: %s has no parameter %s\n", t->id, name);
		exit(1);
	}
	return i;
}

/* An instance and the parameter values it was given (for the reference). */
struct inst {
	const struct fx_type *t;
	void *fx;
	int channels;
	uint32_t rate;
	float val[MAXP];
};

/* A new instance at its defaults at `rate`, or exit. */
static void inst_new_rate(struct inst *in, const struct fx_type *t, int channels, uint32_t rate)
{
	in->t = t;
	in->channels = channels;
	in->rate = rate;
	in->fx = t->create(rate, channels);
	if (in->fx == NULL) {
		fprintf(stderr, "FAIL: %s create(%u, %d) failed\n", t->id, rate, channels);
		exit(1);
	}
	for (int i = 0; i < t->nparams; i++)
		in->val[i] = t->params[i].def;
}

/* A new instance at its defaults at 48 kHz, or exit. */
static void inst_new(struct inst *in, const struct fx_type *t, int channels)
{
	inst_new_rate(in, t, channels, RATE);
}

/* Set parameter i (clamped) and remember it for the reference. */
static void inst_set_i(struct inst *in, int i, float v)
{
	v = fx_param_clamp(&in->t->params[i], v);
	in->val[i] = v;
	in->t->set(in->fx, i, v);
}

/* inst_set_i by name. */
static void inst_set(struct inst *in, const char *name, float v)
{
	inst_set_i(in, pidx(in->t, name), v);
}

/* Destroy the instance. */
static void inst_free(struct inst *in)
{
	in->t->destroy(in->fx);
	in->fx = NULL;
}

/* ---- the analog reference ----------------------------------------------- */

enum ref_kind { R_BELL, R_LS, R_HS, R_LP, R_HP };

/* One RBJ prototype section at normalised s (corner at 1 rad/s). */
static double complex ref_section(enum ref_kind k, double gain_db, double q, double complex s)
{
	double a = pow(10.0, gain_db / 40.0), sa = sqrt(a);
	switch (k) {
	case R_BELL: return (s * s + s * (a / q) + 1) / (s * s + s / (a * q) + 1);
	case R_LS: return a * (s * s + sa / q * s + a) / (a * s * s + sa / q * s + 1);
	case R_HS: return a * (a * s * s + sa / q * s + 1) / (s * s + sa / q * s + a);
	case R_LP: return 1 / (s * s + s / q + 1);
	case R_HP: return s * s / (s * s + s / q + 1);
	}
	return 1;
}

/* s = j W with the bilinear prewarp at the corner fc. */
static double complex warped_s(double fc, double f, double rate)
{
	return I * (tan(M_PI * f / rate) / tan(M_PI * fc / rate));
}

/* |H(f)| of the reference for an instance's parameter values. */
static double ref_mag(const struct inst *in, double f)
{
	const struct fx_type *t = in->t;
	const float *v = in->val;
	double complex h = 1;
	if (t == &fx_peq) {
		for (int b = 0; b < 8; b++)
			if (v[3 * b + 1] != 0.0f)
				h *= ref_section(R_BELL, v[3 * b + 1], v[3 * b + 2],
						 warped_s(v[3 * b], f, in->rate));
	} else if (t == &fx_lowshelf || t == &fx_highshelf) {
		h = ref_section(t == &fx_lowshelf ? R_LS : R_HS, v[1], v[2], warped_s(v[0], f, in->rate));
	} else {
		enum ref_kind k = t == &fx_lowpass ? R_LP : R_HP;
		double complex s = warped_s(v[0], f, in->rate);
		if (v[2] < 0.5f)
			h = ref_section(k, 0, v[1], s);
		else
			h = ref_section(k, 0, BW4_Q1, s) *
			    ref_section(k, 0, BW4_Q2 / BW2_Q * v[1], s);
	}
	return cabs(h);
}

/* ref_mag in dB. */
static double ref_db(const struct inst *in, double f)
{
	return 20.0 * log10(ref_mag(in, f));
}

/* The largest steady-state gain of the reference: a log grid from 10 Hz to
 * Nyquist plus every corner and centre (where narrow peaks sit). */
static double ref_peak(const struct inst *in)
{
	double peak = 0.0;
	for (int i = 0; i <= 600; i++) {
		double f = 10.0 * pow(0.4999 * in->rate / 10.0, i / 600.0);
		double m = ref_mag(in, f);
		if (m > peak)
			peak = m;
	}
	int nf = in->t == &fx_peq ? 8 : 1;
	for (int b = 0; b < nf; b++) {
		double fc = in->val[in->t == &fx_peq ? 3 * b : 0];
		for (int j = -40; j <= 40; j++) {
			double f = fc * pow(2.0, j / 400.0);
			if (f < 0.4999 * in->rate) {
				double m = ref_mag(in, f);
				if (m > peak)
					peak = m;
			}
		}
	}
	return peak;
}

/* ---- measurement ---------------------------------------------------------- */

/* Gain in dB of the instance for a steady sine at f: reset, 1 s to settle,
 * then RMS out / RMS in over a whole number of periods. Every channel gets
 * the same sine and must give the same answer (channel 0 is returned). */
static double measure_db(struct inst *in, double f)
{
	const uint32_t blk = 256;
	uint32_t settle = in->rate;
	double periods = round(f * 0.5);
	if (periods < 1)
		periods = 1;
	uint32_t window = (uint32_t)lround(periods * in->rate / f);
	float *ch[FX_MAX_CHANNELS];
	for (int c = 0; c < in->channels; c++)
		ch[c] = buffer(blk);
	in->t->reset(in->fx);
	double sx = 0, sy[FX_MAX_CHANNELS] = {0};
	uint64_t pos = 0;
	while (pos < settle + window) {
		for (uint32_t i = 0; i < blk; i++) {
			float x = (float)(AMP * sin(2.0 * M_PI * f * (double)(pos + i) / in->rate));
			for (int c = 0; c < in->channels; c++)
				ch[c][i] = x;
		}
		for (uint32_t i = 0; i < blk; i++)
			if (pos + i >= settle && pos + i < settle + window) {
				double x = ch[0][i];
				sx += x * x;
			}
		in->t->process(in->fx, ch, blk);
		for (uint32_t i = 0; i < blk; i++)
			if (pos + i >= settle && pos + i < settle + window)
				for (int c = 0; c < in->channels; c++)
					sy[c] += (double)ch[c][i] * ch[c][i];
		pos += blk;
	}
	for (int c = 1; c < in->channels; c++)
		CHECK(sy[c] == sy[0], "%s: channel %d differs from channel 0 on the same input",
		      in->t->id, c);
	for (int c = 0; c < in->channels; c++)
		free(ch[c]);
	return 10.0 * log10(sy[0] / sx);
}

static double worst_dev;   /* largest |measured - reference| seen, dB */

/* Measure at f and check against the reference; returns the measurement. */
static double check_point(struct inst *in, double f, const char *what)
{
	double m = measure_db(in, f), r = ref_db(in, f);
	if (fabs(m - r) > worst_dev)
		worst_dev = fabs(m - r);
	CHECK(fabs(m - r) <= DB_TOL, "%s %s at %.1f Hz: measured %.3f dB, reference %.3f dB",
	      in->t->id, what, f, m, r);
	return m;
}

/* ---- known answers -------------------------------------------------------- */

/* Ids, parameter names, ranges, curves, defaults; bad create arguments. */
static void test_tables(void)
{
	const struct fx_type *types[] = {&fx_peq, &fx_lowshelf, &fx_highshelf,
					 &fx_highpass, &fx_lowpass};
	const char *ids[] = {"peq", "lowshelf", "highshelf", "highpass", "lowpass"};
	const int np[] = {24, 3, 3, 3, 3};
	for (int k = 0; k < 5; k++) {
		const struct fx_type *t = types[k];
		CHECK(strcmp(t->id, ids[k]) == 0, "type id %s, expected %s", t->id, ids[k]);
		CHECK(t->nparams == np[k], "%s has %d parameters, expected %d", t->id, t->nparams, np[k]);
		CHECK(t->max_channels == FX_MAX_CHANNELS, "%s max_channels %d", t->id, t->max_channels);
		CHECK(t->create && t->destroy && t->set && t->reset && t->process,
		      "%s lacks a required function", t->id);
		CHECK(t->set_tempo == NULL && t->process_sidechain == NULL && t->latency == NULL,
		      "%s: tempo, sidechain and latency are not EQ business", t->id);
		for (int i = 0; i < t->nparams; i++) {
			const struct fx_param *p = &t->params[i];
			CHECK(p->min <= p->def && p->def <= p->max, "%s.%s default %g outside %g..%g",
			      t->id, p->name, p->def, p->min, p->max);
			CHECK(p->doc && p->doc[0], "%s.%s has no doc", t->id, p->name);
			for (int j = 0; j < i; j++)
				CHECK(strcmp(p->name, t->params[j].name) != 0, "%s: %s twice", t->id, p->name);
			if (strncmp(p->name, "freq", 4) == 0)
				CHECK(p->curve == FX_LOG && p->min == 20.0f && p->max == 20000.0f &&
				      strcmp(p->unit, "Hz") == 0, "%s.%s: 20..20000 Hz, log", t->id, p->name);
			if (strncmp(p->name, "gain", 4) == 0)
				CHECK(p->min == -24.0f && p->max == 24.0f && p->def == 0.0f &&
				      strcmp(p->unit, "dB") == 0, "%s.%s: -24..24 dB, default 0", t->id, p->name);
			if (p->name[0] == 'q')
				CHECK(p->curve == FX_LOG && p->min > 0.0f, "%s.%s: log, above 0", t->id, p->name);
		}
		CHECK(t->create(0, 2) == NULL, "%s accepts rate 0", t->id);
		CHECK(t->create(RATE, 0) == NULL, "%s accepts 0 channels", t->id);
		CHECK(t->create(RATE, FX_MAX_CHANNELS + 1) == NULL, "%s accepts %d channels",
		      t->id, FX_MAX_CHANNELS + 1);
	}
	static const float peq_def[8] = {100, 250, 500, 1000, 2000, 4000, 8000, 12000};
	for (int b = 0; b < 8; b++) {
		char n[16];
		snprintf(n, sizeof n, "freq%d", b + 1);
		CHECK(fx_peq.params[pidx(&fx_peq, n)].def == peq_def[b], "peq %s default", n);
		snprintf(n, sizeof n, "q%d", b + 1);
		const struct fx_param *q = &fx_peq.params[pidx(&fx_peq, n)];
		CHECK(q->min == 0.1f && q->max == 18.0f && q->def == 1.0f, "peq %s: 0.1..18, 1", n);
	}
	const struct fx_param *slope = &fx_lowpass.params[pidx(&fx_lowpass, "slope")];
	CHECK(slope->curve == FX_CHOICE && slope->min == 0 && slope->max == 1 && slope->def == 0,
	      "lowpass slope: choice 0..1, default 0");
	CHECK(fabsf(fx_lowpass.params[pidx(&fx_lowpass, "q")].def - 0.70710678f) < 1e-6f,
	      "lowpass q default 0.7071");
}

/* Peaking bands: centre = gain, octaves either side, 30 Hz, all 8 at once. */
static void test_peq_response(void)
{
	static const double centres[] = {100, 1000, 3000};
	static const double gains[] = {12, -12, 24, -6};
	static const double qs[] = {0.5, 1, 4};
	struct inst in;
	inst_new(&in, &fx_peq, 2);
	double worst_centre = 0;
	for (size_t a = 0; a < 3; a++)
		for (size_t b = 0; b < 4; b++)
			for (size_t c = 0; c < 3; c++) {
				inst_free(&in);
				inst_new(&in, &fx_peq, 2);
				inst_set(&in, "freq4", (float)centres[a]);
				inst_set(&in, "gain4", (float)gains[b]);
				inst_set(&in, "q4", (float)qs[c]);
				double m = check_point(&in, centres[a], "centre");
				CHECK(fabs(m - gains[b]) <= DB_TOL, "peq centre %g Hz: %.3f dB, gain %g",
				      centres[a], m, gains[b]);
				if (fabs(m - gains[b]) > worst_centre)
					worst_centre = fabs(m - gains[b]);
				check_point(&in, centres[a] / 2, "octave below");
				check_point(&in, centres[a] * 2, "octave above");
			}
	/* low in the audio band, where float coefficients are least precise */
	inst_free(&in);
	inst_new(&in, &fx_peq, 2);
	inst_set(&in, "freq1", 30);
	inst_set(&in, "gain1", 12);
	inst_set(&in, "q1", 4);
	check_point(&in, 30, "30 Hz centre");
	check_point(&in, 15, "30 Hz octave below");
	check_point(&in, 60, "30 Hz octave above");
	/* an unwarped analog point for the record: 1 kHz +12 dB Q 1, 2 kHz */
	inst_free(&in);
	inst_new(&in, &fx_peq, 1);
	inst_set(&in, "freq4", 1000);
	inst_set(&in, "gain4", 12);
	double unwarped = 20 * log10(cabs(ref_section(R_BELL, 12, 1, 2.0 * I)));
	printf("peq: 36 bands x (centre, octave below, above): centre within %.4f dB of the gain;"
	       " 1 kHz +12 dB Q 1 at 2 kHz: measured %.3f, warped prototype %.3f, unwarped %.3f dB\n",
	       worst_centre, measure_db(&in, 2000), ref_db(&in, 2000), unwarped);

	/* all eight bands at once: the cascade is the product */
	inst_free(&in);
	inst_new(&in, &fx_peq, 2);
	static const float g8[8] = {6, -9, 3, 12, -12, 4, -3, 8};
	static const float q8[8] = {0.7f, 2, 1, 4, 0.5f, 8, 1.5f, 0.3f};
	for (int b = 0; b < 8; b++) {
		char n[16];
		snprintf(n, sizeof n, "gain%d", b + 1);
		inst_set(&in, n, g8[b]);
		snprintf(n, sizeof n, "q%d", b + 1);
		inst_set(&in, n, q8[b]);
	}
	static const double f8[] = {60, 100, 180, 250, 500, 700, 1000, 1414, 2000, 3000, 4000, 6000, 8000, 9500};
	for (size_t i = 0; i < sizeof f8 / sizeof f8[0]; i++)
		check_point(&in, f8[i], "8 bands");
	inst_free(&in);
}

/* Shelves: corner = gain / 2, far points the full gain and 0 dB. */
static void test_shelves(void)
{
	static const double gains[] = {12, -12, 24, -24, 3};
	static const double qs[] = {BW2_Q, 0.5, 1.5};
	for (int hs = 0; hs < 2; hs++) {
		const struct fx_type *t = hs ? &fx_highshelf : &fx_lowshelf;
		/* far points are 4.3 octaves from the corner on either side */
		double fc = hs ? 1000 : 400, f_gain = hs ? 9500 : 20, f_flat = hs ? 50 : 8000;
		for (size_t a = 0; a < sizeof gains / sizeof gains[0]; a++)
			for (size_t b = 0; b < 3; b++) {
				struct inst in;
				inst_new(&in, t, 2);
				inst_set(&in, "freq", (float)fc);
				inst_set(&in, "gain", (float)gains[a]);
				inst_set(&in, "q", (float)qs[b]);
				double m = check_point(&in, fc, "corner");
				CHECK(fabs(m - gains[a] / 2) <= DB_TOL, "%s corner %g Hz gain %g q %g: %.3f dB,"
				      " expected half the gain", t->id, fc, gains[a], qs[b], m);
				m = check_point(&in, f_gain, "shelf");
				if (b == 0)   /* at Q 0.7071 the shelf is flat out there */
					CHECK(fabs(m - gains[a]) <= 0.25, "%s at %g Hz: %.3f dB, expected the full %g",
					      t->id, f_gain, m, gains[a]);
				m = check_point(&in, f_flat, "far side");
				if (b == 0)
					CHECK(fabs(m) <= 0.25, "%s at %g Hz: %.3f dB, expected 0", t->id, f_flat, m);
				check_point(&in, hs ? fc * 2 : fc / 2, "octave inside");
				check_point(&in, hs ? fc / 2 : fc * 2, "octave outside");
				inst_free(&in);
			}
	}
	printf("shelves: corner = gain/2, far points full gain and 0 dB, vs the RBJ prototype\n");
}

/* Passes: -3.01 dB corners, 12 and 24 dB per octave, resonance. */
static void test_passes(void)
{
	for (int hp = 0; hp < 2; hp++) {
		const struct fx_type *t = hp ? &fx_highpass : &fx_lowpass;
		for (int slope = 0; slope < 2; slope++) {
			struct inst in;
			inst_new(&in, t, 2);
			inst_set(&in, "slope", (float)slope);
			/* the corner, at the default q (Butterworth) */
			inst_set(&in, "freq", 1000);
			double m = check_point(&in, 1000, "corner");
			CHECK(fabs(m + 3.0103) <= DB_TOL, "%s %d dB/oct corner: %.3f dB, expected -3.01",
			      t->id, slope ? 24 : 12, m);
			check_point(&in, 500, "octave");
			check_point(&in, 2000, "octave");
			/* the slope well past the corner: 3 and 4 octaves out */
			double fc = hp ? 4000 : 200, f3 = hp ? 500 : 1600, f4 = hp ? 250 : 3200;
			inst_set(&in, "freq", (float)fc);
			double m3 = check_point(&in, f3, "3 octaves");
			double m4 = check_point(&in, f4, "4 octaves");
			double want = slope ? -24 : -12;
			CHECK(fabs((m4 - m3) - want) <= 0.5, "%s slope %.2f dB/oct, expected %g",
			      t->id, m4 - m3, want);
			printf("%s %d dB/oct: corner %.3f dB, %.2f dB per octave (%g -> %g Hz: %.2f, %.2f dB)\n",
			       t->id, slope ? 24 : 12, m, m4 - m3, f3, f4, m3, m4);
			/* a corner at the bottom of the range */
			inst_set(&in, "freq", 25);
			m = check_point(&in, 25, "25 Hz corner");
			CHECK(fabs(m + 3.0103) <= DB_TOL, "%s %d dB/oct 25 Hz corner: %.3f dB, expected -3.01",
			      t->id, slope ? 24 : 12, m);
			/* resonance */
			inst_set(&in, "freq", 1000);
			inst_set(&in, "q", 4);
			check_point(&in, 1000, "q 4 corner");
			check_point(&in, 700, "q 4");
			check_point(&in, 1400, "q 4");
			inst_set(&in, "q", 0.3f);
			check_point(&in, 1000, "q 0.3 corner");
			check_point(&in, 3000, "q 0.3");
			inst_free(&in);
		}
	}
}

/* The sample rate is honoured: a band, a shelf and a pass at 44.1 and
 * 96 kHz against the reference at that rate. */
static void test_rates(void)
{
	static const uint32_t rates[] = {44100, 96000};
	for (int r = 0; r < 2; r++) {
		struct inst in;
		inst_new_rate(&in, &fx_peq, 2, rates[r]);
		inst_set(&in, "freq2", 1500);
		inst_set(&in, "gain2", -9);
		double m = check_point(&in, 1500, "centre");
		CHECK(fabs(m + 9) <= DB_TOL, "peq at %u Hz: centre %.3f dB, expected -9", rates[r], m);
		check_point(&in, 3000, "octave above");
		inst_free(&in);
		inst_new_rate(&in, &fx_highshelf, 1, rates[r]);
		inst_set(&in, "freq", 3000);
		inst_set(&in, "gain", 10);
		m = check_point(&in, 3000, "corner");
		CHECK(fabs(m - 5) <= DB_TOL, "highshelf at %u Hz: corner %.3f dB, expected 5", rates[r], m);
		inst_free(&in);
		inst_new_rate(&in, &fx_lowpass, 2, rates[r]);
		inst_set(&in, "freq", 5000);
		inst_set(&in, "slope", 1);
		m = check_point(&in, 5000, "corner");
		CHECK(fabs(m + 3.0103) <= DB_TOL, "lowpass 24 at %u Hz: corner %.3f dB", rates[r], m);
		check_point(&in, 9000, "above");
		inst_free(&in);
	}
	printf("rates: peq, highshelf and lowpass at 44.1 and 96 kHz match the reference\n");
}

/* ---- identity ------------------------------------------------------------- */

/* Uniform noise in +-amp. */
static void noise(float *b, size_t n, double amp)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (float)(amp * (2 * rnd() - 1));
}

/* 0 dB bands and shelves pass the signal bit-identical. */
static void test_identity(void)
{
	const size_t n = 48000;
	float *x = buffer(n), *y[2] = {buffer(n), buffer(n)};
	noise(x, n, 1.0);
	const struct fx_type *types[] = {&fx_peq, &fx_lowshelf, &fx_highshelf};
	for (int k = 0; k < 3; k++) {
		struct inst in;
		inst_new(&in, types[k], 2);
		memcpy(y[0], x, n * sizeof *x);
		memcpy(y[1], x, n * sizeof *x);
		in.t->process(in.fx, y, (uint32_t)n);
		CHECK(memcmp(y[0], x, n * sizeof *x) == 0 && memcmp(y[1], x, n * sizeof *x) == 0,
		      "%s at 0 dB is not bit-identical", in.t->id);
		/* up and back: once the glide is over the band is out again */
		const char *g = k == 0 ? "gain3" : "gain";
		memcpy(y[0], x, n * sizeof *x);
		memcpy(y[1], x, n * sizeof *x);
		float *half[2] = {y[0], y[1]};
		in.t->process(in.fx, half, 4800);
		inst_set(&in, g, 6);
		in.t->process(in.fx, (float *[]){y[0] + 4800, y[1] + 4800}, 4800);
		double moved = 0;
		for (size_t i = 4800; i < 9600; i++)
			moved = fmax(moved, fabs(y[0][i] - x[i]));
		CHECK(moved > 0.01, "%s: +6 dB changed nothing (%g)", in.t->id, moved);
		inst_set(&in, g, 0);
		in.t->process(in.fx, (float *[]){y[0] + 9600, y[1] + 9600}, (uint32_t)n - 9600);
		size_t from = 9600 + 9600;   /* the glide lands well within 0.2 s */
		CHECK(memcmp(y[0] + from, x + from, (n - from) * sizeof *x) == 0,
		      "%s back at 0 dB is not bit-identical after the glide", in.t->id);
		inst_free(&in);
	}
	free(x);
	free(y[0]);
	free(y[1]);
	printf("identity: 0 dB bands and shelves pass noise bit-identical, also after +6 dB and back\n");
}

/* ---- clicks ---------------------------------------------------------------- */

/* The largest 4th difference |y[i] - 4 y[i-1] + 6 y[i-2] - 4 y[i-3] +
 * y[i-4]| over [from, to). It passes a 1 kHz sine at (2 sin(pi/48))^4 =
 * 2.9e-4 of its amplitude but a step of height h at up to 3 h: a click
 * (a broadband step or kink) stands out of the sine by orders of
 * magnitude, while a smooth change of level or phase does not. */
static double max_d4(const float *y, size_t from, size_t to)
{
	double m = 0;
	for (size_t i = from < 4 ? 4 : from; i < to; i++)
		m = fmax(m, fabs((double)y[i] - 4.0 * y[i - 1] + 6.0 * y[i - 2] - 4.0 * y[i - 3] +
				 y[i - 4]));
	return m;
}

struct jump {
	const struct fx_type *t;
	const char *setup[3];
	float setup_val[3];
	const char *param;
	float to;
};

/* Run a 1 kHz sine, jump one parameter at 0.5 s, and compare the second
 * difference during the change (50 ms) with the steady state before and
 * after it. */
static double click_ratio(const struct jump *j, double *d4_abs)
{
	/* the jump lands between two coefficient steps and mid-block */
	const size_t n = RATE, at = RATE / 2 + 37, blk = 128;
	float *y[2] = {buffer(n), buffer(n)};
	for (size_t i = 0; i < n; i++)
		y[0][i] = y[1][i] = (float)(0.1 * sin(2 * M_PI * 1000.0 * (double)i / RATE));
	struct inst in;
	inst_new(&in, j->t, 2);
	for (int k = 0; k < 3 && j->setup[k]; k++)
		inst_set(&in, j->setup[k], j->setup_val[k]);
	double want_before = ref_db(&in, 1000);
	for (size_t pos = 0; pos < n;) {
		if (pos == at)
			inst_set(&in, j->param, j->to);
		size_t len = blk < n - pos ? blk : n - pos;
		if (pos < at && at - pos < len)
			len = at - pos;
		in.t->process(in.fx, (float *[]){y[0] + pos, y[1] + pos}, (uint32_t)len);
		pos += len;
	}
	/* the levels before and after, over 100 periods each: the jump
	 * really happened and went where the reference says */
	double sb = 0, sa = 0;
	for (size_t i = 0; i < 4800; i++) {
		sb += (double)y[0][RATE / 2 - 4800 + i] * y[0][RATE / 2 - 4800 + i];
		sa += (double)y[0][n - 4800 + i] * y[0][n - 4800 + i];
	}
	double in_ms = 0.1 * 0.1 / 2 * 4800;
	double got_before = 10 * log10(sb / in_ms), got_after = 10 * log10(sa / in_ms);
	CHECK(fabs(got_before - want_before) <= DB_TOL && fabs(got_after - ref_db(&in, 1000)) <= DB_TOL,
	      "%s %s -> %g: 1 kHz level %.3f -> %.3f dB, reference %.3f -> %.3f dB", j->t->id,
	      j->param, j->to, got_before, got_after, want_before, ref_db(&in, 1000));
	double before = max_d4(y[0], at - 4800, at);
	double after = max_d4(y[0], n - 4800, n);
	double during = max_d4(y[0], at, at + 2400);
	*d4_abs = during;
	inst_free(&in);
	free(y[0]);
	free(y[1]);
	return during / fmax(before, after);
}

/* The same 1 kHz +12 dB -> 2 kHz jump in a direct-form-I RBJ biquad whose
 * coefficients switch in one step: what the click check must catch. */
static double abrupt_biquad_ratio(void)
{
	const size_t n = RATE, at = RATE / 2;
	float *y = buffer(n);
	double b[3] = {0}, a[3] = {1, 0, 0}, x1 = 0, x2 = 0, y1 = 0, y2 = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || i == at) {
			double f0 = i ? 2000 : 1000, big_a = pow(10, 12 / 40.0);
			double w0 = 2 * M_PI * f0 / RATE, alpha = sin(w0) / 2;
			b[0] = 1 + alpha * big_a;
			b[1] = -2 * cos(w0);
			b[2] = 1 - alpha * big_a;
			a[0] = 1 + alpha / big_a;
			a[1] = -2 * cos(w0);
			a[2] = 1 - alpha / big_a;
		}
		double x = 0.1 * sin(2 * M_PI * 1000.0 * (double)i / RATE);
		double out = (b[0] * x + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2) / a[0];
		x2 = x1;
		x1 = x;
		y2 = y1;
		y1 = out;
		y[i] = (float)out;
	}
	double r = max_d4(y, at, at + 2400) / fmax(max_d4(y, at - 4800, at), max_d4(y, n - 4800, n));
	free(y);
	return r;
}

/* Parameter jumps on a steady sine, against the click bound. */
static void test_clicks(void)
{
	/* A steady 1 kHz sine has a 4th difference of 2.9e-4 of its
	 * amplitude, and a step of h shows as up to 3 h. A moving resonance
	 * legitimately rings near its own frequency while it travels (2 kHz
	 * weighs 16x more than 1 kHz in a 4th difference), so a smooth sweep
	 * may reach a few times the steady value; an abrupt switch scores
	 * tens to thousands. */
	const double bound = 4.0;
	const struct jump jumps[] = {
		{&fx_peq, {"freq4", "gain4"}, {1000, 12}, "freq4", 2000},
		{&fx_peq, {"freq4", "gain4"}, {2000, 12}, "freq4", 1000},
		{&fx_peq, {"freq4"}, {1000}, "gain4", 18},
		{&fx_peq, {"freq4", "gain4"}, {1000, 18}, "gain4", 0},
		{&fx_peq, {"freq4", "gain4"}, {1000, 12}, "q4", 12},
		{&fx_peq, {"freq4", "gain4"}, {1000, -24}, "freq4", 20000},
		{&fx_lowshelf, {"freq", "gain"}, {500, 12}, "freq", 4000},
		{&fx_lowshelf, {"freq", "gain"}, {2000, -24}, "gain", 24},
		{&fx_highshelf, {"freq", "gain"}, {1000, -12}, "gain", 12},
		{&fx_highshelf, {"freq", "gain"}, {200, 12}, "freq", 5000},
		{&fx_highpass, {"freq"}, {100}, "freq", 2000},
		{&fx_highpass, {"freq"}, {1000}, "slope", 1},
		{&fx_lowpass, {"freq"}, {5000}, "freq", 500},
		{&fx_lowpass, {"freq"}, {1000}, "q", 8},
		{&fx_lowpass, {"freq"}, {1000}, "slope", 1},
		{&fx_lowpass, {"freq", "slope"}, {1000, 1}, "slope", 0},
		{&fx_lowpass, {"freq", "slope"}, {2000, 1}, "freq", 20},
	};
	double worst = 0;
	for (size_t k = 0; k < sizeof jumps / sizeof jumps[0]; k++) {
		double d4;
		double r = click_ratio(&jumps[k], &d4);
		worst = fmax(worst, r);
		CHECK(r <= bound, "%s %s -> %g clicks: 4th difference %.2fx the steady state (%.5f)",
		      jumps[k].t->id, jumps[k].param, jumps[k].to, r, d4);
	}
	double abrupt = abrupt_biquad_ratio();
	CHECK(abrupt > 2 * bound, "the click check is blind: an abrupt biquad switch scores %.2f", abrupt);
	printf("clicks: %zu jumps on a 1 kHz sine, worst 4th difference %.3fx steady"
	       " (bound %.2f; an abrupt DF1 biquad switch scores %.2fx)\n",
	       sizeof jumps / sizeof jumps[0], worst, bound, abrupt);
}

/* ---- block-size independence -------------------------------------------- */

struct event {
	size_t frame;
	const char *param;
	float value;
};

/* Process `ch` channels of x (n frames each) in blocks of blk, applying
 * the events at their frames. */
static void run_events(const struct fx_type *t, int channels, float **x, size_t n, size_t blk,
		       const struct event *ev, int nev)
{
	struct inst in;
	inst_new(&in, t, channels);
	size_t pos = 0;
	int e = 0;
	while (pos < n) {
		while (e < nev && ev[e].frame == pos) {
			inst_set(&in, ev[e].param, ev[e].value);
			e++;
		}
		size_t len = blk;
		if (len > n - pos)
			len = n - pos;
		if (e < nev && ev[e].frame - pos < len)
			len = ev[e].frame - pos;
		float *b[FX_MAX_CHANNELS];
		for (int c = 0; c < channels; c++)
			b[c] = x[c] + pos;
		t->process(in.fx, b, (uint32_t)len);
		pos += len;
	}
	inst_free(&in);
}

/* Blocks of 1, 13 and 64 give what blocks of 4096 give, bit for bit. */
static void test_blocks(void)
{
	const size_t n = 40000;
	static const size_t blks[] = {4096, 1, 13, 64};
	const struct {
		const struct fx_type *t;
		int channels;
		struct event ev[6];
	} cases[] = {
		{&fx_peq, 2, {{0, "gain1", 6}, {0, "gain5", -8}, {3001, "freq5", 5000}, {3001, "gain2", 9},
			      {10007, "q5", 6}, {20000, "gain1", 0}}},
		{&fx_peq, 5, {{0, "gain3", 12}, {777, "freq3", 3000}, {9999, "q3", 0.3f}, {15000, "gain8", -20},
			      {15000, "gain3", 0}, {30000, "freq8", 200}}},
		{&fx_lowshelf, 1, {{0, "gain", 9}, {5000, "freq", 1000}, {12345, "q", 2}, {23000, "gain", -20}}},
		{&fx_highshelf, 2, {{0, "gain", -9}, {4999, "freq", 300}, {16001, "gain", 20}}},
		{&fx_highpass, 2, {{0, "freq", 300}, {2500, "slope", 1}, {2800, "freq", 3000}, {14000, "slope", 0},
				   {14100, "slope", 1}, {30000, "q", 5}}},
		{&fx_lowpass, 3, {{1, "q", 3}, {4000, "slope", 1}, {9000, "freq", 400}, {20000, "slope", 0}}},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		int ch = cases[k].channels, nev = 0;
		while (nev < 6 && cases[k].ev[nev].param)
			nev++;
		float *input[FX_MAX_CHANNELS], *ref[FX_MAX_CHANNELS], *x[FX_MAX_CHANNELS];
		for (int c = 0; c < ch; c++) {
			input[c] = buffer(n);
			ref[c] = buffer(n);
			x[c] = buffer(n);
			noise(input[c], n, 1.0);
			memcpy(ref[c], input[c], n * sizeof *ref[c]);
		}
		run_events(cases[k].t, ch, ref, n, blks[0], cases[k].ev, nev);
		for (size_t b = 1; b < 4; b++) {
			for (int c = 0; c < ch; c++)
				memcpy(x[c], input[c], n * sizeof *x[c]);
			run_events(cases[k].t, ch, x, n, blks[b], cases[k].ev, nev);
			int same = 1;
			double diff = 0;
			for (int c = 0; c < ch; c++) {
				same &= memcmp(x[c], ref[c], n * sizeof *x[c]) == 0;
				for (size_t i = 0; i < n; i++)
					diff = fmax(diff, fabs(x[c][i] - ref[c][i]));
			}
			CHECK(same, "%s, %d channels: blocks of %zu differ from 4096 (max %g)",
			      cases[k].t->id, ch, blks[b], diff);
		}
		double changed = 0;
		for (size_t i = 0; i < n; i++)
			changed = fmax(changed, fabs(ref[0][i] - input[0][i]));
		CHECK(changed > 0.01, "%s: the block test signal was hardly filtered (%g)",
		      cases[k].t->id, changed);
		for (int c = 0; c < ch; c++) {
			free(input[c]);
			free(ref[c]);
			free(x[c]);
		}
	}
	printf("blocks: 1, 13, 64 and 4096 frames with events at the same frames: bit-identical\n");
}

/* ---- extremes -------------------------------------------------------------- */

enum signal { SIG_NOISE, SIG_SQUARE, SIG_SQUARE_HI, SIG_SILENCE };

/* One of the test signals, full scale. */
static void fill(float *b, size_t n, enum signal s)
{
	for (size_t i = 0; i < n; i++) {
		switch (s) {
		case SIG_NOISE: b[i] = (float)(2 * rnd() - 1); break;
		case SIG_SQUARE: b[i] = (i / 240) % 2 ? -1.0f : 1.0f; break;   /* 100 Hz */
		case SIG_SQUARE_HI: b[i] = (i / 5) % 2 ? -1.0f : 1.0f; break;  /* 4.8 kHz */
		case SIG_SILENCE: b[i] = 0.0f; break;
		}
	}
}

static double ext_worst;   /* largest output peak / (input peak * reference peak) */

/* One parameter set over every signal, mono and stereo. */
static void check_config(const struct fx_type *t, const float *vals, const char *what)
{
	const size_t n = 24000;
	for (int ch = 1; ch <= 2; ch++) {
		struct inst in;
		inst_new(&in, t, ch);
		for (int i = 0; i < t->nparams; i++)
			inst_set_i(&in, i, vals[i]);
		double bound = 4.0 * fmax(ref_peak(&in), 1.0);
		for (int s = SIG_NOISE; s <= SIG_SILENCE; s++) {
			float *b[2] = {buffer(n), buffer(n)};
			fill(b[0], n, (enum signal)s);
			memcpy(b[1], b[0], n * sizeof *b[0]);
			t->reset(in.fx);
			for (size_t pos = 0; pos < n; pos += 1000)
				t->process(in.fx, (float *[]){b[0] + pos, b[1] + pos}, 1000);
			int finite = 1;
			double peak = 0;
			for (int c = 0; c < ch; c++)
				for (size_t i = 0; i < n; i++) {
					finite &= isfinite(b[c][i]);
					peak = fmax(peak, fabs(b[c][i]));
				}
			CHECK(finite, "%s %s signal %d, %d ch: non-finite output", t->id, what, s, ch);
			if (s == SIG_SILENCE)
				CHECK(peak == 0.0, "%s %s: silence in, %g out", t->id, what, peak);
			else
				CHECK(peak <= bound, "%s %s signal %d: peak %g above the bound %g",
				      t->id, what, s, peak, bound);
			ext_worst = fmax(ext_worst, peak / bound * 4.0);
			free(b[0]);
			free(b[1]);
		}
		inst_free(&in);
	}
}

/* Every parameter at min, max, default; all min; all max; random sets. */
static void test_extremes(void)
{
	const struct fx_type *types[] = {&fx_peq, &fx_lowshelf, &fx_highshelf,
					 &fx_highpass, &fx_lowpass};
	int configs = 0;
	for (int k = 0; k < 5; k++) {
		const struct fx_type *t = types[k];
		float v[MAXP];
		char what[64];
		for (int i = 0; i < t->nparams; i++)
			for (int e = 0; e < 3; e++) {
				for (int j = 0; j < t->nparams; j++)
					v[j] = t->params[j].def;
				const struct fx_param *p = &t->params[i];
				v[i] = e == 0 ? p->min : e == 1 ? p->max : p->def;
				snprintf(what, sizeof what, "%s=%g", p->name, v[i]);
				check_config(t, v, what);
				configs++;
			}
		for (int e = 0; e < 2; e++) {
			for (int j = 0; j < t->nparams; j++)
				v[j] = e ? t->params[j].max : t->params[j].min;
			check_config(t, v, e ? "all max" : "all min");
			configs++;
		}
		for (int r = 0; r < 8; r++) {
			for (int j = 0; j < t->nparams; j++)
				v[j] = fx_param_from_norm(&t->params[j], (float)rnd());
			snprintf(what, sizeof what, "random #%d", r);
			check_config(t, v, what);
			configs++;
		}
	}
	printf("extremes: %d parameter sets x (noise, 100 Hz and 4.8 kHz squares, silence) x"
	       " (mono, stereo): finite, silent on silence, peak <= %.2fx input x reference peak"
	       " (bound 4)\n", configs, ext_worst);
}

/* Input near FLT_MAX with boosts that overflow: the output stays finite
 * (the effect limits it at 1e30) and the filter recovers at once. */
static void test_absurd(void)
{
	const struct fx_type *types[] = {&fx_peq, &fx_lowshelf, &fx_highshelf,
					 &fx_highpass, &fx_lowpass};
	const size_t n = 4096;
	int bad = 0, unrecovered = 0, runs = 0;
	for (int k = 0; k < 5; k++)
		for (int r = 0; r < 20; r++) {
			const struct fx_type *t = types[k];
			struct inst in;
			inst_new(&in, t, 2);
			for (int j = 0; j < t->nparams; j++)
				inst_set_i(&in, j, r == 0 ? t->params[j].max
					   : fx_param_from_norm(&t->params[j], (float)rnd()));
			float *b[2] = {buffer(n), buffer(n)};
			for (size_t i = 0; i < n; i++)
				b[0][i] = b[1][i] = (i / 20) % 2 ? 3e38f : -3e38f;
			t->process(in.fx, b, (uint32_t)n);
			for (size_t i = 0; i < n; i++)
				bad += !isfinite(b[0][i]) || !isfinite(b[1][i]) || fabsf(b[0][i]) > 1e30f;
			for (int pass = 0; pass < 2; pass++) {   /* judge the second block */
				fill(b[0], n, SIG_NOISE);
				memcpy(b[1], b[0], n * sizeof *b[0]);
				t->process(in.fx, b, (uint32_t)n);
			}
			double bound = 4.0 * fmax(ref_peak(&in), 1.0);
			for (size_t i = 0; i < n; i++)
				unrecovered += !(fabs(b[0][i]) <= bound);
			runs++;
			inst_free(&in);
			free(b[0]);
			free(b[1]);
		}
	CHECK(bad == 0, "%d samples non-finite or above 1e30 after a 3e38 square", bad);
	CHECK(unrecovered == 0, "%d samples out of bounds in the second block after a 3e38 square",
	      unrecovered);
	printf("absurd input: %d settings x a +-3e38 square: output finite and within 1e30,"
	       " normal again a block later\n", runs);
}

/* Random automation every 64 frames over noise: the filters stay finite
 * and within 4x the largest reference gain of any setting they visited. */
static void test_automation(void)
{
	const struct fx_type *types[] = {&fx_peq, &fx_lowshelf, &fx_highshelf,
					 &fx_highpass, &fx_lowpass};
	const size_t n = 2 * RATE, blk = 64;
	double worst = 0;
	for (int k = 0; k < 5; k++) {
		const struct fx_type *t = types[k];
		struct inst in;
		inst_new(&in, t, 2);
		float *b[2] = {buffer(n), buffer(n)};
		fill(b[0], n, SIG_NOISE);
		fill(b[1], n, SIG_NOISE);
		double bound = 4.0 * fmax(ref_peak(&in), 1.0), peak = 0;
		int finite = 1;
		for (size_t pos = 0; pos < n; pos += blk) {
			int i = (int)(rnd() * t->nparams);
			inst_set_i(&in, i, fx_param_from_norm(&t->params[i], (float)rnd()));
			bound = fmax(bound, 4.0 * ref_peak(&in));
			t->process(in.fx, (float *[]){b[0] + pos, b[1] + pos}, (uint32_t)blk);
			for (int c = 0; c < 2; c++)
				for (size_t j = pos; j < pos + blk; j++) {
					finite &= isfinite(b[c][j]);
					peak = fmax(peak, fabs(b[c][j]));
				}
		}
		CHECK(finite, "%s under random automation: non-finite output", t->id);
		CHECK(peak <= bound, "%s under random automation: peak %g above %g", t->id, peak, bound);
		worst = fmax(worst, peak / bound * 4.0);
		/* reset really forgets */
		t->reset(in.fx);
		memset(b[0], 0, blk * sizeof *b[0]);
		memset(b[1], 0, blk * sizeof *b[1]);
		t->process(in.fx, b, (uint32_t)blk);
		double rest = 0;
		for (size_t j = 0; j < blk; j++)
			rest = fmax(rest, fmax(fabs(b[0][j]), fabs(b[1][j])));
		CHECK(rest == 0.0, "%s after reset: silence in, %g out", t->id, rest);
		inst_free(&in);
		free(b[0]);
		free(b[1]);
	}
	printf("automation: a random parameter every 64 frames for 2 s: finite, peak <= %.2fx"
	       " the largest reference gain visited (bound 4); reset gives silence\n", worst);
}

/* ---- timing ----------------------------------------------------------------- */

/* Monotonic seconds. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ns per stereo frame at 128-frame blocks: the best of 5 runs of 2 s of
 * audio, so that a busy machine disturbs the figure less. */
static void time_one(const struct fx_type *t, const char *what, const char *const *names,
		     const float *vals, int nset)
{
	const size_t blk = 128, n = 2 * RATE;
	struct inst in;
	inst_new(&in, t, 2);
	for (int i = 0; i < nset; i++)
		inst_set(&in, names[i], vals[i]);
	float *b[2] = {buffer(blk), buffer(blk)};
	fill(b[0], blk, SIG_NOISE);
	fill(b[1], blk, SIG_NOISE);
	for (size_t pos = 0; pos < RATE; pos += blk)   /* warm up */
		t->process(in.fx, b, (uint32_t)blk);
	double best = 1e9;
	for (int run = 0; run < 5; run++) {
		double t0 = now_s();
		for (size_t pos = 0; pos < n; pos += blk) {
			b[0][0] = b[1][0] = 0.5f;   /* keep the signal alive */
			t->process(in.fx, b, (uint32_t)blk);
		}
		best = fmin(best, now_s() - t0);
	}
	double ns = best * 1e9 / (double)n;
	printf("timing: %-28s %6.2f ns per stereo frame, %6.0fx realtime\n", what, ns,
	       (double)n / RATE / best);
	inst_free(&in);
	free(b[0]);
	free(b[1]);
}

/* The timing prints (not assertions). */
static void test_timing(void)
{
	static const char *const g8[] = {"gain1", "gain2", "gain3", "gain4",
					 "gain5", "gain6", "gain7", "gain8"};
	static const float v8[] = {3, -3, 6, -6, 4, -4, 2, -2};
	time_one(&fx_peq, "peq, 8 bands", g8, v8, 8);
	time_one(&fx_peq, "peq, 4 bands", g8, v8, 4);
	time_one(&fx_peq, "peq, 1 band", g8, v8, 1);
	time_one(&fx_peq, "peq, all bands at 0 dB", NULL, NULL, 0);
	static const char *const g1[] = {"gain"};
	static const float v1[] = {6};
	time_one(&fx_lowshelf, "lowshelf", g1, v1, 1);
	time_one(&fx_highshelf, "highshelf", g1, v1, 1);
	static const char *const s[] = {"slope"};
	static const float s0[] = {0}, s1[] = {1};
	time_one(&fx_highpass, "highpass 12 dB/oct", s, s0, 1);
	time_one(&fx_highpass, "highpass 24 dB/oct", s, s1, 1);
	time_one(&fx_lowpass, "lowpass 24 dB/oct", s, s1, 1);
}

/* The AVX2 + FMA copy of the loops (where the CPU has it) and the portable
 * one give the same sound: stereo noise through an 8-band peq and a 24 dB
 * high-pass, with a glide under way, both ways, within 1e-5 of each other
 * sample by sample. */
static void test_copies_agree(void)
{
	const size_t frames = 48000;
	struct {
		const struct fx_type *t;
		const char *name[8];
		float value[8];
	} cases[] = {
		{&fx_peq, {"gain1", "gain2", "gain3", "gain4", "gain5", "gain6", "gain7", "gain8"},
		 {4, -4, 6, -6, 3, -3, 12, -12}},
		{&fx_highpass, {"slope", "q", "freq"}, {1, 2, 200}},
	};
	float *out[2][2];
	for (int k = 0; k < 2; k++)
		for (int c = 0; c < 2; c++)
			out[k][c] = malloc(frames * sizeof(float));
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const struct fx_type *t = cases[k].t;
		for (int pass = 0; pass < 2; pass++) {
			if (pass)
				setenv("CL_FX_SIMD", "baseline", 1);
			else
				unsetenv("CL_FX_SIMD");
			uint32_t x = 12345;
			for (size_t i = 0; i < frames; i++)
				for (int c = 0; c < 2; c++) {
					x = x * 1664525u + 1013904223u;
					out[pass][c][i] = 0.5f * ((float)(x >> 8) / 8388608.0f - 1.0f);
				}
			void *fx = t->create(RATE, 2);
			for (int j = 0; j < 8 && cases[k].name[j]; j++)
				t->set(fx, fx_param_index(t, cases[k].name[j]), cases[k].value[j]);
			for (size_t off = 0; off < frames; off += 128) {
				if (off == 12800)   /* a glide under way from here */
					t->set(fx, fx_param_index(t, t == &fx_peq ? "freq3" : "freq"), 900);
				float *b[2] = {out[pass][0] + off, out[pass][1] + off};
				t->process(fx, b, 128);
			}
			t->destroy(fx);
		}
		double worst = 0.0;
		for (int c = 0; c < 2; c++)
			for (size_t i = 0; i < frames; i++)
				worst = fmax(worst, fabs((double)out[0][c][i] - out[1][c][i]));
		printf("%s: fastest and portable loops differ by at most %.2g\n", t->id, worst);
		CHECK(worst <= 1e-5, "%s: the two copies of the loops differ by %g", t->id, worst);
	}
	unsetenv("CL_FX_SIMD");
	for (int k = 0; k < 2; k++)
		for (int c = 0; c < 2; c++)
			free(out[k][c]);
}

int main(void)
{
	/* everything twice: with the loops this CPU runs fastest (AVX2 and
	 * FMA where it has them), then with the portable ones */
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			setenv("CL_FX_SIMD", "baseline", 1);
		printf("%s loops:\n", pass ? "portable (CL_FX_SIMD=baseline)" : "fastest");
		worst_dev = 0.0;
		test_tables();
		test_peq_response();
		test_shelves();
		test_passes();
		test_rates();
		printf("responses: worst deviation from the warped analog prototype %.4f dB (tolerance %.1f)\n",
		       worst_dev, DB_TOL);
		test_identity();
		test_clicks();
		test_blocks();
		test_extremes();
		test_automation();
		test_absurd();
		test_timing();
	}
	test_copies_agree();
	printf("test_fx_eq: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
