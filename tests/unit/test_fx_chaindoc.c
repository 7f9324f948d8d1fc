/*
 * cl-fx chain documents and automation: DESIGN.md's example parses and
 * builds with its parameters set; a chain written out and read back is the
 * same; every kind of bad document is refused with a message naming the
 * place; a lane drives its parameter at exact times through fx_chain_run.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "automation.h"
#include "chaindoc.h"
#include "cl_doc.h"
#include "cl_check.h"

static const char example[] =
	"{\"schema\": \"cl-fx-chain/1\","
	" \"effects\": [{\"type\": \"compressor\", \"bypass\": false,"
	"              \"params\": {\"threshold\": -20, \"ratio\": 4, \"knee\": 0,"
	"                         \"attack\": 5, \"release\": 50, \"makeup\": 0}},"
	"             {\"type\": \"freeverb\", \"params\": {\"room\": 0.7, \"damp\": 0.5,"
	"                                              \"width\": 1, \"mix\": 0.25}}],"
	" \"automation\": [{\"slot\": 0, \"param\": \"threshold\", \"unit\": \"beats\","
	"                 \"points\": [[0, -20, \"linear\"], [16, -30, \"step\"]]}]}";

static json_t *parse(const char *text)
{
	char err[256];
	json_t *j = cl_doc_parse(text, strlen(text), err, sizeof(err));
	if (!j)
		printf("parse error: %s\n", err);
	return j;
}

static void refuse(const char *text, const char *want, int channels)
{
	char err[256] = "";
	struct fx_doc d;
	json_t *j = parse(text);
	int r = j ? fx_doc_parse(j, channels, &d, err, sizeof(err)) : -1;
	CHECK(j && r == -1 && strstr(err, want), "refused, saying \"%s\": %s", want, err);
	json_decref(j);
}

int main(void)
{
	char err[256];
	struct fx_doc d;
	json_t *j = parse(example);
	CHECK(j && fx_doc_parse(j, 2, &d, err, sizeof(err)) == 0, "DESIGN.md's example parses (%s)", err);
	json_decref(j);
	CHECK(d.count == 2 && d.effects[0].type == &fx_compressor && d.effects[1].type == &fx_freeverb,
	      "two effects: compressor, freeverb");
	CHECK(d.nlanes == 1 && d.lanes[0].count == 2 && d.lanes[0].beats && d.lanes[0].points[1].curve == FX_SEG_STEP,
	      "one beats lane of 2 points");

	uint32_t next = 10;
	struct fx_chain *c = fx_doc_build(&d, 48000, 2, &next, err, sizeof(err));
	CHECK(c && c->count == 2 && next == 12 && c->slot[0]->id == 10 && d.lanes[0].slot_id == 10,
	      "built with ids 10, 11; the lane follows its slot");
	int room = fx_param_index(&fx_freeverb, "room");
	CHECK(c && fabsf(c->slot[1]->value[room] - 0.7f) < 1e-6f, "freeverb room 0.7");

	/* the lane drives the threshold: -25 at beat 8, -30 from beat 16 */
	int thr = fx_param_index(&fx_compressor, "threshold");
	fx_automate(c, d.lanes, d.nlanes, 0.0, 8.0, true);
	CHECK(fabsf(c->slot[0]->value[thr] - -25.0f) < 1e-4f, "threshold -25 at beat 8 (%g)",
	      c->slot[0]->value[thr]);
	static float l[4096], r[4096];
	float *buf[2] = { l, r };
	struct fx_clock clk = { .seconds = 0, .beats = 15.9, .seconds_per_frame = 1.0 / 48000,
				.beats_per_frame = 2.0 / 48000, .has_beats = true };
	fx_chain_run(c, d.lanes, d.nlanes, buf, 4096, &clk);
	CHECK(c->slot[0]->value[thr] == -30.0f, "past beat 16 the step holds -30");
	fx_automate(c, d.lanes, d.nlanes, 0.0, 100.0, false);
	CHECK(c->slot[0]->value[thr] == -30.0f, "a beats lane holds still without a tempo");

	/* round trip */
	json_t *out = fx_doc_from_chain(c, d.lanes, d.nlanes);
	char *text = json_dumps(out, 0);
	struct fx_doc d2;
	json_t *j2 = parse(text);
	CHECK(j2 && fx_doc_parse(j2, 2, &d2, err, sizeof(err)) == 0 && d2.count == 2 && d2.nlanes == 1 &&
	      d2.lanes[0].slot_id == 0 && d2.lanes[0].points[1].value == -30.0f &&
	      fabsf(d2.effects[1].value[room] - 0.7f) < 1e-6f, "written and read back the same (%s)", err);
	json_decref(j2);
	json_decref(out);
	free(text);
	fx_doc_free(&d2);
	fx_doc_free(&d);
	fx_chain_free_all(c);

	refuse("{\"schema\": \"cl-fx-chain/2\", \"effects\": []}", "newer", 2);
	refuse("{\"schema\": \"cl-mixer/1\", \"effects\": []}", "not a cl-fx-chain", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"fuzz\"}]}", "unknown effect type", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"delay\", \"params\": {\"tiem\": 1}}]}",
	       "no parameter \"tiem\"", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"compressor\", \"params\": {\"ratio\": 50}}]}",
	       "compressor.ratio must be", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"gate\", \"bypass\": 1}]}", "bypass", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"pingpong\"}]}", "at most 2 channels", 4);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [], \"extra\": 1}", "unknown key", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"gate\"}],"
	       " \"automation\": [{\"slot\": 1, \"param\": \"threshold\", \"unit\": \"beats\", \"points\": [[0, -40]]}]}",
	       "\"slot\" must be", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"gate\"}],"
	       " \"automation\": [{\"slot\": 0, \"param\": \"threshold\", \"unit\": \"bars\", \"points\": [[0, -40]]}]}",
	       "\"unit\"", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"gate\"}],"
	       " \"automation\": [{\"slot\": 0, \"param\": \"threshold\", \"unit\": \"beats\","
	       " \"points\": [[4, -40], [2, -30]]}]}", "increasing", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"gate\"}],"
	       " \"automation\": [{\"slot\": 0, \"param\": \"threshold\", \"unit\": \"beats\","
	       " \"points\": [[0, -40, \"wiggle\"]]}]}", "point 0", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"gate\"}],"
	       " \"automation\": [{\"slot\": 0, \"param\": \"threshold\", \"unit\": \"beats\","
	       " \"points\": [[0, -400]]}]}", "must be in", 2);
	refuse("{\"schema\": \"cl-fx-chain/1\", \"effects\": [{\"type\": \"gate\"}],"
	       " \"automation\": [{\"slot\": 0, \"param\": \"threshold\", \"unit\": \"beats\", \"points\": [[0, -40]]},"
	       " {\"slot\": 0, \"param\": \"threshold\", \"unit\": \"seconds\", \"points\": [[0, -40]]}]}",
	       "second lane", 2);
	char many[4096] = "{\"schema\": \"cl-fx-chain/1\", \"effects\": [";
	for (int i = 0; i < FX_MAX_SLOTS + 1; i++)
		strcat(many, i ? ", {\"type\": \"gate\"}" : "{\"type\": \"gate\"}");
	strcat(many, "]}");
	refuse(many, "at most 16", 2);

	printf("test-fx-chaindoc: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
