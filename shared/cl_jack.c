/*
 * JACK helpers: one client with a fixed table of ports that outlives its
 * server.
 *
 * Everything a client needs to exist in the graph is done by one function,
 * attach(): open (never starting a server), register the ports from the
 * spec table, name them through JACK metadata, install the shutdown,
 * latency and buffer-size callbacks, let the program install its own
 * (setup), activate. cl_jack_open() and cl_jack_try_reopen() both call it,
 * so a client that comes back after a server restart is exactly the client
 * that started: same port names, pretty names and latencies.
 *
 * The JACK threads touch this struct in two places only. The shutdown
 * callback writes one byte into a non-blocking pipe (write() is
 * async-signal-safe and never waits here); the main loop sees the pipe
 * readable and calls cl_jack_lost(), which closes the dead client as the
 * JACK docs ask. The latency callback runs in JACK's notification thread
 * and reads the per-port latencies with atomic loads, so
 * cl_jack_set_port_latency() may change them at any time.
 *
 * Latency model: latency[i] frames are added at port i. A signal entering
 * input i and leaving output o is delayed latency[i] + latency[o] frames,
 * so, following the JACK latency docs, in capture mode every output gets
 * the union of the inputs' capture ranges (each plus its own latency) plus
 * its own latency, and in playback mode every input gets the union of the
 * outputs' playback ranges plus latencies. All ports are set, including
 * zero-latency ones: a client with a latency callback replaces JACK's
 * default propagation entirely.
 */
#define _GNU_SOURCE
#include "cl_jack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jack/metadata.h>

#include "cl_log.h"

/* First message libjack reported while we held its error output back
 * (the first says why; the later ones are cleanup noise). */
static char quiet_jack_error[256];

/* Stand-in for libjack's error printer while a reopen is tried: the
 * "cannot connect" lines would otherwise flood stderr five times a second. */
static void keep_jack_error(const char *msg)
{
	if (!quiet_jack_error[0])
		snprintf(quiet_jack_error, sizeof quiet_jack_error, "%s", msg);
}

/* Runs in a JACK thread when the server goes away: only wake the main loop. */
static void on_jack_shutdown(jack_status_t code, const char *reason, void *arg)
{
	struct cl_jack *j = arg;
	char byte = 1;
	ssize_t n = write(j->pipe[1], &byte, 1);

	(void)code;
	(void)reason;
	(void)n; /* a full pipe already says "lost" */
}

/* JACK notification thread: track buffer-size changes, nothing else. */
static int on_jack_buffer_size(jack_nframes_t nframes, void *arg)
{
	struct cl_jack *j = arg;

	__atomic_store_n(&j->buffer_size, nframes, __ATOMIC_RELAXED);
	return 0;
}

/* JACK notification thread: publish the latency of every port from the
 * ranges of the ports on the other side of this client (see the model in
 * the header comment). */
static void on_jack_latency(jack_latency_callback_mode_t mode, void *arg)
{
	struct cl_jack *j = arg;
	/* Capture latency flows from our inputs to our outputs; playback
	 * latency flows the other way. */
	unsigned long from = mode == JackCaptureLatency ? JackPortIsInput
							: JackPortIsOutput;
	jack_latency_range_t in_range = { UINT32_MAX, 0 };

	for (size_t i = 0; i < j->nports; i++) {
		jack_latency_range_t r;
		uint32_t add;

		if (!j->ports[i] || !(j->specs[i].flags & from))
			continue;
		jack_port_get_latency_range(j->ports[i], mode, &r);
		add = __atomic_load_n(&j->latency[i], __ATOMIC_RELAXED);
		if (r.min + add < in_range.min)
			in_range.min = r.min + add;
		if (r.max + add > in_range.max)
			in_range.max = r.max + add;
	}
	if (in_range.min == UINT32_MAX) /* no port on that side */
		in_range.min = 0;

	for (size_t i = 0; i < j->nports; i++) {
		jack_latency_range_t r;
		uint32_t add;

		if (!j->ports[i] || (j->specs[i].flags & from))
			continue;
		add = __atomic_load_n(&j->latency[i], __ATOMIC_RELAXED);
		r.min = in_range.min + add;
		r.max = in_range.max + add;
		jack_port_set_latency_range(j->ports[i], mode, &r);
	}
}

/* Name port i through metadata; a server without a metadata store only
 * costs the pretty name, so that is logged once at debug level. */
static void apply_pretty_name(struct cl_jack *j, size_t i)
{
	const char *pretty = j->pretty[i];

	if (!j->client || !j->ports[i] || !pretty || !*pretty)
		return;
	if (jack_set_property(j->client, jack_port_uuid(j->ports[i]),
			      JACK_METADATA_PRETTY_NAME, pretty,
			      "text/plain") != 0) {
		if (!j->metadata_refused)
			cl_debug("JACK refused metadata (pretty name of %s); "
				 "going on without pretty names",
				 j->specs[i].name);
		j->metadata_refused = true;
	}
}

/* Close a client we could not finish setting up, or one whose server died. */
static void detach(struct cl_jack *j)
{
	if (j->client) {
		if (j->active) {
			jack_deactivate(j->client);
			/* jackd 1.9.21 sends a "property changed" note per named
			 * port while a client closes, into a socket the closing
			 * client no longer reads: with more than ~20 named ports
			 * the server blocks and jack_client_close() never
			 * returns. Unregistering the ports first (their names go
			 * with them, while we still read) avoids it. Only when
			 * the server is alive: j->active is cleared on loss. */
			for (size_t i = 0; i < j->nports; i++)
				if (j->ports[i])
					jack_port_unregister(j->client, j->ports[i]);
		}
		jack_client_close(j->client);
	}
	j->client = NULL;
	j->active = false;
	for (size_t i = 0; i < j->nports; i++)
		j->ports[i] = NULL;
}

/* Open the client and bring it up with every port, name and callback.
 * quiet: keep libjack's connection errors off stderr (reopen attempts).
 * 0; -1 with err when no server took the client; -2 with err when the
 * server was there but a later step failed (the client is closed again). */
static int attach(struct cl_jack *j, bool quiet, char *err, size_t errlen)
{
	jack_options_t opts = JackNoStartServer;
	jack_status_t status = 0;
	void (*saved_error_fn)(const char *) = jack_error_callback;
	const char *actual;

	if (j->server)
		opts |= JackServerName;
	quiet_jack_error[0] = '\0';
	if (quiet)
		jack_set_error_function(keep_jack_error);
	j->client = jack_client_open(j->name, opts, &status, j->server);
	if (quiet)
		jack_set_error_function(saved_error_fn);
	if (!j->client) {
		snprintf(err, errlen, "cannot open JACK client '%s' on %s%s%s "
			 "(status 0x%x%s%s)", j->name,
			 j->server ? "server " : "the default server",
			 j->server ? j->server : "",
			 (status & JackServerFailed) ? ": no server running" : "",
			 (unsigned)status, quiet_jack_error[0] ? ": " : "",
			 quiet_jack_error);
		return -1;
	}
	actual = jack_get_client_name(j->client);
	if (status & JackNameNotUnique)
		cl_warn("JACK client name '%s' is taken; using '%s'",
			j->name, actual);

	for (size_t i = 0; i < j->nports; i++) {
		const struct cl_port_spec *s = &j->specs[i];

		j->ports[i] = jack_port_register(j->client, s->name, s->type,
						 s->flags, 0);
		if (!j->ports[i]) {
			snprintf(err, errlen, "cannot register JACK port %s:%s",
				 actual, s->name);
			goto fail;
		}
		apply_pretty_name(j, i);
	}

	jack_on_info_shutdown(j->client, on_jack_shutdown, j);
	if (jack_set_latency_callback(j->client, on_jack_latency, j) != 0 ||
	    jack_set_buffer_size_callback(j->client, on_jack_buffer_size, j) != 0) {
		snprintf(err, errlen, "cannot set JACK callbacks");
		goto fail;
	}
	j->sample_rate = jack_get_sample_rate(j->client);
	__atomic_store_n(&j->buffer_size, jack_get_buffer_size(j->client),
			 __ATOMIC_RELAXED);

	if (j->setup && j->setup(j, j->userdata, err, errlen) != 0)
		goto fail;
	if (jack_activate(j->client) != 0) {
		snprintf(err, errlen, "cannot activate JACK client '%s'", actual);
		goto fail;
	}
	j->active = true;
	return 0;

fail:
	detach(j);
	return -2;
}

/* Drop every allocation and the pipe; leaves j safe to close again. */
static void release(struct cl_jack *j)
{
	if (j->pretty)
		for (size_t i = 0; i < j->nports; i++)
			free(j->pretty[i]);
	free(j->pretty);
	free(j->latency);
	free(j->ports);
	free(j->name);
	free(j->server);
	if (j->pipe[0] >= 0)
		close(j->pipe[0]);
	if (j->pipe[1] >= 0)
		close(j->pipe[1]);
	memset(j, 0, sizeof *j);
	j->pipe[0] = j->pipe[1] = -1;
}

/* Open the client, register ports, run setup, activate. 0, or -1 and err
 * (j is then empty: cl_jack_close on it does nothing). */
int cl_jack_open(struct cl_jack *j, const char *name, const char *server,
		 const struct cl_port_spec *specs, size_t nports,
		 cl_jack_setup_fn setup, void *userdata,
		 char *err, size_t errlen)
{
	memset(j, 0, sizeof *j);
	j->pipe[0] = j->pipe[1] = -1;
	j->specs = specs;
	j->nports = nports;
	j->setup = setup;
	j->userdata = userdata;
	j->name = strdup(name);
	j->server = server ? strdup(server) : NULL;
	/* calloc(0) may return NULL: ask for at least one slot. */
	j->ports = calloc(nports ? nports : 1, sizeof *j->ports);
	j->latency = calloc(nports ? nports : 1, sizeof *j->latency);
	j->pretty = calloc(nports ? nports : 1, sizeof *j->pretty);
	if (!j->name || (server && !j->server) || !j->ports || !j->latency ||
	    !j->pretty) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < nports; i++) {
		j->latency[i] = specs[i].latency;
		if (specs[i].pretty && !(j->pretty[i] = strdup(specs[i].pretty))) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (pipe2(j->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (attach(j, false, err, errlen) != 0)
		goto fail;
	cl_info("JACK client '%s' up (%u Hz, %u frames)",
		jack_get_client_name(j->client), j->sample_rate,
		j->buffer_size);
	return 0;

fail:
	release(j);
	return -1;
}

/* Deactivate and close (if open) and free everything. */
void cl_jack_close(struct cl_jack *j)
{
	detach(j);
	release(j);
}

/* Readable once the server is lost. */
int cl_jack_fd(const struct cl_jack *j)
{
	return j->pipe[0];
}

/* After cl_jack_fd became readable: drain it, close the dead client. */
void cl_jack_lost(struct cl_jack *j)
{
	char buf[16];

	while (read(j->pipe[0], buf, sizeof buf) > 0)
		;
	if (!j->client)
		return;
	/* The server is gone: there is nothing to deactivate, but the docs
	 * still ask for jack_client_close() to free the client's side. */
	j->active = false;
	detach(j);
	cl_warn("JACK server lost; waiting for it to return");
}

/* Try once to open again with the same ports; 0 when back, -1 if not yet. */
int cl_jack_try_reopen(struct cl_jack *j)
{
	char err[512];
	int rc;

	if (j->client)
		return 0;
	rc = attach(j, true, err, sizeof err);
	if (rc == -1) {
		cl_debug("JACK reopen: %s", err); /* the usual: not back yet */
		return -1;
	}
	if (rc != 0) {
		cl_warn("JACK server is back but the client could not be set "
			"up again: %s", err);
		return -1;
	}
	cl_info("JACK server back; ports registered again");
	return 0;
}

/* Change the pretty name of port i; kept for reopens. 0, or -1 when i is
 * out of range or memory ran out. */
int cl_jack_set_pretty_name(struct cl_jack *j, size_t i, const char *pretty)
{
	char *copy;

	if (i >= j->nports)
		return -1;
	copy = strdup(pretty ? pretty : "");
	if (!copy)
		return -1;
	free(j->pretty[i]);
	j->pretty[i] = copy;
	if (!*copy && j->client && j->ports[i])
		jack_remove_property(j->client, jack_port_uuid(j->ports[i]),
				     JACK_METADATA_PRETTY_NAME);
	apply_pretty_name(j, i);
	return 0;
}

/* Change the latency port i adds; triggers a graph latency recompute. */
void cl_jack_set_port_latency(struct cl_jack *j, size_t i, uint32_t frames)
{
	if (i >= j->nports)
		return;
	__atomic_store_n(&j->latency[i], frames, __ATOMIC_RELAXED);
	if (j->client)
		jack_recompute_total_latencies(j->client);
}
