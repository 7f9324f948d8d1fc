/*
 * Effect chains; see chain.h. Bypass is a crossfade between the effect's
 * output and a copy of its input taken before it ran, so switching never
 * clicks; a fully bypassed slot costs only the copy it skips (nothing).
 */
#include "chain.h"

#include <stdlib.h>
#include <string.h>

struct fx_slot *fx_slot_new(const struct fx_type *t, uint32_t id, uint32_t rate, int channels)
{
	if (!t || channels < 1 || channels > t->max_channels || channels > FX_MAX_CHANNELS)
		return NULL;
	struct fx_slot *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = id;
	s->type = t;
	s->fx = t->create(rate, channels);
	for (int c = 0; c < channels && s->fx; c++) {
		s->dry[c] = calloc(FX_MAX_BLOCK, sizeof(float));
		if (!s->dry[c]) {
			fx_slot_free(s);
			return NULL;
		}
	}
	if (!s->fx) {
		fx_slot_free(s);
		return NULL;
	}
	for (int i = 0; i < t->nparams; i++)
		s->value[i] = t->params[i].def;
	cl_ramp_init(&s->wet, 1.0f, (uint32_t)(FX_BYPASS_S * rate));
	return s;
}

void fx_slot_free(struct fx_slot *s)
{
	if (!s)
		return;
	if (s->fx)
		s->type->destroy(s->fx);
	for (int c = 0; c < FX_MAX_CHANNELS; c++)
		free(s->dry[c]);
	free(s);
}

void fx_slot_set(struct fx_slot *s, int param, float value)
{
	if (param < 0 || param >= s->type->nparams)
		return;
	value = fx_param_clamp(&s->type->params[param], value);
	if (s->value[param] == value)
		return;
	s->value[param] = value;
	s->type->set(s->fx, param, value);
}

void fx_slot_set_bypass(struct fx_slot *s, bool bypass)
{
	s->bypass = bypass;
	cl_ramp_set(&s->wet, bypass ? 0.0f : 1.0f);
}

uint32_t fx_slot_latency(const struct fx_slot *s)
{
	return s->type->latency ? s->type->latency(s->fx) : 0;
}

struct fx_chain *fx_chain_new(uint32_t rate, int channels, const struct fx_chain *from)
{
	struct fx_chain *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (from)
		*c = *from;
	c->rate = rate;
	c->channels = channels;
	return c;
}

void fx_chain_free(struct fx_chain *c)
{
	free(c);
}

void fx_chain_free_all(struct fx_chain *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->count; i++)
		fx_slot_free(c->slot[i]);
	free(c);
}

int fx_chain_insert(struct fx_chain *c, struct fx_slot *s, int position)
{
	if (c->count == FX_MAX_SLOTS)
		return -1;
	if (position < 0 || position > c->count)
		position = c->count;
	memmove(&c->slot[position + 1], &c->slot[position],
		(size_t)(c->count - position) * sizeof(c->slot[0]));
	c->slot[position] = s;
	c->count++;
	return position;
}

struct fx_slot *fx_chain_take(struct fx_chain *c, int position)
{
	if (position < 0 || position >= c->count)
		return NULL;
	struct fx_slot *s = c->slot[position];
	memmove(&c->slot[position], &c->slot[position + 1],
		(size_t)(c->count - position - 1) * sizeof(c->slot[0]));
	c->count--;
	return s;
}

int fx_chain_find(const struct fx_chain *c, uint32_t id)
{
	for (int i = 0; i < c->count; i++)
		if (c->slot[i]->id == id)
			return i;
	return -1;
}

void fx_chain_set_tempo(struct fx_chain *c, double bpm)
{
	for (int i = 0; i < c->count; i++)
		if (c->slot[i]->type->set_tempo)
			c->slot[i]->type->set_tempo(c->slot[i]->fx, bpm);
}

/* One slot over n frames, with its bypass crossfade. RT */
static void slot_process(struct fx_slot *s, int channels, float *const *buf, uint32_t n)
{
	bool fading = cl_ramp_busy(&s->wet);
	if (!fading && s->bypass)
		return;
	if (!fading) {
		s->type->process(s->fx, buf, n);
		return;
	}
	for (int c = 0; c < channels; c++)
		memcpy(s->dry[c], buf[c], n * sizeof(float));
	s->type->process(s->fx, buf, n);
	struct cl_ramp r = s->wet;
	for (int c = 0; c < channels; c++) {
		r = s->wet;   /* every channel follows the same ramp */
		float *restrict out = buf[c];
		const float *restrict dry = s->dry[c];
		for (uint32_t i = 0; i < n; i++) {
			float w = cl_ramp_next(&r);
			out[i] = dry[i] + w * (out[i] - dry[i]);
		}
	}
	s->wet = r;
}

void fx_chain_process(struct fx_chain *c, float *const *buf, uint32_t n)
{
	for (int i = 0; i < c->count; i++)
		slot_process(c->slot[i], c->channels, buf, n);
}

uint32_t fx_chain_latency(const struct fx_chain *c)
{
	uint32_t sum = 0;
	for (int i = 0; i < c->count; i++)
		if (!c->slot[i]->bypass)
			sum += fx_slot_latency(c->slot[i]);
	return sum;
}
