/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschat.c: the command-line client of wschatd, and its main.  It
 * connects to ws://HOST:PORT/ws, logs in, and then either reads chat
 * lines and slash commands from stdin (--pipe, or stdin not a terminal:
 * wschat_pipe.c) or shows a menu on the terminal (wschat_term.c).  Every
 * incoming message is shown as one line, through an escaping that lets
 * no text from the server act on the terminal or pass for a message of
 * its own (wschat_show.c).  A connection that goes away is reported and
 * reopened with a growing, jittered delay under the same name and in the
 * same room, unless --no-reconnect (wschat_conn.c).
 * It speaks version 2 of the chat protocol (docs/PROTOCOL.md, 4.8), or 1
 * with a server that does not choose it: wschat keeps no list of names,
 * so only the handshake's line differs (a count instead of the names).
 * This file has the options and the session's state: logging in, ready
 * to read input, leaving.  The daemon knows nothing of it.
 */

#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "wschatd.h"
#include "wschat.h"

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
"  /to NAME text, /rename NAME, /who [ROOM], /rooms, /join ROOM, /leave,\n"
"  /history [N] (N earlier messages of the room, by default 20)\n"
"Incoming messages are printed one a line.  Text from the server is shown\n"
"with its control characters escaped (^[, <U+202E>, \\xNN); the further\n"
"lines of a text of several lines start with \"" WSCHAT_CONT "\".  Lists\n"
"of names are a count and the names in double quotes.  In pipe mode the\n"
"room's earlier messages (its history, after logging in, joining and\n"
"/history) start with \"" WSCHAT_EARLIER "\".\n"
"Exit status: 0 closed by wschat (end of input, exit), 1 connection,\n"
"protocol or login error, 2 usage error, 3 closed by the server (1000,\n"
"or 1001 with --no-reconnect), 4 connection lost (with --no-reconnect,\n"
"or the input ended while reconnecting).\n");
}

/* Watch stdin (on 1) or not (on 0). */
void
wschat_stdin(struct wschat *c, int on)
{
	if (on && !c->stdin_on)
		event_add(c->ev_stdin, NULL);
	else if (!on && c->stdin_on)
		event_del(c->ev_stdin);
	c->stdin_on = on;
}

/* End the session at the user's wish (end of input, exit). */
void
wschat_leave(struct wschat *c)
{
	wschat_term_edit_stop(c);
	c->leaving = 1;
	if (c->bev == NULL) {
		/* Down: nothing to close. */
		event_base_loopexit(c->base, NULL);
		return;
	}
	wschat_conn_send_close(c, WS_CLOSE_NORMAL);
}

/* Replace *where by a copy of name (which may be *where itself). */
void
wschat_setname(char **where, const char *name)
{
	char	*s = name != NULL ? strdup(name) : NULL;

	free(*where);
	*where = s;
}

/*
 * Logged in (or not asked to): join the room (--room, or the one we were
 * in before a reconnect) and start reading stdin.
 */
void
wschat_ready(struct wschat *c)
{
	struct timeval	zero = { 0, 0 };

	c->state = WSCHAT_S_READY;
	c->attempt = 0;		/* back: the next failure waits the least */
	if (c->room != NULL) {
		wschat_conn_send_json(c, json_pack("{s:s,s:s}", "type", "join",
		    "room", c->room));
		wschat_setname(&c->room, NULL);
	}
	if (!c->pipe) {
		if (c->menu == WSCHAT_M_NAME)
			wschat_term_to_menu(c);
		wschat_term_edit_start(c);
		return;
	}
	wschat_stdin(c, !c->stdin_eof);
	/* Lines read while not logged in go out now, then the end. */
	event_base_once(c->base, -1, EV_TIMEOUT, wschat_pipe_lines, c,
	    &zero);
}

void
wschat_login(struct wschat *c, const char *name)
{
	wschat_setname(&c->want, name);
	c->state = WSCHAT_S_LOGIN;
	/* name may have been c->want, freed just now. */
	wschat_conn_send_json(c, json_pack("{s:s,s:s}", "type", "login",
	    "content", c->want));
}

/* The room we are in, as the server names it. */
const char *
wschat_room(struct wschat *c)
{
	return (c->in != NULL ? c->in : "lobby");
}

/*
 * /history [N] (arg: N, or empty): ask for N messages of the room we are
 * in, those before the oldest of it shown (or its latest, when none was):
 * each /history goes further back.  A bad N gets a local error.
 */
void
wschat_history(struct wschat *c, const char *arg)
{
	const char	*room = wschat_room(c);
	char		*end;
	long		 n = WSCHAT_PAGE_DEFAULT;
	json_t		*o;

	if (*arg != '\0') {
		errno = 0;
		n = strtol(arg, &end, 10);
		while (isspace((unsigned char)*end))
			end++;
		if (!isdigit((unsigned char)*arg) || *end != '\0' ||
		    errno != 0 || n < 1 || n > WSCHAT_PAGE_MAX) {
			if (c->pipe)
				wschat_show_warn(c, "/history: bad count %s "
				    "(1 to %u)", arg, WSCHAT_PAGE_MAX);
			else
				wschat_show_print(c, "! /history: bad count "
				    "%s (1 to %u)", arg, WSCHAT_PAGE_MAX);
			return;
		}
	}
	if ((o = json_pack("{s:s,s:s}", "type", "history", "room",
	    room)) == NULL) {
		wschat_show_warn(c, "not sent: not valid UTF-8");
		return;
	}
	/* Ids mean something in their store, and in their room. */
	if (c->oldest > 0 && c->oldest_room != NULL &&
	    strcmp(c->oldest_room, room) == 0)
		json_object_set_new(o, "before", json_integer(c->oldest));
	json_object_set_new(o, "limit", json_integer(n));
	if (c->state == WSCHAT_S_READY)
		c->asked++;
	wschat_conn_send_user(c, o);
}

void
wschat_line(struct wschat *c, char *line)
{
	size_t	len = strlen(line);

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (c->pipe) {
		if (len > 0)
			wschat_pipe_command(c, line);
	} else
		wschat_term_line(c, line);
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
	    (!c.pipe && wschat_term_init(&c, argv[0]) == -1)) {
		fprintf(stderr, "wschat: out of memory\n");
		return (WSCHAT_EXIT_ERROR);
	}
	c.ev_stdin = event_new(c.base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    c.pipe ? wschat_pipe_read_cb : wschat_term_edit_cb, &c);
	c.ev_timer = evtimer_new(c.base, wschat_conn_timer_cb, &c);
	c.ev_retry = evtimer_new(c.base, wschat_conn_retry_cb, &c);
	if (c.ev_stdin == NULL || c.ev_timer == NULL || c.ev_retry == NULL) {
		fprintf(stderr, "wschat: out of memory\n");
		return (WSCHAT_EXIT_ERROR);
	}
	/* Interactive: a name refused, even -n's, is asked for again. */
	c.menu = WSCHAT_M_NAME;
	if (wschat_conn_open(&c) == -1)
		c.status = WSCHAT_EXIT_ERROR;
	else
		event_base_dispatch(c.base);
	/* No prompt left on the screen, and the terminal as it was. */
	if (c.editing)
		fputs("\r\033[K", stdout);
	wschat_term_edit_stop(&c);
	if (c.bev != NULL) {
		/* Best effort: a close queued by wschat_show_fail() goes. */
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
	free(c.epoch);
	free(c.oldest_room);
	free(c.session);
	fflush(stdout);
	return (c.status);

usage:
	wschat_usage(stderr);
	return (WSCHAT_EXIT_USAGE);
}
