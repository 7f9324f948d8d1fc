/*
 * The reverbs of cl-fx: Freeverb, a feedback-delay-network hall and a
 * Dattorro plate, written from the published descriptions of the
 * algorithms (no code copied).
 *
 * freeverb: Jezar's Freeverb. The input channels are summed to mono and
 * scaled by 0.015; per output channel 8 lowpass-feedback combs in parallel
 * (a comb reads its delay, lowpasses what it read with pole damp * 0.4 and
 * writes input + lowpassed * feedback, feedback = 0.7 + 0.28 * room) and
 * 4 allpass-like stages in series (out = delayed - in, store in + 0.5 *
 * delayed). Delays are the classic 44.1 kHz lengths, the right channel 23
 * samples longer, scaled to the rate as round(len * rate / 44100). Width
 * and mix act like Freeverb's wet1/wet2/dry: out_l = dry * in_l + mix *
 * ((1 + width) / 2 * wet_l + (1 - width) / 2 * wet_r); dry = 1 - mix. The
 * 0.015 input gain with a wet gain of 1 at mix 1 is Freeverb's own default
 * level (its wet 1/3 times its wet scale 3).
 *
 * hall: a Jot feedback delay network of 8 lines (44..109 ms times 0.25 +
 * 0.75 * size; no modulation) mixed by a normalised 8x8 Hadamard matrix,
 * which is orthogonal: the loop loses energy only in the per-line
 * absorption, a gain g = 10^(-3 d / (T rate)) (d the line's length in
 * frames, T the decay) followed by a one-pole lowpass whose pole makes
 * the gain g^2 at `damp` Hz: every line loses 60 dB per T seconds at low
 * frequencies and per T / 2 at `damp`, whatever its length, so the decay
 * is the same in every line and does not change with size. Each input
 * channel goes through its own 4 series allpasses (diffusion) and into
 * the lines along one Hadamard row; the outputs are two other rows, hence
 * uncorrelated.
 *
 * plate: Dattorro's plate (J. Dattorro, "Effect Design Part 1", JAES 1997):
 * mono input, a one-pole "bandwidth" lowpass, four input allpasses, then
 * the figure-of-eight tank: each half is a modulated allpass, a delay, a
 * damping lowpass, a decay gain, an allpass and a delay with another decay
 * gain, feeding the other half; stereo comes from 7 signed taps per side.
 * The paper's lengths are for 29761 Hz and are scaled to the rate. Our
 * `decay` is an RT60 in seconds, not the paper's coefficient: one trip
 * round the tank passes 4 decay gains over D = the sum of the 8 tank
 * lengths (0.7254 s at any rate), so the coefficient is
 * 10^(-3 D / (4 T rate)) (the paper's 0.5 is T = 1.57 s). The paper's
 * decay diffusion 2 = coefficient + 0.15 in 0.25..0.5 is kept. `damp`
 * sets the tank lowpasses like the hall's (decay halves at that
 * frequency), `bandwidth` the input lowpass's -3 dB point. Short decays
 * (down to 0.25 s) need two changes to the paper's tank, which is 0.73 s
 * round: its allpasses (g 0.7 over 31 ms, and the decay allpasses over
 * up to 89 ms) ring for about 0.45 s whatever the decay gain, so their
 * gains come down to the ones that ring out within the decay (from
 * about 0.9 s up the paper's values hold); and the damping lowpass,
 * which would have to lose k^2 per pass at damp, is held to -1 dB three
 * octaves under damp, so that it does not shorten the decay of the mids
 * (it binds below about 1.2 s at damp 20 kHz; the highs then decay less
 * than twice as fast). Measured RT60s (the unit test) stay within 15% of
 * the set decay from 0.25 s up; at 0.2 s the input diffusers and the
 * tank's delays alone make 0.24 s.
 *
 * Channels: 1 or 2. Freeverb and plate take a mono sum; in mono Freeverb
 * counts the input on both sides and runs the left bank only, the plate
 * uses the left taps only. The hall takes each side on its own.
 *
 * Cost: Freeverb runs each bank's combs four at a time in lockstep over a
 * span (independent feedback chains overlap in the pipeline); the hall
 * keeps its 8 lines frame-interleaved and runs the network as two 4-wide
 * vectors (GCC vector extensions: GCC 12 at -O2 vectorises little
 * plain C); the plate keeps its tank in registers. Nothing divides or
 * calls a transcendental per frame.
 *
 * Smoothing and block independence. Work runs in spans that never cross a
 * boundary of a 64-frame grid counted from create/reset (RV_CHUNK). Every
 * smoothed value is a ramp that takes a step on that grid; gains are
 * interpolated linearly inside the chunk, feedback coefficients hold per
 * chunk. Delay times that change (predelay, hall size) crossfade between
 * the old and new tap over 30 ms, sample by sample; a change arriving
 * during a fade waits for its end. Since nothing depends on where a block
 * starts, the output is bit-identical however the signal is cut into
 * blocks. A parameter set before the first frame (or after reset) takes
 * effect at once: there is nothing yet to click.
 *
 * Denormals: a 1e-20 offset rides on every input, so feedback paths settle
 * on a tiny DC instead of decaying into subnormals. If the wet signal of
 * a span is ever non-finite the state is cleared and the span is dry.
 */
#include "effect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cl_simd.h"

#define RV_CHUNK 64u            /* frames per smoothing step; spans stay inside */
#define RV_RAMP_S 0.05          /* parameter glide */
#define RV_FADE_S 0.03          /* delay-time crossfade */
#define RV_PREDELAY_MAX_MS 200.0f
#define RV_GUARD 1e-20f         /* anti-denormal offset */
#define RV_RATE_MIN 8000u
#define RV_RATE_MAX 384000u
#define RV_DAMP_MAX_NYQ 0.9     /* highest damping/bandwidth frequency, of Nyquist */

/* ---------------------------------------------------------------- helpers */

/* A value that walks to its target in equal steps on the chunk grid. */
struct rv_ramp {
	float prev;      /* value at the start of the current chunk */
	float cur;       /* value at its end (what holds during the chunk) */
	float target;
	float step;      /* per chunk */
	uint32_t left;   /* chunks to go */
};

/* Head for `target` over `chunks` chunks, or be there now when `jump`. */
static void rv_ramp_to(struct rv_ramp *r, float target, uint32_t chunks, bool jump)
{
	if (jump) {
		r->prev = r->cur = r->target = target;
		r->left = 0;
		return;
	}
	if (target == r->target)
		return;
	r->target = target;
	r->left = chunks;
	r->step = (target - r->cur) / (float)chunks;
}

/* Advance one chunk (at a grid boundary). RT */
static inline void rv_ramp_tick(struct rv_ramp *r)
{
	r->prev = r->cur;
	if (r->left == 0)
		return;
	r->left--;
	/* From the target back, so the ramp lands on it exactly. */
	r->cur = r->left ? r->target - r->step * (float)r->left : r->target;
}

/* Gain at frame `phase` (0..RV_CHUNK-1) of the current chunk: a straight
 * line from prev to cur, reaching cur on the chunk's last frame. The per
 * frame slope is exact: RV_CHUNK is a power of two. RT */
static inline float rv_ramp_slope(const struct rv_ramp *r)
{
	return (r->cur - r->prev) * (1.0f / (float)RV_CHUNK);
}

/* Chunks in `seconds` at `rate`, at least one. */
static uint32_t rv_chunks(uint32_t rate, double seconds)
{
	double c = floor(seconds * rate / RV_CHUNK + 0.5);
	return c < 1.0 ? 1u : (uint32_t)c;
}

/* Smallest power of two >= n (ring sizes, indexed with a mask). */
static uint32_t rv_pow2_above(uint32_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

/* Pole b of the lowpass y = (1 - b) x + b y whose gain at `hz` is g
 * (0 < g < 1); the root in [0, 1) of (1-g^2) b^2 - 2 (1 - g^2 cos w) b +
 * (1-g^2) = 0, written as 1 / (larger root) so that g near 1 stays exact. */
static double rv_onepole_for_gain(double g, double hz, uint32_t rate)
{
	double nyq = 0.5 * rate;
	if (hz > RV_DAMP_MAX_NYQ * nyq)
		hz = RV_DAMP_MAX_NYQ * nyq;
	double c = cos(2.0 * M_PI * hz / rate);
	double k = 1.0 - g * g;
	if (k <= 0.0)
		return 0.0;
	double a = 1.0 - g * g * c;
	double disc = a * a - k * k;
	if (disc < 0.0)
		disc = 0.0;
	return k / (a + sqrt(disc));
}

/* Bump allocation from one zeroed block, in 64-byte aligned pieces: a
 * first pass with base NULL only counts, the second hands out memory. */
struct rv_arena {
	float *base;
	size_t used, size;   /* floats */
};

/* n floats from the arena (NULL while counting). */
static float *rv_take(struct rv_arena *a, size_t n)
{
	size_t at = a->used;
	a->used += (n + 15) & ~(size_t)15;
	return a->base ? a->base + at : NULL;
}

/* Allocate what the counting pass asked for; false on no memory. */
static bool rv_arena_alloc(struct rv_arena *a)
{
	a->size = a->used;
	a->used = 0;
	a->base = aligned_alloc(64, (a->size ? a->size : 16) * sizeof(float));
	if (a->base)
		memset(a->base, 0, a->size * sizeof(float));
	return a->base != NULL;
}

/* A fixed delay of exactly `len` frames used as a ring (combs, allpasses). */
struct rv_ring {
	float *buf;
	uint32_t len, pos;
};

/* Freeverb's allpass stage over x[0..n) in place:
 * out = delayed - in, store in + 0.5 * delayed. RT */
static void rv_fv_allpass(struct rv_ring *a, float *restrict x, uint32_t n)
{
	uint32_t j = 0;
	while (j < n) {
		uint32_t m = a->len - a->pos;
		if (m > n - j)
			m = n - j;
		float *restrict p = a->buf + a->pos;
		float *restrict xs = x + j;
		for (uint32_t i = 0; i < m; i++) {
			float d = p[i], in = xs[i];
			xs[i] = d - in;
			p[i] = in + d * 0.5f;
		}
		a->pos += m;
		if (a->pos == a->len)
			a->pos = 0;
		j += m;
	}
}

/* A Schroeder allpass (z^-N - g) / (1 - g z^-N) over x[0..n) in place. RT */
static void rv_allpass(struct rv_ring *a, float g, float *restrict x, uint32_t n)
{
	uint32_t j = 0;
	while (j < n) {
		uint32_t m = a->len - a->pos;
		if (m > n - j)
			m = n - j;
		float *restrict p = a->buf + a->pos;
		float *restrict xs = x + j;
		for (uint32_t i = 0; i < m; i++) {
			float d = p[i];
			float w = xs[i] + g * d;
			xs[i] = d - g * w;
			p[i] = w;
		}
		a->pos += m;
		if (a->pos == a->len)
			a->pos = 0;
		j += m;
	}
}

/*
 * Predelay for 1 or 2 lines sharing one delay time. A new time crossfades
 * from the old tap to the new one over fade_len frames; a time set during
 * a fade starts its own fade when that one ends, at that very frame.
 */
struct rv_predelay {
	float *buf[2];
	int lines;
	uint32_t mask, w;
	uint32_t cur, next, want;     /* frames */
	uint32_t fade_pos, fade_len;  /* fade_pos 0 = steady, else 1..fade_len */
	float fade_step;              /* 1 / fade_len */
};

/* Lay out a predelay of `lines` lines for up to RV_PREDELAY_MAX_MS. */
static void rv_predelay_plan(struct rv_arena *a, struct rv_predelay *pd, int lines, uint32_t rate)
{
	uint32_t max = (uint32_t)ceil(RV_PREDELAY_MAX_MS * 0.001 * rate) + 2;
	pd->lines = lines;
	pd->mask = rv_pow2_above(max) - 1;
	for (int l = 0; l < lines; l++)
		pd->buf[l] = rv_take(a, pd->mask + 1);
	pd->fade_len = (uint32_t)(RV_FADE_S * rate);
	pd->fade_step = 1.0f / (float)pd->fade_len;
}

/* Milliseconds to whole frames, rounded to nearest. */
static uint32_t rv_ms_to_frames(float ms, uint32_t rate)
{
	return (uint32_t)floor(ms * 0.001 * rate + 0.5);
}

/* New delay time; at once when `jump`. */
static void rv_predelay_set(struct rv_predelay *pd, uint32_t frames, bool jump)
{
	pd->want = frames;
	if (jump) {
		pd->cur = pd->next = frames;
		pd->fade_pos = 0;
	}
}

/* Silence the predelay and settle on the wanted time. */
static void rv_predelay_clear(struct rv_predelay *pd)
{
	for (int l = 0; l < pd->lines; l++)
		memset(pd->buf[l], 0, (pd->mask + 1) * sizeof(float));
	pd->w = 0;
	pd->cur = pd->next = pd->want;
	pd->fade_pos = 0;
}

/* x[l][0..n) through the predelay, in place. RT */
static void rv_predelay_run(struct rv_predelay *pd, float *const *x, uint32_t n)
{
	const uint32_t mask = pd->mask;
	uint32_t j = 0;
	while (j < n) {
		if (pd->fade_pos == 0 && pd->want != pd->cur) {
			pd->next = pd->want;
			pd->fade_pos = 1;
		}
		uint32_t w = pd->w;
		if (pd->fade_pos == 0) {
			const uint32_t d = pd->cur;
			for (int l = 0; l < pd->lines; l++) {
				float *restrict b = pd->buf[l];
				float *restrict xs = x[l];
				uint32_t wl = w;
				for (uint32_t i = j; i < n; i++, wl++) {
					b[wl & mask] = xs[i];
					xs[i] = b[(wl - d) & mask];
				}
			}
			pd->w = w + (n - j);
			return;
		}
		uint32_t m = pd->fade_len - pd->fade_pos + 1;
		if (m > n - j)
			m = n - j;
		const uint32_t d0 = pd->cur, d1 = pd->next;
		for (int l = 0; l < pd->lines; l++) {
			float *restrict b = pd->buf[l];
			float *restrict xs = x[l];
			uint32_t wl = w, pos = pd->fade_pos;
			for (uint32_t i = j; i < j + m; i++, wl++, pos++) {
				b[wl & mask] = xs[i];
				float a0 = b[(wl - d0) & mask], a1 = b[(wl - d1) & mask];
				xs[i] = a0 + (a1 - a0) * ((float)pos * pd->fade_step);
			}
		}
		pd->w = w + m;
		pd->fade_pos += m;
		if (pd->fade_pos > pd->fade_len) {
			pd->cur = pd->next;
			pd->fade_pos = 0;
		}
		j += m;
	}
}

/* Whether wet[0..n) is finite (a sum is non-finite if any term is, or
 * if they overflow together, which also calls for a reset). RT */
static bool rv_finite(const float *restrict wet, uint32_t n)
{
	float sum = 0.0f;
	for (uint32_t j = 0; j < n; j++)
		sum += wet[j];
	return isfinite(sum);
}

/* Output stage shared by the three types: dry/wet/width with per-frame
 * gain lines inside the chunk. wr may equal wl (mono). RT */
static void rv_mix_out(float *const *buf, int channels, uint32_t off, uint32_t n, uint32_t phase,
			const struct rv_ramp *dry, const struct rv_ramp *wet1, const struct rv_ramp *wet2,
			const float *restrict wl, const float *restrict wr)
{
	const float dry0 = dry->prev, dryd = rv_ramp_slope(dry);
	const float w10 = wet1->prev, w1d = rv_ramp_slope(wet1);
	const float w20 = wet2->prev, w2d = rv_ramp_slope(wet2);
	if (channels == 1) {
		float *restrict o = buf[0] + off;
		for (uint32_t j = 0; j < n; j++) {
			float k = (float)(phase + j + 1);
			float g = (w10 + w1d * k) + (w20 + w2d * k);
			o[j] = (dry0 + dryd * k) * o[j] + g * wl[j];
		}
		return;
	}
	float *restrict outl = buf[0] + off;
	float *restrict outr = buf[1] + off;
	for (uint32_t j = 0; j < n; j++) {
		float k = (float)(phase + j + 1);
		float dg = dry0 + dryd * k, g1 = w10 + w1d * k, g2 = w20 + w2d * k;
		outl[j] = dg * outl[j] + g1 * wl[j] + g2 * wr[j];
		outr[j] = dg * outr[j] + g1 * wr[j] + g2 * wl[j];
	}
}

/* Targets of the output gains from mix (0..1) and width (0..1). */
static void rv_mix_targets(struct rv_ramp *dry, struct rv_ramp *wet1, struct rv_ramp *wet2,
			   float mix, float width, uint32_t chunks, bool jump)
{
	rv_ramp_to(dry, 1.0f - mix, chunks, jump);
	rv_ramp_to(wet1, mix * (0.5f + 0.5f * width), chunks, jump);
	rv_ramp_to(wet2, mix * (0.5f - 0.5f * width), chunks, jump);
}

/* Frames since create/reset (the chunk grid), and whether none has run
 * yet (parameters then jump instead of gliding). */
struct rv_clock {
	uint64_t t;
	bool fresh;
};

/* The common frame loop: cut n frames into spans that stay inside a
 * chunk, tick the ramps at each chunk start, render each span. RT */
static void rv_run(void *fx, struct rv_clock *clk, float *const *buf, uint32_t n,
		   void (*tick)(void *fx),
		   void (*render)(void *fx, float *const *buf, uint32_t off, uint32_t len, uint32_t phase))
{
	uint32_t off = 0;
	while (off < n) {
		uint32_t phase = (uint32_t)(clk->t % RV_CHUNK);
		if (phase == 0)
			tick(fx);
		uint32_t len = RV_CHUNK - phase;
		if (len > n - off)
			len = n - off;
		render(fx, buf, off, len, phase);
		clk->t += len;
		off += len;
	}
	if (n)
		clk->fresh = false;
}

/* --------------------------------------------------------------- freeverb */

#define FV_COMBS 8
#define FV_APS 4
#define FV_SPREAD 23
#define FV_GAIN 0.015f

static const uint16_t fv_comb_len[FV_COMBS] = {1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617};
static const uint16_t fv_ap_len[FV_APS] = {556, 441, 341, 225};

enum { FV_ROOM, FV_DAMP, FV_WIDTH, FV_MIX, FV_PREDELAY, FV_NPARAMS };

static const struct fx_param fv_params[FV_NPARAMS] = {
	[FV_ROOM] = {"room", "", 0.0f, 1.0f, 0.5f, FX_LINEAR,
		     "room size: comb feedback 0.7 + 0.28 * room"},
	[FV_DAMP] = {"damp", "", 0.0f, 1.0f, 0.5f, FX_LINEAR,
		     "high-frequency damping: comb lowpass pole 0.4 * damp"},
	[FV_WIDTH] = {"width", "", 0.0f, 1.0f, 1.0f, FX_LINEAR,
		      "stereo width of the reverb: 0 mono, 1 full"},
	[FV_MIX] = {"mix", "", 0.0f, 1.0f, 0.25f, FX_LINEAR,
		    "wet share: dry 1 - mix, wet mix"},
	[FV_PREDELAY] = {"predelay", "ms", 0.0f, RV_PREDELAY_MAX_MS, 0.0f, FX_LINEAR,
			 "delay before the reverb starts"},
};

struct freeverb {
	uint32_t rate;
	int channels, banks;
	struct rv_clock clk;
	uint32_t ramp_chunks;
	float value[FV_NPARAMS];
	struct rv_ramp fb, damp1, dry, wet1, wet2;
	struct rv_predelay pre;
	struct rv_ring comb[2][FV_COMBS];
	float store[2][FV_COMBS];
	struct rv_ring ap[2][FV_APS];
	struct rv_arena mem;
	float in[RV_CHUNK] __attribute__((aligned(64)));
	float wet[2][RV_CHUNK] __attribute__((aligned(64)));
};

/* Lay out (a->base NULL) or assign (a->base set) the delay memory. */
static void fv_plan(struct freeverb *f, struct rv_arena *a)
{
	rv_predelay_plan(a, &f->pre, 1, f->rate);
	for (int c = 0; c < f->banks; c++) {
		uint32_t spread = c ? FV_SPREAD : 0;
		for (int k = 0; k < FV_COMBS; k++) {
			struct rv_ring *r = &f->comb[c][k];
			r->len = (uint32_t)floor((fv_comb_len[k] + spread) * (double)f->rate / 44100.0 + 0.5);
			r->buf = rv_take(a, r->len);
		}
		for (int k = 0; k < FV_APS; k++) {
			struct rv_ring *r = &f->ap[c][k];
			r->len = (uint32_t)floor((fv_ap_len[k] + spread) * (double)f->rate / 44100.0 + 0.5);
			r->buf = rv_take(a, r->len);
		}
	}
}

static void fv_set(void *fx, int i, float v);

/* Forget the signal (delay lines, filters), keep the parameters, which
 * apply at once again. RT (clears the delay memory) */
static void fv_reset(void *fx)
{
	struct freeverb *f = fx;
	memset(f->mem.base, 0, f->mem.size * sizeof(float));
	for (int c = 0; c < 2; c++)
		for (int k = 0; k < FV_COMBS; k++) {
			f->comb[c][k].pos = 0;
			f->store[c][k] = 0.0f;
		}
	for (int c = 0; c < 2; c++)
		for (int k = 0; k < FV_APS; k++)
			f->ap[c][k].pos = 0;
	rv_predelay_clear(&f->pre);
	f->clk.t = 0;
	f->clk.fresh = true;
	for (int i = 0; i < FV_NPARAMS; i++)
		fv_set(f, i, f->value[i]);
}

/* New instance with all delay memory for `rate`, at the defaults; 1 or 2
 * channels. Not RT */
static void *fv_create(uint32_t rate, int channels)
{
	if (rate < RV_RATE_MIN || rate > RV_RATE_MAX || channels < 1 || channels > 2)
		return NULL;
	struct freeverb *f = aligned_alloc(64, (sizeof *f + 63) & ~(size_t)63);
	if (f == NULL)
		return NULL;
	memset(f, 0, sizeof *f);
	f->rate = rate;
	f->channels = channels;
	f->banks = channels;
	f->ramp_chunks = rv_chunks(rate, RV_RAMP_S);
	fv_plan(f, &f->mem);
	if (!rv_arena_alloc(&f->mem)) {
		free(f);
		return NULL;
	}
	fv_plan(f, &f->mem);
	for (int i = 0; i < FV_NPARAMS; i++)
		f->value[i] = fv_params[i].def;
	f->clk.fresh = true;
	for (int i = 0; i < FV_NPARAMS; i++)
		fv_set(f, i, f->value[i]);
	return f;
}

/* Free an instance (NULL is fine). Not RT */
static void fv_destroy(void *fx)
{
	struct freeverb *f = fx;
	if (f) {
		free(f->mem.base);
		free(f);
	}
}

/* Parameter i to v. RT */
static void fv_set(void *fx, int i, float v)
{
	struct freeverb *f = fx;
	if (i < 0 || i >= FV_NPARAMS)
		return;
	if (v == f->value[i] && !f->clk.fresh)
		return;
	f->value[i] = v;
	const uint32_t rc = f->ramp_chunks;
	const bool jump = f->clk.fresh;
	switch (i) {
	case FV_ROOM:
		rv_ramp_to(&f->fb, 0.7f + 0.28f * v, rc, jump);
		break;
	case FV_DAMP:
		rv_ramp_to(&f->damp1, 0.4f * v, rc, jump);
		break;
	case FV_WIDTH:
	case FV_MIX:
		rv_mix_targets(&f->dry, &f->wet1, &f->wet2, f->value[FV_MIX], f->value[FV_WIDTH], rc, jump);
		break;
	case FV_PREDELAY:
		rv_predelay_set(&f->pre, rv_ms_to_frames(v, f->rate), jump);
		break;
	}
}

/* acc[0..n) += the outputs of four Freeverb combs fed x, in lockstep so
 * that their four feedback chains overlap in the pipeline. RT */
static void fv_combs4(struct rv_ring *c, float *store, const float *restrict x, float *restrict acc,
		      uint32_t n, float fb, float damp1)
{
	const float damp2 = 1.0f - damp1;
	float s0 = store[0], s1 = store[1], s2 = store[2], s3 = store[3];
	uint32_t j = 0;
	while (j < n) {
		uint32_t m = n - j;
		for (int k = 0; k < 4; k++)
			if (c[k].len - c[k].pos < m)
				m = c[k].len - c[k].pos;
		float *restrict p0 = c[0].buf + c[0].pos;
		float *restrict p1 = c[1].buf + c[1].pos;
		float *restrict p2 = c[2].buf + c[2].pos;
		float *restrict p3 = c[3].buf + c[3].pos;
		const float *restrict xs = x + j;
		float *restrict as = acc + j;
		for (uint32_t i = 0; i < m; i++) {
			const float in = xs[i];
			const float y0 = p0[i], y1 = p1[i], y2 = p2[i], y3 = p3[i];
			s0 = y0 * damp2 + s0 * damp1;
			s1 = y1 * damp2 + s1 * damp1;
			s2 = y2 * damp2 + s2 * damp1;
			s3 = y3 * damp2 + s3 * damp1;
			p0[i] = in + s0 * fb;
			p1[i] = in + s1 * fb;
			p2[i] = in + s2 * fb;
			p3[i] = in + s3 * fb;
			as[i] += (y0 + y1) + (y2 + y3);
		}
		for (int k = 0; k < 4; k++) {
			c[k].pos += m;
			if (c[k].pos == c[k].len)
				c[k].pos = 0;
		}
		j += m;
	}
	store[0] = s0;
	store[1] = s1;
	store[2] = s2;
	store[3] = s3;
}

/* One span of n frames at buf[.][off..], phase frames into its chunk. RT */
static void fv_render(void *fx, float *const *buf, uint32_t off, uint32_t n, uint32_t phase)
{
	struct freeverb *f = fx;
	float *restrict x = f->in;
	if (f->channels == 2) {
		const float *restrict l = buf[0] + off, *restrict r = buf[1] + off;
		for (uint32_t j = 0; j < n; j++)
			x[j] = (l[j] + r[j]) * FV_GAIN + RV_GUARD;
	} else {
		/* As if the mono signal came on both sides. */
		const float *restrict l = buf[0] + off;
		for (uint32_t j = 0; j < n; j++)
			x[j] = (l[j] + l[j]) * FV_GAIN + RV_GUARD;
	}
	float *lines[1] = {x};
	rv_predelay_run(&f->pre, lines, n);

	const float fb = f->fb.cur, damp1 = f->damp1.cur;
	for (int c = 0; c < f->banks; c++) {
		float *restrict acc = f->wet[c];
		memset(acc, 0, n * sizeof *acc);
		fv_combs4(&f->comb[c][0], &f->store[c][0], x, acc, n, fb, damp1);
		fv_combs4(&f->comb[c][4], &f->store[c][4], x, acc, n, fb, damp1);
		for (int k = 0; k < FV_APS; k++)
			rv_fv_allpass(&f->ap[c][k], acc, n);
	}
	if (!rv_finite(f->wet[0], n) || !rv_finite(f->wet[f->banks - 1], n)) {
		/* Only reachable with absurd input: forget it all, pass dry. */
		uint64_t t = f->clk.t;
		fv_reset(f);
		f->clk.t = t;
		f->clk.fresh = false;
		memset(f->wet, 0, sizeof f->wet);
	}
	rv_mix_out(buf, f->channels, off, n, phase, &f->dry, &f->wet1, &f->wet2,
		   f->wet[0], f->wet[f->banks - 1]);
}

/* At a chunk boundary: the ramps take their step. RT */
static void fv_tick(void *fx)
{
	struct freeverb *f = fx;
	rv_ramp_tick(&f->fb);
	rv_ramp_tick(&f->damp1);
	rv_ramp_tick(&f->dry);
	rv_ramp_tick(&f->wet1);
	rv_ramp_tick(&f->wet2);
}

/* n frames in place. RT */
static void fv_process(void *fx, float *const *buf, uint32_t n)
{
	struct freeverb *f = fx;
	rv_run(f, &f->clk, buf, n, fv_tick, fv_render);
}

const struct fx_type fx_freeverb = {
	.id = "freeverb",
	.doc = "Freeverb: 8 damped combs and 4 allpasses per channel (Jezar's classic)",
	.params = fv_params,
	.nparams = FV_NPARAMS,
	.max_channels = 2,
	.create = fv_create,
	.destroy = fv_destroy,
	.set = fv_set,
	.reset = fv_reset,
	.process = fv_process,
};

/* ------------------------------------------------------------------- hall */

#define HALL_LINES 8
#define HALL_DIFF 4

/* Line lengths at size 1, ms: spread over a bit more than an octave,
 * no two in a simple ratio. */
static const float hall_line_ms[HALL_LINES] = {43.7f, 53.9f, 61.3f, 71.9f, 79.1f, 89.3f, 97.7f, 109.1f};
static const float hall_diff_ms[2][HALL_DIFF] = {
	{4.31f, 3.13f, 11.17f, 8.39f},
	{4.73f, 3.41f, 10.43f, 7.87f},
};
static const float hall_diff_g[HALL_DIFF] = {0.7f, 0.7f, 0.6f, 0.6f};

enum { HALL_DECAY, HALL_PREDELAY, HALL_SIZE, HALL_DAMP, HALL_MIX, HALL_WIDTH, HALL_NPARAMS };

static const struct fx_param hall_params[HALL_NPARAMS] = {
	[HALL_DECAY] = {"decay", "s", 0.3f, 20.0f, 2.5f, FX_LOG,
			"reverb time RT60 (60 dB of decay) at low and mid frequencies"},
	[HALL_PREDELAY] = {"predelay", "ms", 0.0f, RV_PREDELAY_MAX_MS, 20.0f, FX_LINEAR,
			   "delay before the reverb starts"},
	[HALL_SIZE] = {"size", "", 0.0f, 1.0f, 0.6f, FX_LINEAR,
		       "room size: delay lengths scale 0.25 + 0.75 * size (decay time kept)"},
	[HALL_DAMP] = {"damp", "Hz", 1000.0f, 20000.0f, 6000.0f, FX_LOG,
		       "frequency where the decay time is half the set decay (shorter above)"},
	[HALL_MIX] = {"mix", "%", 0.0f, 100.0f, 25.0f, FX_LINEAR,
		      "wet share: dry 100 - mix, wet mix"},
	[HALL_WIDTH] = {"width", "", 0.0f, 1.0f, 1.0f, FX_LINEAR,
			"stereo width of the reverb: 0 mono, 1 full"},
};

/* Levels: the lines are fed along a +-1 row (8 lines), read along another;
 * these put the hall at about the loudness of freeverb at equal decay
 * (wet rms about half the input's on noise at 2.5 s). The outputs are
 * read from the normalised transform, 1/sqrt(8) of a +-1 row, hence the
 * sqrt(8) in the output gain. */
#define HALL_IN_GAIN 0.35f
#define HALL_OUT_GAIN (0.35f * 2.8284271f)

struct hall {
	uint32_t rate;
	int channels;
	struct rv_clock clk;
	uint32_t ramp_chunks;
	float value[HALL_NPARAMS];
	struct rv_ramp a[HALL_LINES], b[HALL_LINES];   /* absorption y = a x + b y */
	struct rv_ramp dry, wet1, wet2;
	struct rv_predelay pre;
	struct rv_ring diff[2][HALL_DIFF];
	float *lines;           /* frame-interleaved: line i of frame f at [(f & mask) * 8 + i] */
	uint32_t mask, w;
	float lp[HALL_LINES];
	/* Size crossfade: lengths now and after the fade. */
	uint32_t len_cur[HALL_LINES], len_next[HALL_LINES];
	float size_cur, size_want;
	uint32_t fade_pos, fade_len;
	float fade_step;
	struct rv_arena mem;
	float in[2][RV_CHUNK] __attribute__((aligned(64)));
	float wet[2][RV_CHUNK] __attribute__((aligned(64)));
};

/* Length in frames of line i at `size`. */
static uint32_t hall_len(const struct hall *h, int i, float size)
{
	double ms = hall_line_ms[i] * (0.25 + 0.75 * size);
	return (uint32_t)floor(ms * 0.001 * h->rate + 0.5);
}

/* Lay out (a->base NULL) or assign (a->base set) the delay memory. */
static void hall_plan(struct hall *h, struct rv_arena *a)
{
	rv_predelay_plan(a, &h->pre, h->channels, h->rate);
	for (int c = 0; c < h->channels; c++)
		for (int k = 0; k < HALL_DIFF; k++) {
			struct rv_ring *r = &h->diff[c][k];
			r->len = (uint32_t)floor(hall_diff_ms[c][k] * 0.001 * h->rate + 0.5);
			r->buf = rv_take(a, r->len);
		}
	h->mask = rv_pow2_above(hall_len(h, HALL_LINES - 1, 1.0f) + 2) - 1;
	h->lines = rv_take(a, (size_t)(h->mask + 1) * HALL_LINES);
}

/* Absorption targets for lengths len[] at the current decay and damp. */
static void hall_absorb(struct hall *h, const uint32_t *len, bool jump)
{
	double t60 = h->value[HALL_DECAY];
	for (int i = 0; i < HALL_LINES; i++) {
		double g = pow(10.0, -3.0 * len[i] / (t60 * h->rate));
		double b = rv_onepole_for_gain(g, h->value[HALL_DAMP], h->rate);
		rv_ramp_to(&h->a[i], (float)(g * (1.0 - b)), h->ramp_chunks, jump);
		rv_ramp_to(&h->b[i], (float)b, h->ramp_chunks, jump);
	}
}

static void hall_set(void *fx, int i, float v);

/* Forget the signal (delay lines, filters), keep the parameters, which
 * apply at once again. RT (clears the delay memory) */
static void hall_reset(void *fx)
{
	struct hall *h = fx;
	memset(h->mem.base, 0, h->mem.size * sizeof(float));
	for (int c = 0; c < 2; c++)
		for (int k = 0; k < HALL_DIFF; k++)
			h->diff[c][k].pos = 0;
	memset(h->lp, 0, sizeof h->lp);
	rv_predelay_clear(&h->pre);
	h->w = 0;
	h->clk.t = 0;
	h->fade_pos = 0;
	h->clk.fresh = true;
	for (int i = 0; i < HALL_NPARAMS; i++)
		hall_set(h, i, h->value[i]);
}

/* New instance with all delay memory for `rate`, at the defaults; 1 or 2
 * channels. Not RT */
static void *hall_create(uint32_t rate, int channels)
{
	if (rate < RV_RATE_MIN || rate > RV_RATE_MAX || channels < 1 || channels > 2)
		return NULL;
	struct hall *h = aligned_alloc(64, (sizeof *h + 63) & ~(size_t)63);
	if (h == NULL)
		return NULL;
	memset(h, 0, sizeof *h);
	h->rate = rate;
	h->channels = channels;
	h->ramp_chunks = rv_chunks(rate, RV_RAMP_S);
	h->fade_len = (uint32_t)(RV_FADE_S * rate);
	h->fade_step = 1.0f / (float)h->fade_len;
	hall_plan(h, &h->mem);
	if (!rv_arena_alloc(&h->mem)) {
		free(h);
		return NULL;
	}
	hall_plan(h, &h->mem);
	for (int i = 0; i < HALL_NPARAMS; i++)
		h->value[i] = hall_params[i].def;
	h->clk.fresh = true;
	for (int i = 0; i < HALL_NPARAMS; i++)
		hall_set(h, i, h->value[i]);
	return h;
}

/* Free an instance (NULL is fine). Not RT */
static void hall_destroy(void *fx)
{
	struct hall *h = fx;
	if (h) {
		free(h->mem.base);
		free(h);
	}
}

/* Parameter i to v. RT (the absorption update is 8 pow and sqrt). */
static void hall_set(void *fx, int i, float v)
{
	struct hall *h = fx;
	if (i < 0 || i >= HALL_NPARAMS)
		return;
	if (v == h->value[i] && !h->clk.fresh)
		return;
	h->value[i] = v;
	const bool jump = h->clk.fresh;
	switch (i) {
	case HALL_DECAY:
	case HALL_DAMP:
		/* During a size fade the lines are headed for len_next. */
		hall_absorb(h, h->fade_pos ? h->len_next : h->len_cur, jump);
		break;
	case HALL_SIZE:
		h->size_want = v;
		if (jump) {
			h->size_cur = v;
			h->fade_pos = 0;
			for (int k = 0; k < HALL_LINES; k++)
				h->len_cur[k] = h->len_next[k] = hall_len(h, k, v);
			hall_absorb(h, h->len_cur, true);
		}
		break;
	case HALL_PREDELAY:
		rv_predelay_set(&h->pre, rv_ms_to_frames(v, h->rate), jump);
		break;
	case HALL_MIX:
	case HALL_WIDTH:
		rv_mix_targets(&h->dry, &h->wet1, &h->wet2, 0.01f * h->value[HALL_MIX],
			       h->value[HALL_WIDTH], h->ramp_chunks, jump);
		break;
	}
}

/* 4-point Walsh-Hadamard transform (Sylvester order) of x. RT */
static inline v4f hall_h4(v4f x)
{
	const v4f alt = {1.0f, -1.0f, 1.0f, -1.0f}, half = {1.0f, 1.0f, -1.0f, -1.0f};
	x = x * alt + __builtin_shufflevector(x, x, 1, 0, 3, 2);
	return x * half + __builtin_shufflevector(x, x, 2, 3, 0, 1);
}

/* The 8 lines read at write position w minus their delays d[]. RT */
static inline void hall_read(const float *restrict lines, uint32_t w, const uint32_t *d, uint32_t mask,
			     v4f *lo, v4f *hi)
{
	*lo = (v4f){lines[((w - d[0]) & mask) * HALL_LINES + 0], lines[((w - d[1]) & mask) * HALL_LINES + 1],
		    lines[((w - d[2]) & mask) * HALL_LINES + 2], lines[((w - d[3]) & mask) * HALL_LINES + 3]};
	*hi = (v4f){lines[((w - d[4]) & mask) * HALL_LINES + 4], lines[((w - d[5]) & mask) * HALL_LINES + 5],
		    lines[((w - d[6]) & mask) * HALL_LINES + 6], lines[((w - d[7]) & mask) * HALL_LINES + 7]};
}

/*
 * The network over frames j0..j1 of the span, reading each line through
 * a crossfade from len_cur to len_next when `fading`. The 8 lines are two
 * vectors (lines 0-3, 4-7), stored frame-interleaved so that a frame is
 * written with two vector stores. Per frame: read, absorb (y = a x + b y,
 * a holding the 1/sqrt(8) of the transform too), the 8x8 Hadamard as one
 * butterfly between the halves and a 4-point transform in each, the two
 * outputs from rows 1 (+-+-+-+-) and 2 (++--++--) of the result, then the
 * input added, left along (+,+,+,+,-,-,-,-), right along (+,-,-,+,+,-,-,+),
 * and written. Input and output rows are four mutually orthogonal rows
 * of the Hadamard matrix, so left and right come out uncorrelated. RT
 */
static void hall_network(struct hall *h, uint32_t j0, uint32_t j1, bool fading)
{
	const uint32_t mask = h->mask;
	uint32_t w = h->w;
	const float scale = 0.35355339059327373f;   /* 1 / sqrt(8) */
	v4f a_lo, a_hi, b_lo, b_hi, s_lo, s_hi;
	for (int i = 0; i < 4; i++) {
		a_lo[i] = h->a[i].cur * scale;
		a_hi[i] = h->a[i + 4].cur * scale;
		b_lo[i] = h->b[i].cur;
		b_hi[i] = h->b[i + 4].cur;
		s_lo[i] = h->lp[i];
		s_hi[i] = h->lp[i + 4];
	}
	uint32_t d0[HALL_LINES], d1[HALL_LINES];
	memcpy(d0, h->len_cur, sizeof d0);
	memcpy(d1, h->len_next, sizeof d1);
	float *restrict lines = h->lines;
	const float *restrict inl = h->in[0], *restrict inr = h->in[1];
	float *restrict wl = h->wet[0], *restrict wr = h->wet[1];
	uint32_t pos = h->fade_pos;
	for (uint32_t j = j0; j < j1; j++, w++) {
		v4f v_lo, v_hi;
		hall_read(lines, w, d0, mask, &v_lo, &v_hi);
		if (fading) {
			v4f n_lo, n_hi;
			hall_read(lines, w, d1, mask, &n_lo, &n_hi);
			const float frac = (float)pos++ * h->fade_step;
			v_lo = v_lo + (n_lo - v_lo) * frac;
			v_hi = v_hi + (n_hi - v_hi) * frac;
		}
		s_lo = a_lo * v_lo + b_lo * s_lo;
		s_hi = a_hi * v_hi + b_hi * s_hi;
		v4f u_lo = hall_h4(s_lo + s_hi), u_hi = hall_h4(s_lo - s_hi);
		wl[j] = HALL_OUT_GAIN * u_lo[1];
		wr[j] = HALL_OUT_GAIN * u_lo[2];
		const float xl = HALL_IN_GAIN * inl[j], xr = HALL_IN_GAIN * inr[j];
		const float p = xl + xr, q = xl - xr;
		float *restrict at = lines + (size_t)(w & mask) * HALL_LINES;
		const v4f in_lo = {p, q, q, p};
		const v4f in_hi = {q, p, p, q};
		const v4f out_lo = u_lo + in_lo, out_hi = u_hi - in_hi;
		memcpy(at, &out_lo, sizeof out_lo);
		memcpy(at + 4, &out_hi, sizeof out_hi);
	}
	for (int i = 0; i < 4; i++) {
		h->lp[i] = s_lo[i];
		h->lp[i + 4] = s_hi[i];
	}
	h->w = w;
	if (fading)
		h->fade_pos = pos;
}

/* Start fading to the wanted size (at this very frame). RT */
static void hall_start_fade(struct hall *h)
{
	h->size_cur = h->size_want;
	for (int i = 0; i < HALL_LINES; i++)
		h->len_next[i] = hall_len(h, i, h->size_cur);
	h->fade_pos = 1;
	hall_absorb(h, h->len_next, false);
}

/* One span. RT */
static void hall_render(void *fx, float *const *buf, uint32_t off, uint32_t n, uint32_t phase)
{
	struct hall *h = fx;
	for (int c = 0; c < h->channels; c++) {
		const float *restrict src = buf[c] + off;
		float *restrict x = h->in[c];
		for (uint32_t j = 0; j < n; j++)
			x[j] = src[j] + RV_GUARD;
	}
	float *lines[2] = {h->in[0], h->in[1]};
	rv_predelay_run(&h->pre, lines, n);
	for (int c = 0; c < h->channels; c++)
		for (int k = 0; k < HALL_DIFF; k++)
			rv_allpass(&h->diff[c][k], hall_diff_g[k], h->in[c], n);
	if (h->channels == 1)
		memcpy(h->in[1], h->in[0], n * sizeof(float));

	uint32_t j = 0;
	while (j < n) {
		if (h->fade_pos == 0 && h->size_want != h->size_cur)
			hall_start_fade(h);
		if (h->fade_pos == 0) {
			hall_network(h, j, n, false);
			break;
		}
		uint32_t m = h->fade_len - h->fade_pos + 1;
		if (m > n - j)
			m = n - j;
		hall_network(h, j, j + m, true);
		j += m;
		if (h->fade_pos > h->fade_len) {
			memcpy(h->len_cur, h->len_next, sizeof h->len_cur);
			h->fade_pos = 0;
		}
	}
	if (!rv_finite(h->wet[0], n) || !rv_finite(h->wet[h->channels - 1], n)) {
		uint64_t t = h->clk.t;
		hall_reset(h);
		h->clk.t = t;
		h->clk.fresh = false;
		memset(h->wet, 0, sizeof h->wet);
	}
	rv_mix_out(buf, h->channels, off, n, phase, &h->dry, &h->wet1, &h->wet2,
		   h->wet[0], h->wet[h->channels - 1]);
}

/* At a chunk boundary: the ramps take their step. RT */
static void hall_tick(void *fx)
{
	struct hall *h = fx;
	for (int i = 0; i < HALL_LINES; i++) {
		rv_ramp_tick(&h->a[i]);
		rv_ramp_tick(&h->b[i]);
	}
	rv_ramp_tick(&h->dry);
	rv_ramp_tick(&h->wet1);
	rv_ramp_tick(&h->wet2);
}

/* n frames in place. RT */
static void hall_process(void *fx, float *const *buf, uint32_t n)
{
	struct hall *h = fx;
	rv_run(h, &h->clk, buf, n, hall_tick, hall_render);
}

const struct fx_type fx_hall = {
	.id = "hall",
	.doc = "hall reverb: 8-line feedback delay network with RT60 decay and HF damping",
	.params = hall_params,
	.nparams = HALL_NPARAMS,
	.max_channels = 2,
	.create = hall_create,
	.destroy = hall_destroy,
	.set = hall_set,
	.reset = hall_reset,
	.process = hall_process,
};

/* ------------------------------------------------------------------ plate */

#define PLATE_RATE 29761.0      /* the rate of the paper's lengths */
#define PLATE_LFO_HZ 1.0
#define PLATE_EXCURSION 16.0    /* peak modulation, frames at PLATE_RATE */
#define PLATE_OUT_GAIN 0.6f

/* Input diffusers and their coefficients. */
static const uint16_t plate_in_len[4] = {142, 107, 379, 277};
static const float plate_in_g[4] = {0.75f, 0.75f, 0.625f, 0.625f};
#define PLATE_DD1 0.70f        /* decay diffusion 1 (modulated allpasses) */
#define PLATE_RING 1.0          /* tank allpasses ring out within decay / this */
#define PLATE_DAMP_FLOOR 0.89   /* tank lowpass gain 3 octaves under damp: >= -1 dB */

/* Tank, per half (0 = left, 1 = right): modulated allpass, delay 1,
 * allpass, delay 2. */
static const uint16_t plate_mod_len[2] = {672, 908};
static const uint16_t plate_d1_len[2] = {4453, 4217};
static const uint16_t plate_ap_len[2] = {1800, 2656};
static const uint16_t plate_d2_len[2] = {3720, 3163};

/* Output taps (the paper's table 2), offsets into the tank elements:
 * left  = + d1R[266] + d1R[2974] - apR[1913] + d2R[1996]
 *         - d1L[1990] - apL[187] - d2L[1066]
 * right = + d1L[353] + d1L[3627] - apL[1228] + d2L[2673]
 *         - d1R[2111] - apR[335] - d2R[121]
 * (d1, d2 the delays, ap the decay allpass's own delay), times 0.6.
 * plate_tank() writes the sums out; this holds the offsets in its order. */
static const uint16_t plate_tap_at[2][7] = {
	{266, 2974, 1913, 1996, 1990, 187, 1066},
	{353, 3627, 1228, 2673, 2111, 335, 121},
};

enum { PLATE_DECAY, PLATE_PREDELAY, PLATE_BANDWIDTH, PLATE_DAMP, PLATE_MIX, PLATE_NPARAMS };

static const struct fx_param plate_params[PLATE_NPARAMS] = {
	[PLATE_DECAY] = {"decay", "s", 0.25f, 20.0f, 2.0f, FX_LOG,
			 "reverb time RT60 (tank decay coefficient 10^(-0.544 / decay))"},
	[PLATE_PREDELAY] = {"predelay", "ms", 0.0f, RV_PREDELAY_MAX_MS, 10.0f, FX_LINEAR,
			    "delay before the reverb starts"},
	[PLATE_BANDWIDTH] = {"bandwidth", "Hz", 1000.0f, 20000.0f, 16000.0f, FX_LOG,
			     "input lowpass, -3 dB frequency"},
	[PLATE_DAMP] = {"damp", "Hz", 1000.0f, 20000.0f, 8000.0f, FX_LOG,
			"frequency where the decay time is half the set decay (shorter above)"},
	[PLATE_MIX] = {"mix", "%", 0.0f, 100.0f, 25.0f, FX_LINEAR,
		       "wet share: dry 100 - mix, wet mix"},
};

struct plate_half {
	float *mod, *d1, *ap, *d2;   /* modulated allpass, delays, allpass: power-of-two
				      * rings written at the shared position w */
	uint32_t mask_mod, mask_d1, mask_ap, mask_d2;
	uint32_t len_d1, len_ap, len_d2;
	float mod_len;          /* centre of the modulated delay, frames */
	float lp;
};

struct plate {
	uint32_t rate;
	int channels;
	struct rv_clock clk;
	uint32_t ramp_chunks;
	float value[PLATE_NPARAMS];
	struct rv_ramp decay, dd1, dd2, damp_b, bw_b, dry, wet1, wet2;
	struct rv_predelay pre;
	struct rv_ring in_ap[4];
	float bw_state;
	struct plate_half half[2];
	uint32_t w;
	uint32_t tap[2][7];     /* plate_tap_at, scaled */
	double lfo_phase;       /* cycles, 0..1, at the start of the chunk */
	float lfo_prev[2], lfo_cur[2];
	float excursion;        /* frames */
	double loop_s;          /* tank round trip, seconds */
	double ap_mod_s, ap_decay_s;   /* the longer half's allpass delays, seconds */
	struct rv_arena mem;
	float in[RV_CHUNK] __attribute__((aligned(64)));
	float wet[2][RV_CHUNK] __attribute__((aligned(64)));
};

/* A length of the paper (at 29761 Hz) in frames at our rate. */
static uint32_t plate_scale(const struct plate *p, double len)
{
	return (uint32_t)floor(len * p->rate / PLATE_RATE + 0.5);
}

/* Lay out (a->base NULL) or assign (a->base set) the delay memory, and
 * the tank's round trip time. */
static void plate_plan(struct plate *p, struct rv_arena *a)
{
	rv_predelay_plan(a, &p->pre, 1, p->rate);
	for (int k = 0; k < 4; k++) {
		p->in_ap[k].len = plate_scale(p, plate_in_len[k]);
		p->in_ap[k].buf = rv_take(a, p->in_ap[k].len);
	}
	p->excursion = (float)(PLATE_EXCURSION * p->rate / PLATE_RATE);
	double loop = 0.0;
	for (int s = 0; s < 2; s++) {
		struct plate_half *hf = &p->half[s];
		hf->mod_len = (float)plate_scale(p, plate_mod_len[s]);
		hf->len_d1 = plate_scale(p, plate_d1_len[s]);
		hf->len_ap = plate_scale(p, plate_ap_len[s]);
		hf->len_d2 = plate_scale(p, plate_d2_len[s]);
		hf->mask_mod = rv_pow2_above((uint32_t)(hf->mod_len + p->excursion) + 3) - 1;
		hf->mask_d1 = rv_pow2_above(hf->len_d1 + 1) - 1;
		hf->mask_ap = rv_pow2_above(hf->len_ap + 1) - 1;
		hf->mask_d2 = rv_pow2_above(hf->len_d2 + 1) - 1;
		hf->mod = rv_take(a, hf->mask_mod + 1);
		hf->d1 = rv_take(a, hf->mask_d1 + 1);
		hf->ap = rv_take(a, hf->mask_ap + 1);
		hf->d2 = rv_take(a, hf->mask_d2 + 1);
		loop += hf->mod_len + hf->len_d1 + hf->len_ap + hf->len_d2;
	}
	p->loop_s = loop / p->rate;
	p->ap_mod_s = fmax(p->half[0].mod_len, p->half[1].mod_len) / p->rate;
	p->ap_decay_s = (double)(p->half[0].len_ap > p->half[1].len_ap ? p->half[0].len_ap
								    : p->half[1].len_ap) / p->rate;
	for (int side = 0; side < 2; side++)
		for (int k = 0; k < 7; k++)
			p->tap[side][k] = plate_scale(p, plate_tap_at[side][k]);
}

/* Tank decay coefficient for RT60 t60: four per round trip. */
static double plate_decay_coef(const struct plate *p, double t60)
{
	return pow(10.0, -3.0 * p->loop_s / (4.0 * t60));
}

/* Tank coefficients for the current decay and damp. */
static void plate_tank_targets(struct plate *p, bool jump)
{
	double k = plate_decay_coef(p, p->value[PLATE_DECAY]);
	double dd2 = k + 0.15;
	if (dd2 < 0.25)
		dd2 = 0.25;
	if (dd2 > 0.5)
		dd2 = 0.5;
	/* An allpass of gain g over d seconds rings for an RT60 of 3 d /
	 * -log10(g) whatever the tank does, so short decays take its gain
	 * down to the one that rings out within the decay (the longer half's
	 * length for both); from about 0.9 s up the paper's values hold. */
	double t60 = p->value[PLATE_DECAY];
	double dd1 = pow(10.0, -3.0 * PLATE_RING * p->ap_mod_s / t60);
	if (dd1 > PLATE_DD1)
		dd1 = PLATE_DD1;
	double dd2_max = pow(10.0, -3.0 * PLATE_RING * p->ap_decay_s / t60);
	if (dd2 > dd2_max)
		dd2 = dd2_max;
	/* Two lowpasses per round trip of gain k^4: each gives k^2 at damp.
	 * A one-pole that strong (short decays) would cut the mids too and
	 * shorten the decay everywhere, so it is held to -1 dB three octaves
	 * under damp, where the decay is to be the set one; below about
	 * 1.2 s the highs then decay less than twice as fast. */
	double b = rv_onepole_for_gain(k * k, p->value[PLATE_DAMP], p->rate);
	double b_max = rv_onepole_for_gain(PLATE_DAMP_FLOOR, p->value[PLATE_DAMP] / 8.0, p->rate);
	if (b > b_max)
		b = b_max;
	rv_ramp_to(&p->decay, (float)k, p->ramp_chunks, jump);
	rv_ramp_to(&p->dd1, (float)dd1, p->ramp_chunks, jump);
	rv_ramp_to(&p->dd2, (float)dd2, p->ramp_chunks, jump);
	rv_ramp_to(&p->damp_b, (float)b, p->ramp_chunks, jump);
}

static void plate_set(void *fx, int i, float v);

/* LFO back to phase 0 (sine 0 for the left allpass, cosine 1 for the right). */
static void plate_lfo_start(struct plate *p)
{
	p->lfo_phase = 0.0;
	p->lfo_prev[0] = p->lfo_cur[0] = 0.0f;
	p->lfo_prev[1] = p->lfo_cur[1] = 1.0f;
}

/* Forget the signal (delay lines, filters, LFO), keep the parameters,
 * which apply at once again. RT (clears the delay memory) */
static void plate_reset(void *fx)
{
	struct plate *p = fx;
	memset(p->mem.base, 0, p->mem.size * sizeof(float));
	for (int k = 0; k < 4; k++)
		p->in_ap[k].pos = 0;
	for (int s = 0; s < 2; s++)
		p->half[s].lp = 0.0f;
	p->bw_state = 0.0f;
	rv_predelay_clear(&p->pre);
	p->w = 0;
	p->clk.t = 0;
	plate_lfo_start(p);
	p->clk.fresh = true;
	for (int i = 0; i < PLATE_NPARAMS; i++)
		plate_set(p, i, p->value[i]);
}

/* New instance with all delay memory for `rate`, at the defaults; 1 or 2
 * channels. Not RT */
static void *plate_create(uint32_t rate, int channels)
{
	if (rate < RV_RATE_MIN || rate > RV_RATE_MAX || channels < 1 || channels > 2)
		return NULL;
	struct plate *p = aligned_alloc(64, (sizeof *p + 63) & ~(size_t)63);
	if (p == NULL)
		return NULL;
	memset(p, 0, sizeof *p);
	p->rate = rate;
	p->channels = channels;
	p->ramp_chunks = rv_chunks(rate, RV_RAMP_S);
	plate_plan(p, &p->mem);
	if (!rv_arena_alloc(&p->mem)) {
		free(p);
		return NULL;
	}
	plate_plan(p, &p->mem);
	plate_lfo_start(p);
	for (int i = 0; i < PLATE_NPARAMS; i++)
		p->value[i] = plate_params[i].def;
	p->clk.fresh = true;
	for (int i = 0; i < PLATE_NPARAMS; i++)
		plate_set(p, i, p->value[i]);
	return p;
}

/* Free an instance (NULL is fine). Not RT */
static void plate_destroy(void *fx)
{
	struct plate *p = fx;
	if (p) {
		free(p->mem.base);
		free(p);
	}
}

/* Parameter i to v. RT */
static void plate_set(void *fx, int i, float v)
{
	struct plate *p = fx;
	if (i < 0 || i >= PLATE_NPARAMS)
		return;
	if (v == p->value[i] && !p->clk.fresh)
		return;
	p->value[i] = v;
	const bool jump = p->clk.fresh;
	switch (i) {
	case PLATE_DECAY:
	case PLATE_DAMP:
		plate_tank_targets(p, jump);
		break;
	case PLATE_BANDWIDTH:
		rv_ramp_to(&p->bw_b, (float)rv_onepole_for_gain(M_SQRT1_2, v, p->rate),
			   p->ramp_chunks, jump);
		break;
	case PLATE_PREDELAY:
		rv_predelay_set(&p->pre, rv_ms_to_frames(v, p->rate), jump);
		break;
	case PLATE_MIX:
		rv_mix_targets(&p->dry, &p->wet1, &p->wet2, 0.01f * v, 1.0f, p->ramp_chunks, jump);
		break;
	}
}

/* One half of the tank, its buffers, masks and lengths in registers. */
struct plate_lines {
	float *restrict mod, *restrict d1, *restrict ap, *restrict d2;
	uint32_t m_mod, m_d1, m_ap, m_d2;
	uint32_t l_d1, l_ap, l_d2;
};

static inline struct plate_lines plate_lines_of(const struct plate_half *hf)
{
	return (struct plate_lines){hf->mod, hf->d1, hf->ap, hf->d2,
				    hf->mask_mod, hf->mask_d1, hf->mask_ap, hf->mask_d2,
				    hf->len_d1, hf->len_ap, hf->len_d2};
}

/* One frame through one half: modulated allpass (delay `dly` frames,
 * linearly interpolated), delay 1, damping, decay, decay allpass (the
 * opposite sign), delay 2 (written here, read by the other half). RT */
static inline void plate_half_step(const struct plate_lines *l, uint32_t w, float in, float dly,
				   float *lp, float decay, float dd1, float dd2, float db)
{
	uint32_t di = (uint32_t)dly;
	float fr = dly - (float)di;
	float r0 = l->mod[(w - di) & l->m_mod], r1 = l->mod[(w - di - 1) & l->m_mod];
	float dv = r0 + (r1 - r0) * fr;
	float u = in + dd1 * dv;
	l->mod[w & l->m_mod] = u;
	l->d1[w & l->m_d1] = dv - dd1 * u;
	float r = l->d1[(w - l->l_d1) & l->m_d1];
	*lp = r + db * (*lp - r);
	float av = l->ap[(w - l->l_ap) & l->m_ap];
	float u2 = *lp * decay - dd2 * av;
	l->ap[w & l->m_ap] = u2;
	l->d2[w & l->m_d2] = av + dd2 * u2;
}

/* The tank over the span: per frame, both halves, then the taps. RT */
static void plate_tank(struct plate *p, uint32_t n, uint32_t phase)
{
	const float decay = p->decay.cur, dd1 = p->dd1.cur, dd2 = p->dd2.cur, db = p->damp_b.cur;
	const float exc = p->excursion;
	const struct plate_lines L = plate_lines_of(&p->half[0]), R = plate_lines_of(&p->half[1]);
	/* Modulated delay = centre + excursion * LFO, the LFO a straight line
	 * through the chunk (it is a 1 Hz sine). */
	const float m0l = p->half[0].mod_len + exc * p->lfo_prev[0];
	const float m0r = p->half[1].mod_len + exc * p->lfo_prev[1];
	const float mdl = exc * (p->lfo_cur[0] - p->lfo_prev[0]) * (1.0f / (float)RV_CHUNK);
	const float mdr = exc * (p->lfo_cur[1] - p->lfo_prev[1]) * (1.0f / (float)RV_CHUNK);
	uint32_t tl[7], tr[7];
	memcpy(tl, p->tap[0], sizeof tl);
	memcpy(tr, p->tap[1], sizeof tr);
	float lpl = p->half[0].lp, lpr = p->half[1].lp;
	const float *restrict x = p->in;
	float *restrict wl = p->wet[0], *restrict wr = p->wet[1];
	const bool stereo = p->channels == 2;
	uint32_t w = p->w;
	for (uint32_t j = 0; j < n; j++, w++) {
		const float k = (float)(phase + j + 1);
		/* Each half is fed by the other half's last delay. */
		const float from_r = R.d2[(w - R.l_d2) & R.m_d2] * decay;
		const float from_l = L.d2[(w - L.l_d2) & L.m_d2] * decay;
		plate_half_step(&L, w, x[j] + from_r, m0l + mdl * k, &lpl, decay, dd1, dd2, db);
		plate_half_step(&R, w, x[j] + from_l, m0r + mdr * k, &lpr, decay, dd1, dd2, db);
		/* Taps in plate_tap_at order and with its signs. */
		wl[j] = PLATE_OUT_GAIN *
			(((R.d1[(w - tl[0]) & R.m_d1] + R.d1[(w - tl[1]) & R.m_d1]) -
			  (R.ap[(w - tl[2]) & R.m_ap] - R.d2[(w - tl[3]) & R.m_d2])) -
			 ((L.d1[(w - tl[4]) & L.m_d1] + L.ap[(w - tl[5]) & L.m_ap]) + L.d2[(w - tl[6]) & L.m_d2]));
		if (stereo)
			wr[j] = PLATE_OUT_GAIN *
				(((L.d1[(w - tr[0]) & L.m_d1] + L.d1[(w - tr[1]) & L.m_d1]) -
				  (L.ap[(w - tr[2]) & L.m_ap] - L.d2[(w - tr[3]) & L.m_d2])) -
				 ((R.d1[(w - tr[4]) & R.m_d1] + R.ap[(w - tr[5]) & R.m_ap]) + R.d2[(w - tr[6]) & R.m_d2]));
	}
	p->half[0].lp = lpl;
	p->half[1].lp = lpr;
	p->w = w;
}

/* One span. RT */
static void plate_render(void *fx, float *const *buf, uint32_t off, uint32_t n, uint32_t phase)
{
	struct plate *p = fx;
	float *restrict x = p->in;
	if (p->channels == 2) {
		const float *restrict l = buf[0] + off, *restrict r = buf[1] + off;
		for (uint32_t j = 0; j < n; j++)
			x[j] = (l[j] + r[j]) * 0.5f + RV_GUARD;
	} else {
		const float *restrict l = buf[0] + off;
		for (uint32_t j = 0; j < n; j++)
			x[j] = l[j] + RV_GUARD;
	}
	float *lines[1] = {x};
	rv_predelay_run(&p->pre, lines, n);
	/* bandwidth: y = (1 - b) x + b y */
	const float bw = p->bw_b.cur;
	float st = p->bw_state;
	for (uint32_t j = 0; j < n; j++) {
		st = x[j] + bw * (st - x[j]);
		x[j] = st;
	}
	p->bw_state = st;
	/* The paper's input diffusers: y = -g x + ..., the sign of -g here. */
	for (int k = 0; k < 4; k++)
		rv_allpass(&p->in_ap[k], -plate_in_g[k], x, n);
	plate_tank(p, n, phase);
	if (!rv_finite(p->wet[0], n) || !rv_finite(p->wet[p->channels - 1], n)) {
		uint64_t t = p->clk.t;
		double ph = p->lfo_phase;
		float lp[2] = {p->lfo_prev[0], p->lfo_prev[1]}, lc[2] = {p->lfo_cur[0], p->lfo_cur[1]};
		plate_reset(p);
		p->clk.t = t;
		p->lfo_phase = ph;
		memcpy(p->lfo_prev, lp, sizeof lp);
		memcpy(p->lfo_cur, lc, sizeof lc);
		p->clk.fresh = false;
		memset(p->wet, 0, sizeof p->wet);
	}
	rv_mix_out(buf, p->channels, off, n, phase, &p->dry, &p->wet1, &p->wet2,
		   p->wet[0], p->wet[p->channels - 1]);
}

/* At a chunk boundary: the ramps take their step, the LFO moves on. RT */
static void plate_tick(void *fx)
{
	struct plate *p = fx;
	rv_ramp_tick(&p->decay);
	rv_ramp_tick(&p->dd1);
	rv_ramp_tick(&p->dd2);
	rv_ramp_tick(&p->damp_b);
	rv_ramp_tick(&p->bw_b);
	rv_ramp_tick(&p->dry);
	rv_ramp_tick(&p->wet1);
	rv_ramp_tick(&p->wet2);
	/* LFO values at the end of this chunk; phase kept in double so that
	 * hours of running do not drift. */
	p->lfo_phase += (double)RV_CHUNK * PLATE_LFO_HZ / p->rate;
	if (p->lfo_phase >= 1.0)
		p->lfo_phase -= 1.0;
	double a = 2.0 * M_PI * p->lfo_phase;
	p->lfo_prev[0] = p->lfo_cur[0];
	p->lfo_prev[1] = p->lfo_cur[1];
	p->lfo_cur[0] = (float)sin(a);
	p->lfo_cur[1] = (float)cos(a);
}

/* n frames in place. RT */
static void plate_process(void *fx, float *const *buf, uint32_t n)
{
	struct plate *p = fx;
	rv_run(p, &p->clk, buf, n, plate_tick, plate_render);
}

const struct fx_type fx_plate = {
	.id = "plate",
	.doc = "plate reverb: Dattorro's figure-of-eight tank with modulated allpasses",
	.params = plate_params,
	.nparams = PLATE_NPARAMS,
	.max_channels = 2,
	.create = plate_create,
	.destroy = plate_destroy,
	.set = plate_set,
	.reset = plate_reset,
	.process = plate_process,
};
