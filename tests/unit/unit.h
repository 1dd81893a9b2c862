/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * unit.h: what the criterion suites share: table sizes, literals with
 * their length, and a leak check that fails the suite.  Under criterion,
 * LeakSanitizer reports only after a test has passed and the exit status
 * stays 0, so each suite's .fini calls unit_leak_check() itself.
 */

#ifndef WSCHATD_UNIT_H
#define WSCHATD_UNIT_H

#include <stdlib.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_LSAN	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TEST_LSAN)
#define TEST_LSAN	1
#endif
#ifdef TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
/* A string literal and its length, NUL bytes inside included. */
#define LIT(s)		s, sizeof(s) - 1

/* A leak is a failure, not only a report after the test passed. */
static inline void
unit_leak_check(void)
{
#ifdef TEST_LSAN
	if (__lsan_do_recoverable_leak_check() != 0)
		abort();
#endif
}

#endif /* WSCHATD_UNIT_H */
