/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_buf.c: the growable output buffer (buf.c) and the token bucket
 * (bucket.c), the two small helpers the codecs and the hub share.
 */

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>		/* malloc_usable_size() */
#endif

#include <criterion/criterion.h>

#include "wschatd.h"
#include "unit.h"

TestSuite(buf, .fini = unit_leak_check);
TestSuite(bucket);

Test(buf, keeps_its_headroom_free_in_front_of_the_data)
{
	struct buf	 b;
	uint8_t		*p;
	size_t		 len = 99;

	buf_init(&b, 10);
	cr_assert_eq(buf_add(&b, "abc", 3), 0);
	cr_assert_eq(buf_add(&b, "de", 2), 0);
	p = buf_finish(&b, &len);
	cr_assert_not_null(p);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(p + 10, "abcde", 5), 0);
	free(p);
	/* Finishing empties it: it can be used again. */
	cr_assert_eq(b.len, 0);
	cr_assert_null(b.base);
}

Test(buf, grows_past_its_first_allocation)
{
	struct buf	 b;
	uint8_t		*p;
	char		 chunk[1000];
	size_t		 len, i;

	buf_init(&b, 0);
	for (i = 0; i < 100; i++) {
		memset(chunk, 'a' + (int)(i % 26), sizeof(chunk));
		cr_assert_eq(buf_add(&b, chunk, sizeof(chunk)), 0);
	}
	p = buf_finish(&b, &len);
	cr_assert_eq(len, 100 * sizeof(chunk));
	for (i = 0; i < 100; i++)
		cr_assert_eq(p[i * sizeof(chunk) + 999], 'a' + (int)(i % 26));
	free(p);
}

Test(buf, formats_text_and_keeps_it_nul_terminated)
{
	struct buf	 b;
	char		*p;
	size_t		 len, i;

	buf_init(&b, 0);
	buf_printf(&b, "%s=%d\n", "x", 42);
	cr_assert_eq(b.len, 5);
	cr_assert_str_eq((char *)b.base, "x=42\n");
	/* Past the 256-byte first allocation, one call at a time. */
	for (i = 0; i < 200; i++)
		buf_printf(&b, "line %03zu\n", i);
	p = (char *)buf_finish(&b, &len);
	cr_assert_eq(len, 5 + 200 * 9);
	cr_assert_eq(strlen(p), len);
	cr_assert_eq(strncmp(p + 5 + 199 * 9, "line 199\n", 9), 0);
	free(p);
}

Test(buf, gives_an_empty_block_for_no_data)
{
	struct buf	 b;
	uint8_t		*p;
	size_t		 len = 7;

	buf_init(&b, 10);
	p = buf_finish(&b, &len);
	cr_assert_not_null(p);
	cr_assert_eq(len, 0);
	free(p);
}

Test(buf, after_a_failure_stays_failed_and_finishes_to_null)
{
	struct buf	 b;
	size_t		 len = 7;

	buf_init(&b, 0);
	buf_add(&b, "abc", 3);
	b.failed = 1;		/* as after a failed realloc */
	cr_assert_eq(buf_add(&b, "d", 1), -1);
	buf_printf(&b, "%d", 1);
	cr_assert_eq(b.len, 3);
	cr_assert_null(buf_finish(&b, &len));
	cr_assert_eq(len, 7);
	cr_assert_eq(b.failed, 0);
}

/* A large message: allocated once, handed over without room to spare. */
Test(buf, takes_a_known_size_at_once_and_finishes_without_slack)
{
	struct buf	 b;
	uint8_t		*p;
	char		 chunk[1000];
	size_t		 len, i;

	memset(chunk, 'z', sizeof(chunk));
	buf_init(&b, 10);
	cr_assert_eq(buf_want(&b, 800000), 0);
	cr_assert_eq(b.cap, 800000);
	p = b.base;
	for (i = 0; i < 800; i++)
		buf_add(&b, chunk, sizeof(chunk));
	cr_assert_eq(b.base, p, "grew again");
	cr_assert_eq(b.cap, 800000);
	cr_assert_eq(buf_want(&b, 0), 0);
	free(buf_finish(&b, &len));
	cr_assert_eq(len, 800000);
	/* Doubling leaves up to half unused: finishing gives it back. */
	for (i = 0; i < 600; i++)
		buf_add(&b, chunk, sizeof(chunk));
	cr_assert_gt(b.cap, 600000 + 4096);
	p = buf_finish(&b, &len);
	cr_assert_eq(len, 600000);
	cr_assert_eq(p[10 + 599999], 'z');
#ifdef __GLIBC__
	cr_assert_lt(malloc_usable_size(p), 10 + 600000 + 4096);
#endif
	free(p);
	/* A small buffer keeps its room: no realloc per chat message. */
	buf_printf(&b, "%s", "hi");
	cr_assert_eq(b.cap, 256);
	p = buf_finish(&b, &len);
	cr_assert_eq(len, 2);
	free(p);
}

Test(buf, clear_frees_and_empties)
{
	struct buf	 b;

	buf_init(&b, 4);
	buf_add(&b, "abc", 3);
	buf_clear(&b);
	cr_assert_null(b.base);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.headroom, 4);
}

Test(bucket, starts_full_and_lets_a_burst_through)
{
	struct bucket	 b;
	int		 i;

	bucket_init(&b, 5, 1000);
	for (i = 0; i < 5; i++)
		cr_assert(bucket_take(&b, 1000, 2, 5));
	cr_assert_not(bucket_take(&b, 1000, 2, 5));
}

Test(bucket, refills_at_its_rate_in_thousandths)
{
	struct bucket	 b;

	bucket_init(&b, 1, 0);
	cr_assert(bucket_take(&b, 0, 4, 1));
	/* 4 a second: one every 250 ms, not before. */
	cr_assert_not(bucket_take(&b, 249, 4, 1));
	cr_assert(bucket_take(&b, 250, 4, 1));
	cr_assert_not(bucket_take(&b, 300, 4, 1));
	/* The 50 ms before 300 are kept: 200 more make the next one. */
	cr_assert(bucket_take(&b, 500, 4, 1));
}

Test(bucket, never_holds_more_than_the_burst)
{
	struct bucket	 b;
	int		 i, n = 0;

	bucket_init(&b, 3, 0);
	/* An hour of quiet refills three tokens, not 3,600. */
	for (i = 0; i < 10; i++)
		n += bucket_take(&b, 3600 * 1000, 1, 3);
	cr_assert_eq(n, 3);
}
