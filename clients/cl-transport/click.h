/*
 * Metronome click: a short sine burst with an exponential decay, higher and
 * louder on the downbeat. A click may start at any frame of a cycle and
 * ring on into the next cycles. Plain DSP on float buffers.
 */
#ifndef CL_TRANSPORT_CLICK_H
#define CL_TRANSPORT_CLICK_H

#include <stdbool.h>
#include <stdint.h>

#define CLICK_FREQ_BEAT 1000.0
#define CLICK_FREQ_DOWNBEAT 1500.0
#define CLICK_LENGTH_S 0.040

struct click {
	uint32_t rate;
	float level;        /* linear gain of an ordinary beat */
	float phase;        /* radians */
	float phase_step;
	float env;
	float decay;        /* per-frame envelope factor */
	uint32_t remaining; /* frames left of the sounding click */
};

void click_init(struct click *c, uint32_t rate, float level);
/* Start a click (cutting a sounding one). RT */
void click_start(struct click *c, bool downbeat);
/* Silence at once (stop, relocate). RT */
void click_stop(struct click *c);
/* Add the sounding click to out[0..n). RT */
void click_render(struct click *c, float *out, uint32_t n);

#endif
