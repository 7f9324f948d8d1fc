/*
 * cl_rt: command queue order, capacity, drops and whole records (also
 * across threads and across the ring's wrap-around); ramps that end
 * exactly on target after `length` frames, never turn back, never step
 * more than |target - start| / length (plus float rounding), and retarget
 * from where they are; rtsan hooks that do nothing without the runtime;
 * denormal flushing.
 */
#include "cl_rt.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#include "cl_check.h"
#endif

extern void __rtsan_realtime_enter(void) __attribute__((weak));
extern void __rtsan_realtime_exit(void) __attribute__((weak));



static struct cl_cmd make_cmd(uint32_t seq)
{
	return (struct cl_cmd){
		.kind = seq, .index = ~seq, .a = seq * 0.5, .b = -(double)seq,
		.c = seq + 0.25, .frame = (int64_t)seq * 1000003,
	};
}

static bool cmd_matches(const struct cl_cmd *c, uint32_t seq)
{
	struct cl_cmd want = make_cmd(seq);
	return c->kind == want.kind && c->index == want.index && c->a == want.a &&
	       c->b == want.b && c->c == want.c && c->frame == want.frame;
}

static void test_cmdq_basic(void)
{
	struct cl_cmdq q;
	CHECK(cl_cmdq_init(&q, 0) != 0, "capacity 0 refused");
	CHECK(cl_cmdq_init(&q, 8) == 0, "init 8");
	size_t fits = (q.rb->size - 1) / sizeof(struct cl_cmd);
	CHECK(fits >= 8, "room for at least 8 records (%zu)", fits);

	struct cl_cmd c;
	CHECK(!cl_cmdq_pop(&q, &c), "empty queue pops nothing");

	size_t pushed = 0;
	while (cl_cmdq_push(&q, &(struct cl_cmd){ 0 }) && pushed < 10000)
		pushed++;
	CHECK(pushed == fits, "pushed %zu records until full, expected %zu", pushed, fits);
	CHECK(cl_cmdq_dropped(&q) == 1, "the refused push counted (%u)", cl_cmdq_dropped(&q));

	/* What is left is less than a record: a push must write nothing. */
	size_t ws = jack_ringbuffer_write_space(q.rb), rs = jack_ringbuffer_read_space(q.rb);
	CHECK(ws < sizeof(struct cl_cmd), "leftover space %zu < a record", ws);
	for (int i = 0; i < 3; i++)
		CHECK(!cl_cmdq_push(&q, &(struct cl_cmd){ 0 }), "full queue refuses");
	CHECK(jack_ringbuffer_write_space(q.rb) == ws && jack_ringbuffer_read_space(q.rb) == rs,
	      "a refused push wrote no partial record");
	CHECK(cl_cmdq_dropped(&q) == 4, "4 drops counted (%u)", cl_cmdq_dropped(&q));

	while (cl_cmdq_pop(&q, &c))
		;
	CHECK(jack_ringbuffer_read_space(q.rb) == 0, "drained");

	/* Order, many times round the ring (40-byte records in a 512-byte
	 * ring: records straddle the wrap point). */
	uint32_t next_push = 0, next_pop = 0;
	bool ok = true;
	for (int round = 0; round < 20000 && ok; round++) {
		int n = 1 + round % 7;
		for (int i = 0; i < n; i++) {
			struct cl_cmd in = make_cmd(next_push);
			if (cl_cmdq_push(&q, &in))
				next_push++;
		}
		int m = 1 + (round * 5) % 7;
		for (int i = 0; i < m && cl_cmdq_pop(&q, &c); i++) {
			if (!cmd_matches(&c, next_pop)) {
				CHECK(0, "record %u came out as kind %u", next_pop, c.kind);
				ok = false;
				break;
			}
			next_pop++;
		}
		/* A partial record must never be readable. */
		if (jack_ringbuffer_read_space(q.rb) % sizeof(struct cl_cmd) != 0) {
			CHECK(0, "read space %zu is not whole records",
			      jack_ringbuffer_read_space(q.rb));
			ok = false;
		}
	}
	CHECK(next_push > 50000, "many records went round (%u)", next_push);
	cl_cmdq_done(&q);
	CHECK(q.rb == NULL, "done clears the ring");
	cl_cmdq_done(&q); /* twice is harmless */
}

#define THREAD_RECORDS 200000u

static void *producer(void *arg)
{
	struct cl_cmdq *q = arg;
	for (uint32_t seq = 0; seq < THREAD_RECORDS;) {
		struct cl_cmd c = make_cmd(seq);
		if (cl_cmdq_push(q, &c))
			seq++;
	}
	return NULL;
}

static void test_cmdq_threads(void)
{
	struct cl_cmdq q;
	if (cl_cmdq_init(&q, 16) != 0) {
		CHECK(0, "init 16");
		return;
	}
	pthread_t th;
	pthread_create(&th, NULL, producer, &q);
	uint32_t next = 0;
	bool ok = true;
	while (next < THREAD_RECORDS && ok) {
		struct cl_cmd c;
		if (!cl_cmdq_pop(&q, &c))
			continue;
		if (!cmd_matches(&c, next)) {
			CHECK(0, "thread hand-off: record %u came out as kind %u", next, c.kind);
			ok = false;
		}
		next++;
	}
	pthread_join(th, NULL);
	CHECK(next == THREAD_RECORDS, "all %u records crossed threads intact (%u)",
	      THREAD_RECORDS, next);
	cl_cmdq_done(&q);
}

/* Run a ramp to its end and check it against the straight line. */
static void check_ramp(struct cl_ramp *r, float start, float target, uint32_t length,
		       const char *what)
{
	float span = fabsf(target - start);
	float ideal = span / (float)length;
	/* Float rounding: a few ulps of the larger magnitude. */
	float slack = 4.0f * fmaxf(fabsf(start), fabsf(target)) * 1.2e-7f + 1e-30f;
	float prev = start, max_step = 0;
	bool monotonic = true, early = false;
	float dir = target > start ? 1.0f : -1.0f;
	for (uint32_t i = 1; i <= length; i++) {
		float v = cl_ramp_next(r);
		float d = (v - prev) * dir;
		if (d < 0)
			monotonic = false;
		if (fabsf(v - prev) > max_step)
			max_step = fabsf(v - prev);
		if (i < length && v == target && ideal > slack)
			early = true;
		prev = v;
	}
	CHECK(prev == target, "%s: after %u frames at %.9g, want exactly %.9g", what,
	      length, prev, target);
	CHECK(monotonic, "%s: not monotonic", what);
	CHECK(!early, "%s: reached the target early", what);
	CHECK(max_step <= ideal + slack, "%s: max step %.9g > %.9g (+%.3g)", what,
	      max_step, ideal, slack);
	CHECK(!cl_ramp_busy(r), "%s: idle at the end", what);
	CHECK(cl_ramp_next(r) == target && cl_ramp_next(r) == target,
	      "%s: stays on target", what);
}

static void test_ramp(void)
{
	struct cl_ramp r;
	cl_ramp_init(&r, 0.0f, 480);
	CHECK(!cl_ramp_busy(&r) && cl_ramp_next(&r) == 0.0f, "init: idle at the value");
	cl_ramp_set(&r, 1.0f);
	CHECK(cl_ramp_busy(&r), "set: busy");
	check_ramp(&r, 0.0f, 1.0f, 480, "0 -> 1 over 480");

	cl_ramp_set(&r, 0.001f);
	check_ramp(&r, 1.0f, 0.001f, 480, "1 -> 0.001 over 480");

	/* Long ramps over small spans are where summing steps would drift. */
	cl_ramp_init(&r, 0.7f, 96000);
	cl_ramp_set(&r, 0.70001f);
	check_ramp(&r, 0.7f, 0.70001f, 96000, "0.7 -> 0.70001 over 96000");

	unsigned seed = 12345;
	for (int i = 0; i < 200; i++) {
		seed = seed * 1103515245u + 12345u;
		float a = (float)((seed >> 8) % 20001) / 1000.0f - 10.0f;
		seed = seed * 1103515245u + 12345u;
		float b = (float)((seed >> 8) % 20001) / 1000.0f - 10.0f;
		seed = seed * 1103515245u + 12345u;
		uint32_t len = 1 + (seed >> 8) % 5000;
		if (a == b)
			continue;
		cl_ramp_init(&r, a, len);
		cl_ramp_set(&r, b);
		char what[96];
		snprintf(what, sizeof what, "random %g -> %g over %u", a, b, len);
		check_ramp(&r, a, b, len, what);
	}

	/* Retarget half-way: continue from the current value, no jump. */
	cl_ramp_init(&r, 0.0f, 100);
	cl_ramp_set(&r, 1.0f);
	float v = 0;
	for (int i = 0; i < 50; i++)
		v = cl_ramp_next(&r);
	CHECK(fabsf(v - 0.5f) < 1e-6f, "half-way at 0.5 (%.9g)", v);
	cl_ramp_set(&r, 0.0f);
	float first = cl_ramp_next(&r);
	CHECK(first < v && v - first <= 0.5f / 100 + 1e-6f,
	      "retarget continues from %.9g, first value %.9g", v, first);
	struct cl_ramp copy = r;
	for (int i = 0; i < 98; i++)
		cl_ramp_next(&copy);
	CHECK(cl_ramp_busy(&copy), "retargeted ramp takes a full length again");
	check_ramp(&r, first, 0.0f, 99, "retarget 0.5 -> 0 (after the first frame)");

	/* Same target again: nothing restarts. */
	cl_ramp_init(&r, 0.0f, 100);
	cl_ramp_set(&r, 1.0f);
	for (int i = 0; i < 60; i++)
		cl_ramp_next(&r);
	cl_ramp_set(&r, 1.0f);
	CHECK(r.remaining == 40, "same target is a no-op (remaining %u)", r.remaining);
	cl_ramp_jump(&r, 0.25f);
	cl_ramp_set(&r, 0.25f);
	CHECK(!cl_ramp_busy(&r) && r.current == 0.25f, "set to the current value: idle");

	/* Non-finite targets are ignored. */
	cl_ramp_set(&r, NAN);
	CHECK(!cl_ramp_busy(&r) && r.target == 0.25f, "NaN target ignored");
	cl_ramp_set(&r, INFINITY);
	CHECK(!cl_ramp_busy(&r) && r.target == 0.25f, "inf target ignored");

	/* Length 0 jumps. */
	cl_ramp_init(&r, 0.25f, 0);
	cl_ramp_set(&r, 0.75f);
	CHECK(!cl_ramp_busy(&r) && r.current == 0.75f && cl_ramp_next(&r) == 0.75f,
	      "length 0 jumps");

	/* Jump mid-ramp stops it. */
	cl_ramp_init(&r, 0.0f, 100);
	cl_ramp_set(&r, 1.0f);
	cl_ramp_next(&r);
	cl_ramp_jump(&r, 0.3f);
	CHECK(!cl_ramp_busy(&r) && cl_ramp_next(&r) == 0.3f, "jump stops a ramp");

	/* A new length applies to the next ramp. */
	cl_ramp_set_length(&r, 10);
	cl_ramp_set(&r, 1.3f);
	check_ramp(&r, 0.3f, 1.3f, 10, "after set_length(10)");
}

static void test_rtsan_hooks(void)
{
	/* Unit tests are not linked with the RTSan runtime: the weak
	 * references are NULL and the calls must simply return. */
	CHECK(__rtsan_realtime_enter == NULL && __rtsan_realtime_exit == NULL,
	      "weak rtsan symbols resolve to NULL without the runtime");
	for (int i = 0; i < 3; i++) {
		cl_rt_enter();
		cl_rt_leave();
	}
	/* Still usable afterwards, including allocation (which RTSan would
	 * flag inside an enter/leave pair). */
	cl_rt_enter();
	cl_rt_leave();
	void *p = malloc(16);
	CHECK(p != NULL, "malloc after enter/leave");
	free(p);
}

static void test_denormals(void)
{
#if defined(__SSE__)
	volatile float tiny = 1e-38f, scale = 1e-3f;
	float before = tiny * scale;
	CHECK(fpclassify(before) == FP_SUBNORMAL,
	      "without flushing, 1e-38 * 1e-3 is subnormal (%g)", before);
	cl_rt_flush_denormals();
	unsigned csr = _mm_getcsr();
	CHECK((csr & 0x8000) != 0, "MXCSR FTZ set (0x%x)", csr);
	CHECK((csr & 0x0040) != 0, "MXCSR DAZ set (0x%x)", csr);
	float after = tiny * scale;
	CHECK(after == 0.0f, "with FTZ the product is 0 (%g)", after);
	volatile float denormal_in = 1e-41f;
	float sum = denormal_in + 0.0f;
	CHECK(sum == 0.0f, "with DAZ a subnormal input reads as 0 (%g)", sum);
#else
	cl_rt_flush_denormals();
	printf("test-rt: no SSE here; cl_rt_flush_denormals only checked to return\n");
#endif
}

/* The cycle histogram: known durations land in their buckets. */
static void test_cycle_stats(void)
{
	static struct cl_cycle_stats st;
	for (int i = 0; i < 100; i++) {
		st.bucket[(size_t)(10.0 / CL_CYCLE_STEP_US)]++;   /* 98 cycles of ~10 us */
		st.cycles++;
	}
	st.bucket[(size_t)(10.0 / CL_CYCLE_STEP_US)] -= 2;
	st.bucket[(size_t)(500.0 / CL_CYCLE_STEP_US)] += 2;      /* 2 slow ones */
	double median, p99;
	cl_cycle_summary(&st, &median, &p99);
	CHECK(median > 10.0 - 1e-9 && median <= 10.0 + CL_CYCLE_STEP_US + 1e-9,
	      "cycle median %.2f us, want 10..10.25", median);
	CHECK(p99 > 500.0 - 1e-9 && p99 <= 500.0 + CL_CYCLE_STEP_US + 1e-9,
	      "cycle p99 %.2f us, want 500..500.25", p99);
	static struct cl_cycle_stats live;
	uint64_t t = cl_cycle_begin();
	cl_cycle_end(&live, t);
	CHECK(live.cycles == 1 && live.max_us >= 0.0 && live.max_us < 1000.0,
	      "a timed empty cycle counts once (%.3f us)", live.max_us);
	static struct cl_cycle_stats none;
	cl_cycle_summary(&none, &median, &p99);
	CHECK(median == 0.0 && p99 == 0.0, "no cycles: zeros");
}

int main(void)
{
	test_cycle_stats();
	test_cmdq_basic();
	test_cmdq_threads();
	test_ramp();
	test_rtsan_hooks();
	test_denormals();
	if (failures) {
		fprintf(stderr, "test-rt: %d check(s) failed\n", failures);
		return 1;
	}
	printf("test-rt: cmdq order/capacity/drops/whole records/threads, ramps, "
	       "rtsan hooks, denormals: all checks passed\n");
	return 0;
}
