/*
 * The check macro of the C tests: every CHECK counts, a failed one prints
 * where and what, and the test's exit status comes from `failures`.
 *
 * Before including, a test may define CHECK_REPORT (the FILE * failures go
 * to; stderr by default) and CHECK_VERBOSE (also print "ok: ..." lines on
 * stdout, for tests whose narrative helps when they fail in CI).
 */
#ifndef CL_TEST_CHECK_H
#define CL_TEST_CHECK_H

#include <stdio.h>

#ifndef CHECK_REPORT
#define CHECK_REPORT stderr
#endif
#ifndef CHECK_VERBOSE
#define CHECK_VERBOSE 0
#endif

static int failures;
static int checks;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		checks++;                                                       \
		if (cond) {                                                     \
			if (CHECK_VERBOSE) {                                    \
				printf("ok: ");                                 \
				printf(__VA_ARGS__);                            \
				printf("\n");                                   \
				fflush(stdout);                                 \
			}                                                       \
		} else {                                                        \
			failures++;                                             \
			fprintf(CHECK_REPORT, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(CHECK_REPORT, __VA_ARGS__);                     \
			fputc('\n', CHECK_REPORT);                              \
			fflush(CHECK_REPORT);                                   \
		}                                                               \
	} while (0)

#endif
