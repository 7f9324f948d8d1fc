/*
 * The delays of cl-fx: simple delay ("delay"), ping-pong ("pingpong") and
 * multi-tap ("multitap"), one engine behind three parameter tables.
 *
 * The loop. Each delay line is written once per frame with
 *     line = lowpass(input + feedback * highpass(read))
 * where `read` is the feedback read head. The one-pole low-pass ("damp",
 * y = a x + (1 - a) y, a = 1 - exp(-2 pi fc / rate), a = 1 exactly at
 * 20 kHz = off) sits at the line's input, so every pass through the line,
 * the first included, is damped once: echo k has met the filter k times,
 * and taps of the multi-tap all sound alike. The one-pole high-pass
 * ("lowcut", y = b0 (x - x1) + R y1, R = exp(-2 pi fc / rate),
 * b0 = (1 + R) / 2 so that its gain never exceeds 1) sits on the feedback
 * only: it stops low end from piling up over the repeats and leaves the
 * first echo whole. Its bottom value (10 Hz) is "off": the filter's
 * output is crossfaded to its input over 20 ms (a jump would click by
 * whatever low end it was removing), then it is bypassed, so that a loop
 * without damping gives echoes of exactly 1, f, f^2 ... at 1, 2, 3 ...
 * delays. Filter gains <= 1, Catmull-Rom gain <= 1 and feedback <= 0.95
 * keep the loop gain below 0.95 at every frequency: it always decays. A
 * line value is clamped to +-1e5 as a last guard (NaN, which only a
 * non-finite input brings, becomes 0), so no state can go non-finite. A
 * 1e-18 offset added in the loop keeps the filters out of denormal range
 * without FTZ (the output's floor is ~1e-17).
 *
 * Reading. Delay times in samples are rarely whole (375 ms at 44.1 kHz,
 * a 1/4 triplet at 90 BPM), so a read head interpolates with a 4-point
 * Catmull-Rom cubic (Hermite; its magnitude response stays <= 1, so it
 * cannot destabilise the loop, and a whole delay reads the exact sample).
 * Its four coefficients depend only on the fractional part, so they are
 * computed when the time changes, never per sample; whole delays take a
 * one-read fast path. Times shorter than 2 samples are raised to 2 so the
 * four points are always in the past.
 *
 * Time changes crossfade: the head keeps its old position and fades over
 * 30 ms (linear) to the new one; the audio does not glide, so there is no
 * pitch sweep. A change that arrives during a crossfade waits for its end
 * (at most 30 ms), so automation at every block follows in 30 ms steps.
 * A multi-tap head that is silent (tap off, feedback 0) jumps instead.
 *
 * Tempo sync: a note value of b beats lasts b * 60 / bpm seconds (quarter
 * = 1 beat, default 120 BPM). Lines hold the longest note (1/1 = 4 beats)
 * at 20 BPM, 12 s, rounded up to a power of two (4 MiB per line at 44.1
 * or 48 kHz); slower tempos clamp to the line.
 *
 * Smoothing and block independence. Gains (mix, feedback, width, taps)
 * and filter coefficients move on linear ramps of 20 ms whose value at
 * each frame is target - step * frames_left, a closed form, so the result
 * does not depend on where blocks are cut. process() walks the frames in
 * chunks of at most 64; a chunk ends exactly where a crossfade ends (and
 * where a lowcut fade-out ends), and while anything moves the
 * per-frame values are filled into lines for the chunk. Still chunks use
 * scalars in loops specialised for whole/fractional reads and lowcut
 * on/off, with the same arithmetic as the moving ones (the same inline
 * frame function), so output is bit identical for any block size.
 *
 * Ping-pong: two lines; the input (the mean of left and right for a
 * stereo input) enters the left line, the left line's output feeds the
 * right line, and the right line's feeds the left, both through the
 * feedback gain. A left-only impulse echoes L, R, L, ... with
 * amplitudes 1, f, f^2 (times 1/2 for the stereo mean). Width w spreads
 * the echoes: out_l = a rl + b rr, out_r = a rr + b rl, a = (1 + w) / 2,
 * b = (1 - w) / 2.
 *
 * Multi-tap: one line (the stereo mean enters it); eight taps with time,
 * level and a constant-power pan (left = sqrt((1 - p) / 2), right =
 * sqrt((1 + p) / 2), as the mixer; a mono output ignores the pan); a
 * ninth head reads the feedback at the time of the last (longest) active
 * tap. With sync on, a tap time is counted in notes at 120 BPM
 * (round(time / note_ms_at_120)) and those notes play at the current
 * tempo.
 *
 * Output: out = (1 - mix) dry + mix wet, both ramped.
 */
#include "effect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RAMP_MS 20.0
#define XFADE_MS 30.0
#define CHUNK 64                   /* frames per inner pass */
#define TAPS 8
#define FB_HEAD TAPS               /* the multi-tap's feedback head */
#define MAX_HEADS (TAPS + 1)
#define MAX_LINES FX_MAX_CHANNELS
#define LINE_LIMIT 1e5f            /* +100 dBFS: nothing sane gets here */
#define ANTI_DENORMAL 1e-18f
#define SLOWEST_BPM 20.0
#define LONGEST_NOTE_BEATS 4.0
#define MIN_DELAY 2.0              /* samples: the cubic's points are in the past */
#define DAMP_OFF_HZ 20000.0f
#define LOWCUT_OFF_HZ 10.0f

enum echo_kind { ECHO_DELAY, ECHO_PINGPONG, ECHO_MULTITAP };

/* Ramped values; the taps' come last so a type fills only what it uses. */
enum {
	R_DRY, R_WET, R_FB, R_LP_A, R_HP_R, R_HP_B, R_HP_K, R_WIDTH_A, R_WIDTH_B,
	R_TAP_L, R_TAP_R = R_TAP_L + TAPS, NRAMPS = R_TAP_R + TAPS,
};

struct ramp {
	float cur;       /* value of the last frame produced */
	float target;
	float step;      /* per frame, towards the target */
	uint32_t left;   /* frames left; 0 = still (cur == target) */
};

/* A read position: whole part and the cubic's coefficients. */
struct pos {
	uint32_t whole;
	bool frac;       /* false: c = {0, 1, 0, 0}, read one sample */
	float c[4];      /* for delays whole - 1, whole, whole + 1, whole + 2 */
};

struct head {
	struct pos cur, next;
	double have;     /* delay of cur, samples */
	double coming;   /* delay of next while crossfading */
	double want;     /* the latest request */
	uint32_t xleft;  /* crossfade frames left; 0 = not crossfading */
};

struct lane {
	float *line;
	float lp;        /* low-pass state: the last value written */
	float hp_x;      /* high-pass: last input and output */
	float hp_y;
};

struct echo {
	enum echo_kind kind;
	uint32_t rate;
	int channels;
	int nlanes;
	int nheads;
	uint32_t mask;           /* line length - 1 (a power of two) */
	uint32_t w;              /* write index, shared by all lines */
	double max_delay;        /* samples */
	uint32_t ramp_len;
	uint32_t xfade_len;
	float xfade_inv;
	double bpm;
	bool hp_on;              /* false: lowcut bypassed (at "off" and still) */
	bool hp_off_target;
	float value[FX_MAX_PARAMS];
	struct ramp ramp[NRAMPS];
	int ramps_used[NRAMPS];  /* indices into ramp[] this type fills */
	int nramps_used;
	struct head head[MAX_HEADS];
	struct lane lane[MAX_LINES];
	float move[NRAMPS][CHUNK];       /* per-frame ramp values of a chunk */
	float xgain[MAX_HEADS][CHUNK];   /* per-frame crossfade position */
	float acc[2][CHUNK];             /* multitap: summed taps */
	float mono[CHUNK];               /* multitap: the line's input */
};

/* ------------------------------------------------------------------ */
/* Parameter tables. */

#define SYNC_DOC "note value at the tempo, replaces time: 0 = off (use time), 1 = 1/1, " \
	"2 = 1/2, 3 = 1/4, 4 = 1/8, 5 = 1/16, 6 = 1/32, 7 = 1/4 dotted, 8 = 1/8 dotted, " \
	"9 = 1/16 dotted, 10 = 1/4 triplet, 11 = 1/8 triplet, 12 = 1/16 triplet"
#define NOTE_CHOICES 12

/* Beats (quarter notes) of each sync choice. */
static const double note_beats[NOTE_CHOICES + 1] = {
	0.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.125,
	1.5, 0.75, 0.375,
	2.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0,
};

#define P_FEEDBACK_DOC "share of each echo fed back into the line (0..95, always decays)"
#define P_DAMP_DOC "one-pole low-pass in the loop, each repeat darker; 20000 = off"
#define P_LOWCUT_DOC "one-pole high-pass on the feedback, keeps lows from piling up; 10 = off"
#define P_MIX_DOC "wet share: out = (1 - mix) dry + mix echoes"

enum { D_TIME, D_SYNC, D_FEEDBACK, D_DAMP, D_LOWCUT, D_MIX, D_COUNT };

static const struct fx_param delay_params[D_COUNT] = {
	{ "time", "ms", 1.0f, 4000.0f, 375.0f, FX_LOG, "delay time (when sync = 0)" },
	{ "sync", "", 0.0f, 12.0f, 0.0f, FX_CHOICE, SYNC_DOC },
	{ "feedback", "%", 0.0f, 95.0f, 35.0f, FX_LINEAR, P_FEEDBACK_DOC },
	{ "damp", "Hz", 1000.0f, 20000.0f, 8000.0f, FX_LOG, P_DAMP_DOC },
	{ "lowcut", "Hz", 10.0f, 1000.0f, 20.0f, FX_LOG, P_LOWCUT_DOC },
	{ "mix", "%", 0.0f, 100.0f, 30.0f, FX_LINEAR, P_MIX_DOC },
};

enum { PP_TIME, PP_SYNC, PP_FEEDBACK, PP_DAMP, PP_LOWCUT, PP_WIDTH, PP_MIX, PP_COUNT };

static const struct fx_param pingpong_params[PP_COUNT] = {
	{ "time", "ms", 1.0f, 4000.0f, 375.0f, FX_LOG, "time between echoes (when sync = 0)" },
	{ "sync", "", 0.0f, 12.0f, 0.0f, FX_CHOICE, SYNC_DOC },
	{ "feedback", "%", 0.0f, 95.0f, 35.0f, FX_LINEAR, P_FEEDBACK_DOC },
	{ "damp", "Hz", 1000.0f, 20000.0f, 8000.0f, FX_LOG, P_DAMP_DOC },
	{ "lowcut", "Hz", 10.0f, 1000.0f, 20.0f, FX_LOG, P_LOWCUT_DOC },
	{ "width", "%", 0.0f, 100.0f, 100.0f, FX_LINEAR,
	  "stereo spread of the echoes: 100 = hard left/right, 0 = centred" },
	{ "mix", "%", 0.0f, 100.0f, 30.0f, FX_LINEAR, P_MIX_DOC },
};

enum {
	MT_TIME = 0, MT_LEVEL = MT_TIME + TAPS, MT_PAN = MT_LEVEL + TAPS,
	MT_SYNC = MT_PAN + TAPS, MT_FEEDBACK, MT_DAMP, MT_LOWCUT, MT_MIX, MT_COUNT,
};

#define TAP_PARAMS(n, t, l, p) \
	[MT_TIME + n - 1] = { "time" #n, "ms", 0.0f, 4000.0f, t, FX_LINEAR, "tap " #n " delay; 0 = tap off" }, \
	[MT_LEVEL + n - 1] = { "level" #n, "dB", -60.0f, 0.0f, l, FX_LINEAR, "tap " #n " level" }, \
	[MT_PAN + n - 1] = { "pan" #n, "", -1.0f, 1.0f, p, FX_LINEAR, \
			     "tap " #n " pan, constant power: -1 left, 0 centre, 1 right" }

static const struct fx_param multitap_params[MT_COUNT] = {
	TAP_PARAMS(1, 125.0f, -3.0f, -0.6f),
	TAP_PARAMS(2, 250.0f, -6.0f, 0.6f),
	TAP_PARAMS(3, 375.0f, -9.0f, -0.3f),
	TAP_PARAMS(4, 500.0f, -12.0f, 0.3f),
	TAP_PARAMS(5, 0.0f, -12.0f, 0.0f),
	TAP_PARAMS(6, 0.0f, -12.0f, 0.0f),
	TAP_PARAMS(7, 0.0f, -12.0f, 0.0f),
	TAP_PARAMS(8, 0.0f, -12.0f, 0.0f),
	[MT_SYNC] = { "sync", "", 0.0f, 12.0f, 0.0f, FX_CHOICE,
		      "note grid for the tap times, each time counted in notes at 120 BPM "
		      "(with 1/16, 250 ms = 2 sixteenths) played at the tempo: 0 = off (ms), "
		      "1 = 1/1, 2 = 1/2, 3 = 1/4, 4 = 1/8, 5 = 1/16, 6 = 1/32, 7 = 1/4 dotted, "
		      "8 = 1/8 dotted, 9 = 1/16 dotted, 10 = 1/4 triplet, 11 = 1/8 triplet, "
		      "12 = 1/16 triplet" },
	[MT_FEEDBACK] = { "feedback", "%", 0.0f, 95.0f, 20.0f, FX_LINEAR,
			  "share fed back from the last (longest) active tap, always decays" },
	[MT_DAMP] = { "damp", "Hz", 1000.0f, 20000.0f, 8000.0f, FX_LOG, P_DAMP_DOC },
	[MT_LOWCUT] = { "lowcut", "Hz", 10.0f, 1000.0f, 20.0f, FX_LOG, P_LOWCUT_DOC },
	[MT_MIX] = { "mix", "%", 0.0f, 100.0f, 30.0f, FX_LINEAR, P_MIX_DOC },
};

/* ------------------------------------------------------------------ */
/* Ramps. */

/* Start moving towards target over len frames (at once if len is 0). RT */
static void ramp_to(struct ramp *r, float target, uint32_t len)
{
	if (target == r->target)
		return;
	r->target = target;
	if (len == 0 || r->cur == target) {
		r->cur = target;
		r->left = 0;
		return;
	}
	r->step = (target - r->cur) / (float)len;
	r->left = len;
}

/* Jump to the target (no history to protect). RT */
static void ramp_settle(struct ramp *r)
{
	r->cur = r->target;
	r->left = 0;
}

/* Value at frame i of the coming chunk: a closed form of frames left, so
 * any cut of the frames into blocks gives the same numbers. RT */
static inline float ramp_at(const struct ramp *r, uint32_t i)
{
	return i + 1 >= r->left ? r->target : r->target - r->step * (float)(r->left - 1 - i);
}

/* Account for m frames produced. RT */
static void ramp_advance(struct ramp *r, uint32_t m)
{
	r->left = r->left > m ? r->left - m : 0;
	r->cur = r->left ? r->target - r->step * (float)r->left : r->target;
}

/* ------------------------------------------------------------------ */
/* Read positions. */

/* The read position of a delay of d samples (already clamped). RT */
static struct pos pos_make(double d)
{
	struct pos p;
	double whole = floor(d);
	double t = d - whole;
	/* Times from ms or tempo land a hair off whole numbers: snap them. */
	if (t < 1e-6)
		t = 0.0;
	else if (t > 1.0 - 1e-6) {
		whole += 1.0;
		t = 0.0;
	}
	p.whole = (uint32_t)whole;
	p.frac = t != 0.0;
	/* Catmull-Rom between the points at whole and whole + 1. */
	p.c[0] = (float)(t * (-0.5 + t * (1.0 - 0.5 * t)));
	p.c[1] = (float)(1.0 + t * t * (-2.5 + 1.5 * t));
	p.c[2] = (float)(t * (0.5 + t * (2.0 - 1.5 * t)));
	p.c[3] = (float)(t * t * (-0.5 + 0.5 * t));
	return p;
}

/* Interpolated value `p` back from frame `now`. RT */
static inline float pos_read(const float *line, uint32_t mask, uint32_t now, const struct pos *p)
{
	uint32_t i = now - p->whole + 1;
	return p->c[0] * line[i & mask] + p->c[1] * line[(i - 1) & mask]
	       + p->c[2] * line[(i - 2) & mask] + p->c[3] * line[(i - 3) & mask];
}

/* The whole-sample read: the same value as pos_read when !p->frac. RT */
static inline float pos_read_whole(const float *line, uint32_t mask, uint32_t now, const struct pos *p)
{
	return line[(now - p->whole) & mask];
}

/* Clamp a delay request to what the line can give. RT */
static double echo_clamp_delay(const struct echo *e, double d)
{
	if (!(d >= MIN_DELAY))
		return MIN_DELAY;
	return d > e->max_delay ? e->max_delay : d;
}

/* Ask head h for a delay of d samples; applied at the next frame. RT */
static void head_want(struct echo *e, int h, double d)
{
	e->head[h].want = echo_clamp_delay(e, d);
}

/* Put head h at its wanted delay now, crossfade forgotten. RT */
static void head_settle(struct echo *e, int h)
{
	struct head *hd = &e->head[h];
	hd->cur = pos_make(hd->want);
	hd->have = hd->want;
	hd->xleft = 0;
}

/* Whether head h is heard (or fed back) now: a silent head may jump. RT */
static bool head_audible(const struct echo *e, int h)
{
	if (e->kind != ECHO_MULTITAP)
		return true;
	const struct ramp *a, *b;
	if (h == FB_HEAD) {
		a = b = &e->ramp[R_FB];
	} else {
		a = &e->ramp[R_TAP_L + h];
		b = &e->ramp[R_TAP_R + h];
	}
	return a->cur != 0.0f || a->left || b->cur != 0.0f || b->left;
}

/* ------------------------------------------------------------------ */
/* Coefficients and targets. */

/* Samples of a note-value choice at the current tempo. RT */
static double echo_note_samples(const struct echo *e, int choice, double bpm)
{
	return note_beats[choice] * 60.0 / bpm * (double)e->rate;
}

/* Damping low-pass to hz (20 kHz: a = 1, off), gliding. RT */
static void echo_set_damp(struct echo *e, float hz)
{
	/* y = a x + (1 - a) y: the pole at exp(-2 pi fc / rate) */
	float a = hz >= DAMP_OFF_HZ ? 1.0f
		: (float)(1.0 - exp(-2.0 * M_PI * (double)hz / (double)e->rate));
	ramp_to(&e->ramp[R_LP_A], a, e->ramp_len);
}

/* Lowcut at hz. Turning it off fades the filter out (feedback =
 * (1 - k) read + k highpass(read), k to 0), then bypasses it, so that
 * neither way clicks however much low end the filter was removing. RT */
static void echo_set_lowcut(struct echo *e, float hz)
{
	e->hp_off_target = hz <= LOWCUT_OFF_HZ;
	if (e->hp_off_target) {
		ramp_to(&e->ramp[R_HP_K], 0.0f, e->ramp_len);
		return;
	}
	double pole = exp(-2.0 * M_PI * (double)hz / (double)e->rate);
	ramp_to(&e->ramp[R_HP_R], (float)pole, e->ramp_len);
	ramp_to(&e->ramp[R_HP_B], (float)((1.0 + pole) / 2.0), e->ramp_len);  /* unity at Nyquist */
	ramp_to(&e->ramp[R_HP_K], 1.0f, e->ramp_len);
	/* A bypassed filter kept x1 == y1 == its input: it starts as an
	 * identity, and k fades it in. */
	e->hp_on = true;
}

/* Dry and wet gains from the mix in %, ramped. RT */
static void echo_set_mix(struct echo *e, float percent)
{
	float wet = percent / 100.0f;
	ramp_to(&e->ramp[R_DRY], 1.0f - wet, e->ramp_len);
	ramp_to(&e->ramp[R_WET], wet, e->ramp_len);
}

/* Ping-pong width in %: own-side and other-side gains, ramped. RT */
static void echo_set_width(struct echo *e, float percent)
{
	float w = percent / 100.0f;
	ramp_to(&e->ramp[R_WIDTH_A], 0.5f + 0.5f * w, e->ramp_len);
	ramp_to(&e->ramp[R_WIDTH_B], 0.5f - 0.5f * w, e->ramp_len);
}

/* The single head of delay and pingpong from time, sync and tempo. RT */
static void echo_retime_single(struct echo *e, float ms, float sync)
{
	int choice = (int)sync;
	double d = choice > 0 && choice <= NOTE_CHOICES ? echo_note_samples(e, choice, e->bpm)
		   : (double)ms * (double)e->rate / 1000.0;
	head_want(e, 0, d);
}

/* Taps, their gains, the feedback head and its gain, from the values. RT */
static void multitap_retime(struct echo *e)
{
	int choice = (int)e->value[MT_SYNC];
	bool synced = choice > 0 && choice <= NOTE_CHOICES;
	double longest = 0.0;
	for (int k = 0; k < TAPS; k++) {
		float ms = e->value[MT_TIME + k];
		bool on = ms > 0.0f;
		double d = (double)ms * (double)e->rate / 1000.0;
		if (on && synced) {
			double note_ms = note_beats[choice] * 60.0 / 120.0 * 1000.0;
			double notes = floor((double)ms / note_ms + 0.5);
			d = (notes < 1.0 ? 1.0 : notes) * echo_note_samples(e, choice, e->bpm);
		}
		if (on) {
			/* a tap that is silent now fades in at its new place */
			bool silent = !head_audible(e, k);
			head_want(e, k, d);
			if (silent)
				head_settle(e, k);
			if (e->head[k].want > longest)
				longest = e->head[k].want;
		}
		float level = on ? powf(10.0f, e->value[MT_LEVEL + k] / 20.0f) : 0.0f;
		float pan = e->value[MT_PAN + k];
		float gl = level, gr = 0.0f;
		if (e->channels >= 2) {
			gl = level * sqrtf((1.0f - pan) * 0.5f);
			gr = level * sqrtf((1.0f + pan) * 0.5f);
		}
		ramp_to(&e->ramp[R_TAP_L + k], gl, e->ramp_len);
		ramp_to(&e->ramp[R_TAP_R + k], gr, e->ramp_len);
	}
	if (longest > 0.0) {
		bool silent = !head_audible(e, FB_HEAD);
		head_want(e, FB_HEAD, longest);
		if (silent)
			head_settle(e, FB_HEAD);
	}
	ramp_to(&e->ramp[R_FB], longest > 0.0 ? e->value[MT_FEEDBACK] / 100.0f : 0.0f, e->ramp_len);
}

/* ------------------------------------------------------------------ */
/* Setters of the three types. */

/* v within p's range (NaN: the default; choices rounded). RT */
static float echo_clamp(const struct fx_param *p, float v)
{
	if (!(v == v))
		return p->def;
	if (v < p->min)
		v = p->min;
	if (v > p->max)
		v = p->max;
	if (p->curve == FX_CHOICE)
		v = floorf(v + 0.5f);
	return v;
}

/* Parameter i of a delay or pingpong (their tables share the first five). RT */
static void single_set(void *fx, int i, float v)
{
	struct echo *e = fx;
	const struct fx_param *table = e->kind == ECHO_DELAY ? delay_params : pingpong_params;
	int count = e->kind == ECHO_DELAY ? D_COUNT : PP_COUNT;
	if (i < 0 || i >= count)
		return;
	v = echo_clamp(&table[i], v);
	if (v == e->value[i])
		return;
	e->value[i] = v;
	int mix = e->kind == ECHO_DELAY ? D_MIX : PP_MIX;
	if (i == D_TIME || i == D_SYNC)
		echo_retime_single(e, e->value[D_TIME], e->value[D_SYNC]);
	else if (i == D_FEEDBACK)
		ramp_to(&e->ramp[R_FB], v / 100.0f, e->ramp_len);
	else if (i == D_DAMP)
		echo_set_damp(e, v);
	else if (i == D_LOWCUT)
		echo_set_lowcut(e, v);
	else if (i == mix)
		echo_set_mix(e, v);
	else if (e->kind == ECHO_PINGPONG && i == PP_WIDTH)
		echo_set_width(e, v);
}

/* Parameter i of a multitap. RT */
static void multitap_set(void *fx, int i, float v)
{
	struct echo *e = fx;
	if (i < 0 || i >= MT_COUNT)
		return;
	v = echo_clamp(&multitap_params[i], v);
	if (v == e->value[i])
		return;
	e->value[i] = v;
	if (i == MT_DAMP)
		echo_set_damp(e, v);
	else if (i == MT_LOWCUT)
		echo_set_lowcut(e, v);
	else if (i == MT_MIX)
		echo_set_mix(e, v);
	else
		multitap_retime(e);   /* times, levels, pans, sync, feedback */
}

/* Tempo for synced times. RT */
static void echo_set_tempo(void *fx, double bpm)
{
	struct echo *e = fx;
	if (!(bpm > 0.0) || bpm == e->bpm || !isfinite(bpm))
		return;
	e->bpm = bpm;
	if (e->kind == ECHO_MULTITAP)
		multitap_retime(e);
	else
		echo_retime_single(e, e->value[D_TIME], e->value[D_SYNC]);
}

/* ------------------------------------------------------------------ */
/* Life cycle. */

/* Forget the signal: clear the lines (a few MiB: about a millisecond)
 * and filter states, settle every ramp and head. RT */
static void echo_reset(void *fx)
{
	struct echo *e = fx;
	for (int l = 0; l < e->nlanes; l++) {
		memset(e->lane[l].line, 0, ((size_t)e->mask + 1) * sizeof(float));
		e->lane[l].lp = e->lane[l].hp_x = e->lane[l].hp_y = 0.0f;
	}
	for (int r = 0; r < NRAMPS; r++)
		ramp_settle(&e->ramp[r]);
	for (int h = 0; h < e->nheads; h++)
		head_settle(e, h);
	e->hp_on = !e->hp_off_target;
}

/* Free an instance and its lines (NULL is fine). Not RT. */
static void echo_destroy(void *fx)
{
	struct echo *e = fx;
	if (!e)
		return;
	for (int l = 0; l < MAX_LINES; l++)
		free(e->lane[l].line);
	free(e);
}

/* A new instance of `kind` with every parameter at its default. Not RT. */
static struct echo *echo_create(enum echo_kind kind, uint32_t rate, int channels)
{
	int max_ch = kind == ECHO_DELAY ? FX_MAX_CHANNELS : 2;
	if (rate < 1000 || rate > 1000000 || channels < 1 || channels > max_ch)
		return NULL;
	struct echo *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->kind = kind;
	e->rate = rate;
	e->channels = channels;
	e->nlanes = kind == ECHO_DELAY ? channels : kind == ECHO_PINGPONG ? 2 : 1;
	e->nheads = kind == ECHO_MULTITAP ? MAX_HEADS : 1;
	e->bpm = 120.0;
	e->ramp_len = (uint32_t)lround(RAMP_MS * rate / 1000.0);
	e->xfade_len = (uint32_t)lround(XFADE_MS * rate / 1000.0);
	e->xfade_inv = 1.0f / (float)e->xfade_len;

	/* The longest note at the slowest tempo, the cubic's reach and one
	 * chunk of writes ahead of the oldest tap read. */
	double longest = LONGEST_NOTE_BEATS * 60.0 / SLOWEST_BPM * rate;
	size_t need = (size_t)ceil(longest) + CHUNK + 16, len = 1;
	while (len < need)
		len <<= 1;
	e->mask = (uint32_t)(len - 1);
	e->max_delay = (double)(len - CHUNK - 8);
	if (e->max_delay > longest)
		e->max_delay = longest;
	for (int l = 0; l < e->nlanes; l++) {
		void *mem = NULL;
		/* posix_memalign, then a write to every page: no page fault
		 * lands in the audio thread (malloc + memset 0 may become a
		 * lazy calloc) */
		if (posix_memalign(&mem, 64, len * sizeof(float)) != 0) {
			echo_destroy(e);
			return NULL;
		}
		memset(mem, 0, len * sizeof(float));
		e->lane[l].line = mem;
	}

	int n = 0;
	e->ramps_used[n++] = R_DRY;
	e->ramps_used[n++] = R_WET;
	e->ramps_used[n++] = R_FB;
	e->ramps_used[n++] = R_LP_A;
	e->ramps_used[n++] = R_HP_R;
	e->ramps_used[n++] = R_HP_B;
	e->ramps_used[n++] = R_HP_K;
	if (kind == ECHO_PINGPONG) {
		e->ramps_used[n++] = R_WIDTH_A;
		e->ramps_used[n++] = R_WIDTH_B;
	}
	if (kind == ECHO_MULTITAP)
		for (int k = 0; k < 2 * TAPS; k++)
			e->ramps_used[n++] = R_TAP_L + k;
	e->nramps_used = n;

	/* Defaults, applied in one go, then settled: no ramps at birth. */
	const struct fx_param *table = kind == ECHO_DELAY ? delay_params
				       : kind == ECHO_PINGPONG ? pingpong_params : multitap_params;
	int count = kind == ECHO_DELAY ? D_COUNT : kind == ECHO_PINGPONG ? PP_COUNT : MT_COUNT;
	for (int i = 0; i < count; i++)
		e->value[i] = table[i].def;
	for (int h = 0; h < e->nheads; h++)
		e->head[h].want = e->head[h].have = MIN_DELAY;
	if (kind == ECHO_MULTITAP) {
		multitap_retime(e);
		echo_set_damp(e, e->value[MT_DAMP]);
		echo_set_lowcut(e, e->value[MT_LOWCUT]);
		echo_set_mix(e, e->value[MT_MIX]);
	} else {
		echo_retime_single(e, e->value[D_TIME], e->value[D_SYNC]);
		ramp_to(&e->ramp[R_FB], e->value[D_FEEDBACK] / 100.0f, 0);
		echo_set_damp(e, e->value[D_DAMP]);
		echo_set_lowcut(e, e->value[D_LOWCUT]);
		echo_set_mix(e, e->value[kind == ECHO_DELAY ? D_MIX : PP_MIX]);
		if (kind == ECHO_PINGPONG)
			echo_set_width(e, e->value[PP_WIDTH]);
	}
	echo_reset(e);
	return e;
}

/* The fx_type constructors. Not RT. */
static void *delay_create(uint32_t rate, int channels)
{
	return echo_create(ECHO_DELAY, rate, channels);
}

static void *pingpong_create(uint32_t rate, int channels)
{
	return echo_create(ECHO_PINGPONG, rate, channels);
}

static void *multitap_create(uint32_t rate, int channels)
{
	return echo_create(ECHO_MULTITAP, rate, channels);
}

/* ------------------------------------------------------------------ */
/* The loop, one frame. */

/* The last guard of the loop: +-LINE_LIMIT, and NaN (which only a
 * non-finite input can bring) becomes silence rather than a full-scale
 * echo. RT */
static inline float line_clamp(float v)
{
	v = v == v ? v : 0.0f;
	v = v < LINE_LIMIT ? v : LINE_LIMIT;
	return v > -LINE_LIMIT ? v : -LINE_LIMIT;
}

/* Coefficients of one frame, scalars in still chunks. */
struct frame_k {
	float fb, a, b, hr, hb, hk, hk1;
};

/* Feed one frame into a lane: high-pass the fed-back read r, add the
 * input x, low-pass, write at `now`. RT */
static inline __attribute__((always_inline)) void
lane_feed(float *restrict line, uint32_t mask, uint32_t now, float x, float r,
	  struct frame_k k, bool hp, float *lp, float *hx, float *hy)
{
	float h = r;
	if (hp) {
		*hy = k.hb * (r - *hx) + k.hr * *hy + ANTI_DENORMAL;
		/* at k = 1 or 0 this is exactly hy or r */
		h = k.hk1 * r + k.hk * *hy;
	}
	*hx = r;
	*lp = k.a * line_clamp(x + k.fb * h + ANTI_DENORMAL) + k.b * *lp;
	line[now & mask] = *lp;
}

/* The loop's coefficients at frame i of a moving chunk. RT */
static inline struct frame_k frame_k_at(const struct echo *e, uint32_t i)
{
	struct frame_k k;
	k.fb = e->move[R_FB][i];
	k.a = e->move[R_LP_A][i];
	k.b = 1.0f - k.a;
	k.hr = e->move[R_HP_R][i];
	k.hb = e->move[R_HP_B][i];
	k.hk = e->move[R_HP_K][i];
	k.hk1 = 1.0f - k.hk;
	return k;
}

/* The loop's coefficients while nothing moves. RT */
static inline struct frame_k frame_k_still(const struct echo *e)
{
	struct frame_k k;
	k.fb = e->ramp[R_FB].target;
	k.a = e->ramp[R_LP_A].target;
	k.b = 1.0f - k.a;
	k.hr = e->ramp[R_HP_R].target;
	k.hb = e->ramp[R_HP_B].target;
	k.hk = e->ramp[R_HP_K].target;
	k.hk1 = 1.0f - k.hk;
	return k;
}

/* Head h's value at frame i of a moving chunk (crossfading or not). RT */
static inline float head_read_moving(const struct echo *e, int h, const float *line, uint32_t now,
				     uint32_t i)
{
	const struct head *hd = &e->head[h];
	float r = pos_read(line, e->mask, now, &hd->cur);
	if (hd->xleft) {
		float g = e->xgain[h][i];
		r = r * (1.0f - g) + pos_read(line, e->mask, now, &hd->next) * g;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Simple delay: each channel its own line. */

/* One channel of the simple delay over a still chunk; frac and hp are
 * constants at each call, so each combination compiles to its own lean
 * loop. RT */
static inline __attribute__((always_inline)) void
delay_still(struct echo *e, struct lane *ln, float *restrict io, uint32_t m, bool frac, bool hp)
{
	const uint32_t mask = e->mask;
	const struct pos p = e->head[0].cur;
	const struct frame_k k = frame_k_still(e);
	const float dry = e->ramp[R_DRY].target, wet = e->ramp[R_WET].target;
	float *restrict line = ln->line;
	float lp = ln->lp, hx = ln->hp_x, hy = ln->hp_y;
	uint32_t now = e->w;
	for (uint32_t i = 0; i < m; i++, now++) {
		float x = io[i];
		float r = frac ? pos_read(line, mask, now, &p) : pos_read_whole(line, mask, now, &p);
		lane_feed(line, mask, now, x, r, k, hp, &lp, &hx, &hy);
		io[i] = dry * x + wet * r;
	}
	ln->lp = lp;
	ln->hp_x = hx;
	ln->hp_y = hp ? hy : hx;
}

/* One channel of the simple delay over a chunk. RT */
static void delay_run(struct echo *e, struct lane *ln, float *restrict io, uint32_t m, bool moving)
{
	if (!moving) {
		bool frac = e->head[0].cur.frac;
		if (frac && e->hp_on)
			delay_still(e, ln, io, m, true, true);
		else if (frac)
			delay_still(e, ln, io, m, true, false);
		else if (e->hp_on)
			delay_still(e, ln, io, m, false, true);
		else
			delay_still(e, ln, io, m, false, false);
		return;
	}
	const uint32_t mask = e->mask;
	const bool hp = e->hp_on;
	float *restrict line = ln->line;
	float lp = ln->lp, hx = ln->hp_x, hy = ln->hp_y;
	uint32_t now = e->w;
	for (uint32_t i = 0; i < m; i++, now++) {
		float x = io[i];
		float r = head_read_moving(e, 0, line, now, i);
		lane_feed(line, mask, now, x, r, frame_k_at(e, i), hp, &lp, &hx, &hy);
		io[i] = e->move[R_DRY][i] * x + e->move[R_WET][i] * r;
	}
	ln->lp = lp;
	ln->hp_x = hx;
	ln->hp_y = hp ? hy : hx;
}

/* ------------------------------------------------------------------ */
/* Ping-pong: two lines crossing over. */

/* Both lines of the ping-pong over a chunk, frames [off, off + m). RT */
static void pingpong_run(struct echo *e, float *const *buf, uint32_t off, uint32_t m, bool moving)
{
	const uint32_t mask = e->mask;
	const bool hp = e->hp_on, stereo = e->channels == 2;
	struct lane *a = &e->lane[0], *b = &e->lane[1];
	float *restrict la = a->line;
	float *restrict lb = b->line;
	float *restrict io_l = buf[0] + off;
	float *restrict io_r = stereo ? buf[1] + off : NULL;
	float lpa = a->lp, hxa = a->hp_x, hya = a->hp_y;
	float lpb = b->lp, hxb = b->hp_x, hyb = b->hp_y;
	const struct pos p = e->head[0].cur;
	struct frame_k k = frame_k_still(e);
	float dry = e->ramp[R_DRY].target, wet = e->ramp[R_WET].target;
	float wa = e->ramp[R_WIDTH_A].target, wb = e->ramp[R_WIDTH_B].target;
	uint32_t now = e->w;
	for (uint32_t i = 0; i < m; i++, now++) {
		float rl, rr;
		if (moving) {
			k = frame_k_at(e, i);
			dry = e->move[R_DRY][i];
			wet = e->move[R_WET][i];
			wa = e->move[R_WIDTH_A][i];
			wb = e->move[R_WIDTH_B][i];
			rl = head_read_moving(e, 0, la, now, i);
			rr = head_read_moving(e, 0, lb, now, i);
		} else if (p.frac) {
			rl = pos_read(la, mask, now, &p);
			rr = pos_read(lb, mask, now, &p);
		} else {
			rl = pos_read_whole(la, mask, now, &p);
			rr = pos_read_whole(lb, mask, now, &p);
		}
		float xl = io_l[i];
		float xr = stereo ? io_r[i] : 0.0f;
		float in = stereo ? 0.5f * (xl + xr) : xl;
		lane_feed(la, mask, now, in, rr, k, hp, &lpa, &hxa, &hya);
		lane_feed(lb, mask, now, 0.0f, rl, k, hp, &lpb, &hxb, &hyb);
		if (stereo) {
			io_l[i] = dry * xl + wet * (wa * rl + wb * rr);
			io_r[i] = dry * xr + wet * (wa * rr + wb * rl);
		} else {
			io_l[i] = dry * xl + wet * (rl + rr);
		}
	}
	a->lp = lpa;
	a->hp_x = hxa;
	a->hp_y = hp ? hya : hxa;
	b->lp = lpb;
	b->hp_x = hxb;
	b->hp_y = hp ? hyb : hxb;
}

/* ------------------------------------------------------------------ */
/* Multi-tap: one line, a feedback head and eight output taps. */

/* Whether tap t's gains or position move in the coming chunk. RT */
static bool tap_moving(const struct echo *e, int t)
{
	return e->ramp[R_TAP_L + t].left || e->ramp[R_TAP_R + t].left || e->head[t].xleft;
}

/* Tap t over a chunk with still gains and position (constant flags). RT */
static inline __attribute__((always_inline)) void
tap_still(struct echo *e, int t, uint32_t m, bool frac, bool stereo)
{
	const uint32_t mask = e->mask;
	const float *restrict line = e->lane[0].line;
	const struct pos p = e->head[t].cur;
	const float gl = e->ramp[R_TAP_L + t].target, gr = e->ramp[R_TAP_R + t].target;
	float *restrict acc_l = e->acc[0];
	float *restrict acc_r = e->acc[1];
	uint32_t now = e->w;
	for (uint32_t i = 0; i < m; i++, now++) {
		float r = frac ? pos_read(line, mask, now, &p) : pos_read_whole(line, mask, now, &p);
		acc_l[i] += gl * r;
		if (stereo)
			acc_r[i] += gr * r;
	}
}

/* Add tap t over a chunk to the accumulators. RT */
static void tap_run(struct echo *e, int t, uint32_t m)
{
	const struct ramp *gl = &e->ramp[R_TAP_L + t], *gr = &e->ramp[R_TAP_R + t];
	const bool stereo = e->channels == 2;
	if (!tap_moving(e, t)) {
		if (gl->target == 0.0f && gr->target == 0.0f)
			return;   /* off, or panned out of a mono output */
		bool frac = e->head[t].cur.frac;
		if (frac && stereo)
			tap_still(e, t, m, true, true);
		else if (frac)
			tap_still(e, t, m, true, false);
		else if (stereo)
			tap_still(e, t, m, false, true);
		else
			tap_still(e, t, m, false, false);
		return;
	}
	const float *line = e->lane[0].line;
	const float *ml = e->move[R_TAP_L + t], *mr = e->move[R_TAP_R + t];
	uint32_t now = e->w;
	for (uint32_t i = 0; i < m; i++, now++) {
		float r = head_read_moving(e, t, line, now, i);
		e->acc[0][i] += ml[i] * r;
		if (stereo)
			e->acc[1][i] += mr[i] * r;
	}
}

/* The multi-tap over a chunk, frames [off, off + m). RT */
static void multitap_run(struct echo *e, float *const *buf, uint32_t off, uint32_t m, bool moving)
{
	const uint32_t mask = e->mask;
	const bool hp = e->hp_on, stereo = e->channels == 2;
	struct lane *ln = &e->lane[0];
	float *restrict line = ln->line;
	float *restrict mono = e->mono;
	float lp = ln->lp, hx = ln->hp_x, hy = ln->hp_y;
	const float *io_l = buf[0] + off, *io_r = stereo ? buf[1] + off : NULL;
	for (uint32_t i = 0; i < m; i++)
		mono[i] = stereo ? 0.5f * (io_l[i] + io_r[i]) : io_l[i];

	/* The loop first: every write of the chunk is done before the taps
	 * read, which is safe as taps only read frames already written
	 * (delays >= 2) and the line is a chunk longer than any delay. */
	const struct pos p = e->head[FB_HEAD].cur;
	struct frame_k k = frame_k_still(e);
	uint32_t now = e->w;
	for (uint32_t i = 0; i < m; i++, now++) {
		float r;
		if (moving) {
			k = frame_k_at(e, i);
			r = head_read_moving(e, FB_HEAD, line, now, i);
		} else {
			r = p.frac ? pos_read(line, mask, now, &p) : pos_read_whole(line, mask, now, &p);
		}
		lane_feed(line, mask, now, mono[i], r, k, hp, &lp, &hx, &hy);
	}
	ln->lp = lp;
	ln->hp_x = hx;
	ln->hp_y = hp ? hy : hx;

	memset(e->acc, 0, sizeof e->acc);
	for (int t = 0; t < TAPS; t++)
		tap_run(e, t, m);

	for (int c = 0; c < e->channels; c++) {
		float *restrict io = buf[c] + off;
		const float *restrict acc = e->acc[c];
		if (moving) {
			for (uint32_t i = 0; i < m; i++)
				io[i] = e->move[R_DRY][i] * io[i] + e->move[R_WET][i] * acc[i];
		} else {
			const float dry = e->ramp[R_DRY].target, wet = e->ramp[R_WET].target;
			for (uint32_t i = 0; i < m; i++)
				io[i] = dry * io[i] + wet * acc[i];
		}
	}
}

/* ------------------------------------------------------------------ */
/* Chunks. */

/* Start pending time changes, switch the lowcut bypass, and choose the
 * chunk's length (cut where a crossfade or a lowcut fade-out ends). RT */
static uint32_t chunk_begin(struct echo *e, uint32_t frames)
{
	uint32_t m = frames < CHUNK ? frames : CHUNK;
	for (int h = 0; h < e->nheads; h++) {
		struct head *hd = &e->head[h];
		if (!hd->xleft && hd->want != hd->have) {
			if (!head_audible(e, h)) {
				head_settle(e, h);
			} else {
				hd->next = pos_make(hd->want);
				hd->coming = hd->want;
				hd->xleft = e->xfade_len;
			}
		}
		if (hd->xleft && hd->xleft < m)
			m = hd->xleft;
	}
	const struct ramp *hk = &e->ramp[R_HP_K];
	if (e->hp_off_target) {
		if (hk->left) {
			if (hk->left < m)
				m = hk->left;   /* bypass exactly where the fade ends */
		} else if (e->hp_on) {
			/* k = 0: the filter is out of the signal already */
			e->hp_on = false;
			for (int l = 0; l < e->nlanes; l++)
				e->lane[l].hp_y = e->lane[l].hp_x;
		}
	}
	return m;
}

/* Fill the per-frame lines of whatever moves in this chunk; returns
 * whether the loop's own values (mix, feedback, filters, width, the head
 * it reads) move. Taps decide for themselves in tap_run(). RT */
static bool chunk_fill(struct echo *e, uint32_t m)
{
	int loop_head = e->kind == ECHO_MULTITAP ? FB_HEAD : 0;
	bool moving = e->head[loop_head].xleft != 0;
	for (int j = 0; j < e->nramps_used; j++) {
		int r = e->ramps_used[j];
		if (r < R_TAP_L)
			moving = moving || e->ramp[r].left;
	}
	for (int h = 0; h < e->nheads; h++) {
		const struct head *hd = &e->head[h];
		if (!hd->xleft)
			continue;
		for (uint32_t i = 0; i < m; i++)
			e->xgain[h][i] = 1.0f - (float)(hd->xleft - 1 - i) * e->xfade_inv;
	}
	for (int j = 0; j < e->nramps_used; j++) {
		int r = e->ramps_used[j];
		const struct ramp *rp = &e->ramp[r];
		if (r >= R_TAP_L) {
			int t = (r - R_TAP_L) % TAPS;
			if (!tap_moving(e, t))
				continue;
		} else if (!moving) {
			continue;
		}
		for (uint32_t i = 0; i < m; i++)
			e->move[r][i] = ramp_at(rp, i);
	}
	return moving;
}

/* Account for m frames: ramps, crossfades, write index. RT */
static void chunk_end(struct echo *e, uint32_t m)
{
	for (int j = 0; j < e->nramps_used; j++)
		ramp_advance(&e->ramp[e->ramps_used[j]], m);
	for (int h = 0; h < e->nheads; h++) {
		struct head *hd = &e->head[h];
		if (!hd->xleft)
			continue;
		hd->xleft -= m;
		if (!hd->xleft) {
			hd->cur = hd->next;
			hd->have = hd->coming;
		}
	}
	e->w = (e->w + m) & e->mask;
}

/* n frames in place. RT */
static void echo_process(void *fx, float *const *buf, uint32_t n)
{
	struct echo *e = fx;
	uint32_t done = 0;
	while (done < n) {
		uint32_t m = chunk_begin(e, n - done);
		bool moving = chunk_fill(e, m);
		if (e->kind == ECHO_DELAY) {
			for (int c = 0; c < e->channels; c++)
				delay_run(e, &e->lane[c], buf[c] + done, m, moving);
		} else if (e->kind == ECHO_PINGPONG) {
			pingpong_run(e, buf, done, m, moving);
		} else {
			multitap_run(e, buf, done, m, moving);
		}
		chunk_end(e, m);
		done += m;
	}
}

/* ------------------------------------------------------------------ */

const struct fx_type fx_delay = {
	.id = "delay",
	.doc = "echo with feedback, damping and low cut; time in ms or a note value at the tempo",
	.params = delay_params,
	.nparams = D_COUNT,
	.max_channels = FX_MAX_CHANNELS,
	.create = delay_create,
	.destroy = echo_destroy,
	.set = single_set,
	.set_tempo = echo_set_tempo,
	.reset = echo_reset,
	.process = echo_process,
};

const struct fx_type fx_pingpong = {
	.id = "pingpong",
	.doc = "echoes alternating left and right (input to the left first), with feedback and damping",
	.params = pingpong_params,
	.nparams = PP_COUNT,
	.max_channels = 2,
	.create = pingpong_create,
	.destroy = echo_destroy,
	.set = single_set,
	.set_tempo = echo_set_tempo,
	.reset = echo_reset,
	.process = echo_process,
};

const struct fx_type fx_multitap = {
	.id = "multitap",
	.doc = "up to 8 taps with their own time, level and pan; feedback from the last tap",
	.params = multitap_params,
	.nparams = MT_COUNT,
	.max_channels = 2,
	.create = multitap_create,
	.destroy = echo_destroy,
	.set = multitap_set,
	.set_tempo = echo_set_tempo,
	.reset = echo_reset,
	.process = echo_process,
};
