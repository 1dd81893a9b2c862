/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * shm_hash.c: SipHash-2-4 (Aumasson and Bernstein, 2012), the hash of the
 * presence table and of the workers' room maps, and the equality of names
 * that goes with it.
 *
 * Names and rooms are chosen by clients.  With an unkeyed hash a client
 * can pick thousands of names that share one probe sequence, and every
 * claim and lookup then walks all of them, for everyone, for as long as
 * the server runs (sh_maxprobe only grows).  A keyed hash, with a key
 * drawn by the master at start and kept in the shared header, leaves
 * nothing to aim at.
 *
 * By hand, not OpenSSL's EVP_MAC "SIPHASH": that one needs a context set
 * up with the key for every message (EVP_MAC_init), which costs several
 * times the hash itself for 1..32-byte names (shm/tests/test_hash.c
 * measures both, and prints the figures).
 *
 * Names are one name whatever their ASCII case (Alice is alice), so
 * shm_hash() hashes them with ASCII letters folded to lower case and
 * shm_hash_equal() compares them so; the table keeps each name as its
 * owner wrote it.  Only ASCII: folding the rest of Unicode needs tables
 * that differ between versions, and two processes, or two releases,
 * would then disagree on what is one name.  Room maps use the same hash
 * with an exact comparison: rooms that differ in case share a chain.
 */

#include <string.h>

#include "shm.h"

#define ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

/* An ASCII letter in lower case; any other byte as it is. */
static inline uint8_t
shm_hash_fold(uint8_t c)
{
	return (c >= 'A' && c <= 'Z' ? c | 0x20 : c);
}

static inline uint64_t
shm_hash_le64(const uint8_t *p, int fold)
{
	uint64_t	 m = 0;
	int		 i;

	if (!fold)
		return ((uint64_t)p[0] | (uint64_t)p[1] << 8 |
		    (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
		    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
		    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
	for (i = 7; i >= 0; i--)
		m = m << 8 | shm_hash_fold(p[i]);
	return (m);
}

/* SipHash-2-4 of data, with ASCII letters folded first if fold is set. */
static uint64_t
shm_hash_sip(const uint8_t key[SHM_HASH_KEY_LEN], const void *data,
    size_t len, int fold)
{
	const uint8_t	*p = data, *end = p + (len & ~(size_t)7);
	uint64_t	 k0 = shm_hash_le64(key, 0);
	uint64_t	 k1 = shm_hash_le64(key + 8, 0);
	uint64_t	 v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t	 v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t	 v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t	 v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t	 m, b = (uint64_t)len << 56;
	size_t		 i;

	for (; p != end; p += 8) {
		m = shm_hash_le64(p, fold);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < (len & 7); i++)
		b |= (uint64_t)(fold ? shm_hash_fold(p[i]) : p[i]) << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return (v0 ^ v1 ^ v2 ^ v3);
}

/*
 * SipHash-2-4 of len bytes at data with the 16-byte key (the reference
 * function: no folding).  Any process.
 */
uint64_t
shm_hash_siphash(const uint8_t key[SHM_HASH_KEY_LEN], const void *data,
    size_t len)
{
	return (shm_hash_sip(key, data, len, 0));
}

/*
 * A client-chosen name's hash, keyed by the region's key, with ASCII
 * letters folded to lower case: names that shm_hash_equal() finds equal
 * hash alike.  Any process.
 */
uint64_t
shm_hash(const struct shm_region *reg, const char *name, size_t len)
{
	return (shm_hash_sip(reg->hdr->sh_hashkey, name, len, 1));
}

/*
 * Names in order with ASCII letters folded to lower case, as
 * shm_hash_equal() compares them: <0, 0 or >0, like memcmp(3), a shorter
 * name before a longer one it starts.  Any process.
 */
int
shm_hash_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t	 i, n = alen < blen ? alen : blen;
	int	 d;

	for (i = 0; i < n; i++)
		if ((d = shm_hash_fold((uint8_t)a[i]) -
		    shm_hash_fold((uint8_t)b[i])) != 0)
			return (d);
	return ((alen > blen) - (alen < blen));
}

/*
 * Are the names a (alen bytes) and b (blen bytes) one name: the same
 * bytes once ASCII letters are folded to lower case?  Returns 1 or 0.
 * Any process.
 */
int
shm_hash_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t	 i;

	if (alen != blen)
		return (0);
	for (i = 0; i < alen; i++)
		if (shm_hash_fold((uint8_t)a[i]) !=
		    shm_hash_fold((uint8_t)b[i]))
			return (0);
	return (1);
}
