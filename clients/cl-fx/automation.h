/*
 * Running a chain with its automation lanes, shared by the live rack and
 * the offline renderer. Lanes are evaluated at the start of every
 * FX_AUTOMATION_STEP-frame piece of a block (the first piece starts at the
 * block's first frame, so values are exact at every cycle start) and the
 * effects' own smoothing interpolates inside each piece.
 */
#ifndef CL_FX_AUTOMATION_H
#define CL_FX_AUTOMATION_H

#include "chain.h"
#include "lane.h"

#define FX_AUTOMATION_STEP 32

/* Where a block starts on the two time axes, and how fast they advance. */
struct fx_clock {
	double seconds;            /* at the block's first frame */
	double beats;              /* at the block's first frame (valid if has_beats) */
	double seconds_per_frame;
	double beats_per_frame;
	bool has_beats;            /* beat lanes hold still without a tempo */
};

/* Set every automated parameter to its lanes' value at (seconds, beats). RT */
void fx_automate(struct fx_chain *c, const struct fx_lane *lanes, int nlanes,
		 double seconds, double beats, bool has_beats);

/* Process n frames of buf through c with the lanes applied. RT */
void fx_chain_run(struct fx_chain *c, const struct fx_lane *lanes, int nlanes,
		  float *const *buf, uint32_t n, const struct fx_clock *clock);

#endif
