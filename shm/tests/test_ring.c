/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_ring.c: unit tests of the broadcast rings in shm_ring.c and of the
 * region in shm_region.c.  Single-process tests drive one producer and
 * its readers by hand: empty, every record size class, too big, wrap-around
 * with SKIP records, a reader lapped by the producer (exact loss count),
 * counters started just below 2^64 (positions) and 2^32 (sequence numbers),
 * and the states a producer killed mid-record leaves behind.  One test
 * forks a producer to race fresh cursors (cursor_init), one forks id
 * takers.  Region tests cover bad sizes, attach checks and message ids.
 * The fork() stress of many producers and readers is stress_ring.c.
 */

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "shm.h"

#define TEST_RING	4096	/* the smallest ring: max record 1016 */
#define TEST_HDR	8	/* ring record header, as in shm_ring.c */
#define TEST_SKIP	0xffffffffU
#define TEST_BUF	(1 << 18)	/* the max record of a 1 MiB ring fits */

static struct shm_region	 reg;
static struct shm_ring		*ring;

static void
test_ring_open(uint64_t size)
{
	cr_assert_eq(shm_region_open(&reg, 1, size, 8), 0, "open: %s",
	    strerror(errno));
	ring = shm_region_ring(&reg, 0);
}

static void
test_ring_setup(void)
{
	test_ring_open(TEST_RING);
}

static void
test_ring_teardown(void)
{
	shm_region_close(&reg);
}

TestSuite(shm_ring, .init = test_ring_setup, .fini = test_ring_teardown,
    .timeout = 60);

/* Content of record seq: every byte depends on seq and its offset. */
static void
test_ring_fill(uint8_t *p, size_t len, uint64_t seq)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 131 + i * 7 + (i >> 8) + 1);
}

static int
test_ring_check(const uint8_t *p, size_t len, uint64_t seq)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (p[i] != (uint8_t)(seq * 131 + i * 7 + (i >> 8) + 1))
			return (0);
	return (1);
}

/* A size in 1..max that changes from record to record. */
static size_t
test_ring_size(uint64_t seq, size_t max)
{
	return (1 + (size_t)((seq * 2654435761U) % max));
}

static uint64_t
test_ring_span(size_t len)
{
	return (TEST_HDR + ((len + 7) & ~(size_t)7));
}

static void
test_ring_pub(uint64_t seq, size_t len)
{
	static uint8_t	 buf[TEST_BUF];

	test_ring_fill(buf, len, seq);
	cr_assert_eq(shm_ring_publish(&reg, ring, buf, len), SHM_OK,
	    "publish %zu bytes: %s", len, strerror(errno));
}

/* Read one record and check it is record seq of len bytes. */
static void
test_ring_expect(struct shm_cursor *c, uint64_t seq, size_t len)
{
	static uint8_t	 out[TEST_BUF];
	size_t		 got = (size_t)-1;
	int		 rc;

	rc = shm_ring_read(&reg, ring, c, out, sizeof(out), &got);
	cr_assert_eq(rc, SHM_OK, "record %llu: read returned %d",
	    (unsigned long long)seq, rc);
	cr_assert_eq(got, len, "record %llu: %zu bytes, wanted %zu",
	    (unsigned long long)seq, got, len);
	cr_assert(test_ring_check(out, got, seq), "record %llu: bad content",
	    (unsigned long long)seq);
}

static uint8_t *
test_ring_data(void)
{
	return ((uint8_t *)reg.hdr + ring->sr_data_off);
}

/* Start the ring's free-running counters where a test wants them. */
static void
test_ring_counters(uint64_t pos, uint64_t records)
{
	atomic_store(&ring->sr_head, pos);
	atomic_store(&ring->sr_reserve, pos);
	atomic_store(&ring->sr_records, records);
}

Test(shm_ring, an_empty_ring_reads_empty)
{
	struct shm_cursor	 c;
	uint8_t			 out[2048];
	size_t			 len = 12345;

	shm_ring_cursor_init(ring, &c);
	cr_assert_eq(shm_ring_read(&reg, ring, &c, out, sizeof(out), &len),
	    SHM_EMPTY);
	cr_assert_eq(len, 12345, "len written on SHM_EMPTY");
	cr_assert_eq(c.sc_pos, 0);
	cr_assert_eq(c.sc_lost, 0);
	cr_assert_not(shm_ring_pending(ring, &c));
}

Test(shm_ring, one_record_round_trips)
{
	struct shm_cursor	 c;
	const char		 msg[] = "hello, bus";
	char			 out[2048];
	size_t			 len;

	shm_ring_cursor_init(ring, &c);
	cr_assert_eq(shm_ring_publish(&reg, ring, msg, sizeof(msg)), SHM_OK);
	cr_assert_eq(shm_ring_read(&reg, ring, &c, out, sizeof(out), &len),
	    SHM_OK);
	cr_assert_eq(len, sizeof(msg));
	cr_assert_str_eq(out, msg);
	cr_assert_eq(c.sc_lost, 0);
	cr_assert_eq(shm_ring_read(&reg, ring, &c, out, sizeof(out), &len),
	    SHM_EMPTY);
	cr_assert_eq(atomic_load(&ring->sr_records), 1);
	cr_assert_eq(atomic_load(&ring->sr_head), test_ring_span(sizeof(msg)));
	cr_assert_eq(atomic_load(&ring->sr_reserve),
	    atomic_load(&ring->sr_head));
}

Test(shm_ring, every_size_class_round_trips)
{
	struct shm_cursor	 c;
	size_t			 max = shm_ring_max_record(ring);
	size_t			 sizes[] = { 0, 1, 7, 8, 9, 15, 16, 17, 0, 0 };
	size_t			 i, n = 8;
	uint64_t		 pos = 0;	/* where the head should be */

	cr_assert_eq(max, TEST_RING / 4 - TEST_HDR);
	sizes[n++] = max - 1;
	sizes[n++] = max;
	shm_ring_cursor_init(ring, &c);
	/* One at a time, then all published before any is read. */
	for (i = 0; i < n; i++) {
		test_ring_pub(i, sizes[i]);
		pos += test_ring_span(sizes[i]);
		cr_assert_eq(atomic_load(&ring->sr_head), pos);
		test_ring_expect(&c, i, sizes[i]);
	}
	for (i = 0; i < 3; i++)
		test_ring_pub(100 + i, sizes[i + 2]);
	for (i = 0; i < 3; i++)
		test_ring_expect(&c, 100 + i, sizes[i + 2]);
	cr_assert_eq(c.sc_lost, 0);
}

Test(shm_ring, a_max_record_fits_in_every_ring_size)
{
	struct shm_cursor	 c;
	uint64_t		 size;
	size_t			 max;
	int			 i;

	for (size = 4096; size <= (1 << 20); size <<= 1) {
		shm_region_close(&reg);
		test_ring_open(size);
		max = shm_ring_max_record(ring);
		cr_assert_eq(max, size / 4 - TEST_HDR);
		shm_ring_cursor_init(ring, &c);
		/* Enough to wrap twice, some with a SKIP before them. */
		for (i = 0; i < 10; i++) {
			test_ring_pub(i, i % 3 == 2 ? 5 : max);
			test_ring_expect(&c, i, i % 3 == 2 ? 5 : max);
		}
		cr_assert_eq(c.sc_lost, 0);
	}
}

Test(shm_ring, a_record_too_big_is_refused_and_changes_nothing)
{
	struct shm_cursor	 c;
	static uint8_t		 big[TEST_RING];
	size_t			 max = shm_ring_max_record(ring), len;
	uint8_t			 out[2048];

	shm_ring_cursor_init(ring, &c);
	errno = 0;
	cr_assert_eq(shm_ring_publish(&reg, ring, big, max + 1), SHM_ERR);
	cr_assert_eq(errno, EMSGSIZE);
	errno = 0;
	cr_assert_eq(shm_ring_publish(&reg, ring, big, sizeof(big)), SHM_ERR);
	cr_assert_eq(errno, EMSGSIZE);
	errno = 0;
	cr_assert_eq(shm_ring_publish(&reg, ring, big, SIZE_MAX), SHM_ERR);
	cr_assert_eq(errno, EMSGSIZE);
	cr_assert_eq(atomic_load(&ring->sr_head), 0);
	cr_assert_eq(atomic_load(&ring->sr_reserve), 0);
	cr_assert_eq(atomic_load(&ring->sr_records), 0);
	cr_assert_eq(shm_ring_read(&reg, ring, &c, out, sizeof(out), &len),
	    SHM_EMPTY);
	/* The next good record still gets sequence number 0. */
	test_ring_pub(0, 3);
	test_ring_expect(&c, 0, 3);
	cr_assert_eq(c.sc_lost, 0);
}

/*
 * Many laps of variable-size records, the reader keeping up: after each
 * publish, or every few publishes while less than a lap is unread.
 */
static void
test_ring_laps(uint64_t start_pos, uint64_t start_rec, int laps)
{
	struct shm_cursor	 c;
	size_t			 max = shm_ring_max_record(ring), len;
	size_t			 lens[64];
	uint64_t		 seq, first = 0, unread = 0, bytes = 0, skips;
	unsigned		 n = 0, i;

	test_ring_counters(start_pos, start_rec);
	shm_ring_cursor_init(ring, &c);
	cr_assert_eq(c.sc_pos, start_pos);
	for (seq = 0; bytes < (uint64_t)laps * ring->sr_size; seq++) {
		len = test_ring_size(seq, max);
		/* Flush when the next record could make the backlog a lap. */
		if (unread + test_ring_span(len) + max + TEST_HDR >
		    ring->sr_size || n == 64 || seq % 5 == 0) {
			for (i = 0; i < n; i++)
				test_ring_expect(&c, first + i, lens[i]);
			n = 0;
			unread = 0;
		}
		if (n == 0)
			first = seq;
		test_ring_pub(seq, len);
		lens[n++] = len;
		unread += test_ring_span(len) + max;	/* SKIP: at most */
		bytes += test_ring_span(len);
	}
	for (i = 0; i < n; i++)
		test_ring_expect(&c, first + i, lens[i]);
	cr_assert_eq(shm_ring_read(&reg, ring, &c, lens, sizeof(lens), &len),
	    SHM_EMPTY);
	cr_assert_eq(c.sc_lost, 0, "lost %llu", (unsigned long long)c.sc_lost);
	cr_assert_eq(c.sc_pos, atomic_load(&ring->sr_head));
	/* The head moved by the records plus the SKIPs, and there were SKIPs. */
	skips = atomic_load(&ring->sr_head) - start_pos - bytes;
	cr_assert_gt(skips, 0, "no SKIP record in %d laps", laps);
	cr_assert_eq((uint32_t)(atomic_load(&ring->sr_records) - start_rec),
	    (uint32_t)seq);
	cr_assert_eq(c.sc_seq, (uint32_t)(start_rec + seq));
}

Test(shm_ring, wraps_around_many_times_with_skip_records)
{
	test_ring_laps(0, 0, 200);
}

Test(shm_ring, wraps_around_a_large_ring)
{
	shm_region_close(&reg);
	test_ring_open(1 << 16);
	test_ring_laps(0, 0, 20);
}

Test(shm_ring, a_record_ending_exactly_at_the_end_needs_no_skip)
{
	struct shm_cursor	 c;
	int			 i;

	shm_ring_cursor_init(ring, &c);
	/* Four spans of 1024 fill the 4096 bytes exactly. */
	for (i = 0; i < 4; i++)
		test_ring_pub(i, 1016);
	cr_assert_eq(atomic_load(&ring->sr_head), 4096);
	for (i = 0; i < 4; i++)
		test_ring_expect(&c, i, 1016);
	test_ring_pub(4, 1016);
	cr_assert_eq(atomic_load(&ring->sr_head), 5120);
	test_ring_expect(&c, 4, 1016);
	cr_assert_eq(c.sc_lost, 0);
}

Test(shm_ring, a_skip_record_is_written_where_the_record_does_not_fit)
{
	struct shm_cursor	 c;
	uint32_t		 w;

	shm_ring_cursor_init(ring, &c);
	test_ring_pub(0, 1016);		/* 0..1024 */
	test_ring_pub(1, 1016);		/* ..2048 */
	test_ring_pub(2, 1016);		/* ..3072 */
	test_ring_pub(3, 1000);		/* ..4080: 16 bytes left */
	test_ring_expect(&c, 0, 1016);
	test_ring_expect(&c, 1, 1016);
	test_ring_pub(4, 9);		/* span 24: SKIP 16, then 4096.. */
	cr_assert_eq(atomic_load(&ring->sr_head), 4096 + 24);
	memcpy(&w, test_ring_data() + 4080, 4);
	cr_assert_eq(w, TEST_SKIP);
	memcpy(&w, test_ring_data(), 4);
	cr_assert_eq(w, 9);
	test_ring_expect(&c, 2, 1016);
	test_ring_expect(&c, 3, 1000);
	test_ring_expect(&c, 4, 9);
	cr_assert_eq(c.sc_lost, 0);
	cr_assert_eq(c.sc_pos, 4096 + 24);
}

/* Publish n records of size len (len 0: variable). */
static void
test_ring_pub_n(uint64_t first, uint64_t n, size_t len)
{
	uint64_t	 i;

	for (i = 0; i < n; i++)
		test_ring_pub(first + i, len != 0 ? len :
		    test_ring_size(first + i, shm_ring_max_record(ring)));
}

/*
 * A reader more than a lap behind: SHM_LOST, cursor at the head, and at
 * the next record sc_lost is exactly the number of records it missed.
 */
static void
test_ring_lap_reader(uint64_t start_pos, uint64_t start_rec)
{
	struct shm_cursor	 c;
	uint8_t			 out[2048];
	size_t			 len;
	uint64_t		 head, missed;

	test_ring_counters(start_pos, start_rec);
	shm_ring_cursor_init(ring, &c);
	/* Read two, then fall behind by more than a lap. */
	test_ring_pub_n(0, 2, 100);
	test_ring_expect(&c, 0, 100);
	test_ring_expect(&c, 1, 100);
	missed = 37;
	test_ring_pub_n(2, missed, 0);
	head = atomic_load(&ring->sr_head);
	cr_assert_gt(head - c.sc_pos, ring->sr_size);
	cr_assert_eq(shm_ring_lag(ring, &c), head - c.sc_pos);
	cr_assert(shm_ring_pending(ring, &c));
	cr_assert_eq(shm_ring_read(&reg, ring, &c, out, sizeof(out), &len),
	    SHM_LOST);
	cr_assert_eq(c.sc_pos, head, "cursor did not jump to the head");
	cr_assert_not(shm_ring_pending(ring, &c));
	cr_assert_eq(shm_ring_lag(ring, &c), 0);
	cr_assert_eq(shm_ring_read(&reg, ring, &c, out, sizeof(out), &len),
	    SHM_EMPTY);
	cr_assert_eq(c.sc_lost, 0, "counted before the next record");
	cr_assert_gt(c.sc_lost_bytes, ring->sr_size);
	test_ring_pub(2 + missed, 33);
	test_ring_expect(&c, 2 + missed, 33);
	cr_assert_eq(c.sc_lost, missed, "lost %llu, missed %llu",
	    (unsigned long long)c.sc_lost, (unsigned long long)missed);
	/* A second time: the count adds up. */
	test_ring_pub_n(3 + missed, 50, 0);
	cr_assert_eq(shm_ring_read(&reg, ring, &c, out, sizeof(out), &len),
	    SHM_LOST);
	test_ring_pub(53 + missed, 1);
	test_ring_expect(&c, 53 + missed, 1);
	cr_assert_eq(c.sc_lost, missed + 50);
	cr_assert_eq(shm_ring_read(&reg, ring, &c, out, sizeof(out), &len),
	    SHM_EMPTY);
}

Test(shm_ring, a_reader_a_lap_behind_loses_and_counts_exactly)
{
	test_ring_lap_reader(0, 0);
}

Test(shm_ring, a_reader_exactly_one_lap_behind_still_reads_everything)
{
	struct shm_cursor	 c;
	int			 i;

	shm_ring_cursor_init(ring, &c);
	for (i = 0; i < 4; i++)
		test_ring_pub(i, 1016);
	cr_assert_eq(atomic_load(&ring->sr_head) - c.sc_pos, ring->sr_size);
	for (i = 0; i < 4; i++)
		test_ring_expect(&c, i, 1016);
	cr_assert_eq(c.sc_lost, 0);
}

/*
 * A producer killed mid-record leaves sr_reserve ahead of sr_head, and
 * bytes a lap behind overwritten: a reader must not trust them.
 */
Test(shm_ring, a_record_the_producer_started_to_overwrite_is_not_delivered)
{
	struct shm_cursor	 c, c2;
	uint8_t			 out[2048];
	size_t			 len;

	shm_ring_cursor_init(ring, &c);
	test_ring_pub(0, 1016);
	test_ring_pub(1, 1016);
	test_ring_pub(2, 1016);
	test_ring_pub(3, 1016);
	/* Exactly one lap: record 0 intact.  Now record 4 is started. */
	atomic_store(&ring->sr_reserve, 4096 + 1024);
	memset(test_ring_data(), 0xee, 300);
	c2 = c;
	cr_assert_eq(shm_ring_read(&reg, ring, &c2, out, sizeof(out), &len),
	    SHM_LOST);
	cr_assert_eq(c2.sc_pos, 4096);
	/* A reader that was past it is not affected. */
	c2 = c;
	c2.sc_pos = 1024;
	c2.sc_seq = 1;
	test_ring_expect(&c2, 1, 1016);
}

Test(shm_ring, counters_wrap_past_2_to_the_64_and_2_to_the_32)
{
	/* A few laps before the position wraps, a few records before the
	 * sequence number does. */
	test_ring_laps((uint64_t)0 - 3 * TEST_RING - 40,
	    (uint64_t)UINT32_MAX - 4, 12);
	cr_assert_lt(atomic_load(&ring->sr_head), (uint64_t)20 * TEST_RING);
}

/* sr_records is a 64-bit count; only the sequence numbers are 32 bits. */
Test(shm_ring, the_records_counter_counts_past_2_to_the_32)
{
	struct shm_cursor	 c;
	uint64_t		 i;

	test_ring_counters(0, (uint64_t)UINT32_MAX - 1);
	shm_ring_cursor_init(ring, &c);
	for (i = 0; i < 4; i++) {
		test_ring_pub(i, 8);
		test_ring_expect(&c, i, 8);
	}
	cr_assert_eq(c.sc_lost, 0);
	cr_assert_eq(atomic_load(&ring->sr_records),
	    (uint64_t)UINT32_MAX - 1 + 4, "sr_records is %llu",
	    (unsigned long long)atomic_load(&ring->sr_records));
}

Test(shm_ring, the_head_lands_exactly_on_2_to_the_64)
{
	struct shm_cursor	 c;

	test_ring_counters((uint64_t)0 - 2048, UINT32_MAX);
	shm_ring_cursor_init(ring, &c);
	test_ring_pub(0, 1016);
	test_ring_pub(1, 1016);
	cr_assert_eq(atomic_load(&ring->sr_head), 0);
	cr_assert(shm_ring_pending(ring, &c));
	test_ring_expect(&c, 0, 1016);
	test_ring_expect(&c, 1, 1016);
	cr_assert_not(shm_ring_pending(ring, &c));
	test_ring_pub(2, 0);
	test_ring_expect(&c, 2, 0);
	cr_assert_eq(c.sc_lost, 0);
	cr_assert_eq(c.sc_seq, 2);
}

Test(shm_ring, a_lapped_reader_counts_exactly_across_both_wraps)
{
	test_ring_lap_reader((uint64_t)0 - TEST_RING / 2 - 8,
	    (uint64_t)UINT32_MAX - 20);
}

Test(shm_ring, pending_says_whether_there_is_something_to_read)
{
	struct shm_cursor	 c;

	shm_ring_cursor_init(ring, &c);
	cr_assert_not(shm_ring_pending(ring, &c));
	test_ring_pub(0, 10);
	cr_assert(shm_ring_pending(ring, &c));
	test_ring_pub(1, 10);
	test_ring_expect(&c, 0, 10);
	cr_assert(shm_ring_pending(ring, &c));
	test_ring_expect(&c, 1, 10);
	cr_assert_not(shm_ring_pending(ring, &c));
}

Test(shm_ring, cursor_init_starts_at_the_head)
{
	struct shm_cursor	 c, old;
	uint8_t			 out[2048];
	size_t			 len;
	uint64_t		 i;

	shm_ring_cursor_init(ring, &old);
	test_ring_pub_n(0, 9, 100);
	shm_ring_cursor_init(ring, &c);
	cr_assert_eq(c.sc_pos, atomic_load(&ring->sr_head));
	cr_assert_eq(c.sc_lost, 0);
	cr_assert_eq(c.sc_lost_bytes, 0);
	cr_assert_not(shm_ring_pending(ring, &c));
	cr_assert_eq(shm_ring_read(&reg, ring, &c, out, sizeof(out), &len),
	    SHM_EMPTY);
	test_ring_pub(9, 77);
	test_ring_expect(&c, 9, 77);
	cr_assert_eq(c.sc_lost, 0, "old records counted as lost");
	/* The older reader still sees everything (less than a lap). */
	for (i = 0; i < 9; i++)
		test_ring_expect(&old, i, 100);
	test_ring_expect(&old, 9, 77);
	cr_assert_eq(old.sc_lost, 0);
}

Test(shm_ring, readers_do_not_disturb_each_other)
{
	struct shm_cursor	 a, b;
	uint64_t		 i;

	shm_ring_cursor_init(ring, &a);
	shm_ring_cursor_init(ring, &b);
	for (i = 0; i < 40; i++) {
		test_ring_pub(i, 50);
		test_ring_expect(&a, i, 50);
		if (i % 3 == 2) {
			test_ring_expect(&b, i - 2, 50);
			test_ring_expect(&b, i - 1, 50);
			test_ring_expect(&b, i, 50);
		}
	}
	cr_assert_eq(a.sc_lost + b.sc_lost, 0);
}

/*
 * A producer killed in the middle of a record, then respawned: the new
 * producer continues at sr_head.  A reader almost a lap behind was
 * protected by the dead producer's sr_reserve; the respawned producer's
 * first (smaller) publish must not move that protection back, or the
 * reader trusts bytes the dead producer overwrote.
 */
Test(shm_ring, a_respawned_producer_keeps_protecting_what_the_dead_one_overwrote)
{
	struct shm_cursor	 c;
	uint8_t			 out[2048], *d = test_ring_data();
	uint32_t		 hw[2];
	size_t			 len = 0;
	int			 rc;

	shm_ring_cursor_init(ring, &c);
	test_ring_pub(0, 8);		/* 0..16 */
	test_ring_expect(&c, 0, 8);	/* the reader is at 16 */
	test_ring_pub(1, 1016);		/* 16..1040: the reader's next */
	test_ring_pub(2, 1016);
	test_ring_pub(3, 1016);
	test_ring_pub(4, 1000);		/* ..4096 */
	cr_assert_eq(atomic_load(&ring->sr_head), 4096);

	/*
	 * The producer starts record 5 (1016 bytes at 4096, slot 0) exactly
	 * as shm_ring_publish() does, and is SIGKILLed 40 bytes into the
	 * payload: header, then payload bytes over record 1.  Payload is
	 * whatever the client sent; here bytes that parse as a record.
	 */
	atomic_store(&ring->sr_reserve, 4096 + 1024);
	hw[0] = 1016;
	hw[1] = 5;
	memcpy(d, hw, 8);
	memset(d + 8, 'x', 8);
	hw[0] = 16;
	hw[1] = 1;
	memcpy(d + 16, hw, 8);
	memcpy(d + 24, "GARBAGE!GARBAGE!", 16);

	/* The respawned producer publishes a short record. */
	test_ring_pub(5, 0);

	rc = shm_ring_read(&reg, ring, &c, out, sizeof(out), &len);
	cr_assert(rc == SHM_LOST || (rc == SHM_OK && len == 1016 &&
	    test_ring_check(out, len, 1)),
	    "overwritten record delivered: rc %d, %zu bytes \"%.*s\"", rc,
	    len, (int)(len < 16 ? len : 16), (char *)out);
}

/*
 * cursor_init reads sr_head, then sr_records; the producer may publish in
 * between, so the expected sequence number can be ahead of the record at
 * the head, and the first read then counts 2^32 - k lost records.  Fork a
 * producer publishing as fast as it can and take many fresh cursors.
 */
Test(shm_ring, cursor_init_during_publishing_counts_no_phantom_losses)
{
	_Atomic int		*stop;
	struct shm_cursor	 c;
	uint64_t		 s, buf[256], worst = 0;
	struct timespec		 t0, t1;
	size_t			 len;
	pid_t			 pid;
	long			 i, bad = 0, tried = 0;
	int			 rc, status;

	shm_region_close(&reg);
	/*
	 * 64 MiB: a lap takes the producer tens of milliseconds, longer than
	 * a time slice, so a reader sharing a loaded core is rarely lapped
	 * before its first record (with 1 MiB it almost always was).
	 */
	test_ring_open(1 << 26);
	stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(stop, MAP_FAILED);
	atomic_store(stop, 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		for (s = 0; !atomic_load_explicit(stop, memory_order_relaxed);
		    s++)
			shm_ring_publish(&reg, ring, &s, sizeof(s));
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 20000; i++) {
		shm_ring_cursor_init(ring, &c);
		while ((rc = shm_ring_read(&reg, ring, &c, buf, sizeof(buf),
		    &len)) == SHM_EMPTY)
			;
		if (rc != SHM_OK)
			continue;
		tried++;
		/* The payload is the producer's count, = the sequence. */
		if (c.sc_lost != 0 || (uint32_t)buf[0] != c.sc_seq - 1) {
			if (c.sc_lost > worst)
				worst = c.sc_lost;
			bad++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 3)
			break;
	}
	atomic_store(stop, 1);
	waitpid(pid, &status, 0);
	munmap((void *)stop, 4096);
	cr_assert_gt(tried, 100);
	cr_assert_eq(bad, 0, "%ld of %ld fresh cursors counted losses "
	    "(worst %llu) on their first record", bad, tried,
	    (unsigned long long)worst);
}

/* Region. */

Test(shm_ring, region_open_refuses_bad_sizes)
{
	struct shm_region	 r2;
	struct {
		unsigned	 nw;
		uint64_t	 size;
		unsigned	 ps;
	} bad[] = {
		{ 0, 4096, 8 },			/* no workers */
		{ 1, 0, 8 },
		{ 1, 2048, 8 },			/* a power of two, too small */
		{ 1, 4095, 8 },
		{ 1, 6144, 8 },			/* not a power of two */
		{ 1, 4096 + 4096 / 2, 8 },
		{ 1, 4096, 0 },
		{ 1, 4096, 3 },
		{ 1, 4096, 12 },
		{ 1, 4096, UINT32_MAX },
	};
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_expect_eq(shm_region_open(&r2, bad[i].nw, bad[i].size,
		    bad[i].ps), -1, "case %zu accepted", i);
		cr_expect_eq(errno, EINVAL, "case %zu: errno %d", i, errno);
		cr_expect_null(r2.hdr);
	}
}

/*
 * The layout size is data_off + nrings * ring_size: with huge rings it
 * overflows 64 bits and the region comes out a few KiB long, the rings'
 * data past its end.
 */
Test(shm_ring, region_open_refuses_sizes_that_overflow_the_layout)
{
	struct shm_region	 r2;
	struct {
		unsigned	 nw;
		uint64_t	 size;
	} bad[] = {
		{ 1, (uint64_t)1 << 63 },
		{ 3, (uint64_t)1 << 62 },
		{ 7, (uint64_t)1 << 61 },
	};
	size_t			 i;
	int			 rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		rc = shm_region_open(&r2, bad[i].nw, bad[i].size, 8);
		if (rc == 0) {
			cr_expect_fail("case %zu: %u rings of 2^%d bytes "
			    "accepted in a %zu-byte region", i, bad[i].nw + 1,
			    __builtin_ctzll(bad[i].size), r2.len);
			shm_region_close(&r2);
			continue;
		}
		cr_expect(errno == EINVAL || errno == ENOMEM, "case %zu: %s",
		    i, strerror(errno));
	}
}

Test(shm_ring, region_has_the_size_it_announces)
{
	struct shm_region	 r2;
	unsigned		 i;

	cr_assert_eq(shm_region_open(&r2, 4, 8192, 64), 0);
	cr_assert_eq(r2.len, shm_region_size(4, 8192, 64));
	cr_assert_eq(r2.hdr->sh_nrings, 5);
	for (i = 0; i < 5; i++) {
		cr_assert_eq(shm_region_ring(&r2, i)->sr_id, i);
		cr_assert_eq(shm_region_ring(&r2, i)->sr_size, 8192);
		cr_assert_eq(shm_region_ring(&r2, i)->sr_data_off % 4096, 0);
		cr_assert_leq(shm_region_ring(&r2, i)->sr_data_off + 8192,
		    r2.len);
		cr_assert_eq((uintptr_t)shm_region_ring(&r2, i) % 64, 0);
	}
	cr_assert_eq((uintptr_t)shm_region_pslots(&r2) % 64, 0);
	cr_assert_eq((uintptr_t)shm_region_wake(&r2, 3) % 64, 0);
	for (i = 0; i < 5; i++) {
		cr_assert_eq((uintptr_t)shm_region_stats(&r2, i) % 64, 0);
		cr_assert_eq(atomic_load(&shm_region_stats(&r2, i)->st_pid),
		    0);
	}
	cr_assert_leq((uint8_t *)shm_region_stats(&r2, 4) +
	    sizeof(struct shm_stats), (uint8_t *)shm_region_pslots(&r2));
	shm_region_close(&r2);
	cr_assert_null(r2.hdr);
	shm_region_close(&r2);		/* twice: harmless */
}

Test(shm_ring, stats_attach_zeroes_the_block_and_sets_its_owner)
{
	struct shm_stats	*st = shm_region_stats(&reg, 0), *next;

	next = shm_region_stats(&reg, 1);
	shm_stat_add(&st->st_bus_read, 7);
	shm_stat_add(&st->st_bus_lag, 3);
	shm_stat_add(&next->st_accepted, 5);
	shm_stat_add(&st->st_conns[SHM_ST_CONN_LINE], 2);
	shm_stat_sub(&st->st_conns[SHM_ST_CONN_LINE], 1);
	cr_assert_eq(atomic_load(&st->st_conns[SHM_ST_CONN_LINE]), 1);
	cr_assert_eq(atomic_load(&st->st_bus_read), 7);
	shm_stats_attach(st, 4242, 1700000000);
	cr_assert_eq(atomic_load(&st->st_pid), 4242);
	cr_assert_eq(atomic_load(&st->st_started), 1700000000);
	cr_assert_eq(atomic_load(&st->st_bus_read), 0);
	cr_assert_eq(atomic_load(&st->st_bus_lag), 0, "the last word");
	cr_assert_eq(atomic_load(&st->st_conns[SHM_ST_CONN_LINE]), 0);
	cr_assert_eq(atomic_load(&next->st_accepted), 5, "next block hit");
}

Test(shm_ring, region_attach_accepts_a_good_region)
{
	struct shm_region	 r2;

	cr_assert_eq(shm_region_attach(&r2, reg.hdr, reg.len), 0);
	cr_assert_eq(r2.hdr, reg.hdr);
	cr_assert_eq(r2.len, reg.len);
	cr_assert_eq(shm_region_ring(&r2, 1), shm_region_ring(&reg, 1));
}

Test(shm_ring, region_attach_refuses_bad_magic_version_or_size)
{
	struct shm_region	 r2;
	struct shm_hdr		*h = reg.hdr, save = *h;
	_Alignas(64) static uint8_t zero[256];

	memset(&r2, 0, sizeof(r2));
	h->sh_magic ^= 1;
	errno = 0;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len), -1);
	cr_expect_eq(errno, EINVAL);
	*h = save;

	h->sh_version = SHM_VERSION + 1;
	errno = 0;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len), -1);
	cr_expect_eq(errno, EINVAL);
	*h = save;

	errno = 0;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len - 4096), -1);
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len + 4096), -1);
	cr_expect_eq(errno, EINVAL);
	errno = 0;
	cr_expect_eq(shm_region_attach(&r2, h, sizeof(*h) - 1), -1);
	cr_expect_eq(errno, EINVAL);

	h->sh_layout_size += 64;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len), -1);
	*h = save;
	h->sh_nworkers = 2;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len), -1);
	*h = save;
	h->sh_nrings = 3;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len), -1);
	*h = save;
	h->sh_presence_off += 64;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len), -1);
	*h = save;
	h->sh_stats_off += 64;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len), -1);
	*h = save;
	h->sh_ring_size = 8192;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len), -1);
	*h = save;

	errno = 0;
	cr_expect_eq(shm_region_attach(&r2, zero, sizeof(zero)), -1);
	cr_expect_eq(errno, EINVAL);
	cr_expect_null(r2.hdr, "attach filled in reg on failure");
	cr_assert_eq(shm_region_attach(&r2, h, reg.len), 0);
}

/*
 * A header whose sizes are not powers of two is not a region
 * shm_region_open() makes; the masks would be wrong.  Two forged headers
 * whose layout arithmetic still adds up to the mapping's length.
 */
Test(shm_ring, region_attach_refuses_sizes_open_would_refuse)
{
	struct shm_region	 r2, r3, r4;
	struct shm_hdr		*h;
	size_t			 size;

	/* 1 worker, 4 KiB rings, 8 slots.  9 slots: the same size. */
	h = reg.hdr;
	h->sh_pslots = 9;
	cr_expect_eq(shm_region_attach(&r2, h, reg.len), -1,
	    "9 presence slots accepted");
	h->sh_pslots = 8;

	/*
	 * 2 workers with 4 KiB rings take as many bytes as 1 worker with
	 * rings of some size that is no power of two (the fixed part of the
	 * second worker spread over the 2 rings of the first): forge that,
	 * with the offsets of a real 1-worker region.
	 */
	cr_assert_eq(shm_region_open(&r3, 2, 4096, 8), 0);
	cr_assert_eq(shm_region_open(&r4, 1, 4096, 8), 0);
	size = (r3.len - (r4.len - 2 * 4096)) / 2;
	cr_assert(size > 4096 && (size & (size - 1)) != 0, "%zu", size);
	h = r3.hdr;
	h->sh_nworkers = 1;
	h->sh_nrings = 2;
	h->sh_ring_size = size;
	h->sh_wake_off = r4.hdr->sh_wake_off;
	h->sh_stats_off = r4.hdr->sh_stats_off;
	h->sh_presence_off = r4.hdr->sh_presence_off;
	h->sh_ipc_off = r4.hdr->sh_ipc_off;
	cr_assert_eq(shm_region_size(1, size, 8), r3.len);
	cr_expect_eq(shm_region_attach(&r2, h, r3.len), -1,
	    "a %zu-byte ring size accepted", size);
	shm_region_close(&r4);
	shm_region_close(&r3);
}

Test(shm_ring, next_id_is_unique_and_increasing)
{
	uint64_t	 a, b, i;

	a = shm_region_next_id(&reg);
	cr_assert_neq(a, 0);
	for (i = 0; i < 10000; i++) {
		b = shm_region_next_id(&reg);
		cr_assert_gt(b, a);
		a = b;
	}
}

static int
test_ring_cmp64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

Test(shm_ring, next_id_is_unique_across_processes)
{
	enum { NPROC = 4, NIDS = 20000 };
	uint64_t	*ids;
	pid_t		 pids[NPROC];
	size_t		 sz = sizeof(uint64_t) * NPROC * NIDS, i, j;
	int		 status;
	int		 k;

	ids = mmap(NULL, sz, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(ids, MAP_FAILED);
	for (k = 0; k < NPROC; k++) {
		pids[k] = fork();
		cr_assert_neq(pids[k], -1);
		if (pids[k] == 0) {
			for (j = 0; j < NIDS; j++)
				ids[k * NIDS + j] = shm_region_next_id(&reg);
			_exit(0);
		}
	}
	for (k = 0; k < NPROC; k++) {
		cr_assert_eq(waitpid(pids[k], &status, 0), pids[k]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (k = 0; k < NPROC; k++)
		for (j = 1; j < NIDS; j++)
			cr_assert_gt(ids[k * NIDS + j], ids[k * NIDS + j - 1]);
	qsort(ids, NPROC * NIDS, sizeof(*ids), test_ring_cmp64);
	for (i = 1; i < NPROC * NIDS; i++)
		cr_assert_neq(ids[i], ids[i - 1], "id %llu given twice",
		    (unsigned long long)ids[i]);
	munmap(ids, sz);
}
