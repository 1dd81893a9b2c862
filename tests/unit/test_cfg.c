/*
 * Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
 *
 * test_cfg.c: settings, -o KEY=VALUE, configuration files and their
 * FILE:LINE errors, and cfg_read(): a file with the command line's
 * overrides over it.
 */

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wschatd.h"
#include "cfg.h"
#include "unit.h"

static struct cfg	cfg;

static void
cfg_setup(void)
{
	cfg_init(&cfg);
}

static void
cfg_teardown(void)
{
	cfg_clear(&cfg);
}

TestSuite(cfg, .init = cfg_setup, .fini = cfg_teardown);

static int
parse(const char *text, char **cause)
{
	return (cfg_parse(&cfg, "test.conf", text, strlen(text), cause));
}

Test(cfg, has_documented_defaults)
{
	cr_assert_eq(cfg.workers, 0);
	cr_assert_str_eq(cfg.listen.text, "127.0.0.1:8080");
	cr_assert_str_eq(cfg.line_listen.text, "127.0.0.1:8888");
	cr_assert_eq(cfg.echo, 1);
	cr_assert_null(cfg.allowed_origins);
	cr_assert_eq(cfg.max_message_size, 1 << 20);
	cr_assert_eq(cfg.max_header_size, 8192);
	cr_assert_eq(cfg.max_request_line, 4096);
	cr_assert_eq(cfg.max_headers, 64);
	cr_assert_eq(cfg.ping_interval, 54);
	cr_assert_eq(cfg.pong_timeout, 60);
	cr_assert_eq(cfg_check(&cfg, NULL), 0);
}

Test(cfg, sets_sizes_with_suffixes)
{
	cr_assert_eq(cfg_set(&cfg, "max_message_size", "16m", NULL), 0);
	cr_assert_eq(cfg.max_message_size, 16 << 20);
	cr_assert_eq(cfg_set_kv(&cfg, "max_message_size=16777216", NULL), 0);
	cr_assert_eq(cfg.max_message_size, 16777216);
	cr_assert_eq(cfg_set(&cfg, "max_header_size", "16K", NULL), 0);
	cr_assert_eq(cfg.max_header_size, 16384);
	cr_assert_eq(cfg_set(&cfg, "max_pending", "1g", NULL), 0);
	cr_assert_eq(cfg.max_pending, 1ULL << 30);
}

Test(cfg, sets_times_with_suffixes)
{
	cr_assert_eq(cfg_set(&cfg, "http_timeout", "2m", NULL), 0);
	cr_assert_eq(cfg.http_timeout, 120);
	cr_assert_eq(cfg_set(&cfg, "http_timeout", "7s", NULL), 0);
	cr_assert_eq(cfg.http_timeout, 7);
	cr_assert_eq(cfg_set(&cfg, "http_timeout", "1h", NULL), 0);
	cr_assert_eq(cfg.http_timeout, 3600);
}

Test(cfg, refuses_bad_numbers_and_ranges)
{
	char	*cause = NULL;

	cr_assert_eq(cfg_set(&cfg, "max_message_size", "abc", &cause), -1);
	cr_assert_not_null(strstr(cause, "max_message_size"));
	free(cause);
	cr_assert_eq(cfg_set(&cfg, "max_message_size", "2g", &cause), -1);
	cr_assert_not_null(strstr(cause, "out of range"));
	free(cause);
	cr_assert_eq(cfg_set(&cfg, "workers", "-1", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "workers", "65", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "workers", "4x", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "max_message_size", "10q", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "http_timeout", "5k", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "http_timeout", "", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "workers",
	    "99999999999999999999999", NULL), -1);
	/* Nothing changed on failure. */
	cr_assert_eq(cfg.workers, 0);
	cr_assert_eq(cfg.max_message_size, 1 << 20);
}

Test(cfg, refuses_unknown_keys)
{
	char	*cause = NULL;

	cr_assert_eq(cfg_set(&cfg, "no_such_key", "1", &cause), -1);
	cr_assert_not_null(strstr(cause, "no_such_key"));
	free(cause);
	cr_assert_eq(cfg_set_kv(&cfg, "no_such_key=1", NULL), -1);
	cr_assert_eq(cfg_set_kv(&cfg, "workers", NULL), -1);
	cr_assert_eq(cfg_set_kv(&cfg, "=3", NULL), -1);
}

Test(cfg, parses_booleans)
{
	cr_assert_eq(cfg_set(&cfg, "echo", "off", NULL), 0);
	cr_assert_eq(cfg.echo, 0);
	cr_assert_eq(cfg_set(&cfg, "echo", "yes", NULL), 0);
	cr_assert_eq(cfg.echo, 1);
	cr_assert_eq(cfg_set(&cfg, "echo", "0", NULL), 0);
	cr_assert_eq(cfg.echo, 0);
	cr_assert_eq(cfg_set(&cfg, "echo", "maybe", NULL), -1);
}

Test(cfg, parses_addresses)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&cfg.listen.ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&cfg.listen.ss;

	cr_assert_eq(cfg_set(&cfg, "listen", "127.0.0.2:9000", NULL), 0);
	cr_assert_eq(sin->sin_family, AF_INET);
	cr_assert_eq(ntohs(sin->sin_port), 9000);
	cr_assert_eq(ntohl(sin->sin_addr.s_addr), 0x7f000002);
	cr_assert_eq(cfg_set(&cfg, "listen", "*:80", NULL), 0);
	cr_assert_eq(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	cr_assert_eq(cfg_set(&cfg, "listen", "8081", NULL), 0);
	cr_assert_eq(ntohs(sin->sin_port), 8081);
	cr_assert_eq(cfg_set(&cfg, "listen", "[::1]:8080", NULL), 0);
	cr_assert_eq(sin6->sin6_family, AF_INET6);
	cr_assert_eq(ntohs(sin6->sin6_port), 8080);
	cr_assert_eq(cfg_set(&cfg, "listen", "127.0.0.1:0", NULL), 0);
	cr_assert_eq(cfg_set(&cfg, "line_listen", "off", NULL), 0);
	cr_assert_eq(cfg.line_listen.off, 1);

	cr_assert_eq(cfg_set(&cfg, "listen", "127.0.0.1:65536", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "listen", "localhost:80", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "listen", "[::1]80", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "listen", "1.2.3.4:", NULL), -1);
	cr_assert_eq(cfg_set(&cfg, "listen", "[::1:80", NULL), -1);
}

Test(cfg, parses_a_file_with_comments_and_quotes)
{
	const char	*text =
	    "# wschatd.conf\n"
	    "\n"
	    "workers 3   # three\n"
	    "  listen\t127.0.0.1:9090\n"
	    "allowed_origins \"https://a.example https://b.example\"\n"
	    "webroot /srv/www#not-a-comment\n"
	    "max_message_size 2m\r\n";
	char		*cause = NULL;

	cr_assert_eq(parse(text, &cause), 0, "%s", cause ? cause : "");
	cr_assert_eq(cfg.workers, 3);
	cr_assert_str_eq(cfg.listen.text, "127.0.0.1:9090");
	cr_assert_str_eq(cfg.allowed_origins,
	    "https://a.example https://b.example");
	cr_assert_str_eq(cfg.webroot, "/srv/www#not-a-comment");
	cr_assert_eq(cfg.max_message_size, 2 << 20);
}

Test(cfg, reports_file_and_line)
{
	char	*cause = NULL;

	cr_assert_eq(parse("workers 2\n\nbogus 1\n", &cause), -1);
	cr_assert_str_eq(cause, "test.conf:3: unknown setting \"bogus\"");
	free(cause);
	cause = NULL;
	cr_assert_eq(parse("workers\n", &cause), -1);
	cr_assert_str_eq(cause, "test.conf:1: workers: value missing");
	free(cause);
	cause = NULL;
	cr_assert_eq(parse("# c\nmax_headers 1000\n", &cause), -1);
	cr_assert_not_null(strstr(cause, "test.conf:2: max_headers"));
	free(cause);
}

Test(cfg, reports_every_bad_line)
{
	char	*cause = NULL;
	char	 text[2048];
	size_t	 i;

	cr_assert_eq(parse("bogus 1\nworkers 2\nlog_level loud\necho\n",
	    &cause), -1);
	cr_assert_str_eq(cause, "test.conf:1: unknown setting \"bogus\"\n"
	    "test.conf:3: log_level: \"loud\": not error, warning, info or "
	    "debug\ntest.conf:4: echo: value missing");
	free(cause);
	cause = NULL;
	/* A file of nothing but errors: the first 20, then a count. */
	text[0] = '\0';
	for (i = 0; i < 25; i++)
		strcat(text, "x 1\n");
	cr_assert_eq(parse(text, &cause), -1);
	cr_assert_not_null(strstr(cause, "test.conf:20: unknown"));
	cr_assert_null(strstr(cause, "test.conf:21:"));
	cr_assert_not_null(strstr(cause, "test.conf: 5 more errors"));
	free(cause);
}

Test(cfg, empty_quotes_unset_a_string)
{
	cr_assert_eq(parse("allowed_origins \"x\"\nallowed_origins \"\"\n",
	    NULL), 0);
	cr_assert_null(cfg.allowed_origins);
}

Test(cfg, checks_settings_together)
{
	char	*cause = NULL;

	cfg_set(&cfg, "listen", "off", NULL);
	cfg_set(&cfg, "line_listen", "off", NULL);
	cr_assert_eq(cfg_check(&cfg, &cause), -1);
	free(cause);
	cfg_set(&cfg, "listen", "8080", NULL);
	cr_assert_eq(cfg_check(&cfg, NULL), 0);
	cfg_set(&cfg, "ping_interval", "60", NULL);
	cr_assert_eq(cfg_check(&cfg, NULL), -1);
	cfg_set(&cfg, "ping_interval", "0", NULL);
	cr_assert_eq(cfg_check(&cfg, NULL), 0);
	cfg_set(&cfg, "max_request_line", "16k", NULL);
	cr_assert_eq(cfg_check(&cfg, NULL), -1);
}

Test(cfg, loads_a_missing_file_with_an_error)
{
	char	*cause = NULL;

	cr_assert_eq(cfg_load(&cfg, "/nonexistent/wschatd.conf", &cause), -1);
	cr_assert_not_null(strstr(cause, "/nonexistent/wschatd.conf"));
	free(cause);
}

static int
net_match(const struct cfg_net *nets, size_t n, const char *addr)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		return (cfg_net_match(nets, n, (struct sockaddr *)&sin));
	}
	cr_assert_eq(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1, "%s", addr);
	sin6.sin6_family = AF_INET6;
	return (cfg_net_match(nets, n, (struct sockaddr *)&sin6));
}

Test(cfg, metrics_defaults_to_on_for_loopback)
{
	struct cfg_net	*nets;
	size_t		 n;

	cr_assert_eq(cfg.metrics, 1);
	cr_assert_str_eq(cfg.metrics_allow, "127.0.0.0/8 ::1");
	cr_assert_eq(cfg_net_parse(cfg.metrics_allow, &nets, &n, NULL), 0);
	cr_assert_eq(n, 2);
	cr_assert(net_match(nets, n, "127.0.0.1"));
	cr_assert(net_match(nets, n, "127.255.1.2"));
	cr_assert(net_match(nets, n, "::1"));
	cr_assert(net_match(nets, n, "::ffff:127.0.0.1"), "v4-mapped");
	cr_assert_not(net_match(nets, n, "128.0.0.1"));
	cr_assert_not(net_match(nets, n, "10.0.0.1"));
	cr_assert_not(net_match(nets, n, "::2"));
	cr_assert_not(net_match(nets, n, "::ffff:10.0.0.1"));
	free(nets);
	/* "" lets anyone in: no list at all. */
	cr_assert_eq(cfg_set(&cfg, "metrics_allow", "", NULL), 0);
	cr_assert_null(cfg.metrics_allow);
	cr_assert_eq(cfg_check(&cfg, NULL), 0);
}

Test(cfg, metrics_allow_takes_prefixes_of_any_length)
{
	struct cfg_net	*nets;
	size_t		 n;

	cr_assert_eq(cfg_net_parse(" 10.1.2.3/12,192.168.7.9\tfd00::/7 "
	    "2001:db8::1/128 0.0.0.0/0", &nets, &n, NULL), 0);
	cr_assert_eq(n, 5);
	/* Host bits past the prefix are dropped: 10.1.2.3/12 is 10.0/12. */
	cr_assert_eq(nets[0].bits, 12);
	cr_assert_eq(nets[0].addr[1], 0);
	cr_assert(net_match(nets, 1, "10.15.255.255"));
	cr_assert_not(net_match(nets, 1, "10.16.0.0"));
	cr_assert(net_match(nets + 1, 1, "192.168.7.9"));
	cr_assert_not(net_match(nets + 1, 1, "192.168.7.8"));
	cr_assert(net_match(nets + 2, 1, "fdff::1"));
	cr_assert(net_match(nets + 2, 1, "fc00::1"));
	cr_assert_not(net_match(nets + 2, 1, "fe00::1"));
	cr_assert(net_match(nets + 3, 1, "2001:db8::1"));
	cr_assert_not(net_match(nets + 3, 1, "2001:db8::2"));
	cr_assert(net_match(nets + 4, 1, "203.0.113.5"), "/0 is everyone");
	cr_assert_not(net_match(nets + 4, 1, "2001:db8::2"), "of IPv4");
	cr_assert(net_match(nets, n, "192.168.7.9"));
	free(nets);
}

Test(cfg, metrics_allow_names_the_bad_entry)
{
	static const char *const bad[] = { "10.0.0.0/33", "::1/129",
	    "localhost", "10.0.0.0/", "10.0.0.0/8x", "10.0.0/8", "1.2.3.4/-1",
	    "127.0.0.1 [::1]", "ok,,," };
	struct cfg_net	*nets = NULL;
	char		*cause = NULL;
	size_t		 i, n = 9;

	for (i = 0; i < NITEMS(bad); i++) {
		cr_assert_eq(cfg_net_parse(bad[i], &nets, &n, &cause), -1,
		    "%s accepted", bad[i]);
		cr_assert_null(nets);
		cr_assert_eq(n, 0);
		cr_assert_not_null(strstr(cause, "metrics_allow: bad entry"),
		    "%s", cause);
		free(cause);
	}
	cr_assert_eq(cfg_net_parse("127.0.0.1 [::1]", &nets, &n, &cause), -1);
	cr_assert_not_null(strstr(cause, "\"[::1]\""), "%s", cause);
	free(cause);
	cr_assert_eq(cfg_net_parse(" , ", &nets, &n, &cause), -1);
	cr_assert_not_null(strstr(cause, "no address"), "%s", cause);
	free(cause);
	/* At configuration time, through cfg_check(). */
	cr_assert_eq(cfg_set(&cfg, "metrics_allow", "127.0.0.1 10.0.0.0/40",
	    NULL), 0);
	cr_assert_eq(cfg_check(&cfg, &cause), -1);
	cr_assert_not_null(strstr(cause, "\"10.0.0.0/40\""), "%s", cause);
	free(cause);
	cr_assert_eq(cfg_set(&cfg, "metrics", "off", NULL), 0);
	cr_assert_eq(cfg.metrics, 0);
}

/*
 * cfg_read() wants a web root that is a directory: a fresh one a test,
 * with the file in it.  The suite's cfg is cleared first, as cfg_read()
 * overwrites it.
 */
static char	conf_dir[64];
static char	conf_file[96];

static void
conf_write(const char *text)
{
	FILE	*f;

	if (conf_dir[0] == '\0') {
		strcpy(conf_dir, "/tmp/test_cfg.XXXXXX");
		cr_assert_not_null(mkdtemp(conf_dir));
		snprintf(conf_file, sizeof(conf_file), "%s/wschatd.conf",
		    conf_dir);
	}
	cr_assert_not_null(f = fopen(conf_file, "w"));
	fprintf(f, "webroot %s\n%s", conf_dir, text);
	cr_assert_eq(fclose(f), 0);
}

static void
conf_remove(void)
{
	if (conf_dir[0] == '\0')
		return;
	unlink(conf_file);
	rmdir(conf_dir);
}

static int
conf_read(const char *file, const struct cfg_override *ov, size_t n,
    char **cause)
{
	cfg_clear(&cfg);
	return (cfg_read(&cfg, file, ov, n, cause));
}

Test(cfg, read_applies_overrides_over_the_file_in_their_order,
    .fini = conf_remove)
{
	/* wschatd -w 3 -o workers=5 -o listen=... -l ... -L off */
	const struct cfg_override	 ov[] = {
		{ "workers", "3" },
		{ NULL, "workers=5" },
		{ NULL, "listen=127.0.0.1:9101" },
		{ "listen", "127.0.0.1:9201" },
		{ "line_listen", "off" },
	};
	char				*cause = NULL;

	conf_write("workers 2\nlisten 127.0.0.1:9001\n"
	    "line_listen 127.0.0.1:9002\nidle_timeout 1m\n");
	cr_assert_eq(conf_read(conf_file, ov, NITEMS(ov), &cause), 0, "%s",
	    cause);
	cr_assert_eq(cfg.workers, 5);
	cr_assert_str_eq(cfg.listen.text, "127.0.0.1:9201");
	cr_assert(cfg.line_listen.off);
	cr_assert_eq(cfg.idle_timeout, 60, "the file's, not overridden");
	cr_assert_str_eq(cfg.webroot, conf_dir);
	cr_assert_str_eq(cfg.conffile, conf_file);
	cr_assert_eq(cfg.uid, (uid_t)-1);
	cr_assert_eq(cfg.gid, (gid_t)-1);
}

Test(cfg, read_again_takes_the_new_file_and_the_same_overrides,
    .fini = conf_remove)
{
	const struct cfg_override	 ov[] = { { "workers", "3" } };
	char				*cause = NULL;

	conf_write("workers 2\nidle_timeout 1m\n");
	cr_assert_eq(conf_read(conf_file, ov, NITEMS(ov), &cause), 0, "%s",
	    cause);
	conf_write("workers 7\nidle_timeout 90\n");
	cr_assert_eq(conf_read(conf_file, ov, NITEMS(ov), &cause), 0, "%s",
	    cause);
	cr_assert_eq(cfg.workers, 3);
	cr_assert_eq(cfg.idle_timeout, 90);
}

Test(cfg, foreground_keeps_only_a_pidfile_that_was_set,
    .fini = conf_remove)
{
	const struct cfg_override	 ov[] = { { NULL, "pidfile=/b.pid" } };
	const struct cfg_override	 none[] = { { NULL, "pidfile=" } };
	char				*cause = NULL;

	/* The built-in pidfile is the daemon's: -f takes none. */
	conf_write("workers 2\n");
	cr_assert_eq(conf_read(conf_file, NULL, 0, &cause), 0, "%s", cause);
	cr_assert_not_null(cfg.pidfile);
	cfg_foreground(&cfg, 0);
	cr_assert_not_null(cfg.pidfile, "a daemon keeps the default");
	cr_assert_eq(conf_read(conf_file, NULL, 0, &cause), 0, "%s", cause);
	cfg_foreground(&cfg, 1);
	cr_assert_null(cfg.pidfile);
	cr_assert_eq(cfg.foreground, 1);
	/* Set in the file, or on the command line: kept. */
	conf_write("pidfile /a.pid\n");
	cr_assert_eq(conf_read(conf_file, NULL, 0, &cause), 0, "%s", cause);
	cfg_foreground(&cfg, 1);
	cr_assert_str_eq(cfg.pidfile, "/a.pid");
	cr_assert_eq(conf_read(conf_file, ov, NITEMS(ov), &cause), 0, "%s",
	    cause);
	cfg_foreground(&cfg, 1);
	cr_assert_str_eq(cfg.pidfile, "/b.pid");
	conf_write("workers 2\n");
	cr_assert_eq(conf_read(conf_file, none, NITEMS(none), &cause), 0,
	    "%s", cause);
	cfg_foreground(&cfg, 0);
	cr_assert_null(cfg.pidfile, "set to none");
}

Test(cfg, read_reports_the_override_that_fails, .fini = conf_remove)
{
	static const struct {
		struct cfg_override	 ov;
		const char		*cause;
	} bad[] = {
		{ { "workers", "lots" }, "workers: bad number \"lots\"" },
		{ { "workers", "1000" },
		    "workers: 1000 is out of range (0 to 64)" },
		{ { NULL, "workers" }, "\"workers\": KEY=VALUE expected" },
		{ { NULL, "bogus=1" }, "unknown setting in \"bogus=1\"" },
		{ { NULL, "log_level=loud" }, "log_level: \"loud\": not "
		    "error, warning, info or debug" },
		{ { NULL, "webroot=/nonexistent/www" },
		    "webroot /nonexistent/www: No such file or directory" },
		{ { NULL, "user=nosuchuser-wschatd" },
		    "user nosuchuser-wschatd: no such user" },
	};
	struct cfg_override	 ov[2] = { { "workers", "2" } };
	char			*cause = NULL;
	size_t			 i;

	conf_write("workers 4\n");
	for (i = 0; i < NITEMS(bad); i++) {
		ov[1] = bad[i].ov;
		cr_assert_eq(conf_read(conf_file, ov, NITEMS(ov), &cause), -1,
		    "%s accepted", ov[1].value);
		cr_assert_str_eq(cause, bad[i].cause);
		free(cause);
		cause = NULL;
	}
	/* Settings are checked together once the last override is in. */
	ov[0].key = "listen";
	ov[0].value = "off";
	ov[1].key = NULL;
	ov[1].value = "line_listen=off";
	cr_assert_eq(conf_read(conf_file, ov, NITEMS(ov), &cause), -1);
	cr_assert_str_eq(cause, "listen and line_listen are both off: "
	    "nothing to serve");
	free(cause);
}

Test(cfg, read_reports_the_file_before_the_overrides, .fini = conf_remove)
{
	const struct cfg_override	 ov[] = { { "workers", "lots" } };
	char				*cause = NULL;
	char				 want[160];

	conf_write("workers 2\nbogus 1\n");
	cr_assert_eq(conf_read(conf_file, ov, NITEMS(ov), &cause), -1);
	snprintf(want, sizeof(want), "%s:3: unknown setting \"bogus\"",
	    conf_file);
	cr_assert_str_eq(cause, want);
	free(cause);
	cause = NULL;
	cr_assert_eq(conf_read("/nonexistent/wschatd.conf", NULL, 0, &cause),
	    -1);
	cr_assert_str_eq(cause,
	    "/nonexistent/wschatd.conf: No such file or directory");
	free(cause);
}

Test(cfg, read_without_a_file_takes_defaults_and_overrides,
    .fini = conf_remove)
{
	struct cfg_override	 ov[] = {
		{ NULL, NULL },		/* "webroot=DIR", below */
		{ "listen", "127.0.0.1:9301" },
	};
	char			 webroot[96];
	char			*cause = NULL;

	/* NULL names the default file, if there is one: not here. */
	if (access(WSCHATD_CONFFILE, F_OK) == 0)
		cr_skip_test("%s exists", WSCHATD_CONFFILE);
	conf_write("");
	snprintf(webroot, sizeof(webroot), "webroot=%s", conf_dir);
	ov[0].value = webroot;
	cr_assert_eq(conf_read(NULL, ov, NITEMS(ov), &cause), 0, "%s", cause);
	cr_assert_null(cfg.conffile);
	cr_assert_str_eq(cfg.listen.text, "127.0.0.1:9301");
	cr_assert_str_eq(cfg.line_listen.text, "127.0.0.1:8888");
	/* workers 0, the default, is the number of CPUs. */
	cr_assert_geq(cfg.workers, 1);
	cr_assert_leq(cfg.workers, WSCHATD_MAX_WORKERS);
}
