/*
 * cl-seq: the same schedule on the ALSA sequencer (--alsa-seq), for rigs
 * that reach hardware synths through ALSA without a bridge.
 *
 * The audio thread cannot talk to ALSA (a system call), so it pushes each
 * cycle's events with the cycle's JACK frame time into a queue; an ALSA
 * thread turns them into sequencer events scheduled on an ALSA queue in
 * real time: the event's JACK frame time minus the frame time at which
 * the ALSA queue was started, in nanoseconds at the JACK rate, plus a
 * fixed latency so the events are never late. The conversion below is
 * pure and unit-tested; the thread and the ALSA client are in
 * alsa_out.c too but only used when the sequencer device exists.
 */
#ifndef CL_SEQ_ALSA_OUT_H
#define CL_SEQ_ALSA_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <alsa/asoundlib.h>
#include "schedule.h"

#define SEQ_ALSA_DEFAULT_LATENCY_NS 10000000u   /* 10 ms */

struct seq_alsa_clock {
	uint32_t start_frame;      /* JACK frame time when the ALSA queue started */
	double sample_rate;
	uint32_t latency_ns;       /* added to every event */
	int queue;                 /* ALSA queue id */
	int port;                  /* our ALSA source port */
	uint64_t epoch_frames;     /* frames from the queue start to start_frame:
	                            * 0, until seq_alsa_clock_advance moves
	                            * start_frame on */
};

/* Fill out (cleared first) with ev as an ALSA sequencer event: note-on
 * or note-off (channel 0-based), sent to subscribers of the port,
 * scheduled on the queue at real time (epoch_frames + frame_time +
 * ev->frame - start_frame) / rate + latency, rounded to the nearest ns.
 * Frame times wrap at 2^32: differences are taken modulo 2^32 as signed
 * 32-bit numbers, and a time before the queue start is the start. Returns
 * 0, or -1 when ev cannot be expressed (bad channel, note, velocity or
 * kind). */
int seq_alsa_event(const struct seq_alsa_clock *c, uint32_t cycle_frame_time,
		   const struct seq_event *ev, snd_seq_event_t *out);
/* The real time (sec, nsec) a frame time maps to. */
void seq_alsa_time(const struct seq_alsa_clock *c, uint32_t frame_time,
		   unsigned int *sec, unsigned int *nsec);
/* Keep c right past 2^31 frames (12 h at 48 kHz): once now is 2^30 or
 * more frames after start_frame, move start_frame on by 2^30 and count
 * them in epoch_frames. Times of frames at or after the new start_frame
 * stay the same. Call at least every 2^30 frames (seq_alsa_send does). */
void seq_alsa_clock_advance(struct seq_alsa_clock *c, uint32_t now);

/* The ALSA side: open a client "name" with one output port, start a queue.
 * NULL and err when /dev/snd/seq cannot be opened. The latency starts at
 * SEQ_ALSA_DEFAULT_LATENCY_NS. */
struct seq_alsa;
struct seq_alsa *seq_alsa_open(const char *name, double sample_rate,
			       uint32_t start_frame, char *err, size_t errlen);
/* The latency added to every event from now on: at least the time from a
 * cycle's start to the moment its events reach seq_alsa_send (a JACK
 * period and the hand-over), or they arrive late. */
void seq_alsa_set_latency(struct seq_alsa *a, uint32_t latency_ns);
/* Send (and drain) events converted with the client's clock. Also keeps
 * the clock going (seq_alsa_clock_advance): call it, with count 0 when
 * there is nothing to send, at least every few hours. 0, or -1 when an
 * event could not be expressed or sent (the others are sent). */
int seq_alsa_send(struct seq_alsa *a, uint32_t cycle_frame_time,
		  const struct seq_event *ev, int count);
/* Note-offs for everything sent and not yet ended, then close. Events
 * still waiting in the queue are dropped first, so no note-on can follow
 * its note-off. NULL is fine. */
void seq_alsa_close(struct seq_alsa *a);

#endif
