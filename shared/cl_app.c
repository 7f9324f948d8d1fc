/*
 * Lifecycle helpers shared by the programs' main.c; see cl_app.h.
 */
#define _GNU_SOURCE /* pipe2 */
#include "cl_app.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cl_doc.h"
#include "cl_jack.h"
#include "cl_log.h"
#include "cl_nsm.h"
#include "cl_osc.h"

#define RECONNECT_INTERVAL_NS 500000000L

static volatile sig_atomic_t caught;
static int signal_pipe[2] = { -1, -1 };

/* Async-signal-safe: record, wake the poll loop. */
static void on_signal(int sig)
{
	int saved = errno;
	caught = sig;
	if (signal_pipe[1] >= 0) {
		char c = 1;
		ssize_t r = write(signal_pipe[1], &c, 1);
		(void)r;
	}
	errno = saved;
}

int cl_signals_init(void)
{
	if (signal_pipe[0] < 0 && pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int cl_signals_fd(void)
{
	return signal_pipe[0];
}

int cl_signal_caught(void)
{
	return caught;
}

void cl_sweep_folder_of(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return;
	int n = cl_atomic_sweep(dirname(copy));
	if (n > 0)
		cl_info("removed %d stale temporary file%s beside %s", n, n == 1 ? "" : "s", path);
	free(copy);
}

/* The JSON document at path, or NULL after "cannot load WHAT: why". */
static json_t *load_doc(const char *path, const char *what)
{
	char err[512];
	json_t *doc = cl_doc_load_file(path, err, sizeof(err));
	if (!doc)
		cl_error("cannot load %s: %s", what, err);
	return doc;
}

/* Hand `state` (consumed) to set; its refusal is reported against path. */
static int apply_state(json_t *state, const char *path, const char *what,
		       cl_state_set_fn set, void *userdata)
{
	char err[512];
	int r = set(userdata, state, err, sizeof(err));
	json_decref(state);
	if (r != 0)
		cl_error("cannot load %s from %s: %s", what, path, err);
	return r;
}

int cl_state_load_part(const char *path, const char *schema, const char *key,
		       cl_state_set_fn set, void *userdata)
{
	json_t *part = load_doc(path, key);
	if (!part)
		return -1;
	json_t *state = json_pack("{s:s, s:o}", "schema", schema, key, part);
	if (!state) {
		cl_error("%s: out of memory", path);
		return -1;
	}
	return apply_state(state, path, key, set, userdata);
}

int cl_state_load(const char *path, bool missing_ok, cl_state_set_fn set, void *userdata)
{
	struct stat st;

	cl_sweep_folder_of(path);
	if (missing_ok && stat(path, &st) != 0 && errno == ENOENT)
		return 0;
	json_t *doc = load_doc(path, "state");
	if (!doc)
		return -1;
	return apply_state(doc, path, "state", set, userdata);
}

void cl_state_path(char *buf, size_t len, const char *dir)
{
	snprintf(buf, len, "%s/state.json", dir);
}

int cl_state_save_dir(const char *dir, cl_state_get_fn get, void *userdata,
		      char *err, size_t errlen)
{
	char path[4096];
	if (!dir) {
		snprintf(err, errlen, "no session is open");
		return -1;
	}
	cl_state_path(path, sizeof(path), dir);
	json_t *doc = get(userdata);
	if (!doc) {
		snprintf(err, errlen, "cannot build the state document");
		return -1;
	}
	int r = cl_doc_save(path, doc, err, errlen);
	json_decref(doc);
	return r;
}

int cl_app_session_init(struct cl_app_session *s, const char *name)
{
	*s = (struct cl_app_session){ .jack_name = strdup(name) };
	return s->jack_name ? 0 : -1;
}

int cl_app_session_open(struct cl_app_session *s, const char *dir, const char *display_name,
			const char *client_id, const char **store,
			cl_state_set_fn set, void *userdata, char *err, size_t errlen)
{
	char path[4096];
	cl_state_path(path, sizeof(path), dir);
	if (cl_state_load(path, true, set, userdata) != 0) {
		snprintf(err, errlen, "cannot load %s (see the log)", path);
		return -1;
	}
	char *d = strdup(dir), *name = strdup(client_id);
	if (!d || !name) {
		free(d);
		free(name);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (store && *store == s->dir)
		*store = NULL;   /* the old session's folder */
	free(s->dir);
	free(s->jack_name);
	s->dir = d;
	s->jack_name = name;
	if (store && !*store)
		*store = s->dir;
	s->opened = true;
	cl_info("NSM session '%s': state in %s", display_name, dir);
	return 0;
}

void cl_app_session_done(struct cl_app_session *s, const char **store)
{
	if (store && s->dir && *store == s->dir)
		*store = NULL;
	free(s->dir);
	free(s->jack_name);
	*s = (struct cl_app_session){ 0 };
}

static bool reached(const struct timespec *t, const struct timespec *now)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

int cl_app_run(const struct cl_app_loop *l)
{
	struct timespec next_reconnect = { 0 }, now;
	bool jack_started = cl_jack_is_up(l->jack);
	int timeout = l->timeout_ms;

	while (!*l->quit && !cl_signal_caught()) {
		struct pollfd fds[4];
		int nfds = 0, jack_i = -1, nsm_i = -1;
		fds[nfds++] = (struct pollfd){ .fd = cl_signals_fd(), .events = POLLIN };
		fds[nfds++] = (struct pollfd){ .fd = cl_osc_fd(l->osc), .events = POLLIN };
		if (cl_jack_is_up(l->jack)) {
			jack_i = nfds;
			fds[nfds++] = (struct pollfd){ .fd = cl_jack_fd(l->jack), .events = POLLIN };
		}
		if (l->nsm) {
			nsm_i = nfds;
			fds[nfds++] = (struct pollfd){ .fd = cl_nsm_fd(l->nsm), .events = POLLIN };
		}
		cl_log_flush();
		if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR) {
			cl_error("poll: %s", strerror(errno));
			return -1;
		}
		timeout = l->timeout_ms;
		if (l->tick)
			l->tick(l->userdata, &timeout);
		if (fds[1].revents & POLLIN)
			cl_osc_receive(l->osc);
		if (nsm_i >= 0 && (fds[nsm_i].revents & POLLIN))
			cl_nsm_receive(l->nsm);
		if (jack_i >= 0 && (fds[jack_i].revents & (POLLIN | POLLHUP))) {
			cl_jack_lost(l->jack);
			if (l->lost)
				l->lost(l->userdata);
		}

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!jack_started && l->nsm && l->session->opened) {
			/* NSM has loaded our state: only now join the graph */
			if (l->open_jack(l->userdata) != 0)
				return -1;
			jack_started = true;
		} else if (jack_started && !cl_jack_is_up(l->jack) && reached(&next_reconnect, &now)) {
			if (cl_jack_try_reopen(l->jack) == 0 && l->reopened)
				l->reopened(l->userdata);
			next_reconnect = now;
			next_reconnect.tv_nsec += RECONNECT_INTERVAL_NS;
			if (next_reconnect.tv_nsec >= 1000000000L) {
				next_reconnect.tv_sec++;
				next_reconnect.tv_nsec -= 1000000000L;
			}
		}
	}
	return 0;
}
