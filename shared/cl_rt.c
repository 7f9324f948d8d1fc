/*
 * Real-time hand-off and parameter ramps.
 *
 * A command queue is a jack_ringbuffer_t of whole struct cl_cmd records.
 * The ring is created once, locked in memory and touched, so that neither
 * side allocates or page-faults in the audio thread. A record is written
 * only when it fits whole and read only when it is readable whole, so a
 * reader never sees half a record even though jack_ringbuffer itself
 * moves bytes, not records. A full queue refuses the push and counts it in
 * `dropped` (atomically: the producer may be the audio thread, the reader
 * of the count the main loop).
 *
 * A ramp is a straight line from the current value to the target over
 * `length` frames. cl_ramp_next() (cl_rt.h) computes each value as
 * target - step * remaining instead of adding step to the previous value:
 * no rounding error accumulates, the last frame lands exactly on the
 * target and the values never turn back, whatever the length.
 *
 * cl_rt_enter()/cl_rt_leave() reach the RealtimeSanitizer runtime through
 * weak references: in a normal link the symbols resolve to NULL and the
 * calls are skipped; linked with the runtime archive, the same object
 * tells RTSan that a real-time section starts or ends.
 */
#include "cl_rt.h"

#include <time.h>

#include <math.h>
#include <string.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#include <pmmintrin.h>
#endif

extern void __rtsan_realtime_enter(void) __attribute__((weak));
extern void __rtsan_realtime_exit(void) __attribute__((weak));

/* Create the ring for at least `capacity` records, lock and touch it; 0 on
 * success, -1 on a bad capacity or no memory. A failed mlock (no
 * RLIMIT_MEMLOCK) is not an error: the touch still maps the pages. */
int cl_cmdq_init(struct cl_cmdq *q, size_t capacity)
{
	q->rb = NULL;
	q->dropped = 0;
	if (capacity == 0 || capacity > (SIZE_MAX / 2 - 1) / sizeof(struct cl_cmd))
		return -1;
	/* jack_ringbuffer keeps one byte free to tell full from empty. */
	q->rb = jack_ringbuffer_create(capacity * sizeof(struct cl_cmd) + 1);
	if (q->rb == NULL)
		return -1;
	(void)jack_ringbuffer_mlock(q->rb);
	memset(q->rb->buf, 0, q->rb->size);
	return 0;
}

/* Free the ring; the queue may be initialised again. */
void cl_cmdq_done(struct cl_cmdq *q)
{
	if (q->rb != NULL)
		jack_ringbuffer_free(q->rb);
	q->rb = NULL;
}

/* Queue one whole record, or count a drop. RT */
bool cl_cmdq_push(struct cl_cmdq *q, const struct cl_cmd *cmd)
{
	if (jack_ringbuffer_write_space(q->rb) < sizeof *cmd) {
		__atomic_add_fetch(&q->dropped, 1, __ATOMIC_RELAXED);
		return false;
	}
	jack_ringbuffer_write(q->rb, (const char *)cmd, sizeof *cmd);
	return true;
}

/* Take the oldest whole record. RT */
bool cl_cmdq_pop(struct cl_cmdq *q, struct cl_cmd *cmd)
{
	if (jack_ringbuffer_read_space(q->rb) < sizeof *cmd)
		return false;
	jack_ringbuffer_read(q->rb, (char *)cmd, sizeof *cmd);
	return true;
}

/* Pushes refused so far; safe from any thread. */
uint32_t cl_cmdq_dropped(const struct cl_cmdq *q)
{
	return __atomic_load_n(&q->dropped, __ATOMIC_RELAXED);
}

/* Start at `value`, idle; later ramps take length_frames frames. */
void cl_ramp_init(struct cl_ramp *r, float value, uint32_t length_frames)
{
	r->current = value;
	r->target = value;
	r->step = 0.0f;
	r->remaining = 0;
	r->length = length_frames;
}

/* Head for `target` from wherever the ramp is now. RT */
void cl_ramp_set(struct cl_ramp *r, float target)
{
	/* Unchanged targets cost nothing and do not restart the ramp;
	 * non-finite ones would poison every later value. */
	if (target == r->target || !isfinite(target))
		return;
	if (r->length == 0) {
		cl_ramp_jump(r, target);
		return;
	}
	r->target = target;
	r->step = (float)(((double)target - (double)r->current) / (double)r->length);
	r->remaining = r->length;
}

/* Be at `value` now, with no ramp running. RT */
void cl_ramp_jump(struct cl_ramp *r, float value)
{
	r->current = value;
	r->target = value;
	r->step = 0.0f;
	r->remaining = 0;
}

/* Frames later ramps take (a running ramp keeps its pace). RT */
void cl_ramp_set_length(struct cl_ramp *r, uint32_t length_frames)
{
	r->length = length_frames;
}

/* Tell RTSan (when linked) that real-time code starts. RT */
void cl_rt_enter(void)
{
	if (__rtsan_realtime_enter != NULL)
		__rtsan_realtime_enter();
}

/* Tell RTSan (when linked) that real-time code ends. RT */
void cl_rt_leave(void)
{
	if (__rtsan_realtime_exit != NULL)
		__rtsan_realtime_exit();
}

/* Flush denormals to zero in this thread's FPU state. RT */
void cl_rt_flush_denormals(void)
{
#if defined(__SSE__)
	_MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
	_MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
#elif defined(__aarch64__)
	/* FPCR.FZ (bit 24): flush denormal inputs and outputs to zero. */
	unsigned long fpcr;
	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	__asm__ volatile("msr fpcr, %0" : : "r"(fpcr | (1ul << 24)));
#endif
}

uint64_t cl_cycle_begin(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cl_cycle_end(struct cl_cycle_stats *s, uint64_t began)
{
	double us = (double)(cl_cycle_begin() - began) / 1000.0;
	size_t i = (size_t)(us / CL_CYCLE_STEP_US);
	if (i >= CL_CYCLE_BUCKETS)
		i = CL_CYCLE_BUCKETS - 1;
	s->bucket[i]++;
	s->cycles++;
	if (us > s->max_us)
		s->max_us = us;
}

/* Upper edge of the bucket holding the q-quantile of the counts. */
static double quantile_us(const struct cl_cycle_stats *s, uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * (double)total), seen = 0;
	for (size_t i = 0; i < CL_CYCLE_BUCKETS; i++) {
		seen += s->bucket[i];
		if (seen > want)
			return (double)(i + 1) * CL_CYCLE_STEP_US;
	}
	return CL_CYCLE_BUCKETS * CL_CYCLE_STEP_US;
}

void cl_cycle_summary(const struct cl_cycle_stats *s, double *median_us, double *p99_us)
{
	uint64_t total = 0;
	for (size_t i = 0; i < CL_CYCLE_BUCKETS; i++)
		total += s->bucket[i];
	*median_us = total ? quantile_us(s, total, 0.5) : 0.0;
	*p99_us = total ? quantile_us(s, total, 0.99) : 0.0;
}
