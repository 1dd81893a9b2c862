/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschat_show.c: what arrives from the server, and how wschat writes
 * anything.  Every incoming message is one line, and the further lines of
 * a text that has several are continuation lines (WSCHAT_CONT): no text
 * can pass for a message of its own.  Text from the server goes through
 * chat_line_escape(): no control character in it reaches the terminal;
 * lists of names are a count and the names quoted, so that no name can
 * pass for another or for "nobody".  A message may change the state too:
 * the login that confirms our name, a rename of ours, the who that
 * checks the menu's addressee, a refused login, the token of a login and
 * the answer to a resume; those are here, next to what they print.  A
 * history reply's messages are shown as live ones, marked as earlier.
 * Above the menu's edited line: wschat_term_out_*().
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "wschatd.h"
#include "chat.h"
#include "wschat.h"

/*
 * Append len bytes of text from the server to b, for a terminal: controls
 * escaped by chat_line_escape(), and each LF (with the CR of a CRLF) as
 * the start of a continuation line, so that the text cannot begin a line
 * that looks like a message of its own.
 */
void
wschat_show_escape(struct buf *b, const char *p, size_t len)
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
 * may come from the server and goes through wschat_show_escape().
 */
static void
wschat_show_vformat(struct buf *b, const char *fmt, va_list ap)
{
	const char	*s;
	size_t		 n;

	while (*fmt != '\0') {
		n = strcspn(fmt, "%");
		buf_add(b, fmt, n);
		fmt += n;
		if (strncmp(fmt, "%s", 2) == 0) {
			s = va_arg(ap, const char *);
			wschat_show_escape(b, s, strlen(s));
			fmt += 2;
		} else if (strncmp(fmt, "%.*s", 4) == 0) {
			n = (size_t)va_arg(ap, int);
			s = va_arg(ap, const char *);
			wschat_show_escape(b, s, n);
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

/* "wschat: ", fmt (as wschat_show_vformat()) and a newline on stderr. */
static void
wschat_show_vwarn(struct wschat *c, const char *fmt, va_list ap)
{
	struct buf	b;

	buf_init(&b, 0);
	buf_add(&b, "wschat: ", 8);
	wschat_show_vformat(&b, fmt, ap);
	buf_add(&b, "\n", 1);
	wschat_term_out_begin(c);
	fflush(stdout);
	if (b.failed)
		fprintf(stderr, "wschat: out of memory\n");
	else
		fwrite(b.base + b.headroom, 1, b.len, stderr);
	fflush(stderr);
	buf_clear(&b);
	wschat_term_out_end(c);
}

void
wschat_show_warn(struct wschat *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	wschat_show_vwarn(c, fmt, ap);
	va_end(ap);
}

/*
 * Print a fatal error (fmt as wschat_show_vformat()), close and leave the
 * event loop with status 1.
 */
void
wschat_show_fail(struct wschat *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	wschat_show_vwarn(c, fmt, ap);
	va_end(ap);
	c->status = WSCHAT_EXIT_ERROR;
	event_base_loopexit(c->base, NULL);
}

/*
 * One incoming message as one line (fmt as wschat_show_vformat()), and its
 * continuation lines; above the edited line in menu mode.
 */
void
wschat_show_print(struct wschat *c, const char *fmt, ...)
{
	struct buf	 b;
	va_list		 ap;
	const uint8_t	*p;
	size_t		 len;

	buf_init(&b, 0);
	va_start(ap, fmt);
	wschat_show_vformat(&b, fmt, ap);
	va_end(ap);
	wschat_term_out_begin(c);
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
	wschat_term_out_end(c);
}

/*
 * A line of wschat's own around earlier messages in menu mode, dim on a
 * terminal: text is ours, with no control character in it.
 */
void
wschat_show_mark(struct wschat *c, const char *text)
{
	wschat_term_out_begin(c);
	if (isatty(STDOUT_FILENO))
		printf("\033[2m%s\033[0m\n", text);
	else
		printf("%s\n", text);
	wschat_term_out_end(c);
}

static const char *
wschat_show_str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return (s != NULL ? s : "");
}

/*
 * Append s to b in double quotes, with \ and " in it escaped: a list of
 * such words has one reading, whatever the names hold (commas, quotes,
 * or a user called "nobody").  Controls are wschat_show_print()'s business.
 */
static void
wschat_show_quote(struct buf *b, const char *s)
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
 * A list for wschat_show_print(): "(N)", then ": " and the N names quoted and
 * separated by ", " (nothing after the count for none).  For rooms, each
 * room's member count follows it: "den": 2.  Returns NULL when out of
 * memory; the caller frees.
 */
static char *
wschat_show_names(json_t *list, int rooms)
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
			wschat_show_quote(&b, json_string_value(v) != NULL ?
			    json_string_value(v) : "");
			continue;
		}
		wschat_show_quote(&b, wschat_show_str(v, "room"));
		buf_printf(&b, ": %lld", (long long)json_integer_value(
		    json_object_get(v, "members")));
	}
	buf_add(&b, "", 1);
	s = b.failed ? NULL : strdup((const char *)b.base + b.headroom);
	buf_clear(&b);
	return (s);
}

/* The name to show for a user: "you" for ourselves. */
static const char *
wschat_show_who(struct wschat *c, const char *name)
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
wschat_show_check_peer(struct wschat *c, json_t *list)
{
	json_t		*v;
	size_t		 i;
	const char	*s;

	json_array_foreach(list, i, v) {
		s = json_string_value(v);
		if (s != NULL && strcasecmp(s, c->peer) == 0) {
			wschat_setname(&c->peer, s);
			c->menu = WSCHAT_M_PRIVATE;
			wschat_show_print(c, "* private chat with %s (empty "
			    "line or exit: back)", s);
			wschat_term_edit_start(c);
			return;
		}
	}
	wschat_show_print(c, "! %s is not online", c->peer);
	c->menu = WSCHAT_M_ADDRESSEE;
	wschat_term_edit_start(c);
}

/*
 * A list of names or of rooms: "* online (2): "a", "b"".  A version 2
 * handshake has the count only: "* online (2)"; /who lists the names.
 */
static void
wschat_show_list(struct wschat *c, json_t *o)
{
	const char	*type = wschat_show_str(o, "type"), *room;
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
		wschat_show_print(c, "* online (%s)", n);
		return;
	}
	room = json_string_value(json_object_get(o, "room"));
	list = wschat_show_names(json_object_get(o, strcmp(type, "rooms") == 0 ?
	    "rooms" : "user_list"), strcmp(type, "rooms") == 0);
	if (list == NULL)
		wschat_show_print(c, "wschat: out of memory: a list not shown");
	else if (strcmp(type, "rooms") == 0)
		wschat_show_print(c, "* rooms %s", list);
	else if (room != NULL && strcmp(type, "who") == 0)
		wschat_show_print(c, "* in %s %s", room, list);
	else
		wschat_show_print(c, "* online %s", list);
	free(list);
}

/* A refused login: ask again, try again later, or give up. */
static void
wschat_show_refused(struct wschat *c, const char *code, const char *content)
{
	if (c->name != NULL && (strcmp(code, "name_taken") == 0 ||
	    strcmp(code, "rate_limited") == 0)) {
		/*
		 * Logging in again after a reconnect: the name may still be
		 * held for the connection that was lost, or someone took it;
		 * or the server wants fewer logins a minute.
		 */
		wschat_show_print(c, "! %s: %s", code, content);
		wschat_conn_retry(c, "logging in again");
	} else if (c->pipe || c->menu != WSCHAT_M_NAME) {
		wschat_leave(c);
		wschat_show_fail(c, "%s: %s", code, content);
	} else {
		/* Asked interactively: ask again. */
		wschat_show_print(c, "! %s: %s", code, content);
		wschat_setname(&c->want, NULL);
		wschat_term_edit_start(c);
	}
}

/* A notice from the server, or an error ("code"). */
static void
wschat_show_system(struct wschat *c, json_t *o)
{
	const char	*code, *content, *room;

	code = wschat_show_str(o, "code");
	content = wschat_show_str(o, "content");
	room = wschat_show_str(o, "room");
	if (strcmp(code, "logged_in") == 0) {
		/* Kept for a resume, not shown: the login's line says it. */
		wschat_setname(&c->session, json_string_value(
		    json_object_get(o, "session")));
		return;
	}
	if (*code != '\0' && c->resuming) {
		/* resume_failed (expired, unknown): a login afresh. */
		c->resuming = 0;
		wschat_setname(&c->session, NULL);
		wschat_show_warn(c, "%s: %s: logging in again", code, content);
		wschat_login(c, c->name);
		return;
	}
	if (*code != '\0' && c->state == WSCHAT_S_LOGIN && c->want != NULL) {
		wschat_show_refused(c, code, content);
		return;
	}
	if (strcmp(code, "idle_timeout") == 0)
		c->kicked = 1;		/* as the page: no coming back */
	if (*code != '\0' && c->menu == WSCHAT_M_CHECK) {
		/* The who did not come (rate_limited): ask again. */
		wschat_show_print(c, "! %s: %s", code, content);
		c->menu = WSCHAT_M_ADDRESSEE;
		wschat_term_edit_start(c);
	} else if (*code != '\0')
		wschat_show_print(c, "! %s: %s", code, content);
	else if (*room != '\0') {
		if (strcmp(content, "joined") == 0)
			wschat_setname(&c->in, strcmp(room, "lobby") != 0 ?
			    room : NULL);
		wschat_show_print(c, "* %s %s", content, room);
	} else
		wschat_show_print(c, "* %s", content);
}

/*
 * The id of a chat or private message (version 2), or 0 for none; its
 * epoch, if new, is a new store, whose ids say nothing of those seen.
 * The largest id seen is where a resume starts.
 */
static long long
wschat_show_id(struct wschat *c, json_t *o)
{
	const char	*epoch;
	json_t		*id;

	epoch = json_string_value(json_object_get(o, "epoch"));
	if (epoch != NULL && (c->epoch == NULL || strcmp(c->epoch,
	    epoch) != 0)) {
		wschat_setname(&c->epoch, epoch);
		c->lastid = 0;
		c->oldest = 0;
	}
	id = json_object_get(o, "id");
	if (!json_is_integer(id) || json_integer_value(id) <= 0)
		return (0);
	if (json_integer_value(id) > c->lastid)
		c->lastid = json_integer_value(id);
	return (json_integer_value(id));
}

/*
 * A chat message of room (empty: the lobby), its line starting with mark.
 * The oldest of the room's shown is where /history goes on from.
 */
static void
wschat_show_user(struct wschat *c, json_t *o, const char *room,
    const char *mark)
{
	const char	*from, *content;
	long long	 id;

	from = wschat_show_str(o, "from");
	content = wschat_show_str(o, "content");
	if (*room == '\0')
		room = "lobby";
	if ((id = wschat_show_id(c, o)) > 0) {
		if (c->oldest_room == NULL || strcmp(c->oldest_room,
		    room) != 0) {
			wschat_setname(&c->oldest_room, room);
			c->oldest = id;
		} else if (c->oldest == 0 || id < c->oldest)
			c->oldest = id;
	}
	if (strcmp(room, "lobby") != 0)
		wschat_show_print(c, "%s[%s] %s: %s", mark, room, from,
		    content);
	else
		wschat_show_print(c, "%s%s: %s", mark, from, content);
}

/*
 * A history reply: the room's earlier messages, oldest first, each shown
 * as it would be live but marked as earlier: in pipe mode each line
 * starts with WSCHAT_EARLIER (a name has no space: no live line does), in
 * menu mode they come between two lines of ours, and the menu follows
 * unasked ones.  An empty reply says so only if /history asked for it.
 */
static void
wschat_show_history(struct wschat *c, json_t *o)
{
	json_t		*list, *m;
	const char	*room, *mark;
	size_t		 i, n = 0;
	int		 asked;

	asked = c->asked > 0;
	if (asked)
		c->asked--;
	room = wschat_show_str(o, "room");
	(void)wschat_show_id(c, o);	/* its epoch */
	list = json_object_get(o, "messages");
	json_array_foreach(list, i, m)
		n += json_is_object(m);
	if (n == 0) {
		if (asked)
			wschat_show_print(c, "* no earlier messages in %s",
			    *room != '\0' ? room : "lobby");
		return;
	}
	mark = c->pipe ? WSCHAT_EARLIER : "";
	if (!c->pipe)
		wschat_show_mark(c, json_is_true(json_object_get(o, "more")) ?
		    "-- earlier messages (/history N: older ones) --" :
		    "-- earlier messages --");
	json_array_foreach(list, i, m)
		if (json_is_object(m))
			wschat_show_user(c, m, room, mark);
	if (c->pipe)
		return;
	wschat_show_mark(c, "-- live --");
	/*
	 * Those of a login or a join came unasked, after the menu, which
	 * they may have pushed off the screen: the choices again.
	 */
	if (!asked && c->menu == WSCHAT_M_MENU)
		wschat_term_to_menu(c);
}

/*
 * The answer to a resume: back under our name in our room, as if never
 * gone (the server sends what was missed next), with no join to ask.
 */
static void
wschat_show_resumed(struct wschat *c, json_t *o)
{
	const char	*user, *room;

	user = wschat_show_str(o, "user");
	room = wschat_show_str(o, "room");
	c->resuming = 0;
	if (*user != '\0')
		wschat_setname(&c->name, user);
	wschat_setname(&c->in, *room != '\0' && strcmp(room, "lobby") != 0 ?
	    room : NULL);
	wschat_setname(&c->room, NULL);
	wschat_show_warn(c, "resumed the session as %s in %s",
	    c->name != NULL ? c->name : "?", wschat_room(c));
	wschat_ready(c);
}

/* One complete text message from the server. */
void
wschat_show_message(struct wschat *c, const char *text, size_t len)
{
	json_t		*o;
	json_error_t	 err;
	const char	*type, *from, *content, *room;

	o = json_loadb(text, len, 0, &err);
	if (o == NULL || !json_is_object(o)) {
		wschat_show_print(c, "%.*s", (int)len, text);
		json_decref(o);
		return;
	}
	type = wschat_show_str(o, "type");
	from = wschat_show_str(o, "from");
	content = wschat_show_str(o, "content");
	room = wschat_show_str(o, "room");
	if (strcmp(type, "who") == 0 && c->menu == WSCHAT_M_CHECK &&
	    json_object_get(o, "room") == NULL)
		wschat_show_check_peer(c, json_object_get(o, "user_list"));
	else if (strcmp(type, "handshake") == 0 || strcmp(type, "who") == 0 ||
	    strcmp(type, "rooms") == 0)
		wschat_show_list(c, o);
	else if (strcmp(type, "login") == 0) {
		wschat_show_print(c, "* %s is online", content);
		if (c->state == WSCHAT_S_LOGIN && c->want != NULL &&
		    strcmp(content, c->want) == 0) {
			wschat_setname(&c->name, content);
			wschat_ready(c);
		}
	} else if (strcmp(type, "logout") == 0) {
		wschat_show_print(c, "* %s is offline", content);
	} else if (strcmp(type, "join") == 0 || strcmp(type, "leave") == 0) {
		/* Someone came to or left the room we are in. */
		wschat_show_print(c, "* %s %s %s", from,
		    strcmp(type, "join") == 0 ? "joined" : "left", room);
	} else if (strcmp(type, "rename") == 0) {
		if (c->name != NULL && strcmp(c->name, from) == 0)
			wschat_setname(&c->name, content);
		wschat_show_print(c, "* %s is now %s", from, content);
	} else if (strcmp(type, "user") == 0)
		wschat_show_user(c, o, room, "");
	else if (strcmp(type, "history") == 0)
		wschat_show_history(c, o);
	else if (strcmp(type, "resumed") == 0 && c->resuming)
		wschat_show_resumed(c, o);
	else if (strcmp(type, "private") == 0) {
		(void)wschat_show_id(c, o);
		wschat_show_print(c, "%s -> %s: %s", wschat_show_who(c, from),
		    wschat_show_who(c, wschat_show_str(o, "to")), content);
	} else if (strcmp(type, "system") == 0)
		wschat_show_system(c, o);
	else
		wschat_show_print(c, "%.*s", (int)len, text);
	json_decref(o);
}
