/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * histbench: how fast the history process (src/history.c) writes, and
 * what CPU each message costs it.  It makes a shared region as the
 * master does, forks history_run() on a fresh store file, and publishes
 * chat messages on ring 0 as fast as the history process keeps within
 * half a ring of the head (so nothing is lost), then waits until the last
 * is committed and stops it with SIGTERM.  Prints messages a second and
 * the history process's CPU (user + system) per message.
 *
 *   histbench [-n messages] [-s text bytes] [-r rooms] [-b batch]
 *             [-f flush ms] [-F] file
 *
 * -F: history_sync full.  The file must not exist, or be a store.
 */

#include <sys/resource.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wschatd.h"
#include "bus.h"
#include "cfg.h"
#include "chat.h"
#include "history.h"
#include "shm.h"
#include "store.h"

#define RING_SIZE	(8 << 20)

static double
histbench_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

int
main(int argc, char *argv[])
{
	struct bus_shared	 bs;
	struct cfg		 cfg;
	struct chat_env		 e;
	struct shm_ring		*ring;
	struct shm_hist		*hist;
	struct rusage		 ru;
	struct buf		 out;
	struct store		*st;
	char			 text[4096], room[32], err[256];
	unsigned long		 n = 200000, i, size = 100, rooms = 4;
	uint64_t		 last = 0;
	double			 t0, t1, cpu;
	pid_t			 pid;
	int			 ch, status;

	memset(&bs, 0, sizeof(bs));
	cfg_init(&cfg);
	while ((ch = getopt(argc, argv, "b:f:Fn:r:s:")) != -1) {
		switch (ch) {
		case 'b':
			cfg.history_batch = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			cfg.history_flush = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'F':
			free(cfg.history_sync);
			cfg.history_sync = strdup("full");
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			rooms = strtoul(optarg, NULL, 10);
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1 || size >= sizeof(text) || rooms == 0 ||
	    cfg.history_batch == 0 || cfg.history_flush == 0)
		goto usage;
	free(cfg.history_file);
	cfg.history_file = strdup(argv[optind]);
	if (shm_region_open(&bs.reg, 1, RING_SIZE, 8) == -1)
		fatal("shm_region_open");
	bs.nworkers = 1;
	ring = shm_region_ring(&bs.reg, BUS_RING);
	hist = shm_region_hist(&bs.reg);
	buf_init(&out, 0);
	memset(text, 'x', size);
	text[size] = '\0';

	/* As the master does before it forks (master_hist.c). */
	if (store_open(&st, cfg.history_file, STORE_RDWR, 0, err,
	    sizeof(err)) != STORE_OK)
		fatalx("%s: %s", cfg.history_file, err);
	snprintf(bs.reg.hdr->sh_epoch, sizeof(bs.reg.hdr->sh_epoch), "%s",
	    store_epoch(st));
	shm_region_set_msg_id(&bs.reg, store_max_id(st));
	atomic_store(&hist->sh_committed_id, store_max_id(st));
	store_close(st);

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0)
		history_run(&cfg, &bs);
	while (atomic_load(&hist->sh_state) != SHM_HIST_OK)
		usleep(1000);

	t0 = histbench_now();
	for (i = 0; i < n; i++) {
		/* Stay within half a ring of the history process. */
		while (atomic_load(&ring->sr_head) -
		    atomic_load(&hist->sh_pos) > RING_SIZE / 2)
			usleep(200);
		memset(&e, 0, sizeof(e));
		snprintf(room, sizeof(room), "room%lu", i % rooms);
		e.type = CHAT_USER;
		e.room = (struct chat_str){ room, strlen(room) };
		e.from = CHAT_STR("benchuser");
		e.peer = CHAT_STR("127.0.0.1:40000");
		e.content = (struct chat_str){ text, size };
		e.ts = now_real_ms();
		/* As bus_publish(): the id under the lock, in ring order. */
		shm_region_lock(&bs.reg);
		e.id = last = shm_region_msg_id(&bs.reg);
		out.len = 0;
		if (chat_env_encode(&e, &out) == -1 ||
		    shm_ring_publish(&bs.reg, ring, out.base, out.len) != SHM_OK)
			fatalx("publish");
		shm_region_unlock(&bs.reg);
	}
	while (atomic_load(&hist->sh_committed_id) < last)
		usleep(200);
	t1 = histbench_now();
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	getrusage(RUSAGE_CHILDREN, &ru);
	cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("messages %lu, %lu bytes of text, %lu rooms, batch %u, "
	    "flush %u ms, sync %s\n", n, size, rooms, cfg.history_batch,
	    cfg.history_flush, cfg.history_sync);
	printf("wall %.3f s: %.0f messages/s; commits %llu; lost %llu\n",
	    t1 - t0, (double)n / (t1 - t0),
	    (unsigned long long)atomic_load(&hist->sh_batches),
	    (unsigned long long)atomic_load(&hist->sh_lost));
	printf("history process CPU %.3f s (user %.3f, sys %.3f): "
	    "%.2f us/message\n", cpu,
	    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	    cpu * 1e6 / (double)n);
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1);
usage:
	fprintf(stderr, "usage: histbench [-F] [-b batch] [-f flush_ms] "
	    "[-n messages] [-r rooms] [-s size] file\n");
	return (2);
}
