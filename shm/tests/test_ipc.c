/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_ipc.c: the per-slot tables of connections per address
 * (shm_ipc.c): counts added up across slots, deletion by backward
 * shift inside clusters that wrap around the end of the table, checked
 * against a model over thousands of random operations, a full table, and
 * the master emptying a dead worker's table.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "shm.h"

#define T_SLOTS	3

static struct shm_region	 reg;

static void
test_ipc_setup(void)
{
	cr_assert_eq(shm_region_open(&reg, T_SLOTS, 4096, 64), 0, "open: %s",
	    strerror(errno));
}

static void
test_ipc_teardown(void)
{
	shm_region_close(&reg);
}

TestSuite(shm_ipc, .init = test_ipc_setup, .fini = test_ipc_teardown,
    .timeout = 120);

static uint32_t
test_ipc_home(const uint8_t *key)
{
	return ((uint32_t)shm_hash_siphash(reg.hdr->sh_hashkey, key,
	    SHM_IPC_KEY) & (SHM_IPC_ENTRIES - 1));
}

/* An address key numbered n, as conn_ip.c makes them for IPv4. */
static void
test_ipc_key(uint8_t *key, uint32_t n)
{
	memset(key, 0, SHM_IPC_KEY);
	key[10] = key[11] = 0xff;
	memcpy(key + 12, &n, 4);
}

/* The next key after *n whose home entry is home. */
static void
test_ipc_collider(uint8_t *key, uint32_t *n, uint32_t home)
{
	do
		test_ipc_key(key, ++*n);
	while (test_ipc_home(key) != home);
}

/* Every slot's sum but none excluded. */
static uint64_t
test_ipc_all(const uint8_t *key)
{
	return (shm_ipc_count(&reg, key, T_SLOTS));
}

Test(shm_ipc, counts_add_up_across_slots)
{
	uint8_t	 a[SHM_IPC_KEY], b[SHM_IPC_KEY];

	test_ipc_key(a, 1);
	test_ipc_key(b, 2);
	cr_assert_eq(test_ipc_all(a), 0);
	cr_assert_eq(shm_ipc_add(&reg, 0, a), SHM_OK);
	cr_assert_eq(shm_ipc_add(&reg, 0, a), SHM_OK);
	cr_assert_eq(shm_ipc_add(&reg, 1, a), SHM_OK);
	cr_assert_eq(shm_ipc_add(&reg, 2, b), SHM_OK);
	cr_expect_eq(test_ipc_all(a), 3);
	cr_expect_eq(shm_ipc_count(&reg, a, 0), 1);	/* slot 0 left out */
	cr_expect_eq(shm_ipc_count(&reg, a, 1), 2);
	cr_expect_eq(test_ipc_all(b), 1);
	cr_expect_eq(shm_region_iptable(&reg, 0)->it_used, 1);
	shm_ipc_del(&reg, 0, a);
	cr_expect_eq(test_ipc_all(a), 2);
	shm_ipc_del(&reg, 0, a);
	shm_ipc_del(&reg, 1, a);
	shm_ipc_del(&reg, 2, b);
	cr_expect_eq(test_ipc_all(a), 0);
	cr_expect_eq(test_ipc_all(b), 0);
	cr_expect_eq(shm_region_iptable(&reg, 0)->it_used, 0);
	cr_expect_eq(shm_region_iptable(&reg, 2)->it_used, 0);
}

/*
 * Six addresses with one home two entries before the end of the table,
 * so their cluster wraps; deleting each in turn leaves the others found.
 */
Test(shm_ipc, deletion_keeps_a_wrapping_cluster_whole)
{
	uint8_t		 k[6][SHM_IPC_KEY], o[SHM_IPC_KEY];
	uint32_t	 n = 0, home = SHM_IPC_ENTRIES - 2;
	int		 i, j, gone;

	for (i = 0; i < 6; i++) {
		test_ipc_collider(k[i], &n, home);
		cr_assert_eq(shm_ipc_add(&reg, 0, k[i]), SHM_OK);
	}
	/* One more, homed inside the wrapped part: it must stay put or
	 * move only within its own probe sequence. */
	test_ipc_collider(o, &n, 1);
	cr_assert_eq(shm_ipc_add(&reg, 0, o), SHM_OK);
	for (gone = 0; gone < 6; gone++) {
		shm_ipc_del(&reg, 0, k[(gone * 5) % 6]);
		for (i = 0; i < 6; i++) {
			int	 deleted = 0;

			for (j = 0; j <= gone; j++)
				if (i == (j * 5) % 6)
					deleted = 1;
			cr_expect_eq(test_ipc_all(k[i]), deleted ? 0 : 1,
			    "after %d deletions, key %d", gone + 1, i);
		}
		cr_expect_eq(test_ipc_all(o), 1);
	}
	shm_ipc_del(&reg, 0, o);
	for (i = 0; i < SHM_IPC_ENTRIES; i++)
		cr_assert_eq(shm_region_iptable(&reg, 0)->it_ent[i].ie_count,
		    0, "entry %d left", i);
}

/* Random adds and deletes on crowded homes, against a model. */
Test(shm_ipc, random_operations_match_a_model)
{
	enum { NKEYS = 96 };
	uint8_t		 k[NKEYS][SHM_IPC_KEY];
	unsigned	 model[NKEYS] = { 0 }, used = 0;
	uint32_t	 n = 0, homes[] = { SHM_IPC_ENTRIES - 3,
			    SHM_IPC_ENTRIES - 1, 0, 5, 77 };
	int		 i, op, x;

	for (i = 0; i < NKEYS; i++)
		test_ipc_collider(k[i], &n, homes[i % 5]);
	srandom(12345);
	for (op = 0; op < 20000; op++) {
		x = (int)(random() % NKEYS);
		if (model[x] > 0 && random() % 2 == 0) {
			shm_ipc_del(&reg, 1, k[x]);
			if (--model[x] == 0)
				used--;
		} else {
			cr_assert_eq(shm_ipc_add(&reg, 1, k[x]), SHM_OK);
			if (model[x]++ == 0)
				used++;
		}
		if (op % 97 != 0 && op < 19900)
			continue;
		for (i = 0; i < NKEYS; i++)
			cr_assert_eq(test_ipc_all(k[i]), model[i],
			    "op %d, key %d", op, i);
		cr_assert_eq(shm_region_iptable(&reg, 1)->it_used, used);
	}
}

Test(shm_ipc, a_full_table_refuses_new_addresses_only)
{
	uint8_t		 key[SHM_IPC_KEY], first[SHM_IPC_KEY];
	uint32_t	 i;

	test_ipc_key(first, 0);
	for (i = 0; i < SHM_IPC_MAX; i++) {
		test_ipc_key(key, i);
		cr_assert_eq(shm_ipc_add(&reg, 2, key), SHM_OK, "address %u",
		    i);
	}
	test_ipc_key(key, i);
	cr_expect_eq(shm_ipc_add(&reg, 2, key), SHM_FULL);
	cr_expect_eq(test_ipc_all(key), 0);
	cr_expect_eq(shm_ipc_add(&reg, 2, first), SHM_OK);
	cr_expect_eq(test_ipc_all(first), 2);
	/* Room again once one address is gone entirely. */
	shm_ipc_del(&reg, 2, first);
	shm_ipc_del(&reg, 2, first);
	cr_expect_eq(shm_ipc_add(&reg, 2, key), SHM_OK);
}

Test(shm_ipc, reap_empties_a_dead_workers_table)
{
	uint8_t		 key[SHM_IPC_KEY];
	uint32_t	 i;

	for (i = 0; i < 100; i++) {
		test_ipc_key(key, i);
		cr_assert_eq(shm_ipc_add(&reg, 1, key), SHM_OK);
		cr_assert_eq(shm_ipc_add(&reg, 0, key), SHM_OK);
	}
	/* As if the worker died between the two stores of an add. */
	shm_region_iptable(&reg, 1)->it_used--;
	shm_ipc_reap(&reg, 1);
	for (i = 0; i < 100; i++) {
		test_ipc_key(key, i);
		cr_expect_eq(test_ipc_all(key), 1, "address %u", i);
		cr_expect_eq(shm_ipc_count(&reg, key, 0), 0);
	}
	cr_expect_eq(shm_region_iptable(&reg, 1)->it_used, 0);
	for (i = 0; i < SHM_IPC_ENTRIES; i++)
		cr_assert_eq(shm_region_iptable(&reg, 1)->it_ent[i].ie_count,
		    0);
	test_ipc_key(key, 7);
	cr_expect_eq(shm_ipc_add(&reg, 1, key), SHM_OK);
	cr_expect_eq(test_ipc_all(key), 2);
}
