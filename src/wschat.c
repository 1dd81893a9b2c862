/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschat.c: the command-line client of wschatd.  It connects to
 * ws://HOST:PORT/ws, logs in, and then either reads chat lines and slash
 * commands from stdin (--pipe, or stdin not a terminal) or shows a menu:
 * 1 public chat (each line goes to everyone in the room; an empty line or
 * "exit" goes back), 2 private chat (to one user, checked against who is
 * online before the chat starts), 3 rename, 4 rooms (the list, and one to
 * join), 5 leave the room, 0 exit.  The menu edits its input line with
 * libedit (history, arrow keys) and prints incoming messages above it.
 * Every incoming message is printed as one line, and the further lines of
 * a text that has several as continuation lines (WSCHAT_CONT): no text
 * can pass for a message of its own.  Text from the server is shown
 * through chat_line_escape(): no control character in it reaches the
 * terminal; lists of names are quoted, so that no name can pass for
 * another or for "nobody".  A connection that goes away is reported, and
 * reopened with a growing, jittered delay (as the page does) under the
 * same name and in the same room, unless --no-reconnect.
 * It speaks version 2 of the chat protocol (docs/PROTOCOL.md, 4.8), or 1
 * with a server that does not choose it: wschat keeps no list of names,
 * so only the handshake's line differs (a count instead of the names).
 * The WebSocket protocol is the codecs': ws_client.c makes the upgrade,
 * checks the answer and masks what goes out; ws.c's reader takes apart
 * what comes in (fragments, control frames, UTF-8).  This file does the
 * I/O, blocking for the connect and the handshake and then on libevent.
 * The daemon knows nothing of it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <ctype.h>
#include <errno.h>
#include <histedit.h>
#include <locale.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

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

#define WSCHAT_EXIT_OK		0	/* we ended it: end of input, exit */
#define WSCHAT_EXIT_ERROR	1	/* connection, protocol or login */
#define WSCHAT_EXIT_USAGE	2
#define WSCHAT_EXIT_CLOSED	3	/* the server closed (1000, 1001) */
#define WSCHAT_EXIT_LOST	4	/* the connection was lost */

/*
 * The subprotocols offered, best first.  Version 2 (docs/PROTOCOL.md,
 * 4.8) sends no user_list with presence: with N users logging in, N lists
 * of N names each.  A server that does not know it (an older wschatd)
 * chooses wschat.json, or names none, and speaks version 1: the client
 * shows the same either way, but for the count of the handshake.
 */
#define WSCHAT_PROTOCOLS	"wschat.v2.json, wschat.json"
#define WSCHAT_V2		"wschat.v2.json"

#define WSCHAT_MESSAGE_MAX	(16 * 1024 * 1024)
#define WSCHAT_HANDSHAKE_MAX	8192
/* Seconds allowed for connect, the handshake and the closing handshake. */
#define WSCHAT_TIMEOUT		10
/*
 * Reconnecting: WSCHAT_RETRY_MIN ms, doubled at each failure up to
 * WSCHAT_RETRY_MAX ms, each delay jittered by +-25% so that the users of a
 * restarted server do not all come back in the same millisecond.  The
 * page (www/chat.js) does the same.
 */
#define WSCHAT_RETRY_MIN	500
#define WSCHAT_RETRY_MAX	30000
#define WSCHAT_HISTORY		500	/* lines of menu input kept */
/* Pipe mode: stdin bytes read ahead while not logged in, at most. */
#define WSCHAT_PIPE_BUFFER	(1024 * 1024)

#define WSCHAT_MENU	"1 public chat, 2 private chat, 3 rename, 4 rooms, " \
			"5 leave room, 0 exit"
/*
 * The start of a continuation line.  No message line starts with a space
 * (wschat_print() shows a leading one as \x20), so none can pass for one.
 */
#define WSCHAT_CONT	"  | "

/* Where the connection is. */
enum wschat_state {
	WSCHAT_S_LOGIN,		/* login sent, waiting for the answer */
	WSCHAT_S_READY,		/* reading stdin */
	WSCHAT_S_CLOSING,	/* close sent, waiting for the server's */
	WSCHAT_S_DOWN		/* no connection: waiting to reconnect */
};

/* Where the interactive menu is. */
enum wschat_menu {
	WSCHAT_M_NAME,		/* asking for a name */
	WSCHAT_M_MENU,		/* asking for a choice */
	WSCHAT_M_PUBLIC,	/* lines are chat */
	WSCHAT_M_ADDRESSEE,	/* asking whom to write to */
	WSCHAT_M_CHECK,		/* asked who is online, to check the answer */
	WSCHAT_M_PRIVATE,	/* lines are private messages */
	WSCHAT_M_RENAME,	/* asking for a new name */
	WSCHAT_M_ROOM		/* asking which room to join */
};

/*
 * The one connection.  rd: the reader of the server's frames; inbuf: stdin
 * bytes not yet a line (pipe mode).  name is the name the server
 * confirmed, want the one asked for, peer the addressee in the menu's
 * private chat, room the room to join once logged in (--room, or the one
 * we were in before a reconnect), in the room the server says we are in.
 * el and hist: the menu's line editor, editing while it shows its line.
 */
struct wschat {
	struct event_base	*base;
	struct bufferevent	*bev;		/* NULL while down */
	struct event		*ev_stdin;
	struct event		*ev_timer;	/* the close's answer */
	struct event		*ev_retry;	/* reconnect, or log in again */
	struct ws_reader	 rd;
	struct evbuffer		*inbuf;
	int			 peer_closed;	/* its close came */
	int			 v2;		/* the server chose WSCHAT_V2 */
	enum wschat_state	 state;
	enum wschat_menu	 menu;
	int			 pipe;		/* 1: pipe mode */
	int			 stdin_on;
	int			 stdin_eof;	/* pipe mode: read to the end */
	int			 leaving;	/* we asked to end it */
	int			 reconnect;	/* 0: --no-reconnect */
	int			 attempt;	/* failures since the last login */
	int			 kicked;	/* idle_timeout: do not come back */
	const char		*host;
	const char		*port;
	char			*room;
	char			*in;
	char			*name;
	char			*want;
	char			*peer;
	EditLine		*el;
	History			*hist;
	int			 editing;
	int			 eof;		/* ^D, or hung up */
	char			 prompt[160];
	int			 status;	/* exit status */
};

static void	wschat_usage(FILE *);
static int	wschat_connect(struct wschat *);
static long	wschat_handshake(struct wschat *, int, char *, size_t *);
static int	wschat_open(struct wschat *);
static void	wschat_down(struct wschat *, int, const char *, size_t);
static void	wschat_retry(struct wschat *, const char *);
static void	wschat_retry_cb(evutil_socket_t, short, void *);
static void	wschat_over(struct wschat *);
static void	wschat_send_frame(struct wschat *, int, const void *,
		    size_t);
static void	wschat_send_json(struct wschat *, json_t *);
static void	wschat_send_close(struct wschat *, uint16_t);
static void	wschat_read_cb(struct bufferevent *, void *);
static void	wschat_event_cb(struct bufferevent *, short, void *);
static void	wschat_write_cb(struct bufferevent *, void *);
static void	wschat_stdin_cb(evutil_socket_t, short, void *);
static void	wschat_stdin_lines(evutil_socket_t, short, void *);
static void	wschat_edit_cb(evutil_socket_t, short, void *);
static void	wschat_timer_cb(evutil_socket_t, short, void *);
static int	wschat_input(struct wschat *, const uint8_t *, size_t,
		    size_t *);
static void	wschat_message(struct wschat *, const char *, size_t);
static void	wschat_line(struct wschat *, char *);
static void	wschat_ready(struct wschat *);
static void	wschat_escape(struct buf *, const char *, size_t);
static void	wschat_vformat(struct buf *, const char *, va_list);
static void	wschat_vwarn(struct wschat *, const char *, va_list);
static void	wschat_warn(struct wschat *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	wschat_fail(struct wschat *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	wschat_print(struct wschat *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	wschat_out_begin(struct wschat *);
static void	wschat_out_end(struct wschat *);
static void	wschat_edit_start(struct wschat *);
static void	wschat_edit_stop(struct wschat *);
static void	wschat_to_menu(struct wschat *);

static void
wschat_usage(FILE *fp)
{
	fprintf(fp,
"usage: wschat [--pipe] [--no-reconnect] [-h host] [-p port] [-n name]\n"
"              [--room room]\n"
"       wschat --help | -v | --version\n"
"  -h, --host, -ip HOST   server address (default 127.0.0.1)\n"
"  -p, --port, -port PORT server port (default 8080)\n"
"  -n, --name NAME        log in as NAME\n"
"      --room ROOM        join ROOM after logging in\n"
"      --pipe             script mode: stdin lines in, one line per\n"
"                         incoming message out (default when stdin is\n"
"                         not a terminal)\n"
"      --no-reconnect     exit when the connection goes away, instead of\n"
"                         connecting again (0.5 s, 1 s, 2 s ... 30 s)\n"
"      --help             this help\n"
"  -v, --version          print the version\n"
"In pipe mode a line is a chat message unless it is one of\n"
"  /to NAME text, /rename NAME, /who [ROOM], /rooms, /join ROOM, /leave\n"
"Incoming messages are printed one a line.  Text from the server is shown\n"
"with its control characters escaped (^[, <U+202E>, \\xNN); the further\n"
"lines of a text of several lines start with \"" WSCHAT_CONT "\".  Lists\n"
"of names are a count and the names in double quotes.\n"
"Exit status: 0 closed by wschat (end of input, exit), 1 connection,\n"
"protocol or login error, 2 usage error, 3 closed by the server (1000,\n"
"or 1001 with --no-reconnect), 4 connection lost (with --no-reconnect,\n"
"or the input ended while reconnecting).\n");
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

/*
 * Before wschat writes a line of its own on the terminal: the editor's
 * line (prompt and what is typed so far) is taken off the screen, so that
 * the output goes above it.  wschat_out_end() draws it again, with the
 * cursor where it was.
 */
static void
wschat_out_begin(struct wschat *c)
{
	if (c->editing) {
		/* Ours, not the server's: CR and "erase in line". */
		fputs("\r\033[K", stdout);
	}
}

static void
wschat_out_end(struct wschat *c)
{
	fflush(stdout);
	if (c->editing)
		el_set(c->el, EL_REFRESH);
}

/* "wschat: ", fmt (as wschat_vformat()) and a newline on stderr. */
static void
wschat_vwarn(struct wschat *c, const char *fmt, va_list ap)
{
	struct buf	b;

	buf_init(&b, 0);
	buf_add(&b, "wschat: ", 8);
	wschat_vformat(&b, fmt, ap);
	buf_add(&b, "\n", 1);
	wschat_out_begin(c);
	fflush(stdout);
	if (b.failed)
		fprintf(stderr, "wschat: out of memory\n");
	else
		fwrite(b.base + b.headroom, 1, b.len, stderr);
	fflush(stderr);
	buf_clear(&b);
	wschat_out_end(c);
}

static void
wschat_warn(struct wschat *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	wschat_vwarn(c, fmt, ap);
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
	wschat_vwarn(c, fmt, ap);
	va_end(ap);
	c->status = WSCHAT_EXIT_ERROR;
	event_base_loopexit(c->base, NULL);
}

/* The menu's prompt, for libedit: where the menu is says what to type. */
static char *
wschat_el_prompt(EditLine *e)
{
	struct wschat	*c;
	struct buf	 b;
	const char	*p = "> ";
	size_t		 n;

	if (el_get(e, EL_CLIENTDATA, &c) != 0)
		return ((char *)"> ");
	switch (c->menu) {
	case WSCHAT_M_NAME:
		p = "name> ";
		break;
	case WSCHAT_M_MENU:
	case WSCHAT_M_CHECK:
		break;
	case WSCHAT_M_PUBLIC:
		p = "say> ";
		break;
	case WSCHAT_M_ADDRESSEE:
		p = "to whom> ";
		break;
	case WSCHAT_M_PRIVATE:
		p = NULL;
		break;
	case WSCHAT_M_RENAME:
		p = "new name> ";
		break;
	case WSCHAT_M_ROOM:
		p = "join room> ";
		break;
	}
	buf_init(&b, 0);
	if (c->in != NULL && (c->menu == WSCHAT_M_PUBLIC ||
	    c->menu == WSCHAT_M_MENU)) {
		buf_add(&b, "[", 1);
		wschat_escape(&b, c->in, strlen(c->in));
		buf_add(&b, "] ", 2);
	}
	if (p != NULL)
		buf_add(&b, p, strlen(p));
	else {
		buf_add(&b, "to ", 3);
		wschat_escape(&b, c->peer, strlen(c->peer));
		buf_add(&b, "> ", 2);
	}
	n = b.failed ? 0 : b.len;
	if (n >= sizeof(c->prompt))
		n = sizeof(c->prompt) - 1;
	memcpy(c->prompt, b.base + b.headroom, n);
	c->prompt[n] = '\0';
	buf_clear(&b);
	return (c->prompt);
}

/* Watch stdin (on 1) or not (on 0). */
static void
wschat_stdin(struct wschat *c, int on)
{
	if (on && !c->stdin_on)
		event_add(c->ev_stdin, NULL);
	else if (!on && c->stdin_on)
		event_del(c->ev_stdin);
	c->stdin_on = on;
}

/*
 * Show the prompt and edit the line: libedit in unbuffered mode (it puts
 * the terminal in raw mode and draws the prompt), fed one keystroke at a
 * time by wschat_edit_cb().  Menu mode only.
 */
static void
wschat_edit_start(struct wschat *c)
{
	if (c->pipe || c->editing)
		return;
	fflush(stdout);
	c->editing = 1;
	el_set(c->el, EL_UNBUFFERED, 1);
	wschat_stdin(c, 1);
}

/* Stop editing: the terminal back in its own mode, no prompt shown. */
static void
wschat_edit_stop(struct wschat *c)
{
	if (!c->editing)
		return;
	c->editing = 0;
	el_set(c->el, EL_UNBUFFERED, 0);
	wschat_stdin(c, 0);
}

/* A line of wschat's own (not the server's) above the edited line. */
static void
wschat_say(struct wschat *c, const char *text)
{
	wschat_out_begin(c);
	printf("%s\n", text);
	wschat_out_end(c);
}

/* Back to the menu, which is shown once. */
static void
wschat_to_menu(struct wschat *c)
{
	c->menu = WSCHAT_M_MENU;
	wschat_say(c, WSCHAT_MENU);
}

/*
 * One incoming message as one line (fmt as wschat_vformat()), and its
 * continuation lines; above the edited line in menu mode.
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
	wschat_out_begin(c);
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
	wschat_out_end(c);
}

/*
 * Connect to the server, blocking, with the socket's timeouts set.
 * Returns the socket, or -1 after printing why.
 */
static int
wschat_connect(struct wschat *c)
{
	struct addrinfo	 hints, *res, *ai;
	struct timeval	 tv = { WSCHAT_TIMEOUT, 0 };
	int		 fd = -1, error, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(c->host, c->port, &hints, &res)) != 0) {
		wschat_warn(c, "%s:%s: %s", c->host, c->port,
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
		wschat_warn(c, "cannot connect to %s:%s: %s", c->host,
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
wschat_handshake(struct wschat *c, int fd, char *head, size_t *have)
{
	struct ws_client_request	 req;
	struct ws_client_handshake	 hs;
	uint8_t				 nonce[WS_CLIENT_NONCE_LEN];
	char				 host[512], agent[64], buf[1024];
	ssize_t				 n;
	int				 len, v6, rv = WS_AGAIN;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		wschat_warn(c, "RAND_bytes failed");
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
		wschat_warn(c, "bad or too long host name");
		return (-1);
	}
	if (write(fd, buf, (size_t)len) != len) {
		wschat_warn(c, "handshake: write: %s", strerror(errno));
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
			wschat_warn(c, "handshake: %s", n == 0 ?
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
		wschat_warn(c, "handshake refused: %.*s", (int)hs.linelen,
		    hs.line);
	else
		wschat_warn(c, "handshake: %s", hs.reason);
	return (-1);
}

/* A client frame: FIN, masked with a fresh key (RFC 6455, 5.3). */
static void
wschat_send_frame(struct wschat *c, int op, const void *data, size_t len)
{
	uint8_t		 mask[4], *buf, *frame;
	size_t		 flen;

	if (c->bev == NULL)
		return;
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
		wschat_warn(c, "not sent: not valid UTF-8");
		return;
	}
	if (c->bev == NULL || c->state == WSCHAT_S_CLOSING) {
		json_decref(obj);
		wschat_warn(c, "not sent: not connected");
		return;
	}
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL) {
		wschat_warn(c, "not sent: out of memory");
		return;
	}
	wschat_send_frame(c, WS_OP_TEXT, s, strlen(s));
	free(s);
}

/*
 * Send what the user typed, if logged in: while a reconnect logs in
 * again, a chat line would go out under the server's default name.
 * Consumes obj.
 */
static void
wschat_send_user(struct wschat *c, json_t *obj)
{
	if (c->state != WSCHAT_S_READY) {
		json_decref(obj);
		wschat_warn(c, "not sent: %s", c->state == WSCHAT_S_LOGIN ?
		    "not logged in yet" : "not connected");
		return;
	}
	wschat_send_json(c, obj);
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
	wschat_stdin(c, 0);
	evtimer_add(c->ev_timer, &tv);
}

/* End the session at the user's wish (end of input, exit). */
static void
wschat_leave(struct wschat *c)
{
	wschat_edit_stop(c);
	c->leaving = 1;
	if (c->bev == NULL) {
		/* Down: nothing to close. */
		event_base_loopexit(c->base, NULL);
		return;
	}
	wschat_send_close(c, WS_CLOSE_NORMAL);
}

static void
wschat_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;

	(void)fd;
	(void)what;
	wschat_fail(c, "the server did not answer the close");
}

/*
 * The closing handshake is over (both closes sent), or the connection
 * ended some other way: leave, or reconnect.
 */
static void
wschat_over(struct wschat *c)
{
	if (c->leaving || c->status != WSCHAT_EXIT_OK) {
		event_base_loopexit(c->base, NULL);
		return;
	}
	wschat_down(c, 0, NULL, 0);
}

static void
wschat_write_cb(struct bufferevent *bev, void *arg)
{
	struct wschat	*c = arg;

	(void)bev;
	/* The close answer is out: done. */
	if (c->state == WSCHAT_S_CLOSING && c->peer_closed)
		wschat_over(c);
}

static void
wschat_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wschat	*c = arg;
	const char	*why;

	(void)bev;
	if (c->state == WSCHAT_S_CLOSING && c->peer_closed) {
		wschat_over(c);
		return;
	}
	if (what & BEV_EVENT_EOF)
		why = "closed without a close frame";
	else
		why = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
	if (c->leaving) {
		wschat_fail(c, "connection closed abnormally: %s", why);
		return;
	}
	wschat_down(c, 1, why, strlen(why));
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

/* Whether a server's close with this code is worth coming back after. */
static int
wschat_transient(uint16_t code)
{
	/* Going away (restart), and the server errors of RFC 6455, 7.4.1. */
	return (code == WS_CLOSE_GOING_AWAY || (code >= 1011 && code <= 1014));
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
		if (c->leaving)
			;	/* asked for (a logout): nothing to say */
		else if (code == WS_CLOSE_NO_STATUS ||
		    code == WS_CLOSE_NORMAL || wschat_transient(code)) {
			wschat_warn(c, "the server closed the connection: %u "
			    "%.*s", (unsigned)code, (int)rlen,
			    (const char *)reason);
			if (!c->reconnect || c->kicked ||
			    !wschat_transient(code))
				c->status = code == WS_CLOSE_NORMAL ||
				    code == WS_CLOSE_NO_STATUS ||
				    code == WS_CLOSE_GOING_AWAY ?
				    WSCHAT_EXIT_CLOSED : WSCHAT_EXIT_ERROR;
		} else {
			wschat_warn(c, "closed by the server: %u %.*s",
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
 * A list for wschat_print(): "(N)", then ": " and the N names quoted and
 * separated by ", " (nothing after the count for none).  For rooms, each
 * room's member count follows it: "den": 2.  Returns NULL when out of
 * memory; the caller frees.
 */
static char *
wschat_list(json_t *list, int rooms)
{
	struct buf	 b;
	json_t		*v;
	size_t		 i;
	char		*s;

	buf_init(&b, 0);
	buf_printf(&b, "(%zu)", json_array_size(list));
	json_array_foreach(list, i, v) {
		buf_add(&b, i == 0 ? ": " : ", ", 2);
		if (!rooms) {
			wschat_quote(&b, json_string_value(v) != NULL ?
			    json_string_value(v) : "");
			continue;
		}
		wschat_quote(&b, wschat_str(v, "room"));
		buf_printf(&b, ": %lld", (long long)json_integer_value(
		    json_object_get(v, "members")));
	}
	buf_add(&b, "", 1);
	s = b.failed ? NULL : strdup((const char *)b.base + b.headroom);
	buf_clear(&b);
	return (s);
}

/* Replace *where by a copy of name (which may be *where itself). */
static void
wschat_setname(char **where, const char *name)
{
	char	*s = name != NULL ? strdup(name) : NULL;

	free(*where);
	*where = s;
}

/* The name to show for a user: "you" for ourselves. */
static const char *
wschat_who(struct wschat *c, const char *name)
{
	if (c->name != NULL && strcmp(c->name, name) == 0)
		return ("you");
	return (name);
}

/*
 * The answer to the who that checks the addressee the menu was given:
 * private chat with that user if online (under the name as the server
 * spells it: names are one in any ASCII case), or the question again.
 */
static void
wschat_check_peer(struct wschat *c, json_t *list)
{
	json_t		*v;
	size_t		 i;
	const char	*s;

	json_array_foreach(list, i, v) {
		s = json_string_value(v);
		if (s != NULL && strcasecmp(s, c->peer) == 0) {
			wschat_setname(&c->peer, s);
			c->menu = WSCHAT_M_PRIVATE;
			wschat_print(c, "* private chat with %s (empty line or "
			    "exit: back)", s);
			wschat_edit_start(c);
			return;
		}
	}
	wschat_print(c, "! %s is not online", c->peer);
	c->menu = WSCHAT_M_ADDRESSEE;
	wschat_edit_start(c);
}

/*
 * A list of names or of rooms: "* online (2): "a", "b"".  A version 2
 * handshake has the count only: "* online (2)"; /who lists the names.
 */
static void
wschat_show_list(struct wschat *c, json_t *o)
{
	const char	*type = wschat_str(o, "type"), *room;
	char		*list, n[32];
	json_t		*online;

	if (c->v2 && strcmp(type, "handshake") == 0) {
		/* A count that is not one is shown as not known. */
		online = json_object_get(o, "online");
		if (json_is_integer(online) && json_integer_value(online) >= 0)
			snprintf(n, sizeof(n), "%lld",
			    (long long)json_integer_value(online));
		else
			snprintf(n, sizeof(n), "?");
		wschat_print(c, "* online (%s)", n);
		return;
	}
	room = json_string_value(json_object_get(o, "room"));
	list = wschat_list(json_object_get(o, strcmp(type, "rooms") == 0 ?
	    "rooms" : "user_list"), strcmp(type, "rooms") == 0);
	if (list == NULL)
		wschat_print(c, "wschat: out of memory: a list not shown");
	else if (strcmp(type, "rooms") == 0)
		wschat_print(c, "* rooms %s", list);
	else if (room != NULL && strcmp(type, "who") == 0)
		wschat_print(c, "* in %s %s", room, list);
	else
		wschat_print(c, "* online %s", list);
	free(list);
}

/* A refused login: ask again, try again later, or give up. */
static void
wschat_refused(struct wschat *c, const char *code, const char *content)
{
	if (c->name != NULL && (strcmp(code, "name_taken") == 0 ||
	    strcmp(code, "rate_limited") == 0)) {
		/*
		 * Logging in again after a reconnect: the name may still be
		 * held for the connection that was lost, or someone took it;
		 * or the server wants fewer logins a minute.
		 */
		wschat_print(c, "! %s: %s", code, content);
		wschat_retry(c, "logging in again");
	} else if (c->pipe || c->menu != WSCHAT_M_NAME) {
		wschat_leave(c);
		wschat_fail(c, "%s: %s", code, content);
	} else {
		/* Asked interactively: ask again. */
		wschat_print(c, "! %s: %s", code, content);
		wschat_setname(&c->want, NULL);
		wschat_edit_start(c);
	}
}

/* A notice from the server, or an error ("code"). */
static void
wschat_system(struct wschat *c, json_t *o)
{
	const char	*code, *content, *room;

	code = wschat_str(o, "code");
	content = wschat_str(o, "content");
	room = wschat_str(o, "room");
	if (*code != '\0' && c->state == WSCHAT_S_LOGIN && c->want != NULL) {
		wschat_refused(c, code, content);
		return;
	}
	if (strcmp(code, "idle_timeout") == 0)
		c->kicked = 1;		/* as the page: no coming back */
	if (*code != '\0' && c->menu == WSCHAT_M_CHECK) {
		/* The who did not come (rate_limited): ask again. */
		wschat_print(c, "! %s: %s", code, content);
		c->menu = WSCHAT_M_ADDRESSEE;
		wschat_edit_start(c);
	} else if (*code != '\0')
		wschat_print(c, "! %s: %s", code, content);
	else if (*room != '\0') {
		if (strcmp(content, "joined") == 0)
			wschat_setname(&c->in, strcmp(room, "lobby") != 0 ?
			    room : NULL);
		wschat_print(c, "* %s %s", content, room);
	} else
		wschat_print(c, "* %s", content);
}

/* One complete text message from the server. */
static void
wschat_message(struct wschat *c, const char *text, size_t len)
{
	json_t		*o;
	json_error_t	 err;
	const char	*type, *from, *content, *room;

	o = json_loadb(text, len, 0, &err);
	if (o == NULL || !json_is_object(o)) {
		wschat_print(c, "%.*s", (int)len, text);
		json_decref(o);
		return;
	}
	type = wschat_str(o, "type");
	from = wschat_str(o, "from");
	content = wschat_str(o, "content");
	room = wschat_str(o, "room");
	if (strcmp(type, "who") == 0 && c->menu == WSCHAT_M_CHECK &&
	    json_object_get(o, "room") == NULL)
		wschat_check_peer(c, json_object_get(o, "user_list"));
	else if (strcmp(type, "handshake") == 0 || strcmp(type, "who") == 0 ||
	    strcmp(type, "rooms") == 0)
		wschat_show_list(c, o);
	else if (strcmp(type, "login") == 0) {
		wschat_print(c, "* %s is online", content);
		if (c->state == WSCHAT_S_LOGIN && c->want != NULL &&
		    strcmp(content, c->want) == 0) {
			wschat_setname(&c->name, content);
			wschat_ready(c);
		}
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
	} else if (strcmp(type, "system") == 0)
		wschat_system(c, o);
	else
		wschat_print(c, "%.*s", (int)len, text);
	json_decref(o);
}

/*
 * Logged in (or not asked to): join the room (--room, or the one we were
 * in before a reconnect) and start reading stdin.
 */
static void
wschat_ready(struct wschat *c)
{
	struct timeval	zero = { 0, 0 };

	c->state = WSCHAT_S_READY;
	c->attempt = 0;		/* back: the next failure waits the least */
	if (c->room != NULL) {
		wschat_send_json(c, json_pack("{s:s,s:s}", "type", "join",
		    "room", c->room));
		wschat_setname(&c->room, NULL);
	}
	if (!c->pipe) {
		if (c->menu == WSCHAT_M_NAME)
			wschat_to_menu(c);
		wschat_edit_start(c);
		return;
	}
	wschat_stdin(c, !c->stdin_eof);
	/* Lines read while not logged in go out now, then the end. */
	event_base_once(c->base, -1, EV_TIMEOUT, wschat_stdin_lines, c,
	    &zero);
}

static void
wschat_login(struct wschat *c, const char *name)
{
	wschat_setname(&c->want, name);
	c->state = WSCHAT_S_LOGIN;
	/* name may have been c->want, freed just now. */
	wschat_send_json(c, json_pack("{s:s,s:s}", "type", "login",
	    "content", c->want));
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
	else if (strcmp(line, "/who") == 0 && *arg == '\0')
		wschat_send_json(c, json_pack("{s:s}", "type", "who"));
	else if (strcmp(line, "/who") == 0)
		wschat_send_json(c, json_pack("{s:s,s:s}", "type", "who",
		    "room", arg));
	else if (strcmp(line, "/rooms") == 0)
		wschat_send_json(c, json_pack("{s:s}", "type", "rooms"));
	else if (strcmp(line, "/join") == 0 && *arg != '\0')
		wschat_send_json(c, json_pack("{s:s,s:s}", "type", "join",
		    "room", arg));
	else if (strcmp(line, "/leave") == 0)
		wschat_send_json(c, json_pack("{s:s}", "type", "leave"));
	else
		wschat_warn(c, "unknown command %s (try /to NAME text, "
		    "/rename NAME, /who [ROOM], /rooms, /join ROOM, /leave)",
		    line);
}

/* A line that leaves a chat or a question for the menu. */
static int
wschat_back(const char *line)
{
	return (*line == '\0' || strcmp(line, "exit") == 0);
}

/* An answer to the menu. */
static void
wschat_choice(struct wschat *c, const char *line)
{
	struct timeval	tv = { WSCHAT_TIMEOUT, 0 };

	if (strcmp(line, "1") == 0)
		c->menu = WSCHAT_M_PUBLIC;
	else if (strcmp(line, "2") == 0) {
		/* The list, to choose from. */
		c->menu = WSCHAT_M_ADDRESSEE;
		wschat_send_user(c, json_pack("{s:s}", "type", "who"));
	} else if (strcmp(line, "3") == 0)
		c->menu = WSCHAT_M_RENAME;
	else if (strcmp(line, "4") == 0) {
		c->menu = WSCHAT_M_ROOM;
		wschat_send_user(c, json_pack("{s:s}", "type", "rooms"));
	} else if (strcmp(line, "5") == 0)
		wschat_send_user(c, json_pack("{s:s}", "type", "leave"));
	else if (strcmp(line, "0") == 0) {
		if (c->state != WSCHAT_S_READY) {
			wschat_leave(c);
			return;
		}
		/* The server answers a logout with its close. */
		wschat_edit_stop(c);
		c->leaving = 1;
		wschat_send_json(c, json_pack("{s:s}", "type", "logout"));
		evtimer_add(c->ev_timer, &tv);
	} else if (*line != '\0')
		wschat_print(c, "! no such choice: %s (1 to 5, or 0)", line);
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
		break;
	case WSCHAT_M_MENU:
		wschat_choice(c, line);
		break;
	case WSCHAT_M_PUBLIC:
		if (wschat_back(line))
			wschat_to_menu(c);
		else
			wschat_send_user(c, json_pack("{s:s,s:s}", "type",
			    "user", "content", line));
		break;
	case WSCHAT_M_ADDRESSEE:
		if (wschat_back(line))
			wschat_to_menu(c);
		else if (c->state == WSCHAT_S_READY) {
			/* Checked against a fresh list: wschat_check_peer. */
			wschat_setname(&c->peer, line);
			c->menu = WSCHAT_M_CHECK;
			wschat_send_json(c, json_pack("{s:s}", "type", "who"));
		} else
			wschat_warn(c, "not connected: cannot check %s",
			    line);
		break;
	case WSCHAT_M_CHECK:
		break;
	case WSCHAT_M_PRIVATE:
		if (wschat_back(line))
			wschat_to_menu(c);
		else
			wschat_send_user(c, json_pack("{s:s,s:s,s:s}", "type",
			    "to", "to", c->peer, "content", line));
		break;
	case WSCHAT_M_RENAME:
	case WSCHAT_M_ROOM:
		/* One answer for the server, then the menu again. */
		if (!wschat_back(line))
			wschat_send_user(c, json_pack("{s:s,s:s}", "type",
			    c->menu == WSCHAT_M_RENAME ? "rename" : "join",
			    c->menu == WSCHAT_M_RENAME ? "content" : "room",
			    line));
		wschat_to_menu(c);
		break;
	}
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

/*
 * Pipe mode: the complete lines read so far, while logged in; then, at
 * the end of input, the last line and the close.  At the end of input
 * while the connection is down, there is nothing left to do.
 */
static void
wschat_stdin_lines(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;
	char		*line;
	size_t		 len;

	(void)fd;
	(void)what;
	while (c->state == WSCHAT_S_READY && (line = evbuffer_readln(c->inbuf,
	    &len, EVBUFFER_EOL_LF)) != NULL) {
		wschat_line(c, line);
		free(line);
	}
	if (!c->stdin_eof)
		return;
	len = evbuffer_get_length(c->inbuf);
	if (c->state == WSCHAT_S_DOWN) {
		wschat_warn(c, "end of input while disconnected: %s",
		    len > 0 ? "some lines were not sent" : "nothing to send");
		c->status = WSCHAT_EXIT_LOST;
		event_base_loopexit(c->base, NULL);
		return;
	}
	if (c->state != WSCHAT_S_READY)
		return;
	/* A last line without newline, then close. */
	if (len > 0 && (line = malloc(len + 1)) != NULL) {
		evbuffer_remove(c->inbuf, line, len);
		line[len] = '\0';
		wschat_line(c, line);
		free(line);
	}
	wschat_leave(c);
}

/*
 * Pipe mode: stdin is readable.  While not logged in, lines wait in
 * inbuf, up to WSCHAT_PIPE_BUFFER bytes, and then in the pipe.
 */
static void
wschat_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;
	int		 n;

	n = evbuffer_read(c->inbuf, fd, 4096);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == -1)
			wschat_warn(c, "stdin: %s", strerror(errno));
		c->stdin_eof = 1;
		wschat_stdin(c, 0);
	} else if (c->state != WSCHAT_S_READY &&
	    evbuffer_get_length(c->inbuf) >= WSCHAT_PIPE_BUFFER)
		wschat_stdin(c, 0);
	wschat_stdin_lines(fd, what, c);
}

/*
 * libedit's reader of one character, ours to see the end of input: ^D
 * on an empty line (libedit's own binding then ends el_gets()), or a
 * terminal that hung up.  In unbuffered mode el_gets() returns the same
 * for those as for a key that leaves the line empty.  Returns 1 with
 * *wc set, 0 at the end of input, -1 on an error.
 */
static int
wschat_el_getc(EditLine *e, wchar_t *wc)
{
	struct wschat	*c = NULL;
	const LineInfo	*li;
	mbstate_t	 mbs;
	size_t		 r;
	ssize_t		 n;
	char		 ch;

	el_get(e, EL_CLIENTDATA, &c);
	memset(&mbs, 0, sizeof(mbs));
	for (;;) {
		if ((n = read(STDIN_FILENO, &ch, 1)) == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (c != NULL)
				c->eof = 1;
			return (n == 0 ? 0 : -1);
		}
		r = mbrtowc(wc, &ch, 1, &mbs);
		if (r == (size_t)-2)
			continue;		/* more bytes to come */
		if (r == (size_t)-1)
			*wc = (unsigned char)ch;	/* not the locale's: as is */
		break;
	}
	li = el_line(e);
	if (c != NULL && *wc == L'\004' && li->buffer == li->lastchar)
		c->eof = 1;
	return (1);
}

/*
 * Menu mode: a key for libedit.  In unbuffered mode el_gets() reads what
 * one key sends and returns the line so far, which ends in a newline once
 * it is complete.  The end of input is ours to see: ^D on an empty line
 * (wschat_el_getc()), or a terminal that hung up.
 */
static void
wschat_edit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;
	const char	*s = NULL;
	char		*line;
	HistEvent	 ev;
	int		 n = 0;

	(void)fd;
	(void)what;
	s = el_gets(c->el, &n);
	if (c->eof) {
		/* No prompt left behind. */
		wschat_edit_stop(c);
		fputs("\r\033[K", stdout);
		wschat_leave(c);
		return;
	}
	if (s == NULL || n <= 0 || s[n - 1] != '\n')
		return;		/* still editing */
	if ((line = strndup(s, (size_t)n - 1)) == NULL) {
		wschat_warn(c, "out of memory: line dropped");
		return;
	}
	/* The line is on the screen: the output of what it does follows. */
	wschat_edit_stop(c);
	if (*line != '\0')
		history(c->hist, &ev, H_ENTER, line);
	wschat_line(c, line);
	free(line);
	/* Unless waiting for an answer: a name's, or a who's. */
	if (!c->leaving && c->menu != WSCHAT_M_CHECK &&
	    !(c->menu == WSCHAT_M_NAME && c->want != NULL))
		wschat_edit_start(c);
}

/*
 * Open the connection (blocking, bounded by the socket's timeouts), log in
 * as before and start reading.  Returns 0, or -1 after printing why.
 */
static int
wschat_open(struct wschat *c)
{
	char		 head[WSCHAT_HANDSHAKE_MAX];
	const char	*name;
	size_t		 have, used;
	long		 hdrlen;
	int		 fd;

	if ((fd = wschat_connect(c)) == -1)
		return (-1);
	if ((hdrlen = wschat_handshake(c, fd, head, &have)) == -1) {
		close(fd);
		return (-1);
	}
	evutil_make_socket_nonblocking(fd);
	/* BEV_OPT_CLOSE_ON_FREE: the bufferevent owns fd from here. */
	if ((c->bev = bufferevent_socket_new(c->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(fd);
		wschat_warn(c, "out of memory");
		return (-1);
	}
	bufferevent_setcb(c->bev, wschat_read_cb, wschat_write_cb,
	    wschat_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->peer_closed = 0;
	if (c->attempt > 0)
		wschat_warn(c, "connected again to %s:%s", c->host, c->port);
	name = c->name != NULL ? c->name : c->want;
	if (name != NULL)
		wschat_login(c, name);
	else if (!c->pipe && c->menu == WSCHAT_M_NAME) {
		/* Interactive, no name yet: ask for one. */
		c->state = WSCHAT_S_LOGIN;
		wschat_edit_start(c);
	} else
		wschat_ready(c);
	/* Frames may have come with the answer. */
	(void)wschat_input(c, (const uint8_t *)head + hdrlen,
	    have - (size_t)hdrlen, &used);
	return (0);
}

/*
 * Try again after a delay that grows with each failure: reconnect (no
 * connection) or log in again (connected, the name was taken).
 */
static void
wschat_retry(struct wschat *c, const char *what)
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
	wschat_warn(c, "%s in %s s", what, secs);
	evtimer_add(c->ev_retry, &tv);
}

static void
wschat_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;

	(void)fd;
	(void)what;
	if (c->bev != NULL) {
		if (c->state == WSCHAT_S_LOGIN && c->name != NULL)
			wschat_login(c, c->name);
		return;
	}
	if (wschat_open(c) == -1)
		wschat_retry(c, "reconnecting");
}

/*
 * The connection is over without our asking: by a close from the server
 * (lost 0; the closing handshake is done) or lost (lost 1, why says how).
 * Report it, then reconnect or leave.
 */
static void
wschat_down(struct wschat *c, int lost, const char *why, size_t len)
{
	if (lost)
		wschat_warn(c, "connection lost: %.*s", (int)len, why);
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
		wschat_edit_start(c);
	}
	/* Pipe mode at the end of its input: nothing more to send. */
	if (!c->reconnect || c->kicked || (c->pipe && c->stdin_eof)) {
		c->status = lost ? WSCHAT_EXIT_LOST : WSCHAT_EXIT_CLOSED;
		event_base_loopexit(c->base, NULL);
		return;
	}
	wschat_retry(c, "reconnecting");
}

/* The line editor and its history, for the menu. */
static int
wschat_edit_init(struct wschat *c, const char *prog)
{
	HistEvent	ev;

	if ((c->el = el_init(prog, stdin, stdout, stderr)) == NULL ||
	    (c->hist = history_init()) == NULL)
		return (-1);
	history(c->hist, &ev, H_SETSIZE, WSCHAT_HISTORY);
	history(c->hist, &ev, H_SETUNIQUE, 1);
	el_set(c->el, EL_CLIENTDATA, c);
	el_set(c->el, EL_EDITOR, "emacs");
	/* On ^C and the like, libedit gives the terminal its mode back. */
	el_set(c->el, EL_SIGNAL, 1);
	el_set(c->el, EL_PROMPT, wschat_el_prompt);
	el_set(c->el, EL_HIST, history, c->hist);
	el_set(c->el, EL_GETCFN, wschat_el_getc);
	/* ~/.editrc, as other libedit programs. */
	el_source(c->el, NULL);
	return (0);
}

int
main(int argc, char *argv[])
{
	struct wschat	 c;
	const char	*opt;
	int		 i;

	memset(&c, 0, sizeof(c));
	c.host = "127.0.0.1";
	c.port = "8080";
	c.reconnect = 1;
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
		} else if (strcmp(opt, "--no-reconnect") == 0) {
			c.reconnect = 0;
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
			wschat_setname(&c.want, argv[++i]);
		else if (strcmp(opt, "--room") == 0)
			wschat_setname(&c.room, argv[++i]);
		else
			goto usage;
	}
	if (*c.port == '\0' || strspn(c.port, "0123456789") !=
	    strlen(c.port) || atoi(c.port) < 1 || atoi(c.port) > 65535) {
		fprintf(stderr, "wschat: bad port: %s\n", c.port);
		return (WSCHAT_EXIT_USAGE);
	}
	/* libedit reads and shows the terminal's characters (UTF-8). */
	setlocale(LC_CTYPE, "");
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	ws_reader_init_peer(&c.rd, WSCHAT_MESSAGE_MAX, WS_PEER_SERVER);
	if ((c.base = event_base_new()) == NULL ||
	    (c.inbuf = evbuffer_new()) == NULL ||
	    (!c.pipe && wschat_edit_init(&c, argv[0]) == -1)) {
		fprintf(stderr, "wschat: out of memory\n");
		return (WSCHAT_EXIT_ERROR);
	}
	c.ev_stdin = event_new(c.base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    c.pipe ? wschat_stdin_cb : wschat_edit_cb, &c);
	c.ev_timer = evtimer_new(c.base, wschat_timer_cb, &c);
	c.ev_retry = evtimer_new(c.base, wschat_retry_cb, &c);
	if (c.ev_stdin == NULL || c.ev_timer == NULL || c.ev_retry == NULL) {
		fprintf(stderr, "wschat: out of memory\n");
		return (WSCHAT_EXIT_ERROR);
	}
	/* Interactive: a name refused, even -n's, is asked for again. */
	c.menu = WSCHAT_M_NAME;
	if (wschat_open(&c) == -1)
		c.status = WSCHAT_EXIT_ERROR;
	else
		event_base_dispatch(c.base);
	/* No prompt left on the screen, and the terminal as it was. */
	if (c.editing)
		fputs("\r\033[K", stdout);
	wschat_edit_stop(&c);
	if (c.bev != NULL) {
		/* Best effort: a close queued by wschat_fail() still goes. */
		(void)evbuffer_write(bufferevent_get_output(c.bev),
		    bufferevent_getfd(c.bev));
		bufferevent_free(c.bev);
	}
	event_free(c.ev_stdin);
	event_free(c.ev_timer);
	event_free(c.ev_retry);
	evbuffer_free(c.inbuf);
	ws_reader_clear(&c.rd);
	event_base_free(c.base);
	if (c.el != NULL)
		el_end(c.el);
	if (c.hist != NULL)
		history_end(c.hist);
	free(c.name);
	free(c.want);
	free(c.peer);
	free(c.room);
	free(c.in);
	fflush(stdout);
	return (c.status);

usage:
	wschat_usage(stderr);
	return (WSCHAT_EXIT_USAGE);
}
