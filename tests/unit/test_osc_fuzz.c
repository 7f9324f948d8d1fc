/*
 * Deterministic mutation fuzzing of the OSC framing check and of the very
 * dispatch path cl_osc uses (cl_osc_dispatch_datagram).
 *
 * A corpus of valid messages and bundles built with liblo is mutated (bit
 * flips, random bytes, truncation, extension, size-field and type-tag
 * edits, splices) with a fixed seed. Each mutant lives in a heap block of
 * exactly its length, so that under the ASan build a read one byte past
 * the datagram fails the test. Whenever cl_osc_check_frame() accepts, the
 * datagram is decoded with liblo the way cl_osc does (bundles walked by
 * hand, lo_message_deserialise per element) and every argument is read in
 * full (string lengths, every blob byte) from instrumented code; and every
 * mutant, accepted or not, goes through cl_osc_dispatch_datagram() on a
 * live server whose replies go to a sink socket.
 *
 * Beyond "no crash" it checks that the checker and liblo agree: liblo must
 * decode every message the checker passes (except the 'r' type, which
 * liblo 0.31 does not know), and the dispatcher must refuse exactly what
 * the checker refuses. Both accepted and refused counts must be non-zero.
 *
 * CL_FUZZ_SEED and CL_FUZZ_ITERATIONS override the defaults to explore.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lo/lo.h>
#include <lo/lo_lowlevel.h>

#include "cl_osc.h"
#include "cl_log.h"

#define DEFAULT_SEED UINT64_C(0x5eed0f05c0ffee11)
#define DEFAULT_ITERATIONS 200000
#define MAX_MUTANT (CL_OSC_MAX_DATAGRAM + 64)

static uint64_t rng_state;

/* xorshift64*: fast, and the same sequence on every machine. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint32_t rng_below(uint32_t n)
{
	return n ? (uint32_t)(rng() % n) : 0;
}

/* ---------------------------------------------------------------------- */
/* Reading every argument                                                  */

static volatile uint64_t sink_sum; /* keeps the reads from being optimised out */

/* Read argument arg of type t in full. liblo's argument pointers are only
 * 4-byte aligned, so the bytes are read, not the lo_arg members. */
static void touch_arg(char t, const lo_arg *arg)
{
	const unsigned char *p = (const unsigned char *)arg;
	uint64_t sum = 0;
	size_t fixed = 0;
	switch (t) {
	case 'i': case 'c': case 'f': case 'm': fixed = 4; break;
	case 'h': case 'd': case 't': fixed = 8; break;
	case 's': case 'S':
		for (size_t k = 0; p[k]; k++)
			sum += p[k];
		break;
	case 'b': {
		int32_t size;
		memcpy(&size, p, sizeof size);
		for (int32_t k = 0; k < size; k++)
			sum += p[4 + k];
		break;
	}
	default:
		break; /* T F N I: nothing to read (liblo gives NULL) */
	}
	for (size_t k = 0; k < fixed; k++)
		sum += p[k];
	sink_sum += sum;
}

static void touch_message(lo_message m)
{
	const char *types = lo_message_get_types(m);
	lo_arg **argv = lo_message_get_argv(m);
	int argc = lo_message_get_argc(m);
	for (int k = 0; k < argc; k++)
		if (argv[k])
			touch_arg(types[k], argv[k]);
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct stats {
	unsigned long accepted, refused, messages, decode_failures, rgba_skips;
	unsigned long dispatch_mismatch;
};

/* Decode a checked element the way cl_osc does. */
static void decode_element(const unsigned char *p, size_t len, struct stats *st)
{
	if (len >= 8 && memcmp(p, "#bundle", 8) == 0) {
		size_t off = 16;
		while (off + 4 <= len) {
			size_t size = be32(p + off);
			decode_element(p + off + 4, size, st);
			off += 4 + size;
		}
		return;
	}
	size_t alen = strlen((const char *)p);
	const char *tags = (const char *)p + ((alen + 4) & ~(size_t)3);
	st->messages++;
	if (strchr(tags, 'r')) {
		st->rgba_skips++;
		return;
	}
	int result = 0;
	lo_message m = lo_message_deserialise((void *)(uintptr_t)p, len, &result);
	if (!m) {
		st->decode_failures++;
		if (st->decode_failures <= 5)
			fprintf(stderr, "liblo refused a datagram the checker passed (error %d)\n",
				result);
		return;
	}
	touch_message(m);
	lo_message_free(m);
}

/* ---------------------------------------------------------------------- */
/* The server under test                                                   */

static int touch_handler(struct cl_osc_request *req)
{
	for (int k = 0; k < req->argc; k++)
		if (req->argv[k].type == 's')
			sink_sum += strlen(req->argv[k].s);
	touch_message(req->msg);
	return 0;
}

static const struct cl_osc_method methods[] = {
	{ "/t/*/level", "n", touch_handler, "" },
	{ "/t/opt", "|n", touch_handler, "" },
	{ "/t/name", "s", touch_handler, "" },
	{ "/t/flags", "ib|s", touch_handler, "" },
	{ "/t/raw", "s*", touch_handler, "" },
	{ "/t/{a,b}/[0-9]", "n|n", touch_handler, "" },
};

/* ---------------------------------------------------------------------- */
/* Corpus                                                                  */

struct blobs {
	unsigned char *data[64];
	size_t len[64];
	int n;
};

static void corpus_add(struct blobs *c, void *data, size_t len)
{
	if (c->n < 64) {
		c->data[c->n] = data;
		c->len[c->n] = len;
		c->n++;
	} else {
		free(data);
	}
}

static void corpus_add_msg(struct blobs *c, const char *path, lo_message m)
{
	size_t len = 0;
	void *buf = lo_message_serialise(m, path, NULL, &len);
	corpus_add(c, buf, len);
}

static void build_corpus(struct blobs *c)
{
	uint8_t midi[4] = { 0x90, 60, 100, 0 };
	lo_timetag tt = { 1, 2 };
	unsigned char bytes[40];
	for (int k = 0; k < 40; k++)
		bytes[k] = (unsigned char)(k * 37);
	lo_blob b1 = lo_blob_new(1, bytes), b7 = lo_blob_new(7, bytes), b40 = lo_blob_new(40, bytes);

	lo_message every = lo_message_new();
	lo_message_incref(every);
	lo_message_add(every, "ifsbhtdScmTFNI", 1, 2.0f, "three", b7, (int64_t)4, tt, 5.0, "six",
		       'z', midi);
	corpus_add_msg(c, "/t/raw", every);

	struct { const char *path; const char *types; } plain[] = {
		{ "/t/1/level", "f" }, { "/t/22/level", "s" }, { "/t/3/level", "d" },
		{ "/t/opt", "" }, { "/t/opt", "i" }, { "/t/name", "s" }, { "/t/flags", "isS" },
		{ "/t/flags", "fT" }, { "/t/a/5", "hf" }, { "/cl/ping", "ib" }, { "/cl/status", "" },
		{ "/cl/subscribe", "" }, { "/cl/unsubscribe", "s" }, { "/cl/state/get", "" },
		{ "/cl/state/set", "s" }, { "/cl/quit", "" }, { "/nowhere/at/all", "b" },
	};
	for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++) {
		lo_message m = lo_message_new();
		for (const char *t = plain[k].types; *t; t++) {
			switch (*t) {
			case 'i': lo_message_add_int32(m, (int32_t)k - 3); break;
			case 'f': lo_message_add_float(m, 0.5f); break;
			case 'd': lo_message_add_double(m, -6.0); break;
			case 'h': lo_message_add_int64(m, 7); break;
			case 's': lo_message_add_string(m, k % 2 ? "1.25" : "on"); break;
			case 'S': lo_message_add_symbol(m, "sym"); break;
			case 'T': lo_message_add_true(m); break;
			case 'b': lo_message_add_blob(m, k % 2 ? b40 : b1); break;
			}
		}
		corpus_add_msg(c, plain[k].path, m);
		lo_message_free(m);
	}

	/* Bundles: flat, nested, empty. */
	lo_message lvl = lo_message_new(), nm = lo_message_new();
	lo_message_incref(lvl);
	lo_message_incref(nm);
	lo_message_add_float(lvl, 0.25f);
	lo_message_add_string(nm, "x");
	lo_bundle flat = lo_bundle_new(tt);
	lo_bundle_add_message(flat, "/t/4/level", lvl);
	lo_bundle_add_message(flat, "/t/name", nm);
	lo_bundle_add_message(flat, "/t/raw", every);
	size_t len;
	void *buf = lo_bundle_serialise(flat, NULL, &len);
	corpus_add(c, buf, len);
	lo_bundle outer = lo_bundle_new(tt);
	lo_bundle_add_message(outer, "/t/name", nm);
	lo_bundle_add_bundle(outer, flat);
	buf = lo_bundle_serialise(outer, NULL, &len);
	corpus_add(c, buf, len);
	lo_bundle empty = lo_bundle_new(tt);
	buf = lo_bundle_serialise(empty, NULL, &len);
	corpus_add(c, buf, len);
	lo_bundle_free_recursive(outer);
	lo_bundle_free(empty);

	lo_message_free(every);
	lo_message_free(lvl);
	lo_message_free(nm);
	lo_blob_free(b1);
	lo_blob_free(b7);
	lo_blob_free(b40);
}

/* ---------------------------------------------------------------------- */
/* Mutations                                                               */

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Apply one random mutation to buf[0..*len), capacity MAX_MUTANT. */
static void mutate(unsigned char *buf, size_t *len, const struct blobs *corpus)
{
	size_t n = *len;
	switch (rng_below(9)) {
	case 0: /* flip a bit */
		if (n)
			buf[rng_below((uint32_t)n)] ^= (unsigned char)(1u << rng_below(8));
		break;
	case 1: /* a random byte */
		if (n)
			buf[rng_below((uint32_t)n)] = (unsigned char)rng();
		break;
	case 2: /* truncate, usually to a word boundary */
		if (n) {
			n = rng_below((uint32_t)n);
			if (rng_below(4))
				n &= ~(size_t)3;
		}
		break;
	case 3: { /* extend with zeros or noise */
		size_t add = rng_below(4) ? 4 * (1 + rng_below(4)) : 1 + rng_below(7);
		if (rng_below(8) == 0)
			add = CL_OSC_MAX_DATAGRAM; /* beyond the cap */
		if (n + add > MAX_MUTANT)
			add = MAX_MUTANT - n;
		bool zeros = rng_below(2);
		for (size_t k = 0; k < add; k++)
			buf[n + k] = zeros ? 0 : (unsigned char)rng();
		n += add;
		break;
	}
	case 4: { /* a size field: write an interesting 32-bit value at a word */
		if (n < 4)
			break;
		static const uint32_t interesting[] = {
			0, 1, 3, 4, 8, 12, 16, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffc,
			CL_OSC_MAX_DATAGRAM, CL_OSC_MAX_DATAGRAM + 4,
		};
		size_t off = 4 * rng_below((uint32_t)(n / 4));
		uint32_t v;
		if (rng_below(2))
			v = interesting[rng_below(sizeof interesting / sizeof interesting[0])];
		else if (rng_below(2))
			v = (uint32_t)(n - off) + (uint32_t)rng_below(9) - 4;
		else
			v = be32(buf + off) + (uint32_t)rng_below(9) - 4;
		put_be32(buf + off, v);
		break;
	}
	case 5: { /* a type tag: replace the byte after some ',' */
		static const char tags[] = "ifsbhtdScmrTFNI[]x\0";
		for (size_t k = 0; k < n; k++) {
			if (buf[k] == ',' && rng_below(2)) {
				size_t at = k + 1 + rng_below(4);
				if (at < n)
					buf[at] = (unsigned char)tags[rng_below(sizeof tags - 1)];
				break;
			}
		}
		break;
	}
	case 6: { /* splice: the head of this one and the tail of another */
		int j = (int)rng_below((uint32_t)corpus->n);
		size_t cut = n ? rng_below((uint32_t)n) & ~(size_t)3 : 0;
		size_t from = rng_below((uint32_t)corpus->len[j]) & ~(size_t)3;
		size_t take = corpus->len[j] - from;
		if (cut + take > MAX_MUTANT)
			take = MAX_MUTANT - cut;
		memcpy(buf + cut, corpus->data[j] + from, take);
		n = cut + take;
		break;
	}
	case 7: { /* wrap in a bundle */
		if (n + 20 > MAX_MUTANT)
			break;
		memmove(buf + 20, buf, n);
		memcpy(buf, "#bundle\0\0\0\0\0\0\0\0\1", 16);
		put_be32(buf + 16, (uint32_t)n);
		n += 20;
		break;
	}
	default: { /* swap two words */
		if (n < 8)
			break;
		size_t a = 4 * rng_below((uint32_t)(n / 4)), b = 4 * rng_below((uint32_t)(n / 4));
		unsigned char t[4];
		memcpy(t, buf + a, 4);
		memcpy(buf + a, buf + b, 4);
		memcpy(buf + b, t, 4);
		break;
	}
	}
	*len = n;
}

int main(void)
{
	const char *env = getenv("CL_FUZZ_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : DEFAULT_SEED;
	env = getenv("CL_FUZZ_ITERATIONS");
	long iterations = env ? strtol(env, NULL, 10) : DEFAULT_ITERATIONS;
	rng_state = seed ? seed : 1;

	/* Errors only: refusals are expected by the hundred thousand. */
	cl_log_init("test-osc-fuzz", CL_LOG_ERROR - CL_LOG_INFO);

	char err[256] = "";
	struct cl_osc *osc = cl_osc_new("127.0.0.1", 0, methods,
					sizeof methods / sizeof methods[0], NULL, err, sizeof err);
	if (!osc) {
		fprintf(stderr, "cl_osc_new: %s\n", err);
		return 1;
	}
	/* Replies go to a sink socket that is drained now and then. */
	int sink = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t salen = sizeof sa;
	if (sink < 0 || bind(sink, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    getsockname(sink, (struct sockaddr *)&sa, &salen) != 0) {
		perror("sink socket");
		return 1;
	}
	struct sockaddr_storage from;
	memset(&from, 0, sizeof from);
	memcpy(&from, &sa, sizeof sa);

	struct blobs corpus = { .n = 0 };
	build_corpus(&corpus);
	struct stats st = { 0 };
	unsigned long corpus_refused = 0;
	for (int k = 0; k < corpus.n; k++) {
		const char *reason;
		if (cl_osc_check_frame(corpus.data[k], corpus.len[k], &reason) != 0) {
			fprintf(stderr, "corpus entry %d refused: %s\n", k, reason);
			corpus_refused++;
		}
	}

	static unsigned char work[MAX_MUTANT];
	static unsigned char drain[CL_OSC_MAX_DATAGRAM];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long it = 0; it < iterations; it++) {
		int j = (int)rng_below((uint32_t)corpus.n);
		size_t len = corpus.len[j];
		memcpy(work, corpus.data[j], len);
		int rounds = 1 + (int)rng_below(4);
		for (int r = 0; r < rounds; r++)
			mutate(work, &len, &corpus);

		/* Exactly len bytes on the heap: ASan sees any over-read. */
		unsigned char *dgram = malloc(len ? len : 1);
		memcpy(dgram, work, len);
		const char *reason = NULL;
		int rc = cl_osc_check_frame(dgram, len, &reason);
		if (rc == 0) {
			st.accepted++;
			decode_element(dgram, len, &st);
		} else {
			st.refused++;
			if (!reason || !reason[0]) {
				fprintf(stderr, "refusal without a reason at iteration %ld\n", it);
				st.dispatch_mismatch++;
			}
		}
		int drc = cl_osc_dispatch_datagram(osc, dgram, len, &from, sizeof sa);
		if (drc != rc)
			st.dispatch_mismatch++;
		free(dgram);
		if ((it & 255) == 0) {
			while (recv(sink, drain, sizeof drain, 0) > 0)
				;
			cl_log_flush();
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;

	printf("test_osc_fuzz: seed 0x%016llx, %ld iterations in %.2f s: %lu accepted "
	       "(%lu messages decoded, %lu with 'r' skipped), %lu refused\n",
	       (unsigned long long)seed, iterations, secs, st.accepted, st.messages,
	       st.rgba_skips, st.refused);

	int failed = 0;
	if (corpus_refused) {
		fprintf(stderr, "FAIL: %lu corpus entries refused\n", corpus_refused);
		failed = 1;
	}
	if (st.accepted == 0 || st.refused == 0) {
		fprintf(stderr, "FAIL: the fuzzer must both pass and refuse datagrams "
			"(accepted %lu, refused %lu)\n", st.accepted, st.refused);
		failed = 1;
	}
	if (st.decode_failures) {
		fprintf(stderr, "FAIL: liblo refused %lu messages that the checker passed\n",
			st.decode_failures);
		failed = 1;
	}
	if (st.dispatch_mismatch) {
		fprintf(stderr, "FAIL: cl_osc_dispatch_datagram disagreed with the checker %lu times\n",
			st.dispatch_mismatch);
		failed = 1;
	}
	/* Mutants that pass must be a real share, or the fuzzer tests little. */
	if (st.accepted * 100 < (unsigned long)iterations) {
		fprintf(stderr, "FAIL: only %lu of %ld mutants passed the checker\n",
			st.accepted, iterations);
		failed = 1;
	}

	for (int k = 0; k < corpus.n; k++)
		free(corpus.data[k]);
	close(sink);
	cl_osc_free(osc);
	return failed;
}
