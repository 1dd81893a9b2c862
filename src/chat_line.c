/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * chat_line.c: the line protocol's codec, the port that nc and telnet
 * users type into.  The reader cuts the input, fed in pieces of any size,
 * into lines (LF or CRLF) of at most max_line_length bytes.  A line
 * becomes the same struct chat_cmd that a JSON or MessagePack message
 * becomes: "who", "who ROOM", "rename NAME", "to NAME text", "join ROOM",
 * "leave", "rooms", "history [N]", "help", "quit", or chat.  A message
 * out becomes one line ending in LF, "[ip:port]name: text" and the like,
 * with CR and LF inside the text turned into spaces so that a message is
 * always one line; the answers to "help", "rooms" and "history" are a
 * few such lines.  Reading the socket is conn_line.c's business, what a
 * command means hub.c's.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "chat.h"
#include "utf8.h"
#include "ws.h"

void
chat_line_reader_init(struct chat_line_reader *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void
chat_line_reader_clear(struct chat_line_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->have = r->cap = 0;
	r->skip = 0;
	r->ev_line = NULL;
	r->ev_len = 0;
}

/*
 * Keep n more bytes of a split line.  The buffer doubles as the line grows
 * (telnet sends a byte at a time), up to max + 1: max bytes and a CR
 * whose LF has not come yet.  0, or -1 if out of memory.
 */
static int
chat_line_reader_keep(struct chat_line_reader *r, const char *p, size_t n)
{
	size_t	 need = r->have + n, cap;
	char	*b;

	if (n == 0)
		return (0);	/* r->buf may be NULL */
	if (need > r->cap) {
		cap = r->cap > 0 ? r->cap : 128;
		while (cap < need)
			cap *= 2;
		if (cap > r->max + 1)
			cap = r->max + 1;	/* need <= max + 1 (feed) */
		if ((b = realloc(r->buf, cap)) == NULL)
			return (-1);
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->have, p, n);
	r->have = need;
	return (0);
}

int
chat_line_reader_feed(struct chat_line_reader *r, const char *buf,
    size_t len, size_t *used)
{
	const char	*lf;
	size_t		 skip = 0, scan, end, n;
	char		 c;

	*used = 0;
	r->ev_line = NULL;
	r->ev_len = 0;
	if (r->skip) {
		/* The rest of a line that was too long. */
		if ((lf = memchr(buf, '\n', len)) == NULL) {
			*used = len;
			r->skipped += len;
			return (CHAT_LINE_AGAIN);
		}
		r->skip = 0;
		skip = (size_t)(lf + 1 - buf);
		r->skipped += skip;
		buf += skip;
		len -= skip;
	}
	/* A line and its end are at most max + 2 bytes: look no further. */
	scan = r->max + 2 - r->have;
	if (scan > len)
		scan = len;
	lf = memchr(buf, '\n', scan);
	end = lf != NULL ? (size_t)(lf - buf) : scan;
	n = r->have + end;		/* the line so far, a CR included */
	if (n > r->max) {
		/*
		 * Byte max + 1 tells, unless it is a CR that an LF may end;
		 * then byte max + 2 does.  The same byte, however the input
		 * is split.
		 */
		c = r->have > r->max ? r->buf[r->max] :
		    buf[r->max - r->have];
		if (c != '\r' || n > r->max + 1) {
			*used = skip + (c != '\r' ? r->max + 1 : r->max + 2) -
			    r->have;
			r->skipped = r->have + *used - skip;
			r->have = 0;
			r->skip = 1;
			return (CHAT_LINE_TOOLONG);
		}
	}
	if (lf == NULL) {
		/* n <= max + 1, so scan == len: keep all of buf. */
		if (chat_line_reader_keep(r, buf, len) == -1)
			goto nomem;
		*used = skip + len;
		return (CHAT_LINE_AGAIN);
	}
	c = end > 0 ? buf[end - 1] : r->have > 0 ? r->buf[r->have - 1] : '\0';
	if (c == '\r')
		n--;
	if (r->have == 0)
		r->ev_line = buf;	/* whole in buf: used where it is */
	else {
		if (chat_line_reader_keep(r, buf, end) == -1)
			goto nomem;
		r->ev_line = r->buf;
		r->have = 0;		/* the next feed starts a new line */
	}
	r->ev_len = n;
	*used = skip + end + 1;
	return (CHAT_LINE_LINE);
nomem:
	/* What was skipped stays skipped; the rest is not used. */
	*used = skip;
	return (CHAT_LINE_NOMEM);
}

/* White space between and around words: blanks, and CR (a stray one). */
static int
chat_line_blank(char c)
{
	return (c == ' ' || c == '\t' || c == '\r' || c == '\v' ||
	    c == '\f');
}

/*
 * The word at the start of *p (len *n, no blanks before it): returns its
 * length and moves *p, *n past it and the run of blanks after it.
 */
static size_t
chat_line_word(const char **p, size_t *n)
{
	size_t	 w = 0;

	while (w < *n && !chat_line_blank((*p)[w]))
		w++;
	*p += w;
	*n -= w;
	while (*n > 0 && chat_line_blank(**p)) {
		(*p)++;
		(*n)--;
	}
	return (w);
}

/* Is the len bytes at p (trimmed) one word, without blanks? */
static int
chat_line_one_word(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (chat_line_blank(p[i]))
			return (0);
	return (len > 0);
}

/* "history N": how many messages at most; the hub caps it lower. */
#define CHAT_LINE_HISTORY_MAX	1000000

/*
 * The len bytes at p as a decimal number, 1 to max, into *out: 0, or -1
 * if they are anything else (another word too, a sign, too many digits).
 */
static int
chat_line_number(const char *p, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t	 v = 0;
	size_t		 i;

	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > max)
			return (-1);	/* and no overflow, however long */
	}
	if (len == 0 || v < 1)
		return (-1);
	*out = v;
	return (0);
}

void
chat_cmd_parse_line(const char *p, size_t len, struct chat_cmd *cmd)
{
	const char	*word, *rest;
	size_t		 wlen, rlen;

	memset(cmd, 0, sizeof(*cmd));
	if (memchr(p, '\0', len) != NULL) {
		cmd->type = CHAT_BAD;
		cmd->error = "NUL byte in the line; ignored";
		cmd->not_text = 1;
		return;
	}
	if (utf8_validate(UTF8_ACCEPT, (const uint8_t *)p, len, NULL) !=
	    UTF8_ACCEPT) {
		cmd->type = CHAT_BAD;
		cmd->error = "the line is not UTF-8; ignored";
		cmd->not_text = 1;
		return;
	}
	/* Trimmed first, as the nc chat room this port comes from did. */
	while (len > 0 && chat_line_blank(*p)) {
		p++;
		len--;
	}
	while (len > 0 && chat_line_blank(p[len - 1]))
		len--;
	/* Empty lines are ignored: nc users press Enter to see new lines. */
	if (len == 0)
		return;
	word = rest = p;
	rlen = len;
	wlen = chat_line_word(&rest, &rlen);
	if (wlen == 3 && memcmp(word, "who", 3) == 0 && rlen == 0)
		cmd->type = CHAT_WHO;
	else if (wlen == 3 && memcmp(word, "who", 3) == 0 &&
	    chat_line_one_word(rest, rlen)) {
		/* "who ROOM"; "who is there" stays chat. */
		cmd->type = CHAT_WHO;
		cmd->room.p = rest;
		cmd->room.len = rlen;
	} else if (wlen == 4 && memcmp(word, "join", 4) == 0) {
		if (rlen == 0) {
			cmd->type = CHAT_BAD;
			cmd->error = "join needs a room: join ROOM";
			return;
		}
		/* The rest of the line, as rename takes it: a room with a
		 * blank in it is refused with the reason. */
		cmd->type = CHAT_JOIN;
		cmd->room.p = rest;
		cmd->room.len = rlen;
	} else if (wlen == 7 && memcmp(word, "history", 7) == 0) {
		/* "history" alone: the hub's default number. */
		if (rlen > 0 && chat_line_number(rest, rlen,
		    CHAT_LINE_HISTORY_MAX, &cmd->limit) == -1) {
			cmd->type = CHAT_BAD;
			cmd->error = "history takes a number of messages, 1 to "
			    "1000000: history [N]";
			return;
		}
		cmd->type = CHAT_HISTORY;
	} else if (wlen == 5 && memcmp(word, "leave", 5) == 0 && rlen == 0)
		cmd->type = CHAT_LEAVE;
	else if (wlen == 5 && memcmp(word, "rooms", 5) == 0 && rlen == 0)
		cmd->type = CHAT_ROOMS;
	else if (wlen == 4 && memcmp(word, "help", 4) == 0 && rlen == 0) {
		cmd->type = CHAT_HELP;
		cmd->type_text = CHAT_STR("help");	/* no type on /ws */
	} else if (wlen == 4 && memcmp(word, "quit", 4) == 0 && rlen == 0) {
		cmd->type = CHAT_QUIT;
		cmd->type_text = CHAT_STR("quit");
	} else if (wlen == 6 && memcmp(word, "rename", 6) == 0) {
		if (rlen == 0) {
			cmd->type = CHAT_BAD;
			cmd->error = "rename needs a name: rename NAME";
			return;
		}
		cmd->type = CHAT_RENAME;
		cmd->content.p = rest;
		cmd->content.len = rlen;
		cmd->has_content = 1;
	} else if (wlen == 2 && memcmp(word, "to", 2) == 0) {
		/* Never broadcast: a private message that lacks a part
		 * is an error, not chat. */
		cmd->to.p = rest;
		cmd->to.len = chat_line_word(&rest, &rlen);
		if (cmd->to.len == 0 || rlen == 0) {
			cmd->type = CHAT_BAD;
			cmd->error = "to needs a name and a text: to NAME text";
			return;
		}
		cmd->type = CHAT_TO;
		cmd->content.p = rest;
		cmd->content.len = rlen;
		cmd->has_content = 1;
	} else {
		cmd->type = CHAT_USER;
		cmd->content.p = p;
		cmd->content.len = len;
		cmd->has_content = 1;
	}
	if (cmd->type_text.p == NULL) {
		cmd->type_text.p = chat_type_name(cmd->type);
		cmd->type_text.len = strlen(cmd->type_text.p);
	}
}

/*
 * Is the code point at p (n bytes of valid UTF-8, n >= 2) one that could
 * change what a terminal shows beyond its own glyph: a C1 control
 * (U+0080..U+009F: CSI, OSC, NEL in 8-bit terminals) or a bidi control
 * (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), which can
 * make a line read in another order than it was written?
 */
static int
chat_line_hidden(const unsigned char *p, size_t n)
{
	if (n >= 2 && p[0] == 0xc2 && p[1] < 0xa0)
		return (1);			/* C1 */
	if (n >= 2 && p[0] == 0xd8 && p[1] == 0x9c)
		return (1);			/* U+061C */
	if (n >= 3 && p[0] == 0xe2 && p[1] == 0x80 &&
	    (p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae)))
		return (1);			/* U+200E, U+200F, U+202A..E */
	if (n >= 3 && p[0] == 0xe2 && p[1] == 0x81 &&
	    p[2] >= 0xa6 && p[2] <= 0xa9)
		return (1);			/* U+2066..U+2069 */
	return (0);
}

/* Bytes in the UTF-8 sequence that starts with c (1 for a stray byte). */
static size_t
chat_line_seqlen(unsigned char c)
{
	if (c >= 0xf0 && c < 0xf8)
		return (4);
	if (c >= 0xe0)
		return (3);
	if (c >= 0xc0)
		return (2);
	return (1);
}

/*
 * Append len bytes of text at p for a terminal: nothing in it can act on
 * the terminal that shows it.  C0 controls and DEL become caret notation
 * (ESC is ^[, TAB ^I, DEL ^?), C1 and bidi controls <U+XXXX>, a byte
 * that is not UTF-8 \xNN; everything else is copied.  CR and LF too are
 * shown as ^M and ^J: callers that cut text into lines do it first.
 * Used for every line the line port writes and every line wschat prints.
 * Any process.
 */
void
chat_line_escape(struct buf *b, const char *p, size_t len)
{
	const unsigned char	*s = (const unsigned char *)p;
	size_t			 i = 0, from = 0, n;
	uint32_t		 cp;
	char			 tmp[12];

	while (i < len) {
		if (s[i] < 0x20 || s[i] == 0x7f) {
			buf_add(b, p + from, i - from);
			tmp[0] = '^';
			tmp[1] = s[i] == 0x7f ? '?' : (char)(s[i] + '@');
			buf_add(b, tmp, 2);
			from = ++i;
			continue;
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = chat_line_seqlen(s[i]);
		if (i + n > len || utf8_validate(UTF8_ACCEPT, s + i, n,
		    NULL) != UTF8_ACCEPT) {
			buf_add(b, p + from, i - from);
			snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
			buf_add(b, tmp, 4);
			from = ++i;
			continue;
		}
		if (chat_line_hidden(s + i, n)) {
			buf_add(b, p + from, i - from);
			cp = n == 2 ? (uint32_t)(s[i] & 0x1f) << 6 |
			    (s[i + 1] & 0x3f) : (uint32_t)(s[i] & 0x0f) << 12 |
			    (uint32_t)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
			snprintf(tmp, sizeof(tmp), "<U+%04X>", cp);
			buf_add(b, tmp, strlen(tmp));
			from = i + n;
		}
		i += n;
	}
	buf_add(b, p + from, len - from);
}

/* Text for a line: CR and LF would end it early; the rest is escaped. */
static void
chat_line_text(struct buf *b, struct chat_str s)
{
	size_t	 i, from = 0;

	for (i = 0; i < s.len; i++)
		if (s.p[i] == '\n' || s.p[i] == '\r') {
			chat_line_escape(b, s.p + from, i - from);
			buf_add(b, " ", 1);
			from = i + 1;
		}
	chat_line_escape(b, s.p + from, s.len - from);
}

/*
 * What "help" answers, a "system: " line each: every command that
 * chat_cmd_parse_line() takes, and what the other lines are.
 */
static const char *const chat_line_help[] = {
	"who - list everyone online",
	"who ROOM - list who is in ROOM",
	"rename NAME - change your name to NAME",
	"to NAME TEXT - send TEXT to NAME only",
	"join ROOM - move to ROOM (you start in lobby)",
	"leave - go back to lobby",
	"rooms - list the rooms and how many are in each",
	"history [N] - show the last N messages of your room",
	"help - show this list",
	"quit - leave the chat",
	"anything else - chat to everyone in your room",
};

/*
 * m as its line (or lines) at the end of b: 0, or -1 if it has none.  A
 * history's messages are lines of their own, as live ones (top 0: not a
 * history again).
 */
static int
chat_line_msg(struct buf *b, const struct chat_msg *m, int top)
{
	const char	*what = NULL;
	char		 num[32];
	size_t		 i;

	switch (m->type) {
	case CHAT_USER:
	case CHAT_LOGIN:
	case CHAT_LOGOUT:
	case CHAT_RENAME:
	case CHAT_JOIN:
	case CHAT_LEAVE:
		buf_add(b, "[", 1);
		chat_line_text(b, m->peer);
		buf_add(b, "]", 1);
		chat_line_text(b, m->from);
		buf_add(b, ": ", 2);
		if (m->type == CHAT_USER)
			chat_line_text(b, m->content);
		else if (m->type == CHAT_RENAME) {
			buf_add(b, "renamed to ", 11);
			chat_line_text(b, m->content);
		} else if (m->type == CHAT_JOIN || m->type == CHAT_LEAVE) {
			what = m->type == CHAT_JOIN ? "joined " : "left ";
			buf_add(b, what, strlen(what));
			chat_line_text(b, m->room);
		} else {
			what = m->type == CHAT_LOGIN ? "online" : "offline";
			buf_add(b, what, strlen(what));
		}
		break;
	case CHAT_PRIVATE:
		if (m->sender_copy) {
			/* As wschat shows a private message one sent. */
			buf_add(b, "you -> ", 7);
			chat_line_text(b, m->to);
			buf_add(b, ": ", 2);
		} else {
			chat_line_text(b, m->from);
			buf_add(b, " says to you: ", 14);
		}
		chat_line_text(b, m->content);
		break;
	case CHAT_SYSTEM:
		what = m->code.p != NULL ? "error: " : "system: ";
		buf_add(b, what, strlen(what));
		chat_line_text(b, m->content);
		/* A notice about a room ("joined") names it. */
		if (m->code.p == NULL && m->room.p != NULL) {
			buf_add(b, " ", 1);
			chat_line_text(b, m->room);
		}
		break;
	case CHAT_ROOMS:
		/* One "room ROOM: N online" line each. */
		for (i = 0; i < m->nrooms; i++) {
			buf_add(b, "room ", 5);
			chat_line_text(b, m->rooms[i].room);
			snprintf(num, sizeof(num), ": %u online\n",
			    (unsigned)m->rooms[i].members);
			buf_add(b, num, strlen(num));
		}
		return (0);
	case CHAT_HELP:
		for (i = 0; i < sizeof(chat_line_help) /
		    sizeof(chat_line_help[0]); i++) {
			buf_add(b, "system: ", 8);
			buf_add(b, chat_line_help[i],
			    strlen(chat_line_help[i]));
			buf_add(b, "\n", 1);
		}
		return (0);
	case CHAT_HISTORY:
		if (!top)
			return (-1);
		/* Each as the line it was live; a reply all the same. */
		if (m->nmsgs == 0)
			buf_add(b, "system: no messages\n", 20);
		for (i = 0; i < m->nmsgs; i++)
			(void)chat_line_msg(b, &m->msgs[i], 0);
		return (0);
	default:
		return (-1);
	}
	buf_add(b, "\n", 1);
	return (0);
}

uint8_t *
chat_msg_line(const struct chat_msg *m, size_t *len)
{
	struct buf	 b;
	size_t		 i, n = 0;

	*len = 0;
	buf_init(&b, WS_HEADROOM);
	/* A history's lines at once: a few more bytes than their text. */
	if (m->type == CHAT_HISTORY) {
		for (i = 0; i < m->nmsgs; i++)
			n += 8 + m->msgs[i].peer.len + m->msgs[i].from.len +
			    m->msgs[i].content.len;
		if (n > 0)
			buf_want(&b, n);
	}
	if (chat_line_msg(&b, m, 1) == -1) {
		buf_clear(&b);
		return (NULL);
	}
	return (buf_finish(&b, len));
}
