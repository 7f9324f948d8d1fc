/*
 * bench-mix-floor: the arithmetic floor of a 64-strip live mix, for
 * bench_mixer.py to print beside cl-mixer and jack_mix_box.
 *
 * One period is what any mixer must compute for 64 stereo strips with a
 * fader, a pan and 4 post-fader sends into a stereo master and 4 stereo
 * aux buses, on 64-frame blocks: per strip and frame, two products for
 * the panned fader, then 2 adds into the master and 8 multiply-adds into
 * the aux buses. Nothing else: no ramps, meters, denormal guards, port
 * lookups or wake-ups. That is everything a real mixer spends beyond this
 * figure.
 *
 * The block size is a compile-time constant and the gains are plain
 * floats per strip, so gcc -O2 vectorises the frame loop as a well
 * written engine would be (SSE2: the build's flags, no -march=native).
 * Inputs come from a pool of blocks in turn and a compiler barrier after
 * each period marks the outputs as read, so no period can be hoisted or
 * dropped; a checksum of the last outputs is printed. The run is timed
 * FLOOR_REPEATS times and the median reported (the machine is shared).
 *
 * Output, one line:  periods N us_per_period X checksum C
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FLOOR_FRAMES 64
#define FLOOR_STRIPS 64
#define FLOOR_AUX 4            /* floor_period() spells out the 4 sends */
#define FLOOR_POOL 8           /* distinct input blocks cycled through */
#define FLOOR_REPEATS 7
#define FLOOR_DEFAULT_PERIODS 20000

struct floor_mix {
	/* inputs: pool of blocks, strip-major, left then right */
	float in[FLOOR_POOL][FLOOR_STRIPS][2][FLOOR_FRAMES];
	float gain_l[FLOOR_STRIPS], gain_r[FLOOR_STRIPS]; /* fader x pan law */
	float send[FLOOR_STRIPS][FLOOR_AUX];              /* linear, post fader */
	float master[2][FLOOR_FRAMES];
	float aux[FLOOR_AUX][2][FLOOR_FRAMES];
};

/* Monotonic seconds. */
static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Fill the inputs with noise and set fader -6 dB, pans spread over
 * -1..1 (constant-power law) and every send at -10 dB. */
static void floor_init(struct floor_mix *m)
{
	unsigned seed = 12345;
	for (int b = 0; b < FLOOR_POOL; b++)
		for (int s = 0; s < FLOOR_STRIPS; s++)
			for (int c = 0; c < 2; c++)
				for (int i = 0; i < FLOOR_FRAMES; i++) {
					seed = seed * 1664525u + 1013904223u; /* LCG */
					m->in[b][s][c][i] = (float)((double)(seed >> 8) / 8388608.0 - 1.0) * 0.25f;
				}
	const float fader = powf(10.0f, -6.0f / 20.0f);
	const float send = powf(10.0f, -10.0f / 20.0f);
	for (int s = 0; s < FLOOR_STRIPS; s++) {
		float p = -1.0f + 2.0f * (float)s / (float)(FLOOR_STRIPS - 1);
		/* left = sqrt((1-p)/2), right = sqrt((1+p)/2): the suite's pan law */
		m->gain_l[s] = fader * sqrtf((1.0f - p) * 0.5f);
		m->gain_r[s] = fader * sqrtf((1.0f + p) * 0.5f);
		for (int k = 0; k < FLOOR_AUX; k++)
			m->send[s][k] = send;
	}
}

/* Mix one period of the input buffers in[2s], in[2s+1] (like JACK port
 * buffers: an array of pointers) into out[0..1] (master) and out[2..9]
 * (aux buses), one pass over the frames per strip for all ten outputs.
 * The buffers do not overlap (port buffers never do); ivdep says so, as
 * gcc's -O2 cost model will not version a loop for aliasing, and the
 * frame loop is then vectorised. */
static void floor_mix_block(const struct floor_mix *m, const float *const *in,
			    float *const *out)
{
	float *master_l = out[0], *master_r = out[1];
	float *a0l = out[2], *a0r = out[3];
	float *a1l = out[4], *a1r = out[5];
	float *a2l = out[6], *a2r = out[7];
	float *a3l = out[8], *a3r = out[9];
	for (int c = 0; c < 2 + 2 * FLOOR_AUX; c++)
		memset(out[c], 0, FLOOR_FRAMES * sizeof(float));
	for (int s = 0; s < FLOOR_STRIPS; s++) {
		const float *in_l = in[2 * s], *in_r = in[2 * s + 1];
		const float gl = m->gain_l[s], gr = m->gain_r[s];
		const float s0 = m->send[s][0], s1 = m->send[s][1];
		const float s2 = m->send[s][2], s3 = m->send[s][3];
#pragma GCC ivdep
		for (int i = 0; i < FLOOR_FRAMES; i++) {
			const float l = in_l[i] * gl, r = in_r[i] * gr;
			master_l[i] += l;
			master_r[i] += r;
			a0l[i] += l * s0;
			a0r[i] += r * s0;
			a1l[i] += l * s1;
			a1r[i] += r * s1;
			a2l[i] += l * s2;
			a2r[i] += r * s2;
			a3l[i] += l * s3;
			a3r[i] += r * s3;
		}
	}
}

/* Mix one period from input block b of the pool. */
static void floor_period(struct floor_mix *m, int b)
{
	const float *in[2 * FLOOR_STRIPS];
	float *out[2 + 2 * FLOOR_AUX] = { m->master[0], m->master[1] };
	for (int s = 0; s < FLOOR_STRIPS; s++) {
		in[2 * s] = m->in[b][s][0];
		in[2 * s + 1] = m->in[b][s][1];
	}
	for (int k = 0; k < FLOOR_AUX; k++) {
		out[2 + 2 * k] = m->aux[k][0];
		out[3 + 2 * k] = m->aux[k][1];
	}
	floor_mix_block(m, in, out);
}

/* Sum of every output sample of the last period: keeps the work alive. */
static double floor_checksum(const struct floor_mix *m)
{
	double sum = 0.0;
	for (int i = 0; i < FLOOR_FRAMES; i++) {
		sum += m->master[0][i] + m->master[1][i];
		for (int k = 0; k < FLOOR_AUX; k++)
			sum += m->aux[k][0][i] + m->aux[k][1][i];
	}
	return sum;
}

/* Compare doubles for qsort. */
static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long periods = FLOOR_DEFAULT_PERIODS;
	if (argc > 2 || (argc == 2 && (periods = strtol(argv[1], NULL, 10)) < 1)) {
		fprintf(stderr, "usage: bench-mix-floor [PERIODS]  (default %d)\n"
			"Times the bare arithmetic of %d stereo strips with pan and %d sends\n"
			"on %d-frame blocks; prints 'periods N us_per_period X checksum C'.\n",
			FLOOR_DEFAULT_PERIODS, FLOOR_STRIPS, FLOOR_AUX, FLOOR_FRAMES);
		return 2;
	}
	struct floor_mix *m = malloc(sizeof *m);
	if (!m) {
		fputs("bench-mix-floor: out of memory\n", stderr);
		return 1;
	}
	floor_init(m);
	double us[FLOOR_REPEATS], checksum = 0.0;
	for (int r = 0; r < FLOOR_REPEATS; r++) {
		double t0 = now_seconds();
		for (long p = 0; p < periods; p++) {
			floor_period(m, (int)(p % FLOOR_POOL));
			/* the outputs count as read: no period may be skipped */
			__asm__ volatile("" : : "r"(m) : "memory");
		}
		us[r] = (now_seconds() - t0) * 1e6 / (double)periods;
		checksum += floor_checksum(m);
	}
	qsort(us, FLOOR_REPEATS, sizeof us[0], compare_double);
	printf("periods %ld us_per_period %.4f checksum %.6g\n", periods,
	       us[FLOOR_REPEATS / 2], checksum);
	free(m);
	return 0;
}
