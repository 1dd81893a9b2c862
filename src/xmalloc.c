/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * xmalloc.c: allocators that end the process on failure, for startup and
 * configuration only.  Per-connection code checks malloc() itself and drops
 * that one connection instead.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wschatd.h"

void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n ? n : 1)) == NULL)
		fatal("%s: malloc %zu", __func__, n);
	return (p);
}

void *
xcalloc(size_t n, size_t sz)
{
	void	*p;

	if ((p = calloc(n ? n : 1, sz ? sz : 1)) == NULL)
		fatal("%s: calloc %zu x %zu", __func__, n, sz);
	return (p);
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("%s: strdup", __func__);
	return (p);
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("%s: vasprintf", __func__);
	return (n);
}
