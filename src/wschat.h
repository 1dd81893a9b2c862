/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschat.h: the command-line client's one connection, struct wschat, and
 * what its files call of each other.  wschat.c has main, the options and
 * the session's state (logging in, ready, leaving); wschat_conn.c the
 * connection (connect, the handshake, frames in and out, the closing
 * handshake, reconnecting with backoff); wschat_show.c what arrives (each
 * message shown as one line, escaped, and what it changes); wschat_term.c
 * the menu on a terminal, with libedit; wschat_pipe.c pipe mode, lines
 * and slash commands from stdin.  The daemon uses none of it.
 */

#ifndef WSCHATD_WSCHAT_H
#define WSCHATD_WSCHAT_H

#include <stddef.h>
#include <stdint.h>

#include <histedit.h>

#include <event2/util.h>
#include <jansson.h>

#include "ws.h"

#define WSCHAT_EXIT_OK		0	/* we ended it: end of input, exit */
#define WSCHAT_EXIT_ERROR	1	/* connection, protocol or login */
#define WSCHAT_EXIT_USAGE	2
#define WSCHAT_EXIT_CLOSED	3	/* the server closed (1000, 1001) */
#define WSCHAT_EXIT_LOST	4	/* the connection was lost */

#define WSCHAT_MESSAGE_MAX	(16 * 1024 * 1024)
/* Seconds allowed for connect, the handshake and the closing handshake. */
#define WSCHAT_TIMEOUT		10
/* Pipe mode: stdin bytes read ahead while not logged in, at most. */
#define WSCHAT_PIPE_BUFFER	(1024 * 1024)
/*
 * /history N: N when not given, and the most that may be asked: the
 * largest history_page_max wschatd takes (its default, 200, caps lower).
 */
#define WSCHAT_PAGE_DEFAULT	20
#define WSCHAT_PAGE_MAX		100000
/* Before each line of a history reply, in pipe mode. */
#define WSCHAT_EARLIER	"history "

/*
 * The start of a continuation line.  No message line starts with a space
 * (wschat_show_print() shows a leading one as \x20), so none can pass for
 * one.
 */
#define WSCHAT_CONT	"  | "

struct buf;
struct bufferevent;
struct event;
struct event_base;
struct evbuffer;

/* Where the connection is. */
enum wschat_state {
	WSCHAT_S_LOGIN,		/* login or resume sent, waiting */
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
 * The history (version 2, ids from one server-wide sequence): epoch the
 * store's, whose ids we keep; lastid the largest id seen, to resume from;
 * oldest the smallest shown of oldest_room, where /history goes on from;
 * session the token of a login, kept for a resume after a lost
 * connection, resuming while one is asked for.  asked: /history replies
 * still to come, for an empty one to be said.
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
	char			*epoch;
	long long		 lastid;
	long long		 oldest;
	char			*oldest_room;
	char			*session;
	int			 resuming;
	int			 asked;		/* /history replies due */
	EditLine		*el;
	History			*hist;
	int			 editing;
	int			 eof;		/* ^D, or hung up */
	char			 prompt[160];
	int			 status;	/* exit status */
};

/* wschat.c: the options, and the session's state. */
void	 wschat_setname(char **, const char *);
void	 wschat_stdin(struct wschat *, int);
void	 wschat_line(struct wschat *, char *);
void	 wschat_ready(struct wschat *);
void	 wschat_login(struct wschat *, const char *);
void	 wschat_leave(struct wschat *);
void	 wschat_history(struct wschat *, const char *);
const char	*wschat_room(struct wschat *);

/*
 * wschat_conn.c: the connection.  wschat_conn_open() connects, makes the
 * handshake (blocking, bounded by WSCHAT_TIMEOUT) and logs in as before;
 * 0, or -1 after printing why.  The senders print why nothing was sent.
 */
int	 wschat_conn_open(struct wschat *);
void	 wschat_conn_retry(struct wschat *, const char *);
void	 wschat_conn_retry_cb(evutil_socket_t, short, void *);
void	 wschat_conn_timer_cb(evutil_socket_t, short, void *);
void	 wschat_conn_send_json(struct wschat *, json_t *);
void	 wschat_conn_send_user(struct wschat *, json_t *);
void	 wschat_conn_send_close(struct wschat *, uint16_t);

/*
 * wschat_show.c: what arrives, and wschat's own lines.  fmt is ours, with
 * %s, %.*s and %u only; every string argument is escaped.
 */
void	 wschat_show_message(struct wschat *, const char *, size_t);
void	 wschat_show_escape(struct buf *, const char *, size_t);
void	 wschat_show_print(struct wschat *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 wschat_show_warn(struct wschat *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 wschat_show_fail(struct wschat *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 wschat_show_mark(struct wschat *, const char *);

/* wschat_term.c: the menu, and the line editor. */
int	 wschat_term_init(struct wschat *, const char *);
void	 wschat_term_edit_cb(evutil_socket_t, short, void *);
void	 wschat_term_edit_start(struct wschat *);
void	 wschat_term_edit_stop(struct wschat *);
void	 wschat_term_line(struct wschat *, char *);
void	 wschat_term_to_menu(struct wschat *);
void	 wschat_term_out_begin(struct wschat *);
void	 wschat_term_out_end(struct wschat *);

/* wschat_pipe.c: pipe mode. */
void	 wschat_pipe_read_cb(evutil_socket_t, short, void *);
void	 wschat_pipe_lines(evutil_socket_t, short, void *);
void	 wschat_pipe_command(struct wschat *, char *);

#endif /* WSCHATD_WSCHAT_H */
