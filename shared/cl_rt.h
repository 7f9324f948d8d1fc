/*
 * Real-time hand-off and parameter ramps.
 *
 * Control reaches a process callback as fixed-size records in a
 * jack_ringbuffer_t (one queue towards the audio thread), and events
 * (meters, positions, errors) leave it the same way (one queue back). Each
 * queue has exactly one producer and one consumer; a program with several
 * producers serialises them on the producing side.
 *
 * A ramp moves a gain-like value to its target linearly over a fixed number
 * of frames, so that no change clicks.
 *
 * cl_rt_enter()/cl_rt_leave() bracket the body of every process and
 * timebase callback. They call the RealtimeSanitizer runtime when it is
 * linked in (the -rtsan builds) and do nothing otherwise.
 */
#ifndef CL_RT_H
#define CL_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jack/ringbuffer.h>

struct cl_cmd {
	uint32_t kind;   /* program-defined */
	uint32_t index;  /* program-defined: strip, slot, track ... */
	double a, b, c;  /* values */
	int64_t frame;   /* a frame time, or another integer */
};

struct cl_cmdq {
	jack_ringbuffer_t *rb;
	uint32_t dropped;  /* pushes refused because the queue was full */
};

/* Allocate room for `capacity` records (at least: the ring is rounded up
 * to a power of two) and lock it in memory. 0 on success. */
int cl_cmdq_init(struct cl_cmdq *q, size_t capacity);
void cl_cmdq_done(struct cl_cmdq *q);
/* Queue one record; false (and dropped counted) when full. RT-safe. */
bool cl_cmdq_push(struct cl_cmdq *q, const struct cl_cmd *cmd);
/* Take the oldest record; false when empty. RT-safe. */
bool cl_cmdq_pop(struct cl_cmdq *q, struct cl_cmd *cmd);
/* The dropped count, read atomically (any thread). */
uint32_t cl_cmdq_dropped(const struct cl_cmdq *q);

struct cl_ramp {
	float current;
	float target;
	float step;
	uint32_t remaining;
	uint32_t length;  /* frames a full ramp takes */
};

void cl_ramp_init(struct cl_ramp *r, float value, uint32_t length_frames);
/* New target; the ramp restarts from the current value and takes `length`
 * frames. The same target again is a no-op; a non-finite one is ignored;
 * length 0 jumps. RT-safe. */
void cl_ramp_set(struct cl_ramp *r, float target);
/* Jump without ramping (initial state, offline set-up). */
void cl_ramp_jump(struct cl_ramp *r, float value);
/* Length of later ramps (after a sample-rate change). RT-safe. */
void cl_ramp_set_length(struct cl_ramp *r, uint32_t length_frames);
/* Next value; one call per frame. Computed from the target rather than
 * accumulated, so the ramp is monotonic and ends exactly on target. RT */
static inline float cl_ramp_next(struct cl_ramp *r)
{
	if (r->remaining == 0)
		return r->current;
	if (--r->remaining == 0)
		r->current = r->target;
	else
		r->current = r->target - r->step * (float)r->remaining;
	return r->current;
}
static inline bool cl_ramp_busy(const struct cl_ramp *r) { return r->remaining != 0; }

/*
 * Time spent in a process callback, as a histogram of CL_CYCLE_STEP_US
 * buckets, so a program can report its DSP cost (median, p99) without a
 * profiler. The audio thread writes; the main thread reads, tolerating a
 * count that moves while it reads (these are statistics).
 */
#define CL_CYCLE_BUCKETS 4096
#define CL_CYCLE_STEP_US 0.25      /* 0 .. 1024 us; slower cycles land in the last bucket */

struct cl_cycle_stats {
	uint32_t bucket[CL_CYCLE_BUCKETS];
	uint64_t cycles;
	double max_us;
};

/* A monotonic timestamp in ns (clock_gettime through the vDSO). RT */
uint64_t cl_cycle_begin(void);
/* Count one cycle that started at `began`. RT */
void cl_cycle_end(struct cl_cycle_stats *s, uint64_t began);
/* Median and 99th percentile in microseconds (0 when nothing counted). */
void cl_cycle_summary(const struct cl_cycle_stats *s, double *median_us, double *p99_us);

void cl_rt_enter(void); /* RT */
void cl_rt_leave(void); /* RT */

/* Set the FTZ/DAZ bits so denormals never slow the audio thread. RT */
void cl_rt_flush_denormals(void);

#endif
