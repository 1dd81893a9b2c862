/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * buf.c: a growable byte buffer for output built in pieces: the chat
 * codecs' messages (with free room in front for a WebSocket frame header)
 * and the text of /metrics.  It fails quietly: after an allocation failure
 * every later call does nothing, and buf_finish() says so once.  Any
 * process.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wschatd.h"

/* Unused room worth giving back when a buffer is finished. */
#define BUF_SLACK	4096

/* An empty buffer whose data will start after headroom free bytes. */
void
buf_init(struct buf *b, size_t headroom)
{
	memset(b, 0, sizeof(*b));
	b->headroom = headroom;
}

/* Room for n more bytes after the data; 0, or -1 (and failed) if none. */
static int
buf_reserve(struct buf *b, size_t n)
{
	uint8_t	*np;
	size_t	 ncap;

	if (b->failed)
		return (-1);
	if (b->len + n <= b->cap)
		return (0);
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + n)
		ncap *= 2;
	if ((np = realloc(b->base, b->headroom + ncap)) == NULL) {
		b->failed = 1;
		return (-1);
	}
	b->base = np;
	b->cap = ncap;
	return (0);
}

/*
 * Room for n more bytes, allocated at once and no more: for a large
 * message whose size is known, or nearly (a history reply), which
 * doubling would copy a dozen times and leave up to half unused.  0, or
 * -1 (and failed) if out of memory.
 */
int
buf_want(struct buf *b, size_t n)
{
	uint8_t	*np;

	if (b->failed)
		return (-1);
	if (n <= b->cap - b->len)
		return (0);
	if (n > SIZE_MAX - b->headroom - b->len ||
	    (np = realloc(b->base, b->headroom + b->len + n)) == NULL) {
		b->failed = 1;
		return (-1);
	}
	b->base = np;
	b->cap = b->len + n;
	return (0);
}

int
buf_add(struct buf *b, const void *data, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return (-1);
	if (n > 0)
		memcpy(b->base + b->headroom + b->len, data, n);
	b->len += n;
	return (0);
}

/* Append formatted text; the data stays NUL-terminated (len leaves it out). */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 room;
	int	 n;

	room = b->cap - b->len;
	va_start(ap, fmt);
	n = b->failed ? -1 : vsnprintf(b->base == NULL ? NULL :
	    (char *)b->base + b->headroom + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if ((size_t)n >= room) {
		if (buf_reserve(b, (size_t)n + 1) == -1)
			return;
		va_start(ap, fmt);
		vsnprintf((char *)b->base + b->headroom + b->len,
		    (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/*
 * Hand over the bytes: returns the malloc'd block (headroom bytes, then
 * *len bytes of data), which the caller frees, or NULL if an allocation
 * failed (the buffer is freed).  The buffer is empty again afterwards.
 * A block with much room unused is cut to its data (and the byte after
 * it, buf_printf()'s NUL): a message may wait in many queues.
 */
uint8_t *
buf_finish(struct buf *b, size_t *len)
{
	uint8_t	*p = b->base;

	if (!b->failed && b->cap - b->len > BUF_SLACK &&
	    b->cap - b->len > b->len / 4 &&
	    (p = realloc(b->base, b->headroom + b->len + 1)) == NULL)
		p = b->base;	/* it stays as it was: still good */
	if (b->failed) {
		free(b->base);
		p = NULL;
	} else if (p == NULL && (p = malloc(b->headroom + 1)) == NULL)
		;
	else
		*len = b->len;
	buf_init(b, b->headroom);
	return (p);
}

/* Free what b holds; it is empty again, with the same headroom. */
void
buf_clear(struct buf *b)
{
	free(b->base);
	buf_init(b, b->headroom);
}
