/*
 * cl_simd: four-float vectors (GCC vector extensions) for the DSP loops
 * that GCC 12 at -O2 does not vectorise by itself. Portable: the compiler
 * lowers them to SSE, NEON or scalar code as the target allows.
 */
#ifndef CL_SIMD_H
#define CL_SIMD_H

#include <stdint.h>
#include <string.h>

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));

/* Four floats from p, aligned or not. */
static inline v4f v4f_load(const float *p)
{
	v4f v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* Four floats to p, aligned or not. */
static inline void v4f_store(float *p, v4f v)
{
	memcpy(p, &v, sizeof v);
}

/* Lane-wise a < b ? a : b and a > b ? a : b: b wins when a is NaN, like
 * the scalar a < b ? a : b (minss/maxss), so vector and scalar code agree
 * bit for bit and a NaN sample never sticks in a running peak. */
static inline v4f v4f_min(v4f a, v4f b)
{
	v4i a_less = a < b;
	return (v4f)((a_less & (v4i)a) | (~a_less & (v4i)b));
}

/* See v4f_min. */
static inline v4f v4f_max(v4f a, v4f b)
{
	v4i a_more = a > b;
	return (v4f)((a_more & (v4i)a) | (~a_more & (v4i)b));
}

/* Lane-wise |v| (clears the sign bits). */
static inline v4f v4f_abs(v4f v)
{
	return (v4f)((v4i)v & 0x7fffffff);
}

/* The largest lane. */
static inline float v4f_hmax(v4f v)
{
	float m = v[0];
	for (int j = 1; j < 4; j++)
		m = v[j] > m ? v[j] : m;
	return m;
}

/* The sum of the lanes, pairwise. */
static inline float v4f_hsum(v4f v)
{
	return (v[0] + v[1]) + (v[2] + v[3]);
}

#endif
