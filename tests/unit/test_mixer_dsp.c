/*
 * cl-mixer DSP core against known answers: pan law, fader/gain/master/send
 * levels in dB, the solo-in-place truth table over 4 strips (all 256
 * mute/solo combinations), pre/post aux routing, phase, ramp slopes and
 * lengths (20 ms default, 2 s scene fades, retargets), meters on a -6 dBFS
 * sine, block-size independence (1, 7, 64, 1000 frames against one call),
 * NaN and range handling, the fader curve. Ends with a timing print (not an
 * assertion) for 64 stereo strips x 4 aux sends at 64-frame periods.
 *
 * Signals are DC where a level is read (the output sample is the gain) and
 * a 1 kHz sine at 48 kHz (48 samples a period, a sample on every crest)
 * where meters or slopes are read.
 */
#include "cl_check.h"
#include "cl_rt.h"
#include "dsp.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 48000
#define RAMP_FRAMES 960     /* MIXER_RAMP_S at 48 kHz */
#define DB_TOL 0.01

struct rig {
	struct mixer *m;
	int strips, channels, aux;
	uint32_t cap;
	float *in[2 * MIXER_MAX_STRIPS];
	float *master[2];
	float *aux_out[2 * MIXER_MAX_AUX];
};

static float *buffer(uint32_t frames)
{
	float *b = calloc(frames, sizeof *b);
	if (b == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return b;
}

/* A mixer with input and output buffers of `cap` frames (inputs silent). */
static void rig_init(struct rig *r, int strips, int channels, int aux, uint32_t cap)
{
	memset(r, 0, sizeof *r);
	r->m = mixer_new(RATE, strips, channels, aux);
	if (r->m == NULL) {
		fprintf(stderr, "mixer_new(%d, %d, %d) failed\n", strips, channels, aux);
		exit(1);
	}
	r->strips = strips;
	r->channels = channels;
	r->aux = aux;
	r->cap = cap;
	for (int i = 0; i < strips * channels; i++)
		r->in[i] = buffer(cap);
	for (int i = 0; i < 2; i++)
		r->master[i] = buffer(cap);
	for (int i = 0; i < 2 * aux; i++)
		r->aux_out[i] = buffer(cap);
}

static void rig_done(struct rig *r)
{
	for (int i = 0; i < 2 * MIXER_MAX_STRIPS; i++)
		free(r->in[i]);
	free(r->master[0]);
	free(r->master[1]);
	for (int i = 0; i < 2 * MIXER_MAX_AUX; i++)
		free(r->aux_out[i]);
	mixer_free(r->m);
	memset(r, 0, sizeof *r);
}

static void rig_dc(struct rig *r, int strip, int ch, float v)
{
	for (uint32_t i = 0; i < r->cap; i++)
		r->in[strip * r->channels + ch][i] = v;
}

/* 1 kHz sine of amplitude amp (sin phase: crest at frame 12). */
static void rig_sine(struct rig *r, int strip, int ch, float amp)
{
	for (uint32_t i = 0; i < r->cap; i++)
		r->in[strip * r->channels + ch][i] =
			(float)(amp * sin(2.0 * M_PI * 1000.0 * i / RATE));
}

static void rig_run(struct rig *r, uint32_t n)
{
	mixer_process(r->m, n, (const float *const *)r->in, r->master, r->aux_out);
}

static void rig_clear_meters(struct rig *r)
{
	struct mixer_meter mt;
	for (int i = 0; i < mixer_meter_count(r->m); i++)
		mixer_meter_take(r->m, i, &mt);
}

static double db_of(double lin)
{
	return 20.0 * log10(fabs(lin));
}

/* |got| within tol dB of want_db (both finite). */
static bool near_db(double got, double want_db, double tol)
{
	return got != 0.0 && fabs(db_of(got) - want_db) <= tol;
}

static double max_step(const float *x, uint32_t n, float before)
{
	double worst = fabs((double)x[0] - before);
	for (uint32_t i = 1; i < n; i++) {
		double d = fabs((double)x[i] - x[i - 1]);
		if (d > worst)
			worst = d;
	}
	return worst;
}

/* ------------------------------------------------------------------ */

static void test_conversions(void)
{
	CHECK(mixer_db_to_gain(-INFINITY) == 0.0f, "db_to_gain(-inf) = %g", mixer_db_to_gain(-INFINITY));
	CHECK(mixer_db_to_gain(0.0f) == 1.0f, "db_to_gain(0) = %.9g", mixer_db_to_gain(0.0f));
	CHECK(fabsf(mixer_db_to_gain(20.0f) - 10.0f) < 1e-5f, "db_to_gain(20) = %.9g", mixer_db_to_gain(20.0f));
	CHECK(fabsf(mixer_db_to_gain(-6.0206f) - 0.5f) < 1e-5f, "db_to_gain(-6.0206) = %.9g", mixer_db_to_gain(-6.0206f));
	CHECK(isinf(mixer_gain_to_db(0.0f)) && mixer_gain_to_db(0.0f) < 0, "gain_to_db(0) = %g", mixer_gain_to_db(0.0f));
	CHECK(fabsf(mixer_gain_to_db(0.5f) + 6.0206f) < 1e-3f, "gain_to_db(0.5) = %g", mixer_gain_to_db(0.5f));
	CHECK(fabsf(mixer_gain_to_db(-0.5f) + 6.0206f) < 1e-3f, "gain_to_db(-0.5) = %g (magnitude)", mixer_gain_to_db(-0.5f));

	float l, r;
	mixer_pan_gains(-1.0f, &l, &r);
	CHECK(l == 1.0f && r == 0.0f, "pan -1: %.9g %.9g", l, r);
	mixer_pan_gains(1.0f, &l, &r);
	CHECK(l == 0.0f && r == 1.0f, "pan 1: %.9g %.9g", l, r);
	mixer_pan_gains(0.0f, &l, &r);
	CHECK(fabsf(l - 0.70710678f) < 1e-7f && l == r, "pan 0: %.9g %.9g", l, r);
	mixer_pan_gains(7.0f, &l, &r);
	CHECK(l == 0.0f && r == 1.0f, "pan 7 clamps to 1: %.9g %.9g", l, r);
	mixer_pan_gains(NAN, &l, &r);
	CHECK(l == r && fabsf(l - 0.70710678f) < 1e-7f, "pan NaN is centre: %.9g %.9g", l, r);
}

static void test_fader_curve(void)
{
	struct { float x, db; } known[] = {
		{0.0f, -INFINITY}, {0.25f, -24.0f}, {0.5f, -12.0f}, {0.75f, 0.0f},
		{1.0f, 12.0f}, {0.875f, 6.0f},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		float db = mixer_fader_db(known[i].x);
		CHECK(db == known[i].db || fabsf(db - known[i].db) < 1e-5f,
		      "fader_db(%g) = %g, want %g", known[i].x, db, known[i].db);
		float x = mixer_fader_norm(known[i].db);
		CHECK(fabsf(x - known[i].x) < 1e-6f, "fader_norm(%g) = %.9g, want %g",
		      known[i].db, x, known[i].x);
	}
	/* The log part: db = -24 + 12 ln(4x). */
	float x60 = mixer_fader_norm(-60.0f);
	CHECK(fabs(x60 - 0.25 * exp(-3.0)) < 1e-6, "fader_norm(-60) = %.9g, want %.9g", x60, 0.25 * exp(-3.0));
	CHECK(fabsf(mixer_fader_db(0.1f) - (float)(-24.0 + 12.0 * log(0.4))) < 1e-4f,
	      "fader_db(0.1) = %g", mixer_fader_db(0.1f));

	double worst_roundtrip = 0.0;
	bool monotonic = true;
	float prev = -INFINITY;
	for (int i = 1; i <= 100000; i++) {
		float x = (float)i / 100000.0f;
		float db = mixer_fader_db(x);
		if (!(db > prev))
			monotonic = false;
		prev = db;
		double err = fabs((double)mixer_fader_norm(db) - x);
		if (err > worst_roundtrip)
			worst_roundtrip = err;
	}
	CHECK(monotonic, "fader_db strictly increasing over 1e-5..1");
	CHECK(worst_roundtrip < 1e-6, "fader_norm(fader_db(x)) == x: worst error %.3g", worst_roundtrip);
	double worst_db = 0.0;
	for (float db = -120.0f; db <= 12.0f; db += 0.125f) {
		double err = fabs((double)mixer_fader_db(mixer_fader_norm(db)) - db);
		if (err > worst_db)
			worst_db = err;
	}
	CHECK(worst_db < 1e-3, "fader_db(fader_norm(d)) == d over -120..12: worst %.3g dB", worst_db);
	/* Continuity at the knee (no jump between the two pieces). */
	float below = mixer_fader_db(0.25f - 1e-6f), above = mixer_fader_db(0.25f);
	CHECK(fabsf(above - below) < 1e-3f, "fader curve continuous at 0.25: %g vs %g", below, above);
	CHECK(mixer_fader_db(1.5f) == 12.0f && isinf(mixer_fader_db(-0.5f)),
	      "fader_db clamps: %g %g", mixer_fader_db(1.5f), mixer_fader_db(-0.5f));
	CHECK(mixer_fader_norm(40.0f) == 1.0f && mixer_fader_norm(-INFINITY) == 0.0f,
	      "fader_norm clamps: %g %g", mixer_fader_norm(40.0f), mixer_fader_norm(-INFINITY));
}

static void test_new_args(void)
{
	CHECK(mixer_new(0, 1, 1, 0) == NULL, "rate 0 refused");
	CHECK(mixer_new(RATE, 0, 1, 0) == NULL, "0 strips refused");
	CHECK(mixer_new(RATE, MIXER_MAX_STRIPS + 1, 1, 0) == NULL, "too many strips refused");
	CHECK(mixer_new(RATE, 1, 3, 0) == NULL, "3 channels refused");
	CHECK(mixer_new(RATE, 1, 1, MIXER_MAX_AUX + 1) == NULL, "too many aux refused");
	CHECK(mixer_new(RATE, 1, 1, -1) == NULL, "negative aux refused");
	struct mixer *m = mixer_new(RATE, 3, 2, 2);
	CHECK(m != NULL, "mixer_new(3 stereo, 2 aux)");
	if (m == NULL)
		return;
	CHECK(mixer_strips(m) == 3 && mixer_channels(m) == 2 && mixer_aux(m) == 2,
	      "shape %d %d %d", mixer_strips(m), mixer_channels(m), mixer_aux(m));
	CHECK(mixer_meter_count(m) == 6 && MIXER_METER_MASTER(m) == 3 && MIXER_METER_AUX(m, 1) == 5,
	      "meter indices: count %d master %d aux1 %d", mixer_meter_count(m),
	      MIXER_METER_MASTER(m), MIXER_METER_AUX(m, 1));
	const struct mixer_strip_params *p = mixer_strip(m, 2);
	CHECK(p != NULL && p->gain_db == 0.0f && p->volume_db == 0.0f && p->pan == 0.0f &&
	      !p->mute && !p->solo && !p->phase && isinf(p->send_db[0]) && p->send_db[0] < 0 &&
	      !p->send_pre[1], "defaults");
	CHECK(mixer_strip(m, 3) == NULL && mixer_strip(m, -1) == NULL, "mixer_strip out of range is NULL");
	CHECK(mixer_master_volume(m) == 0.0f && !mixer_master_mute(m), "master defaults");
	mixer_free(m);
	mixer_free(NULL);
}

/* Constant-power pan on a mono strip, and as a balance on a stereo one. */
static void test_pan_law(void)
{
	const float pans[] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f};
	for (size_t i = 0; i < 5; i++) {
		float p = pans[i];
		double want_l = sqrt((1.0 - p) / 2.0), want_r = sqrt((1.0 + p) / 2.0);
		struct rig r;
		rig_init(&r, 1, 1, 0, 64);
		rig_dc(&r, 0, 0, 1.0f);
		mixer_set_pan(r.m, 0, p);
		mixer_settle(r.m);
		rig_run(&r, 64);
		float l = r.master[0][63], rr = r.master[1][63];
		if (want_l == 0.0)
			CHECK(l == 0.0f, "mono pan %g: left %.9g, want exactly 0", p, l);
		else
			CHECK(near_db(l, db_of(want_l), DB_TOL), "mono pan %g: left %.4f dB, want %.4f",
			      p, db_of(l), db_of(want_l));
		if (want_r == 0.0)
			CHECK(rr == 0.0f, "mono pan %g: right %.9g, want exactly 0", p, rr);
		else
			CHECK(near_db(rr, db_of(want_r), DB_TOL), "mono pan %g: right %.4f dB, want %.4f",
			      p, db_of(rr), db_of(want_r));
		rig_done(&r);

		/* Stereo balance: each side keeps its own channel, scaled by its
		 * side's gain; nothing crosses over. */
		rig_init(&r, 1, 2, 0, 64);
		rig_dc(&r, 0, 0, 1.0f);
		rig_dc(&r, 0, 1, 0.5f);
		mixer_set_pan(r.m, 0, p);
		mixer_settle(r.m);
		rig_run(&r, 64);
		l = r.master[0][63];
		rr = r.master[1][63];
		if (want_l == 0.0)
			CHECK(l == 0.0f, "stereo pan %g: left %.9g, want exactly 0", p, l);
		else
			CHECK(near_db(l, db_of(want_l), DB_TOL), "stereo pan %g: left %.4f dB, want %.4f",
			      p, db_of(l), db_of(want_l));
		if (want_r == 0.0)
			CHECK(rr == 0.0f, "stereo pan %g: right %.9g, want exactly 0", p, rr);
		else
			CHECK(near_db(rr, db_of(0.5 * want_r), DB_TOL),
			      "stereo pan %g: right %.4f dB, want %.4f", p, db_of(rr), db_of(0.5 * want_r));
		if (p == -1.0f)
			CHECK(l == 1.0f, "stereo hard left passes the left channel at unity: %.9g", l);
		/* Left channel only: the right output stays exactly silent. */
		rig_dc(&r, 0, 1, 0.0f);
		rig_run(&r, 64);
		CHECK(r.master[1][63] == 0.0f, "stereo pan %g: left input leaks %.9g to the right", p, r.master[1][63]);
		rig_done(&r);
	}
}

/* Fader, input gain and master volume: output level equals the setting. */
static void test_levels(void)
{
	const float faders[] = {-60, -40, -20, -6, 0, 6, 12};
	for (size_t i = 0; i < 7; i++) {
		float db = faders[i];
		struct rig r;
		rig_init(&r, 1, 1, 0, RAMP_FRAMES + 64);
		rig_dc(&r, 0, 0, 0.25f);
		mixer_set_pan(r.m, 0, -1.0f);
		mixer_settle(r.m);
		/* Through the ramp, not settle: the level where it ends. */
		mixer_set_volume(r.m, 0, db);
		rig_run(&r, RAMP_FRAMES + 64);
		float out = r.master[0][RAMP_FRAMES + 63];
		CHECK(near_db(out, db + db_of(0.25), DB_TOL), "fader %g dB: output %.4f dB, want %.4f",
		      db, db_of(out), db + db_of(0.25));
		CHECK(r.master[0][RAMP_FRAMES - 1] == out, "fader %g dB: at target after %d frames", db, RAMP_FRAMES);

		/* Master volume on the same level. */
		mixer_set_volume(r.m, 0, 0.0f);
		mixer_set_master_volume(r.m, db);
		mixer_settle(r.m);
		rig_run(&r, 64);
		out = r.master[0][63];
		CHECK(near_db(out, db + db_of(0.25), DB_TOL), "master %g dB: output %.4f dB, want %.4f",
		      db, db_of(out), db + db_of(0.25));
		CHECK(mixer_master_volume(r.m) == db, "master volume reads back %g", mixer_master_volume(r.m));
		rig_done(&r);
	}
	const float gains[] = {-24, -12, -6, 0, 6, 12, 24};
	for (size_t i = 0; i < 7; i++) {
		struct rig r;
		rig_init(&r, 1, 1, 0, 64);
		rig_dc(&r, 0, 0, 0.25f);
		mixer_set_pan(r.m, 0, -1.0f);
		mixer_set_gain(r.m, 0, gains[i]);
		mixer_settle(r.m);
		rig_run(&r, 64);
		float out = r.master[0][63];
		CHECK(near_db(out, gains[i] + db_of(0.25), DB_TOL), "gain %g dB: output %.4f dB, want %.4f",
		      gains[i], db_of(out), gains[i] + db_of(0.25));
		rig_done(&r);
	}

	/* A sine through fader -20 and gain +6: RMS follows the sum. */
	struct rig r;
	rig_init(&r, 1, 1, 0, 4800);
	rig_sine(&r, 0, 0, 0.5f);
	mixer_set_pan(r.m, 0, -1.0f);
	mixer_set_volume(r.m, 0, -20.0f);
	mixer_set_gain(r.m, 0, 6.0f);
	mixer_settle(r.m);
	rig_run(&r, 4800);
	double in_sq = 0, out_sq = 0;
	for (int i = 0; i < 4800; i++) {
		in_sq += (double)r.in[0][i] * r.in[0][i];
		out_sq += (double)r.master[0][i] * r.master[0][i];
	}
	double got = 10.0 * log10(out_sq / in_sq);
	CHECK(fabs(got + 14.0) < DB_TOL, "sine through fader -20, gain +6: %.4f dB, want -14", got);

	/* -inf fader, master -inf, master mute: exact zeros. */
	mixer_set_volume(r.m, 0, -INFINITY);
	rig_run(&r, 4800);
	bool zero = true;
	for (int i = RAMP_FRAMES - 1; i < 4800; i++)
		zero = zero && r.master[0][i] == 0.0f && r.master[1][i] == 0.0f;
	CHECK(zero, "fader -inf: exact zeros once the ramp is done");
	mixer_set_volume(r.m, 0, 0.0f);
	mixer_set_master_volume(r.m, -INFINITY);
	mixer_settle(r.m);
	rig_run(&r, 256);
	zero = true;
	for (int i = 0; i < 256; i++)
		zero = zero && r.master[0][i] == 0.0f && r.master[1][i] == 0.0f;
	CHECK(zero, "master -inf: exact zeros");
	mixer_set_master_volume(r.m, 0.0f);
	mixer_set_master_mute(r.m, true);
	mixer_settle(r.m);
	rig_run(&r, 256);
	zero = true;
	for (int i = 0; i < 256; i++)
		zero = zero && r.master[0][i] == 0.0f && r.master[1][i] == 0.0f;
	CHECK(zero && mixer_master_mute(r.m), "master mute: exact zeros");
	rig_done(&r);
}

/* Solo in place over 4 strips, all 256 mute/solo combinations in a row
 * on one mixer. Strip s plays DC 2^-s hard left, so the master's left
 * sample spells the audible set in binary, and each strip's meter must be
 * silent exactly when the strip is. */
static void test_mute_solo_table(void)
{
	struct rig r;
	rig_init(&r, 4, 1, 0, 16);
	for (int s = 0; s < 4; s++) {
		rig_dc(&r, s, 0, ldexpf(1.0f, -s));
		mixer_set_pan(r.m, s, -1.0f);
	}
	int wrong = 0;
	for (int combo = 0; combo < 256; combo++) {
		int mutes = combo & 15, solos = combo >> 4;
		for (int s = 0; s < 4; s++) {
			mixer_set_mute(r.m, s, (mutes >> s) & 1);
			mixer_set_solo(r.m, s, (solos >> s) & 1);
		}
		mixer_settle(r.m);
		rig_clear_meters(&r);
		rig_run(&r, 16);
		float want = 0.0f;
		int audible = 0;
		for (int s = 0; s < 4; s++) {
			bool muted = (mutes >> s) & 1, soloed = (solos >> s) & 1;
			if (!muted && (solos == 0 || soloed)) {
				want += ldexpf(1.0f, -s);
				audible |= 1 << s;
			}
		}
		float got = r.master[0][15];
		bool meters_ok = true;
		for (int s = 0; s < 4; s++) {
			struct mixer_meter mt;
			mixer_meter_take(r.m, s, &mt);
			bool heard = (audible >> s) & 1;
			if (heard ? mt.peak != ldexpf(1.0f, -s) : mt.peak != 0.0f)
				meters_ok = false;
		}
		bool ok = got == want && r.master[1][15] == 0.0f && meters_ok;
		if (!ok)
			wrong++;
		CHECK(ok, "mute %d%d%d%d solo %d%d%d%d: master %.6f, want %.6f (audible strips mask %x), meters %s",
		      mutes & 1, (mutes >> 1) & 1, (mutes >> 2) & 1, (mutes >> 3) & 1,
		      solos & 1, (solos >> 1) & 1, (solos >> 2) & 1, (solos >> 3) & 1,
		      got, want, audible, meters_ok ? "ok" : "wrong");
	}
	printf("mute/solo truth table: 256 cases, %d wrong\n", wrong);
	rig_done(&r);
}

/* Aux sends: post follows fader, mute and solo; pre does not. */
static void test_aux_routing(void)
{
	struct rig r;
	rig_init(&r, 2, 1, 2, 64);
	rig_dc(&r, 0, 0, 1.0f);
	mixer_set_pan(r.m, 0, -1.0f);
	mixer_set_volume(r.m, 0, -10.0f);
	mixer_set_send(r.m, 0, 0, -6.0f);          /* post */
	mixer_set_send(r.m, 0, 1, -12.0f);
	mixer_set_send_pre(r.m, 0, 1, true);       /* pre */
	mixer_settle(r.m);
	rig_run(&r, 64);
	float *a0 = r.aux_out[0], *a1 = r.aux_out[2];
	CHECK(near_db(a0[63], -16.0, DB_TOL), "post send -6 after fader -10: %.4f dB, want -16", db_of(a0[63]));
	CHECK(near_db(a1[63], -12.0, DB_TOL), "pre send -12 ignores fader -10: %.4f dB, want -12", db_of(a1[63]));
	CHECK(r.aux_out[1][63] == 0.0f && r.aux_out[3][63] == 0.0f, "sends follow pan: right sides %g %g",
	      r.aux_out[1][63], r.aux_out[3][63]);

	mixer_set_mute(r.m, 0, true);
	mixer_settle(r.m);
	rig_run(&r, 64);
	CHECK(a0[63] == 0.0f, "muted: post send %g, want 0", a0[63]);
	CHECK(near_db(a1[63], -12.0, DB_TOL), "muted: pre send %.4f dB, want -12", db_of(a1[63]));
	CHECK(r.master[0][63] == 0.0f, "muted: master %g", r.master[0][63]);
	mixer_set_mute(r.m, 0, false);
	mixer_set_solo(r.m, 1, true);
	mixer_settle(r.m);
	rig_run(&r, 64);
	CHECK(a0[63] == 0.0f, "other strip soloed: post send %g, want 0", a0[63]);
	CHECK(near_db(a1[63], -12.0, DB_TOL), "other strip soloed: pre send %.4f dB, want -12", db_of(a1[63]));
	mixer_set_solo(r.m, 1, false);
	mixer_set_volume(r.m, 0, -INFINITY);
	mixer_settle(r.m);
	rig_run(&r, 64);
	CHECK(a0[63] == 0.0f && near_db(a1[63], -12.0, DB_TOL), "fader -inf: post %g, pre %.4f dB", a0[63], db_of(a1[63]));
	mixer_set_send_pre(r.m, 0, 0, true);
	mixer_settle(r.m);
	rig_run(&r, 64);
	CHECK(near_db(a0[63], -6.0, DB_TOL), "send 0 switched to pre: %.4f dB, want -6", db_of(a0[63]));
	/* Pre-fader sends follow input gain (and the master does not touch aux). */
	mixer_set_gain(r.m, 0, 6.0f);
	mixer_set_master_volume(r.m, -30.0f);
	mixer_settle(r.m);
	rig_run(&r, 64);
	CHECK(near_db(a1[63], -6.0, DB_TOL), "pre send after gain +6: %.4f dB, want -6", db_of(a1[63]));
	mixer_set_gain(r.m, 0, 0.0f);
	mixer_set_master_volume(r.m, 0.0f);

	const float levels[] = {-40, -20, -6, 0, 6, 12};
	for (size_t i = 0; i < 6; i++) {
		mixer_set_send(r.m, 0, 0, levels[i]);
		mixer_set_send(r.m, 0, 1, levels[i] - 3.0f);
		mixer_settle(r.m);
		rig_run(&r, 64);
		CHECK(near_db(a0[63], levels[i], DB_TOL), "send level %g: aux0 %.4f dB", levels[i], db_of(a0[63]));
		CHECK(near_db(a1[63], levels[i] - 3.0, DB_TOL), "send level %g: aux1 %.4f dB",
		      levels[i] - 3.0f, db_of(a1[63]));
		CHECK(mixer_strip(r.m, 0)->send_db[0] == levels[i], "send level reads back");
	}
	mixer_set_send(r.m, 0, 0, -INFINITY);
	mixer_settle(r.m);
	rig_run(&r, 64);
	CHECK(a0[63] == 0.0f, "send -inf: aux0 %g", a0[63]);

	/* Strip 1 hard right to aux 1 only, post-fader at 0 dB. */
	rig_dc(&r, 1, 0, 0.5f);
	mixer_set_pan(r.m, 1, 1.0f);
	mixer_set_send(r.m, 1, 1, 0.0f);
	mixer_set_send(r.m, 0, 1, -INFINITY);
	mixer_settle(r.m);
	rig_run(&r, 64);
	CHECK(r.aux_out[3][63] == 0.5f && r.aux_out[2][63] == 0.0f, "strip 1 on aux1 right only: L %g R %g",
	      r.aux_out[2][63], r.aux_out[3][63]);
	CHECK(r.aux_out[1][63] == 0.0f && r.aux_out[0][63] == 0.0f, "nothing on aux0: %g %g",
	      r.aux_out[0][63], r.aux_out[1][63]);
	rig_done(&r);

	/* A centred mono strip sends -3 dB to both sides of a bus. */
	rig_init(&r, 1, 1, 1, 64);
	rig_dc(&r, 0, 0, 1.0f);
	mixer_set_send(r.m, 0, 0, 0.0f);
	mixer_settle(r.m);
	rig_run(&r, 64);
	CHECK(near_db(r.aux_out[0][63], db_of(sqrt(0.5)), DB_TOL) && r.aux_out[0][63] == r.aux_out[1][63],
	      "centred send: %.4f / %.4f dB", db_of(r.aux_out[0][63]), db_of(r.aux_out[1][63]));
	rig_done(&r);
}

/* Phase invert flips every sample exactly, on the master and on sends. */
static void test_phase(void)
{
	for (int channels = 1; channels <= 2; channels++) {
		struct rig a, b;
		rig_init(&a, 1, channels, 1, 480);
		rig_init(&b, 1, channels, 1, 480);
		for (int c = 0; c < channels; c++) {
			rig_sine(&a, 0, c, 0.8f - 0.3f * c);
			rig_sine(&b, 0, c, 0.8f - 0.3f * c);
		}
		struct rig *both[2] = {&a, &b};
		for (int i = 0; i < 2; i++) {
			mixer_set_volume(both[i]->m, 0, -3.7f);
			mixer_set_pan(both[i]->m, 0, 0.3f);
			mixer_set_send(both[i]->m, 0, 0, -5.0f);
		}
		mixer_set_phase(b.m, 0, true);
		mixer_settle(a.m);
		mixer_settle(b.m);
		rig_run(&a, 480);
		rig_run(&b, 480);
		bool flipped = true, nonzero = false;
		for (int i = 0; i < 480; i++) {
			for (int s = 0; s < 2; s++) {
				flipped = flipped && b.master[s][i] == -a.master[s][i] &&
					  b.aux_out[s][i] == -a.aux_out[s][i];
				nonzero = nonzero || a.master[s][i] != 0.0f;
			}
		}
		CHECK(flipped && nonzero, "%s strip: phase invert gives exactly -x on master and send",
		      channels == 1 ? "mono" : "stereo");
		CHECK(mixer_strip(b.m, 0)->phase, "phase reads back");
		rig_done(&a);
		rig_done(&b);
	}
}

/* Gain changes ramp: bounded slope, exact length, retargets continue. */
static void test_ramps(void)
{
	const double slope = 1.0 / RAMP_FRAMES * 1.01;
	struct rig r;
	rig_init(&r, 1, 1, 1, 2 * RATE + 1000);
	rig_dc(&r, 0, 0, 1.0f);
	mixer_set_pan(r.m, 0, -1.0f);
	mixer_settle(r.m);
	float *out = r.master[0];

	/* Fader 0 dB -> -inf on DC 1.0. */
	mixer_set_volume(r.m, 0, -INFINITY);
	rig_run(&r, RAMP_FRAMES + 200);
	double step = max_step(out, RAMP_FRAMES + 200, 1.0f);
	CHECK(out[0] < 1.0f && out[0] > 0.99f, "ramp starts at the first frame: %.6f", out[0]);
	CHECK(step <= slope, "fader to -inf: largest step %.3g, bound %.3g", step, slope);
	CHECK(out[RAMP_FRAMES - 1] == 0.0f && out[RAMP_FRAMES - 2] > 0.0f,
	      "fader ramp ends exactly after %d frames: [%d] %.3g, [%d] %.3g", RAMP_FRAMES,
	      RAMP_FRAMES - 2, out[RAMP_FRAMES - 2], RAMP_FRAMES - 1, out[RAMP_FRAMES - 1]);
	bool mono_down = true;
	for (int i = 1; i < RAMP_FRAMES + 200; i++)
		mono_down = mono_down && out[i] <= out[i - 1];
	CHECK(mono_down, "fader ramp is monotonic");

	/* Back up, then mute: same slope and length; unmute rises the same. */
	mixer_set_volume(r.m, 0, 0.0f);
	mixer_settle(r.m);
	mixer_set_mute(r.m, 0, true);
	rig_run(&r, RAMP_FRAMES + 200);
	step = max_step(out, RAMP_FRAMES + 200, 1.0f);
	CHECK(step <= slope && out[RAMP_FRAMES - 1] == 0.0f && out[RAMP_FRAMES - 2] > 0.0f,
	      "mute ramps: step %.3g, [%d] %.3g, [%d] %.3g", step, RAMP_FRAMES - 2,
	      out[RAMP_FRAMES - 2], RAMP_FRAMES - 1, out[RAMP_FRAMES - 1]);
	mixer_set_mute(r.m, 0, false);
	rig_run(&r, RAMP_FRAMES + 200);
	step = max_step(out, RAMP_FRAMES + 200, 0.0f);
	CHECK(step <= slope && out[RAMP_FRAMES - 1] == 1.0f && out[RAMP_FRAMES - 2] < 1.0f,
	      "unmute ramps: step %.3g, [%d] %.6f, [%d] %.6f", step, RAMP_FRAMES - 2,
	      out[RAMP_FRAMES - 2], RAMP_FRAMES - 1, out[RAMP_FRAMES - 1]);

	/* Retarget half way: continue from where it is, then a full ramp. */
	mixer_set_volume(r.m, 0, -INFINITY);
	rig_run(&r, RAMP_FRAMES / 2);
	float halfway = out[RAMP_FRAMES / 2 - 1];
	CHECK(fabsf(halfway - 0.5f) < 0.01f, "half way down: %.4f", halfway);
	mixer_set_volume(r.m, 0, 0.0f);
	rig_run(&r, RAMP_FRAMES + 10);
	step = max_step(out, RAMP_FRAMES + 10, halfway);
	bool up = true;
	for (int i = 1; i < RAMP_FRAMES + 10; i++)
		up = up && out[i] >= out[i - 1];
	CHECK(out[0] > halfway && step <= slope && up,
	      "retarget continues without a jump: %.5f -> %.5f, largest step %.3g", halfway, out[0], step);
	CHECK(out[RAMP_FRAMES - 1] == 1.0f && out[RAMP_FRAMES - 2] < 1.0f,
	      "retarget reaches its target after %d frames", RAMP_FRAMES);

	/* Same value again mid-ramp does not restart the ramp. */
	mixer_set_volume(r.m, 0, -INFINITY);
	rig_run(&r, RAMP_FRAMES / 2);
	mixer_set_volume(r.m, 0, -INFINITY);
	rig_run(&r, RAMP_FRAMES / 2);
	CHECK(out[RAMP_FRAMES / 2 - 1] == 0.0f, "an unchanged setter keeps the ramp's timing: %.3g",
	      out[RAMP_FRAMES / 2 - 1]);

	/* A 2 s scene fade: fader, send and master all arrive at 96000. */
	mixer_set_volume(r.m, 0, 0.0f);
	mixer_settle(r.m);
	mixer_set_ramp_time(r.m, 2.0f);
	mixer_set_volume(r.m, 0, -20.0f);
	mixer_set_send(r.m, 0, 0, -6.0f);
	mixer_set_master_volume(r.m, -10.0f);
	mixer_set_ramp_time(r.m, (float)MIXER_RAMP_S);
	rig_run(&r, 2 * RATE + 1000);
	float want = out[2 * RATE + 999];
	float want_aux = r.aux_out[0][2 * RATE + 999];
	CHECK(near_db(want, -30.0, DB_TOL) && near_db(want_aux, -26.0, DB_TOL),
	      "scene fade targets: master %.4f dB, aux %.4f dB", db_of(want), db_of(want_aux));
	CHECK(out[2 * RATE - 1] == want && out[2 * RATE - 2] != want && out[2 * RATE - 2] > want,
	      "2 s fade: master arrives at frame %d exactly ([%d] %.7g, target %.7g)", 2 * RATE - 1,
	      2 * RATE - 2, out[2 * RATE - 2], want);
	CHECK(r.aux_out[0][2 * RATE - 1] == want_aux && r.aux_out[0][2 * RATE - 2] != want_aux,
	      "2 s fade: the aux send arrives at frame %d exactly", 2 * RATE - 1);
	/* Fader and master both move by at most 1/96000 a frame. */
	double fade_step = max_step(out, 2 * RATE, 1.0f);
	CHECK(fade_step < 2.0 / (2 * RATE) * 1.01, "2 s fade slope %.3g", fade_step);
	/* Back at 20 ms after the fade. */
	mixer_set_master_volume(r.m, 0.0f);
	mixer_set_volume(r.m, 0, 0.0f);
	rig_run(&r, RAMP_FRAMES + 10);
	CHECK(out[RAMP_FRAMES - 1] == 1.0f && out[RAMP_FRAMES - 2] < 1.0f,
	      "ramp time restored to %d frames", RAMP_FRAMES);

	/* Ramp time 0 jumps. */
	mixer_set_ramp_time(r.m, 0.0f);
	mixer_set_volume(r.m, 0, -6.0f);
	rig_run(&r, 4);
	CHECK(near_db(out[0], -6.0, DB_TOL), "ramp time 0: at -6 dB on the first frame (%.4f dB)", db_of(out[0]));
	mixer_set_ramp_time(r.m, (float)MIXER_RAMP_S);
	mixer_set_volume(r.m, 0, 0.0f);
	mixer_settle(r.m);

	/* Pan -1 -> +1 crossfades both sides linearly. */
	mixer_set_pan(r.m, 0, 1.0f);
	rig_run(&r, RAMP_FRAMES + 10);
	double step_l = max_step(r.master[0], RAMP_FRAMES + 10, 1.0f);
	double step_r = max_step(r.master[1], RAMP_FRAMES + 10, 0.0f);
	CHECK(step_l <= slope && step_r <= slope && r.master[0][RAMP_FRAMES - 1] == 0.0f &&
	      r.master[1][RAMP_FRAMES - 1] == 1.0f, "pan ramps: steps %.3g %.3g", step_l, step_r);
	mixer_set_pan(r.m, 0, -1.0f);
	mixer_settle(r.m);

	/* Master volume and a send ramp too. */
	mixer_set_master_volume(r.m, -INFINITY);
	mixer_set_send(r.m, 0, 0, 0.0f);
	mixer_set_send(r.m, 0, 0, -INFINITY);
	mixer_settle(r.m);
	mixer_set_send(r.m, 0, 0, 0.0f);
	mixer_set_master_volume(r.m, 0.0f);
	rig_run(&r, RAMP_FRAMES + 10);
	step = max_step(out, RAMP_FRAMES + 10, 0.0f);
	double step_aux = max_step(r.aux_out[0], RAMP_FRAMES + 10, 0.0f);
	CHECK(step <= slope && out[RAMP_FRAMES - 1] == 1.0f && out[RAMP_FRAMES - 2] < 1.0f,
	      "master volume ramps: step %.3g", step);
	CHECK(step_aux <= slope && r.aux_out[0][RAMP_FRAMES - 1] == 1.0f && r.aux_out[0][RAMP_FRAMES - 2] < 1.0f,
	      "send ramps: step %.3g", step_aux);
	rig_done(&r);

	/* Full-scale sine, 0 dB -> -inf: the output never steps more than
	 * the sine itself does plus one ramp step. */
	rig_init(&r, 1, 1, 0, RAMP_FRAMES + 200);
	rig_sine(&r, 0, 0, 1.0f);
	mixer_set_pan(r.m, 0, -1.0f);
	mixer_settle(r.m);
	mixer_set_volume(r.m, 0, -INFINITY);
	rig_run(&r, RAMP_FRAMES + 200);
	double excess = 0.0;
	for (int i = 1; i < RAMP_FRAMES + 200; i++) {
		double d = fabs((double)r.master[0][i] - r.master[0][i - 1]) -
			   fabs((double)r.in[0][i] - r.in[0][i - 1]);
		if (d > excess)
			excess = d;
	}
	bool silent = true;
	for (int i = RAMP_FRAMES - 1; i < RAMP_FRAMES + 200; i++)
		silent = silent && r.master[0][i] == 0.0f;
	CHECK(excess <= slope, "sine fade-out: step beyond the sine's own %.3g, bound %.3g", excess, slope);
	CHECK(silent && r.master[0][RAMP_FRAMES - 13] != 0.0f, "sine fade-out silent from frame %d", RAMP_FRAMES - 1);
	rig_done(&r);
}

/* Meters on a -6 dBFS, 1 kHz sine, 100 periods. */
static void test_meters(void)
{
	const float amp = (float)pow(10.0, -6.0 / 20.0);
	const double peak_db = -6.0, rms_db = -6.0 - 10.0 * log10(2.0);  /* -9.0103 */
	const uint32_t n = 4800;
	struct mixer_meter mt;

	/* Stereo strip, the same sine on both inputs; gain +3.0103 dB undoes
	 * the -3 dB of the centred pan, so each side leaves the strip at
	 * -6 dBFS: strip, master and the post-fader aux all read -6 / -9. */
	struct rig r;
	rig_init(&r, 1, 2, 1, n);
	rig_sine(&r, 0, 0, amp);
	rig_sine(&r, 0, 1, amp);
	mixer_set_gain(r.m, 0, (float)(10.0 * log10(2.0)));
	mixer_set_send(r.m, 0, 0, 0.0f);
	mixer_settle(r.m);
	rig_clear_meters(&r);
	rig_run(&r, n);
	const char *names[3] = {"strip", "master", "aux"};
	int index[3] = {0, MIXER_METER_MASTER(r.m), MIXER_METER_AUX(r.m, 0)};
	for (int i = 0; i < 3; i++) {
		mixer_meter_take(r.m, index[i], &mt);
		float pk = mixer_meter_peak_db(&mt), rms = mixer_meter_rms_db(&mt);
		CHECK(fabs(pk - peak_db) < 0.1 && fabs(pk - peak_db) < 0.01, "%s meter peak %.4f dB, want -6.0",
		      names[i], pk);
		CHECK(fabs(rms + 9.0) < 0.1 && fabs(rms - rms_db) < 0.01, "%s meter RMS %.4f dB, want -9.0 (%.4f)",
		      names[i], rms, rms_db);
		CHECK(mt.count == 2 * n, "%s meter counted %u samples, want %u", names[i], mt.count, 2 * n);
	}
	mixer_meter_take(r.m, 0, &mt);
	CHECK(mt.count == 0 && isinf(mixer_meter_peak_db(&mt)) && isinf(mixer_meter_rms_db(&mt)),
	      "a take resets the meter (count %u)", mt.count);
	mixer_meter_take(r.m, 99, &mt);
	CHECK(mt.count == 0 && mt.peak == 0.0f, "meter index out of range reads empty");

	/* Muted: the strip meter reads silence (post-mute), samples counted. */
	mixer_set_mute(r.m, 0, true);
	mixer_settle(r.m);
	rig_run(&r, n);
	mixer_meter_take(r.m, 0, &mt);
	CHECK(mt.count == 2 * n && mt.peak == 0.0f && isinf(mixer_meter_rms_db(&mt)),
	      "muted strip meter: peak %g, count %u", mt.peak, mt.count);
	rig_done(&r);

	/* Mono strip hard left: -6 dB peak, RMS -12 dB (the mean over both
	 * sides, the right one silent). */
	rig_init(&r, 1, 1, 0, n);
	rig_sine(&r, 0, 0, amp);
	mixer_set_pan(r.m, 0, -1.0f);
	mixer_settle(r.m);
	rig_run(&r, n);
	mixer_meter_take(r.m, 0, &mt);
	CHECK(fabs(mixer_meter_peak_db(&mt) - peak_db) < 0.01 &&
	      fabs(mixer_meter_rms_db(&mt) - (rms_db - 10.0 * log10(2.0))) < 0.01,
	      "mono hard-left strip meter: peak %.4f, RMS %.4f dB (want -6.0, %.4f)",
	      mixer_meter_peak_db(&mt), mixer_meter_rms_db(&mt), rms_db - 10.0 * log10(2.0));
	rig_done(&r);

	/* The strip meter is exactly what reaches the master (one strip,
	 * master 0 dB), steady and during a ramp: noise, fader -7.3, pan 0.3. */
	rig_init(&r, 1, 1, 0, 3000);
	uint32_t seed = 12345;
	for (uint32_t i = 0; i < 3000; i++) {
		seed = seed * 1664525u + 1013904223u;
		r.in[0][i] = (float)((int32_t)seed) / 2147483648.0f;
	}
	mixer_set_volume(r.m, 0, -7.3f);
	mixer_set_pan(r.m, 0, 0.3f);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			mixer_settle(r.m);
		else
			mixer_set_volume(r.m, 0, 4.0f);  /* ramps across the run */
		rig_clear_meters(&r);
		rig_run(&r, 3000);
		struct mixer_meter ms, mm;
		mixer_meter_take(r.m, 0, &ms);
		mixer_meter_take(r.m, MIXER_METER_MASTER(r.m), &mm);
		float pk = 0.0f;
		for (uint32_t i = 0; i < 3000; i++)
			for (int s = 0; s < 2; s++)
				pk = fabsf(r.master[s][i]) > pk ? fabsf(r.master[s][i]) : pk;
		CHECK(ms.peak == pk && mm.peak == pk, "%s: strip peak %.9g, master peak %.9g, output peak %.9g",
		      pass ? "ramping" : "steady", ms.peak, mm.peak, pk);
		CHECK(fabs(mixer_meter_rms_db(&ms) - mixer_meter_rms_db(&mm)) < 1e-4,
		      "%s: strip RMS %.6f dB, master RMS %.6f dB", pass ? "ramping" : "steady",
		      mixer_meter_rms_db(&ms), mixer_meter_rms_db(&mm));
	}
	rig_done(&r);
}

/* Block-size independence: a scripted session with ramps, solo, pre/post
 * switches, master changes, a NULL input and ramp-time changes, processed
 * in blocks of 1, 7, 64 and 1000 frames, matches the same session
 * processed in one call between events, sample for sample. */
#define SESSION_FRAMES 6000
#define SESSION_STRIPS 5
#define SESSION_AUX 3

static void session_event(struct mixer *m, uint32_t frame)
{
	switch (frame) {
	case 0:
		for (int s = 0; s < SESSION_STRIPS; s++) {
			mixer_set_volume(m, s, -3.0f * s);
			mixer_set_pan(m, s, -0.8f + 0.4f * s);
			for (int k = 0; k < SESSION_AUX; k++)
				mixer_set_send(m, s, k, (s + k) % 2 ? -INFINITY : -4.0f * k);
		}
		mixer_set_send_pre(m, 2, 1, true);
		mixer_settle(m);
		break;
	case 500:
		mixer_set_volume(m, 0, -20.0f);
		mixer_set_mute(m, 3, true);
		mixer_set_pan(m, 1, 0.9f);
		mixer_set_send(m, 1, 0, 3.0f);
		mixer_set_gain(m, 4, 5.0f);
		break;
	case 1400:
		mixer_set_ramp_time(m, 0.05f);
		mixer_set_solo(m, 1, true);
		mixer_set_send_pre(m, 0, 0, true);
		mixer_set_master_volume(m, -8.0f);
		break;
	case 1401:
		mixer_set_ramp_time(m, (float)MIXER_RAMP_S);
		break;
	case 3000:
		mixer_set_volume(m, 1, 6.0f);
		mixer_set_solo(m, 1, false);
		mixer_set_master_mute(m, true);
		mixer_set_send(m, 2, 2, -INFINITY);
		break;
	case 3900:
		mixer_set_master_mute(m, false);
		mixer_set_phase(m, 2, true);
		mixer_set_volume(m, 0, -INFINITY);
		break;
	}
}

static const uint32_t session_events[] = {0, 500, 1400, 1401, 3000, 3900};

struct session_out {
	float master[2][SESSION_FRAMES];
	float aux[2 * SESSION_AUX][SESSION_FRAMES];
	float peak[SESSION_STRIPS + 1 + SESSION_AUX];
	float rms[SESSION_STRIPS + 1 + SESSION_AUX];
};

static void run_session(int channels, float *const *inputs, uint32_t block, struct session_out *o)
{
	struct mixer *m = mixer_new(RATE, SESSION_STRIPS, channels, SESSION_AUX);
	const float *in[2 * SESSION_STRIPS];
	float *master[2], *aux[2 * SESSION_AUX];
	size_t next_event = 0;
	uint32_t pos = 0;
	while (pos < SESSION_FRAMES) {
		while (next_event < sizeof session_events / sizeof session_events[0] &&
		       session_events[next_event] == pos)
			session_event(m, session_events[next_event++]);
		uint32_t until = next_event < sizeof session_events / sizeof session_events[0]
					 ? session_events[next_event] : SESSION_FRAMES;
		uint32_t n = until - pos < block ? until - pos : block;
		for (int i = 0; i < SESSION_STRIPS * channels; i++)
			in[i] = inputs[i] ? inputs[i] + pos : NULL;
		for (int s = 0; s < 2; s++)
			master[s] = o->master[s] + pos;
		for (int i = 0; i < 2 * SESSION_AUX; i++)
			aux[i] = o->aux[i] + pos;
		mixer_process(m, n, in, master, aux);
		pos += n;
	}
	for (int i = 0; i < mixer_meter_count(m); i++) {
		struct mixer_meter mt;
		mixer_meter_take(m, i, &mt);
		o->peak[i] = mt.peak;
		o->rms[i] = mixer_meter_rms_db(&mt);
	}
	mixer_free(m);
}

static void test_block_sizes(void)
{
	static struct session_out ref, got;
	for (int channels = 1; channels <= 2; channels++) {
		float *inputs[2 * SESSION_STRIPS] = {0};
		uint32_t seed = 777u + (uint32_t)channels;
		for (int i = 0; i < SESSION_STRIPS * channels; i++) {
			/* Strip 3's last channel is unplugged (NULL = silence). */
			if (i == 3 * channels + channels - 1)
				continue;
			inputs[i] = buffer(SESSION_FRAMES);
			for (uint32_t f = 0; f < SESSION_FRAMES; f++) {
				seed = seed * 1664525u + 1013904223u;
				inputs[i][f] = (float)((int32_t)seed) / 2147483648.0f * 0.7f;
			}
		}
		run_session(channels, inputs, SESSION_FRAMES, &ref);
		bool heard = false;
		for (uint32_t f = 0; f < SESSION_FRAMES; f++)
			heard = heard || ref.master[0][f] != 0.0f;
		CHECK(heard, "the session makes sound");
		const uint32_t blocks[] = {1, 7, 64, 1000};
		for (size_t b = 0; b < 4; b++) {
			run_session(channels, inputs, blocks[b], &got);
			long diff = -1;
			for (uint32_t f = 0; f < SESSION_FRAMES && diff < 0; f++) {
				for (int s = 0; s < 2; s++)
					if (got.master[s][f] != ref.master[s][f])
						diff = f;
				for (int a = 0; a < 2 * SESSION_AUX; a++)
					if (got.aux[a][f] != ref.aux[a][f])
						diff = f;
			}
			CHECK(diff < 0, "%s, blocks of %u: outputs identical to one call (first difference at frame %ld)",
			      channels == 1 ? "mono" : "stereo", blocks[b], diff);
			bool meters_same = true;
			for (int i = 0; i < SESSION_STRIPS + 1 + SESSION_AUX; i++)
				meters_same = meters_same && got.peak[i] == ref.peak[i] &&
					      (got.rms[i] == ref.rms[i] || fabsf(got.rms[i] - ref.rms[i]) < 1e-3f);
			CHECK(meters_same, "%s, blocks of %u: meters match", channels == 1 ? "mono" : "stereo",
			      blocks[b]);
		}
		for (int i = 0; i < 2 * SESSION_STRIPS; i++)
			free(inputs[i]);
	}
}

/* NaN is ignored, out-of-range values clamp, bad indices do nothing. */
static void test_setter_limits(void)
{
	struct rig r;
	rig_init(&r, 2, 1, 1, 64);
	rig_dc(&r, 0, 0, 0.25f);
	mixer_set_pan(r.m, 0, -1.0f);
	mixer_set_volume(r.m, 0, -6.0f);
	mixer_set_send(r.m, 0, 0, -10.0f);
	mixer_settle(r.m);
	rig_run(&r, 64);
	float before = r.master[0][63], before_aux = r.aux_out[0][63];
	mixer_set_volume(r.m, 0, NAN);
	mixer_set_gain(r.m, 0, NAN);
	mixer_set_pan(r.m, 0, NAN);
	mixer_set_send(r.m, 0, 0, NAN);
	mixer_set_master_volume(r.m, NAN);
	mixer_set_ramp_time(r.m, NAN);
	const struct mixer_strip_params *p = mixer_strip(r.m, 0), *p1 = mixer_strip(r.m, 1);
	CHECK(p->volume_db == -6.0f && p->gain_db == 0.0f && p->pan == -1.0f && p->send_db[0] == -10.0f &&
	      mixer_master_volume(r.m) == 0.0f, "NaN setters change no parameter");
	rig_run(&r, 64);
	CHECK(r.master[0][0] == before && r.master[0][63] == before && r.aux_out[0][63] == before_aux,
	      "NaN setters change no output: %.9g vs %.9g", r.master[0][63], before);
	/* Ramp time still 20 ms after the NaN. */
	mixer_set_volume(r.m, 0, 0.0f);
	float first = 0.0f;
	for (int i = 0; i < RAMP_FRAMES / 64 + 1; i++) {
		rig_run(&r, 64);
		if (i == 0)
			first = r.master[0][0];
	}
	CHECK(first > before && first < 0.25f && r.master[0][63] == 0.25f,
	      "NaN ramp time ignored: still ramping from %.5f to 0.25", first);

	struct { const char *what; float set, want; int field; } clamps[] = {
		{"gain 100", 100.0f, 24.0f, 0}, {"gain -100", -100.0f, -24.0f, 0},
		{"gain -inf", -INFINITY, -24.0f, 0}, {"volume 50", 50.0f, 12.0f, 1},
		{"volume +inf", INFINITY, 12.0f, 1}, {"pan 5", 5.0f, 1.0f, 2},
		{"pan -inf", -INFINITY, -1.0f, 2}, {"send 40", 40.0f, 12.0f, 3},
		{"master 30", 30.0f, 12.0f, 4},
	};
	for (size_t i = 0; i < sizeof clamps / sizeof clamps[0]; i++) {
		float got = NAN;
		switch (clamps[i].field) {
		case 0: mixer_set_gain(r.m, 1, clamps[i].set); got = p1->gain_db; break;
		case 1: mixer_set_volume(r.m, 1, clamps[i].set); got = p1->volume_db; break;
		case 2: mixer_set_pan(r.m, 1, clamps[i].set); got = p1->pan; break;
		case 3: mixer_set_send(r.m, 1, 0, clamps[i].set); got = p1->send_db[0]; break;
		case 4: mixer_set_master_volume(r.m, clamps[i].set); got = mixer_master_volume(r.m); break;
		}
		CHECK(got == clamps[i].want, "%s clamps to %g (got %g)", clamps[i].what, clamps[i].want, got);
	}
	/* +12 dB fader and +24 dB gain really reach the output. */
	mixer_set_gain(r.m, 1, 100.0f);
	CHECK(p1->gain_db == 24.0f, "gain 100 clamps to 24 again (got %g)", p1->gain_db);
	rig_dc(&r, 1, 0, 0.001f);
	mixer_set_master_volume(r.m, 0.0f);
	mixer_set_mute(r.m, 0, true);
	mixer_set_pan(r.m, 1, -1.0f);
	mixer_settle(r.m);
	rig_run(&r, 64);
	CHECK(near_db(r.master[0][63], 36.0 + db_of(0.001), DB_TOL), "clamped gain and fader: %.4f dB, want %.4f",
	      db_of(r.master[0][63]), 36.0 + db_of(0.001));

	/* Negative ramp time clamps to 0: changes jump. */
	mixer_set_ramp_time(r.m, -5.0f);
	mixer_set_volume(r.m, 1, 0.0f);
	rig_run(&r, 64);
	CHECK(near_db(r.master[0][0], 24.0 + db_of(0.001), DB_TOL), "ramp time -5 clamps to 0: jump (%.4f dB)",
	      db_of(r.master[0][0]));

	/* Bad indices are ignored. */
	mixer_set_volume(r.m, -1, -10.0f);
	mixer_set_volume(r.m, 2, -10.0f);
	mixer_set_send(r.m, 0, 1, 0.0f);
	mixer_set_send(r.m, 0, -1, 0.0f);
	mixer_set_send_pre(r.m, 0, 5, true);
	mixer_set_solo(r.m, 7, true);
	mixer_set_mute(r.m, -3, true);
	mixer_set_phase(r.m, 2, true);
	rig_run(&r, 64);
	CHECK(near_db(r.master[0][63], 24.0 + db_of(0.001), DB_TOL),
	      "bad strip/aux indices change nothing");
	CHECK(p1->volume_db == 0.0f && !p->solo && !p->phase, "bad indices left the strips alone");
	rig_done(&r);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 64 stereo strips x 4 aux at 64-frame periods: time per frame (print). */
static void bench(void)
{
	enum { STRIPS = 64, AUX = 4, N = 64 };
	struct rig r;
	rig_init(&r, STRIPS, 2, AUX, N);
	uint32_t seed = 99;
	for (int i = 0; i < STRIPS * 2; i++)
		for (int f = 0; f < N; f++) {
			seed = seed * 1664525u + 1013904223u;
			r.in[i][f] = (float)((int32_t)seed) / 2147483648.0f * 0.5f;
		}
	for (int s = 0; s < STRIPS; s++) {
		mixer_set_volume(r.m, s, -10.0f + (float)(s % 7));
		mixer_set_pan(r.m, s, -0.9f + 0.03f * (float)s);
		for (int k = 0; k < AUX; k++) {
			mixer_set_send(r.m, s, k, -6.0f - (float)k);
			mixer_set_send_pre(r.m, s, k, k >= 2);
		}
	}
	mixer_settle(r.m);
	cl_rt_flush_denormals();
	for (int i = 0; i < 2000; i++)
		rig_run(&r, N);
	const int periods = 40000;
	double best = 1e9;
	for (int rep = 0; rep < 3; rep++) {
		double t0 = now_s();
		for (int i = 0; i < periods; i++)
			rig_run(&r, N);
		double dt = now_s() - t0;
		if (dt < best)
			best = dt;
	}
	double ns_frame = best / ((double)periods * N) * 1e9;
	printf("timing: 64 stereo strips x 4 sends, n=64, steady: %.1f ns/frame, %.2f us/period, "
	       "%.2f%% of one core at 48 kHz\n", ns_frame, ns_frame * N / 1000.0, ns_frame * RATE / 1e7);

	/* Every coefficient ramping (a long scene fade in progress). */
	mixer_set_ramp_time(r.m, 100.0f);
	for (int s = 0; s < STRIPS; s++) {
		mixer_set_volume(r.m, s, -30.0f);
		for (int k = 0; k < AUX; k++)
			mixer_set_send(r.m, s, k, -20.0f);
	}
	const int ramp_periods = 20000;  /* 26.7 s: still inside the 100 s fade */
	double t0 = now_s();
	for (int i = 0; i < ramp_periods; i++)
		rig_run(&r, N);
	double dt = now_s() - t0;
	ns_frame = dt / ((double)ramp_periods * N) * 1e9;
	printf("timing: same, every gain ramping:   %.1f ns/frame, %.2f us/period, "
	       "%.2f%% of one core at 48 kHz\n", ns_frame, ns_frame * N / 1000.0, ns_frame * RATE / 1e7);
	rig_done(&r);
}

int main(void)
{
	test_conversions();
	test_fader_curve();
	test_new_args();
	test_pan_law();
	test_levels();
	test_mute_solo_table();
	test_aux_routing();
	test_phase();
	test_ramps();
	test_meters();
	test_block_sizes();
	test_setter_limits();
	bench();
	printf("test_mixer_dsp: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
