/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn_http.c: a connection on the HTTP port until it upgrades.  It reads
 * requests (keep-alive and pipelined; a head that dribbles in is cut off
 * at handshake_timeout), routes them (/ws and /echo to the WebSocket
 * handshake, /healthz, /metrics for the peers in metrics_allow, static
 * files below the web root), answers errors, and keeps the Date header.
 * Parsing is http.c's, files static.c's, the session after the upgrade
 * conn_ws.c's; the connection's lifetime is conn.c's.
 */

#include <sys/socket.h>
#include <sys/stat.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "wschatd.h"
#include "conn.h"
#include "http.h"
#include "metrics.h"
#include "worker.h"

/* Seconds a refused client is asked to wait (Retry-After). */
#define CONN_HTTP_RETRY_AFTER	5

static void	 conn_http_read(struct conn *);
static void	 conn_http_tick(struct conn *, uint64_t);
static void	 conn_http_error(struct conn *, int, int, const char *,
		    const char *);

static const struct conn_proto conn_http_proto = {
	.name = "http",
	.stkind = SHM_ST_CONN_HTTP,
	.msgkind = SHM_ST_MSG_WS,
	.read = conn_http_read,
	.tick = conn_http_tick,
};

/* The Date header's value, formatted at most once a second. */
static const char *
conn_http_date(struct conn_http_site *s)
{
	time_t	 now = time(NULL);

	if (now != s->date_sec) {
		s->date_sec = now;
		static_http_date(now, s->date, sizeof(s->date));
	}
	return (s->date);
}

/* The web root and metrics_allow, resolved once per worker. */
void
conn_http_init(struct worker *w)
{
	char	 real[PATH_MAX], *cause = NULL;

	if (realpath(w->cfg->webroot, real) == NULL)
		fatal("webroot %s", w->cfg->webroot);
	w->site.webroot_real = xstrdup(real);
	w->site.webroot_len = strlen(real);
	/* cfg_check() parsed it already: failing here is a broken invariant. */
	if (w->cfg->metrics_allow != NULL && cfg_net_parse(
	    w->cfg->metrics_allow, &w->site.metrics_nets,
	    &w->site.metrics_nnets, &cause) == -1)
		fatalx("%s", cause);
}

void
conn_http_clear(struct worker *w)
{
	free(w->site.webroot_real);
	free(w->site.metrics_nets);
	w->site.webroot_real = NULL;
	w->site.metrics_nets = NULL;
}

/*
 * A connection on the HTTP port.  One the worker will not keep gets a 503
 * with Retry-After.
 */
void
conn_http_accept(struct worker *w, int fd, struct sockaddr *sa)
{
	struct conn	*c;
	char		 buf[512];
	static const char body[] = "503 Service Unavailable\n";
	int		 n, reason;

	if ((c = conn_new(w, fd, sa, &conn_http_proto, CONN_S_HTTP,
	    &reason)) != NULL) {
		c->rd.http.head_deadline = now_mono_ms() +
		    (uint64_t)w->cfg->handshake_timeout * 1000;
		conn_set_timeouts(c, w->cfg->http_timeout,
		    w->cfg->http_timeout);
		return;
	}
	if (reason == -1)
		return;
	n = snprintf(buf, sizeof(buf),
	    "HTTP/1.1 503 Service Unavailable\r\n"
	    "Server: " WSCHATD_NAME "/" WSCHATD_VERSION "\r\n"
	    "Date: %s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n"
	    "Retry-After: %u\r\n"
	    "Connection: close\r\n"
	    "\r\n%s", conn_http_date(&w->site), sizeof(body) - 1,
	    CONN_HTTP_RETRY_AFTER, body);
	shm_stat_add(&w->st->st_http[4], 1);	/* 5xx */
	conn_refuse(w, fd, reason, buf, n > 0 && (size_t)n < sizeof(buf) ?
	    (size_t)n : 0);
}

/*
 * Once a second: answer 408 to a connection whose request head took
 * longer than handshake_timeout.  http_timeout alone cannot catch a head
 * that dribbles in (slowloris): each byte restarts it.  Checking here
 * costs no timer per connection; a head is cut off between
 * handshake_timeout and a second after it.
 */
static void
conn_http_tick(struct conn *c, uint64_t now)
{
	if (c->state == CONN_S_HTTP && c->rd.http.head_deadline != 0 &&
	    now >= c->rd.http.head_deadline)
		conn_http_error(c, 408, 0, NULL, "handshake_timeout");
}

static void
conn_http_head(struct conn *c, int status, const char *ctype, size_t clen,
    int keepalive, const char *extra)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (status >= 100 && status < 600)
		shm_stat_add(&c->w->st->st_http[status / 100 - 1], 1);
	evbuffer_add_printf(out,
	    "HTTP/1.1 %d %s\r\n"
	    "Server: " WSCHATD_NAME "/" WSCHATD_VERSION "\r\n"
	    "Date: %s\r\n"
	    "%s%s%s"
	    "Content-Length: %zu\r\n"
	    "Connection: %s\r\n"
	    "%s"
	    "\r\n",
	    status, http_status_text(status), conn_http_date(&c->w->site),
	    ctype ? "Content-Type: " : "", ctype ? ctype : "",
	    ctype ? "\r\n" : "", clen,
	    keepalive ? "keep-alive" : "close", extra ? extra : "");
}

/*
 * Answer with a status and a one-line text body.  Errors close the
 * connection: after a malformed request nothing that follows can be
 * trusted to be a request.
 */
static void
conn_http_error(struct conn *c, int status, int head_only, const char *extra,
    const char *why)
{
	char	 body[96];
	int	 n;

	n = snprintf(body, sizeof(body), "%d %s\n", status,
	    http_status_text(status));
	conn_http_head(c, status, "text/plain; charset=utf-8", (size_t)n, 0,
	    extra);
	if (!head_only)
		evbuffer_add(bufferevent_get_output(c->bev), body, (size_t)n);
	log_client("conn %llu %s: http %d: %s", (unsigned long long)c->id,
	    c->peer, status, why);
	conn_flush(c);
}

static int
conn_http_origin_ok(const char *origin, size_t len, void *arg)
{
	const char	*list = arg, *p = list, *e;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		for (e = p; *e != '\0' && *e != ' ' && *e != ','; e++)
			;
		if ((size_t)(e - p) == len && strncasecmp(p, origin, len) == 0)
			return (1);
		p = e;
	}
	return (0);
}

/*
 * The chat format of a subprotocol.  None (a seed page asks for none) is
 * version 1 in JSON, as before subprotocols existed.
 */
static enum chat_fmt
conn_http_chat_fmt(int subprotocol)
{
	switch (subprotocol) {
	case WS_PROTO_MSGPACK:
		return (CHAT_FMT_MSGPACK);
	case WS_PROTO_JSON2:
		return (CHAT_FMT_JSON2);
	case WS_PROTO_MSGPACK2:
		return (CHAT_FMT_MSGPACK2);
	default:
		return (CHAT_FMT_JSON);
	}
}

/*
 * The opening handshake for a WebSocket endpoint: the chat (/ws) if chat,
 * else /echo.  On success the connection is conn_ws.c's from here on.
 */
static void
conn_http_upgrade(struct conn *c, const struct http_request *req, int chat)
{
	struct http_ws_opts	 opts;
	struct http_ws_result	 res;
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	const char		*proto;
	enum chat_fmt		 fmt = CHAT_FMT_NONE;

	memset(&opts, 0, sizeof(opts));
	if (chat)
		opts.subprotocols = 1 << WS_PROTO_JSON | 1 << WS_PROTO_MSGPACK |
		    1 << WS_PROTO_JSON2 | 1 << WS_PROTO_MSGPACK2;
	if (c->w->cfg->allowed_origins != NULL) {
		opts.origin_ok = conn_http_origin_ok;
		opts.origin_arg = c->w->cfg->allowed_origins;
	}
	if (http_ws_handshake(req, &opts, &res) != 101) {
		conn_http_error(c, res.status, 0, res.status == 426 ?
		    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" :
		    NULL, res.reason);
		return;
	}
	proto = http_ws_proto_name(res.subprotocol);
	evbuffer_add_printf(out,
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "%s%s%s"
	    "\r\n", res.accept,
	    proto ? "Sec-WebSocket-Protocol: " : "", proto ? proto : "",
	    proto ? "\r\n" : "");
	shm_stat_add(&c->w->st->st_http[0], 1);		/* 101 */
	if (chat)
		fmt = conn_http_chat_fmt(res.subprotocol);
	conn_ws_open(c, fmt);
	log_debug("conn %llu %s: websocket %s%s%s", (unsigned long long)c->id,
	    c->peer, chat ? "/ws" : "/echo", proto ? " " : "",
	    proto ? proto : "");
}

static void
conn_http_static(struct conn *c, const struct http_request *req,
    const char *path)
{
	struct evbuffer			*out = bufferevent_get_output(c->bev);
	const struct http_header	*ims;
	struct stat			 st;
	char				 lm[40], extra[2200];
	int				 fd = -1, status;
	time_t				 since;

	status = static_open(&c->w->site, path, &fd, &st);
	if (status == 301) {
		/* A directory: its relative links need the trailing slash. */
		snprintf(extra, sizeof(extra), "Location: %.2000s/\r\n", path);
		conn_http_error(c, 301, req->method == HTTP_HEAD, extra,
		    "directory without slash");
		return;
	}
	if (status != 200) {
		conn_http_error(c, status, req->method == HTTP_HEAD, NULL,
		    path);
		return;
	}
	static_http_date(st.st_mtime, lm, sizeof(lm));
	snprintf(extra, sizeof(extra), "Last-Modified: %s\r\n"
	    "X-Content-Type-Options: nosniff\r\n", lm);
	ims = http_header_find(req, "If-Modified-Since");
	if (ims != NULL &&
	    (since = static_parse_date(ims->value, ims->valuelen)) != -1 &&
	    st.st_mtime <= since) {
		close(fd);
		conn_http_head(c, 304, NULL, 0, req->keepalive, extra);
		return;
	}
	/* "/dir/" was served as its index.html. */
	conn_http_head(c, 200, http_mime_type(path[strlen(path) - 1] == '/' ?
	    "index.html" : path), (size_t)st.st_size,
	    req->keepalive, extra);
	if (req->method == HTTP_HEAD || st.st_size == 0) {
		close(fd);
		return;
	}
	/* Zero-copy: the output buffer sends the file with sendfile(2). */
	if (evbuffer_add_file(out, fd, 0, st.st_size) == -1) {
		/* Allocation failure; the head promised a body: drop. */
		close(fd);
		conn_close(c, "evbuffer_add_file failed");
	}
}

/*
 * GET or HEAD /metrics: every worker's counters (metrics.c), for peers in
 * metrics_allow only: they tell anyone how busy the server is.
 */
static void
conn_http_metrics(struct conn *c, const struct http_request *req)
{
	struct worker		*w = c->w;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	char			*text;
	size_t			 len;
	int			 head = req->method == HTTP_HEAD;

	if (w->site.metrics_nets != NULL && (getpeername(
	    bufferevent_getfd(c->bev), (struct sockaddr *)&ss, &sslen) == -1 ||
	    !cfg_net_match(w->site.metrics_nets, w->site.metrics_nnets,
	    (struct sockaddr *)&ss))) {
		conn_http_error(c, 403, head, NULL, "/metrics: not in "
		    "metrics_allow");
		return;
	}
	if ((text = metrics_format(w->reg, &len)) == NULL) {
		conn_http_error(c, 500, head, NULL, "/metrics: out of memory");
		return;
	}
	conn_http_head(c, 200, "text/plain; version=0.0.4; charset=utf-8", len,
	    req->keepalive, "Cache-Control: no-store\r\n");
	if (!head && evbuffer_add(bufferevent_get_output(c->bev), text,
	    len) == -1)
		conn_close(c, "evbuffer_add failed");
	free(text);
}

/* Route one complete request.  Returns 0 to go on reading requests. */
static int
conn_http_request(struct conn *c, const struct http_request *req)
{
	char		 path[2048];
	int		 status;
	const char	*body = "ok\n";

	c->rd.http.requests++;
	if (req->method == HTTP_OTHER) {
		conn_http_error(c, 405, 0, "Allow: GET, HEAD\r\n",
		    "method not allowed");
		return (-1);
	}
	if ((status = http_path_decode(req->target, req->targetlen, path,
	    sizeof(path))) != 0) {
		conn_http_error(c, status, req->method == HTTP_HEAD, NULL,
		    "bad request target");
		return (-1);
	}
	if (strcmp(path, "/ws") == 0 ||
	    (strcmp(path, "/echo") == 0 && c->w->cfg->echo)) {
		if (!http_is_upgrade(req)) {
			conn_http_error(c, 426, req->method == HTTP_HEAD,
			    "Upgrade: websocket\r\n"
			    "Sec-WebSocket-Version: 13\r\n",
			    "websocket endpoint without upgrade");
			return (-1);
		}
		conn_http_upgrade(c, req, path[1] == 'w');
		return (c->state == CONN_S_WS ? 0 : -1);
	}
	if (http_is_upgrade(req)) {
		conn_http_error(c, 404, 0, NULL, "no websocket here");
		return (-1);
	}
	if (strcmp(path, "/healthz") == 0) {
		conn_http_head(c, 200, "text/plain; charset=utf-8",
		    strlen(body), req->keepalive, "Cache-Control: no-store\r\n");
		if (req->method == HTTP_GET)
			evbuffer_add(bufferevent_get_output(c->bev), body,
			    strlen(body));
	} else if (strcmp(path, "/metrics") == 0 && c->w->cfg->metrics)
		conn_http_metrics(c, req);
	else
		conn_http_static(c, req, path);
	if (c->dead || c->state != CONN_S_HTTP)
		return (-1);
	if (!req->keepalive) {
		conn_flush(c);
		return (-1);
	}
	return (0);
}

/*
 * Has a whole request head arrived?  Scans only bytes not seen before, so
 * a head that trickles in costs O(n), not O(n^2).
 */
static int
conn_http_complete(struct conn *c, const unsigned char *p, size_t n)
{
	size_t	 i;

	for (i = c->rd.http.scan; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if ((i >= 1 && p[i - 1] == '\n') ||
		    (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n'))
			return (1);
	}
	c->rd.http.scan = n;
	return (0);
}

static void
conn_http_read(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	const struct cfg	*cfg = c->w->cfg;
	struct http_request	 req;
	struct http_limits	 lim;
	unsigned char		*p;
	size_t			 len, n;
	int			 rv;

	lim.max_header_size = cfg->max_header_size;
	lim.max_request_line = cfg->max_request_line;
	lim.max_headers = cfg->max_headers;
	while (c->state == CONN_S_HTTP && !c->dead && !c->read_paused &&
	    (len = evbuffer_get_length(in)) > 0) {
		/* The next request's head starts: it has handshake_timeout. */
		if (c->rd.http.head_deadline == 0)
			c->rd.http.head_deadline = now_mono_ms() +
			    (uint64_t)cfg->handshake_timeout * 1000;
		n = len > (size_t)cfg->max_header_size + 1 ?
		    (size_t)cfg->max_header_size + 1 : len;
		if ((p = evbuffer_pullup(in, (ssize_t)n)) == NULL) {
			conn_close(c, "evbuffer_pullup failed");
			return;
		}
		/* Parse once the head is complete, or too long to be. */
		if (!conn_http_complete(c, p, n) && n <= cfg->max_header_size &&
		    (c->rd.http.scan <= cfg->max_request_line ||
		    memchr(p, '\n', n) != NULL))
			return;
		rv = http_request_parse((const char *)p, n, &lim, &req);
		if (rv == HTTP_AGAIN) {
			c->rd.http.scan = n;	/* only empty lines so far */
			return;
		}
		c->rd.http.scan = 0;
		if (rv == HTTP_ERROR) {
			conn_http_error(c, req.status, 0, NULL, req.reason);
			return;
		}
		/* A retiring worker (after a reload) keeps no one waiting. */
		if (c->w->retiring)
			req.keepalive = 0;
		/* req points into p: drain only after answering. */
		rv = conn_http_request(c, &req);
		evbuffer_drain(in, req.hdrlen);
		if (c->state != CONN_S_HTTP)
			break;		/* upgraded: rd is the reader's now */
		c->rd.http.head_deadline = 0;
		if (rv != 0)
			break;
		conn_backpressure(c);
	}
	/* An upgrade may arrive with the first frames behind it. */
	if (c->state == CONN_S_WS && !c->dead)
		c->proto->read(c);
}

