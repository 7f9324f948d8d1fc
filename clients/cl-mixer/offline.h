/*
 * The modes of cl-mixer that need no JACK: mixdown of a mix document's
 * files through the live DSP, EBU R128 loudness analysis with fader
 * proposals, and writing those proposals into a mix document.
 *
 * Mix document (schema "cl-mixer-mix/1"; unknown keys and wrong types are
 * refused with a message naming the field, e.g. "strips[1].pan"):
 *
 *   {"schema": "cl-mixer-mix/1",
 *    "rate": 48000,                       optional: default the first file's
 *    "strips": [{"file": "kick.wav",      relative to the document's folder
 *                "name": "Kick",          optional
 *                "gain": 0,               dB, -24..24
 *                "volume": -6,            dB, up to +12, or "-inf"
 *                "pan": -0.2,             -1..1
 *                "mute": false, "solo": false, "phase": false,
 *                "sends": [-12, "-inf"],  dB per aux bus (at most 8)
 *                "send_pre": [false, false]}],   optional, no longer than sends
 *    "master": {"volume": 0, "mute": false}}     optional
 *
 * Every strip is stereo: a mono file feeds both channels of its strip
 * alike, which through the constant-power law is exactly a mono strip
 * (at centre each side gets -3 dB, the sum of powers is the file's).
 * Stereo files use the pan as a balance, as live stereo strips do. Files
 * must be mono or stereo at the mix's rate; shorter files are padded with
 * silence and the mix lasts as long as the longest. Aux buses are
 * computed (sends are checked and set) but only the master is written.
 */
#ifndef CL_MIXER_OFFLINE_H
#define CL_MIXER_OFFLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define OFFLINE_MIX_KIND "cl-mixer-mix"
#define OFFLINE_MIX_VERSION 1
#define OFFLINE_TARGET_LUFS (-23.0)
#define OFFLINE_CEILING_DBTP (-1.0)

/*
 * Mix the files of the document at mix_path into out_path. format:
 * "float" (32-bit float), "24" or "16" (PCM, clipped at full scale), or
 * NULL: float for .wav/.aif/.aiff, 24-bit for .flac. The output is written
 * to a hidden temporary in out_path's folder and renamed over out_path
 * only when complete: a failed or interrupted run (SIGINT, SIGTERM, a full
 * disk, a file-size limit) leaves out_path as it was. A progress bar goes
 * to stderr when `progress` is set and stderr is a terminal. 0, or -1 and
 * err.
 */
int offline_mixdown(const char *mix_path, const char *out_path, const char *format,
		    bool progress, char *err, size_t errlen);

/*
 * Measure each file (EBU R128 integrated loudness, loudness range, true
 * peak over all channels) and print one line per file on out with the
 * fader that brings the file, through a strip at gain 0 dB and centre
 * pan, to target_lufs, lowered where needed so the strip's true peak
 * stays at or under ceiling_dbtp, and never above the fader's +12 dB top.
 * Stops at the first file it cannot read: -1 and err (lines already
 * printed stay).
 */
int offline_analyze(int nfiles, char **files, double target_lufs, double ceiling_dbtp,
		    FILE *out, char *err, size_t errlen);

/*
 * Measure each strip's file through that strip (its gain and pan, fader
 * at 0 dB) and set every strip's "volume" so the strip alone reaches
 * target_lufs with its true peak at or under ceiling_dbtp (per-strip
 * normalisation; the master is left as it is). Faders are rounded to
 * 0.1 dB. Strips whose files have no loudness above the -70 LUFS gate
 * keep their volume. Prints one line per strip on stdout, then rewrites
 * the document atomically; nothing is written when any strip fails.
 * 0, or -1 and err.
 */
int offline_apply(const char *mix_path, double target_lufs, double ceiling_dbtp,
		  char *err, size_t errlen);

#endif
