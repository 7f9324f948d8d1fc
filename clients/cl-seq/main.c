/*
 * cl-seq lifecycle: options, queues, state (--state, --pattern), OSC, NSM,
 * JACK, optionally the ALSA sequencer; then one poll() loop over the OSC
 * socket, NSM, the JACK server-loss pipe and the signal pipe. On SIGTERM
 * every sounding note ends (the audio thread writes the note-offs and
 * stops scheduling) before the client closes.
 */
#include "seq.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alsa_out.h"
#include "cl_app.h"
#include "cl_doc.h"
#include "cl_log.h"
#include "patterndoc.h"

#define NOTES_OFF_TIMEOUT_MS 500

enum { OPT_BPM = 1000, OPT_PATTERN, OPT_PORT_PER_TRACK, OPT_VOICE_OUTPUTS, OPT_ALSA_SEQ, OPT_VOICES_DOC };

static const char *pattern_file;

static const struct cl_cli_option extra_options[] = {
	{ { "bpm", required_argument, NULL, OPT_BPM }, "BPM",
	  "tempo when no timebase master gives BBT (default 120)" },
	{ { "pattern", required_argument, NULL, OPT_PATTERN }, "FILE",
	  "play this pattern document (cl-seq-pattern/1) from the start" },
	{ { "port-per-track", no_argument, NULL, OPT_PORT_PER_TRACK }, NULL,
	  "also register midi_out_1..32: each track writes to its own port instead of midi_out" },
	{ { "voice-outputs", no_argument, NULL, OPT_VOICE_OUTPUTS }, NULL,
	  "also register voice_N_l/r: each track's voice on its own pair (and in the mix)" },
	{ { "alsa-seq", no_argument, NULL, OPT_ALSA_SEQ }, NULL,
	  "also send the notes to an ALSA sequencer port (for hardware synths)" },
	{ { "voices-doc", no_argument, NULL, OPT_VOICES_DOC }, NULL,
	  "print every voice and parameter as man page text (roff) and exit" },
	{ { NULL, 0, NULL, 0 }, NULL, NULL },
};

/* The VOICES section of the man page, from the parameter tables. */
static void print_voices_doc(FILE *out)
{
	for (int k = SEQ_VOICE_NONE + 1; k < SEQ_VOICE_COUNT; k++) {
		int n;
		const struct seq_voice_param *p = seq_voice_params(k, &n);
		fprintf(out, ".SS %s\n.TS\nl l l l l.\nparameter\tunit\tmin\tmax\tdefault\n", seq_voice_name(k));
		for (int i = 0; i < n; i++)
			fprintf(out, "%s\t%s\t%g\t%g\t%g\n", p[i].name, p[i].unit[0] ? p[i].unit : "-",
				p[i].min, p[i].max, p[i].def);
		fprintf(out, ".TE\n");
		for (int i = 0; i < n; i++)
			fprintf(out, ".TP\n.B %s\n%s\n", p[i].name, p[i].doc);
	}
}

static int on_option(void *userdata, int val, const char *arg)
{
	struct seq_app *a = userdata;
	switch (val) {
	case OPT_BPM:
		if (cl_cli_parse_double(arg, 10, 400, &a->bpm) != 0) {
			fprintf(stderr, "%s: --bpm: expected 10..400, got '%s'\n", SEQ_PROG, arg);
			return -1;
		}
		return 0;
	case OPT_PATTERN:
		pattern_file = arg;
		return 0;
	case OPT_PORT_PER_TRACK:
		a->port_per_track = true;
		return 0;
	case OPT_VOICE_OUTPUTS:
		a->voice_outputs = true;
		return 0;
	case OPT_ALSA_SEQ:
		a->alsa_seq = true;
		return 0;
	case OPT_VOICES_DOC:
		print_voices_doc(stdout);
		exit(CL_EXIT_OK);
	}
	return -1;
}

/* Add a port to the table. */
static size_t add_port(struct seq_app *a, const char *type, const char *name, const char *pretty)
{
	size_t i = a->nports++;
	snprintf(a->names[i], sizeof(a->names[i]), "%s", name);
	snprintf(a->pretty[i], sizeof(a->pretty[i]), "%s", pretty);
	a->specs[i] = (struct cl_port_spec){ a->names[i], a->pretty[i], type, JackPortIsOutput, 0 };
	return i;
}

static void ports_init(struct seq_app *a)
{
	const char *midi = JACK_DEFAULT_MIDI_TYPE, *audio = JACK_DEFAULT_AUDIO_TYPE;
	char name[24], pretty[48];
	a->port_midi = add_port(a, midi, "midi_out", "Seq MIDI Out");
	a->port_audio_l = add_port(a, audio, "audio_out_l", "Seq Voices L");
	a->port_audio_r = add_port(a, audio, "audio_out_r", "Seq Voices R");
	a->port_track_midi = a->port_track_audio = SIZE_MAX;
	if (a->port_per_track) {
		a->port_track_midi = a->nports;
		for (int t = 1; t <= SEQ_MAX_TRACKS; t++) {
			snprintf(name, sizeof(name), "midi_out_%d", t);
			snprintf(pretty, sizeof(pretty), "Seq Track %d MIDI Out", t);
			add_port(a, midi, name, pretty);
		}
	}
	if (a->voice_outputs) {
		a->port_track_audio = a->nports;
		for (int t = 1; t <= SEQ_MAX_TRACKS; t++) {
			for (int side = 0; side < 2; side++) {
				snprintf(name, sizeof(name), "voice_%d_%s", t, side ? "r" : "l");
				snprintf(pretty, sizeof(pretty), "Seq Voice %d %s", t, side ? "R" : "L");
				add_port(a, audio, name, pretty);
			}
		}
	}
}

static int nsm_open(void *userdata, const char *dir, const char *display_name,
		    const char *client_id, char *err, size_t errlen)
{
	struct seq_app *a = userdata;
	if (cl_app_session_open(&a->session, dir, display_name, client_id, &a->opt.store,
				control_state_set, a, err, errlen) != 0)
		return -1;
	control_file_backups(a);
	return 0;
}

static int nsm_save(void *userdata, char *err, size_t errlen)
{
	struct seq_app *a = userdata;
	return cl_state_save_dir(a->session.dir, control_state_get, a, err, errlen);
}

static int open_jack(struct seq_app *a)
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
	if (a->alsa_seq && !a->alsa) {
		a->alsa = seq_alsa_open(jack_get_client_name(a->jack.client), a->rate,
					jack_frame_time(a->jack.client), err, sizeof(err));
		if (!a->alsa)
			cl_warn("--alsa-seq: %s; the notes go to JACK only", err);
	}
	cl_info("JACK client '%s' at %u Hz", jack_get_client_name(a->jack.client), a->rate);
	return 0;
}

static int open_jack_hook(void *userdata)
{
	return open_jack(userdata);
}

/* 5 ms at most between turns: ALSA events leave at least this often
 * (their latency covers it) and /seq/step keeps its pace. */
static void tick(void *userdata, int *timeout_ms)
{
	control_events(userdata);
}

/* The JACK graph's notes ended with the server; ALSA's end here. */
static void on_lost(void *userdata)
{
	struct seq_app *a = userdata;
	if (a->alsa) {
		seq_alsa_close(a->alsa);
		a->alsa = NULL;
	}
}

static void on_reopened(void *userdata)
{
	struct seq_app *a = userdata;
	char err[256];
	if (a->alsa_seq && !a->alsa)
		a->alsa = seq_alsa_open(jack_get_client_name(a->jack.client), a->rate,
					jack_frame_time(a->jack.client), err, sizeof(err));
}

int main(int argc, char **argv)
{
	static struct seq_app app;
	struct seq_app *a = &app;
	struct cl_cli_spec spec = {
		.prog = SEQ_PROG,
		.summary = "JACK step sequencer with built-in drum and acid voices",
		.default_osc_port = SEQ_DEFAULT_OSC_PORT,
		.extra = extra_options,
		.extra_fn = on_option,
		.userdata = a,
	};
	struct cl_osc_hooks hooks = control_hooks_template;
	struct cl_nsm_hooks nsm_hooks = { .open = nsm_open, .save = nsm_save };
	char err[512];
	int status = CL_EXIT_FAILURE;

	a->bpm = SEQ_DEFAULT_BPM;
	int r = cl_cli_parse(argc, argv, &spec, &a->opt);
	if (r >= 0)
		return r;
	if (a->opt.osc_doc) {
		cl_osc_print_doc(control_methods, control_method_count, stdout);
		return CL_EXIT_OK;
	}
	cl_log_init(SEQ_PROG, a->opt.verbose);
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
	if (pattern_file && cl_state_load_part(pattern_file, SEQ_SCHEMA_KIND "/1", "pattern", control_state_set, a) != 0)
		goto out_engine;
	a->osc = cl_osc_new(a->opt.osc_bind, a->opt.osc_port, control_methods, control_method_count,
			    &hooks, err, sizeof(err));
	if (!a->osc) {
		cl_error("%s", err);
		goto out_engine;
	}
	control_file_backups(a);   /* what a crash during a save left */
	a->nsm = cl_nsm_new(SEQ_PROG, argv[0], &nsm_hooks, err, sizeof(err));
	if (!a->nsm && err[0]) {
		cl_error("NSM: %s", err);
		goto out_osc;
	}
	if (!a->nsm && open_jack(a) != 0)
		goto out_nsm;

	struct cl_app_loop loop = {
		.osc = a->osc, .nsm = a->nsm, .jack = &a->jack, .session = &a->session, .quit = &a->quit,
		.userdata = a, .open_jack = open_jack_hook, .tick = tick, .lost = on_lost,
		.reopened = on_reopened, .timeout_ms = 5,
	};
	status = cl_app_run(&loop) == 0 ? CL_EXIT_OK : CL_EXIT_FAILURE;
	if (cl_signal_caught())
		cl_info("signal %d: ending every note and stopping", cl_signal_caught());
	control_all_notes_off(a, NOTES_OFF_TIMEOUT_MS);
	cl_jack_close(&a->jack);
out_nsm:
	if (a->alsa)
		seq_alsa_close(a->alsa);
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
