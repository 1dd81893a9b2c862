/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_line.c: the line port's codec under a fuzzer.  The first byte of
 * the input is max_line_length (0 to 63), the second seeds where the rest
 * is cut.  The reader gets the rest whole and in those pieces, and must
 * report the same lines at the same offsets either way; a line is never
 * over max and holds no LF, a feed never uses more than it was given, and
 * the reader keeps at most max + 1 bytes.  Each line is parsed from a copy
 * of its exact size, so that ASan sees a read outside it, and what it says
 * is written back as chat messages, each of which must be one line.
 */

#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "chat.h"
#include "ws.h"
#include "fuzz.h"

#define FUZZ_LINE_EVENTS	256

/* What a reader reported, in order, to compare two runs. */
struct fuzz_line_log {
	int		 nomem;		/* malloc failed: nothing to compare */
	size_t		 n;		/* all events, logged or not */
	int		 rv[FUZZ_LINE_EVENTS];
	size_t		 end[FUZZ_LINE_EVENTS];	/* input offset after */
	size_t		 len[FUZZ_LINE_EVENTS];
	uint32_t	 hash[FUZZ_LINE_EVENTS];	/* FNV-1a of the line */
};

static uint32_t
fuzz_line_hash(const char *p, size_t len)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return (h);
}

/* A message to a line user: one line, ending in its only LF, no CR. */
static void
fuzz_line_msg(const struct chat_msg *m)
{
	uint8_t		*buf;
	const char	*p;
	size_t		 len;

	if ((buf = chat_msg_line(m, &len)) == NULL)
		return;		/* out of memory */
	p = (const char *)buf + WS_HEADROOM;
	FUZZ_ASSERT(len > 0 && p[len - 1] == '\n');
	FUZZ_ASSERT(memchr(p, '\n', len - 1) == NULL);
	FUZZ_ASSERT(memchr(p, '\r', len) == NULL);
	free(buf);
}

/* Parse a line as the hub would, and write back what it says. */
static void
fuzz_line_parse(const char *line, size_t len)
{
	struct chat_cmd	 cmd;
	struct chat_msg	 m, hm;
	char		*p;
	size_t		 i;

	/* An exact-size copy: a read past its end is an ASan report. */
	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return;
	memcpy(p, line, len);
	chat_cmd_parse_line(p, len, &cmd);
	switch (cmd.type) {
	case CHAT_NONE:
		/* Empty once trimmed: nothing but blanks (no NUL). */
		for (i = 0; i < len; i++)
			FUZZ_ASSERT(p[i] != '\0' &&
			    strchr(" \t\r\v\f", p[i]) != NULL);
		break;
	case CHAT_BAD:
		FUZZ_ASSERT(cmd.error != NULL && len > 0);
		FUZZ_ASSERT(memchr(cmd.error, '\n', strlen(cmd.error)) ==
		    NULL);
		break;
	case CHAT_WHO:
	case CHAT_HELP:
	case CHAT_QUIT:
	case CHAT_LEAVE:
	case CHAT_ROOMS:
		FUZZ_ASSERT(len >= 3 && !cmd.has_content);
		/* "who ROOM": one word, within the line. */
		FUZZ_ASSERT(cmd.room.p == NULL || (cmd.type == CHAT_WHO &&
		    cmd.room.len > 0 && cmd.room.p >= p &&
		    cmd.room.p + cmd.room.len <= p + len));
		break;
	case CHAT_HISTORY:
		/* "history" or "history N": a number of messages, no more. */
		FUZZ_ASSERT(len >= 7 && !cmd.has_content &&
		    cmd.room.p == NULL && cmd.limit <= 1000000);
		/* The line itself as the one message of a history. */
		memset(&hm, 0, sizeof(hm));
		hm.type = CHAT_USER;
		hm.peer = CHAT_STR("127.0.0.1:4242");
		hm.from = CHAT_STR("ann");
		hm.content = (struct chat_str){ p, len };
		memset(&m, 0, sizeof(m));
		m.type = CHAT_HISTORY;
		m.msgs = &hm;
		m.nmsgs = 1;
		fuzz_line_msg(&m);
		break;
	case CHAT_JOIN:
		FUZZ_ASSERT(!cmd.has_content && cmd.room.len > 0 &&
		    cmd.room.p >= p && cmd.room.p + cmd.room.len <= p + len);
		/* The room, as the line of the join event shows it. */
		memset(&m, 0, sizeof(m));
		m.type = CHAT_JOIN;
		m.peer = CHAT_STR("127.0.0.1:4242");
		m.from = CHAT_STR("ann");
		m.room = cmd.room;
		fuzz_line_msg(&m);
		break;
	case CHAT_TO:
		FUZZ_ASSERT(cmd.to.p >= p &&
		    cmd.to.p + cmd.to.len <= p + len);
		/* FALLTHROUGH */
	case CHAT_RENAME:
	case CHAT_USER:
		FUZZ_ASSERT(cmd.has_content && len > 0);
		FUZZ_ASSERT(cmd.content.p >= p &&
		    cmd.content.p + cmd.content.len <= p + len);
		break;
	default:
		FUZZ_ASSERT(!"a type a line cannot be");
	}
	if (cmd.type != CHAT_NONE && cmd.type != CHAT_BAD)
		FUZZ_ASSERT(cmd.type_text.p != NULL &&
		    strlen(cmd.type_text.p) == cmd.type_text.len);
	if (cmd.has_content) {
		memset(&m, 0, sizeof(m));
		m.type = CHAT_USER;
		m.peer = CHAT_STR("127.0.0.1:4242");
		m.from = cmd.type == CHAT_TO ? cmd.to : CHAT_STR("ann");
		m.content = cmd.content;
		fuzz_line_msg(&m);
		m.type = CHAT_PRIVATE;
		fuzz_line_msg(&m);
		m.type = CHAT_RENAME;
		fuzz_line_msg(&m);
		m.type = CHAT_SYSTEM;
		m.code = CHAT_STR("bad_name");
		fuzz_line_msg(&m);
	}
	chat_cmd_clear(&cmd);
	free(p);
}

/*
 * Feed buf to a fresh reader of lines up to max: whole if seed is 0, else
 * in pieces of 0 to 15 bytes drawn from seed.  Parses each line if asked.
 */
static void
fuzz_line_run(const char *buf, size_t len, size_t max, uint32_t seed,
    int parse, struct fuzz_line_log *log)
{
	struct chat_line_reader	 rd;
	size_t			 start = 0, n, off, used, i;
	int			 rv;

	memset(log, 0, sizeof(*log));
	chat_line_reader_init(&rd, max);
	do {
		if (seed == 0)
			n = len - start;
		else {
			/* xorshift32: the same pieces for the same input */
			seed ^= seed << 13;
			seed ^= seed >> 17;
			seed ^= seed << 5;
			n = seed % 16;
			if (n > len - start)
				n = len - start;
		}
		off = 0;
		for (;;) {
			used = (size_t)-1;
			rv = chat_line_reader_feed(&rd, buf + start + off,
			    n - off, &used);
			FUZZ_ASSERT(used <= n - off);
			off += used;
			FUZZ_ASSERT(rd.have <= max + 1 && rd.cap <= max + 1);
			if (rv == CHAT_LINE_NOMEM) {
				log->nomem = 1;
				goto done;
			}
			if (rv == CHAT_LINE_AGAIN) {
				FUZZ_ASSERT(off == n);
				break;
			}
			FUZZ_ASSERT(rv == CHAT_LINE_LINE ||
			    rv == CHAT_LINE_TOOLONG);
			FUZZ_ASSERT(used > 0);
			if (rv == CHAT_LINE_LINE) {
				FUZZ_ASSERT(rd.ev_len <= max);
				FUZZ_ASSERT(memchr(rd.ev_line, '\n',
				    rd.ev_len) == NULL);
				if (parse)
					fuzz_line_parse(rd.ev_line,
					    rd.ev_len);
			}
			if ((i = log->n++) < FUZZ_LINE_EVENTS) {
				log->rv[i] = rv;
				log->end[i] = start + off;
				if (rv == CHAT_LINE_LINE) {
					log->len[i] = rd.ev_len;
					log->hash[i] = fuzz_line_hash(
					    rd.ev_line, rd.ev_len);
				}
			}
		}
		start += n;
	} while (start < len);
done:
	chat_line_reader_clear(&rd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_line_log	*a, *b;
	const char		*buf;
	size_t			 max, len, i;
	uint32_t		 seed;

	if (size < 2)
		return (0);
	max = data[0] % 64;
	seed = data[1] | 0x100u;	/* never 0: 0 means whole */
	buf = (const char *)data + 2;
	len = size - 2;
	if ((a = malloc(sizeof(*a))) == NULL ||
	    (b = malloc(sizeof(*b))) == NULL) {
		free(a);
		return (0);
	}
	fuzz_line_run(buf, len, max, 0, 1, a);
	fuzz_line_run(buf, len, max, seed, 0, b);
	if (a->nomem || b->nomem)
		goto done;
	FUZZ_ASSERT(a->n == b->n);
	for (i = 0; i < a->n && i < FUZZ_LINE_EVENTS; i++) {
		FUZZ_ASSERT(a->rv[i] == b->rv[i]);
		FUZZ_ASSERT(a->end[i] == b->end[i]);
		FUZZ_ASSERT(a->len[i] == b->len[i]);
		FUZZ_ASSERT(a->hash[i] == b->hash[i]);
	}
done:
	free(a);
	free(b);
	return (0);
}
