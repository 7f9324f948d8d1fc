/*
 * The audio-thread half of cl-transport: JACK timebase master (or follower)
 * and the MIDI clock / click generator.
 *
 * The timebase callback fills BBT for whatever frame JACK hands it, from
 * the timeline alone, so the position is valid on every cycle including the
 * first one after any relocate. The process callback reads the transport of
 * the current cycle, applies queued commands, and places MIDI realtime
 * messages: Start/Continue/Stop and Song Position Pointer at offset 0 of the
 * cycle where the state changes, and 24 clocks per quarter note each on the
 * first frame at or past its musical position, so clocks land on exact
 * frames and stay phase-continuous through tempo changes.
 *
 * Nothing here allocates, locks, prints or blocks: commands come in through
 * a cl_cmdq, and a snapshot of the position goes out every cycle through a
 * jack_ringbuffer that the main loop drains.
 */
#include "transport.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <jack/midiport.h>
#include <jack/transport.h>

#include "cl_log.h"

#define MIDI_CLOCK 0xF8
#define MIDI_START 0xFA
#define MIDI_CONTINUE 0xFB
#define MIDI_STOP 0xFC
#define MIDI_SPP 0xF2
#define CLOCKS_PER_QUARTER 24.0
#define SNAPSHOT_SLOTS 256
#define LOOP_LEAD_CYCLES 2

int engine_init(struct transport *t)
{
	if (cl_cmdq_init(&t->to_rt, 256) != 0)
		return -1;
	t->snapshots = jack_ringbuffer_create(SNAPSHOT_SLOTS * sizeof(struct tp_snapshot));
	if (!t->snapshots) {
		cl_cmdq_done(&t->to_rt);
		return -1;
	}
	jack_ringbuffer_mlock(t->snapshots);
	t->eng.master = !t->follow;
	t->eng.click_on = t->click_on;
	return 0;
}

void engine_done(struct transport *t)
{
	if (t->snapshots)
		jack_ringbuffer_free(t->snapshots);
	t->snapshots = NULL;
	cl_cmdq_done(&t->to_rt);
}

bool engine_send(struct transport *t, const struct cl_cmd *cmd)
{
	return cl_cmdq_push(&t->to_rt, cmd);
}

bool engine_read_snapshots(struct transport *t)
{
	bool got = false;
	while (jack_ringbuffer_read_space(t->snapshots) >= sizeof(struct tp_snapshot)) {
		jack_ringbuffer_read(t->snapshots, (char *)&t->snap, sizeof(t->snap));
		got = true;
	}
	if (got)
		t->have_snap = true;
	return got;
}

/* Write one MIDI message; a full buffer only loses that message. RT */
static void midi_put(void *buf, uint32_t offset, const uint8_t *msg, size_t len)
{
	jack_midi_event_write(buf, offset, msg, len);
}

/* Song Position Pointer (sixteenth notes since the start) for quarters. RT */
static void midi_put_spp(void *buf, double quarters)
{
	double sixteenths = floor(quarters * 4.0 + 1e-9);
	uint32_t spp = sixteenths < 0 ? 0 : sixteenths > 16383 ? 16383 : (uint32_t)sixteenths;
	uint8_t msg[3] = { MIDI_SPP, spp & 0x7f, (spp >> 7) & 0x7f };
	midi_put(buf, 0, msg, sizeof(msg));
}

/* A one-segment timeline from another master's BBT at the cycle start, so
 * the follower places clocks with the same code as the master. RT */
static bool follower_timeline(struct tl_timeline *tl, uint32_t rate, const jack_position_t *pos)
{
	if (!(pos->valid & JackPositionBBT))
		return false;
	if (!tl_valid_tempo(pos->beats_per_minute, (int)pos->beats_per_bar, (int)pos->beat_type))
		return false;
	double tpb = pos->ticks_per_beat > 0 ? pos->ticks_per_beat : TL_TICKS_PER_BEAT;
	/* Integer ticks quantise the position (1/1920 beat is several frames):
	 * use the master's unrounded tick when it gives one. */
	double tick = (pos->valid & JackTickDouble) ? pos->tick_double : pos->tick;
	double in_bar = (pos->beat - 1) + tick / tpb;
	double beats = pos->bar_start_tick / tpb + in_bar;
	tl_init(tl, rate, pos->beats_per_minute, (int)pos->beats_per_bar, (int)pos->beat_type);
	tl->seg[0].frame = pos->frame;
	tl->seg[0].bar = pos->bar - 1;
	tl->seg[0].beat_in_bar = in_bar;
	tl->seg[0].beats = beats;
	tl->seg[0].quarters = beats * 4.0 / pos->beat_type;
	tl->seg[0].bar_start_tick = pos->bar_start_tick / tpb * TL_TICKS_PER_BEAT;
	return true;
}

/* First grid point (a multiple of step in unit) placed at or after frame f. RT */
static int64_t first_grid_index(const struct tl_timeline *tl, enum tl_unit unit,
				double step, int64_t f)
{
	int64_t k = (int64_t)ceil(tl_value_at(tl, unit, f) / step - 1e-9);
	while (tl_frame_at(tl, unit, (double)(k - 1) * step) >= f)
		k--;
	while (tl_frame_at(tl, unit, (double)k * step) < f)
		k++;
	return k;
}

/* MIDI clocks for frames [f, f + n). RT */
static void emit_clocks(const struct tl_timeline *tl, void *midi, int64_t f, uint32_t n)
{
	const double step = 1.0 / CLOCKS_PER_QUARTER;
	static const uint8_t clock = MIDI_CLOCK;
	int64_t k = first_grid_index(tl, TL_QUARTERS, step, f);
	for (int64_t at = tl_frame_at(tl, TL_QUARTERS, (double)k * step); at < f + n;
	     at = tl_frame_at(tl, TL_QUARTERS, (double)++k * step))
		midi_put(midi, (uint32_t)(at - f), &clock, 1);
}

/* Click for frames [f, f + n): a click starts on each beat. RT */
static void render_click(struct tp_engine *e, const struct tl_timeline *tl, float *out,
			 int64_t f, uint32_t n, bool rolling)
{
	memset(out, 0, n * sizeof(float));
	if (!rolling || !tl) {
		click_render(&e->click, out, n);
		return;
	}
	uint32_t done = 0;
	int64_t k = first_grid_index(tl, TL_BEATS, 1.0, f);
	for (int64_t at = tl_frame_at(tl, TL_BEATS, (double)k); at < f + n;
	     at = tl_frame_at(tl, TL_BEATS, (double)++k)) {
		uint32_t off = (uint32_t)(at - f);
		click_render(&e->click, out + done, off - done);
		done = off;
		struct tl_position p;
		tl_position(tl, at, &p);
		if (e->click_on)
			click_start(&e->click, p.beat == 1);
	}
	click_render(&e->click, out + done, n - done);
}

/* Apply one command from the control thread. RT */
static void apply_command(struct transport *t, jack_client_t *client,
			  const struct cl_cmd *c, int64_t f, bool rolling)
{
	struct tp_engine *e = &t->eng;

	switch (c->kind) {
	case TP_CMD_TEMPO: {
		if (!e->master)
			break;
		int64_t at = (rolling && !c->index) ? tl_next_bar(&e->tl, f) : f;
		tl_change(&e->tl, at, c->a, (int)c->b, (int)c->c);
		e->tempo_changes++;
		/* A stopped transport runs no timebase callback until a new
		 * position is asked for: ask for the same frame, so everyone
		 * reads the new tempo now (unless a start follows at once). */
		if (!rolling)
			e->refresh_bbt = true;
		break;
	}
	case TP_CMD_PLAY:
		jack_transport_start(client);
		e->start_asked = true;
		break;
	case TP_CMD_STOP:
		jack_transport_stop(client);
		break;
	case TP_CMD_TOGGLE:
		if (rolling) {
			jack_transport_stop(client);
		} else {
			jack_transport_start(client);
			e->start_asked = true;
		}
		break;
	case TP_CMD_LOCATE_FRAME:
		if (c->frame < 0 || c->frame > UINT32_MAX)
			break;
		e->pending_collapse = e->master;
		e->locate_asked = true;
		jack_transport_locate(client, (jack_nframes_t)c->frame);
		break;
	case TP_CMD_LOCATE_BBT: {
		if (!e->master)
			break;
		const struct tl_segment *s = tl_latest(&e->tl);
		struct tl_timeline uniform;
		tl_init(&uniform, e->tl.rate, s->bpm, s->beats_per_bar, s->beat_type);
		int64_t target = tl_bbt_to_frame(&uniform, (int32_t)c->a, (int32_t)c->b, (int32_t)c->c);
		if (target < 0 || target > UINT32_MAX)
			break;
		e->pending_collapse = true;
		e->locate_asked = true;
		jack_transport_locate(client, (jack_nframes_t)target);
		break;
	}
	case TP_CMD_LOOP:
		e->loop_on = c->index != 0;
		e->loop_start = (int64_t)c->a;
		e->loop_end = (int64_t)c->b;
		e->loop_jump_pending = false;
		break;
	case TP_CMD_CLICK:
		e->click_on = c->index != 0;
		e->click.level = (float)c->a;
		break;
	}
}

/* Push this cycle's snapshot; a full queue only loses it. RT */
static void publish(struct transport *t, jack_transport_state_t st,
		    const jack_position_t *pos, const struct tl_timeline *tl)
{
	struct tp_engine *e = &t->eng;
	struct tp_snapshot s = {
		.cycle = e->cycle,
		.frame = pos->frame,
		.rate = pos->frame_rate,
		.state = (uint8_t)st,
		.relocations = e->relocations,
		.tempo_changes = e->tempo_changes,
	};
	if (tl) {
		struct tl_position p;
		tl_position(tl, pos->frame, &p);
		s.bbt_valid = true;
		s.bar = p.bar;
		s.beat = p.beat;
		s.tick = p.tick;
		s.beats_per_bar = p.beats_per_bar;
		s.beat_type = p.beat_type;
		s.bpm = p.bpm;
		s.beats = p.beats;
	}
	if (jack_ringbuffer_write_space(t->snapshots) >= sizeof(s))
		jack_ringbuffer_write(t->snapshots, (const char *)&s, sizeof(s));
	else
		e->snapshot_overruns++;
}

/* RT */
static int on_process(jack_nframes_t n, void *arg)
{
	struct transport *t = arg;
	struct tp_engine *e = &t->eng;
	jack_client_t *client = t->jack.client;
	jack_position_t pos;
	struct cl_cmd cmd;

	cl_rt_enter();
	cl_rt_flush_denormals();

	jack_transport_state_t st = jack_transport_query(client, &pos);
	bool rolling = st == JackTransportRolling;
	int64_t f = pos.frame;

	e->start_asked = false;
	e->locate_asked = false;
	e->refresh_bbt = false;
	while (cl_cmdq_pop(&t->to_rt, &cmd))
		apply_command(t, client, &cmd, f, rolling);
	/* A locate and a start pending together make JACK pass through
	 * "starting" after the first rolling cycle; the start refreshes BBT
	 * anyway, so skip the locate then. A locate asked in the same cycle
	 * refreshes BBT too, and relocating to f here would cancel it. */
	if (e->refresh_bbt && !e->start_asked && !e->locate_asked)
		jack_transport_locate(client, (jack_nframes_t)f);

	bool relocated = e->relocation_pending || (e->have_last && f != e->expected);
	if (e->have_last && f != e->expected) {
		e->relocations++;
		e->loop_jump_pending = false;
	}

	struct tl_timeline follow;
	const struct tl_timeline *tl = NULL;
	if (e->master)
		tl = &e->tl;
	else if (follower_timeline(&follow, pos.frame_rate, &pos))
		tl = &follow;

	void *midi = jack_port_get_buffer(t->jack.ports[TP_PORT_CLOCK_OUT], n);
	jack_midi_clear_buffer(midi);

	/* JACK2 passes through "starting" for a cycle on every relocate while
	 * rolling, with the frame standing still: keep the rolling state of
	 * the MIDI stream and remember the jump for the next rolling cycle,
	 * so receivers get Stop, SPP, Continue together. */
	if (st == JackTransportStarting) {
		e->relocation_pending = relocated;
		if (t->nports > TP_PORT_CLICK_OUT) {
			float *out = jack_port_get_buffer(t->jack.ports[TP_PORT_CLICK_OUT], n);
			render_click(e, NULL, out, f, n, false);
		}
		e->have_last = true;
		e->expected = f;
		e->cycle++;
		publish(t, st, &pos, tl);
		cl_rt_leave();
		return 0;
	}
	e->relocation_pending = false;

	double quarters = tl ? tl_value_at(tl, TL_QUARTERS, f) : 0.0;
	if (rolling && !e->was_rolling) {
		if (f == 0) {
			static const uint8_t start = MIDI_START;
			midi_put(midi, 0, &start, 1);
		} else {
			static const uint8_t cont = MIDI_CONTINUE;
			midi_put_spp(midi, quarters);
			midi_put(midi, 0, &cont, 1);
		}
	} else if (!rolling && e->was_rolling) {
		static const uint8_t stop = MIDI_STOP;
		midi_put(midi, 0, &stop, 1);
		click_stop(&e->click);
	} else if (relocated) {
		click_stop(&e->click);
		if (rolling) {
			static const uint8_t stop = MIDI_STOP, cont = MIDI_CONTINUE;
			midi_put(midi, 0, &stop, 1);
			midi_put_spp(midi, quarters);
			midi_put(midi, 0, &cont, 1);
		} else {
			midi_put_spp(midi, quarters);
		}
	}
	if (rolling && tl)
		emit_clocks(tl, midi, f, n);

	if (t->nports > TP_PORT_CLICK_OUT) {
		float *out = jack_port_get_buffer(t->jack.ports[TP_PORT_CLICK_OUT], n);
		render_click(e, tl, out, f, n, rolling);
	}

	/* JACK relocates only on cycle boundaries, and JACK2 (asynchronous
	 * by default) applies a locate asked for in this cycle at the start
	 * of the cycle after next. Asking LOOP_LEAD_CYCLES ahead means the
	 * loop never plays past its end; it may end up to that many periods
	 * short of it. */
	if (rolling && e->loop_on && !e->loop_jump_pending && f < e->loop_end &&
	    f + (LOOP_LEAD_CYCLES + 1) * (int64_t)n > e->loop_end) {
		jack_transport_locate(client, (jack_nframes_t)e->loop_start);
		e->loop_jump_pending = true;
	}

	e->have_last = true;
	e->expected = rolling ? f + n : f;
	e->was_rolling = rolling;
	e->cycle++;
	publish(t, st, &pos, tl);

	cl_rt_leave();
	return 0;
}

/* Fill BBT for the frame JACK gives: the next cycle's position. RT */
static void on_timebase(jack_transport_state_t state, jack_nframes_t n,
			jack_position_t *pos, int new_pos, void *arg)
{
	struct transport *t = arg;
	struct tp_engine *e = &t->eng;
	struct tl_position p;

	cl_rt_enter();
	if (new_pos && e->pending_collapse) {
		tl_collapse(&e->tl);
		e->pending_collapse = false;
	}
	tl_position(&e->tl, pos->frame, &p);
	pos->valid = JackPositionBBT | JackTickDouble;
	pos->bar = p.bar;
	pos->beat = p.beat;
	pos->tick = p.tick;
	pos->tick_double = p.tick_double;
	pos->bar_start_tick = p.bar_start_tick;
	pos->beats_per_bar = (float)p.beats_per_bar;
	pos->beat_type = (float)p.beat_type;
	pos->ticks_per_beat = TL_TICKS_PER_BEAT;
	pos->beats_per_minute = p.bpm;
	cl_rt_leave();
}

int engine_setup(struct cl_jack *j, void *userdata, char *err, size_t errlen)
{
	struct transport *t = userdata;
	struct tp_engine *e = &t->eng;
	uint32_t rate = jack_get_sample_rate(j->client);

	/* Fresh start, or the server came back: the audio thread is not
	 * running, so the main thread may set its state here. */
	if (e->tl.rate != rate) {
		tl_init(&e->tl, rate, t->bpm, t->beats_per_bar, t->beat_type);
		click_init(&e->click, rate, (float)pow(10.0, t->click_db / 20.0));
	}
	e->have_last = false;
	e->was_rolling = false;
	e->loop_start = (int64_t)llround(t->loop_start_s * rate);
	e->loop_end = (int64_t)llround(t->loop_end_s * rate);
	e->loop_on = t->loop_on;

	if (jack_set_process_callback(j->client, on_process, t) != 0) {
		snprintf(err, errlen, "cannot set the process callback");
		return -1;
	}
	e->master = false;
	if (!t->follow) {
		if (jack_set_timebase_callback(j->client, 1, on_timebase, t) == 0) {
			e->master = true;
		} else {
			cl_warn("another client is timebase master; following it "
				"(start with --follow to make this explicit)");
		}
	}
	return 0;
}
