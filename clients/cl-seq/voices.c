/*
 * cl-seq: the built-in voices (see voices.h for the interface).
 *
 * Every voice is one struct seq_voice holding two "cores": cur (the sound
 * being played) and old (the previous sound while it fades out). A core
 * is a kind's parameters, output gains and synthesis state; a drum
 * retrigger or a change of kind copies cur into old, which fades over 3 ms
 * while cur starts afresh, so a new hit never cuts the tail of the last
 * one into a step. Should old still be sounding at the next retrigger
 * (notes on every frame), the quieter of old and cur is dropped and its
 * last output becomes an offset that falls linearly to zero over the same
 * 3 ms (a declick). all_off fades both.
 *
 * Control rate. Parameters are smoothed once per control tick (16
 * frames) by a one-pole with a 2 ms time constant (99% in about 10 ms),
 * and the coefficients that need transcendental functions (exp, tan,
 * exp2) are recomputed at ticks only. Anything that multiplies or shapes
 * the signal (gains, pan, drive, mixes, the filter's g and k, the
 * oscillator increment) moves from tick to tick on a per-frame linear
 * ramp, so no parameter ever steps by more than 1/16 of a tick's change
 * in one frame. The tick counter lives in the core, not in the block, so
 * output does not depend on how the caller splits the frames; a note-on
 * forces a tick at its frame (envelopes restart there).
 *
 * Envelopes are exponential: a "decay" of T seconds multiplies the level
 * by 10^(-3 / (T * rate)) per frame, so the sound falls 60 dB in T. Attacks
 * are the difference of two exponentials (slow - fast, starting at 0), so
 * no hit starts with a step. A core stops (and the voice becomes inactive)
 * when all its envelopes are 90 dB down.
 *
 * The kinds:
 * - kick: a sine (polynomial, phase in turns) whose frequency falls
 *   exponentially from freq * 2^(sweep/12) to freq, plus a short burst of
 *   low-passed noise (click), then an optional saturation.
 * - snare: two sines at freq and 1.59 freq (the first two modes of a
 *   membrane) with a short pitch drop, plus white noise through a 1 kHz
 *   high-pass and a tone-controlled low-pass (snappy sets its level).
 * - hat: six square oscillators at the TR-808's inharmonic frequencies
 *   (205.3, 304.4, 369.6, 522.7, 540 and 800 Hz) mixed with noise (metal),
 *   through a band-pass at 1.4 x tone (Q 0.7, rounding the squares'
 *   edges as the 808's band-passes do) and a 4th-order Butterworth
 *   high-pass at tone (two TPT state-variable sections).
 * - clap: noise shaped by three bursts spread ms apart and a tail that
 *   starts at the fourth, through a band-pass (unity peak gain) at tone.
 *   The envelope comes before the filter, so its jumps are smoothed.
 * - acid: a polyBLEP saw/square into a 4-pole ladder low-pass solved
 *   without delay in the loop (Zavalishin's TPT ladder: each one-pole
 *   stage is a trapezoidal integrator, y = G in + (1 - G) s with G = g /
 *   (1 + g), g = tan(pi fc / rate); the output is affine in the fed-back
 *   input u, so the loop equation is solved for it, then u goes through
 *   a cubic soft clip, which bounds self-oscillation at the top of res).
 *   Fast cutoff sweeps stay stable. The cutoff is cutoff + env_amount *
 *   envelope, prewarped: each pole is at -3 dB and the loop's phase turns
 *   -180 degrees exactly at the cutoff, where the filter self-oscillates
 *   at res 1; the resonant peak of res 0.9 lies 1.5% below it (the ladder
 *   curve, measured). Drive saturates the filter output. Mono: a note-on
 *   while a note is held glides to the new pitch (slide) without
 *   restarting the envelopes; otherwise the envelopes restart while the
 *   oscillator and filter run on, so a retrigger needs no fade.
 *
 * Saturators: drive uses the (3,2) Pade approximant of tanh, x (27 + x^2)
 * / (27 + 9 x^2), which reaches +-1 with zero slope at |x| = 3 and is
 * held there beyond (within 0.024 of tanh everywhere); the ladder's loop
 * uses x - 4/27 x^3, +-1 from |x| = 1.5 (no division on the filter's
 * critical path; within 1% of linear below 0.25, so the filter measures
 * as a linear one at the oscillator's level).
 *
 * Levels: velocity / 127 scales a note linearly; an accented drum hit is
 * 1.25 times louder; amp is a linear gain and pan a constant-power law
 * (cos/sin), so a centred voice gives amp / sqrt(2) per side. At the
 * defaults and velocity 127 a hit peaks near 0.6 per side (the hat near
 * 0.25). Bound: a voice adds at most 4.0 to a channel, whatever the
 * parameters and notes (the unit test drives every parameter at its
 * limits and at random, notes on every frame: 3.0 is the largest seen);
 * the declick offset is clamped to +-1.
 *
 * The drum voices ignore the note number and note-offs (one-shots).
 */
#include "voices.h"

#include <math.h>
#include <string.h>

#define CTL 16                  /* frames per control tick */
#define SMOOTH_S 0.002          /* parameter smoothing time constant */
#define FADE_S 0.003            /* retrigger, kind change and all_off fade */
#define END_LEVEL 3.1623e-5f    /* -90 dB: a core below this stops */
#define TINY 1e-6f              /* envelopes below this are set to 0 */
#define DECLICK_MAX 1.0f
#define LN_1000 6.9077553f      /* -60 dB is a factor of 1000 */
#define DRUM_ACCENT 1.25f       /* an accented drum hit is +1.9 dB */
#define TWO_PI 6.2831853f
#define PI_F 3.14159265f

/* Kick: the click noise low-pass and its envelope. */
#define KICK_CLICK_LP_HZ 6000.0f
#define KICK_CLICK_SLOW_S 0.012f
#define KICK_CLICK_FAST_S 0.0008f
#define KICK_CLICK_GAIN 1.6f
#define KICK_DRIVE_PRE 8.0f

#define SNARE_RATIO 1.593f      /* second membrane mode */
#define SNARE_DROP 0.5f         /* pitch starts 50% high... */
#define SNARE_DROP_S 0.03f      /* ...and settles (-60 dB) in 30 ms */
#define SNARE_HP_HZ 1000.0f
#define SNARE_FAST_S 0.001f
#define SNARE_BODY_GAIN 0.75f
#define SNARE_NOISE_GAIN 1.6f

#define HAT_FAST_S 0.0005f
#define HAT_GAIN 5.0f
#define HAT_BP_RATIO 1.4f      /* band-pass centre over the high-pass corner */
#define HAT_BP_Q 0.7f
#define HAT_NOISE 0.25f        /* white noise is brighter than the squares */

#define CLAP_BURST_DB 30.0f     /* a burst falls this much before the next */
#define CLAP_Q 1.6f
#define CLAP_GAIN 3.0f

#define ACID_ATTACK_S 0.002
#define ACID_RELEASE_S 0.015f   /* -60 dB after the gate closes */
#define ACID_OSC_LEVEL 0.5f
#define ACID_K_MAX 4.25f        /* k = 4 is the edge of self-oscillation */
#define ACID_COMP 0.5f          /* passband loss at resonance, partly made up */
#define ACID_DRIVE_PRE 15.0f
#define ACID_GAIN 1.5f          /* output level beside the drums */
#define ACID_FC_MIN 20.0f

enum { KICK_FREQ, KICK_SWEEP, KICK_SWEEP_TIME, KICK_DECAY, KICK_CLICK, KICK_DRIVE,
       KICK_AMP, KICK_PAN, KICK_N };
enum { SNARE_FREQ, SNARE_TONE, SNARE_SNAPPY, SNARE_DECAY, SNARE_AMP, SNARE_PAN, SNARE_N };
enum { HAT_DECAY, HAT_TONE, HAT_METAL, HAT_AMP, HAT_PAN, HAT_N };
enum { CLAP_DECAY, CLAP_TONE, CLAP_SPREAD, CLAP_AMP, CLAP_PAN, CLAP_N };
enum { ACID_CUTOFF, ACID_RES, ACID_ENV_AMOUNT, ACID_DECAY, ACID_ACCENT, ACID_SLIDE,
       ACID_DRIVE, ACID_WAVE, ACID_TUNE, ACID_AMP, ACID_PAN, ACID_N };

#define AMP_DOC "output level (linear); velocity / 127 scales it"
#define PAN_DOC "stereo position, constant power (-1 left, 0 centre, 1 right)"

static const struct seq_voice_param kick_params[KICK_N] = {
	{"freq", "Hz", 20, 250, 50, "pitch the kick settles on after the sweep"},
	{"sweep", "st", 0, 48, 24, "the hit starts this many semitones above freq"},
	{"sweep_time", "s", 0.005f, 0.5f, 0.05f,
	 "time for the pitch sweep to fall to 0.1% of its start (-60 dB)"},
	{"decay", "s", 0.05f, 4, 0.5f, "time for the body to fall 60 dB (exponential)"},
	{"click", "", 0, 1, 0.3f, "level of the noise click at the attack"},
	{"drive", "", 0, 1, 0, "tanh-like saturation, peak level kept (0 clean)"},
	{"amp", "", 0, 1, 0.8f, AMP_DOC "; accent x1.25"},
	{"pan", "", -1, 1, 0, PAN_DOC},
};

static const struct seq_voice_param snare_params[SNARE_N] = {
	{"freq", "Hz", 100, 400, 180, "body pitch (a second mode sounds at 1.59 x freq)"},
	{"tone", "", 0, 1, 0.5f, "brightness of the noise: low-pass from 1.5 to 12 kHz"},
	{"snappy", "", 0, 1, 0.6f, "level of the noise (the snares)"},
	{"decay", "s", 0.05f, 2, 0.25f,
	 "time for the noise to fall 60 dB (exponential); the body takes half of it"},
	{"amp", "", 0, 1, 0.8f, AMP_DOC "; accent x1.25"},
	{"pan", "", -1, 1, 0, PAN_DOC},
};

static const struct seq_voice_param hat_params[HAT_N] = {
	{"decay", "s", 0.02f, 2, 0.09f,
	 "time to fall 60 dB (exponential): short is closed, long is open"},
	{"tone", "Hz", 3000, 14000, 7000, "corner of the 24 dB/octave high-pass"},
	{"metal", "", 0, 1, 0.8f, "six 808-style square oscillators (1) or noise (0)"},
	{"amp", "", 0, 1, 0.7f, AMP_DOC "; accent x1.25"},
	{"pan", "", -1, 1, 0, PAN_DOC},
};

static const struct seq_voice_param clap_params[CLAP_N] = {
	{"decay", "s", 0.05f, 2, 0.3f,
	 "time for the tail (after the bursts) to fall 60 dB (exponential)"},
	{"tone", "Hz", 500, 5000, 1200, "centre of the band-pass"},
	{"spread", "ms", 4, 25, 10, "spacing of the three bursts and the tail"},
	{"amp", "", 0, 1, 0.8f, AMP_DOC "; accent x1.25"},
	{"pan", "", -1, 1, 0, PAN_DOC},
};

static const struct seq_voice_param acid_params[ACID_N] = {
	{"cutoff", "Hz", 30, 12000, 800,
	 "filter cutoff: each of the 4 poles -3 dB here (-12 dB in all at res 0), the resonance"},
	{"res", "", 0, 1, 0.5f, "resonance; at 1 the filter self-oscillates at the cutoff (bounded)"},
	{"env_amount", "Hz", 0, 10000, 2500, "envelope sweep added to the cutoff at a note-on"},
	{"decay", "s", 0.02f, 3, 0.3f, "time for the filter envelope to fall 60 dB (exponential)"},
	{"accent", "", 0, 1, 0.5f,
	 "an accented note is (1 + accent) times louder with (1 + accent) times the env"},
	{"slide", "ms", 0, 1000, 60,
	 "glide time of a legato note (99.9% of the interval in semitones)"},
	{"drive", "", 0, 1, 0.2f, "tanh-like saturation after the filter (0 clean)"},
	{"wave", "", 0, 1, 0, "0 saw, 1 square (between: a mix)"},
	{"tune", "st", -24, 24, 0, "transposition in semitones (fractions allowed)"},
	{"amp", "", 0, 1, 0.7f, AMP_DOC "; accent as above"},
	{"pan", "", -1, 1, 0, PAN_DOC},
};

static const char *const kind_names[SEQ_VOICE_COUNT] = {
	[SEQ_VOICE_NONE] = "none", [SEQ_VOICE_KICK] = "kick", [SEQ_VOICE_SNARE] = "snare",
	[SEQ_VOICE_HAT] = "hat", [SEQ_VOICE_CLAP] = "clap", [SEQ_VOICE_ACID] = "acid",
};

/* The 808's hi-hat oscillators (Hz). */
static const float hat_freqs[SEQ_HAT_OSCS] = {205.3f, 304.4f, 369.6f, 522.7f, 540.0f, 800.0f};

/* "kick" ... "acid", "none"; NULL for a bad kind. */
const char *seq_voice_name(int kind)
{
	if (kind < 0 || kind >= SEQ_VOICE_COUNT)
		return NULL;
	return kind_names[kind];
}

/* The kind called name, or -1. */
int seq_voice_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int k = 0; k < SEQ_VOICE_COUNT; k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return -1;
}

/* The parameter table of a kind (count in *n; NULL and 0 for none). */
const struct seq_voice_param *seq_voice_params(int kind, int *n)
{
	const struct seq_voice_param *t = NULL;
	int count = 0;
	switch (kind) {
	case SEQ_VOICE_KICK: t = kick_params; count = KICK_N; break;
	case SEQ_VOICE_SNARE: t = snare_params; count = SNARE_N; break;
	case SEQ_VOICE_HAT: t = hat_params; count = HAT_N; break;
	case SEQ_VOICE_CLAP: t = clap_params; count = CLAP_N; break;
	case SEQ_VOICE_ACID: t = acid_params; count = ACID_N; break;
	default: break;
	}
	if (n)
		*n = count;
	return t;
}

/* Index of a parameter of kind, or -1. */
int seq_voice_param_index(int kind, const char *name)
{
	int n = 0;
	const struct seq_voice_param *t = seq_voice_params(kind, &n);
	if (!name)
		return -1;
	for (int i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return i;
	return -1;
}

/* Fill params[SEQ_VOICE_MAX_PARAMS] with the defaults of kind. */
void seq_voice_defaults(int kind, float *params)
{
	int n = 0;
	const struct seq_voice_param *t = seq_voice_params(kind, &n);
	for (int i = 0; i < SEQ_VOICE_MAX_PARAMS; i++)
		params[i] = i < n ? t[i].def : 0.0f;
}

/* ---- small DSP helpers ---- */

/* sin(2 pi p) for p in [0, 1): folded to [-pi/2, pi/2], Taylor to x^11
 * (error below 6e-8, well under float resolution of the output). RT */
static inline float sin_turns(float p)
{
	float x = p > 0.5f ? p - 1.0f : p;
	if (x > 0.25f)
		x = 0.5f - x;
	else if (x < -0.25f)
		x = -0.5f - x;
	x *= TWO_PI;
	float x2 = x * x;
	return x * (1.0f + x2 * (-1.6666667e-1f + x2 * (8.3333333e-3f + x2 * (-1.9841270e-4f
		+ x2 * (2.7557319e-6f + x2 * -2.5052108e-8f)))));
}

/* tanh-like saturator, +-1 beyond |x| = 3 (see the top). RT */
static inline float sat(float x)
{
	if (x >= 3.0f)
		return 1.0f;
	if (x <= -3.0f)
		return -1.0f;
	float x2 = x * x;
	return x * (27.0f + x2) / (27.0f + 9.0f * x2);
}

/* Cubic soft clip: x - 4/27 x^3, reaching +-1 with zero slope at |x| =
 * 1.5, held beyond. No division. RT */
static inline float clip3(float x)
{
	/* comparisons, not fminf/fmaxf: those are library calls at -O2 */
	x = x > 1.5f ? 1.5f : x < -1.5f ? -1.5f : x;
	return x - 0.14814815f * x * x * x;
}

/* The polyBLEP residual of a unit step at phase 0 (t in turns, dt the
 * increment): the two-sample polynomial that band-limits the edge. RT */
static inline float polyblep(float t, float dt)
{
	if (t < dt) {
		t /= dt;
		return t + t - t * t - 1.0f;
	}
	if (t > 1.0f - dt) {
		t = (t - 1.0f) / dt;
		return t * t + t + t + 1.0f;
	}
	return 0.0f;
}

/* xorshift32 white noise in [-1, 1]. RT */
static inline float noise_next(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return (float)(int32_t)x * 4.6566129e-10f;
}

/* Per-frame factor of an exponential that falls 60 dB in seconds. */
static float t60_mul(float seconds, double rate)
{
	return expf(-LN_1000 / (float)(seconds * rate));
}

/* Coefficient of a one-pole low-pass at hz. */
static float onepole_a(float hz, double rate)
{
	return 1.0f - expf(-TWO_PI * hz / (float)rate);
}

/* The highest frequency a filter is tuned to at this rate. */
static float freq_max(double rate)
{
	return fminf(20000.0f, 0.45f * (float)rate);
}

/* Tune a state-variable filter to hz with quality q (state kept). */
static void svf_tune(struct seq_voice_svf *f, float hz, float q, double rate)
{
	float g = tanf(PI_F * fminf(hz, freq_max(rate)) / (float)rate);
	f->k = 1.0f / q;
	f->a1 = 1.0f / (1.0f + g * (g + f->k));
	f->a2 = g * f->a1;
	f->a3 = g * f->a2;
}

/* One frame of the state-variable filter: returns the band-pass output
 * and stores the high-pass one in *high. RT */
static inline float svf_run(struct seq_voice_svf *f, float in, float *high)
{
	float v3 = in - f->ic2;
	float v1 = f->a1 * f->ic1 + f->a2 * v3;
	float v2 = f->ic2 + f->a2 * f->ic1 + f->a3 * v3;
	f->ic1 = 2.0f * v1 - f->ic1;
	f->ic2 = 2.0f * v2 - f->ic2;
	*high = in - f->k * v1 - v2;
	return v1;
}

/* Aim a ramp at its target over one tick (instant: jump there). RT */
static inline void ramp_tick(struct seq_voice_ramp *r, bool instant)
{
	if (instant) {
		r->value = r->target;
		r->step = 0.0f;
	} else {
		r->step = (r->target - r->value) * (1.0f / CTL);
	}
}

/* A fresh noise seed for a new core (never 0: xorshift would stick). RT */
static uint32_t next_seed(struct seq_voice *v)
{
	v->noise = v->noise * 1664525u + 1013904223u;
	uint32_t x = v->noise;
	x = (x ^ (x >> 16)) * 0x45d9f3bu;
	x ^= x >> 16;
	return x ? x : 1u;
}

/* ---- per kind: coefficients from the smoothed parameters ---- */

/* Recompute what depends on the (smoothed) parameters only. RT */
static void core_derive(const struct seq_voice *v, struct seq_voice_core *c)
{
	const float *p = c->param;
	double rate = v->rate;
	switch (c->kind) {
	case SEQ_VOICE_KICK: {
		struct seq_voice_kick *k = &c->u.kick;
		k->inc = p[KICK_FREQ] / (float)rate;
		k->sweep_ratio = exp2f(p[KICK_SWEEP] / 12.0f) - 1.0f;
		k->sweep_mul = t60_mul(p[KICK_SWEEP_TIME], rate);
		k->amp_mul = t60_mul(p[KICK_DECAY], rate);
		k->click_slow_mul = t60_mul(KICK_CLICK_SLOW_S, rate);
		k->click_fast_mul = t60_mul(KICK_CLICK_FAST_S, rate);
		k->click_lp_a = onepole_a(KICK_CLICK_LP_HZ, rate);
		k->click_level = p[KICK_CLICK] * KICK_CLICK_GAIN;
		k->drive.target = p[KICK_DRIVE];
		k->pre.target = 1.0f + KICK_DRIVE_PRE * p[KICK_DRIVE];
		k->norm.target = 1.0f / sat(k->pre.target);  /* a full-scale peak stays 1 */
		break;
	}
	case SEQ_VOICE_SNARE: {
		struct seq_voice_snare *s = &c->u.snare;
		s->inc = p[SNARE_FREQ] / (float)rate;
		s->drop_mul = t60_mul(SNARE_DROP_S, rate);
		s->body_mul = t60_mul(0.5f * p[SNARE_DECAY], rate);
		s->noise_mul = t60_mul(p[SNARE_DECAY], rate);
		s->noise_fast_mul = t60_mul(SNARE_FAST_S, rate);
		s->hp_a = onepole_a(SNARE_HP_HZ, rate);
		s->lp_a = onepole_a(fminf(1500.0f * exp2f(3.0f * p[SNARE_TONE]), freq_max(rate)),
				    rate);
		s->snappy.target = p[SNARE_SNAPPY];
		break;
	}
	case SEQ_VOICE_HAT: {
		struct seq_voice_hat *h = &c->u.hat;
		for (int i = 0; i < SEQ_HAT_OSCS; i++)
			h->inc[i] = hat_freqs[i] / (float)rate;
		h->mul = t60_mul(p[HAT_DECAY], rate);
		h->fast_mul = t60_mul(HAT_FAST_S, rate);
		/* a band-pass above the corner rounds the squares' edges (the
		 * 808 has two), then a 4th-order Butterworth high-pass as two
		 * 2nd-order sections */
		svf_tune(&h->bp, HAT_BP_RATIO * p[HAT_TONE], HAT_BP_Q, rate);
		svf_tune(&h->hp1, p[HAT_TONE], 0.5411961f, rate);
		svf_tune(&h->hp2, p[HAT_TONE], 1.3065630f, rate);
		h->metal.target = p[HAT_METAL];
		break;
	}
	case SEQ_VOICE_CLAP: {
		struct seq_voice_clap *cl = &c->u.clap;
		cl->spacing = (int32_t)lrint(p[CLAP_SPREAD] * 1e-3 * rate);
		if (cl->spacing < 1)
			cl->spacing = 1;
		cl->burst_mul = expf(-CLAP_BURST_DB / 20.0f * 2.3025851f / (float)cl->spacing);
		cl->tail_mul = t60_mul(p[CLAP_DECAY], rate);
		svf_tune(&cl->bp, p[CLAP_TONE], CLAP_Q, rate);
		break;
	}
	case SEQ_VOICE_ACID: {
		struct seq_voice_acid *a = &c->u.acid;
		a->env_mul = t60_mul(p[ACID_DECAY], rate);
		float slide = p[ACID_SLIDE] * 1e-3f;
		a->glide_a = slide > 0.0f ? 1.0f - expf(-LN_1000 * CTL / (float)(slide * rate)) : 1.0f;
		a->release_mul = t60_mul(ACID_RELEASE_S, rate);
		a->k.target = ACID_K_MAX * p[ACID_RES];
		a->wave.target = p[ACID_WAVE];
		a->drive.target = p[ACID_DRIVE];
		a->pre.target = 1.0f + ACID_DRIVE_PRE * p[ACID_DRIVE];
		/* a signal peaking at the oscillator's level keeps its peak */
		a->norm.target = ACID_OSC_LEVEL / sat(ACID_OSC_LEVEL * a->pre.target);
		break;
	}
	default:
		break;
	}
}

/* Frequency increment of a MIDI pitch (fractional) at this rate. RT */
static float acid_inc(const struct seq_voice *v, float pitch)
{
	float inc = 440.0f / (float)v->rate * exp2f((pitch - 69.0f) / 12.0f);
	return fminf(inc, 0.45f);
}

/* Once per tick: the per-frame ramps of the kind and whether it still
 * sounds (false: the core stops). RT */
static bool core_kind_tick(const struct seq_voice *v, struct seq_voice_core *c, bool instant)
{
	switch (c->kind) {
	case SEQ_VOICE_KICK: {
		struct seq_voice_kick *k = &c->u.kick;
		ramp_tick(&k->drive, instant);
		ramp_tick(&k->pre, instant);
		ramp_tick(&k->norm, instant);
		if (k->sweep_env < TINY)
			k->sweep_env = 0.0f;
		if (k->click_slow < TINY)
			k->click_slow = k->click_fast = 0.0f;
		if (k->click_fast < TINY)
			k->click_fast = 0.0f;
		return k->amp_env > END_LEVEL || k->click_slow > END_LEVEL;
	}
	case SEQ_VOICE_SNARE: {
		struct seq_voice_snare *s = &c->u.snare;
		ramp_tick(&s->snappy, instant);
		if (s->drop_env < TINY)
			s->drop_env = 0.0f;
		if (s->noise_fast < TINY)
			s->noise_fast = 0.0f;
		if (s->body_env < TINY)
			s->body_env = 0.0f;
		return s->body_env > END_LEVEL || s->noise_env > END_LEVEL;
	}
	case SEQ_VOICE_HAT: {
		struct seq_voice_hat *h = &c->u.hat;
		ramp_tick(&h->metal, instant);
		if (h->fast < TINY)
			h->fast = 0.0f;
		return h->env > END_LEVEL;
	}
	case SEQ_VOICE_CLAP: {
		struct seq_voice_clap *cl = &c->u.clap;
		if (cl->burst_env < TINY)
			cl->burst_env = 0.0f;
		return cl->bursts_left > 0 || cl->burst_env > END_LEVEL || cl->tail_env > END_LEVEL;
	}
	case SEQ_VOICE_ACID: {
		struct seq_voice_acid *a = &c->u.acid;
		const float *p = c->param;
		double rate = v->rate;
		/* glide one tick on, so the increment ramps to the pitch it has
		 * at the end of the tick */
		if (a->pitch != a->pitch_target) {
			a->pitch += (a->pitch_target - a->pitch) * a->glide_a;
			if (fabsf(a->pitch_target - a->pitch) < 1e-4f)
				a->pitch = a->pitch_target;
		}
		a->inc.target = acid_inc(v, a->pitch + p[ACID_TUNE]);
		/* the cutoff at the end of the tick: the envelope CTL frames on */
		float m = a->env_mul;
		m *= m;
		m *= m;
		m *= m;
		m *= m;
		if (a->env < TINY)
			a->env = 0.0f;
		float fc = p[ACID_CUTOFF] + p[ACID_ENV_AMOUNT] * a->env_scale * a->env * m;
		fc = fminf(fmaxf(fc, ACID_FC_MIN), freq_max(rate));
		float g = tanf(PI_F * fc / (float)rate);
		float G = g / (1.0f + g), G2 = G * G;
		a->g.target = G;
		/* ramped too: no division per frame on the filter's critical path */
		a->solve.target = 1.0f / (1.0f + a->k.target * G2 * G2);
		ramp_tick(&a->inc, instant);
		ramp_tick(&a->g, instant);
		ramp_tick(&a->k, instant);
		ramp_tick(&a->solve, instant);
		ramp_tick(&a->wave, instant);
		ramp_tick(&a->drive, instant);
		ramp_tick(&a->pre, instant);
		ramp_tick(&a->norm, instant);
		/* a non-finite state (impossible by design) must not stay */
		if (!isfinite(a->s[0] + a->s[1] + a->s[2] + a->s[3]))
			a->s[0] = a->s[1] = a->s[2] = a->s[3] = 0.0f;
		return a->gate || a->attack_left > 0 || a->amp > END_LEVEL;
	}
	default:
		return false;
	}
}

/* ---- per kind: frames ---- */

/* n frames of a kick into out (mono, before the gains). RT */
static void kick_frames(struct seq_voice_core *c, float *out, int n)
{
	struct seq_voice_kick *k = &c->u.kick;
	float phase = k->phase, inc = k->inc, ratio = k->sweep_ratio;
	float sweep = k->sweep_env, sweep_mul = k->sweep_mul, amp = k->amp_env, amp_mul = k->amp_mul;
	float slow = k->click_slow, fast = k->click_fast, lp = k->click_lp, lp_a = k->click_lp_a;
	float slow_mul = k->click_slow_mul, fast_mul = k->click_fast_mul;
	float level = k->level, click = k->click_level;
	float drive = k->drive.value, ddrive = k->drive.step, pre = k->pre.value;
	float dpre = k->pre.step, norm = k->norm.value, dnorm = k->norm.step;
	uint32_t noise = c->noise;
	bool click_on = slow > 0.0f;  /* the envelope runs even at click 0 */
	bool drive_on = drive > 0.0f || ddrive != 0.0f || dpre != 0.0f || dnorm != 0.0f;
	for (int i = 0; i < n; i++) {
		float x = sin_turns(phase) * amp;
		phase += inc * (1.0f + ratio * sweep);
		if (phase >= 1.0f)
			phase -= 1.0f;
		if (click_on) {
			lp += lp_a * (noise_next(&noise) - lp);
			x += lp * (slow - fast) * click;
			slow *= slow_mul;
			fast *= fast_mul;
		}
		if (drive_on) {
			x += drive * (sat(pre * x) * norm - x);
			drive += ddrive;
			pre += dpre;
			norm += dnorm;
		}
		out[i] = x * level;
		sweep *= sweep_mul;
		amp *= amp_mul;
	}
	k->phase = phase;
	k->sweep_env = sweep;
	k->amp_env = amp;
	k->click_slow = slow;
	k->click_fast = fast;
	k->click_lp = lp;
	k->drive.value = drive;
	k->pre.value = pre;
	k->norm.value = norm;
	c->noise = noise;
}

/* n frames of a snare into out. RT */
static void snare_frames(struct seq_voice_core *c, float *out, int n)
{
	struct seq_voice_snare *s = &c->u.snare;
	float p1 = s->phase1, p2 = s->phase2, inc = s->inc, drop = s->drop_env;
	float body = s->body_env, env = s->noise_env, fast = s->noise_fast;
	float hp = s->hp_state, lp = s->lp_state, level = s->level;
	float snappy = s->snappy.value, dsnappy = s->snappy.step;
	uint32_t noise = c->noise;
	for (int i = 0; i < n; i++) {
		float b = (0.65f * sin_turns(p1) + 0.35f * sin_turns(p2)) * body;
		float f = inc * (1.0f + SNARE_DROP * drop);
		p1 += f;
		if (p1 >= 1.0f)
			p1 -= 1.0f;
		p2 += f * SNARE_RATIO;
		if (p2 >= 1.0f)
			p2 -= 1.0f;
		float w = noise_next(&noise);
		hp += s->hp_a * (w - hp);
		lp += s->lp_a * ((w - hp) - lp);
		float nz = lp * (env - fast) * snappy;
		out[i] = (SNARE_BODY_GAIN * b + SNARE_NOISE_GAIN * nz) * level;
		drop *= s->drop_mul;
		body *= s->body_mul;
		env *= s->noise_mul;
		fast *= s->noise_fast_mul;
		snappy += dsnappy;
	}
	s->phase1 = p1;
	s->phase2 = p2;
	s->drop_env = drop;
	s->body_env = body;
	s->noise_env = env;
	s->noise_fast = fast;
	s->hp_state = hp;
	s->lp_state = lp;
	s->snappy.value = snappy;
	c->noise = noise;
}

/* n frames of a hat into out. RT */
static void hat_frames(struct seq_voice_core *c, float *out, int n)
{
	struct seq_voice_hat *h = &c->u.hat;
	float env = h->env, fast = h->fast, mul = h->mul, fast_mul = h->fast_mul;
	float level = h->level * HAT_GAIN;
	float metal = h->metal.value, dmetal = h->metal.step;
	float ph[SEQ_HAT_OSCS], inc[SEQ_HAT_OSCS];
	memcpy(ph, h->phase, sizeof ph);
	memcpy(inc, h->inc, sizeof inc);
	struct seq_voice_svf f0 = h->bp, f1 = h->hp1, f2 = h->hp2;
	uint32_t noise = c->noise;
	for (int i = 0; i < n; i++) {
		int high = 0;
		for (int j = 0; j < SEQ_HAT_OSCS; j++) {
			ph[j] += inc[j];
			if (ph[j] >= 1.0f)
				ph[j] -= 1.0f;
			high += ph[j] < 0.5f;
		}
		float sq = (float)(2 * high - SEQ_HAT_OSCS) * (1.0f / SEQ_HAT_OSCS);
		float w = HAT_NOISE * noise_next(&noise);
		float x = w + metal * (sq - w);
		float y;
		x = f0.k * svf_run(&f0, x, &y);
		svf_run(&f1, x, &y);
		svf_run(&f2, y, &y);
		out[i] = y * (env - fast) * level;
		env *= mul;
		fast *= fast_mul;
		metal += dmetal;
	}
	memcpy(h->phase, ph, sizeof ph);
	h->bp = f0;
	h->hp1 = f1;
	h->hp2 = f2;
	h->env = env;
	h->fast = fast;
	h->metal.value = metal;
	c->noise = noise;
}

/* n frames of a clap into out. RT */
static void clap_frames(struct seq_voice_core *c, float *out, int n)
{
	struct seq_voice_clap *cl = &c->u.clap;
	float burst = cl->burst_env, tail = cl->tail_env, level = cl->level * CLAP_GAIN;
	float burst_mul = cl->burst_mul, tail_mul = cl->tail_mul;
	int32_t left = cl->bursts_left, next = cl->until_next;
	struct seq_voice_svf bp = cl->bp;
	uint32_t noise = c->noise;
	for (int i = 0; i < n; i++) {
		if (left > 0 && --next <= 0) {
			if (--left == 0)
				tail = 1.0f;
			else
				burst = 1.0f;
			next = cl->spacing;
		}
		float high;
		float band = svf_run(&bp, noise_next(&noise) * (burst + tail), &high);
		out[i] = band * bp.k * level;  /* k * band: unity gain at the centre */
		burst *= burst_mul;
		tail *= tail_mul;
	}
	cl->bp = bp;
	cl->bursts_left = left;
	cl->until_next = next;
	cl->burst_env = burst;
	cl->tail_env = tail;
	c->noise = noise;
}

/* n frames of the acid voice into out. RT */
static void acid_frames(struct seq_voice_core *c, float *out, int n)
{
	struct seq_voice_acid *a = &c->u.acid;
	/* locals: out could alias the state, which would reload it per frame */
	float phase = a->phase, env = a->env, env_mul = a->env_mul;
	float s0 = a->s[0], s1 = a->s[1], s2 = a->s[2], s3 = a->s[3];
	float dt = a->inc.value, ddt = a->inc.step;
	float G = a->g.value, dG = a->g.step, k = a->k.value, dk = a->k.step;
	float solve = a->solve.value, dsolve = a->solve.step;
	float wave = a->wave.value, dwave = a->wave.step;
	float drive = a->drive.value, ddrive = a->drive.step;
	float pre = a->pre.value, dpre = a->pre.step, norm = a->norm.value, dnorm = a->norm.step;
	float amp = a->amp, amp_step = a->amp_step, release = a->gate ? 1.0f : a->release_mul;
	int32_t attack = a->attack_left;
	bool square = wave > 0.0f || dwave != 0.0f;
	bool drive_on = drive > 0.0f || ddrive != 0.0f || dpre != 0.0f || dnorm != 0.0f;
	for (int i = 0; i < n; i++) {
		float osc = 2.0f * phase - 1.0f - polyblep(phase, dt);
		if (square) {
			float half = phase < 0.5f ? phase + 0.5f : phase - 0.5f;
			float sq = (phase < 0.5f ? 1.0f : -1.0f) + polyblep(phase, dt)
				- polyblep(half, dt);
			osc += wave * (sq - osc);
		}
		phase += dt;
		if (phase >= 1.0f)
			phase -= 1.0f;
		float x = ACID_OSC_LEVEL * osc;

		/* the ladder. A stage gives y = G in + beta s (beta = 1 - G =
		 * 1 / (1 + g)), so stage j gives y_j = G^(j+1) u + b_j with b_j
		 * from the states alone: y3 = G^4 u + b3 with u = x - k y3,
		 * solved for y3 (solve = 1 / (1 + k G^4)). The b_j do not wait
		 * for u, which keeps the chain from state to state short. */
		float beta = 1.0f - G;
		float G2 = G * G, G3 = G2 * G, G4 = G2 * G2;
		float b0 = beta * s0;
		float b1 = G * b0 + beta * s1;
		float b2 = G * b1 + beta * s2;
		float b3 = G * b2 + beta * s3;
		float y4 = (G4 * x + b3) * solve;
		float u = clip3(x - k * y4);
		float y0 = G * u + b0, y1 = G2 * u + b1, y2 = G3 * u + b2, y3 = G4 * u + b3;
		s0 = 2.0f * y0 - s0;
		s1 = 2.0f * y1 - s1;
		s2 = 2.0f * y2 - s2;
		s3 = 2.0f * y3 - s3;
		float y = y3 * (1.0f + ACID_COMP * k);
		if (drive_on)
			y += drive * (sat(pre * y) * norm - y);
		out[i] = y * amp * ACID_GAIN;

		env *= env_mul;
		if (attack > 0) {
			amp += amp_step;
			if (--attack == 0)
				amp = a->amp_target;
		} else {
			amp *= release;
		}
		dt += ddt;
		G += dG;
		k += dk;
		solve += dsolve;
		wave += dwave;
		drive += ddrive;
		pre += dpre;
		norm += dnorm;
	}
	a->phase = phase;
	a->env = env;
	a->s[0] = s0;
	a->s[1] = s1;
	a->s[2] = s2;
	a->s[3] = s3;
	a->inc.value = dt;
	a->g.value = G;
	a->k.value = k;
	a->solve.value = solve;
	a->wave.value = wave;
	a->drive.value = drive;
	a->pre.value = pre;
	a->norm.value = norm;
	a->amp = amp;
	a->attack_left = attack;
}

/* ---- cores ---- */

/* One control tick of a core: smooth the parameters, recompute, aim the
 * ramps. Returns false when the core has gone silent. RT */
static bool core_tick(const struct seq_voice *v, struct seq_voice_core *c)
{
	bool moved = c->instant;
	if (!c->settled) {
		int n = 0;
		const struct seq_voice_param *t = seq_voice_params(c->kind, &n);
		bool settled = true;
		for (int i = 0; i < n; i++) {
			float d = c->target[i] - c->param[i];
			if (d == 0.0f)
				continue;
			moved = true;
			if (fabsf(d) <= 1e-5f * (t[i].max - t[i].min)) {
				c->param[i] = c->target[i];
			} else {
				c->param[i] += d * v->smooth_a;
				settled = false;
			}
		}
		c->settled = settled;
	}
	int n = 0;
	seq_voice_params(c->kind, &n);
	if (n < 2)
		return false;
	if (moved) {
		core_derive(v, c);
		/* amp and pan are the last two parameters of every kind */
		float amp = c->param[n - 2], pan = c->param[n - 1];
		float angle = (pan + 1.0f) * (PI_F / 4.0f);
		c->gain_l.target = amp * cosf(angle);
		c->gain_r.target = amp * sinf(angle);
	}
	ramp_tick(&c->gain_l, c->instant);
	ramp_tick(&c->gain_r, c->instant);
	bool alive = core_kind_tick(v, c, c->instant);
	c->instant = false;
	return alive;
}

/* Add the mono frames of a core, times its gains and fade, to l and r.
 * Returns false when the fade has ended. RT */
static bool core_mix(struct seq_voice_core *c, const float *in, float *l, float *r, int n)
{
	float gl = c->gain_l.value, gr = c->gain_r.value;
	float dgl = c->gain_l.step, dgr = c->gain_r.step;
	float xl = c->last_l, xr = c->last_r;
	bool alive = true;
	if (c->fade_step == 0.0f) {
		for (int i = 0; i < n; i++) {
			xl = in[i] * gl;
			xr = in[i] * gr;
			l[i] += xl;
			r[i] += xr;
			gl += dgl;
			gr += dgr;
		}
	} else {
		float f = c->fade;
		for (int i = 0; i < n; i++) {
			f += c->fade_step;
			if (f <= 0.0f) {
				f = 0.0f;
				alive = false;
				xl = xr = 0.0f;
				break;
			}
			xl = in[i] * gl * f;
			xr = in[i] * gr * f;
			l[i] += xl;
			r[i] += xr;
			gl += dgl;
			gr += dgr;
		}
		c->fade = f;
	}
	c->gain_l.value = gl;
	c->gain_r.value = gr;
	c->last_l = xl;
	c->last_r = xr;
	return alive;
}

/* Stop a core (its parameters stay for the next note). RT */
static void core_stop(struct seq_voice_core *c)
{
	c->active = false;
	c->fade = 1.0f;
	c->fade_step = 0.0f;
	c->last_l = c->last_r = 0.0f;
	if (c->kind == SEQ_VOICE_ACID) {
		c->u.acid.gate = false;
		c->u.acid.held = 0;
		c->u.acid.amp = 0.0f;
		c->u.acid.attack_left = 0;
	}
}

/* Render n frames of a core into l and r. RT */
static void core_render(const struct seq_voice *v, struct seq_voice_core *c,
			float *l, float *r, uint32_t n)
{
	float buf[CTL];
	while (n > 0 && c->active) {
		if (c->ctl_left <= 0) {
			c->ctl_left = CTL;
			if (!core_tick(v, c)) {
				core_stop(c);
				break;
			}
		}
		int seg = c->ctl_left < (int32_t)n ? c->ctl_left : (int)n;
		switch (c->kind) {
		case SEQ_VOICE_KICK: kick_frames(c, buf, seg); break;
		case SEQ_VOICE_SNARE: snare_frames(c, buf, seg); break;
		case SEQ_VOICE_HAT: hat_frames(c, buf, seg); break;
		case SEQ_VOICE_CLAP: clap_frames(c, buf, seg); break;
		case SEQ_VOICE_ACID: acid_frames(c, buf, seg); break;
		default: core_stop(c); return;
		}
		if (!core_mix(c, buf, l, r, seg)) {
			core_stop(c);
			break;
		}
		c->ctl_left -= seg;
		l += seg;
		r += seg;
		n -= (uint32_t)seg;
	}
}

/* Set up core c as kind with params (NULL = defaults), silent. */
static void core_init(struct seq_voice *v, struct seq_voice_core *c, int kind,
		      const float *params)
{
	memset(c, 0, sizeof *c);
	c->kind = kind;
	c->fade = 1.0f;
	c->instant = true;
	c->settled = true;
	c->noise = next_seed(v);
	int n = 0;
	const struct seq_voice_param *t = seq_voice_params(kind, &n);
	for (int i = 0; i < n; i++) {
		float x = params ? params[i] : t[i].def;
		if (!isfinite(x))
			x = t[i].def;
		x = fminf(fmaxf(x, t[i].min), t[i].max);
		c->target[i] = c->param[i] = x;
	}
	core_derive(v, c);
}

/* Make a silent core take its parameters as they are, with no ramps. RT */
static void core_wake(struct seq_voice_core *c)
{
	memcpy(c->param, c->target, sizeof c->param);
	c->settled = true;
	c->instant = true;
	c->fade = 1.0f;
	c->fade_step = 0.0f;
}

/* Start an offset of (l, r) that falls linearly to zero. RT */
static void declick_add(struct seq_voice *v, float l, float r)
{
	/* bounded even if notes keep dropping loud sounds */
	v->declick_l = fminf(fmaxf(v->declick_l + l, -DECLICK_MAX), DECLICK_MAX);
	v->declick_r = fminf(fmaxf(v->declick_r + r, -DECLICK_MAX), DECLICK_MAX);
	v->declick_left = v->fade_frames;
	v->declick_step_l = -v->declick_l / (float)v->fade_frames;
	v->declick_step_r = -v->declick_r / (float)v->fade_frames;
}

/* Move the sounding core to old, where it fades out. When old still
 * sounds, the quieter of the two is dropped into the declick offset (with
 * notes on every frame that is the one-frame-old hit, nearly silent). RT */
static void push_old(struct seq_voice *v)
{
	float step = -1.0f / (float)v->fade_frames;
	if (v->old.active) {
		struct seq_voice_core *o = &v->old, *c = &v->cur;
		if (fabsf(c->last_l) + fabsf(c->last_r) < fabsf(o->last_l) + fabsf(o->last_r)) {
			declick_add(v, c->last_l, c->last_r);
			o->fade_step = fminf(o->fade_step, step);
			return;
		}
		declick_add(v, o->last_l, o->last_r);
	}
	v->old = v->cur;
	v->old.fade_step = fminf(v->old.fade_step, step);
}

/* Set up v as kind at the given sample rate with params (NULL = defaults). */
void seq_voice_init(struct seq_voice *v, int kind, double rate, const float *params)
{
	memset(v, 0, sizeof *v);
	if (kind < 0 || kind >= SEQ_VOICE_COUNT)
		kind = SEQ_VOICE_NONE;
	if (!(rate >= 1000.0))
		rate = 48000.0;
	v->kind = kind;
	v->rate = rate;
	v->noise = 0x2545f491u;
	v->smooth_a = 1.0f - expf(-(float)CTL / (float)(SMOOTH_S * rate));
	v->fade_frames = (int32_t)lrint(FADE_S * rate);
	if (v->fade_frames < 1)
		v->fade_frames = 1;
	core_init(v, &v->cur, kind, params);
	v->old.kind = SEQ_VOICE_NONE;
	v->old.fade = 1.0f;
}

/* RT: change the kind (the old sound is cut with a short fade, params to
 * the new kind's values given, NULL = defaults). The same kind keeps its
 * sound and ramps to the values given. */
void seq_voice_set_kind(struct seq_voice *v, int kind, const float *params)
{
	if (kind < 0 || kind >= SEQ_VOICE_COUNT)
		return;
	if (kind == v->kind) {
		int n = 0;
		const struct seq_voice_param *t = seq_voice_params(kind, &n);
		for (int i = 0; i < n; i++)
			seq_voice_set(v, i, params ? params[i] : t[i].def);
		return;
	}
	if (v->cur.active)
		push_old(v);
	core_init(v, &v->cur, kind, params);
	v->kind = kind;
}

/* RT: set parameter index to value (clamped), ramped over a few ms. */
void seq_voice_set(struct seq_voice *v, int param, float value)
{
	struct seq_voice_core *c = &v->cur;
	int n = 0;
	const struct seq_voice_param *t = seq_voice_params(c->kind, &n);
	if (param < 0 || param >= n || !isfinite(value))
		return;
	value = fminf(fmaxf(value, t[param].min), t[param].max);
	if (c->target[param] == value)
		return;
	c->target[param] = value;
	c->settled = false;
}

/* Note-on of a drum kind: a fresh hit in cur, the old one fading. RT */
static void drum_note_on(struct seq_voice *v, uint8_t velocity, bool accent)
{
	struct seq_voice_core *c = &v->cur;
	if (c->active)
		push_old(v);
	else
		core_wake(c);
	c->active = true;
	c->fade = 1.0f;
	c->fade_step = 0.0f;
	c->noise = next_seed(v);
	float level = (float)velocity / 127.0f * (accent ? DRUM_ACCENT : 1.0f);
	switch (c->kind) {
	case SEQ_VOICE_KICK: {
		struct seq_voice_kick *k = &c->u.kick;
		k->phase = 0.0f;
		k->sweep_env = 1.0f;
		k->amp_env = 1.0f;
		k->click_slow = k->click_fast = 1.0f;
		k->click_lp = 0.0f;
		k->level = level;
		break;
	}
	case SEQ_VOICE_SNARE: {
		struct seq_voice_snare *s = &c->u.snare;
		s->phase1 = s->phase2 = 0.0f;
		s->drop_env = s->body_env = 1.0f;
		s->noise_env = s->noise_fast = 1.0f;
		s->hp_state = s->lp_state = 0.0f;
		s->level = level;
		break;
	}
	case SEQ_VOICE_HAT: {
		struct seq_voice_hat *h = &c->u.hat;
		/* the 808's oscillators run free: start them spread */
		for (int i = 0; i < SEQ_HAT_OSCS; i++)
			h->phase[i] = (float)i * (1.0f / SEQ_HAT_OSCS);
		h->env = h->fast = 1.0f;
		h->bp.ic1 = h->bp.ic2 = 0.0f;
		h->hp1.ic1 = h->hp1.ic2 = h->hp2.ic1 = h->hp2.ic2 = 0.0f;
		h->level = level;
		break;
	}
	case SEQ_VOICE_CLAP: {
		struct seq_voice_clap *cl = &c->u.clap;
		cl->burst_env = 1.0f;
		cl->tail_env = 0.0f;
		cl->bursts_left = 3;
		cl->until_next = cl->spacing;
		cl->bp.ic1 = cl->bp.ic2 = 0.0f;
		cl->level = level;
		break;
	}
	default:
		break;
	}
	c->ctl_left = 0;
}

/* Start (or retarget) the acid amplitude attack towards level. RT */
static void acid_attack(const struct seq_voice *v, struct seq_voice_acid *a, float level)
{
	int32_t len = (int32_t)lrint(ACID_ATTACK_S * v->rate);
	if (len < 1)
		len = 1;
	a->amp_target = level;
	a->amp_step = (level - a->amp) / (float)len;
	a->attack_left = len;
}

/* Note-on of the acid voice: legato slides, otherwise the envelopes
 * restart over the running oscillator and filter. RT */
static void acid_note_on(struct seq_voice *v, uint8_t note, uint8_t velocity, bool accent)
{
	struct seq_voice_core *c = &v->cur;
	struct seq_voice_acid *a = &c->u.acid;
	float boost = accent ? 1.0f + c->param[ACID_ACCENT] : 1.0f;
	float level = (float)velocity / 127.0f * boost;
	if (c->active && a->gate && c->fade_step == 0.0f) {
		if (note == a->note) {
			if (a->held < 255)
				a->held++;
		} else {
			a->note = note;
			a->held = 1;
		}
		a->pitch_target = note;
		acid_attack(v, a, level);
		c->ctl_left = 0;
		return;
	}
	if (c->active && c->fade_step < 0.0f) {
		/* all_off is fading this sound: let old finish it */
		push_old(v);
		c->active = false;
	}
	if (!c->active) {
		core_wake(c);
		a->phase = 0.0f;
		a->s[0] = a->s[1] = a->s[2] = a->s[3] = 0.0f;
		a->amp = 0.0f;
	}
	a->pitch = a->pitch_target = note;
	a->inc.value = acid_inc(v, a->pitch + c->param[ACID_TUNE]);
	a->inc.step = 0.0f;
	a->env = 1.0f;
	a->env_scale = boost;
	a->gate = true;
	a->note = note;
	a->held = 1;
	acid_attack(v, a, level);
	c->active = true;
	c->ctl_left = 0;
}

/* RT: note-on; accent adds the voice's accent behaviour. For the acid
 * voice a note-on while a note still sounds (legato) slides to the new
 * pitch without retriggering the envelope. Velocity 0 is a note-off. */
void seq_voice_note_on(struct seq_voice *v, uint8_t note, uint8_t velocity, bool accent)
{
	if (v->cur.kind == SEQ_VOICE_NONE)
		return;
	if (velocity == 0) {
		seq_voice_note_off(v, note);
		return;
	}
	if (velocity > 127)
		velocity = 127;
	if (note > 127)
		note = 127;
	if (v->cur.kind == SEQ_VOICE_ACID)
		acid_note_on(v, note, velocity, accent);
	else
		drum_note_on(v, velocity, accent);
}

/* RT: note-off of note (ignored when another note sounds on a mono voice;
 * drums are one-shots and ignore it). */
void seq_voice_note_off(struct seq_voice *v, uint8_t note)
{
	struct seq_voice_core *c = &v->cur;
	if (c->kind != SEQ_VOICE_ACID || !c->active)
		return;
	struct seq_voice_acid *a = &c->u.acid;
	if (!a->gate || note != a->note)
		return;
	if (a->held > 0)
		a->held--;
	if (a->held == 0) {
		a->gate = false;
		a->attack_left = 0;  /* release from wherever the attack got */
	}
}

/* RT: end every note with a fast release (a few ms, no click). */
void seq_voice_all_off(struct seq_voice *v)
{
	float step = -1.0f / (float)v->fade_frames;
	if (v->cur.active)
		v->cur.fade_step = fminf(v->cur.fade_step, step);
	if (v->old.active)
		v->old.fade_step = fminf(v->old.fade_step, step);
	if (v->cur.kind == SEQ_VOICE_ACID) {
		v->cur.u.acid.gate = false;
		v->cur.u.acid.held = 0;
	}
}

/* RT: add n frames of output to l and r. */
void seq_voice_render(struct seq_voice *v, float *l, float *r, uint32_t n)
{
	if (v->cur.active)
		core_render(v, &v->cur, l, r, n);
	if (v->old.active)
		core_render(v, &v->old, l, r, n);
	if (v->declick_left > 0) {
		uint32_t m = (uint32_t)v->declick_left < n ? (uint32_t)v->declick_left : n;
		float dl = v->declick_l, dr = v->declick_r;
		for (uint32_t i = 0; i < m; i++) {
			dl += v->declick_step_l;
			dr += v->declick_step_r;
			l[i] += dl;
			r[i] += dr;
		}
		v->declick_left -= (int32_t)m;
		if (v->declick_left == 0)
			dl = dr = 0.0f;
		v->declick_l = dl;
		v->declick_r = dr;
	}
	v->gain_l = v->cur.gain_l.value;
	v->gain_r = v->cur.gain_r.value;
}

/* RT: is anything still sounding (so rendering can be skipped)? */
bool seq_voice_active(const struct seq_voice *v)
{
	return v->cur.active || v->old.active || v->declick_left > 0;
}
