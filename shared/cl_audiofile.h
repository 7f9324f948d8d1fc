/*
 * Writing audio files from offline renders: the output file, the progress
 * bar and the signals, shared by cl-mixer's mixdown and cl-fx's renderer.
 *
 * An output file never appears half-written. The audio goes to a hidden
 * temporary beside the target (".<name>.tmp-XXXXXX", the name
 * cl_atomic_sweep() knows), and only a commit (libsndfile's close, fsync
 * and close, all checked; rename over the target; fsync of the folder)
 * puts it in place. Any failure, and an abort, removes the temporary and
 * leaves the target as it was.
 *
 * Formats: the container comes from the target's extension (.wav, .flac,
 * .aif or .aiff, any case) and the samples from `format`: "float"
 * (32-bit float), "24" or "16" (PCM), or NULL for float in WAV and AIFF
 * and 24-bit in FLAC (FLAC has no float). PCM samples are rounded to the
 * nearest step (so they read back within half an LSB) and clipped at full
 * scale, counted, instead of wrapping; NaN is written as 0.
 *
 * Error texts (err), P the target's path:
 *   "P: cannot tell the file type from its name: use .wav, .flac or .aiff",
 *   "unknown sample format \"x\" (want float, 24 or 16)",
 *   "P: FLAC holds integer samples only: use --format 24 (or a .wav file
 *    for float)",
 *   "P: libsndfile cannot write this format at R Hz with C channels",
 *   "cannot write P: not a file name", "cannot write P: the name is too
 *   long", "cannot create a temporary file beside P: <strerror>",
 *   "cannot write P: <libsndfile's text>" (a full disk: "... No space
 *   left on device", a file-size limit: "... File too large"),
 *   "cannot finish P: <libsndfile's text>", "cannot write P: fsync:
 *   <strerror>", "cannot write P: close: <strerror>",
 *   "cannot rename the finished file to P: <strerror>".
 * A failed fsync of the folder after the rename is only a warning (the
 * file is in place): "P is written, but syncing its folder failed: ...".
 *
 * Signals during a render: SIGINT and SIGTERM set a flag the render loop
 * polls (cl_render_interrupted), so it stops and aborts its output;
 * SIGXFSZ is ignored, so a file-size limit (RLIMIT_FSIZE) becomes a write
 * error (EFBIG) that removes the temporary instead of killing the process
 * with a core dump. The previous handlers come back afterwards. One render
 * at a time per process.
 */
#ifndef CL_AUDIOFILE_H
#define CL_AUDIOFILE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CL_PROGRESS_INTERVAL_S 0.1   /* at most 10 draws a second */
#define CL_PROGRESS_WIDTH 30         /* characters of the bar */

struct cl_audio_out;

/* What has gone through an output file so far. */
struct cl_audio_out_info {
	uint64_t frames;          /* frames written */
	uint64_t clipped;         /* PCM samples clipped at full scale */
	float peak;               /* largest |sample| given, before clipping */
	const char *sample_name;  /* "32-bit float", "24-bit" or "16-bit" */
};

/* libsndfile's SF_FORMAT_PCM_* or SF_FORMAT_FLOAT for a --format value
 * ("float", "24" or "16"; NULL gives `fallback`). 0, or -1 and err. */
int cl_audio_sample_format(const char *format, int fallback, int *sample, char *err,
			   size_t errlen);

/* A --format option value checked at the command line: 0, or -1 after
 * "PROG: --format: why" on stderr. */
int cl_audio_format_option(const char *prog, const char *format);

/* libsndfile's SF_FORMAT_* code (container | samples) for path and
 * format, as described above. 0, or -1 and err. Lets a caller refuse a bad
 * output name before doing any work. */
int cl_audio_format(const char *path, const char *format, int *sf_format,
		    char *err, size_t errlen);

/* A new output for path (its temporary created and the header started),
 * or NULL and err. Every output ends in exactly one commit or abort. */
struct cl_audio_out *cl_audio_out_open(const char *path, uint32_t rate, int channels,
				       const char *format, char *err, size_t errlen);

/* Append frames of interleaved float samples. 0, or -1 and err (the
 * output then still needs an abort). */
int cl_audio_out_write(struct cl_audio_out *o, const float *interleaved, size_t frames,
		       char *err, size_t errlen);

/* The running totals (valid until commit or abort). */
const struct cl_audio_out_info *cl_audio_out_info(const struct cl_audio_out *o);

/* Finish the file and put it in place, then free o (also on failure, when
 * the temporary is removed). 0, or -1 and err. */
int cl_audio_out_commit(struct cl_audio_out *o, char *err, size_t errlen);

/* Remove the temporary and free o; the target stays as it was. NULL is
 * fine. */
void cl_audio_out_abort(struct cl_audio_out *o);

/* A progress bar on stderr: "\r<label>  42% [#####.....]    12.3 / 29.0 s". */
struct cl_progress {
	const char *label;
	uint64_t total;      /* frames; 0 when unknown (the bar shows full) */
	uint32_t rate;
	bool on;             /* asked for, and stderr is a terminal */
	bool drawn;          /* a bar without its newline is on the line */
	double last;         /* monotonic seconds of the last draw */
};

/* Set up a bar; it draws only when `wanted` and stderr is a terminal. */
void cl_progress_start(struct cl_progress *p, const char *label, uint64_t total_frames,
		       uint32_t rate, bool wanted);
/* Redraw at `done` frames, at most every CL_PROGRESS_INTERVAL_S. */
void cl_progress_update(struct cl_progress *p, uint64_t done);
/* The last draw: on success the bar at `done` and a newline; on failure
 * only the newline a drawn bar needs, so an error starts a line. */
void cl_progress_end(struct cl_progress *p, uint64_t done, bool ok);

/* The handlers a render replaced. */
struct cl_render_signals {
	struct sigaction intr, term, xfsz;
};

/* Catch SIGINT/SIGTERM into the interrupted flag (cleared here) and
 * ignore SIGXFSZ; the old handlers go into saved. */
void cl_render_signals_catch(struct cl_render_signals *saved);
/* Put back the handlers cl_render_signals_catch replaced. */
void cl_render_signals_restore(const struct cl_render_signals *saved);
/* True once SIGINT or SIGTERM arrived since the catch. */
bool cl_render_interrupted(void);

#endif
