/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_ws.c: the WebSocket frame parser, the message reader and the UTF-8
 * validator under a fuzzer.  The reader gets the input in two pieces cut
 * at an offset taken from the input, and must report the same as when it
 * gets it whole; the validator must agree with itself when streamed.
 */

#include <string.h>

#include "wschatd.h"
#include "ws.h"
#include "utf8.h"
#include "fuzz.h"

#define FUZZ_WS_EVENTS	64

/* What a reader reported, in order, to compare two runs. */
struct fuzz_ws_log {
	size_t	 n;
	int	 rv[FUZZ_WS_EVENTS];
	int	 op[FUZZ_WS_EVENTS];
	size_t	 len[FUZZ_WS_EVENTS];
	unsigned code[FUZZ_WS_EVENTS];
};

static void
fuzz_ws_record(struct fuzz_ws_log *log, int rv, const struct ws_reader *rd)
{
	if (log->n == FUZZ_WS_EVENTS)
		return;
	log->rv[log->n] = rv;
	log->op[log->n] = rv == WS_EPROTO ? 0 : rd->ev_op;
	log->len[log->n] = rv == WS_EPROTO ? 0 : rd->ev_len;
	log->code[log->n] = rv == WS_EPROTO ||
	    (rv == WS_CONTROL && rd->ev_op == WS_OP_CLOSE) ? rd->ev_code : 0;
	log->n++;
}

/* Feed buf[0..cut) then buf[cut..len) to a fresh reader. */
static void
fuzz_ws_reader(const uint8_t *buf, size_t len, size_t cut, uint64_t max,
    struct fuzz_ws_log *log)
{
	struct ws_reader	 rd;
	struct ws_out		*o;
	const uint8_t		*piece;
	uint8_t			*msg;
	size_t			 n, off, used, p;
	int			 rv;

	memset(log, 0, sizeof(*log));
	ws_reader_init(&rd, max);
	for (p = 0; p < 2; p++) {
		piece = p == 0 ? buf : buf + cut;
		n = p == 0 ? cut : len - cut;
		off = 0;
		for (;;) {
			used = (size_t)-1;
			rv = ws_reader_feed(&rd, piece + off, n - off, &used);
			FUZZ_ASSERT(used <= n - off);
			off += used;
			if (rv == WS_AGAIN) {
				FUZZ_ASSERT(off == n);
				break;
			}
			fuzz_ws_record(log, rv, &rd);
			if (rv == WS_EPROTO)
				goto done;
			FUZZ_ASSERT(rv == WS_MESSAGE || rv == WS_CONTROL);
			if (rv == WS_CONTROL) {
				FUZZ_ASSERT(rd.ev_len <= WS_CONTROL_MAX);
				continue;
			}
			FUZZ_ASSERT(rd.ev_len <= max);
			msg = ws_reader_take(&rd);
			FUZZ_ASSERT(rd.ev_len == 0 || msg != NULL);
			if (rd.ev_op == WS_OP_TEXT && msg != NULL)
				FUZZ_ASSERT(utf8_validate(UTF8_ACCEPT,
				    msg + WS_HEADROOM, rd.ev_len, NULL) ==
				    UTF8_ACCEPT);
			/* Echo it, as /echo does: the frame owns msg now. */
			o = ws_out_wrap(rd.ev_op, msg, rd.ev_len);
			if (o != NULL) {
				FUZZ_ASSERT(o->wo_len >= rd.ev_len + 2);
				ws_out_unref(o);
			}
		}
	}
done:
	ws_reader_clear(&rd);
}

static void
fuzz_ws_utf8(const uint8_t *buf, size_t len, size_t cut)
{
	uint32_t	 whole, split;
	size_t		 bad = 0, bad2 = 0;

	whole = utf8_validate(UTF8_ACCEPT, buf, len, &bad);
	split = utf8_validate(UTF8_ACCEPT, buf, cut, &bad2);
	if (split != UTF8_REJECT) {
		split = utf8_validate(split, buf + cut, len - cut, &bad2);
		bad2 += cut;
	}
	FUZZ_ASSERT((whole == UTF8_ACCEPT) == (split == UTF8_ACCEPT));
	FUZZ_ASSERT((whole == UTF8_REJECT) == (split == UTF8_REJECT));
	if (whole == UTF8_REJECT) {
		FUZZ_ASSERT(bad < len);
		FUZZ_ASSERT(bad == bad2);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ws_log	 a, b;
	struct ws_frame		 f;
	uint16_t		 code;
	uint64_t		 max;
	size_t			 cut, i;
	int			 rv;

	rv = ws_frame_parse(data, size, &f, &code);
	FUZZ_ASSERT(rv == WS_OK || rv == WS_AGAIN || rv == WS_EPROTO);
	if (rv == WS_OK)
		FUZZ_ASSERT(f.hdrlen <= size && f.hdrlen <= WS_HEADER_MAX);
	if (ws_close_parse(data, size, &code) == WS_OK)
		FUZZ_ASSERT(ws_close_code_valid(code) || code == 1005);

	/* The last byte picks the cut and the size limit; it is data too. */
	cut = size > 0 ? data[size - 1] % (size + 1) : 0;
	max = size > 0 && data[size - 1] & 0x80 ? 16 : 1 << 16;
	fuzz_ws_utf8(data, size, cut);
	fuzz_ws_reader(data, size, size, max, &a);
	fuzz_ws_reader(data, size, cut, max, &b);
	FUZZ_ASSERT(a.n == b.n);
	for (i = 0; i < a.n; i++) {
		FUZZ_ASSERT(a.rv[i] == b.rv[i]);
		FUZZ_ASSERT(a.op[i] == b.op[i]);
		FUZZ_ASSERT(a.len[i] == b.len[i]);
		FUZZ_ASSERT(a.code[i] == b.code[i]);
	}
	return (0);
}
