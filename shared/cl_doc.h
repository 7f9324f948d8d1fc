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
 *
 * Error texts (err):
 *   parse:  "invalid JSON at line L, column C: <jansson's text>",
 *           "nested deeper than 32 levels at line L, column C",
 *           "document is 8.1 MB, more than the 8 MB cap",
 *           "the document is an array, not a JSON object"
 *   file:   "cannot open P: <strerror>", "P is a directory, not a document",
 *           "P is not a regular file", "P is 9 MB, more than the 8 MB cap",
 *           "cannot read P: <strerror>", "P: <parse error>"
 *   schema: "no \"schema\" field (want \"cl-x/1\")",
 *           "\"schema\" is an integer, not a string (want \"cl-x/1\")",
 *           "schema \"x\" is not of the form kind/version (want \"cl-x/1\")",
 *           "not a cl-x document (schema cl-y/1)",
 *           "schema cl-x/9 is newer than this program understands (cl-x/1)",
 *           "schema cl-x/1 is older than this program can read (oldest
 *            cl-x/2, current cl-x/3)",
 *           "cannot migrate cl-x/1 to cl-x/2: <migrate's err>"
 *           (cl_doc_load prefixes these with "P: ")
 *   write:  "<step> of <temporary> failed: <strerror>", step one of open,
 *           write, fsync, close; "rename of <temporary> to P failed: ...";
 *           "open of folder D failed: ...", "fsync of folder D failed: ..."
 *           (these two come after the rename: the new file is in place but
 *           the rename may not survive a crash); "cannot write P: not a
 *           file name".
 */
#ifndef CL_DOC_H
#define CL_DOC_H

#include <stdbool.h>
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
 * s->version one step at a time and then setting "schema" to the current
 * string. 0 on success, else -1 and err (texts above). With migrate NULL
 * (or oldest outside 1..version) only the current version is accepted. */
int cl_doc_check_schema(json_t **doc, const struct cl_schema *s,
			char *err, size_t errlen);

/* "<kind>/<version>" into buf. */
const char *cl_doc_schema_string(const struct cl_schema *s, char *buf, size_t len);

/* Load, parse and check in one go. */
json_t *cl_doc_load(const char *path, const struct cl_schema *s,
		    char *err, size_t errlen);

/* Is id a safe document id under a store folder (scenes/<id>.json,
 * chains/<id>.json)? 1..64 letters, digits, '-', '_' and '.', not starting
 * with '.': no id can name a path outside its folder. 0, or -1 and err. */
int cl_doc_id_check(const char *id, char *err, size_t errlen);

/* The path of document `id` in <store>/<folder>/<id>.json, after checking
 * there is a store and the id is safe. 0, or -1 and err ("no store root",
 * the id's fault). */
int cl_store_path(const char *store, const char *folder, const char *id,
		  char *path, size_t len, char *err, size_t errlen);
/* Save doc atomically as <store>/<folder>/<id>.json, creating the folder.
 * 0, or -1 and err. */
int cl_store_save(const char *store, const char *folder, const char *id,
		  const json_t *doc, char *err, size_t errlen);

/* Refuse a key of obj that is not in the NULL-terminated list keys: 0, or
 * -1 and err "<where>unknown key \"k\"". A typo in a document is an
 * error, not a silently ignored setting. */
int cl_doc_known_keys(json_t *obj, const char *const *keys, const char *where,
		      char *err, size_t errlen);

/* Atomically replace path with data[0..len). The new file has mode 0644
 * less the umask; a symlink at path is replaced, not followed. 0, or -1
 * and err. */
int cl_atomic_write(const char *path, const void *data, size_t len,
		    char *err, size_t errlen);
/* Atomically replace path with data and keep the file it replaces: the
 * new bytes go to a temporary ".<name>.kept-XXXXXX" beside path (written,
 * fsync'd, closed), which then trades names with the old file in one step
 * (renameat2 RENAME_EXCHANGE), and the folder is fsync'd. When it returns
 * 0, both are durable: the new version at path, the old one at kept (""
 * when there was no file at path). At no moment is path missing or the
 * old file without a name, so a crash loses neither. The caller moves
 * kept where it belongs; after a crash, files named like kept with
 * cl_atomic_kept_target() are either an old version or a new one that
 * never took the name, complete or not: the caller decides (cl_atomic_sweep
 * leaves them alone). Where the file system has no RENAME_EXCHANGE, the
 * old file gets its kept name by a hard link made durable before the
 * rename (one more folder fsync). kept needs room for path + 16.
 * 0, or -1 and err; *replaced says whether path holds the new version
 * (only the final folder fsync failed): then kept names the old one. */
int cl_atomic_write_keep(const char *path, const void *data, size_t len, char *kept,
			 size_t kept_size, bool *replaced, char *err, size_t errlen);
/* cl_atomic_write_keep in two halves, so that work between them (checking
 * the document just written, say) overlaps the disk: the start writes the
 * temporary and starts its writeback (NULL and err, nothing left, when it
 * fails); the finish does the rest, as above, and frees p; abandoning
 * removes the temporary and leaves path as it was. */
struct cl_atomic_pending;
struct cl_atomic_pending *cl_atomic_start_keep(const char *path, const void *data, size_t len,
					       char *err, size_t errlen);
int cl_atomic_finish_keep(struct cl_atomic_pending *p, char *kept, size_t kept_size,
			  bool *replaced, char *err, size_t errlen);
void cl_atomic_abandon(struct cl_atomic_pending *p);
/* The text cl_doc_save writes for doc (indented, with a final newline),
 * malloc'd, its length in *len; NULL when it cannot be encoded. */
char *cl_doc_encode(const json_t *doc, size_t *len);
/* fsync the folder dir, so that its entries (a new name, a removed one)
 * survive a crash. A file system that cannot (EINVAL) has nothing to
 * flush. 0, or -1 and err ("fsync of folder D failed: ..."). */
int cl_fsync_folder(const char *dir, char *err, size_t errlen);
/* Is name (no folder) a kept file's, ".<target>.kept-XXXXXX"? Then the
 * target's name into target. */
bool cl_atomic_kept_target(const char *name, char *target, size_t size);
/* Dump doc (indented by 2, keys in insertion order, reals with 15
 * significant digits so 0.1 stays "0.1", trailing newline) and write it
 * atomically. */
int cl_doc_save(const char *path, const json_t *doc, char *err, size_t errlen);

/* Remove stale temporaries of cl_atomic_write in dir: regular files named
 * exactly ".<name>.tmp-XXXXXX" (six of [A-Za-z0-9]). Returns how many, or
 * -1 when dir cannot be read. Run it when no writer is busy in dir (at
 * start-up): a writer whose temporary is swept fails its rename. */
int cl_atomic_sweep(const char *dir);

/* Fault injection for tests: make the next atomic write fail at a step
 * (as if that call failed with EIO; CL_FAULT_WRITE writes half, then
 * ENOSPC). The hook resets when the next write starts. */
enum cl_atomic_fault {
	CL_FAULT_NONE = 0,
	CL_FAULT_OPEN,
	CL_FAULT_WRITE,    /* a short write, then ENOSPC */
	CL_FAULT_FSYNC,
	CL_FAULT_CLOSE,
	CL_FAULT_RENAME,
	CL_FAULT_DIR_FSYNC, /* after the rename: the new file is in place */
	CL_FAULT_NO_EXCHANGE, /* cl_atomic_write_keep: a file system without
				 RENAME_EXCHANGE (EINVAL) */
};
void cl_atomic_inject_fault(enum cl_atomic_fault f);

#endif
