/*
 * The OSC control surface: one UDP socket, one method table, typed
 * arguments, replies, subscribers, and the common /cl/... methods.
 *
 * liblo 0.31's server binds every interface, so this layer owns the socket
 * (bound to --osc-bind, 127.0.0.1 by default) and uses liblo only where it
 * is safe and useful: decoding a message whose framing cl_osc_check_frame()
 * has already proven, pattern matching, and encoding replies. Bundles are
 * walked here rather than by liblo (the walk is trivial once the frame is
 * checked, and liblo's own walk is where one of its over-reads lives);
 * their time tags are ignored and every element is dispatched at once.
 *
 * A request goes through: framing check, decode, method lookup (the
 * built-in /cl/... methods first, so they mean the same on every program,
 * then the program's table, first match wins), argument coercion to the
 * method's typespec, and only then the handler. A refusal at any step
 * sends "/cl/error <address> <reason>" to the sender and logs one warning,
 * so a handler never sees a message it would have to half-apply.
 *
 * Table paths are matched one '/'-separated segment at a time with
 * lo_pattern_match(): "/mixer/STAR/volume" (STAR being '*') matches
 * "/mixer/3/volume" but not "/mixer/3/4/volume", which plain liblo
 * matching would accept because its '*' crosses '/'.
 *
 * A flood of bad datagrams must not flood the log or become a reflector:
 * refusals are logged at most CL_OSC_LOG_PER_SEC times a second (the rest
 * are counted and summed up once a second), and /cl/error replies are sent
 * at most CL_OSC_ERROR_REPLIES_PER_SEC times a second.
 *
 * Everything here runs on the main thread; nothing is real-time.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lo/lo_lowlevel.h>

#include "cl_osc.h"
#include "cl_doc.h"
#include "cl_log.h"

#define CL_OSC_LOG_PER_SEC 20
#define CL_OSC_ERROR_REPLIES_PER_SEC 200
/* Datagrams handled per cl_osc_receive() call, so that a flood cannot
 * starve the rest of the main loop; poll() reports the rest next time. */
#define CL_OSC_RECEIVE_BATCH 256
/* Longest path a method table may declare. */
#define CL_OSC_MAX_PATH 256
/* The echoed address in /cl/error is cut to this many bytes so the reply
 * always fits a datagram. */
#define CL_OSC_ERROR_ADDRESS_MAX 1024
#define CL_OSC_RCVBUF (256 * 1024)
/* "[numeric IPv6%scope]:port" fits. */
#define ADDR_TEXT_MAX 128

struct cl_osc_subscriber {
	struct sockaddr_storage addr;
	socklen_t len;
};

struct cl_osc_limiter {
	struct timespec window_start;
	int logged;              /* refusal lines in this window */
	int replied;             /* /cl/error replies in this window */
	unsigned long unlogged;  /* refusals not logged since the last summary */
	unsigned long unreplied; /* error replies dropped since the last summary */
};

struct cl_osc {
	int fd;
	int family;
	int port;
	char bind_host[NI_MAXHOST];
	bool loopback_only;      /* bound to 127.0.0.0/8 or ::1 */
	const struct cl_osc_method *methods;
	size_t n_methods;
	struct cl_osc_hooks hooks;
	struct cl_osc_subscriber subs[CL_OSC_MAX_SUBSCRIBERS];
	int n_subs;
	struct cl_osc_limiter limit;
	unsigned long received;
	unsigned long refused;
	unsigned char rxbuf[CL_OSC_MAX_DATAGRAM];
	unsigned char txbuf[CL_OSC_MAX_DATAGRAM];
	char segbuf[CL_OSC_MAX_DATAGRAM]; /* one address segment while matching */
};

/* ---------------------------------------------------------------------- */
/* Argument coercion                                                       */

/* The "C" numeric locale, so that "1.5" parses the same whatever
 * setlocale() a program called. */
static locale_t c_numeric_locale(void)
{
	static locale_t loc;
	if (!loc)
		loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	return loc;
}

/* Trim s to the span [*begin, *end) without surrounding white space. */
static void trim_span(const char *s, const char **begin, const char **end)
{
	const char *b = s;
	while (isspace((unsigned char)*b))
		b++;
	const char *e = b + strlen(b);
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	*begin = b;
	*end = e;
}

/* Parse a whole decimal number (white space around it allowed, no hex, no
 * "nan"/"inf"); finite only. 0, or -1 and *reason. */
static int parse_number_string(const char *s, double *out, const char **reason)
{
	const char *b, *e;
	trim_span(s, &b, &e);
	if (b == e) {
		*reason = "empty string is not a number";
		return -1;
	}
	for (const char *q = b; q < e; q++) {
		if (!strchr("0123456789+-.eE", *q)) {
			*reason = "not a number";
			return -1;
		}
	}
	char *stop;
	locale_t loc = c_numeric_locale();
	double v = loc ? strtod_l(b, &stop, loc) : strtod(b, &stop);
	if (stop != e || stop == b) {
		*reason = "not a number";
		return -1;
	}
	if (!isfinite(v)) {
		*reason = "number out of range";
		return -1;
	}
	*out = v;
	return 0;
}

/* True when [b, e) is an optional sign followed by decimal digits only. */
static bool is_integer_span(const char *b, const char *e)
{
	if (b < e && (*b == '+' || *b == '-'))
		b++;
	if (b == e)
		return false;
	for (; b < e; b++)
		if (!isdigit((unsigned char)*b))
			return false;
	return true;
}

/* Integer value of a finite double when it is integral and fits int64. */
static int double_to_int64(double v, int64_t *out, const char **reason)
{
	if (!isfinite(v)) {
		*reason = "number is not finite";
		return -1;
	}
	if (v != floor(v)) {
		*reason = "not an integer";
		return -1;
	}
	/* 2^63 is exact in a double; int64 holds [-2^63, 2^63). */
	if (v < -9223372036854775808.0 || v >= 9223372036854775808.0) {
		*reason = "integer out of range";
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

/* liblo hands out lo_arg pointers that are only 4-byte aligned while the
 * union asks for 8, so values are copied out rather than read through the
 * union's members. */
static int32_t arg_i32(const lo_arg *a)
{
	int32_t v;
	memcpy(&v, a, sizeof v);
	return v;
}

static int64_t arg_i64(const lo_arg *a)
{
	int64_t v;
	memcpy(&v, a, sizeof v);
	return v;
}

static float arg_f32(const lo_arg *a)
{
	float v;
	memcpy(&v, a, sizeof v);
	return v;
}

static double arg_f64(const lo_arg *a)
{
	double v;
	memcpy(&v, a, sizeof v);
	return v;
}

static const char *arg_str(const lo_arg *a)
{
	return (const char *)a;
}

static int coerce_number(char lo_type, lo_arg *arg, double *out, const char **reason)
{
	double v;
	switch (lo_type) {
	case 'i': v = arg_i32(arg); break;
	case 'h': v = (double)arg_i64(arg); break;
	case 'f': v = arg_f32(arg); break;
	case 'd': v = arg_f64(arg); break;
	case 's': case 'S':
		return parse_number_string(arg_str(arg), out, reason);
	default:
		*reason = "expected a number";
		return -1;
	}
	if (!isfinite(v)) {
		*reason = "number is not finite";
		return -1;
	}
	*out = v;
	return 0;
}

static int coerce_integer(char lo_type, lo_arg *arg, int64_t *out, const char **reason)
{
	switch (lo_type) {
	case 'i': *out = arg_i32(arg); return 0;
	case 'h': *out = arg_i64(arg); return 0;
	case 'f': return double_to_int64(arg_f32(arg), out, reason);
	case 'd': return double_to_int64(arg_f64(arg), out, reason);
	case 's': case 'S': {
		const char *b, *e;
		trim_span(arg_str(arg), &b, &e);
		if (is_integer_span(b, e)) {
			/* Exact for all of int64, which a double is not. */
			char *stop;
			errno = 0;
			long long v = strtoll(b, &stop, 10);
			if (errno == ERANGE) {
				*reason = "integer out of range";
				return -1;
			}
			*out = v;
			return 0;
		}
		double v;
		if (parse_number_string(arg_str(arg), &v, reason) != 0)
			return -1;
		return double_to_int64(v, out, reason);
	}
	default:
		*reason = "expected an integer";
		return -1;
	}
}

static int coerce_toggle(char lo_type, lo_arg *arg, bool *out, const char **reason)
{
	switch (lo_type) {
	case 'T': *out = true; return 0;
	case 'F': *out = false; return 0;
	case 'i': *out = arg_i32(arg) != 0; return 0;
	case 'h': *out = arg_i64(arg) != 0; return 0;
	case 'f': case 'd': {
		double v = lo_type == 'f' ? arg_f32(arg) : arg_f64(arg);
		if (isnan(v)) {
			*reason = "expected a toggle (on/off), got NaN";
			return -1;
		}
		*out = v != 0;
		return 0;
	}
	case 's': case 'S': {
		static const char *const on[] = { "on", "true", "1" };
		static const char *const off[] = { "off", "false", "0" };
		const char *s = arg_str(arg);
		for (size_t k = 0; k < 3; k++) {
			if (strcasecmp(s, on[k]) == 0) {
				*out = true;
				return 0;
			}
			if (strcasecmp(s, off[k]) == 0) {
				*out = false;
				return 0;
			}
		}
		*reason = "expected a toggle (on/off/true/false/1/0)";
		return -1;
	}
	default:
		*reason = "expected a toggle (on/off)";
		return -1;
	}
}

int cl_osc_coerce(char want, char lo_type, lo_arg *arg,
		  struct cl_osc_value *out, const char **reason)
{
	const char *dummy;
	if (!reason)
		reason = &dummy;
	memset(out, 0, sizeof *out);
	out->type = want;
	/* T F N I carry no payload and liblo gives them a NULL argument. */
	bool has_payload = !(lo_type == 'T' || lo_type == 'F' ||
			     lo_type == 'N' || lo_type == 'I');
	if (has_payload && !arg) {
		*reason = "missing argument value";
		return -1;
	}
	switch (want) {
	case 'n':
		return coerce_number(lo_type, arg, &out->n, reason);
	case 'i':
		if (coerce_integer(lo_type, arg, &out->i, reason) != 0)
			return -1;
		out->n = (double)out->i;
		return 0;
	case 'b':
		if (coerce_toggle(lo_type, arg, &out->b, reason) != 0)
			return -1;
		out->i = out->b;
		out->n = out->b;
		return 0;
	case 's':
		if (lo_type != 's' && lo_type != 'S') {
			*reason = "expected a string";
			return -1;
		}
		out->s = arg_str(arg);
		return 0;
	default:
		*reason = "bad typespec letter";
		return -1;
	}
}

/* ---------------------------------------------------------------------- */
/* Typespecs                                                               */

struct typespec_info {
	int required;  /* letters before '|' */
	int letters;   /* all letters */
	bool raw;      /* '*': any further arguments allowed, not coerced */
};

/* Parse a typespec of our own letters; -1 when malformed. */
static int parse_typespec(const char *ts, struct typespec_info *info)
{
	bool optional = false;
	info->required = info->letters = 0;
	info->raw = false;
	for (const char *c = ts ? ts : ""; *c; c++) {
		switch (*c) {
		case 'n': case 'i': case 'b': case 's':
			if (info->letters == CL_OSC_MAX_ARGS)
				return -1;
			info->letters++;
			if (!optional)
				info->required++;
			break;
		case '|':
			if (optional)
				return -1;
			optional = true;
			break;
		case '*':
			if (c[1] != '\0')
				return -1;
			info->raw = true;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

/* Human form of a typespec for --osc-doc: "n|n" -> "<number> [<number>]";
 * optional letters nest, since "s|nn" takes s, s n or s n n. */
static void typespec_describe(const char *ts, char *buf, size_t len)
{
	size_t used = 0;
	int open = 0;
	bool optional = false;
	buf[0] = '\0';
	for (const char *c = ts ? ts : ""; *c; c++) {
		const char *word;
		switch (*c) {
		case 'n': word = "<number>"; break;
		case 'i': word = "<int>"; break;
		case 'b': word = "<on|off>"; break;
		case 's': word = "<string>"; break;
		case '*': word = "[<any>...]"; break;
		case '|': optional = true; continue;
		default: word = "?"; break;
		}
		bool nest = optional && *c != '*';
		int w = snprintf(buf + used, len - used, "%s%s%s",
				 used ? " " : "", nest ? "[" : "", word);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
		if (nest)
			open++;
	}
	for (; open > 0 && used + 1 < len; open--)
		buf[used++] = ']';
	buf[used] = '\0';
}

/* ---------------------------------------------------------------------- */
/* Addresses                                                               */

static socklen_t sockaddr_len(int family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6)
				  : sizeof(struct sockaddr_in);
}

/* "127.0.0.1:5555" or "[::1]:5555" into buf. */
static const char *sockaddr_format(const struct sockaddr_storage *a, socklen_t len,
				   char *buf, size_t n)
{
	char host[96], serv[16];
	if (!a || getnameinfo((const struct sockaddr *)a, len, host, sizeof host,
			      serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, n, "?");
		return buf;
	}
	if (a->ss_family == AF_INET6)
		snprintf(buf, n, "[%s]:%s", host, serv);
	else
		snprintf(buf, n, "%s:%s", host, serv);
	return buf;
}

static bool sockaddr_equal(const struct sockaddr_storage *a,
			   const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	return false;
}

static void sockaddr_set_port(struct sockaddr_storage *a, int port)
{
	if (a->ss_family == AF_INET)
		((struct sockaddr_in *)(void *)a)->sin_port = htons((uint16_t)port);
	else if (a->ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)a)->sin6_port = htons((uint16_t)port);
}

/* Fit an address to the socket's family: an IPv4 address becomes
 * ::ffff:a.b.c.d on a (dual-stack) IPv6 socket. 0, or -1 when it cannot
 * be reached from this socket. */
static int sockaddr_fit_family(struct sockaddr_storage *a, int family)
{
	if (a->ss_family == family)
		return 0;
	if (a->ss_family == AF_INET && family == AF_INET6) {
		struct sockaddr_in v4 = *(struct sockaddr_in *)(void *)a;
		struct sockaddr_in6 v6;
		memset(&v6, 0, sizeof v6);
		v6.sin6_family = AF_INET6;
		v6.sin6_port = v4.sin_port;
		v6.sin6_addr.s6_addr[10] = 0xff;
		v6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&v6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
		memset(a, 0, sizeof *a);
		memcpy(a, &v6, sizeof v6);
		return 0;
	}
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Refusals: log and reply, both rate-limited                              */

/* Copy at most max bytes of s into buf with non-printable bytes escaped,
 * so that an address cannot forge log lines. */
static const char *log_safe(const char *s, size_t max, char *buf, size_t n)
{
	size_t used = 0;
	for (size_t k = 0; s && s[k]; k++) {
		unsigned char c = (unsigned char)s[k];
		if (k >= max || used + 8 >= n) {
			snprintf(buf + used, n - used, "...");
			return buf;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[used++] = (char)c;
		else
			used += (size_t)snprintf(buf + used, n - used, "\\x%02x", c);
	}
	buf[used] = '\0';
	return buf;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (now.tv_nsec - t0->tv_nsec) * 1e-9;
}

/* Start a new one-second window when the old one is over, and say how
 * many refusals the old one kept quiet. */
static void limiter_roll(struct cl_osc_limiter *l)
{
	if (l->window_start.tv_sec != 0 && seconds_since(&l->window_start) < 1.0)
		return;
	if (l->unlogged || l->unreplied)
		cl_warn("OSC: %lu more refusals not logged, %lu error replies not sent",
			l->unlogged, l->unreplied);
	l->unlogged = l->unreplied = 0;
	l->logged = l->replied = 0;
	clock_gettime(CLOCK_MONOTONIC, &l->window_start);
}

static int send_raw(struct cl_osc *osc, const struct sockaddr_storage *to,
		    socklen_t tolen, const char *path, lo_message m);

/* Count, log and answer one refusal. address may be NULL ("?"); from may
 * be NULL (no reply). Always returns -1. */
__attribute__((format(printf, 5, 0)))
static int refuse_v(struct cl_osc *osc, const struct sockaddr_storage *from,
		    socklen_t fromlen, const char *address, const char *fmt, va_list ap)
{
	char reason[512];
	vsnprintf(reason, sizeof reason, fmt, ap);
	if (!address)
		address = "?";
	osc->refused++;
	limiter_roll(&osc->limit);

	if (osc->limit.logged < CL_OSC_LOG_PER_SEC) {
		char a[128], r[400], f[ADDR_TEXT_MAX];
		osc->limit.logged++;
		cl_warn("OSC %s from %s refused: %s", log_safe(address, 80, a, sizeof a),
			sockaddr_format(from, from ? sockaddr_len(from->ss_family) : 0, f, sizeof f),
			log_safe(reason, 300, r, sizeof r));
	} else {
		osc->limit.unlogged++;
	}

	if (!from)
		return -1;
	if (osc->limit.replied >= CL_OSC_ERROR_REPLIES_PER_SEC) {
		osc->limit.unreplied++;
		return -1;
	}
	osc->limit.replied++;
	char cut[CL_OSC_ERROR_ADDRESS_MAX + 1];
	snprintf(cut, sizeof cut, "%s", address);
	lo_message m = lo_message_new();
	if (!m)
		return -1;
	lo_message_add_string(m, cut);
	lo_message_add_string(m, reason);
	send_raw(osc, from, fromlen, "/cl/error", m);
	lo_message_free(m);
	return -1;
}

__attribute__((format(printf, 5, 6)))
static int refuse(struct cl_osc *osc, const struct sockaddr_storage *from,
		  socklen_t fromlen, const char *address, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	refuse_v(osc, from, fromlen, address, fmt, ap);
	va_end(ap);
	return -1;
}

int cl_osc_error(struct cl_osc_request *req, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	refuse_v(req->osc, req->from, req->fromlen, req->path, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Sending                                                                 */

/* Serialise m to path and send it from our socket. 0, or -1. */
static int send_raw(struct cl_osc *osc, const struct sockaddr_storage *to,
		    socklen_t tolen, const char *path, lo_message m)
{
	if (!to || !m || !path || path[0] != '/')
		return -1;
	size_t len = lo_message_length(m, path);
	if (len > sizeof osc->txbuf) {
		cl_warn("OSC reply %s is %zu bytes, more than a datagram (%d)",
			path, len, CL_OSC_MAX_DATAGRAM);
		return -1;
	}
	lo_message_serialise(m, path, osc->txbuf, NULL);
	ssize_t sent;
	do {
		sent = sendto(osc->fd, osc->txbuf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
			      (const struct sockaddr *)to, tolen);
	} while (sent < 0 && errno == EINTR);
	if (sent < 0) {
		char f[ADDR_TEXT_MAX];
		cl_debug("OSC send %s to %s: %s", path,
			 sockaddr_format(to, tolen, f, sizeof f), strerror(errno));
		return -1;
	}
	return 0;
}

/* Append arguments read from ap as types says: i c (int), h (int64_t),
 * f d (double), s S (const char *), b (lo_blob), m (uint8_t *),
 * t (lo_timetag), T F N I (nothing). No LO_ARGS_END is read. */
static int message_add_va(lo_message m, const char *types, va_list *ap)
{
	for (const char *t = types ? types : ""; *t; t++) {
		int rc = 0;
		switch (*t) {
		case 'i': rc = lo_message_add_int32(m, va_arg(*ap, int32_t)); break;
		case 'c': rc = lo_message_add_char(m, (char)va_arg(*ap, int)); break;
		case 'h': rc = lo_message_add_int64(m, va_arg(*ap, int64_t)); break;
		case 'f': rc = lo_message_add_float(m, (float)va_arg(*ap, double)); break;
		case 'd': rc = lo_message_add_double(m, va_arg(*ap, double)); break;
		case 's': case 'S': {
			const char *s = va_arg(*ap, const char *);
			if (!s)
				return -1;
			rc = *t == 's' ? lo_message_add_string(m, s)
				       : lo_message_add_symbol(m, s);
			break;
		}
		case 'b': {
			lo_blob b = va_arg(*ap, lo_blob);
			if (!b)
				return -1;
			rc = lo_message_add_blob(m, b);
			break;
		}
		case 'm': rc = lo_message_add_midi(m, va_arg(*ap, uint8_t *)); break;
		case 't': rc = lo_message_add_timetag(m, va_arg(*ap, lo_timetag)); break;
		case 'T': rc = lo_message_add_true(m); break;
		case 'F': rc = lo_message_add_false(m); break;
		case 'N': rc = lo_message_add_nil(m); break;
		case 'I': rc = lo_message_add_infinitum(m); break;
		default:
			cl_error("OSC: cannot send type '%c'", *t);
			return -1;
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

int cl_osc_reply_msg(struct cl_osc_request *req, const char *path, lo_message m)
{
	if (!req || !req->from)
		return -1;
	return send_raw(req->osc, req->from, req->fromlen, path, m);
}

int cl_osc_reply(struct cl_osc_request *req, const char *path, const char *types, ...)
{
	if (!req || !req->from)
		return -1;
	lo_message m = lo_message_new();
	if (!m)
		return -1;
	va_list ap;
	va_start(ap, types);
	int rc = message_add_va(m, types, &ap);
	va_end(ap);
	if (rc == 0)
		rc = cl_osc_reply_msg(req, path, m);
	lo_message_free(m);
	return rc;
}

void cl_osc_broadcast_msg(struct cl_osc *osc, const char *path, lo_message m)
{
	for (int k = 0; k < osc->n_subs; k++)
		send_raw(osc, &osc->subs[k].addr, osc->subs[k].len, path, m);
}

void cl_osc_broadcast(struct cl_osc *osc, const char *path, const char *types, ...)
{
	if (!osc || osc->n_subs == 0)
		return;
	lo_message m = lo_message_new();
	if (!m)
		return;
	va_list ap;
	va_start(ap, types);
	int rc = message_add_va(m, types, &ap);
	va_end(ap);
	if (rc == 0)
		cl_osc_broadcast_msg(osc, path, m);
	lo_message_free(m);
}

int cl_osc_subscriber_count(const struct cl_osc *osc)
{
	return osc ? osc->n_subs : 0;
}

/* ---------------------------------------------------------------------- */
/* Built-in methods                                                        */

static int ok_reply(struct cl_osc_request *req, const char *what)
{
	cl_osc_reply(req, "/cl/ok", "s", what);
	return 0;
}

static int on_ping(struct cl_osc_request *req)
{
	/* The arguments come back unchanged, so a client can match a pong to
	 * its ping with a token. */
	cl_osc_reply_msg(req, "/cl/pong", req->msg);
	return 0;
}

/* Send doc as a compact JSON string under path, or refuse when it does not
 * fit a datagram. */
static int reply_json(struct cl_osc_request *req, const char *path, json_t *doc,
		      const char *too_big_hint)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return cl_osc_error(req, "cannot encode JSON");
	lo_message m = lo_message_new();
	if (!m) {
		free(text);
		return cl_osc_error(req, "out of memory");
	}
	lo_message_add_string(m, text);
	size_t len = lo_message_length(m, path);
	int rc = 0;
	if (len > CL_OSC_MAX_DATAGRAM)
		rc = cl_osc_error(req, "reply is %zu bytes, more than a datagram holds (%d)%s",
				  len, CL_OSC_MAX_DATAGRAM, too_big_hint);
	else
		cl_osc_reply_msg(req, path, m);
	lo_message_free(m);
	free(text);
	return rc;
}

static int on_status(struct cl_osc_request *req)
{
	struct cl_osc *osc = req->osc;
	json_t *got = osc->hooks.status ? osc->hooks.status(osc->hooks.userdata) : NULL;
	json_t *st;
	if (json_is_object(got)) {
		/* A shallow copy: the hook may have handed out its own object,
		 * which must not grow an "osc" member. */
		st = json_copy(got);
		json_decref(got);
	} else {
		st = json_object();
		if (got)
			json_object_set_new(st, "status", got);
	}
	if (!st)
		return cl_osc_error(req, "out of memory");
	json_object_set_new(st, "osc", json_pack("{s:s, s:i, s:i, s:I, s:I}",
		"bind", osc->bind_host, "port", osc->port,
		"subscribers", osc->n_subs,
		"received", (json_int_t)osc->received,
		"refused", (json_int_t)osc->refused));
	int rc = reply_json(req, "/cl/status", st, "");
	json_decref(st);
	return rc;
}

/* Parse "osc.udp://host:port/" (host numeric, "localhost" or empty for
 * the sender's host) into *out. 0, or -1 after replying. */
static int parse_subscriber_url(struct cl_osc_request *req, const char *url,
				struct sockaddr_storage *out)
{
	static const char prefix[] = "osc.udp://";
	if (strncasecmp(url, prefix, sizeof prefix - 1) != 0)
		return cl_osc_error(req, "expected a port or an osc.udp://host:port/ URL");
	const char *h = url + sizeof prefix - 1, *hend, *after;
	if (*h == '[') {
		hend = strchr(h, ']');
		if (!hend)
			return cl_osc_error(req, "bad URL: unterminated [host]");
		h++;
		after = hend + 1;
	} else {
		hend = h + strcspn(h, ":/");
		after = hend;
	}
	if (*after != ':')
		return cl_osc_error(req, "bad URL: no port");
	char host[NI_MAXHOST];
	size_t hlen = (size_t)(hend - h);
	if (hlen >= sizeof host)
		return cl_osc_error(req, "bad URL: host too long");
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	const char *p = after + 1;
	size_t plen = strspn(p, "0123456789");
	if (plen == 0 || plen > 5 || (p[plen] != '\0' && p[plen] != '/'))
		return cl_osc_error(req, "bad URL: bad port");
	int port = atoi(p);
	if (port < 1 || port > 65535)
		return cl_osc_error(req, "port out of range (1-65535)");

	if (hlen == 0) {
		*out = *req->from;
	} else if (strcasecmp(host, "localhost") == 0) {
		memset(out, 0, sizeof *out);
		if (req->osc->family == AF_INET6) {
			struct sockaddr_in6 *a = (void *)out;
			a->sin6_family = AF_INET6;
			a->sin6_addr = in6addr_loopback;
		} else {
			struct sockaddr_in *a = (void *)out;
			a->sin_family = AF_INET;
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		}
	} else {
		/* Numeric only: a name lookup could block the main loop. */
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_DGRAM;
		hints.ai_flags = AI_NUMERICHOST;
		if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
			return cl_osc_error(req, "bad URL: host must be a numeric address or localhost");
		memset(out, 0, sizeof *out);
		memcpy(out, res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
	}
	if (sockaddr_fit_family(out, req->osc->family) != 0)
		return cl_osc_error(req, "address family does not match the OSC socket");
	sockaddr_set_port(out, port);
	return 0;
}

/* The subscriber address a /cl/subscribe or /cl/unsubscribe names: none,
 * the sender; a port, the sender's host on that port; a URL. */
static int subscriber_address(struct cl_osc_request *req, struct sockaddr_storage *out)
{
	int argc = lo_message_get_argc(req->msg);
	if (argc > 1)
		return cl_osc_error(req, "expected at most 1 argument (port or URL), got %d", argc);
	if (!req->from)
		return -1;
	if (argc == 0) {
		*out = *req->from;
		return 0;
	}
	char type = lo_message_get_types(req->msg)[0];
	lo_arg *arg = lo_message_get_argv(req->msg)[0];
	if ((type == 's' || type == 'S') && strstr(arg_str(arg), "://"))
		return parse_subscriber_url(req, arg_str(arg), out);
	struct cl_osc_value v;
	const char *reason;
	if (cl_osc_coerce('i', type, arg, &v, &reason) != 0)
		return cl_osc_error(req, "expected a port or an osc.udp://host:port/ URL: %s", reason);
	if (v.i < 1 || v.i > 65535)
		return cl_osc_error(req, "port out of range (1-65535)");
	*out = *req->from;
	sockaddr_set_port(out, (int)v.i);
	return 0;
}

static int find_subscriber(const struct cl_osc *osc, const struct sockaddr_storage *a)
{
	for (int k = 0; k < osc->n_subs; k++)
		if (sockaddr_equal(&osc->subs[k].addr, a))
			return k;
	return -1;
}

static int on_subscribe(struct cl_osc_request *req)
{
	struct cl_osc *osc = req->osc;
	struct sockaddr_storage a;
	if (subscriber_address(req, &a) != 0)
		return -1;
	if (find_subscriber(osc, &a) < 0) {
		if (osc->n_subs == CL_OSC_MAX_SUBSCRIBERS)
			return cl_osc_error(req, "too many subscribers (at most %d)",
					    CL_OSC_MAX_SUBSCRIBERS);
		osc->subs[osc->n_subs].addr = a;
		osc->subs[osc->n_subs].len = sockaddr_len(a.ss_family);
		osc->n_subs++;
		char f[ADDR_TEXT_MAX];
		cl_info("OSC subscriber %s added (%d)",
			sockaddr_format(&a, sockaddr_len(a.ss_family), f, sizeof f), osc->n_subs);
	}
	return ok_reply(req, "/cl/subscribe");
}

static int on_unsubscribe(struct cl_osc_request *req)
{
	struct cl_osc *osc = req->osc;
	struct sockaddr_storage a;
	if (subscriber_address(req, &a) != 0)
		return -1;
	int k = find_subscriber(osc, &a);
	if (k < 0)
		return cl_osc_error(req, "not subscribed");
	osc->subs[k] = osc->subs[osc->n_subs - 1];
	osc->n_subs--;
	char f[ADDR_TEXT_MAX];
	cl_info("OSC subscriber %s removed (%d left)",
		sockaddr_format(&a, sockaddr_len(a.ss_family), f, sizeof f), osc->n_subs);
	return ok_reply(req, "/cl/unsubscribe");
}

static int on_state_get(struct cl_osc_request *req)
{
	struct cl_osc *osc = req->osc;
	if (!osc->hooks.state_get)
		return cl_osc_error(req, "not supported");
	json_t *doc = osc->hooks.state_get(osc->hooks.userdata);
	if (!doc)
		return cl_osc_error(req, "no state");
	int rc = reply_json(req, "/cl/state", doc, "; use /cl/state/save <path>");
	json_decref(doc);
	return rc;
}

/* Hand doc (owned) to the program's state_set; reply ok or the reason. */
static int apply_state(struct cl_osc_request *req, json_t *doc, const char *what)
{
	struct cl_osc *osc = req->osc;
	char err[256] = "";
	int rc = osc->hooks.state_set(osc->hooks.userdata, doc, err, sizeof err);
	json_decref(doc);
	if (rc != 0)
		return cl_osc_error(req, "%s", err[0] ? err : "state refused");
	return ok_reply(req, what);
}

static int on_state_set(struct cl_osc_request *req)
{
	if (!req->osc->hooks.state_set)
		return cl_osc_error(req, "not supported");
	char err[256] = "";
	const char *text = req->argv[0].s;
	json_t *doc = cl_doc_parse(text, strlen(text), err, sizeof err);
	if (!doc)
		return cl_osc_error(req, "%s", err[0] ? err : "bad JSON");
	return apply_state(req, doc, "/cl/state/set");
}

/* May a sender name this state file? Anything on a loopback socket (the
 * sender is a local user, who could write the file anyway); beyond
 * loopback only a file inside the store root, checked on the real path of
 * its folder, so neither ".." nor a symlink leads out. 0, or -1 and err. */
static int state_path_allowed(const struct cl_osc *osc, const char *path, char *err, size_t errlen)
{
	if (osc->loopback_only)
		return 0;
	const char *store = osc->hooks.store ? *osc->hooks.store : NULL;
	if (!store || !store[0])
		return cl_fail(err, errlen, "state files over a network socket need a store root (--store)");
	char root[PATH_MAX], dir[PATH_MAX], real_dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (!slash || (size_t)(slash - path) >= sizeof dir || !base[0] || strcmp(base, "..") == 0 ||
	    strcmp(base, ".") == 0)
		return cl_fail(err, errlen, "%s: give a file inside the store root %s", path, store);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if (!realpath(store, root) || !realpath(dir[0] ? dir : "/", real_dir))
		return cl_fail(err, errlen, "%s: %s", dir[0] ? dir : store, strerror(errno));
	size_t n = strlen(root);
	if (strncmp(real_dir, root, n) != 0 || (real_dir[n] != '\0' && real_dir[n] != '/'))
		return cl_fail(err, errlen, "%s is outside the store root %s (the OSC socket is not "
			       "loopback-only)", path, store);
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
		return cl_fail(err, errlen, "%s is a symbolic link: not followed over the network", path);
	return 0;
}

static int on_state_save(struct cl_osc_request *req)
{
	struct cl_osc *osc = req->osc;
	if (!osc->hooks.state_get)
		return cl_osc_error(req, "not supported");
	const char *path = req->argv[0].s;
	if (!path[0])
		return cl_osc_error(req, "empty path");
	char err[PATH_MAX + 256] = "";
	if (state_path_allowed(osc, path, err, sizeof err) != 0)
		return cl_osc_error(req, "%s", err);
	json_t *doc = osc->hooks.state_get(osc->hooks.userdata);
	if (!doc)
		return cl_osc_error(req, "no state");
	int rc = cl_doc_save(path, doc, err, sizeof err);
	json_decref(doc);
	if (rc != 0)
		return cl_osc_error(req, "%s", err[0] ? err : "save failed");
	return ok_reply(req, "/cl/state/save");
}

static int on_state_load(struct cl_osc_request *req)
{
	struct cl_osc *osc = req->osc;
	if (!osc->hooks.state_set)
		return cl_osc_error(req, "not supported");
	const char *path = req->argv[0].s;
	if (!path[0])
		return cl_osc_error(req, "empty path");
	char err[PATH_MAX + 256] = "";
	if (state_path_allowed(osc, path, err, sizeof err) != 0)
		return cl_osc_error(req, "%s", err);
	json_t *doc = cl_doc_load_file(path, err, sizeof err);
	if (!doc)
		return cl_osc_error(req, "%s", err[0] ? err : "load failed");
	return apply_state(req, doc, "/cl/state/load");
}

static int on_quit(struct cl_osc_request *req)
{
	struct cl_osc *osc = req->osc;
	if (!osc->hooks.quit)
		return cl_osc_error(req, "not supported");
	osc->hooks.quit(osc->hooks.userdata);
	return ok_reply(req, "/cl/quit");
}

struct builtin {
	struct cl_osc_method m;
	const char *args; /* argument form for --osc-doc when the typespec cannot say it */
};

static const struct builtin builtins[] = {
	{ { "/cl/ping", "*", on_ping,
	    "Answer /cl/pong with the same arguments." }, NULL },
	{ { "/cl/status", "", on_status,
	    "Answer /cl/status <json>: the program's status and an \"osc\" object (bind, port, subscribers, received, refused)." }, NULL },
	{ { "/cl/subscribe", "*", on_subscribe,
	    "Send every state change to the sender (no argument), to its host on <port>, or to an osc.udp://host:port/ URL; /cl/ok /cl/subscribe." }, "[<port>|<url>]" },
	{ { "/cl/unsubscribe", "*", on_unsubscribe,
	    "Stop sending state changes to that address (same forms as /cl/subscribe); /cl/ok /cl/unsubscribe." }, "[<port>|<url>]" },
	{ { "/cl/state/get", "", on_state_get,
	    "Answer /cl/state <json> with the whole state, when it fits a datagram (else use /cl/state/save)." }, NULL },
	{ { "/cl/state/set", "s", on_state_set,
	    "Replace the whole state with a JSON document; /cl/ok /cl/state/set." }, "<json>" },
	{ { "/cl/state/save", "s", on_state_save,
	    "Write the state document to a file atomically; /cl/ok /cl/state/save." }, "<path>" },
	{ { "/cl/state/load", "s", on_state_load,
	    "Load the state document from a file; /cl/ok /cl/state/load." }, "<path>" },
	{ { "/cl/quit", "", on_quit,
	    "End the program; /cl/ok /cl/quit." }, NULL },
};
#define N_BUILTINS (sizeof builtins / sizeof builtins[0])

/* ---------------------------------------------------------------------- */
/* Matching and dispatch                                                   */

/* Does address match the table path pattern, one '/'-separated segment at
 * a time? */
static bool path_matches(struct cl_osc *osc, const char *pattern, const char *address)
{
	if (!strpbrk(pattern, "*?[{"))
		return strcmp(pattern, address) == 0;
	char pseg[CL_OSC_MAX_PATH];
	const char *p = pattern, *a = address;
	for (;;) {
		if (*p != '/' || *a != '/')
			return false;
		p++;
		a++;
		size_t plen = strcspn(p, "/"), alen = strcspn(a, "/");
		if (plen >= sizeof pseg || alen >= sizeof osc->segbuf)
			return false;
		memcpy(pseg, p, plen);
		pseg[plen] = '\0';
		memcpy(osc->segbuf, a, alen);
		osc->segbuf[alen] = '\0';
		if (!lo_pattern_match(osc->segbuf, pseg))
			return false;
		p += plen;
		a += alen;
		if (!*p || !*a)
			return !*p && !*a;
	}
}

static const struct cl_osc_method *find_method(struct cl_osc *osc, const char *address)
{
	for (size_t k = 0; k < N_BUILTINS; k++)
		if (strcmp(builtins[k].m.path, address) == 0)
			return &builtins[k].m;
	for (size_t k = 0; k < osc->n_methods; k++)
		if (path_matches(osc, osc->methods[k].path, address))
			return &osc->methods[k];
	return NULL;
}

static const char *plural(int n)
{
	return n == 1 ? "" : "s";
}

/* Check the count and coerce the arguments of req->msg to the typespec
 * into req->argv. 0, or -1 after replying. */
static int coerce_request(struct cl_osc_request *req, const char *typespec)
{
	struct typespec_info info;
	if (parse_typespec(typespec, &info) != 0)
		return cl_osc_error(req, "bad typespec in method table");
	int got = lo_message_get_argc(req->msg);
	if (got < info.required || (!info.raw && got > info.letters)) {
		if (info.raw)
			return cl_osc_error(req, "expected at least %d argument%s, got %d",
					    info.required, plural(info.required), got);
		if (info.required == info.letters)
			return cl_osc_error(req, "expected %d argument%s, got %d",
					    info.required, plural(info.required), got);
		return cl_osc_error(req, "expected %d to %d arguments, got %d",
				    info.required, info.letters, got);
	}
	const char *types = lo_message_get_types(req->msg);
	lo_arg **argv = lo_message_get_argv(req->msg);
	int n = got < info.letters ? got : info.letters;
	int letter = 0;
	for (const char *c = typespec ? typespec : ""; *c && letter < n; c++) {
		if (*c == '|' || *c == '*')
			continue;
		const char *reason;
		if (cl_osc_coerce(*c, types[letter], argv[letter], &req->argv[letter],
				  &reason) != 0)
			return cl_osc_error(req, "argument %d: %s", letter + 1, reason);
		letter++;
	}
	req->argc = n;
	return 0;
}

/* Decode and dispatch one framed message p[0..len). */
static void dispatch_message(struct cl_osc *osc, const unsigned char *p, size_t len,
			     const struct sockaddr_storage *from, socklen_t fromlen)
{
	/* The frame is checked: the address and the type tags are
	 * NUL-terminated inside p. */
	const char *address = (const char *)p;
	size_t alen = strlen(address);
	const char *tags = address + ((alen + 4) & ~(size_t)3);
	const char *unsupported = strchr(tags + 1, 'r');
	if (unsupported) {
		refuse(osc, from, fromlen, address, "argument type '%c' not supported",
		       *unsupported);
		return;
	}
	int result = 0;
	/* liblo copies the bytes; it does not write to them. */
	lo_message msg = lo_message_deserialise((void *)(uintptr_t)p, len, &result);
	if (!msg) {
		refuse(osc, from, fromlen, address, "cannot decode message (liblo error %d)",
		       result);
		return;
	}
	struct cl_osc_request req;
	memset(&req, 0, sizeof req);
	req.osc = osc;
	req.path = address;
	req.msg = msg;
	req.from = from;
	req.fromlen = fromlen;
	req.userdata = osc->hooks.userdata;

	const struct cl_osc_method *m = find_method(osc, address);
	if (!m) {
		cl_osc_error(&req, "unknown address");
	} else if (coerce_request(&req, m->typespec) == 0) {
		unsigned long refused_before = osc->refused;
		int rc = m->handler(&req);
		/* A handler that failed without saying why still owes the
		 * sender an answer. */
		if (rc != 0 && osc->refused == refused_before)
			cl_osc_error(&req, "failed");
	}
	lo_message_free(msg);
}

static const unsigned char bundle_tag[8] = { '#', 'b', 'u', 'n', 'd', 'l', 'e', 0 };

static uint32_t read_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Dispatch every element of a framed bundle p[0..len), in order. */
static void dispatch_bundle(struct cl_osc *osc, const unsigned char *p, size_t len,
			    const struct sockaddr_storage *from, socklen_t fromlen)
{
	size_t off = 16; /* "#bundle\0" and the time tag */
	while (off + 4 <= len) {
		size_t size = read_be32(p + off);
		const unsigned char *elem = p + off + 4;
		if (size > len - off - 4)
			return; /* cannot happen after the frame check */
		if (size >= sizeof bundle_tag && memcmp(elem, bundle_tag, sizeof bundle_tag) == 0)
			dispatch_bundle(osc, elem, size, from, fromlen);
		else
			dispatch_message(osc, elem, size, from, fromlen);
		off += 4 + size;
	}
}

int cl_osc_dispatch_datagram(struct cl_osc *osc, const void *buf, size_t len,
			     const struct sockaddr_storage *from, socklen_t fromlen)
{
	const char *reason = "bad framing";
	osc->received++;
	if (cl_osc_check_frame(buf, len, &reason) != 0)
		return refuse(osc, from, fromlen, NULL, "%s", reason);
	const unsigned char *p = buf;
	if (len >= sizeof bundle_tag && memcmp(p, bundle_tag, sizeof bundle_tag) == 0)
		dispatch_bundle(osc, p, len, from, fromlen);
	else
		dispatch_message(osc, p, len, from, fromlen);
	return 0;
}

void cl_osc_receive(struct cl_osc *osc)
{
	limiter_roll(&osc->limit);
	for (int k = 0; k < CL_OSC_RECEIVE_BATCH; k++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof from;
		memset(&from, 0, sizeof from);
		/* MSG_TRUNC: the real length comes back even when the
		 * datagram did not fit, so oversize ones are seen and refused
		 * instead of dispatched cut short. */
		ssize_t n = recvfrom(osc->fd, osc->rxbuf, sizeof osc->rxbuf, MSG_TRUNC,
				     (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				cl_debug("OSC receive: %s", strerror(errno));
			return;
		}
		const struct sockaddr_storage *sender = fromlen > 0 ? &from : NULL;
		if ((size_t)n > sizeof osc->rxbuf) {
			osc->received++;
			refuse(osc, sender, fromlen, NULL, "datagram too large (%zd bytes, at most %d)",
			       n, CL_OSC_MAX_DATAGRAM);
			continue;
		}
		cl_osc_dispatch_datagram(osc, osc->rxbuf, (size_t)n, sender, fromlen);
	}
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

/* Check the program's table once, so that dispatch can trust it. */
static int check_table(const struct cl_osc_method *methods, size_t n,
		       char *err, size_t errlen)
{
	for (size_t k = 0; k < n; k++) {
		const struct cl_osc_method *m = &methods[k];
		struct typespec_info info;
		if (!m->path || m->path[0] != '/' || strlen(m->path) >= CL_OSC_MAX_PATH) {
			snprintf(err, errlen, "OSC method %zu: bad path", k);
			return -1;
		}
		if (!m->handler) {
			snprintf(err, errlen, "OSC method %s: no handler", m->path);
			return -1;
		}
		if (parse_typespec(m->typespec, &info) != 0) {
			snprintf(err, errlen, "OSC method %s: bad typespec \"%s\"",
				 m->path, m->typespec ? m->typespec : "(null)");
			return -1;
		}
	}
	return 0;
}

/* Bind a non-blocking UDP socket to host:port; the fd, or -1 and err. */
static int open_socket(const char *host, int port, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char serv[16];
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(serv, sizeof serv, "%d", port);
	int gai = getaddrinfo(host, serv, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "OSC bind address %s: %s", host, gai_strerror(gai));
		return -1;
	}
	int fd = -1, last_errno = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		if (ai->ai_family == AF_INET6) {
			/* "::" then serves IPv4 senders as well. */
			int off = 0;
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
		}
		int rcvbuf = CL_OSC_RCVBUF;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		last_errno = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(err, errlen, "OSC bind %s:%d: %s", host, port, strerror(last_errno));
	return fd;
}

struct cl_osc *cl_osc_new(const char *bind_addr, int port,
			  const struct cl_osc_method *methods, size_t n,
			  const struct cl_osc_hooks *hooks,
			  char *err, size_t errlen)
{
	char dummy[8];
	if (!err) {
		err = dummy;
		errlen = sizeof dummy;
	}
	if (!bind_addr || !bind_addr[0])
		bind_addr = "127.0.0.1";
	if (port < 0 || port > 65535) {
		snprintf(err, errlen, "OSC port %d out of range (0-65535)", port);
		return NULL;
	}
	if (n && !methods) {
		snprintf(err, errlen, "OSC method table missing");
		return NULL;
	}
	if (check_table(methods, n, err, errlen) != 0)
		return NULL;
	struct cl_osc *osc = calloc(1, sizeof *osc);
	if (!osc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	osc->methods = methods;
	osc->n_methods = n;
	if (hooks)
		osc->hooks = *hooks;
	osc->fd = open_socket(bind_addr, port, err, errlen);
	if (osc->fd < 0)
		goto fail_free;

	struct sockaddr_storage local;
	socklen_t locallen = sizeof local;
	char serv[NI_MAXSERV];
	if (getsockname(osc->fd, (struct sockaddr *)&local, &locallen) != 0 ||
	    getnameinfo((struct sockaddr *)&local, locallen, osc->bind_host,
			sizeof osc->bind_host, serv, sizeof serv,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(err, errlen, "OSC socket: cannot read its address");
		goto fail_close;
	}
	osc->loopback_only = strncmp(osc->bind_host, "127.", 4) == 0 || strcmp(osc->bind_host, "::1") == 0;
	osc->family = local.ss_family;
	osc->port = atoi(serv);
	if (osc->family == AF_INET6)
		cl_info("OSC listening on udp://[%s]:%d", osc->bind_host, osc->port);
	else
		cl_info("OSC listening on udp://%s:%d", osc->bind_host, osc->port);
	return osc;

fail_close:
	close(osc->fd);
fail_free:
	free(osc);
	return NULL;
}

void cl_osc_free(struct cl_osc *osc)
{
	if (!osc)
		return;
	if (osc->fd >= 0)
		close(osc->fd);
	free(osc);
}

int cl_osc_fd(const struct cl_osc *osc)
{
	return osc->fd;
}

int cl_osc_port(const struct cl_osc *osc)
{
	return osc->port;
}

/* ---------------------------------------------------------------------- */
/* Documentation                                                           */

static void method_args(const struct cl_osc_method *m, const char *override,
			char *buf, size_t len)
{
	if (override)
		snprintf(buf, len, "%s", override);
	else
		typespec_describe(m->typespec, buf, len);
}

void cl_osc_print_doc(const struct cl_osc_method *methods, size_t n, FILE *out)
{
	char args[256];
	int wpath = 0, wargs = 0;
	for (size_t k = 0; k < n + N_BUILTINS; k++) {
		const struct cl_osc_method *m = k < n ? &methods[k] : &builtins[k - n].m;
		method_args(m, k < n ? NULL : builtins[k - n].args, args, sizeof args);
		int lp = (int)strlen(m->path), la = (int)strlen(args);
		if (lp > wpath)
			wpath = lp;
		if (la > wargs)
			wargs = la;
	}
	if (wpath > 40)
		wpath = 40;
	if (wargs > 32)
		wargs = 32;

	fprintf(out, "OSC methods (arguments: <number> takes i, h, f, d or a numeric string;\n"
		     "<on|off> takes i/f 0 or not 0, T/F, on/off/true/false/1/0):\n");
	for (size_t k = 0; k < n; k++) {
		method_args(&methods[k], NULL, args, sizeof args);
		fprintf(out, "  %-*s  %-*s  %s\n", wpath, methods[k].path, wargs, args,
			methods[k].doc ? methods[k].doc : "");
	}
	fprintf(out, "\nCommon methods (every CoreLogic program; errors come back as\n"
		     "/cl/error <address> <reason>):\n");
	for (size_t k = 0; k < N_BUILTINS; k++) {
		method_args(&builtins[k].m, builtins[k].args, args, sizeof args);
		fprintf(out, "  %-*s  %-*s  %s\n", wpath, builtins[k].m.path, wargs, args,
			builtins[k].m.doc);
	}
}
