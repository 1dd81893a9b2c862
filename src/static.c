/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * static.c: find a static file below the web root without ever leaving
 * it, and the HTTP dates of its headers.  http_path_decode() has already
 * refused "..", encoded slashes and NULs; here realpath(3) resolves
 * symbolic links and the result must still lie below the root.
 * conn_http.c sends what is found.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wschatd.h"
#include "conn.h"

/*
 * Open the file for a decoded path ("/", "/dir/" mean their index.html).
 * Returns 200 with *fdp open and *st filled, 301 for a directory named
 * without its trailing slash, 404 or 403.  Worker process.
 */
int
static_open(const struct conn_http_site *w, const char *path, int *fdp,
    struct stat *st)
{
	char	 full[PATH_MAX], real[PATH_MAX];
	size_t	 plen = strlen(path);
	int	 n, fd;

	n = snprintf(full, sizeof(full), "%s%s%s", w->webroot_real, path,
	    path[plen - 1] == '/' ? "index.html" : "");
	if (n < 0 || (size_t)n >= sizeof(full))
		return (404);
	if (realpath(full, real) == NULL)
		return (errno == EACCES ? 403 : 404);
	/* Symbolic links may point anywhere: what they reach must be ours. */
	if (strncmp(real, w->webroot_real, w->webroot_len) != 0 ||
	    (real[w->webroot_len] != '/' && real[w->webroot_len] != '\0'))
		return (404);
	if ((fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return (errno == EACCES ? 403 : 404);
	if (fstat(fd, st) == -1) {
		close(fd);
		return (404);
	}
	if (S_ISDIR(st->st_mode)) {
		close(fd);
		return (path[plen - 1] == '/' ? 404 : 301);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return (404);
	}
	*fdp = fd;
	return (200);
}

const char *
static_http_date(time_t t, char *buf, size_t len)
{
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return (buf);
}

/* An IMF-fixdate (RFC 9110, 5.6.7); -1 for anything else. */
time_t
static_parse_date(const char *v, size_t len)
{
	char		 buf[64];
	struct tm	 tm;
	const char	*end;

	if (len >= sizeof(buf))
		return (-1);
	memcpy(buf, v, len);
	buf[len] = '\0';
	memset(&tm, 0, sizeof(tm));
	end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return (-1);
	return (timegm(&tm));
}
