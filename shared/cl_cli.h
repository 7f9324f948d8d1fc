/*
 * Common command line of every CoreLogic program (DESIGN.md, "Shared
 * conventions"): --name, --server, --osc-port, --osc-bind, --store,
 * --state, --osc-doc, -v, --help, --version. A program adds its own long
 * options through cl_cli_spec.extra and handles them in extra_fn.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage.
 */
#ifndef CL_CLI_H
#define CL_CLI_H

#include <stdbool.h>
#include <getopt.h>

enum { CL_EXIT_OK = 0, CL_EXIT_FAILURE = 1, CL_EXIT_USAGE = 2 };

struct cl_options {
	const char *name;      /* JACK client name; default the program name */
	const char *server;    /* JACK server name or NULL for the default */
	int osc_port;          /* 0 = an ephemeral port (printed at start) */
	const char *osc_bind;  /* default "127.0.0.1" */
	const char *store;     /* store root or NULL */
	const char *state;     /* state file or NULL */
	int verbose;           /* count of -v */
	bool osc_doc;          /* print the OSC method table and exit */
	int first_operand;     /* argv index of the first operand (argc if none);
				  getopt moves operands after the options */
};

/* One extra option: getopt_long's record (its .val must be >= 1000 or a
 * letter the common set does not use: n s p b S t v h V), the name of its
 * argument for --help (NULL if it takes none), and one line of help. */
struct cl_cli_option {
	struct option opt;
	const char *arg_name;
	const char *help;
};

/* Handle one extra option; return 0, or -1 after printing why it is bad. */
typedef int (*cl_cli_extra_fn)(void *userdata, int val, const char *arg);

struct cl_cli_spec {
	const char *prog;            /* "cl-transport" */
	const char *summary;         /* one line for --help */
	int default_osc_port;        /* 7770 */
	const struct cl_cli_option *extra; /* terminated by opt.name == NULL; may be NULL */
	cl_cli_extra_fn extra_fn;
	void *userdata;
	const char *operands;        /* operands for --help ("IN OUT"); NULL:
					any operand is a usage error */
};

/* Parse argv into *out (defaults filled in first). Returns -1 to go on,
 * or an exit code: CL_EXIT_OK after --help/--version (printed on stdout),
 * CL_EXIT_USAGE after printing what was wrong on stderr ("prog: unknown
 * option '--foo'", "prog: option '--osc-port' needs an argument",
 * "prog: bad --osc-port '70000': want a port number 0..65535 (0 = any free
 * port)", "prog: --name must not be empty", "prog: unexpected argument
 * 'x'") followed by "Try 'prog --help'.". String options must not be
 * empty. CL_EXIT_FAILURE when spec->extra itself is wrong (a programmer
 * error: a val the common set uses, a common name, no extra_fn). Resets
 * getopt (optind = 0), so it may be called more than once. */
int cl_cli_parse(int argc, char **argv, const struct cl_cli_spec *spec,
		 struct cl_options *out);

/* Parse a whole decimal number in [min, max]; 0 on success. */
int cl_cli_parse_int(const char *s, long min, long max, long *out);
/* Parse a finite number in [min, max]; 0 on success. */
int cl_cli_parse_double(const char *s, double min, double max, double *out);

#endif
