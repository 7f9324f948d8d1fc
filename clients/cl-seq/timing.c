/*
 * cl-seq timing: the transport clock and the step grid; timing.h has the
 * model (positions in beats, the first frame at or after, anchors).
 *
 * The clock's one job is to say, each cycle, which mapping from frames to
 * beats holds, and to change that mapping as rarely as it can: every
 * change is a chance to place an event a frame off, or twice. So it
 * keeps an anchor (a transport frame and its position) and a tempo, and
 * checks each cycle that the master still agrees with where the anchor
 * says the cycle starts. With tick_double the agreement must be within
 * BEAT_EPS (far below a frame, above the master's own rounding); with
 * integer ticks within the tick the master truncated or rounded to. When
 * the anchor is first taken (start, locate) it prefers the uniform
 * mapping "beat 0 at frame 0 at this tempo" whenever the master agrees
 * with it, since that is exactly how a constant-tempo master counts, and
 * the master's own reading otherwise. When the tempo changes, it first
 * tries "the change took place at the bar line crossed in the last
 * cycle" (cl-transport's rule), which an integer-tick master cannot
 * tell us but which is exact when true.
 *
 * The step grid works in exact integers where it can: a step starts at
 * g * num/den whole notes, which is an exact double for every length we
 * accept, and whether it sits on an off-beat of the swing grid is decided
 * in integers (g * num * ref against den), never by comparing doubles.
 */
#include "timing.h"

#include <math.h>

/* Largest disagreement (in beats) between the carried position and a
 * master's tick_double that still counts as agreement: cl-transport snaps
 * grid points by 1e-9 beat; a frame is never less than 1e-5 beat. */
#define BEAT_EPS 1e-7
/* Frames: an exact frame that floating point puts this much too late
 * still counts as exact (timing.h's rule). */
#define FRAME_EPS 1e-6
#define DEFAULT_RATE 48000.0
#define DEFAULT_BPM 120.0
#define DEFAULT_TICKS_PER_BEAT 1920.0

/* The first frame at or after exact frame x: ceil(x), less FRAME_EPS so
 * that an exact frame computed a hair too late stays exact; clamped so a
 * far-away position cannot overflow the conversion. */
static int64_t frame_at_or_after(double x)
{
	double r = ceil(x - FRAME_EPS);
	if (!(r > -4e18))
		return INT64_MIN / 2;
	if (r > 4e18)
		return INT64_MAX / 2;
	return (int64_t)r;
}

/* A tempo we can divide by. */
static bool tempo_usable(double bpm)
{
	return isfinite(bpm) && bpm > 0.0 && bpm <= 100000.0;
}

/* A meter that makes sense. */
static bool meter_usable(double beats_per_bar, double beat_type)
{
	return isfinite(beats_per_bar) && beats_per_bar > 0.0 &&
	       isfinite(beat_type) && beat_type > 0.0;
}

void seq_clock_init(struct seq_clock *c)
{
	*c = (struct seq_clock){0};
}

/* The position the clock's anchor gives to transport frame f. */
static double clock_beat_at(const struct seq_clock *c, uint32_t f)
{
	double fpb = 60.0 * (double)c->frame_rate / c->bpm;
	return c->anchor_beat + (double)(uint32_t)(f - c->anchor_frame) / fpb;
}

/* What the master says, and how far a position may be from it and still
 * agree (below: lo, above: hi). */
struct master_reading {
	bool valid;
	double beat, lo, hi;
};

/* The master's position at the cycle start, and its uncertainty. */
static struct master_reading master_read(const struct seq_transport *t, double beats_per_bar)
{
	struct master_reading m = {0};
	double tpb = isfinite(t->ticks_per_beat) && t->ticks_per_beat > 0.0
		     ? t->ticks_per_beat : DEFAULT_TICKS_PER_BEAT;
	double bar_beats = (double)(t->bar - 1) * beats_per_bar + (double)(t->beat - 1);
	m.valid = true;
	if (t->tick_double_valid && isfinite(t->tick_double)) {
		m.beat = bar_beats + t->tick_double / tpb;
		m.lo = m.hi = BEAT_EPS;
	} else {
		/* the true position is in [tick, tick + 1) when the master
		 * truncates, [tick - 1/2, tick + 1/2) when it rounds */
		m.beat = bar_beats + (double)t->tick / tpb;
		m.lo = 0.5 / tpb + BEAT_EPS;
		m.hi = 1.0 / tpb + BEAT_EPS;
	}
	return m;
}

/* Is beat within what the master's reading allows (always, without one)? */
static bool master_agrees(const struct master_reading *m, double beat)
{
	return !m->valid || (beat >= m->beat - m->lo && beat <= m->beat + m->hi);
}

/* RT */
int seq_clock_update(struct seq_clock *c, const struct seq_transport *t,
		     uint32_t nframes, double fallback_bpm, struct seq_span *span)
{
	int flags = 0;
	uint32_t rate_int = t->frame_rate ? t->frame_rate : (uint32_t)DEFAULT_RATE;
	double rate = (double)rate_int;
	bool bbt = t->bbt_valid && tempo_usable(t->bpm) &&
		   meter_usable(t->beats_per_bar, t->beat_type);
	double bpm, beats_per_bar, beat_type;

	if (bbt) {
		bpm = t->bpm;
		beats_per_bar = t->beats_per_bar;
		beat_type = t->beat_type;
	} else {
		bpm = tempo_usable(fallback_bpm) ? fallback_bpm : DEFAULT_BPM;
		beats_per_bar = 4.0;
		beat_type = 4.0;
		flags |= SEQ_CLOCK_NO_BBT;
	}
	double fpb = 60.0 * rate / bpm;

	struct master_reading m = {0};
	if (bbt)
		m = master_read(t, beats_per_bar);

	/* No locate since the last cycle: the anchor still says where we are. */
	bool on_track = c->have_previous && c->frame_rate == rate_int &&
			t->frame == c->next_frame;
	double carried = on_track ? clock_beat_at(c, t->frame) : 0.0;
	double uniform = (double)t->frame / fpb;

	/* A tempo change within the last cycle, taken to be at the bar line
	 * it crossed (cl-transport changes tempo at the next bar line): the
	 * old tempo up to that line, the new one after it. */
	bool at_bar = false;
	double bar_change = 0.0;
	if (on_track && bbt && bpm != c->bpm && c->beats_per_bar > 0.0) {
		double line = floor(carried / c->beats_per_bar) * c->beats_per_bar;
		if (line >= c->cycle_beat) {
			double old_fpb = 60.0 * rate / c->bpm;
			double line_frame = (line - c->anchor_beat) * old_fpb;   /* from the anchor */
			double since = (double)(uint32_t)(t->frame - c->anchor_frame) - line_frame;
			bar_change = line + since / fpb;
			at_bar = master_agrees(&m, bar_change);
		}
	}

	uint32_t anchor_frame;
	double anchor_beat;
	if (at_bar) {
		anchor_frame = t->frame;
		anchor_beat = bar_change;
	} else if (on_track && master_agrees(&m, carried)) {
		if (bpm == c->bpm) {
			anchor_frame = c->anchor_frame;
			anchor_beat = c->anchor_beat;
		} else {
			anchor_frame = t->frame;
			anchor_beat = carried;
		}
	} else if (!bbt || master_agrees(&m, uniform)) {
		anchor_frame = 0;
		anchor_beat = 0.0;
	} else {
		anchor_frame = t->frame;
		anchor_beat = m.beat;
	}
	bool moved = !on_track || anchor_frame != c->anchor_frame ||
		     anchor_beat != c->anchor_beat || bpm != c->bpm;

	*span = (struct seq_span){
		.bpm = bpm,
		.beats_per_bar = beats_per_bar,
		.beat_type = beat_type,
		.sample_rate = rate,
		.nframes = nframes,
		.anchored = true,
		.anchor_frame = -(int64_t)(uint32_t)(t->frame - anchor_frame),
		.anchor_beat = anchor_beat,
	};
	span->beat = anchor_beat + (double)(uint32_t)(t->frame - anchor_frame) / fpb;

	if (t->rolling) {
		flags |= SEQ_CLOCK_ROLLING;
		if (!c->have_previous || !c->was_rolling) {
			flags |= SEQ_CLOCK_STARTED;
		} else if (!on_track) {
			flags |= SEQ_CLOCK_JUMPED;
		} else if (moved) {
			/* A move of a cycle or more could replay or skip a
			 * whole cycle of events: call it a jump. Smaller ones
			 * keep the old mapping to decide what is done. */
			double shift = fabs(span->beat - carried) * fpb;
			if (shift >= (double)nframes - 1.0) {
				flags |= SEQ_CLOCK_JUMPED;
			} else {
				span->have_prev = true;
				span->prev_anchor_frame =
					-(int64_t)(uint32_t)(t->frame - c->anchor_frame);
				span->prev_anchor_beat = c->anchor_beat;
				span->prev_frames_per_beat = 60.0 * rate / c->bpm;
			}
		}
	} else if (c->have_previous && c->was_rolling) {
		flags |= SEQ_CLOCK_STOPPED;
	}

	c->have_previous = true;
	c->was_rolling = t->rolling;
	c->frame_rate = rate_int;
	c->anchor_frame = anchor_frame;
	c->anchor_beat = anchor_beat;
	c->bpm = bpm;
	c->beats_per_bar = beats_per_bar;
	c->cycle_beat = span->beat;
	c->next_frame = t->rolling ? t->frame + nframes : t->frame;
	c->next_beat = clock_beat_at(c, c->next_frame);
	return flags;
}

/* RT */
double seq_span_frames_per_beat(const struct seq_span *s)
{
	return 60.0 * s->sample_rate / s->bpm;
}

/* RT */
int64_t seq_span_frame(const struct seq_span *s, double beat)
{
	double fpb = seq_span_frames_per_beat(s);
	if (s->anchored)
		return s->anchor_frame + frame_at_or_after((beat - s->anchor_beat) * fpb);
	return frame_at_or_after((beat - s->beat) * fpb);
}

/* RT */
int64_t seq_span_event_frame(const struct seq_span *s, double beat)
{
	int64_t f = seq_span_frame(s, beat);
	if (s->anchored && s->have_prev) {
		/* exactly the test the previous cycle made, shifted by its
		 * length: frame < 0 here is frame < nframes there */
		int64_t before = s->prev_anchor_frame +
			frame_at_or_after((beat - s->prev_anchor_beat) * s->prev_frames_per_beat);
		if (before < 0)
			return -1;
		if (f < 0)
			return 0;
	}
	return f >= 0 && f < (int64_t)s->nframes ? f : -1;
}

/* RT */
double seq_span_beat(const struct seq_span *s, double frame)
{
	double fpb = seq_span_frames_per_beat(s);
	if (s->anchored)
		return s->anchor_beat + (frame - (double)s->anchor_frame) / fpb;
	return s->beat + frame / fpb;
}

/* RT */
int64_t seq_span_bar_frame(const struct seq_span *s, double *bar_beat)
{
	double bpb = s->beats_per_bar;
	double fpb = seq_span_frames_per_beat(s);
	if (!(bpb > 0.0) || !(fpb > 0.0))
		return -1;
	/* the bar lines the cycle could hold, from a frame before its start
	 * (or what the previous mapping left) to a frame after its end */
	double lo = seq_span_beat(s, -1.0);
	if (s->anchored && s->have_prev) {
		double prev = s->prev_anchor_beat -
			(double)(s->prev_anchor_frame + 1) / s->prev_frames_per_beat;
		if (prev < lo)
			lo = prev;
	}
	double hi = seq_span_beat(s, (double)s->nframes + 1.0);
	for (double bar = floor(lo / bpb); bar * bpb <= hi; bar += 1.0) {
		int64_t f = seq_span_event_frame(s, bar * bpb);
		if (f >= 0) {
			if (bar_beat)
				*bar_beat = bar * bpb;
			return f;
		}
	}
	return -1;
}

/* RT */
double seq_step_beats(const struct seq_track *t, double beat_type)
{
	uint16_t den = t->step_den ? t->step_den : 16;
	uint16_t num = t->step_num ? t->step_num : 1;
	return (double)num * beat_type / (double)den;
}

/* RT */
double seq_track_swing(const struct seq_track *t, double global_swing)
{
	double s = t->swing < 0.0f ? global_swing : (double)t->swing;
	if (!(s > 0.0))
		return 0.0;
	return s > SEQ_SWING_MAX ? SEQ_SWING_MAX : s;
}

/* a / b rounded down, for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Greatest common divisor of non-negative a and b. */
static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t r = a % b;
		a = b;
		b = r;
	}
	return a;
}

/* RT */
double seq_step_start(const struct seq_track *t, int64_t g, double swing,
		      double beat_type)
{
	int64_t den = t->step_den ? t->step_den : 16;
	int64_t num = t->step_num ? t->step_num : 1;
	double base = (double)(g * num) * beat_type / (double)den;
	if (!(swing > 0.0))
		return base;

	/* Position in reference units is (g * num * ref) / den: integer part
	 * q (which unit), remainder r (how far into it, in 1/den). */
	int64_t ref = t->swing_ref == 8 ? 8 : 16;
	double ref_beats = beat_type / (double)ref;
	int64_t n = g * num * ref;
	int64_t q = floor_div(n, den);
	int64_t r = n - q * den;
	bool odd = (q & 1) != 0;
	if (r == 0)
		return odd ? base + swing * ref_beats : base;

	/* A straight (binary) step length finer than the reference: warp the
	 * pair of units so the off-beat moves by swing and the rest in
	 * proportion. Triplets and other lengths keep their place. */
	int64_t reduced = den / gcd64(num, den);
	if ((reduced & (reduced - 1)) != 0)
		return base;
	double frac = (double)r / (double)den;
	return base + swing * ref_beats * (odd ? 1.0 - frac : frac);
}
