/*
 * The EQ effects of cl-fx: parametric EQ (8 peaking bands), low shelf,
 * high shelf, high-pass and low-pass (12 or 24 dB/oct).
 *
 * Every filter is one or more second-order sections in the linear
 * trapezoidal state-variable form of Andrew Simper (Cytomic, "Linear
 * Trapezoidal Integrated SVF", 2013), which is Zavalishin's TPT SVF: two
 * trapezoidal integrators whose states (ic1, ic2) are the capacitor
 * currents. Its response is the bilinear transform of the analog
 * prototype with the cutoff prewarped (g = tan(pi f / rate)), and the
 * outputs v0 (input), v1 (band) and v2 (low) are mixed as m0 v0 + m1 v1 +
 * m2 v2 to give the RBJ cookbook shapes (peaking, shelves, low and high
 * pass) exactly. Unlike a direct-form biquad the SVF stays stable and
 * free of bursts while its coefficients move, because the states are
 * physical quantities that do not depend on the coefficients.
 *
 * Smoothing: each section moves its frequency (in octaves), gain (in dB)
 * and Q (in octaves) to a new value through two one-pole stages in series
 * (time constant EQ_GLIDE_TAU_S each: a critically damped glide, 90 % of
 * the way in about 30 ms, with no jump in value or speed even when
 * automation moves the target every block). The smoothers step every
 * EQ_GRID frames; each step recomputes the coefficients (tan, exp2) and
 * ramps every coefficient linearly, frame by frame, to the new set over
 * the next EQ_GRID frames: stepped coefficients would step the output mix
 * (m0, m1, m2) and buzz at rate / EQ_GRID. In the steady state nothing is
 * recomputed. Steps fall on a grid of absolute frame time, not on block
 * boundaries, and each ramp lands exactly on its end at the next grid
 * point, so the output does not depend on how the host cuts the signal
 * into blocks (bit-identical). The first settings after create() or
 * reset() apply at once: there is no audio yet to click.
 *
 * A peaking band or shelf at 0 dB is the identity and is skipped (the
 * signal passes bit-identical); it rejoins with a zeroed state as soon as
 * its gain starts to move, and its mix factor starts at exactly 0, so
 * joining does not click. The pass filters keep a 12 dB chain (one
 * section, Q = q) and a 24 dB chain (two sections: Butterworth Q 0.5412
 * and 1.3066 * q / 0.7071, so q = 0.7071 is the 4th-order Butterworth and
 * a larger q lifts the resonant section only); a slope change crossfades
 * (smoothstep, EQ_FADE_S) from one chain to the other, the incoming chain
 * starting from rest.
 *
 * Speed: channels are packed four to a vector (GCC vector extensions), so
 * stereo costs what mono does; a block is interleaved into a scratch of
 * at most EQ_SEG frames, run through the active sections with the states
 * in registers (one specialised loop per section count), and written back.
 * process() is compiled twice, for any CPU and with AVX2 and FMA (each
 * multiply-add fused: shorter dependency chains through the states, about
 * 1.25x faster); create() picks the copy the CPU runs, and the
 * environment variable CL_FX_SIMD=baseline forces the portable one.
 * Every EQ_SEG frames (again on absolute time) tiny states are flushed to
 * zero so that no denormals appear whatever the FPU mode.
 *
 * Absurd input: output samples are held within +-1e30 (a boost on input
 * near FLT_MAX would overflow to Inf), and states beyond 1e30 or NaN are
 * reset at the next EQ_SEG boundary, so the filter is soon normal again.
 */
#include "effect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_simd.h"

#if defined(__x86_64__) || defined(__i386__)
#define EQ_X86 1
#endif

#define EQ_GRID 8             /* frames between coefficient steps while gliding */
#define EQ_SEG 256            /* frames per scratch pass and denormal flush */
#define EQ_GLIDE_TAU_S 0.0075 /* time constant of each smoother stage */
#define EQ_GLIDE_EPS 1e-5f    /* a smoother this close lands (octaves, dB) */
#define EQ_FADE_S 0.020       /* slope crossfade of the passes */
#define EQ_MAX_SECTIONS 8
#define EQ_LANES 4
#define EQ_GROUPS (FX_MAX_CHANNELS / EQ_LANES)
#define EQ_TINY 1e-20f        /* states below this are flushed (-400 dB) */
#define EQ_HUGE 1e30f         /* output limit, against overflow on absurd input */

/* The 4th-order Butterworth as two sections: Q = 1 / (2 cos(pi/8)) and
 * 1 / (2 cos(3 pi/8)). */
#define EQ_BW4_Q1 0.54119610f
#define EQ_BW4_Q2 1.30656296f
#define EQ_BW2_Q 0.70710678f

/* A value moving linearly to its target in `left` more steps. */
struct glide {
	float cur, target, step;
	uint32_t left;
};

/* A parameter on its way to a target: two one-pole stages in series, a
 * critically damped glide with no jump in value or in speed, even when the
 * target moves on while it travels. */
struct smoother {
	float cur;       /* the value in use (second stage) */
	float mid;       /* first stage */
	float target;
	bool moving;
};

/* The coefficients of a section, in eq_kernel's folded form. */
enum { C_A1, C_A2, C_A3, C_M0, C_M1, C_M2, EQ_NCOEF };

enum section_kind {
	SEC_BELL,
	SEC_LOWSHELF,
	SEC_HIGHSHELF,
	SEC_LOWPASS,
	SEC_HIGHPASS,
};

struct section {
	enum section_kind kind;
	float q_mul;                 /* Q = q_mul * 2^q.cur */
	struct smoother freq;        /* log2 Hz */
	struct smoother gain;        /* dB (bells and shelves) */
	struct smoother q;           /* log2 of the user's q */
	bool on;                     /* in the signal path */
	bool ramping;                /* c moves towards c_end during this grid step */
	v4f c[EQ_NCOEF];             /* coefficients in use (eq_kernel's form), per lane */
	v4f c_end[EQ_NCOEF];         /* ... at the end of this grid step */
	v4f dc[EQ_NCOEF];            /* ... per frame, while ramping */
	v4f ic1[EQ_GROUPS], ic2[EQ_GROUPS];
};

struct eq {
	double rate;
	int channels, groups;
	int nsec;
	bool passes;                 /* sec[0] = 12 dB chain, sec[1..2] = 24 dB chain */
	bool fresh;                  /* nothing processed since create/reset */
	bool busy;                   /* a smoother, ramp or crossfade is moving */
	bool fma;                    /* run the AVX2 + FMA copy of the loops */
	float glide_k;               /* smoother coefficient per grid step */
	uint32_t fade_frames;        /* length of a slope crossfade */
	uint32_t clock;              /* absolute frame time mod EQ_SEG */
	struct glide mix;            /* passes: 0 = 12 dB chain, 1 = 24 dB; per frame */
	int slope;                   /* passes: 0 = 12 dB/oct, 1 = 24 */
	struct section sec[EQ_MAX_SECTIONS];
	v4f scratch[2][EQ_SEG];      /* interleaved frames (second: crossfades) */
};

/* New target; the glide restarts from the current value (steps 0 jumps).
 * Callers skip unchanged targets. RT */
static void glide_set(struct glide *g, float target, uint32_t steps)
{
	g->target = target;
	if (steps == 0 || target == g->cur) {
		g->cur = target;
		g->left = 0;
		return;
	}
	g->step = (target - g->cur) / (float)steps;
	g->left = steps;
}

/* One step; false when idle. Computed from the target so it lands on it. RT */
static inline bool glide_next(struct glide *g)
{
	if (g->left == 0)
		return false;
	if (--g->left == 0)
		g->cur = g->target;
	else
		g->cur = g->target - g->step * (float)g->left;
	return true;
}

/* New target; `jump` lands at once (set-up). RT */
static void smoother_set(struct smoother *s, float target, bool jump)
{
	s->target = target;
	if (jump) {
		s->cur = s->mid = target;
		s->moving = false;
	} else {
		s->moving = s->cur != target || s->mid != target;
	}
}

/* One grid step with coefficient k; false when idle. Lands exactly on the
 * target once both stages are within EQ_GLIDE_EPS (a step far below
 * hearing: 1e-5 octave, 1e-5 dB). RT */
static bool smoother_step(struct smoother *s, float k)
{
	if (!s->moving)
		return false;
	s->mid += k * (s->target - s->mid);
	s->cur += k * (s->mid - s->cur);
	if (fabsf(s->target - s->mid) < EQ_GLIDE_EPS && fabsf(s->target - s->cur) < EQ_GLIDE_EPS) {
		s->cur = s->mid = s->target;
		s->moving = false;
	}
	return true;
}

/* x rounded to float in every lane. */
static inline v4f splat(double x)
{
	float f = (float)x;
	return (v4f){f, f, f, f};
}

/* The coefficients for the current smoother values, into c_end. RT */
static void section_coefs(struct section *s, double rate)
{
	double f = exp2(s->freq.cur);
	if (f > 0.49 * rate)          /* tan() blows up at Nyquist */
		f = 0.49 * rate;
	if (f < 1.0)
		f = 1.0;
	double q = s->q_mul * exp2(s->q.cur);
	double big_a = exp2(s->gain.cur * (M_LN10 / M_LN2 / 40.0));  /* 10^(dB/40) */
	double g = tan(M_PI * f / rate);
	double k = 1.0 / q, m0 = 1.0, m1 = 0.0, m2 = 0.0;
	switch (s->kind) {
	case SEC_BELL:
		/* 1 + k (A^2 - 1) v1 with k = 1/(Q A): poles at Q A, zeros at Q / A */
		k = 1.0 / (q * big_a);
		m1 = k * (big_a * big_a - 1.0);
		break;
	case SEC_LOWSHELF:
		/* cutoff scaled by A^-1/2 puts the half-gain point on f */
		g /= sqrt(big_a);
		m1 = k * (big_a - 1.0);
		m2 = big_a * big_a - 1.0;
		break;
	case SEC_HIGHSHELF:
		g *= sqrt(big_a);
		m0 = big_a * big_a;
		m1 = k * (1.0 - big_a) * big_a;
		m2 = 1.0 - big_a * big_a;
		break;
	case SEC_LOWPASS:
		m0 = 0.0;
		m2 = 1.0;
		break;
	case SEC_HIGHPASS:
		m1 = -k;
		m2 = -1.0;
		break;
	}
	/* Simper's a1, a2, a3 in the folded form of eq_kernel */
	double a1 = 1.0 / (1.0 + g * (g + k));
	s->c_end[C_A1] = splat(2.0 * a1 - 1.0);
	s->c_end[C_A2] = splat(2.0 * g * a1);
	s->c_end[C_A3] = splat(2.0 * g * g * a1);
	s->c_end[C_M0] = splat(m0);
	s->c_end[C_M1] = splat(0.5 * m1);
	s->c_end[C_M2] = splat(0.5 * m2);
}

/* Coefficients straight to the smoother values, no ramp (set-up). RT */
static void section_jump(struct section *s, double rate)
{
	section_coefs(s, rate);
	memcpy(s->c, s->c_end, sizeof s->c);
	memset(s->dc, 0, sizeof s->dc);
	s->ramping = false;
}

/* Put a section in or out of the signal path; joining starts from rest. RT */
static void section_update_on(struct section *s)
{
	bool on = true;
	if (s->kind == SEC_BELL || s->kind == SEC_LOWSHELF || s->kind == SEC_HIGHSHELF)
		/* 0 dB is the identity, once the coefficients are there */
		on = s->gain.cur != 0.0f || s->gain.moving || s->ramping;
	if (on && !s->on) {
		memset(s->ic1, 0, sizeof s->ic1);
		memset(s->ic2, 0, sizeof s->ic2);
	}
	s->on = on;
}

/* At a grid point: land every ramp exactly on its end, advance the
 * smoothers one step, and ramp what moved to its new coefficients over the
 * next EQ_GRID frames. One more step with nothing moving lands the last
 * ramp before the effect goes idle. RT */
static void eq_step(struct eq *e)
{
	bool moving = e->mix.left != 0;
	const v4f per_frame = splat(1.0 / EQ_GRID);
	for (int i = 0; i < e->nsec; i++) {
		struct section *s = &e->sec[i];
		memcpy(s->c, s->c_end, sizeof s->c);
		bool moved = smoother_step(&s->freq, e->glide_k);
		moved |= smoother_step(&s->gain, e->glide_k);
		moved |= smoother_step(&s->q, e->glide_k);
		if (moved) {
			section_coefs(s, e->rate);
			for (int k = 0; k < EQ_NCOEF; k++)
				s->dc[k] = (s->c_end[k] - s->c[k]) * per_frame;
		} else {
			memset(s->dc, 0, sizeof s->dc);
		}
		s->ramping = moved;
		section_update_on(s);
		moving |= moved;
	}
	e->busy = moving;
}

/* v within +-EQ_HUGE; NaN becomes -EQ_HUGE. Only absurd input (near
 * FLT_MAX, where a boost overflows) ever gets there, but then no Inf or
 * NaN leaves the effect. RT */
static inline v4f eq_limit(v4f x)
{
	const v4f hi = splat(EQ_HUGE), lo = -hi;
	v4i v = (v4i)x;
	v4i above = x > lo;       /* false for NaN */
	v = (v & above) | ((v4i)lo & ~above);
	v4i below = (v4f)v < hi;
	v = (v & below) | ((v4i)hi & ~below);
	return (v4f)v;
}

/* Run `x` through n sections in series for one lane group; peaking
 * sections only when `bell` (m0 = 1, m2 = 0 skipped); coefficients
 * moving by dc every frame when `ramp`. Inlined with constant arguments
 * so that the states live in registers.
 *
 * Simper's update ic' = 2 v - ic is folded into the coefficients (see
 * section_coefs): ic1' = (2 a1 - 1) ic1 + 2 a2 v3 and ic2' = ic2 + 2 a2
 * ic1 + 2 a3 v3, and the outputs come back as v1 = (ic1 + ic1') / 2,
 * v2 = (ic2 + ic2') / 2 with the halves in m1, m2. Same filter, two
 * operations less per section and a shorter loop-carried chain. RT */
static inline __attribute__((always_inline)) void
eq_kernel(struct section *const *act, const int n, const bool bell, const bool ramp, int grp,
	  bool last, v4f *restrict x, uint32_t len)
{
	v4f c[EQ_MAX_SECTIONS][EQ_NCOEF], dc[EQ_MAX_SECTIONS][EQ_NCOEF];
	v4f s1[EQ_MAX_SECTIONS], s2[EQ_MAX_SECTIONS];
#pragma GCC unroll 8
	for (int k = 0; k < n; k++) {
		memcpy(c[k], act[k]->c, sizeof c[k]);
		if (ramp)
			memcpy(dc[k], act[k]->dc, sizeof dc[k]);
		s1[k] = act[k]->ic1[grp];
		s2[k] = act[k]->ic2[grp];
	}
	for (uint32_t i = 0; i < len; i++) {
		v4f v = x[i];
#pragma GCC unroll 8
		for (int k = 0; k < n; k++) {
			if (ramp)
				for (int j = 0; j < EQ_NCOEF; j++)
					c[k][j] += dc[k][j];
			v4f v3 = v - s2[k];
			v4f n1 = c[k][C_A1] * s1[k] + c[k][C_A2] * v3;
			v4f n2 = s2[k] + (c[k][C_A2] * s1[k] + c[k][C_A3] * v3);
			v4f sum1 = n1 + s1[k], sum2 = n2 + s2[k];
			s1[k] = n1;
			s2[k] = n2;
			if (bell)
				v = v + c[k][C_M1] * sum1;
			else
				v = c[k][C_M0] * v + c[k][C_M1] * sum1 + c[k][C_M2] * sum2;
		}
		x[i] = eq_limit(v);
	}
#pragma GCC unroll 8
	for (int k = 0; k < n; k++) {
		if (ramp && last)   /* every lane group replays the same ramp */
			memcpy(act[k]->c, c[k], sizeof c[k]);
		act[k]->ic1[grp] = s1[k];
		act[k]->ic2[grp] = s2[k];
	}
}

/* Dispatch to the loop specialised for n sections. RT */
static inline __attribute__((always_inline)) void
eq_run_sections(struct section *const *act, int n, bool bell, bool ramp, int grp,
			    bool last, v4f *restrict x, uint32_t len)
{
	if (ramp) {
		/* gliding: one section at a time (the ramps do not fit in
		 * registers anyway); only while a parameter moves */
		for (int k = 0; k < n; k++) {
			if (bell)
				eq_kernel(act + k, 1, true, true, grp, last, x, len);
			else
				eq_kernel(act + k, 1, false, true, grp, last, x, len);
		}
		return;
	}
	if (!bell) {
		/* shelves and passes: one section, or the 24 dB pair */
		if (n == 2)
			eq_kernel(act, 2, false, false, grp, last, x, len);
		else
			for (int k = 0; k < n; k++)
				eq_kernel(act + k, 1, false, false, grp, last, x, len);
		return;
	}
	/* more than four sections at once run out of vector registers
	 * (16 on x86-64): the states would spill and lengthen the
	 * loop-carried chain, so long cascades go in passes of four */
	for (int k = 0; k < n; k += 4) {
		switch (n - k) {
		case 1: eq_kernel(act + k, 1, true, false, grp, last, x, len); break;
		case 2: eq_kernel(act + k, 2, true, false, grp, last, x, len); break;
		case 3: eq_kernel(act + k, 3, true, false, grp, last, x, len); break;
		default: eq_kernel(act + k, 4, true, false, grp, last, x, len); break;
		}
	}
}

/* Channels [4 grp, 4 grp + 4) of frames [off, off + len) into x, one
 * frame per vector; lanes without a channel carry silence. RT */
static inline __attribute__((always_inline)) void
eq_interleave(const struct eq *e, float *const *buf, int grp,
			  uint32_t off, uint32_t len, v4f *restrict x)
{
	int c0 = grp * EQ_LANES;
	int lanes = e->channels - c0 < EQ_LANES ? e->channels - c0 : EQ_LANES;
	const float *restrict p0 = buf[c0] + off;
	const float *restrict p1 = lanes > 1 ? buf[c0 + 1] + off : p0;
	const float *restrict p2 = lanes > 2 ? buf[c0 + 2] + off : p0;
	const float *restrict p3 = lanes > 3 ? buf[c0 + 3] + off : p0;
	switch (lanes) {
	case 1:
		for (uint32_t i = 0; i < len; i++)
			x[i] = (v4f){p0[i], 0.0f, 0.0f, 0.0f};
		break;
	case 2:
		for (uint32_t i = 0; i < len; i++)
			x[i] = (v4f){p0[i], p1[i], 0.0f, 0.0f};
		break;
	case 3:
		for (uint32_t i = 0; i < len; i++)
			x[i] = (v4f){p0[i], p1[i], p2[i], 0.0f};
		break;
	default:
		for (uint32_t i = 0; i < len; i++)
			x[i] = (v4f){p0[i], p1[i], p2[i], p3[i]};
		break;
	}
}

/* The inverse of eq_interleave. RT */
static inline __attribute__((always_inline)) void
eq_deinterleave(const struct eq *e, float *const *buf, int grp,
			    uint32_t off, uint32_t len, const v4f *restrict x)
{
	int c0 = grp * EQ_LANES;
	int lanes = e->channels - c0 < EQ_LANES ? e->channels - c0 : EQ_LANES;
	for (int c = 0; c < lanes; c++) {
		float *restrict out = buf[c0 + c] + off;
		for (uint32_t i = 0; i < len; i++)
			out[i] = x[i][c];
	}
}

/* Frames [off, off + len) (len <= EQ_SEG) with the current coefficients. RT */
static inline __attribute__((always_inline)) void
eq_run(struct eq *e, float *const *buf, uint32_t off, uint32_t len)
{
	struct section *act[EQ_MAX_SECTIONS];
	int n = 0;
	bool fade = false;
	if (e->passes) {
		fade = e->mix.left != 0;
		if (!fade && e->mix.cur == 0.0f)
			act[n++] = &e->sec[0];
		else if (!fade) {
			act[n++] = &e->sec[1];
			act[n++] = &e->sec[2];
		}
	} else {
		for (int i = 0; i < e->nsec; i++)
			if (e->sec[i].on)
				act[n++] = &e->sec[i];
		if (n == 0)
			return;      /* every band at 0 dB: the identity */
	}
	bool bell = !e->passes && e->sec[0].kind == SEC_BELL;
	bool ramp = e->busy;
	for (int grp = 0; grp < e->groups; grp++) {
		bool last = grp == e->groups - 1;
		v4f *x = e->scratch[0];
		eq_interleave(e, buf, grp, off, len, x);
		if (!fade) {
			eq_run_sections(act, n, bell, ramp, grp, last, x, len);
		} else {
			/* both chains, mixed by a per-frame ramp; every group
			 * replays the same ramp, the last one keeps it */
			v4f *y = e->scratch[1];
			memcpy(y, x, len * sizeof *x);
			struct section *chain24[2] = {&e->sec[1], &e->sec[2]};
			struct section *chain12 = &e->sec[0];
			eq_run_sections(&chain12, 1, false, ramp, grp, last, x, len);
			eq_run_sections(chain24, 2, false, ramp, grp, last, y, len);
			struct glide mix = e->mix;
			for (uint32_t i = 0; i < len; i++) {
				glide_next(&mix);
				/* smoothstep: the fade starts and ends with zero
				 * slope; w = 0 and 1 give exactly x and y, so the
				 * end of a fade is the same wherever a block ends */
				float t = mix.cur, w = t * t * (3.0f - 2.0f * t);
				x[i] = splat(1.0f - w) * x[i] + splat(w) * y[i];
			}
			if (last)
				e->mix = mix;
		}
		eq_deinterleave(e, buf, grp, off, len, x);
	}
}

/* Zero states too small to matter before they turn denormal. Runs on
 * absolute frame time, so it does not depend on the block size. RT */
static void eq_flush(struct eq *e)
{
	for (int i = 0; i < e->nsec; i++) {
		struct section *s = &e->sec[i];
		for (int grp = 0; grp < e->groups; grp++)
			for (int j = 0; j < EQ_LANES; j++) {
				if (fabsf(s->ic1[grp][j]) < EQ_TINY)
					s->ic1[grp][j] = 0.0f;
				if (fabsf(s->ic2[grp][j]) < EQ_TINY)
					s->ic2[grp][j] = 0.0f;
			}
	}
}

/* Forget the filter states. RT */
static void eq_clear_states(struct eq *e)
{
	for (int i = 0; i < e->nsec; i++) {
		memset(e->sec[i].ic1, 0, sizeof e->sec[i].ic1);
		memset(e->sec[i].ic2, 0, sizeof e->sec[i].ic2);
	}
}

/* Whether every state is finite and below EQ_HUGE: false only after
 * absurd input, which would otherwise take seconds to decay. RT */
static bool eq_states_sane(const struct eq *e)
{
	bool ok = true;
	for (int i = 0; i < e->nsec; i++)
		for (int grp = 0; grp < e->groups; grp++)
			for (int j = 0; j < EQ_LANES; j++)
				ok &= fabsf(e->sec[i].ic1[grp][j]) <= EQ_HUGE &&
				      fabsf(e->sec[i].ic2[grp][j]) <= EQ_HUGE;   /* NaN fails */
	return ok;
}

/* The body of eq_process, inlined into a copy per instruction set. RT */
static inline __attribute__((always_inline)) void
eq_process_body(struct eq *e, float *const *buf, uint32_t n)
{
	uint32_t off = 0;
	while (off < n) {
		/* smoothers step on a grid of absolute time, so the result does
		 * not depend on where the host's blocks end */
		if (e->busy && e->clock % EQ_GRID == 0)
			eq_step(e);
		uint32_t len = e->busy ? EQ_GRID - e->clock % EQ_GRID : EQ_SEG - e->clock;
		if (len > n - off)
			len = n - off;
		eq_run(e, buf, off, len);
		off += len;
		e->clock += len;
		if (e->clock == EQ_SEG) {
			e->clock = 0;
			if (eq_states_sane(e))
				eq_flush(e);
			else
				eq_clear_states(e);   /* the output never left +-EQ_HUGE */
		}
	}
	if (n > 0)
		e->fresh = false;
}

/* eq_process for any CPU. RT */
static void eq_process_base(struct eq *e, float *const *buf, uint32_t n)
{
	eq_process_body(e, buf, n);
}

#ifdef EQ_X86
/* The same with AVX2 and FMA: the same loops, each multiply-add fused
 * (shorter dependency chains through the states). RT */
__attribute__((target("avx2,fma"))) static void eq_process_fma(struct eq *e, float *const *buf,
								uint32_t n)
{
	eq_process_body(e, buf, n);
}
#endif

/* fx_type.process for every EQ type. RT */
static void eq_process(void *fx, float *const *buf, uint32_t n)
{
	struct eq *e = fx;
#ifdef EQ_X86
	if (e->fma) {
		eq_process_fma(e, buf, n);
		return;
	}
#endif
	eq_process_base(e, buf, n);
}

/* fx_type.reset: states cleared, smoothers landed; the next settings apply
 * at once. RT */
static void eq_reset(void *fx)
{
	struct eq *e = fx;
	eq_clear_states(e);
	for (int i = 0; i < e->nsec; i++) {
		struct section *s = &e->sec[i];
		smoother_set(&s->freq, s->freq.target, true);
		smoother_set(&s->gain, s->gain.target, true);
		smoother_set(&s->q, s->q.target, true);
		section_jump(s, e->rate);
		section_update_on(s);
	}
	glide_set(&e->mix, e->mix.target, 0);
	e->busy = false;
	e->fresh = true;
	e->clock = 0;
}

/* Move one parameter of section s to `target` (at once while fresh). RT */
static void eq_glide_to(struct eq *e, struct section *s, struct smoother *g, float target)
{
	if (target == g->target)
		return;
	smoother_set(g, target, e->fresh);
	if (e->fresh)
		section_jump(s, e->rate);
	section_update_on(s);
	if (g->moving)
		e->busy = true;
}

/* Whether this CPU runs the AVX2 + FMA copy of the loops, unless
 * CL_FX_SIMD=baseline asks for the portable one (the unit test runs
 * both). Not RT. */
static bool eq_cpu_has_fma(void)
{
	const char *want = getenv("CL_FX_SIMD");
	if (want && strcmp(want, "baseline") == 0)
		return false;
#ifdef EQ_X86
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

/* An instance with nsec sections of `kind`, all at 1 kHz, 0 dB, Q 1. Not RT. */
static struct eq *eq_new(uint32_t rate, int channels, int nsec, enum section_kind kind)
{
	if (rate < 1000 || rate > 1536000 || channels < 1 || channels > FX_MAX_CHANNELS)
		return NULL;
	struct eq *e = aligned_alloc(64, (sizeof *e + 63) / 64 * 64);
	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof *e);
	e->rate = rate;
	e->channels = channels;
	e->groups = (channels + EQ_LANES - 1) / EQ_LANES;
	e->nsec = nsec;
	e->fresh = true;
	e->fma = eq_cpu_has_fma();
	e->glide_k = (float)(1.0 - exp(-(double)EQ_GRID / (EQ_GLIDE_TAU_S * rate)));
	e->fade_frames = (uint32_t)lround(EQ_FADE_S * rate);
	for (int i = 0; i < nsec; i++) {
		struct section *s = &e->sec[i];
		s->kind = kind;
		s->q_mul = 1.0f;
		smoother_set(&s->freq, log2f(1000.0f), true);
		section_jump(s, rate);
		section_update_on(s);
	}
	return e;
}

/* fx_type.destroy for every EQ type. Not RT. */
static void eq_destroy(void *fx)
{
	free(fx);
}

/* Set every parameter of a fresh instance to its default. Not RT. */
static void *eq_defaults(struct eq *e, const struct fx_type *t)
{
	if (e == NULL)
		return NULL;
	for (int i = 0; i < t->nparams; i++)
		t->set(e, i, t->params[i].def);
	return e;
}

/* ---- parametric EQ ---------------------------------------------------- */

#define PEQ_BANDS 8
#define PEQ_BAND(n, f)                                                              \
	{"freq" #n, "Hz", 20.0f, 20000.0f, f, FX_LOG, "band " #n " centre frequency"}, \
	{"gain" #n, "dB", -24.0f, 24.0f, 0.0f, FX_LINEAR,                            \
	 "band " #n " gain at the centre (0 = band off)"},                            \
	{"q" #n, "", 0.1f, 18.0f, 1.0f, FX_LOG,                                       \
	 "band " #n " Q (RBJ peaking; 1 = about 1.4 octaves between the half-gain points)"}

static const struct fx_param peq_params[3 * PEQ_BANDS] = {
	PEQ_BAND(1, 100.0f), PEQ_BAND(2, 250.0f), PEQ_BAND(3, 500.0f),
	PEQ_BAND(4, 1000.0f), PEQ_BAND(5, 2000.0f), PEQ_BAND(6, 4000.0f),
	PEQ_BAND(7, 8000.0f), PEQ_BAND(8, 12000.0f),
};

/* fx_type.set: parameter 3 b + {0 freq, 1 gain, 2 q} of band b. RT */
static void peq_set(void *fx, int i, float value)
{
	struct eq *e = fx;
	if (i < 0 || i >= 3 * PEQ_BANDS)
		return;
	struct section *s = &e->sec[i / 3];
	switch (i % 3) {
	case 0: eq_glide_to(e, s, &s->freq, log2f(value)); break;
	case 1: eq_glide_to(e, s, &s->gain, value); break;
	default: eq_glide_to(e, s, &s->q, log2f(value)); break;
	}
}

/* fx_type.create for peq. Not RT. */
static void *peq_create(uint32_t rate, int channels)
{
	return eq_defaults(eq_new(rate, channels, PEQ_BANDS, SEC_BELL), &fx_peq);
}

const struct fx_type fx_peq = {
	.id = "peq",
	.doc = "parametric EQ: 8 peaking bands (RBJ shape, TPT state-variable filters)",
	.params = peq_params,
	.nparams = 3 * PEQ_BANDS,
	.max_channels = FX_MAX_CHANNELS,
	.create = peq_create,
	.destroy = eq_destroy,
	.set = peq_set,
	.reset = eq_reset,
	.process = eq_process,
};

/* ---- shelves ---------------------------------------------------------- */

static const struct fx_param lowshelf_params[] = {
	{"freq", "Hz", 20.0f, 20000.0f, 100.0f, FX_LOG,
	 "corner frequency, where the boost or cut is half its dB value"},
	{"gain", "dB", -24.0f, 24.0f, 0.0f, FX_LINEAR, "gain below the corner (0 = off)"},
	{"q", "", 0.1f, 4.0f, EQ_BW2_Q, FX_LOG,
	 "shelf Q (RBJ; 0.7071 = steepest without overshoot, higher adds a bump and a dip)"},
};

static const struct fx_param highshelf_params[] = {
	{"freq", "Hz", 20.0f, 20000.0f, 8000.0f, FX_LOG,
	 "corner frequency, where the boost or cut is half its dB value"},
	{"gain", "dB", -24.0f, 24.0f, 0.0f, FX_LINEAR, "gain above the corner (0 = off)"},
	{"q", "", 0.1f, 4.0f, EQ_BW2_Q, FX_LOG,
	 "shelf Q (RBJ; 0.7071 = steepest without overshoot, higher adds a bump and a dip)"},
};

/* fx_type.set for the shelves: 0 freq, 1 gain, 2 q. RT */
static void shelf_set(void *fx, int i, float value)
{
	struct eq *e = fx;
	struct section *s = &e->sec[0];
	switch (i) {
	case 0: eq_glide_to(e, s, &s->freq, log2f(value)); break;
	case 1: eq_glide_to(e, s, &s->gain, value); break;
	case 2: eq_glide_to(e, s, &s->q, log2f(value)); break;
	default: break;
	}
}

/* fx_type.create for lowshelf. Not RT. */
static void *lowshelf_create(uint32_t rate, int channels)
{
	return eq_defaults(eq_new(rate, channels, 1, SEC_LOWSHELF), &fx_lowshelf);
}

/* fx_type.create for highshelf. Not RT. */
static void *highshelf_create(uint32_t rate, int channels)
{
	return eq_defaults(eq_new(rate, channels, 1, SEC_HIGHSHELF), &fx_highshelf);
}

const struct fx_type fx_lowshelf = {
	.id = "lowshelf",
	.doc = "low shelf (RBJ shape, TPT state-variable filter)",
	.params = lowshelf_params,
	.nparams = 3,
	.max_channels = FX_MAX_CHANNELS,
	.create = lowshelf_create,
	.destroy = eq_destroy,
	.set = shelf_set,
	.reset = eq_reset,
	.process = eq_process,
};

const struct fx_type fx_highshelf = {
	.id = "highshelf",
	.doc = "high shelf (RBJ shape, TPT state-variable filter)",
	.params = highshelf_params,
	.nparams = 3,
	.max_channels = FX_MAX_CHANNELS,
	.create = highshelf_create,
	.destroy = eq_destroy,
	.set = shelf_set,
	.reset = eq_reset,
	.process = eq_process,
};

/* ---- high-pass and low-pass ------------------------------------------- */

#define PASS_PARAMS(f, what)                                                        \
	{"freq", "Hz", 20.0f, 20000.0f, f, FX_LOG, "corner frequency (-3 dB at q 0.7071)"}, \
	{"q", "", 0.1f, 10.0f, EQ_BW2_Q, FX_LOG,                                    \
	 "resonance; 0.7071 = Butterworth (at 24 dB/oct it scales the resonant section)"}, \
	{"slope", "", 0.0f, 1.0f, 0.0f, FX_CHOICE, "0 = 12 dB/oct, 1 = 24 dB/oct " what}

static const struct fx_param highpass_params[] = {PASS_PARAMS(80.0f, "below the corner")};
static const struct fx_param lowpass_params[] = {PASS_PARAMS(12000.0f, "above the corner")};

/* fx_type.set for the passes: 0 freq, 1 q, 2 slope. RT */
static void pass_set(void *fx, int i, float value)
{
	struct eq *e = fx;
	switch (i) {
	case 0:
		for (int k = 0; k < 3; k++)
			eq_glide_to(e, &e->sec[k], &e->sec[k].freq, log2f(value));
		break;
	case 1:
		/* the 12 dB section and the resonant 24 dB one follow q */
		eq_glide_to(e, &e->sec[0], &e->sec[0].q, log2f(value));
		eq_glide_to(e, &e->sec[2], &e->sec[2].q, log2f(value));
		break;
	case 2: {
		int slope = value >= 0.5f;
		if (slope == e->slope)
			return;
		e->slope = slope;
		if (e->fresh) {
			glide_set(&e->mix, (float)slope, 0);
			return;
		}
		if (e->mix.left == 0) {
			/* the chain faded in was idle: it starts from rest */
			for (int k = slope ? 1 : 0; k < (slope ? 3 : 1); k++) {
				memset(e->sec[k].ic1, 0, sizeof e->sec[k].ic1);
				memset(e->sec[k].ic2, 0, sizeof e->sec[k].ic2);
			}
		}
		glide_set(&e->mix, (float)slope, e->fade_frames);
		e->busy = true;
		break;
	}
	default:
		break;
	}
}

/* A pass instance: the 12 dB section and the 24 dB pair. Not RT. */
static void *pass_create(uint32_t rate, int channels, enum section_kind kind,
			 const struct fx_type *t)
{
	struct eq *e = eq_new(rate, channels, 3, kind);
	if (e == NULL)
		return NULL;
	e->passes = true;
	e->sec[1].q_mul = EQ_BW4_Q1;
	e->sec[2].q_mul = EQ_BW4_Q2 / EQ_BW2_Q;
	section_jump(&e->sec[1], e->rate);
	section_jump(&e->sec[2], e->rate);
	return eq_defaults(e, t);
}

/* fx_type.create for highpass. Not RT. */
static void *highpass_create(uint32_t rate, int channels)
{
	return pass_create(rate, channels, SEC_HIGHPASS, &fx_highpass);
}

/* fx_type.create for lowpass. Not RT. */
static void *lowpass_create(uint32_t rate, int channels)
{
	return pass_create(rate, channels, SEC_LOWPASS, &fx_lowpass);
}

const struct fx_type fx_highpass = {
	.id = "highpass",
	.doc = "high-pass, 12 or 24 dB/oct (TPT state-variable filters)",
	.params = highpass_params,
	.nparams = 3,
	.max_channels = FX_MAX_CHANNELS,
	.create = highpass_create,
	.destroy = eq_destroy,
	.set = pass_set,
	.reset = eq_reset,
	.process = eq_process,
};

const struct fx_type fx_lowpass = {
	.id = "lowpass",
	.doc = "low-pass, 12 or 24 dB/oct (TPT state-variable filters)",
	.params = lowpass_params,
	.nparams = 3,
	.max_channels = FX_MAX_CHANNELS,
	.create = lowpass_create,
	.destroy = eq_destroy,
	.set = pass_set,
	.reset = eq_reset,
	.process = eq_process,
};
