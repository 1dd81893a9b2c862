/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn_line.c: a connection on the line port, the chat for nc and telnet
 * users.  It cuts the input into lines (LF or CRLF, at most
 * max_line_length bytes: a longer one ends the connection) and hands each
 * to the hub (hub_input()), which parses it with chat_line.c like any
 * other chat message.  The user is in the chat from accept to close.  The
 * connection's lifetime and output are conn.c's.
 */

#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "wschatd.h"
#include "conn.h"
#include "worker.h"

static void	 conn_line_read(struct conn *);

static const struct conn_proto conn_line_proto = {
	.name = "line",
	.stkind = SHM_ST_CONN_LINE,
	.msgkind = SHM_ST_MSG_LINE,
	.read = conn_line_read,
	.leave = hub_close,
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
	conn_direct(c);
	conn_enter(c);
	hub_open(c);
	conn_leave(c);
}

/*
 * Read whole lines and hand them to the hub.  A line over max_line_length
 * ends the connection, after an error line.
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
		shm_stat_add(&c->w->st->st_msgs_in[SHM_ST_MSG_LINE], 1);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n > max) {
			free(line);
			goto toolong;
		}
		hub_input(c, 0, line, n);
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
