/*
 * NSM client protocol (API 1.1.2) over liblo.
 *
 * One liblo UDP server on an ephemeral port is both our return address and
 * our sending socket: nsmd tells its clients apart by the address their
 * announce came from, so every message leaves through lo_send_from() on
 * that server. The program polls cl_nsm_fd() in its own loop and calls
 * cl_nsm_receive(); handlers run there, in the main thread, and call the
 * program's open/save hooks synchronously, replying when they return.
 *
 * liblo 0.31 binds every interface, and /nsm/client/open makes us create
 * folders, so messages are only accepted from the session manager: same
 * UDP port as NSM_URL, and a host that is loopback or one of the addresses
 * NSM_URL's host resolves to. Anything else is dropped with a debug line.
 *
 * We do not announce :switch:, so the spec delivers /nsm/client/open once.
 * A second open after a successful one is answered with ERR_NOT_NOW and
 * changes nothing: our JACK client already carries the first client id and
 * JACK cannot rename clients; NSM restarts clients without :switch:. A
 * failed open may be retried by the server. A successful save always ends
 * with is_clean, whatever we told NSM before.
 */
#define _GNU_SOURCE
#include "cl_nsm.h"

#include <errno.h>
#include <stdint.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <lo/lo.h>

#include "cl_log.h"

/* The NSM API version we implement (1.1.2): announce sends major.minor. */
#define NSM_API_MAJOR 1
#define NSM_API_MINOR 1

/* Error codes of the NSM spec ("Error Code Definitions"). */
enum {
	ERR_GENERAL = -1,
	ERR_INCOMPATIBLE_API = -2,
	ERR_BLACKLISTED = -3,
	ERR_LAUNCH_FAILED = -4,
	ERR_NO_SUCH_FILE = -5,
	ERR_NO_SESSION_OPEN = -6,
	ERR_UNSAVED_CHANGES = -7,
	ERR_NOT_NOW = -8,
	ERR_BAD_PROJECT = -9,
	ERR_CREATE_FAILED = -10,
};

#define MAX_NSM_HOSTS 16

struct cl_nsm {
	lo_server server;               /* our socket, sending and receiving */
	lo_address nsm;                 /* NSM_URL */
	char nsm_port[16];
	char nsm_hosts[MAX_NSM_HOSTS][64]; /* numeric addresses of NSM_URL's host */
	int n_nsm_hosts;
	struct cl_nsm_hooks hooks;
	bool announced;                 /* /reply to the announce arrived */
	bool refused;                   /* /error to the announce arrived */
	bool open;
	bool dirty;
	char *dir;
	char *client_id;
};

/* liblo hands out lo_arg pointers that are only 4-byte aligned, while the
 * union holds 8-byte members: read through plain pointers, not the union. */
static const char *arg_str(const lo_arg *a)
{
	return (const char *)a;
}

static int arg_int(const lo_arg *a)
{
	int32_t v;

	memcpy(&v, a, sizeof v);
	return v;
}

/* liblo's own errors (bad packets and the like) are not ours to shout. */
static void on_lo_error(int num, const char *msg, const char *where)
{
	cl_debug("NSM: liblo error %d: %s%s%s", num, msg ? msg : "",
		 where ? " at " : "", where ? where : "");
}

/* An IPv4 address seen through an IPv6 socket, as the IPv4 text. */
static const char *plain_ipv4(const char *host)
{
	return strncmp(host, "::ffff:", 7) == 0 ? host + 7 : host;
}

/* True when msg came from the session manager's socket. */
static bool from_nsm(const struct cl_nsm *nsm, lo_message msg)
{
	lo_address src = lo_message_get_source(msg);
	const char *host, *port;

	if (!src)
		return false;
	host = lo_address_get_hostname(src);
	port = lo_address_get_port(src);
	if (!host || !port || strcmp(port, nsm->nsm_port) != 0)
		return false;
	host = plain_ipv4(host);
	if (strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0)
		return true;
	for (int i = 0; i < nsm->n_nsm_hosts; i++)
		if (strcmp(host, nsm->nsm_hosts[i]) == 0)
			return true;
	return false;
}

/* Drop (with a debug line) what did not come from the session manager. */
static bool reject_stranger(const struct cl_nsm *nsm, const char *path,
			    lo_message msg)
{
	lo_address src = lo_message_get_source(msg);

	if (from_nsm(nsm, msg))
		return false;
	cl_debug("NSM: ignored %s from %s:%s (not the session manager)", path,
		 src ? lo_address_get_hostname(src) : "?",
		 src ? lo_address_get_port(src) : "?");
	return true;
}

/* Send "/reply" path message from the announcing socket. */
static void send_reply(struct cl_nsm *nsm, const char *path, const char *text)
{
	if (lo_send_from(nsm->nsm, nsm->server, LO_TT_IMMEDIATE, "/reply",
			 "ss", path, text) < 0)
		cl_warn("NSM: cannot send /reply %s: %s", path,
			lo_address_errstr(nsm->nsm));
}

/* Send "/error" path code message from the announcing socket. */
static void send_error(struct cl_nsm *nsm, const char *path, int code,
		       const char *text)
{
	if (lo_send_from(nsm->nsm, nsm->server, LO_TT_IMMEDIATE, "/error",
			 "sis", path, code, text) < 0)
		cl_warn("NSM: cannot send /error %s: %s", path,
			lo_address_errstr(nsm->nsm));
}

/* mkdir -p with mode 0755; 0, or -1 and err. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	struct stat st;
	int rc = -1;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Create each ancestor in turn; EEXIST is what we want. */
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", copy,
				 strerror(errno));
			goto out;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a folder", path);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

/* /nsm/client/open s:path s:display_name s:client_id */
static int on_open(const char *path, const char *types, lo_arg **argv,
		   int argc, lo_message msg, void *user_data)
{
	struct cl_nsm *nsm = user_data;
	const char *dir = arg_str(argv[0]), *display = arg_str(argv[1]);
	const char *client_id = arg_str(argv[2]);
	char err[512] = "";
	char text[600];
	char *dir_copy, *id_copy;

	if (reject_stranger(nsm, path, msg))
		return 0;
	if (nsm->open) {
		cl_warn("NSM: refused a second open (%s): switching sessions "
			"is not supported", dir);
		send_error(nsm, path, ERR_NOT_NOW, "this client cannot switch "
			   "projects (no :switch:); restart it instead");
		return 0;
	}
	cl_info("NSM: opening %s as %s", dir, client_id);
	if (make_dirs(dir, err, sizeof err) != 0) {
		cl_error("NSM: open failed: %s", err);
		send_error(nsm, path, ERR_CREATE_FAILED, err);
		return 0;
	}
	dir_copy = strdup(dir);
	id_copy = strdup(client_id);
	if (!dir_copy || !id_copy) {
		free(dir_copy);
		free(id_copy);
		send_error(nsm, path, ERR_GENERAL, "out of memory");
		return 0;
	}
	if (nsm->hooks.open &&
	    nsm->hooks.open(nsm->hooks.userdata, dir, display, client_id,
			    err, sizeof err) != 0) {
		free(dir_copy);
		free(id_copy);
		if (!err[0])
			snprintf(err, sizeof err, "cannot open %s", dir);
		cl_error("NSM: open failed: %s", err);
		send_error(nsm, path, ERR_GENERAL, err);
		return 0;
	}
	free(nsm->dir);
	free(nsm->client_id);
	nsm->dir = dir_copy;
	nsm->client_id = id_copy;
	nsm->open = true;
	nsm->dirty = false; /* freshly loaded state is what is on disk */
	snprintf(text, sizeof text, "opened %s", dir);
	send_reply(nsm, path, text);
	return 0;
}

/* /nsm/client/save */
static int on_save(const char *path, const char *types, lo_arg **argv,
		   int argc, lo_message msg, void *user_data)
{
	struct cl_nsm *nsm = user_data;
	char err[512] = "";

	if (reject_stranger(nsm, path, msg))
		return 0;
	if (!nsm->open) {
		send_error(nsm, path, ERR_NO_SESSION_OPEN,
			   "nothing to save: no open received yet");
		return 0;
	}
	if (nsm->hooks.save &&
	    nsm->hooks.save(nsm->hooks.userdata, err, sizeof err) != 0) {
		if (!err[0])
			snprintf(err, sizeof err, "save failed");
		cl_error("NSM: save failed: %s", err);
		send_error(nsm, path, ERR_GENERAL, err);
		return 0;
	}
	cl_info("NSM: saved into %s", nsm->dir);
	send_reply(nsm, path, "saved");
	/* Always: NSM's idea of our dirtiness may be older than ours. */
	nsm->dirty = false;
	if (lo_send_from(nsm->nsm, nsm->server, LO_TT_IMMEDIATE,
			 "/nsm/client/is_clean", "") < 0)
		cl_warn("NSM: cannot send is_clean");
	return 0;
}

/* /reply s:path ... : the answer to our announce (nothing else we send
 * expects one). */
static int on_reply(const char *path, const char *types, lo_arg **argv,
		    int argc, lo_message msg, void *user_data)
{
	struct cl_nsm *nsm = user_data;

	if (reject_stranger(nsm, path, msg))
		return 0;
	if (argc < 1 || types[0] != 's') {
		cl_debug("NSM: /reply without a path");
		return 0;
	}
	if (strcmp(arg_str(argv[0]), "/nsm/server/announce") != 0) {
		cl_debug("NSM: /reply to %s", arg_str(argv[0]));
		return 0;
	}
	nsm->announced = true;
	cl_info("NSM: session manager %s says: %s",
		argc >= 3 && types[2] == 's' ? arg_str(argv[2]) : "(unnamed)",
		argc >= 2 && types[1] == 's' ? arg_str(argv[1]) : "");
	return 0;
}

/* /error s:path i:code s:message */
static int on_error(const char *path, const char *types, lo_arg **argv,
		    int argc, lo_message msg, void *user_data)
{
	struct cl_nsm *nsm = user_data;
	const char *about, *text;
	int code;

	if (reject_stranger(nsm, path, msg))
		return 0;
	if (argc < 3 || strncmp(types, "sis", 3) != 0) {
		cl_warn("NSM: malformed /error (%s)", types);
		return 0;
	}
	about = arg_str(argv[0]);
	code = arg_int(argv[1]);
	text = arg_str(argv[2]);
	if (strcmp(about, "/nsm/server/announce") == 0) {
		nsm->refused = true;
		cl_error("NSM refused this client (%d): %s", code, text);
	} else {
		cl_warn("NSM error on %s (%d): %s", about, code, text);
	}
	return 0;
}

/* Messages we accept but do not act on, and everything unknown. */
static int on_other(const char *path, const char *types, lo_arg **argv,
		    int argc, lo_message msg, void *user_data)
{
	struct cl_nsm *nsm = user_data;

	if (reject_stranger(nsm, path, msg))
		return 0;
	if (strcmp(path, "/nsm/client/session_is_loaded") == 0)
		cl_debug("NSM: session is loaded");
	else
		cl_debug("NSM: ignored %s ,%s", path, types);
	return 0;
}

/* Remember the numeric addresses of NSM_URL's host for from_nsm(). */
static int resolve_nsm_host(struct cl_nsm *nsm, const char *host,
			    char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res, *ai;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0) {
		snprintf(err, errlen, "NSM_URL host '%s': %s", host,
			 gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai && nsm->n_nsm_hosts < MAX_NSM_HOSTS; ai = ai->ai_next) {
		char buf[64];

		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof buf,
				NULL, 0, NI_NUMERICHOST) == 0)
			snprintf(nsm->nsm_hosts[nsm->n_nsm_hosts++],
				 sizeof nsm->nsm_hosts[0], "%s",
				 plain_ipv4(buf));
	}
	freeaddrinfo(res);
	return 0;
}

/* Check NSM_URL's shape: osc.udp://host:port/ with a numeric port. */
static int parse_nsm_url(struct cl_nsm *nsm, const char *url,
			 char *err, size_t errlen)
{
	char *proto = lo_url_get_protocol(url);
	char *host = lo_url_get_hostname(url);
	char *port = lo_url_get_port(url);
	char *end = NULL;
	long portnum = port ? strtol(port, &end, 10) : 0;
	int rc = -1;

	if (!proto || !host || !*host || !port) {
		snprintf(err, errlen, "NSM_URL '%s' is not an OSC URL "
			 "(osc.udp://host:port/)", url);
		goto out;
	}
	if (strcmp(proto, "udp") != 0) {
		snprintf(err, errlen, "NSM_URL '%s': only osc.udp is supported",
			 url);
		goto out;
	}
	if (end == port || *end || portnum < 1 || portnum > 65535) {
		snprintf(err, errlen, "NSM_URL '%s' has no valid port", url);
		goto out;
	}
	snprintf(nsm->nsm_port, sizeof nsm->nsm_port, "%ld", portnum);
	if (resolve_nsm_host(nsm, host, err, errlen) != 0)
		goto out;
	nsm->nsm = lo_address_new_from_url(url);
	if (!nsm->nsm) {
		snprintf(err, errlen, "NSM_URL '%s' is not an OSC URL", url);
		goto out;
	}
	rc = 0;
out:
	free(proto);
	free(host);
	free(port);
	return rc;
}

/* Announce to NSM_URL when it is set. NULL with err[0] == 0 when NSM_URL
 * is unset (or empty); NULL with err on failure. */
struct cl_nsm *cl_nsm_new(const char *app_name, const char *executable,
			  const struct cl_nsm_hooks *hooks,
			  char *err, size_t errlen)
{
	const char *url = getenv("NSM_URL");
	struct cl_nsm *nsm;

	if (errlen)
		err[0] = '\0';
	if (!url || !*url)
		return NULL;
	nsm = calloc(1, sizeof *nsm);
	if (!nsm) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (hooks)
		nsm->hooks = *hooks;
	if (parse_nsm_url(nsm, url, err, errlen) != 0)
		goto fail;
	nsm->server = lo_server_new_with_proto(NULL, LO_UDP, on_lo_error);
	if (!nsm->server) {
		snprintf(err, errlen, "cannot open a UDP socket for NSM");
		goto fail;
	}
	lo_server_add_method(nsm->server, "/nsm/client/open", "sss", on_open, nsm);
	lo_server_add_method(nsm->server, "/nsm/client/save", "", on_save, nsm);
	lo_server_add_method(nsm->server, "/reply", NULL, on_reply, nsm);
	lo_server_add_method(nsm->server, "/error", NULL, on_error, nsm);
	lo_server_add_method(nsm->server, NULL, NULL, on_other, nsm);

	if (lo_send_from(nsm->nsm, nsm->server, LO_TT_IMMEDIATE,
			 "/nsm/server/announce", "sssiii", app_name,
			 ":dirty:message:", executable, NSM_API_MAJOR,
			 NSM_API_MINOR, (int)getpid()) < 0) {
		snprintf(err, errlen, "cannot announce to NSM at %s: %s", url,
			 lo_address_errstr(nsm->nsm));
		goto fail;
	}
	cl_info("NSM: announced %s to %s", app_name, url);
	return nsm;

fail:
	cl_nsm_free(nsm);
	return NULL;
}

/* Close the socket and free everything (NULL is fine). */
void cl_nsm_free(struct cl_nsm *nsm)
{
	if (!nsm)
		return;
	if (nsm->server)
		lo_server_free(nsm->server);
	if (nsm->nsm)
		lo_address_free(nsm->nsm);
	free(nsm->dir);
	free(nsm->client_id);
	free(nsm);
}

/* The socket to poll for NSM messages; -1 for NULL. */
int cl_nsm_fd(const struct cl_nsm *nsm)
{
	return nsm ? lo_server_get_socket_fd(nsm->server) : -1;
}

/* Read and handle whatever NSM sent, without waiting. Main thread. */
void cl_nsm_receive(struct cl_nsm *nsm)
{
	if (!nsm)
		return;
	while (lo_server_recv_noblock(nsm->server, 0) > 0)
		;
}

/* True once /nsm/client/open succeeded. */
bool cl_nsm_is_open(const struct cl_nsm *nsm)
{
	return nsm && nsm->open;
}

/* True once NSM answered the announce with /error (incompatible API,
 * blacklisted...): no open will come. */
bool cl_nsm_is_refused(const struct cl_nsm *nsm)
{
	return nsm && nsm->refused;
}

/* Report a state change (sends is_dirty/is_clean only on a change). */
void cl_nsm_set_dirty(struct cl_nsm *nsm, bool dirty)
{
	if (!nsm || nsm->dirty == dirty)
		return;
	nsm->dirty = dirty;
	if (lo_send_from(nsm->nsm, nsm->server, LO_TT_IMMEDIATE,
			 dirty ? "/nsm/client/is_dirty" : "/nsm/client/is_clean",
			 "") < 0)
		cl_warn("NSM: cannot send %s", dirty ? "is_dirty" : "is_clean");
}

/* Show a message in the NSM front end (priority clamped to 0..3). */
void cl_nsm_message(struct cl_nsm *nsm, int priority, const char *text)
{
	if (!nsm)
		return;
	if (priority < 0)
		priority = 0;
	if (priority > 3)
		priority = 3;
	if (lo_send_from(nsm->nsm, nsm->server, LO_TT_IMMEDIATE,
			 "/nsm/client/message", "is", priority, text) < 0)
		cl_warn("NSM: cannot send a message");
}
