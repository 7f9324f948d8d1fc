/*
 * cl_doc parsing, schema checks and file loading: valid documents pass;
 * duplicate keys, nesting beyond 32, text over the size cap, non-object
 * roots, trailing garbage, invalid UTF-8 and truncated text are refused
 * with a message that says where; schema strings are checked, older
 * versions migrated step by step, unknown ones refused with the exact
 * messages users will see; file errors name the file and the reason.
 */
#include "cl_doc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cl_check.h"



static char err[512];

static json_t *parse(const char *text)
{
	err[0] = '\0';
	return cl_doc_parse(text, strlen(text), err, sizeof err);
}

static void expect_refused(const char *text, const char *want_in_err, const char *what)
{
	json_t *doc = parse(text);
	CHECK(doc == NULL, "%s: accepted", what);
	CHECK(strstr(err, want_in_err) != NULL, "%s: error \"%s\" lacks \"%s\"", what, err,
	      want_in_err);
	json_decref(doc);
}

/* {"a": [[[...]]]} with `depth` levels in all (the object is one). */
static char *nested(int depth)
{
	char *s = malloc((size_t)depth * 2 + 16);
	strcpy(s, "{\"a\": ");
	size_t n = strlen(s);
	for (int i = 1; i < depth; i++)
		s[n++] = '[';
	for (int i = 1; i < depth; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n] = '\0';
	return s;
}

static void test_parse(void)
{
	json_t *doc = parse("{\"schema\": \"cl-x/1\", \"bpm\": 120.5, \"tags\": [\"a\", \"b\"],"
			    " \"nested\": {\"k\": null}}");
	CHECK(doc != NULL, "valid document refused: %s", err);
	CHECK(doc && json_real_value(json_object_get(doc, "bpm")) == 120.5, "bpm read back");
	CHECK(doc && json_array_size(json_object_get(doc, "tags")) == 2, "tags read back");
	json_decref(doc);

	/* Not NUL-terminated: only len bytes are read. */
	const char buf[] = { '{', '}', 'x', 'x' };
	doc = cl_doc_parse(buf, 2, err, sizeof err);
	CHECK(doc != NULL && json_object_size(doc) == 0, "length respected: %s", err);
	json_decref(doc);

	doc = parse("  \n{}\n\n");
	CHECK(doc != NULL, "whitespace around the root is fine: %s", err);
	json_decref(doc);

	expect_refused("{\"a\": 1, \"a\": 2}", "duplicate", "duplicate key");
	expect_refused("{\"a\": 1, \"a\": 2}", "invalid JSON at line 1, column", "duplicate key place");
	expect_refused("{\"o\": {\"x\": 1, \"x\": 1}}", "duplicate", "nested duplicate key");

	char *deep = nested(33);
	expect_refused(deep, "nested deeper than 32 levels at line 1, column 38", "depth 33");
	free(deep);
	deep = nested(32);
	doc = parse(deep);
	CHECK(doc != NULL, "depth 32 accepted: %s", err);
	json_decref(doc);
	free(deep);
	/* Mixed objects and arrays count alike. */
	char mixed[512] = "";
	for (int i = 0; i < 33; i++)
		strcat(mixed, i % 2 ? "[" : "{\"k\":");
	expect_refused(mixed, "nested deeper than 32", "33 mixed levels");

	/* Brackets inside strings (and after escaped quotes) do not count. */
	char str[256] = "{\"s\": \"\\\"";
	for (int i = 0; i < 60; i++)
		strcat(str, "[{");
	strcat(str, "\\\\\", \"t\": \"]]]\"}");
	doc = parse(str);
	CHECK(doc != NULL, "brackets inside strings ignored: %s (%s)", err, str);
	json_decref(doc);

	expect_refused("[1, 2]", "the document is an array, not a JSON object", "array root");
	expect_refused("\"x\"", "the document is a string, not a JSON object", "string root");
	expect_refused("3", "not a JSON object", "number root");
	expect_refused("{} x", "invalid JSON at line 1, column", "trailing garbage");
	expect_refused("{}{}", "invalid JSON", "two roots");
	expect_refused("{\"a\": \"\xff\xfe\"}", "invalid JSON at line 1", "invalid UTF-8");
	expect_refused("{\"a\": \"\xc3\"}", "invalid JSON", "truncated UTF-8 sequence");
	expect_refused("{\"a\": [1, 2", "invalid JSON at line 1", "truncated");
	expect_refused("", "invalid JSON", "empty text");
	expect_refused("{\n  \"a\": 1,\n  \"b\": }", "invalid JSON at line 3", "line number");

	/* Size cap: exactly the cap passes, one byte more is refused unread. */
	size_t cap = CL_DOC_MAX_BYTES;
	char *big = malloc(cap + 2);
	memcpy(big, "{\"a\":\"", 6);
	memset(big + 6, 'x', cap - 8);
	memcpy(big + cap - 2, "\"}", 2);
	doc = cl_doc_parse(big, cap, err, sizeof err);
	CHECK(doc != NULL, "a document of exactly the cap is accepted: %s", err);
	json_decref(doc);
	memcpy(big + 6, "xx", 2);
	memcpy(big + cap - 1, "\"}", 2);
	doc = cl_doc_parse(big, cap + 1, err, sizeof err);
	CHECK(doc == NULL && strcmp(err, "document is 8.1 MB, more than the 8 MB cap") == 0,
	      "cap + 1 refused: \"%s\"", err);
	json_decref(doc);
	free(big);
}

/* A test schema: cl-x/3. 1 -> 2 renames "gain" to "volume" by building a
 * new document; 2 -> 3 adds "pan" in place and fails on a string volume. */
static int migrate_calls[8];

static int migrate_x(json_t **doc, int from, char *why, size_t whylen)
{
	if (from >= 0 && from < 8)
		migrate_calls[from]++;
	if (from == 1) {
		json_t *next = json_deep_copy(*doc);
		json_t *gain = json_object_get(next, "gain");
		json_object_set(next, "volume", gain ? gain : json_real(0.0));
		json_object_del(next, "gain");
		json_decref(*doc);
		*doc = next;
		return 0;
	}
	if (from == 2) {
		if (json_is_string(json_object_get(*doc, "volume"))) {
			snprintf(why, whylen, "volume is a string");
			return -1;
		}
		json_object_set_new(*doc, "pan", json_real(0.0));
		return 0;
	}
	snprintf(why, whylen, "no step from %d", from);
	return -1;
}

static const struct cl_schema schema_x = { "cl-x", 3, 1, migrate_x };

static int check(const char *text, const struct cl_schema *s, json_t **out)
{
	json_t *doc = parse(text);
	if (doc == NULL) {
		CHECK(0, "test document refused: %s (%s)", err, text);
		return -2;
	}
	err[0] = '\0';
	int rc = cl_doc_check_schema(&doc, s, err, sizeof err);
	if (out)
		*out = doc;
	else
		json_decref(doc);
	return rc;
}

static void expect_schema_error(const char *text, const char *want, const char *what)
{
	int rc = check(text, &schema_x, NULL);
	CHECK(rc == -1, "%s: accepted", what);
	CHECK(strcmp(err, want) == 0, "%s: error \"%s\", want \"%s\"", what, err, want);
}

static void test_schema(void)
{
	char buf[64];
	CHECK(strcmp(cl_doc_schema_string(&schema_x, buf, sizeof buf), "cl-x/3") == 0,
	      "schema string");

	json_t *doc;
	int rc = check("{\"schema\": \"cl-x/3\", \"volume\": -6}", &schema_x, &doc);
	CHECK(rc == 0, "current version accepted: %s", err);
	CHECK(json_object_size(doc) == 2, "current version left alone");
	json_decref(doc);

	expect_schema_error("{\"volume\": 1}", "no \"schema\" field (want \"cl-x/3\")",
			    "missing schema");
	expect_schema_error("{\"schema\": 3}",
			    "\"schema\" is an integer, not a string (want \"cl-x/3\")",
			    "schema not a string");
	expect_schema_error("{\"schema\": null}",
			    "\"schema\" is null, not a string (want \"cl-x/3\")", "schema null");
	const char *malformed[] = { "cl-x", "cl-x/", "/3", "cl-x/0", "cl-x/-1", "cl-x/3a",
				    "cl-x/+3", "cl-x/99999999999", "" };
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		char text[128], want[160];
		snprintf(text, sizeof text, "{\"schema\": \"%s\"}", malformed[i]);
		snprintf(want, sizeof want, "schema \"%s\" is not of the form kind/version "
			 "(want \"cl-x/3\")", malformed[i]);
		expect_schema_error(text, want, malformed[i]);
	}
	expect_schema_error("{\"schema\": \"cl-y/1\"}", "not a cl-x document (schema cl-y/1)",
			    "wrong kind");
	expect_schema_error("{\"schema\": \"cl-xx/3\"}", "not a cl-x document (schema cl-xx/3)",
			    "kind with a common prefix");
	expect_schema_error("{\"schema\": \"cl-x/4\"}",
			    "schema cl-x/4 is newer than this program understands (cl-x/3)",
			    "newer version");

	/* Two migration steps, 1 -> 2 -> 3. */
	memset(migrate_calls, 0, sizeof migrate_calls);
	rc = check("{\"schema\": \"cl-x/1\", \"gain\": -3.5, \"name\": \"kick\"}", &schema_x, &doc);
	CHECK(rc == 0, "cl-x/1 migrated: %s", err);
	CHECK(migrate_calls[1] == 1 && migrate_calls[2] == 1 && migrate_calls[3] == 0,
	      "steps 1 and 2 ran once each (%d %d %d)", migrate_calls[1], migrate_calls[2],
	      migrate_calls[3]);
	CHECK(doc && strcmp(json_string_value(json_object_get(doc, "schema")), "cl-x/3") == 0,
	      "schema rewritten to cl-x/3");
	CHECK(doc && json_real_value(json_object_get(doc, "volume")) == -3.5 &&
	      json_object_get(doc, "gain") == NULL, "step 1 renamed gain to volume");
	CHECK(doc && json_is_real(json_object_get(doc, "pan")), "step 2 added pan");
	CHECK(doc && strcmp(json_string_value(json_object_get(doc, "name")), "kick") == 0,
	      "other fields kept");
	json_decref(doc);

	memset(migrate_calls, 0, sizeof migrate_calls);
	rc = check("{\"schema\": \"cl-x/2\", \"volume\": 1}", &schema_x, &doc);
	CHECK(rc == 0 && migrate_calls[1] == 0 && migrate_calls[2] == 1,
	      "cl-x/2 takes one step only");
	json_decref(doc);

	expect_schema_error("{\"schema\": \"cl-x/2\", \"volume\": \"loud\"}",
			    "cannot migrate cl-x/2 to cl-x/3: volume is a string",
			    "failing migration");

	struct cl_schema oldest2 = { "cl-x", 3, 2, migrate_x };
	rc = check("{\"schema\": \"cl-x/1\"}", &oldest2, NULL);
	CHECK(rc == -1 && strcmp(err, "schema cl-x/1 is older than this program can read "
				      "(oldest cl-x/2, current cl-x/3)") == 0,
	      "older than oldest: \"%s\"", err);

	struct cl_schema nomigrate = { "cl-y", 2, 0, NULL };
	rc = check("{\"schema\": \"cl-y/1\"}", &nomigrate, NULL);
	CHECK(rc == -1 && strcmp(err, "schema cl-y/1 is older than this program can read "
				      "(oldest cl-y/2, current cl-y/2)") == 0,
	      "no migrate function: older refused: \"%s\"", err);
}

static char dir[] = "/tmp/test-doc-XXXXXX";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void test_files(void)
{
	char path[256], want[512];
	json_t *doc;

	snprintf(path, sizeof path, "%s/good.json", dir);
	write_file(path, "{\"schema\": \"cl-x/3\", \"volume\": 2}\n");
	doc = cl_doc_load_file(path, err, sizeof err);
	CHECK(doc && json_integer_value(json_object_get(doc, "volume")) == 2,
	      "load a good file: %s", err);
	json_decref(doc);
	doc = cl_doc_load(path, &schema_x, err, sizeof err);
	CHECK(doc != NULL, "cl_doc_load of a good file: %s", err);
	json_decref(doc);

	snprintf(path, sizeof path, "%s/nope.json", dir);
	doc = cl_doc_load_file(path, err, sizeof err);
	snprintf(want, sizeof want, "cannot open %s: No such file or directory", path);
	CHECK(doc == NULL && strcmp(err, want) == 0, "missing file: \"%s\"", err);

	doc = cl_doc_load_file(dir, err, sizeof err);
	snprintf(want, sizeof want, "%s is a directory, not a document", dir);
	CHECK(doc == NULL && strcmp(err, want) == 0, "directory: \"%s\"", err);

	snprintf(path, sizeof path, "%s/fifo", dir);
	if (mkfifo(path, 0600) == 0) {
		doc = cl_doc_load_file(path, err, sizeof err);
		snprintf(want, sizeof want, "%s is not a regular file", path);
		CHECK(doc == NULL && strcmp(err, want) == 0, "fifo (no hang): \"%s\"", err);
	} else {
		CHECK(0, "mkfifo %s: %s", path, strerror(errno));
	}

	snprintf(path, sizeof path, "%s/big.json", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 9 * 1024 * 1024) == 0, "make a 9 MB file");
	close(fd);
	doc = cl_doc_load_file(path, err, sizeof err);
	snprintf(want, sizeof want, "%s is 9 MB, more than the 8 MB cap", path);
	CHECK(doc == NULL && strcmp(err, want) == 0, "over-size file: \"%s\"", err);

	snprintf(path, sizeof path, "%s/bad.json", dir);
	write_file(path, "{\n  \"a\": 1,\n  \"a\": 2\n}\n");
	doc = cl_doc_load_file(path, err, sizeof err);
	snprintf(want, sizeof want, "%s: invalid JSON at line 3", path);
	CHECK(doc == NULL && strncmp(err, want, strlen(want)) == 0 &&
	      strstr(err, "duplicate") != NULL, "bad file names itself: \"%s\"", err);

	snprintf(path, sizeof path, "%s/new.json", dir);
	write_file(path, "{\"schema\": \"cl-x/7\"}");
	doc = cl_doc_load(path, &schema_x, err, sizeof err);
	snprintf(want, sizeof want,
		 "%s: schema cl-x/7 is newer than this program understands (cl-x/3)", path);
	CHECK(doc == NULL && strcmp(err, want) == 0, "cl_doc_load schema error: \"%s\"", err);

	snprintf(path, sizeof path, "%s/old.json", dir);
	write_file(path, "{\"schema\": \"cl-x/1\", \"gain\": 1.5}");
	doc = cl_doc_load(path, &schema_x, err, sizeof err);
	CHECK(doc && json_real_value(json_object_get(doc, "volume")) == 1.5 &&
	      strcmp(json_string_value(json_object_get(doc, "schema")), "cl-x/3") == 0,
	      "cl_doc_load migrates: %s", err);
	json_decref(doc);
}

static void remove_dir(void)
{
	const char *names[] = { "good.json", "fifo", "big.json", "bad.json", "new.json",
				"old.json" };
	char path[256];
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("test-doc: mkdtemp");
		return 1;
	}
	test_parse();
	test_schema();
	test_files();
	remove_dir();
	if (failures) {
		fprintf(stderr, "test-doc: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test-doc: parsing caps, schema checks and migration, file errors: "
	       "all checks passed\n");
	return 0;
}
