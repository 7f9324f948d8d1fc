/*
 * cl-fx saturation, distortion and waveshaper against known answers:
 * aliasing of a 10 kHz sine at full drive (worst component from 20 Hz to
 * 5 kHz, also for the same curves run naively at 48 kHz), the saturation
 * curve against tanh, small-signal gain = drive, a flat response at small
 * signal from 20 Hz to 20 kHz, mix 0 = the dry signal
 * delayed by latency() bit for bit, mix 50% at unity gain (no comb),
 * even harmonics of the clipper with and without asymmetry, Chebyshev
 * weights giving exactly their harmonic, the points curve (straight or
 * monotone cubic: identity by default, and a given point set followed
 * sample by sample), DC after asymmetric clipping,
 * extremes of every parameter (no NaN or Inf, bounded), block-size
 * independence (bit-identical, also while glides move), reset, clicks on
 * one-step parameter changes. Ends with a timing print.
 *
 * All of it runs twice: with the loops the CPU runs fastest (an AVX2 +
 * FMA copy where it has them) and with the portable copy
 * (CL_FX_SIMD=baseline); then the two copies must agree within 1e-4.
 *
 * Levels are read by a DFT over a whole number of periods (exact bins)
 * where the signal is periodic, and by a Blackman-Harris windowed FFT
 * where anything could appear (the alias scan).
 */
#include "cl_check.h"
#include "effect.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 48000
#define FFT_N 65536

static uint32_t seed = 20240611;

static float noise(void)
{
	seed = seed * 1664525u + 1013904223u;
	return (float)((int32_t)seed) / 2147483648.0f;
}

static float *buffer(size_t frames)
{
	float *b = calloc(frames, sizeof *b);
	if (b == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return b;
}

static void *make(const struct fx_type *t, uint32_t rate, int channels)
{
	void *fx = t->create(rate, channels);
	if (fx == NULL) {
		fprintf(stderr, "%s: create(%u, %d) failed\n", t->id, rate, channels);
		exit(1);
	}
	return fx;
}

/* Set parameter `name` (clamped as the rack would); a missing name fails. */
static void set(const struct fx_type *t, void *fx, const char *name, float value)
{
	int i = fx_param_index(t, name);
	if (i < 0) {
		fprintf(stderr, "%s has no parameter %s\n", t->id, name);
		exit(1);
	}
	t->set(fx, i, fx_param_clamp(&t->params[i], value));
}

/* Process `frames` of `channels` buffers in blocks of `block`. */
static void run(const struct fx_type *t, void *fx, float **ch, int channels, size_t frames, size_t block)
{
	for (size_t off = 0; off < frames; off += block) {
		size_t n = frames - off < block ? frames - off : block;
		float *p[8];
		for (int c = 0; c < channels; c++)
			p[c] = ch[c] + off;
		t->process(fx, p, (uint32_t)n);
	}
}

/* A mono signal through a fresh instance with the given settings. */
struct setting {
	const char *name;
	float value;
};

static void mono(const struct fx_type *t, const struct setting *s, float *x, size_t frames)
{
	void *fx = make(t, RATE, 1);
	for (; s && s->name; s++)
		set(t, fx, s->name, s->value);
	run(t, fx, &x, 1, frames, 128);
	t->destroy(fx);
}

static void sine(float *x, size_t frames, double freq, double amp)
{
	for (size_t i = 0; i < frames; i++)
		x[i] = (float)(amp * sin(2.0 * M_PI * freq * (double)i / RATE));
}

/* Amplitude of the component at freq over x[0..n), n a whole number of
 * its periods (an exact DFT bin). */
static double amplitude(const float *x, size_t n, double freq)
{
	double re = 0.0, im = 0.0;
	for (size_t i = 0; i < n; i++) {
		double ph = 2.0 * M_PI * freq * (double)i / RATE;
		re += x[i] * cos(ph);
		im -= x[i] * sin(ph);
	}
	return 2.0 * sqrt(re * re + im * im) / (double)n;
}

static double db(double v)
{
	return 20.0 * log10(v > 1e-30 ? v : 1e-30);
}

/* ---- the alias scan ------------------------------------------------------ */

static void fft(double *re, double *im, int n)
{
	for (int i = 1, j = 0; i < n; i++) {
		int bit = n >> 1;
		for (; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			double t = re[i];
			re[i] = re[j];
			re[j] = t;
			t = im[i];
			im[i] = im[j];
			im[j] = t;
		}
	}
	for (int len = 2; len <= n; len <<= 1) {
		double ang = -2.0 * M_PI / len;
		for (int k = 0; k < len / 2; k++) {
			double c = cos(ang * k), s = sin(ang * k);
			for (int i = 0; i < n; i += len) {
				int a = i + k, b = a + len / 2;
				double xr = re[b] * c - im[b] * s, xi = re[b] * s + im[b] * c;
				re[b] = re[a] - xr;
				im[b] = im[a] - xi;
				re[a] += xr;
				im[a] += xi;
			}
		}
	}
}

/* Worst component between 20 Hz and 5 kHz relative to the one at f0, in
 * dB: power spectrum under a 4-term Blackman-Harris window (side lobes
 * -92 dB), each tone's power summed over +-4 bins (its main lobe). */
static double worst_alias(const float *x, double f0, double *where)
{
	static double re[FFT_N], im[FFT_N], pw[FFT_N / 2];
	for (int i = 0; i < FFT_N; i++) {
		double t = 2.0 * M_PI * i / FFT_N;
		double w = 0.35875 - 0.48829 * cos(t) + 0.14128 * cos(2 * t) - 0.01168 * cos(3 * t);
		re[i] = x[i] * w;
		im[i] = 0.0;
	}
	fft(re, im, FFT_N);
	for (int i = 0; i < FFT_N / 2; i++)
		pw[i] = re[i] * re[i] + im[i] * im[i];
	int k0 = (int)lround(f0 * FFT_N / RATE);
	double p0 = 0.0;
	for (int k = k0 - 4; k <= k0 + 4; k++)
		p0 += pw[k];
	double worst = 0.0;
	int lo = (int)ceil(20.0 * FFT_N / RATE), hi = (int)floor(5000.0 * FFT_N / RATE);
	for (int k = lo; k <= hi; k++) {
		double p = 0.0;
		for (int j = k - 4; j <= k + 4; j++)
			p += pw[j];
		if (p > worst) {
			worst = p;
			*where = (double)k * RATE / FFT_N;
		}
	}
	return 10.0 * log10(worst / p0 + 1e-300);
}

/* The curves as the module defines them, run naively at 48 kHz. */
static float naive_saturation(float x, float drive_db)
{
	static const double c[5] = {2.6825, -5.385, 7.935, -5.945, 1.7125};
	double v = x * pow(10.0, drive_db / 20.0) / 2.6825;
	if (v >= 1.0)
		return 1.0f;
	if (v <= -1.0)
		return -1.0f;
	double v2 = v * v;
	return (float)(v * (c[0] + v2 * (c[1] + v2 * (c[2] + v2 * (c[3] + v2 * c[4])))));
}

static float naive_clip(float x, float drive_db, float lo, float hi)
{
	float v = x * powf(10.0f, drive_db / 20.0f);
	return v > hi ? hi : v < lo ? lo : v;
}

/* The waveshaper's curve: sum h_k (T_k(v) - T_k(0)) / max(1, sum |h_k|),
 * T_k(v) = cos(k acos v) on the clamped input. */
static float naive_chebyshev(float x, float drive_db, const float h[6])
{
	double v = x * pow(10.0, drive_db / 20.0), total = 0.0, y = 0.0;
	v = v > 1.0 ? 1.0 : v < -1.0 ? -1.0 : v;
	for (int k = 1; k <= 6; k++) {
		y += h[k - 1] * (cos(k * acos(v)) - cos(k * M_PI / 2.0));
		total += fabs(h[k - 1]);
	}
	return (float)(y / (total > 1.0 ? total : 1.0));
}

/* A full-scale 10 kHz sine at full drive: the worst component from 20 Hz
 * to 5 kHz must be 60 dB under the fundamental, and the same curve run
 * at 48 kHz without oversampling must be far worse (both printed). */
static void check_aliasing(void)
{
	static const float all_weights[6] = {1, 1, -1, 1, -1, 1};
	const size_t skip = 8192, frames = skip + FFT_N;
	float *x = buffer(frames), *naive = buffer(frames);
	struct {
		const struct fx_type *t;
		struct setting s[8];
		const char *what;
		int curve;        /* naive reference: 0 saturation, 1 clip, 2 clip at lo -0.5, 3 all_weights */
		float drive;
	} cases[] = {
		{&fx_saturation, {{"drive", 36}, {NULL, 0}}, "saturation, drive 36 dB", 0, 36},
		{&fx_distortion, {{"drive", 48}, {NULL, 0}}, "distortion, drive 48 dB", 1, 48},
		{&fx_distortion, {{"drive", 48}, {"asymmetry", 0.5f}, {NULL, 0}},
		 "distortion, drive 48 dB, asymmetry 0.5", 2, 48},
		{&fx_distortion, {{"drive", 20}, {"asymmetry", 0.5f}, {NULL, 0}},
		 "distortion, drive 20 dB, asymmetry 0.5", 2, 20},
		{&fx_waveshaper, {{"drive", 24}, {NULL, 0}}, "waveshaper, drive 24 dB, h1 = 1", 1, 24},
		{&fx_waveshaper, {{"drive", 24}, {"h2", 1}, {"h3", -1}, {"h4", 1}, {"h5", -1}, {"h6", 1}, {NULL, 0}},
		 "waveshaper, drive 24 dB, h1..h6 = 1 1 -1 1 -1 1", 3, 24},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		sine(x, frames, 10000.0, 1.0);
		for (size_t i = 0; i < frames; i++) {
			switch (cases[c].curve) {
			case 0: naive[i] = naive_saturation(x[i], cases[c].drive); break;
			case 1: naive[i] = naive_clip(x[i], cases[c].drive, -1.0f, 1.0f); break;
			case 2: naive[i] = naive_clip(x[i], cases[c].drive, -0.5f, 1.0f); break;
			default: naive[i] = naive_chebyshev(x[i], cases[c].drive, all_weights); break;
			}
		}
		mono(cases[c].t, cases[c].s, x, frames);
		double at = 0.0, nat = 0.0;
		double ours = worst_alias(x + skip, 10000.0, &at);
		double theirs = worst_alias(naive + skip, 10000.0, &nat);
		printf("  alias %-48s worst %6.1f dB at %4.0f Hz; naive at 48 kHz %6.1f dB at %4.0f Hz\n",
		       cases[c].what, ours, at, theirs, nat);
		CHECK(theirs > ours + 20.0, "%s: naive %.1f dB not far worse than %.1f dB", cases[c].what,
		      theirs, ours);
		CHECK(ours <= -60.0, "%s: alias below 5 kHz at %.1f dB (> -60 dB)", cases[c].what, ours);
	}
	free(x);
	free(naive);
}

/* ---- known answers -------------------------------------------------------- */

/* A slow sine through saturation at drive 0 gives the curve itself: it
 * is within 0.0114 of tanh everywhere (plus a little for the filters). */
static void check_tanh(void)
{
	const size_t frames = 48000;
	float *x = buffer(frames), *y = buffer(frames);
	sine(x, frames, 20.0, 4.0);
	memcpy(y, x, frames * sizeof *x);
	struct setting s[] = {{"drive", 0}, {NULL, 0}};
	mono(&fx_saturation, s, y, frames);
	void *fx = make(&fx_saturation, RATE, 1);
	uint32_t lat = fx_saturation.latency(fx);
	fx_saturation.destroy(fx);
	double worst = 0.0;
	for (size_t i = 4800; i < frames; i++) {
		double e = fabs(y[i] - tanh(x[i - lat]));
		if (e > worst)
			worst = e;
	}
	printf("  saturation curve vs tanh: max |error| %.4f\n", worst);
	CHECK(worst < 0.0125, "saturation curve off tanh by %.4f", worst);
	free(x);
	free(y);
}

/* -60 dBFS at 1 kHz comes out `drive` dB louder (no level compensation). */
static void check_small_signal(void)
{
	const size_t skip = 4800, n = 48000, frames = skip + n;
	float *x = buffer(frames);
	const float drives[] = {0, 6, 12, 24, 36};
	for (size_t d = 0; d < sizeof drives / sizeof drives[0]; d++) {
		sine(x, frames, 1000.0, 0.001);
		struct setting s[] = {{"drive", drives[d]}, {NULL, 0}};
		mono(&fx_saturation, s, x, frames);
		double gain = db(amplitude(x + skip, n, 1000.0) / 0.001);
		CHECK(fabs(gain - drives[d]) <= 0.1, "small-signal gain %.3f dB at drive %.0f dB",
		      gain, drives[d]);
		if (d == sizeof drives / sizeof drives[0] - 1)
			printf("  small signal: drive 36 dB -> gain %.3f dB\n", gain);
	}
	free(x);
}

/* The processed path at small signal (the curve is straight there) is
 * flat: oversampling filters and the ADAA mean with its fix within
 * +-0.03 dB from 20 Hz to 20 kHz. */
static void check_response(void)
{
	const size_t skip = 4800, n = 48000, frames = skip + n;
	float *x = buffer(frames);
	const double freqs[] = {20, 100, 1000, 5000, 10000, 15000, 18000, 20000};
	double worst = 0.0;
	for (int f = 0; f < 8; f++) {
		sine(x, frames, freqs[f], 0.001);
		struct setting s[] = {{"drive", 0}, {NULL, 0}};
		mono(&fx_saturation, s, x, frames);
		double gain = db(amplitude(x + skip, n, freqs[f]) / 0.001);
		CHECK(fabs(gain) <= 0.03, "saturation at -60 dBFS: %.4f dB at %.0f Hz", gain, freqs[f]);
		if (fabs(gain) > fabs(worst))
			worst = gain;
	}
	printf("  saturation drive 0 at -60 dBFS, 20 Hz..20 kHz: flat within %.4f dB\n", worst);
	free(x);
}

/* Mix 0 is the input delayed by latency(), bit for bit, at any drive. */
static void check_dry(void)
{
	const struct fx_type *types[] = {&fx_saturation, &fx_distortion, &fx_waveshaper};
	const uint32_t rates[] = {44100, 48000, 96000};
	const size_t frames = 10000;
	float *x = buffer(frames), *y = buffer(frames);
	uint32_t first = 0;
	for (int t = 0; t < 3; t++) {
		for (int r = 0; r < 3; r++) {
			void *fx = make(types[t], rates[r], 1);
			uint32_t lat = types[t]->latency(fx);
			if (t == 0 && r == 0)
				first = lat;
			/* the filters scale with the rate: the same frames everywhere */
			CHECK(lat == first && lat > 0 && lat <= 64, "%s at %u Hz: latency %u (first %u)",
			      types[t]->id, rates[r], lat, first);
			set(types[t], fx, "mix", 0);
			set(types[t], fx, "drive", 1000);
			for (size_t i = 0; i < frames; i++)
				x[i] = y[i] = noise();
			run(types[t], fx, &y, 1, frames, 100);
			size_t bad = 0;
			for (size_t i = 0; i < frames; i++)
				bad += y[i] != (i >= lat ? x[i - lat] : 0.0f);
			CHECK(bad == 0, "%s at %u Hz: mix 0 differs from the delayed input at %zu frames",
			      types[t]->id, rates[r], bad);
			types[t]->destroy(fx);
		}
	}
	printf("  mix 0: the input delayed by latency() = %u frames, bit-exact\n", first);
	free(x);
	free(y);
}

/* Mix 50% at drive 0: wet and dry line up, so a sine keeps its level. */
static void check_half_mix(void)
{
	const size_t skip = 4800, n = 48000, frames = skip + n;
	float *x = buffer(frames);
	const double freqs[] = {100, 1000, 5000, 10000};
	const struct fx_type *types[] = {&fx_saturation, &fx_waveshaper};
	for (int t = 0; t < 2; t++) {
		double worst = 0.0;
		for (int f = 0; f < 4; f++) {
			sine(x, frames, freqs[f], 0.1);
			struct setting s[] = {{"drive", 0}, {"mix", 50}, {NULL, 0}};
			mono(types[t], s, x, frames);
			double gain = db(amplitude(x + skip, n, freqs[f]) / 0.1);
			CHECK(fabs(gain) <= 0.1, "%s mix 50%%: %.3f dB at %.0f Hz", types[t]->id, gain, freqs[f]);
			if (fabs(gain) > fabs(worst))
				worst = gain;
		}
		printf("  %s mix 50%%, drive 0, -20 dBFS 100 Hz..10 kHz: worst %.3f dB\n", types[t]->id, worst);
	}
	free(x);
}

/* The clipper's 2nd harmonic: none when symmetric, plenty when not; and
 * the DC that asymmetry makes is removed. */
static void check_distortion_harmonics(void)
{
	const size_t skip = 48000, n = 48000, frames = skip + n;
	float *x = buffer(frames);
	const float drives[] = {6, 20, 48};
	for (int d = 0; d < 3; d++) {
		sine(x, frames, 1000.0, 1.0);
		struct setting s[] = {{"drive", drives[d]}, {"asymmetry", 0}, {NULL, 0}};
		mono(&fx_distortion, s, x, frames);
		double h1 = amplitude(x + skip, n, 1000.0), h2 = amplitude(x + skip, n, 2000.0);
		CHECK(db(h2 / h1) < -90.0, "symmetric clip at %.0f dB: 2nd harmonic %.1f dB", drives[d],
		      db(h2 / h1));
		if (d == 2)
			printf("  distortion asymmetry 0, drive 48 dB: 2nd harmonic %.1f dB\n", db(h2 / h1));
	}
	const float asym[] = {0.5f, 1.0f, -0.5f};
	for (int a = 0; a < 3; a++) {
		sine(x, frames, 1000.0, 1.0);
		struct setting s[] = {{"drive", 6}, {"asymmetry", asym[a]}, {NULL, 0}};
		mono(&fx_distortion, s, x, frames);
		double h1 = amplitude(x + skip, n, 1000.0), h2 = amplitude(x + skip, n, 2000.0);
		CHECK(db(h2 / h1) > -40.0, "asymmetry %.1f at 6 dB: 2nd harmonic only %.1f dB", asym[a],
		      db(h2 / h1));
		if (a == 0)
			printf("  distortion asymmetry 0.5, drive 6 dB: 2nd harmonic %.1f dB\n", db(h2 / h1));
	}
	/* DC after asymmetric clipping at full drive, after 1 s */
	for (int a = 0; a < 2; a++) {
		sine(x, frames, 1000.0, 1.0);
		struct setting s[] = {{"drive", 48}, {"asymmetry", asym[a]}, {NULL, 0}};
		mono(&fx_distortion, s, x, frames);
		double mean = 0.0;
		for (size_t i = skip; i < frames; i++)
			mean += x[i];
		mean /= (double)n;
		CHECK(db(fabs(mean)) < -60.0, "asymmetry %.1f: DC %.1f dBFS after settling", asym[a],
		      db(fabs(mean)));
		if (a == 1)
			printf("  distortion asymmetry 1, drive 48 dB: DC %.1f dBFS after 1 s\n", db(fabs(mean)));
	}
	free(x);
}

/* Weight h_k alone turns a full-scale sine of f into k f at full level,
 * everything else at least 60 dB down. */
static void check_chebyshev(void)
{
	const size_t skip = 48000, n = 48000, frames = skip + n;
	float *x = buffer(frames);
	for (int k = 1; k <= 6; k++) {
		sine(x, frames, 500.0, 1.0);
		char name[4] = {'h', (char)('0' + k), 0};
		struct setting s[] = {{"h1", 0}, {name, 1}, {NULL, 0}};
		mono(&fx_waveshaper, s, x, frames);
		double main = amplitude(x + skip, n, 500.0 * k), other = 0.0;
		for (int j = 1; j <= 12; j++)
			if (j != k && amplitude(x + skip, n, 500.0 * j) > other)
				other = amplitude(x + skip, n, 500.0 * j);
		CHECK(fabs(db(main)) <= 0.1, "h%d = 1: harmonic %d at %.3f dBFS", k, k, db(main));
		CHECK(db(other / main) < -60.0, "h%d = 1: other harmonics at %.1f dB", k, db(other / main));
		if (k == 2)
			printf("  waveshaper h2 = 1: 2f at %.3f dBFS, f and the rest %.1f dB under\n", db(main),
			       db(other / main));
	}
	free(x);
}

/* ---- robustness ------------------------------------------------------------ */

/* The points curve (modes 1 and 2) against its definition: x_k = -1 +
 * k / 4, the value p_(k+1) there, straight lines or Fritsch-Carlson
 * monotone cubic pieces between. ref_points() computes it here, from the
 * definition (checked on known values first). */
static const double test_p[9] = {-1, -0.9, -0.7, -0.4, 0, 0.4, 0.7, 0.9, 1};

static double ref_points(double x, const double *p, bool smooth)
{
	if (x <= -1.0)
		return p[0];
	if (x >= 1.0)
		return p[8];
	int k = (int)floor((x + 1.0) * 4.0);
	if (k > 7)
		k = 7;
	double t = (x - (-1.0 + 0.25 * k)) * 4.0;
	if (!smooth)
		return p[k] + t * (p[k + 1] - p[k]);
	double d[8], m[9];
	for (int i = 0; i < 8; i++)
		d[i] = (p[i + 1] - p[i]) * 4.0;
	m[0] = d[0];
	m[8] = d[7];
	for (int i = 1; i < 8; i++)
		m[i] = d[i - 1] * d[i] > 0.0 ? (d[i - 1] + d[i]) / 2.0 : 0.0;
	for (int i = 0; i < 8; i++) {
		if (d[i] == 0.0) {
			m[i] = m[i + 1] = 0.0;
			continue;
		}
		double a = m[i] / d[i], b = m[i + 1] / d[i];
		if (a * a + b * b > 9.0) {
			m[i] = 3.0 * a * d[i] / sqrt(a * a + b * b);
			m[i + 1] = 3.0 * b * d[i] / sqrt(a * a + b * b);
		}
	}
	double h00 = 2 * t * t * t - 3 * t * t + 1, h10 = t * t * t - 2 * t * t + t;
	double h01 = -2 * t * t * t + 3 * t * t, h11 = t * t * t - t * t;
	return h00 * p[k] + h10 * 0.25 * m[k] + h01 * p[k + 1] + h11 * 0.25 * m[k + 1];
}

static void check_points(void)
{
	/* the reference itself, on known values */
	CHECK(fabs(ref_points(0.125, test_p, false) - 0.2) < 1e-12 &&
	      fabs(ref_points(0.6, test_p, false) - 0.78) < 1e-12 &&
	      fabs(ref_points(-0.5, test_p, true) + 0.7) < 1e-12 &&
	      fabs(ref_points(0.3, test_p, true) - ref_points(-0.3, test_p, true) * -1.0) < 1e-12,
	      "reference curve: lines give 0.2 at 0.125 and 0.78 at 0.6, the cubic meets its points");

	/* the default points are the identity: a sine passes unchanged */
	const size_t skip = 4800, n = 48000, frames = skip + n;
	float *x = buffer(frames);
	for (int mode = 1; mode <= 2; mode++) {
		sine(x, frames, 1000.0, 0.7);
		struct setting s[] = {{"mode", (float)mode}, {NULL, 0}};
		mono(&fx_waveshaper, s, x, frames);
		double a1 = amplitude(x + skip, n, 1000.0), other = 0.0;
		for (int h = 2; h <= 10; h++)
			other = fmax(other, amplitude(x + skip, n, 1000.0 * h));
		printf("  waveshaper mode %d, default points: 1 kHz at %+.4f dB, harmonics %.1f dB under\n",
		       mode, db(a1 / 0.7), db(other / a1));
		CHECK(fabs(db(a1 / 0.7)) <= 0.05, "mode %d identity points: gain %.4f dB", mode, db(a1 / 0.7));
		CHECK(db(other / a1) < -90.0, "mode %d identity points: harmonics at %.1f dB", mode,
		      db(other / a1));
	}
	free(x);

	/* a curve through given points: a slow full-scale sine comes out as
	 * the curve of its input, after the 5 Hz DC blocker (modelled here) */
	const size_t len = 48000;
	float *in = buffer(len), *out = buffer(len);
	for (int mode = 1; mode <= 2; mode++) {
		sine(in, len, 20.0, 1.0);
		memcpy(out, in, len * sizeof *in);
		struct setting s[12] = {{"mode", (float)mode}};
		static const char *names[9] = {"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"};
		for (int k = 0; k < 9; k++)
			s[1 + k] = (struct setting){names[k], (float)test_p[k]};
		s[10] = (struct setting){NULL, 0};
		mono(&fx_waveshaper, s, out, len);
		void *fx = make(&fx_waveshaper, RATE, 1);
		uint32_t lat = fx_waveshaper.latency(fx);
		fx_waveshaper.destroy(fx);
		const double r = 1.0 - 2.0 * M_PI * 5.0 / RATE;
		double px = 0.0, py = 0.0, worst = 0.0;
		for (size_t i = 0; i < len; i++) {
			double f = i >= lat ? ref_points(in[i - lat], test_p, mode == 2) : 0.0;
			py = (f - px) + r * py;
			px = f;
			if (i >= 4800)
				worst = fmax(worst, fabs(out[i] - py));
		}
		printf("  waveshaper mode %d, points -1 -.9 -.7 -.4 0 .4 .7 .9 1: max |error| %.5f "
		       "against the %s curve\n", mode, worst, mode == 2 ? "monotone cubic" : "straight-line");
		CHECK(worst < 0.002, "mode %d: the curve through the points is off by %.5f", mode, worst);
	}
	free(in);
	free(out);
}

/* Bounds on |output| for input within +-1, from the worst case: the
 * curve's output through the decimation chain (with the ADAA droop fix)
 * has an L1 norm of 1.99, so a curve within +-1 comes out within +-1.99;
 * the DC blocker's L1 norm is 2, the tone low-pass's 1; the output gain is
 * at most 4 (+12 dB), and the dry share of a sample within +-1 adds
 * nothing beyond that. Saturation 4 x 1.99, distortion x 2 more,
 * waveshaper (curve within +-2) x 2 more again. */
static const struct fx_type *all_types[] = {&fx_saturation, &fx_distortion, &fx_waveshaper};
static const float bounds[] = {8.0f, 16.0f, 32.0f};

/* Run 3 signals (noise, square, silence) with the parameters in v[]. */
static void extremes_one(const struct fx_type *t, float bound, const float *v, int channels,
			 float *worst, bool *silent)
{
	const size_t frames = 6000;
	float *ch[2] = {buffer(frames), buffer(frames)};
	for (int sig = 0; sig < 3; sig++) {
		void *fx = make(t, RATE, channels);
		for (int i = 0; i < t->nparams; i++)
			t->set(fx, i, v[i]);
		for (int c = 0; c < channels; c++)
			for (size_t i = 0; i < frames; i++)
				ch[c][i] = sig == 0 ? noise() : sig == 1 ? ((i / 37) & 1 ? 1.0f : -1.0f) : 0.0f;
		run(t, fx, ch, channels, frames, 256);
		for (int c = 0; c < channels; c++) {
			for (size_t i = 0; i < frames; i++) {
				float y = ch[c][i];
				if (!isfinite(y) || fabsf(y) > bound) {
					CHECK(0, "%s: output %g at frame %zu (signal %d, %d channels)", t->id, y, i,
					      sig, channels);
					break;
				}
				if (fabsf(y) > *worst)
					*worst = fabsf(y);
				if (sig == 2 && y != 0.0f)
					*silent = false;
			}
		}
		t->destroy(fx);
	}
	free(ch[0]);
	free(ch[1]);
}

static void check_extremes(void)
{
	for (int t = 0; t < 3; t++) {
		const struct fx_type *ty = all_types[t];
		float worst = 0.0f;
		bool silent = true;
		float v[FX_MAX_PARAMS];
		for (int channels = 1; channels <= 2; channels++) {
			/* each parameter at min, max and default, the others at default */
			for (int p = 0; p < ty->nparams; p++) {
				for (int w = 0; w < 3; w++) {
					for (int i = 0; i < ty->nparams; i++)
						v[i] = ty->params[i].def;
					v[p] = w == 0 ? ty->params[p].min : w == 1 ? ty->params[p].max : ty->params[p].def;
					extremes_one(ty, bounds[t], v, channels, &worst, &silent);
				}
			}
			/* all at min, all at max, and random corners and points */
			for (int r = 0; r < 12; r++) {
				for (int i = 0; i < ty->nparams; i++) {
					const struct fx_param *p = &ty->params[i];
					float u = 0.5f + 0.5f * noise();
					if (r == 0 || (r < 6 && u < 0.5f))
						v[i] = p->min;
					else if (r == 1 || r < 6)
						v[i] = p->max;
					else
						v[i] = fx_param_from_norm(p, u);
				}
				extremes_one(ty, bounds[t], v, channels, &worst, &silent);
			}
		}
		printf("  %s extremes: largest |output| %.3f (bound %.1f), silence in -> silence out: %s\n",
		       ty->id, worst, bounds[t], silent ? "yes" : "no");
		CHECK(silent, "%s: silence in, sound out", ty->id);
	}
}

/* Blocks of 1, 13, 64 and 4096 frames give the same bits, stereo, with a
 * parameter change at frame 4096 (so glides move in every run). */
static void check_blocks(void)
{
	const size_t frames = 12000, cut = 4096;
	const size_t blocks[] = {1, 13, 64, 4096};
	float *in[2] = {buffer(frames), buffer(frames)};
	float *ref[2] = {buffer(frames), buffer(frames)};
	float *out[2] = {buffer(frames), buffer(frames)};
	for (size_t i = 0; i < frames; i++) {
		in[0][i] = 0.8f * noise();
		in[1][i] = (float)sin(2.0 * M_PI * 440.0 * (double)i / RATE);
	}
	struct {
		const struct fx_type *t;
		struct setting first[4], second[4];
	} cases[] = {
		{&fx_saturation, {{"drive", 20}, {"mix", 70}, {NULL, 0}},
		 {{"drive", 3}, {"output", -6}, {NULL, 0}}},
		{&fx_distortion, {{"drive", 30}, {"asymmetry", 0.3f}, {"tone", 2000}, {NULL, 0}},
		 {{"asymmetry", -0.6f}, {"tone", 9000}, {"mix", 40}, {NULL, 0}}},
		{&fx_waveshaper, {{"drive", 6}, {"h2", 0.5f}, {"h5", -0.3f}, {NULL, 0}},
		 {{"h1", 0.2f}, {"h3", 1}, {"drive", 18}, {NULL, 0}}},
		{&fx_waveshaper, {{"mode", 1}, {"p3", -0.2f}, {"drive", 6}, {NULL, 0}},
		 {{"mode", 2}, {"p7", 0.1f}, {"h2", 0.5f}, {NULL, 0}}},
		{&fx_waveshaper, {{"mode", 2}, {"p2", 0.3f}, {NULL, 0}},
		 {{"mode", 0}, {"h3", 0.5f}, {NULL, 0}}},
	};
	const int ncases = (int)(sizeof cases / sizeof cases[0]);
	for (int c = 0; c < ncases; c++) {
		const struct fx_type *t = cases[c].t;
		for (size_t b = 0; b < 4; b++) {
			float **dst = b == 0 ? ref : out;
			for (int ch = 0; ch < 2; ch++)
				memcpy(dst[ch], in[ch], frames * sizeof(float));
			void *fx = make(t, RATE, 2);
			for (struct setting *s = cases[c].first; s->name; s++)
				set(t, fx, s->name, s->value);
			run(t, fx, dst, 2, cut, blocks[b]);
			for (struct setting *s = cases[c].second; s->name; s++)
				set(t, fx, s->name, s->value);
			float *rest[2] = {dst[0] + cut, dst[1] + cut};
			run(t, fx, rest, 2, frames - cut, blocks[b]);
			t->destroy(fx);
			if (b == 0)
				continue;
			size_t diff = 0;
			for (int ch = 0; ch < 2; ch++)
				for (size_t i = 0; i < frames; i++)
					diff += memcmp(&ref[ch][i], &out[ch][i], sizeof(float)) != 0;
			CHECK(diff == 0, "%s: blocks of %zu differ from blocks of 1 at %zu samples", t->id,
			      blocks[b], diff);
		}
	}
	printf("  blocks of 1, 13, 64, 4096 frames: bit-identical (stereo, with a change mid-run, "
	       "also of the waveshaper's mode)\n");

	/* reset() forgets everything: the same input gives the same output */
	for (int c = 0; c < ncases; c++) {
		const struct fx_type *t = cases[c].t;
		void *fx = make(t, RATE, 2);
		for (int pass = 0; pass < 2; pass++) {
			float **dst = pass == 0 ? ref : out;
			for (int ch = 0; ch < 2; ch++)
				memcpy(dst[ch], in[ch], frames * sizeof(float));
			run(t, fx, dst, 2, frames, 256);
			t->reset(fx);
		}
		size_t diff = 0;
		for (int ch = 0; ch < 2; ch++)
			diff += memcmp(ref[ch], out[ch], frames * sizeof(float)) != 0;
		CHECK(diff == 0, "%s: output after reset() differs from a fresh instance", t->id);
		t->destroy(fx);
	}
	for (int ch = 0; ch < 2; ch++) {
		free(in[ch]);
		free(ref[ch]);
		free(out[ch]);
	}
}

/* A parameter stepped at once on a steady 200 Hz sine: e = (output with
 * the step) - (output without) starts at 0 and moves to the settled
 * difference d = (output with the new value) - (output with the old).
 * The step is put where |d| peaks, so an unsmoothed change would jump by
 * about that peak at once. A glide moves e by no more than d's own
 * sample-to-sample slope plus the glide's pace (10 ms: 0.2% of |d| per
 * frame), so every move of e must stay under 1.5 x d's slope + 1% of its
 * peak; the test only has teeth while d's slope is well under its peak
 * (checked too). */
static void check_clicks(void)
{
	const size_t frames = 24000, settle = 9600;
	float *before = buffer(frames), *after = buffer(frames), *sw = buffer(frames);
	struct {
		const struct fx_type *t;
		double amp;
		struct setting base[3];
		struct setting step;
	} cases[] = {
		{&fx_saturation, 0.5, {{"drive", 6}, {NULL, 0}}, {"output", -12}},
		{&fx_saturation, 0.01, {{"drive", 0}, {NULL, 0}}, {"drive", 36}},
		{&fx_saturation, 0.5, {{"drive", 12}, {NULL, 0}}, {"mix", 0}},
		{&fx_distortion, 0.5, {{"drive", 12}, {NULL, 0}}, {"tone", 500}},
		{&fx_distortion, 0.5, {{"drive", 12}, {NULL, 0}}, {"asymmetry", 1}},
		{&fx_distortion, 0.5, {{"drive", 12}, {NULL, 0}}, {"output", 12}},
		{&fx_waveshaper, 0.5, {{"drive", 0}, {NULL, 0}}, {"h2", 1}},
		{&fx_waveshaper, 0.5, {{"h1", 1}, {NULL, 0}}, {"h1", -1}},
		{&fx_waveshaper, 0.05, {{"h3", 0.5f}, {NULL, 0}}, {"drive", 12}},
		{&fx_waveshaper, 0.5, {{"h3", 0.5f}, {NULL, 0}}, {"mode", 2}},
		{&fx_waveshaper, 0.5, {{"mode", 1}, {NULL, 0}}, {"p7", 0.9f}},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const struct fx_type *t = cases[c].t;
		sine(before, frames, 200.0, cases[c].amp);
		sine(after, frames, 200.0, cases[c].amp);
		sine(sw, frames, 200.0, cases[c].amp);
		mono(t, cases[c].base, before, frames);
		struct setting s[4] = {cases[c].base[0], cases[c].step, {NULL, 0}};
		if (strcmp(cases[c].base[0].name, cases[c].step.name) == 0)
			s[0] = cases[c].step;
		mono(t, s, after, frames);
		size_t at = settle;
		double slope = 0.0;
		for (size_t i = settle; i < frames; i++) {
			double d = after[i] - before[i], d1 = after[i - 1] - before[i - 1];
			if (fabs(d - d1) > slope)
				slope = fabs(d - d1);
			if (i < settle + 240 && fabs(d) > fabsf(after[at] - before[at]))
				at = i;
		}
		double peak = fabsf(after[at] - before[at]);
		void *fx = make(t, RATE, 1);
		for (const struct setting *b = cases[c].base; b->name; b++)
			set(t, fx, b->name, b->value);
		run(t, fx, &sw, 1, at, 64);
		set(t, fx, cases[c].step.name, cases[c].step.value);
		float *rest = sw + at;
		run(t, fx, &rest, 1, frames - at, 64);
		t->destroy(fx);
		double jump = 0.0, prev = 0.0;
		for (size_t i = settle; i < frames; i++) {
			double e = sw[i] - before[i];
			if (fabs(e - prev) > jump)
				jump = fabs(e - prev);
			prev = e;
		}
		double allowed = 1.5 * slope + 0.01 * peak;
		printf("  step %-10s %-9s -> %5g: largest move %.4f, allowed %.4f, unsmoothed %.4f\n", t->id,
		       cases[c].step.name, cases[c].step.value, jump, allowed, peak);
		CHECK(slope < 0.3 * peak, "%s %s: the difference moves too fast for the test (%.4f of %.4f)",
		      t->id, cases[c].step.name, slope, peak);
		CHECK(jump <= allowed, "%s %s step clicks: moves %.4f, allowed %.4f", t->id,
		      cases[c].step.name, jump, allowed);
	}
	free(before);
	free(after);
	free(sw);
}

/* ---- speed ------------------------------------------------------------------ */

static void timing(void)
{
	const size_t frames = 48000 * 10, block = 128;
	float *ch[2] = {buffer(frames), buffer(frames)};
	for (int t = 0; t < 3; t++) {
		for (size_t i = 0; i < frames; i++) {
			ch[0][i] = 0.5f * (float)sin(0.01 * (double)i) + 0.1f * noise();
			ch[1][i] = 0.5f * (float)sin(0.013 * (double)i) + 0.1f * noise();
		}
		void *fx = make(all_types[t], RATE, 2);
		set(all_types[t], fx, "drive", 24);
		set(all_types[t], fx, "mix", 80);
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		run(all_types[t], fx, ch, 2, frames, block);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)frames;
		printf("  timing %-10s %6.1f ns per stereo frame at 128-frame blocks = %5.0fx realtime\n",
		       all_types[t]->id, ns, 1e9 / (ns * RATE));
		all_types[t]->destroy(fx);
	}
	free(ch[0]);
	free(ch[1]);
}

/* The AVX2 + FMA copy of the loops (where the CPU has it) and the portable
 * one give the same sound: stereo noise at high drive through each type,
 * both ways, within 1e-4 (-80 dB) of each other sample by sample. */
static void check_copies_agree(void)
{
	const size_t frames = 48000;
	float *a[2] = {buffer(frames), buffer(frames)}, *b[2] = {buffer(frames), buffer(frames)};
	for (int t = 0; t < 3; t++) {
		const struct fx_type *ty = all_types[t];
		float *const *out[2] = {a, b};
		for (int pass = 0; pass < 2; pass++) {
			seed = 4242;
			for (size_t i = 0; i < frames; i++) {
				out[pass][0][i] = 0.7f * noise();
				out[pass][1][i] = 0.5f * (float)sin(2.0 * M_PI * 997.0 * (double)i / RATE);
			}
			if (pass)
				setenv("CL_FX_SIMD", "baseline", 1);
			else
				unsetenv("CL_FX_SIMD");
			void *fx = make(ty, RATE, 2);
			set(ty, fx, "drive", 20);
			set(ty, fx, "mix", 90);
			run(ty, fx, (float **)out[pass], 2, frames, 128);
			ty->destroy(fx);
		}
		double worst = 0.0;
		for (int c = 0; c < 2; c++)
			for (size_t i = 0; i < frames; i++)
				worst = fmax(worst, fabs((double)a[c][i] - b[c][i]));
		printf("  %s: fastest and portable loops differ by at most %.2g\n", ty->id, worst);
		CHECK(worst <= 1e-4, "%s: the two copies of the loops differ by %g", ty->id, worst);
	}
	unsetenv("CL_FX_SIMD");
	for (int c = 0; c < 2; c++) {
		free(a[c]);
		free(b[c]);
	}
}

int main(void)
{
	/* everything twice: with the loops this CPU runs fastest (AVX2 and
	 * FMA where it has them), then with the portable ones */
	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			setenv("CL_FX_SIMD", "baseline", 1);
		printf("%s loops:\n", pass ? "portable (CL_FX_SIMD=baseline)" : "fastest");
		check_aliasing();
		check_tanh();
		check_small_signal();
		check_response();
		check_dry();
		check_half_mix();
		check_distortion_harmonics();
		check_chebyshev();
		check_points();
		check_extremes();
		check_blocks();
		check_clicks();
		timing();
	}
	check_copies_agree();
	printf("fx-saturation: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
