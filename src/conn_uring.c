/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn_uring.c: the writes of a loop iteration with io_uring (liburing,
 * Debian's liburing-dev), when it is built in and `io_uring on`.  With
 * plain system calls a broadcast costs a writev(2) per connection; here
 * one io_uring_enter(2) sends the queues of up to CONN_URING_BATCH
 * connections.  Each is a sendmsg with MSG_DONTWAIT, so the kernel sends
 * it inline, at once, and a full socket completes with EAGAIN instead of
 * being waited for: the completions are all there when the call returns,
 * and each is handled as a writev's result would be (conn_out.c).  The
 * frames' bytes are copied by then, so freeing them after is safe.
 *
 * Where io_uring cannot be set up (an old kernel, a seccomp filter,
 * kernel.io_uring_disabled), the worker says so once and writes the plain
 * way.  Without liburing at build time, this file is empty stubs.
 */

#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "wschatd.h"
#include "conn.h"
#include "worker.h"

#ifdef HAVE_LIBURING

/* Connections per io_uring_enter(2), and frames per connection in one. */
#define CONN_URING_BATCH	128
#define CONN_URING_IOV		CONN_IOV

struct conn_uring_slot {
	struct conn	*c;
	int		 plain;		/* evbuffer output only: no sendmsg */
	size_t		 want;
	int		 err;
	struct msghdr	 msg;
	struct iovec	 iov[CONN_URING_IOV];
};

struct conn_uring {
	struct io_uring		 ring;
	struct conn_uring_slot	 slots[CONN_URING_BATCH];
};

void
conn_uring_init(struct worker *w)
{
	struct conn_uring	*u;
	int			 rv;

	if (!w->cfg->io_uring)
		return;
	if ((u = calloc(1, sizeof(*u))) == NULL) {
		log_warnx("io_uring: out of memory; writing without it");
		return;
	}
	if ((rv = io_uring_queue_init(CONN_URING_BATCH, &u->ring, 0)) < 0) {
		log_info("io_uring: cannot set it up (%s); writing without it",
		    strerror(-rv));
		free(u);
		return;
	}
	w->conns.uring = u;
}

void
conn_uring_free(struct worker *w)
{
	if (w->conns.uring == NULL)
		return;
	io_uring_queue_exit(&w->conns.uring->ring);
	free(w->conns.uring);
	w->conns.uring = NULL;
}

/*
 * A completion: what the socket took of slot's frames, or -errno.  Only
 * the queue changes here; what may call back (conn_out_wrote) comes once
 * every completion of the round is in, so that no callback sees a queue
 * still in flight.
 */
static void
conn_uring_took(struct conn_uring_slot *sl, int res)
{
	sl->err = 0;
	if (res < 0 && res != -EAGAIN && res != -EINTR)
		sl->err = -res;
	else if (conn_out_took(sl->c, res < 0 ? 0 : (size_t)res,
	    sl->want) == -1)
		sl->err = ENOMEM;
}

/*
 * conn_flush_pending() with io_uring: a round takes up to
 * CONN_URING_BATCH connections off the pending list, one sendmsg each,
 * and handles the completions; rounds go on until the list is empty.  A
 * connection with only evbuffer output, which waits for its socket
 * anyway, is written the plain way, after the completions: its write
 * may call back (conn_drained), and nothing that could drop another
 * connection's queue may run while that queue's sendmsg is prepared.
 */
void
conn_uring_flush(struct worker *w)
{
	struct conn_uring	*u = w->conns.uring;
	struct conn_uring_slot	*sl;
	struct io_uring_sqe	*sqe;
	struct io_uring_cqe	*cqe;
	struct conn		*c;
	unsigned		 n, nsq, i;
	int			 k, rv;

	for (;;) {
		n = nsq = 0;
		while (n < CONN_URING_BATCH &&
		    (c = TAILQ_FIRST(&w->conns.pending)) != NULL) {
			if (!conn_out_ready(c))
				continue;
			sl = &u->slots[n++];
			conn_enter(c);
			sl->c = c;
			sl->err = 0;
			if ((sl->plain = c->q_first == CONN_Q_END))
				continue;
			if ((sqe = io_uring_get_sqe(&u->ring)) == NULL)
				fatalx("io_uring: the submission queue is full");
			nsq++;
			k = conn_out_iov(c, sl->iov, CONN_URING_IOV, &sl->want);
			memset(&sl->msg, 0, sizeof(sl->msg));
			sl->msg.msg_iov = sl->iov;
			sl->msg.msg_iovlen = (size_t)k;
			io_uring_prep_sendmsg(sqe, c->fd, &sl->msg,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			io_uring_sqe_set_data(sqe, sl);
		}
		if (n == 0)
			return;
		while (nsq > 0 &&
		    (rv = io_uring_submit_and_wait(&u->ring, nsq)) < 0)
			if (rv != -EINTR && rv != -EAGAIN && rv != -EBUSY)
				fatalx("io_uring_submit_and_wait: %s",
				    strerror(-rv));
		for (i = 0; i < nsq; i++) {
			while ((rv = io_uring_wait_cqe(&u->ring, &cqe)) < 0)
				if (rv != -EINTR)
					fatalx("io_uring_wait_cqe: %s",
					    strerror(-rv));
			conn_uring_took(io_uring_cqe_get_data(cqe), cqe->res);
			io_uring_cqe_seen(&u->ring, cqe);
		}
		for (i = 0; i < n; i++) {
			sl = &u->slots[i];
			c = sl->c;
			if (!sl->plain && !c->dead)
				conn_out_wrote(c, sl->err);
			else if (sl->plain && conn_out_ready(c))
				conn_out_write(c);
			conn_leave(c);
		}
	}
}

#else /* !HAVE_LIBURING */

void
conn_uring_init(struct worker *w)
{
	if (w->cfg->io_uring)
		log_info("io_uring: not built in (no liburing at configure "
		    "time); writing without it");
}

void
conn_uring_flush(struct worker *w)
{
}

void
conn_uring_free(struct worker *w)
{
}

#endif /* HAVE_LIBURING */
