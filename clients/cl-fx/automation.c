/*
 * Chain + lanes; see automation.h.
 */
#include "automation.h"

void fx_automate(struct fx_chain *c, const struct fx_lane *lanes, int nlanes,
		 double seconds, double beats, bool has_beats)
{
	for (int i = 0; i < nlanes; i++) {
		const struct fx_lane *l = &lanes[i];
		if (l->beats && !has_beats)
			continue;
		int pos = fx_chain_find(c, l->slot_id);
		if (pos < 0)
			continue;
		fx_slot_set(c->slot[pos], l->param, fx_lane_value(l, l->beats ? beats : seconds));
	}
}

void fx_chain_run(struct fx_chain *c, const struct fx_lane *lanes, int nlanes,
		  float *const *buf, uint32_t n, const struct fx_clock *clock)
{
	if (nlanes == 0) {
		fx_chain_process(c, buf, n);
		return;
	}
	float *piece[FX_MAX_CHANNELS];
	for (uint32_t done = 0; done < n; done += FX_AUTOMATION_STEP) {
		uint32_t len = n - done < FX_AUTOMATION_STEP ? n - done : FX_AUTOMATION_STEP;
		fx_automate(c, lanes, nlanes, clock->seconds + done * clock->seconds_per_frame,
			    clock->beats + done * clock->beats_per_frame, clock->has_beats);
		for (int ch = 0; ch < c->channels; ch++)
			piece[ch] = buf[ch] + done;
		fx_chain_process(c, piece, len);
	}
}
