/*
 * The OSC control surface of every CoreLogic program.
 *
 * The layer owns one UDP socket bound to --osc-bind (127.0.0.1 unless asked)
 * because liblo 0.31 binds every interface. Each datagram's framing is
 * checked here (cl_osc_check_frame) before liblo decodes it, because
 * liblo's own parser over-reads on some malformed input. A message is then
 * matched against the program's method table (paths may hold OSC patterns,
 * "/mixer/x/volume" style segments are matched with lo_pattern_match, so
 * "/mixer/STAR/volume" in a table matches "/mixer/3/volume"), its arguments are coerced to
 * the method's typespec, and the handler runs with typed values. Anything
 * refused gets "/cl/error <address> <reason>" back to its sender and a log
 * line, and changes nothing.
 *
 * Typespec letters (our own, not OSC type tags):
 *   n  number: i, h, f, d or a numeric string; must be finite
 *   i  integer: as n, and integral; fits int64
 *   b  toggle: i or f (0 = off), T/F, "on"/"off"/"true"/"false"/"1"/"0"
 *   s  string (OSC s or S)
 *   |  the arguments after this point are optional
 *   *  any further arguments are passed raw (handler reads req->msg)
 * e.g. "n" one number, "|n" an optional number, "iii", "s|n".
 *
 * The common methods of DESIGN.md (/cl/ping, /cl/status, /cl/subscribe,
 * /cl/unsubscribe, /cl/state/get, /cl/state/set, /cl/state/save,
 * /cl/state/load, /cl/quit) are built in and call the hooks.
 */
#ifndef CL_OSC_H
#define CL_OSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <lo/lo.h>
#include <jansson.h>

/* Datagrams larger than this are refused unread. */
#define CL_OSC_MAX_DATAGRAM 32768
/* Bundles nested deeper than this are refused. */
#define CL_OSC_MAX_BUNDLE_DEPTH 8
/* Coerced arguments a method may take. */
#define CL_OSC_MAX_ARGS 16
#define CL_OSC_MAX_SUBSCRIBERS 16

/* Check the framing of one datagram (message or bundle): sizes multiple of
 * 4, address and type tags terminated inside the buffer, every argument
 * inside the buffer, blob sizes, bundle element sizes and nesting depth, and
 * the size cap. Returns 0 if liblo may decode it, else -1 with *reason set
 * to a static string. Pure; unit-tested and fuzzed. */
int cl_osc_check_frame(const void *buf, size_t len, const char **reason);

struct cl_osc_value {
	char type;        /* 'n', 'i', 'b' or 's' */
	double n;         /* for n and i (also set for b: 0 or 1) */
	int64_t i;        /* for i (and b) */
	bool b;           /* for b */
	const char *s;    /* for s; valid during the handler only */
};

/* Coerce one raw liblo argument; 0 on success, else -1 and *reason. */
int cl_osc_coerce(char want, char lo_type, lo_arg *arg,
		  struct cl_osc_value *out, const char **reason);

struct cl_osc;

struct cl_osc_request {
	struct cl_osc *osc;
	const char *path;              /* the address as received */
	int argc;                      /* coerced arguments present */
	struct cl_osc_value argv[CL_OSC_MAX_ARGS];
	lo_message msg;                /* the decoded message, for '*' */
	const struct sockaddr_storage *from;
	socklen_t fromlen;
	void *userdata;                /* cl_osc_hooks.userdata */
};

/* Return 0 when done (including queries answered), or -1 after calling
 * cl_osc_error(). */
typedef int (*cl_osc_handler)(struct cl_osc_request *req);

struct cl_osc_method {
	const char *path;     /* may contain OSC pattern characters */
	const char *typespec; /* see above */
	cl_osc_handler handler;
	const char *doc;      /* one line: what it does, arguments, ranges */
};

struct cl_osc_hooks {
	void *userdata;
	/* Current status (new reference) for /cl/status. May be NULL. */
	json_t *(*status)(void *userdata);
	/* Whole state document (new reference). May be NULL: no state. */
	json_t *(*state_get)(void *userdata);
	/* Apply a whole state document; on refusal fill err and return -1,
	 * leaving the state unchanged. The document is borrowed. */
	int (*state_set)(void *userdata, json_t *doc, char *err, size_t errlen);
	/* /cl/quit: ask the main loop to end. */
	void (*quit)(void *userdata);
	/* The program's store root (its --store, or the NSM folder): when
	 * the socket listens beyond loopback (--osc-bind 0.0.0.0 for a
	 * tablet), /cl/state/save and /cl/state/load take only paths inside
	 * it, so nobody on the network can read or write other files. May be
	 * NULL (then those two need a loopback socket). */
	const char *const *store;
};

/* Bind bind_addr:port (port 0 = ephemeral) and get ready to dispatch
 * methods[0..n). Logs "OSC listening on udp://ADDR:PORT". NULL and err on
 * failure. The table and hooks must outlive the server. */
struct cl_osc *cl_osc_new(const char *bind_addr, int port,
			  const struct cl_osc_method *methods, size_t n,
			  const struct cl_osc_hooks *hooks,
			  char *err, size_t errlen);
void cl_osc_free(struct cl_osc *osc);

int cl_osc_fd(const struct cl_osc *osc);
int cl_osc_port(const struct cl_osc *osc);

/* Read and dispatch the datagrams waiting on the socket (non-blocking).
 * At most 256 per call, so that a flood cannot starve the main loop; the
 * socket stays readable and poll() reports the rest at once. */
void cl_osc_receive(struct cl_osc *osc);

/* Check, decode and dispatch one datagram as if it had arrived from `from`
 * (NULL: no sender, so no replies). cl_osc_receive() calls this for each
 * datagram; tests and the fuzzer call it directly. 0 when the framing was
 * accepted (the messages in it may still have been refused), -1 when not. */
int cl_osc_dispatch_datagram(struct cl_osc *osc, const void *buf, size_t len,
			     const struct sockaddr_storage *from, socklen_t fromlen);

/* Reply to the sender of req. types as lo_message_add_varargs (i c h f d
 * s S b m t T F N I; f is passed as double, h as int64_t), but no
 * LO_ARGS_END is needed. The _msg forms borrow m; the caller frees it. */
int cl_osc_reply(struct cl_osc_request *req, const char *path, const char *types, ...);
int cl_osc_reply_msg(struct cl_osc_request *req, const char *path, lo_message m);
/* Send "/cl/error <req->path> <reason>" to the sender and log it. Returns -1. */
int cl_osc_error(struct cl_osc_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Send to every subscriber (the feedback of a state change). */
void cl_osc_broadcast(struct cl_osc *osc, const char *path, const char *types, ...);
void cl_osc_broadcast_msg(struct cl_osc *osc, const char *path, lo_message m);
int cl_osc_subscriber_count(const struct cl_osc *osc);

/* Print the method table, common methods included (--osc-doc). */
void cl_osc_print_doc(const struct cl_osc_method *methods, size_t n, FILE *out);

#endif
