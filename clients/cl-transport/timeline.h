/*
 * The musical timeline of cl-transport: which bar, beat and tick a frame is
 * at, and which frame a musical position falls on.
 *
 * The timeline is a short list of segments, each starting at a frame with a
 * tempo and a meter. Tempo changes made while the transport rolls take
 * effect at the next bar line, so they append a segment there; changes made
 * while stopped (or asked to be immediate) start a segment at the current
 * frame, keeping the position continuous. A locate collapses the timeline to
 * one segment from frame 0 at the current tempo and meter, so a located
 * position always means the same frame for the same tempo.
 *
 * Positions are kept in three units that grow monotonically with the frame:
 * beats (of the meter's beat type), quarter notes (MIDI clock counts 24 per
 * quarter) and ticks (1920 per beat, JACK's ticks_per_beat). An event at a
 * musical position is placed on the first frame whose position is at or
 * past it: the frame is ceil() of the exact real value. Plain functions on
 * a struct: no JACK, no allocation; the audio thread calls them.
 */
#ifndef CL_TRANSPORT_TIMELINE_H
#define CL_TRANSPORT_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#define TL_TICKS_PER_BEAT 1920.0
#define TL_MAX_SEGMENTS 32
#define TL_MIN_BPM 10.0
#define TL_MAX_BPM 400.0
#define TL_MAX_BEATS_PER_BAR 32

struct tl_segment {
	int64_t frame;        /* first frame */
	double bpm;           /* beats of beat_type per minute */
	int beats_per_bar;
	int beat_type;        /* 1, 2, 4, 8, 16 or 32 */
	int64_t bar;          /* 0-based bar at the first frame */
	double beat_in_bar;   /* 0-based beat within that bar, fractional */
	double beats;         /* beats from frame 0 to the first frame */
	double quarters;      /* quarter notes from frame 0 to the first frame */
	double bar_start_tick;/* ticks from frame 0 to the start of `bar` */
};

struct tl_timeline {
	uint32_t rate;
	int count;                              /* >= 1 */
	struct tl_segment seg[TL_MAX_SEGMENTS]; /* by increasing frame */
};

/* A position as JACK's BBT fields want it (bar and beat 1-based). */
struct tl_position {
	int64_t frame;
	int32_t bar;
	int32_t beat;
	int32_t tick;
	double tick_double; /* ticks into the beat, unrounded (JACK's tick_double) */
	double bar_start_tick;
	double bpm;
	int beats_per_bar;
	int beat_type;
	double beats;     /* beats since frame 0 */
	double quarters;  /* quarter notes since frame 0 */
};

enum tl_unit { TL_BEATS, TL_QUARTERS };

/* True when bpm and meter are in range. */
bool tl_valid_tempo(double bpm, int beats_per_bar, int beat_type);

/* One segment from frame 0 at this tempo and meter. */
void tl_init(struct tl_timeline *tl, uint32_t rate, double bpm,
	     int beats_per_bar, int beat_type);

/* The segment that holds frame. RT */
const struct tl_segment *tl_segment_at(const struct tl_timeline *tl, int64_t frame);

/* Bar, beat, tick (and the rest) at frame. RT */
void tl_position(const struct tl_timeline *tl, int64_t frame, struct tl_position *out);

/* Beats or quarters since frame 0, at frame (exact, fractional). RT */
double tl_value_at(const struct tl_timeline *tl, enum tl_unit unit, int64_t frame);

/* The first frame whose position in unit is >= value. RT */
int64_t tl_frame_at(const struct tl_timeline *tl, enum tl_unit unit, double value);

/* The first bar line at or after frame. RT */
int64_t tl_next_bar(const struct tl_timeline *tl, int64_t frame);

/* Frame of bar/beat/tick (1-based bar and beat) on the timeline, or -1
 * when beat or tick is out of range for the meter at that bar. RT */
int64_t tl_bbt_to_frame(const struct tl_timeline *tl, int32_t bar, int32_t beat,
			int32_t tick);

/* Change tempo and meter from `frame` on: segments at or after it are
 * dropped (a pending change is replaced). When the segment list is full,
 * the two oldest segments merge into one starting at frame 0 at the later
 * tempo, which only moves positions before the newest changes. RT */
void tl_change(struct tl_timeline *tl, int64_t frame, double bpm,
	       int beats_per_bar, int beat_type);

/* Collapse to one segment from frame 0 at the latest tempo and meter (a
 * pending change included). RT */
void tl_collapse(struct tl_timeline *tl);

/* The last segment: the tempo that is or will be in effect. RT */
static inline const struct tl_segment *tl_latest(const struct tl_timeline *tl)
{
	return &tl->seg[tl->count - 1];
}

#endif
