/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * utf8.c: streaming UTF-8 validation for WebSocket text messages (RFC 6455,
 * 8.1) and close reasons.  The state carries over between calls, so a
 * character split across frames or TCP segments is checked as a whole, and
 * the first byte that cannot start or continue a valid sequence is reported
 * at once: RFC 6455 asks a server to fail fast on invalid text.
 *
 * Written by hand because no packaged library validates incrementally with
 * an early failure at the byte; ASCII, the common case in chat, takes an
 * eight-bytes-at-a-time path.
 */

#include <string.h>

#include "wschatd.h"
#include "utf8.h"

/*
 * States other than ACCEPT and REJECT: how many continuation bytes are still
 * wanted, and for the first of them the narrower range that excludes
 * overlong forms, surrogates and code points past U+10FFFF (RFC 3629, 4).
 */
enum {
	UTF8_NEED1 = 2,		/* 80..BF, then done */
	UTF8_NEED2,		/* 80..BF, then NEED1 */
	UTF8_NEED3,		/* 80..BF, then NEED2 */
	UTF8_E0,		/* A0..BF, then NEED1 (no overlong 3-byte) */
	UTF8_ED,		/* 80..9F, then NEED1 (no surrogates) */
	UTF8_F0,		/* 90..BF, then NEED2 (no overlong 4-byte) */
	UTF8_F4			/* 80..8F, then NEED2 (<= U+10FFFF) */
};

static uint32_t
utf8_lead(uint8_t b)
{
	if (b < 0x80)
		return (UTF8_ACCEPT);
	if (b < 0xc2)		/* continuation byte, or overlong C0/C1 */
		return (UTF8_REJECT);
	if (b < 0xe0)
		return (UTF8_NEED1);
	if (b == 0xe0)
		return (UTF8_E0);
	if (b == 0xed)
		return (UTF8_ED);
	if (b < 0xf0)
		return (UTF8_NEED2);
	if (b == 0xf0)
		return (UTF8_F0);
	if (b < 0xf4)
		return (UTF8_NEED3);
	if (b == 0xf4)
		return (UTF8_F4);
	return (UTF8_REJECT);	/* F5..FF never appear */
}

static uint32_t
utf8_step(uint32_t state, uint8_t b)
{
	switch (state) {
	case UTF8_ACCEPT:
		return (utf8_lead(b));
	case UTF8_NEED1:
		return ((b & 0xc0) == 0x80 ? UTF8_ACCEPT : UTF8_REJECT);
	case UTF8_NEED2:
		return ((b & 0xc0) == 0x80 ? UTF8_NEED1 : UTF8_REJECT);
	case UTF8_NEED3:
		return ((b & 0xc0) == 0x80 ? UTF8_NEED2 : UTF8_REJECT);
	case UTF8_E0:
		return (b >= 0xa0 && b <= 0xbf ? UTF8_NEED1 : UTF8_REJECT);
	case UTF8_ED:
		return (b >= 0x80 && b <= 0x9f ? UTF8_NEED1 : UTF8_REJECT);
	case UTF8_F0:
		return (b >= 0x90 && b <= 0xbf ? UTF8_NEED2 : UTF8_REJECT);
	case UTF8_F4:
		return (b >= 0x80 && b <= 0x8f ? UTF8_NEED2 : UTF8_REJECT);
	default:
		return (UTF8_REJECT);
	}
}

uint32_t
utf8_validate(uint32_t state, const uint8_t *p, size_t len, size_t *badoff)
{
	size_t		 i = 0;
	uint64_t	 w;

	if (state == UTF8_REJECT) {
		if (badoff != NULL)
			*badoff = 0;
		return (UTF8_REJECT);
	}
	while (i < len) {
		if (state == UTF8_ACCEPT) {
			/* ASCII runs: eight bytes with no high bit at a time. */
			while (len - i >= 8) {
				memcpy(&w, p + i, 8);
				if (w & 0x8080808080808080ULL)
					break;
				i += 8;
			}
			while (i < len && p[i] < 0x80)
				i++;
			if (i == len)
				break;
		}
		state = utf8_step(state, p[i]);
		if (state == UTF8_REJECT) {
			if (badoff != NULL)
				*badoff = i;
			return (UTF8_REJECT);
		}
		i++;
	}
	return (state);
}
