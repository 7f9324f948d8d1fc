/*
 * The control surface of cl-fx: OSC methods, chain editing, automation
 * recording, chain documents and the state document.
 *
 * The control thread keeps its own copy of the chain's shape and of every
 * parameter value (ctl[], in chain order) and never touches a slot the audio
 * thread may be running, except to build a new chain around it. Edits that
 * change the chain's shape fade first: a removed or moved slot is bypassed
 * (a 20 ms crossfade), and only after the fade does the new chain go over;
 * an added slot goes over bypassed and then fades in. Removed slots are
 * freed once the audio thread has let go of the last chain that held them.
 */
#include "fx.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cl_doc.h"
#include "cl_learn.h"
#include "cl_log.h"

#define FADE_WAIT_NS 30000000L   /* a bypass fade (20 ms) and a cycle or two */
#define MAX_PENDING 32

struct fx_ctl {
	uint32_t id;
	float value[FX_MAX_PARAMS];
	bool bypass;
};

enum pending_kind { P_REMOVE, P_MOVE, P_UNBYPASS };

struct pending {
	enum pending_kind kind;
	uint32_t id;
	int position;
	struct timespec due;
};

/* State the OSC handlers share; one instance per program. */
static struct {
	struct fx_ctl ctl[FX_MAX_SLOTS];      /* in the order of a->chain */
	struct pending pending[MAX_PENDING];
	int npending;
	uint64_t swaps_sent, swaps_done;
	uint64_t grave_serial[FX_GRAVEYARD];
	struct fx_doc pending_doc;             /* a state that arrived before JACK */
	bool has_pending_doc;
	/* MIDI CC bindings: target {slot id, param index or LEARN_BYPASS, 0} */
	struct cl_learn learn;
	struct cl_learn pending_learn;         /* with pending_doc: slot = position */
	bool has_pending_learn;
} cs;

#define LEARN_BYPASS (-1)

static void mark_dirty(struct fx_app *a)
{
	if (a->nsm)
		cl_nsm_set_dirty(a->nsm, true);
}

/* ---- chain hand-over ---------------------------------------------------- */

/* Give `next` to the audio thread; it becomes the control thread's chain.
 * -1 when the queue is full (next is then the caller's to free). */
static int hand_over(struct fx_app *a, struct fx_chain *next)
{
	struct cl_cmd c = { .kind = FX_CMD_CHAIN, .frame = (int64_t)(intptr_t)next };
	if (!engine_send(a, &c))
		return -1;
	cs.swaps_sent++;
	a->chain = next;
	control_latency_changed(a);
	return 0;
}

static struct fx_lane_set *lanes_copy(const struct fx_lane_set *from)
{
	struct fx_lane_set *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (int i = 0; from && i < from->count; i++) {
		struct fx_lane l = from->lanes[i];
		l.points = malloc((size_t)l.count * sizeof(*l.points));
		if (!l.points) {
			for (int k = 0; k < s->count; k++)
				free(s->lanes[k].points);
			free(s);
			return NULL;
		}
		memcpy(l.points, from->lanes[i].points, (size_t)l.count * sizeof(*l.points));
		s->lanes[s->count++] = l;
	}
	return s;
}

static void lanes_free(struct fx_lane_set *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->count; i++)
		free(s->lanes[i].points);
	free(s);
}

/* Give a new lane set to the audio thread (the control keeps its own copy). */
static int hand_over_lanes(struct fx_app *a, struct fx_lane_set *mine)
{
	struct fx_lane_set *theirs = lanes_copy(mine);
	if (!theirs)
		return -1;
	struct cl_cmd c = { .kind = FX_CMD_LANES, .frame = (int64_t)(intptr_t)theirs };
	if (!engine_send(a, &c)) {
		lanes_free(theirs);
		return -1;
	}
	lanes_free(a->lanes);
	a->lanes = mine;
	return 0;
}

static void bury(struct fx_app *a, struct fx_slot *s)
{
	if (a->graves == FX_GRAVEYARD) {
		cl_warn("too many removed effects waiting to be freed; keeping one in memory");
		return;
	}
	cs.grave_serial[a->graves] = cs.swaps_sent;
	a->graveyard[a->graves++] = s;
}

/* The audio thread let go of a chain: free its array, and the slots
 * removed up to that hand-over. */
static void on_old_chain(struct fx_app *a, struct fx_chain *old)
{
	fx_chain_free(old);
	cs.swaps_done++;
	int kept = 0;
	for (int i = 0; i < a->graves; i++) {
		if (cs.grave_serial[i] <= cs.swaps_done) {
			fx_slot_free(a->graveyard[i]);
		} else {
			cs.grave_serial[kept] = cs.grave_serial[i];
			a->graveyard[kept++] = a->graveyard[i];
		}
	}
	a->graves = kept;
}

/* Latency of the chain as it will sound: slots not bypassed, each at the
 * latency its instance has now (a look-ahead the audio thread applied). */
static uint32_t chain_latency(const struct fx_app *a)
{
	uint32_t sum = 0;
	for (int i = 0; a->chain && i < a->chain->count; i++)
		if (!cs.ctl[i].bypass)
			sum += fx_slot_latency(a->chain->slot[i]);
	return sum;
}

void control_latency_changed(struct fx_app *a)
{
	static uint32_t reported = UINT32_MAX;
	if (!a->chain || !cl_jack_is_up(&a->jack))
		return;
	uint32_t lat = chain_latency(a);
	if (lat == reported)
		return;
	reported = lat;
	for (int c = 0; c < a->channels; c++)
		cl_jack_set_port_latency(&a->jack, fx_port_out(a, c), lat);
}

static void broadcast_chain(struct fx_app *a)
{
	if (!a->osc)
		return;
	lo_message m = lo_message_new();
	for (int i = 0; i < a->chain->count; i++)
		lo_message_add_string(m, a->chain->slot[i]->type->id);
	cl_osc_broadcast_msg(a->osc, "/fx/chain", m);
	lo_message_free(m);
}

static void schedule(enum pending_kind kind, uint32_t id, int position)
{
	if (cs.npending == MAX_PENDING)
		return;
	struct pending *p = &cs.pending[cs.npending++];
	p->kind = kind;
	p->id = id;
	p->position = position;
	clock_gettime(CLOCK_MONOTONIC, &p->due);
	p->due.tv_nsec += FADE_WAIT_NS;
	if (p->due.tv_nsec >= 1000000000L) {
		p->due.tv_sec++;
		p->due.tv_nsec -= 1000000000L;
	}
}

static int find_ctl(const struct fx_app *a, uint32_t id)
{
	for (int i = 0; i < a->chain->count; i++)
		if (cs.ctl[i].id == id)
			return i;
	return -1;
}

static int send_bypass(struct fx_app *a, uint32_t id, bool on)
{
	struct cl_cmd c = { .kind = FX_CMD_BYPASS, .index = id, .b = on };
	return engine_send(a, &c) ? 0 : -1;
}

/* Does the slot a binding names still exist? */
static bool binding_has_slot(void *userdata, struct cl_binding *b)
{
	return find_ctl(userdata, (uint32_t)b->target.a) >= 0;
}

/* Carry out a deferred edit whose fade has finished. */
static void run_pending(struct fx_app *a, const struct pending *p)
{
	int pos = find_ctl(a, p->id);
	if (pos < 0)
		return;
	if (p->kind == P_UNBYPASS) {
		if (!cs.ctl[pos].bypass)
			send_bypass(a, p->id, false);
		return;
	}
	struct fx_chain *next = fx_chain_new(a->rate, a->channels, a->chain);
	if (!next)
		return;
	struct fx_slot *s = fx_chain_take(next, pos);
	struct fx_ctl ctl = cs.ctl[pos];
	if (p->kind == P_MOVE)
		fx_chain_insert(next, s, p->position);
	if (hand_over(a, next) != 0) {
		fx_chain_free(next);
		cl_warn("command queue full: %s not done", p->kind == P_MOVE ? "move" : "remove");
		return;
	}
	memmove(&cs.ctl[pos], &cs.ctl[pos + 1], (size_t)(FX_MAX_SLOTS - pos - 1) * sizeof(cs.ctl[0]));
	if (p->kind == P_MOVE) {
		int to = p->position < 0 || p->position > a->chain->count - 1 ? a->chain->count - 1 : p->position;
		memmove(&cs.ctl[to + 1], &cs.ctl[to], (size_t)(FX_MAX_SLOTS - to - 1) * sizeof(cs.ctl[0]));
		cs.ctl[to] = ctl;
		if (!ctl.bypass)
			schedule(P_UNBYPASS, ctl.id, 0);
	} else {
		bury(a, s);
		cl_learn_filter(&cs.learn, binding_has_slot, a);
		/* its lanes go too */
		if (a->lanes) {
			struct fx_lane_set *ls = lanes_copy(a->lanes);
			if (ls) {
				int kept = 0;
				for (int i = 0; i < ls->count; i++) {
					if (ls->lanes[i].slot_id == ctl.id)
						free(ls->lanes[i].points);
					else
						ls->lanes[kept++] = ls->lanes[i];
				}
				ls->count = kept;
				if (hand_over_lanes(a, ls) != 0)
					lanes_free(ls);
			}
		}
	}
	broadcast_chain(a);
	mark_dirty(a);
}

static void run_due(struct fx_app *a)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int kept = 0;
	for (int i = 0; i < cs.npending; i++) {
		struct pending *p = &cs.pending[i];
		bool due = now.tv_sec > p->due.tv_sec ||
			   (now.tv_sec == p->due.tv_sec && now.tv_nsec >= p->due.tv_nsec);
		if (due)
			run_pending(a, p);
		else
			cs.pending[kept++] = *p;
	}
	cs.npending = kept;
}

/* ---- MIDI learn ----------------------------------------------------------- */

static int set_param(struct fx_app *a, int pos, int param, float v);
static int set_bypass(struct fx_app *a, int pos, bool on);

/* The name of a binding's parameter in its slot ("threshold", "bypass"). */
static const char *learn_param_name(const struct fx_type *t, int param)
{
	return param == LEARN_BYPASS ? "bypass" : t->params[param].name;
}

/* Parameter index (or LEARN_BYPASS) of name in type t: 0, or -1. */
static int learn_param_parse(const struct fx_type *t, const char *name, int *param, bool *toggle)
{
	if (strcmp(name, "bypass") == 0) {
		*param = LEARN_BYPASS;
		*toggle = true;
		return 0;
	}
	*param = fx_param_index(t, name);
	if (*param < 0)
		return -1;
	*toggle = t->params[*param].curve == FX_TOGGLE;
	return 0;
}

/* "<slot> <param|bypass>" of /fx/learn and /fx/unlearn into a target. */
static int learn_target(struct cl_osc_request *req, struct cl_learn_target *t, bool *toggle)
{
	struct fx_app *a = req->userdata;
	int64_t slot = req->argv[0].i;
	if (slot < 0 || slot >= a->chain->count)
		return cl_osc_error(req, "no slot %lld (the chain has %d)", (long long)slot, a->chain->count);
	const struct fx_type *type = a->chain->slot[slot]->type;
	*t = (struct cl_learn_target){ (int)cs.ctl[slot].id, 0, 0 };
	if (learn_param_parse(type, req->argv[1].s, &t->b, toggle) != 0)
		return cl_osc_error(req, "%s has no parameter %s (nor is it bypass)", type->id, req->argv[1].s);
	return 0;
}

static int on_learn(struct cl_osc_request *req)
{
	struct cl_learn_target t;
	bool toggle;
	if (learn_target(req, &t, &toggle))
		return -1;
	cl_learn_arm(&cs.learn, t, toggle);
	cl_info("learning: the next CC on midi_in binds to slot %lld %s", (long long)req->argv[0].i,
		req->argv[1].s);
	return 0;
}

static int on_unlearn(struct cl_osc_request *req)
{
	struct cl_learn_target t;
	bool toggle;
	if (learn_target(req, &t, &toggle))
		return -1;
	if (cl_learn_forget(&cs.learn, &t))
		mark_dirty(req->userdata);
	return 0;
}

static float learn_get(void *userdata, const struct cl_learn_target *t)
{
	struct fx_app *a = userdata;
	int pos = find_ctl(a, (uint32_t)t->a);
	if (pos < 0)
		return 0.0f;
	if (t->b == LEARN_BYPASS)
		return cs.ctl[pos].bypass ? 1.0f : 0.0f;
	return fx_param_to_norm(&a->chain->slot[pos]->type->params[t->b], cs.ctl[pos].value[t->b]);
}

static void learn_set(void *userdata, const struct cl_learn_target *t, float norm)
{
	struct fx_app *a = userdata;
	int pos = find_ctl(a, (uint32_t)t->a);
	if (pos < 0)
		return;
	if (t->b == LEARN_BYPASS) {
		if (cs.ctl[pos].bypass != (norm >= 0.5f))
			set_bypass(a, pos, norm >= 0.5f);
		return;
	}
	const struct fx_param *p = &a->chain->slot[pos]->type->params[t->b];
	float v = fx_param_from_norm(p, norm);
	if (v != cs.ctl[pos].value[t->b])
		set_param(a, pos, t->b, v);
}

/* Announce /fx/learn <slot> <param> <channel 1..16> <cc>. */
static void learn_bound(void *userdata, const struct cl_binding *b)
{
	struct fx_app *a = userdata;
	int pos = find_ctl(a, (uint32_t)b->target.a);
	if (pos < 0)
		return;
	const char *name = learn_param_name(a->chain->slot[pos]->type, b->target.b);
	cl_osc_broadcast(a->osc, "/fx/learn", "isii", pos, name, b->channel + 1, b->cc);
	mark_dirty(a);
	cl_info("MIDI learn: channel %d CC %d bound to slot %d %s", b->channel + 1, b->cc, pos, name);
}

static const struct cl_learn_ops learn_ops = {
	.get_norm = learn_get, .set_norm = learn_set, .bound = learn_bound,
};

/* The "midi" list of a state document: bindings naming slots by position. */
static json_t *learn_json(struct fx_app *a)
{
	json_t *list = json_array();
	for (int i = 0; i < cs.learn.count; i++) {
		const struct cl_binding *b = &cs.learn.bindings[i];
		int pos = find_ctl(a, (uint32_t)b->target.a);
		if (pos < 0)
			continue;
		json_array_append_new(list, json_pack("{s:i, s:i, s:i, s:s}", "channel", b->channel + 1,
			"cc", b->cc, "slot", pos, "param",
			learn_param_name(a->chain->slot[pos]->type, b->target.b)));
	}
	return list;
}

/* Parse a "midi" list against the chain document it comes with; the
 * targets name slots by position until adopt_learn(). 0, or -1 and err. */
static int learn_parse(json_t *midi, const struct fx_doc *d, struct cl_learn *out,
		       char *err, size_t errlen)
{
	static const char *const keys[] = { "channel", "cc", "slot", "param", NULL };
	cl_learn_init(out);
	if (!json_is_array(midi) || json_array_size(midi) > CL_LEARN_MAX)
		return cl_fail(err, errlen, "\"midi\" must be a list of at most %d bindings", CL_LEARN_MAX);
	for (size_t i = 0; i < json_array_size(midi); i++) {
		json_t *jb = json_array_get(midi, i);
		char where[32];
		snprintf(where, sizeof(where), "midi %zu: ", i + 1);
		if (!json_is_object(jb))
			return cl_fail(err, errlen, "%smust be an object", where);
		int channel, cc, param;
		bool toggle;
		if (cl_doc_known_keys(jb, keys, where, err, errlen) ||
		    cl_learn_read_json(jb, &channel, &cc, where, err, errlen))
			return -1;
		json_t *slot = json_object_get(jb, "slot"), *pa = json_object_get(jb, "param");
		if (!json_is_integer(slot) || json_integer_value(slot) < 0 ||
		    json_integer_value(slot) >= d->count)
			return cl_fail(err, errlen, "%s\"slot\" must be 0..%d", where, d->count - 1);
		const struct fx_type *t = d->effects[json_integer_value(slot)].type;
		const char *name = json_is_string(pa) ? json_string_value(pa) : "";
		if (learn_param_parse(t, name, &param, &toggle) != 0)
			return cl_fail(err, errlen, "%s%s has no parameter \"%s\"", where, t->id, name);
		cl_learn_add(out, channel, cc,
			     (struct cl_learn_target){ (int)json_integer_value(slot), param, 0 }, toggle);
	}
	return 0;
}

/* Make bindings that name slots by position (learn_parse) the rack's. */
static void adopt_learn(struct fx_app *a, const struct cl_learn *by_position)
{
	cl_learn_init(&cs.learn);
	for (int i = 0; i < by_position->count; i++) {
		struct cl_binding b = by_position->bindings[i];
		if (b.target.a >= a->chain->count)
			continue;
		b.target.a = (int)cs.ctl[b.target.a].id;
		cl_learn_add(&cs.learn, b.channel, b.cc, b.target, b.toggle);
	}
}

/* A new chain replaced the old one: a binding follows its slot's
 * position when the same type is there, else it goes. */
struct remap {
	struct fx_app *a;
	uint32_t old_id[FX_MAX_SLOTS];
	const struct fx_type *old_type[FX_MAX_SLOTS];
	int old_count;
};

static bool remap_binding(void *userdata, struct cl_binding *b)
{
	struct remap *r = userdata;
	for (int i = 0; i < r->old_count; i++) {
		if (r->old_id[i] != (uint32_t)b->target.a)
			continue;
		if (i >= r->a->chain->count || r->a->chain->slot[i]->type != r->old_type[i])
			return false;
		b->target.a = (int)cs.ctl[i].id;
		b->picked_up = false;
		b->last_value = -1;
		return true;
	}
	return false;
}

/* ---- documents ------------------------------------------------------------ */

/* Replace the whole chain and lanes with a parsed document (built here). */
static int install_doc(struct fx_app *a, struct fx_doc *d, char *err, size_t errlen)
{
	if (!a->rate)
		return cl_fail(err, errlen, "the rack has no sample rate yet (JACK is not running)");
	struct fx_chain *next = fx_doc_build(d, a->rate, a->channels, &a->next_id, err, errlen);
	if (!next)
		return -1;
	struct fx_lane_set *ls = calloc(1, sizeof(*ls));
	if (!ls) {
		fx_chain_free_all(next);
		return cl_fail(err, errlen, "out of memory");
	}
	for (int i = 0; i < d->nlanes; i++) {
		ls->lanes[i] = d->lanes[i];
		d->lanes[i].points = NULL;   /* now the set's */
	}
	ls->count = d->nlanes;
	d->nlanes = 0;
	struct fx_chain *old = a->chain;
	struct remap remap = { .a = a, .old_count = old ? old->count : 0 };
	for (int i = 0; i < remap.old_count; i++) {
		remap.old_id[i] = cs.ctl[i].id;
		remap.old_type[i] = old->slot[i]->type;
	}
	if (hand_over(a, next) != 0) {
		fx_chain_free_all(next);
		lanes_free(ls);
		return cl_fail(err, errlen, "command queue full; try again");
	}
	if (hand_over_lanes(a, ls) != 0) {
		lanes_free(ls);
		cl_warn("command queue full: automation not loaded");
	}
	for (int i = 0; old && i < old->count; i++)
		bury(a, old->slot[i]);
	for (int i = 0; i < next->count; i++) {
		cs.ctl[i].id = next->slot[i]->id;
		memcpy(cs.ctl[i].value, next->slot[i]->value, sizeof(cs.ctl[i].value));
		cs.ctl[i].bypass = next->slot[i]->bypass;
	}
	cl_learn_filter(&cs.learn, remap_binding, &remap);
	broadcast_chain(a);
	mark_dirty(a);
	return 0;
}

/* The chain part of a state document, or a chain document itself. */
static json_t *chain_json(struct fx_app *a)
{
	/* Parameter values come from the control copy, not the live slots. */
	struct fx_chain view = *a->chain;
	struct fx_slot copies[FX_MAX_SLOTS];
	for (int i = 0; i < view.count; i++) {
		copies[i] = *a->chain->slot[i];
		memcpy(copies[i].value, cs.ctl[i].value, sizeof(copies[i].value));
		copies[i].bypass = cs.ctl[i].bypass;
		view.slot[i] = &copies[i];
	}
	return fx_doc_from_chain(&view, a->lanes ? a->lanes->lanes : NULL, a->lanes ? a->lanes->count : 0);
}

json_t *control_state_get(void *userdata)
{
	struct fx_app *a = userdata;
	return json_pack("{s:s, s:i, s:o, s:o}", "schema", FX_SCHEMA_KIND "/1", "channels", a->channels,
			 "chain", chain_json(a), "midi", learn_json(a));
}

static const struct cl_schema state_schema = { .kind = FX_SCHEMA_KIND, .version = 1, .oldest = 1 };

int control_state_set(void *userdata, json_t *doc, char *err, size_t errlen)
{
	static const char *const keys[] = { "schema", "channels", "chain", "midi", NULL };
	struct fx_app *a = userdata;
	json_t *owned = json_incref(doc);
	int r = -1;
	struct fx_doc d;
	if (cl_doc_check_schema(&owned, &state_schema, err, errlen) != 0 ||
	    cl_doc_known_keys(owned, keys, "", err, errlen) != 0)
		goto out;
	json_t *ch = json_object_get(owned, "channels");
	if (ch && (!json_is_integer(ch) || json_integer_value(ch) != a->channels)) {
		cl_fail(err, errlen, "the document is for %s channels, this rack has %d",
		    json_is_integer(ch) ? "other" : "(not a number of)", a->channels);
		goto out;
	}
	json_t *chain = json_object_get(owned, "chain");
	if (!chain) {
		cl_fail(err, errlen, "no \"chain\" in the document");
		goto out;
	}
	if (fx_doc_parse(chain, a->channels, &d, err, errlen) != 0)
		goto out;
	json_t *midi = json_object_get(owned, "midi");
	static struct cl_learn by_position;   /* 8 KB: not on the stack */
	if (midi && learn_parse(midi, &d, &by_position, err, errlen) != 0) {
		fx_doc_free(&d);
		goto out;
	}
	if (!a->rate) {
		/* before JACK (--state, NSM open): checked now, built once the
		 * rate is known */
		if (cs.has_pending_doc)
			fx_doc_free(&cs.pending_doc);
		cs.pending_doc = d;
		cs.has_pending_doc = true;
		cs.has_pending_learn = midi != NULL;
		if (midi)
			cs.pending_learn = by_position;
		r = 0;
		goto out;
	}
	r = install_doc(a, &d, err, errlen);
	if (r == 0 && midi)
		adopt_learn(a, &by_position);
	fx_doc_free(&d);
out:
	json_decref(owned);
	return r;
}

/* ---- OSC helpers ---------------------------------------------------------- */

/* Slot position from path segment 1 ("/fx/2/..."). */
static int path_slot(struct cl_osc_request *req, int *pos)
{
	struct fx_app *a = req->userdata;
	const char *p = req->path + strlen("/fx/");
	size_t len = strcspn(p, "/");
	char buf[16];
	long n;
	if (len == 0 || len >= sizeof(buf))
		return cl_osc_error(req, "no slot (0..%d)", a->chain->count - 1);
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (cl_cli_parse_int(buf, 0, a->chain->count - 1, &n) != 0)
		return cl_osc_error(req, "no slot %s (the chain has %d)", buf, a->chain->count);
	*pos = (int)n;
	return 0;
}

/* Slot and parameter from "/fx/<slot>/<param>[/...]". */
static int path_param(struct cl_osc_request *req, int *pos, int *param)
{
	struct fx_app *a = req->userdata;
	if (path_slot(req, pos))
		return -1;
	const char *p = strchr(req->path + strlen("/fx/"), '/') + 1;
	size_t len = strcspn(p, "/");
	char name[32];
	if (len == 0 || len >= sizeof(name))
		return cl_osc_error(req, "no such parameter");
	memcpy(name, p, len);
	name[len] = '\0';
	const struct fx_type *t = a->chain->slot[*pos]->type;
	*param = fx_param_index(t, name);
	if (*param < 0)
		return cl_osc_error(req, "%s has no parameter %s", t->id, name);
	return 0;
}

static void param_path(char *buf, size_t len, const struct fx_app *a, int pos, int param)
{
	snprintf(buf, len, "/fx/%d/%s", pos, a->chain->slot[pos]->type->params[param].name);
}

/* Set a parameter everywhere and tell the subscribers. */
static int set_param(struct fx_app *a, int pos, int param, float v)
{
	const struct fx_param *fp = &a->chain->slot[pos]->type->params[param];
	v = fx_param_clamp(fp, v);
	struct cl_cmd c = { .kind = FX_CMD_SET, .index = cs.ctl[pos].id, .a = param, .b = v };
	if (!engine_send(a, &c))
		return -1;
	cs.ctl[pos].value[param] = v;
	char path[64];
	param_path(path, sizeof(path), a, pos, param);
	cl_osc_broadcast(a->osc, path, "f", v);
	mark_dirty(a);
	cl_learn_release(&cs.learn, &(struct cl_learn_target){ (int)cs.ctl[pos].id, param, 0 });
	/* recording: the value joins the lane at the transport's position */
	struct fx_recording *r = &a->rec;
	if (r->on && r->slot_id == cs.ctl[pos].id && r->param == param && a->rolling &&
	    r->count < FX_LANE_MAX_POINTS) {
		double t = r->beats ? a->beats : a->seconds;
		if (r->count == 0 || t > r->points[r->count - 1].time)
			r->points[r->count++] = (struct fx_lane_point){ t, v, FX_SEG_LINEAR };
		else
			r->points[r->count - 1].value = v;
	}
	return 0;
}

/* ---- OSC methods ------------------------------------------------------------ */

static int on_types(struct cl_osc_request *req)
{
	lo_message m = lo_message_new();
	for (int i = 0; fx_types[i]; i++)
		lo_message_add_string(m, fx_types[i]->id);
	int r = cl_osc_reply_msg(req, "/fx/types", m);
	lo_message_free(m);
	return r;
}

static int on_chain(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	lo_message m = lo_message_new();
	for (int i = 0; i < a->chain->count; i++)
		lo_message_add_string(m, a->chain->slot[i]->type->id);
	int r = cl_osc_reply_msg(req, "/fx/chain", m);
	lo_message_free(m);
	return r;
}

static int on_add(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	const struct fx_type *t = fx_find_type(req->argv[0].s);
	if (!t)
		return cl_osc_error(req, "unknown effect type %s (see /fx/types)", req->argv[0].s);
	if (!a->rate)
		return cl_osc_error(req, "JACK is not running");
	if (a->chain->count == FX_MAX_SLOTS)
		return cl_osc_error(req, "the chain is full (%d slots)", FX_MAX_SLOTS);
	if (a->channels > t->max_channels)
		return cl_osc_error(req, "%s takes at most %d channels", t->id, t->max_channels);
	int64_t position = req->argc > 1 ? req->argv[1].i : a->chain->count;
	if (position < 0 || position > a->chain->count)
		return cl_osc_error(req, "position out of range (0..%d)", a->chain->count);
	struct fx_slot *s = fx_slot_new(t, a->next_id, a->rate, a->channels);
	if (!s)
		return cl_osc_error(req, "cannot create %s", t->id);
	/* in bypassed, then fade in */
	fx_slot_set_bypass(s, true);
	cl_ramp_jump(&s->wet, 0.0f);
	struct fx_chain *next = fx_chain_new(a->rate, a->channels, a->chain);
	if (!next) {
		fx_slot_free(s);
		return cl_osc_error(req, "out of memory");
	}
	fx_chain_insert(next, s, (int)position);
	if (hand_over(a, next) != 0) {
		fx_chain_free(next);
		fx_slot_free(s);
		return cl_osc_error(req, "command queue full; try again");
	}
	a->next_id++;
	memmove(&cs.ctl[position + 1], &cs.ctl[position],
		(size_t)(FX_MAX_SLOTS - position - 1) * sizeof(cs.ctl[0]));
	cs.ctl[position].id = s->id;
	cs.ctl[position].bypass = false;
	for (int i = 0; i < t->nparams; i++)
		cs.ctl[position].value[i] = t->params[i].def;
	send_bypass(a, s->id, false);
	broadcast_chain(a);
	mark_dirty(a);
	return 0;
}

static int on_remove(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	int64_t pos = req->argv[0].i;
	if (pos < 0 || pos >= a->chain->count)
		return cl_osc_error(req, "no slot %lld (the chain has %d)", (long long)pos, a->chain->count);
	if (send_bypass(a, cs.ctl[pos].id, true) != 0)
		return cl_osc_error(req, "command queue full; try again");
	schedule(P_REMOVE, cs.ctl[pos].id, 0);
	return 0;
}

static int on_move(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	int64_t pos = req->argv[0].i, to = req->argv[1].i;
	if (pos < 0 || pos >= a->chain->count)
		return cl_osc_error(req, "no slot %lld (the chain has %d)", (long long)pos, a->chain->count);
	if (to < 0 || to >= a->chain->count)
		return cl_osc_error(req, "position out of range (0..%d)", a->chain->count - 1);
	if (to == pos)
		return 0;
	if (send_bypass(a, cs.ctl[pos].id, true) != 0)
		return cl_osc_error(req, "command queue full; try again");
	schedule(P_MOVE, cs.ctl[pos].id, (int)to);
	return 0;
}

/* Bypass a slot (a crossfade) and tell the subscribers. */
static int set_bypass(struct fx_app *a, int pos, bool on)
{
	if (send_bypass(a, cs.ctl[pos].id, on) != 0)
		return -1;
	cs.ctl[pos].bypass = on;
	char path[32];
	snprintf(path, sizeof(path), "/fx/%d/bypass", pos);
	cl_osc_broadcast(a->osc, path, "i", on);
	mark_dirty(a);
	return 0;
}

static int on_bypass(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	int pos;
	char path[32];
	if (path_slot(req, &pos))
		return -1;
	snprintf(path, sizeof(path), "/fx/%d/bypass", pos);
	if (req->argc == 0)
		return cl_osc_reply(req, path, "i", cs.ctl[pos].bypass);
	if (set_bypass(a, pos, req->argv[0].b) != 0)
		return cl_osc_error(req, "command queue full; try again");
	return 0;
}

static int on_params(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	int pos;
	if (path_slot(req, &pos))
		return -1;
	static const char *const curves[] = { "linear", "log", "choice", "toggle" };
	const struct fx_type *t = a->chain->slot[pos]->type;
	json_t *list = json_array();
	for (int i = 0; i < t->nparams; i++) {
		const struct fx_param *p = &t->params[i];
		json_array_append_new(list, json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:s, s:s}",
			"name", p->name, "unit", p->unit, "min", p->min, "max", p->max, "default", p->def,
			"value", cs.ctl[pos].value[i], "curve", curves[p->curve], "doc", p->doc));
	}
	json_t *doc = json_pack("{s:i, s:s, s:b, s:o}", "slot", pos, "type", t->id, "bypass",
				cs.ctl[pos].bypass, "params", list);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	char path[32];
	snprintf(path, sizeof(path), "/fx/%d/params", pos);
	int r = text ? cl_osc_reply(req, path, "s", text) : cl_osc_error(req, "out of memory");
	free(text);
	return r;
}

static int on_param(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	int pos, param;
	if (path_param(req, &pos, &param))
		return -1;
	const struct fx_param *p = &a->chain->slot[pos]->type->params[param];
	char path[64];
	param_path(path, sizeof(path), a, pos, param);
	if (req->argc == 0)
		return cl_osc_reply(req, path, "f", cs.ctl[pos].value[param]);
	double v = req->argv[0].n;
	if (v < p->min || v > p->max)
		return cl_osc_error(req, "%s out of range (%g .. %g %s)", p->name, p->min, p->max, p->unit);
	if ((p->curve == FX_CHOICE || p->curve == FX_TOGGLE) && v != floor(v))
		return cl_osc_error(req, "%s takes a whole number (%s)", p->name, p->doc);
	if (set_param(a, pos, param, (float)v) != 0)
		return cl_osc_error(req, "command queue full; try again");
	return 0;
}

static int on_param_norm(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	int pos, param;
	if (path_param(req, &pos, &param))
		return -1;
	const struct fx_param *p = &a->chain->slot[pos]->type->params[param];
	if (req->argc == 0)
		return cl_osc_reply(req, req->path, "f", fx_param_to_norm(p, cs.ctl[pos].value[param]));
	double x = req->argv[0].n;
	if (x < 0.0 || x > 1.0)
		return cl_osc_error(req, "position out of range (0 .. 1)");
	if (set_param(a, pos, param, fx_param_from_norm(p, (float)x)) != 0)
		return cl_osc_error(req, "command queue full; try again");
	return 0;
}

static int on_record(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	struct fx_recording *r = &a->rec;
	int pos, param;
	if (path_param(req, &pos, &param))
		return -1;
	const struct fx_param *p = &a->chain->slot[pos]->type->params[param];
	if (req->argv[0].b) {
		if (r->on)
			return cl_osc_error(req, "already recording another parameter");
		r->on = true;
		r->slot_id = cs.ctl[pos].id;
		r->param = param;
		r->beats = a->has_bbt;
		r->count = 0;
		cl_info("recording automation of %s.%s in %s", p->name, a->chain->slot[pos]->type->id,
			r->beats ? "beats" : "seconds");
		return 0;
	}
	if (!r->on || r->slot_id != cs.ctl[pos].id || r->param != param)
		return cl_osc_error(req, "not recording this parameter");
	r->on = false;
	if (r->count == 0)
		return cl_osc_error(req, "nothing was recorded (the transport must roll)");
	/* thin to 0.2% of the parameter's travel */
	float tol = (p->curve == FX_LOG ? 0.002f * (p->max - p->min) : 0.002f * (p->max - p->min));
	int n = fx_lane_thin(r->points, r->count, tol);
	struct fx_lane_set *ls = lanes_copy(a->lanes);
	if (!ls)
		return cl_osc_error(req, "out of memory");
	int i;
	for (i = 0; i < ls->count; i++)
		if (ls->lanes[i].slot_id == r->slot_id && ls->lanes[i].param == param)
			break;
	if (i == FX_MAX_LANES) {
		lanes_free(ls);
		return cl_osc_error(req, "too many automation lanes (%d)", FX_MAX_LANES);
	}
	struct fx_lane_point *pts = malloc((size_t)n * sizeof(*pts));
	if (!pts) {
		lanes_free(ls);
		return cl_osc_error(req, "out of memory");
	}
	memcpy(pts, r->points, (size_t)n * sizeof(*pts));
	if (i < ls->count)
		free(ls->lanes[i].points);
	else
		ls->count++;
	ls->lanes[i] = (struct fx_lane){ .slot_id = r->slot_id, .param = param, .beats = r->beats,
					  .count = n, .points = pts };
	if (hand_over_lanes(a, ls) != 0) {
		lanes_free(ls);
		return cl_osc_error(req, "command queue full; try again");
	}
	cl_info("automation of %s: %d points recorded, %d kept", p->name, r->count, n);
	mark_dirty(a);
	return cl_osc_reply(req, req->path, "ii", 0, n);
}

static int on_automation_clear(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	struct fx_lane_set *ls = calloc(1, sizeof(*ls));
	if (!ls || hand_over_lanes(a, ls) != 0) {
		lanes_free(ls);
		return cl_osc_error(req, "command queue full; try again");
	}
	mark_dirty(a);
	return 0;
}

static int on_chain_save(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	char err[512];
	json_t *doc = chain_json(a);
	int r = cl_store_save(a->opt.store, "chains", req->argv[0].s, doc, err, sizeof(err));
	json_decref(doc);
	if (r != 0)
		return cl_osc_error(req, "%s", err);
	return cl_osc_reply(req, "/fx/chain/save", "s", req->argv[0].s);
}

static int on_chain_load(struct cl_osc_request *req)
{
	struct fx_app *a = req->userdata;
	char path[4096], err[512];
	struct fx_doc d;
	if (cl_store_path(a->opt.store, "chains", req->argv[0].s, path, sizeof(path), err, sizeof(err)))
		return cl_osc_error(req, "%s", err);
	json_t *doc = cl_doc_load_file(path, err, sizeof(err));
	if (!doc)
		return cl_osc_error(req, "%s", err);
	int r = fx_doc_parse(doc, a->channels, &d, err, sizeof(err));
	json_decref(doc);
	if (r != 0)
		return cl_osc_error(req, "chain %s: %s", req->argv[0].s, err);
	r = install_doc(a, &d, err, sizeof(err));
	fx_doc_free(&d);
	if (r != 0)
		return cl_osc_error(req, "%s", err);
	return cl_osc_reply(req, "/fx/chain/load", "s", req->argv[0].s);
}

const struct cl_osc_method control_methods[] = {
	{ "/fx/types", "", on_types, "answer /fx/types <id>...: every effect type" },
	{ "/fx/chain", "", on_chain, "answer /fx/chain <type>...: the slots in order (slot 0 first)" },
	{ "/fx/chain/save", "s", on_chain_save, "<id>: save the chain as <store>/chains/<id>.json" },
	{ "/fx/chain/load", "s", on_chain_load, "<id>: replace the chain with <store>/chains/<id>.json" },
	{ "/fx/add", "s|i", on_add, "<type> [<position>]: add an effect (fades in)" },
	{ "/fx/remove", "i", on_remove, "<slot>: remove an effect (fades out first)" },
	{ "/fx/move", "ii", on_move, "<slot> <position>: move an effect (fades out and in)" },
	{ "/fx/automation/clear", "", on_automation_clear, "remove every automation lane" },
	{ "/fx/learn", "is", on_learn,
	  "<slot> <param|bypass>: the next CC on midi_in controls it (soft takeover); "
	  "announced as /fx/learn <slot> <param> <channel> <cc>" },
	{ "/fx/unlearn", "is", on_unlearn, "<slot> <param|bypass>: remove its CC bindings" },
	{ "/fx/*/bypass", "|b", on_bypass, "[on|off]: bypass a slot (a crossfade)" },
	{ "/fx/*/params", "", on_params,
	  "answer /fx/<slot>/params <json>: name, unit, range, default, value, curve, doc of each" },
	{ "/fx/*/*/automation/record", "b", on_record,
	  "1: record this parameter's OSC values while the transport rolls; 0: stop, thin, keep the lane" },
	{ "/fx/*/*/norm", "|n", on_param_norm, "[<0..1>]: a parameter along its curve (TouchOSC)" },
	{ "/fx/*/*", "|n", on_param, "[<value>]: a parameter of a slot, in its unit and range" },
};
const size_t control_method_count = sizeof(control_methods) / sizeof(control_methods[0]);

/* ---- events and lifecycle ----------------------------------------------------- */

void control_events(struct fx_app *a)
{
	struct cl_cmd ev;
	while (cl_cmdq_pop(&a->from_rt, &ev)) {
		switch (ev.kind) {
		case FX_EV_OLD_CHAIN:
			on_old_chain(a, (struct fx_chain *)(intptr_t)ev.frame);
			break;
		case FX_EV_OLD_LANES:
			lanes_free((struct fx_lane_set *)(intptr_t)ev.frame);
			break;
		case FX_EV_POSITION:
			a->rolling = ev.index & 1;
			a->has_bbt = (ev.index >> 1) & 1;
			a->seconds = ev.a;
			a->beats = ev.b;
			a->bpm = ev.c;
			break;
		case FX_EV_AUTOMATED: {
			int pos = find_ctl(a, ev.index);
			if (pos < 0 || (int)ev.a >= FX_MAX_PARAMS || cs.ctl[pos].value[(int)ev.a] == (float)ev.b)
				break;
			cs.ctl[pos].value[(int)ev.a] = (float)ev.b;
			cl_learn_release(&cs.learn, &(struct cl_learn_target){ (int)ev.index, (int)ev.a, 0 });
			char path[64];
			param_path(path, sizeof(path), a, pos, (int)ev.a);
			cl_osc_broadcast(a->osc, path, "f", (float)ev.b);
			break;
		}
		case FX_EV_CC:
			if (cl_learn_cc(&cs.learn, (int)ev.index, (int)ev.a, (int)ev.b, &learn_ops, a) ==
			    CL_LEARN_FULL)
				cl_warn("MIDI learn: all %d bindings are in use", CL_LEARN_MAX);
			break;
		}
	}
	run_due(a);
	/* parameters (a limiter's look-ahead) and bypass change latency */
	control_latency_changed(a);
}

int control_init(struct fx_app *a)
{
	a->chain = fx_chain_new(a->rate, a->channels, NULL);
	a->lanes = calloc(1, sizeof(*a->lanes));
	a->rec.points = calloc(FX_LANE_MAX_POINTS, sizeof(*a->rec.points));
	a->next_id = 1;
	return a->chain && a->lanes && a->rec.points ? 0 : -1;
}

int control_start(struct fx_app *a, char *err, size_t errlen)
{
	a->chain->rate = a->rate;
	/* the audio thread starts with the (empty) chain; a state that waited
	 * for the rate replaces it */
	if (hand_over(a, a->chain) != 0)
		return cl_fail(err, errlen, "cannot start the chain");
	if (cs.has_pending_doc) {
		int r = install_doc(a, &cs.pending_doc, err, errlen);
		if (r == 0 && cs.has_pending_learn)
			adopt_learn(a, &cs.pending_learn);
		fx_doc_free(&cs.pending_doc);
		cs.has_pending_doc = false;
		return r;
	}
	return 0;
}

void control_done(struct fx_app *a)
{
	/* JACK is closed: nothing runs the chains any more; first free what
	 * the audio thread handed back and nobody read yet */
	struct cl_cmd ev;
	while (a->from_rt.rb && cl_cmdq_pop(&a->from_rt, &ev)) {
		if (ev.kind == FX_EV_OLD_CHAIN)
			on_old_chain(a, (struct fx_chain *)(intptr_t)ev.frame);
		else if (ev.kind == FX_EV_OLD_LANES)
			lanes_free((struct fx_lane_set *)(intptr_t)ev.frame);
	}
	/* and what was sent but never taken (a quick stop): chain arrays
	 * other than the latest, lane sets */
	while (a->to_rt.rb && cl_cmdq_pop(&a->to_rt, &ev)) {
		if (ev.kind == FX_CMD_CHAIN && (struct fx_chain *)(intptr_t)ev.frame != a->chain)
			fx_chain_free((struct fx_chain *)(intptr_t)ev.frame);
		else if (ev.kind == FX_CMD_LANES)
			lanes_free((struct fx_lane_set *)(intptr_t)ev.frame);
	}
	if (a->eng.chain && a->eng.chain != a->chain)
		fx_chain_free(a->eng.chain);   /* slots: in a->chain or the graveyard */
	if (a->chain)
		fx_chain_free_all(a->chain);
	a->chain = NULL;
	for (int i = 0; i < a->graves; i++)
		fx_slot_free(a->graveyard[i]);
	a->graves = 0;
	lanes_free(a->lanes);
	lanes_free(a->eng.lanes);
	a->lanes = a->eng.lanes = NULL;
	free(a->rec.points);
	if (cs.has_pending_doc)
		fx_doc_free(&cs.pending_doc);
}

static json_t *on_status(void *userdata)
{
	struct fx_app *a = userdata;
	double median, p99;
	cl_cycle_summary(&a->eng.stats, &median, &p99);
	json_t *slots = json_array();
	for (int i = 0; a->chain && i < a->chain->count; i++)
		json_array_append_new(slots, json_string(a->chain->slot[i]->type->id));
	return json_pack("{s:s, s:s, s:{s:b, s:s?, s:i}, s:{s:i, s:o, s:i, s:i},"
			 " s:{s:I, s:f, s:f, s:f}}",
		"program", FX_PROG, "version", CL_VERSION,
		"jack", "connected", cl_jack_is_up(&a->jack), "client", a->session.jack_name, "rate", (int)a->rate,
		"rack", "channels", a->channels, "chain", slots,
		"latency", (int)chain_latency(a),
		"lanes", a->lanes ? a->lanes->count : 0,
		"dsp", "cycles", (json_int_t)a->eng.stats.cycles, "cycle_us_median", median,
		"cycle_us_p99", p99, "cycle_us_max", a->eng.stats.max_us);
}

static void on_quit(void *userdata)
{
	struct fx_app *a = userdata;
	a->quit = true;
}

const struct cl_osc_hooks control_hooks_template = {
	.status = on_status,
	.state_get = control_state_get,
	.state_set = control_state_set,
	.quit = on_quit,
};
