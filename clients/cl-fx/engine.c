/*
 * The audio-thread half of cl-fx: JACK ports in, the chain with its
 * automation, ports out.
 *
 * Each cycle: take queued commands (parameter values, bypass, and whole new
 * chains or lane sets, which replace the current ones by pointer; the old
 * ones go back to the control thread to be freed), read the transport, copy
 * the inputs into work buffers, run the chain with the lanes evaluated at
 * the transport position (exact at the cycle start, then every 32 frames),
 * and copy out. The position goes back to the control thread about 60
 * times a second (automation recording needs it), and so do the
 * parameters automation moved, at most 30 times a second.
 */
#include "fx.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jack/midiport.h>
#include <jack/transport.h>

#include "cl_log.h"

size_t fx_port_in(const struct fx_app *a, int c)
{
	return (size_t)c;
}

size_t fx_port_out(const struct fx_app *a, int c)
{
	return (size_t)(a->channels + c);
}

size_t fx_port_midi(const struct fx_app *a)
{
	return (size_t)(2 * a->channels);
}

int engine_init(struct fx_app *a)
{
	if (cl_cmdq_init(&a->to_rt, 4096) != 0 || cl_cmdq_init(&a->from_rt, 8192) != 0)
		return -1;
	for (int c = 0; c < a->channels; c++) {
		a->eng.buf[c] = calloc(FX_MAX_BLOCK, sizeof(float));
		if (!a->eng.buf[c])
			return -1;
	}
	return 0;
}

void engine_done(struct fx_app *a)
{
	for (int c = 0; c < FX_MAX_CHANNELS; c++)
		free(a->eng.buf[c]);
	cl_cmdq_done(&a->to_rt);
	cl_cmdq_done(&a->from_rt);
}

bool engine_send(struct fx_app *a, const struct cl_cmd *cmd)
{
	return cl_cmdq_push(&a->to_rt, cmd);
}

static void emit(struct fx_app *a, const struct cl_cmd *ev)
{
	if (!cl_cmdq_push(&a->from_rt, ev))
		a->eng.event_overruns++;
}

/* RT */
static void apply(struct fx_app *a, const struct cl_cmd *c)
{
	struct fx_engine *e = &a->eng;
	switch (c->kind) {
	case FX_CMD_SET: {
		int pos = e->chain ? fx_chain_find(e->chain, c->index) : -1;
		if (pos >= 0)
			fx_slot_set(e->chain->slot[pos], (int)c->a, (float)c->b);
		break;
	}
	case FX_CMD_BYPASS: {
		int pos = e->chain ? fx_chain_find(e->chain, c->index) : -1;
		if (pos >= 0)
			fx_slot_set_bypass(e->chain->slot[pos], c->b != 0.0);
		break;
	}
	case FX_CMD_CHAIN: {
		struct cl_cmd old = { .kind = FX_EV_OLD_CHAIN, .frame = (int64_t)(intptr_t)e->chain };
		e->chain = (struct fx_chain *)(intptr_t)c->frame;
		if (e->chain && e->bpm > 0)
			fx_chain_set_tempo(e->chain, e->bpm);
		if (old.frame)
			emit(a, &old);
		break;
	}
	case FX_CMD_LANES: {
		struct cl_cmd old = { .kind = FX_EV_OLD_LANES, .frame = (int64_t)(intptr_t)e->lanes };
		e->lanes = (struct fx_lane_set *)(intptr_t)c->frame;
		if (old.frame)
			emit(a, &old);
		break;
	}
	}
}

/* Report what automation set, for subscribers (faders follow). RT */
static void report_automation(struct fx_app *a)
{
	struct fx_engine *e = &a->eng;
	if (!e->lanes || !e->chain)
		return;
	for (int i = 0; i < e->lanes->count; i++) {
		const struct fx_lane *l = &e->lanes->lanes[i];
		int pos = fx_chain_find(e->chain, l->slot_id);
		if (pos < 0)
			continue;
		struct cl_cmd ev = { .kind = FX_EV_AUTOMATED, .index = l->slot_id, .a = l->param,
				     .b = e->chain->slot[pos]->value[l->param] };
		emit(a, &ev);
	}
}

static void read_midi(struct fx_app *a, void *buf)
{
	uint32_t count = jack_midi_get_event_count(buf);
	for (uint32_t i = 0; i < count; i++) {
		jack_midi_event_t ev;
		if (jack_midi_event_get(&ev, buf, i) != 0 || ev.size != 3 || (ev.buffer[0] & 0xF0) != 0xB0)
			continue;
		struct cl_cmd c = { .kind = FX_EV_CC, .index = ev.buffer[0] & 0x0F,
				    .a = ev.buffer[1] & 0x7F, .b = ev.buffer[2] & 0x7F };
		emit(a, &c);
	}
}

/* RT */
static int on_process(jack_nframes_t n, void *arg)
{
	struct fx_app *a = arg;
	struct fx_engine *e = &a->eng;
	jack_port_t **ports = a->jack.ports;
	struct cl_cmd c;

	cl_rt_enter();
	uint64_t began = cl_cycle_begin();
	cl_rt_flush_denormals();
	while (cl_cmdq_pop(&a->to_rt, &c))
		apply(a, &c);

	jack_position_t pos;
	jack_transport_state_t st = jack_transport_query(a->jack.client, &pos);
	bool rolling = st == JackTransportRolling;
	bool bbt = (pos.valid & JackPositionBBT) && pos.beats_per_minute > 0 && pos.ticks_per_beat > 0;
	uint32_t rate = pos.frame_rate ? pos.frame_rate : jack_get_sample_rate(a->jack.client);
	struct fx_clock clk = {
		.seconds = (double)pos.frame / rate,
		.seconds_per_frame = rolling ? 1.0 / rate : 0.0,
		.has_beats = bbt,
	};
	if (bbt) {
		double tick = (pos.valid & JackTickDouble) ? pos.tick_double : pos.tick;
		clk.beats = pos.bar_start_tick / pos.ticks_per_beat + (pos.beat - 1) + tick / pos.ticks_per_beat;
		clk.beats_per_frame = rolling ? pos.beats_per_minute / 60.0 / rate : 0.0;
		if (e->chain && pos.beats_per_minute != e->bpm) {
			e->bpm = pos.beats_per_minute;
			fx_chain_set_tempo(e->chain, e->bpm);
		}
	}

	for (int ch = 0; ch < a->channels; ch++) {
		const float *in = jack_port_get_buffer(ports[fx_port_in(a, ch)], n);
		memcpy(e->buf[ch], in, n * sizeof(float));
	}
	for (uint32_t done = 0; done < n; done += FX_MAX_BLOCK) {
		uint32_t len = n - done < FX_MAX_BLOCK ? n - done : FX_MAX_BLOCK;
		float *piece[FX_MAX_CHANNELS];
		for (int ch = 0; ch < a->channels; ch++)
			piece[ch] = e->buf[ch] + done;
		if (e->chain)
			fx_chain_run(e->chain, e->lanes ? e->lanes->lanes : NULL,
				     e->lanes ? e->lanes->count : 0, piece, len, &clk);
		clk.seconds += len * clk.seconds_per_frame;
		clk.beats += len * clk.beats_per_frame;
	}
	for (int ch = 0; ch < a->channels; ch++)
		memcpy(jack_port_get_buffer(ports[fx_port_out(a, ch)], n), e->buf[ch], n * sizeof(float));

	read_midi(a, jack_port_get_buffer(ports[fx_port_midi(a)], n));

	e->report_frames += n;
	if (e->report_frames >= rate / 60) {
		e->report_frames = 0;
		struct cl_cmd ev = { .kind = FX_EV_POSITION, .index = (uint32_t)rolling | (uint32_t)bbt << 1,
				     .a = (double)pos.frame / rate, .b = bbt ? clk.beats - n * clk.beats_per_frame : 0.0,
				     .c = bbt ? pos.beats_per_minute : 0.0 };
		emit(a, &ev);
		/* while rolling, and once more after a stop: the values at the
		 * position where the transport came to rest */
		if (rolling || e->reported_rolling)
			report_automation(a);
		e->reported_rolling = rolling;
	}

	cl_cycle_end(&e->stats, began);
	cl_rt_leave();
	return 0;
}

int engine_setup(struct cl_jack *j, void *userdata, char *err, size_t errlen)
{
	struct fx_app *a = userdata;
	uint32_t rate = jack_get_sample_rate(j->client);
	if (!a->rate)
		a->rate = rate;   /* the chain is built for the first server's rate */
	if (rate != a->rate) {
		snprintf(err, errlen, "the server now runs at %u Hz, the rack was built for %u Hz", rate,
			 a->rate);
		return -1;
	}
	if (jack_set_process_callback(j->client, on_process, a) != 0) {
		snprintf(err, errlen, "cannot set the process callback");
		return -1;
	}
	return 0;
}
