/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_chat_line.c: the line protocol's codec: the commands a line
 * becomes, and the line each message to a line user becomes.
 */

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "ws.h"
#include "chat.h"
#include "unit.h"

#define S(x)	(struct chat_str){ (x), sizeof(x) - 1 }

/* Everything a test allocates hangs from here, so fini can free it. */
static char	*in;
static uint8_t	*out;

static void
chat_line_test_fini(void)
{
	free(in);
	free(out);
	unit_leak_check();
}

TestSuite(chat_line, .fini = chat_line_test_fini);

/* ---------------------------------------------------------------- */
/* helpers */

/* An exact-size heap copy, so that ASan sees a read past the end. */
static char *
copy_into(char **dst, const char *s, size_t len)
{
	free(*dst);
	*dst = malloc(len > 0 ? len : 1);
	cr_assert_not_null(*dst);
	memcpy(*dst, s, len);
	return (*dst);
}

static int
str_is(struct chat_str s, const char *want)
{
	return (s.p != NULL && s.len == strlen(want) &&
	    memcmp(s.p, want, s.len) == 0);
}

/* Parse an exact-size copy of the line. */
static void
parse(struct chat_cmd *cmd, const char *s, size_t len)
{
	chat_cmd_parse_line(copy_into(&in, s, len), len, cmd);
}

static void
assert_line(const struct chat_msg *m, const char *want)
{
	size_t	 len;

	free(out);
	out = chat_msg_line(m, &len);
	cr_assert_not_null(out);
	cr_assert_eq(len, strlen(want), "%.*s", (int)len,
	    (char *)out + WS_HEADROOM);
	cr_assert_eq(memcmp(out + WS_HEADROOM, want, len), 0, "%.*s",
	    (int)len, (char *)out + WS_HEADROOM);
	free(out);
	out = NULL;
}

/* ---------------------------------------------------------------- */
/* Lines into commands */

Test(chat_line, parses_who)
{
	struct chat_cmd	 cmd;

	parse(&cmd, LIT("who"));
	cr_assert_eq(cmd.type, CHAT_WHO);
	cr_assert(str_is(cmd.type_text, "who"));
	cr_assert(!cmd.has_content);
	chat_cmd_clear(&cmd);
}

Test(chat_line, treats_who_with_anything_more_as_chat)
{
	static const char *in_[] = { "who ", " who", "WHO", "whom", "wh" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_USER, "%s", in_[i]);
		cr_assert(str_is(cmd.content, in_[i]), "%s", in_[i]);
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, parses_rename_with_the_rest_of_the_line_as_the_name)
{
	struct chat_cmd	 cmd;

	parse(&cmd, LIT("rename bob"));
	cr_assert_eq(cmd.type, CHAT_RENAME);
	cr_assert(str_is(cmd.type_text, "rename"));
	cr_assert(cmd.has_content);
	cr_assert(str_is(cmd.content, "bob"));
	chat_cmd_clear(&cmd);
	/* The hub judges the name, spaces and all. */
	parse(&cmd, LIT("rename  b b "));
	cr_assert_eq(cmd.type, CHAT_RENAME);
	cr_assert(str_is(cmd.content, " b b "));
	chat_cmd_clear(&cmd);
}

Test(chat_line, treats_rename_without_a_name_as_chat)
{
	static const char *in_[] = { "rename", "rename ", "renamebob",
	    "Rename bob" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_USER, "%s", in_[i]);
		cr_assert(str_is(cmd.content, in_[i]), "%s", in_[i]);
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, parses_to_name_and_text)
{
	struct chat_cmd	 cmd;

	parse(&cmd, LIT("to bob hi there "));
	cr_assert_eq(cmd.type, CHAT_TO);
	cr_assert(str_is(cmd.type_text, "to"));
	cr_assert(str_is(cmd.to, "bob"));
	cr_assert(cmd.has_content);
	cr_assert(str_is(cmd.content, "hi there "));
	chat_cmd_clear(&cmd);
	/* A space after the name, then nothing: an empty message. */
	parse(&cmd, LIT("to bob "));
	cr_assert_eq(cmd.type, CHAT_TO);
	cr_assert(str_is(cmd.to, "bob"));
	cr_assert(cmd.has_content);
	cr_assert_eq(cmd.content.len, 0);
	chat_cmd_clear(&cmd);
}

Test(chat_line, parses_to_with_two_spaces_as_an_empty_name)
{
	struct chat_cmd	 cmd;

	/* The hub answers that nobody has the empty name. */
	parse(&cmd, LIT("to  x"));
	cr_assert_eq(cmd.type, CHAT_TO);
	cr_assert_not_null(cmd.to.p);
	cr_assert_eq(cmd.to.len, 0);
	cr_assert(str_is(cmd.content, "x"));
	chat_cmd_clear(&cmd);
}

Test(chat_line, treats_to_without_text_as_chat)
{
	static const char *in_[] = { "to bob", "to ", "to", "tobob x",
	    "To bob x" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_USER, "%s", in_[i]);
		cr_assert(str_is(cmd.content, in_[i]), "%s", in_[i]);
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, parses_anything_else_as_chat)
{
	struct chat_cmd	 cmd;

	parse(&cmd, LIT("h\xc3\xa9llo \xf0\x9f\x98\x80 {\"type\":\"who\"}"));
	cr_assert_eq(cmd.type, CHAT_USER);
	cr_assert(str_is(cmd.type_text, "user"));
	cr_assert(cmd.has_content);
	cr_assert(str_is(cmd.content,
	    "h\xc3\xa9llo \xf0\x9f\x98\x80 {\"type\":\"who\"}"));
	chat_cmd_clear(&cmd);
}

Test(chat_line, ignores_an_empty_line)
{
	struct chat_cmd	 cmd;

	parse(&cmd, "", 0);
	cr_assert_eq(cmd.type, CHAT_NONE);
	cr_assert(!cmd.has_content);
	cr_assert_null(cmd.error);
	chat_cmd_clear(&cmd);
}

Test(chat_line, refuses_a_nul_byte)
{
	static const char	*in_[] = { "a\0b", "\0", "who\0" };
	static const size_t	 len[] = { 3, 1, 4 };
	struct chat_cmd		 cmd;
	size_t			 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], len[i]);
		cr_assert_eq(cmd.type, CHAT_BAD, "%zu", i);
		cr_assert_str_eq(cmd.error, "NUL byte in the line; ignored");
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, refuses_invalid_utf8)
{
	static const char *in_[] = { "\xff", "caf\xc3", "\xc0\xaf",
	    "\xed\xa0\x80", "to bob \xe2\x82", "rename \x80",
	    "\xf4\x90\x80\x80" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_BAD, "%zu", i);
		cr_assert_str_eq(cmd.error, "the line is not UTF-8; ignored");
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, keeps_a_cr_inside_the_line)
{
	struct chat_cmd	 cmd;

	/* The reader takes off the CR of a CRLF; any other is text. */
	parse(&cmd, LIT("who\r"));
	cr_assert_eq(cmd.type, CHAT_USER);
	cr_assert(str_is(cmd.content, "who\r"));
	chat_cmd_clear(&cmd);
	parse(&cmd, LIT("to bob a\rb"));
	cr_assert_eq(cmd.type, CHAT_TO);
	cr_assert(str_is(cmd.content, "a\rb"));
	chat_cmd_clear(&cmd);
}

/* ---------------------------------------------------------------- */
/* Messages into lines */

static void
msg_init(struct chat_msg *m, enum chat_type type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->peer = S("10.0.0.1:5555");
	m->from = S("ann");
}

Test(chat_line, writes_a_chat_message_with_the_senders_address)
{
	struct chat_msg	 m;

	msg_init(&m, CHAT_USER);
	m.content = S("hi there");
	m.room = S("lobby");
	m.timestamp = 1700000000000ULL;
	m.id = 7;
	assert_line(&m, "[10.0.0.1:5555]ann: hi there\n");
	m.content = S("");
	assert_line(&m, "[10.0.0.1:5555]ann: \n");
	m.peer.p = NULL;
	m.peer.len = 0;
	assert_line(&m, "[]ann: \n");
}

Test(chat_line, writes_cr_and_lf_in_text_as_spaces)
{
	struct chat_msg	 m;

	msg_init(&m, CHAT_USER);
	m.from = S("a\nb");
	m.content = S("two\nlines\r\nhere\r");
	assert_line(&m, "[10.0.0.1:5555]a b: two lines  here \n");
	m.type = CHAT_PRIVATE;
	assert_line(&m, "a b says to you: two lines  here \n");
	m.type = CHAT_SYSTEM;
	assert_line(&m, "system: two lines  here \n");
	m.type = CHAT_RENAME;
	m.content = S("\r\n");
	assert_line(&m, "[10.0.0.1:5555]a b: renamed to   \n");
}

Test(chat_line, writes_logins_logouts_and_renames)
{
	struct chat_msg	 m;

	msg_init(&m, CHAT_LOGIN);
	m.user = S("ann");
	assert_line(&m, "[10.0.0.1:5555]ann: online\n");
	m.type = CHAT_LOGOUT;
	assert_line(&m, "[10.0.0.1:5555]ann: offline\n");
	msg_init(&m, CHAT_RENAME);
	m.content = S("bob");
	assert_line(&m, "[10.0.0.1:5555]ann: renamed to bob\n");
}

Test(chat_line, writes_a_private_message_without_the_address)
{
	struct chat_msg	 m;

	msg_init(&m, CHAT_PRIVATE);
	m.to = S("bob");
	m.content = S("psst");
	assert_line(&m, "ann says to you: psst\n");
}

Test(chat_line, writes_system_messages_and_errors)
{
	struct chat_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_SYSTEM;
	m.content = S("server restarting");
	assert_line(&m, "system: server restarting\n");
	m.code = S("bad_name");
	m.content = S("no such name");
	assert_line(&m, "error: no such name\n");
}

Test(chat_line, has_no_line_for_a_handshake_or_a_user_list)
{
	static const enum chat_type type[] = { CHAT_HANDSHAKE, CHAT_WHO,
	    CHAT_NONE, CHAT_TO, CHAT_JOIN, CHAT_LEAVE, CHAT_UNKNOWN,
	    CHAT_BAD };
	static const struct chat_str users[] = { { "ann", 3 } };
	struct chat_msg	 m;
	size_t		 i, len;

	for (i = 0; i < NITEMS(type); i++) {
		msg_init(&m, type[i]);
		m.content = S("x");
		m.user_list = users;
		m.nusers = 1;
		m.has_user_list = 1;
		len = 99;
		cr_assert_null(chat_msg_line(&m, &len), "type %d", type[i]);
		cr_assert_eq(len, 0);
	}
}
