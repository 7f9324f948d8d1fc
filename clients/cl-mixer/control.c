/*
 * The control surface of cl-mixer: OSC methods, feedback, meters, MIDI
 * learn with soft takeover, scenes, and the state document.
 *
 * Every change goes through set_param(): it updates the control thread's
 * copy, queues the command for the audio thread, and tells subscribers with
 * the message that would set it. A whole document (state, scene) is parsed
 * and checked into a struct first and applied only when all of it is
 * valid and the command queue has room for all of it, so nothing is ever
 * applied half-way.
 */
#include "mixer.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_doc.h"
#include "cl_log.h"

#define VOLUME_MIN_DB -144.0   /* below this a fader is at -inf */
#define SCENE_MAX_FADE_S 600.0

static const char *const param_names[MX_P_COUNT] = {
	[MX_P_GAIN] = "gain", [MX_P_VOLUME] = "volume", [MX_P_PAN] = "pan",
	[MX_P_MUTE] = "mute", [MX_P_SOLO] = "solo", [MX_P_PHASE] = "phase",
	[MX_P_SEND] = "send", [MX_P_SEND_PRE] = "send_pre",
};

/* A whole mixer state, parsed and checked, ready to apply. */
struct mx_doc {
	int strips;   /* strips the document sets (the rest stay as they are) */
	struct mixer_strip_params p[MIXER_MAX_STRIPS];
	char names[MIXER_MAX_STRIPS][MX_NAME_MAX];
	float master_db;
	bool master_mute;
	bool has_midi;
	struct cl_learn midi;
};

void control_init(struct mx *m)
{
	for (int s = 0; s < MIXER_MAX_STRIPS; s++) {
		struct mixer_strip_params *p = &m->p[s];
		*p = (struct mixer_strip_params){ 0 };
		for (int k = 0; k < MIXER_MAX_AUX; k++)
			p->send_db[k] = -INFINITY;
		snprintf(m->names[s], MX_NAME_MAX, "Ch %d", s + 1);
		m->loudness[s] = -INFINITY;
	}
	for (size_t i = 0; i < sizeof(m->meters) / sizeof(m->meters[0]); i++)
		m->meters[i] = (struct mx_meter_view){ -INFINITY, -INFINITY, -INFINITY, { 0, 0 } };
}

/* ---- values ---------------------------------------------------------- */

static float param_value(const struct mx *m, int strip, enum mx_param p, int aux)
{
	if (strip == MX_MASTER)
		return p == MX_P_VOLUME ? m->master_db : m->master_mute;
	const struct mixer_strip_params *s = &m->p[strip];
	switch (p) {
	case MX_P_GAIN: return s->gain_db;
	case MX_P_VOLUME: return s->volume_db;
	case MX_P_PAN: return s->pan;
	case MX_P_MUTE: return s->mute;
	case MX_P_SOLO: return s->solo;
	case MX_P_PHASE: return s->phase;
	case MX_P_SEND: return s->send_db[aux];
	case MX_P_SEND_PRE: return s->send_pre[aux];
	default: return 0;
	}
}

static void store_value(struct mx *m, int strip, enum mx_param p, int aux, float v)
{
	if (strip == MX_MASTER) {
		if (p == MX_P_VOLUME)
			m->master_db = v;
		else
			m->master_mute = v != 0;
		return;
	}
	struct mixer_strip_params *s = &m->p[strip];
	switch (p) {
	case MX_P_GAIN: s->gain_db = v; break;
	case MX_P_VOLUME: s->volume_db = v; break;
	case MX_P_PAN: s->pan = v; break;
	case MX_P_MUTE: s->mute = v != 0; break;
	case MX_P_SOLO: s->solo = v != 0; break;
	case MX_P_PHASE: s->phase = v != 0; break;
	case MX_P_SEND: s->send_db[aux] = v; break;
	case MX_P_SEND_PRE: s->send_pre[aux] = v != 0; break;
	default: break;
	}
}

static bool is_toggle(enum mx_param p)
{
	return p == MX_P_MUTE || p == MX_P_SOLO || p == MX_P_PHASE || p == MX_P_SEND_PRE;
}

static bool is_fader(enum mx_param p)
{
	return p == MX_P_VOLUME || p == MX_P_SEND;
}

/* 0..1 position of a continuous parameter (for CC and TouchOSC). */
static float param_norm(enum mx_param p, float v)
{
	if (is_fader(p))
		return mixer_fader_norm(v);
	if (p == MX_P_GAIN)
		return (v - (float)MIXER_GAIN_MIN_DB) / (float)(MIXER_GAIN_MAX_DB - MIXER_GAIN_MIN_DB);
	if (p == MX_P_PAN)
		return (v + 1.0f) / 2.0f;
	return v != 0 ? 1.0f : 0.0f;
}

static float param_from_norm(enum mx_param p, float x)
{
	if (is_fader(p))
		return mixer_fader_db(x);
	if (p == MX_P_GAIN)
		return (float)MIXER_GAIN_MIN_DB + x * (float)(MIXER_GAIN_MAX_DB - MIXER_GAIN_MIN_DB);
	if (p == MX_P_PAN)
		return x * 2.0f - 1.0f;
	return x >= 0.5f ? 1.0f : 0.0f;
}

/* "volume", "send/2", "send/2/pre" ... for a parameter. */
static void param_label(char *buf, size_t len, enum mx_param p, int aux)
{
	if (p == MX_P_SEND || p == MX_P_SEND_PRE)
		snprintf(buf, len, "send/%d%s", aux + 1, p == MX_P_SEND_PRE ? "/pre" : "");
	else
		snprintf(buf, len, "%s", param_names[p]);
}

/* The parameter a label names (aux buses 1..naux): 0, or -1. */
static int param_parse(const char *name, int naux, enum mx_param *p, int *aux)
{
	int k, n = 0;
	if (sscanf(name, "send/%d%n", &k, &n) == 1 && k >= 1 && k <= naux) {
		if (name[n] == '\0' || strcmp(name + n, "/pre") == 0) {
			*p = name[n] ? MX_P_SEND_PRE : MX_P_SEND;
			*aux = k - 1;
			return 0;
		}
		return -1;
	}
	for (int i = 0; i < MX_P_SEND; i++) {
		if (strcmp(name, param_names[i]) == 0) {
			*p = (enum mx_param)i;
			*aux = 0;
			return 0;
		}
	}
	return -1;
}

/* "3" or "master". */
static void strip_label(char *buf, size_t len, int strip)
{
	if (strip == MX_MASTER)
		snprintf(buf, len, "master");
	else
		snprintf(buf, len, "%d", strip + 1);
}

/* OSC path of a parameter: /mixer/3/volume, /mixer/3/send/2/pre, ... */
static void param_path(char *buf, size_t len, int strip, enum mx_param p, int aux, bool norm)
{
	char who[16];
	strip_label(who, sizeof(who), strip);
	if (p == MX_P_SEND || p == MX_P_SEND_PRE)
		snprintf(buf, len, "/mixer/%s/send/%d%s", who, aux + 1,
			 p == MX_P_SEND_PRE ? "/pre" : norm ? "/norm" : "");
	else
		snprintf(buf, len, "/mixer/%s/%s%s", who, param_names[p], norm ? "/norm" : "");
}

/* The message that would set the parameter to its current value. */
static lo_message param_message(const struct mx *m, int strip, enum mx_param p, int aux)
{
	lo_message msg = lo_message_new();
	float v = param_value(m, strip, p, aux);
	if (is_toggle(p) || (strip == MX_MASTER && p == MX_P_MUTE))
		lo_message_add_int32(msg, v != 0);
	else if (isinf(v))
		lo_message_add_string(msg, "-inf");
	else
		lo_message_add_float(msg, v);
	return msg;
}

static void feedback(struct mx *m, int strip, enum mx_param p, int aux)
{
	char path[64];
	if (!m->osc)
		return;
	lo_message msg = param_message(m, strip, p, aux);
	param_path(path, sizeof(path), strip, p, aux, false);
	cl_osc_broadcast_msg(m->osc, path, msg);
	lo_message_free(msg);
	if (is_fader(p)) {
		param_path(path, sizeof(path), strip, p, aux, true);
		cl_osc_broadcast(m->osc, path, "f", mixer_fader_norm(param_value(m, strip, p, aux)));
	}
}

/* Room for `count` commands towards the audio thread? */
static bool queue_has_room(struct mx *m, size_t count)
{
	return jack_ringbuffer_write_space(m->to_rt.rb) >= count * sizeof(struct cl_cmd);
}

static void mark_dirty(struct mx *m)
{
	if (m->nsm)
		cl_nsm_set_dirty(m->nsm, true);
}

/* Change one parameter everywhere. 0, or -1 when the queue is full. */
static int set_param(struct mx *m, int strip, enum mx_param p, int aux, float v)
{
	if (param_value(m, strip, p, aux) == v && !isnan(v))
		return 0;
	struct cl_cmd c = { .kind = MX_CMD_SET, .index = (uint32_t)strip, .a = p, .b = v,
			    .frame = aux };
	if (!engine_send(m, &c))
		return -1;
	store_value(m, strip, p, aux, v);
	/* A controller bound to this parameter must meet it again first. */
	cl_learn_release(&m->learn, &(struct cl_learn_target){ strip, p, aux });
	feedback(m, strip, p, aux);
	mark_dirty(m);
	return 0;
}

/* ---- OSC argument helpers ------------------------------------------ */

/* The strip named by path segment `seg` (0-based: "/mixer/3/volume" has the strip in segment 1). */
static int path_strip(struct cl_osc_request *req, int seg, int *strip)
{
	struct mx *m = req->userdata;
	const char *p = req->path;
	for (int i = 0; i < seg && p; i++)
		p = strchr(p + 1, '/');
	if (!p)
		return cl_osc_error(req, "bad address");
	char buf[16];
	size_t len = strcspn(p + 1, "/");
	if (len == 0 || len >= sizeof(buf))
		return cl_osc_error(req, "no strip %.*s (1..%d)", (int)(len < 16 ? len : 16), p + 1,
				    m->strips);
	memcpy(buf, p + 1, len);
	buf[len] = '\0';
	long n;
	if (cl_cli_parse_int(buf, 1, m->strips, &n) != 0)
		return cl_osc_error(req, "no strip %s (1..%d)", buf, m->strips);
	*strip = (int)n - 1;
	return 0;
}

static int path_aux(struct cl_osc_request *req, int seg, int *aux)
{
	struct mx *m = req->userdata;
	int k;
	if (m->aux == 0)
		return cl_osc_error(req, "this mixer has no aux buses");
	/* path_strip reads a 1-based number from a segment; reuse its parsing
	 * with the aux count as the range */
	const char *p = req->path;
	for (int i = 0; i < seg && p; i++)
		p = strchr(p + 1, '/');
	char buf[16];
	size_t len = p ? strcspn(p + 1, "/") : 0;
	long n;
	if (!p || len == 0 || len >= sizeof(buf))
		return cl_osc_error(req, "no aux bus (1..%d)", m->aux);
	memcpy(buf, p + 1, len);
	buf[len] = '\0';
	if (cl_cli_parse_int(buf, 1, m->aux, &n) != 0)
		return cl_osc_error(req, "no aux bus %s (1..%d)", buf, m->aux);
	k = (int)n - 1;
	*aux = k;
	return 0;
}

/* A level in dB: a finite number in [min, max] or the string "-inf". */
static int arg_db(struct cl_osc_request *req, double min, double max, float *out)
{
	int argc = lo_message_get_argc(req->msg);
	char *types = lo_message_get_types(req->msg);
	lo_arg **argv = lo_message_get_argv(req->msg);
	struct cl_osc_value v;
	const char *why;

	if (argc != 1)
		return cl_osc_error(req, "expected one level in dB (or \"-inf\")");
	if ((types[0] == 's' || types[0] == 'S') && strcasecmp((const char *)argv[0], "-inf") == 0) {
		*out = -INFINITY;
		return 0;
	}
	if (cl_osc_coerce('n', types[0], argv[0], &v, &why) != 0)
		return cl_osc_error(req, "%s (a level in dB, or \"-inf\")", why);
	if (v.n > max || v.n < min)
		return cl_osc_error(req, "level out of range (%g .. %g dB, or \"-inf\")", min, max);
	*out = v.n <= VOLUME_MIN_DB ? -INFINITY : (float)v.n;
	return 0;
}

static int answer(struct cl_osc_request *req, int strip, enum mx_param p, int aux)
{
	struct mx *m = req->userdata;
	char path[64];
	lo_message msg = param_message(m, strip, p, aux);
	param_path(path, sizeof(path), strip, p, aux, false);
	int r = cl_osc_reply_msg(req, path, msg);
	lo_message_free(msg);
	return r;
}

static int change(struct cl_osc_request *req, int strip, enum mx_param p, int aux, float v)
{
	if (set_param(req->userdata, strip, p, aux, v) != 0)
		return cl_osc_error(req, "command queue full; try again");
	return 0;
}

/* ---- strip methods ----------------------------------------------------- */

static int on_gain(struct cl_osc_request *req)
{
	int s;
	if (path_strip(req, 1, &s))
		return -1;
	if (req->argc == 0)
		return answer(req, s, MX_P_GAIN, 0);
	double v = req->argv[0].n;
	if (v < MIXER_GAIN_MIN_DB || v > MIXER_GAIN_MAX_DB)
		return cl_osc_error(req, "gain out of range (%g .. %g dB)", MIXER_GAIN_MIN_DB,
				    MIXER_GAIN_MAX_DB);
	return change(req, s, MX_P_GAIN, 0, (float)v);
}

static int fader(struct cl_osc_request *req, int strip, enum mx_param p, int aux)
{
	float db = 0.0f;
	if (lo_message_get_argc(req->msg) == 0)
		return answer(req, strip, p, aux);
	if (arg_db(req, -INFINITY, p == MX_P_SEND ? MIXER_SEND_MAX_DB : MIXER_VOLUME_MAX_DB, &db))
		return -1;
	return change(req, strip, p, aux, db);
}

static int fader_norm(struct cl_osc_request *req, int strip, enum mx_param p, int aux)
{
	struct mx *m = req->userdata;
	if (req->argc == 0) {
		char path[64];
		param_path(path, sizeof(path), strip, p, aux, true);
		return cl_osc_reply(req, path, "f", mixer_fader_norm(param_value(m, strip, p, aux)));
	}
	double x = req->argv[0].n;
	if (x < 0.0 || x > 1.0)
		return cl_osc_error(req, "position out of range (0 .. 1)");
	return change(req, strip, p, aux, mixer_fader_db((float)x));
}

static int on_volume(struct cl_osc_request *req)
{
	int s;
	return path_strip(req, 1, &s) ? -1 : fader(req, s, MX_P_VOLUME, 0);
}

static int on_volume_norm(struct cl_osc_request *req)
{
	int s;
	return path_strip(req, 1, &s) ? -1 : fader_norm(req, s, MX_P_VOLUME, 0);
}

static int on_pan(struct cl_osc_request *req)
{
	int s;
	if (path_strip(req, 1, &s))
		return -1;
	if (req->argc == 0)
		return answer(req, s, MX_P_PAN, 0);
	double v = req->argv[0].n;
	if (v < -1.0 || v > 1.0)
		return cl_osc_error(req, "pan out of range (-1 .. 1)");
	return change(req, s, MX_P_PAN, 0, (float)v);
}

static int toggle(struct cl_osc_request *req, enum mx_param p)
{
	int s;
	if (path_strip(req, 1, &s))
		return -1;
	if (req->argc == 0)
		return answer(req, s, p, 0);
	return change(req, s, p, 0, req->argv[0].b ? 1.0f : 0.0f);
}

static int on_mute(struct cl_osc_request *req) { return toggle(req, MX_P_MUTE); }
static int on_solo(struct cl_osc_request *req) { return toggle(req, MX_P_SOLO); }
static int on_phase(struct cl_osc_request *req) { return toggle(req, MX_P_PHASE); }

static int on_send(struct cl_osc_request *req)
{
	int s, k;
	if (path_strip(req, 1, &s) || path_aux(req, 3, &k))
		return -1;
	return fader(req, s, MX_P_SEND, k);
}

static int on_send_norm(struct cl_osc_request *req)
{
	int s, k;
	if (path_strip(req, 1, &s) || path_aux(req, 3, &k))
		return -1;
	return fader_norm(req, s, MX_P_SEND, k);
}

static int on_send_pre(struct cl_osc_request *req)
{
	int s, k;
	if (path_strip(req, 1, &s) || path_aux(req, 3, &k))
		return -1;
	if (req->argc == 0)
		return answer(req, s, MX_P_SEND_PRE, k);
	return change(req, s, MX_P_SEND_PRE, k, req->argv[0].b ? 1.0f : 0.0f);
}

/* Pretty names of a strip's ports follow its name. */
static void name_ports(struct mx *m, int s)
{
	char pretty[MX_NAME_MAX + 8];
	for (int c = 0; c < m->channels; c++) {
		if (m->channels == 1)
			snprintf(pretty, sizeof(pretty), "%s", m->names[s]);
		else
			snprintf(pretty, sizeof(pretty), "%s %s", m->names[s], c ? "R" : "L");
		if (cl_jack_is_up(&m->jack))
			cl_jack_set_pretty_name(&m->jack, mx_port_in(m, s, c), pretty);
	}
}

static int on_name(struct cl_osc_request *req)
{
	struct mx *m = req->userdata;
	int s;
	if (path_strip(req, 1, &s))
		return -1;
	if (req->argc == 0)
		return cl_osc_reply(req, req->path, "s", m->names[s]);
	const char *name = req->argv[0].s;
	size_t len = strlen(name);
	if (len == 0 || len >= MX_NAME_MAX)
		return cl_osc_error(req, "a name is 1 .. %d bytes", MX_NAME_MAX - 1);
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20)
			return cl_osc_error(req, "control characters are not allowed in a name");
	snprintf(m->names[s], MX_NAME_MAX, "%s", name);
	name_ports(m, s);
	cl_osc_broadcast(m->osc, req->path, "s", m->names[s]);
	mark_dirty(m);
	return 0;
}

static int on_loudness(struct cl_osc_request *req)
{
	struct mx *m = req->userdata;
	int s;
	if (path_strip(req, 1, &s))
		return -1;
	/* The first query starts the measurement; it needs 3 s to fill. */
	struct cl_cmd c = { .kind = MX_CMD_LOUDNESS, .index = (uint32_t)s };
	if (!engine_send(m, &c))
		return cl_osc_error(req, "command queue full; try again");
	return cl_osc_reply(req, req->path, "f", m->loudness[s]);
}

static int on_master_volume(struct cl_osc_request *req)
{
	return fader(req, MX_MASTER, MX_P_VOLUME, 0);
}

static int on_master_volume_norm(struct cl_osc_request *req)
{
	return fader_norm(req, MX_MASTER, MX_P_VOLUME, 0);
}

static int on_master_mute(struct cl_osc_request *req)
{
	if (req->argc == 0)
		return answer(req, MX_MASTER, MX_P_MUTE, 0);
	return change(req, MX_MASTER, MX_P_MUTE, 0, req->argv[0].b ? 1.0f : 0.0f);
}

/* ---- MIDI learn -------------------------------------------------------- */

/* Parse "<n|master> <param>" (param: gain volume pan mute solo phase
 * send/K send/K/pre) into a binding target {strip, param, aux}. */
static int learn_target(struct cl_osc_request *req, struct cl_learn_target *t)
{
	struct mx *m = req->userdata;
	int argc = lo_message_get_argc(req->msg);
	char *types = lo_message_get_types(req->msg);
	lo_arg **argv = lo_message_get_argv(req->msg);
	struct cl_osc_value v;
	const char *why;
	enum mx_param param;

	if (argc != 2 || (types[1] != 's' && types[1] != 'S'))
		return cl_osc_error(req, "expected <strip|master> <param>");
	if ((types[0] == 's' || types[0] == 'S') && strcmp((const char *)argv[0], "master") == 0) {
		t->a = MX_MASTER;
	} else if (cl_osc_coerce('i', types[0], argv[0], &v, &why) == 0 && v.i >= 1 &&
		   v.i <= m->strips) {
		t->a = (int)v.i - 1;
	} else {
		return cl_osc_error(req, "no strip (1..%d or master)", m->strips);
	}
	const char *name = (const char *)argv[1];
	if (param_parse(name, m->aux, &param, &t->c) != 0)
		return cl_osc_error(req, "no parameter %s (gain volume pan mute solo phase send/1..send/%d "
				    "send/K/pre)", name, m->aux);
	t->b = param;
	if (t->a == MX_MASTER && param != MX_P_VOLUME && param != MX_P_MUTE)
		return cl_osc_error(req, "the master has only volume and mute");
	return 0;
}

/* Mute of the master and the toggles switch; the rest are continuous. */
static bool target_toggles(const struct cl_learn_target *t)
{
	return is_toggle((enum mx_param)t->b) || (t->a == MX_MASTER && t->b == MX_P_MUTE);
}

static int on_learn(struct cl_osc_request *req)
{
	struct mx *m = req->userdata;
	struct cl_learn_target t;
	if (learn_target(req, &t))
		return -1;
	cl_learn_arm(&m->learn, t, target_toggles(&t));
	cl_info("learning: the next CC on midi_in binds to %s", req->path);
	return 0;
}

static int on_unlearn(struct cl_osc_request *req)
{
	struct mx *m = req->userdata;
	struct cl_learn_target t;
	if (learn_target(req, &t))
		return -1;
	if (cl_learn_forget(&m->learn, &t))
		mark_dirty(m);
	return 0;
}

static float learn_get(void *userdata, const struct cl_learn_target *t)
{
	struct mx *m = userdata;
	return param_norm((enum mx_param)t->b, param_value(m, t->a, (enum mx_param)t->b, t->c));
}

static void learn_set(void *userdata, const struct cl_learn_target *t, float x)
{
	set_param(userdata, t->a, (enum mx_param)t->b, t->c, param_from_norm((enum mx_param)t->b, x));
}

/* Send /mixer/learn <strip|master> <param> <channel 1..16> <cc> to subscribers. */
static void learn_bound(void *userdata, const struct cl_binding *b)
{
	struct mx *m = userdata;
	char param[24], who[16];
	param_label(param, sizeof(param), (enum mx_param)b->target.b, b->target.c);
	strip_label(who, sizeof(who), b->target.a);
	cl_osc_broadcast(m->osc, "/mixer/learn", "ssii", who, param, b->channel + 1, b->cc);
	mark_dirty(m);
	cl_info("MIDI learn: channel %d CC %d bound to %s %s", b->channel + 1, b->cc, who, param);
}

static const struct cl_learn_ops learn_ops = {
	.get_norm = learn_get, .set_norm = learn_set, .bound = learn_bound,
};

/* ---- meters and events ----------------------------------------------- */

static double ts_seconds(const struct timespec *t)
{
	return (double)t->tv_sec + t->tv_nsec / 1e9;
}

static void publish_meter(struct mx *m, int i, const struct cl_cmd *ev)
{
	struct mx_meter_view *v = &m->meters[i];
	struct mixer_meter mt = { .peak = (float)ev->a, .sum_sq = ev->b, .count = (uint32_t)ev->frame };
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	v->peak_db = mixer_meter_peak_db(&mt);
	v->rms_db = mixer_meter_rms_db(&mt);
	if (v->peak_db >= v->hold_db || ts_seconds(&now) >= ts_seconds(&v->hold_until)) {
		v->hold_db = v->peak_db;
		v->hold_until = now;
		v->hold_until.tv_sec += (time_t)MX_PEAK_HOLD_S;
		v->hold_until.tv_nsec += (long)((MX_PEAK_HOLD_S - (time_t)MX_PEAK_HOLD_S) * 1e9);
		if (v->hold_until.tv_nsec >= 1000000000L) {
			v->hold_until.tv_sec++;
			v->hold_until.tv_nsec -= 1000000000L;
		}
	}
	if (!m->osc || cl_osc_subscriber_count(m->osc) == 0)
		return;
	lo_message msg = lo_message_new();
	char who[16];
	if (i < m->strips) {
		lo_message_add_int32(msg, i + 1);
	} else if (i == m->strips) {
		lo_message_add_string(msg, "master");
	} else {
		snprintf(who, sizeof(who), "aux%d", i - m->strips);
		lo_message_add_string(msg, who);
	}
	lo_message_add_float(msg, v->peak_db);
	lo_message_add_float(msg, v->rms_db);
	lo_message_add_float(msg, v->hold_db);
	cl_osc_broadcast_msg(m->osc, "/mixer/meter", msg);
	lo_message_free(msg);
}

void control_events(struct mx *m)
{
	struct cl_cmd ev;
	while (cl_cmdq_pop(&m->from_rt, &ev)) {
		switch (ev.kind) {
		case MX_EV_METER:
			if ((int)ev.index < m->strips + 1 + m->aux)
				publish_meter(m, (int)ev.index, &ev);
			break;
		case MX_EV_CC:
			if (cl_learn_cc(&m->learn, (int)ev.index, (int)ev.a, (int)ev.b, &learn_ops, m) ==
			    CL_LEARN_FULL)
				cl_warn("MIDI learn: all %d bindings are in use", CL_LEARN_MAX);
			break;
		case MX_EV_LOUDNESS:
			if ((int)ev.index < m->strips)
				m->loudness[ev.index] = (float)ev.a;
			break;
		}
	}
}

/* ---- documents ---------------------------------------------------------- */

static json_t *db_json(float db)
{
	return isinf(db) ? json_string("-inf") : json_real(db);
}

static json_t *state_json(const struct mx *m, bool with_midi)
{
	json_t *strips = json_array();
	for (int s = 0; s < m->strips; s++) {
		const struct mixer_strip_params *p = &m->p[s];
		json_t *sends = json_array(), *pre = json_array();
		for (int k = 0; k < m->aux; k++) {
			json_array_append_new(sends, db_json(p->send_db[k]));
			json_array_append_new(pre, json_boolean(p->send_pre[k]));
		}
		json_array_append_new(strips, json_pack(
			"{s:s, s:f, s:o, s:f, s:b, s:b, s:b, s:o, s:o}",
			"name", m->names[s], "gain", p->gain_db, "volume", db_json(p->volume_db),
			"pan", p->pan, "mute", p->mute, "solo", p->solo, "phase", p->phase,
			"sends", sends, "send_pre", pre));
	}
	json_t *doc = json_pack("{s:s, s:i, s:i, s:o, s:{s:o, s:b}}",
		"schema", MX_SCHEMA_KIND "/1", "channels", m->channels, "aux", m->aux,
		"strips", strips, "master", "volume", db_json(m->master_db), "mute", m->master_mute);
	if (with_midi) {
		json_t *midi = json_array();
		for (int i = 0; i < m->learn.count; i++) {
			const struct cl_binding *b = &m->learn.bindings[i];
			char param[24];
			param_label(param, sizeof(param), (enum mx_param)b->target.b, b->target.c);
			json_array_append_new(midi, json_pack("{s:i, s:i, s:o, s:s}",
				"channel", b->channel + 1, "cc", b->cc,
				"strip", b->target.a == MX_MASTER ? json_string("master")
								   : json_integer(b->target.a + 1),
				"param", param));
		}
		json_object_set_new(doc, "midi", midi);
	}
	return doc;
}

json_t *control_state_get(void *userdata)
{
	return state_json(userdata, true);
}

static const struct cl_schema state_schema = {
	.kind = MX_SCHEMA_KIND, .version = MX_SCHEMA_VERSION, .oldest = 1,
};

/* A level member: a number in [min, max] or "-inf" (allowed when
 * allow_off); absent leaves *out alone. */
static int read_db(json_t *obj, const char *key, double min, double max, bool allow_off,
		   float *out, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (allow_off && json_is_string(v) && strcmp(json_string_value(v), "-inf") == 0) {
		*out = -INFINITY;
		return 0;
	}
	if (!json_is_number(v) || !(json_number_value(v) >= min && json_number_value(v) <= max))
		return cl_fail(err, errlen, "%s\"%s\" must be a number in %g .. %g%s", where, key, min, max,
			   allow_off ? " or \"-inf\"" : "");
	*out = (float)json_number_value(v);
	if (allow_off && *out <= VOLUME_MIN_DB)
		*out = -INFINITY;
	return 0;
}

static int read_bool(json_t *obj, const char *key, bool *out, const char *where,
		     char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return cl_fail(err, errlen, "%s\"%s\" must be true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

/* Parse and check a state or scene document into d, starting from m's
 * current state (so absent members keep their values). */
static int parse_doc(const struct mx *m, json_t **docp, struct mx_doc *d, char *err, size_t errlen)
{
	static const char *const top_keys[] = { "schema", "channels", "aux", "strips", "master",
						"midi", NULL };
	static const char *const strip_keys[] = { "name", "gain", "volume", "pan", "mute", "solo",
						  "phase", "sends", "send_pre", NULL };
	static const char *const master_keys[] = { "volume", "mute", NULL };
	static const char *const midi_keys[] = { "channel", "cc", "strip", "param", NULL };

	if (cl_doc_check_schema(docp, &state_schema, err, errlen) != 0)
		return -1;
	json_t *doc = *docp;
	if (cl_doc_known_keys(doc, top_keys, "", err, errlen))
		return -1;

	memcpy(d->p, m->p, sizeof(d->p));
	memcpy(d->names, m->names, sizeof(d->names));
	d->master_db = m->master_db;
	d->master_mute = m->master_mute;
	d->strips = 0;
	d->has_midi = false;
	cl_learn_init(&d->midi);

	json_t *strips = json_object_get(doc, "strips");
	if (strips) {
		if (!json_is_array(strips))
			return cl_fail(err, errlen, "\"strips\" must be an array");
		if ((int)json_array_size(strips) > m->strips)
			return cl_fail(err, errlen, "the document has %zu strips, this mixer %d",
				   json_array_size(strips), m->strips);
		d->strips = (int)json_array_size(strips);
		for (int s = 0; s < d->strips; s++) {
			json_t *js = json_array_get(strips, (size_t)s);
			struct mixer_strip_params *p = &d->p[s];
			char where[32];
			snprintf(where, sizeof(where), "strip %d: ", s + 1);
			if (!json_is_object(js))
				return cl_fail(err, errlen, "%smust be an object", where);
			if (cl_doc_known_keys(js, strip_keys, where, err, errlen) ||
			    read_db(js, "gain", MIXER_GAIN_MIN_DB, MIXER_GAIN_MAX_DB, false, &p->gain_db,
				    where, err, errlen) ||
			    read_db(js, "volume", -1e9, MIXER_VOLUME_MAX_DB, true, &p->volume_db, where,
				    err, errlen) ||
			    read_db(js, "pan", -1, 1, false, &p->pan, where, err, errlen) ||
			    read_bool(js, "mute", &p->mute, where, err, errlen) ||
			    read_bool(js, "solo", &p->solo, where, err, errlen) ||
			    read_bool(js, "phase", &p->phase, where, err, errlen))
				return -1;
			json_t *name = json_object_get(js, "name");
			if (name) {
				if (!json_is_string(name) || json_string_length(name) == 0 ||
				    json_string_length(name) >= MX_NAME_MAX)
					return cl_fail(err, errlen, "%s\"name\" must be a string of 1 .. %d bytes",
						   where, MX_NAME_MAX - 1);
				snprintf(d->names[s], MX_NAME_MAX, "%s", json_string_value(name));
			}
			json_t *sends = json_object_get(js, "sends"), *pre = json_object_get(js, "send_pre");
			if (sends) {
				if (!json_is_array(sends) || (int)json_array_size(sends) > m->aux)
					return cl_fail(err, errlen, "%s\"sends\" must be a list of at most %d levels",
						   where, m->aux);
				for (size_t k = 0; k < json_array_size(sends); k++) {
					json_t *wrap = json_pack("{s:O}", "send", json_array_get(sends, k));
					int r = read_db(wrap, "send", -1e9, MIXER_SEND_MAX_DB, true,
							&p->send_db[k], where, err, errlen);
					json_decref(wrap);
					if (r)
						return -1;
				}
			}
			if (pre) {
				if (!json_is_array(pre) || (int)json_array_size(pre) > m->aux)
					return cl_fail(err, errlen, "%s\"send_pre\" must be a list of at most %d booleans",
						   where, m->aux);
				for (size_t k = 0; k < json_array_size(pre); k++) {
					json_t *v = json_array_get(pre, k);
					if (!json_is_boolean(v))
						return cl_fail(err, errlen, "%s\"send_pre\" must hold booleans", where);
					p->send_pre[k] = json_is_true(v);
				}
			}
		}
	}
	json_t *master = json_object_get(doc, "master");
	if (master && !json_is_object(master))
		return cl_fail(err, errlen, "\"master\" must be an object");
	if (master && (cl_doc_known_keys(master, master_keys, "master: ", err, errlen) ||
		       read_db(master, "volume", -1e9, MIXER_VOLUME_MAX_DB, true, &d->master_db,
			       "master: ", err, errlen) ||
		       read_bool(master, "mute", &d->master_mute, "master: ", err, errlen)))
		return -1;
	json_t *midi = json_object_get(doc, "midi");
	if (midi) {
		if (!json_is_array(midi) || json_array_size(midi) > CL_LEARN_MAX)
			return cl_fail(err, errlen, "\"midi\" must be a list of at most %d bindings",
				   CL_LEARN_MAX);
		d->has_midi = true;
		for (size_t i = 0; i < json_array_size(midi); i++) {
			json_t *jb = json_array_get(midi, i);
			char where[32];
			snprintf(where, sizeof(where), "midi %zu: ", i + 1);
			if (!json_is_object(jb) || cl_doc_known_keys(jb, midi_keys, where, err, errlen))
				return json_is_object(jb) ? -1 : cl_fail(err, errlen, "%smust be an object", where);
			json_t *st = json_object_get(jb, "strip"), *pa = json_object_get(jb, "param");
			int channel, cc;
			struct cl_learn_target t;
			enum mx_param param;
			if (cl_learn_read_json(jb, &channel, &cc, where, err, errlen))
				return -1;
			if (json_is_string(st) && strcmp(json_string_value(st), "master") == 0)
				t.a = MX_MASTER;
			else if (json_is_integer(st) && json_integer_value(st) >= 1 &&
				 json_integer_value(st) <= m->strips)
				t.a = (int)json_integer_value(st) - 1;
			else
				return cl_fail(err, errlen, "%s\"strip\" must be 1..%d or \"master\"", where, m->strips);
			const char *name = json_is_string(pa) ? json_string_value(pa) : "";
			if (param_parse(name, m->aux, &param, &t.c) != 0)
				return cl_fail(err, errlen, "%sunknown \"param\" \"%s\"", where, name);
			t.b = param;
			if (t.a == MX_MASTER && param != MX_P_VOLUME && param != MX_P_MUTE)
				return cl_fail(err, errlen, "%sthe master has only volume and mute", where);
			cl_learn_add(&d->midi, channel, cc, t, target_toggles(&t));
		}
	}
	return 0;
}

/* Upper bound of the commands that moving m to d queues. */
static size_t doc_changes(const struct mx *m, const struct mx_doc *d)
{
	return (size_t)d->strips * (6 + 2 * (size_t)m->aux) + 2 + 2;
}

/* Apply a checked document; fade_s > 0 crossfades every parameter. */
static int apply_doc(struct mx *m, const struct mx_doc *d, float fade_s)
{
	if (!queue_has_room(m, doc_changes(m, d)))
		return -1;
	struct cl_cmd c = { .kind = MX_CMD_RAMP_TIME, .a = fade_s > 0 ? fade_s : MIXER_RAMP_S };
	engine_send(m, &c);
	for (int s = 0; s < d->strips; s++) {
		const struct mixer_strip_params *p = &d->p[s];
		set_param(m, s, MX_P_GAIN, 0, p->gain_db);
		set_param(m, s, MX_P_VOLUME, 0, p->volume_db);
		set_param(m, s, MX_P_PAN, 0, p->pan);
		set_param(m, s, MX_P_MUTE, 0, p->mute);
		set_param(m, s, MX_P_SOLO, 0, p->solo);
		set_param(m, s, MX_P_PHASE, 0, p->phase);
		for (int k = 0; k < m->aux; k++) {
			set_param(m, s, MX_P_SEND, k, p->send_db[k]);
			set_param(m, s, MX_P_SEND_PRE, k, p->send_pre[k]);
		}
		if (strcmp(m->names[s], d->names[s]) != 0) {
			snprintf(m->names[s], MX_NAME_MAX, "%s", d->names[s]);
			name_ports(m, s);
			if (m->osc) {
				char path[48];
				snprintf(path, sizeof(path), "/mixer/%d/name", s + 1);
				cl_osc_broadcast(m->osc, path, "s", m->names[s]);
			}
		}
	}
	set_param(m, MX_MASTER, MX_P_VOLUME, 0, d->master_db);
	set_param(m, MX_MASTER, MX_P_MUTE, 0, d->master_mute);
	c.a = MIXER_RAMP_S;
	engine_send(m, &c);
	if (d->has_midi) {
		memcpy(m->learn.bindings, d->midi.bindings,
		       sizeof(d->midi.bindings[0]) * (size_t)d->midi.count);
		m->learn.count = d->midi.count;
	}
	return 0;
}

int control_state_set(void *userdata, json_t *doc, char *err, size_t errlen)
{
	struct mx *m = userdata;
	struct mx_doc *d = calloc(1, sizeof(*d));
	json_t *owned = json_incref(doc);
	int r = -1;
	if (!d)
		r = cl_fail(err, errlen, "out of memory");
	else if (parse_doc(m, &owned, d, err, errlen) == 0) {
		r = apply_doc(m, d, 0.0f);
		if (r != 0)
			cl_fail(err, errlen, "command queue full; try again");
	}
	json_decref(owned);
	free(d);
	return r;
}

/* ---- scenes -------------------------------------------------------------- */

/* Scene ids are file names under <store>/scenes: letters, digits, '-',
 * '_' and '.', not starting with '.', so no id can leave the folder. */
static int on_scene_save(struct cl_osc_request *req)
{
	struct mx *m = req->userdata;
	char err[512];
	json_t *doc = state_json(m, false);
	int r = cl_store_save(m->opt.store, "scenes", req->argv[0].s, doc, err, sizeof(err));
	json_decref(doc);
	if (r != 0)
		return cl_osc_error(req, "%s", err);
	return cl_osc_reply(req, "/mixer/scene/save", "s", req->argv[0].s);
}

static int on_scene_recall(struct cl_osc_request *req)
{
	struct mx *m = req->userdata;
	char path[4096], err[512];
	double fade = req->argc > 1 ? req->argv[1].n : 0.0;
	if (fade < 0.0 || fade > SCENE_MAX_FADE_S)
		return cl_osc_error(req, "fade out of range (0 .. %g s)", SCENE_MAX_FADE_S);
	if (cl_store_path(m->opt.store, "scenes", req->argv[0].s, path, sizeof(path), err, sizeof(err)))
		return cl_osc_error(req, "%s", err);
	json_t *doc = cl_doc_load_file(path, err, sizeof(err));
	if (!doc)
		return cl_osc_error(req, "%s", err);
	struct mx_doc *d = calloc(1, sizeof(*d));
	int r = d ? parse_doc(m, &doc, d, err, sizeof(err)) : -1;
	json_decref(doc);
	if (r != 0) {
		free(d);
		return cl_osc_error(req, "scene %s: %s", req->argv[0].s, d ? err : "out of memory");
	}
	d->has_midi = false;   /* a scene moves the mix, not the controller map */
	r = apply_doc(m, d, (float)fade);
	free(d);
	if (r != 0)
		return cl_osc_error(req, "command queue full; try again");
	cl_osc_broadcast(m->osc, "/mixer/scene/recall", "sf", req->argv[0].s, (float)fade);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int on_scene_list(struct cl_osc_request *req)
{
	struct mx *m = req->userdata;
	char dir[4096];
	if (!m->opt.store)
		return cl_osc_error(req, "no store root: start cl-mixer with --store DIR");
	snprintf(dir, sizeof(dir), "%s/scenes", m->opt.store);
	lo_message msg = lo_message_new();
	DIR *dh = opendir(dir);
	char *ids[512];
	int n = 0;
	struct dirent *de;
	while (dh && (de = readdir(dh)) && n < 512) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		ids[n] = strndup(de->d_name, len - 5);
		if (ids[n])
			n++;
	}
	if (dh)
		closedir(dh);
	qsort(ids, (size_t)n, sizeof(ids[0]), compare_names);
	for (int i = 0; i < n; i++) {
		lo_message_add_string(msg, ids[i]);
		free(ids[i]);
	}
	int r = cl_osc_reply_msg(req, "/mixer/scene/list", msg);
	lo_message_free(msg);
	return r;
}

/* Send every parameter to subscribers (a new surface wants the picture). */
void control_push_all(struct mx *m)
{
	for (int s = 0; s < m->strips; s++) {
		for (int p = 0; p < MX_P_SEND; p++)
			feedback(m, s, (enum mx_param)p, 0);
		for (int k = 0; k < m->aux; k++) {
			feedback(m, s, MX_P_SEND, k);
			feedback(m, s, MX_P_SEND_PRE, k);
		}
	}
	feedback(m, MX_MASTER, MX_P_VOLUME, 0);
	feedback(m, MX_MASTER, MX_P_MUTE, 0);
}

static int on_refresh(struct cl_osc_request *req)
{
	control_push_all(req->userdata);
	return 0;
}

const struct cl_osc_method control_methods[] = {
	{ "/mixer/master/volume", "*", on_master_volume, "[<dB>|\"-inf\"]: master fader, -inf..+12" },
	{ "/mixer/master/volume/norm", "|n", on_master_volume_norm, "[<0..1>]: master fader position" },
	{ "/mixer/master/mute", "|b", on_master_mute, "[on|off]: master mute" },
	{ "/mixer/*/gain", "|n", on_gain, "[<dB>]: input gain, -24..+24" },
	{ "/mixer/*/volume", "*", on_volume, "[<dB>|\"-inf\"]: fader, -inf..+12" },
	{ "/mixer/*/volume/norm", "|n", on_volume_norm, "[<0..1>]: fader position (TouchOSC, CC curve)" },
	{ "/mixer/*/pan", "|n", on_pan, "[<-1..1>]: constant-power pan (balance on stereo strips)" },
	{ "/mixer/*/mute", "|b", on_mute, "[on|off]" },
	{ "/mixer/*/solo", "|b", on_solo, "[on|off]: solo in place" },
	{ "/mixer/*/phase", "|b", on_phase, "[on|off]: invert polarity" },
	{ "/mixer/*/send/*/pre", "|b", on_send_pre, "[on|off]: send before the fader" },
	{ "/mixer/*/send/*/norm", "|n", on_send_norm, "[<0..1>]: send level position" },
	{ "/mixer/*/send/*", "*", on_send, "[<dB>|\"-inf\"]: send level to aux K, -inf..+12" },
	{ "/mixer/*/name", "|s", on_name, "[<name>]: strip name (also the ports' pretty names)" },
	{ "/mixer/*/loudness", "", on_loudness,
	  "answer the strip input's short-term loudness (LUFS; the first query starts measuring)" },
	{ "/mixer/learn", "*", on_learn,
	  "<strip|master> <param>: bind the next CC on midi_in (param gain volume pan mute solo phase send/K send/K/pre)" },
	{ "/mixer/unlearn", "*", on_unlearn, "<strip|master> <param>: remove its CC bindings" },
	{ "/mixer/scene/save", "s", on_scene_save, "<id>: save the mix as <store>/scenes/<id>.json" },
	{ "/mixer/scene/recall", "s|n", on_scene_recall,
	  "<id> [<fade s>]: recall a scene, crossfading every parameter over the fade" },
	{ "/mixer/scene/list", "", on_scene_list, "answer /mixer/scene/list <id>..." },
	{ "/mixer/refresh", "", on_refresh, "send every parameter to the subscribers" },
};
const size_t control_method_count = sizeof(control_methods) / sizeof(control_methods[0]);

static json_t *on_status(void *userdata)
{
	struct mx *m = userdata;
	double median, p99;
	cl_cycle_summary(&m->eng.stats, &median, &p99);
	return json_pack("{s:s, s:s, s:{s:b, s:s?, s:i, s:i}, s:{s:i, s:i, s:i, s:i},"
			 " s:{s:I, s:f, s:f, s:f, s:i}}",
		"program", MX_PROG, "version", CL_VERSION,
		"jack", "connected", cl_jack_is_up(&m->jack), "client", m->session.jack_name,
		"rate", (int)m->jack.sample_rate, "period", (int)m->jack.buffer_size,
		"mixer", "strips", m->strips, "channels", m->channels, "aux", m->aux,
		"midi_bindings", m->learn.count,
		"dsp", "cycles", (json_int_t)m->eng.stats.cycles, "cycle_us_median", median,
		"cycle_us_p99", p99, "cycle_us_max", m->eng.stats.max_us,
		"event_overruns", (int)m->eng.event_overruns);
}

static void on_quit(void *userdata)
{
	struct mx *m = userdata;
	m->quit = true;
}

const struct cl_osc_hooks control_hooks_template = {
	.status = on_status,
	.state_get = control_state_get,
	.state_set = control_state_set,
	.quit = on_quit,
};
