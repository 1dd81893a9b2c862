#!/bin/sh
# Install what wschatd needs to build and test on Debian 12 (wschat's
# line editing is libedit's; io_uring writes are liburing's).  The man page
# test lints with groff and mandoc; the init-script test uses dpkg's
# start-stop-daemon and sysvinit-utils' /lib/lsb/init-functions, both
# essential packages.  The chat page's browser test drives Debian's
# chromium with playwright-core from npm (tests/e2e/test_browser.py runs
# npm ci); a Node.js that already brings its own npm (NodeSource's nodejs
# conflicts with Debian's npm package) is left as it is.  scripts/fuzz.sh
# builds the fuzz targets with clang and libFuzzer (libclang-rt-14-dev).
# The history store is SQLite (libsqlite3-dev); the sqlite3 command line
# backs it up while the daemon runs, and the tests look into it.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake pkg-config \
	libevent-dev libmsgpack-dev libssl-dev libjansson-dev libcriterion-dev \
	libedit-dev liburing-dev libsqlite3-dev sqlite3 \
	python3 python3-websockets python3-msgpack tmux valgrind \
	groff-base mandoc chromium fonts-dejavu-core \
	clang libclang-rt-14-dev >/dev/null
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	$SUDO apt-get install -y -qq --no-install-recommends nodejs npm \
	    >/dev/null
fi
