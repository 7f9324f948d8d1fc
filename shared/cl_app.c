/*
 * Lifecycle helpers shared by the programs' main.c; see cl_app.h.
 */
#define _GNU_SOURCE /* pipe2 */
#include "cl_app.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cl_doc.h"
#include "cl_log.h"

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

int cl_state_load(const char *path, bool missing_ok, cl_state_set_fn set, void *userdata)
{
	char err[512];
	struct stat st;

	cl_sweep_folder_of(path);
	if (missing_ok && stat(path, &st) != 0 && errno == ENOENT)
		return 0;
	json_t *doc = cl_doc_load_file(path, err, sizeof(err));
	if (!doc) {
		cl_error("cannot load state: %s", err);
		return -1;
	}
	int r = set(userdata, doc, err, sizeof(err));
	json_decref(doc);
	if (r != 0)
		cl_error("cannot load state from %s: %s", path, err);
	return r;
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
