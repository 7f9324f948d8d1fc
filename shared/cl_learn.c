/*
 * MIDI CC learn and soft takeover (see cl_learn.h). The rules a user
 * relies on live here once: a learn replaces what the CC did before, a
 * controller never makes a parameter jump, a toggle follows the
 * controller's half.
 */
#include "cl_learn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool same_target(const struct cl_learn_target *x, const struct cl_learn_target *y)
{
	return x->a == y->a && x->b == y->b && x->c == y->c;
}

void cl_learn_init(struct cl_learn *l)
{
	memset(l, 0, sizeof(*l));
}

void cl_learn_arm(struct cl_learn *l, struct cl_learn_target t, bool toggle)
{
	l->armed = true;
	l->armed_target = t;
	l->armed_toggle = toggle;
}

/* Make the armed target the (only) binding of channel/cc. */
static enum cl_learn_result bind(struct cl_learn *l, int channel, int cc,
				 const struct cl_learn_ops *ops, void *userdata)
{
	l->armed = false;
	int i;
	for (i = 0; i < l->count; i++)
		if (l->bindings[i].channel == channel && l->bindings[i].cc == cc)
			break;
	if (i == l->count && l->count == CL_LEARN_MAX)
		return CL_LEARN_FULL;
	l->bindings[i] = (struct cl_binding){
		.channel = channel, .cc = cc, .target = l->armed_target,
		.toggle = l->armed_toggle, .last_value = -1,
	};
	if (i == l->count)
		l->count++;
	if (ops->bound)
		ops->bound(userdata, &l->bindings[i]);
	return CL_LEARN_BOUND;
}

/* Soft takeover: has the controller met (or crossed) the parameter? */
static bool meets(const struct cl_binding *b, float x, float cur)
{
	if (fabsf(x - cur) <= 1.0f / 127.0f)
		return true;
	if (b->last_value < 0)
		return false;
	float last = b->last_value / 127.0f;
	return (last - cur) * (x - cur) <= 0.0f;
}

enum cl_learn_result cl_learn_cc(struct cl_learn *l, int channel, int cc, int value,
				 const struct cl_learn_ops *ops, void *userdata)
{
	if (l->armed)
		return bind(l, channel, cc, ops, userdata);
	for (int i = 0; i < l->count; i++) {
		struct cl_binding *b = &l->bindings[i];
		if (b->channel != channel || b->cc != cc)
			continue;
		float x = value / 127.0f;
		if (b->toggle) {
			b->last_value = value;
			ops->set_norm(userdata, &b->target, value >= 64 ? 1.0f : 0.0f);
			continue;
		}
		if (!b->picked_up)
			b->picked_up = meets(b, x, ops->get_norm(userdata, &b->target));
		b->last_value = value;
		if (!b->picked_up)
			continue;
		ops->set_norm(userdata, &b->target, x);
		/* the setter released every binding of the target: this one
		 * moved it, so it keeps control */
		b->picked_up = true;
		b->last_value = value;
	}
	return CL_LEARN_MOVED;
}

void cl_learn_release(struct cl_learn *l, const struct cl_learn_target *t)
{
	for (int i = 0; i < l->count; i++) {
		if (same_target(&l->bindings[i].target, t)) {
			l->bindings[i].picked_up = false;
			l->bindings[i].last_value = -1;
		}
	}
}

int cl_learn_filter(struct cl_learn *l,
		    bool (*keep)(void *userdata, struct cl_binding *b), void *userdata)
{
	int kept = 0, removed = 0;
	for (int i = 0; i < l->count; i++) {
		if (keep(userdata, &l->bindings[i]))
			l->bindings[kept++] = l->bindings[i];
		else
			removed++;
	}
	l->count = kept;
	return removed;
}

static bool other_target(void *userdata, struct cl_binding *b)
{
	return !same_target(&b->target, userdata);
}

int cl_learn_forget(struct cl_learn *l, const struct cl_learn_target *t)
{
	struct cl_learn_target copy = *t;
	return cl_learn_filter(l, other_target, &copy);
}

int cl_learn_add(struct cl_learn *l, int channel, int cc, struct cl_learn_target t, bool toggle)
{
	if (l->count == CL_LEARN_MAX)
		return -1;
	l->bindings[l->count++] = (struct cl_binding){
		.channel = channel, .cc = cc, .target = t, .toggle = toggle, .last_value = -1,
	};
	return 0;
}

int cl_learn_read_json(json_t *obj, int *channel, int *cc, const char *where,
		       char *err, size_t errlen)
{
	json_t *ch = json_object_get(obj, "channel"), *c = json_object_get(obj, "cc");
	if (!json_is_integer(ch) || json_integer_value(ch) < 1 || json_integer_value(ch) > 16 ||
	    !json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > 127) {
		snprintf(err, errlen, "%s\"channel\" 1..16 and \"cc\" 0..127 are required", where);
		return -1;
	}
	*channel = (int)json_integer_value(ch) - 1;
	*cc = (int)json_integer_value(c);
	return 0;
}
