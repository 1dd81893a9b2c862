/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * stress_ring.c: a fork() stress of the broadcast rings.  P producer
 * processes each publish M records of 8..1500 bytes on their own ring; R
 * reader processes each read every ring with their own cursors.  A record
 * carries its producer, its sequence number and a checksum, and the rest
 * of its bytes (and its length) follow from those, so a reader checks
 * every byte.  Readers also check that sequence numbers rise strictly per
 * producer, that each record's number is the ring's own (so that the loss
 * count is exact), and at the end that received + lost equals what was
 * published.
 *
 * Runs: a ring bigger than everything published (nothing may be lost); a
 * 4 KiB ring (readers are lapped all the time); a producer SIGKILLed
 * mid-run and respawned on its ring; a reader SIGKILLed mid-run; readers
 * started while the producers publish.  Each run prints a benchmark line.
 * Every check prints one line; the last line is "N passed, N failed" and
 * the exit status is 0 only if nothing failed.  Children are killed by
 * PID if a run takes too long.  Not a criterion test: it needs no
 * framework and runs under any sanitizer.
 *
 * usage: stress_ring [-v] [-n records] [-o run] [-p producers] [-r readers]
 */

#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "shm.h"

#define ST_MAXP		8
#define ST_MAXR		8
#define ST_MINREC	8
#define ST_MAXREC	1500
#define ST_TIMEOUT	40.0	/* seconds per run */

/* What one reader found on one ring. */
struct st_result {
	uint64_t	 received;
	uint64_t	 lost;		/* sc_lost at the end */
	uint64_t	 bytes;
	uint64_t	 corrupt;	/* length, producer, checksum or bytes */
	uint64_t	 order;		/* sequence not strictly rising */
	uint64_t	 seqmis;	/* record's number != the ring's */
	uint64_t	 lost_returns;	/* SHM_LOST results */
	int64_t		 first;		/* first sequence received, or -1 */
	uint64_t	 lost_first;	/* sc_lost after the first record */
	uint64_t	 pending;	/* lost, not yet counted: see below */
	uint32_t	 next_seq;	/* sc_seq at the end */
	int		 resync;
	uint64_t	 pos;		/* sc_pos at the end */
	char		 why[96];	/* the first error */
};

/* A producer's progress, on its own cache line. */
struct st_pstat {
	_Alignas(64) _Atomic uint64_t	 published;
	_Atomic uint64_t		 bytes;
	double				 t_end;
};

struct st_shared {
	_Atomic int		 go;
	_Atomic int		 ready;		/* readers with cursors */
	_Atomic int		 stop;		/* give up: timeout */
	_Atomic int		 done[ST_MAXP];	/* ring p: nothing more */
	_Atomic int		 finished[ST_MAXR];
	double			 t_start;
	double			 t_read_end[ST_MAXR];
	struct st_pstat		 prod[ST_MAXP];
	_Alignas(64) struct st_result res[ST_MAXR][ST_MAXP];
};

struct st_run {
	const char	*name;
	uint64_t	 ring_size;
	int		 kill_producer;	/* and respawn it */
	int		 kill_reader;
	int		 late_readers;	/* readers start mid-run */
	int		 expect_no_loss;
};

static struct shm_region	 reg;
static struct st_shared		*sh;
static int			 nprod = 3, nread = 3, verbose;
static const char		*only;
static uint64_t			 nrec = 200000;
static int			 npass, nfail;

static double
st_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
st_check(int ok, const char *fmt, ...)
{
	va_list	 ap;

	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		npass++;
	else
		nfail++;
}

static uint64_t
st_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (x);
}

/* The length of record seq of producer p, 8..max. */
static size_t
st_len(unsigned p, uint32_t seq, size_t max)
{
	if (max > ST_MAXREC)
		max = ST_MAXREC;
	return (ST_MINREC + (size_t)(st_mix((uint64_t)p << 32 | seq) %
	    (max - ST_MINREC + 1)));
}

/*
 * Record: seq (4 bytes), producer (1), checksum (3) of the seq, producer
 * and the body; the body's bytes follow from (producer, seq).
 */
static void
st_body(uint8_t *b, size_t len, unsigned p, uint32_t seq)
{
	uint64_t	 x, base = st_mix((uint64_t)p << 40 ^ seq);
	size_t		 i;

	for (i = ST_MINREC; i < len; i += 8) {
		x = st_mix(base + i);
		memcpy(b + i, &x, len - i < 8 ? len - i : 8);
	}
}

static uint32_t
st_sum(const uint8_t *b, size_t len)
{
	uint32_t	 h = 2166136261U;
	size_t		 i;

	for (i = 0; i < len; i++)
		if (i < 5 || i >= ST_MINREC)
			h = (h ^ b[i]) * 16777619U;
	return (h & 0xffffff);
}

static size_t
st_make(uint8_t *b, unsigned p, uint32_t seq, size_t max)
{
	size_t		 len = st_len(p, seq, max);
	uint32_t	 sum;

	memcpy(b, &seq, 4);
	b[4] = (uint8_t)p;
	st_body(b, len, p, seq);
	sum = st_sum(b, len);
	b[5] = (uint8_t)sum;
	b[6] = (uint8_t)(sum >> 8);
	b[7] = (uint8_t)(sum >> 16);
	return (len);
}

static void
st_wait_go(void)
{
	while (!atomic_load(&sh->go))
		sched_yield();
}

/*
 * Producer of ring p: publish n records numbered from the ring's current
 * count (0, or where a killed predecessor stopped).
 */
static void
st_producer(unsigned p, uint64_t n, int last)
{
	struct shm_ring	*r = shm_region_ring(&reg, p);
	uint8_t		 buf[ST_MAXREC];
	size_t		 max = shm_ring_max_record(r), len;
	uint32_t	 seq;
	uint64_t	 i, bytes = 0;

	st_wait_go();
	seq = (uint32_t)atomic_load(&r->sr_records);
	for (i = 0; i < n && !atomic_load_explicit(&sh->stop,
	    memory_order_relaxed); i++, seq++) {
		len = st_make(buf, p, seq, max);
		if (shm_ring_publish(&reg, r, buf, len) != SHM_OK)
			_exit(2);
		bytes += len;
		/* Relaxed: progress for the parent, nothing depends on it. */
		atomic_store_explicit(&sh->prod[p].published, i + 1,
		    memory_order_relaxed);
		atomic_store_explicit(&sh->prod[p].bytes, bytes,
		    memory_order_relaxed);
	}
	sh->prod[p].t_end = st_now();
	if (last)
		atomic_store(&sh->done[p], 1);
	_exit(0);
}

static void
st_fail(struct st_result *res, const char *fmt, ...)
{
	va_list	 ap;

	if (res->why[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
}

/* Check one record of ring p, as the cursor c has just read it. */
static void
st_verify(struct st_result *res, unsigned p, struct shm_cursor *c,
    const uint8_t *b, size_t len, size_t max, int64_t *last)
{
	uint8_t		 want[ST_MAXREC];
	uint32_t	 seq, sum;

	res->received++;
	res->bytes += len;
	if (len < ST_MINREC || len > ST_MAXREC) {
		res->corrupt++;
		st_fail(res, "a record of %zu bytes", len);
		return;
	}
	memcpy(&seq, b, 4);
	sum = b[5] | (uint32_t)b[6] << 8 | (uint32_t)b[7] << 16;
	if (b[4] != p || len != st_len(p, seq, max) ||
	    sum != st_sum(b, len)) {
		res->corrupt++;
		st_fail(res, "bad record: producer %u seq %u len %zu", b[4],
		    seq, len);
		return;
	}
	st_body(want, len, p, seq);
	if (memcmp(want + ST_MINREC, b + ST_MINREC, len - ST_MINREC) != 0) {
		res->corrupt++;
		st_fail(res, "bad bytes in seq %u", seq);
		return;
	}
	if (*last >= 0 && (int64_t)seq <= *last) {
		res->order++;
		st_fail(res, "seq %u after %lld", seq, (long long)*last);
	}
	/* The ring's own number for this record is sc_seq - 1. */
	if (seq != (uint32_t)(c->sc_seq - 1)) {
		res->seqmis++;
		st_fail(res, "seq %u but the ring says %u", seq,
		    c->sc_seq - 1);
	}
	if (res->first < 0) {
		res->first = seq;
		res->lost_first = c->sc_lost;
	}
	*last = seq;
}

/* Reader me: every ring, own cursors, until every ring is done. */
static void
st_reader(unsigned me, int late)
{
	struct shm_cursor	 cur[ST_MAXP];
	struct shm_ring		*r;
	struct st_result	*res;
	uint8_t			*buf;
	int64_t			 last[ST_MAXP];
	size_t			 len, max;
	unsigned		 p, n, wait;
	int			 rc, alldone, got;

	buf = malloc(shm_ring_max_record(shm_region_ring(&reg, 0)));
	if (buf == NULL)
		_exit(2);
	/* Cursors first: a reader started with the run misses nothing. */
	for (p = 0; p < (unsigned)nprod; p++) {
		shm_ring_cursor_init(shm_region_ring(&reg, p), &cur[p]);
		last[p] = -1;
		sh->res[me][p].first = -1;
	}
	atomic_fetch_add(&sh->ready, 1);
	if (!late)
		st_wait_go();
	do {
		alldone = 1;
		for (p = 0; p < (unsigned)nprod; p++)
			alldone &= atomic_load(&sh->done[p]);
		got = 0;
		for (p = 0; p < (unsigned)nprod; p++) {
			r = shm_region_ring(&reg, p);
			max = shm_ring_max_record(r);
			res = &sh->res[me][p];
			/* At most 32 a ring per sweep: turn by turn, as a
			 * worker would, so that no ring is starved. */
			for (n = 0, wait = 0; n < 32; n++) {
				rc = shm_ring_read(&reg, r, &cur[p], buf, max,
				    &len);
				if (rc == SHM_EMPTY) {
					/* Just skipped to the head: stay for
					 * the next record, which is read
					 * while the producer writes the ring
					 * behind it. */
					if (wait > 0 && wait++ < 2000) {
						n--;
						continue;
					}
					break;
				}
				got = 1;
				wait = 0;
				if (rc == SHM_LOST) {
					res->lost_returns++;
					wait = 1;
				} else
					st_verify(res, p, &cur[p], buf, len,
					    max, &last[p]);
			}
			res->lost = cur[p].sc_lost;
			res->pos = cur[p].sc_pos;
			res->next_seq = cur[p].sc_seq;
			res->resync = cur[p].sc_resync;
		}
		if (!got)
			sched_yield();
	} while ((!alldone || got) && !atomic_load(&sh->stop));
	sh->t_read_end[me] = st_now();
	atomic_store(&sh->finished[me], 1);
	free(buf);
	_exit(0);
}

static pid_t
st_spawn(void (*fn)(unsigned, uint64_t, int), unsigned a, uint64_t b, int c)
{
	pid_t	 pid;

	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0)
		fn(a, b, c);
	return (pid);
}

static void
st_reader_main(unsigned me, uint64_t unused, int late)
{
	(void)unused;
	st_reader(me, late);
}

static void
st_producer_main(unsigned p, uint64_t n, int last)
{
	st_producer(p, n, last);
}

/* Wait for pid with the run's deadline; 0 if it exited 0. */
static int
st_wait(pid_t pid, double deadline, int *status)
{
	pid_t	 w;

	for (;;) {
		w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return (0);
		if (w == -1)
			return (-1);
		if (st_now() > deadline)
			return (-1);
		usleep(500);
	}
}

static void
st_sleep_ms(double ms)
{
	struct timespec	 ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - ts.tv_sec * 1000) * 1e6);
	nanosleep(&ts, NULL);
}

static void
st_run(const struct st_run *run)
{
	pid_t		 prod[ST_MAXP], rdr[ST_MAXR], respawn = -1;
	int		 status, i, p, victim_r = -1, victim_p = -1, ok;
	uint64_t	 total[ST_MAXP], sum_rx, pubrec, pubbytes, bytes;
	uint64_t	 killed_bytes = 0, pending;
	double		 deadline, t_end, dt_prod, dt_read;
	struct shm_ring	*r;
	const struct st_result *res;

	if (shm_region_open(&reg, (unsigned)nprod, run->ring_size, 64) ==
	    -1) {
		st_check(0, "run=%s: shm_region_open: %s", run->name,
		    strerror(errno));
		return;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(sh, 0, sizeof(*sh));
	for (i = 0; i < nread; i++)
		rdr[i] = run->late_readers ? -1 :
		    st_spawn(st_reader_main, (unsigned)i, 0, 0);
	for (p = 0; p < nprod; p++)
		prod[p] = st_spawn(st_producer_main, (unsigned)p, nrec, 1);
	deadline = st_now() + ST_TIMEOUT;
	while (!run->late_readers && atomic_load(&sh->ready) < nread &&
	    st_now() < deadline)
		usleep(100);
	sh->t_start = st_now();
	atomic_store(&sh->go, 1);

	if (run->late_readers) {
		/* Each reader starts at a different point of the run. */
		for (i = 0; i < nread; i++) {
			while (atomic_load(&sh->prod[0].published) <
			    nrec * (uint64_t)(i + 1) / (nread + 2) &&
			    st_now() < deadline)
				usleep(100);
			rdr[i] = st_spawn(st_reader_main, (unsigned)i, 0, 1);
		}
	}
	if (run->kill_producer) {
		victim_p = nprod > 1 ? 1 : 0;
		while (atomic_load(&sh->prod[victim_p].published) < nrec / 10 &&
		    st_now() < deadline)
			usleep(100);
		st_sleep_ms((double)(rand() % 20000) / 1000);
		kill(prod[victim_p], SIGKILL);
		st_check(st_wait(prod[victim_p], deadline, &status) == 0 &&
		    WIFSIGNALED(status), "run=%s: producer %d killed after "
		    "%llu records", run->name, victim_p, (unsigned long long)
		    atomic_load(&sh->prod[victim_p].published));
		prod[victim_p] = -1;
		killed_bytes = atomic_load(&sh->prod[victim_p].bytes);
		r = shm_region_ring(&reg, (unsigned)victim_p);
		if (verbose)
			printf("  killed at head %llu reserve %llu records "
			    "%llu\n", (unsigned long long)atomic_load(
			    &r->sr_head), (unsigned long long)atomic_load(
			    &r->sr_reserve), (unsigned long long)atomic_load(
			    &r->sr_records));
		/* The respawned producer continues from the ring's head. */
		respawn = st_spawn(st_producer_main, (unsigned)victim_p,
		    nrec / 2, 1);
	}
	if (run->kill_reader) {
		victim_r = nread - 1;
		while (atomic_load(&sh->prod[0].published) < nrec / 4 &&
		    st_now() < deadline)
			usleep(100);
		st_sleep_ms((double)(rand() % 20000) / 1000);
		kill(rdr[victim_r], SIGKILL);
		st_check(st_wait(rdr[victim_r], deadline, &status) == 0 &&
		    WIFSIGNALED(status), "run=%s: reader %d killed mid-run",
		    run->name, victim_r);
		rdr[victim_r] = -1;
	}

	ok = 1;
	for (p = 0; p < nprod; p++)
		if (prod[p] != -1 && (st_wait(prod[p], deadline, &status) ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0))
			ok = 0;
	if (respawn != -1 && (st_wait(respawn, deadline, &status) ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0))
		ok = 0;
	st_check(ok, "run=%s: producers finished", run->name);
	ok = 1;
	for (i = 0; i < nread; i++)
		if (rdr[i] != -1 && (st_wait(rdr[i], deadline, &status) ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0))
			ok = 0;
	st_check(ok, "run=%s: readers finished (producers never waited "
	    "for them)", run->name);
	/* Anything still running is stuck: stop it by its PID. */
	atomic_store(&sh->stop, 1);
	for (p = 0; p < nprod; p++)
		if (prod[p] != -1 && kill(prod[p], 0) == 0) {
			kill(prod[p], SIGKILL);
			waitpid(prod[p], &status, 0);
		}
	for (i = 0; i < nread; i++)
		if (rdr[i] != -1 && kill(rdr[i], 0) == 0) {
			kill(rdr[i], SIGKILL);
			waitpid(rdr[i], &status, 0);
		}
	if (respawn != -1 && kill(respawn, 0) == 0) {
		kill(respawn, SIGKILL);
		waitpid(respawn, &status, 0);
	}

	/* Published per ring: its record count (a dead producer's last,
	 * half-published record included: readers count it as lost). */
	pubrec = pubbytes = 0;
	for (p = 0; p < nprod; p++) {
		r = shm_region_ring(&reg, (unsigned)p);
		total[p] = atomic_load(&r->sr_records);
		pubrec += total[p];
	}
	for (p = 0; p < nprod; p++) {
		if (p != victim_p)
			st_check(total[p] == nrec, "run=%s: ring %d has %llu "
			    "records", run->name, p,
			    (unsigned long long)total[p]);
	}
	sum_rx = bytes = 0;
	for (i = 0; i < nread; i++) {
		if (i == victim_r)
			continue;
		for (p = 0; p < nprod; p++) {
			res = &sh->res[i][p];
			sum_rx += res->received;
			bytes += res->bytes;
			st_check(res->corrupt == 0 && res->order == 0 &&
			    res->seqmis == 0, "run=%s: reader %d ring %d: "
			    "%llu records intact and in order%s%s", run->name,
			    i, p, (unsigned long long)res->received,
			    res->why[0] != '\0' ? ": " : "", res->why);
			if (run->late_readers && res->first < 0) {
				/* Started after the ring's last record. */
				/* Its cursor is still fresh (resync 2): it
				 * never read, so it counted no loss. */
				st_check(res->received == 0 && res->lost ==
				    0 && res->resync != 1 && res->pos ==
				    atomic_load(&shm_region_ring(&reg,
				    (unsigned)p)->sr_head), "run=%s: reader %d "
				    "ring %d: started at the end, nothing to "
				    "read", run->name, i, p);
				continue;
			}
			if (run->late_readers) {
				/* Everything after its first record is
				 * accounted for exactly, and a fresh cursor
				 * counts no losses before it. */
				st_check(res->first >= 0 &&
				    res->lost_first == 0 && res->received +
				    res->lost == total[p] - (uint64_t)
				    res->first, "run=%s: reader %d ring %d "
				    "(started at seq %lld): received %llu + "
				    "lost %llu == %llu, lost at first record "
				    "%llu", run->name, i, p,
				    (long long)res->first,
				    (unsigned long long)res->received,
				    (unsigned long long)res->lost,
				    (unsigned long long)(total[p] -
				    (uint64_t)res->first),
				    (unsigned long long)res->lost_first);
				continue;
			}
			/*
			 * The cursor counts a loss at the record after it,
			 * so a reader lapped at the very end still owes one:
			 * the records from its expected number to the end.
			 */
			pending = res->resync ? (uint32_t)(total[p] -
			    res->next_seq) : 0;
			st_check(res->received + res->lost + pending ==
			    total[p] && (res->resync ||
			    res->next_seq == (uint32_t)total[p]),
			    "run=%s: reader %d ring %d: received %llu + lost "
			    "%llu + lost at the end %llu == %llu%s", run->name,
			    i, p, (unsigned long long)res->received,
			    (unsigned long long)res->lost,
			    (unsigned long long)pending,
			    (unsigned long long)total[p],
			    p == victim_p ? " (killed and respawned)" : "");
			if (verbose)
				printf("  reader %d ring %d: %llu SHM_LOST, "
				    "first seq %lld, next %u%s\n", i, p,
				    (unsigned long long)res->lost_returns,
				    (long long)res->first, res->next_seq,
				    res->resync ? " (resync)" : "");
			if (run->expect_no_loss)
				st_check(res->lost == 0 || (p == victim_p &&
				    res->lost <= 1), "run=%s: reader %d ring "
				    "%d: nothing lost (%llu)", run->name, i, p,
				    (unsigned long long)res->lost);
		}
	}
	if (!run->expect_no_loss && !run->late_readers) {
		uint64_t	 lr = 0;

		for (i = 0; i < nread; i++)
			for (p = 0; p < nprod; p++)
				if (i != victim_r)
					lr += sh->res[i][p].lost_returns;
		st_check(lr > 0, "run=%s: readers were lapped (%llu "
		    "SHM_LOST) and recovered", run->name,
		    (unsigned long long)lr);
	}

	/* Benchmark: producers from the start to the last one's end;
	 * readers from the start to the last one's end. */
	t_end = sh->t_start;
	for (p = 0; p < nprod; p++) {
		pubbytes += atomic_load(&sh->prod[p].bytes);
		if (sh->prod[p].t_end > t_end)
			t_end = sh->prod[p].t_end;
	}
	pubbytes += killed_bytes;
	dt_prod = t_end - sh->t_start;
	t_end = sh->t_start;
	for (i = 0; i < nread; i++)
		if (i != victim_r && sh->t_read_end[i] > t_end)
			t_end = sh->t_read_end[i];
	dt_read = t_end - sh->t_start;
	i = nread - (victim_r >= 0);
	printf("bench: run=%s ring=%llu P=%d R=%d published %.0f records/s "
	    "%.1f MB/s; delivered %.0f records/s %.1f MB/s per reader; "
	    "%.2f s\n", run->name, (unsigned long long)run->ring_size, nprod,
	    nread, dt_prod > 0 ? pubrec / dt_prod : 0,
	    dt_prod > 0 ? pubbytes / dt_prod / 1e6 : 0,
	    dt_read > 0 && i > 0 ? sum_rx / (double)i / dt_read : 0,
	    dt_read > 0 && i > 0 ? bytes / (double)i / dt_read / 1e6 : 0,
	    dt_read);
	fflush(stdout);
	munmap(sh, sizeof(*sh));
	shm_region_close(&reg);
}

int
main(int argc, char *argv[])
{
	const struct st_run runs[] = {
		{ "big", 1 << 28, 0, 0, 0, 1 },
		{ "tiny", 4096, 0, 0, 0, 0 },
		{ "small", 8192, 0, 0, 0, 0 },
		{ "kill-producer", 1 << 28, 1, 0, 0, 1 },
		{ "kill-producer-small", 8192, 1, 0, 0, 0 },
		{ "kill-reader", 1 << 28, 0, 1, 0, 1 },
		{ "kill-reader-tiny", 4096, 0, 1, 0, 0 },
		{ "late-readers", 1 << 28, 0, 0, 1, 1 },
	};
	size_t	 i;
	int	 ch;
	double	 t0 = st_now();

	while ((ch = getopt(argc, argv, "n:o:p:r:v")) != -1) {
		switch (ch) {
		case 'o':
			only = optarg;
			break;
		case 'n':
			nrec = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			nprod = atoi(optarg);
			break;
		case 'r':
			nread = atoi(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fprintf(stderr, "usage: stress_ring [-v] [-n records] "
			    "[-o run] [-p producers] [-r readers]\n");
			return (2);
		}
	}
	if (nprod < 1 || nprod > ST_MAXP || nread < 1 || nread > ST_MAXR ||
	    nrec < 10) {
		fprintf(stderr, "stress_ring: 1..%d producers, 1..%d readers, "
		    "at least 10 records\n", ST_MAXP, ST_MAXR);
		return (2);
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		if (only == NULL || strcmp(only, runs[i].name) == 0)
			st_run(&runs[i]);
	printf("total %.1f s\n", st_now() - t0);
	printf("%d passed, %d failed\n", npass, nfail);
	return (nfail == 0 ? 0 : 1);
}
