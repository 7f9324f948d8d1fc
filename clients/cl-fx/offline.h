/*
 * cl-fx without JACK: run a chain document over an audio file
 * (`cl-fx --offline --chain chain.json in.wav out.wav`).
 *
 * The render runs the live rack's code: the document is parsed and built
 * by fx_doc_parse / fx_doc_build, and fx_chain_run processes it with its
 * automation lanes. What is particular to a file:
 *
 * - The rack has the input file's channel count (1..8) and rate; an
 *   effect that cannot take that many channels (pingpong and the reverbs
 *   take at most 2) is refused, naming it.
 * - The chain starts settled, as the document says: after the build the
 *   tempo is set (fx_chain_set_tempo), every lane is applied at time 0
 *   (fx_automate) and every effect is reset (its reset(), which also
 *   lands smoothed parameters on their targets and a limiter on its
 *   look-ahead). The file therefore starts where the controls stand
 *   instead of gliding there from the defaults.
 * - The processed stream is the input followed by silence (the chain's
 *   latency plus the tail), cut into blocks of FX_OFFLINE_BLOCK frames
 *   (every block full but the last). Block k starts at frame
 *   f = k * FX_OFFLINE_BLOCK and runs with the clock
 *   seconds = f / rate, beats = seconds * bpm / 60,
 *   seconds_per_frame = 1 / rate, beats_per_frame = bpm / 60 / rate,
 *   has_beats true: seconds are 0 at the file's start, and beat lanes
 *   and synced delays follow `bpm`.
 * - Latency is compensated: the chain's latency L (fx_chain_latency,
 *   taken once, after the settling above) is dropped from the start of
 *   the output and fed as silence at the end, so output frame i lines up
 *   with input frame i (a look-ahead limiter's output is not cut). A
 *   lane that later moves a limiter's look-ahead shifts the signal by the
 *   difference, as it does live.
 * - Tail: none by default: the output is exactly as long as the input,
 *   so a render can replace its source in a project without moving
 *   anything. tail_seconds > 0 appends that much more output, the chain
 *   fed with silence, for a reverb or a delay to ring out (a CLI's
 *   --tail SECONDS).
 * - Denormals are flushed (FTZ/DAZ) while the chain runs, as in the live
 *   audio thread; the caller's floating-point environment is restored
 *   afterwards.
 *
 * Output: through the shared writer (cl_audiofile.h), to a hidden
 * temporary renamed over out_path when complete; format NULL takes the
 * extension's default (.wav/.aif/.aiff 32-bit float, .flac 24-bit), else
 * "float", "24" or "16". A failed or interrupted render (SIGINT, SIGTERM,
 * a full disk, a file-size limit) leaves out_path as it was and no
 * temporary. out_path may be in_path.
 *
 * Error texts (err); C the chain's path, I the input's, O the output's:
 *   "O: cannot tell the file type from its name: use .wav, .flac or
 *    .aiff", "unknown sample format \"x\" (want float, 24 or 16)", "O:
 *    FLAC holds integer samples only: ..." (before any work);
 *   "bpm must be in 10..400, not B", "tail must be 0..3600 s, not T";
 *   "C: <cl_doc_load's text>" (missing, invalid JSON, wrong schema),
 *   "C: <fx_doc_parse's text>" ("C: effects[1]: unknown effect type
 *    \"x\"", "C: effects[0]: compressor.ratio must be a number in 1 ..
 *    20", "C: effects[1]: pingpong takes at most 2 channels, the rack
 *    has 4"), "C: cannot create <type> at R Hz, N channels";
 *   "cannot open I: <strerror>", "I is a folder, not an audio file",
 *   "I is not an audio file libsndfile can read (<its text>)",
 *   "I has N channels; cl-fx takes 1 to 8", "cannot read I: <text>";
 *   the writer's texts ("cannot write O: ... File too large" / "... No
 *   space left on device", ...); "interrupted: O not written".
 */
#ifndef CL_FX_OFFLINE_H
#define CL_FX_OFFLINE_H

#include <stdbool.h>
#include <stddef.h>

#define FX_OFFLINE_BLOCK 1024
#define FX_OFFLINE_DEFAULT_BPM 120.0
#define FX_OFFLINE_MIN_BPM 10.0      /* the transport's range */
#define FX_OFFLINE_MAX_BPM 400.0
#define FX_OFFLINE_MAX_TAIL_S 3600.0

/*
 * Render in_path through the chain document at chain_path into out_path
 * (see above). bpm 0 means FX_OFFLINE_DEFAULT_BPM; tail_seconds 0 means no
 * tail. A progress bar goes to stderr when `progress` is set and stderr
 * is a terminal. 0, or -1 and err.
 */
int fx_offline_render(const char *chain_path, const char *in_path, const char *out_path,
		      const char *format, double bpm, double tail_seconds, bool progress,
		      char *err, size_t errlen);

#endif
