/*
 * cl-seq: the sequencer's model, shared by the pure modules (pattern
 * strings, timing, scheduling, voices, documents) and the program.
 *
 * A struct seq_pattern is the whole playable state: tracks, the global
 * swing, the random seed and the metadata of a pattern slot. It has a
 * fixed size and holds no pointers, so the control thread can build one,
 * hand it to the audio thread by pointer and get the old one back, and a
 * copy is a plain assignment.
 *
 * Time: musical positions are in beats (the meter's beat_type units,
 * quarter notes in 4/4) counted from bar 1 beat 1 of the transport. Step
 * lengths are fractions of a whole note (1/16 = {1, 16}; the triplet
 * sixteenth "1/16t" = {1, 24}), so a step lasts step_num/step_den *
 * beat_type beats whatever the meter.
 */
#ifndef CL_SEQ_MODEL_H
#define CL_SEQ_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEQ_MAX_TRACKS 32
#define SEQ_MAX_STEPS 64
#define SEQ_MAX_NOTES 16
#define SEQ_MAX_RATCHET 8
#define SEQ_NAME_MAX 32          /* track names: 1..31 of [A-Za-z0-9_-] */
#define SEQ_VOICE_MAX_PARAMS 12
#define SEQ_MAX_TAGS 8
#define SEQ_SWING_MAX 0.75f
#define SEQ_SWING_FOLLOW (-1.0f) /* track swing that follows the global one */

enum seq_step_kind { SEQ_STEP_REST = 0, SEQ_STEP_HIT = 1, SEQ_STEP_ACCENT = 2 };

enum seq_voice_kind {
	SEQ_VOICE_NONE = 0,
	SEQ_VOICE_KICK,
	SEQ_VOICE_SNARE,
	SEQ_VOICE_HAT,
	SEQ_VOICE_CLAP,
	SEQ_VOICE_ACID,
	SEQ_VOICE_COUNT,
};

struct seq_track {
	char name[SEQ_NAME_MAX];
	uint8_t channel;                      /* MIDI channel 1..16 */
	uint8_t length;                       /* steps, 1..64 */
	uint8_t steps[SEQ_MAX_STEPS];         /* enum seq_step_kind */
	uint8_t probability[SEQ_MAX_STEPS];   /* percent 0..100 (100 = always) */
	uint8_t ratchet[SEQ_MAX_STEPS];       /* notes per step, 1..8 */
	uint16_t step_num, step_den;          /* step length, whole-note fraction */
	uint8_t notes[SEQ_MAX_NOTES];         /* cycled on each hit */
	uint8_t note_count;                   /* 1..16 */
	uint8_t velocity;                     /* 1..127 */
	uint8_t accent;                       /* 0..127, added on X (clamped) */
	float gate;                           /* fraction of a step, 0.01..2 */
	float swing;                          /* 0..0.75, or SEQ_SWING_FOLLOW */
	uint8_t swing_ref;                    /* 8 or 16: the grid whose off-beats swing */
	bool mute, solo;
	uint8_t voice;                        /* enum seq_voice_kind */
	float voice_params[SEQ_VOICE_MAX_PARAMS]; /* in the voice's table order */
	uint8_t out_index;                    /* 0..31, unique per pattern: the
	                                       * track's voice and own ports; the
	                                       * program assigns it (not saved) */
};

struct seq_pattern {
	char name[64];
	char genre[32];
	char tags[SEQ_MAX_TAGS][32];
	int tag_count;
	float swing;                          /* global, 0..0.75 */
	uint32_t seed;                        /* for step probability */
	int track_count;
	struct seq_track tracks[SEQ_MAX_TRACKS];
};

/* A track with every field at its default (1/16 steps, 16 rests,
 * probability 100, ratchet 1, channel 1, note 60, velocity 100, accent
 * 27, gate 0.5, swing following the global one, reference 16th, no voice,
 * voice params 0: whoever gives the track a voice fills its defaults with
 * seq_voice_defaults()). */
void seq_track_init(struct seq_track *t, const char *name);
/* An empty pattern: no tracks, swing 0, seed 1, name "Untitled". */
void seq_pattern_init(struct seq_pattern *p);
/* Index of the track called name, or -1. */
int seq_pattern_find(const struct seq_pattern *p, const char *name);
/* Is name a valid track name? 0, or -1 and err. */
int seq_track_name_check(const char *name, char *err, size_t errlen);

#endif
