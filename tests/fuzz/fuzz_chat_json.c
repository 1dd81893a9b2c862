/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_chat_json.c: client commands in JSON under a fuzzer (the work is
 * in fuzz_chat.c).
 */

#include <string.h>

#include <jansson.h>

#include "wschatd.h"
#include "chat.h"
#include "fuzz.h"
#include "fuzz_chat.h"

/*
 * What chat_json_user_fast() takes, jansson must read as the same: an
 * object of exactly "type": "user" and "content": the same text.
 */
static void
fuzz_json_fast(const uint8_t *data, size_t size)
{
	struct chat_str	 content;
	json_t		*o, *type, *text;
	json_error_t	 err;

	if (!chat_json_user_fast((const char *)data, size, &content))
		return;
	o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &err);
	FUZZ_ASSERT(o != NULL && json_is_object(o) && json_object_size(o) == 2);
	type = json_object_get(o, "type");
	text = json_object_get(o, "content");
	FUZZ_ASSERT(type != NULL && json_is_string(type) &&
	    strcmp(json_string_value(type), "user") == 0);
	FUZZ_ASSERT(text != NULL && json_is_string(text) &&
	    json_string_length(text) == content.len &&
	    memcmp(json_string_value(text), content.p, content.len) == 0);
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_json_fast(data, size);
	fuzz_chat_cmd(chat_cmd_parse_json, data, size);
	return (0);
}
