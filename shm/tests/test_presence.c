/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_presence.c: unit tests of the shared table of online names in
 * shm_presence.c.  Single-process tests check the API: claim, lookup,
 * release, list, reap, a full table, names that differ only in ASCII case
 * (one name, kept as its owner wrote it, respelt with recase), and a long
 * random run against a reference model in a small table (colliding probe
 * sequences, TOMBs, every name claimed and looked up in random case).
 * Slots a worker killed mid-claim leaves behind (BUSY, CLAIM) are made by
 * hand.  The cross-process tests fork eight claimers that race for the
 * same name (each spelling it in its own ASCII case) at a shared start
 * barrier, round after round, and check that exactly one wins each round;
 * variants add colliding names and TOMBs, run without barriers, SIGKILL
 * claimers mid-run while the parent reaps them as the master would, and
 * have the holder respell its name while the others try to take it; and
 * the parent reaps a worker while a child claims the slots it frees.
 * Each holder and spelling has a stamp of its own (presence events carry
 * it).
 */

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "shm.h"

/* The state word, as shm_presence.c lays it out. */
#define T_WORD(g, wk, st) \
	((uint64_t)(g) << 16 | (uint64_t)((wk) & 0xff) << 8 | (st))
#define T_STATE(w)	((unsigned)((w) & 0xff))

#define T_NWORKERS	9	/* 8 racers and the parent */
#define T_PARENT	8

static struct shm_region	 reg;

static void
test_presence_open(unsigned pslots)
{
	cr_assert_eq(shm_region_open(&reg, T_NWORKERS, 4096, pslots), 0,
	    "open: %s", strerror(errno));
}

static void
test_presence_setup(void)
{
	test_presence_open(64);
}

static void
test_presence_teardown(void)
{
	shm_region_close(&reg);
}

TestSuite(shm_presence, .init = test_presence_setup,
    .fini = test_presence_teardown, .timeout = 120);

static uint32_t
test_presence_home(const char *name)
{
	/* The table's keyed hash: the test knows the key. */
	return ((uint32_t)(shm_hash(&reg, name, strlen(name)) &
	    (reg.hdr->sh_pslots - 1)));
}

/* The n-th name "<prefix><k>" whose home slot is home. */
static void
test_presence_collider(char *buf, size_t sz, const char *prefix,
    uint32_t home, unsigned n)
{
	unsigned	 k;

	for (k = 0;; k++) {
		snprintf(buf, sz, "%s%u", prefix, k);
		if (test_presence_home(buf) == home && n-- == 0)
			return;
	}
}

static int
test_presence_claim(const char *name, uint32_t worker, uint64_t conn,
    uint32_t *slot)
{
	return (shm_presence_claim(&reg, name, strlen(name), worker, 7, conn,
	    NULL, NULL, slot));
}

static int
test_presence_lookup(const char *name, struct shm_presence_entry *e)
{
	return (shm_presence_lookup(&reg, name, strlen(name), e));
}

static struct shm_pslot *
test_presence_slot(uint32_t i)
{
	return (&shm_region_pslots(&reg)[i]);
}

/* Put a slot by hand in a state a dead claimer leaves. */
static void
test_presence_forge(uint32_t i, const char *name, uint32_t worker,
    uint64_t conn, unsigned state)
{
	struct shm_pslot	*s = test_presence_slot(i);
	uint64_t		 w = atomic_load(&s->ps_state);

	cr_assert(T_STATE(w) == SHM_PS_EMPTY || T_STATE(w) == SHM_PS_TOMB);
	s->ps_worker = worker;
	s->ps_kind = 7;
	s->ps_conn = conn;
	s->ps_len = (uint8_t)strlen(name);
	memcpy(s->ps_name, name, strlen(name));
	atomic_store(&s->ps_state, T_WORD((w >> 16) + 1, worker, state));
	if (atomic_load(&reg.hdr->sh_maxprobe) < reg.hdr->sh_pslots)
		atomic_store(&reg.hdr->sh_maxprobe, reg.hdr->sh_pslots - 1);
}

static double
test_presence_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

Test(shm_presence, a_name_is_claimed_looked_up_and_released)
{
	struct shm_presence_entry	 e;
	uint32_t			 slot = UINT32_MAX;

	cr_assert_eq(test_presence_lookup("alice", &e), SHM_EMPTY);
	cr_assert_eq(test_presence_claim("alice", 3, 1001, &slot), SHM_OK);
	cr_assert_lt(slot, 64);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 1);
	memset(&e, 0xa5, sizeof(e));
	cr_assert_eq(test_presence_lookup("alice", &e), SHM_OK);
	cr_assert_str_eq(e.name, "alice");
	cr_assert_eq(e.worker, 3);
	cr_assert_eq(e.kind, 7);
	cr_assert_eq(e.conn, 1001);
	cr_assert_eq(T_STATE(atomic_load(&test_presence_slot(slot)->
	    ps_state)), SHM_PS_LIVE);
	cr_assert_eq(shm_presence_release(&reg, slot, 3, 1001), SHM_OK);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 0);
	cr_assert_eq(test_presence_lookup("alice", &e), SHM_EMPTY);
	cr_assert_eq(T_STATE(atomic_load(&test_presence_slot(slot)->
	    ps_state)), SHM_PS_TOMB);
}

Test(shm_presence, a_taken_name_is_refused_to_everyone_else)
{
	struct shm_presence_entry	 e;
	uint32_t			 slot, s2 = UINT32_MAX;

	cr_assert_eq(test_presence_claim("bob", 1, 10, &slot), SHM_OK);
	cr_assert_eq(test_presence_claim("bob", 2, 20, &s2), SHM_TAKEN);
	cr_assert_eq(test_presence_claim("bob", 1, 11, &s2), SHM_TAKEN);
	cr_assert_eq(test_presence_claim("bob", 1, 10, &s2), SHM_TAKEN);
	cr_assert_eq(s2, UINT32_MAX, "slot set on SHM_TAKEN");
	cr_assert_eq(test_presence_lookup("bob", &e), SHM_OK);
	cr_assert_eq(e.worker, 1);
	cr_assert_eq(e.conn, 10);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 1);
	/* The losers' slots went back: one LIVE slot in the table. */
	cr_assert_eq(shm_presence_list(&reg, &e, 1), 1);
}

Test(shm_presence, names_are_one_name_whatever_their_ascii_case)
{
	struct shm_presence_entry	 e;
	uint32_t			 s, s2 = UINT32_MAX;

	cr_assert_eq(test_presence_claim("alice", 1, 1, &s), SHM_OK);
	cr_assert_eq(test_presence_claim("Alice", 2, 2, &s2), SHM_TAKEN);
	cr_assert_eq(test_presence_claim("ALICE", 3, 3, &s2), SHM_TAKEN);
	cr_assert_eq(test_presence_claim("aLiCe", 1, 1, &s2), SHM_TAKEN);
	cr_assert_eq(s2, UINT32_MAX, "slot set on SHM_TAKEN");
	/* Found in any case, and shown as its owner wrote it. */
	cr_assert_eq(test_presence_lookup("ALICE", &e), SHM_OK);
	cr_assert_str_eq(e.name, "alice");
	cr_assert_eq(e.worker, 1);
	cr_assert_eq(test_presence_lookup("alicE", &e), SHM_OK);
	cr_assert_eq(test_presence_claim("Bob", 4, 4, &s2), SHM_OK);
	cr_assert_eq(test_presence_lookup("bob", &e), SHM_OK);
	cr_assert_str_eq(e.name, "Bob");
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 2);
	/* Released in one case, free in every case. */
	cr_assert_eq(shm_presence_release(&reg, s, 1, 1), SHM_OK);
	cr_assert_eq(test_presence_lookup("alice", &e), SHM_EMPTY);
	cr_assert_eq(test_presence_claim("ALICE", 3, 3, &s), SHM_OK);
	cr_assert_eq(test_presence_lookup("alice", &e), SHM_OK);
	cr_assert_str_eq(e.name, "ALICE");
	cr_assert_eq(e.worker, 3);
}

Test(shm_presence, only_ascii_letters_fold_and_lengths_are_exact)
{
	struct shm_presence_entry	 e;
	uint32_t			 s;
	char				 longest[SHM_NAME_MAX + 1];

	cr_assert_eq(test_presence_claim("alice", 1, 1, &s), SHM_OK);
	cr_assert_eq(test_presence_claim("ali", 4, 4, &s), SHM_OK);
	cr_assert_eq(test_presence_claim("alice2", 5, 5, &s), SHM_OK);
	cr_assert_eq(test_presence_lookup("ALI", &e), SHM_OK);
	cr_assert_eq(e.worker, 4);
	cr_assert_eq(test_presence_lookup("alic", &e), SHM_EMPTY);
	/* Same bytes, shorter length. */
	cr_assert_eq(shm_presence_lookup(&reg, "alice", 4, &e), SHM_EMPTY);
	cr_assert_eq(shm_presence_claim(&reg, "alice", 4, 6, 0, 6, NULL, NULL,
	    &s), SHM_OK);
	/* Not letters: '@' is 'A' - 1, '[' is 'Z' + 1, '`' is 'a' - 1. */
	cr_assert_eq(test_presence_claim("x@", 1, 2, &s), SHM_OK);
	cr_assert_eq(test_presence_claim("x`", 1, 3, &s), SHM_OK);
	cr_assert_eq(test_presence_claim("x[", 1, 4, &s), SHM_OK);
	cr_assert_eq(test_presence_claim("x{", 1, 5, &s), SHM_OK);
	cr_assert_eq(test_presence_claim("X{", 1, 6, &s), SHM_TAKEN);
	/* UTF-8 beyond ASCII is bytes: no folding of \u00e9 and \u00c9. */
	cr_assert_eq(test_presence_claim("\xc3\xa9lise", 1, 9, &s), SHM_OK);
	cr_assert_eq(test_presence_claim("\xc3\x89lise", 1, 9, &s), SHM_OK);
	cr_assert_eq(test_presence_claim("\xc3\x89LISE", 1, 9, &s),
	    SHM_TAKEN);
	memset(longest, 'z', SHM_NAME_MAX);
	longest[SHM_NAME_MAX] = '\0';
	cr_assert_eq(test_presence_claim(longest, 7, 7, &s), SHM_OK);
	cr_assert_eq(test_presence_lookup(longest, &e), SHM_OK);
	cr_assert_str_eq(e.name, longest);
	longest[SHM_NAME_MAX - 1] = 'Z';
	cr_assert_eq(test_presence_claim(longest, 1, 1, &s), SHM_TAKEN);
}

Test(shm_presence, hash_and_equality_fold_ascii_letters_only)
{
	cr_assert_eq(shm_hash(&reg, "Alice", 5), shm_hash(&reg, "aLICE", 5));
	cr_assert_eq(shm_hash(&reg, "AZaz09", 6), shm_hash(&reg, "azAZ09", 6));
	cr_assert_neq(shm_hash(&reg, "x@", 2), shm_hash(&reg, "x`", 2));
	/* Longer than SipHash's 8-byte blocks: the fold reaches them all. */
	cr_assert_eq(shm_hash(&reg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", 32),
	    shm_hash(&reg, "abcdefghijklmnopqrstuvwxyz012345", 32));
	cr_assert(shm_hash_equal("Alice", 5, "aLICE", 5));
	cr_assert(!shm_hash_equal("alice", 5, "alice", 4));
	cr_assert(!shm_hash_equal("x@", 2, "x`", 2));
	cr_assert(!shm_hash_equal("x[", 2, "x{", 2));
	cr_assert(!shm_hash_equal("\xc3\xa9", 2, "\xc3\x89", 2));
	cr_assert(shm_hash_equal("", 0, "", 0));
}

Test(shm_presence, the_owner_changes_only_the_case_of_its_name)
{
	struct shm_presence_entry	 e;
	uint32_t			 s, s2;
	uint64_t			 g;

	cr_assert_eq(test_presence_claim("alice", 2, 20, &s), SHM_OK);
	g = shm_presence_gen(&reg);
	cr_assert_eq(shm_presence_recase(&reg, s, 2, 20, "Alice", 5), SHM_OK);
	cr_assert_eq(shm_presence_gen(&reg), g + 1);
	cr_assert_eq(test_presence_lookup("alice", &e), SHM_OK);
	cr_assert_str_eq(e.name, "Alice");
	cr_assert_eq(e.conn, 20);
	cr_assert_eq(shm_presence_list(&reg, &e, 1), 1);
	cr_assert_str_eq(e.name, "Alice");
	cr_assert_eq(T_STATE(atomic_load(&test_presence_slot(s)->ps_state)),
	    SHM_PS_LIVE);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 1);
	/* Still taken, in every case. */
	cr_assert_eq(test_presence_claim("alice", 3, 30, &s2), SHM_TAKEN);
	/* Another name, or someone else's slot: refused, nothing changed. */
	errno = 0;
	cr_assert_eq(shm_presence_recase(&reg, s, 2, 20, "alicia", 6),
	    SHM_ERR);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(shm_presence_recase(&reg, s, 2, 20, "alic", 4), SHM_ERR);
	cr_assert_eq(shm_presence_recase(&reg, s, 3, 20, "ALICE", 5), SHM_ERR);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(shm_presence_recase(&reg, s, 2, 21, "ALICE", 5), SHM_ERR);
	cr_assert_eq(shm_presence_recase(&reg, 64, 2, 20, "ALICE", 5),
	    SHM_ERR);
	cr_assert_eq(shm_presence_gen(&reg), g + 1);
	cr_assert_eq(test_presence_lookup("ALICE", &e), SHM_OK);
	cr_assert_str_eq(e.name, "Alice");
	/* The new generation is the owner's still: it releases. */
	cr_assert_eq(shm_presence_release(&reg, s, 2, 20), SHM_OK);
	cr_assert_eq(shm_presence_recase(&reg, s, 2, 20, "alice", 5), SHM_ERR);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(test_presence_lookup("alice", &e), SHM_EMPTY);
}

Test(shm_presence, a_name_keeps_its_room_and_only_the_owner_moves_it)
{
	struct shm_presence_entry	 e, gone;
	uint32_t			 s;
	uint64_t			 g;

	cr_assert_eq(shm_presence_claim(&reg, "bob", 3, 2, 0, 20, "1.2.3.4:5",
	    "lobby", &s), SHM_OK);
	cr_assert_eq(test_presence_lookup("BOB", &e), SHM_OK);
	cr_assert_str_eq(e.room, "lobby");
	g = shm_presence_gen(&reg);
	cr_assert_eq(shm_presence_move(&reg, s, 2, 20, "games", 5), SHM_OK);
	/* A move changes the set's generation: cached lists are stale. */
	cr_assert_eq(shm_presence_gen(&reg), g + 1);
	cr_assert_eq(shm_presence_list(&reg, &e, 1), 1);
	cr_assert_str_eq(e.name, "bob");
	cr_assert_str_eq(e.room, "games");
	cr_assert_str_eq(e.peer, "1.2.3.4:5");
	/* A shorter room leaves nothing of the longer one behind. */
	cr_assert_eq(shm_presence_move(&reg, s, 2, 20, "x", 1), SHM_OK);
	cr_assert_eq(test_presence_lookup("bob", &e), SHM_OK);
	cr_assert_str_eq(e.room, "x");
	/* Someone else's slot: refused, nothing changed. */
	errno = 0;
	cr_assert_eq(shm_presence_move(&reg, s, 3, 20, "y", 1), SHM_ERR);
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(shm_presence_move(&reg, s, 2, 21, "y", 1), SHM_ERR);
	cr_assert_eq(test_presence_lookup("bob", &e), SHM_OK);
	cr_assert_str_eq(e.room, "x");
	/* The reaper hands back the room with the name. */
	cr_assert_eq(shm_presence_reap(&reg, 2, &gone, 1), 1);
	cr_assert_str_eq(gone.name, "bob");
	cr_assert_str_eq(gone.room, "x");
	cr_assert_eq(shm_presence_move(&reg, s, 2, 20, "y", 1), SHM_ERR);
}

Test(shm_presence, each_holder_and_spelling_has_a_stamp_of_its_own)
{
	struct shm_presence_entry	 e;
	uint32_t			 s, s2;
	uint64_t			 a, b, c;

	cr_assert_eq(test_presence_claim("alice", 2, 20, &s), SHM_OK);
	a = shm_presence_seq(&reg, s);
	cr_assert_neq(a, 0);
	cr_assert_eq(test_presence_lookup("ALICE", &e), SHM_OK);
	cr_assert_eq(e.seq, a);
	/* A respelling is a new stamp, seen by lookups; a move is not. */
	cr_assert_eq(shm_presence_recase(&reg, s, 2, 20, "Alice", 5), SHM_OK);
	b = shm_presence_seq(&reg, s);
	cr_assert_neq(b, a);
	cr_assert_eq(test_presence_lookup("alice", &e), SHM_OK);
	cr_assert_eq(e.seq, b);
	cr_assert_eq(shm_presence_move(&reg, s, 2, 20, "den", 3), SHM_OK);
	cr_assert_eq(shm_presence_seq(&reg, s), b);
	/* The next holder, in the same slot or not, has another. */
	cr_assert_eq(shm_presence_release(&reg, s, 2, 20), SHM_OK);
	cr_assert_eq(test_presence_claim("alice", 3, 30, &s2), SHM_OK);
	c = shm_presence_seq(&reg, s2);
	cr_assert(c != a && c != b);
	cr_assert_eq(test_presence_lookup("alice", &e), SHM_OK);
	cr_assert_eq(e.seq, c);
	/* A dead worker's names keep theirs in the reaped copy. */
	cr_assert_eq(shm_presence_reap(&reg, 3, &e, 1), 1);
	cr_assert_eq(e.seq, c);
	cr_assert_eq(shm_presence_seq(&reg, 64), 0);
}

Test(shm_presence, release_by_anyone_but_the_owner_fails)
{
	struct shm_presence_entry	 e;
	uint32_t			 slot, s2;

	cr_assert_eq(test_presence_claim("carol", 2, 77, &slot), SHM_OK);
	cr_assert_eq(shm_presence_release(&reg, slot, 3, 77), SHM_ERR);
	cr_assert_eq(shm_presence_release(&reg, slot, 2, 78), SHM_ERR);
	cr_assert_eq(shm_presence_release(&reg, slot ^ 1, 2, 77), SHM_ERR);
	cr_assert_eq(shm_presence_release(&reg, 64, 2, 77), SHM_ERR);
	cr_assert_eq(shm_presence_release(&reg, UINT32_MAX, 2, 77), SHM_ERR);
	cr_assert_eq(test_presence_lookup("carol", &e), SHM_OK);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 1);
	cr_assert_eq(shm_presence_release(&reg, slot, 2, 77), SHM_OK);
	/* Twice: the second is not the owner's any more. */
	cr_assert_eq(shm_presence_release(&reg, slot, 2, 77), SHM_ERR);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 0);
	/* A new occupant of the same slot is not the old owner's. */
	cr_assert_eq(test_presence_claim("carol", 4, 5, &s2), SHM_OK);
	cr_assert_eq(s2, slot);
	cr_assert_eq(shm_presence_release(&reg, slot, 2, 77), SHM_ERR);
	cr_assert_eq(test_presence_lookup("carol", &e), SHM_OK);
	cr_assert_eq(e.worker, 4);
}

Test(shm_presence, a_released_name_can_be_claimed_again_many_times)
{
	struct shm_presence_entry	 e;
	uint32_t			 slot;
	uint64_t			 i;

	for (i = 0; i < 5000; i++) {
		cr_assert_eq(test_presence_claim("dave", i % 8, i, &slot),
		    SHM_OK, "round %llu", (unsigned long long)i);
		cr_assert_eq(test_presence_lookup("dave", &e), SHM_OK);
		cr_assert_eq(e.conn, i);
		cr_assert_eq(shm_presence_release(&reg, slot, i % 8, i),
		    SHM_OK);
	}
	cr_assert_eq(test_presence_lookup("dave", &e), SHM_EMPTY);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 0);
}

Test(shm_presence, a_full_table_says_full)
{
	struct shm_presence_entry	 e[8];
	uint32_t			 slots[8], s;
	char				 name[16];
	int				 i;

	shm_region_close(&reg);
	test_presence_open(8);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		cr_assert_eq(test_presence_claim(name, 1, i, &slots[i]),
		    SHM_OK, "%s", name);
	}
	cr_assert_eq(test_presence_claim("one-too-many", 1, 99, &s), SHM_FULL);
	cr_assert_eq(test_presence_claim("another", 2, 98, &s), SHM_FULL);
	cr_assert_eq(shm_presence_list(&reg, e, 8), 8);
	cr_assert_eq(shm_presence_release(&reg, slots[5], 1, 5), SHM_OK);
	cr_assert_eq(test_presence_claim("one-too-many", 1, 99, &s), SHM_OK);
	cr_assert_eq(s, slots[5]);
	cr_assert_eq(test_presence_claim("another", 2, 98, &s), SHM_FULL);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		cr_assert_eq(test_presence_lookup(name, e),
		    i == 5 ? SHM_EMPTY : SHM_OK, "%s", name);
	}
}

/*
 * name spelt in the ASCII case that the bits of spell say, one bit a
 * letter (1: upper case).
 */
static void
test_presence_spell(char *out, size_t sz, const char *name, unsigned spell)
{
	size_t	 i;

	snprintf(out, sz, "%s", name);
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'a' && out[i] <= 'z') {
			if (spell & 1)
				out[i] -= 'a' - 'A';
			spell >>= 1;
		}
}

/* A reference model: what should be in the table. */
struct test_model {
	char		 name[SHM_NAME_MAX + 1];	/* in lower case */
	char		 held[SHM_NAME_MAX + 1];	/* as claimed */
	int		 live;
	uint32_t	 slot, worker;
	uint64_t	 conn;
};

static int
test_presence_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct shm_presence_entry *)a)->name,
	    ((const struct shm_presence_entry *)b)->name));
}

/*
 * Random claims, releases and changes of case of 40 names in 16 slots
 * (every probe sequence collides; TOMBs everywhere) against the model,
 * each claim and lookup spelling the name in a random ASCII case: results,
 * lookups (which find the name as it was claimed) and the list must agree
 * after every step.
 */
static void
test_presence_model_run(unsigned pslots, unsigned nnames, unsigned steps)
{
	struct test_model		 m[64];
	struct shm_presence_entry	 e, list[64], want[64];
	unsigned			 i, k, nlive = 0, nlist, nwant, step;
	uint32_t			 slot;
	unsigned long			 rnd = 12345;
	int				 rc;
	char				 spelt[SHM_NAME_MAX + 1];

	shm_region_close(&reg);
	test_presence_open(pslots);
	memset(m, 0, sizeof(m));
	for (i = 0; i < nnames; i++)
		snprintf(m[i].name, sizeof(m[i].name), "name%u", i);
	for (step = 0; step < steps; step++) {
		rnd = rnd * 6364136223846793005UL + 1442695040888963407UL;
		k = (unsigned)(rnd >> 33) % nnames;
		test_presence_spell(spelt, sizeof(spelt), m[k].name,
		    (unsigned)(rnd >> 8));
		if (m[k].live && (rnd >> 20) % 8 == 1) {
			cr_assert_eq(shm_presence_recase(&reg, m[k].slot,
			    m[k].worker, m[k].conn, spelt, strlen(spelt)),
			    SHM_OK, "step %u: recase %s", step, spelt);
			strcpy(m[k].held, spelt);
		} else if (!m[k].live || (rnd >> 20) % 4 == 0) {
			rc = test_presence_claim(spelt, k % 8, step, &slot);
			if (m[k].live)
				cr_assert(rc == SHM_TAKEN || (rc == SHM_FULL &&
				    nlive == pslots), "step %u: claim of "
				    "taken %s: %d", step, m[k].name, rc);
			else if (nlive == pslots)
				cr_assert_eq(rc, SHM_FULL, "step %u", step);
			else {
				cr_assert_eq(rc, SHM_OK, "step %u: claim %s: "
				    "%d", step, spelt, rc);
				strcpy(m[k].held, spelt);
				m[k].live = 1;
				m[k].slot = slot;
				m[k].worker = k % 8;
				m[k].conn = step;
				nlive++;
			}
		} else {
			cr_assert_eq(shm_presence_release(&reg, m[k].slot,
			    m[k].worker, m[k].conn), SHM_OK, "step %u", step);
			m[k].live = 0;
			nlive--;
		}
		for (i = 0; i < nnames; i++) {
			test_presence_spell(spelt, sizeof(spelt), m[i].name,
			    step + i);
			rc = test_presence_lookup(spelt, &e);
			cr_assert_eq(rc, m[i].live ? SHM_OK : SHM_EMPTY,
			    "step %u: lookup %s", step, spelt);
			if (m[i].live)
				cr_assert(e.conn == m[i].conn &&
				    e.worker == m[i].worker &&
				    strcmp(e.name, m[i].held) == 0,
				    "step %u: %s found as %s, claimed as %s",
				    step, spelt, e.name, m[i].held);
		}
		nlist = (unsigned)shm_presence_list(&reg, list, 64);
		for (i = 0, nwant = 0; i < nnames; i++)
			if (m[i].live) {
				strcpy(want[nwant].name, m[i].held);
				nwant++;
			}
		cr_assert_eq(nlist, nwant, "step %u", step);
		qsort(list, nlist, sizeof(list[0]), test_presence_cmp);
		qsort(want, nwant, sizeof(want[0]), test_presence_cmp);
		for (i = 0; i < nlist; i++)
			cr_assert_str_eq(list[i].name, want[i].name);
		cr_assert_eq(atomic_load(&reg.hdr->sh_users), nlive);
	}
}

Test(shm_presence, colliding_names_and_tombs_keep_working)
{
	test_presence_model_run(16, 40, 20000);
}

Test(shm_presence, a_table_of_eight_filled_and_emptied_keeps_working)
{
	test_presence_model_run(8, 12, 20000);
}

Test(shm_presence, names_on_one_probe_sequence_find_their_way_past_tombs)
{
	struct shm_presence_entry	 e;
	char				 n[6][16];
	uint32_t			 home, s[6];
	int				 i;

	home = test_presence_home("x");
	for (i = 0; i < 6; i++) {
		test_presence_collider(n[i], sizeof(n[i]), "c", home, i);
		cr_assert_eq(test_presence_claim(n[i], 1, i, &s[i]), SHM_OK);
		cr_assert_eq(s[i], (home + i) & 63, "%s", n[i]);
	}
	/* Holes in the middle: later names still found, and still unique. */
	cr_assert_eq(shm_presence_release(&reg, s[1], 1, 1), SHM_OK);
	cr_assert_eq(shm_presence_release(&reg, s[3], 1, 3), SHM_OK);
	cr_assert_eq(test_presence_lookup(n[5], &e), SHM_OK);
	cr_assert_eq(test_presence_claim(n[5], 2, 50, &s[1]), SHM_TAKEN);
	cr_assert_eq(test_presence_claim(n[4], 2, 40, &s[1]), SHM_TAKEN);
	/* Re-claiming a released one takes the first TOMB. */
	cr_assert_eq(test_presence_claim(n[3], 2, 30, &s[3]), SHM_OK);
	cr_assert_eq(s[3], (home + 1) & 63);
	cr_assert_eq(test_presence_lookup(n[1], &e), SHM_EMPTY);
	cr_assert_eq(test_presence_lookup(n[3], &e), SHM_OK);
	cr_assert_eq(e.worker, 2);
	cr_assert_eq(atomic_load(&reg.hdr->sh_maxprobe), 5);
}

Test(shm_presence, list_returns_exactly_the_live_names)
{
	struct shm_presence_entry	 e[64];
	uint32_t			 s[5], free0, free1;
	size_t				 n;

	cr_assert_eq(shm_presence_list(&reg, e, 64), 0);
	cr_assert_eq(test_presence_claim("ann", 1, 1, &s[0]), SHM_OK);
	cr_assert_eq(test_presence_claim("ben", 2, 2, &s[1]), SHM_OK);
	cr_assert_eq(test_presence_claim("cid", 3, 3, &s[2]), SHM_OK);
	cr_assert_eq(test_presence_claim("dot", 4, 4, &s[3]), SHM_OK);
	cr_assert_eq(shm_presence_release(&reg, s[1], 2, 2), SHM_OK);
	/* Slots of claims in progress are not online names.  Two slots
	 * nobody took: where the names went depends on the hash's key. */
	for (free0 = 0; T_STATE(atomic_load(&test_presence_slot(free0)->
	    ps_state)) != SHM_PS_EMPTY; free0++)
		;
	for (free1 = free0 + 1; T_STATE(atomic_load(&test_presence_slot(
	    free1)->ps_state)) != SHM_PS_EMPTY; free1++)
		;
	test_presence_forge(free0, "eve", 5, 5, SHM_PS_CLAIM);
	test_presence_forge(free1, "fay", 5, 6, SHM_PS_BUSY);
	n = shm_presence_list(&reg, e, 64);
	cr_assert_eq(n, 3);
	qsort(e, n, sizeof(e[0]), test_presence_cmp);
	cr_assert_str_eq(e[0].name, "ann");
	cr_assert_str_eq(e[1].name, "cid");
	cr_assert_str_eq(e[2].name, "dot");
	cr_assert_eq(e[2].worker, 4);
	cr_assert_eq(e[2].conn, 4);
	cr_assert_eq(e[2].kind, 7);
	/* At most max. */
	cr_assert_eq(shm_presence_list(&reg, e, 2), 2);
	cr_assert_eq(shm_presence_list(&reg, e, 0), 0);
}

/*
 * Reap worker 3, killed with two names online, one claim half-written
 * (BUSY) and one undecided (CLAIM), while worker 4 has names too.
 */
Test(shm_presence, reap_frees_every_slot_of_one_worker_and_no_other)
{
	struct shm_presence_entry	 e[8];
	char				 busy[16], claim[16];
	uint32_t			 s[4], bslot, cslot;
	size_t				 n;
	double				 t0;
	int				 i, k;

	cr_assert_eq(test_presence_claim("w3a", 3, 31, &s[0]), SHM_OK);
	cr_assert_eq(test_presence_claim("w3b", 3, 32, &s[1]), SHM_OK);
	cr_assert_eq(test_presence_claim("w4a", 4, 41, &s[2]), SHM_OK);
	cr_assert_eq(test_presence_claim("w4b", 4, 42, &s[3]), SHM_OK);
	/* Worker 3's half-done claims sit at the homes of two names, away
	 * from the slots taken above. */
	for (i = 0;; i++) {
		snprintf(busy, sizeof(busy), "ziggy%d", i);
		bslot = test_presence_home(busy);
		cslot = (bslot + 9) & 63;
		for (k = 0; k < 4; k++)
			if (s[k] == bslot || s[k] == cslot)
				break;
		if (k == 4)
			break;
	}
	test_presence_forge(bslot, busy, 3, 33, SHM_PS_BUSY);
	test_presence_collider(claim, sizeof(claim), "q", cslot, 0);
	test_presence_forge(cslot, claim, 3, 34, SHM_PS_CLAIM);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 4);

	memset(e, 0, sizeof(e));
	n = shm_presence_reap(&reg, 3, e, 8);
	cr_assert_eq(n, 2, "reaped %zu live names", n);
	qsort(e, 2, sizeof(e[0]), test_presence_cmp);
	cr_assert_str_eq(e[0].name, "w3a");
	cr_assert_eq(e[0].conn, 31);
	cr_assert_eq(e[0].worker, 3);
	cr_assert_eq(e[0].kind, 7);
	cr_assert_str_eq(e[1].name, "w3b");
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 2);
	cr_assert_eq(T_STATE(atomic_load(&test_presence_slot(bslot)->
	    ps_state)), SHM_PS_TOMB);
	cr_assert_eq(T_STATE(atomic_load(&test_presence_slot(cslot)->
	    ps_state)), SHM_PS_TOMB);
	cr_assert_eq(test_presence_lookup("w3a", e), SHM_EMPTY);
	cr_assert_eq(test_presence_lookup("w4a", e), SHM_OK);
	cr_assert_eq(test_presence_lookup("w4b", e), SHM_OK);
	cr_assert_eq(shm_presence_list(&reg, e, 8), 2);
	/* Worker 3's old owners cannot release what was reaped. */
	cr_assert_eq(shm_presence_release(&reg, s[0], 3, 31), SHM_ERR);
	/* Nothing left: a second reap frees nothing. */
	cr_assert_eq(shm_presence_reap(&reg, 3, e, 8), 0);

	/* The half-claimed names are free, at once: no waiting on BUSY. */
	t0 = test_presence_now();
	cr_assert_eq(test_presence_claim(busy, 5, 51, &s[0]), SHM_OK);
	cr_assert_eq(s[0], bslot);
	cr_assert_eq(test_presence_claim(claim, 5, 52, &s[1]), SHM_OK);
	cr_assert_eq(test_presence_lookup(claim, e), SHM_OK);
	cr_assert_eq(e[0].worker, 5);
	cr_assert_lt(test_presence_now() - t0, 0.1);
	/* A respawned worker 3 starts from nothing. */
	cr_assert_eq(test_presence_claim("w3a", 3, 35, &s[2]), SHM_OK);
}

/* A worker killed while it respelt its name had the name online. */
Test(shm_presence, a_name_whose_owner_died_recasing_it_is_reaped_as_online)
{
	struct shm_presence_entry	 e[2];
	uint32_t			 home, s;

	home = test_presence_home("carol");
	test_presence_forge(home, "Carol", 3, 33, SHM_PS_RECASE);
	atomic_store(&reg.hdr->sh_users, 1);
	memset(e, 0, sizeof(e));
	cr_assert_eq(shm_presence_reap(&reg, 3, e, 2), 1);
	cr_assert_str_eq(e[0].name, "Carol");
	cr_assert_eq(e[0].conn, 33);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 0);
	cr_assert_eq(T_STATE(atomic_load(&test_presence_slot(home)->
	    ps_state)), SHM_PS_TOMB);
	cr_assert_eq(test_presence_claim("CAROL", 1, 10, &s), SHM_OK);
}

Test(shm_presence, a_reaped_claim_no_longer_decides_a_later_claim)
{
	struct shm_presence_entry	 e;
	uint32_t			 home, s;

	/* A dead CLAIM of "zed" at its home slot, before reaping, makes a
	 * later claimer of "zed" lose; after reaping, it wins. */
	home = test_presence_home("zed");
	test_presence_forge(home, "zed", 6, 60, SHM_PS_CLAIM);
	cr_assert_eq(test_presence_claim("zed", 1, 10, &s), SHM_TAKEN);
	cr_assert_eq(test_presence_lookup("zed", &e), SHM_EMPTY);
	cr_assert_eq(shm_presence_reap(&reg, 6, &e, 1), 0);
	cr_assert_eq(test_presence_claim("zed", 1, 10, &s), SHM_OK);
}

Test(shm_presence, reap_counts_all_names_but_copies_at_most_max)
{
	struct shm_presence_entry	 e[3];
	char				 name[16];
	uint32_t			 s;
	int				 i;

	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "r%d", i);
		cr_assert_eq(test_presence_claim(name, 2, i, &s), SHM_OK);
	}
	memset(e, 0, sizeof(e));
	cr_assert_eq(shm_presence_reap(&reg, 2, e, 2), 10);
	cr_assert_eq(e[2].name[0], '\0', "copied past max");
	cr_assert_eq(shm_presence_list(&reg, e, 3), 0);
	cr_assert_eq(atomic_load(&reg.hdr->sh_users), 0);
}

/*
 * The master reaps a dead worker while a live one claims and releases
 * names without pause in the same small table: a slot the reaper frees may
 * be claimed at once, and the names the reaper hands back for logouts must
 * still be the dead worker's, not the new claimer's (nor a mix).  Worker 1
 * "dies" with three names, round after round, for two seconds.
 */
Test(shm_presence, reaped_names_are_the_dead_workers_while_others_claim)
{
	struct shm_presence_entry	 e[4];
	struct timespec			 t0, t;
	char				 name[16];
	uint32_t			 s;
	unsigned			 r, i, bad = 0;
	size_t				 n, k;
	pid_t				 pid;

	shm_region_close(&reg);
	test_presence_open(8);
	if ((pid = fork()) == 0) {
		for (r = 0;; r++) {
			snprintf(name, sizeof(name), "b%u", r % 1000);
			if (shm_presence_claim(&reg, name, strlen(name), 2, 0,
			    r, NULL, "den", &s) == SHM_OK)
				shm_presence_release(&reg, s, 2, r);
		}
	}
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (r = 0;; r++) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 2)
			break;
		for (i = 0; i < 3; i++) {
			snprintf(name, sizeof(name), "a%u", (r * 3 + i) % 1000);
			shm_presence_claim(&reg, name, strlen(name), 1, 0, r,
			    NULL, "lobby", &s);
		}
		n = shm_presence_reap(&reg, 1, e, 4);
		for (k = 0; k < n && k < 4; k++)
			if (e[k].name[0] != 'a' ||
			    strcmp(e[k].room, "lobby") != 0) {
				if (bad++ < 5)
					cr_log_error("round %u: reaped \"%s\" "
					    "in \"%s\"", r, e[k].name,
					    e[k].room);
			}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_eq(bad, 0, "%u of the names reaped in %u rounds were "
	    "another worker's", bad, r);
}

/*
 * The worker index goes into 8 bits of the state word.  Nothing stops a
 * region of more than 256 workers (or a caller) from using a larger one:
 * worker 256 then cannot release its own name, and reaping worker 0 frees
 * worker 256's names while reaping 256 frees nothing.  Either such
 * indices are refused (the region and the claim), or they work.
 */
Test(shm_presence, a_worker_index_above_255_owns_its_names_or_is_refused)
{
	struct shm_presence_entry	 e[4];
	uint32_t			 s0, s1;
	int				 rc;

	shm_region_close(&reg);
	if (shm_region_open(&reg, 300, 4096, 64) == -1) {
		cr_assert_eq(errno, EINVAL);
		test_presence_open(64);
	}
	cr_assert_eq(test_presence_claim("alice", 0, 1, &s0), SHM_OK);
	rc = test_presence_claim("bob", 256, 2, &s1);
	if (rc != SHM_OK) {
		cr_assert_eq(rc, SHM_ERR, "claim by worker 256: %d", rc);
		cr_assert_eq(test_presence_lookup("bob", e), SHM_EMPTY);
		cr_assert_eq(shm_presence_reap(&reg, 0, e, 4), 1);
		return;
	}
	cr_expect_eq(shm_presence_reap(&reg, 0, e, 4), 1,
	    "reaping worker 0 freed worker 256's names too");
	cr_expect_eq(test_presence_lookup("bob", e), SHM_OK);
	cr_expect_eq(shm_presence_release(&reg, s1, 256, 2), SHM_OK,
	    "worker 256 cannot release its own name");
	cr_assert_eq(test_presence_claim("carol", 257, 3, &s1), SHM_OK);
	cr_expect_eq(shm_presence_reap(&reg, 257, e, 4), 1,
	    "reaping worker 257 left its name online");
}

/*
 * Cross-process races.  A page of shared state: a round barrier that
 * survives a killed participant, and per-round results.
 */
#define RACE_K		8
#define RACE_ROUNDS	2000
#define RACE_NAMES	2
#define RACE_STEPS	5	/* barrier steps per round */

struct race {
	_Alignas(64) _Atomic uint64_t	 arrived[RACE_K][8];	/* [i][0] */
	_Atomic int			 dead[RACE_K];
	_Atomic int			 abort;
	int				 reset;		/* fresh table each round */
	struct shm_pslot		 snap[16];	/* ... from this */
	uint32_t			 snap_mp;
	int				 nnames;
	int				 rounds;
	char				 names[RACE_NAMES][SHM_NAME_MAX + 1];
	_Atomic uint32_t		 ok[RACE_NAMES][RACE_ROUNDS];
	_Atomic int32_t			 winner[RACE_NAMES][RACE_ROUNDS];
	_Atomic uint32_t		 winmask[RACE_NAMES][RACE_ROUNDS];
	_Atomic uint32_t		 bad[RACE_ROUNDS];	/* other results */
	_Atomic uint32_t		 badcheck[RACE_ROUNDS];	/* lookup/list */
	_Atomic uint32_t		 holders[RACE_NAMES];
	_Atomic uint64_t		 wins[RACE_K];
	_Atomic uint64_t		 violations;
};

static struct race	*race;

static void
race_open(int nnames, const char *a, const char *b, int rounds)
{
	race = mmap(NULL, sizeof(*race), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(race, MAP_FAILED);
	memset(race, 0, sizeof(*race));
	race->nnames = nnames;
	race->rounds = rounds;
	snprintf(race->names[0], sizeof(race->names[0]), "%s", a);
	snprintf(race->names[1], sizeof(race->names[1]), "%s", b);
	memset(race->winner, 0xff, sizeof(race->winner));
}

/* Arrive at step t and wait for every live participant to reach it. */
static void
race_barrier(int me, uint64_t t)
{
	int	 j, spins = 0;

	atomic_store(&race->arrived[me][0], t);
	for (j = 0; j < RACE_K; j++) {
		while (!atomic_load(&race->dead[j]) &&
		    atomic_load(&race->arrived[j][0]) < t) {
			if (atomic_load_explicit(&race->abort,
			    memory_order_relaxed))
				_exit(3);
			/* A short spin so the CPUs leave together. */
			if (++spins % 64 == 0)
				sched_yield();
		}
	}
}

/*
 * One claimer: worker me, round after round, all at the same moment, with
 * the name spelt in an ASCII case of its own (racer 0 in lower case).  A
 * round is five steps: claim; racer 0 checks the winner; the winner
 * releases; racer 0 may empty the table; all done.
 */
static void
race_child(int me)
{
	struct shm_presence_entry	 e[RACE_K + 8];
	char				 name[SHM_NAME_MAX + 1];
	int				 n = me % race->nnames, r, rc, i, k;
	uint32_t			 slot;
	size_t				 cnt;

	test_presence_spell(name, sizeof(name), race->names[n],
	    (unsigned)me);

	for (r = 0; r < race->rounds; r++) {
		race_barrier(me, RACE_STEPS * (uint64_t)r + 1);
		rc = test_presence_claim(name, (uint32_t)me, (uint64_t)r + 1,
		    &slot);
		if (rc == SHM_OK) {
			atomic_store(&race->winner[n][r], me);
			atomic_fetch_or(&race->winmask[n][r], 1U << me);
			atomic_fetch_add(&race->ok[n][r], 1);
		} else if (rc != SHM_TAKEN)
			atomic_fetch_add(&race->bad[r], 1);
		race_barrier(me, RACE_STEPS * (uint64_t)r + 2);
		if (me == 0) {
			/* Each name is online once, held by the winner. */
			for (k = 0; k < race->nnames; k++) {
				if (test_presence_lookup(race->names[k], e) !=
				    SHM_OK || (int32_t)e[0].worker !=
				    atomic_load(&race->winner[k][r]))
					atomic_fetch_add(&race->badcheck[r], 1);
			}
			cnt = shm_presence_list(&reg, e, RACE_K + 8);
			for (k = 0; k < race->nnames; k++) {
				for (i = 0, rc = 0; i < (int)cnt; i++)
					if (shm_hash_equal(e[i].name,
					    strlen(e[i].name), race->names[k],
					    strlen(race->names[k])))
						rc++;
				if (rc > 1)
					atomic_fetch_add(&race->violations, 1);
			}
		}
		race_barrier(me, RACE_STEPS * (uint64_t)r + 3);
		if (atomic_load(&race->winner[n][r]) == me &&
		    shm_presence_release(&reg, slot, (uint32_t)me,
		    (uint64_t)r + 1) != SHM_OK)
			atomic_fetch_add(&race->bad[r], 1);
		race_barrier(me, RACE_STEPS * (uint64_t)r + 4);
		/* Everyone waits while racer 0 puts the table back as it was
		 * at the start, sh_maxprobe low (so that step 2 matters). */
		if (me == 0 && race->reset) {
			memcpy(shm_region_pslots(&reg), race->snap,
			    sizeof(race->snap));
			atomic_store(&reg.hdr->sh_maxprobe, race->snap_mp);
		}
		race_barrier(me, RACE_STEPS * (uint64_t)r + 5);
	}
	_exit(0);
}

/*
 * Run the racers; kill nkill of them (the last ones) at random moments,
 * reaping each as the master would.  Returns, per killed racer, the last
 * barrier step it reached in died[].
 */
static void
race_run(int nkill, int *died)
{
	struct shm_presence_entry	 e[8];
	pid_t				 pids[RACE_K];
	int				 i, k, status, alive;
	uint64_t			 t;
	double				 deadline;
	struct timespec			 ts;

	for (i = 0; i < RACE_K; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] == 0)
			race_child(i);
	}
	srand((unsigned)getpid());
	for (k = 0; k < nkill; k++) {
		i = RACE_K - 1 - k;
		/* Somewhere in the middle of the rounds. */
		while (atomic_load(&race->arrived[0][0]) <
		    (uint64_t)(k + 1) * race->rounds * RACE_STEPS /
		    (nkill + 2))
			usleep(200);
		ts.tv_sec = 0;
		ts.tv_nsec = (rand() % 2000) * 1000L;
		nanosleep(&ts, NULL);
		kill(pids[i], SIGKILL);
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		pids[i] = -1;
		t = atomic_load(&race->arrived[i][0]);
		/* The step it reached: its round is (t - 1) / RACE_STEPS. */
		died[k] = (int)t;
		/*
		 * On a loaded machine the racers may run every round while we
		 * wait to be scheduled: one that finished was not killed, and
		 * no round is excused for it (died 0).
		 */
		if (!WIFSIGNALED(status)) {
			cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "racer %d: status %#x", i, status);
			cr_log_info("racer %d finished before the kill", i);
			died[k] = 0;
		}
		/* The master: free the dead worker's slots, then go on. */
		shm_presence_reap(&reg, (uint32_t)i, e, 8);
		atomic_store(&race->dead[i], 1);
	}
	deadline = test_presence_now() + 90;
	for (alive = 0, i = 0; i < RACE_K; i++)
		alive += pids[i] != -1;
	while (alive > 0) {
		for (i = 0; i < RACE_K; i++) {
			if (pids[i] == -1 ||
			    waitpid(pids[i], &status, WNOHANG) != pids[i])
				continue;
			cr_expect(WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0, "racer %d: status %#x",
			    i, status);
			pids[i] = -1;
			alive--;
		}
		if (alive > 0 && test_presence_now() > deadline) {
			atomic_store(&race->abort, 1);
			for (i = 0; i < RACE_K; i++)
				if (pids[i] != -1) {
					kill(pids[i], SIGKILL);
					waitpid(pids[i], &status, 0);
				}
			cr_assert_fail("racers stuck at step %llu",
			    (unsigned long long)atomic_load(
			    &race->arrived[0][0]));
		}
		usleep(1000);
	}
}

/*
 * At most one winner per name and round, except that a racer killed after
 * winning, in the claim step or just after it, is reaped while slower
 * racers of that round may still be claiming: one of them then rightly
 * wins the freed name (two wins, never two holders at once).  Exactly one
 * winner, except in the round a racer was killed in before it finished
 * claiming (its CLAIM may have beaten the others, or it won and died
 * before counting).  The lookup check of the winner is excused in any
 * round a racer died in: its name may be reaped under the checker.
 */
static void
race_check(int nkill, const int *died)
{
	struct shm_presence_entry	 e;
	uint32_t			 killed;
	int				 r, n, k, nowin, nocheck, zero = 0;

	for (r = 0; r < race->rounds; r++) {
		killed = 0;
		for (nowin = nocheck = 0, k = 0; k < nkill; k++) {
			if (died[k] == 0 || (died[k] - 1) / RACE_STEPS != r)
				continue;
			nowin |= died[k] % RACE_STEPS == 1;
			/* The parent reaps the dead racer's slots while the
			 * others may still be at any step of this round, the
			 * lookup included: the lookup proves nothing here. */
			nocheck = 1;
			if (died[k] % RACE_STEPS == 1 ||
			    died[k] % RACE_STEPS == 2)
				killed |= 1U << (RACE_K - 1 - k);
		}
		cr_assert_eq(race->bad[r], 0, "round %d: %u bad results", r,
		    race->bad[r]);
		for (n = 0; n < race->nnames; n++) {
			cr_assert(race->ok[n][r] <= 1 || (race->ok[n][r] ==
			    2 && (race->winmask[n][r] & killed) != 0),
			    "round %d: %s won %u times (winners %#x, killed "
			    "after claiming %#x)", r, race->names[n],
			    race->ok[n][r], race->winmask[n][r], killed);
			if (race->ok[n][r] == 2)
				cr_log_info("round %d: %s won by racers %#x; "
				    "%#x was killed and reaped, then the name "
				    "was free", r, race->names[n],
				    race->winmask[n][r], race->winmask[n][r] &
				    killed);
			if (race->ok[n][r] == 0) {
				cr_assert(nowin, "round %d: nobody won %s",
				    r, race->names[n]);
				zero++;
			}
		}
		if (!nocheck)
			cr_assert_eq(race->badcheck[r], 0, "round %d: lookup "
			    "disagrees with the winner", r);
	}
	cr_assert_eq(race->violations, 0, "a name listed twice");
	cr_assert_leq(zero, nkill * race->nnames);
	/* Everyone released or was reaped: the names are free. */
	for (n = 0; n < race->nnames; n++)
		cr_assert_eq(test_presence_lookup(race->names[n], &e),
		    SHM_EMPTY);
}

Test(shm_presence, eight_processes_racing_for_one_name_make_one_winner)
{
	int	 died[1];

	shm_region_close(&reg);
	test_presence_open(8);
	race_open(1, "alice", "", RACE_ROUNDS);
	race_run(0, died);
	race_check(0, died);
	munmap(race, sizeof(*race));
}

/* Save the table as the state every round of a reset race starts from. */
static void
race_snapshot(void)
{
	cr_assert_eq(reg.hdr->sh_pslots, 16);
	memcpy(race->snap, shm_region_pslots(&reg), sizeof(race->snap));
	race->snap_mp = atomic_load(&reg.hdr->sh_maxprobe);
	race->reset = 1;
}

Test(shm_presence, racers_in_a_fresh_table_each_round_make_one_winner)
{
	int	 died[1];

	shm_region_close(&reg);
	test_presence_open(16);
	race_open(1, "alice", "", RACE_ROUNDS);
	race_snapshot();
	race_run(0, died);
	race_check(0, died);
	munmap(race, sizeof(*race));
}

/*
 * Each round from the same start: another name online at alice's home
 * slot, sh_maxprobe 0.  The racers' slots are all past it, so a claimer
 * that did not raise sh_maxprobe would be invisible to the others' scans.
 */
Test(shm_presence, racers_behind_another_name_in_a_fresh_table_make_one_winner)
{
	char		 f[16];
	uint32_t	 s;
	int		 died[1];

	shm_region_close(&reg);
	test_presence_open(16);
	test_presence_collider(f, sizeof(f), "f", test_presence_home("alice"),
	    0);
	cr_assert_eq(test_presence_claim(f, T_PARENT, 1, &s), SHM_OK);
	cr_assert_eq(atomic_load(&reg.hdr->sh_maxprobe), 0);
	race_open(1, "alice", "", RACE_ROUNDS);
	race_snapshot();
	race_run(0, died);
	race_check(0, died);
	munmap(race, sizeof(*race));
}

/*
 * Two names whose probe sequences start at the same slot, four racers
 * each, in a table with colliding names online and TOMBs on the way.
 */
static void
race_colliding_setup(char *b, size_t bsz)
{
	char		 name[16];
	uint32_t	 home, s;
	unsigned	 i;

	home = test_presence_home("alice");
	test_presence_collider(b, bsz, "bob", home, 0);
	for (i = 0; i < 6; i++) {
		test_presence_collider(name, sizeof(name), "f", home, i);
		cr_assert_eq(test_presence_claim(name, T_PARENT, i, &s),
		    SHM_OK);
		/* Every other one leaves a TOMB. */
		if (i % 2 == 0)
			cr_assert_eq(shm_presence_release(&reg, s, T_PARENT,
			    i), SHM_OK);
	}
}

Test(shm_presence, colliding_names_racing_over_tombs_make_one_winner_each)
{
	char	 b[16];
	int	 died[1];

	shm_region_close(&reg);
	test_presence_open(16);
	race_colliding_setup(b, sizeof(b));
	race_open(2, "alice", b, RACE_ROUNDS);
	race_run(0, died);
	race_check(0, died);
	munmap(race, sizeof(*race));
}

Test(shm_presence, racers_killed_mid_run_are_reaped_and_the_rest_go_on)
{
	char	 b[16];
	int	 died[3];

	shm_region_close(&reg);
	test_presence_open(16);
	race_colliding_setup(b, sizeof(b));
	race_open(2, "alice", b, RACE_ROUNDS);
	race_run(3, died);
	race_check(3, died);
	munmap(race, sizeof(*race));
}

/*
 * No barrier: every racer claims and releases as fast as it can for a
 * while; a winner checks that it is the only holder, with a counter and
 * with lookup, before releasing.
 */
static void
race_free_child(int me, double until)
{
	struct shm_presence_entry	 e;
	char				 name[SHM_NAME_MAX + 1];
	int				 n = me % 2;
	uint32_t			 slot;
	uint64_t			 conn = 0;
	int				 rc;

	test_presence_spell(name, sizeof(name), race->names[n],
	    (unsigned)me);

	while (test_presence_now() < until) {
		rc = test_presence_claim(name, (uint32_t)me, ++conn, &slot);
		if (rc == SHM_TAKEN)
			continue;
		if (rc != SHM_OK) {
			atomic_fetch_add(&race->violations, 1);
			continue;
		}
		if (atomic_fetch_add(&race->holders[n], 1) != 0)
			atomic_fetch_add(&race->violations, 1);
		if (test_presence_lookup(name, &e) != SHM_OK ||
		    e.worker != (uint32_t)me || e.conn != conn)
			atomic_fetch_add(&race->violations, 1);
		atomic_fetch_add(&race->wins[me], 1);
		atomic_fetch_sub(&race->holders[n], 1);
		if (shm_presence_release(&reg, slot, (uint32_t)me, conn) !=
		    SHM_OK)
			atomic_fetch_add(&race->violations, 1);
	}
	_exit(0);
}

Test(shm_presence, racers_without_a_barrier_never_hold_a_name_together)
{
	pid_t		 pids[RACE_K];
	char		 b[16];
	double		 until;
	uint64_t	 total = 0;
	int		 i, status;

	shm_region_close(&reg);
	test_presence_open(16);
	race_colliding_setup(b, sizeof(b));
	race_open(2, "alice", b, 0);
	until = test_presence_now() + 2;
	for (i = 0; i < RACE_K; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] == 0)
			race_free_child(i, until);
	}
	for (i = 0; i < RACE_K; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		total += race->wins[i];
	}
	cr_assert_eq(race->violations, 0, "%llu violations",
	    (unsigned long long)race->violations);
	cr_assert_gt(total, 1000, "only %llu wins", (unsigned long long)total);
	cr_log_info("%llu wins in 2 s", (unsigned long long)total);
	munmap(race, sizeof(*race));
}

/*
 * One process respells a name it holds, as fast as it can, while seven
 * others try to claim it in their own case and look it up: nobody ever
 * wins it, a lookup always finds it, a list always has it once.
 */
static void
race_recase_child(int me, double until, uint32_t slot)
{
	struct shm_presence_entry	 e[8];
	char				 name[SHM_NAME_MAX + 1];
	uint32_t			 s;
	uint64_t			 conn = 0;
	size_t				 n, i, k;
	unsigned			 spell = 0;

	test_presence_spell(name, sizeof(name), "alice", (unsigned)me);
	while (test_presence_now() < until) {
		if (me == 0) {
			test_presence_spell(name, sizeof(name), "alice",
			    ++spell);
			if (shm_presence_recase(&reg, slot, T_PARENT, 1, name,
			    5) != SHM_OK)
				atomic_fetch_add(&race->violations, 1);
			atomic_fetch_add(&race->wins[me], 1);
			continue;
		}
		if (test_presence_claim(name, (uint32_t)me, ++conn, &s) !=
		    SHM_TAKEN)
			atomic_fetch_add(&race->violations, 1);
		if (test_presence_lookup(name, e) != SHM_OK ||
		    e[0].conn != 1 || !shm_hash_equal(e[0].name,
		    strlen(e[0].name), "alice", 5))
			atomic_fetch_add(&race->violations, 1);
		n = shm_presence_list(&reg, e, 8);
		for (i = k = 0; i < n; i++)
			k += shm_hash_equal(e[i].name, strlen(e[i].name),
			    "alice", 5);
		if (k != 1)
			atomic_fetch_add(&race->violations, 1);
		atomic_fetch_add(&race->wins[me], 1);
	}
	_exit(0);
}

Test(shm_presence, a_name_respelt_by_its_owner_stays_taken_for_racers)
{
	pid_t		 pids[RACE_K];
	char		 b[16];
	double		 until;
	uint32_t	 slot;
	int		 i, status;

	shm_region_close(&reg);
	test_presence_open(16);
	race_colliding_setup(b, sizeof(b));
	cr_assert_eq(test_presence_claim("alice", T_PARENT, 1, &slot), SHM_OK);
	race_open(1, "alice", "", 0);
	until = test_presence_now() + 2;
	for (i = 0; i < RACE_K; i++) {
		pids[i] = fork();
		cr_assert_neq(pids[i], -1);
		if (pids[i] == 0)
			race_recase_child(i, until, slot);
	}
	for (i = 0; i < RACE_K; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_assert_eq(race->violations, 0, "%llu violations",
	    (unsigned long long)race->violations);
	cr_assert_gt(race->wins[0], 1000, "only %llu respellings",
	    (unsigned long long)race->wins[0]);
	cr_log_info("%llu respellings, %llu claims by racer 1 in 2 s",
	    (unsigned long long)race->wins[0],
	    (unsigned long long)race->wins[1]);
	cr_assert_eq(shm_presence_release(&reg, slot, T_PARENT, 1), SHM_OK);
	munmap(race, sizeof(*race));
}

/* The generation moves with every name that comes or goes, and only then. */
Test(shm_presence, the_generation_counts_changes_of_the_live_set)
{
	struct shm_presence_entry	 gone[4];
	uint32_t			 a, b, c;
	uint64_t			 g = shm_presence_gen(&reg);

	cr_assert_eq(test_presence_claim("alice", 1, 10, &a), SHM_OK);
	cr_assert_eq(shm_presence_gen(&reg), g + 1);
	cr_assert_eq(test_presence_claim("alice", 2, 20, &b), SHM_TAKEN);
	cr_assert_eq(shm_presence_gen(&reg), g + 1, "a refusal changed it");
	cr_assert_eq(shm_presence_release(&reg, a, 2, 10), SHM_ERR);
	cr_assert_eq(shm_presence_gen(&reg), g + 1, "a bad release changed it");
	cr_assert_eq(test_presence_claim("bob", 2, 21, &b), SHM_OK);
	cr_assert_eq(test_presence_claim("carol", 2, 22, &c), SHM_OK);
	cr_assert_eq(shm_presence_release(&reg, a, 1, 10), SHM_OK);
	cr_assert_eq(shm_presence_gen(&reg), g + 4);
	cr_assert_eq(shm_presence_reap(&reg, 2, gone, 4), 2);
	cr_assert_eq(shm_presence_gen(&reg), g + 6);
	cr_assert_eq(shm_presence_reap(&reg, 2, gone, 4), 0);
	cr_assert_eq(shm_presence_gen(&reg), g + 6);
}
