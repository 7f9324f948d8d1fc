/*
 * cl-transport timeline: frame <-> bar/beat/tick at several tempos and
 * meters and across tempo changes, and the placement of MIDI clocks, each
 * against numbers worked out by hand or exactly in integers.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../clients/cl-transport/timeline.h"
#include "cl_check.h"



/* Exact first frame at or after num/den (positive integers). */
static int64_t ceil_div(int64_t num, int64_t den)
{
	return (num + den - 1) / den;
}

static void expect_bbt(const struct tl_timeline *tl, int64_t frame, int bar, int beat, int tick)
{
	struct tl_position p;
	tl_position(tl, frame, &p);
	CHECK(p.bar == bar && p.beat == beat && p.tick == tick,
	      "frame %" PRId64 ": got %d|%d|%d, want %d|%d|%d", frame, p.bar, p.beat, p.tick,
	      bar, beat, tick);
}

static void test_uniform_120(void)
{
	struct tl_timeline tl;
	tl_init(&tl, 48000, 120.0, 4, 4);
	expect_bbt(&tl, 0, 1, 1, 0);
	expect_bbt(&tl, 12000, 1, 1, 960);      /* half a beat */
	expect_bbt(&tl, 23999, 1, 1, 1919);
	expect_bbt(&tl, 24000, 1, 2, 0);
	expect_bbt(&tl, 96000, 2, 1, 0);
	expect_bbt(&tl, 96000 * 16, 17, 1, 0);
	struct tl_position p;
	tl_position(&tl, 96000 * 3, &p);
	CHECK(p.bar_start_tick == 3 * 4 * 1920.0, "bar_start_tick at bar 4 = %g", p.bar_start_tick);
	CHECK(tl_bbt_to_frame(&tl, 5, 1, 0) == 384000, "bar 5 at frame 384000");
	CHECK(tl_bbt_to_frame(&tl, 5, 3, 960) == 384000 + 2 * 24000 + 12000, "5|3|960");
	CHECK(tl_bbt_to_frame(&tl, 5, 5, 0) == -1, "beat 5 of 4 refused");
	CHECK(tl_bbt_to_frame(&tl, 0, 1, 0) == -1, "bar 0 refused");
	CHECK(tl_bbt_to_frame(&tl, 1, 1, 1920) == -1, "tick 1920 refused");
	/* 24 clocks per quarter at 120 BPM, 48 kHz: one every 1000 frames */
	int bad = 0;
	for (int k = 0; k < 24 * 4 * 16; k++)
		bad += tl_frame_at(&tl, TL_QUARTERS, k / 24.0) != (int64_t)k * 1000;
	CHECK(bad == 0, "16 bars of clocks every 1000 frames (%d off)", bad);
	CHECK(tl_next_bar(&tl, 96000) == 96000, "next bar at a bar line is that line");
	CHECK(tl_next_bar(&tl, 96001) == 192000, "next bar after a bar line is the next one");
	CHECK(tl_next_bar(&tl, 0) == 0, "next bar at 0 is 0");
}

/* Non-integer frames per beat: every beat on ceil(exact), for 1000 beats. */
static void test_uneven_tempos(void)
{
	static const double tempos[] = { 133.0, 97.0, 174.0, 61.0 };
	for (size_t t = 0; t < sizeof(tempos) / sizeof(tempos[0]); t++) {
		struct tl_timeline tl;
		int64_t bpm = (int64_t)tempos[t];
		tl_init(&tl, 48000, tempos[t], 4, 4);
		int bad = 0, bad_bbt = 0;
		for (int64_t k = 0; k < 1000; k++) {
			int64_t want = ceil_div(k * 48000 * 60, bpm);
			bad += tl_frame_at(&tl, TL_BEATS, (double)k) != want;
			struct tl_position p, q;
			tl_position(&tl, want, &p);
			tl_position(&tl, want - 1, &q);
			bad_bbt += (p.bar - 1) * 4 + (p.beat - 1) != k || p.tick != 0;
			bad_bbt += k > 0 && (q.bar - 1) * 4 + (q.beat - 1) != k - 1;
			/* clocks: the 24 * k-th clock lands on the beat too */
			int64_t clock = ceil_div(k * 48000 * 60 * 24 + 0, bpm * 24);
			bad += tl_frame_at(&tl, TL_QUARTERS, (double)(k * 24) / 24.0) != clock;
		}
		CHECK(bad == 0 && bad_bbt == 0, "%g BPM: 1000 beats on exact frames (%d, %d off)",
		      tempos[t], bad, bad_bbt);
		int bad_clock = 0;
		for (int64_t c = 0; c < 24 * 200; c++) {
			int64_t want = ceil_div(c * 48000 * 60, bpm * 24);
			bad_clock += tl_frame_at(&tl, TL_QUARTERS, (double)c / 24.0) != want;
		}
		CHECK(bad_clock == 0, "%g BPM: 4800 clocks on exact frames (%d off)", tempos[t], bad_clock);
	}
}

static void test_meters(void)
{
	struct tl_timeline tl;
	tl_init(&tl, 48000, 90.0, 3, 4);         /* 32000 frames a beat */
	expect_bbt(&tl, 96000, 2, 1, 0);
	expect_bbt(&tl, 96000 + 64000, 2, 3, 0);
	CHECK(tl_bbt_to_frame(&tl, 3, 2, 0) == 2 * 96000 + 32000, "3/4: 3|2|0");

	tl_init(&tl, 48000, 120.0, 6, 8);        /* eighth-note beats, 24000 frames */
	expect_bbt(&tl, 6 * 24000, 2, 1, 0);
	CHECK(fabs(tl_value_at(&tl, TL_QUARTERS, 6 * 24000) - 3.0) < 1e-12,
	      "6/8: a bar is 3 quarter notes");
	CHECK(tl_frame_at(&tl, TL_QUARTERS, 1.0) == 48000, "6/8 at 120: a quarter is 48000 frames");

	tl_init(&tl, 44100, 120.0, 7, 16);       /* 22050 frames a sixteenth-note beat */
	expect_bbt(&tl, 7 * 22050, 2, 1, 0);
	CHECK(fabs(tl_value_at(&tl, TL_QUARTERS, 4 * 22050) - 1.0) < 1e-12, "7/16: 4 beats a quarter");
}

static void test_tempo_change_at_bar(void)
{
	struct tl_timeline tl;
	tl_init(&tl, 48000, 120.0, 4, 4);
	int64_t at = tl_next_bar(&tl, 30000);
	CHECK(at == 96000, "next bar after 30000 is 96000 (got %" PRId64 ")", at);
	tl_change(&tl, at, 60.0, 4, 4);         /* 48000 frames a beat from bar 2 */
	expect_bbt(&tl, 95999, 1, 4, 1919);
	expect_bbt(&tl, 96000, 2, 1, 0);
	expect_bbt(&tl, 96000 + 48000, 2, 2, 0);
	expect_bbt(&tl, 96000 + 4 * 48000, 3, 1, 0);
	struct tl_position p;
	tl_position(&tl, 96000 + 4 * 48000, &p);
	CHECK(p.bpm == 60.0 && p.bar_start_tick == 2 * 4 * 1920.0,
	      "after the change: bpm %g, bar_start_tick %g", p.bpm, p.bar_start_tick);
	CHECK(tl_frame_at(&tl, TL_QUARTERS, 4.0) == 96000, "quarter 4 on the change bar");
	CHECK(tl_frame_at(&tl, TL_QUARTERS, 4.0 + 1.0 / 24) == 96000 + 2000,
	      "first clock after the change is 2000 frames later (60 BPM)");
	CHECK(tl_frame_at(&tl, TL_QUARTERS, 4.0 - 1.0 / 24) == 95000,
	      "last clock before the change is 1000 frames earlier (120 BPM)");
	CHECK(tl_bbt_to_frame(&tl, 3, 1, 0) == 96000 + 4 * 48000, "bar 3 through the map");
	CHECK(tl_bbt_to_frame(&tl, 1, 3, 0) == 48000, "bar 1 beat 3 before the change");

	/* a second change replaces a pending one at the same bar */
	tl_change(&tl, 96000, 150.0, 4, 4);
	CHECK(tl.count == 2 && tl_latest(&tl)->bpm == 150.0, "pending change replaced");

	/* meter change at a bar line */
	tl_init(&tl, 48000, 120.0, 4, 4);
	tl_change(&tl, 96000, 120.0, 3, 4);
	expect_bbt(&tl, 96000 + 72000, 3, 1, 0);
	expect_bbt(&tl, 96000 + 48000, 2, 3, 0);
}

static void test_immediate_change_is_continuous(void)
{
	struct tl_timeline tl;
	tl_init(&tl, 48000, 120.0, 4, 4);
	int64_t f = 30000;                       /* 1|2|480 */
	struct tl_position before, after;
	tl_position(&tl, f, &before);
	tl_change(&tl, f, 140.0, 4, 4);
	tl_position(&tl, f, &after);
	CHECK(before.bar == after.bar && before.beat == after.beat && before.tick == after.tick,
	      "immediate change keeps the position (%d|%d|%d vs %d|%d|%d)",
	      before.bar, before.beat, before.tick, after.bar, after.beat, after.tick);
	CHECK(fabs(before.quarters - after.quarters) < 1e-12, "quarters continuous");
	/* monotonic across the change, and faster after it */
	double q0 = tl_value_at(&tl, TL_QUARTERS, f - 1), q1 = tl_value_at(&tl, TL_QUARTERS, f),
	       q2 = tl_value_at(&tl, TL_QUARTERS, f + 1);
	CHECK(q0 < q1 && q1 < q2 && (q2 - q1) > (q1 - q0), "monotonic and faster after");

	/* an immediate meter change mid-bar starts a new bar there */
	tl_change(&tl, 40000, 140.0, 3, 4);
	expect_bbt(&tl, 40000, 2, 1, 0);
}

static void test_collapse_and_overflow(void)
{
	struct tl_timeline tl;
	tl_init(&tl, 48000, 120.0, 4, 4);
	tl_change(&tl, 96000, 60.0, 3, 4);
	tl_collapse(&tl);
	CHECK(tl.count == 1 && tl.seg[0].bpm == 60.0 && tl.seg[0].beats_per_bar == 3,
	      "collapse keeps the latest tempo and meter from frame 0");
	expect_bbt(&tl, 3 * 48000, 2, 1, 0);

	tl_init(&tl, 48000, 120.0, 4, 4);
	for (int i = 1; i <= 100; i++)
		tl_change(&tl, (int64_t)i * 96000, 100.0 + i, 4, 4);
	CHECK(tl.count == TL_MAX_SEGMENTS && tl_latest(&tl)->bpm == 200.0,
	      "100 changes keep %d segments, latest tempo 200 (got %d, %g)", TL_MAX_SEGMENTS,
	      tl.count, tl_latest(&tl)->bpm);
	/* Positions after the kept changes are unaffected by the forgetting:
	 * at frame 100 * 96000 the beats are 4 (120 BPM) plus 96000 frames at
	 * each of 101..199 BPM = 4 + (99 * 150) / 30 = 499, i.e. 125|4|0. */
	struct tl_position p;
	tl_position(&tl, 100 * 96000, &p);
	CHECK(p.bar == 125 && p.beat == 4 && p.tick == 0 && fabs(p.beats - 499.0) < 1e-6,
	      "beat 499 = 125|4|0 at frame 9600000 (got %d|%d|%d, %.9g beats)",
	      p.bar, p.beat, p.tick, p.beats);
}

static void test_validation(void)
{
	CHECK(tl_valid_tempo(120, 4, 4), "120 4/4 valid");
	CHECK(!tl_valid_tempo(9.9, 4, 4) && !tl_valid_tempo(400.1, 4, 4), "bpm range");
	CHECK(!tl_valid_tempo(NAN, 4, 4) && !tl_valid_tempo(INFINITY, 4, 4), "non-finite bpm");
	CHECK(!tl_valid_tempo(120, 0, 4) && !tl_valid_tempo(120, 33, 4), "beats per bar range");
	CHECK(!tl_valid_tempo(120, 4, 3) && !tl_valid_tempo(120, 4, 0) && !tl_valid_tempo(120, 4, 64),
	      "beat type must be a power of two up to 32");
}

int main(void)
{
	test_uniform_120();
	test_uneven_tempos();
	test_meters();
	test_tempo_change_at_bar();
	test_immediate_change_is_continuous();
	test_collapse_and_overflow();
	test_validation();
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
