/*
 * cl-seq: the built-in voices, so a session sounds with no other synth.
 *
 * Drum voices (kick, snare, hat, clap) are made from oscillators, noise
 * and envelopes; the acid voice is a monophonic saw/square synth with a
 * resonant low-pass, envelope, accent, slide and drive. One struct
 * seq_voice holds the state of every kind, so a track changes its voice
 * without allocating (in the audio thread). Parameters are set in their
 * units and ramped (no zipper noise or clicks); notes arrive between
 * renders at the frames where they fall. Everything here is RT-safe
 * except the table lookups, which are too.
 */
#ifndef CL_SEQ_VOICES_H
#define CL_SEQ_VOICES_H

#include <stdbool.h>
#include <stdint.h>
#include "seq_model.h"

struct seq_voice_param {
	const char *name;     /* "cutoff" */
	const char *unit;     /* "Hz", "s", "", "%" */
	float min, max, def;
	const char *doc;      /* one line for the man page */
};

/* "kick" ... "acid", "none"; NULL for a bad kind. */
const char *seq_voice_name(int kind);
/* The kind called name, or -1. */
int seq_voice_from_name(const char *name);
/* The parameter table of a kind (count in *n; NULL and 0 for none). */
const struct seq_voice_param *seq_voice_params(int kind, int *n);
/* Index of a parameter of kind, or -1. */
int seq_voice_param_index(int kind, const char *name);
/* Fill params[SEQ_VOICE_MAX_PARAMS] with the defaults of kind. */
void seq_voice_defaults(int kind, float *params);

/* The voice state (its members are the voice module's business). */
struct seq_voice {
	int kind;
	double rate;
	float gain_l, gain_r;
	uint32_t noise;
	/* ...the module adds what it needs: a fixed-size struct, no pointers
	 * to heap memory. */
	float state[64];
};

/* Set up v as kind at the given sample rate with params (NULL = defaults). */
void seq_voice_init(struct seq_voice *v, int kind, double rate, const float *params);
/* RT: change the kind (the old sound is cut with a short fade, params to
 * the new kind's values given, NULL = defaults). */
void seq_voice_set_kind(struct seq_voice *v, int kind, const float *params);
/* RT: set parameter index to value (clamped), ramped over a few ms. */
void seq_voice_set(struct seq_voice *v, int param, float value);
/* RT: note-on; accent adds the voice's accent behaviour. For the acid
 * voice a note-on while a note still sounds (legato) slides to the new
 * pitch without retriggering the envelope. */
void seq_voice_note_on(struct seq_voice *v, uint8_t note, uint8_t velocity, bool accent);
/* RT: note-off of note (ignored when another note sounds on a mono voice). */
void seq_voice_note_off(struct seq_voice *v, uint8_t note);
/* RT: end every note with a fast release (a few ms, no click). */
void seq_voice_all_off(struct seq_voice *v);
/* RT: add n frames of output to l and r. */
void seq_voice_render(struct seq_voice *v, float *l, float *r, uint32_t n);
/* RT: is anything still sounding (so rendering can be skipped)? */
bool seq_voice_active(const struct seq_voice *v);

#endif
