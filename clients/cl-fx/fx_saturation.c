/*
 * The nonlinear effects of cl-fx: saturation (tanh-style soft clip),
 * distortion (hard clip, symmetric or asymmetric, with a tone low-pass)
 * and waveshaper (a curve from Chebyshev weights or through points).
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
 *   even terms make (mode 0). Or a curve through points (modes 1 and 2):
 *   a point list is no scalar parameter, so the points sit at fixed x,
 *   -1, -0.75, ..., 1, and their values are the nine scalar parameters
 *   p1..p9 (by default the identity). Mode 1 joins them with straight
 *   lines, mode 2 with a monotone cubic (Fritsch-Carlson: no overshoot
 *   between points, so a monotone point set gives a monotone curve). The
 *   curve is shifted by p5 so that 0 stays 0, like T_k(0) above. Its
 *   ADAA mean sums, segment by segment, the covered length times the
 *   piece's mean over it, a polynomial in the ends (points_mean()).
 *   Changing the mode crossfades the two curves: the kernel computes both
 *   while the blend moves (the mean of a blend is the blend of means).
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
 * histories. The hot loops (filters, kernels, post filters, mix) are
 * written once for a vector of SAT_W floats and compiled twice, 4 wide
 * for any CPU and 8 wide with AVX2 and FMA (chosen at create(); the
 * environment variable CL_FX_SIMD=baseline forces the portable copy):
 * the file includes itself for each copy. The FIRs add the two samples
 * that share a tap (the taps are symmetric) and run eight accumulators
 * (sums in tap order in every path, so the scalar tail gives the same
 * bits); the kernels run a vector of oversampled samples at a time,
 * branch-free. Drive, wet and dry gains are filled into their per-frame
 * lines only when they move. On the benchmark machine (tests/bench,
 * 128-frame blocks, stereo) the 8-wide copy runs saturation at about
 * 1400x realtime, twice the 4-wide one.
 *
 * Safety: the driven input is held within +-1e5 (NaN becomes -1e5) before
 * the filters, so the oversampled path stays finite and its output within
 * the curve's range. Chunks end on a grid of SAT_CHUNK frames of absolute
 * time, where the one-pole states are reset if not finite and flushed
 * below 1e-20 (no denormals linger), the same whatever the host's blocks.
 */
#ifndef SAT_HOT
#include "effect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#define SAT_X86 1           /* GCC: the AVX2 copy through #pragma GCC target */
#endif
#endif

#define SAT_STAGES 2                      /* half-band stages: 4x */
#define SAT_OS (1 << SAT_STAGES)
#define SAT_CHUNK 128                     /* frames per pass through the scratch */
#define SAT_MAX_TAPS 32                   /* longest FIR branch */
#define SAT_HIST (SAT_MAX_TAPS - 1)
#define SAT_STAGE_LEN (SAT_HIST + (SAT_CHUNK << (SAT_STAGES - 1)))
#define SAT_MAX_LATENCY 64
#define SAT_GLIDE_S 0.010                 /* one-pole time constant of every glide */
#define SAT_DC_HZ 5.0                     /* DC blocker corner */
#define SAT_LIMIT 1e5f                    /* driven input held within +-this */
#define SAT_TINY 1e-20f                   /* one-pole states flushed below this */
#define SAT_NCURVE 43                     /* curve coefficients per frame: */
#define CURVE_CHEB 0                      /* C2..C7, f(-1), f(1) of the Chebyshev curve */
#define CURVE_PTS 8                       /* a, b, c, d per segment, f(-1), f(1) of the points */
#define CURVE_BLEND 42                    /* weight of the points curve, 0..1 */
#define WS_NPOINTS 9                      /* the points' x: -1, -0.75, ..., 1 */
#define WS_NSEGS (WS_NPOINTS - 1)
#define WS_STEP 0.25f                     /* between the points' x */
#if SAT_STAGES == 2
#define SAT_FLAT_B 0.1367f                /* see flatten() */
#else
#define SAT_FLAT_B 0.1278f
#endif
#define SAT_KERNEL_DELAY 2                /* oversampled samples: ADAA mean + flatten() */
#define SAT_WMAX 8                        /* widest vector of the hot loops, in floats */
#define SAT_LEAD 8                        /* floats in front of the oversampled scratch */
#define SAT_CARRY 4                       /* ... of which the last chunk's end */

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
enum { WS_DRIVE, WS_H1, WS_H6 = WS_H1 + 5, WS_MIX, WS_OUTPUT, WS_MODE, WS_P1,
       WS_P9 = WS_P1 + WS_NPOINTS - 1 };
enum { WS_CHEBYSHEV, WS_LINES, WS_SMOOTH };   /* values of WS_MODE */

struct halfband {
	int taps;                     /* FIR branch length, a multiple of 4 */
	int phase;                    /* decimator keeps odd (1) or even (0) samples */
	float g[SAT_MAX_TAPS];
	float gv[SAT_MAX_TAPS][SAT_WMAX] __attribute__((aligned(32)));   /* the same, broadcast */
};

/* Per channel: stage histories sit in front of each scratch buffer. */
struct shaper_channel {
	float up[SAT_STAGES][SAT_STAGE_LEN];     /* upsampler inputs */
	float ev[SAT_STAGES][SAT_STAGE_LEN];     /* decimator inputs, even samples */
	float od[SAT_STAGES][SAT_STAGE_LEN];     /* and odd samples */
	/* the oversampled signal into the kernel and (flattened) out of it,
	 * and the kernel's raw output, from SAT_LEAD on; the SAT_CARRY
	 * floats before hold the end of the previous chunk, and a partial
	 * last vector of the kernels spills into the SAT_WMAX after */
	float xs[SAT_LEAD + SAT_CHUNK * SAT_OS + SAT_WMAX] __attribute__((aligned(32)));
	float ys[SAT_LEAD + SAT_CHUNK * SAT_OS + SAT_WMAX] __attribute__((aligned(32)));
	float dry[SAT_MAX_LATENCY + SAT_CHUNK];  /* the delay that matches the wet path */
	float wet[SAT_CHUNK];
	float tone_s, dc_x, dc_y;                /* one-pole states */
};

/* A smoothed value: `cur` glides toward `target` by a one-pole per frame. */
struct glide {
	float cur, target;
	bool flat;       /* glide_fill's ramp holds cur in all SAT_CHUNK places */
};

struct shaper;
/* One chunk of every channel (see run_chunk). */
typedef void chunk_fn(struct shaper *s, float *const *buf, uint32_t off, uint32_t m,
		      const float *tone, const float (*curve)[SAT_NCURVE]);

struct shaper {
	enum shaper_kind kind;
	chunk_fn *chunk;              /* the widest copy of the hot loops this CPU runs */
	int ws_mode;                  /* waveshaper, this chunk: 0 Chebyshev, 1 points, 2 both */
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
		for (int l = 0; l < SAT_WMAX; l++)
			hb->gv[i][l] = g;
	}
}

/* The hot loops, twice: SAT_W 4 for any CPU (plain SSE on x86), and
 * SAT_W 8 with AVX2 and FMA where the CPU has them. */
#define SAT_HOT 1
#define SAT_W 4
#define HOT(name) name##_w4
#define SAT_ZIP_LO 0, 4, 1, 5
#define SAT_ZIP_HI 2, 6, 3, 7
#define SAT_EVEN 0, 2, 4, 6
#define SAT_ODD 1, 3, 5, 7
#include "fx_saturation.c"
#undef SAT_W
#undef HOT
#undef SAT_ZIP_LO
#undef SAT_ZIP_HI
#undef SAT_EVEN
#undef SAT_ODD
#ifdef SAT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define SAT_W 8
#define HOT(name) name##_w8
#define SAT_ZIP_LO 0, 8, 1, 9, 2, 10, 3, 11
#define SAT_ZIP_HI 4, 12, 5, 13, 6, 14, 7, 15
#define SAT_EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define SAT_ODD 1, 3, 5, 7, 9, 11, 13, 15
#include "fx_saturation.c"
#pragma GCC pop_options
#endif

/* The copy of the hot loops for this CPU: the 8-wide one where AVX2 and
 * FMA exist, unless CL_FX_SIMD=baseline asks for the portable one (the
 * unit test runs both). Not RT. */
static chunk_fn *chunk_choose(void)
{
	const char *want = getenv("CL_FX_SIMD");
	if (want && strcmp(want, "baseline") == 0)
		return run_chunk_w4;
#ifdef SAT_X86
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return run_chunk_w8;
#endif
	return run_chunk_w4;
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
	g->flat = false;
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

/* Like glide_run, but ramp[] gets the value also when it rests (filled
 * once, when the glide comes to rest, and left alone after). RT */
static void glide_fill(struct glide *g, float k, float *ramp, int m)
{
	if (glide_run(g, k, ramp, m)) {
		g->flat = false;
	} else if (!g->flat) {
		for (int i = 0; i < SAT_CHUNK; i++)
			ramp[i] = g->cur;
		g->flat = true;
	}
}

/* The points curve of the waveshaper: through (x_k, p_k - p5), x_k = -1 +
 * k / 4, so that 0 stays 0, either straight between the points or a
 * monotone cubic (Fritsch and Carlson 1980: Hermite pieces with slopes
 * limited so that no piece overshoots its points). Each segment's piece
 * goes to target[] as the coefficients a, b, c, d of a + b u + c u^2 +
 * d u^3 in the input u itself, then f(-1) and f(1). Not per sample. */
static void points_targets(const struct shaper *s, float *target)
{
	double y[WS_NPOINTS], secant[WS_NSEGS], slope[WS_NPOINTS];
	const double step = WS_STEP;
	for (int k = 0; k < WS_NPOINTS; k++)
		y[k] = (double)s->param[WS_P1 + k] - s->param[WS_P1 + WS_NPOINTS / 2];
	for (int k = 0; k < WS_NSEGS; k++)
		secant[k] = (y[k + 1] - y[k]) / step;
	bool smooth = s->param[WS_MODE] == WS_SMOOTH;
	slope[0] = secant[0];
	slope[WS_NPOINTS - 1] = secant[WS_NSEGS - 1];
	for (int k = 1; k < WS_NSEGS; k++)
		slope[k] = secant[k - 1] * secant[k] > 0.0 ? 0.5 * (secant[k - 1] + secant[k]) : 0.0;
	for (int k = 0; k < WS_NSEGS; k++) {
		if (secant[k] == 0.0) {
			slope[k] = slope[k + 1] = 0.0;
			continue;
		}
		double a = slope[k] / secant[k], b = slope[k + 1] / secant[k];
		if (a * a + b * b > 9.0) {
			double tau = 3.0 / sqrt(a * a + b * b);
			slope[k] = tau * a * secant[k];
			slope[k + 1] = tau * b * secant[k];
		}
	}
	for (int k = 0; k < WS_NSEGS; k++) {
		/* in t = (u - x0) / step: y0 + m0 t + c2 t^2 + c3 t^3 */
		double x0 = -1.0 + k * step, dy = y[k + 1] - y[k];
		double m0 = smooth ? slope[k] * step : dy, m1 = smooth ? slope[k + 1] * step : dy;
		double c2 = 3.0 * dy - 2.0 * m0 - m1, c3 = -2.0 * dy + m0 + m1;
		/* and in u: t = (u - x0) / step */
		double i1 = 1.0 / step, i2 = i1 * i1, i3 = i2 * i1;
		double a = y[k] - m0 * x0 * i1 + c2 * x0 * x0 * i2 - c3 * x0 * x0 * x0 * i3;
		double b = m0 * i1 - 2.0 * c2 * x0 * i2 + 3.0 * c3 * x0 * x0 * i3;
		double c = c2 * i2 - 3.0 * c3 * x0 * i3;
		double d = c3 * i3;
		target[4 * k] = (float)a;
		target[4 * k + 1] = (float)b;
		target[4 * k + 2] = (float)c;
		target[4 * k + 3] = (float)d;
	}
	target[4 * WS_NSEGS] = (float)y[0];
	target[4 * WS_NSEGS + 1] = (float)y[WS_NPOINTS - 1];
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
		points_targets(s, target + CURVE_PTS);
		target[CURVE_BLEND] = s->param[WS_MODE] != WS_CHEBYSHEV ? 1.0f : 0.0f;
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
	s->drive.flat = s->wet.flat = s->dry.flat = false;
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
	s->chunk = chunk_choose();
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
		for (int c = 0; c < SAT_NCURVE && !curve_moving; c++)
			curve_moving = s->curve[c].cur != s->curve[c].target;
		bool blend_moved = false;
		for (int c = 0; curve_moving && c < SAT_NCURVE; c++) {
			float col[SAT_CHUNK];
			bool moved = glide_run(&s->curve[c], k, col, m);
			for (uint32_t i = 0; i < m; i++)
				s->curve_ramp[i][c] = moved ? col[i] : s->curve[c].cur;
			blend_moved |= moved && c == CURVE_BLEND;
		}
		/* the waveshaper computes both curves only while the blend moves */
		const float blend = s->curve[CURVE_BLEND].cur;
		s->ws_mode = blend_moved ? 2 : blend == 0.0f ? 0 : blend == 1.0f ? 1 : 2;
		const float (*curve)[SAT_NCURVE] = curve_moving ? (const float (*)[SAT_NCURVE])s->curve_ramp : NULL;
		s->chunk(s, buf, off, m, tone, curve);
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
	{"mode", "", 0.0f, 2.0f, 0.0f, FX_CHOICE,
	 "curve: 0 = Chebyshev weights h1..h6, 1 = points p1..p9 joined by straight lines, "
	 "2 = points p1..p9 joined smoothly (monotone cubic)"},
	{"p1", "", -1.0f, 1.0f, -1.0f, FX_LINEAR, "curve at x = -1 (modes 1, 2)"},
	{"p2", "", -1.0f, 1.0f, -0.75f, FX_LINEAR, "curve at x = -0.75"},
	{"p3", "", -1.0f, 1.0f, -0.5f, FX_LINEAR, "curve at x = -0.5"},
	{"p4", "", -1.0f, 1.0f, -0.25f, FX_LINEAR, "curve at x = -0.25"},
	{"p5", "", -1.0f, 1.0f, 0.0f, FX_LINEAR,
	 "curve at x = 0 (the whole curve is shifted so that 0 stays 0)"},
	{"p6", "", -1.0f, 1.0f, 0.25f, FX_LINEAR, "curve at x = 0.25"},
	{"p7", "", -1.0f, 1.0f, 0.5f, FX_LINEAR, "curve at x = 0.5"},
	{"p8", "", -1.0f, 1.0f, 0.75f, FX_LINEAR, "curve at x = 0.75"},
	{"p9", "", -1.0f, 1.0f, 1.0f, FX_LINEAR, "curve at x = 1 (and beyond)"},
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
	.doc = "waveshaper: a curve from Chebyshev weights h1..h6 or through 9 points p1..p9, "
	       "4x oversampled with anti-aliasing",
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

#else /* SAT_HOT: the hot loops, compiled once per vector width SAT_W */

/*
 * Everything below runs at the oversampled rate and is written once for a
 * vector of SAT_W floats: the file includes itself twice (see the end of
 * the first part), with SAT_W 4 for any CPU and SAT_W 8 under
 * `#pragma GCC target("avx2,fma")` for the CPUs that have them (chosen at
 * create()). HOT(name) gives each copy its own names.
 */
typedef float HOT(vf) __attribute__((vector_size(SAT_W * 4)));
typedef int32_t HOT(vi) __attribute__((vector_size(SAT_W * 4)));
#define VF HOT(vf)
#define VI HOT(vi)

/* x in every lane. */
static inline VF HOT(splat)(float x)
{
	VF v;
	for (int l = 0; l < SAT_W; l++)
		v[l] = x;
	return v;
}

/* SAT_W floats from p, aligned or not. */
static inline VF HOT(load)(const float *p)
{
	VF v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* SAT_W floats to p, aligned or not. */
static inline void HOT(store)(float *p, VF v)
{
	memcpy(p, &v, sizeof v);
}

/* y[i] = sum_j g[j] x[i + j] for i < n. The taps are symmetric, so each
 * pair of samples that share a tap is added first: half the multiplies,
 * and the adds go to the adder ports beside them. Every path sums the
 * pairs in the same order (with FMA, fusing the same multiply-adds), so
 * the result does not depend on n. Eight accumulators: each one's chain
 * waits for its last add (3 to 4 cycles), so fewer would idle the
 * multipliers. RT */
static void HOT(fir_run)(const struct halfband *hb, const float *restrict x, float *restrict y, int n)
{
	const int taps = hb->taps, half = taps / 2;
	int i = 0;
	for (; i + 8 * SAT_W <= n; i += 8 * SAT_W) {
		VF a[8] = {{0}};
#pragma GCC unroll 2
		for (int j = 0; j < half; j++) {
			const float *p = x + i + j, *q = x + i + taps - 1 - j;
			VF g = HOT(load)(hb->gv[j]);
#pragma GCC unroll 8
			for (int k = 0; k < 8; k++)
				a[k] += g * (HOT(load)(p + k * SAT_W) + HOT(load)(q + k * SAT_W));
		}
#pragma GCC unroll 8
		for (int k = 0; k < 8; k++)
			HOT(store)(y + i + k * SAT_W, a[k]);
	}
	for (; i + SAT_W <= n; i += SAT_W) {
		VF a0 = {0};
		for (int j = 0; j < half; j++)
			a0 += HOT(load)(hb->gv[j]) * (HOT(load)(x + i + j) + HOT(load)(x + i + taps - 1 - j));
		HOT(store)(y + i, a0);
	}
	for (; i < n; i++) {
		float a = 0.0f;
		for (int j = 0; j < half; j++)
			a += hb->g[j] * (x[i + j] + x[i + taps - 1 - j]);
		y[i] = a;
	}
}

/* Upsample by 2: the n inputs sit in buf after the history (taps - 1
 * samples); 2n outputs go to out. The even outputs are the FIR branch,
 * the odd ones the input delayed to the filter's centre. RT */
static void HOT(halfband_up)(const struct halfband *hb, float *restrict buf, float *restrict out, int n)
{
	float fir[SAT_CHUNK << (SAT_STAGES - 1)];
	const int hist = hb->taps - 1, centre = hb->taps / 2;
	HOT(fir_run)(hb, buf, fir, n);
	int i = 0;
	for (; i + SAT_W <= n; i += SAT_W) {
		VF a = HOT(load)(fir + i), b = HOT(load)(buf + i + centre);
		HOT(store)(out + 2 * i, __builtin_shufflevector(a, b, SAT_ZIP_LO));
		HOT(store)(out + 2 * i + SAT_W, __builtin_shufflevector(a, b, SAT_ZIP_HI));
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
static void HOT(halfband_down)(const struct halfband *hb, float *restrict ev, float *restrict od,
			       const float *restrict in, float *restrict out, int n)
{
	float fir[SAT_CHUNK << (SAT_STAGES - 1)];
	const int hist = hb->taps - 1, centre = hb->taps / 2;
	int i = 0;
	for (; i + SAT_W <= n; i += SAT_W) {
		VF a = HOT(load)(in + 2 * i), b = HOT(load)(in + 2 * i + SAT_W);
		HOT(store)(ev + hist + i, __builtin_shufflevector(a, b, SAT_EVEN));
		HOT(store)(od + hist + i, __builtin_shufflevector(a, b, SAT_ODD));
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
	HOT(fir_run)(hb, branch, fir, n);
	const VF half = HOT(splat)(0.5f);
	for (i = 0; i + SAT_W <= n; i += SAT_W)
		HOT(store)(out + i, half * (HOT(load)(fir + i) + HOT(load)(mid + i)));
	for (; i < n; i++)
		out[i] = 0.5f * (fir[i] + mid[i]);
	memmove(ev, ev + n, (size_t)hist * sizeof *ev);
	memmove(od, od + n, (size_t)hist * sizeof *od);
}

/* ---- the curves at the oversampled rate ---------------------------------- */

/* The bit pattern x in every lane. */
static inline VI HOT(splat_bits)(int32_t x)
{
	VI v;
	for (int l = 0; l < SAT_W; l++)
		v[l] = x;
	return v;
}

/* a where mask is set, else b (lane by lane). */
static inline VF HOT(select)(VI mask, VF a, VF b)
{
	return (VF)((mask & (VI)a) | (~mask & (VI)b));
}

/* 1 / x to about 23 bits. On x86 the divider is the bottleneck of the
 * kernels (one divps per 3.5 cycles), so the 12-bit estimate is refined
 * by one Newton step instead. */
static inline VF HOT(reciprocal)(VF x)
{
#if SAT_W == 8
	VF r = (VF)_mm256_rcp_ps((__m256)x);
	return r * (2.0f - x * r);
#elif defined(__SSE__)
	VF r = (VF)_mm_rcp_ps((__m128)x);
	return r * (2.0f - x * r);
#else
	return 1.0f / x;
#endif
}

/* Lane minimum and maximum (x86: b where either is NaN). */
static inline VF HOT(vmin)(VF a, VF b)
{
#if SAT_W == 8
	return (VF)_mm256_min_ps((__m256)a, (__m256)b);
#elif defined(__SSE__)
	return (VF)_mm_min_ps((__m128)a, (__m128)b);
#else
	return HOT(select)(a < b, a, b);
#endif
}

static inline VF HOT(vmax)(VF a, VF b)
{
#if SAT_W == 8
	return (VF)_mm256_max_ps((__m256)a, (__m256)b);
#elif defined(__SSE__)
	return (VF)_mm_max_ps((__m128)a, (__m128)b);
#else
	return HOT(select)(a > b, a, b);
#endif
}

/* x held within [lo, hi]. */
static inline VF HOT(clamp)(VF x, VF lo, VF hi)
{
	return HOT(vmin)(HOT(vmax)(x, lo), hi);
}

/* The ADAA mean of f(clamp(x)) over [x0, x1], from u = clamp(x), the
 * divided difference D of the antiderivative inside the range, and
 * `outside`, the change of the antiderivative's parts beyond the edges.
 * When x1 == x0 the mean is f itself, which D is. RT */
static inline VF HOT(adaa_mean)(VF x0, VF x1, VF u0, VF u1, VF d, VF outside)
{
	VF du = u1 - u0;
	VF den = du + ((x1 - u1) - (x0 - u0));
	/* the lanes where den is 0 divide by 0 and are dropped */
	return HOT(select)(den == 0.0f, d, (du * d + outside) * HOT(reciprocal)(den));
}

/* Beyond an edge the antiderivative is linear with slope f(edge), so the
 * parts beyond the edges change by (o1+ - o0+) f_hi + (o1- - o0-) f_lo,
 * o = x - u split into its positive and negative parts. Two samples deep
 * in the same clip make exactly (o1 - o0) f(edge), the same difference
 * as in the denominator: the mean is the clip level. */
static inline VF HOT(beyond_edges)(VF o0, VF o1, VF f_lo, VF f_hi)
{
	const VF zero = HOT(splat)(0.0f);
	return (HOT(vmax)(o1, zero) - HOT(vmax)(o0, zero)) * f_hi +
	       (HOT(vmin)(o1, zero) - HOT(vmin)(o0, zero)) * f_lo;
}

/* |x|, by clearing the sign bit. */
static inline VF HOT(abs)(VF x)
{
	return (VF)((VI)x & HOT(splat_bits)(0x7fffffff));
}

/* Coefficient k of a gliding curve for the SAT_W oversampled samples
 * from i (SAT_OS per frame, so a vector may span frames). */
static inline VF HOT(ramp_coef)(const float (*ramp)[SAT_NCURVE], int i, int k)
{
	VF v;
	for (int l = 0; l < SAT_W; l++)
		v[l] = ramp[(i + l) / SAT_OS][k];
	return v;
}

/* For a straight curve the ADAA mean is the two-point mean (x0 + x1) / 2,
 * a low-pass of cos(pi f / 4 rate): -0.12 dB at 10 kHz, -0.48 dB at 20
 * kHz. The 4-tap FIR [-b, 1/2 + b, 1/2 + b, -b], b = SAT_FLAT_B, lifts
 * it back: the pair is flat within +-0.017 dB up to 20 kHz at 48 kHz
 * (least maximum error; b = 0.1278 at 8x gives +-0.001 dB) and, both
 * being symmetric, is a pure delay of 2 oversampled samples, which the
 * decimator phases turn into whole frames. n is a multiple of SAT_W;
 * y[-3..-1] hold the end of the previous chunk. RT */
static void HOT(flatten)(const float *restrict y, float *restrict out, int n)
{
	const VF outer = HOT(splat)(-SAT_FLAT_B), inner = HOT(splat)(0.5f + SAT_FLAT_B);
	for (int i = 0; i < n; i += SAT_W)
		HOT(store)(out + i, outer * (HOT(load)(y + i) + HOT(load)(y + i - 3)) +
				    inner * (HOT(load)(y + i - 1) + HOT(load)(y + i - 2)));
}

/* Saturation kernel (arguments as for clip_kernel below): the odd
 * polynomial on [-1, 1]. Its antiderivative G is even, so with A = u1^2,
 * B = u0^2, D = (u0 + u1) * sum C_2j h_(j-1)(A, B) where h_m(A, B) =
 * (A^(m+1) - B^(m+1)) / (A - B) follows h_m = (A + B) h_(m-1) -
 * A B h_(m-2). RT */
static void HOT(saturation_kernel)(const float *restrict x, float *restrict y, int n)
{
	const VF one = HOT(splat)(1.0f), minus = HOT(splat)(-1.0f);
	const VF c2 = HOT(splat)((float)(sat_c[0] / 2)), c4 = HOT(splat)((float)(sat_c[1] / 4));
	const VF c6 = HOT(splat)((float)(sat_c[2] / 6)), c8 = HOT(splat)((float)(sat_c[3] / 8));
	const VF c10 = HOT(splat)((float)(sat_c[4] / 10));
	for (int i = 0; i < n; i += SAT_W) {
		VF x0 = HOT(load)(x + i - 1), x1 = HOT(load)(x + i);
		VF u0 = HOT(clamp)(x0, minus, one), u1 = HOT(clamp)(x1, minus, one);
		VF a = u1 * u1, b = u0 * u0, s = a + b, p = a * b;
		VF h2 = s * s - p, h3 = s * h2 - p * s, h4 = s * h3 - p * h2;
		VF d = (u0 + u1) * (c2 + c4 * s + c6 * h2 + c8 * h3 + c10 * h4);
		/* f = +-1 beyond the edges: the parts there are |o| */
		VF v = HOT(adaa_mean)(x0, x1, u0, u1, d, HOT(abs)(x1 - u1) - HOT(abs)(x0 - u0));
		HOT(store)(y + i, v);
	}
}

/* Distortion: the identity on [lo, hi], so D = (u0 + u1) / 2. `ramp`
 * (per frame: lo, hi) while the thresholds glide, else NULL. RT */
static inline __attribute__((always_inline)) void HOT(clip_kernel_body)(const float *restrict x, float *restrict y, int n,
					 const float *fixed, const float (*ramp)[SAT_NCURVE])
{
	VF lo = HOT(splat)(fixed[0]), hi = HOT(splat)(fixed[1]), half = HOT(splat)(0.5f);
	for (int i = 0; i < n; i += SAT_W) {
		if (ramp) {
			lo = HOT(ramp_coef)(ramp, i, 0);
			hi = HOT(ramp_coef)(ramp, i, 1);
		}
		VF x0 = HOT(load)(x + i - 1), x1 = HOT(load)(x + i);
		VF u0 = HOT(clamp)(x0, lo, hi), u1 = HOT(clamp)(x1, lo, hi);
		VF v = HOT(adaa_mean)(x0, x1, u0, u1, half * (u0 + u1),
				      HOT(beyond_edges)(x0 - u0, x1 - u1, lo, hi));
		HOT(store)(y + i, v);
	}
}

/* The Chebyshev curve: G(v) = sum_k C_k v^k (k = 2..7, no constant or
 * linear term since f(0) = 0), D = sum C_k h_(k-1)(u0, u1) with the
 * complete homogeneous polynomials h_m = s h_(m-1) - p h_(m-2), s = u0 +
 * u1, p = u0 u1. c: C2..C7, f(-1), f(1). `terms` 3 leaves out C5..C7,
 * for the curves made of h1..h3 alone: they are exactly 0 then, adding
 * them changes nothing but the sign of a zero, and the final + 0 makes
 * every zero +0 in both forms, so both give the same bits. RT */
static inline __attribute__((always_inline)) VF HOT(chebyshev_mean)(VF x0, VF x1, VF u0, VF u1, const VF *c,
								   const int terms)
{
	const VF zero = HOT(splat)(0.0f);
	VF s = u0 + u1, p = u0 * u1;
	VF h2 = s * s - p, h3 = s * h2 - p * s;
	VF d = c[0] * s + c[1] * h2 + c[2] * h3;
	if (terms > 3) {
		VF h4 = s * h3 - p * h2, h5 = s * h4 - p * h3, h6 = s * h5 - p * h4;
		d = d + c[3] * h4;
		d = d + c[4] * h5;
		d = d + c[5] * h6;
	}
	d = d + zero;
	return HOT(adaa_mean)(x0, x1, u0, u1, d, HOT(beyond_edges)(x0 - u0, x1 - u1, c[6], c[7]));
}

/* The points curve, a cubic a + b u + c u^2 + d u^3 on each segment
 * [x_k, x_k + 1/4] (pc: a, b, c, d per segment, then f(-1), f(1)). The
 * integral over [u0, u1] is summed segment by segment, each covered part
 * as its length times the piece's mean over it, (G(hi) - G(lo)) / (hi -
 * lo) = a + b s / 2 + c (lo^2 + lo hi + hi^2) / 3 + d s (lo^2 + hi^2) / 4
 * with s = lo + hi: no difference of nearly equal values anywhere, so a
 * short step costs no precision. Where x0 == x1 the mean is f itself: the
 * piece that holds u1. RT */
static inline __attribute__((always_inline)) VF HOT(points_mean)(VF x0, VF x1, VF u0, VF u1, const VF *pc)
{
	const VF zero = HOT(splat)(0.0f), half = HOT(splat)(0.5f);
	const VF third = HOT(splat)(1.0f / 3.0f), quarter = HOT(splat)(0.25f);
	VF below = HOT(vmin)(u0, u1), above = HOT(vmax)(u0, u1);
	VF sum = zero, value = zero;
	for (int k = 0; k < WS_NSEGS; k++) {
		const VF *q = pc + 4 * k;
		VF from = HOT(splat)(-1.0f + WS_STEP * (float)k);
		VF to = HOT(splat)(k + 1 < WS_NSEGS ? -1.0f + WS_STEP * (float)(k + 1) : 2.0f);
		VF lo = HOT(vmax)(below, from), hi = HOT(vmin)(above, to);
		VF len = HOT(vmax)(hi - lo, zero);
		VF s = lo + hi, lo2 = lo * lo, hi2 = hi * hi;
		VF mean = q[0] + half * q[1] * s + third * q[2] * (lo2 + lo * hi + hi2) +
			  quarter * q[3] * s * (lo2 + hi2);
		sum += len * mean;
		VF f = q[0] + u1 * (q[1] + u1 * (q[2] + u1 * q[3]));
		value = HOT(select)((u1 >= from) & (u1 < to), f, value);
	}
	VF integral = HOT(select)(u1 >= u0, sum, -sum);
	VF outside = HOT(beyond_edges)(x0 - u0, x1 - u1, pc[4 * WS_NSEGS], pc[4 * WS_NSEGS + 1]);
	VF den = (u1 - u0) + ((x1 - u1) - (x0 - u0));
	return HOT(select)(den == 0.0f, value, (integral + outside) * HOT(reciprocal)(den));
}

/* Waveshaper: the Chebyshev curve (mode 0), the points curve (1), or
 * while the mode changes both, weighted by the blend w (the mean of a
 * weighted sum of curves is the weighted sum of their means; w = 0 or 1
 * gives the one curve's result exactly). `ramp` while the curve glides,
 * else NULL. RT */
static inline __attribute__((always_inline)) void HOT(shaper_kernel_body)(const float *restrict x, float *restrict y, int n,
					   const float *fixed, const float (*ramp)[SAT_NCURVE],
					   const int mode, const int terms)
{
	const VF one = HOT(splat)(1.0f), minus = HOT(splat)(-1.0f);
	VF c[SAT_NCURVE];
	for (int k = 0; k < SAT_NCURVE; k++)
		c[k] = HOT(splat)(fixed[k]);
	for (int i = 0; i < n; i += SAT_W) {
		if (ramp)
			for (int k = 0; k < SAT_NCURVE; k++)
				if ((mode != 1 && k < CURVE_PTS) || (mode != 0 && k >= CURVE_PTS))
					c[k] = HOT(ramp_coef)(ramp, i, k);
		VF x0 = HOT(load)(x + i - 1), x1 = HOT(load)(x + i);
		VF u0 = HOT(clamp)(x0, minus, one), u1 = HOT(clamp)(x1, minus, one);
		VF v;
		if (mode == 0) {
			v = HOT(chebyshev_mean)(x0, x1, u0, u1, c + CURVE_CHEB, terms);
		} else if (mode == 1) {
			v = HOT(points_mean)(x0, x1, u0, u1, c + CURVE_PTS);
		} else {
			VF w = c[CURVE_BLEND];
			v = (one - w) * HOT(chebyshev_mean)(x0, x1, u0, u1, c + CURVE_CHEB, 6) +
			    w * HOT(points_mean)(x0, x1, u0, u1, c + CURVE_PTS);
		}
		HOT(store)(y + i, v);
	}
}

/* One channel's chunk of m frames through the curve: x (read only) to
 * ch->wet, and into the dry delay. drive holds a value per frame;
 * curve_ramp is NULL while the curve rests. RT */
static void HOT(channel_shape)(struct shaper *s, struct shaper_channel *ch, const float *restrict x,
			       uint32_t frames, const float *drive, const float (*curve_ramp)[SAT_NCURVE])
{
	const int m = (int)frames;
	float *in = ch->up[0] + s->hb[0].taps - 1;
	/* the driven input, held within +-lim (NaN becomes -lim) */
	const VF lo = HOT(splat)(-SAT_LIMIT), hi = HOT(splat)(SAT_LIMIT);
	int i = 0;
	for (; i + SAT_W <= m; i += SAT_W)
		HOT(store)(in + i, HOT(clamp)(HOT(load)(x + i) * HOT(load)(drive + i), lo, hi));
	for (; i < m; i++) {
		float v = x[i] * drive[i];
		v = v > -SAT_LIMIT ? v : -SAT_LIMIT;
		in[i] = v < SAT_LIMIT ? v : SAT_LIMIT;
	}
	memcpy(ch->dry + s->latency, x, (size_t)m * sizeof *x);

	/* up to the oversampled rate: each stage's output is the next one's input */
	float *xs = ch->xs + SAT_LEAD, *ys = ch->ys + SAT_LEAD;
	int len = m;
	for (int k = 0; k < SAT_STAGES; k++) {
		float *out = k + 1 < SAT_STAGES ? ch->up[k + 1] + s->hb[k + 1].taps - 1 : xs;
		HOT(halfband_up)(&s->hb[k], ch->up[k], out, len);
		len *= 2;
	}
	/* the kernels run whole vectors: a partial last one reads zeros */
	int whole = (len + SAT_W - 1) / SAT_W * SAT_W;
	memset(xs + len, 0, (size_t)(whole - len) * sizeof *xs);

	float fixed[SAT_NCURVE];
	const int used = s->kind == KIND_WAVESHAPER ? SAT_NCURVE : s->kind == KIND_DISTORTION ? 2 : 0;
	for (int k = 0; k < used; k++)
		fixed[k] = s->curve[k].cur;
	switch (s->kind) {
	case KIND_SATURATION:
		HOT(saturation_kernel)(xs, ys, whole);
		break;
	case KIND_DISTORTION:
		if (curve_ramp)
			HOT(clip_kernel_body)(xs, ys, whole, fixed, curve_ramp);
		else
			HOT(clip_kernel_body)(xs, ys, whole, fixed, NULL);
		break;
	case KIND_WAVESHAPER: {
		/* one curve while the blend rests at 0 or 1, both while it moves */
		const int mode = s->ws_mode;
		if (curve_ramp) {
			if (mode == 0)
				HOT(shaper_kernel_body)(xs, ys, whole, fixed, curve_ramp, 0, 6);
			else if (mode == 1)
				HOT(shaper_kernel_body)(xs, ys, whole, fixed, curve_ramp, 1, 6);
			else
				HOT(shaper_kernel_body)(xs, ys, whole, fixed, curve_ramp, 2, 6);
		} else {
			bool cubic = fixed[CURVE_CHEB + 3] == 0.0f && fixed[CURVE_CHEB + 4] == 0.0f &&
				     fixed[CURVE_CHEB + 5] == 0.0f;
			if (mode == 0 && cubic)
				HOT(shaper_kernel_body)(xs, ys, whole, fixed, NULL, 0, 3);
			else if (mode == 0)
				HOT(shaper_kernel_body)(xs, ys, whole, fixed, NULL, 0, 6);
			else if (mode == 1)
				HOT(shaper_kernel_body)(xs, ys, whole, fixed, NULL, 1, 6);
			else
				HOT(shaper_kernel_body)(xs, ys, whole, fixed, NULL, 2, 6);
		}
		break;
	}
	}
	/* the inputs are spent: the flattened signal takes their place; the
	 * last SAT_CARRY of each are what the next chunk looks back at */
	memcpy(xs - SAT_CARRY, xs + len - SAT_CARRY, SAT_CARRY * sizeof *xs);
	HOT(flatten)(ys, xs, whole);
	memcpy(ys - SAT_CARRY, ys + len - SAT_CARRY, SAT_CARRY * sizeof *ys);

	/* and down again */
	float *src = xs;
	float tmp[SAT_CHUNK << (SAT_STAGES - 1)];
	for (int k = SAT_STAGES - 1; k >= 0; k--) {
		len /= 2;
		float *out = k > 0 ? tmp : ch->wet;
		HOT(halfband_down)(&s->hb[k], ch->ev[k], ch->od[k], src, out, len);
		src = out;
	}
}

/* The one-pole filters after the curve on the wet signal of `count`
 * channels (1 or 2, a constant where inlined, so the states stay in
 * registers and the two recursions overlap): for the distortion the TPT
 * low-pass y = G x + (1 - G) s with its state s' = 2 y - s folded to s' =
 * 2G x + (1 - 2G) s (a shorter dependency chain), then for both the DC
 * blocker y = x - x1 + r y1. tone_ramp is NULL while the tone rests (the
 * same arithmetic with G fixed). RT */
static inline __attribute__((always_inline)) void
HOT(post_filters)(const struct shaper *s, struct shaper_channel *const *chs, const int count, int m,
		  const float *tone_ramp)
{
	float ts[2] = {0}, dx[2] = {0}, dy[2] = {0}, *wet[2] = {NULL, NULL};
	const float r = s->dc_r;
	for (int c = 0; c < count; c++) {
		ts[c] = chs[c]->tone_s;
		dx[c] = chs[c]->dc_x;
		dy[c] = chs[c]->dc_y;
		wet[c] = chs[c]->wet;
	}
	if (s->kind == KIND_DISTORTION) {
		float g = s->tone.cur, keep = 1.0f - g, g2 = 2.0f * g, keep2 = 1.0f - 2.0f * g;
		for (int i = 0; i < m; i++) {
			if (tone_ramp) {
				g = tone_ramp[i];
				keep = 1.0f - g;
				g2 = 2.0f * g;
				keep2 = 1.0f - 2.0f * g;
			}
#pragma GCC unroll 2
			for (int c = 0; c < count; c++) {
				float in = wet[c][i];
				float y = g * in + keep * ts[c];
				ts[c] = g2 * in + keep2 * ts[c];
				dy[c] = (y - dx[c]) + r * dy[c];
				dx[c] = y;
				wet[c][i] = dy[c];
			}
		}
	} else {
		for (int i = 0; i < m; i++) {
#pragma GCC unroll 2
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
static void HOT(channel_mix)(const struct shaper *s, struct shaper_channel *ch, float *restrict x, int m,
			     const float *wet_gain, const float *dry_gain)
{
	const float *wet = ch->wet;
	int i;
	const float *dry = ch->dry;
	for (i = 0; i + SAT_W <= m; i += SAT_W)
		HOT(store)(x + i, HOT(load)(wet_gain + i) * HOT(load)(wet + i) +
				  HOT(load)(dry_gain + i) * HOT(load)(dry + i));
	for (; i < m; i++)
		x[i] = wet_gain[i] * wet[i] + dry_gain[i] * dry[i];
	memmove(ch->dry, ch->dry + m, s->latency * sizeof *ch->dry);
}

/* One chunk of m frames of every channel at buf[c] + off: the curve, the
 * filters after it, the mix. tone and curve are NULL while they rest. RT */
static void HOT(run_chunk)(struct shaper *s, float *const *buf, uint32_t off, uint32_t m,
			   const float *tone, const float (*curve)[SAT_NCURVE])
{
	for (int c = 0; c < s->channels; c++)
		HOT(channel_shape)(s, &s->ch[c], buf[c] + off, m, s->drive_ramp, curve);
	if (s->kind != KIND_SATURATION) {
		int c = 0;
		for (; c + 2 <= s->channels; c += 2) {
			struct shaper_channel *pair[2] = {&s->ch[c], &s->ch[c + 1]};
			if (tone)
				HOT(post_filters)(s, pair, 2, (int)m, tone);
			else
				HOT(post_filters)(s, pair, 2, (int)m, NULL);
		}
		if (c < s->channels) {
			struct shaper_channel *one[1] = {&s->ch[c]};
			HOT(post_filters)(s, one, 1, (int)m, tone);
		}
	}
	for (int c = 0; c < s->channels; c++)
		HOT(channel_mix)(s, &s->ch[c], buf[c] + off, (int)m, s->wet_ramp, s->dry_ramp);
}

#undef VF
#undef VI

#endif /* SAT_HOT */
