/*
 * Timeline arithmetic for cl-transport; see timeline.h for the model.
 *
 * Within a segment every unit is linear in the frame, so each question is
 * answered in the one segment that holds the frame (or the value) with one
 * multiplication. Two small tolerances keep the arithmetic honest in
 * floating point: a value that is an exact grid point in rational terms may
 * come out a hair below it (floor() then adds GRID_EPS beats), and an exact
 * frame may come out a hair above an integer (ceil() then subtracts
 * FRAME_EPS frames). Both are far below anything musical: a 1/1920 beat
 * tick is more than a frame at any tempo we accept.
 */
#include "timeline.h"

#include <math.h>

#define GRID_EPS 1e-9
#define FRAME_EPS 1e-7

bool tl_valid_tempo(double bpm, int beats_per_bar, int beat_type)
{
	if (!isfinite(bpm) || bpm < TL_MIN_BPM || bpm > TL_MAX_BPM)
		return false;
	if (beats_per_bar < 1 || beats_per_bar > TL_MAX_BEATS_PER_BAR)
		return false;
	switch (beat_type) {
	case 1: case 2: case 4: case 8: case 16: case 32:
		return true;
	default:
		return false;
	}
}

void tl_init(struct tl_timeline *tl, uint32_t rate, double bpm,
	     int beats_per_bar, int beat_type)
{
	tl->rate = rate;
	tl->count = 1;
	tl->seg[0] = (struct tl_segment){
		.frame = 0,
		.bpm = bpm,
		.beats_per_bar = beats_per_bar,
		.beat_type = beat_type,
	};
}

/* Frames one beat of s lasts (fractional). */
static double frames_per_beat(const struct tl_timeline *tl, const struct tl_segment *s)
{
	return 60.0 * (double)tl->rate / s->bpm;
}

/* Beats of s elapsed from its first frame to frame (negative before it). */
static double beats_into(const struct tl_timeline *tl, const struct tl_segment *s,
			 int64_t frame)
{
	return (double)(frame - s->frame) * s->bpm / (60.0 * (double)tl->rate);
}

/* First frame at or after the exact (fractional) frame x. */
static int64_t frame_ceil(double x)
{
	return (int64_t)ceil(x - FRAME_EPS);
}

const struct tl_segment *tl_segment_at(const struct tl_timeline *tl, int64_t frame)
{
	for (int i = tl->count - 1; i > 0; i--)
		if (tl->seg[i].frame <= frame)
			return &tl->seg[i];
	return &tl->seg[0];
}

/* Split the beats since the start of s's first bar into whole bars and the
 * beat inside the last one. */
static void split_bars(const struct tl_segment *s, double in_bar,
		       int64_t *bars, double *beat)
{
	double b = floor(in_bar / s->beats_per_bar + GRID_EPS);
	*bars = (int64_t)b;
	*beat = in_bar - b * s->beats_per_bar;
	if (*beat < 0.0)  /* GRID_EPS pushed us into the next bar */
		*beat = 0.0;
}

void tl_position(const struct tl_timeline *tl, int64_t frame, struct tl_position *out)
{
	const struct tl_segment *s = tl_segment_at(tl, frame);
	double e = beats_into(tl, s, frame);
	int64_t bars;
	double beat;

	split_bars(s, s->beat_in_bar + e, &bars, &beat);
	double whole = floor(beat + GRID_EPS);
	double tick = floor((beat - whole) * TL_TICKS_PER_BEAT + GRID_EPS * TL_TICKS_PER_BEAT);
	if (tick < 0.0)
		tick = 0.0;
	if (tick >= TL_TICKS_PER_BEAT)
		tick = TL_TICKS_PER_BEAT - 1.0;

	out->frame = frame;
	out->bar = (int32_t)(s->bar + bars + 1);
	out->beat = (int32_t)whole + 1;
	out->tick = (int32_t)tick;
	out->tick_double = fmax((beat - whole) * TL_TICKS_PER_BEAT, 0.0);
	out->bar_start_tick = s->bar_start_tick +
		(double)bars * s->beats_per_bar * TL_TICKS_PER_BEAT;
	out->bpm = s->bpm;
	out->beats_per_bar = s->beats_per_bar;
	out->beat_type = s->beat_type;
	out->beats = s->beats + e;
	out->quarters = s->quarters + e * 4.0 / s->beat_type;
}

/* Position of s's first frame in unit. */
static double seg_value(const struct tl_segment *s, enum tl_unit unit)
{
	return unit == TL_BEATS ? s->beats : s->quarters;
}

/* Frames one unit lasts in s. */
static double frames_per_unit(const struct tl_timeline *tl, const struct tl_segment *s,
			      enum tl_unit unit)
{
	double f = frames_per_beat(tl, s);
	/* a quarter note is beat_type/4 beats long */
	return unit == TL_BEATS ? f : f * s->beat_type / 4.0;
}

double tl_value_at(const struct tl_timeline *tl, enum tl_unit unit, int64_t frame)
{
	const struct tl_segment *s = tl_segment_at(tl, frame);
	return seg_value(s, unit) + (double)(frame - s->frame) / frames_per_unit(tl, s, unit);
}

int64_t tl_frame_at(const struct tl_timeline *tl, enum tl_unit unit, double value)
{
	const struct tl_segment *s = &tl->seg[0];
	for (int i = tl->count - 1; i > 0; i--) {
		if (seg_value(&tl->seg[i], unit) <= value + GRID_EPS) {
			s = &tl->seg[i];
			break;
		}
	}
	double x = (double)s->frame + (value - seg_value(s, unit)) * frames_per_unit(tl, s, unit);
	int64_t f = frame_ceil(x);
	/* A value just past a segment start may round onto the frame before it. */
	return f < s->frame && s != &tl->seg[0] ? s->frame : f;
}

/* First frame of bar line `bars` bars after the start of s's first bar. */
static int64_t bar_frame_in(const struct tl_timeline *tl, const struct tl_segment *s,
			    int64_t bars)
{
	double beats = (double)bars * s->beats_per_bar - s->beat_in_bar;
	return frame_ceil((double)s->frame + beats * frames_per_beat(tl, s));
}

int64_t tl_next_bar(const struct tl_timeline *tl, int64_t frame)
{
	const struct tl_segment *s = tl_segment_at(tl, frame);
	int64_t bars;
	double beat;

	split_bars(s, s->beat_in_bar + beats_into(tl, s, frame), &bars, &beat);
	int64_t f = bar_frame_in(tl, s, bars);
	if (f < frame)
		f = bar_frame_in(tl, s, bars + 1);
	/* A later segment may start before that bar line (an immediate change). */
	for (int i = 0; i < tl->count; i++) {
		const struct tl_segment *n = &tl->seg[i];
		if (n->frame > frame && n->frame < f)
			return tl_next_bar(tl, n->frame);
	}
	return f;
}

int64_t tl_bbt_to_frame(const struct tl_timeline *tl, int32_t bar, int32_t beat,
			int32_t tick)
{
	if (bar < 1 || beat < 1 || tick < 0 || tick >= (int32_t)TL_TICKS_PER_BEAT)
		return -1;
	for (int i = tl->count - 1; i >= 0; i--) {
		const struct tl_segment *s = &tl->seg[i];
		if (beat > s->beats_per_bar)
			continue;
		double t = (double)(bar - 1 - s->bar) * s->beats_per_bar + (beat - 1) +
			   tick / TL_TICKS_PER_BEAT - s->beat_in_bar;
		if (t < 0.0 && i > 0)
			continue;
		if (t < 0.0)
			return -1;
		int64_t f = frame_ceil((double)s->frame + t * frames_per_beat(tl, s));
		/* the position must not fall into a later segment */
		if (i + 1 < tl->count && f >= tl->seg[i + 1].frame)
			return -1;
		return f;
	}
	return -1;
}

void tl_change(struct tl_timeline *tl, int64_t frame, double bpm,
	       int beats_per_bar, int beat_type)
{
	if (frame <= 0) {
		tl_init(tl, tl->rate, bpm, beats_per_bar, beat_type);
		return;
	}
	while (tl->count > 1 && tl->seg[tl->count - 1].frame >= frame)
		tl->count--;

	const struct tl_segment *s = tl_segment_at(tl, frame);
	double e = beats_into(tl, s, frame);
	int64_t bars;
	double beat;
	split_bars(s, s->beat_in_bar + e, &bars, &beat);
	if (fabs(beat - round(beat)) < GRID_EPS)
		beat = round(beat);
	if (beat >= s->beats_per_bar)
		beat = 0.0, bars++;

	struct tl_segment n = {
		.frame = frame,
		.bpm = bpm,
		.beats_per_bar = beats_per_bar,
		.beat_type = beat_type,
		.bar = s->bar + bars,
		.beat_in_bar = beat,
		.beats = s->beats + e,
		.quarters = s->quarters + e * 4.0 / s->beat_type,
		.bar_start_tick = s->bar_start_tick +
			(double)bars * s->beats_per_bar * TL_TICKS_PER_BEAT,
	};
	/* A new meter cannot continue a bar of the old one: a bar starts here. */
	if (beat > 0.0 && (beats_per_bar != s->beats_per_bar || beat_type != s->beat_type)) {
		n.bar++;
		n.bar_start_tick += beat * TL_TICKS_PER_BEAT;
		n.beat_in_bar = 0.0;
	}

	if (tl->count == TL_MAX_SEGMENTS) {
		/* Forget the oldest segment: frames before the next one are
		 * then extrapolated from it. */
		for (int i = 1; i < tl->count; i++)
			tl->seg[i - 1] = tl->seg[i];
		tl->count--;
	}
	tl->seg[tl->count++] = n;
}

void tl_collapse(struct tl_timeline *tl)
{
	const struct tl_segment *s = tl_latest(tl);
	tl_init(tl, tl->rate, s->bpm, s->beats_per_bar, s->beat_type);
}
