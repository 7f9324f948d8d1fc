/*
 * The mixing engine of cl-mixer as plain DSP: N strips (mono or stereo)
 * into a stereo master bus and K stereo aux buses. No JACK, no OSC, no
 * allocation after mixer_new(); the live process callback and the offline
 * mixdown call exactly these functions.
 *
 * Signal path of one strip:
 *
 *   in -> input gain -> phase -> [pre-fader sends] -> fader -> pan ->
 *         mute/solo -> master, [post-fader sends]
 *
 * Pan is constant power: left = sqrt((1-p)/2), right = sqrt((1+p)/2),
 * p in -1..1. A mono strip feeds both sides through it. A stereo strip
 * uses the same law as a balance: its left channel is scaled by the left
 * gain and its right channel by the right gain (so at p = 0 each side is
 * -3 dB, as for a mono strip, and hard left passes the left channel at
 * unity).
 *
 * Sends: each strip has one send level per aux bus, pre- or post-fader.
 * A post-fader send follows fader, pan and mute/solo; a pre-fader send
 * follows input gain, phase and pan but not fader or mute (a monitor mix
 * stays up when the front of house mutes a strip).
 *
 * Solo is solo-in-place: while any strip is soloed, every strip that is not
 * soloed is silent on the master bus and its post-fader sends.
 *
 * Every gain is ramped linearly over MIXER_RAMP_S when it changes, mute and
 * solo included, so no change clicks. The per-strip coefficients (gain x
 * fader x pan x mute) are computed when a parameter changes, never per
 * sample; when no ramp is running a strip is a plain multiply-add.
 *
 * Meters: peak and sum of squares per strip (and master, aux buses) over
 * the frames processed since the last mixer_meter_take().
 */
#ifndef CL_MIXER_DSP_H
#define CL_MIXER_DSP_H

#include <stdbool.h>
#include <stdint.h>

#define MIXER_MAX_STRIPS 128
#define MIXER_MAX_AUX 8
#define MIXER_RAMP_S 0.020           /* every gain change takes 20 ms */
#define MIXER_GAIN_MIN_DB -24.0
#define MIXER_GAIN_MAX_DB 24.0
#define MIXER_VOLUME_MAX_DB 12.0     /* fader top; bottom is -inf */
#define MIXER_SEND_MAX_DB 12.0

/* Meter indices beyond the strips. */
#define MIXER_METER_MASTER(m) (mixer_strips(m))
#define MIXER_METER_AUX(m, k) (mixer_strips(m) + 1 + (k))

struct mixer_strip_params {
	float gain_db;                 /* -24..24 */
	float volume_db;               /* -inf..12 */
	float pan;                     /* -1..1 */
	bool mute, solo, phase;
	float send_db[MIXER_MAX_AUX];  /* -inf..12; default -inf */
	bool send_pre[MIXER_MAX_AUX];  /* default post-fader */
};

struct mixer_meter {
	float peak;      /* largest |sample| since the last take */
	double sum_sq;   /* sum of squares (both channels of a stereo bus) */
	uint32_t count;  /* samples summed */
};

struct mixer;  /* opaque: see dsp.c */

/* Allocate a mixer for `strips` strips (1..MIXER_MAX_STRIPS), each with
 * 1 (mono) or 2 (stereo) input channels, and `aux` aux buses
 * (0..MIXER_MAX_AUX). Defaults: gain 0 dB, fader 0 dB, pan 0, nothing
 * muted or soloed, sends -inf post-fader, master 0 dB. NULL on bad
 * arguments or no memory. Not RT. */
struct mixer *mixer_new(uint32_t rate, int strips, int channels, int aux);
void mixer_free(struct mixer *m);

int mixer_strips(const struct mixer *m);
int mixer_channels(const struct mixer *m);
int mixer_aux(const struct mixer *m);

/* Setters take effect through a ramp. Values outside their range are
 * clamped; NaN is ignored. A value equal to the current one costs
 * nothing. All RT-safe. */
void mixer_set_gain(struct mixer *m, int strip, float db);
void mixer_set_volume(struct mixer *m, int strip, float db);
void mixer_set_pan(struct mixer *m, int strip, float pan);
void mixer_set_mute(struct mixer *m, int strip, bool mute);
void mixer_set_solo(struct mixer *m, int strip, bool solo);
void mixer_set_phase(struct mixer *m, int strip, bool invert);
void mixer_set_send(struct mixer *m, int strip, int aux, float db);
void mixer_set_send_pre(struct mixer *m, int strip, int aux, bool pre);
void mixer_set_master_volume(struct mixer *m, float db);
void mixer_set_master_mute(struct mixer *m, bool mute);

/* Length of the ramps that changes made from now on take (seconds; 0
 * jumps). MIXER_RAMP_S by default; a scene recall sets its fade time,
 * sends every parameter, then sets MIXER_RAMP_S again, so every parameter
 * crossfades and arrives exactly at the fade's end. RT */
void mixer_set_ramp_time(struct mixer *m, float seconds);

/* Current parameters (targets, not ramp positions). */
const struct mixer_strip_params *mixer_strip(const struct mixer *m, int strip);
float mixer_master_volume(const struct mixer *m);
bool mixer_master_mute(const struct mixer *m);

/* Finish every running ramp at once (offline set-up, tests). RT */
void mixer_settle(struct mixer *m);

/*
 * Mix n frames. in[s * channels + c] is channel c of strip s (NULL reads
 * as silence); master[0..1] and aux[2 * k + 0..1] are written (not added
 * to). n may be any size. RT
 * A NULL master or aux array, or a NULL buffer in one, is not written
 * (its meter still runs). Output does not depend on how the frames are
 * split into calls.
 */
void mixer_process(struct mixer *m, uint32_t n, const float *const *in,
		   float *const *master, float *const *aux);

/* Read and reset meter i (strips, then MIXER_METER_MASTER, then
 * MIXER_METER_AUX): the post-fader strip signal, the master bus, an aux
 * bus. RT
 * A strip meter sees what the strip adds to the master: post gain, fader,
 * pan and mute/solo (a muted strip reads silence), before master volume;
 * the master meter is post master volume and mute. Every meter is stereo:
 * count is 2 per frame, so RMS is the mean over both sides (a -6 dBFS
 * sine on both sides: -6 dB peak, -9 dB RMS; on one side: -12 dB RMS). */
void mixer_meter_take(struct mixer *m, int i, struct mixer_meter *out);
int mixer_meter_count(const struct mixer *m);

/* dB of a meter: peak and RMS (-inf for silence). */
float mixer_meter_peak_db(const struct mixer_meter *mt);
float mixer_meter_rms_db(const struct mixer_meter *mt);

/*
 * Fader curve for TouchOSC and MIDI CC: position 0..1 <-> dB. 0 is -inf,
 * 1 is +12 dB, 0 dB sits at 0.75; the top part is linear in dB (about
 * 1 dB per 1/64), the bottom falls off faster, like a console fader.
 * mixer_fader_norm(mixer_fader_db(x)) == x within 1e-6.
 * Exactly: x >= 0.25: db = (x - 0.75) * 48 (0.25 is -24 dB); below,
 * db = -24 + 12 ln(4x) (same slope at 0.25; -40 dB at 0.066, -60 at
 * 0.0124, -inf at 0). Inputs clamp to 0..1 and -inf..+12.
 */
float mixer_fader_db(float norm);
float mixer_fader_norm(float db);

/* Constant-power pan gains for p in -1..1. */
void mixer_pan_gains(float pan, float *left, float *right);

/* dB <-> linear gain; -inf <-> 0. */
float mixer_db_to_gain(float db);
float mixer_gain_to_db(float gain);

#endif
