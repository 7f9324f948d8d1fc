/*
 * cl_log: lines wait in memory until cl_log_flush(), come out in the exact
 * "prog: level: message\n" form, are filtered by verbosity, errors flush at
 * once, a full queue counts what it dropped, lines from several threads
 * never mix, and exit() flushes what is left.
 *
 * stderr (fd 2) is pointed at a temporary file for the checks; failures
 * are reported on a saved copy of the real stderr.
 */
#include "cl_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#define CHECK_REPORT report
#include "cl_check.h"

static FILE *report;
static int capture_fd;


/* Everything written to fd 2 since the last reset (caller frees). */
static char *captured(void)
{
	off_t end = lseek(capture_fd, 0, SEEK_END);
	char *buf = calloc((size_t)end + 1, 1);
	if (buf == NULL)
		abort();
	ssize_t n = pread(capture_fd, buf, (size_t)end, 0);
	if (n != end)
		abort();
	return buf;
}

static void reset_capture(void)
{
	if (ftruncate(capture_fd, 0) != 0)
		abort();
	lseek(capture_fd, 0, SEEK_SET);
}

static void check_captured(const char *want, const char *what)
{
	char *got = captured();
	CHECK(strcmp(got, want) == 0, "%s: got \"%s\", want \"%s\"", what, got, want);
	free(got);
	reset_capture();
}

static void test_format_and_flush(void)
{
	cl_log_init("cl-transport", 0);
	cl_info("OSC listening on udp://%s:%d", "127.0.0.1", 40000);
	check_captured("", "info line before flush");
	cl_info("OSC listening on udp://%s:%d", "127.0.0.1", 40000);
	cl_log_flush();
	check_captured("cl-transport: info: OSC listening on udp://127.0.0.1:40000\n"
		       "cl-transport: info: OSC listening on udp://127.0.0.1:40000\n",
		       "info lines after flush");

	cl_warn("xrun %d", 3);
	cl_log_flush();
	check_captured("cl-transport: warning: xrun 3\n", "warning line");

	cl_info("trailing newline\n");
	cl_log_flush();
	check_captured("cl-transport: info: trailing newline\n",
		       "a caller's newline is not doubled");

	cl_log_flush();
	check_captured("", "flush with nothing queued");
}

static void test_levels(void)
{
	cl_log_init("cl-mixer", 0);
	CHECK(cl_log_enabled(CL_LOG_INFO) && !cl_log_enabled(CL_LOG_DEBUG),
	      "verbosity 0: info on, debug off");
	cl_debug("hidden");
	cl_info("shown");
	cl_log_flush();
	check_captured("cl-mixer: info: shown\n", "verbosity 0 hides debug");

	cl_log_init("cl-mixer", 1);
	CHECK(cl_log_enabled(CL_LOG_DEBUG), "verbosity 1: debug on");
	cl_debug("gain %.1f", 0.5);
	cl_log_flush();
	check_captured("cl-mixer: debug: gain 0.5\n", "verbosity 1 shows debug");

	cl_log_init("cl-mixer", -1);
	cl_info("hidden");
	cl_warn("kept");
	cl_log_flush();
	check_captured("cl-mixer: warning: kept\n", "verbosity -1 hides info");
	cl_log_init("cl-mixer", 0);
}

static void test_error_flushes_at_once(void)
{
	cl_log_init("cl-fx", 0);
	cl_info("first");
	cl_warn("second");
	check_captured("", "nothing before the error");
	cl_error("cannot open %s", "x.json");
	check_captured("cl-fx: info: first\ncl-fx: warning: second\n"
		       "cl-fx: error: cannot open x.json\n",
		       "an error flushes the queue in order");
}

static void test_long_line(void)
{
	char big[3000];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cl_log_init("p", 0);
	cl_info("%s", big);
	cl_log_flush();
	char *got = captured();
	size_t len = strlen(got);
	CHECK(strncmp(got, "p: info: aaa", 12) == 0, "long line starts right");
	CHECK(len > 1000 && len < 1100, "long line cut near 1 KiB (got %zu bytes)", len);
	CHECK(len >= 5 && strcmp(got + len - 4, "...\n") == 0,
	      "a cut line ends with \"...\"");
	free(got);
	reset_capture();
}

static void test_drops(void)
{
	cl_log_init("cl-seq", 0);
	const int total = 5000;
	for (int i = 0; i < total; i++)
		cl_info("line %04d with some padding to make it about eighty bytes long ....", i);
	check_captured("", "nothing written before flush");
	cl_log_flush();
	char *got = captured();
	int kept = 0, dropped = -1;
	bool in_order = true;
	for (char *line = strtok(got, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		int n;
		if (sscanf(line, "cl-seq: info: line %d", &n) == 1) {
			if (n != kept)
				in_order = false;
			kept++;
		} else if (sscanf(line, "cl-seq: warning: %d log lines dropped (queue full)",
				  &n) == 1) {
			dropped = n;
		} else {
			CHECK(0, "unexpected line \"%s\"", line);
		}
	}
	CHECK(kept > 100, "kept %d lines", kept);
	CHECK(dropped > 0, "dropped count reported (%d)", dropped);
	CHECK(kept + dropped == total, "kept %d + dropped %d == %d", kept, dropped, total);
	CHECK(in_order, "kept lines are the first ones, in order");
	free(got);
	reset_capture();

	cl_info("after");
	cl_log_flush();
	check_captured("cl-seq: info: after\n", "dropped count reported once, then reset");
}

static void *log_thread(void *arg)
{
	int id = (int)(long)arg;
	for (int i = 0; i < 200; i++)
		cl_info("thread %d line %d xxxxxxxxxxxxxxxxxxxxxxxx", id, i);
	return NULL;
}

static void test_threads(void)
{
	cl_log_init("t", 0);
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, log_thread, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cl_log_flush();
	char *got = captured();
	int next[4] = { 0, 0, 0, 0 };
	int lines = 0;
	for (char *line = strtok(got, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		int id, n;
		char tail[64];
		if (sscanf(line, "t: info: thread %d line %d %63s", &id, &n, tail) == 3 &&
		    id >= 0 && id < 4 && strcmp(tail, "xxxxxxxxxxxxxxxxxxxxxxxx") == 0) {
			CHECK(n == next[id], "thread %d: line %d after %d", id, n, next[id] - 1);
			next[id] = n + 1;
			lines++;
		} else {
			CHECK(0, "mixed or broken line \"%s\"", line);
		}
	}
	CHECK(lines == 800, "800 lines from 4 threads (got %d)", lines);
	free(got);
	reset_capture();
}

static void test_exit_flushes(void)
{
	int pipefd[2];
	if (pipe(pipefd) != 0)
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		cl_log_init("cl-dmx", 0);
		cl_info("said just before exit");
		exit(0);
	}
	close(pipefd[1]);
	char buf[256] = "";
	size_t used = 0;
	ssize_t n;
	while ((n = read(pipefd[0], buf + used, sizeof buf - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	close(pipefd[0]);
	int status;
	waitpid(pid, &status, 0);
	CHECK(strcmp(buf, "cl-dmx: info: said just before exit\n") == 0,
	      "exit() flushes the queue (got \"%s\")", buf);
}

int main(void)
{
	report = fdopen(dup(STDERR_FILENO), "w");
	setvbuf(report, NULL, _IONBF, 0);
	char path[] = "/tmp/test-log-XXXXXX";
	capture_fd = mkstemp(path);
	if (capture_fd < 0 || report == NULL) {
		perror("test-log: setup");
		return 1;
	}
	unlink(path);
	dup2(capture_fd, STDERR_FILENO);

	test_format_and_flush();
	test_levels();
	test_error_flushes_at_once();
	test_long_line();
	test_drops();
	test_threads();
	test_exit_flushes();

	if (failures) {
		fprintf(report, "test-log: %d check(s) failed\n", failures);
		return 1;
	}
	fprintf(report, "test-log: format, flush, levels, errors, drops, threads, "
		"exit: all checks passed\n");
	return 0;
}
