/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * chat.h: the chat protocol's messages as data, and their codecs: client
 * commands from JSON (jansson) or MessagePack, messages to clients in JSON
 * or MessagePack, and the bus envelope that carries an event between
 * workers (MessagePack).  Pure functions over (buf, len): no sockets, no
 * libevent; hub.c decides what to send to whom.
 */

#ifndef WSCHATD_CHAT_H
#define WSCHATD_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

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
	CHAT_JOIN,
	CHAT_LEAVE,
	CHAT_UNKNOWN		/* an object with a type we do not know */
};

struct chat_str {
	const char	*p;
	size_t		 len;
};

#define CHAT_STR(s)	((struct chat_str){ (s), sizeof(s) - 1 })

/*
 * A client's command.  Its strings point into the parsed input or into
 * cmd->priv (a jansson value): valid until chat_cmd_clear().
 */
struct chat_cmd {
	enum chat_type	 type;
	struct chat_str	 type_text;	/* as sent, for unknown types */
	struct chat_str	 content;
	struct chat_str	 to;
	struct chat_str	 room;
	int		 has_content;
	void		*priv;
};

#define CHAT_PARSE_OK		0
#define CHAT_PARSE_NOT_OBJECT	1	/* not a JSON/MessagePack map: raw chat */
#define CHAT_PARSE_BAD		(-1)	/* a map, but malformed: bad_message */

int		 chat_cmd_parse_json(const char *, size_t, struct chat_cmd *);
int		 chat_cmd_parse_msgpack(const char *, size_t, struct chat_cmd *);
void		 chat_cmd_clear(struct chat_cmd *);
const char	*chat_type_name(enum chat_type);

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
};

/*
 * Encode msg for a client.  Both return a malloc'd buffer with
 * WS_HEADROOM free bytes, then *len bytes of payload, ready for
 * ws_out_wrap(); NULL on allocation failure.
 */
uint8_t		*chat_msg_json(const struct chat_msg *, size_t *);
uint8_t		*chat_msg_msgpack(const struct chat_msg *, size_t *);
/*
 * The same for the line protocol: one line ending in LF, like
 * "[ip:port]name: text", with CR and LF in the text turned into spaces.
 * Returns NULL if the type has no line form (handshake, who).
 */
uint8_t		*chat_msg_line(const struct chat_msg *, size_t *);

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
	uint32_t	 kind;		/* origin's protocol: CHAT_KIND_* */
};

#define CHAT_KIND_WS	1
#define CHAT_KIND_LINE	2

int		 chat_env_encode(const struct chat_env *, msgpack_sbuffer *);
int		 chat_env_decode(const char *, size_t, struct chat_env *,
		    msgpack_unpacked *);

/* Names and rooms: 1..32 bytes of UTF-8 without control characters. */
int		 chat_name_valid(const char *, size_t);

#endif /* WSCHATD_CHAT_H */
