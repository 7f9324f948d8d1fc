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

/* Load the document at path as the `key` member of a state document
 * {"schema": schema, key: <document>} through set: how --chain and
 * --pattern hand a chain or pattern file to the program. Logs why on
 * failure. 0 or -1. */
int cl_state_load_part(const char *path, const char *schema, const char *key,
		       cl_state_set_fn set, void *userdata);

/* "<dir>/state.json", the state file inside an NSM session folder. */
void cl_state_path(char *buf, size_t len, const char *dir);

typedef json_t *(*cl_state_get_fn)(void *userdata);

/* Save the state document (from get) atomically as <dir>/state.json, the
 * answer to NSM's save. 0, or -1 and err. */
int cl_state_save_dir(const char *dir, cl_state_get_fn get, void *userdata,
		      char *err, size_t errlen);

/* What a program knows of its NSM session. */
struct cl_app_session {
	char *dir;           /* the session folder (state.json lives there), or NULL */
	char *jack_name;     /* the JACK client name: --name, or NSM's client id */
	bool opened;         /* NSM opened the session: JACK may start */
};

/* Start with the client name the user gave. 0, or -1 (out of memory). */
int cl_app_session_init(struct cl_app_session *s, const char *name);
/* The body of an NSM open hook: load <dir>/state.json through set (a
 * missing file is fine), remember the folder and take client_id as the
 * JACK name; with store given and *store unset, the folder becomes the
 * store root. 0, or -1 and err. */
int cl_app_session_open(struct cl_app_session *s, const char *dir, const char *display_name,
			const char *client_id, const char **store,
			cl_state_set_fn set, void *userdata, char *err, size_t errlen);
/* Free what the session holds; a store root that was the session folder
 * is unset first. */
void cl_app_session_done(struct cl_app_session *s, const char **store);

struct cl_osc;
struct cl_nsm;
struct cl_jack;

/* The main loop every program runs: one poll() over the signal pipe, the
 * OSC socket, the JACK server-loss pipe and NSM; JACK opened once NSM has
 * opened the session, and reopened every 500 ms after the server went
 * away. */
struct cl_app_loop {
	struct cl_osc *osc;
	struct cl_nsm *nsm;                  /* NULL without NSM */
	struct cl_jack *jack;
	const struct cl_app_session *session;
	const bool *quit;                    /* /cl/quit sets it */
	void *userdata;
	/* open JACK the first time, under NSM: 0, or -1 (the loop ends) */
	int (*open_jack)(void *userdata);
	/* every turn, after the wait and before OSC is read (events first:
	 * handlers see the latest the audio thread said); may shorten the
	 * next wait. May be NULL. */
	void (*tick)(void *userdata, int *timeout_ms);
	void (*lost)(void *userdata);        /* the server went away; may be NULL */
	void (*reopened)(void *userdata);    /* and came back; may be NULL */
	int timeout_ms;                      /* the longest wait between turns */
};

/* Run until a signal or *quit. 0, or -1 when poll() or open_jack failed. */
int cl_app_run(const struct cl_app_loop *l);

#endif
