/*
 * MIDI CC learn with soft takeover, shared by every client that binds
 * controllers to its parameters.
 *
 * A program names its parameters with a struct cl_learn_target (three
 * integers it gives meaning to: strip/param/aux, slot id/param, ...) and
 * supplies two callbacks: the parameter's current position as 0..1, and
 * a setter from 0..1. cl_learn_arm() makes the next CC bind to a target;
 * afterwards every CC moves the parameters bound to it.
 *
 * Soft takeover: after a binding is made, or after the parameter moved by
 * other means (OSC, a scene, automation: the program calls
 * cl_learn_release()), the controller takes over only once its value has
 * reached the parameter's position or crossed it, so a fader left
 * somewhere else never makes the parameter jump. Toggles (mute, bypass)
 * switch at once: 64..127 is on.
 *
 * Everything here runs in the control thread.
 */
#ifndef CL_LEARN_H
#define CL_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define CL_LEARN_MAX 256

struct cl_learn_target {
	int a, b, c;       /* the program's names for a parameter */
};

struct cl_binding {
	int channel;       /* 0..15 */
	int cc;            /* 0..127 */
	struct cl_learn_target target;
	bool toggle;
	bool picked_up;    /* soft takeover: the controller met the value */
	int last_value;    /* -1 before the first CC after a (re)start */
};

struct cl_learn {
	struct cl_binding bindings[CL_LEARN_MAX];
	int count;
	bool armed;
	struct cl_learn_target armed_target;
	bool armed_toggle;
};

struct cl_learn_ops {
	/* the parameter's position, 0..1 */
	float (*get_norm)(void *userdata, const struct cl_learn_target *t);
	/* move the parameter to position 0..1 (toggles get 0 or 1) */
	void (*set_norm)(void *userdata, const struct cl_learn_target *t, float norm);
	/* a binding was made (announce it, mark the state dirty) */
	void (*bound)(void *userdata, const struct cl_binding *b);
};

enum cl_learn_result {
	CL_LEARN_MOVED = 0,  /* a CC moved (or approached) bound parameters */
	CL_LEARN_BOUND,      /* the armed target is now bound to this CC */
	CL_LEARN_FULL,       /* armed, but every binding is in use */
};

void cl_learn_init(struct cl_learn *l);
/* The next CC binds to t (replacing what that CC was bound to). */
void cl_learn_arm(struct cl_learn *l, struct cl_learn_target t, bool toggle);
/* A CC arrived on channel 0..15: bind it, or move what it is bound to. */
enum cl_learn_result cl_learn_cc(struct cl_learn *l, int channel, int cc, int value,
				 const struct cl_learn_ops *ops, void *userdata);
/* t moved by other means: its controllers must meet it again first. */
void cl_learn_release(struct cl_learn *l, const struct cl_learn_target *t);
/* Remove every binding of t; returns how many. */
int cl_learn_forget(struct cl_learn *l, const struct cl_learn_target *t);
/* Remove every binding for which keep() says no; returns how many. */
int cl_learn_filter(struct cl_learn *l,
		    bool (*keep)(void *userdata, struct cl_binding *b), void *userdata);
/* Append a binding read from a document (no takeover yet): 0, or -1 when
 * full. */
int cl_learn_add(struct cl_learn *l, int channel, int cc, struct cl_learn_target t, bool toggle);

/* Read "channel" (1..16) and "cc" (0..127) of a binding object: 0, or -1
 * and err prefixed with where. */
int cl_learn_read_json(json_t *obj, int *channel, int *cc, const char *where,
		       char *err, size_t errlen);

#endif
