/*
 * The nonlinear effects of cl-fx: saturation (tanh-style soft clip),
 * distortion (hard clip, symmetric or asymmetric, with a tone low-pass)
 * and waveshaper (a curve from Chebyshev weights).
 *
 * Shape of every type: the input, times the drive, is shaped by a static
 * curve f that is constant outside a clamp range ([-1, 1], or [lo, hi]
 * for the asymmetric clipper), then mixed with the dry signal:
 *   out = (1 - mix) * dry + mix * output * post(f(drive * in)).
 * The output gain trims the processed signal only, so mix 0 is the dry
 * signal exactly (delayed by the latency) whatever the other settings.
 *
 * Aliasing. A curve applied at 48 kHz folds its harmonics back into the
 * audio band; a hard clip at high drive is a square wave whose harmonics
 * fall only as 1/n, so oversampling alone would need an absurd factor.
 * Two measures combine:
 * - 4x oversampling: two polyphase half-band FIR stages up (48 -> 96 ->
 *   192 kHz) and the same two down. Kaiser-windowed half-band sinc taps:
 *   every other tap is zero, so each stage is one FIR branch plus a pure
 *   delay branch, run at the lower rate. Stage 1 has 63 taps (32 in the
 *   branch): pass 0..20 kHz within 0.0005 dB, stop from 28 kHz (at 48
 *   kHz in) 84 dB down; stage 2 has 23 taps (12): pass 0..28 kHz within
 *   0.001 dB, stop from 68 kHz 78 dB down. The filters are linear phase,
 *   so the round trip is a pure delay, and the dry path is matched by a
 *   plain delay line: mix does not comb.
 * - first-order antiderivative anti-aliasing (ADAA; Parker, Zavalishin &
 *   Le Bivic, DAFx 2016; Bilbao, Esqueda, Parker & Valimaki, IEEE SPL
 *   2017) at the 4x rate: each output sample is the mean of f over the
 *   straight line between two input samples, (F(x1) - F(x0)) / (x1 - x0)
 *   with F' = f. That is a box filter in continuous time before the
 *   sampling, so a harmonic landing near a multiple of the oversampled
 *   rate is cut by sinc(): the alias of harmonic n falls as 1/n^2
 *   instead of 1/n. For a straight curve the mean is the two-point mean,
 *   a gentle low-pass (-0.48 dB at 20 kHz) that a 4-tap FIR undoes
 *   (flatten()): the processed path is flat within 0.02 dB from 20 Hz to
 *   20 kHz, and the pair delays by exactly 2 oversampled samples.
 * The decimators keep the phase (odd or even samples) that makes the
 * whole delay a whole number of frames: latency() is 37 frames at any
 * rate, and wet and dry line up exactly (mix 50% at drive 0 is within
 * 0.01 dB of unity up to 10 kHz in the test).
 * The unit test measures the worst component from 20 Hz to 5 kHz of a
 * 10 kHz sine at full drive: -71 dB under the fundamental for the
 * saturation, -68 dB for the hard clip, -78 dB for the waveshaper's
 * default curve (the same curves run at 48 kHz: -15 dB). SAT_STAGES 3
 * (8x, 38 frames of latency) measures -94, -84 and -97 dB at 1.75 times
 * the cost.
 *
 * ADAA numerics. F(x1) - F(x0) cancels badly in float when x1 is close
 * to x0, so it is never formed: inside the clamp range the curve is a
 * polynomial and the divided difference D(u0, u1) = (G(u1) - G(u0)) /
 * (u1 - u0) of its antiderivative G is expanded into a polynomial in
 * u0 + u1 and u0 u1 (complete homogeneous symmetric polynomials), which
 * needs no division; beyond the range F is linear, and the parts beyond
 * it enter as f(edge) * (overshoot difference), so two samples deep in
 * the same clip give the clip level exactly. What remains is one
 * division by x1 - x0 (it matters only where the line crosses an edge),
 * done as a reciprocal estimate and one Newton step (23 bits).
 *
 * Curves (v is the driven input, in the units of the clamp range):
 * - saturation: f(v) = 2.6825 v - 5.385 v^3 + 7.935 v^5 - 5.945 v^7 +
 *   1.7125 v^9 on [-1, 1], +-1 beyond, applied to v = x / 2.6825 so that
 *   f has slope 1 at 0 like tanh(x). It meets +-1 with zero first and
 *   second derivatives at |x| = 2.6825, and |f - tanh(x)| <= 0.0114 for
 *   every x (worst near x = 0.91); found by a minimax search under those
 *   constraints. No level compensation: the small-signal gain is the
 *   drive, the output never exceeds 1 before the output gain.
 * - distortion: f(v) = v clamped to [lo, hi], lo = -(1 - a) for
 *   asymmetry a > 0, hi = 1 - |a| for a < 0 (a = 1 is a half-wave
 *   rectifier clipped at 1). Unequal thresholds give even harmonics while
 *   the signal spends different times clipped on each side; at extreme
 *   drive the output tends to a 50% duty rectangle whose even harmonics
 *   vanish, as with real asymmetric diode clippers. Then a one-pole TPT
 *   low-pass (tone) and a 5 Hz DC blocker, both at the base rate.
 * - waveshaper: f(v) = sum h_k (T_k(v) - T_k(0)) / max(1, sum |h_k|) on
 *   [-1, 1] (the clamped input), k = 1..6, Chebyshev polynomials T_k, so
 *   a full-scale sine of f gives harmonic k with weight h_k. T_k(0) is
 *   taken off so silence stays silent, the sum is normalised so the curve
 *   stays within [-2, 2], and a 5 Hz DC blocker removes the offset that
 *   even terms make. A curve given as points is not offered: a point list
 *   is not a scalar parameter of this interface.
 *
 * Smoothing: drive, the wet gain (mix * output), the dry gain (1 - mix)
 * and the tone coefficient glide per frame with a one-pole of 10 ms; the
 * curve (clip thresholds, waveshaper coefficients) glides per frame the
 * same way and the oversampled kernel then takes one coefficient set per
 * frame. In the steady state nothing is recomputed and the kernels use
 * constant coefficients. Right after create() or reset() settings apply
 * at once (there is no audio yet to click). Everything is per frame, so
 * the output does not depend on how the host cuts the signal into blocks
 * (bit-identical).
 *
 * Speed: per channel, the block is processed in chunks of at most
 * SAT_CHUNK frames through scratch buffers that carry the filter
 * histories; FIRs compute four or sixteen outputs at once with GCC vector
 * extensions (taps broadcast, sums in tap order, so the scalar tail gives
 * the same bits); the kernels run four oversampled samples (one frame)
 * per vector, branch-free.
 *
 * Safety: the driven input is held within +-1e5 (NaN becomes -1e5) before
 * the filters, so the oversampled path stays finite and its output within
 * the curve's range. Chunks end on a grid of SAT_CHUNK frames of absolute
 * time, where the one-pole states are reset if not finite and flushed
 * below 1e-20 (no denormals linger), the same whatever the host's blocks.
 */
#include "effect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE__
#include <xmmintrin.h>
#endif

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

#define SAT_STAGES 2                      /* half-band stages: 4x */
#define SAT_OS (1 << SAT_STAGES)
#define SAT_CHUNK 64                      /* frames per pass through the scratch */
#define SAT_MAX_TAPS 32                   /* longest FIR branch */
#define SAT_HIST (SAT_MAX_TAPS - 1)
#define SAT_STAGE_LEN (SAT_HIST + (SAT_CHUNK << (SAT_STAGES - 1)))
#define SAT_MAX_LATENCY 64
#define SAT_GLIDE_S 0.010                 /* one-pole time constant of every glide */
#define SAT_DC_HZ 5.0                     /* DC blocker corner */
#define SAT_LIMIT 1e5f                    /* driven input held within +-this */
#define SAT_TINY 1e-20f                   /* one-pole states flushed below this */
#define SAT_NCURVE 8                      /* curve coefficients per frame */
#if SAT_STAGES == 2
#define SAT_FLAT_B 0.1367f                /* see flatten() */
#else
#define SAT_FLAT_B 0.1278f
#endif
#define SAT_KERNEL_DELAY 2                /* oversampled samples: ADAA mean + flatten() */

/* The half-band stages, first (base rate <-> 2x) to last: taps of the
 * FIR branch (a multiple of 4; the full filter has 2 taps - 1) and the
 * Kaiser beta that gives the stop band quoted above. The third stage is
 * used only with SAT_STAGES 3 (8x: pass 0..28 kHz, stop from 164 kHz 86
 * dB down). */
static const int hb_branch[3] = {32, 12, 8};
static const double hb_beta[3] = {8.35, 7.90, 8.85};

/* The saturation polynomial: f(v) = sum sat_c[j] v^(2j+1), v = x / SAT_A. */
#define SAT_A 2.6825
static const double sat_c[5] = {2.6825, -5.385, 7.935, -5.945, 1.7125};

/* Chebyshev polynomials T1..T6 in the power basis, cheb[k-1][j] = the
 * coefficient of v^j in T_k (j = 0..6). */
static const double cheb[6][7] = {
	{0, 1, 0, 0, 0, 0, 0},
	{-1, 0, 2, 0, 0, 0, 0},
	{0, -3, 0, 4, 0, 0, 0},
	{1, 0, -8, 0, 8, 0, 0},
	{0, 5, 0, -20, 0, 16, 0},
	{-1, 0, 18, 0, -48, 0, 32},
};

enum shaper_kind { KIND_SATURATION, KIND_DISTORTION, KIND_WAVESHAPER };

/* Parameter indices of each type. */
enum { SAT_DRIVE, SAT_MIX, SAT_OUTPUT };
enum { DIST_DRIVE, DIST_ASYM, DIST_TONE, DIST_MIX, DIST_OUTPUT };
enum { WS_DRIVE, WS_H1, WS_H6 = WS_H1 + 5, WS_MIX, WS_OUTPUT };

struct halfband {
	int taps;                     /* FIR branch length, a multiple of 4 */
	int phase;                    /* decimator keeps odd (1) or even (0) samples */
	float g[SAT_MAX_TAPS];
	v4f gv[SAT_MAX_TAPS];         /* the same, broadcast */
};

/* Per channel: stage histories sit in front of each scratch buffer. */
struct shaper_channel {
	float up[SAT_STAGES][SAT_STAGE_LEN];     /* upsampler inputs */
	float ev[SAT_STAGES][SAT_STAGE_LEN];     /* decimator inputs, even samples */
	float od[SAT_STAGES][SAT_STAGE_LEN];     /* and odd samples */
	/* the oversampled signal into the kernel and (flattened) out of it,
	 * and the kernel's raw output; element 0 of each holds the end of
	 * the previous chunk */
	v4f xs[1 + SAT_CHUNK * SAT_OS / 4];
	v4f ys[1 + SAT_CHUNK * SAT_OS / 4];
	float dry[SAT_MAX_LATENCY + SAT_CHUNK];  /* the delay that matches the wet path */
	float wet[SAT_CHUNK];
	float tone_s, dc_x, dc_y;                /* one-pole states */
};

/* A smoothed value: `cur` glides toward `target` by a one-pole per frame. */
struct glide {
	float cur, target;
};

struct shaper {
	enum shaper_kind kind;
	const struct fx_type *type;
	int channels;
	double rate;
	bool fresh;                   /* nothing processed since create/reset */
	uint32_t clock;               /* absolute frame time mod SAT_CHUNK */
	uint32_t latency;
	float glide_k;                /* one-pole coefficient per frame */
	float dc_r;                   /* DC blocker pole */
	float param[FX_MAX_PARAMS];
	struct halfband hb[SAT_STAGES];
	struct glide drive, wet, dry, tone;
	struct glide curve[SAT_NCURVE];
	/* per-frame values of a chunk (tone and curve: only while they glide) */
	float drive_ramp[SAT_CHUNK], wet_ramp[SAT_CHUNK], dry_ramp[SAT_CHUNK], tone_ramp[SAT_CHUNK];
	float curve_ramp[SAT_CHUNK][SAT_NCURVE];
	struct shaper_channel ch[];
};

/* ---- oversampling ------------------------------------------------------- */

/* Modified Bessel function I0, by its series (enough terms for beta < 20). */
static double bessel_i0(double x)
{
	double sum = 1.0, term = 1.0;
	for (int k = 1; k < 60; k++) {
		term *= x / (2.0 * k);
		sum += term * term;
	}
	return sum;
}

/* The FIR branch of a Kaiser-windowed half-band low-pass with `taps`
 * branch taps: twice the windowed sinc at the odd offsets from the
 * centre (the even offsets are zero but the centre, 1/2, which becomes
 * the delay branch). Not RT. */
static void halfband_design(struct halfband *hb, int taps, double beta)
{
	hb->taps = taps;
	for (int i = 0; i < taps; i++) {
		int m = abs(taps - 1 - 2 * i);
		double r = (double)m / taps;
		double window = bessel_i0(beta * sqrt(1.0 - r * r)) / bessel_i0(beta);
		float g = (float)(2.0 * sin(M_PI * m / 2.0) / (M_PI * m) * window);
		hb->g[i] = g;
		hb->gv[i] = (v4f){g, g, g, g};
	}
}

/* x in every lane. */
static inline v4f splat(float x)
{
	return (v4f){x, x, x, x};
}

/* Four floats from p, aligned or not. */
static inline v4f load4(const float *p)
{
	v4f v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* Four floats to p, aligned or not. */
static inline void store4(float *p, v4f v)
{
	memcpy(p, &v, sizeof v);
}

/* y[i] = sum_j g[j] x[i + j] for i < n, summed in tap order in every
 * path so that the result does not depend on n. RT */
static void fir_run(const struct halfband *hb, const float *restrict x, float *restrict y, int n)
{
	const int taps = hb->taps;
	const v4f *gv = hb->gv;
	int i = 0;
	for (; i + 16 <= n; i += 16) {
		v4f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
		for (int j = 0; j < taps; j++) {
			const float *p = x + i + j;
			a0 += gv[j] * load4(p);
			a1 += gv[j] * load4(p + 4);
			a2 += gv[j] * load4(p + 8);
			a3 += gv[j] * load4(p + 12);
		}
		store4(y + i, a0);
		store4(y + i + 4, a1);
		store4(y + i + 8, a2);
		store4(y + i + 12, a3);
	}
	for (; i + 4 <= n; i += 4) {
		v4f a0 = {0};
		for (int j = 0; j < taps; j++)
			a0 += gv[j] * load4(x + i + j);
		store4(y + i, a0);
	}
	for (; i < n; i++) {
		float a = 0.0f;
		for (int j = 0; j < taps; j++)
			a += hb->g[j] * x[i + j];
		y[i] = a;
	}
}

/* Upsample by 2: the n inputs sit in buf after the history (taps - 1
 * samples); 2n outputs go to out. The even outputs are the FIR branch,
 * the odd ones the input delayed to the filter's centre. RT */
static void halfband_up(const struct halfband *hb, float *restrict buf, float *restrict out, int n)
{
	float fir[SAT_CHUNK << (SAT_STAGES - 1)];
	const int hist = hb->taps - 1, centre = hb->taps / 2;
	fir_run(hb, buf, fir, n);
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f a = load4(fir + i), b = load4(buf + i + centre);
		store4(out + 2 * i, __builtin_shufflevector(a, b, 0, 4, 1, 5));
		store4(out + 2 * i + 4, __builtin_shufflevector(a, b, 2, 6, 3, 7));
	}
	for (; i < n; i++) {
		out[2 * i] = fir[i];
		out[2 * i + 1] = buf[i + centre];
	}
	memmove(buf, buf + n, (size_t)hist * sizeof *buf);
}

/* Decimate by 2: 2n inputs in, n outputs out; ev and od keep the
 * histories of the even and odd input samples. One phase is the FIR
 * branch, the other the centre tap. RT */
static void halfband_down(const struct halfband *hb, float *restrict ev, float *restrict od,
			  const float *restrict in, float *restrict out, int n)
{
	float fir[SAT_CHUNK << (SAT_STAGES - 1)];
	const int hist = hb->taps - 1, centre = hb->taps / 2;
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		v4f a = load4(in + 2 * i), b = load4(in + 2 * i + 4);
		store4(ev + hist + i, __builtin_shufflevector(a, b, 0, 2, 4, 6));
		store4(od + hist + i, __builtin_shufflevector(a, b, 1, 3, 5, 7));
	}
	for (; i < n; i++) {
		ev[hist + i] = in[2 * i];
		od[hist + i] = in[2 * i + 1];
	}
	/* phase 0: y[i] = (branch over even samples + odd sample at the
	 * centre) / 2; phase 1 keeps the odd outputs instead, one
	 * oversampled sample earlier */
	const float *branch = hb->phase ? od : ev;
	const float *mid = hb->phase ? ev + centre : od + centre - 1;
	fir_run(hb, branch, fir, n);
	for (i = 0; i + 4 <= n; i += 4)
		store4(out + i, splat(0.5f) * (load4(fir + i) + load4(mid + i)));
	for (; i < n; i++)
		out[i] = 0.5f * (fir[i] + mid[i]);
	memmove(ev, ev + n, (size_t)hist * sizeof *ev);
	memmove(od, od + n, (size_t)hist * sizeof *od);
}

/* ---- the curves at the oversampled rate ---------------------------------- */

/* The bit pattern x in every lane. */
static inline v4i splat_bits(int32_t x)
{
	return (v4i){x, x, x, x};
}

/* a where mask is set, else b (lane by lane). */
static inline v4f select4(v4i mask, v4f a, v4f b)
{
	return (v4f)((mask & (v4i)a) | (~mask & (v4i)b));
}

/* 1 / x to about 23 bits. On x86 the divider is the bottleneck of the
 * kernels (one divps per 3.5 cycles), so the 12-bit estimate is refined
 * by one Newton step instead. */
static inline v4f reciprocal4(v4f x)
{
#ifdef __SSE__
	v4f r = (v4f)_mm_rcp_ps((__m128)x);
	return r * (2.0f - x * r);
#else
	return 1.0f / x;
#endif
}

/* Lane minimum and maximum (SSE: b where either is NaN). */
static inline v4f min4(v4f a, v4f b)
{
#ifdef __SSE__
	return (v4f)_mm_min_ps((__m128)a, (__m128)b);
#else
	return select4(a < b, a, b);
#endif
}

static inline v4f max4(v4f a, v4f b)
{
#ifdef __SSE__
	return (v4f)_mm_max_ps((__m128)a, (__m128)b);
#else
	return select4(a > b, a, b);
#endif
}

/* x held within [lo, hi]. */
static inline v4f clamp4(v4f x, v4f lo, v4f hi)
{
	return min4(max4(x, lo), hi);
}

/* The ADAA mean of f(clamp(x)) over [x0, x1], from u = clamp(x), the
 * divided difference D of the antiderivative inside the range, and
 * `outside`, the change of the antiderivative's parts beyond the edges.
 * When x1 == x0 the mean is f itself, which D is. RT */
static inline v4f adaa_mean(v4f x0, v4f x1, v4f u0, v4f u1, v4f d, v4f outside)
{
	v4f du = u1 - u0;
	v4f den = du + ((x1 - u1) - (x0 - u0));
	/* the lanes where den is 0 divide by 0 and are dropped */
	return select4(den == 0.0f, d, (du * d + outside) * reciprocal4(den));
}

/* Beyond an edge the antiderivative is linear with slope f(edge), so the
 * parts beyond the edges change by (o1+ - o0+) f_hi + (o1- - o0-) f_lo,
 * o = x - u split into its positive and negative parts. Two samples deep
 * in the same clip make exactly (o1 - o0) f(edge), the same difference
 * as in the denominator: the mean is the clip level. */
static inline v4f beyond_edges(v4f o0, v4f o1, v4f f_lo, v4f f_hi)
{
	const v4f zero = splat(0.0f);
	return (max4(o1, zero) - max4(o0, zero)) * f_hi + (min4(o1, zero) - min4(o0, zero)) * f_lo;
}

/* |x|, by clearing the sign bit. */
static inline v4f abs4(v4f x)
{
	return (v4f)((v4i)x & splat_bits(0x7fffffff));
}

/* For a straight curve the ADAA mean is the two-point mean (x0 + x1) / 2,
 * a low-pass of cos(pi f / 4 rate): -0.12 dB at 10 kHz, -0.48 dB at 20
 * kHz. The 4-tap FIR [-b, 1/2 + b, 1/2 + b, -b], b = SAT_FLAT_B, lifts
 * it back: the pair is flat within +-0.017 dB up to 20 kHz at 48 kHz
 * (least maximum error; b = 0.1278 at 8x gives +-0.001 dB) and, both
 * being symmetric, is a pure delay of 2 oversampled samples, which the
 * decimator phases turn into whole frames. n is a multiple of 4;
 * y[-3..-1] hold the end of the previous chunk. RT */
static void flatten(const float *restrict y, float *restrict out, int n)
{
	const v4f outer = splat(-SAT_FLAT_B), inner = splat(0.5f + SAT_FLAT_B);
	for (int i = 0; i < n; i += 4)
		store4(out + i, outer * (load4(y + i) + load4(y + i - 3)) + inner * (load4(y + i - 1) + load4(y + i - 2)));
}

/* Saturation kernel (arguments as for clip_kernel below): the odd
 * polynomial on [-1, 1]. Its antiderivative G is even, so with A = u1^2,
 * B = u0^2, D = (u0 + u1) * sum C_2j h_(j-1)(A, B) where h_m(A, B) =
 * (A^(m+1) - B^(m+1)) / (A - B) follows h_m = (A + B) h_(m-1) -
 * A B h_(m-2). RT */
static void saturation_kernel(const float *restrict x, float *restrict y, int n)
{
	const v4f one = splat(1.0f), minus = splat(-1.0f);
	const v4f c2 = splat((float)(sat_c[0] / 2)), c4 = splat((float)(sat_c[1] / 4));
	const v4f c6 = splat((float)(sat_c[2] / 6)), c8 = splat((float)(sat_c[3] / 8));
	const v4f c10 = splat((float)(sat_c[4] / 10));
	for (int i = 0; i < n; i += 4) {
		v4f x0 = load4(x + i - 1), x1 = load4(x + i);
		v4f u0 = clamp4(x0, minus, one), u1 = clamp4(x1, minus, one);
		v4f a = u1 * u1, b = u0 * u0, s = a + b, p = a * b;
		v4f h2 = s * s - p, h3 = s * h2 - p * s, h4 = s * h3 - p * h2;
		v4f d = (u0 + u1) * (c2 + c4 * s + c6 * h2 + c8 * h3 + c10 * h4);
		/* f = +-1 beyond the edges: the parts there are |o| */
		v4f v = adaa_mean(x0, x1, u0, u1, d, abs4(x1 - u1) - abs4(x0 - u0));
		store4(y + i, v);
	}
}

/* Distortion: the identity on [lo, hi], so D = (u0 + u1) / 2. `ramp`
 * (per frame: lo, hi) while the thresholds glide, else NULL. RT */
static inline void clip_kernel_body(const float *restrict x, float *restrict y, int n, const float *fixed,
				    const float (*ramp)[SAT_NCURVE])
{
	v4f lo = splat(fixed[0]), hi = splat(fixed[1]), half = splat(0.5f);
	for (int i = 0; i < n; i += 4) {
		if (ramp) {
			const float *c = ramp[i / SAT_OS];
			lo = splat(c[0]);
			hi = splat(c[1]);
		}
		v4f x0 = load4(x + i - 1), x1 = load4(x + i);
		v4f u0 = clamp4(x0, lo, hi), u1 = clamp4(x1, lo, hi);
		v4f v = adaa_mean(x0, x1, u0, u1, half * (u0 + u1), beyond_edges(x0 - u0, x1 - u1, lo, hi));
		store4(y + i, v);
	}
}

/* Waveshaper: G(v) = sum_k C_k v^k (k = 2..7, no constant or linear
 * term since f(0) = 0), D = sum C_k h_(k-1)(u0, u1) with the complete
 * homogeneous polynomials h_m = s h_(m-1) - p h_(m-2), s = u0 + u1,
 * p = u0 u1. Coefficients: C2..C7, f(-1), f(1). RT */
static inline void shaper_kernel_body(const float *restrict x, float *restrict y, int n, const float *fixed,
				      const float (*ramp)[SAT_NCURVE])
{
	const v4f one = splat(1.0f), minus = splat(-1.0f);
	v4f c[SAT_NCURVE];
	for (int k = 0; k < SAT_NCURVE; k++)
		c[k] = splat(fixed[k]);
	for (int i = 0; i < n; i += 4) {
		if (ramp) {
			const float *r = ramp[i / SAT_OS];
			for (int k = 0; k < SAT_NCURVE; k++)
				c[k] = splat(r[k]);
		}
		v4f x0 = load4(x + i - 1), x1 = load4(x + i);
		v4f u0 = clamp4(x0, minus, one), u1 = clamp4(x1, minus, one);
		v4f s = u0 + u1, p = u0 * u1;
		v4f h2 = s * s - p, h3 = s * h2 - p * s, h4 = s * h3 - p * h2;
		v4f h5 = s * h4 - p * h3, h6 = s * h5 - p * h4;
		v4f d = c[0] * s + c[1] * h2 + c[2] * h3 + c[3] * h4 + c[4] * h5 + c[5] * h6;
		v4f v = adaa_mean(x0, x1, u0, u1, d, beyond_edges(x0 - u0, x1 - u1, c[6], c[7]));
		store4(y + i, v);
	}
}

/* The kernels, specialised for fixed and gliding curves: x[0..n) in
 * (x[-1] the last input of the previous chunk), y[0..n) out, n a
 * multiple of 4. RT */
static void clip_kernel(const float *restrict x, float *restrict y, int n, const float *fixed,
			const float (*ramp)[SAT_NCURVE])
{
	if (ramp)
		clip_kernel_body(x, y, n, fixed, ramp);
	else
		clip_kernel_body(x, y, n, fixed, NULL);
}

static void shaper_kernel(const float *restrict x, float *restrict y, int n, const float *fixed,
			  const float (*ramp)[SAT_NCURVE])
{
	if (ramp)
		shaper_kernel_body(x, y, n, fixed, ramp);
	else
		shaper_kernel_body(x, y, n, fixed, NULL);
}

/* ---- parameters ---------------------------------------------------------- */

/* dB to a linear gain. */
static float db_to_gain(float db)
{
	return powf(10.0f, db / 20.0f);
}

/* New target of a glide; right after create/reset it applies at once. */
static void glide_to(const struct shaper *s, struct glide *g, float target)
{
	g->target = target;
	if (s->fresh)
		g->cur = target;
}

/* Glide one value over m frames; the per-frame values go to ramp[] and
 * the result says whether it moved (when not, ramp[] is untouched and
 * cur == target). RT */
static bool glide_run(struct glide *g, float k, float *ramp, int m)
{
	float c = g->cur, t = g->target;
	if (c == t)
		return false;
	/* a relative snap: the one-pole stalls a few ulps short of big targets */
	float snap = 1e-5f * fabsf(t) + 1e-9f;
	for (int i = 0; i < m; i++) {
		c += (t - c) * k;
		if (fabsf(t - c) <= snap)
			c = t;
		ramp[i] = c;
	}
	g->cur = c;
	return true;
}

/* Like glide_run, but ramp[] gets the value also when it rests. RT */
static void glide_fill(struct glide *g, float k, float *ramp, int m)
{
	if (!glide_run(g, k, ramp, m))
		for (int i = 0; i < m; i++)
			ramp[i] = g->cur;
}

/* The curve coefficients of the current parameters into target[]. */
static void curve_targets(const struct shaper *s, float target[SAT_NCURVE])
{
	memset(target, 0, SAT_NCURVE * sizeof *target);
	if (s->kind == KIND_DISTORTION) {
		float a = s->param[DIST_ASYM];
		target[0] = a > 0.0f ? -(1.0f - a) : -1.0f;
		target[1] = a < 0.0f ? 1.0f + a : 1.0f;
	} else if (s->kind == KIND_WAVESHAPER) {
		double h[6], total = 0.0, poly[7] = {0};
		for (int k = 0; k < 6; k++) {
			h[k] = s->param[WS_H1 + k];
			total += fabs(h[k]);
		}
		double norm = 1.0 / (total > 1.0 ? total : 1.0);
		for (int k = 0; k < 6; k++)
			for (int j = 1; j < 7; j++)       /* j = 0: T_k(0), taken off */
				poly[j] += norm * h[k] * cheb[k][j];
		double f_lo = 0.0, f_hi = 0.0;
		for (int j = 1; j < 7; j++) {
			target[j - 1] = (float)(poly[j] / (j + 1));   /* C_(j+1) of G */
			f_hi += poly[j];
			f_lo += (j & 1) ? -poly[j] : poly[j];
		}
		target[6] = (float)f_lo;
		target[7] = (float)f_hi;
	}
}

/* Recompute the targets that parameter i feeds. RT */
static void shaper_apply(struct shaper *s, int i)
{
	float drive_db, mix, out_db;
	int mix_i, out_i;
	switch (s->kind) {
	case KIND_SATURATION:
		mix_i = SAT_MIX;
		out_i = SAT_OUTPUT;
		drive_db = s->param[SAT_DRIVE];
		break;
	case KIND_DISTORTION:
		mix_i = DIST_MIX;
		out_i = DIST_OUTPUT;
		drive_db = s->param[DIST_DRIVE];
		break;
	default:
		mix_i = WS_MIX;
		out_i = WS_OUTPUT;
		drive_db = s->param[WS_DRIVE];
		break;
	}
	mix = s->param[mix_i] / 100.0f;
	out_db = s->param[out_i];
	if (i == 0) {
		/* the saturation curve is scaled so that slope 1 at 0 is v = x / A */
		float scale = s->kind == KIND_SATURATION ? (float)(1.0 / SAT_A) : 1.0f;
		glide_to(s, &s->drive, db_to_gain(drive_db) * scale);
	} else if (i == mix_i || i == out_i) {
		glide_to(s, &s->wet, mix * db_to_gain(out_db));
		glide_to(s, &s->dry, 1.0f - mix);
	} else if (s->kind == KIND_DISTORTION && i == DIST_TONE) {
		/* TPT one-pole: G = g / (1 + g), g = tan(pi fc / rate) */
		double fc = s->param[DIST_TONE];
		if (fc > 0.45 * s->rate)
			fc = 0.45 * s->rate;
		double g = tan(M_PI * fc / s->rate);
		glide_to(s, &s->tone, (float)(g / (1.0 + g)));
	} else {
		float target[SAT_NCURVE];
		curve_targets(s, target);
		for (int k = 0; k < SAT_NCURVE; k++)
			glide_to(s, &s->curve[k], target[k]);
	}
}

/* fx_type.set. RT */
static void shaper_set(void *fx, int i, float value)
{
	struct shaper *s = fx;
	if (i < 0 || i >= s->type->nparams || s->param[i] == value)
		return;
	s->param[i] = value;
	shaper_apply(s, i);
}

/* fx_type.reset: histories cleared, glides finished. RT */
static void shaper_reset(void *fx)
{
	struct shaper *s = fx;
	for (int c = 0; c < s->channels; c++)
		memset(&s->ch[c], 0, sizeof s->ch[c]);
	s->clock = 0;
	s->drive.cur = s->drive.target;
	s->wet.cur = s->wet.target;
	s->dry.cur = s->dry.target;
	s->tone.cur = s->tone.target;
	for (int k = 0; k < SAT_NCURVE; k++)
		s->curve[k].cur = s->curve[k].target;
	s->fresh = true;
}

/* fx_type.latency: the frames the oversampling delays by. */
static uint32_t shaper_latency(const void *fx)
{
	const struct shaper *s = fx;
	return s->latency;
}

/* New instance of type t with every parameter at its default. Not RT. */
static void *shaper_create(const struct fx_type *t, enum shaper_kind kind, uint32_t rate, int channels)
{
	if (rate < 8000 || rate > 768000 || channels < 1 || channels > t->max_channels)
		return NULL;
	struct shaper *s;
	size_t size = sizeof *s + (size_t)channels * sizeof s->ch[0];
	size = (size + 63) / 64 * 64;
	s = aligned_alloc(64, size);
	if (s == NULL)
		return NULL;
	memset(s, 0, size);
	s->kind = kind;
	s->type = t;
	s->channels = channels;
	s->rate = rate;
	s->fresh = true;
	s->glide_k = (float)(1.0 - exp(-1.0 / (SAT_GLIDE_S * rate)));
	s->dc_r = (float)(1.0 - 2.0 * M_PI * SAT_DC_HZ / rate);

	/* Each stage delays by taps - 1 oversampled samples going up and as
	 * much coming down, minus one where the decimator keeps the odd
	 * phase; the phases are chosen so the sum is a whole frame. */
	for (int k = 0; k < SAT_STAGES; k++)
		halfband_design(&s->hb[k], hb_branch[k], hb_beta[k]);
	double best = -1.0;
	for (int bits = 0; bits < (1 << SAT_STAGES); bits++) {
		double delay = (double)SAT_KERNEL_DELAY / SAT_OS;
		for (int k = 0; k < SAT_STAGES; k++)
			delay += (2.0 * (hb_branch[k] - 1) - ((bits >> k) & 1)) / (double)(2 << k);
		if (delay == floor(delay) && (best < 0.0 || delay < best)) {
			best = delay;
			for (int k = 0; k < SAT_STAGES; k++)
				s->hb[k].phase = (bits >> k) & 1;
		}
	}
	if (best < 0.0 || best > SAT_MAX_LATENCY) {       /* a bad stage table */
		free(s);
		return NULL;
	}
	s->latency = (uint32_t)best;

	for (int i = 0; i < t->nparams; i++)
		s->param[i] = t->params[i].def;
	for (int i = 0; i < t->nparams; i++)
		shaper_apply(s, i);
	shaper_reset(s);
	return s;
}

/* fx_type.destroy. Not RT. */
static void shaper_destroy(void *fx)
{
	free(fx);
}

/* ---- processing ---------------------------------------------------------- */

/* One channel's chunk of m frames through the curve: x (read only) to
 * ch->wet, and into the dry delay. drive holds a value per frame;
 * curve_ramp is NULL while the curve rests. RT */
static void channel_shape(struct shaper *s, struct shaper_channel *ch, const float *restrict x, uint32_t frames,
			  const float *drive, const float (*curve_ramp)[SAT_NCURVE])
{
	const int m = (int)frames;
	float *in = ch->up[0] + s->hb[0].taps - 1;
	/* the driven input, held within +-lim (NaN becomes -lim) */
	const v4f lo = splat(-SAT_LIMIT), hi = splat(SAT_LIMIT);
	int i = 0;
	for (; i + 4 <= m; i += 4)
		store4(in + i, min4(max4(load4(x + i) * load4(drive + i), lo), hi));
	for (; i < m; i++) {
		float v = x[i] * drive[i];
		v = v > -SAT_LIMIT ? v : -SAT_LIMIT;
		in[i] = v < SAT_LIMIT ? v : SAT_LIMIT;
	}
	memcpy(ch->dry + s->latency, x, (size_t)m * sizeof *x);

	/* up to the oversampled rate: each stage's output is the next one's input */
	float *xs = (float *)(ch->xs + 1), *ys = (float *)(ch->ys + 1);
	int len = m;
	for (int k = 0; k < SAT_STAGES; k++) {
		float *out = k + 1 < SAT_STAGES ? ch->up[k + 1] + s->hb[k + 1].taps - 1 : xs;
		halfband_up(&s->hb[k], ch->up[k], out, len);
		len *= 2;
	}

	float fixed[SAT_NCURVE];
	for (int k = 0; k < SAT_NCURVE; k++)
		fixed[k] = s->curve[k].cur;
	switch (s->kind) {
	case KIND_SATURATION:
		saturation_kernel(xs, ys, len);
		break;
	case KIND_DISTORTION:
		clip_kernel(xs, ys, len, fixed, curve_ramp);
		break;
	case KIND_WAVESHAPER:
		shaper_kernel(xs, ys, len, fixed, curve_ramp);
		break;
	}
	/* the inputs are spent: the flattened signal takes their place */
	int groups = len / 4;
	ch->xs[0] = ch->xs[groups];
	flatten(ys, xs, len);
	ch->ys[0] = ch->ys[groups];

	/* and down again */
	float *src = xs;
	float tmp[SAT_CHUNK << (SAT_STAGES - 1)];
	for (int k = SAT_STAGES - 1; k >= 0; k--) {
		len /= 2;
		float *out = k > 0 ? tmp : ch->wet;
		halfband_down(&s->hb[k], ch->ev[k], ch->od[k], src, out, len);
		src = out;
	}
}

/* The one-pole filters after the curve on the wet signal of `count`
 * channels (1 or 2, interleaved so that the two recursions overlap):
 * for the distortion the TPT low-pass y = G x + (1 - G) s with its state
 * s' = 2 y - s folded to s' = 2G x + (1 - 2G) s (a shorter dependency
 * chain), then for both the DC blocker y = x - x1 + r y1. tone_ramp is
 * NULL while the tone rests. RT */
static inline void post_filters(const struct shaper *s, struct shaper_channel *const *chs, const int count,
				int m, const float *tone_ramp)
{
	float ts[2], dx[2], dy[2], *wet[2];
	const float r = s->dc_r;
	for (int c = 0; c < count; c++) {
		ts[c] = chs[c]->tone_s;
		dx[c] = chs[c]->dc_x;
		dy[c] = chs[c]->dc_y;
		wet[c] = chs[c]->wet;
	}
	if (s->kind == KIND_DISTORTION) {
		float g = s->tone.cur;
		for (int i = 0; i < m; i++) {
			if (tone_ramp)
				g = tone_ramp[i];
			for (int c = 0; c < count; c++) {
				float in = wet[c][i];
				float y = g * in + (1.0f - g) * ts[c];
				ts[c] = 2.0f * g * in + (1.0f - 2.0f * g) * ts[c];
				dy[c] = (y - dx[c]) + r * dy[c];
				dx[c] = y;
				wet[c][i] = dy[c];
			}
		}
	} else {
		for (int i = 0; i < m; i++) {
			for (int c = 0; c < count; c++) {
				float in = wet[c][i];
				dy[c] = (in - dx[c]) + r * dy[c];
				dx[c] = in;
				wet[c][i] = dy[c];
			}
		}
	}
	for (int c = 0; c < count; c++) {
		chs[c]->tone_s = ts[c];
		chs[c]->dc_x = dx[c];
		chs[c]->dc_y = dy[c];
	}
}

/* The mix of one channel's chunk into x. RT */
static void channel_mix(const struct shaper *s, struct shaper_channel *ch, float *restrict x, int m,
			const float *wet_gain, const float *dry_gain)
{
	const float *wet = ch->wet;
	int i;
	const float *dry = ch->dry;
	for (i = 0; i + 4 <= m; i += 4)
		store4(x + i, load4(wet_gain + i) * load4(wet + i) + load4(dry_gain + i) * load4(dry + i));
	for (; i < m; i++)
		x[i] = wet_gain[i] * wet[i] + dry_gain[i] * dry[i];
	memmove(ch->dry, ch->dry + m, s->latency * sizeof *ch->dry);
}

/* A one-pole state back to 0 when tiny or not finite. RT */
static inline float state_clean(float v)
{
	return isfinite(v) && fabsf(v) >= SAT_TINY ? v : 0.0f;
}

/* fx_type.process. RT */
static void shaper_process(void *fx, float *const *buf, uint32_t n)
{
	struct shaper *s = fx;
	s->fresh = false;
	for (uint32_t off = 0, m; off < n; off += m) {
		/* chunks end on a grid of absolute frame time, where the
		 * one-pole states are cleaned: results do not depend on how the
		 * host cuts the signal */
		m = SAT_CHUNK - s->clock;
		if (m > n - off)
			m = n - off;
		float k = s->glide_k;
		glide_fill(&s->drive, k, s->drive_ramp, m);
		glide_fill(&s->wet, k, s->wet_ramp, m);
		glide_fill(&s->dry, k, s->dry_ramp, m);
		const float *tone = glide_run(&s->tone, k, s->tone_ramp, m) ? s->tone_ramp : NULL;
		bool curve_moving = false;
		for (int c = 0; c < SAT_NCURVE; c++)
			curve_moving = curve_moving || s->curve[c].cur != s->curve[c].target;
		for (int c = 0; curve_moving && c < SAT_NCURVE; c++) {
			float col[SAT_CHUNK];
			bool moved = glide_run(&s->curve[c], k, col, m);
			for (uint32_t i = 0; i < m; i++)
				s->curve_ramp[i][c] = moved ? col[i] : s->curve[c].cur;
		}
		const float (*curve)[SAT_NCURVE] = curve_moving ? (const float (*)[SAT_NCURVE])s->curve_ramp : NULL;
		for (int c = 0; c < s->channels; c++)
			channel_shape(s, &s->ch[c], buf[c] + off, m, s->drive_ramp, curve);
		if (s->kind != KIND_SATURATION) {
			int c = 0;
			for (; c + 2 <= s->channels; c += 2) {
				struct shaper_channel *pair[2] = {&s->ch[c], &s->ch[c + 1]};
				post_filters(s, pair, 2, (int)m, tone);
			}
			if (c < s->channels) {
				struct shaper_channel *one[1] = {&s->ch[c]};
				post_filters(s, one, 1, (int)m, tone);
			}
		}
		for (int c = 0; c < s->channels; c++)
			channel_mix(s, &s->ch[c], buf[c] + off, (int)m, s->wet_ramp, s->dry_ramp);
		s->clock = (s->clock + m) % SAT_CHUNK;
		if (s->clock != 0)
			continue;
		for (int c = 0; c < s->channels; c++) {
			struct shaper_channel *ch = &s->ch[c];
			ch->tone_s = state_clean(ch->tone_s);
			ch->dc_x = state_clean(ch->dc_x);
			ch->dc_y = state_clean(ch->dc_y);
		}
	}
}

/* ---- the types ----------------------------------------------------------- */

static const struct fx_param saturation_params[] = {
	{"drive", "dB", 0.0f, 36.0f, 6.0f, FX_LINEAR,
	 "gain into the soft clip (small signals come out this much louder)"},
	{"mix", "%", 0.0f, 100.0f, 100.0f, FX_LINEAR,
	 "processed share of the output; 0 = the dry signal exactly"},
	{"output", "dB", -24.0f, 12.0f, 0.0f, FX_LINEAR,
	 "level of the processed signal before the mix"},
};

static const struct fx_param distortion_params[] = {
	{"drive", "dB", 0.0f, 48.0f, 18.0f, FX_LINEAR,
	 "gain into the hard clip at +-1"},
	{"asymmetry", "", -1.0f, 1.0f, 0.0f, FX_LINEAR,
	 "0 = symmetric; > 0 lowers the negative clip level to -(1 - a), < 0 the positive one (even harmonics)"},
	{"tone", "Hz", 500.0f, 12000.0f, 12000.0f, FX_LOG,
	 "corner of the one-pole low-pass after the clipper"},
	{"mix", "%", 0.0f, 100.0f, 100.0f, FX_LINEAR,
	 "processed share of the output; 0 = the dry signal exactly"},
	{"output", "dB", -24.0f, 12.0f, 0.0f, FX_LINEAR,
	 "level of the processed signal before the mix"},
};

static const struct fx_param waveshaper_params[] = {
	{"drive", "dB", 0.0f, 24.0f, 0.0f, FX_LINEAR,
	 "gain into the curve; the input is clamped to +-1"},
	{"h1", "", -1.0f, 1.0f, 1.0f, FX_LINEAR, "weight of T1 (the fundamental)"},
	{"h2", "", -1.0f, 1.0f, 0.0f, FX_LINEAR, "weight of T2 (2nd harmonic of a full-scale sine)"},
	{"h3", "", -1.0f, 1.0f, 0.0f, FX_LINEAR, "weight of T3 (3rd harmonic)"},
	{"h4", "", -1.0f, 1.0f, 0.0f, FX_LINEAR, "weight of T4 (4th harmonic)"},
	{"h5", "", -1.0f, 1.0f, 0.0f, FX_LINEAR, "weight of T5 (5th harmonic)"},
	{"h6", "", -1.0f, 1.0f, 0.0f, FX_LINEAR, "weight of T6 (6th harmonic)"},
	{"mix", "%", 0.0f, 100.0f, 100.0f, FX_LINEAR,
	 "processed share of the output; 0 = the dry signal exactly"},
	{"output", "dB", -24.0f, 12.0f, 0.0f, FX_LINEAR,
	 "level of the processed signal before the mix"},
};

/* fx_type.create of each type. Not RT. */
static void *saturation_create(uint32_t rate, int channels)
{
	return shaper_create(&fx_saturation, KIND_SATURATION, rate, channels);
}

static void *distortion_create(uint32_t rate, int channels)
{
	return shaper_create(&fx_distortion, KIND_DISTORTION, rate, channels);
}

static void *waveshaper_create(uint32_t rate, int channels)
{
	return shaper_create(&fx_waveshaper, KIND_WAVESHAPER, rate, channels);
}

const struct fx_type fx_saturation = {
	.id = "saturation",
	.doc = "tanh-style soft clip, 4x oversampled with antiderivative anti-aliasing",
	.params = saturation_params,
	.nparams = sizeof saturation_params / sizeof saturation_params[0],
	.max_channels = FX_MAX_CHANNELS,
	.create = saturation_create,
	.destroy = shaper_destroy,
	.set = shaper_set,
	.reset = shaper_reset,
	.process = shaper_process,
	.latency = shaper_latency,
};

const struct fx_type fx_distortion = {
	.id = "distortion",
	.doc = "hard clip, symmetric or asymmetric, with a tone low-pass; 4x oversampled with anti-aliasing",
	.params = distortion_params,
	.nparams = sizeof distortion_params / sizeof distortion_params[0],
	.max_channels = FX_MAX_CHANNELS,
	.create = distortion_create,
	.destroy = shaper_destroy,
	.set = shaper_set,
	.reset = shaper_reset,
	.process = shaper_process,
	.latency = shaper_latency,
};

const struct fx_type fx_waveshaper = {
	.id = "waveshaper",
	.doc = "Chebyshev waveshaper (harmonic weights h1..h6), 4x oversampled with anti-aliasing",
	.params = waveshaper_params,
	.nparams = sizeof waveshaper_params / sizeof waveshaper_params[0],
	.max_channels = FX_MAX_CHANNELS,
	.create = waveshaper_create,
	.destroy = shaper_destroy,
	.set = shaper_set,
	.reset = shaper_reset,
	.process = shaper_process,
	.latency = shaper_latency,
};
