/*
 * The delays of cl-fx (delay, pingpong, multitap) against known answers:
 * impulses come back at exactly the delay in samples (whole delays read
 * the exact sample, fractional ones the Catmull-Rom kernel), echo k has
 * amplitude f^(k-1) at k * delay, note values match the tempo and follow
 * set_tempo(), damping attenuates by the one-pole's gain, the whole loop's
 * steady-state response matches its transfer function, ping-pong
 * alternates sides, multi-tap taps sit at their times, levels and pans;
 * plus no clicks on changes, decay at 95% feedback, bounded finite output
 * at every extreme, and bit-identical output for any block size.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "effect.h"
#include "cl_check.h"

#define RATE 48000u
#define BIG 600000u        /* frames: a whole note at 20 BPM and some */
#define XFADE_FRAMES 1440u /* 30 ms at 48 kHz */

static float bl[BIG], br[BIG], cl[BIG], cr[BIG];

static uint32_t seed = 2024;

static float noise(void)
{
	seed = seed * 1664525u + 1013904223u;
	return (float)((int32_t)seed) / 2147483648.0f;
}

/* Index of a parameter by name (the test does not need types.c). */
static int pidx(const struct fx_type *t, const char *name)
{
	for (int i = 0; i < t->nparams; i++)
		if (strcmp(t->params[i].name, name) == 0)
			return i;
	return -1;
}

static void setp(const struct fx_type *t, void *fx, const char *name, float v)
{
	int i = pidx(t, name);
	CHECK(i >= 0, "%s has a parameter '%s'", t->id, name);
	if (i >= 0)
		t->set(fx, i, v);
}

/* Process n frames of buf (one or two channels) in blocks of `block`. */
static void run(const struct fx_type *t, void *fx, float *l, float *r, uint32_t n, uint32_t block)
{
	for (uint32_t at = 0; at < n; at += block) {
		uint32_t m = n - at < block ? n - at : block;
		float *buf[2] = { l + at, r ? r + at : NULL };
		t->process(fx, buf, m);
	}
}

/* A delay with only the line: mix 100 %, no feedback, damping or low cut,
 * settled (reset() lands every ramp and crossfade). */
static void *clean(const struct fx_type *t, uint32_t rate, int ch, float ms)
{
	void *fx = t->create(rate, ch);
	CHECK(fx != NULL, "%s: create at %u Hz x%d", t->id, rate, ch);
	if (!fx)
		return NULL;
	if (t != &fx_multitap)
		setp(t, fx, "time", ms);
	setp(t, fx, "feedback", 0.0f);
	setp(t, fx, "damp", 20000.0f);
	setp(t, fx, "lowcut", 10.0f);
	setp(t, fx, "mix", 100.0f);
	t->reset(fx);
	return fx;
}

static void impulse(float *l, float *r, uint32_t n, float left, float right)
{
	memset(l, 0, n * sizeof *l);
	if (r)
		memset(r, 0, n * sizeof *r);
	l[0] = left;
	if (r)
		r[0] = right;
}

/* Catmull-Rom weights of the points at delays W-1, W, W+1, W+2. */
static void cubic(double t, double c[4])
{
	c[0] = t * (-0.5 + t * (1.0 - 0.5 * t));
	c[1] = 1.0 + t * t * (-2.5 + 1.5 * t);
	c[2] = t * (0.5 + t * (2.0 - 1.5 * t));
	c[3] = t * t * (-0.5 + 0.5 * t);
}

/* y (an impulse response) is the interpolation kernel at delay d and
 * silence elsewhere. */
static void check_kernel(const float *y, uint32_t n, double d, const char *what)
{
	double whole = floor(d), t = d - whole, c[4];
	if (t < 1e-6)
		t = 0.0;
	else if (t > 1.0 - 1e-6) {
		whole += 1.0;
		t = 0.0;
	}
	cubic(t, c);
	uint32_t w = (uint32_t)whole;
	double worst = 0.0;
	uint32_t where = 0;
	for (uint32_t i = 0; i < n; i++) {
		double want = i + 1 >= w && i <= w + 2 ? c[i + 1 - w] : 0.0;
		double err = fabs(y[i] - want);
		if (err > worst) {
			worst = err;
			where = i;
		}
	}
	CHECK(worst < 2e-6, "%s: impulse back at %.4f samples (kernel t = %.4f), worst error %.2e at %u",
	      what, d, t, worst, where);
	if (t == 0.0)
		CHECK(y[w] == 1.0f, "%s: a whole delay returns exactly 1.0 at %u (got %.9g)", what, w, y[w]);
}

/* ------------------------------------------------------------------ */

static void test_tables(void)
{
	const char *delay_names[] = { "time", "sync", "feedback", "damp", "lowcut", "mix" };
	for (size_t i = 0; i < sizeof delay_names / sizeof *delay_names; i++) {
		CHECK(pidx(&fx_delay, delay_names[i]) >= 0, "delay.%s", delay_names[i]);
		CHECK(pidx(&fx_pingpong, delay_names[i]) >= 0, "pingpong.%s", delay_names[i]);
	}
	CHECK(pidx(&fx_pingpong, "width") >= 0, "pingpong.width");
	char name[24];
	for (int k = 1; k <= 8; k++) {
		snprintf(name, sizeof name, "time%d", k);
		CHECK(pidx(&fx_multitap, name) >= 0, "multitap.%s", name);
		snprintf(name, sizeof name, "level%d", k);
		CHECK(pidx(&fx_multitap, name) >= 0, "multitap.%s", name);
		snprintf(name, sizeof name, "pan%d", k);
		CHECK(pidx(&fx_multitap, name) >= 0, "multitap.%s", name);
	}
	const struct fx_param *p = &fx_delay.params[pidx(&fx_delay, "time")];
	CHECK(p->min == 1 && p->max == 4000 && p->def == 375 && p->curve == FX_LOG, "delay.time 1..4000 ms log, 375");
	p = &fx_delay.params[pidx(&fx_delay, "feedback")];
	CHECK(p->min == 0 && p->max == 95, "feedback 0..95 %%");
	p = &fx_delay.params[pidx(&fx_delay, "damp")];
	CHECK(p->min == 1000 && p->max == 20000 && p->curve == FX_LOG, "damp 1000..20000 Hz log");
	p = &fx_delay.params[pidx(&fx_delay, "sync")];
	CHECK(p->curve == FX_CHOICE && p->min == 0 && p->max == 12 && strstr(p->doc, "12 = 1/16 triplet")
	      && strstr(p->doc, "0 = off"), "sync: 13 choices listed in the doc");
	CHECK(fx_pingpong.max_channels == 2 && fx_multitap.max_channels == 2
	      && fx_delay.max_channels == FX_MAX_CHANNELS, "channel limits");
	CHECK(fx_delay.create(RATE, 0) == NULL && fx_delay.create(RATE, 9) == NULL
	      && fx_pingpong.create(RATE, 3) == NULL && fx_multitap.create(0, 2) == NULL,
	      "create refuses bad channel counts and rates");
}

static void test_impulse(void)
{
	static const uint32_t rates[] = { 44100, 48000, 96000 };
	for (int r = 0; r < 3; r++) {
		void *fx = clean(&fx_delay, rates[r], 1, 10.0f);
		if (!fx)
			return;
		impulse(bl, NULL, 4000, 1.0f, 0.0f);
		run(&fx_delay, fx, bl, NULL, 4000, 4096);
		char what[64];
		snprintf(what, sizeof what, "delay 10 ms at %u Hz", rates[r]);
		check_kernel(bl, 4000, rates[r] / 100.0, what);
		fx_delay.destroy(fx);
	}
	/* 375 ms at 44.1 kHz = 16537.5 samples: the kernel at t = 1/2,
	 * -1/16, 9/16, 9/16, -1/16 */
	void *fx = clean(&fx_delay, 44100, 1, 375.0f);
	impulse(bl, NULL, 20000, 1.0f, 0.0f);
	run(&fx_delay, fx, bl, NULL, 20000, 1000);
	check_kernel(bl, 20000, 16537.5, "delay 375 ms at 44.1 kHz");
	CHECK(fabsf(bl[16536] + 0.0625f) < 1e-7f && fabsf(bl[16537] - 0.5625f) < 1e-7f
	      && fabsf(bl[16538] - 0.5625f) < 1e-7f && fabsf(bl[16539] + 0.0625f) < 1e-7f,
	      "half-sample delay: -1/16 9/16 9/16 -1/16 (%g %g %g %g)", bl[16536], bl[16537], bl[16538],
	      bl[16539]);
	fx_delay.destroy(fx);

	/* Stereo: every channel its own line. */
	fx = clean(&fx_delay, RATE, 2, 5.0f);
	impulse(bl, br, 2000, 1.0f, 0.0f);
	br[100] = -0.5f;
	run(&fx_delay, fx, bl, br, 2000, 64);
	CHECK(bl[240] == 1.0f && br[340] == -0.5f && fabsf(bl[340]) < 1e-12f && fabsf(br[240]) < 1e-12f,
	      "stereo delay: left at 240 (%g), right at 340 (%g), no crosstalk", bl[240], br[340]);
	fx_delay.destroy(fx);
}

static void test_feedback(void)
{
	static const float fbs[] = { 50.0f, 80.0f, 95.0f };
	for (int j = 0; j < 3; j++) {
		void *fx = clean(&fx_delay, RATE, 1, 10.0f);
		setp(&fx_delay, fx, "feedback", fbs[j]);
		fx_delay.reset(fx);
		impulse(bl, NULL, 480 * 12, 1.0f, 0.0f);
		run(&fx_delay, fx, bl, NULL, 480 * 12, 13);
		double f = fbs[j] / 100.0, worst = 0.0, between = 0.0;
		for (uint32_t i = 1; i < 480 * 12; i++) {
			if (i % 480 == 0) {
				double want = pow(f, i / 480 - 1);
				worst = fmax(worst, fabs(bl[i] - want));
			} else {
				between = fmax(between, fabs(bl[i]));
			}
		}
		CHECK(worst < 1e-4 && between < 1e-9,
		      "feedback %.0f%%: echo k at k*480 is f^(k-1) (worst error %.2e), silence between (%.1e)",
		      fbs[j], worst, between);
		fx_delay.destroy(fx);
	}
}

static void check_sync(int choice, double bpm, double beats, const char *what)
{
	void *fx = clean(&fx_delay, RATE, 1, 10.0f);
	setp(&fx_delay, fx, "sync", (float)choice);
	if (bpm != 120.0)
		fx_delay.set_tempo(fx, bpm);
	fx_delay.reset(fx);
	double d = beats * 60.0 / bpm * RATE;
	if (d > 576000.0)
		d = 576000.0;   /* clamped to the line: a whole note at 20 BPM */
	uint32_t n = (uint32_t)d + 100;
	impulse(bl, NULL, n, 1.0f, 0.0f);
	run(&fx_delay, fx, bl, NULL, n, 4096);
	char name[96];
	snprintf(name, sizeof name, "sync %s at %g BPM", what, bpm);
	check_kernel(bl, n, d, name);
	fx_delay.destroy(fx);
}

static void test_sync(void)
{
	check_sync(3, 120.0, 1.0, "1/4");              /* 24000 */
	check_sync(8, 100.0, 0.75, "1/8 dotted");      /* 0.45 s = 21600 */
	check_sync(11, 120.0, 1.0 / 3.0, "1/8 triplet");/* 8000 */
	check_sync(10, 90.0, 2.0 / 3.0, "1/4 triplet");/* 21333.33: fractional */
	check_sync(12, 140.0, 1.0 / 6.0, "1/16 triplet");
	check_sync(6, 200.0, 0.125, "1/32");
	check_sync(9, 75.0, 0.375, "1/16 dotted");
	check_sync(1, 20.0, 4.0, "1/1");               /* 12 s: the longest */
	check_sync(1, 10.0, 4.0, "1/1 (clamped)");

	/* Follow the tempo; time is ignored while synced. */
	void *fx = clean(&fx_delay, RATE, 1, 10.0f);
	setp(&fx_delay, fx, "sync", 3.0f);
	fx_delay.reset(fx);
	memset(bl, 0, sizeof bl);
	run(&fx_delay, fx, bl, NULL, 5000, 128);
	fx_delay.set_tempo(fx, 60.0);
	setp(&fx_delay, fx, "time", 200.0f);
	memset(bl, 0, 4000 * sizeof *bl);
	run(&fx_delay, fx, bl, NULL, 4000, 128);   /* the crossfade ends */
	impulse(bl, NULL, 50000, 1.0f, 0.0f);
	run(&fx_delay, fx, bl, NULL, 50000, 128);
	check_kernel(bl, 50000, 48000.0, "1/4 after set_tempo(60)");
	fx_delay.set_tempo(fx, 150.0);
	memset(bl, 0, BIG * sizeof *bl);
	run(&fx_delay, fx, bl, NULL, 60000, 128);   /* old echoes out, crossfade over */
	impulse(bl, NULL, 20000, 1.0f, 0.0f);
	run(&fx_delay, fx, bl, NULL, 20000, 128);
	check_kernel(bl, 20000, 19200.0, "1/4 after set_tempo(150)");
	setp(&fx_delay, fx, "sync", 0.0f);
	memset(bl, 0, BIG * sizeof *bl);
	run(&fx_delay, fx, bl, NULL, 30000, 128);
	impulse(bl, NULL, 20000, 1.0f, 0.0f);
	run(&fx_delay, fx, bl, NULL, 20000, 128);
	check_kernel(bl, 20000, 9600.0, "sync off: back to time = 200 ms");

	/* Automation at every block: changes queue behind the running
	 * crossfade and the head ends where the last one asked. */
	memset(bl, 0, BIG * sizeof *bl);
	for (int k = 0; k < 40; k++) {
		setp(&fx_delay, fx, "time", 100.0f + 7.3f * (float)k);
		run(&fx_delay, fx, bl, NULL, 64, 64);
	}
	setp(&fx_delay, fx, "time", 150.0f);
	memset(bl, 0, BIG * sizeof *bl);
	run(&fx_delay, fx, bl, NULL, 40000, 64);
	impulse(bl, NULL, 10000, 1.0f, 0.0f);
	run(&fx_delay, fx, bl, NULL, 10000, 64);
	check_kernel(bl, 10000, 7200.0, "after 40 changes, one per 64-frame block: the last (150 ms)");
	fx_delay.destroy(fx);
}

/* Amplitude of the w (rad/sample) component of y[0..n). */
static double amplitude(const float *y, uint32_t n, double w)
{
	double s = 0.0, c = 0.0;
	for (uint32_t i = 0; i < n; i++) {
		s += y[i] * sin(w * i);
		c += y[i] * cos(w * i);
	}
	return 2.0 * sqrt(s * s + c * c) / n;
}

static void sine(float *y, uint32_t n, double hz, float amp, uint32_t from)
{
	for (uint32_t i = 0; i < n; i++)
		y[i] = amp * (float)sin(2.0 * M_PI * hz * (double)(from + i) / RATE);
}

/* One-pole low-pass y = a x + (1 - a) y at w. */
static double complex_lp(double fc, double w, double *re, double *im)
{
	double a = fc >= 20000.0 ? 1.0 : 1.0 - exp(-2.0 * M_PI * fc / RATE);
	/* a / (1 - (1 - a) e^-jw) */
	double dr = 1.0 - (1.0 - a) * cos(w), di = (1.0 - a) * sin(w);
	double m = dr * dr + di * di;
	*re = a * dr / m;
	*im = -a * di / m;
	return sqrt(*re * *re + *im * *im);
}

static void test_damping(void)
{
	static const double fcs[] = { 1000.0, 4000.0, 8000.0, 20000.0 };
	double w = 2.0 * M_PI * 8000.0 / RATE;
	for (int j = 0; j < 4; j++) {
		void *fx = clean(&fx_delay, RATE, 1, 10.0f);
		setp(&fx_delay, fx, "damp", (float)fcs[j]);
		fx_delay.reset(fx);
		sine(bl, 48000, 8000.0, 0.5f, 0);
		run(&fx_delay, fx, bl, NULL, 48000, 4096);
		double re, im, want = 20.0 * log10(complex_lp(fcs[j], w, &re, &im));
		double got = 20.0 * log10(amplitude(bl + 2400, 24000, w) / 0.5);
		CHECK(fabs(got - want) < 0.5 && fabs(got - want) < 0.01,
		      "damp %.0f Hz: 8 kHz echo at %.3f dB, one-pole says %.3f dB", fcs[j], got, want);
		fx_delay.destroy(fx);
	}
}

/* The loop as a whole: mix 100, out = L z^-D / (1 - f L H z^-D), with L
 * the damping low-pass and H the low-cut high-pass. */
static void check_loop(double hz, float fb, float lowcut, float damp, float ms)
{
	void *fx = clean(&fx_delay, RATE, 1, ms);
	setp(&fx_delay, fx, "feedback", fb);
	setp(&fx_delay, fx, "lowcut", lowcut);
	setp(&fx_delay, fx, "damp", damp);
	fx_delay.reset(fx);
	uint32_t n = 3 * RATE;
	sine(bl, n, hz, 0.25f, 0);
	run(&fx_delay, fx, bl, NULL, n, 4096);
	double w = 2.0 * M_PI * hz / RATE, D = ms * RATE / 1000.0;
	double lr, li;
	complex_lp(damp, w, &lr, &li);
	double hr = 1.0, hi = 0.0;
	if (lowcut > 10.0f) {
		double R = exp(-2.0 * M_PI * lowcut / RATE), b = (1.0 + R) / 2.0;
		/* b (1 - e^-jw) / (1 - R e^-jw) */
		double nr = b * (1.0 - cos(w)), ni = b * sin(w);
		double dr = 1.0 - R * cos(w), di = R * sin(w);
		double m = dr * dr + di * di;
		hr = (nr * dr + ni * di) / m;
		hi = (ni * dr - nr * di) / m;
	}
	double zr = cos(w * D), zi = -sin(w * D);
	/* numerator L z^-D, loop f L H z^-D */
	double nr = lr * zr - li * zi, ni = lr * zi + li * zr;
	double f = fb / 100.0;
	double gr = f * (nr * hr - ni * hi), gi = f * (nr * hi + ni * hr);
	double want = sqrt(nr * nr + ni * ni) / sqrt((1 - gr) * (1 - gr) + gi * gi);
	double got = amplitude(bl + 2 * RATE, RATE, w) / 0.25;
	CHECK(fabs(20.0 * log10(got / want)) < 0.05,
	      "loop %.0f Hz, feedback %.0f%%, lowcut %.0f, damp %.0f: gain %.4f, transfer function %.4f",
	      hz, fb, lowcut, damp, got, want);
	fx_delay.destroy(fx);
}

static void test_loop(void)
{
	check_loop(30.0, 90.0f, 200.0f, 20000.0f, 10.0f);
	check_loop(1000.0, 80.0f, 20.0f, 3000.0f, 10.0f);
	check_loop(5000.0, 70.0f, 10.0f, 6000.0f, 7.0f);
	check_loop(440.0, 95.0f, 100.0f, 1000.0f, 3.3f);   /* fractional: 158.4 samples */
}

static void test_decay(void)
{
	/* 95 %, no damping, no low cut: an impulse decays and never grows. */
	void *fx = clean(&fx_delay, RATE, 1, 375.0f);
	setp(&fx_delay, fx, "feedback", 95.0f);
	fx_delay.reset(fx);
	uint32_t n = 22 * RATE;
	static float y[22 * 48000];
	impulse(y, NULL, n, 1.0f, 0.0f);
	run(&fx_delay, fx, y, NULL, n, 4096);
	double e1 = 0.0, e20 = 0.0, peak = 0.0;
	for (uint32_t i = 1; i < n; i++)
		peak = fmax(peak, fabs(y[i]));
	for (uint32_t i = RATE; i < 2 * RATE; i++)
		e1 += (double)y[i] * y[i];
	for (uint32_t i = 20 * RATE; i < 21 * RATE; i++)
		e20 += (double)y[i] * y[i];
	CHECK(e20 < e1 * 0.01 && peak <= 1.0 + 1e-6,
	      "feedback 95%%: energy over 20..21 s %.3g < 1%% of 1..2 s %.3g; peak %.6f <= 1", e20, e1, peak);
	fx_delay.destroy(fx);

	/* Fractional delay (cubic reads at t = 1/2) and noise: still decays,
	 * and stays below the loop's bound 1 / (1 - 0.95) = 20 x input. */
	fx = clean(&fx_delay, 44100, 1, 375.0f);
	setp(&fx_delay, fx, "feedback", 95.0f);
	fx_delay.reset(fx);
	for (uint32_t i = 0; i < n; i++)
		y[i] = i < 44100 ? noise() : 0.0f;
	run(&fx_delay, fx, y, NULL, n, 4096);
	e1 = e20 = peak = 0.0;
	for (uint32_t i = 0; i < n; i++)
		peak = fmax(peak, fabs(y[i]));
	for (uint32_t i = 44100; i < 2 * 44100; i++)
		e1 += (double)y[i] * y[i];
	for (uint32_t i = 20 * 44100; i < 21 * 44100; i++)
		e20 += (double)y[i] * y[i];
	CHECK(e20 < e1 * 0.05 && peak < 20.0, "fractional, noise: energy 20 s %.3g < 5%% of 1 s %.3g, peak %.2f",
	      e20, e1, peak);
	fx_delay.destroy(fx);
}

static void test_pingpong(void)
{
	const struct fx_type *t = &fx_pingpong;
	static const float widths[] = { 100.0f, 50.0f, 0.0f };
	for (int j = 0; j < 3; j++) {
		void *fx = clean(t, RATE, 2, 10.0f);
		setp(t, fx, "feedback", 50.0f);
		setp(t, fx, "width", widths[j]);
		t->reset(fx);
		impulse(bl, br, 3000, 1.0f, 0.0f);
		run(t, fx, bl, br, 3000, 64);
		/* the loop gets the stereo mean: 0.5; echo k is 0.5 f^(k-1) on
		 * the left for odd k, the right for even k */
		float a = 0.5f + 0.5f * widths[j] / 100.0f, b = 0.5f - 0.5f * widths[j] / 100.0f;
		double worst = 0.0, rest = 0.0;
		for (uint32_t i = 1; i < 3000; i++) {
			double el = 0.0, er = 0.0;
			if (i % 480 == 0) {
				int k = (int)(i / 480);
				double amp = 0.5 * pow(0.5, k - 1);
				bool left = k & 1;
				el = amp * (left ? a : b);
				er = amp * (left ? b : a);
				worst = fmax(worst, fmax(fabs(bl[i] - el), fabs(br[i] - er)));
			} else {
				rest = fmax(rest, fmax(fabs(bl[i]), fabs(br[i])));
			}
		}
		CHECK(worst < 1e-6 && rest < 1e-9,
		      "pingpong width %.0f: echoes alternate L, R, L with 0.5 f^(k-1) (error %.1e, between %.1e)",
		      widths[j], worst, rest);
		if (j == 0)
			CHECK(bl[480] == 0.5f && fabsf(br[480]) < 1e-12f && fabsf(bl[960]) < 1e-12f
			      && br[960] == 0.25f && bl[1440] == 0.125f && fabsf(br[1440]) < 1e-12f,
			      "width 100, left impulse: first echo left only (%g, %g), second right only (%g, %g)",
			      bl[480], br[480], bl[960], br[960]);
		t->destroy(fx);
	}
	/* Mono in and out: the input enters the left line; both lines are
	 * heard. */
	void *fx = clean(t, RATE, 1, 10.0f);
	setp(t, fx, "feedback", 50.0f);
	t->reset(fx);
	impulse(bl, NULL, 2000, 1.0f, 0.0f);
	run(t, fx, bl, NULL, 2000, 100);
	CHECK(bl[480] == 1.0f && bl[960] == 0.5f && bl[1440] == 0.25f, "mono pingpong: 1, f, f^2 (%g %g %g)",
	      bl[480], bl[960], bl[1440]);
	t->destroy(fx);
}

static void tap(void *fx, int k, float ms, float db, float pan)
{
	char name[24];
	snprintf(name, sizeof name, "time%d", k);
	setp(&fx_multitap, fx, name, ms);
	snprintf(name, sizeof name, "level%d", k);
	setp(&fx_multitap, fx, name, db);
	snprintf(name, sizeof name, "pan%d", k);
	setp(&fx_multitap, fx, name, pan);
}

static void test_multitap(void)
{
	const struct fx_type *t = &fx_multitap;
	void *fx = clean(t, RATE, 2, 0.0f);
	for (int k = 1; k <= 8; k++)
		tap(fx, k, 0.0f, 0.0f, 0.0f);
	tap(fx, 1, 10.0f, -6.0f, -1.0f);
	tap(fx, 2, 20.0f, 0.0f, 0.0f);
	tap(fx, 6, 25.0f, -12.0f, 0.5f);
	t->reset(fx);
	impulse(bl, br, 4000, 1.0f, 1.0f);
	run(t, fx, bl, br, 4000, 13);
	double g1 = pow(10.0, -6.0 / 20.0), g6 = pow(10.0, -12.0 / 20.0);
	struct { uint32_t at; double l, r; } want[] = {
		{ 480, g1, 0.0 },
		{ 960, sqrt(0.5), sqrt(0.5) },
		{ 1200, g6 * sqrt(0.25), g6 * sqrt(0.75) },
	};
	double worst = 0.0, rest = 0.0;
	for (uint32_t i = 1; i < 4000; i++) {
		double el = 0.0, er = 0.0;
		bool tapped = false;
		for (int j = 0; j < 3; j++)
			if (want[j].at == i) {
				el = want[j].l;
				er = want[j].r;
				tapped = true;
			}
		if (tapped)
			worst = fmax(worst, fmax(fabs(bl[i] - el), fabs(br[i] - er)));
		else
			rest = fmax(rest, fmax(fabs(bl[i]), fabs(br[i])));
	}
	CHECK(worst < 1e-6 && rest < 1e-9,
	      "multitap: taps at 480, 960, 1200 with level and constant-power pan (error %.1e, between %.1e)",
	      worst, rest);

	/* Feedback from the last active tap (tap 6, 25 ms = 1200 samples):
	 * the line gets f x that tap again, and every tap reads it. */
	setp(t, fx, "feedback", 50.0f);
	t->reset(fx);
	impulse(bl, br, 4000, 1.0f, 1.0f);
	run(t, fx, bl, br, 4000, 64);
	CHECK(fabs(bl[1680] - 0.5 * g1) < 1e-6 && fabs(bl[2160] - 0.5 * sqrt(0.5)) < 1e-6
	      && fabs(br[2400] - 0.5 * g6 * sqrt(0.75)) < 1e-6 && fabs(bl[1200 * 2 + 480] - 0.25 * g1) < 1e-6,
	      "multitap feedback from the last tap: %g at 1680, %g at 2160, %g at 2400, %g at 2880",
	      bl[1680], bl[2160], br[2400], bl[2880]);

	/* Tempo grid: with 1/16, 250 ms = 2 sixteenths; at 100 BPM that is
	 * 300 ms = 14400 samples. */
	setp(t, fx, "feedback", 0.0f);
	tap(fx, 2, 0.0f, 0.0f, 0.0f);
	tap(fx, 6, 0.0f, 0.0f, 0.0f);
	tap(fx, 1, 250.0f, 0.0f, 1.0f);
	setp(t, fx, "sync", 5.0f);
	t->set_tempo(fx, 100.0);
	t->reset(fx);
	impulse(bl, br, 16000, 1.0f, 1.0f);
	run(t, fx, bl, br, 16000, 4096);
	check_kernel(br, 16000, 14400.0, "multitap tap 1 = 2 sixteenths at 100 BPM");
	t->destroy(fx);

	/* Mono: the pan is ignored, the level stays. */
	fx = clean(t, RATE, 1, 0.0f);
	for (int k = 1; k <= 8; k++)
		tap(fx, k, 0.0f, 0.0f, 0.0f);
	tap(fx, 3, 5.0f, -6.0f, 1.0f);
	t->reset(fx);
	impulse(bl, NULL, 1000, 1.0f, 0.0f);
	run(t, fx, bl, NULL, 1000, 1);
	CHECK(fabs(bl[240] - g1) < 1e-6, "mono multitap: tap at 240 with level -6 dB (%g)", bl[240]);
	t->destroy(fx);
}

/* ------------------------------------------------------------------ */
/* Clicks: a changing parameter on a steady sine, seen in the third
 * difference d3 = y[n] - 3 y[n-1] + 3 y[n-2] - y[n-3] of the output. A
 * sine of amplitude A at w gives at most 2 A w^3 (the factor 2 covers
 * (2 sin(w/2))^3 < w^3 and amplitude changes); the corner where a 20 ms
 * (960-frame) linear ramp or a crossfade starts or stops, a change of
 * slope of at most 2 A / 960, gives that much; a step of s in the output
 * gives 2 s. So the bound 2 A w^3 + 2 A / 960 is met by ramps and
 * crossfades and broken by any step above about A / 960 + A w^3 (0.13 %
 * of the peak at 440 Hz): a hard splice breaks it (checked below). */

#define RAMP_FRAMES 960.0

struct change {
	const struct fx_type *t;
	int ch;
	double hz;
	const char *what;
	const char *names[3];
	float before[3], after[3];
	double bpm_before, bpm_after;
};

static double third_diff_peak(const float *y, uint32_t from, uint32_t to)
{
	double worst = 0.0;
	for (uint32_t i = from + 3; i < to; i++)
		worst = fmax(worst, fabs((double)y[i] - 3.0 * y[i - 1] + 3.0 * y[i - 2] - y[i - 3]));
	return worst;
}

static double peak_of(const float *y, uint32_t from, uint32_t to)
{
	double p = 0.0;
	for (uint32_t i = from; i < to; i++)
		p = fmax(p, fabs(y[i]));
	return p;
}

static double click_bound(double amp, double w)
{
	return 2.0 * amp * w * w * w + 2.0 * amp / RAMP_FRAMES;
}

static void check_change(const struct change *c)
{
	const struct fx_type *t = c->t;
	void *fx = t->create(RATE, c->ch);
	if (!fx)
		return;
	for (int j = 0; j < 3 && c->names[j]; j++)
		setp(t, fx, c->names[j], c->before[j]);
	if (c->bpm_before > 0.0)
		t->set_tempo(fx, c->bpm_before);
	t->reset(fx);
	uint32_t n = 2 * RATE, at = RATE;
	/* a sine that fades in over 50 ms, so its echoes start softly too */
	for (uint32_t i = 0; i < n; i++) {
		double fade = i < 2400 ? 0.5 - 0.5 * cos(M_PI * i / 2400.0) : 1.0;
		bl[i] = (float)(0.5 * fade * sin(2.0 * M_PI * c->hz * i / RATE));
		br[i] = bl[i];
	}
	run(t, fx, bl, c->ch == 2 ? br : NULL, at, 256);
	for (int j = 0; j < 3 && c->names[j]; j++)
		setp(t, fx, c->names[j], c->after[j]);
	if (c->bpm_after > 0.0)
		t->set_tempo(fx, c->bpm_after);
	run(t, fx, bl + at, c->ch == 2 ? br + at : NULL, n - at, 256);
	double w = 2.0 * M_PI * c->hz / RATE;
	for (int side = 0; side < c->ch; side++) {
		const float *y = side ? br : bl;
		double amp = peak_of(y, 0, n);
		double got = third_diff_peak(y, 0, n), bound = click_bound(amp, w);
		CHECK(got < bound, "%s %s (%s): largest third difference %.2e < %.2e (peak %.3f)",
		      t->id, c->what, side ? "right" : "left", got, bound, amp);
	}
	t->destroy(fx);
}

static void test_clicks(void)
{
	static const struct change changes[] = {
		{ &fx_delay, 1, 440, "time 300 -> 201.1 ms", { "time", "feedback", "mix" },
		  { 300, 50, 50 }, { 201.1f, 50, 50 }, 0, 0 },
		{ &fx_delay, 2, 440, "time 200 -> 1.7 ms", { "time", "feedback", "mix" },
		  { 200, 80, 50 }, { 1.7f, 80, 50 }, 0, 0 },
		{ &fx_delay, 1, 440, "sync 1/4 -> 1/8 dotted", { "sync", "feedback", "mix" },
		  { 3, 50, 50 }, { 8, 50, 50 }, 0, 0 },
		{ &fx_delay, 1, 440, "tempo 120 -> 90 while synced", { "sync", "feedback", "mix" },
		  { 4, 50, 50 }, { 4, 50, 50 }, 120, 90 },
		{ &fx_delay, 1, 440, "mix 0 -> 100", { "mix", "time", NULL }, { 0, 10 }, { 100, 10 }, 0, 0 },
		{ &fx_delay, 1, 440, "feedback 0 -> 90", { "feedback", "mix", "time" },
		  { 0, 50, 10 }, { 90, 50, 10 }, 0, 0 },
		{ &fx_delay, 1, 1000, "damp 20000 -> 1000", { "damp", "mix", "feedback" },
		  { 20000, 100, 50 }, { 1000, 100, 50 }, 0, 0 },
		{ &fx_delay, 1, 50, "lowcut 10 -> 1000", { "lowcut", "mix", "feedback" },
		  { 10, 100, 90 }, { 1000, 100, 90 }, 0, 0 },
		{ &fx_delay, 1, 50, "lowcut 1000 -> 10 (bypass)", { "lowcut", "mix", "feedback" },
		  { 1000, 100, 90 }, { 10, 100, 90 }, 0, 0 },
		{ &fx_pingpong, 2, 440, "width 100 -> 0", { "width", "mix", NULL }, { 100, 50 }, { 0, 50 }, 0, 0 },
		{ &fx_pingpong, 2, 440, "time 375 -> 100", { "time", "mix", "feedback" },
		  { 375, 50, 60 }, { 100, 50, 60 }, 0, 0 },
		{ &fx_multitap, 2, 440, "tap 5 on", { "time5", "level5", "mix" }, { 0, 0, 50 }, { 100, 0, 50 }, 0, 0 },
		{ &fx_multitap, 2, 440, "tap 1 off", { "time1", "mix", NULL }, { 125, 50 }, { 0, 50 }, 0, 0 },
		{ &fx_multitap, 2, 440, "tap 1 level -3 -> -60, pan -0.6 -> 1", { "level1", "pan1", "mix" },
		  { -3, -0.6f, 50 }, { -60, 1, 50 }, 0, 0 },
		{ &fx_multitap, 2, 440, "tap 2 time 250 -> 183", { "time2", "mix", NULL }, { 250, 50 }, { 183, 50 }, 0, 0 },
		{ &fx_multitap, 2, 440, "last tap off: feedback head moves", { "time4", "feedback", "mix" },
		  { 500, 80, 50 }, { 0, 80, 50 }, 0, 0 },
		{ &fx_multitap, 1, 440, "sync on, tempo 120 -> 133", { "sync", "feedback", "mix" },
		  { 5, 50, 50 }, { 5, 50, 50 }, 120, 133 },
	};
	for (size_t j = 0; j < sizeof changes / sizeof *changes; j++)
		check_change(&changes[j]);

	/* The detector catches a hard switch: outputs of two delays (300 and
	 * 200 ms) spliced without a crossfade. */
	void *a = fx_delay.create(RATE, 1), *b = fx_delay.create(RATE, 1);
	setp(&fx_delay, a, "time", 300.0f);
	setp(&fx_delay, b, "time", 200.0f);
	fx_delay.reset(a);
	fx_delay.reset(b);
	for (uint32_t i = 0; i < RATE; i++)
		cl[i] = cr[i] = (float)(0.5 * sin(2.0 * M_PI * 440.0 * i / RATE) * (i < 2400 ? i / 2400.0 : 1.0));
	run(&fx_delay, a, cl, NULL, RATE, 256);
	run(&fx_delay, b, cr, NULL, RATE, 256);
	/* splice where the two differ by 5 % of the peak: a modest click */
	double w = 2.0 * M_PI * 440.0 / RATE, amp = peak_of(cl, 0, RATE);
	uint32_t at = RATE / 2;
	while (at < RATE - 1 && fabs(cl[at] - cr[at]) < 0.05 * amp)
		at++;
	memcpy(bl, cl, at * sizeof *bl);
	memcpy(bl + at, cr + at, (RATE - at) * sizeof *bl);
	double got = third_diff_peak(bl, 0, RATE);
	CHECK(got > click_bound(amp, w), "a hard switch (a step of %.3f at %u) breaks the bound: %.2e > %.2e",
	      fabs(cl[at] - cr[at]), at, got, click_bound(amp, w));
	fx_delay.destroy(a);
	fx_delay.destroy(b);
}

/* ------------------------------------------------------------------ */
/* Block-size independence: the same input and the same changes at the
 * same frames give the same samples for any cut into blocks. */

static void apply_changes(const struct fx_type *t, void *fx, int stage)
{
	if (t == &fx_multitap) {
		if (stage == 1) {
			setp(t, fx, "time2", 180.0f);
			setp(t, fx, "time4", 0.0f);        /* feedback head moves */
			setp(t, fx, "time6", 60.5f);       /* a tap comes in */
			setp(t, fx, "level1", -20.0f);
			setp(t, fx, "pan3", 0.9f);
			setp(t, fx, "feedback", 70.0f);
			setp(t, fx, "lowcut", 10.0f);
		} else if (stage == 2) {
			setp(t, fx, "sync", 5.0f);
			t->set_tempo(fx, 97.0);
			setp(t, fx, "damp", 2500.0f);
			setp(t, fx, "lowcut", 300.0f);
		} else {
			setp(t, fx, "time2", 333.3f);     /* during the crossfade below */
			setp(t, fx, "mix", 80.0f);
		}
		return;
	}
	if (stage == 1) {
		setp(t, fx, "time", 123.4f);
		setp(t, fx, "feedback", 90.0f);
		setp(t, fx, "damp", 3000.0f);
		setp(t, fx, "lowcut", 10.0f);
		if (t == &fx_pingpong)
			setp(t, fx, "width", 40.0f);
	} else if (stage == 2) {
		setp(t, fx, "sync", 10.0f);
		t->set_tempo(fx, 133.0);
		setp(t, fx, "lowcut", 150.0f);
		setp(t, fx, "mix", 90.0f);
	} else {
		setp(t, fx, "sync", 0.0f);           /* a time change during a crossfade */
		setp(t, fx, "time", 77.7f);
	}
}

static void render(const struct fx_type *t, int ch, uint32_t block, const uint32_t *stages, int nstages,
		   uint32_t n, float *l, float *r)
{
	void *fx = t->create(RATE, ch);
	if (!fx)
		return;
	seed = 77;
	for (uint32_t i = 0; i < n; i++) {
		l[i] = 0.5f * noise() + (i % 300 < 150 ? 0.3f : -0.3f);
		r[i] = 0.5f * noise();
	}
	uint32_t at = 0;
	for (int s = 0; s <= nstages; s++) {
		uint32_t end = s < nstages ? stages[s] : n;
		run(t, fx, l + at, ch == 2 ? r + at : NULL, end - at, block);
		if (s < nstages)
			apply_changes(t, fx, s + 1);
		at = end;
	}
	t->destroy(fx);
}

static void check_blocks(const struct fx_type *t, int ch, const uint32_t *blocks, int nblocks,
			 const uint32_t *stages, int nstages, uint32_t n)
{
	render(t, ch, blocks[nblocks - 1], stages, nstages, n, cl, cr);
	for (int b = 0; b < nblocks - 1; b++) {
		render(t, ch, blocks[b], stages, nstages, n, bl, br);
		uint32_t diffs = 0, first = n;
		for (uint32_t i = 0; i < n; i++) {
			bool same = bl[i] == cl[i] && (ch == 1 || br[i] == cr[i]);
			if (!same) {
				diffs++;
				if (first == n)
					first = i;
			}
		}
		CHECK(diffs == 0, "%s x%d: blocks of %u and %u give identical samples (%u differ, first at %u)",
		      t->id, ch, blocks[b], blocks[nblocks - 1], diffs, first);
	}
}

static void test_blocks(void)
{
	const struct fx_type *types[] = { &fx_delay, &fx_pingpong, &fx_multitap };
	/* changes where every block size cuts: multiples of 13 * 4096 */
	static const uint32_t blocks[] = { 1, 13, 64, 4096 };
	static const uint32_t stages[] = { 53248, 106496 };
	/* and a change during a crossfade (640 frames after the last) */
	static const uint32_t blocks2[] = { 1, 5, 64, 128 };
	static const uint32_t stages2[] = { 6400, 12800, 13440 };
	for (int j = 0; j < 3; j++)
		for (int ch = 1; ch <= 2; ch++) {
			check_blocks(types[j], ch, blocks, 4, stages, 2, 3 * 53248);
			check_blocks(types[j], ch, blocks2, 4, stages2, 3, 40000);
		}
}

/* ------------------------------------------------------------------ */
/* Every parameter at its extremes and at random: finite and bounded. */

static float xbuf[FX_MAX_CHANNELS][8192];

static void run_many(const struct fx_type *t, void *fx, int ch, uint32_t n)
{
	float *buf[FX_MAX_CHANNELS];
	for (uint32_t at = 0; at < n; at += 256) {
		for (int c = 0; c < ch; c++)
			buf[c] = xbuf[c] + at;
		t->process(fx, buf, n - at < 256 ? n - at : 256);
	}
}

static void check_extremes(const struct fx_type *t, uint32_t rate, int ch, double bound)
{
	void *fx = t->create(rate, ch);
	CHECK(fx != NULL, "%s: create at %u Hz x%d", t->id, rate, ch);
	if (!fx)
		return;
	const uint32_t n = 8192;
	double worst = 0.0, silence = 0.0;
	bool finite = true;
	seed = 99;
	for (int setting = 0; setting < 7; setting++) {
		for (int i = 0; i < t->nparams; i++) {
			const struct fx_param *p = &t->params[i];
			float u = (noise() + 1.0f) / 2.0f;
			float v = setting == 0 ? p->min : setting == 1 ? p->max : setting == 2 ? p->def
				: p->curve == FX_LOG ? p->min * powf(p->max / p->min, u) : p->min + u * (p->max - p->min);
			if (p->curve == FX_CHOICE)
				v = roundf(v);
			t->set(fx, i, v);
		}
		t->set_tempo(fx, setting == 0 ? 20.0 : setting == 1 ? 300.0 : 60.0 + 100.0 * (noise() + 1.0));
		for (int signal = 0; signal < 3; signal++) {
			if (signal == 2)
				t->reset(fx);
			for (int rep = 0; rep < 6; rep++) {
				for (int c = 0; c < ch; c++)
					for (uint32_t i = 0; i < n; i++) {
						float sq = ((i + 11 * (uint32_t)c) / 37) & 1 ? 1.0f : -1.0f;
						xbuf[c][i] = signal == 0 ? noise() : signal == 1 ? sq : 0.0f;
					}
				run_many(t, fx, ch, n);
				for (int c = 0; c < ch; c++)
					for (uint32_t i = 0; i < n; i++) {
						finite = finite && isfinite(xbuf[c][i]);
						worst = fmax(worst, fabs(xbuf[c][i]));
						if (signal == 2)
							silence = fmax(silence, fabs(xbuf[c][i]));
					}
			}
		}
	}
	CHECK(finite && worst < bound && silence < 1e-12,
	      "%s at %u Hz x%d: extremes and random settings on noise, square, silence: finite, peak %.2f < %.0f, silence %.1e",
	      t->id, rate, ch, worst, bound, silence);
	/* huge and non-finite input: the loop stays finite and recovers */
	t->reset(fx);
	for (int c = 0; c < ch; c++)
		for (uint32_t i = 0; i < n; i++)
			xbuf[c][i] = i == 10 ? NAN : i == 20 ? INFINITY : i < 40 ? 1e30f : 0.0f;
	run_many(t, fx, ch, n);
	double after = 0.0;
	for (int rep = 0; rep < 300; rep++) {
		memset(xbuf, 0, sizeof xbuf);
		run_many(t, fx, ch, n);
	}
	for (int c = 0; c < ch; c++)
		after = fmax(after, peak_of(xbuf[c], 0, n));
	CHECK(isfinite(after) && after < 1e6, "%s x%d: NaN, Inf and 1e30 at the input leave finite state (%.3g)",
	      t->id, ch, after);
	t->destroy(fx);
}

static void test_extremes(void)
{
	/* The loop gain stays <= 0.95, so a steady input of peak 1 builds at
	 * most 1 / (1 - 0.95) = 20 in a line (a square's harmonics add a
	 * little more); out = dry + wet: 25 is the bound for one line, and
	 * the multitap adds up to 8 taps. */
	for (int ch = 1; ch <= 2; ch++) {
		check_extremes(&fx_delay, RATE, ch, 25.0);
		check_extremes(&fx_pingpong, RATE, ch, 25.0);
		check_extremes(&fx_multitap, RATE, ch, 8 * 25.0);
		check_extremes(&fx_delay, 44100, ch, 25.0);
	}
	check_extremes(&fx_delay, 96000, 8, 25.0);
}

static void test_reset(void)
{
	void *fx = fx_delay.create(RATE, 2);
	impulse(bl, br, 30000, 1.0f, 1.0f);
	run(&fx_delay, fx, bl, br, 30000, 512);
	fx_delay.reset(fx);
	memset(bl, 0, 40000 * sizeof *bl);
	memset(br, 0, 40000 * sizeof *br);
	run(&fx_delay, fx, bl, br, 40000, 512);
	CHECK(peak_of(bl, 0, 40000) < 1e-12 && peak_of(br, 0, 40000) < 1e-12, "reset forgets the echoes");
	fx_delay.destroy(fx);
}

/* ------------------------------------------------------------------ */

static void time_one(const struct fx_type *t, const char *what, const char *name, float value)
{
	void *fx = t->create(RATE, 2);
	if (!fx)
		return;
	if (name)
		setp(t, fx, name, value);
	t->reset(fx);
	const uint32_t n = 10 * RATE, block = 128;
	for (uint32_t i = 0; i < n; i++) {
		bl[i % BIG] = 0.5f * noise();
		br[i % BIG] = 0.5f * noise();
	}
	/* the best of five runs: the machine may be shared */
	double s = 1e30;
	for (int rep = 0; rep < 5; rep++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (uint32_t at = 0; at < n; at += block) {
			uint32_t o = at % (BIG - block);
			float *buf[2] = { bl + o, br + o };
			t->process(fx, buf, block);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		s = fmin(s, (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9);
	}
	printf("timing: %-9s %-28s %6.2f ns/frame, %6.0fx realtime (stereo 48 kHz, 128-frame blocks)\n",
	       t->id, what, s * 1e9 / n, (double)n / RATE / s);
	t->destroy(fx);
}

int main(void)
{
	test_tables();
	test_impulse();
	test_feedback();
	test_sync();
	test_damping();
	test_loop();
	test_decay();
	test_pingpong();
	test_multitap();
	test_clicks();
	test_blocks();
	test_extremes();
	test_reset();
	time_one(&fx_delay, "defaults (375 ms)", NULL, 0.0f);
	time_one(&fx_delay, "fractional (333.33 ms)", "time", 333.33f);
	time_one(&fx_pingpong, "defaults", NULL, 0.0f);
	time_one(&fx_multitap, "defaults (4 taps)", NULL, 0.0f);
	time_one(&fx_multitap, "fractional taps", "time2", 250.01f);
	printf("test-fx-delay: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
