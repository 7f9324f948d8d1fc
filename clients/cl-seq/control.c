/*
 * cl-seq control thread: the OSC surface, pattern slots and the state
 * document.
 *
 * The control thread's model (a struct seq_pattern) is the pattern as the
 * user last shaped it. Every accepted change edits the model and hands a
 * copy to the audio thread (SEQ_SWAP_EDIT); a loaded slot becomes the
 * model and goes over to switch at the next bar (or the next cycle).
 * Anything refused changes nothing and answers /cl/error with the reason.
 * Steps played come back as events and reach subscribers as /seq/step,
 * at most SEQ_STEP_FEEDBACK_HZ times a second per track.
 */
#include "seq.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cl_doc.h"
#include "cl_log.h"
#include "pattern.h"
#include "patterndoc.h"

static struct {
	struct seq_pattern model;
	int waiting_slot;            /* slot loaded and not yet switched in, or 0 */
	int playing_slot;            /* the slot the playing pattern came from, or 0 */
	int step_pending[SEQ_MAX_TRACKS];   /* by out index: step to show, or -1 */
	struct timespec step_sent[SEQ_MAX_TRACKS];
	int clock_flags;
	struct timespec no_bbt_since;
	bool said_no_bbt;
	double bpm, beat;
	bool panic_done;
	bool have_pending_state;     /* a state that arrived before JACK */
	uint64_t swaps;
} cs;

static void mark_dirty(struct seq_app *a)
{
	if (a->nsm)
		cl_nsm_set_dirty(a->nsm, true);
}

/* Give every track of p an out index (its voice and own ports), in order. */
static void number_tracks(struct seq_pattern *p)
{
	for (int i = 0; i < p->track_count; i++)
		p->tracks[i].out_index = (uint8_t)i;
}

/* The lowest out index no track of p uses. */
static uint8_t free_out_index(const struct seq_pattern *p)
{
	for (int o = 0; o < SEQ_MAX_TRACKS; o++) {
		bool used = false;
		for (int i = 0; i < p->track_count; i++)
			used |= p->tracks[i].out_index == o;
		if (!used)
			return (uint8_t)o;
	}
	return 0;   /* cannot happen: at most SEQ_MAX_TRACKS tracks */
}

/* Hand a copy of the model to the audio thread. 0, or -1 (queue full). */
static int send_model(struct seq_app *a, enum seq_swap_mode mode)
{
	if (!a->rate)
		return 0;   /* before JACK: control_start sends it */
	struct seq_pattern *p = malloc(sizeof(*p));
	if (!p)
		return -1;
	*p = cs.model;
	struct cl_cmd c = { .kind = SEQ_CMD_PATTERN, .index = mode, .frame = (int64_t)(intptr_t)p };
	if (!engine_send(a, &c)) {
		free(p);
		return -1;
	}
	cs.swaps++;
	return 0;
}

/* Apply an edited copy of the model: the model becomes `next` only when
 * the audio thread can take it. */
static int commit(struct cl_osc_request *req, const struct seq_pattern *next)
{
	struct seq_app *a = req->userdata;
	struct seq_pattern keep = cs.model;
	cs.model = *next;
	if (send_model(a, SEQ_SWAP_EDIT) != 0) {
		cs.model = keep;
		return cl_osc_error(req, "command queue full; try again");
	}
	mark_dirty(a);
	return 0;
}

/* ---- OSC helpers ------------------------------------------------------------ */

/* The track named in "/seq/track/<name>/...": its index, or -1 and an error. */
static int path_track(struct cl_osc_request *req, char *name, size_t len)
{
	const char *p = req->path + strlen("/seq/track/");
	size_t n = strcspn(p, "/");
	if (n == 0 || n >= len)
		return cl_osc_error(req, "no track named in %s", req->path);
	memcpy(name, p, n);
	name[n] = '\0';
	int t = seq_pattern_find(&cs.model, name);
	if (t < 0)
		return cl_osc_error(req, "no track \"%s\" (see /seq/tracks)", name);
	return t;
}

/* Broadcast "/seq/track/<name>/<what>" with one value to subscribers. */
static void track_feedback(struct seq_app *a, const char *name, const char *what, const char *types, ...)
{
	char path[96];
	snprintf(path, sizeof(path), "/seq/track/%s/%s", name, what);
	lo_message m = lo_message_new();
	va_list ap;
	va_start(ap, types);
	for (const char *t = types; *t; t++) {
		switch (*t) {
		case 'i': lo_message_add_int32(m, va_arg(ap, int)); break;
		case 'f': lo_message_add_float(m, (float)va_arg(ap, double)); break;
		case 's': lo_message_add_string(m, va_arg(ap, const char *)); break;
		}
	}
	va_end(ap);
	cl_osc_broadcast_msg(a->osc, path, m);
	lo_message_free(m);
}

/* ---- tracks ---------------------------------------------------------------------- */

static int on_tracks(struct cl_osc_request *req)
{
	lo_message m = lo_message_new();
	for (int i = 0; i < cs.model.track_count; i++)
		lo_message_add_string(m, cs.model.tracks[i].name);
	int r = cl_osc_reply_msg(req, "/seq/tracks", m);
	lo_message_free(m);
	return r;
}

static int on_track_add(struct cl_osc_request *req)
{
	struct seq_app *a = req->userdata;
	const char *name = req->argv[0].s;
	char err[128];
	if (seq_track_name_check(name, err, sizeof(err)) != 0)
		return cl_osc_error(req, "%s", err);
	if (seq_pattern_find(&cs.model, name) >= 0)
		return cl_osc_error(req, "a track \"%s\" exists already", name);
	if (cs.model.track_count >= SEQ_MAX_TRACKS)
		return cl_osc_error(req, "all %d tracks are in use", SEQ_MAX_TRACKS);
	struct seq_pattern next = cs.model;
	struct seq_track *t = &next.tracks[next.track_count];
	seq_track_init(t, name);
	t->out_index = free_out_index(&next);
	next.track_count++;
	if (commit(req, &next))
		return -1;
	cl_osc_broadcast(a->osc, "/seq/track/add", "s", name);
	return cl_osc_reply(req, "/cl/ok", "s", "/seq/track/add");
}

static int on_track_remove(struct cl_osc_request *req)
{
	struct seq_app *a = req->userdata;
	const char *name = req->argv[0].s;
	int t = seq_pattern_find(&cs.model, name);
	if (t < 0)
		return cl_osc_error(req, "no track \"%s\"", name);
	struct seq_pattern next = cs.model;
	memmove(&next.tracks[t], &next.tracks[t + 1],
		(size_t)(next.track_count - t - 1) * sizeof(next.tracks[0]));
	next.track_count--;
	if (commit(req, &next))
		return -1;
	cl_osc_broadcast(a->osc, "/seq/track/remove", "s", name);
	return 0;
}

/* What a /seq/track/<name>/<field> message sets. */
enum field {
	F_PATTERN, F_NOTES, F_VELOCITY, F_ACCENT, F_GATE, F_SWING, F_SWINGREF, F_CHANNEL,
	F_MUTE, F_SOLO, F_STEP, F_VOICE, F_PROBABILITY, F_RATCHET,
};

/* Answer a field's current value (a query without arguments). */
static int answer(struct cl_osc_request *req, const struct seq_track *t, enum field f)
{
	char buf[SEQ_MAX_STEPS + 1];
	switch (f) {
	case F_PATTERN:
		seq_pattern_string_format(t, buf, sizeof(buf));
		return cl_osc_reply(req, req->path, "s", buf);
	case F_NOTES: {
		lo_message m = lo_message_new();
		for (int i = 0; i < t->note_count; i++)
			lo_message_add_int32(m, t->notes[i]);
		int r = cl_osc_reply_msg(req, req->path, m);
		lo_message_free(m);
		return r;
	}
	case F_VELOCITY: return cl_osc_reply(req, req->path, "i", t->velocity);
	case F_ACCENT: return cl_osc_reply(req, req->path, "i", t->accent);
	case F_GATE: return cl_osc_reply(req, req->path, "f", t->gate);
	case F_SWING: return cl_osc_reply(req, req->path, "f", t->swing);
	case F_SWINGREF: return cl_osc_reply(req, req->path, "i", t->swing_ref);
	case F_CHANNEL: return cl_osc_reply(req, req->path, "i", t->channel);
	case F_MUTE: return cl_osc_reply(req, req->path, "i", t->mute);
	case F_SOLO: return cl_osc_reply(req, req->path, "i", t->solo);
	case F_STEP:
		seq_step_length_format(t->step_num, t->step_den, buf, sizeof(buf));
		return cl_osc_reply(req, req->path, "s", buf);
	case F_VOICE: return cl_osc_reply(req, req->path, "s", seq_voice_name(t->voice));
	case F_PROBABILITY:
	case F_RATCHET: {
		lo_message m = lo_message_new();
		for (int i = 0; i < t->length; i++)
			lo_message_add_int32(m, f == F_RATCHET ? t->ratchet[i] : t->probability[i]);
		int r = cl_osc_reply_msg(req, req->path, m);
		lo_message_free(m);
		return r;
	}
	}
	return cl_osc_error(req, "nothing to answer");
}

/* An integer argument of a raw ('*') message: 0, or -1. */
static int raw_int(struct cl_osc_request *req, int i, int64_t *v)
{
	char *types = lo_message_get_types(req->msg);
	lo_arg **argv = lo_message_get_argv(req->msg);
	struct cl_osc_value val;
	const char *why;
	if (cl_osc_coerce('i', types[i], argv[i], &val, &why) != 0)
		return -1;
	*v = val.i;
	return 0;
}

static int on_track_field(struct cl_osc_request *req, enum field f)
{
	struct seq_app *a = req->userdata;
	char name[SEQ_NAME_MAX], err[160], text[SEQ_MAX_STEPS + 1];
	int ti = path_track(req, name, sizeof(name));
	if (ti < 0)
		return -1;
	int argc = lo_message_get_argc(req->msg);
	if (argc == 0)
		return answer(req, &cs.model.tracks[ti], f);
	struct seq_pattern next = cs.model;
	struct seq_track *t = &next.tracks[ti];
	const char *what = strrchr(req->path, '/') + 1;
	int64_t v = 0;
	double x = 0;
	bool is_int = f == F_VELOCITY || f == F_ACCENT || f == F_SWINGREF || f == F_CHANNEL;
	bool is_num = f == F_GATE || f == F_SWING;
	bool is_bool = f == F_MUTE || f == F_SOLO;
	bool is_str = f == F_PATTERN || f == F_STEP || f == F_VOICE;
	char *types = lo_message_get_types(req->msg);
	lo_arg **argv = lo_message_get_argv(req->msg);
	struct cl_osc_value val;
	const char *why;
	if ((is_int || is_num || is_bool || is_str) && argc != 1)
		return cl_osc_error(req, "expected one argument");
	if (is_int && cl_osc_coerce('i', types[0], argv[0], &val, &why) != 0)
		return cl_osc_error(req, "argument 1: %s", why);
	if (is_num && cl_osc_coerce('n', types[0], argv[0], &val, &why) != 0)
		return cl_osc_error(req, "argument 1: %s", why);
	if (is_bool && cl_osc_coerce('b', types[0], argv[0], &val, &why) != 0)
		return cl_osc_error(req, "argument 1: %s", why);
	if (is_str && types[0] != 's' && types[0] != 'S')
		return cl_osc_error(req, "argument 1: expected a string");
	v = val.i;
	x = val.n;

	switch (f) {
	case F_PATTERN:
		if (seq_pattern_string_parse((const char *)argv[0], t, err, sizeof(err)) != 0)
			return cl_osc_error(req, "%s", err);
		if (commit(req, &next))
			return -1;
		seq_pattern_string_format(t, text, sizeof(text));
		track_feedback(a, name, what, "s", text);
		return 0;
	case F_NOTES: {
		if (argc < 1 || argc > SEQ_MAX_NOTES)
			return cl_osc_error(req, "expected 1 to %d notes (0..127)", SEQ_MAX_NOTES);
		for (int i = 0; i < argc; i++) {
			if (raw_int(req, i, &v) != 0 || v < 0 || v > 127)
				return cl_osc_error(req, "note %d: expected a whole number 0..127", i + 1);
			t->notes[i] = (uint8_t)v;
		}
		t->note_count = (uint8_t)argc;
		if (commit(req, &next))
			return -1;
		lo_message m = lo_message_new();
		for (int i = 0; i < argc; i++)
			lo_message_add_int32(m, t->notes[i]);
		char path[96];
		snprintf(path, sizeof(path), "/seq/track/%s/notes", name);
		cl_osc_broadcast_msg(a->osc, path, m);
		lo_message_free(m);
		return 0;
	}
	case F_VELOCITY:
		if (v < 1 || v > 127)
			return cl_osc_error(req, "velocity out of range (1..127)");
		t->velocity = (uint8_t)v;
		break;
	case F_ACCENT:
		if (v < 0 || v > 127)
			return cl_osc_error(req, "accent out of range (0..127)");
		t->accent = (uint8_t)v;
		break;
	case F_GATE:
		if (x < 0.01 || x > 2.0)
			return cl_osc_error(req, "gate out of range (0.01..2 steps)");
		t->gate = (float)x;
		break;
	case F_SWING:
		if (x < 0 && x != SEQ_SWING_FOLLOW)
			return cl_osc_error(req, "swing out of range (0..0.75, or -1 to follow /seq/swing)");
		if (x > SEQ_SWING_MAX)
			return cl_osc_error(req, "swing out of range (0..0.75, or -1 to follow /seq/swing)");
		t->swing = (float)x;
		break;
	case F_SWINGREF:
		if (v != 8 && v != 16)
			return cl_osc_error(req, "swingref is 8 or 16");
		t->swing_ref = (uint8_t)v;
		break;
	case F_CHANNEL:
		if (v < 1 || v > 16)
			return cl_osc_error(req, "channel out of range (1..16)");
		t->channel = (uint8_t)v;
		break;
	case F_MUTE:
		t->mute = val.b;
		break;
	case F_SOLO:
		t->solo = val.b;
		break;
	case F_STEP:
		if (seq_step_length_parse((const char *)argv[0], &t->step_num, &t->step_den, err,
					  sizeof(err)) != 0)
			return cl_osc_error(req, "%s", err);
		if (commit(req, &next))
			return -1;
		seq_step_length_format(t->step_num, t->step_den, text, sizeof(text));
		track_feedback(a, name, what, "s", text);
		return 0;
	case F_VOICE: {
		int kind = seq_voice_from_name((const char *)argv[0]);
		if (kind < 0)
			return cl_osc_error(req, "no voice \"%s\" (kick, snare, hat, clap, acid, none)",
					    (const char *)argv[0]);
		if (kind != t->voice) {
			t->voice = (uint8_t)kind;
			seq_voice_defaults(kind, t->voice_params);
		}
		if (commit(req, &next))
			return -1;
		track_feedback(a, name, what, "s", seq_voice_name(kind));
		return 0;
	}
	case F_PROBABILITY:
	case F_RATCHET: {
		int64_t step;
		if (argc != 2 || raw_int(req, 0, &step) != 0)
			return cl_osc_error(req, "expected <step 1..%d> <%s>", t->length,
					    f == F_RATCHET ? "count 1..8" : "percent 0..100");
		if (step < 1 || step > t->length)
			return cl_osc_error(req, "step %lld is outside 1..%d", (long long)step, t->length);
		if (raw_int(req, 1, &v) != 0)
			return cl_osc_error(req, "argument 2: expected a whole number");
		if (f == F_RATCHET && (v < 1 || v > SEQ_MAX_RATCHET))
			return cl_osc_error(req, "ratchet out of range (1..%d)", SEQ_MAX_RATCHET);
		if (f == F_PROBABILITY && (v < 0 || v > 100))
			return cl_osc_error(req, "probability out of range (0..100 %%)");
		if (f == F_RATCHET)
			t->ratchet[step - 1] = (uint8_t)v;
		else
			t->probability[step - 1] = (uint8_t)v;
		if (commit(req, &next))
			return -1;
		track_feedback(a, name, what, "ii", (int)step, (int)v);
		return 0;
	}
	}
	if (commit(req, &next))
		return -1;
	if (is_num)
		track_feedback(a, name, what, "f", x);
	else if (is_bool)
		track_feedback(a, name, what, "i", (int)val.b);
	else
		track_feedback(a, name, what, "i", (int)v);
	return 0;
}

#define FIELD_HANDLER(fn, f) \
	static int fn(struct cl_osc_request *req) { return on_track_field(req, f); }
FIELD_HANDLER(on_pattern, F_PATTERN)
FIELD_HANDLER(on_notes, F_NOTES)
FIELD_HANDLER(on_velocity, F_VELOCITY)
FIELD_HANDLER(on_accent, F_ACCENT)
FIELD_HANDLER(on_gate, F_GATE)
FIELD_HANDLER(on_swing, F_SWING)
FIELD_HANDLER(on_swingref, F_SWINGREF)
FIELD_HANDLER(on_channel, F_CHANNEL)
FIELD_HANDLER(on_mute, F_MUTE)
FIELD_HANDLER(on_solo, F_SOLO)
FIELD_HANDLER(on_step, F_STEP)
FIELD_HANDLER(on_voice, F_VOICE)
FIELD_HANDLER(on_probability, F_PROBABILITY)
FIELD_HANDLER(on_ratchet, F_RATCHET)

static int on_voice_param(struct cl_osc_request *req)
{
	struct seq_app *a = req->userdata;
	char name[SEQ_NAME_MAX];
	int ti = path_track(req, name, sizeof(name));
	if (ti < 0)
		return -1;
	const struct seq_track *cur = &cs.model.tracks[ti];
	const char *param = strrchr(req->path, '/') + 1;
	int n, pi = seq_voice_param_index(cur->voice, param);
	const struct seq_voice_param *table = seq_voice_params(cur->voice, &n);
	if (pi < 0)
		return cl_osc_error(req, "the %s voice of %s has no parameter %s", seq_voice_name(cur->voice),
				    name, param);
	if (req->argc == 0)
		return cl_osc_reply(req, req->path, "f", cur->voice_params[pi]);
	double x = req->argv[0].n;
	if (x < table[pi].min || x > table[pi].max)
		return cl_osc_error(req, "%s out of range (%g .. %g %s)", param, table[pi].min, table[pi].max,
				    table[pi].unit);
	struct seq_pattern next = cs.model;
	next.tracks[ti].voice_params[pi] = (float)x;
	if (commit(req, &next))
		return -1;
	char what[64];
	snprintf(what, sizeof(what), "voice/%s", param);
	track_feedback(a, name, what, "f", x);
	return 0;
}

/* ---- the whole pattern ---------------------------------------------------------- */

static int on_global_swing(struct cl_osc_request *req)
{
	struct seq_app *a = req->userdata;
	if (req->argc == 0)
		return cl_osc_reply(req, req->path, "f", cs.model.swing);
	double x = req->argv[0].n;
	if (x < 0 || x > SEQ_SWING_MAX)
		return cl_osc_error(req, "swing out of range (0..0.75 of the reference note)");
	struct seq_pattern next = cs.model;
	next.swing = (float)x;
	if (commit(req, &next))
		return -1;
	cl_osc_broadcast(a->osc, "/seq/swing", "f", x);
	return 0;
}

static int on_seed(struct cl_osc_request *req)
{
	if (req->argc == 0)
		return cl_osc_reply(req, req->path, "i", (int)cs.model.seed);
	int64_t v = req->argv[0].i;
	if (v < 0 || v > UINT32_MAX)
		return cl_osc_error(req, "seed out of range (0..4294967295)");
	struct seq_pattern next = cs.model;
	next.seed = (uint32_t)v;
	return commit(req, &next);
}

static int on_bpm(struct cl_osc_request *req)
{
	struct seq_app *a = req->userdata;
	if (req->argc == 0)
		return cl_osc_reply(req, req->path, "f", a->bpm);
	double x = req->argv[0].n;
	if (x < 10 || x > 400)
		return cl_osc_error(req, "tempo out of range (10..400 BPM)");
	struct cl_cmd c = { .kind = SEQ_CMD_BPM, .a = x };
	if (a->rate && !engine_send(a, &c))
		return cl_osc_error(req, "command queue full; try again");
	a->bpm = x;
	a->eng.bpm = a->rate ? a->eng.bpm : x;
	cl_osc_broadcast(a->osc, "/seq/bpm", "f", x);
	mark_dirty(a);
	return 0;
}

static int on_meta(struct cl_osc_request *req)
{
	bool genre = strcmp(req->path, "/seq/pattern/genre") == 0;
	char *field = genre ? cs.model.genre : cs.model.name;
	size_t size = genre ? sizeof(cs.model.genre) : sizeof(cs.model.name);
	if (req->argc == 0)
		return cl_osc_reply(req, req->path, "s", field);
	if (strlen(req->argv[0].s) >= size)
		return cl_osc_error(req, "at most %zu bytes", size - 1);
	struct seq_pattern next = cs.model;
	snprintf(genre ? next.genre : next.name, size, "%s", req->argv[0].s);
	return commit(req, &next);
}

static int on_pattern_json(struct cl_osc_request *req)
{
	json_t *doc = seq_pattern_to_json(&cs.model);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	int r = text ? cl_osc_reply(req, "/seq/pattern", "s", text) : cl_osc_error(req, "out of memory");
	free(text);
	return r;
}

static int on_panic(struct cl_osc_request *req)
{
	struct seq_app *a = req->userdata;
	struct cl_cmd c = { .kind = SEQ_CMD_PANIC };
	if (a->rate && !engine_send(a, &c))
		return cl_osc_error(req, "command queue full; try again");
	return cl_osc_reply(req, "/cl/ok", "s", "/seq/panic");
}

/* ---- slots ------------------------------------------------------------------------ */

/* The slot number of argument i of a raw message: 0, or -1 after an error. */
static int arg_slot(struct cl_osc_request *req, int i, int *slot)
{
	int argc = lo_message_get_argc(req->msg);
	char *types = lo_message_get_types(req->msg);
	lo_arg **argv = lo_message_get_argv(req->msg);
	char err[128];
	if (argc <= i)
		return cl_osc_error(req, "expected a slot number (%d..%d)", SEQ_SLOT_MIN, SEQ_SLOT_MAX);
	if (types[i] == 's' || types[i] == 'S') {
		if (seq_slot_parse((const char *)argv[i], slot, err, sizeof(err)) != 0)
			return cl_osc_error(req, "%s", err);
		return 0;
	}
	struct cl_osc_value v;
	const char *why;
	if (cl_osc_coerce('i', types[i], argv[i], &v, &why) != 0)
		return cl_osc_error(req, "slot: %s", why);
	if (v.i < SEQ_SLOT_MIN || v.i > SEQ_SLOT_MAX)
		return cl_osc_error(req, "slot %lld is outside %d..%d", (long long)v.i, SEQ_SLOT_MIN,
				    SEQ_SLOT_MAX);
	*slot = (int)v.i;
	return 0;
}

void control_file_backups(struct seq_app *a)
{
	char err[PATH_MAX + 320];
	if (!a->opt.store)
		return;
	int n = seq_slot_file_backups(a->opt.store, err, sizeof(err));
	if (n < 0)
		cl_warn("previous pattern versions stay in patterns/slots/ for now: %s", err);
	else if (n > 0)
		cl_debug("%d previous pattern version%s moved to patterns/backups/", n, n == 1 ? "" : "s");
}

static int on_slot_save(struct cl_osc_request *req)
{
	struct seq_app *a = req->userdata;
	int slot;
	char err[512];
	if (lo_message_get_argc(req->msg) > 1)
		return cl_osc_error(req, "expected <slot>");
	if (arg_slot(req, 0, &slot))
		return -1;
	if (!a->opt.store)
		return cl_osc_error(req, "no store root: start with --store DIR (or under NSM)");
	if (seq_slot_save(a->opt.store, slot, &cs.model, err, sizeof(err)) != 0) {
		control_file_backups(a);   /* a save that failed late may have kept one */
		return cl_osc_error(req, "%s", err);
	}
	cl_info("pattern saved in slot %d", slot);
	/* The save is durable, the previous version too (kept beside the
	 * slot): answer first, then move that version into backups/. */
	int r = cl_osc_reply(req, "/seq/pattern/save", "i", slot);
	control_file_backups(a);
	return r;
}

static int on_slot_load(struct cl_osc_request *req)
{
	struct seq_app *a = req->userdata;
	int slot, argc = lo_message_get_argc(req->msg);
	char err[512];
	bool immediate = false;
	if (argc < 1 || argc > 2)
		return cl_osc_error(req, "expected <slot> [immediate]");
	if (arg_slot(req, 0, &slot))
		return -1;
	if (argc == 2) {
		char *types = lo_message_get_types(req->msg);
		lo_arg **argv = lo_message_get_argv(req->msg);
		struct cl_osc_value v;
		const char *why;
		if ((types[1] == 's' || types[1] == 'S') && strcmp((const char *)argv[1], "immediate") == 0)
			immediate = true;
		else if (cl_osc_coerce('b', types[1], argv[1], &v, &why) == 0)
			immediate = v.b;
		else
			return cl_osc_error(req, "argument 2: \"immediate\" or 0/1");
	}
	if (!a->opt.store)
		return cl_osc_error(req, "no store root: start with --store DIR (or under NSM)");
	static struct seq_pattern loaded;   /* 20 KB: not on the stack */
	if (seq_slot_load(a->opt.store, slot, &loaded, err, sizeof(err)) != 0)
		return cl_osc_error(req, "%s", err);
	number_tracks(&loaded);
	struct seq_pattern keep = cs.model;
	cs.model = loaded;
	if (send_model(a, immediate ? SEQ_SWAP_NEXT_CYCLE : SEQ_SWAP_AT_BAR) != 0) {
		cs.model = keep;
		return cl_osc_error(req, "command queue full; try again");
	}
	if (a->rate)
		cs.waiting_slot = slot;
	else
		cs.playing_slot = slot;
	mark_dirty(a);
	cl_info("slot %d loaded: it plays from the %s", slot, immediate ? "next cycle" : "next bar");
	return cl_osc_reply(req, "/seq/pattern/load", "i", slot);
}

static int on_slot_list(struct cl_osc_request *req)
{
	struct seq_app *a = req->userdata;
	if (!a->opt.store)
		return cl_osc_error(req, "no store root: start with --store DIR (or under NSM)");
	static struct seq_slot_info info[SEQ_SLOT_MAX];
	int n = seq_slot_list(a->opt.store, info, SEQ_SLOT_MAX);
	lo_message m = lo_message_new();
	for (int i = 0; i < n; i++) {
		lo_message_add_int32(m, info[i].slot);
		lo_message_add_string(m, info[i].ok ? info[i].name : "(unreadable)");
	}
	int r = cl_osc_reply_msg(req, "/seq/pattern/list", m);
	lo_message_free(m);
	return r;
}

/* ---- state ------------------------------------------------------------------------ */

json_t *control_state_get(void *userdata)
{
	struct seq_app *a = userdata;
	json_t *pattern = seq_pattern_to_json(&cs.model);
	return json_pack("{s:s, s:f, s:o}", "schema", SEQ_SCHEMA_KIND "/1", "bpm", a->bpm,
			 "pattern", pattern ? pattern : json_null());
}

static const struct cl_schema state_schema = { .kind = SEQ_SCHEMA_KIND, .version = 1, .oldest = 1 };

int control_state_set(void *userdata, json_t *doc, char *err, size_t errlen)
{
	static const char *const keys[] = { "schema", "bpm", "pattern", NULL };
	struct seq_app *a = userdata;
	json_t *owned = json_incref(doc);
	int r = -1;
	static struct seq_pattern p;
	if (cl_doc_check_schema(&owned, &state_schema, err, errlen) != 0 ||
	    cl_doc_known_keys(owned, keys, "", err, errlen) != 0)
		goto out;
	json_t *bpm = json_object_get(owned, "bpm");
	if (bpm && (!json_is_number(bpm) || json_number_value(bpm) < 10 || json_number_value(bpm) > 400)) {
		cl_fail(err, errlen, "\"bpm\" must be a number 10..400");
		goto out;
	}
	json_t *pat = json_object_get(owned, "pattern");
	if (!pat) {
		cl_fail(err, errlen, "no \"pattern\" in the document");
		goto out;
	}
	char inner[400];
	if (seq_pattern_from_json(pat, &p, inner, sizeof(inner)) != 0) {
		cl_fail(err, errlen, "pattern: %s", inner);
		goto out;
	}
	number_tracks(&p);
	struct seq_pattern keep = cs.model;
	cs.model = p;
	if (send_model(a, SEQ_SWAP_AT_BAR) != 0) {
		cs.model = keep;
		cl_fail(err, errlen, "command queue full; try again");
		goto out;
	}
	if (bpm) {
		a->bpm = json_number_value(bpm);
		struct cl_cmd c = { .kind = SEQ_CMD_BPM, .a = a->bpm };
		if (a->rate)
			engine_send(a, &c);
		else
			a->eng.bpm = a->bpm;
	}
	r = 0;
out:
	json_decref(owned);
	return r;
}

/* ---- events and lifecycle ------------------------------------------------------------ */

static double since(const struct timespec *t, const struct timespec *now)
{
	return (double)(now->tv_sec - t->tv_sec) + (now->tv_nsec - t->tv_nsec) / 1e9;
}

static void on_event(struct seq_app *a, const struct cl_cmd *ev)
{
	switch (ev->kind) {
	case SEQ_EV_OLD_PATTERN:
		free((struct seq_pattern *)(intptr_t)ev->frame);
		break;
	case SEQ_EV_SWITCHED:
		if (cs.waiting_slot) {
			cs.playing_slot = cs.waiting_slot;
			cs.waiting_slot = 0;
			cl_osc_broadcast(a->osc, "/seq/pattern/playing", "i", cs.playing_slot);
		}
		break;
	case SEQ_EV_STEP:
		if (ev->index < SEQ_MAX_TRACKS)
			cs.step_pending[ev->index] = (int)ev->a;
		break;
	case SEQ_EV_CLOCK: {
		int was = cs.clock_flags;
		cs.clock_flags = (int)ev->index;
		cs.bpm = ev->a;
		cs.beat = ev->b;
		if ((cs.clock_flags & SEQ_CLOCK_NO_BBT) && !(was & SEQ_CLOCK_NO_BBT))
			clock_gettime(CLOCK_MONOTONIC, &cs.no_bbt_since);
		break;
	}
	case SEQ_EV_PANIC_DONE:
		cs.panic_done = true;
		break;
	}
}

/* /seq/step <track> <step 1..n> to subscribers, rate-capped per track. */
static void step_feedback(struct seq_app *a)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (int i = 0; i < cs.model.track_count; i++) {
		const struct seq_track *t = &cs.model.tracks[i];
		int o = t->out_index;
		if (cs.step_pending[o] < 0 || since(&cs.step_sent[o], &now) < 1.0 / SEQ_STEP_FEEDBACK_HZ)
			continue;
		if (cl_osc_subscriber_count(a->osc) > 0)
			cl_osc_broadcast(a->osc, "/seq/step", "si", t->name, cs.step_pending[o] + 1);
		cs.step_pending[o] = -1;
		cs.step_sent[o] = now;
	}
}

/* Say when no master gives BBT, once it has lasted half a second (a
 * master starting or relocating drops BBT for a cycle or two), and when
 * one comes back. */
static void clock_notice(struct seq_app *a)
{
	bool none = (cs.clock_flags & SEQ_CLOCK_NO_BBT) != 0;
	if (none && !cs.said_no_bbt) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (since(&cs.no_bbt_since, &now) >= 0.5) {
			cl_warn("no timebase master gives BBT: playing at our own %.2f BPM (--bpm)", a->bpm);
			cs.said_no_bbt = true;
		}
	} else if (!none && cs.said_no_bbt) {
		cl_info("a timebase master gives BBT: following it");
		cs.said_no_bbt = false;
	}
}

void control_events(struct seq_app *a)
{
	struct cl_cmd ev;
	while (cl_cmdq_pop(&a->from_rt, &ev))
		on_event(a, &ev);
	clock_notice(a);
	step_feedback(a);
	engine_alsa_flush(a);
}

void control_all_notes_off(struct seq_app *a, int timeout_ms)
{
	if (!a->rate || !cl_jack_is_up(&a->jack))
		return;
	cs.panic_done = false;
	struct cl_cmd c = { .kind = SEQ_CMD_PANIC, .index = 1 };
	if (!engine_send(a, &c))
		return;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		struct cl_cmd ev;
		while (cl_cmdq_pop(&a->from_rt, &ev))
			on_event(a, &ev);
		if (cs.panic_done)
			break;
		struct timespec nap = { 0, 1000000 };
		nanosleep(&nap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (since(&start, &now) * 1000 < timeout_ms);
	/* a cycle more, so the note-offs written in that cycle leave the port */
	struct timespec nap = { 0, 2 * (long)(1e9 * a->jack.buffer_size / (a->rate ? a->rate : 48000)) };
	nanosleep(&nap, NULL);
	engine_alsa_flush(a);
}

int control_init(struct seq_app *a)
{
	seq_pattern_init(&cs.model);
	for (int i = 0; i < SEQ_MAX_TRACKS; i++)
		cs.step_pending[i] = -1;
	return 0;
}

int control_start(struct seq_app *a, char *err, size_t errlen)
{
	if (a->eng.pattern)
		return 0;   /* a reconnect: the engine kept its pattern */
	if (send_model(a, SEQ_SWAP_EDIT) != 0)
		return cl_fail(err, errlen, "cannot start the sequencer");
	return 0;
}

void control_done(struct seq_app *a)
{
	struct cl_cmd ev;
	while (a->from_rt.rb && cl_cmdq_pop(&a->from_rt, &ev))
		if (ev.kind == SEQ_EV_OLD_PATTERN)
			free((struct seq_pattern *)(intptr_t)ev.frame);
	while (a->to_rt.rb && cl_cmdq_pop(&a->to_rt, &ev))
		if (ev.kind == SEQ_CMD_PATTERN)
			free((struct seq_pattern *)(intptr_t)ev.frame);
	free(a->eng.waiting);
	free(a->eng.pattern);
	a->eng.waiting = a->eng.pattern = NULL;
}

static json_t *on_status(void *userdata)
{
	struct seq_app *a = userdata;
	double median, p99;
	cl_cycle_summary(&a->eng.stats, &median, &p99);
	json_t *tracks = json_array();
	for (int i = 0; i < cs.model.track_count; i++)
		json_array_append_new(tracks, json_string(cs.model.tracks[i].name));
	return json_pack("{s:s, s:s, s:{s:b, s:s?, s:i}, s:{s:b, s:s, s:f, s:f},"
			 " s:{s:o, s:i, s:i}, s:{s:I, s:f, s:f, s:f, s:i}}",
		"program", SEQ_PROG, "version", CL_VERSION,
		"jack", "connected", cl_jack_is_up(&a->jack), "client", a->session.jack_name, "rate", (int)a->rate,
		"transport", "rolling", (cs.clock_flags & SEQ_CLOCK_ROLLING) != 0,
		"clock", (cs.clock_flags & SEQ_CLOCK_NO_BBT) ? "own" : "bbt", "bpm", cs.bpm, "beat", cs.beat,
		"pattern", "tracks", tracks, "playing_slot", cs.playing_slot, "waiting_slot", cs.waiting_slot,
		"dsp", "cycles", (json_int_t)a->eng.stats.cycles, "cycle_us_median", median,
		"cycle_us_p99", p99, "cycle_us_max", a->eng.stats.max_us,
		"midi_overruns", (int)a->eng.midi_overruns);
}

static void on_quit(void *userdata)
{
	struct seq_app *a = userdata;
	a->quit = true;
}

const struct cl_osc_hooks control_hooks_template = {
	.status = on_status,
	.state_get = control_state_get,
	.state_set = control_state_set,
	.quit = on_quit,
};

const struct cl_osc_method control_methods[] = {
	{ "/seq/tracks", "", on_tracks, "answer /seq/tracks <name>...: the tracks in order" },
	{ "/seq/track/add", "s", on_track_add, "<name>: add a track (1/16 steps, 16 rests, channel 1)" },
	{ "/seq/track/remove", "s", on_track_remove, "<name>: remove a track (its notes end)" },
	{ "/seq/track/*/pattern", "*", on_pattern,
	  "[<steps>]: X accent, x hit, . rest; 1..64 steps (' ' and '|' are ignored)" },
	{ "/seq/track/*/notes", "*", on_notes, "[<note>...]: 1..16 MIDI notes, cycled on each hit" },
	{ "/seq/track/*/velocity", "*", on_velocity, "[<1..127>]: velocity of a hit" },
	{ "/seq/track/*/accent", "*", on_accent, "[<0..127>]: added to the velocity on X" },
	{ "/seq/track/*/gate", "*", on_gate, "[<0.01..2>]: note length as a fraction of a step" },
	{ "/seq/track/*/swing", "*", on_swing,
	  "[<0..0.75>]: the off-beat steps later by this much of the reference note; -1 follows /seq/swing" },
	{ "/seq/track/*/swingref", "*", on_swingref, "[8|16]: the note whose off-beats swing" },
	{ "/seq/track/*/channel", "*", on_channel, "[<1..16>]: MIDI channel (its sounding notes end)" },
	{ "/seq/track/*/mute", "*", on_mute, "[0|1]: mute (its sounding notes end)" },
	{ "/seq/track/*/solo", "*", on_solo, "[0|1]: solo: only soloed tracks sound" },
	{ "/seq/track/*/step", "*", on_step, "[1/4|1/8|1/16|1/32|1/64, t for triplets]: step length" },
	{ "/seq/track/*/probability", "*", on_probability, "[<step> <0..100>]: chance a step plays (%)" },
	{ "/seq/track/*/ratchet", "*", on_ratchet, "[<step> <1..8>]: notes played within the step" },
	{ "/seq/track/*/voice", "*", on_voice, "[kick|snare|hat|clap|acid|none]: the built-in voice it plays" },
	{ "/seq/track/*/voice/*", "|n", on_voice_param, "[<value>]: a parameter of the track's voice" },
	{ "/seq/swing", "|n", on_global_swing, "[<0..0.75>]: swing of tracks that follow it" },
	{ "/seq/seed", "|i", on_seed, "[<n>]: the seed of step probability (same seed, same steps)" },
	{ "/seq/bpm", "|n", on_bpm, "[<10..400>]: tempo when no timebase master gives BBT" },
	{ "/seq/pattern", "", on_pattern_json, "answer /seq/pattern <json>: the pattern document" },
	{ "/seq/pattern/name", "|s", on_meta, "[<text>]: the pattern's name" },
	{ "/seq/pattern/genre", "|s", on_meta, "[<text>]: the pattern's genre" },
	{ "/seq/pattern/save", "*", on_slot_save,
	  "<1..128>: save as <store>/patterns/slots/slot_NNN.json (the old one to patterns/backups/)" },
	{ "/seq/pattern/load", "*", on_slot_load,
	  "<1..128> [immediate]: play that slot from the next bar (or the next cycle)" },
	{ "/seq/pattern/list", "", on_slot_list, "answer /seq/pattern/list <slot> <name>...: filled slots" },
	{ "/seq/panic", "", on_panic, "end every sounding note now" },
};
const size_t control_method_count = sizeof(control_methods) / sizeof(control_methods[0]);
