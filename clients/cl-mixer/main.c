/*
 * cl-mixer lifecycle. Three modes:
 *   live (default): JACK client with OSC control, one poll() loop over the
 *     OSC socket, NSM, the JACK server-loss pipe and the signal pipe;
 *   --offline mix.json -o out.wav: mixdown of files with the same DSP;
 *   --analyze FILE... / --apply mix.json: EBU R128 loudness and fader
 *     proposals.
 * Live set-up order: options, queues, state (--state, or NSM's open),
 * OSC, JACK; teardown in reverse.
 */
#include "mixer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cl_app.h"
#include "cl_audiofile.h"
#include "cl_doc.h"
#include "cl_log.h"
#include "offline.h"


enum {
	OPT_CHANNELS = 1000, OPT_MONO, OPT_AUX, OPT_OFFLINE, OPT_FORMAT,
	OPT_ANALYZE, OPT_APPLY, OPT_TARGET, OPT_CEILING,
};

struct options {
	struct mx *m;
	const char *offline, *output, *format, *apply;
	bool analyze;
	double target, ceiling;
};

static const struct cl_cli_option extra_options[] = {
	{ { "channels", required_argument, NULL, OPT_CHANNELS }, "N", "strips, 1..128 (default 8)" },
	{ { "mono", no_argument, NULL, OPT_MONO }, NULL, "mono strips (default stereo)" },
	{ { "aux", required_argument, NULL, OPT_AUX }, "K", "aux buses, 0..8 (default 2)" },
	{ { "offline", required_argument, NULL, OPT_OFFLINE }, "MIX.json",
	  "mix the files a mix document names, without JACK (needs -o)" },
	{ { "output", required_argument, NULL, 'o' }, "FILE", "output file of --offline" },
	{ { "format", required_argument, NULL, OPT_FORMAT }, "float|24|16",
	  "sample format of --offline output (default float, or from the extension)" },
	{ { "analyze", no_argument, NULL, OPT_ANALYZE }, NULL,
	  "measure the loudness of the FILE operands and propose faders" },
	{ { "apply", required_argument, NULL, OPT_APPLY }, "MIX.json",
	  "write the proposed faders into a mix document" },
	{ { "target", required_argument, NULL, OPT_TARGET }, "LUFS", "loudness target (default -23)" },
	{ { "ceiling", required_argument, NULL, OPT_CEILING }, "dBTP", "true-peak ceiling (default -1)" },
	{ { NULL, 0, NULL, 0 }, NULL, NULL },
};

static int on_option(void *userdata, int val, const char *arg)
{
	struct options *o = userdata;
	long n;
	switch (val) {
	case OPT_CHANNELS:
		if (cl_cli_parse_int(arg, 1, MIXER_MAX_STRIPS, &n) != 0) {
			fprintf(stderr, "%s: --channels: expected 1..%d, got '%s'\n", MX_PROG,
				MIXER_MAX_STRIPS, arg);
			return -1;
		}
		o->m->strips = (int)n;
		return 0;
	case OPT_MONO:
		o->m->channels = 1;
		return 0;
	case OPT_AUX:
		if (cl_cli_parse_int(arg, 0, MIXER_MAX_AUX, &n) != 0) {
			fprintf(stderr, "%s: --aux: expected 0..%d, got '%s'\n", MX_PROG, MIXER_MAX_AUX, arg);
			return -1;
		}
		o->m->aux = (int)n;
		return 0;
	case OPT_OFFLINE: o->offline = arg; return 0;
	case 'o': o->output = arg; return 0;
	case OPT_FORMAT:
		if (cl_audio_format_option(MX_PROG, arg) != 0)
			return -1;
		o->format = arg;
		return 0;
	case OPT_ANALYZE: o->analyze = true; return 0;
	case OPT_APPLY: o->apply = arg; return 0;
	case OPT_TARGET:
		if (cl_cli_parse_double(arg, -70, 0, &o->target) != 0) {
			fprintf(stderr, "%s: --target: expected -70..0 LUFS, got '%s'\n", MX_PROG, arg);
			return -1;
		}
		return 0;
	case OPT_CEILING:
		if (cl_cli_parse_double(arg, -30, 0, &o->ceiling) != 0) {
			fprintf(stderr, "%s: --ceiling: expected -30..0 dBTP, got '%s'\n", MX_PROG, arg);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* Build the port table: strip inputs, master, aux buses, MIDI in. */
static int ports_init(struct mx *m)
{
	size_t n = (size_t)(m->strips * m->channels + 2 + 2 * m->aux + 1);
	m->specs = calloc(n, sizeof(*m->specs));
	m->spec_names = calloc(n, sizeof(char *));
	m->spec_pretty = calloc(n, sizeof(char *));
	if (!m->specs || !m->spec_names || !m->spec_pretty)
		return -1;
	m->nports = n;
	char name[64], pretty[96];
	for (size_t i = 0; i < n; i++) {
		const char *type = JACK_DEFAULT_AUDIO_TYPE;
		unsigned long flags = JackPortIsOutput;
		if (i < mx_port_master(m, 0)) {
			int s = (int)i / m->channels, c = (int)i % m->channels;
			flags = JackPortIsInput;
			if (m->channels == 1) {
				snprintf(name, sizeof(name), "ch%d_in", s + 1);
				snprintf(pretty, sizeof(pretty), "%s", m->names[s]);
			} else {
				snprintf(name, sizeof(name), "ch%d_in_%s", s + 1, c ? "r" : "l");
				snprintf(pretty, sizeof(pretty), "%s %s", m->names[s], c ? "R" : "L");
			}
		} else if (i < mx_port_aux(m, 0, 0)) {
			int c = (int)(i - mx_port_master(m, 0));
			snprintf(name, sizeof(name), "master_out_%s", c ? "r" : "l");
			snprintf(pretty, sizeof(pretty), "Master %s", c ? "R" : "L");
		} else if (i < mx_port_midi(m)) {
			int k = (int)(i - mx_port_aux(m, 0, 0)) / 2, c = (int)(i - mx_port_aux(m, 0, 0)) % 2;
			snprintf(name, sizeof(name), "aux%d_out_%s", k + 1, c ? "r" : "l");
			snprintf(pretty, sizeof(pretty), "Aux %d %s", k + 1, c ? "R" : "L");
		} else {
			snprintf(name, sizeof(name), "midi_in");
			snprintf(pretty, sizeof(pretty), "MIDI Control In");
			type = JACK_DEFAULT_MIDI_TYPE;
			flags = JackPortIsInput;
		}
		m->spec_names[i] = strdup(name);
		m->spec_pretty[i] = strdup(pretty);
		if (!m->spec_names[i] || !m->spec_pretty[i])
			return -1;
		m->specs[i] = (struct cl_port_spec){ m->spec_names[i], m->spec_pretty[i], type, flags, 0 };
	}
	return 0;
}

static void ports_done(struct mx *m)
{
	for (size_t i = 0; i < m->nports; i++) {
		if (m->spec_names)
			free(m->spec_names[i]);
		if (m->spec_pretty)
			free(m->spec_pretty[i]);
	}
	free(m->specs);
	free(m->spec_names);
	free(m->spec_pretty);
}

/* Scenes live in the session folder unless --store says otherwise. */
static int nsm_open(void *userdata, const char *dir, const char *display_name,
		    const char *client_id, char *err, size_t errlen)
{
	struct mx *m = userdata;
	return cl_app_session_open(&m->session, dir, display_name, client_id, &m->opt.store,
				   control_state_set, m, err, errlen);
}

static int nsm_save(void *userdata, char *err, size_t errlen)
{
	struct mx *m = userdata;
	return cl_state_save_dir(m->session.dir, control_state_get, m, err, errlen);
}

static int open_jack(struct mx *m)
{
	char err[512];
	if (cl_jack_open(&m->jack, m->session.jack_name, m->opt.server, m->specs, m->nports,
			 engine_setup, m, err, sizeof(err)) != 0) {
		cl_error("%s", err);
		return -1;
	}
	cl_info("JACK client '%s': %d %s strips, %d aux buses", jack_get_client_name(m->jack.client),
		m->strips, m->channels == 1 ? "mono" : "stereo", m->aux);
	return 0;
}

static int open_jack_hook(void *userdata)
{
	return open_jack(userdata);
}

/* Meters (30 Hz) and CCs are read at least every 5 ms. */
static void tick(void *userdata, int *timeout_ms)
{
	control_events(userdata);
}

int main(int argc, char **argv)
{
	static struct mx mixer;   /* large: keep it off the stack */
	struct mx *m = &mixer;
	struct options o = { .m = m, .target = -23.0, .ceiling = -1.0 };
	struct cl_cli_spec spec = {
		.prog = MX_PROG,
		.summary = "headless OSC-first JACK mixer; offline mixdown and loudness analysis",
		.default_osc_port = MX_DEFAULT_OSC_PORT,
		.extra = extra_options,
		.extra_fn = on_option,
		.userdata = &o,
		.operands = "[FILE...]",
	};
	struct cl_osc_hooks hooks = control_hooks_template;
	struct cl_nsm_hooks nsm_hooks = { .open = nsm_open, .save = nsm_save };
	char err[512];
	int status = CL_EXIT_FAILURE;

	m->strips = 8;
	m->channels = 2;
	m->aux = 2;
	int r = cl_cli_parse(argc, argv, &spec, &m->opt);
	if (r >= 0)
		return r;
	if (m->opt.osc_doc) {
		cl_osc_print_doc(control_methods, control_method_count, stdout);
		return CL_EXIT_OK;
	}
	cl_log_init(MX_PROG, m->opt.verbose);
	int nfiles = argc - m->opt.first_operand;
	if (!o.analyze && nfiles > 0) {
		fprintf(stderr, "%s: files are only taken with --analyze\n", MX_PROG);
		return CL_EXIT_USAGE;
	}
	if (o.offline) {
		if (!o.output) {
			fprintf(stderr, "%s: --offline needs -o/--output FILE\n", MX_PROG);
			return CL_EXIT_USAGE;
		}
		if (offline_mixdown(o.offline, o.output, o.format, true, err, sizeof(err)) != 0) {
			cl_error("%s", err);
			cl_log_flush();
			return CL_EXIT_FAILURE;
		}
		return CL_EXIT_OK;
	}
	if (o.analyze || o.apply) {
		if (o.analyze && nfiles == 0) {
			fprintf(stderr, "%s: --analyze needs one or more files\n", MX_PROG);
			return CL_EXIT_USAGE;
		}
		r = o.analyze ? offline_analyze(nfiles, argv + m->opt.first_operand, o.target, o.ceiling,
						stdout, err, sizeof(err))
			      : offline_apply(o.apply, o.target, o.ceiling, err, sizeof(err));
		if (r != 0) {
			cl_error("%s", err);
			cl_log_flush();
			return CL_EXIT_FAILURE;
		}
		return CL_EXIT_OK;
	}

	control_init(m);
	m->master_db = 0.0f;
	if (cl_app_session_init(&m->session, m->opt.name) != 0)
		return CL_EXIT_FAILURE;
	hooks.userdata = m;
	hooks.store = &m->opt.store;
	nsm_hooks.userdata = m;

	if (cl_signals_init() != 0) {
		cl_error("cannot create the signal pipe: %s", strerror(errno));
		goto out;
	}
	if (engine_init(m) != 0 || ports_init(m) != 0) {
		cl_error("out of memory");
		goto out_engine;
	}
	if (m->opt.state && cl_state_load(m->opt.state, false, control_state_set, m) != 0)
		goto out_engine;
	m->osc = cl_osc_new(m->opt.osc_bind, m->opt.osc_port, control_methods, control_method_count,
			    &hooks, err, sizeof(err));
	if (!m->osc) {
		cl_error("%s", err);
		goto out_engine;
	}
	m->nsm = cl_nsm_new(MX_PROG, argv[0], &nsm_hooks, err, sizeof(err));
	if (!m->nsm && err[0]) {
		cl_error("NSM: %s", err);
		goto out_osc;
	}
	if (!m->nsm && open_jack(m) != 0)
		goto out_nsm;

	struct cl_app_loop loop = {
		.osc = m->osc, .nsm = m->nsm, .jack = &m->jack, .session = &m->session, .quit = &m->quit,
		.userdata = m, .open_jack = open_jack_hook, .tick = tick, .timeout_ms = 5,
	};
	status = cl_app_run(&loop) == 0 ? CL_EXIT_OK : CL_EXIT_FAILURE;
	if (cl_signal_caught())
		cl_info("signal %d: stopping", cl_signal_caught());
	cl_jack_close(&m->jack);
out_nsm:
	cl_nsm_free(m->nsm);
out_osc:
	cl_osc_free(m->osc);
out_engine:
	engine_done(m);
	ports_done(m);
out:
	cl_log_flush();
	cl_app_session_done(&m->session, &m->opt.store);
	return status;
}
