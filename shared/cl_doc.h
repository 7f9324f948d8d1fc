/*
 * JSON documents and atomic files.
 *
 * Every document is a JSON object whose "schema" is "<kind>/<version>".
 * Loading caps the size and the nesting depth, refuses duplicate keys,
 * checks the kind, migrates known older versions and refuses unknown ones
 * with a message a user can act on.
 *
 * Saving never leaves a half-written file: the bytes go to a temporary file
 * in the same folder (".<name>.tmp-XXXXXX", opened O_EXCL), written in full,
 * fsync'd and closed (close checked), renamed over the target, and the
 * folder fsync'd. On any error the temporary is removed and the old file is
 * left as it was. cl_atomic_sweep() removes temporaries a crash left.
 */
#ifndef CL_DOC_H
#define CL_DOC_H

#include <stddef.h>
#include <jansson.h>

#define CL_DOC_MAX_BYTES (8u * 1024u * 1024u)
#define CL_DOC_MAX_DEPTH 32

/* Parse text (not necessarily NUL-terminated). NULL and err on failure. */
json_t *cl_doc_parse(const char *text, size_t len, char *err, size_t errlen);
/* Read and parse a file with the same caps. */
json_t *cl_doc_load_file(const char *path, char *err, size_t errlen);

/* Migrate *doc (owned) from version `from` to `from + 1` in place or by
 * replacing *doc; 0 on success, else -1 and err. */
typedef int (*cl_doc_migrate_fn)(json_t **doc, int from, char *err, size_t errlen);

struct cl_schema {
	const char *kind;     /* "cl-transport" */
	int version;          /* current version */
	int oldest;           /* oldest version that migrate() accepts */
	cl_doc_migrate_fn migrate; /* NULL when there is no older version */
};

/* Check (*doc)'s schema field against s, migrating older versions up to
 * s->version. 0 on success, else -1 and err ("schema cl-x/9 is newer than
 * this program (cl-x/1)", "not a cl-x document (schema cl-y/1)", ...). */
int cl_doc_check_schema(json_t **doc, const struct cl_schema *s,
			char *err, size_t errlen);

/* "<kind>/<version>" into buf. */
const char *cl_doc_schema_string(const struct cl_schema *s, char *buf, size_t len);

/* Load, parse and check in one go. */
json_t *cl_doc_load(const char *path, const struct cl_schema *s,
		    char *err, size_t errlen);

/* Atomically replace path with data[0..len). 0, or -1 and err. */
int cl_atomic_write(const char *path, const void *data, size_t len,
		    char *err, size_t errlen);
/* Dump doc (indented, keys in insertion order, trailing newline) and write
 * it atomically. */
int cl_doc_save(const char *path, const json_t *doc, char *err, size_t errlen);

/* Remove stale temporaries of cl_atomic_write in dir. Returns how many. */
int cl_atomic_sweep(const char *dir);

/* Fault injection for tests: make the next atomic write fail at a step. */
enum cl_atomic_fault {
	CL_FAULT_NONE = 0,
	CL_FAULT_OPEN,
	CL_FAULT_WRITE,    /* a short write, then ENOSPC */
	CL_FAULT_FSYNC,
	CL_FAULT_CLOSE,
	CL_FAULT_RENAME,
	CL_FAULT_DIR_FSYNC, /* after the rename: the new file is in place */
};
void cl_atomic_inject_fault(enum cl_atomic_fault f);

#endif
