/*
 * cl_jack against a private dummy jackd: ports, pretty names, latency,
 * and surviving a server crash.
 *
 * The test starts `jackd --no-realtime -n <unique> -d dummy` in its own
 * process group and kills that group on every way out (atexit, fatal
 * signals, a watchdog alarm), so no server outlives a failed run. A second
 * plain JACK client (the observer) looks at what cl_jack published. Then
 * the server is SIGKILLed, cl_jack must notice through its pipe, refuse to
 * reopen quickly while the server is away, and come back with the same
 * ports, names and latencies once the same-named server is started again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jack/jack.h>
#include <jack/metadata.h>
#include <jack/midiport.h>

#include "cl_jack.h"
#include "cl_log.h"
#define CHECK_VERBOSE 1
#include "cl_check.h"

static volatile pid_t jackd_pid;
static char server_name[64];
static char jackd_log[128];


static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Kill the whole jackd process group, whatever state it is in. */
static void kill_jackd_now(void)
{
	pid_t pid = jackd_pid;

	if (pid > 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		jackd_pid = 0;
	}
}

static void on_fatal_signal(int sig)
{
	pid_t pid = jackd_pid;
	static const char msg[] = "test-jack: killed by a signal or the "
				  "watchdog; jackd stopped\n";

	if (pid > 0)
		kill(-pid, SIGKILL);
	if (write(2, msg, sizeof msg - 1) < 0) {
		/* nothing more to do */
	}
	_exit(sig == SIGALRM ? 1 : 128 + sig);
}

static void print_jackd_log(void)
{
	char line[512];
	FILE *f = fopen(jackd_log, "r");

	if (!f)
		return;
	printf("---- jackd log ----\n");
	while (fgets(line, sizeof line, f))
		printf("    %s", line);
	printf("-------------------\n");
	fclose(f);
}

/* Start the private server; -1 when it could not even be executed. */
static int start_jackd(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(jackd_log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		setpgid(0, 0);
		/* Even a SIGKILLed test must not leave a server behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execlp("jackd", "jackd", "--no-realtime", "-n", server_name,
		       "-d", "dummy", "-r", "48000", "-p", "256", (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid); /* also here: no window where the group is absent */
	jackd_pid = pid;
	return 0;
}

/* Give this process (and the jackd it starts) a /dev/shm of its own.
 * JACK2 keeps sockets, shared memory and its metadata store there, and the
 * metadata store is one per user for ALL servers, keyed by port UUIDs that
 * every server numbers from the same start: without this, another test's
 * server deletes or overwrites our pretty names. Needs CAP_SYS_ADMIN
 * (root in the test container); false when not available. */
static bool isolate_dev_shm(void)
{
	if (unshare(CLONE_NEWNS) != 0)
		return false;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=1777") != 0) {
		printf("NOTE: private mount namespace but no private /dev/shm: "
		       "%s\n", strerror(errno));
		return false;
	}
	return true;
}

static void silent(const char *msg)
{
	(void)msg;
}

/* Wait until the private server accepts clients (up to timeout s). */
static int wait_server_up(double timeout)
{
	double end = now_s() + timeout;
	void (*saved)(const char *) = jack_error_callback;
	int rc = -1;

	jack_set_error_function(silent);
	while (now_s() < end) {
		jack_status_t st;
		jack_client_t *c = jack_client_open("cltest-probe",
			JackNoStartServer | JackServerName, &st, server_name);
		int status;

		if (c) {
			jack_client_close(c);
			rc = 0;
			break;
		}
		if (waitpid(jackd_pid, &status, WNOHANG) == jackd_pid) {
			jackd_pid = 0;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
				rc = -2;
			break;
		}
		sleep_ms(50);
	}
	jack_set_error_function(saved);
	return rc;
}

struct app {
	int setup_calls;
	bool ports_at_setup;
};

/* RT: pass the audio through and keep the MIDI buffer empty. */
static int process(jack_nframes_t n, void *arg)
{
	struct cl_jack *j = arg;
	float *in = jack_port_get_buffer(j->ports[0], n);
	float *out = jack_port_get_buffer(j->ports[1], n);

	memcpy(out, in, n * sizeof *out);
	jack_midi_clear_buffer(jack_port_get_buffer(j->ports[2], n));
	return 0;
}

static int setup(struct cl_jack *j, void *userdata, char *err, size_t errlen)
{
	struct app *a = userdata;

	a->setup_calls++;
	a->ports_at_setup = j->ports[0] && j->ports[1] && j->ports[2];
	if (jack_set_process_callback(j->client, process, j) != 0) {
		snprintf(err, errlen, "cannot set the process callback");
		return -1;
	}
	return 0;
}

static const struct cl_port_spec specs[] = {
	{ "in", "Audio In", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0 },
	{ "out", "Audio Out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 64 },
	{ "midi_out", "MIDI Out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0 },
};

static jack_client_t *observer_open(void)
{
	jack_status_t st;
	jack_client_t *c = jack_client_open("cltest-observer",
		JackNoStartServer | JackServerName | JackUseExactName, &st,
		server_name);

	CHECK(c != NULL, "observer client opened (status 0x%x)", (unsigned)st);
	return c;
}

/* The pretty name the observer sees for port, or "" when none. */
static void pretty_of(jack_port_t *port, char *buf, size_t len)
{
	char *value = NULL, *type = NULL;

	buf[0] = '\0';
	if (jack_get_property(jack_port_uuid(port), JACK_METADATA_PRETTY_NAME,
			      &value, &type) == 0 && value)
		snprintf(buf, len, "%s", value);
	jack_free(value);
	jack_free(type);
}

/* Ports by name, type and direction, as another client sees them. */
static void check_ports(jack_client_t *obs, const char *client_name,
			const char *when)
{
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		char full[256];
		jack_port_t *p;

		snprintf(full, sizeof full, "%s:%s", client_name, specs[i].name);
		p = jack_port_by_name(obs, full);
		CHECK(p != NULL, "%s: port %s exists", when, full);
		if (!p)
			continue;
		CHECK(strcmp(jack_port_type(p), specs[i].type) == 0,
		      "%s: %s has type '%s'", when, full, jack_port_type(p));
		CHECK((jack_port_flags(p) & (JackPortIsInput | JackPortIsOutput))
		      == specs[i].flags, "%s: %s is an %s", when, full,
		      (jack_port_flags(p) & JackPortIsInput) ? "input" : "output");
	}
}

/* Wait (up to 3 s) until port's range for mode is want; print what it was. */
static bool wait_range(jack_client_t *obs, const char *port_name,
		       jack_latency_callback_mode_t mode,
		       jack_latency_range_t want, jack_latency_range_t *got)
{
	double end = now_s() + 3.0;
	jack_port_t *p = jack_port_by_name(obs, port_name);

	got->min = got->max = UINT32_MAX;
	if (!p)
		return false;
	do {
		jack_port_get_latency_range(p, mode, got);
		if (got->min == want.min && got->max == want.max)
			return true;
		sleep_ms(20);
	} while (now_s() < end);
	return false;
}

static jack_latency_range_t range_of(jack_client_t *obs, const char *port_name,
				     jack_latency_callback_mode_t mode)
{
	jack_latency_range_t r = { UINT32_MAX, UINT32_MAX };
	jack_port_t *p = jack_port_by_name(obs, port_name);

	if (p)
		jack_port_get_latency_range(p, mode, &r);
	return r;
}

/* Wire system:capture_1 -> in, out -> system:playback_1 and check the
 * ranges JACK computed through our latency callback (out adds `added`). */
static void check_latency(jack_client_t *obs, uint32_t added, const char *when)
{
	jack_latency_range_t cap, play, want, got;
	int rc1 = jack_connect(obs, "system:capture_1", "cltest:in");
	int rc2 = jack_connect(obs, "cltest:out", "system:playback_1");

	CHECK((rc1 == 0 || rc1 == EEXIST) && (rc2 == 0 || rc2 == EEXIST),
	      "%s: connected system:capture_1 -> cltest:in -> cltest:out -> "
	      "system:playback_1 (%d, %d)", when, rc1, rc2);
	cap = range_of(obs, "system:capture_1", JackCaptureLatency);
	play = range_of(obs, "system:playback_1", JackPlaybackLatency);
	printf("    system:capture_1 capture latency [%u, %u], "
	       "system:playback_1 playback latency [%u, %u]\n",
	       cap.min, cap.max, play.min, play.max);

	want.min = cap.min + added;
	want.max = cap.max + added;
	CHECK(wait_range(obs, "cltest:out", JackCaptureLatency, want, &got),
	      "%s: cltest:out capture latency [%u, %u] (want capture_1 + %u "
	      "= [%u, %u])", when, got.min, got.max, added, want.min, want.max);
	/* A zero-latency output still carries the input's latency on. */
	CHECK(wait_range(obs, "cltest:midi_out", JackCaptureLatency, cap, &got),
	      "%s: cltest:midi_out capture latency [%u, %u] (want [%u, %u])",
	      when, got.min, got.max, cap.min, cap.max);
	/* Playback: the input sees the union over both outputs; midi_out is
	 * unconnected (0), so min is 0 and max is playback_1 + added. */
	want.min = 0;
	want.max = play.max + added;
	CHECK(wait_range(obs, "cltest:in", JackPlaybackLatency, want, &got),
	      "%s: cltest:in playback latency [%u, %u] (want [0, playback_1 + "
	      "%u = %u])", when, got.min, got.max, added, want.max);
}

/* Remove the pretty names the crashed server left under our old port
 * UUIDs, so that only a reopen that names the ports again passes. */
static void forget_old_pretty_names(const jack_uuid_t *uuids)
{
	jack_status_t st;
	void (*saved)(const char *) = jack_error_callback;
	jack_client_t *c = jack_client_open("cltest-cleaner",
		JackNoStartServer | JackServerName, &st, server_name);
	char pretty[256] = "";
	int left = 0;

	if (!c) {
		CHECK(0, "cleaner client could not open");
		return;
	}
	jack_set_error_function(silent); /* "cannot delete" when not there */
	for (size_t i = 0; i < 3; i++) {
		char *value = NULL, *type = NULL;

		jack_remove_property(c, uuids[i], JACK_METADATA_PRETTY_NAME);
		if (jack_get_property(uuids[i], JACK_METADATA_PRETTY_NAME,
				      &value, &type) == 0) {
			snprintf(pretty, sizeof pretty, "%s", value);
			left++;
		}
		jack_free(value);
		jack_free(type);
	}
	jack_set_error_function(saved);
	jack_client_close(c);
	CHECK(left == 0, "old pretty names removed before the reopen (%d left%s%s)",
	      left, left ? ", e.g. " : "", pretty);
}

int main(void)
{
	struct app a = { 0 };
	struct cl_jack j, j2;
	jack_client_t *obs;
	char err[512], pretty[256];
	struct sigaction sa = { .sa_handler = on_fatal_signal };
	struct pollfd pfd;
	jack_uuid_t old_uuid[3];
	double t0, dt;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	setenv("JACK_NO_START_SERVER", "1", 1);
	snprintf(server_name, sizeof server_name, "cltest-jack-%d", (int)getpid());
	snprintf(jackd_log, sizeof jackd_log, "/tmp/%s.log", server_name);
	unlink(jackd_log);
	atexit(kill_jackd_now);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
	alarm(55); /* under meson's 60 s: our own cleanup runs first */
	cl_log_init("test-jack", 1);
	if (isolate_dev_shm())
		printf("private /dev/shm for this test's JACK server\n");
	else
		printf("NOTE: no private /dev/shm (%s); JACK metadata is shared "
		       "with every server of this user, so pretty-name checks "
		       "can be disturbed by tests running at the same time\n",
		       strerror(errno));

	if (start_jackd() != 0) {
		printf("FAIL: fork: %s\n", strerror(errno));
		return 1;
	}
	rc = wait_server_up(10.0);
	if (rc == -2) {
		printf("FAIL: jackd cannot be executed (scripts/install-deps installs jackd2)\n");
		return 1;
	}
	if (rc != 0) {
		printf("FAIL: private jackd '%s' did not come up in 10 s\n",
		       server_name);
		print_jackd_log();
		return 1;
	}
	printf("private jackd '%s' up (pid %d)\n", server_name, (int)jackd_pid);

	/* Open. */
	rc = cl_jack_open(&j, "cltest", server_name, specs, 3, setup, &a,
			  err, sizeof err);
	cl_log_flush();
	CHECK(rc == 0, "cl_jack_open (%s)", rc ? err : "ok");
	if (rc != 0) {
		print_jackd_log();
		return 1;
	}
	CHECK(cl_jack_is_up(&j), "client is up");
	CHECK(a.setup_calls == 1 && a.ports_at_setup,
	      "setup ran once, with the ports registered");
	CHECK(j.sample_rate == 48000, "sample rate %u", j.sample_rate);
	CHECK(j.buffer_size == 256, "buffer size %u", j.buffer_size);
	CHECK(strcmp(jack_get_client_name(j.client), "cltest") == 0,
	      "client name '%s'", jack_get_client_name(j.client));

	obs = observer_open();
	if (!obs)
		return 1;
	check_ports(obs, "cltest", "first open");

	/* Pretty names. */
	pretty_of(jack_port_by_name(obs, "cltest:out"), pretty, sizeof pretty);
	if (j.metadata_refused) {
		printf("NOTE: this jackd refused JACK metadata; pretty names "
		       "not checked\n");
	} else {
		CHECK(strcmp(pretty, "Audio Out") == 0,
		      "pretty name of cltest:out '%s'", pretty);
		pretty_of(jack_port_by_name(obs, "cltest:midi_out"), pretty,
			  sizeof pretty);
		CHECK(strcmp(pretty, "MIDI Out") == 0,
		      "pretty name of cltest:midi_out '%s'", pretty);
		CHECK(cl_jack_set_pretty_name(&j, 1, "Main Out") == 0,
		      "set_pretty_name(1, \"Main Out\")");
		pretty_of(jack_port_by_name(obs, "cltest:out"), pretty,
			  sizeof pretty);
		CHECK(strcmp(pretty, "Main Out") == 0,
		      "pretty name of cltest:out now '%s'", pretty);
	}
	CHECK(cl_jack_set_pretty_name(&j, 7, "x") == -1,
	      "set_pretty_name on a port that does not exist -> -1");

	/* Latency: 64 frames, then 128. */
	check_latency(obs, 64, "latency 64");
	cl_jack_set_port_latency(&j, 1, 128);
	check_latency(obs, 128, "latency 128");

	/* A taken name: JACK picks another one, and we take it. */
	rc = cl_jack_open(&j2, "cltest", server_name, specs, 3, NULL, NULL,
			  err, sizeof err);
	cl_log_flush();
	CHECK(rc == 0 && strcmp(jack_get_client_name(j2.client), "cltest") != 0,
	      "second client named 'cltest' opened as '%s'",
	      rc == 0 ? jack_get_client_name(j2.client) : err);
	if (rc == 0) {
		char full[256];

		snprintf(full, sizeof full, "%s:out",
			 jack_get_client_name(j2.client));
		CHECK(jack_port_by_name(obs, full) != NULL, "its port %s exists",
		      full);
		cl_jack_close(&j2);
	}

	/* Server crash. The port UUIDs are kept: JACK2 numbers them per
	 * server, so the restarted server hands out the same ones, and its
	 * metadata store (one per user, shared by all servers) survives a
	 * SIGKILL. The checks after the reopen must not read old values. */
	for (size_t i = 0; i < 3; i++)
		old_uuid[i] = jack_port_uuid(j.ports[i]);
	jack_client_close(obs); /* its server is about to die too */
	kill(-jackd_pid, SIGKILL);
	waitpid(jackd_pid, NULL, 0);
	jackd_pid = 0;
	printf("jackd killed with SIGKILL\n");

	pfd.fd = cl_jack_fd(&j);
	pfd.events = POLLIN;
	t0 = now_s();
	rc = poll(&pfd, 1, 10000);
	dt = now_s() - t0;
	CHECK(rc == 1 && (pfd.revents & POLLIN),
	      "cl_jack_fd readable %.3f s after the kill", dt);
	if (rc != 1)
		return 1;
	cl_jack_lost(&j);
	cl_log_flush();
	CHECK(!cl_jack_is_up(&j) && j.client == NULL,
	      "after cl_jack_lost: client is NULL");
	CHECK(!j.ports[0] && !j.ports[1] && !j.ports[2],
	      "after cl_jack_lost: ports are NULL");
	CHECK(poll(&pfd, 1, 0) == 0, "the pipe is drained");

	t0 = now_s();
	rc = cl_jack_try_reopen(&j);
	dt = now_s() - t0;
	cl_log_flush();
	CHECK(rc == -1 && dt < 1.0,
	      "try_reopen while the server is down: %d in %.3f s", rc, dt);
	CHECK(a.setup_calls == 1, "setup not run by the failed reopen");
	/* A new pretty name while the server is away is kept for the reopen:
	 * seeing it afterwards proves the names were set again. */
	CHECK(cl_jack_set_pretty_name(&j, 1, "Main Out (reopened)") == 0,
	      "set_pretty_name while the server is down");

	/* Server back. */
	if (start_jackd() != 0) {
		printf("FAIL: fork: %s\n", strerror(errno));
		return 1;
	}
	printf("jackd '%s' started again (pid %d)\n", server_name,
	       (int)jackd_pid);
	if (!j.metadata_refused && wait_server_up(10.0) == 0)
		forget_old_pretty_names(old_uuid);
	t0 = now_s();
	rc = -1;
	while (now_s() - t0 < 10.0) {
		rc = cl_jack_try_reopen(&j);
		cl_log_flush();
		if (rc == 0)
			break;
		sleep_ms(200);
	}
	dt = now_s() - t0;
	CHECK(rc == 0, "try_reopen succeeded %.2f s after the restart", dt);
	if (rc != 0) {
		print_jackd_log();
		return 1;
	}
	CHECK(cl_jack_is_up(&j) && j.ports[0] && j.ports[1] && j.ports[2],
	      "client and ports are back");
	CHECK(a.setup_calls == 2 && a.ports_at_setup,
	      "setup ran twice in all (%d)", a.setup_calls);
	CHECK(strcmp(jack_get_client_name(j.client), "cltest") == 0,
	      "client name after reopen '%s'", jack_get_client_name(j.client));

	obs = observer_open();
	if (!obs)
		return 1;
	check_ports(obs, "cltest", "after reopen");
	if (!j.metadata_refused) {
		pretty_of(jack_port_by_name(obs, "cltest:out"), pretty,
			  sizeof pretty);
		CHECK(strcmp(pretty, "Main Out (reopened)") == 0,
		      "after reopen: pretty name of cltest:out '%s'", pretty);
		pretty_of(jack_port_by_name(obs, "cltest:in"), pretty,
			  sizeof pretty);
		CHECK(strcmp(pretty, "Audio In") == 0,
		      "after reopen: pretty name of cltest:in '%s'", pretty);
	}
	check_latency(obs, 128, "after reopen");

	jack_client_close(obs);
	cl_jack_close(&j);
	CHECK(j.client == NULL && j.ports == NULL && j.pipe[0] == -1,
	      "cl_jack_close emptied the struct");
	cl_jack_close(&j); /* twice is harmless */
	cl_log_flush();

	kill(-jackd_pid, SIGTERM);
	waitpid(jackd_pid, NULL, 0);
	jackd_pid = 0;
	unlink(jackd_log);

	if (failures) {
		printf("%d check(s) FAILED\n", failures);
		return 1;
	}
	printf("all JACK checks passed\n");
	return 0;
}
