/*
 * cl-transport: the clock of a CoreLogic session.
 *
 * One struct holds the whole program; it is the userdata of every JACK, OSC
 * and NSM callback. The audio thread (engine.c) owns the timeline and talks
 * to the rest only through two queues: commands in (cl_cmdq), snapshots out
 * (a jack_ringbuffer of struct tp_snapshot). control.c holds the OSC surface
 * and the state document; main.c the lifecycle and the poll loop.
 */
#ifndef CL_TRANSPORT_H
#define CL_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <jack/jack.h>
#include <jack/ringbuffer.h>

#include "cl_app.h"
#include "cl_cli.h"
#include "cl_jack.h"
#include "cl_nsm.h"
#include "cl_osc.h"
#include "cl_rt.h"
#include "click.h"
#include "timeline.h"

#define TP_PROG "cl-transport"
#define TP_DEFAULT_OSC_PORT 7770
#define TP_SCHEMA_KIND "cl-transport"
#define TP_SCHEMA_VERSION 1
#define TP_STATE_HZ 30.0
#define TP_TAP_MAX 8

enum tp_port {
	TP_PORT_CLOCK_OUT = 0,
	TP_PORT_CLICK_OUT,
	TP_PORT_COUNT,
};

enum tp_cmd_kind {
	TP_CMD_TEMPO = 1,     /* a = bpm, b = beats per bar, c = beat type, index = immediate */
	TP_CMD_LOCATE_FRAME,  /* frame */
	TP_CMD_LOCATE_BBT,    /* a = bar, b = beat, c = tick */
	TP_CMD_LOOP,          /* index = on, a = start frame, b = end frame */
	TP_CMD_CLICK,         /* index = on, a = linear level */
	TP_CMD_PLAY,
	TP_CMD_STOP,
	TP_CMD_TOGGLE,
};

/* What the audio thread publishes every cycle. */
struct tp_snapshot {
	uint64_t cycle;         /* counts process cycles */
	int64_t frame;          /* transport frame at the cycle start */
	uint32_t rate;
	uint8_t state;          /* jack_transport_state_t */
	bool bbt_valid;
	int32_t bar, beat, tick;
	int32_t beats_per_bar, beat_type;
	double bpm;
	double beats;           /* beat position since frame 0 */
	uint32_t relocations;   /* relocations seen so far */
	uint32_t tempo_changes; /* tempo/meter changes applied so far */
};

/* Owned by the audio thread once the client is active. */
struct tp_engine {
	struct tl_timeline tl;
	struct click click;
	bool click_on;
	bool master;            /* we are the timebase master */
	bool pending_collapse;  /* our own locate: collapse at the new position */
	bool have_last;
	bool was_rolling;
	bool relocation_pending; /* a jump seen while JACK said "starting" */
	bool refresh_bbt;        /* stopped tempo change: ask for a new position */
	bool start_asked;        /* this cycle asked JACK to start */
	bool locate_asked;       /* this cycle asked JACK for a new position */
	int64_t expected;       /* frame the next cycle should start at */
	bool loop_on;
	bool loop_jump_pending;
	int64_t loop_start, loop_end;
	uint64_t cycle;
	uint32_t relocations;
	uint32_t tempo_changes;
	uint32_t snapshot_overruns;
};

struct transport {
	struct cl_options opt;
	bool follow;
	bool want_click;
	bool play_at_start;

	/* What the user asked for (control thread's view). */
	double bpm;
	int beats_per_bar;
	int beat_type;
	double click_db;
	bool click_on;
	bool loop_on;
	double loop_start_s, loop_end_s;
	struct timespec taps[TP_TAP_MAX];
	int ntaps;

	struct cl_jack jack;
	size_t nports;
	struct cl_cmdq to_rt;
	jack_ringbuffer_t *snapshots;
	struct tp_engine eng;

	/* Latest snapshot read from the audio thread. */
	struct tp_snapshot snap;
	bool have_snap;
	struct timespec next_state;  /* next 30 Hz /transport/state while rolling */

	struct cl_osc *osc;
	struct cl_nsm *nsm;
	struct cl_app_session session;   /* NSM folder; client name (NSM may choose it) */
	bool quit;
};

/* engine.c */
int engine_init(struct transport *t);
void engine_done(struct transport *t);
int engine_setup(struct cl_jack *j, void *userdata, char *err, size_t errlen);
bool engine_send(struct transport *t, const struct cl_cmd *cmd);
/* Read all published snapshots; true when one arrived. */
bool engine_read_snapshots(struct transport *t);

/* control.c */
extern const struct cl_osc_method control_methods[];
extern const size_t control_method_count;
extern const struct cl_osc_hooks control_hooks_template;
void control_publish(struct transport *t, const struct tp_snapshot *prev);
void control_tick(struct transport *t, const struct timespec *now);
json_t *control_state_get(void *userdata);
int control_state_set(void *userdata, json_t *doc, char *err, size_t errlen);
void control_apply_start(struct transport *t);

#endif
