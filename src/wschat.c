/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschat.c: the command-line client of wschatd.  It connects to
 * ws://HOST:PORT/ws, logs in, and then either reads chat lines and slash
 * commands from stdin (--pipe, or stdin not a terminal) or shows a menu:
 * 1 public chat (each line goes to everyone in the room), 2 private chat
 * (to one user, chosen from the list of who is online), 3 rename, 0 exit;
 * an empty line goes back to the menu.  Every incoming message is printed
 * as one line, and the further lines of a text that has several as
 * continuation lines (WSCHAT_CONT): no text can pass for a message of its
 * own.  Text from the server is shown through chat_line_escape(): no
 * control character in it reaches the terminal; lists of names are
 * quoted, so that no name can pass for another or for "nobody".  The
 * WebSocket protocol is the codecs': ws_client.c makes the upgrade,
 * checks the answer and masks what goes out; ws.c's reader takes apart
 * what comes in (fragments, control frames, UTF-8).  This file does the
 * I/O, blocking for the handshake and then on libevent.
 * The daemon knows nothing of it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
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
#include "chat.h"
#include "ws.h"
#include "ws_client.h"

#define WSCHAT_EXIT_OK		0
#define WSCHAT_EXIT_ERROR	1	/* connection, protocol or login */
#define WSCHAT_EXIT_USAGE	2

#define WSCHAT_MESSAGE_MAX	(16 * 1024 * 1024)
#define WSCHAT_HANDSHAKE_MAX	8192
/* Seconds allowed for connect, the handshake and the closing handshake. */
#define WSCHAT_TIMEOUT		10

#define WSCHAT_MENU	"1 public chat, 2 private chat, 3 rename, 0 exit"
/*
 * The start of a continuation line.  No message line starts with a space
 * (wschat_print() shows a leading one as \x20), so none can pass for one.
 */
#define WSCHAT_CONT	"  | "

/* Where the connection is. */
enum wschat_state {
	WSCHAT_S_LOGIN,		/* login sent, waiting for the answer */
	WSCHAT_S_READY,		/* reading stdin */
	WSCHAT_S_CLOSING	/* close sent, waiting for the server's */
};

/* Where the interactive menu is. */
enum wschat_menu {
	WSCHAT_M_NAME,		/* asking for a name */
	WSCHAT_M_MENU,		/* asking for a choice */
	WSCHAT_M_PUBLIC,	/* lines are chat */
	WSCHAT_M_ADDRESSEE,	/* asking whom to write to */
	WSCHAT_M_PRIVATE,	/* lines are private messages */
	WSCHAT_M_RENAME		/* asking for a new name */
};

/*
 * The one connection.  rd: the reader of the server's frames; inbuf: stdin
 * bytes not yet a line.  name is the name the server confirmed, want the
 * one asked for, peer the addressee in the menu's private chat.
 */
struct wschat {
	struct event_base	*base;
	struct bufferevent	*bev;
	struct event		*ev_stdin;
	struct event		*ev_timer;
	struct ws_reader	 rd;
	struct evbuffer		*inbuf;
	int			 peer_closed;	/* its close came */
	enum wschat_state	 state;
	enum wschat_menu	 menu;
	int			 pipe;		/* 1: pipe mode */
	int			 stdin_on;
	const char		*host;
	const char		*port;
	const char		*room;
	char			*name;
	char			*want;
	char			*peer;
	int			 status;	/* exit status */
};

static void	wschat_usage(FILE *);
static int	wschat_connect(const char *, const char *);
static long	wschat_handshake(struct wschat *, int, char *, size_t *);
static void	wschat_send_frame(struct wschat *, int, const void *,
		    size_t);
static void	wschat_send_json(struct wschat *, json_t *);
static void	wschat_send_close(struct wschat *, uint16_t);
static void	wschat_read_cb(struct bufferevent *, void *);
static void	wschat_event_cb(struct bufferevent *, short, void *);
static void	wschat_write_cb(struct bufferevent *, void *);
static void	wschat_stdin_cb(evutil_socket_t, short, void *);
static void	wschat_timer_cb(evutil_socket_t, short, void *);
static int	wschat_input(struct wschat *, const uint8_t *, size_t,
		    size_t *);
static void	wschat_message(struct wschat *, const char *, size_t);
static void	wschat_line(struct wschat *, char *);
static void	wschat_ready(struct wschat *);
static void	wschat_escape(struct buf *, const char *, size_t);
static void	wschat_vformat(struct buf *, const char *, va_list);
static void	wschat_vwarn(const char *, va_list);
static void	wschat_warn(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static void	wschat_fail(struct wschat *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	wschat_print(struct wschat *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	wschat_prompt(struct wschat *);
static int	wschat_reading(struct wschat *);

static void
wschat_usage(FILE *fp)
{
	fprintf(fp,
"usage: wschat [--pipe] [-h host] [-p port] [-n name] [--room room]\n"
"       wschat --help | -v | --version\n"
"  -h, --host, -ip HOST   server address (default 127.0.0.1)\n"
"  -p, --port, -port PORT server port (default 8080)\n"
"  -n, --name NAME        log in as NAME\n"
"      --room ROOM        join ROOM after logging in\n"
"      --pipe             script mode: stdin lines in, one line per\n"
"                         incoming message out (default when stdin is\n"
"                         not a terminal)\n"
"      --help             this help\n"
"  -v, --version          print the version\n"
"In pipe mode a line is a chat message unless it is one of\n"
"  /to NAME text, /rename NAME, /who, /join ROOM, /leave\n"
"Incoming messages are printed one a line.  Text from the server is shown\n"
"with its control characters escaped (^[, <U+202E>, \\xNN); the further\n"
"lines of a text of several lines start with \"" WSCHAT_CONT "\".\n"
"Exit status: 0 closed normally, 1 connection, protocol or login error,\n"
"2 usage error.\n");
}

/*
 * Append len bytes of text from the server to b, for a terminal: controls
 * escaped by chat_line_escape(), and each LF (with the CR of a CRLF) as
 * the start of a continuation line, so that the text cannot begin a line
 * that looks like a message of its own.
 */
static void
wschat_escape(struct buf *b, const char *p, size_t len)
{
	const char	*nl;
	size_t		 n;

	while (len > 0 && (nl = memchr(p, '\n', len)) != NULL) {
		n = (size_t)(nl - p);
		chat_line_escape(b, p, n > 0 && p[n - 1] == '\r' ? n - 1 : n);
		buf_add(b, "\n" WSCHAT_CONT, 1 + strlen(WSCHAT_CONT));
		p = nl + 1;
		len -= n + 1;
	}
	chat_line_escape(b, p, len);
}

/*
 * Append fmt with its arguments to b.  fmt is ours and is copied as it
 * is; it may hold %s (a string), %.*s (an int, then that many bytes, NULs
 * included: the whole text) and %u, nothing else.  Every string argument
 * may come from the server and goes through wschat_escape().
 */
static void
wschat_vformat(struct buf *b, const char *fmt, va_list ap)
{
	const char	*s;
	size_t		 n;

	while (*fmt != '\0') {
		n = strcspn(fmt, "%");
		buf_add(b, fmt, n);
		fmt += n;
		if (strncmp(fmt, "%s", 2) == 0) {
			s = va_arg(ap, const char *);
			wschat_escape(b, s, strlen(s));
			fmt += 2;
		} else if (strncmp(fmt, "%.*s", 4) == 0) {
			n = (size_t)va_arg(ap, int);
			s = va_arg(ap, const char *);
			wschat_escape(b, s, n);
			fmt += 4;
		} else if (strncmp(fmt, "%u", 2) == 0) {
			buf_printf(b, "%u", va_arg(ap, unsigned int));
			fmt += 2;
		} else if (*fmt == '%') {
			/* Not one of the three: a bug, shown as it is. */
			buf_add(b, fmt++, 1);
		}
	}
}

/* "wschat: ", fmt (as wschat_vformat()) and a newline on stderr. */
static void
wschat_vwarn(const char *fmt, va_list ap)
{
	struct buf	b;

	buf_init(&b, 0);
	buf_add(&b, "wschat: ", 8);
	wschat_vformat(&b, fmt, ap);
	buf_add(&b, "\n", 1);
	fflush(stdout);
	if (b.failed)
		fprintf(stderr, "wschat: out of memory\n");
	else
		fwrite(b.base + b.headroom, 1, b.len, stderr);
	buf_clear(&b);
}

static void
wschat_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	wschat_vwarn(fmt, ap);
	va_end(ap);
}

/*
 * Print a fatal error (fmt as wschat_vformat()), close and leave the
 * event loop with status 1.
 */
static void
wschat_fail(struct wschat *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	wschat_vwarn(fmt, ap);
	va_end(ap);
	c->status = WSCHAT_EXIT_ERROR;
	event_base_loopexit(c->base, NULL);
}

static void
wschat_prompt(struct wschat *c)
{
	if (c->pipe)
		return;
	switch (c->menu) {
	case WSCHAT_M_NAME:
		printf("name> ");
		break;
	case WSCHAT_M_MENU:
		printf("%s\n> ", WSCHAT_MENU);
		break;
	case WSCHAT_M_PUBLIC:
		printf("say> ");
		break;
	case WSCHAT_M_ADDRESSEE:
		printf("to whom> ");
		break;
	case WSCHAT_M_PRIVATE:
		printf("to %s> ", c->peer ? c->peer : "?");
		break;
	case WSCHAT_M_RENAME:
		printf("new name> ");
		break;
	}
	fflush(stdout);
}

/*
 * One incoming message as one line (fmt as wschat_vformat()), and its
 * continuation lines; interactive mode keeps the prompt.
 */
static void
wschat_print(struct wschat *c, const char *fmt, ...)
{
	struct buf	 b;
	va_list		 ap;
	const uint8_t	*p;
	size_t		 len;

	buf_init(&b, 0);
	va_start(ap, fmt);
	wschat_vformat(&b, fmt, ap);
	va_end(ap);
	if (!c->pipe)
		printf("\r");
	if (b.failed)
		printf("wschat: out of memory: a message not shown");
	else if ((len = b.len) > 0) {
		p = b.base + b.headroom;
		/* A name with a leading space would pass for WSCHAT_CONT. */
		if (*p == ' ') {
			printf("\\x20");
			p++;
			len--;
		}
		fwrite(p, 1, len, stdout);
	}
	buf_clear(&b);
	printf("\n");
	if (!c->pipe && wschat_reading(c))
		wschat_prompt(c);
	fflush(stdout);
}

static int
wschat_connect(const char *host, const char *port)
{
	struct addrinfo	 hints, *res, *ai;
	struct timeval	 tv = { WSCHAT_TIMEOUT, 0 };
	int		 fd = -1, error, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "wschat: %s:%s: %s\n", host, port,
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
		fprintf(stderr, "wschat: cannot connect to %s:%s: %s\n", host,
		    port, strerror(saved));
	return (fd);
}

/*
 * The opening handshake, blocking (the socket has timeouts): the request,
 * then the answer, read into head (WSCHAT_HANDSHAKE_MAX bytes).  Returns
 * the length of the answer's head, with *have the bytes read (frames may
 * follow the head), or -1 after printing why.
 */
static long
wschat_handshake(struct wschat *c, int fd, char *head, size_t *have)
{
	struct ws_client_request	 req;
	struct ws_client_handshake	 hs;
	uint8_t				 nonce[WS_CLIENT_NONCE_LEN];
	char				 host[512], agent[64], buf[1024];
	ssize_t				 n;
	int				 len, v6, rv = WS_AGAIN;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		fprintf(stderr, "wschat: RAND_bytes failed\n");
		return (-1);
	}
	v6 = strchr(c->host, ':') != NULL;
	len = snprintf(host, sizeof(host), "%s%s%s:%s", v6 ? "[" : "",
	    c->host, v6 ? "]" : "", c->port);
	snprintf(agent, sizeof(agent), "wschat/%s", WSCHATD_VERSION);
	memset(&req, 0, sizeof(req));
	req.host = host;
	req.path = "/ws";
	req.protocols = "wschat.json";
	req.agent = agent;
	if (len < 0 || (size_t)len >= sizeof(host) ||
	    (len = ws_client_request_encode(&hs, &req, nonce, buf,
	    sizeof(buf))) == -1) {
		fprintf(stderr, "wschat: bad or too long host name\n");
		return (-1);
	}
	if (write(fd, buf, (size_t)len) != len) {
		fprintf(stderr, "wschat: handshake: write: %s\n",
		    strerror(errno));
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
			fprintf(stderr, "wschat: handshake: %s\n", n == 0 ?
			    "connection closed by server" : strerror(errno));
			return (-1);
		}
		rv = ws_client_response_parse(&hs, head, *have + (size_t)n);
	}
	if (rv == WS_OK)
		return ((long)hs.hdrlen);
	if (hs.status != 0 && hs.status != 101)
		wschat_warn("handshake refused: %.*s", (int)hs.linelen,
		    hs.line);
	else
		fprintf(stderr, "wschat: handshake: %s\n", hs.reason);
	return (-1);
}

/* A client frame: FIN, masked with a fresh key (RFC 6455, 5.3). */
static void
wschat_send_frame(struct wschat *c, int op, const void *data, size_t len)
{
	uint8_t		 mask[4], *buf, *frame;
	size_t		 flen;

	if (RAND_bytes(mask, sizeof(mask)) != 1) {
		wschat_fail(c, "RAND_bytes failed");
		return;
	}
	/* Room for the header before the payload, masked in place. */
	if ((buf = malloc(WS_HEADER_MAX + len)) == NULL) {
		wschat_fail(c, "out of memory");
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
static void
wschat_send_json(struct wschat *c, json_t *obj)
{
	char	*s;

	if (obj == NULL) {
		fprintf(stderr, "wschat: not sent: not valid UTF-8\n");
		return;
	}
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL) {
		fprintf(stderr, "wschat: not sent: out of memory\n");
		return;
	}
	wschat_send_frame(c, WS_OP_TEXT, s, strlen(s));
	free(s);
}

static void
wschat_send_close(struct wschat *c, uint16_t code)
{
	uint8_t		p[2];
	struct timeval	tv = { WSCHAT_TIMEOUT, 0 };

	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	wschat_send_frame(c, WS_OP_CLOSE, p, sizeof(p));
	c->state = WSCHAT_S_CLOSING;
	if (c->stdin_on) {
		event_del(c->ev_stdin);
		c->stdin_on = 0;
	}
	evtimer_add(c->ev_timer, &tv);
}

static void
wschat_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;

	(void)fd;
	(void)what;
	wschat_fail(c, "the server did not answer the close");
}

static void
wschat_write_cb(struct bufferevent *bev, void *arg)
{
	struct wschat	*c = arg;

	(void)bev;
	/* The close answer is out: done. */
	if (c->state == WSCHAT_S_CLOSING && c->peer_closed)
		event_base_loopexit(c->base, NULL);
}

static void
wschat_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wschat	*c = arg;

	(void)bev;
	if (c->state == WSCHAT_S_CLOSING && c->peer_closed) {
		event_base_loopexit(c->base, NULL);
		return;
	}
	if (what & BEV_EVENT_EOF)
		wschat_fail(c, "connection closed abnormally (no close "
		    "frame)");
	else
		wschat_fail(c, "connection error: %s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

static void
wschat_read_cb(struct bufferevent *bev, void *arg)
{
	struct wschat		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_iovec	 v;
	size_t			 used;
	int			 rv;

	/* Chunk by chunk, in place: the reader keeps what it needs. */
	while (evbuffer_get_length(in) > 0 &&
	    evbuffer_peek(in, -1, NULL, &v, 1) == 1) {
		rv = wschat_input(c, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		if (rv == -1)
			break;
	}
}

/* A close from the server, with its status (1005: none) and reason. */
static void
wschat_closed(struct wschat *c, uint16_t code, const uint8_t *reason,
    size_t rlen)
{
	if (c->state != WSCHAT_S_CLOSING) {
		/* Answer with the same code (RFC 6455, 5.5.1). */
		wschat_send_close(c, code == WS_CLOSE_NO_STATUS ?
		    WS_CLOSE_NORMAL : code);
		if (code != WS_CLOSE_NO_STATUS && code != WS_CLOSE_NORMAL &&
		    code != WS_CLOSE_GOING_AWAY) {
			wschat_warn("closed by the server: %u %.*s",
			    (unsigned)code, (int)rlen, (const char *)reason);
			c->status = WSCHAT_EXIT_ERROR;
		}
		/* Leave once the answer is written: wschat_write_cb. */
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
wschat_input(struct wschat *c, const uint8_t *buf, size_t len,
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
				wschat_message(c, msg != NULL ? (const char *)
				    msg + WS_HEADROOM : "", r->ev_len);
			free(msg);
			break;
		case WS_CONTROL:
			if (r->ev_op == WS_OP_PING)
				wschat_send_frame(c, WS_OP_PONG, r->ctl,
				    r->ev_len);
			else if (r->ev_op == WS_OP_CLOSE)
				wschat_closed(c, r->ev_code, r->ctl + 2,
				    r->ev_len > 2 ? r->ev_len - 2 : 0);
			break;
		case WS_EPROTO:
			*used += n;
			wschat_send_close(c, r->ev_code);
			if (r->ev_code == WS_CLOSE_INTERNAL)
				wschat_fail(c, "out of memory");
			else
				wschat_fail(c, "protocol error: %s",
				    r->ev_why);
			return (-1);
		}
		*used += n;
	}
	return (-1);
}

static const char *
wschat_str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return (s != NULL ? s : "");
}

/*
 * Append s to b in double quotes, with \ and " in it escaped: a list of
 * such words has one reading, whatever the names hold (commas, quotes,
 * or a user called "nobody").  Controls are wschat_print()'s business.
 */
static void
wschat_quote(struct buf *b, const char *s)
{
	size_t	n;

	buf_add(b, "\"", 1);
	while (*s != '\0') {
		n = strcspn(s, "\\\"");
		buf_add(b, s, n);
		s += n;
		if (*s != '\0') {
			buf_add(b, "\\", 1);
			buf_add(b, s++, 1);
		}
	}
	buf_add(b, "\"", 1);
}

/*
 * A user_list for wschat_print(): "(N)", then ": " and the N names quoted
 * and separated by ", " (nothing after the count for none).  Returns NULL
 * when out of memory; the caller frees.
 */
static char *
wschat_list(json_t *o)
{
	json_t		*list = json_object_get(o, "user_list"), *v;
	struct buf	 b;
	size_t		 i;
	char		*s;

	buf_init(&b, 0);
	buf_printf(&b, "(%zu)", json_array_size(list));
	json_array_foreach(list, i, v) {
		buf_add(&b, i == 0 ? ": " : ", ", 2);
		wschat_quote(&b, json_string_value(v) != NULL ?
		    json_string_value(v) : "");
	}
	buf_add(&b, "", 1);
	s = b.failed ? NULL : strdup((const char *)b.base + b.headroom);
	buf_clear(&b);
	return (s);
}

static void
wschat_setname(char **where, const char *name)
{
	free(*where);
	*where = name != NULL ? strdup(name) : NULL;
}

/* The name to show for a user: "you" for ourselves. */
static const char *
wschat_who(struct wschat *c, const char *name)
{
	if (c->name != NULL && strcmp(c->name, name) == 0)
		return ("you");
	return (name);
}

/* One complete text message from the server. */
static void
wschat_message(struct wschat *c, const char *text, size_t len)
{
	json_t		*o;
	json_error_t	 err;
	const char	*type, *from, *content, *code, *room;
	char		*list;

	o = json_loadb(text, len, 0, &err);
	if (o == NULL || !json_is_object(o)) {
		wschat_print(c, "%.*s", (int)len, text);
		json_decref(o);
		return;
	}
	type = wschat_str(o, "type");
	from = wschat_str(o, "from");
	content = wschat_str(o, "content");
	code = wschat_str(o, "code");
	room = wschat_str(o, "room");
	if (strcmp(type, "handshake") == 0 || strcmp(type, "who") == 0) {
		if ((list = wschat_list(o)) == NULL)
			wschat_print(c, "wschat: out of memory: a list not "
			    "shown");
		else
			wschat_print(c, "* online %s", list);
		free(list);
	} else if (strcmp(type, "login") == 0) {
		if (c->state == WSCHAT_S_LOGIN && c->want != NULL &&
		    strcmp(content, c->want) == 0) {
			wschat_setname(&c->name, content);
			wschat_print(c, "* %s is online", content);
			wschat_ready(c);
		} else
			wschat_print(c, "* %s is online", content);
	} else if (strcmp(type, "logout") == 0) {
		wschat_print(c, "* %s is offline", content);
	} else if (strcmp(type, "join") == 0 || strcmp(type, "leave") == 0) {
		/* Someone came to or left the room we are in. */
		wschat_print(c, "* %s %s %s", from, strcmp(type, "join") == 0 ?
		    "joined" : "left", room);
	} else if (strcmp(type, "rename") == 0) {
		if (c->name != NULL && strcmp(c->name, from) == 0)
			wschat_setname(&c->name, content);
		wschat_print(c, "* %s is now %s", from, content);
	} else if (strcmp(type, "user") == 0) {
		if (*room != '\0' && strcmp(room, "lobby") != 0)
			wschat_print(c, "[%s] %s: %s", room, from, content);
		else
			wschat_print(c, "%s: %s", from, content);
	} else if (strcmp(type, "private") == 0) {
		wschat_print(c, "%s -> %s: %s", wschat_who(c, from),
		    wschat_who(c, wschat_str(o, "to")), content);
	} else if (strcmp(type, "system") == 0) {
		if (*code != '\0' && c->state == WSCHAT_S_LOGIN) {
			if (c->pipe || c->menu != WSCHAT_M_NAME) {
				wschat_send_close(c, WS_CLOSE_NORMAL);
				wschat_fail(c, "%s: %s", code, content);
			} else {
				/* Asked interactively: ask again. */
				wschat_print(c, "! %s: %s", code, content);
				wschat_prompt(c);
			}
		} else if (*code != '\0')
			wschat_print(c, "! %s: %s", code, content);
		else if (*room != '\0')
			wschat_print(c, "* %s %s", content, room);
		else
			wschat_print(c, "* %s", content);
	} else
		wschat_print(c, "%.*s", (int)len, text);
	json_decref(o);
}

/* Logged in (or not asked to): join the room and start reading stdin. */
static void
wschat_ready(struct wschat *c)
{
	c->state = WSCHAT_S_READY;
	if (c->room != NULL) {
		wschat_send_json(c, json_pack("{s:s,s:s}", "type", "join",
		    "room", c->room));
		c->room = NULL;
	}
	if (!c->pipe && c->menu == WSCHAT_M_NAME)
		c->menu = WSCHAT_M_MENU;
	if (!c->stdin_on) {
		event_add(c->ev_stdin, NULL);
		c->stdin_on = 1;
	}
	wschat_prompt(c);
}

static void
wschat_login(struct wschat *c, const char *name)
{
	wschat_setname(&c->want, name);
	c->state = WSCHAT_S_LOGIN;
	wschat_send_json(c, json_pack("{s:s,s:s}", "type", "login",
	    "content", name));
}

/* Split "NAME rest" in place; returns rest (maybe empty). */
static char *
wschat_word(char *s)
{
	while (*s != '\0' && !isspace((unsigned char)*s))
		s++;
	if (*s != '\0') {
		*s++ = '\0';
		while (isspace((unsigned char)*s))
			s++;
	}
	return (s);
}

/* A pipe-mode line: chat, or a slash command. */
static void
wschat_command(struct wschat *c, char *line)
{
	char	*arg, *rest;

	if (line[0] != '/' || line[1] == '/') {
		/* "//text" sends "/text". */
		wschat_send_json(c, json_pack("{s:s,s:s}", "type", "user",
		    "content", line[0] == '/' ? line + 1 : line));
		return;
	}
	arg = wschat_word(line);
	if (strcmp(line, "/to") == 0 && *arg != '\0') {
		rest = wschat_word(arg);
		wschat_send_json(c, json_pack("{s:s,s:s,s:s}", "type", "to",
		    "to", arg, "content", rest));
	} else if (strcmp(line, "/rename") == 0 && *arg != '\0')
		wschat_send_json(c, json_pack("{s:s,s:s}", "type", "rename",
		    "content", arg));
	else if (strcmp(line, "/who") == 0)
		wschat_send_json(c, json_pack("{s:s}", "type", "who"));
	else if (strcmp(line, "/join") == 0 && *arg != '\0')
		wschat_send_json(c, json_pack("{s:s,s:s}", "type", "join",
		    "room", arg));
	else if (strcmp(line, "/leave") == 0)
		wschat_send_json(c, json_pack("{s:s}", "type", "leave"));
	else
		fprintf(stderr, "wschat: unknown command %s (try /to NAME "
		    "text, /rename NAME, /who, /join ROOM, /leave)\n", line);
}

/* An interactive line: what it means depends on the menu. */
static void
wschat_menu_line(struct wschat *c, char *line)
{
	switch (c->menu) {
	case WSCHAT_M_NAME:
		if (*line != '\0')
			wschat_login(c, line);
		else
			wschat_ready(c);	/* chat under the default */
		return;
	case WSCHAT_M_MENU:
		if (strcmp(line, "1") == 0)
			c->menu = WSCHAT_M_PUBLIC;
		else if (strcmp(line, "2") == 0) {
			c->menu = WSCHAT_M_ADDRESSEE;
			wschat_send_json(c, json_pack("{s:s}", "type",
			    "who"));
			/* The prompt follows the list. */
			return;
		} else if (strcmp(line, "3") == 0)
			c->menu = WSCHAT_M_RENAME;
		else if (strcmp(line, "0") == 0) {
			wschat_send_json(c, json_pack("{s:s}", "type",
			    "logout"));
			if (c->stdin_on) {
				event_del(c->ev_stdin);
				c->stdin_on = 0;
			}
			return;
		}
		break;
	case WSCHAT_M_PUBLIC:
		if (*line == '\0')
			c->menu = WSCHAT_M_MENU;
		else
			wschat_send_json(c, json_pack("{s:s,s:s}", "type",
			    "user", "content", line));
		return;	/* the echo brings the prompt back */
	case WSCHAT_M_ADDRESSEE:
		if (*line == '\0')
			c->menu = WSCHAT_M_MENU;
		else {
			wschat_setname(&c->peer, line);
			c->menu = WSCHAT_M_PRIVATE;
		}
		break;
	case WSCHAT_M_PRIVATE:
		if (*line == '\0')
			c->menu = WSCHAT_M_MENU;
		else {
			wschat_send_json(c, json_pack("{s:s,s:s,s:s}", "type",
			    "to", "to", c->peer, "content", line));
			return;
		}
		break;
	case WSCHAT_M_RENAME:
		if (*line != '\0')
			wschat_send_json(c, json_pack("{s:s,s:s}", "type",
			    "rename", "content", line));
		c->menu = WSCHAT_M_MENU;
		break;
	}
	wschat_prompt(c);
}

static void
wschat_line(struct wschat *c, char *line)
{
	size_t	len = strlen(line);

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (c->pipe) {
		if (len > 0)
			wschat_command(c, line);
	} else
		wschat_menu_line(c, line);
}

/* Whether stdin lines mean anything now. */
static int
wschat_reading(struct wschat *c)
{
	if (c->state == WSCHAT_S_READY)
		return (1);
	/* Asking for a name interactively. */
	return (c->state == WSCHAT_S_LOGIN && !c->pipe &&
	    c->menu == WSCHAT_M_NAME);
}

static void
wschat_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;
	char		*line;
	size_t		 len;
	int		 n;

	(void)what;
	n = evbuffer_read(c->inbuf, fd, 4096);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	while (wschat_reading(c) && (line = evbuffer_readln(c->inbuf,
	    &len, EVBUFFER_EOL_LF)) != NULL) {
		wschat_line(c, line);
		free(line);
	}
	if (n > 0 || !wschat_reading(c))
		return;
	/* End of input: a last line without newline, then close. */
	len = evbuffer_get_length(c->inbuf);
	if (len > 0 && (line = malloc(len + 1)) != NULL) {
		evbuffer_remove(c->inbuf, line, len);
		line[len] = '\0';
		wschat_line(c, line);
		free(line);
	}
	if (n == -1)
		fprintf(stderr, "wschat: stdin: %s\n", strerror(errno));
	if (!c->pipe)
		printf("\n");
	wschat_send_close(c, WS_CLOSE_NORMAL);
}

int
main(int argc, char *argv[])
{
	struct wschat	 c;
	const char	*name = NULL, *opt;
	char		 head[WSCHAT_HANDSHAKE_MAX];
	size_t		 have, used;
	long		 hdrlen;
	int		 fd, i;

	memset(&c, 0, sizeof(c));
	c.host = "127.0.0.1";
	c.port = "8080";
	c.pipe = !isatty(STDIN_FILENO);
	for (i = 1; i < argc; i++) {
		opt = argv[i];
		if (strcmp(opt, "--help") == 0) {
			wschat_usage(stdout);
			return (WSCHAT_EXIT_OK);
		} else if (strcmp(opt, "--version") == 0 ||
		    strcmp(opt, "-v") == 0) {
			printf("wschat %s\n", WSCHATD_VERSION);
			return (WSCHAT_EXIT_OK);
		} else if (strcmp(opt, "--pipe") == 0) {
			c.pipe = 1;
			continue;
		}
		if (i + 1 >= argc)
			goto usage;
		if (strcmp(opt, "-h") == 0 || strcmp(opt, "--host") == 0 ||
		    strcmp(opt, "-ip") == 0)
			c.host = argv[++i];
		else if (strcmp(opt, "-p") == 0 ||
		    strcmp(opt, "--port") == 0 || strcmp(opt, "-port") == 0)
			c.port = argv[++i];
		else if (strcmp(opt, "-n") == 0 || strcmp(opt, "--name") == 0)
			name = argv[++i];
		else if (strcmp(opt, "--room") == 0)
			c.room = argv[++i];
		else
			goto usage;
	}
	if (*c.port == '\0' || strspn(c.port, "0123456789") !=
	    strlen(c.port) || atoi(c.port) < 1 || atoi(c.port) > 65535) {
		fprintf(stderr, "wschat: bad port: %s\n", c.port);
		return (WSCHAT_EXIT_USAGE);
	}
	signal(SIGPIPE, SIG_IGN);
	ws_reader_init_peer(&c.rd, WSCHAT_MESSAGE_MAX, WS_PEER_SERVER);
	if ((c.base = event_base_new()) == NULL ||
	    (c.inbuf = evbuffer_new()) == NULL) {
		fprintf(stderr, "wschat: out of memory\n");
		return (WSCHAT_EXIT_ERROR);
	}
	if ((fd = wschat_connect(c.host, c.port)) == -1)
		return (WSCHAT_EXIT_ERROR);
	if ((hdrlen = wschat_handshake(&c, fd, head, &have)) == -1) {
		close(fd);
		return (WSCHAT_EXIT_ERROR);
	}
	evutil_make_socket_nonblocking(fd);
	/* BEV_OPT_CLOSE_ON_FREE: the bufferevent owns fd from here. */
	c.bev = bufferevent_socket_new(c.base, fd, BEV_OPT_CLOSE_ON_FREE);
	c.ev_stdin = event_new(c.base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    wschat_stdin_cb, &c);
	c.ev_timer = evtimer_new(c.base, wschat_timer_cb, &c);
	if (c.bev == NULL || c.ev_stdin == NULL || c.ev_timer == NULL) {
		fprintf(stderr, "wschat: out of memory\n");
		return (WSCHAT_EXIT_ERROR);
	}
	bufferevent_setcb(c.bev, wschat_read_cb, wschat_write_cb,
	    wschat_event_cb, &c);
	bufferevent_enable(c.bev, EV_READ | EV_WRITE);
	c.menu = WSCHAT_M_NAME;
	if (name != NULL) {
		c.menu = WSCHAT_M_MENU;
		wschat_login(&c, name);
	} else if (c.pipe)
		wschat_ready(&c);
	else {
		/* Interactive, no -n: ask for a name. */
		c.state = WSCHAT_S_LOGIN;
		event_add(c.ev_stdin, NULL);
		c.stdin_on = 1;
		wschat_prompt(&c);
	}
	/* Frames may have come with the answer. */
	(void)wschat_input(&c, (const uint8_t *)head + hdrlen,
	    have - (size_t)hdrlen, &used);
	event_base_dispatch(c.base);
	/* Best effort: a close queued by wschat_fail() still goes out. */
	(void)evbuffer_write(bufferevent_get_output(c.bev),
	    bufferevent_getfd(c.bev));

	bufferevent_free(c.bev);
	event_free(c.ev_stdin);
	event_free(c.ev_timer);
	evbuffer_free(c.inbuf);
	ws_reader_clear(&c.rd);
	event_base_free(c.base);
	free(c.name);
	free(c.want);
	free(c.peer);
	fflush(stdout);
	return (c.status);

usage:
	wschat_usage(stderr);
	return (WSCHAT_EXIT_USAGE);
}
