/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz.h: the one entry point every fuzz target defines.  Built two ways:
 * with clang and libFuzzer by scripts/fuzz.sh, and with replay.c's main()
 * by make check, which runs the seed corpus and every crash found so far.
 */

#ifndef WSCHATD_FUZZ_H
#define WSCHATD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Run one input; always returns 0.  Keeps nothing between calls. */
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A broken invariant: abort, so libFuzzer (or make check) reports it. */
#define FUZZ_ASSERT(x)	do {						\
	if (!(x))							\
		fuzz_fail(__FILE__, __LINE__, #x);			\
} while (0)

static inline void __attribute__((noreturn))
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, what);
	abort();
}

#endif /* WSCHATD_FUZZ_H */
