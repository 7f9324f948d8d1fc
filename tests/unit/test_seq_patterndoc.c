/*
 * cl-seq pattern documents and slots, with real files in a mkdtemp folder:
 * a pattern written out and read back is the same struct byte for byte
 * (in memory, through text, and through a slot file); a hand-written
 * document gives the values it says and the defaults for the rest; every
 * kind of bad document is refused with a message naming the place and
 * leaves the caller's pattern untouched; slot numbers parse strictly;
 * saving keeps the previous version beside the slot in one step, and
 * filing moves it to backups (each one loadable), also on a file system
 * without RENAME_EXCHANGE and for what a crash left; a save that fails
 * at any step of the atomic write (fault injection) leaves the slot
 * loading the previous version and keeps nothing;
 * missing, corrupt, wrong-schema and hostile slot files are refused;
 * the slot list shows filled slots and marks corrupt ones.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cl_check.h"
#include "cl_doc.h"
#include "pattern.h"
#include "patterndoc.h"
#include "voices.h"

static char dir[] = "/tmp/test-seq-patterndoc-XXXXXX";

static const char *at(const char *name)
{
	static char paths[8][PATH_MAX];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

static char *read_text(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Files in folder whose names start with prefix. */
static int count_files(const char *folder, const char *prefix)
{
	int n = 0;
	DIR *d = opendir(folder);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	if (d)
		closedir(d);
	return n;
}

/* The names in folder starting with prefix, sorted, into names[max]. */
static int list_files(const char *folder, const char *prefix, char names[][256], int max)
{
	int n = 0;
	DIR *d = opendir(folder);
	struct dirent *e;
	while (d && (e = readdir(d)) && n < max)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			snprintf(names[n++], 256, "%s", e->d_name);
	if (d)
		closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char tmp[256];
			memcpy(tmp, names[j], 256);
			memcpy(names[j], names[j - 1], 256);
			memcpy(names[j - 1], tmp, 256);
		}
	return n;
}

/* A document from text written with ' for " (readability). */
static json_t *parse_doc(const char *text)
{
	static char buf[1 << 14];
	snprintf(buf, sizeof buf, "%s", text);
	for (char *c = buf; *c; c++)
		if (*c == '\'')
			*c = '"';
	char err[256];
	json_t *j = cl_doc_parse(buf, strlen(buf), err, sizeof err);
	if (!j)
		printf("test document does not parse: %s\n%s\n", err, buf);
	return j;
}

/* A zeroed pattern with the model's defaults. */
static void fresh(struct seq_pattern *p)
{
	memset(p, 0, sizeof *p);
	seq_pattern_init(p);
}

/* Add a track with defaults (zeroed first) and return it. */
static struct seq_track *add_track(struct seq_pattern *p, const char *name, const char *steps)
{
	struct seq_track *t = &p->tracks[p->track_count++];
	char err[128];
	memset(t, 0, sizeof *t);
	seq_track_init(t, name);
	if (seq_pattern_string_parse(steps, t, err, sizeof err) != 0)
		printf("test pattern %s: %s\n", steps, err);
	return t;
}

static void set_voice(struct seq_track *t, int kind)
{
	t->voice = (uint8_t)kind;
	memset(t->voice_params, 0, sizeof t->voice_params);
	seq_voice_defaults(kind, t->voice_params);
}

/* The pattern every refusal must leave untouched. */
static struct seq_pattern sentinel;

static void make_sentinel(void)
{
	fresh(&sentinel);
	snprintf(sentinel.name, sizeof sentinel.name, "sentinel");
	add_track(&sentinel, "keep", "x.x.");
}

/* j must be refused with an error containing want; out untouched. */
static void refuse_json(json_t *j, const char *want)
{
	static struct seq_pattern out;
	char err[512] = "";
	memcpy(&out, &sentinel, sizeof out);
	int r = j ? seq_pattern_from_json(j, &out, err, sizeof err) : 0;
	CHECK(j && r == -1 && strstr(err, want), "refused with \"%s\": got r=%d \"%s\"", want, r, err);
	CHECK(memcmp(&out, &sentinel, sizeof out) == 0, "refused document left out untouched (%s)", want);
}

/* text must be refused with an error containing want; out untouched. */
static void refuse(const char *text, const char *want)
{
	json_t *j = parse_doc(text);
	refuse_json(j, want);
	json_decref(j);
}

/* A pattern that uses every field. */
static void make_rich(struct seq_pattern *p)
{
	fresh(p);
	snprintf(p->name, sizeof p->name, "Acid Test 5");
	snprintf(p->genre, sizeof p->genre, "techno");
	snprintf(p->tags[0], sizeof p->tags[0], "acid");
	snprintf(p->tags[1], sizeof p->tags[1], "303");
	p->tag_count = 2;
	p->swing = 0.25f;
	p->seed = 4000000000u;

	struct seq_track *k = add_track(p, "kick", "X...X...X...X...");
	k->channel = 10;
	k->notes[0] = 36;
	k->gate = 0.2f;
	k->swing = 0.0f;
	set_voice(k, SEQ_VOICE_KICK);
	k->voice_params[seq_voice_param_index(SEQ_VOICE_KICK, "decay")] = 0.45f;

	struct seq_track *b = add_track(p, "bass", "x.xXx..x.X");
	b->channel = 2;
	b->notes[0] = 36;
	b->notes[1] = 48;
	b->notes[2] = 39;
	b->note_count = 3;
	b->velocity = 90;
	b->accent = 37;
	b->gate = 1.5f;
	b->swing = 0.3f;
	b->swing_ref = 8;
	b->probability[1] = 0;
	b->probability[3] = 55;
	b->ratchet[2] = 3;
	b->ratchet[9] = 8;
	b->mute = true;
	set_voice(b, SEQ_VOICE_ACID);
	b->voice_params[seq_voice_param_index(SEQ_VOICE_ACID, "cutoff")] = 812.5f;
	b->voice_params[seq_voice_param_index(SEQ_VOICE_ACID, "res")] = 0.1f;

	struct seq_track *h = add_track(p, "hat_2", "x");
	char err[128];
	seq_step_length_parse("1/16t", &h->step_num, &h->step_den, err, sizeof err);
	h->solo = true;
	h->gate = 0.01f;
	h->velocity = 1;
	h->accent = 0;
	h->notes[0] = 127;
}

static void test_round_trip(void)
{
	static struct seq_pattern p, back, back2;
	char err[512] = "";
	make_rich(&p);

	json_t *doc = seq_pattern_to_json(&p);
	CHECK(doc != NULL, "to_json gives a document");
	memset(&back, 0, sizeof back);
	CHECK(seq_pattern_from_json(doc, &back, err, sizeof err) == 0, "its own document reads back (%s)", err);
	CHECK(memcmp(&p, &back, sizeof p) == 0, "to_json then from_json: the same bytes");

	/* the document's shape */
	CHECK(strcmp(json_string_value(json_object_get(doc, "schema")), "cl-seq-pattern/1") == 0,
	      "schema cl-seq-pattern/1");
	json_t *tracks = json_object_get(doc, "tracks");
	json_t *jk = json_array_get(tracks, 0), *jb = json_array_get(tracks, 1), *jh = json_array_get(tracks, 2);
	CHECK(json_array_size(tracks) == 3, "3 tracks written");
	CHECK(strcmp(json_string_value(json_object_get(jk, "pattern")), "X...X...X...X...") == 0 &&
	      strcmp(json_string_value(json_object_get(jk, "step")), "1/16") == 0,
	      "kick pattern and step as text");
	CHECK(json_real_value(json_object_get(jk, "gate")) == 0.2,
	      "gate 0.2f is written as 0.2 (shortest text), got %.17g",
	      json_real_value(json_object_get(jk, "gate")));
	CHECK(!json_object_get(jk, "probability") && !json_object_get(jk, "ratchets"),
	      "probability and ratchets left out when all 100 / 1");
	json_t *prob = json_object_get(jb, "probability"), *rat = json_object_get(jb, "ratchets");
	CHECK(json_array_size(prob) == 10 && json_integer_value(json_array_get(prob, 3)) == 55 &&
	      json_integer_value(json_array_get(prob, 1)) == 0 &&
	      json_integer_value(json_array_get(prob, 0)) == 100,
	      "bass probability: 10 values, [1]=0, [3]=55");
	CHECK(json_array_size(rat) == 10 && json_integer_value(json_array_get(rat, 9)) == 8,
	      "bass ratchets: 10 values, [9]=8");
	CHECK(json_is_null(json_object_get(jh, "swing")) && json_real_value(json_object_get(jb, "swing")) == 0.3,
	      "following swing is null, own swing 0.3");
	CHECK(strcmp(json_string_value(json_object_get(jh, "step")), "1/16t") == 0, "triplet step 1/16t");
	CHECK(strcmp(json_string_value(json_object_get(jh, "voice")), "none") == 0, "voice none");
	json_t *voices = json_object_get(doc, "voices");
	CHECK(json_object_size(voices) == 2 && json_object_get(voices, "kick") && json_object_get(voices, "bass") &&
	      !json_object_get(voices, "hat_2"), "voices for kick and bass only");
	CHECK(json_real_value(json_object_get(json_object_get(voices, "bass"), "cutoff")) == 812.5 &&
	      json_real_value(json_object_get(json_object_get(voices, "bass"), "res")) == 0.1,
	      "bass cutoff 812.5, res 0.1");
	CHECK(json_integer_value(json_object_get(doc, "seed")) == 4000000000LL, "seed 4000000000 (uint32)");

	/* through text, as cl_doc_save writes it */
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	json_t *again = cl_doc_parse(text, strlen(text), err, sizeof err);
	memset(&back2, 0, sizeof back2);
	CHECK(again && seq_pattern_from_json(again, &back2, err, sizeof err) == 0 &&
	      memcmp(&p, &back2, sizeof p) == 0, "through text (15 digits): the same bytes (%s)", err);
	CHECK(strstr(text, "\"gate\": 0.2,") && strstr(text, "\"res\": 0.1"),
	      "the text says 0.2 and 0.1, not 0.200000002980232");
	free(text);
	json_decref(again);
	json_decref(doc);

	/* every voice kind and its defaults survive */
	static struct seq_pattern all;
	fresh(&all);
	for (int k = 0; k < SEQ_VOICE_COUNT; k++) {
		char name[24];
		snprintf(name, sizeof name, "t%d", k);
		struct seq_track *t = add_track(&all, name, "x");
		if (k != SEQ_VOICE_NONE)
			set_voice(t, k);
	}
	all.track_count = SEQ_VOICE_COUNT;
	doc = seq_pattern_to_json(&all);
	memset(&back, 0, sizeof back);
	CHECK(seq_pattern_from_json(doc, &back, err, sizeof err) == 0 && memcmp(&all, &back, sizeof all) == 0,
	      "one track of each voice kind with defaults: the same bytes (%s)", err);
	json_decref(doc);

	/* 32 tracks of 64 steps, an empty pattern */
	fresh(&all);
	for (int i = 0; i < SEQ_MAX_TRACKS; i++) {
		char name[24];
		snprintf(name, sizeof name, "track-%02d", i);
		struct seq_track *t = add_track(&all, name,
			"X.x.X.x.X.x.X.x.X.x.X.x.X.x.X.x.X.x.X.x.X.x.X.x.X.x.X.x.X.x.X.xx");
		t->probability[63] = (uint8_t)i;
		t->ratchet[0] = (uint8_t)(1 + i % 8);
	}
	doc = seq_pattern_to_json(&all);
	memset(&back, 0, sizeof back);
	CHECK(seq_pattern_from_json(doc, &back, err, sizeof err) == 0 && memcmp(&all, &back, sizeof all) == 0 &&
	      back.track_count == 32 && back.tracks[31].length == 64,
	      "32 tracks x 64 steps: the same bytes (%s)", err);
	json_decref(doc);
	fresh(&all);
	doc = seq_pattern_to_json(&all);
	memset(&back, 0, sizeof back);
	CHECK(seq_pattern_from_json(doc, &back, err, sizeof err) == 0 && memcmp(&all, &back, sizeof all) == 0 &&
	      back.track_count == 0 && strcmp(back.name, "Untitled") == 0,
	      "an empty pattern: the same bytes (%s)", err);
	json_decref(doc);
}

/* DESIGN.md's example verbatim: "voices" keyed by voice kind. The acid
 * entry has no acid track (accepted, applies to none); kick's applies to
 * the kick track; a track's own entry beats its kind's. */
static void test_design_example(void)
{
	static struct seq_pattern p;
	char err[512] = "";
	json_t *j = parse_doc(
		"{'schema': 'cl-seq-pattern/1', 'name': 'Pattern 5', 'genre': 'techno',"
		" 'tags': ['acid'], 'bpm': 120.0, 'swing': 0.0,"
		" 'tracks': [{'name': 'kick', 'channel': 10, 'pattern': 'X...X...X...X...',"
		"             'step': '1/16', 'notes': [36], 'velocity': 100, 'accent': 27,"
		"             'gate': 0.2, 'swing': 0.0, 'voice': 'kick', 'mute': false}],"
		" 'voices': {'kick': {'freq': 55.0, 'decay': 0.3, 'amp': 0.8},"
		"            'acid': {'cutoff': 1500.0, 'res': 0.45, 'env_amount': 2500.0,"
		"                     'decay': 0.25, 'drive': 0.2}}}");
	memset(&p, 0, sizeof p);
	CHECK(j && seq_pattern_from_json(j, &p, err, sizeof err) == 0, "DESIGN.md's example loads (%s)", err);
	json_decref(j);
	CHECK(p.tracks[0].voice_params[seq_voice_param_index(SEQ_VOICE_KICK, "freq")] == 55.0f,
	      "its kick settings reach the kick track");
	j = parse_doc(
		"{'schema': 'cl-seq-pattern/1',"
		" 'tracks': [{'name': 'b1', 'pattern': 'x', 'voice': 'acid'},"
		"            {'name': 'b2', 'pattern': 'x', 'voice': 'acid'}],"
		" 'voices': {'acid': {'cutoff': 1500.0}, 'b2': {'cutoff': 300.0}}}");
	memset(&p, 0, sizeof p);
	int cutoff = seq_voice_param_index(SEQ_VOICE_ACID, "cutoff");
	CHECK(j && seq_pattern_from_json(j, &p, err, sizeof err) == 0 &&
	      p.tracks[0].voice_params[cutoff] == 1500.0f && p.tracks[1].voice_params[cutoff] == 300.0f,
	      "a kind's entry applies to its tracks, a track's own entry wins (%s)", err);
	json_decref(j);
	j = parse_doc("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x'}],"
		      " 'voices': {'acid': {'wetness': 1}}}");
	err[0] = '\0';
	CHECK(j && seq_pattern_from_json(j, &p, err, sizeof err) == -1 && strstr(err, "voices.acid.wetness"),
	      "a kind's entry is checked too (%s)", err);
	json_decref(j);
}

static void test_hand_written(void)
{
	static struct seq_pattern p;
	char err[512] = "";
	/* DESIGN.md's shape (with bpm); voices keyed by track name */
	json_t *j = parse_doc(
		"{'schema': 'cl-seq-pattern/1', 'name': 'Pattern 5', 'genre': 'techno',"
		" 'tags': ['acid'], 'bpm': 120.0, 'swing': 0.0,"
		" 'tracks': [{'name': 'kick', 'channel': 10, 'pattern': 'X...X...X...X...',"
		"             'step': '1/16', 'notes': [36], 'velocity': 100, 'accent': 27,"
		"             'gate': 0.2, 'swing': 0.0, 'voice': 'kick', 'mute': false},"
		"            {'name': 'bass', 'pattern': 'x.X. x.x.|xx..', 'voice': 'acid',"
		"             'swing': null, 'swing_ref': 8, 'step': '1/8t'}],"
		" 'voices': {'kick': {'freq': 55.0, 'decay': 0.3, 'amp': 0.8},"
		"            'bass': {'cutoff': 1500.0, 'res': 0.45, 'env_amount': 2500.0,"
		"                     'decay': 0.25, 'drive': 0.2}}}");
	memset(&p, 0, sizeof p);
	CHECK(j && seq_pattern_from_json(j, &p, err, sizeof err) == 0, "DESIGN.md-shaped document parses (%s)", err);
	json_decref(j);
	const struct seq_track *k = &p.tracks[0], *b = &p.tracks[1];
	CHECK(p.track_count == 2 && strcmp(p.name, "Pattern 5") == 0 && strcmp(p.genre, "techno") == 0 &&
	      p.tag_count == 1 && strcmp(p.tags[0], "acid") == 0 && p.swing == 0.0f && p.seed == 1,
	      "name, genre, tags, swing; seed defaults to 1");
	CHECK(k->channel == 10 && k->length == 16 && k->steps[0] == SEQ_STEP_ACCENT && k->steps[1] == SEQ_STEP_REST &&
	      k->steps[4] == SEQ_STEP_ACCENT && k->note_count == 1 && k->notes[0] == 36 && k->velocity == 100 &&
	      k->accent == 27 && k->gate == 0.2f && k->swing == 0.0f && !k->mute && !k->solo,
	      "kick: channel 10, X...X..., note 36, gate 0.2, swing 0");
	CHECK(k->voice == SEQ_VOICE_KICK &&
	      k->voice_params[seq_voice_param_index(SEQ_VOICE_KICK, "freq")] == 55.0f &&
	      k->voice_params[seq_voice_param_index(SEQ_VOICE_KICK, "decay")] == 0.3f &&
	      k->voice_params[seq_voice_param_index(SEQ_VOICE_KICK, "amp")] == 0.8f,
	      "kick voice freq 55, decay 0.3, amp 0.8");
	CHECK(b->length == 12 && b->steps[1] == SEQ_STEP_REST && b->steps[2] == SEQ_STEP_ACCENT &&
	      b->steps[8] == SEQ_STEP_HIT && b->steps[9] == SEQ_STEP_HIT && b->steps[11] == SEQ_STEP_REST,
	      "bass: separators ignored, 12 steps");
	CHECK(b->channel == 1 && b->notes[0] == 60 && b->note_count == 1 && b->velocity == 100 && b->accent == 27 &&
	      b->gate == 0.5f && b->swing == SEQ_SWING_FOLLOW && b->swing_ref == 8 && b->step_num == 1 &&
	      b->step_den == 12 && b->probability[11] == 100 && b->ratchet[11] == 1,
	      "bass: defaults for what the document leaves out, swing null follows, 1/8t = 1/12");
	float defaults[SEQ_VOICE_MAX_PARAMS];
	seq_voice_defaults(SEQ_VOICE_ACID, defaults);
	int n = 0;
	seq_voice_params(SEQ_VOICE_ACID, &n);
	int cutoff = seq_voice_param_index(SEQ_VOICE_ACID, "cutoff");
	bool rest_default = true;
	for (int i = 0; i < n; i++) {
		const char *pn = seq_voice_params(SEQ_VOICE_ACID, &n)[i].name;
		if (strcmp(pn, "cutoff") && strcmp(pn, "res") && strcmp(pn, "env_amount") &&
		    strcmp(pn, "decay") && strcmp(pn, "drive") && b->voice_params[i] != defaults[i])
			rest_default = false;
	}
	CHECK(b->voice == SEQ_VOICE_ACID && b->voice_params[cutoff] == 1500.0f && rest_default,
	      "bass acid cutoff 1500; parameters not given keep their defaults");

	/* a track given a voice but no "voices" entry gets the defaults */
	j = parse_doc("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'h', 'pattern': 'x', 'voice': 'hat'}]}");
	memset(&p, 0, sizeof p);
	seq_voice_defaults(SEQ_VOICE_HAT, defaults);
	CHECK(j && seq_pattern_from_json(j, &p, err, sizeof err) == 0 &&
	      memcmp(p.tracks[0].voice_params, defaults, sizeof defaults) == 0,
	      "voice without a voices entry: defaults (%s)", err);
	json_decref(j);

	/* bounds are inside: written bounds read as the float bounds */
	j = parse_doc("{'schema': 'cl-seq-pattern/1', 'swing': 0.75, 'seed': 0,"
		      " 'tracks': [{'name': 'a', 'pattern': 'x', 'gate': 0.01, 'swing': 0.75,"
		      " 'velocity': 127, 'accent': 127, 'channel': 16, 'notes': [0, 127]},"
		      " {'name': 'b', 'pattern': 'x', 'gate': 2, 'swing': 0, 'velocity': 1, 'accent': 0,"
		      " 'channel': 1}]}");
	memset(&p, 0, sizeof p);
	CHECK(j && seq_pattern_from_json(j, &p, err, sizeof err) == 0 && p.tracks[0].gate == 0.01f &&
	      p.tracks[1].gate == 2.0f && p.tracks[0].swing == 0.75f && p.seed == 0,
	      "range ends 0.01, 2, 0.75, 127, 16, seed 0 are accepted (%s)", err);
	json_decref(j);
}

static void test_refusals(void)
{
#define T(extra) "{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x...'" extra "}]}"
	/* schema */
	refuse("{'tracks': []}", "no \"schema\" field");
	refuse("{'schema': 5, 'tracks': []}", "\"schema\" is an integer, not a string");
	refuse("{'schema': 'cl-fx-chain/1', 'effects': []}", "not a cl-seq-pattern document (schema cl-fx-chain/1)");
	refuse("{'schema': 'cl-seq-pattern/2', 'tracks': []}", "schema cl-seq-pattern/2 is newer");
	refuse("{'schema': 'cl-seq-pattern', 'tracks': []}", "is not of the form kind/version");
	/* top level */
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'tempo': 5}", "unknown key \"tempo\"");
	refuse("{'schema': 'cl-seq-pattern/1'}", "no \"tracks\"");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': {}}", "tracks: must be a list of up to 32 tracks, not an object");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'name': 5}", "name: must be a string, not an integer");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'name': ''}", "name: must not be empty");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'name': "
	       "'0123456789012345678901234567890123456789012345678901234567890123'}",
	       "name: 64 bytes long, at most 63");
	/* jansson's parser refuses \u0000, but a document built in memory can hold it */
	json_t *nul = parse_doc("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x'}]}");
	json_object_set_new(nul, "name", json_stringn("a\0b", 3));
	refuse_json(nul, "name: holds a NUL character");
	json_object_del(nul, "name");
	json_object_set_new(json_array_get(json_object_get(nul, "tracks"), 0), "pattern", json_stringn("x\0q", 3));
	refuse_json(nul, "tracks[0].pattern: holds a NUL character");
	json_object_set_new(json_array_get(json_object_get(nul, "tracks"), 0), "pattern", json_string("x"));
	json_object_set_new(json_array_get(json_object_get(nul, "tracks"), 0), "name", json_stringn("a\0b", 3));
	refuse_json(nul, "tracks[0].name: holds a NUL character");
	json_decref(nul);
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'genre': '01234567890123456789012345678901'}",
	       "genre: 32 bytes long, at most 31");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'tags': 'acid'}", "tags: must be a list of at most 8 strings");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'tags': ['1','2','3','4','5','6','7','8','9']}",
	       "tags: must be a list of at most 8 strings");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'tags': ['ok', 7]}", "tags[1]: must be a string, not an integer");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'tags': ['']}", "tags[0]: must not be empty");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'swing': 0.8}", "swing: 0.8 is outside 0..0.75");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'swing': -0.1}", "swing: -0.1 is outside 0..0.75");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'swing': '0.5'}", "swing: must be a number, not a string");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'swing': 1e300}", "swing: 1e+300 is outside 0..0.75");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'bpm': 0}", "bpm: 0 is outside 1..999");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'seed': -1}", "seed: -1 is outside 0..4294967295");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'seed': 4294967296}", "seed: 4294967296 is outside 0..4294967295");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'seed': 1.5}", "seed: must be an integer, not 1.5");
	/* more than 32 tracks */
	char big[8192];
	size_t used = (size_t)snprintf(big, sizeof big, "{'schema': 'cl-seq-pattern/1', 'tracks': [");
	for (int i = 0; i < 33; i++)
		used += (size_t)snprintf(big + used, sizeof big - used, "%s{'name': 't%d', 'pattern': 'x'}",
					 i ? ", " : "", i);
	snprintf(big + used, sizeof big - used, "]}");
	refuse(big, "tracks: 33 tracks, at most 32");
	/* tracks */
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [5]}", "tracks[0]: must be an object, not an integer");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'pattern': 'x'}]}", "tracks[0]: no \"name\"");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a'}]}", "tracks[0]: no \"pattern\"");
	refuse(T(", 'gatee': 1"), "tracks[0]: unknown key \"gatee\"");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x'},"
	       " {'name': 'b', 'pattern': 'x'}, {'name': 'a', 'pattern': 'x'}]}",
	       "tracks[2].name: a second track called \"a\" (tracks[0])");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a b', 'pattern': 'x'}]}", "tracks[0].name: ");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': '', 'pattern': 'x'}]}", "tracks[0].name: must not be empty");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'abcdefghijabcdefghijabcdefghijab', 'pattern': 'x'}]}",
	       "tracks[0].name: 32 bytes long, at most 31");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 7, 'pattern': 'x'}]}", "tracks[0].name: must be a string");
	refuse(T(", 'channel': 0"), "tracks[0].channel: 0 is outside 1..16");
	refuse(T(", 'channel': 17"), "tracks[0].channel: 17 is outside 1..16");
	refuse(T(", 'channel': '10'"), "tracks[0].channel: must be an integer, not a string");
	refuse(T(", 'channel': 10.5"), "tracks[0].channel: must be an integer, not 10.5");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x.q.'}]}",
	       "tracks[0].pattern: bad character 'q' at 3: use X, x or .");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': "
	       "'x................................................................'}]}",
	       "tracks[0].pattern: 65 steps: a pattern has 1 to 64");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': ''}]}", "tracks[0].pattern: ");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 16}]}",
	       "tracks[0].pattern: must be a string, not an integer");
	refuse(T(", 'step': '1/3'"), "tracks[0].step: ");
	refuse(T(", 'step': 16"), "tracks[0].step: must be a string like \"1/16\", not an integer");
	refuse(T(", 'notes': []"), "tracks[0].notes: must be a list of 1 to 16 notes (0..127)");
	refuse(T(", 'notes': 36"), "tracks[0].notes: must be a list of 1 to 16 notes");
	refuse(T(", 'notes': [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]"), "tracks[0].notes: must be a list of 1 to 16");
	refuse(T(", 'notes': [36, 128]"), "tracks[0].notes[1]: 128 is outside 0..127");
	refuse(T(", 'notes': [-1]"), "tracks[0].notes[0]: -1 is outside 0..127");
	refuse(T(", 'notes': ['C4']"), "tracks[0].notes[0]: must be an integer, not a string");
	refuse(T(", 'velocity': 0"), "tracks[0].velocity: 0 is outside 1..127");
	refuse(T(", 'velocity': 128"), "tracks[0].velocity: 128 is outside 1..127");
	refuse(T(", 'accent': -1"), "tracks[0].accent: -1 is outside 0..127");
	refuse(T(", 'accent': 128"), "tracks[0].accent: 128 is outside 0..127");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x'},"
	       " {'name': 'b', 'pattern': 'x'}, {'name': 'c', 'pattern': 'x', 'gate': 3}]}",
	       "tracks[2].gate: 3 is outside 0.01..2");
	refuse(T(", 'gate': 0.001"), "tracks[0].gate: 0.001 is outside 0.01..2");
	refuse(T(", 'gate': 'long'"), "tracks[0].gate: must be a number, not a string");
	refuse(T(", 'swing': 0.76"), "tracks[0].swing: 0.76 is outside 0..0.75");
	refuse(T(", 'swing': true"), "tracks[0].swing: must be a number, not a boolean");
	refuse(T(", 'swing_ref': 12"), "tracks[0].swing_ref: 12 is not 8 or 16");
	refuse(T(", 'swing_ref': 4"), "tracks[0].swing_ref: 4 is not 8 or 16");
	refuse(T(", 'swing_ref': '8'"), "tracks[0].swing_ref: must be an integer, not a string");
	refuse(T(", 'probability': [100, 50, 0]"), "tracks[0].probability: 3 values for 4 steps (one per step)");
	refuse(T(", 'probability': [100, 50, 0, 101]"), "tracks[0].probability[3]: 101 is outside 0..100");
	refuse(T(", 'probability': [100, -1, 0, 100]"), "tracks[0].probability[1]: -1 is outside 0..100");
	refuse(T(", 'probability': [100, '50', 0, 100]"), "tracks[0].probability[1]: must be an integer, not a string");
	refuse(T(", 'probability': 50"), "tracks[0].probability: must be a list of 0..100, one per step, not an integer");
	refuse(T(", 'ratchets': [1, 0, 1, 1]"), "tracks[0].ratchets[1]: 0 is outside 1..8");
	refuse(T(", 'ratchets': [1, 9, 1, 1]"), "tracks[0].ratchets[1]: 9 is outside 1..8");
	refuse(T(", 'ratchets': [1, 1, 1, 1, 1]"), "tracks[0].ratchets: 5 values for 4 steps");
	refuse(T(", 'mute': 'yes'"), "tracks[0].mute: must be true or false, not a string");
	refuse(T(", 'solo': 1"), "tracks[0].solo: must be true or false, not an integer");
	refuse(T(", 'voice': 'piano'"), "tracks[0].voice: unknown voice \"piano\" (kick, snare, hat, clap, acid or none)");
	refuse(T(", 'voice': 3"), "tracks[0].voice: must be a string (kick, snare, hat, clap, acid or none), not an integer");
	/* voices */
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [], 'voices': []}",
	       "voices: must be an object {track: {parameter: value}}, not a list");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x', 'voice': 'kick'}],"
	       " 'voices': {'b': {'freq': 50}}}", "voices.b: no track or voice called \"b\"");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x'}],"
	       " 'voices': {'a': {'freq': 50}}}", "voices.a: track a has no voice (\"voice\": \"none\")");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x', 'voice': 'kick'}],"
	       " 'voices': {'a': 50}}", "voices.a: must be an object {parameter: value}, not an integer");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x', 'voice': 'kick'}],"
	       " 'voices': {'a': {'cutoff': 500}}}", "voices.a.cutoff: the kick voice has no parameter \"cutoff\" (it has ");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x', 'voice': 'kick'}],"
	       " 'voices': {'a': {'decay': 'long'}}}", "voices.a.decay: must be a number (");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x', 'voice': 'kick'}],"
	       " 'voices': {'a': {'decay': 1e6}}}", "voices.a.decay: 1e+06 is outside ");
	refuse("{'schema': 'cl-seq-pattern/1', 'tracks': [{'name': 'a', 'pattern': 'x', 'voice': 'kick'}],"
	       " 'voices': {'a': {'decay': -1e6}}}", "voices.a.decay: -1e+06 is outside ");
	/* a refusal after some tracks were parsed still leaves out untouched */
	refuse("{'schema': 'cl-seq-pattern/1', 'name': 'changed', 'tracks': [{'name': 'a', 'pattern': 'x'},"
	       " {'name': 'b', 'pattern': 'x', 'velocity': 0}]}", "tracks[1].velocity: 0 is outside 1..127");
	/* not a document at all */
	static struct seq_pattern out;
	char err[256] = "";
	memcpy(&out, &sentinel, sizeof out);
	json_t *arr = json_array();
	CHECK(seq_pattern_from_json(arr, &out, err, sizeof err) == -1 && strstr(err, "not a JSON object") &&
	      memcmp(&out, &sentinel, sizeof out) == 0, "an array is refused: %s", err);
	json_decref(arr);
	CHECK(seq_pattern_from_json(NULL, &out, err, sizeof err) == -1 && memcmp(&out, &sentinel, sizeof out) == 0,
	      "NULL is refused: %s", err);
#undef T
}

static void test_slot_numbers(void)
{
	static const struct { const char *text; int slot; const char *err; } cases[] = {
		{ "5", 5, NULL }, { "005", 5, NULL }, { "1", 1, NULL }, { "128", 128, NULL },
		{ "0128", 128, NULL },
		{ "0", 0, "slot 0 is outside 1..128" },
		{ "129", 0, "slot 129 is outside 1..128" },
		{ "-1", 0, "slot -1 is outside 1..128" },
		{ "99999999999999999999999", 0, "slot 99999999999999999999999 is outside 1..128" },
		{ "abc", 0, "slot \"abc\" is not a number" },
		{ "5x", 0, "slot \"5x\" is not a number" },
		{ " 5", 0, "slot \" 5\" is not a number" },
		{ "5 ", 0, "slot \"5 \" is not a number" },
		{ "+5", 0, "slot \"+5\" is not a number" },
		{ "-", 0, "slot \"-\" is not a number" },
		{ "0x10", 0, "slot \"0x10\" is not a number" },
		{ "5.0", 0, "slot \"5.0\" is not a number" },
		{ "", 0, "no slot number given (1..128)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int slot = -99;
		char err[128] = "";
		int r = seq_slot_parse(cases[i].text, &slot, err, sizeof err);
		if (cases[i].err)
			CHECK(r == -1 && strcmp(err, cases[i].err) == 0 && slot == -99,
			      "slot \"%s\" refused with \"%s\", got r=%d \"%s\"", cases[i].text, cases[i].err, r, err);
		else
			CHECK(r == 0 && slot == cases[i].slot, "slot \"%s\" is %d, got r=%d %d (%s)",
			      cases[i].text, cases[i].slot, r, slot, err);
	}
	int slot = -99;
	char err[128] = "";
	CHECK(seq_slot_parse(NULL, &slot, err, sizeof err) == -1 && slot == -99, "NULL refused: %s", err);
	CHECK(seq_slot_check(1, err, sizeof err) == 0 && seq_slot_check(128, err, sizeof err) == 0,
	      "slots 1 and 128 are fine");
	CHECK(seq_slot_check(0, err, sizeof err) == -1 && strcmp(err, "slot 0 is outside 1..128") == 0, "slot 0: %s", err);
	CHECK(seq_slot_check(129, err, sizeof err) == -1 && strcmp(err, "slot 129 is outside 1..128") == 0,
	      "slot 129: %s", err);
	char path[PATH_MAX];
	CHECK(seq_slot_path("/s", 7, path, sizeof path, err, sizeof err) == 0 &&
	      strcmp(path, "/s/patterns/slots/slot_007.json") == 0, "slot 7 path %s", path);
	CHECK(seq_slot_path("/s", 128, path, sizeof path, err, sizeof err) == 0 &&
	      strcmp(path, "/s/patterns/slots/slot_128.json") == 0, "slot 128 path %s", path);
	CHECK(seq_slot_path(NULL, 7, path, sizeof path, err, sizeof err) == -1 && strstr(err, "no store root"),
	      "no store: %s", err);
	CHECK(seq_slot_path("/s", 0, path, sizeof path, err, sizeof err) == -1 && strstr(err, "slot 0 is outside"),
	      "path of slot 0: %s", err);
	char tiny[16];
	CHECK(seq_slot_path("/a/long/store/root", 7, tiny, sizeof tiny, err, sizeof err) == -1 &&
	      strstr(err, "too long"), "a path that does not fit: %s", err);
}

/* The pattern in a slot file, or fails the check. */
static bool slot_has(const char *store, int slot, const struct seq_pattern *want)
{
	static struct seq_pattern got;
	char err[512];
	memset(&got, 0, sizeof got);
	if (seq_slot_load(store, slot, &got, err, sizeof err) != 0) {
		printf("slot %d does not load: %s\n", slot, err);
		return false;
	}
	return memcmp(&got, want, sizeof got) == 0;
}

static bool file_has(const char *path, const struct seq_pattern *want)
{
	static struct seq_pattern got;
	char err[512];
	memset(&got, 0, sizeof got);
	if (seq_pattern_load_file(path, &got, err, sizeof err) != 0) {
		printf("%s does not load: %s\n", path, err);
		return false;
	}
	return memcmp(&got, want, sizeof got) == 0;
}

/* A version of the rich pattern told apart by its name. */
static void version(struct seq_pattern *p, int v)
{
	make_rich(p);
	memset(p->name, 0, sizeof p->name);
	snprintf(p->name, sizeof p->name, "version %d", v);
	p->tracks[0].velocity = (uint8_t)(10 + v);
}

/* Save, then file the kept version, as cl-seq does around its reply. */
static int save_filed(const char *store, int slot, const struct seq_pattern *p, char *err, size_t errlen)
{
	int r = seq_slot_save(store, slot, p, err, errlen);
	char why[1024];
	if (seq_slot_file_backups(store, why, sizeof why) < 0) {
		printf("filing failed: %s\n", why);
		return -1;
	}
	return r;
}

/* The one kept file in slots/ (".slot_NNN.json.kept-XXXXXX") into path; its count. */
static int kept_file(const char *slots, char *path, size_t len)
{
	char names[8][256];
	int n = list_files(slots, ".slot_", names, 8);
	if (n > 0)
		snprintf(path, len, "%s/%s", slots, names[0]);
	return n;
}

static void test_slots(void)
{
	static struct seq_pattern v1, v2, v3, v4, out;
	char err[1024] = "";
	/* own copies: at() reuses its 8 buffers */
	char store[1024], backups[1024], slots[1024];
	snprintf(store, sizeof store, "%s", at("store"));
	snprintf(backups, sizeof backups, "%s", at("store/patterns/backups"));
	snprintf(slots, sizeof slots, "%s", at("store/patterns/slots"));
	version(&v1, 1);
	version(&v2, 2);
	version(&v3, 3);
	version(&v4, 4);

	/* a store that is not there: nothing is created */
	CHECK(seq_slot_save(store, 5, &v1, err, sizeof err) == -1 && strstr(err, "slot 5: not saved: cannot create") &&
	      strstr(err, "No such file or directory"), "no store folder: %s", err);
	CHECK(mkdir(store, 0755) == 0, "store folder made");
	CHECK(seq_slot_save(NULL, 5, &v1, err, sizeof err) == -1 && strstr(err, "no store root"), "no store: %s", err);
	CHECK(seq_slot_save(store, 0, &v1, err, sizeof err) == -1 && strcmp(err, "slot 0 is outside 1..128") == 0,
	      "save to slot 0: %s", err);
	CHECK(seq_slot_save(store, 129, &v1, err, sizeof err) == -1 && strcmp(err, "slot 129 is outside 1..128") == 0,
	      "save to slot 129: %s", err);

	/* empty */
	memcpy(&out, &sentinel, sizeof out);
	CHECK(seq_slot_load(store, 7, &out, err, sizeof err) == -1 && strcmp(err, "slot 7 is empty") == 0 &&
	      memcmp(&out, &sentinel, sizeof out) == 0, "slot 7 is empty: %s", err);
	CHECK(seq_slot_load(store, 200, &out, err, sizeof err) == -1 && strcmp(err, "slot 200 is outside 1..128") == 0,
	      "load slot 200: %s", err);

	/* save 3 times: 2 backups, each loadable */
	CHECK(seq_slot_save(store, 5, &v1, err, sizeof err) == 0, "slot 5 saved (v1) (%s)", err);
	CHECK(slot_has(store, 5, &v1), "slot 5 loads v1");
	CHECK(count_files(slots, ".") == 2, "no temporaries in slots/ (only . and ..)");
	CHECK(seq_slot_file_backups(store, err, sizeof err) == 0, "nothing to file after the first save (%s)", err);
	CHECK(count_files(backups, "slot_") == 0, "no backup after the first save");
	const char *text = read_text(at("store/patterns/slots/slot_005.json"));
	CHECK(text && strncmp(text, "{\n  \"schema\": \"cl-seq-pattern/1\",\n  \"name\": \"version 1\"", 53) == 0 &&
	      text[strlen(text) - 1] == '\n', "slot_005.json is indented text starting with the schema");
	struct stat before, after;
	CHECK(stat(at("store/patterns/slots/slot_005.json"), &before) == 0, "slot 5 is a file");
	CHECK(seq_slot_save(store, 5, &v2, err, sizeof err) == 0, "slot 5 saved (v2) (%s)", err);
	/* the save is done: v2 in the slot, v1 kept beside it, the very file
	 * it was (one exchange, no copy), nothing in backups/ yet */
	char kept[PATH_MAX];
	CHECK(slot_has(store, 5, &v2) && kept_file(slots, kept, sizeof kept) == 1 && file_has(kept, &v1) &&
	      strstr(kept, "/.slot_005.json.kept-") && count_files(backups, "slot_") == 0,
	      "after the save: v2 in slot 5, v1 kept as %s", kept);
	CHECK(stat(kept, &after) == 0 && after.st_ino == before.st_ino && after.st_nlink == 1,
	      "the kept file is the old slot file itself");
	CHECK(seq_slot_file_backups(store, err, sizeof err) == 1 && count_files(slots, ".") == 2 &&
	      count_files(backups, "slot_005-") == 1, "filing moves it to backups/ (%s)", err);
	CHECK(seq_slot_file_backups(store, err, sizeof err) == 0, "a second filing finds nothing (%s)", err);
	CHECK(save_filed(store, 5, &v3, err, sizeof err) == 0, "slot 5 saved (v3) (%s)", err);
	CHECK(slot_has(store, 5, &v3), "slot 5 loads v3");
	char names[8][256];
	int n = list_files(backups, "slot_005-", names, 8);
	CHECK(n == 2, "3 saves: 2 backups (%d)", n);
	/* slot_005-20250101T120000Z.json, and -1 when saved in the same second */
	bool named = n == 2;
	for (int i = 0; i < n; i++) {
		const char *s = names[i];
		named = named && strlen(s) >= 30 && s[17] == 'T' && s[24] == 'Z' &&
			(strcmp(s + 25, ".json") == 0 || strcmp(s + 25, "-1.json") == 0);
		for (int c = 9; c < 24; c++)
			named = named && (c == 17 || (s[c] >= '0' && s[c] <= '9'));
	}
	CHECK(named, "backup names slot_005-YYYYMMDDTHHMMSSZ[-1].json: %s, %s", n > 0 ? names[0] : "",
	      n > 1 ? names[1] : "");
	if (n == 2) {
		/* same second: "...Z.json" (v1) sorts after "...Z-1.json" (v2) */
		char p0[PATH_MAX], p1[PATH_MAX];
		snprintf(p0, sizeof p0, "%s/%s", backups, names[0]);
		snprintf(p1, sizeof p1, "%s/%s", backups, names[1]);
		bool same_second = strncmp(names[0], names[1], 25) == 0;
		CHECK(same_second ? file_has(p1, &v1) && file_has(p0, &v2) : file_has(p0, &v1) && file_has(p1, &v2),
		      "the backups load as v1 and v2");
	}
	CHECK(count_files(slots, ".") == 2 && count_files(backups, ".") == 2, "no temporaries anywhere");

	/* fault injection: each failing step leaves the slot at v3, no new backup */
	static const struct { enum cl_atomic_fault f; const char *step; } faults[] = {
		{ CL_FAULT_OPEN, "open of " }, { CL_FAULT_WRITE, "write of " },
		{ CL_FAULT_FSYNC, "fsync of " }, { CL_FAULT_CLOSE, "close of " },
		{ CL_FAULT_RENAME, "rename of " },
	};
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		cl_atomic_inject_fault(faults[i].f);
		err[0] = '\0';
		int r = save_filed(store, 5, &v4, err, sizeof err);
		CHECK(r == -1 && strncmp(err, "slot 5: not saved: ", 19) == 0 && strstr(err, faults[i].step) &&
		      strstr(err, "failed"), "fault at %s: save refused: %s", faults[i].step, err);
		CHECK(slot_has(store, 5, &v3), "fault at %s: slot 5 still loads v3", faults[i].step);
		CHECK(count_files(backups, "slot_005-") == 2, "fault at %s: no backup added (%d)", faults[i].step,
		      count_files(backups, "slot_005-"));
		CHECK(count_files(slots, ".") == 2, "fault at %s: no temporary left", faults[i].step);
	}
	/* the folder fsync after the rename: the new version is in place, the
	 * old one is in its backup */
	cl_atomic_inject_fault(CL_FAULT_DIR_FSYNC);
	CHECK(save_filed(store, 5, &v4, err, sizeof err) == -1 &&
	      strstr(err, "slot 5: saved, but the save may not survive a crash: fsync of folder"),
	      "folder fsync fault: %s", err);
	CHECK(slot_has(store, 5, &v4), "folder fsync fault: slot 5 loads v4");
	n = list_files(backups, "slot_005-", names, 8);
	bool v3_kept = false;
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", backups, names[i]);
		static struct seq_pattern b;
		memset(&b, 0, sizeof b);
		if (seq_pattern_load_file(p, &b, err, sizeof err) == 0 && memcmp(&b, &v3, sizeof b) == 0)
			v3_kept = true;
	}
	CHECK(n == 3 && v3_kept, "folder fsync fault: v3 kept as a third backup (%d backups)", n);
	/* a save after the faults works again */
	CHECK(save_filed(store, 5, &v1, err, sizeof err) == 0 && slot_has(store, 5, &v1),
	      "the next save works (%s)", err);
	CHECK(count_files(backups, "slot_005-") == 4, "4 backups now");

	/* a file system without RENAME_EXCHANGE: the old file gets its kept
	 * name by a durable hard link first, then the usual rename */
	CHECK(stat(at("store/patterns/slots/slot_005.json"), &before) == 0, "slot 5 is a file");
	cl_atomic_inject_fault(CL_FAULT_NO_EXCHANGE);
	CHECK(seq_slot_save(store, 5, &v2, err, sizeof err) == 0 && slot_has(store, 5, &v2), "saved without exchange (%s)",
	      err);
	CHECK(kept_file(slots, kept, sizeof kept) == 1 && file_has(kept, &v1) && stat(kept, &after) == 0 &&
	      after.st_ino == before.st_ino, "without exchange: v1 kept as %s, the same file", kept);
	CHECK(seq_slot_file_backups(store, err, sizeof err) == 1 && count_files(backups, "slot_005-") == 5 &&
	      count_files(slots, ".") == 2, "and filed (%s)", err);

	/* what a crash left in slots/: kept files of a save (old version) or
	 * of one cut short (a new version, maybe cut) all go to backups; names
	 * that only look alike stay */
	static const char *const leftovers[] = {
		".slot_009.json.kept-Ab3xZ9", ".slot_009.json.kept-Qq0000", ".slot_010.json.kept-Zz9Zz9",
	};
	static const char *const lookalikes[] = {
		".slot_200.json.kept-Ab3xZ9", ".slot_009.json.kept-Ab3x", ".slot_009.json.tmp-Ab3xZ9",
		".notes.kept-Ab3xZ9",
	};
	char left[PATH_MAX + 64];
	for (size_t i = 0; i < 3; i++) {
		snprintf(left, sizeof left, "%s/%s", slots, leftovers[i]);
		write_text(left, "{\"cut", 5);
	}
	for (size_t i = 0; i < 4; i++) {
		snprintf(left, sizeof left, "%s/%s", slots, lookalikes[i]);
		write_text(left, "x", 1);
	}
	CHECK(seq_slot_file_backups(store, err, sizeof err) == 3 && count_files(backups, "slot_009-") == 2 &&
	      count_files(backups, "slot_010-") == 1 && count_files(slots, ".") == 2 + 4,
	      "3 leftovers filed, 4 look-alikes stay (%s)", err);
	for (size_t i = 0; i < 4; i++) {
		snprintf(left, sizeof left, "%s/%s", slots, lookalikes[i]);
		unlink(left);
	}

	/* a fault on the first save of a slot: nothing appears */
	cl_atomic_inject_fault(CL_FAULT_RENAME);
	CHECK(seq_slot_save(store, 6, &v1, err, sizeof err) == -1 && strstr(err, "slot 6: not saved: rename of"),
	      "first save of slot 6 fails: %s", err);
	CHECK(seq_slot_load(store, 6, &out, err, sizeof err) == -1 && strcmp(err, "slot 6 is empty") == 0,
	      "slot 6 is still empty: %s", err);
	CHECK(count_files(backups, "slot_006-") == 0 && count_files(slots, ".") == 2, "no backup, no temporary");

	/* a pattern that would not load back is not saved */
	static struct seq_pattern bad;
	memcpy(&bad, &v2, sizeof bad);
	bad.tracks[0].channel = 0;
	CHECK(seq_slot_save(store, 5, &bad, err, sizeof err) == -1 &&
	      strcmp(err, "slot 5: not saved: tracks[0].channel: 0 is outside 1..16") == 0,
	      "an invalid pattern is not saved: %s", err);
	memcpy(&bad, &v2, sizeof bad);
	memcpy(&bad.tracks[1].name, "kick", 5);
	CHECK(seq_slot_save(store, 5, &bad, err, sizeof err) == -1 && strstr(err, "a second track called \"kick\""),
	      "duplicate names are not saved: %s", err);
	CHECK(slot_has(store, 5, &v2) && count_files(backups, "slot_005-") == 5 && count_files(slots, ".") == 2, "slot 5 unchanged, no backup");

	/* backups folder is a file: refused before anything changes */
	const char *store2 = at("store2");
	mkdir(store2, 0755);
	mkdir(at("store2/patterns"), 0755);
	write_text(at("store2/patterns/backups"), "x", 1);
	CHECK(seq_slot_save(store2, 1, &v1, err, sizeof err) == -1 && strstr(err, "slot 1: not saved: ") &&
	      strstr(err, "store2/patterns/backups is not a folder"), "backups is a file: %s", err);
	/* slot path is a folder */
	mkdir(at("store2/patterns/slots"), 0755);
	unlink(at("store2/patterns/backups"));
	mkdir(at("store2/patterns/slots/slot_002.json"), 0755);
	CHECK(seq_slot_save(store2, 2, &v1, err, sizeof err) == -1 && strstr(err, "slot_002.json is a folder"),
	      "slot file is a folder (save): %s", err);
	memcpy(&out, &sentinel, sizeof out);
	CHECK(seq_slot_load(store2, 2, &out, err, sizeof err) == -1 && strstr(err, "slot 2: ") &&
	      strstr(err, "is a directory, not a document") && memcmp(&out, &sentinel, sizeof out) == 0,
	      "slot file is a folder (load): %s", err);

	/* save_file / load_file */
	CHECK(seq_pattern_save_file(at("state.json"), &v2, err, sizeof err) == 0 && file_has(at("state.json"), &v2),
	      "save_file then load_file: the same bytes (%s)", err);
	CHECK(seq_pattern_load_file(at("nothing.json"), &out, err, sizeof err) == -1 &&
	      strstr(err, "cannot open") && strstr(err, "No such file"), "load_file of a missing file: %s", err);
	memcpy(&bad, &v2, sizeof bad);
	bad.tracks[2].gate = 3.0f;
	CHECK(seq_pattern_save_file(at("state.json"), &bad, err, sizeof err) == -1 &&
	      strstr(err, "state.json: not saved: tracks[2].gate: 3 is outside 0.01..2") && file_has(at("state.json"), &v2),
	      "save_file refuses an invalid pattern, the file stays: %s", err);
}

/* Write text as slot file `slot` of store and expect a load refusal with want. */
static void refuse_slot(const char *store, int slot, const char *text, size_t len, const char *want)
{
	static struct seq_pattern out;
	char path[PATH_MAX], err[1024] = "", prefix[32];
	seq_slot_path(store, slot, path, sizeof path, err, sizeof err);
	write_text(path, text, len);
	memcpy(&out, &sentinel, sizeof out);
	snprintf(prefix, sizeof prefix, "slot %d: ", slot);
	int r = seq_slot_load(store, slot, &out, err, sizeof err);
	CHECK(r == -1 && strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, want) &&
	      memcmp(&out, &sentinel, sizeof out) == 0, "slot %d refused with \"%s\": %s", slot, want, err);
}

static void test_hostile_slots(void)
{
	const char *store = at("store3");
	static struct seq_pattern v1;
	char err[1024];
	version(&v1, 1);
	mkdir(store, 0755);
	CHECK(seq_slot_save(store, 1, &v1, err, sizeof err) == 0, "slot 1 saved (%s)", err);

	static const char corrupt[] = "{\"schema\": \"cl-seq-pattern/1\", \"tracks\": [";
	refuse_slot(store, 2, corrupt, strlen(corrupt), "invalid JSON at line 1");
	refuse_slot(store, 3, "", 0, "invalid JSON");
	static const char fx[] = "{\"schema\": \"cl-fx-chain/1\", \"effects\": []}";
	refuse_slot(store, 4, fx, strlen(fx), "not a cl-seq-pattern document (schema cl-fx-chain/1)");
	static const char newer[] = "{\"schema\": \"cl-seq-pattern/7\", \"tracks\": []}";
	refuse_slot(store, 5, newer, strlen(newer), "schema cl-seq-pattern/7 is newer than this program understands");
	static const char array[] = "[1, 2, 3]";
	refuse_slot(store, 6, array, strlen(array), "the document is an array, not a JSON object");
	static const char types[] = "{\"schema\": \"cl-seq-pattern/1\", \"tracks\": [{\"name\": [\"k\"], \"pattern\": 5}]}";
	refuse_slot(store, 7, types, strlen(types), "tracks[0].name: must be a string, not a list");
	static const char gate[] = "{\"schema\": \"cl-seq-pattern/1\", \"tracks\": [{\"name\": \"a\", \"pattern\": \"x\"},"
				   "{\"name\": \"b\", \"pattern\": \"x\"},{\"name\": \"c\", \"pattern\": \"x\", \"gate\": 3}]}";
	refuse_slot(store, 8, gate, strlen(gate), "tracks[2].gate: 3 is outside 0.01..2");
	/* nested 10000 deep */
	size_t deep_len = 20000 + 64;
	char *deep = malloc(deep_len);
	size_t used = (size_t)snprintf(deep, deep_len, "{\"schema\": \"cl-seq-pattern/1\", \"tracks\": ");
	for (int i = 0; i < 10000; i++)
		deep[used++] = '[';
	for (int i = 0; i < 10000 && used < deep_len - 2; i++)
		deep[used++] = ']';
	deep[used++] = '}';
	refuse_slot(store, 9, deep, used, "nested deeper than 32 levels");
	free(deep);
	/* 9 MB: over the cap */
	size_t huge_len = 9u * 1024 * 1024;
	char *huge = malloc(huge_len);
	memset(huge, ' ', huge_len);
	memcpy(huge, "{\"schema\": \"cl-seq-pattern/1\", \"tracks\": []}", 44);
	refuse_slot(store, 10, huge, huge_len, "is 9 MB, more than the 8 MB cap");
	free(huge);
	static const char nul[] = "{\"schema\": \"cl-seq-pattern/1\", \"tracks\": []}\0garbage";
	refuse_slot(store, 11, nul, sizeof nul - 1, "invalid JSON");
	static const char many[] = "{\"schema\": \"cl-seq-pattern/1\", \"tracks\": [], \"tracks\": []}";
	refuse_slot(store, 12, many, strlen(many), "duplicate");
	static const char bigint[] = "{\"schema\": \"cl-seq-pattern/1\", \"tracks\": [], \"seed\": 99999999999999999999999}";
	refuse_slot(store, 13, bigint, strlen(bigint), "invalid JSON");
	static const char longname[] = "{\"schema\": \"cl-seq-pattern/1\", \"tracks\": [], \"name\": \""
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
	refuse_slot(store, 14, longname, strlen(longname), "name: 93 bytes long, at most 63");
	/* a dangling symlink counts as empty; a FIFO is refused without blocking */
	char path[PATH_MAX];
	static struct seq_pattern out;
	seq_slot_path(store, 15, path, sizeof path, err, sizeof err);
	CHECK(symlink(at("store3/nowhere.json"), path) == 0, "dangling symlink made");
	CHECK(seq_slot_load(store, 15, &out, err, sizeof err) == -1 && strcmp(err, "slot 15 is empty") == 0,
	      "a dangling symlink: %s", err);
	seq_slot_path(store, 16, path, sizeof path, err, sizeof err);
	CHECK(mkfifo(path, 0644) == 0, "FIFO made");
	memcpy(&out, &sentinel, sizeof out);
	CHECK(seq_slot_load(store, 16, &out, err, sizeof err) == -1 && strstr(err, "is not a regular file") &&
	      memcmp(&out, &sentinel, sizeof out) == 0, "a FIFO: %s", err);

	/* the list: 1 ok, 2..14 and 16 unreadable, 15 (dangling) not there */
	struct seq_slot_info info[128];
	int n = seq_slot_list(store, info, 128);
	CHECK(n == 15, "15 slots listed (%d)", n);
	CHECK(n >= 1 && info[0].slot == 1 && info[0].ok && strcmp(info[0].name, "version 1") == 0 &&
	      strcmp(info[0].genre, "techno") == 0 && info[0].track_count == 3,
	      "slot 1: ok, \"version 1\", techno, 3 tracks");
	bool rest = n == 15;
	for (int i = 1; i < n; i++)
		rest = rest && info[i].slot == (i < 14 ? i + 1 : 16) && !info[i].ok && info[i].name[0] == '\0' &&
		       info[i].track_count == 0;
	CHECK(rest, "slots 2..14 and 16 listed in order with ok=false");
	CHECK(seq_slot_list(store, info, 3) == 3 && info[2].slot == 3, "max 3: the first 3");
	CHECK(seq_slot_list(at("no-such-store"), info, 128) == 0, "a missing store lists nothing");
	CHECK(seq_slot_list(NULL, info, 128) == 0, "no store lists nothing");
	unlink(path);

	/* saving over a corrupt slot keeps the corrupt file as a backup */
	CHECK(save_filed(store, 2, &v1, err, sizeof err) == 0 && slot_has(store, 2, &v1),
	      "slot 2 (corrupt) saved over (%s)", err);
	char names[4][256], bpath[PATH_MAX];
	n = list_files(at("store3/patterns/backups"), "slot_002-", names, 4);
	snprintf(bpath, sizeof bpath, "%s/%s", at("store3/patterns/backups"), n ? names[0] : "none");
	const char *kept = read_text(bpath);
	CHECK(n == 1 && kept && strcmp(kept, corrupt) == 0, "the corrupt file is kept as backup, byte for byte");
}

/* Remove the test folder and everything in it. */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(p);
		else
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(path);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	make_sentinel();
	test_round_trip();
	test_hand_written();
	test_design_example();
	test_refusals();
	test_slot_numbers();
	test_slots();
	test_hostile_slots();
	remove_tree(dir);
	printf("seq-patterndoc: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
