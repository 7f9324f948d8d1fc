/*
 * Chain documents; see chaindoc.h.
 */
#include "chaindoc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_doc.h"
#include "cl_log.h"

static const struct cl_schema chain_schema = {
	.kind = FX_CHAIN_SCHEMA_KIND, .version = FX_CHAIN_SCHEMA_VERSION, .oldest = 1,
};

static int parse_effect(json_t *je, int i, int channels, struct fx_doc_effect *e,
			char *err, size_t errlen)
{
	static const char *const keys[] = { "type", "bypass", "params", NULL };
	char where[32];
	snprintf(where, sizeof(where), "effects[%d]: ", i);
	if (!json_is_object(je))
		return cl_fail(err, errlen, "%smust be an object", where);
	if (cl_doc_known_keys(je, keys, where, err, errlen))
		return -1;
	json_t *type = json_object_get(je, "type");
	if (!json_is_string(type))
		return cl_fail(err, errlen, "%s\"type\" must name an effect type", where);
	e->type = fx_find_type(json_string_value(type));
	if (!e->type)
		return cl_fail(err, errlen, "%sunknown effect type \"%s\"", where, json_string_value(type));
	if (channels > e->type->max_channels)
		return cl_fail(err, errlen, "%s%s takes at most %d channels, the rack has %d", where,
			    e->type->id, e->type->max_channels, channels);
	json_t *bypass = json_object_get(je, "bypass");
	if (bypass && !json_is_boolean(bypass))
		return cl_fail(err, errlen, "%s\"bypass\" must be true or false", where);
	e->bypass = json_is_true(bypass);
	for (int p = 0; p < e->type->nparams; p++)
		e->value[p] = e->type->params[p].def;
	json_t *params = json_object_get(je, "params");
	if (params && !json_is_object(params))
		return cl_fail(err, errlen, "%s\"params\" must be an object", where);
	const char *name;
	json_t *v;
	json_object_foreach(params, name, v) {
		int p = fx_param_index(e->type, name);
		if (p < 0)
			return cl_fail(err, errlen, "%s%s has no parameter \"%s\"", where, e->type->id, name);
		const struct fx_param *fp = &e->type->params[p];
		if (!json_is_number(v) || !(json_number_value(v) >= fp->min && json_number_value(v) <= fp->max))
			return cl_fail(err, errlen, "%s%s.%s must be a number in %g .. %g", where,
				    e->type->id, name, fp->min, fp->max);
		e->value[p] = fx_param_clamp(fp, (float)json_number_value(v));
	}
	return 0;
}

static int parse_lane(json_t *jl, int i, const struct fx_doc *d, struct fx_lane *l,
		      char *err, size_t errlen)
{
	static const char *const keys[] = { "slot", "param", "unit", "points", NULL };
	char where[32];
	snprintf(where, sizeof(where), "automation[%d]: ", i);
	if (!json_is_object(jl))
		return cl_fail(err, errlen, "%smust be an object", where);
	if (cl_doc_known_keys(jl, keys, where, err, errlen))
		return -1;
	json_t *slot = json_object_get(jl, "slot"), *param = json_object_get(jl, "param");
	json_t *unit = json_object_get(jl, "unit"), *points = json_object_get(jl, "points");
	if (!json_is_integer(slot) || json_integer_value(slot) < 0 || json_integer_value(slot) >= d->count)
		return cl_fail(err, errlen, "%s\"slot\" must be 0..%d", where, d->count - 1);
	const struct fx_doc_effect *e = &d->effects[json_integer_value(slot)];
	int p = json_is_string(param) ? fx_param_index(e->type, json_string_value(param)) : -1;
	if (p < 0)
		return cl_fail(err, errlen, "%s%s has no parameter %s", where, e->type->id,
			    json_is_string(param) ? json_string_value(param) : "(none given)");
	const char *u = json_is_string(unit) ? json_string_value(unit) : "";
	if (strcmp(u, "beats") != 0 && strcmp(u, "seconds") != 0)
		return cl_fail(err, errlen, "%s\"unit\" must be \"beats\" or \"seconds\"", where);
	if (!json_is_array(points) || json_array_size(points) == 0 ||
	    json_array_size(points) > FX_LANE_MAX_POINTS)
		return cl_fail(err, errlen, "%s\"points\" must hold 1 .. %d points", where, FX_LANE_MAX_POINTS);
	const struct fx_param *fp = &e->type->params[p];
	*l = (struct fx_lane){ .slot_id = (unsigned)json_integer_value(slot), .param = p,
			       .beats = u[0] == 'b' };
	l->points = calloc(json_array_size(points), sizeof(*l->points));
	if (!l->points)
		return cl_fail(err, errlen, "out of memory");
	for (size_t k = 0; k < json_array_size(points); k++) {
		json_t *pt = json_array_get(points, k);
		json_t *t = json_array_get(pt, 0), *v = json_array_get(pt, 1), *c = json_array_get(pt, 2);
		int curve = c ? (json_is_string(c) ? fx_lane_curve_parse(json_string_value(c)) : -1)
			      : FX_SEG_LINEAR;
		if (!json_is_array(pt) || json_array_size(pt) < 2 || json_array_size(pt) > 3 ||
		    !json_is_number(t) || !json_is_number(v) || curve < 0)
			return cl_fail(err, errlen, "%spoint %zu must be [time, value] or [time, value, "
				    "\"linear\"|\"exp\"|\"step\"]", where, k);
		double time = json_number_value(t), value = json_number_value(v);
		if (!(time >= 0.0) || !isfinite(time) || (k > 0 && time <= l->points[k - 1].time))
			return cl_fail(err, errlen, "%spoint %zu: times must be finite, from 0, increasing", where, k);
		if (!(value >= fp->min && value <= fp->max))
			return cl_fail(err, errlen, "%spoint %zu: %s must be in %g .. %g", where, k, fp->name,
				    fp->min, fp->max);
		l->points[k] = (struct fx_lane_point){ time, (float)value, (enum fx_lane_curve)curve };
		l->count = (int)k + 1;
	}
	return 0;
}

int fx_doc_parse(json_t *doc, int channels, struct fx_doc *d, char *err, size_t errlen)
{
	static const char *const keys[] = { "schema", "effects", "automation", NULL };
	json_t *owned = json_incref(doc);
	memset(d, 0, sizeof(*d));
	int r = -1;

	if (cl_doc_check_schema(&owned, &chain_schema, err, errlen) != 0 ||
	    cl_doc_known_keys(owned, keys, "", err, errlen) != 0)
		goto out;
	json_t *effects = json_object_get(owned, "effects");
	if (!json_is_array(effects) || json_array_size(effects) > FX_MAX_SLOTS) {
		cl_fail(err, errlen, "\"effects\" must be a list of at most %d effects", FX_MAX_SLOTS);
		goto out;
	}
	d->count = (int)json_array_size(effects);
	for (int i = 0; i < d->count; i++)
		if (parse_effect(json_array_get(effects, (size_t)i), i, channels, &d->effects[i], err, errlen))
			goto out;
	json_t *lanes = json_object_get(owned, "automation");
	if (lanes && (!json_is_array(lanes) || json_array_size(lanes) > FX_MAX_LANES)) {
		cl_fail(err, errlen, "\"automation\" must be a list of at most %d lanes", FX_MAX_LANES);
		goto out;
	}
	for (size_t i = 0; lanes && i < json_array_size(lanes); i++) {
		d->nlanes = (int)i + 1;
		if (parse_lane(json_array_get(lanes, i), (int)i, d, &d->lanes[i], err, errlen))
			goto out;
		for (size_t j = 0; j < i; j++)
			if (d->lanes[j].slot_id == d->lanes[i].slot_id && d->lanes[j].param == d->lanes[i].param) {
				cl_fail(err, errlen, "automation[%zu]: a second lane for the same parameter", i);
				goto out;
			}
	}
	r = 0;
out:
	json_decref(owned);
	if (r != 0)
		fx_doc_free(d);
	return r;
}

void fx_doc_free(struct fx_doc *d)
{
	for (int i = 0; i < d->nlanes; i++) {
		free(d->lanes[i].points);
		d->lanes[i].points = NULL;
	}
	d->nlanes = 0;
}

struct fx_chain *fx_doc_build(struct fx_doc *d, uint32_t rate, int channels,
			      uint32_t *next_id, char *err, size_t errlen)
{
	struct fx_chain *c = fx_chain_new(rate, channels, NULL);
	if (!c) {
		cl_fail(err, errlen, "out of memory");
		return NULL;
	}
	uint32_t first = *next_id;
	for (int i = 0; i < d->count; i++) {
		const struct fx_doc_effect *e = &d->effects[i];
		struct fx_slot *s = fx_slot_new(e->type, first + (uint32_t)i, rate, channels);
		if (!s) {
			cl_fail(err, errlen, "cannot create %s at %u Hz, %d channels", e->type->id, rate, channels);
			fx_chain_free_all(c);
			return NULL;
		}
		for (int p = 0; p < e->type->nparams; p++)
			fx_slot_set(s, p, e->value[p]);
		if (e->bypass) {
			fx_slot_set_bypass(s, true);
			cl_ramp_jump(&s->wet, 0.0f);   /* loaded bypassed: no fade */
		}
		fx_chain_insert(c, s, i);
	}
	for (int i = 0; i < d->nlanes; i++)
		d->lanes[i].slot_id += first;
	*next_id = first + (uint32_t)d->count;
	return c;
}

json_t *fx_doc_from_chain(const struct fx_chain *c, const struct fx_lane *lanes, int nlanes)
{
	json_t *effects = json_array(), *automation = json_array();
	for (int i = 0; i < c->count; i++) {
		const struct fx_slot *s = c->slot[i];
		json_t *params = json_object();
		for (int p = 0; p < s->type->nparams; p++)
			json_object_set_new(params, s->type->params[p].name, json_real(s->value[p]));
		json_array_append_new(effects, json_pack("{s:s, s:b, s:o}", "type", s->type->id,
							 "bypass", s->bypass, "params", params));
	}
	for (int i = 0; i < nlanes; i++) {
		const struct fx_lane *l = &lanes[i];
		int pos = fx_chain_find(c, l->slot_id);
		if (pos < 0)
			continue;
		json_t *points = json_array();
		for (int k = 0; k < l->count; k++)
			json_array_append_new(points, json_pack("[f, f, s]", l->points[k].time,
				(double)l->points[k].value, fx_lane_curve_name(l->points[k].curve)));
		json_array_append_new(automation, json_pack("{s:i, s:s, s:s, s:o}", "slot", pos,
			"param", c->slot[pos]->type->params[l->param].name,
			"unit", l->beats ? "beats" : "seconds", "points", points));
	}
	return json_pack("{s:s, s:o, s:o}", "schema", FX_CHAIN_SCHEMA_KIND "/1",
			 "effects", effects, "automation", automation);
}
