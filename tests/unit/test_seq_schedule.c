/*
 * cl-seq schedule: the notes of each cycle, and their note-offs.
 *
 * The centre piece simulates the JACK transport cycle by cycle, as the
 * engine sees it: a master fills struct seq_transport (cl-transport with
 * integer ticks and tick_double, a master with integer ticks only, no
 * master at all), the clock turns it into a span, seq_schedule_cycle()
 * and seq_held_due() give the events, and every event is collected at its
 * absolute transport frame. Over 1000 bars, at 4 tempos and block sizes
 * 64, 100, 128, 1024 (and ragged ones), the collection must equal,
 * event for event, the frames worked out exactly in rational arithmetic:
 * the first frame at or after each note-on's and note-off's exact time.
 * Around it: probability by seed, ratchets, notes cycled by hit, velocity,
 * mute and solo, the held-note set (retrigger, tiny gates, end all, end
 * one track, a full set), event order, a locate, start and stop, a tempo
 * change, and what scheduling 32 tracks costs per 64-frame cycle.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pattern.h"
#include "schedule.h"
#include "timing.h"
#include "cl_check.h"

#define RATE 48000

/* ---- exact rationals ---------------------------------------------------- */

typedef __int128 i128;
struct rat {
	i128 n, d;   /* d > 0 */
};

static i128 gcd128(i128 a, i128 b)
{
	if (a < 0)
		a = -a;
	if (b < 0)
		b = -b;
	while (b) {
		i128 r = a % b;
		a = b;
		b = r;
	}
	return a ? a : 1;
}

static struct rat rat(i128 n, i128 d)
{
	if (d < 0)
		n = -n, d = -d;
	i128 g = gcd128(n, d);
	return (struct rat){n / g, d / g};
}

static struct rat rat_add(struct rat a, struct rat b)
{
	return rat(a.n * b.d + b.n * a.d, a.d * b.d);
}

static struct rat rat_sub(struct rat a, struct rat b)
{
	return rat_add(a, rat(-b.n, b.d));
}

static struct rat rat_mul(struct rat a, struct rat b)
{
	return rat(a.n * b.n, a.d * b.d);
}

static i128 rat_floor(struct rat a)
{
	i128 q = a.n / a.d;
	return (a.n % a.d != 0 && a.n < 0) ? q - 1 : q;
}

static int rat_cmp(struct rat a, struct rat b)
{
	i128 l = a.n * b.d, r = b.n * a.d;
	return l < r ? -1 : l > r;
}

/* timing.h's rule: the first frame at or after exact frame a, less its
 * 1e-6 frame of tolerance. */
static int64_t rat_frame(struct rat a)
{
	struct rat x = rat_sub(a, rat(1, 1000000));
	return (int64_t)-rat_floor(rat(-x.n, x.d));
}

/* ---- tempos and the exact step grid ------------------------------------ */

struct tempo {
	int64_t p, q;   /* exactly p/q BPM */
	double bpm;     /* what a master reports */
};

static const struct tempo tempos[] = {
	{120, 1, 120.0}, {97, 1, 97.0}, {13333, 100, 133.33}, {174, 1, 174.0},
};

static struct rat tempo_fpb(const struct tempo *t)
{
	return rat((i128)60 * RATE * t->q, t->p);
}

/* Where step k starts, exactly, by the rule of timing.h (seq_step_start). */
static struct rat exact_step_start(int64_t k, int num, int den, int beat_type,
				   struct rat swing, int ref)
{
	struct rat base = rat((i128)k * num * beat_type, den);
	struct rat ref_beats = rat(beat_type, ref);
	struct rat units = rat((i128)k * num * ref, den);
	i128 q = rat_floor(units);
	struct rat frac = rat_sub(units, rat(q, 1));
	bool odd = (q % 2) != 0;
	if (swing.n == 0)
		return base;
	if (frac.n == 0)
		return odd ? rat_add(base, rat_mul(swing, ref_beats)) : base;
	i128 red = den / gcd128(num, den);
	if ((red & (red - 1)) != 0)
		return base;
	struct rat part = odd ? rat_sub(rat(1, 1), frac) : frac;
	return rat_add(base, rat_mul(rat_mul(swing, ref_beats), part));
}

/* A float that is a short binary fraction (0.5f, 0.25f ...) as a rational. */
static struct rat rat_of_float(float f)
{
	return rat((i128)llround((double)f * 1048576.0), 1048576);
}

/* ---- a transport master ------------------------------------------------ */

enum master_kind { M_TICK_DOUBLE, M_INT_TICKS, M_NO_BBT };

static const char *master_name(enum master_kind k)
{
	return k == M_TICK_DOUBLE ? "cl-transport (tick_double)"
	       : k == M_INT_TICKS ? "integer ticks only" : "no BBT";
}

/* A tempo map: segment i starts at beat `beat` (a bar line) at exact frame
 * `frame` with tempo tp. */
struct segment {
	struct rat frame;
	int64_t beat;
	const struct tempo *tp;
};

struct master {
	enum master_kind kind;
	int beats_per_bar, beat_type;
	int count;
	struct segment seg[4];
	double jitter;       /* noise added to tick_double, in ticks */
	uint64_t noise;
};

static void master_init(struct master *m, enum master_kind kind, const struct tempo *tp,
			int beats_per_bar, int beat_type)
{
	*m = (struct master){.kind = kind, .beats_per_bar = beats_per_bar, .beat_type = beat_type,
			     .count = 1, .noise = 12345};
	m->seg[0] = (struct segment){rat(0, 1), 0, tp};
}

/* Change tempo at the bar line `bar` (0-based). */
static void master_change(struct master *m, int64_t bar, const struct tempo *tp)
{
	const struct segment *s = &m->seg[m->count - 1];
	int64_t beat = bar * m->beats_per_bar;
	struct rat frame = rat_add(s->frame, rat_mul(rat(beat - s->beat, 1), tempo_fpb(s->tp)));
	m->seg[m->count++] = (struct segment){frame, beat, tp};
}

/* The exact frame of musical position b. */
static struct rat master_frame_of(const struct master *m, struct rat b)
{
	int i = m->count - 1;
	while (i > 0 && rat_cmp(b, rat(m->seg[i].beat, 1)) < 0)
		i--;
	const struct segment *s = &m->seg[i];
	return rat_add(s->frame, rat_mul(rat_sub(b, rat(s->beat, 1)), tempo_fpb(s->tp)));
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* What the master says at the start of a cycle at transport frame f. */
static struct seq_transport master_fill(struct master *m, uint32_t f, bool rolling)
{
	const struct segment *s = &m->seg[0];
	for (int i = m->count - 1; i >= 0; i--)
		if (rat_cmp(m->seg[i].frame, rat(f, 1)) <= 0) {
			s = &m->seg[i];
			break;
		}
	struct seq_transport t = {.rolling = rolling, .frame = f, .frame_rate = RATE};
	if (m->kind == M_NO_BBT)
		return t;
	/* beats = s.beat + (f - s.frame) / fpb, in integers: no gcd per cycle */
	i128 num = ((i128)f * s->frame.d - s->frame.n) * s->tp->p;
	i128 den = s->frame.d * 60 * RATE * s->tp->q;
	i128 whole = s->beat + num / den;
	i128 tick_num = (num % den) * 1920;
	t.bbt_valid = true;
	t.bar = (int32_t)(whole / m->beats_per_bar) + 1;
	t.beat = (int32_t)(whole % m->beats_per_bar) + 1;
	t.tick = (int32_t)(tick_num / den);
	t.ticks_per_beat = 1920.0;
	t.beats_per_bar = (float)m->beats_per_bar;
	t.beat_type = (float)m->beat_type;
	t.bpm = s->tp->bpm;
	if (m->kind == M_TICK_DOUBLE) {
		t.tick_double_valid = true;
		t.tick_double = (double)tick_num / (double)den;
		if (m->jitter > 0.0) {
			double u = (double)(xorshift(&m->noise) >> 11) / 9007199254740992.0;
			t.tick_double += (2.0 * u - 1.0) * m->jitter;
			if (t.tick_double < 0.0)
				t.tick_double = 0.0;
		}
	}
	return t;
}

/* ---- the simulated engine ---------------------------------------------- */

struct rec_event {
	int64_t frame;       /* absolute transport frame */
	uint8_t kind, track, channel, note, velocity;
	int64_t step;
};

struct recording {
	struct rec_event *ev;
	size_t n, cap;
	long unsorted;       /* events out of order within a cycle */
	long outside;        /* frames outside [0, nframes) */
	long full;           /* cycles where the event buffer filled */
	int flags_seen;      /* or of every cycle's flags */
	long jumps, starts, stops;
	int64_t stop_frame;
};

static void rec_push(struct recording *r, int64_t frame, const struct seq_event *e)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4096;
		r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
		if (!r->ev) {
			perror("realloc");
			exit(2);
		}
	}
	r->ev[r->n++] = (struct rec_event){frame, e->kind, e->track, e->channel, e->note,
					   e->velocity, e->step};
}

static void rec_free(struct recording *r)
{
	free(r->ev);
	*r = (struct recording){0};
}

struct engine {
	struct seq_clock clock;
	struct seq_held held;
	struct seq_event ev[SEQ_MAX_EVENTS + SEQ_MAX_HELD];
};

/* One cycle as the engine runs it (the call order the program follows):
 * clock; end everything on stop or jump; note-ons (with their retrigger
 * note-offs); due note-offs; sort. */
static void engine_cycle(struct engine *e, const struct seq_pattern *p,
			 const struct seq_transport *t, uint32_t n, double fallback_bpm,
			 struct recording *r)
{
	struct seq_span span;
	int count = 0;
	int max = (int)(sizeof e->ev / sizeof e->ev[0]);
	int flags = seq_clock_update(&e->clock, t, n, fallback_bpm, &span);
	r->flags_seen |= flags;
	r->jumps += (flags & SEQ_CLOCK_JUMPED) != 0;
	r->starts += (flags & SEQ_CLOCK_STARTED) != 0;
	r->stops += (flags & SEQ_CLOCK_STOPPED) != 0;
	if (flags & (SEQ_CLOCK_STOPPED | SEQ_CLOCK_JUMPED))
		seq_held_end(&e->held, -1, 0, e->ev, max, &count);
	if (flags & SEQ_CLOCK_STOPPED)
		r->stop_frame = t->frame;
	if (flags & SEQ_CLOCK_ROLLING) {
		if (seq_schedule_cycle(p, &span, 0, n, &e->held, e->ev, max, &count) < 0)
			r->full++;
		seq_held_due(&e->held, &span, e->ev, max, &count);
	}
	seq_events_sort(e->ev, count);
	for (int i = 0; i < count; i++) {
		if (e->ev[i].frame >= n)
			r->outside++;
		if (i > 0 && (e->ev[i].frame < e->ev[i - 1].frame ||
			      (e->ev[i].frame == e->ev[i - 1].frame &&
			       e->ev[i].kind < e->ev[i - 1].kind)))
			r->unsorted++;
		rec_push(r, (int64_t)t->frame + e->ev[i].frame, &e->ev[i]);
	}
}

/* Roll from frame 0 to end_frame in blocks (block 0: ragged sizes from
 * 1 to 1500), then one stopped cycle. */
static void simulate(const struct seq_pattern *p, struct master *m, uint32_t block,
		     int64_t end_frame, struct recording *r)
{
	static struct engine e;
	seq_clock_init(&e.clock);
	seq_held_clear(&e.held);
	uint64_t rng = 99;
	double fallback = m->seg[0].tp->bpm;
	int64_t f = 0;
	while (f < end_frame) {
		uint32_t n = block ? block : (uint32_t)(1 + xorshift(&rng) % 1500);
		struct seq_transport t = master_fill(m, (uint32_t)f, true);
		engine_cycle(&e, p, &t, n, fallback, r);
		f += n;
	}
	struct seq_transport t = master_fill(m, (uint32_t)f, false);
	engine_cycle(&e, p, &t, block ? block : 256, fallback, r);
}

/* ---- what should play, worked out exactly ------------------------------ */

static int cmp_rec(const void *a, const void *b)
{
	const struct rec_event *x = a, *y = b;
	if (x->frame != y->frame)
		return x->frame < y->frame ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->track != y->track)
		return x->track < y->track ? -1 : 1;
	return (int)x->note - (int)y->note;
}

/* Every note-on (and its note-off, when it falls before stop_frame; else
 * at stop_frame) of p whose on-frame is before end_frame. Tracks must
 * not overlap a note with itself (the long-run patterns do not). */
static void expected_events(const struct seq_pattern *p, const struct master *m,
			    int64_t end_frame, int64_t stop_frame, struct recording *out)
{
	for (int ti = 0; ti < p->track_count; ti++) {
		const struct seq_track *t = &p->tracks[ti];
		if (!seq_track_audible(p, ti))
			continue;
		double swd = seq_track_swing(t, p->swing);
		struct rat sw = rat_of_float((float)swd);
		int ref = t->swing_ref == 8 ? 8 : 16;
		struct rat step = rat((i128)t->step_num * m->beat_type, t->step_den);
		struct rat gate = rat_of_float(t->gate);
		int64_t hits = 0;
		for (int64_t g = 0;; g++) {
			struct rat start = exact_step_start(g, t->step_num, t->step_den, m->beat_type, sw, ref);
			if (rat_frame(master_frame_of(m, start)) >= end_frame)
				break;
			int ps = (int)(g % t->length);
			if (t->steps[ps] == SEQ_STEP_REST)
				continue;
			uint8_t note = t->notes[hits % t->note_count];
			hits++;
			if (!seq_step_plays(p->seed, t, g))
				continue;
			struct rat next = exact_step_start(g + 1, t->step_num, t->step_den, m->beat_type, sw, ref);
			int r = t->ratchet[ps];
			int vel = t->velocity + (t->steps[ps] == SEQ_STEP_ACCENT ? t->accent : 0);
			for (int j = 0; j < r; j++) {
				struct rat on = rat_add(start, rat_mul(rat_sub(next, start), rat(j, r)));
				struct rat off = rat_add(on, rat_mul(gate, rat_mul(step, rat(1, r))));
				int64_t fon = rat_frame(master_frame_of(m, on));
				if (fon >= end_frame)
					break;
				int64_t foff = rat_frame(master_frame_of(m, off));
				if (foff <= fon)
					foff = fon + 1;
				if (foff > stop_frame)
					foff = stop_frame;
				struct seq_event e = {.kind = SEQ_EV_NOTE_ON, .track = (uint8_t)ti,
						      .channel = t->channel, .note = note,
						      .velocity = (uint8_t)(vel > 127 ? 127 : vel), .step = g};
				rec_push(out, fon, &e);
				e.kind = SEQ_EV_NOTE_OFF;
				e.velocity = 0;
				e.step = 0;
				rec_push(out, foff, &e);
			}
		}
	}
}

/* Compare a recording with the expected events: counts of events that
 * differ in frame, or are missing, or extra. */
static long compare(struct recording *got, struct recording *want, const char *what)
{
	qsort(got->ev, got->n, sizeof got->ev[0], cmp_rec);
	qsort(want->ev, want->n, sizeof want->ev[0], cmp_rec);
	size_t i = 0, j = 0;
	long bad = 0;
	while (i < got->n || j < want->n) {
		int c = i == got->n ? 1 : j == want->n ? -1 : cmp_rec(&got->ev[i], &want->ev[j]);
		if (c == 0 && (got->ev[i].velocity != want->ev[j].velocity ||
			       (got->ev[i].kind == SEQ_EV_NOTE_ON && got->ev[i].step != want->ev[j].step)))
			c = -1;
		if (c != 0) {
			const struct rec_event *e = c < 0 ? &got->ev[i] : &want->ev[j];
			if (bad < 4)
				fprintf(stderr, "  %s: %s %s track %u note %u vel %u at frame %" PRId64
					" (step %" PRId64 ")\n", what, c < 0 ? "extra" : "missing",
					e->kind == SEQ_EV_NOTE_ON ? "on" : "off", e->track, e->note,
					e->velocity, e->frame, e->step);
			bad++;
		}
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
	}
	return bad;
}

/* ---- patterns ---------------------------------------------------------- */

static struct seq_track *add_track(struct seq_pattern *p, const char *name, const char *steps,
				   const char *len, uint8_t note)
{
	char err[128];
	struct seq_track *t = &p->tracks[p->track_count++];
	seq_track_init(t, name);
	if (seq_pattern_string_parse(steps, t, err, sizeof err) != 0 ||
	    seq_step_length_parse(len, &t->step_num, &t->step_den, err, sizeof err) != 0) {
		fprintf(stderr, "bad test pattern: %s\n", err);
		exit(2);
	}
	t->notes[0] = note;
	return t;
}

/* The long-run pattern: a four-on-the-floor kick (the integration test's),
 * swung 16th hats cycling two notes, a snare with a 50% ghost note and a
 * 3-fold ratchet, and a 5-step triplet line (a polymeter). */
static void long_run_pattern(struct seq_pattern *p)
{
	seq_pattern_init(p);
	p->seed = 7;
	struct seq_track *t = add_track(p, "kick", "X...X...X...X...", "1/16", 36);
	t->channel = 10;
	t = add_track(p, "hat", "xxxXxxxxxxxXxxxx", "1/16", 42);
	t->notes[1] = 44;
	t->note_count = 2;
	t->gate = 0.25f;
	t->swing = 0.5f;
	t = add_track(p, "snare", "....X.......X..x", "1/16", 38);
	t->probability[15] = 50;
	t->ratchet[12] = 3;
	t->gate = 0.5f;
	t = add_track(p, "line", "x.xX.", "1/8t", 48);
	t->notes[1] = 51;
	t->notes[2] = 55;
	t->note_count = 3;
	t->gate = 0.75f;
	t->channel = 2;
}

/* ---- the long runs ------------------------------------------------------ */

static void test_long_runs(void)
{
	static struct seq_pattern p;
	long_run_pattern(&p);
	static const uint32_t blocks[] = {64, 128, 1024, 100, 0};
	const int bars = 1000;
	for (int mk = 0; mk < 3; mk++)
		for (size_t ti = 0; ti < 4; ti++)
			for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
		struct master m;
		master_init(&m, (enum master_kind)mk, &tempos[ti], 4, 4);
		int64_t end = rat_frame(rat_mul(rat((i128)bars * 4, 1), tempo_fpb(&tempos[ti])));
		struct recording got = {0}, want = {0};
		simulate(&p, &m, blocks[bi], end, &got);
		expected_events(&p, &m, got.stop_frame, got.stop_frame, &want);
		size_t ons = 0;
		for (size_t i = 0; i < want.n; i++)
			ons += want.ev[i].kind == SEQ_EV_NOTE_ON;
		long bad = compare(&got, &want, "long run");
		char blk[16];
		snprintf(blk, sizeof blk, blocks[bi] ? "%u" : "ragged", blocks[bi]);
		CHECK(bad == 0 && got.unsorted == 0 && got.outside == 0 && got.full == 0 &&
		      got.jumps == 0 && got.starts == 1 && got.stops == 1,
		      "%s, %g BPM, block %s, %d bars: %zu note-ons and their note-offs, %ld off "
		      "the exact frame, missing or extra (unsorted %ld, outside %ld, jumps %ld)",
		      master_name((enum master_kind)mk), tempos[ti].bpm, blk, bars, ons, bad,
		      got.unsorted, got.outside, got.jumps);
		rec_free(&got);
		rec_free(&want);
	}
}

/* Meters: 3/4, 6/8 and 7/8 (eighth-note beats), 100 bars at 133.33. */
static void test_meters(void)
{
	static const struct {
		int bpb, bt;
	} meters[] = {{3, 4}, {6, 8}, {7, 8}};
	static struct seq_pattern p;
	long_run_pattern(&p);
	for (size_t mi = 0; mi < 3; mi++)
		for (int mk = 0; mk < 2; mk++) {
			struct master m;
			master_init(&m, (enum master_kind)mk, &tempos[2], meters[mi].bpb, meters[mi].bt);
			int64_t end = rat_frame(rat_mul(rat(100 * meters[mi].bpb, 1), tempo_fpb(&tempos[2])));
			struct recording got = {0}, want = {0};
			simulate(&p, &m, 128, end, &got);
			expected_events(&p, &m, got.stop_frame, got.stop_frame, &want);
			long bad = compare(&got, &want, "meter");
			CHECK(bad == 0 && got.unsorted == 0 && got.jumps == 0 && want.n > 1000,
			      "%d/%d, %s: %zu events exact (%ld differ)", meters[mi].bpb, meters[mi].bt,
			      master_name((enum master_kind)mk), want.n, bad);
			rec_free(&got);
			rec_free(&want);
		}
}

/* Tempo changes at bar lines inside cycles (cl-transport's way): 120 ->
 * 174 at bar 9, -> 97 at bar 21, -> 133.33 at bar 40. */
static void test_tempo_changes(void)
{
	static struct seq_pattern p;
	long_run_pattern(&p);
	static const uint32_t blocks[] = {64, 100, 128, 1024, 0};
	for (int mk = 0; mk < 2; mk++)
		for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++) {
			struct master m;
			master_init(&m, (enum master_kind)mk, &tempos[0], 4, 4);
			master_change(&m, 9, &tempos[3]);
			master_change(&m, 21, &tempos[1]);
			master_change(&m, 40, &tempos[2]);
			int64_t end = rat_frame(master_frame_of(&m, rat(60 * 4, 1)));
			struct recording got = {0}, want = {0};
			simulate(&p, &m, blocks[bi], end, &got);
			expected_events(&p, &m, got.stop_frame, got.stop_frame, &want);
			long bad = compare(&got, &want, "tempo change");
			CHECK(bad == 0 && got.jumps == 0 && got.unsorted == 0,
			      "tempo changes 120/174/97/133.33, %s, block %u: %zu events exact "
			      "(%ld differ, %ld jumps)", master_name((enum master_kind)mk), blocks[bi],
			      want.n, bad, got.jumps);
			rec_free(&got);
			rec_free(&want);
		}
}

/* A master whose tick_double wobbles by up to 0.3 tick (2 to 4 frames)
 * each cycle: the clock re-anchors nearly every cycle, and still no note
 * is lost or doubled, and none is more than the wobble away. */
static void test_wobbly_master(void)
{
	static struct seq_pattern p;
	long_run_pattern(&p);
	struct master m;
	master_init(&m, M_TICK_DOUBLE, &tempos[0], 4, 4);
	m.jitter = 0.3;
	int64_t end = 96000 * 100;
	struct recording got = {0}, want = {0};
	simulate(&p, &m, 128, end, &got);
	expected_events(&p, &m, got.stop_frame, got.stop_frame, &want);
	size_t on_got = 0, on_want = 0;
	long worst = 0, late_order = 0;
	qsort(got.ev, got.n, sizeof got.ev[0], cmp_rec);
	qsort(want.ev, want.n, sizeof want.ev[0], cmp_rec);
	/* match note-ons by (track, step, order within the step) */
	for (size_t i = 0; i < got.n; i++)
		on_got += got.ev[i].kind == SEQ_EV_NOTE_ON;
	for (size_t i = 0; i < want.n; i++)
		on_want += want.ev[i].kind == SEQ_EV_NOTE_ON;
	size_t i = 0, j = 0;
	while (i < got.n && j < want.n) {
		if (got.ev[i].kind != SEQ_EV_NOTE_ON) {
			i++;
			continue;
		}
		if (want.ev[j].kind != SEQ_EV_NOTE_ON) {
			j++;
			continue;
		}
		long d = labs((long)(got.ev[i].frame - want.ev[j].frame));
		if (d > worst)
			worst = d;
		late_order += got.ev[i].step != want.ev[j].step || got.ev[i].track != want.ev[j].track;
		i++;
		j++;
	}
	CHECK(on_got == on_want && late_order == 0 && worst <= 8,
	      "wobbly master: %zu of %zu note-ons, each once, in order (%ld out), worst %ld frames",
	      on_got, on_want, late_order, worst);
	CHECK(got.jumps == 0, "a wobble is no jump (%ld)", got.jumps);
	rec_free(&got);
	rec_free(&want);
}

/* ---- probability -------------------------------------------------------- */

static void test_probability(void)
{
	struct seq_track t;
	seq_track_init(&t, "hat");
	char err[64];
	seq_pattern_string_parse("x", &t, err, sizeof err);
	t.probability[0] = 50;
	int plays = 0, same = 0, differ = 0, other_track = 0;
	struct seq_track u = t;
	snprintf(u.name, sizeof u.name, "hat2");
	for (int64_t g = 0; g < 10000; g++) {
		bool a = seq_step_plays(1234, &t, g);
		plays += a;
		same += a == seq_step_plays(1234, &t, g);
		differ += a != seq_step_plays(1235, &t, g);
		other_track += a != seq_step_plays(1234, &u, g);
	}
	/* binomial(10000, 0.5): sd 50; 4700..5300 is 6 sd */
	CHECK(plays >= 4700 && plays <= 5300, "50%%: %d of 10000 play (4700..5300)", plays);
	CHECK(same == 10000, "same seed, same steps");
	CHECK(differ >= 4700 && differ <= 5300, "another seed: %d of 10000 differ (about half)", differ);
	CHECK(other_track >= 4700 && other_track <= 5300,
	      "another track name, same seed: %d differ (about half)", other_track);
	t.probability[0] = 25;
	plays = 0;
	for (int64_t g = 0; g < 10000; g++)
		plays += seq_step_plays(99, &t, g);
	CHECK(plays >= 2200 && plays <= 2800, "25%%: %d of 10000 (2200..2800)", plays);
	t.probability[0] = 1;
	plays = 0;
	for (int64_t g = 0; g < 10000; g++)
		plays += seq_step_plays(99, &t, g);
	CHECK(plays >= 50 && plays <= 160, "1%%: %d of 10000 (50..160)", plays);
	t.probability[0] = 0;
	plays = 0;
	for (int64_t g = 0; g < 1000; g++)
		plays += seq_step_plays(99, &t, g);
	CHECK(plays == 0, "0%%: never");
	t.probability[0] = 100;
	plays = 0;
	for (int64_t g = -500; g < 500; g++)
		plays += seq_step_plays(99, &t, g);
	CHECK(plays == 1000, "100%%: always (negative steps too)");

	/* the same steps at any block size, and after a locate */
	static struct seq_pattern p;
	seq_pattern_init(&p);
	p.seed = 42;
	struct seq_track *tr = add_track(&p, "perc", "xxxxxxxxxxxxxxxx", "1/16", 40);
	for (int i = 0; i < 16; i++)
		tr->probability[i] = 50;
	struct master m;
	master_init(&m, M_TICK_DOUBLE, &tempos[1], 4, 4);
	int64_t end = rat_frame(rat_mul(rat(64 * 4, 1), tempo_fpb(&tempos[1])));
	struct recording a = {0}, b = {0};
	simulate(&p, &m, 64, end, &a);
	simulate(&p, &m, 0, end, &b);
	long diff = 0;
	size_t ons_a = 0, ons_b = 0;
	int64_t steps_a[1100], steps_b[1100];
	for (size_t i = 0; i < a.n; i++)
		if (a.ev[i].kind == SEQ_EV_NOTE_ON && ons_a < 1100)
			steps_a[ons_a++] = a.ev[i].step;
	for (size_t i = 0; i < b.n; i++)
		if (b.ev[i].kind == SEQ_EV_NOTE_ON && ons_b < 1100)
			steps_b[ons_b++] = b.ev[i].step;
	for (size_t i = 0; i < ons_a && i < ons_b; i++)
		diff += steps_a[i] != steps_b[i];
	CHECK(ons_a == ons_b && diff == 0 && ons_a > 400 && ons_a < 620,
	      "block 64 and ragged blocks play the same %zu of 1024 steps (%zu, %ld differ)",
	      ons_a, ons_b, diff);

	/* a locate to bar 33: the steps after it are those of the plain run */
	static struct engine e;
	seq_clock_init(&e.clock);
	seq_held_clear(&e.held);
	struct recording c = {0};
	int64_t half = rat_frame(rat_mul(rat(32 * 4, 1), tempo_fpb(&tempos[1])));
	uint32_t fr = 0;
	for (int k = 0; k < 300; k++, fr += 128) {
		struct seq_transport t2 = master_fill(&m, fr, true);
		engine_cycle(&e, &p, &t2, 128, 97.0, &c);
	}
	size_t before = c.n;
	for (fr = (uint32_t)half; fr < end; fr += 128) {
		struct seq_transport t2 = master_fill(&m, fr, true);
		engine_cycle(&e, &p, &t2, 128, 97.0, &c);
	}
	size_t after = 0;
	diff = 0;
	for (size_t i = before; i < c.n; i++) {
		if (c.ev[i].kind != SEQ_EV_NOTE_ON)
			continue;
		/* find it in the plain run */
		bool found = false;
		for (size_t k = 0; k < a.n; k++)
			if (a.ev[k].kind == SEQ_EV_NOTE_ON && a.ev[k].step == c.ev[i].step &&
			    a.ev[k].frame == c.ev[i].frame && a.ev[k].note == c.ev[i].note)
				found = true;
		diff += !found;
		after++;
	}
	size_t plain_after = 0;
	for (size_t k = 0; k < a.n; k++)
		plain_after += a.ev[k].kind == SEQ_EV_NOTE_ON && a.ev[k].frame >= half;
	CHECK(c.jumps == 1 && after == plain_after && diff == 0,
	      "after a locate to bar 33: the same %zu note-ons at the same frames (%zu, %ld differ)",
	      plain_after, after, diff);
	rec_free(&a);
	rec_free(&b);
	rec_free(&c);
}

/* ---- one cycle at a time ------------------------------------------------ */

/* A span of a uniform 120 BPM master at transport frame f. */
static struct seq_span span_120(struct seq_clock *c, uint32_t f, uint32_t n)
{
	struct master m;
	struct seq_span s;
	master_init(&m, M_TICK_DOUBLE, &tempos[0], 4, 4);
	struct seq_transport t = master_fill(&m, f, true);
	seq_clock_update(c, &t, n, 120.0, &s);
	return s;
}

static void test_ratchets_notes_velocity(void)
{
	static struct seq_pattern p;
	seq_pattern_init(&p);
	struct seq_track *t = add_track(&p, "r", "xXx.", "1/16", 60);
	t->ratchet[0] = 3;
	t->ratchet[1] = 8;
	t->ratchet[2] = 2;
	t->notes[1] = 62;
	t->notes[2] = 64;
	t->note_count = 3;
	t->velocity = 110;
	t->accent = 40;
	t->swing = 0.5f;
	struct seq_clock c;
	seq_clock_init(&c);
	struct seq_span s = span_120(&c, 0, 24000);
	struct seq_event ev[64];
	int count = 0;
	int r = seq_schedule_track(&p, 0, &s, 0, 24000, ev, 64, &count);
	/* repeats split the step as it sounds, swing included: step 0 lasts
	 * to the swung step 1 at 9000: 3 repeats 3000 apart; step 1 from 9000
	 * to 12000: 8 repeats 375 apart; step 2 from 12000 to the swung step
	 * 3 at 21000: 2 repeats 4500 apart */
	static const uint32_t want[] = {0, 3000, 6000, 9000, 9375, 9750, 10125, 10500, 10875,
					11250, 11625, 12000, 16500};
	bool frames_ok = r == 13 && count == 13;
	for (int i = 0; frames_ok && i < 13; i++)
		frames_ok = ev[i].frame == want[i];
	CHECK(frames_ok, "ratchets 3, 8 (on a swung step), 2: 13 note-ons at exact frames (%d)", r);
	CHECK(ev[0].note == 60 && ev[2].note == 60 && ev[3].note == 62 && ev[11].note == 64,
	      "one note per hit, cycled over 60 62 64 (repeats keep it)");
	CHECK(ev[0].velocity == 110 && ev[3].velocity == 127 && ev[3].accent && !ev[0].accent,
	      "velocity 110; accent 110 + 40 capped at 127");
	/* gates are gate * step / r: 0.5 * 6000 / 3 = 1000 frames, / 2 = 1500 */
	CHECK(seq_span_frame(&s, ev[1].off_beat) == 4000 && seq_span_frame(&s, ev[12].off_beat) == 18000,
	      "ratchet gates: 1000 and 1500 frames (%" PRId64 ", %" PRId64 ")",
	      seq_span_frame(&s, ev[1].off_beat), seq_span_frame(&s, ev[12].off_beat));
	CHECK(ev[4].step == 1 && ev[4].pattern_step == 1 && ev[12].step == 2, "step indices");

	/* the next pass of the pattern: hit index 3 -> note 60 again */
	struct seq_span s2 = span_120(&c, 24000, 24000);
	count = 0;
	seq_schedule_track(&p, 0, &s2, 0, 24000, ev, 64, &count);
	CHECK(count == 13 && ev[0].note == 60 && ev[0].step == 4 && ev[3].note == 62 &&
	      ev[0].frame == 0, "second pass: steps 4.., notes cycle on");
	/* hits counted from bar 1, rests not counted: at step 17 (pattern
	 * step 1) the hit index is 4 * 3 + 1 = 13 -> 62 */
	struct seq_clock c2;
	seq_clock_init(&c2);
	struct seq_span s3 = span_120(&c2, 17 * 6000 + 3000, 128);   /* swung step 17 */
	count = 0;
	seq_schedule_track(&p, 0, &s3, 0, 128, ev, 64, &count);
	CHECK(count == 1 && ev[0].step == 17 && ev[0].note == 62 && ev[0].frame == 0,
	      "after a start mid-pattern the note follows the hit count from bar 1 (%d, %u)",
	      count, count ? ev[0].note : 0);
	/* a full buffer stops with -1 */
	count = 0;
	CHECK(seq_schedule_track(&p, 0, &s, 0, 24000, ev, 5, &count) == -1 && count == 5,
	      "a full buffer: -1, filled to capacity");
	/* a window */
	count = 0;
	CHECK(seq_schedule_track(&p, 0, &s, 9000, 10000, ev, 64, &count) == 3 &&
	      ev[0].frame == 9000 && ev[2].frame == 9750, "window [9000, 10000): 3 repeats");
}

static void test_mute_solo(void)
{
	static struct seq_pattern p;
	seq_pattern_init(&p);
	add_track(&p, "a", "x", "1/16", 36);
	add_track(&p, "b", "x", "1/16", 38);
	add_track(&p, "c", "x", "1/16", 42);
	CHECK(seq_track_audible(&p, 0) && seq_track_audible(&p, 1) && seq_track_audible(&p, 2),
	      "all audible");
	p.tracks[1].mute = true;
	CHECK(seq_track_audible(&p, 0) && !seq_track_audible(&p, 1), "mute");
	p.tracks[2].solo = true;
	CHECK(!seq_track_audible(&p, 0) && !seq_track_audible(&p, 1) && seq_track_audible(&p, 2),
	      "solo silences the others");
	p.tracks[1].solo = true;
	CHECK(!seq_track_audible(&p, 1), "muted and soloed: muted wins");
	CHECK(!seq_track_audible(&p, 3) && !seq_track_audible(&p, -1), "no such track");
	struct seq_clock c;
	seq_clock_init(&c);
	struct seq_span s = span_120(&c, 0, 6000);
	struct seq_event ev[8];
	int count = 0;
	seq_schedule_track(&p, 0, &s, 0, 6000, ev, 8, &count);
	CHECK(count == 0, "an inaudible track schedules nothing");
	struct seq_held h;
	seq_held_clear(&h);
	seq_schedule_cycle(&p, &s, 0, 6000, &h, ev, 8, &count);
	CHECK(count == 1 && ev[0].track == 2, "the cycle plays the soloed track only");
}

/* The held-note set, one rule at a time. */
static void test_held(void)
{
	struct seq_held h;
	struct seq_event out[600];
	int count;
	struct seq_clock c;
	seq_clock_init(&c);
	struct seq_span s = span_120(&c, 0, 1024);

	/* same-pitch retrigger: off then on at the same frame */
	seq_held_clear(&h);
	count = 0;
	struct seq_event a = {.frame = 10, .kind = SEQ_EV_NOTE_ON, .track = 0, .channel = 1,
			      .note = 60, .velocity = 100, .off_beat = 1.0};
	CHECK(seq_held_add(&h, &a, out, 600, &count) == 0 && h.count == 1, "first note held");
	struct seq_event b = a;
	b.frame = 500;
	b.track = 1;
	CHECK(seq_held_add(&h, &b, out, 600, &count) == 1 && count == 1 &&
	      out[0].kind == SEQ_EV_NOTE_OFF && out[0].frame == 500 && out[0].note == 60 &&
	      out[0].track == 0 && h.count == 1, "retrigger: the old note ends at the new on's frame");
	out[count++] = b;
	seq_events_sort(out, count);
	CHECK(out[0].kind == SEQ_EV_NOTE_OFF && out[1].kind == SEQ_EV_NOTE_ON && out[0].frame == 500,
	      "sorted: off, then on, at frame 500");
	/* another channel is another note */
	struct seq_event d = a;
	d.channel = 2;
	count = 0;
	CHECK(seq_held_add(&h, &d, out, 600, &count) == 0 && h.count == 2, "channel 2 is separate");
	/* a second on at the same frame merges, nothing appended */
	struct seq_event e2 = d;
	e2.off_beat = 2.0;
	CHECK(seq_held_add(&h, &e2, out, 600, &count) == 0 && h.count == 2 &&
	      h.notes[1].off_beat == 2.0, "same note, same frame: merged, the later off kept");

	/* end one track, then all */
	count = 0;
	CHECK(seq_held_due(&h, &s, out, 600, &count) == 0, "nothing due in the first 1024 frames");
	CHECK(seq_held_end(&h, 1, 0, out, 600, &count) == 1 && h.count == 1 && out[0].track == 1,
	      "end track 1: its note only");
	CHECK(seq_held_end(&h, -1, 0, out, 600, &count) == 1 && h.count == 0, "end all");

	/* tiny gate: the note-off one frame after its note-on */
	seq_held_clear(&h);
	count = 0;
	struct seq_event tiny = {.frame = 100, .kind = SEQ_EV_NOTE_ON, .channel = 1, .note = 40,
				 .off_beat = 100.2 / 24000.0};
	seq_held_add(&h, &tiny, out, 600, &count);
	seq_held_due(&h, &s, out, 600, &count);
	CHECK(count == 1 && out[0].frame == 101, "gate under a frame: off at on + 1 (%u)", out[0].frame);
	/* ...also at the last frame of a cycle: the off goes to the next one */
	count = 0;
	tiny.frame = 1023;
	tiny.off_beat = 1023.1 / 24000.0;
	seq_held_add(&h, &tiny, out, 600, &count);
	seq_held_due(&h, &s, out, 600, &count);
	CHECK(count == 0 && h.count == 1 && h.notes[0].on_frame == -1, "on at 1023: off not in this cycle");
	struct seq_span s2 = span_120(&c, 1024, 1024);
	seq_held_due(&h, &s2, out, 600, &count);
	CHECK(count == 1 && out[0].frame == 0 && h.count == 0, "...but at frame 0 of the next");

	/* ending at a frame before a note-on of this cycle defers that note */
	seq_held_clear(&h);
	count = 0;
	struct seq_event late = {.frame = 600, .kind = SEQ_EV_NOTE_ON, .channel = 1, .note = 50,
				 .off_beat = 10.0};
	struct seq_event early = late;
	early.frame = 100;
	early.note = 51;
	seq_held_add(&h, &early, out, 600, &count);
	seq_held_add(&h, &late, out, 600, &count);
	seq_held_end(&h, -1, 300, out, 600, &count);
	CHECK(count == 1 && out[0].note == 51 && out[0].frame == 300 && h.count == 1,
	      "end at 300: the note from 100 ends there, the one from 600 waits");
	seq_held_due(&h, &s, out, 600, &count);
	CHECK(count == 2 && out[1].note == 50 && out[1].frame == 601 && h.count == 0,
	      "...and ends one frame after its note-on (%u)", out[1].frame);

	/* a full set: the 257th note ends the oldest */
	seq_held_clear(&h);
	count = 0;
	for (int i = 0; i < SEQ_MAX_HELD; i++) {
		struct seq_event n = {.frame = 5, .kind = SEQ_EV_NOTE_ON, .channel = (uint8_t)(1 + i / 128),
				      .note = (uint8_t)(i % 128), .off_beat = 100.0};
		seq_held_add(&h, &n, out, 600, &count);
	}
	CHECK(h.count == SEQ_MAX_HELD && count == 0, "256 notes held");
	struct seq_event extra = {.frame = 7, .kind = SEQ_EV_NOTE_ON, .channel = 3, .note = 1,
				  .off_beat = 100.0};
	CHECK(seq_held_add(&h, &extra, out, 600, &count) == 1 && count == 1 && out[0].channel == 1 &&
	      out[0].note == 0 && out[0].frame == 7 && h.count == SEQ_MAX_HELD,
	      "the 257th ends the oldest (channel 1 note 0) at its frame");
	CHECK(seq_held_end(&h, -1, 9, out, 600, &count) == SEQ_MAX_HELD && h.count == 0,
	      "end all: 256 note-offs");
}

static void test_sort(void)
{
	struct seq_event ev[6] = {
		{.frame = 5, .kind = SEQ_EV_NOTE_ON, .track = 2, .note = 1},
		{.frame = 5, .kind = SEQ_EV_NOTE_OFF, .track = 3, .note = 2},
		{.frame = 1, .kind = SEQ_EV_NOTE_ON, .track = 0, .note = 3},
		{.frame = 5, .kind = SEQ_EV_NOTE_ON, .track = 1, .note = 4},
		{.frame = 5, .kind = SEQ_EV_NOTE_OFF, .track = 3, .note = 5},
		{.frame = 0, .kind = SEQ_EV_NOTE_OFF, .track = 9, .note = 6},
	};
	seq_events_sort(ev, 6);
	static const uint8_t want[] = {6, 3, 2, 5, 4, 1};
	bool ok = true;
	for (int i = 0; i < 6; i++)
		ok = ok && ev[i].note == want[i];
	CHECK(ok, "by frame, offs before ons, then track, stable (%u %u %u %u %u %u)", ev[0].note,
	      ev[1].note, ev[2].note, ev[3].note, ev[4].note, ev[5].note);
}

/* Two tracks on one note; a note retriggered by another track in the
 * same cycle; a long gate overlapping the next hit: every on gets exactly
 * one off, each after its on, offs before ons at equal frames. */
static void test_cycle_pairs(void)
{
	static struct seq_pattern p;
	seq_pattern_init(&p);
	struct seq_track *t = add_track(&p, "a", "x.x.", "1/16", 60);
	t->gate = 2.0f;                          /* overlaps the next hit */
	t = add_track(&p, "b", "x...", "1/16", 60); /* same note as a at step 0 */
	t->gate = 0.25f;
	t = add_track(&p, "c", ".x..", "1/32", 60); /* same note, between */
	t->gate = 0.01f;
	t = add_track(&p, "d", "x", "1/64", 61);
	t->ratchet[0] = 8;
	t->gate = 0.01f;                         /* 0.56 frame at 400 BPM */
	static const struct tempo fast = {400, 1, 400.0};
	static const uint32_t blocks[] = {64, 100, 1024, 4096};
	for (size_t bi = 0; bi < 4; bi++) {
		struct master m;
		master_init(&m, M_TICK_DOUBLE, &fast, 4, 4);
		struct recording r = {0};
		simulate(&p, &m, blocks[bi], 96000 * 8, &r);
		/* pair them in order per (channel, note) */
		long unpaired = 0, zero_len = 0, double_on = 0;
		int64_t on_at[2] = {-1, -1};
		for (size_t i = 0; i < r.n; i++) {
			int k = r.ev[i].note - 60;
			if (k < 0 || k > 1)
				continue;
			if (r.ev[i].kind == SEQ_EV_NOTE_ON) {
				double_on += on_at[k] >= 0;
				on_at[k] = r.ev[i].frame;
			} else {
				if (on_at[k] < 0)
					unpaired++;
				else if (r.ev[i].frame <= on_at[k])
					zero_len++;
				on_at[k] = -1;
			}
		}
		unpaired += (on_at[0] >= 0) + (on_at[1] >= 0);
		CHECK(unpaired == 0 && zero_len == 0 && double_on == 0 && r.unsorted == 0 &&
		      r.outside == 0 && r.n > 1000,
		      "block %u: %zu events, every note-on has one note-off after it (unpaired %ld, "
		      "not after %ld, on while on %ld, unsorted %ld)", blocks[bi], r.n, unpaired,
		      zero_len, double_on, r.unsorted);
		rec_free(&r);
	}
}

/* One cycle with three tracks on one note: the held set sees the
 * note-ons in time order whatever the track order, and two at one frame
 * become one (the louder, the longer gate). */
static void test_cycle_order(void)
{
	static struct seq_pattern p;
	seq_pattern_init(&p);
	struct seq_track *t = add_track(&p, "a", ".x..", "1/16", 60);
	t->velocity = 80;
	t = add_track(&p, "b", "x...", "1/16", 60);
	t->velocity = 100;
	t->gate = 0.25f;
	t = add_track(&p, "c", "x...", "1/16", 60);
	t->velocity = 120;
	t->gate = 0.75f;
	struct seq_clock c;
	seq_clock_init(&c);
	struct seq_span s = span_120(&c, 0, 24000);
	struct seq_held h;
	seq_held_clear(&h);
	struct seq_event ev[32];
	int count = 0;
	int r = seq_schedule_cycle(&p, &s, 0, 24000, &h, ev, 32, &count);
	seq_held_due(&h, &s, ev, 32, &count);
	seq_events_sort(ev, count);
	CHECK(r == 3 && count == 4, "2 note-ons (one dropped) and the natural note-off before the second, then 1 due (%d, %d)", r, count);
	CHECK(count == 4 && ev[0].kind == SEQ_EV_NOTE_ON && ev[0].frame == 0 && ev[0].velocity == 120 &&
	      ev[1].kind == SEQ_EV_NOTE_OFF && ev[1].frame == 4500 &&
	      ev[2].kind == SEQ_EV_NOTE_ON && ev[2].frame == 6000 && ev[2].velocity == 80 &&
	      ev[3].kind == SEQ_EV_NOTE_OFF && ev[3].frame == 9000,
	      "on 0 (velocity 120), off 4500 (the longer gate), on 6000, off 9000 (got %u %u %u %u)",
	      ev[0].frame, ev[1].frame, ev[2].frame, ev[3].frame);
	CHECK(h.count == 0, "nothing left held");
	/* the same note an 8th later, its earlier note still due in this
	 * cycle: it ends at its own frame, not cut to the new note-on */
	seq_held_clear(&h);
	struct seq_span s2 = span_120(&c, 24000, 24000);
	p.tracks[0].gate = 1.5f;   /* a: on 30000, off 39000 */
	p.tracks[1].mute = true;
	p.tracks[2].mute = true;
	seq_pattern_string_parse(".xx.", &p.tracks[0], (char[64]){0}, 64);
	count = 0;
	seq_schedule_cycle(&p, &s2, 0, 24000, &h, ev, 32, &count);
	seq_held_due(&h, &s2, ev, 32, &count);
	seq_events_sort(ev, count);
	CHECK(count == 4 && ev[0].frame == 6000 && ev[1].frame == 12000 && ev[1].kind == SEQ_EV_NOTE_OFF &&
	      ev[2].frame == 12000 && ev[2].kind == SEQ_EV_NOTE_ON && ev[3].frame == 21000,
	      "overlapping gate: on 6000, off-then-on at 12000, off 21000 (%d: %u %u %u %u)", count,
	      ev[0].frame, ev[1].frame, ev[2].frame, ev[3].frame);
}

/* Start, stop, locate mid-bar: the flags, notes ended at frame 0 of the
 * cycle, the position re-anchored. */
static void test_start_stop_locate(void)
{
	static struct seq_pattern p;
	seq_pattern_init(&p);
	struct seq_track *t = add_track(&p, "bass", "x", "1/4", 36);
	t->gate = 2.0f;    /* always sounding, overlapping itself */
	t->notes[1] = 38;
	t->note_count = 2;
	struct master m;
	master_init(&m, M_TICK_DOUBLE, &tempos[0], 4, 4);
	static struct engine e;
	seq_clock_init(&e.clock);
	seq_held_clear(&e.held);
	struct recording r = {0};
	uint32_t fr = 0;
	for (int k = 0; k < 1000; k++, fr += 256) {   /* 256000 frames: 10.67 beats */
		struct seq_transport tr = master_fill(&m, fr, true);
		engine_cycle(&e, &p, &tr, 256, 120.0, &r);
	}
	CHECK(r.starts == 1 && e.held.count == 2, "rolling: 2 notes sounding (%d)", e.held.count);
	size_t mark = r.n;
	/* locate to bar 2 beat 3 tick 960 mid-cycle: frame 96000 + 60000 */
	fr = 156000;
	struct seq_transport tr = master_fill(&m, fr, true);
	engine_cycle(&e, &p, &tr, 256, 120.0, &r);
	long offs_at_0 = 0, ons = 0;
	for (size_t i = mark; i < r.n; i++) {
		offs_at_0 += r.ev[i].kind == SEQ_EV_NOTE_OFF && r.ev[i].frame == 156000;
		ons += r.ev[i].kind == SEQ_EV_NOTE_ON;
	}
	CHECK(r.jumps == 1 && offs_at_0 == 2 && ons == 0,
	      "locate: JUMPED, both notes end at the cycle's first frame (%ld), nothing new", offs_at_0);
	/* from there on, beat 7 at 168000 */
	mark = r.n;
	for (fr += 256; fr < 170000; fr += 256) {
		tr = master_fill(&m, fr, true);
		engine_cycle(&e, &p, &tr, 256, 120.0, &r);
	}
	CHECK(r.n - mark == 1 && r.ev[mark].kind == SEQ_EV_NOTE_ON && r.ev[mark].frame == 168000 &&
	      r.ev[mark].step == 7 && r.ev[mark].note == 38,
	      "after the locate: the next beat (step 7, note 38) at frame 168000");
	/* stop */
	mark = r.n;
	tr = master_fill(&m, fr, false);
	engine_cycle(&e, &p, &tr, 256, 120.0, &r);
	CHECK(r.stops == 1 && r.n - mark == 1 && r.ev[mark].kind == SEQ_EV_NOTE_OFF &&
	      r.ev[mark].frame == fr && e.held.count == 0, "stop: the sounding note ends at once");
	/* stopped cycles play nothing */
	mark = r.n;
	for (int k = 0; k < 10; k++)
		engine_cycle(&e, &p, &tr, 256, 120.0, &r);
	CHECK(r.n == mark && r.stops == 1, "stopped: nothing");
	/* start again where it stopped: STARTED, the next beat in place */
	int64_t beat8 = 8 * 24000;
	for (; fr < beat8 + 512; fr += 256) {
		tr = master_fill(&m, fr, true);
		engine_cycle(&e, &p, &tr, 256, 120.0, &r);
	}
	CHECK(r.starts == 2 && r.n - mark == 1 && r.ev[mark].frame == beat8,
	      "restart: beat 8 at %" PRId64, beat8);
	rec_free(&r);
}

/* What scheduling costs: 32 tracks, 64-frame cycles, clock to sort. */
static void test_throughput(void)
{
	static struct seq_pattern p;
	seq_pattern_init(&p);
	static const char *pats[] = {"X...x...X...x..x", "x.x.x.x.xxx.x.x.", "....X.......X..x",
				     "x..x..x..x..x..x.", "xXxXxXxXxXxXxXxX", "x.xX.", "X.......x......."};
	char name[16];
	for (int i = 0; i < 32; i++) {
		snprintf(name, sizeof name, "t%d", i);
		struct seq_track *t = add_track(&p, name, pats[i % 7], i % 5 == 4 ? "1/8t" : "1/16",
						(uint8_t)(36 + i));
		t->channel = (uint8_t)(1 + i % 16);
		t->ratchet[0] = (uint8_t)(1 + i % 3);
		t->probability[2] = 70;
		t->swing = i % 2 ? 0.3f : SEQ_SWING_FOLLOW;
	}
	struct master m;
	master_init(&m, M_TICK_DOUBLE, &tempos[2], 4, 4);
	static struct engine e;
	seq_clock_init(&e.clock);
	seq_held_clear(&e.held);
	const int cycles = 100000;
	long events = 0;
	/* what the master says, worked out before the clock starts */
	struct seq_transport *trs = malloc(cycles * sizeof *trs);
	if (!trs) {
		perror("malloc");
		exit(2);
	}
	for (int k = 0; k < cycles; k++)
		trs[k] = master_fill(&m, (uint32_t)k * 64, true);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < cycles; k++) {
		const struct seq_transport tr = trs[k];
		struct seq_span span;
		int count = 0, max = (int)(sizeof e.ev / sizeof e.ev[0]);
		int flags = seq_clock_update(&e.clock, &tr, 64, 120.0, &span);
		if (flags & SEQ_CLOCK_ROLLING) {
			seq_schedule_cycle(&p, &span, 0, 64, &e.held, e.ev, max, &count);
			seq_held_due(&e.held, &span, e.ev, max, &count);
		}
		seq_events_sort(e.ev, count);
		events += count;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(trs);
	double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / cycles;
	printf("throughput: 32 tracks at 133.33 BPM, %d cycles of 64 frames, %ld events: "
	       "%.0f ns per cycle (%.2f%% of a 64-frame period at 48 kHz)\n",
	       cycles, events, ns, ns / (64e9 / RATE) * 100.0);
	CHECK(events > 20000, "the benchmark played notes (%ld)", events);
	CHECK(ns < 64e9 / RATE * 0.25, "scheduling 32 tracks takes under a quarter of a 64-frame "
	      "period (%.0f ns)", ns);
}

int main(void)
{
	test_probability();
	test_ratchets_notes_velocity();
	test_mute_solo();
	test_held();
	test_sort();
	test_cycle_pairs();
	test_cycle_order();
	test_start_stop_locate();
	test_meters();
	test_tempo_changes();
	test_wobbly_master();
	test_long_runs();
	test_throughput();
	printf("seq-schedule: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
