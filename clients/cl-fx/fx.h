/*
 * cl-fx: the effect rack as a JACK client.
 *
 * One struct holds the program and is the userdata of every callback. The
 * audio thread owns the chain it runs (a struct fx_chain) and the lane set
 * it plays; the control thread builds replacements off-thread and hands
 * them over by pointer through the command queue, and frees what comes
 * back. Parameter changes travel as {slot id, param, value} commands; the
 * transport position, automation moves and MIDI CCs come back as events.
 */
#ifndef CL_FX_H
#define CL_FX_H

#include <stdbool.h>
#include <stdint.h>
#include <jack/jack.h>

#include "automation.h"
#include "chain.h"
#include "chaindoc.h"
#include "cl_app.h"
#include "cl_cli.h"
#include "cl_jack.h"
#include "cl_nsm.h"
#include "cl_osc.h"
#include "cl_rt.h"

#define FX_PROG "cl-fx"
#define FX_DEFAULT_OSC_PORT 7771
#define FX_SCHEMA_KIND "cl-fx"
#define FX_GRAVEYARD 64

enum fx_cmd_kind {
	FX_CMD_SET = 1,      /* index = slot id, a = param, b = value */
	FX_CMD_BYPASS,       /* index = slot id, b = on */
	FX_CMD_CHAIN,        /* frame = (intptr_t) new chain */
	FX_CMD_LANES,        /* frame = (intptr_t) new lane set */
};

enum fx_event_kind {
	FX_EV_OLD_CHAIN = 1, /* frame = (intptr_t) chain the audio thread let go */
	FX_EV_OLD_LANES,     /* frame = (intptr_t) lane set let go */
	FX_EV_POSITION,      /* a = seconds, b = beats, c = bpm, index = rolling | bbt << 1 */
	FX_EV_AUTOMATED,     /* index = slot id, a = param, b = value */
	FX_EV_CC,            /* index = channel, a = controller, b = value */
};

/* Lanes the audio thread plays; replaced whole. */
struct fx_lane_set {
	int count;
	struct fx_lane lanes[FX_MAX_LANES];
};

struct fx_engine {
	struct fx_chain *chain;        /* what process() runs */
	struct fx_lane_set *lanes;     /* what process() plays (may be NULL) */
	float *buf[FX_MAX_CHANNELS];   /* work buffers of FX_MAX_BLOCK */
	double bpm;                    /* last tempo given to the chain */
	uint32_t report_frames;        /* frames since the last position event */
	bool reported_rolling;         /* the last report was made while rolling */
	uint32_t event_overruns;
	struct cl_cycle_stats stats;
};

/* A parameter being recorded from OSC. */
struct fx_recording {
	bool on;
	uint32_t slot_id;
	int param;
	bool beats;
	int count;
	struct fx_lane_point *points;  /* FX_LANE_MAX_POINTS */
};

struct fx_app {
	struct cl_options opt;
	int channels;
	const char *chain_file;

	/* Control thread's chain: the same slot pointers as the audio thread's
	 * latest, never processed by this thread. */
	struct fx_chain *chain;
	struct fx_lane_set *lanes;
	uint32_t next_id;
	struct fx_slot *graveyard[FX_GRAVEYARD];   /* removed slots, freed once let go */
	int graves;
	uint32_t rate;

	/* Transport as the audio thread last saw it. */
	bool rolling, has_bbt;
	double seconds, beats, bpm;
	struct fx_recording rec;

	struct cl_port_spec specs[2 * FX_MAX_CHANNELS + 1];
	char names[2 * FX_MAX_CHANNELS + 1][16];
	char pretty[2 * FX_MAX_CHANNELS + 1][32];
	size_t nports;
	struct cl_jack jack;
	struct cl_cmdq to_rt, from_rt;
	struct fx_engine eng;

	struct cl_osc *osc;
	struct cl_nsm *nsm;
	struct cl_app_session session;
	bool quit;
};

/* engine.c */
int engine_init(struct fx_app *a);
void engine_done(struct fx_app *a);
int engine_setup(struct cl_jack *j, void *userdata, char *err, size_t errlen);
bool engine_send(struct fx_app *a, const struct cl_cmd *cmd);
/* Port index of input/output channel c, and of midi_in. */
size_t fx_port_in(const struct fx_app *a, int c);
size_t fx_port_out(const struct fx_app *a, int c);
size_t fx_port_midi(const struct fx_app *a);

/* control.c */
extern const struct cl_osc_method control_methods[];
extern const size_t control_method_count;
extern const struct cl_osc_hooks control_hooks_template;
int control_init(struct fx_app *a);
void control_done(struct fx_app *a);
/* Once JACK runs (the rate is known): hand the chain over, build a state
 * that arrived before. 0, or -1 and err. */
int control_start(struct fx_app *a, char *err, size_t errlen);
void control_events(struct fx_app *a);
json_t *control_state_get(void *userdata);
int control_state_set(void *userdata, json_t *doc, char *err, size_t errlen);
void control_latency_changed(struct fx_app *a);

#endif
