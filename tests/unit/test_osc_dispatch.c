/*
 * The OSC layer end to end over real UDP on 127.0.0.1 with ephemeral
 * ports: a server with a small method table and hooks backed by a JSON
 * document here, clients sending liblo-built datagrams, and checks of what
 * the handlers received and of every reply (/cl/pong, /cl/status,
 * /cl/state, /cl/ok, /cl/error with the address and reason), subscribers
 * and broadcasts, state files, bundles and malformed datagrams.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lo/lo.h>
#include <lo/lo_lowlevel.h>

#include "cl_osc.h"
#include "cl_log.h"
#include "cl_check.h"



/* What the handlers saw. */
struct seen {
	int calls;
	char path[128];
	int argc;
	struct cl_osc_value v[CL_OSC_MAX_ARGS];
	char s[CL_OSC_MAX_ARGS][128]; /* string values copied out */
	int raw_argc;                 /* lo_message_get_argc */
};

struct app {
	json_t *state;
	int quits;
	struct seen level, opt, name, flags, fail, raw;
};

static struct app app;

static void record(struct seen *s, struct cl_osc_request *req)
{
	s->calls++;
	snprintf(s->path, sizeof s->path, "%s", req->path);
	s->argc = req->argc;
	for (int k = 0; k < req->argc; k++) {
		s->v[k] = req->argv[k];
		if (req->argv[k].type == 's')
			snprintf(s->s[k], sizeof s->s[k], "%s", req->argv[k].s);
	}
	s->raw_argc = lo_message_get_argc(req->msg);
}

static int on_level(struct cl_osc_request *req) { record(&app.level, req); return 0; }
static int on_opt(struct cl_osc_request *req) { record(&app.opt, req); return 0; }
static int on_name(struct cl_osc_request *req) { record(&app.name, req); return 0; }
static int on_flags(struct cl_osc_request *req) { record(&app.flags, req); return 0; }
static int on_raw(struct cl_osc_request *req) { record(&app.raw, req); return 0; }
/* Fails without saying why: the layer must still answer. */
static int on_fail(struct cl_osc_request *req) { record(&app.fail, req); return -1; }

static const struct cl_osc_method methods[] = {
	{ "/t/*/level", "n", on_level, "Level of one channel." },
	{ "/t/opt", "|n", on_opt, "An optional number." },
	{ "/t/name", "s", on_name, "A name." },
	{ "/t/flags", "ib|s", on_flags, "An integer, a toggle and maybe a string." },
	{ "/t/fail", "", on_fail, "Always fails." },
	{ "/t/raw", "s*", on_raw, "A string and anything." },
};
#define N_METHODS (sizeof methods / sizeof methods[0])

static json_t *hook_status(void *ud)
{
	(void)ud;
	return json_pack("{s:s}", "name", "test");
}

static json_t *hook_state_get(void *ud)
{
	struct app *a = ud;
	return json_deep_copy(a->state);
}

static int hook_state_set(void *ud, json_t *doc, char *err, size_t errlen)
{
	struct app *a = ud;
	const char *schema = json_string_value(json_object_get(doc, "schema"));
	if (!schema || strcmp(schema, "test/1") != 0) {
		snprintf(err, errlen, "not a test/1 document");
		return -1;
	}
	json_decref(a->state);
	a->state = json_deep_copy(doc);
	return 0;
}

static void hook_quit(void *ud)
{
	((struct app *)ud)->quits++;
}

/* ---------------------------------------------------------------------- */

/* A UDP socket on 127.0.0.1 with an ephemeral port. */
static int client_open(int *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		perror("client socket");
		exit(1);
	}
	socklen_t len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

static void send_bytes(int fd, int port, const void *buf, size_t len)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof a) != (ssize_t)len) {
		perror("sendto");
		exit(1);
	}
}

static void send_msg(int fd, int port, const char *path, lo_message m)
{
	size_t len = 0;
	void *buf = lo_message_serialise(m, path, NULL, &len);
	send_bytes(fd, port, buf, len);
	free(buf);
}

/* Let the server read what is waiting (waits up to 1 s for the first). */
static void pump(struct cl_osc *osc)
{
	struct pollfd p = { .fd = cl_osc_fd(osc), .events = POLLIN };
	if (poll(&p, 1, 1000) > 0)
		cl_osc_receive(osc);
	cl_log_flush();
}

struct reply {
	char path[64];
	lo_message msg; /* NULL when nothing came */
};

/* The next datagram on fd within timeout_ms, decoded; .msg NULL if none. */
static struct reply recv_reply(int fd, int timeout_ms)
{
	struct reply r = { "", NULL };
	static unsigned char buf[CL_OSC_MAX_DATAGRAM];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return r;
	ssize_t n = recv(fd, buf, sizeof buf, 0);
	const char *reason = NULL;
	if (n <= 0 || cl_osc_check_frame(buf, (size_t)n, &reason) != 0) {
		fprintf(stderr, "bad reply datagram (%zd bytes): %s\n", n, reason ? reason : "");
		failures++;
		return r;
	}
	size_t plen = strnlen((char *)buf, sizeof r.path - 1);
	memcpy(r.path, buf, plen);
	r.path[plen] = '\0';
	int result;
	r.msg = lo_message_deserialise(buf, (size_t)n, &result);
	return r;
}

static void reply_free(struct reply *r)
{
	if (r->msg)
		lo_message_free(r->msg);
	r->msg = NULL;
}

/* Argument k of r as raw bytes (4-byte aligned, see reply_str). */
static int32_t reply_i32(const struct reply *r, int k)
{
	int32_t v;
	memcpy(&v, lo_message_get_argv(r->msg)[k], sizeof v);
	return v;
}

static float reply_f32(const struct reply *r, int k)
{
	float v;
	memcpy(&v, lo_message_get_argv(r->msg)[k], sizeof v);
	return v;
}

/* String argument k of r, or "" when it is not a string. */
static const char *reply_str(const struct reply *r, int k)
{
	if (!r->msg || k >= lo_message_get_argc(r->msg))
		return "";
	char t = lo_message_get_types(r->msg)[k];
	if (t != 's' && t != 'S')
		return "";
	/* liblo's lo_arg pointers are only 4-byte aligned: no member access. */
	return (const char *)lo_message_get_argv(r->msg)[k];
}

static const char *reply_types(const struct reply *r)
{
	return r->msg ? lo_message_get_types(r->msg) : "(none)";
}

/* A client talking to the server under test. */
struct client {
	int fd;
	int port;
	struct cl_osc *osc;
};

/* Send m (freed here) to path, let the server dispatch, and return the
 * reply, waiting at most timeout_ms for it. */
static struct reply ask_within(struct client *c, const char *path, lo_message m,
			       int timeout_ms)
{
	send_msg(c->fd, cl_osc_port(c->osc), path, m);
	lo_message_free(m);
	pump(c->osc);
	return recv_reply(c->fd, timeout_ms);
}

static struct reply ask(struct client *c, const char *path, lo_message m)
{
	return ask_within(c, path, m, 1000);
}

/* The server replies from inside pump() and loopback delivery is
 * immediate, so a reply that has not come after this never will. */
#define SILENCE_MS 50

/* Build a message from a type string and values. */
static lo_message make(const char *types, ...)
{
	lo_message m = lo_message_new();
	va_list ap;
	va_start(ap, types);
	for (const char *t = types; *t; t++) {
		switch (*t) {
		case 'i': lo_message_add_int32(m, va_arg(ap, int)); break;
		case 'h': lo_message_add_int64(m, va_arg(ap, int64_t)); break;
		case 'f': lo_message_add_float(m, (float)va_arg(ap, double)); break;
		case 'd': lo_message_add_double(m, va_arg(ap, double)); break;
		case 's': lo_message_add_string(m, va_arg(ap, const char *)); break;
		case 'T': lo_message_add_true(m); break;
		case 'F': lo_message_add_false(m); break;
		case 'N': lo_message_add_nil(m); break;
		default: fprintf(stderr, "make: type %c\n", *t); exit(1);
		}
	}
	va_end(ap);
	return m;
}

/* Send and expect /cl/error <address> <reason>. */
static void expect_error(struct client *c, const char *path, lo_message m,
			 const char *address, const char *reason, const char *what)
{
	struct reply r = ask(c, path, m);
	CHECK(strcmp(r.path, "/cl/error") == 0 && strcmp(reply_types(&r), "ss") == 0,
	      "%s: reply %s %s, expected /cl/error ss", what, r.path[0] ? r.path : "(none)",
	      reply_types(&r));
	CHECK(strcmp(reply_str(&r, 0), address) == 0, "%s: error address \"%s\", expected \"%s\"",
	      what, reply_str(&r, 0), address);
	CHECK(strcmp(reply_str(&r, 1), reason) == 0, "%s: error reason \"%s\", expected \"%s\"",
	      what, reply_str(&r, 1), reason);
	reply_free(&r);
}

/* Send and expect /cl/ok <what>. */
static void expect_ok(struct client *c, const char *path, lo_message m, const char *what)
{
	struct reply r = ask(c, path, m);
	CHECK(strcmp(r.path, "/cl/ok") == 0 && strcmp(reply_types(&r), "s") == 0 &&
	      strcmp(reply_str(&r, 0), path) == 0,
	      "%s: reply %s %s \"%s\" \"%s\", expected /cl/ok s \"%s\"", what,
	      r.path[0] ? r.path : "(none)", reply_types(&r), reply_str(&r, 0),
	      reply_str(&r, 1), path);
	reply_free(&r);
}

/* Send and expect no reply at all. */
static void expect_silence(struct client *c, const char *path, lo_message m, const char *what)
{
	struct reply r = ask_within(c, path, m, SILENCE_MS);
	CHECK(r.msg == NULL && r.path[0] == '\0', "%s: unexpected reply %s \"%s\" \"%s\"", what,
	      r.path, reply_str(&r, 0), reply_str(&r, 1));
	reply_free(&r);
}

/* ---------------------------------------------------------------------- */

static void test_socket(struct cl_osc *osc)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	CHECK(getsockname(cl_osc_fd(osc), (struct sockaddr *)&a, &len) == 0, "getsockname");
	CHECK(a.sin_family == AF_INET, "family %d", a.sin_family);
	CHECK(a.sin_addr.s_addr == htonl(INADDR_LOOPBACK), "bound to %s, expected 127.0.0.1",
	      inet_ntoa(a.sin_addr));
	CHECK(ntohs(a.sin_port) == cl_osc_port(osc) && cl_osc_port(osc) > 0,
	      "port %d vs cl_osc_port %d", ntohs(a.sin_port), cl_osc_port(osc));
	int type = 0;
	len = sizeof type;
	getsockopt(cl_osc_fd(osc), SOL_SOCKET, SO_TYPE, &type, &len);
	CHECK(type == SOCK_DGRAM, "socket type %d", type);
}

static void test_ping(struct client *c)
{
	lo_message m = make("");
	struct reply r = ask(c, "/cl/ping", m);
	CHECK(strcmp(r.path, "/cl/pong") == 0 && strcmp(reply_types(&r), "") == 0,
	      "ping: reply %s %s", r.path, reply_types(&r));
	reply_free(&r);

	m = make("is", 42, "token");
	r = ask(c, "/cl/ping", m);
	CHECK(strcmp(r.path, "/cl/pong") == 0 && strcmp(reply_types(&r), "is") == 0 &&
	      reply_i32(&r, 0) == 42 && strcmp(reply_str(&r, 1), "token") == 0,
	      "ping with arguments: reply %s %s", r.path, reply_types(&r));
	reply_free(&r);
}

static void test_methods(struct client *c)
{
	/* Pattern path, number coercion from each type; no reply on success. */
	expect_silence(c, "/t/3/level", make("f", 0.5), "level f");
	CHECK(app.level.calls == 1 && strcmp(app.level.path, "/t/3/level") == 0 &&
	      app.level.argc == 1 && app.level.v[0].type == 'n' && app.level.v[0].n == 0.5,
	      "level f: calls %d path %s argc %d n %g", app.level.calls, app.level.path,
	      app.level.argc, app.level.v[0].n);
	expect_silence(c, "/t/12/level", make("s", "0.25"), "level s");
	CHECK(app.level.calls == 2 && strcmp(app.level.path, "/t/12/level") == 0 &&
	      app.level.v[0].n == 0.25, "level s: calls %d n %g", app.level.calls, app.level.v[0].n);
	expect_silence(c, "/t/x/level", make("d", -6.5), "level d");
	CHECK(app.level.calls == 3 && app.level.v[0].n == -6.5, "level d: n %g", app.level.v[0].n);
	expect_silence(c, "/t/1/level", make("h", (int64_t)-3), "level h");
	CHECK(app.level.calls == 4 && app.level.v[0].n == -3, "level h: n %g", app.level.v[0].n);
	expect_silence(c, "/t/1/level", make("i", 7), "level i");
	CHECK(app.level.calls == 5 && app.level.v[0].n == 7, "level i: n %g", app.level.v[0].n);

	/* Refusals: the handler is not called. */
	int before = app.level.calls;
	expect_error(c, "/t/3/level", make(""), "/t/3/level", "expected 1 argument, got 0",
		     "level without argument");
	expect_error(c, "/t/3/level", make("ff", 1.0, 2.0), "/t/3/level",
		     "expected 1 argument, got 2", "level with two arguments");
	expect_error(c, "/t/3/level", make("s", "abc"), "/t/3/level",
		     "argument 1: not a number", "level \"abc\"");
	expect_error(c, "/t/3/level", make("s", "nan"), "/t/3/level",
		     "argument 1: not a number", "level \"nan\"");
	expect_error(c, "/t/3/level", make("d", INFINITY), "/t/3/level",
		     "argument 1: number is not finite", "level inf");
	expect_error(c, "/t/3/level", make("T"), "/t/3/level",
		     "argument 1: expected a number", "level T");
	/* Segment matching: '*' does not cross '/'. */
	expect_error(c, "/t/3/4/level", make("f", 1.0), "/t/3/4/level", "unknown address",
		     "level two segments deep");
	expect_error(c, "/t/level", make("f", 1.0), "/t/level", "unknown address",
		     "level without its segment");
	CHECK(app.level.calls == before, "refused level messages reached the handler (%d calls)",
	      app.level.calls - before);

	/* Optional argument. */
	expect_silence(c, "/t/opt", make(""), "opt without argument");
	CHECK(app.opt.calls == 1 && app.opt.argc == 0, "opt none: calls %d argc %d",
	      app.opt.calls, app.opt.argc);
	expect_silence(c, "/t/opt", make("i", 3), "opt 3");
	CHECK(app.opt.calls == 2 && app.opt.argc == 1 && app.opt.v[0].n == 3,
	      "opt 3: calls %d argc %d n %g", app.opt.calls, app.opt.argc, app.opt.v[0].n);
	expect_error(c, "/t/opt", make("ii", 1, 2), "/t/opt", "expected 0 to 1 arguments, got 2",
		     "opt with two arguments");
	CHECK(app.opt.calls == 2, "opt refused but called");

	/* Strings. */
	expect_silence(c, "/t/name", make("s", "bob"), "name bob");
	CHECK(app.name.calls == 1 && app.name.v[0].type == 's' && strcmp(app.name.s[0], "bob") == 0,
	      "name: calls %d s %s", app.name.calls, app.name.s[0]);
	expect_error(c, "/t/name", make("i", 1), "/t/name", "argument 1: expected a string",
		     "name 1");
	CHECK(app.name.calls == 1, "name refused but called");

	/* Integer, toggle, optional string. */
	expect_silence(c, "/t/flags", make("is", 3, "on"), "flags 3 on");
	CHECK(app.flags.calls == 1 && app.flags.argc == 2 && app.flags.v[0].i == 3 &&
	      app.flags.v[1].type == 'b' && app.flags.v[1].b,
	      "flags 3 on: calls %d argc %d i %lld b %d", app.flags.calls, app.flags.argc,
	      (long long)app.flags.v[0].i, app.flags.v[1].b);
	expect_silence(c, "/t/flags", make("sFs", "12", "x"), "flags \"12\" F x");
	CHECK(app.flags.calls == 2 && app.flags.argc == 3 && app.flags.v[0].i == 12 &&
	      !app.flags.v[1].b && strcmp(app.flags.s[2], "x") == 0,
	      "flags \"12\" F x: argc %d i %lld b %d s %s", app.flags.argc,
	      (long long)app.flags.v[0].i, app.flags.v[1].b, app.flags.s[2]);
	expect_silence(c, "/t/flags", make("ff", 4.0, 0.0), "flags 4.0 0.0");
	CHECK(app.flags.calls == 3 && app.flags.v[0].i == 4 && !app.flags.v[1].b,
	      "flags 4.0 0.0: i %lld b %d", (long long)app.flags.v[0].i, app.flags.v[1].b);
	expect_error(c, "/t/flags", make("fi", 2.5, 1), "/t/flags", "argument 1: not an integer",
		     "flags 2.5");
	expect_error(c, "/t/flags", make("is", 1, "maybe"), "/t/flags",
		     "argument 2: expected a toggle (on/off/true/false/1/0)", "flags 1 maybe");
	expect_error(c, "/t/flags", make("i", 1), "/t/flags", "expected 2 to 3 arguments, got 1",
		     "flags with one argument");
	CHECK(app.flags.calls == 3, "flags refused but called (%d)", app.flags.calls);

	/* Raw rest. */
	expect_silence(c, "/t/raw", make("siN", "a", 5), "raw a 5 N");
	CHECK(app.raw.calls == 1 && app.raw.argc == 1 && app.raw.raw_argc == 3 &&
	      strcmp(app.raw.s[0], "a") == 0, "raw: calls %d argc %d raw %d", app.raw.calls,
	      app.raw.argc, app.raw.raw_argc);
	expect_error(c, "/t/raw", make(""), "/t/raw", "expected at least 1 argument, got 0",
		     "raw without arguments");

	/* Unknown address, failing handler. */
	expect_error(c, "/nope", make(""), "/nope", "unknown address", "unknown address");
	expect_error(c, "/cl/nope", make(""), "/cl/nope", "unknown address", "unknown /cl address");
	expect_error(c, "/t/fail", make(""), "/t/fail", "failed", "handler failing silently");
	CHECK(app.fail.calls == 1, "fail handler calls %d", app.fail.calls);

	/* 'r' is valid framing but liblo 0.31 cannot decode it. */
	unsigned char rgba[] = { '/', 't', '/', 'o', 'p', 't', 0, 0, ',', 'r', 0, 0, 1, 2, 3, 4 };
	send_bytes(c->fd, cl_osc_port(c->osc), rgba, sizeof rgba);
	pump(c->osc);
	struct reply r = recv_reply(c->fd, 1000);
	CHECK(strcmp(r.path, "/cl/error") == 0 && strcmp(reply_str(&r, 0), "/t/opt") == 0 &&
	      strcmp(reply_str(&r, 1), "argument type 'r' not supported") == 0,
	      "rgba: reply %s \"%s\" \"%s\"", r.path, reply_str(&r, 0), reply_str(&r, 1));
	reply_free(&r);
}

static void test_status(struct client *c)
{
	lo_message m = make("");
	struct reply r = ask(c, "/cl/status", m);
	CHECK(strcmp(r.path, "/cl/status") == 0 && strcmp(reply_types(&r), "s") == 0,
	      "status: reply %s %s", r.path, reply_types(&r));
	json_error_t jerr;
	json_t *st = json_loads(reply_str(&r, 0), 0, &jerr);
	CHECK(st != NULL, "status JSON: %s", jerr.text);
	json_t *osc = json_object_get(st, "osc");
	CHECK(json_is_string(json_object_get(st, "name")) &&
	      strcmp(json_string_value(json_object_get(st, "name")), "test") == 0,
	      "status: no name from the hook: %s", reply_str(&r, 0));
	CHECK(json_integer_value(json_object_get(osc, "port")) == cl_osc_port(c->osc),
	      "status: osc.port: %s", reply_str(&r, 0));
	CHECK(json_is_integer(json_object_get(osc, "subscribers")) &&
	      json_integer_value(json_object_get(osc, "subscribers")) ==
	      cl_osc_subscriber_count(c->osc),
	      "status: osc.subscribers: %s", reply_str(&r, 0));
	CHECK(json_is_string(json_object_get(osc, "bind")) &&
	      strcmp(json_string_value(json_object_get(osc, "bind")), "127.0.0.1") == 0,
	      "status: osc.bind: %s", reply_str(&r, 0));
	CHECK(json_integer_value(json_object_get(osc, "received")) > 0 &&
	      json_integer_value(json_object_get(osc, "refused")) > 0,
	      "status: osc counters: %s", reply_str(&r, 0));
	json_decref(st);
	reply_free(&r);

	m = make("i", 1);
	expect_error(c, "/cl/status", m, "/cl/status", "expected 0 arguments, got 1",
		     "status with an argument");
}

/* The state as the server reports it. */
static json_t *get_state(struct client *c)
{
	lo_message m = make("");
	struct reply r = ask(c, "/cl/state/get", m);
	CHECK(strcmp(r.path, "/cl/state") == 0 && strcmp(reply_types(&r), "s") == 0,
	      "state/get: reply %s %s \"%s\"", r.path, reply_types(&r), reply_str(&r, 1));
	json_t *doc = json_loads(reply_str(&r, 0), 0, NULL);
	reply_free(&r);
	return doc;
}

static void test_state(struct client *c)
{
	json_t *doc = get_state(c);
	CHECK(json_equal(doc, app.state), "state/get differs from the state");
	json_decref(doc);

	expect_ok(c, "/cl/state/set", make("s", "{\"schema\": \"test/1\", \"x\": 2}"), "state/set");
	CHECK(json_integer_value(json_object_get(app.state, "x")) == 2, "state/set not applied");

	json_t *kept = json_deep_copy(app.state);
	expect_error(c, "/cl/state/set", make("s", "{\"schema\": \"other/1\"}"), "/cl/state/set",
		     "not a test/1 document", "state/set of another schema");
	struct reply r = ask(c, "/cl/state/set", make("s", "{\"schema\": "));
	CHECK(strcmp(r.path, "/cl/error") == 0 && strcmp(reply_str(&r, 0), "/cl/state/set") == 0 &&
	      reply_str(&r, 1)[0] != '\0', "state/set bad JSON: reply %s \"%s\" \"%s\"", r.path,
	      reply_str(&r, 0), reply_str(&r, 1));
	reply_free(&r);
	expect_error(c, "/cl/state/set", make(""), "/cl/state/set", "expected 1 argument, got 0",
		     "state/set without a document");
	CHECK(json_equal(kept, app.state), "a refused state/set changed the state");

	/* Save, change, load: back to what was saved. */
	char dir[] = "/tmp/test-osc-dispatch-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	char path[256];
	snprintf(path, sizeof path, "%s/state.json", dir);
	expect_ok(c, "/cl/state/save", make("s", path), "state/save");
	struct stat sb;
	CHECK(stat(path, &sb) == 0 && sb.st_size > 0, "state/save wrote no file");
	expect_ok(c, "/cl/state/set", make("s", "{\"schema\": \"test/1\", \"x\": 3}"),
		  "state/set before load");
	CHECK(json_integer_value(json_object_get(app.state, "x")) == 3, "state/set x=3");
	expect_ok(c, "/cl/state/load", make("s", path), "state/load");
	CHECK(json_equal(kept, app.state), "state/load did not restore the saved state");

	char missing[256];
	snprintf(missing, sizeof missing, "%s/missing.json", dir);
	r = ask(c, "/cl/state/load", make("s", missing));
	CHECK(strcmp(r.path, "/cl/error") == 0 && strcmp(reply_str(&r, 0), "/cl/state/load") == 0 &&
	      reply_str(&r, 1)[0] != '\0', "state/load of a missing file: %s \"%s\"", r.path,
	      reply_str(&r, 1));
	reply_free(&r);
	char nodir[300];
	snprintf(nodir, sizeof nodir, "%s/no/such/dir/state.json", dir);
	r = ask(c, "/cl/state/save", make("s", nodir));
	CHECK(strcmp(r.path, "/cl/error") == 0 && strcmp(reply_str(&r, 0), "/cl/state/save") == 0,
	      "state/save into a missing folder: %s \"%s\"", r.path, reply_str(&r, 1));
	reply_free(&r);
	CHECK(json_equal(kept, app.state), "failed load changed the state");
	unlink(path);
	rmdir(dir);

	/* A state too big for a datagram is refused with a hint. */
	char *big = malloc(40000);
	memset(big, 'x', 39999);
	big[39999] = '\0';
	json_object_set_new(app.state, "big", json_string(big));
	free(big);
	r = ask(c, "/cl/state/get", make(""));
	CHECK(strcmp(r.path, "/cl/error") == 0 && strcmp(reply_str(&r, 0), "/cl/state/get") == 0 &&
	      strstr(reply_str(&r, 1), "/cl/state/save") != NULL,
	      "state/get too big: %s \"%s\"", r.path, reply_str(&r, 1));
	reply_free(&r);
	json_object_del(app.state, "big");
	json_decref(kept);
}

static void expect_broadcast(int fd, const char *path, float value, const char *what)
{
	struct reply r = recv_reply(fd, 1000);
	CHECK(strcmp(r.path, path) == 0 && strcmp(reply_types(&r), "f") == 0 &&
	      reply_f32(&r, 0) == value,
	      "%s: got %s %s, expected %s f %g", what, r.path[0] ? r.path : "(none)",
	      reply_types(&r), path, value);
	reply_free(&r);
}

static void expect_nothing(int fd, const char *what)
{
	struct reply r = recv_reply(fd, SILENCE_MS);
	CHECK(r.msg == NULL && r.path[0] == '\0', "%s: unexpected %s", what, r.path);
	reply_free(&r);
}

static void test_subscribe(struct client *a)
{
	struct client b = *a, c = *a, d = *a;
	b.fd = client_open(&b.port);
	c.fd = client_open(&c.port);
	d.fd = client_open(&d.port);
	struct cl_osc *osc = a->osc;

	/* b subscribes itself; twice counts once. */
	expect_ok(&b, "/cl/subscribe", make(""), "subscribe self");
	CHECK(cl_osc_subscriber_count(osc) == 1, "subscribers %d", cl_osc_subscriber_count(osc));
	expect_ok(&b, "/cl/subscribe", make(""), "subscribe self again");
	CHECK(cl_osc_subscriber_count(osc) == 1, "dedupe: subscribers %d",
	      cl_osc_subscriber_count(osc));
	cl_osc_broadcast(osc, "/t/1/level", "f", 0.75);
	expect_broadcast(b.fd, "/t/1/level", 0.75f, "broadcast to b");
	expect_nothing(a->fd, "broadcast to a non-subscriber");

	/* a subscribes c by port number, and d by URL. */
	expect_ok(a, "/cl/subscribe", make("i", c.port), "subscribe c by port");
	char url[64];
	snprintf(url, sizeof url, "osc.udp://127.0.0.1:%d/", d.port);
	expect_ok(a, "/cl/subscribe", make("s", url), "subscribe d by URL");
	CHECK(cl_osc_subscriber_count(osc) == 3, "subscribers %d", cl_osc_subscriber_count(osc));
	/* The same subscriber named another way is still one. */
	char port_str[16];
	snprintf(port_str, sizeof port_str, "%d", d.port);
	expect_ok(a, "/cl/subscribe", make("s", port_str), "subscribe d by port string");
	snprintf(url, sizeof url, "osc.udp://localhost:%d", c.port);
	expect_ok(a, "/cl/subscribe", make("s", url), "subscribe c by localhost URL");
	CHECK(cl_osc_subscriber_count(osc) == 3, "dedupe across forms: subscribers %d",
	      cl_osc_subscriber_count(osc));

	lo_message m = lo_message_new();
	lo_message_add_float(m, 0.5f);
	cl_osc_broadcast_msg(osc, "/t/2/level", m);
	lo_message_free(m);
	expect_broadcast(b.fd, "/t/2/level", 0.5f, "broadcast_msg to b");
	expect_broadcast(c.fd, "/t/2/level", 0.5f, "broadcast_msg to c");
	expect_broadcast(d.fd, "/t/2/level", 0.5f, "broadcast_msg to d");

	/* Bad addressing. */
	expect_error(a, "/cl/subscribe", make("i", 0), "/cl/subscribe",
		     "port out of range (1-65535)", "subscribe port 0");
	expect_error(a, "/cl/subscribe", make("i", 70000), "/cl/subscribe",
		     "port out of range (1-65535)", "subscribe port 70000");
	expect_error(a, "/cl/subscribe", make("s", "osc.tcp://127.0.0.1:9000/"), "/cl/subscribe",
		     "expected a port or an osc.udp://host:port/ URL", "subscribe tcp URL");
	expect_error(a, "/cl/subscribe", make("s", "osc.udp://example.org:9000/"), "/cl/subscribe",
		     "bad URL: host must be a numeric address or localhost", "subscribe by name");
	expect_error(a, "/cl/subscribe", make("s", "osc.udp://127.0.0.1/"), "/cl/subscribe",
		     "bad URL: no port", "subscribe URL without port");
	expect_error(a, "/cl/subscribe", make("s", "osc.udp://[::1]:9000/"), "/cl/subscribe",
		     "address family does not match the OSC socket", "subscribe IPv6 on IPv4");
	expect_error(a, "/cl/subscribe", make("ii", 1, 2), "/cl/subscribe",
		     "expected at most 1 argument (port or URL), got 2", "subscribe two args");
	CHECK(cl_osc_subscriber_count(osc) == 3, "bad subscribes changed the count: %d",
	      cl_osc_subscriber_count(osc));

	/* Unsubscribe b: broadcasts stop reaching it, not the others. */
	expect_ok(&b, "/cl/unsubscribe", make(""), "unsubscribe b");
	CHECK(cl_osc_subscriber_count(osc) == 2, "subscribers %d", cl_osc_subscriber_count(osc));
	cl_osc_broadcast(osc, "/t/3/level", "f", 0.25);
	expect_nothing(b.fd, "broadcast after unsubscribe");
	expect_broadcast(c.fd, "/t/3/level", 0.25f, "broadcast to c after b left");
	expect_broadcast(d.fd, "/t/3/level", 0.25f, "broadcast to d after b left");
	expect_error(&b, "/cl/unsubscribe", make(""), "/cl/unsubscribe", "not subscribed",
		     "unsubscribe twice");
	snprintf(url, sizeof url, "osc.udp://127.0.0.1:%d/", c.port);
	expect_ok(a, "/cl/unsubscribe", make("s", url), "unsubscribe c by URL");
	expect_ok(a, "/cl/unsubscribe", make("i", d.port), "unsubscribe d by port");
	CHECK(cl_osc_subscriber_count(osc) == 0, "subscribers %d", cl_osc_subscriber_count(osc));

	/* The cap. */
	for (int k = 0; k < CL_OSC_MAX_SUBSCRIBERS; k++)
		expect_ok(a, "/cl/subscribe", make("i", 20000 + k), "subscribe to the cap");
	CHECK(cl_osc_subscriber_count(osc) == CL_OSC_MAX_SUBSCRIBERS, "subscribers %d",
	      cl_osc_subscriber_count(osc));
	char too_many[64];
	snprintf(too_many, sizeof too_many, "too many subscribers (at most %d)",
		 CL_OSC_MAX_SUBSCRIBERS);
	expect_error(a, "/cl/subscribe", make("i", 30000), "/cl/subscribe", too_many,
		     "subscribe past the cap");
	for (int k = 0; k < CL_OSC_MAX_SUBSCRIBERS; k++)
		expect_ok(a, "/cl/unsubscribe", make("i", 20000 + k), "unsubscribe all");
	CHECK(cl_osc_subscriber_count(osc) == 0, "subscribers %d", cl_osc_subscriber_count(osc));

	close(b.fd);
	close(c.fd);
	close(d.fd);
}

static void test_bundles_and_garbage(struct client *c)
{
	int level_before = app.level.calls, name_before = app.name.calls;
	lo_timetag now = { 0, 1 };
	lo_bundle b = lo_bundle_new(now);
	lo_message m1 = make("f", 0.125);
	lo_message m2 = make("s", "from-bundle");
	lo_message m3 = make("i", 9);
	lo_bundle_add_message(b, "/t/5/level", m1);
	lo_bundle_add_message(b, "/t/name", m2);
	lo_bundle_add_message(b, "/cl/ping", m3);
	size_t len = 0;
	void *buf = lo_bundle_serialise(b, NULL, &len);
	send_bytes(c->fd, cl_osc_port(c->osc), buf, len);
	free(buf);
	lo_bundle_free_recursive(b);
	pump(c->osc);
	CHECK(app.level.calls == level_before + 1 && strcmp(app.level.path, "/t/5/level") == 0 &&
	      app.level.v[0].n == 0.125, "bundle: level calls %d path %s n %g",
	      app.level.calls - level_before, app.level.path, app.level.v[0].n);
	CHECK(app.name.calls == name_before + 1 && strcmp(app.name.s[0], "from-bundle") == 0,
	      "bundle: name calls %d s %s", app.name.calls - name_before, app.name.s[0]);
	struct reply r = recv_reply(c->fd, 1000);
	CHECK(strcmp(r.path, "/cl/pong") == 0 && strcmp(reply_types(&r), "i") == 0,
	      "bundle: ping inside answered with %s %s", r.path, reply_types(&r));
	reply_free(&r);

	/* Malformed datagrams: an error with address "?", no crash, and the
	 * server still answers afterwards. */
	static const struct { const unsigned char *bytes; size_t len; const char *reason; } bad[] = {
		{ (const unsigned char *)"/a\0\0,b\0\0", 8, "blob size overruns datagram" },
		{ (const unsigned char *)"#bundle\0\0\0\0\0\0\0\0\1\0\0\0\0", 20, "empty bundle element" },
		{ (const unsigned char *)"/abc", 4, "address not terminated" },
		{ (const unsigned char *)"/a\0\0,i\0", 7, "length not a multiple of 4" },
		{ (const unsigned char *)"\xff\xfe\x01\x02", 4, "address does not start with '/'" },
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		send_bytes(c->fd, cl_osc_port(c->osc), bad[k].bytes, bad[k].len);
		pump(c->osc);
		r = recv_reply(c->fd, 1000);
		CHECK(strcmp(r.path, "/cl/error") == 0 && strcmp(reply_str(&r, 0), "?") == 0 &&
		      strcmp(reply_str(&r, 1), bad[k].reason) == 0,
		      "malformed %zu: reply %s \"%s\" \"%s\", expected /cl/error \"?\" \"%s\"", k,
		      r.path, reply_str(&r, 0), reply_str(&r, 1), bad[k].reason);
		reply_free(&r);
	}
	/* An empty datagram and one larger than the cap. */
	send_bytes(c->fd, cl_osc_port(c->osc), "", 0);
	pump(c->osc);
	r = recv_reply(c->fd, 1000);
	CHECK(strcmp(r.path, "/cl/error") == 0 && strcmp(reply_str(&r, 1), "empty datagram") == 0,
	      "empty datagram: %s \"%s\"", r.path, reply_str(&r, 1));
	reply_free(&r);
	size_t huge_len = CL_OSC_MAX_DATAGRAM + 4096;
	unsigned char *huge = calloc(1, huge_len);
	memcpy(huge, "/cl/ping\0\0\0\0,\0\0\0", 16);
	send_bytes(c->fd, cl_osc_port(c->osc), huge, huge_len);
	free(huge);
	pump(c->osc);
	r = recv_reply(c->fd, 1000);
	CHECK(strcmp(r.path, "/cl/error") == 0 &&
	      strncmp(reply_str(&r, 1), "datagram too large", 18) == 0,
	      "oversize datagram: %s \"%s\"", r.path, reply_str(&r, 1));
	reply_free(&r);

	test_ping(c);
}

/* A flood of bad datagrams gets at most 200 error replies a second, the
 * good requests in it are still answered, and replies resume after the
 * second is over. */
static void test_flood(struct client *c)
{
	static const unsigned char bad[] = "/a\0\0,b\0\0";
	int port = cl_osc_port(c->osc);
	usleep(1100 * 1000); /* a fresh one-second window */
	int errors = 0, pongs = 0;
	for (int batch = 0; batch < 6; batch++) {
		for (int k = 0; k < 50; k++)
			send_bytes(c->fd, port, bad, 8);
		lo_message m = make("");
		send_msg(c->fd, port, "/cl/ping", m);
		lo_message_free(m);
		pump(c->osc);
		for (;;) {
			struct reply r = recv_reply(c->fd, SILENCE_MS);
			if (!r.msg)
				break;
			errors += strcmp(r.path, "/cl/error") == 0;
			pongs += strcmp(r.path, "/cl/pong") == 0;
			reply_free(&r);
		}
	}
	CHECK(errors == 200, "flood of 300 bad datagrams: %d error replies, expected 200", errors);
	CHECK(pongs == 6, "flood: %d of 6 pings answered", pongs);
	usleep(1100 * 1000);
	send_bytes(c->fd, port, bad, 8);
	pump(c->osc);
	struct reply r = recv_reply(c->fd, 1000);
	CHECK(strcmp(r.path, "/cl/error") == 0, "after the flood: reply %s, expected /cl/error",
	      r.path[0] ? r.path : "(none)");
	reply_free(&r);
}

static void test_quit_and_missing_hooks(struct client *c)
{
	expect_ok(c, "/cl/quit", make(""), "quit");
	CHECK(app.quits == 1, "quit hook called %d times", app.quits);

	/* A server without hooks. */
	char err[256];
	struct cl_osc *bare = cl_osc_new("127.0.0.1", 0, NULL, 0, NULL, err, sizeof err);
	CHECK(bare != NULL, "server without methods or hooks: %s", err);
	if (!bare)
		return;
	struct client b = { c->fd, c->port, bare };
	expect_error(&b, "/cl/state/get", make(""), "/cl/state/get", "not supported",
		     "state/get without hook");
	expect_error(&b, "/cl/state/set", make("s", "{}"), "/cl/state/set", "not supported",
		     "state/set without hook");
	expect_error(&b, "/cl/state/save", make("s", "/tmp/x.json"), "/cl/state/save",
		     "not supported", "state/save without hook");
	expect_error(&b, "/cl/state/load", make("s", "/tmp/x.json"), "/cl/state/load",
		     "not supported", "state/load without hook");
	expect_error(&b, "/cl/quit", make(""), "/cl/quit", "not supported", "quit without hook");
	expect_error(&b, "/t/name", make("s", "x"), "/t/name", "unknown address",
		     "method of another server");
	struct reply r = ask(&b, "/cl/status", make(""));
	json_t *st = json_loads(reply_str(&r, 0), 0, NULL);
	CHECK(strcmp(r.path, "/cl/status") == 0 &&
	      json_integer_value(json_object_get(json_object_get(st, "osc"), "port")) ==
	      cl_osc_port(bare), "status without hook: %s \"%s\"", r.path, reply_str(&r, 0));
	json_decref(st);
	reply_free(&r);
	cl_osc_free(bare);
}

static void test_new_refusals(void)
{
	char err[256] = "";
	static const struct cl_osc_method bad_spec[] = { { "/x", "nx", on_opt, "" } };
	CHECK(cl_osc_new("127.0.0.1", 0, bad_spec, 1, NULL, err, sizeof err) == NULL &&
	      strstr(err, "typespec"), "bad typespec accepted (%s)", err);
	static const struct cl_osc_method bad_path[] = { { "x", "n", on_opt, "" } };
	CHECK(cl_osc_new("127.0.0.1", 0, bad_path, 1, NULL, err, sizeof err) == NULL,
	      "path without / accepted");
	static const struct cl_osc_method no_handler[] = { { "/x", "n", NULL, "" } };
	CHECK(cl_osc_new("127.0.0.1", 0, no_handler, 1, NULL, err, sizeof err) == NULL,
	      "method without handler accepted");
	static const struct cl_osc_method bad_star[] = { { "/x", "*n", on_opt, "" } };
	CHECK(cl_osc_new("127.0.0.1", 0, bad_star, 1, NULL, err, sizeof err) == NULL,
	      "'*' before a letter accepted");
	CHECK(cl_osc_new("256.1.1.1", 0, methods, N_METHODS, NULL, err, sizeof err) == NULL &&
	      err[0], "bad bind address accepted");
	CHECK(cl_osc_new("127.0.0.1", 70000, methods, N_METHODS, NULL, err, sizeof err) == NULL,
	      "port 70000 accepted");

	/* A port in use is an error, not a silent share. */
	struct cl_osc *one = cl_osc_new("127.0.0.1", 0, methods, N_METHODS, NULL, err, sizeof err);
	CHECK(one != NULL, "server: %s", err);
	if (one) {
		CHECK(cl_osc_new("127.0.0.1", cl_osc_port(one), methods, N_METHODS, NULL, err,
				 sizeof err) == NULL, "second bind of port %d accepted",
		      cl_osc_port(one));
		cl_osc_free(one);
	}
}

static void test_direct_dispatch(struct cl_osc *osc)
{
	int before = app.name.calls;
	lo_message m = make("s", "direct");
	size_t len = 0;
	void *buf = lo_message_serialise(m, "/t/name", NULL, &len);
	CHECK(cl_osc_dispatch_datagram(osc, buf, len, NULL, 0) == 0, "direct dispatch refused");
	CHECK(app.name.calls == before + 1 && strcmp(app.name.s[0], "direct") == 0,
	      "direct dispatch: calls %d s %s", app.name.calls - before, app.name.s[0]);
	CHECK(cl_osc_dispatch_datagram(osc, buf, len - 4, NULL, 0) == -1,
	      "direct dispatch of a cut message accepted");
	free(buf);
	lo_message_free(m);
}

static void test_doc(void)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	cl_osc_print_doc(methods, N_METHODS, f);
	fclose(f);
	static const char *const want[] = {
		"/t/*/level", "<number>", "Level of one channel.", "/t/opt", "[<number>]",
		"<int> <on|off> [<string>]", "<string> [<any>...]", "/cl/ping", "/cl/status",
		"/cl/subscribe", "[<port>|<url>]", "/cl/unsubscribe", "/cl/state/get",
		"/cl/state/set", "<json>", "/cl/state/save", "<path>", "/cl/state/load",
		"/cl/quit", "Common methods",
	};
	for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
		CHECK(strstr(text, want[k]) != NULL, "--osc-doc lacks \"%s\":\n%s", want[k], text);
	/* One line per method plus the headings. */
	int lines = 0;
	for (char *p = text; *p; p++)
		lines += *p == '\n';
	CHECK(lines >= (int)N_METHODS + 9, "--osc-doc has %d lines", lines);
	free(text);
}

int main(void)
{
	cl_log_init("test-osc-dispatch", 0);
	app.state = json_pack("{s:s, s:i, s:[i,i]}", "schema", "test/1", "x", 1, "list", 1, 2);
	struct cl_osc_hooks hooks = {
		.userdata = &app,
		.status = hook_status,
		.state_get = hook_state_get,
		.state_set = hook_state_set,
		.quit = hook_quit,
	};
	char err[256] = "";
	struct cl_osc *osc = cl_osc_new("127.0.0.1", 0, methods, N_METHODS, &hooks, err, sizeof err);
	if (!osc) {
		fprintf(stderr, "cl_osc_new: %s\n", err);
		return 1;
	}
	struct client c = { .osc = osc };
	c.fd = client_open(&c.port);

	test_socket(osc);
	test_ping(&c);
	test_methods(&c);
	test_status(&c);
	test_state(&c);
	test_subscribe(&c);
	test_bundles_and_garbage(&c);
	test_direct_dispatch(osc);
	test_flood(&c);
	test_quit_and_missing_hooks(&c);
	test_new_refusals();
	test_doc();

	close(c.fd);
	cl_osc_free(osc);
	json_decref(app.state);
	cl_log_flush();
	if (failures) {
		fprintf(stderr, "test_osc_dispatch: %d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("test_osc_dispatch: %d checks passed\n", checks);
	return 0;
}
