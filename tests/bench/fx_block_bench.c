/*
 * fx-block-bench: time cl-fx's DSP alone, block by block, the way
 * lv2-block-host times an LV2 plugin's run(), so the two figures compare
 * like for like.
 *
 *   fx-block-bench CHAIN.json IN.wav [--block 128]
 *
 * It reads the chain document (cl-fx-chain/1) and builds the chain exactly
 * as `cl-fx --offline` does (same parser, same builder, same settling of
 * parameters and reset), reads the whole input into memory, sets FTZ/DAZ,
 * and then times only fx_chain_process() on blocks of --block frames with
 * CLOCK_MONOTONIC around each block. Automation lanes are refused: they
 * belong to the offline renderer, not to this DSP figure.
 *
 * Output: the same `result key=value ...` line as lv2-block-host, after
 * the output was checked finite and not silent (exit 1 otherwise).
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sndfile.h>

#include "chain.h"
#include "chaindoc.h"
#include "cl_rt.h"

#define MAX_BLOCK 8192
#define PREEMPTED_X 50.0        /* see dsp_total() */
#define PREEMPTED_S 200e-6

/* Print a message and exit 1. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fx-block-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* Seconds on the monotonic clock. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Compare two doubles for qsort. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The DSP time of all blocks, sorted: a block over PREEMPTED_X times the
 * median and over PREEMPTED_S is a preemption by another process (the
 * machine is shared), not work, and counts as the median; *preempted
 * says how many. lv2-block-host and fx-block-bench use the same rule. */
static double dsp_total(const double *sorted, uint64_t n, double median, uint64_t *preempted)
{
	double total = 0.0;
	*preempted = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (sorted[i] > PREEMPTED_X * median && sorted[i] > PREEMPTED_S) {
			total += median;
			++*preempted;
		} else {
			total += sorted[i];
		}
	}
	return total;
}

int main(int argc, char **argv)
{
	const char *chain_path = NULL, *in_path = NULL;
	uint32_t block = 128;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--block") == 0 && i + 1 < argc) {
			long b = atol(argv[++i]);
			if (b < 1 || b > MAX_BLOCK) {
				fprintf(stderr, "fx-block-bench: --block takes 1..%d\n", MAX_BLOCK);
				return 2;
			}
			block = (uint32_t)b;
		} else if (argv[i][0] != '-' && !chain_path) {
			chain_path = argv[i];
		} else if (argv[i][0] != '-' && !in_path) {
			in_path = argv[i];
		} else {
			fprintf(stderr, "usage: fx-block-bench CHAIN.json IN.wav [--block N]\n");
			return 2;
		}
	}
	if (!chain_path || !in_path) {
		fprintf(stderr, "usage: fx-block-bench CHAIN.json IN.wav [--block N]\n");
		return 2;
	}

	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(in_path, SFM_READ, &info);
	if (!sf)
		die("cannot read %s: %s", in_path, sf_strerror(NULL));
	if (info.channels < 1 || info.channels > FX_MAX_CHANNELS || info.frames <= 0)
		die("%s: %d channels, %lld frames: not usable", in_path, info.channels,
		    (long long)info.frames);
	const int channels = info.channels;
	const uint32_t rate = (uint32_t)info.samplerate;
	const uint64_t frames = (uint64_t)info.frames;
	float *inter = malloc(sizeof(float) * frames * (size_t)channels);
	if (!inter)
		die("out of memory");
	if (sf_readf_float(sf, inter, info.frames) != info.frames)
		die("%s: short read", in_path);
	sf_close(sf);
	float *input[FX_MAX_CHANNELS], *buf[FX_MAX_CHANNELS];
	for (int c = 0; c < channels; c++) {
		input[c] = malloc(sizeof(float) * frames);
		buf[c] = aligned_alloc(64, sizeof(float) * MAX_BLOCK);
		if (!input[c] || !buf[c])
			die("out of memory");
		for (uint64_t i = 0; i < frames; i++)
			input[c][i] = inter[i * (uint64_t)channels + (uint64_t)c];
	}
	free(inter);

	json_error_t jerr;
	json_t *doc = json_load_file(chain_path, 0, &jerr);
	if (!doc)
		die("%s:%d: %s", chain_path, jerr.line, jerr.text);
	static struct fx_doc d;
	char why[1024];
	uint32_t next_id = 1;
	if (fx_doc_parse(doc, channels, &d, why, sizeof why) != 0)
		die("%s: %s", chain_path, why);
	if (d.nlanes)
		die("%s: automation lanes are not timed here; use cl-fx --offline", chain_path);
	struct fx_chain *chain = fx_doc_build(&d, rate, channels, &next_id, why, sizeof why);
	if (!chain)
		die("%s: %s", chain_path, why);
	fx_chain_set_tempo(chain, 120.0);
	for (int i = 0; i < chain->count; i++)
		if (chain->slot[i]->type->reset)
			chain->slot[i]->type->reset(chain->slot[i]->fx);
	printf("chain %s: %d effect%s:", chain_path, chain->count, chain->count == 1 ? "" : "s");
	for (int i = 0; i < chain->count; i++)
		printf(" %s", chain->slot[i]->type->id);
	printf(", %d channel%s, %u Hz, latency %u frames\n", channels, channels == 1 ? "" : "s",
	       rate, fx_chain_latency(chain));

	cl_rt_flush_denormals();
	uint64_t nblocks = (frames + block - 1) / block;
	double *block_s = malloc(sizeof(double) * nblocks);
	if (!block_s)
		die("out of memory");
	double total = 0.0, sum_sq = 0.0, peak = 0.0;
	bool finite = true;
	uint64_t b = 0;
	for (uint64_t pos = 0; pos < frames; pos += block, b++) {
		uint32_t n = (uint32_t)(frames - pos < block ? frames - pos : block);
		for (int c = 0; c < channels; c++)
			memcpy(buf[c], input[c] + pos, sizeof(float) * n);
		double t0 = now_s();
		fx_chain_process(chain, buf, n);
		double dt = now_s() - t0;
		block_s[b] = dt;
		total += dt;
		for (int c = 0; c < channels; c++)
			for (uint32_t i = 0; i < n; i++) {
				double v = buf[c][i];
				if (!isfinite(v))
					finite = false;
				else {
					sum_sq += v * v;
					if (fabs(v) > peak)
						peak = fabs(v);
				}
			}
	}
	double total_raw = total;
	uint64_t preempted = 0;
	qsort(block_s, nblocks, sizeof(double), cmp_double);
	total = dsp_total(block_s, nblocks, block_s[nblocks / 2], &preempted);
	double seconds = (double)frames / rate;
	double rms = sqrt(sum_sq / ((double)frames * channels));
	double rms_db = rms > 0 ? 20.0 * log10(rms) : -999.0;
	double peak_db = peak > 0 ? 20.0 * log10(peak) : -999.0;
	printf("result realtime=%.1f dsp_s=%.6f realtime_raw=%.1f preempted=%llu frames=%llu channels=%d "
	       "rate=%u block=%u blocks=%llu us_per_block_median=%.3f us_per_block_p99=%.3f "
	       "us_per_block_max=%.3f out_rms_db=%.1f out_peak_db=%.1f finite=%d\n",
	       total > 0 ? seconds / total : 0.0, total, total_raw > 0 ? seconds / total_raw : 0.0,
	       (unsigned long long)preempted, (unsigned long long)frames, channels, rate,
	       block, (unsigned long long)nblocks, block_s[nblocks / 2] * 1e6,
	       block_s[(uint64_t)((double)(nblocks - 1) * 0.99)] * 1e6, block_s[nblocks - 1] * 1e6,
	       rms_db, peak_db, finite ? 1 : 0);
	free(block_s);
	fx_chain_free_all(chain);
	fx_doc_free(&d);
	json_decref(doc);
	for (int c = 0; c < channels; c++) {
		free(input[c]);
		free(buf[c]);
	}
	if (!finite)
		die("the output has NaN or Inf samples");
	if (rms_db < -90.0)
		die("the output is silent (RMS %.1f dBFS)", rms_db);
	return 0;
}
