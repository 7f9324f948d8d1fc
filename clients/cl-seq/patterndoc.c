/*
 * cl-seq pattern documents and slots; see patterndoc.h.
 *
 * Parsing fills a private struct seq_pattern that starts from zeroed
 * memory and the model's defaults, and copies it out byte for byte only
 * when the whole document is good: the caller's pattern is never half
 * changed, and a document written by seq_pattern_to_json() reads back to
 * the very same bytes (fields the document leaves out keep their
 * defaults, and the writer only leaves out what equals them). Every
 * error names the place the way a user would point at it in the file:
 * "tracks[2].gate: 3 is outside 0.01..2", "voices.bass.cutoff: ...".
 *
 * Floats are written with the fewest digits that read back to the same
 * float (0.1f is "0.1", not 0.100000001490116), and ranges are checked on
 * the float a value becomes, so a bound written in the file (0.01) is
 * inside the range whatever its binary rounding.
 *
 * Saving a slot keeps the previous version without copying it and
 * without a moment where the slot is missing or the old file has no
 * name: the new document is written and fsync'd beside the slot, trades
 * names with the old file in one step (cl_atomic_start_keep and
 * cl_atomic_finish_keep), and the folder is fsync'd. Then the save is
 * durable and so is the previous version, under a hidden
 * ".slot_NNN.json.kept-XXXXXX" in patterns/slots/; seq_slot_file_backups()
 * moves it into patterns/backups/ right after (the caller has answered by
 * then), and files whatever a crash left there the same way. That keeps
 * the save itself at two fsyncs. A failed save changes nothing; when only
 * the final folder fsync fails, the new version is in place and the old
 * one is kept all the same. The document is read back (checked) while its
 * bytes go to the disk, and the names are traded only when it passes, so
 * no slot is ever written that could not be loaded.
 */
#include "patterndoc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cl_doc.h"
#include "cl_log.h"
#include "pattern.h"
#include "voices.h"

#define BACKUP_TRIES 1000   /* slot_NNN-<time>.json, then -1 .. -999 */

static const struct cl_schema pattern_schema = {
	.kind = SEQ_PATTERN_SCHEMA_KIND, .version = SEQ_PATTERN_SCHEMA_VERSION, .oldest = 1,
};

/* "an array", "a string" ... for messages. */
static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a fraction";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* The place of key inside where ("tracks[2]" + "gate"), for messages. */
static const char *place(char *buf, size_t len, const char *where, const char *key)
{
	snprintf(buf, len, "%s%s%s", where, where[0] ? "." : "", key);
	return buf;
}

/* Read integer key of obj in lo..hi into *out: 1 when set, 0 when absent
 * (or null when null_ok), -1 and err otherwise. */
static int get_int(json_t *obj, const char *key, const char *where, long long lo,
		   long long hi, long long *out, char *err, size_t errlen)
{
	char at[96];
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_integer(v)) {
		if (json_is_real(v))
			return cl_fail(err, errlen, "%s: must be an integer, not %g",
				    place(at, sizeof at, where, key), json_real_value(v));
		return cl_fail(err, errlen, "%s: must be an integer, not %s",
			    place(at, sizeof at, where, key), type_name(v));
	}
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return cl_fail(err, errlen, "%s: %lld is outside %lld..%lld",
			    place(at, sizeof at, where, key), x, lo, hi);
	*out = x;
	return 1;
}

/* Is number v, made a float, inside lo..hi? The float is in *out. */
static bool float_in_range(double v, float lo, float hi, float *out)
{
	if (!(v >= -1e30 && v <= 1e30))   /* also keeps the cast defined */
		return false;
	float f = (float)v;
	*out = f;
	return f >= lo && f <= hi;
}

/* Read number key of obj in lo..hi as a float: 1, 0 when absent, -1. */
static int get_float(json_t *obj, const char *key, const char *where, float lo,
		     float hi, float *out, char *err, size_t errlen)
{
	char at[96];
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_number(v))
		return cl_fail(err, errlen, "%s: must be a number, not %s",
			    place(at, sizeof at, where, key), type_name(v));
	float f;
	if (!float_in_range(json_number_value(v), lo, hi, &f))
		return cl_fail(err, errlen, "%s: %g is outside %g..%g",
			    place(at, sizeof at, where, key), json_number_value(v),
			    (double)lo, (double)hi);
	*out = f;
	return 1;
}

/* Read boolean key of obj: 1, 0 when absent, -1. */
static int get_bool(json_t *obj, const char *key, const char *where, bool *out,
		    char *err, size_t errlen)
{
	char at[96];
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return cl_fail(err, errlen, "%s: must be true or false, not %s",
			    place(at, sizeof at, where, key), type_name(v));
	*out = json_is_true(v);
	return 1;
}

/* Check a JSON string that goes into a char[size] field: text with no NUL
 * inside, min_len..size-1 bytes. The text in *out; 0 or -1. */
static int check_text(json_t *v, const char *at, size_t min_len, size_t size,
		      const char **out, char *err, size_t errlen)
{
	if (!json_is_string(v))
		return cl_fail(err, errlen, "%s: must be a string, not %s", at, type_name(v));
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (strlen(s) != n)
		return cl_fail(err, errlen, "%s: holds a NUL character", at);
	if (n < min_len)
		return cl_fail(err, errlen, "%s: must not be empty", at);
	if (n >= size)
		return cl_fail(err, errlen, "%s: %zu bytes long, at most %zu", at, n, size - 1);
	*out = s;
	return 0;
}

/* Copy text into a char[size] field, zeroing the rest so that equal
 * patterns are equal byte for byte. */
static void set_text(char *field, size_t size, const char *text)
{
	memset(field, 0, size);
	snprintf(field, size, "%s", text);
}

/* "kick, snare, hat, clap, acid or none" into buf. */
static const char *voice_choices(char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	int names = 0;
	for (int k = 1; k <= SEQ_VOICE_COUNT; k++) {
		const char *n = seq_voice_name(k == SEQ_VOICE_COUNT ? SEQ_VOICE_NONE : k);
		if (!n)
			continue;
		const char *sep = names == 0 ? "" : k == SEQ_VOICE_COUNT ? " or " : ", ";
		int w = snprintf(buf + used, len - used, "%s%s", sep, n);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
		names++;
	}
	return buf;
}

/* "freq, decay, amp": the parameter names of a voice kind. */
static const char *param_choices(int kind, char *buf, size_t len)
{
	int n = 0;
	const struct seq_voice_param *params = seq_voice_params(kind, &n);
	size_t used = 0;
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", params[i].name);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	return buf;
}

/* A list of per-step values lo..hi, exactly one per step of t. */
static int get_step_values(json_t *jt, const char *key, const char *where,
			   const struct seq_track *t, int lo, int hi, uint8_t *out,
			   char *err, size_t errlen)
{
	char at[96];
	json_t *v = json_object_get(jt, key);
	if (!v)
		return 0;
	place(at, sizeof at, where, key);
	if (!json_is_array(v))
		return cl_fail(err, errlen, "%s: must be a list of %d..%d, one per step, not %s",
			    at, lo, hi, type_name(v));
	if (json_array_size(v) != t->length)
		return cl_fail(err, errlen, "%s: %zu values for %d steps (one per step)",
			    at, json_array_size(v), t->length);
	for (size_t k = 0; k < t->length; k++) {
		json_t *x = json_array_get(v, k);
		if (!json_is_integer(x))
			return cl_fail(err, errlen, "%s[%zu]: must be an integer, not %s",
				    at, k, type_name(x));
		long long n = json_integer_value(x);
		if (n < lo || n > hi)
			return cl_fail(err, errlen, "%s[%zu]: %lld is outside %d..%d", at, k, n, lo, hi);
	}
	for (size_t k = 0; k < t->length; k++)
		out[k] = (uint8_t)json_integer_value(json_array_get(v, k));
	return 1;
}

/* tracks[i] into t (zeroed and given the defaults first). */
static int parse_track(json_t *jt, int i, struct seq_track *t, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"name", "channel", "pattern", "step", "notes", "velocity", "accent",
		"gate", "swing", "swing_ref", "probability", "ratchets", "mute",
		"solo", "voice", NULL,
	};
	char where[32], prefix[40], at[96], why[192];
	snprintf(where, sizeof where, "tracks[%d]", i);
	snprintf(prefix, sizeof prefix, "%s: ", where);
	if (!json_is_object(jt))
		return cl_fail(err, errlen, "%s: must be an object, not %s", where, type_name(jt));
	if (cl_doc_known_keys(jt, keys, prefix, err, errlen) != 0)
		return -1;

	json_t *v = json_object_get(jt, "name");
	const char *name;
	if (!v)
		return cl_fail(err, errlen, "%s: no \"name\"", where);
	if (check_text(v, place(at, sizeof at, where, "name"), 1, SEQ_NAME_MAX, &name,
		       err, errlen) != 0)
		return -1;
	if (seq_track_name_check(name, why, sizeof why) != 0)
		return cl_fail(err, errlen, "%s.name: %s", where, why);
	memset(t, 0, sizeof *t);
	seq_track_init(t, name);
	set_text(t->name, sizeof t->name, name);

	long long n;
	int r;
	if ((r = get_int(jt, "channel", where, 1, 16, &n, err, errlen)) < 0)
		return -1;
	if (r)
		t->channel = (uint8_t)n;

	v = json_object_get(jt, "pattern");
	if (!v)
		return cl_fail(err, errlen, "%s: no \"pattern\" (a step string like \"X...x...\")", where);
	if (!json_is_string(v))
		return cl_fail(err, errlen, "%s.pattern: must be a string, not %s", where, type_name(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return cl_fail(err, errlen, "%s.pattern: holds a NUL character", where);
	if (seq_pattern_string_parse(json_string_value(v), t, why, sizeof why) != 0)
		return cl_fail(err, errlen, "%s.pattern: %s", where, why);

	v = json_object_get(jt, "step");
	if (v) {
		if (!json_is_string(v))
			return cl_fail(err, errlen, "%s.step: must be a string like \"1/16\", not %s",
				    where, type_name(v));
		uint16_t num, den;
		if (seq_step_length_parse(json_string_value(v), &num, &den, why, sizeof why) != 0)
			return cl_fail(err, errlen, "%s.step: %s", where, why);
		t->step_num = num;
		t->step_den = den;
	}

	v = json_object_get(jt, "notes");
	if (v) {
		if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > SEQ_MAX_NOTES)
			return cl_fail(err, errlen, "%s.notes: must be a list of 1 to %d notes (0..127)",
				    where, SEQ_MAX_NOTES);
		for (size_t k = 0; k < json_array_size(v); k++) {
			json_t *x = json_array_get(v, k);
			if (!json_is_integer(x))
				return cl_fail(err, errlen, "%s.notes[%zu]: must be an integer, not %s",
					    where, k, type_name(x));
			long long note = json_integer_value(x);
			if (note < 0 || note > 127)
				return cl_fail(err, errlen, "%s.notes[%zu]: %lld is outside 0..127",
					    where, k, note);
		}
		memset(t->notes, 0, sizeof t->notes);
		for (size_t k = 0; k < json_array_size(v); k++)
			t->notes[k] = (uint8_t)json_integer_value(json_array_get(v, k));
		t->note_count = (uint8_t)json_array_size(v);
	}

	if ((r = get_int(jt, "velocity", where, 1, 127, &n, err, errlen)) < 0)
		return -1;
	if (r)
		t->velocity = (uint8_t)n;
	if ((r = get_int(jt, "accent", where, 0, 127, &n, err, errlen)) < 0)
		return -1;
	if (r)
		t->accent = (uint8_t)n;
	if (get_float(jt, "gate", where, 0.01f, 2.0f, &t->gate, err, errlen) < 0)
		return -1;
	v = json_object_get(jt, "swing");
	if (json_is_null(v))
		t->swing = SEQ_SWING_FOLLOW;
	else if (get_float(jt, "swing", where, 0.0f, SEQ_SWING_MAX, &t->swing, err, errlen) < 0)
		return -1;
	if ((r = get_int(jt, "swing_ref", where, LLONG_MIN, LLONG_MAX, &n, err, errlen)) < 0)
		return -1;
	if (r && n != 8 && n != 16)
		return cl_fail(err, errlen, "%s.swing_ref: %lld is not 8 or 16", where, n);
	if (r)
		t->swing_ref = (uint8_t)n;

	if (get_step_values(jt, "probability", where, t, 0, 100, t->probability, err, errlen) < 0 ||
	    get_step_values(jt, "ratchets", where, t, 1, SEQ_MAX_RATCHET, t->ratchet, err, errlen) < 0 ||
	    get_bool(jt, "mute", where, &t->mute, err, errlen) < 0 ||
	    get_bool(jt, "solo", where, &t->solo, err, errlen) < 0)
		return -1;

	v = json_object_get(jt, "voice");
	if (v) {
		int kind = json_is_string(v) ? seq_voice_from_name(json_string_value(v)) : -1;
		if (kind < 0 || kind >= SEQ_VOICE_COUNT) {
			char choices[96];
			voice_choices(choices, sizeof choices);
			if (!json_is_string(v))
				return cl_fail(err, errlen, "%s.voice: must be a string (%s), not %s",
					    where, choices, type_name(v));
			return cl_fail(err, errlen, "%s.voice: unknown voice \"%s\" (%s)", where,
				    json_string_value(v), choices);
		}
		t->voice = (uint8_t)kind;
		memset(t->voice_params, 0, sizeof t->voice_params);
		if (kind != SEQ_VOICE_NONE)
			seq_voice_defaults(kind, t->voice_params);
	}
	return 0;
}

/* Check params ({<param>: value} for voice kind) and, when out is not
 * NULL, write them into out. "where" names the entry in messages. */
static int parse_voice_params(json_t *params, int kind, const char *where, float *out,
			      char *err, size_t errlen)
{
	if (!json_is_object(params))
		return cl_fail(err, errlen, "voices.%s: must be an object {parameter: value}, "
			    "not %s", where, type_name(params));
	const char *kind_name = seq_voice_name(kind);
	int count = 0;
	const struct seq_voice_param *table = seq_voice_params(kind, &count);
	const char *param;
	json_t *v;
	json_object_foreach(params, param, v) {
		int pi = seq_voice_param_index(kind, param);
		if (pi < 0 || pi >= count || pi >= SEQ_VOICE_MAX_PARAMS) {
			char choices[256];
			return cl_fail(err, errlen, "voices.%s.%s: the %s voice has no parameter "
				    "\"%s\" (it has %s)", where, param, kind_name, param,
				    param_choices(kind, choices, sizeof choices));
		}
		const struct seq_voice_param *vp = &table[pi];
		if (!json_is_number(v))
			return cl_fail(err, errlen, "voices.%s.%s: must be a number (%g..%g), "
				    "not %s", where, param, (double)vp->min,
				    (double)vp->max, type_name(v));
		float f;
		if (!float_in_range(json_number_value(v), vp->min, vp->max, &f))
			return cl_fail(err, errlen, "voices.%s.%s: %g is outside %g..%g", where,
				    param, json_number_value(v), (double)vp->min,
				    (double)vp->max);
		if (out)
			out[pi] = f;
	}
	return 0;
}

/* "voices" onto the tracks of p. A key names a track ({<track>: {<param>:
 * value}}, what this program writes), or a voice kind ("kick", "acid":
 * DESIGN.md's form), whose settings then go to every track playing that
 * kind without an entry of its own. */
static int parse_voices(json_t *voices, struct seq_pattern *p, char *err, size_t errlen)
{
	if (!json_is_object(voices))
		return cl_fail(err, errlen, "voices: must be an object {track: {parameter: value}}, "
			    "not %s", type_name(voices));
	const char *key;
	json_t *params;
	/* voice kinds first, so a track's own entry wins */
	json_object_foreach(voices, key, params) {
		int kind = seq_voice_from_name(key);
		if (seq_pattern_find(p, key) >= 0 || kind <= SEQ_VOICE_NONE)
			continue;
		if (parse_voice_params(params, kind, key, NULL, err, errlen) != 0)
			return -1;
		for (int i = 0; i < p->track_count; i++) {
			struct seq_track *t = &p->tracks[i];
			if (t->voice == kind && !json_object_get(voices, t->name))
				parse_voice_params(params, kind, key, t->voice_params, err, errlen);
		}
	}
	json_object_foreach(voices, key, params) {
		int ti = seq_pattern_find(p, key);
		if (ti < 0) {
			if (seq_voice_from_name(key) > SEQ_VOICE_NONE)
				continue;
			return cl_fail(err, errlen, "voices.%s: no track or voice called \"%s\"", key, key);
		}
		struct seq_track *t = &p->tracks[ti];
		if (t->voice == SEQ_VOICE_NONE)
			return cl_fail(err, errlen, "voices.%s: track %s has no voice "
				    "(\"voice\": \"none\")", key, key);
		if (parse_voice_params(params, t->voice, key, t->voice_params, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* The top level of a checked document into p (zeroed, defaults set). */
static int parse_pattern(json_t *doc, struct seq_pattern *p, char *err, size_t errlen)
{
	static const char *const keys[] = {
		"schema", "name", "genre", "tags", "bpm", "swing", "seed", "tracks",
		"voices", NULL,
	};
	const char *text;
	long long n;
	int r;
	if (cl_doc_known_keys(doc, keys, "", err, errlen) != 0)
		return -1;
	json_t *v = json_object_get(doc, "name");
	if (v) {
		if (check_text(v, "name", 1, sizeof p->name, &text, err, errlen) != 0)
			return -1;
		set_text(p->name, sizeof p->name, text);
	}
	v = json_object_get(doc, "genre");
	if (v) {
		if (check_text(v, "genre", 0, sizeof p->genre, &text, err, errlen) != 0)
			return -1;
		set_text(p->genre, sizeof p->genre, text);
	}
	v = json_object_get(doc, "tags");
	if (v) {
		if (!json_is_array(v) || json_array_size(v) > SEQ_MAX_TAGS)
			return cl_fail(err, errlen, "tags: must be a list of at most %d strings",
				    SEQ_MAX_TAGS);
		for (size_t k = 0; k < json_array_size(v); k++) {
			char at[32];
			snprintf(at, sizeof at, "tags[%zu]", k);
			if (check_text(json_array_get(v, k), at, 1, sizeof p->tags[0], &text,
				       err, errlen) != 0)
				return -1;
			set_text(p->tags[k], sizeof p->tags[k], text);
		}
		p->tag_count = (int)json_array_size(v);
	}
	/* "bpm" is in DESIGN.md's example: the tempo the pattern was made at.
	 * The sequencer follows the transport, so it is checked, not kept. */
	float bpm;
	if (get_float(doc, "bpm", "", 1.0f, 999.0f, &bpm, err, errlen) < 0 ||
	    get_float(doc, "swing", "", 0.0f, SEQ_SWING_MAX, &p->swing, err, errlen) < 0)
		return -1;
	if ((r = get_int(doc, "seed", "", 0, UINT32_MAX, &n, err, errlen)) < 0)
		return -1;
	if (r)
		p->seed = (uint32_t)n;

	json_t *tracks = json_object_get(doc, "tracks");
	if (!tracks)
		return cl_fail(err, errlen, "no \"tracks\" (a list of up to %d tracks)", SEQ_MAX_TRACKS);
	if (!json_is_array(tracks))
		return cl_fail(err, errlen, "tracks: must be a list of up to %d tracks, not %s",
			    SEQ_MAX_TRACKS, type_name(tracks));
	if (json_array_size(tracks) > SEQ_MAX_TRACKS)
		return cl_fail(err, errlen, "tracks: %zu tracks, at most %d",
			    json_array_size(tracks), SEQ_MAX_TRACKS);
	for (size_t i = 0; i < json_array_size(tracks); i++) {
		struct seq_track *t = &p->tracks[i];
		if (parse_track(json_array_get(tracks, i), (int)i, t, err, errlen) != 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->tracks[j].name, t->name) == 0)
				return cl_fail(err, errlen, "tracks[%zu].name: a second track called "
					    "\"%s\" (tracks[%zu])", i, t->name, j);
		p->track_count = (int)i + 1;
	}
	v = json_object_get(doc, "voices");
	if (v && parse_voices(v, p, err, errlen) != 0)
		return -1;
	return 0;
}

int seq_pattern_from_json(json_t *doc, struct seq_pattern *out, char *err, size_t errlen)
{
	struct seq_pattern *p = malloc(sizeof *p);
	if (!p)
		return cl_fail(err, errlen, "out of memory");
	memset(p, 0, sizeof *p);
	seq_pattern_init(p);

	json_t *owned = json_incref(doc);
	int r = -1;
	if (cl_doc_check_schema(&owned, &pattern_schema, err, errlen) == 0 &&
	    parse_pattern(owned, p, err, errlen) == 0) {
		/* memcpy, not assignment: padding bytes come along too */
		memcpy(out, p, sizeof *p);
		r = 0;
	}
	json_decref(owned);
	free(p);
	return r;
}

/* Set key of obj to v (owned); clears *ok when anything failed. */
static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(obj, key, v) != 0)
		*ok = false;
}

/* Append v (owned) to arr; clears *ok when anything failed. */
static void append(json_t *arr, json_t *v, bool *ok)
{
	if (!v || json_array_append_new(arr, v) != 0)
		*ok = false;
}

/* A JSON number with the fewest digits that read back to f. */
static json_t *json_float(float f)
{
	char buf[32];
	for (int digits = 6; digits <= 9; digits++) {
		snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
		if (strtof(buf, NULL) == f)
			break;
	}
	return json_real(strtod(buf, NULL));
}

/* Are the first n of v all equal to x? */
static bool all_equal(const uint8_t *v, int n, uint8_t x)
{
	for (int i = 0; i < n; i++)
		if (v[i] != x)
			return false;
	return true;
}

/* The first n of v as a list of integers. */
static json_t *step_values(const uint8_t *v, int n, bool *ok)
{
	json_t *a = json_array();
	for (int i = 0; a && i < n; i++)
		append(a, json_integer(v[i]), ok);
	return a;
}

/* The document form of one track (its voice settings go to "voices"). */
static json_t *track_to_json(const struct seq_track *t, bool *ok)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	char buf[SEQ_MAX_STEPS + 1];
	put(o, "name", json_string(t->name), ok);
	put(o, "channel", json_integer(t->channel), ok);
	seq_pattern_string_format(t, buf, sizeof buf);
	put(o, "pattern", json_string(buf), ok);
	seq_step_length_format(t->step_num, t->step_den, buf, sizeof buf);
	put(o, "step", json_string(buf), ok);
	json_t *notes = json_array();
	for (int i = 0; notes && i < t->note_count && i < SEQ_MAX_NOTES; i++)
		append(notes, json_integer(t->notes[i]), ok);
	put(o, "notes", notes, ok);
	put(o, "velocity", json_integer(t->velocity), ok);
	put(o, "accent", json_integer(t->accent), ok);
	put(o, "gate", json_float(t->gate), ok);
	put(o, "swing", t->swing < 0 ? json_null() : json_float(t->swing), ok);
	put(o, "swing_ref", json_integer(t->swing_ref), ok);
	int len = t->length <= SEQ_MAX_STEPS ? t->length : SEQ_MAX_STEPS;
	if (!all_equal(t->probability, len, 100))
		put(o, "probability", step_values(t->probability, len, ok), ok);
	if (!all_equal(t->ratchet, len, 1))
		put(o, "ratchets", step_values(t->ratchet, len, ok), ok);
	put(o, "mute", json_boolean(t->mute), ok);
	put(o, "solo", json_boolean(t->solo), ok);
	const char *voice = seq_voice_name(t->voice);
	put(o, "voice", json_string(voice ? voice : "none"), ok);
	return o;
}

json_t *seq_pattern_to_json(const struct seq_pattern *p)
{
	bool ok = true;
	char schema[64];
	json_t *doc = json_object();
	if (!doc)
		return NULL;
	put(doc, "schema", json_string(cl_doc_schema_string(&pattern_schema, schema,
							     sizeof schema)), &ok);
	put(doc, "name", json_string(p->name), &ok);
	put(doc, "genre", json_string(p->genre), &ok);
	json_t *tags = json_array();
	for (int i = 0; tags && i < p->tag_count && i < SEQ_MAX_TAGS; i++)
		append(tags, json_string(p->tags[i]), &ok);
	put(doc, "tags", tags, &ok);
	put(doc, "swing", json_float(p->swing), &ok);
	put(doc, "seed", json_integer(p->seed), &ok);
	json_t *tracks = json_array(), *voices = json_object();
	for (int i = 0; tracks && voices && i < p->track_count && i < SEQ_MAX_TRACKS; i++) {
		const struct seq_track *t = &p->tracks[i];
		append(tracks, track_to_json(t, &ok), &ok);
		int n = 0;
		const struct seq_voice_param *table = seq_voice_params(t->voice, &n);
		if (t->voice == SEQ_VOICE_NONE || !table)
			continue;
		json_t *params = json_object();
		for (int k = 0; params && k < n && k < SEQ_VOICE_MAX_PARAMS; k++)
			put(params, table[k].name, json_float(t->voice_params[k]), &ok);
		put(voices, t->name, params, &ok);
	}
	put(doc, "tracks", tracks, &ok);
	put(doc, "voices", voices, &ok);
	if (!ok) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* Load and check the document at path into out; errors name the path
 * only when the reason does not already. */
static int load_file(const char *path, struct seq_pattern *out, char *err, size_t errlen)
{
	char why[320];
	json_t *doc = cl_doc_load_file(path, err, errlen);
	if (!doc)
		return -1;
	int r = seq_pattern_from_json(doc, out, why, sizeof why);
	json_decref(doc);
	if (r != 0)
		return cl_fail(err, errlen, "%s: %s", path, why);
	return 0;
}

int seq_pattern_load_file(const char *path, struct seq_pattern *out, char *err, size_t errlen)
{
	return load_file(path, out, err, errlen);
}

/* The document of p, after checking that it reads back: NULL and err. */
static json_t *checked_document(const struct seq_pattern *p, char *err, size_t errlen)
{
	json_t *doc = seq_pattern_to_json(p);
	if (!doc) {
		cl_fail(err, errlen, "out of memory");
		return NULL;
	}
	struct seq_pattern *check = malloc(sizeof *check);
	if (!check) {
		json_decref(doc);
		cl_fail(err, errlen, "out of memory");
		return NULL;
	}
	int r = seq_pattern_from_json(doc, check, err, errlen);
	free(check);
	if (r != 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int seq_pattern_save_file(const char *path, const struct seq_pattern *p, char *err,
			  size_t errlen)
{
	char why[320];
	json_t *doc = checked_document(p, why, sizeof why);
	if (!doc)
		return cl_fail(err, errlen, "%s: not saved: %s", path, why);
	int r = cl_doc_save(path, doc, err, errlen);
	json_decref(doc);
	return r;
}

int seq_slot_check(int slot, char *err, size_t errlen)
{
	if (slot < SEQ_SLOT_MIN || slot > SEQ_SLOT_MAX)
		return cl_fail(err, errlen, "slot %d is outside %d..%d", slot, SEQ_SLOT_MIN,
			    SEQ_SLOT_MAX);
	return 0;
}

int seq_slot_parse(const char *text, int *slot, char *err, size_t errlen)
{
	if (!text || !text[0])
		return cl_fail(err, errlen, "no slot number given (%d..%d)", SEQ_SLOT_MIN, SEQ_SLOT_MAX);
	const char *p = text + (text[0] == '-');
	if (!*p)
		return cl_fail(err, errlen, "slot \"%.40s\" is not a number", text);
	long value = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return cl_fail(err, errlen, "slot \"%.40s\" is not a number", text);
		if (value <= SEQ_SLOT_MAX)   /* stays small; any larger is out anyway */
			value = value * 10 + (*p - '0');
	}
	if (text[0] == '-' && value != 0)
		value = -value;
	if (value < SEQ_SLOT_MIN || value > SEQ_SLOT_MAX)
		return cl_fail(err, errlen, "slot %.40s is outside %d..%d", text, SEQ_SLOT_MIN,
			    SEQ_SLOT_MAX);
	*slot = (int)value;
	return 0;
}

int seq_slot_path(const char *store, int slot, char *path, size_t len,
		  char *err, size_t errlen)
{
	if (!store || !store[0])
		return cl_fail(err, errlen, "no store root: start with --store DIR");
	if (seq_slot_check(slot, err, errlen) != 0)
		return -1;
	int n = snprintf(path, len, "%s/patterns/slots/slot_%03d.json", store, slot);
	if (n < 0 || (size_t)n >= len)
		return cl_fail(err, errlen, "the store path %s is too long", store);
	return 0;
}

/* Make folder dir unless it is there (as a folder). 0, or -1 and err. */
static int make_folder(const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return cl_fail(err, errlen, "cannot create %s: %s", dir, strerror(errno));
	struct stat st;
	if (stat(dir, &st) != 0)
		return cl_fail(err, errlen, "cannot create %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cl_fail(err, errlen, "%s is not a folder", dir);
	return 0;
}

/* Hard-link the file at path into backups as slot_NNN-<UTC>.json (-1, -2
 * ... when taken), the name made into backup. 0, or -1 and err (nothing
 * left behind). */
static int link_backup(const char *path, const char *backups, int slot, char *backup,
		       size_t len, char *err, size_t errlen)
{
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (int k = 0; k < BACKUP_TRIES; k++) {
		char suffix[16] = "";
		if (k > 0)
			snprintf(suffix, sizeof suffix, "-%d", k);
		int n = snprintf(backup, len, "%s/slot_%03d-%s%s.json", backups, slot, stamp, suffix);
		if (n < 0 || (size_t)n >= len)
			return cl_fail(err, errlen, "the store path %s is too long", backups);
		if (link(path, backup) == 0)
			return 0;
		if (errno != EEXIST)
			return cl_fail(err, errlen, "cannot back up %s as %s: %s", path, backup,
				    strerror(errno));
	}
	return cl_fail(err, errlen, "cannot back up %s: %d backups made at %s already", path,
		    BACKUP_TRIES, stamp);
}

/* Saves and backup filing of every cl-seq sharing a store take turns: an
 * exclusive flock on <store>/patterns/.lock, so that filing never takes a
 * kept file another process is still writing. The descriptor to close,
 * or -1 and err. */
static int lock_patterns(const char *store, char *err, size_t errlen)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/patterns/.lock", store) >= (int)sizeof path)
		return cl_fail(err, errlen, "the store path %s is too long", store);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return cl_fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int saved = errno;
			close(fd);
			return cl_fail(err, errlen, "cannot lock %s: %s", path, strerror(saved));
		}
	}
	return fd;
}

/* Is name exactly "slot_NNN.json" with NNN in 1..128? */
static bool slot_file_name(const char *name, int *slot)
{
	if (strncmp(name, "slot_", 5) != 0 || strcmp(name + 8, ".json") != 0)
		return false;
	int n = 0;
	for (int i = 5; i < 8; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		n = n * 10 + (name[i] - '0');
	}
	if (seq_slot_check(n, NULL, 0) != 0)
		return false;
	*slot = n;
	return true;
}

int seq_slot_save(const char *store, int slot, const struct seq_pattern *p,
		  char *err, size_t errlen)
{
	char path[PATH_MAX], dir[PATH_MAX], kept[PATH_MAX + 16], why[PATH_MAX + 256];
	if (seq_slot_path(store, slot, path, sizeof path, err, errlen) != 0)
		return -1;
	json_t *doc = seq_pattern_to_json(p);
	size_t len = 0;
	char *text = doc ? cl_doc_encode(doc, &len) : NULL;
	struct seq_pattern *check = malloc(sizeof *check);
	int r = -1, lock = -1;
	if (!text || !check) {
		cl_fail(err, errlen, "slot %d: not saved: out of memory", slot);
		goto out;
	}
	static const char *const folders[] = { "patterns", "patterns/slots", "patterns/backups" };
	for (size_t i = 0; i < sizeof folders / sizeof folders[0]; i++) {
		snprintf(dir, sizeof dir, "%s/%s", store, folders[i]);
		if (make_folder(dir, why, sizeof why) != 0) {
			cl_fail(err, errlen, "slot %d: not saved: %s", slot, why);
			goto out;
		}
	}
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		cl_fail(err, errlen, "slot %d: not saved: %s is a folder", slot, path);
		goto out;
	}
	if ((lock = lock_patterns(store, why, sizeof why)) < 0) {
		cl_fail(err, errlen, "slot %d: not saved: %s", slot, why);
		goto out;
	}
	struct cl_atomic_pending *pending = cl_atomic_start_keep(path, text, len, why, sizeof why);
	if (!pending) {
		cl_fail(err, errlen, "slot %d: not saved: %s", slot, why);
		goto out;
	}
	/* The read-back check runs while the disk writes: no slot is ever
	 * written that would not load, and the check costs the save no time. */
	if (seq_pattern_from_json(doc, check, why, sizeof why) != 0) {
		cl_atomic_abandon(pending);
		cl_fail(err, errlen, "slot %d: not saved: %s", slot, why);
		goto out;
	}
	bool replaced;
	r = cl_atomic_finish_keep(pending, kept, sizeof kept, &replaced, why, sizeof why);
	if (r != 0 && replaced)
		cl_fail(err, errlen, "slot %d: saved, but the save may not survive a crash: %s",
		     slot, why);
	else if (r != 0)
		cl_fail(err, errlen, "slot %d: not saved: %s", slot, why);
out:
	if (lock >= 0)
		close(lock);
	free(check);
	free(text);
	json_decref(doc);
	return r;
}

int seq_slot_file_backups(const char *store, char *err, size_t errlen)
{
	char slots[PATH_MAX], backups[PATH_MAX], why[PATH_MAX + 256];
	if (!store)
		return cl_fail(err, errlen, "no store root");
	if (snprintf(slots, sizeof slots, "%s/patterns/slots", store) >= (int)sizeof slots ||
	    snprintf(backups, sizeof backups, "%s/patterns/backups", store) >= (int)sizeof backups)
		return cl_fail(err, errlen, "the store path %s is too long", store);
	DIR *d = opendir(slots);
	if (!d) {
		if (errno == ENOENT)
			return 0;     /* nothing was ever saved here */
		return cl_fail(err, errlen, "cannot read %s: %s", slots, strerror(errno));
	}
	int lock = -1, filed = 0, r = -1;
	char (*names)[NAME_MAX + 1] = NULL;
	size_t count = 0, room = 0;
	if (make_folder(backups, why, sizeof why) != 0) {
		cl_fail(err, errlen, "%s", why);
		goto out;
	}
	if ((lock = lock_patterns(store, why, sizeof why)) < 0) {
		cl_fail(err, errlen, "%s", why);
		goto out;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char target[NAME_MAX + 1], path[PATH_MAX + NAME_MAX + 2], backup[PATH_MAX];
		int slot;
		if (!cl_atomic_kept_target(e->d_name, target, sizeof target) ||
		    !slot_file_name(target, &slot))
			continue;
		if (count == room) {
			room = room ? 2 * room : 4;
			void *grown = realloc(names, room * sizeof *names);
			if (!grown) {
				cl_fail(err, errlen, "out of memory");
				goto out;
			}
			names = grown;
		}
		snprintf(path, sizeof path, "%s/%s", slots, e->d_name);
		if (link_backup(path, backups, slot, backup, sizeof backup, why, sizeof why) != 0) {
			cl_fail(err, errlen, "%s", why);
			goto out;
		}
		snprintf(names[count++], sizeof names[0], "%s", e->d_name);
	}
	/* The backups are durable before their kept names go; a crash before
	 * the removals are durable only files the same version twice. */
	if (count > 0 && cl_fsync_folder(backups, err, errlen) != 0)
		goto out;
	for (size_t i = 0; i < count; i++)
		if (unlinkat(dirfd(d), names[i], 0) == 0)
			filed++;
	r = filed;
out:
	if (lock >= 0)
		close(lock);
	closedir(d);
	free(names);
	return r;
}

int seq_slot_load(const char *store, int slot, struct seq_pattern *out,
		  char *err, size_t errlen)
{
	char path[PATH_MAX], why[PATH_MAX + 320];
	if (seq_slot_path(store, slot, path, sizeof path, err, errlen) != 0)
		return -1;
	struct stat st;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return cl_fail(err, errlen, "slot %d is empty", slot);
		return cl_fail(err, errlen, "slot %d: cannot open %s: %s", slot, path, strerror(errno));
	}
	if (load_file(path, out, why, sizeof why) != 0)
		return cl_fail(err, errlen, "slot %d: %s", slot, why);
	return 0;
}

int seq_slot_list(const char *store, struct seq_slot_info *out, int max)
{
	char path[PATH_MAX], why[64];
	int count = 0;
	struct seq_pattern *p = malloc(sizeof *p);
	for (int slot = SEQ_SLOT_MIN; slot <= SEQ_SLOT_MAX && count < max; slot++) {
		struct stat st;
		if (seq_slot_path(store, slot, path, sizeof path, why, sizeof why) != 0)
			break;
		if (stat(path, &st) != 0 && errno == ENOENT)
			continue;
		struct seq_slot_info *info = &out[count++];
		memset(info, 0, sizeof *info);
		info->slot = slot;
		if (p && load_file(path, p, why, sizeof why) == 0) {
			info->ok = true;
			snprintf(info->name, sizeof info->name, "%s", p->name);
			snprintf(info->genre, sizeof info->genre, "%s", p->genre);
			info->track_count = p->track_count;
		}
	}
	free(p);
	return count;
}
