/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_hash.c: shm_hash_siphash() against the reference vectors of the SipHash
 * paper and against OpenSSL's SipHash-2-4 (EVP_MAC "SIPHASH") for every
 * length up to 100 under random keys; the region draws a fresh key each
 * time.  Prints what a hash costs by hand and through EVP_MAC, the figures
 * behind shm_hash.c's choice (printed, never asserted).
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
/* EVP_MAC, for the comparisons, came with OpenSSL 3.0; wschatd needs 1.1. */
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#define TEST_HASH_EVP_MAC 1
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#endif

#include "shm.h"

/*
 * SipHash-2-4 of the messages 00, 00 01, 00 01 02, ... under the key
 * 00 01 .. 0f: the first vectors of the reference implementation's
 * vectors.h, and the paper's worked example (15 bytes, appendix A).
 */
static const uint64_t ref[] = {
	0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
	0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
	0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL,
	0x9e0082df0ba9e4b0ULL,
};

static void
test_hash_seq(uint8_t *buf, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)i;
}

Test(shm_hash, reference_vectors)
{
	uint8_t	 key[SHM_HASH_KEY_LEN], msg[16];
	size_t	 i;

	test_hash_seq(key, sizeof(key));
	test_hash_seq(msg, sizeof(msg));
	for (i = 0; i < sizeof(ref) / sizeof(ref[0]); i++)
		cr_expect_eq(shm_hash_siphash(key, msg, i), ref[i],
		    "length %zu: %016llx, expected %016llx", i,
		    (unsigned long long)shm_hash_siphash(key, msg, i),
		    (unsigned long long)ref[i]);
	cr_expect_eq(shm_hash_siphash(key, msg, 15), 0xa129ca6149be45e5ULL);
}

#ifdef TEST_HASH_EVP_MAC
/* OpenSSL's SipHash-2-4 with 8 bytes of output, as a little-endian word. */
static uint64_t
test_hash_openssl(EVP_MAC *mac, const uint8_t *key, const void *p,
    size_t len)
{
	EVP_MAC_CTX	*ctx;
	OSSL_PARAM	 params[2];
	size_t		 size = 8, outl = 0;
	uint8_t		 out[8];
	uint64_t	 v = 0;
	int		 i;

	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	cr_assert_not_null(ctx = EVP_MAC_CTX_new(mac));
	cr_assert_eq(EVP_MAC_init(ctx, key, SHM_HASH_KEY_LEN, params), 1);
	cr_assert_eq(EVP_MAC_update(ctx, p, len), 1);
	cr_assert_eq(EVP_MAC_final(ctx, out, &outl, sizeof(out)), 1);
	cr_assert_eq(outl, 8);
	EVP_MAC_CTX_free(ctx);
	for (i = 7; i >= 0; i--)
		v = v << 8 | out[i];
	return (v);
}

Test(shm_hash, agrees_with_openssl)
{
	EVP_MAC		*mac;
	uint8_t		 key[SHM_HASH_KEY_LEN], msg[100];
	size_t		 len;
	int		 round;

	cr_assert_not_null(mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL));
	for (round = 0; round < 20; round++) {
		cr_assert_eq(RAND_bytes(key, sizeof(key)), 1);
		cr_assert_eq(RAND_bytes(msg, sizeof(msg)), 1);
		for (len = 0; len <= sizeof(msg); len++)
			cr_expect_eq(shm_hash_siphash(key, msg, len),
			    test_hash_openssl(mac, key, msg, len),
			    "length %zu", len);
	}
	EVP_MAC_free(mac);
}

#endif

Test(shm_hash, every_region_has_its_own_key)
{
	struct shm_region	 a, b;

	cr_assert_eq(shm_region_open(&a, 1, 4096, 8), 0, "%s",
	    strerror(errno));
	cr_assert_eq(shm_region_open(&b, 1, 4096, 8), 0, "%s",
	    strerror(errno));
	cr_expect_neq(memcmp(a.hdr->sh_hashkey, b.hdr->sh_hashkey,
	    SHM_HASH_KEY_LEN), 0);
	/* Same name, other key: another hash (2^-64 to be wrong). */
	cr_expect_neq(shm_hash(&a, "alice", 5), shm_hash(&b, "alice", 5));
	cr_expect_eq(shm_hash(&a, "alice", 5),
	    shm_hash_siphash(a.hdr->sh_hashkey, "alice", 5));
	shm_region_close(&a);
	shm_region_close(&b);
}

#ifdef TEST_HASH_EVP_MAC
static double
test_hash_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

Test(shm_hash, cost_by_hand_and_through_evp_mac)
{
	EVP_MAC		*mac;
	EVP_MAC_CTX	*ctx;
	OSSL_PARAM	 params[2];
	size_t		 size = 8, outl;
	uint8_t		 out[8], key[SHM_HASH_KEY_LEN] = { 1, 2, 3 };
	const char	*name = "a-typical-name";
	volatile uint64_t sink = 0;
	double		 t0, hand, evp;
	int		 i, n = 200000;

	cr_assert_not_null(mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL));
	t0 = test_hash_now();
	for (i = 0; i < n; i++)
		sink += shm_hash_siphash(key, name, strlen(name));
	hand = (test_hash_now() - t0) / n * 1e9;
	/* The library at its best: one context, keyed again per message. */
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	cr_assert_not_null(ctx = EVP_MAC_CTX_new(mac));
	t0 = test_hash_now();
	for (i = 0; i < n; i++) {
		cr_assert_eq(EVP_MAC_init(ctx, key, sizeof(key), params), 1);
		cr_assert_eq(EVP_MAC_update(ctx, (const uint8_t *)name,
		    strlen(name)), 1);
		cr_assert_eq(EVP_MAC_final(ctx, out, &outl, sizeof(out)), 1);
		sink += out[0];
	}
	evp = (test_hash_now() - t0) / n * 1e9;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	cr_log_info("SipHash-2-4 of a 14-byte name: %.0f ns by hand, %.0f ns "
	    "through EVP_MAC (%.1fx)", hand, evp, evp / hand);
	fprintf(stderr, "shm_hash: SipHash-2-4 of a 14-byte name: %.0f ns by "
	    "hand, %.0f ns through EVP_MAC (%.1fx)\n", hand, evp, evp / hand);
	(void)sink;
}
#endif
