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
 * bytes. A test can make the next write fail at one step with
 * cl_atomic_inject_fault(), without root and without a broken disk.
 */
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

/* Atomically replace path with data (procedure in cl_doc.h). */
int cl_atomic_write(const char *path, const void *data, size_t len,
		    char *err, size_t errlen)
{
	return cl_atomic_write_hooked(path, data, len, NULL, err, errlen);
}

int cl_atomic_write_hooked(const char *path, const void *data, size_t len,
			   const struct cl_atomic_hook *hook, char *err, size_t errlen)
{
	int fault = __atomic_exchange_n(&injected_fault, CL_FAULT_NONE, __ATOMIC_SEQ_CST);

	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		set_err(err, errlen, "cannot write %s: not a file name", path);
		return -1;
	}
	/* The folder: "" before the base means the current one, and "/x" has
	 * the root as its folder. */
	size_t dir_len = slash ? (size_t)(slash - path) : 0;
	char *dir = malloc(dir_len + 2);
	size_t tmp_size = strlen(path) + 2 + sizeof TMP_INFIX + TMP_RANDOM_LEN;
	char *tmp = malloc(tmp_size);
	if (dir == NULL || tmp == NULL) {
		free(dir);
		free(tmp);
		set_err(err, errlen, "cannot write %s: %s", path, strerror(ENOMEM));
		return -1;
	}
	if (slash == NULL)
		strcpy(dir, ".");
	else if (dir_len == 0)
		strcpy(dir, "/");
	else
		snprintf(dir, dir_len + 1, "%s", path);

	int rc = -1;
	int fd = -1;
	bool tmp_exists = false;
	for (int attempt = 0; attempt < 100; attempt++) {
		char suffix[TMP_RANDOM_LEN + 1];
		random_suffix(suffix);
		snprintf(tmp, tmp_size, "%.*s.%s" TMP_INFIX "%s",
			 (int)(base - path), path, base, suffix);
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
		goto out;
	}
	tmp_exists = true;

	if (write_all(fd, data, len, fault == CL_FAULT_WRITE) != 0) {
		set_err(err, errlen, "write of %s failed: %s", tmp, strerror(errno));
		goto out;
	}
	int r = fault == CL_FAULT_FSYNC ? (errno = EIO, -1) : fsync(fd);
	if (r != 0) {
		set_err(err, errlen, "fsync of %s failed: %s", tmp, strerror(errno));
		goto out;
	}
	/* close is checked: NFS and some FUSE file systems report write
	 * errors only here. The descriptor is gone either way. */
	r = close(fd);
	fd = -1;
	if (fault == CL_FAULT_CLOSE) {
		errno = EIO;
		r = -1;
	}
	if (r != 0) {
		set_err(err, errlen, "close of %s failed: %s", tmp, strerror(errno));
		goto out;
	}
	if (hook && hook->before_rename && hook->before_rename(hook->userdata, err, errlen) != 0)
		goto out;
	r = fault == CL_FAULT_RENAME ? (errno = EIO, -1) : rename(tmp, path);
	if (r != 0) {
		set_err(err, errlen, "rename of %s to %s failed: %s", tmp, path,
			strerror(errno));
		goto out;
	}
	tmp_exists = false;

	/* The new name is in place; make the rename itself durable. A file
	 * system that cannot fsync a folder (EINVAL) has nothing to flush. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		set_err(err, errlen, "open of folder %s failed: %s", dir, strerror(errno));
		goto out;
	}
	r = fsync(dfd);
	if (fault == CL_FAULT_DIR_FSYNC) {
		errno = EIO;
		r = -1;
	}
	int saved = errno;
	close(dfd);
	if (r != 0 && saved != EINVAL) {
		set_err(err, errlen, "fsync of folder %s failed: %s", dir, strerror(saved));
		goto out;
	}
	rc = 0;

out:
	if (fd >= 0)
		close(fd);
	if (tmp_exists)
		unlink(tmp);
	free(dir);
	free(tmp);
	return rc;
}

/* Dump indented in insertion order with a final newline; write atomically. */
int cl_doc_save(const char *path, const json_t *doc, char *err, size_t errlen)
{
	return cl_doc_save_hooked(path, doc, NULL, err, errlen);
}

int cl_doc_save_hooked(const char *path, const json_t *doc, const struct cl_atomic_hook *hook,
		       char *err, size_t errlen)
{
	/* 15 significant digits: 0.1 stays "0.1" (17 would print
	 * 0.10000000000000001), and a saved value reads back to the same text. */
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				     JSON_REAL_PRECISION(15));
	if (text == NULL) {
		set_err(err, errlen, "cannot write %s: the document cannot be encoded",
			path);
		return -1;
	}
	size_t len = strlen(text);
	char *buf = realloc(text, len + 2);
	if (buf == NULL) {
		free(text);
		set_err(err, errlen, "cannot write %s: %s", path, strerror(ENOMEM));
		return -1;
	}
	buf[len] = '\n';
	buf[len + 1] = '\0';
	int rc = cl_atomic_write_hooked(path, buf, len + 1, hook, err, errlen);
	free(buf);
	return rc;
}

/* True for ".<something>.tmp-XXXXXX" with six [A-Za-z0-9]. */
static bool is_atomic_temporary(const char *name)
{
	size_t n = strlen(name);
	size_t tail = strlen(TMP_INFIX) + TMP_RANDOM_LEN;
	if (name[0] != '.' || n < 2 + tail)
		return false;
	const char *t = name + n - tail;
	if (memcmp(t, TMP_INFIX, strlen(TMP_INFIX)) != 0)
		return false;
	for (const char *p = t + strlen(TMP_INFIX); *p != '\0'; p++) {
		bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= '0' && *p <= '9');
		if (!ok)
			return false;
	}
	return true;
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
