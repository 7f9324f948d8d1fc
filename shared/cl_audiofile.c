/*
 * Output files, progress bar and signals for offline renders; see
 * cl_audiofile.h for the contracts and the error texts.
 *
 * The output is libsndfile writing into a descriptor we own (sf_open_fd
 * without close_desc), so that after sf_close has patched the header we
 * can still fsync and close the file ourselves and see every error: a
 * disk that fills up during the last flush must fail the render, not
 * leave a short file behind a success. PCM conversion is done here, not by
 * libsndfile, to round to the nearest step and to count clipped samples
 * (libsndfile would clip silently, or wrap without SFC_SET_CLIPPING).
 *
 * The interrupted flag is the only global; the handler only sets it.
 */
#include "cl_audiofile.h"
#include "cl_doc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sndfile.h>

#include "cl_log.h"
#include "cl_simd.h"

#define CONVERT_FRAMES 1024   /* PCM is converted in pieces of this many frames */

struct cl_audio_out {
	char *path;
	char tmp[PATH_MAX];
	int fd;
	SNDFILE *sf;
	int channels;
	int pcm_bits;             /* 0 for float */
	int *pcm;                 /* CONVERT_FRAMES * channels */
	struct cl_audio_out_info info;
};

/* ------------------------------------------------------------------ */
/* formats */

/* See cl_audiofile.h. */
int cl_audio_sample_format(const char *format, int fallback, int *sample, char *err,
			   size_t errlen)
{
	if (!format)
		*sample = fallback;
	else if (strcmp(format, "float") == 0)
		*sample = SF_FORMAT_FLOAT;
	else if (strcmp(format, "24") == 0)
		*sample = SF_FORMAT_PCM_24;
	else if (strcmp(format, "16") == 0)
		*sample = SF_FORMAT_PCM_16;
	else {
		snprintf(err, errlen, "unknown sample format \"%s\" (want float, 24 or 16)", format);
		return -1;
	}
	return 0;
}

int cl_audio_format_option(const char *prog, const char *format)
{
	int sample;
	char err[128];
	if (cl_audio_sample_format(format, 0, &sample, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "%s: --format: %s\n", prog, err);
	return -1;
}

/* The SF_FORMAT_* code for path and format; see cl_audiofile.h. */
int cl_audio_format(const char *path, const char *format, int *sf_format,
		    char *err, size_t errlen)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	int container;
	if (dot && strcasecmp(dot, ".wav") == 0)
		container = SF_FORMAT_WAV;
	else if (dot && strcasecmp(dot, ".flac") == 0)
		container = SF_FORMAT_FLAC;
	else if (dot && (strcasecmp(dot, ".aif") == 0 || strcasecmp(dot, ".aiff") == 0))
		container = SF_FORMAT_AIFF;
	else {
		snprintf(err, errlen, "%s: cannot tell the file type from its name: use .wav, .flac or .aiff",
			 path);
		return -1;
	}

	int sample;
	if (cl_audio_sample_format(format, container == SF_FORMAT_FLAC ? SF_FORMAT_PCM_24 : SF_FORMAT_FLOAT,
				   &sample, err, errlen) != 0)
		return -1;
	if (container == SF_FORMAT_FLAC && sample == SF_FORMAT_FLOAT) {
		snprintf(err, errlen, "%s: FLAC holds integer samples only: use --format 24 (or a .wav file for float)",
			 path);
		return -1;
	}
	*sf_format = container | sample;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the output file */

/* A hidden temporary beside path, named into tmp; its descriptor, or -1
 * and err. */
static int temp_create(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dir_len = slash ? (int)(slash - path) + 1 : 0;
	if (*base == '\0') {
		snprintf(err, errlen, "cannot write %s: not a file name", path);
		return -1;
	}
	if ((size_t)snprintf(tmp, tmplen, "%.*s.%s.tmp-XXXXXX", dir_len, path, base) >= tmplen) {
		snprintf(err, errlen, "cannot write %s: the name is too long", path);
		return -1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a temporary file beside %s: %s", path,
			 strerror(errno));
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);   /* not for children a program may start */
	/* mkstemp makes 0600; an audio file is for everyone the umask allows. */
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0)
		cl_warn("cannot set the mode of %s: %s", tmp, strerror(errno));
	return fd;
}

/* fsync the folder of path so the rename survives a crash. */
static int sync_folder_of(const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	return cl_fsync_folder(dir, err, errlen);
}

/*
 * A float sample as `bits`-bit PCM in the top bits of an int (what
 * sf_writef_int takes): rounded to the nearest step of 2^-(bits-1), the
 * scale libsndfile reads back with, so a sample survives within half a
 * step; clipped at full scale (counted) instead of wrapping; NaN as 0.
 */
static int to_pcm(float x, int bits, uint64_t *clipped)
{
	double full = (double)(1L << (bits - 1));
	double v = isnan(x) ? 0.0 : nearbyint((double)x * full);
	if (v > full - 1.0) {
		v = full - 1.0;
		(*clipped)++;
	} else if (v < -full) {
		v = -full;
		(*clipped)++;
	}
	return (int)((int32_t)v * (int32_t)(1L << (32 - bits)));
}

/* Free o and remove its temporary when it is still there. */
static void out_free(struct cl_audio_out *o)
{
	if (o->sf)
		sf_close(o->sf);
	if (o->fd >= 0) {
		close(o->fd);
		unlink(o->tmp);
	}
	free(o->pcm);
	free(o->path);
	free(o);
}

/* An output writing into a new temporary beside path. */
struct cl_audio_out *cl_audio_out_open(const char *path, uint32_t rate, int channels,
				       const char *format, char *err, size_t errlen)
{
	int sf_format;
	if (cl_audio_format(path, format, &sf_format, err, errlen) != 0)
		return NULL;
	SF_INFO info = { .samplerate = (int)rate, .channels = channels, .format = sf_format };
	if (rate == 0 || rate > INT_MAX || channels < 1 || !sf_format_check(&info)) {
		snprintf(err, errlen, "%s: libsndfile cannot write this format at %u Hz with %d channel%s",
			 path, rate, channels, channels == 1 ? "" : "s");
		return NULL;
	}
	struct cl_audio_out *o = calloc(1, sizeof *o);
	if (!o || !(o->path = strdup(path))) {
		free(o);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->fd = -1;
	o->channels = channels;
	switch (sf_format & SF_FORMAT_SUBMASK) {
	case SF_FORMAT_PCM_16:
		o->pcm_bits = 16;
		o->info.sample_name = "16-bit";
		break;
	case SF_FORMAT_PCM_24:
		o->pcm_bits = 24;
		o->info.sample_name = "24-bit";
		break;
	default:
		o->info.sample_name = "32-bit float";
		break;
	}
	if (o->pcm_bits && !(o->pcm = malloc(sizeof(int) * CONVERT_FRAMES * (size_t)channels))) {
		snprintf(err, errlen, "out of memory");
		out_free(o);
		return NULL;
	}
	if ((o->fd = temp_create(path, o->tmp, sizeof o->tmp, err, errlen)) < 0) {
		out_free(o);
		return NULL;
	}
	o->sf = sf_open_fd(o->fd, SFM_WRITE, &info, SF_FALSE);
	if (!o->sf) {
		snprintf(err, errlen, "cannot write %s: %s", path, sf_strerror(NULL));
		out_free(o);
		return NULL;
	}
	return o;
}

/* Append frames, converting to PCM when the format says so. */
int cl_audio_out_write(struct cl_audio_out *o, const float *interleaved, size_t frames,
		       char *err, size_t errlen)
{
	const size_t channels = (size_t)o->channels;
	/* four running maxima, branch-free (a NaN sample is skipped), so the
	 * scan costs no compare and jump per sample */
	v4f m = { o->info.peak, o->info.peak, o->info.peak, o->info.peak };
	const size_t total = frames * channels;
	size_t at = 0;
	for (; at + 4 <= total; at += 4)
		m = v4f_max(v4f_abs(v4f_load(interleaved + at)), m);
	for (; at < total; at++) {
		float a = fabsf(interleaved[at]);
		m[0] = a > m[0] ? a : m[0];
	}
	o->info.peak = v4f_hmax(m);

	if (!o->pcm_bits) {
		if (sf_writef_float(o->sf, interleaved, (sf_count_t)frames) != (sf_count_t)frames) {
			snprintf(err, errlen, "cannot write %s: %s", o->path, sf_strerror(o->sf));
			return -1;
		}
		o->info.frames += frames;
		return 0;
	}
	for (size_t done = 0; done < frames;) {
		size_t n = frames - done < CONVERT_FRAMES ? frames - done : CONVERT_FRAMES;
		const float *src = interleaved + done * channels;
		for (size_t i = 0; i < n * channels; i++)
			o->pcm[i] = to_pcm(src[i], o->pcm_bits, &o->info.clipped);
		if (sf_writef_int(o->sf, o->pcm, (sf_count_t)n) != (sf_count_t)n) {
			snprintf(err, errlen, "cannot write %s: %s", o->path, sf_strerror(o->sf));
			return -1;
		}
		done += n;
		o->info.frames += n;
	}
	return 0;
}

/* The running totals. */
const struct cl_audio_out_info *cl_audio_out_info(const struct cl_audio_out *o)
{
	return &o->info;
}

/* Close, fsync, rename into place, fsync the folder; frees o. */
int cl_audio_out_commit(struct cl_audio_out *o, char *err, size_t errlen)
{
	int status = -1;
	int sfe = sf_close(o->sf);
	o->sf = NULL;
	if (sfe != 0) {
		snprintf(err, errlen, "cannot finish %s: %s", o->path, sf_error_number(sfe));
		goto done;
	}
	if (fsync(o->fd) != 0) {
		snprintf(err, errlen, "cannot write %s: fsync: %s", o->path, strerror(errno));
		goto done;
	}
	int fd = o->fd;
	o->fd = -1;
	if (close(fd) != 0) {
		snprintf(err, errlen, "cannot write %s: close: %s", o->path, strerror(errno));
		unlink(o->tmp);
		goto done;
	}
	if (rename(o->tmp, o->path) != 0) {
		snprintf(err, errlen, "cannot rename the finished file to %s: %s", o->path, strerror(errno));
		unlink(o->tmp);
		goto done;
	}
	char why[PATH_MAX + 64];
	if (sync_folder_of(o->path, why, sizeof why) != 0)
		cl_warn("%s is written, but it may not survive a crash: %s", o->path, why);
	status = 0;
done:
	out_free(o);
	return status;
}

/* Drop the temporary and free o. */
void cl_audio_out_abort(struct cl_audio_out *o)
{
	if (o)
		out_free(o);
}

/* ------------------------------------------------------------------ */
/* the progress bar */

/* Seconds on the monotonic clock. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "\rmixdown  42% [############..................]   12.3 / 29.0 s" */
static void progress_draw(const struct cl_progress *p, uint64_t done, bool last)
{
	int filled = p->total ? (int)(CL_PROGRESS_WIDTH * (double)done / (double)p->total)
			      : CL_PROGRESS_WIDTH;
	int percent = p->total ? (int)(100.0 * (double)done / (double)p->total) : 100;
	char bar[CL_PROGRESS_WIDTH + 1];
	if (filled > CL_PROGRESS_WIDTH)
		filled = CL_PROGRESS_WIDTH;
	if (percent > 100)
		percent = 100;
	memset(bar, '#', (size_t)filled);
	memset(bar + filled, '.', (size_t)(CL_PROGRESS_WIDTH - filled));
	bar[CL_PROGRESS_WIDTH] = '\0';
	fprintf(stderr, "\r%s %3d%% [%s] %7.1f / %.1f s%s", p->label, percent, bar,
		(double)done / p->rate, (double)p->total / p->rate, last ? "\n" : "");
	fflush(stderr);
}

/* A bar that draws only on a terminal, when wanted. */
void cl_progress_start(struct cl_progress *p, const char *label, uint64_t total_frames,
		       uint32_t rate, bool wanted)
{
	*p = (struct cl_progress){
		.label = label, .total = total_frames, .rate = rate ? rate : 1,
		.on = wanted && isatty(STDERR_FILENO),
	};
}

/* Redraw, at most every CL_PROGRESS_INTERVAL_S. */
void cl_progress_update(struct cl_progress *p, uint64_t done)
{
	if (!p->on || now_s() - p->last < CL_PROGRESS_INTERVAL_S)
		return;
	progress_draw(p, done, false);
	p->last = now_s();
	p->drawn = true;
}

/* The final bar and its newline, or just the newline after a failure. */
void cl_progress_end(struct cl_progress *p, uint64_t done, bool ok)
{
	if (p->on && ok)
		progress_draw(p, done, true);
	else if (p->drawn)
		fputc('\n', stderr);
	p->drawn = false;
}

/* ------------------------------------------------------------------ */
/* signals */

/* Set by SIGINT/SIGTERM while a render runs. */
static volatile sig_atomic_t interrupted;

/* Signal handler: only raises the flag. */
static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Catch SIGINT/SIGTERM into the flag, ignore SIGXFSZ, keep the old handlers. */
void cl_render_signals_catch(struct cl_render_signals *saved)
{
	struct sigaction sa = { .sa_handler = on_interrupt };
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigemptyset(&sa.sa_mask);
	sigemptyset(&ign.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &sa, &saved->intr);
	sigaction(SIGTERM, &sa, &saved->term);
	sigaction(SIGXFSZ, &ign, &saved->xfsz);
}

/* Put the old handlers back. */
void cl_render_signals_restore(const struct cl_render_signals *saved)
{
	sigaction(SIGINT, &saved->intr, NULL);
	sigaction(SIGTERM, &saved->term, NULL);
	sigaction(SIGXFSZ, &saved->xfsz, NULL);
}

/* SIGINT or SIGTERM arrived since the catch. */
bool cl_render_interrupted(void)
{
	return interrupted != 0;
}
