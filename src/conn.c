/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn.c: one client connection in a worker, from accept to close.  It
 * reads HTTP requests (keep-alive and pipelined), answers static files,
 * /healthz and errors, performs the WebSocket upgrade, then feeds frames to
 * the ws.c reader and answers pings and closes.  It owns the connection's
 * lifetime: flushing, half-closing, lingering, timeouts and backpressure.
 * Parsing is left to http.c and ws.c, files to static.c, chat to hub.c.
 *
 * A connection is never freed in the middle of its own processing: code
 * that decides to drop one marks it dead, and the outermost callback frees
 * it on the way out (conn_leave).
 */

#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conn.h"

/* Stop reading while this much output is queued: backpressure. */
#define CONN_OUT_HIGH	(256 * 1024)
#define CONN_MAX_READ	(64 * 1024)
#define CONN_MAX_WRITE	(1024 * 1024)
/* Seconds a refused client is asked to wait (Retry-After). */
#define CONN_RETRY_AFTER	5

static void	 conn_read_cb(struct bufferevent *, void *);
static void	 conn_write_cb(struct bufferevent *, void *);
static void	 conn_event_cb(struct bufferevent *, short, void *);
static void	 conn_process(struct conn *);
static void	 conn_enter(struct conn *);
static void	 conn_leave(struct conn *);

/* Count c as open in st_conns[kind] instead of where it was. */
static void
conn_set_stkind(struct conn *c, unsigned kind)
{
	shm_stat_sub(&c->w->st->st_conns[c->stkind], 1);
	shm_stat_add(&c->w->st->st_conns[kind], 1);
	c->stkind = kind;
}

/* Put c on the list of connections conn_flush_pending() writes. */
static void
conn_pend(struct conn *c)
{
	if (c->pending || c->dead)
		return;
	c->pending = 1;
	TAILQ_INSERT_TAIL(&c->w->pending, c, pend_entry);
}

static void
conn_unpend(struct conn *c)
{
	if (!c->pending)
		return;
	c->pending = 0;
	TAILQ_REMOVE(&c->w->pending, c, pend_entry);
}

/*
 * The output buffer's callback.  Drains are what each write(2) or
 * sendfile(2) took, ours (conn_flush_pending) or libevent's, and nothing
 * else drains it (a buffer freed with data in it calls no callback), so
 * they are the bytes sent.  Adds, whoever makes them (frames, pongs,
 * close frames, line output), put a connection whose output we write
 * ourselves on the pending list: no path can queue bytes and forget them.
 */
static void
conn_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn	*c = arg;

	if (info->n_deleted > 0)
		shm_stat_add(&c->w->st->st_bytes_out, info->n_deleted);
	/* A dead connection's bytes left the sum when it died. */
	if (!c->dead)
		c->w->out_total = c->w->out_total + info->n_added -
		    info->n_deleted;
	if (info->n_added > 0 && c->direct)
		conn_pend(c);
}

/*
 * From now on the worker loop writes c's output once per iteration
 * (conn_flush_pending), and the bufferevent's EV_WRITE stays off unless a
 * write leaves bytes behind.  Adding data to a bufferevent with EV_WRITE
 * on arms the write event, and draining it disarms it: two epoll_ctl(2)
 * per message to an otherwise idle connection.  What is queued already
 * (the 101 response) goes first, in the same buffer.
 */
static void
conn_direct(struct conn *c)
{
	c->direct = 1;
	bufferevent_disable(c->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		conn_pend(c);
}

static void
conn_set_timeouts(struct conn *c, unsigned rsec, unsigned wsec)
{
	struct timeval	 rt = { rsec, 0 }, wt = { wsec, 0 };

	bufferevent_set_timeouts(c->bev, rsec ? &rt : NULL,
	    wsec ? &wt : NULL);
}

/* Timeouts while a WebSocket is open: the read side drives the heartbeat. */
static void
conn_ws_timeouts(struct conn *c)
{
	const struct cfg	*cfg = c->w->cfg;

	conn_set_timeouts(c, cfg->ping_interval, cfg->pong_timeout);
}

/*
 * Turn away a connection we will not keep: one attempt at a non-blocking
 * send of a 503 (HTTP) or an error line (line port), then close.  Nothing
 * is allocated for it, so a flood of them costs no memory.  What the
 * client already sent is read first: closing with unread input would
 * send a reset, which may destroy the answer before the client reads it.
 * The answer fits in any fresh socket's send buffer.
 */
static void
conn_refuse(struct worker *w, int fd, enum conn_kind kind, int reason)
{
	static const char *const why[SHM_ST_NREFUSED] = { "max_connections",
	    "max_connections_per_ip", "out of memory" };
	static const char	 line[] = "error: server full\n";
	static const char	 body[] = "503 Service Unavailable\n";
	char			 buf[512];
	int			 n, i;

	for (i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	    i++)
		;
	if (kind == CONN_LINE)
		(void)send(fd, line, sizeof(line) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	else {
		n = snprintf(buf, sizeof(buf),
		    "HTTP/1.1 503 Service Unavailable\r\n"
		    "Server: " WSCHATD_NAME "/" WSCHATD_VERSION "\r\n"
		    "Date: %s\r\n"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Length: %zu\r\n"
		    "Retry-After: %u\r\n"
		    "Connection: close\r\n"
		    "\r\n%s", worker_date(w), sizeof(body) - 1,
		    CONN_RETRY_AFTER, body);
		if (n > 0 && (size_t)n < sizeof(buf))
			(void)send(fd, buf, (size_t)n,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		shm_stat_add(&w->st->st_http[4], 1);	/* 5xx */
	}
	/* FIN after the answer, so the client reads it before the close. */
	shutdown(fd, SHUT_WR);
	close(fd);
	shm_stat_add(&w->st->st_refused[reason], 1);
	log_debug("accept: connection refused: %s (%u open)", why[reason],
	    w->nconns);
}

/*
 * Connections per client address (max_connections_per_ip), across all
 * workers.  Each worker counts its own in a chained hash of the addresses
 * it holds connections from, and publishes the counts in its table of the
 * shared region (shm_ipc.c), where the others add them up.  An IPv6
 * client is counted by its /64: one host usually has a whole /64 to pick
 * addresses from.  IPv4 (and IPv4-mapped IPv6) counts the address.
 */
#define CONN_IP_BUCKETS	4096	/* power of two */

struct conn_ip {
	struct conn_ip	*next;
	unsigned	 count;
	unsigned	 shared;	/* of count, in the shared table */
	uint8_t		 key[16];
};

static void
conn_ip_key(const struct sockaddr *sa, uint8_t key[16])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		key[10] = key[11] = 0xff;	/* as ::ffff:a.b.c.d */
		memcpy(key + 12, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		memcpy(key, &sin6->sin6_addr, IN6_IS_ADDR_V4MAPPED(
		    &sin6->sin6_addr) ? 16 : 8);
	}
}

/* Keyed: a client with a block of addresses cannot aim at one bucket. */
static struct conn_ip **
conn_ip_bucket(struct worker *w, const uint8_t key[16])
{
	uint64_t	 h;

	h = shm_hash_siphash(w->bus->reg.hdr->sh_hashkey, key, 16);
	return (&w->ipbuckets[h & (CONN_IP_BUCKETS - 1)]);
}

/*
 * Count one more connection from sa.  Returns its entry, or NULL with
 * *reason set: SHM_ST_REFUSED_PERIP if the address has
 * max_connections_per_ip on all workers together already,
 * SHM_ST_REFUSED_NOMEM if memory ran out.
 */
static struct conn_ip *
conn_ip_get(struct worker *w, const struct sockaddr *sa, int *reason)
{
	const struct shm_region	*reg = &w->bus->reg;
	struct conn_ip		**b, *ip;
	uint8_t			 key[16];
	uint64_t		 here;

	*reason = SHM_ST_REFUSED_NOMEM;
	if (w->ipbuckets == NULL && (w->ipbuckets = calloc(CONN_IP_BUCKETS,
	    sizeof(*w->ipbuckets))) == NULL)
		return (NULL);
	conn_ip_key(sa, key);
	b = conn_ip_bucket(w, key);
	for (ip = *b; ip != NULL; ip = ip->next)
		if (memcmp(ip->key, key, sizeof(key)) == 0)
			break;
	here = ip != NULL ? ip->count : 0;
	if (here >= w->cfg->max_connections_per_ip ||
	    here + shm_ipc_count(reg, key, w->id) >=
	    w->cfg->max_connections_per_ip) {
		*reason = SHM_ST_REFUSED_PERIP;
		return (NULL);
	}
	if (ip == NULL) {
		if ((ip = calloc(1, sizeof(*ip))) == NULL)
			return (NULL);
		memcpy(ip->key, key, sizeof(key));
		ip->next = *b;
		*b = ip;
	}
	ip->count++;
	if (shm_ipc_add(reg, w->id, key) == SHM_OK)
		ip->shared++;
	else if (!w->ipc_full_logged) {
		w->ipc_full_logged = 1;
		log_warnx("connections from more than %u addresses: "
		    "max_connections_per_ip counts those from further ones "
		    "on this worker only", SHM_IPC_MAX);
	}
	return (ip);
}

/* One connection fewer from ip's address; the last one frees it. */
static void
conn_ip_put(struct worker *w, struct conn_ip *ip)
{
	struct conn_ip	**pp;

	ip->count--;
	if (ip->shared > ip->count) {
		shm_ipc_del(&w->bus->reg, w->id, ip->key);
		ip->shared--;
	}
	if (ip->count > 0)
		return;
	for (pp = conn_ip_bucket(w, ip->key); *pp != ip; pp = &(*pp)->next)
		;
	*pp = ip->next;
	free(ip);
}

void
conn_accept(struct worker *w, int fd, struct sockaddr *sa, int salen,
    enum conn_kind kind)
{
	struct conn	*c;
	struct conn_ip	*ip = NULL;
	int		 one = 1, reason;

	if (w->cfg->max_connections != 0 &&
	    w->nconns >= w->cfg->max_connections) {
		conn_refuse(w, fd, kind, SHM_ST_REFUSED_MAXCONN);
		return;
	}
	if (w->cfg->max_connections_per_ip != 0 &&
	    (ip = conn_ip_get(w, sa, &reason)) == NULL) {
		conn_refuse(w, fd, kind, reason);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		if (ip != NULL)
			conn_ip_put(w, ip);
		conn_refuse(w, fd, kind, SHM_ST_REFUSED_NOMEM);
		return;
	}
	c->ip = ip;
	/* Small frames must leave at once, not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->w = w;
	c->id = ++w->next_id;
	shm_stat_add(&w->st->st_accepted, 1);
	c->kind = kind;
	c->state = kind == CONN_LINE ? CONN_S_LINE : CONN_S_HTTP;
	c->head_deadline = now_mono_ms() +
	    (uint64_t)w->cfg->handshake_timeout * 1000;
	cfg_addr_format(sa, c->peer, sizeof(c->peer));
	/* BEV_OPT_CLOSE_ON_FREE: the bufferevent owns fd from here on. */
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL ||
	    evbuffer_add_cb(bufferevent_get_output(c->bev), conn_out_cb,
	    c) == NULL) {
		log_warnx("conn %s: cannot set up a bufferevent", c->peer);
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->ip != NULL)
			conn_ip_put(w, c->ip);
		free(c);
		return;
	}
	c->stkind = kind == CONN_LINE ? SHM_ST_LINE : SHM_ST_HTTP;
	shm_stat_add(&w->st->st_conns[c->stkind], 1);
	ws_reader_init(&c->rd, w->cfg->max_message_size);
	TAILQ_INSERT_TAIL(&w->conns, c, entry);
	w->nconns++;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	/* libevent's default is 16 KiB a call: big messages take many loops. */
	bufferevent_set_max_single_read(c->bev, CONN_MAX_READ);
	bufferevent_set_max_single_write(c->bev, CONN_MAX_WRITE);
	conn_set_timeouts(c, w->cfg->http_timeout, w->cfg->http_timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("conn %llu %s: accepted", (unsigned long long)c->id,
	    c->peer);
	if (kind == CONN_LINE) {
		/* No read timeout: idle_timeout kicks quiet line users. */
		conn_set_timeouts(c, 0, w->cfg->pong_timeout);
		c->endpoint = CONN_EP_CHAT;
		conn_direct(c);
		conn_enter(c);
		hub_open(c);
		conn_leave(c);
	}
}

void
conn_free(struct conn *c)
{
	struct worker	*w = c->w;

	if (c->endpoint == CONN_EP_CHAT)
		hub_close(c);
	conn_unpend(c);
	TAILQ_REMOVE(&w->conns, c, entry);
	w->nconns--;
	shm_stat_sub(&w->st->st_conns[c->stkind], 1);
	if (c->ip != NULL)
		conn_ip_put(w, c->ip);
	ws_reader_clear(&c->rd);
	/* The buffer may outlive the bufferevent a little; c does not. */
	if (!c->dead)	/* freeing it calls no callback */
		w->out_total -= evbuffer_get_length(
		    bufferevent_get_output(c->bev));
	evbuffer_remove_cb(bufferevent_get_output(c->bev), conn_out_cb, c);
	bufferevent_free(c->bev);	/* closes the fd: BEV_OPT_CLOSE_ON_FREE */
	free(c);
	worker_conn_gone(w);
}

static void
conn_enter(struct conn *c)
{
	c->in_cb++;
}

static void
conn_leave(struct conn *c)
{
	if (--c->in_cb == 0 && c->dead)
		conn_free(c);
}

static void
conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	conn_enter(c);
	conn_leave(c);
}

/*
 * Drop the connection now; logs once why.  Freed by conn_leave() at the
 * end of the callback in progress, or, outside the connection's own
 * callbacks (a broadcast dropping a slow consumer), from the event loop
 * once whoever is iterating over connections is done.
 */
static void
conn_close(struct conn *c, const char *why)
{
	struct timeval	 now = { 0, 0 };

	if (c->dead)
		return;
	c->dead = 1;
	c->w->out_total -= evbuffer_get_length(bufferevent_get_output(c->bev));
	conn_unpend(c);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	log_debug("conn %llu %s: closed: %s", (unsigned long long)c->id,
	    c->peer, why);
	if (c->in_cb == 0) {
		if (event_base_once(c->w->base, -1, EV_TIMEOUT, conn_reap_cb,
		    c, &now) == 0)
			c->reap_scheduled = 1;
		else	/* out of memory: conn_sweep() frees it later */
			log_warnx("conn %llu %s: cannot schedule its release",
			    (unsigned long long)c->id, c->peer);
	}
}

static void	 conn_http_error(struct conn *, int, int, const char *,
		    const char *);

/*
 * Once a second: free dead connections nobody else will free, and answer
 * 408 to those whose request head took longer than handshake_timeout.
 * http_timeout alone cannot catch a head that dribbles in (slowloris):
 * each byte restarts it.  Checking here costs no timer per connection;
 * a head is cut off between handshake_timeout and a second after it.
 */
void
conn_sweep(struct worker *w)
{
	struct conn	*c, *next;
	uint64_t	 now = now_mono_ms(), sum = 0;

	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->dead && !c->reap_scheduled && c->in_cb == 0)
			conn_free(c);
		else if (!c->dead && c->state == CONN_S_HTTP &&
		    c->head_deadline != 0 && now >= c->head_deadline) {
			conn_enter(c);
			conn_http_error(c, 408, 0, NULL, "handshake_timeout");
			conn_leave(c);
		}
	}
	/* Check the running sum max_pending_total is judged on. */
	TAILQ_FOREACH(c, &w->conns, entry)
		if (!c->dead)
			sum += evbuffer_get_length(bufferevent_get_output(
			    c->bev));
	if (sum != w->out_total) {
		log_warnx("%s: out_total %llu, connections hold %llu",
		    __func__, (unsigned long long)w->out_total,
		    (unsigned long long)sum);
		w->out_total = sum;
	}
}

/*
 * A chat connection we are ending leaves the chat now, not when the peer
 * has answered our close or half-close (close_timeout, if it never does):
 * its name is free again and the others see it go at once.
 */
static void
conn_chat_leave(struct conn *c)
{
	if (c->endpoint == CONN_EP_CHAT)
		hub_close(c);
}

/*
 * Write what is queued, then half-close and wait (a little) for the peer's
 * FIN: closing with unread input would send a reset that can destroy the
 * last bytes we sent, a close frame or an error page among them.
 */
static void
conn_flush(struct conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (c->state == CONN_S_FLUSH || c->state == CONN_S_LINGER)
		return;
	conn_chat_leave(c);
	c->state = CONN_S_FLUSH;
	c->read_paused = 0;
	/* The last bytes and the half-close are the bufferevent's job. */
	conn_unpend(c);
	c->direct = 0;
	/* No read timeout: a slow download is fine while it progresses. */
	conn_set_timeouts(c, 0, c->w->cfg->close_timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (evbuffer_get_length(out) == 0)
		conn_write_cb(c->bev, c);
}

/* Stop reading while the peer does not take what we already owe it. */
static void
conn_backpressure(struct conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (!c->read_paused && !c->dead &&
	    evbuffer_get_length(out) > CONN_OUT_HIGH &&
	    (c->state == CONN_S_HTTP || c->state == CONN_S_WS ||
	    c->state == CONN_S_LINE)) {
		c->read_paused = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
}

/* ---------------------------------------------------------------- */
/* HTTP                                                             */

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
	    status, http_status_text(status), worker_date(c->w),
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
conn_origin_ok(const char *origin, size_t len, void *arg)
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

static void
conn_ws_upgrade(struct conn *c, const struct http_request *req,
    enum conn_endpoint ep)
{
	struct http_ws_opts	 opts;
	struct http_ws_result	 res;
	struct evbuffer		*out = bufferevent_get_output(c->bev);
	const char		*proto;

	memset(&opts, 0, sizeof(opts));
	if (ep == CONN_EP_CHAT)
		opts.subprotocols = 1 << WS_PROTO_JSON | 1 << WS_PROTO_MSGPACK;
	if (c->w->cfg->allowed_origins != NULL) {
		opts.origin_ok = conn_origin_ok;
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
	c->state = CONN_S_WS;
	c->endpoint = ep;
	conn_set_stkind(c, ep == CONN_EP_CHAT ? SHM_ST_WS_CHAT :
	    SHM_ST_WS_ECHO);
	c->subproto = res.subprotocol;
	conn_ws_timeouts(c);
	conn_direct(c);
	log_debug("conn %llu %s: websocket %s%s%s", (unsigned long long)c->id,
	    c->peer, ep == CONN_EP_ECHO ? "/echo" : "/ws",
	    proto ? " " : "", proto ? proto : "");
	if (ep == CONN_EP_CHAT)
		hub_open(c);
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

	status = static_open(c->w, path, &fd, &st);
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

	if (w->metrics_nets != NULL && (getpeername(bufferevent_getfd(c->bev),
	    (struct sockaddr *)&ss, &sslen) == -1 ||
	    !cfg_net_match(w->metrics_nets, w->metrics_nnets,
	    (struct sockaddr *)&ss))) {
		conn_http_error(c, 403, head, NULL, "/metrics: not in "
		    "metrics_allow");
		return;
	}
	if ((text = metrics_format(&w->bus->reg, &len)) == NULL) {
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

	c->http_requests++;
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
		conn_ws_upgrade(c, req, path[1] == 'w' ? CONN_EP_CHAT :
		    CONN_EP_ECHO);
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

	for (i = c->http_scan; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if ((i >= 1 && p[i - 1] == '\n') ||
		    (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n'))
			return (1);
	}
	c->http_scan = n;
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
		if (c->head_deadline == 0)
			c->head_deadline = now_mono_ms() +
			    (uint64_t)cfg->handshake_timeout * 1000;
		n = len > (size_t)cfg->max_header_size + 1 ?
		    (size_t)cfg->max_header_size + 1 : len;
		if ((p = evbuffer_pullup(in, (ssize_t)n)) == NULL) {
			conn_close(c, "evbuffer_pullup failed");
			return;
		}
		/* Parse once the head is complete, or too long to be. */
		if (!conn_http_complete(c, p, n) && n <= cfg->max_header_size &&
		    (c->http_scan <= cfg->max_request_line ||
		    memchr(p, '\n', n) != NULL))
			return;
		rv = http_request_parse((const char *)p, n, &lim, &req);
		if (rv == HTTP_AGAIN) {
			c->http_scan = n;	/* only empty lines so far */
			return;
		}
		c->http_scan = 0;
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
		c->head_deadline = 0;
		if (rv != 0)
			return;
		conn_backpressure(c);
	}
}

/* ---------------------------------------------------------------- */
/* WebSocket                                                        */

static void
conn_ws_out_cleanup(const void *data, size_t len, void *arg)
{
	ws_out_unref(arg);
}

/*
 * Queue a shared frame.  Borrows o.  A small frame is copied into the
 * free space of the buffer's last chain; a large one is added by
 * reference, which costs a chain (and its cleanup record) of its own but
 * no copy.  Measured with libevent 2.1.12 here (-O2, appends then one
 * drain, as a write does): with one frame per write both cost ~26 ns up
 * to 512 bytes (each then allocates a chain), and the copy costs 38 ns at
 * 1 KiB, 72 ns at 4 KiB; with 16 frames per write the copy costs 10 ns
 * at 64 bytes and 21 ns at 512 against 26-29 ns by reference, and breaks
 * even near 1 KiB.
 */
#define CONN_COPY_MAX	512

/*
 * Make room for len more bytes under max_pending_total: while the
 * worker's unsent bytes would pass it, drop the connection with the most
 * unsent bytes, a slow consumer (c itself, maybe).  The sum is kept
 * exact by conn_out_cb(); finding the biggest is a walk over every
 * connection, but only when the limit is hit, and each drop takes the
 * most memory a drop can.
 */
static void
conn_out_room(struct conn *c, size_t len)
{
	struct worker	*w = c->w;
	struct conn	*x, *big;
	size_t		 n, bign;

	while (w->cfg->max_pending_total != 0 &&
	    w->out_total + len > w->cfg->max_pending_total) {
		big = NULL;
		bign = 0;
		TAILQ_FOREACH(x, &w->conns, entry) {
			if (x->dead)
				continue;
			n = evbuffer_get_length(bufferevent_get_output(x->bev));
			if (n > bign) {
				big = x;
				bign = n;
			}
		}
		if (big == NULL)
			return;		/* len alone is over it: let it pass */
		shm_stat_add(&w->st->st_slow_dropped, 1);
		log_client("conn %llu %s: slow consumer: %zu bytes unsent, the "
		    "most of %llu in the worker (max_pending_total); dropped",
		    (unsigned long long)big->id, big->peer, bign,
		    (unsigned long long)w->out_total);
		conn_close(big, "slow consumer (max_pending_total)");
	}
}

static void
conn_ws_send(struct conn *c, struct ws_out *o)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (c->dead)
		return;
	conn_out_room(c, o->wo_len);
	if (c->dead)
		return;
	if (o->wo_len <= CONN_COPY_MAX) {
		if (evbuffer_add(out, o->wo_data, o->wo_len) == -1)
			conn_close(c, "evbuffer_add failed");
		return;
	}
	ws_out_ref(o);
	if (evbuffer_add_reference(out, o->wo_data, o->wo_len,
	    conn_ws_out_cleanup, o) == -1) {
		ws_out_unref(o);
		conn_close(c, "evbuffer_add_reference failed");
	}
}

/*
 * Queue a frame that others send too (a broadcast).  A client that lets
 * more than max_pending bytes pile up is a slow consumer: it is dropped,
 * so that memory stays bounded and nobody else waits for it.
 */
void
conn_send(struct conn *c, struct ws_out *o)
{
	size_t	 pending;

	if (c->dead)
		return;
	/*
	 * Judged on what it has not taken yet, before this frame: one frame
	 * may be larger than max_pending (JSON spends 6 bytes on a control
	 * character), and a large one is shared by reference, not copied.
	 */
	pending = evbuffer_get_length(bufferevent_get_output(c->bev));
	if (pending > c->w->cfg->max_pending) {
		shm_stat_add(&c->w->st->st_slow_dropped, 1);
		log_client("conn %llu %s: slow consumer: %zu bytes unsent; "
		    "dropped", (unsigned long long)c->id, c->peer, pending);
		conn_close(c, "slow consumer");
		return;
	}
	conn_ws_send(c, o);
	shm_stat_add(&c->w->st->st_msgs_out[c->kind == CONN_LINE ?
	    SHM_ST_LINEPROTO : SHM_ST_WS], 1);
}

static void
conn_ws_send_new(struct conn *c, int op, const void *p, size_t len)
{
	struct ws_out	*o;

	if ((o = ws_out_new(op, p, len)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	conn_ws_send(c, o);
	ws_out_unref(o);
}

/* Start the closing handshake; 0 sends an empty close payload. */
static void
conn_ws_close(struct conn *c, uint16_t code, const char *reason)
{
	struct ws_out	*o;

	o = code ? ws_out_close(code, reason) : ws_out_new(WS_OP_CLOSE, "", 0);
	if (o == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	conn_ws_send(c, o);
	ws_out_unref(o);
}

/*
 * Start a closing handshake from our side: close frame, then wait up to
 * close_timeout for the peer's.  Any process state is fine to call from.
 */
void
conn_ws_close_with(struct conn *c, uint16_t code, const char *reason)
{
	if (c->dead || c->state != CONN_S_WS)
		return;
	conn_chat_leave(c);
	conn_ws_close(c, code, reason);
	c->state = CONN_S_CLOSING;
	c->read_paused = 0;
	bufferevent_enable(c->bev, EV_READ);
	conn_set_timeouts(c, c->w->cfg->close_timeout,
	    c->w->cfg->close_timeout);
}

static void
conn_ws_fail(struct conn *c, uint16_t code)
{
	const char	*why;
	int		 i = -1;

	switch (code) {
	case WS_CLOSE_PROTOCOL: why = "protocol error"; i = 0; break;
	case WS_CLOSE_BAD_DATA: why = "invalid UTF-8"; i = 1; break;
	case WS_CLOSE_TOO_BIG: why = "message too big"; i = 2; break;
	default: why = "internal error"; break;
	}
	if (i != -1)
		shm_stat_add(&c->w->st->st_ws_errors[i], 1);
	log_client("conn %llu %s: websocket failed: %s (%u)",
	    (unsigned long long)c->id, c->peer, why, code);
	if (c->state == CONN_S_WS)
		conn_ws_close(c, code, why);
	conn_flush(c);
}

static void
conn_ws_message(struct conn *c)
{
	struct ws_reader	*r = &c->rd;
	struct ws_out		*o;
	uint8_t			*buf;

	buf = ws_reader_take(r);
	shm_stat_add(&c->w->st->st_msgs_in[SHM_ST_WS], 1);
	if (c->state != CONN_S_WS) {
		free(buf);	/* after our close: ignored (RFC 6455, 5.5.1) */
		return;
	}
	if (c->endpoint == CONN_EP_CHAT) {
		hub_message(c, r->ev_op, buf, r->ev_len);
		return;
	}
	/* Echo: the received buffer becomes the frame, header in its headroom. */
	if ((o = ws_out_wrap(r->ev_op, buf, r->ev_len)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	conn_ws_send(c, o);
	ws_out_unref(o);
	shm_stat_add(&c->w->st->st_msgs_out[SHM_ST_WS], 1);
}

static void
conn_ws_control(struct conn *c)
{
	struct ws_reader	*r = &c->rd;

	switch (r->ev_op) {
	case WS_OP_PING:
		if (c->state == CONN_S_WS)
			conn_ws_send_new(c, WS_OP_PONG, r->ctl, r->ev_len);
		break;
	case WS_OP_PONG:
		break;		/* any input already reset the heartbeat */
	case WS_OP_CLOSE:
		if (c->state == CONN_S_WS) {
			/* Echo the status; none if none was given (7.1.5). */
			conn_ws_close(c, r->ev_code == WS_CLOSE_NO_STATUS ? 0 :
			    r->ev_code, NULL);
			log_debug("conn %llu %s: closed by peer (%u)",
			    (unsigned long long)c->id, c->peer, r->ev_code);
		}
		conn_flush(c);
		break;
	}
}

static void
conn_ws_read(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct evbuffer_iovec	 v;
	size_t			 used;
	int			 rv;

	while ((c->state == CONN_S_WS || c->state == CONN_S_CLOSING) &&
	    !c->dead && !c->read_paused && evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		rv = ws_reader_feed(&c->rd, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		switch (rv) {
		case WS_AGAIN:
			break;
		case WS_MESSAGE:
			conn_ws_message(c);
			conn_backpressure(c);
			break;
		case WS_CONTROL:
			conn_ws_control(c);
			break;
		case WS_EPROTO:
			conn_ws_fail(c, c->rd.ev_code);
			return;
		}
	}
}

/* ---------------------------------------------------------------- */
/* Line protocol: lines in, to the hub.                             */

static void
conn_line_error(struct conn *c, const char *msg)
{
	evbuffer_add_printf(bufferevent_get_output(c->bev), "error: %s\n",
	    msg);
}

/*
 * Read whole lines (LF or CRLF) and hand them to the hub.  A line over
 * max_line_length ends the connection; a NUL byte or invalid UTF-8 costs
 * only that line, with an error line back.
 */
static void
conn_line_read(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	const unsigned	 max = c->w->cfg->max_line_length;
	char		*line;
	size_t		 n;

	while (!c->dead && !c->read_paused && c->state == CONN_S_LINE) {
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > max)
				goto toolong;
			return;
		}
		shm_stat_add(&c->w->st->st_msgs_in[SHM_ST_LINEPROTO], 1);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n > max) {
			free(line);
			goto toolong;
		}
		if (memchr(line, '\0', n) != NULL)
			conn_line_error(c, "NUL byte in the line; ignored");
		else if (utf8_validate(UTF8_ACCEPT, (uint8_t *)line, n, NULL) !=
		    UTF8_ACCEPT)
			conn_line_error(c, "the line is not UTF-8; ignored");
		else
			hub_line(c, line, n);
		free(line);
	}
	return;
toolong:
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "error: line longer than %u bytes\n", max);
	log_client("conn %llu %s: line too long", (unsigned long long)c->id,
	    c->peer);
	conn_flush(c);
}

/*
 * End a chat connection from our side: a closing handshake on a
 * WebSocket (code and reason), flush and close on the line port.
 */
void
conn_hangup(struct conn *c, uint16_t code, const char *reason)
{
	if (c->dead)
		return;
	if (c->state == CONN_S_LINE)
		conn_flush(c);
	else
		conn_ws_close_with(c, code ? code : WS_CLOSE_NORMAL, reason);
}

/* ---------------------------------------------------------------- */

static void
conn_process(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);

	/* Only reads add to in, and only this drains it: new bytes. */
	shm_stat_add(&c->w->st->st_bytes_in, evbuffer_get_length(in) -
	    c->in_left);
	/* Anything from the peer proves it alive: end a pending ping. */
	if (c->ping_sent) {
		c->ping_sent = 0;
		if (c->state == CONN_S_WS)
			conn_ws_timeouts(c);
	}
	switch (c->state) {
	case CONN_S_HTTP:
		conn_http_read(c);
		/* An upgrade may arrive with the first frames behind it. */
		if (c->state == CONN_S_WS)
			conn_ws_read(c);
		break;
	case CONN_S_WS:
	case CONN_S_CLOSING:
		conn_ws_read(c);
		break;
	case CONN_S_LINE:
		conn_line_read(c);
		break;
	case CONN_S_FLUSH:
	case CONN_S_LINGER:
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	}
	c->in_left = evbuffer_get_length(in);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	conn_enter(c);
	conn_process(c);
	conn_leave(c);
}

/* c's output buffer has just drained: finish a flush, or read again. */
static void
conn_drained(struct conn *c)
{
	struct bufferevent	*bev = c->bev;

	if (c->state == CONN_S_FLUSH) {
		if (c->peer_eof)
			conn_close(c, "done");
		else {
			/* Half-close; the peer's FIN (or the timeout) ends it. */
			shutdown(bufferevent_getfd(bev), SHUT_WR);
			c->state = CONN_S_LINGER;
			conn_set_timeouts(c, c->w->cfg->close_timeout, 0);
		}
	} else if (c->read_paused) {
		c->read_paused = 0;
		bufferevent_enable(bev, EV_READ);
		conn_process(c);	/* input may be waiting already */
	}
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*out = bufferevent_get_output(bev);

	if (evbuffer_get_length(out) > 0 || c->dead)
		return;
	conn_enter(c);
	/* libevent finished what our own write left: ours again. */
	if (c->direct)
		bufferevent_disable(bev, EV_WRITE);
	conn_drained(c);
	conn_leave(c);
}

/*
 * Write what every connection on the pending list queued since the last
 * call: one writev(2) each, for all the frames of a loop iteration, as
 * redis does before it sleeps.  Bytes the socket does not take are left
 * to the bufferevent (EV_WRITE on, with the write timeout) until it
 * drains; a connection it is already writing for is left to it.  An error
 * closes the connection as a bufferevent write error would.  The worker
 * loop calls this once per iteration, before it may block.
 */
void
conn_flush_pending(struct worker *w)
{
	struct conn	*c;
	struct evbuffer	*out;
	int		 n, err;

	while ((c = TAILQ_FIRST(&w->pending)) != NULL) {
		conn_unpend(c);
		out = bufferevent_get_output(c->bev);
		if (c->dead || !c->direct || evbuffer_get_length(out) == 0 ||
		    (bufferevent_get_enabled(c->bev) & EV_WRITE))
			continue;
		conn_enter(c);
		/* A socket bufferevent keeps its output frozen between writes. */
		evbuffer_unfreeze(out, 1);
		n = evbuffer_write_atmost(out, bufferevent_getfd(c->bev),
		    CONN_MAX_WRITE);
		err = errno;
		evbuffer_freeze(out, 1);
		if (n == -1 && err != EAGAIN && err != EWOULDBLOCK &&
		    err != EINTR)
			conn_close(c, evutil_socket_error_to_string(err));
		else if (evbuffer_get_length(out) > 0)
			bufferevent_enable(c->bev, EV_WRITE);
		else
			conn_drained(c);	/* may queue more: pends again */
		conn_leave(c);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*out = bufferevent_get_output(bev);

	conn_enter(c);
	if (what & BEV_EVENT_EOF) {
		c->peer_eof = 1;
		switch (c->state) {
		case CONN_S_HTTP:
		case CONN_S_LINE:
			/* A half-close may still want its answers. */
			if (evbuffer_get_length(out) > 0)
				conn_flush(c);
			else
				conn_close(c, "closed by peer");
			break;
		case CONN_S_WS:
			conn_close(c, "closed by peer without a close frame");
			break;
		default:
			if (evbuffer_get_length(out) > 0 &&
			    c->state == CONN_S_FLUSH)
				break;
			conn_close(c, "closed");
			break;
		}
	} else if (what & BEV_EVENT_ERROR) {
		conn_close(c, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	} else if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && c->state == CONN_S_WS &&
		    !c->ping_sent) {
			/* Quiet for ping_interval: ask for a sign of life. */
			c->ping_sent = 1;
			conn_ws_send_new(c, WS_OP_PING, NULL, 0);
			conn_set_timeouts(c, c->w->cfg->pong_timeout -
			    c->w->cfg->ping_interval, c->w->cfg->pong_timeout);
			bufferevent_enable(bev, EV_READ);
		} else if ((what & BEV_EVENT_READING) &&
		    c->state == CONN_S_WS) {
			log_client("conn %llu %s: no pong within %us",
			    (unsigned long long)c->id, c->peer,
			    c->w->cfg->pong_timeout);
			conn_ws_close(c, WS_CLOSE_GOING_AWAY, "pong timeout");
			conn_flush(c);
		} else
			conn_close(c, what & BEV_EVENT_READING ?
			    "read timeout" : "write timeout");
	}
	conn_leave(c);
}

/*
 * The worker is stopping: WebSockets get a close 1001 and close_timeout
 * to answer it, idle HTTP connections go at once, busy ones after their
 * response.
 */
void
conn_shutdown(struct conn *c)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);

	if (c->dead)
		return;		/* its release is scheduled already */
	conn_enter(c);
	switch (c->state) {
	case CONN_S_WS:
		conn_ws_close_with(c, WS_CLOSE_GOING_AWAY,
		    "server shutting down");
		break;
	case CONN_S_HTTP:
	case CONN_S_LINE:
		if (evbuffer_get_length(out) > 0)
			conn_flush(c);
		else
			conn_close(c, "server shutting down");
		break;
	default:
		break;
	}
	conn_leave(c);
}
