/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_chat_json.c: client commands in JSON under a fuzzer (the work is
 * in fuzz_chat.c).
 */

#include "wschatd.h"
#include "chat.h"
#include "fuzz.h"
#include "fuzz_chat.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_chat_cmd(chat_cmd_parse_json, data, size);
	return (0);
}
