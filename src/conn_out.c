/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn_out.c: a connection's output, from a frame queued to the bytes in
 * its socket.  The fast path, for a connection that keeps up, costs no
 * allocation and no copy in user space: conn_queue() notes a reference to
 * the shared frame (struct ws_out, encoded once for every recipient) on
 * the connection's queue, kept in one array the worker reuses (struct
 * conn_ref), and conn_flush_pending() writes each connection's queue
 * with one writev(2) once per loop iteration, straight from the shared
 * frames: the kernel's copy into the socket is the only one.  Only what
 * a socket does not take goes into the connection's evbuffer, and from
 * then on its output waits there, EV_WRITE on, until the socket drains.
 * This is uWebSockets' cork (one send per socket per loop iteration)
 * without its copy into a cork buffer.
 *
 * Why not the evbuffer for everything, as before: evbuffer_add() copies
 * every delivery into a chain it mallocs, which a write frees again.  In
 * a profile of 100 clients taking 10 senders' messages (compare.sh's
 * scenario b), 45% of the worker's time went to page faults under those
 * mallocs: glibc gave the top of the heap back after each round of
 * writes (brk(2) 1,431 times in 5 s) and the next round faulted it in.
 *
 * The worker's unsent bytes (out_total, for max_pending_total) count
 * both the queues and the evbuffers.
 */

#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "wschatd.h"
#include "conn.h"
#include "worker.h"

/* Put c on the list of connections conn_flush_pending() writes. */
static void
conn_pend(struct conn *c)
{
	if (c->pending || c->dead)
		return;
	c->pending = 1;
	TAILQ_INSERT_TAIL(&c->w->conns.pending, c, pend_entry);
}

void
conn_unpend(struct conn *c)
{
	if (!c->pending)
		return;
	c->pending = 0;
	TAILQ_REMOVE(&c->w->conns.pending, c, pend_entry);
}

/* What c owes its peer and has not sent: its queue and its evbuffer. */
size_t
conn_out_len(struct conn *c)
{
	return (c->q_bytes + c->buffered);
}

/*
 * The output buffer's callback.  Drains are what each write(2) or
 * sendfile(2) took, ours (conn_flush_pending) or libevent's, and nothing
 * else drains it (a buffer freed with data in it calls no callback), so
 * they are the bytes sent.  Adds, whoever makes them (what a queue left
 * unsent, an HTTP response), put a connection whose output we write
 * ourselves on the pending list: no path can queue bytes and forget them.
 */
void
conn_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct conn	*c = arg;

	c->buffered = c->buffered + info->n_added - info->n_deleted;
	if (info->n_deleted > 0)
		shm_stat_add(&c->w->st->st_bytes_out, info->n_deleted);
	/* A dead connection's bytes left the sum when it died. */
	if (!c->dead)
		c->w->conns.out_total = c->w->conns.out_total +
		    info->n_added - info->n_deleted;
	if (info->n_added > 0 && c->direct)
		conn_pend(c);
}

/*
 * From now on the worker loop writes c's output once per iteration
 * (conn_flush_pending), and the bufferevent's EV_WRITE stays off unless a
 * write leaves bytes behind.  Adding data to a bufferevent with EV_WRITE
 * on arms the write event, and draining it disarms it: two epoll_ctl(2)
 * per message to an otherwise idle connection.  What is queued already
 * (the 101 response) goes first, in the same buffer.
 */
void
conn_direct(struct conn *c)
{
	c->direct = 1;
	c->wr_armed = 0;
	bufferevent_disable(c->bev, EV_WRITE);
	if (c->buffered > 0)
		conn_pend(c);
}

/* ---------------------------------------------------------------- */
/* The queue                                                        */

/*
 * A frame for c on its queue: a reference, 16 bytes of the worker's
 * array (no allocation once the array has grown to what an iteration
 * needs).  Returns -1 if the array cannot grow.
 */
static int
conn_cork(struct conn *c, struct ws_out *o)
{
	struct conn_set	*s = &c->w->conns;
	struct conn_ref	*r;
	uint32_t	 n;

	if (s->nrefs == s->refcap) {
		n = s->refcap ? s->refcap * 2 : 1024;
		if (n > CONN_REFS_MAX ||
		    (r = reallocarray(s->refs, n, sizeof(*r))) == NULL)
			return (-1);
		s->refs = r;
		s->refcap = n;
	}
	n = s->nrefs++;
	r = &s->refs[n];
	r->o = o;
	r->next = CONN_Q_END;
	ws_out_ref(o);
	if (c->q_first == CONN_Q_END)
		c->q_first = n;
	else
		s->refs[c->q_last].next = n;
	c->q_last = n;
	c->q_bytes += o->wo_len;
	s->out_total += o->wo_len;
	conn_pend(c);
	return (0);
}

static void
conn_out_cleanup(const void *data, size_t len, void *arg)
{
	ws_out_unref(arg);
}

/*
 * Copy len bytes of o from off into c's evbuffer, or add them by
 * reference if large.  Measured with libevent 2.1.12 here (-O2, appends
 * then one drain, as a write does): with one frame per write both cost
 * ~26 ns up to 512 bytes (each then allocates a chain), and the copy
 * costs 38 ns at 1 KiB, 72 ns at 4 KiB; with 16 frames per write the
 * copy costs 10 ns at 64 bytes and 21 ns at 512 against 26-29 ns by
 * reference, and breaks even near 1 KiB.
 */
#define CONN_COPY_MAX	512

static int
conn_buffer(struct conn *c, struct ws_out *o, size_t off)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	size_t		 len = o->wo_len - off;

	if (len <= CONN_COPY_MAX)
		return (evbuffer_add(out, o->wo_data + off, len));
	ws_out_ref(o);
	if (evbuffer_add_reference(out, o->wo_data + off, len,
	    conn_out_cleanup, o) == -1) {
		ws_out_unref(o);
		return (-1);
	}
	return (0);
}

/*
 * Empty c's queue: its frames from byte skip of the first one go into
 * its evbuffer (buffer != 0), or nowhere (c is dead).  Every reference
 * is given back.  Returns -1 if the evbuffer took not all of it.
 */
static int
conn_spill(struct conn *c, size_t skip, int buffer)
{
	struct conn_ref	*refs = c->w->conns.refs;
	uint32_t	 i;
	int		 rv = 0;

	if (c->q_first == CONN_Q_END)
		return (0);
	if (!c->dead)
		c->w->conns.out_total -= c->q_bytes;
	for (i = c->q_first; i != CONN_Q_END; i = refs[i].next) {
		if (buffer && rv == 0 && conn_buffer(c, refs[i].o, skip) == -1)
			rv = -1;
		skip = 0;
		ws_out_unref(refs[i].o);
	}
	c->q_first = c->q_last = CONN_Q_END;
	c->q_bytes = 0;
	return (rv);
}

/* c is dead or freed: its queue goes. */
void
conn_out_drop(struct conn *c)
{
	conn_spill(c, 0, 0);
}

/*
 * c's output is the bufferevent's from now on (conn_flush): what its
 * queue holds goes into the evbuffer first, in order.
 */
void
conn_out_buffer(struct conn *c)
{
	if (conn_spill(c, 0, 1) == -1)
		conn_close(c, "evbuffer_add failed");
}

/*
 * The first frames of c's queue, up to max, as iovecs for one
 * write.  Returns how many; *want is their bytes.
 */
int
conn_out_iov(struct conn *c, struct iovec *iov, int max, size_t *want)
{
	struct conn_ref	*refs = c->w->conns.refs;
	uint32_t	 i;
	int		 k;

	*want = 0;
	for (k = 0, i = c->q_first; k < max && i != CONN_Q_END;
	    k++, i = refs[i].next) {
		iov[k].iov_base = refs[i].o->wo_data;
		iov[k].iov_len = refs[i].o->wo_len;
		*want += refs[i].o->wo_len;
	}
	return (k);
}

/*
 * A write of the frames of conn_out_iov() took took of their want
 * bytes: give back the frames that went whole; if the socket is full,
 * what is left goes into the evbuffer (conn_spill).  Returns 1 if the
 * queue may be written on, 0 if not, -1 if the evbuffer failed.
 */
int
conn_out_took(struct conn *c, size_t took, size_t want)
{
	struct conn_ref	*refs = c->w->conns.refs;
	uint32_t	 i;
	size_t		 n = took;

	shm_stat_add(&c->w->st->st_bytes_out, took);
	c->w->conns.out_total -= took;
	c->q_bytes -= took;
	/* refs is not reallocated here: nothing is queued meanwhile. */
	for (i = c->q_first; i != CONN_Q_END && n >= refs[i].o->wo_len;
	    i = refs[i].next) {
		n -= refs[i].o->wo_len;
		ws_out_unref(refs[i].o);
	}
	c->q_first = i;
	if (i == CONN_Q_END)
		c->q_last = CONN_Q_END;
	if (took < want)
		return (conn_spill(c, n, 1) == -1 ? -1 : 0);
	return (i != CONN_Q_END);
}

/*
 * Write c's queue: one writev(2) for up to CONN_IOV frames, straight from
 * the shared frames, and another only if that one was taken whole.
 * Returns the errno of a failed write, or 0.
 */
static int
conn_write_queue(struct conn *c)
{
	struct iovec	 iov[CONN_IOV];
	ssize_t		 n;
	size_t		 want;
	int		 k, rv = 1;

	do {
		k = conn_out_iov(c, iov, CONN_IOV, &want);
		if ((n = writev(c->fd, iov, k)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return (errno);
			n = 0;
		}
		if ((rv = conn_out_took(c, (size_t)n, want)) == -1)
			return (ENOMEM);
	} while (c->q_first != CONN_Q_END && rv == 1);
	return (0);
}

/*
 * Make room for len more bytes under max_pending_total: while the
 * worker's unsent bytes would pass it, drop the connection with the most
 * unsent bytes, a slow consumer (c itself, maybe).  The sum is kept
 * exact by conn_out_cb() and the queue; finding the biggest is a walk
 * over every connection, but only when the limit is hit, and each drop
 * takes the most memory a drop can.
 */
static void
conn_out_room(struct conn *c, size_t len)
{
	struct worker	*w = c->w;
	struct conn	*x, *big;
	size_t		 n, bign;

	while (w->cfg->max_pending_total != 0 &&
	    w->conns.out_total + len > w->cfg->max_pending_total) {
		big = NULL;
		bign = 0;
		TAILQ_FOREACH(x, &w->conns.all, entry) {
			if (x->dead)
				continue;
			n = conn_out_len(x);
			if (n > bign) {
				big = x;
				bign = n;
			}
		}
		if (big == NULL)
			return;		/* len alone is over it: let it pass */
		shm_stat_add(&w->st->st_slow_dropped, 1);
		log_client("conn %llu %s: slow consumer: %zu bytes unsent, the "
		    "most of %llu in the worker (max_pending_total); dropped",
		    (unsigned long long)big->id, big->peer, bign,
		    (unsigned long long)w->conns.out_total);
		conn_close(big, "slow consumer (max_pending_total)");
	}
}

/*
 * Queue o, a frame (or a line) for c; borrows o.  On c's queue while it
 * keeps up; in its evbuffer, after what waits there, while it does not,
 * or before it is ours to write (conn_direct).
 */
void
conn_queue(struct conn *c, struct ws_out *o)
{
	if (c->dead)
		return;
	conn_out_room(c, o->wo_len);
	if (c->dead)
		return;
	if (c->direct && !c->wr_armed && (c->q_first != CONN_Q_END ||
	    c->buffered == 0) && conn_cork(c, o) == 0)
		return;
	/* Keep the order: what the queue holds goes first. */
	if (conn_spill(c, 0, 1) == -1 || conn_buffer(c, o, 0) == -1)
		conn_close(c, "evbuffer_add failed");
}

/*
 * Queue a frame that others send too (a broadcast).  A client that lets
 * more than max_pending bytes pile up is a slow consumer: it is dropped,
 * so that memory stays bounded and nobody else waits for it.
 */
void
conn_send(struct conn *c, struct ws_out *o)
{
	size_t	 pending;

	if (c->dead)
		return;
	/*
	 * Judged on what it has not taken yet, before this frame: one frame
	 * may be larger than max_pending (JSON spends 6 bytes on a control
	 * character), and a large one is shared by reference, not copied.
	 */
	pending = conn_out_len(c);
	if (pending > c->w->cfg->max_pending) {
		shm_stat_add(&c->w->st->st_slow_dropped, 1);
		log_client("conn %llu %s: slow consumer: %zu bytes unsent; "
		    "dropped", (unsigned long long)c->id, c->peer, pending);
		conn_close(c, "slow consumer");
		return;
	}
	conn_queue(c, o);
	shm_stat_add(&c->w->st->st_msgs_out[c->proto->msgkind], 1);
}

/*
 * c was written (err 0) or failed (err, an errno): close it, or wait for
 * the socket if it is full, or write the rest of a long queue in the
 * next round, or it has drained.
 */
void
conn_out_wrote(struct conn *c, int err)
{
	if (err != 0)
		conn_close(c, evutil_socket_error_to_string(err));
	else if (c->buffered > 0) {
		bufferevent_enable(c->bev, EV_WRITE);
		c->wr_armed = 1;
	} else if (c->q_first != CONN_Q_END)
		conn_pend(c);
	else
		conn_drained(c);	/* may queue more: pends again */
}

/*
 * Take c off the pending list.  Returns 1 if its output is ours to write
 * now: it is alive, and the bufferevent is not writing for it already.
 */
int
conn_out_ready(struct conn *c)
{
	conn_unpend(c);
	if (c->dead)
		return (0);
	if (!c->direct || c->wr_armed) {
		/* Not ours to write: a queue here would be a bug. */
		conn_out_buffer(c);
		return (0);
	}
	return (1);
}

/* Write c's output (conn_out_ready() said so), with plain system calls. */
void
conn_out_write(struct conn *c)
{
	struct evbuffer	*out;
	int		 n, err = 0;

	conn_enter(c);
	if (c->q_first != CONN_Q_END)
		err = conn_write_queue(c);
	else if (c->buffered > 0) {
		/* A socket bufferevent keeps its output frozen. */
		out = bufferevent_get_output(c->bev);
		evbuffer_unfreeze(out, 1);
		n = evbuffer_write_atmost(out, c->fd, CONN_MAX_WRITE);
		err = n == -1 ? errno : 0;
		evbuffer_freeze(out, 1);
		if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
			err = 0;
	}
	conn_out_wrote(c, err);
	conn_leave(c);
}

/*
 * Write what every connection on the pending list queued since the last
 * call, as redis does before it sleeps: its queue with writev(2) (see
 * conn_write_queue), or what waits in its evbuffer; or, with io_uring,
 * the queues of many connections with one system call (conn_uring.c).
 * Bytes the socket does not take are left to the bufferevent (EV_WRITE
 * on, with the write timeout) until it drains: epoll_ctl(2) only for a
 * socket that is full.  An error closes the connection as a bufferevent
 * write error would.  The worker loop calls this once per iteration,
 * before it may block; when the list is empty, every queue is, and the
 * array of references starts over.
 */
void
conn_flush_pending(struct worker *w)
{
	struct conn	*c;

	if (w->conns.uring != NULL)
		conn_uring_flush(w);
	else
		while ((c = TAILQ_FIRST(&w->conns.pending)) != NULL)
			if (conn_out_ready(c))
				conn_out_write(c);
	w->conns.nrefs = 0;
}

/* The worker exits. */
void
conn_out_clear(struct worker *w)
{
	free(w->conns.refs);
	w->conns.refs = NULL;
	w->conns.nrefs = w->conns.refcap = 0;
}
