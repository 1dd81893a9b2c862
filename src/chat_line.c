/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * chat_line.c: the line protocol's codec, the port that nc and telnet
 * users type into.  A line in (its end already taken off by the reader,
 * conn_line.c) becomes the same struct chat_cmd that a JSON or MessagePack
 * message becomes: "who", "rename NAME", "to NAME text", or chat.  A
 * message out becomes one line ending in LF, "[ip:port]name: text" and
 * the like, with CR and LF inside the text turned into spaces so that a
 * message is always one line.  What a command means is hub.c's business.
 */

#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "chat.h"
#include "utf8.h"
#include "ws.h"

void
chat_cmd_parse_line(const char *p, size_t len, struct chat_cmd *cmd)
{
	const char	*sp;

	memset(cmd, 0, sizeof(*cmd));
	if (memchr(p, '\0', len) != NULL) {
		cmd->type = CHAT_BAD;
		cmd->error = "NUL byte in the line; ignored";
		return;
	}
	if (utf8_validate(UTF8_ACCEPT, (const uint8_t *)p, len, NULL) !=
	    UTF8_ACCEPT) {
		cmd->type = CHAT_BAD;
		cmd->error = "the line is not UTF-8; ignored";
		return;
	}
	/* Empty lines are ignored: nc users press Enter to see new lines. */
	if (len == 0)
		return;
	if (len == 3 && memcmp(p, "who", 3) == 0)
		cmd->type = CHAT_WHO;
	else if (len > 7 && memcmp(p, "rename ", 7) == 0) {
		cmd->type = CHAT_RENAME;
		cmd->content.p = p + 7;
		cmd->content.len = len - 7;
		cmd->has_content = 1;
	} else if (len > 3 && memcmp(p, "to ", 3) == 0 &&
	    (sp = memchr(p + 3, ' ', len - 3)) != NULL) {
		cmd->type = CHAT_TO;
		cmd->to.p = p + 3;
		cmd->to.len = (size_t)(sp - (p + 3));
		cmd->content.p = sp + 1;
		cmd->content.len = len - (size_t)(sp + 1 - p);
		cmd->has_content = 1;
	} else {
		cmd->type = CHAT_USER;
		cmd->content.p = p;
		cmd->content.len = len;
		cmd->has_content = 1;
	}
	cmd->type_text.p = chat_type_name(cmd->type);
	cmd->type_text.len = strlen(cmd->type_text.p);
}

static void
chat_line_str(struct buf *b, struct chat_str s)
{
	if (s.p != NULL && s.len > 0)
		buf_add(b, s.p, s.len);
}

/* Text for a line: CR and LF would end it early. */
static void
chat_line_text(struct buf *b, struct chat_str s)
{
	size_t	 i, from = 0;

	for (i = 0; i < s.len; i++)
		if (s.p[i] == '\n' || s.p[i] == '\r') {
			buf_add(b, s.p + from, i - from);
			buf_add(b, " ", 1);
			from = i + 1;
		}
	buf_add(b, s.p + from, s.len - from);
}

uint8_t *
chat_msg_line(const struct chat_msg *m, size_t *len)
{
	struct buf	 b;
	const char	*what = NULL;

	*len = 0;
	buf_init(&b, WS_HEADROOM);
	switch (m->type) {
	case CHAT_USER:
	case CHAT_LOGIN:
	case CHAT_LOGOUT:
	case CHAT_RENAME:
		buf_add(&b, "[", 1);
		chat_line_str(&b, m->peer);
		buf_add(&b, "]", 1);
		chat_line_text(&b, m->from);
		buf_add(&b, ": ", 2);
		if (m->type == CHAT_USER)
			chat_line_text(&b, m->content);
		else if (m->type == CHAT_RENAME) {
			buf_add(&b, "renamed to ", 11);
			chat_line_text(&b, m->content);
		} else {
			what = m->type == CHAT_LOGIN ? "online" : "offline";
			buf_add(&b, what, strlen(what));
		}
		break;
	case CHAT_PRIVATE:
		chat_line_text(&b, m->from);
		buf_add(&b, " says to you: ", 14);
		chat_line_text(&b, m->content);
		break;
	case CHAT_SYSTEM:
		what = m->code.p != NULL ? "error: " : "system: ";
		buf_add(&b, what, strlen(what));
		chat_line_text(&b, m->content);
		break;
	default:
		return (NULL);
	}
	buf_add(&b, "\n", 1);
	return (buf_finish(&b, len));
}
