/*
 * Automation lanes: the value of one effect parameter over time, as points
 * (time, value, curve). Time is in beats (following the JACK transport's
 * BBT) or in seconds (from the transport's or the file's start). The curve
 * of a point shapes the segment that starts at it: linear, exponential
 * (equal ratios in equal times, for frequencies and gains in linear units;
 * falls back to linear when the two values do not share a sign or one is
 * zero) or step (hold until the next point). Before the first point a lane
 * holds the first value, after the last the last value.
 *
 * Plain functions on plain data; the audio thread evaluates lanes at the
 * start of each sub-block, so a lane is sample-accurate at cycle starts and
 * interpolated inside cycles.
 */
#ifndef CL_FX_LANE_H
#define CL_FX_LANE_H

#include <stdbool.h>
#include <stddef.h>

#define FX_LANE_MAX_POINTS 4096

enum fx_lane_curve { FX_SEG_LINEAR, FX_SEG_EXP, FX_SEG_STEP };

struct fx_lane_point {
	double time;
	float value;
	enum fx_lane_curve curve;
};

struct fx_lane {
	unsigned slot_id;           /* the slot's stable id */
	int param;                  /* parameter index in the slot's type */
	bool beats;                 /* time unit: beats, else seconds */
	int count;
	struct fx_lane_point *points;   /* by time, strictly increasing */
};

/* Value at time t. RT (binary search, no allocation). */
float fx_lane_value(const struct fx_lane *l, double t);

/* Curve names in documents: "linear", "exp", "step". */
const char *fx_lane_curve_name(enum fx_lane_curve c);
/* -1 when unknown. */
int fx_lane_curve_parse(const char *name);

/* Thin recorded points in place: drop points that a linear segment between
 * their neighbours reproduces within tolerance (Ramer-Douglas-Peucker on
 * value over time). Returns the new count. Not RT. */
int fx_lane_thin(struct fx_lane_point *p, int count, float tolerance);

#endif
