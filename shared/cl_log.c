/*
 * Logging with levels.
 *
 * Any non-RT thread formats a line ("prog: level: message\n") into one
 * memory queue under a mutex; the main loop writes the queue to stderr with
 * cl_log_flush(). Writing happens outside that mutex: the flusher swaps the
 * filled buffer with an empty one and writes it, so a slow terminal or a
 * full pipe never stalls a thread that only wanted to log.
 *
 * When the queue is full a line is dropped and counted; the next flush
 * writes the queued lines, then "prog: warning: N log lines dropped (queue
 * full)". Errors flush at once (an error often comes right before a crash
 * or an abort, and must not stay in memory), and an atexit handler flushes
 * whatever is left, so a program that returns from main or calls exit()
 * loses nothing.
 */
#include "cl_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_QUEUE_BYTES (64 * 1024)
#define LOG_LINE_MAX 1024
#define LOG_PROG_MAX 64

static const char *const level_names[] = {
	[CL_LOG_ERROR] = "error",
	[CL_LOG_WARN] = "warning",
	[CL_LOG_INFO] = "info",
	[CL_LOG_DEBUG] = "debug",
};

struct log_queue {
	char buf[LOG_QUEUE_BYTES];
	size_t used;
};

/* Two buffers: producers fill `filling` while the flusher writes the other. */
static struct log_queue queues[2];
static struct log_queue *filling = &queues[0];
static uint32_t dropped;
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
/* Serialises flushers (main loop, error path, atexit) so lines keep order. */
static pthread_mutex_t flush_lock = PTHREAD_MUTEX_INITIALIZER;

static char prog_name[LOG_PROG_MAX] = "cl";
static int max_level = CL_LOG_INFO;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;

/* Lines queued at exit must still reach stderr. */
static void register_atexit(void)
{
	atexit(cl_log_flush);
}

/* Set the program name and verbosity; may be called again to change them. */
void cl_log_init(const char *prog, int verbosity)
{
	pthread_once(&atexit_once, register_atexit);
	pthread_mutex_lock(&queue_lock);
	if (prog != NULL && prog[0] != '\0')
		snprintf(prog_name, sizeof prog_name, "%s", prog);
	max_level = CL_LOG_INFO + verbosity;
	pthread_mutex_unlock(&queue_lock);
}

/* True when a line of this level would be shown. */
bool cl_log_enabled(enum cl_log_level level)
{
	pthread_mutex_lock(&queue_lock);
	bool on = (int)level <= max_level;
	pthread_mutex_unlock(&queue_lock);
	return on;
}

/* Write all of buf to stderr, retrying on EINTR; give up on other errors
 * (there is nowhere left to report them). */
static void write_all_stderr(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Write the queued lines, then the count of dropped ones, to stderr. */
void cl_log_flush(void)
{
	pthread_mutex_lock(&flush_lock);

	pthread_mutex_lock(&queue_lock);
	struct log_queue *full = filling;
	uint32_t lost = dropped;
	char prog[LOG_PROG_MAX];
	memcpy(prog, prog_name, sizeof prog);
	if (full->used > 0 || lost > 0) {
		filling = (full == &queues[0]) ? &queues[1] : &queues[0];
		filling->used = 0;
		dropped = 0;
	}
	pthread_mutex_unlock(&queue_lock);

	if (full->used > 0) {
		write_all_stderr(full->buf, full->used);
		full->used = 0;
	}
	if (lost > 0) {
		char line[LOG_LINE_MAX];
		int n = snprintf(line, sizeof line,
				 "%s: warning: %u log line%s dropped (queue full)\n",
				 prog, lost, lost == 1 ? "" : "s");
		if (n > 0)
			write_all_stderr(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	}

	pthread_mutex_unlock(&flush_lock);
}

/* Format one line and queue it (or count it dropped); errors flush at once. */
void cl_logv(enum cl_log_level level, const char *fmt, va_list ap)
{
	if ((unsigned)level > CL_LOG_DEBUG)
		level = CL_LOG_DEBUG;

	pthread_once(&atexit_once, register_atexit);

	/* Format outside the lock: vsnprintf may be slow, the queue is shared. */
	char msg[LOG_LINE_MAX];
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0) {
		snprintf(msg, sizeof msg, "(bad log format \"%s\")", fmt);
		n = (int)strlen(msg);
	}
	size_t mlen = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
	if ((size_t)n >= sizeof msg && sizeof msg > 4) {
		/* Mark a cut line so nobody trusts its end. */
		memcpy(msg + sizeof msg - 4, "...", 4);
		mlen = sizeof msg - 1;
	}
	/* One line per call: a trailing newline from the caller is not doubled. */
	while (mlen > 0 && msg[mlen - 1] == '\n')
		msg[--mlen] = '\0';

	pthread_mutex_lock(&queue_lock);
	if ((int)level > max_level) {
		pthread_mutex_unlock(&queue_lock);
		return;
	}
	size_t plen = strlen(prog_name);
	const char *lname = level_names[level];
	size_t llen = strlen(lname);
	size_t need = plen + 2 + llen + 2 + mlen + 1;
	struct log_queue *q = filling;
	if (q->used + need > sizeof q->buf) {
		dropped++;
	} else {
		char *p = q->buf + q->used;
		memcpy(p, prog_name, plen);
		p += plen;
		memcpy(p, ": ", 2);
		p += 2;
		memcpy(p, lname, llen);
		p += llen;
		memcpy(p, ": ", 2);
		p += 2;
		memcpy(p, msg, mlen);
		p += mlen;
		*p = '\n';
		q->used += need;
	}
	pthread_mutex_unlock(&queue_lock);

	if (level == CL_LOG_ERROR)
		cl_log_flush();
}

/* printf-style front end of cl_logv. */
void cl_log(enum cl_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cl_logv(level, fmt, ap);
	va_end(ap);
}

int cl_fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}
