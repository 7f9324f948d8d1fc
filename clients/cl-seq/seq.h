/*
 * cl-seq: the step sequencer as a JACK client.
 *
 * The audio thread owns the pattern it plays (a struct seq_pattern) and
 * the voices. The control thread keeps its own copy (the model), edits
 * it, and hands a fresh copy over by pointer for every change: edits apply
 * on the next cycle (or to a pattern switch still waiting for its bar),
 * a loaded slot at the next bar boundary frame or, when asked, on the
 * next cycle. The audio thread hands the replaced pattern back to be
 * freed. Matching tracks by name across a swap lets voices keep sounding
 * and lets the held-note set end exactly the notes whose track went,
 * muted or changed channel.
 */
#ifndef CL_SEQ_H
#define CL_SEQ_H

#include <stdbool.h>
#include <stdint.h>
#include <jack/jack.h>

#include "cl_app.h"
#include "cl_cli.h"
#include "cl_jack.h"
#include "cl_nsm.h"
#include "cl_osc.h"
#include "cl_rt.h"
#include "schedule.h"
#include "seq_model.h"
#include "timing.h"
#include "voices.h"

#define SEQ_PROG "cl-seq"
#define SEQ_DEFAULT_OSC_PORT 7773
#define SEQ_SCHEMA_KIND "cl-seq"
#define SEQ_DEFAULT_BPM 120.0
/* midi_out, audio_out_l/r, and per track a MIDI port and a voice pair */
#define SEQ_MAX_PORTS (3 + SEQ_MAX_TRACKS * 3)
#define SEQ_STEP_FEEDBACK_HZ 30      /* /seq/step per track, at most */
/* a cycle's notes plus the note-offs of every held note */
#define SEQ_ENGINE_EVENTS (SEQ_MAX_EVENTS + SEQ_MAX_HELD)

enum seq_swap_mode {
	SEQ_SWAP_EDIT = 0,     /* next cycle; replaces a waiting switch instead */
	SEQ_SWAP_AT_BAR,       /* at the next bar boundary frame (at once when stopped) */
	SEQ_SWAP_NEXT_CYCLE,   /* a slot loaded with "immediate" */
};

enum seq_cmd_kind {
	SEQ_CMD_PATTERN = 1,   /* frame = (intptr_t) new pattern, index = enum seq_swap_mode */
	SEQ_CMD_PANIC,         /* end every note now */
	SEQ_CMD_BPM,           /* a = tempo used when no master gives BBT */
};

enum seq_app_event_kind {
	SEQ_EV_OLD_PATTERN = 1,/* frame = (intptr_t) pattern let go */
	SEQ_EV_SWITCHED,       /* a waiting pattern took over; frame = JACK frame time, a = beat */
	SEQ_EV_STEP,           /* index = track, a = pattern step */
	SEQ_EV_CLOCK,          /* index = enum seq_clock_flag bits (on change), a = bpm, b = beat */
	SEQ_EV_PANIC_DONE,     /* every note ended */
};

struct seq_engine {
	struct seq_pattern *pattern;    /* what plays (never NULL once started) */
	struct seq_pattern *waiting;    /* a switch waiting for its frame */
	enum seq_swap_mode waiting_mode;
	struct seq_clock clock;
	struct seq_held held;
	struct seq_voice voices[SEQ_MAX_TRACKS];   /* by track index of pattern */
	struct seq_event events[SEQ_ENGINE_EVENTS];
	double bpm;                     /* without a BBT master */
	double rate;
	int last_flags;
	uint32_t report_frames;
	uint32_t event_overruns, midi_overruns;
	struct cl_cycle_stats stats;
	bool alsa;                      /* also queue events for ALSA */
	bool silenced;                  /* after the last panic (SIGTERM): no new notes */
};

struct seq_app {
	struct cl_options opt;
	double bpm;
	bool port_per_track;
	bool alsa_seq;
	bool voice_outputs;

	struct cl_port_spec specs[SEQ_MAX_PORTS];
	char names[SEQ_MAX_PORTS][24];
	char pretty[SEQ_MAX_PORTS][48];
	size_t nports;
	size_t port_midi, port_audio_l, port_audio_r;  /* indices in specs */
	size_t port_track_midi, port_track_audio;     /* first per-track port, or SIZE_MAX */

	struct cl_jack jack;
	struct cl_cmdq to_rt, from_rt, to_alsa;
	struct seq_engine eng;
	uint32_t rate;

	struct cl_osc *osc;
	struct cl_nsm *nsm;
	struct cl_app_session session;
	bool quit;
	struct seq_alsa *alsa;
};

/* engine.c */
int engine_init(struct seq_app *a);
void engine_done(struct seq_app *a);
int engine_setup(struct cl_jack *j, void *userdata, char *err, size_t errlen);
bool engine_send(struct seq_app *a, const struct cl_cmd *cmd);
/* Move queued events to ALSA (control thread). */
void engine_alsa_flush(struct seq_app *a);

/* control.c */
extern const struct cl_osc_method control_methods[];
extern const size_t control_method_count;
extern const struct cl_osc_hooks control_hooks_template;
int control_init(struct seq_app *a);
void control_done(struct seq_app *a);
/* Move the previous pattern versions that saves (or a crash) left kept in
 * <store>/patterns/slots/ into patterns/backups/; a failure is logged and
 * retried by the next call. Not from the process thread. */
void control_file_backups(struct seq_app *a);
/* Once JACK runs: hand the model over. 0, or -1 and err. */
int control_start(struct seq_app *a, char *err, size_t errlen);
void control_events(struct seq_app *a);
/* End every note (SIGTERM): ask the audio thread and wait for it, up to
 * timeout_ms. */
void control_all_notes_off(struct seq_app *a, int timeout_ms);
json_t *control_state_get(void *userdata);
int control_state_set(void *userdata, json_t *doc, char *err, size_t errlen);

#endif
