/*
 * cl-fx reverbs (freeverb, hall, plate) against known answers.
 *
 * - Freeverb against a reference written here from the algorithm's
 *   description (double precision, one sample at a time, nothing shared
 *   with the module): 1 s of stereo noise at five settings and a mono
 *   one, and at 44.1 kHz, within 1e-4.
 * - Decay: the RT60 of the hall at 1, 2.5, 6 and 20 s and of the plate
 *   at 0.25 (its shortest), 0.3, 0.5, 0.7, 1, 2.5, 6 and 20 s (both take
 *   decay as an RT60 in seconds) from the Schroeder energy decay curve of
 *   the impulse response (backward integration, straight-line fit from -5
 *   to -35 dB, extrapolated to -60 dB), within 20% of the set decay, both
 *   broadband and in the 1 kHz octave; the hall also at sizes 0 and 1
 *   (decay must not depend on size); and `damp` (decay halved at that
 *   frequency, the set decay three octaves below) in third-octave bands.
 * - mix 0 is the dry signal bit for bit, from the start and after a ramp.
 * - predelay moves the wet onset by exactly round(ms * rate / 1000) frames.
 * - every parameter at min, max and default, random combinations, all-min
 *   and all-max, over full-scale noise, square and silence, mono and
 *   stereo: finite and within a stated bound; 60 s of full-scale noise at
 *   the longest decay: finite, bounded and not growing.
 * - blocks of 1, 13, 64 and 4096 frames give bit-identical output, with
 *   parameter changes landing during ramps and crossfades.
 * - a step of every parameter on a steady 100 Hz sine does not click: the
 *   largest sample-to-sample step stays below 3x the steepest slope a
 *   100 Hz signal of that peak can have (a hard mix switch is shown to
 *   break that bound).
 * - width: wet only, on independent noise in L and R, the correlation of
 *   the outputs is (1 - w^2) / (1 + w^2) (the two wet banks being
 *   uncorrelated and equally loud) within 0.1, and L == R bit for bit at
 *   width 0; the plate's two tap sets are uncorrelated.
 * - a timing print: ns of thread CPU time per stereo frame at 48 kHz,
 *   128-frame blocks.
 */
#include "cl_check.h"
#include "effect.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define RATE 48000

/* ------------------------------------------------------------ test rig */

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

struct sig {
	float *ch[2];
	size_t n;
	int channels;
};

static struct sig sig_new(size_t n, int channels)
{
	struct sig s = {.n = n, .channels = channels};
	for (int c = 0; c < channels; c++)
		s.ch[c] = xcalloc(n ? n : 1, sizeof(float));
	return s;
}

static struct sig sig_copy(const struct sig *a)
{
	struct sig s = sig_new(a->n, a->channels);
	for (int c = 0; c < a->channels; c++)
		memcpy(s.ch[c], a->ch[c], a->n * sizeof(float));
	return s;
}

static void sig_free(struct sig *s)
{
	for (int c = 0; c < s->channels; c++)
		free(s->ch[c]);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

/* Uniform in [-1, 1). */
static float rng_uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (float)((double)(rng_state >> 11) / 4503599627370496.0 - 1.0);
}

static void fill_noise(struct sig *s, uint64_t seed)
{
	rng_seed(seed);
	for (size_t i = 0; i < s->n; i++)
		for (int c = 0; c < s->channels; c++)
			s->ch[c][i] = rng_uniform();
}

static void fill_square(struct sig *s, double hz)
{
	for (size_t i = 0; i < s->n; i++)
		for (int c = 0; c < s->channels; c++)
			s->ch[c][i] = fmod(i * hz / RATE, 1.0) < 0.5 ? 1.0f : -1.0f;
}

static void fill_sine(struct sig *s, double hz, double amp)
{
	for (size_t i = 0; i < s->n; i++)
		for (int c = 0; c < s->channels; c++)
			s->ch[c][i] = (float)(amp * sin(2.0 * M_PI * hz * i / RATE + c * 0.3));
}

struct fx {
	const struct fx_type *type;
	void *st;
	int channels;
};

static struct fx fx_open(const struct fx_type *t, uint32_t rate, int channels)
{
	struct fx f = {.type = t, .channels = channels};
	f.st = t->create(rate, channels);
	if (f.st == NULL) {
		fprintf(stderr, "%s: create(%u, %d) failed\n", t->id, rate, channels);
		exit(1);
	}
	return f;
}

static void fx_close(struct fx *f)
{
	f->type->destroy(f->st);
}

static int param_index(const struct fx_type *t, const char *name)
{
	for (int i = 0; i < t->nparams; i++)
		if (strcmp(t->params[i].name, name) == 0)
			return i;
	fprintf(stderr, "%s has no parameter %s\n", t->id, name);
	exit(1);
}

static void fx_set(struct fx *f, const char *name, float v)
{
	f->type->set(f->st, param_index(f->type, name), v);
}

/* A parameter change at a frame. */
struct event {
	size_t frame;
	const char *name;
	float value;
};

/* s in place through f in blocks of `block` frames, cut at event frames
 * (events sorted by frame). */
static void fx_run_events(struct fx *f, struct sig *s, size_t from, size_t to, uint32_t block,
			  const struct event *ev, int nev)
{
	size_t pos = from;
	int e = 0;
	while (e < nev && ev[e].frame < from)
		e++;
	while (pos < to) {
		while (e < nev && ev[e].frame == pos) {
			fx_set(f, ev[e].name, ev[e].value);
			e++;
		}
		size_t n = to - pos;
		if (n > block)
			n = block;
		if (e < nev && ev[e].frame - pos < n)
			n = ev[e].frame - pos;
		float *bufs[2] = {s->ch[0] + pos, s->channels > 1 ? s->ch[1] + pos : NULL};
		f->type->process(f->st, bufs, (uint32_t)n);
		pos += n;
	}
}

static void fx_run(struct fx *f, struct sig *s, size_t from, size_t to, uint32_t block)
{
	fx_run_events(f, s, from, to, block, NULL, 0);
}

static double sig_peak(const struct sig *s, size_t from, size_t to)
{
	double m = 0.0;
	for (int c = 0; c < s->channels; c++)
		for (size_t i = from; i < to; i++)
			if (fabs(s->ch[c][i]) > m)
				m = fabs(s->ch[c][i]);
	return m;
}

static bool sig_finite(const struct sig *s)
{
	for (int c = 0; c < s->channels; c++)
		for (size_t i = 0; i < s->n; i++)
			if (!isfinite(s->ch[c][i]))
				return false;
	return true;
}

static double sig_rms(const struct sig *s, size_t from, size_t to)
{
	double e = 0.0;
	for (int c = 0; c < s->channels; c++)
		for (size_t i = from; i < to; i++)
			e += (double)s->ch[c][i] * s->ch[c][i];
	return sqrt(e / ((to - from) * (double)s->channels));
}

/* ------------------------------------------ freeverb, the reference */

/*
 * Freeverb as described: input (L + R) * 0.015, a predelay, then per
 * channel 8 combs in parallel (read the delayed sample, lowpass it with
 * pole damp * 0.4, write input + lowpassed * (0.7 + 0.28 * room)) and 4
 * allpass stages in series (out = delayed - in, write in + delayed / 2);
 * lengths 1116 1188 1277 1356 1422 1491 1557 1617 / 556 441 341 225 at
 * 44.1 kHz, right channel + 23, scaled to the rate and rounded. Output
 * L = (1 - mix) in_L + mix * ((1 + width) / 2 * wet_L + (1 - width) / 2 *
 * wet_R), R mirrored. Mono: the input counts on both sides, left bank
 * only, wet gain mix.
 */
struct ref_delay {
	double *buf;
	size_t len, at;
};

static void ref_delay_init(struct ref_delay *d, double len44, uint32_t rate)
{
	d->len = (size_t)floor(len44 * rate / 44100.0 + 0.5);
	d->buf = xcalloc(d->len, sizeof(double));
	d->at = 0;
}

static void ref_freeverb(uint32_t rate, double room, double damp, double width, double mix,
			 double predelay_ms, struct sig *s)
{
	static const double combs[8] = {1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617};
	static const double aps[4] = {556, 441, 341, 225};
	const int banks = s->channels;
	struct ref_delay comb[2][8], ap[2][4];
	double lowpassed[2][8] = {{0}};
	for (int c = 0; c < banks; c++) {
		for (int k = 0; k < 8; k++)
			ref_delay_init(&comb[c][k], combs[k] + 23.0 * c, rate);
		for (int k = 0; k < 4; k++)
			ref_delay_init(&ap[c][k], aps[k] + 23.0 * c, rate);
	}
	size_t pre = (size_t)floor(predelay_ms * rate / 1000.0 + 0.5);
	double *x = xcalloc(s->n, sizeof(double));
	const double feedback = 0.7 + 0.28 * room, d = 0.4 * damp;
	for (size_t i = 0; i < s->n; i++) {
		double l = s->ch[0][i], r = banks == 2 ? s->ch[1][i] : l;
		x[i] = (l + r) * 0.015;
		double in = i >= pre ? x[i - pre] : 0.0;
		double wet[2];
		for (int c = 0; c < banks; c++) {
			double sum = 0.0;
			for (int k = 0; k < 8; k++) {
				struct ref_delay *cb = &comb[c][k];
				double y = cb->buf[cb->at];
				lowpassed[c][k] = y * (1.0 - d) + lowpassed[c][k] * d;
				cb->buf[cb->at] = in + lowpassed[c][k] * feedback;
				cb->at = (cb->at + 1) % cb->len;
				sum += y;
			}
			for (int k = 0; k < 4; k++) {
				struct ref_delay *a = &ap[c][k];
				double delayed = a->buf[a->at];
				a->buf[a->at] = sum + delayed * 0.5;
				a->at = (a->at + 1) % a->len;
				sum = delayed - sum;
			}
			wet[c] = sum;
		}
		if (banks == 2) {
			double w1 = mix * (1.0 + width) / 2.0, w2 = mix * (1.0 - width) / 2.0;
			s->ch[0][i] = (float)((1.0 - mix) * l + w1 * wet[0] + w2 * wet[1]);
			s->ch[1][i] = (float)((1.0 - mix) * r + w1 * wet[1] + w2 * wet[0]);
		} else {
			s->ch[0][i] = (float)((1.0 - mix) * l + mix * wet[0]);
		}
	}
	free(x);
	for (int c = 0; c < banks; c++) {
		for (int k = 0; k < 8; k++)
			free(comb[c][k].buf);
		for (int k = 0; k < 4; k++)
			free(ap[c][k].buf);
	}
}

static void test_freeverb_reference(void)
{
	static const struct {
		uint32_t rate;
		int channels;
		double room, damp, width, mix, predelay;
	} cases[] = {
		{RATE, 2, 0.5, 0.5, 1.0, 1.0, 0.0},
		{RATE, 2, 0.84, 0.2, 0.5, 0.7, 0.0},
		{RATE, 2, 1.0, 0.0, 0.0, 0.3, 0.0},
		{RATE, 2, 0.1, 1.0, 0.8, 1.0, 25.3},
		{RATE, 2, 0.7, 0.5, 1.0, 0.25, 0.0},
		{RATE, 1, 0.9, 0.3, 1.0, 0.6, 3.0},
		{44100, 2, 0.75, 0.25, 0.6, 0.5, 0.0},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		uint32_t rate = cases[k].rate;
		struct sig in = sig_new(rate, cases[k].channels);
		fill_noise(&in, 100 + k);
		struct sig ref = sig_copy(&in), out = sig_copy(&in);
		ref_freeverb(rate, cases[k].room, cases[k].damp, cases[k].width, cases[k].mix,
			     cases[k].predelay, &ref);
		struct fx f = fx_open(&fx_freeverb, rate, cases[k].channels);
		fx_set(&f, "room", (float)cases[k].room);
		fx_set(&f, "damp", (float)cases[k].damp);
		fx_set(&f, "width", (float)cases[k].width);
		fx_set(&f, "mix", (float)cases[k].mix);
		fx_set(&f, "predelay", (float)cases[k].predelay);
		fx_run(&f, &out, 0, out.n, 512);
		double worst = 0.0, peak = 0.0;
		for (int c = 0; c < in.channels; c++)
			for (size_t i = 0; i < in.n; i++) {
				double e = fabs((double)out.ch[c][i] - ref.ch[c][i]);
				if (!(e <= worst))
					worst = e;
				if (fabs(ref.ch[c][i]) > peak)
					peak = fabs(ref.ch[c][i]);
			}
		CHECK(worst <= 1e-4,
		      "freeverb %u Hz %dch room %.2f damp %.2f width %.2f mix %.2f predelay %.1f: "
		      "max |module - reference| %.3g > 1e-4 (reference peak %.3f)",
		      rate, in.channels, cases[k].room, cases[k].damp, cases[k].width, cases[k].mix,
		      cases[k].predelay, worst, peak);
		printf("freeverb vs reference: %u Hz %dch room %.2f damp %.2f width %.2f mix %.2f "
		       "predelay %.1f ms: max error %.2g (peak %.3f)\n",
		       rate, in.channels, cases[k].room, cases[k].damp, cases[k].width, cases[k].mix,
		       cases[k].predelay, worst, peak);
		fx_close(&f);
		sig_free(&in);
		sig_free(&ref);
		sig_free(&out);
	}
}

/* ------------------------------------------------------------- decay */

/* RBJ band-pass (0 dB peak), `octaves` wide, over x in place, double. */
static void bandpass(double *x, size_t n, double fc, double octaves)
{
	double w0 = 2.0 * M_PI * fc / RATE;
	double alpha = sin(w0) * sinh(log(2.0) / 2.0 * octaves * w0 / sin(w0));
	double a0 = 1.0 + alpha;
	double b0 = alpha / a0, b2 = -alpha / a0;
	double a1 = -2.0 * cos(w0) / a0, a2 = (1.0 - alpha) / a0;
	double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
	for (size_t i = 0; i < n; i++) {
		double y = b0 * x[i] + b2 * x2 - a1 * y1 - a2 * y2;
		x2 = x1;
		x1 = x[i];
		y2 = y1;
		y1 = y;
		x[i] = y;
	}
}

/*
 * RT60 in seconds of the impulse response h (both channels): Schroeder's
 * backward integral of the energy, a least-squares line through its dB
 * values from -5 to -35 dB, extrapolated to -60 dB. band_hz > 0 filters
 * each channel to the band of `octaves` around it first (twice, for
 * steeper skirts). Returns -1 when the curve never reaches -35 dB.
 */
static double rt60_band(const struct sig *h, double band_hz, double octaves)
{
	size_t n = h->n;
	double *e = xcalloc(n, sizeof(double));
	double *x = xcalloc(n, sizeof(double));
	for (int c = 0; c < h->channels; c++) {
		for (size_t i = 0; i < n; i++)
			x[i] = h->ch[c][i];
		if (band_hz > 0) {
			bandpass(x, n, band_hz, octaves);
			bandpass(x, n, band_hz, octaves);
		}
		for (size_t i = 0; i < n; i++)
			e[i] += x[i] * x[i];
	}
	/* backward integral, in place */
	double acc = 0.0;
	for (size_t i = n; i-- > 0;) {
		acc += e[i];
		e[i] = acc;
	}
	double total = e[0];
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	size_t cnt = 0;
	bool reached = false;
	for (size_t i = 0; i < n; i++) {
		double db = 10.0 * log10(e[i] / total);
		if (db > -5.0)
			continue;
		if (db < -35.0) {
			reached = true;
			break;
		}
		double t = (double)i / RATE;
		sx += t;
		sy += db;
		sxx += t * t;
		sxy += t * db;
		cnt++;
	}
	free(e);
	free(x);
	if (!reached || cnt < 2)
		return -1.0;
	double slope = (cnt * sxy - sx * sy) / (cnt * sxx - sx * sx);   /* dB/s */
	return -60.0 / slope;
}

/* RT60 broadband (band_hz 0) or in the octave around band_hz. */
static double rt60_of(const struct sig *h, double band_hz)
{
	return rt60_band(h, band_hz, 1.0);
}

/* Impulse response of f (wet only: the caller set mix), `seconds` long. */
static struct sig impulse_response(struct fx *f, double seconds)
{
	struct sig s = sig_new((size_t)(seconds * RATE), f->channels);
	for (int c = 0; c < f->channels; c++)
		s.ch[c][0] = 1.0f;
	fx_run(f, &s, 0, s.n, 1024);
	return s;
}

static void test_hall_decay(void)
{
	static const double decays[] = {1.0, 2.5, 6.0, 20.0};
	static const float sizes[] = {0.0f, 0.6f, 1.0f};
	for (size_t k = 0; k < 4; k++)
		for (size_t z = 0; z < 3; z++) {
			if (k == 3 && z != 1)
				continue;   /* the top of the range once: 33 s of response */
			struct fx f = fx_open(&fx_hall, RATE, 2);
			fx_set(&f, "mix", 100.0f);
			fx_set(&f, "predelay", 0.0f);
			fx_set(&f, "decay", (float)decays[k]);
			fx_set(&f, "size", sizes[z]);
			fx_set(&f, "damp", 20000.0f);
			struct sig h = impulse_response(&f, 1.6 * decays[k] + 0.5);
			double broad = rt60_of(&h, 0.0), mid = rt60_of(&h, 1000.0);
			CHECK(fabs(broad / decays[k] - 1.0) <= 0.2,
			      "hall decay %.1f s size %.1f: broadband RT60 %.3f s, not within 20%%",
			      decays[k], sizes[z], broad);
			CHECK(fabs(mid / decays[k] - 1.0) <= 0.2,
			      "hall decay %.1f s size %.1f: 1 kHz octave RT60 %.3f s, not within 20%%",
			      decays[k], sizes[z], mid);
			printf("hall decay %.1f s size %.1f damp 20 kHz: RT60 broadband %.3f s, 1 kHz %.3f s\n",
			       decays[k], sizes[z], broad, mid);
			sig_free(&h);
			fx_close(&f);
		}
	/* damp: the decay time is halved at the damp frequency, the set decay
	 * three octaves below. Read in third-octave bands: the decay changes
	 * fast with frequency there and a band reads an average. */
	static const float damps[] = {1000.0f, 4000.0f, 8000.0f};
	for (size_t k = 0; k < 3; k++) {
		struct fx f = fx_open(&fx_hall, RATE, 2);
		fx_set(&f, "mix", 100.0f);
		fx_set(&f, "predelay", 0.0f);
		fx_set(&f, "decay", 3.0f);
		fx_set(&f, "damp", damps[k]);
		struct sig h = impulse_response(&f, 5.0);
		double at = rt60_band(&h, damps[k], 1.0 / 3.0), low = rt60_band(&h, damps[k] / 8.0, 1.0 / 3.0);
		CHECK(fabs(at / 1.5 - 1.0) <= 0.2,
		      "hall damp %.0f Hz, decay 3 s: RT60 at %.0f Hz %.3f s, want 1.5 s +-20%%",
		      damps[k], damps[k], at);
		CHECK(fabs(low / 3.0 - 1.0) <= 0.2,
		      "hall damp %.0f Hz, decay 3 s: RT60 at %.0f Hz %.3f s, want 3 s +-20%%",
		      damps[k], damps[k] / 8.0, low);
		printf("hall damp %.0f Hz decay 3 s: RT60 %.3f s at %.0f Hz, %.3f s at %.0f Hz\n",
		       damps[k], at, damps[k], low, damps[k] / 8.0);
		sig_free(&h);
		fx_close(&f);
	}
}

static void test_plate_decay(void)
{
	static const double decays[] = {0.25, 0.3, 0.5, 0.7, 1.0, 2.5, 6.0, 20.0};
	for (size_t k = 0; k < sizeof decays / sizeof decays[0]; k++) {
		struct fx f = fx_open(&fx_plate, RATE, 2);
		fx_set(&f, "mix", 100.0f);
		fx_set(&f, "predelay", 0.0f);
		fx_set(&f, "decay", (float)decays[k]);
		fx_set(&f, "damp", 20000.0f);
		fx_set(&f, "bandwidth", 20000.0f);
		struct sig h = impulse_response(&f, 1.6 * decays[k] + 1.0);
		double broad = rt60_of(&h, 0.0), mid = rt60_of(&h, 1000.0);
		CHECK(fabs(broad / decays[k] - 1.0) <= 0.2,
		      "plate decay %.2f s: broadband RT60 %.3f s, not within 20%%", decays[k], broad);
		CHECK(fabs(mid / decays[k] - 1.0) <= 0.2,
		      "plate decay %.2f s: 1 kHz octave RT60 %.3f s, not within 20%%", decays[k], mid);
		printf("plate decay %.2f s: RT60 broadband %.3f s, 1 kHz %.3f s\n", decays[k], broad, mid);
		sig_free(&h);
		fx_close(&f);
	}
	/* damp as for the hall */
	struct fx f = fx_open(&fx_plate, RATE, 2);
	fx_set(&f, "mix", 100.0f);
	fx_set(&f, "predelay", 0.0f);
	fx_set(&f, "decay", 3.0f);
	fx_set(&f, "damp", 3000.0f);
	fx_set(&f, "bandwidth", 20000.0f);
	struct sig h = impulse_response(&f, 5.0);
	double at = rt60_band(&h, 3000.0, 1.0 / 3.0), low = rt60_band(&h, 375.0, 1.0 / 3.0);
	CHECK(fabs(at / 1.5 - 1.0) <= 0.2,
	      "plate damp 3000 Hz, decay 3 s: RT60 at 3 kHz %.3f s, want 1.5 s +-20%%", at);
	CHECK(fabs(low / 3.0 - 1.0) <= 0.2,
	      "plate damp 3000 Hz, decay 3 s: RT60 at 375 Hz %.3f s, want 3 s +-20%%", low);
	printf("plate damp 3000 Hz decay 3 s: RT60 %.3f s at 3 kHz, %.3f s at 375 Hz\n", at, low);
	sig_free(&h);
	fx_close(&f);
}

/* ------------------------------------------------------ the parameter table */

static const struct fx_type *const types[] = {&fx_freeverb, &fx_hall, &fx_plate};
#define NTYPES 3

static void test_tables(void)
{
	static const char *const names[NTYPES][7] = {
		{"room", "damp", "width", "mix", "predelay"},
		{"decay", "predelay", "size", "damp", "mix", "width"},
		{"decay", "predelay", "bandwidth", "damp", "mix"},
	};
	static const char *const ids[NTYPES] = {"freeverb", "hall", "plate"};
	for (int t = 0; t < NTYPES; t++) {
		const struct fx_type *ty = types[t];
		CHECK(strcmp(ty->id, ids[t]) == 0, "type id %s, want %s", ty->id, ids[t]);
		int want = 0;
		while (want < 7 && names[t][want])
			want++;
		CHECK(ty->nparams == want, "%s has %d parameters, want %d", ty->id, ty->nparams, want);
		for (int i = 0; i < ty->nparams && i < want; i++) {
			const struct fx_param *p = &ty->params[i];
			CHECK(strcmp(p->name, names[t][i]) == 0, "%s parameter %d is %s, want %s", ty->id, i,
			      p->name, names[t][i]);
			CHECK(p->min < p->max && p->def >= p->min && p->def <= p->max,
			      "%s.%s: default %g outside %g..%g", ty->id, p->name, p->def, p->min, p->max);
			CHECK(p->curve != FX_LOG || p->min > 0.0f, "%s.%s: log curve with min %g", ty->id,
			      p->name, p->min);
			CHECK(p->doc && p->doc[0] && p->unit, "%s.%s: no doc or unit", ty->id, p->name);
		}
		CHECK(ty->max_channels == 2, "%s max_channels %d, want 2", ty->id, ty->max_channels);
		CHECK(ty->create && ty->destroy && ty->set && ty->reset && ty->process,
		      "%s: missing an entry point", ty->id);
		CHECK(ty->create(RATE, 3) == NULL, "%s: create with 3 channels did not fail", ty->id);
		CHECK(ty->create(RATE, 0) == NULL, "%s: create with 0 channels did not fail", ty->id);
		CHECK(ty->create(0, 2) == NULL, "%s: create at rate 0 did not fail", ty->id);
		static const uint32_t rates[] = {8000, 22050, 44100, 96000, 192000};
		for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
			void *st = ty->create(rates[r], 2);
			CHECK(st != NULL, "%s: create at %u Hz failed", ty->id, rates[r]);
			if (st) {
				float a[256], b[256];
				for (int i = 0; i < 256; i++)
					a[i] = b[i] = (i & 16) ? 0.5f : -0.5f;
				float *bufs[2] = {a, b};
				ty->process(st, bufs, 256);
				CHECK(isfinite(a[255]) && isfinite(b[255]), "%s at %u Hz: non-finite output",
				      ty->id, rates[r]);
				ty->destroy(st);
			}
		}
	}
}

/* Value of parameter p at normalised position u along its curve. */
static float param_at(const struct fx_param *p, double u)
{
	if (p->curve == FX_LOG)
		return (float)(p->min * pow((double)p->max / p->min, u));
	return (float)(p->min + u * ((double)p->max - p->min));
}

/* -------------------------------------------------------------- mix 0 */

static void test_mix_zero(void)
{
	for (int t = 0; t < NTYPES; t++)
		for (int ch = 1; ch <= 2; ch++) {
			/* from the start */
			struct sig in = sig_new(RATE / 2, ch);
			fill_noise(&in, 7 + t);
			struct sig out = sig_copy(&in);
			struct fx f = fx_open(types[t], RATE, ch);
			fx_set(&f, "mix", 0.0f);
			fx_run(&f, &out, 0, out.n, 100);
			size_t bad = 0;
			for (int c = 0; c < ch; c++)
				for (size_t i = 0; i < in.n; i++)
					bad += out.ch[c][i] != in.ch[c][i];
			CHECK(bad == 0, "%s %dch mix 0 from the start: %zu samples differ from dry", types[t]->id,
			      ch, bad);
			fx_close(&f);
			/* after running wet, once the 50 ms ramp is over */
			struct sig out2 = sig_copy(&in);
			f = fx_open(types[t], RATE, ch);
			struct event ev = {RATE / 8, "mix", 0.0f};
			fx_run_events(&f, &out2, 0, out2.n, 100, &ev, 1);
			size_t from = RATE / 8 + RATE / 20 + 64;
			bad = 0;
			for (int c = 0; c < ch; c++)
				for (size_t i = from; i < in.n; i++)
					bad += out2.ch[c][i] != in.ch[c][i];
			double before = 0;
			for (size_t i = 0; i < RATE / 8; i++)
				before = fmax(before, fabs(out2.ch[0][i] - in.ch[0][i]));
			CHECK(bad == 0, "%s %dch mix 0 after 50 ms ramp: %zu samples differ from dry",
			      types[t]->id, ch, bad);
			CHECK(before > 0.01, "%s %dch: no wet signal before mix 0 (max diff %.3g)", types[t]->id,
			      ch, before);
			fx_close(&f);
			sig_free(&in);
			sig_free(&out);
			sig_free(&out2);
		}
	printf("mix 0: dry bit for bit (mono, stereo; from the start and after the ramp)\n");
}

/* -------------------------------------------------------------- width */

static void test_width(void)
{
	static const float widths[] = {0.0f, 0.5f, 1.0f};
	for (int t = 0; t < NTYPES; t++)
		for (size_t k = 0; k < 3; k++) {
			bool has_width = types[t] != &fx_plate;
			if (!has_width && k > 0)
				continue;
			struct fx f = fx_open(types[t], RATE, 2);
			fx_set(&f, "mix", types[t] == &fx_freeverb ? 1.0f : 100.0f);
			if (has_width)
				fx_set(&f, "width", widths[k]);
			struct sig s = sig_new(2 * RATE, 2);
			fill_noise(&s, 9);
			fx_run(&f, &s, 0, s.n, 256);
			double sl = 0, sr = 0, slr = 0;
			size_t equal = 0, from = RATE / 2;
			for (size_t i = from; i < s.n; i++) {
				sl += (double)s.ch[0][i] * s.ch[0][i];
				sr += (double)s.ch[1][i] * s.ch[1][i];
				slr += (double)s.ch[0][i] * s.ch[1][i];
				equal += s.ch[0][i] == s.ch[1][i];
			}
			double corr = slr / sqrt(sl * sr);
			double w = has_width ? widths[k] : 1.0;
			double want = (1.0 - w * w) / (1.0 + w * w);
			CHECK(fabs(corr - want) <= 0.1, "%s width %.1f: L/R correlation %.3f, want %.3f +-0.1",
			      types[t]->id, w, corr, want);
			if (has_width && widths[k] == 0.0f)
				CHECK(equal == s.n - from, "%s width 0: L and R differ in %zu samples", types[t]->id,
				      s.n - from - equal);
			printf("%s width %.1f: L/R correlation %.3f (want %.3f)\n", types[t]->id, w, corr, want);
			sig_free(&s);
			fx_close(&f);
		}
}

/* ---------------------------------------------------------- predelay */

static size_t onset(const struct sig *s, double threshold)
{
	for (size_t i = 0; i < s->n; i++)
		for (int c = 0; c < s->channels; c++)
			if (fabs(s->ch[c][i]) > threshold)
				return i;
	return s->n;
}

static void test_predelay(void)
{
	static const float ms[] = {0.5f, 37.3f, 121.77f, 200.0f};
	for (int t = 0; t < NTYPES; t++)
		for (int ch = 1; ch <= 2; ch++) {
			struct fx f0 = fx_open(types[t], RATE, ch);
			fx_set(&f0, "mix", types[t] == &fx_freeverb ? 1.0f : 100.0f);
			fx_set(&f0, "predelay", 0.0f);
			struct sig h0 = impulse_response(&f0, 1.0);
			size_t o0 = onset(&h0, 1e-6);
			double peak0 = sig_peak(&h0, 0, h0.n);
			for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
				struct fx f = fx_open(types[t], RATE, ch);
				fx_set(&f, "mix", types[t] == &fx_freeverb ? 1.0f : 100.0f);
				fx_set(&f, "predelay", ms[k]);
				struct sig h = impulse_response(&f, 1.0);
				size_t want = (size_t)floor(ms[k] * RATE / 1000.0 + 0.5);
				size_t o = onset(&h, 1e-6);
				CHECK(o != h.n && o - o0 == want,
				      "%s %dch predelay %.2f ms: wet onset moved %zd frames, want %zu",
				      types[t]->id, ch, ms[k], (ssize_t)o - (ssize_t)o0, want);
				/* The plate's LFO runs on absolute time, the others are
				 * time-invariant: the whole response shifts. */
				if (types[t] != &fx_plate) {
					double worst = 0.0;
					for (int c = 0; c < ch; c++)
						for (size_t i = want; i < h.n; i++)
							worst = fmax(worst, fabs(h.ch[c][i] - h0.ch[c][i - want]));
					CHECK(worst <= 1e-6 * peak0,
					      "%s %dch predelay %.2f ms: response differs from the shifted one by %.3g",
					      types[t]->id, ch, ms[k], worst);
				}
				sig_free(&h);
				fx_close(&f);
			}
			sig_free(&h0);
			fx_close(&f0);
		}
	printf("predelay: wet onset moves by round(ms * 48) frames exactly (0.5, 37.3, 121.77, 200 ms)\n");
}

/* ------------------------------------------------------ extremes, bounds */

/* Full-scale input. A reverb sums many echoes: the wet level grows with
 * the decay (Freeverb's combs up to 1 / (1 - 0.98) on a resonance, the
 * hall as sqrt(decay)). Measured: peaks below 2.8 in 0.5 s runs at any
 * setting, 5.2 over 60 s of noise at the longest decays (rms about 0.95,
 * peaks about 5.5 x rms as for any noise-like signal). 8 leaves room and
 * still stops a runaway. */
#define OUT_BOUND 8.0
/* Silence in: only the 1e-20 anti-denormal offset can come out. */
#define SILENCE_BOUND 1e-12

static void run_setting(struct fx *f, const char *what, double *worst)
{
	static const char *const sigs[] = {"noise", "square", "silence"};
	for (int k = 0; k < 3; k++) {
		struct sig s = sig_new(RATE / 2, f->channels);
		if (k == 0)
			fill_noise(&s, 11);
		else if (k == 1)
			fill_square(&s, 50.0);
		f->type->reset(f->st);
		fx_run(f, &s, 0, s.n, 256);
		double peak = sig_peak(&s, 0, s.n);
		bool finite = sig_finite(&s);
		CHECK(finite, "%s %dch %s, %s: NaN or Inf in the output", f->type->id, f->channels, what,
		      sigs[k]);
		if (k < 2) {
			CHECK(peak <= OUT_BOUND, "%s %dch %s, %s: peak %.3f > %.1f", f->type->id, f->channels,
			      what, sigs[k], peak, OUT_BOUND);
			if (peak > *worst)
				*worst = peak;
		} else {
			CHECK(peak <= SILENCE_BOUND, "%s %dch %s, silence: output %.3g", f->type->id,
			      f->channels, what, peak);
		}
		sig_free(&s);
	}
}

static void set_all(struct fx *f, const float *v)
{
	for (int i = 0; i < f->type->nparams; i++)
		f->type->set(f->st, i, v[i]);
}

static void test_extremes(void)
{
	for (int t = 0; t < NTYPES; t++) {
		const struct fx_type *ty = types[t];
		double worst = 0.0;
		for (int ch = 1; ch <= 2; ch++) {
			float v[FX_MAX_PARAMS];
			char what[96];
			for (int i = 0; i < ty->nparams; i++)
				for (int m = 0; m < 3; m++) {
					struct fx f = fx_open(ty, RATE, ch);
					for (int j = 0; j < ty->nparams; j++)
						v[j] = ty->params[j].def;
					const struct fx_param *p = &ty->params[i];
					v[i] = m == 0 ? p->min : m == 1 ? p->max : p->def;
					set_all(&f, v);
					snprintf(what, sizeof what, "%s=%g", p->name, v[i]);
					run_setting(&f, what, &worst);
					fx_close(&f);
				}
			for (int m = 0; m < 2; m++) {
				struct fx f = fx_open(ty, RATE, ch);
				for (int j = 0; j < ty->nparams; j++)
					v[j] = m ? ty->params[j].max : ty->params[j].min;
				set_all(&f, v);
				run_setting(&f, m ? "all max" : "all min", &worst);
				fx_close(&f);
			}
			rng_seed(4242 + t);
			for (int r = 0; r < 6; r++) {
				struct fx f = fx_open(ty, RATE, ch);
				int at = 0;
				at += snprintf(what, sizeof what, "random");
				for (int j = 0; j < ty->nparams; j++) {
					v[j] = param_at(&ty->params[j], 0.5 + 0.5 * rng_uniform());
					if (at < (int)sizeof what - 12)
						at += snprintf(what + at, sizeof what - at, " %.3g", v[j]);
				}
				set_all(&f, v);
				run_setting(&f, what, &worst);
				fx_close(&f);
			}
		}
		printf("%s: every parameter at min/max/default, all-min, all-max, 6 random; noise, square, "
		       "silence; mono and stereo: finite, peak %.3f (bound %.0f)\n", ty->id, worst, OUT_BOUND);
	}
}

/* 60 s of full-scale noise at the longest decay: finite, bounded, and
 * the level of the last 10 s within 1 dB of seconds 30..40 (a slow
 * runaway would grow). Processed a second at a time. */
static void test_long_run(void)
{
	for (int t = 0; t < NTYPES; t++) {
		const struct fx_type *ty = types[t];
		struct fx f = fx_open(ty, RATE, 2);
		if (ty == &fx_freeverb) {
			fx_set(&f, "room", 1.0f);
			fx_set(&f, "damp", 0.0f);
			fx_set(&f, "mix", 1.0f);
		} else {
			fx_set(&f, "decay", 20.0f);
			fx_set(&f, "damp", 20000.0f);
			fx_set(&f, "mix", 100.0f);
			if (ty == &fx_hall)
				fx_set(&f, "size", 1.0f);
			else
				fx_set(&f, "bandwidth", 20000.0f);
		}
		struct sig s = sig_new(RATE, 2);
		double peak = 0.0, e_mid = 0.0, e_end = 0.0;
		bool finite = true;
		for (int sec = 0; sec < 60; sec++) {
			fill_noise(&s, 1000 + sec);
			fx_run(&f, &s, 0, s.n, 128);
			finite = finite && sig_finite(&s);
			peak = fmax(peak, sig_peak(&s, 0, s.n));
			double r = sig_rms(&s, 0, s.n);
			if (sec >= 30 && sec < 40)
				e_mid += r * r;
			if (sec >= 50)
				e_end += r * r;
		}
		double growth = 10.0 * log10(e_end / e_mid);
		CHECK(finite, "%s: 60 s of noise at the longest decay: NaN or Inf", ty->id);
		CHECK(peak <= OUT_BOUND, "%s: 60 s of noise at the longest decay: peak %.3f > %.1f", ty->id,
		      peak, OUT_BOUND);
		CHECK(fabs(growth) <= 1.0, "%s: 60 s at the longest decay: level moved %.2f dB from 30-40 s "
		      "to 50-60 s", ty->id, growth);
		printf("%s: 60 s full-scale noise at the longest decay: peak %.3f, rms %.3f, drift %+.3f dB\n",
		       ty->id, peak, sqrt(e_end / 10.0), growth);
		sig_free(&s);
		fx_close(&f);
	}
}

/* --------------------------------------------------- block independence */

static void test_blocks(void)
{
	/* Changes land during ramps and during predelay / size crossfades. */
	static const struct event ev[NTYPES][10] = {
		{{20000, "room", 0.95f}, {20000, "damp", 0.1f}, {20000, "predelay", 50.0f},
		 {20500, "predelay", 10.0f}, {20500, "width", 0.3f}, {21111, "mix", 0.8f},
		 {45000, "room", 0.2f}, {45001, "mix", 0.1f}},
		{{20000, "decay", 8.0f}, {20000, "size", 1.0f}, {20000, "predelay", 50.0f},
		 {20500, "size", 0.1f}, {20500, "damp", 2000.0f}, {20501, "width", 0.2f},
		 {21111, "mix", 80.0f}, {45000, "decay", 1.0f}, {45001, "size", 0.5f}, {45002, "mix", 10.0f}},
		{{20000, "decay", 8.0f}, {20000, "bandwidth", 3000.0f}, {20000, "predelay", 50.0f},
		 {20500, "predelay", 10.0f}, {20500, "damp", 2000.0f}, {21111, "mix", 80.0f},
		 {45000, "decay", 1.0f}, {45001, "mix", 10.0f}},
	};
	static const int nev[NTYPES] = {8, 10, 8};
	static const uint32_t blocks[] = {1, 13, 64};
	for (int t = 0; t < NTYPES; t++)
		for (int ch = 1; ch <= 2; ch++) {
			struct sig in = sig_new(RATE * 3 / 2, ch);
			fill_noise(&in, 77);
			struct sig ref = sig_copy(&in);
			struct fx f = fx_open(types[t], RATE, ch);
			fx_run_events(&f, &ref, 0, ref.n, 4096, ev[t], nev[t]);
			fx_close(&f);
			for (size_t b = 0; b < 3; b++) {
				struct sig out = sig_copy(&in);
				f = fx_open(types[t], RATE, ch);
				fx_run_events(&f, &out, 0, out.n, blocks[b], ev[t], nev[t]);
				fx_close(&f);
				size_t first = out.n;
				for (int c = 0; c < ch; c++)
					for (size_t i = 0; i < out.n; i++)
						if (memcmp(&out.ch[c][i], &ref.ch[c][i], sizeof(float)) != 0) {
							if (i < first)
								first = i;
							break;
						}
				CHECK(first == out.n,
				      "%s %dch: blocks of %u differ from blocks of 4096 from frame %zu (%.9g vs %.9g)",
				      types[t]->id, ch, blocks[b], first, first < out.n ? out.ch[0][first] : 0.0,
				      first < out.n ? ref.ch[0][first] : 0.0);
				sig_free(&out);
			}
			/* reset() forgets everything: same as a new instance */
			struct sig a = sig_copy(&in), bsig = sig_copy(&in);
			f = fx_open(types[t], RATE, ch);
			struct sig junk = sig_new(RATE / 3, ch);
			fill_noise(&junk, 5);
			fx_run(&f, &junk, 0, junk.n, 100);
			f.type->reset(f.st);
			fx_run(&f, &a, 0, a.n / 4, 256);
			fx_close(&f);
			f = fx_open(types[t], RATE, ch);
			fx_run(&f, &bsig, 0, bsig.n / 4, 256);
			fx_close(&f);
			bool same = true;
			for (int c = 0; c < ch; c++)
				same = same && memcmp(a.ch[c], bsig.ch[c], bsig.n / 4 * sizeof(float)) == 0;
			CHECK(same, "%s %dch: output after reset() differs from a new instance", types[t]->id, ch);
			sig_free(&a);
			sig_free(&bsig);
			sig_free(&junk);
			sig_free(&in);
			sig_free(&ref);
		}
	printf("blocks of 1, 13, 64 = blocks of 4096, bit for bit, changes landing in ramps and fades; "
	       "reset = new instance\n");
}

/* ------------------------------------------------------------- clicks */

#define CLICK_HZ 100.0
#define CLICK_AT (3 * RATE)
#define CLICK_LEN (RATE / 2)

/* Largest |y[i] - y[i-1]| over [from, to) against the steepest slope a
 * CLICK_HZ signal of the window's peak can have. */
static double click_ratio(const struct sig *s, size_t from, size_t to)
{
	double jump = 0.0;
	for (int c = 0; c < s->channels; c++)
		for (size_t i = from; i < to; i++)
			jump = fmax(jump, fabs((double)s->ch[c][i] - s->ch[c][i - 1]));
	double slope = 2.0 * M_PI * CLICK_HZ / RATE * sig_peak(s, from, to);
	return jump / slope;
}

static void click_setup(struct fx *f)
{
	if (f->type == &fx_freeverb) {
		fx_set(f, "mix", 0.5f);
	} else {
		fx_set(f, "mix", 50.0f);
		fx_set(f, "decay", 1.0f);
	}
}

static void test_clicks(void)
{
	const double bound = 3.0;
	for (int t = 0; t < NTYPES; t++) {
		const struct fx_type *ty = types[t];
		double worst = 0.0;
		const char *worst_name = "";
		for (int i = 0; i < ty->nparams; i++)
			for (int dir = 0; dir < 2; dir++) {
				const struct fx_param *p = &ty->params[i];
				struct fx f = fx_open(ty, RATE, 2);
				click_setup(&f);
				float from = dir ? p->max : p->min, to = dir ? p->min : p->max;
				/* decay steps start at the setup's decay, not at the extremes */
				if (strcmp(p->name, "decay") == 0)
					from = 1.0f;
				ty->set(f.st, i, from);
				struct sig s = sig_new(CLICK_AT + CLICK_LEN, 2);
				fill_sine(&s, CLICK_HZ, 0.5);
				struct event ev = {CLICK_AT, p->name, to};
				fx_run_events(&f, &s, 0, s.n, 128, &ev, 1);
				double r = click_ratio(&s, CLICK_AT - RATE / 4, s.n);
				CHECK(r <= bound, "%s: %s %g -> %g on a %.0f Hz sine clicks: step %.2f x the "
				      "signal's steepest slope (bound %.1f)", ty->id, p->name, from, to, CLICK_HZ, r,
				      bound);
				if (r > worst) {
					worst = r;
					worst_name = p->name;
				}
				sig_free(&s);
				fx_close(&f);
			}
		/* The measure sees a click: splice the steady outputs of mix 0 and
		 * mix max at CLICK_AT, what an unsmoothed switch would do. */
		int mi = param_index(ty, "mix");
		struct sig a = sig_new(CLICK_AT + CLICK_LEN, 2), b = sig_new(CLICK_AT + CLICK_LEN, 2);
		fill_sine(&a, CLICK_HZ, 0.5);
		fill_sine(&b, CLICK_HZ, 0.5);
		struct fx fa = fx_open(ty, RATE, 2), fb = fx_open(ty, RATE, 2);
		click_setup(&fa);
		click_setup(&fb);
		ty->set(fa.st, mi, ty->params[mi].min);
		ty->set(fb.st, mi, ty->params[mi].max);
		fx_run(&fa, &a, 0, a.n, 128);
		fx_run(&fb, &b, 0, b.n, 128);
		memcpy(a.ch[0] + CLICK_AT, b.ch[0] + CLICK_AT, CLICK_LEN * sizeof(float));
		memcpy(a.ch[1] + CLICK_AT, b.ch[1] + CLICK_AT, CLICK_LEN * sizeof(float));
		double hard = click_ratio(&a, CLICK_AT - RATE / 4, a.n);
		CHECK(hard > 2.0 * bound, "%s: a hard mix switch measures only %.2f, the click bound %.1f "
		      "would not catch it", ty->id, hard, bound);
		printf("%s: every parameter stepped min->max and max->min on a 100 Hz sine: worst step %.2f x "
		       "steepest slope (%s; bound %.1f; a hard mix switch: %.1f)\n", ty->id, worst, worst_name,
		       bound, hard);
		fx_close(&fa);
		fx_close(&fb);
		sig_free(&a);
		sig_free(&b);
	}
}

/* ------------------------------------------------------------- timing */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void timing(void)
{
	const size_t frames = 10 * RATE;
	struct sig s = sig_new(frames, 2);
	for (int t = 0; t < NTYPES; t++) {
		fill_noise(&s, 3);
		struct fx f = fx_open(types[t], RATE, 2);
		double t0 = now_s();
		fx_run(&f, &s, 0, frames, 128);
		double dt = now_s() - t0;
		double ns = dt * 1e9 / frames;
		printf("timing %s: %.1f ns (thread CPU) per stereo frame at 48 kHz in 128-frame blocks, "
		       "%.0fx realtime\n",
		       types[t]->id, ns, 1e9 / (ns * RATE));
		fx_close(&f);
	}
	sig_free(&s);
}

/* ------------------------------------------------------------------ main */

int main(void)
{
	test_tables();
	test_freeverb_reference();
	test_hall_decay();
	test_plate_decay();
	test_mix_zero();
	test_predelay();
	test_width();
	test_extremes();
	test_long_run();
	test_blocks();
	test_clicks();
	timing();
	printf("fx-reverb: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
