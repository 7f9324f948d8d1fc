/*
 * Automation lanes: values on linear, exponential and step segments at known
 * times, holding before the first and after the last point, and thinning
 * that keeps a recorded curve within its tolerance with far fewer points.
 */
#include <math.h>
#include <stdio.h>

#include "lane.h"
#include "cl_check.h"

int main(void)
{
	struct fx_lane_point pts[] = {
		{ 0.0, -20.0f, FX_SEG_LINEAR },
		{ 4.0, -10.0f, FX_SEG_EXP },
		{ 8.0, -40.0f, FX_SEG_STEP },
		{ 16.0, 100.0f, FX_SEG_EXP },
		{ 20.0, 1600.0f, FX_SEG_LINEAR },
	};
	struct fx_lane l = { .slot_id = 1, .param = 0, .beats = true, .count = 5, .points = pts };

	CHECK(fx_lane_value(&l, -1.0) == -20.0f, "before the first point: its value");
	CHECK(fx_lane_value(&l, 0.0) == -20.0f, "at the first point");
	CHECK(fabsf(fx_lane_value(&l, 2.0) - -15.0f) < 1e-5f, "linear half way: -15 (%g)",
	      fx_lane_value(&l, 2.0));
	/* exp from -10 to -40 over 4 beats: at 2 beats the geometric mean -20 */
	CHECK(fabsf(fx_lane_value(&l, 6.0) - -20.0f) < 1e-4f, "exp half way: -20 (%g)",
	      fx_lane_value(&l, 6.0));
	CHECK(fx_lane_value(&l, 8.0) == -40.0f && fx_lane_value(&l, 15.999) == -40.0f,
	      "step holds until the next point");
	CHECK(fx_lane_value(&l, 16.0) == 100.0f, "the next point's value at its time");
	/* exp from 100 to 1600 over 4 beats: x2 per beat */
	CHECK(fabsf(fx_lane_value(&l, 17.0) - 200.0f) < 1e-3f && fabsf(fx_lane_value(&l, 19.0) - 800.0f) < 1e-2f,
	      "exp doubles every beat (%g, %g)", fx_lane_value(&l, 17.0), fx_lane_value(&l, 19.0));
	CHECK(fx_lane_value(&l, 99.0) == 1600.0f, "after the last point: its value");

	/* exp across zero falls back to linear */
	struct fx_lane_point z[] = { { 0, -1.0f, FX_SEG_EXP }, { 2, 1.0f, FX_SEG_LINEAR } };
	struct fx_lane lz = { .count = 2, .points = z };
	CHECK(fabsf(fx_lane_value(&lz, 1.0)) < 1e-6f, "exp across zero is linear");

	CHECK(fx_lane_curve_parse("linear") == FX_SEG_LINEAR && fx_lane_curve_parse("step") == FX_SEG_STEP &&
	      fx_lane_curve_parse("exp") == FX_SEG_EXP && fx_lane_curve_parse("wobble") == -1,
	      "curve names");

	/* thinning: 1000 points of a ramp with a corner keep the corner */
	static struct fx_lane_point rec[1000];
	for (int i = 0; i < 1000; i++) {
		double t = i * 0.01;
		rec[i] = (struct fx_lane_point){ t, (float)(t < 5.0 ? t : 10.0 - t), FX_SEG_STEP };
	}
	int n = fx_lane_thin(rec, 1000, 0.01f);
	CHECK(n >= 3 && n <= 5, "a ramp up and down thins to its corners (%d points)", n);
	struct fx_lane lt = { .count = n, .points = rec };
	float worst = 0;
	for (int i = 0; i < 1000; i++) {
		double t = i * 0.01;
		float want = (float)(t < 5.0 ? t : 10.0 - t);
		float err = fabsf(fx_lane_value(&lt, t) - want);
		if (err > worst)
			worst = err;
	}
	CHECK(worst <= 0.011f, "the thinned lane stays within the tolerance (%.4f)", worst);

	/* a sine keeps more points, still within tolerance */
	for (int i = 0; i < 1000; i++) {
		double t = i * 0.01;
		rec[i] = (struct fx_lane_point){ t, (float)sin(t), FX_SEG_LINEAR };
	}
	n = fx_lane_thin(rec, 1000, 0.005f);
	lt.count = n;
	worst = 0;
	for (int i = 0; i < 1000; i++) {
		float err = fabsf(fx_lane_value(&lt, i * 0.01) - (float)sin(i * 0.01));
		if (err > worst)
			worst = err;
	}
	CHECK(n < 100 && worst <= 0.0051f, "a sine thins to %d points within 0.005 (%.4f)", n, worst);

	printf("test-fx-lane: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
