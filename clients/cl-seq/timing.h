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
 * master gives it, else bar/beat/tick) after a start, a locate, or when
 * the master's position differs from the carried one by more than one
 * tick. With no BBT from any master it counts from the transport frame at
 * its own tempo and says so (SEQ_CLOCK_NO_BBT).
 *
 * Frames: an event at musical position b lands on frame
 * floor((b - span.beat) * frames_per_beat + 0.5) of the cycle (the
 * nearest frame; halves go later) and belongs to the cycle where that
 * frame is in [0, nframes). Because consecutive spans join exactly, every
 * event lands in exactly one cycle.
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

/* RT: the length of one step of t in beats of the given beat_type. */
double seq_step_beats(const struct seq_track *t, double beat_type);
/* RT: the swing that applies to t (its own, or the global one when it
 * follows), clamped to 0..0.75. */
double seq_track_swing(const struct seq_track *t, double global_swing);
/* RT: the musical position where global step g of t starts (g counts
 * steps of t from bar 1 beat 1; step g plays pattern step g % length),
 * swing included: a step that starts on an off-beat of t's swing
 * reference grid (8th or 16th) starts swing * one reference unit later. */
double seq_step_start(const struct seq_track *t, int64_t g, double swing,
		      double beat_type);

#endif
