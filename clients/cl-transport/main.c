/*
 * cl-transport lifecycle: options, state, NSM, JACK, OSC, and one poll()
 * loop over the OSC socket, the NSM socket, the JACK server-loss pipe and
 * the signal self-pipe of cl_app.
 *
 * Order of set-up: options, state document (--state, or NSM's open), OSC,
 * JACK; teardown runs in reverse. Under NSM, JACK opens only after
 * /nsm/client/open has loaded the state, as the protocol requires.
 */
#include "transport.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jack/transport.h>

#include "cl_app.h"
#include "cl_doc.h"
#include "cl_log.h"


enum { OPT_BPM = 1000, OPT_METER, OPT_FOLLOW, OPT_CLICK, OPT_PLAY };

static const struct cl_cli_option extra_options[] = {
	{ { "bpm", required_argument, NULL, OPT_BPM }, "BPM", "initial tempo, 10..400 (default 120)" },
	{ { "meter", required_argument, NULL, OPT_METER }, "N/D", "initial meter (default 4/4)" },
	{ { "follow", no_argument, NULL, OPT_FOLLOW }, NULL,
	  "follow another timebase master instead of being one" },
	{ { "click", no_argument, NULL, OPT_CLICK }, NULL, "add the metronome output click_out" },
	{ { "play", no_argument, NULL, OPT_PLAY }, NULL, "start rolling once running" },
	{ { NULL, 0, NULL, 0 }, NULL, NULL },
};

static int on_option(void *userdata, int val, const char *arg)
{
	struct transport *t = userdata;
	long n, d;
	char *slash;

	switch (val) {
	case OPT_BPM:
		if (cl_cli_parse_double(arg, TL_MIN_BPM, TL_MAX_BPM, &t->bpm) != 0) {
			fprintf(stderr, "%s: --bpm: expected a tempo in %g .. %g, got '%s'\n",
				TP_PROG, TL_MIN_BPM, TL_MAX_BPM, arg);
			return -1;
		}
		return 0;
	case OPT_METER: {
		char buf[32];
		snprintf(buf, sizeof(buf), "%s", arg);
		slash = strchr(buf, '/');
		if (!slash) {
			fprintf(stderr, "%s: --meter: expected N/D such as 3/4, got '%s'\n", TP_PROG, arg);
			return -1;
		}
		*slash = '\0';
		if (cl_cli_parse_int(buf, 1, TL_MAX_BEATS_PER_BAR, &n) != 0 ||
		    cl_cli_parse_int(slash + 1, 1, 32, &d) != 0 ||
		    !tl_valid_tempo(t->bpm, (int)n, (int)d)) {
			fprintf(stderr, "%s: --meter: expected 1..%d beats of 1, 2, 4, 8, 16 or 32, got '%s'\n",
				TP_PROG, TL_MAX_BEATS_PER_BAR, arg);
			return -1;
		}
		t->beats_per_bar = (int)n;
		t->beat_type = (int)d;
		return 0;
	}
	case OPT_FOLLOW:
		t->follow = true;
		return 0;
	case OPT_CLICK:
		t->want_click = true;
		t->click_on = true;
		return 0;
	case OPT_PLAY:
		t->play_at_start = true;
		return 0;
	}
	return -1;
}

static const struct cl_port_spec port_specs[TP_PORT_COUNT] = {
	[TP_PORT_CLOCK_OUT] = { "clock_out", "MIDI Clock Out", JACK_DEFAULT_MIDI_TYPE,
				JackPortIsOutput, 0 },
	[TP_PORT_CLICK_OUT] = { "click_out", "Metronome", JACK_DEFAULT_AUDIO_TYPE,
				JackPortIsOutput, 0 },
};

static int nsm_open(void *userdata, const char *dir, const char *display_name,
		    const char *client_id, char *err, size_t errlen)
{
	struct transport *t = userdata;
	return cl_app_session_open(&t->session, dir, display_name, client_id, NULL,
				   control_state_set, t, err, errlen);
}

static int nsm_save(void *userdata, char *err, size_t errlen)
{
	struct transport *t = userdata;
	return cl_state_save_dir(t->session.dir, control_state_get, t, err, errlen);
}

static const struct cl_nsm_hooks nsm_hooks_template = {
	.open = nsm_open,
	.save = nsm_save,
};

/* Read new snapshots and tell subscribers what changed. */
static void poll_engine(struct transport *t)
{
	struct tp_snapshot prev = t->snap;
	bool had = t->have_snap;
	if (engine_read_snapshots(t))
		control_publish(t, had ? &prev : NULL);
}

static int timespec_ms_until(const struct timespec *a, const struct timespec *now)
{
	double ms = (a->tv_sec - now->tv_sec) * 1e3 + (a->tv_nsec - now->tv_nsec) / 1e6;
	return ms <= 0 ? 0 : ms > 1000 ? 1000 : (int)ceil(ms);
}

/* NSM has loaded our state: only now join the graph. */
static int open_jack(void *userdata)
{
	struct transport *t = userdata;
	char err[512];
	if (cl_jack_open(&t->jack, t->session.jack_name, t->opt.server, port_specs,
			 t->nports, engine_setup, t, err, sizeof(err)) != 0) {
		cl_error("%s", err);
		return -1;
	}
	control_apply_start(t);
	return 0;
}

/* Snapshots are read at twice the state rate, and exactly when the next
 * state message is due while rolling. */
static void tick(void *userdata, int *timeout_ms)
{
	struct transport *t = userdata;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (cl_jack_is_up(&t->jack))
		poll_engine(t);
	control_tick(t, &now);
	if (t->have_snap && t->snap.state == JackTransportRolling) {
		int due = timespec_ms_until(&t->next_state, &now);
		*timeout_ms = due < *timeout_ms ? due : *timeout_ms;
	}
}

static void on_lost(void *userdata)
{
	struct transport *t = userdata;
	t->have_snap = false;
}

static void on_reopened(void *userdata)
{
	control_apply_start(userdata);
}

int main(int argc, char **argv)
{
	struct transport t = {
		.bpm = 120.0, .beats_per_bar = 4, .beat_type = 4, .click_db = -6.0,
	};
	struct cl_cli_spec spec = {
		.prog = TP_PROG,
		.summary = "JACK transport clock: timebase master with BBT, MIDI clock, click",
		.default_osc_port = TP_DEFAULT_OSC_PORT,
		.extra = extra_options,
		.extra_fn = on_option,
		.userdata = &t,
	};
	struct cl_osc_hooks hooks = control_hooks_template;
	struct cl_nsm_hooks nsm_hooks = nsm_hooks_template;
	char err[512];
	int status = CL_EXIT_FAILURE;

	int r = cl_cli_parse(argc, argv, &spec, &t.opt);
	if (r >= 0)
		return r;
	if (t.opt.osc_doc) {
		cl_osc_print_doc(control_methods, control_method_count, stdout);
		return CL_EXIT_OK;
	}
	cl_log_init(TP_PROG, t.opt.verbose);
	t.nports = t.want_click ? 2 : 1;
	if (cl_app_session_init(&t.session, t.opt.name) != 0)
		return CL_EXIT_FAILURE;
	hooks.userdata = &t;
	hooks.store = &t.opt.store;
	nsm_hooks.userdata = &t;

	if (cl_signals_init() != 0) {
		cl_error("cannot create the signal pipe: %s", strerror(errno));
		goto out;
	}
	if (engine_init(&t) != 0) {
		cl_error("cannot allocate the real-time queues");
		goto out;
	}
	if (t.opt.state && cl_state_load(t.opt.state, false, control_state_set, &t) != 0)
		goto out_engine;
	t.osc = cl_osc_new(t.opt.osc_bind, t.opt.osc_port, control_methods,
			   control_method_count, &hooks, err, sizeof(err));
	if (!t.osc) {
		cl_error("%s", err);
		goto out_engine;
	}
	t.nsm = cl_nsm_new(TP_PROG, argv[0], &nsm_hooks, err, sizeof(err));
	if (!t.nsm && err[0]) {
		cl_error("NSM: %s", err);
		goto out_osc;
	}
	if (!t.nsm) {
		if (cl_jack_open(&t.jack, t.session.jack_name, t.opt.server, port_specs, t.nports,
				 engine_setup, &t, err, sizeof(err)) != 0) {
			cl_error("%s", err);
			goto out_nsm;
		}
		control_apply_start(&t);
		cl_info("JACK client '%s' running at %u Hz, %s", jack_get_client_name(t.jack.client),
			t.jack.sample_rate, t.eng.master ? "timebase master" : "following the timebase master");
		if (t.play_at_start)
			jack_transport_start(t.jack.client);
	}

	struct cl_app_loop loop = {
		.osc = t.osc, .nsm = t.nsm, .jack = &t.jack, .session = &t.session, .quit = &t.quit,
		.userdata = &t, .open_jack = open_jack, .tick = tick, .lost = on_lost,
		.reopened = on_reopened, .timeout_ms = 1000 / 60,
	};
	status = cl_app_run(&loop) == 0 ? CL_EXIT_OK : CL_EXIT_FAILURE;
	if (cl_signal_caught())
		cl_info("signal %d: stopping", cl_signal_caught());

	cl_jack_close(&t.jack);
out_nsm:
	cl_nsm_free(t.nsm);
out_osc:
	cl_osc_free(t.osc);
out_engine:
	engine_done(&t);
out:
	cl_log_flush();
	cl_app_session_done(&t.session, NULL);
	return status;
}
