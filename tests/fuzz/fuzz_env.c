/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_env.c: the bus envelope decoder under a fuzzer.  An envelope that
 * decodes is encoded again and decoded once more: the second decoding
 * must give the same event as the first.
 */

#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "chat.h"
#include "fuzz.h"

static int
fuzz_env_same_str(struct chat_str a, struct chat_str b)
{
	if (a.p == NULL || b.p == NULL)
		return ((a.p == NULL ? 0 : a.len) == (b.p == NULL ? 0 : b.len));
	return (a.len == b.len && (a.len == 0 ||
	    memcmp(a.p, b.p, a.len) == 0));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chat_env		 e, d;
	struct chat_dec		*dec, *dec2;
	struct buf		 b;

	dec = chat_dec_new();
	dec2 = chat_dec_new();
	FUZZ_ASSERT(dec != NULL && dec2 != NULL);
	buf_init(&b, 0);
	if (chat_env_decode(dec, (const char *)data, size, &e) == -1)
		goto out;
	FUZZ_ASSERT(e.type != CHAT_NONE);
	FUZZ_ASSERT(chat_env_encode(&e, &b) == 0 && !b.failed);
	/* Another decoder: e's strings must not depend on dec's zone. */
	FUZZ_ASSERT(chat_env_decode(dec2, (const char *)b.base, b.len,
	    &d) == 0);
	FUZZ_ASSERT(d.type == e.type);
	FUZZ_ASSERT(fuzz_env_same_str(d.room, e.room));
	FUZZ_ASSERT(fuzz_env_same_str(d.from, e.from));
	FUZZ_ASSERT(fuzz_env_same_str(d.to, e.to));
	FUZZ_ASSERT(fuzz_env_same_str(d.content, e.content));
	FUZZ_ASSERT(fuzz_env_same_str(d.peer, e.peer));
	FUZZ_ASSERT(d.ts == e.ts && d.id == e.id);
	FUZZ_ASSERT(d.worker == e.worker && d.conn == e.conn);
	FUZZ_ASSERT(d.to_worker == e.to_worker && d.to_conn == e.to_conn);
	FUZZ_ASSERT(d.kind == e.kind);
out:
	buf_clear(&b);
	chat_dec_free(dec);
	chat_dec_free(dec2);
	return (0);
}
