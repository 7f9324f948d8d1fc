/*
 * A chain of effect slots, as plain DSP: no JACK, no OSC, no files.
 *
 * The live rack and the offline renderer both run a struct fx_chain. A
 * chain is an array of slots; each slot owns one effect instance, its
 * parameter values and a wet/dry ramp used for bypass (a crossfade, never a
 * jump). A chain is immutable in shape once built: adding, removing or
 * moving a slot builds a new chain off the audio thread (fx_chain_clone
 * with changes), which the audio thread takes in one pointer swap; the old
 * chain goes back to be freed, without the slots the new one kept.
 *
 * Slots have ids that stay the same when a slot moves, so a parameter change
 * queued before a swap still reaches the right effect after it.
 */
#ifndef CL_FX_CHAIN_H
#define CL_FX_CHAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "cl_rt.h"
#include "effect.h"

#define FX_MAX_SLOTS 16
#define FX_BYPASS_S 0.020        /* bypass crossfade */
#define FX_MAX_BLOCK 8192

struct fx_slot {
	uint32_t id;                      /* stable, unique within a rack */
	const struct fx_type *type;
	void *fx;                         /* the instance */
	float value[FX_MAX_PARAMS];       /* current parameter values */
	bool bypass;
	struct cl_ramp wet;               /* 1 = effect, 0 = dry */
	float *dry[FX_MAX_CHANNELS];      /* copy of the input while crossfading */
};

struct fx_chain {
	uint32_t rate;
	int channels;
	int count;
	struct fx_slot *slot[FX_MAX_SLOTS];
};

/* A new slot of type t (parameters at their defaults, not bypassed), or
 * NULL. Not RT. */
struct fx_slot *fx_slot_new(const struct fx_type *t, uint32_t id, uint32_t rate, int channels);
void fx_slot_free(struct fx_slot *s);

/* Set a parameter (clamped) on the instance and remember it. RT */
void fx_slot_set(struct fx_slot *s, int param, float value);
/* Bypass with a crossfade. RT */
void fx_slot_set_bypass(struct fx_slot *s, bool bypass);
/* Frames of latency the slot adds now. */
uint32_t fx_slot_latency(const struct fx_slot *s);

/* An empty chain, or a copy of `from` (sharing its slots) when from is
 * not NULL. Not RT. */
struct fx_chain *fx_chain_new(uint32_t rate, int channels, const struct fx_chain *from);
/* Free the chain array only; its slots belong to whoever keeps them. */
void fx_chain_free(struct fx_chain *c);
/* Free the chain and every slot in it. */
void fx_chain_free_all(struct fx_chain *c);

/* Insert s at position (clamped to 0..count); -1 when full. Not RT (on a
 * chain the audio thread does not see yet). */
int fx_chain_insert(struct fx_chain *c, struct fx_slot *s, int position);
/* Take the slot at position out of the chain and return it. Not RT. */
struct fx_slot *fx_chain_take(struct fx_chain *c, int position);
/* Position of the slot with this id, or -1. RT */
int fx_chain_find(const struct fx_chain *c, uint32_t id);

/* Tempo for synced effects. RT */
void fx_chain_set_tempo(struct fx_chain *c, double bpm);
/* Process n frames in place through every slot. n <= FX_MAX_BLOCK. RT */
void fx_chain_process(struct fx_chain *c, float *const *buf, uint32_t n);
/* Sum of the slots' latencies. */
uint32_t fx_chain_latency(const struct fx_chain *c);

#endif
