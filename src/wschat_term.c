/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschat_term.c: the menu on a terminal.  1 public chat, 2 private chat
 * (to one user, checked against who is online before the chat starts),
 * 3 rename, 4 rooms (the list, and one to join), 5 leave the room, 0
 * exit; an empty line or "exit" goes back; /history [N] at the menu and
 * in public chat shows earlier messages.  The input line is edited by
 * libedit in unbuffered mode, fed one key at a time from the event loop
 * so that messages keep arriving while the user types; they are printed
 * above the edited line, which is drawn again under them.
 */

#include <errno.h>
#include <histedit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include <event2/event.h>
#include <jansson.h>

#include "wschatd.h"
#include "wschat.h"

#define WSCHAT_HISTORY		500	/* lines of menu input kept */

#define WSCHAT_MENU	"1 public chat, 2 private chat, 3 rename, 4 rooms, " \
			"5 leave room, 0 exit"

/*
 * Before wschat writes a line of its own on the terminal: the editor's
 * line (prompt and what is typed so far) is taken off the screen, so that
 * the output goes above it.  wschat_term_out_end() draws it again, with the
 * cursor where it was.
 */
void
wschat_term_out_begin(struct wschat *c)
{
	if (c->editing) {
		/* Ours, not the server's: CR and "erase in line". */
		fputs("\r\033[K", stdout);
	}
}

void
wschat_term_out_end(struct wschat *c)
{
	fflush(stdout);
	if (c->editing)
		el_set(c->el, EL_REFRESH);
}

/* The menu's prompt, for libedit: where the menu is says what to type. */
static char *
wschat_term_prompt(EditLine *e)
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
		wschat_show_escape(&b, c->in, strlen(c->in));
		buf_add(&b, "] ", 2);
	}
	if (p != NULL)
		buf_add(&b, p, strlen(p));
	else {
		buf_add(&b, "to ", 3);
		wschat_show_escape(&b, c->peer, strlen(c->peer));
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

/*
 * Show the prompt and edit the line: libedit in unbuffered mode (it puts
 * the terminal in raw mode and draws the prompt), fed one keystroke at a
 * time by wschat_term_edit_cb().  Menu mode only.
 */
void
wschat_term_edit_start(struct wschat *c)
{
	if (c->pipe || c->editing)
		return;
	fflush(stdout);
	c->editing = 1;
	el_set(c->el, EL_UNBUFFERED, 1);
	wschat_stdin(c, 1);
}

/* Stop editing: the terminal back in its own mode, no prompt shown. */
void
wschat_term_edit_stop(struct wschat *c)
{
	if (!c->editing)
		return;
	c->editing = 0;
	el_set(c->el, EL_UNBUFFERED, 0);
	wschat_stdin(c, 0);
}

/* A line of wschat's own (not the server's) above the edited line. */
static void
wschat_term_say(struct wschat *c, const char *text)
{
	wschat_term_out_begin(c);
	printf("%s\n", text);
	wschat_term_out_end(c);
}

/* Back to the menu, which is shown once. */
void
wschat_term_to_menu(struct wschat *c)
{
	c->menu = WSCHAT_M_MENU;
	wschat_term_say(c, WSCHAT_MENU);
}

/* A line that leaves a chat or a question for the menu. */
static int
wschat_term_back(const char *line)
{
	return (*line == '\0' || strcmp(line, "exit") == 0);
}

/* An answer to the menu. */
static void
wschat_term_choice(struct wschat *c, const char *line)
{
	struct timeval	tv = { WSCHAT_TIMEOUT, 0 };

	if (strcmp(line, "1") == 0)
		c->menu = WSCHAT_M_PUBLIC;
	else if (strcmp(line, "2") == 0) {
		/* The list, to choose from. */
		c->menu = WSCHAT_M_ADDRESSEE;
		wschat_conn_send_user(c, json_pack("{s:s}", "type", "who"));
	} else if (strcmp(line, "3") == 0)
		c->menu = WSCHAT_M_RENAME;
	else if (strcmp(line, "4") == 0) {
		c->menu = WSCHAT_M_ROOM;
		wschat_conn_send_user(c, json_pack("{s:s}", "type", "rooms"));
	} else if (strcmp(line, "5") == 0)
		wschat_conn_send_user(c, json_pack("{s:s}", "type", "leave"));
	else if (strcmp(line, "0") == 0) {
		if (c->state != WSCHAT_S_READY) {
			wschat_leave(c);
			return;
		}
		/* The server answers a logout with its close. */
		wschat_term_edit_stop(c);
		c->leaving = 1;
		wschat_conn_send_json(c, json_pack("{s:s}", "type", "logout"));
		evtimer_add(c->ev_timer, &tv);
	} else if (*line != '\0')
		wschat_show_print(c, "! no such choice: %s (1 to 5, or 0)",
		    line);
}

/*
 * /history [N], at the menu or in public chat: the room's earlier
 * messages.  Returns 1 if line was that.
 */
static int
wschat_term_history(struct wschat *c, const char *line)
{
	size_t	n = strlen("/history");

	if (strncmp(line, "/history", n) != 0 ||
	    (line[n] != '\0' && line[n] != ' '))
		return (0);
	wschat_history(c, line + n + strspn(line + n, " "));
	return (1);
}

/* An interactive line: what it means depends on the menu. */
void
wschat_term_line(struct wschat *c, char *line)
{
	switch (c->menu) {
	case WSCHAT_M_NAME:
		if (*line != '\0')
			wschat_login(c, line);
		else
			wschat_ready(c);	/* chat under the default */
		break;
	case WSCHAT_M_MENU:
		if (!wschat_term_history(c, line))
			wschat_term_choice(c, line);
		break;
	case WSCHAT_M_PUBLIC:
		if (wschat_term_history(c, line))
			;
		else if (wschat_term_back(line))
			wschat_term_to_menu(c);
		else
			wschat_conn_send_user(c, json_pack("{s:s,s:s}", "type",
			    "user", "content", line));
		break;
	case WSCHAT_M_ADDRESSEE:
		if (wschat_term_back(line))
			wschat_term_to_menu(c);
		else if (c->state == WSCHAT_S_READY) {
			/* Checked against a fresh list: see wschat_show.c. */
			wschat_setname(&c->peer, line);
			c->menu = WSCHAT_M_CHECK;
			wschat_conn_send_json(c, json_pack("{s:s}", "type",
			    "who"));
		} else
			wschat_show_warn(c, "not connected: cannot check %s",
			    line);
		break;
	case WSCHAT_M_CHECK:
		break;
	case WSCHAT_M_PRIVATE:
		if (wschat_term_back(line))
			wschat_term_to_menu(c);
		else
			wschat_conn_send_user(c, json_pack("{s:s,s:s,s:s}",
			    "type", "to", "to", c->peer, "content", line));
		break;
	case WSCHAT_M_RENAME:
	case WSCHAT_M_ROOM:
		/* One answer for the server, then the menu again. */
		if (!wschat_term_back(line))
			wschat_conn_send_user(c, json_pack("{s:s,s:s}", "type",
			    c->menu == WSCHAT_M_RENAME ? "rename" : "join",
			    c->menu == WSCHAT_M_RENAME ? "content" : "room",
			    line));
		wschat_term_to_menu(c);
		break;
	}
}

/*
 * libedit's reader of one character, ours to see the end of input: ^D
 * on an empty line (libedit's own binding then ends el_gets()), or a
 * terminal that hung up.  In unbuffered mode el_gets() returns the same
 * for those as for a key that leaves the line empty.  Returns 1 with
 * *wc set, 0 at the end of input, -1 on an error.
 */
static int
wschat_term_getc(EditLine *e, wchar_t *wc)
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
 * (wschat_term_getc()), or a terminal that hung up.
 */
void
wschat_term_edit_cb(evutil_socket_t fd, short what, void *arg)
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
		wschat_term_edit_stop(c);
		fputs("\r\033[K", stdout);
		wschat_leave(c);
		return;
	}
	if (s == NULL || n <= 0 || s[n - 1] != '\n')
		return;		/* still editing */
	if ((line = strndup(s, (size_t)n - 1)) == NULL) {
		wschat_show_warn(c, "out of memory: line dropped");
		return;
	}
	/* The line is on the screen: the output of what it does follows. */
	wschat_term_edit_stop(c);
	if (*line != '\0')
		history(c->hist, &ev, H_ENTER, line);
	wschat_line(c, line);
	free(line);
	/* Unless waiting for an answer: a name's, or a who's. */
	if (!c->leaving && c->menu != WSCHAT_M_CHECK &&
	    !(c->menu == WSCHAT_M_NAME && c->want != NULL))
		wschat_term_edit_start(c);
}

/* The line editor and its history, for the menu. */
int
wschat_term_init(struct wschat *c, const char *prog)
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
	el_set(c->el, EL_PROMPT, wschat_term_prompt);
	el_set(c->el, EL_HIST, history, c->hist);
	el_set(c->el, EL_GETCFN, wschat_term_getc);
	/* ~/.editrc, as other libedit programs. */
	el_source(c->el, NULL);
	return (0);
}
