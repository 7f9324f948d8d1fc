/*
 * JSON documents and atomic files.
 *
 * Parsing goes through two gates before jansson sees a byte: the size cap,
 * and a depth scan that counts '[' and '{' outside strings (escapes
 * honoured). jansson itself recurses once per nesting level and only stops
 * at 2048, so the scan is what bounds the stack and keeps documents at the
 * shape people write by hand. jansson then rejects duplicate keys, invalid
 * UTF-8 and anything after the root value; its message is passed on with
 * the line and column.
 *
 * A schema string is "<kind>/<version>". Older versions are migrated one
 * step at a time by the program's migrate function, so each step stays a
 * small, testable change; the "schema" field is rewritten to the current
 * version at the end.
 *
 * cl_atomic_write() follows the procedure in cl_doc.h. Every step that can
 * fail names itself and the file in the error ("fsync of
 * /x/.a.json.tmp-Ab3xZ9 failed: Input/output error"), and any failure
 * before the rename removes the temporary, so the target keeps its old
 * bytes. cl_atomic_write_keep() trades names with RENAME_EXCHANGE, so the
 * old file is never without a name, and falls back to a hard link made
 * durable first where the file system has no exchange (EINVAL). A test
 * can make the next write fail at one step with
 * cl_atomic_inject_fault(), without root and without a broken disk.
 */
#define _GNU_SOURCE /* renameat2 */
#include "cl_doc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_INFIX ".tmp-"
#define KEEP_INFIX ".kept-"   /* cl_atomic_sweep leaves these alone */
#define TMP_RANDOM_LEN 6

static int injected_fault = CL_FAULT_NONE;

/* printf into err; a NULL or empty err buffer is allowed. */
__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "9 MB", "8.1 MB" (rounded up, so a file just over the cap never reads
 * as exactly the cap), or "512 bytes". */
static void format_size(uint64_t bytes, char *buf, size_t len)
{
	const uint64_t mb = 1024u * 1024u;
	if (bytes < mb) {
		snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
		return;
	}
	uint64_t tenths = (bytes * 10 + mb - 1) / mb;
	if (tenths % 10 == 0)
		snprintf(buf, len, "%llu MB", (unsigned long long)(tenths / 10));
	else
		snprintf(buf, len, "%llu.%llu MB", (unsigned long long)(tenths / 10),
			 (unsigned long long)(tenths % 10));
}

/* "an array", "a string" ... for messages. */
static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* Nesting depth check over raw text; 0 when within CL_DOC_MAX_DEPTH. */
static int scan_depth(const char *text, size_t len, char *err, size_t errlen)
{
	int depth = 0;
	bool in_string = false, escaped = false;
	int line = 1, column = 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		column++;
		if (c == '\n') {
			line++;
			column = 0;
		}
		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > CL_DOC_MAX_DEPTH) {
				set_err(err, errlen, "nested deeper than %d levels at line %d, "
					"column %d", CL_DOC_MAX_DEPTH, line, column);
				return -1;
			}
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

/* Parse one document from text[0..len) under the caps; NULL and err. */
json_t *cl_doc_parse(const char *text, size_t len, char *err, size_t errlen)
{
	if (len > CL_DOC_MAX_BYTES) {
		char size[32], cap[32];
		format_size(len, size, sizeof size);
		format_size(CL_DOC_MAX_BYTES, cap, sizeof cap);
		set_err(err, errlen, "document is %s, more than the %s cap", size, cap);
		return NULL;
	}
	if (scan_depth(text, len, err, errlen) != 0)
		return NULL;

	/* JSON_DECODE_ANY: a scalar root gets our clear "not an object"
	 * message below instead of jansson's "'[' or '{' expected". */
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (doc == NULL) {
		set_err(err, errlen, "invalid JSON at line %d, column %d: %s",
			jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		set_err(err, errlen, "the document is %s, not a JSON object",
			json_type_name(doc));
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* Read a regular file of at most CL_DOC_MAX_BYTES and parse it. */
json_t *cl_doc_load_file(const char *path, char *err, size_t errlen)
{
	char size[32], cap[32];
	format_size(CL_DOC_MAX_BYTES, cap, sizeof cap);

	/* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then
	 * refuses it. It changes nothing for a regular file. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		set_err(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "%s is a directory, not a document", path);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s is not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size > CL_DOC_MAX_BYTES) {
		format_size((uint64_t)st.st_size, size, sizeof size);
		set_err(err, errlen, "%s is %s, more than the %s cap", path, size, cap);
		close(fd);
		return NULL;
	}

	/* The file may grow while we read: read until EOF, but never keep
	 * more than the cap plus one byte (enough to know it is too big). */
	size_t room = (size_t)st.st_size + 1;
	char *buf = malloc(room);
	size_t used = 0;
	if (buf == NULL) {
		set_err(err, errlen, "cannot read %s: %s", path, strerror(ENOMEM));
		close(fd);
		return NULL;
	}
	for (;;) {
		if (used == room) {
			if (room > CL_DOC_MAX_BYTES)
				break;
			size_t bigger = room * 2 > (size_t)CL_DOC_MAX_BYTES + 1 ?
					(size_t)CL_DOC_MAX_BYTES + 1 : room * 2;
			char *p = realloc(buf, bigger);
			if (p == NULL) {
				set_err(err, errlen, "cannot read %s: %s", path, strerror(ENOMEM));
				goto fail;
			}
			buf = p;
			room = bigger;
		}
		ssize_t n = read(fd, buf + used, room - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	fd = -1;
	if (used > CL_DOC_MAX_BYTES) {
		set_err(err, errlen, "%s is more than the %s cap", path, cap);
		goto fail;
	}

	char why[256];
	json_t *doc = cl_doc_parse(buf, used, why, sizeof why);
	if (doc == NULL)
		set_err(err, errlen, "%s: %s", path, why);
	free(buf);
	return doc;

fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* "<kind>/<version>" into buf; returns buf. */
const char *cl_doc_schema_string(const struct cl_schema *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%d", s->kind, s->version);
	return buf;
}

/* Split "kind/N" at the last '/'; version must be plain digits, 1..INT_MAX.
 * 0 on success (kind is a pointer into str, kind_len its length). */
static int split_schema(const char *str, const char **kind, size_t *kind_len, int *version)
{
	const char *slash = strrchr(str, '/');
	if (slash == NULL || slash == str || slash[1] == '\0')
		return -1;
	long v = 0;
	for (const char *p = slash + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
		if (v > INT_MAX)
			return -1;
	}
	if (v < 1)
		return -1;
	*kind = str;
	*kind_len = (size_t)(slash - str);
	*version = (int)v;
	return 0;
}

/* Check the schema of *doc against s, migrating older versions. */
int cl_doc_check_schema(json_t **doc, const struct cl_schema *s,
			char *err, size_t errlen)
{
	char want[128];
	cl_doc_schema_string(s, want, sizeof want);

	if (*doc == NULL || !json_is_object(*doc)) {
		set_err(err, errlen, "not a JSON object (want a %s document)", want);
		return -1;
	}
	json_t *field = json_object_get(*doc, "schema");
	if (field == NULL) {
		set_err(err, errlen, "no \"schema\" field (want \"%s\")", want);
		return -1;
	}
	if (!json_is_string(field)) {
		set_err(err, errlen, "\"schema\" is %s, not a string (want \"%s\")",
			json_type_name(field), want);
		return -1;
	}
	const char *str = json_string_value(field);
	const char *kind;
	size_t kind_len;
	int version;
	if (split_schema(str, &kind, &kind_len, &version) != 0) {
		set_err(err, errlen, "schema \"%s\" is not of the form kind/version "
			"(want \"%s\")", str, want);
		return -1;
	}
	if (kind_len != strlen(s->kind) || memcmp(kind, s->kind, kind_len) != 0) {
		set_err(err, errlen, "not a %s document (schema %s)", s->kind, str);
		return -1;
	}
	if (version > s->version) {
		set_err(err, errlen, "schema %s is newer than this program understands (%s)",
			str, want);
		return -1;
	}
	int oldest = (s->migrate != NULL && s->oldest > 0 && s->oldest <= s->version) ?
		     s->oldest : s->version;
	if (version < oldest) {
		set_err(err, errlen, "schema %s is older than this program can read "
			"(oldest %s/%d, current %s)", str, s->kind, oldest, want);
		return -1;
	}
	if (version == s->version)
		return 0;

	for (int v = version; v < s->version; v++) {
		char why[256] = "no reason given";
		if (s->migrate(doc, v, why, sizeof why) != 0 || *doc == NULL ||
		    !json_is_object(*doc)) {
			set_err(err, errlen, "cannot migrate %s/%d to %s/%d: %s",
				s->kind, v, s->kind, v + 1, why);
			return -1;
		}
	}
	if (json_object_set_new(*doc, "schema", json_string(want)) != 0) {
		set_err(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Load, parse and check; errors start with the path. */
json_t *cl_doc_load(const char *path, const struct cl_schema *s,
		    char *err, size_t errlen)
{
	json_t *doc = cl_doc_load_file(path, err, errlen);
	if (doc == NULL)
		return NULL;
	char why[256];
	if (cl_doc_check_schema(&doc, s, why, sizeof why) != 0) {
		set_err(err, errlen, "%s: %s", path, why);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* Set the fault for the next atomic write. */
void cl_atomic_inject_fault(enum cl_atomic_fault f)
{
	__atomic_store_n(&injected_fault, (int)f, __ATOMIC_SEQ_CST);
}

/* Six characters of [A-Za-z0-9]; getrandom when it is available at once,
 * else clock, pid and a counter (O_EXCL catches any collision). */
static void random_suffix(char out[TMP_RANDOM_LEN + 1])
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static unsigned counter;
	unsigned char bytes[TMP_RANDOM_LEN];
	if (getrandom(bytes, sizeof bytes, GRND_NONBLOCK) != (ssize_t)sizeof bytes) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
			     ((uint64_t)getpid() << 16) ^
			     __atomic_add_fetch(&counter, 0x9e3779b9u, __ATOMIC_RELAXED);
		for (size_t i = 0; i < sizeof bytes; i++) {
			x ^= x >> 29;
			x *= 0xbf58476d1ce4e5b9ull;
			bytes[i] = (unsigned char)(x >> 56);
		}
	}
	for (int i = 0; i < TMP_RANDOM_LEN; i++)
		out[i] = alphabet[bytes[i] % (sizeof alphabet - 1)];
	out[TMP_RANDOM_LEN] = '\0';
}

/* Is s exactly TMP_RANDOM_LEN characters of random_suffix's alphabet? */
static bool random_tail(const char *s)
{
	size_t i = 0;
	for (; s[i] != '\0'; i++) {
		bool ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
			  (s[i] >= '0' && s[i] <= '9');
		if (!ok)
			return false;
	}
	return i == TMP_RANDOM_LEN;
}

/* Write all of data, across EINTR and short writes; 0 or -1 with errno.
 * `fault` makes it stop half-way with ENOSPC, as a full disk would. */
static int write_all(int fd, const char *data, size_t len, bool fault)
{
	size_t limit = fault ? len / 2 : len;
	size_t done = 0;
	while (done < limit) {
		ssize_t n = write(fd, data + done, limit - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		done += (size_t)n;
	}
	if (fault) {
		errno = ENOSPC;
		return -1;
	}
	return 0;
}

/* The folder of path, malloc'd: "." for a bare name, "/" for "/x". NULL
 * and err when path names no file or memory is short. */
static char *folder_of(const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		set_err(err, errlen, "cannot write %s: not a file name", path);
		return NULL;
	}
	size_t dir_len = slash ? (size_t)(slash - path) : 0;
	char *dir = malloc(dir_len + 2);
	if (dir == NULL) {
		set_err(err, errlen, "cannot write %s: %s", path, strerror(ENOMEM));
		return NULL;
	}
	if (slash == NULL)
		strcpy(dir, ".");
	else if (dir_len == 0)
		strcpy(dir, "/");
	else
		snprintf(dir, dir_len + 1, "%s", path);
	return dir;
}

/* ".<base><infix>XXXXXX" beside path, a fresh random tail each call. */
static void sibling_name(const char *path, const char *infix, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char suffix[TMP_RANDOM_LEN + 1];
	random_suffix(suffix);
	snprintf(out, size, "%.*s.%s%s%s", (int)(base - path), path, base, infix, suffix);
}

/* Room for sibling_name of path with either infix (cl_doc.h: path + 16). */
static size_t sibling_size(const char *path)
{
	_Static_assert(sizeof KEEP_INFIX + TMP_RANDOM_LEN + 1 <= 16 &&
		       sizeof TMP_INFIX + TMP_RANDOM_LEN + 1 <= 16, "sibling names fit");
	return strlen(path) + 16;
}

/* Open a new temporary beside path (named with infix), write data and
 * start its writeback, so that work done before finish_temporary()
 * overlaps the disk. 0 with the descriptor in *fd and the name in tmp, or
 * -1 and err with nothing left. */
static int start_temporary(const char *path, const char *infix, const void *data, size_t len,
			   int fault, char *tmp, size_t tmp_size, int *fd_out, char *err,
			   size_t errlen)
{
	int fd = -1;
	for (int attempt = 0; attempt < 100; attempt++) {
		sibling_name(path, infix, tmp, tmp_size);
		if (fault == CL_FAULT_OPEN) {
			errno = EIO;
			break;
		}
		fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		set_err(err, errlen, "open of %s failed: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, data, len, fault == CL_FAULT_WRITE) != 0) {
		set_err(err, errlen, "write of %s failed: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	/* Only a hint (the fsync is what counts); file systems without it
	 * say so and lose nothing. */
	sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	*fd_out = fd;
	return 0;
}

/* fsync and close the temporary fd of start_temporary. 0, or -1 and err
 * with the temporary removed. */
static int finish_temporary(int fd, const char *tmp, int fault, char *err, size_t errlen)
{
	int r = fault == CL_FAULT_FSYNC ? (errno = EIO, -1) : fsync(fd);
	if (r != 0) {
		set_err(err, errlen, "fsync of %s failed: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	/* close is checked: NFS and some FUSE file systems report write
	 * errors only here. The descriptor is gone either way. */
	r = close(fd);
	if (fault == CL_FAULT_CLOSE) {
		errno = EIO;
		r = -1;
	}
	if (r != 0) {
		set_err(err, errlen, "close of %s failed: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Make the entries of folder dir durable. A file system that cannot fsync
 * a folder (EINVAL) has nothing to flush. 0, or -1 and err. */
static int sync_folder(const char *dir, bool fault, char *err, size_t errlen)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		set_err(err, errlen, "open of folder %s failed: %s", dir, strerror(errno));
		return -1;
	}
	int r = fault ? (errno = EIO, -1) : fsync(dfd);
	int saved = errno;
	close(dfd);
	if (r != 0 && saved != EINVAL) {
		set_err(err, errlen, "fsync of folder %s failed: %s", dir, strerror(saved));
		return -1;
	}
	return 0;
}

int cl_fsync_folder(const char *dir, char *err, size_t errlen)
{
	return sync_folder(dir, false, err, errlen);
}

/* Atomically replace path with data (procedure in cl_doc.h). */
int cl_atomic_write(const char *path, const void *data, size_t len,
		    char *err, size_t errlen)
{
	int fault = __atomic_exchange_n(&injected_fault, CL_FAULT_NONE, __ATOMIC_SEQ_CST);
	char *dir = folder_of(path, err, errlen);
	size_t tmp_size = sibling_size(path);
	char *tmp = malloc(tmp_size);
	int rc = -1;
	if (dir == NULL || tmp == NULL) {
		if (dir != NULL)
			set_err(err, errlen, "cannot write %s: %s", path, strerror(ENOMEM));
		goto out;
	}
	int fd;
	if (start_temporary(path, TMP_INFIX, data, len, fault, tmp, tmp_size, &fd, err, errlen) != 0 ||
	    finish_temporary(fd, tmp, fault, err, errlen) != 0)
		goto out;
	int r = fault == CL_FAULT_RENAME ? (errno = EIO, -1) : rename(tmp, path);
	if (r != 0) {
		set_err(err, errlen, "rename of %s to %s failed: %s", tmp, path,
			strerror(errno));
		unlink(tmp);
		goto out;
	}
	/* The new name is in place; make the rename itself durable. */
	rc = sync_folder(dir, fault == CL_FAULT_DIR_FSYNC, err, errlen);
out:
	free(dir);
	free(tmp);
	return rc;
}

/* The old file at path gets a second name, durable before the new file
 * takes path: for a file system without RENAME_EXCHANGE. 0 with the name
 * in kept, -1 and errno (ENOENT: there is no old file). */
static int link_kept(const char *path, const char *dir, char *kept, size_t size,
		     char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 100; attempt++) {
		sibling_name(path, KEEP_INFIX, kept, size);
		if (link(path, kept) == 0)
			break;
		if (errno == ENOENT)
			return -1;
		if (errno != EEXIST || attempt == 99) {
			int saved = errno;
			set_err(err, errlen, "cannot keep %s as %s: %s", path, kept, strerror(saved));
			errno = saved;
			return -1;
		}
	}
	if (sync_folder(dir, false, err, errlen) != 0) {
		int saved = errno;
		unlink(kept);
		errno = saved;
		return -1;
	}
	return 0;
}

struct cl_atomic_pending {
	char *path;
	char *dir;
	char *tmp;        /* the temporary, later the kept name */
	int fd;
	int fault;
};

static void pending_free(struct cl_atomic_pending *p)
{
	free(p->path);
	free(p->dir);
	free(p->tmp);
	free(p);
}

/* The first half of cl_atomic_write_keep (cl_doc.h). */
struct cl_atomic_pending *cl_atomic_start_keep(const char *path, const void *data, size_t len,
					       char *err, size_t errlen)
{
	int fault = __atomic_exchange_n(&injected_fault, CL_FAULT_NONE, __ATOMIC_SEQ_CST);
	struct cl_atomic_pending *p = calloc(1, sizeof *p);
	char *dir = folder_of(path, err, errlen);
	if (p == NULL || dir == NULL) {
		if (dir != NULL)
			set_err(err, errlen, "cannot write %s: %s", path, strerror(ENOMEM));
		free(p);
		free(dir);
		return NULL;
	}
	p->dir = dir;
	p->fault = fault;
	p->path = strdup(path);
	p->tmp = malloc(sibling_size(path));
	if (p->path == NULL || p->tmp == NULL) {
		set_err(err, errlen, "cannot write %s: %s", path, strerror(ENOMEM));
		pending_free(p);
		return NULL;
	}
	/* An exchange would move a folder at path out of the way; refuse it
	 * as rename() would. */
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		set_err(err, errlen, "cannot write %s: it is a folder", path);
		pending_free(p);
		return NULL;
	}
	if (start_temporary(path, KEEP_INFIX, data, len, fault, p->tmp, sibling_size(path), &p->fd,
			    err, errlen) != 0) {
		pending_free(p);
		return NULL;
	}
	return p;
}

void cl_atomic_abandon(struct cl_atomic_pending *p)
{
	if (p == NULL)
		return;
	close(p->fd);
	unlink(p->tmp);
	pending_free(p);
}

/* The second half of cl_atomic_write_keep (cl_doc.h). */
int cl_atomic_finish_keep(struct cl_atomic_pending *p, char *kept, size_t kept_size,
			  bool *replaced, char *err, size_t errlen)
{
	const char *path = p->path, *dir = p->dir, *tmp = p->tmp;
	int fault = p->fault;
	size_t tmp_size = sibling_size(path);
	*replaced = false;
	if (kept_size > 0)
		kept[0] = '\0';
	if (kept_size < tmp_size) {
		set_err(err, errlen, "cannot write %s: the path is too long", path);
		cl_atomic_abandon(p);
		return -1;
	}
	int rc = -1;
	bool tmp_exists = false;
	if (finish_temporary(p->fd, tmp, fault, err, errlen) != 0)
		goto out;
	tmp_exists = true;

	/* A few rounds: another writer may create or remove path between an
	 * exchange that finds nothing and a rename that must not replace. */
	for (int round = 0; round < 3 && !*replaced; round++) {
		int r;
		if (fault == CL_FAULT_RENAME)
			r = (errno = EIO, -1);
		else if (fault == CL_FAULT_NO_EXCHANGE)
			r = (errno = EINVAL, -1);
		else
			r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE);
		if (r == 0) {
			/* One step: path is the new file, tmp the old one. */
			snprintf(kept, kept_size, "%s", tmp);
			tmp_exists = false;
			*replaced = true;
			break;
		}
		if (errno == EINVAL || errno == ENOSYS) {
			/* No RENAME_EXCHANGE on this file system: a durable
			 * second name first, then the usual rename. */
			if (link_kept(path, dir, kept, kept_size, err, errlen) == 0) {
				if (rename(tmp, path) != 0) {
					set_err(err, errlen, "rename of %s to %s failed: %s", tmp,
						path, strerror(errno));
					unlink(kept);
					kept[0] = '\0';
					goto out;
				}
				tmp_exists = false;
				*replaced = true;
				break;
			}
			kept[0] = '\0';
			if (errno != ENOENT)
				goto out;
		} else if (errno != ENOENT) {
			set_err(err, errlen, "rename of %s to %s failed: %s", tmp, path,
				strerror(errno));
			goto out;
		}
		/* Nothing at path: the new file takes the name unless someone
		 * was quicker, then round again to keep theirs. */
		r = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
		if (r != 0 && (errno == EINVAL || errno == ENOSYS)) {
			/* link, unlike rename, never replaces (a stray temporary
			 * name is harmless: the caller's next filing takes it) */
			r = link(tmp, path);
			if (r == 0)
				unlink(tmp);
		}
		if (r == 0) {
			tmp_exists = false;
			*replaced = true;
		} else if (errno != EEXIST) {
			set_err(err, errlen, "rename of %s to %s failed: %s", tmp, path,
				strerror(errno));
			goto out;
		}
	}
	if (!*replaced) {
		set_err(err, errlen, "rename of %s to %s failed: %s changes under it", tmp, path,
			path);
		goto out;
	}
	rc = sync_folder(dir, fault == CL_FAULT_DIR_FSYNC, err, errlen);
out:
	if (tmp_exists)
		unlink(tmp);
	pending_free(p);
	return rc;
}

/* Replace keeping the old file (procedure in cl_doc.h). */
int cl_atomic_write_keep(const char *path, const void *data, size_t len, char *kept,
			 size_t kept_size, bool *replaced, char *err, size_t errlen)
{
	*replaced = false;
	if (kept_size > 0)
		kept[0] = '\0';
	struct cl_atomic_pending *p = cl_atomic_start_keep(path, data, len, err, errlen);
	if (p == NULL)
		return -1;
	return cl_atomic_finish_keep(p, kept, kept_size, replaced, err, errlen);
}

char *cl_doc_encode(const json_t *doc, size_t *len)
{
	/* 15 significant digits: 0.1 stays "0.1" (17 would print
	 * 0.10000000000000001), and a saved value reads back to the same text. */
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				     JSON_REAL_PRECISION(15));
	if (text == NULL)
		return NULL;
	size_t n = strlen(text);
	char *buf = realloc(text, n + 2);
	if (buf == NULL) {
		free(text);
		return NULL;
	}
	buf[n] = '\n';
	buf[n + 1] = '\0';
	*len = n + 1;
	return buf;
}

/* cl_doc_encode, or NULL and err naming path. */
static char *encode_document(const char *path, const json_t *doc, size_t *len,
			     char *err, size_t errlen)
{
	char *buf = cl_doc_encode(doc, len);
	if (buf == NULL)
		set_err(err, errlen, "cannot write %s: the document cannot be encoded", path);
	return buf;
}

/* Dump indented in insertion order with a final newline; write atomically. */
int cl_doc_save(const char *path, const json_t *doc, char *err, size_t errlen)
{
	size_t len;
	char *buf = encode_document(path, doc, &len, err, errlen);
	if (buf == NULL)
		return -1;
	int rc = cl_atomic_write(path, buf, len, err, errlen);
	free(buf);
	return rc;
}

/* The target of a kept file's name ".<target>.kept-XXXXXX" into target. */
bool cl_atomic_kept_target(const char *name, char *target, size_t size)
{
	size_t n = strlen(name);
	size_t tail = strlen(KEEP_INFIX) + TMP_RANDOM_LEN;
	if (name[0] != '.' || n < 2 + tail || !random_tail(name + n - TMP_RANDOM_LEN) ||
	    memcmp(name + n - tail, KEEP_INFIX, strlen(KEEP_INFIX)) != 0)
		return false;
	size_t target_len = n - tail - 1;
	if (target_len + 1 > size)
		return false;
	memcpy(target, name + 1, target_len);
	target[target_len] = '\0';
	return true;
}

/* True for ".<something>.tmp-XXXXXX" with six [A-Za-z0-9]. */
static bool is_atomic_temporary(const char *name)
{
	size_t n = strlen(name);
	size_t tail = strlen(TMP_INFIX) + TMP_RANDOM_LEN;
	return name[0] == '.' && n >= 2 + tail && random_tail(name + n - TMP_RANDOM_LEN) &&
	       memcmp(name + n - tail, TMP_INFIX, strlen(TMP_INFIX)) == 0;
}

/* Remove regular files named like our temporaries from dir; the count, or
 * -1 when dir cannot be read. Run it when no writer is busy in dir. */
int cl_atomic_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	int fd = dirfd(d);
	int removed = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_atomic_temporary(e->d_name))
			continue;
		struct stat st;
		if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(fd, e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

int cl_doc_known_keys(json_t *obj, const char *const *keys, const char *where,
		      char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		const char *const *k;
		for (k = keys; *k; k++)
			if (strcmp(*k, key) == 0)
				break;
		if (!*k) {
			snprintf(err, errlen, "%sunknown key \"%s\"", where, key);
			return -1;
		}
	}
	return 0;
}

int cl_doc_id_check(const char *id, char *err, size_t errlen)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64 || id[0] == '.') {
		snprintf(err, errlen, "an id is 1..64 characters, not starting with '.'");
		return -1;
	}
	for (const char *c = id; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '_' || *c == '.')) {
			snprintf(err, errlen, "an id holds only letters, digits, '-', '_' and '.'");
			return -1;
		}
	}
	return 0;
}

int cl_store_path(const char *store, const char *folder, const char *id,
		  char *path, size_t len, char *err, size_t errlen)
{
	if (!store) {
		snprintf(err, errlen, "no store root: start with --store DIR");
		return -1;
	}
	if (cl_doc_id_check(id, err, errlen) != 0)
		return -1;
	snprintf(path, len, "%s/%s/%s.json", store, folder, id);
	return 0;
}

int cl_store_save(const char *store, const char *folder, const char *id,
		  const json_t *doc, char *err, size_t errlen)
{
	char path[4096], dir[4096];
	if (cl_store_path(store, folder, id, path, sizeof(path), err, errlen) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/%s", store, folder);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	return cl_doc_save(path, doc, err, errlen);
}
