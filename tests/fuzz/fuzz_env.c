/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_env.c: the bus envelope decoder under a fuzzer.  An envelope that
 * decodes is encoded again and decoded once more: the second decoding
 * must give the same event as the first.
 */

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
	msgpack_unpacked	 up, up2;
	msgpack_sbuffer		 sb;

	msgpack_unpacked_init(&up);
	if (chat_env_decode((const char *)data, size, &e, &up) == -1)
		goto out;
	FUZZ_ASSERT(e.type != CHAT_NONE);
	msgpack_sbuffer_init(&sb);
	FUZZ_ASSERT(chat_env_encode(&e, &sb) == 0);
	msgpack_unpacked_init(&up2);
	FUZZ_ASSERT(chat_env_decode(sb.data, sb.size, &d, &up2) == 0);
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
	msgpack_unpacked_destroy(&up2);
	msgpack_sbuffer_destroy(&sb);
out:
	msgpack_unpacked_destroy(&up);
	return (0);
}
