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

/* A value that moves linearly by step per frame towards target (the step
 * is set at each control tick, so it lands there at the next tick). */
struct seq_voice_ramp {
	float value, step, target;
};

#define SEQ_HAT_OSCS 6

struct seq_voice_kick {
	float phase;                    /* turns, [0, 1) */
	float inc;                      /* freq / rate */
	float sweep_ratio;              /* 2^(sweep / 12) - 1 */
	float sweep_env, sweep_mul;
	float amp_env, amp_mul;
	float click_slow, click_fast, click_slow_mul, click_fast_mul;
	float click_lp, click_lp_a, click_level;
	float level;                    /* velocity and accent */
	struct seq_voice_ramp drive, pre, norm;
};

struct seq_voice_snare {
	float phase1, phase2, inc;
	float drop_env, drop_mul;
	float body_env, body_mul;
	float noise_env, noise_fast, noise_mul, noise_fast_mul;
	float hp_state, hp_a, lp_state, lp_a;
	float level;
	struct seq_voice_ramp snappy;
};

/* Coefficients and state of a TPT state-variable filter (Simper). */
struct seq_voice_svf {
	float a1, a2, a3, k;
	float ic1, ic2;
};

struct seq_voice_hat {
	float phase[SEQ_HAT_OSCS], inc[SEQ_HAT_OSCS];
	float env, fast, mul, fast_mul;
	float level;
	struct seq_voice_svf bp, hp1, hp2;
	struct seq_voice_ramp metal;
};

struct seq_voice_clap {
	float burst_env, burst_mul, tail_env, tail_mul;
	int32_t bursts_left, until_next, spacing;
	float level;
	struct seq_voice_svf bp;
};

struct seq_voice_acid {
	float phase;
	float pitch, pitch_target;      /* MIDI note numbers (fractional) */
	float glide_a;                  /* per control tick */
	float env, env_mul, env_scale;  /* filter envelope */
	float amp, amp_target, amp_step, release_mul;
	int32_t attack_left;
	float s[4];                     /* ladder stage states */
	/* g carries G = g / (1 + g), solve 1 / (1 + k G^4) */
	struct seq_voice_ramp inc, g, k, solve, wave, drive, pre, norm;
	uint8_t note, held;
	bool gate;
};

/* One sounding instance of a kind: its parameters (targets and the
 * smoothed values the sound uses), output gains and the kind's state. */
struct seq_voice_core {
	int kind;
	bool active;
	bool instant;                   /* next tick jumps ramps to targets */
	int32_t ctl_left;               /* frames to the next control tick */
	uint32_t noise;
	float fade, fade_step;          /* the cut of all_off or a retrigger */
	float target[SEQ_VOICE_MAX_PARAMS];
	float param[SEQ_VOICE_MAX_PARAMS];
	bool settled;                   /* param == target for all */
	struct seq_voice_ramp gain_l, gain_r;
	float last_l, last_r;           /* last frame added (for the declick) */
	union {
		struct seq_voice_kick kick;
		struct seq_voice_snare snare;
		struct seq_voice_hat hat;
		struct seq_voice_clap clap;
		struct seq_voice_acid acid;
	} u;
};

struct seq_voice {
	int kind;
	double rate;
	float gain_l, gain_r;           /* the sounding kind's gains, after the last render */
	uint32_t noise;                 /* seeds the noise of each new core */
	struct seq_voice_core cur;      /* the sound being played */
	struct seq_voice_core old;      /* the previous sound, fading out */
	float declick_l, declick_r, declick_step_l, declick_step_r;
	int32_t declick_left;
	float smooth_a;                 /* parameter smoothing per control tick */
	int32_t fade_frames;
};

/* Set up v as kind at the given sample rate with params (NULL = defaults). */
void seq_voice_init(struct seq_voice *v, int kind, double rate, const float *params);
/* RT: change the kind (the old sound is cut with a short fade, params to
 * the new kind's values given, NULL = defaults). The same kind keeps
 * sounding and ramps to the values given. */
void seq_voice_set_kind(struct seq_voice *v, int kind, const float *params);
/* RT: set parameter index to value (clamped), ramped over a few ms. */
void seq_voice_set(struct seq_voice *v, int param, float value);
/* RT: note-on; accent adds the voice's accent behaviour. For the acid
 * voice a note-on while a note still sounds (legato) slides to the new
 * pitch without retriggering the envelope. Velocity / 127 scales the
 * level (0 is a note-off); drums ignore the note number. */
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
