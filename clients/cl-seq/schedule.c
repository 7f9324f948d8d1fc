/*
 * cl-seq schedule: which notes start in a cycle, and which end; see
 * schedule.h for the rules (probability by hash, notes cycled by hit
 * index, ratchets, accent, the held-note set).
 *
 * Scheduling is stateless: for a frame window it works out the range of
 * musical positions the window covers, walks the global steps whose notes
 * could fall there, and asks the span (seq_span_event_frame) which of
 * them land in this cycle. Nothing is remembered between cycles except
 * the held notes, so a locate, a block size change or a pattern swap
 * needs no bookkeeping here, and the same seed plays the same steps
 * whatever happened before.
 *
 * A step's ratchet repeats split the step as it sounds (from its swung
 * start to the next step's swung start) into equal parts; the gate of
 * each repeat is gate * step length / r. A repeat's note-off is kept as a
 * musical position, not a frame count, so it follows tempo changes like
 * the note-ons do. The held set is a small array in note-on order (the
 * oldest first), so "end the oldest" is its first entry.
 *
 * The held set must see a cycle's note-ons in time order, across tracks,
 * or a later note of one pitch would cut an earlier one of another track;
 * seq_schedule_cycle() sorts them first, lets a note whose own note-off
 * comes before the retrigger end there, and drops the second of two
 * note-ons of one note at one frame.
 */
#include "schedule.h"

#include <math.h>
#include <string.h>

/* RT */
bool seq_track_audible(const struct seq_pattern *p, int track)
{
	if (track < 0 || track >= p->track_count || track >= SEQ_MAX_TRACKS)
		return false;
	if (p->tracks[track].mute)
		return false;
	for (int i = 0; i < p->track_count && i < SEQ_MAX_TRACKS; i++)
		if (p->tracks[i].solo)
			return p->tracks[track].solo;
	return true;
}

/* a mod b in [0, b) for b > 0, negative a included. */
static int64_t floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;
	return r < 0 ? r + b : r;
}

/* a / b rounded down, for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
	return (a - floor_mod(a, b)) / b;
}

/* t's length, trusted only within 1..64. */
static int track_length(const struct seq_track *t)
{
	return t->length >= 1 && t->length <= SEQ_MAX_STEPS ? t->length : SEQ_MAX_STEPS;
}

/* splitmix64's finaliser: every input bit moves every output bit. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* RT */
bool seq_step_plays(uint32_t seed, const struct seq_track *t, int64_t g)
{
	int ps = (int)floor_mod(g, track_length(t));
	unsigned chance = t->probability[ps];
	if (chance >= 100)
		return true;
	if (chance == 0)
		return false;
	/* FNV-1a of the name, so two tracks with one seed roll differently */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (int i = 0; i < SEQ_NAME_MAX && t->name[i]; i++) {
		h ^= (unsigned char)t->name[i];
		h *= 0x100000001b3ULL;
	}
	h = mix64(h ^ mix64((uint64_t)seed + 0x9e3779b97f4a7c15ULL));
	h = mix64(h ^ ((uint64_t)g * 0xd1b54a32d192ed03ULL));
	/* the top 53 bits as a uniform number in [0, 100) */
	double roll = (double)(h >> 11) * (100.0 / 9007199254740992.0);
	return roll < (double)chance;
}

/* Hits (non-rest steps) among global steps [0, g) of t. */
static int64_t hits_before(const struct seq_track *t, int64_t g)
{
	int len = track_length(t);
	int per_cycle = 0, partial = 0;
	int64_t cycles = floor_div(g, len);
	int rest = (int)(g - cycles * len);
	for (int i = 0; i < len; i++) {
		if (t->steps[i] == SEQ_STEP_REST)
			continue;
		per_cycle++;
		if (i < rest)
			partial++;
	}
	return cycles * per_cycle + partial;
}

/* RT */
int seq_schedule_track(const struct seq_pattern *p, int ti,
		       const struct seq_span *s, uint32_t from, uint32_t to,
		       struct seq_event *out, int max, int *count)
{
	if (!seq_track_audible(p, ti) || from >= to)
		return 0;
	const struct seq_track *t = &p->tracks[ti];
	double step = seq_step_beats(t, s->beat_type);
	double fpb = seq_span_frames_per_beat(s);
	if (!(step > 0.0) || !(fpb > 0.0) || !isfinite(s->beat_type))
		return 0;
	double swing = seq_track_swing(t, p->swing);
	double delay = swing * s->beat_type / 8.0;   /* the most swing can add */
	int len = track_length(t);

	/* Positions the window covers, two frames wider for rounding; from
	 * frame 0 on, also what the previous mapping left for this cycle. */
	double lo = seq_span_beat(s, (double)from) - 2.0 / fpb;
	double hi = seq_span_beat(s, (double)to) + 2.0 / fpb;
	if (s->anchored && s->have_prev && from == 0) {
		double prev_lo = s->prev_anchor_beat -
			(double)s->prev_anchor_frame / s->prev_frames_per_beat;
		if (prev_lo - 2.0 / s->prev_frames_per_beat < lo)
			lo = prev_lo - 2.0 / s->prev_frames_per_beat;
	}
	if (!isfinite(lo) || !isfinite(hi))
		return 0;
	/* step g sounds within [g * step, (g + 1) * step + delay) */
	int64_t g0 = (int64_t)floor((lo - delay) / step) - 1;
	int64_t g1 = (int64_t)floor(hi / step) + 1;
	if (g1 - g0 > 1 << 16)   /* a window of hours: not a cycle */
		g1 = g0 + (1 << 16);

	int appended = 0;
	double gate = isfinite(t->gate) ? t->gate : 0.5;
	if (gate < 0.01)
		gate = 0.01;
	if (gate > 2.0)
		gate = 2.0;
	int note_count = t->note_count >= 1 && t->note_count <= SEQ_MAX_NOTES ? t->note_count : 1;

	for (int64_t g = g0; g <= g1; g++) {
		int ps = (int)floor_mod(g, len);
		uint8_t kind = t->steps[ps];
		if (kind == SEQ_STEP_REST || !seq_step_plays(p->seed, t, g))
			continue;
		double start = seq_step_start(t, g, swing, s->beat_type);
		double next = seq_step_start(t, g + 1, swing, s->beat_type);
		int r = t->ratchet[ps] >= 1 ? t->ratchet[ps] : 1;
		if (r > SEQ_MAX_RATCHET)
			r = SEQ_MAX_RATCHET;
		bool accent = kind == SEQ_STEP_ACCENT;
		int velocity = t->velocity + (accent ? t->accent : 0);
		velocity = velocity > 127 ? 127 : velocity < 1 ? 1 : velocity;
		uint8_t note = 0;
		bool note_known = false;

		for (int j = 0; j < r; j++) {
			double b = j == 0 ? start : start + (next - start) * j / r;
			int64_t f = seq_span_event_frame(s, b);
			if (f < (int64_t)from || f >= (int64_t)to)
				continue;
			if (!note_known) {
				note = t->notes[floor_mod(hits_before(t, g), note_count)];
				note_known = true;
			}
			if (*count >= max)
				return -1;
			out[(*count)++] = (struct seq_event){
				.frame = (uint32_t)f,
				.kind = SEQ_EV_NOTE_ON,
				.track = (uint8_t)ti,
				.channel = t->channel,
				.note = note,
				.velocity = (uint8_t)velocity,
				.accent = accent,
				.step = g,
				.pattern_step = (uint8_t)ps,
				.off_beat = b + gate * step / r,
			};
			appended++;
		}
	}
	return appended;
}

/* RT */
void seq_held_clear(struct seq_held *h)
{
	h->count = 0;
}

/* Forget held note i, keeping the others in note-on order. */
static void held_remove(struct seq_held *h, int i)
{
	memmove(&h->notes[i], &h->notes[i + 1],
		(size_t)(h->count - i - 1) * sizeof h->notes[0]);
	h->count--;
}

/* Index of the held note on channel and note, or -1. */
static int held_find(const struct seq_held *h, uint8_t channel, uint8_t note)
{
	for (int i = 0; i < h->count; i++)
		if (h->notes[i].channel == channel && h->notes[i].note == note)
			return i;
	return -1;
}

/* Append the note-off of held note n at frame; false when out is full. */
static bool off_append(const struct seq_held_note *n, int64_t frame,
		       struct seq_event *out, int max, int *count)
{
	if (*count >= max)
		return false;
	out[(*count)++] = (struct seq_event){
		.frame = (uint32_t)frame,
		.kind = SEQ_EV_NOTE_OFF,
		.track = n->track,
		.channel = n->channel,
		.note = n->note,
		.velocity = 0,
		.off_beat = n->off_beat,
	};
	return true;
}

/* The frame of this cycle where held note n's note-off falls: its
 * position's frame, not before frame 0 (overdue) and not before the frame
 * after its note-on. A note ended "as soon as allowed" has off_beat -inf. */
static int64_t held_off_frame(const struct seq_held_note *n, const struct seq_span *s)
{
	int64_t f = n->off_beat > -1e300 ? seq_span_frame(s, n->off_beat) : 0;
	if (f < 0)
		f = 0;
	if (n->on_frame >= 0 && f <= n->on_frame)
		f = (int64_t)n->on_frame + 1;
	return f;
}

/* RT */
int seq_held_add(struct seq_held *h, const struct seq_event *ev,
		 struct seq_event *out, int max, int *count)
{
	int appended = 0;
	int i = held_find(h, ev->channel, ev->note);
	if (i >= 0) {
		struct seq_held_note *n = &h->notes[i];
		if (n->on_frame == (int32_t)ev->frame) {
			/* Two note-ons of one note at one frame: one note,
			 * the longer gate. An off here would precede its on. */
			if (ev->off_beat > n->off_beat)
				n->off_beat = ev->off_beat;
			return 0;
		}
		if (!off_append(n, ev->frame, out, max, count))
			i = -1;   /* no room: keep it, it ends later (no hang) */
		else {
			held_remove(h, i);
			appended++;
		}
	}
	if (h->count == SEQ_MAX_HELD) {
		if (appended == 0 && off_append(&h->notes[0], ev->frame, out, max, count))
			appended++;
		held_remove(h, 0);
	}
	h->notes[h->count++] = (struct seq_held_note){
		.track = ev->track,
		.channel = ev->channel,
		.note = ev->note,
		.off_beat = ev->off_beat,
		.on_frame = (int32_t)ev->frame,
	};
	return appended;
}

/* RT */
int seq_held_due(struct seq_held *h, const struct seq_span *s,
		 struct seq_event *out, int max, int *count)
{
	int appended = 0;
	for (int i = 0; i < h->count;) {
		struct seq_held_note *n = &h->notes[i];
		int64_t f = held_off_frame(n, s);
		if (f < (int64_t)s->nframes && off_append(n, f, out, max, count)) {
			held_remove(h, i);
			appended++;
			continue;
		}
		n->on_frame = -1;
		i++;
	}
	return appended;
}

/* RT */
int seq_held_end(struct seq_held *h, int track, uint32_t frame,
		 struct seq_event *out, int max, int *count)
{
	int appended = 0;
	for (int i = 0; i < h->count;) {
		struct seq_held_note *n = &h->notes[i];
		if (track >= 0 && n->track != track) {
			i++;
			continue;
		}
		/* A note that starts at or after frame in this cycle cannot end
		 * at frame: it ends as soon as it may (seq_held_due). */
		if (n->on_frame >= 0 && (int64_t)frame <= n->on_frame) {
			n->off_beat = -HUGE_VAL;
			i++;
			continue;
		}
		if (!off_append(n, frame, out, max, count))
			break;
		held_remove(h, i);
		appended++;
	}
	return appended;
}

/* Does a go before b: frame, then offs before ons, then track. */
static bool event_before(const struct seq_event *a, const struct seq_event *b)
{
	if (a->frame != b->frame)
		return a->frame < b->frame;
	if (a->kind != b->kind)
		return a->kind == SEQ_EV_NOTE_OFF;
	return a->track < b->track;
}

/* RT */
void seq_events_sort(struct seq_event *ev, int count)
{
	/* Insertion sort: stable, in place, and near linear on what we feed
	 * it (each track's events already in order). */
	for (int i = 1; i < count; i++) {
		struct seq_event e = ev[i];
		int j = i;
		while (j > 0 && event_before(&e, &ev[j - 1])) {
			ev[j] = ev[j - 1];
			j--;
		}
		ev[j] = e;
	}
}

/* RT */
int seq_schedule_cycle(const struct seq_pattern *p, const struct seq_span *s,
		       uint32_t from, uint32_t to, struct seq_held *h,
		       struct seq_event *out, int max, int *count)
{
	int first = *count;
	bool full = false;
	for (int ti = 0; ti < p->track_count && ti < SEQ_MAX_TRACKS; ti++)
		if (seq_schedule_track(p, ti, s, from, to, out, max, count) < 0)
			full = true;
	int ons_end = *count;
	/* the held set must see the note-ons in time order */
	seq_events_sort(out + first, ons_end - first);

	int dropped = 0;
	for (int k = first; k < ons_end; k++) {
		struct seq_event *ev = &out[k];
		int i = held_find(h, ev->channel, ev->note);
		if (i >= 0) {
			struct seq_held_note *n = &h->notes[i];
			if (n->on_frame == (int32_t)ev->frame) {
				/* another track on the same note at the same
				 * frame: one note-on, the louder velocity, the
				 * longer gate */
				if (ev->off_beat > n->off_beat)
					n->off_beat = ev->off_beat;
				for (int j = k - 1; j >= first; j--) {
					struct seq_event *kept = &out[j];
					if (kept->kind == SEQ_EV_NOTE_ON && kept->frame == ev->frame &&
					    kept->channel == ev->channel && kept->note == ev->note) {
						if (ev->velocity > kept->velocity)
							kept->velocity = ev->velocity;
						kept->accent = kept->accent || ev->accent;
						break;
					}
				}
				ev->kind = 0xff;
				dropped++;
				continue;
			}
			/* it ends on its own before this note-on: at its own
			 * frame, not cut to this one */
			int64_t f = held_off_frame(n, s);
			if (f <= (int64_t)ev->frame) {
				if (!off_append(n, f, out, max, count))
					full = true;
				else
					held_remove(h, i);
			}
		}
		seq_held_add(h, ev, out, max, count);
	}
	if (*count >= max)
		full = true;   /* perhaps a retrigger note-off did not fit */
	if (dropped) {
		int w = first;
		for (int k = first; k < *count; k++)
			if (out[k].kind != 0xff)
				out[w++] = out[k];
		*count = w;
	}
	return full ? -1 : *count - first;
}
