/*
 * cl_cli: defaults, every common option, -vv, port range, usage errors
 * (with their exact messages), --help and --version output, extra options
 * reaching extra_fn, operands, repeated parsing in one process, and the
 * whole-string number parsers.
 *
 * Output that is not checked goes to /dev/null; checked output goes to a
 * temporary file.
 */
#include "cl_cli.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define CHECK_REPORT report
#include "cl_check.h"

static FILE *report;


enum { OPT_BPM = 1000, OPT_COLOR = 1001 };

struct extra_seen {
	int calls;
	double bpm;
	int loop;
	const char *color;
	bool color_given;
};

static const struct cl_cli_option extra_options[] = {
	{ { "bpm", required_argument, NULL, OPT_BPM }, "BPM", "tempo in beats per minute" },
	{ { "loop", no_argument, NULL, 'l' }, NULL, "loop forever" },
	{ { "color", optional_argument, NULL, OPT_COLOR }, "WHEN", "colour output" },
	{ { NULL, 0, NULL, 0 }, NULL, NULL },
};

static int on_extra(void *userdata, int val, const char *arg)
{
	struct extra_seen *seen = userdata;
	seen->calls++;
	switch (val) {
	case OPT_BPM:
		if (cl_cli_parse_double(arg, 20, 300, &seen->bpm) != 0) {
			fprintf(stderr, "cl-test: bad --bpm '%s'\n", arg);
			return -1;
		}
		return 0;
	case 'l':
		seen->loop++;
		return 0;
	case OPT_COLOR:
		seen->color = arg;
		seen->color_given = true;
		return 0;
	}
	return -1;
}

static struct extra_seen seen;

static bool streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}
static struct cl_cli_spec spec = {
	.prog = "cl-test",
	.summary = "A program for the tests.",
	.default_osc_port = 7770,
	.extra = extra_options,
	.extra_fn = on_extra,
	.userdata = &seen,
};

/* Output capture: fd 1 and 2 go to files (or /dev/null) during a parse. */
static int saved_out, saved_err;
static char out_path[] = "/tmp/test-cli-out-XXXXXX";
static char err_path[] = "/tmp/test-cli-err-XXXXXX";

static void capture_start(void)
{
	fflush(stdout);
	fflush(stderr);
	int o = open(out_path, O_WRONLY | O_TRUNC);
	int e = open(err_path, O_WRONLY | O_TRUNC);
	if (o < 0 || e < 0)
		abort();
	dup2(o, STDOUT_FILENO);
	dup2(e, STDERR_FILENO);
	close(o);
	close(e);
}

static void capture_stop(void)
{
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		abort();
	static char buf[16384];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Parse a NULL-terminated argument list (copied: getopt permutes argv). */
static char *argv_store[32];
static int parse_list(struct cl_options *o, const char *const *args)
{
	int argc = 0;
	while (args[argc] != NULL && argc < 31) {
		argv_store[argc] = (char *)args[argc];
		argc++;
	}
	argv_store[argc] = NULL;
	memset(&seen, 0, sizeof seen);
	capture_start();
	int rc = cl_cli_parse(argc, argv_store, &spec, o);
	capture_stop();
	return rc;
}
#define PARSE(o, ...) parse_list((o), (const char *const[]){ "cl-test", __VA_ARGS__, NULL })

static void test_defaults(void)
{
	struct cl_options o;
	int rc = parse_list(&o, (const char *const[]){ "cl-test", NULL });
	CHECK(rc == -1, "no options: go on (rc %d)", rc);
	CHECK(streq(o.name, "cl-test"), "default name is the program (%s)", o.name);
	CHECK(o.server == NULL, "default server NULL");
	CHECK(o.osc_port == 7770, "default port from spec (%d)", o.osc_port);
	CHECK(streq(o.osc_bind, "127.0.0.1"), "default bind (%s)", o.osc_bind);
	CHECK(o.store == NULL && o.state == NULL, "default store/state NULL");
	CHECK(o.verbose == 0 && !o.osc_doc, "default verbose 0, osc_doc off");
	CHECK(o.first_operand == 1, "no operands: first_operand == argc");
	CHECK(seen.calls == 0, "extra_fn not called");
}

static void test_each_option(void)
{
	struct cl_options o;
	int rc = PARSE(&o, "--name", "deck-a", "--server", "studio", "--osc-port", "9000",
		       "--osc-bind", "0.0.0.0", "--store", "/srv/store", "--state", "s.json",
		       "--osc-doc", "--verbose");
	CHECK(rc == -1, "long options: go on (rc %d)", rc);
	CHECK(streq(o.name, "deck-a"), "--name (%s)", o.name);
	CHECK(o.server && streq(o.server, "studio"), "--server");
	CHECK(o.osc_port == 9000, "--osc-port (%d)", o.osc_port);
	CHECK(streq(o.osc_bind, "0.0.0.0"), "--osc-bind");
	CHECK(o.store && streq(o.store, "/srv/store"), "--store");
	CHECK(o.state && streq(o.state, "s.json"), "--state");
	CHECK(o.osc_doc, "--osc-doc");
	CHECK(o.verbose == 1, "--verbose (%d)", o.verbose);

	rc = PARSE(&o, "-n", "b", "-s", "srv", "-p", "0", "-b", "192.168.1.5", "-S", "st",
		   "-t", "f.json", "-vv");
	CHECK(rc == -1, "short options: go on (rc %d)", rc);
	CHECK(streq(o.name, "b") && streq(o.server, "srv"), "-n -s");
	CHECK(o.osc_port == 0, "-p 0 = ephemeral (%d)", o.osc_port);
	CHECK(streq(o.osc_bind, "192.168.1.5"), "-b");
	CHECK(streq(o.store, "st") && streq(o.state, "f.json"), "-S -t");
	CHECK(o.verbose == 2, "-vv counts 2 (%d)", o.verbose);
	CHECK(!o.osc_doc, "osc_doc reset to default on a new parse");

	rc = PARSE(&o, "-v", "--osc-port=65535", "-vv", "--name=c");
	CHECK(rc == -1 && o.verbose == 3 && o.osc_port == 65535 && streq(o.name, "c"),
	      "-v ... -vv counts 3, --opt=value form (rc %d, verbose %d)", rc, o.verbose);
}

static void test_ports(void)
{
	struct cl_options o;
	int rc = PARSE(&o, "--osc-port=65535");
	CHECK(rc == -1 && o.osc_port == 65535, "port 65535 accepted (rc %d, %d)", rc, o.osc_port);
	rc = PARSE(&o, "-p1");
	CHECK(rc == -1 && o.osc_port == 1, "-p1 accepted");

	const char *bad[] = { "70000", "abc", "", "-1", "12x", " 80", "65536", "1e3" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rc = PARSE(&o, "--osc-port", bad[i]);
		CHECK(rc == CL_EXIT_USAGE, "port '%s' refused (rc %d)", bad[i], rc);
	}
	rc = PARSE(&o, "--osc-port", "70000");
	const char *err = slurp(err_path);
	CHECK(strcmp(err, "cl-test: bad --osc-port '70000': want a port number 0..65535 "
			  "(0 = any free port)\nTry 'cl-test --help'.\n") == 0,
	      "bad port message, got \"%s\"", err);
	CHECK(slurp(out_path)[0] == '\0', "nothing on stdout for a usage error");
}

static void test_usage_errors(void)
{
	struct cl_options o;
	int rc = PARSE(&o, "--bogus");
	CHECK(rc == CL_EXIT_USAGE, "unknown long option (rc %d)", rc);
	CHECK(strcmp(slurp(err_path), "cl-test: unknown option '--bogus'\n"
				      "Try 'cl-test --help'.\n") == 0,
	      "unknown long option message: \"%s\"", slurp(err_path));

	rc = PARSE(&o, "-x");
	CHECK(rc == CL_EXIT_USAGE, "unknown short option (rc %d)", rc);
	CHECK(strstr(slurp(err_path), "cl-test: unknown option '-x'\n") != NULL,
	      "unknown short option message: \"%s\"", slurp(err_path));

	rc = PARSE(&o, "--bogus=3");
	CHECK(rc == CL_EXIT_USAGE &&
	      strstr(slurp(err_path), "unknown option '--bogus'") != NULL,
	      "unknown option with =value: \"%s\"", slurp(err_path));

	rc = PARSE(&o, "--osc-port");
	CHECK(rc == CL_EXIT_USAGE, "missing argument (rc %d)", rc);
	CHECK(strstr(slurp(err_path), "cl-test: option '--osc-port' needs an argument\n") != NULL,
	      "missing long argument message: \"%s\"", slurp(err_path));

	rc = PARSE(&o, "-v", "-p");
	CHECK(rc == CL_EXIT_USAGE &&
	      strstr(slurp(err_path), "option '-p' needs an argument") != NULL,
	      "missing short argument message: \"%s\"", slurp(err_path));

	rc = PARSE(&o, "--help=yes");
	CHECK(rc == CL_EXIT_USAGE &&
	      strstr(slurp(err_path), "option '--help' takes no argument") != NULL,
	      "argument to a flag: rc %d \"%s\"", rc, slurp(err_path));

	rc = PARSE(&o, "--name", "");
	CHECK(rc == CL_EXIT_USAGE &&
	      strstr(slurp(err_path), "cl-test: --name must not be empty") != NULL,
	      "empty name refused: rc %d \"%s\"", rc, slurp(err_path));

	rc = PARSE(&o, "stray");
	CHECK(rc == CL_EXIT_USAGE &&
	      strstr(slurp(err_path), "cl-test: unexpected argument 'stray'") != NULL,
	      "operand refused when the program takes none: rc %d \"%s\"", rc,
	      slurp(err_path));
}

static void test_help_version(void)
{
	struct cl_options o;
	int rc = PARSE(&o, "--help");
	CHECK(rc == CL_EXIT_OK, "--help gives CL_EXIT_OK (rc %d)", rc);
	const char *out = slurp(out_path);
	const char *want[] = {
		"Usage: cl-test [OPTION]...\n",
		"A program for the tests.\n",
		"  -n, --name NAME",
		"JACK client name (default cl-test)",
		"  -s, --server NAME",
		"  -p, --osc-port N",
		"OSC UDP port (default 7770; 0 = any free port)",
		"  -b, --osc-bind ADDR",
		"  -S, --store DIR",
		"  -t, --state FILE",
		"      --osc-doc",
		"  -v, --verbose",
		"  -h, --help",
		"  -V, --version",
		"cl-test options:\n",
		"      --bpm BPM",
		"tempo in beats per minute",
		"  -l, --loop",
		"loop forever",
		"      --color[=WHEN]",
		"Exit status: 0 ok, 1 runtime failure, 2 bad usage.\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		CHECK(strstr(out, want[i]) != NULL, "--help lacks \"%s\"", want[i]);
	CHECK(slurp(err_path)[0] == '\0', "--help writes nothing on stderr");

	rc = PARSE(&o, "-h");
	CHECK(rc == CL_EXIT_OK, "-h gives CL_EXIT_OK (rc %d)", rc);

	rc = PARSE(&o, "--version");
	CHECK(rc == CL_EXIT_OK, "--version gives CL_EXIT_OK (rc %d)", rc);
	CHECK(strcmp(slurp(out_path), "cl-test " CL_VERSION "\n") == 0,
	      "--version prints \"cl-test %s\", got \"%s\"", CL_VERSION, slurp(out_path));
	rc = PARSE(&o, "-V");
	CHECK(rc == CL_EXIT_OK, "-V gives CL_EXIT_OK (rc %d)", rc);
}

static void test_extra(void)
{
	struct cl_options o;
	int rc = PARSE(&o, "--bpm", "128.5", "-l", "--loop", "--color=always", "-v");
	CHECK(rc == -1, "extra options: go on (rc %d)", rc);
	CHECK(seen.calls == 4, "extra_fn called 4 times (%d)", seen.calls);
	CHECK(seen.bpm == 128.5, "--bpm reached extra_fn (%g)", seen.bpm);
	CHECK(seen.loop == 2, "-l and --loop reached extra_fn (%d)", seen.loop);
	CHECK(seen.color_given && seen.color && streq(seen.color, "always"),
	      "--color=always reached extra_fn");
	CHECK(o.verbose == 1, "common options still work beside extras");

	rc = PARSE(&o, "--color");
	CHECK(rc == -1 && seen.color_given && seen.color == NULL,
	      "optional argument absent gives NULL");

	rc = PARSE(&o, "--bpm", "fast");
	CHECK(rc == CL_EXIT_USAGE, "extra_fn -1 gives CL_EXIT_USAGE (rc %d)", rc);
	CHECK(strcmp(slurp(err_path), "cl-test: bad --bpm 'fast'\nTry 'cl-test --help'.\n") == 0,
	      "extra_fn message then the hint: \"%s\"", slurp(err_path));

	/* A table that reuses a common letter is a programmer error. */
	static const struct cl_cli_option clash[] = {
		{ { "voice", no_argument, NULL, 'v' }, NULL, "clashes with -v" },
		{ { NULL, 0, NULL, 0 }, NULL, NULL },
	};
	struct cl_cli_spec bad = spec;
	bad.extra = clash;
	capture_start();
	char *args[] = { "cl-test", NULL };
	rc = cl_cli_parse(1, args, &bad, &o);
	capture_stop();
	CHECK(rc == CL_EXIT_FAILURE, "clashing extra option is an internal error (rc %d)", rc);
	static const struct cl_cli_option reserved[] = {
		{ { "thing", no_argument, NULL, 300 }, NULL, "val in the common range" },
		{ { NULL, 0, NULL, 0 }, NULL, NULL },
	};
	bad.extra = reserved;
	capture_start();
	rc = cl_cli_parse(1, args, &bad, &o);
	capture_stop();
	CHECK(rc == CL_EXIT_FAILURE, "extra val 300 (< 1000) is an internal error (rc %d)", rc);

	/* No extras at all. */
	struct cl_cli_spec plain = { .prog = "cl-plain", .default_osc_port = 7775 };
	capture_start();
	char *args2[] = { "cl-plain", "-p", "7", "--help", NULL };
	rc = cl_cli_parse(4, args2, &plain, &o);
	capture_stop();
	CHECK(rc == CL_EXIT_OK && strstr(slurp(out_path), "\nOptions:\n") != NULL &&
	      strstr(slurp(out_path), "cl-plain options:") == NULL,
	      "help without extras (rc %d)", rc);
}

static void test_operands(void)
{
	struct cl_cli_spec with = spec;
	with.operands = "IN OUT";
	struct cl_options o;
	char *args[] = { "cl-test", "-v", "in.wav", "out.wav", "-n", "x", NULL };
	capture_start();
	int rc = cl_cli_parse(6, args, &with, &o);
	capture_stop();
	CHECK(rc == -1, "operands accepted when named (rc %d)", rc);
	CHECK(o.first_operand == 4 && strcmp(args[4], "in.wav") == 0 &&
	      strcmp(args[5], "out.wav") == 0,
	      "operands moved after options, first_operand %d", o.first_operand);
	CHECK(streq(o.name, "x") && o.verbose == 1, "options after operands parsed");

	char *args2[] = { "cl-test", "--", "-v", NULL };
	capture_start();
	rc = cl_cli_parse(3, args2, &with, &o);
	capture_stop();
	CHECK(rc == -1 && o.first_operand == 2 && o.verbose == 0,
	      "'--' ends options (rc %d, first %d, verbose %d)", rc, o.first_operand, o.verbose);

	char *args3[] = { "cl-test", "--help", NULL };
	capture_start();
	rc = cl_cli_parse(2, args3, &with, &o);
	capture_stop();
	CHECK(strstr(slurp(out_path), "Usage: cl-test [OPTION]... IN OUT\n") != NULL,
	      "usage line names the operands");
}

static void test_numbers(void)
{
	long l = 42;
	CHECK(cl_cli_parse_int("12", 0, 100, &l) == 0 && l == 12, "int 12");
	CHECK(cl_cli_parse_int("-5", -10, 10, &l) == 0 && l == -5, "int -5");
	CHECK(cl_cli_parse_int("+7", 0, 10, &l) == 0 && l == 7, "int +7");
	const char *bad_int[] = { "", " 12", "12 ", "1e3", "0x10", "1.0", "abc",
				  "99999999999999999999", "-", "101", "-11" };
	for (size_t i = 0; i < sizeof bad_int / sizeof bad_int[0]; i++) {
		l = 42;
		CHECK(cl_cli_parse_int(bad_int[i], -10, 100, &l) != 0 && l == 42,
		      "int '%s' refused and *out untouched", bad_int[i]);
	}
	CHECK(cl_cli_parse_int(NULL, 0, 1, &l) != 0, "int NULL refused");

	double d = 42;
	CHECK(cl_cli_parse_double("1.5", 0, 2, &d) == 0 && d == 1.5, "double 1.5");
	CHECK(cl_cli_parse_double("-0.25", -1, 1, &d) == 0 && d == -0.25, "double -0.25");
	CHECK(cl_cli_parse_double("1e2", 0, 1000, &d) == 0 && d == 100, "double 1e2");
	CHECK(cl_cli_parse_double("7", 0, 10, &d) == 0 && d == 7, "double 7");
	const char *bad_double[] = { "", "nan", "inf", "-inf", "1e400", " 1", "1 ",
				     "1.0x", "abc", "2.5", "-1.5" };
	for (size_t i = 0; i < sizeof bad_double / sizeof bad_double[0]; i++) {
		d = 42;
		CHECK(cl_cli_parse_double(bad_double[i], -1, 2, &d) != 0 && d == 42,
		      "double '%s' refused and *out untouched", bad_double[i]);
	}
	CHECK(cl_cli_parse_double(NULL, 0, 1, &d) != 0, "double NULL refused");
}

int main(void)
{
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	report = fdopen(dup(STDERR_FILENO), "w");
	int a = mkstemp(out_path), b = mkstemp(err_path);
	if (a < 0 || b < 0 || report == NULL) {
		perror("test-cli: setup");
		return 1;
	}
	close(a);
	close(b);
	setvbuf(report, NULL, _IONBF, 0);

	test_defaults();
	test_each_option();
	test_ports();
	test_usage_errors();
	test_help_version();
	test_extra();
	test_operands();
	test_numbers();

	unlink(out_path);
	unlink(err_path);
	if (failures) {
		fprintf(report, "test-cli: %d check(s) failed\n", failures);
		return 1;
	}
	fprintf(report, "test-cli: defaults, options, ports, usage errors, help, version, "
		"extras, operands, number parsers: all checks passed\n");
	return 0;
}
