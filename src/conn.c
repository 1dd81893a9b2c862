/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn.c: one client connection in a worker, from accept to release,
 * whatever it speaks.  It owns the connection's lifetime: flushing,
 * half-closing and lingering, backpressure, timeouts and the release;
 * its output, queued and written once per loop iteration, is
 * conn_out.c's.  What the
 * bytes mean is the protocol's (struct conn_proto: conn_http.c,
 * conn_ws.c, conn_line.c), which conn.c calls when input arrives, the
 * peer goes quiet or away, or the worker stops.
 *
 * A connection is never freed in the middle of its own processing: code
 * that decides to drop one marks it dead, and the outermost callback frees
 * it on the way out (conn_leave).
 */

#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "wschatd.h"
#include "conn.h"
#include "worker.h"

/* Stop reading while this much output is queued: backpressure. */
#define CONN_OUT_HIGH	(256 * 1024)
#define CONN_MAX_READ	(64 * 1024)

static void	 conn_read_cb(struct bufferevent *, void *);
static void	 conn_write_cb(struct bufferevent *, void *);
static void	 conn_event_cb(struct bufferevent *, short, void *);
static void	 conn_process(struct conn *);

void
conn_set_timeouts(struct conn *c, unsigned rsec, unsigned wsec)
{
	struct timeval	 rt = { rsec, 0 }, wt = { wsec, 0 };

	bufferevent_set_timeouts(c->bev, rsec ? &rt : NULL,
	    wsec ? &wt : NULL);
}

/*
 * c speaks p from now on (an upgrade), in state st; it is counted in
 * p's st_conns instead of where it was.
 */
void
conn_set_proto(struct conn *c, const struct conn_proto *p,
    enum conn_state st)
{
	shm_stat_sub(&c->w->st->st_conns[c->stkind], 1);
	shm_stat_add(&c->w->st->st_conns[p->stkind], 1);
	c->stkind = p->stkind;
	c->proto = p;
	c->state = st;
}

/*
 * Turn away a connection we will not keep, for reason (SHM_ST_REFUSED_*):
 * one attempt at a non-blocking send of answer (the protocol's: a 503, an
 * error line), then close.  Nothing is allocated for it, so a flood of
 * them costs no memory.  What the client already sent is read first:
 * closing with unread input would send a reset, which may destroy the
 * answer before the client reads it.  The answer fits in any fresh
 * socket's send buffer.
 */
void
conn_refuse(struct worker *w, int fd, int reason, const char *answer,
    size_t len)
{
	static const char *const why[SHM_ST_NREFUSED] = { "max_connections",
	    "max_connections_per_ip", "out of memory" };
	char			 buf[512];
	int			 i;

	for (i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	    i++)
		;
	if (len > 0)
		(void)send(fd, answer, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	/* FIN after the answer, so the client reads it before the close. */
	shutdown(fd, SHUT_WR);
	close(fd);
	shm_stat_add(&w->st->st_refused[reason], 1);
	log_debug("accept: connection refused: %s (%u open)", why[reason],
	    w->conns.n);
}

/*
 * A new connection on fd from sa, speaking p, in state st, reading and
 * writing.  Returns it, or NULL: with *reason set (SHM_ST_REFUSED_*) if
 * the caller should refuse it (conn_refuse() with the protocol's answer),
 * with *reason -1 if it is closed already.  Nothing has run for it yet:
 * the caller sets its timeouts, and does what may end it (hub_open())
 * inside conn_enter()/conn_leave().
 */
struct conn *
conn_new(struct worker *w, int fd, const struct sockaddr *sa,
    const struct conn_proto *p, enum conn_state st, int *reason)
{
	struct conn	*c;
	struct conn_ip	*ip = NULL;
	int		 one = 1;

	if (w->cfg->max_connections != 0 &&
	    w->conns.n >= w->cfg->max_connections) {
		*reason = SHM_ST_REFUSED_MAXCONN;
		return (NULL);
	}
	if (w->cfg->max_connections_per_ip != 0 &&
	    (ip = conn_ip_get(w, sa, reason)) == NULL)
		return (NULL);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		if (ip != NULL)
			conn_ip_put(w, ip);
		*reason = SHM_ST_REFUSED_NOMEM;
		return (NULL);
	}
	c->ip = ip;
	/* Small frames must leave at once, not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->w = w;
	c->id = ++w->conns.next_id;
	c->proto = p;
	c->state = st;
	c->fd = fd;
	c->q_first = c->q_last = CONN_Q_END;
	shm_stat_add(&w->st->st_accepted, 1);
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
		*reason = -1;
		return (NULL);
	}
	c->stkind = p->stkind;
	shm_stat_add(&w->st->st_conns[c->stkind], 1);
	TAILQ_INSERT_TAIL(&w->conns.all, c, entry);
	w->conns.n++;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	/* libevent's default is 16 KiB a call: big messages take many loops. */
	bufferevent_set_max_single_read(c->bev, CONN_MAX_READ);
	bufferevent_set_max_single_write(c->bev, CONN_MAX_WRITE);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	log_debug("conn %llu %s: accepted", (unsigned long long)c->id,
	    c->peer);
	return (c);
}

void
conn_free(struct conn *c)
{
	struct worker	*w = c->w;

	if (c->proto->leave != NULL)
		c->proto->leave(c);
	conn_unpend(c);
	TAILQ_REMOVE(&w->conns.all, c, entry);
	w->conns.n--;
	shm_stat_sub(&w->st->st_conns[c->stkind], 1);
	if (c->ip != NULL)
		conn_ip_put(w, c->ip);
	if (c->proto->clear != NULL)
		c->proto->clear(c);
	conn_out_drop(c);
	/* The buffer may outlive the bufferevent a little; c does not. */
	if (!c->dead)	/* freeing it calls no callback */
		w->conns.out_total -= c->buffered;
	evbuffer_remove_cb(bufferevent_get_output(c->bev), conn_out_cb, c);
	bufferevent_free(c->bev);	/* closes the fd: BEV_OPT_CLOSE_ON_FREE */
	free(c);
}

void
conn_enter(struct conn *c)
{
	c->in_cb++;
}

void
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
void
conn_close(struct conn *c, const char *why)
{
	struct timeval	 now = { 0, 0 };

	if (c->dead)
		return;
	conn_out_drop(c);
	c->dead = 1;
	c->w->conns.out_total -= c->buffered;
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

/*
 * Once a second: free dead connections nobody else will free, give each
 * protocol its tick (conn_http.c's handshake_timeout), and check the
 * running sum max_pending_total is judged on.
 */
void
conn_sweep(struct worker *w)
{
	struct conn	*c, *next;
	uint64_t	 now = now_mono_ms(), sum = 0;

	for (c = TAILQ_FIRST(&w->conns.all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->dead && !c->reap_scheduled && c->in_cb == 0)
			conn_free(c);
		else if (!c->dead && c->proto->tick != NULL) {
			conn_enter(c);
			c->proto->tick(c, now);
			conn_leave(c);
		}
	}
	TAILQ_FOREACH(c, &w->conns.all, entry)
		if (!c->dead)
			sum += conn_out_len(c);
	if (sum != w->conns.out_total) {
		log_warnx("%s: out_total %llu, connections hold %llu",
		    __func__, (unsigned long long)w->conns.out_total,
		    (unsigned long long)sum);
		w->conns.out_total = sum;
	}
}

/*
 * We are ending c: its protocol leaves what it joined now (a chat
 * connection's name is free again and the others see it go at once), not
 * when the peer has answered our close or half-close (close_timeout, if
 * it never does).
 */
static void
conn_ending(struct conn *c)
{
	if (c->proto->leave != NULL)
		c->proto->leave(c);
}

/*
 * Write what is queued, then half-close and wait (a little) for the peer's
 * FIN: closing with unread input would send a reset that can destroy the
 * last bytes we sent, a close frame or an error page among them.
 */
void
conn_flush(struct conn *c)
{
	if (c->state == CONN_S_FLUSH || c->state == CONN_S_LINGER)
		return;
	conn_ending(c);
	c->state = CONN_S_FLUSH;
	c->read_paused = 0;
	/* The last bytes and the half-close are the bufferevent's job. */
	conn_out_buffer(c);
	conn_unpend(c);
	c->direct = 0;
	/* No read timeout: a slow download is fine while it progresses. */
	conn_set_timeouts(c, 0, c->w->cfg->close_timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->buffered == 0)
		conn_write_cb(c->bev, c);
}

/*
 * We start a closing handshake (conn_ws.c): leave at once, then read
 * only the peer's answer, for close_timeout.
 */
void
conn_closing(struct conn *c)
{
	if (c->dead)
		return;
	conn_ending(c);
	c->state = CONN_S_CLOSING;
	c->read_paused = 0;
	bufferevent_enable(c->bev, EV_READ);
	conn_set_timeouts(c, c->w->cfg->close_timeout,
	    c->w->cfg->close_timeout);
}

/* Stop reading while the peer does not take what we already owe it. */
void
conn_backpressure(struct conn *c)
{
	if (!c->read_paused && !c->dead && conn_out_len(c) > CONN_OUT_HIGH &&
	    (c->state == CONN_S_HTTP || c->state == CONN_S_WS ||
	    c->state == CONN_S_LINE)) {
		c->read_paused = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
}

/*
 * End a connection from our side (the hub: logout, rate limit, idle):
 * its protocol's way, a closing handshake with code and reason on a
 * WebSocket; otherwise flush and close.
 */
void
conn_hangup(struct conn *c, uint16_t code, const char *reason)
{
	if (c->dead)
		return;
	if (c->proto->hangup != NULL)
		c->proto->hangup(c, code, reason);
	else
		conn_flush(c);
}

/* ---------------------------------------------------------------- */
/* Events                                                           */

static void
conn_process(struct conn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);

	/* Only reads add to in, and only this drains it: new bytes. */
	shm_stat_add(&c->w->st->st_bytes_in, evbuffer_get_length(in) -
	    c->in_left);
	if (c->state == CONN_S_FLUSH || c->state == CONN_S_LINGER)
		evbuffer_drain(in, evbuffer_get_length(in));
	else
		c->proto->read(c);
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
void
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

	if (c->buffered > 0 || c->dead)
		return;
	conn_enter(c);
	/* libevent finished what our own write left: ours again. */
	if (c->direct) {
		bufferevent_disable(bev, EV_WRITE);
		c->wr_armed = 0;
	}
	conn_drained(c);
	conn_leave(c);
}

/* The peer half-closed while we still talk: answer, then close. */
static void
conn_eof_default(struct conn *c)
{
	if (conn_out_len(c) > 0)
		conn_flush(c);
	else
		conn_close(c, "closed by peer");
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	conn_enter(c);
	if (what & BEV_EVENT_EOF) {
		c->peer_eof = 1;
		switch (c->state) {
		case CONN_S_HTTP:
		case CONN_S_WS:
		case CONN_S_LINE:
			/* A half-close may still want its answers. */
			if (c->proto->eof != NULL)
				c->proto->eof(c);
			else
				conn_eof_default(c);
			break;
		default:
			if (c->buffered > 0 && c->state == CONN_S_FLUSH)
				break;
			conn_close(c, "closed");
			break;
		}
	} else if (what & BEV_EVENT_ERROR) {
		conn_close(c, evutil_socket_error_to_string(
		    EVUTIL_SOCKET_ERROR()));
	} else if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_READING) && c->state == CONN_S_WS &&
		    c->proto->read_timeout != NULL)
			c->proto->read_timeout(c);
		else
			conn_close(c, what & BEV_EVENT_READING ?
			    "read timeout" : "write timeout");
	}
	conn_leave(c);
}

/*
 * The worker is stopping: the protocol says goodbye its way (a WebSocket
 * gets close 1001 and close_timeout to answer it); otherwise idle
 * connections go at once, busy ones after their answer.
 */
void
conn_shutdown(struct conn *c)
{
	if (c->dead)
		return;		/* its release is scheduled already */
	conn_enter(c);
	switch (c->state) {
	case CONN_S_HTTP:
	case CONN_S_WS:
	case CONN_S_LINE:
		if (c->proto->shutdown != NULL)
			c->proto->shutdown(c);
		else if (conn_out_len(c) > 0)
			conn_flush(c);
		else
			conn_close(c, "server shutting down");
		break;
	default:
		break;
	}
	conn_leave(c);
}

/* The worker exits: free every connection, so leak checkers see none. */
void
conn_set_clear(struct worker *w)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&w->conns.all)) != NULL)
		conn_free(c);
	conn_out_clear(w);
}
