/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * wschatd.h: the structures and prototypes shared by the daemon's files.
 * The codec parts (http.c, ws.c, utf8.c, cfg.c) never see libevent: they
 * take (buf, len) and return a result, so their tests need no sockets.  The
 * parts that do use libevent (worker.c, conn.c) only need pointers here.
 */

#ifndef WSCHATD_H
#define WSCHATD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "shm.h"

#define WSCHATD_NAME		"wschatd"
#ifndef WSCHATD_VERSION
#define WSCHATD_VERSION		"0.1.0"
#endif

#define WSCHATD_MAX_WORKERS	64
/*
 * Worker slots on the bus: during a reload the new workers run beside the
 * old ones, which drain, so there are twice as many slots as workers.
 */
#define WSCHATD_MAX_SLOTS	(2 * WSCHATD_MAX_WORKERS + 4)

/* ------------------------------------------------------------------ */
/* cfg.c: every setting, its default and its bounds.                   */

struct cfg_addr {
	int			 off;		/* "off": no listener */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 text[80];	/* as the user wrote it */
};

struct cfg {
	unsigned	 workers;		/* 0: number of CPUs */
	struct cfg_addr	 listen;
	struct cfg_addr	 line_listen;
	char		*webroot;
	char		*pidfile;		/* NULL: none */
	char		*user;			/* workers run as; NULL: as is */
	char		*group;
	char		*log;			/* NULL: stderr with -f, else syslog */
	char		*log_level;
	unsigned	 log_client_rate;	/* lines about clients a second */
	int		 echo;			/* /echo enabled */
	char		*allowed_origins;	/* space-separated; NULL: any */
	unsigned	 backlog;
	unsigned	 max_connections;	/* per worker; 0: fd limit */
	unsigned	 max_connections_per_ip; /* all workers; 0: none */
	uint64_t	 max_message_size;
	unsigned	 max_header_size;
	unsigned	 max_request_line;
	unsigned	 max_headers;
	unsigned	 max_line_length;	/* line protocol */
	uint64_t	 max_pending;		/* unsent bytes per connection */
	uint64_t	 max_pending_total;	/* unsent bytes per worker; 0: any */
	unsigned	 http_timeout;		/* seconds */
	unsigned	 handshake_timeout;	/* seconds for a request head */
	unsigned	 ping_interval;		/* seconds */
	unsigned	 pong_timeout;		/* seconds */
	unsigned	 close_timeout;		/* seconds */
	unsigned	 shutdown_timeout;	/* seconds */
	unsigned	 drain_timeout;		/* after a reload; 0: no limit */
	unsigned	 idle_timeout;		/* seconds without chat; 0: never */
	unsigned	 max_users;		/* names online, server-wide */
	unsigned	 command_rate;		/* login/rename/who a minute */
	unsigned	 message_rate;		/* chat messages a second; 0: any */
	unsigned	 message_burst;		/* bucket size of message_rate */
	uint64_t	 bus_ring_size;		/* bytes per producer ring */
	int		 metrics;		/* /metrics enabled */
	char		*metrics_allow;		/* who may see it; NULL: any */
	/* Derived, not settings. */
	char		*conffile;		/* the file read, or NULL */
	uid_t		 uid;			/* of user; -1: no change */
	gid_t		 gid;			/* of group; -1: no change */
	int		 foreground;		/* -f */
	int		 debug;			/* -d */
};

/* An address prefix, as in metrics_allow. */
struct cfg_net {
	int		 family;		/* AF_INET or AF_INET6 */
	unsigned	 bits;
	uint8_t		 addr[16];		/* host bits zero */
};

void		 cfg_init(struct cfg *);
void		 cfg_clear(struct cfg *);
int		 cfg_set(struct cfg *, const char *, const char *, char **);
int		 cfg_set_kv(struct cfg *, const char *, char **);
int		 cfg_load(struct cfg *, const char *, char **);
int		 cfg_parse(struct cfg *, const char *, const char *, size_t,
		    char **);
int		 cfg_check(const struct cfg *, char **);
int		 cfg_parse_addr(const char *, struct cfg_addr *, char **);
void		 cfg_addr_format(const struct sockaddr *, char *, size_t);
unsigned	 cfg_addr_port(const struct cfg_addr *);
int		 cfg_net_parse(const char *, struct cfg_net **, size_t *,
		    char **);
int		 cfg_net_match(const struct cfg_net *, size_t,
		    const struct sockaddr *);
void		 cfg_dump(const struct cfg *, void (*)(const char *, void *),
		    void *);

/* ------------------------------------------------------------------ */
/* utf8.c: streaming UTF-8 validation (RFC 3629).                      */

#define UTF8_ACCEPT	0	/* at a character boundary */
#define UTF8_REJECT	1	/* invalid: sticky */

/*
 * Validate len bytes at p, continuing from state (UTF8_ACCEPT at the start
 * of a text).  Returns UTF8_ACCEPT if p ends on a character boundary,
 * UTF8_REJECT as soon as a byte makes the sequence invalid (overlong forms,
 * surrogates and code points past U+10FFFF included), or another value
 * meaning "inside a character": pass it back with the next bytes.  If
 * badoff is not NULL and the result is UTF8_REJECT, *badoff is the offset of
 * the first offending byte.  Any process.
 */
uint32_t	 utf8_validate(uint32_t, const uint8_t *, size_t, size_t *);

/* ------------------------------------------------------------------ */
/* http.c: HTTP/1.1 request parser and the RFC 6455 handshake.         */

#define HTTP_OK		0
#define HTTP_AGAIN	1	/* need more bytes; nothing consumed */
#define HTTP_ERROR	(-1)	/* req->status says which 4xx/5xx */

#define HTTP_HEADERS_MAX	256	/* hard cap on max_headers */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_OTHER		/* a valid token we do not serve: 405 */
};

struct http_header {
	const char	*name;
	size_t		 namelen;
	const char	*value;		/* without surrounding OWS */
	size_t		 valuelen;
};

struct http_limits {
	size_t		 max_header_size;	/* whole head, request line included */
	size_t		 max_request_line;
	unsigned	 max_headers;
};

struct http_request {
	enum http_method	 method;
	const char		*method_text;
	size_t			 method_len;
	const char		*target;
	size_t			 targetlen;
	int			 minor;		/* HTTP/1.minor */
	unsigned		 nheaders;
	struct http_header	 headers[HTTP_HEADERS_MAX];
	size_t			 hdrlen;	/* bytes of the head, last CRLF included */
	int			 keepalive;
	int			 status;	/* with HTTP_ERROR */
	const char		*reason;	/* with HTTP_ERROR: one line for the log */
};

/*
 * Parse the request head at the start of buf.  Returns HTTP_OK and fills
 * *req (its pointers point into buf and are valid as long as buf is),
 * HTTP_AGAIN if the head is incomplete but within limits, or HTTP_ERROR
 * with req->status (400, 414, 431, 501, 505, 413) and req->reason.
 * Accepts CRLF or a bare LF as line ends (RFC 9112, 2.2); rejects a bare CR,
 * obsolete line folding, white space before a colon, bodies and
 * Transfer-Encoding.  Any process.
 */
int		 http_request_parse(const char *, size_t,
		    const struct http_limits *, struct http_request *);
const struct http_header *
		 http_header_find(const struct http_request *, const char *);
int		 http_header_has_token(const struct http_request *,
		    const char *, const char *);
int		 http_header_count(const struct http_request *, const char *);

/*
 * Decode a request target into a file-system path below the web root:
 * strip the query, percent-decode, and refuse what could escape the root or
 * confuse it ("." or ".." segments, encoded '/' or NUL, a target not in
 * origin form).  Writes a NUL-terminated path starting with '/' into out.
 * Returns 0, or the HTTP status to answer (400, 414).
 */
int		 http_path_decode(const char *, size_t, char *, size_t);
const char	*http_mime_type(const char *);
const char	*http_status_text(int);

#define HTTP_WS_ACCEPT_LEN	28

/* Subprotocols a WebSocket endpoint speaks, in the server's order. */
#define WS_PROTO_NONE		0
#define WS_PROTO_JSON		1	/* wschat.json */
#define WS_PROTO_MSGPACK	2	/* wschat.msgpack */

struct http_ws_opts {
	int		 subprotocols;	/* bitmask of 1 << WS_PROTO_* */
	/* Origin allowlist hook: return 1 to allow.  NULL allows all. */
	int		(*origin_ok)(const char *, size_t, void *);
	void		*origin_arg;
};

struct http_ws_result {
	int		 status;	/* 101, or 400/403/426 */
	const char	*reason;	/* why not 101 */
	int		 subprotocol;	/* WS_PROTO_* chosen */
	char		 accept[HTTP_WS_ACCEPT_LEN + 1];
};

int		 http_is_upgrade(const struct http_request *);
/*
 * Check an upgrade request against RFC 6455, 4.2.1, and compute the
 * answer.  Returns res->status: 101 with res->accept and res->subprotocol
 * filled in, or the status to refuse with.  Any process.
 */
int		 http_ws_handshake(const struct http_request *,
		    const struct http_ws_opts *, struct http_ws_result *);
int		 http_ws_accept(const char *, size_t, char *);
const char	*http_ws_proto_name(int);

/* ------------------------------------------------------------------ */
/* ws.c: RFC 6455 frames, messages and shared outgoing frames.         */

#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xa

#define WS_OK		0
#define WS_AGAIN	1	/* need more bytes */
#define WS_MESSAGE	2	/* ws_reader: a data message is complete */
#define WS_CONTROL	3	/* ws_reader: a control frame is complete */
#define WS_EPROTO	(-1)	/* *code: the close code to send */

#define WS_HEADER_MAX	14	/* client header: 2 + 8 + 4 */
#define WS_HEADROOM	10	/* room for a server header before a payload */
#define WS_CONTROL_MAX	125

#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_NO_STATUS	1005	/* never sent */
#define WS_CLOSE_ABNORMAL	1006	/* never sent */
#define WS_CLOSE_BAD_DATA	1007
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_INTERNAL	1011

struct ws_frame {
	int		 fin;
	int		 opcode;
	int		 masked;
	uint8_t		 mask[4];
	uint64_t	 len;		/* payload length */
	size_t		 hdrlen;	/* header length, mask included */
};

/*
 * Parse the header of a client frame at the start of buf.  Returns WS_OK and
 * fills *f, WS_AGAIN if more bytes are needed (nothing consumed), or
 * WS_EPROTO with *code set to the close code to send: unmasked frames,
 * reserved bits, reserved opcodes, fragmented or oversized control frames,
 * non-minimal or 64-bit lengths with the top bit set are all 1002.
 * Allocates nothing.  Any process.
 */
int		 ws_frame_parse(const uint8_t *, size_t, struct ws_frame *,
		    uint16_t *);
/* XOR len bytes at p with mask, starting at offset off of the payload. */
void		 ws_unmask(uint8_t *, size_t, const uint8_t *, uint64_t);
/* Write a server (unmasked) frame header; returns its length (2..10). */
size_t		 ws_header_encode(uint8_t *, int, int, uint64_t);
int		 ws_close_code_valid(unsigned);
/*
 * Check a received close payload.  Returns WS_OK with *code the status
 * (1005 for an empty payload), or WS_EPROTO with *code the close code to
 * answer: 1002 for a one-byte payload or an invalid status, 1007 for a
 * reason that is not UTF-8.
 */
int		 ws_close_parse(const uint8_t *, size_t, uint16_t *);

/*
 * An incremental reader of client messages.  Feed it bytes in pieces of any
 * size; it reassembles fragments, answers which control frames arrived,
 * validates text as it arrives (failing on the first invalid byte) and
 * enforces the message size limit before buffering past it.
 */
struct ws_reader {
	uint64_t	 max_message;
	/* header being collected */
	uint8_t		 hdr[WS_HEADER_MAX];
	size_t		 hdrhave;
	int		 in_frame;
	struct ws_frame	 f;
	uint64_t	 fdone;		/* payload bytes of f consumed */
	/* data message being assembled */
	int		 msg_op;	/* WS_OP_TEXT/BINARY, 0: none */
	uint32_t	 utf8;
	uint8_t		*msg;		/* WS_HEADROOM bytes, then payload */
	size_t		 msglen;
	size_t		 msgcap;	/* payload capacity */
	/* control frame being assembled */
	uint8_t		 ctl[WS_CONTROL_MAX];
	/* results */
	int		 ev_op;		/* opcode of the message or control frame */
	size_t		 ev_len;
	uint16_t	 ev_code;	/* close: its status; error: close code */
};

void		 ws_reader_init(struct ws_reader *, uint64_t);
void		 ws_reader_clear(struct ws_reader *);
/*
 * Consume up to len bytes at buf; *used says how many.  Returns WS_AGAIN
 * (all of buf used, need more), WS_MESSAGE (r->ev_op, r->ev_len; take the
 * payload with ws_reader_take()), WS_CONTROL (r->ev_op; payload in r->ctl,
 * r->ev_len bytes; for a close r->ev_code is the validated status), or
 * WS_EPROTO with r->ev_code the close code to send (1002, 1007, 1009).
 * After WS_MESSAGE or WS_CONTROL call again with the rest of the bytes.
 */
int		 ws_reader_feed(struct ws_reader *, const uint8_t *, size_t,
		    size_t *);
/*
 * Take the completed message: returns its buffer (WS_HEADROOM bytes, then
 * r->ev_len bytes of payload), which the caller now owns (free() it or
 * give it to ws_out_wrap()).  Returns NULL for an empty message.
 */
uint8_t		*ws_reader_take(struct ws_reader *);

/*
 * A server frame, encoded once and shared by every recipient: conn.c
 * copies a small one into each output buffer and adds a large one by
 * reference (evbuffer_add_reference); the last reference frees the bytes.
 * Worker-local, so the count is plain.
 */
struct ws_out {
	unsigned	 wo_refs;
	size_t		 wo_len;	/* whole frame */
	uint8_t		*wo_data;	/* start of the frame */
	uint8_t		*wo_base;	/* what to free */
};

/* Copy payload into a new frame; returns NULL on allocation failure. */
struct ws_out	*ws_out_new(int, const void *, size_t);
/*
 * Make a frame from buf (WS_HEADROOM bytes, then len payload bytes, as from
 * ws_reader_take()); consumes buf, even on failure.  buf may be NULL if
 * len is 0.
 */
struct ws_out	*ws_out_wrap(int, uint8_t *, size_t);
struct ws_out	*ws_out_raw(uint8_t *, size_t);
struct ws_out	*ws_out_close(uint16_t, const char *);
void		 ws_out_ref(struct ws_out *);
void		 ws_out_unref(struct ws_out *);

/* ------------------------------------------------------------------ */
/* metrics.c: the Prometheus text of /metrics, from the shared region. */

char		*metrics_format(const struct shm_region *, size_t *);

/* ------------------------------------------------------------------ */
/* log.c                                                               */

int		 log_level_parse(const char *);
void		 log_init(int);
int		 log_open(const char *, int);
int		 log_reopen(uid_t, gid_t);
void		 log_stderr_too(int);
void		 log_procinit(const char *);
int		 log_getverbose(void);
void		 log_warn(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_warnx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_client_rate(unsigned);
void		 log_client_flush(void);
unsigned long long log_client_dropped(void);
void		 log_client(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_info(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_debug(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 fatal(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
void		 fatalx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));

/* ------------------------------------------------------------------ */
/* now.c                                                               */

time_t		 now_mono(void);
uint64_t	 now_mono_ms(void);
uint64_t	 now_real_ms(void);

/* ------------------------------------------------------------------ */
/* xmalloc.c: fatal-on-failure allocators for startup and config.      */

void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
char		*xstrdup(const char *);
int		 xasprintf(char **, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

/* ------------------------------------------------------------------ */
/* master.c                                                            */

/* What the master sets up for the bus and every worker inherits. */
struct bus_shared {
	struct shm_region	 reg;
	unsigned		 nworkers;
	int			 efd[WSCHATD_MAX_SLOTS];	/* eventfds */
};

void		 master_setup(struct cfg *);
int		 master_run(struct cfg *, int);

/* wschatd.c */
int		 wschatd_config_read(struct cfg *, char **);
void		 wschatd_pidfile_close(void);

/* worker.c */
void		 worker_run(struct cfg *, unsigned, int, int,
		    struct bus_shared *) __attribute__((__noreturn__));

#endif /* WSCHATD_H */
