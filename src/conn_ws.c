/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn_ws.c: a WebSocket session, from the upgrade (conn_http.c) to the
 * closing handshake.  It feeds the bytes to ws.c's message reader, answers
 * pings, keeps the heartbeat (a ping after ping_interval of quiet, the end
 * after pong_timeout), echoes on /echo, hands each chat message to the
 * hub (hub_input()), and closes with the RFC 6455 code a protocol error
 * calls for.  The connection's lifetime and output are conn.c's.
 */

#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "wschatd.h"
#include "conn.h"
#include "worker.h"

static void	 conn_ws_read(struct conn *);
static void	 conn_ws_read_timeout(struct conn *);
static void	 conn_ws_eof(struct conn *);
static void	 conn_ws_hangup(struct conn *, uint16_t, const char *);
static void	 conn_ws_shutdown(struct conn *);
static void	 conn_ws_clear(struct conn *);

static const struct conn_proto conn_ws_chat_proto = {
	.name = "websocket",
	.stkind = SHM_ST_CONN_WS_CHAT,
	.msgkind = SHM_ST_MSG_WS,
	.read = conn_ws_read,
	.read_timeout = conn_ws_read_timeout,
	.eof = conn_ws_eof,
	.hangup = conn_ws_hangup,
	.shutdown = conn_ws_shutdown,
	.leave = hub_close,
	.clear = conn_ws_clear,
};

static const struct conn_proto conn_ws_echo_proto = {
	.name = "websocket echo",
	.stkind = SHM_ST_CONN_WS_ECHO,
	.msgkind = SHM_ST_MSG_WS,
	.read = conn_ws_read,
	.read_timeout = conn_ws_read_timeout,
	.eof = conn_ws_eof,
	.hangup = conn_ws_hangup,
	.shutdown = conn_ws_shutdown,
	.clear = conn_ws_clear,
};

/* Timeouts while a WebSocket is open: the read side drives the heartbeat. */
static void
conn_ws_timeouts(struct conn *c)
{
	const struct cfg	*cfg = c->w->cfg;

	conn_set_timeouts(c, cfg->ping_interval, cfg->pong_timeout);
}

/*
 * The upgrade is answered: c is a WebSocket from here on, on the chat in
 * format fmt, or on /echo with CHAT_FMT_NONE.
 */
void
conn_ws_open(struct conn *c, enum chat_fmt fmt)
{
	conn_set_proto(c, fmt != CHAT_FMT_NONE ? &conn_ws_chat_proto :
	    &conn_ws_echo_proto, CONN_S_WS);
	ws_reader_init(&c->rd.ws, c->w->cfg->max_message_size);
	c->fmt = fmt;
	conn_ws_timeouts(c);
	conn_direct(c);
	if (fmt != CHAT_FMT_NONE)
		hub_open(c);
}

static void
conn_ws_send_new(struct conn *c, int op, const void *p, size_t len)
{
	struct ws_out	*o;

	if ((o = ws_out_new(op, p, len)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	conn_queue(c, o);
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
	conn_queue(c, o);
	ws_out_unref(o);
}

/*
 * Start a closing handshake from our side: close frame, then wait up to
 * close_timeout for the peer's.  Any process state is fine to call from.
 */
static void
conn_ws_close_with(struct conn *c, uint16_t code, const char *reason)
{
	if (c->dead || c->state != CONN_S_WS)
		return;
	conn_ws_close(c, code, reason);
	/* Queueing the frame may have dropped c (max_pending_total). */
	if (!c->dead)
		conn_closing(c);
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
	struct ws_reader	*r = &c->rd.ws;
	struct ws_out		*o;
	uint8_t			*buf;

	buf = ws_reader_take(r);
	shm_stat_add(&c->w->st->st_msgs_in[SHM_ST_MSG_WS], 1);
	if (c->state != CONN_S_WS) {
		free(buf);	/* after our close: ignored (RFC 6455, 5.5.1) */
		return;
	}
	if (c->fmt != CHAT_FMT_NONE) {
		hub_input(c, r->ev_op == WS_OP_BINARY, buf == NULL ? "" :
		    (const char *)buf + WS_HEADROOM, r->ev_len);
		free(buf);
		return;
	}
	/* Echo: the received buffer becomes the frame, header in its headroom. */
	if ((o = ws_out_wrap(r->ev_op, buf, r->ev_len)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	conn_queue(c, o);
	ws_out_unref(o);
	shm_stat_add(&c->w->st->st_msgs_out[SHM_ST_MSG_WS], 1);
}

static void
conn_ws_control(struct conn *c)
{
	struct ws_reader	*r = &c->rd.ws;

	switch (r->ev_op) {
	case WS_OP_PING:
		if (c->state == CONN_S_WS)
			conn_ws_send_new(c, WS_OP_PONG, r->ctl, r->ev_len);
		break;
	case WS_OP_PONG:
		break;		/* any input already reset the heartbeat */
	case WS_OP_CLOSE:
		hub_goodbye(c);		/* the session ends with it */
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

	/* Anything from the peer proves it alive: end a pending ping. */
	if (c->ping_sent) {
		c->ping_sent = 0;
		if (c->state == CONN_S_WS)
			conn_ws_timeouts(c);
	}
	while ((c->state == CONN_S_WS || c->state == CONN_S_CLOSING) &&
	    !c->dead && !c->read_paused && evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		rv = ws_reader_feed(&c->rd.ws, v.iov_base, v.iov_len, &used);
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
			conn_ws_fail(c, c->rd.ws.ev_code);
			return;
		}
	}
}


/* Quiet for ping_interval: ask for a sign of life; then give up. */
static void
conn_ws_read_timeout(struct conn *c)
{
	if (!c->ping_sent) {
		c->ping_sent = 1;
		conn_ws_send_new(c, WS_OP_PING, NULL, 0);
		conn_set_timeouts(c, c->w->cfg->pong_timeout -
		    c->w->cfg->ping_interval, c->w->cfg->pong_timeout);
		bufferevent_enable(c->bev, EV_READ);
		return;
	}
	log_client("conn %llu %s: no pong within %us",
	    (unsigned long long)c->id, c->peer, c->w->cfg->pong_timeout);
	conn_ws_close(c, WS_CLOSE_GOING_AWAY, "pong timeout");
	conn_flush(c);
}

static void
conn_ws_eof(struct conn *c)
{
	conn_close(c, "closed by peer without a close frame");
}

/* The hub ends it: a closing handshake, 1000 unless it says otherwise. */
static void
conn_ws_hangup(struct conn *c, uint16_t code, const char *reason)
{
	hub_goodbye(c);
	conn_ws_close_with(c, code ? code : WS_CLOSE_NORMAL, reason);
}

static void
conn_ws_shutdown(struct conn *c)
{
	conn_ws_close_with(c, WS_CLOSE_GOING_AWAY, "server shutting down");
}

static void
conn_ws_clear(struct conn *c)
{
	ws_reader_clear(&c->rd.ws);
}
