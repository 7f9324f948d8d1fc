/*
 * The framing check of incoming OSC datagrams: the security boundary of
 * every CoreLogic program.
 *
 * liblo 0.31 trusts more of a datagram than it should: it reads four bytes
 * past the end of the buffer for a blob whose size field is cut short, and
 * strcmp()s past the end for a zero-length bundle element in last place.
 * So no byte reaches liblo before this walk has proven, without reading
 * outside [buf, buf + len), that the datagram is a well-formed OSC 1.0
 * message or bundle. The walk is a pure function of the bytes (no liblo,
 * no allocation, no globals) so that it can be unit-tested and fuzzed alone.
 *
 * Policy, where OSC leaves a choice:
 *  - a message must have a type tag string (the OSC 1.0 "old sender"
 *    form without one is refused: liblo refuses it as well);
 *  - string, address and blob padding must be NUL bytes (liblo checks the
 *    same, so a datagram we pass is never one liblo refuses for padding);
 *  - array tags '[' ']' are refused (liblo 0.31 cannot decode them);
 *  - 'r' (RGBA colour) is well-formed and passes here; liblo 0.31 does not
 *    know it, so the dispatcher refuses it with its own message;
 *  - an empty bundle (header and time tag only) is well-formed;
 *  - bundle time tags are not interpreted here.
 */
#include <stdint.h>
#include <string.h>

#include "cl_osc.h"

static const unsigned char bundle_tag[8] = { '#', 'b', 'u', 'n', 'd', 'l', 'e', 0 };

/* Read a big-endian 32-bit word; p must have 4 readable bytes. */
static uint32_t read_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Size of the NUL-terminated, NUL-padded string at p within avail bytes,
 * or 0 with *reason set to unterminated or badpad. */
static size_t padded_string_size(const unsigned char *p, size_t avail,
				 const char *unterminated, const char *badpad,
				 const char **reason)
{
	const unsigned char *nul = memchr(p, 0, avail);
	if (!nul) {
		*reason = unterminated;
		return 0;
	}
	size_t used = (size_t)(nul - p) + 1;
	size_t padded = (used + 3) & ~(size_t)3;
	/* The padding is counted as part of the string: it must fit too. */
	if (padded > avail) {
		*reason = unterminated;
		return 0;
	}
	for (size_t k = used; k < padded; k++) {
		if (p[k] != 0) {
			*reason = badpad;
			return 0;
		}
	}
	return padded;
}

/* Check one message occupying exactly p[0..len); len is a multiple of 4.
 * 0, or -1 and *reason. */
static int check_message(const unsigned char *p, size_t len, const char **reason)
{
	if (len == 0) {
		*reason = "empty message";
		return -1;
	}
	if (p[0] != '/') {
		*reason = "address does not start with '/'";
		return -1;
	}
	size_t off = padded_string_size(p, len, "address not terminated",
					"address padding not zero", reason);
	if (off == 0)
		return -1;
	if (off == len) {
		*reason = "missing type tags";
		return -1;
	}
	if (p[off] != ',') {
		*reason = "type tags do not start with ','";
		return -1;
	}
	const unsigned char *tags = p + off + 1;
	size_t tags_size = padded_string_size(p + off, len - off,
					      "type tags not terminated",
					      "type tag padding not zero", reason);
	if (tags_size == 0)
		return -1;
	off += tags_size;

	for (const unsigned char *t = tags; *t; t++) {
		size_t avail = len - off;
		size_t need;
		switch (*t) {
		case 'i': case 'f': case 'c': case 'r': case 'm':
			need = 4;
			break;
		case 'h': case 'd': case 't':
			need = 8;
			break;
		case 'T': case 'F': case 'N': case 'I':
			need = 0;
			break;
		case 's': case 'S':
			if (avail == 0) {
				*reason = "string argument overruns datagram";
				return -1;
			}
			need = padded_string_size(p + off, avail,
						  "string argument not terminated",
						  "string argument padding not zero",
						  reason);
			if (need == 0)
				return -1;
			break;
		case 'b': {
			if (avail < 4) {
				*reason = "blob size overruns datagram";
				return -1;
			}
			int32_t size = (int32_t)read_be32(p + off);
			if (size < 0) {
				*reason = "negative blob size";
				return -1;
			}
			/* Compare before rounding so that a huge size cannot
			 * wrap the arithmetic. */
			if ((size_t)size > avail - 4) {
				*reason = "blob overruns datagram";
				return -1;
			}
			size_t end = 4 + (size_t)size;
			need = (end + 3) & ~(size_t)3;
			if (need > avail) {
				*reason = "blob overruns datagram";
				return -1;
			}
			for (size_t k = end; k < need; k++) {
				if (p[off + k] != 0) {
					*reason = "blob padding not zero";
					return -1;
				}
			}
			break;
		}
		case '[': case ']':
			*reason = "arrays not supported";
			return -1;
		default:
			*reason = "unknown type tag";
			return -1;
		}
		if (need > avail) {
			*reason = "argument overruns datagram";
			return -1;
		}
		off += need;
	}
	if (off != len) {
		*reason = "trailing bytes after arguments";
		return -1;
	}
	return 0;
}

/* Check one bundle occupying exactly p[0..len) at nesting depth (1 = the
 * outermost); p starts with "#bundle\0". 0, or -1 and *reason. */
static int check_bundle(const unsigned char *p, size_t len, int depth,
			const char **reason)
{
	if (depth > CL_OSC_MAX_BUNDLE_DEPTH) {
		*reason = "bundles nested too deep";
		return -1;
	}
	if (len < 16) {
		*reason = "bundle time tag missing";
		return -1;
	}
	size_t off = 16;
	while (off < len) {
		size_t avail = len - off;
		if (avail < 4) {
			*reason = "bundle element size overruns datagram";
			return -1;
		}
		int32_t size = (int32_t)read_be32(p + off);
		if (size == 0) {
			*reason = "empty bundle element";
			return -1;
		}
		if (size < 0) {
			*reason = "negative bundle element size";
			return -1;
		}
		if (size % 4 != 0) {
			*reason = "bundle element size not a multiple of 4";
			return -1;
		}
		if ((size_t)size > avail - 4) {
			*reason = "bundle element overruns datagram";
			return -1;
		}
		const unsigned char *elem = p + off + 4;
		int rc;
		if ((size_t)size >= sizeof bundle_tag &&
		    memcmp(elem, bundle_tag, sizeof bundle_tag) == 0)
			rc = check_bundle(elem, (size_t)size, depth + 1, reason);
		else
			rc = check_message(elem, (size_t)size, reason);
		if (rc != 0)
			return -1;
		off += 4 + (size_t)size;
	}
	return 0;
}

int cl_osc_check_frame(const void *buf, size_t len, const char **reason)
{
	const char *dummy;
	if (!reason)
		reason = &dummy;
	const unsigned char *p = buf;
	if (len == 0 || !p) {
		*reason = "empty datagram";
		return -1;
	}
	if (len > CL_OSC_MAX_DATAGRAM) {
		*reason = "datagram too large";
		return -1;
	}
	if (len % 4 != 0) {
		*reason = "length not a multiple of 4";
		return -1;
	}
	if (len >= sizeof bundle_tag && memcmp(p, bundle_tag, sizeof bundle_tag) == 0)
		return check_bundle(p, len, 1, reason);
	return check_message(p, len, reason);
}
