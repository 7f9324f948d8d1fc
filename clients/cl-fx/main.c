/*
 * cl-fx lifecycle. Live (default): JACK client with OSC control, one poll()
 * loop over the OSC socket, NSM, the JACK server-loss pipe and the signal
 * pipe. Set-up order: options, queues, state (--state / --chain, checked
 * now, built once JACK gives the rate), OSC, JACK; teardown in reverse.
 */
#include "fx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_app.h"
#include "cl_audiofile.h"
#include "cl_doc.h"
#include "cl_log.h"
#include "offline.h"


enum { OPT_CHANNELS = 1000, OPT_CHAIN, OPT_EFFECTS_DOC, OPT_OFFLINE, OPT_FORMAT, OPT_BPM, OPT_TAIL };

/* Options of the offline mode. */
static struct {
	bool on;
	const char *format;
	double bpm, tail;
} offline = { .bpm = 120.0 };

static const struct cl_cli_option extra_options[] = {
	{ { "channels", required_argument, NULL, OPT_CHANNELS }, "N", "audio channels, 1..8 (default 2)" },
	{ { "chain", required_argument, NULL, OPT_CHAIN }, "FILE", "load this chain document at start" },
	{ { "offline", no_argument, NULL, OPT_OFFLINE }, NULL,
	  "render the IN file through --chain into OUT without JACK" },
	{ { "format", required_argument, NULL, OPT_FORMAT }, "float|24|16",
	  "sample format of the offline output (default from the extension)" },
	{ { "bpm", required_argument, NULL, OPT_BPM }, "BPM",
	  "tempo for beat lanes and synced delays offline (default 120)" },
	{ { "tail", required_argument, NULL, OPT_TAIL }, "S",
	  "seconds of silence rendered after the input offline, to let reverbs ring out" },
	{ { "effects-doc", no_argument, NULL, OPT_EFFECTS_DOC }, NULL,
	  "print every effect and parameter as man page text (roff) and exit" },
	{ { NULL, 0, NULL, 0 }, NULL, NULL },
};

/* The EFFECTS section of the man page, from the parameter tables, so the
 * page cannot drift from the code (a test compares them). */
static void print_effects_doc(FILE *out)
{
	static const char *const curves[] = { "linear", "log", "choice", "toggle" };
	for (int i = 0; fx_types[i]; i++) {
		const struct fx_type *t = fx_types[i];
		fprintf(out, ".SS %s\n%s\n.TS\nl l l l l l.\n", t->id, t->doc);
		fprintf(out, "parameter\tunit\tmin\tmax\tdefault\tcurve\n");
		for (int p = 0; p < t->nparams; p++) {
			const struct fx_param *fp = &t->params[p];
			fprintf(out, "%s\t%s\t%g\t%g\t%g\t%s\n", fp->name, fp->unit[0] ? fp->unit : "-",
				fp->min, fp->max, fp->def, curves[fp->curve]);
		}
		fprintf(out, ".TE\n");
		for (int p = 0; p < t->nparams; p++)
			fprintf(out, ".TP\n.B %s\n%s\n", t->params[p].name, t->params[p].doc);
	}
}

static int on_option(void *userdata, int val, const char *arg)
{
	struct fx_app *a = userdata;
	long n;
	switch (val) {
	case OPT_CHANNELS:
		if (cl_cli_parse_int(arg, 1, FX_MAX_CHANNELS, &n) != 0) {
			fprintf(stderr, "%s: --channels: expected 1..%d, got '%s'\n", FX_PROG, FX_MAX_CHANNELS, arg);
			return -1;
		}
		a->channels = (int)n;
		return 0;
	case OPT_CHAIN:
		a->chain_file = arg;
		return 0;
	case OPT_OFFLINE:
		offline.on = true;
		return 0;
	case OPT_FORMAT:
		if (cl_audio_format_option(FX_PROG, arg) != 0)
			return -1;
		offline.format = arg;
		return 0;
	case OPT_BPM:
		if (cl_cli_parse_double(arg, 10, 400, &offline.bpm) != 0) {
			fprintf(stderr, "%s: --bpm: expected 10..400, got '%s'\n", FX_PROG, arg);
			return -1;
		}
		return 0;
	case OPT_TAIL:
		if (cl_cli_parse_double(arg, 0, 3600, &offline.tail) != 0) {
			fprintf(stderr, "%s: --tail: expected 0..3600 s, got '%s'\n", FX_PROG, arg);
			return -1;
		}
		return 0;
	case OPT_EFFECTS_DOC:
		print_effects_doc(stdout);
		exit(CL_EXIT_OK);
	}
	return -1;
}

/* in/out (mono), in_l/in_r/out_l/out_r (stereo), in_1..in_N otherwise. */
static void ports_init(struct fx_app *a)
{
	static const char *const lr[] = { "l", "r" };
	size_t n = 0;
	for (int dir = 0; dir < 2; dir++) {
		for (int c = 0; c < a->channels; c++, n++) {
			const char *io = dir ? "out" : "in";
			if (a->channels == 1)
				snprintf(a->names[n], sizeof(a->names[n]), "%s", io);
			else if (a->channels == 2)
				snprintf(a->names[n], sizeof(a->names[n]), "%s_%s", io, lr[c]);
			else
				snprintf(a->names[n], sizeof(a->names[n]), "%s_%d", io, c + 1);
			if (a->channels == 2)
				snprintf(a->pretty[n], sizeof(a->pretty[n]), "FX %s %s", dir ? "Out" : "In",
					 c ? "R" : "L");
			else
				snprintf(a->pretty[n], sizeof(a->pretty[n]), "FX %s %d", dir ? "Out" : "In", c + 1);
			a->specs[n] = (struct cl_port_spec){ a->names[n], a->pretty[n], JACK_DEFAULT_AUDIO_TYPE,
							     dir ? JackPortIsOutput : JackPortIsInput, 0 };
		}
	}
	snprintf(a->names[n], sizeof(a->names[n]), "midi_in");
	snprintf(a->pretty[n], sizeof(a->pretty[n]), "FX MIDI In");
	a->specs[n] = (struct cl_port_spec){ a->names[n], a->pretty[n], JACK_DEFAULT_MIDI_TYPE,
					     JackPortIsInput, 0 };
	a->nports = n + 1;
}

static int nsm_open(void *userdata, const char *dir, const char *display_name,
		    const char *client_id, char *err, size_t errlen)
{
	struct fx_app *a = userdata;
	return cl_app_session_open(&a->session, dir, display_name, client_id, &a->opt.store,
				   control_state_set, a, err, errlen);
}

static int nsm_save(void *userdata, char *err, size_t errlen)
{
	struct fx_app *a = userdata;
	return cl_state_save_dir(a->session.dir, control_state_get, a, err, errlen);
}

static int open_jack(struct fx_app *a)
{
	char err[512];
	if (cl_jack_open(&a->jack, a->session.jack_name, a->opt.server, a->specs, a->nports,
			 engine_setup, a, err, sizeof(err)) != 0) {
		cl_error("%s", err);
		return -1;
	}
	if (control_start(a, err, sizeof(err)) != 0) {
		cl_error("%s", err);
		return -1;
	}
	cl_info("JACK client '%s': %d channels at %u Hz, %d effects",
		jack_get_client_name(a->jack.client), a->channels, a->rate, a->chain->count);
	return 0;
}

static int open_jack_hook(void *userdata)
{
	return open_jack(userdata);
}

/* Events every turn, before OSC: recording needs the latest transport
 * position. */
static void tick(void *userdata, int *timeout_ms)
{
	control_events(userdata);
}

static void on_reopened(void *userdata)
{
	control_latency_changed(userdata);
}

int main(int argc, char **argv)
{
	static struct fx_app app;
	struct fx_app *a = &app;
	struct cl_cli_spec spec = {
		.prog = FX_PROG,
		.summary = "JACK effect rack: EQ, dynamics, saturation, delays, reverbs, automation",
		.default_osc_port = FX_DEFAULT_OSC_PORT,
		.extra = extra_options,
		.extra_fn = on_option,
		.userdata = a,
		.operands = "[IN OUT]",
	};
	struct cl_osc_hooks hooks = control_hooks_template;
	struct cl_nsm_hooks nsm_hooks = { .open = nsm_open, .save = nsm_save };
	char err[512];
	int status = CL_EXIT_FAILURE;

	a->channels = 2;
	int r = cl_cli_parse(argc, argv, &spec, &a->opt);
	if (r >= 0)
		return r;
	if (a->opt.osc_doc) {
		cl_osc_print_doc(control_methods, control_method_count, stdout);
		return CL_EXIT_OK;
	}
	cl_log_init(FX_PROG, a->opt.verbose);
	int operands = argc - a->opt.first_operand;
	if (offline.on) {
		if (operands != 2 || !a->chain_file) {
			fprintf(stderr, "%s: --offline needs --chain FILE and two files: IN OUT\n", FX_PROG);
			return CL_EXIT_USAGE;
		}
		if (fx_offline_render(a->chain_file, argv[a->opt.first_operand],
				      argv[a->opt.first_operand + 1], offline.format, offline.bpm,
				      offline.tail, true, err, sizeof(err)) != 0) {
			cl_error("%s", err);
			cl_log_flush();
			return CL_EXIT_FAILURE;
		}
		return CL_EXIT_OK;
	}
	if (operands > 0) {
		fprintf(stderr, "%s: files are only taken with --offline\n", FX_PROG);
		return CL_EXIT_USAGE;
	}
	if (cl_app_session_init(&a->session, a->opt.name) != 0)
		return CL_EXIT_FAILURE;
	hooks.userdata = a;
	hooks.store = &a->opt.store;
	nsm_hooks.userdata = a;
	ports_init(a);

	if (cl_signals_init() != 0) {
		cl_error("cannot create the signal pipe: %s", strerror(errno));
		goto out;
	}
	if (engine_init(a) != 0 || control_init(a) != 0) {
		cl_error("out of memory");
		goto out_engine;
	}
	if (a->opt.state && cl_state_load(a->opt.state, false, control_state_set, a) != 0)
		goto out_engine;
	if (a->chain_file && cl_state_load_part(a->chain_file, FX_SCHEMA_KIND "/1", "chain", control_state_set, a) != 0)
		goto out_engine;
	a->osc = cl_osc_new(a->opt.osc_bind, a->opt.osc_port, control_methods, control_method_count,
			    &hooks, err, sizeof(err));
	if (!a->osc) {
		cl_error("%s", err);
		goto out_engine;
	}
	a->nsm = cl_nsm_new(FX_PROG, argv[0], &nsm_hooks, err, sizeof(err));
	if (!a->nsm && err[0]) {
		cl_error("NSM: %s", err);
		goto out_osc;
	}
	if (!a->nsm && open_jack(a) != 0)
		goto out_nsm;

	struct cl_app_loop loop = {
		.osc = a->osc, .nsm = a->nsm, .jack = &a->jack, .session = &a->session, .quit = &a->quit,
		.userdata = a, .open_jack = open_jack_hook, .tick = tick, .reopened = on_reopened,
		.timeout_ms = 5,
	};
	status = cl_app_run(&loop) == 0 ? CL_EXIT_OK : CL_EXIT_FAILURE;
	if (cl_signal_caught())
		cl_info("signal %d: stopping", cl_signal_caught());
	cl_jack_close(&a->jack);
out_nsm:
	cl_nsm_free(a->nsm);
out_osc:
	cl_osc_free(a->osc);
out_engine:
	control_done(a);
	engine_done(a);
out:
	cl_log_flush();
	cl_app_session_done(&a->session, &a->opt.store);
	return status;
}
