/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_chat.c: one client command through a decoder, then what hub.c does
 * with a good one: check its names, send its text to clients in every
 * format, and decode what was sent, which must give the text back; a
 * history request answered with a history of its strings, a resume's
 * token sent back.
 */

#include <string.h>

#include "wschatd.h"
#include "chat.h"
#include "utf8.h"
#include "ws.h"
#include "fuzz.h"
#include "fuzz_chat.h"

/* Encode m with enc, decode it with parse, compare the content. */
static void
fuzz_chat_again(uint8_t *(*enc)(const struct chat_msg *, size_t *),
    fuzz_chat_parser parse, const struct chat_msg *m)
{
	struct chat_cmd	 back;
	uint8_t		*out;
	size_t		 len;

	out = enc(m, &len);
	FUZZ_ASSERT(out != NULL);
	FUZZ_ASSERT(parse((const char *)out + WS_HEADROOM, len, &back) ==
	    CHAT_PARSE_OK);
	FUZZ_ASSERT(back.type == m->type);
	FUZZ_ASSERT(back.has_content);
	FUZZ_ASSERT(back.content.len == m->content.len);
	FUZZ_ASSERT(m->content.len == 0 ||
	    memcmp(back.content.p, m->content.p, m->content.len) == 0);
	chat_cmd_clear(&back);
	free(out);
}

/* m in the format that parse reads. */
static uint8_t *
fuzz_chat_encode(fuzz_chat_parser parse, const struct chat_msg *m,
    size_t *len)
{
	if (parse == chat_cmd_parse_msgpack)
		return (chat_msg_msgpack(m, len));
	return (chat_msg_json(m, len));
}

/*
 * A history reply of two messages made of the command's strings, in
 * every format: the same format's parser reads it as a history of that
 * room (the messages and "more" are fields it ignores); the line form
 * is a line per message.
 */
static void
fuzz_chat_history(fuzz_chat_parser parse, const struct chat_cmd *cmd)
{
	struct chat_msg	 msgs[2], m;
	struct chat_cmd	 back;
	uint8_t		*out;
	size_t		 len, i, lines = 0;

	FUZZ_ASSERT(cmd->limit == 0 || cmd->limit >= 1);
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < 2; i++) {
		msgs[i].type = CHAT_USER;
		msgs[i].from = CHAT_STR("alice");
		msgs[i].content = i == 0 ? cmd->type_text : cmd->room;
		if (msgs[i].content.p == NULL)
			msgs[i].content = CHAT_STR("");
		msgs[i].room = CHAT_STR("lobby");
		msgs[i].peer = CHAT_STR("127.0.0.1:4242");
		msgs[i].timestamp = 1700000000000ULL;
		msgs[i].id = cmd->before + i;
		msgs[i].epoch = CHAT_STR("00000000deadbeef");
	}
	memset(&m, 0, sizeof(m));
	m.type = CHAT_HISTORY;
	m.room = cmd->room.p != NULL ? cmd->room : CHAT_STR("lobby");
	m.epoch = CHAT_STR("00000000deadbeef");
	m.msgs = msgs;
	m.nmsgs = 2;
	m.more = cmd->limit > 1;
	out = fuzz_chat_encode(parse, &m, &len);
	FUZZ_ASSERT(out != NULL);
	FUZZ_ASSERT(parse((const char *)out + WS_HEADROOM, len, &back) ==
	    CHAT_PARSE_OK);
	FUZZ_ASSERT(back.type == CHAT_HISTORY);
	FUZZ_ASSERT(back.room.len == m.room.len &&
	    memcmp(back.room.p, m.room.p, m.room.len) == 0);
	FUZZ_ASSERT(back.before == 0 && back.limit == 0);
	chat_cmd_clear(&back);
	free(out);
	out = chat_msg_line(&m, &len);
	FUZZ_ASSERT(out != NULL && len > 0);
	for (i = 0; i < len; i++)
		lines += out[WS_HEADROOM + i] == '\n';
	FUZZ_ASSERT(lines == 2 && out[WS_HEADROOM + len - 1] == '\n');
	free(out);
}

/*
 * A resume's token, written back in a resume of the same format, must
 * read as the same token: it is text, 1 to 128 bytes.
 */
static void
fuzz_chat_resume(fuzz_chat_parser parse, const struct chat_cmd *cmd)
{
	struct chat_msg	 m;
	struct chat_cmd	 back;
	uint8_t		*out;
	size_t		 len;

	FUZZ_ASSERT(cmd->session.len >= 1 && cmd->session.len <= 128);
	FUZZ_ASSERT(utf8_validate(UTF8_ACCEPT, (const uint8_t *)cmd->session.p,
	    cmd->session.len, NULL) == UTF8_ACCEPT);
	memset(&m, 0, sizeof(m));
	m.type = CHAT_RESUME;
	m.session = cmd->session;
	m.resume_timeout = cmd->since;
	out = fuzz_chat_encode(parse, &m, &len);
	FUZZ_ASSERT(out != NULL);
	FUZZ_ASSERT(parse((const char *)out + WS_HEADROOM, len, &back) ==
	    CHAT_PARSE_OK);
	FUZZ_ASSERT(back.type == CHAT_RESUME && back.since == 0);
	FUZZ_ASSERT(back.session.len == cmd->session.len &&
	    memcmp(back.session.p, cmd->session.p, cmd->session.len) == 0);
	chat_cmd_clear(&back);
	free(out);
	/* No line: the line port has no sessions. */
	FUZZ_ASSERT(chat_msg_line(&m, &len) == NULL && len == 0);
}

/*
 * What hub.c does with a name: check it, and say why it is refused.  An
 * accepted one is 1 to 32 bytes of UTF-8 without blanks or controls.
 */
static void
fuzz_chat_name(enum chat_name_kind kind, struct chat_str s)
{
	struct chat_name_fault	 f;
	char			 why[256];
	size_t			 i;
	int			 err;

	err = chat_name_check(kind, s.p, s.len, &f);
	FUZZ_ASSERT(err == (int)f.err);
	FUZZ_ASSERT(chat_name_why(&f, why, sizeof(why)) > 0);
	if (err != CHAT_NAME_OK)
		return;
	FUZZ_ASSERT(s.len >= 1 && s.len <= CHAT_NAME_MAX);
	FUZZ_ASSERT(utf8_validate(UTF8_ACCEPT, (const uint8_t *)s.p, s.len,
	    NULL) == UTF8_ACCEPT);
	for (i = 0; i < s.len; i++)
		FUZZ_ASSERT((unsigned char)s.p[i] > 0x20 && s.p[i] != 0x7f);
}

void
fuzz_chat_cmd(fuzz_chat_parser parse, const uint8_t *data, size_t size)
{
	struct chat_cmd	 cmd;
	struct chat_msg	 m;
	struct chat_str	 users[2];
	uint8_t		*out;
	size_t		 len;
	int		 rv;

	rv = parse((const char *)data, size, &cmd);
	FUZZ_ASSERT(rv == CHAT_PARSE_OK || rv == CHAT_PARSE_NOT_OBJECT ||
	    rv == CHAT_PARSE_BAD);
	if (rv != CHAT_PARSE_OK)
		goto out;
	FUZZ_ASSERT(cmd.type != CHAT_NONE);
	(void)chat_type_name(cmd.type);
	if (cmd.to.p != NULL)
		fuzz_chat_name(CHAT_NAME_USER, cmd.to);
	if (cmd.room.p != NULL)
		fuzz_chat_name(CHAT_NAME_ROOM, cmd.room);
	if (cmd.has_content)
		fuzz_chat_name(CHAT_NAME_USER, cmd.content);
	/* Fields of one type only: the others never see them. */
	if (cmd.type != CHAT_HISTORY)
		FUZZ_ASSERT(cmd.before == 0);
	if (cmd.type != CHAT_WHO && cmd.type != CHAT_HISTORY)
		FUZZ_ASSERT(cmd.limit == 0);
	if (cmd.type != CHAT_RESUME)
		FUZZ_ASSERT(cmd.session.p == NULL && cmd.since == 0);
	if (cmd.type == CHAT_HISTORY)
		fuzz_chat_history(parse, &cmd);
	if (cmd.type == CHAT_RESUME)
		fuzz_chat_resume(parse, &cmd);
	if (!cmd.has_content)
		goto out;
	/* Whatever a decoder lets through is text the encoders must take. */
	FUZZ_ASSERT(utf8_validate(UTF8_ACCEPT, (const uint8_t *)cmd.content.p,
	    cmd.content.len, NULL) == UTF8_ACCEPT);
	memset(&m, 0, sizeof(m));
	m.type = CHAT_USER;
	m.from = CHAT_STR("alice");
	m.content = cmd.content;
	m.room = cmd.room;
	m.peer = CHAT_STR("127.0.0.1:4242");
	m.timestamp = 1700000000000ULL;
	m.id = 1;
	m.epoch = CHAT_STR("00000000deadbeef");
	fuzz_chat_again(chat_msg_json, chat_cmd_parse_json, &m);
	fuzz_chat_again(chat_msg_msgpack, chat_cmd_parse_msgpack, &m);
	if ((out = chat_msg_line(&m, &len)) != NULL) {
		FUZZ_ASSERT(len > 0 && out[WS_HEADROOM + len - 1] == '\n');
		FUZZ_ASSERT(memchr(out + WS_HEADROOM, '\n', len - 1) == NULL);
		free(out);
	}
	/* A who list made of the command's strings. */
	users[0] = cmd.content;
	users[1] = cmd.room.p != NULL ? cmd.room : CHAT_STR("lobby");
	memset(&m, 0, sizeof(m));
	m.type = CHAT_WHO;
	m.user_list = users;
	m.nusers = 2;
	m.has_user_list = 1;
	if ((out = chat_msg_json(&m, &len)) != NULL)
		free(out);
	if ((out = chat_msg_msgpack(&m, &len)) != NULL)
		free(out);
out:
	chat_cmd_clear(&cmd);
}
