/*
 * cl-probe: the measuring instrument of the integration tests, and a handy
 * tool at a studio shell.
 *
 * One small JACK client with subcommands: `play` sends a sine, a WAV file
 * or impulses into ports; `capture` writes exactly N frames of ports to a
 * WAV file; `record` writes every MIDI event of some ports with its exact
 * frame time and the transport position of its cycle (and, if asked, one
 * line per cycle describing the transport); `send-midi` writes a few MIDI
 * messages into ports at exact frames; `timebase` is a JACK timebase
 * master whose BBT is computed exactly from the frame; `transport` shows
 * and moves the transport; `ports`, `wait-port` and `wait-connection`
 * look at the graph; `load` samples the server's DSP load for benchmarks.
 *
 * The process callbacks obey the suite's real-time rule: they only read
 * and write memory that the main thread allocated and locked before
 * jack_activate(), publish progress through C11 atomics, and hand records
 * to the main thread through one jack_ringbuffer_t of fixed-size records.
 * The main thread does every file and terminal write, polling at a few
 * milliseconds; signal handlers only set a flag.
 *
 * Measurements start "at the first full cycle after connection": the main
 * thread connects, then raises `armed`; the callback that first sees it
 * may belong to a cycle that began before the graph changed, so that cycle
 * is skipped and the work starts with the next one, which the server runs
 * on the new graph.
 *
 * The probe deliberately parses its own numbers and takes from the shared
 * library only cl_rt_enter()/cl_rt_leave() (so that a RealtimeSanitizer
 * link checks its callbacks too): it is the instrument that tests that
 * library, and a bug there must not hide itself by also bending the
 * measurement.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <jack/jack.h>
#include <jack/metadata.h>
#include <jack/midiport.h>
#include <jack/ringbuffer.h>
#include <jack/transport.h>
#include <sndfile.h>

#include "cl_cli.h"
#include "cl_rt.h"

#ifndef CL_VERSION
#define CL_VERSION "unknown"
#endif

#define PROBE_MAX_PORTS 64
#define PROBE_POLL_NS (2 * 1000 * 1000)      /* main-thread poll: 2 ms */
#define PROBE_DEFAULT_TIMEOUT 10.0           /* seconds to wait for ports */
#define RECORD_RING_BYTES (4u * 1024 * 1024) /* ~37000 records */
#define RECORD_MIDI_MAX 32                   /* bytes kept per MIDI event */
/* send-midi: 1024 three-byte events fill ~12 KB of a JACK2 MIDI buffer
 * (32 KB), so even a --gap 0 burst fits one cycle */
#define SEND_MAX_MESSAGES 1024
#define SEND_MAX_BYTES 3                     /* one channel message */

/* The only global: set by SIGTERM/SIGINT, read by the main loops. */
static volatile sig_atomic_t stop_requested;

enum source_kind { SOURCE_SINE, SOURCE_WAV, SOURCE_IMPULSE };

/* `play`: everything the callback reads is set before activation, except
 * the atomics. */
struct play_state {
	enum source_kind source;
	double freq;               /* sine, Hz */
	double gain;               /* linear, from --db */
	const char *wav_path;
	float *wav;                /* interleaved, locked */
	uint64_t wav_frames;
	int wav_channels;
	bool loop;
	uint64_t interval;         /* impulse: frames between impulses, 0 once */
	uint64_t total;            /* frames to play, UINT64_MAX = until stopped */
	/* callback-only */
	double phase;              /* sine phase in cycles, [0, 1) */
	uint64_t pos;              /* frames played */
};

/* `capture`: planar buffers, one per port. */
struct capture_state {
	float *buf[PROBE_MAX_PORTS];
	uint64_t want;             /* frames to capture */
	uint64_t got;              /* callback-only until `done` */
	int format;                /* SF_FORMAT_FLOAT or SF_FORMAT_PCM_24 */
	const char *out_path;
};

enum record_kind { RECORD_CYCLE = 1, RECORD_MIDI = 2 };

/* One record through the ringbuffer; a cycle or a MIDI event. */
struct record {
	uint8_t kind;
	uint8_t port;
	uint8_t state;             /* jack_transport_state_t */
	uint8_t valid_bbt;
	uint16_t size;             /* MIDI: bytes of the event (may be > kept) */
	uint16_t rolling;
	uint64_t abs_frame;
	uint64_t tframe;           /* MIDI: transport frame; cycle: pos.frame */
	int32_t bar, beat, tick;
	double bpm, beats_per_bar, beat_type, ticks_per_beat, bar_start_tick;
	uint8_t data[RECORD_MIDI_MAX];
};

/* `record`. */
struct record_state {
	jack_ringbuffer_t *ring;
	bool transport;
	bool until_signal;
	uint64_t want;             /* frames to record (whole cycles) */
	const char *out_path;
	/* callback-only */
	bool started;
	uint64_t frame64;          /* unwrapped jack_last_frame_time */
	jack_nframes_t last32;
	uint64_t start;
	atomic_uint_fast64_t overruns;
	atomic_uint_fast64_t truncated;
};

/* One prepared MIDI message of `send-midi`. */
struct send_message {
	uint64_t when;             /* frames after the first working cycle's start */
	uint8_t size;
	uint8_t data[SEND_MAX_BYTES];
};

/* `send-midi`: the messages are parsed into this fixed array before
 * activation; the callback only copies them into the port buffer. */
struct send_state {
	struct send_message msgs[SEND_MAX_MESSAGES];
	int count;
	uint64_t at;               /* --at: frames before the first message */
	uint64_t gap;              /* --gap: frames between messages */
	bool hold;                 /* --hold: stay connected until SIGTERM */
	/* callback-only */
	int next;                  /* first message not yet written */
	bool started;
	uint64_t elapsed;          /* frames from the first working cycle to this one */
	jack_nframes_t last32;
	atomic_uint late;          /* messages whose cycle was lost to an xrun */
	atomic_uint dropped;       /* messages the port buffer refused */
};

/* `timebase`: read by the timebase callback, set before activation. */
struct timebase_state {
	double bpm;
	double beats_per_bar;
	double beat_type;
	double ticks_per_beat;
};

/* `transport` actions. */
struct transport_action {
	bool start, stop;
	bool locate;
	uint64_t locate_frame;
	double watch;              /* seconds; 0 = print once */
};

/* `load`: seconds between samples of jack_cpu_load(). */
struct load_state {
	double every;
};

/* Callback progress, seen by the main thread. */
enum run_phase { RUN_WAITING = 0, RUN_SKIPPING, RUN_RUNNING, RUN_DONE };

struct probe {
	const char *name;          /* requested client name */
	bool name_given;           /* --name: the name must be exact */
	const char *server;        /* NULL = JACK_DEFAULT_SERVER / default */
	int verbose;
	double timeout;            /* seconds to wait for ports to appear */
	jack_client_t *client;
	jack_nframes_t rate;
	jack_nframes_t period;

	/* targets (--to, --from, --midi) and our ports, same order */
	const char *targets[PROBE_MAX_PORTS];
	int ntargets;
	jack_port_t *ports[PROBE_MAX_PORTS];
	int nports;

	atomic_int armed;          /* main: connections are made */
	atomic_int phase;          /* enum run_phase, written by the callback */
	atomic_uint cycles;        /* callbacks run since activation */
	atomic_uint xruns;
	atomic_int server_gone;
	atomic_uint start_frame;   /* frame time of the first working cycle */

	double seconds;            /* --seconds, converted once the rate is known */
	uint64_t frames;           /* --frames */
	bool have_length;

	struct play_state play;
	struct capture_state cap;
	struct record_state rec;
	struct send_state send;
	struct timebase_state tb;
	struct transport_action tr;
	struct load_state load;
};

/* ------------------------------------------------------------------ */
/* small helpers (main thread)                                         */

/* Record the signal; the main loop does the rest. */
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Install on_signal for SIGTERM and SIGINT. */
static void signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* Monotonic seconds. */
static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleep one main-loop poll interval. */
static void poll_sleep(void)
{
	struct timespec ts = { 0, PROBE_POLL_NS };
	nanosleep(&ts, NULL);
}

/* Parse a finite double in [min, max]; 0 on success, else print and -1. */
static int parse_double(const char *opt, const char *s, double min, double max,
			double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max) {
		fprintf(stderr, "cl-probe: %s: bad value '%s' (expected %g..%g)\n",
			opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Parse a whole number in [min, max]; 0 on success, else print and -1. */
static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '\0')
		goto bad;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "cl-probe: %s: bad value '%s' (expected %" PRIu64 "..%" PRIu64 ")\n",
		opt, s, min, max);
	return -1;
}

/* JACK's own messages are noise for a poller like wait-port; show with -v. */
static void jack_silent(const char *msg)
{
	(void)msg;
}

static void jack_loud(const char *msg)
{
	fprintf(stderr, "jack: %s\n", msg);
}

/* Server went away: tell the main loop (JACK thread; sets a flag only). */
static void on_shutdown(void *arg)
{
	struct probe *p = arg;
	atomic_store(&p->server_gone, 1);
}

/* Count the xruns that hit a measurement: a cycle the server skipped
 * leaves a gap that tests must not mistake for a bug (JACK notification
 * thread). */
static int on_xrun(void *arg)
{
	struct probe *p = arg;
	int ph = atomic_load(&p->phase);
	if (ph == RUN_SKIPPING || ph == RUN_RUNNING)
		atomic_fetch_add(&p->xruns, 1);
	return 0;
}

/* Open the client on the chosen server, never starting one. 0 or -1. */
static int probe_open(struct probe *p)
{
	jack_options_t opts = JackNoStartServer;
	jack_status_t status = 0;

	jack_set_error_function(p->verbose ? jack_loud : jack_silent);
	jack_set_info_function(p->verbose > 1 ? jack_loud : jack_silent);
	if (p->server)
		opts |= JackServerName;
	/* a test that named the probe builds port names from that name, so a
	 * clash must fail rather than become "name-01" */
	if (p->name_given)
		opts |= JackUseExactName;
	p->client = jack_client_open(p->name, opts, &status, p->server);
	if (!p->client) {
		const char *srv = p->server ? p->server : getenv("JACK_DEFAULT_SERVER");
		fprintf(stderr, "cl-probe: cannot connect to JACK server '%s' (status 0x%x)\n",
			srv ? srv : "default", (unsigned)status);
		return -1;
	}
	p->rate = jack_get_sample_rate(p->client);
	p->period = jack_get_buffer_size(p->client);
	jack_on_shutdown(p->client, on_shutdown, p);
	jack_set_xrun_callback(p->client, on_xrun, p);
	return 0;
}

/* Deactivate and close, if open. */
static void probe_close(struct probe *p)
{
	if (!p->client)
		return;
	/* after a server loss there is nothing to deactivate, but closing
	 * still frees libjack's side of the client */
	if (!atomic_load(&p->server_gone))
		jack_deactivate(p->client);
	jack_client_close(p->client);
	p->client = NULL;
}

/* Register `n` ports named prefix_1.. of a type and direction. 0 or -1. */
static int ports_register(struct probe *p, int n, const char *prefix,
			  const char *type, unsigned long flags)
{
	char name[64];
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "%s_%d", prefix, i + 1);
		p->ports[i] = jack_port_register(p->client, name, type, flags, 0);
		if (!p->ports[i]) {
			fprintf(stderr, "cl-probe: cannot register port %s\n", name);
			return -1;
		}
	}
	p->nports = n;
	return 0;
}

/* Wait for a port to exist until `deadline`; NULL on timeout or signal. */
static jack_port_t *port_wait(struct probe *p, const char *name, double deadline)
{
	for (;;) {
		jack_port_t *port = jack_port_by_name(p->client, name);
		if (port)
			return port;
		if (stop_requested || atomic_load(&p->server_gone) ||
		    now_seconds() >= deadline)
			return NULL;
		poll_sleep();
	}
}

/* Connect each own port i with target i (outputs: ours -> theirs), waiting
 * for the targets to appear; then confirm every connection. 0 or -1. */
static int ports_connect_all(struct probe *p, bool ours_are_outputs)
{
	double deadline = now_seconds() + p->timeout;
	for (int i = 0; i < p->nports; i++) {
		const char *mine = jack_port_name(p->ports[i]);
		const char *theirs = p->targets[i];
		if (!port_wait(p, theirs, deadline)) {
			fprintf(stderr, "cl-probe: port '%s' not found within %g s\n",
				theirs, p->timeout);
			return -1;
		}
		int err = ours_are_outputs ? jack_connect(p->client, mine, theirs)
					   : jack_connect(p->client, theirs, mine);
		if (err && err != EEXIST) {
			fprintf(stderr, "cl-probe: cannot connect %s %s %s\n",
				mine, ours_are_outputs ? "->" : "<-", theirs);
			return -1;
		}
	}
	for (int i = 0; i < p->nports; i++) {
		while (!jack_port_connected_to(p->ports[i], p->targets[i])) {
			if (stop_requested || atomic_load(&p->server_gone) ||
			    now_seconds() >= deadline) {
				fprintf(stderr, "cl-probe: connection to '%s' not confirmed\n",
					p->targets[i]);
				return -1;
			}
			poll_sleep();
		}
	}
	return 0;
}

/* Wait until the callback reaches `phase` (or later); false on signal or
 * server loss. */
static bool phase_wait(struct probe *p, int phase)
{
	while (atomic_load(&p->phase) < phase) {
		if (stop_requested || atomic_load(&p->server_gone))
			return false;
		poll_sleep();
	}
	return true;
}

/* Let two more cycles run so that clients behind us consumed our output. */
static void cycles_settle(struct probe *p)
{
	unsigned target = atomic_load(&p->cycles) + 2;
	double deadline = now_seconds() + 1.0;
	while ((int)(atomic_load(&p->cycles) - target) < 0 &&
	       !atomic_load(&p->server_gone) && now_seconds() < deadline)
		poll_sleep();
}

/* Lock (or at least touch) a buffer so no page fault lands in the
 * callback. */
static void memory_lock(void *ptr, size_t bytes)
{
	memset(ptr, 0, bytes);
	(void)mlock(ptr, bytes); /* best effort: RLIMIT_MEMLOCK may refuse */
}

/* Step the "first full cycle after connection" machine. Returns true when
 * this cycle is a working one. RT */
static bool phase_step(struct probe *p)
{
	int ph = atomic_load_explicit(&p->phase, memory_order_relaxed);
	if (ph == RUN_RUNNING)
		return true;
	if (ph == RUN_WAITING && atomic_load(&p->armed)) {
		atomic_store(&p->phase, RUN_SKIPPING);
		return false;
	}
	if (ph == RUN_SKIPPING) {
		atomic_store(&p->start_frame, jack_last_frame_time(p->client));
		atomic_store(&p->phase, RUN_RUNNING);
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* play                                                                */

/* Fill `n` frames of every output from the source. RT */
static void play_render(struct probe *p, float **out, jack_nframes_t off,
			jack_nframes_t n)
{
	struct play_state *s = &p->play;
	const float gain = (float)s->gain;

	switch (s->source) {
	case SOURCE_SINE: {
		/* phase in cycles, kept in [0, 1) in double so that hours of
		 * playing keep the frequency exact and the phase continuous */
		double phase = s->phase;
		const double inc = s->freq / (double)p->rate;
		for (jack_nframes_t i = 0; i < n; i++) {
			out[0][off + i] = (float)(s->gain * sin(2.0 * M_PI * phase));
			phase += inc;
			phase -= floor(phase);
		}
		s->phase = phase;
		for (int c = 1; c < p->nports; c++)
			memcpy(out[c] + off, out[0] + off, n * sizeof(float));
		break;
	}
	case SOURCE_IMPULSE:
		for (jack_nframes_t i = 0; i < n; i++) {
			uint64_t at = s->pos + i;
			bool hit = s->interval ? at % s->interval == 0 : at == 0;
			out[0][off + i] = hit ? gain : 0.0f;
		}
		for (int c = 1; c < p->nports; c++)
			memcpy(out[c] + off, out[0] + off, n * sizeof(float));
		break;
	case SOURCE_WAV:
		for (int c = 0; c < p->nports; c++) {
			int ch = c % s->wav_channels;
			for (jack_nframes_t i = 0; i < n; i++) {
				uint64_t at = s->pos + i;
				if (s->loop)
					at %= s->wav_frames;
				out[c][off + i] = at < s->wav_frames
					? gain * s->wav[at * (uint64_t)s->wav_channels + (uint64_t)ch]
					: 0.0f;
			}
		}
		break;
	}
	s->pos += n;
}

/* Play into the outputs once connected, silence before and after. RT */
static void play_cycle(struct probe *p, jack_nframes_t nframes)
{
	struct play_state *s = &p->play;
	float *out[PROBE_MAX_PORTS];

	for (int c = 0; c < p->nports; c++) {
		out[c] = jack_port_get_buffer(p->ports[c], nframes);
		memset(out[c], 0, nframes * sizeof(float));
	}
	if (!phase_step(p))
		return;

	uint64_t left = s->total - s->pos;
	jack_nframes_t n = left < nframes ? (jack_nframes_t)left : nframes;
	if (n)
		play_render(p, out, 0, n);
	if (s->pos >= s->total)
		atomic_store(&p->phase, RUN_DONE);
}

/* JACK process callback of `play`. RT */
static int play_process(jack_nframes_t nframes, void *arg)
{
	struct probe *p = arg;
	cl_rt_enter();
	atomic_fetch_add_explicit(&p->cycles, 1, memory_order_relaxed);
	play_cycle(p, nframes);
	cl_rt_leave();
	return 0;
}

/* Load the whole WAV into locked memory. 0 or -1. */
static int play_load_wav(struct probe *p)
{
	struct play_state *s = &p->play;
	SF_INFO info;
	memset(&info, 0, sizeof info);
	SNDFILE *f = sf_open(s->wav_path, SFM_READ, &info);
	if (!f) {
		fprintf(stderr, "cl-probe: %s: %s\n", s->wav_path, sf_strerror(NULL));
		return -1;
	}
	if (info.frames <= 0 || info.channels <= 0) {
		fprintf(stderr, "cl-probe: %s: empty file\n", s->wav_path);
		sf_close(f);
		return -1;
	}
	size_t bytes = (size_t)info.frames * (size_t)info.channels * sizeof(float);
	s->wav = malloc(bytes);
	if (!s->wav) {
		fprintf(stderr, "cl-probe: out of memory for %s\n", s->wav_path);
		sf_close(f);
		return -1;
	}
	memory_lock(s->wav, bytes);
	sf_count_t got = sf_readf_float(f, s->wav, info.frames);
	sf_close(f);
	if (got != info.frames) {
		fprintf(stderr, "cl-probe: %s: short read\n", s->wav_path);
		return -1;
	}
	s->wav_frames = (uint64_t)info.frames;
	s->wav_channels = info.channels;
	if ((jack_nframes_t)info.samplerate != p->rate)
		fprintf(stderr, "cl-probe: warning: %s is %d Hz, JACK runs at %u Hz (not resampled)\n",
			s->wav_path, info.samplerate, p->rate);
	return 0;
}

/* Run `play` after options are parsed. Exit code. */
static int play_run(struct probe *p)
{
	struct play_state *s = &p->play;
	int rc = CL_EXIT_FAILURE;

	if (probe_open(p))
		return CL_EXIT_FAILURE;
	if (s->source == SOURCE_WAV && play_load_wav(p))
		goto out;

	if (p->have_length)
		s->total = p->frames ? p->frames
			: (uint64_t)llround(p->seconds * (double)p->rate);
	else if (s->source == SOURCE_WAV && !s->loop)
		s->total = s->wav_frames;
	else
		s->total = UINT64_MAX;

	if (ports_register(p, p->ntargets, "out", JACK_DEFAULT_AUDIO_TYPE,
			   JackPortIsOutput))
		goto out;
	jack_set_process_callback(p->client, play_process, p);
	if (jack_activate(p->client)) {
		fprintf(stderr, "cl-probe: cannot activate\n");
		goto out;
	}
	if (ports_connect_all(p, true))
		goto out;
	atomic_store(&p->armed, 1);
	if (!phase_wait(p, RUN_RUNNING))
		goto stopped;
	printf("playing from cycle frame_time %u\n", atomic_load(&p->start_frame));
	fflush(stdout);
	if (!phase_wait(p, RUN_DONE))
		goto stopped;
	cycles_settle(p);
stopped:
	if (atomic_load(&p->server_gone)) {
		fprintf(stderr, "cl-probe: JACK server went away\n");
		goto out;
	}
	rc = CL_EXIT_OK;
out:
	probe_close(p);
	free(s->wav);
	return rc;
}

/* ------------------------------------------------------------------ */
/* capture                                                             */

/* Copy inputs into the capture buffers from the first full cycle after
 * connection until `want` frames are in. RT */
static void capture_cycle(struct probe *p, jack_nframes_t nframes)
{
	struct capture_state *s = &p->cap;

	if (!phase_step(p))
		return;
	uint64_t left = s->want - s->got;
	jack_nframes_t n = left < nframes ? (jack_nframes_t)left : nframes;
	for (int c = 0; c < p->nports; c++) {
		const float *in = jack_port_get_buffer(p->ports[c], nframes);
		memcpy(s->buf[c] + s->got, in, n * sizeof(float));
	}
	s->got += n;
	if (s->got >= s->want)
		atomic_store(&p->phase, RUN_DONE);
}

/* JACK process callback of `capture`. RT */
static int capture_process(jack_nframes_t nframes, void *arg)
{
	struct probe *p = arg;
	cl_rt_enter();
	atomic_fetch_add_explicit(&p->cycles, 1, memory_order_relaxed);
	capture_cycle(p, nframes);
	cl_rt_leave();
	return 0;
}

/* Write the planar buffers as one interleaved WAV file. 0 or -1. */
static int capture_write(struct probe *p)
{
	struct capture_state *s = &p->cap;
	SF_INFO info;
	memset(&info, 0, sizeof info);
	info.samplerate = (int)p->rate;
	info.channels = p->nports;
	info.format = SF_FORMAT_WAV | s->format;
	SNDFILE *f = sf_open(s->out_path, SFM_WRITE, &info);
	if (!f) {
		fprintf(stderr, "cl-probe: %s: %s\n", s->out_path, sf_strerror(NULL));
		return -1;
	}
	enum { CHUNK = 4096 };
	float *chunk = malloc(CHUNK * (size_t)p->nports * sizeof(float));
	int rc = chunk ? 0 : -1;
	for (uint64_t at = 0; rc == 0 && at < s->want; at += CHUNK) {
		uint64_t n = s->want - at < CHUNK ? s->want - at : CHUNK;
		for (uint64_t i = 0; i < n; i++)
			for (int c = 0; c < p->nports; c++)
				chunk[i * (uint64_t)p->nports + (uint64_t)c] = s->buf[c][at + i];
		if (sf_writef_float(f, chunk, (sf_count_t)n) != (sf_count_t)n)
			rc = -1;
	}
	free(chunk);
	if (sf_close(f) != 0)
		rc = -1;
	if (rc)
		fprintf(stderr, "cl-probe: cannot write %s\n", s->out_path);
	return rc;
}

/* Run `capture` after options are parsed. Exit code. */
static int capture_run(struct probe *p)
{
	struct capture_state *s = &p->cap;
	int rc = CL_EXIT_FAILURE;

	if (probe_open(p))
		return CL_EXIT_FAILURE;
	s->want = p->frames ? p->frames : (uint64_t)llround(p->seconds * (double)p->rate);
	if (s->want == 0) {
		fprintf(stderr, "cl-probe: nothing to capture\n");
		goto out;
	}
	for (int c = 0; c < p->ntargets; c++) {
		size_t bytes = (size_t)s->want * sizeof(float);
		s->buf[c] = malloc(bytes);
		if (!s->buf[c]) {
			fprintf(stderr, "cl-probe: out of memory for %" PRIu64 " frames\n", s->want);
			goto out;
		}
		memory_lock(s->buf[c], bytes);
	}
	if (ports_register(p, p->ntargets, "in", JACK_DEFAULT_AUDIO_TYPE,
			   JackPortIsInput))
		goto out;
	jack_set_process_callback(p->client, capture_process, p);
	if (jack_activate(p->client)) {
		fprintf(stderr, "cl-probe: cannot activate\n");
		goto out;
	}
	if (ports_connect_all(p, false))
		goto out;
	atomic_store(&p->armed, 1);
	if (!phase_wait(p, RUN_RUNNING))
		goto interrupted;
	printf("capturing from cycle frame_time %u\n", atomic_load(&p->start_frame));
	fflush(stdout);
	if (!phase_wait(p, RUN_DONE))
		goto interrupted;
	probe_close(p);
	if (capture_write(p))
		goto out;
	printf("captured %" PRIu64 " frames from cycle frame_time %u\n",
	       s->want, atomic_load(&p->start_frame));
	printf("xruns %u\n", atomic_load(&p->xruns));
	fflush(stdout);
	rc = CL_EXIT_OK;
	goto out;
interrupted:
	fprintf(stderr, "cl-probe: capture %s before %" PRIu64 " frames were in\n",
		atomic_load(&p->server_gone) ? "lost the server" : "interrupted",
		s->want);
out:
	probe_close(p);
	for (int c = 0; c < PROBE_MAX_PORTS; c++)
		free(s->buf[c]);
	return rc;
}

/* ------------------------------------------------------------------ */
/* record                                                              */

/* Queue one record, or count an overrun when the ring is full. RT */
static void record_push(struct record_state *s, const struct record *r)
{
	if (jack_ringbuffer_write_space(s->ring) < sizeof *r) {
		atomic_fetch_add_explicit(&s->overruns, 1, memory_order_relaxed);
		return;
	}
	jack_ringbuffer_write(s->ring, (const char *)r, sizeof *r);
}

/* Queue this cycle's transport line and MIDI events. RT */
static void record_cycle(struct probe *p, jack_nframes_t nframes)
{
	struct record_state *s = &p->rec;

	if (!phase_step(p))
		return;

	jack_nframes_t now32 = jack_last_frame_time(p->client);
	if (!s->started) {
		s->started = true;
		s->frame64 = now32;
		s->start = now32;
	} else {
		/* unsigned difference: frame time wraps after 2^32 frames */
		s->frame64 += (jack_nframes_t)(now32 - s->last32);
	}
	s->last32 = now32;
	if (!s->until_signal && s->frame64 - s->start >= s->want) {
		atomic_store(&p->phase, RUN_DONE);
		return;
	}

	jack_position_t pos;
	jack_transport_state_t state = jack_transport_query(p->client, &pos);
	struct record r;
	memset(&r, 0, sizeof r);
	r.state = (uint8_t)state;
	r.rolling = state == JackTransportRolling;

	if (s->transport) {
		r.kind = RECORD_CYCLE;
		r.abs_frame = s->frame64;
		r.tframe = pos.frame;
		if (pos.valid & JackPositionBBT) {
			r.valid_bbt = 1;
			r.bar = pos.bar;
			r.beat = pos.beat;
			r.tick = pos.tick;
			r.bpm = pos.beats_per_minute;
			r.beats_per_bar = pos.beats_per_bar;
			r.beat_type = pos.beat_type;
			r.ticks_per_beat = pos.ticks_per_beat;
			r.bar_start_tick = pos.bar_start_tick;
		}
		record_push(s, &r);
	}

	r.kind = RECORD_MIDI;
	for (int c = 0; c < p->nports; c++) {
		void *buf = jack_port_get_buffer(p->ports[c], nframes);
		uint32_t count = jack_midi_get_event_count(buf);
		r.port = (uint8_t)c;
		for (uint32_t i = 0; i < count; i++) {
			jack_midi_event_t ev;
			if (jack_midi_event_get(&ev, buf, i))
				continue;
			size_t keep = ev.size < RECORD_MIDI_MAX ? ev.size : RECORD_MIDI_MAX;
			if (keep < ev.size)
				atomic_fetch_add_explicit(&s->truncated, 1, memory_order_relaxed);
			r.size = (uint16_t)(ev.size > UINT16_MAX ? UINT16_MAX : ev.size);
			r.abs_frame = s->frame64 + ev.time;
			r.tframe = (uint64_t)pos.frame + ev.time;
			memcpy(r.data, ev.buffer, keep);
			record_push(s, &r);
		}
	}
}

/* JACK process callback of `record`. RT */
static int record_process(jack_nframes_t nframes, void *arg)
{
	struct probe *p = arg;
	cl_rt_enter();
	atomic_fetch_add_explicit(&p->cycles, 1, memory_order_relaxed);
	record_cycle(p, nframes);
	cl_rt_leave();
	return 0;
}

/* Write one record as a text line. */
static void record_write_line(FILE *f, const struct record *r)
{
	if (r->kind == RECORD_CYCLE) {
		fprintf(f, "cycle %" PRIu64 " %u %" PRIu64 " %u %d %d %d %.9g %.9g %.9g %.9g %.9g\n",
			r->abs_frame, r->state, r->tframe, r->valid_bbt,
			r->bar, r->beat, r->tick, r->bpm, r->beats_per_bar,
			r->beat_type, r->ticks_per_beat, r->bar_start_tick);
		return;
	}
	fprintf(f, "midi %u %" PRIu64 " %" PRIu64 " %u", r->port, r->abs_frame,
		r->tframe, r->rolling);
	size_t keep = r->size < RECORD_MIDI_MAX ? r->size : RECORD_MIDI_MAX;
	for (size_t i = 0; i < keep; i++)
		fprintf(f, " %02x", r->data[i]);
	fputc('\n', f);
}

/* Move every queued record into the file. */
static void record_drain(struct record_state *s, FILE *f)
{
	struct record r;
	while (jack_ringbuffer_read_space(s->ring) >= sizeof r) {
		jack_ringbuffer_read(s->ring, (char *)&r, sizeof r);
		record_write_line(f, &r);
	}
}

/* Run `record` after options are parsed. Exit code. */
static int record_run(struct probe *p)
{
	struct record_state *s = &p->rec;
	int rc = CL_EXIT_FAILURE;
	FILE *f = NULL;

	if (probe_open(p))
		return CL_EXIT_FAILURE;
	if (!s->until_signal)
		s->want = p->frames ? p->frames
			: (uint64_t)llround(p->seconds * (double)p->rate);
	f = fopen(s->out_path, "w");
	if (!f) {
		fprintf(stderr, "cl-probe: %s: %s\n", s->out_path, strerror(errno));
		goto out;
	}
	s->ring = jack_ringbuffer_create(RECORD_RING_BYTES);
	if (!s->ring) {
		fprintf(stderr, "cl-probe: out of memory for the ringbuffer\n");
		goto out;
	}
	memory_lock(s->ring->buf, s->ring->size);
	(void)jack_ringbuffer_mlock(s->ring);

	if (ports_register(p, p->ntargets, "midi_in", JACK_DEFAULT_MIDI_TYPE,
			   JackPortIsInput))
		goto out;
	jack_set_process_callback(p->client, record_process, p);
	if (jack_activate(p->client)) {
		fprintf(stderr, "cl-probe: cannot activate\n");
		goto out;
	}
	if (ports_connect_all(p, false))
		goto out;
	fprintf(f, "# cl-probe record rate %u period %u ports %d\n",
		p->rate, p->period, p->nports);
	for (int c = 0; c < p->nports; c++)
		fprintf(f, "# port %d %s\n", c, p->targets[c]);
	atomic_store(&p->armed, 1);
	if (!phase_wait(p, RUN_RUNNING))
		goto finish;
	printf("recording from cycle frame_time %u\n", atomic_load(&p->start_frame));
	fflush(stdout);
	while (atomic_load(&p->phase) != RUN_DONE && !stop_requested &&
	       !atomic_load(&p->server_gone)) {
		record_drain(s, f);
		poll_sleep();
	}
finish:
	if (atomic_load(&p->server_gone)) {
		fprintf(stderr, "cl-probe: JACK server went away\n");
		record_drain(s, f);
		goto out;
	}
	/* no callback runs after deactivation, so the drain below is final */
	jack_deactivate(p->client);
	record_drain(s, f);
	uint64_t overruns = atomic_load(&s->overruns);
	uint64_t truncated = atomic_load(&s->truncated);
	unsigned xruns = atomic_load(&p->xruns);
	if (overruns)
		fprintf(stderr, "cl-probe: %" PRIu64 " records lost (ringbuffer full)\n", overruns);
	if (truncated)
		fprintf(stderr, "cl-probe: %" PRIu64 " MIDI events longer than %d bytes truncated\n",
			truncated, RECORD_MIDI_MAX);
	if (xruns)
		fprintf(stderr, "cl-probe: %u xruns while recording\n", xruns);
	fprintf(f, "truncated %" PRIu64 "\n", truncated);
	fprintf(f, "xruns %u\n", xruns);
	fprintf(f, "overruns %" PRIu64 "\n", overruns);
	rc = CL_EXIT_OK;
out:
	probe_close(p);
	if (f && fclose(f) != 0) {
		fprintf(stderr, "cl-probe: cannot write %s\n", s->out_path);
		rc = CL_EXIT_FAILURE;
	}
	if (s->ring)
		jack_ringbuffer_free(s->ring);
	return rc;
}

/* ------------------------------------------------------------------ */
/* send-midi                                                           */

/* Write the messages whose frames fall in this cycle at their offsets; a
 * message whose cycle an xrun skipped goes at offset 0, counted late. The
 * messages are sorted by frame, so the offsets never decrease, as JACK
 * requires. RT */
static void send_cycle(struct probe *p, jack_nframes_t nframes)
{
	struct send_state *s = &p->send;
	void *buf = jack_port_get_buffer(p->ports[0], nframes);

	/* an output buffer keeps the last cycle's events until cleared, so
	 * every cycle clears it, before, while and after sending */
	jack_midi_clear_buffer(buf);
	if (!phase_step(p))
		return;

	jack_nframes_t now32 = jack_last_frame_time(p->client);
	if (!s->started) {
		s->started = true;
		s->elapsed = 0;
	} else {
		/* unsigned difference: frame time wraps after 2^32 frames */
		s->elapsed += (jack_nframes_t)(now32 - s->last32);
	}
	s->last32 = now32;

	const uint64_t end = s->elapsed + nframes;
	while (s->next < s->count && s->msgs[s->next].when < end) {
		const struct send_message *m = &s->msgs[s->next++];
		jack_nframes_t offset = 0;
		if (m->when >= s->elapsed)
			offset = (jack_nframes_t)(m->when - s->elapsed);
		else
			atomic_fetch_add_explicit(&s->late, 1, memory_order_relaxed);
		if (jack_midi_event_write(buf, offset, m->data, m->size))
			atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
	}
	if (s->next >= s->count)
		atomic_store(&p->phase, RUN_DONE);
}

/* JACK process callback of `send-midi`. RT */
static int send_process(jack_nframes_t nframes, void *arg)
{
	struct probe *p = arg;
	cl_rt_enter();
	atomic_fetch_add_explicit(&p->cycles, 1, memory_order_relaxed);
	send_cycle(p, nframes);
	cl_rt_leave();
	return 0;
}

/* Value of one hex digit, or -1. */
static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse one MSG ("b0,07,64": 1..3 hex bytes joined by commas, a status
 * byte first, data bytes below 0x80) into m. 0, or print why and -1. */
static int send_parse_message(const char *text, struct send_message *m)
{
	size_t nbytes = 1;
	for (const char *c = text; *c; c++)
		nbytes += *c == ',';
	if (nbytes > SEND_MAX_BYTES) {
		fprintf(stderr, "cl-probe send-midi: message '%s' has %zu bytes "
			"(1..%d per message)\n", text, nbytes, SEND_MAX_BYTES);
		return -1;
	}
	m->size = 0;
	const char *tok = text;
	for (;;) {
		size_t len = strcspn(tok, ",");
		int hi = len >= 1 ? hex_digit(tok[0]) : -1;
		int lo = len == 2 ? hex_digit(tok[1]) : 0;
		if (len < 1 || len > 2 || hi < 0 || lo < 0) {
			fprintf(stderr, "cl-probe send-midi: message '%s': '%.*s' is not "
				"a hex byte (00..ff)\n", text, (int)len, tok);
			return -1;
		}
		unsigned v = len == 2 ? (unsigned)(hi * 16 + lo) : (unsigned)hi;
		if (m->size == 0 && v < 0x80) {
			fprintf(stderr, "cl-probe send-midi: message '%s': first byte %02x "
				"is not a status byte (80..ff)\n", text, v);
			return -1;
		}
		if (m->size > 0 && v >= 0x80) {
			fprintf(stderr, "cl-probe send-midi: message '%s': data byte %02x "
				"is not below 80\n", text, v);
			return -1;
		}
		m->data[m->size++] = (uint8_t)v;
		if (tok[len] == '\0')
			return 0;
		tok += len + 1;
	}
}

/* Parse every MSG argument and give message i its frame, --at + i *
 * --gap (no overflow: both are below 2^32). 0, or print why and -1. */
static int send_prepare(struct send_state *s, int n, char **texts)
{
	for (int i = 0; i < n && i < SEND_MAX_MESSAGES; i++) {
		if (send_parse_message(texts[i], &s->msgs[i]))
			return -1;
		s->msgs[i].when = s->at + (uint64_t)i * s->gap;
	}
	s->count = n < SEND_MAX_MESSAGES ? n : SEND_MAX_MESSAGES;
	return 0;
}

/* Run `send-midi` after options and messages are parsed. Exit code. */
static int send_run(struct probe *p)
{
	struct send_state *s = &p->send;
	int rc = CL_EXIT_FAILURE;

	if (probe_open(p))
		return CL_EXIT_FAILURE;
	/* parsing touched every message the callback reads; keep them in RAM */
	(void)mlock(s->msgs, sizeof s->msgs);
	jack_port_t *out = jack_port_register(p->client, "midi_out",
					      JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
	if (!out) {
		fprintf(stderr, "cl-probe: cannot register port midi_out\n");
		goto out;
	}
	/* one port feeds every target; ports_connect_all pairs ports[i] with
	 * targets[i], and the callback only uses ports[0] */
	for (int i = 0; i < p->ntargets; i++)
		p->ports[i] = out;
	p->nports = p->ntargets;
	jack_set_process_callback(p->client, send_process, p);
	if (jack_activate(p->client)) {
		fprintf(stderr, "cl-probe: cannot activate\n");
		goto out;
	}
	if (ports_connect_all(p, true))
		goto out;
	atomic_store(&p->armed, 1);
	if (!phase_wait(p, RUN_DONE))
		goto interrupted;
	cycles_settle(p); /* the receivers read our last buffer after us */
	if (atomic_load(&p->server_gone))
		goto interrupted;

	unsigned late = atomic_load(&s->late);
	unsigned dropped = atomic_load(&s->dropped);
	if (late)
		fprintf(stderr, "cl-probe: %u message(s) late: an xrun skipped their "
			"cycle, so they went at the start of the next one\n", late);
	if (dropped) {
		fprintf(stderr, "cl-probe: %u message(s) did not fit the MIDI port "
			"buffer and were not sent\n", dropped);
		goto out;
	}
	printf("sent %d messages from cycle frame_time %u\n", s->count,
	       atomic_load(&p->start_frame));
	fflush(stdout);
	while (s->hold && !stop_requested && !atomic_load(&p->server_gone))
		poll_sleep();
	if (atomic_load(&p->server_gone)) {
		fprintf(stderr, "cl-probe: JACK server went away\n");
		goto out;
	}
	rc = CL_EXIT_OK;
	goto out;
interrupted:
	fprintf(stderr, "cl-probe: send-midi %s before %d messages were sent\n",
		atomic_load(&p->server_gone) ? "lost the server" : "interrupted",
		s->count);
out:
	probe_close(p);
	return rc;
}

/* ------------------------------------------------------------------ */
/* transport, ports, wait-port, wait-connection                        */

/* Name of a transport state. */
static const char *transport_state_name(jack_transport_state_t st)
{
	switch (st) {
	case JackTransportStopped: return "stopped";
	case JackTransportRolling: return "rolling";
	case JackTransportStarting: return "starting";
	case JackTransportLooping: return "looping";
	default: return "other";
	}
}

/* Print the transport once, in the documented key=value form. */
static void transport_print(struct probe *p)
{
	jack_position_t pos;
	jack_transport_state_t st = jack_transport_query(p->client, &pos);
	bool bbt = pos.valid & JackPositionBBT;
	printf("state=%s frame=%u bbt=%d bar=%d beat=%d tick=%d bpm=%.9g meter=%g/%g\n",
	       transport_state_name(st), pos.frame, bbt ? 1 : 0,
	       bbt ? pos.bar : 0, bbt ? pos.beat : 0, bbt ? pos.tick : 0,
	       bbt ? pos.beats_per_minute : 0.0,
	       bbt ? (double)pos.beats_per_bar : 0.0,
	       bbt ? (double)pos.beat_type : 0.0);
	fflush(stdout);
}

/* Sleep about n periods (main thread). */
static void periods_sleep(struct probe *p, unsigned n)
{
	double secs = n * (double)p->period / (double)p->rate;
	struct timespec ts = { (time_t)secs, (long)((secs - floor(secs)) * 1e9) };
	nanosleep(&ts, NULL);
}

/* Run `transport`: act (locate, start, stop), then print. Exit code. */
static int transport_run(struct probe *p)
{
	const struct transport_action *a = &p->tr;
	double watch = a->watch;
	if (probe_open(p))
		return CL_EXIT_FAILURE;
	if (a->locate && jack_transport_locate(p->client, (jack_nframes_t)a->locate_frame)) {
		fprintf(stderr, "cl-probe: locate to %" PRIu64 " refused\n", a->locate_frame);
		probe_close(p);
		return CL_EXIT_FAILURE;
	}
	if (a->start)
		jack_transport_start(p->client);
	if (a->stop)
		jack_transport_stop(p->client);
	/* requests take effect at the next cycle; let the line show them */
	if (a->locate || a->start || a->stop)
		periods_sleep(p, 3);
	transport_print(p);
	if (watch > 0) {
		/* one line per period: as close to "every cycle" as a poller gets */
		double interval = (double)p->period / (double)p->rate;
		struct timespec ts = { (time_t)interval,
				       (long)((interval - floor(interval)) * 1e9) };
		double end = now_seconds() + watch;
		while (now_seconds() < end && !stop_requested &&
		       !atomic_load(&p->server_gone)) {
			nanosleep(&ts, NULL);
			transport_print(p);
		}
	}
	int rc = atomic_load(&p->server_gone) ? CL_EXIT_FAILURE : CL_EXIT_OK;
	probe_close(p);
	return rc;
}

/* Fill BBT from the frame alone, so that every cycle's position is exact
 * whatever happened before (locates, loops, skipped cycles). RT */
static void on_timebase(jack_transport_state_t state, jack_nframes_t nframes,
			jack_position_t *pos, int new_pos, void *arg)
{
	struct probe *p = arg;
	const struct timebase_state *t = &p->tb;
	cl_rt_enter();
	/* ticks since frame 0: minutes * beats per minute * ticks per beat */
	double abs_tick = (double)pos->frame * t->bpm * t->ticks_per_beat /
			  (60.0 * (double)p->rate);
	double abs_beat = floor(abs_tick / t->ticks_per_beat);
	double bar = floor(abs_beat / t->beats_per_bar);
	pos->valid = JackPositionBBT;
	pos->bar = (int32_t)bar + 1;
	pos->beat = (int32_t)(abs_beat - bar * t->beats_per_bar) + 1;
	pos->tick = (int32_t)floor(abs_tick - abs_beat * t->ticks_per_beat);
	pos->bar_start_tick = bar * t->beats_per_bar * t->ticks_per_beat;
	pos->beats_per_bar = (float)t->beats_per_bar;
	pos->beat_type = (float)t->beat_type;
	pos->ticks_per_beat = t->ticks_per_beat;
	pos->beats_per_minute = t->bpm;
	cl_rt_leave();
}

/* Run `timebase`: be the timebase master until SIGTERM. Exit code. */
static int timebase_run(struct probe *p)
{
	int rc = CL_EXIT_FAILURE;
	if (probe_open(p))
		return CL_EXIT_FAILURE;
	if (jack_set_timebase_callback(p->client, 0, on_timebase, p)) {
		fprintf(stderr, "cl-probe: cannot become timebase master\n");
		goto out;
	}
	if (jack_activate(p->client)) {
		fprintf(stderr, "cl-probe: cannot activate\n");
		goto out;
	}
	printf("timebase master bpm %.9g meter %g/%g ticks %g\n", p->tb.bpm,
	       p->tb.beats_per_bar, p->tb.beat_type, p->tb.ticks_per_beat);
	fflush(stdout);
	while (!stop_requested && !atomic_load(&p->server_gone))
		poll_sleep();
	if (atomic_load(&p->server_gone)) {
		fprintf(stderr, "cl-probe: JACK server went away\n");
		goto out;
	}
	/* No jack_release_timebase() here: with the client still active it
	 * races libjack's own process thread (JACK2 1.9.21 crashes under
	 * ASan). Closing the client releases the timebase anyway. */
	rc = CL_EXIT_OK;
out:
	probe_close(p);
	return rc;
}

/* ------------------------------------------------------------------ */
/* load                                                                */

/* Sleep until monotonic time `when`; false when a signal or the loss of
 * the server comes first (main thread). */
static bool sleep_until(struct probe *p, double when)
{
	while (now_seconds() < when) {
		if (stop_requested || atomic_load(&p->server_gone))
			return false;
		poll_sleep();
	}
	return true;
}

/* Run `load`: print jack_cpu_load() every --every seconds for --seconds
 * (or until SIGTERM), then the xruns seen meanwhile. Exit code. */
static int load_run(struct probe *p)
{
	int rc = CL_EXIT_FAILURE;
	if (probe_open(p))
		return CL_EXIT_FAILURE;
	/* No process callback: JACK2 puts only clients with a real-time
	 * callback into the graph, so the sampler adds nothing to the load it
	 * measures; activation still brings xrun notifications. */
	atomic_store(&p->phase, RUN_RUNNING);
	if (jack_activate(p->client)) {
		fprintf(stderr, "cl-probe: cannot activate\n");
		goto out;
	}
	const double every = p->load.every;
	const double start = now_seconds();
	/* the last sample may land a poll interval late, never early */
	const uint64_t samples = p->have_length
		? (uint64_t)floor(p->seconds / every + 1e-9) : UINT64_MAX;
	printf("sampling load from frame_time %u every %g s\n",
	       jack_frame_time(p->client), every);
	fflush(stdout);
	for (uint64_t i = 1; i <= samples; i++) {
		if (!sleep_until(p, start + (double)i * every))
			break;
		/* JACK2's figure: the busiest of its last cycles against the
		 * period, smoothed; in percent */
		printf("load %.3f\n", (double)jack_cpu_load(p->client));
		fflush(stdout);
	}
	if (atomic_load(&p->server_gone)) {
		fprintf(stderr, "cl-probe: JACK server went away\n");
		goto out;
	}
	printf("xruns %u\n", atomic_load(&p->xruns));
	fflush(stdout);
	rc = CL_EXIT_OK;
out:
	probe_close(p);
	return rc;
}

/* Run `ports`: one tab-separated line per port. Exit code. */
static int ports_run(struct probe *p)
{
	if (probe_open(p))
		return CL_EXIT_FAILURE;
	const char **names = jack_get_ports(p->client, NULL, NULL, 0);
	for (size_t i = 0; names && names[i]; i++) {
		jack_port_t *port = jack_port_by_name(p->client, names[i]);
		if (!port)
			continue; /* gone since the list was made */
		int flags = jack_port_flags(port);
		const char *type = jack_port_type(port);
		const char *kind = !strcmp(type, JACK_DEFAULT_AUDIO_TYPE) ? "audio"
			: !strcmp(type, JACK_DEFAULT_MIDI_TYPE) ? "midi" : "other";
		jack_latency_range_t cap, play;
		jack_port_get_latency_range(port, JackCaptureLatency, &cap);
		jack_port_get_latency_range(port, JackPlaybackLatency, &play);
		char *pretty = NULL, *ptype = NULL;
		jack_uuid_t uuid = jack_port_uuid(port);
		if (jack_get_property(uuid, JACK_METADATA_PRETTY_NAME, &pretty, &ptype) != 0)
			pretty = NULL;
		printf("%s\t%s\t%s\tcapture=%u:%u\tplayback=%u:%u\tflags=%s%s%s\tpretty=%s\n",
		       names[i], (flags & JackPortIsInput) ? "in" : "out", kind,
		       cap.min, cap.max, play.min, play.max,
		       (flags & JackPortIsPhysical) ? "physical" : "",
		       (flags & JackPortIsPhysical) && (flags & JackPortIsTerminal) ? "," : "",
		       (flags & JackPortIsTerminal) ? "terminal" : "",
		       pretty ? pretty : "");
		jack_free(pretty);
		jack_free(ptype);
	}
	jack_free(names);
	fflush(stdout);
	probe_close(p);
	return CL_EXIT_OK;
}

/* Run `wait-port NAME`. Exit code. */
static int wait_port_run(struct probe *p, const char *name)
{
	if (probe_open(p))
		return CL_EXIT_FAILURE;
	jack_port_t *port = port_wait(p, name, now_seconds() + p->timeout);
	probe_close(p);
	if (!port) {
		fprintf(stderr, "cl-probe: port '%s' did not appear within %g s\n",
			name, p->timeout);
		return CL_EXIT_FAILURE;
	}
	return CL_EXIT_OK;
}

/* True when ports a and b are connected (either direction). */
static bool ports_connected(struct probe *p, const char *a, const char *b)
{
	jack_port_t *pa = jack_port_by_name(p->client, a);
	jack_port_t *pb = jack_port_by_name(p->client, b);
	if (!pa || !pb)
		return false;
	const char *bname = jack_port_name(pb); /* resolves aliases */
	const char **conns = jack_port_get_all_connections(p->client, pa);
	bool found = false;
	for (size_t i = 0; conns && conns[i] && !found; i++)
		found = !strcmp(conns[i], bname);
	jack_free(conns);
	return found;
}

/* Run `wait-connection A B`. Exit code. */
static int wait_connection_run(struct probe *p, const char *a, const char *b)
{
	if (probe_open(p))
		return CL_EXIT_FAILURE;
	double deadline = now_seconds() + p->timeout;
	bool ok;
	while (!(ok = ports_connected(p, a, b)) && now_seconds() < deadline &&
	       !stop_requested && !atomic_load(&p->server_gone))
		poll_sleep();
	probe_close(p);
	if (!ok) {
		fprintf(stderr, "cl-probe: %s and %s not connected within %g s\n",
			a, b, p->timeout);
		return CL_EXIT_FAILURE;
	}
	return CL_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* command line                                                        */

static const char common_help[] =
	"Common options:\n"
	"  --server NAME     JACK server (default $JACK_DEFAULT_SERVER or 'default';\n"
	"                    never starts one)\n"
	"  --name NAME       JACK client name, exactly (default cl-probe, or\n"
	"                    cl-probe-01 ... when taken)\n"
	"  --timeout S       seconds to wait for ports (default 10)\n"
	"  -v                show JACK's own messages\n"
	"  -h, --help        this help\n"
	"Exit status: 0 success, 1 failure (reason on stderr), 2 bad usage.\n";

static const char main_help[] =
	"Usage: cl-probe [--server NAME] [--name NAME] COMMAND [OPTIONS]\n"
	"A JACK test client: play and capture audio, record MIDI and transport.\n"
	"\n"
	"Commands:\n"
	"  play       play a sine, a WAV file or impulses into ports\n"
	"  capture    capture exactly N frames of ports to a WAV file\n"
	"  record     record MIDI events and transport cycles with frame times\n"
	"  send-midi  write MIDI messages into ports at exact frames\n"
	"  transport  print (and start, stop, locate) the JACK transport\n"
	"  timebase   be the timebase master: exact BBT from the frame\n"
	"  ports      list ports with pretty names and latency ranges\n"
	"  wait-port  wait until a port exists\n"
	"  wait-connection  wait until two ports are connected\n"
	"  load       print the server's DSP load (jack_cpu_load) at intervals\n"
	"\n"
	"'cl-probe COMMAND --help' describes a command; see cl-probe(1).\n";

static const char play_help[] =
	"Usage: cl-probe play [--sine FREQ] [--db DB | --wav FILE | --impulse [--interval N]]\n"
	"                     [--frames N | --seconds S] [--loop] --to PORT [--to PORT ...]\n"
	"Register out_1.. (one per --to), connect out_i to the i-th PORT and play,\n"
	"from the first full cycle after the connections, the same signal into\n"
	"every port (a WAV file: channel i into out_i, a mono file into all).\n"
	"Prints 'playing from cycle frame_time F' when the signal starts.\n"
	"  --sine FREQ   phase-continuous sine (default: 1000 Hz)\n"
	"  --db DB       level in dBFS: amplitude 10^(DB/20) (default 0)\n"
	"  --wav FILE    play a sound file (at its own rate, not resampled)\n"
	"  --impulse     one sample of amplitude 10^(DB/20), then silence\n"
	"  --interval N  with --impulse: one impulse every N frames\n"
	"  --frames N, --seconds S   length; without one, play until SIGTERM\n"
	"                (a WAV file: its own length unless --loop)\n"
	"  --loop        repeat the WAV file\n";

static const char capture_help[] =
	"Usage: cl-probe capture --from PORT [--from PORT ...] (--frames N | --seconds S)\n"
	"                        -o OUT.wav [--float | --pcm24]\n"
	"Register in_1.. (one per --from), connect, and capture exactly N frames\n"
	"starting at the first full cycle after the connections are made.\n"
	"Prints 'capturing from cycle frame_time F' when it starts, then\n"
	"'captured N frames from cycle frame_time F' when the file is written\n"
	"and 'xruns X' (JACK xruns during the capture: gaps are possible).\n"
	"  --float       32-bit float WAV (default)\n"
	"  --pcm24       24-bit integer WAV\n";

static const char record_help[] =
	"Usage: cl-probe record [--midi PORT ...] [--transport]\n"
	"                       (--frames N | --seconds S | --until-signal) -o OUT.txt\n"
	"Record the MIDI events of each PORT (connected to midi_in_i) and, with\n"
	"--transport, one line per cycle, from the first full cycle after the\n"
	"connections; prints 'recording from cycle frame_time F' when it starts.\n"
	"Whole cycles are recorded until N frames are covered, or until SIGTERM/\n"
	"SIGINT (which always end a recording cleanly). Lines of OUT.txt:\n"
	"  # comment lines (rate, period, ports)\n"
	"  midi PORT_INDEX ABS_FRAME TFRAME ROLLING HEX BYTES...\n"
	"  cycle ABS_FRAME STATE POS_FRAME VALID_BBT BAR BEAT TICK BPM\n"
	"        BEATS_PER_BAR BEAT_TYPE TICKS_PER_BEAT BAR_START_TICK\n"
	"  truncated N    (MIDI events longer than 32 bytes, cut)\n"
	"  xruns N        (JACK xruns while recording: cycles may be missing)\n"
	"  overruns N     (records lost; anything but 0 is a failed recording)\n";

static const char send_midi_help[] =
	"Usage: cl-probe send-midi --to PORT [--to PORT ...] [--at N] [--gap N] [--hold]\n"
	"                          MSG [MSG ...]\n"
	"Register midi_out, connect it to every PORT and, from the first full cycle\n"
	"after the connections, write message i (from 0) at the frame --at + i * --gap\n"
	"counted from that cycle's start: a message lands in the cycle that holds its\n"
	"frame, at its offset; messages may share a frame (they keep their order).\n"
	"MSG is 1 to 3 hex bytes joined by commas: a status byte (80..ff), then data\n"
	"bytes (00..7f). b0,07,64 is CC 7 = 100 on channel 1; 90,3c,40 a note on;\n"
	"f8 a clock tick. At most 1024 messages.\n"
	"Prints 'sent N messages from cycle frame_time F' once all are written (F is\n"
	"the frame time of that first cycle, so message i is at F + at + i * gap),\n"
	"then exits, or with --hold stays connected until SIGTERM/SIGINT.\n"
	"  --at N        frames from the first cycle's start to message 0 (default 0)\n"
	"  --gap N       frames between successive messages (default 0)\n"
	"  --hold        stay connected after sending, until SIGTERM/SIGINT\n";

static const char transport_help[] =
	"Usage: cl-probe transport [--locate FRAME] [--start | --stop] [--watch S]\n"
	"Ask JACK to locate, start or stop the transport (in that order; the\n"
	"requests take effect at the next cycle), then print\n"
	"'state=S frame=F bbt=0|1 bar=B beat=b tick=t bpm=X meter=N/D'\n"
	"once, or once per period for S seconds with --watch.\n";

static const char timebase_help[] =
	"Usage: cl-probe timebase [--bpm X] [--meter N/D] [--ticks N]\n"
	"Become JACK timebase master (unconditionally) until SIGTERM/SIGINT,\n"
	"filling BBT from the frame alone: ticks = frame * bpm * ticks / (60 *\n"
	"rate); bar and beat count from 1. Defaults: 120 BPM, 4/4, 1920 ticks\n"
	"per beat. Prints 'timebase master ...' once active.\n";

static const char ports_help[] =
	"Usage: cl-probe ports\n"
	"One tab-separated line per port: NAME in|out audio|midi|other\n"
	"capture=MIN:MAX playback=MIN:MAX flags=physical,terminal pretty=NAME\n";

static const char wait_port_help[] =
	"Usage: cl-probe wait-port NAME [--timeout S]\n"
	"Exit 0 once port NAME exists, 1 after the timeout (default 10 s).\n";

static const char wait_connection_help[] =
	"Usage: cl-probe wait-connection A B [--timeout S]\n"
	"Exit 0 once ports A and B are connected, 1 after the timeout.\n";

static const char load_help[] =
	"Usage: cl-probe load [--seconds S] [--every S]\n"
	"Print 'sampling load from frame_time F every S s', then one line\n"
	"'load PERCENT' (jack_cpu_load) every --every seconds (default 0.5) for\n"
	"--seconds (default: until SIGTERM/SIGINT), then 'xruns N' (JACK xruns\n"
	"meanwhile). The sampler has no process callback: it adds no load.\n";

enum {
	OPT_SERVER = 256, OPT_NAME, OPT_TIMEOUT, OPT_SINE, OPT_DB, OPT_WAV,
	OPT_IMPULSE, OPT_INTERVAL, OPT_FRAMES, OPT_SECONDS, OPT_LOOP, OPT_TO,
	OPT_FROM, OPT_FLOAT, OPT_PCM24, OPT_MIDI, OPT_TRANSPORT, OPT_UNTIL,
	OPT_WATCH, OPT_VERSION, OPT_START, OPT_STOP, OPT_LOCATE, OPT_BPM,
	OPT_METER, OPT_TICKS, OPT_AT, OPT_GAP, OPT_HOLD, OPT_EVERY,
};

static const struct option all_options[] = {
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "sine", required_argument, NULL, OPT_SINE },
	{ "db", required_argument, NULL, OPT_DB },
	{ "wav", required_argument, NULL, OPT_WAV },
	{ "impulse", no_argument, NULL, OPT_IMPULSE },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "frames", required_argument, NULL, OPT_FRAMES },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "loop", no_argument, NULL, OPT_LOOP },
	{ "to", required_argument, NULL, OPT_TO },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "float", no_argument, NULL, OPT_FLOAT },
	{ "pcm24", no_argument, NULL, OPT_PCM24 },
	{ "midi", required_argument, NULL, OPT_MIDI },
	{ "transport", no_argument, NULL, OPT_TRANSPORT },
	{ "until-signal", no_argument, NULL, OPT_UNTIL },
	{ "watch", required_argument, NULL, OPT_WATCH },
	{ "start", no_argument, NULL, OPT_START },
	{ "stop", no_argument, NULL, OPT_STOP },
	{ "locate", required_argument, NULL, OPT_LOCATE },
	{ "bpm", required_argument, NULL, OPT_BPM },
	{ "meter", required_argument, NULL, OPT_METER },
	{ "ticks", required_argument, NULL, OPT_TICKS },
	{ "at", required_argument, NULL, OPT_AT },
	{ "gap", required_argument, NULL, OPT_GAP },
	{ "hold", no_argument, NULL, OPT_HOLD },
	{ "every", required_argument, NULL, OPT_EVERY },
	{ NULL, 0, NULL, 0 },
};

/* Which options each command accepts, beyond the common ones. */
struct command {
	const char *name;
	const char *help;
	const int *accepts; /* zero-terminated */
	int min_args, max_args; /* positional arguments */
};

static const int play_opts[] = { OPT_SINE, OPT_DB, OPT_WAV, OPT_IMPULSE,
	OPT_INTERVAL, OPT_FRAMES, OPT_SECONDS, OPT_LOOP, OPT_TO, 0 };
static const int capture_opts[] = { OPT_FROM, OPT_FRAMES, OPT_SECONDS, 'o',
	OPT_FLOAT, OPT_PCM24, 0 };
static const int record_opts[] = { OPT_MIDI, OPT_TRANSPORT, OPT_FRAMES,
	OPT_SECONDS, OPT_UNTIL, 'o', 0 };
static const int send_midi_opts[] = { OPT_TO, OPT_AT, OPT_GAP, OPT_HOLD, 0 };
static const int transport_opts[] = { OPT_WATCH, OPT_START, OPT_STOP,
	OPT_LOCATE, 0 };
static const int timebase_opts[] = { OPT_BPM, OPT_METER, OPT_TICKS, 0 };
static const int load_opts[] = { OPT_SECONDS, OPT_EVERY, 0 };
static const int no_opts[] = { 0 };

static const struct command commands[] = {
	{ "play", play_help, play_opts, 0, 0 },
	{ "capture", capture_help, capture_opts, 0, 0 },
	{ "record", record_help, record_opts, 0, 0 },
	{ "send-midi", send_midi_help, send_midi_opts, 1, SEND_MAX_MESSAGES },
	{ "transport", transport_help, transport_opts, 0, 0 },
	{ "timebase", timebase_help, timebase_opts, 0, 0 },
	{ "ports", ports_help, no_opts, 0, 0 },
	{ "wait-port", wait_port_help, no_opts, 1, 1 },
	{ "wait-connection", wait_connection_help, no_opts, 2, 2 },
	{ "load", load_help, load_opts, 0, 0 },
};

/* True when command `cmd` takes option `val`. */
static bool command_accepts(const struct command *cmd, int val)
{
	for (const int *a = cmd->accepts; *a; a++)
		if (*a == val)
			return true;
	return false;
}

/* Add a --to/--from/--midi target. 0 or -1. */
static int target_add(struct probe *p, const char *opt, const char *port)
{
	if (p->ntargets >= PROBE_MAX_PORTS) {
		fprintf(stderr, "cl-probe: %s: at most %d ports\n", opt, PROBE_MAX_PORTS);
		return -1;
	}
	p->targets[p->ntargets++] = port;
	return 0;
}

/* Parse a meter "N/D" into beats per bar and beat type; 0 or -1. */
static int parse_meter(const char *s, double *per_bar, double *type)
{
	char *end;
	errno = 0;
	double n = strtod(s, &end);
	if (errno || end == s || *end != '/' || !(n >= 1 && n <= 64))
		goto bad;
	const char *d_str = end + 1;
	double d = strtod(d_str, &end);
	if (errno || end == d_str || *end || !(d >= 1 && d <= 64))
		goto bad;
	*per_bar = n;
	*type = d;
	return 0;
bad:
	fprintf(stderr, "cl-probe: --meter: bad value '%s' (expected N/D, e.g. 7/8)\n", s);
	return -1;
}

/* The options of one command (and the common ones). Returns -1 to go on,
 * or an exit code after --help or a usage error (the cl_cli_parse
 * convention). Sets *first_arg to the first positional argument. */
static int command_parse(struct probe *p, const struct command *cmd,
			 int argc, char **argv, int *first_arg)
{
	bool source_set = false, out_set = false, length_set = false;
	int c;
	optind = 0; /* full re-initialisation for the second getopt pass */
	while ((c = getopt_long(argc, argv, "ho:v", all_options, NULL)) != -1) {
		if (c == '?')
			return CL_EXIT_USAGE;
		if (c != 'h' && c != 'v' && c != OPT_SERVER && c != OPT_NAME &&
		    c != OPT_TIMEOUT && c != OPT_VERSION && !command_accepts(cmd, c)) {
			fprintf(stderr, "cl-probe %s: option '%s' does not apply\n",
				cmd->name, argv[optind - 1]);
			return CL_EXIT_USAGE;
		}
		int bad = 0;
		switch (c) {
		case 'h':
			fputs(cmd->help, stdout);
			fputs(common_help, stdout);
			return CL_EXIT_OK;
		case 'v': p->verbose++; break;
		case OPT_VERSION: printf("cl-probe %s\n", CL_VERSION); return CL_EXIT_OK;
		case OPT_SERVER: p->server = optarg; break;
		case OPT_NAME: p->name = optarg; p->name_given = true; break;
		case OPT_TIMEOUT:
			bad = parse_double("--timeout", optarg, 0, 1e6, &p->timeout);
			break;
		case OPT_SINE:
			if (source_set && p->play.source != SOURCE_SINE)
				goto two_sources;
			p->play.source = SOURCE_SINE;
			source_set = true;
			bad = parse_double("--sine", optarg, 0, 1e6, &p->play.freq);
			break;
		case OPT_DB: {
			double db;
			bad = parse_double("--db", optarg, -400, 40, &db);
			p->play.gain = pow(10.0, db / 20.0);
			break;
		}
		case OPT_WAV:
			if (source_set)
				goto two_sources;
			p->play.source = SOURCE_WAV;
			p->play.wav_path = optarg;
			source_set = true;
			break;
		case OPT_IMPULSE:
			if (source_set)
				goto two_sources;
			p->play.source = SOURCE_IMPULSE;
			source_set = true;
			break;
		case OPT_INTERVAL:
			bad = parse_u64("--interval", optarg, 1, UINT64_MAX / 2, &p->play.interval);
			break;
		case OPT_FRAMES:
			if (length_set)
				goto two_lengths;
			length_set = true;
			bad = parse_u64("--frames", optarg, 1, UINT64_MAX / 2, &p->frames);
			break;
		case OPT_SECONDS:
			if (length_set)
				goto two_lengths;
			length_set = true;
			bad = parse_double("--seconds", optarg, 1e-6, 1e7, &p->seconds);
			break;
		case OPT_UNTIL:
			if (length_set)
				goto two_lengths;
			length_set = true;
			p->rec.until_signal = true;
			break;
		case OPT_LOOP: p->play.loop = true; break;
		case OPT_TO:
		case OPT_FROM:
		case OPT_MIDI:
			bad = target_add(p, argv[optind - 1], optarg);
			break;
		case 'o':
			p->cap.out_path = optarg;
			p->rec.out_path = optarg;
			out_set = true;
			break;
		case OPT_FLOAT: p->cap.format = SF_FORMAT_FLOAT; break;
		case OPT_PCM24: p->cap.format = SF_FORMAT_PCM_24; break;
		case OPT_TRANSPORT: p->rec.transport = true; break;
		case OPT_WATCH:
			bad = parse_double("--watch", optarg, 0, 1e7, &p->tr.watch);
			break;
		case OPT_START: p->tr.start = true; break;
		case OPT_STOP: p->tr.stop = true; break;
		case OPT_LOCATE:
			p->tr.locate = true;
			bad = parse_u64("--locate", optarg, 0, UINT32_MAX, &p->tr.locate_frame);
			break;
		case OPT_BPM:
			bad = parse_double("--bpm", optarg, 1, 999, &p->tb.bpm);
			break;
		case OPT_METER:
			bad = parse_meter(optarg, &p->tb.beats_per_bar, &p->tb.beat_type);
			break;
		case OPT_TICKS:
			bad = parse_double("--ticks", optarg, 1, 1e6, &p->tb.ticks_per_beat);
			break;
		case OPT_AT:
			bad = parse_u64("--at", optarg, 0, UINT32_MAX, &p->send.at);
			break;
		case OPT_GAP:
			bad = parse_u64("--gap", optarg, 0, UINT32_MAX, &p->send.gap);
			break;
		case OPT_HOLD: p->send.hold = true; break;
		case OPT_EVERY:
			bad = parse_double("--every", optarg, 0.01, 3600, &p->load.every);
			break;
		default:
			return CL_EXIT_USAGE;
		}
		if (bad)
			return CL_EXIT_USAGE;
	}
	int nargs = argc - optind;
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		if (cmd->min_args == cmd->max_args)
			fprintf(stderr, "cl-probe %s: expected %d argument(s); see --help\n",
				cmd->name, cmd->min_args);
		else
			fprintf(stderr, "cl-probe %s: expected %d to %d arguments; see --help\n",
				cmd->name, cmd->min_args, cmd->max_args);
		return CL_EXIT_USAGE;
	}
	*first_arg = optind;
	p->have_length = length_set && !p->rec.until_signal;

	const char *missing = NULL;
	if (!strcmp(cmd->name, "play")) {
		if (p->ntargets == 0)
			missing = "--to PORT";
		if (p->play.interval && p->play.source != SOURCE_IMPULSE)
			missing = "--impulse (for --interval)";
	} else if (!strcmp(cmd->name, "capture")) {
		if (p->ntargets == 0)
			missing = "--from PORT";
		else if (!p->have_length)
			missing = "--frames N or --seconds S";
		else if (!out_set)
			missing = "-o OUT.wav";
	} else if (!strcmp(cmd->name, "transport") && p->tr.start && p->tr.stop) {
		fputs("cl-probe transport: choose --start or --stop\n", stderr);
		return CL_EXIT_USAGE;
	} else if (!strcmp(cmd->name, "record")) {
		if (p->ntargets == 0 && !p->rec.transport)
			missing = "--midi PORT or --transport";
		else if (!length_set)
			missing = "--frames N, --seconds S or --until-signal";
		else if (!out_set)
			missing = "-o OUT.txt";
	} else if (!strcmp(cmd->name, "send-midi")) {
		if (p->ntargets == 0)
			missing = "--to PORT";
		else if (send_prepare(&p->send, nargs, argv + optind))
			return CL_EXIT_USAGE;
	}
	if (missing) {
		fprintf(stderr, "cl-probe %s: needs %s; see --help\n", cmd->name, missing);
		return CL_EXIT_USAGE;
	}
	return -1;
two_sources:
	fprintf(stderr, "cl-probe play: choose one of --sine, --wav, --impulse\n");
	return CL_EXIT_USAGE;
two_lengths:
	fprintf(stderr, "cl-probe %s: choose one of --frames, --seconds%s\n", cmd->name,
		strcmp(cmd->name, "record") ? "" : ", --until-signal");
	return CL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static struct probe probe; /* large; zeroed */
	struct probe *p = &probe;
	p->name = "cl-probe";
	p->timeout = PROBE_DEFAULT_TIMEOUT;
	p->play.source = SOURCE_SINE;
	p->play.freq = 1000.0;
	p->play.gain = 1.0;
	p->cap.format = SF_FORMAT_FLOAT;
	p->tb.bpm = 120.0;
	p->tb.beats_per_bar = 4.0;
	p->tb.beat_type = 4.0;
	p->tb.ticks_per_beat = 1920.0;
	p->load.every = 0.5;

	/* global options before the command */
	int c;
	while ((c = getopt_long(argc, argv, "+hv", all_options, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(main_help, stdout); fputs(common_help, stdout); return CL_EXIT_OK;
		case 'v': p->verbose++; break;
		case OPT_VERSION: printf("cl-probe %s\n", CL_VERSION); return CL_EXIT_OK;
		case OPT_SERVER: p->server = optarg; break;
		case OPT_NAME: p->name = optarg; p->name_given = true; break;
		case OPT_TIMEOUT:
			if (parse_double("--timeout", optarg, 0, 1e6, &p->timeout))
				return CL_EXIT_USAGE;
			break;
		case '?':
			return CL_EXIT_USAGE; /* getopt said why */
		default:
			fputs("cl-probe: command options go after the command; see --help\n",
			      stderr);
			return CL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(main_help, stderr);
		return CL_EXIT_USAGE;
	}
	const struct command *cmd = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[optind], commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "cl-probe: unknown command '%s'; see --help\n", argv[optind]);
		return CL_EXIT_USAGE;
	}
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	int first = 0;
	int rc = command_parse(p, cmd, sub_argc, sub_argv, &first);
	if (rc >= 0)
		return rc;
	signals_install();

	if (!strcmp(cmd->name, "play"))
		return play_run(p);
	if (!strcmp(cmd->name, "capture"))
		return capture_run(p);
	if (!strcmp(cmd->name, "record"))
		return record_run(p);
	if (!strcmp(cmd->name, "send-midi"))
		return send_run(p);
	if (!strcmp(cmd->name, "transport"))
		return transport_run(p);
	if (!strcmp(cmd->name, "timebase"))
		return timebase_run(p);
	if (!strcmp(cmd->name, "ports"))
		return ports_run(p);
	if (!strcmp(cmd->name, "load"))
		return load_run(p);
	if (!strcmp(cmd->name, "wait-port"))
		return wait_port_run(p, sub_argv[first]);
	return wait_connection_run(p, sub_argv[first], sub_argv[first + 1]);
}
