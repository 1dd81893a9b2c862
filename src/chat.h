/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * chat.h: the chat protocol's messages as data, and their codecs: client
 * commands from JSON (jansson), MessagePack or a line of the line port
 * (whose reader cuts the input into lines), all into one struct chat_cmd;
 * messages to clients in each of those formats; and the bus envelope that
 * carries an event between workers (MessagePack); and the rules for
 * names and room names (chat_name.c).  Pure functions over (buf, len):
 * no sockets, no libevent, no library's types; hub.c decides what to send
 * to whom.
 */

#ifndef WSCHATD_CHAT_H
#define WSCHATD_CHAT_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct chat_dec;

enum chat_type {
	CHAT_NONE = 0,
	/* server to client */
	CHAT_HANDSHAKE,
	CHAT_LOGIN,
	CHAT_LOGOUT,
	CHAT_USER,
	CHAT_PRIVATE,
	CHAT_RENAME,
	CHAT_WHO,
	CHAT_SYSTEM,
	/* client to server only */
	CHAT_TO,
	/* client to server, and server to client: a member came or went */
	CHAT_JOIN,
	CHAT_LEAVE,
	/* client to server, and the reply: the rooms and their sizes */
	CHAT_ROOMS,
	/* client to server (a page of older messages), and the reply */
	CHAT_HISTORY,
	/* client to server: take over a lost connection's session */
	CHAT_RESUME,
	/* server to client: the session was taken over */
	CHAT_RESUMED,
	/* the line port only: no type on /ws, never on the bus */
	CHAT_HELP,		/* "help"; to the client: the list of commands */
	CHAT_QUIT,		/* "quit": a goodbye line, then as logout */
	CHAT_UNKNOWN,		/* an object with a type we do not know */
	CHAT_BAD		/* malformed: cmd->error says why */
};

/*
 * What a chat connection speaks: the one name for "which protocol" from
 * the socket to the bus (a connection's format, an event's origin, a
 * presence entry's kind).  NONE: not a chat connection.  One value per
 * WebSocket subprotocol, version 2 included: a version is a way to encode
 * a message as much as JSON or MessagePack is, and hub.c keeps one frame
 * of an event per value, so each variant is encoded once per worker.
 */
enum chat_fmt {
	CHAT_FMT_NONE = 0,
	CHAT_FMT_JSON,		/* WebSocket, text frames (wschat.json) */
	CHAT_FMT_MSGPACK,	/* WebSocket, binary frames (wschat.msgpack) */
	CHAT_FMT_LINE,		/* the line port */
	CHAT_FMT_JSON2,		/* wschat.v2.json: presence without lists */
	CHAT_FMT_MSGPACK2,	/* wschat.v2.msgpack */
	CHAT_FMT_COUNT
};

/* MessagePack in binary frames: wschat.msgpack or wschat.v2.msgpack. */
static inline int
chat_fmt_msgpack(enum chat_fmt fmt)
{
	return (fmt == CHAT_FMT_MSGPACK || fmt == CHAT_FMT_MSGPACK2);
}

/* Protocol version 2 (docs/PROTOCOL.md): no user_list in presence. */
static inline int
chat_fmt_v2(enum chat_fmt fmt)
{
	return (fmt == CHAT_FMT_JSON2 || fmt == CHAT_FMT_MSGPACK2);
}

struct chat_str {
	const char	*p;
	size_t		 len;
};

#define CHAT_STR(s)	((struct chat_str){ (s), sizeof(s) - 1 })

/*
 * A client's command.  Its strings point into the parsed input or into
 * cmd->priv (a jansson value): valid until chat_cmd_clear().  CHAT_NONE
 * is a command to ignore (an empty line, empty chat); CHAT_BAD one to
 * answer with bad_message and cmd->error.
 */
struct chat_cmd {
	enum chat_type	 type;
	struct chat_str	 type_text;	/* as sent, for unknown types */
	struct chat_str	 content;
	struct chat_str	 to;
	struct chat_str	 room;
	struct chat_str	 after;		/* who: the page after this name */
	uint64_t	 limit;		/* who: names at most; history:
					 * messages at most; 0: absent */
	uint64_t	 before;	/* history: ids below; 0: absent */
	struct chat_str	 session;	/* resume: the token */
	uint64_t	 since;		/* resume: the largest id in "since" */
	int		 has_content;
	const char	*error;		/* CHAT_BAD: why, one line */
	int		 not_text;	/* CHAT_BAD: not even text (NUL, UTF-8) */
	void		*priv;
};

#define CHAT_PARSE_OK		0
#define CHAT_PARSE_NOT_OBJECT	1	/* not a JSON/MessagePack map: raw chat */
#define CHAT_PARSE_BAD		(-1)	/* a map (or text that starts like
					 * a JSON object), but malformed:
					 * bad_message, cmd->error may say
					 * why */

/*
 * A message from a WebSocket chat client, in its format (JSON or
 * MessagePack; binary: a binary frame), into *cmd: a command, raw text as a CHAT_USER command, or
 * CHAT_BAD (text that starts, after blanks, with "{" but is not a JSON
 * object is not raw text but bad).  Chat with nothing but blanks in it
 * (an empty frame, "  ", {"type":"user","content":""}) is CHAT_NONE.
 * Always fills *cmd; chat_cmd_clear() it after use.
 */
void		 chat_cmd_parse(enum chat_fmt, int, const char *, size_t,
		    struct chat_cmd *);
int		 chat_cmd_parse_json(const char *, size_t, struct chat_cmd *);
int		 chat_json_user_fast(const char *, size_t, struct chat_str *);
int		 chat_cmd_parse_msgpack(const char *, size_t, struct chat_cmd *);
/*
 * One line of the line port, without its end (LF, or CRLF), into *cmd:
 * "who", "who ROOM", "rename NAME", "to NAME text", "join ROOM", "leave",
 * "rooms", "help", "quit", or chat;
 * CHAT_NONE for an empty line; CHAT_BAD for a NUL byte, invalid UTF-8 or
 * a command that lacks its arguments.  Its strings point into buf.
 * chat_line.c.
 */
void		 chat_cmd_parse_line(const char *, size_t, struct chat_cmd *);
void		 chat_cmd_clear(struct chat_cmd *);
const char	*chat_type_name(enum chat_type);

/* One room of a "rooms" reply. */
struct chat_room_count {
	struct chat_str		 room;
	uint32_t		 members;
};

/* A message to clients; absent fields have p == NULL (or 0 for numbers). */
struct chat_msg {
	enum chat_type		 type;
	struct chat_str		 from;
	struct chat_str		 user;
	struct chat_str		 to;
	struct chat_str		 content;
	struct chat_str		 room;
	struct chat_str		 code;
	struct chat_str		 ip;
	struct chat_str		 peer;	/* sender's ip:port, line format only */
	uint64_t		 timestamp;
	uint64_t		 id;
	const struct chat_str	*user_list;
	size_t			 nusers;
	int			 has_user_list;
	const struct chat_room_count *rooms;	/* ROOMS */
	size_t			 nrooms;
	int			 more;	/* WHO, ROOMS: the list was cut */
	/* Names online (version 2's handshake and presence events). */
	uint64_t		 online;
	int			 has_online;
	/* PRIVATE: the sender's own copy (the line format says so). */
	int			 sender_copy;
	/* Version 2: the history store's epoch, on USER, PRIVATE, HISTORY. */
	struct chat_str		 epoch;
	/* SYSTEM logged_in: the session's token and how long it lasts. */
	struct chat_str		 session;
	uint64_t		 resume_timeout;
	/* HISTORY: CHAT_USER messages, oldest first; more says whether
	 * older ones exist (always written for HISTORY). */
	const struct chat_msg	*msgs;
	size_t			 nmsgs;
};

/*
 * Encode msg for a client.  Each returns a malloc'd buffer with
 * WS_HEADROOM free bytes, then *len bytes of payload, ready for
 * ws_out_wrap() (ws_out_raw() for a line); NULL on allocation failure.
 */
uint8_t		*chat_msg_json(const struct chat_msg *, size_t *);
uint8_t		*chat_msg_msgpack(const struct chat_msg *, size_t *);
/*
 * The same for the line protocol: one line ending in LF, like
 * "[ip:port]name: text", with CR and LF in the text turned into spaces
 * (CHAT_HELP: the list of commands, one "system: " line each; a private
 * message's sender_copy: "you -> TO: text"; CHAT_ROOMS: a "room ROOM: N
 * online" line each).  Returns NULL with *len 0 if
 * the type has no line form (handshake, who).  chat_line.c.
 */
uint8_t		*chat_msg_line(const struct chat_msg *, size_t *);
/* Text for a terminal: every control shown, none acting.  chat_line.c. */
void		 chat_line_escape(struct buf *, const char *, size_t);
/* msg for a WebSocket client of format fmt (JSON or MessagePack). */
uint8_t		*chat_msg_encode(enum chat_fmt, const struct chat_msg *,
		    size_t *);

/*
 * The line port's input cut into lines, fed in pieces of any size.  A line
 * ends at LF; one CR before the LF is not part of it, any other CR is.  A
 * line of more than max bytes is too long, and the reader says so at the
 * line's byte max + 1 (at byte max + 2 if that one is a CR, which an LF
 * could still end), however the input is split: so it never keeps more
 * than max + 1 bytes.  It allocates only for a line split between two
 * feeds, as much as that line needs.  chat_line.c.
 */
struct chat_line_reader {
	size_t		 max;		/* max_line_length */
	char		*buf;		/* a line begun in an earlier feed */
	size_t		 have;
	size_t		 cap;		/* at most max + 1 */
	int		 skip;		/* to the LF of a line too long */
	size_t		 skipped;	/* bytes of that line so far */
	/* CHAT_LINE_LINE: the line, without its LF or CRLF */
	const char	*ev_line;
	size_t		 ev_len;
};

#define CHAT_LINE_AGAIN		0	/* all bytes used: need more */
#define CHAT_LINE_LINE		1	/* a line: r->ev_line, r->ev_len */
#define CHAT_LINE_TOOLONG	(-1)	/* a line over max bytes */
#define CHAT_LINE_NOMEM		(-2)	/* no memory to keep a split line */

/* Lines of up to max bytes (below SIZE_MAX - 1); allocates nothing. */
void		 chat_line_reader_init(struct chat_line_reader *, size_t);
/* Free what it holds; a zeroed reader is cleared already.  Idempotent. */
void		 chat_line_reader_clear(struct chat_line_reader *);
/*
 * Consume bytes of the len at buf, up to the end of the first line; *used
 * says how many.  Returns CHAT_LINE_AGAIN (all of buf used, no line
 * ended), CHAT_LINE_LINE (r->ev_line, r->ev_len bytes, no LF in them; call
 * again with the rest of buf), CHAT_LINE_TOOLONG (*used counts the bytes
 * up to the one that told; later feeds skip the rest of that line, to its
 * LF, counting its bytes in r->skipped), or CHAT_LINE_NOMEM (*used
 * counts only bytes skipped; the line begun is kept as it was).
 * r->ev_line points into buf (the line came whole in this feed) or into
 * the reader (it began in an earlier one): valid until the next feed or
 * clear, and, if into buf, while buf is.  Any process.
 */
int		 chat_line_reader_feed(struct chat_line_reader *, const char *,
		    size_t, size_t *);

/*
 * An event on the bus, from one worker (or the master) to all.  Decoded
 * strings point into the record: valid while it is.
 */
struct chat_env {
	enum chat_type	 type;		/* USER, PRIVATE, LOGIN, LOGOUT, RENAME, SYSTEM */
	struct chat_str	 room;
	struct chat_str	 from;		/* sender's name (old name for RENAME) */
	struct chat_str	 to;		/* PRIVATE: addressee; RENAME: new name */
	struct chat_str	 content;
	struct chat_str	 peer;		/* sender's ip:port */
	uint64_t	 ts;		/* ms since the epoch */
	uint64_t	 id;
	uint32_t	 worker;	/* origin */
	uint64_t	 conn;
	uint32_t	 to_worker;	/* PRIVATE: addressee */
	uint64_t	 to_conn;
	uint32_t	 kind;		/* origin's format: enum chat_fmt */
	uint64_t	 sid;		/* sender's session; 0: none */
	uint64_t	 to_sid;	/* PRIVATE: addressee's session */
};

int		 chat_env_encode(const struct chat_env *, struct buf *);
struct chat_dec	*chat_dec_new(void);
void		 chat_dec_free(struct chat_dec *);
int		 chat_env_decode(struct chat_dec *, const char *, size_t,
		    struct chat_env *);

/*
 * The rules for names and room names (chat_name.c), the same for every
 * protocol: 1 to CHAT_NAME_MAX bytes of UTF-8, without whitespace
 * (Unicode White_Space), control (C0, DEL, C1) or format (Unicode Cf)
 * characters; a user's name may not have the IP:PORT form of the names
 * the server gives anonymous users.  That a name is free (in any ASCII
 * case) is for the presence table to say.
 */
#define CHAT_NAME_MAX	32

enum chat_name_kind {
	CHAT_NAME_USER,		/* login, rename */
	CHAT_NAME_ROOM		/* join: may look like an address */
};

enum chat_name_err {
	CHAT_NAME_OK = 0,
	CHAT_NAME_EMPTY,
	CHAT_NAME_LONG,		/* more than CHAT_NAME_MAX bytes */
	CHAT_NAME_UTF8,		/* not valid UTF-8 */
	CHAT_NAME_SPACE,	/* whitespace: cp */
	CHAT_NAME_CONTROL,	/* a control character: cp */
	CHAT_NAME_FORMAT,	/* a format character: cp */
	CHAT_NAME_ADDRESS	/* the IP:PORT form of a default name */
};

/* Why a name was refused. */
struct chat_name_fault {
	enum chat_name_err	 err;
	enum chat_name_kind	 kind;
	uint32_t		 cp;	/* SPACE, CONTROL, FORMAT: which */
	size_t			 off;	/* its byte, from 0 */
	size_t			 len;	/* the name's, in bytes */
};

/*
 * Check the len bytes at p as a name of this kind.  Returns CHAT_NAME_OK,
 * or why not, in this order: its length, UTF-8, its first character that
 * is whitespace, a control or a format character, the IP:PORT form.  The
 * same in f->err, with the rest of *f for chat_name_why(); f may be NULL.
 * Any process.
 */
int		 chat_name_check(enum chat_name_kind, const char *, size_t,
		    struct chat_name_fault *);
/*
 * The reason for a client, one line without an end, such as "a name may
 * not contain whitespace (U+0020 at byte 3)", into buf (sz bytes, cut and
 * NUL-ended as snprintf does).  Returns what snprintf returns.  Any
 * process.
 */
int		 chat_name_why(const struct chat_name_fault *, char *,
		    size_t);

#endif /* WSCHATD_CHAT_H */
