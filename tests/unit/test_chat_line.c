/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_chat_line.c: the line protocol's codec: the reader that cuts the
 * input into lines, fed every input whole, split at every offset and at
 * every pair of offsets, and byte by byte; the commands a line becomes;
 * and the line each message to a line user becomes.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "ws.h"
#include "chat.h"
#include "unit.h"

#define S(x)	(struct chat_str){ (x), sizeof(x) - 1 }
#define MAX_EVENTS	32

/* What chat_line_reader_feed() reported, with a copy of the line. */
struct event {
	int		 rv;		/* CHAT_LINE_LINE or CHAT_LINE_TOOLONG */
	char		*line;
	size_t		 len;
	size_t		 end;		/* input offset just after the event */
};

struct events {
	struct event	 ev[MAX_EVENTS];
	size_t		 n;
};

/* An event a test expects. */
struct want {
	int		 rv;
	const char	*line;
	size_t		 len;
	size_t		 end;
};

#define W_LINE(s, end)	{ CHAT_LINE_LINE, (s), sizeof(s) - 1, (end) }
#define W_LONG(end)	{ CHAT_LINE_TOOLONG, NULL, 0, (end) }

/* Everything a test allocates hangs from here, so fini can free it. */
static struct events		 got;
static struct chat_line_reader	 rd;
static char			*piece;
static char			*in;
static size_t			*cuts;
static uint8_t			*out;

static void
events_free(struct events *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++)
		free(e->ev[i].line);
	e->n = 0;
}

static void
chat_line_test_fini(void)
{
	events_free(&got);
	chat_line_reader_clear(&rd);
	free(piece);
	free(in);
	free(cuts);
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

Test(chat_line, trims_the_line_before_reading_it)
{
	static const char *in_[] = { "who ", " who", "\twho\t", "  who\r" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_WHO, "%s", in_[i]);
		chat_cmd_clear(&cmd);
	}
	parse(&cmd, LIT("  hello there \t"));
	cr_assert_eq(cmd.type, CHAT_USER);
	cr_assert(str_is(cmd.content, "hello there"));
	chat_cmd_clear(&cmd);
	/* Nothing but blanks is an empty line. */
	parse(&cmd, LIT(" \t "));
	cr_assert_eq(cmd.type, CHAT_NONE);
	chat_cmd_clear(&cmd);
}

Test(chat_line, parses_who_of_a_room)
{
	struct chat_cmd	 cmd;

	parse(&cmd, LIT("who \tgames "));
	cr_assert_eq(cmd.type, CHAT_WHO);
	cr_assert(str_is(cmd.room, "games"));
	chat_cmd_clear(&cmd);
}

Test(chat_line, treats_who_with_more_than_a_room_as_chat)
{
	static const char *in_[] = { "who is there", "WHO", "whom", "wh",
	    "WHO x" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_USER, "%s", in_[i]);
		cr_assert(str_is(cmd.content, in_[i]), "%s", in_[i]);
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, parses_join_leave_and_rooms)
{
	struct chat_cmd	 cmd;

	parse(&cmd, LIT("join  games"));
	cr_assert_eq(cmd.type, CHAT_JOIN);
	cr_assert(str_is(cmd.room, "games"));
	chat_cmd_clear(&cmd);
	/* The rest of the line, as rename: the hub says why it is bad. */
	parse(&cmd, LIT("join a b"));
	cr_assert_eq(cmd.type, CHAT_JOIN);
	cr_assert(str_is(cmd.room, "a b"));
	chat_cmd_clear(&cmd);
	parse(&cmd, LIT("join"));
	cr_assert_eq(cmd.type, CHAT_BAD);
	cr_assert_str_eq(cmd.error, "join needs a room: join ROOM");
	chat_cmd_clear(&cmd);
	parse(&cmd, LIT(" leave "));
	cr_assert_eq(cmd.type, CHAT_LEAVE);
	chat_cmd_clear(&cmd);
	parse(&cmd, LIT("rooms"));
	cr_assert_eq(cmd.type, CHAT_ROOMS);
	chat_cmd_clear(&cmd);
	/* With anything after them they are chat. */
	parse(&cmd, LIT("leave now"));
	cr_assert_eq(cmd.type, CHAT_USER);
	chat_cmd_clear(&cmd);
	parse(&cmd, LIT("rooms please"));
	cr_assert_eq(cmd.type, CHAT_USER);
	chat_cmd_clear(&cmd);
	parse(&cmd, LIT("joined"));
	cr_assert_eq(cmd.type, CHAT_USER);
	chat_cmd_clear(&cmd);
}

Test(chat_line, parses_history_with_or_without_a_number)
{
	static const struct {
		const char	*in;
		uint64_t	 limit;
	} t[] = {
		{ "history", 0 },
		{ " history\t", 0 },
		{ "history 5", 5 },
		{ "history\t 30 \r", 30 },
		{ "history 007", 7 },
		{ "history 1", 1 },
		{ "history 1000000", 1000000 },
	};
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(t); i++) {
		parse(&cmd, t[i].in, strlen(t[i].in));
		cr_assert_eq(cmd.type, CHAT_HISTORY, "%s", t[i].in);
		cr_assert(str_is(cmd.type_text, "history"), "%s", t[i].in);
		cr_assert_eq(cmd.limit, t[i].limit, "%s", t[i].in);
		cr_assert_eq(cmd.before, 0, "%s", t[i].in);
		cr_assert_null(cmd.room.p, "%s", t[i].in);
		cr_assert(!cmd.has_content, "%s", t[i].in);
		chat_cmd_clear(&cmd);
	}
}

/* Not chat, as "leave now" is: a mistyped number is said so. */
Test(chat_line, refuses_history_with_a_bad_number_or_more_words)
{
	static const char *in_[] = { "history 0", "history 000",
	    "history 1000001", "history -1", "history +5", "history 5 6",
	    "history five", "history 5x", "history 1e3", "history 0x10",
	    "history 99999999999999999999999999999",
	    "history \xc2\xb3", "history of the world" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_BAD, "%s", in_[i]);
		cr_assert_str_eq(cmd.error, "history takes a number of "
		    "messages, 1 to 1000000: history [N]", "%s", in_[i]);
		cr_assert_eq(cmd.limit, 0, "%s", in_[i]);
		chat_cmd_clear(&cmd);
	}
	/* Words that only start like it are chat. */
	parse(&cmd, LIT("historys"));
	cr_assert_eq(cmd.type, CHAT_USER);
	chat_cmd_clear(&cmd);
	parse(&cmd, LIT("History 5"));
	cr_assert_eq(cmd.type, CHAT_USER);
	chat_cmd_clear(&cmd);
}

Test(chat_line, parses_help_and_quit)
{
	static const struct {
		const char	*in;
		int		 type;
		const char	*text;
	} t[] = {
		{ "help", CHAT_HELP, "help" },
		{ " help\t", CHAT_HELP, "help" },
		{ "quit", CHAT_QUIT, "quit" },
		{ "\tquit \r", CHAT_QUIT, "quit" },
	};
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(t); i++) {
		parse(&cmd, t[i].in, strlen(t[i].in));
		cr_assert_eq(cmd.type, t[i].type, "%s", t[i].in);
		cr_assert(str_is(cmd.type_text, t[i].text), "%s", t[i].in);
		cr_assert(!cmd.has_content, "%s", t[i].in);
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, treats_help_and_quit_with_anything_more_as_chat)
{
	static const char *in_[] = { "help me", "quit now", "HELP", "Quit",
	    "helpful", "quitter", "hel", "qui" };
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
	/* Any run of blanks after the word; the hub judges the name. */
	parse(&cmd, LIT("rename \t b b "));
	cr_assert_eq(cmd.type, CHAT_RENAME);
	cr_assert(str_is(cmd.content, "b b"));
	chat_cmd_clear(&cmd);
}

Test(chat_line, refuses_rename_without_a_name)
{
	static const char *in_[] = { "rename", "rename ", "rename \t " };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_BAD, "%s", in_[i]);
		cr_assert_str_eq(cmd.error, "rename needs a name: rename NAME");
		cr_assert(!cmd.not_text);
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, treats_words_that_only_start_like_rename_as_chat)
{
	static const char *in_[] = { "renamebob", "Rename bob" };
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

	parse(&cmd, LIT("to bob hi  there "));
	cr_assert_eq(cmd.type, CHAT_TO);
	cr_assert(str_is(cmd.type_text, "to"));
	cr_assert(str_is(cmd.to, "bob"));
	cr_assert(cmd.has_content);
	cr_assert(str_is(cmd.content, "hi  there"));
	chat_cmd_clear(&cmd);
}

Test(chat_line, splits_to_on_any_run_of_blanks)
{
	static const char *in_[] = { "to  bob x", "to\tbob x", "to bob\t\tx",
	    " to \t bob \t x \t" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_TO, "%s", in_[i]);
		cr_assert(str_is(cmd.to, "bob"), "%s", in_[i]);
		cr_assert(str_is(cmd.content, "x"), "%s", in_[i]);
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, refuses_to_without_a_name_or_a_text)
{
	static const char *in_[] = { "to bob", "to bob ", "to bob \t ",
	    "to ", "to", "to\tbob", "to  x" };
	struct chat_cmd	 cmd;
	size_t		 i;

	/* Never chat: that would broadcast a private message. */
	for (i = 0; i < NITEMS(in_); i++) {
		parse(&cmd, in_[i], strlen(in_[i]));
		cr_assert_eq(cmd.type, CHAT_BAD, "%s", in_[i]);
		cr_assert_str_eq(cmd.error,
		    "to needs a name and a text: to NAME text");
		cr_assert(!cmd.not_text);
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, treats_words_that_only_start_like_to_as_chat)
{
	static const char *in_[] = { "tobob x", "To bob x" };
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
		cr_assert(cmd.not_text);
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
		cr_assert(cmd.not_text);
		chat_cmd_clear(&cmd);
	}
}

Test(chat_line, keeps_a_cr_inside_the_line)
{
	struct chat_cmd	 cmd;

	/* A CR around the words is a blank; inside the text it is text. */
	parse(&cmd, LIT("a\rb"));
	cr_assert_eq(cmd.type, CHAT_USER);
	cr_assert(str_is(cmd.content, "a\rb"));
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

Test(chat_line, shows_control_characters_instead_of_sending_them)
{
	struct chat_msg	 m;

	/* A window title, colours and a bell, as an attacker sends them. */
	msg_init(&m, CHAT_USER);
	m.content = S("\033]0;HACKED\007\033[31mred\033[0m\tx\x7f");
	assert_line(&m, "[10.0.0.1:5555]ann: ^[]0;HACKED^G^[[31mred^[[0m^Ix^?\n");
	/* C1 (CSI U+009B, NEL U+0085) and bidi controls: shown by number. */
	m.content = S("a\xc2\x9b" "2Jb\xc2\x85" "c\xe2\x80\xae" "dcba\xe2\x81\xa6"
	    "\xe2\x80\x8f\xd8\x9c!");
	assert_line(&m, "[10.0.0.1:5555]ann: a<U+009B>2Jb<U+0085>c<U+202E>"
	    "dcba<U+2066><U+200F><U+061C>!\n");
	/* Names and addresses too, and in every kind of line. */
	m.type = CHAT_PRIVATE;
	m.from = S("ev\033[2Jil");
	m.content = S("\033[2J");
	assert_line(&m, "ev^[[2Jil says to you: ^[[2J\n");
	m.type = CHAT_LOGIN;
	m.peer = S("1.2.3.4:5\033");
	assert_line(&m, "[1.2.3.4:5^[]ev^[[2Jil: online\n");
	m.type = CHAT_SYSTEM;
	m.content = S("\033c");
	assert_line(&m, "system: ^[c\n");
}

Test(chat_line, escapes_text_for_a_terminal)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*want;
	} t[] = {
		{ LIT("plain \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"),
		    "plain \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80" },
		{ LIT("\0\x01\x1f\x7f"), "^@^A^_^?" },
		{ LIT("a\r\nb"), "a^M^Jb" },
		{ LIT("\xc2\x80\xc2\x9f\xc2\xa0"), "<U+0080><U+009F>\xc2\xa0" },
		{ LIT("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad"),
		    "<U+202A><U+202B><U+202C><U+202D>" },
		{ LIT("\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9\xe2\x80\x8e"),
		    "<U+2067><U+2068><U+2069><U+200E>" },
		/* Not UTF-8 (the server never sends it; wschat may get it). */
		{ LIT("a\xff" "b\xc3"), "a\\xffb\\xc3" },
		{ LIT("\xe2\x80"), "\\xe2\\x80" },
	};
	struct buf	 b;
	size_t		 i;

	for (i = 0; i < NITEMS(t); i++) {
		buf_init(&b, 0);
		chat_line_escape(&b, t[i].in, t[i].len);
		cr_assert_eq(b.len, strlen(t[i].want), "%zu: %.*s", i,
		    (int)b.len, (char *)b.base);
		cr_assert_eq(memcmp(b.base, t[i].want, b.len), 0, "%zu: %.*s",
		    i, (int)b.len, (char *)b.base);
		buf_clear(&b);
	}
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

Test(chat_line, writes_the_senders_copy_of_a_private_message)
{
	struct chat_msg	 m;

	msg_init(&m, CHAT_PRIVATE);
	m.to = S("bob");
	m.content = S("psst");
	m.sender_copy = 1;
	assert_line(&m, "you -> bob: psst\n");
	/* The addressee's name is the others' text: one line, no controls. */
	m.to = S("b\033[2J\nb");
	m.content = S("a\r\nb");
	assert_line(&m, "you -> b^[[2J b: a  b\n");
	/* The addressee's own line does not change. */
	m.to = S("bob");
	m.content = S("psst");
	m.sender_copy = 0;
	assert_line(&m, "ann says to you: psst\n");
}

Test(chat_line, answers_help_with_a_system_line_per_command)
{
	struct chat_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_HELP;
	assert_line(&m,
	    "system: who - list everyone online\n"
	    "system: who ROOM - list who is in ROOM\n"
	    "system: rename NAME - change your name to NAME\n"
	    "system: to NAME TEXT - send TEXT to NAME only\n"
	    "system: join ROOM - move to ROOM (you start in lobby)\n"
	    "system: leave - go back to lobby\n"
	    "system: rooms - list the rooms and how many are in each\n"
	    "system: history [N] - show the last N messages of your room\n"
	    "system: help - show this list\n"
	    "system: quit - leave the chat\n"
	    "system: anything else - chat to everyone in your room\n");
}

Test(chat_line, writes_joins_leaves_and_rooms)
{
	static const struct chat_room_count rooms[] = {
	    { { "lobby", 5 }, 3 }, { { "g\033", 2 }, 1 } };
	struct chat_msg	 m;

	msg_init(&m, CHAT_JOIN);
	m.room = S("games");
	assert_line(&m, "[10.0.0.1:5555]ann: joined games\n");
	msg_init(&m, CHAT_LEAVE);
	m.room = S("lobby");
	assert_line(&m, "[10.0.0.1:5555]ann: left lobby\n");
	memset(&m, 0, sizeof(m));
	m.type = CHAT_SYSTEM;
	m.content = S("joined");
	m.room = S("games");
	assert_line(&m, "system: joined games\n");
	memset(&m, 0, sizeof(m));
	m.type = CHAT_ROOMS;
	m.rooms = rooms;
	m.nrooms = 2;
	assert_line(&m, "room lobby: 3 online\nroom g^[: 1 online\n");
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

/* Each message as the line it was live, with its own sender's address. */
Test(chat_line, writes_a_history_as_the_lines_of_its_messages)
{
	struct chat_msg	 msgs[3], m;

	msg_init(&msgs[0], CHAT_USER);
	msgs[0].content = S("first\r\nline");
	msgs[0].id = 7;
	msgs[0].epoch = S("00000000deadbeef");
	msg_init(&msgs[1], CHAT_USER);
	msgs[1].peer = S("[::1]:7");
	msgs[1].from = S("b\033[2Job");
	msgs[1].content = S("\xe2\x80\xae evil");
	msg_init(&msgs[2], CHAT_USER);
	msgs[2].content = S("");
	memset(&m, 0, sizeof(m));
	m.type = CHAT_HISTORY;
	m.room = S("lobby");
	m.epoch = S("00000000deadbeef");
	m.msgs = msgs;
	m.nmsgs = 3;
	m.more = 1;
	assert_line(&m, "[10.0.0.1:5555]ann: first  line\n"
	    "[[::1]:7]b^[[2Job: <U+202E> evil\n"
	    "[10.0.0.1:5555]ann: \n");
	m.nmsgs = 1;
	assert_line(&m, "[10.0.0.1:5555]ann: first  line\n");
	/* Nothing to show still answers: the user asked. */
	m.nmsgs = 0;
	m.more = 0;
	assert_line(&m, "system: no messages\n");
}

/* A page of the largest messages: one buffer, the right size. */
Test(chat_line, writes_a_long_history)
{
	static char	 text[4096];
	struct chat_msg	*msgs, m;
	size_t		 i, len, line;

	memset(text, 'x', sizeof(text));
	cr_assert_not_null(msgs = calloc(200, sizeof(*msgs)));
	for (i = 0; i < 200; i++) {
		msg_init(&msgs[i], CHAT_USER);
		msgs[i].content = (struct chat_str){ text, sizeof(text) };
	}
	memset(&m, 0, sizeof(m));
	m.type = CHAT_HISTORY;
	m.msgs = msgs;
	m.nmsgs = 200;
	line = strlen("[10.0.0.1:5555]ann: \n") + sizeof(text);
	free(out);
	out = chat_msg_line(&m, &len);
	free(msgs);
	cr_assert_not_null(out);
	cr_assert_eq(len, 200 * line);
	for (i = 0; i < 200; i++)
		cr_assert_eq(out[WS_HEADROOM + (i + 1) * line - 1], '\n');
}

Test(chat_line, has_no_line_for_a_handshake_or_a_user_list)
{
	static const enum chat_type type[] = { CHAT_HANDSHAKE, CHAT_WHO,
	    CHAT_NONE, CHAT_TO, CHAT_QUIT, CHAT_UNKNOWN, CHAT_BAD,
	    CHAT_RESUME, CHAT_RESUMED };
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

/* ---------------------------------------------------------------- */
/* The reader */

static void
event_add(struct events *e, int rv, size_t end)
{
	struct event	*ev;

	cr_assert_lt(e->n, MAX_EVENTS);
	ev = &e->ev[e->n++];
	memset(ev, 0, sizeof(*ev));
	ev->rv = rv;
	ev->end = end;
	if (rv == CHAT_LINE_LINE) {
		ev->len = rd.ev_len;
		ev->line = malloc(rd.ev_len > 0 ? rd.ev_len : 1);
		cr_assert_not_null(ev->line);
		memcpy(ev->line, rd.ev_line, rd.ev_len);
	}
}

/*
 * Feed s to a fresh reader of lines up to max in pieces that end at the
 * offsets in cut[] (ascending; the last piece ends at len), each an
 * exact-size copy, and record what it reports.  After an event the rest
 * of the piece is fed again, even when nothing is left of it; AGAIN must
 * have used the whole piece.  The reader goes on after TOOLONG, which
 * skips the rest of that line.
 */
static void
reader_run(const char *s, size_t len, const size_t *cut, size_t ncut,
    size_t max, struct events *e)
{
	size_t	 c, start = 0, end, n, off, used;
	int	 rv;

	events_free(e);
	chat_line_reader_clear(&rd);
	chat_line_reader_init(&rd, max);
	for (c = 0; c <= ncut; c++) {
		end = c < ncut ? cut[c] : len;
		cr_assert_geq(end, start);
		n = end - start;
		copy_into(&piece, s + start, n);
		off = 0;
		for (;;) {
			used = (size_t)-1;
			rv = chat_line_reader_feed(&rd, piece + off, n - off,
			    &used);
			cr_assert_leq(used, n - off, "used %zu of %zu", used,
			    n - off);
			off += used;
			/* Never more than a line of max and a CR kept. */
			cr_assert_leq(rd.have, max + 1);
			cr_assert_leq(rd.cap, max + 1);
			if (rv == CHAT_LINE_AGAIN) {
				cr_assert_eq(off, n, "AGAIN with %zu bytes of "
				    "the piece left", n - off);
				break;
			}
			cr_assert(rv == CHAT_LINE_LINE ||
			    rv == CHAT_LINE_TOOLONG, "feed returned %d", rv);
			cr_assert_gt(used, 0);
			if (rv == CHAT_LINE_LINE) {
				cr_assert_leq(rd.ev_len, max);
				cr_assert_null(memchr(rd.ev_line, '\n',
				    rd.ev_len));
			}
			event_add(e, rv, start + off);
		}
		start = end;
	}
	chat_line_reader_clear(&rd);
}

static void
events_assert(const struct events *e, const struct want *w, size_t nw,
    const char *how)
{
	size_t	 i;

	cr_assert_eq(e->n, nw, "%s: %zu events, want %zu", how, e->n, nw);
	for (i = 0; i < nw; i++) {
		cr_assert_eq(e->ev[i].rv, w[i].rv, "%s: event %zu: %d, want %d",
		    how, i, e->ev[i].rv, w[i].rv);
		cr_assert_eq(e->ev[i].end, w[i].end, "%s: event %zu ends at "
		    "%zu, want %zu", how, i, e->ev[i].end, w[i].end);
		if (w[i].rv != CHAT_LINE_LINE)
			continue;
		cr_assert_eq(e->ev[i].len, w[i].len, "%s: line %zu: %zu bytes,"
		    " want %zu", how, i, e->ev[i].len, w[i].len);
		cr_assert_eq(memcmp(e->ev[i].line, w[i].line, w[i].len), 0,
		    "%s: line %zu: \"%.*s\"", how, i, (int)e->ev[i].len,
		    e->ev[i].line);
	}
}

/*
 * s must give the events w, however it is cut: whole, in two pieces at
 * every offset, in three at every pair of offsets, and byte by byte.
 */
static void
reader_check(const char *s, size_t len, size_t max, const struct want *w,
    size_t nw)
{
	size_t	 i, j, two[2];
	char	 how[64];

	reader_run(s, len, NULL, 0, max, &got);
	events_assert(&got, w, nw, "whole");
	for (i = 0; i <= len; i++) {
		reader_run(s, len, &i, 1, max, &got);
		snprintf(how, sizeof(how), "cut at %zu", i);
		events_assert(&got, w, nw, how);
		for (j = i; j <= len; j++) {
			two[0] = i;
			two[1] = j;
			reader_run(s, len, two, 2, max, &got);
			snprintf(how, sizeof(how), "cut at %zu and %zu", i, j);
			events_assert(&got, w, nw, how);
		}
	}
	free(cuts);
	cuts = malloc((len > 0 ? len : 1) * sizeof(*cuts));
	cr_assert_not_null(cuts);
	for (i = 0; i < len; i++)
		cuts[i] = i;
	reader_run(s, len, cuts, len, max, &got);
	events_assert(&got, w, nw, "byte by byte");
}

/* n bytes of 'x' then tail, in the heap buffer in; returns its length. */
static size_t
long_line(size_t n, const char *tail, size_t tlen)
{
	free(in);
	in = malloc(n + tlen);
	cr_assert_not_null(in);
	memset(in, 'x', n);
	memcpy(in + n, tail, tlen);
	return (n + tlen);
}

Test(chat_line, reader_cuts_lines_at_lf_and_crlf)
{
	static const char	 s[] = "hello\nwho\r\nto bob hi\n";
	static const struct want w[] = {
		W_LINE("hello", 6), W_LINE("who", 11), W_LINE("to bob hi", 21)
	};

	reader_check(LIT(s), 64, w, NITEMS(w));
}

Test(chat_line, reader_keeps_empty_lines)
{
	static const char	 s[] = "\n\r\n\nx\n";
	static const struct want w[] = {
		W_LINE("", 1), W_LINE("", 3), W_LINE("", 4), W_LINE("x", 6)
	};

	reader_check(LIT(s), 64, w, NITEMS(w));
}

Test(chat_line, reader_takes_off_only_the_cr_before_the_lf)
{
	static const char	 s[] = "a\rb\nc\r\r\n\r\r\n";
	static const struct want w[] = {
		W_LINE("a\rb", 4), W_LINE("c\r", 8), W_LINE("\r", 11)
	};

	reader_check(LIT(s), 64, w, NITEMS(w));
}

Test(chat_line, reader_waits_for_the_end_of_a_line)
{
	static const char	 s[] = "one\ntwo\r";
	static const struct want w[] = { W_LINE("one", 4) };

	/* "two" and its CR are kept, not a line until the LF comes. */
	reader_check(LIT(s), 64, w, NITEMS(w));
}

Test(chat_line, reader_joins_a_crlf_split_between_cr_and_lf)
{
	size_t	 used;

	chat_line_reader_init(&rd, 64);
	cr_assert_eq(chat_line_reader_feed(&rd, LIT("who\r"), &used),
	    CHAT_LINE_AGAIN);
	cr_assert_eq(used, 4);
	cr_assert_eq(chat_line_reader_feed(&rd, LIT("\nnext"), &used),
	    CHAT_LINE_LINE);
	cr_assert_eq(used, 1);
	cr_assert_eq(rd.ev_len, 3);
	cr_assert_eq(memcmp(rd.ev_line, "who", 3), 0);
}

Test(chat_line, reader_leaves_the_bytes_after_a_line_to_the_next_feed)
{
	const char	*s = copy_into(&piece, LIT("a\nbc\nd"));
	size_t		 used;

	chat_line_reader_init(&rd, 64);
	cr_assert_eq(chat_line_reader_feed(&rd, s, 6, &used), CHAT_LINE_LINE);
	cr_assert_eq(used, 2);
	/* A line that came whole is not copied. */
	cr_assert_eq(rd.ev_line, s);
	cr_assert_eq(rd.ev_len, 1);
	cr_assert_null(rd.buf);
	cr_assert_eq(chat_line_reader_feed(&rd, s + 2, 4, &used),
	    CHAT_LINE_LINE);
	cr_assert_eq(used, 3);
	cr_assert_eq(rd.ev_line, s + 2);
	cr_assert_eq(rd.ev_len, 2);
	cr_assert_eq(chat_line_reader_feed(&rd, s + 5, 1, &used),
	    CHAT_LINE_AGAIN);
	cr_assert_eq(used, 1);
	cr_assert_eq(chat_line_reader_feed(&rd, s + 6, 0, &used),
	    CHAT_LINE_AGAIN);
	cr_assert_eq(used, 0);
	cr_assert_eq(rd.have, 1);
}

Test(chat_line, reader_takes_a_line_of_exactly_max_bytes)
{
	static const struct want w[] = { W_LINE("xxxxxxxxxxxxxxxx", 17) };
	static const struct want wcr[] = { W_LINE("xxxxxxxxxxxxxxxx", 18) };
	size_t	 n;

	n = long_line(16, LIT("\n"));
	reader_check(in, n, 16, w, NITEMS(w));
	/* Its CR is not counted, wherever the input is cut. */
	n = long_line(16, LIT("\r\n"));
	reader_check(in, n, 16, wcr, NITEMS(wcr));
}

Test(chat_line, reader_refuses_a_line_of_max_and_one_bytes)
{
	static const struct want w[] = { W_LONG(17), W_LINE("ok", 21) };
	size_t	 n;

	/* Byte 17 tells; the rest of the line, to its LF, is skipped. */
	n = long_line(17, LIT("\nok\n"));
	reader_check(in, n, 16, w, NITEMS(w));
	n = long_line(17, LIT("\r\nok\n"));
	reader_check(in, n, 16, (struct want[]){ W_LONG(17),
	    W_LINE("ok", 22) }, 2);
	n = long_line(40, LIT("\r\n\r\n"));
	reader_check(in, n, 16, (struct want[]){ W_LONG(17),
	    W_LINE("", 44) }, 2);
}

Test(chat_line, reader_refuses_max_and_one_bytes_without_waiting_for_lf)
{
	static const struct want w[] = { W_LONG(17) };
	size_t	 n;

	n = long_line(17, LIT(""));
	reader_check(in, n, 16, w, NITEMS(w));
	/* Nor does it wait for more than max and a CR. */
	n = long_line(16, LIT("\rx"));
	reader_check(in, n, 16, (struct want[]){ W_LONG(18) }, 1);
	n = long_line(16, LIT("\r\r"));
	reader_check(in, n, 16, (struct want[]){ W_LONG(18) }, 1);
}

Test(chat_line, reader_waits_on_max_bytes_and_a_cr)
{
	size_t	 n;

	/* An LF may come yet and make it a line of max bytes. */
	n = long_line(16, LIT("\r"));
	reader_check(in, n, 16, NULL, 0);
	n = long_line(16, LIT(""));
	reader_check(in, n, 16, NULL, 0);
}

Test(chat_line, reader_refuses_a_long_line_after_short_ones)
{
	static const struct want w[] = {
		W_LINE("hi", 3), W_LINE("", 5), W_LONG(22)
	};
	size_t	 n;

	free(in);
	in = malloc(64);
	cr_assert_not_null(in);
	memcpy(in, "hi\n\r\n", 5);
	memset(in + 5, 'y', 20);
	n = 25;
	reader_check(in, n, 16, w, NITEMS(w));
}

Test(chat_line, reader_keeps_no_more_than_max_and_a_cr)
{
	size_t	 i, used;

	chat_line_reader_init(&rd, 1000);
	for (i = 0; i < 1000; i++) {
		cr_assert_eq(chat_line_reader_feed(&rd, "z", 1, &used),
		    CHAT_LINE_AGAIN);
		cr_assert_leq(rd.cap, 1001);
	}
	cr_assert_eq(chat_line_reader_feed(&rd, "\r", 1, &used),
	    CHAT_LINE_AGAIN);
	cr_assert_eq(rd.cap, 1001);
	cr_assert_eq(chat_line_reader_feed(&rd, "\n", 1, &used),
	    CHAT_LINE_LINE);
	cr_assert_eq(rd.ev_len, 1000);
	cr_assert_eq(rd.ev_line, rd.buf);
	/* The buffer stays for the next split line; it does not grow. */
	cr_assert_eq(chat_line_reader_feed(&rd, "zz", 2, &used),
	    CHAT_LINE_AGAIN);
	cr_assert_eq(rd.cap, 1001);
}

Test(chat_line, reader_clears_twice_and_from_zero)
{
	struct chat_line_reader	 z;
	size_t			 used;

	memset(&z, 0, sizeof(z));
	chat_line_reader_clear(&z);
	chat_line_reader_init(&rd, 16);
	cr_assert_eq(chat_line_reader_feed(&rd, "abc", 3, &used),
	    CHAT_LINE_AGAIN);
	cr_assert_not_null(rd.buf);
	chat_line_reader_clear(&rd);
	chat_line_reader_clear(&rd);
	cr_assert_null(rd.buf);
	cr_assert_eq(rd.have, 0);
}

Test(chat_line, reads_commands_sent_with_crlf)
{
	static const char	 s[] = "who\r\nrename al\r\nto al x\r\n"
				    "help\r\nquit\r\n";
	static const int	 type[] = { CHAT_WHO, CHAT_RENAME, CHAT_TO,
				    CHAT_HELP, CHAT_QUIT };
	struct chat_cmd		 cmd;
	size_t			 i, off = 0, used;
	const char		*p = copy_into(&piece, LIT(s));

	chat_line_reader_init(&rd, 64);
	for (i = 0; i < NITEMS(type); i++) {
		cr_assert_eq(chat_line_reader_feed(&rd, p + off,
		    sizeof(s) - 1 - off, &used), CHAT_LINE_LINE);
		off += used;
		chat_cmd_parse_line(rd.ev_line, rd.ev_len, &cmd);
		cr_assert_eq(cmd.type, type[i], "%zu", i);
		chat_cmd_clear(&cmd);
	}
	cr_assert_eq(off, sizeof(s) - 1);
}

/*
 * The line port closes a line that goes on past max_message_size: the
 * reader counts every byte of a line too long, however it is cut, up to
 * and with its LF; the next line too long is counted afresh.
 */
Test(chat_line, reader_counts_the_bytes_of_a_line_too_long)
{
	static const char	 s[] = "aaaaaaaaaaaaaaaaaaaa\nnext\n";
	size_t			 cut, off, used, n;
	int			 rv, lines;

	for (cut = 0; cut <= sizeof(s) - 1; cut++) {
		chat_line_reader_init(&rd, 8);
		off = 0;
		lines = 0;
		while (off < sizeof(s) - 1) {
			n = (off < cut ? cut : sizeof(s) - 1) - off;
			copy_into(&piece, s + off, n);
			rv = chat_line_reader_feed(&rd, piece, n, &used);
			off += used;
			if (rv == CHAT_LINE_TOOLONG)
				cr_assert_eq(rd.skipped, 9, "cut %zu", cut);
			if (rv == CHAT_LINE_LINE) {
				cr_assert_eq(rd.skipped, 21, "cut %zu: %zu",
				    cut, rd.skipped);
				cr_assert_eq(rd.ev_len, 4);
				lines++;
			}
		}
		cr_assert_eq(lines, 1, "cut %zu", cut);
		chat_line_reader_clear(&rd);
	}
}
