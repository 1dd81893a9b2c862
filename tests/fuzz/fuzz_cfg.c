/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * fuzz_cfg.c: the configuration parser under a fuzzer.  Parses the input
 * as a wschatd.conf, then runs what wschatd -t runs on the result: the
 * cross-checks and the dump of every setting.
 */

#include <string.h>

#include "wschatd.h"
#include "cfg.h"
#include "fuzz.h"

static void
fuzz_cfg_line(const char *line, void *arg)
{
	size_t	*n = arg;

	*n += strlen(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg	 c;
	char		*cause = NULL;
	size_t		 n = 0;

	cfg_init(&c);
	if (cfg_parse(&c, "fuzz.conf", (const char *)data, size,
	    &cause) == -1) {
		FUZZ_ASSERT(cause != NULL);
		free(cause);
		cause = NULL;
	}
	if (cfg_check(&c, &cause) == -1) {
		FUZZ_ASSERT(cause != NULL);
		free(cause);
	}
	cfg_dump(&c, fuzz_cfg_line, &n);
	cfg_clear(&c);
	return (0);
}
