/*
 * Non Session Manager client protocol (API 1.1.2).
 *
 * When NSM_URL is set, the program announces itself (capabilities
 * ":dirty:message:"), waits for /nsm/client/open, loads its state from the
 * path NSM gives and only then opens JACK under the client id NSM chose.
 * /nsm/client/save saves atomically and replies. Dirty/clean changes are
 * reported. Every message leaves from the socket that announced, as the
 * protocol requires.
 *
 * The NSM path is used as a folder: the state document is
 * "<path>/state.json" and the folder is the program's store root.
 */
#ifndef CL_NSM_H
#define CL_NSM_H

#include <stdbool.h>
#include <stddef.h>

struct cl_nsm_hooks {
	void *userdata;
	/* Load state from dir (created if missing; state file may not exist
	 * yet: start empty). client_id is the JACK client name to use. 0, or
	 * -1 and err (sent to NSM as the reason). */
	int (*open)(void *userdata, const char *dir, const char *display_name,
		    const char *client_id, char *err, size_t errlen);
	/* Save state into the dir given by open. 0, or -1 and err. */
	int (*save)(void *userdata, char *err, size_t errlen);
};

struct cl_nsm;

/* NULL with err[0] == 0 when NSM_URL is unset; NULL with err on failure. */
struct cl_nsm *cl_nsm_new(const char *app_name, const char *executable,
			  const struct cl_nsm_hooks *hooks,
			  char *err, size_t errlen);
void cl_nsm_free(struct cl_nsm *nsm);
int cl_nsm_fd(const struct cl_nsm *nsm);
/* Read and handle whatever NSM sent. Main thread. */
void cl_nsm_receive(struct cl_nsm *nsm);
/* True once /nsm/client/open succeeded. */
bool cl_nsm_is_open(const struct cl_nsm *nsm);
/* True once NSM answered the announce with /error (incompatible API,
 * blacklisted): no open will come, run without session management. */
bool cl_nsm_is_refused(const struct cl_nsm *nsm);
/* Report a state change (sends is_dirty/is_clean only on a change). */
void cl_nsm_set_dirty(struct cl_nsm *nsm, bool dirty);
/* Show a message in the NSM front end (priority 0..3). */
void cl_nsm_message(struct cl_nsm *nsm, int priority, const char *text);

#endif
