/*
 * Chain documents (schema cl-fx-chain/1, DESIGN.md "Effect chain"): the
 * effects in order with their bypass state and parameters, and automation
 * lanes that name a slot by its position in the document.
 *
 *   {"schema": "cl-fx-chain/1",
 *    "effects": [{"type": "compressor", "bypass": false,
 *                 "params": {"threshold": -20, "ratio": 4}}],
 *    "automation": [{"slot": 0, "param": "threshold", "unit": "beats",
 *                    "points": [[0, -20, "linear"], [16, -30, "step"]]}]}
 *
 * Parsing checks everything (types, parameter names and ranges, lane
 * points in increasing time, curve names) and refuses with a message naming
 * the place; nothing is built from a document that failed. Building makes
 * the slots (off the audio thread).
 */
#ifndef CL_FX_CHAINDOC_H
#define CL_FX_CHAINDOC_H

#include <jansson.h>

#include "chain.h"
#include "lane.h"

#define FX_CHAIN_SCHEMA_KIND "cl-fx-chain"
#define FX_CHAIN_SCHEMA_VERSION 1
#define FX_MAX_LANES 64

struct fx_doc_effect {
	const struct fx_type *type;
	bool bypass;
	float value[FX_MAX_PARAMS];
};

struct fx_doc {
	int count;
	struct fx_doc_effect effects[FX_MAX_SLOTS];
	int nlanes;
	struct fx_lane lanes[FX_MAX_LANES];   /* slot_id = position in effects[] */
};

/* Parse and check a chain document for `channels` channels. 0, or -1 and
 * err (the document is borrowed; *d need not be freed on failure). */
int fx_doc_parse(json_t *doc, int channels, struct fx_doc *d, char *err, size_t errlen);
/* Free the lanes' points. */
void fx_doc_free(struct fx_doc *d);

/* Build the chain a parsed document describes, giving slots the ids
 * *next_id, *next_id + 1, ... and rewriting the lanes' slot_id to them.
 * NULL and err on failure. Not RT. */
struct fx_chain *fx_doc_build(struct fx_doc *d, uint32_t rate, int channels,
			      uint32_t *next_id, char *err, size_t errlen);

/* The document of a chain and its lanes (lanes name slots by id). */
json_t *fx_doc_from_chain(const struct fx_chain *c, const struct fx_lane *lanes, int nlanes);

#endif
