/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn_line.c: a connection on the line port, the chat for nc and telnet
 * users.  It feeds the input to chat_line.c's reader, which cuts it into
 * lines (LF or CRLF, at most max_line_length bytes: a longer one gets an
 * error line and is skipped), and hands each line to the hub (hub_input()), which parses
 * it with chat_line.c like any other chat message.  The user is in the
 * chat from accept to close; when the worker stops it is told so in a
 * line.  The connection's lifetime and output are conn.c's.
 */

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "wschatd.h"
#include "conn.h"
#include "worker.h"

static void	 conn_line_read(struct conn *);
static void	 conn_line_shutdown(struct conn *);
static void	 conn_line_clear(struct conn *);

static const struct conn_proto conn_line_proto = {
	.name = "line",
	.stkind = SHM_ST_CONN_LINE,
	.msgkind = SHM_ST_MSG_LINE,
	.read = conn_line_read,
	.shutdown = conn_line_shutdown,
	.leave = hub_close,
	.clear = conn_line_clear,
};

/*
 * A connection on the line port: in the chat at once.  One the worker will
 * not keep gets an error line.
 */
void
conn_line_accept(struct worker *w, int fd, struct sockaddr *sa)
{
	static const char	 full[] = "error: server full\n";
	struct conn		*c;
	int			 reason;

	if ((c = conn_new(w, fd, sa, &conn_line_proto, CONN_S_LINE,
	    &reason)) == NULL) {
		if (reason != -1)
			conn_refuse(w, fd, reason, full, sizeof(full) - 1);
		return;
	}
	/* No read timeout: idle_timeout kicks quiet line users. */
	conn_set_timeouts(c, 0, w->cfg->pong_timeout);
	c->fmt = CHAT_FMT_LINE;
	chat_line_reader_init(&c->rd.line, w->cfg->max_line_length);
	conn_direct(c);
	conn_enter(c);
	hub_open(c);
	conn_leave(c);
}

/*
 * Feed the input to the line reader and hand each line to the hub, while
 * the connection reads.  A line over max_line_length gets an error line
 * and the rest of it is skipped: the user stays.  One that goes on past
 * max_message_size is no mistake but a flood, and ends the connection.
 * Paused (backpressure) or ending, the rest stays in the input buffer; a
 * line begun stays in the reader.
 */
static void
conn_line_read(struct conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct chat_line_reader	*r = &c->rd.line;
	struct evbuffer_iovec	 v;
	size_t			 used;
	int			 rv;

	while (!c->dead && !c->read_paused && c->state == CONN_S_LINE &&
	    evbuffer_get_length(in) > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		rv = chat_line_reader_feed(r, v.iov_base, v.iov_len, &used);
		if (rv == CHAT_LINE_LINE) {
			shm_stat_add(&c->w->st->st_msgs_in[SHM_ST_MSG_LINE], 1);
			/* The line may point into in: drain after. */
			hub_input(c, 0, r->ev_line, r->ev_len);
		}
		evbuffer_drain(in, used);
		switch (rv) {
		case CHAT_LINE_TOOLONG:
			hub_system(c, "text_too_long", "line longer than %zu "
			    "bytes; not sent", r->max);
			log_client("conn %llu %s: line too long",
			    (unsigned long long)c->id, c->peer);
			break;
		case CHAT_LINE_NOMEM:
			log_client("conn %llu %s: no memory for a line",
			    (unsigned long long)c->id, c->peer);
			conn_close(c, "no memory for a line");
			return;
		}
		if (r->skip && r->skipped > c->w->cfg->max_message_size) {
			hub_system(c, "text_too_long", "line longer than %llu "
			    "bytes; closing", (unsigned long long)
			    c->w->cfg->max_message_size);
			log_client("conn %llu %s: line over max_message_size; "
			    "closing", (unsigned long long)c->id, c->peer);
			/* Unless the error line found it a slow consumer. */
			if (!c->dead)
				conn_flush(c);
			return;
		}
	}
}

/*
 * The worker stops (SIGTERM, or drain_timeout after a reload): a line
 * says why, as a WebSocket's close 1001 does, after whatever is queued
 * already; then the connection is flushed and closed.
 */
static void
conn_line_shutdown(struct conn *c)
{
	hub_system(c, NULL, "server shutting down");
	conn_flush(c);
}

static void
conn_line_clear(struct conn *c)
{
	chat_line_reader_clear(&c->rd.line);
}
