/*
 * cl-seq: the notes of one cycle.
 *
 * seq_schedule_track() lists the note-ons a track plays in a frame window
 * of a span, with their frames and the musical position of their
 * note-offs. The held-note set remembers every sounding note until its
 * note-off is due, and can end them all (stop, locate, panic, pattern
 * switch) or those of one track (mute, channel change, removal): the rule
 * "never a hanging note" lives here, where it can be unit-tested.
 *
 * Probability is decided by a hash of (pattern seed, track name, global
 * step index), not by a running random generator, so the same seed plays
 * the same steps after any locate, at any block size. Notes cycle over
 * t->notes by the hit's index counted from bar 1 (rests do not count,
 * hits that lose the probability roll do), which also survives a locate.
 * A step with ratchet r plays r notes, each 1/r of the step as it sounds
 * (from its swung start to the next step's), each with a gate of gate *
 * step length / r. Accent adds t->accent to the velocity, capped at
 * 127. A note-off always lands at least one frame after its note-on.
 */
#ifndef CL_SEQ_SCHEDULE_H
#define CL_SEQ_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include "seq_model.h"
#include "timing.h"

#define SEQ_MAX_HELD 256
#define SEQ_MAX_EVENTS 1024       /* per cycle, all tracks */

enum seq_event_kind { SEQ_EV_NOTE_OFF = 0, SEQ_EV_NOTE_ON = 1 };

struct seq_event {
	uint32_t frame;            /* in the cycle */
	uint8_t kind;              /* enum seq_event_kind */
	uint8_t track;             /* index into the pattern's tracks */
	uint8_t channel;           /* 1..16 */
	uint8_t note;
	uint8_t velocity;          /* note-off velocity is 0 */
	bool accent;
	int64_t step;              /* global step index (note-ons) */
	uint8_t pattern_step;      /* step % length (note-ons) */
	double off_beat;           /* note-ons: where the note-off is due */
	uint8_t out;               /* the track's out_index: filled by the program */
};

/* RT: does track t sound at all (not muted; when any track of p is soloed,
 * only soloed tracks sound)? */
bool seq_track_audible(const struct seq_pattern *p, int track);

/* RT: append to out (capacity max, *count in/out) the note-ons of track
 * index ti of p whose frame is in [from, to) of span s (none when the
 * track is not audible). Returns the number appended; stops (and returns
 * -1) when out is full. */
int seq_schedule_track(const struct seq_pattern *p, int ti,
		       const struct seq_span *s, uint32_t from, uint32_t to,
		       struct seq_event *out, int max, int *count);

/* RT: the probability roll: does global step g of track t play? */
bool seq_step_plays(uint32_t seed, const struct seq_track *t, int64_t g);

struct seq_held_note {
	uint8_t track, channel, note;
	double off_beat;
	int32_t on_frame;          /* frame of the note-on in the cycle it
	                            * started; -1 once that cycle is over */
};

struct seq_held {
	int count;
	struct seq_held_note notes[SEQ_MAX_HELD];
};

void seq_held_clear(struct seq_held *h);
/* RT: remember a note-on (ev). When the same channel and note already
 * sound, a note-off for it is appended to out first (at ev's frame) so
 * the receiver sees off, on. When the set is full the oldest note is
 * ended the same way. Returns the number of events appended (0..1).
 * When the same channel and note already started at ev's frame in this
 * cycle (two tracks on one note), nothing is appended and the two merge
 * (the later note-off holds): the caller should not send ev; use
 * seq_schedule_cycle(), which does all this in time order. */
int seq_held_add(struct seq_held *h, const struct seq_event *ev,
		 struct seq_event *out, int max, int *count);
/* RT: append note-offs for held notes due in [0, span->nframes) of the
 * span and forget them; a note turned on in this cycle ends at least one
 * frame after its note-on (or in the next cycle). Call once per cycle,
 * after every seq_held_add of the cycle: it also marks the cycle over. */
int seq_held_due(struct seq_held *h, const struct seq_span *s,
		 struct seq_event *out, int max, int *count);
/* RT: end every held note (track < 0) or those of one track, at frame;
 * append their note-offs and forget them. */
int seq_held_end(struct seq_held *h, int track, uint32_t frame,
		 struct seq_event *out, int max, int *count);

/* RT: sort events by frame; at equal frames note-offs come first, then
 * by track. Stable. */
void seq_events_sort(struct seq_event *ev, int count);

/* RT: the note-ons of every audible track of p in [from, to) of s,
 * registered in h in time order: a note still sounding on the same
 * channel and note ends first (at its own note-off frame when that comes
 * no later, else at the new note-on: off, then on), and a second note-on
 * of one channel and note at one frame is dropped (the louder velocity
 * and the longer gate hold). Appends the note-ons and those note-offs;
 * then call seq_held_due() once for the cycle and seq_events_sort().
 * Returns the number appended, or -1 when out filled up (size out for
 * SEQ_MAX_EVENTS plus SEQ_MAX_HELD). */
int seq_schedule_cycle(const struct seq_pattern *p, const struct seq_span *s,
		       uint32_t from, uint32_t to, struct seq_held *h,
		       struct seq_event *out, int max, int *count);

#endif
