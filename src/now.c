/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * now.c: the time, in the units the rest of the daemon counts in.  The
 * monotonic clock for deadlines, timeouts and rates (wall-clock steps do
 * not move it); the real clock only for what users see (timestamps).
 * Any process.
 */

#include <time.h>

#include "wschatd.h"

/* Seconds on the monotonic clock. */
time_t
now_mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec);
}

/* Milliseconds on the monotonic clock. */
uint64_t
now_mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Milliseconds since the epoch: message timestamps. */
uint64_t
now_real_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}
