/*
 * cl-seq pattern text: step strings, step lengths, track names and the
 * model's defaults. Good input gives exactly the steps typed; bad input
 * gives an error that names the character and its position (or the
 * length) and leaves the track byte for byte as it was.
 */
#include <stdio.h>
#include <string.h>

#include "pattern.h"
#include "cl_check.h"

/* Parse text into a copy of t that must come out unchanged, with an error
 * containing want. */
static void expect_refused(const struct seq_track *t, const char *text, const char *want)
{
	struct seq_track copy = *t;
	char err[128] = "";
	int r = seq_pattern_string_parse(text, &copy, err, sizeof err);
	CHECK(r == -1, "'%s' refused (r=%d)", text ? text : "(null)", r);
	CHECK(strstr(err, want) != NULL, "'%s': error \"%s\" says \"%s\"",
	      text ? text : "(null)", err, want);
	CHECK(memcmp(&copy, t, sizeof copy) == 0, "'%s': track untouched",
	      text ? text : "(null)");
}

static void test_defaults(void)
{
	struct seq_track t;
	memset(&t, 0xa5, sizeof t);
	seq_track_init(&t, "kick");
	CHECK(strcmp(t.name, "kick") == 0, "name kept");
	CHECK(t.channel == 1 && t.length == 16, "channel 1, 16 steps");
	int rests = 0, p100 = 0, r1 = 0;
	for (int i = 0; i < SEQ_MAX_STEPS; i++) {
		rests += t.steps[i] == SEQ_STEP_REST;
		p100 += t.probability[i] == 100;
		r1 += t.ratchet[i] == 1;
	}
	CHECK(rests == 64 && p100 == 64 && r1 == 64, "rests %d, probability 100 %d, ratchet 1 %d",
	      rests, p100, r1);
	CHECK(t.step_num == 1 && t.step_den == 16, "1/16 steps");
	CHECK(t.note_count == 1 && t.notes[0] == 60, "note 60");
	CHECK(t.velocity == 100 && t.accent == 27, "velocity 100 accent 27");
	CHECK(t.gate == 0.5f && t.swing == SEQ_SWING_FOLLOW && t.swing_ref == 16,
	      "gate 0.5, swing follows, reference 16th");
	CHECK(!t.mute && !t.solo && t.voice == SEQ_VOICE_NONE, "not muted, no voice");
	float zero = 0;
	int pz = 0;
	for (int i = 0; i < SEQ_VOICE_MAX_PARAMS; i++)
		pz += memcmp(&t.voice_params[i], &zero, sizeof zero) == 0;
	CHECK(pz == SEQ_VOICE_MAX_PARAMS, "voice params 0");

	seq_track_init(&t, "a_very_long_track_name_that_goes_on_and_on");
	CHECK(strlen(t.name) == SEQ_NAME_MAX - 1, "long name cut to %d", SEQ_NAME_MAX - 1);

	static struct seq_pattern p;
	memset(&p, 0x5a, sizeof p);
	seq_pattern_init(&p);
	CHECK(p.track_count == 0 && p.swing == 0.0f && p.seed == 1, "empty pattern, seed 1");
	CHECK(strcmp(p.name, "Untitled") == 0 && p.genre[0] == 0 && p.tag_count == 0,
	      "named Untitled, no genre or tags");
	CHECK(seq_pattern_find(&p, "kick") == -1, "no track in an empty pattern");
	seq_track_init(&p.tracks[0], "kick");
	seq_track_init(&p.tracks[1], "snare");
	seq_track_init(&p.tracks[2], "hat");
	p.track_count = 2;
	CHECK(seq_pattern_find(&p, "kick") == 0 && seq_pattern_find(&p, "snare") == 1,
	      "find kick 0, snare 1");
	CHECK(seq_pattern_find(&p, "hat") == -1, "a track past track_count is not found");
	CHECK(seq_pattern_find(&p, "Kick") == -1 && seq_pattern_find(&p, "kic") == -1,
	      "names match exactly");
	CHECK(seq_pattern_find(&p, NULL) == -1, "NULL name not found");
}

static void test_names(void)
{
	char err[128];
	CHECK(seq_track_name_check("kick", err, sizeof err) == 0, "kick ok");
	CHECK(seq_track_name_check("Hat_2-open", err, sizeof err) == 0, "Hat_2-open ok");
	CHECK(seq_track_name_check("abcdefghijabcdefghijabcdefghij1", err, sizeof err) == 0,
	      "31 characters ok");
	CHECK(seq_track_name_check("abcdefghijabcdefghijabcdefghij12", err, sizeof err) == -1 &&
	      strstr(err, "32 characters") && strstr(err, "31"), "32 characters refused: %s", err);
	CHECK(seq_track_name_check("", err, sizeof err) == -1 && strstr(err, "empty"),
	      "empty refused: %s", err);
	CHECK(seq_track_name_check(NULL, err, sizeof err) == -1, "NULL refused");
	CHECK(seq_track_name_check("kick drum", err, sizeof err) == -1 &&
	      strstr(err, "' ' at 5"), "space refused at 5: %s", err);
	CHECK(seq_track_name_check("a/b", err, sizeof err) == -1 && strstr(err, "'/' at 2"),
	      "slash refused (it would split the OSC path): %s", err);
	CHECK(seq_track_name_check("a\x01", err, sizeof err) == -1 && strstr(err, "\\x01"),
	      "control character shown escaped: %s", err);
}

static void test_parse_good(void)
{
	struct seq_track t;
	char err[128] = "";
	char buf[80];
	seq_track_init(&t, "kick");

	CHECK(seq_pattern_string_parse("X...x...X...x..x", &t, err, sizeof err) == 0,
	      "16 steps parse: %s", err);
	CHECK(t.length == 16, "length 16");
	CHECK(t.steps[0] == SEQ_STEP_ACCENT && t.steps[1] == SEQ_STEP_REST &&
	      t.steps[4] == SEQ_STEP_HIT && t.steps[15] == SEQ_STEP_HIT &&
	      t.steps[14] == SEQ_STEP_REST, "kinds by position");
	seq_pattern_string_format(&t, buf, sizeof buf);
	CHECK(strcmp(buf, "X...x...X...x..x") == 0, "formats back: %s", buf);

	/* separators are ignored; steps past the new length are cleared */
	t.probability[2] = 40;
	t.ratchet[2] = 3;
	t.probability[10] = 25;
	t.ratchet[10] = 4;
	CHECK(seq_pattern_string_parse("X.x. | x..X", &t, err, sizeof err) == 0,
	      "separators ok: %s", err);
	CHECK(t.length == 8, "8 steps (separators not counted): %d", t.length);
	seq_pattern_string_format(&t, buf, sizeof buf);
	CHECK(strcmp(buf, "X.x.x..X") == 0, "formats without separators: %s", buf);
	CHECK(t.probability[2] == 40 && t.ratchet[2] == 3, "kept step keeps probability and ratchet");
	CHECK(t.probability[10] == 100 && t.ratchet[10] == 1 && t.steps[10] == SEQ_STEP_REST,
	      "cleared step past the length back to defaults");
	CHECK(t.steps[12] == SEQ_STEP_REST, "old step 12 cleared");

	CHECK(seq_pattern_string_parse("x", &t, err, sizeof err) == 0 && t.length == 1,
	      "1 step");
	char s64[65];
	memset(s64, 'x', 64);
	s64[64] = 0;
	CHECK(seq_pattern_string_parse(s64, &t, err, sizeof err) == 0 && t.length == 64,
	      "64 steps");
	seq_pattern_string_format(&t, buf, sizeof buf);
	CHECK(strlen(buf) == 64, "64 formatted");
	seq_pattern_string_format(&t, buf, 5);
	CHECK(strcmp(buf, "xxxx") == 0, "format truncates to the buffer: %s", buf);
	char s64sep[80];
	snprintf(s64sep, sizeof s64sep, "%.32s|%.32s", s64, s64);
	CHECK(seq_pattern_string_parse(s64sep, &t, err, sizeof err) == 0 && t.length == 64,
	      "64 steps with a separator");
}

static void test_parse_bad(void)
{
	struct seq_track t;
	char err[128];
	seq_track_init(&t, "hat");
	seq_pattern_string_parse("x.x.X.x.", &t, err, sizeof err);
	t.probability[3] = 50;
	t.ratchet[5] = 2;

	expect_refused(&t, "x.x.a...", "bad character 'a' at 5: use X, x or .");
	expect_refused(&t, "x.x.|.-x", "bad character '-' at 7");
	expect_refused(&t, "o...", "'o' at 1");
	expect_refused(&t, "x..\t", "'\\x09' at 4");
	expect_refused(&t, "x..\xc3\xa9", "'\\xc3' at 4");
	expect_refused(&t, "", "0 steps: a pattern has 1 to 64");
	expect_refused(&t, " | ", "0 steps");
	expect_refused(&t, NULL, "no pattern");
	char s65[66];
	memset(s65, '.', 65);
	s65[65] = 0;
	expect_refused(&t, s65, "65 steps: a pattern has 1 to 64");
	char s200[201];
	memset(s200, 'X', 200);
	s200[200] = 0;
	expect_refused(&t, s200, "200 steps");
	/* a bad character is named even in an overlong string */
	s200[150] = 'q';
	expect_refused(&t, s200, "'q' at 151");
}

static void test_step_lengths(void)
{
	static const struct {
		const char *text;
		uint16_t num, den;
	} good[] = {
		{"1/4", 1, 4}, {"1/8", 1, 8}, {"1/16", 1, 16}, {"1/32", 1, 32}, {"1/64", 1, 64},
		{"1/4t", 1, 6}, {"1/8t", 1, 12}, {"1/16t", 1, 24}, {"1/32t", 1, 48},
	};
	char err[160], buf[16];
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		uint16_t num = 0, den = 0;
		int r = seq_step_length_parse(good[i].text, &num, &den, err, sizeof err);
		CHECK(r == 0 && num == good[i].num && den == good[i].den, "%s -> %u/%u (got %u/%u)",
		      good[i].text, good[i].num, good[i].den, num, den);
		seq_step_length_format(num, den, buf, sizeof buf);
		CHECK(strcmp(buf, good[i].text) == 0, "%u/%u formats as %s (got %s)", num, den,
		      good[i].text, buf);
	}
	static const char *bad[] = {"1/5", "1/16x", "16", "", "1/128", "2/16", "1/16 ",
				    "1/64t", "1/2", "1/16T"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint16_t num = 7, den = 9;
		int r = seq_step_length_parse(bad[i], &num, &den, err, sizeof err);
		CHECK(r == -1 && num == 7 && den == 9, "'%s' refused, outputs untouched", bad[i]);
		CHECK(strstr(err, "bad step length") && strstr(err, "1/16t"),
		      "'%s': error says what is allowed: %s", bad[i], err);
	}
	uint16_t num = 7, den = 9;
	CHECK(seq_step_length_parse(NULL, &num, &den, err, sizeof err) == -1, "NULL refused");
	seq_step_length_format(3, 32, buf, sizeof buf);
	CHECK(strcmp(buf, "3/32") == 0, "other lengths show as a fraction: %s", buf);
}

int main(void)
{
	test_defaults();
	test_names();
	test_parse_good();
	test_parse_bad();
	test_step_lengths();
	printf("seq-pattern: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
