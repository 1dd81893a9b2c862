/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_chat.h: what the two client-command targets share (fuzz_chat.c).
 */

#ifndef WSCHATD_FUZZ_CHAT_H
#define WSCHATD_FUZZ_CHAT_H

#include "chat.h"

typedef int (*fuzz_chat_parser)(const char *, size_t, struct chat_cmd *);

void	fuzz_chat_cmd(fuzz_chat_parser, const uint8_t *, size_t);

#endif /* WSCHATD_FUZZ_CHAT_H */
