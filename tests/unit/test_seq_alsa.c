/*
 * cl-seq's ALSA sequencer output. The conversion runs everywhere: event
 * types, 0-based channels, notes and velocities, the real time of a frame
 * (exact to the nanosecond, rounding, latency, carries into seconds),
 * frame times that wrap at 2^32, the epoch that keeps time past 2^31
 * frames, and refused events. The client part needs /dev/snd/seq: where
 * it is missing, the test says so and checks that opening fails cleanly
 * with a clear error; where it exists, a second client subscribes to the
 * port and checks what arrives, including the note-off close sends.
 */
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alsa_out.h"
#include "cl_check.h"

static struct seq_event note(uint8_t kind, uint32_t frame, uint8_t channel, uint8_t key, uint8_t velocity)
{
	struct seq_event e;
	memset(&e, 0, sizeof e);
	e.frame = frame;
	e.kind = kind;
	e.channel = channel;
	e.note = key;
	e.velocity = velocity;
	return e;
}

/* The time of frame_time on c must be sec, nsec. */
static void time_is(const struct seq_alsa_clock *c, uint32_t frame_time, unsigned sec, unsigned nsec,
		    const char *what)
{
	unsigned s = 99, ns = 99;
	seq_alsa_time(c, frame_time, &s, &ns);
	CHECK(s == sec && ns == nsec, "%s: %u.%09u s, want %u.%09u", what, s, ns, sec, nsec);
}

static void test_events(void)
{
	struct seq_alsa_clock c = { .start_frame = 1000, .sample_rate = 48000, .latency_ns = 0,
				    .queue = 3, .port = 2 };
	snd_seq_event_t e;
	struct seq_event on = note(SEQ_EV_NOTE_ON, 0, 10, 36, 100);
	memset(&e, 0xa5, sizeof e);
	CHECK(seq_alsa_event(&c, 1000, &on, &e) == 0, "a note-on converts");
	CHECK(e.type == SND_SEQ_EVENT_NOTEON, "type NOTEON (%d)", e.type);
	CHECK(e.data.note.channel == 9 && e.data.note.note == 36 && e.data.note.velocity == 100,
	      "channel 10 is 9 on the wire, note 36, velocity 100 (%d %d %d)", e.data.note.channel,
	      e.data.note.note, e.data.note.velocity);
	CHECK(e.data.note.off_velocity == 0 && e.data.note.duration == 0, "the rest of the note data cleared");
	CHECK((e.flags & SND_SEQ_TIME_STAMP_MASK) == SND_SEQ_TIME_STAMP_REAL &&
	      (e.flags & SND_SEQ_TIME_MODE_MASK) == SND_SEQ_TIME_MODE_ABS &&
	      (e.flags & SND_SEQ_EVENT_LENGTH_MASK) == SND_SEQ_EVENT_LENGTH_FIXED,
	      "real-time stamp, absolute, fixed length (flags %#x)", e.flags);
	CHECK(e.queue == 3 && e.source.port == 2, "queue 3, source port 2");
	CHECK(e.dest.client == SND_SEQ_ADDRESS_SUBSCRIBERS && e.dest.port == SND_SEQ_ADDRESS_UNKNOWN,
	      "to the port's subscribers (%d:%d)", e.dest.client, e.dest.port);
	CHECK(e.time.time.tv_sec == 0 && e.time.time.tv_nsec == 0, "at the queue start: 0 s");

	struct seq_event off = note(SEQ_EV_NOTE_OFF, 24000, 1, 127, 0);
	CHECK(seq_alsa_event(&c, 1000, &off, &e) == 0 && e.type == SND_SEQ_EVENT_NOTEOFF &&
	      e.data.note.channel == 0 && e.data.note.note == 127 && e.data.note.velocity == 0,
	      "a note-off: NOTEOFF, channel 1 is 0, note 127, velocity 0");
	CHECK(e.time.time.tv_sec == 0 && e.time.time.tv_nsec == 500000000, "24000 frames at 48 kHz: 0.5 s (%u.%09u)",
	      e.time.time.tv_sec, e.time.time.tv_nsec);
	off.channel = 16;
	CHECK(seq_alsa_event(&c, 1000 + 48000 * 3, &off, &e) == 0 && e.data.note.channel == 15 &&
	      e.time.time.tv_sec == 3 && e.time.time.tv_nsec == 500000000,
	      "channel 16 is 15; the cycle's frame time and the event's frame add up: 3.5 s");

	/* refused: the output is left cleared */
	struct seq_event bad[] = {
		note(SEQ_EV_NOTE_ON, 0, 0, 60, 100), note(SEQ_EV_NOTE_ON, 0, 17, 60, 100),
		note(SEQ_EV_NOTE_ON, 0, 1, 128, 100), note(SEQ_EV_NOTE_ON, 0, 1, 255, 100),
		note(SEQ_EV_NOTE_ON, 0, 1, 60, 128), note(SEQ_EV_NOTE_OFF, 0, 255, 60, 0),
		note(7, 0, 1, 60, 100),
	};
	const char *why[] = { "channel 0", "channel 17", "note 128", "note 255", "velocity 128",
			      "note-off channel 255", "kind 7" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0xa5, sizeof e);
		int r = seq_alsa_event(&c, 1000, &bad[i], &e);
		CHECK(r == -1 && e.type == 0 && e.flags == 0 && e.data.note.note == 0, "%s is refused, output cleared",
		      why[i]);
	}
	struct seq_event edge = note(SEQ_EV_NOTE_ON, 0, 16, 0, 127);
	CHECK(seq_alsa_event(&c, 1000, &edge, &e) == 0 && e.data.note.channel == 15 && e.data.note.note == 0 &&
	      e.data.note.velocity == 127, "channel 16, note 0, velocity 127 are fine");
	edge.velocity = 0;
	CHECK(seq_alsa_event(&c, 1000, &edge, &e) == 0 && e.type == SND_SEQ_EVENT_NOTEON && e.data.note.velocity == 0,
	      "a note-on of velocity 0 stays a note-on (the receiver reads it as an off)");
}

static void test_times(void)
{
	struct seq_alsa_clock c = { .start_frame = 0, .sample_rate = 48000 };
	/* 1e9 / 48000 = 20833.33 ns per frame */
	time_is(&c, 0, 0, 0, "frame 0");
	time_is(&c, 1, 0, 20833, "frame 1: 20833.33 ns rounds down");
	time_is(&c, 2, 0, 41667, "frame 2: 41666.67 ns rounds up");
	time_is(&c, 3, 0, 62500, "frame 3: 62500 ns exactly");
	time_is(&c, 47999, 0, 999979167, "frame 47999: 999979166.67 ns");
	time_is(&c, 48000, 1, 0, "frame 48000: 1 s");
	time_is(&c, 48000 * 3600 + 1, 3600, 20833, "one hour and one frame");
	/* 2^31 - 1 frames: 44739.242645833 s */
	time_is(&c, 0x7fffffff, 44739, 242645833, "2^31 - 1 frames");
	c.sample_rate = 44100;
	time_is(&c, 1, 0, 22676, "44.1 kHz, frame 1: 22675.74 ns");
	time_is(&c, 44100 * 60, 60, 0, "44.1 kHz, one minute");
	time_is(&c, 441, 0, 10000000, "44.1 kHz, 441 frames: 10 ms");
	/* halves go up: 1e9 / 256000 = 3906.25 ns */
	c.sample_rate = 256000;
	time_is(&c, 2, 0, 7813, "256 kHz, frame 2: 7812.5 ns rounds up");
	time_is(&c, 6, 0, 23438, "256 kHz, frame 6: 23437.5 ns rounds up");
	time_is(&c, 255999, 0, 999996094, "256 kHz, frame 255999: 999996093.75 ns");
	/* a rate that is not a whole number goes through long double */
	c.sample_rate = 1000.5;
	time_is(&c, 2001, 2, 0, "1000.5 Hz, 2001 frames: 2 s");
	time_is(&c, 1, 0, 999500, "1000.5 Hz, frame 1: 999500.25 ns");
	/* a bad rate gives the start, no division by zero */
	c.sample_rate = 0;
	time_is(&c, 12345, 0, 0, "rate 0: the start");
	c.sample_rate = NAN;
	time_is(&c, 12345, 0, 0, "rate NaN: the start");

	/* latency, carrying into seconds */
	c = (struct seq_alsa_clock){ .start_frame = 500, .sample_rate = 48000, .latency_ns = 5000000 };
	time_is(&c, 500, 0, 5000000, "latency 5 ms at the start");
	time_is(&c, 500 + 24000, 0, 505000000, "0.5 s + 5 ms");
	c.latency_ns = 600000000;
	time_is(&c, 500 + 24000, 1, 100000000, "0.5 s + 0.6 s carries: 1.1 s");
	c.latency_ns = 4000000000u;
	time_is(&c, 500 + 48000 * 2, 6, 0, "2 s + 4 s latency");

	/* wrap-around of 32-bit frame times */
	c = (struct seq_alsa_clock){ .start_frame = 0xffffff00u, .sample_rate = 48000 };
	time_is(&c, 0xffffff00u, 0, 0, "start just before the wrap");
	time_is(&c, 0x00000030u, 0, 6333333, "0x30 after the wrap is 304 frames: 6333333.33 ns");
	snd_seq_event_t e;
	struct seq_event on = note(SEQ_EV_NOTE_ON, 0x20, 1, 60, 100);
	CHECK(seq_alsa_event(&c, 0x00000010u, &on, &e) == 0 && e.time.time.tv_sec == 0 &&
	      e.time.time.tv_nsec == 6333333, "an event of a cycle after the wrap: 6333333 ns");
	on.frame = 0x200;
	CHECK(seq_alsa_event(&c, 0xfffffff0u, &on, &e) == 0 && e.time.time.tv_sec == 0 &&
	      e.time.time.tv_nsec == 15666667, "cycle before the wrap, event after it: 752 frames, 15666666.67 ns");
	/* before the start: the start */
	c = (struct seq_alsa_clock){ .start_frame = 100000, .sample_rate = 48000, .latency_ns = 7 };
	time_is(&c, 99990, 0, 7, "10 frames before the start: the start (plus latency)");
	time_is(&c, 100000 + 0x80000000u, 0, 7, "2^31 frames on reads as before the start");
}

static void test_epoch(void)
{
	struct seq_alsa_clock c = { .start_frame = 0xfff00000u, .sample_rate = 48000 };
	unsigned s0, n0, s1, n1;
	uint32_t probe = 0xfff00000u + (1u << 30) + 48000 * 7 + 3;
	seq_alsa_time(&c, probe, &s0, &n0);
	seq_alsa_clock_advance(&c, 0xfff00000u + 12345);
	CHECK(c.start_frame == 0xfff00000u && c.epoch_frames == 0, "no advance before 2^30 frames");
	seq_alsa_clock_advance(&c, 0xfff00000u + (1u << 30));
	CHECK(c.start_frame == 0xfff00000u + (1u << 30) && c.epoch_frames == (1u << 30),
	      "at 2^30 frames: start_frame moves on by 2^30, epoch 2^30");
	seq_alsa_time(&c, probe, &s1, &n1);
	CHECK(s0 == s1 && n0 == n1, "the time of a later frame does not change (%u.%09u / %u.%09u)", s0, n0, s1, n1);

	/* three days at 48 kHz (2^33.6 frames, the frame time wraps 3 times),
	 * advancing every hour: the time is always frames / rate exactly */
	c = (struct seq_alsa_clock){ .start_frame = 4000000000u, .sample_rate = 48000 };
	uint64_t total = 0;
	bool exact = true;
	for (int hour = 0; hour < 72; hour++) {
		total += 48000ull * 3600;
		uint32_t now = (uint32_t)(4000000000u + total);
		seq_alsa_clock_advance(&c, now);
		unsigned s, ns;
		seq_alsa_time(&c, now + 1, &s, &ns);
		uint64_t want_s = (total + 1) / 48000, want_ns = 20833;
		if (s != want_s || ns != want_ns) {
			exact = false;
			printf("hour %d: %u.%09u, want %llu.%09llu\n", hour + 1, s, ns,
			       (unsigned long long)want_s, (unsigned long long)want_ns);
		}
	}
	CHECK(exact, "72 hours, advanced hourly: every time exact to the ns");
	CHECK(c.epoch_frames % (1u << 30) == 0 && c.epoch_frames > (1ull << 33), "epoch counted in 2^30 steps (%llu)",
	      (unsigned long long)c.epoch_frames);
	unsigned s, ns;
	seq_alsa_time(&c, c.start_frame - 5, &s, &ns);
	uint64_t before = c.epoch_frames - 5;
	CHECK(s == before / 48000 && ns == (unsigned)(((before % 48000) * 2000000000ull + 48000) / 96000),
	      "a frame just before the moved start_frame keeps its time (%u.%09u)", s, ns);
}

static void test_client(void)
{
	char err[256] = "";
	CHECK(seq_alsa_open("cl-seq-test", 0, 0, err, sizeof err) == NULL && strstr(err, "sample rate 0 is not a rate"),
	      "rate 0 refused before ALSA: %s", err);
	struct seq_event on = note(SEQ_EV_NOTE_ON, 0, 1, 60, 100);
	CHECK(seq_alsa_send(NULL, 0, &on, 1) == -1, "send on no client: -1");
	seq_alsa_close(NULL);
	seq_alsa_set_latency(NULL, 5);
	CHECK(1, "close and set_latency take NULL");

	if (access("/dev/snd/seq", F_OK) != 0) {
		printf("no /dev/snd/seq: the ALSA client part cannot run here\n");
		err[0] = '\0';
		struct seq_alsa *a = seq_alsa_open("cl-seq-test", 48000, 0, err, sizeof err);
		CHECK(a == NULL, "seq_alsa_open fails without /dev/snd/seq");
		CHECK(strstr(err, "cannot open the ALSA sequencer: ") && strstr(err, "there is no /dev/snd/seq"),
		      "with a clear error: %s", err);
		seq_alsa_close(a);
		/* twice: nothing was left half-open by the first attempt */
		err[0] = '\0';
		CHECK(seq_alsa_open("cl-seq-test", 48000, 0, err, sizeof err) == NULL && err[0],
		      "a second attempt fails the same way: %s", err);
		return;
	}

	/* A listener subscribes to our port and checks what arrives. */
	struct seq_alsa *a = seq_alsa_open("cl-seq-test", 48000, 1000, err, sizeof err);
	CHECK(a != NULL, "seq_alsa_open (%s)", err);
	if (!a)
		return;
	seq_alsa_set_latency(a, 0);
	snd_seq_t *in = NULL;
	snd_seq_addr_t src;
	bool ready = snd_seq_open(&in, "default", SND_SEQ_OPEN_INPUT, 0) == 0 &&
		     snd_seq_create_simple_port(in, "in", SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE,
						SND_SEQ_PORT_TYPE_APPLICATION) >= 0 &&
		     snd_seq_parse_address(in, &src, "cl-seq-test:0") == 0 &&
		     snd_seq_connect_from(in, 0, src.client, src.port) == 0;
	CHECK(ready, "a listener is subscribed to cl-seq-test:0");
	if (ready) {
		struct seq_event ev[2] = { note(SEQ_EV_NOTE_ON, 0, 3, 64, 90),
					   note(SEQ_EV_NOTE_OFF, 4800, 3, 64, 0) };
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(seq_alsa_send(a, 1000, ev, 2) == 0, "a note-on now and its note-off 100 ms later sent");
		int got = 0;
		double off_after = -1;
		struct pollfd pfd[4];
		int npfd = snd_seq_poll_descriptors(in, pfd, 4, POLLIN);
		while (got < 2 && poll(pfd, (nfds_t)npfd, 2000) > 0) {
			snd_seq_event_t *r = NULL;
			while (snd_seq_event_input(in, &r) >= 0 && r) {
				if (r->type == SND_SEQ_EVENT_NOTEON && r->data.note.channel == 2 && r->data.note.note == 64 &&
				    r->data.note.velocity == 90)
					got++;
				if (r->type == SND_SEQ_EVENT_NOTEOFF && r->data.note.channel == 2 && r->data.note.note == 64) {
					clock_gettime(CLOCK_MONOTONIC, &t1);
					off_after = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
					got++;
				}
				if (snd_seq_event_input_pending(in, 0) <= 0)
					break;
			}
		}
		CHECK(got == 2 && off_after > 0.08, "both arrived, the note-off after 100 ms (%d, %.3f s)", got,
		      off_after);
		/* a note left on: close ends it */
		struct seq_event hold = note(SEQ_EV_NOTE_ON, 0, 5, 40, 100);
		CHECK(seq_alsa_send(a, 1000 + 48000, &hold, 1) == 0, "a note-on with no note-off sent");
		seq_alsa_close(a);
		a = NULL;
		bool ended = false;
		while (!ended && poll(pfd, (nfds_t)npfd, 2000) > 0) {
			snd_seq_event_t *r = NULL;
			while (snd_seq_event_input(in, &r) >= 0 && r) {
				if (r->type == SND_SEQ_EVENT_NOTEOFF && r->data.note.channel == 4 && r->data.note.note == 40)
					ended = true;
				if (snd_seq_event_input_pending(in, 0) <= 0)
					break;
			}
		}
		CHECK(ended, "close sent the note-off of the note still on");
	}
	if (in)
		snd_seq_close(in);
	seq_alsa_close(a);
}

int main(void)
{
	test_events();
	test_times();
	test_epoch();
	test_client();
	printf("seq-alsa: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
