/*
 * The table of effect types and the parameter curve helpers shared by the
 * rack, automation, MIDI learn and the OSC /norm methods.
 */
#include "effect.h"

#include <math.h>
#include <string.h>

const struct fx_type *const fx_types[] = {
	&fx_peq, &fx_lowshelf, &fx_highshelf, &fx_highpass, &fx_lowpass,
	&fx_compressor, &fx_limiter, &fx_expander, &fx_gate,
	&fx_saturation, &fx_distortion, &fx_waveshaper,
	&fx_delay, &fx_pingpong, &fx_multitap,
	&fx_freeverb, &fx_hall, &fx_plate,
	NULL,
};

const struct fx_type *fx_find_type(const char *id)
{
	for (int i = 0; fx_types[i]; i++)
		if (strcmp(fx_types[i]->id, id) == 0)
			return fx_types[i];
	return NULL;
}

int fx_param_index(const struct fx_type *t, const char *name)
{
	for (int i = 0; i < t->nparams; i++)
		if (strcmp(t->params[i].name, name) == 0)
			return i;
	return -1;
}

float fx_param_clamp(const struct fx_param *p, float value)
{
	if (isnan(value))
		return p->def;
	if (value < p->min)
		value = p->min;
	if (value > p->max)
		value = p->max;
	if (p->curve == FX_CHOICE || p->curve == FX_TOGGLE)
		value = roundf(value);
	return value;
}

float fx_param_from_norm(const struct fx_param *p, float norm)
{
	if (!(norm >= 0.0f))
		norm = 0.0f;
	if (norm > 1.0f)
		norm = 1.0f;
	float v;
	if (p->curve == FX_LOG && p->min > 0.0f)
		v = p->min * powf(p->max / p->min, norm);   /* equal ratios per equal travel */
	else
		v = p->min + norm * (p->max - p->min);
	return fx_param_clamp(p, v);
}

float fx_param_to_norm(const struct fx_param *p, float value)
{
	value = fx_param_clamp(p, value);
	if (p->max <= p->min)
		return 0.0f;
	if (p->curve == FX_LOG && p->min > 0.0f)
		return logf(value / p->min) / logf(p->max / p->min);
	return (value - p->min) / (p->max - p->min);
}
