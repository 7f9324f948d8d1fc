/*
 * The audio-thread half of cl-mixer: JACK ports in, struct mixer, ports
 * out; meters, short-term loudness and MIDI CCs out as events.
 *
 * Each cycle: apply queued parameter changes (each starts a ramp inside the
 * DSP), fetch the port buffers into preallocated pointer arrays, mix, then
 * every 1/30 s of audio take the meters and push them as events. MIDI CC
 * messages on midi_in are passed on as events; learning and soft takeover
 * happen in the control thread. Nothing here allocates, locks, prints or
 * blocks: everything is allocated by engine_init() before the client opens.
 */
#include "mixer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jack/midiport.h>

#include "cl_log.h"

size_t mx_port_in(const struct mx *m, int strip, int ch)
{
	return (size_t)(strip * m->channels + ch);
}

size_t mx_port_master(const struct mx *m, int side)
{
	return (size_t)(m->strips * m->channels + side);
}

size_t mx_port_aux(const struct mx *m, int aux, int side)
{
	return (size_t)(m->strips * m->channels + 2 + 2 * aux + side);
}

size_t mx_port_midi(const struct mx *m)
{
	return (size_t)(m->strips * m->channels + 2 + 2 * m->aux);
}

int engine_init(struct mx *m)
{
	struct mx_engine *e = &m->eng;
	size_t meters = (size_t)(m->strips + 1 + m->aux);

	/* Room for a whole round of meters at every cycle of a 16-frame
	 * period, plus CCs: the queue never fills in practice. */
	if (cl_cmdq_init(&m->to_rt, 4096) != 0 || cl_cmdq_init(&m->from_rt, 64 * meters + 1024) != 0)
		return -1;
	e->in = calloc((size_t)(m->strips * m->channels), sizeof(*e->in));
	e->loud = calloc((size_t)m->strips, sizeof(*e->loud));
	e->loud_on = calloc((size_t)m->strips, sizeof(*e->loud_on));
	if (!e->in || !e->loud || !e->loud_on)
		return -1;
	return 0;
}

void engine_done(struct mx *m)
{
	struct mx_engine *e = &m->eng;
	mixer_free(e->dsp);
	e->dsp = NULL;
	free(e->in);
	free(e->loud);
	free(e->loud_on);
	cl_cmdq_done(&m->to_rt);
	cl_cmdq_done(&m->from_rt);
}

bool engine_send(struct mx *m, const struct cl_cmd *cmd)
{
	return cl_cmdq_push(&m->to_rt, cmd);
}

/* Push one event; a full queue drops it and counts. RT */
static void emit(struct mx *m, const struct cl_cmd *ev)
{
	if (!cl_cmdq_push(&m->from_rt, ev))
		m->eng.event_overruns++;
}

/* Apply one parameter change to the DSP. RT */
static void apply(struct mixer *d, const struct cl_cmd *c)
{
	int s = (int)c->index;
	float v = (float)c->b;
	bool on = c->b != 0.0;

	if (c->kind == MX_CMD_RAMP_TIME) {
		mixer_set_ramp_time(d, (float)c->a);
		return;
	}
	if (s == MX_MASTER) {
		if ((int)c->a == MX_P_VOLUME)
			mixer_set_master_volume(d, v);
		else if ((int)c->a == MX_P_MUTE)
			mixer_set_master_mute(d, on);
		return;
	}
	switch ((enum mx_param)(int)c->a) {
	case MX_P_GAIN: mixer_set_gain(d, s, v); break;
	case MX_P_VOLUME: mixer_set_volume(d, s, v); break;
	case MX_P_PAN: mixer_set_pan(d, s, v); break;
	case MX_P_MUTE: mixer_set_mute(d, s, on); break;
	case MX_P_SOLO: mixer_set_solo(d, s, on); break;
	case MX_P_PHASE: mixer_set_phase(d, s, on); break;
	case MX_P_SEND: mixer_set_send(d, s, (int)c->frame, v); break;
	case MX_P_SEND_PRE: mixer_set_send_pre(d, s, (int)c->frame, on); break;
	case MX_P_COUNT: break;
	}
}

/* Pass CC messages of midi_in on to the control thread. RT */
static void read_midi(struct mx *m, void *buf)
{
	uint32_t count = jack_midi_get_event_count(buf);
	for (uint32_t i = 0; i < count; i++) {
		jack_midi_event_t ev;
		if (jack_midi_event_get(&ev, buf, i) != 0 || ev.size != 3)
			continue;
		if ((ev.buffer[0] & 0xF0) != 0xB0)
			continue;
		struct cl_cmd c = { .kind = MX_EV_CC, .index = ev.buffer[0] & 0x0F,
				    .a = ev.buffer[1] & 0x7F, .b = ev.buffer[2] & 0x7F };
		emit(m, &c);
	}
}

/* RT */
static int on_process(jack_nframes_t n, void *arg)
{
	struct mx *m = arg;
	struct mx_engine *e = &m->eng;
	jack_port_t **ports = m->jack.ports;
	struct cl_cmd c;

	cl_rt_enter();
	uint64_t began = cl_cycle_begin();
	cl_rt_flush_denormals();

	while (cl_cmdq_pop(&m->to_rt, &c)) {
		if (c.kind == MX_CMD_LOUDNESS) {
			if (c.index < (uint32_t)m->strips && !e->loud_on[c.index]) {
				loudness_reset(&e->loud[c.index]);
				e->loud_on[c.index] = true;
			}
		} else {
			apply(e->dsp, &c);
		}
	}

	for (int s = 0; s < m->strips; s++)
		for (int ch = 0; ch < m->channels; ch++)
			e->in[mx_port_in(m, s, ch)] =
				jack_port_get_buffer(ports[mx_port_in(m, s, ch)], n);
	e->out[0] = jack_port_get_buffer(ports[mx_port_master(m, 0)], n);
	e->out[1] = jack_port_get_buffer(ports[mx_port_master(m, 1)], n);
	for (int k = 0; k < m->aux; k++) {
		e->out[2 + 2 * k] = jack_port_get_buffer(ports[mx_port_aux(m, k, 0)], n);
		e->out[3 + 2 * k] = jack_port_get_buffer(ports[mx_port_aux(m, k, 1)], n);
	}

	mixer_process(e->dsp, n, e->in, e->out, e->out + 2);

	for (int s = 0; s < m->strips; s++)
		if (e->loud_on[s])
			loudness_process(&e->loud[s], e->in + mx_port_in(m, s, 0), n);

	read_midi(m, jack_port_get_buffer(ports[mx_port_midi(m)], n));

	/* Meters at MX_METER_HZ of audio time; the remainder carries over so
	 * the rate is exact whatever the period. */
	e->meter_frames += n;
	if (e->meter_frames >= e->meter_interval) {
		e->meter_frames -= e->meter_interval;
		int count = mixer_meter_count(e->dsp);
		for (int i = 0; i < count; i++) {
			struct mixer_meter mt;
			mixer_meter_take(e->dsp, i, &mt);
			struct cl_cmd ev = { .kind = MX_EV_METER, .index = (uint32_t)i,
					     .a = mt.peak, .b = mt.sum_sq, .frame = mt.count };
			emit(m, &ev);
		}
		for (int s = 0; s < m->strips; s++) {
			if (!e->loud_on[s])
				continue;
			struct cl_cmd ev = { .kind = MX_EV_LOUDNESS, .index = (uint32_t)s,
					     .a = loudness_short_term(&e->loud[s]) };
			emit(m, &ev);
		}
	}

	cl_cycle_end(&e->stats, began);
	cl_rt_leave();
	return 0;
}

int engine_setup(struct cl_jack *j, void *userdata, char *err, size_t errlen)
{
	struct mx *m = userdata;
	struct mx_engine *e = &m->eng;
	uint32_t rate = jack_get_sample_rate(j->client);

	/* First open, or the server came back at another rate: build the DSP
	 * afresh and load the control thread's parameters into it. The audio
	 * thread is not running, so the main thread may touch it here. */
	if (!e->dsp || e->meter_interval != rate / MX_METER_HZ) {
		mixer_free(e->dsp);
		e->dsp = mixer_new(rate, m->strips, m->channels, m->aux);
		if (!e->dsp) {
			snprintf(err, errlen, "cannot allocate the mixer");
			return -1;
		}
		for (int s = 0; s < m->strips; s++)
			loudness_init(&e->loud[s], rate, m->channels);
		e->meter_interval = rate / MX_METER_HZ;
		e->meter_frames = 0;
		for (int s = 0; s < m->strips; s++) {
			const struct mixer_strip_params *p = &m->p[s];
			mixer_set_gain(e->dsp, s, p->gain_db);
			mixer_set_volume(e->dsp, s, p->volume_db);
			mixer_set_pan(e->dsp, s, p->pan);
			mixer_set_mute(e->dsp, s, p->mute);
			mixer_set_solo(e->dsp, s, p->solo);
			mixer_set_phase(e->dsp, s, p->phase);
			for (int k = 0; k < m->aux; k++) {
				mixer_set_send(e->dsp, s, k, p->send_db[k]);
				mixer_set_send_pre(e->dsp, s, k, p->send_pre[k]);
			}
		}
		mixer_set_master_volume(e->dsp, m->master_db);
		mixer_set_master_mute(e->dsp, m->master_mute);
		mixer_settle(e->dsp);
	}
	if (jack_set_process_callback(j->client, on_process, m) != 0) {
		snprintf(err, errlen, "cannot set the process callback");
		return -1;
	}
	return 0;
}
