/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_chat_name.c: the rules for names and room names (chat_name.c):
 * each class of refused character, code point by code point, with the
 * neighbours of every range accepted; lengths at their boundaries in
 * bytes; UTF-8; the IP:PORT forms of default names and what merely looks
 * close; valid names in other scripts and with emoji; and the reasons.
 */

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "chat.h"

/* cp as UTF-8 into out (at least 5 bytes); returns its length. */
static size_t
test_chat_name_utf8(uint32_t cp, char *out)
{
	unsigned char	*o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return (1);
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		return (2);
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | (cp >> 6 & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return (3);
	}
	o[0] = 0xf0 | cp >> 18;
	o[1] = 0x80 | (cp >> 12 & 0x3f);
	o[2] = 0x80 | (cp >> 6 & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return (4);
}

static int
test_chat_name_user(const char *s)
{
	return (chat_name_check(CHAT_NAME_USER, s, strlen(s), NULL));
}

/*
 * "ab", then cp, then "z" as a user's name: the verdict, which must say
 * where cp is if it is refused for it.
 */
static int
test_chat_name_with(uint32_t cp)
{
	struct chat_name_fault	 f;
	char			 name[16] = "ab";
	size_t			 n;
	int			 err;

	n = 2 + test_chat_name_utf8(cp, name + 2);
	name[n++] = 'z';
	err = chat_name_check(CHAT_NAME_USER, name, n, &f);
	cr_assert_eq(err, (int)f.err);
	cr_assert_eq(f.len, n);
	if (err == CHAT_NAME_SPACE || err == CHAT_NAME_CONTROL ||
	    err == CHAT_NAME_FORMAT) {
		cr_assert_eq(f.cp, cp, "U+%04X reported as U+%04X", cp, f.cp);
		cr_assert_eq(f.off, 2);
	}
	/* The same character in a room name, which may look like anything
	 * but may not hold such characters either. */
	cr_assert_eq(chat_name_check(CHAT_NAME_ROOM, name, n, NULL), err,
	    "U+%04X: rooms and names disagree", cp);
	return (err);
}

Test(chat_name, accepts_names_of_one_to_32_bytes)
{
	char	 name[40];

	cr_assert_eq(test_chat_name_user("a"), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_user("alice"), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_user("al_ice-2.0!"), CHAT_NAME_OK);
	memset(name, 'x', sizeof(name));
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, name, 32, NULL),
	    CHAT_NAME_OK);
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, name, 33, NULL),
	    CHAT_NAME_LONG);
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, name, 0, NULL),
	    CHAT_NAME_EMPTY);
	cr_assert_eq(chat_name_check(CHAT_NAME_ROOM, name, 33, NULL),
	    CHAT_NAME_LONG);
	cr_assert_eq(chat_name_check(CHAT_NAME_ROOM, "", 0, NULL),
	    CHAT_NAME_EMPTY);
}

Test(chat_name, counts_bytes_not_characters)
{
	char	 name[64];
	size_t	 n = 0;
	int	 i;

	/* Eight 4-byte emoji are 32 bytes; a ninth is too many. */
	for (i = 0; i < 9; i++)
		n += test_chat_name_utf8(0x1f600 + i, name + n);
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, name, 32, NULL),
	    CHAT_NAME_OK);
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, name, 36, NULL),
	    CHAT_NAME_LONG);
	/* Ten CJK characters are 30 bytes, eleven 33: too long. */
	for (n = 0, i = 0; i < 11; i++)
		n += test_chat_name_utf8(0x674e, name + n);
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, name, 30, NULL),
	    CHAT_NAME_OK);
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, name, 33, NULL),
	    CHAT_NAME_LONG);
	/* 32 bytes that end inside a character are not UTF-8. */
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, name, 31, NULL),
	    CHAT_NAME_UTF8);
}

Test(chat_name, accepts_letters_of_every_script_and_emoji)
{
	static const char *const ok[] = {
		"\xc3\xa9l\xc3\xa8ve",		/* eleve, accented */
		"Zo\xc3\xab",			/* Zoe, diaeresis */
		"\xc3\x91" "and\xc3\xba",		/* Nandu, accented */
		"\xd0\x90\xd0\xbb\xd0\xb8\xd1\x81\xd0\xb0", /* Cyrillic */
		"\xe6\x9d\x8e\xe5\xb0\x8f\xe9\xbe\x8d",	/* CJK */
		"\xd7\xa9\xd7\xa8\xd7\x94",	/* Hebrew, right to left */
		"\xd8\xb9\xd9\x84\xd9\x8a",	/* Arabic */
		"\xf0\x9f\x99\x82",		/* U+1F642 */
		"bob\xf0\x9f\x98\x80",		/* bob, U+1F600 */
		"\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", /* skin tone */
		"\xe2\x9d\xa4\xef\xb8\x8f",	/* heart, VS16 */
		"\xf0\x9f\x87\xab\xf0\x9f\x87\xb7", /* flag FR */
		"1\xef\xb8\x8f\xe2\x83\xa3",	/* keycap 1 */
		"a\xc2\xa1",			/* U+00A1, after NBSP */
		"\xc2\xae",			/* U+00AE, after SHY */
		"x\xe2\x80\x90y",		/* U+2010 hyphen */
		"[cafe]:80",			/* no IPv6 address */
	};
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(test_chat_name_user(ok[i]), CHAT_NAME_OK,
		    "refused: %s", ok[i]);
}

Test(chat_name, refuses_invalid_utf8)
{
	static const char *const bad[] = {
		"\xff", "\xc3", "a\xc3", "\xc0\xaf", "\xe0\x80\xaf",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", "ab\xfe",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(test_chat_name_user(bad[i]), CHAT_NAME_UTF8,
		    "case %zu", i);
}

Test(chat_name, refuses_every_whitespace_character)
{
	static const uint32_t	 ws[] = {
		0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680,
		0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006,
		0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f,
		0x205f, 0x3000,
	};
	size_t	 i;

	for (i = 0; i < sizeof(ws) / sizeof(ws[0]); i++)
		cr_assert_eq(test_chat_name_with(ws[i]), CHAT_NAME_SPACE,
		    "U+%04X", ws[i]);
	/* Neighbours that are not. */
	cr_assert_eq(test_chat_name_with(0x21), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_with(0x167f), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_with(0x1681), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_with(0x1fff), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_with(0x2027), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_with(0x2030), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_with(0x205e), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_with(0x2fff), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_with(0x3001), CHAT_NAME_OK);
	/* What the issue saw accepted: blanks inside and in front. */
	cr_assert_eq(test_chat_name_user("a b c"), CHAT_NAME_SPACE);
	cr_assert_eq(test_chat_name_user(" ann2"), CHAT_NAME_SPACE);
	cr_assert_eq(test_chat_name_user("  "), CHAT_NAME_SPACE);
	cr_assert_eq(test_chat_name_user("al ice"), CHAT_NAME_SPACE);
	cr_assert_eq(test_chat_name_user("vic \xc3\xbc \xf0\x9f\x99\x82"),
	    CHAT_NAME_SPACE);
	cr_assert_eq(test_chat_name_user("bob "), CHAT_NAME_SPACE);
}

Test(chat_name, refuses_every_control_character)
{
	uint32_t	 cp;
	int		 err;

	for (cp = 0; cp < 0x20; cp++) {
		err = test_chat_name_with(cp);
		if (cp >= 0x09 && cp <= 0x0d)
			cr_assert_eq(err, CHAT_NAME_SPACE, "U+%04X", cp);
		else
			cr_assert_eq(err, CHAT_NAME_CONTROL, "U+%04X", cp);
	}
	cr_assert_eq(test_chat_name_with(0x7e), CHAT_NAME_OK);
	cr_assert_eq(test_chat_name_with(0x7f), CHAT_NAME_CONTROL);
	for (cp = 0x80; cp <= 0x9f; cp++)
		cr_assert_eq(test_chat_name_with(cp), cp == 0x85 ?
		    CHAT_NAME_SPACE : CHAT_NAME_CONTROL, "U+%04X", cp);
	cr_assert_eq(test_chat_name_with(0xa0), CHAT_NAME_SPACE);
	cr_assert_eq(test_chat_name_with(0xa1), CHAT_NAME_OK);
	/* ESC, the start of every terminal escape, and a NUL from JSON. */
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, "a\0b", 3, NULL),
	    CHAT_NAME_CONTROL);
	cr_assert_eq(test_chat_name_user("\x1b[2Jx"), CHAT_NAME_CONTROL);
}

Test(chat_name, refuses_every_format_character_and_no_neighbour)
{
	/* Unicode 15's general category Cf, written out again here. */
	static const uint32_t	 cf[][2] = {
		{ 0x00ad, 0x00ad }, { 0x0600, 0x0605 }, { 0x061c, 0x061c },
		{ 0x06dd, 0x06dd }, { 0x070f, 0x070f }, { 0x0890, 0x0891 },
		{ 0x08e2, 0x08e2 }, { 0x180e, 0x180e }, { 0x200b, 0x200f },
		{ 0x202a, 0x202e }, { 0x2060, 0x2064 }, { 0x2066, 0x206f },
		{ 0xfeff, 0xfeff }, { 0xfff9, 0xfffb }, { 0x110bd, 0x110bd },
		{ 0x110cd, 0x110cd }, { 0x13430, 0x1343f },
		{ 0x1bca0, 0x1bca3 }, { 0x1d173, 0x1d17a },
		{ 0xe0001, 0xe0001 }, { 0xe0020, 0xe007f },
	};
	size_t		 i;
	uint32_t	 cp;

	for (i = 0; i < sizeof(cf) / sizeof(cf[0]); i++) {
		for (cp = cf[i][0]; cp <= cf[i][1]; cp++)
			cr_assert_eq(test_chat_name_with(cp),
			    CHAT_NAME_FORMAT, "U+%04X", cp);
		/* U+200A before U+200B is a space, U+2065 between two
		 * ranges nothing: either way, not a format character. */
		cr_assert_neq(test_chat_name_with(cf[i][0] - 1),
		    CHAT_NAME_FORMAT, "U+%04X", cf[i][0] - 1);
		cr_assert_neq(test_chat_name_with(cf[i][1] + 1),
		    CHAT_NAME_FORMAT, "U+%04X", cf[i][1] + 1);
	}
	cr_assert_eq(test_chat_name_with(0x2065), CHAT_NAME_OK);
	/* The bidi override that reverses what follows it. */
	cr_assert_eq(test_chat_name_user("\xe2\x80\xae" "ecila"),
	    CHAT_NAME_FORMAT);
	/* An emoji joined with ZWJ (U+200D) holds a format character. */
	cr_assert_eq(test_chat_name_user("\xf0\x9f\x91\xa9\xe2\x80\x8d"
	    "\xf0\x9f\x92\xbb"), CHAT_NAME_FORMAT);
}

Test(chat_name, reports_the_first_bad_character)
{
	struct chat_name_fault	 f;

	cr_assert_eq(chat_name_check(CHAT_NAME_USER, "\xc3\xa9\x1b x", 5,
	    &f), CHAT_NAME_CONTROL);
	cr_assert_eq(f.cp, 0x1b);
	cr_assert_eq(f.off, 2);
	cr_assert_eq(chat_name_check(CHAT_NAME_USER, "\xc3\xa9 \x1bx", 5,
	    &f), CHAT_NAME_SPACE);
	cr_assert_eq(f.cp, 0x20);
	cr_assert_eq(f.off, 2);
	/* Characters are checked before the address form. */
	cr_assert_eq(test_chat_name_user("127.0.0.1:80\xe2\x80\x8b"),
	    CHAT_NAME_FORMAT);
}

Test(chat_name, refuses_the_forms_of_default_names)
{
	static const char *const addr[] = {
		"127.0.0.1:5000", "127.0.0.1:5000-2", "127.0.0.1:5000-9",
		"10.0.0.255:65535", "1.2.3.4:0", "0.0.0.0:1",
		"255.255.255.255:65535-2", "127.000.000.001:5",
		"[::1]:8888", "[::1]:8888-9", "[2001:db8::1]:443",
		"[::ffff:127.0.0.1]:80", "[FE80::1]:5", "[fe80::1]:5",
		/* Default names cut to 32 bytes, and to 29 and "-N". */
		"[2001:db8:1234:5678:9abc:def0:1",
		"[2001:db8:1234:5678:9abc:def0:12",
		"[2001:db8:1234:5678:9abc:def0-2",
		"[2001:db8:1234:5678::9abc:1]:655",
		"[2001:db8:1234:5678:9abc::1]:",
	};
	static const char *const fine[] = {
		"127.0.0.1", "127.0.0.1:", "1.2.3:80", "1.2.3.4.5:80",
		"127.0.0.1:123456", "1234.0.0.1:80", "a127.0.0.1:80",
		"127.0.0.1:80x", "127.0.0.1:80-", "127.0.0.1:80-x",
		"localhost:80", "bob:80", "[::1]", "[::1]:", "[::1]:8888-",
		"[::1]:80x", "[cafe]:80", "[]:80", "[2001:db8::1",
		"[2001:db8:1234:5678:9abc:def0:x",
	};
	size_t	 i;

	for (i = 0; i < sizeof(addr) / sizeof(addr[0]); i++) {
		cr_assert_eq(test_chat_name_user(addr[i]), CHAT_NAME_ADDRESS,
		    "accepted: %s", addr[i]);
		/* A room may be called anything of the right characters. */
		cr_assert_eq(chat_name_check(CHAT_NAME_ROOM, addr[i],
		    strlen(addr[i]), NULL), CHAT_NAME_OK, "room %s", addr[i]);
	}
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
		cr_assert_eq(test_chat_name_user(fine[i]), CHAT_NAME_OK,
		    "refused: %s", fine[i]);
}

Test(chat_name, says_why)
{
	struct chat_name_fault	 f;
	char			 why[128];

	chat_name_check(CHAT_NAME_USER, "a b", 3, &f);
	chat_name_why(&f, why, sizeof(why));
	cr_assert_str_eq(why, "a name may not contain whitespace (U+0020 at "
	    "byte 2)");
	chat_name_check(CHAT_NAME_ROOM, "a\x1b", 2, &f);
	chat_name_why(&f, why, sizeof(why));
	cr_assert_str_eq(why, "a room name may not contain control "
	    "characters (U+001B at byte 2)");
	chat_name_check(CHAT_NAME_USER, "\xe2\x80\xae" "abc", 6, &f);
	chat_name_why(&f, why, sizeof(why));
	cr_assert_str_eq(why, "a name may not contain invisible or bidi "
	    "format characters (U+202E at byte 1)");
	chat_name_check(CHAT_NAME_USER, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    34, &f);
	chat_name_why(&f, why, sizeof(why));
	cr_assert_str_eq(why, "a name is 1 to 32 bytes of UTF-8; this one "
	    "has 34");
	chat_name_check(CHAT_NAME_USER, "", 0, &f);
	chat_name_why(&f, why, sizeof(why));
	cr_assert_str_eq(why, "a name is 1 to 32 bytes of UTF-8, not empty");
	chat_name_check(CHAT_NAME_USER, "\xff", 1, &f);
	chat_name_why(&f, why, sizeof(why));
	cr_assert_str_eq(why, "a name must be valid UTF-8");
	chat_name_check(CHAT_NAME_USER, "[::1]:80", 8, &f);
	chat_name_why(&f, why, sizeof(why));
	cr_assert_str_eq(why, "a name may not look like IP:PORT, the name of "
	    "an anonymous user");
	/* Cut as snprintf cuts. */
	cr_assert_gt(chat_name_why(&f, why, 8), 8);
	cr_assert_str_eq(why, "a name ");
}
