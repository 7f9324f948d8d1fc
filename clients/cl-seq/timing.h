/*
 * cl-seq: where the transport is, in beats, cycle by cycle, and where a
 * step falls.
 *
 * The clock turns what the JACK transport says at the start of a cycle
 * into a span: the musical position (in beats) of the cycle's first frame
 * and the tempo that holds through the cycle. While the transport rolls
 * on without a jump, the position advances by exactly nframes * bpm /
 * (60 * rate) from the previous span, so positions carry no tick
 * rounding; it re-anchors on the master's BBT (tick_double when the
 * master gives it, else bar/beat/tick) after a start, a locate, a tempo
 * change, or when the master's position disagrees with the carried one
 * (by more than 1e-7 beat against tick_double, or than the tick itself
 * against integer ticks). Positions count beats from bar 1 beat 1 as
 * (bar - 1) * beats_per_bar + (beat - 1) + tick / ticks_per_beat, so
 * steps line up with the master's bar lines (after a meter change the
 * count jumps: SEQ_CLOCK_JUMPED). With no BBT from any master it counts
 * from the transport frame at its own tempo, 4/4, and says so
 * (SEQ_CLOCK_NO_BBT); a change of its own tempo carries on from where
 * the position is. The tempo a cycle reports holds for the whole cycle:
 * a master that changes tempo inside a cycle is heard from the next one,
 * so the part of that cycle after the change (if a note falls there)
 * still runs at the old tempo.
 *
 * Frames: an event at musical position b lands on the first frame at or
 * after it, ceil((b - span.beat) * frames_per_beat - 1e-6) of the cycle
 * (the same rule as cl-transport's MIDI clock, so a note and the clock
 * tick of the same beat share a frame; the 1e-6 absorbs float rounding of
 * exact frames), and belongs to the cycle where that frame is in
 * [0, nframes). Because consecutive spans join exactly, every event lands
 * in exactly one cycle.
 *
 * To make "join exactly" hold in floating point, a span from
 * seq_clock_update() counts frames from an anchor (the frame and position
 * of the last re-anchoring, frame 0 and beat 0 when the master's tempo
 * has been uniform since frame 0): an event lands on frame anchor_frame +
 * ceil((b - anchor_beat) * frames_per_beat - 1e-6), the same rule with
 * the cycle start moved out of the rounding, so every cycle rounds an
 * event alike and positions carry no summing error over hours. When the
 * clock re-anchors without a jump (the master changed tempo within the
 * last cycle, or its position drifted from ours), the span also keeps the
 * previous cycle's mapping: seq_span_event_frame() then skips events the
 * previous cycle already played and plays at frame 0 those it left for
 * this one but the new position puts before it, so none is lost or
 * doubled. A re-anchoring that moves the position by a cycle or more is
 * a jump (SEQ_CLOCK_JUMPED).
 *
 * Where the master gives no tick_double, its integer ticks only say the
 * position within 1/ticks_per_beat of a beat (several frames): the clock
 * keeps the first of these that agrees with the master's tick (floor or
 * nearest): after a tempo change, the position if the change took place
 * at a bar line within the last cycle (as cl-transport does it); its
 * carried position; the one the frame gives at a tempo uniform since
 * frame 0; and takes the master's tick as it is only when none does.
 * Transport frames are taken modulo 2^32 (25 hours at 48 kHz).
 *
 * This module knows nothing of JACK: the program copies jack_position_t
 * into a struct seq_transport.
 */
#ifndef CL_SEQ_TIMING_H
#define CL_SEQ_TIMING_H

#include <stdbool.h>
#include <stdint.h>
#include "seq_model.h"

struct seq_transport {
	bool rolling;
	uint32_t frame;            /* transport frame at the cycle start */
	uint32_t frame_rate;
	bool bbt_valid;            /* JackPositionBBT */
	int32_t bar, beat, tick;   /* 1-based bar and beat */
	double ticks_per_beat;
	bool tick_double_valid;    /* JackTickDouble */
	double tick_double;
	float beats_per_bar, beat_type;
	double bpm;
};

struct seq_span {
	double beat;               /* position of frame 0, beats from bar 1 beat 1 */
	double bpm;
	double beats_per_bar;
	double beat_type;
	double sample_rate;
	uint32_t nframes;
	/* Set by seq_clock_update(); a span built by hand leaves them zero
	 * (false) and counts its frames from beat. */
	bool anchored;
	int64_t anchor_frame;      /* from this cycle's first frame, <= 0 */
	double anchor_beat;
	bool have_prev;            /* re-anchored without a jump this cycle: */
	int64_t prev_anchor_frame; /* the previous cycle's mapping, from this */
	double prev_anchor_beat;   /* cycle's first frame */
	double prev_frames_per_beat;
};

enum seq_clock_flag {
	SEQ_CLOCK_ROLLING = 1,     /* the span is valid: schedule notes in it */
	SEQ_CLOCK_STARTED = 2,     /* rolling now, not on the previous cycle */
	SEQ_CLOCK_STOPPED = 4,     /* stopped now, rolling on the previous cycle */
	SEQ_CLOCK_JUMPED = 8,      /* the position jumped (locate, loop) */
	SEQ_CLOCK_NO_BBT = 16,     /* no master gives BBT: own tempo, 4/4 */
};

struct seq_clock {
	bool have_previous;
	bool was_rolling;
	uint32_t next_frame;       /* transport frame expected next cycle */
	double next_beat;          /* position expected next cycle */
	uint32_t frame_rate;       /* of the previous cycle */
	uint32_t anchor_frame;     /* transport frame of the last re-anchoring */
	double anchor_beat;        /* the position there */
	double bpm;                /* the tempo since then */
	double beats_per_bar;      /* the meter of the previous cycle */
	double cycle_beat;         /* position of the previous cycle's start */
};

void seq_clock_init(struct seq_clock *c);
/* RT: the span of this cycle; returns enum seq_clock_flag bits. */
int seq_clock_update(struct seq_clock *c, const struct seq_transport *t,
		     uint32_t nframes, double fallback_bpm, struct seq_span *span);

/* RT: frames per beat of a span. */
double seq_span_frames_per_beat(const struct seq_span *s);
/* RT: the frame (relative to the cycle start, may be outside the cycle)
 * where musical position beat lands: the rounding rule above. */
int64_t seq_span_frame(const struct seq_span *s, double beat);
/* RT: the frame in [0, nframes) where an event at musical position beat
 * plays in this cycle, or -1 when it belongs to another one (played
 * already, or later). Use this, not seq_span_frame(), to decide whether
 * something (a note, a bar line) happens in this cycle: it adds the
 * previous-mapping rule above, so re-anchoring loses or doubles nothing. */
int64_t seq_span_event_frame(const struct seq_span *s, double beat);
/* RT: the musical position of frame (from the cycle start) of a span. */
double seq_span_beat(const struct seq_span *s, double frame);
/* RT: the frame in [0, nframes) of the first bar line (a multiple of
 * beats_per_bar beats from bar 1) that plays in this cycle by
 * seq_span_event_frame()'s rule, its position in *bar_beat; or -1. For a
 * pattern switch "at the next bar": a bar line is neither skipped nor
 * met twice, even in a cycle where the clock re-anchored. */
int64_t seq_span_bar_frame(const struct seq_span *s, double *bar_beat);

/* RT: the length of one step of t in beats of the given beat_type. */
double seq_step_beats(const struct seq_track *t, double beat_type);
/* RT: the swing that applies to t (its own, or the global one when it
 * follows), clamped to 0..0.75. */
double seq_track_swing(const struct seq_track *t, double global_swing);
/* RT: the musical position where global step g of t starts (g counts
 * steps of t from bar 1 beat 1; step g plays pattern step g % length),
 * swing included: a step that starts on an off-beat of t's swing
 * reference grid (8th or 16th) starts swing * one reference unit later.
 * Steps of a finer straight grid (1/32 with a 16th reference) move in
 * proportion within their pair of reference units, so their order holds;
 * steps off that grid (triplets) do not swing. */
double seq_step_start(const struct seq_track *t, int64_t g, double swing,
		      double beat_type);

#endif
