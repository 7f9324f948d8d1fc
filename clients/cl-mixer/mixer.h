/*
 * cl-mixer: a headless, OSC-first JACK mixer.
 *
 * One struct holds the program and is the userdata of every callback. The
 * audio thread (engine.c) owns the DSP state (struct mixer, loudness
 * meters) once the client is active; the control thread keeps its own copy
 * of every parameter (what OSC queries answer and state documents hold)
 * and changes the DSP only through fixed-size commands. Meters, short-term
 * loudness and MIDI CCs come back as events. control.c is the OSC surface,
 * state document, MIDI learn and scenes; main.c the lifecycle.
 */
#ifndef CL_MIXER_H
#define CL_MIXER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <jack/jack.h>

#include "cl_app.h"
#include "cl_cli.h"
#include "cl_jack.h"
#include "cl_learn.h"
#include "cl_nsm.h"
#include "cl_osc.h"
#include "cl_rt.h"
#include "dsp.h"
#include "loudness.h"

#define MX_PROG "cl-mixer"
#define MX_DEFAULT_OSC_PORT 7772
#define MX_SCHEMA_KIND "cl-mixer"
#define MX_SCHEMA_VERSION 1
#define MX_METER_HZ 30
#define MX_PEAK_HOLD_S 1.5
#define MX_NAME_MAX 64
#define MX_MASTER (-1)         /* "strip" index of the master bus */

enum mx_param {
	MX_P_GAIN, MX_P_VOLUME, MX_P_PAN, MX_P_MUTE, MX_P_SOLO, MX_P_PHASE,
	MX_P_SEND, MX_P_SEND_PRE, MX_P_COUNT
};

enum mx_cmd_kind {
	MX_CMD_SET = 1,    /* index = strip (MX_MASTER for master), a = param, b = value, frame = aux */
	MX_CMD_RAMP_TIME,  /* a = seconds */
	MX_CMD_LOUDNESS,   /* index = strip: start measuring its short-term loudness */
};

enum mx_event_kind {
	MX_EV_METER = 1,   /* index = meter, a = peak, b = sum of squares, frame = samples */
	MX_EV_CC,          /* index = MIDI channel 0..15, a = controller, b = value 0..127 */
	MX_EV_LOUDNESS,    /* index = strip, a = LUFS */
};

struct mx_meter_view {
	float peak_db, rms_db, hold_db;
	struct timespec hold_until;
};

struct mx_engine {
	struct mixer *dsp;
	struct loudness *loud;        /* one per strip */
	bool *loud_on;
	const float **in;             /* port buffers of this cycle */
	float *out[2 + 2 * MIXER_MAX_AUX];
	uint32_t meter_interval;      /* frames between meter events */
	uint32_t meter_frames;
	uint32_t event_overruns;
	struct cl_cycle_stats stats;  /* time spent in each process cycle */
};

struct mx {
	struct cl_options opt;
	int strips, channels, aux;

	/* Control thread's view of every parameter. */
	struct mixer_strip_params p[MIXER_MAX_STRIPS];
	float master_db;
	bool master_mute;
	char names[MIXER_MAX_STRIPS][MX_NAME_MAX];
	struct cl_learn learn;        /* CC bindings: target {strip, param, aux} */
	float loudness[MIXER_MAX_STRIPS];
	struct mx_meter_view meters[MIXER_MAX_STRIPS + 1 + MIXER_MAX_AUX];

	struct cl_port_spec *specs;
	char **spec_names, **spec_pretty;
	size_t nports;
	struct cl_jack jack;
	struct cl_cmdq to_rt, from_rt;
	struct mx_engine eng;

	struct cl_osc *osc;
	struct cl_nsm *nsm;
	struct cl_app_session session;
	bool quit;
};

/* Port index helpers: inputs first (strip by strip), then master, aux, MIDI. */
size_t mx_port_in(const struct mx *m, int strip, int ch);
size_t mx_port_master(const struct mx *m, int side);
size_t mx_port_aux(const struct mx *m, int aux, int side);
size_t mx_port_midi(const struct mx *m);

/* engine.c */
int engine_init(struct mx *m);
void engine_done(struct mx *m);
int engine_setup(struct cl_jack *j, void *userdata, char *err, size_t errlen);
bool engine_send(struct mx *m, const struct cl_cmd *cmd);

/* control.c */
extern const struct cl_osc_method control_methods[];
extern const size_t control_method_count;
extern const struct cl_osc_hooks control_hooks_template;
void control_init(struct mx *m);
void control_events(struct mx *m);
json_t *control_state_get(void *userdata);
int control_state_set(void *userdata, json_t *doc, char *err, size_t errlen);
void control_push_all(struct mx *m);

#endif
