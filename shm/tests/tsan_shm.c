/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * tsan_shm.c: the shm protocols with threads instead of processes, for
 * ThreadSanitizer (which does not follow fork()).  Two producer threads
 * publish on their rings while two reader threads read both, checking
 * every record; then eight threads race to claim one name, each in its
 * own ASCII case, round after round, the winner respelling it at once
 * while the others still look.  The region is the same anonymous mapping
 * the daemon uses.
 *
 * Build: gcc -std=gnu11 -D_GNU_SOURCE -O1 -g -fsanitize=thread -Ishm
 *        shm/tests/tsan_shm.c shm/shm_*.c -lpthread -o tsan_shm
 *
 * The ring and the presence table read bytes that the writer may be
 * changing and then check that it was not (seqlock): TSan reports those
 * plain reads as races.  Run with
 * TSAN_OPTIONS=suppressions=shm/tests/tsan.supp, which says what it hides,
 * to see everything else.  Exits 0 if every check passed.
 */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm.h"

#define TS_P		2
#define TS_R		2
#define TS_N		100000
#define TS_K		8
#define TS_ROUNDS	2000

static struct shm_region	 reg;
static _Atomic int		 done[TS_P];
static _Atomic uint64_t		 errors;
static _Atomic int		 arrived[TS_K];
static _Atomic uint32_t		 wins[TS_ROUNDS];

static void *
ts_producer(void *arg)
{
	unsigned	 p = (unsigned)(uintptr_t)arg;
	struct shm_ring	*r = shm_region_ring(&reg, p);
	uint8_t		 buf[512];
	uint64_t	 i;
	size_t		 len;

	for (i = 0; i < TS_N; i++) {
		len = 8 + i % 400;
		memcpy(buf, &i, 8);
		memset(buf + 8, (int)(i + p), len - 8);
		if (shm_ring_publish(&reg, r, buf, len) != SHM_OK)
			atomic_fetch_add(&errors, 1);
	}
	atomic_store(&done[p], 1);
	return (NULL);
}

static void *
ts_reader(void *arg)
{
	struct shm_cursor	 cur[TS_P];
	uint8_t			 buf[4096];
	uint64_t		 seq, got[TS_P] = { 0 };
	size_t			 len, i;
	unsigned		 p;
	int			 rc, all, any;

	(void)arg;
	for (p = 0; p < TS_P; p++)
		shm_ring_cursor_init(shm_region_ring(&reg, p), &cur[p]);
	do {
		all = 1;
		for (p = 0; p < TS_P; p++)
			all &= atomic_load(&done[p]);
		any = 0;
		for (p = 0; p < TS_P; p++) {
			while ((rc = shm_ring_read(&reg, shm_region_ring(&reg,
			    p), &cur[p], buf, sizeof(buf), &len)) !=
			    SHM_EMPTY) {
				any = 1;
				if (rc != SHM_OK)
					continue;
				memcpy(&seq, buf, 8);
				if (len != 8 + seq % 400)
					atomic_fetch_add(&errors, 1);
				for (i = 8; i < len; i++)
					if (buf[i] != (uint8_t)(seq + p))
						atomic_fetch_add(&errors, 1);
				got[p]++;
			}
		}
	} while (!all || any);
	for (p = 0; p < TS_P; p++)
		if (got[p] + cur[p].sc_lost + (cur[p].sc_resync ?
		    (uint32_t)(TS_N - cur[p].sc_seq) : 0) != TS_N)
			atomic_fetch_add(&errors, 1);
	return (NULL);
}

static void
ts_barrier(int me, int t)
{
	int	 j;

	atomic_store(&arrived[me], t);
	for (j = 0; j < TS_K; j++)
		while (atomic_load(&arrived[j]) < t)
			sched_yield();
}

/* "alice" with the letters that the bits of spell say in upper case. */
static void
ts_spell(char name[6], unsigned spell)
{
	int	 i;

	for (i = 0; i < 5; i++)
		name[i] = "alice"[i] - (spell >> i & 1 ? 'a' - 'A' : 0);
	name[5] = '\0';
}

static void *
ts_claimer(void *arg)
{
	int		 me = (int)(intptr_t)arg, r;
	uint32_t	 slot;
	char		 name[6], again[6];

	ts_spell(name, (unsigned)me);
	for (r = 0; r < TS_ROUNDS; r++) {
		ts_barrier(me, 3 * r + 1);
		if (shm_presence_claim(&reg, name, 5, (uint32_t)me, 0,
		    (uint64_t)r, NULL, "lobby", &slot) == SHM_OK) {
			atomic_fetch_add(&wins[r], 1);
			ts_spell(again, (unsigned)r);
			/* Rewritten while the losers still read the slot. */
			if (shm_presence_recase(&reg, slot, (uint32_t)me,
			    (uint64_t)r, again, 5) != SHM_OK ||
			    shm_presence_move(&reg, slot, (uint32_t)me,
			    (uint64_t)r, "den", 3) != SHM_OK)
				atomic_fetch_add(&errors, 1);
			ts_barrier(me, 3 * r + 2);
			if (shm_presence_release(&reg, slot, (uint32_t)me,
			    (uint64_t)r) != SHM_OK)
				atomic_fetch_add(&errors, 1);
		} else
			ts_barrier(me, 3 * r + 2);
		ts_barrier(me, 3 * r + 3);
	}
	return (NULL);
}

int
main(void)
{
	pthread_t	 t[TS_P + TS_R + TS_K];
	int		 i, npass = 0, nfail = 0;

	if (shm_region_open(&reg, TS_K, 1 << 16, 16) == -1) {
		perror("shm_region_open");
		return (1);
	}
	for (i = 0; i < TS_R; i++)
		pthread_create(&t[i], NULL, ts_reader, NULL);
	for (i = 0; i < TS_P; i++)
		pthread_create(&t[TS_R + i], NULL, ts_producer,
		    (void *)(uintptr_t)i);
	for (i = 0; i < TS_P + TS_R; i++)
		pthread_join(t[i], NULL);
	if (atomic_load(&errors) == 0)
		npass++;
	else
		nfail++;
	printf("%s: rings: %d producers x %d records, %d readers, every "
	    "record intact, received + lost == published (%llu errors)\n",
	    atomic_load(&errors) == 0 ? "ok" : "FAIL", TS_P, TS_N, TS_R,
	    (unsigned long long)atomic_load(&errors));

	atomic_store(&errors, 0);
	for (i = 0; i < TS_K; i++)
		pthread_create(&t[i], NULL, ts_claimer, (void *)(intptr_t)i);
	for (i = 0; i < TS_K; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < TS_ROUNDS; i++)
		if (atomic_load(&wins[i]) != 1)
			atomic_fetch_add(&errors, 1);
	if (atomic_load(&errors) == 0)
		npass++;
	else
		nfail++;
	printf("%s: presence: %d threads x %d rounds for one name, one "
	    "winner each round (%llu errors)\n", atomic_load(&errors) == 0 ?
	    "ok" : "FAIL", TS_K, TS_ROUNDS,
	    (unsigned long long)atomic_load(&errors));
	shm_region_close(&reg);
	printf("%d passed, %d failed\n", npass, nfail);
	return (nfail == 0 ? 0 : 1);
}
