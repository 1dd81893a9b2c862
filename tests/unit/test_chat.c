/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_chat.c: the chat codecs: client commands from JSON and MessagePack,
 * messages to clients in both, the bus envelope.  Names have a file of
 * their own, test_chat_name.c.
 */

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>		/* malloc_usable_size() */
#endif

#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>

#include "wschatd.h"
#include "ws.h"
#include "chat.h"

#define S(x)	(struct chat_str){ (x), sizeof(x) - 1 }

static int
str_is(struct chat_str s, const char *want)
{
	return (s.p != NULL && s.len == strlen(want) &&
	    memcmp(s.p, want, s.len) == 0);
}

Test(chat, parses_a_json_login)
{
	struct chat_cmd	 cmd;
	const char	*in = "{\"type\":\"login\",\"content\":\"alice\"}";

	cr_assert_eq(chat_cmd_parse_json(in, strlen(in), &cmd),
	    CHAT_PARSE_OK);
	cr_assert_eq(cmd.type, CHAT_LOGIN);
	cr_assert(cmd.has_content);
	cr_assert(str_is(cmd.content, "alice"));
	chat_cmd_clear(&cmd);
}

Test(chat, parses_to_with_unknown_fields_ignored)
{
	struct chat_cmd	 cmd;
	const char	*in = " {\"x\":[1,2],\"type\":\"to\",\"to\":\"bob\","
			    "\"content\":\"hi \\u00e9\",\"extra\":null}\n";

	cr_assert_eq(chat_cmd_parse_json(in, strlen(in), &cmd),
	    CHAT_PARSE_OK);
	cr_assert_eq(cmd.type, CHAT_TO);
	cr_assert(str_is(cmd.to, "bob"));
	cr_assert(str_is(cmd.content, "hi \xc3\xa9"));
	chat_cmd_clear(&cmd);
}

Test(chat, treats_non_objects_as_raw_chat)
{
	static const char *in[] = { "hello", "", "  ", "[1,2]", "\"str\"",
	    "42", "null", "x {\"type\":\"user\"}", "[{" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		cr_assert_eq(chat_cmd_parse_json(in[i], strlen(in[i]), &cmd),
		    CHAT_PARSE_NOT_OBJECT, "%s", in[i]);
		chat_cmd_clear(&cmd);
	}
}

Test(chat, refuses_text_that_starts_like_an_object_but_is_not_json)
{
	static const char *in[] = { "{bad json", "{oops", "{", " \t\r\n{",
	    "{\"type\":\"user\"", "{\"type\":\"user\",\"content\":\"x\"}x",
	    "{}{}", "{\"type\":\"user\",}", "{'type':'user'}" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		cr_assert_eq(chat_cmd_parse_json(in[i], strlen(in[i]), &cmd),
		    CHAT_PARSE_BAD, "%s", in[i]);
		chat_cmd_clear(&cmd);
		/* Answered bad_message, with a reason; never chat. */
		chat_cmd_parse(CHAT_FMT_JSON, 0, in[i], strlen(in[i]), &cmd);
		cr_assert_eq(cmd.type, CHAT_BAD, "%s", in[i]);
		cr_assert_not_null(cmd.error);
		cr_assert_not_null(strstr(cmd.error, "JSON"), "%s", cmd.error);
		chat_cmd_clear(&cmd);
	}
}

Test(chat, refuses_malformed_objects)
{
	static const char *in[] = { "{}", "{\"type\":1}",
	    "{\"type\":\"user\",\"content\":5}",
	    "{\"type\":\"to\",\"to\":[\"x\"]}",
	    "{\"type\":\"join\",\"room\":{}}",
	    "{\"type\":\"user\",\"type\":\"who\"}" };
	struct chat_cmd	 cmd;
	size_t		 i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		cr_assert_eq(chat_cmd_parse_json(in[i], strlen(in[i]), &cmd),
		    CHAT_PARSE_BAD, "%s", in[i]);
		chat_cmd_clear(&cmd);
	}
}

Test(chat, reports_unknown_types_with_their_text)
{
	struct chat_cmd	 cmd;
	const char	*in = "{\"type\":\"dance\"}";

	cr_assert_eq(chat_cmd_parse_json(in, strlen(in), &cmd),
	    CHAT_PARSE_OK);
	cr_assert_eq(cmd.type, CHAT_UNKNOWN);
	cr_assert(str_is(cmd.type_text, "dance"));
	chat_cmd_clear(&cmd);
}

static size_t
pack_cmd(char *out, size_t outsz, const char *type, const char *key,
    const char *val, int val_is_bin)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	size_t		 n;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, key ? 3 : 2);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_str_with_body(&pk, type, strlen(type));
	msgpack_pack_str_with_body(&pk, "ignored", 7);
	msgpack_pack_int(&pk, 7);
	if (key) {
		msgpack_pack_str_with_body(&pk, key, strlen(key));
		if (val_is_bin)
			msgpack_pack_bin_with_body(&pk, val, strlen(val));
		else
			msgpack_pack_str_with_body(&pk, val, strlen(val));
	}
	cr_assert_leq(sb.size, outsz);
	memcpy(out, sb.data, sb.size);
	n = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return (n);
}

Test(chat, parses_msgpack_commands)
{
	struct chat_cmd	 cmd;
	char		 buf[256];
	size_t		 n;

	n = pack_cmd(buf, sizeof(buf), "user", "content", "hi", 0);
	cr_assert_eq(chat_cmd_parse_msgpack(buf, n, &cmd), CHAT_PARSE_OK);
	cr_assert_eq(cmd.type, CHAT_USER);
	cr_assert(str_is(cmd.content, "hi"));
	chat_cmd_clear(&cmd);

	n = pack_cmd(buf, sizeof(buf), "join", "room", "den", 1);
	cr_assert_eq(chat_cmd_parse_msgpack(buf, n, &cmd), CHAT_PARSE_OK);
	cr_assert_eq(cmd.type, CHAT_JOIN);
	cr_assert(str_is(cmd.room, "den"));
	chat_cmd_clear(&cmd);
}

Test(chat, refuses_bad_msgpack)
{
	struct chat_cmd	 cmd;
	char		 buf[256];
	size_t		 n;
	const char	 arr[] = { (char)0x92, 0x01, 0x02 };
	const char	 trunc[] = { (char)0x82, (char)0xa4, 't' };

	/* Not UTF-8 in a string field. */
	n = pack_cmd(buf, sizeof(buf), "user", "content", "\xff\xfe", 0);
	cr_assert_eq(chat_cmd_parse_msgpack(buf, n, &cmd), CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
	/* A map with no type. */
	n = pack_cmd(buf, sizeof(buf), "user", NULL, NULL, 0);
	buf[n - 1] = buf[n - 1];	/* type present: fine */
	cr_assert_eq(chat_cmd_parse_msgpack(buf, n, &cmd), CHAT_PARSE_OK);
	chat_cmd_clear(&cmd);
	/* Not a map, truncated, trailing garbage. */
	cr_assert_eq(chat_cmd_parse_msgpack(arr, sizeof(arr), &cmd),
	    CHAT_PARSE_NOT_OBJECT);
	chat_cmd_clear(&cmd);
	cr_assert_eq(chat_cmd_parse_msgpack(trunc, sizeof(trunc), &cmd),
	    CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
	n = pack_cmd(buf, sizeof(buf), "who", NULL, NULL, 0);
	buf[n++] = 0x01;
	cr_assert_eq(chat_cmd_parse_msgpack(buf, n, &cmd), CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
}

/* A field twice is ambiguous, in MessagePack as in JSON: refused. */
Test(chat, refuses_a_field_given_twice)
{
	static const char *const fields[] = { "type", "content", "to", "room" };
	struct chat_cmd	 cmd;
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	char		 json[128];
	size_t		 i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 3);
		msgpack_pack_str_with_body(&pk, "type", 4);
		msgpack_pack_str_with_body(&pk, "join", 4);
		msgpack_pack_str_with_body(&pk, fields[i], strlen(fields[i]));
		msgpack_pack_str_with_body(&pk, "join", 4);
		msgpack_pack_str_with_body(&pk, fields[i], strlen(fields[i]));
		msgpack_pack_str_with_body(&pk, "user", 4);
		cr_expect_eq(chat_cmd_parse_msgpack(sb.data, sb.size, &cmd),
		    CHAT_PARSE_BAD, "msgpack: %s twice", fields[i]);
		chat_cmd_clear(&cmd);
		msgpack_sbuffer_destroy(&sb);
		snprintf(json, sizeof(json), "{\"type\":\"join\",\"%s\":"
		    "\"join\",\"%s\":\"user\"}", fields[i], fields[i]);
		cr_expect_eq(chat_cmd_parse_json(json, strlen(json), &cmd),
		    CHAT_PARSE_BAD, "json: %s twice", fields[i]);
		chat_cmd_clear(&cmd);
	}
	/* An unknown field twice means nothing to us: ignored. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_str_with_body(&pk, "who", 3);
	msgpack_pack_str_with_body(&pk, "x", 1);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_str_with_body(&pk, "x", 1);
	msgpack_pack_int(&pk, 2);
	cr_expect_eq(chat_cmd_parse_msgpack(sb.data, sb.size, &cmd),
	    CHAT_PARSE_OK);
	chat_cmd_clear(&cmd);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * Found by tests/fuzz/fuzz_chat_msgpack.c: a container's count made
 * msgpack-c allocate its elements before reading them, here 1.2 GiB for
 * 22 bytes (and 64 GiB for five).  The ASan build fails on the allocation.
 */
Test(chat, refuses_msgpack_counting_more_than_it_holds)
{
	struct chat_cmd	 cmd;
	const char	 arr[] = { (char)0xdd, 0x04, 'y', 'p', 'e',
			    (char)0xc4, 0x04, (char)0xc6, 'o', 'i', 'n' };
	const char	 map[] = { (char)0xdf, (char)0xff, (char)0xff,
			    (char)0xff, (char)0xff };
	const char	 inner[] = { (char)0x81, (char)0xa4, 't', 'y', 'p',
			    'e', (char)0xdd, 0x7f, (char)0xff, (char)0xff,
			    (char)0xff, 0x01 };

	cr_assert_eq(chat_cmd_parse_msgpack(arr, sizeof(arr), &cmd),
	    CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
	cr_assert_eq(chat_cmd_parse_msgpack(map, sizeof(map), &cmd),
	    CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
	cr_assert_eq(chat_cmd_parse_msgpack(inner, sizeof(inner), &cmd),
	    CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
}

Test(chat, ignores_empty_chat)
{
	static const char *in[] = { "", " ", " \t\r\n\v\f",
	    "{\"type\":\"user\",\"content\":\"\"}",
	    "{\"type\":\"user\",\"content\":\" \\t\\n \"}" };
	/* Not blank: a dot, a no-break space, an escaped NUL. */
	static const char *chat[] = { ".", " . ", "\xc2\xa0",
	    "{\"type\":\"user\",\"content\":\" x \"}",
	    "{\"type\":\"user\",\"content\":\"\\u0000\"}" };
	struct chat_cmd	 cmd;
	char		 mp[64];
	size_t		 i, n;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		chat_cmd_parse(CHAT_FMT_JSON, 0, in[i], strlen(in[i]), &cmd);
		cr_assert_eq(cmd.type, CHAT_NONE, "%s", in[i]);
		chat_cmd_clear(&cmd);
	}
	for (i = 0; i < sizeof(chat) / sizeof(chat[0]); i++) {
		chat_cmd_parse(CHAT_FMT_JSON, 0, chat[i], strlen(chat[i]),
		    &cmd);
		cr_assert_eq(cmd.type, CHAT_USER, "%s", chat[i]);
		chat_cmd_clear(&cmd);
	}
	/* The same in MessagePack; and an empty private message is not chat. */
	n = pack_cmd(mp, sizeof(mp), "user", "content", "  ", 0);
	chat_cmd_parse(CHAT_FMT_MSGPACK, 1, mp, n, &cmd);
	cr_assert_eq(cmd.type, CHAT_NONE);
	chat_cmd_clear(&cmd);
	n = pack_cmd(mp, sizeof(mp), "user", "content", "", 1);
	chat_cmd_parse(CHAT_FMT_MSGPACK, 1, mp, n, &cmd);
	cr_assert_eq(cmd.type, CHAT_NONE);
	chat_cmd_clear(&cmd);
	n = pack_cmd(mp, sizeof(mp), "to", "content", "", 0);
	chat_cmd_parse(CHAT_FMT_MSGPACK, 1, mp, n, &cmd);
	cr_assert_eq(cmd.type, CHAT_TO);
	chat_cmd_clear(&cmd);
}

Test(chat, encodes_a_user_message_as_json_once)
{
	struct chat_msg	 m;
	uint8_t		*buf;
	size_t		 len;
	json_t		*o;
	json_error_t	 err;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_USER;
	m.from = S("al\"ice");
	m.content = S("h\xc3\xa9llo\n");
	m.room = S("lobby");
	m.timestamp = 1700000000123ULL;
	m.id = 42;
	buf = chat_msg_json(&m, &len);
	cr_assert_not_null(buf);
	o = json_loadb((char *)buf + WS_HEADROOM, len, 0, &err);
	cr_assert_not_null(o, "%s", err.text);
	cr_assert_str_eq(json_string_value(json_object_get(o, "type")),
	    "user");
	cr_assert_str_eq(json_string_value(json_object_get(o, "from")),
	    "al\"ice");
	cr_assert_str_eq(json_string_value(json_object_get(o, "content")),
	    "h\xc3\xa9llo\n");
	cr_assert_eq(json_integer_value(json_object_get(o, "timestamp")),
	    1700000000123LL);
	cr_assert_eq(json_integer_value(json_object_get(o, "id")), 42);
	cr_assert_null(json_object_get(o, "user_list"));
	cr_assert_null(json_object_get(o, "code"));
	json_decref(o);
	free(buf);
}

/*
 * chat_msg_json() writes JSON by hand, for speed.  What it writes must be
 * what jansson's compact dump of the same object was, byte for byte:
 * clients saw that before, and may compare strings.
 */
static json_t *
jansson_object(const struct chat_msg *m, int top)
{
	json_t	*o = json_object(), *l, *r;
	size_t	 i;

#define SET(k, v) if ((v).p != NULL) json_object_set_new(o, k, \
	json_stringn((v).p, (v).len))
	json_object_set_new(o, "type", json_string(chat_type_name(m->type)));
	SET("from", m->from);
	SET("user", m->user);
	SET("to", m->to);
	SET("content", m->content);
	SET("room", m->room);
	SET("code", m->code);
	SET("ip", m->ip);
#undef SET
	if (m->timestamp)
		json_object_set_new(o, "timestamp", json_integer(m->timestamp));
	if (m->id)
		json_object_set_new(o, "id", json_integer(m->id));
	if (m->epoch.p != NULL)
		json_object_set_new(o, "epoch", json_stringn(m->epoch.p,
		    m->epoch.len));
	if (m->session.p != NULL) {
		json_object_set_new(o, "session", json_stringn(m->session.p,
		    m->session.len));
		json_object_set_new(o, "resume_timeout",
		    json_integer(m->resume_timeout));
	}
	if (m->has_online)
		json_object_set_new(o, "online", json_integer(m->online));
	if (m->has_user_list) {
		l = json_array();
		for (i = 0; i < m->nusers; i++)
			json_array_append_new(l, json_stringn(m->user_list[i].p,
			    m->user_list[i].len));
		json_object_set_new(o, "user_list", l);
	}
	if (m->rooms != NULL) {
		l = json_array();
		for (i = 0; i < m->nrooms; i++) {
			r = json_object();
			json_object_set_new(r, "room", json_stringn(
			    m->rooms[i].room.p, m->rooms[i].room.len));
			json_object_set_new(r, "members",
			    json_integer(m->rooms[i].members));
			json_array_append_new(l, r);
		}
		json_object_set_new(o, "rooms", l);
	}
	if (top && m->type == CHAT_HISTORY) {
		l = json_array();
		for (i = 0; i < m->nmsgs; i++)
			json_array_append_new(l, jansson_object(&m->msgs[i], 0));
		json_object_set_new(o, "messages", l);
	}
	if (m->more || m->type == CHAT_HISTORY)
		json_object_set_new(o, "more", json_boolean(m->more));
	return (o);
}

static char *
jansson_reference(const struct chat_msg *m)
{
	json_t	*o = jansson_object(m, 1);
	char	*s;

	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return (s);
}

static void
expect_as_jansson(const struct chat_msg *m)
{
	uint8_t	*buf;
	size_t	 len;
	char	*ref = jansson_reference(m);

	cr_assert_not_null(ref);
	buf = chat_msg_json(m, &len);
	cr_assert_not_null(buf);
	cr_expect_eq(len, strlen(ref), "%.*s\n%s", (int)len,
	    (char *)buf + WS_HEADROOM, ref);
	cr_expect(len == strlen(ref) && memcmp(buf + WS_HEADROOM, ref,
	    len) == 0, "%.*s\n%s", (int)len, (char *)buf + WS_HEADROOM, ref);
	free(buf);
	free(ref);
}

Test(chat, takes_the_common_user_message_apart_without_jansson)
{
	static const struct {
		const char	*in;
		int		 fast;
		const char	*content;
	} t[] = {
		{ "{\"type\":\"user\",\"content\":\"hi there\"}", 1, "hi there" },
		{ "{\"type\":\"user\",\"content\":\"h\xc3\xa9\x7f\"}", 1,
		    "h\xc3\xa9\x7f" },
		/* jansson's: an escape, a blank, another order. */
		{ "{\"type\":\"user\",\"content\":\"a\\\"b\"}", 0, "a\"b" },
		{ "{\"type\":\"user\",\"content\":\"a\\u0041\"}", 0, "aA" },
		{ "{\"type\": \"user\",\"content\":\"x\"}", 0, "x" },
		{ "{\"content\":\"x\",\"type\":\"user\"}", 0, "x" },
		{ "{\"type\":\"user\",\"content\":\"x\"} ", 0, "x" },
	};
	static const char *bad[] = {
		/* Not JSON, or not UTF-8: jansson refuses them. */
		"{\"type\":\"user\",\"content\":\"a\tb\"}",
		"{\"type\":\"user\",\"content\":\"\xc3\"}",
		"{\"type\":\"user\",\"content\":\"x\",\"content\":\"y\"}",
		"{\"type\":\"user\",\"content\":\"x\"}}",
	};
	struct chat_cmd	 cmd;
	struct chat_str	 c;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_expect_eq(chat_json_user_fast(t[i].in, strlen(t[i].in), &c),
		    t[i].fast, "%s", t[i].in);
		cr_assert_eq(chat_cmd_parse_json(t[i].in, strlen(t[i].in),
		    &cmd), CHAT_PARSE_OK, "%s", t[i].in);
		cr_expect_eq(cmd.type, CHAT_USER, "%s", t[i].in);
		cr_expect(cmd.has_content && cmd.content.len ==
		    strlen(t[i].content) && memcmp(cmd.content.p,
		    t[i].content, cmd.content.len) == 0, "%s", t[i].in);
		chat_cmd_clear(&cmd);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(chat_json_user_fast(bad[i], strlen(bad[i]), &c), 0,
		    "%s", bad[i]);
		cr_expect_eq(chat_cmd_parse_json(bad[i], strlen(bad[i]), &cmd),
		    CHAT_PARSE_BAD, "%s", bad[i]);
		chat_cmd_clear(&cmd);
	}
}

Test(chat, writes_json_as_jansson_did)
{
	struct chat_msg		 m;
	struct chat_str		 names[3] = { S("a"), S("b\"c"), S("\xe2\x82\xac") };
	struct chat_room_count	 rooms[2];
	char			 ctl[64];
	int			 i;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_USER;
	m.from = S("al\"ice\\");
	for (i = 0; i < 32; i++)
		ctl[i] = (char)i;
	memcpy(ctl + 32, "\x7f/\"\\ <>&'\xc3\xa9\xe2\x80\xae", 14);
	m.content = (struct chat_str){ ctl, 46 };
	m.room = S("lobby");
	m.timestamp = 1700000000123ULL;
	m.id = 18446744073709551ULL;
	expect_as_jansson(&m);

	memset(&m, 0, sizeof(m));
	m.type = CHAT_LOGIN;
	m.from = m.user = m.content = S("bob");
	m.has_user_list = 1;
	expect_as_jansson(&m);		/* an empty list */
	m.user_list = names;
	m.nusers = 3;
	m.has_online = 1;
	m.online = 3;
	expect_as_jansson(&m);

	memset(&m, 0, sizeof(m));
	m.type = CHAT_ROOMS;
	m.rooms = rooms;
	expect_as_jansson(&m);		/* no rooms */
	rooms[0] = (struct chat_room_count){ S("lobby"), 7 };
	rooms[1] = (struct chat_room_count){ S("r\n1"), 4294967295U };
	m.nrooms = 2;
	m.more = 1;
	expect_as_jansson(&m);

	memset(&m, 0, sizeof(m));
	m.type = CHAT_SYSTEM;
	m.code = S("bad_name");
	m.content = S("");
	m.ip = S("127.0.0.1:5");
	expect_as_jansson(&m);
}

Test(chat, refuses_to_write_json_that_is_not_utf8)
{
	struct chat_msg	 m;
	size_t		 len;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_USER;
	m.content = S("\xc3");
	cr_assert_null(chat_msg_json(&m, &len));
}

/*
 * m in MessagePack, unpacked into *up, which must be exactly one object.
 * Its strings point into the buffer returned: free it after up.
 */
static uint8_t *
msgpack_round(const struct chat_msg *m, msgpack_unpacked *up)
{
	uint8_t	*buf;
	size_t	 len, off = 0;

	buf = chat_msg_msgpack(m, &len);
	cr_assert_not_null(buf);
	msgpack_unpacked_init(up);
	cr_assert_eq(msgpack_unpack_next(up, (char *)buf + WS_HEADROOM, len,
	    &off), MSGPACK_UNPACK_SUCCESS);
	cr_assert_eq(off, len);
	return (buf);
}

Test(chat, encodes_user_lists_in_both_formats)
{
	struct chat_str	 users[] = { S("a"), S("b\xc3\xa9"), S("c") };
	struct chat_msg	 m;
	uint8_t		*buf;
	size_t		 len;
	msgpack_unpacked up;
	msgpack_object	*root, *v = NULL;
	uint32_t	 i;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_LOGIN;
	m.from = m.user = m.content = S("b\xc3\xa9");
	m.user_list = users;
	m.nusers = 3;
	m.has_user_list = 1;
	buf = msgpack_round(&m, &up);
	root = &up.data;
	cr_assert_eq(root->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(root->via.map.size, 5);
	for (i = 0; i < root->via.map.size; i++)
		if (root->via.map.ptr[i].key.via.str.size == 9 &&
		    memcmp(root->via.map.ptr[i].key.via.str.ptr, "user_list",
		    9) == 0)
			v = &root->via.map.ptr[i].val;
	cr_assert_not_null(v);
	cr_assert_eq(v->type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(v->via.array.size, 3);
	cr_assert_eq(v->via.array.ptr[1].via.str.size, 3);
	msgpack_unpacked_destroy(&up);
	free(buf);

	m.nusers = 0;
	buf = chat_msg_json(&m, &len);
	cr_assert_not_null(buf);
	cr_assert(len > 0);
	cr_assert_not_null(memmem(buf + WS_HEADROOM, len, "\"user_list\":[]",
	    14));
	free(buf);
}

Test(chat, parses_who_pages_and_refuses_bad_limits)
{
	static const char *bad[] = { "{\"type\":\"who\",\"limit\":0}",
	    "{\"type\":\"who\",\"limit\":-3}",
	    "{\"type\":\"who\",\"limit\":2.5}",
	    "{\"type\":\"who\",\"limit\":\"9\"}",
	    "{\"type\":\"who\",\"after\":7}" };
	struct chat_cmd	 cmd;
	const char	*in = "{\"type\":\"who\",\"room\":\"g\",\"limit\":50,"
	    "\"after\":\"bob\"}";
	size_t		 i;

	cr_assert_eq(chat_cmd_parse_json(in, strlen(in), &cmd),
	    CHAT_PARSE_OK);
	cr_assert_eq(cmd.type, CHAT_WHO);
	cr_assert(str_is(cmd.room, "g"));
	cr_assert(str_is(cmd.after, "bob"));
	cr_assert_eq(cmd.limit, 50);
	chat_cmd_clear(&cmd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(chat_cmd_parse_json(bad[i], strlen(bad[i]),
		    &cmd), CHAT_PARSE_BAD, "%s", bad[i]);
		chat_cmd_clear(&cmd);
	}
	in = "{\"type\":\"rooms\"}";
	cr_assert_eq(chat_cmd_parse_json(in, strlen(in), &cmd),
	    CHAT_PARSE_OK);
	cr_assert_eq(cmd.type, CHAT_ROOMS);
	cr_assert_eq(cmd.limit, 0);
	chat_cmd_clear(&cmd);
	/* MessagePack: {"type":"who","limit":3,"after":"a"}, then limit 0. */
	in = "\x83\xa4type\xa3who\xa5limit\x03\xa5" "after\xa1\x61";
	cr_assert_eq(chat_cmd_parse_msgpack(in, 25, &cmd), CHAT_PARSE_OK);
	cr_assert_eq(cmd.limit, 3);
	cr_assert(str_is(cmd.after, "a"));
	chat_cmd_clear(&cmd);
	in = "\x82\xa4type\xa3who\xa5limit\x00";
	cr_assert_eq(chat_cmd_parse_msgpack(in, 17, &cmd), CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
}

/*
 * "after" and "limit" are who's: any other type ignores them, as it
 * ignores any field it does not know, whatever their value.
 */
Test(chat, ignores_who_fields_on_other_types)
{
	static const char *ok[] = {
	    "{\"type\":\"user\",\"content\":\"hi\",\"limit\":\"all\"}",
	    "{\"type\":\"user\",\"content\":\"hi\",\"after\":5}",
	    "{\"type\":\"join\",\"room\":\"g\",\"limit\":-1}" };
	struct chat_cmd	 cmd;
	const char	*in;
	size_t		 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(chat_cmd_parse_json(ok[i], strlen(ok[i]), &cmd),
		    CHAT_PARSE_OK, "%s", ok[i]);
		cr_assert_eq(cmd.limit, 0);
		cr_assert_null(cmd.after.p);
		chat_cmd_clear(&cmd);
	}
	/* MessagePack {"limit":0,"after":5,"type":"user","content":"x"}:
	 * the type comes last, and still decides. */
	in = "\x84\xa5limit\x00\xa5" "after\x05\xa4type\xa4user"
	    "\xa7" "content\xa1x";
	cr_assert_eq(chat_cmd_parse_msgpack(in, 35, &cmd), CHAT_PARSE_OK);
	cr_assert_eq(cmd.type, CHAT_USER);
	cr_assert_null(cmd.after.p);
	chat_cmd_clear(&cmd);
	/* The same fields on who are refused. */
	in = "\x83\xa5limit\x00\xa5" "after\x05\xa4type\xa3who";
	cr_assert_eq(chat_cmd_parse_msgpack(in, 24, &cmd), CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
}

Test(chat, encodes_rooms_and_a_cut_list)
{
	static const struct chat_room_count rooms[] = {
	    { { "lobby", 5 }, 3 }, { { "games", 5 }, 1 } };
	static const char want[] = "{\"type\":\"rooms\",\"rooms\":["
	    "{\"room\":\"lobby\",\"members\":3},"
	    "{\"room\":\"games\",\"members\":1}]}";
	struct chat_str	 users[] = { S("a") };
	struct chat_msg	 m;
	uint8_t		*buf;
	size_t		 len;
	msgpack_unpacked up;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_ROOMS;
	m.rooms = rooms;
	m.nrooms = 2;
	buf = chat_msg_json(&m, &len);
	cr_assert_not_null(buf);
	cr_assert_eq(len, strlen(want), "%.*s", (int)len,
	    (char *)buf + WS_HEADROOM);
	cr_assert_eq(memcmp(buf + WS_HEADROOM, want, len), 0);
	free(buf);
	buf = msgpack_round(&m, &up);
	cr_assert_eq(up.data.via.map.size, 2);
	cr_assert_eq(up.data.via.map.ptr[1].val.type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(up.data.via.map.ptr[1].val.via.array.size, 2);
	msgpack_unpacked_destroy(&up);
	free(buf);

	memset(&m, 0, sizeof(m));
	m.type = CHAT_WHO;
	m.room = S("games");
	m.user_list = users;
	m.nusers = 1;
	m.has_user_list = 1;
	m.more = 1;
	buf = chat_msg_json(&m, &len);
	cr_assert_not_null(buf);
	cr_assert_eq(memcmp(buf + WS_HEADROOM, "{\"type\":\"who\",\"room\":"
	    "\"games\",\"user_list\":[\"a\"],\"more\":true}", len), 0);
	free(buf);
}

Test(chat, encodes_the_online_count_of_version_2)
{
	struct chat_msg	 m;
	uint8_t		*buf;
	size_t		 len;
	static const char json[] = "{\"type\":\"logout\",\"from\":\"ann\","
	    "\"user\":\"ann\",\"content\":\"ann\",\"room\":\"lobby\","
	    "\"online\":7}";
	/* fixmap of 6, then the same pairs; 7 is a positive fixint. */
	static const char mp[] = "\x86" "\xa4" "type" "\xa6" "logout"
	    "\xa4" "from" "\xa3" "ann" "\xa4" "user" "\xa3" "ann"
	    "\xa7" "content" "\xa3" "ann" "\xa4" "room" "\xa5" "lobby"
	    "\xa6" "online" "\x07";

	memset(&m, 0, sizeof(m));
	m.type = CHAT_LOGOUT;
	m.from = m.user = m.content = S("ann");
	m.room = S("lobby");
	m.online = 7;
	m.has_online = 1;
	buf = chat_msg_encode(CHAT_FMT_JSON2, &m, &len);
	cr_assert_not_null(buf);
	cr_assert_eq(len, sizeof(json) - 1);
	cr_assert_arr_eq(buf + WS_HEADROOM, json, len);
	free(buf);
	buf = chat_msg_encode(CHAT_FMT_MSGPACK2, &m, &len);
	cr_assert_not_null(buf);
	cr_assert_eq(len, sizeof(mp) - 1);
	cr_assert_arr_eq(buf + WS_HEADROOM, mp, len);
	free(buf);
	/* No count unless asked for: version 1 stays as it was. */
	m.has_online = 0;
	buf = chat_msg_encode(CHAT_FMT_JSON, &m, &len);
	cr_assert_null(memmem(buf + WS_HEADROOM, len, "online", 6));
	free(buf);
}

Test(chat, reads_msgpack_in_version_2_too)
{
	char		 mp[64];
	size_t		 n;
	struct chat_cmd	 cmd;

	n = pack_cmd(mp, sizeof(mp), "login", "content", "ann", 1);
	chat_cmd_parse(CHAT_FMT_MSGPACK2, 1, mp, n, &cmd);
	cr_assert_eq(cmd.type, CHAT_LOGIN);
	chat_cmd_clear(&cmd);
	/* Binary frames are MessagePack only where it was negotiated. */
	chat_cmd_parse(CHAT_FMT_JSON2, 1, mp, n, &cmd);
	cr_assert_eq(cmd.type, CHAT_BAD);
	chat_cmd_clear(&cmd);
}

Test(chat, round_trips_the_bus_envelope)
{
	struct chat_env		 e, d;
	struct chat_dec		*dec;
	struct buf		 b;

	memset(&e, 0, sizeof(e));
	e.type = CHAT_PRIVATE;
	e.room = S("lobby");
	e.from = S("alice");
	e.to = S("bob");
	e.content = S("secret \x00 with nul");
	e.peer = S("127.0.0.1:4242");
	e.ts = 1700000000999ULL;
	e.id = UINT64_MAX - 1;
	e.worker = 3;
	e.conn = 1ULL << 40;
	e.to_worker = 1;
	e.to_conn = 77;
	e.kind = CHAT_FMT_MSGPACK;
	buf_init(&b, 0);
	cr_assert_eq(chat_env_encode(&e, &b), 0);
	cr_assert_not_null(dec = chat_dec_new());
	cr_assert_eq(chat_env_decode(dec, (const char *)b.base, b.len, &d), 0);
	cr_assert_eq(d.type, CHAT_PRIVATE);
	cr_assert(str_is(d.room, "lobby"));
	cr_assert(str_is(d.from, "alice"));
	cr_assert(str_is(d.to, "bob"));
	cr_assert_eq(d.content.len, e.content.len);
	cr_assert_eq(memcmp(d.content.p, e.content.p, e.content.len), 0);
	cr_assert(str_is(d.peer, "127.0.0.1:4242"));
	cr_assert_eq(d.ts, e.ts);
	cr_assert_eq(d.id, e.id);
	cr_assert_eq(d.worker, 3);
	cr_assert_eq(d.conn, 1ULL << 40);
	cr_assert_eq(d.to_worker, 1);
	cr_assert_eq(d.to_conn, 77);
	cr_assert_eq(d.kind, CHAT_FMT_MSGPACK);
	chat_dec_free(dec);
	buf_clear(&b);
}

Test(chat, refuses_undecodable_envelopes)
{
	struct chat_env		 d;
	struct chat_dec		*up;
	const char		 notmap[] = { (char)0x91, 0x01 };
	const char		 notype[] = { (char)0x81, (char)0xa1, 'x', 0x01 };
	const char		 huge[] = { (char)0xdd, (char)0xa1, (char)0xa2,
				    0x5e, (char)0x87, (char)0xdd };

	cr_assert_not_null(up = chat_dec_new());
	cr_assert_eq(chat_env_decode(up, notmap, sizeof(notmap), &d), -1);
	cr_assert_eq(chat_env_decode(up, notype, sizeof(notype), &d), -1);
	cr_assert_eq(chat_env_decode(up, "", 0, &d), -1);
	/* An array claiming 2.7e9 elements in six bytes (fuzz_env.c). */
	cr_assert_eq(chat_env_decode(up, huge, sizeof(huge), &d), -1);
	chat_dec_free(up);
}

Test(chat, accepts_escaped_nul_in_json_strings)
{
	struct chat_cmd	 cmd;
	const char	*in = "{\"type\":\"login\",\"content\":\"a\\u0000b\"}";

	cr_assert_eq(chat_cmd_parse_json(in, strlen(in), &cmd),
	    CHAT_PARSE_OK);
	cr_assert_eq(cmd.type, CHAT_LOGIN);
	cr_assert_eq(cmd.content.len, 3);
	cr_assert_eq(cmd.content.p[1], '\0');
	/* A name it cannot be (test_chat_name.c has the rules). */
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, cmd.content.p,
	    cmd.content.len, NULL), CHAT_NAME_CONTROL);
	chat_cmd_clear(&cmd);
}

static void
assert_line(const struct chat_msg *m, const char *want)
{
	uint8_t	*buf;
	size_t	 len;

	buf = chat_msg_line(m, &len);
	cr_assert_not_null(buf);
	cr_assert_eq(len, strlen(want), "%.*s", (int)len,
	    (char *)buf + WS_HEADROOM);
	cr_assert_eq(memcmp(buf + WS_HEADROOM, want, len), 0, "%.*s",
	    (int)len, (char *)buf + WS_HEADROOM);
	free(buf);
}

Test(chat, renders_the_line_format)
{
	struct chat_msg	 m;

	memset(&m, 0, sizeof(m));
	m.peer = S("10.0.0.1:5555");
	m.from = S("ann");
	m.type = CHAT_USER;
	m.content = S("two\nlines\r\nhere");
	assert_line(&m, "[10.0.0.1:5555]ann: two lines  here\n");
	m.type = CHAT_LOGIN;
	assert_line(&m, "[10.0.0.1:5555]ann: online\n");
	m.type = CHAT_LOGOUT;
	assert_line(&m, "[10.0.0.1:5555]ann: offline\n");
	m.type = CHAT_RENAME;
	m.content = S("bob");
	assert_line(&m, "[10.0.0.1:5555]ann: renamed to bob\n");
	m.type = CHAT_PRIVATE;
	m.content = S("psst");
	assert_line(&m, "ann says to you: psst\n");
	m.type = CHAT_SYSTEM;
	m.content = S("no");
	m.code = S("bad_name");
	assert_line(&m, "error: no\n");
	m.code.p = NULL;
	assert_line(&m, "system: no\n");
	m.type = CHAT_HANDSHAKE;
	cr_assert_null(chat_msg_line(&m, &(size_t){ 0 }));
}

Test(chat, shares_a_headerless_buffer)
{
	uint8_t		*buf = malloc(WS_HEADROOM + 3);
	struct ws_out	*o;

	memcpy(buf + WS_HEADROOM, "hi\n", 3);
	o = ws_out_raw(buf, 3);
	cr_assert_not_null(o);
	cr_assert_eq(o->wo_len, 3);
	cr_assert_eq(memcmp(o->wo_data, "hi\n", 3), 0);
	ws_out_ref(o);
	ws_out_unref(o);
	ws_out_unref(o);
}

/* ---------------------------------------------------------------- */
/* History and resume (protocol version 2)                          */

/* j as MessagePack, the same value: for a case of both parsers at once. */
static void
pack_json(msgpack_packer *pk, json_t *j)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(j));
		json_object_foreach(j, k, v) {
			msgpack_pack_str_with_body(pk, k, strlen(k));
			pack_json(pk, v);
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(j));
		json_array_foreach(j, i, v)
			pack_json(pk, v);
		break;
	case JSON_STRING:
		msgpack_pack_str_with_body(pk, json_string_value(j),
		    json_string_length(j));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(j));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(j));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	case JSON_NULL:
		msgpack_pack_nil(pk);
		break;
	}
}

/*
 * Parse the JSON text in and its MessagePack twin; both must give rv.
 * *mp holds the twin, whose strings cmd[1] points into: free both after.
 */
static void
parse_both(const char *in, int rv, struct chat_cmd cmd[2],
    msgpack_sbuffer *sb)
{
	json_t		*j;
	json_error_t	 err;
	msgpack_packer	 pk;

	cr_assert_eq(chat_cmd_parse_json(in, strlen(in), &cmd[0]), rv,
	    "json: %s", in);
	cr_assert_not_null(j = json_loads(in, 0, &err), "%s", in);
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	pack_json(&pk, j);
	json_decref(j);
	cr_assert_eq(chat_cmd_parse_msgpack(sb->data, sb->size, &cmd[1]), rv,
	    "msgpack: %s", in);
}

static void
clear_both(struct chat_cmd cmd[2], msgpack_sbuffer *sb)
{
	chat_cmd_clear(&cmd[0]);
	chat_cmd_clear(&cmd[1]);
	msgpack_sbuffer_destroy(sb);
}

Test(chat, parses_history_requests)
{
	static const struct {
		const char	*in;
		const char	*room;
		uint64_t	 before, limit;
	} t[] = {
		{ "{\"type\":\"history\"}", NULL, 0, 0 },
		{ "{\"type\":\"history\",\"room\":\"den\",\"before\":120,"
		    "\"limit\":30}", "den", 120, 30 },
		{ "{\"limit\":1,\"before\":1,\"type\":\"history\"}", NULL, 1,
		    1 },
		/* 0 or null: the latest, as if absent. */
		{ "{\"type\":\"history\",\"before\":0,\"limit\":null}", NULL,
		    0, 0 },
		{ "{\"type\":\"history\",\"before\":9223372036854775807,"
		    "\"room\":null}", NULL, 9223372036854775807ULL, 0 },
		/* Fields of other types mean nothing to it. */
		{ "{\"type\":\"history\",\"after\":5,\"session\":[],"
		    "\"since\":1,\"limit\":2}", NULL, 0, 2 },
	};
	struct chat_cmd	 cmd[2];
	msgpack_sbuffer	 sb;
	size_t		 i, f;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse_both(t[i].in, CHAT_PARSE_OK, cmd, &sb);
		for (f = 0; f < 2; f++) {
			cr_assert_eq(cmd[f].type, CHAT_HISTORY, "%s", t[i].in);
			cr_assert_eq(cmd[f].before, t[i].before, "%s",
			    t[i].in);
			cr_assert_eq(cmd[f].limit, t[i].limit, "%s", t[i].in);
			if (t[i].room == NULL)
				cr_assert_null(cmd[f].room.p, "%s", t[i].in);
			else
				cr_assert(str_is(cmd[f].room, t[i].room),
				    "%s", t[i].in);
			cr_assert_null(cmd[f].after.p);
			cr_assert_null(cmd[f].session.p);
			cr_assert_eq(cmd[f].since, 0);
		}
		clear_both(cmd, &sb);
	}
}

Test(chat, refuses_bad_history_requests)
{
	static const struct {
		const char	*in;
		const char	*why;	/* NULL: the generic reason */
	} t[] = {
		{ "{\"type\":\"history\",\"before\":-1}", "\"before\"" },
		{ "{\"type\":\"history\",\"before\":1.5}", "\"before\"" },
		{ "{\"type\":\"history\",\"before\":\"7\"}", "\"before\"" },
		{ "{\"type\":\"history\",\"before\":[7]}", "\"before\"" },
		{ "{\"type\":\"history\",\"before\":true}", "\"before\"" },
		{ "{\"type\":\"history\",\"limit\":0}", "\"limit\"" },
		{ "{\"type\":\"history\",\"limit\":-2}", "\"limit\"" },
		{ "{\"type\":\"history\",\"limit\":\"9\"}", "\"limit\"" },
		{ "{\"type\":\"history\",\"limit\":2.0}", "\"limit\"" },
		{ "{\"type\":\"history\",\"room\":5}", NULL },
	};
	struct chat_cmd	 cmd[2];
	msgpack_sbuffer	 sb;
	size_t		 i, f;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse_both(t[i].in, CHAT_PARSE_BAD, cmd, &sb);
		for (f = 0; f < 2; f++) {
			if (t[i].why == NULL)
				continue;
			cr_assert_not_null(cmd[f].error, "%s", t[i].in);
			cr_assert_not_null(strstr(cmd[f].error, t[i].why),
			    "%s: %s", t[i].in, cmd[f].error);
		}
		clear_both(cmd, &sb);
	}
}

Test(chat, parses_resume_and_its_largest_id)
{
	static const struct {
		const char	*in;
		uint64_t	 since;
	} t[] = {
		{ "{\"type\":\"resume\",\"session\":\"tok\"}", 0 },
		{ "{\"type\":\"resume\",\"session\":\"tok\",\"since\":null}",
		    0 },
		{ "{\"type\":\"resume\",\"session\":\"tok\",\"since\":{}}", 0 },
		{ "{\"type\":\"resume\",\"session\":\"tok\",\"since\":"
		    "{\"lobby\":17,\"den\":42,\"x\":0}}", 42 },
		{ "{\"since\":{\"\":9223372036854775807},\"session\":\"tok\","
		    "\"type\":\"resume\"}", 9223372036854775807ULL },
		/* Fields of other types mean nothing to it. */
		{ "{\"type\":\"resume\",\"session\":\"tok\",\"limit\":0,"
		    "\"before\":-1,\"after\":1}", 0 },
	};
	struct chat_cmd	 cmd[2];
	msgpack_sbuffer	 sb;
	size_t		 i, f;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		parse_both(t[i].in, CHAT_PARSE_OK, cmd, &sb);
		for (f = 0; f < 2; f++) {
			cr_assert_eq(cmd[f].type, CHAT_RESUME, "%s", t[i].in);
			cr_assert(str_is(cmd[f].session, "tok"), "%s",
			    t[i].in);
			cr_assert_eq(cmd[f].since, t[i].since, "%s", t[i].in);
			cr_assert_eq(cmd[f].limit, 0);
			cr_assert_eq(cmd[f].before, 0);
			cr_assert_null(cmd[f].after.p);
		}
		clear_both(cmd, &sb);
	}
}

/* A "since" of n rooms, each with id i; and a token of n bytes. */
static char *
since_of(size_t n)
{
	char	*s = malloc(64 + n * 24), *p;
	size_t	 i;

	cr_assert_not_null(s);
	p = s + sprintf(s, "{\"type\":\"resume\",\"session\":\"t\","
	    "\"since\":{");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s\"r%zu\":%zu", i > 0 ? "," : "", i, i);
	strcpy(p, "}}");
	return (s);
}

static char *
token_of(size_t n)
{
	char	*s = malloc(64 + n);

	cr_assert_not_null(s);
	strcpy(s, "{\"type\":\"resume\",\"session\":\"");
	memset(s + strlen(s), 'k', n);
	strcpy(s + 28 + n, "\"}");
	return (s);
}

Test(chat, refuses_bad_resumes)
{
	static const char *bad[] = {
		"{\"type\":\"resume\"}",
		"{\"type\":\"resume\",\"session\":null}",
		"{\"type\":\"resume\",\"session\":\"\"}",
		"{\"type\":\"resume\",\"session\":5}",
		"{\"type\":\"resume\",\"session\":[\"tok\"]}",
		"{\"type\":\"resume\",\"session\":\"t\",\"since\":[]}",
		"{\"type\":\"resume\",\"session\":\"t\",\"since\":7}",
		"{\"type\":\"resume\",\"session\":\"t\",\"since\":\"x\"}",
		"{\"type\":\"resume\",\"session\":\"t\",\"since\":{\"a\":-1}}",
		"{\"type\":\"resume\",\"session\":\"t\",\"since\":{\"a\":1.5}}",
		"{\"type\":\"resume\",\"session\":\"t\",\"since\":{\"a\":\"3\"}}",
		"{\"type\":\"resume\",\"session\":\"t\",\"since\":{\"a\":null}}",
		"{\"type\":\"resume\",\"session\":\"t\",\"since\":"
		    "{\"a\":1,\"b\":{}}}",
	};
	struct chat_cmd	 cmd[2];
	msgpack_sbuffer	 sb;
	char		*in;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_both(bad[i], CHAT_PARSE_BAD, cmd, &sb);
		cr_assert_not_null(cmd[0].error, "%s", bad[i]);
		cr_assert_not_null(cmd[1].error, "%s", bad[i]);
		cr_assert(strstr(cmd[0].error, "\"s") != NULL, "%s: %s",
		    bad[i], cmd[0].error);
		cr_assert_str_eq(cmd[0].error, cmd[1].error, "%s", bad[i]);
		clear_both(cmd, &sb);
	}
	/* The bounds: a token of 128 bytes, 64 rooms; one more is bad. */
	in = token_of(128);
	parse_both(in, CHAT_PARSE_OK, cmd, &sb);
	cr_assert_eq(cmd[0].session.len, 128);
	cr_assert_eq(cmd[1].session.len, 128);
	clear_both(cmd, &sb);
	free(in);
	in = token_of(129);
	parse_both(in, CHAT_PARSE_BAD, cmd, &sb);
	clear_both(cmd, &sb);
	free(in);
	in = since_of(64);
	parse_both(in, CHAT_PARSE_OK, cmd, &sb);
	cr_assert_eq(cmd[0].since, 63);
	cr_assert_eq(cmd[1].since, 63);
	clear_both(cmd, &sb);
	free(in);
	in = since_of(65);
	parse_both(in, CHAT_PARSE_BAD, cmd, &sb);
	clear_both(cmd, &sb);
	free(in);
}

/* MessagePack that JSON cannot say: bytes, keys that are not text. */
Test(chat, refuses_resumes_that_only_msgpack_can_send)
{
	struct chat_cmd	 cmd;
	/* {"type":"resume","session":"t","since":{1:5}} */
	static const char intkey[] = "\x83\xa4type\xa6resume\xa7session"
	    "\xa1t\xa5since\x81\x01\x05";
	/* ... "session": bin "t", "since": {"a": 2^64 - 1} */
	static const char big[] = "\x83\xa4type\xa6resume\xa7session"
	    "\xc4\x01t\xa5since\x81\xa1\x61\xcf\xff\xff\xff\xff\xff\xff\xff"
	    "\xff";
	/* ... "session": "\xff" (not UTF-8) */
	static const char notutf8[] = "\x82\xa4type\xa6resume\xa7session"
	    "\xa1\xff";
	/* {"type":"resume","session":"t","session":"u"} */
	static const char twice[] = "\x83\xa4type\xa6resume\xa7session"
	    "\xa1t\xa7session\xa1u";

	cr_assert_eq(chat_cmd_parse_msgpack(intkey, sizeof(intkey) - 1, &cmd),
	    CHAT_PARSE_BAD);
	cr_assert_not_null(strstr(cmd.error, "\"since\""));
	chat_cmd_clear(&cmd);
	cr_assert_eq(chat_cmd_parse_msgpack(big, sizeof(big) - 1, &cmd),
	    CHAT_PARSE_OK);
	cr_assert_eq(cmd.since, UINT64_MAX);
	cr_assert(str_is(cmd.session, "t"));
	chat_cmd_clear(&cmd);
	cr_assert_eq(chat_cmd_parse_msgpack(notutf8, sizeof(notutf8) - 1,
	    &cmd), CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
	cr_assert_eq(chat_cmd_parse_msgpack(twice, sizeof(twice) - 1, &cmd),
	    CHAT_PARSE_BAD);
	chat_cmd_clear(&cmd);
}

/* The new fields on other types are ignored, as any unknown field. */
Test(chat, ignores_history_and_resume_fields_on_other_types)
{
	static const char *ok[] = {
	    "{\"type\":\"user\",\"content\":\"hi\",\"before\":\"x\","
		"\"session\":5,\"since\":[]}",
	    "{\"type\":\"who\",\"before\":-1,\"since\":{\"a\":-1}}",
	    "{\"type\":\"login\",\"content\":\"ann\",\"session\":\"\"}",
	    "{\"type\":\"resumed\",\"user\":\"ann\"}" };
	struct chat_cmd	 cmd[2];
	msgpack_sbuffer	 sb;
	size_t		 i, f;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		parse_both(ok[i], CHAT_PARSE_OK, cmd, &sb);
		for (f = 0; f < 2; f++) {
			cr_assert_eq(cmd[f].before, 0);
			cr_assert_eq(cmd[f].since, 0);
			cr_assert_null(cmd[f].session.p);
		}
		clear_both(cmd, &sb);
	}
}

Test(chat, names_the_new_types)
{
	cr_assert_str_eq(chat_type_name(CHAT_HISTORY), "history");
	cr_assert_str_eq(chat_type_name(CHAT_RESUME), "resume");
	cr_assert_str_eq(chat_type_name(CHAT_RESUMED), "resumed");
}

/* A decoded MessagePack value as JSON, to compare with the JSON form. */
static json_t *
json_of_mp(const msgpack_object *o)
{
	json_t		*j;
	uint32_t	 i;
	char		*k;

	switch (o->type) {
	case MSGPACK_OBJECT_MAP:
		j = json_object();
		for (i = 0; i < o->via.map.size; i++) {
			cr_assert_eq(o->via.map.ptr[i].key.type,
			    MSGPACK_OBJECT_STR);
			k = strndup(o->via.map.ptr[i].key.via.str.ptr,
			    o->via.map.ptr[i].key.via.str.size);
			cr_assert_not_null(k);
			/* Twice would be one key here: say so. */
			cr_assert_null(json_object_get(j, k), "%s twice", k);
			json_object_set_new(j, k,
			    json_of_mp(&o->via.map.ptr[i].val));
			free(k);
		}
		return (j);
	case MSGPACK_OBJECT_ARRAY:
		j = json_array();
		for (i = 0; i < o->via.array.size; i++)
			json_array_append_new(j,
			    json_of_mp(&o->via.array.ptr[i]));
		return (j);
	case MSGPACK_OBJECT_STR:
		return (json_stringn(o->via.str.ptr, o->via.str.size));
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return (json_integer((json_int_t)o->via.u64));
	case MSGPACK_OBJECT_BOOLEAN:
		return (json_boolean(o->via.boolean));
	default:
		cr_assert_fail("type %d in the MessagePack", o->type);
		return (NULL);
	}
}

/*
 * m in JSON must be want byte for byte and what jansson would write; in
 * MessagePack, the same keys and values in the same order.
 */
static void
expect_both(const struct chat_msg *m, const char *want)
{
	msgpack_unpacked up;
	uint8_t		*buf;
	size_t		 len;
	json_t		*j;
	char		*s;

	buf = chat_msg_json(m, &len);
	cr_assert_not_null(buf);
	cr_expect(len == strlen(want) && memcmp(buf + WS_HEADROOM, want,
	    len) == 0, "%.*s\n%s", (int)len, (char *)buf + WS_HEADROOM, want);
	free(buf);
	expect_as_jansson(m);
	buf = msgpack_round(m, &up);
	j = json_of_mp(&up.data);
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	cr_expect_str_eq(s, want);
	free(s);
	json_decref(j);
	msgpack_unpacked_destroy(&up);
	free(buf);
}

Test(chat, writes_the_epoch_of_version_2_after_the_id)
{
	struct chat_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_USER;
	m.from = S("ann");
	m.content = S("hi");
	m.room = S("lobby");
	m.timestamp = 1700000000123ULL;
	m.id = 42;
	m.epoch = S("00000000deadbeef");
	expect_both(&m, "{\"type\":\"user\",\"from\":\"ann\",\"content\":"
	    "\"hi\",\"room\":\"lobby\",\"timestamp\":1700000000123,\"id\":42,"
	    "\"epoch\":\"00000000deadbeef\"}");
	/* Version 1: no epoch, the bytes of before. */
	m.epoch.p = NULL;
	expect_both(&m, "{\"type\":\"user\",\"from\":\"ann\",\"content\":"
	    "\"hi\",\"room\":\"lobby\",\"timestamp\":1700000000123,\"id\":42}");
	memset(&m, 0, sizeof(m));
	m.type = CHAT_PRIVATE;
	m.from = S("ann");
	m.to = S("bob");
	m.content = S("psst");
	m.timestamp = 5;
	m.id = 43;
	m.epoch = S("0123456789abcdef");
	expect_both(&m, "{\"type\":\"private\",\"from\":\"ann\",\"to\":\"bob\","
	    "\"content\":\"psst\",\"timestamp\":5,\"id\":43,"
	    "\"epoch\":\"0123456789abcdef\"}");
}

Test(chat, writes_the_session_of_logged_in)
{
	struct chat_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_SYSTEM;
	m.code = S("logged_in");
	m.content = S("logged in as ann");
	m.session = S("c2Vzc2lvbg\"x");
	m.resume_timeout = 30;
	expect_both(&m, "{\"type\":\"system\",\"content\":\"logged in as ann\","
	    "\"code\":\"logged_in\",\"session\":\"c2Vzc2lvbg\\\"x\","
	    "\"resume_timeout\":30}");
	/* A timeout of 0 is still said: the token comes with it. */
	m.resume_timeout = 0;
	m.session = S("t");
	expect_both(&m, "{\"type\":\"system\",\"content\":\"logged in as ann\","
	    "\"code\":\"logged_in\",\"session\":\"t\",\"resume_timeout\":0}");
}

Test(chat, writes_a_history_with_its_messages_as_live_ones)
{
	struct chat_msg	 msgs[2], m;

	memset(msgs, 0, sizeof(msgs));
	msgs[0].type = CHAT_USER;
	msgs[0].from = S("ann");
	msgs[0].content = S("first\n\"one\"");
	msgs[0].room = S("lobby");
	msgs[0].peer = S("10.0.0.1:5");	/* the line format's alone */
	msgs[0].timestamp = 1700000000000ULL;
	msgs[0].id = 7;
	msgs[0].epoch = S("00000000deadbeef");
	msgs[1] = msgs[0];
	msgs[1].from = S("b\xc3\xa9");
	msgs[1].content = S("second");
	msgs[1].timestamp++;
	msgs[1].id = 9;
	memset(&m, 0, sizeof(m));
	m.type = CHAT_HISTORY;
	m.room = S("lobby");
	m.epoch = S("00000000deadbeef");
	m.msgs = msgs;
	m.nmsgs = 2;
	m.more = 1;
	expect_both(&m, "{\"type\":\"history\",\"room\":\"lobby\","
	    "\"epoch\":\"00000000deadbeef\",\"messages\":["
	    "{\"type\":\"user\",\"from\":\"ann\",\"content\":"
	    "\"first\\n\\\"one\\\"\",\"room\":\"lobby\","
	    "\"timestamp\":1700000000000,\"id\":7,"
	    "\"epoch\":\"00000000deadbeef\"},"
	    "{\"type\":\"user\",\"from\":\"b\xc3\xa9\",\"content\":\"second\","
	    "\"room\":\"lobby\",\"timestamp\":1700000000001,\"id\":9,"
	    "\"epoch\":\"00000000deadbeef\"}],\"more\":true}");
	/* None (a new room), and none older: "more" says so too. */
	m.room = S("den");
	m.nmsgs = 0;
	m.more = 0;
	expect_both(&m, "{\"type\":\"history\",\"room\":\"den\","
	    "\"epoch\":\"00000000deadbeef\",\"messages\":[],\"more\":false}");
	m.msgs = NULL;
	expect_both(&m, "{\"type\":\"history\",\"room\":\"den\","
	    "\"epoch\":\"00000000deadbeef\",\"messages\":[],\"more\":false}");
}

Test(chat, writes_resumed)
{
	struct chat_msg	 m;

	memset(&m, 0, sizeof(m));
	m.type = CHAT_RESUMED;
	m.user = S("ann");
	m.room = S("den");
	expect_both(&m, "{\"type\":\"resumed\",\"user\":\"ann\","
	    "\"room\":\"den\"}");
}

/* A page of 200 messages of 4 KB: whole, in one buffer of its size. */
Test(chat, writes_a_long_history_in_both_formats)
{
	static char		 text[4096];
	struct chat_msg		*msgs, m;
	msgpack_unpacked	 up;
	uint8_t			*buf;
	size_t			 i, len;
	json_t			*o, *l;
	json_error_t		 err;

	memset(text, 'x', sizeof(text));
	cr_assert_not_null(msgs = calloc(200, sizeof(*msgs)));
	for (i = 0; i < 200; i++) {
		msgs[i].type = CHAT_USER;
		msgs[i].from = S("somebody");
		msgs[i].content = (struct chat_str){ text, sizeof(text) };
		msgs[i].room = S("lobby");
		msgs[i].timestamp = 1700000000000ULL + i;
		msgs[i].id = 1000 + i;
		msgs[i].epoch = S("00000000deadbeef");
	}
	memset(&m, 0, sizeof(m));
	m.type = CHAT_HISTORY;
	m.room = S("lobby");
	m.epoch = S("00000000deadbeef");
	m.msgs = msgs;
	m.nmsgs = 200;
	buf = chat_msg_json(&m, &len);
	cr_assert_not_null(buf);
	cr_assert_gt(len, 200 * sizeof(text));
#ifdef __GLIBC__
	/* Not a doubling's room to spare: it may wait in a queue. */
	cr_assert_lt(malloc_usable_size(buf), WS_HEADROOM + len + len / 8);
#endif
	o = json_loadb((char *)buf + WS_HEADROOM, len, 0, &err);
	cr_assert_not_null(o, "%s", err.text);
	l = json_object_get(o, "messages");
	cr_assert_eq(json_array_size(l), 200);
	cr_assert_eq(json_integer_value(json_object_get(json_array_get(l,
	    199), "id")), 1199);
	cr_assert_eq(json_string_length(json_object_get(json_array_get(l,
	    0), "content")), sizeof(text));
	json_decref(o);
	free(buf);
	buf = msgpack_round(&m, &up);
	cr_assert_eq(up.data.via.map.ptr[3].val.via.array.size, 200);
	msgpack_unpacked_destroy(&up);
	free(buf);
	free(msgs);
}
