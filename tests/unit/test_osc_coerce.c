/*
 * cl_osc_coerce(): numbers, integers, toggles and strings from every OSC
 * type a controller may send, each with the value expected or a refusal.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cl_osc.h"
#include "cl_check.h"



/* Room for a string argument, aligned like lo_arg (liblo hands out
 * pointers into its own data the same way). */
union argbuf {
	lo_arg a;
	char s[64];
};

static lo_arg *arg_i(union argbuf *u, int32_t v) { u->a.i = v; return &u->a; }
static lo_arg *arg_h(union argbuf *u, int64_t v) { u->a.h = v; return &u->a; }
static lo_arg *arg_f(union argbuf *u, float v) { u->a.f = v; return &u->a; }
static lo_arg *arg_d(union argbuf *u, double v) { u->a.d = v; return &u->a; }
static lo_arg *arg_s(union argbuf *u, const char *v)
{
	snprintf(u->s, sizeof u->s, "%s", v);
	return &u->a;
}

/* Expect success with out->n == want (within 1e-12 relative). */
static void expect_number(char lo_type, lo_arg *arg, double want, const char *what)
{
	struct cl_osc_value v;
	const char *reason = NULL;
	int rc = cl_osc_coerce('n', lo_type, arg, &v, &reason);
	CHECK(rc == 0, "number from %s: refused (%s), expected %g", what,
	      reason ? reason : "?", want);
	if (rc == 0) {
		CHECK(v.type == 'n', "number from %s: type %c", what, v.type);
		CHECK(fabs(v.n - want) <= 1e-12 * fabs(want), "number from %s: got %.17g, expected %.17g",
		      what, v.n, want);
	}
}

static void expect_refused(char want, char lo_type, lo_arg *arg, const char *reason_want,
			   const char *what)
{
	struct cl_osc_value v;
	const char *reason = NULL;
	int rc = cl_osc_coerce(want, lo_type, arg, &v, &reason);
	CHECK(rc == -1, "'%c' from %s: accepted, expected refusal", want, what);
	if (rc == -1)
		CHECK(reason && strcmp(reason, reason_want) == 0,
		      "'%c' from %s: reason \"%s\", expected \"%s\"", want, what,
		      reason ? reason : "(null)", reason_want);
}

static void expect_integer(char lo_type, lo_arg *arg, int64_t want, const char *what)
{
	struct cl_osc_value v;
	const char *reason = NULL;
	int rc = cl_osc_coerce('i', lo_type, arg, &v, &reason);
	CHECK(rc == 0, "integer from %s: refused (%s)", what, reason ? reason : "?");
	if (rc == 0) {
		CHECK(v.i == want, "integer from %s: got %lld, expected %lld", what,
		      (long long)v.i, (long long)want);
		CHECK(v.n == (double)want, "integer from %s: n %.17g", what, v.n);
	}
}

static void expect_toggle(char lo_type, lo_arg *arg, bool want, const char *what)
{
	struct cl_osc_value v;
	const char *reason = NULL;
	int rc = cl_osc_coerce('b', lo_type, arg, &v, &reason);
	CHECK(rc == 0, "toggle from %s: refused (%s)", what, reason ? reason : "?");
	if (rc == 0) {
		CHECK(v.b == want, "toggle from %s: got %d, expected %d", what, v.b, want);
		CHECK(v.i == (want ? 1 : 0) && v.n == (want ? 1.0 : 0.0),
		      "toggle from %s: i %lld n %g", what, (long long)v.i, v.n);
	}
}

static void test_numbers(void)
{
	union argbuf u;
	expect_number('i', arg_i(&u, 7), 7, "i 7");
	expect_number('i', arg_i(&u, INT32_MIN), INT32_MIN, "i INT32_MIN");
	expect_number('h', arg_h(&u, INT64_C(1) << 40), 1099511627776.0, "h 2^40");
	expect_number('f', arg_f(&u, 1.5f), 1.5, "f 1.5");
	expect_number('f', arg_f(&u, -0.1f), (double)-0.1f, "f -0.1");
	expect_number('d', arg_d(&u, -2.25), -2.25, "d -2.25");
	expect_number('d', arg_d(&u, 1e300), 1e300, "d 1e300");
	expect_refused('n', 'f', arg_f(&u, NAN), "number is not finite", "f NaN");
	expect_refused('n', 'f', arg_f(&u, INFINITY), "number is not finite", "f +inf");
	expect_refused('n', 'd', arg_d(&u, -INFINITY), "number is not finite", "d -inf");
	expect_refused('n', 'd', arg_d(&u, NAN), "number is not finite", "d NaN");

	/* Numeric strings: the whole string, decimal, finite. */
	expect_number('s', arg_s(&u, "1.0"), 1.0, "s \"1.0\"");
	expect_number('s', arg_s(&u, " 2"), 2.0, "s \" 2\"");
	expect_number('s', arg_s(&u, "2 "), 2.0, "s \"2 \"");
	expect_number('s', arg_s(&u, "-0.5"), -0.5, "s \"-0.5\"");
	expect_number('s', arg_s(&u, "+3"), 3.0, "s \"+3\"");
	expect_number('s', arg_s(&u, "1e-3"), 0.001, "s \"1e-3\"");
	expect_number('s', arg_s(&u, ".25"), 0.25, "s \".25\"");
	expect_number('S', arg_s(&u, "12"), 12.0, "S \"12\"");
	expect_refused('n', 's', arg_s(&u, "abc"), "not a number", "s \"abc\"");
	expect_refused('n', 's', arg_s(&u, "nan"), "not a number", "s \"nan\"");
	expect_refused('n', 's', arg_s(&u, "NaN"), "not a number", "s \"NaN\"");
	expect_refused('n', 's', arg_s(&u, "inf"), "not a number", "s \"inf\"");
	expect_refused('n', 's', arg_s(&u, "-infinity"), "not a number", "s \"-infinity\"");
	expect_refused('n', 's', arg_s(&u, "1e400"), "number out of range", "s \"1e400\"");
	expect_refused('n', 's', arg_s(&u, "-1e400"), "number out of range", "s \"-1e400\"");
	expect_refused('n', 's', arg_s(&u, ""), "empty string is not a number", "s \"\"");
	expect_refused('n', 's', arg_s(&u, "   "), "empty string is not a number", "s \"   \"");
	expect_refused('n', 's', arg_s(&u, "1.5x"), "not a number", "s \"1.5x\"");
	expect_refused('n', 's', arg_s(&u, "0x10"), "not a number", "s \"0x10\"");
	expect_refused('n', 's', arg_s(&u, "1 2"), "not a number", "s \"1 2\"");
	expect_refused('n', 's', arg_s(&u, "."), "not a number", "s \".\"");
	expect_refused('n', 's', arg_s(&u, "1e"), "not a number", "s \"1e\"");
	expect_refused('n', 's', arg_s(&u, "--1"), "not a number", "s \"--1\"");

	/* Types that are not numbers. */
	expect_refused('n', 'T', NULL, "expected a number", "T");
	expect_refused('n', 'F', NULL, "expected a number", "F");
	expect_refused('n', 'N', NULL, "expected a number", "N");
	expect_refused('n', 'c', arg_i(&u, '1'), "expected a number", "c");
	expect_refused('n', 'b', arg_i(&u, 0), "expected a number", "b");
	expect_refused('n', 'i', NULL, "missing argument value", "i with a NULL arg");
}

static void test_integers(void)
{
	union argbuf u;
	expect_integer('i', arg_i(&u, -5), -5, "i -5");
	/* 2^53 + 1 is not a double: an int64 must stay exact. */
	expect_integer('h', arg_h(&u, INT64_C(9007199254740993)), INT64_C(9007199254740993),
		       "h 2^53+1");
	expect_integer('f', arg_f(&u, 3.0f), 3, "f 3.0");
	expect_integer('f', arg_f(&u, -0.0f), 0, "f -0.0");
	expect_integer('d', arg_d(&u, -9223372036854775808.0), INT64_MIN, "d -2^63");
	expect_integer('s', arg_s(&u, "42"), 42, "s \"42\"");
	expect_integer('s', arg_s(&u, " -7 "), -7, "s \" -7 \"");
	expect_integer('s', arg_s(&u, "9223372036854775807"), INT64_MAX, "s INT64_MAX");
	expect_integer('s', arg_s(&u, "4.0"), 4, "s \"4.0\"");
	expect_integer('s', arg_s(&u, "1e3"), 1000, "s \"1e3\"");
	expect_refused('i', 'f', arg_f(&u, 3.5f), "not an integer", "f 3.5");
	expect_refused('i', 'd', arg_d(&u, 1e19), "integer out of range", "d 1e19");
	expect_refused('i', 'd', arg_d(&u, 9223372036854775808.0), "integer out of range", "d 2^63");
	expect_refused('i', 'd', arg_d(&u, NAN), "number is not finite", "d NaN");
	expect_refused('i', 'f', arg_f(&u, INFINITY), "number is not finite", "f inf");
	expect_refused('i', 's', arg_s(&u, "9223372036854775808"), "integer out of range",
		       "s 2^63");
	expect_refused('i', 's', arg_s(&u, "4.5"), "not an integer", "s \"4.5\"");
	expect_refused('i', 's', arg_s(&u, "abc"), "not a number", "s \"abc\"");
	expect_refused('i', 's', arg_s(&u, ""), "empty string is not a number", "s \"\"");
	expect_refused('i', 's', arg_s(&u, "1e400"), "number out of range", "s \"1e400\"");
	expect_refused('i', 'T', NULL, "expected an integer", "T");
}

static void test_toggles(void)
{
	union argbuf u;
	expect_toggle('i', arg_i(&u, 0), false, "i 0");
	expect_toggle('i', arg_i(&u, 1), true, "i 1");
	expect_toggle('i', arg_i(&u, 2), true, "i 2");
	expect_toggle('i', arg_i(&u, -1), true, "i -1");
	expect_toggle('h', arg_h(&u, 0), false, "h 0");
	expect_toggle('f', arg_f(&u, 0.0f), false, "f 0.0");
	expect_toggle('f', arg_f(&u, 0.5f), true, "f 0.5");
	expect_toggle('f', arg_f(&u, 1.0f), true, "f 1.0");
	expect_toggle('d', arg_d(&u, 1.0), true, "d 1.0");
	expect_toggle('T', NULL, true, "T");
	expect_toggle('F', NULL, false, "F");
	expect_toggle('s', arg_s(&u, "on"), true, "s \"on\"");
	expect_toggle('s', arg_s(&u, "OFF"), false, "s \"OFF\"");
	expect_toggle('s', arg_s(&u, "true"), true, "s \"true\"");
	expect_toggle('s', arg_s(&u, "False"), false, "s \"False\"");
	expect_toggle('s', arg_s(&u, "1"), true, "s \"1\"");
	expect_toggle('s', arg_s(&u, "0"), false, "s \"0\"");
	expect_toggle('S', arg_s(&u, "On"), true, "S \"On\"");
	const char *bad_toggle = "expected a toggle (on/off/true/false/1/0)";
	expect_refused('b', 's', arg_s(&u, "2"), bad_toggle, "s \"2\"");
	expect_refused('b', 's', arg_s(&u, "maybe"), bad_toggle, "s \"maybe\"");
	expect_refused('b', 's', arg_s(&u, ""), bad_toggle, "s \"\"");
	expect_refused('b', 's', arg_s(&u, "onn"), bad_toggle, "s \"onn\"");
	expect_refused('b', 'f', arg_f(&u, NAN), "expected a toggle (on/off), got NaN", "f NaN");
	expect_refused('b', 'N', NULL, "expected a toggle (on/off)", "N");
	expect_refused('b', 'I', NULL, "expected a toggle (on/off)", "I");
}

static void test_strings(void)
{
	union argbuf u;
	struct cl_osc_value v;
	const char *reason = NULL;
	lo_arg *a = arg_s(&u, "hello");
	CHECK(cl_osc_coerce('s', 's', a, &v, &reason) == 0 && v.s == &a->s &&
	      strcmp(v.s, "hello") == 0, "string from s: %s", reason ? reason : "wrong value");
	a = arg_s(&u, "sym");
	CHECK(cl_osc_coerce('s', 'S', a, &v, &reason) == 0 && strcmp(v.s, "sym") == 0,
	      "string from S");
	expect_refused('s', 'i', arg_i(&u, 1), "expected a string", "i");
	expect_refused('s', 'f', arg_f(&u, 1), "expected a string", "f");
	expect_refused('s', 'T', NULL, "expected a string", "T");
	expect_refused('x', 'i', arg_i(&u, 1), "bad typespec letter", "want 'x'");
	/* A NULL reason pointer is allowed. */
	CHECK(cl_osc_coerce('n', 's', arg_s(&u, "x"), &v, NULL) == -1, "NULL reason");
}

int main(void)
{
	test_numbers();
	test_integers();
	test_toggles();
	test_strings();
	if (failures) {
		fprintf(stderr, "test_osc_coerce: %d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("test_osc_coerce: %d checks passed\n", checks);
	return 0;
}
