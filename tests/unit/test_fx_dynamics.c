/*
 * cl-fx dynamics (compressor, limiter, expander, gate) against known
 * answers.
 *
 * Levels: "-10 dBFS sine" means a sine whose PEAK is -10 dBFS when the
 * detector is in peak mode, and whose RMS is -10 dBFS in RMS mode; the
 * output is read the same way (peak or RMS over the settled end). Time
 * constants: a step of gain reduction in dB covers 1 - 1/e (63.2 %) of its
 * way in one time constant; the tests step a DC level (so the gain is
 * out / in on every sample) and also a 1 kHz sine for the compressor.
 *
 * Compressor: static curve on sines (peak and RMS), the hard and the soft
 * knee on DC against Giannoulis/Massberg/Reiss's formula at T - W/2, T -
 * W/4, T, T + W/4, T + W/2 and outside, attack and release for several
 * settings (+-10 %), makeup (exact dB), sidechain ducking, linked stereo.
 * Limiter: every sample of hostile input (full-scale squares, clipped
 * noise, single-sample spikes, +20 dB over full scale) at 4 ceilings x 4
 * look-aheads, mono and stereo, with look-ahead and ceiling moving while
 * it runs: max |out| <= ceiling + 1e-6; a signal under the ceiling comes
 * out bit-exact, exactly L frames late, latency() = L (also at 8, 44.1,
 * 96 and 192 kHz, and again once a loud passage has been released); a
 * loud sine is limited to the ceiling (not below it by more than 0.5 dB);
 * release time. Gate: opens above the threshold, closes below threshold -
 * hysteresis to range +-1 dB, hold +-1 ms, no chatter between the
 * thresholds, attack and release times, keyed by the sidechain. Expander:
 * slope below the threshold (+-0.2 dB), range, attack and release times.
 * All four: every parameter at min, max and default plus random sets over
 * noise, square and silence (finite, bounded: compressor 24 dB over the
 * input at most, the others never over it), NaN/Inf bursts leave no
 * trace, blocks of 1, 13, 64, 4096 and 8192 frames bit-identical,
 * parameter steps without clicks, and a timing print. All of it twice:
 * with the code the CPU runs fastest (the limiter has an AVX2 + FMA copy)
 * and with the portable one (CL_FX_SIMD=baseline); then the limiter's
 * two copies must agree within 1e-5.
 */
#include "cl_check.h"
#include "effect.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 48000
#define PI 3.14159265358979323846

/* ------------------------------------------------------------------ */
/* Signals */

struct sig {
	int channels;
	uint32_t n;
	float *x[FX_MAX_CHANNELS];
};

/* `channels` silent lines of n frames (exits on no memory). */
static struct sig sig_new(int channels, uint32_t n)
{
	struct sig s = {.channels = channels, .n = n};
	for (int c = 0; c < channels; c++) {
		s.x[c] = calloc(n ? n : 1, sizeof(float));
		if (s.x[c] == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	return s;
}

/* Frees the lines of s. */
static void sig_free(struct sig *s)
{
	for (int c = 0; c < s->channels; c++)
		free(s->x[c]);
	memset(s, 0, sizeof *s);
}

/* A copy of s with its own lines. */
static struct sig sig_copy(const struct sig *s)
{
	struct sig d = sig_new(s->channels, s->n);
	for (int c = 0; c < s->channels; c++)
		memcpy(d.x[c], s->x[c], s->n * sizeof(float));
	return d;
}

/* Amplitude of db. */
static double db_to_amp(double db)
{
	return pow(10.0, db / 20.0);
}

/* dB of |a| (-600 for 0). */
static double amp_to_db(double a)
{
	return 20.0 * log10(fabs(a) > 1e-30 ? fabs(a) : 1e-30);
}

/* A sine of peak `amp` at freq from frame `from` to `to` on every channel,
 * phase 0 at `from` + phase0 (cosine phase 0 = a crest). */
static void fill_sine(struct sig *s, uint32_t from, uint32_t to, double amp, double freq,
		      double phase0)
{
	for (int c = 0; c < s->channels; c++)
		for (uint32_t i = from; i < to && i < s->n; i++)
			s->x[c][i] = (float)(amp * cos(2.0 * PI * freq * (i - from) / RATE + phase0));
}

/* v on every channel from frame `from` to `to`. */
static void fill_dc(struct sig *s, uint32_t from, uint32_t to, double v)
{
	for (int c = 0; c < s->channels; c++)
		for (uint32_t i = from; i < to && i < s->n; i++)
			s->x[c][i] = (float)v;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Uniform in [-1, 1), from a fixed-seed generator (xorshift64*). */
static double rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	uint64_t r = rng_state * 2685821657736338717ull;
	return (double)(r >> 11) / 4503599627370496.0 - 1.0;
}

/* Uniform noise of peak amp, from the fixed-seed generator. */
static void fill_noise(struct sig *s, uint32_t from, uint32_t to, double amp)
{
	for (int c = 0; c < s->channels; c++)
		for (uint32_t i = from; i < to && i < s->n; i++)
			s->x[c][i] = (float)(amp * rnd());
}

/* Square of peak amp with a period of `period` frames. */
static void fill_square(struct sig *s, uint32_t from, uint32_t to, double amp, uint32_t period)
{
	for (int c = 0; c < s->channels; c++)
		for (uint32_t i = from; i < to && i < s->n; i++)
			s->x[c][i] = (float)(((i - from) % period) < period / 2 ? amp : -amp);
}

/* Largest |sample| over all channels of frames from..to, in dB. */
static double peak_db(const struct sig *s, uint32_t from, uint32_t to)
{
	double m = 0.0;
	for (int c = 0; c < s->channels; c++)
		for (uint32_t i = from; i < to && i < s->n; i++)
			m = fmax(m, fabs(s->x[c][i]));
	return amp_to_db(m);
}

/* RMS of channel c over frames from..to, in dB. */
static double rms_db(const struct sig *s, int c, uint32_t from, uint32_t to)
{
	double sum = 0.0;
	for (uint32_t i = from; i < to; i++)
		sum += (double)s->x[c][i] * s->x[c][i];
	return 10.0 * log10(sum / (to - from) + 1e-300);
}

/* ------------------------------------------------------------------ */
/* Driving an effect */

/* A new instance at RATE (exits when create fails). */
static void *make(const struct fx_type *t, int channels)
{
	void *fx = t->create(RATE, channels);
	if (fx == NULL) {
		fprintf(stderr, "FAIL: %s create(%d, %d) returned NULL\n", t->id, RATE, channels);
		exit(1);
	}
	return fx;
}

/* Index of parameter name (exits when t has none). */
static int param_index(const struct fx_type *t, const char *name)
{
	for (int i = 0; i < t->nparams; i++)
		if (strcmp(t->params[i].name, name) == 0)
			return i;
	fprintf(stderr, "FAIL: %s has no parameter %s\n", t->id, name);
	exit(1);
}

/* Sets parameter name to v, which must be in its range. */
static void setp(const struct fx_type *t, void *fx, const char *name, float v)
{
	int i = param_index(t, name);
	const struct fx_param *p = &t->params[i];
	if (!(v >= p->min && v <= p->max)) {
		fprintf(stderr, "FAIL: test sets %s.%s to %g outside %g..%g\n", t->id, name,
			v, p->min, p->max);
		exit(1);
	}
	t->set(fx, i, v);
}

/* Processes s in place in blocks of `block` frames (sc: sidechain or NULL). */
static void run_sc(const struct fx_type *t, void *fx, struct sig *s, const struct sig *sc,
		   uint32_t block)
{
	for (uint32_t off = 0; off < s->n; off += block) {
		uint32_t len = s->n - off < block ? s->n - off : block;
		float *p[FX_MAX_CHANNELS];
		const float *q[FX_MAX_CHANNELS];
		for (int c = 0; c < s->channels; c++) {
			p[c] = s->x[c] + off;
			if (sc)
				q[c] = sc->x[c] + off;
		}
		if (sc)
			t->process_sidechain(fx, p, q, len);
		else
			t->process(fx, p, len);
	}
}

/* Processes s in place in blocks of `block` frames. */
static void run(const struct fx_type *t, void *fx, struct sig *s, uint32_t block)
{
	run_sc(t, fx, s, NULL, block);
}

/* Nearest whole number of frames in ms at RATE. */
static uint32_t ms_frames(double ms)
{
	return (uint32_t)lround(ms * RATE / 1000.0);
}

/* ------------------------------------------------------------------ */
/* Tables */

/* Ids, parameter tables and entry points. */
static void test_tables(void)
{
	const struct fx_type *types[] = {&fx_compressor, &fx_limiter, &fx_expander, &fx_gate};
	const char *ids[] = {"compressor", "limiter", "expander", "gate"};
	for (int k = 0; k < 4; k++) {
		const struct fx_type *t = types[k];
		CHECK(strcmp(t->id, ids[k]) == 0, "type id %s, want %s", t->id, ids[k]);
		CHECK(t->nparams > 0 && t->nparams <= FX_MAX_PARAMS, "%s nparams %d", t->id, t->nparams);
		CHECK(t->max_channels >= 2 && t->max_channels <= FX_MAX_CHANNELS,
		      "%s max_channels %d", t->id, t->max_channels);
		for (int i = 0; i < t->nparams; i++) {
			const struct fx_param *p = &t->params[i];
			CHECK(p->min <= p->def && p->def <= p->max, "%s.%s default %g outside %g..%g",
			      t->id, p->name, p->def, p->min, p->max);
			CHECK(p->curve != FX_LOG || p->min > 0, "%s.%s log curve with min %g",
			      t->id, p->name, p->min);
			CHECK(p->doc && p->doc[0] && p->unit, "%s.%s has no doc/unit", t->id, p->name);
			for (int j = 0; j < i; j++)
				CHECK(strcmp(p->name, t->params[j].name) != 0, "%s: %s twice",
				      t->id, p->name);
		}
	}
	CHECK(fx_compressor.process_sidechain && fx_gate.process_sidechain &&
	      fx_expander.process_sidechain, "sidechain entry points missing");
	CHECK(fx_limiter.latency != NULL, "limiter reports no latency");
	CHECK(fx_compressor.create(RATE, 0) == NULL && fx_limiter.create(RATE, 9) == NULL &&
	      fx_gate.create(0, 2) == NULL, "create accepts bad arguments");
}

/* ------------------------------------------------------------------ */
/* Compressor */

/* Output peak (detect 0) or RMS (detect 1) in dB after 1.5 s of a 1 kHz
 * sine whose peak or RMS is level_db, stereo. */
static double comp_sine_out(double level_db, int detect, double threshold, double ratio,
			    double knee, double makeup)
{
	const struct fx_type *t = &fx_compressor;
	void *fx = make(t, 2);
	setp(t, fx, "threshold", (float)threshold);
	setp(t, fx, "ratio", (float)ratio);
	setp(t, fx, "knee", (float)knee);
	setp(t, fx, "makeup", (float)makeup);
	setp(t, fx, "detect", (float)detect);
	t->reset(fx);
	uint32_t n = RATE * 3 / 2;
	struct sig s = sig_new(2, n);
	double amp = db_to_amp(level_db) * (detect ? sqrt(2.0) : 1.0);
	fill_sine(&s, 0, n, amp, 1000.0, 0.3);
	run(t, fx, &s, 128);
	double out = detect ? rms_db(&s, 0, n - RATE / 5, n) : peak_db(&s, n - RATE / 5, n);
	sig_free(&s);
	t->destroy(fx);
	return out;
}

/* Output dB after 0.5 s of DC at level_db (the static curve itself). */
static double comp_dc_out(double level_db, double threshold, double ratio, double knee,
			  double makeup)
{
	const struct fx_type *t = &fx_compressor;
	void *fx = make(t, 1);
	setp(t, fx, "threshold", (float)threshold);
	setp(t, fx, "ratio", (float)ratio);
	setp(t, fx, "knee", (float)knee);
	setp(t, fx, "makeup", (float)makeup);
	t->reset(fx);
	uint32_t n = RATE / 2;
	struct sig s = sig_new(1, n);
	fill_dc(&s, 0, n, db_to_amp(level_db));
	run(t, fx, &s, 256);
	double out = amp_to_db(s.x[0][n - 1]);
	sig_free(&s);
	t->destroy(fx);
	return out;
}

/* The paper's static curve: output level for input x. */
static double paper_curve(double x, double t, double r, double w)
{
	if (2.0 * (x - t) < -w)
		return x;
	if (2.0 * fabs(x - t) <= w && w > 0.0)
		return x + (1.0 / r - 1.0) * (x - t + w / 2.0) * (x - t + w / 2.0) / (2.0 * w);
	return t + (x - t) / r;
}

/* Static curve: sines, hard and soft knee on DC, makeup. */
static void test_comp_static(void)
{
	double peak = comp_sine_out(-10.0, 0, -20.0, 4.0, 0.0, 0.0);
	CHECK(fabs(peak - -17.5) <= 0.2, "compressor peak mode: -10 dBFS peak sine -> %.3f dBFS peak, want -17.5 +-0.2", peak);
	double rms = comp_sine_out(-10.0, 1, -20.0, 4.0, 0.0, 0.0);
	CHECK(fabs(rms - -17.5) <= 0.2, "compressor rms mode: -10 dBFS rms sine -> %.3f dBFS rms, want -17.5 +-0.2", rms);
	double below = comp_sine_out(-25.0, 0, -20.0, 4.0, 0.0, 0.0);
	CHECK(fabs(below - -25.0) <= 0.01, "compressor: -25 dBFS sine (under threshold) -> %.3f", below);
	printf("compressor static: sine -10 dBFS peak -> %.3f dBFS peak, rms -> %.3f dBFS rms\n", peak, rms);

	/* The curve itself, on DC: hard knee and a 12 dB soft knee. */
	const double t = -20.0, r = 4.0;
	const double hard_levels[] = {-40.0, -20.0, -15.0, -10.0, 0.0};
	for (unsigned k = 0; k < sizeof hard_levels / sizeof hard_levels[0]; k++) {
		double x = hard_levels[k];
		double got = comp_dc_out(x, t, r, 0.0, 0.0), want = paper_curve(x, t, r, 0.0);
		CHECK(fabs(got - want) <= 0.01, "hard knee: %.1f dB in -> %.4f out, want %.4f", x, got, want);
	}
	const double w = 12.0;
	const double soft_levels[] = {t - w / 2 - 3, t - w / 2, t - w / 4, t, t + w / 4, t + w / 2,
				      t + w / 2 + 3, -2.0};
	double worst = 0.0;
	for (unsigned k = 0; k < sizeof soft_levels / sizeof soft_levels[0]; k++) {
		double x = soft_levels[k];
		double got = comp_dc_out(x, t, r, w, 0.0), want = paper_curve(x, t, r, w);
		worst = fmax(worst, fabs(got - want));
		CHECK(fabs(got - want) <= 0.01, "soft knee %.0f dB: %.2f dB in -> %.4f out, want %.4f",
		      w, x, got, want);
	}
	/* At the centre the paper's curve is T + (1/R - 1) W / 8 under... */
	double centre = comp_dc_out(t, t, r, w, 0.0);
	CHECK(fabs(centre - (t + (1.0 / r - 1.0) * w / 8.0)) <= 0.01,
	      "soft knee centre: %.4f, want %.4f", centre, t + (1.0 / r - 1.0) * w / 8.0);
	printf("compressor knee: worst deviation from the paper's curve %.5f dB\n", worst);

	/* Makeup adds exactly its dB, above and under the threshold. */
	double base = comp_dc_out(-10.0, t, r, 0.0, 0.0), made = comp_dc_out(-10.0, t, r, 0.0, 6.0);
	CHECK(fabs(made - base - 6.0) <= 0.01, "makeup 6 dB adds %.4f dB (compressing)", made - base);
	double quiet = comp_dc_out(-40.0, t, r, 0.0, 13.5);
	CHECK(fabs(quiet - -26.5) <= 0.01, "makeup 13.5 dB under threshold: -40 -> %.4f", quiet);
}

/* Frames from the step to the first frame whose gain reduction (dB) has
 * covered 1 - 1/e of its way from gr0 to gr1; gain = out / in on DC. */
static double comp_step_time(const struct sig *in, const struct sig *out, uint32_t step,
			     double gr0, double gr1)
{
	double goal = gr0 + (gr1 - gr0) * (1.0 - exp(-1.0));
	for (uint32_t i = step; i < in->n; i++) {
		if (in->x[0][i] == 0.0f)
			continue;
		double gr = amp_to_db(in->x[0][i]) - amp_to_db(out->x[0][i]);
		if (gr1 > gr0 ? gr >= goal : gr <= goal)
			return (double)(i - step + 1);
	}
	return 1e9;
}

/* Attack and release time constants on DC and sine steps. */
static void test_comp_times(void)
{
	const struct fx_type *t = &fx_compressor;
	const double settings[][2] = {{5.0, 50.0}, {0.5, 20.0}, {20.0, 200.0}, {50.0, 1000.0}};
	for (unsigned k = 0; k < 4; k++) {
		double attack = settings[k][0], release = settings[k][1];
		void *fx = make(t, 1);
		setp(t, fx, "attack", (float)attack);
		setp(t, fx, "release", (float)release);
		t->reset(fx);
		/* -30 dBFS (under the -20 threshold) steps to -10 dBFS: gain
		 * reduction 0 -> 7.5 dB; then back to -30: 7.5 -> 0. */
		uint32_t hold = ms_frames(10 * release) + RATE / 10;
		uint32_t up = RATE / 10, down = up + ms_frames(10 * attack) + RATE / 10;
		uint32_t n = down + hold;
		struct sig in = sig_new(1, n);
		fill_dc(&in, 0, up, db_to_amp(-30.0));
		fill_dc(&in, up, down, db_to_amp(-10.0));
		fill_dc(&in, down, n, db_to_amp(-30.0));
		struct sig out = sig_copy(&in);
		run(t, fx, &out, 100);
		double ta = comp_step_time(&in, &out, up, 0.0, 7.5) / RATE * 1000.0;
		double tr = comp_step_time(&in, &out, down, 7.5, 0.0) / RATE * 1000.0;
		CHECK(fabs(ta - attack) <= 0.1 * attack, "attack %.1f ms: 63%% after %.3f ms", attack, ta);
		CHECK(fabs(tr - release) <= 0.1 * release, "release %.1f ms: 63%% after %.3f ms", release, tr);
		printf("compressor attack %.1f ms -> %.3f ms, release %.1f ms -> %.3f ms (DC steps of 20 dB)\n",
		       attack, ta, release, tr);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}

	/* The same on a 1 kHz sine stepping at a crest: gain read on
	 * samples above a tenth of the peak. */
	void *fx = make(t, 1);
	t->reset(fx);
	uint32_t up = RATE / 4, down = up + RATE / 4, n = down + RATE / 2;
	struct sig in = sig_new(1, n);
	fill_sine(&in, 0, up, db_to_amp(-30.0), 1000.0, 0.0);
	fill_sine(&in, up, down, db_to_amp(-10.0), 1000.0, 0.0);
	fill_sine(&in, down, n, db_to_amp(-30.0), 1000.0, 0.0);
	struct sig out = sig_copy(&in);
	run(t, fx, &out, 64);
	double goal_a = 7.5 * (1.0 - exp(-1.0)), goal_r = 7.5 * exp(-1.0);
	double ta = -1, tr = -1;
	for (uint32_t i = up; i < n; i++) {
		double a = fabs(in.x[0][i]);
		if (a < 0.1 * db_to_amp(i < down ? -10.0 : -30.0))
			continue;
		double gr = amp_to_db(a) - amp_to_db(out.x[0][i]);
		if (i < down && ta < 0 && gr >= goal_a)
			ta = (double)(i - up + 1) / RATE * 1000.0;
		if (i >= down && tr < 0 && gr <= goal_r)
			tr = (double)(i - down + 1) / RATE * 1000.0;
	}
	CHECK(fabs(ta - 5.0) <= 0.5, "sine step: attack 5 ms -> %.3f ms", ta);
	CHECK(fabs(tr - 50.0) <= 5.0, "sine step: release 50 ms -> %.3f ms", tr);
	printf("compressor on a 1 kHz sine: attack 5 ms -> %.3f ms, release 50 ms -> %.3f ms\n", ta, tr);
	sig_free(&in);
	sig_free(&out);
	t->destroy(fx);
}

/* Sidechain ducking and linked stereo. */
static void test_comp_sidechain_link(void)
{
	const struct fx_type *t = &fx_compressor;
	uint32_t n = RATE;
	/* A loud sidechain ducks a quiet main signal: 0 dBFS key, threshold
	 * -20, ratio 4: 15 dB of gain reduction on a -30 dBFS signal. */
	for (int mode = 0; mode < 3; mode++) {
		void *fx = make(t, 2);
		setp(t, fx, "sidechain", mode == 0 ? 1.0f : 0.0f);
		struct sig main = sig_new(2, n), key = sig_new(2, n);
		fill_sine(&main, 0, n, db_to_amp(-30.0), 440.0, 0.0);
		fill_sine(&key, 0, n, 1.0, 1000.0, 0.0);
		struct sig out = sig_copy(&main);
		run_sc(t, fx, &out, mode == 2 ? NULL : &key, 128);
		double got = peak_db(&out, n - RATE / 5, n);
		if (mode == 0) {
			CHECK(fabs(got - -45.0) <= 0.3, "sidechain on: -30 dBFS ducked by a 0 dBFS key to %.3f, want -45", got);
			printf("compressor sidechain: -30 dBFS main, 0 dBFS key -> %.3f dBFS\n", got);
		} else {
			CHECK(memcmp(out.x[0], main.x[0], n * sizeof(float)) == 0 &&
			      memcmp(out.x[1], main.x[1], n * sizeof(float)) == 0,
			      "sidechain off (%s): a signal under the threshold is not passed bit-exact",
			      mode == 1 ? "key given" : "process()");
		}
		sig_free(&main);
		sig_free(&key);
		sig_free(&out);
		t->destroy(fx);
	}

	/* Linked stereo: a loud left channel sets the gain of both. */
	void *fx = make(t, 2);
	struct sig s = sig_new(2, n);
	fill_sine(&s, 0, n, db_to_amp(-10.0), 1000.0, 0.0);
	for (uint32_t i = 0; i < n; i++)
		s.x[1][i] *= (float)db_to_amp(-20.0);
	run(t, fx, &s, 128);
	struct sig right = {.channels = 1, .n = n, .x = {s.x[1]}};
	struct sig left = {.channels = 1, .n = n, .x = {s.x[0]}};
	double l = peak_db(&left, n - RATE / 5, n), r = peak_db(&right, n - RATE / 5, n);
	CHECK(fabs(l - -17.5) <= 0.2 && fabs(r - -37.5) <= 0.2,
	      "linked stereo: L -10 -> %.3f (want -17.5), R -30 -> %.3f (want -37.5)", l, r);
	sig_free(&s);
	t->destroy(fx);
}

/* ------------------------------------------------------------------ */
/* Limiter */

/* Largest |out| over all channels and frames. */
static double max_abs(const struct sig *s)
{
	double m = 0.0;
	for (int c = 0; c < s->channels; c++)
		for (uint32_t i = 0; i < s->n; i++)
			m = fmax(m, fabs(s->x[c][i]));
	return m;
}

enum { HOSTILE_SQUARE, HOSTILE_NYQUIST, HOSTILE_CLIPPED_NOISE, HOSTILE_SPIKES,
       HOSTILE_HOT_NOISE, HOSTILE_HOT_SQUARE, HOSTILE_HOT_SPIKES, HOSTILE_COUNT };
static const char *const hostile_names[HOSTILE_COUNT] = {
	"full-scale square 100 Hz", "full-scale square at Nyquist", "clipped noise",
	"single-sample spikes", "noise +20 dB over full scale", "square +20 dB",
	"spikes +20 dB on a quiet sine",
};

/* Fills s with the hostile signal `kind`. */
static void fill_hostile(struct sig *s, int kind)
{
	uint32_t n = s->n;
	switch (kind) {
	case HOSTILE_SQUARE:
		fill_square(s, 0, n, 1.0, RATE / 100);
		break;
	case HOSTILE_NYQUIST:
		fill_square(s, 0, n, 1.0, 2);
		break;
	case HOSTILE_CLIPPED_NOISE:
		fill_noise(s, 0, n, 4.0);
		for (int c = 0; c < s->channels; c++)
			for (uint32_t i = 0; i < n; i++)
				s->x[c][i] = fminf(fmaxf(s->x[c][i], -1.0f), 1.0f);
		break;
	case HOSTILE_SPIKES:
	case HOSTILE_HOT_SPIKES:
		fill_sine(s, 0, n, kind == HOSTILE_SPIKES ? 0.0 : 0.05, 50.0, 0.0);
		for (int c = 0; c < s->channels; c++)
			for (uint32_t i = 7 + (uint32_t)c * 3; i < n; i += 997 + (i % 5))
				s->x[c][i] = (float)((i & 1 ? -1.0 : 1.0) *
						     (kind == HOSTILE_SPIKES ? 1.0 : 10.0));
		break;
	case HOSTILE_HOT_NOISE:
		fill_noise(s, 0, n, 10.0);
		break;
	case HOSTILE_HOT_SQUARE:
		fill_square(s, 0, n, 10.0, 97);
		break;
	}
}

/* No sample over the ceiling on hostile input, fixed and moving settings. */
static void test_lim_ceiling(void)
{
	const struct fx_type *t = &fx_limiter;
	const float ceilings[] = {0.0f, -1.0f, -6.0f, -24.0f};
	const float lookaheads[] = {0.5f, 1.3f, 2.0f, 10.0f};
	const uint32_t blocks[] = {128, 1, 4096, 13};
	uint32_t n = RATE / 2;
	int runs = 0, bad = 0;
	double worst_over = -1e9;
	for (int channels = 1; channels <= 2; channels++)
		for (unsigned ci = 0; ci < 4; ci++)
			for (unsigned li = 0; li < 4; li++)
				for (int kind = 0; kind < HOSTILE_COUNT; kind++) {
					void *fx = make(t, channels);
					setp(t, fx, "ceiling", ceilings[ci]);
					setp(t, fx, "lookahead", lookaheads[li]);
					t->reset(fx);
					struct sig s = sig_new(channels, n);
					fill_hostile(&s, kind);
					run(t, fx, &s, blocks[(ci + li + (unsigned)kind) % 4]);
					double limit = db_to_amp(ceilings[ci]);
					double m = max_abs(&s);
					worst_over = fmax(worst_over, m - limit);
					runs++;
					if (!(m <= limit + 1e-6)) {
						bad++;
						CHECK(0, "limiter %s, ceiling %g dB, lookahead %g ms, %d ch: max %.9f > %.9f",
						      hostile_names[kind], ceilings[ci], lookaheads[li], channels, m, limit);
					}
					sig_free(&s);
					t->destroy(fx);
				}
	CHECK(bad == 0, "limiter: %d of %d hostile runs went over the ceiling", bad, runs);
	printf("limiter: %d hostile runs (7 signals x 4 ceilings x 4 look-aheads x mono/stereo), "
	       "largest max|out| - ceiling = %.3g\n", runs, worst_over);

	/* Look-ahead and ceiling moving while hostile input runs. */
	for (int kind = 0; kind < HOSTILE_COUNT; kind++) {
		void *fx = make(t, 2);
		struct sig s = sig_new(2, 2 * RATE);
		fill_hostile(&s, kind);
		const float la[] = {0.5f, 10.0f, 3.7f, 1.0f, 6.0f};
		const float cl[] = {-1.0f, -12.0f, 0.0f, -3.0f, -24.0f};
		double worst = -1e9;
		uint32_t seg = RATE / 10;
		for (uint32_t off = 0, k = 0; off < s.n; off += seg, k++) {
			setp(t, fx, "lookahead", la[k % 5]);
			/* The ceiling only moves every other segment and the
			 * test bounds each segment by the largest ceiling of
			 * this and the previous one (samples entered under it
			 * leave during the next). */
			float now = cl[(k / 2) % 5], before = cl[(k == 0 ? 0 : (k - 1) / 2) % 5];
			setp(t, fx, "ceiling", now);
			struct sig part = {.channels = 2, .n = seg, .x = {s.x[0] + off, s.x[1] + off}};
			run(t, fx, &part, 64);
			double limit = db_to_amp(fmax(now, before));
			worst = fmax(worst, max_abs(&part) - limit);
		}
		CHECK(worst <= 1e-6, "limiter with moving look-ahead and ceiling, %s: %.3g over",
		      hostile_names[kind], worst);
		sig_free(&s);
		t->destroy(fx);
	}
}

/* Other rates size the history differently: hostile input still stays
 * under the ceiling and quiet input comes out exact, L frames late. */
static void test_lim_rates(void)
{
	const struct fx_type *t = &fx_limiter;
	const uint32_t rates[] = {48000, 44100, 96000, 192000, 8000};
	const float lookaheads[] = {0.5f, 10.0f, 3.3f};
	for (int r = 0; r < 5; r++)
		for (int k = 0; k < 3; k++) {
			uint32_t rate = rates[r];
			void *fx = t->create(rate, 2);
			CHECK(fx != NULL, "limiter create at %u Hz", rate);
			if (fx == NULL)
				continue;
			t->set(fx, 0, -3.0f);
			t->set(fx, 1, 5.0f);
			t->set(fx, 2, lookaheads[k]);
			t->reset(fx);
			uint32_t want = (uint32_t)lround(lookaheads[k] * rate / 1000.0);
			if (want < 1)
				want = 1;
			CHECK(t->latency(fx) == want, "limiter at %u Hz, lookahead %g ms: latency %u, want %u",
			      rate, lookaheads[k], t->latency(fx), want);
			uint32_t n = rate / 2, loud = rate / 8;
			struct sig s = sig_new(2, n);
			fill_noise(&s, 0, loud, 10.0);
			fill_square(&s, loud / 2, loud, 3.0, 7);
			for (uint32_t i = loud; i < n; i++)
				s.x[0][i] = s.x[1][i] = (float)(0.25 * sin(2.0 * PI * 440.0 * i / rate));
			struct sig in = sig_copy(&s);
			run(t, fx, &s, 100);
			double m = max_abs(&s);
			CHECK(m <= db_to_amp(-3.0) + 1e-6, "limiter at %u Hz, lookahead %g ms: max %.7f over -3 dB",
			      rate, lookaheads[k], m);
			/* The quiet part once the 5 ms release has landed
			 * (it snaps to unity 1e-9 short of it, 21 time
			 * constants after the loud part). */
			uint32_t wrong = 0;
			for (uint32_t i = loud + rate / 8 + want; i < n; i++)
				wrong += s.x[0][i] != in.x[0][i - want] || s.x[1][i] != in.x[1][i - want];
			CHECK(wrong == 0, "limiter at %u Hz, lookahead %g ms: %u quiet samples not the input %u frames late",
			      rate, lookaheads[k], wrong, want);
			sig_free(&s);
			sig_free(&in);
			t->destroy(fx);
		}
}

/* Quiet input exact and L late; a loud sine meets the ceiling; release. */
static void test_lim_transparent(void)
{
	const struct fx_type *t = &fx_limiter;
	const float lookaheads[] = {0.5f, 1.3f, 2.0f, 10.0f};
	for (unsigned li = 0; li < 4; li++) {
		void *fx = make(t, 2);
		setp(t, fx, "lookahead", lookaheads[li]);
		t->reset(fx);
		uint32_t want = (uint32_t)lround(lookaheads[li] * RATE / 1000.0);
		uint32_t lat = t->latency(fx);
		CHECK(lat == want, "lookahead %g ms: latency %u, want %u frames", lookaheads[li], lat, want);
		uint32_t n = RATE / 2;
		struct sig in = sig_new(2, n);
		fill_sine(&in, 0, n, db_to_amp(-6.0), 997.0, 0.1);
		for (uint32_t i = 0; i < n; i++)
			in.x[1][i] *= -0.5f;
		struct sig out = sig_copy(&in);
		run(t, fx, &out, 100);
		uint32_t wrong = 0;
		for (int c = 0; c < 2; c++)
			for (uint32_t i = 0; i < n; i++) {
				float expect = i < want ? 0.0f : in.x[c][i - want];
				wrong += out.x[c][i] != expect;
			}
		CHECK(wrong == 0, "lookahead %g ms: %u samples differ from the input %u frames late",
		      lookaheads[li], wrong, want);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}

	/* A loud sine is limited to the ceiling, not far below it. */
	void *fx = make(t, 1);
	uint32_t n = RATE;
	struct sig s = sig_new(1, n);
	fill_sine(&s, 0, n, db_to_amp(6.0), 1000.0, 0.0);
	run(t, fx, &s, 128);
	double out = peak_db(&s, n / 2, n);
	CHECK(out <= -1.0 + 1e-5 && out >= -1.5, "+6 dBFS sine, ceiling -1: output peak %.4f dBFS", out);
	printf("limiter: +6 dBFS sine at ceiling -1 -> %.4f dBFS peak; below the ceiling bit-exact, L frames late\n", out);
	sig_free(&s);
	t->destroy(fx);

	/* Release: DC at +6 dBFS for 0.2 s, then -6 dBFS: the gain (linear)
	 * recovers 63% of its way one release time after the end of the
	 * look-ahead window (up to L/2 from the ramp's averaging). */
	const float releases[] = {10.0f, 50.0f, 300.0f};
	for (int k = 0; k < 3; k++) {
		fx = make(t, 1);
		setp(t, fx, "release", releases[k]);
		uint32_t L = t->latency(fx);
		uint32_t step = RATE / 5;
		n = step + ms_frames(8 * releases[k]);
		struct sig in = sig_new(1, n);
		fill_dc(&in, 0, step, 2.0);
		fill_dc(&in, step, n, 0.5);
		struct sig o = sig_copy(&in);
		run(t, fx, &o, 128);
		double g0 = db_to_amp(-1.0) / 2.0;
		double goal = g0 + (1.0 - g0) * (1.0 - exp(-1.0));
		double tr = -1.0;
		for (uint32_t i = step; i + L < n; i++)
			if (o.x[0][i + L] / in.x[0][i] >= goal) {
				tr = (double)(i - step - L + 1) / RATE * 1000.0;
				break;
			}
		double slack = 0.1 * releases[k] + (double)L / RATE * 1000.0;
		CHECK(fabs(tr - releases[k]) <= slack, "limiter release %g ms: 63%% after %.3f ms",
		      releases[k], tr);
		printf("limiter release %g ms -> %.3f ms\n", releases[k], tr);
		sig_free(&in);
		sig_free(&o);
		t->destroy(fx);
	}
}

/* ------------------------------------------------------------------ */
/* Gate */

/* A DC level held for a time. */
struct step {
	double level_db;
	double ms;
};

/* Runs fx over DC steps: returns the input, *in_out gets the output. */
static struct sig gate_dc_run(const struct fx_type *t, void *fx, const struct step *steps,
			      int nsteps, struct sig *in_out)
{
	uint32_t n = 0;
	for (int k = 0; k < nsteps; k++)
		n += ms_frames(steps[k].ms);
	struct sig in = sig_new(1, n);
	uint32_t at = 0;
	for (int k = 0; k < nsteps; k++) {
		uint32_t len = ms_frames(steps[k].ms);
		fill_dc(&in, at, at + len, db_to_amp(steps[k].level_db));
		at += len;
	}
	*in_out = sig_copy(&in);
	run(t, fx, in_out, 77);
	return in;
}

/* Gain in dB at frame i (out / in). */
static double gain_db_at(const struct sig *in, const struct sig *out, uint32_t i)
{
	return amp_to_db(out->x[0][i]) - amp_to_db(in->x[0][i]);
}

/* Gate thresholds, hysteresis, range, hold, times, chatter, key. */
static void test_gate(void)
{
	const struct fx_type *t = &fx_gate;
	/* Defaults: threshold -40, hysteresis 3, hold 50, range -80. */
	{
		void *fx = make(t, 1);
		const struct step steps[] = {{-30, 200}, {-50, 1500}, {-41.5, 500}, {-39, 300}};
		struct sig out, in = gate_dc_run(t, fx, steps, 4, &out);
		uint32_t a = ms_frames(200), b = a + ms_frames(1500), c = b + ms_frames(500),
			 d = c + ms_frames(300);
		double open1 = gain_db_at(&in, &out, a - 1), closed = gain_db_at(&in, &out, b - 1);
		double between = gain_db_at(&in, &out, c - 1), open2 = gain_db_at(&in, &out, d - 1);
		CHECK(open1 == 0.0, "gate: -30 dBFS (over -40) gain %.4f dB, want 0 (open)", open1);
		CHECK(fabs(closed - -80.0) <= 1.0, "gate: -50 dBFS (under -43) gain %.3f dB, want range -80 +-1", closed);
		CHECK(fabs(between - -80.0) <= 1.0, "gate: -41.5 dBFS between the thresholds does not open it (%.3f dB)", between);
		CHECK(open2 == 0.0, "gate: -39 dBFS opens it (%.4f dB)", open2);
		printf("gate: open %.3f dB, closed %.3f dB (range -80), between from closed %.3f dB, reopened %.3f dB\n",
		       open1, closed, between, open2);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}
	{
		void *fx = make(t, 1);
		setp(t, fx, "range", -40.0f);
		setp(t, fx, "threshold", -20.0f);
		setp(t, fx, "hysteresis", 10.0f);
		t->reset(fx);
		const struct step steps[] = {{-10, 300}, {-35, 1500}};
		struct sig out, in = gate_dc_run(t, fx, steps, 2, &out);
		double closed = gain_db_at(&in, &out, in.n - 1);
		CHECK(fabs(closed - -40.0) <= 1.0, "gate range -40, threshold -20, hysteresis 10: -35 dBFS -> %.3f dB", closed);
		/* -25 dBFS: under the threshold, over threshold - hysteresis. */
		const struct step hover[] = {{-10, 300}, {-25, 2000}};
		sig_free(&in);
		sig_free(&out);
		in = gate_dc_run(t, fx, hover, 2, &out);
		double open = gain_db_at(&in, &out, in.n - 1);
		CHECK(open == 0.0, "gate: -25 dBFS inside the 10 dB hysteresis keeps it open (%.3f dB)", open);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}

	/* Hold: the gain stays exactly 0 dB for `hold` after the signal
	 * falls, then starts to fall (hold under 10 ms acts as 10 ms). */
	const float holds[] = {50.0f, 200.0f, 3.0f, 1000.0f};
	for (int k = 0; k < 4; k++) {
		void *fx = make(t, 1);
		setp(t, fx, "hold", holds[k]);
		const struct step steps[] = {{-30, 200}, {-60, 1300}};
		struct sig out, in = gate_dc_run(t, fx, steps, 2, &out);
		uint32_t fall = ms_frames(200), i = fall;
		while (i < in.n && out.x[0][i] == in.x[0][i])
			i++;
		double held = (double)(i - fall) / RATE * 1000.0;
		double want = fmax(holds[k], 10.0);
		CHECK(fabs(held - want) <= 1.0, "gate hold %g ms: open for %.3f ms after the fall (want %g +-1)",
		      holds[k], held, want);
		printf("gate hold %g ms -> %.3f ms\n", holds[k], held);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}

	/* Attack and release time constants (gain in dB, 63 % of the way). */
	const double ar[][2] = {{5.0, 100.0}, {1.0, 20.0}, {50.0, 1000.0}};
	for (int k = 0; k < 3; k++) {
		void *fx = make(t, 1);
		setp(t, fx, "attack", (float)ar[k][0]);
		setp(t, fx, "release", (float)ar[k][1]);
		setp(t, fx, "hold", 20.0f);
		t->reset(fx);
		const struct step steps[] = {{-60, 100}, {-30, 10 * ar[k][0] + 100}, {-60, 10 * ar[k][1]}};
		struct sig out, in = gate_dc_run(t, fx, steps, 3, &out);
		uint32_t up = ms_frames(100), down = up + ms_frames(10 * ar[k][0] + 100);
		double ta = -1, tr = -1;
		for (uint32_t i = up; i < down && ta < 0; i++)
			if (gain_db_at(&in, &out, i) >= -80.0 * exp(-1.0))
				ta = (double)(i - up + 1) / RATE * 1000.0;
		uint32_t close_at = down + ms_frames(20);
		for (uint32_t i = close_at; i < in.n && tr < 0; i++)
			if (gain_db_at(&in, &out, i) <= -80.0 * (1.0 - exp(-1.0)))
				tr = (double)(i - close_at) / RATE * 1000.0;
		CHECK(fabs(ta - ar[k][0]) <= 0.1 * ar[k][0] + 1000.0 / RATE,
		      "gate attack %g ms: 63%% after %.3f ms", ar[k][0], ta);
		CHECK(fabs(tr - ar[k][1]) <= 0.1 * ar[k][1] + 1000.0 / RATE,
		      "gate release %g ms: 63%% after %.3f ms (after the 20 ms hold)", ar[k][1], tr);
		printf("gate attack %g ms -> %.3f ms, release %g ms -> %.3f ms\n", ar[k][0], ta, ar[k][1], tr);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}

	/* No chatter: a 200 Hz sine whose crest hovers between -42.5 and
	 * -40.5 dBFS (between the thresholds) for 2 s. Opened by a burst it
	 * stays open; from silence it stays closed. The gain is read on
	 * samples above half the crest. */
	for (int opened = 0; opened <= 1; opened++) {
		void *fx = make(t, 2);
		uint32_t lead = RATE / 5, n = lead + 2 * RATE;
		struct sig in = sig_new(2, n);
		if (opened)
			fill_sine(&in, 0, lead, db_to_amp(-30.0), 200.0, 0.0);
		for (uint32_t i = lead; i < n; i++) {
			double crest_db = -41.5 + 1.0 * sin(2.0 * PI * 3.0 * (i - lead) / RATE);
			double v = db_to_amp(crest_db) * cos(2.0 * PI * 200.0 * (i - lead) / RATE);
			in.x[0][i] = in.x[1][i] = (float)v;
		}
		struct sig out = sig_copy(&in);
		run(t, fx, &out, 128);
		double lo = 1e9, hi = -1e9;
		for (uint32_t i = lead + RATE / 2; i < n; i++) {
			if (fabs(in.x[0][i]) < 0.5 * db_to_amp(-42.5))
				continue;
			double g = amp_to_db(out.x[0][i]) - amp_to_db(in.x[0][i]);
			lo = fmin(lo, g);
			hi = fmax(hi, g);
		}
		if (opened)
			CHECK(lo >= -0.001, "gate hovering between thresholds after opening: gain fell to %.3f dB", lo);
		else
			CHECK(hi <= -79.0, "gate hovering between thresholds from silence: gain rose to %.3f dB", hi);
		printf("gate hovering between thresholds (%s): gain %.3f .. %.3f dB\n",
		       opened ? "opened first" : "from silence", lo, hi);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}

	/* Hold 0 still bridges the gaps between the crests of a 60 Hz tone. */
	{
		void *fx = make(t, 1);
		setp(t, fx, "hold", 0.0f);
		uint32_t n = RATE;
		struct sig in = sig_new(1, n);
		fill_sine(&in, 0, n, db_to_amp(-38.0), 60.0, 0.0);
		struct sig out = sig_copy(&in);
		run(t, fx, &out, 128);
		uint32_t differ = 0;
		for (uint32_t i = RATE / 10; i < n; i++)
			differ += out.x[0][i] != in.x[0][i];
		CHECK(differ == 0, "gate hold 0 on a 60 Hz tone just over the threshold: %u samples not passed", differ);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}

	/* Keyed by the sidechain. */
	{
		void *fx = make(t, 2);
		setp(t, fx, "sidechain", 1.0f);
		uint32_t n = RATE / 2;
		struct sig main = sig_new(2, n), key = sig_new(2, n);
		fill_sine(&main, 0, n, db_to_amp(-20.0), 440.0, 0.0);
		struct sig out = sig_copy(&main);
		run_sc(t, fx, &out, &key, 64);
		double shut = peak_db(&out, n / 2, n);
		fill_sine(&key, 0, n, db_to_amp(-10.0), 100.0, 0.0);
		sig_free(&out);
		out = sig_copy(&main);
		run_sc(t, fx, &out, &key, 64);
		double keyed = peak_db(&out, n / 2, n);
		CHECK(fabs(shut - -100.0) <= 1.0 && fabs(keyed - -20.0) <= 0.01,
		      "gate keyed by the sidechain: silent key %.2f dBFS (want -100), loud key %.3f (want -20)",
		      shut, keyed);
		sig_free(&main);
		sig_free(&key);
		sig_free(&out);
		t->destroy(fx);
	}
}

/* ------------------------------------------------------------------ */
/* Expander */

/* Output peak (dB) of the expander on a settled 1 kHz sine of level_db. */
static double exp_sine_out(double level_db, double threshold, double ratio, double range)
{
	const struct fx_type *t = &fx_expander;
	void *fx = make(t, 2);
	setp(t, fx, "threshold", (float)threshold);
	setp(t, fx, "ratio", (float)ratio);
	setp(t, fx, "range", (float)range);
	t->reset(fx);
	uint32_t n = RATE * 3 / 2;
	struct sig s = sig_new(2, n);
	fill_sine(&s, 0, n, db_to_amp(level_db), 1000.0, 0.0);   /* a sample on every crest */
	run(t, fx, &s, 128);
	double out = peak_db(&s, n - RATE / 5, n);
	sig_free(&s);
	t->destroy(fx);
	return out;
}

/* Expander slope, range, attack and release. */
static void test_expander(void)
{
	const struct { double in, t, r, range, want; } cases[] = {
		{-50, -40, 2, -80, -60},   /* 10 dB under, ratio 2: 20 dB under */
		{-45, -40, 2, -80, -50},
		{-45, -40, 4, -80, -60},
		{-30, -40, 2, -80, -30},   /* over the threshold: untouched */
		{-60, -40, 4, -20, -80},   /* 60 dB of reduction capped at 20 */
		{-41, -40, 20, -80, -60},
	};
	for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		double got = exp_sine_out(cases[k].in, cases[k].t, cases[k].r, cases[k].range);
		CHECK(fabs(got - cases[k].want) <= 0.2,
		      "expander threshold %g ratio %g range %g: %g dBFS sine -> %.3f, want %g +-0.2",
		      cases[k].t, cases[k].r, cases[k].range, cases[k].in, got, cases[k].want);
		printf("expander T %g R %g range %g: %g dBFS -> %.3f dBFS (want %g)\n", cases[k].t,
		       cases[k].r, cases[k].range, cases[k].in, got, cases[k].want);
	}

	/* Attack (opening) and release (closing) on DC steps between -60
	 * dBFS (20 dB of reduction at ratio 2) and -30 (none). The level
	 * holds its crest for 10 ms, so closing starts 10 ms after the fall. */
	const struct fx_type *t = &fx_expander;
	const double ar[][2] = {{1.0, 100.0}, {10.0, 30.0}};
	for (int k = 0; k < 2; k++) {
		void *fx = make(t, 1);
		setp(t, fx, "attack", (float)ar[k][0]);
		setp(t, fx, "release", (float)ar[k][1]);
		const struct step steps[] = {{-60, 1500}, {-30, 10 * ar[k][0] + 50}, {-60, 10 * ar[k][1] + 20}};
		struct sig out, in = gate_dc_run(t, fx, steps, 3, &out);
		uint32_t up = ms_frames(1500), down = up + ms_frames(10 * ar[k][0] + 50);
		double start = gain_db_at(&in, &out, up - 1);
		CHECK(fabs(start - -20.0) <= 0.01, "expander on DC 20 dB under: %.4f dB, want -20", start);
		double ta = -1, tr = -1;
		for (uint32_t i = up; i < down && ta < 0; i++)
			if (gain_db_at(&in, &out, i) >= -20.0 * exp(-1.0))
				ta = (double)(i - up + 1) / RATE * 1000.0;
		uint32_t close_at = down + ms_frames(10);
		for (uint32_t i = close_at; i < in.n && tr < 0; i++)
			if (gain_db_at(&in, &out, i) <= -20.0 * (1.0 - exp(-1.0)))
				tr = (double)(i - close_at + 1) / RATE * 1000.0;
		CHECK(fabs(ta - ar[k][0]) <= 0.1 * ar[k][0] + 1000.0 / RATE,
		      "expander attack %g ms: 63%% after %.3f ms", ar[k][0], ta);
		CHECK(fabs(tr - ar[k][1]) <= 0.1 * ar[k][1] + 1000.0 / RATE,
		      "expander release %g ms: 63%% after %.3f ms (after the 10 ms crest hold)", ar[k][1], tr);
		printf("expander attack %g ms -> %.3f ms, release %g ms -> %.3f ms\n", ar[k][0], ta, ar[k][1], tr);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}
}

/* ------------------------------------------------------------------ */
/* Every type: extremes, block sizes, clicks, timing */

static const struct fx_type *const all_types[] = {&fx_compressor, &fx_limiter, &fx_expander, &fx_gate};

/* The largest |out| a type may give for |in| <= 1. */
static double out_bound(const struct fx_type *t)
{
	if (t == &fx_compressor)
		return db_to_amp(24.0) + 1e-5;   /* gain never above the largest makeup */
	return 1.0 + 1e-6;                        /* limiter, expander, gate never amplify */
}

/* Value of p at normalised position norm along its curve. */
static float norm_to_value(const struct fx_param *p, double norm)
{
	double v = p->curve == FX_LOG ? p->min * pow(p->max / p->min, norm)
				      : p->min + norm * (p->max - p->min);
	if (p->curve == FX_CHOICE || p->curve == FX_TOGGLE)
		v = round(v);
	return (float)fmin(fmax(v, p->min), p->max);
}

/* Runs noise, square and silence through fx (mono or stereo) and checks the
 * output is finite, bounded, and silent for silence. */
static void extremes_run(const struct fx_type *t, void *fx, int channels, const char *what)
{
	uint32_t n = RATE / 4;
	for (int kind = 0; kind < 3; kind++) {
		t->reset(fx);
		struct sig s = sig_new(channels, n);
		if (kind == 0)
			fill_noise(&s, 0, n, 1.0);
		else if (kind == 1)
			fill_square(&s, 0, n, 1.0, 480);
		run(t, fx, &s, 128);
		uint32_t bad = 0;
		double m = 0.0;
		for (int c = 0; c < channels; c++)
			for (uint32_t i = 0; i < n; i++) {
				bad += !isfinite(s.x[c][i]);
				m = fmax(m, fabs(s.x[c][i]));
			}
		const char *sig_name = kind == 0 ? "noise" : kind == 1 ? "square" : "silence";
		CHECK(bad == 0, "%s %s, %d ch, %s: %u non-finite samples", t->id, what, channels, sig_name, bad);
		double bound = kind == 2 ? 0.0 : out_bound(t);
		CHECK(m <= bound, "%s %s, %d ch, %s: max |out| %.6f over %.6f", t->id, what, channels,
		      sig_name, m, bound);
		sig_free(&s);
	}
}

/* NaN and infinities in the input (outside the contract) leave no trace
 * of non-finite state: once they have passed, the output is finite again;
 * the limiter's output stays under its ceiling even while they pass. */
static void test_garbage_input(void)
{
	for (int k = 0; k < 4; k++) {
		const struct fx_type *t = all_types[k];
		void *fx = make(t, 2);
		uint32_t n = RATE, burst = 1000;
		struct sig s = sig_new(2, n);
		fill_sine(&s, 0, n, db_to_amp(-20.0), 440.0, 0.0);
		for (uint32_t i = 500; i < 500 + burst; i++) {
			s.x[0][i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
			s.x[1][i] = i % 2 ? NAN : 0.5f;
		}
		run(t, fx, &s, 128);
		uint32_t bad = 0;
		for (int c = 0; c < 2; c++)
			for (uint32_t i = 500 + burst + RATE / 2; i < n; i++)
				bad += !isfinite(s.x[c][i]);
		CHECK(bad == 0, "%s: %u non-finite samples 0.5 s after a NaN/Inf burst", t->id, bad);
		if (t == &fx_limiter) {
			double m = max_abs(&s);
			CHECK(m <= db_to_amp(-1.0) + 1e-6, "limiter: max |out| %.6f over the ceiling with NaN/Inf input", m);
		}
		sig_free(&s);
		t->destroy(fx);
	}
}

/* Every parameter at its extremes: finite and bounded output. */
static void test_extremes(void)
{
	for (int k = 0; k < 4; k++) {
		const struct fx_type *t = all_types[k];
		for (int channels = 1; channels <= 2; channels++) {
			for (int i = 0; i < t->nparams; i++) {
				const struct fx_param *p = &t->params[i];
				const float values[] = {p->min, p->max, p->def};
				for (int v = 0; v < 3; v++) {
					void *fx = make(t, channels);
					t->set(fx, i, values[v]);
					char what[96];
					snprintf(what, sizeof what, "%s=%g", p->name, values[v]);
					extremes_run(t, fx, channels, what);
					t->destroy(fx);
				}
			}
			for (int r = 0; r < 8; r++) {
				void *fx = make(t, channels);
				for (int i = 0; i < t->nparams; i++)
					t->set(fx, i, norm_to_value(&t->params[i], 0.5 + 0.5 * rnd()));
				extremes_run(t, fx, channels, "random parameters");
				t->destroy(fx);
			}
			/* Every parameter at its min, then every one at its max. */
			for (int end = 0; end < 2; end++) {
				void *fx = make(t, channels);
				for (int i = 0; i < t->nparams; i++)
					t->set(fx, i, end ? t->params[i].max : t->params[i].min);
				extremes_run(t, fx, channels, end ? "all at max" : "all at min");
				t->destroy(fx);
			}
		}
		/* Absurd but finite input: finite output. */
		void *fx = make(t, 2);
		struct sig s = sig_new(2, 4096);
		fill_noise(&s, 0, 4096, 3e38);
		s.x[0][100] = 1e-45f;
		run(t, fx, &s, 64);
		uint32_t bad = 0;
		for (int c = 0; c < 2; c++)
			for (uint32_t i = 0; i < s.n; i++)
				bad += !isfinite(s.x[c][i]);
		CHECK(bad == 0, "%s: %u non-finite samples from huge finite input", t->id, bad);
		sig_free(&s);
		t->destroy(fx);
	}
	printf("extremes: every parameter at min/max/default, 8 random sets, all-min, all-max; "
	       "noise, square, silence; mono and stereo: finite, bounded\n");
}

/* A test signal with level changes (bursts, fades and silence) that moves
 * every detector through attack, hold and release. */
static struct sig busy_signal(uint32_t n)
{
	struct sig s = sig_new(2, n);
	fill_noise(&s, 0, n, 1.0);
	for (uint32_t i = 0; i < n; i++) {
		double env_db = -60.0 + 62.0 * (0.5 + 0.5 * sin(2.0 * PI * 2.3 * i / RATE));
		if ((i / 4000) % 5 == 3)
			env_db = -90.0;
		double e = db_to_amp(env_db);
		s.x[0][i] = (float)(s.x[0][i] * e);
		s.x[1][i] = (float)(s.x[1][i] * e * 0.7 + 0.3 * e * sin(2.0 * PI * 220.0 * i / RATE));
	}
	return s;
}

/* The same output whatever the block size, bit for bit. */
static void test_blocks(void)
{
	uint32_t n = RATE;
	struct sig src = busy_signal(n), key = busy_signal(n);
	for (uint32_t i = 0; i < n; i++) {   /* a different key: reversed */
		key.x[0][i] = src.x[1][n - 1 - i];
		key.x[1][i] = src.x[0][n - 1 - i];
	}
	const uint32_t blocks[] = {4096, 1, 13, 64, 8192};
	for (int k = 0; k < 4; k++) {
		const struct fx_type *t = all_types[k];
		for (int variant = 0; variant < 2; variant++) {
			struct sig ref = {0};
			for (int b = 0; b < 5; b++) {
				void *fx = make(t, 2);
				if (t == &fx_compressor) {
					setp(t, fx, "knee", 6.0f);
					setp(t, fx, "detect", (float)variant);
					setp(t, fx, "makeup", 3.0f);
					setp(t, fx, "attack", 1.0f);
				} else if (t == &fx_limiter) {
					setp(t, fx, "lookahead", variant ? 1.3f : 7.0f);
					setp(t, fx, "ceiling", -3.0f);
					setp(t, fx, "release", 20.0f);
				} else if (t == &fx_expander) {
					setp(t, fx, "ratio", variant ? 3.0f : 1.5f);
					setp(t, fx, "threshold", -30.0f);
				} else {
					setp(t, fx, "threshold", -30.0f);
					setp(t, fx, "hold", variant ? 0.0f : 20.0f);
					setp(t, fx, "release", 10.0f);
				}
				if (t->process_sidechain && variant)
					setp(t, fx, "sidechain", 1.0f);
				t->reset(fx);
				struct sig s = sig_copy(&src);
				run_sc(t, fx, &s, t->process_sidechain && variant ? &key : NULL, blocks[b]);
				if (b == 0) {
					ref = s;
				} else {
					uint32_t differ = 0;
					for (int c = 0; c < 2; c++)
						for (uint32_t i = 0; i < n; i++)
							differ += memcmp(&s.x[c][i], &ref.x[c][i], sizeof(float)) != 0;
					CHECK(differ == 0, "%s variant %d: blocks of %u differ from blocks of 4096 in %u samples",
					      t->id, variant, blocks[b], differ);
					sig_free(&s);
				}
				t->destroy(fx);
			}
			sig_free(&ref);
		}
	}
	sig_free(&src);
	sig_free(&key);
	printf("block sizes 1, 13, 64, 4096, 8192: bit-identical output for all four types\n");
}

/* Largest change of the gain in dB from one frame to the next, on DC. */
static double max_gain_step_db(const struct sig *in, const struct sig *out, uint32_t from,
			       uint32_t delay)
{
	double worst = 0.0, prev = NAN;
	for (uint32_t i = from; i + delay < in->n; i++) {
		double g = amp_to_db(out->x[0][i + delay]) - amp_to_db(in->x[0][i]);
		if (!isnan(prev))
			worst = fmax(worst, fabs(g - prev));
		prev = g;
	}
	return worst;
}

/* Parameter steps while running move the gain smoothly. */
static void test_clicks(void)
{
	/* Each case: a steady DC level, one parameter jumps in one set()
	 * call with the fastest attack or release; the gain (out / in, the
	 * envelope itself) must change by at least `change` dB in all and by
	 * at most `bound` dB from one frame to the next: done in one frame,
	 * the change would exceed the bound 45 to 3000 times. */
	const struct {
		const struct fx_type *t;
		const char *pre_name; float pre;
		double level;
		const char *name; float from, to;
		double change, bound;
	} cases[] = {
		{&fx_compressor, "attack", 0.1f, -10.0, "threshold", -20.0f, -60.0f, 29.0, 0.05},
		{&fx_compressor, "attack", 0.1f, -10.0, "ratio", 1.0f, 20.0f, 9.0, 0.05},
		{&fx_compressor, "attack", 0.1f, -20.0, "knee", 0.0f, 24.0f, 2.2, 0.05},
		{&fx_compressor, "attack", 0.1f, -10.0, "makeup", 0.0f, 24.0f, 23.0, 0.05},
		{&fx_compressor, "release", 5.0f, -10.0, "threshold", -60.0f, 0.0f, 29.0, 0.05},
		{&fx_limiter, "release", 1.0f, -3.0, "ceiling", 0.0f, -24.0f, 19.0, 0.05},
		{&fx_limiter, "release", 1.0f, -3.0, "ceiling", -24.0f, 0.0f, 19.0, 0.05},
		{&fx_expander, "attack", 0.1f, -60.0, "threshold", -80.0f, -20.0f, 39.0, 0.1},
		{&fx_expander, "attack", 0.1f, -60.0, "range", -80.0f, 0.0f, 19.0, 0.1},
		/* 40 dB of reduction reached after 2/19 of the ratio's glide. */
		{&fx_expander, "release", 1.0f, -60.0, "ratio", 1.0f, 20.0f, 39.0, 0.5},
		{&fx_gate, "attack", 0.1f, -60.0, "range", -80.0f, 0.0f, 79.0, 0.1},
		{&fx_gate, "release", 1.0f, -60.0, "range", 0.0f, -80.0f, 79.0, 0.1},
	};
	for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		const struct fx_type *t = cases[k].t;
		void *fx = make(t, 1);
		setp(t, fx, cases[k].pre_name, cases[k].pre);
		setp(t, fx, cases[k].name, cases[k].from);
		t->reset(fx);
		uint32_t n = RATE, at = RATE / 2;
		struct sig in = sig_new(1, n);
		fill_dc(&in, 0, n, db_to_amp(cases[k].level));
		struct sig out = sig_copy(&in);
		struct sig a = {.channels = 1, .n = at, .x = {out.x[0]}};
		struct sig b = {.channels = 1, .n = n - at, .x = {out.x[0] + at}};
		run(t, fx, &a, 128);
		setp(t, fx, cases[k].name, cases[k].to);
		run(t, fx, &b, 128);
		uint32_t delay = t->latency ? t->latency(fx) : 0;
		double before = amp_to_db(out.x[0][at - 1]) - cases[k].level;
		double after = amp_to_db(out.x[0][n - 1]) - cases[k].level;
		double step = max_gain_step_db(&in, &out, at / 2, delay);
		CHECK(step <= cases[k].bound && fabs(after - before) >= cases[k].change,
		      "%s %s %g -> %g: gain %.2f -> %.2f dB, largest step %.4f dB/frame (bound %g)",
		      t->id, cases[k].name, cases[k].from, cases[k].to, before, after, step, cases[k].bound);
		sig_free(&in);
		sig_free(&out);
		t->destroy(fx);
	}

	/* Limiter look-ahead change on a sine under the ceiling: the output
	 * crossfades between two delays and never jumps more than the sine
	 * itself can in one frame; afterwards it is the input, new L late. */
	const struct fx_type *t = &fx_limiter;
	void *fx = make(t, 1);
	uint32_t n = RATE, at = RATE / 4;
	double amp = db_to_amp(-6.0), freq = 1000.0;
	struct sig in = sig_new(1, n);
	fill_sine(&in, 0, n, amp, freq, 0.0);
	struct sig out = sig_copy(&in);
	struct sig a = {.channels = 1, .n = at, .x = {out.x[0]}};
	struct sig b = {.channels = 1, .n = n - at, .x = {out.x[0] + at}};
	run(t, fx, &a, 128);
	setp(t, fx, "lookahead", 7.3f);
	run(t, fx, &b, 128);
	double slope = amp * 2.0 * PI * freq / RATE, worst = 0.0;
	for (uint32_t i = at - RATE / 10; i < n; i++)
		worst = fmax(worst, fabs(out.x[0][i] - out.x[0][i - 1]));
	uint32_t L = t->latency(fx), wrong = 0;
	for (uint32_t i = at + RATE / 10; i < n; i++)
		wrong += out.x[0][i] != in.x[0][i - L];
	CHECK(worst <= 1.05 * slope, "limiter lookahead 2 -> 7.3 ms: largest frame step %.5f, the sine's %.5f",
	      worst, slope);
	CHECK(L == 350 && wrong == 0, "limiter after lookahead 7.3 ms: latency %u (want 350), %u samples not the input L late",
	      L, wrong);
	sig_free(&in);
	sig_free(&out);
	t->destroy(fx);
	printf("parameter steps: no clicks (gain steps bounded per frame; look-ahead crossfade)\n");
}

/* ns per frame, stereo, 128-frame blocks (a print, not a check). */
static void test_timing(void)
{
	uint32_t n = 10 * RATE, block = 128;
	struct sig src = busy_signal(n);
	for (int k = 0; k < 4; k++) {
		const struct fx_type *t = all_types[k];
		for (int variant = 0; variant < 2; variant++) {
			void *fx = make(t, 2);
			const char *what = "defaults";
			if (variant) {
				if (t == &fx_compressor) {
					setp(t, fx, "detect", 1.0f);
					setp(t, fx, "knee", 6.0f);
					what = "rms, knee 6";
				} else if (t == &fx_limiter) {
					setp(t, fx, "ceiling", -12.0f);
					what = "ceiling -12 (limiting most of the time)";
				} else {
					setp(t, fx, "threshold", -20.0f);
					what = "threshold -20 (closing often)";
				}
			}
			/* Best of three: the machine may be busy. */
			double ns = 1e30;
			for (int rep = 0; rep < 3; rep++) {
				t->reset(fx);
				struct sig s = sig_copy(&src);
				struct timespec t0, t1;
				clock_gettime(CLOCK_MONOTONIC, &t0);
				run(t, fx, &s, block);
				clock_gettime(CLOCK_MONOTONIC, &t1);
				ns = fmin(ns, ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n);
				sig_free(&s);
			}
			printf("timing %-10s %-40s %6.2f ns/frame stereo, %7.0fx realtime at 48 kHz\n",
			       t->id, what, ns, 1e9 / RATE / ns);
			t->destroy(fx);
		}
	}
	sig_free(&src);
}

/* The limiter's AVX2 + FMA copy (where the CPU has it) and its portable
 * copy give the same sound: stereo noise at +6 dBFS peaks through a -6 dB
 * ceiling, both ways, within 1e-5 of each other sample by sample. */
static void test_copies_agree(void)
{
	const size_t frames = 48000;
	float *out[2][2];
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			setenv("CL_FX_SIMD", "baseline", 1);
		else
			unsetenv("CL_FX_SIMD");
		uint32_t x = 777;
		for (int c = 0; c < 2; c++)
			out[pass][c] = malloc(frames * sizeof(float));
		for (size_t i = 0; i < frames; i++)
			for (int c = 0; c < 2; c++) {
				x = x * 1664525u + 1013904223u;
				out[pass][c][i] = 2.0f * ((float)(x >> 8) / 8388608.0f - 1.0f);
			}
		void *fx = fx_limiter.create(48000, 2);
		fx_limiter.set(fx, fx_param_index(&fx_limiter, "ceiling"), -6.0f);
		for (size_t off = 0; off < frames; off += 128) {
			float *b[2] = {out[pass][0] + off, out[pass][1] + off};
			fx_limiter.process(fx, b, 128);
		}
		fx_limiter.destroy(fx);
	}
	unsetenv("CL_FX_SIMD");
	double worst = 0.0;
	for (int c = 0; c < 2; c++)
		for (size_t i = 0; i < frames; i++)
			worst = fmax(worst, fabs((double)out[0][c][i] - out[1][c][i]));
	printf("limiter: fastest and portable copies differ by at most %.2g\n", worst);
	CHECK(worst <= 1e-5, "limiter: the two copies differ by %g", worst);
	for (int k = 0; k < 2; k++)
		for (int c = 0; c < 2; c++)
			free(out[k][c]);
}

int main(void)
{
	/* everything twice: with the code this CPU runs fastest (the
	 * limiter has an AVX2 + FMA copy), then with the portable one */
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			setenv("CL_FX_SIMD", "baseline", 1);
		printf("%s code:\n", pass ? "portable (CL_FX_SIMD=baseline)" : "fastest");
		test_tables();
		test_comp_static();
		test_comp_times();
		test_comp_sidechain_link();
		test_lim_ceiling();
		test_lim_transparent();
		test_lim_rates();
		test_gate();
		test_expander();
		test_extremes();
		test_garbage_input();
		test_blocks();
		test_clicks();
		test_timing();
	}
	test_copies_agree();
	printf("fx-dynamics: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
