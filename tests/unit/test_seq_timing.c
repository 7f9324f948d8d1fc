/*
 * cl-seq timing: where steps fall (tempo, meter, swing, step length) and
 * what the clock makes of a JACK transport cycle by cycle (start, stop,
 * locate, tempo change, integer ticks, no BBT), each checked against
 * frames worked out exactly in integer (rational) arithmetic: the first
 * frame at or after the exact time (less timing.h's 1e-6 frame).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pattern.h"
#include "timing.h"
#include "cl_check.h"

#define RATE 48000

/* Exact rationals (denominator > 0), enough for frames of hours. */
typedef __int128 i128;
struct rat {
	i128 n, d;
};

static i128 gcd128(i128 a, i128 b)
{
	if (a < 0)
		a = -a;
	while (b) {
		i128 r = a % b;
		a = b;
		b = r < 0 ? -r : r;
	}
	return a ? a : 1;
}

static struct rat rat(i128 n, i128 d)
{
	if (d < 0)
		n = -n, d = -d;
	i128 g = gcd128(n, d);
	return (struct rat){n / g, d / g};
}

static struct rat rat_add(struct rat a, struct rat b)
{
	return rat(a.n * b.d + b.n * a.d, a.d * b.d);
}

static struct rat rat_mul(struct rat a, struct rat b)
{
	return rat(a.n * b.n, a.d * b.d);
}

static i128 rat_floor(struct rat a)
{
	i128 q = a.n / a.d;
	return (a.n % a.d != 0 && a.n < 0) ? q - 1 : q;
}

/* The rule of timing.h: the first frame at or after exact frame a, with
 * its 1e-6 frame of tolerance: ceil(a - 1e-6). */
static int64_t rat_frame(struct rat a)
{
	struct rat x = rat_add(a, rat(-1, 1000000));
	return (int64_t)-rat_floor(rat(-x.n, x.d));
}

/* A tempo both ways: exact p/q and the double a master reports. */
struct tempo {
	int64_t p, q;
	double bpm;
};

static const struct tempo tempos[] = {
	{120, 1, 120.0}, {97, 1, 97.0}, {13333, 100, 133.33}, {174, 1, 174.0},
};

/* Frames per beat, exactly. */
static struct rat tempo_fpb(const struct tempo *t)
{
	return rat((i128)60 * RATE * t->q, t->p);
}

/* Where step k starts, in beats, exactly, by the rule of timing.h. */
static struct rat exact_step_start(int64_t k, int num, int den, int beat_type,
				   struct rat swing, int ref)
{
	struct rat base = rat((i128)k * num * beat_type, den);
	struct rat ref_beats = rat(beat_type, ref);
	struct rat units = rat((i128)k * num * ref, den);
	i128 q = rat_floor(units);
	struct rat frac = rat_add(units, rat(-q, 1));
	bool odd = (q % 2) != 0;
	if (frac.n == 0)
		return odd ? rat_add(base, rat_mul(swing, ref_beats)) : base;
	i128 red = den / gcd128(num, den);
	if ((red & (red - 1)) != 0)
		return base;
	struct rat part = odd ? rat_add(rat(1, 1), rat(-frac.n, frac.d)) : frac;
	return rat_add(base, rat_mul(rat_mul(swing, ref_beats), part));
}

/* A transport as cl-transport fills it at frame, for a tempo uniform
 * since frame 0. */
static struct seq_transport master_uniform(uint32_t frame, const struct tempo *tp,
					   int beats_per_bar, int beat_type, bool tick_double)
{
	/* beats = frame * p / (60 * RATE * q), in integers (no gcd: this
	 * runs every cycle of the long runs) */
	i128 num = (i128)frame * tp->p, den = (i128)60 * RATE * tp->q;
	i128 whole = num / den;
	i128 tick_num = (num % den) * 1920;
	struct rat ticks = {tick_num, den};
	struct seq_transport t = {
		.rolling = true,
		.frame = frame,
		.frame_rate = RATE,
		.bbt_valid = true,
		.bar = (int32_t)(whole / beats_per_bar) + 1,
		.beat = (int32_t)(whole % beats_per_bar) + 1,
		.tick = (int32_t)(tick_num / den),
		.ticks_per_beat = 1920.0,
		.tick_double_valid = tick_double,
		.tick_double = tick_double ? (double)ticks.n / (double)ticks.d : 0.0,
		.beats_per_bar = (float)beats_per_bar,
		.beat_type = (float)beat_type,
		.bpm = tp->bpm,
	};
	return t;
}

/* A span from the clock at frame 0 of a uniform master. */
static struct seq_span span_at_start(const struct tempo *tp, int bpb, int bt)
{
	struct seq_clock c;
	struct seq_span s;
	seq_clock_init(&c);
	struct seq_transport t = master_uniform(0, tp, bpb, bt, true);
	seq_clock_update(&c, &t, 1024, 120.0, &s);
	return s;
}

static void test_rounding_rule(void)
{
	/* two frames per beat, so quarter beats fall on exact halves */
	struct seq_span s = {.beat = 0.0, .bpm = 60.0, .sample_rate = 2.0, .nframes = 16,
			     .beats_per_bar = 4, .beat_type = 4};
	CHECK(seq_span_frames_per_beat(&s) == 2.0, "2 frames per beat");
	CHECK(seq_span_frame(&s, 0.25) == 1, "frame 0.5 goes to the next frame: %" PRId64,
	      seq_span_frame(&s, 0.25));
	CHECK(seq_span_frame(&s, 0.05) == 1, "frame 0.1 goes to 1 (at or after)");
	CHECK(seq_span_frame(&s, -0.25) == 0, "-0.5 goes to 0");
	CHECK(seq_span_frame(&s, 0.7) == 2, "1.4 goes to 2");
	CHECK(seq_span_frame(&s, 1.0) == 2, "an exact frame stays");
	CHECK(seq_span_frame(&s, 1.0 + 2e-7) == 2, "a hair (4e-7 frame) late stays exact");
	CHECK(seq_span_frame(&s, 1.0 + 1e-6) == 3, "2e-6 frame late is the next frame");
	CHECK(seq_span_frame(&s, -3.0) == -6, "frames before the cycle are negative");
	CHECK(seq_span_event_frame(&s, -3.0) == -1 && seq_span_event_frame(&s, 8.0) == -1 &&
	      seq_span_event_frame(&s, 7.6) == -1 && seq_span_event_frame(&s, 7.4) == 15,
	      "event frames outside [0, 16) are -1");
	s.beat = 10.0;
	CHECK(seq_span_frame(&s, 10.25) == 1 && seq_span_beat(&s, 3.0) == 11.5,
	      "hand-built span counts from its beat");
	CHECK(seq_span_frame(&s, 1e300) > 0 && seq_span_frame(&s, -1e300) < 0,
	      "far positions do not overflow");
}

static void test_step_lengths_and_swing_known(void)
{
	struct seq_track t;
	char err[128];
	seq_track_init(&t, "x");
	struct seq_span s = span_at_start(&tempos[0], 4, 4);
	CHECK(s.beat == 0.0 && s.anchored && s.anchor_frame == 0, "span at frame 0 is beat 0");

	/* 120 BPM 4/4: a 16th is 6000 frames */
	CHECK(seq_step_beats(&t, 4) == 0.25, "1/16 in 4/4 = 0.25 beat");
	CHECK(seq_span_frame(&s, seq_step_start(&t, 5, 0.0, 4)) == 30000, "step 5 at 30000");
	/* swing 0.5: odd 16ths half a step (3000) late, even ones on time */
	static const int64_t sw16[] = {0, 9000, 12000, 21000, 24000, 33000};
	for (int k = 0; k < 6; k++)
		CHECK(seq_span_frame(&s, seq_step_start(&t, k, 0.5, 4)) == sw16[k],
		      "swing 0.5 step %d at %" PRId64, k, sw16[k]);
	CHECK(seq_span_frame(&s, seq_step_start(&t, 1, 0.75, 4)) == 10500, "swing 0.75: 6000 + 4500");
	/* 8th reference: the off-beat 8th moves half an 8th, the 16ths
	 * between in proportion */
	t.swing_ref = 8;
	static const int64_t sw8[] = {0, 9000, 18000, 21000, 24000};
	for (int k = 0; k < 5; k++)
		CHECK(seq_span_frame(&s, seq_step_start(&t, k, 0.5, 4)) == sw8[k],
		      "8th swing 0.5 step %d at %" PRId64, k, sw8[k]);
	/* 1/32 steps with a 16th reference: 0, 4500, 9000, 10500, 12000 */
	t.swing_ref = 16;
	seq_step_length_parse("1/32", &t.step_num, &t.step_den, err, sizeof err);
	static const int64_t sw32[] = {0, 4500, 9000, 10500, 12000};
	for (int k = 0; k < 5; k++)
		CHECK(seq_span_frame(&s, seq_step_start(&t, k, 0.5, 4)) == sw32[k],
		      "1/32 swing 0.5 step %d at %" PRId64, k, sw32[k]);
	/* triplets do not swing: 1/8t = 8000 frames */
	seq_step_length_parse("1/8t", &t.step_num, &t.step_den, err, sizeof err);
	CHECK(seq_step_beats(&t, 4) == 1.0 / 3.0, "1/8t = 1/3 beat");
	int bad = 0;
	for (int k = 0; k < 48; k++)
		bad += seq_span_frame(&s, seq_step_start(&t, k, 0.5, 4)) != 8000 * k;
	CHECK(bad == 0, "1/8t steps every 8000 frames with swing 0.5 (%d off)", bad);
	/* dotted-like 3/16 steps land on odd 16ths every other step */
	t.step_num = 3;
	t.step_den = 16;
	CHECK(seq_span_frame(&s, seq_step_start(&t, 1, 0.5, 4)) == 18000 + 3000,
	      "3/16 step 1 (16th 3, odd) swings");
	CHECK(seq_span_frame(&s, seq_step_start(&t, 2, 0.5, 4)) == 36000,
	      "3/16 step 2 (16th 6, even) does not");

	/* 6/8 at 120 eighths per minute: a 16th is half a beat, 12000 frames */
	seq_track_init(&t, "x");
	struct seq_span s68 = span_at_start(&tempos[0], 6, 8);
	CHECK(seq_step_beats(&t, 8) == 0.5, "1/16 in 6/8 = 0.5 beat");
	CHECK(seq_span_frame(&s68, seq_step_start(&t, 12, 0.0, 8)) == 144000,
	      "step 12 is the bar line of 6/8, 144000");
	CHECK(seq_span_frame(&s68, seq_step_start(&t, 13, 0.5, 8)) == 156000 + 6000,
	      "6/8 swing 0.5: odd 16th 6000 late");

	/* track swing against the global one */
	t.swing = SEQ_SWING_FOLLOW;
	CHECK(seq_track_swing(&t, 0.3) == 0.3, "follows global");
	CHECK(seq_track_swing(&t, 0.9) == 0.75 && seq_track_swing(&t, -1.0) == 0.0 &&
	      seq_track_swing(&t, NAN) == 0.0, "clamped to 0..0.75");
	t.swing = 0.2f;
	CHECK(seq_track_swing(&t, 0.6) == (double)0.2f, "own swing wins");
	t.swing = 5.0f;
	CHECK(seq_track_swing(&t, 0.0) == 0.75, "own swing clamped");
}

/* Every step of k in [0, n) against the exact frame, for each tempo,
 * meter, step length and swing. */
static void test_step_grid_exact(void)
{
	static const struct {
		int bpb, bt;
	} meters[] = {{4, 4}, {3, 4}, {6, 8}, {7, 8}};
	static const char *lengths[] = {"1/16", "1/8", "1/32", "1/16t", "1/4t", "1/64"};
	static const struct {
		int n, d;
	} swings[] = {{0, 1}, {1, 2}, {3, 10}, {3, 4}};
	char err[128];
	long total = 0, bad = 0;
	for (size_t ti = 0; ti < 4; ti++)
		for (size_t mi = 0; mi < 4; mi++)
			for (size_t li = 0; li < 6; li++)
				for (size_t si = 0; si < 4; si++)
					for (int ref = 8; ref <= 16; ref += 8) {
		struct seq_track t;
		seq_track_init(&t, "x");
		seq_step_length_parse(lengths[li], &t.step_num, &t.step_den, err, sizeof err);
		t.swing_ref = (uint8_t)ref;
		struct seq_span s = span_at_start(&tempos[ti], meters[mi].bpb, meters[mi].bt);
		struct rat fpb = tempo_fpb(&tempos[ti]);
		struct rat sw = rat(swings[si].n, swings[si].d);
		double swd = (double)swings[si].n / swings[si].d;
		/* steps covering about 40 bars (more for short steps) */
		for (int64_t k = 0; k < 1200; k++) {
			struct rat b = exact_step_start(k, t.step_num, t.step_den, meters[mi].bt, sw, ref);
			int64_t want = rat_frame(rat_mul(b, fpb));
			int64_t got = seq_span_frame(&s, seq_step_start(&t, k, swd, meters[mi].bt));
			total++;
			if (got != want) {
				if (bad < 5)
					fprintf(stderr, "bpm %g %d/%d %s swing %g/%d step %" PRId64
						": %" PRId64 " want %" PRId64 "\n", tempos[ti].bpm,
						meters[mi].bpb, meters[mi].bt, lengths[li], swd, ref,
						k, got, want);
				bad++;
			}
		}
	}
	CHECK(bad == 0, "%ld steps over 4 tempos x 4 meters x 6 lengths x 4 swings x 2 refs: "
	      "%ld off the exact frame", total, bad);
}

static void test_clock_flags(void)
{
	struct seq_clock c;
	struct seq_span s;
	seq_clock_init(&c);
	const struct tempo *tp = &tempos[0];
	struct seq_transport t = master_uniform(0, tp, 4, 4, true);
	t.rolling = false;
	int f = seq_clock_update(&c, &t, 64, 120.0, &s);
	CHECK(f == 0, "stopped at first: no flags (%d)", f);
	t.rolling = true;
	f = seq_clock_update(&c, &t, 64, 120.0, &s);
	CHECK(f == (SEQ_CLOCK_ROLLING | SEQ_CLOCK_STARTED) && s.beat == 0.0,
	      "start: ROLLING|STARTED at beat 0 (%d, %g)", f, s.beat);
	t = master_uniform(64, tp, 4, 4, true);
	f = seq_clock_update(&c, &t, 64, 120.0, &s);
	CHECK(f == SEQ_CLOCK_ROLLING && s.beat == 64.0 / 24000.0 && !s.have_prev,
	      "rolling on: ROLLING, beat 64/24000 (%d %.12f)", f, s.beat);
	CHECK(s.anchor_frame == -64 && s.anchor_beat == 0.0, "anchor stays at frame 0");
	t = master_uniform(128, tp, 4, 4, true);
	t.rolling = false;
	f = seq_clock_update(&c, &t, 64, 120.0, &s);
	CHECK(f == SEQ_CLOCK_STOPPED, "stop: STOPPED (%d)", f);
	f = seq_clock_update(&c, &t, 64, 120.0, &s);
	CHECK(f == 0, "still stopped: no flags (%d)", f);
	t.rolling = true;
	f = seq_clock_update(&c, &t, 64, 120.0, &s);
	CHECK(f == (SEQ_CLOCK_ROLLING | SEQ_CLOCK_STARTED) && s.beat == 128.0 / 24000.0,
	      "restart in place: STARTED at the same beat");

	/* locate mid-bar while rolling: bar 3 beat 2 tick 960 = 9.5 beats */
	t = master_uniform(228000, tp, 4, 4, true);
	CHECK(t.bar == 3 && t.beat == 2 && t.tick == 960, "master says 3|2|960");
	f = seq_clock_update(&c, &t, 64, 120.0, &s);
	CHECK(f == (SEQ_CLOCK_ROLLING | SEQ_CLOCK_JUMPED) && s.beat == 9.5,
	      "locate: JUMPED, beat 9.5 (%d %g)", f, s.beat);
	CHECK(seq_span_event_frame(&s, 9.5) == 0 && seq_span_event_frame(&s, 9.5 + 63 / 24000.0) == 63,
	      "re-anchored: 9.5 at frame 0");
	t = master_uniform(228064, tp, 4, 4, true);
	f = seq_clock_update(&c, &t, 64, 120.0, &s);
	CHECK(f == SEQ_CLOCK_ROLLING, "after the locate: ROLLING only (%d)", f);

	/* a master that moves its BBT by a bar while frames run on: a jump */
	t = master_uniform(228128, tp, 4, 4, true);
	t.bar += 1;
	f = seq_clock_update(&c, &t, 64, 120.0, &s);
	CHECK(f == (SEQ_CLOCK_ROLLING | SEQ_CLOCK_JUMPED) && fabs(s.beat - (4.0 + 228128 / 24000.0)) < 1e-12,
	      "BBT moved a bar, same frames: JUMPED to the master (%d, %f)", f, s.beat);

	/* no BBT: own tempo from the frame, 4/4 */
	seq_clock_init(&c);
	struct seq_transport nb = {.rolling = true, .frame = 48000, .frame_rate = RATE};
	f = seq_clock_update(&c, &nb, 128, 100.0, &s);
	CHECK(f == (SEQ_CLOCK_ROLLING | SEQ_CLOCK_STARTED | SEQ_CLOCK_NO_BBT),
	      "no BBT: NO_BBT flag (%d)", f);
	CHECK(s.bpm == 100.0 && s.beats_per_bar == 4 && s.beat_type == 4 &&
	      fabs(s.beat - 48000 * 100.0 / (60.0 * RATE)) < 1e-12,
	      "own 100 BPM from the frame: beat %g", s.beat);
	/* the own tempo changes while rolling: the position carries on */
	nb.frame = 48128;
	f = seq_clock_update(&c, &nb, 128, 150.0, &s);
	CHECK(f == (SEQ_CLOCK_ROLLING | SEQ_CLOCK_NO_BBT) && fabs(s.beat - 48128 * 100.0 / (60.0 * RATE)) < 1e-12 &&
	      s.bpm == 150.0, "own tempo change: continuous (%d, %g)", f, s.beat);
	nb.bbt_valid = true;   /* BBT claimed, but no usable tempo */
	nb.bpm = 0.0;
	nb.frame = 48256;
	f = seq_clock_update(&c, &nb, 128, 150.0, &s);
	CHECK(f & SEQ_CLOCK_NO_BBT, "bpm 0 is no BBT");
	CHECK(!isnan(s.beat) && s.bpm == 150.0, "and no NaN");
	seq_clock_init(&c);
	f = seq_clock_update(&c, &nb, 128, NAN, &s);
	CHECK(s.bpm == 120.0 && (f & SEQ_CLOCK_NO_BBT), "bad fallback tempo: 120");
}

/* Integer ticks only: 1/1920 beat is 12.5 frames at 120 BPM, so the clock
 * must not take the tick as the position when anything better agrees. */
static void test_clock_integer_ticks(void)
{
	struct seq_clock c;
	struct seq_span s;
	const struct tempo *tp = &tempos[1];   /* 97 BPM: ticks never on frames */
	seq_clock_init(&c);
	/* locate to a frame mid-tick */
	struct seq_transport t = master_uniform(1234567, tp, 4, 4, false);
	seq_clock_update(&c, &t, 100, 120.0, &s);
	double exact = 1234567 * 97.0 / (60.0 * RATE);
	CHECK(fabs(s.beat - exact) < 1e-12, "integer ticks: the uniform position %.12f (got %.12f, tick says %.12f)",
	      exact, s.beat, (t.bar - 1) * 4 + t.beat - 1 + t.tick / 1920.0);
	/* runs on exactly */
	int bad = 0;
	for (uint32_t fr = 1234667; fr < 1234667 + 100 * 1000; fr += 100) {
		t = master_uniform(fr, tp, 4, 4, false);
		int f = seq_clock_update(&c, &t, 100, 120.0, &s);
		bad += f != SEQ_CLOCK_ROLLING || s.anchor_beat != 0.0 ||
		       s.anchor_frame != -(int64_t)fr;
	}
	CHECK(bad == 0, "1000 cycles on the frame-0 anchor (%d moved)", bad);

	/* a master whose bar 1 is not at frame 0: its tick is all we have */
	seq_clock_init(&c);
	t = master_uniform(1234567, tp, 4, 4, false);
	t.bar += 7;
	int f = seq_clock_update(&c, &t, 100, 120.0, &s);
	double tick_pos = (t.bar - 1) * 4 + t.beat - 1 + t.tick / 1920.0;
	CHECK(f & SEQ_CLOCK_STARTED && s.beat == tick_pos, "non-uniform master: its tick (%.9f, %.9f)",
	      s.beat, tick_pos);
	/* and then the clock carries on while the ticks agree */
	t = master_uniform(1234667, tp, 4, 4, false);
	t.bar += 7;
	f = seq_clock_update(&c, &t, 100, 120.0, &s);
	CHECK(f == SEQ_CLOCK_ROLLING && !s.have_prev && s.anchor_frame == -100,
	      "next cycle: carried (%d, anchor %" PRId64 ")", f, s.anchor_frame);
}

/* The master changes tempo at a bar line inside a cycle (as cl-transport
 * does): the next cycle re-anchors without a jump, keeps the old mapping,
 * and bar lines land on their exact frames on both sides. */
static void test_clock_tempo_change(void)
{
	for (int variant = 0; variant < 2; variant++) {
		bool td = variant == 0;
		struct seq_clock c;
		struct seq_span s;
		seq_clock_init(&c);
		/* 120 BPM for 2 bars (192000 frames), then 174 */
		struct rat change = rat(192000, 1);
		struct rat fpb2 = tempo_fpb(&tempos[3]);
		uint32_t n = 1024;   /* 192000 is frame 512 of the cycle at 191488 */
		long bars_bad = 0, moved = 0, jumps = 0, seen = 0;
		int64_t next_bar = 0;
		for (uint32_t fr = 0; fr < 192000 + 20 * 66207; fr += n) {
			struct seq_transport t;
			if (fr < 192000) {
				t = master_uniform(fr, &tempos[0], 4, 4, td);
			} else {
				/* position = 8 + (fr - 192000) / fpb2 */
				struct rat beats = rat_add(rat(8, 1),
					rat_mul(rat_add(rat(fr, 1), rat(-change.n, change.d)),
						rat(fpb2.d, fpb2.n)));
				i128 whole = rat_floor(beats);
				struct rat ticks = rat_mul(rat_add(beats, rat(-whole, 1)), rat(1920, 1));
				t = (struct seq_transport){
					.rolling = true, .frame = fr, .frame_rate = RATE,
					.bbt_valid = true, .bar = (int32_t)(whole / 4) + 1,
					.beat = (int32_t)(whole % 4) + 1,
					.tick = (int32_t)rat_floor(ticks), .ticks_per_beat = 1920,
					.tick_double_valid = td,
					.tick_double = td ? (double)ticks.n / (double)ticks.d : 0,
					.beats_per_bar = 4, .beat_type = 4, .bpm = 174.0,
				};
			}
			int f = seq_clock_update(&c, &t, n, 120.0, &s);
			jumps += (f & SEQ_CLOCK_JUMPED) != 0;
			moved += s.have_prev;
			/* bar lines in this cycle, both ways */
			double bar_beat = -1.0;
			int64_t by_bar = seq_span_bar_frame(&s, &bar_beat);
			for (int64_t bar = next_bar; bar < next_bar + 4; bar++) {
				int64_t got = seq_span_event_frame(&s, 4.0 * (double)bar);
				if (got < 0)
					continue;
				int64_t want = bar <= 2 ? 96000 * bar
					: rat_frame(rat_add(change, rat_mul(rat(4 * (bar - 2), 1), fpb2)));
				bars_bad += (int64_t)fr + got != want || by_bar != got ||
					    bar_beat != 4.0 * (double)bar;
				seen++;
				next_bar = bar + 1;
			}
		}
		CHECK(jumps == 0, "%s: a tempo change is no jump (%ld)", td ? "tick_double" : "integer ticks", jumps);
		CHECK(moved == 1, "%s: re-anchored once, keeping the old mapping (%ld)",
		      td ? "tick_double" : "integer ticks", moved);
		CHECK(seen == 23 && bars_bad == 0, "%s: %ld bar lines each once, %ld off their exact frame",
		      td ? "tick_double" : "integer ticks", seen, bars_bad);
	}
}

/* seq_span_event_frame with a previous mapping: what the previous cycle
 * played is not played again, what it left is not lost. */
static void test_prev_mapping(void)
{
	/* previous mapping: this cycle starts at beat 0.99; new one: 1.0
	 * (the master is ahead) */
	struct seq_span s = {.bpm = 120, .sample_rate = RATE, .nframes = 1024, .beats_per_bar = 4,
			     .beat_type = 4, .anchored = true, .anchor_frame = 0, .anchor_beat = 1.0,
			     .have_prev = true, .prev_anchor_frame = 0, .prev_anchor_beat = 0.99,
			     .prev_frames_per_beat = 24000};
	s.beat = 1.0;
	CHECK(seq_span_event_frame(&s, 0.995) == 0, "left by the previous cycle, now before frame 0: at 0");
	CHECK(seq_span_event_frame(&s, 0.98) == -1, "played by the previous cycle: -1");
	CHECK(seq_span_event_frame(&s, 1.001) == 24, "ahead: its frame");
	double bar_beat = 0.0;
	s.beats_per_bar = 0.995;   /* a bar line at 0.995, left over: at frame 0 */
	CHECK(seq_span_bar_frame(&s, &bar_beat) == 0 && bar_beat == 0.995,
	      "a bar line the previous cycle left: frame 0 (%g)", bar_beat);
	s.beats_per_bar = 4;
	CHECK(seq_span_bar_frame(&s, &bar_beat) == -1, "no bar line in this cycle: -1");
	/* the master is behind: beat 0.98 now, previous said 0.99 */
	s.anchor_beat = 0.98;
	CHECK(seq_span_event_frame(&s, 0.985) == -1, "played already, though now at frame 120: -1");
	CHECK(seq_span_event_frame(&s, 0.99 + 10 / 24000.0) == 250, "not played yet: its new frame");
}

/* Bar lines over 1000 bars from the clock alone, at 4 tempos and 4 block
 * sizes, with tick_double, integer ticks and no BBT: each exactly once on
 * its exact frame. */
static void test_long_run(void)
{
	static const uint32_t blocks[] = {64, 100, 128, 1024};
	for (int mode = 0; mode < 3; mode++)
		for (size_t ti = 0; ti < 4; ti++)
			for (size_t bi = 0; bi < 4; bi++) {
		const struct tempo *tp = &tempos[ti];
		struct rat fpb = tempo_fpb(tp);
		uint32_t n = blocks[bi];
		int64_t end = rat_frame(rat_mul(rat(3998, 1), fpb));   /* bar 1000 starts at 3996 */
		struct seq_clock c;
		struct seq_span s;
		seq_clock_init(&c);
		long bad = 0, seen = 0;
		int64_t next_bar = 0;
		for (int64_t fr = 0; fr < end; fr += n) {
			struct seq_transport t;
			if (mode < 2) {
				/* BBT only for the cycle start: cheap for the
				 * frames that are not a bar */
				t = master_uniform((uint32_t)fr, tp, 4, 4, mode == 0);
			} else {
				t = (struct seq_transport){.rolling = true, .frame = (uint32_t)fr,
							   .frame_rate = RATE};
			}
			seq_clock_update(&c, &t, n, tp->bpm, &s);
			double bar_beat = -1.0;
			int64_t got = seq_span_bar_frame(&s, &bar_beat);
			if (got >= 0) {
				bad += fr + got != rat_frame(rat_mul(rat(4 * next_bar, 1), fpb)) ||
				       bar_beat != 4.0 * (double)next_bar;
				seen++;
				next_bar++;
			}
		}
		CHECK(seen == 1000 && bad == 0,
		      "%s, %g BPM, block %u: %ld of 1000 bar lines, %ld off",
		      mode == 0 ? "tick_double" : mode == 1 ? "integer ticks" : "no BBT",
		      tp->bpm, n, seen, bad);
	}
}

int main(void)
{
	test_rounding_rule();
	test_step_lengths_and_swing_known();
	test_step_grid_exact();
	test_clock_flags();
	test_clock_integer_ticks();
	test_clock_tempo_change();
	test_prev_mapping();
	test_long_run();
	printf("seq-timing: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
