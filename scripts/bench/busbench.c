/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * busbench.c: throughput of the shared-memory broadcast bus (shm/).  P
 * producer processes each publish n records of one size on their own ring;
 * R reader processes each read every ring, as workers do.  Reports records
 * published per second (all producers together), records delivered per
 * second per reader, and the records readers lost.  With no -b the rings
 * are made big enough to hold every record, so nothing can be lost and the
 * figures are those of the bus itself, not of a reader that fell behind.
 * Without -s it runs 64-byte and 1 KiB records, one line each.  The last
 * line of each run is machine-readable:
 *
 *   busbench: producers=2 readers=2 size=64 records_per_s=... \
 *       delivered_per_s=... lost=0
 *
 * usage: busbench [-p producers] [-r readers] [-s size] [-n records]
 *                 [-b ring_bytes]
 *
 * Build: cc -O2 -std=gnu11 -D_GNU_SOURCE -Ishm scripts/bench/busbench.c
 *        shm/shm_region.c shm/shm_ring.c shm/shm_presence.c -o busbench
 */

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm.h"

#define BB_MAXP		32
#define BB_MAXR		32
#define BB_TIMEOUT	120.0

struct bb_prod {
	_Alignas(64) double	 t_end;
	_Atomic int		 done;
	int			 errors;
};

struct bb_reader {
	_Alignas(64) double	 t_end;
	uint64_t		 received;
	uint64_t		 lost;
	uint64_t		 errors;
};

struct bb_shared {
	_Atomic int		 ready;
	_Atomic int		 go;
	_Atomic int		 stop;
	double			 t_start;
	struct bb_prod		 prod[BB_MAXP];
	struct bb_reader	 rdr[BB_MAXR];
};

static struct shm_region	 reg;
static struct bb_shared		*sh;
static int			 nprod = 2, nread = 2;
static uint64_t			 nrec;

static double
bb_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/*
 * Map every page of ring r in this process before the clock starts: a
 * child of fork() takes its own page faults on a shared mapping, and a
 * few hundred thousand of them would be timed as the bus.
 */
static void
bb_touch(struct shm_ring *r, int write)
{
	volatile uint8_t	*d = (uint8_t *)reg.hdr + r->sr_data_off;
	uint64_t		 i;
	uint8_t			 sum = 0;

	for (i = 0; i < r->sr_size; i += 4096) {
		if (write)
			d[i] = 0;
		else
			sum += d[i];
	}
	(void)sum;
}

static void
bb_producer(unsigned p, size_t size)
{
	struct shm_ring	*r = shm_region_ring(&reg, p);
	uint8_t		*buf;
	uint64_t	 i;

	if ((buf = calloc(1, size < 8 ? 8 : size)) == NULL)
		_exit(1);
	memset(buf, 'a' + (int)p, size);
	bb_touch(r, 1);
	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->go))
		sched_yield();
	for (i = 0; i < nrec; i++) {
		/* The record's number, for the readers' order check. */
		if (size >= 8)
			memcpy(buf, &i, 8);
		if (shm_ring_publish(&reg, r, buf, size) != SHM_OK) {
			sh->prod[p].errors++;
			break;
		}
	}
	sh->prod[p].t_end = bb_now();
	atomic_store(&sh->prod[p].done, 1);
	free(buf);
	_exit(0);
}

static void
bb_reader(unsigned me, size_t size)
{
	struct shm_cursor	 cur[BB_MAXP];
	uint64_t		 next[BB_MAXP], seq;
	struct shm_ring		*r;
	struct bb_reader	*st = &sh->rdr[me];
	uint8_t			*buf;
	size_t			 len, max;
	unsigned		 p, n;
	int			 rc, alldone, got;

	max = shm_ring_max_record(shm_region_ring(&reg, 0));
	if ((buf = malloc(max)) == NULL)
		_exit(1);
	for (p = 0; p < (unsigned)nprod; p++) {
		bb_touch(shm_region_ring(&reg, p), 0);
		shm_ring_cursor_init(shm_region_ring(&reg, p), &cur[p]);
		next[p] = 0;
	}
	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->go))
		sched_yield();
	do {
		alldone = 1;
		for (p = 0; p < (unsigned)nprod; p++)
			alldone &= atomic_load(&sh->prod[p].done);
		got = 0;
		for (p = 0; p < (unsigned)nprod; p++) {
			r = shm_region_ring(&reg, p);
			for (n = 0; n < 64; n++) {
				rc = shm_ring_read(&reg, r, &cur[p], buf, max,
				    &len);
				if (rc == SHM_EMPTY)
					break;
				got = 1;
				if (rc != SHM_OK)
					continue;
				st->received++;
				if (len != size)
					st->errors++;
				else if (size >= 8) {
					memcpy(&seq, buf, 8);
					if (seq < next[p])
						st->errors++;
					next[p] = seq + 1;
				}
			}
		}
	} while ((!alldone || got) && !atomic_load(&sh->stop));
	st->t_end = bb_now();
	/* Lost: counted by the cursors, plus any skip not yet followed by
	 * a record (counted at the next one, and there is none). */
	for (p = 0; p < (unsigned)nprod; p++) {
		st->lost += cur[p].sc_lost;
		if (cur[p].sc_resync)
			st->lost += (uint32_t)(nrec - cur[p].sc_seq);
	}
	free(buf);
	_exit(0);
}

static uint64_t
bb_ring_for(size_t size)
{
	uint64_t	 need, b;

	/* Every record, its header and padding, plus a SKIP per lap. */
	need = nrec * (8 + ((size + 7) & ~(uint64_t)7)) + 4 * (size + 16);
	for (b = 4096; b < need && b < ((uint64_t)1 << 30); b <<= 1)
		;
	while (shm_ring_max_record(&(struct shm_ring){ .sr_size = b }) <
	    size)
		b <<= 1;
	return (b);
}

static int
bb_run(size_t size, uint64_t ring)
{
	pid_t		 pids[BB_MAXP + BB_MAXR];
	double		 deadline, t_prod, dt_prod, rate_sum = 0, rate_min = 0;
	double		 rate;
	uint64_t	 lost = 0, errors = 0, received = 0;
	int		 i, n = 0, status, bad = 0;

	if (ring == 0)
		ring = bb_ring_for(size);
	if (shm_region_open(&reg, (unsigned)nprod, ring, 64) == -1) {
		fprintf(stderr, "busbench: shm_region_open(%d, %llu): %s\n",
		    nprod, (unsigned long long)ring, strerror(errno));
		return (-1);
	}
	if (size > shm_ring_max_record(shm_region_ring(&reg, 0))) {
		fprintf(stderr, "busbench: %zu-byte records do not fit a "
		    "%llu-byte ring (max %zu)\n", size,
		    (unsigned long long)ring,
		    shm_ring_max_record(shm_region_ring(&reg, 0)));
		shm_region_close(&reg);
		return (-1);
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("busbench: mmap");
		exit(1);
	}
	memset(sh, 0, sizeof(*sh));
	fflush(stdout);
	for (i = 0; i < nread + nprod; i++) {
		if ((pids[n] = fork()) == -1) {
			perror("busbench: fork");
			exit(1);
		}
		if (pids[n] == 0) {
			if (i < nread)
				bb_reader((unsigned)i, size);
			else
				bb_producer((unsigned)(i - nread), size);
		}
		n++;
	}
	deadline = bb_now() + BB_TIMEOUT;
	while (atomic_load(&sh->ready) < nread + nprod && bb_now() < deadline)
		usleep(100);
	sh->t_start = bb_now();
	atomic_store(&sh->go, 1);
	for (i = 0; i < n; i++) {
		while (waitpid(pids[i], &status, WNOHANG) != pids[i]) {
			if (bb_now() > deadline) {
				atomic_store(&sh->stop, 1);
				kill(pids[i], SIGKILL);
				waitpid(pids[i], &status, 0);
				bad = 1;
				break;
			}
			usleep(1000);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	}

	t_prod = sh->t_start;
	for (i = 0; i < nprod; i++) {
		if (sh->prod[i].t_end > t_prod)
			t_prod = sh->prod[i].t_end;
		errors += (uint64_t)sh->prod[i].errors;
	}
	dt_prod = t_prod - sh->t_start;
	for (i = 0; i < nread; i++) {
		rate = sh->rdr[i].received / (sh->rdr[i].t_end - sh->t_start);
		rate_sum += rate;
		if (i == 0 || rate < rate_min)
			rate_min = rate;
		lost += sh->rdr[i].lost;
		errors += sh->rdr[i].errors;
		received += sh->rdr[i].received;
	}
	printf("busbench: %d producers x %llu records of %zu bytes, %d "
	    "readers, rings of %llu bytes: published %.0f records/s "
	    "(%.1f MB/s) in %.3f s; delivered %.0f records/s per reader "
	    "(slowest %.0f); %llu received, %llu lost, %llu errors%s\n",
	    nprod, (unsigned long long)nrec, size, nread,
	    (unsigned long long)ring, nprod * nrec / dt_prod,
	    nprod * nrec * (double)size / dt_prod / 1e6, dt_prod,
	    rate_sum / nread, rate_min, (unsigned long long)received,
	    (unsigned long long)lost, (unsigned long long)errors,
	    bad ? " (a child failed)" : "");
	printf("busbench: producers=%d readers=%d size=%zu records_per_s=%.0f "
	    "delivered_per_s=%.0f lost=%llu\n", nprod, nread, size,
	    nprod * nrec / dt_prod, rate_sum / nread,
	    (unsigned long long)lost);
	fflush(stdout);
	munmap(sh, sizeof(*sh));
	shm_region_close(&reg);
	return (bad || errors != 0 ? -1 : 0);
}

static void
bb_usage(void)
{
	fprintf(stderr, "usage: busbench [-p producers] [-r readers] "
	    "[-s size] [-n records] [-b ring_bytes]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	uint64_t	 ring = 0, n = 0;
	size_t		 size = 0;
	char		*end;
	int		 ch, rc = 0;

	while ((ch = getopt(argc, argv, "b:n:p:r:s:")) != -1) {
		errno = 0;
		switch (ch) {
		case 'b':
			ring = strtoull(optarg, &end, 0);
			break;
		case 'n':
			n = strtoull(optarg, &end, 0);
			break;
		case 'p':
			nprod = (int)strtol(optarg, &end, 10);
			break;
		case 'r':
			nread = (int)strtol(optarg, &end, 10);
			break;
		case 's':
			size = strtoull(optarg, &end, 0);
			break;
		default:
			bb_usage();
		}
		if (errno != 0 || *end != '\0')
			bb_usage();
	}
	if (argc != optind || nprod < 1 || nprod > BB_MAXP || nread < 1 ||
	    nread > BB_MAXR) {
		fprintf(stderr, "busbench: 1..%d producers, 1..%d readers\n",
		    BB_MAXP, BB_MAXR);
		bb_usage();
	}
	if (size != 0) {
		nrec = n != 0 ? n : size <= 256 ? 4000000 : 400000;
		return (bb_run(size, ring) == 0 ? 0 : 1);
	}
	/* Both sizes; fewer big records, so that rings holding every
	 * record (no -b) stay at 512 MiB each. */
	nrec = n != 0 ? n : 4000000;
	rc |= bb_run(64, ring);
	nrec = n != 0 ? n : 400000;
	rc |= bb_run(1024, ring);
	return (rc == 0 ? 0 : 1);
}
