/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * cfg.c: the settings of wschatd, their built-in defaults and bounds, and
 * the two ways to change them: "KEY=VALUE" from -o, and wschatd.conf lines
 * "KEY VALUE".  One table drives both, the man page lists the same keys.
 * cfg_read() is the whole reading, at start and on every SIGHUP: the
 * defaults, the file, the command line's overrides in their order, the
 * checks, and the user and group looked up.  The command line itself is
 * main's, and keeping it for reloads the master's.  Errors come back
 * through char **cause ("FILE:LINE: reason" for files); the caller prints
 * and frees them.  Runs in the master before fork.
 */

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wschatd.h"
#include "cfg.h"
#include "http.h"

#ifndef WSCHATD_WEBROOT
#define WSCHATD_WEBROOT	"/usr/local/share/wschatd/www"
#endif
#ifndef WSCHATD_PIDFILE
#define WSCHATD_PIDFILE	"/run/wschatd.pid"
#endif

enum cfg_type {
	CFG_UINT,	/* plain count */
	CFG_SIZE,	/* bytes, with k/m/g suffixes, in an unsigned */
	CFG_SIZE64,	/* the same in a uint64_t */
	CFG_TIME,	/* seconds, with s/m/h suffixes */
	CFG_BOOL,	/* on/off, yes/no, 1/0 */
	CFG_STR,	/* any text; "" unsets */
	CFG_ADDR	/* ADDR:PORT, [V6]:PORT, *:PORT, PORT, or off */
};

struct cfg_key {
	const char	*name;
	enum cfg_type	 type;
	size_t		 off;
	uint64_t	 min, max;
	const char	*def;
	/* CFG_STR: returns the reason a value is bad, or NULL. */
	const char	*(*check)(const char *);
};

static const char *
cfg_check_abspath(const char *v)
{
	return (v[0] == '\0' || v[0] == '/' ? NULL :
	    "not an absolute file name");
}

static const char *
cfg_check_log(const char *v)
{
	if (v[0] == '\0' || v[0] == '/' || strcmp(v, "stderr") == 0 ||
	    strcmp(v, "syslog") == 0)
		return (NULL);
	return ("not stderr, syslog or an absolute file name");
}

static const char *
cfg_check_path(const char *v)
{
	return (v[0] == '/' ? NULL : "not an absolute file name");
}

static const char *
cfg_check_sync(const char *v)
{
	return (strcmp(v, "normal") == 0 || strcmp(v, "full") == 0 ? NULL :
	    "not normal or full");
}

static const char *
cfg_check_level(const char *v)
{
	return (log_level_parse(v) != -1 ? NULL :
	    "not error, warning, info or debug");
}

#define O(f)	offsetof(struct cfg, f)
static const struct cfg_key cfg_keys[] = {
	{ "workers",		CFG_UINT, O(workers), 0, WSCHATD_MAX_WORKERS, "0", NULL },
	{ "listen",		CFG_ADDR, O(listen), 0, 0, "127.0.0.1:8080", NULL },
	{ "line_listen",	CFG_ADDR, O(line_listen), 0, 0, "127.0.0.1:8888", NULL },
	{ "webroot",		CFG_STR, O(webroot), 0, 0, WSCHATD_WEBROOT, NULL },
	{ "pidfile",		CFG_STR, O(pidfile), 0, 0, WSCHATD_PIDFILE,
	    cfg_check_abspath },
	{ "user",		CFG_STR, O(user), 0, 0, "", NULL },
	{ "group",		CFG_STR, O(group), 0, 0, "", NULL },
	{ "log",		CFG_STR, O(log), 0, 0, "", cfg_check_log },
	{ "log_level",		CFG_STR, O(log_level), 0, 0, "info",
	    cfg_check_level },
	{ "log_client_rate",	CFG_UINT, O(log_client_rate), 0, 1000000, "100",
	    NULL },
	{ "echo",		CFG_BOOL, O(echo), 0, 1, "on", NULL },
	{ "allowed_origins",	CFG_STR, O(allowed_origins), 0, 0, "", NULL },
	{ "backlog",		CFG_UINT, O(backlog), 1, 65535, "511", NULL },
	{ "max_connections",	CFG_UINT, O(max_connections), 0, 10000000, "0", NULL },
	{ "max_connections_per_ip", CFG_UINT, O(max_connections_per_ip), 0, 10000000, "0",
	    NULL },
	{ "max_message_size",	CFG_SIZE64, O(max_message_size), 125, 1ULL << 30, "1m", NULL },
	{ "max_header_size",	CFG_SIZE, O(max_header_size), 256, 1 << 20, "8k", NULL },
	{ "max_request_line",	CFG_SIZE, O(max_request_line), 64, 1 << 20, "4k", NULL },
	{ "max_headers",	CFG_UINT, O(max_headers), 4, HTTP_HEADERS_MAX, "64", NULL },
	{ "max_line_length",	CFG_SIZE, O(max_line_length), 16, 1 << 20, "8k", NULL },
	{ "max_text_length",	CFG_SIZE, O(max_text_length), 1, 1 << 30, "4k", NULL },
	{ "max_pending",	CFG_SIZE64, O(max_pending), 4096, 1ULL << 34, "4m", NULL },
	{ "max_pending_total",	CFG_SIZE64, O(max_pending_total), 0, 1ULL << 40, "256m", NULL },
	{ "http_timeout",	CFG_TIME, O(http_timeout), 1, 86400, "30", NULL },
	{ "handshake_timeout",	CFG_TIME, O(handshake_timeout), 1, 86400, "10", NULL },
	{ "ping_interval",	CFG_TIME, O(ping_interval), 0, 86400, "54", NULL },
	{ "pong_timeout",	CFG_TIME, O(pong_timeout), 1, 86400, "60", NULL },
	{ "close_timeout",	CFG_TIME, O(close_timeout), 1, 3600, "5", NULL },
	{ "shutdown_timeout",	CFG_TIME, O(shutdown_timeout), 1, 3600, "10", NULL },
	{ "drain_timeout",	CFG_TIME, O(drain_timeout), 0, 31536000, "0", NULL },
	{ "idle_timeout",	CFG_TIME, O(idle_timeout), 0, 604800, "300", NULL },
	{ "ws_idle_timeout",	CFG_TIME, O(ws_idle_timeout), 0, 604800, "0", NULL },
	{ "max_users",		CFG_UINT, O(max_users), 16, 1 << 22, "16384", NULL },
	{ "max_rooms",		CFG_UINT, O(max_rooms), 1, 1 << 22, "1024", NULL },
	{ "max_who_page",	CFG_UINT, O(max_who_page), 1, 1 << 22, "1000", NULL },
	{ "command_rate",	CFG_UINT, O(command_rate), 1, 1000000, "30", NULL },
	{ "message_rate",	CFG_UINT, O(message_rate), 0, 1000000, "0", NULL },
	{ "message_burst",	CFG_UINT, O(message_burst), 1, 1000000, "100", NULL },
	{ "bus_ring_size",	CFG_SIZE64, O(bus_ring_size), 64 << 10, 1ULL << 30, "16m", NULL },
	{ "io_uring",		CFG_BOOL, O(io_uring), 0, 1, "on", NULL },
	{ "history",		CFG_BOOL, O(history), 0, 1, "on", NULL },
	{ "history_file",	CFG_STR, O(history_file), 0, 0, WSCHATD_HISTORY,
	    cfg_check_path },
	{ "history_sync",	CFG_STR, O(history_sync), 0, 0, "normal",
	    cfg_check_sync },
	{ "history_flush",	CFG_UINT, O(history_flush), 1, 60000, "20", NULL },
	{ "history_batch",	CFG_UINT, O(history_batch), 1, 1000000, "512", NULL },
	{ "history_max_messages", CFG_SIZE64, O(history_max_messages), 0, 1ULL << 40,
	    "100000", NULL },
	{ "history_max_age",	CFG_TIME, O(history_max_age), 0, 3153600000U,
	    "720h", NULL },
	{ "history_join",	CFG_UINT, O(history_join), 0, 10000, "50", NULL },
	{ "history_page_max",	CFG_UINT, O(history_page_max), 1, 100000, "200", NULL },
	{ "history_recent",	CFG_UINT, O(history_recent), 0, 1000000, "1000", NULL },
	{ "history_private",	CFG_UINT, O(history_private), 0, 10000000, "10000",
	    NULL },
	{ "history_memory",	CFG_SIZE64, O(history_memory), 0, 1ULL << 40, "64m",
	    NULL },
	{ "resume_timeout",	CFG_TIME, O(resume_timeout), 0, 86400, "30", NULL },
	{ "resume_max",		CFG_UINT, O(resume_max), 1, 10000000, "10000", NULL },
	{ "metrics",		CFG_BOOL, O(metrics), 0, 1, "on", NULL },
	{ "metrics_allow",	CFG_STR, O(metrics_allow), 0, 0, "127.0.0.0/8 ::1",
	    NULL },
};
#undef O
#define CFG_NKEYS	(sizeof(cfg_keys) / sizeof(cfg_keys[0]))

static const struct cfg_key *
cfg_find(const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < CFG_NKEYS; i++)
		if (strlen(cfg_keys[i].name) == len &&
		    strncmp(cfg_keys[i].name, name, len) == 0)
			return (&cfg_keys[i]);
	return (NULL);
}

static int	 cfg_error(char **, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

static int
cfg_error(char **cause, const char *fmt, ...)
{
	va_list	 ap;

	if (cause != NULL) {
		va_start(ap, fmt);
		if (vasprintf(cause, fmt, ap) == -1)
			fatal("%s: vasprintf", __func__);
		va_end(ap);
	}
	return (-1);
}

/* Parse a number with an optional unit suffix; -1 if malformed. */
static int
cfg_number(const char *v, enum cfg_type type, uint64_t *out)
{
	char			*end;
	unsigned long long	 n, mul = 1;

	if (!isdigit((unsigned char)v[0]))
		return (-1);
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		return (-1);
	if ((type == CFG_SIZE || type == CFG_SIZE64) && *end != '\0') {
		switch (tolower((unsigned char)*end)) {
		case 'k': mul = 1ULL << 10; break;
		case 'm': mul = 1ULL << 20; break;
		case 'g': mul = 1ULL << 30; break;
		default: return (-1);
		}
		end++;
	} else if (type == CFG_TIME && *end != '\0') {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		default: return (-1);
		}
		end++;
	}
	if (*end != '\0' || n > UINT64_MAX / mul)
		return (-1);
	*out = n * mul;
	return (0);
}

int
cfg_parse_addr(const char *v, struct cfg_addr *a, char **cause)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&a->ss;
	char			 host[64];
	const char		*port, *p;
	uint64_t		 n;
	size_t			 hl;

	memset(a, 0, sizeof(*a));
	snprintf(a->text, sizeof(a->text), "%s", v);
	if (strcmp(v, "off") == 0) {
		a->off = 1;
		return (0);
	}
	if (v[0] == '[') {
		if ((p = strchr(v, ']')) == NULL || p[1] != ':')
			return (cfg_error(cause, "bad address \"%s\"", v));
		hl = p - v - 1;
		port = p + 2;
		v++;
	} else if ((p = strrchr(v, ':')) != NULL) {
		hl = p - v;
		port = p + 1;
	} else {
		hl = 0;		/* a port alone: every address */
		port = v;
	}
	if (hl >= sizeof(host))
		return (cfg_error(cause, "bad address \"%s\"", a->text));
	memcpy(host, v, hl);
	host[hl] = '\0';
	if (cfg_number(port, CFG_UINT, &n) == -1 || n > 65535)
		return (cfg_error(cause, "bad port in \"%s\"", a->text));
	if (hl == 0 || strcmp(host, "*") == 0) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons((uint16_t)n);
		a->sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)n);
		a->sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)n);
		a->sslen = sizeof(*sin6);
	} else
		return (cfg_error(cause,
		    "bad address \"%s\" (numeric IPv4 or [IPv6] wanted)",
		    a->text));
	return (0);
}

/*
 * Write a socket address as "ip:port" or "[ip6]:port": the form the
 * logs, the listen settings and the chat's default names use.
 */
void
cfg_addr_format(const struct sockaddr *sa, char *out, size_t outsz)
{
	char	 host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, outsz, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, outsz, "%s:%u", host, ntohs(s4->sin_port));
	}
}

unsigned
cfg_addr_port(const struct cfg_addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port));
	return (ntohs(((const struct sockaddr_in *)&a->ss)->sin_port));
}

/*
 * Parse a list of addresses and prefixes ("127.0.0.0/8 ::1 10.1.2.3"),
 * separated by blanks or commas; bits past the prefix are ignored.
 * Returns 0 with *nets (the caller frees it) and *n, at least one, or -1
 * with *cause naming the bad entry.  Any process.
 */
int
cfg_net_parse(const char *list, struct cfg_net **nets, size_t *n,
    char **cause)
{
	struct cfg_net	*v = NULL;
	const char	*p = list, *e, *slash;
	char		 tok[64];
	size_t		 len, cap = 0, i;
	uint64_t	 bits;
	unsigned	 max;

	*nets = NULL;
	*n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t' && *e != ',';
		    e++)
			;
		len = (size_t)(e - p);
		if (*n == cap) {
			cap = cap ? cap * 2 : 4;
			v = reallocarray(v, cap, sizeof(*v));
			if (v == NULL)
				fatal("%s: reallocarray", __func__);
		}
		memset(&v[*n], 0, sizeof(v[*n]));
		if (len >= sizeof(tok))
			goto bad;
		memcpy(tok, p, len);
		tok[len] = '\0';
		if ((slash = strchr(tok, '/')) != NULL)
			tok[slash - tok] = '\0';
		if (inet_pton(AF_INET, tok, v[*n].addr) == 1) {
			v[*n].family = AF_INET;
			max = 32;
		} else if (inet_pton(AF_INET6, tok, v[*n].addr) == 1) {
			v[*n].family = AF_INET6;
			max = 128;
		} else
			goto bad;
		bits = max;
		if (slash != NULL && (cfg_number(slash + 1, CFG_UINT,
		    &bits) == -1 || bits > max))
			goto bad;
		v[*n].bits = (unsigned)bits;
		for (i = 0; i < 16; i++)
			if (i * 8 >= bits)
				v[*n].addr[i] = 0;
			else if (i * 8 + 8 > bits)
				v[*n].addr[i] &= (uint8_t)(0xff <<
				    (8 - (bits - i * 8)));
		(*n)++;
		p = e;
	}
	if (*n == 0) {
		free(v);
		return (cfg_error(cause, "metrics_allow: no address in \"%s\"",
		    list));
	}
	*nets = v;
	return (0);
bad:
	free(v);
	*n = 0;
	return (cfg_error(cause, "metrics_allow: bad entry \"%.*s\" "
	    "(IPv4 or IPv6 address, optionally /BITS)", (int)len, p));
}

/* Is sa (AF_INET or AF_INET6, v4-mapped too) in one of the prefixes? */
int
cfg_net_match(const struct cfg_net *nets, size_t n, const struct sockaddr *sa)
{
	const uint8_t	*a;
	size_t		 i;
	unsigned	 full, rest;
	int		 family;

	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		family = AF_INET6;
		a = ((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)
		    (const void *)a)) {
			family = AF_INET;
			a += 12;
		}
	} else
		return (0);
	for (i = 0; i < n; i++) {
		if (nets[i].family != family)
			continue;
		full = nets[i].bits / 8;
		rest = nets[i].bits % 8;
		if (memcmp(a, nets[i].addr, full) == 0 && (rest == 0 ||
		    (a[full] & (uint8_t)(0xff << (8 - rest))) ==
		    nets[i].addr[full]))
			return (1);
	}
	return (0);
}

void
cfg_init(struct cfg *c)
{
	size_t	 i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CFG_NKEYS; i++)
		if (cfg_set(c, cfg_keys[i].name, cfg_keys[i].def, NULL) == -1)
			fatalx("%s: bad default for %s", __func__,
			    cfg_keys[i].name);
	/* The built-in pidfile is no choice of the user's. */
	c->pidfile_set = 0;
}

void
cfg_clear(struct cfg *c)
{
	free(c->webroot);
	free(c->allowed_origins);
	free(c->pidfile);
	free(c->user);
	free(c->group);
	free(c->log);
	free(c->log_level);
	free(c->conffile);
	free(c->metrics_allow);
	free(c->history_file);
	free(c->history_sync);
	memset(c, 0, sizeof(*c));
}

static int
cfg_apply(struct cfg *c, const struct cfg_key *k, const char *v, char **cause)
{
	char		*field = (char *)c + k->off;
	const char	*why;
	uint64_t	 n;
	char		**sp;

	switch (k->type) {
	case CFG_UINT:
	case CFG_SIZE:
	case CFG_SIZE64:
	case CFG_TIME:
		if (cfg_number(v, k->type, &n) == -1)
			return (cfg_error(cause, "%s: bad number \"%s\"",
			    k->name, v));
		if (n < k->min || n > k->max) {
			char	range[64];

			snprintf(range, sizeof(range), "%llu to %llu",
			    (unsigned long long)k->min,
			    (unsigned long long)k->max);
			if (cause != NULL)
				xasprintf(cause, "%s: %s is out of range (%s)",
				    k->name, v, range);
			return (-1);
		}
		if (k->type == CFG_SIZE64)
			*(uint64_t *)field = n;
		else
			*(unsigned *)field = (unsigned)n;
		return (0);
	case CFG_BOOL:
		if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "1"))
			*(int *)field = 1;
		else if (!strcmp(v, "off") || !strcmp(v, "no") ||
		    !strcmp(v, "0"))
			*(int *)field = 0;
		else
			return (cfg_error(cause, "%s: \"%s\" is not on or off",
			    k->name, v));
		return (0);
	case CFG_STR:
		if (k->check != NULL && (why = k->check(v)) != NULL)
			return (cfg_error(cause, "%s: \"%s\": %s", k->name, v,
			    why));
		sp = (char **)field;
		free(*sp);
		*sp = v[0] != '\0' ? xstrdup(v) : NULL;
		if (sp == &c->pidfile)
			c->pidfile_set = 1;
		return (0);
	case CFG_ADDR:
		if (cfg_parse_addr(v, (struct cfg_addr *)field, cause) == -1)
			return (-1);
		return (0);
	}
	return (-1);
}

int
cfg_set(struct cfg *c, const char *key, const char *value, char **cause)
{
	const struct cfg_key	*k;

	if ((k = cfg_find(key, strlen(key))) == NULL)
		return (cfg_error(cause, "unknown setting \"%s\"", key));
	return (cfg_apply(c, k, value, cause));
}

int
cfg_set_kv(struct cfg *c, const char *kv, char **cause)
{
	const char		*eq;
	const struct cfg_key	*k;

	if ((eq = strchr(kv, '=')) == NULL)
		return (cfg_error(cause, "\"%s\": KEY=VALUE expected", kv));
	if ((k = cfg_find(kv, eq - kv)) == NULL)
		return (cfg_error(cause, "unknown setting in \"%s\"", kv));
	return (cfg_apply(c, k, eq + 1, cause));
}

/* Errors of one file, one a line; past CFG_MAX_ERRORS only counted. */
#define CFG_MAX_ERRORS	20

struct cfg_errors {
	char		*text;
	unsigned	 n;
};

static void	 cfg_errors_add(struct cfg_errors *, const char *, unsigned,
		    const char *, ...)
		    __attribute__((__format__(printf, 4, 5)));

static void
cfg_errors_add(struct cfg_errors *errs, const char *file, unsigned lineno,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, *all;

	if (errs->n++ >= CFG_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("%s: vasprintf", __func__);
	va_end(ap);
	xasprintf(&all, "%s%s%s:%u: %s", errs->text ? errs->text : "",
	    errs->text ? "\n" : "", file, lineno, msg);
	free(errs->text);
	free(msg);
	errs->text = all;
}

/*
 * Parse a configuration text.  Every bad line is reported, not only the
 * first: *cause gets one "FILE:LINE: reason" a line.  Returns 0, or -1
 * if any line was bad (the good ones are applied all the same: the
 * caller throws the result away).
 */
int
cfg_parse(struct cfg *c, const char *file, const char *text, size_t len,
    char **cause)
{
	struct cfg_errors	 errs = { NULL, 0 };
	char			 line[4096], *p, *e, *key, *val, *why = NULL;
	size_t			 i = 0, n;
	unsigned		 lineno = 0;

	while (i < len) {
		lineno++;
		for (n = 0; i + n < len && text[i + n] != '\n'; n++)
			;
		if (n >= sizeof(line)) {
			cfg_errors_add(&errs, file, lineno, "line too long");
			i += n + 1;
			continue;
		}
		memcpy(line, text + i, n);
		line[n] = '\0';
		i += n + 1;
		if (memchr(line, '\0', n) != NULL) {
			cfg_errors_add(&errs, file, lineno, "NUL byte");
			continue;
		}
		/* A comment runs from '#' at the start or after blanks. */
		for (p = line; *p != '\0'; p++)
			if (*p == '#' && (p == line || isspace((unsigned char)
			    p[-1]))) {
				*p = '\0';
				break;
			}
		for (p = line; isspace((unsigned char)*p); p++)
			;
		e = p + strlen(p);
		while (e > p && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*p == '\0')
			continue;
		key = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
		while (isspace((unsigned char)*p))
			p++;
		val = p;
		/* A value may be quoted, for an empty or spaced string. */
		n = strlen(val);
		if (n >= 2 && val[0] == '"' && val[n - 1] == '"') {
			val[n - 1] = '\0';
			val++;
		} else if (*val == '\0') {
			cfg_errors_add(&errs, file, lineno, "%s: value missing",
			    key);
			continue;
		}
		if (cfg_set(c, key, val, &why) == -1) {
			cfg_errors_add(&errs, file, lineno, "%s", why);
			free(why);
			why = NULL;
		}
	}
	if (errs.n == 0)
		return (0);
	if (errs.n > CFG_MAX_ERRORS)
		xasprintf(cause, "%s\n%s: %u more errors", errs.text, file,
		    errs.n - CFG_MAX_ERRORS);
	else
		*cause = errs.text, errs.text = NULL;
	free(errs.text);
	return (-1);
}

int
cfg_load(struct cfg *c, const char *path, char **cause)
{
	struct stat	 st;
	char		*text;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd, rv;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
		xasprintf(cause, "%s: not a regular file under 1 MiB", path);
		close(fd);
		return (-1);
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	    (n = read(fd, text + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	rv = cfg_parse(c, path, text, got, cause);
	free(text);
	return (rv);
}

/* Cross-setting checks, once everything is set. */
int
cfg_check(const struct cfg *c, char **cause)
{
	struct cfg_net	*nets;
	size_t		 n;

	if (c->listen.off && c->line_listen.off)
		return (cfg_error(cause, "listen and line_listen are both "
		    "off: nothing to serve"));
	if (c->max_request_line > c->max_header_size)
		return (cfg_error(cause, "max_request_line exceeds "
		    "max_header_size"));
	if (c->ping_interval != 0 && c->pong_timeout <= c->ping_interval)
		return (cfg_error(cause, "pong_timeout must exceed "
		    "ping_interval"));
	if ((c->bus_ring_size & (c->bus_ring_size - 1)) != 0)
		return (cfg_error(cause, "bus_ring_size must be a power of "
		    "two"));
	if (c->metrics_allow != NULL) {
		if (cfg_net_parse(c->metrics_allow, &nets, &n, cause) == -1)
			return (-1);
		free(nets);
	}
	return (0);
}

/* Resolve user and group into c->uid and c->gid. */
static int
cfg_ids(struct cfg *c, char **cause)
{
	struct passwd	*pw;
	struct group	*gr;

	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	if (c->user != NULL) {
		if ((pw = getpwnam(c->user)) == NULL) {
			xasprintf(cause, "user %s: no such user", c->user);
			return (-1);
		}
		c->uid = pw->pw_uid;
		c->gid = pw->pw_gid;
	}
	if (c->group != NULL) {
		if ((gr = getgrnam(c->group)) == NULL) {
			xasprintf(cause, "group %s: no such group", c->group);
			return (-1);
		}
		c->gid = gr->gr_gid;
	}
	if ((c->uid != (uid_t)-1 && c->uid != geteuid()) ||
	    (c->gid != (gid_t)-1 && c->gid != getegid())) {
		if (geteuid() != 0) {
			xasprintf(cause, "user/group: only root can switch to "
			    "%s%s%s", c->user ? c->user : "",
			    c->group ? ":" : "", c->group ? c->group : "");
			return (-1);
		}
	}
	return (0);
}

/*
 * Read the configuration into c, which is overwritten (pass it fresh or
 * cfg_clear()ed): the built-in defaults, then the file (file; with file
 * NULL the default WSCHATD_CONFFILE if it exists, else none), then the n
 * overrides in their order, so that the last word wins; then the checks
 * (cfg_check, the web root a directory, user and group known and
 * allowed); and workers 0 becomes the number of CPUs.  Returns 0, or -1
 * at the first error with *cause (caller frees).  Either way c is the
 * caller's to cfg_clear(); c->conffile is a copy of the file read, or
 * NULL.  file and ov are borrowed.  Master only: at start and on every
 * SIGHUP.
 */
int
cfg_read(struct cfg *c, const char *file, const struct cfg_override *ov,
    size_t n, char **cause)
{
	char		 real[PATH_MAX];
	struct stat	 st;
	size_t		 i;
	long		 ncpu;
	int		 rv;

	cfg_init(c);
	if (file == NULL && access(WSCHATD_CONFFILE, F_OK) == 0)
		file = WSCHATD_CONFFILE;
	if (file != NULL && cfg_load(c, file, cause) == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		if (ov[i].key != NULL)
			rv = cfg_set(c, ov[i].key, ov[i].value, cause);
		else
			rv = cfg_set_kv(c, ov[i].value, cause);
		if (rv == -1)
			return (-1);
	}
	if (cfg_check(c, cause) == -1)
		return (-1);
	errno = 0;
	if (c->webroot == NULL || realpath(c->webroot, real) == NULL ||
	    stat(real, &st) == -1 || !S_ISDIR(st.st_mode)) {
		xasprintf(cause, "webroot %s: %s", c->webroot ?
		    c->webroot : "(unset)", errno ? strerror(errno) :
		    "not a directory");
		return (-1);
	}
	if (cfg_ids(c, cause) == -1)
		return (-1);
	if (c->workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = ncpu < 1 ? 1 : ncpu > WSCHATD_MAX_WORKERS ?
		    WSCHATD_MAX_WORKERS : (unsigned)ncpu;
	}
	c->conffile = file != NULL ? xstrdup(file) : NULL;
	return (0);
}

/*
 * What -f changes in c: c->foreground, and the pidfile.  A foreground run
 * takes one only if the file or the command line set it; the built-in
 * pidfile is the daemon's, as an init script or systemd finds it, and a
 * user in a terminal may not be allowed to create it.  Call it after
 * each cfg_read(): main() at start, the master on every SIGHUP.
 */
void
cfg_foreground(struct cfg *c, int foreground)
{
	c->foreground = foreground;
	if (foreground && !c->pidfile_set) {
		free(c->pidfile);
		c->pidfile = NULL;
	}
}

void
cfg_dump(const struct cfg *c, void (*out)(const char *, void *), void *arg)
{
	char		 line[512];
	const char	*field;
	size_t		 i;

	for (i = 0; i < CFG_NKEYS; i++) {
		field = (const char *)c + cfg_keys[i].off;
		switch (cfg_keys[i].type) {
		case CFG_UINT:
		case CFG_TIME:
			snprintf(line, sizeof(line), "%s %u", cfg_keys[i].name,
			    *(const unsigned *)field);
			break;
		case CFG_SIZE:
			snprintf(line, sizeof(line), "%s %u", cfg_keys[i].name,
			    *(const unsigned *)field);
			break;
		case CFG_SIZE64:
			snprintf(line, sizeof(line), "%s %llu",
			    cfg_keys[i].name, (unsigned long long)
			    *(const uint64_t *)field);
			break;
		case CFG_BOOL:
			snprintf(line, sizeof(line), "%s %s", cfg_keys[i].name,
			    *(const int *)field ? "on" : "off");
			break;
		case CFG_STR:
			snprintf(line, sizeof(line), "%s \"%s\"",
			    cfg_keys[i].name, *(char *const *)field ?
			    *(char *const *)field : "");
			break;
		case CFG_ADDR:
			snprintf(line, sizeof(line), "%s %s", cfg_keys[i].name,
			    ((const struct cfg_addr *)field)->text);
			break;
		}
		out(line, arg);
	}
}
