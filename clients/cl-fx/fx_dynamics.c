/*
 * Dynamics: compressor, limiter, expander and gate.
 *
 * All four work on one detector signal per frame, linked over the
 * channels (the largest square among them), so every channel gets the
 * same gain and the stereo image never moves. Levels and gains live in
 * the log domain (dB): a gain computer maps the level to a gain reduction
 * in dB, a one-pole smoother shapes it in time, and the gain is 2^x of the
 * result. Time constants are one-pole constants: a step of gain reduction
 * (in dB) covers 1 - 1/e (63.2 %) of its way in one time constant.
 * log2 and exp2 are short polynomials on the float's mantissa (about 1e-6
 * dB), exact at 0 dB, so a signal the effect leaves alone passes bit for
 * bit. There is no transcendental call per sample; coefficients change in
 * set().
 *
 * Compressor (after Giannoulis, Massberg and Reiss, "Digital dynamic range
 * compressor design - a tutorial and analysis", JAES 2012). Level: peak
 * (the linked square of the frame) or RMS (that square through a 10 ms
 * one-pole mean; for identical channels it is their RMS).
 * Gain computer: their static curve with the quadratic soft knee of width
 * W around the threshold T, ratio R:
 *   gr = 0                                 for 2 (x - T) < -W
 *   gr = (1 - 1/R) (x - T + W/2)^2 / (2W)  for |2 (x - T)| <= W
 *   gr = (1 - 1/R) (x - T)                 above.
 * Detector: on the gain reduction in dB (their log-domain placement), a
 * peak stage with instant rise and exponential release, p = max(gr,
 * p + a_rel (gr - p)), in series with an attack stage that follows p up
 * exponentially and down at once. It is their smooth decoupled detector
 * with the attack stage made one-sided, so that a steady tone reads at its
 * crest (the release hardly sags between crests) while attack and release
 * remain single exponentials with exactly the set time constants (the
 * symmetric decoupled form would stretch the release by the attack).
 *
 * Limiter. Look-ahead brickwall: the required gain of a frame is
 * min(1, ceiling / peak); its sliding minimum over the look-ahead window
 * of L + 1 frames (van Herk / Gil-Werman: a running minimum of the current
 * block of L + 1 frames and suffix minima of the previous one, so noise
 * costs what silence costs), a one-pole release (rises only, in linear
 * gain), and a moving average over the same L + 1 frames give the gain
 * applied to the frame delayed by L. Each of the L + 1 averaged values was the minimum
 * over a window containing that delayed frame, so their average cannot
 * exceed the gain it requires: no sample exceeds the ceiling, and the gain
 * comes down on a smooth ramp of L frames that ends on the peak. The
 * average is kept in integers (gains quantised down to 2^-24) so it never
 * drifts, and a final clamp at the frame's ceiling catches float rounding
 * (it never moves a sample by more than a few ulps). A new look-ahead
 * builds a second gain path from the history and crossfades from the old
 * delay tap to the new one in 20 ms; latency() reports the tap that
 * carries most of the signal. The release stage is the loop's critical
 * path, so it is written as one multiply-add and a min (rel = min(m, (1 -
 * a) rel + a m)), and the last 1e-9 of the way is landed on the value
 * that is averaged, not on the state; the limiter's process() is also
 * compiled with AVX2 and FMA, picked at create() where the CPU has them
 * (CL_FX_SIMD=baseline forces the portable copy).
 *
 * Expander. Level: the largest square of the last 10 ms (a sliding
 * maximum, van Herk / Gil-Werman again), so a steady tone down to 50 Hz
 * reads at its crest without ripple. Gain
 * reduction (R - 1)(T - x) below the threshold, at most -range. It is
 * smoothed with the attack (opening) or the release (closing) constant.
 *
 * Gate. Opens when a sample reaches the threshold, stays open while the
 * signal still reaches threshold - hysteresis, and closes when that has
 * not happened for `hold` (at least 10 ms, so that the gaps between the
 * crests of a tone down to 50 Hz do not chatter). Its gain (0 dB open,
 * `range` closed) moves with the attack (opening) or release (closing)
 * constant.
 *
 * Threshold, ratio, knee, makeup, range and ceiling glide linearly to a
 * new value over 20 ms (per sample while they move), so a change never
 * jumps the gain faster than the attack. Frames are processed in chunks of
 * DYN_CHUNK through scratch lines in the instance: the stateless stages
 * (level, log2, gain computer, exp2, gain) are vector passes over a chunk,
 * the recursive ones (detectors, sliding extremes) one tight scalar loop.
 * Every stage is per sample and the vector passes run over whole 4-lane
 * groups whatever the chunk's length, so the output does not depend on
 * how a signal is cut into blocks (bit for bit). A chunk that provably
 * needs no gain (compressor: quiet and at rest; expander: loud and open;
 * gate: open) skips the log, exp and multiply passes.
 */
#include "effect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_simd.h"

#if defined(__x86_64__) || defined(__i386__)
#define DYN_X86 1
#endif

#define DYN_CHUNK 64                 /* frames per pass over the scratch lines */
#define DYN_GLIDE_MS 20.0f           /* threshold, ratio, knee, makeup, range, ceiling */
#define DYN_RMS_MS 10.0f             /* mean-square window of the compressor's RMS mode */
#define DYN_SQ_FLOOR 1e-30f          /* -300 dB: log2 stays finite, no denormals */
#define DYN_SQ_CEIL 1e30f            /* keeps state finite under absurd input */
#define DYN_GR_SNAP 1e-6f            /* dB of gain reduction that count as none */
#define DB_PER_LOG2_POWER 3.01029995664f   /* 10 log10(2): dB per octave of power */
#define LOG2_PER_DB 0.166096404744f        /* 1 / (20 log10(2)): amplitude dB -> log2 */
#define EXP_PEAK_MS 10.0f            /* expander: sliding-max window of the level */
#define GATE_MIN_HOLD_MS 10.0f       /* gate: shortest hold (crest gaps of 50 Hz) */
#define LIM_MAX_LOOKAHEAD_MS 10.0f
#define LIM_FADE_MS 20.0f            /* crossfade between look-ahead taps */
#define LIM_MARGIN (1.0f - 1.0f / 1048576.0f) /* required gain aimed 2^-20 low */
#define LIM_Q_ONE 16777216.0f        /* 2^24: gain 1.0 in the integer average */
#define LIM_SNAP 1e-9               /* release: close enough to land */

/* ------------------------------------------------------------------ */
/* Shared helpers. */

/* fminf/fmaxf are library calls at -O2 (their NaN rule has no SSE
 * instruction); these compile to minss/maxss. b wins when a is NaN. */
static inline float min_f(float a, float b)
{
	return a < b ? a : b;
}

/* See min_f. */
static inline float max_f(float a, float b)
{
	return a > b ? a : b;
}

/* The double max_f. */
static inline double max_d(double a, double b)
{
	return a > b ? a : b;
}

/* The double min_f. */
static inline double min_d(double a, double b)
{
	return a < b ? a : b;
}

/* log2(x) for normal floats x > 0, within 1.2e-7 (7e-7 dB). RT */
static inline v4f v4_log2(v4f x)
{
	v4i bits = (v4i)x;
	/* Split x = m 2^e with m in [2/3, 4/3): the polynomial then only has
	 * to cover log2(1 + t) for |t| <= 1/3, and log2(1) is exactly 0. */
	v4i e = (bits - 0x3f2aaaab) >> 23;
	v4f t = (v4f)(bits - (v4i)((v4u)e << 23)) - 1.0f;
	/* Chebyshev fit of log2(1 + t) / t on [-1/3, 1/3], degree 7. */
	v4f q = t * -0.216992352f + 0.24672696f;
	q = q * t - 0.237799677f;
	q = q * t + 0.285604463f;
	q = q * t - 0.360733577f;
	q = q * t + 0.480964581f;
	q = q * t - 0.721347312f;
	q = q * t + 1.44269481f;
	return __builtin_convertvector(e, v4f) + t * q;
}

/* 2^x, x clamped to [-125, 125] (NaN gives 2^125: never fed one), relative
 * error 5e-9 before rounding; exactly 1 at 0. RT */
static inline v4f v4_exp2(v4f x)
{
	x = v4f_min(v4f_max(x, (v4f){-125.0f, -125.0f, -125.0f, -125.0f}),
		    (v4f){125.0f, 125.0f, 125.0f, 125.0f});
	/* Round to the nearest integer by pushing the fraction out of the
	 * mantissa (1.5 * 2^23), so the polynomial covers [-1/2, 1/2]. */
	v4f r = (x + 12582912.0f) - 12582912.0f;
	v4f f = x - r;
	v4f scale = (v4f)((__builtin_convertvector(r, v4i) + 127) << 23);
	/* Chebyshev fit of (2^f - 1) / f on [-1/2, 1/2], degree 5. */
	v4f q = f * 0.000154531629f + 0.00133908634f;
	q = q * f + 0.00961808256f;
	q = q * f + 0.0555035711f;
	q = q * f + 0.240226508f;
	q = q * f + 0.693147188f;
	return scale * (1.0f + f * q);
}

/* One-pole coefficient (the fraction of the remaining way covered per
 * frame) of time constant ms at rate. The smoothers that use it keep
 * their state in double: a float state moving toward a value other than
 * 0 stalls once a step is under half an ulp, which with the slowest
 * settings at 192 kHz is 0.2 dB short of the target. Not per sample. */
static double dyn_coef(float ms, uint32_t rate)
{
	return -expm1(-1000.0 / ((double)ms * rate));
}

/* Amplitude of db. Not per sample. */
static float db_to_lin(float db)
{
	return powf(10.0f, db / 20.0f);
}

/* Nearest whole number of frames in ms at rate. */
static uint32_t ms_to_frames(float ms, uint32_t rate)
{
	return (uint32_t)lrintf(ms * (float)rate / 1000.0f);
}

/* Smallest power of two >= v. */
static uint32_t next_pow2(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

/* A value that moves linearly to its target over a fixed number of frames
 * (target - step * remaining, so it lands exactly whatever the block size). */
struct glide {
	float current, target, step;
	uint32_t remaining;
};

/* Sets the value at once (create, reset). */
static void glide_jump(struct glide *g, float v)
{
	g->current = g->target = v;
	g->step = 0.0f;
	g->remaining = 0;
}

/* Starts a move from the current value to target over frames. RT */
static void glide_to(struct glide *g, float target, uint32_t frames)
{
	if (target == g->target)
		return;
	g->target = target;
	if (frames == 0) {
		glide_jump(g, target);
		return;
	}
	g->step = (target - g->current) / (float)frames;
	g->remaining = frames;
}

/* The value for the next frame. RT */
static inline float glide_next(struct glide *g)
{
	if (g->remaining) {
		g->remaining--;
		g->current = g->target - g->step * (float)g->remaining;
	}
	return g->current;
}

/* Rounds len up to a whole number of 4-lane groups: the log and exp passes
 * run over whole groups of the scratch lines (the padding is finite and
 * unused), so they do the same work per frame whatever the chunk size. */
static inline uint32_t dyn_round4(uint32_t len)
{
	return (len + 3u) & ~3u;
}

/* sq[i] = the largest x^2 over the channels of det at off + i, clamped to
 * [DYN_SQ_FLOOR, DYN_SQ_CEIL] (a NaN sample counts as silence); the
 * padding up to a 4-lane group is silence. Returns the largest sq. RT */
static float dyn_linked_power(const float *const *det, int channels, uint32_t off,
			      uint32_t len, float *restrict sq)
{
	const v4f floor4 = {DYN_SQ_FLOOR, DYN_SQ_FLOOR, DYN_SQ_FLOOR, DYN_SQ_FLOOR};
	const float *restrict x0 = det[0] + off;
	uint32_t i = 0;
	for (; i + 4 <= len; i += 4) {
		v4f x = v4f_load(x0 + i);
		v4f_store(sq + i, v4f_max(x * x, floor4));
	}
	for (; i < len; i++)
		sq[i] = max_f(x0[i] * x0[i], DYN_SQ_FLOOR);
	for (int c = 1; c < channels; c++) {
		const float *restrict xc = det[c] + off;
		for (i = 0; i + 4 <= len; i += 4) {
			v4f x = v4f_load(xc + i);
			v4f_store(sq + i, v4f_max(x * x, v4f_load(sq + i)));
		}
		for (; i < len; i++)
			sq[i] = max_f(xc[i] * xc[i], sq[i]);
	}
	for (i = len; i < dyn_round4(len); i++)
		sq[i] = DYN_SQ_FLOOR;
	const v4f ceil4 = {DYN_SQ_CEIL, DYN_SQ_CEIL, DYN_SQ_CEIL, DYN_SQ_CEIL};
	v4f top = floor4;
	for (i = 0; i < dyn_round4(len); i += 4) {
		v4f v = v4f_min(v4f_load(sq + i), ceil4);
		v4f_store(sq + i, v);
		top = v4f_max(v, top);
	}
	return max_f(max_f(top[0], top[1]), max_f(top[2], top[3]));
}

/* lev[i] = dB of the power sq[i], over whole 4-lane groups. RT */
static void dyn_power_db(const float *restrict sq, float *restrict lev, uint32_t len)
{
	for (uint32_t i = 0; i < dyn_round4(len); i += 4)
		v4f_store(lev + i, DB_PER_LOG2_POWER * v4_log2(v4f_load(sq + i)));
}

/* gain[i] = amplitude of gain[i] dB, over whole 4-lane groups. RT */
static void dyn_db_to_gain(float *restrict gain, uint32_t len)
{
	for (uint32_t i = 0; i < dyn_round4(len); i += 4)
		v4f_store(gain + i, v4_exp2(v4f_load(gain + i) * LOG2_PER_DB));
}

/* buf[c][off + i] *= gain[i] for every channel. RT */
static void dyn_apply(float *const *buf, int channels, uint32_t off, uint32_t len,
		      const float *restrict gain)
{
	for (int c = 0; c < channels; c++) {
		float *restrict x = buf[c] + off;
		uint32_t i = 0;
		for (; i + 4 <= len; i += 4)
			v4f_store(x + i, v4f_load(x + i) * v4f_load(gain + i));
		for (; i < len; i++)
			x[i] *= gain[i];
	}
}

/* The detector input: the sidechain when it is wanted and given, else the
 * signal itself. RT */
static const float *const *dyn_detector(float *const *buf, const float *const *sc,
					int channels, bool use_sidechain)
{
	if (!use_sidechain || sc == NULL)
		return (const float *const *)buf;
	for (int c = 0; c < channels; c++)
		if (sc[c] == NULL)
			return (const float *const *)buf;
	return sc;
}

/* ------------------------------------------------------------------ */
/* Compressor */

enum {
	COMP_THRESHOLD, COMP_RATIO, COMP_KNEE, COMP_ATTACK, COMP_RELEASE,
	COMP_MAKEUP, COMP_DETECT, COMP_SIDECHAIN, COMP_NPARAMS
};

static const struct fx_param comp_params[COMP_NPARAMS] = {
	[COMP_THRESHOLD] = {"threshold", "dB", -60.0f, 0.0f, -20.0f, FX_LINEAR,
			    "level above which the gain is reduced"},
	[COMP_RATIO] = {"ratio", ":1", 1.0f, 20.0f, 4.0f, FX_LOG,
			"dB of input over the threshold per dB of output"},
	[COMP_KNEE] = {"knee", "dB", 0.0f, 24.0f, 0.0f, FX_LINEAR,
		       "width of the soft knee centred on the threshold (0 = hard)"},
	[COMP_ATTACK] = {"attack", "ms", 0.1f, 200.0f, 5.0f, FX_LOG,
			 "time for a rise of gain reduction to go 63% of its way"},
	[COMP_RELEASE] = {"release", "ms", 5.0f, 2000.0f, 50.0f, FX_LOG,
			  "time for a fall of gain reduction to go 63% of its way"},
	[COMP_MAKEUP] = {"makeup", "dB", 0.0f, 24.0f, 0.0f, FX_LINEAR,
			 "gain added after the compression"},
	[COMP_DETECT] = {"detect", "", 0.0f, 1.0f, 0.0f, FX_CHOICE,
			 "0 = peak, 1 = rms (10 ms mean square)"},
	[COMP_SIDECHAIN] = {"sidechain", "", 0.0f, 1.0f, 0.0f, FX_TOGGLE,
			    "1 = the detector listens to the external sidechain input"},
};

struct comp {
	uint32_t rate;
	int channels;
	uint32_t glide_frames;
	float param[COMP_NPARAMS];
	struct glide threshold, slope, knee, makeup; /* slope = 1 - 1/ratio */
	double a_attack, a_release, a_rms;
	bool rms, use_sidechain;
	bool seed_ms;    /* RMS mode just chosen: start the mean at the signal */
	float idle_sq;   /* under this power the static curve is surely 0 dB */
	double ms;       /* RMS mode: mean square */
	double peak_gr;  /* detector: peak stage (dB of gain reduction) */
	double gr;       /* detector: output, after the attack stage */
	float sq[DYN_CHUNK], lev[DYN_CHUNK], gain[DYN_CHUNK];
};

/* Power under which the static curve gives exactly 0 dB: 3 dB below the
 * foot of the knee, so the approximate log2 cannot land inside it. */
static float comp_idle_power(const struct comp *c)
{
	return powf(10.0f, (c->threshold.target - 0.5f * c->knee.target - 3.0f) / 10.0f);
}

/* Parameter i to value (in range). RT */
static void comp_set(void *fx, int i, float value)
{
	struct comp *c = fx;
	if (i < 0 || i >= COMP_NPARAMS || c->param[i] == value)
		return;
	c->param[i] = value;
	switch (i) {
	case COMP_THRESHOLD:
		glide_to(&c->threshold, value, c->glide_frames);
		c->idle_sq = comp_idle_power(c);
		break;
	case COMP_RATIO:
		glide_to(&c->slope, 1.0f - 1.0f / value, c->glide_frames);
		break;
	case COMP_KNEE:
		glide_to(&c->knee, value, c->glide_frames);
		c->idle_sq = comp_idle_power(c);
		break;
	case COMP_ATTACK:
		c->a_attack = dyn_coef(value, c->rate);
		break;
	case COMP_RELEASE:
		c->a_release = dyn_coef(value, c->rate);
		break;
	case COMP_MAKEUP:
		glide_to(&c->makeup, value, c->glide_frames);
		break;
	case COMP_DETECT:
		c->seed_ms |= !c->rms && value >= 0.5f;
		c->rms = value >= 0.5f;
		break;
	case COMP_SIDECHAIN:
		c->use_sidechain = value >= 0.5f;
		break;
	}
}

/* Forgets the signal: detector and RMS state back to silence, glides land. RT */
static void comp_reset(void *fx)
{
	struct comp *c = fx;
	c->ms = DYN_SQ_FLOOR;
	c->seed_ms = false;
	c->peak_gr = 0.0f;
	c->gr = 0.0f;
	glide_jump(&c->threshold, c->threshold.target);
	glide_jump(&c->slope, c->slope.target);
	glide_jump(&c->knee, c->knee.target);
	glide_jump(&c->makeup, c->makeup.target);
}

/* A compressor at its defaults; NULL on bad arguments. Not RT. */
static void *comp_create(uint32_t rate, int channels)
{
	if (rate < 1000 || rate > 1000000 || channels < 1 || channels > FX_MAX_CHANNELS)
		return NULL;
	struct comp *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->rate = rate;
	c->channels = channels;
	c->glide_frames = ms_to_frames(DYN_GLIDE_MS, rate);
	c->a_rms = dyn_coef(DYN_RMS_MS, rate);
	for (int i = 0; i < COMP_NPARAMS; i++) {
		c->param[i] = NAN;   /* differs from everything: set() applies */
		comp_set(c, i, comp_params[i].def);
	}
	comp_reset(c);
	return c;
}

/* Frees a compressor. Not RT. */
static void comp_destroy(void *fx)
{
	free(fx);
}

/* lev[i] (dB) -> lev[i] = gain reduction (dB >= 0) on the static curve;
 * per frame while a parameter glides, else with constants. RT */
static void comp_gain_computer(struct comp *c, float *restrict lev, uint32_t len)
{
	/* u is the distance into the knee; its square over 2W is the paper's
	 * quadratic, and the part of d beyond the knee adds linearly: one
	 * branch-free expression for all three segments (u = 0 with W = 0).
	 * The per-frame form does the same operations as the vector one, so
	 * a frame gets the same bits from either. */
	if (c->threshold.remaining | c->slope.remaining | c->knee.remaining) {
		for (uint32_t i = 0; i < len; i++) {
			float t = glide_next(&c->threshold);
			float s = glide_next(&c->slope);
			float w = glide_next(&c->knee);
			float half_w = 0.5f * w;
			float inv_2w = w > 0.0f ? 0.5f / w : 0.0f;
			float d = lev[i] - t;
			float u = min_f(max_f(d + half_w, 0.0f), w);
			lev[i] = s * (u * u * inv_2w + max_f(d - half_w, 0.0f));
		}
		return;
	}
	const float w = c->knee.current;
	const float half_w = 0.5f * w, inv_2w = w > 0.0f ? 0.5f / w : 0.0f;
	const v4f t4 = {c->threshold.current, c->threshold.current, c->threshold.current,
			c->threshold.current};
	const v4f zero4 = {0.0f, 0.0f, 0.0f, 0.0f}, w4 = {w, w, w, w};
	const float s = c->slope.current;
	for (uint32_t i = 0; i < dyn_round4(len); i += 4) {
		v4f d = v4f_load(lev + i) - t4;
		v4f u = v4f_min(v4f_max(d + half_w, zero4), w4);
		v4f_store(lev + i, s * (u * u * inv_2w + v4f_max(d - half_w, zero4)));
	}
}

/* The compressor over n frames of buf, detecting on det. RT */
static void comp_run(struct comp *c, float *const *buf, const float *const *det, uint32_t n)
{
	for (uint32_t off = 0; off < n; off += DYN_CHUNK) {
		uint32_t len = n - off < DYN_CHUNK ? n - off : DYN_CHUNK;
		float top = dyn_linked_power(det, c->channels, off, len, c->sq);

		/* Quiet, at rest and no glide: every stage would give 0 dB
		 * (the same bits as running them). */
		bool glides = (c->threshold.remaining | c->slope.remaining | c->knee.remaining |
			       c->makeup.remaining) != 0;
		if (!c->rms && !glides && top < c->idle_sq && c->peak_gr == 0.0 &&
		    c->gr == 0.0 && c->makeup.current == 0.0f)
			continue;

		if (c->rms) {
			/* Mean square; ms * (1 - a) + a * sq keeps the chain
			 * that carries from frame to frame to one multiply
			 * and one add. */
			if (c->seed_ms)
				c->ms = c->sq[0];
			c->seed_ms = false;
			double ms = c->ms;
			const double a = c->a_rms, keep = 1.0 - c->a_rms;
			for (uint32_t i = 0; i < len; i++) {
				ms = ms * keep + a * c->sq[i];
				c->sq[i] = (float)ms;
			}
			c->ms = ms;
		}

		dyn_power_db(c->sq, c->lev, len);
		comp_gain_computer(c, c->lev, len);

		/* p * keep + a * gr is p + a (gr - p) with one operation
		 * less on the chain that carries from frame to frame. */
		double p = c->peak_gr, y = c->gr;
		const double a_att = c->a_attack, keep_att = 1.0 - c->a_attack;
		const double a_rel = c->a_release, keep_rel = 1.0 - c->a_release;
		bool idle = true;
		for (uint32_t i = 0; i < len; i++) {
			double gr = c->lev[i];
			p = max_d(p * keep_rel + a_rel * gr, gr);   /* up at once */
			p = p < DYN_GR_SNAP ? 0.0 : p;
			y = p > y ? y * keep_att + a_att * p : p;   /* down at once */
			c->gain[i] = (float)-y;
			idle &= y == 0.0;
		}
		c->peak_gr = p;
		c->gr = y;

		if (c->makeup.remaining) {
			for (uint32_t i = 0; i < len; i++)
				c->gain[i] += glide_next(&c->makeup);
		} else if (c->makeup.current != 0.0f) {
			const float makeup = c->makeup.current;
			for (uint32_t i = 0; i < len; i++)
				c->gain[i] += makeup;
		} else if (idle) {
			continue;   /* unity gain: the signal passes untouched */
		}
		dyn_db_to_gain(c->gain, len);
		dyn_apply(buf, c->channels, off, len, c->gain);
	}
}

/* n frames in place, detecting on the signal itself. RT */
static void comp_process(void *fx, float *const *buf, uint32_t n)
{
	struct comp *c = fx;
	comp_run(c, buf, (const float *const *)buf, n);
}

/* n frames in place, detecting on sc when the sidechain toggle is on. RT */
static void comp_process_sidechain(void *fx, float *const *buf, const float *const *sc, uint32_t n)
{
	struct comp *c = fx;
	comp_run(c, buf, dyn_detector(buf, sc, c->channels, c->use_sidechain), n);
}

const struct fx_type fx_compressor = {
	.id = "compressor",
	.doc = "feed-forward compressor, log-domain detector, soft knee, peak or RMS, sidechain",
	.params = comp_params,
	.nparams = COMP_NPARAMS,
	.max_channels = FX_MAX_CHANNELS,
	.create = comp_create,
	.destroy = comp_destroy,
	.set = comp_set,
	.reset = comp_reset,
	.process = comp_process,
	.process_sidechain = comp_process_sidechain,
};

/* ------------------------------------------------------------------ */
/* Limiter */

enum { LIM_CEILING, LIM_RELEASE, LIM_LOOKAHEAD, LIM_NPARAMS };

static const struct fx_param lim_params[LIM_NPARAMS] = {
	[LIM_CEILING] = {"ceiling", "dB", -24.0f, 0.0f, -1.0f, FX_LINEAR,
			 "no output sample exceeds this level"},
	[LIM_RELEASE] = {"release", "ms", 1.0f, 1000.0f, 50.0f, FX_LOG,
			 "time for the gain to recover 63% of its way (linear gain)"},
	[LIM_LOOKAHEAD] = {"lookahead", "ms", 0.5f, LIM_MAX_LOOKAHEAD_MS, 2.0f, FX_LINEAR,
			   "look-ahead and latency: the gain ramps down over this time"},
};

/* One gain path for one look-ahead L: the sliding minimum over W = L + 1
 * frames (van Herk / Gil-Werman: time is cut into blocks of W frames from
 * the path's start; the window's minimum is the minimum of the current
 * block so far and a suffix minimum of the previous block, three
 * comparisons a frame and no branches but one per block), the release
 * stage, and the integer moving average over W frames. */
struct lim_path {
	uint32_t lookahead;
	double inv_window;    /* 1 / ((L + 1) 2^24): the sum to a gain */
	uint32_t phase;       /* frames of the current block done, 0 .. L */
	float block_min;      /* of the current block so far */
	float *suffix;        /* [max L + 2]: [j] = min of the previous block
				 from its frame j on; [L + 1] = 1 */
	int32_t *avg_line;    /* [ring] release-stage gains * 2^24, by frame */
	int64_t avg_sum;      /* sum of the last L + 1 of them */
	double rel;           /* release stage */
	double held;          /* its last value as averaged (landed when close) */
};

struct lim {
	uint32_t rate;
	bool fma;             /* run the AVX2 + FMA copy of process() */
	int channels;
	uint32_t ring, mask;  /* history length (power of two) */
	uint32_t max_lookahead, glide_frames, fade_frames;
	uint32_t pos;         /* frame number of the next input frame */
	float param[LIM_NPARAMS];
	struct glide ceiling_db;
	float ceiling;        /* linear, of the glide's target */
	double a_release;
	uint32_t want_lookahead;
	struct lim_path path[2];
	int live;             /* the path in use; the other fades in */
	bool fading;
	struct glide fade;    /* 0 -> 1: weight of path[!live] */
	float *delay[FX_MAX_CHANNELS]; /* [ring] input history */
	float *need;          /* [ring] required gain of each frame */
	float *ceil_at;       /* [ring] ceiling each frame was limited to */
	/* Scratch lines of one chunk. */
	float peak[DYN_CHUNK], ceil[DYN_CHUNK], req[DYN_CHUNK], weight[DYN_CHUNK];
	float gain[2][DYN_CHUNK];       /* of the live and the incoming path */
	float delayed[2][DYN_CHUNK];    /* one channel at either tap */
	float ceil_tap[2][DYN_CHUNK];   /* ceilings of the frames at either tap */
};

/* Parameter i to value (in range). RT */
static void lim_set(void *fx, int i, float value)
{
	struct lim *l = fx;
	if (i < 0 || i >= LIM_NPARAMS || l->param[i] == value)
		return;
	l->param[i] = value;
	switch (i) {
	case LIM_CEILING:
		glide_to(&l->ceiling_db, value, l->glide_frames);
		l->ceiling = db_to_lin(value);
		break;
	case LIM_RELEASE:
		l->a_release = dyn_coef(value, l->rate);
		break;
	case LIM_LOOKAHEAD: {
		uint32_t frames = ms_to_frames(value, l->rate);
		if (frames < 1)
			frames = 1;
		if (frames > l->max_lookahead)
			frames = l->max_lookahead;
		l->want_lookahead = frames;   /* process() starts the crossfade */
		break;
	}
	}
}

/* Quantises a gain in [0, 1] down to the integer average's steps. RT */
static inline int32_t lim_quantise(double g)
{
	return (int32_t)(g * LIM_Q_ONE);
}

/* suffix[j] = min(need[first + j .. first + W - 1]) for j < W, and
 * suffix[W] = 1 (the empty minimum: every required gain is <= 1). RT */
static void lim_suffix_min(const struct lim *l, float *restrict suffix, uint32_t first,
			   uint32_t window)
{
	float m = 1.0f;
	suffix[window] = m;
	for (uint32_t j = window; j-- > 0;) {
		m = min_f(l->need[(first + j) & l->mask], m);
		suffix[j] = m;
	}
}

/* Starts path p with look-ahead L at the current frame, from the history:
 * a block boundary here, the previous block's suffix minima from the last
 * L + 1 frames, and the release stage and the average filled with the
 * lowest gain of the last L frames and of `rel`. Filling low is what keeps
 * the ceiling: every frame still in the delay line gets a gain no higher
 * than it requires. O(L), once per look-ahead change. RT */
static void lim_path_start(struct lim *l, struct lim_path *p, uint32_t lookahead, double rel)
{
	const uint32_t mask = l->mask, s = l->pos;
	p->lookahead = lookahead;
	p->inv_window = 1.0 / ((double)(lookahead + 1) * LIM_Q_ONE);
	p->phase = 0;
	p->block_min = 1.0f;
	lim_suffix_min(l, p->suffix, s - lookahead - 1, lookahead + 1);
	double lowest = rel < p->suffix[1] ? rel : p->suffix[1];   /* frames s - L .. s - 1 */
	p->rel = p->held = lowest;
	int32_t q = lim_quantise(lowest);
	for (uint32_t k = 1; k <= lookahead + 1; k++)
		p->avg_line[(s - k) & mask] = q;
	p->avg_sum = (int64_t)q * (lookahead + 1);
}

/* Gains of path p for frames pos .. pos + len - 1 (their required gains
 * already in l->need) into gain[]. RT */
static inline __attribute__((always_inline)) void
lim_path_run(const struct lim *l, struct lim_path *restrict p, uint32_t len, float *restrict gain)
{
	const uint32_t mask = l->mask, lookahead = p->lookahead;
	const float *restrict need = l->need;
	const float *suffix = p->suffix;   /* rewritten at block ends: no restrict */
	int32_t *restrict avg_line = p->avg_line;
	uint32_t phase = p->phase;
	float block_min = p->block_min;
	int64_t sum = p->avg_sum;
	double rel = p->rel, held = p->held;
	const double a_rel = l->a_release, keep_rel = 1.0 - a_rel;
	const double inv_window = p->inv_window;
	for (uint32_t i = 0; i < len; i++) {
		uint32_t n = l->pos + i;
		/* The window n - L .. n: this block's frames so far, and the
		 * previous block's from n - L on. */
		block_min = min_f(need[n & mask], block_min);
		float m = min_f(suffix[phase + 1], block_min);
		if (++phase > lookahead) {
			lim_suffix_min(l, p->suffix, n - lookahead, lookahead + 1);
			phase = 0;
			block_min = 1.0f;
		}
		/* Rises toward m, falls to it at once: the one-pole from
		 * above m lands below it, so the min takes m. The recursion
		 * is one multiply-add and a min (the loop's critical path);
		 * the last 1e-9 of the way is taken off it, on the value that
		 * is averaged: an approach never lands by itself, and a gain
		 * a hair under 1 would quantise to 1 - 2^-24 and leave quiet
		 * signals inexact. */
		const double md = m;
		rel = min_d(rel * keep_rel + a_rel * md, md);
		held = md - rel < LIM_SNAP ? md : rel;
		int32_t q = lim_quantise(held);
		sum += q - avg_line[(n - lookahead - 1) & mask];
		avg_line[n & mask] = q;
		gain[i] = (float)((double)sum * inv_window);
	}
	p->phase = phase;
	p->block_min = block_min;
	p->avg_sum = sum;
	p->rel = rel;
	p->held = held;
}

/* Forgets the signal: silence in the delay line, unity gain, the wanted
 * look-ahead at once. RT (O(ring)). */
static void lim_reset(void *fx)
{
	struct lim *l = fx;
	glide_jump(&l->ceiling_db, l->ceiling_db.target);
	for (uint32_t k = 0; k < l->ring; k++) {
		l->need[k] = 1.0f;
		l->ceil_at[k] = l->ceiling;
	}
	for (int c = 0; c < l->channels; c++)
		memset(l->delay[c], 0, l->ring * sizeof(float));
	l->fading = false;
	glide_jump(&l->fade, 0.0f);
	lim_path_start(l, &l->path[l->live], l->want_lookahead, 1.0f);
}

/* Frees a limiter, also a half-built one. Not RT. */
static void lim_destroy(void *fx)
{
	struct lim *l = fx;
	if (l == NULL)
		return;
	for (int c = 0; c < FX_MAX_CHANNELS; c++)
		free(l->delay[c]);
	free(l->need);
	free(l->ceil_at);
	for (int k = 0; k < 2; k++) {
		free(l->path[k].suffix);
		free(l->path[k].avg_line);
	}
	free(l);
}

/* Whether this CPU runs the AVX2 + FMA copy of the limiter, unless
 * CL_FX_SIMD=baseline asks for the portable one (the unit test runs
 * both). Not RT. */
static bool dyn_cpu_has_fma(void)
{
	const char *want = getenv("CL_FX_SIMD");
	if (want && strcmp(want, "baseline") == 0)
		return false;
#ifdef DYN_X86
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
	return false;
#endif
}

/* A limiter at its defaults; NULL on bad arguments or no memory. Not RT. */
static void *lim_create(uint32_t rate, int channels)
{
	if (rate < 1000 || rate > 1000000 || channels < 1 || channels > FX_MAX_CHANNELS)
		return NULL;
	struct lim *l = calloc(1, sizeof *l);
	if (l == NULL)
		return NULL;
	l->rate = rate;
	l->channels = channels;
	l->fma = dyn_cpu_has_fma();
	l->max_lookahead = (uint32_t)ceilf(LIM_MAX_LOOKAHEAD_MS * (float)rate / 1000.0f);
	/* The history holds a window of L + 1 frames, the one leaving it,
	 * and a whole chunk written before any of it is read back. */
	l->ring = next_pow2(l->max_lookahead + DYN_CHUNK + 2);
	l->mask = l->ring - 1;
	l->glide_frames = ms_to_frames(DYN_GLIDE_MS, rate);
	l->fade_frames = ms_to_frames(LIM_FADE_MS, rate);
	bool ok = true;
	for (int c = 0; c < channels; c++)
		ok &= (l->delay[c] = calloc(l->ring, sizeof(float))) != NULL;
	ok &= (l->need = calloc(l->ring, sizeof(float))) != NULL;
	ok &= (l->ceil_at = calloc(l->ring, sizeof(float))) != NULL;
	for (int k = 0; k < 2; k++) {
		ok &= (l->path[k].suffix = calloc(l->max_lookahead + 2, sizeof(float))) != NULL;
		ok &= (l->path[k].avg_line = calloc(l->ring, sizeof(int32_t))) != NULL;
	}
	if (!ok) {
		lim_destroy(l);
		return NULL;
	}
	for (int i = 0; i < LIM_NPARAMS; i++) {
		l->param[i] = NAN;
		lim_set(l, i, lim_params[i].def);
	}
	lim_reset(l);
	return l;
}

/* Starts the crossfade to the wanted look-ahead when none is running. RT */
static void lim_follow_lookahead(struct lim *l)
{
	struct lim_path *live = &l->path[l->live];
	if (l->fading || l->want_lookahead == live->lookahead)
		return;
	lim_path_start(l, &l->path[!l->live], l->want_lookahead, live->held);
	l->fading = true;
	glide_jump(&l->fade, 0.0f);
	glide_to(&l->fade, 1.0f, l->fade_frames);
}

/* ring[(start + i) & mask] = src[i] for i < len (at most one wrap). RT */
static void ring_write(float *restrict ring, uint32_t mask, uint32_t start,
		       const float *restrict src, uint32_t len)
{
	uint32_t at = start & mask, first = mask + 1 - at;
	if (first >= len) {
		memcpy(ring + at, src, len * sizeof *src);
	} else {
		memcpy(ring + at, src, first * sizeof *src);
		memcpy(ring, src + first, (len - first) * sizeof *src);
	}
}

/* dst[i] = ring[(start + i) & mask] for i < len (at most one wrap). RT */
static void ring_read(const float *restrict ring, uint32_t mask, uint32_t start,
		      float *restrict dst, uint32_t len)
{
	uint32_t at = start & mask, first = mask + 1 - at;
	if (first >= len) {
		memcpy(dst, ring + at, len * sizeof *dst);
	} else {
		memcpy(dst, ring + at, first * sizeof *dst);
		memcpy(dst + first, ring, (len - first) * sizeof *dst);
	}
}

/* y[i] = x[i] * gain[i] clamped to +-ceil[i] (y may be x), over whole 4-lane groups
 * (the clamp is the guard against float rounding, and turns NaN into
 * -ceil). RT */
static inline __attribute__((always_inline)) void
lim_apply(float *y, const float *x, const float *restrict gain, const float *restrict ceil, uint32_t len)
{
	for (uint32_t i = 0; i < dyn_round4(len); i += 4) {
		v4f c = v4f_load(ceil + i);
		v4f v = v4f_load(x + i) * v4f_load(gain + i);
		v4f_store(y + i, v4f_min(v4f_max(v, -c), c));
	}
}

/* The body of lim_process, inlined into a copy per instruction set. RT */
static inline __attribute__((always_inline)) void lim_process_body(struct lim *l, float *const *buf,
								    uint32_t n)
{
	const uint32_t mask = l->mask;
	const int channels = l->channels;
	const v4f one4 = {1.0f, 1.0f, 1.0f, 1.0f};
	const v4f floor4 = {DYN_SQ_FLOOR, DYN_SQ_FLOOR, DYN_SQ_FLOOR, DYN_SQ_FLOOR};
	lim_follow_lookahead(l);
	for (uint32_t off = 0, len; off < n; off += len) {
		len = n - off < DYN_CHUNK ? n - off : DYN_CHUNK;
		/* A chunk ends where a fade ends, so the switch of paths (and
		 * the start of the next fade) falls on the same frame
		 * whatever the block size. */
		if (l->fading && len > l->fade.remaining)
			len = l->fade.remaining;
		const uint32_t len4 = dyn_round4(len);

		/* Linked peak, padded with silence; a NaN sample loses to
		 * the other channels (and the first one's to 0). */
		float *restrict peak = l->peak;
		const v4f zero4 = {0.0f, 0.0f, 0.0f, 0.0f};
		uint32_t i = 0;
		for (; i + 4 <= len; i += 4) {
			v4f x = v4f_load(buf[0] + off + i);
			v4f_store(peak + i, v4f_max(v4f_max(x, -x), zero4));
		}
		for (; i < len; i++)
			peak[i] = max_f(max_f(buf[0][off + i], -buf[0][off + i]), 0.0f);
		for (int c = 1; c < channels; c++) {
			const float *restrict xc = buf[c] + off;
			for (i = 0; i + 4 <= len; i += 4) {
				v4f x = v4f_load(xc + i);
				v4f_store(peak + i, v4f_max(v4f_max(x, -x), v4f_load(peak + i)));
			}
			for (; i < len; i++)
				peak[i] = max_f(max_f(xc[i], -xc[i]), peak[i]);
		}
		for (i = len; i < len4; i++)
			peak[i] = 0.0f;

		/* The ceiling of each frame: a glide in dB while it moves. */
		float *restrict ceil = l->ceil;
		if (l->ceiling_db.remaining) {
			for (i = 0; i < len; i++)
				ceil[i] = glide_next(&l->ceiling_db);
			for (; i < len4; i++)
				ceil[i] = 0.0f;
			dyn_db_to_gain(ceil, len);
		} else {
			for (i = 0; i < len4; i++)
				ceil[i] = l->ceiling;
		}

		/* Required gains. The margin aims them a hair low, so that
		 * the rounding of the average and of the product stays under
		 * the ceiling. */
		float *restrict req = l->req;
		for (i = 0; i < len4; i += 4) {
			v4f pk = v4f_max(v4f_load(peak + i), floor4);
			v4f_store(req + i, v4f_min(v4f_load(ceil + i) * LIM_MARGIN / pk, one4));
		}
		ring_write(l->need, mask, l->pos, req, len);
		ring_write(l->ceil_at, mask, l->pos, ceil, len);

		struct lim_path *live = &l->path[l->live], *next = &l->path[!l->live];
		lim_path_run(l, live, len, l->gain[0]);
		const uint32_t tap0 = live->lookahead;
		float *restrict delayed = l->delayed[0], *restrict ceil0 = l->ceil_tap[0];
		ring_read(l->ceil_at, mask, l->pos - tap0, ceil0, len);
		if (!l->fading) {
			for (int c = 0; c < channels; c++) {
				ring_write(l->delay[c], mask, l->pos, buf[c] + off, len);
				ring_read(l->delay[c], mask, l->pos - tap0, delayed, len);
				lim_apply(delayed, delayed, l->gain[0], ceil0, len);
				memcpy(buf[c] + off, delayed, len * sizeof(float));
			}
		} else {
			lim_path_run(l, next, len, l->gain[1]);
			const uint32_t tap1 = next->lookahead;
			float *restrict delayed1 = l->delayed[1], *restrict ceil1 = l->ceil_tap[1];
			ring_read(l->ceil_at, mask, l->pos - tap1, ceil1, len);
			for (i = 0; i < len; i++)
				l->weight[i] = glide_next(&l->fade);
			for (; i < len4; i++)
				l->weight[i] = 0.0f;
			for (int c = 0; c < channels; c++) {
				ring_write(l->delay[c], mask, l->pos, buf[c] + off, len);
				ring_read(l->delay[c], mask, l->pos - tap0, delayed, len);
				ring_read(l->delay[c], mask, l->pos - tap1, delayed1, len);
				lim_apply(delayed, delayed, l->gain[0], ceil0, len);
				lim_apply(delayed1, delayed1, l->gain[1], ceil1, len);
				for (i = 0; i < len4; i += 4) {
					v4f w = v4f_load(l->weight + i);
					v4f cmax = v4f_max(v4f_load(ceil0 + i), v4f_load(ceil1 + i));
					/* Exactly the old tap at w = 0 and the new at
					 * w = 1; in between no louder than the
					 * louder ceiling. */
					v4f y = v4f_load(delayed + i) * (one4 - w) +
						v4f_load(delayed1 + i) * w;
					v4f_store(delayed + i, v4f_min(v4f_max(y, -cmax), cmax));
				}
				memcpy(buf[c] + off, delayed, len * sizeof(float));
			}
			if (l->fade.remaining == 0) {
				l->live = !l->live;
				l->fading = false;
			}
		}
		l->pos += len;
		/* A fade that just ended lets a look-ahead wanted meanwhile
		 * start at once. */
		lim_follow_lookahead(l);
	}
}

/* lim_process for any CPU. RT */
static void lim_process_base(struct lim *l, float *const *buf, uint32_t n)
{
	lim_process_body(l, buf, n);
}

#ifdef DYN_X86
/* The same with AVX2 and FMA: the release recursion becomes one fused
 * multiply-add and a min, the loop's critical path. RT */
__attribute__((target("avx2,fma"))) static void lim_process_fma(struct lim *l, float *const *buf,
								 uint32_t n)
{
	lim_process_body(l, buf, n);
}
#endif

/* n frames in place; the output is the input L frames late. RT */
static void lim_process(void *fx, float *const *buf, uint32_t n)
{
	struct lim *l = fx;
#ifdef DYN_X86
	if (l->fma) {
		lim_process_fma(l, buf, n);
		return;
	}
#endif
	lim_process_base(l, buf, n);
}

/* Frames of delay the signal gets now: the tap with most of the weight. */
static uint32_t lim_latency(const void *fx)
{
	const struct lim *l = fx;
	if (l->fading && l->fade.current >= 0.5f)
		return l->path[!l->live].lookahead;
	return l->path[l->live].lookahead;
}

const struct fx_type fx_limiter = {
	.id = "limiter",
	.doc = "look-ahead brickwall limiter: no sample above the ceiling",
	.params = lim_params,
	.nparams = LIM_NPARAMS,
	.max_channels = FX_MAX_CHANNELS,
	.create = lim_create,
	.destroy = lim_destroy,
	.set = lim_set,
	.reset = lim_reset,
	.process = lim_process,
	.latency = lim_latency,
};

/* ------------------------------------------------------------------ */
/* Expander */

enum {
	EXP_THRESHOLD, EXP_RATIO, EXP_ATTACK, EXP_RELEASE, EXP_RANGE, EXP_SIDECHAIN,
	EXP_NPARAMS
};

static const struct fx_param exp_params[EXP_NPARAMS] = {
	[EXP_THRESHOLD] = {"threshold", "dB", -80.0f, 0.0f, -40.0f, FX_LINEAR,
			   "level below which the gain is reduced"},
	[EXP_RATIO] = {"ratio", ":1", 1.0f, 20.0f, 2.0f, FX_LOG,
		       "dB of output per dB of input below the threshold"},
	[EXP_ATTACK] = {"attack", "ms", 0.1f, 100.0f, 1.0f, FX_LOG,
			"time for the gain to open 63% of its way (dB)"},
	[EXP_RELEASE] = {"release", "ms", 1.0f, 2000.0f, 100.0f, FX_LOG,
			 "time for the gain to close 63% of its way (dB)"},
	[EXP_RANGE] = {"range", "dB", -80.0f, 0.0f, -40.0f, FX_LINEAR,
		       "largest attenuation"},
	[EXP_SIDECHAIN] = {"sidechain", "", 0.0f, 1.0f, 0.0f, FX_TOGGLE,
			   "1 = the detector listens to the external sidechain input"},
};

struct expander {
	uint32_t rate;
	int channels;
	uint32_t glide_frames;
	float param[EXP_NPARAMS];
	struct glide threshold, slope, depth;  /* slope = ratio - 1, depth = -range */
	double a_attack, a_release;
	bool use_sidechain;
	float idle_sq;            /* over this power the gain is surely 0 dB */
	double gr;                /* smoothed gain reduction, dB >= 0 */
	/* Sliding maximum of the power over `window` frames, van Herk /
	 * Gil-Werman as in the limiter: blocks of `window` frames. */
	uint32_t window, phase;
	float block_max;          /* of the current block so far */
	float *block;             /* [window] powers of the current block */
	float *suffix;            /* [window + 1] maxima of the previous block
				     from frame j on; [window] = floor */
	float sq[DYN_CHUNK], lev[DYN_CHUNK], gain[DYN_CHUNK];
};

/* Parameter i to value (in range). RT */
static void exp_set(void *fx, int i, float value)
{
	struct expander *e = fx;
	if (i < 0 || i >= EXP_NPARAMS || e->param[i] == value)
		return;
	e->param[i] = value;
	switch (i) {
	case EXP_THRESHOLD:
		glide_to(&e->threshold, value, e->glide_frames);
		/* 3 dB over the threshold: the approximate log2 cannot
		 * land under it. */
		e->idle_sq = powf(10.0f, (value + 3.0f) / 10.0f);
		break;
	case EXP_RATIO:
		glide_to(&e->slope, value - 1.0f, e->glide_frames);
		break;
	case EXP_ATTACK:
		e->a_attack = dyn_coef(value, e->rate);
		break;
	case EXP_RELEASE:
		e->a_release = dyn_coef(value, e->rate);
		break;
	case EXP_RANGE:
		glide_to(&e->depth, -value, e->glide_frames);
		break;
	case EXP_SIDECHAIN:
		e->use_sidechain = value >= 0.5f;
		break;
	}
}

/* Forgets the signal: the level history silent and the gain where
 * silence puts it (closed to the range unless the ratio is 1; the first
 * sound opens it with the attack), glides land. RT */
static void exp_reset(void *fx)
{
	struct expander *e = fx;
	glide_jump(&e->threshold, e->threshold.target);
	glide_jump(&e->slope, e->slope.target);
	glide_jump(&e->depth, e->depth.target);
	for (uint32_t k = 0; k <= e->window; k++)
		e->suffix[k] = DYN_SQ_FLOOR;
	e->phase = 0;
	e->block_max = DYN_SQ_FLOOR;
	/* The static curve at the floor level (-300 dB). */
	e->gr = min_f(e->slope.current * (e->threshold.current + 300.0f), e->depth.current);
}

/* Frees an expander, also a half-built one. Not RT. */
static void exp_destroy(void *fx)
{
	struct expander *e = fx;
	if (e == NULL)
		return;
	free(e->block);
	free(e->suffix);
	free(e);
}

/* An expander at its defaults; NULL on bad arguments or no memory. Not RT. */
static void *exp_create(uint32_t rate, int channels)
{
	if (rate < 1000 || rate > 1000000 || channels < 1 || channels > FX_MAX_CHANNELS)
		return NULL;
	struct expander *e = calloc(1, sizeof *e);
	if (e == NULL)
		return NULL;
	e->rate = rate;
	e->channels = channels;
	e->glide_frames = ms_to_frames(DYN_GLIDE_MS, rate);
	e->window = ms_to_frames(EXP_PEAK_MS, rate);
	if (e->window < 1)
		e->window = 1;
	e->block = calloc(e->window, sizeof(float));
	e->suffix = calloc(e->window + 1, sizeof(float));
	if (e->block == NULL || e->suffix == NULL) {
		exp_destroy(e);
		return NULL;
	}
	for (int i = 0; i < EXP_NPARAMS; i++) {
		e->param[i] = NAN;
		exp_set(e, i, exp_params[i].def);
	}
	exp_reset(e);
	return e;
}

/* sq[i] -> the largest power of the `window` frames ending at frame i;
 * returns the smallest of those. RT */
static float exp_sliding_max(struct expander *e, float *restrict sq, uint32_t len)
{
	const uint32_t window = e->window;
	float *restrict block = e->block, *restrict suffix = e->suffix;
	uint32_t phase = e->phase;
	float block_max = e->block_max, lowest = DYN_SQ_CEIL;
	for (uint32_t i = 0; i < len; i++) {
		float s = sq[i];
		block[phase] = s;
		block_max = max_f(s, block_max);
		float m = max_f(suffix[phase + 1], block_max);
		if (++phase == window) {
			float run = DYN_SQ_FLOOR;
			for (uint32_t j = window; j-- > 0;) {
				run = max_f(block[j], run);
				suffix[j] = run;
			}
			phase = 0;
			block_max = DYN_SQ_FLOOR;
		}
		sq[i] = m;
		lowest = min_f(m, lowest);
	}
	e->phase = phase;
	e->block_max = block_max;
	return lowest;
}

/* lev[i] (dB) -> gain reduction (dB, 0 .. depth) below the threshold. RT */
static void exp_gain_computer(struct expander *e, float *restrict lev, uint32_t len)
{
	/* The per-frame form does the vector one's operations: the same
	 * bits for a frame either way. */
	if (e->threshold.remaining | e->slope.remaining | e->depth.remaining) {
		for (uint32_t i = 0; i < len; i++) {
			float t = glide_next(&e->threshold);
			float s = glide_next(&e->slope);
			float depth = glide_next(&e->depth);
			lev[i] = min_f(s * max_f(t - lev[i], 0.0f), depth);
		}
		return;
	}
	const float t = e->threshold.current, s = e->slope.current, depth = e->depth.current;
	const v4f t4 = {t, t, t, t}, depth4 = {depth, depth, depth, depth};
	const v4f zero4 = {0.0f, 0.0f, 0.0f, 0.0f};
	for (uint32_t i = 0; i < dyn_round4(len); i += 4)
		v4f_store(lev + i, v4f_min(s * v4f_max(t4 - v4f_load(lev + i), zero4), depth4));
}

/* The expander over n frames of buf, detecting on det. RT */
static void exp_run(struct expander *e, float *const *buf, const float *const *det, uint32_t n)
{
	for (uint32_t off = 0; off < n; off += DYN_CHUNK) {
		uint32_t len = n - off < DYN_CHUNK ? n - off : DYN_CHUNK;
		dyn_linked_power(det, e->channels, off, len, e->sq);
		float lowest = exp_sliding_max(e, e->sq, len);
		/* Loud, fully open and no glide: every stage would give 0 dB
		 * (the same bits as running them). */
		if (lowest > e->idle_sq && e->gr == 0.0 &&
		    !(e->threshold.remaining | e->slope.remaining | e->depth.remaining))
			continue;
		dyn_power_db(e->sq, e->lev, len);
		exp_gain_computer(e, e->lev, len);

		/* Smooth branching detector on the gain reduction: a rise
		 * closes the gain (release), a fall opens it (attack). */
		double y = e->gr;
		const double a_att = e->a_attack, a_rel = e->a_release;
		bool idle = true;
		for (uint32_t i = 0; i < len; i++) {
			double gr = e->lev[i];
			y += (gr > y ? a_rel : a_att) * (gr - y);
			y = y < DYN_GR_SNAP ? 0.0 : y;
			e->gain[i] = (float)-y;
			idle &= y == 0.0;
		}
		e->gr = y;
		if (idle)
			continue;
		dyn_db_to_gain(e->gain, len);
		dyn_apply(buf, e->channels, off, len, e->gain);
	}
}

/* n frames in place, detecting on the signal itself. RT */
static void exp_process(void *fx, float *const *buf, uint32_t n)
{
	struct expander *e = fx;
	exp_run(e, buf, (const float *const *)buf, n);
}

/* n frames in place, detecting on sc when the sidechain toggle is on. RT */
static void exp_process_sidechain(void *fx, float *const *buf, const float *const *sc, uint32_t n)
{
	struct expander *e = fx;
	exp_run(e, buf, dyn_detector(buf, sc, e->channels, e->use_sidechain), n);
}

const struct fx_type fx_expander = {
	.id = "expander",
	.doc = "downward expander: below the threshold each dB in gives ratio dB out",
	.params = exp_params,
	.nparams = EXP_NPARAMS,
	.max_channels = FX_MAX_CHANNELS,
	.create = exp_create,
	.destroy = exp_destroy,
	.set = exp_set,
	.reset = exp_reset,
	.process = exp_process,
	.process_sidechain = exp_process_sidechain,
};

/* ------------------------------------------------------------------ */
/* Gate */

enum {
	GATE_THRESHOLD, GATE_HYSTERESIS, GATE_HOLD, GATE_ATTACK, GATE_RELEASE,
	GATE_RANGE, GATE_SIDECHAIN, GATE_NPARAMS
};

static const struct fx_param gate_params[GATE_NPARAMS] = {
	[GATE_THRESHOLD] = {"threshold", "dB", -80.0f, 0.0f, -40.0f, FX_LINEAR,
			    "a sample at this level opens the gate"},
	[GATE_HYSTERESIS] = {"hysteresis", "dB", 0.0f, 20.0f, 3.0f, FX_LINEAR,
			     "the gate closes only below threshold - hysteresis"},
	[GATE_HOLD] = {"hold", "ms", 0.0f, 2000.0f, 50.0f, FX_LINEAR,
		       "time the gate stays open after the signal falls (10 ms at least)"},
	[GATE_ATTACK] = {"attack", "ms", 0.1f, 100.0f, 1.0f, FX_LOG,
			 "time for the gain to open 63% of its way (dB)"},
	[GATE_RELEASE] = {"release", "ms", 1.0f, 2000.0f, 100.0f, FX_LOG,
			  "time for the gain to close 63% of its way (dB)"},
	[GATE_RANGE] = {"range", "dB", -80.0f, 0.0f, -80.0f, FX_LINEAR,
			"gain of the closed gate"},
	[GATE_SIDECHAIN] = {"sidechain", "", 0.0f, 1.0f, 0.0f, FX_TOGGLE,
			    "1 = the detector listens to the external sidechain input"},
};

struct gate {
	uint32_t rate;
	int channels;
	uint32_t glide_frames;
	float param[GATE_NPARAMS];
	float open_sq, close_sq;  /* thresholds as powers */
	uint32_t hold_frames;
	struct glide range;
	double a_attack, a_release;
	bool use_sidechain;
	bool open;
	uint32_t quiet;           /* frames since the signal last reached close_sq */
	double gain_db;
	float sq[DYN_CHUNK], gain[DYN_CHUNK];
};

/* Thresholds as powers, from threshold and hysteresis. */
static void gate_thresholds(struct gate *g)
{
	g->open_sq = powf(10.0f, g->param[GATE_THRESHOLD] / 10.0f);
	g->close_sq = powf(10.0f, (g->param[GATE_THRESHOLD] - g->param[GATE_HYSTERESIS]) / 10.0f);
}

/* Parameter i to value (in range). RT */
static void gate_set(void *fx, int i, float value)
{
	struct gate *g = fx;
	if (i < 0 || i >= GATE_NPARAMS || g->param[i] == value)
		return;
	g->param[i] = value;
	switch (i) {
	case GATE_THRESHOLD:
	case GATE_HYSTERESIS:
		gate_thresholds(g);
		break;
	case GATE_HOLD:
		g->hold_frames = ms_to_frames(fmaxf(value, GATE_MIN_HOLD_MS), g->rate);
		break;
	case GATE_ATTACK:
		g->a_attack = dyn_coef(value, g->rate);
		break;
	case GATE_RELEASE:
		g->a_release = dyn_coef(value, g->rate);
		break;
	case GATE_RANGE:
		glide_to(&g->range, value, g->glide_frames);
		break;
	case GATE_SIDECHAIN:
		g->use_sidechain = value >= 0.5f;
		break;
	}
}

/* Forgets the signal: closed, as after silence. RT */
static void gate_reset(void *fx)
{
	struct gate *g = fx;
	glide_jump(&g->range, g->range.target);
	g->open = false;
	g->quiet = g->hold_frames + 1;
	g->gain_db = g->range.current;
}

/* A gate at its defaults; NULL on bad arguments. Not RT. */
static void *gate_create(uint32_t rate, int channels)
{
	if (rate < 1000 || rate > 1000000 || channels < 1 || channels > FX_MAX_CHANNELS)
		return NULL;
	struct gate *g = calloc(1, sizeof *g);
	if (g == NULL)
		return NULL;
	g->rate = rate;
	g->channels = channels;
	g->glide_frames = ms_to_frames(DYN_GLIDE_MS, rate);
	for (int i = 0; i < GATE_NPARAMS; i++) {
		g->param[i] = NAN;
		gate_set(g, i, gate_params[i].def);
	}
	gate_reset(g);
	return g;
}

/* Frees a gate. Not RT. */
static void gate_destroy(void *fx)
{
	free(fx);
}

/* The gate over n frames of buf, detecting on det. RT */
static void gate_run(struct gate *g, float *const *buf, const float *const *det, uint32_t n)
{
	for (uint32_t off = 0; off < n; off += DYN_CHUNK) {
		uint32_t len = n - off < DYN_CHUNK ? n - off : DYN_CHUNK;
		dyn_linked_power(det, g->channels, off, len, g->sq);

		const float open_sq = g->open_sq, close_sq = g->close_sq;
		const double a_att = g->a_attack, a_rel = g->a_release;
		const uint32_t hold = g->hold_frames;
		const bool range_moves = g->range.remaining != 0;
		bool open = g->open;
		uint32_t quiet = g->quiet;
		double y = g->gain_db;
		bool idle = true;
		for (uint32_t i = 0; i < len; i++) {
			float s = g->sq[i];
			open |= s >= open_sq;
			/* While open, every sample over the lower threshold
			 * restarts the hold; the gate closes when the hold
			 * has run out. */
			quiet = open && s >= close_sq ? 0 : (quiet <= hold ? quiet + 1 : quiet);
			open &= quiet <= hold;
			float closed_db = range_moves ? glide_next(&g->range) : g->range.current;
			double target = open ? 0.0 : closed_db;
			y += (target > y ? a_att : a_rel) * (target - y);
			y = fabs(target - y) < DYN_GR_SNAP ? target : y;
			g->gain[i] = (float)y;
			idle &= y == 0.0;
		}
		g->open = open;
		g->quiet = quiet;
		g->gain_db = y;
		if (idle)
			continue;
		dyn_db_to_gain(g->gain, len);
		dyn_apply(buf, g->channels, off, len, g->gain);
	}
}

/* n frames in place, detecting on the signal itself. RT */
static void gate_process(void *fx, float *const *buf, uint32_t n)
{
	struct gate *g = fx;
	gate_run(g, buf, (const float *const *)buf, n);
}

/* n frames in place, detecting on sc when the sidechain toggle is on. RT */
static void gate_process_sidechain(void *fx, float *const *buf, const float *const *sc, uint32_t n)
{
	struct gate *g = fx;
	gate_run(g, buf, dyn_detector(buf, sc, g->channels, g->use_sidechain), n);
}

const struct fx_type fx_gate = {
	.id = "gate",
	.doc = "noise gate with hysteresis, hold and range",
	.params = gate_params,
	.nparams = GATE_NPARAMS,
	.max_channels = FX_MAX_CHANNELS,
	.create = gate_create,
	.destroy = gate_destroy,
	.set = gate_set,
	.reset = gate_reset,
	.process = gate_process,
	.process_sidechain = gate_process_sidechain,
};
