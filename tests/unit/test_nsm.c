/*
 * cl_nsm against an in-process fake NSM server.
 *
 * The fake is a second liblo server on an ephemeral UDP port; NSM_URL
 * points at it. One loop pumps both sides with poll() and a deadline, so
 * nothing here can hang: a missing message fails the test after at most
 * a second. Every message the fake receives is recorded (path, types,
 * arguments, source port) so the checks can look at order and counts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lo/lo.h>

#include "cl_log.h"
#include "cl_nsm.h"
#define CHECK_VERBOSE 1
#include "cl_check.h"



#define MAX_RECORDS 64

struct record {
	char path[64];
	char types[16];
	char s[3][256];
	int i[3];
	int src_port;
};

struct fake {
	lo_server server;
	struct record rec[MAX_RECORDS];
	int n;
};

struct app {
	int open_calls, save_calls;
	bool fail_open, fail_save;
	char dir[512], display[128], client_id[128];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Record everything the fake NSM server receives. */
static int fake_record(const char *path, const char *types, lo_arg **argv,
		       int argc, lo_message msg, void *user_data)
{
	struct fake *f = user_data;
	struct record *r;
	int si = 0, ii = 0;

	if (f->n >= MAX_RECORDS)
		return 0;
	r = &f->rec[f->n++];
	memset(r, 0, sizeof *r);
	snprintf(r->path, sizeof r->path, "%s", path);
	snprintf(r->types, sizeof r->types, "%s", types);
	for (int k = 0; k < argc; k++) {
		if (types[k] == 's' && si < 3)
			snprintf(r->s[si++], sizeof r->s[0], "%s",
				 (const char *)argv[k]);
		else if (types[k] == 'i' && ii < 3)
			memcpy(&r->i[ii++], argv[k], sizeof(int32_t)); /* 4-aligned */
	}
	r->src_port = atoi(lo_address_get_port(lo_message_get_source(msg)));
	return 0;
}

/* Pump both sides for up to timeout seconds, or until the fake holds at
 * least want records. */
static void pump(struct cl_nsm *nsm, struct fake *f, int want, double timeout)
{
	double end = now_s() + timeout;

	while (f->n < want && now_s() < end) {
		struct pollfd p[2] = {
			{ .fd = cl_nsm_fd(nsm), .events = POLLIN },
			{ .fd = lo_server_get_socket_fd(f->server), .events = POLLIN },
		};
		int ms = (int)((end - now_s()) * 1000) + 1;

		if (poll(p, 2, ms) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN)
			cl_nsm_receive(nsm);
		if (p[1].revents & POLLIN)
			while (lo_server_recv_noblock(f->server, 0) > 0)
				;
		cl_log_flush();
	}
}

/* The next record the fake got, waiting up to a second for it. */
static struct record *next_record(struct cl_nsm *nsm, struct fake *f, int *seen)
{
	pump(nsm, f, *seen + 1, 1.0);
	if (f->n <= *seen)
		return NULL;
	return &f->rec[(*seen)++];
}

static int app_open(void *userdata, const char *dir, const char *display,
		    const char *client_id, char *err, size_t errlen)
{
	struct app *a = userdata;

	a->open_calls++;
	snprintf(a->dir, sizeof a->dir, "%s", dir);
	snprintf(a->display, sizeof a->display, "%s", display);
	snprintf(a->client_id, sizeof a->client_id, "%s", client_id);
	if (a->fail_open) {
		snprintf(err, errlen, "state.json is corrupt");
		return -1;
	}
	return 0;
}

static int app_save(void *userdata, char *err, size_t errlen)
{
	struct app *a = userdata;

	a->save_calls++;
	if (a->fail_save) {
		snprintf(err, errlen, "disk full");
		return -1;
	}
	return 0;
}

/* The UDP port of the client's socket, as seen with getsockname(). */
static int socket_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

static void check_env_cases(const struct cl_nsm_hooks *hooks)
{
	static const char *bad[] = {
		"not a url", "osc.udp://127.0.0.1/", "osc.tcp://127.0.0.1:1234/",
		"osc.udp://127.0.0.1:99999/", "osc.udp://no-such-host.invalid:1234/",
	};
	char err[256];
	struct cl_nsm *nsm;

	unsetenv("NSM_URL");
	strcpy(err, "junk");
	nsm = cl_nsm_new("cltest", "test-nsm", hooks, err, sizeof err);
	CHECK(!nsm && err[0] == '\0', "NSM_URL unset -> NULL, empty err");

	setenv("NSM_URL", "", 1);
	strcpy(err, "junk");
	nsm = cl_nsm_new("cltest", "test-nsm", hooks, err, sizeof err);
	CHECK(!nsm && err[0] == '\0', "NSM_URL empty -> NULL, empty err");

	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		setenv("NSM_URL", bad[k], 1);
		err[0] = '\0';
		nsm = cl_nsm_new("cltest", "test-nsm", hooks, err, sizeof err);
		CHECK(!nsm && err[0] != '\0', "NSM_URL '%s' -> NULL, err \"%s\"",
		      bad[k], err);
		cl_nsm_free(nsm);
	}
	cl_log_flush();
}

/* Expect /reply path text-prefix or /error path code from the client port. */
static void expect(struct record *r, const char *what, const char *path,
		   const char *arg0, int client_port)
{
	if (!r) {
		CHECK(0, "%s: nothing arrived within 1 s", what);
		return;
	}
	CHECK(strcmp(r->path, path) == 0, "%s: got %s (want %s)", what,
	      r->path, path);
	if (arg0)
		CHECK(strcmp(r->s[0], arg0) == 0, "%s: first argument '%s' "
		      "(want '%s')", what, r->s[0], arg0);
	CHECK(r->src_port == client_port, "%s: sent from port %d "
	      "(announce port %d)", what, r->src_port, client_port);
}

int main(void)
{
	struct app a = { 0 };
	struct cl_nsm_hooks hooks = { &a, app_open, app_save };
	struct fake f = { 0 };
	char url[128], err[256], tmpl[] = "/tmp/cl-test-nsm-XXXXXX";
	char dir[600], dir2[600];
	struct cl_nsm *nsm;
	struct record *r;
	lo_address client, stranger_to_client;
	lo_server stranger;
	int seen = 0, client_port;
	struct stat st;

	cl_log_init("test-nsm", 1);
	umask(022); /* the folder mode check below assumes it */
	check_env_cases(&hooks);

	f.server = lo_server_new_with_proto(NULL, LO_UDP, NULL);
	if (!f.server) {
		printf("FAIL: cannot create the fake NSM server\n");
		return 1;
	}
	lo_server_add_method(f.server, NULL, NULL, fake_record, &f);
	snprintf(url, sizeof url, "osc.udp://127.0.0.1:%d/",
		 lo_server_get_port(f.server));
	setenv("NSM_URL", url, 1);

	nsm = cl_nsm_new("cltest", "/usr/bin/cl-test", &hooks, err, sizeof err);
	CHECK(nsm != NULL, "cl_nsm_new with NSM_URL=%s (%s)", url, err);
	if (!nsm)
		return 1;
	client_port = socket_port(cl_nsm_fd(nsm));
	CHECK(client_port > 0, "client socket port %d", client_port);

	/* Announce. */
	r = next_record(nsm, &f, &seen);
	CHECK(r && strcmp(r->path, "/nsm/server/announce") == 0,
	      "announce arrived (%s)", r ? r->path : "nothing");
	if (!r)
		return 1;
	CHECK(strcmp(r->types, "sssiii") == 0, "announce types %s", r->types);
	CHECK(strcmp(r->s[0], "cltest") == 0, "announce app name '%s'", r->s[0]);
	CHECK(strcmp(r->s[1], ":dirty:message:") == 0,
	      "announce capabilities '%s'", r->s[1]);
	CHECK(strcmp(r->s[2], "/usr/bin/cl-test") == 0,
	      "announce executable '%s'", r->s[2]);
	CHECK(r->i[0] == 1 && r->i[1] == 1, "announce API %d.%d (NSM API 1.1.2)",
	      r->i[0], r->i[1]);
	CHECK(r->i[2] == (int)getpid(), "announce pid %d (ours %d)", r->i[2],
	      (int)getpid());
	CHECK(r->src_port == client_port, "announce from the client socket "
	      "(port %d)", r->src_port);

	/* The fake answers where the announce came from, as nsmd does. */
	{
		char port[16];

		snprintf(port, sizeof port, "%d", r->src_port);
		client = lo_address_new("127.0.0.1", port);
	}

	/* Server's reply to the announce; nothing comes back for it. */
	lo_send_from(client, f.server, LO_TT_IMMEDIATE, "/reply", "ssss",
		     "/nsm/server/announce", "Howdy, what took you so long?",
		     "Fake NSM", ":server-control:");
	pump(nsm, &f, seen + 1, 0.2);
	CHECK(f.n == seen, "no answer to the announce /reply");
	CHECK(!cl_nsm_is_open(nsm) && !cl_nsm_is_refused(nsm),
	      "not open, not refused after the announce reply");

	/* Save before open. */
	lo_send_from(client, f.server, LO_TT_IMMEDIATE, "/nsm/client/save", "");
	r = next_record(nsm, &f, &seen);
	expect(r, "save before open", "/error", "/nsm/client/save", client_port);
	CHECK(r && r->i[0] == -6, "save before open: code %d (ERR_NO_SESSION_OPEN -6)",
	      r ? r->i[0] : 0);
	CHECK(a.save_calls == 0, "save hook not called before open");

	/* A stranger (another port) cannot drive the client. */
	stranger = lo_server_new_with_proto(NULL, LO_UDP, NULL);
	{
		char port[16];

		snprintf(port, sizeof port, "%d", client_port);
		stranger_to_client = lo_address_new("127.0.0.1", port);
	}
	lo_send_from(stranger_to_client, stranger, LO_TT_IMMEDIATE,
		     "/nsm/client/open", "sss", "/tmp/cl-test-nsm-evil",
		     "Evil", "evil.x");
	pump(nsm, &f, seen + 1, 0.2);
	CHECK(f.n == seen && a.open_calls == 0 &&
	      stat("/tmp/cl-test-nsm-evil", &st) != 0,
	      "open from a stranger's port ignored (no hook, no reply, no folder)");
	CHECK(lo_server_recv_noblock(stranger, 0) == 0,
	      "stranger got no answer");

	/* Open whose hook fails. */
	if (!mkdtemp(tmpl)) {
		printf("FAIL: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(dir, sizeof dir, "%s/bad/cltest.nBAD", tmpl);
	a.fail_open = true;
	lo_send_from(client, f.server, LO_TT_IMMEDIATE, "/nsm/client/open",
		     "sss", dir, "cltest bad", "cltest.nBAD");
	r = next_record(nsm, &f, &seen);
	expect(r, "failing open", "/error", "/nsm/client/open", client_port);
	CHECK(r && r->i[0] == -1, "failing open: code %d (ERR_GENERAL -1)",
	      r ? r->i[0] : 0);
	CHECK(r && strcmp(r->s[1], "state.json is corrupt") == 0,
	      "failing open: reason '%s'", r ? r->s[1] : "");
	CHECK(a.open_calls == 1, "failing open: hook called once (%d)",
	      a.open_calls);
	CHECK(!cl_nsm_is_open(nsm), "failing open: not open");

	/* Open that works, in a folder that does not exist yet. */
	snprintf(dir, sizeof dir, "%s/session/cltest.nABCD", tmpl);
	a.fail_open = false;
	lo_send_from(client, f.server, LO_TT_IMMEDIATE, "/nsm/client/open",
		     "sss", dir, "cltest", "cltest.nABCD");
	r = next_record(nsm, &f, &seen);
	expect(r, "open", "/reply", "/nsm/client/open", client_port);
	CHECK(r && strncmp(r->s[1], "opened", 6) == 0, "open reply text '%s'",
	      r ? r->s[1] : "");
	CHECK(a.open_calls == 2, "open hook called (%d calls in all)",
	      a.open_calls);
	CHECK(strcmp(a.dir, dir) == 0, "open hook dir '%s'", a.dir);
	CHECK(strcmp(a.client_id, "cltest.nABCD") == 0, "open hook client id '%s'",
	      a.client_id);
	CHECK(strcmp(a.display, "cltest") == 0, "open hook display name '%s'",
	      a.display);
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	      (st.st_mode & 0777) == 0755,
	      "folder created with mode %o", (unsigned)(st.st_mode & 0777));
	CHECK(cl_nsm_is_open(nsm), "is open");

	/* Dirty: exactly one is_dirty for two calls. */
	cl_nsm_set_dirty(nsm, true);
	cl_nsm_set_dirty(nsm, true);
	pump(nsm, &f, seen + 2, 0.3);
	{
		int dirty = 0;

		for (int k = seen; k < f.n; k++)
			dirty += strcmp(f.rec[k].path, "/nsm/client/is_dirty") == 0;
		CHECK(dirty == 1 && f.n == seen + 1,
		      "set_dirty(true) twice -> %d is_dirty, %d messages",
		      dirty, f.n - seen);
		if (f.n > seen)
			CHECK(f.rec[seen].src_port == client_port,
			      "is_dirty from port %d", f.rec[seen].src_port);
		seen = f.n;
	}

	/* Save: hook, /reply, then is_clean. */
	lo_send_from(client, f.server, LO_TT_IMMEDIATE, "/nsm/client/save", "");
	r = next_record(nsm, &f, &seen);
	expect(r, "save", "/reply", "/nsm/client/save", client_port);
	CHECK(r && strcmp(r->s[1], "saved") == 0, "save reply text '%s'",
	      r ? r->s[1] : "");
	CHECK(a.save_calls == 1, "save hook called once (%d)", a.save_calls);
	r = next_record(nsm, &f, &seen);
	expect(r, "after save", "/nsm/client/is_clean", NULL, client_port);

	/* Clean already: set_dirty(false) sends nothing. */
	cl_nsm_set_dirty(nsm, false);
	pump(nsm, &f, seen + 1, 0.2);
	CHECK(f.n == seen, "set_dirty(false) when clean sends nothing");

	/* Failing save: /error with the reason, no is_clean. */
	cl_nsm_set_dirty(nsm, true);
	r = next_record(nsm, &f, &seen);
	expect(r, "dirty again", "/nsm/client/is_dirty", NULL, client_port);
	a.fail_save = true;
	lo_send_from(client, f.server, LO_TT_IMMEDIATE, "/nsm/client/save", "");
	r = next_record(nsm, &f, &seen);
	expect(r, "failing save", "/error", "/nsm/client/save", client_port);
	CHECK(r && r->i[0] == -1 && strcmp(r->s[1], "disk full") == 0,
	      "failing save: code %d reason '%s'", r ? r->i[0] : 0,
	      r ? r->s[1] : "");
	pump(nsm, &f, seen + 1, 0.2);
	CHECK(f.n == seen, "failing save: no is_clean");
	a.fail_save = false;

	/* Second open: not supported without :switch:. */
	snprintf(dir2, sizeof dir2, "%s/other/cltest.nOTHER", tmpl);
	lo_send_from(client, f.server, LO_TT_IMMEDIATE, "/nsm/client/open",
		     "sss", dir2, "cltest", "cltest.nOTHER");
	r = next_record(nsm, &f, &seen);
	expect(r, "second open", "/error", "/nsm/client/open", client_port);
	CHECK(r && r->i[0] == -8, "second open: code %d (ERR_NOT_NOW -8)",
	      r ? r->i[0] : 0);
	CHECK(a.open_calls == 2 && stat(dir2, &st) != 0,
	      "second open: hook not called, no folder");

	/* Status message, priority clamped. */
	cl_nsm_message(nsm, 2, "loaded 3 patterns");
	r = next_record(nsm, &f, &seen);
	expect(r, "message", "/nsm/client/message", NULL, client_port);
	CHECK(r && strcmp(r->types, "is") == 0 && r->i[0] == 2 &&
	      strcmp(r->s[0], "loaded 3 patterns") == 0,
	      "message ,%s %d '%s'", r ? r->types : "", r ? r->i[0] : 0,
	      r ? r->s[0] : "");
	cl_nsm_message(nsm, 9, "loud");
	r = next_record(nsm, &f, &seen);
	CHECK(r && r->i[0] == 3, "message priority 9 clamped to %d",
	      r ? r->i[0] : -1);

	/* A refused announce. */
	cl_nsm_free(nsm);
	nsm = cl_nsm_new("cltest", "cl-test", &hooks, err, sizeof err);
	r = next_record(nsm, &f, &seen);
	CHECK(r && strcmp(r->path, "/nsm/server/announce") == 0,
	      "second client announced");
	if (nsm && r) {
		char port[16];
		lo_address c2;

		snprintf(port, sizeof port, "%d", r->src_port);
		c2 = lo_address_new("127.0.0.1", port);
		lo_send_from(c2, f.server, LO_TT_IMMEDIATE, "/error", "sis",
			     "/nsm/server/announce", -2, "Incompatible API");
		pump(nsm, &f, seen + 1, 0.2);
		CHECK(cl_nsm_is_refused(nsm) && !cl_nsm_is_open(nsm),
		      "announce /error -> refused");
		lo_address_free(c2);
	}
	cl_nsm_free(nsm);
	cl_log_flush();

	lo_address_free(client);
	lo_address_free(stranger_to_client);
	lo_server_free(stranger);
	lo_server_free(f.server);
	{
		char cmd[700];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
		if (system(cmd) != 0)
			printf("note: could not remove %s\n", tmpl);
	}
	if (failures) {
		printf("%d check(s) FAILED\n", failures);
		return 1;
	}
	printf("all NSM checks passed\n");
	return 0;
}
