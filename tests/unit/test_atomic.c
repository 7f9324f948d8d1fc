/*
 * cl_atomic_write, cl_doc_save and cl_atomic_sweep.
 *
 * Writes read back; with a fault injected at each step (open, write, fsync,
 * close, rename) the old file keeps its bytes, no temporary stays in the
 * folder and the error names the step. The same is checked with real
 * failing syscalls: this program re-executes itself under strace, which
 * makes fsync, write or rename fail in the kernel interface, and under
 * RLIMIT_FSIZE, where a write past the limit really fails (EFBIG) after a
 * short write, like a full disk. The sweep removes only regular files named
 * exactly like our temporaries. cl_atomic_write_keep trades names with the
 * old file (the same inode ends up kept), refuses a folder, leaves all as
 * it was on a fault before the exchange, and falls back to a hard link
 * where renameat2 says EINVAL, injected and under strace.
 *
 * `test-atomic --child-write PATH TEXT` is the child mode: one
 * cl_atomic_write, the error (if any) on stdout, exit 0 or 3;
 * `--child-keep PATH TEXT` the same with cl_atomic_write_keep, printing
 * the kept name on success.
 */
#include "cl_doc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cl_check.h"

static char err[1024];
static char dir[] = "/tmp/test-atomic-XXXXXX";
static char target[PATH_MAX];
static const char old_text[] = "{\"schema\": \"old/1\"}\n";


/* The whole file as a string (static buffer), or NULL. */
static const char *read_back(const char *path)
{
	static char buf[1 << 17];
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Names in dir other than "." and "..", joined by spaces in sorted order. */
static const char *listing(const char *d)
{
	static char out[4096];
	struct dirent **names;
	int n = scandir(d, &names, NULL, alphasort);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
			if (out[0])
				strcat(out, " ");
			strncat(out, names[i]->d_name, sizeof out - strlen(out) - 2);
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return out;
}

static void reset_target(void)
{
	if (cl_atomic_write(target, old_text, strlen(old_text), err, sizeof err) != 0) {
		fprintf(stderr, "test-atomic: cannot set up %s: %s\n", target, err);
		exit(1);
	}
}

/* The folder holds only a.json, with the old bytes. */
static void expect_untouched(const char *what)
{
	const char *got = read_back(target);
	CHECK(got && strcmp(got, old_text) == 0, "%s: old content changed: \"%s\"", what,
	      got ? got : "(missing)");
	const char *ls = listing(dir);
	CHECK(strcmp(ls, "a.json") == 0, "%s: folder holds \"%s\", want only a.json", what, ls);
}

/* err is "<step> of <dir>/.a.json.tmp-XXXXXX failed: <reason>". */
static void expect_step_error(const char *step, const char *reason, const char *what)
{
	char prefix[PATH_MAX + 64];
	snprintf(prefix, sizeof prefix, "%s of %s/.a.json.tmp-", step, dir);
	size_t pl = strlen(prefix);
	bool ok = strncmp(err, prefix, pl) == 0 && strlen(err) > pl + 6;
	for (size_t i = pl; ok && i < pl + 6; i++) {
		char c = err[i];
		ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
	}
	CHECK(ok, "%s: error \"%s\" does not start with \"%sXXXXXX\"", what, err, prefix);
	char tail[PATH_MAX + 128];
	snprintf(tail, sizeof tail, " failed: %s", reason);
	if (strcmp(step, "rename") == 0)
		snprintf(tail, sizeof tail, " to %s failed: %s", target, reason);
	size_t el = strlen(err), tl = strlen(tail);
	CHECK(el > tl && strcmp(err + el - tl, tail) == 0, "%s: error \"%s\" does not end with "
	      "\"%s\"", what, err, tail);
}

static void test_write_read(void)
{
	const char *text = "{\"a\": 1}\n";
	CHECK(cl_atomic_write(target, text, strlen(text), err, sizeof err) == 0,
	      "first write: %s", err);
	CHECK(read_back(target) && strcmp(read_back(target), text) == 0, "first write reads back");
	const char *text2 = "{\"a\": 2, \"b\": [1, 2, 3]}\n";
	CHECK(cl_atomic_write(target, text2, strlen(text2), err, sizeof err) == 0,
	      "overwrite: %s", err);
	CHECK(read_back(target) && strcmp(read_back(target), text2) == 0, "overwrite reads back");
	CHECK(cl_atomic_write(target, "", 0, err, sizeof err) == 0, "empty write: %s", err);
	CHECK(read_back(target) && read_back(target)[0] == '\0', "empty file");

	/* 100 KiB with every byte value, to check the write loop. */
	static char blob[100 * 1024];
	for (size_t i = 0; i < sizeof blob; i++)
		blob[i] = (char)(i * 7 + i / 256);
	CHECK(cl_atomic_write(target, blob, sizeof blob, err, sizeof err) == 0, "blob: %s", err);
	FILE *f = fopen(target, "rb");
	static char back[sizeof blob + 1];
	size_t n = f ? fread(back, 1, sizeof back, f) : 0;
	if (f)
		fclose(f);
	CHECK(n == sizeof blob && memcmp(blob, back, sizeof blob) == 0, "blob reads back (%zu)", n);

	struct stat st;
	mode_t old_mask = umask(022);
	cl_atomic_write(target, "x", 1, err, sizeof err);
	CHECK(stat(target, &st) == 0 && (st.st_mode & 0777) == 0644, "mode 0644 under umask 022 "
	      "(%o)", st.st_mode & 0777);
	umask(077);
	cl_atomic_write(target, "x", 1, err, sizeof err);
	CHECK(stat(target, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600 under umask 077 "
	      "(%o)", st.st_mode & 0777);
	umask(old_mask);
	CHECK(strcmp(listing(dir), "a.json") == 0, "no temporaries after writes: %s", listing(dir));

	/* A relative name writes in the current folder. */
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
		CHECK(cl_atomic_write("rel.json", "r", 1, err, sizeof err) == 0, "relative: %s", err);
		CHECK(read_back("rel.json") && strcmp(read_back("rel.json"), "r") == 0,
		      "relative reads back");
		unlink("rel.json");
		CHECK(chdir(cwd) == 0, "chdir back");
	}

	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/", dir);
	CHECK(cl_atomic_write(path, "x", 1, err, sizeof err) != 0, "a folder path is refused");
	char want[PATH_MAX + 64];
	snprintf(want, sizeof want, "cannot write %s: not a file name", path);
	CHECK(strcmp(err, want) == 0, "folder path error: \"%s\"", err);

	snprintf(path, sizeof path, "%s/missing/x.json", dir);
	CHECK(cl_atomic_write(path, "x", 1, err, sizeof err) != 0, "missing folder refused");
	CHECK(strstr(err, "open of ") == err && strstr(err, "/missing/.x.json.tmp-") != NULL &&
	      strstr(err, "failed: No such file or directory") != NULL,
	      "missing folder error: \"%s\"", err);
}

static void test_faults(void)
{
	static const struct {
		enum cl_atomic_fault fault;
		const char *step;
		const char *reason;
	} cases[] = {
		{ CL_FAULT_OPEN, "open", "Input/output error" },
		{ CL_FAULT_WRITE, "write", "No space left on device" },
		{ CL_FAULT_FSYNC, "fsync", "Input/output error" },
		{ CL_FAULT_CLOSE, "close", "Input/output error" },
		{ CL_FAULT_RENAME, "rename", "Input/output error" },
	};
	const char *new_text = "{\"schema\": \"new/1\", \"padding\": \"xxxxxxxxxxxxxxxx\"}\n";
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		reset_target();
		cl_atomic_inject_fault(cases[i].fault);
		int rc = cl_atomic_write(target, new_text, strlen(new_text), err, sizeof err);
		CHECK(rc == -1, "fault %s: write reported success", cases[i].step);
		expect_step_error(cases[i].step, cases[i].reason, cases[i].step);
		expect_untouched(cases[i].step);

		/* The hook fires once. */
		rc = cl_atomic_write(target, new_text, strlen(new_text), err, sizeof err);
		CHECK(rc == 0 && strcmp(read_back(target), new_text) == 0,
		      "after fault %s the next write works: %s", cases[i].step, err);
	}

	/* After the rename nothing can be undone: the new file is in place and
	 * the error says the folder was not synced. */
	reset_target();
	cl_atomic_inject_fault(CL_FAULT_DIR_FSYNC);
	int rc = cl_atomic_write(target, new_text, strlen(new_text), err, sizeof err);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof want, "fsync of folder %s failed: Input/output error", dir);
	CHECK(rc == -1 && strcmp(err, want) == 0, "folder fsync fault: \"%s\"", err);
	CHECK(strcmp(read_back(target), new_text) == 0, "folder fsync fault: new content in place");
	CHECK(strcmp(listing(dir), "a.json") == 0, "folder fsync fault: no temporary (%s)",
	      listing(dir));

	cl_atomic_inject_fault(CL_FAULT_FSYNC);
	cl_atomic_inject_fault(CL_FAULT_NONE);
	rc = cl_atomic_write(target, "z", 1, err, sizeof err);
	CHECK(rc == 0, "CL_FAULT_NONE clears a pending fault: %s", err);
}

static void test_save(void)
{
	json_t *doc = json_pack("{s:s, s:s, s:f, s:f, s:[i,i], s:{}}", "schema", "cl-x/1",
				"name", "Pattern 5", "swing", 0.1, "bpm", 120.0, "notes", 36, 38,
				"voices");
	CHECK(cl_doc_save(target, doc, err, sizeof err) == 0, "save: %s", err);
	const char *want =
		"{\n"
		"  \"schema\": \"cl-x/1\",\n"
		"  \"name\": \"Pattern 5\",\n"
		"  \"swing\": 0.1,\n"
		"  \"bpm\": 120.0,\n"
		"  \"notes\": [\n"
		"    36,\n"
		"    38\n"
		"  ],\n"
		"  \"voices\": {}\n"
		"}\n";
	const char *got = read_back(target);
	CHECK(got && strcmp(got, want) == 0, "saved text:\n%s\nwant:\n%s", got, want);
	json_t *back = cl_doc_load_file(target, err, sizeof err);
	CHECK(back && json_equal(back, doc), "saved document loads back equal: %s", err);
	json_decref(back);

	/* Saving what was loaded gives the same bytes. */
	json_t *third = json_pack("{s:f}", "x", 1.0 / 3.0);
	cl_doc_save(target, third, err, sizeof err);
	char first[256];
	snprintf(first, sizeof first, "%s", read_back(target));
	json_t *again = cl_doc_load_file(target, err, sizeof err);
	cl_doc_save(target, again, err, sizeof err);
	CHECK(strcmp(first, read_back(target)) == 0, "save/load/save is stable: \"%s\" vs \"%s\"",
	      first, read_back(target));
	json_decref(third);
	json_decref(again);

	reset_target();
	cl_atomic_inject_fault(CL_FAULT_RENAME);
	CHECK(cl_doc_save(target, doc, err, sizeof err) == -1 &&
	      strncmp(err, "rename of ", 10) == 0, "cl_doc_save reports the failing step: %s", err);
	expect_untouched("cl_doc_save with a rename fault");
	json_decref(doc);
}

static void make_file(const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "stale", 5) != 5) {
		perror(path);
		exit(1);
	}
	close(fd);
}

/* "<dir>/.a.json.kept-XXXXXX" with six [A-Za-z0-9]? */
static bool is_kept_name(const char *path)
{
	char prefix[PATH_MAX + 32];
	snprintf(prefix, sizeof prefix, "%s/.a.json.kept-", dir);
	size_t pl = strlen(prefix);
	if (strncmp(path, prefix, pl) != 0 || strlen(path) != pl + 6)
		return false;
	char target_name[64];
	return cl_atomic_kept_target(path + strlen(dir) + 1, target_name, sizeof target_name) &&
	       strcmp(target_name, "a.json") == 0;
}

static void test_keep(void)
{
	char kept[PATH_MAX + 16];
	bool replaced;
	const char *new_text = "{\"schema\": \"new/1\"}\n";

	/* No file yet: it takes the name, nothing is kept. */
	unlink(target);
	CHECK(cl_atomic_write_keep(target, old_text, strlen(old_text), kept, sizeof kept, &replaced,
				   err, sizeof err) == 0 && replaced && kept[0] == '\0',
	      "keep, no old file: %s", err);
	expect_untouched("keep, no old file");

	/* The old file trades names with the new one: the same inode, now
	 * at kept, and nothing else in the folder. */
	struct stat before, after;
	CHECK(stat(target, &before) == 0, "a.json is there");
	CHECK(cl_atomic_write_keep(target, new_text, strlen(new_text), kept, sizeof kept, &replaced,
				   err, sizeof err) == 0 && replaced, "keep: %s", err);
	CHECK(strcmp(read_back(target), new_text) == 0, "keep: the new bytes at a.json");
	CHECK(is_kept_name(kept) && read_back(kept) && strcmp(read_back(kept), old_text) == 0,
	      "keep: the old bytes at %s", kept);
	CHECK(stat(kept, &after) == 0 && after.st_ino == before.st_ino && after.st_nlink == 1,
	      "keep: the kept file is the old file itself");
	char want[PATH_MAX + 64];
	snprintf(want, sizeof want, "%s a.json", kept + strlen(dir) + 1);
	CHECK(strcmp(listing(dir), want) == 0, "keep: folder holds \"%s\"", listing(dir));
	CHECK(cl_atomic_sweep(dir) == 0 && strcmp(listing(dir), want) == 0,
	      "cl_atomic_sweep leaves a kept file alone");
	unlink(kept);

	/* Each step failing before the exchange: the old file stays, nothing
	 * is kept, no temporary. */
	static const struct {
		enum cl_atomic_fault fault;
		const char *step;
	} faults[] = {
		{ CL_FAULT_OPEN, "open of " }, { CL_FAULT_WRITE, "write of " },
		{ CL_FAULT_FSYNC, "fsync of " }, { CL_FAULT_CLOSE, "close of " },
		{ CL_FAULT_RENAME, "rename of " },
	};
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		reset_target();
		cl_atomic_inject_fault(faults[i].fault);
		int rc = cl_atomic_write_keep(target, new_text, strlen(new_text), kept, sizeof kept,
					      &replaced, err, sizeof err);
		CHECK(rc == -1 && !replaced && kept[0] == '\0' && strncmp(err, faults[i].step,
		      strlen(faults[i].step)) == 0 && strstr(err, "/.a.json.kept-"),
		      "keep, fault at %s: %s", faults[i].step, err);
		expect_untouched(faults[i].step);
	}

	/* After the exchange only the folder fsync can fail: both versions
	 * are in place, and the error says so. */
	reset_target();
	cl_atomic_inject_fault(CL_FAULT_DIR_FSYNC);
	CHECK(cl_atomic_write_keep(target, new_text, strlen(new_text), kept, sizeof kept, &replaced,
				   err, sizeof err) == -1 && replaced && strstr(err, "fsync of folder "),
	      "keep, folder fsync fault: %s", err);
	CHECK(strcmp(read_back(target), new_text) == 0 && is_kept_name(kept) &&
	      strcmp(read_back(kept), old_text) == 0, "keep, folder fsync fault: both versions there");
	unlink(kept);

	/* A file system without RENAME_EXCHANGE: a hard link keeps the old
	 * file, then the rename. */
	reset_target();
	CHECK(stat(target, &before) == 0, "a.json is there");
	cl_atomic_inject_fault(CL_FAULT_NO_EXCHANGE);
	CHECK(cl_atomic_write_keep(target, new_text, strlen(new_text), kept, sizeof kept, &replaced,
				   err, sizeof err) == 0 && replaced, "keep without exchange: %s", err);
	CHECK(strcmp(read_back(target), new_text) == 0 && is_kept_name(kept) &&
	      stat(kept, &after) == 0 && after.st_ino == before.st_ino && after.st_nlink == 1 &&
	      strcmp(read_back(kept), old_text) == 0, "keep without exchange: old file kept as %s", kept);
	snprintf(want, sizeof want, "%s a.json", kept + strlen(dir) + 1);
	CHECK(strcmp(listing(dir), want) == 0, "keep without exchange: folder holds \"%s\"", listing(dir));
	unlink(kept);

	/* A symlink at the path is replaced, not followed: the link is kept. */
	char other[PATH_MAX + 16];
	snprintf(other, sizeof other, "%s/other.json", dir);
	CHECK(cl_atomic_write(other, "other", 5, err, sizeof err) == 0, "other.json: %s", err);
	unlink(target);
	CHECK(symlink("other.json", target) == 0, "a.json -> other.json");
	CHECK(cl_atomic_write_keep(target, new_text, strlen(new_text), kept, sizeof kept, &replaced,
				   err, sizeof err) == 0, "keep over a symlink: %s", err);
	struct stat lst;
	CHECK(lstat(target, &lst) == 0 && S_ISREG(lst.st_mode) && lstat(kept, &lst) == 0 &&
	      S_ISLNK(lst.st_mode) && strcmp(read_back(other), "other") == 0,
	      "keep over a symlink: a.json is a file, the link is kept, other.json untouched");
	unlink(kept);
	unlink(other);

	/* A folder at the path is refused; an exchange would move it away. */
	unlink(target);
	CHECK(mkdir(target, 0755) == 0, "a.json is a folder");
	CHECK(cl_atomic_write_keep(target, new_text, strlen(new_text), kept, sizeof kept, &replaced,
				   err, sizeof err) == -1 && !replaced && strstr(err, "it is a folder"),
	      "keep over a folder: %s", err);
	CHECK(strcmp(listing(dir), "a.json") == 0, "keep over a folder: nothing else made");
	rmdir(target);

	/* The two halves: a started write abandoned leaves nothing; one
	 * finished later is the same as the whole. */
	reset_target();
	struct cl_atomic_pending *pending = cl_atomic_start_keep(target, new_text, strlen(new_text),
								 err, sizeof err);
	CHECK(pending != NULL && strstr(listing(dir), ".a.json.kept-") != NULL,
	      "started: the temporary is there (%s)", listing(dir));
	cl_atomic_abandon(pending);
	expect_untouched("started, then abandoned");
	pending = cl_atomic_start_keep(target, new_text, strlen(new_text), err, sizeof err);
	CHECK(pending != NULL && cl_atomic_finish_keep(pending, kept, sizeof kept, &replaced, err,
						       sizeof err) == 0 && replaced &&
	      strcmp(read_back(target), new_text) == 0 && is_kept_name(kept) &&
	      strcmp(read_back(kept), old_text) == 0, "started, then finished: %s", err);
	unlink(kept);

	/* kept too small for the name: refused before anything is written */
	reset_target();
	CHECK(cl_atomic_write_keep(target, new_text, strlen(new_text), kept, 8, &replaced, err,
				   sizeof err) == -1 && strstr(err, "too long"), "small kept: %s", err);
	expect_untouched("small kept buffer");

	static const struct {
		const char *name;
		const char *target;   /* NULL: not a kept name */
	} names[] = {
		{ ".a.json.kept-Ab3xZ9", "a.json" },
		{ ".slot_005.json.kept-000000", "slot_005.json" },
		{ ".x.kept-abcdef", "x" },
		{ ".a.json.kept-Ab3xZ", NULL },
		{ ".a.json.kept-Ab3xZ99", NULL },
		{ ".a.json.kept-Ab_xZ9", NULL },
		{ "a.json.kept-Ab3xZ9", NULL },
		{ ".kept-Ab3xZ9", NULL },
		{ ".a.json.tmp-Ab3xZ9", NULL },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char got[64] = "";
		bool is = cl_atomic_kept_target(names[i].name, got, sizeof got);
		CHECK(names[i].target ? is && strcmp(got, names[i].target) == 0 : !is,
		      "cl_atomic_kept_target(\"%s\"): %s \"%s\"", names[i].name, is ? "yes" : "no", got);
	}
}

static void test_sweep(void)
{
	reset_target();
	make_file(".a.json.tmp-Ab12Cd");
	make_file(".slot_001.json.tmp-123456");
	make_file(".a.json.tmp-12345");     /* 5 characters */
	make_file(".a.json.tmp-1234567");   /* 7 characters */
	make_file("a.json.tmp-123456");     /* no leading dot */
	make_file(".tmp-123456");           /* no name */
	make_file(".a.json.tmp-12_456");    /* not alphanumeric */
	make_file(".a.json.TMP-123456");
	char path[PATH_MAX], link_target[PATH_MAX];
	snprintf(path, sizeof path, "%s/.d.tmp-abcdef", dir);
	CHECK(mkdir(path, 0755) == 0, "mkdir %s", path);
	snprintf(path, sizeof path, "%s/.l.tmp-abcdef", dir);
	snprintf(link_target, sizeof link_target, "%s/a.json", dir);
	CHECK(symlink(link_target, path) == 0, "symlink %s", path);

	int n = cl_atomic_sweep(dir);
	CHECK(n == 2, "sweep removed %d, want 2", n);
	const char *want = ".a.json.TMP-123456 .a.json.tmp-12345 .a.json.tmp-1234567 "
			   ".a.json.tmp-12_456 .d.tmp-abcdef .l.tmp-abcdef .tmp-123456 "
			   "a.json a.json.tmp-123456";
	CHECK(strcmp(listing(dir), want) == 0, "after sweep:\n  %s\nwant\n  %s", listing(dir),
	      want);
	CHECK(strcmp(read_back(target), old_text) == 0, "sweep left a.json alone");
	CHECK(cl_atomic_sweep(dir) == 0, "a second sweep finds nothing");

	/* Clean up the decoys. */
	const char *decoys[] = { ".a.json.tmp-12345", ".a.json.tmp-1234567", "a.json.tmp-123456",
				 ".tmp-123456", ".a.json.tmp-12_456", ".a.json.TMP-123456",
				 ".l.tmp-abcdef" };
	for (size_t i = 0; i < sizeof decoys / sizeof decoys[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, decoys[i]);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/.d.tmp-abcdef", dir);
	rmdir(path);

	snprintf(path, sizeof path, "%s/none", dir);
	CHECK(cl_atomic_sweep(path) == -1, "sweep of a missing folder returns -1");
}

/* Run argv; its stdout into out; the exit status (or -1). */
static int run(char *const argv[], char *out, size_t outlen)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	size_t used = 0;
	ssize_t n;
	while ((n = read(p[0], out + used, outlen - 1 - used)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(p[0]);
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static bool find_in_path(const char *name)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
		if (access(buf, X_OK) == 0)
			return true;
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/* Returns false when strace cannot trace here (then the caller skips). */
static bool test_strace(const char *self)
{
	if (!find_in_path("strace")) {
		CHECK(0, "strace not found: run scripts/install-deps (it installs strace)");
		return true;
	}
	char out[2048];
	char *sanity[] = { "strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=none",
			   "--", "/bin/true", NULL };
	/* LeakSanitizer cannot run under ptrace; in a sanitizer build the
	 * traced child must not try. */
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[1024];
	snprintf(opts, sizeof opts, "%s%sdetect_leaks=0", asan ? asan : "",
		 asan && asan[0] ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	if (run(sanity, out, sizeof out) != 0) {
		fprintf(stderr, "test-atomic: strace is installed but cannot trace here "
			"(ptrace refused?): the real-syscall checks cannot run\n");
		return false;
	}

	/* strace 6.1 injects only into traced calls, so each case traces the
	 * calls it breaks (to /dev/null) rather than "-e trace=none". */
	static const struct {
		const char *trace;
		const char *inject;
		const char *step;
		const char *reason;
	} cases[] = {
		{ "trace=fsync", "inject=fsync:error=EIO", "fsync", "Input/output error" },
		{ "trace=rename,renameat,renameat2",
		  "inject=rename,renameat,renameat2:error=EXDEV", "rename",
		  "Invalid cross-device link" },
		{ "trace=rename,renameat,renameat2",
		  "inject=rename,renameat,renameat2:error=EIO", "rename", "Input/output error" },
		{ "trace=write", "inject=write:error=ENOSPC:when=1", "write",
		  "No space left on device" },
	};
	const char *new_text = "{\"schema\": \"new/1\"}\n";
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		reset_target();
		char *argv[] = { "strace", "-f", "-qq", "-o", "/dev/null",
				 "-e", (char *)cases[i].trace, "-e", (char *)cases[i].inject, "--", (char *)self,
				 "--child-write", target, (char *)new_text, NULL };
		int rc = run(argv, out, sizeof out);
		CHECK(rc == 3, "strace %s: child exit %d, want 3 (write failed); output \"%s\"",
		      cases[i].inject, rc, out);
		size_t len = strlen(out);
		if (len > 0 && out[len - 1] == '\n')
			out[len - 1] = '\0';
		snprintf(err, sizeof err, "%.1000s", out); /* the child's message fits err */
		expect_step_error(cases[i].step, cases[i].reason, cases[i].inject);
		expect_untouched(cases[i].inject);
	}

	/* cl_atomic_write_keep on a kernel interface without RENAME_EXCHANGE
	 * (renameat2 refused with EINVAL, as on a file system that lacks it):
	 * the hard-link fallback runs for real. With renameat2 and rename
	 * failing outright, nothing changes. */
	reset_target();
	struct stat before, after;
	stat(target, &before);
	char *keep_einval[] = { "strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=renameat2",
				"-e", "inject=renameat2:error=EINVAL", "--", (char *)self,
				"--child-keep", target, (char *)new_text, NULL };
	int krc = run(keep_einval, out, sizeof out);
	out[strcspn(out, "\n")] = '\0';
	CHECK(krc == 0 && strcmp(read_back(target), new_text) == 0 && out[0] &&
	      stat(out, &after) == 0 && after.st_ino == before.st_ino &&
	      strcmp(read_back(out), old_text) == 0,
	      "strace renameat2 EINVAL: keep falls back to a link (exit %d, kept \"%s\")", krc, out);
	if (out[0] == '/')
		unlink(out);
	reset_target();
	char *keep_eio[] = { "strace", "-f", "-qq", "-o", "/dev/null", "-e",
			     "trace=rename,renameat,renameat2", "-e",
			     "inject=rename,renameat,renameat2:error=EIO", "--", (char *)self,
			     "--child-keep", target, (char *)new_text, NULL };
	krc = run(keep_eio, out, sizeof out);
	CHECK(krc == 3 && strstr(out, "rename of ") && strstr(out, "Input/output error"),
	      "strace rename EIO: keep fails (exit %d): %s", krc, out);
	expect_untouched("keep under rename EIO");

	/* Control: the same child under strace without injection succeeds. */
	reset_target();
	char *argv[] = { "strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=none", "--",
			 (char *)self, "--child-write", target, (char *)new_text, NULL };
	int rc = run(argv, out, sizeof out);
	CHECK(rc == 0 && strcmp(read_back(target), new_text) == 0,
	      "strace without injection: child exit %d, output \"%s\"", rc, out);
	return true;
}

/* RLIMIT_FSIZE: the kernel cuts the write short, then refuses with EFBIG
 * (SIGXFSZ ignored), as a full disk would; no root needed. */
static void test_file_size_limit(void)
{
	reset_target();
	int p[2];
	if (pipe(p) != 0) {
		CHECK(0, "pipe");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { 4096, 4096 };
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(2);
		static char big[64 * 1024];
		memset(big, 'y', sizeof big);
		int rc = cl_atomic_write(target, big, sizeof big, err, sizeof err);
		if (write(p[1], err, strlen(err)) < 0)
			_exit(2);
		_exit(rc == -1 ? 3 : 0);
	}
	close(p[1]);
	char out[1024];
	size_t used = 0;
	ssize_t n;
	while ((n = read(p[0], out + used, sizeof out - 1 - used)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3,
	      "RLIMIT_FSIZE: child status 0x%x, want exit 3 (write failed)", status);
	snprintf(err, sizeof err, "%s", out);
	expect_step_error("write", "File too large", "RLIMIT_FSIZE");
	expect_untouched("RLIMIT_FSIZE");
}

static void remove_dir(void)
{
	unlink(target);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child-keep") == 0) {
		char kept[PATH_MAX + 16];
		bool replaced;
		if (cl_atomic_write_keep(argv[2], argv[3], strlen(argv[3]), kept, sizeof kept,
					 &replaced, err, sizeof err) != 0) {
			printf("%s\n", err);
			fflush(stdout);
			return 3;
		}
		printf("%s\n", kept);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "--child-write") == 0) {
		if (cl_atomic_write(argv[2], argv[3], strlen(argv[3]), err, sizeof err) != 0) {
			printf("%s\n", err);
			fflush(stdout);
			return 3;
		}
		return 0;
	}

	char self[PATH_MAX];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl <= 0 || mkdtemp(dir) == NULL) {
		perror("test-atomic: setup");
		return 1;
	}
	self[sl] = '\0';
	snprintf(target, sizeof target, "%s/a.json", dir);

	test_write_read();
	test_faults();
	test_save();
	test_keep();
	test_sweep();
	bool traced = test_strace(self);
	test_file_size_limit();
	remove_dir();

	if (failures) {
		fprintf(stderr, "test-atomic: %d check(s) failed\n", failures);
		return 1;
	}
	if (!traced)
		return 77;
	printf("test-atomic: write/read, injected faults at each step, save format, sweep, "
	       "strace-injected fsync/rename/write failures, RLIMIT_FSIZE: all checks passed\n");
	return 0;
}
