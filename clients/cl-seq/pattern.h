/*
 * cl-seq: the text forms a user types: step pattern strings and step
 * lengths. Parsers check everything and change nothing on error.
 */
#ifndef CL_SEQ_PATTERN_H
#define CL_SEQ_PATTERN_H

#include <stddef.h>
#include "seq_model.h"

/* Parse a step string ('X' accent, 'x' hit, '.' rest; 1..64 steps; ' '
 * and '|' may separate groups and are ignored) into t->steps and
 * t->length. Steps past the new length are cleared; per-step probability
 * and ratchets of kept steps stay. 0, or -1 with err naming the first bad
 * character and its position ("bad character 'a' at 5: use X, x or .")
 * or the length ("65 steps: a pattern has 1 to 64"), t untouched. */
int seq_pattern_string_parse(const char *text, struct seq_track *t,
			     char *err, size_t errlen);
/* t's steps as a string of length t->length (no separators). */
void seq_pattern_string_format(const struct seq_track *t, char *buf, size_t len);

/* Parse a step length: "1/4", "1/8", "1/16", "1/32", "1/64" and the
 * triplets "1/4t", "1/8t", "1/16t", "1/32t" (2/3 of the plain length).
 * 0 and *num, *den set, or -1 and err. */
int seq_step_length_parse(const char *text, uint16_t *num, uint16_t *den,
			  char *err, size_t errlen);
/* The canonical text of a step length ("1/16", "1/16t"). */
void seq_step_length_format(uint16_t num, uint16_t den, char *buf, size_t len);

#endif
