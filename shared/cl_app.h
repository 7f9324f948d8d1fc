/*
 * Lifecycle pieces every CoreLogic program's main.c needs: the signal
 * self-pipe, state files loaded at start (with stale temporaries swept),
 * and the NSM session folder glue.
 *
 * The signal handler only records the signal and writes one byte to a
 * pipe; the main loop polls cl_signals_fd() and ends when cl_signal_caught()
 * is non-zero.
 */
#ifndef CL_APP_H
#define CL_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* Catch SIGINT and SIGTERM, ignore SIGPIPE. 0, or -1 with errno. */
int cl_signals_init(void);
int cl_signals_fd(void);
/* The signal that asked us to stop, or 0. */
int cl_signal_caught(void);

/* Remove temporaries a crash left in the folder of path. */
void cl_sweep_folder_of(const char *path);

typedef int (*cl_state_set_fn)(void *userdata, json_t *doc, char *err, size_t errlen);

/* Load the state document at path through set (which checks it and
 * changes nothing on refusal). A missing file is fine when missing_ok.
 * Logs why on failure. 0 or -1. */
int cl_state_load(const char *path, bool missing_ok, cl_state_set_fn set, void *userdata);

/* "<dir>/state.json", the state file inside an NSM session folder. */
void cl_state_path(char *buf, size_t len, const char *dir);

typedef json_t *(*cl_state_get_fn)(void *userdata);

/* Save the state document (from get) atomically as <dir>/state.json, the
 * answer to NSM's save. 0, or -1 and err. */
int cl_state_save_dir(const char *dir, cl_state_get_fn get, void *userdata,
		      char *err, size_t errlen);

#endif
