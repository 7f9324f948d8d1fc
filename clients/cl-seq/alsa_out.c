/*
 * cl-seq on the ALSA sequencer; see alsa_out.h.
 *
 * Time: JACK counts frames, the ALSA queue counts real time from the
 * moment it started. The JACK frame time of that moment (start_frame)
 * ties the two together, so an event at frame time f plays at
 * (f - start_frame) / rate seconds on the queue, plus a fixed latency
 * that covers the hand-over from the audio thread. Frames are turned
 * into nanoseconds with integer arithmetic (whole seconds and the
 * remainder separately), so the result is the exact time rounded to the
 * nearest nanosecond at any distance from the start. JACK frame times
 * wrap after 2^32 frames (a day at 48 kHz); differences are read as
 * signed 32-bit numbers, and seq_alsa_clock_advance() moves start_frame
 * on in steps of 2^30 frames while counting them in epoch_frames, so the
 * queue keeps time for as long as the client runs.
 *
 * The client side runs in a thread of its own (never the audio thread):
 * the sequencer handle is non-blocking, and when the kernel's pool is
 * full a send waits for room a bounded time instead of hanging. Every
 * note that was ever turned on is remembered in a bit set. At close the
 * events still waiting in the queue are removed first (a note-on there
 * would otherwise play after our note-off, or be cut off with its
 * note-off lost), then every remembered note gets a direct note-off: a
 * few superfluous note-offs are harmless, a hanging note is not.
 */
#include "alsa_out.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000ull
#define EPOCH_STEP (1u << 30)
#define SEND_WAIT_MS 100        /* for room in the kernel's pool, per try */
#define SEND_TRIES 5

struct seq_alsa {
	snd_seq_t *seq;
	struct seq_alsa_clock clock;
	uint8_t touched[16][128 / 8];   /* notes turned on since open */
};

/* printf into err (NULL or empty allowed). */
__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* frames at rate as whole seconds and nanoseconds, rounded to the
 * nearest ns (halves up). */
static void frames_to_time(uint64_t frames, double rate, uint64_t *sec, uint64_t *nsec)
{
	*sec = 0;
	*nsec = 0;
	if (!(rate > 0.0) || !isfinite(rate))
		return;
	if (rate <= 1e9 && rate == floor(rate)) {
		/* JACK rates are whole numbers: exact. rem < r <= 1e9, so
		 * 2 * rem * 1e9 + r stays below 2^64. */
		uint64_t r = (uint64_t)rate;
		uint64_t rem = frames % r;
		*sec = frames / r;
		*nsec = (2 * rem * NS_PER_SEC + r) / (2 * r);
	} else {
		long double total = floorl((long double)frames * 1e9L / (long double)rate + 0.5L);
		if (total >= 1.8e19L)
			total = 1.8e19L;
		uint64_t ns = (uint64_t)total;
		*sec = ns / NS_PER_SEC;
		*nsec = ns % NS_PER_SEC;
	}
	*sec += *nsec / NS_PER_SEC;   /* rounding up may give a whole second */
	*nsec %= NS_PER_SEC;
}

void seq_alsa_time(const struct seq_alsa_clock *c, uint32_t frame_time,
		   unsigned int *sec, unsigned int *nsec)
{
	int64_t frames = (int64_t)c->epoch_frames + (int32_t)(frame_time - c->start_frame);
	uint64_t s, ns;
	frames_to_time(frames > 0 ? (uint64_t)frames : 0, c->sample_rate, &s, &ns);
	ns += c->latency_ns;
	s += ns / NS_PER_SEC;
	*sec = (unsigned int)s;
	*nsec = (unsigned int)(ns % NS_PER_SEC);
}

void seq_alsa_clock_advance(struct seq_alsa_clock *c, uint32_t now)
{
	while ((int32_t)(now - c->start_frame) >= (int32_t)EPOCH_STEP) {
		c->start_frame += EPOCH_STEP;
		c->epoch_frames += EPOCH_STEP;
	}
}

int seq_alsa_event(const struct seq_alsa_clock *c, uint32_t cycle_frame_time,
		   const struct seq_event *ev, snd_seq_event_t *out)
{
	snd_seq_ev_clear(out);
	if (ev->channel < 1 || ev->channel > 16 || ev->note > 127 || ev->velocity > 127)
		return -1;
	if (ev->kind == SEQ_EV_NOTE_ON)
		snd_seq_ev_set_noteon(out, ev->channel - 1, ev->note, ev->velocity);
	else if (ev->kind == SEQ_EV_NOTE_OFF)
		snd_seq_ev_set_noteoff(out, ev->channel - 1, ev->note, ev->velocity);
	else
		return -1;
	snd_seq_ev_set_source(out, c->port);
	snd_seq_ev_set_subs(out);
	snd_seq_real_time_t t;
	seq_alsa_time(c, cycle_frame_time + ev->frame, &t.tv_sec, &t.tv_nsec);
	snd_seq_ev_schedule_real(out, c->queue, 0, &t);
	return 0;
}

/* Wait up to ms for room to write to the sequencer. */
static void wait_for_room(snd_seq_t *seq, int ms)
{
	struct pollfd fds[4];
	int n = snd_seq_poll_descriptors_count(seq, POLLOUT);
	if (n <= 0 || n > 4)
		n = 4;
	n = snd_seq_poll_descriptors(seq, fds, (unsigned int)n, POLLOUT);
	if (n > 0)
		poll(fds, (nfds_t)n, ms);
	else
		usleep((useconds_t)ms * 1000);
}

/* Queue e for output, waiting a bounded time when the pool is full. */
static int output(snd_seq_t *seq, snd_seq_event_t *e)
{
	for (int tries = 0; tries < SEND_TRIES; tries++) {
		int r = snd_seq_event_output(seq, e);
		if (r >= 0)
			return 0;
		if (r != -EAGAIN)
			return -1;
		wait_for_room(seq, SEND_WAIT_MS);
	}
	return -1;
}

/* Hand everything buffered to the kernel, waiting a bounded time. */
static int drain(snd_seq_t *seq)
{
	for (int tries = 0; tries < SEND_TRIES; tries++) {
		int r = snd_seq_drain_output(seq);
		if (r == 0)
			return 0;
		if (r < 0 && r != -EAGAIN)
			return -1;
		wait_for_room(seq, SEND_WAIT_MS);
	}
	return -1;
}

struct seq_alsa *seq_alsa_open(const char *name, double sample_rate,
			       uint32_t start_frame, char *err, size_t errlen)
{
	if (!(sample_rate > 0.0) || !isfinite(sample_rate)) {
		set_err(err, errlen, "ALSA sequencer: sample rate %g is not a rate", sample_rate);
		return NULL;
	}
	struct seq_alsa *a = calloc(1, sizeof *a);
	if (!a) {
		set_err(err, errlen, "ALSA sequencer: out of memory");
		return NULL;
	}
	int r = snd_seq_open(&a->seq, "default", SND_SEQ_OPEN_OUTPUT, SND_SEQ_NONBLOCK);
	if (r < 0) {
		bool no_device = access("/dev/snd/seq", F_OK) != 0;
		set_err(err, errlen, "cannot open the ALSA sequencer: %s%s", snd_strerror(r),
			no_device ? " (there is no /dev/snd/seq: no sound devices here, or the "
				    "snd-seq module is not loaded)" : "");
		free(a);
		return NULL;
	}
	const char *step = "name the client";
	if ((r = snd_seq_set_client_name(a->seq, name)) < 0)
		goto fail;
	step = "create the port";
	r = snd_seq_create_simple_port(a->seq, "midi_out",
				       SND_SEQ_PORT_CAP_READ | SND_SEQ_PORT_CAP_SUBS_READ,
				       SND_SEQ_PORT_TYPE_MIDI_GENERIC | SND_SEQ_PORT_TYPE_APPLICATION);
	if (r < 0)
		goto fail;
	a->clock.port = r;
	step = "make a queue";
	if ((r = snd_seq_alloc_named_queue(a->seq, name)) < 0)
		goto fail;
	a->clock.queue = r;
	step = "start the queue";
	if ((r = snd_seq_start_queue(a->seq, a->clock.queue, NULL)) < 0)
		goto fail;
	if (drain(a->seq) != 0) {
		r = -EIO;
		goto fail;
	}
	a->clock.start_frame = start_frame;
	a->clock.sample_rate = sample_rate;
	a->clock.latency_ns = SEQ_ALSA_DEFAULT_LATENCY_NS;
	a->clock.epoch_frames = 0;
	return a;

fail:
	set_err(err, errlen, "ALSA sequencer: cannot %s: %s", step, snd_strerror(r));
	snd_seq_close(a->seq);
	free(a);
	return NULL;
}

void seq_alsa_set_latency(struct seq_alsa *a, uint32_t latency_ns)
{
	if (a)
		a->clock.latency_ns = latency_ns;
}

int seq_alsa_send(struct seq_alsa *a, uint32_t cycle_frame_time,
		  const struct seq_event *ev, int count)
{
	if (!a)
		return -1;
	seq_alsa_clock_advance(&a->clock, cycle_frame_time);
	int rc = 0;
	for (int i = 0; i < count; i++) {
		snd_seq_event_t e;
		if (seq_alsa_event(&a->clock, cycle_frame_time, &ev[i], &e) != 0) {
			rc = -1;
			continue;
		}
		/* remembered before it is sent: a note that might sound gets
		 * its note-off at close */
		if (ev[i].kind == SEQ_EV_NOTE_ON)
			a->touched[ev[i].channel - 1][ev[i].note / 8] |= (uint8_t)(1u << (ev[i].note % 8));
		if (output(a->seq, &e) != 0)
			rc = -1;
	}
	if (count > 0 && drain(a->seq) != 0)
		rc = -1;
	return rc;
}

void seq_alsa_close(struct seq_alsa *a)
{
	if (!a)
		return;
	/* From here on waiting is fine: the program is closing this output. */
	snd_seq_nonblock(a->seq, 0);
	snd_seq_drop_output(a->seq);
	snd_seq_remove_events_t *rm = NULL;
	if (snd_seq_remove_events_malloc(&rm) == 0) {
		snd_seq_remove_events_set_queue(rm, a->clock.queue);
		snd_seq_remove_events_set_condition(rm, SND_SEQ_REMOVE_OUTPUT);
		snd_seq_remove_events(a->seq, rm);
		snd_seq_remove_events_free(rm);
	}
	for (int ch = 0; ch < 16; ch++)
		for (int note = 0; note < 128; note++) {
			if (!(a->touched[ch][note / 8] & (1u << (note % 8))))
				continue;
			snd_seq_event_t e;
			snd_seq_ev_clear(&e);
			snd_seq_ev_set_noteoff(&e, ch, note, 0);
			snd_seq_ev_set_source(&e, a->clock.port);
			snd_seq_ev_set_subs(&e);
			snd_seq_ev_set_direct(&e);
			snd_seq_event_output(a->seq, &e);
		}
	snd_seq_drain_output(a->seq);
	snd_seq_sync_output_queue(a->seq);
	snd_seq_stop_queue(a->seq, a->clock.queue, NULL);
	snd_seq_drain_output(a->seq);
	snd_seq_free_queue(a->seq, a->clock.queue);
	snd_seq_close(a->seq);
	free(a);
}
