/*
 * cl_osc_check_frame(): every malformed shape is refused with the reason
 * that names it, every well-formed message and bundle passes, including
 * what liblo itself builds for every type it knows, and the two inputs on
 * which liblo 0.31 reads past the buffer are refused.
 *
 * Datagrams are built byte by byte with a tiny builder so that each test
 * says exactly which bytes are wrong.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lo/lo.h>
#include <lo/lo_lowlevel.h>

#include "cl_osc.h"
#include "cl_check.h"



/* A datagram under construction. */
struct dgram {
	unsigned char b[CL_OSC_MAX_DATAGRAM + 64];
	size_t n;
};

static void put_bytes(struct dgram *d, const void *p, size_t n)
{
	memcpy(d->b + d->n, p, n);
	d->n += n;
}

/* A string, NUL-terminated and NUL-padded to 4. */
static void put_str(struct dgram *d, const char *s)
{
	size_t len = strlen(s) + 1;
	put_bytes(d, s, len);
	while (len++ % 4)
		d->b[d->n++] = 0;
}

static void put_i32(struct dgram *d, int32_t v)
{
	uint32_t u = (uint32_t)v;
	unsigned char be[4] = { u >> 24, u >> 16, u >> 8, u };
	put_bytes(d, be, 4);
}

static void put_zero(struct dgram *d, size_t n)
{
	memset(d->b + d->n, 0, n);
	d->n += n;
}

static void reset(struct dgram *d)
{
	d->n = 0;
}

/* Bundle header with an "immediately" time tag. */
static void put_bundle_head(struct dgram *d)
{
	put_bytes(d, "#bundle", 8);
	put_i32(d, 0);
	put_i32(d, 1);
}

static void expect_refused(const struct dgram *d, const char *want, const char *what)
{
	const char *reason = NULL;
	int rc = cl_osc_check_frame(d->b, d->n, &reason);
	CHECK(rc == -1, "%s: accepted, expected refusal \"%s\"", what, want);
	if (rc == -1)
		CHECK(reason && strcmp(reason, want) == 0,
		      "%s: reason \"%s\", expected \"%s\"", what, reason ? reason : "(null)", want);
}

static void expect_accepted(const void *buf, size_t len, const char *what)
{
	const char *reason = NULL;
	int rc = cl_osc_check_frame(buf, len, &reason);
	CHECK(rc == 0, "%s: refused (%s), expected accepted", what, reason ? reason : "?");
}

/* A message "/a" with type tags tags and raw argument bytes appended by
 * the caller. */
static void start_msg(struct dgram *d, const char *tags)
{
	reset(d);
	put_str(d, "/a");
	put_str(d, tags);
}

static void test_top_level(void)
{
	static struct dgram d;
	reset(&d);
	expect_refused(&d, "empty datagram", "zero length");
	{
		const char *reason = NULL;
		CHECK(cl_osc_check_frame(NULL, 8, &reason) == -1, "NULL buffer accepted");
	}

	start_msg(&d, ",");
	d.n = 5;
	expect_refused(&d, "length not a multiple of 4", "length 5");
	d.n = 7;
	expect_refused(&d, "length not a multiple of 4", "length 7");

	/* Exactly the cap passes, one word more does not. */
	reset(&d);
	put_str(&d, "/big");
	put_str(&d, ",b");
	size_t blob = CL_OSC_MAX_DATAGRAM - d.n - 4;
	put_i32(&d, (int32_t)blob);
	put_zero(&d, blob);
	CHECK(d.n == CL_OSC_MAX_DATAGRAM, "builder: %zu", d.n);
	expect_accepted(d.b, d.n, "message of exactly CL_OSC_MAX_DATAGRAM bytes");
	reset(&d);
	put_str(&d, "/big");
	put_str(&d, ",b");
	put_i32(&d, (int32_t)(blob + 4));
	put_zero(&d, blob + 4);
	expect_refused(&d, "datagram too large", "message of CL_OSC_MAX_DATAGRAM + 4 bytes");

	/* A NULL reason pointer is allowed. */
	CHECK(cl_osc_check_frame(d.b, 4, NULL) == -1, "NULL reason pointer");
}

static void test_address_and_tags(void)
{
	static struct dgram d;

	reset(&d);
	put_str(&d, "abc");
	put_str(&d, ",");
	expect_refused(&d, "address does not start with '/'", "address without /");

	reset(&d);
	put_bytes(&d, "/abcdefg", 8);
	expect_refused(&d, "address not terminated", "address fills the datagram");

	reset(&d);
	put_bytes(&d, "/abcdefg", 8);
	put_bytes(&d, ",\0\0\0", 4);
	/* The address runs into the type tags and ends at their NUL: it
	 * is then missing its own type tags. */
	expect_refused(&d, "missing type tags", "address swallowing the type tags");

	reset(&d);
	put_bytes(&d, "/a\0X", 4);
	put_str(&d, ",");
	expect_refused(&d, "address padding not zero", "address padding X");

	reset(&d);
	put_str(&d, "/a");
	expect_refused(&d, "missing type tags", "no type tag string");

	reset(&d);
	put_str(&d, "/a");
	put_str(&d, "i");
	put_i32(&d, 1);
	expect_refused(&d, "type tags do not start with ','", "type tags without comma");

	reset(&d);
	put_str(&d, "/a");
	put_bytes(&d, ",iii", 4);
	expect_refused(&d, "type tags not terminated", "type tags fill the datagram");

	reset(&d);
	put_str(&d, "/a");
	put_bytes(&d, ",i\0X", 4);
	put_i32(&d, 1);
	expect_refused(&d, "type tag padding not zero", "type tag padding X");

	start_msg(&d, ",x");
	put_i32(&d, 1);
	expect_refused(&d, "unknown type tag", "tag x");
	start_msg(&d, ",i\x01");
	put_i32(&d, 1);
	expect_refused(&d, "unknown type tag", "tag \\x01");
	start_msg(&d, ",[i]");
	put_i32(&d, 1);
	expect_refused(&d, "arrays not supported", "array [i]");
	start_msg(&d, ",[]");
	expect_refused(&d, "arrays not supported", "empty array");
	start_msg(&d, ",]");
	expect_refused(&d, "arrays not supported", "lone ]");
}

static void test_arguments(void)
{
	static struct dgram d;
	/* Fixed-size arguments one word short. */
	static const struct { const char *tags; size_t have; } shorts[] = {
		{ ",i", 0 }, { ",f", 0 }, { ",c", 0 }, { ",r", 0 }, { ",m", 0 },
		{ ",h", 4 }, { ",d", 4 }, { ",t", 4 }, { ",h", 0 },
		{ ",ii", 4 }, { ",id", 8 }, { ",Ti", 0 },
	};
	for (size_t k = 0; k < sizeof shorts / sizeof shorts[0]; k++) {
		char what[64];
		snprintf(what, sizeof what, "%s with %zu argument bytes", shorts[k].tags,
			 shorts[k].have);
		start_msg(&d, shorts[k].tags);
		put_zero(&d, shorts[k].have);
		expect_refused(&d, "argument overruns datagram", what);
	}

	/* Strings. */
	start_msg(&d, ",s");
	expect_refused(&d, "string argument overruns datagram", "s with no bytes");
	start_msg(&d, ",s");
	put_bytes(&d, "abcd", 4);
	expect_refused(&d, "string argument not terminated", "s unterminated");
	start_msg(&d, ",S");
	put_bytes(&d, "abcdefgh", 8);
	expect_refused(&d, "string argument not terminated", "S unterminated");
	start_msg(&d, ",s");
	put_bytes(&d, "ab\0X", 4);
	expect_refused(&d, "string argument padding not zero", "s padding X");
	start_msg(&d, ",si");
	put_str(&d, "abc");
	expect_refused(&d, "argument overruns datagram", "si missing the int");

	/* Blobs: liblo 0.31 reads the size word even when it is not there. */
	start_msg(&d, ",b");
	expect_refused(&d, "blob size overruns datagram", "b with no size word (liblo over-read)");
	start_msg(&d, ",ib");
	put_i32(&d, 7);
	expect_refused(&d, "blob size overruns datagram", "ib, size word cut off (liblo over-read)");
	start_msg(&d, ",b");
	put_i32(&d, -1);
	expect_refused(&d, "negative blob size", "b size -1");
	start_msg(&d, ",b");
	put_i32(&d, INT32_MIN);
	expect_refused(&d, "negative blob size", "b size INT32_MIN");
	start_msg(&d, ",b");
	put_i32(&d, 8);
	put_zero(&d, 4);
	expect_refused(&d, "blob overruns datagram", "b size 8 with 4 data bytes");
	start_msg(&d, ",b");
	put_i32(&d, 5);
	put_zero(&d, 4);
	expect_refused(&d, "blob overruns datagram", "b size 5 with 4 data bytes");
	start_msg(&d, ",b");
	put_i32(&d, INT32_MAX);
	put_zero(&d, 8);
	expect_refused(&d, "blob overruns datagram", "b size INT32_MAX");
	start_msg(&d, ",b");
	put_i32(&d, 1);
	put_bytes(&d, "a\0X\0", 4);
	expect_refused(&d, "blob padding not zero", "b padding X");

	/* Trailing bytes. */
	start_msg(&d, ",");
	put_zero(&d, 4);
	expect_refused(&d, "trailing bytes after arguments", "no arguments, 4 extra bytes");
	start_msg(&d, ",i");
	put_i32(&d, 1);
	put_i32(&d, 2);
	expect_refused(&d, "trailing bytes after arguments", "i with 4 extra bytes");
	start_msg(&d, ",TFNI");
	put_zero(&d, 4);
	expect_refused(&d, "trailing bytes after arguments", "TFNI with 4 extra bytes");
	start_msg(&d, ",b");
	put_i32(&d, 0);
	put_zero(&d, 4);
	expect_refused(&d, "trailing bytes after arguments", "empty blob with 4 extra bytes");

	/* Well-formed hand-built ones, including 'r' which liblo 0.31 cannot
	 * decode but which is valid OSC 1.0 framing. */
	start_msg(&d, ",r");
	put_i32(&d, 0x11223344);
	expect_accepted(d.b, d.n, ",r");
	start_msg(&d, ",b");
	put_i32(&d, 0);
	expect_accepted(d.b, d.n, "empty blob");
	start_msg(&d, ",s");
	put_str(&d, "");
	expect_accepted(d.b, d.n, "empty string");
	start_msg(&d, ",");
	expect_accepted(d.b, d.n, "no arguments");
	reset(&d);
	put_str(&d, "/");
	put_str(&d, ",");
	expect_accepted(d.b, d.n, "address \"/\"");
}

/* A small valid message "/m ,i 1" appended as a bundle element. */
static void put_element_msg(struct dgram *d)
{
	put_i32(d, 12);
	put_str(d, "/m");
	put_str(d, ",i");
	put_i32(d, 1);
}

static void test_bundles(void)
{
	static struct dgram d;

	reset(&d);
	put_bytes(&d, "#bundle", 8);
	expect_refused(&d, "bundle time tag missing", "bundle header only");
	reset(&d);
	put_bytes(&d, "#bundle", 8);
	put_i32(&d, 0);
	expect_refused(&d, "bundle time tag missing", "bundle with half a time tag");

	reset(&d);
	put_bundle_head(&d);
	expect_accepted(d.b, d.n, "empty bundle");

	/* liblo 0.31 strcmp()s past the end on this one. */
	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, 0);
	expect_refused(&d, "empty bundle element", "zero-size element at the end (liblo over-read)");
	reset(&d);
	put_bundle_head(&d);
	put_element_msg(&d);
	put_i32(&d, 0);
	expect_refused(&d, "empty bundle element", "valid element then zero-size element");

	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, -4);
	put_zero(&d, 4);
	expect_refused(&d, "negative bundle element size", "element size -4");

	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, 6);
	put_str(&d, "/m");
	put_str(&d, ",");
	expect_refused(&d, "bundle element size not a multiple of 4", "element size 6");

	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, 16);
	put_str(&d, "/m");
	put_str(&d, ",");
	expect_refused(&d, "bundle element overruns datagram", "element size 16 with 8 bytes");

	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, INT32_MAX - 3);
	put_str(&d, "/m");
	put_str(&d, ",");
	expect_refused(&d, "bundle element overruns datagram", "element size near INT32_MAX");

	reset(&d);
	put_bundle_head(&d);
	put_element_msg(&d);
	put_i32(&d, 4);
	expect_refused(&d, "bundle element overruns datagram", "trailing size word with no element");

	/* Elements that are themselves malformed. */
	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, 8);
	put_bytes(&d, "/abcdefg", 8);
	expect_refused(&d, "address not terminated", "element address unterminated");
	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, 8);
	put_str(&d, "/m");
	put_str(&d, ",b");
	expect_refused(&d, "blob size overruns datagram", "element blob size outside the element");
	/* The blob's size word lies in the next element: the element bound,
	 * not the datagram, must stop the read. */
	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, 8);
	put_str(&d, "/m");
	put_str(&d, ",i");
	put_element_msg(&d);
	expect_refused(&d, "argument overruns datagram", "element int in the next element");
	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, 8);
	put_bytes(&d, "#bundleX", 8);
	expect_refused(&d, "address does not start with '/'", "element starting #bundleX");
	reset(&d);
	put_bundle_head(&d);
	put_i32(&d, 8);
	put_bytes(&d, "#bundle", 8);
	expect_refused(&d, "bundle time tag missing", "nested bundle of 8 bytes");
	reset(&d);
	put_bytes(&d, "#bundleX", 8);
	put_zero(&d, 8);
	expect_refused(&d, "address does not start with '/'", "top level #bundleX");

	/* Two messages and a nested bundle. */
	reset(&d);
	put_bundle_head(&d);
	put_element_msg(&d);
	put_element_msg(&d);
	put_i32(&d, 16 + 16);
	put_bundle_head(&d);
	put_element_msg(&d);
	expect_accepted(d.b, d.n, "bundle with two messages and a nested bundle");
	size_t good = d.n;
	/* Cutting it at any word boundary inside an element is refused. */
	for (size_t cut = 20; cut < good; cut += 4) {
		if (cut == 16 + 16 || cut == 16 + 32)
			continue; /* element boundaries: a shorter valid bundle */
		d.n = cut;
		const char *reason;
		CHECK(cl_osc_check_frame(d.b, d.n, &reason) == -1,
		      "bundle cut to %zu bytes accepted", cut);
	}

	/* Nesting: CL_OSC_MAX_BUNDLE_DEPTH levels pass, one more does not. */
	for (int depth = 1; depth <= CL_OSC_MAX_BUNDLE_DEPTH + 1; depth++) {
		reset(&d);
		for (int k = 0; k < depth; k++) {
			put_bundle_head(&d);
			/* Size of what follows: (depth-1-k) more heads and
			 * size words, then the message element. */
			if (k < depth - 1)
				put_i32(&d, (int32_t)((size_t)(depth - 1 - k) * 20 - 4 + 16));
		}
		put_element_msg(&d);
		const char *reason = NULL;
		int rc = cl_osc_check_frame(d.b, d.n, &reason);
		if (depth <= CL_OSC_MAX_BUNDLE_DEPTH)
			CHECK(rc == 0, "bundle depth %d refused: %s", depth, reason);
		else
			CHECK(rc == -1 && strcmp(reason, "bundles nested too deep") == 0,
			      "bundle depth %d: rc %d reason %s", depth, rc, reason ? reason : "-");
	}
}

/* Every message liblo builds passes, liblo decodes what passes, and every
 * shorter word-aligned prefix of it is refused. */
static void check_liblo_message(lo_message m, const char *path, const char *what)
{
	size_t len = 0;
	void *buf = lo_message_serialise(m, path, NULL, &len);
	expect_accepted(buf, len, what);
	int result = 0;
	lo_message back = lo_message_deserialise(buf, len, &result);
	CHECK(back != NULL, "%s: liblo cannot decode what passed (%d)", what, result);
	if (back) {
		CHECK(lo_message_get_argc(back) == lo_message_get_argc(m),
		      "%s: argc %d != %d", what, lo_message_get_argc(back),
		      lo_message_get_argc(m));
		lo_message_free(back);
	}
	for (size_t cut = 0; cut < len; cut += 4) {
		const char *reason;
		CHECK(cl_osc_check_frame(buf, cut, &reason) == -1,
		      "%s: prefix of %zu/%zu bytes accepted", what, cut, len);
	}
	free(buf);
}

static void test_liblo_built(void)
{
	uint8_t midi[4] = { 0x90, 60, 100, 0 };
	lo_timetag tt = { 12345, 678 };
	unsigned char blobdata[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

	/* One message per type. */
	struct { char type; const char *name; } types[] = {
		{ 'i', "int32" }, { 'f', "float" }, { 's', "string" }, { 'b', "blob" },
		{ 'h', "int64" }, { 't', "timetag" }, { 'd', "double" }, { 'S', "symbol" },
		{ 'c', "char" }, { 'm', "midi" }, { 'T', "true" }, { 'F', "false" },
		{ 'N', "nil" }, { 'I', "infinitum" },
	};
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
		lo_message m = lo_message_new();
		lo_blob b = NULL;
		switch (types[k].type) {
		case 'i': lo_message_add_int32(m, -7); break;
		case 'f': lo_message_add_float(m, 0.5f); break;
		case 's': lo_message_add_string(m, "hello"); break;
		case 'b':
			b = lo_blob_new(5, blobdata);
			lo_message_add_blob(m, b);
			break;
		case 'h': lo_message_add_int64(m, INT64_C(1) << 40); break;
		case 't': lo_message_add_timetag(m, tt); break;
		case 'd': lo_message_add_double(m, 2.25); break;
		case 'S': lo_message_add_symbol(m, "sym"); break;
		case 'c': lo_message_add_char(m, 'x'); break;
		case 'm': lo_message_add_midi(m, midi); break;
		case 'T': lo_message_add_true(m); break;
		case 'F': lo_message_add_false(m); break;
		case 'N': lo_message_add_nil(m); break;
		case 'I': lo_message_add_infinitum(m); break;
		}
		char what[64];
		snprintf(what, sizeof what, "liblo %s message", types[k].name);
		check_liblo_message(m, "/t/type", what);
		lo_message_free(m);
		if (b)
			lo_blob_free(b);
	}

	/* Strings and blobs of every length around the padding. */
	for (int n = 0; n <= 9; n++) {
		char s[16];
		memset(s, 'a', (size_t)n);
		s[n] = '\0';
		lo_message m = lo_message_new();
		/* liblo 0.31 will not make an empty blob (the hand-built
		 * test above covers it). */
		lo_blob b = n > 0 ? lo_blob_new(n, blobdata) : NULL;
		lo_message_add_string(m, s);
		if (b)
			lo_message_add_blob(m, b);
		lo_message_add_int32(m, n);
		char what[64];
		snprintf(what, sizeof what, "liblo string/blob of %d bytes", n);
		check_liblo_message(m, "/t/pad", what);
		/* Addresses of every length as well. */
		char path[16] = "/";
		memset(path + 1, 'p', (size_t)n);
		path[n + 1] = '\0';
		snprintf(what, sizeof what, "liblo address of %d bytes", n + 1);
		check_liblo_message(m, path, what);
		lo_message_free(m);
		if (b)
			lo_blob_free(b);
	}

	/* Everything at once, and no arguments at all. */
	/* Our own reference on each message, so that freeing the bundles
	 * (which drop theirs) leaves them to us. */
	lo_message all = lo_message_new();
	lo_message_incref(all);
	lo_blob b = lo_blob_new(3, blobdata);
	lo_message_add(all, "ifsbhtdScmTFNI", 1, 2.0f, "three", b, (int64_t)4, tt, 5.0,
		       "six", 'z', midi);
	check_liblo_message(all, "/t/all", "liblo message of every type");
	lo_message none = lo_message_new();
	lo_message_incref(none);
	check_liblo_message(none, "/t/none", "liblo message without arguments");

	/* liblo bundles: flat and nested. */
	lo_bundle bun = lo_bundle_new(tt);
	lo_bundle_add_message(bun, "/t/all", all);
	lo_bundle_add_message(bun, "/t/none", none);
	size_t len = 0;
	void *buf = lo_bundle_serialise(bun, NULL, &len);
	expect_accepted(buf, len, "liblo bundle of two messages");
	free(buf);

	lo_bundle outer = lo_bundle_new(tt);
	lo_bundle_add_message(outer, "/t/none", none);
	lo_bundle_add_bundle(outer, bun);
	buf = lo_bundle_serialise(outer, NULL, &len);
	expect_accepted(buf, len, "liblo bundle holding a bundle");
	free(buf);

	lo_bundle empty = lo_bundle_new(tt);
	buf = lo_bundle_serialise(empty, NULL, &len);
	expect_accepted(buf, len, "liblo empty bundle");
	CHECK(len == 16, "liblo empty bundle is %zu bytes", len);
	free(buf);

	lo_bundle_free_recursive(outer);
	lo_bundle_free(empty);
	lo_message_free(all);
	lo_message_free(none);
	lo_blob_free(b);
}

int main(void)
{
	test_top_level();
	test_address_and_tags();
	test_arguments();
	test_bundles();
	test_liblo_built();
	if (failures) {
		fprintf(stderr, "test_osc_frame: %d of %d checks failed\n", failures, checks);
		return 1;
	}
	printf("test_osc_frame: %d checks passed\n", checks);
	return 0;
}
