/*
 * File helpers shared by the offline tests (cl-mixer mixdown, cl-fx render):
 * paths in the test's scratch folder, small text files, counting the
 * temporaries a failed write must not leave, and reading a whole audio file.
 * The including test defines `static char dir[]` (its mkdtemp folder) first.
 */
#ifndef CL_TEST_FILES_H
#define CL_TEST_FILES_H

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sndfile.h>

static const char *at(const char *name)
{
	static char paths[8][PATH_MAX];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, PATH_MAX, "%s/%s", dir, name);
	return p;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

static const char *read_text(const char *path)
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

/* Names in the test folder that start with '.' (temporaries). */
static int hidden_files(void)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	if (d)
		closedir(d);
	return n;
}

/* A whole file as interleaved floats; NULL when unreadable. */
static float *read_audio(const char *path, SF_INFO *info)
{
	memset(info, 0, sizeof *info);
	SNDFILE *sf = sf_open(path, SFM_READ, info);
	if (!sf)
		return NULL;
	float *data = malloc(sizeof(float) * (size_t)(info->frames ? info->frames : 1) *
			     (size_t)info->channels);
	sf_count_t got = sf_readf_float(sf, data, info->frames);
	sf_close(sf);
	if (got != info->frames) {
		free(data);
		return NULL;
	}
	return data;
}

#endif
