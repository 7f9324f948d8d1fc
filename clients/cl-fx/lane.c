/*
 * Automation lane evaluation and thinning; see lane.h.
 */
#include "lane.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Index of the last point with time <= t, or -1. */
static int segment_at(const struct fx_lane *l, double t)
{
	int lo = 0, hi = l->count - 1, found = -1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		if (l->points[mid].time <= t) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

float fx_lane_value(const struct fx_lane *l, double t)
{
	if (l->count == 0)
		return 0.0f;
	int i = segment_at(l, t);
	if (i < 0)
		return l->points[0].value;
	if (i == l->count - 1)
		return l->points[i].value;
	const struct fx_lane_point *a = &l->points[i], *b = &l->points[i + 1];
	double x = (t - a->time) / (b->time - a->time);
	switch (a->curve) {
	case FX_SEG_STEP:
		return a->value;
	case FX_SEG_EXP:
		if ((a->value > 0 && b->value > 0) || (a->value < 0 && b->value < 0))
			return (float)(a->value * pow((double)b->value / a->value, x));
		/* no equal ratios across zero: linear */
		__attribute__((fallthrough));
	case FX_SEG_LINEAR:
	default:
		return (float)(a->value + (b->value - a->value) * x);
	}
}

const char *fx_lane_curve_name(enum fx_lane_curve c)
{
	return c == FX_SEG_STEP ? "step" : c == FX_SEG_EXP ? "exp" : "linear";
}

int fx_lane_curve_parse(const char *name)
{
	if (strcmp(name, "linear") == 0)
		return FX_SEG_LINEAR;
	if (strcmp(name, "exp") == 0 || strcmp(name, "exponential") == 0)
		return FX_SEG_EXP;
	if (strcmp(name, "step") == 0)
		return FX_SEG_STEP;
	return -1;
}

/* Mark the points of p[first..last] that RDP keeps. */
static void rdp(const struct fx_lane_point *p, int first, int last, float tol, bool *keep)
{
	if (last <= first + 1)
		return;
	double t0 = p[first].time, t1 = p[last].time;
	double v0 = p[first].value, v1 = p[last].value;
	int worst = -1;
	double worst_err = tol;
	for (int i = first + 1; i < last; i++) {
		double x = (p[i].time - t0) / (t1 - t0);
		double err = fabs(p[i].value - (v0 + (v1 - v0) * x));
		if (err > worst_err) {
			worst_err = err;
			worst = i;
		}
	}
	if (worst < 0)
		return;
	keep[worst] = true;
	rdp(p, first, worst, tol, keep);
	rdp(p, worst, last, tol, keep);
}

int fx_lane_thin(struct fx_lane_point *p, int count, float tolerance)
{
	if (count <= 2)
		return count;
	bool *keep = calloc((size_t)count, sizeof(bool));
	if (!keep)
		return count;
	keep[0] = keep[count - 1] = true;
	rdp(p, 0, count - 1, tolerance, keep);
	int n = 0;
	for (int i = 0; i < count; i++) {
		if (keep[i]) {
			p[n] = p[i];
			p[n].curve = FX_SEG_LINEAR;   /* thinned segments are linear */
			n++;
		}
	}
	free(keep);
	return n;
}
