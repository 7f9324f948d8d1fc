/*
 * Short-term loudness (EBU R128 / ITU-R BS.1770): K-weighting (the
 * high-shelf "head" filter and the RLB high-pass, coefficients computed for
 * any sample rate) and the mean square over the last 3 s, kept as thirty
 * 100 ms blocks. A fixed-size struct: no allocation, RT-safe, so a live
 * strip can be measured in the process callback.
 */
#ifndef CL_MIXER_LOUDNESS_H
#define CL_MIXER_LOUDNESS_H

#include <stdint.h>

#define LOUDNESS_BLOCKS 30           /* 3 s of 100 ms blocks */
#define LOUDNESS_MAX_CHANNELS 2

struct loudness_biquad {
	double b0, b1, b2, a1, a2;
};

struct loudness {
	uint32_t rate;
	int channels;
	struct loudness_biquad shelf, highpass;
	double z[LOUDNESS_MAX_CHANNELS][4];  /* filter states */
	double block_sum;                      /* sum of weighted squares in the block */
	uint32_t block_frames, block_len;
	double blocks[LOUDNESS_BLOCKS];        /* mean square of each finished block */
	int next_block, filled_blocks;
};

/* Set up for rate and 1 or 2 channels (silence so far). */
void loudness_init(struct loudness *l, uint32_t rate, int channels);
void loudness_reset(struct loudness *l);
/* Add n frames: ch[c][i]. RT */
void loudness_process(struct loudness *l, const float *const *ch, uint32_t n);
/* LUFS over the last 3 s (or what there is of it); -inf for silence. */
double loudness_short_term(const struct loudness *l);

#endif
