/*
 * The audio-thread half of cl-seq: the transport in, notes and voices out.
 *
 * Each cycle: take queued commands (new patterns by pointer, panic,
 * tempo), turn the transport into a span (timing.c), end every note on a
 * stop or a jump, place the note-ons of every audible track at their
 * frames (schedule.c) with a waiting pattern switched in at its bar
 * frame, add the note-offs that fall due, sort, and write them to
 * midi_out (or the track's own port), play them on the voices between
 * renders, and queue them for ALSA. Notes are written at the frame the
 * tempo gives, never at the cycle start.
 *
 * A swapped-in pattern is matched to the old one by track name: a track
 * that kept its name keeps its voice (parameters ramp to the new values)
 * and its sounding notes, unless it went silent (mute, solo elsewhere) or
 * changed channel, when its notes end at once.
 */
#include "seq.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jack/midiport.h>
#include <jack/transport.h>

#include "alsa_out.h"
#include "cl_log.h"

int engine_init(struct seq_app *a)
{
	if (cl_cmdq_init(&a->to_rt, 1024) != 0 || cl_cmdq_init(&a->from_rt, 8192) != 0 ||
	    cl_cmdq_init(&a->to_alsa, a->alsa_seq ? 8192 : 16) != 0)
		return -1;
	seq_clock_init(&a->eng.clock);
	seq_held_clear(&a->eng.held);
	a->eng.bpm = a->bpm;
	a->eng.alsa = a->alsa_seq;
	a->eng.last_flags = -1;
	return 0;
}

void engine_done(struct seq_app *a)
{
	cl_cmdq_done(&a->to_rt);
	cl_cmdq_done(&a->from_rt);
	cl_cmdq_done(&a->to_alsa);
}

bool engine_send(struct seq_app *a, const struct cl_cmd *cmd)
{
	return cl_cmdq_push(&a->to_rt, cmd);
}

/* RT */
static void emit(struct seq_app *a, const struct cl_cmd *ev)
{
	if (!cl_cmdq_push(&a->from_rt, ev))
		a->eng.event_overruns++;
}

/* RT: hand a pattern back to the control thread to be freed. */
static void let_go(struct seq_app *a, struct seq_pattern *p)
{
	if (!p)
		return;
	struct cl_cmd ev = { .kind = SEQ_EV_OLD_PATTERN, .frame = (int64_t)(intptr_t)p };
	emit(a, &ev);
}

/* RT: the out index of each event from `first` on, from the pattern the
 * events' track numbers refer to. */
static void fill_out(struct seq_engine *e, const struct seq_pattern *p, int first, int count)
{
	for (int i = first; i < count; i++)
		e->events[i].out = e->events[i].track < p->track_count ?
			p->tracks[e->events[i].track].out_index : 0;
}

/* RT: make `next` the playing pattern at `frame`. Notes of tracks that are
 * gone, silent or on another channel end there; a track keeps its voice
 * while it keeps its name and out index. With end_all (a pattern switch)
 * every note ends. */
static void install(struct seq_app *a, struct seq_pattern *next, uint32_t frame, bool end_all,
		    int *count)
{
	struct seq_engine *e = &a->eng;
	struct seq_pattern *old = e->pattern;
	int map[SEQ_MAX_TRACKS];       /* old track -> new track, or -1 */
	for (int i = 0; old && i < old->track_count; i++) {
		int k = seq_pattern_find(next, old->tracks[i].name);
		map[i] = k >= 0 && next->tracks[k].out_index == old->tracks[i].out_index ? k : -1;
	}

	for (int i = 0; i < e->held.count;) {
		struct seq_held_note *h = &e->held.notes[i];
		int to = old && h->track < old->track_count ? map[h->track] : -1;
		if (end_all || to < 0 || next->tracks[to].channel != h->channel ||
		    !seq_track_audible(next, to)) {
			if (*count < SEQ_ENGINE_EVENTS)
				e->events[(*count)++] = (struct seq_event){
					.frame = frame, .kind = SEQ_EV_NOTE_OFF, .track = h->track,
					.channel = h->channel, .note = h->note,
					.out = old && h->track < old->track_count ?
						old->tracks[h->track].out_index : 0,
				};
			/* keep the set oldest first: it ends the oldest when full */
			memmove(&e->held.notes[i], &e->held.notes[i + 1],
				(size_t)(e->held.count - i - 1) * sizeof(e->held.notes[0]));
			e->held.count--;
			continue;
		}
		h->track = (uint8_t)to;
		i++;
	}

	/* voices: by out index; a track that stays ramps to its new values */
	bool kept[SEQ_MAX_TRACKS] = { false };
	for (int i = 0; old && i < old->track_count; i++) {
		if (map[i] < 0)
			continue;
		const struct seq_track *was = &old->tracks[i], *t = &next->tracks[map[i]];
		struct seq_voice *v = &e->voices[t->out_index];
		kept[t->out_index] = true;
		if (v->kind != t->voice) {
			seq_voice_set_kind(v, t->voice, t->voice_params);
		} else {
			for (int p = 0; p < SEQ_VOICE_MAX_PARAMS; p++)
				if (was->voice_params[p] != t->voice_params[p])
					seq_voice_set(v, p, t->voice_params[p]);
		}
		if (end_all)
			seq_voice_all_off(v);
	}
	for (int i = 0; i < next->track_count; i++) {
		const struct seq_track *t = &next->tracks[i];
		if (!kept[t->out_index]) {
			/* a new track (or a new one in an old track's place) */
			seq_voice_all_off(&e->voices[t->out_index]);
			seq_voice_set_kind(&e->voices[t->out_index], t->voice, t->voice_params);
			kept[t->out_index] = true;
		}
	}
	for (int o = 0; o < SEQ_MAX_TRACKS; o++)
		if (!kept[o])
			seq_voice_all_off(&e->voices[o]);   /* its track went: let it fade */
	e->pattern = next;
	let_go(a, old);
}

/* RT: the notes of [from, to) of the span, all audible tracks, through the
 * held set in time order (schedule.c). */
static void schedule_all(struct seq_engine *e, const struct seq_span *s, uint32_t from, uint32_t to,
			 int *count)
{
	int first = *count;
	seq_schedule_cycle(e->pattern, s, from, to, &e->held, e->events, SEQ_ENGINE_EVENTS, count);
	fill_out(e, e->pattern, first, *count);
}

/* RT: JACK transport into the timing module's terms. */
static void read_transport(jack_client_t *client, struct seq_transport *t, uint32_t rate)
{
	jack_position_t pos;
	jack_transport_state_t st = jack_transport_query(client, &pos);
	*t = (struct seq_transport){
		.rolling = st == JackTransportRolling,
		.frame = pos.frame,
		.frame_rate = pos.frame_rate ? pos.frame_rate : rate,
	};
	if ((pos.valid & JackPositionBBT) && pos.beats_per_minute > 0 && pos.ticks_per_beat > 0 &&
	    pos.beats_per_bar > 0 && pos.beat_type > 0) {
		t->bbt_valid = true;
		t->bar = pos.bar;
		t->beat = pos.beat;
		t->tick = pos.tick;
		t->ticks_per_beat = pos.ticks_per_beat;
		t->tick_double_valid = (pos.valid & JackTickDouble) != 0;
		t->tick_double = pos.tick_double;
		t->beats_per_bar = pos.beats_per_bar;
		t->beat_type = pos.beat_type;
		t->bpm = pos.beats_per_minute;
	}
}

/* RT: render every voice that sounds, applying its notes at their frames. */
static void render_voices(struct seq_app *a, int count, jack_nframes_t n)
{
	struct seq_engine *e = &a->eng;
	jack_port_t **ports = a->jack.ports;
	float *l = jack_port_get_buffer(ports[a->port_audio_l], n);
	float *r = jack_port_get_buffer(ports[a->port_audio_r], n);
	memset(l, 0, n * sizeof(float));
	memset(r, 0, n * sizeof(float));
	for (int o = 0; o < SEQ_MAX_TRACKS; o++) {
		struct seq_voice *v = &e->voices[o];
		float *vl = l, *vr = r;
		if (a->voice_outputs) {
			vl = jack_port_get_buffer(ports[a->port_track_audio + 2 * (size_t)o], n);
			vr = jack_port_get_buffer(ports[a->port_track_audio + 2 * (size_t)o + 1], n);
			memset(vl, 0, n * sizeof(float));
			memset(vr, 0, n * sizeof(float));
		}
		if (v->kind == SEQ_VOICE_NONE && !seq_voice_active(v))
			continue;
		uint32_t done = 0;
		for (int i = 0; i < count; i++) {
			const struct seq_event *ev = &e->events[i];
			if (ev->out != o)
				continue;
			if (ev->frame > done) {
				if (seq_voice_active(v))
					seq_voice_render(v, vl + done, vr + done, ev->frame - done);
				done = ev->frame;
			}
			if (ev->kind == SEQ_EV_NOTE_ON)
				seq_voice_note_on(v, ev->note, ev->velocity, ev->accent);
			else
				seq_voice_note_off(v, ev->note);
		}
		if (done < n && seq_voice_active(v))
			seq_voice_render(v, vl + done, vr + done, n - done);
		if (a->voice_outputs) {
			for (uint32_t k = 0; k < n; k++) {
				l[k] += vl[k];
				r[k] += vr[k];
			}
		}
	}
}

/* RT */
static int on_process(jack_nframes_t n, void *arg)
{
	struct seq_app *a = arg;
	struct seq_engine *e = &a->eng;
	struct cl_cmd c;
	int count = 0;
	bool panic = false;

	cl_rt_enter();
	uint64_t began = cl_cycle_begin();
	cl_rt_flush_denormals();

	while (cl_cmdq_pop(&a->to_rt, &c)) {
		switch (c.kind) {
		case SEQ_CMD_PATTERN: {
			struct seq_pattern *p = (struct seq_pattern *)(intptr_t)c.frame;
			enum seq_swap_mode mode = (enum seq_swap_mode)c.index;
			if (!e->pattern) {
				install(a, p, 0, false, &count);
			} else if (mode == SEQ_SWAP_EDIT && !e->waiting) {
				install(a, p, 0, false, &count);
			} else if (mode == SEQ_SWAP_EDIT) {
				let_go(a, e->waiting);   /* the edit applies to the waiting one */
				e->waiting = p;
			} else {
				let_go(a, e->waiting);
				e->waiting = p;
				e->waiting_mode = mode;
			}
			break;
		}
		case SEQ_CMD_PANIC:
			panic = true;
			if (c.index == 1)
				e->silenced = true;   /* shutting down */
			break;
		case SEQ_CMD_BPM:
			e->bpm = c.a;
			break;
		}
	}

	struct seq_transport tr;
	struct seq_span span;
	read_transport(a->jack.client, &tr, (uint32_t)e->rate);
	int flags = seq_clock_update(&e->clock, &tr, n, e->bpm, &span);

	if (e->pattern && (panic || (flags & (SEQ_CLOCK_STOPPED | SEQ_CLOCK_JUMPED)))) {
		int first = count;
		seq_held_end(&e->held, -1, 0, e->events, SEQ_ENGINE_EVENTS, &count);
		fill_out(e, e->pattern, first, count);
		if (panic)
			for (int o = 0; o < SEQ_MAX_TRACKS; o++)
				seq_voice_all_off(&e->voices[o]);
	}

	if (e->waiting && !(flags & SEQ_CLOCK_ROLLING)) {
		install(a, e->waiting, 0, true, &count);   /* nothing plays: switch now */
		e->waiting = NULL;
		struct cl_cmd ev = { .kind = SEQ_EV_SWITCHED, .frame = jack_last_frame_time(a->jack.client) };
		emit(a, &ev);
	}

	if ((flags & SEQ_CLOCK_ROLLING) && e->pattern && !e->silenced) {
		uint32_t at = n;   /* frame of a waiting switch, if it falls in this cycle */
		double bar_beat = 0.0;
		if (e->waiting) {
			if (e->waiting_mode == SEQ_SWAP_NEXT_CYCLE) {
				at = 0;
				bar_beat = span.beat;
			} else {
				int64_t f = seq_span_bar_frame(&span, &bar_beat);
				if (f >= 0 && f < (int64_t)n)
					at = (uint32_t)f;
			}
		}
		schedule_all(e, &span, 0, at, &count);
		if (at < n) {
			install(a, e->waiting, at, true, &count);
			e->waiting = NULL;
			struct cl_cmd ev = { .kind = SEQ_EV_SWITCHED,
					     .frame = jack_last_frame_time(a->jack.client) + at, .a = bar_beat };
			emit(a, &ev);
			schedule_all(e, &span, at, n, &count);
		}
		int first = count;
		seq_held_due(&e->held, &span, e->events, SEQ_ENGINE_EVENTS, &count);
		fill_out(e, e->pattern, first, count);
	}
	seq_events_sort(e->events, count);

	/* MIDI out */
	jack_port_t **ports = a->jack.ports;
	void *midi = jack_port_get_buffer(ports[a->port_midi], n);
	jack_midi_clear_buffer(midi);
	void *own[SEQ_MAX_TRACKS];
	if (a->port_per_track) {
		for (int t = 0; t < SEQ_MAX_TRACKS; t++) {
			own[t] = jack_port_get_buffer(ports[a->port_track_midi + (size_t)t], n);
			jack_midi_clear_buffer(own[t]);
		}
	}
	uint32_t frame_time = jack_last_frame_time(a->jack.client);
	for (int i = 0; i < count; i++) {
		const struct seq_event *ev = &e->events[i];
		if (ev->frame >= n)
			continue;   /* cannot happen: the scheduler keeps frames inside */
		uint8_t msg[3] = {
			(uint8_t)((ev->kind == SEQ_EV_NOTE_ON ? 0x90 : 0x80) | ((ev->channel - 1) & 0x0F)),
			(uint8_t)(ev->note & 0x7F),
			(uint8_t)(ev->kind == SEQ_EV_NOTE_ON ? ev->velocity & 0x7F : 0),
		};
		void *out = a->port_per_track ? own[ev->out] : midi;
		if (jack_midi_event_write(out, ev->frame, msg, 3) != 0)
			e->midi_overruns++;
		if (e->alsa) {
			struct cl_cmd q = { .kind = ev->kind, .index = ev->track,
					    .a = ev->channel, .b = ev->note, .c = msg[2],
					    .frame = (int64_t)frame_time + ev->frame };
			cl_cmdq_push(&a->to_alsa, &q);
		}
		if (ev->kind == SEQ_EV_NOTE_ON) {
			struct cl_cmd st = { .kind = SEQ_EV_STEP, .index = ev->track, .a = ev->pattern_step };
			emit(a, &st);
		}
	}
	render_voices(a, count, n);

	if (panic) {
		struct cl_cmd ev = { .kind = SEQ_EV_PANIC_DONE };
		emit(a, &ev);
	}
	int report = flags & (SEQ_CLOCK_ROLLING | SEQ_CLOCK_NO_BBT);
	e->report_frames += n;
	if (report != e->last_flags || e->report_frames >= (uint32_t)e->rate / 10) {
		e->report_frames = 0;
		e->last_flags = report;
		struct cl_cmd ev = { .kind = SEQ_EV_CLOCK, .index = (uint32_t)report, .a = span.bpm,
				     .b = span.beat };
		emit(a, &ev);
	}

	cl_cycle_end(&e->stats, began);
	cl_rt_leave();
	return 0;
}

int engine_setup(struct cl_jack *j, void *userdata, char *err, size_t errlen)
{
	struct seq_app *a = userdata;
	uint32_t rate = jack_get_sample_rate(j->client);
	a->rate = rate;
	a->eng.rate = rate;
	seq_clock_init(&a->eng.clock);
	seq_held_clear(&a->eng.held);
	for (int o = 0; o < SEQ_MAX_TRACKS; o++) {
		seq_voice_init(&a->eng.voices[o], SEQ_VOICE_NONE, rate, NULL);
		/* two snares on two tracks should not play the same noise */
		a->eng.voices[o].noise += 0x9E3779B9u * (uint32_t)o;
	}
	if (a->eng.pattern)
		for (int t = 0; t < a->eng.pattern->track_count; t++) {
			const struct seq_track *tr = &a->eng.pattern->tracks[t];
			seq_voice_init(&a->eng.voices[tr->out_index], tr->voice, rate, tr->voice_params);
		}
	if (jack_set_process_callback(j->client, on_process, a) != 0) {
		snprintf(err, errlen, "cannot set the process callback");
		return -1;
	}
	return 0;
}

void engine_alsa_flush(struct seq_app *a)
{
	struct cl_cmd q;
	while (a->to_alsa.rb && cl_cmdq_pop(&a->to_alsa, &q)) {
		if (!a->alsa)
			continue;
		struct seq_event ev = {
			.kind = (uint8_t)q.kind, .track = (uint8_t)q.index, .channel = (uint8_t)q.a,
			.note = (uint8_t)q.b, .velocity = (uint8_t)q.c,
		};
		seq_alsa_send(a->alsa, (uint32_t)q.frame, &ev, 1);
	}
	/* keep the ALSA clock's idea of the frame time current (it wraps
	 * every 2^32 frames) even when nothing plays */
	if (a->alsa && cl_jack_is_up(&a->jack))
		seq_alsa_send(a->alsa, jack_frame_time(a->jack.client), NULL, 0);
}
