/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_metrics.c: the text of /metrics, formatted from a hand-filled
 * shared region and read back line by line as Prometheus text.
 */

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "metrics.h"
#include "shm.h"
#include "unit.h"

/*
 * Samples without a worker label: build_info, workers, users_online,
 * reloads_total, worker_respawns_total, and the history process's 9.
 */
#define METRICS_GLOBAL	14

static struct shm_region	 reg;

static void
metrics_setup(void)
{
	cr_assert_eq(shm_region_open(&reg, 3, 4096, 16), 0);
}

static void
metrics_teardown(void)
{
	shm_region_close(&reg);
	unit_leak_check();
}

TestSuite(metrics, .init = metrics_setup, .fini = metrics_teardown);

static char *
format(size_t *lenp)
{
	char	*text;

	text = metrics_format(&reg, lenp);
	cr_assert_not_null(text);
	cr_assert_eq(strlen(text), *lenp);
	return (text);
}

/*
 * Check text as the Prometheus text format 0.0.4 wants it, the way a
 * scraper reads it: every line a comment or a sample; each family has
 * HELP, then TYPE, then its samples, and appears once; counters and only
 * counters end in _total.  Returns the number of samples.
 */
static unsigned
check_exposition(const char *text)
{
	regex_t		 sample, help, type;
	regmatch_t	 m[2];
	char		 family[128] = "", seen[8192] = " ", *copy, *line,
			*save, key[132];
	int		 typed = 0;
	unsigned	 nsamples = 0;

	cr_assert_eq(regcomp(&sample, "^([a-z_]+)(\\{[a-z_]+=\"[^\"]*\""
	    "(,[a-z_]+=\"[^\"]*\")*\\})? [0-9.e+-]+$", REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&help, "^# HELP ([a-z_]+) [^ ].*$",
	    REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&type, "^# TYPE ([a-z_]+) (counter|gauge)$",
	    REG_EXTENDED), 0);
	cr_assert(text[0] != '\0' && text[strlen(text) - 1] == '\n',
	    "the text must end with a newline");
	copy = strdup(text);
	cr_assert_not_null(copy);
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (regexec(&help, line, 2, m, 0) == 0) {
			snprintf(family, sizeof(family), "%.*s",
			    (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			snprintf(key, sizeof(key), " %s ", family);
			cr_assert_null(strstr(seen, key),
			    "family %s twice", family);
			cr_assert_lt(strlen(seen) + strlen(key), sizeof(seen));
			strcat(seen, key + 1);
			typed = 0;
		} else if (regexec(&type, line, 2, m, 0) == 0) {
			cr_assert_eq(strncmp(line + 7, family,
			    strlen(family)), 0, "TYPE without its HELP: %s",
			    line);
			cr_assert_eq(line[7 + strlen(family)], ' ', "%s", line);
			cr_assert_not(typed, "two TYPEs: %s", line);
			/* Counters are named _total, gauges are not. */
			cr_assert_eq(strstr(line, " counter") != NULL,
			    strlen(family) > 6 && strcmp(family +
			    strlen(family) - 6, "_total") == 0, "%s", line);
			typed = 1;
		} else if (regexec(&sample, line, 2, m, 0) == 0) {
			cr_assert(typed, "sample before HELP and TYPE: %s",
			    line);
			cr_assert(m[1].rm_eo - m[1].rm_so ==
			    (regoff_t)strlen(family) && strncmp(line, family,
			    strlen(family)) == 0,
			    "sample %s under family %s", line, family);
			nsamples++;
		} else
			cr_assert_fail("not Prometheus text: \"%s\"", line);
	}
	free(copy);
	regfree(&sample);
	regfree(&help);
	regfree(&type);
	return (nsamples);
}

static void
fill(unsigned i, uint32_t pid, uint64_t base)
{
	struct shm_stats	*st = shm_region_stats(&reg, i);
	_Atomic uint64_t	*w = &st->st_pid;
	size_t			 k;

	shm_stats_attach(st, pid, 1700000000 + i);
	/* Every counter a different value: a mix-up shows. */
	for (k = 2; k < SHM_ST_WORDS; k++)
		shm_stat_add(&w[k], base + k);
}

Test(metrics, output_parses_as_prometheus_text)
{
	char	*text;
	size_t	 len;

	fill(0, 100, 1000);
	fill(2, 102, 3000);
	text = format(&len);
	cr_assert_gt(check_exposition(text), 40);
	free(text);
}

Test(metrics, every_live_worker_is_labelled_with_its_figures)
{
	struct shm_stats	*st;
	char			*text, want[80];
	size_t			 len;

	fill(0, 100, 1000);
	fill(1, 101, 2000);
	fill(2, 102, 3000);
	/* Worker 1 was reaped; the last block is the master's ring's. */
	atomic_store(&shm_region_stats(&reg, 1)->st_pid, 0);
	fill(3, 103, 4000);
	atomic_store(&reg.hdr->sh_users, 5);
	st = shm_region_stats(&reg, 2);
	atomic_store(&st->st_bus_read, 12345);
	atomic_store(&st->st_conns[SHM_ST_CONN_LINE], 3);
	atomic_store(&st->st_http[3], 44);
	atomic_store(&st->st_ws_errors[2], 9);
	atomic_store(&st->st_msgs_out[SHM_ST_MSG_LINE], 77);
	text = format(&len);
	check_exposition(text);
	cr_assert_not_null(strstr(text, "\nwschatd_workers 2\n"), "%s", text);
	cr_assert_not_null(strstr(text, "\nwschatd_users_online 5\n"));
	cr_assert_not_null(strstr(text, "wschatd_build_info{version=\""
	    WSCHATD_VERSION "\"} 1\n"));
	cr_assert_not_null(strstr(text,
	    "\nwschatd_bus_read_total{worker=\"2\"} 12345\n"), "%s", text);
	cr_assert_not_null(strstr(text,
	    "\nwschatd_connections{worker=\"2\",kind=\"line\"} 3\n"));
	cr_assert_not_null(strstr(text,
	    "\nwschatd_http_responses_total{worker=\"2\",code=\"4xx\"} 44\n"));
	cr_assert_not_null(strstr(text, "\nwschatd_websocket_protocol_errors"
	    "_total{worker=\"2\",code=\"1009\"} 9\n"));
	cr_assert_not_null(strstr(text, "\nwschatd_messages_sent_total"
	    "{worker=\"2\",protocol=\"line\"} 77\n"));
	cr_assert_not_null(strstr(text, "\nwschatd_worker_start_time_seconds"
	    "{worker=\"0\"} 1700000000\n"));
	/* Worker 0's own figures, not worker 2's (fill(): base + word). */
	snprintf(want, sizeof(want), "\nwschatd_bus_lag_bytes{worker=\"0\"} "
	    "%zu\n", 1000 + offsetof(struct shm_stats, st_bus_lag) / 8);
	cr_assert_not_null(strstr(text, want), "%s", text);
	cr_assert_null(strstr(text, "worker=\"1\""), "a reaped worker shows");
	cr_assert_null(strstr(text, "worker=\"3\""), "the master's block shows");
	free(text);
}

Test(metrics, no_live_worker_still_declares_every_family)
{
	char	*text;
	size_t	 len;

	text = format(&len);
	cr_assert_eq(check_exposition(text), METRICS_GLOBAL, "%s", text);
	cr_assert_not_null(strstr(text, "\nwschatd_workers 0\n"));
	cr_assert_not_null(strstr(text, "# TYPE wschatd_bus_lag_bytes gauge\n"));
	free(text);
}

Test(metrics, many_workers_outgrow_the_first_buffer)
{
	struct shm_region	 big;
	char			*text, want[80];
	size_t			 len;
	unsigned		 i;

	cr_assert_eq(shm_region_open(&big, 64, 4096, 16), 0);
	for (i = 0; i < 64; i++)
		shm_stats_attach(shm_region_stats(&big, i), 1000 + i, 1);
	text = metrics_format(&big, &len);
	cr_assert_not_null(text);
	cr_assert_gt(len, 8192);
	cr_assert_eq(check_exposition(text), METRICS_GLOBAL +
	    64 * (SHM_ST_WORDS - 1));
	snprintf(want, sizeof(want),
	    "\nwschatd_bus_lag_bytes{worker=\"63\"} 0\n");
	cr_assert_not_null(strstr(text, want));
	free(text);
	shm_region_close(&big);
}
