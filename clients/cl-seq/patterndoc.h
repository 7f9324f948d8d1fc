/*
 * cl-seq: pattern documents and pattern slots.
 *
 * A pattern document (schema "cl-seq-pattern/1", DESIGN.md) holds the
 * tracks, the voice settings keyed by track name, the global swing, the
 * seed and the metadata name/genre/tags. Parsing checks every field
 * (unknown keys, types, ranges, the pattern strings, duplicate track
 * names) and fills a struct seq_pattern only when all is well.
 *
 * Slots 1..128 live at <store>/patterns/slots/slot_NNN.json. Saving moves
 * the previous version to <store>/patterns/backups/slot_NNN-<UTC
 * timestamp>.json first (a hard link, so nothing is copied and the slot
 * is never missing; -1, -2 ... when the name is taken), then writes the
 * new one atomically over the slot.
 */
#ifndef CL_SEQ_PATTERNDOC_H
#define CL_SEQ_PATTERNDOC_H

#include <stddef.h>
#include <jansson.h>
#include "seq_model.h"

#define SEQ_PATTERN_SCHEMA_KIND "cl-seq-pattern"
#define SEQ_PATTERN_SCHEMA_VERSION 1
#define SEQ_SLOT_MIN 1
#define SEQ_SLOT_MAX 128

/* Fill out from a parsed document (schema checked here). 0, or -1 and err
 * ("tracks[2].pattern: bad character 'q' at 3: use X, x or ."); out is
 * untouched on error. */
int seq_pattern_from_json(json_t *doc, struct seq_pattern *out, char *err, size_t errlen);
/* A new document for p (the caller json_decref()s it). NULL when out of
 * memory. */
json_t *seq_pattern_to_json(const struct seq_pattern *p);
/* Load and check the pattern document at path (/cl/state/load). 0, or -1
 * and err (naming the path); out untouched on error. */
int seq_pattern_load_file(const char *path, struct seq_pattern *out, char *err, size_t errlen);
/* Save p as a document at path atomically, after checking it reads back
 * (/cl/state/save). 0, or -1 and err; on error path is as it was. */
int seq_pattern_save_file(const char *path, const struct seq_pattern *p, char *err,
			  size_t errlen);

/* Parse a slot number given as text ("5", "005"): 0 and *slot, or -1 and
 * err ("slot 129 is outside 1..128", "slot \"abc\" is not a number"). */
int seq_slot_parse(const char *text, int *slot, char *err, size_t errlen);
/* Check a slot number: 0, or -1 and err. */
int seq_slot_check(int slot, char *err, size_t errlen);
/* <store>/patterns/slots/slot_NNN.json into path. 0, or -1 and err. */
int seq_slot_path(const char *store, int slot, char *path, size_t len,
		  char *err, size_t errlen);
/* Save p in slot. 0 once the new version is durable in the slot and the
 * previous one durable beside it as ".slot_NNN.json.kept-XXXXXX", for
 * seq_slot_file_backups() to move into patterns/backups/. -1 and err
 * ("slot 5: not saved: <reason>"): then the slot file is as it was. One
 * exception keeps the new version: when only the final folder fsync
 * fails, the new file is in place, the old one kept beside it, and err
 * says "slot 5: saved, but the save may not survive a crash: <reason>".
 * A pattern that would not load back is not saved. */
int seq_slot_save(const char *store, int slot, const struct seq_pattern *p,
		  char *err, size_t errlen);
/* Move every previous version kept in patterns/slots/ (by saves, or left
 * by a crash) into patterns/backups/ as slot_NNN-<UTC>.json[-1 ...],
 * durably. The count moved, or -1 and err (what was not moved stays). */
int seq_slot_file_backups(const char *store, char *err, size_t errlen);
/* Load slot into out. 0, or -1 and err ("slot 7 is empty", "slot 7:
 * <parse or schema error>"); out untouched on error. */
int seq_slot_load(const char *store, int slot, struct seq_pattern *out,
		  char *err, size_t errlen);
struct seq_slot_info {
	int slot;
	char name[64];
	char genre[32];
	int track_count;
	bool ok;                   /* false: the file is there but unreadable */
};
/* The filled slots in ascending order (at most max). Returns the count. */
int seq_slot_list(const char *store, struct seq_slot_info *out, int max);

#endif
