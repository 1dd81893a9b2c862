#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# lib.sh: shell functions shared by the benchmark scripts next to it
# (conn-memory.sh, chat-fanout.sh): a temporary directory removed on exit,
# starting wschatd -f on a free 127.0.0.1 port and finding its workers,
# stopping it by PID, reading the workers' CPU time and memory from /proc,
# building a client from source when there is no build.  Linux only
# (/proc).  Only processes the script started are signalled, by PID.
#
# Sourced, never run, by a script that has set here (this directory) and
# then calls bench_setup.  Environment: WSCHATD (./wschatd), WEBROOT (www).
# The functions share these globals with the script: me, bench, tmp, log
# (the running daemon's log), pid (its master), port, workers (its
# workers' PIDs), histpid (its history process, if any), bpid (the client
# running in the background, if any) and daemon_rc.  Their own scratch
# variables start with "_".

WSCHATD=${WSCHATD:-./wschatd}
WEBROOT=${WEBROOT:-www}
log=
pid=
port=
workers=
histpid=
bpid=
daemon_rc=

# For script $1 (its name, for messages) running client $2 (wsbench,
# chatbench): make $tmp and arrange for cleanup on exit and on INT, TERM
# and HUP.
bench_setup() {
	me=$1
	bench=$2
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$me.XXXXXX") || exit 1
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# Signal a process we started, if it still is the one we started: true if
# $1 is alive and its command line contains $2.
ours() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
	    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "$2"
}

# Stop the daemon, if any: SIGTERM, then SIGKILL after 5 s, and SIGKILL
# to any worker left.  Clears pid and workers.
stop_daemon() {
	if ours "$pid" wschatd; then
		kill -TERM "$pid" 2>/dev/null
		_n=0
		while kill -0 "$pid" 2>/dev/null && [ $_n -lt 50 ]; do
			sleep 0.1
			_n=$((_n + 1))
		done
		ours "$pid" wschatd && kill -KILL "$pid" 2>/dev/null
	fi
	for _w in $workers; do
		ours "$_w" wschatd && kill -KILL "$_w" 2>/dev/null
	done
	pid=
	workers=
}

# The EXIT trap: the client, then the daemon, then $tmp.
cleanup() {
	trap - EXIT INT TERM HUP
	if ours "$bpid" "$bench"; then
		kill -TERM "$bpid" 2>/dev/null
	fi
	stop_daemon
	rm -rf "$tmp"
}

# Print "$me: $*" and the end of the daemon's log on stderr; exit 1.
die() {
	echo "$me: $*" >&2
	if [ -n "$log" ] && [ -s "$log" ]; then
		echo "$me: last lines of the daemon's log:" >&2
		tail -n 20 "$log" >&2
	fi
	exit 1
}

# Poll every 0.1 s until the command in $2.. succeeds; give up after $1 s.
wait_for() {
	_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.1
	done
	return 0
}

# Die unless $WSCHATD can run, $WEBROOT exists and the descriptor hard
# limit allows $1 connections.
check_setup() {
	[ -x "$WSCHATD" ] || die "$WSCHATD: not executable (set WSCHATD)"
	[ -d "$WEBROOT" ] || die "$WEBROOT: no such directory (set WEBROOT)"
	_hard=$(ulimit -Hn)
	if [ "$_hard" != unlimited ] && [ "$_hard" -lt $(($1 + 64)) ]; then
		die "fd hard limit $_hard is too low for $1 connections"
	fi
}

# Build client $1 (wsbench, chatbench) into $tmp from $1.c and wsclient.c
# next to this file and the client codec in src/: for a tree with no
# build.  Sets built to its path; dies if the compiler fails.
build_bench() {
	built=$tmp/$1
	_src=$here/../../src
	echo "$me: building $built from $here/$1.c"
	${CC:-cc} -O2 -I"$_src" -I"$here/../../shm" -o "$built" "$here/$1.c" \
	    "$here/wsclient.c" "$_src/ws_client.c" "$_src/ws.c" \
	    "$_src/http.c" "$_src/utf8.c" \
	    $(pkg-config --cflags --libs libevent_core libcrypto) ||
	    die "cannot build $1"
}

# True once the log shows $1 workers started.
workers_started() {
	[ "$(grep -c 'worker [0-9]*: started' "$log")" -ge "$1" ]
}

# Start wschatd -f with $1 workers on a free 127.0.0.1 port, with the
# options in $2.., logging to $log; wait until it listens and every
# worker has started.  Sets pid, port, workers and histpid; dies on
# failure.
# $PIN, if set, is a command prefix such as "taskset -c 0" (it must exec).
start_daemon() {
	_nw=$1
	shift
	${PIN:-} "$WSCHATD" -f -w "$_nw" -l 127.0.0.1:0 -L off -o "webroot=$WEBROOT" \
	    -o pidfile= "$@" >"$log" 2>&1 &
	pid=$!
	wait_for 10 grep -q 'http listening on' "$log" ||
	    die "no \"http listening on\" line within 10 s"
	port=$(sed -n \
	    's/.*http listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
	    "$log" | head -n 1)
	[ -n "$port" ] || die "cannot parse the port"
	wait_for 5 workers_started "$_nw" ||
	    die "workers not started within 5 s"
	kill -0 "$pid" 2>/dev/null || die "wschatd exited"
	# The master's children: its workers and, with history on, the
	# history process (named wschatd-history), which is not a worker.
	_kids=$(echo $(cat "/proc/$pid/task/$pid/children" 2>/dev/null))
	[ -n "$_kids" ] || _kids=$(echo $(ps -o pid= --ppid "$pid"))
	workers=
	histpid=
	for _k in $_kids; do
		case $(cat "/proc/$_k/comm" 2>/dev/null) in
		wschatd-history) histpid=$_k ;;
		*)	workers="$workers $_k" ;;
		esac
	done
	workers=$(echo $workers)
	set -- $workers
	[ $# -eq "$_nw" ] || die "expected $_nw workers, found: $workers"
}

# Stop the daemon with SIGTERM and wait for it; die if it is still running
# 15 s later.  Sets daemon_rc to its exit status; clears pid and workers.
term_daemon() {
	kill -TERM "$pid"
	wait_for 15 sh -c "! kill -0 $pid 2>/dev/null" ||
	    die "wschatd still running 15 s after SIGTERM"
	wait "$pid"
	daemon_rc=$?
	pid=
	workers=
}

# The workers' utime + stime in clock ticks, summed.  The fields after
# the ")" that ends the command name: utime is the 12th, stime the 13th.
cpu_ticks() {
	_t=0
	for _w in $workers; do
		_s=$(sed 's/.*) //' "/proc/$_w/stat" 2>/dev/null) || continue
		set -- $_s
		_t=$((_t + ${12} + ${13}))
	done
	echo "$_t"
}

# One line per worker: pid rss_kB pss_kB private_dirty_kB sockets
mem_sample() {
	for _w in $workers; do
		_rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$_w/status")
		set -- $(awk '/^Pss:/ { p = $2 } /^Private_Dirty:/ { d = $2 }
		    END { print p + 0, d + 0 }' "/proc/$_w/smaps_rollup")
		_socks=$(ls -l "/proc/$_w/fd" 2>/dev/null | grep -c 'socket:')
		echo "$_w $_rss $1 $2 $_socks"
	done
}
