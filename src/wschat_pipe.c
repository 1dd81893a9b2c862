/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschat_pipe.c: pipe mode, for scripts.  Each line of stdin is a chat
 * message or a slash command (/to, /rename, /who, /rooms, /join, /leave,
 * /history).
 * Lines wait while wschat is not logged in (at most WSCHAT_PIPE_BUFFER
 * bytes here, the rest in the pipe), so that none goes out under the
 * server's default name; the end of input closes the connection.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "wschat.h"

/* Split "NAME rest" in place; returns rest (maybe empty). */
static char *
wschat_pipe_word(char *s)
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
void
wschat_pipe_command(struct wschat *c, char *line)
{
	char	*arg, *rest;

	if (line[0] != '/' || line[1] == '/') {
		/* "//text" sends "/text". */
		wschat_conn_send_json(c, json_pack("{s:s,s:s}", "type", "user",
		    "content", line[0] == '/' ? line + 1 : line));
		return;
	}
	arg = wschat_pipe_word(line);
	if (strcmp(line, "/to") == 0 && *arg != '\0') {
		rest = wschat_pipe_word(arg);
		wschat_conn_send_json(c, json_pack("{s:s,s:s,s:s}", "type",
		    "to", "to", arg, "content", rest));
	} else if (strcmp(line, "/rename") == 0 && *arg != '\0')
		wschat_conn_send_json(c, json_pack("{s:s,s:s}", "type",
		    "rename", "content", arg));
	else if (strcmp(line, "/who") == 0 && *arg == '\0')
		wschat_conn_send_json(c, json_pack("{s:s}", "type", "who"));
	else if (strcmp(line, "/who") == 0)
		wschat_conn_send_json(c, json_pack("{s:s,s:s}", "type", "who",
		    "room", arg));
	else if (strcmp(line, "/rooms") == 0)
		wschat_conn_send_json(c, json_pack("{s:s}", "type", "rooms"));
	else if (strcmp(line, "/join") == 0 && *arg != '\0')
		wschat_conn_send_json(c, json_pack("{s:s,s:s}", "type", "join",
		    "room", arg));
	else if (strcmp(line, "/leave") == 0)
		wschat_conn_send_json(c, json_pack("{s:s}", "type", "leave"));
	else if (strcmp(line, "/history") == 0)
		wschat_history(c, arg);
	else
		wschat_show_warn(c, "unknown command %s (try /to NAME text, "
		    "/rename NAME, /who [ROOM], /rooms, /join ROOM, /leave, "
		    "/history [N])", line);
}

/*
 * Pipe mode: the complete lines read so far, while logged in; then, at
 * the end of input, the last line and the close.  At the end of input
 * while the connection is down, there is nothing left to do.
 */
void
wschat_pipe_lines(evutil_socket_t fd, short what, void *arg)
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
		wschat_show_warn(c, "end of input while disconnected: %s",
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
void
wschat_pipe_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wschat	*c = arg;
	int		 n;

	n = evbuffer_read(c->inbuf, fd, 4096);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == -1)
			wschat_show_warn(c, "stdin: %s", strerror(errno));
		c->stdin_eof = 1;
		wschat_stdin(c, 0);
	} else if (c->state != WSCHAT_S_READY &&
	    evbuffer_get_length(c->inbuf) >= WSCHAT_PIPE_BUFFER)
		wschat_stdin(c, 0);
	wschat_pipe_lines(fd, what, c);
}
