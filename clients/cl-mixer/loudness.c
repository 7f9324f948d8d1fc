/*
 * Short-term loudness after ITU-R BS.1770-4 / EBU R128; see loudness.h.
 *
 * K-weighting is two biquads in cascade. BS.1770 tabulates their
 * coefficients for 48 kHz only; here they come from the analog prototypes
 * behind that table (a high shelf of +4 dB at 1682 Hz, Q 0.7072, and the
 * "revised low-frequency B-curve" high-pass at 38.1 Hz, Q 0.5003) through
 * the bilinear transform with frequency pre-warping, so every sample rate
 * gets the same response. At 48 kHz the result equals the table to about
 * 1e-8.
 *
 * Each channel is filtered, squared and summed (channel weight 1.0 for
 * left and right, the only channels here) into the current 100 ms block;
 * a finished block stores its channel-summed mean square in a ring of 30.
 * Short-term loudness is -0.691 + 10 log10 of the mean of those blocks:
 * the 3 s window moves in 100 ms steps, which is the rate any display
 * refreshes at anyway. Before 3 s have passed, the mean is over the blocks
 * there are (a meter that starts at -inf and settles, rather than one that
 * climbs slowly through 3 s of imagined silence).
 *
 * Everything is a fixed-size struct and double arithmetic: no allocation,
 * no locks, RT-safe. Filter states that sink into the denormal range after
 * a signal stops are flushed to zero once per call; non-finite states (a
 * NaN sample) reset the filters instead of poisoning the meter forever.
 */
#include "loudness.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* Analog prototype of the BS.1770 pre-filter (high shelf). */
#define SHELF_F0 1681.974450955533
#define SHELF_GAIN_DB 3.999843853973347
#define SHELF_Q 0.7071752369554196
/* The prototype's band gain Vb = Vh^0.4997 (a shelf whose mid-point sits
 * half-way in dB), fitted with f0 and Q to the standard's 48 kHz table. */
#define SHELF_VB_EXP 0.4996667741545416
/* Analog prototype of the RLB weighting (second-order high-pass). */
#define HIGHPASS_F0 38.13547087602444
#define HIGHPASS_Q 0.5003270373238773

/* The -0.691 dB of BS.1770 makes a 997 Hz sine read its own level in LKFS
 * after the shelf's gain at that frequency. */
#define LOUDNESS_OFFSET_DB (-0.691)
#define DENORMAL_LIMIT 1e-25

/* High shelf from the analog prototype, bilinear with pre-warped f0. */
static struct loudness_biquad shelf_coefficients(uint32_t rate)
{
	double k = tan(M_PI * SHELF_F0 / rate);
	double vh = pow(10.0, SHELF_GAIN_DB / 20.0);
	double vb = pow(vh, SHELF_VB_EXP);
	double norm = 1.0 + k / SHELF_Q + k * k;
	return (struct loudness_biquad){
		.b0 = (vh + vb * k / SHELF_Q + k * k) / norm,
		.b1 = 2.0 * (k * k - vh) / norm,
		.b2 = (vh - vb * k / SHELF_Q + k * k) / norm,
		.a1 = 2.0 * (k * k - 1.0) / norm,
		.a2 = (1.0 - k / SHELF_Q + k * k) / norm,
	};
}

/* RLB high-pass. The numerator stays 1, -2, 1 as in the standard's table
 * (not normalised by the denominator's a0): its pass-band gain is then
 * 1.0 within 0.01 dB, and the -0.691 offset was defined with it so. */
static struct loudness_biquad highpass_coefficients(uint32_t rate)
{
	double k = tan(M_PI * HIGHPASS_F0 / rate);
	double norm = 1.0 + k / HIGHPASS_Q + k * k;
	return (struct loudness_biquad){
		.b0 = 1.0,
		.b1 = -2.0,
		.b2 = 1.0,
		.a1 = 2.0 * (k * k - 1.0) / norm,
		.a2 = (1.0 - k / HIGHPASS_Q + k * k) / norm,
	};
}

/* Set up for rate and 1 or 2 channels; channel counts outside that range
 * are clamped into it. Not RT (tan and pow), but allocation-free. */
void loudness_init(struct loudness *l, uint32_t rate, int channels)
{
	if (rate == 0)
		rate = 48000;
	if (channels < 1)
		channels = 1;
	if (channels > LOUDNESS_MAX_CHANNELS)
		channels = LOUDNESS_MAX_CHANNELS;
	memset(l, 0, sizeof *l);
	l->rate = rate;
	l->channels = channels;
	l->shelf = shelf_coefficients(rate);
	l->highpass = highpass_coefficients(rate);
	/* 100 ms rounded to whole frames (4410 at 44.1 kHz, 2205 at 22.05). */
	l->block_len = (rate + 5) / 10;
	if (l->block_len == 0)
		l->block_len = 1;
	loudness_reset(l);
}

/* Forget every sample: filters, the open block and the 3 s history. RT */
void loudness_reset(struct loudness *l)
{
	memset(l->z, 0, sizeof l->z);
	memset(l->blocks, 0, sizeof l->blocks);
	l->block_sum = 0.0;
	l->block_frames = 0;
	l->next_block = 0;
	l->filled_blocks = 0;
}

/* K-weight n samples of one channel (NULL: silence) through the state z
 * and return the sum of the weighted squares. RT */
static double weight_channel(const struct loudness *l, double *z, const float *x, uint32_t n)
{
	const struct loudness_biquad s = l->shelf, h = l->highpass;
	/* Transposed direct form II: two state words per biquad. */
	double s1 = z[0], s2 = z[1], h1 = z[2], h2 = z[3];
	double sum = 0.0;

	for (uint32_t i = 0; i < n; i++) {
		double in = x ? x[i] : 0.0;
		double y = s.b0 * in + s1;
		s1 = s.b1 * in - s.a1 * y + s2;
		s2 = s.b2 * in - s.a2 * y;
		double k = h.b0 * y + h1;
		h1 = h.b1 * y - h.a1 * k + h2;
		h2 = h.b2 * y - h.a2 * k;
		sum += k * k;
	}
	if (!isfinite(s1) || !isfinite(s2) || !isfinite(h1) || !isfinite(h2) || !isfinite(sum)) {
		s1 = s2 = h1 = h2 = 0.0;
		sum = 0.0;
	}
	/* After a signal stops the states decay towards the denormal range,
	 * where every multiply would cost a hundred cycles. */
	z[0] = fabs(s1) < DENORMAL_LIMIT ? 0.0 : s1;
	z[1] = fabs(s2) < DENORMAL_LIMIT ? 0.0 : s2;
	z[2] = fabs(h1) < DENORMAL_LIMIT ? 0.0 : h1;
	z[3] = fabs(h2) < DENORMAL_LIMIT ? 0.0 : h2;
	return sum;
}

/* Add n frames of ch[0..channels-1] (a NULL channel reads as silence),
 * closing a 100 ms block whenever one fills. RT */
void loudness_process(struct loudness *l, const float *const *ch, uint32_t n)
{
	uint32_t done = 0;

	while (done < n) {
		uint32_t room = l->block_len - l->block_frames;
		uint32_t chunk = n - done < room ? n - done : room;
		for (int c = 0; c < l->channels; c++) {
			const float *x = ch && ch[c] ? ch[c] + done : NULL;
			l->block_sum += weight_channel(l, l->z[c], x, chunk);
		}
		done += chunk;
		l->block_frames += chunk;
		if (l->block_frames == l->block_len) {
			/* Sum over channels of each channel's mean square:
			 * BS.1770's weighted sum with G = 1.0 for L and R. */
			l->blocks[l->next_block] = l->block_sum / l->block_len;
			l->next_block = (l->next_block + 1) % LOUDNESS_BLOCKS;
			if (l->filled_blocks < LOUDNESS_BLOCKS)
				l->filled_blocks++;
			l->block_sum = 0.0;
			l->block_frames = 0;
		}
	}
}

/* LUFS of the mean of the finished blocks of the last 3 s; -inf before
 * the first block and for digital silence. RT */
double loudness_short_term(const struct loudness *l)
{
	if (l->filled_blocks == 0)
		return -INFINITY;
	double sum = 0.0;
	for (int b = 0; b < l->filled_blocks; b++)
		sum += l->blocks[b];
	double mean = sum / l->filled_blocks;
	if (!(mean > 0.0))
		return -INFINITY;
	return LOUDNESS_OFFSET_DB + 10.0 * log10(mean);
}
