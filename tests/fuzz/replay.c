/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * replay.c: a main() for a fuzz target without libFuzzer.  Runs every file
 * named on the command line, or in the directories named, through
 * LLVMFuzzerTestOneInput(), in a buffer of exactly the file's size so that
 * ASan sees a read past its end.  With no arguments it runs the target's
 * seed corpus and crash regressions, tests/fuzz/{corpus,regressions}/NAME
 * under FUZZ_SRCDIR: so make check keeps every crash ever found a test.
 * Prints "N passed, 0 failed"; a failing input aborts the program.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int
replay_file(const char *path, unsigned *n)
{
	FILE		*f;
	uint8_t		*buf;
	struct stat	 st;
	size_t		 len;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) == -1) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return (-1);
	}
	len = (size_t)st.st_size;
	/* malloc(0) may return NULL: keep one byte, pass len 0. */
	if ((buf = malloc(len > 0 ? len : 1)) == NULL ||
	    fread(buf, 1, len, f) != len) {
		fprintf(stderr, "%s: read failed\n", path);
		free(buf);
		fclose(f);
		return (-1);
	}
	fclose(f);
	fprintf(stderr, "%s\n", path);
	(void)LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	(*n)++;
	return (0);
}

/* Run path, a file or a directory of files; a missing one is empty. */
static int
replay_path(const char *path, int must_exist, unsigned *n)
{
	struct dirent	 *de;
	struct stat	  st;
	DIR		 *d;
	char		  sub[4096];
	int		  rv = 0;

	if (stat(path, &st) == -1) {
		if (!must_exist && errno == ENOENT)
			return (0);
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return (-1);
	}
	if (!S_ISDIR(st.st_mode))
		return (replay_file(path, n));
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		/* Dot files (.gitkeep) and READMEs are not inputs. */
		if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
		    de->d_name) >= sizeof(sub) ||
		    replay_path(sub, 1, n) == -1)
			rv = -1;
	}
	closedir(d);
	return (rv);
}

int
main(int argc, char **argv)
{
	unsigned	 n = 0;
	int		 i, rv = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i], 1, &n) == -1)
				rv = 1;
	} else {
#if defined(FUZZ_SRCDIR) && defined(FUZZ_NAME)
		if (replay_path(FUZZ_SRCDIR "/tests/fuzz/corpus/" FUZZ_NAME,
		    1, &n) == -1 ||
		    replay_path(FUZZ_SRCDIR "/tests/fuzz/regressions/"
		    FUZZ_NAME, 0, &n) == -1)
			rv = 1;
#else
		fprintf(stderr, "usage: %s file-or-directory ...\n", argv[0]);
		return (2);
#endif
	}
	if (n == 0 && rv == 0) {
		fprintf(stderr, "no inputs\n");
		rv = 1;
	}
	printf("%u passed, %d failed\n", rv == 0 ? n : 0, rv);
	return (rv);
}
