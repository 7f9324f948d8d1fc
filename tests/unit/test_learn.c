/*
 * cl_learn: binding, soft takeover, toggles, release, forget, full table,
 * and the JSON reader, against a parameter held in this test.
 */
#include <stdio.h>
#include <string.h>

#include "cl_check.h"
#include "cl_learn.h"

static float param[4];        /* positions 0..1 of four parameters */
static int sets, bounds;

static float get(void *ud, const struct cl_learn_target *t)
{
	return param[t->a];
}

static void set(void *ud, const struct cl_learn_target *t, float x)
{
	param[t->a] = x;
	sets++;
	cl_learn_release(ud, t);   /* as a program's setter does */
}

static void bound(void *ud, const struct cl_binding *b)
{
	bounds++;
}

static const struct cl_learn_ops ops = { get, set, bound };

int main(void)
{
	static struct cl_learn l;
	cl_learn_init(&l);
	param[0] = 0.5f;

	/* the learning CC binds and moves nothing */
	cl_learn_arm(&l, (struct cl_learn_target){ 0, 0, 0 }, false);
	CHECK(cl_learn_cc(&l, 0, 7, 10, &ops, &l) == CL_LEARN_BOUND, "the armed CC binds");
	CHECK(bounds == 1 && l.count == 1 && !l.armed, "one binding, learn disarmed");
	CHECK(param[0] == 0.5f && sets == 0, "binding does not move the parameter");

	/* below the value: no move; crossing: follow */
	cl_learn_cc(&l, 0, 7, 20, &ops, &l);
	cl_learn_cc(&l, 0, 7, 50, &ops, &l);
	CHECK(param[0] == 0.5f, "CCs below the parameter leave it (%g)", param[0]);
	cl_learn_cc(&l, 0, 7, 80, &ops, &l);
	CHECK(param[0] == 80 / 127.0f, "crossing 0.5 picks it up (%g)", param[0]);
	cl_learn_cc(&l, 0, 7, 3, &ops, &l);
	CHECK(param[0] == 3 / 127.0f, "then it follows anywhere (%g)", param[0]);

	/* other channel or CC: nothing */
	cl_learn_cc(&l, 1, 7, 100, &ops, &l);
	cl_learn_cc(&l, 0, 8, 100, &ops, &l);
	CHECK(param[0] == 3 / 127.0f, "other channel or CC number moves nothing");

	/* moved by other means: meet it again; a value within one step meets */
	param[0] = 0.25f;
	cl_learn_release(&l, &(struct cl_learn_target){ 0, 0, 0 });
	cl_learn_cc(&l, 0, 7, 120, &ops, &l);
	CHECK(param[0] == 0.25f, "after a release a far CC does not jump it");
	cl_learn_cc(&l, 0, 7, 32, &ops, &l);   /* 32/127 = 0.252: within a step */
	CHECK(param[0] == 32 / 127.0f, "a CC within one step of the value picks it up (%g)", param[0]);

	/* a first CC far away, then a crossing one, from above */
	param[0] = 0.5f;
	cl_learn_release(&l, &(struct cl_learn_target){ 0, 0, 0 });
	cl_learn_cc(&l, 0, 7, 127, &ops, &l);
	cl_learn_cc(&l, 0, 7, 90, &ops, &l);
	CHECK(param[0] == 0.5f, "above the value: not yet");
	cl_learn_cc(&l, 0, 7, 40, &ops, &l);
	CHECK(param[0] == 40 / 127.0f, "crossing from above picks it up (%g)", param[0]);

	/* toggles switch at once, by halves */
	cl_learn_arm(&l, (struct cl_learn_target){ 1, 0, 0 }, true);
	cl_learn_cc(&l, 0, 20, 0, &ops, &l);
	cl_learn_cc(&l, 0, 20, 64, &ops, &l);
	CHECK(param[1] == 1.0f, "toggle: 64 is on");
	cl_learn_cc(&l, 0, 20, 63, &ops, &l);
	CHECK(param[1] == 0.0f, "toggle: 63 is off");

	/* learning a CC again replaces its binding; two CCs on one target */
	cl_learn_arm(&l, (struct cl_learn_target){ 2, 0, 0 }, false);
	cl_learn_cc(&l, 0, 20, 0, &ops, &l);
	CHECK(l.count == 2 && l.bindings[1].target.a == 2, "re-learning CC 20 replaces its target");
	cl_learn_arm(&l, (struct cl_learn_target){ 2, 0, 0 }, false);
	cl_learn_cc(&l, 0, 21, 0, &ops, &l);
	CHECK(l.count == 3, "a second CC for the same parameter is a second binding");
	CHECK(cl_learn_forget(&l, &(struct cl_learn_target){ 2, 0, 0 }) == 2 && l.count == 1,
	      "forget removes both bindings of the parameter");

	/* full table */
	cl_learn_init(&l);
	for (int i = 0; i < CL_LEARN_MAX; i++)
		CHECK(cl_learn_add(&l, i / 128, i % 128, (struct cl_learn_target){ 0, 0, 0 }, false) == 0,
		      "add %d", i);
	CHECK(cl_learn_add(&l, 5, 5, (struct cl_learn_target){ 0, 0, 0 }, false) == -1, "add refuses when full");
	cl_learn_arm(&l, (struct cl_learn_target){ 3, 0, 0 }, false);
	CHECK(cl_learn_cc(&l, 9, 9, 1, &ops, &l) == CL_LEARN_FULL && !l.armed, "learn on a full table says so");
	CHECK(cl_learn_cc(&l, 1, 5, 1, &ops, &l) == CL_LEARN_MOVED, "a CC already bound is not 'full'");

	/* JSON */
	char err[128];
	int ch, cc;
	json_t *ok = json_pack("{s:i, s:i}", "channel", 16, "cc", 0);
	CHECK(cl_learn_read_json(ok, &ch, &cc, "", err, sizeof(err)) == 0 && ch == 15 && cc == 0,
	      "channel 16 CC 0 reads as 15, 0");
	const char *bad[] = { "{\"channel\": 0, \"cc\": 1}", "{\"channel\": 17, \"cc\": 1}",
			      "{\"channel\": 1, \"cc\": 128}", "{\"channel\": 1}", "{\"channel\": \"1\", \"cc\": 1}",
			      "{\"channel\": 1.5, \"cc\": 1}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i], 0, NULL);
		err[0] = '\0';
		CHECK(cl_learn_read_json(j, &ch, &cc, "midi 1: ", err, sizeof(err)) == -1 &&
		      strstr(err, "midi 1: ") == err, "%s refused (%s)", bad[i], err);
		json_decref(j);
	}
	json_decref(ok);
	printf("learn: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
