/*
 * The common command line.
 *
 * One getopt_long table is built per call: the common options first, then
 * the program's extras. getopt's own messages are turned off (opterr = 0,
 * optstring starting with ':') so that every usage error reads the same:
 * "prog: <what was wrong>" then "Try 'prog --help'." on stderr, and
 * CL_EXIT_USAGE. --help and --version print to stdout and return CL_EXIT_OK;
 * --osc-doc only sets a flag, because the method table belongs to the
 * program.
 *
 * getopt keeps hidden state between calls; optind = 0 makes glibc start
 * over, so a test can parse several command lines in one process. Operands
 * (arguments that are not options) are refused unless the program names
 * them in spec->operands; getopt moves them to the end of argv and
 * out->first_operand says where they start.
 */
#include "cl_cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CL_VERSION
#define CL_VERSION "unknown"
#endif

enum {
	/* Long-only common options live in 256..999; extras start at 1000
	 * (cl_cli.h). */
	OPT_OSC_DOC = 256,
	EXTRA_VAL_MIN = 1000,
};

/* The common options; help texts that mention defaults are built in
 * print_help(). */
static const struct cl_cli_option common_options[] = {
	{ { "name", required_argument, NULL, 'n' }, "NAME", NULL },
	{ { "server", required_argument, NULL, 's' }, "NAME",
	  "JACK server to connect to (default: the default server)" },
	{ { "osc-port", required_argument, NULL, 'p' }, "N", NULL },
	{ { "osc-bind", required_argument, NULL, 'b' }, "ADDR",
	  "address the OSC socket listens on (default 127.0.0.1;\n"
	  "0.0.0.0 or a LAN address only to reach a tablet)" },
	{ { "store", required_argument, NULL, 'S' }, "DIR",
	  "store root of the session" },
	{ { "state", required_argument, NULL, 't' }, "FILE",
	  "state document: loaded at start, saved on request" },
	{ { "osc-doc", no_argument, NULL, OPT_OSC_DOC }, NULL,
	  "print the OSC methods and exit" },
	{ { "verbose", no_argument, NULL, 'v' }, NULL,
	  "more log output (repeat for more)" },
	{ { "help", no_argument, NULL, 'h' }, NULL,
	  "show this help and exit" },
	{ { "version", no_argument, NULL, 'V' }, NULL,
	  "show the version and exit" },
	{ { NULL, 0, NULL, 0 }, NULL, NULL },
};

#define COMMON_SHORT "n:s:p:b:S:t:vhV"
#define HELP_COLUMN 26

/* Parse a whole decimal integer in [min, max]; 0, else -1 (nothing printed). */
int cl_cli_parse_int(const char *s, long min, long max, long *out)
{
	if (s == NULL || s[0] == '\0' || isspace((unsigned char)s[0]))
		return -1;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse a whole finite number in [min, max]; 0, else -1 (nothing printed). */
int cl_cli_parse_double(const char *s, double min, double max, double *out)
{
	if (s == NULL || s[0] == '\0' || isspace((unsigned char)s[0]))
		return -1;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	/* ERANGE on underflow still gives a usable tiny value; overflow gives
	 * HUGE_VAL, which isfinite refuses. */
	if (*end != '\0' || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Entries before the NULL-name terminator (0 for NULL). */
static size_t count_options(const struct cl_cli_option *opts)
{
	size_t n = 0;
	while (opts != NULL && opts[n].opt.name != NULL)
		n++;
	return n;
}

/* "-n, --name NAME" or "    --osc-doc" into buf. */
static void format_option_column(const struct cl_cli_option *o, char *buf, size_t len)
{
	char shortpart[8] = "    ";
	int val = o->opt.val;
	if (o->opt.flag == NULL && val > 0 && val < 256 && isalnum(val))
		snprintf(shortpart, sizeof shortpart, "-%c, ", val);
	const char *arg = o->arg_name;
	if (arg == NULL)
		snprintf(buf, len, "%s--%s", shortpart, o->opt.name);
	else if (o->opt.has_arg == optional_argument)
		snprintf(buf, len, "%s--%s[=%s]", shortpart, o->opt.name, arg);
	else
		snprintf(buf, len, "%s--%s %s", shortpart, o->opt.name, arg);
}

/* One help entry; a help text may hold newlines (continued in the column). */
static void print_option(FILE *f, const struct cl_cli_option *o, const char *help)
{
	char col[128];
	format_option_column(o, col, sizeof col);
	int used = fprintf(f, "  %s", col);
	if (help == NULL || help[0] == '\0') {
		fputc('\n', f);
		return;
	}
	if (used + 2 > HELP_COLUMN) {
		fputc('\n', f);
		used = 0;
	}
	const char *line = help;
	while (line != NULL) {
		const char *nl = strchr(line, '\n');
		int n = nl ? (int)(nl - line) : (int)strlen(line);
		fprintf(f, "%*s%.*s\n", HELP_COLUMN - used, "", n, line);
		used = 0;
		line = nl ? nl + 1 : NULL;
	}
}

/* Usage, summary, common then extra options, exit codes; on stdout. */
static void print_help(const struct cl_cli_spec *spec)
{
	FILE *f = stdout;
	char buf[160];
	fprintf(f, "Usage: %s [OPTION]...%s%s\n", spec->prog,
		spec->operands ? " " : "", spec->operands ? spec->operands : "");
	if (spec->summary != NULL)
		fprintf(f, "%s\n", spec->summary);
	fprintf(f, "\nOptions:\n");
	for (const struct cl_cli_option *o = common_options; o->opt.name != NULL; o++) {
		const char *help = o->help;
		if (o->opt.val == 'n') {
			snprintf(buf, sizeof buf, "JACK client name (default %s)", spec->prog);
			help = buf;
		} else if (o->opt.val == 'p') {
			snprintf(buf, sizeof buf,
				 "OSC UDP port (default %d; 0 = any free port)",
				 spec->default_osc_port);
			help = buf;
		}
		print_option(f, o, help);
	}
	if (count_options(spec->extra) > 0) {
		fprintf(f, "\n%s options:\n", spec->prog);
		for (const struct cl_cli_option *o = spec->extra; o->opt.name != NULL; o++)
			print_option(f, o, o->help);
	}
	fprintf(f, "\nExit status: 0 ok, 1 runtime failure, 2 bad usage.\n");
}

/* The hint that ends every usage error; returns CL_EXIT_USAGE. */
static int usage_error(const struct cl_cli_spec *spec)
{
	fprintf(stderr, "Try '%s --help'.\n", spec->prog);
	return CL_EXIT_USAGE;
}

/* A programmer error in the extra table: say so loudly (tests catch it). */
static int check_extra(const struct cl_cli_spec *spec)
{
	for (const struct cl_cli_option *e = spec->extra; e && e->opt.name; e++) {
		int val = e->opt.val;
		if (e->opt.flag != NULL || val == 0 || val == '?' || val == ':' ||
		    (val < 256 && !isalnum(val)) ||
		    (val < 256 && strchr(COMMON_SHORT, val) != NULL) ||
		    (val >= 256 && val < EXTRA_VAL_MIN) || spec->extra_fn == NULL) {
			fprintf(stderr, "%s: internal error: bad extra option --%s\n",
				spec->prog, e->opt.name);
			return -1;
		}
		for (const struct cl_cli_option *c = common_options; c->opt.name; c++) {
			if (strcmp(c->opt.name, e->opt.name) == 0) {
				fprintf(stderr, "%s: internal error: --%s is a common option\n",
					spec->prog, e->opt.name);
				return -1;
			}
		}
	}
	return 0;
}

/* The option as the user typed it, for messages: "--foo" (without any
 * "=value") or "-x". */
static void offending_option(int argc, char **argv, char *buf, size_t len)
{
	const char *arg = (optind >= 1 && optind - 1 < argc) ? argv[optind - 1] : "";
	if (optopt != 0 && optopt < 256 && isprint(optopt)) {
		snprintf(buf, len, "-%c", optopt);
		/* A long option with a known val also sets optopt; prefer what
		 * the user typed when it is a long option. */
		if (strncmp(arg, "--", 2) != 0)
			return;
	}
	size_t n = strcspn(arg, "=");
	snprintf(buf, len, "%.*s", (int)n, arg);
}

/* offending_option() as an expression for fprintf. */
static const char *option_text(int argc, char **argv, char *buf, size_t len)
{
	offending_option(argc, argv, buf, len);
	return buf;
}

/* A required string argument must not be empty. */
static int take_string(const struct cl_cli_spec *spec, const char *opt,
		       const char *arg, const char **out)
{
	if (arg[0] == '\0') {
		fprintf(stderr, "%s: --%s must not be empty\n", spec->prog, opt);
		return -1;
	}
	*out = arg;
	return 0;
}

/* Parse argv into *out; -1 to go on, or the exit code to return with. */
int cl_cli_parse(int argc, char **argv, const struct cl_cli_spec *spec,
		 struct cl_options *out)
{
	*out = (struct cl_options){
		.name = spec->prog,
		.server = NULL,
		.osc_port = spec->default_osc_port,
		.osc_bind = "127.0.0.1",
		.store = NULL,
		.state = NULL,
		.verbose = 0,
		.osc_doc = false,
		.first_operand = argc,
	};

	if (check_extra(spec) != 0)
		return CL_EXIT_FAILURE;

	size_t ncommon = count_options(common_options);
	size_t nextra = count_options(spec->extra);
	struct option *longopts = calloc(ncommon + nextra + 1, sizeof *longopts);
	/* ':' first: report a missing argument as ':' rather than '?'. Each
	 * extra short letter adds up to 3 chars. */
	char *shortopts = calloc(1 + sizeof COMMON_SHORT + 3 * nextra + 1, 1);
	if (longopts == NULL || shortopts == NULL) {
		free(longopts);
		free(shortopts);
		fprintf(stderr, "%s: out of memory\n", spec->prog);
		return CL_EXIT_FAILURE;
	}
	for (size_t i = 0; i < ncommon; i++)
		longopts[i] = common_options[i].opt;
	strcpy(shortopts, ":" COMMON_SHORT);
	for (size_t i = 0; i < nextra; i++) {
		const struct option *o = &spec->extra[i].opt;
		longopts[ncommon + i] = *o;
		if (o->val < 256) {
			char *p = shortopts + strlen(shortopts);
			*p++ = (char)o->val;
			if (o->has_arg != no_argument)
				*p++ = ':';
			if (o->has_arg == optional_argument)
				*p++ = ':';
		}
	}

	int rc = -1;
	char optbuf[128];
	optind = 0; /* glibc: a full restart, so tests may parse again */
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (c == -1)
			break;
		long port;
		switch (c) {
		case 'n':
			if (take_string(spec, "name", optarg, &out->name) != 0)
				goto usage;
			break;
		case 's':
			if (take_string(spec, "server", optarg, &out->server) != 0)
				goto usage;
			break;
		case 'p':
			if (cl_cli_parse_int(optarg, 0, 65535, &port) != 0) {
				fprintf(stderr, "%s: bad --osc-port '%s': want a port number "
					"0..65535 (0 = any free port)\n", spec->prog, optarg);
				goto usage;
			}
			out->osc_port = (int)port;
			break;
		case 'b':
			if (take_string(spec, "osc-bind", optarg, &out->osc_bind) != 0)
				goto usage;
			break;
		case 'S':
			if (take_string(spec, "store", optarg, &out->store) != 0)
				goto usage;
			break;
		case 't':
			if (take_string(spec, "state", optarg, &out->state) != 0)
				goto usage;
			break;
		case OPT_OSC_DOC:
			out->osc_doc = true;
			break;
		case 'v':
			out->verbose++;
			break;
		case 'h':
			print_help(spec);
			rc = CL_EXIT_OK;
			goto done;
		case 'V':
			printf("%s %s\n", spec->prog, CL_VERSION);
			rc = CL_EXIT_OK;
			goto done;
		case ':':
			fprintf(stderr, "%s: option '%s' needs an argument\n", spec->prog,
				option_text(argc, argv, optbuf, sizeof optbuf));
			goto usage;
		case '?':
			if (optopt != 0 && optind >= 1 && optind - 1 < argc &&
			    strncmp(argv[optind - 1], "--", 2) == 0 &&
			    strchr(argv[optind - 1], '=') != NULL)
				fprintf(stderr, "%s: option '%s' takes no argument\n", spec->prog,
					option_text(argc, argv, optbuf, sizeof optbuf));
			else
				fprintf(stderr, "%s: unknown option '%s'\n", spec->prog,
					option_text(argc, argv, optbuf, sizeof optbuf));
			goto usage;
		default:
			if (spec->extra_fn(spec->userdata, c, optarg) != 0)
				goto usage;
			break;
		}
	}

	out->first_operand = optind;
	if (optind < argc && spec->operands == NULL) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", spec->prog, argv[optind]);
		goto usage;
	}
	goto done;

usage:
	rc = usage_error(spec);
done:
	free(longopts);
	free(shortopts);
	return rc;
}
