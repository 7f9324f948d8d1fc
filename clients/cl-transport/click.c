/*
 * Metronome click synthesis; see click.h.
 *
 * The envelope falls by 60 dB over the click length (decay factor
 * 10^(-3 / length_frames) per frame), so the burst ends inaudibly instead of
 * with a step. The downbeat is 1500 Hz at twice the level of the 1000 Hz
 * beats, the usual metronome accent.
 */
#include "click.h"

#include <math.h>

void click_init(struct click *c, uint32_t rate, float level)
{
	*c = (struct click){ .rate = rate, .level = level };
	double frames = CLICK_LENGTH_S * rate;
	c->decay = (float)pow(10.0, -3.0 / frames);
}

void click_start(struct click *c, bool downbeat)
{
	double freq = downbeat ? CLICK_FREQ_DOWNBEAT : CLICK_FREQ_BEAT;
	c->phase = 0.0f;
	c->phase_step = (float)(2.0 * M_PI * freq / c->rate);
	c->env = downbeat ? fminf(2.0f * c->level, 1.0f) : c->level;
	c->remaining = (uint32_t)(CLICK_LENGTH_S * c->rate);
}

void click_stop(struct click *c)
{
	c->remaining = 0;
}

void click_render(struct click *c, float *out, uint32_t n)
{
	uint32_t count = n < c->remaining ? n : c->remaining;
	float phase = c->phase, step = c->phase_step, env = c->env;
	const float decay = c->decay;

	for (uint32_t i = 0; i < count; i++) {
		out[i] += env * sinf(phase);
		phase += step;
		if (phase > (float)(2.0 * M_PI))
			phase -= (float)(2.0 * M_PI);
		env *= decay;
	}
	c->phase = phase;
	c->env = env;
	c->remaining -= count;
}
