/*
 * JACK helpers: open a client on --server with a fixed table of ports,
 * give them pretty names (JACK metadata), report latency a client adds,
 * and survive the server going away.
 *
 * Server loss arrives through jack_on_info_shutdown in a JACK thread; the
 * callback only writes one byte into a pipe. The main loop polls that pipe
 * (cl_jack_fd), calls cl_jack_lost() to close the dead client, then
 * cl_jack_try_reopen() on a timer until the server is back; the same ports
 * are registered again and the program's setup function runs again to set
 * its callbacks before activation.
 */
#ifndef CL_JACK_H
#define CL_JACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jack/jack.h>

struct cl_port_spec {
	const char *name;     /* stable lowercase short name: "clock_out" */
	const char *pretty;   /* JACK metadata pretty name: "MIDI Clock Out" */
	const char *type;     /* JACK_DEFAULT_AUDIO_TYPE or JACK_DEFAULT_MIDI_TYPE */
	unsigned long flags;  /* JackPortIsInput or JackPortIsOutput */
	uint32_t latency;     /* frames this port adds behind the inputs */
};

struct cl_jack;

/* Called after the client is open and its ports registered, before
 * activation, each time the client (re)opens: set the process, timebase
 * and other callbacks here. Return 0, or -1 and fill err. */
typedef int (*cl_jack_setup_fn)(struct cl_jack *j, void *userdata,
				char *err, size_t errlen);

struct cl_jack {
	jack_client_t *client;      /* NULL while the server is away */
	jack_port_t **ports;        /* same order as specs */
	size_t nports;
	const struct cl_port_spec *specs;
	char *name;                 /* requested client name */
	char *server;               /* NULL = default server */
	cl_jack_setup_fn setup;
	void *userdata;
	int pipe[2];                /* server-loss notification */
	uint32_t sample_rate;
	uint32_t buffer_size;
	bool active;
	/* Owned by cl_jack.c: what a reopen must restore. */
	uint32_t *latency;          /* frames port i adds; read by the latency
				     * callback in a JACK thread (atomics) */
	char **pretty;              /* current pretty names (set_pretty_name) */
	bool metadata_refused;      /* the server has no metadata store */
};

/* Open the client, register ports, run setup, activate. 0, or -1 and err. */
int cl_jack_open(struct cl_jack *j, const char *name, const char *server,
		 const struct cl_port_spec *specs, size_t nports,
		 cl_jack_setup_fn setup, void *userdata,
		 char *err, size_t errlen);
/* Deactivate and close (if open) and free everything. */
void cl_jack_close(struct cl_jack *j);

/* Readable once the server is lost. */
int cl_jack_fd(const struct cl_jack *j);
/* After cl_jack_fd became readable: drain it, close the dead client. Main
 * thread. */
void cl_jack_lost(struct cl_jack *j);
/* Try once to open again with the same ports; 0 when back, -1 if not yet. */
int cl_jack_try_reopen(struct cl_jack *j);
static inline bool cl_jack_is_up(const struct cl_jack *j) { return j->client != NULL; }

/* Change the pretty name of port i (strip names and the like). */
int cl_jack_set_pretty_name(struct cl_jack *j, size_t i, const char *pretty);
/* Change the latency port i adds; triggers a graph latency recompute. */
void cl_jack_set_port_latency(struct cl_jack *j, size_t i, uint32_t frames);

#endif
