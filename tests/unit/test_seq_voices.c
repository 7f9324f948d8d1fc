/*
 * cl-seq voices against known answers.
 *
 * - tables: every kind has name, unit, min <= default <= max and a
 *   one-line doc per parameter, amp and pan last, the DESIGN.md names.
 * - kick: the fundamental after the sweep is freq within 1% (zero
 *   crossings, several freq, sweep and drive settings); the hit starts
 *   above freq (the sweep).
 * - decays: the tail's slope (RMS in short windows, a least-squares line
 *   from -10 to -50 dB under the peak) gives a 60 dB time within 10% of
 *   `decay` for kick, snare, hat, clap; the acid's filter envelope is
 *   0.001 (-60 dB) at `decay` (read from its state).
 * - acid filter: with env_amount 0, a 27.5 Hz saw measured harmonic by
 *   harmonic (Hann-windowed DFT, times n to undo the saw's 1/n): the
 *   resonant peak (res 0.9) is at cutoff within 5% at 48, 44.1 and 96
 *   kHz; at res 0 the response at cutoff is -12 dB (four poles at -3 dB)
 *   within 1 dB; at res 1 it self-oscillates at the cutoff (a tone
 *   between the note's harmonics, absent at res 0.9).
 * - acid pitch: MIDI note frequency within 0.5% (tune too); slide reaches
 *   the new pitch within the slide time without restarting the envelope
 *   (state and brightness), a retrigger does restart it.
 * - velocity 64 gives 64/127 of the peak of velocity 127; accent gives
 *   1.25 x on drums and more on the acid.
 * - hat: less than 1% of its energy below 2 kHz (FFT).
 * - silence: no note gives exact zeros; after the tail and after all_off
 *   the output is exactly zero and seq_voice_active() false, at the time
 *   the decay gives (-90 dB).
 * - bounds: every parameter at min, max, default, 300 random sets (fixed
 *   seed), notes on every frame, fast sweeps: finite, |out| <= 4.
 * - clicks: a parameter jump min <-> max, a retrigger, all_off and a kind
 *   change never step (frame to frame) by more than the natural steps of
 *   the sounds involved plus 2% of their peak.
 * - blocks of 1, 17, 64 and 1024 frames give bit-identical output.
 * - set_kind switches to the new kind's sound; a copied struct renders
 *   the same (no pointers to memory elsewhere).
 * - throughput: ns per frame per voice, printed and checked in optimised
 *   builds (< 2.5 us per voice per 64 frames).
 */
#include "cl_check.h"
#include "voices.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RATE 48000
#define MAXF (RATE * 8)
#define OUT_BOUND 4.0f          /* stated bound on |output| per channel */
#define CLICK_REL 0.02f         /* extra step allowed, relative to the peak */

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static float *bl, *br, *cl_, *cr, *dl, *dr;

static float *buffer(size_t frames)
{
	float *b = calloc(frames, sizeof *b);
	if (!b) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return b;
}

static void zero(float *l, float *r, int n)
{
	memset(l, 0, sizeof(float) * (size_t)n);
	memset(r, 0, sizeof(float) * (size_t)n);
}

static uint32_t lcg = 12345;

static float urand(void)
{
	lcg = lcg * 1664525u + 1013904223u;
	return (float)(lcg >> 8) / 16777216.0f;
}

/* params of kind: defaults, then name=value pairs (NULL ends). */
static void params(int kind, float *p, ...)
{
	va_list ap;
	seq_voice_defaults(kind, p);
	va_start(ap, p);
	const char *name;
	while ((name = va_arg(ap, const char *)) != NULL) {
		double value = va_arg(ap, double);
		int i = seq_voice_param_index(kind, name);
		if (i < 0) {
			fprintf(stderr, "%s has no parameter %s\n", seq_voice_name(kind), name);
			exit(1);
		}
		p[i] = (float)value;
	}
	va_end(ap);
}

/* Render n frames at l, r (added) in blocks of block. */
static void render(struct seq_voice *v, float *l, float *r, int n, int block)
{
	for (int off = 0; off < n; off += block) {
		int m = n - off < block ? n - off : block;
		seq_voice_render(v, l + off, r + off, (uint32_t)m);
	}
}

static float peak(const float *x, int a, int b)
{
	float m = 0;
	for (int i = a; i < b; i++)
		m = fmaxf(m, fabsf(x[i]));
	return m;
}

static float max_step(const float *x, int a, int b)
{
	float m = 0;
	for (int i = a > 0 ? a : 1; i < b; i++)
		m = fmaxf(m, fabsf(x[i] - x[i - 1]));
	return m;
}

/* Upward zero crossings of x in [a, b), interpolated, into t (max n). */
static int crossings(const float *x, int a, int b, double *t, int n)
{
	int c = 0;
	for (int i = a + 1; i < b && c < n; i++)
		if (x[i - 1] < 0 && x[i] >= 0)
			t[c++] = i - 1 + (double)x[i - 1] / (x[i - 1] - x[i]);
	return c;
}

/* Mean frequency from the upward zero crossings in [a, b). */
static double zc_freq(const float *x, int a, int b, double rate)
{
	static double t[MAXF / 8];
	int c = crossings(x, a, b, t, MAXF / 8);
	if (c < 3)
		return 0;
	return (c - 1) * rate / (t[c - 1] - t[0]);
}

/* Amplitude of frequency f in x[a, a + n) (Hann window). */
static double dft_amp(const float *x, int a, int n, double f, double rate)
{
	double re = 0, im = 0, wsum = 0;
	double w = 2 * M_PI * f / rate;
	for (int i = 0; i < n; i++) {
		double h = 0.5 - 0.5 * cos(2 * M_PI * i / n);
		re += h * x[a + i] * cos(w * i);
		im -= h * x[a + i] * sin(w * i);
		wsum += h;
	}
	return 2 * sqrt(re * re + im * im) / wsum;
}

/* The 60 dB time of the tail of x from RMS in windows of win frames:
 * least squares on the windows between -10 and -50 dB under the loudest
 * window (after it). 0 when there are too few points. */
static double t60_of(const float *x, int n, int win, double rate)
{
	int nw = n / win;
	double *db = calloc((size_t)nw, sizeof *db);
	int top = 0;
	for (int w = 0; w < nw; w++) {
		double s = 0;
		for (int i = 0; i < win; i++)
			s += (double)x[w * win + i] * x[w * win + i];
		db[w] = 10 * log10(s / win + 1e-30);
		if (db[w] > db[top])
			top = w;
	}
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	int m = 0;
	for (int w = top; w < nw; w++) {
		double rel = db[w] - db[top];
		if (rel < -50)
			break;
		if (rel > -10)
			continue;
		double t = (w + 0.5) * win / rate;
		sx += t;
		sy += db[w];
		sxx += t * t;
		sxy += t * db[w];
		m++;
	}
	free(db);
	if (m < 5)
		return 0;
	double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
	return -60.0 / slope;
}

/* In-place radix-2 FFT of n complex values (re, im). */
static void fft(double *re, double *im, int n)
{
	for (int i = 1, j = 0; i < n; i++) {
		int bit = n >> 1;
		for (; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			double t = re[i]; re[i] = re[j]; re[j] = t;
			t = im[i]; im[i] = im[j]; im[j] = t;
		}
	}
	for (int len = 2; len <= n; len <<= 1) {
		double a = -2 * M_PI / len;
		for (int i = 0; i < n; i += len)
			for (int k = 0; k < len / 2; k++) {
				double c = cos(a * k), s = sin(a * k);
				double xr = re[i + k + len / 2] * c - im[i + k + len / 2] * s;
				double xi = re[i + k + len / 2] * s + im[i + k + len / 2] * c;
				re[i + k + len / 2] = re[i + k] - xr;
				im[i + k + len / 2] = im[i + k] - xi;
				re[i + k] += xr;
				im[i + k] += xi;
			}
	}
}

/* Fraction of the energy of x[a, a + n) (n a power of 2) below hz. */
static double energy_below(const float *x, int a, int n, double hz, double rate)
{
	double *re = calloc((size_t)n, sizeof *re), *im = calloc((size_t)n, sizeof *im);
	for (int i = 0; i < n; i++)
		re[i] = x[a + i];
	fft(re, im, n);
	double lo = 0, all = 0;
	for (int k = 0; k <= n / 2; k++) {
		double e = re[k] * re[k] + im[k] * im[k];
		all += e;
		if (k * rate / n < hz)
			lo += e;
	}
	free(re);
	free(im);
	return all > 0 ? lo / all : 0;
}

static double midi_hz(double note)
{
	return 440.0 * pow(2.0, (note - 69.0) / 12.0);
}

/* ---- tables ---- */

static void test_tables(void)
{
	for (int k = 0; k < SEQ_VOICE_COUNT; k++) {
		const char *name = seq_voice_name(k);
		CHECK(name != NULL, "kind %d has a name", k);
		if (name)
			CHECK(seq_voice_from_name(name) == k, "%s round trip", name);
	}
	CHECK(seq_voice_name(-1) == NULL && seq_voice_name(SEQ_VOICE_COUNT) == NULL,
	      "bad kinds have no name");
	CHECK(seq_voice_from_name("bogus") == -1 && seq_voice_from_name(NULL) == -1
	      && seq_voice_from_name("") == -1, "unknown names give -1");
	CHECK(strcmp(seq_voice_name(SEQ_VOICE_NONE), "none") == 0, "none is called none");
	int n = 99;
	CHECK(seq_voice_params(SEQ_VOICE_NONE, &n) == NULL && n == 0, "none has no params");
	n = 99;
	CHECK(seq_voice_params(SEQ_VOICE_COUNT, &n) == NULL && n == 0, "bad kind has no params");
	CHECK(seq_voice_param_index(SEQ_VOICE_NONE, "amp") == -1, "none has no amp");

	for (int k = 1; k < SEQ_VOICE_COUNT; k++) {
		const struct seq_voice_param *t = seq_voice_params(k, &n);
		CHECK(t != NULL && n >= 3 && n <= SEQ_VOICE_MAX_PARAMS, "%s: %d params",
		      seq_voice_name(k), n);
		if (!t)
			continue;
		printf("%s:\n", seq_voice_name(k));
		for (int i = 0; i < n; i++) {
			const struct seq_voice_param *p = &t[i];
			printf("  %-11s %-3s %8g .. %-8g default %-7g %s\n", p->name, p->unit,
			       (double)p->min, (double)p->max, (double)p->def, p->doc);
			CHECK(p->name && p->name[0] && p->unit && p->doc && strlen(p->doc) > 10
			      && strlen(p->doc) < 100 && !strchr(p->doc, '\n'),
			      "%s.%s has name, unit and a one-line doc", seq_voice_name(k), p->name);
			CHECK(p->min < p->max && p->min <= p->def && p->def <= p->max,
			      "%s.%s: %g <= %g <= %g", seq_voice_name(k), p->name, (double)p->min,
			      (double)p->def, (double)p->max);
			CHECK(seq_voice_param_index(k, p->name) == i, "%s.%s index %d",
			      seq_voice_name(k), p->name, i);
			for (int j = 0; j < i; j++)
				CHECK(strcmp(t[j].name, p->name) != 0, "%s.%s unique",
				      seq_voice_name(k), p->name);
		}
		CHECK(strcmp(t[n - 2].name, "amp") == 0 && t[n - 2].min == 0,
		      "%s: amp second to last", seq_voice_name(k));
		CHECK(strcmp(t[n - 1].name, "pan") == 0 && t[n - 1].min == -1 && t[n - 1].max == 1
		      && t[n - 1].def == 0, "%s: pan last, -1..1", seq_voice_name(k));
		CHECK(seq_voice_param_index(k, "bogus") == -1 && seq_voice_param_index(k, NULL) == -1,
		      "%s: unknown param -1", seq_voice_name(k));
		float p[SEQ_VOICE_MAX_PARAMS];
		memset(p, 0x7f, sizeof p);
		seq_voice_defaults(k, p);
		bool ok = true;
		for (int i = 0; i < SEQ_VOICE_MAX_PARAMS; i++)
			ok = ok && p[i] == (i < n ? t[i].def : 0.0f);
		CHECK(ok, "%s: seq_voice_defaults fills the table defaults, zeros after",
		      seq_voice_name(k));
	}
	/* the names and values of DESIGN.md's pattern example */
	struct { int kind; const char *name; float value; } design[] = {
		{SEQ_VOICE_KICK, "freq", 55}, {SEQ_VOICE_KICK, "decay", 0.3f},
		{SEQ_VOICE_KICK, "amp", 0.8f}, {SEQ_VOICE_ACID, "cutoff", 1500},
		{SEQ_VOICE_ACID, "res", 0.45f}, {SEQ_VOICE_ACID, "env_amount", 2500},
		{SEQ_VOICE_ACID, "decay", 0.25f}, {SEQ_VOICE_ACID, "drive", 0.2f},
	};
	for (size_t i = 0; i < sizeof design / sizeof design[0]; i++) {
		int idx = seq_voice_param_index(design[i].kind, design[i].name);
		const struct seq_voice_param *t = seq_voice_params(design[i].kind, &n);
		CHECK(idx >= 0 && design[i].value >= t[idx].min && design[i].value <= t[idx].max,
		      "DESIGN.md %s.%s = %g is a valid parameter", seq_voice_name(design[i].kind),
		      design[i].name, (double)design[i].value);
	}
	const char *acid_names[] = {"cutoff", "res", "env_amount", "decay", "accent", "slide",
				    "drive", "wave", "tune"};
	for (size_t i = 0; i < sizeof acid_names / sizeof acid_names[0]; i++)
		CHECK(seq_voice_param_index(SEQ_VOICE_ACID, acid_names[i]) >= 0, "acid has %s",
		      acid_names[i]);
}

/* ---- kick pitch ---- */

static void test_kick_pitch(void)
{
	struct { float freq, sweep, drive; } cases[] = {
		{40, 24, 0}, {50, 24, 0}, {80, 36, 0}, {150, 12, 0}, {250, 48, 0},
		{55, 24, 0.7f}, {20, 0, 0},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		float p[SEQ_VOICE_MAX_PARAMS];
		params(SEQ_VOICE_KICK, p, "freq", (double)cases[c].freq, "sweep",
		       (double)cases[c].sweep, "sweep_time", 0.05, "decay", 4.0, "drive",
		       (double)cases[c].drive, (char *)NULL);
		struct seq_voice v;
		seq_voice_init(&v, SEQ_VOICE_KICK, RATE, p);
		zero(bl, br, RATE * 2);
		seq_voice_note_on(&v, 36, 127, false);
		render(&v, bl, br, RATE * 2, 64);
		/* after sweep_time the pitch is within 0.1% of the sweep's start */
		int a = (int)(0.07 * RATE), b = a + RATE;
		double f = zc_freq(bl, a, b, RATE);
		CHECK(fabs(f / cases[c].freq - 1) < 0.01,
		      "kick freq %g sweep %g drive %g: fundamental %.3f Hz after the sweep",
		      (double)cases[c].freq, (double)cases[c].sweep, (double)cases[c].drive, f);
		if (cases[c].sweep >= 24) {
			/* the hit starts at phase 0: its first period ends at the
			 * first upward crossing */
			double t[4];
			int n = crossings(bl, 1, RATE, t, 4);
			double f0 = n >= 1 ? RATE / t[0] : 0;
			CHECK(f0 > 2 * cases[c].freq, "kick %g: the first period is at %.1f Hz (sweep)",
			      (double)cases[c].freq, f0);
		}
	}
}

/* ---- decays ---- */

static void test_decays(void)
{
	struct { int kind; float decay; int win; } cases[] = {
		{SEQ_VOICE_KICK, 0.5f, 960}, {SEQ_VOICE_KICK, 1.5f, 960},
		{SEQ_VOICE_SNARE, 0.3f, 0}, {SEQ_VOICE_SNARE, 1.2f, 0},
		{SEQ_VOICE_HAT, 0.09f, 0}, {SEQ_VOICE_HAT, 0.8f, 0},
		{SEQ_VOICE_CLAP, 0.3f, 0}, {SEQ_VOICE_CLAP, 1.2f, 0},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		float p[SEQ_VOICE_MAX_PARAMS];
		params(cases[c].kind, p, "decay", (double)cases[c].decay, (char *)NULL);
		if (cases[c].kind == SEQ_VOICE_KICK) {
			p[seq_voice_param_index(SEQ_VOICE_KICK, "click")] = 0;
			p[seq_voice_param_index(SEQ_VOICE_KICK, "drive")] = 0;
		}
		struct seq_voice v;
		seq_voice_init(&v, cases[c].kind, RATE, p);
		int n = (int)(cases[c].decay * 1.6f * RATE);
		zero(bl, br, n);
		seq_voice_note_on(&v, 60, 127, false);
		render(&v, bl, br, n, 64);
		int win = cases[c].win ? cases[c].win : (int)(cases[c].decay * RATE / 60);
		double t60 = t60_of(bl, n, win, RATE);
		CHECK(fabs(t60 / cases[c].decay - 1) < 0.1, "%s decay %g s: measured %.4f s to -60 dB",
		      seq_voice_name(cases[c].kind), (double)cases[c].decay, t60);
	}
	/* the acid's filter envelope, read from the state */
	float decays[] = {0.05f, 0.3f, 2.0f};
	for (int i = 0; i < 3; i++) {
		float p[SEQ_VOICE_MAX_PARAMS];
		params(SEQ_VOICE_ACID, p, "decay", (double)decays[i], (char *)NULL);
		struct seq_voice v;
		seq_voice_init(&v, SEQ_VOICE_ACID, RATE, p);
		seq_voice_note_on(&v, 45, 100, false);
		int n = (int)lrint(decays[i] * RATE);
		for (int off = 0; off < n; off += RATE) {
			int m = n - off < RATE ? n - off : RATE;
			zero(bl, br, m);
			render(&v, bl, br, m, 64);
		}
		double db = 20 * log10(v.cur.u.acid.env);
		CHECK(fabs(db + 60) < 0.5, "acid filter envelope at decay %g s: %.2f dB",
		      (double)decays[i], db);
	}
}

/* ---- acid filter ---- */

/* Amplitudes of the harmonics of the oscillator itself, a polyBLEP saw at
 * f0 (the textbook algorithm, written out here), into amp[1..nh]. */
static void saw_harmonics(double f0, double rate, int nh, double *amp)
{
	int len = (int)rate;
	float *x = buffer((size_t)len);
	double phase = 0, dt = f0 / rate;
	for (int i = 0; i < len; i++) {
		double t = phase, blep = 0;
		if (t < dt) {
			t /= dt;
			blep = t + t - t * t - 1;
		} else if (t > 1 - dt) {
			t = (t - 1) / dt;
			blep = t * t + t + t + 1;
		}
		x[i] = (float)(2 * phase - 1 - blep);
		phase += dt;
		if (phase >= 1)
			phase -= 1;
	}
	for (int k = 1; k <= nh; k++)
		amp[k] = dft_amp(x, 0, len, k * f0, rate);
	free(x);
}

/* The acid's response peak and its level at cutoff, from a 27.5 Hz saw
 * (each harmonic of the output over the same harmonic of the saw). */
static void acid_response(double rate, float cutoff, float res, double *peak_hz,
			  double *at_cutoff_db)
{
	float p[SEQ_VOICE_MAX_PARAMS];
	params(SEQ_VOICE_ACID, p, "cutoff", (double)cutoff, "res", (double)res, "env_amount", 0.0,
	       "drive", 0.0, "wave", 0.0, "slide", 0.0, (char *)NULL);
	struct seq_voice v;
	seq_voice_init(&v, SEQ_VOICE_ACID, rate, p);
	int len = (int)rate, start = (int)(rate / 2);
	zero(bl, br, start + len);
	seq_voice_note_on(&v, 21, 127, false);
	render(&v, bl, br, start + len, 64);
	double f0 = midi_hz(21);
	int nh = (int)(fmin(rate * 0.4, 16000) / f0);
	static double h[1024], in[1024];
	saw_harmonics(f0, rate, nh, in);
	int top = 1;
	for (int k = 1; k <= nh; k++) {
		h[k] = 20 * log10(dft_amp(bl, start, len, k * f0, rate) / in[k] + 1e-30);
		if (h[k] > h[top])
			top = k;
	}
	/* parabola through the top harmonic and its neighbours */
	double off = 0;
	if (top > 1 && top < nh) {
		double a = h[top - 1], b = h[top], c = h[top + 1];
		off = 0.5 * (a - c) / (a - 2 * b + c);
	}
	*peak_hz = (top + off) * f0;
	double x = cutoff / f0;
	int k = (int)x;
	*at_cutoff_db = h[k] + (h[k + 1] - h[k]) * (x - k) - h[1];
}

static void test_acid_filter(void)
{
	struct { double rate; float cutoff; } cases[] = {
		{48000, 500}, {48000, 1500}, {48000, 4000}, {48000, 8000},
		{44100, 1500}, {96000, 3000},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		double pk, at;
		acid_response(cases[c].rate, cases[c].cutoff, 0.9f, &pk, &at);
		CHECK(fabs(pk / cases[c].cutoff - 1) < 0.05,
		      "acid res 0.9 at %g Hz: resonant peak at %.1f Hz for cutoff %g",
		      cases[c].rate, pk, (double)cases[c].cutoff);
		acid_response(cases[c].rate, cases[c].cutoff, 0.0f, &pk, &at);
		CHECK(fabs(at + 12.04) < 1.0, "acid res 0 at %g Hz: %.2f dB at cutoff %g (-12 expected)",
		      cases[c].rate, at, (double)cases[c].cutoff);
	}
}

/* At res 1 the filter rings on its own: a tone at the cutoff, between the
 * harmonics of the note, that is not there at res 0.9. */
static void test_self_oscillation(void)
{
	float cutoffs[] = {1000, 3000};
	for (int c = 0; c < 2; c++) {
		double amp[2], where = 0, best = 0;
		for (int r = 0; r < 2; r++) {
			float p[SEQ_VOICE_MAX_PARAMS];
			params(SEQ_VOICE_ACID, p, "cutoff", (double)cutoffs[c], "res", r ? 1.0 : 0.9,
			       "env_amount", 0.0, "drive", 0.0, (char *)NULL);
			struct seq_voice v;
			seq_voice_init(&v, SEQ_VOICE_ACID, RATE, p);
			zero(bl, br, 2 * RATE);
			seq_voice_note_on(&v, 21, 127, false);  /* harmonics every 27.5 Hz */
			render(&v, bl, br, 2 * RATE, 64);
			amp[r] = dft_amp(bl, RATE, RATE, cutoffs[c], RATE);
			if (r) {
				for (double f = cutoffs[c] * 0.9; f < cutoffs[c] * 1.1; f += 1) {
					double a = dft_amp(bl, RATE, RATE / 4, f, RATE);
					if (a > best) {
						best = a;
						where = f;
					}
				}
			}
		}
		CHECK(best > 0.05 && amp[0] < 0.002 && fabs(where / cutoffs[c] - 1) < 0.02,
		      "acid res 1 self-oscillates at %.0f Hz (cutoff %g): %.4f there (%.4f at exactly "
		      "the cutoff), %.5f at res 0.9", where, (double)cutoffs[c], best, amp[1], amp[0]);
	}
}

/* ---- acid pitch and slide ---- */

static void test_acid_pitch(void)
{
	struct { int note; float tune; double rate; } cases[] = {
		{28, 0, 48000}, {40, 0, 48000}, {45, 0, 48000}, {57, 0, 48000},
		{69, 0, 48000}, {81, 0, 48000}, {93, 0, 48000}, {45, 7, 48000},
		{45, -12.5f, 48000}, {60, 0, 44100}, {60, 0, 96000},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		double want = midi_hz(cases[c].note + cases[c].tune);
		float p[SEQ_VOICE_MAX_PARAMS];
		params(SEQ_VOICE_ACID, p, "cutoff", fmin(want * 1.5, 12000), "res", 0.0,
		       "env_amount", 0.0, "tune", (double)cases[c].tune, (char *)NULL);
		struct seq_voice v;
		seq_voice_init(&v, SEQ_VOICE_ACID, cases[c].rate, p);
		int n = (int)(cases[c].rate * 0.6);
		zero(bl, br, n);
		seq_voice_note_on(&v, (uint8_t)cases[c].note, 100, false);
		render(&v, bl, br, n, 64);
		double f = zc_freq(bl, (int)(cases[c].rate * 0.05), n, cases[c].rate);
		CHECK(fabs(f / want - 1) < 0.005, "acid note %d tune %g at %g: %.3f Hz (want %.3f)",
		      cases[c].note, (double)cases[c].tune, cases[c].rate, f, want);
	}
}

/* Frequency of each period (crossing to crossing) of x[a, b): times and
 * frequencies into t and f; returns the count. */
static int periods(const float *x, int a, int b, double *t, double *f, int max)
{
	static double c[MAXF / 8];
	int n = crossings(x, a, b, c, MAXF / 8);
	int m = 0;
	for (int i = 1; i < n && m < max; i++, m++) {
		t[m] = c[i - 1];
		f[m] = RATE / (c[i] - c[i - 1]);
	}
	return m;
}

static void test_slide(void)
{
	float slides[] = {100, 30, 400, 0};
	for (int s = 0; s < 4; s++) {
		float slide = slides[s];
		float p[SEQ_VOICE_MAX_PARAMS];
		params(SEQ_VOICE_ACID, p, "slide", (double)slide, "res", 0.0, "cutoff", 300.0,
		       "env_amount", 3000.0, "decay", 1.0, "drive", 0.0, (char *)NULL);
		struct seq_voice v;
		seq_voice_init(&v, SEQ_VOICE_ACID, RATE, p);
		int t1 = RATE / 2, n = RATE * 2;
		zero(bl, br, n);
		seq_voice_note_on(&v, 45, 100, false);
		render(&v, bl, br, t1, 64);
		float env_before = v.cur.u.acid.env, amp_before = v.cur.u.acid.amp;
		seq_voice_note_on(&v, 57, 100, false);  /* legato: 45 is still held */
		render(&v, bl + t1, br + t1, 1, 1);
		CHECK(v.cur.u.acid.env < env_before && v.cur.u.acid.amp == amp_before,
		      "slide %g: envelope not restarted (%.4f -> %.4f), level kept", (double)slide,
		      (double)env_before, (double)v.cur.u.acid.env);
		render(&v, bl + t1 + 1, br + t1 + 1, RATE / 4, 64);
		seq_voice_note_off(&v, 45);  /* the first note's off: ignored */
		render(&v, bl + t1 + 1 + RATE / 4, br + t1 + 1 + RATE / 4, n - t1 - 1 - RATE / 4, 64);

		/* when does the pitch stay within 0.5% of 220 Hz? */
		static double t[4096], f[4096];
		int m = periods(bl, t1 - RATE / 20, t1 + RATE / 2, t, f, 4096);
		double want = midi_hz(57), reached = -1;
		for (int i = m - 1; i >= 0; i--) {
			if (fabs(f[i] / want - 1) > 0.005)
				break;
			reached = t[i];
		}
		/* periods are measured crossing to crossing: the first one wholly
		 * after the change may start up to one old period later */
		double ms = (reached - t1) * 1000.0 / RATE;
		double res = 1000.0 / midi_hz(45);
		CHECK(reached >= 0 && ms <= slide + res, "slide %g ms: within 0.5%% of %.2f Hz %.1f ms "
		      "after the legato note (crossings every %.1f ms)", (double)slide, want, ms, res);
		if (slide >= 100) {
			double g = zc_freq(bl, t1 + (int)(slide * RATE / 4000), t1 + (int)(slide * RATE / 2000),
					   RATE);
			CHECK(g > midi_hz(45) * 1.05 && g < want * 0.95,
			      "slide %g ms: a glide (%.1f Hz a quarter of the way)", (double)slide, g);
		}
		CHECK(peak(bl, t1 + RATE / 4 + 10, t1 + RATE / 2) > 0.05,
		      "slide %g: the first note's off does not end the second", (double)slide);
		/* the brightness (largest step) just after the legato note is
		 * no more than just before: no envelope restart */
		float before = max_step(bl, t1 - RATE / 50, t1);
		float after = max_step(bl, t1, t1 + RATE / 50);
		CHECK(after < before * 1.3f, "slide %g: steps %.4f after vs %.4f before the legato note",
		      (double)slide, (double)after, (double)before);
	}
	/* the same notes retriggered (not legato) do restart the envelope */
	float p[SEQ_VOICE_MAX_PARAMS];
	params(SEQ_VOICE_ACID, p, "slide", 100.0, "res", 0.0, "cutoff", 300.0, "env_amount",
	       3000.0, "decay", 1.0, "drive", 0.0, (char *)NULL);
	struct seq_voice v;
	seq_voice_init(&v, SEQ_VOICE_ACID, RATE, p);
	int t1 = RATE / 2;
	zero(bl, br, RATE);
	seq_voice_note_on(&v, 45, 100, false);
	render(&v, bl, br, t1, 64);
	seq_voice_note_off(&v, 45);
	seq_voice_note_on(&v, 57, 100, false);
	render(&v, bl + t1, br + t1, RATE / 2, 64);
	float before = max_step(bl, t1 - RATE / 50, t1), after = max_step(bl, t1, t1 + RATE / 50);
	CHECK(after > before * 2, "retrigger: steps %.4f after vs %.4f before (envelope restarted)",
	      (double)after, (double)before);
	double f = zc_freq(bl, t1 + RATE / 100, t1 + RATE / 10, RATE);
	CHECK(fabs(f / midi_hz(57) - 1) < 0.005, "retrigger: pitch %.2f Hz at once", f);
	/* and the release ends it */
	seq_voice_note_off(&v, 57);
	zero(bl, br, RATE);
	render(&v, bl, br, RATE, 64);
	CHECK(!seq_voice_active(&v) && peak(bl, RATE / 2, RATE) == 0,
	      "acid: silent after the note-off and its release");
}

/* ---- levels ---- */

static float hit_peak(int kind, uint8_t vel, bool accent)
{
	float p[SEQ_VOICE_MAX_PARAMS];
	params(kind, p, (char *)NULL);
	struct seq_voice v;
	seq_voice_init(&v, kind, RATE, p);
	int n = RATE / 2;
	zero(bl, br, n);
	seq_voice_note_on(&v, 45, vel, accent);
	render(&v, bl, br, n, 64);
	return fmaxf(peak(bl, 0, n), peak(br, 0, n));
}

static void test_levels(void)
{
	for (int k = 1; k < SEQ_VOICE_COUNT; k++) {
		float full = hit_peak(k, 127, false), half = hit_peak(k, 64, false);
		float acc = hit_peak(k, 127, true);
		CHECK(full > 0.2f && fabsf(half / full - 64.0f / 127.0f) < 0.005f,
		      "%s: velocity 64 peaks at %.4f of velocity 127 (%.4f)", seq_voice_name(k),
		      (double)(half / full), (double)full);
		if (k == SEQ_VOICE_ACID)
			CHECK(acc / full > 1.3f, "acid: accent (0.5) raises the peak %.3f x",
			      (double)(acc / full));
		else
			CHECK(fabsf(acc / full - 1.25f) < 0.005f, "%s: accent raises the peak %.4f x",
			      seq_voice_name(k), (double)(acc / full));
	}
	/* acid accent 0: no change */
	float p[SEQ_VOICE_MAX_PARAMS];
	params(SEQ_VOICE_ACID, p, "accent", 0.0, (char *)NULL);
	float pk[2];
	for (int a = 0; a < 2; a++) {
		struct seq_voice v;
		seq_voice_init(&v, SEQ_VOICE_ACID, RATE, p);
		zero(bl, br, RATE / 2);
		seq_voice_note_on(&v, 45, 127, a);
		render(&v, bl, br, RATE / 2, 64);
		pk[a] = peak(bl, 0, RATE / 2);
	}
	CHECK(pk[0] == pk[1], "acid accent 0: accented peak %.4f = plain %.4f", (double)pk[1],
	      (double)pk[0]);
}

/* ---- hat spectrum ---- */

static void test_hat(void)
{
	struct { float tone, metal, decay; } cases[] = {
		{7000, 0.8f, 0.09f}, {3000, 0.8f, 0.09f}, {3000, 1, 0.8f}, {3000, 0, 0.8f},
		{14000, 1, 0.3f},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		float p[SEQ_VOICE_MAX_PARAMS];
		params(SEQ_VOICE_HAT, p, "tone", (double)cases[c].tone, "metal",
		       (double)cases[c].metal, "decay", (double)cases[c].decay, (char *)NULL);
		struct seq_voice v;
		seq_voice_init(&v, SEQ_VOICE_HAT, RATE, p);
		zero(bl, br, 32768);
		seq_voice_note_on(&v, 42, 127, false);
		render(&v, bl, br, 32768, 64);
		double frac = energy_below(bl, 0, 32768, 2000, RATE);
		CHECK(frac < 0.01, "hat tone %g metal %g: %.3f%% of the energy below 2 kHz",
		      (double)cases[c].tone, (double)cases[c].metal, frac * 100);
	}
}

/* ---- silence ---- */

static void test_silence(void)
{
	for (int k = 0; k < SEQ_VOICE_COUNT; k++) {
		struct seq_voice v;
		seq_voice_init(&v, k, RATE, NULL);
		zero(bl, br, RATE);
		render(&v, bl, br, RATE, 64);
		CHECK(!seq_voice_active(&v) && peak(bl, 0, RATE) == 0 && peak(br, 0, RATE) == 0,
		      "%s: no note, exact silence", seq_voice_name(k));
		if (k == SEQ_VOICE_NONE) {
			seq_voice_note_on(&v, 60, 127, true);
			render(&v, bl, br, RATE, 64);
			CHECK(!seq_voice_active(&v) && peak(bl, 0, RATE) == 0, "none: notes are silent");
			continue;
		}
		/* the tail ends: -90 dB at 1.5 x the decay */
		int n = RATE * 5;
		zero(bl, br, n);
		seq_voice_note_on(&v, 45, 127, true);
		int end = 0;
		if (k == SEQ_VOICE_ACID) {
			render(&v, bl, br, RATE / 5, 64);
			seq_voice_note_off(&v, 45);
			end = RATE / 5;
		}
		while (seq_voice_active(&v) && end < n) {
			render(&v, bl + end, br + end, 64, 64);
			end += 64;
		}
		render(&v, bl + end, br + end, n - end, 64);
		int d = seq_voice_param_index(k, "decay");
		float decay = k == SEQ_VOICE_ACID ? 0.015f : v.cur.param[d];
		double expect = (k == SEQ_VOICE_ACID ? RATE / 5 : 0) + 1.5 * decay * RATE;
		if (k == SEQ_VOICE_CLAP)
			expect += 3 * v.cur.param[seq_voice_param_index(k, "spread")] * 1e-3 * RATE;
		CHECK(!seq_voice_active(&v) && fabs(end - expect) < 0.01 * RATE + 64,
		      "%s: inactive after %.3f s (-90 dB expected at %.3f s)", seq_voice_name(k),
		      (double)end / RATE, expect / RATE);
		CHECK(peak(bl, end, n) == 0 && peak(br, end, n) == 0,
		      "%s: exact zeros after the tail", seq_voice_name(k));

		/* all_off: 3 ms fade, then nothing */
		zero(bl, br, RATE);
		seq_voice_note_on(&v, 45, 127, false);
		render(&v, bl, br, RATE / 20, 64);
		seq_voice_all_off(&v);
		render(&v, bl + RATE / 20, br + RATE / 20, RATE - RATE / 20, 64);
		int fade = (int)(0.003 * RATE) + 1;
		CHECK(peak(bl, RATE / 20 + fade, RATE) == 0 && peak(br, RATE / 20 + fade, RATE) == 0
		      && !seq_voice_active(&v), "%s: all_off silent after 3 ms", seq_voice_name(k));
		CHECK(peak(bl, RATE / 20, RATE / 20 + fade) > 0, "%s: all_off fades (not a cut)",
		      seq_voice_name(k));
	}
}

/* ---- bounds ---- */

static float worst;

static void check_out(const char *what, int kind, const float *l, const float *r, int n)
{
	bool finite = true;
	float m = 0;
	for (int i = 0; i < n; i++) {
		if (!isfinite(l[i]) || !isfinite(r[i]))
			finite = false;
		m = fmaxf(m, fmaxf(fabsf(l[i]), fabsf(r[i])));
	}
	worst = fmaxf(worst, m);
	if (!finite || m > OUT_BOUND)
		CHECK(false, "%s %s: finite %d, peak %.3f (bound %g)", seq_voice_name(kind), what,
		      finite, (double)m, (double)OUT_BOUND);
	else
		checks++;
}

static void test_bounds(void)
{
	for (int k = 1; k < SEQ_VOICE_COUNT; k++) {
		int n = 0;
		const struct seq_voice_param *t = seq_voice_params(k, &n);
		float kind_worst = 0;
		float saved = worst;
		worst = 0;
		/* min, max, default, then random settings */
		for (int set_no = 0; set_no < 303; set_no++) {
			float p[SEQ_VOICE_MAX_PARAMS];
			for (int i = 0; i < n; i++)
				p[i] = set_no == 0 ? t[i].min : set_no == 1 ? t[i].max : set_no == 2 ? t[i].def
					: t[i].min + urand() * (t[i].max - t[i].min);
			struct seq_voice v;
			seq_voice_init(&v, k, RATE, p);
			int len = RATE / 4;
			zero(bl, br, len);
			seq_voice_note_on(&v, (uint8_t)(20 + urand() * 80), 127, urand() < 0.5f);
			render(&v, bl, br, len / 2, 64);
			seq_voice_note_on(&v, (uint8_t)(20 + urand() * 80), 127, true);
			render(&v, bl + len / 2, br + len / 2, len / 2, 64);
			check_out(set_no == 0 ? "all min" : set_no == 1 ? "all max" : "settings", k, bl, br,
				  len);
		}
		/* notes on every frame, parameters moving at random every frame */
		struct seq_voice v;
		seq_voice_init(&v, k, RATE, NULL);
		int len = RATE;
		zero(bl, br, len);
		for (int i = 0; i < len; i++) {
			seq_voice_note_on(&v, (uint8_t)(urand() * 128), (uint8_t)(1 + urand() * 126),
					  urand() < 0.3f);
			int pi = (int)(urand() * n);
			seq_voice_set(&v, pi, t[pi].min + urand() * (t[pi].max - t[pi].min));
			if (urand() < 0.05f)
				seq_voice_note_off(&v, (uint8_t)(urand() * 128));
			if (urand() < 0.002f)
				seq_voice_all_off(&v);
			seq_voice_render(&v, bl + i, br + i, 1);
		}
		check_out("notes every frame", k, bl, br, len);
		/* every parameter swept min <-> max at 20 Hz, set every 16 frames,
		 * a note every 10 ms (legato for the acid) */
		seq_voice_init(&v, k, RATE, NULL);
		zero(bl, br, len);
		for (int i = 0; i < len; i += 16) {
			float tri = fabsf(fmodf((float)i * 40.0f / RATE, 2.0f) - 1.0f);
			for (int pi = 0; pi < n; pi++)
				seq_voice_set(&v, pi, t[pi].min + ((pi & 1) ? tri : 1 - tri)
					      * (t[pi].max - t[pi].min));
			if (i % 480 == 0)
				seq_voice_note_on(&v, (uint8_t)(30 + (i / 480) % 50), 127, (i / 480) % 3 == 0);
			seq_voice_render(&v, bl + i, br + i, 16);
		}
		check_out("sweeps", k, bl, br, len);
		/* extreme notes and velocities */
		seq_voice_init(&v, k, RATE, NULL);
		zero(bl, br, RATE / 2);
		seq_voice_note_on(&v, 0, 1, false);
		render(&v, bl, br, RATE / 4, 64);
		seq_voice_note_on(&v, 127, 127, true);
		render(&v, bl + RATE / 4, br + RATE / 4, RATE / 4, 64);
		check_out("notes 0 and 127", k, bl, br, RATE / 2);
		kind_worst = worst;
		printf("%s: largest |output| in the bound tests %.3f\n", seq_voice_name(k),
		       (double)kind_worst);
		worst = fmaxf(saved, kind_worst);
	}
	/* non-finite and out-of-range settings are refused or clamped */
	struct seq_voice v;
	seq_voice_init(&v, SEQ_VOICE_ACID, RATE, NULL);
	seq_voice_set(&v, 0, NAN);
	seq_voice_set(&v, 1, INFINITY);
	seq_voice_set(&v, 99, 1);
	seq_voice_set(&v, -1, 1);
	CHECK(v.cur.target[0] == 800 && v.cur.target[1] == 0.5f, "NaN and Inf are ignored");
	seq_voice_set(&v, 0, 1e9f);
	CHECK(v.cur.target[0] == 12000, "a value above max is clamped (%g)", (double)v.cur.target[0]);
	float bad[SEQ_VOICE_MAX_PARAMS];
	for (int i = 0; i < SEQ_VOICE_MAX_PARAMS; i++)
		bad[i] = i & 1 ? NAN : -1e9f;
	seq_voice_init(&v, SEQ_VOICE_ACID, RATE, bad);
	CHECK(v.cur.param[0] == 30 && v.cur.param[1] == 0.5f, "init clamps and replaces NaN by the "
	      "default");
}

/* ---- clicks ---- */

/* A voice of kind that sounds long, for the click tests. */
static void sustained(int kind, float *p)
{
	seq_voice_defaults(kind, p);
	int d = seq_voice_param_index(kind, "decay");
	if (kind != SEQ_VOICE_ACID)
		p[d] = seq_voice_params(kind, NULL)[d].max;
	if (kind == SEQ_VOICE_KICK)
		p[seq_voice_param_index(kind, "click")] = 0;
}

/* Render kind with p: hit at 0 (held), at frame T set param to value
 * (param < 0: nothing), n frames into l. */
static void jump_run(int kind, const float *p, int param, float value, int T, int n,
		     float *l, float *r)
{
	struct seq_voice v;
	seq_voice_init(&v, kind, RATE, p);
	zero(l, r, n);
	seq_voice_note_on(&v, 45, 110, false);
	render(&v, l, r, T, 64);
	if (param >= 0)
		seq_voice_set(&v, param, value);
	render(&v, l + T, r + T, n - T, 64);
}

static void test_clicks(void)
{
	int T = RATE / 5, W = RATE / 20, n = T + W;
	/* a parameter jump min <-> max */
	for (int k = 1; k < SEQ_VOICE_COUNT; k++) {
		int np = 0;
		const struct seq_voice_param *t = seq_voice_params(k, &np);
		float kind_ratio = 0;
		const char *kind_param = "";
		for (int pi = 0; pi < np; pi++) {
			for (int dir = 0; dir < 2; dir++) {
				float from = dir ? t[pi].max : t[pi].min, to = dir ? t[pi].min : t[pi].max;
				float p[SEQ_VOICE_MAX_PARAMS], q[SEQ_VOICE_MAX_PARAMS];
				sustained(k, p);
				if (k != SEQ_VOICE_ACID && pi == seq_voice_param_index(k, "decay"))
					from = dir ? t[pi].max : 0.5f * t[pi].max;  /* audible at T */
				p[pi] = from;
				memcpy(q, p, sizeof q);
				q[pi] = to;
				float worst_ok = 0, worst_pk = 0, got = 0;
				for (int ch = 0; ch < 2; ch++) {
					jump_run(k, p, -1, 0, T, n, bl, br);
					jump_run(k, q, -1, 0, T, n, cl_, cr);
					jump_run(k, p, pi, to, T, n, dl, dr);
					float *a = ch ? br : bl, *b = ch ? cr : cl_, *j = ch ? dr : dl;
					float ref = fmaxf(max_step(a, T - W, n), max_step(b, T - W, n));
					float pk = fmaxf(peak(a, T - W, n), peak(b, T - W, n));
					float s = max_step(j, T, n);
					if (worst_ok == 0 || s / (1.2f * ref + CLICK_REL * pk) > got / worst_ok) {
						got = s;
						worst_ok = 1.2f * ref + CLICK_REL * pk;
						worst_pk = pk;
					}
				}
				if (got / worst_ok > kind_ratio) {
					kind_ratio = got / worst_ok;
					kind_param = t[pi].name;
				}
				if (got > worst_ok)
					CHECK(false, "%s.%s %g -> %g: a step of %.5f (bound %.5f, peak %.3f)",
					      seq_voice_name(k), t[pi].name, (double)from, (double)to,
					      (double)got, (double)worst_ok, (double)worst_pk);
				else
					checks++;
			}
		}
		printf("%s: the largest parameter-jump step is %.0f%% of its bound (%s)\n",
		       seq_voice_name(k), kind_ratio * 100, kind_param);
	}
	/* an unramped jump would fail: kick amp 0.1 -> 1 at T */
	{
		float p[SEQ_VOICE_MAX_PARAMS];
		sustained(SEQ_VOICE_KICK, p);
		p[seq_voice_param_index(SEQ_VOICE_KICK, "amp")] = 0.1f;
		jump_run(SEQ_VOICE_KICK, p, -1, 0, T, n, bl, br);
		float ref = max_step(bl, T - W, n), pk = peak(bl, T - W, n) * 10;
		float raw = fabsf(bl[T]) * 9.0f;
		CHECK(raw > 1.2f * ref + CLICK_REL * pk, "the click test can fail: an unramped amp jump "
		      "would step %.4f against a bound of %.4f", (double)raw,
		      (double)(1.2f * ref + CLICK_REL * pk));
	}

	/* retrigger: old and new sound together never step more than each
	 * alone, plus the fade */
	for (int k = 1; k < SEQ_VOICE_COUNT; k++) {
		float p[SEQ_VOICE_MAX_PARAMS];
		sustained(k, p);
		struct seq_voice v;
		int w = RATE / 100;
		/* the new sound alone */
		seq_voice_init(&v, k, RATE, p);
		zero(cl_, cr, w);
		seq_voice_note_on(&v, 50, 127, false);
		render(&v, cl_, cr, w, 64);
		float s_new = max_step(cl_, 0, w);
		/* the old sound alone */
		jump_run(k, p, -1, 0, T, T + w, bl, br);
		float s_old = max_step(bl, T - w, T + w), pk_old = peak(bl, T - w, T + w);
		/* both */
		seq_voice_init(&v, k, RATE, p);
		zero(dl, dr, T + w);
		seq_voice_note_on(&v, 45, 110, false);
		render(&v, dl, dr, T, 64);
		if (k == SEQ_VOICE_ACID)
			seq_voice_note_off(&v, 45);  /* not legato: a retrigger */
		seq_voice_note_on(&v, 50, 127, false);
		render(&v, dl + T, dr + T, w, 64);
		float s = max_step(dl, T - 1, T + w);
		float bound = s_new + s_old + CLICK_REL * pk_old;
		CHECK(s <= bound, "%s retrigger: step %.5f <= %.5f (new %.5f, old %.5f; a cut would "
		      "step %.4f)", seq_voice_name(k), (double)s, (double)bound, (double)s_new,
		      (double)s_old, (double)fabsf(bl[T]));
	}

	/* all_off: the fade never steps more than the sound itself */
	for (int k = 1; k < SEQ_VOICE_COUNT; k++) {
		float p[SEQ_VOICE_MAX_PARAMS];
		sustained(k, p);
		struct seq_voice v;
		seq_voice_init(&v, k, RATE, p);
		int w = RATE / 100;
		zero(bl, br, T + w);
		seq_voice_note_on(&v, 45, 127, false);
		render(&v, bl, br, T, 64);
		seq_voice_all_off(&v);
		render(&v, bl + T, br + T, w, 64);
		float before = max_step(bl, T - w, T), pk = peak(bl, T - w, T);
		float s = max_step(bl, T - 1, T + w);
		CHECK(s <= 1.2f * before + CLICK_REL * pk, "%s all_off: step %.5f (before %.5f, peak "
		      "%.3f)", seq_voice_name(k), (double)s, (double)before, (double)pk);
	}

	/* a change of kind while sounding: the old one fades under the new */
	int kinds[][2] = {{SEQ_VOICE_ACID, SEQ_VOICE_KICK}, {SEQ_VOICE_KICK, SEQ_VOICE_ACID},
			  {SEQ_VOICE_SNARE, SEQ_VOICE_HAT}, {SEQ_VOICE_ACID, SEQ_VOICE_NONE}};
	for (int c = 0; c < 4; c++) {
		int from = kinds[c][0], to = kinds[c][1];
		float p[SEQ_VOICE_MAX_PARAMS];
		sustained(from, p);
		int w = RATE / 100;
		jump_run(from, p, -1, 0, T, T + w, bl, br);
		float s_old = max_step(bl, T - w, T + w), pk_old = peak(bl, T - w, T + w);
		struct seq_voice v;
		float s_new = 0;
		if (to != SEQ_VOICE_NONE) {
			seq_voice_init(&v, to, RATE, NULL);
			zero(cl_, cr, w);
			seq_voice_note_on(&v, 50, 127, false);
			render(&v, cl_, cr, w, 64);
			s_new = max_step(cl_, 0, w);
		}
		seq_voice_init(&v, from, RATE, p);
		zero(dl, dr, T + w);
		seq_voice_note_on(&v, 45, 110, false);
		render(&v, dl, dr, T, 64);
		seq_voice_set_kind(&v, to, NULL);
		seq_voice_note_on(&v, 50, 127, false);
		render(&v, dl + T, dr + T, w, 64);
		float s = max_step(dl, T - 1, T + w);
		CHECK(s <= s_new + s_old + CLICK_REL * pk_old, "%s -> %s: step %.5f (new %.5f, old %.5f)",
		      seq_voice_name(from), seq_voice_name(to), (double)s, (double)s_new, (double)s_old);
	}
}

/* ---- block sizes ---- */

enum { EV_ON, EV_OFF, EV_SET, EV_ALL_OFF, EV_KIND };
struct event {
	int frame, type, a;
	float b;
};

static void run_script(int kind, const struct event *ev, int nev, int n, int block,
		       float *l, float *r)
{
	struct seq_voice v;
	seq_voice_init(&v, kind, RATE, NULL);
	zero(l, r, n);
	int pos = 0, e = 0;
	while (pos < n) {
		while (e < nev && ev[e].frame == pos) {
			switch (ev[e].type) {
			case EV_ON: seq_voice_note_on(&v, (uint8_t)ev[e].a, (uint8_t)ev[e].b, ev[e].a & 1); break;
			case EV_OFF: seq_voice_note_off(&v, (uint8_t)ev[e].a); break;
			case EV_SET: seq_voice_set(&v, ev[e].a, ev[e].b); break;
			case EV_ALL_OFF: seq_voice_all_off(&v); break;
			case EV_KIND: seq_voice_set_kind(&v, ev[e].a, NULL); break;
			}
			e++;
		}
		int next = e < nev ? ev[e].frame : n;
		int m = next - pos < block ? next - pos : block;
		seq_voice_render(&v, l + pos, r + pos, (uint32_t)m);
		pos += m;
	}
}

static void test_blocks(void)
{
	for (int k = 1; k < SEQ_VOICE_COUNT; k++) {
		int np = 0;
		const struct seq_voice_param *t = seq_voice_params(k, &np);
		static struct event ev[512];
		int nev = 0, n = RATE * 2;
		lcg = 777;
		ev[nev++] = (struct event){0, EV_ON, 45, 100};
		for (int f = 100; f < 3000; f += 700) {
			int pi = (int)(urand() * np);
			ev[nev++] = (struct event){f, EV_SET, pi, t[pi].min + urand() * (t[pi].max - t[pi].min)};
			ev[nev++] = (struct event){f + 1, EV_SET, (pi + 1) % np, t[(pi + 1) % np].def};
		}
		ev[nev++] = (struct event){4800, EV_ON, 57, 127};
		ev[nev++] = (struct event){9000, EV_OFF, 57, 0};
		ev[nev++] = (struct event){9000, EV_OFF, 45, 0};
		ev[nev++] = (struct event){9001, EV_ON, 48, 90};
		ev[nev++] = (struct event){12000, EV_ON, 49, 90};
		ev[nev++] = (struct event){30000, EV_ALL_OFF, 0, 0};
		ev[nev++] = (struct event){30050, EV_ON, 52, 127};
		for (int f = 40000; f < 40200; f++)
			ev[nev++] = (struct event){f, EV_ON, 40 + f % 20, 60 + f % 60};
		ev[nev++] = (struct event){50000, EV_KIND, k == SEQ_VOICE_ACID ? SEQ_VOICE_HAT
					   : SEQ_VOICE_ACID, 0};
		ev[nev++] = (struct event){50000, EV_ON, 50, 120};
		ev[nev++] = (struct event){60000, EV_SET, 0, 0};
		ev[nev++] = (struct event){70000, EV_KIND, k, 0};
		ev[nev++] = (struct event){70010, EV_ON, 50, 120};
		run_script(k, ev, nev, n, 1, bl, br);
		int blocks[] = {17, 64, 1024};
		for (int b = 0; b < 3; b++) {
			run_script(k, ev, nev, n, blocks[b], cl_, cr);
			int diff = -1;
			for (int i = 0; i < n && diff < 0; i++)
				if (memcmp(&bl[i], &cl_[i], sizeof(float)) || memcmp(&br[i], &cr[i], sizeof(float)))
					diff = i;
			CHECK(diff < 0, "%s: blocks of %d frames = blocks of 1 (first difference at %d)",
			      seq_voice_name(k), blocks[b], diff);
		}
		CHECK(peak(bl, 0, n) > 0.05f, "%s: the block script sounds", seq_voice_name(k));
	}
}

/* ---- set_kind ---- */

static void test_set_kind(void)
{
	struct seq_voice v;
	seq_voice_init(&v, SEQ_VOICE_KICK, RATE, NULL);
	size_t size = sizeof v;
	int T = RATE / 20;
	zero(bl, br, RATE);
	seq_voice_note_on(&v, 36, 127, false);
	render(&v, bl, br, T, 64);
	seq_voice_set_kind(&v, SEQ_VOICE_HAT, NULL);
	CHECK(v.kind == SEQ_VOICE_HAT && sizeof v == size, "kick -> hat in place");
	seq_voice_note_on(&v, 42, 127, false);
	render(&v, bl + T, br + T, RATE - T, 64);
	double frac = energy_below(bl, T + RATE / 200, 8192, 2000, RATE);
	CHECK(frac < 0.01, "kick -> hat: %.3f%% of the energy below 2 kHz 5 ms later (the kick is "
	      "gone)", frac * 100);

	float p[SEQ_VOICE_MAX_PARAMS];
	params(SEQ_VOICE_ACID, p, "res", 0.0, "env_amount", 0.0, "cutoff", 330.0, (char *)NULL);
	seq_voice_set_kind(&v, SEQ_VOICE_ACID, p);
	zero(bl, br, RATE);
	seq_voice_note_on(&v, 57, 127, false);
	render(&v, bl, br, RATE / 2, 64);
	double f = zc_freq(bl, RATE / 10, RATE / 2, RATE);
	CHECK(v.cur.param[0] == 330 && fabs(f / 220 - 1) < 0.005,
	      "hat -> acid with params: %.2f Hz for note 57", f);
	/* the same kind: parameters ramp, the note goes on */
	params(SEQ_VOICE_ACID, p, "res", 0.0, "env_amount", 0.0, "cutoff", 2000.0, (char *)NULL);
	seq_voice_set_kind(&v, SEQ_VOICE_ACID, p);
	render(&v, bl + RATE / 2, br + RATE / 2, RATE / 2, 64);
	CHECK(v.cur.u.acid.gate && v.cur.target[0] == 2000 && fabsf(v.cur.param[0] - 2000) < 1,
	      "acid -> acid: new params (cutoff %g), the note still held", (double)v.cur.param[0]);
	/* a copy renders the same: the state holds no pointers */
	struct seq_voice w = v;
	zero(bl, br, RATE / 4);
	zero(cl_, cr, RATE / 4);
	render(&v, bl, br, RATE / 4, 64);
	render(&w, cl_, cr, RATE / 4, 64);
	CHECK(memcmp(bl, cl_, sizeof(float) * RATE / 4) == 0, "a copied voice renders the same");
	/* to none: fades out, then silence; notes do nothing */
	seq_voice_set_kind(&v, SEQ_VOICE_NONE, NULL);
	seq_voice_note_on(&v, 60, 127, false);
	zero(bl, br, RATE / 10);
	render(&v, bl, br, RATE / 10, 64);
	int fade = (int)(0.003 * RATE) + 1;
	CHECK(peak(bl, 0, fade) > 0 && peak(bl, fade, RATE / 10) == 0 && !seq_voice_active(&v),
	      "acid -> none: a 3 ms fade, then silence");
	seq_voice_set_kind(&v, SEQ_VOICE_COUNT, NULL);
	CHECK(v.kind == SEQ_VOICE_NONE, "a bad kind is refused");
}

/* ---- throughput ---- */

static double now(void)
{
	struct timespec ts;
	/* CPU time of this thread: other work on a busy machine does not count */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ns per frame per voice of 8 voices playing 16ths at 120 BPM (all
 * kinds; every voice hit on every step), or all held acid notes. */
static double bench(bool acid_only, int seconds)
{
	int kinds[8] = {SEQ_VOICE_KICK, SEQ_VOICE_SNARE, SEQ_VOICE_HAT, SEQ_VOICE_HAT,
			SEQ_VOICE_CLAP, SEQ_VOICE_ACID, SEQ_VOICE_ACID, SEQ_VOICE_KICK};
	static struct seq_voice v[8];
	for (int i = 0; i < 8; i++) {
		float p[SEQ_VOICE_MAX_PARAMS];
		int kind = acid_only ? SEQ_VOICE_ACID : kinds[i];
		seq_voice_defaults(kind, p);
		if (kind == SEQ_VOICE_HAT && i == 3)
			p[seq_voice_param_index(kind, "decay")] = 0.6f;
		if (kind == SEQ_VOICE_ACID)
			p[seq_voice_param_index(kind, "res")] = 0.8f;
		seq_voice_init(&v[i], kind, RATE, p);
		if (acid_only)
			seq_voice_note_on(&v[i], (uint8_t)(36 + i), 100, false);
	}
	float l[64], r[64];
	int step = RATE / 8, frames = seconds * RATE;
	double t0 = now();
	for (int pos = 0; pos < frames; pos += 64) {
		if (!acid_only && pos % step == 0)
			for (int i = 0; i < 8; i++) {
				if (v[i].kind == SEQ_VOICE_ACID && (pos / step) % 4 == 3)
					seq_voice_note_off(&v[i], v[i].cur.u.acid.note);
				else
					seq_voice_note_on(&v[i], (uint8_t)(36 + (pos / step) % 12), 100,
							  (pos / step) % 4 == 0);
			}
		memset(l, 0, sizeof l);
		memset(r, 0, sizeof r);
		for (int i = 0; i < 8; i++)
			seq_voice_render(&v[i], l, r, 64);
	}
	return (now() - t0) * 1e9 / frames / 8;
}

static void test_throughput(void)
{
	int seconds = SANITIZED ? 2 : 10;
	double mix = 1e9, acid = 1e9;
	for (int rep = 0; rep < 5; rep++) {
		mix = fmin(mix, bench(false, seconds));
		acid = fmin(acid, bench(true, seconds));
	}
	printf("throughput: 8 voices (kick x2, snare, hat x2, clap, acid x2) on every 16th: "
	       "%.1f ns per frame per voice = %.2f us per voice per 64 frames\n", mix, mix * 64e-3);
	printf("throughput: 8 held acid notes (worst case): %.1f ns per frame per voice = %.2f us "
	       "per voice per 64 frames (period 1333 us; 8 voices = %.2f%%)\n", acid, acid * 64e-3,
	       acid * 64e-3 * 8 / 1333.3 * 100);
#if defined(__OPTIMIZE__)
	if (!SANITIZED) {
		CHECK(acid * 64e-3 < 2.5, "acid under 2.5 us per voice per 64 frames (%.2f)",
		      acid * 64e-3);
		CHECK(mix * 64e-3 < 2.5, "mixed voices under 2.5 us per voice per 64 frames (%.2f)",
		      mix * 64e-3);
	}
#endif
	CHECK(mix > 0 && acid > 0, "timings measured");
}

int main(void)
{
	bl = buffer(MAXF);
	br = buffer(MAXF);
	cl_ = buffer(MAXF);
	cr = buffer(MAXF);
	dl = buffer(MAXF);
	dr = buffer(MAXF);
	test_tables();
	test_kick_pitch();
	test_decays();
	test_acid_filter();
	test_self_oscillation();
	test_acid_pitch();
	test_slide();
	test_levels();
	test_hat();
	test_silence();
	test_bounds();
	test_clicks();
	test_blocks();
	test_set_kind();
	test_throughput();
	printf("seq-voices: %d checks, %d failures (largest output %.3f, bound %g)\n", checks,
	       failures, (double)worst, (double)OUT_BOUND);
	free(bl);
	free(br);
	free(cl_);
	free(cr);
	free(dl);
	free(dr);
	return failures ? 1 : 0;
}
