/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * conn_ip.c: connections per client address (max_connections_per_ip),
 * across all workers.  Each worker counts its own in a chained hash of
 * the addresses it holds connections from, and publishes the counts in
 * its table of the shared region (shm_ipc.c), where the others add them
 * up.  An IPv6
 * client is counted by its /64: one host usually has a whole /64 to pick
 * addresses from.  IPv4 (and IPv4-mapped IPv6) counts the address.
 */

#include <sys/socket.h>

#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "wschatd.h"
#include "conn.h"
#include "worker.h"

#define CONN_IP_BUCKETS	4096	/* power of two */

struct conn_ip {
	struct conn_ip	*next;
	unsigned	 count;
	unsigned	 shared;	/* of count, in the shared table */
	uint8_t		 key[16];
};

static void
conn_ip_key(const struct sockaddr *sa, uint8_t key[16])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		key[10] = key[11] = 0xff;	/* as ::ffff:a.b.c.d */
		memcpy(key + 12, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		memcpy(key, &sin6->sin6_addr, IN6_IS_ADDR_V4MAPPED(
		    &sin6->sin6_addr) ? 16 : 8);
	}
}

/* Keyed: a client with a block of addresses cannot aim at one bucket. */
static struct conn_ip **
conn_ip_bucket(struct worker *w, const uint8_t key[16])
{
	uint64_t	 h;

	h = shm_hash_siphash(w->reg->hdr->sh_hashkey, key, 16);
	return (&w->ips.buckets[h & (CONN_IP_BUCKETS - 1)]);
}

/*
 * Count one more connection from sa.  Returns its entry, or NULL with
 * *reason set: SHM_ST_REFUSED_PERIP if the address has
 * max_connections_per_ip on all workers together already,
 * SHM_ST_REFUSED_NOMEM if memory ran out.
 */
struct conn_ip *
conn_ip_get(struct worker *w, const struct sockaddr *sa, int *reason)
{
	const struct shm_region	*reg = w->reg;
	struct conn_ip		**b, *ip;
	uint8_t			 key[16];
	uint64_t		 here;

	*reason = SHM_ST_REFUSED_NOMEM;
	if (w->ips.buckets == NULL && (w->ips.buckets = calloc(CONN_IP_BUCKETS,
	    sizeof(*w->ips.buckets))) == NULL)
		return (NULL);
	conn_ip_key(sa, key);
	b = conn_ip_bucket(w, key);
	for (ip = *b; ip != NULL; ip = ip->next)
		if (memcmp(ip->key, key, sizeof(key)) == 0)
			break;
	here = ip != NULL ? ip->count : 0;
	if (here >= w->cfg->max_connections_per_ip ||
	    here + shm_ipc_count(reg, key, w->id) >=
	    w->cfg->max_connections_per_ip) {
		*reason = SHM_ST_REFUSED_PERIP;
		return (NULL);
	}
	if (ip == NULL) {
		if ((ip = calloc(1, sizeof(*ip))) == NULL)
			return (NULL);
		memcpy(ip->key, key, sizeof(key));
		ip->next = *b;
		*b = ip;
	}
	ip->count++;
	if (shm_ipc_add(reg, w->id, key) == SHM_OK)
		ip->shared++;
	else if (!w->ips.full_logged) {
		w->ips.full_logged = 1;
		log_warnx("connections from more than %u addresses: "
		    "max_connections_per_ip counts those from further ones "
		    "on this worker only", SHM_IPC_MAX);
	}
	return (ip);
}

/* One connection fewer from ip's address; the last one frees it. */
void
conn_ip_put(struct worker *w, struct conn_ip *ip)
{
	struct conn_ip	**pp;

	ip->count--;
	if (ip->shared > ip->count) {
		shm_ipc_del(w->reg, w->id, ip->key);
		ip->shared--;
	}
	if (ip->count > 0)
		return;
	for (pp = conn_ip_bucket(w, ip->key); *pp != ip; pp = &(*pp)->next)
		;
	*pp = ip->next;
	free(ip);
}


/* Free the table; the worker is exiting and its connections are gone. */
void
conn_ip_clear(struct worker *w)
{
	free(w->ips.buckets);
	w->ips.buckets = NULL;
}
