/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * worker.c: one worker process.  It makes its own event_base after fork(),
 * accepts on the listening sockets the master made for it (its own
 * SO_REUSEPORT socket per port), runs the loop, and on SIGTERM or SIGINT
 * stops accepting, says goodbye to its clients (close 1001) and exits once
 * they are gone or shutdown_timeout has passed.  Each pass of its loop
 * hands what the bus brought to the hub (worker_deliver()).  Connections
 * are conn.c's, the chat is hub.c's.
 */

#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "wschatd.h"
#include "worker.h"
#include "hub_hist.h"

static void
worker_accept_http_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	conn_http_accept(arg, fd, sa);
}

static void
worker_accept_line_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	conn_line_accept(arg, fd, sa);
}

static void
worker_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	if (w->stopping || w->retiring)
		return;
	if (w->http != NULL)
		evconnlistener_enable(w->http);
	if (w->line != NULL)
		evconnlistener_enable(w->line);
}

/* Out of descriptors: stop accepting for a second instead of spinning. */
static void
worker_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct worker	*w = arg;
	struct timeval	 one = { 1, 0 };
	int		 err = EVUTIL_SOCKET_ERROR();

	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		log_warnx("accept: %s; pausing accepts for 1s",
		    evutil_socket_error_to_string(err));
		if (w->http != NULL)
			evconnlistener_disable(w->http);
		if (w->line != NULL)
			evconnlistener_disable(w->line);
		evtimer_add(w->ev_retry, &one);
	} else if (err != EAGAIN && err != EINTR && err != ECONNABORTED)
		log_warnx("accept: %s", evutil_socket_error_to_string(err));
}

static void
worker_unlisten(struct worker *w)
{
	if (w->http != NULL)
		evconnlistener_free(w->http);
	if (w->line != NULL)
		evconnlistener_free(w->line);
	w->http = w->line = NULL;
}

static void
worker_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	log_info("shutdown_timeout: %u connections left, exiting",
	    w->conns.n);
	event_base_loopexit(w->base, NULL);
}

/*
 * Start reading the bus.  With history on, at the history process's
 * committed position: what the store lacks yet is replayed into memory
 * (bus_next()'s past events), so that memory and store together hold
 * every message, and memory is whole above what the store has committed
 * (hub_hist.c).  The position first, then the id: a newer id than the
 * position is committed all the same.
 */
static void
worker_attach(struct worker *w)
{
	struct shm_hist	*sh = shm_region_hist(w->reg);
	uint64_t	 from = 0, floor;

	if (w->cfg->history) {
		/* Acquire: pairs with the history process's release. */
		from = atomic_load_explicit(&sh->sh_pos,
		    memory_order_acquire);
		floor = atomic_load_explicit(&sh->sh_committed_id,
		    memory_order_acquire);
		if (from == 0)
			floor = shm_region_last_msg_id(w->reg);
	} else
		floor = shm_region_last_msg_id(w->reg);
	if (bus_attach(&w->bus, from) == -1)
		fatal("%s: bus_attach", __func__);
	/* Lapped already: the cursor is at the head, memory whole from it. */
	if (w->bus.cursor.sc_pos != from)
		floor = shm_region_last_msg_id(w->reg);
	hub_hist_init(w, floor);
}

/*
 * One pass over the bus: every event to the hub, every loss announced.
 * No client is handed more than a quarter of max_pending in a pass (see
 * bus_pass_begin()), and a pass ends once it has queued CONN_REFS_PASS
 * frames: the writes of one big drain must not wait for all of it.
 * Returns 1 if records are left for another pass.
 */
static int
worker_deliver(struct worker *w)
{
	struct bus_item	 it;

	bus_pass_begin(&w->bus, w->cfg->max_pending / 4);
	while (bus_next(&w->bus, &it)) {
		if (it.lost > 0)
			hub_lost(w, it.lost);
		else if (it.past)
			hub_hist_note(w, &it.env);	/* before we started */
		else
			bus_sent(&w->bus, hub_deliver(w, &it.env));
		if (w->conns.nrefs >= CONN_REFS_PASS) {
			/* Enough for one iteration: write it, then go on. */
			bus_pass_end(&w->bus);
			return (1);
		}
	}
	return (bus_pass_end(&w->bus));
}

/*
 * Stop: deliver what the bus already holds (a bounded number of passes:
 * producers may go on publishing), stop accepting, say goodbye (close
 * 1001), and exit when everyone is gone or at shutdown_timeout.
 */
static void
worker_stop(struct worker *w, const char *why)
{
	struct conn	*c, *next;
	struct timeval	 tv = { w->cfg->shutdown_timeout, 0 };
	int		 pass;

	if (w->stopping)
		return;
	w->stopping = 1;
	log_info("%s: stopping, %u connections", why, w->conns.n);
	for (pass = 0; pass < 64 && worker_deliver(w); pass++)
		;
	worker_unlisten(w);
	/* glibc's sys/queue.h has no TAILQ_FOREACH_SAFE. */
	for (c = TAILQ_FIRST(&w->conns.all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_shutdown(c);
	}
	evtimer_add(w->ev_stop, &tv);
}

static void
worker_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	worker_stop(arg, strsignal((int)sig));
}

static void
worker_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	worker_stop(arg, "drain_timeout");
}

/*
 * SIGUSR2 from the master: a reload started our successor.  Stop
 * accepting (the successor shares our listening sockets, so nothing
 * waiting in them is lost), let idle HTTP connections go, and keep
 * serving the WebSocket and line clients until they leave, or until
 * drain_timeout.
 */
static void
worker_retire_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker	*w = arg;
	struct conn	*c, *next;
	struct timeval	 tv = { w->cfg->drain_timeout, 0 };

	if (w->stopping || w->retiring)
		return;
	w->retiring = 1;
	worker_unlisten(w);
	/*
	 * Keep-alive connections between requests go now.  A new one that
	 * has not sent its request yet is served first (and then closed).
	 */
	for (c = TAILQ_FIRST(&w->conns.all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_S_HTTP && c->rd.http.requests > 0 &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
			conn_shutdown(c);
	}
	log_info("retiring: %u connections left to drain%s", w->conns.n,
	    w->cfg->drain_timeout ? "" : " (no drain_timeout)");
	if (w->cfg->drain_timeout > 0)
		evtimer_add(w->ev_drain, &tv);
}

/* SIGUSR1: the master reopened the log file (and gave it to us). */
static void
worker_reopen_cb(evutil_socket_t sig, short what, void *arg)
{
	if (log_reopen((uid_t)-1, (gid_t)-1) == -1)
		log_warn("SIGUSR1: cannot reopen the log file");
}

static void
worker_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	conn_sweep(w);
	hub_sweep(w);
	log_client_flush();
	/* Relaxed: a counter; /metrics readers need no order. */
	atomic_store_explicit(&w->st->st_log_dropped, log_client_dropped(),
	    memory_order_relaxed);
}

/* Another worker published: the loop drains the bus once we return. */
static void
worker_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	bus_wake_read(fd);
}

/*
 * The loop.  Wake the workers that what we published concerns (before our
 * own fan-out, which may take a while), deliver a bounded batch of what
 * the bus brought, write what this iteration queued for each connection
 * (the bus's frames and what the event callbacks of the last one added:
 * conn_flush_pending), and only then block -- after saying so (bus_idle), so
 * that a producer knows to wake us.  With records still waiting, poll the
 * sockets without blocking instead: a flood on the bus must not starve
 * our clients, nor their writes.  A worker that stops or retires leaves
 * the loop once its last connection is gone.
 */
static void
worker_loop(struct worker *w)
{
	int	 more, flags;

	for (;;) {
		bus_wake(&w->bus);
		more = worker_deliver(w);
		bus_wake(&w->bus);
		conn_flush_pending(w);
		if (event_base_got_exit(w->base) ||
		    event_base_got_break(w->base) ||
		    ((w->stopping || w->retiring) && w->conns.n == 0))
			break;
		flags = more || !bus_idle(&w->bus) ? EVLOOP_NONBLOCK :
		    EVLOOP_ONCE;
		if (event_base_loop(w->base, flags) == -1)
			fatalx("event_base_loop failed");
		if (flags == EVLOOP_ONCE)
			bus_busy(&w->bus);
	}
}

static struct evconnlistener *
worker_listen(struct worker *w, int fd, evconnlistener_cb cb)
{
	struct evconnlistener	*l;

	if (fd == -1)
		return (NULL);
	/*
	 * Backlog 0: the master already called listen(2) with the configured
	 * backlog.  (-1 would make libevent call listen(fd, 128) again.)
	 */
	l = evconnlistener_new(w->base, cb, w,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l == NULL)
		fatalx("%s: evconnlistener_new failed", __func__);
	evconnlistener_set_error_cb(l, worker_accept_error_cb);
	return (l);
}

void
worker_run(struct cfg *cfg, unsigned id, int http_fd, int line_fd,
    struct bus_shared *bus)
{
	struct worker	 w;
	char		 name[32];
	sigset_t	 none;
	struct timeval	 sweep = { 1, 0 };

	snprintf(name, sizeof(name), "worker %u", id);
	log_procinit(name);
	log_client_rate(cfg->log_client_rate);
	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.id = id;
	w.reg = &bus->reg;
	w.st = shm_region_stats(w.reg, id);
	shm_stats_attach(w.st, (uint32_t)getpid(), (uint64_t)time(NULL));
	TAILQ_INIT(&w.conns.all);
	TAILQ_INIT(&w.conns.pending);
	conn_http_init(&w);

	if ((w.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	w.http = worker_listen(&w, http_fd, worker_accept_http_cb);
	w.line = worker_listen(&w, line_fd, worker_accept_line_cb);
	w.ev_term = evsignal_new(w.base, SIGTERM, worker_signal_cb, &w);
	w.ev_int = evsignal_new(w.base, SIGINT, worker_signal_cb, &w);
	w.ev_quit = evsignal_new(w.base, SIGQUIT, worker_signal_cb, &w);
	w.ev_retire = evsignal_new(w.base, SIGUSR2, worker_retire_cb, &w);
	w.ev_reopen = evsignal_new(w.base, SIGUSR1, worker_reopen_cb, &w);
	w.ev_stop = evtimer_new(w.base, worker_stop_cb, &w);
	w.ev_drain = evtimer_new(w.base, worker_drain_cb, &w);
	w.ev_retry = evtimer_new(w.base, worker_retry_cb, &w);
	w.ev_sweep = event_new(w.base, -1, EV_PERSIST, worker_sweep_cb, &w);
	if (w.ev_term == NULL || w.ev_int == NULL || w.ev_quit == NULL ||
	    w.ev_retire == NULL || w.ev_reopen == NULL || w.ev_stop == NULL ||
	    w.ev_drain == NULL || w.ev_retry == NULL || w.ev_sweep == NULL ||
	    evsignal_add(w.ev_term, NULL) == -1 ||
	    evsignal_add(w.ev_int, NULL) == -1 ||
	    evsignal_add(w.ev_quit, NULL) == -1 ||
	    evsignal_add(w.ev_retire, NULL) == -1 ||
	    evsignal_add(w.ev_reopen, NULL) == -1 ||
	    event_add(w.ev_sweep, &sweep) == -1)
		fatalx("%s: cannot set up events", __func__);
	/* A hang-up of the master's terminal is the master's business. */
	signal(SIGHUP, SIG_IGN);
	/* Connection ids differ from a predecessor's: no stale routing. */
	w.conns.next_id = (uint64_t)getpid() << 32;
	bus_init(&w.bus, bus, id, w.st);
	worker_attach(&w);
	/* Relaxed: informational, for whoever inspects the region. */
	atomic_store_explicit(&shm_region_wake(w.reg, id)->sw_pid,
	    (uint32_t)getpid(), memory_order_relaxed);
	hub_init(&w);
	w.ev_wake = event_new(w.base, bus->efd[id], EV_READ | EV_PERSIST,
	    worker_wake_cb, &w);
	if (w.ev_wake == NULL || event_add(w.ev_wake, NULL) == -1)
		fatalx("%s: cannot watch the eventfd", __func__);
	/* Signals were blocked by the master; libevent now catches them. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	conn_uring_init(&w);
	log_info("started, pid %d", (int)getpid());
	worker_loop(&w);

	/* Free everything, so that leak checkers see a clean exit. */
	conn_set_clear(&w);
	conn_uring_free(&w);
	conn_ip_clear(&w);
	worker_unlisten(&w);
	event_free(w.ev_term);
	event_free(w.ev_int);
	event_free(w.ev_quit);
	event_free(w.ev_retire);
	event_free(w.ev_reopen);
	event_free(w.ev_drain);
	event_free(w.ev_stop);
	event_free(w.ev_retry);
	event_free(w.ev_sweep);
	event_free(w.ev_wake);
	/* Our connections' logouts: publish them before going. */
	bus_wake(&w.bus);
	bus_clear(&w.bus);
	hub_clear(&w);
	hub_hist_clear(&w);
	event_base_free(w.base);
	conn_http_clear(&w);
	/* Our own block, still mapped: the master reaps it after we go. */
#define ST(x)	((unsigned long long)atomic_load_explicit(&w.st->x, \
	    memory_order_relaxed))
	log_client_flush();
	log_info("exiting: %llu accepted, %llu chat messages in, %llu "
	    "deliveries, %llu slow consumers dropped, %llu idle kicked; bus: "
	    "%llu published, %llu read, %llu lost, %llu too big, %llu "
	    "wake-ups sent", ST(st_accepted), ST(st_chat),
	    ST(st_msgs_out[SHM_ST_MSG_WS]) + ST(st_msgs_out[SHM_ST_MSG_LINE]),
	    ST(st_slow_dropped), ST(st_idle_kicked), ST(st_bus_published),
	    ST(st_bus_read), ST(st_bus_lost), ST(st_bus_too_big),
	    ST(st_wakeups_sent));
#undef ST
	cfg_clear(cfg);
	exit(0);
}
