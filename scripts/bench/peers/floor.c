/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * floor.c: the least work a WebSocket broadcast can do on this kernel, as
 * the floor that scripts/bench/compare.sh measures every server against
 * (issue 15).  One process, one epoll loop, no chat: each text message a
 * client sends goes back, payload bytes as they came, to every client of
 * its room (the sender included), the room being the upgrade URL's room
 * parameter (/ws?room=NAME, "chat" without one, as in the other peers).
 *
 * Where the work goes, and why it is the least:
 *  - A read lands in the batch, one buffer for the whole loop iteration.
 *    The client frames are unmasked and rewritten in place as server
 *    frames (a server header is always shorter than the masked client
 *    header it replaces), packed down so that one read's frames are
 *    contiguous.  So each frame is built once, with no copy but the
 *    kernel's, and consecutive frames of a room are one iovec.
 *  - At the end of the iteration each member of a room that got messages
 *    gets one writev of the room's iovecs (IOV_MAX at a time).  What the
 *    socket does not take is copied into that connection's backlog, and
 *    only then is EPOLLOUT armed: epoll_ctl is called when a socket
 *    really blocks, and again when its backlog is gone.
 *  - Level-triggered epoll.  With edge triggering every ready socket
 *    would have to be read until EAGAIN, one useless read(2) per socket
 *    per iteration, and whatever is left unread for fairness would have
 *    to be remembered by hand.  Level triggering lets a socket be read
 *    once per iteration and the batch be capped (FLOOR_BATCH_MAX): what
 *    is not read now is reported again by the next epoll_wait.
 *
 * What a browser-grade client needs and no more: the RFC 6455 upgrade
 * (GET on /ws, Sec-WebSocket-Key; no extensions, no subprotocols),
 * masked client frames, ping answered by pong, close answered by close.
 * Anything odd (unmasked, fragmented or binary frames, reserved bits, an
 * oversized frame) closes the connection, after a close frame where one
 * can be sent.  Text is not checked for UTF-8: the payload is not read.
 * Bounded: a request of FLOOR_REQ_MAX bytes, a frame of FLOOR_FRAME_MAX,
 * a room name of FLOOR_ROOM_MAX, a backlog of FLOOR_BACKLOG_MAX per
 * connection (past it the connection is dropped).  Not part of the
 * autotools build: compare.sh builds it, like the other peers.
 *
 *	cc -O2 -Wall -Wextra -Werror -o floor floor.c -lcrypto
 *
 * Usage: floor PORT (ws://127.0.0.1:PORT/ws).
 */

#define _GNU_SOURCE		/* accept4 */

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#define FLOOR_REQ_MAX		8192		/* upgrade request */
#define FLOOR_FRAME_MAX		(1 << 20)	/* payload of one frame */
#define FLOOR_BACKLOG_MAX	(8 << 20)	/* unsent bytes per conn */
#define FLOOR_BATCH_MAX		(16 << 20)	/* bytes read per iteration */
#define FLOOR_READ		(64 << 10)	/* one read(2), at least */
#define FLOOR_ROOM_MAX		64		/* bytes of a room name */
#define FLOOR_ROOM_HASH		4096		/* buckets, a power of 2 */
#define FLOOR_EVENTS		1024
#define FLOOR_ACCEPTS		1024		/* per iteration */

#define WS_GUID			"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* A run of server frames in the batch, by offset: the batch moves. */
struct span {
	size_t		 off;
	size_t		 len;
};

struct room {
	char		 name[FLOOR_ROOM_MAX + 1];
	struct room	*hnext;		/* hash chain */
	struct conn	*members;
	struct span	*spans;		/* this iteration's frames */
	size_t		 nspans;
	size_t		 spancap;
	struct room	*anext;		/* rooms with spans */
};

struct conn {
	int		 fd;
	int		 upgraded;
	int		 dead;		/* closed at the end of the iteration */
	int		 armed;		/* EPOLLOUT is on */
	struct room	*room;
	struct conn	*prev, *next;	/* in room->members */
	struct conn	*dnext;		/* dead list */
	uint8_t		*in;		/* request, or a partial frame */
	size_t		 inlen;
	uint8_t		*out;		/* the backlog */
	size_t		 outoff, outlen, outcap;
};

static int		 floor_ep;
static int		 floor_lfd;
static int		 floor_lfd_off;	/* out of descriptors: not accepting */
static struct room	*floor_rooms[FLOOR_ROOM_HASH];
static struct room	*floor_active;
static struct conn	*floor_dead;
static uint8_t		*floor_batch;
static size_t		 floor_blen, floor_bcap;
static struct iovec	*floor_iov;
static size_t		 floor_iovcap;

static void
floor_fatal(const char *what)
{
	perror(what);
	exit(1);
}

static void *
floor_grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t	 n = *cap ? *cap : 16;

	if (need <= *cap)
		return (p);
	while (n < need)
		n *= 2;
	if ((p = realloc(p, n * elem)) == NULL)
		floor_fatal("realloc");
	*cap = n;
	return (p);
}

static void
floor_kill(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	c->dnext = floor_dead;
	floor_dead = c;
}

static void
floor_arm(struct conn *c, int on)
{
	struct epoll_event	 ev;

	ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(floor_ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		floor_fatal("epoll_ctl");
	c->armed = on;
}

/* Append len bytes to c's backlog; past FLOOR_BACKLOG_MAX, drop c. */
static void
floor_backlog(struct conn *c, const void *p, size_t len)
{
	if (c->outlen - c->outoff + len > FLOOR_BACKLOG_MAX) {
		floor_kill(c);
		return;
	}
	if (c->outoff > 0 && c->outlen + len > c->outcap) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	c->out = floor_grow(c->out, &c->outcap, c->outlen + len, 1);
	memcpy(c->out + c->outlen, p, len);
	c->outlen += len;
	if (!c->armed)
		floor_arm(c, 1);
}

/*
 * Write iov[0..n) to c, the backlog first; whatever the socket does not
 * take goes to the backlog.
 */
static void
floor_writev(struct conn *c, const struct iovec *iov, size_t n)
{
	ssize_t	 w;
	size_t	 i, k, chunk, done;

	if (c->dead)
		return;
	for (i = 0; i < n; i += chunk) {
		chunk = n - i < IOV_MAX ? n - i : IOV_MAX;
		done = 0;
		if (c->outlen == 0) {
			w = writev(c->fd, iov + i, chunk);
			if (w == -1 && errno != EAGAIN && errno != EINTR) {
				floor_kill(c);
				return;
			}
			if (w > 0)
				done = w;
		}
		for (k = i; k < i + chunk; k++) {
			if (done >= iov[k].iov_len) {
				done -= iov[k].iov_len;
				continue;
			}
			floor_backlog(c, (uint8_t *)iov[k].iov_base + done,
			    iov[k].iov_len - done);
			done = 0;
			if (c->dead)
				return;
		}
	}
}

static void
floor_send(struct conn *c, const void *p, size_t len)
{
	struct iovec	 iov;

	iov.iov_base = (void *)p;
	iov.iov_len = len;
	floor_writev(c, &iov, 1);
}

/* On EPOLLOUT: write the backlog; when it is gone, disarm. */
static void
floor_drain(struct conn *c)
{
	ssize_t	 w;

	w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
	if (w == -1) {
		if (errno != EAGAIN && errno != EINTR)
			floor_kill(c);
		return;
	}
	c->outoff += w;
	if (c->outoff < c->outlen)
		return;
	c->outoff = c->outlen = 0;
	if (c->outcap > FLOOR_READ) {
		/* A slow moment should not keep megabytes forever. */
		free(c->out);
		c->out = NULL;
		c->outcap = 0;
	}
	floor_arm(c, 0);
}

/* A close frame with code (0: none), then drop c. */
static void
floor_close(struct conn *c, unsigned code)
{
	uint8_t	 f[4] = { 0x88, 0, code >> 8, code & 0xff };

	if (code != 0)
		f[1] = 2;
	floor_send(c, f, code != 0 ? 4 : 2);
	floor_kill(c);
}

static unsigned
floor_hash(const char *s)
{
	unsigned	 h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return (h & (FLOOR_ROOM_HASH - 1));
}

static void
floor_join(struct conn *c, const char *name)
{
	struct room	**rp, *r;

	rp = &floor_rooms[floor_hash(name)];
	for (r = *rp; r != NULL; r = r->hnext)
		if (strcmp(r->name, name) == 0)
			break;
	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			floor_fatal("calloc");
		strcpy(r->name, name);
		r->hnext = *rp;
		*rp = r;
	}
	c->room = r;
	c->prev = NULL;
	c->next = r->members;
	if (r->members != NULL)
		r->members->prev = c;
	r->members = c;
}

/* Called only between iterations, when no room is active. */
static void
floor_leave(struct conn *c)
{
	struct room	**rp, *r = c->room;

	if (r == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		r->members = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->room = NULL;
	if (r->members != NULL)
		return;
	for (rp = &floor_rooms[floor_hash(r->name)]; *rp != r;
	    rp = &(*rp)->hnext)
		;
	*rp = r->hnext;
	free(r->spans);
	free(r);
}

/* The frames at off, len bytes in the batch, go to room r. */
static void
floor_publish(struct room *r, size_t off, size_t len)
{
	struct span	*s;

	if (r->nspans > 0) {
		s = &r->spans[r->nspans - 1];
		if (s->off + s->len == off) {
			s->len += len;
			return;
		}
	} else {
		r->anext = floor_active;
		floor_active = r;
	}
	r->spans = floor_grow(r->spans, &r->spancap, r->nspans + 1,
	    sizeof(*r->spans));
	r->spans[r->nspans].off = off;
	r->spans[r->nspans].len = len;
	r->nspans++;
}

/*
 * The value of header name in the request head p (NUL-terminated),
 * trimmed, in a static buffer; NULL if absent.
 */
static const char *
floor_header(const char *p, const char *name)
{
	static char	 v[256];
	size_t		 n = strlen(name), k;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) != 0 || p[n] != ':')
			continue;
		p += n + 1;
		p += strspn(p, " \t");
		k = strcspn(p, "\r\n");
		while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
			k--;
		if (k >= sizeof(v))
			return (NULL);
		memcpy(v, p, k);
		v[k] = '\0';
		return (v);
	}
	return (NULL);
}

/*
 * Answer the upgrade request head req (whole, NUL-terminated): 101 and
 * the room joined, or 400/404 and c dropped.  Returns 0 if c is now a
 * WebSocket.
 */
static int
floor_upgrade(struct conn *c, char *req)
{
	static const char	 bad[] = "HTTP/1.1 400 Bad Request\r\n"
	    "Connection: close\r\nContent-Length: 0\r\n\r\n";
	static const char	 nf[] = "HTTP/1.1 404 Not Found\r\n"
	    "Connection: close\r\nContent-Length: 0\r\n\r\n";
	char			 room[FLOOR_ROOM_MAX + 1] = "chat";
	char			 buf[128 + sizeof(WS_GUID)], resp[256];
	unsigned char		 md[SHA_DIGEST_LENGTH], acc[32];
	const char		*key, *q, *end;
	size_t			 plen, n;

	if (strncmp(req, "GET ", 4) != 0)
		goto bad;
	q = req + 4;
	plen = strcspn(q, "? ");
	if (plen != 3 || strncmp(q, "/ws", 3) != 0) {
		floor_send(c, nf, sizeof(nf) - 1);
		floor_kill(c);
		return (-1);
	}
	q += 3;
	end = q + strcspn(q, " \r\n");
	/* room=NAME among the parameters, as it comes (no %-decoding). */
	while (q < end && (*q == '?' || *q == '&')) {
		q++;
		n = strcspn(q, "& \r\n");
		if (n > 5 && strncmp(q, "room=", 5) == 0) {
			if (n - 5 > FLOOR_ROOM_MAX)
				goto bad;
			memcpy(room, q + 5, n - 5);
			room[n - 5] = '\0';
		}
		q += n;
	}
	if ((key = floor_header(req, "Sec-WebSocket-Key")) == NULL ||
	    strlen(key) > 128)
		goto bad;
	n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	SHA1((unsigned char *)buf, n, md);
	EVP_EncodeBlock(acc, md, SHA_DIGEST_LENGTH);
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", acc);
	floor_send(c, resp, n);
	if (c->dead)
		return (-1);
	c->upgraded = 1;
	floor_join(c, room);
	return (0);
bad:
	floor_send(c, bad, sizeof(bad) - 1);
	floor_kill(c);
	return (-1);
}

/* Read the upgrade request into c->in; answer it when it is whole. */
static void
floor_read_request(struct conn *c)
{
	ssize_t	 n;
	char	*eoh;
	size_t	 hlen;

	if (c->in == NULL && (c->in = malloc(FLOOR_REQ_MAX + 1)) == NULL)
		floor_fatal("malloc");
	n = read(c->fd, c->in + c->inlen, FLOOR_REQ_MAX - c->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		floor_kill(c);
		return;
	}
	c->inlen += n;
	c->in[c->inlen] = '\0';
	if ((eoh = strstr((char *)c->in, "\r\n\r\n")) == NULL) {
		if (c->inlen == FLOOR_REQ_MAX)
			floor_kill(c);
		return;
	}
	eoh[2] = '\0';
	hlen = eoh + 4 - (char *)c->in;
	if (floor_upgrade(c, (char *)c->in) == -1)
		return;
	c->inlen -= hlen;
	if (c->inlen > 0)
		memmove(c->in, c->in + hlen, c->inlen);
	else {
		free(c->in);
		c->in = NULL;
	}
}

/*
 * XOR len bytes at p with the 4-byte mask, 8 bytes at a time: src/ws.c's
 * ws_unmask() without its offset, copied so that floor.c builds alone.
 */
static void
floor_unmask(uint8_t *p, size_t len, const uint8_t *mask)
{
	uint8_t		 m[8];
	uint64_t	 m8, w;
	size_t		 i;

	memcpy(m, mask, 4);
	memcpy(m + 4, mask, 4);
	memcpy(&m8, m, 8);
	for (i = 0; len - i >= 8; i += 8) {
		memcpy(&w, p + i, 8);
		w ^= m8;
		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] ^= m[i & 7];
}

/*
 * Parse the client frames in the batch from off to the end.  Text frames
 * are rewritten in place, packed down from off, and published; a partial
 * frame at the end is kept in c->in.  Returns where the batch ends now.
 */
static size_t
floor_frames(struct conn *c, size_t off)
{
	uint8_t		*b = floor_batch, *p, pong[2 + 125];
	size_t		 src = off, dst = off, end = floor_blen;
	size_t		 avail, hlen, i;
	uint64_t	 plen;
	unsigned	 op;

	while (!c->dead && (avail = end - src) >= 2) {
		p = b + src;
		op = p[0] & 0x0f;
		/* FIN, no RSV; masked (RFC 6455, 5.1). */
		if ((p[0] & 0xf0) != 0x80 || (p[1] & 0x80) == 0) {
			floor_close(c, 1002);
			break;
		}
		plen = p[1] & 0x7f;
		hlen = 2 + 4;
		if (plen == 126) {
			hlen += 2;
			if (avail < hlen)
				break;
			plen = (uint64_t)p[2] << 8 | p[3];
		} else if (plen == 127) {
			hlen += 8;
			if (avail < hlen)
				break;
			for (plen = 0, i = 2; i < 10; i++)
				plen = plen << 8 | p[i];
		}
		if (plen > FLOOR_FRAME_MAX) {
			floor_close(c, 1009);
			break;
		}
		if ((op & 0x08) && plen > 125) {
			floor_close(c, 1002);
			break;
		}
		if (avail < hlen + plen)
			break;
		floor_unmask(p + hlen, plen, p + hlen - 4);
		src += hlen + plen;
		switch (op) {
		case 0x1:
			/* The server header: 2, 4 or 10 bytes, all < hlen. */
			b[dst] = 0x81;
			if (plen < 126) {
				b[dst + 1] = plen;
				i = 2;
			} else if (plen < 65536) {
				b[dst + 1] = 126;
				b[dst + 2] = plen >> 8;
				b[dst + 3] = plen & 0xff;
				i = 4;
			} else {
				b[dst + 1] = 127;
				for (i = 0; i < 8; i++)
					b[dst + 2 + i] = plen >> (56 - 8 * i);
				i = 10;
			}
			memmove(b + dst + i, p + hlen, plen);
			floor_publish(c->room, dst, i + plen);
			dst += i + plen;
			break;
		case 0x9:
			pong[0] = 0x8a;
			pong[1] = plen;
			memcpy(pong + 2, p + hlen, plen);
			floor_send(c, pong, 2 + plen);
			break;
		case 0xa:
			break;
		case 0x8:
			floor_close(c, plen >= 2 ? (unsigned)p[hlen] << 8 |
			    p[hlen + 1] : 0);
			break;
		default:
			/* Binary, continuation, reserved opcodes. */
			floor_close(c, 1003);
			break;
		}
	}
	if (!c->dead && src < end) {
		c->inlen = end - src;
		if ((c->in = malloc(c->inlen)) == NULL)
			floor_fatal("malloc");
		memcpy(c->in, b + src, c->inlen);
	}
	return (dst);
}

/*
 * Read from c into the batch, behind whatever partial frame c had, and
 * parse what came.
 */
static void
floor_read(struct conn *c)
{
	size_t	 off = floor_blen, want = FLOOR_READ;
	ssize_t	 n = 0;

	if (!c->upgraded) {
		floor_read_request(c);
		/* Frames right behind the request: parse them now. */
		if (c->dead || !c->upgraded || c->inlen == 0)
			return;
		want = 0;
	}
	/* Room for the rest of a partial frame in one read, if possible. */
	if (c->inlen > 0 && want > 0)
		want += FLOOR_FRAME_MAX + 14;
	floor_batch = floor_grow(floor_batch, &floor_bcap,
	    off + c->inlen + want, 1);
	if (c->inlen > 0) {
		memcpy(floor_batch + off, c->in, c->inlen);
		free(c->in);
		c->in = NULL;
	}
	if (want > 0)
		n = read(c->fd, floor_batch + off + c->inlen, want);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		n = 0;
	else if (n < 0 || (n == 0 && want > 0)) {
		c->inlen = 0;
		floor_kill(c);
		return;
	}
	floor_blen = off + c->inlen + n;
	c->inlen = 0;
	floor_blen = floor_frames(c, off);
}

/*
 * Watch the listening socket, or stop: with no descriptor left, it stays
 * readable and a level-triggered loop would spin on it.  Accepting
 * resumes once a connection is closed (floor_reap).
 */
static void
floor_listen(int on)
{
	struct epoll_event	 ev;

	ev.events = on ? EPOLLIN : 0;
	ev.data.ptr = NULL;
	if (epoll_ctl(floor_ep, EPOLL_CTL_MOD, floor_lfd, &ev) == -1)
		floor_fatal("epoll_ctl");
	floor_lfd_off = !on;
}

static void
floor_accept(int lfd)
{
	struct epoll_event	 ev;
	struct conn		*c;
	int			 fd, one = 1, i;

	for (i = 0; i < FLOOR_ACCEPTS; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				floor_listen(0);
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				perror("accept4");
			return;
		}
		/* As ws, uWebSockets and Go do: frames go out now. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL)
			floor_fatal("calloc");
		c->fd = fd;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(floor_ep, EPOLL_CTL_ADD, fd, &ev) == -1)
			floor_fatal("epoll_ctl");
	}
}

/* The end of an iteration: each room's frames to each of its members. */
static void
floor_flush(void)
{
	struct room	*r;
	struct conn	*c;
	size_t		 i;

	while ((r = floor_active) != NULL) {
		floor_active = r->anext;
		floor_iov = floor_grow(floor_iov, &floor_iovcap, r->nspans,
		    sizeof(*floor_iov));
		for (i = 0; i < r->nspans; i++) {
			floor_iov[i].iov_base = floor_batch + r->spans[i].off;
			floor_iov[i].iov_len = r->spans[i].len;
		}
		for (c = r->members; c != NULL; c = c->next)
			floor_writev(c, floor_iov, r->nspans);
		r->nspans = 0;
	}
	floor_blen = 0;
}

static void
floor_reap(void)
{
	struct conn	*c;

	while ((c = floor_dead) != NULL) {
		floor_dead = c->dnext;
		floor_leave(c);
		close(c->fd);
		free(c->in);
		free(c->out);
		free(c);
		if (floor_lfd_off)
			floor_listen(1);
	}
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 ev, evs[FLOOR_EVENTS];
	struct sockaddr_in	 sin;
	struct conn		*c;
	char			*ep;
	long			 port;
	int			 lfd, one = 1, n, i;

	if (argc != 2 || (port = strtol(argv[1], &ep, 10)) <= 0 ||
	    port > 65535 || *ep != '\0') {
		fprintf(stderr, "usage: floor PORT\n");
		return (2);
	}
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		floor_fatal("socket");
	floor_lfd = lfd;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		floor_fatal("bind");
	if (listen(lfd, SOMAXCONN) == -1)
		floor_fatal("listen");
	if ((floor_ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		floor_fatal("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(floor_ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		floor_fatal("epoll_ctl");
	printf("listening on 127.0.0.1:%ld\n", port);
	fflush(stdout);

	for (;;) {
		if ((n = epoll_wait(floor_ep, evs, FLOOR_EVENTS, -1)) == -1) {
			if (errno == EINTR)
				continue;
			floor_fatal("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if ((c = evs[i].data.ptr) == NULL) {
				floor_accept(lfd);
				continue;
			}
			if (!c->dead && (evs[i].events & EPOLLOUT))
				floor_drain(c);
			/* A full batch: the rest is read next time round. */
			if (!c->dead && floor_blen < FLOOR_BATCH_MAX &&
			    (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				floor_read(c);
		}
		floor_flush();
		floor_reap();
	}
	/* NOTREACHED */
}
