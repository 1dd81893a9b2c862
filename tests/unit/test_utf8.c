/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_utf8.c: unit tests of the streaming UTF-8 validator in utf8.c.  They
 * check every class of valid and invalid sequence (RFC 3629 and Markus
 * Kuhn's stress test boundaries), that a rejection names the first byte
 * that makes the text invalid, that feeding the same bytes in pieces gives
 * the same answer, and the eight-bytes-at-a-time ASCII path at every
 * alignment.  A small reference validator written differently (by code
 * point ranges) is compared against utf8_validate() on every short input.
 * Every input is copied to a heap block of its exact size, so that the
 * sanitizer build catches a read past the end.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "utf8.h"

#include "unit.h"

/* What a sample should give. */
#define WANT_ACCEPT	0
#define WANT_REJECT	1
#define WANT_PARTIAL	2	/* inside a character: neither of the above */

struct sample {
	const char	*s;
	size_t		 len;
	int		 want;
	size_t		 bad;	/* WANT_REJECT: offset of the first bad byte */
};

#define GOOD(s)		{ s, sizeof(s) - 1, WANT_ACCEPT, 0 }
#define BAD(s, off)	{ s, sizeof(s) - 1, WANT_REJECT, off }
#define PARTIAL(s)	{ s, sizeof(s) - 1, WANT_PARTIAL, 0 }

static const struct sample valid[] = {
	GOOD(""),
	GOOD("a"),
	GOOD("Hello, world"),
	GOOD("\x00"),				/* U+0000 */
	GOOD("\x7f"),				/* U+007F */
	GOOD("\xc2\x80"),			/* U+0080 */
	GOOD("\xc3\xa9"),			/* U+00E9 */
	GOOD("\xdf\xbf"),			/* U+07FF */
	GOOD("\xe0\xa0\x80"),			/* U+0800 */
	GOOD("\xe2\x82\xac"),			/* U+20AC */
	GOOD("\xed\x9f\xbf"),			/* U+D7FF */
	GOOD("\xee\x80\x80"),			/* U+E000 */
	GOOD("\xef\xb7\x90"),			/* U+FDD0, a noncharacter */
	GOOD("\xef\xbf\xbd"),			/* U+FFFD */
	GOOD("\xef\xbf\xbe"),			/* U+FFFE */
	GOOD("\xef\xbf\xbf"),			/* U+FFFF */
	GOOD("\xf0\x90\x80\x80"),		/* U+10000 */
	GOOD("\xf0\x9f\x98\x80"),		/* U+1F600 */
	GOOD("\xf3\xbf\xbf\xbf"),		/* U+FFFFF */
	GOOD("\xf4\x80\x80\x80"),		/* U+100000 */
	GOOD("\xf4\x8f\xbf\xbf"),		/* U+10FFFF */
	/* Kuhn's "kosme" */
	GOOD("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"),
	GOOD("caf\xc3\xa9 \xe2\x82\xac" "5 \xf0\x9f\x98\x80!"),
	GOOD("0123456789abcdef\xc3\xa9" "0123456789abcdef"),
};

static const struct sample overlong[] = {
	BAD("\xc0\x80", 0),			/* U+0000 in two bytes */
	BAD("\xc0\xaf", 0),			/* '/' in two bytes */
	BAD("\xc1\xbf", 0),			/* largest overlong 2-byte */
	BAD("\xe0\x80\x80", 1),
	BAD("\xe0\x80\xaf", 1),
	BAD("\xe0\x9f\xbf", 1),			/* largest overlong 3-byte */
	BAD("\xf0\x80\x80\x80", 1),
	BAD("\xf0\x80\x80\xaf", 1),
	BAD("\xf0\x8f\xbf\xbf", 1),		/* largest overlong 4-byte */
	BAD("\xf8\x80\x80\x80\xaf", 0),		/* 5-byte form */
	BAD("\xfc\x80\x80\x80\x80\xaf", 0),	/* 6-byte form */
	BAD("ab\xc0\x80", 2),
	BAD("ab\xe0\x80\x80", 3),
};

static const struct sample surrogates[] = {
	BAD("\xed\xa0\x80", 1),			/* U+D800 */
	BAD("\xed\xad\xbf", 1),			/* U+DB7F */
	BAD("\xed\xae\x80", 1),			/* U+DB80 */
	BAD("\xed\xaf\xbf", 1),			/* U+DBFF */
	BAD("\xed\xb0\x80", 1),			/* U+DC00 */
	BAD("\xed\xbe\x80", 1),			/* U+DF80 */
	BAD("\xed\xbf\xbf", 1),			/* U+DFFF */
	BAD("\xed\xa0\x80\xed\xb0\x80", 1),	/* a surrogate pair */
	BAD("\xed\xaf\xbf\xed\xbf\xbf", 1),
	BAD("ok\xed\xbf\xbf", 3),
};

static const struct sample too_big[] = {
	BAD("\xf4\x90\x80\x80", 1),		/* U+110000 */
	BAD("\xf4\xbf\xbf\xbf", 1),
	BAD("ab\xf4\x90", 3),
	BAD("\xf5\x80\x80\x80", 0),
	BAD("\xf7\xbf\xbf\xbf", 0),		/* U+1FFFFF */
	BAD("\xfb\xbf\xbf\xbf\xbf", 0),
	BAD("\xfd\xbf\xbf\xbf\xbf\xbf", 0),
	BAD("\xfe", 0),
	BAD("\xff", 0),
	BAD("\xfe\xfe\xff\xff", 0),
};

static const struct sample bad_continuation[] = {
	BAD("\x80", 0),
	BAD("\xbf", 0),
	BAD("\x80\xbf\x80", 0),
	BAD("a\x80", 1),
	BAD("\xc3\xa9\xa9", 2),			/* one continuation too many */
	BAD("abcdefgh\x80", 8),
	BAD("\xc3\x41", 1),			/* ASCII inside a character */
	BAD("\xc3\xc3\xa9", 1),			/* a lead inside a character */
	BAD("\xe2\x82\x41", 2),
	BAD("\xe2\x28\xa1", 1),
	BAD("\xe2\x82\xc3\xa9", 2),
	BAD("\xf0\x9f\x98\x41", 3),
	BAD("\xf0\x9f\x41\x80", 2),
	BAD("\xc3\x00", 1),
	BAD("\xef\xbf\xbf\xbf", 3),
};

static const struct sample truncated[] = {
	PARTIAL("\xc3"),
	PARTIAL("\xdf"),
	PARTIAL("\xe0"),
	PARTIAL("\xe0\xa0"),
	PARTIAL("\xe2"),
	PARTIAL("\xe2\x82"),
	PARTIAL("\xed"),
	PARTIAL("\xed\x9f"),
	PARTIAL("\xef\xbf"),
	PARTIAL("\xf0"),
	PARTIAL("\xf0\x90"),
	PARTIAL("\xf0\x9f\x98"),
	PARTIAL("\xf3\xbf\xbf"),
	PARTIAL("\xf4"),
	PARTIAL("\xf4\x8f\xbf"),
	PARTIAL("abc\xe2\x82"),
	PARTIAL("0123456789abcdef\xf0\x9f\x98"),
};

static const struct {
	const struct sample	*t;
	size_t			 n;
} tables[] = {
	{ valid, NITEMS(valid) },
	{ overlong, NITEMS(overlong) },
	{ surrogates, NITEMS(surrogates) },
	{ too_big, NITEMS(too_big) },
	{ bad_continuation, NITEMS(bad_continuation) },
	{ truncated, NITEMS(truncated) },
};

static void
utf8_test_fini(void)
{
	unit_leak_check();
}

TestSuite(utf8, .fini = utf8_test_fini);

/* An exact-size heap copy, so that ASan sees any read past the end. */
static uint8_t *
dup_exact(const void *p, size_t len)
{
	uint8_t	*b;

	b = malloc(len > 0 ? len : 1);
	cr_assert_not_null(b);
	if (len > 0)
		memcpy(b, p, len);
	return (b);
}

static uint32_t
validate(uint32_t state, const void *p, size_t len, size_t *badoff)
{
	uint8_t		*b;
	uint32_t	 st;

	b = dup_exact(p, len);
	st = utf8_validate(state, b, len, badoff);
	free(b);
	return (st);
}

static int
classify(uint32_t st)
{
	if (st == UTF8_ACCEPT)
		return (WANT_ACCEPT);
	if (st == UTF8_REJECT)
		return (WANT_REJECT);
	return (WANT_PARTIAL);
}

static void
expect_sample(const struct sample *t)
{
	size_t		 bad = (size_t)-1;
	uint32_t	 st;

	st = validate(UTF8_ACCEPT, t->s, t->len, &bad);
	cr_assert_eq(classify(st), t->want,
	    "sample of %zu bytes starting %02x: got state %u, want class %d",
	    t->len, t->len ? (uint8_t)t->s[0] : 0, st, t->want);
	if (t->want == WANT_REJECT)
		cr_assert_eq(bad, t->bad,
		    "sample of %zu bytes starting %02x: badoff %zu, want %zu",
		    t->len, (uint8_t)t->s[0], bad, t->bad);
}

static void
expect_table(const struct sample *t, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		expect_sample(&t[i]);
}

/*
 * Feed p in two pieces cut at cut, as two frames or two TCP segments would
 * bring it; *badoff is relative to p.
 */
static uint32_t
validate_split(const void *p, size_t len, size_t cut, size_t *badoff)
{
	const uint8_t	*u = p;
	uint32_t	 st;
	size_t		 off;

	st = validate(UTF8_ACCEPT, u, cut, &off);
	if (st == UTF8_REJECT) {
		*badoff = off;
		return (st);
	}
	st = validate(st, u + cut, len - cut, &off);
	if (st == UTF8_REJECT)
		*badoff = cut + off;
	return (st);
}

/* Feed p one byte at a time. */
static uint32_t
validate_bytewise(const void *p, size_t len, size_t *badoff)
{
	const uint8_t	*u = p;
	uint32_t	 st = UTF8_ACCEPT;
	size_t		 i, off;

	for (i = 0; i < len; i++) {
		st = validate(st, u + i, 1, &off);
		if (st == UTF8_REJECT) {
			cr_assert_eq(off, 0);
			*badoff = i;
			return (st);
		}
	}
	return (st);
}

/*
 * A reference validator built differently: for each prefix of a character
 * it asks whether any code point that the prefix could still become is a
 * valid one for its length (no overlong forms, no surrogates, at most
 * U+10FFFF).  The first byte for which the answer is no is the bad one.
 */
static int
ref_possible(const uint8_t *c, size_t have, size_t n)
{
	static const uint32_t	 lo[] = { 0, 0, 0x80, 0x800, 0x10000 };
	static const uint32_t	 hi[] = { 0, 0, 0x7ff, 0xffff, 0x10ffff };
	static const uint8_t	 leadmask[] = { 0, 0, 0x1f, 0x0f, 0x07 };
	uint32_t		 min, max;
	size_t			 k;

	min = max = c[0] & leadmask[n];
	for (k = 1; k < n; k++) {
		min <<= 6;
		max <<= 6;
		if (k < have) {
			min |= c[k] & 0x3f;
			max |= c[k] & 0x3f;
		} else
			max |= 0x3f;
	}
	if (min < lo[n])
		min = lo[n];
	if (max > hi[n])
		max = hi[n];
	if (min > max)
		return (0);
	/* Entirely inside the surrogates? */
	if (min >= 0xd800 && max <= 0xdfff)
		return (0);
	return (1);
}

static int
ref_validate(const uint8_t *p, size_t len, size_t *badoff)
{
	size_t	 i = 0, k, n;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc0 && p[i] <= 0xdf)
			n = 2;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			n = 3;
		else if (p[i] >= 0xf0 && p[i] <= 0xf7)
			n = 4;
		else {
			*badoff = i;
			return (WANT_REJECT);
		}
		for (k = 0; k < n; k++) {
			if (i + k == len)
				return (WANT_PARTIAL);
			if (k > 0 && (p[i + k] & 0xc0) != 0x80) {
				*badoff = i + k;
				return (WANT_REJECT);
			}
			if (!ref_possible(p + i, k + 1, n)) {
				*badoff = i + k;
				return (WANT_REJECT);
			}
		}
		i += n;
	}
	return (WANT_ACCEPT);
}

static void
expect_like_reference(const uint8_t *p, size_t len)
{
	size_t		 bad = 0, refbad = 0;
	uint32_t	 st;
	int		 want;

	want = ref_validate(p, len, &refbad);
	st = utf8_validate(UTF8_ACCEPT, p, len, &bad);
	if (classify(st) != want || (want == WANT_REJECT && bad != refbad))
		cr_assert_fail("%zu bytes %02x %02x %02x %02x: state %u "
		    "badoff %zu, reference class %d badoff %zu", len,
		    p[0], len > 1 ? p[1] : 0, len > 2 ? p[2] : 0,
		    len > 3 ? p[3] : 0, st, bad, want, refbad);
}

Test(utf8, accepts_empty_input_at_a_boundary)
{
	size_t	 bad = 42;

	cr_assert_eq(utf8_validate(UTF8_ACCEPT, NULL, 0, &bad), UTF8_ACCEPT);
	cr_assert_eq(bad, 42, "badoff is only written on a rejection");
}

Test(utf8, accepts_ascii)
{
	const char	 s[] = "The quick brown fox jumps over the lazy dog.\n";
	uint8_t		 all[128];
	size_t		 i;

	cr_assert_eq(validate(UTF8_ACCEPT, s, sizeof(s) - 1, NULL),
	    UTF8_ACCEPT);
	for (i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)i;
	cr_assert_eq(validate(UTF8_ACCEPT, all, sizeof(all), NULL),
	    UTF8_ACCEPT);
}

Test(utf8, accepts_two_three_and_four_byte_characters)
{
	expect_table(valid, NITEMS(valid));
}

Test(utf8, accepts_the_kuhn_boundary_code_points)
{
	static const struct sample	 bounds[] = {
		GOOD("\x7f"),			/* U+007F */
		GOOD("\xc2\x80"),		/* U+0080 */
		GOOD("\xdf\xbf"),		/* U+07FF */
		GOOD("\xe0\xa0\x80"),		/* U+0800 */
		GOOD("\xed\x9f\xbf"),		/* U+D7FF */
		GOOD("\xee\x80\x80"),		/* U+E000 */
		GOOD("\xef\xbf\xbf"),		/* U+FFFF */
		GOOD("\xf0\x90\x80\x80"),	/* U+10000 */
		GOOD("\xf4\x8f\xbf\xbf"),	/* U+10FFFF */
	};

	expect_table(bounds, NITEMS(bounds));
}

Test(utf8, rejects_the_code_points_just_past_the_boundaries)
{
	static const struct sample	 past[] = {
		BAD("\xc1\xbf", 0),		/* U+007F overlong */
		BAD("\xe0\x9f\xbf", 1),		/* U+07FF overlong */
		BAD("\xed\xa0\x80", 1),		/* U+D800 */
		BAD("\xed\xbf\xbf", 1),		/* U+DFFF */
		BAD("\xf0\x8f\xbf\xbf", 1),	/* U+FFFF overlong */
		BAD("\xf4\x90\x80\x80", 1),	/* U+110000 */
	};

	expect_table(past, NITEMS(past));
}

Test(utf8, rejects_overlong_forms)
{
	expect_table(overlong, NITEMS(overlong));
}

Test(utf8, rejects_surrogates)
{
	expect_table(surrogates, NITEMS(surrogates));
}

Test(utf8, rejects_code_points_past_u10ffff)
{
	expect_table(too_big, NITEMS(too_big));
}

Test(utf8, rejects_every_byte_from_f5_to_ff)
{
	uint8_t		 b[3];
	size_t		 bad;
	unsigned	 c;

	for (c = 0xf5; c <= 0xff; c++) {
		b[0] = (uint8_t)c;
		bad = 99;
		cr_assert_eq(validate(UTF8_ACCEPT, b, 1, &bad), UTF8_REJECT,
		    "%02x", c);
		cr_assert_eq(bad, 0, "%02x", c);
		b[0] = 'x';
		b[1] = (uint8_t)c;
		b[2] = 0x80;
		cr_assert_eq(validate(UTF8_ACCEPT, b, 3, &bad), UTF8_REJECT,
		    "%02x", c);
		cr_assert_eq(bad, 1, "%02x", c);
	}
}

Test(utf8, rejects_c0_and_c1_as_lead_bytes)
{
	uint8_t		 b[2];
	size_t		 bad;
	unsigned	 c;

	for (c = 0x80; c <= 0xbf; c++) {
		b[0] = 0xc0;
		b[1] = (uint8_t)c;
		cr_assert_eq(validate(UTF8_ACCEPT, b, 2, &bad), UTF8_REJECT);
		cr_assert_eq(bad, 0);
		b[0] = 0xc1;
		cr_assert_eq(validate(UTF8_ACCEPT, b, 2, &bad), UTF8_REJECT);
		cr_assert_eq(bad, 0);
	}
}

Test(utf8, rejects_every_lone_continuation_byte)
{
	uint8_t		 b[1];
	size_t		 bad;
	unsigned	 c;

	for (c = 0x80; c <= 0xbf; c++) {
		b[0] = (uint8_t)c;
		bad = 99;
		cr_assert_eq(validate(UTF8_ACCEPT, b, 1, &bad), UTF8_REJECT,
		    "%02x", c);
		cr_assert_eq(bad, 0, "%02x", c);
	}
}

Test(utf8, rejects_a_character_cut_short_by_another_byte)
{
	expect_table(bad_continuation, NITEMS(bad_continuation));
}

Test(utf8, reports_a_truncated_sequence_as_inside_a_character)
{
	expect_table(truncated, NITEMS(truncated));
}

Test(utf8, finishes_a_character_given_the_rest_in_the_next_call)
{
	static const char	*heads[] = { "\xc3", "\xe2", "\xe2\x82",
				    "\xf0", "\xf0\x9f", "\xf0\x9f\x98" };
	static const char	*tails[] = { "\xa9", "\x82\xac", "\xac",
				    "\x9f\x98\x80", "\x98\x80", "\x80" };
	uint32_t		 st;
	size_t			 i;

	for (i = 0; i < NITEMS(heads); i++) {
		st = validate(UTF8_ACCEPT, heads[i], strlen(heads[i]), NULL);
		cr_assert_neq(st, UTF8_ACCEPT);
		cr_assert_neq(st, UTF8_REJECT);
		cr_assert_eq(validate(st, "", 0, NULL), st,
		    "no bytes, no change");
		cr_assert_eq(validate(st, tails[i], strlen(tails[i]), NULL),
		    UTF8_ACCEPT, "head %zu", i);
	}
}

Test(utf8, rejects_ascii_where_a_continuation_is_wanted_next_call)
{
	uint32_t	 st;
	size_t		 bad = 99;

	st = validate(UTF8_ACCEPT, "abc\xe2\x82", 5, NULL);
	cr_assert_eq(classify(st), WANT_PARTIAL);
	cr_assert_eq(validate(st, "xyz", 3, &bad), UTF8_REJECT);
	cr_assert_eq(bad, 0);
}

Test(utf8, fails_fast_at_the_first_offending_byte)
{
	size_t	 bad = 99;

	cr_assert_eq(validate(UTF8_ACCEPT, "ab\xf4\x90", 4, &bad),
	    UTF8_REJECT);
	cr_assert_eq(bad, 3);
	cr_assert_eq(validate(UTF8_ACCEPT, "\xed\xa0\x80", 3, &bad),
	    UTF8_REJECT);
	cr_assert_eq(bad, 1);
	/* Not at the end: the rest of the text is not looked at. */
	cr_assert_eq(validate(UTF8_ACCEPT, "0123456789abcdef\xff"
	    "0123456789abcdef", 33, &bad), UTF8_REJECT);
	cr_assert_eq(bad, 16);
	cr_assert_eq(validate(UTF8_ACCEPT, "\xc3\xa9" "0123456789abcdef"
	    "\x80", 19, &bad), UTF8_REJECT);
	cr_assert_eq(bad, 18);
}

Test(utf8, accepts_a_null_badoff)
{
	cr_assert_eq(validate(UTF8_ACCEPT, "\xff", 1, NULL), UTF8_REJECT);
	cr_assert_eq(validate(UTF8_ACCEPT, "a\xc3", 2, NULL) > UTF8_REJECT,
	    1);
}

Test(utf8, keeps_a_rejection_sticky)
{
	size_t	 bad = 99;

	cr_assert_eq(validate(UTF8_REJECT, "abc", 3, &bad), UTF8_REJECT);
	cr_assert_eq(bad, 0);
	cr_assert_eq(validate(UTF8_REJECT, "\xc3\xa9", 2, NULL), UTF8_REJECT);
	cr_assert_eq(validate(UTF8_REJECT, "", 0, NULL), UTF8_REJECT);
}

Test(utf8, gives_the_same_result_split_at_every_offset)
{
	const struct sample	*t;
	uint32_t		 whole, st;
	size_t			 i, j, cut, wbad, bad;

	for (i = 0; i < NITEMS(tables); i++) {
		for (j = 0; j < tables[i].n; j++) {
			t = &tables[i].t[j];
			wbad = bad = 0;
			whole = validate(UTF8_ACCEPT, t->s, t->len, &wbad);
			cr_assert_eq(classify(whole), t->want);
			for (cut = 0; cut <= t->len; cut++) {
				st = validate_split(t->s, t->len, cut, &bad);
				cr_assert_eq(classify(st), t->want,
				    "table %zu sample %zu cut at %zu", i, j,
				    cut);
				if (t->want == WANT_REJECT)
					cr_assert_eq(bad, wbad,
					    "table %zu sample %zu cut at %zu",
					    i, j, cut);
				else
					cr_assert_eq(st, whole);
			}
			st = validate_bytewise(t->s, t->len, &bad);
			cr_assert_eq(classify(st), t->want,
			    "table %zu sample %zu bytewise", i, j);
			if (t->want == WANT_REJECT)
				cr_assert_eq(bad, wbad);
			else
				cr_assert_eq(st, whole);
		}
	}
}

Test(utf8, takes_the_ascii_fast_path_at_every_alignment)
{
	uint8_t		*base, *p, saved;
	size_t		 start, len, pos, i, bad;

	for (start = 0; start < 8; start++) {
		for (len = 0; len <= 40; len++) {
			/* Exact size: a read past p + len is an ASan error. */
			base = malloc(start + len > 0 ? start + len : 1);
			cr_assert_not_null(base);
			p = base + start;
			for (i = 0; i < len; i++)
				p[i] = (uint8_t)(i % 3 == 0 ? 0x7f :
				    i % 5 == 0 ? 0x00 : 'a' + i % 26);
			cr_assert_eq(utf8_validate(UTF8_ACCEPT, p, len, &bad),
			    UTF8_ACCEPT, "start %zu len %zu", start, len);
			for (pos = 0; pos < len; pos++) {
				/* An invalid byte in any lane of any word. */
				saved = p[pos];
				p[pos] = 0x80;
				cr_assert_eq(utf8_validate(UTF8_ACCEPT, p, len,
				    &bad), UTF8_REJECT);
				cr_assert_eq(bad, pos, "start %zu len %zu",
				    start, len);
				p[pos] = 0xff;
				cr_assert_eq(utf8_validate(UTF8_ACCEPT, p, len,
				    &bad), UTF8_REJECT);
				cr_assert_eq(bad, pos);
				/* A valid character in any lane. */
				p[pos] = 0xc3;
				if (pos + 1 < len) {
					uint8_t	 next = p[pos + 1];

					p[pos + 1] = 0xa9;
					cr_assert_eq(utf8_validate(UTF8_ACCEPT,
					    p, len, &bad), UTF8_ACCEPT,
					    "start %zu len %zu pos %zu",
					    start, len, pos);
					p[pos + 1] = next;
				} else
					cr_assert_eq(classify(utf8_validate(
					    UTF8_ACCEPT, p, len, &bad)),
					    WANT_PARTIAL);
				p[pos] = saved;
			}
			free(base);
		}
	}
}

Test(utf8, takes_the_ascii_fast_path_after_a_multibyte_character)
{
	uint8_t		 buf[64];
	size_t		 i, bad;

	memset(buf, 'z', sizeof(buf));
	buf[0] = 0xe2;
	buf[1] = 0x82;
	buf[2] = 0xac;
	cr_assert_eq(validate(UTF8_ACCEPT, buf, sizeof(buf), NULL),
	    UTF8_ACCEPT);
	for (i = 3; i < sizeof(buf); i++) {
		buf[i] = 0xbf;
		cr_assert_eq(validate(UTF8_ACCEPT, buf, sizeof(buf), &bad),
		    UTF8_REJECT);
		cr_assert_eq(bad, i);
		buf[i] = 'z';
	}
}

Test(utf8, agrees_with_a_reference_on_every_one_and_two_byte_input)
{
	uint8_t		 b[2];
	unsigned	 x, y;

	for (x = 0; x < 256; x++) {
		b[0] = (uint8_t)x;
		expect_like_reference(b, 1);
		for (y = 0; y < 256; y++) {
			b[1] = (uint8_t)y;
			expect_like_reference(b, 2);
		}
	}
}

Test(utf8, agrees_with_a_reference_on_every_three_byte_input_with_a_lead)
{
	uint8_t		 b[3];
	unsigned	 x, y, z;

	for (x = 0xc0; x < 256; x++) {
		b[0] = (uint8_t)x;
		for (y = 0; y < 256; y++) {
			b[1] = (uint8_t)y;
			for (z = 0; z < 256; z++) {
				b[2] = (uint8_t)z;
				expect_like_reference(b, 3);
			}
		}
	}
}

Test(utf8, agrees_with_a_reference_on_four_byte_inputs)
{
	static const uint8_t	 edge[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f,
				    0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc3, 0xf0,
				    0xff };
	uint8_t			 b[4];
	unsigned		 x, y;
	size_t			 i, j;

	for (x = 0xe0; x < 256; x++) {
		b[0] = (uint8_t)x;
		for (y = 0; y < 256; y++) {
			b[1] = (uint8_t)y;
			for (i = 0; i < NITEMS(edge); i++) {
				b[2] = edge[i];
				for (j = 0; j < NITEMS(edge); j++) {
					b[3] = edge[j];
					expect_like_reference(b, 4);
				}
			}
		}
	}
}
