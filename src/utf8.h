/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * utf8.h: streaming UTF-8 validation (RFC 3629).  A pure function over
 * bytes; any process.
 */

#ifndef WSCHATD_UTF8_H
#define WSCHATD_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_ACCEPT	0	/* at a character boundary */
#define UTF8_REJECT	1	/* invalid: sticky */

/*
 * Validate len bytes at p, continuing from state (UTF8_ACCEPT at the start
 * of a text).  Returns UTF8_ACCEPT if p ends on a character boundary,
 * UTF8_REJECT as soon as a byte makes the sequence invalid (overlong forms,
 * surrogates and code points past U+10FFFF included), or another value
 * meaning "inside a character": pass it back with the next bytes.  If
 * badoff is not NULL and the result is UTF8_REJECT, *badoff is the offset of
 * the first offending byte.  Any process.
 */
uint32_t	 utf8_validate(uint32_t, const uint8_t *, size_t, size_t *);

#endif /* WSCHATD_UTF8_H */
