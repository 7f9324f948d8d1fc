/*
 * Logging with levels.
 *
 * Log lines are formatted into a memory queue and written out by
 * cl_log_flush(), which each program's main loop calls once per iteration
 * (and at exit). Nothing here may be called from a JACK process callback:
 * the audio thread reports through its event ringbuffer instead, and the
 * main loop logs what it reads there.
 *
 * Line format: "prog: level: message\n", level one of "error", "warning",
 * "info", "debug" (e.g. "cl-transport: info: OSC listening on
 * udp://127.0.0.1:40000"). A trailing newline in the message is dropped;
 * messages longer than about 1 KiB are cut and end with "...".
 */
#ifndef CL_LOG_H
#define CL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum cl_log_level {
	CL_LOG_ERROR = 0,
	CL_LOG_WARN = 1,
	CL_LOG_INFO = 2,
	CL_LOG_DEBUG = 3,
};

/* Name the program in every line; verbosity 0 shows errors, warnings and
 * info, each -v adds a level (negative hides info, then warnings). May be
 * called again. */
void cl_log_init(const char *prog, int verbosity);

void cl_log(enum cl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cl_logv(enum cl_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Write queued lines to stderr. Main thread; cheap when nothing is queued.
 * Also runs at exit, and right after every CL_LOG_ERROR line. Lines that
 * did not fit the queue are counted and reported at the next flush as
 * "prog: warning: N log lines dropped (queue full)". */
void cl_log_flush(void);

/* True when lines of this level are shown (skip costly formatting). */
bool cl_log_enabled(enum cl_log_level level);

#define cl_error(...) cl_log(CL_LOG_ERROR, __VA_ARGS__)
#define cl_warn(...)  cl_log(CL_LOG_WARN, __VA_ARGS__)
#define cl_info(...)  cl_log(CL_LOG_INFO, __VA_ARGS__)
#define cl_debug(...) cl_log(CL_LOG_DEBUG, __VA_ARGS__)

/* Format an error message into err (for the "0, or -1 and err"
 * functions everywhere; err may be NULL) and return -1. */
int cl_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
