/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * bucket.c: a token bucket, the one rate limit of the daemon: chat
 * messages per connection (message_rate) and log lines about clients
 * (log_client_rate).  Tokens are counted in thousandths, so that a rate
 * of a few a second refills smoothly from millisecond clock readings.
 * Any process.
 */

#include "wschatd.h"

/* A full bucket of burst tokens at time now (ms, monotonic). */
void
bucket_init(struct bucket *b, unsigned burst, uint64_t now)
{
	b->tokens = (uint64_t)burst * 1000;
	b->last = now;
}

/*
 * Refill at rate tokens a second up to burst, then take one.  Returns 1 if
 * there was one to take, 0 if not.
 */
int
bucket_take(struct bucket *b, uint64_t now, unsigned rate, unsigned burst)
{
	uint64_t	 full = (uint64_t)burst * 1000;

	/* ms times tokens a second: thousandths of a token. */
	b->tokens += (now - b->last) * rate;
	if (b->tokens > full)
		b->tokens = full;
	b->last = now;
	if (b->tokens < 1000)
		return (0);
	b->tokens -= 1000;
	return (1);
}
