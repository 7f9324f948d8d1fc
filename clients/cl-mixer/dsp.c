/*
 * The cl-mixer engine as plain DSP (see dsp.h for the signal path).
 *
 * Every path from an input channel to a bus side is one coefficient: the
 * product of input gain, phase sign, fader, pan side, audibility (mute and
 * solo) and, for a send, the send level. The setters keep the linear value
 * of each factor and rebuild a strip's coefficients with a few products;
 * nothing is computed per sample but multiply-adds. A coefficient that
 * changes moves there on a linear ramp (target - step * remaining, so a
 * ramp lands exactly on its target after its length, whatever the block
 * size), and each coefficient ramps on its own: a moving send does not
 * slow down the rest of its strip.
 *
 * mixer_process() walks the frames in blocks of MIXER_BLOCK so that the
 * bus accumulators (2 + 2 * aux lines of MIXER_BLOCK floats) stay in L1.
 * Per strip and bus side the work is one of three loops: nothing (an idle
 * coefficient at zero: fader -inf, muted, send off), a constant
 * multiply-add, or a multiply-add by a per-sample gain line that the ramp
 * fills (only while it runs). The loops use GCC/Clang vector extensions,
 * four floats at a time, because GCC 12 at -O2 vectorises none of the
 * plain-C forms (its very-cheap cost model refuses loops of unknown trip
 * count). Output must not depend on where block boundaries fall, so the
 * scalar tails repeat the vector expressions, and a constant and a ramped
 * coefficient go through the same arithmetic (with the same chances for
 * the compiler to fuse a multiply-add): the master path rounds the
 * product before adding it in both forms, the sends fuse in both.
 *
 * Meters. A strip meter measures what the strip adds to the master bus:
 * post input gain, fader, pan and mute/solo, before the master volume
 * (a muted strip reads silence). Peak is over both sides; the sum of
 * squares is over both sides and `count` is two per frame, so RMS is the
 * mean over the two channels (a -6 dBFS sine on both sides reads -6 dB
 * peak, -9 dB RMS; on one side only, -12 dB RMS). It is read in the same
 * pass as the master multiply-add, from the very products added to the
 * bus. The master meter is post master volume (what leaves master_out);
 * aux meters are the aux buses. Meters keep counting while a strip is
 * silent (muted, fader -inf, NULL input), so RMS falls as it should.
 */
#include "dsp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_simd.h"

#define MIXER_BLOCK 256        /* frames per inner pass */
#define MIXER_ALIGN 64         /* scratch lines start on a cache line */
#define MIXER_RAMP_MAX_S 3600.0

struct gain_ramp {
	float current;       /* value of the last frame produced */
	float target;
	float step;          /* per frame, towards the target */
	uint32_t remaining;  /* frames left; 0 = idle (current == target) */
};

struct strip {
	struct mixer_strip_params p;
	/* Linear factors, cached by the setters. */
	float gain_lin;      /* input gain with the phase sign */
	float fader_lin;
	float pan_l, pan_r;
	float send_lin[MIXER_MAX_AUX];
	struct gain_ramp main[2];                /* to master L, R */
	struct gain_ramp send[MIXER_MAX_AUX][2]; /* to aux k L, R */
};

struct mixer {
	uint32_t rate;
	int strips;
	int channels;
	int aux;
	uint32_t ramp_frames;
	int solo_count;
	float master_db;
	bool master_muted;
	struct gain_ramp master;
	struct strip *strip;         /* [strips] */
	struct mixer_meter *meter;   /* [strips + 1 + aux] */
	void *scratch;               /* one aligned block for the lines below */
	float *bus;                  /* (2 + 2 * aux) lines: master L, R, aux0 L, R ... */
	float *gain_line[2];         /* ramp values for one bus side */
	float *zeros;                /* silence for a NULL input channel */
	float *discard;              /* target of a NULL output */
};

struct level {
	float peak;    /* largest |sample| */
	float sum_sq;  /* sum of squares */
};

/* ------------------------------------------------------------------ */
/* Kernels over one block. bus lines are the mixer's own scratch, so they
 * never alias the caller's buffers. */

/* bus += c * x. RT */
static void mac_const(float *restrict bus, const float *restrict x, float c, uint32_t n)
{
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4)
		v4f_store(bus + i, v4f_load(bus + i) + c * v4f_load(x + i));
	for (; i < n; i++)
		bus[i] += c * x[i];
}

/* bus += c * x, and the level of c * x (the strip's post-fader signal).
 * The product is rounded before the add, exactly as in mac_line_level(),
 * so a frame mixes to the same bits whether or not a ramp covered its
 * block (a fused multiply-add here would not). RT */
static struct level mac_const_level(float *restrict bus, const float *restrict x,
				    float c, uint32_t n)
{
	v4f peak4 = {0, 0, 0, 0}, sum4 = {0, 0, 0, 0};
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f v = c * v4f_load(x + i);
		v4f_store(bus + i, v4f_load(bus + i) + v);
		peak4 = v4f_max(v4f_abs(v), peak4);
		sum4 += v * v;
	}
	struct level lv = {v4f_hmax(peak4), v4f_hsum(sum4)};
	for (; i < n; i++) {
		float v = c * x[i];
		float a = fabsf(v);
		bus[i] += v;
		lv.peak = a > lv.peak ? a : lv.peak;
		lv.sum_sq += v * v;
	}
	return lv;
}

/* Mono strip to both master sides: bus_l += cl * x, bus_r += cr * x, and
 * the level of both products together. RT */
static struct level mac2_const_level(float *restrict bus_l, float *restrict bus_r,
				     const float *restrict x, float cl, float cr,
				     uint32_t n)
{
	v4f peak4 = {0, 0, 0, 0}, sum4 = {0, 0, 0, 0};
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f v = v4f_load(x + i);
		v4f l = cl * v, r = cr * v;
		v4f_store(bus_l + i, v4f_load(bus_l + i) + l);
		v4f_store(bus_r + i, v4f_load(bus_r + i) + r);
		peak4 = v4f_max(v4f_max(v4f_abs(l), v4f_abs(r)), peak4);
		sum4 += l * l + r * r;
	}
	struct level lv = {v4f_hmax(peak4), v4f_hsum(sum4)};
	for (; i < n; i++) {
		float l = cl * x[i], r = cr * x[i];
		float al = fabsf(l), ar = fabsf(r);
		bus_l[i] += l;
		bus_r[i] += r;
		lv.peak = al > lv.peak ? al : lv.peak;
		lv.peak = ar > lv.peak ? ar : lv.peak;
		lv.sum_sq += l * l + r * r;
	}
	return lv;
}

/* Both sides of one aux bus: bus_l += cl * xl, bus_r += cr * xr (xl may
 * be xr: a mono strip). One loop instead of two halves the loop overhead,
 * which is most of the cost at 64 frames. RT */
static void mac2_const(float *restrict bus_l, float *restrict bus_r,
		       const float *xl, const float *xr, float cl, float cr, uint32_t n)
{
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f_store(bus_l + i, v4f_load(bus_l + i) + cl * v4f_load(xl + i));
		v4f_store(bus_r + i, v4f_load(bus_r + i) + cr * v4f_load(xr + i));
	}
	for (; i < n; i++) {
		bus_l[i] += cl * xl[i];
		bus_r[i] += cr * xr[i];
	}
}

/* bus += g * x with a gain per sample (a running ramp). RT */
static void mac_line(float *restrict bus, const float *restrict x,
		     const float *restrict g, uint32_t n)
{
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4)
		v4f_store(bus + i, v4f_load(bus + i) + v4f_load(g + i) * v4f_load(x + i));
	for (; i < n; i++)
		bus[i] += g[i] * x[i];
}

/* bus += g * x, and the level of g * x (the strip's post-fader signal). RT */
static struct level mac_line_level(float *restrict bus, const float *restrict x,
				   const float *restrict g, uint32_t n)
{
	v4f peak4 = {0, 0, 0, 0}, sum4 = {0, 0, 0, 0};
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f v = v4f_load(g + i) * v4f_load(x + i);
		v4f_store(bus + i, v4f_load(bus + i) + v);
		peak4 = v4f_max(v4f_abs(v), peak4);
		sum4 += v * v;
	}
	struct level lv = {v4f_hmax(peak4), v4f_hsum(sum4)};
	for (; i < n; i++) {
		float v = g[i] * x[i];
		float a = fabsf(v);
		bus[i] += v;
		lv.peak = a > lv.peak ? a : lv.peak;
		lv.sum_sq += v * v;
	}
	return lv;
}

/* out = c * bus, and the level of out. RT */
static struct level scale_const_level(float *restrict out, const float *restrict bus,
				      float c, uint32_t n)
{
	v4f peak4 = {0, 0, 0, 0}, sum4 = {0, 0, 0, 0};
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f v = c * v4f_load(bus + i);
		v4f_store(out + i, v);
		peak4 = v4f_max(v4f_abs(v), peak4);
		sum4 += v * v;
	}
	struct level lv = {v4f_hmax(peak4), v4f_hsum(sum4)};
	for (; i < n; i++) {
		float v = c * bus[i];
		float a = fabsf(v);
		out[i] = v;
		lv.peak = a > lv.peak ? a : lv.peak;
		lv.sum_sq += v * v;
	}
	return lv;
}

/* out = g * bus with a gain per sample, and the level of out. RT */
static struct level scale_line_level(float *restrict out, const float *restrict bus,
				     const float *restrict g, uint32_t n)
{
	v4f peak4 = {0, 0, 0, 0}, sum4 = {0, 0, 0, 0};
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f v = v4f_load(g + i) * v4f_load(bus + i);
		v4f_store(out + i, v);
		peak4 = v4f_max(v4f_abs(v), peak4);
		sum4 += v * v;
	}
	struct level lv = {v4f_hmax(peak4), v4f_hsum(sum4)};
	for (; i < n; i++) {
		float v = g[i] * bus[i];
		float a = fabsf(v);
		out[i] = v;
		lv.peak = a > lv.peak ? a : lv.peak;
		lv.sum_sq += v * v;
	}
	return lv;
}

/* out = bus, and the level. RT */
static struct level copy_level(float *restrict out, const float *restrict bus, uint32_t n)
{
	v4f peak4 = {0, 0, 0, 0}, sum4 = {0, 0, 0, 0};
	uint32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f v = v4f_load(bus + i);
		v4f_store(out + i, v);
		peak4 = v4f_max(v4f_abs(v), peak4);
		sum4 += v * v;
	}
	struct level lv = {v4f_hmax(peak4), v4f_hsum(sum4)};
	for (; i < n; i++) {
		float v = bus[i];
		float a = fabsf(v);
		out[i] = v;
		lv.peak = a > lv.peak ? a : lv.peak;
		lv.sum_sq += v * v;
	}
	return lv;
}

/* ------------------------------------------------------------------ */
/* Ramps */

/* Be at `value` with no ramp running. RT */
static void ramp_jump(struct gain_ramp *r, float value)
{
	r->current = value;
	r->target = value;
	r->step = 0.0f;
	r->remaining = 0;
}

/* Head for `target` from the current value over `frames` frames; an
 * unchanged target keeps the running ramp (and its timing). RT */
static void ramp_retarget(struct gain_ramp *r, float target, uint32_t frames)
{
	if (target == r->target)
		return;
	if (frames == 0 || target == r->current) {
		ramp_jump(r, target);
		return;
	}
	r->target = target;
	r->step = (float)(((double)target - (double)r->current) / (double)frames);
	r->remaining = frames;
}

static inline bool ramp_busy(const struct gain_ramp *r)
{
	return r->remaining != 0;
}

/* The value `remaining` frames before the end: computed from the target,
 * not accumulated, so the last frame is exactly the target. */
static inline float ramp_value(float target, float step, uint32_t remaining)
{
	return target - step * (float)(int32_t)remaining;
}

/* Write the next n values of the ramp into g and advance it. RT */
static void ramp_fill(struct gain_ramp *r, float *restrict g, uint32_t n)
{
	float target = r->target, step = r->step;
	uint32_t left = r->remaining;
	uint32_t moving = left < n ? left : n;
	uint32_t i = 0;
	/* Lane j of pass i holds frame i + j, which has left - 1 - i - j
	 * frames to go (ramp_frames fits an int32, see mixer_set_ramp_time). */
	const v4i lane_offset = {1, 2, 3, 4};
	for (; i + 4 <= moving; i += 4) {
		v4i to_go = (int32_t)(left - i) - lane_offset;
		v4f_store(g + i, target - step * __builtin_convertvector(to_go, v4f));
	}
	for (; i < moving; i++)
		g[i] = ramp_value(target, step, left - 1 - i);
	for (; i < n; i++)
		g[i] = target;
	left -= moving;
	r->remaining = left;
	r->current = left != 0 ? ramp_value(target, step, left) : target;
}

/* Advance the ramp by n frames without producing values. RT */
static void ramp_skip(struct gain_ramp *r, uint32_t n)
{
	if (r->remaining <= n) {
		ramp_jump(r, r->target);
		return;
	}
	r->remaining -= n;
	r->current = ramp_value(r->target, r->step, r->remaining);
}

/* ------------------------------------------------------------------ */
/* Levels and curves */

/* dB to a linear factor; -inf gives exactly 0, NaN stays NaN. */
float mixer_db_to_gain(float db)
{
	if (isnan(db))
		return db;
	if (isinf(db) && db < 0)
		return 0.0f;
	return (float)pow(10.0, (double)db / 20.0);
}

/* A linear factor (its magnitude) to dB; 0 gives -inf. */
float mixer_gain_to_db(float gain)
{
	if (isnan(gain))
		return gain;
	if (gain == 0.0f)
		return -INFINITY;
	return (float)(20.0 * log10(fabs((double)gain)));
}

/* Constant-power pan: left = sqrt((1-p)/2), right = sqrt((1+p)/2); p is
 * clamped to -1..1 and NaN reads as centre. */
void mixer_pan_gains(float pan, float *left, float *right)
{
	double p = isnan(pan) ? 0.0 : pan < -1.0f ? -1.0 : pan > 1.0f ? 1.0 : pan;
	*left = (float)sqrt((1.0 - p) / 2.0);
	*right = (float)sqrt((1.0 + p) / 2.0);
}

/*
 * Fader curve. Above 0.25 it is linear in dB, 48 dB over the upper three
 * quarters: db = (x - 0.75) * 48, so 0.75 is 0 dB, 1 is +12 dB and 0.25 is
 * -24 dB (0.75 dB per 1/64). Below 0.25: db = -24 + 12 * ln(4x), which
 * meets the linear part at 0.25 with the same slope (d/dx = 12/x = 48
 * there), falls ever faster and reaches -inf at 0 (-30 dB at 0.152, -40 at
 * 0.066, -60 at 0.0124). Both pieces invert in closed form.
 */
#define FADER_KNEE_X 0.25
#define FADER_KNEE_DB -24.0
#define FADER_DB_PER_UNIT 48.0
#define FADER_LOG_DB 12.0      /* FADER_DB_PER_UNIT * FADER_KNEE_X: equal slopes */

/* Position 0..1 (clamped) to dB; NaN stays NaN. */
float mixer_fader_db(float norm)
{
	if (isnan(norm))
		return norm;
	double x = norm;
	if (x <= 0.0)
		return -INFINITY;
	if (x >= 1.0)
		return (float)MIXER_VOLUME_MAX_DB;
	if (x >= FADER_KNEE_X)
		return (float)((x - 0.75) * FADER_DB_PER_UNIT);
	return (float)(FADER_KNEE_DB + FADER_LOG_DB * log(x / FADER_KNEE_X));
}

/* dB (clamped to -inf..+12) to position 0..1; NaN stays NaN. */
float mixer_fader_norm(float db)
{
	if (isnan(db))
		return db;
	double d = db;
	if (d >= MIXER_VOLUME_MAX_DB)
		return 1.0f;
	if (isinf(d))
		return 0.0f;
	if (d >= FADER_KNEE_DB)
		return (float)(0.75 + d / FADER_DB_PER_UNIT);
	return (float)(FADER_KNEE_X * exp((d - FADER_KNEE_DB) / FADER_LOG_DB));
}

/* Peak in dB; -inf for silence. */
float mixer_meter_peak_db(const struct mixer_meter *mt)
{
	if (!(mt->peak > 0.0f))
		return -INFINITY;
	return (float)(20.0 * log10((double)mt->peak));
}

/* RMS in dB over every sample summed; -inf for silence or nothing. */
float mixer_meter_rms_db(const struct mixer_meter *mt)
{
	if (mt->count == 0 || !(mt->sum_sq > 0.0))
		return -INFINITY;
	return (float)(10.0 * log10(mt->sum_sq / (double)mt->count));
}

/* ------------------------------------------------------------------ */
/* Life cycle */

/* Put a strip at the defaults: unity, centre, every send off and post. */
static void strip_defaults(struct strip *st)
{
	memset(st, 0, sizeof *st);
	st->p.gain_db = 0.0f;
	st->p.volume_db = 0.0f;
	st->p.pan = 0.0f;
	for (int k = 0; k < MIXER_MAX_AUX; k++) {
		st->p.send_db[k] = -INFINITY;
		st->p.send_pre[k] = false;
		st->send_lin[k] = 0.0f;
	}
	st->gain_lin = 1.0f;
	st->fader_lin = 1.0f;
	mixer_pan_gains(0.0f, &st->pan_l, &st->pan_r);
}

static void strip_retarget(struct mixer *m, struct strip *st);
static uint32_t ramp_frames_of(double seconds, uint32_t rate);

/* Allocate the mixer and all its scratch; NULL on bad arguments. Not RT. */
struct mixer *mixer_new(uint32_t rate, int strips, int channels, int aux)
{
	if (rate == 0 || strips < 1 || strips > MIXER_MAX_STRIPS ||
	    channels < 1 || channels > 2 || aux < 0 || aux > MIXER_MAX_AUX)
		return NULL;
	struct mixer *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->rate = rate;
	m->strips = strips;
	m->channels = channels;
	m->aux = aux;
	m->ramp_frames = ramp_frames_of(MIXER_RAMP_S, rate);
	m->strip = calloc((size_t)strips, sizeof *m->strip);
	m->meter = calloc((size_t)strips + 1 + (size_t)aux, sizeof *m->meter);
	size_t lines = 2 + 2 * (size_t)aux + 2 + 1 + 1;
	size_t bytes = lines * MIXER_BLOCK * sizeof(float);
	m->scratch = aligned_alloc(MIXER_ALIGN, bytes);
	if (m->strip == NULL || m->meter == NULL || m->scratch == NULL) {
		mixer_free(m);
		return NULL;
	}
	/* Touched now so no page fault lands in the audio thread. */
	memset(m->scratch, 0, bytes);
	float *line = m->scratch;
	m->bus = line;
	line += (2 + 2 * (size_t)aux) * MIXER_BLOCK;
	m->gain_line[0] = line;
	line += MIXER_BLOCK;
	m->gain_line[1] = line;
	line += MIXER_BLOCK;
	m->zeros = line;
	line += MIXER_BLOCK;
	m->discard = line;

	for (int s = 0; s < strips; s++) {
		strip_defaults(&m->strip[s]);
		strip_retarget(m, &m->strip[s]);
	}
	m->master_db = 0.0f;
	ramp_jump(&m->master, 1.0f);
	mixer_settle(m);
	return m;
}

/* Free the mixer (NULL is fine). Not RT. */
void mixer_free(struct mixer *m)
{
	if (m == NULL)
		return;
	free(m->scratch);
	free(m->meter);
	free(m->strip);
	free(m);
}

/* The shape the mixer was made with, and its number of meters. */
int mixer_strips(const struct mixer *m) { return m->strips; }
int mixer_channels(const struct mixer *m) { return m->channels; }
int mixer_aux(const struct mixer *m) { return m->aux; }
int mixer_meter_count(const struct mixer *m) { return m->strips + 1 + m->aux; }

/* ------------------------------------------------------------------ */
/* Parameters */

/* Rebuild a strip's coefficient targets from its cached factors and start
 * the ramps of those that changed. RT */
static void strip_retarget(struct mixer *m, struct strip *st)
{
	bool audible = !st->p.mute && (m->solo_count == 0 || st->p.solo);
	float pre = st->gain_lin;
	float post = audible ? pre * st->fader_lin : 0.0f;
	float pan[2] = {st->pan_l, st->pan_r};
	uint32_t frames = m->ramp_frames;
	for (int side = 0; side < 2; side++)
		ramp_retarget(&st->main[side], post * pan[side], frames);
	for (int k = 0; k < m->aux; k++) {
		float base = st->p.send_pre[k] ? pre : post;
		for (int side = 0; side < 2; side++)
			ramp_retarget(&st->send[k][side],
				      base * pan[side] * st->send_lin[k], frames);
	}
}

/* Rebuild every strip (solo changes the audibility of all of them). RT */
static void mixer_retarget_all(struct mixer *m)
{
	for (int s = 0; s < m->strips; s++)
		strip_retarget(m, &m->strip[s]);
}

static struct strip *strip_at(struct mixer *m, int strip)
{
	if (m == NULL || strip < 0 || strip >= m->strips)
		return NULL;
	return &m->strip[strip];
}

static float clampf(float v, float lo, float hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Input gain in dB, clamped to -24..+24. RT */
void mixer_set_gain(struct mixer *m, int strip, float db)
{
	struct strip *st = strip_at(m, strip);
	if (st == NULL || isnan(db))
		return;
	db = clampf(db, (float)MIXER_GAIN_MIN_DB, (float)MIXER_GAIN_MAX_DB);
	if (db == st->p.gain_db)
		return;
	st->p.gain_db = db;
	st->gain_lin = (st->p.phase ? -1.0f : 1.0f) * mixer_db_to_gain(db);
	strip_retarget(m, st);
}

/* Fader in dB, -inf..+12. RT */
void mixer_set_volume(struct mixer *m, int strip, float db)
{
	struct strip *st = strip_at(m, strip);
	if (st == NULL || isnan(db))
		return;
	db = clampf(db, -INFINITY, (float)MIXER_VOLUME_MAX_DB);
	if (db == st->p.volume_db)
		return;
	st->p.volume_db = db;
	st->fader_lin = mixer_db_to_gain(db);
	strip_retarget(m, st);
}

/* Pan (a balance on a stereo strip), -1..1. RT */
void mixer_set_pan(struct mixer *m, int strip, float pan)
{
	struct strip *st = strip_at(m, strip);
	if (st == NULL || isnan(pan))
		return;
	pan = clampf(pan, -1.0f, 1.0f);
	if (pan == st->p.pan)
		return;
	st->p.pan = pan;
	mixer_pan_gains(pan, &st->pan_l, &st->pan_r);
	strip_retarget(m, st);
}

/* Mute: silent on the master and the post-fader sends. RT */
void mixer_set_mute(struct mixer *m, int strip, bool mute)
{
	struct strip *st = strip_at(m, strip);
	if (st == NULL || st->p.mute == mute)
		return;
	st->p.mute = mute;
	strip_retarget(m, st);
}

/* Solo in place: recomputes every strip, since any solo silences the
 * others. RT */
void mixer_set_solo(struct mixer *m, int strip, bool solo)
{
	struct strip *st = strip_at(m, strip);
	if (st == NULL || st->p.solo == solo)
		return;
	st->p.solo = solo;
	m->solo_count += solo ? 1 : -1;
	mixer_retarget_all(m);
}

/* Phase invert (ramps through zero like any other gain change). RT */
void mixer_set_phase(struct mixer *m, int strip, bool invert)
{
	struct strip *st = strip_at(m, strip);
	if (st == NULL || st->p.phase == invert)
		return;
	st->p.phase = invert;
	st->gain_lin = -st->gain_lin;
	strip_retarget(m, st);
}

/* Send level to aux bus `aux` in dB, -inf..+12. RT */
void mixer_set_send(struct mixer *m, int strip, int aux, float db)
{
	struct strip *st = strip_at(m, strip);
	if (st == NULL || aux < 0 || aux >= m->aux || isnan(db))
		return;
	db = clampf(db, -INFINITY, (float)MIXER_SEND_MAX_DB);
	if (db == st->p.send_db[aux])
		return;
	st->p.send_db[aux] = db;
	st->send_lin[aux] = mixer_db_to_gain(db);
	strip_retarget(m, st);
}

/* Take send `aux` before (true) or after the fader and mute. RT */
void mixer_set_send_pre(struct mixer *m, int strip, int aux, bool pre)
{
	struct strip *st = strip_at(m, strip);
	if (st == NULL || aux < 0 || aux >= m->aux || st->p.send_pre[aux] == pre)
		return;
	st->p.send_pre[aux] = pre;
	strip_retarget(m, st);
}

/* Master target from volume and mute. RT */
static void master_retarget(struct mixer *m)
{
	float target = m->master_muted ? 0.0f : mixer_db_to_gain(m->master_db);
	ramp_retarget(&m->master, target, m->ramp_frames);
}

/* Master volume in dB, -inf..+12. RT */
void mixer_set_master_volume(struct mixer *m, float db)
{
	if (m == NULL || isnan(db))
		return;
	db = clampf(db, -INFINITY, (float)MIXER_VOLUME_MAX_DB);
	if (db == m->master_db)
		return;
	m->master_db = db;
	master_retarget(m);
}

/* Master mute (the aux buses stay up). RT */
void mixer_set_master_mute(struct mixer *m, bool mute)
{
	if (m == NULL || m->master_muted == mute)
		return;
	m->master_muted = mute;
	master_retarget(m);
}

/* Frames of a ramp of `seconds` (at most INT32_MAX: ramp_fill counts the
 * frames to go in int32 lanes). */
static uint32_t ramp_frames_of(double seconds, uint32_t rate)
{
	double frames = round(seconds * (double)rate);
	return frames > (double)INT32_MAX ? (uint32_t)INT32_MAX : (uint32_t)frames;
}

/* Ramp length of later changes, 0..3600 s (rounded to whole frames). RT */
void mixer_set_ramp_time(struct mixer *m, float seconds)
{
	if (m == NULL || isnan(seconds))
		return;
	m->ramp_frames = ramp_frames_of(clampf(seconds, 0.0f, (float)MIXER_RAMP_MAX_S), m->rate);
}

/* Parameters as last set (targets, not ramp positions); NULL for a bad
 * strip index. */
const struct mixer_strip_params *mixer_strip(const struct mixer *m, int strip)
{
	if (m == NULL || strip < 0 || strip >= m->strips)
		return NULL;
	return &m->strip[strip].p;
}

float mixer_master_volume(const struct mixer *m) { return m->master_db; }
bool mixer_master_mute(const struct mixer *m) { return m->master_muted; }

/* Every ramp at its target now. RT */
void mixer_settle(struct mixer *m)
{
	for (int s = 0; s < m->strips; s++) {
		struct strip *st = &m->strip[s];
		for (int side = 0; side < 2; side++) {
			ramp_jump(&st->main[side], st->main[side].target);
			for (int k = 0; k < MIXER_MAX_AUX; k++)
				ramp_jump(&st->send[k][side], st->send[k][side].target);
		}
	}
	ramp_jump(&m->master, m->master.target);
}

/* ------------------------------------------------------------------ */
/* Processing */

static inline void meter_add(struct mixer_meter *mt, float peak, double sum_sq,
			     uint32_t samples)
{
	if (peak > mt->peak)
		mt->peak = peak;
	mt->sum_sq += sum_sq;
	mt->count += samples;
}

/* A strip's contribution to master L/R and its meter. xl == xr for a
 * mono strip. RT */
static void strip_mix_main(struct mixer *m, struct strip *st, struct mixer_meter *mt,
			   const float *xl, const float *xr, uint32_t n)
{
	float *bus_l = m->bus, *bus_r = m->bus + MIXER_BLOCK;
	struct gain_ramp *rl = &st->main[0], *rr = &st->main[1];
	float peak;
	double sum_sq;

	if (!ramp_busy(rl) && !ramp_busy(rr)) {
		float cl = rl->current, cr = rr->current;
		struct level lv_l = {0, 0}, lv_r = {0, 0};
		if (xl == xr && cl != 0.0f && cr != 0.0f) {
			lv_l = mac2_const_level(bus_l, bus_r, xl, cl, cr, n);
		} else {
			if (cl != 0.0f)
				lv_l = mac_const_level(bus_l, xl, cl, n);
			if (cr != 0.0f)
				lv_r = mac_const_level(bus_r, xr, cr, n);
		}
		peak = lv_l.peak > lv_r.peak ? lv_l.peak : lv_r.peak;
		sum_sq = (double)lv_l.sum_sq + (double)lv_r.sum_sq;
	} else {
		float *gl = m->gain_line[0], *gr = m->gain_line[1];
		ramp_fill(rl, gl, n);
		ramp_fill(rr, gr, n);
		struct level lv_l = mac_line_level(bus_l, xl, gl, n);
		struct level lv_r = mac_line_level(bus_r, xr, gr, n);
		peak = lv_l.peak > lv_r.peak ? lv_l.peak : lv_r.peak;
		sum_sq = (double)lv_l.sum_sq + (double)lv_r.sum_sq;
	}
	meter_add(mt, peak, sum_sq, 2 * n);
}

/* A strip's contributions to the aux buses. RT */
static void strip_mix_sends(struct mixer *m, struct strip *st,
			    const float *xl, const float *xr, uint32_t n)
{
	int aux = m->aux;
	for (int k = 0; k < aux; k++) {
		struct gain_ramp *rl = &st->send[k][0], *rr = &st->send[k][1];
		if (!ramp_busy(rl) && !ramp_busy(rr) && rl->current != 0.0f &&
		    rr->current != 0.0f) {
			float *bus_l = m->bus + (size_t)(2 + 2 * k) * MIXER_BLOCK;
			mac2_const(bus_l, bus_l + MIXER_BLOCK, xl, xr, rl->current, rr->current, n);
			continue;
		}
		for (int side = 0; side < 2; side++) {
			struct gain_ramp *r = &st->send[k][side];
			float *bus = m->bus + (size_t)(2 + 2 * k + side) * MIXER_BLOCK;
			const float *x = side ? xr : xl;
			if (ramp_busy(r)) {
				float *g = m->gain_line[0];
				ramp_fill(r, g, n);
				mac_line(bus, x, g, n);
			} else if (r->current != 0.0f) {
				mac_const(bus, x, r->current, n);
			}
		}
	}
}

/* Advance every ramp of a strip whose input is all silence. RT */
static void strip_skip(struct mixer *m, struct strip *st, uint32_t n)
{
	for (int side = 0; side < 2; side++) {
		ramp_skip(&st->main[side], n);
		for (int k = 0; k < m->aux; k++)
			ramp_skip(&st->send[k][side], n);
	}
}

/* One block of at most MIXER_BLOCK frames starting at frame `off`. RT */
static void mixer_process_block(struct mixer *m, uint32_t off, uint32_t n,
				const float *const *in, float *const *master,
				float *const *aux_out)
{
	int channels = m->channels, aux = m->aux;
	for (int line = 0; line < 2 + 2 * aux; line++)
		memset(m->bus + (size_t)line * MIXER_BLOCK, 0, n * sizeof(float));

	for (int s = 0; s < m->strips; s++) {
		struct strip *st = &m->strip[s];
		const float *xl = in ? in[s * channels] : NULL;
		const float *xr = channels == 2 && in ? in[s * channels + 1] : xl;
		if (xl == NULL && xr == NULL) {
			strip_skip(m, st, n);
			meter_add(&m->meter[s], 0.0f, 0.0, 2 * n);
			continue;
		}
		xl = xl ? xl + off : m->zeros;
		xr = xr ? xr + off : m->zeros;
		if (channels == 1)
			xr = xl;
		strip_mix_main(m, st, &m->meter[s], xl, xr, n);
		strip_mix_sends(m, st, xl, xr, n);
	}

	/* Master: post master volume, metered as it leaves. */
	struct mixer_meter *mt = &m->meter[m->strips];
	float peak = 0.0f;
	double sum_sq = 0.0;
	bool master_moving = ramp_busy(&m->master);
	if (master_moving)
		ramp_fill(&m->master, m->gain_line[0], n);
	for (int side = 0; side < 2; side++) {
		float *out = master && master[side] ? master[side] + off : m->discard;
		const float *bus = m->bus + (size_t)side * MIXER_BLOCK;
		struct level lv;
		if (master_moving) {
			lv = scale_line_level(out, bus, m->gain_line[0], n);
		} else if (m->master.current == 0.0f) {
			memset(out, 0, n * sizeof(float));
			lv = (struct level){0, 0};
		} else {
			lv = scale_const_level(out, bus, m->master.current, n);
		}
		peak = lv.peak > peak ? lv.peak : peak;
		sum_sq += lv.sum_sq;
	}
	meter_add(mt, peak, sum_sq, 2 * n);

	for (int k = 0; k < aux; k++) {
		peak = 0.0f;
		sum_sq = 0.0;
		for (int side = 0; side < 2; side++) {
			float *o = aux_out && aux_out[2 * k + side] ? aux_out[2 * k + side] + off
								    : m->discard;
			struct level lv = copy_level(o, m->bus + (size_t)(2 + 2 * k + side) * MIXER_BLOCK, n);
			peak = lv.peak > peak ? lv.peak : peak;
			sum_sq += lv.sum_sq;
		}
		meter_add(&m->meter[m->strips + 1 + k], peak, sum_sq, 2 * n);
	}
}

/* Mix n frames (any n) in blocks that keep the buses in L1. RT */
void mixer_process(struct mixer *m, uint32_t n, const float *const *in,
		   float *const *master, float *const *aux)
{
	for (uint32_t off = 0; off < n; off += MIXER_BLOCK) {
		uint32_t len = n - off < MIXER_BLOCK ? n - off : MIXER_BLOCK;
		mixer_process_block(m, off, len, in, master, aux);
	}
}

/* Copy meter i out and start it again. RT */
void mixer_meter_take(struct mixer *m, int i, struct mixer_meter *out)
{
	if (i < 0 || i >= mixer_meter_count(m)) {
		*out = (struct mixer_meter){0, 0.0, 0};
		return;
	}
	*out = m->meter[i];
	m->meter[i] = (struct mixer_meter){0, 0.0, 0};
}
