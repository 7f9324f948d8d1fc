/*
 * The control surface of cl-transport: OSC methods, the state document, and
 * what subscribers hear.
 *
 * Handlers validate everything before they change anything, then update
 * the control thread's view (tempo, meter, loop, click), queue a command
 * for the audio thread and echo the change to subscribers as the message
 * that would set it. Position feedback comes from the snapshots the audio
 * thread publishes: /transport/state at once on every change of state,
 * position jump or tempo, and 30 times a second while rolling.
 */
#include "transport.h"

#include <math.h>
#include <string.h>
#include <jack/transport.h>

#include "cl_doc.h"
#include "cl_log.h"
#include "cl_osc.h"

#define MIN_LOOP_S 0.05
#define TAP_RESET_S 2.0
#define CLICK_MIN_DB -60.0
#define CLICK_MAX_DB 0.0

static double ts_seconds(const struct timespec *ts)
{
	return (double)ts->tv_sec + ts->tv_nsec / 1e9;
}

/* Sample rate for second/frame conversions: the server's, or 48 kHz until
 * the first cycle has run. */
static uint32_t current_rate(const struct transport *t)
{
	if (t->have_snap && t->snap.rate)
		return t->snap.rate;
	if (cl_jack_is_up(&t->jack))
		return t->jack.sample_rate;
	return 48000;
}

static bool is_playing(const struct transport *t)
{
	return t->have_snap && t->snap.state == JackTransportRolling;
}

/* Build /transport/state from a snapshot. */
static lo_message state_message(const struct transport *t)
{
	const struct tp_snapshot *s = &t->snap;
	lo_message m = lo_message_new();
	uint32_t rate = s->rate ? s->rate : current_rate(t);
	lo_message_add_int32(m, s->state == JackTransportRolling);
	lo_message_add_float(m, (float)((double)s->frame / rate));
	lo_message_add_float(m, (float)(s->bbt_valid ? s->bpm : t->bpm));
	lo_message_add_float(m, (float)s->beats);
	lo_message_add_int32(m, s->bar);
	lo_message_add_int32(m, s->beat);
	lo_message_add_int32(m, s->tick);
	lo_message_add_int64(m, s->frame);
	return m;
}

static void broadcast_state(struct transport *t)
{
	if (!t->osc || !t->have_snap)
		return;
	lo_message m = state_message(t);
	cl_osc_broadcast_msg(t->osc, "/transport/state", m);
	lo_message_free(m);
}

void control_publish(struct transport *t, const struct tp_snapshot *prev)
{
	const struct tp_snapshot *s = &t->snap;
	bool changed = !prev || prev->state != s->state ||
		       prev->relocations != s->relocations ||
		       prev->bpm != s->bpm || prev->beats_per_bar != s->beats_per_bar ||
		       prev->beat_type != s->beat_type || prev->bbt_valid != s->bbt_valid;
	if (!changed)
		return;
	broadcast_state(t);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* the 30 Hz stream restarts from this message */
	t->next_state = now;
	t->next_state.tv_nsec += (long)(1e9 / TP_STATE_HZ);
	if (t->next_state.tv_nsec >= 1000000000L) {
		t->next_state.tv_sec++;
		t->next_state.tv_nsec -= 1000000000L;
	}
}

void control_tick(struct transport *t, const struct timespec *now)
{
	if (!is_playing(t))
		return;
	double due = ts_seconds(&t->next_state), at = ts_seconds(now);
	if (at < due)
		return;
	broadcast_state(t);
	/* Keep a steady 30 Hz grid; after a stall, restart it from now. */
	double next = at - due > 0.5 ? at + 1.0 / TP_STATE_HZ : due + 1.0 / TP_STATE_HZ;
	t->next_state.tv_sec = (time_t)next;
	t->next_state.tv_nsec = (long)((next - (double)t->next_state.tv_sec) * 1e9);
}

static int need_jack(struct cl_osc_request *req, struct transport *t)
{
	if (!cl_jack_is_up(&t->jack))
		return cl_osc_error(req, "the JACK server is away; waiting for it to return");
	return 0;
}

static int need_master(struct cl_osc_request *req, struct transport *t)
{
	if (!t->eng.master)
		return cl_osc_error(req, "following another timebase master, which owns tempo and bars");
	return 0;
}

static int queue(struct cl_osc_request *req, struct transport *t, const struct cl_cmd *cmd)
{
	if (!engine_send(t, cmd))
		return cl_osc_error(req, "command queue full; try again");
	return 0;
}

static int on_play(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	struct cl_cmd c = { .kind = TP_CMD_PLAY };
	if (need_jack(req, t))
		return -1;
	return queue(req, t, &c);
}

static int on_stop(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	struct cl_cmd c = { .kind = TP_CMD_STOP };
	if (need_jack(req, t))
		return -1;
	return queue(req, t, &c);
}

static int on_toggle(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	struct cl_cmd c = { .kind = TP_CMD_TOGGLE };
	if (need_jack(req, t))
		return -1;
	return queue(req, t, &c);
}

static int locate_frame(struct cl_osc_request *req, struct transport *t, double frame)
{
	if (need_jack(req, t))
		return -1;
	if (!(frame >= 0.0 && frame <= (double)UINT32_MAX))
		return cl_osc_error(req, "position out of range (0 .. %u frames)", UINT32_MAX);
	struct cl_cmd c = { .kind = TP_CMD_LOCATE_FRAME, .frame = (int64_t)llround(frame) };
	return queue(req, t, &c);
}

static int on_locate(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	return locate_frame(req, t, req->argv[0].n * current_rate(t));
}

static int on_locate_frame(struct cl_osc_request *req)
{
	return locate_frame(req, req->userdata, (double)req->argv[0].i);
}

static int on_locate_bbt(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	int64_t bar = req->argv[0].i;
	int64_t beat = req->argc > 1 ? req->argv[1].i : 1;
	int64_t tick = req->argc > 2 ? req->argv[2].i : 0;

	if (need_jack(req, t) || need_master(req, t))
		return -1;
	if (bar < 1 || bar > 1000000)
		return cl_osc_error(req, "bar out of range (1 .. 1000000)");
	if (beat < 1 || beat > t->beats_per_bar)
		return cl_osc_error(req, "beat out of range (1 .. %d)", t->beats_per_bar);
	if (tick < 0 || tick >= (int64_t)TL_TICKS_PER_BEAT)
		return cl_osc_error(req, "tick out of range (0 .. 1919)");
	struct cl_cmd c = { .kind = TP_CMD_LOCATE_BBT, .a = (double)bar, .b = (double)beat,
			    .c = (double)tick };
	return queue(req, t, &c);
}

/* Queue the tempo and meter the control thread holds. */
static int send_tempo(struct cl_osc_request *req, struct transport *t, bool immediate)
{
	struct cl_cmd c = { .kind = TP_CMD_TEMPO, .index = immediate, .a = t->bpm,
			    .b = t->beats_per_bar, .c = t->beat_type };
	if (!engine_send(t, &c))
		return req ? cl_osc_error(req, "command queue full; try again") : -1;
	return 0;
}

/* Set tempo (and echo it); shared by /transport/bpm and /transport/tap. */
static int set_bpm(struct cl_osc_request *req, struct transport *t, double bpm, bool immediate)
{
	if (!tl_valid_tempo(bpm, t->beats_per_bar, t->beat_type))
		return cl_osc_error(req, "bpm out of range (%g .. %g)", TL_MIN_BPM, TL_MAX_BPM);
	double old = t->bpm;
	t->bpm = bpm;
	if (send_tempo(req, t, immediate) != 0) {
		t->bpm = old;
		return -1;
	}
	cl_osc_broadcast(t->osc, "/transport/bpm", "f", (float)bpm);
	if (t->nsm)
		cl_nsm_set_dirty(t->nsm, true);
	return 0;
}

static int on_bpm(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	if (req->argc == 0)
		return cl_osc_reply(req, "/transport/bpm", "f", (float)t->bpm);
	if (need_master(req, t))
		return -1;
	return set_bpm(req, t, req->argv[0].n, req->argc > 1 && req->argv[1].b);
}

static int on_meter(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	if (req->argc == 0)
		return cl_osc_reply(req, "/transport/meter", "ii", t->beats_per_bar, t->beat_type);
	if (req->argc < 2)
		return cl_osc_error(req, "expected <beats per bar> <beat type> [immediate]");
	if (need_master(req, t))
		return -1;
	int64_t bpb = req->argv[0].i, bt = req->argv[1].i;
	if (!tl_valid_tempo(t->bpm, bpb < 1 || bpb > 64 ? 0 : (int)bpb, bt < 1 || bt > 64 ? 0 : (int)bt))
		return cl_osc_error(req, "meter out of range (1..%d beats of 1, 2, 4, 8, 16 or 32)",
				    TL_MAX_BEATS_PER_BAR);
	int old_bpb = t->beats_per_bar, old_bt = t->beat_type;
	t->beats_per_bar = (int)bpb;
	t->beat_type = (int)bt;
	if (send_tempo(req, t, req->argc > 2 && req->argv[2].b) != 0) {
		t->beats_per_bar = old_bpb;
		t->beat_type = old_bt;
		return -1;
	}
	cl_osc_broadcast(t->osc, "/transport/meter", "ii", t->beats_per_bar, t->beat_type);
	if (t->nsm)
		cl_nsm_set_dirty(t->nsm, true);
	return 0;
}

/* Tap tempo: the mean interval of the recent taps; a pause longer than
 * TAP_RESET_S starts a new series. */
static int on_tap(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	struct timespec now;
	if (need_master(req, t))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (t->ntaps > 0 && ts_seconds(&now) - ts_seconds(&t->taps[t->ntaps - 1]) > TAP_RESET_S)
		t->ntaps = 0;
	if (t->ntaps == TP_TAP_MAX) {
		memmove(t->taps, t->taps + 1, (TP_TAP_MAX - 1) * sizeof(t->taps[0]));
		t->ntaps--;
	}
	t->taps[t->ntaps++] = now;
	if (t->ntaps < 2)
		return 0;
	double span = ts_seconds(&t->taps[t->ntaps - 1]) - ts_seconds(&t->taps[0]);
	double bpm = 60.0 * (t->ntaps - 1) / span;
	bpm = fmin(fmax(bpm, TL_MIN_BPM), TL_MAX_BPM);
	/* tapped tempo is for the bar in progress: apply at once */
	return set_bpm(req, t, round(bpm * 100.0) / 100.0, true);
}

static int apply_loop(struct transport *t, bool on, double start, double end)
{
	uint32_t rate = current_rate(t);
	struct cl_cmd c = { .kind = TP_CMD_LOOP, .index = on, .a = round(start * rate),
			    .b = round(end * rate) };
	if (!engine_send(t, &c))
		return -1;
	t->loop_on = on;
	t->loop_start_s = start;
	t->loop_end_s = end;
	return 0;
}

static int on_loop(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	int argc = lo_message_get_argc(req->msg);
	char *types = lo_message_get_types(req->msg);
	lo_arg **argv = lo_message_get_argv(req->msg);
	struct cl_osc_value v[2];
	const char *why;

	if (argc == 0) {
		if (!t->loop_on)
			return cl_osc_reply(req, "/transport/loop", "s", "off");
		return cl_osc_reply(req, "/transport/loop", "ff", (float)t->loop_start_s,
				    (float)t->loop_end_s);
	}
	if (argc == 1) {
		if (cl_osc_coerce('b', types[0], argv[0], &v[0], &why) != 0 || v[0].b)
			return cl_osc_error(req, "expected <start seconds> <end seconds> or off");
		if (apply_loop(t, false, t->loop_start_s, t->loop_end_s) != 0)
			return cl_osc_error(req, "command queue full; try again");
		cl_osc_broadcast(t->osc, "/transport/loop", "s", "off");
		return 0;
	}
	if (argc != 2)
		return cl_osc_error(req, "expected <start seconds> <end seconds> or off");
	for (int i = 0; i < 2; i++)
		if (cl_osc_coerce('n', types[i], argv[i], &v[i], &why) != 0)
			return cl_osc_error(req, "argument %d: %s", i + 1, why);
	double start = v[0].n, end = v[1].n;
	uint32_t rate = current_rate(t);
	if (start < 0.0 || end * rate > (double)UINT32_MAX)
		return cl_osc_error(req, "loop out of range");
	if (end - start < MIN_LOOP_S)
		return cl_osc_error(req, "loop end must be at least %g s after its start", MIN_LOOP_S);
	if (apply_loop(t, true, start, end) != 0)
		return cl_osc_error(req, "command queue full; try again");
	cl_osc_broadcast(t->osc, "/transport/loop", "ff", (float)start, (float)end);
	return 0;
}

static int send_click(struct transport *t)
{
	struct cl_cmd c = { .kind = TP_CMD_CLICK, .index = t->click_on,
			    .a = pow(10.0, t->click_db / 20.0) };
	return engine_send(t, &c) ? 0 : -1;
}

static int on_click(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	if (req->argc == 0)
		return cl_osc_reply(req, "/transport/click", "i", t->click_on);
	if (!t->want_click)
		return cl_osc_error(req, "no click output: start cl-transport with --click");
	bool old = t->click_on;
	t->click_on = req->argv[0].b;
	if (send_click(t) != 0) {
		t->click_on = old;
		return cl_osc_error(req, "command queue full; try again");
	}
	cl_osc_broadcast(t->osc, "/transport/click", "i", t->click_on);
	return 0;
}

static int on_click_level(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	if (req->argc == 0)
		return cl_osc_reply(req, "/transport/click/level", "f", (float)t->click_db);
	double db = req->argv[0].n;
	if (db < CLICK_MIN_DB || db > CLICK_MAX_DB)
		return cl_osc_error(req, "level out of range (%g .. %g dB)", CLICK_MIN_DB, CLICK_MAX_DB);
	double old = t->click_db;
	t->click_db = db;
	if (send_click(t) != 0) {
		t->click_db = old;
		return cl_osc_error(req, "command queue full; try again");
	}
	cl_osc_broadcast(t->osc, "/transport/click/level", "f", (float)db);
	return 0;
}

static int on_state(struct cl_osc_request *req)
{
	struct transport *t = req->userdata;
	if (!t->have_snap)
		return cl_osc_error(req, "no position yet: the JACK client is not running");
	lo_message m = state_message(t);
	int r = cl_osc_reply_msg(req, "/transport/state", m);
	lo_message_free(m);
	return r;
}

const struct cl_osc_method control_methods[] = {
	{ "/transport/play", "", on_play, "start rolling" },
	{ "/transport/stop", "", on_stop, "stop rolling" },
	{ "/transport/toggle", "", on_toggle, "start when stopped, stop when rolling" },
	{ "/transport/locate", "n", on_locate, "<seconds>: move to a time from the start" },
	{ "/transport/locate_frame", "i", on_locate_frame, "<frame>: move to a frame" },
	{ "/transport/locate_bbt", "i|ii", on_locate_bbt,
	  "<bar> [<beat> <tick>]: move to a bar (1-based), beat (1-based), tick (0..1919)" },
	{ "/transport/bpm", "|nb", on_bpm,
	  "[<bpm> [<immediate>]]: tempo 10..400, from the next bar line unless immediate "
	  "(at once when stopped); no argument answers the tempo" },
	{ "/transport/meter", "|iib", on_meter,
	  "[<beats per bar> <beat type> [<immediate>]]: meter, like bpm; no argument answers it" },
	{ "/transport/tap", "", on_tap, "tap tempo: two or more taps set the bpm" },
	{ "/transport/loop", "*", on_loop,
	  "<start s> <end s> | off: loop range while rolling; no argument answers it" },
	{ "/transport/click", "|b", on_click, "[on|off]: metronome (needs --click)" },
	{ "/transport/click/level", "|n", on_click_level, "[<dB>]: metronome level, -60..0" },
	{ "/transport/state", "", on_state,
	  "answer /transport/state <playing> <seconds> <bpm> <beats> <bar> <beat> <tick> <frame>" },
};
const size_t control_method_count = sizeof(control_methods) / sizeof(control_methods[0]);

static json_t *on_status(void *userdata)
{
	struct transport *t = userdata;
	const struct tp_snapshot *s = &t->snap;
	return json_pack("{s:s, s:s, s:{s:b, s:s?, s:i, s:b}, s:{s:b, s:I, s:f, s:[i,i], s:i, s:i, s:i}}",
		"program", TP_PROG, "version", CL_VERSION,
		"jack", "connected", cl_jack_is_up(&t->jack), "client", t->session.jack_name,
		"rate", (int)current_rate(t), "timebase_master", t->eng.master,
		"transport", "playing", is_playing(t), "frame", (json_int_t)s->frame,
		"bpm", t->have_snap && s->bbt_valid ? s->bpm : t->bpm,
		"meter", t->beats_per_bar, t->beat_type, "bar", s->bar, "beat", s->beat,
		"tick", s->tick);
}

json_t *control_state_get(void *userdata)
{
	struct transport *t = userdata;
	return json_pack("{s:s, s:f, s:[i,i], s:{s:b, s:f, s:f}, s:{s:b, s:f}}",
		"schema", TP_SCHEMA_KIND "/1", "bpm", t->bpm,
		"meter", t->beats_per_bar, t->beat_type,
		"loop", "enabled", t->loop_on, "start", t->loop_start_s, "end", t->loop_end_s,
		"click", "enabled", t->click_on, "level", t->click_db);
}

static const struct cl_schema state_schema = {
	.kind = TP_SCHEMA_KIND, .version = TP_SCHEMA_VERSION, .oldest = 1,
};

/* Read a number member into *out when present; -1 and err if it is not a
 * number in [min, max]. */
static int member_number(json_t *obj, const char *key, double min, double max,
			 double *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_number(v) || !(json_number_value(v) >= min && json_number_value(v) <= max)) {
		snprintf(err, errlen, "\"%s\" must be a number in %g .. %g", key, min, max);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

static int member_bool(json_t *obj, const char *key, bool *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "\"%s\" must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int control_state_set(void *userdata, json_t *doc, char *err, size_t errlen)
{
	struct transport *t = userdata;
	static const char *const top_keys[] = { "schema", "bpm", "meter", "loop", "click", NULL };
	static const char *const loop_keys[] = { "enabled", "start", "end", NULL };
	static const char *const click_keys[] = { "enabled", "level", NULL };
	json_t *d = json_incref(doc);

	if (cl_doc_check_schema(&d, &state_schema, err, errlen) != 0)
		goto fail;
	if (cl_doc_known_keys(d, top_keys, "", err, errlen) != 0)
		goto fail;

	double bpm = t->bpm;
	int bpb = t->beats_per_bar, bt = t->beat_type;
	bool loop_on = t->loop_on, click_on = t->click_on;
	double loop_start = t->loop_start_s, loop_end = t->loop_end_s, click_db = t->click_db;

	if (member_number(d, "bpm", TL_MIN_BPM, TL_MAX_BPM, &bpm, err, errlen) != 0)
		goto fail;
	json_t *meter = json_object_get(d, "meter");
	if (meter) {
		json_t *a = json_array_get(meter, 0), *b = json_array_get(meter, 1);
		if (!json_is_array(meter) || json_array_size(meter) != 2 || !json_is_integer(a) ||
		    !json_is_integer(b) ||
		    !tl_valid_tempo(bpm, (int)json_integer_value(a), (int)json_integer_value(b)) ||
		    json_integer_value(a) > TL_MAX_BEATS_PER_BAR || json_integer_value(b) > 32) {
			snprintf(err, errlen, "\"meter\" must be [beats per bar 1..%d, beat type 1|2|4|8|16|32]",
				 TL_MAX_BEATS_PER_BAR);
			goto fail;
		}
		bpb = (int)json_integer_value(a);
		bt = (int)json_integer_value(b);
	}
	json_t *loop = json_object_get(d, "loop");
	if (loop) {
		if (!json_is_object(loop)) {
			snprintf(err, errlen, "\"loop\" must be an object");
			goto fail;
		}
		if (cl_doc_known_keys(loop, loop_keys, "loop: ", err, errlen) != 0 ||
		    member_bool(loop, "enabled", &loop_on, err, errlen) != 0 ||
		    member_number(loop, "start", 0, 86400, &loop_start, err, errlen) != 0 ||
		    member_number(loop, "end", 0, 86400, &loop_end, err, errlen) != 0)
			goto fail;
		if (loop_on && loop_end - loop_start < MIN_LOOP_S) {
			snprintf(err, errlen, "loop end must be at least %g s after its start", MIN_LOOP_S);
			goto fail;
		}
	}
	json_t *click = json_object_get(d, "click");
	if (click) {
		if (!json_is_object(click)) {
			snprintf(err, errlen, "\"click\" must be an object");
			goto fail;
		}
		if (cl_doc_known_keys(click, click_keys, "click: ", err, errlen) != 0 ||
		    member_bool(click, "enabled", &click_on, err, errlen) != 0 ||
		    member_number(click, "level", CLICK_MIN_DB, CLICK_MAX_DB, &click_db, err, errlen) != 0)
			goto fail;
	}
	json_decref(d);

	/* All checked: apply. A state document is a jump, not a musical change. */
	t->bpm = bpm;
	t->beats_per_bar = bpb;
	t->beat_type = bt;
	t->click_on = click_on && t->want_click;
	t->click_db = click_db;
	send_tempo(NULL, t, true);
	send_click(t);
	apply_loop(t, loop_on, loop_start, loop_end);
	if (t->osc) {
		cl_osc_broadcast(t->osc, "/transport/bpm", "f", (float)bpm);
		cl_osc_broadcast(t->osc, "/transport/meter", "ii", bpb, bt);
	}
	return 0;
fail:
	json_decref(d);
	return -1;
}

static void on_quit(void *userdata)
{
	struct transport *t = userdata;
	t->quit = true;
}

const struct cl_osc_hooks control_hooks_template = {
	.status = on_status,
	.state_get = control_state_get,
	.state_set = control_state_set,
	.quit = on_quit,
};

void control_apply_start(struct transport *t)
{
	send_tempo(NULL, t, true);
	send_click(t);
}
