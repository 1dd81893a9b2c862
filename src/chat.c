/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * chat.c: codecs of the chat protocol.  Client commands arrive as JSON
 * (parsed with jansson) or as MessagePack maps with the same keys (parsed
 * with msgpack-c); messages to clients leave in either form, encoded once
 * per event and worker into a buffer with room for the frame header in
 * front; events cross the bus as compact MessagePack envelopes.  hub.c
 * decides what to send to whom.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "wschatd.h"
#include "chat.h"
#include "utf8.h"
#include "ws.h"

static const struct {
	const char	*name;
	enum chat_type	 type;
} chat_types[] = {
	{ "handshake",	CHAT_HANDSHAKE },
	{ "login",	CHAT_LOGIN },
	{ "logout",	CHAT_LOGOUT },
	{ "user",	CHAT_USER },
	{ "private",	CHAT_PRIVATE },
	{ "rename",	CHAT_RENAME },
	{ "who",	CHAT_WHO },
	{ "system",	CHAT_SYSTEM },
	{ "to",		CHAT_TO },
	{ "join",	CHAT_JOIN },
	{ "leave",	CHAT_LEAVE },
	{ "rooms",	CHAT_ROOMS },
	{ "history",	CHAT_HISTORY },
	{ "resume",	CHAT_RESUME },
	{ "resumed",	CHAT_RESUMED },
};
#define CHAT_NTYPES	(sizeof(chat_types) / sizeof(chat_types[0]))

const char *
chat_type_name(enum chat_type t)
{
	size_t	 i;

	for (i = 0; i < CHAT_NTYPES; i++)
		if (chat_types[i].type == t)
			return (chat_types[i].name);
	return ("unknown");
}

static enum chat_type
chat_type_parse(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < CHAT_NTYPES; i++)
		if (strlen(chat_types[i].name) == len &&
		    memcmp(chat_types[i].name, p, len) == 0)
			return (chat_types[i].type);
	return (CHAT_UNKNOWN);
}

void
chat_cmd_clear(struct chat_cmd *cmd)
{
	if (cmd->priv != NULL)
		json_decref(cmd->priv);
	memset(cmd, 0, sizeof(*cmd));
}

/*
 * What a resume may carry, bounded as everything a client sends: a token
 * (the hub's are shorter) and the last id seen in at most so many rooms.
 */
#define CHAT_SESSION_MAX	128
#define CHAT_SINCE_MAX		64

/* Why a field is refused; the same words for JSON and MessagePack. */
static const char chat_why_after[] = "\"after\" is a name";
static const char chat_why_limit[] = "\"limit\" is a whole number, 1 or more";
static const char chat_why_before[] = "\"before\" is a message id, a whole "
    "number";
static const char chat_why_session[] = "\"resume\" needs \"session\", the "
    "token of \"logged_in\" (1 to 128 bytes)";
static const char chat_why_since[] = "\"since\" is an object of at most 64 "
    "rooms, each with a message id (a whole number)";

/* Fetch an optional string member; -1 if present but not a string. */
static int
chat_json_str(json_t *obj, const char *key, struct chat_str *out)
{
	json_t	*v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_string(v))
		return (-1);
	out->p = json_string_value(v);
	out->len = json_string_length(v);
	return (1);
}

/*
 * The message nearly every chat client sends, {"type":"user","content":
 * "..."} byte for byte as JSON.stringify() and jansson's compact dump
 * write it, with text that needs no unescaping, is taken apart here:
 * jansson's parse (a hash table, a copy of every string) cost 16,000
 * instructions per message, the most a worker spent per message once the
 * output queue and the JSON writer were done.  Anything else (an escape,
 * a blank, another key or order, text that is not UTF-8) goes to
 * jansson, so what is taken here means exactly what it means there; the
 * fuzzer checks that (tests/fuzz/fuzz_chat_json.c).  Returns 1 with
 * *content pointing into buf, or 0.
 */
int
chat_json_user_fast(const char *buf, size_t len, struct chat_str *content)
{
	static const char	 head[] = "{\"type\":\"user\",\"content\":\"";
	const size_t		 hl = sizeof(head) - 1;
	size_t			 i;
	unsigned char		 ch;

	if (len < hl + 2 || memcmp(buf, head, hl) != 0 ||
	    buf[len - 2] != '"' || buf[len - 1] != '}')
		return (0);
	for (i = hl; i < len - 2; i++) {
		ch = (unsigned char)buf[i];
		if (ch < 0x20 || ch == '"' || ch == '\\')
			return (0);
	}
	if (utf8_validate(UTF8_ACCEPT, (const uint8_t *)buf + hl,
	    len - 2 - hl, NULL) != UTF8_ACCEPT)
		return (0);
	content->p = buf + hl;
	content->len = len - 2 - hl;
	return (1);
}

/*
 * An optional whole number member, min or more, into *out (0: absent or
 * null).  CHAT_PARSE_OK, or CHAT_PARSE_BAD with cmd->error = why.
 */
static int
chat_json_count(json_t *obj, const char *key, json_int_t min, uint64_t *out,
    const char *why, struct chat_cmd *cmd)
{
	json_t	*v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return (CHAT_PARSE_OK);
	if (!json_is_integer(v) || json_integer_value(v) < min) {
		cmd->error = why;
		return (CHAT_PARSE_BAD);
	}
	*out = (uint64_t)json_integer_value(v);
	return (CHAT_PARSE_OK);
}

/* resume: "session", and the largest id of "since" in cmd->since. */
static int
chat_json_resume(json_t *root, struct chat_cmd *cmd)
{
	json_t		*since, *v;
	const char	*room;

	if (chat_json_str(root, "session", &cmd->session) != 1 ||
	    cmd->session.len < 1 || cmd->session.len > CHAT_SESSION_MAX) {
		cmd->error = chat_why_session;
		return (CHAT_PARSE_BAD);
	}
	since = json_object_get(root, "since");
	if (since == NULL || json_is_null(since))
		return (CHAT_PARSE_OK);
	if (!json_is_object(since) ||
	    json_object_size(since) > CHAT_SINCE_MAX) {
		cmd->error = chat_why_since;
		return (CHAT_PARSE_BAD);
	}
	json_object_foreach(since, room, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			cmd->error = chat_why_since;
			return (CHAT_PARSE_BAD);
		}
		if ((uint64_t)json_integer_value(v) > cmd->since)
			cmd->since = (uint64_t)json_integer_value(v);
	}
	return (CHAT_PARSE_OK);
}

int
chat_cmd_parse_json(const char *buf, size_t len, struct chat_cmd *cmd)
{
	json_t		*root, *type;
	json_error_t	 err;
	size_t		 i;
	int		 rv;

	memset(cmd, 0, sizeof(*cmd));
	/* Fast path: plain chat text is not even shaped like an object. */
	for (i = 0; i < len && (buf[i] == ' ' || buf[i] == '\t' ||
	    buf[i] == '\r' || buf[i] == '\n'); i++)
		;
	if (i == len || buf[i] != '{')
		return (CHAT_PARSE_NOT_OBJECT);
	if (chat_json_user_fast(buf, len, &cmd->content)) {
		cmd->type = CHAT_USER;
		cmd->type_text = CHAT_STR("user");
		cmd->has_content = 1;
		return (CHAT_PARSE_OK);
	}
	/* \u0000 is valid JSON: let it through; names refuse it later. */
	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &err)) == NULL) {
		/*
		 * Meant as an object, but broken: an error, not chat that
		 * shows everyone the source of a command (or a duplicate
		 * key, which leaves open which "type" was meant).
		 */
		if (json_error_code(&err) != json_error_duplicate_key)
			cmd->error = "not valid JSON (text that starts with "
			    "\"{\" must be a JSON object)";
		return (CHAT_PARSE_BAD);
	}
	cmd->priv = root;
	if (!json_is_object(root))
		return (CHAT_PARSE_NOT_OBJECT);
	type = json_object_get(root, "type");
	if (type == NULL || !json_is_string(type))
		return (CHAT_PARSE_BAD);
	cmd->type_text.p = json_string_value(type);
	cmd->type_text.len = json_string_length(type);
	cmd->type = chat_type_parse(cmd->type_text.p, cmd->type_text.len);
	if ((rv = chat_json_str(root, "content", &cmd->content)) == -1 ||
	    chat_json_str(root, "to", &cmd->to) == -1 ||
	    chat_json_str(root, "room", &cmd->room) == -1)
		return (CHAT_PARSE_BAD);
	cmd->has_content = rv == 1;
	/*
	 * The fields of one type.  The others ignore them, as any field
	 * they do not know: a v1 client may carry a "limit" of its own.
	 * "before" 0 is as good as none: the latest messages.
	 */
	switch (cmd->type) {
	case CHAT_WHO:
		if (chat_json_str(root, "after", &cmd->after) == -1) {
			cmd->error = chat_why_after;
			return (CHAT_PARSE_BAD);
		}
		return (chat_json_count(root, "limit", 1, &cmd->limit,
		    chat_why_limit, cmd));
	case CHAT_HISTORY:
		if (chat_json_count(root, "before", 0, &cmd->before,
		    chat_why_before, cmd) != CHAT_PARSE_OK)
			return (CHAT_PARSE_BAD);
		return (chat_json_count(root, "limit", 1, &cmd->limit,
		    chat_why_limit, cmd));
	case CHAT_RESUME:
		return (chat_json_resume(root, cmd));
	default:
		return (CHAT_PARSE_OK);
	}
}

static int
chat_mp_str(const msgpack_object *o, struct chat_str *out)
{
	if (o->type == MSGPACK_OBJECT_STR) {
		out->p = o->via.str.ptr;
		out->len = o->via.str.size;
	} else if (o->type == MSGPACK_OBJECT_BIN) {
		out->p = o->via.bin.ptr;
		out->len = o->via.bin.size;
	} else if (o->type == MSGPACK_OBJECT_NIL)
		return (0);
	else
		return (-1);
	/* Everything a client sends in a string must be text. */
	if (utf8_validate(UTF8_ACCEPT, (const uint8_t *)out->p, out->len,
	    NULL) != UTF8_ACCEPT)
		return (-1);
	return (1);
}

/*
 * Check that no array or map in the MessagePack at buf claims more elements
 * than there are bytes left to hold them (each takes one at least).
 * msgpack-c allocates a container's elements from its count before it
 * reads them, so five bytes of "array of 2^32 - 1" would ask for 64 GiB.
 * Returns 0 if the counts are plausible (the data may still be bad or
 * cut short: msgpack-c says so), -1 if not.
 */
static int
chat_mp_bounded(const char *buf, size_t len)
{
	const uint8_t	*p = (const uint8_t *)buf;
	size_t		 off = 0, want = 1, n, skip;
	unsigned	 c, w;

	while (want > 0 && off < len) {
		want--;
		c = p[off++];
		n = skip = 0;
		if (c <= 0x7f || c >= 0xe0 || (c >= 0xc0 && c <= 0xc3))
			continue;
		if (c <= 0x8f)
			n = 2 * (c & 0x0f);
		else if (c <= 0x9f)
			n = c & 0x0f;
		else if (c <= 0xbf)
			skip = c & 0x1f;
		else if (c >= 0xca && c <= 0xd3)
			skip = (size_t)1 << ((c - 0xca + 2) % 4);
		else if (c >= 0xd4 && c <= 0xd8)
			skip = 1 + ((size_t)1 << (c - 0xd4));
		else {
			/* Lengths and counts that follow in 1, 2 or 4 bytes. */
			switch (c) {
			case 0xc4: case 0xc7: case 0xd9: w = 1; break;
			case 0xc5: case 0xc8: case 0xda:
			case 0xdc: case 0xde: w = 2; break;
			default: w = 4; break;
			}
			if (len - off < w)
				return (0);
			for (; w > 0; w--)
				skip = skip << 8 | p[off++];
			if (c == 0xdc || c == 0xdd)
				n = skip, skip = 0;
			else if (c == 0xde || c == 0xdf)
				n = 2 * skip, skip = 0;
			else if (c >= 0xc7 && c <= 0xc9)
				skip++;		/* the ext type byte */
		}
		if (n > len - off)
			return (-1);
		want += n;
		if (skip > len - off)
			return (0);
		off += skip;
	}
	return (0);
}

/* An optional whole number, min or more, into *out; -1 if not one. */
static int
chat_mp_count(const msgpack_object *v, uint64_t min, uint64_t *out)
{
	if (v->type == MSGPACK_OBJECT_NIL)
		return (0);
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 < min)
		return (-1);
	*out = v->via.u64;
	return (0);
}

/* resume's "since": the largest id of the map into *max; -1 if bad. */
static int
chat_mp_since(const msgpack_object *v, uint64_t *max)
{
	const msgpack_object_kv	*kv;
	struct chat_str		 room;
	uint32_t		 i;

	if (v->type == MSGPACK_OBJECT_NIL)
		return (0);
	if (v->type != MSGPACK_OBJECT_MAP || v->via.map.size > CHAT_SINCE_MAX)
		return (-1);
	for (i = 0; i < v->via.map.size; i++) {
		kv = &v->via.map.ptr[i];
		if (chat_mp_str(&kv->key, &room) != 1 ||
		    kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return (-1);
		if (kv->val.via.u64 > *max)
			*max = kv->val.via.u64;
	}
	return (0);
}

/*
 * The fields only some types read (bits of chat_cmd_parse_msgpack()'s
 * seen), and which types: the others ignore them, as JSON does.
 */
#define CHAT_F_AFTER	0x10
#define CHAT_F_LIMIT	0x20
#define CHAT_F_BEFORE	0x40
#define CHAT_F_SESSION	0x80
#define CHAT_F_SINCE	0x100

static unsigned
chat_type_fields(enum chat_type t)
{
	switch (t) {
	case CHAT_WHO:
		return (CHAT_F_AFTER | CHAT_F_LIMIT);
	case CHAT_HISTORY:
		return (CHAT_F_LIMIT | CHAT_F_BEFORE);
	case CHAT_RESUME:
		return (CHAT_F_SESSION | CHAT_F_SINCE);
	default:
		return (0);
	}
}

int
chat_cmd_parse_msgpack(const char *buf, size_t len, struct chat_cmd *cmd)
{
	msgpack_zone		 zone;
	msgpack_object		 root, *k, *v;
	msgpack_unpack_return	 r;
	size_t			 off = 0;
	uint32_t		 i;
	int			 rv = CHAT_PARSE_OK, got;
	unsigned		 seen = 0, bit = 0;	/* fields met */
	unsigned		 bad = 0, uses;		/* CHAT_F_ */
	struct chat_str		 key, *dst;
	const char		*why = NULL;

	memset(cmd, 0, sizeof(*cmd));
	if (chat_mp_bounded(buf, len) == -1)
		return (CHAT_PARSE_BAD);
	if (!msgpack_zone_init(&zone, 256))
		return (CHAT_PARSE_BAD);
	r = msgpack_unpack(buf, len, &off, &zone, &root);
	if ((r != MSGPACK_UNPACK_SUCCESS) || off != len ||
	    root.type != MSGPACK_OBJECT_MAP) {
		msgpack_zone_destroy(&zone);
		return (r == MSGPACK_UNPACK_SUCCESS && off == len ?
		    CHAT_PARSE_NOT_OBJECT : CHAT_PARSE_BAD);
	}
	for (i = 0; i < root.via.map.size; i++) {
		k = &root.via.map.ptr[i].key;
		v = &root.via.map.ptr[i].val;
		if (chat_mp_str(k, &key) != 1)
			continue;	/* unknown fields are ignored */
		dst = NULL;
		bit = 0;
		got = 0;
		if (key.len == 4 && memcmp(key.p, "type", 4) == 0) {
			if ((seen & 1) ||
			    chat_mp_str(v, &cmd->type_text) != 1) {
				rv = CHAT_PARSE_BAD;
				break;
			}
			cmd->type = chat_type_parse(cmd->type_text.p,
			    cmd->type_text.len);
			seen |= 1;
			continue;
		}
		if (key.len == 7 && memcmp(key.p, "content", 7) == 0) {
			dst = &cmd->content;
			bit = 2;
		} else if (key.len == 2 && memcmp(key.p, "to", 2) == 0) {
			dst = &cmd->to;
			bit = 4;
		} else if (key.len == 4 && memcmp(key.p, "room", 4) == 0) {
			dst = &cmd->room;
			bit = 8;
		} else if (key.len == 5 && memcmp(key.p, "after", 5) == 0) {
			/* Judged once the type is known: who's alone. */
			bit = CHAT_F_AFTER;
			got = chat_mp_str(v, &cmd->after);
		} else if (key.len == 5 && memcmp(key.p, "limit", 5) == 0) {
			bit = CHAT_F_LIMIT;
			got = chat_mp_count(v, 1, &cmd->limit);
		} else if (key.len == 6 && memcmp(key.p, "before", 6) == 0) {
			bit = CHAT_F_BEFORE;
			got = chat_mp_count(v, 0, &cmd->before);
		} else if (key.len == 7 && memcmp(key.p, "session", 7) == 0) {
			bit = CHAT_F_SESSION;
			got = chat_mp_str(v, &cmd->session);
		} else if (key.len == 5 && memcmp(key.p, "since", 5) == 0) {
			bit = CHAT_F_SINCE;
			got = chat_mp_since(v, &cmd->since);
		}
		if (bit >= CHAT_F_AFTER) {
			if ((seen & bit) || got == -1)
				bad |= bit;
			seen |= bit;
			continue;
		}
		if (dst == NULL)
			continue;
		/* Twice: ambiguous, as jansson finds a JSON object. */
		if ((seen & bit) || (got = chat_mp_str(v, dst)) == -1) {
			rv = CHAT_PARSE_BAD;
			break;
		}
		seen |= bit;
		if (dst == &cmd->content)
			cmd->has_content = got;
	}
	if (rv == CHAT_PARSE_OK && cmd->type == CHAT_NONE)
		rv = CHAT_PARSE_BAD;
	/* As in JSON, these fields mean something to their types alone. */
	uses = chat_type_fields(cmd->type);
	if (!(uses & CHAT_F_AFTER))
		memset(&cmd->after, 0, sizeof(cmd->after));
	if (!(uses & CHAT_F_LIMIT))
		cmd->limit = 0;
	if (!(uses & CHAT_F_BEFORE))
		cmd->before = 0;
	if (!(uses & CHAT_F_SESSION))
		memset(&cmd->session, 0, sizeof(cmd->session));
	if (!(uses & CHAT_F_SINCE))
		cmd->since = 0;
	if ((uses & CHAT_F_SESSION) && (cmd->session.len < 1 ||
	    cmd->session.len > CHAT_SESSION_MAX))
		bad |= CHAT_F_SESSION;
	bad &= uses;
	if (bad & CHAT_F_AFTER)
		why = chat_why_after;
	else if (bad & CHAT_F_BEFORE)
		why = chat_why_before;
	else if (bad & CHAT_F_LIMIT)
		why = chat_why_limit;
	else if (bad & CHAT_F_SESSION)
		why = chat_why_session;
	else if (bad & CHAT_F_SINCE)
		why = chat_why_since;
	if (rv == CHAT_PARSE_OK && why != NULL) {
		cmd->error = why;
		rv = CHAT_PARSE_BAD;
	}
	/* Strings point into buf (msgpack-c does not copy them): no zone
	 * memory is referenced after this. */
	msgpack_zone_destroy(&zone);
	return (rv);
}

/* Is the text empty, or all blanks (space, tab, CR, LF, VT, FF)? */
static int
chat_blank(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' &&
		    p[i] != '\n' && p[i] != '\v' && p[i] != '\f')
			return (0);
	return (1);
}

void
chat_cmd_parse(enum chat_fmt fmt, int binary, const char *p, size_t len,
    struct chat_cmd *cmd)
{
	int	 rv;

	if (chat_fmt_msgpack(fmt) && binary)
		rv = chat_cmd_parse_msgpack(p, len, cmd);
	else if (!binary)
		rv = chat_cmd_parse_json(p, len, cmd);
	else {
		memset(cmd, 0, sizeof(*cmd));
		cmd->type = CHAT_BAD;
		cmd->error = "binary frames need the wschat.msgpack subprotocol";
		return;
	}
	if (rv == CHAT_PARSE_NOT_OBJECT && !binary) {
		/* Raw text: the seed pages' chat. */
		cmd->type = CHAT_USER;
		cmd->content.p = p;
		cmd->content.len = len;
		cmd->has_content = 1;
	} else if (rv != CHAT_PARSE_OK) {
		cmd->type = CHAT_BAD;
		if (cmd->error == NULL)
			cmd->error = "a message is an object with a \"type\" "
			    "and string fields";
	}
	/* Nothing to read: not worth a line on everyone's screen. */
	if (cmd->type == CHAT_USER && cmd->has_content &&
	    chat_blank(cmd->content.p, cmd->content.len))
		cmd->type = CHAT_NONE;
}

/* ---------------------------------------------------------------- */
/* Output: WS_HEADROOM bytes, then the payload (buf.c).             */

/* msgpack-c's and jansson's write callbacks have signatures of their own. */
static int
chat_buf_mp_cb(void *arg, const char *data, size_t n)
{
	return (buf_add(arg, data, n));
}

/*
 * JSON out, by hand.  jansson builds an object (a hash table, a malloc'd
 * string per field) only to dump it: callgrind counted 21,000
 * instructions per chat message for it, half of what a worker spent on
 * the whole fan-out of a message to 200 clients.  Writing the bytes
 * directly takes a few hundred.  Output only: what clients send is still
 * parsed by jansson.  Strings are escaped as jansson's dump escapes them
 * (", \ and C0: \b \f \n \r \t or \u00XX), so no client sees a
 * change, and, as json_stringn() did, a string that is not UTF-8 fails
 * the message (everything here was validated on input).
 */
struct chat_jw {
	struct buf	*b;
	char		 sep;		/* '{' before the first key, then ',' */
};

static void
chat_jw_key(struct chat_jw *j, const char *key)
{
	buf_add(j->b, &j->sep, 1);
	j->sep = ',';
	buf_add(j->b, "\"", 1);
	buf_add(j->b, key, strlen(key));
	buf_add(j->b, "\":", 2);
}

static void
chat_jw_esc(struct buf *b, struct chat_str s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const uint8_t		*p = (const uint8_t *)s.p, *end = p + s.len;
	const uint8_t		*run = p;
	char			 e[6];
	size_t			 n;

	if (s.len > 0 && utf8_validate(UTF8_ACCEPT, p, s.len, NULL) !=
	    UTF8_ACCEPT) {
		b->failed = 1;
		return;
	}
	buf_add(b, "\"", 1);
	for (; p < end; p++) {
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		buf_add(b, run, (size_t)(p - run));
		run = p + 1;
		e[0] = '\\';
		n = 2;
		switch (*p) {
		case '\b':	e[1] = 'b';	break;
		case '\f':	e[1] = 'f';	break;
		case '\n':	e[1] = 'n';	break;
		case '\r':	e[1] = 'r';	break;
		case '\t':	e[1] = 't';	break;
		case '"':
		case '\\':
			e[1] = (char)*p;
			break;
		default:
			e[1] = 'u';
			e[2] = e[3] = '0';
			e[4] = hex[*p >> 4];
			e[5] = hex[*p & 0xf];
			n = 6;
			break;
		}
		buf_add(b, e, n);
	}
	buf_add(b, run, (size_t)(end - run));
	buf_add(b, "\"", 1);
}

static void
chat_jw_str(struct chat_jw *j, const char *key, struct chat_str s)
{
	if (s.p == NULL)
		return;
	chat_jw_key(j, key);
	chat_jw_esc(j->b, s);
}

static void
chat_jw_u64(struct buf *b, uint64_t v)
{
	char	 d[20];
	size_t	 i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	buf_add(b, d + i, sizeof(d) - i);
}

static void
chat_jw_num(struct chat_jw *j, const char *key, uint64_t v)
{
	chat_jw_key(j, key);
	chat_jw_u64(j->b, v);
}

/*
 * Room for a history reply, at once: the bytes of its strings and what
 * the fields around them take, in JSON, a little more than MessagePack
 * needs.  Text that needs escaping may need more; the buffer grows then.
 * Other messages are small: the first allocation holds them.
 */
static void
chat_msg_presize(struct buf *b, const struct chat_msg *m)
{
	const struct chat_msg	*e;
	size_t			 n, i;

	if (m->type != CHAT_HISTORY || m->nmsgs == 0)
		return;
	n = 64 + m->room.len + m->epoch.len;
	for (i = 0; i < m->nmsgs; i++) {
		e = &m->msgs[i];
		/* {"type":"user","from":"","content":"","room":"",
		 * "timestamp":N,"id":N,"epoch":""}, numbers of 20 digits */
		n += 128 + e->from.len + e->content.len + e->room.len +
		    e->epoch.len;
	}
	buf_want(b, n);
}

/*
 * m as a JSON object at the end of b.  A history's messages are objects
 * of their own, as live ones (top 0: not a history again).
 */
static void
chat_jw_msg(struct buf *b, const struct chat_msg *m, int top)
{
	struct chat_jw	 j = { b, '{' };
	const char	*t = chat_type_name(m->type);
	size_t		 i;

	chat_jw_str(&j, "type", (struct chat_str){ t, strlen(t) });
	chat_jw_str(&j, "from", m->from);
	chat_jw_str(&j, "user", m->user);
	chat_jw_str(&j, "to", m->to);
	chat_jw_str(&j, "content", m->content);
	chat_jw_str(&j, "room", m->room);
	chat_jw_str(&j, "code", m->code);
	chat_jw_str(&j, "ip", m->ip);
	if (m->timestamp)
		chat_jw_num(&j, "timestamp", m->timestamp);
	if (m->id)
		chat_jw_num(&j, "id", m->id);
	chat_jw_str(&j, "epoch", m->epoch);
	if (m->session.p != NULL) {
		chat_jw_str(&j, "session", m->session);
		chat_jw_num(&j, "resume_timeout", m->resume_timeout);
	}
	if (m->has_online)
		chat_jw_num(&j, "online", m->online);
	if (m->has_user_list) {
		chat_jw_key(&j, "user_list");
		buf_add(b, "[", 1);
		for (i = 0; i < m->nusers; i++) {
			if (i > 0)
				buf_add(b, ",", 1);
			chat_jw_esc(b, m->user_list[i]);
		}
		buf_add(b, "]", 1);
	}
	if (m->rooms != NULL) {
		chat_jw_key(&j, "rooms");
		buf_add(b, "[", 1);
		for (i = 0; i < m->nrooms; i++) {
			if (i > 0)
				buf_add(b, ",", 1);
			buf_add(b, "{\"room\":", 8);
			chat_jw_esc(b, m->rooms[i].room);
			buf_add(b, ",\"members\":", 11);
			chat_jw_u64(b, m->rooms[i].members);
			buf_add(b, "}", 1);
		}
		buf_add(b, "]", 1);
	}
	if (top && m->type == CHAT_HISTORY) {
		chat_jw_key(&j, "messages");
		buf_add(b, "[", 1);
		for (i = 0; i < m->nmsgs; i++) {
			if (i > 0)
				buf_add(b, ",", 1);
			chat_jw_msg(b, &m->msgs[i], 0);
		}
		buf_add(b, "]", 1);
	}
	/* A history says either way: a client pages back while it is true. */
	if (m->more || m->type == CHAT_HISTORY) {
		chat_jw_key(&j, "more");
		if (m->more)
			buf_add(b, "true", 4);
		else
			buf_add(b, "false", 5);
	}
	buf_add(b, "}", 1);
}

uint8_t *
chat_msg_json(const struct chat_msg *m, size_t *len)
{
	struct buf	 b;

	buf_init(&b, WS_HEADROOM);
	chat_msg_presize(&b, m);
	chat_jw_msg(&b, m, 1);
	return (buf_finish(&b, len));
}

/* The packers return 0 or -1; these OR the results, so -1 sticks. */
static int
chat_mp_key(msgpack_packer *pk, const char *key)
{
	size_t	 klen = strlen(key);

	return (msgpack_pack_str(pk, klen) |
	    msgpack_pack_str_body(pk, key, klen));
}

static int
chat_mp_kv(msgpack_packer *pk, const char *key, struct chat_str v)
{
	return (chat_mp_key(pk, key) | msgpack_pack_str(pk, v.len) |
	    msgpack_pack_str_body(pk, v.p, v.len));
}

/* m as a MessagePack map, in the order of chat_jw_msg(). */
static void
chat_mp_msg(msgpack_packer *pk, const struct chat_msg *m, int top)
{
	size_t		 n = 1, i;
	const struct chat_str *fields[] = { &m->from, &m->user, &m->to,
	    &m->content, &m->room, &m->code, &m->ip };
	static const char *names[] = { "from", "user", "to", "content",
	    "room", "code", "ip" };
	const char	*t = chat_type_name(m->type);
	int		 history = top && m->type == CHAT_HISTORY;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i]->p != NULL)
			n++;
	n += (m->timestamp != 0) + (m->id != 0) + (m->epoch.p != NULL) +
	    2 * (m->session.p != NULL) + (m->has_online != 0) +
	    (m->has_user_list != 0) + (m->rooms != NULL) + history +
	    (m->more != 0 || m->type == CHAT_HISTORY);
	msgpack_pack_map(pk, n);
	chat_mp_kv(pk, "type", (struct chat_str){ t, strlen(t) });
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i]->p != NULL)
			chat_mp_kv(pk, names[i], *fields[i]);
	if (m->timestamp) {
		chat_mp_key(pk, "timestamp");
		msgpack_pack_uint64(pk, m->timestamp);
	}
	if (m->id) {
		chat_mp_key(pk, "id");
		msgpack_pack_uint64(pk, m->id);
	}
	if (m->epoch.p != NULL)
		chat_mp_kv(pk, "epoch", m->epoch);
	if (m->session.p != NULL) {
		chat_mp_kv(pk, "session", m->session);
		chat_mp_key(pk, "resume_timeout");
		msgpack_pack_uint64(pk, m->resume_timeout);
	}
	if (m->has_online) {
		chat_mp_key(pk, "online");
		msgpack_pack_uint64(pk, m->online);
	}
	if (m->has_user_list) {
		chat_mp_key(pk, "user_list");
		msgpack_pack_array(pk, m->nusers);
		for (i = 0; i < m->nusers; i++) {
			msgpack_pack_str(pk, m->user_list[i].len);
			msgpack_pack_str_body(pk, m->user_list[i].p,
			    m->user_list[i].len);
		}
	}
	if (m->rooms != NULL) {
		chat_mp_key(pk, "rooms");
		msgpack_pack_array(pk, m->nrooms);
		for (i = 0; i < m->nrooms; i++) {
			msgpack_pack_map(pk, 2);
			chat_mp_kv(pk, "room", m->rooms[i].room);
			chat_mp_key(pk, "members");
			msgpack_pack_uint32(pk, m->rooms[i].members);
		}
	}
	if (history) {
		chat_mp_key(pk, "messages");
		msgpack_pack_array(pk, m->nmsgs);
		for (i = 0; i < m->nmsgs; i++)
			chat_mp_msg(pk, &m->msgs[i], 0);
	}
	if (m->more || m->type == CHAT_HISTORY) {
		chat_mp_key(pk, "more");
		if (m->more)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
}

uint8_t *
chat_msg_msgpack(const struct chat_msg *m, size_t *len)
{
	struct buf	 b;
	msgpack_packer	 pk;

	buf_init(&b, WS_HEADROOM);
	chat_msg_presize(&b, m);
	msgpack_packer_init(&pk, &b, chat_buf_mp_cb);
	chat_mp_msg(&pk, m, 1);
	return (buf_finish(&b, len));
}

uint8_t *
chat_msg_encode(enum chat_fmt fmt, const struct chat_msg *m, size_t *len)
{
	/* Version 2 differs in which fields hub.c fills, not in how. */
	if (chat_fmt_msgpack(fmt))
		return (chat_msg_msgpack(m, len));
	return (chat_msg_json(m, len));
}

/* ---------------------------------------------------------------- */
/* The bus envelope: short keys, MessagePack.                       */

/*
 * Encode an envelope at the end of out (buf.c).  Returns 0, or -1 if out
 * of memory.
 */
int
chat_env_encode(const struct chat_env *e, struct buf *out)
{
	msgpack_packer	 pk;
	const struct chat_str *s[] = { &e->room, &e->from, &e->to,
	    &e->content, &e->peer };
	static const char *k[] = { "r", "f", "to", "c", "p" };
	size_t		 n = 8, i;
	int		 bad;

	for (i = 0; i < 5; i++)
		if (s[i]->p != NULL)
			n++;
	n += (e->sid != 0) + (e->to_sid != 0);
	msgpack_packer_init(&pk, out, chat_buf_mp_cb);
	bad = msgpack_pack_map(&pk, n);
	bad |= chat_mp_key(&pk, "t") | msgpack_pack_uint32(&pk, e->type);
	bad |= chat_mp_key(&pk, "ts") | msgpack_pack_uint64(&pk, e->ts);
	bad |= chat_mp_key(&pk, "id") | msgpack_pack_uint64(&pk, e->id);
	bad |= chat_mp_key(&pk, "ow") | msgpack_pack_uint32(&pk, e->worker);
	bad |= chat_mp_key(&pk, "oc") | msgpack_pack_uint64(&pk, e->conn);
	bad |= chat_mp_key(&pk, "tw") |
	    msgpack_pack_uint32(&pk, e->to_worker);
	bad |= chat_mp_key(&pk, "tc") | msgpack_pack_uint64(&pk, e->to_conn);
	bad |= chat_mp_key(&pk, "k") | msgpack_pack_uint32(&pk, e->kind);
	if (e->sid != 0)
		bad |= chat_mp_key(&pk, "s") | msgpack_pack_uint64(&pk, e->sid);
	if (e->to_sid != 0)
		bad |= chat_mp_key(&pk, "ts2") |
		    msgpack_pack_uint64(&pk, e->to_sid);
	for (i = 0; i < 5; i++)
		if (s[i]->p != NULL)
			bad |= chat_mp_kv(&pk, k[i], *s[i]);
	return (bad ? -1 : 0);
}

/*
 * A decoder of envelopes: msgpack-c's zone for the map's array of pairs,
 * kept from one record to the next so that decoding a record allocates
 * nothing once the zone has grown to an envelope's size.
 */
struct chat_dec {
	msgpack_zone	 zone;
};

struct chat_dec *
chat_dec_new(void)
{
	struct chat_dec	*d;

	if ((d = malloc(sizeof(*d))) == NULL)
		return (NULL);
	if (!msgpack_zone_init(&d->zone, 1024)) {
		free(d);
		return (NULL);
	}
	return (d);
}

void
chat_dec_free(struct chat_dec *d)
{
	if (d == NULL)
		return;
	msgpack_zone_destroy(&d->zone);
	free(d);
}

/*
 * Decode an envelope with d.  Returns 0, or -1 if buf is not one.  The
 * strings in *e point into buf (msgpack-c does not copy them): valid
 * while buf is, whatever d decodes next.
 */
int
chat_env_decode(struct chat_dec *d, const char *buf, size_t len,
    struct chat_env *e)
{
	msgpack_object	 obj, *root = &obj, *k, *v;
	size_t		 off = 0;
	uint32_t	 i;
	struct chat_str	 key, *dst;
	uint64_t	 u;

	memset(e, 0, sizeof(*e));
	if (chat_mp_bounded(buf, len) == -1)
		return (-1);
	msgpack_zone_clear(&d->zone);
	if (msgpack_unpack(buf, len, &off, &d->zone, root) !=
	    MSGPACK_UNPACK_SUCCESS || root->type != MSGPACK_OBJECT_MAP)
		return (-1);
	for (i = 0; i < root->via.map.size; i++) {
		k = &root->via.map.ptr[i].key;
		v = &root->via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR)
			return (-1);
		key.p = k->via.str.ptr;
		key.len = k->via.str.size;
		if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
			u = v->via.u64;
			if (key.len == 1 && key.p[0] == 't')
				e->type = (enum chat_type)u;
			else if (key.len == 2 && !memcmp(key.p, "ts", 2))
				e->ts = u;
			else if (key.len == 2 && !memcmp(key.p, "id", 2))
				e->id = u;
			else if (key.len == 2 && !memcmp(key.p, "ow", 2))
				e->worker = (uint32_t)u;
			else if (key.len == 2 && !memcmp(key.p, "oc", 2))
				e->conn = u;
			else if (key.len == 2 && !memcmp(key.p, "tw", 2))
				e->to_worker = (uint32_t)u;
			else if (key.len == 2 && !memcmp(key.p, "tc", 2))
				e->to_conn = u;
			else if (key.len == 1 && key.p[0] == 'k')
				e->kind = (uint32_t)u;
			else if (key.len == 1 && key.p[0] == 's')
				e->sid = u;
			else if (key.len == 3 && !memcmp(key.p, "ts2", 3))
				e->to_sid = u;
			continue;
		}
		if (v->type != MSGPACK_OBJECT_STR)
			continue;
		dst = NULL;
		if (key.len == 1 && key.p[0] == 'r')
			dst = &e->room;
		else if (key.len == 1 && key.p[0] == 'f')
			dst = &e->from;
		else if (key.len == 2 && !memcmp(key.p, "to", 2))
			dst = &e->to;
		else if (key.len == 1 && key.p[0] == 'c')
			dst = &e->content;
		else if (key.len == 1 && key.p[0] == 'p')
			dst = &e->peer;
		if (dst != NULL) {
			dst->p = v->via.str.ptr;
			dst->len = v->via.str.size;
		}
	}
	return (e->type == CHAT_NONE ? -1 : 0);
}
