/*
 * cl-seq: the text a user types (step strings, step lengths, track names)
 * and the defaults of the model.
 *
 * Every parser reads the whole input first and writes its result only
 * when all of it was good, so a refused OSC message or document field
 * leaves the running track exactly as it was. Error texts name the first
 * offending character with its position counted from 1 (separators
 * included, as the user typed them) and say what is allowed, because
 * they go back to the user verbatim in /cl/error.
 */
#include "pattern.h"

#include <stdio.h>
#include <string.h>

/* Write a printable form of byte c into buf ("a", or "\x07"). */
static void char_show(unsigned char c, char *buf, size_t len)
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, len, "%c", c);
	else
		snprintf(buf, len, "\\x%02x", c);
}

void seq_track_init(struct seq_track *t, const char *name)
{
	memset(t, 0, sizeof *t);
	if (name)
		snprintf(t->name, sizeof t->name, "%s", name);
	t->channel = 1;
	t->length = 16;
	for (int i = 0; i < SEQ_MAX_STEPS; i++) {
		t->steps[i] = SEQ_STEP_REST;
		t->probability[i] = 100;
		t->ratchet[i] = 1;
	}
	t->step_num = 1;
	t->step_den = 16;
	t->notes[0] = 60;
	t->note_count = 1;
	t->velocity = 100;
	t->accent = 27;
	t->gate = 0.5f;
	t->swing = SEQ_SWING_FOLLOW;
	t->swing_ref = 16;
	t->voice = SEQ_VOICE_NONE;
}

void seq_pattern_init(struct seq_pattern *p)
{
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "Untitled");
	p->swing = 0.0f;
	p->seed = 1;
	p->track_count = 0;
}

int seq_pattern_find(const struct seq_pattern *p, const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < p->track_count && i < SEQ_MAX_TRACKS; i++)
		if (strncmp(p->tracks[i].name, name, SEQ_NAME_MAX) == 0)
			return i;
	return -1;
}

int seq_track_name_check(const char *name, char *err, size_t errlen)
{
	if (!name || !name[0]) {
		snprintf(err, errlen, "empty track name: use 1 to %d of A-Z a-z 0-9 _ -",
			 SEQ_NAME_MAX - 1);
		return -1;
	}
	size_t n = strlen(name);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok) {
			char shown[8];
			char_show(c, shown, sizeof shown);
			snprintf(err, errlen,
				 "bad character '%s' at %zu in track name: use A-Z a-z 0-9 _ -",
				 shown, i + 1);
			return -1;
		}
	}
	if (n > SEQ_NAME_MAX - 1) {
		snprintf(err, errlen, "track name of %zu characters: at most %d", n,
			 SEQ_NAME_MAX - 1);
		return -1;
	}
	return 0;
}

int seq_pattern_string_parse(const char *text, struct seq_track *t,
			     char *err, size_t errlen)
{
	uint8_t steps[SEQ_MAX_STEPS];
	size_t count = 0;

	if (!text) {
		snprintf(err, errlen, "no pattern: use X, x or . (1 to %d steps)", SEQ_MAX_STEPS);
		return -1;
	}
	/* Count past 64 so the error can say how long the string really was. */
	for (size_t i = 0; text[i]; i++) {
		char c = text[i];
		uint8_t kind;
		if (c == ' ' || c == '|')
			continue;
		if (c == 'X')
			kind = SEQ_STEP_ACCENT;
		else if (c == 'x')
			kind = SEQ_STEP_HIT;
		else if (c == '.')
			kind = SEQ_STEP_REST;
		else {
			char shown[8];
			char_show((unsigned char)c, shown, sizeof shown);
			snprintf(err, errlen, "bad character '%s' at %zu: use X, x or .",
				 shown, i + 1);
			return -1;
		}
		if (count < SEQ_MAX_STEPS)
			steps[count] = kind;
		count++;
	}
	if (count < 1 || count > SEQ_MAX_STEPS) {
		snprintf(err, errlen, "%zu steps: a pattern has 1 to %d", count, SEQ_MAX_STEPS);
		return -1;
	}

	memcpy(t->steps, steps, count);
	for (size_t i = count; i < SEQ_MAX_STEPS; i++) {
		t->steps[i] = SEQ_STEP_REST;
		t->probability[i] = 100;
		t->ratchet[i] = 1;
	}
	t->length = (uint8_t)count;
	return 0;
}

void seq_pattern_string_format(const struct seq_track *t, char *buf, size_t len)
{
	if (len == 0)
		return;
	size_t n = t->length <= SEQ_MAX_STEPS ? t->length : SEQ_MAX_STEPS;
	if (n > len - 1)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = t->steps[i] == SEQ_STEP_ACCENT ? 'X'
			 : t->steps[i] == SEQ_STEP_HIT ? 'x' : '.';
	buf[n] = '\0';
}

/* The plain note values a step may have; a triplet is 2/3 as long, so its
 * denominator is 3/2 of the plain one (1/16t = 1/24). */
static const uint16_t plain_dens[] = {4, 8, 16, 32, 64};
static const uint16_t triplet_dens[] = {4, 8, 16, 32};

int seq_step_length_parse(const char *text, uint16_t *num, uint16_t *den,
			  char *err, size_t errlen)
{
	char buf[16];
	if (text) {
		for (size_t i = 0; i < sizeof plain_dens / sizeof plain_dens[0]; i++) {
			snprintf(buf, sizeof buf, "1/%u", (unsigned)plain_dens[i]);
			if (strcmp(text, buf) == 0) {
				*num = 1;
				*den = plain_dens[i];
				return 0;
			}
		}
		for (size_t i = 0; i < sizeof triplet_dens / sizeof triplet_dens[0]; i++) {
			snprintf(buf, sizeof buf, "1/%ut", (unsigned)triplet_dens[i]);
			if (strcmp(text, buf) == 0) {
				*num = 1;
				*den = (uint16_t)(triplet_dens[i] * 3 / 2);
				return 0;
			}
		}
	}
	snprintf(err, errlen,
		 "bad step length '%.16s': use 1/4, 1/8, 1/16, 1/32, 1/64 or a triplet "
		 "1/4t, 1/8t, 1/16t, 1/32t", text ? text : "");
	return -1;
}

void seq_step_length_format(uint16_t num, uint16_t den, char *buf, size_t len)
{
	if (num == 1) {
		for (size_t i = 0; i < sizeof plain_dens / sizeof plain_dens[0]; i++)
			if (den == plain_dens[i]) {
				snprintf(buf, len, "1/%u", (unsigned)den);
				return;
			}
		for (size_t i = 0; i < sizeof triplet_dens / sizeof triplet_dens[0]; i++)
			if (den == triplet_dens[i] * 3 / 2) {
				snprintf(buf, len, "1/%ut", (unsigned)triplet_dens[i]);
				return;
			}
	}
	/* Not one of ours (a hand-written value): show it as a fraction. */
	snprintf(buf, len, "%u/%u", (unsigned)num, (unsigned)den);
}
