/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * chat_name.c: the rules for names and room names, decided here for every
 * protocol.  A name is what others type to reach a user ("to NAME" on the
 * line port, "to" on /ws) and what everyone reads in lists and in front
 * of messages, so it must be one word that every interface can address
 * and that looks like what it is: 1 to 32 bytes of UTF-8, without
 * whitespace (the line port splits on it), control characters (they act
 * on terminals) or format characters (invisible, or reordering the text
 * around them, as bidi overrides do), and not of the IP:PORT form the
 * server gives anonymous users, so that nobody can pose as one.  Room
 * names follow the same rules, but may look like addresses.
 *
 * That a name is free, in any ASCII case, is the presence table's
 * business (shm/shm_presence.c); what to answer is hub.c's, with the
 * reason chat_name_why() gives.  Pure functions: any process.
 */

#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "utf8.h"

/*
 * Unicode's format characters (general category Cf, Unicode 15):
 * invisible, or acting on the text around them.
 */
static const struct {
	uint32_t	 lo, hi;
} chat_name_cf[] = {
	{ 0x00ad, 0x00ad },	/* soft hyphen */
	{ 0x0600, 0x0605 },	/* Arabic number signs */
	{ 0x061c, 0x061c },	/* Arabic letter mark (bidi) */
	{ 0x06dd, 0x06dd },
	{ 0x070f, 0x070f },
	{ 0x0890, 0x0891 },
	{ 0x08e2, 0x08e2 },
	{ 0x180e, 0x180e },	/* Mongolian vowel separator */
	{ 0x200b, 0x200f },	/* zero widths, LRM, RLM */
	{ 0x202a, 0x202e },	/* bidi embeddings and overrides */
	{ 0x2060, 0x2064 },	/* word joiner, invisible operators */
	{ 0x2066, 0x206f },	/* bidi isolates, deprecated controls */
	{ 0xfeff, 0xfeff },	/* zero width no-break space, BOM */
	{ 0xfff9, 0xfffb },	/* interlinear annotation */
	{ 0x110bd, 0x110bd },
	{ 0x110cd, 0x110cd },
	{ 0x13430, 0x1343f },	/* Egyptian hieroglyph format controls */
	{ 0x1bca0, 0x1bca3 },	/* shorthand format controls */
	{ 0x1d173, 0x1d17a },	/* musical symbol format controls */
	{ 0xe0001, 0xe0001 },	/* language tag */
	{ 0xe0020, 0xe007f },	/* tags */
};

/* Unicode's White_Space, but for the C0 controls among it. */
static int
chat_name_space(uint32_t cp)
{
	return (cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
	    (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
	    cp == 0x202f || cp == 0x205f || cp == 0x3000);
}

/* C0, DEL and C1. */
static int
chat_name_control(uint32_t cp)
{
	return (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f));
}

static int
chat_name_format(uint32_t cp)
{
	size_t	 i;

	for (i = 0; i < sizeof(chat_name_cf) / sizeof(chat_name_cf[0]); i++)
		if (cp >= chat_name_cf[i].lo && cp <= chat_name_cf[i].hi)
			return (1);
	return (0);
}

/* The code point at p, of valid UTF-8; *n its length in bytes. */
static uint32_t
chat_name_decode(const unsigned char *p, size_t *n)
{
	if (p[0] < 0x80) {
		*n = 1;
		return (p[0]);
	}
	if (p[0] < 0xe0) {
		*n = 2;
		return ((uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f));
	}
	if (p[0] < 0xf0) {
		*n = 3;
		return ((uint32_t)(p[0] & 0x0f) << 12 |
		    (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f));
	}
	*n = 4;
	return ((uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
	    (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f));
}

static int
chat_name_digit(char c)
{
	return (c >= '0' && c <= '9');
}

static int
chat_name_hex(char c)
{
	return (chat_name_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F'));
}

/* n bytes at p are 1 to 5 decimal digits: a port. */
static int
chat_name_port(const char *p, size_t n)
{
	size_t	 i;

	if (n == 0 || n > 5)
		return (0);
	for (i = 0; i < n; i++)
		if (!chat_name_digit(p[i]))
			return (0);
	return (1);
}

/* "A.B.C.D:PORT", each of A to D 1 to 3 digits (leading zeros too). */
static int
chat_name_ipv4(const char *p, size_t n)
{
	size_t	 i = 0, d;
	int	 part;

	for (part = 0; part < 4; part++) {
		for (d = 0; i < n && chat_name_digit(p[i]); i++)
			d++;
		if (d == 0 || d > 3 || i == n)
			return (0);
		if (p[i++] != (part < 3 ? '.' : ':'))
			return (0);
	}
	return (chat_name_port(p + i, n - i));
}

/*
 * "[ADDR]:PORT", ADDR hex digits, colons and dots with a colon among them
 * (inet_ntop's IPv6, "::ffff:1.2.3.4" included).  If cut, any start of
 * that form that reaches past the '[' and into ADDR will do.
 */
static int
chat_name_ipv6(const char *p, size_t n, int cut)
{
	size_t	 i, colons = 0;

	if (n < 2 || p[0] != '[')
		return (0);
	for (i = 1; i < n && (chat_name_hex(p[i]) || p[i] == ':' ||
	    p[i] == '.'); i++)
		colons += p[i] == ':';
	if (colons == 0)
		return (0);
	if (i == n)
		return (cut);
	if (p[i++] != ']')
		return (0);
	if (i == n)
		return (cut);
	if (p[i++] != ':')
		return (0);
	if (i == n)
		return (cut);
	return (chat_name_port(p + i, n - i));
}

/*
 * Could n bytes at p be a default name?  The server names an anonymous
 * user, and a line user, after its address as cfg_addr_format() writes
 * it ("A.B.C.D:PORT" or "[ADDR]:PORT"), cut to 32 bytes; a line user
 * whose address was taken gets "-2" to "-9" after its first 29 bytes.
 * Only IPv6 addresses are long enough to be cut.
 */
static int
chat_name_address(const char *p, size_t n)
{
	size_t	 base = n;

	if (chat_name_ipv4(p, n) || chat_name_ipv6(p, n, n >= 29))
		return (1);
	while (base > 0 && chat_name_digit(p[base - 1]))
		base--;
	if (base == n || base < 2 || p[base - 1] != '-')
		return (0);
	base--;
	return (chat_name_ipv4(p, base) ||
	    chat_name_ipv6(p, base, base >= 29));
}

int
chat_name_check(enum chat_name_kind kind, const char *p, size_t len,
    struct chat_name_fault *f)
{
	struct chat_name_fault	 dummy;
	const unsigned char	*s = (const unsigned char *)p;
	size_t			 i, n;
	uint32_t		 cp;

	if (f == NULL)
		f = &dummy;
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->len = len;
	if (len == 0)
		return (f->err = CHAT_NAME_EMPTY);
	if (len > CHAT_NAME_MAX)
		return (f->err = CHAT_NAME_LONG);
	if (utf8_validate(UTF8_ACCEPT, s, len, NULL) != UTF8_ACCEPT)
		return (f->err = CHAT_NAME_UTF8);
	for (i = 0; i < len; i += n) {
		cp = chat_name_decode(s + i, &n);
		/* Blanks first: TAB and NEL are controls too, but a user
		 * who typed one meant a blank. */
		if (cp == '\t' || cp == '\n' || cp == '\v' || cp == '\f' ||
		    cp == '\r' || chat_name_space(cp))
			f->err = CHAT_NAME_SPACE;
		else if (chat_name_control(cp))
			f->err = CHAT_NAME_CONTROL;
		else if (chat_name_format(cp))
			f->err = CHAT_NAME_FORMAT;
		if (f->err != CHAT_NAME_OK) {
			f->cp = cp;
			f->off = i;
			return (f->err);
		}
	}
	if (kind == CHAT_NAME_USER && chat_name_address(p, len))
		return (f->err = CHAT_NAME_ADDRESS);
	return (CHAT_NAME_OK);
}

int
chat_name_why(const struct chat_name_fault *f, char *buf, size_t sz)
{
	const char	*what = f->kind == CHAT_NAME_ROOM ? "a room name" :
			    "a name";

	switch (f->err) {
	case CHAT_NAME_OK:
		return (snprintf(buf, sz, "%s is fine", what));
	case CHAT_NAME_EMPTY:
		return (snprintf(buf, sz, "%s is 1 to %d bytes of UTF-8, not "
		    "empty", what, CHAT_NAME_MAX));
	case CHAT_NAME_LONG:
		return (snprintf(buf, sz, "%s is 1 to %d bytes of UTF-8; this "
		    "one has %zu", what, CHAT_NAME_MAX, f->len));
	case CHAT_NAME_UTF8:
		return (snprintf(buf, sz, "%s must be valid UTF-8", what));
	case CHAT_NAME_SPACE:
		return (snprintf(buf, sz, "%s may not contain whitespace "
		    "(U+%04X at byte %zu)", what, f->cp, f->off + 1));
	case CHAT_NAME_CONTROL:
		return (snprintf(buf, sz, "%s may not contain control "
		    "characters (U+%04X at byte %zu)", what, f->cp,
		    f->off + 1));
	case CHAT_NAME_FORMAT:
		return (snprintf(buf, sz, "%s may not contain invisible or "
		    "bidi format characters (U+%04X at byte %zu)", what,
		    f->cp, f->off + 1));
	case CHAT_NAME_ADDRESS:
		return (snprintf(buf, sz, "%s may not look like IP:PORT, the "
		    "name of an anonymous user", what));
	}
	return (snprintf(buf, sz, "%s is refused", what));
}
