/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschat_conn.c: wschat's connection to the server.  The connect and the
 * opening handshake block, bounded by the socket's timeouts: there is
 * nothing else to do meanwhile.  Then the socket is a bufferevent: frames
 * in, through ws.c's reader (fragments, control frames, UTF-8), each
 * message to wschat_show_message(); frames out, masked by ws_client.c;
 * pings answered; the closing handshake either way; and, when the
 * connection goes away without our asking, the report and a reconnect
 * after a growing, jittered delay.  What a message means is not its
 * business.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "wschatd.h"
#include "ws.h"
#include "ws_client.h"
#include "wschat.h"

/*
 * The subprotocols offered, best first.  Version 2 (docs/PROTOCOL.md,
 * 4.8) sends no user_list with presence: with N users logging in, N lists
 * of N names each.  A server that does not know it (an older wschatd)
 * chooses wschat.json, or names none, and speaks version 1: the client
 * shows the same either way, but for the count of the handshake.
 */
#define WSCHAT_PROTOCOLS	"wschat.v2.json, wschat.json"
#define WSCHAT_V2		"wschat.v2.json"

#define WSCHAT_HANDSHAKE_MAX	8192
/*
 * Reconnecting: WSCHAT_RETRY_MIN ms, doubled at each failure up to
 * WSCHAT_RETRY_MAX ms, each delay jittered by +-25% so that the users of a
 * restarted server do not all come back in the same millisecond.  The
 * page (www/chat.js) does the same.
 */
#define WSCHAT_RETRY_MIN	500
#define WSCHAT_RETRY_MAX	30000

static int	wschat_conn_input(struct wschat *, const uint8_t *, size_t,
		    size_t *);
static void	wschat_conn_down(struct wschat *, int, const char *, size_t);

/*
 * Connect to the server, blocking, with the socket's timeouts set.
 * Returns the socket, or -1 after printing why.
 */
static int
wschat_conn_connect(struct wschat *c)
{
	struct addrinfo	 hints, *res, *ai;
	struct timeval	 tv = { WSCHAT_TIMEOUT, 0 };
	int		 fd = -1, error, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(c->host, c->port, &hints, &res)) != 0) {
		wschat_show_warn(c, "%s:%s: %s", c->host, c->port,
		    gai_strerror(error));
		return (-1);
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		/* Bounds connect() and the blocking handshake. */
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		wschat_show_warn(c, "cannot connect to %s:%s: %s", c->host,
		    c->port, strerror(saved));
	return (fd);
}

/*
 * The opening handshake, blocking (the socket has timeouts): the request,
 * then the answer, read into head (WSCHAT_HANDSHAKE_MAX bytes).  Returns
 * the length of the answer's head, with *have the bytes read (frames may
 * follow the head), or -1 after printing why.
 */
static long
wschat_conn_handshake(struct wschat *c, int fd, char *head, size_t *have)
{
	struct ws_client_request	 req;
	struct ws_client_handshake	 hs;
	uint8_t				 nonce[WS_CLIENT_NONCE_LEN];
	char				 host[512], agent[64], buf[1024];
	ssize_t				 n;
	int				 len, v6, rv = WS_AGAIN;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		wschat_show_warn(c, "RAND_bytes failed");
		return (-1);
	}
	v6 = strchr(c->host, ':') != NULL;
	len = snprintf(host, sizeof(host), "%s%s%s:%s", v6 ? "[" : "",
	    c->host, v6 ? "]" : "", c->port);
	snprintf(agent, sizeof(agent), "wschat/%s", WSCHATD_VERSION);
	memset(&req, 0, sizeof(req));
	req.host = host;
	req.path = "/ws";
	req.protocols = WSCHAT_PROTOCOLS;
	req.agent = agent;
	if (len < 0 || (size_t)len >= sizeof(host) ||
	    (len = ws_client_request_encode(&hs, &req, nonce, buf,
	    sizeof(buf))) == -1) {
		wschat_show_warn(c, "bad or too long host name");
		return (-1);
	}
	if (write(fd, buf, (size_t)len) != len) {
		wschat_show_warn(c, "handshake: write: %s", strerror(errno));
		return (-1);
	}
	hs.max_head = WSCHAT_HANDSHAKE_MAX;
	for (*have = 0; rv == WS_AGAIN; *have += (size_t)n) {
		/* The parser fails before the buffer is full. */
		n = read(fd, head + *have, WSCHAT_HANDSHAKE_MAX - *have);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			wschat_show_warn(c, "handshake: %s", n == 0 ?
			    "connection closed by server" : strerror(errno));
			return (-1);
		}
		rv = ws_client_response_parse(&hs, head, *have + (size_t)n);
	}
	if (rv == WS_OK) {
		/* ws_client_response_parse() took only what was offered. */
		c->v2 = hs.protocol != NULL &&
		    hs.protocol_len == strlen(WSCHAT_V2) &&
		    memcmp(hs.protocol, WSCHAT_V2, hs.protocol_len) == 0;
		return ((long)hs.hdrlen);
	}
	if (hs.status != 0 && hs.status != 101)
		wschat_show_warn(c, "handshake refused: %.*s", (int)hs.linelen,
		    hs.line);
	else
		wschat_show_warn(c, "handshake: %s", hs.reason);
	return (-1);
}

/* A client frame: FIN, masked with a fresh key (RFC 6455, 5.3). */
static void
wschat_conn_send_frame(struct wschat *c, int op, const void *data, size_t len)
{
	uint8_t		 mask[4], *buf, *frame;
	size_t		 flen;

	if (c->bev == NULL)
		return;
	if (RAND_bytes(mask, sizeof(mask)) != 1) {
		wschat_show_fail(c, "RAND_bytes failed");
		return;
	}
	/* Room for the header before the payload, masked in place. */
	if ((buf = malloc(WS_HEADER_MAX + len)) == NULL) {
		wschat_show_fail(c, "out of memory");
		return;
	}
	if (len > 0)
		memcpy(buf + WS_HEADER_MAX, data, len);
	frame = ws_client_frame_encode(buf + WS_HEADER_MAX, 1, op, len, mask,
	    &flen);
	evbuffer_add(bufferevent_get_output(c->bev), frame, flen);
	free(buf);
}

/* Send obj as a text frame.  Consumes obj. */
void
wschat_conn_send_json(struct wschat *c, json_t *obj)
{
	char	*s;

	if (obj == NULL) {
		wschat_show_warn(c, "not sent: not valid UTF-8");
		return;
	}
	if (c->bev == NULL || c->state == WSCHAT_S_CLOSING) {
		json_decref(obj);
		wschat_show_warn(c, "not sent: not connected");
		return;
	}
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL) {
		wschat_show_warn(c, "not sent: out of memory");
		return;
	}
	wschat_conn_send_frame(c, WS_OP_TEXT, s, strlen(s));
	free(s);
}

/*
 * Send what the user typed, if logged in: while a reconnect logs in
 * again, a chat line would go out under the server's default name.
 * Consumes obj.
 */
void
wschat_conn_send_user(struct wschat *c, json_t *obj)
{
	if (c->state != WSCHAT_S_READY) {
		json_decref(obj);
		wschat_show_warn(c, "not sent: %s", c->state == WSCHAT_S_LOGIN ?
		    "not logged in yet" : "not connected");
		return;
	}
	wschat_conn_send_json(c, obj);
}

void
wschat_conn_send_close(struct wschat *c, uint16_t code)
{
	uint8_t		p[2];
	struct timeval	tv = { WSCHAT_TIMEOUT, 0 };

	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	wschat_conn_send_frame(c, WS_OP_CLOSE, p, sizeof(p));
	c->state = WSCHAT_S_CLOSING;
	wschat_stdin(c, 0);
	evtimer_add(c->ev_timer, &tv);
}

void
wschat_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;

	(void)fd;
	(void)what;
	wschat_show_fail(c, "the server did not answer the close");
}

/*
 * The closing handshake is over (both closes sent), or the connection
 * ended some other way: leave, or reconnect.
 */
static void
wschat_conn_over(struct wschat *c)
{
	if (c->leaving || c->status != WSCHAT_EXIT_OK) {
		event_base_loopexit(c->base, NULL);
		return;
	}
	wschat_conn_down(c, 0, NULL, 0);
}

static void
wschat_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct wschat	*c = arg;

	(void)bev;
	/* The close answer is out: done. */
	if (c->state == WSCHAT_S_CLOSING && c->peer_closed)
		wschat_conn_over(c);
}

static void
wschat_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wschat	*c = arg;
	const char	*why;

	(void)bev;
	if (c->state == WSCHAT_S_CLOSING && c->peer_closed) {
		wschat_conn_over(c);
		return;
	}
	if (what & BEV_EVENT_EOF)
		why = "closed without a close frame";
	else
		why = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
	if (c->leaving) {
		wschat_show_fail(c, "connection closed abnormally: %s", why);
		return;
	}
	wschat_conn_down(c, 1, why, strlen(why));
}

static void
wschat_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct wschat		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v;
	size_t			 used;
	int			 rv;

	/* Chunk by chunk, in place: the reader keeps what it needs. */
	while (evbuffer_get_length(in) > 0 &&
	    evbuffer_peek(in, -1, NULL, &v, 1) == 1) {
		rv = wschat_conn_input(c, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (rv == -1)
			break;
	}
}

/* Whether a server's close with this code is worth coming back after. */
static int
wschat_conn_transient(uint16_t code)
{
	/* Going away (restart), and the server errors of RFC 6455, 7.4.1. */
	return (code == WS_CLOSE_GOING_AWAY || (code >= 1011 && code <= 1014));
}

/* A close from the server, with its status (1005: none) and reason. */
static void
wschat_conn_closed(struct wschat *c, uint16_t code, const uint8_t *reason,
    size_t rlen)
{
	if (c->state != WSCHAT_S_CLOSING) {
		/* Answer with the same code (RFC 6455, 5.5.1). */
		wschat_conn_send_close(c, code == WS_CLOSE_NO_STATUS ?
		    WS_CLOSE_NORMAL : code);
		if (c->leaving)
			;	/* asked for (a logout): nothing to say */
		else if (code == WS_CLOSE_NO_STATUS ||
		    code == WS_CLOSE_NORMAL || wschat_conn_transient(code)) {
			wschat_show_warn(c, "the server closed the connection: "
			    "%u %.*s", (unsigned)code, (int)rlen,
			    (const char *)reason);
			if (!c->reconnect || c->kicked ||
			    !wschat_conn_transient(code))
				c->status = code == WS_CLOSE_NORMAL ||
				    code == WS_CLOSE_NO_STATUS ||
				    code == WS_CLOSE_GOING_AWAY ?
				    WSCHAT_EXIT_CLOSED : WSCHAT_EXIT_ERROR;
		} else {
			wschat_show_warn(c, "closed by the server: %u %.*s",
			    (unsigned)code, (int)rlen, (const char *)reason);
			c->status = WSCHAT_EXIT_ERROR;
		}
		/* Leave once the answer is written: wschat_conn_write_cb. */
		c->peer_closed = 1;
		return;
	}
	/* Our close was answered. */
	c->peer_closed = 1;
	event_base_loopexit(c->base, NULL);
}

/*
 * Feed len bytes from the server to the reader and act on what it finds;
 * *used says how many it took.  Returns 0, or -1 once the server's close
 * came or the connection failed: the rest is not read.
 */
static int
wschat_conn_input(struct wschat *c, const uint8_t *buf, size_t len,
    size_t *used)
{
	struct ws_reader	*r = &c->rd;
	uint8_t			*msg;
	size_t			 n;

	*used = 0;
	while (!c->peer_closed) {
		switch (ws_reader_feed(r, buf + *used, len - *used, &n)) {
		case WS_AGAIN:
			*used += n;
			return (0);
		case WS_MESSAGE:
			msg = ws_reader_take(r);
			/* Binary: msgpack was not asked for; ignore it. */
			if (r->ev_op == WS_OP_TEXT)
				wschat_show_message(c, msg != NULL ?
				    (const char *)msg + WS_HEADROOM : "",
				    r->ev_len);
			free(msg);
			break;
		case WS_CONTROL:
			if (r->ev_op == WS_OP_PING)
				wschat_conn_send_frame(c, WS_OP_PONG, r->ctl,
				    r->ev_len);
			else if (r->ev_op == WS_OP_CLOSE)
				wschat_conn_closed(c, r->ev_code, r->ctl + 2,
				    r->ev_len > 2 ? r->ev_len - 2 : 0);
			break;
		case WS_EPROTO:
			*used += n;
			wschat_conn_send_close(c, r->ev_code);
			if (r->ev_code == WS_CLOSE_INTERNAL)
				wschat_show_fail(c, "out of memory");
			else
				wschat_show_fail(c, "protocol error: %s",
				    r->ev_why);
			return (-1);
		}
		*used += n;
	}
	return (-1);
}

/*
 * After a lost connection, with the token of the login: ask the server to
 * take the session up again where we lost it (the largest id seen, in the
 * room we were in), without a logout and login for the others to see.
 * The answer is wschat_show.c's: resumed, or a login afresh.
 */
static void
wschat_conn_resume(struct wschat *c)
{
	json_t	*since;

	c->state = WSCHAT_S_LOGIN;
	c->resuming = 1;
	if ((since = json_object()) == NULL || json_object_set_new(since,
	    c->room != NULL ? c->room : "lobby", json_integer(c->lastid)) ==
	    -1) {
		json_decref(since);
		c->resuming = 0;
		wschat_login(c, c->name);
		return;
	}
	wschat_conn_send_json(c, json_pack("{s:s,s:s,s:o}", "type", "resume",
	    "session", c->session, "since", since));
}

/*
 * Open the connection (blocking, bounded by the socket's timeouts), log in
 * as before and start reading.  Returns 0, or -1 after printing why.
 */
int
wschat_conn_open(struct wschat *c)
{
	char		 head[WSCHAT_HANDSHAKE_MAX];
	const char	*name;
	size_t		 have, used;
	long		 hdrlen;
	int		 fd;

	if ((fd = wschat_conn_connect(c)) == -1)
		return (-1);
	if ((hdrlen = wschat_conn_handshake(c, fd, head, &have)) == -1) {
		close(fd);
		return (-1);
	}
	evutil_make_socket_nonblocking(fd);
	/* BEV_OPT_CLOSE_ON_FREE: the bufferevent owns fd from here. */
	if ((c->bev = bufferevent_socket_new(c->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		wschat_show_warn(c, "out of memory");
		return (-1);
	}
	bufferevent_setcb(c->bev, wschat_conn_read_cb, wschat_conn_write_cb,
	    wschat_conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->peer_closed = 0;
	if (c->attempt > 0)
		wschat_show_warn(c, "connected again to %s:%s", c->host,
		    c->port);
	name = c->name != NULL ? c->name : c->want;
	if (name != NULL && c->session != NULL && c->v2)
		wschat_conn_resume(c);
	else if (name != NULL)
		wschat_login(c, name);
	else if (!c->pipe && c->menu == WSCHAT_M_NAME) {
		/* Interactive, no name yet: ask for one. */
		c->state = WSCHAT_S_LOGIN;
		wschat_term_edit_start(c);
	} else
		wschat_ready(c);
	/* Frames may have come with the answer. */
	(void)wschat_conn_input(c, (const uint8_t *)head + hdrlen,
	    have - (size_t)hdrlen, &used);
	return (0);
}

/*
 * Try again after a delay that grows with each failure: reconnect (no
 * connection) or log in again (connected, the name was taken).
 */
void
wschat_conn_retry(struct wschat *c, const char *what)
{
	struct timeval	tv;
	char		secs[32];
	long		ms;
	int		n;

	n = c->attempt < 6 ? c->attempt : 6;
	ms = (long)WSCHAT_RETRY_MIN << n;
	if (ms > WSCHAT_RETRY_MAX)
		ms = WSCHAT_RETRY_MAX;
	/* 75% to 125%: jitter, not security. */
	ms = ms * 3 / 4 + random() % (ms / 2 + 1);
	c->attempt++;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	snprintf(secs, sizeof(secs), "%.1f", ms / 1000.0);
	wschat_show_warn(c, "%s in %s s", what, secs);
	evtimer_add(c->ev_retry, &tv);
}

void
wschat_conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;

	(void)fd;
	(void)what;
	if (c->bev != NULL) {
		if (c->state == WSCHAT_S_LOGIN && c->name != NULL)
			wschat_login(c, c->name);
		return;
	}
	if (wschat_conn_open(c) == -1)
		wschat_conn_retry(c, "reconnecting");
}

/*
 * The connection is over without our asking: by a close from the server
 * (lost 0; the closing handshake is done) or lost (lost 1, why says how).
 * Report it, then reconnect or leave.
 */
static void
wschat_conn_down(struct wschat *c, int lost, const char *why, size_t len)
{
	if (lost)
		wschat_show_warn(c, "connection lost: %.*s", (int)len, why);
	else {
		/* A close ends the session at once: nothing to resume. */
		wschat_setname(&c->session, NULL);
	}
	c->resuming = 0;
	c->asked = 0;
	bufferevent_free(c->bev);
	c->bev = NULL;
	evtimer_del(c->ev_timer);
	ws_reader_clear(&c->rd);
	ws_reader_init_peer(&c->rd, WSCHAT_MESSAGE_MAX, WS_PEER_SERVER);
	c->peer_closed = 0;
	c->state = WSCHAT_S_DOWN;
	if (c->pipe)
		wschat_stdin(c, !c->stdin_eof &&
		    evbuffer_get_length(c->inbuf) < WSCHAT_PIPE_BUFFER);
	else
		wschat_stdin(c, c->editing);	/* off while closing */
	/* Back in the same room. */
	if (c->in != NULL && c->room == NULL) {
		c->room = c->in;
		c->in = NULL;
	}
	if (c->menu == WSCHAT_M_CHECK) {
		c->menu = WSCHAT_M_ADDRESSEE;
		wschat_term_edit_start(c);
	}
	/* Pipe mode at the end of its input: nothing more to send. */
	if (!c->reconnect || c->kicked || (c->pipe && c->stdin_eof)) {
		c->status = lost ? WSCHAT_EXIT_LOST : WSCHAT_EXIT_CLOSED;
		event_base_loopexit(c->base, NULL);
		return;
	}
	wschat_conn_retry(c, "reconnecting");
}
