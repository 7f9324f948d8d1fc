/*
 * The effect module interface of cl-fx.
 *
 * Every effect type is a pure DSP module: it knows nothing of JACK, OSC or
 * files. It describes its parameters in a table (name, unit, range,
 * default, curve) and offers create / set / process / destroy. The live
 * rack, the offline renderer, automation and the unit tests all drive
 * effects through this interface only.
 *
 * Rules every module keeps:
 * - create() allocates everything the instance will ever need (delay lines
 *   sized for the longest time its parameters allow, at that sample rate);
 *   nothing allocates, locks or blocks after that. Parameters start at their
 *   defaults. create() may be slow; it runs off the audio thread.
 * - set() takes a value already clamped to the parameter's range and
 *   returns quickly; an unchanged value costs nothing. Costly work
 *   (coefficients) happens at most once per set() or once per block, never
 *   per sample unless a smoothed value is moving.
 * - Every change is smoothed or crossfaded inside process() (gains ramp,
 *   filter frequencies glide, delay times crossfade or glide) so nothing
 *   clicks or zippers, even under automation at every block.
 * - process() works in place on `channels` buffers of n frames, any n
 *   (1 .. 8192), with output independent of how a signal is cut into
 *   blocks wherever the algorithm allows. It never produces NaN or Inf for
 *   finite input, whatever the parameters (state that went non-finite is
 *   reset). Denormals: the caller sets FTZ/DAZ, but feedback paths should
 *   not depend on it (add a tiny offset or flush small values).
 */
#ifndef CL_FX_EFFECT_H
#define CL_FX_EFFECT_H

#include <stdbool.h>
#include <stdint.h>

#define FX_MAX_CHANNELS 8
#define FX_MAX_PARAMS 48

enum fx_curve {
	FX_LINEAR,   /* normalised 0..1 maps linearly onto min..max */
	FX_LOG,      /* exponentially (frequencies, times); min > 0 */
	FX_CHOICE,   /* whole numbers min..max naming choices (see the doc) */
	FX_TOGGLE,   /* 0 or 1 */
};

struct fx_param {
	const char *name;  /* short lowercase word: "threshold", "freq2" */
	const char *unit;  /* "dB", "Hz", "ms", "s", "%", ":1", "" */
	float min, max, def;
	enum fx_curve curve;
	const char *doc;   /* one line, for /fx/<slot>/params and the man page;
			      for FX_CHOICE it lists the choices: "0 = peak, 1 = rms" */
};

struct fx_type {
	const char *id;    /* "compressor": the type id of DESIGN.md */
	const char *doc;   /* one line */
	const struct fx_param *params;
	int nparams;
	/* Highest channel count the type handles (1..FX_MAX_CHANNELS); types
	 * that are inherently stereo (pingpong, width) say 2 and treat mono
	 * input sensibly. */
	int max_channels;

	/* New instance for this rate and channel count; NULL on bad arguments
	 * or no memory. Not RT. */
	void *(*create)(uint32_t rate, int channels);
	void (*destroy)(void *fx);
	/* Parameter i (0..nparams-1) to value (in range). RT */
	void (*set)(void *fx, int i, float value);
	/* Tempo for note-synced times, beats per minute > 0. RT. NULL when the
	 * type has no synced parameter. */
	void (*set_tempo)(void *fx, double bpm);
	/* Forget the signal history (delay lines, envelopes, filter state).
	 * RT */
	void (*reset)(void *fx);
	/* n frames in place: buf[c][0..n) for c < channels. RT */
	void (*process)(void *fx, float *const *buf, uint32_t n);
	/* Like process, with an external sidechain sc[c][0..n) driving the
	 * detector (compressor, gate, expander). NULL when unsupported. RT */
	void (*process_sidechain)(void *fx, float *const *buf, const float *const *sc, uint32_t n);
	/* Frames of latency the effect adds (look-ahead); NULL means 0. */
	uint32_t (*latency)(const void *fx);
};

/* Every type, in a stable order, NULL-terminated; and lookup by id. */
extern const struct fx_type *const fx_types[];
const struct fx_type *fx_find_type(const char *id);
/* Index of parameter `name` in t, or -1. */
int fx_param_index(const struct fx_type *t, const char *name);

/* Normalised 0..1 <-> value along the parameter's curve. */
float fx_param_from_norm(const struct fx_param *p, float norm);
float fx_param_to_norm(const struct fx_param *p, float value);
/* Clamp (and round choices and toggles); NaN gives the default. */
float fx_param_clamp(const struct fx_param *p, float value);

/* The types, defined by the modules. */
extern const struct fx_type fx_peq, fx_lowshelf, fx_highshelf, fx_highpass, fx_lowpass;
extern const struct fx_type fx_compressor, fx_limiter, fx_expander, fx_gate;
extern const struct fx_type fx_saturation, fx_distortion, fx_waveshaper;
extern const struct fx_type fx_delay, fx_pingpong, fx_multitap;
extern const struct fx_type fx_freeverb, fx_hall, fx_plate;

#endif
