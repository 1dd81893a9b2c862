#!/bin/sh
#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# compare.sh: wschatd against the servers people use instead, side by
# side in one run (issue 6).  For each scenario and each server it starts
# the server pinned to one CPU ($SRV_CPU) and chatbench pinned to the
# other ($GEN_CPU), lets chatbench connect, send and count (the server's
# CPU time over the send phase and its RSS per connection come from /proc
# through chatbench -P), stops the server by PID and appends a row to
# results.csv.  compare-report.sh then writes results.md (the tables,
# wschatd as a ratio of each peer, the targets) and the PNG plots.
#
# Servers: floor (peers/floor.c, the least work a broadcast can do: one
# epoll loop, each frame built once, one writev per connection per loop
# iteration; every server is reported as a ratio to it), bun
# (peers/bun-pubsub.js, Bun.serve's pub/sub on uWebSockets: server.publish
# to a topic), node (peers/node-ws.js, the ws package's broadcast server),
# gorilla (peers/gorilla-hub.go, the gorilla/websocket hub chat), wschatd1
# and wschatd2 (wschatd -w 1 and -w 2, both on the one server CPU), and
# before1 and before2: the same with the binary WSCHATD_BEFORE, an older
# build, so that a change is measured against its parent in one run
# (SERVERS="before1 wschatd1 before2 wschatd2 ..."; results.md then has
# a table of this build over the one before).  The
# peers get raw text (chatbench -M raw); wschatd gets its JSON chat (-M
# chat), with only the senders logged in: every login sends the whole user
# list to everyone, O(N^2) messages of O(N) bytes, which 5000 connections
# cannot do (see README.md).  Scenarios, 64-byte payloads, $DURATION s of
# sending: a (1000 connections, 1 sender, window 16), b (100, 10 senders,
# window 16 each), c (5000, 1 sender at 200 messages/s), d (5000, 1 sender
# at 20/s), kib (a with 1 KiB payloads), rooms (5000 in 100 rooms of 50,
# one sender each, 2000 messages/s in all: 100,000 deliveries/s), the
# ladder (c at 50, 100, 200, 300 and 400 messages/s: 0.25 to 2 M
# deliveries/s offered; "ladder" in SCENARIOS stands for its five rungs
# ladder250k ladder500k ladder1m ladder1500k ladder2m), idle10k and
# idle100k (idle connections held 2 s: RSS per connection).  The bus
# figures (2 workers against 1) come from a to d and rooms.
#
# Linux only (/proc, taskset, ss).  Loopback only; every run is bounded
# (chatbench -d, timeout) and stops by itself; only the processes this
# script started are signalled, by PID; the descriptor limit is raised for
# this shell only and no sysctl is changed.  The peers are built into
# $BENCH_BUILD from peers/ (npm ci, which brings ws and Bun's binary,
# @oven/bun-linux-x64; go build in GOPATH mode, offline; cc for floor.c).
#
# Run from the top of the build tree, as root for 100,000 connections:
#     scripts/bench/install-bench-deps.sh    # once
#     scripts/bench/compare.sh
# HISTORY_COLUMN=1 (issue 16) runs histoff1 and histon1 instead (wschatd
# -w 1 with history off and on, the store in a temporary directory; the
# CPU of every process of the tree, the history process's included) in a,
# b, c and d, REPEAT times (2) interleaved, and history-column.sh adds the
# table of on over off to results.md.
# Environment: WSCHATD (./wschatd), WSCHATD_BEFORE (for before1 and
# before2), BEFORE_OPTS (its -o options, if any), HISTORY_COLUMN (0),
# REPEAT (1: each scenario's servers, interleaved, that many times),
# CHATBENCH (scripts/bench/chatbench),
# WEBROOT (www), SCENARIOS ("a b c d kib rooms ladder idle10k idle100k"),
# SERVERS ("floor bun node gorilla wschatd1 wschatd2"), DURATION (10),
# SIZE (64), SRV_CPU (0), GEN_CPU (1), QUIET_WAIT (0: seconds to wait for
# a 1-minute load average below 1.0 first, polled every 30 s), LADDER_ALL
# (0: a server that misses a rung of the ladder skips the rungs above it;
# 1: every rung), RESULTS (scripts/bench/results/DATE-HOST), BENCH_BUILD
# (/tmp/wschatd-bench-build).

set -u

# The history column (issue 16): history off against on, in a to d,
# twice, interleaved, unless SCENARIOS, SERVERS or REPEAT say otherwise.
HISTORY_COLUMN=${HISTORY_COLUMN:-0}
if [ "$HISTORY_COLUMN" = 1 ]; then
	SCENARIOS=${SCENARIOS:-a b c d}
	SERVERS=${SERVERS:-histoff1 histon1}
	REPEAT=${REPEAT:-2}
fi
LADDER="ladder250k ladder500k ladder1m ladder1500k ladder2m"
SCENARIOS=${SCENARIOS:-a b c d kib rooms ladder idle10k idle100k}
# "ladder" stands for its rungs, in order.
SCENARIOS=$(for _s in $SCENARIOS; do
	[ "$_s" = ladder ] && echo $LADDER || echo "$_s"
done | tr '\n' ' ')
SERVERS=${SERVERS:-floor bun node gorilla wschatd1 wschatd2}
REPEAT=${REPEAT:-1}
BEFORE_OPTS=${BEFORE_OPTS:-}
DURATION=${DURATION:-10}
SIZE=${SIZE:-64}
SRV_CPU=${SRV_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
QUIET_WAIT=${QUIET_WAIT:-0}
LADDER_ALL=${LADDER_ALL:-0}
here=$(cd "$(dirname "$0")" && pwd)
CHATBENCH=${CHATBENCH:-$here/chatbench}
BENCH_BUILD=${BENCH_BUILD:-${TMPDIR:-/tmp}/wschatd-bench-build}
BUN=$BENCH_BUILD/node_modules/@oven/bun-linux-x64/bin/bun
RESULTS=${RESULTS:-$here/results/$(date +%F)-$(hostname)}
. "$here/lib.sh"
bench_setup compare chatbench
peer=
peer_name=
ladder_missed=		# " server:rung" for each server that missed one

# The peer, then lib.sh's cleanup (chatbench, wschatd, $tmp).
compare_cleanup() {
	stop_peer
	cleanup
}
trap compare_cleanup EXIT

# Stop the peer server, if any, by PID: SIGTERM, SIGKILL after 5 s.
stop_peer() {
	if ours "$peer" "$peer_name"; then
		kill -TERM "$peer" 2>/dev/null
		wait_for 5 sh -c "! kill -0 $peer 2>/dev/null" ||
		    kill -KILL "$peer" 2>/dev/null
		wait "$peer" 2>/dev/null
	fi
	peer=
}

# True if something listens on 127.0.0.1:$1.
listening() {
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# A free TCP port below the ephemeral range.
free_port() {
	_p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 12000))
	while listening "$_p"; do
		_p=$((_p + 1))
	done
	echo "$_p"
}

# Build the peers into $BENCH_BUILD unless they are there and current.
build_peers() {
	mkdir -p "$BENCH_BUILD" || die "cannot make $BENCH_BUILD"
	if ! cmp -s "$here/peers/package-lock.json" \
	    "$BENCH_BUILD/package-lock.json" ||
	    [ ! -d "$BENCH_BUILD/node_modules/ws" ] || [ ! -x "$BUN" ]; then
		cp "$here/peers/package.json" "$here/peers/package-lock.json" \
		    "$BENCH_BUILD/" &&
		    (cd "$BENCH_BUILD" && npm ci --no-audit --no-fund \
		    --loglevel=error) || die "npm ci failed"
	fi
	if [ ! -x "$BENCH_BUILD/gorilla-hub" ] ||
	    [ "$here/peers/gorilla-hub.go" -nt "$BENCH_BUILD/gorilla-hub" ]; then
		# GOPATH mode: the packaged library, no module proxy.
		GO111MODULE=off GOPATH=/usr/share/gocode \
		    GOCACHE="$BENCH_BUILD/gocache" go build \
		    -o "$BENCH_BUILD/gorilla-hub" "$here/peers/gorilla-hub.go" ||
		    die "go build failed (scripts/bench/install-bench-deps.sh?)"
	fi
	if [ ! -x "$BENCH_BUILD/floor" ] ||
	    [ "$here/peers/floor.c" -nt "$BENCH_BUILD/floor" ]; then
		${CC:-cc} -O2 -Wall -Wextra -o "$BENCH_BUILD/floor" \
		    "$here/peers/floor.c" -lcrypto ||
		    die "cannot build floor (scripts/bench/install-bench-deps.sh?)"
	fi
}

# Start server $1 pinned to $SRV_CPU.  Sets port and srvpids (all its
# processes, comma-separated), and pid/workers (wschatd) or peer.
start_server() {
	log=$tmp/$1.log
	case $1 in
	wschatd[0-9]*)
		PIN="taskset -c $SRV_CPU" start_daemon "${1#wschatd}" \
		    -o max_connections=0 -o "history_file=$tmp/history.db"
		srvpids=$(echo $pid $workers $histpid | tr ' ' ,)
		return
		;;
	histon[0-9]*|histoff[0-9]*)
		# The history column (issue 16): history on (a fresh store
		# in $tmp) against off.  The CPU is every process's of the
		# tree: master, workers and the history process.
		rm -f "$tmp"/history.db*
		case $1 in
		histon*) _h="-o history=on" ;;
		*)	_h="-o history=off" ;;
		esac
		PIN="taskset -c $SRV_CPU" start_daemon "${1##hist*[a-z]}" \
		    -o max_connections=0 -o "history_file=$tmp/history.db" $_h
		[ "$1" = "${1#histon}" ] || [ -n "$histpid" ] ||
		    die "$1: no history process"
		srvpids=$(echo $pid $workers $histpid | tr ' ' ,)
		return
		;;
	before[0-9]*)
		[ -x "${WSCHATD_BEFORE:-}" ] ||
		    die "$1: set WSCHATD_BEFORE to the build to compare with"
		PIN="taskset -c $SRV_CPU" WSCHATD=$WSCHATD_BEFORE \
		    start_daemon "${1#before}" -o max_connections=0 \
		    $BEFORE_OPTS
		srvpids=$(echo $pid $workers $histpid | tr ' ' ,)
		return
		;;
	floor)
		port=$(free_port)
		taskset -c "$SRV_CPU" "$BENCH_BUILD/floor" "$port" >"$log" 2>&1 &
		peer_name=$BENCH_BUILD/floor
		;;
	bun)
		# ours() matches the command line, where the script's name
		# is; the process name (comm) is just "bun".
		port=$(free_port)
		taskset -c "$SRV_CPU" "$BUN" "$here/peers/bun-pubsub.js" \
		    "$port" >"$log" 2>&1 &
		peer_name=bun-pubsub.js
		;;
	node)
		port=$(free_port)
		NODE_PATH=$BENCH_BUILD/node_modules taskset -c "$SRV_CPU" \
		    node "$here/peers/node-ws.js" "$port" >"$log" 2>&1 &
		peer_name=node-ws.js
		;;
	gorilla)
		port=$(free_port)
		taskset -c "$SRV_CPU" "$BENCH_BUILD/gorilla-hub" \
		    -addr "127.0.0.1:$port" >"$log" 2>&1 &
		peer_name=gorilla-hub
		;;
	*)
		die "unknown server $1"
		;;
	esac
	peer=$!
	wait_for 10 listening "$port" || die "$1 does not listen on $port"
	srvpids=$peer
}

stop_server() {
	case $1 in
	wschatd*|before*|hist*)
		term_daemon
		[ "$daemon_rc" -eq 0 ] ||
		    echo "compare: wschatd exited $daemon_rc after SIGTERM"
		;;
	*)
		stop_peer
		;;
	esac
}

# Field NAME=value $2 of chatbench's last line in file $1.
field() {
	tail -n 1 "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# chatbench's options for scenario $1 (less -M, -l, -p, -P).  A -z here
# comes after run()'s -z $SIZE and wins.  -R is messages/s in all: times
# the connections of a room, deliveries/s offered.
scenario_args() {
	case $1 in
	a)	echo "-c 1000 -s 1 -w 16 -D $DURATION" ;;
	b)	echo "-c 100 -s 10 -w 16 -D $DURATION" ;;
	c)	echo "-c 5000 -s 1 -R 200 -D $DURATION" ;;
	d)	echo "-c 5000 -s 1 -R 20 -D $DURATION" ;;
	kib)	echo "-c 1000 -s 1 -w 16 -z 1024 -D $DURATION" ;;
	rooms)	echo "-c 5000 -G 100 -s 100 -R 2000 -D $DURATION" ;;
	ladder250k) echo "-c 5000 -s 1 -R 50 -D $DURATION" ;;
	ladder500k) echo "-c 5000 -s 1 -R 100 -D $DURATION" ;;
	ladder1m) echo "-c 5000 -s 1 -R 200 -D $DURATION" ;;
	ladder1500k) echo "-c 5000 -s 1 -R 300 -D $DURATION" ;;
	ladder2m) echo "-c 5000 -s 1 -R 400 -D $DURATION" ;;
	idle10k) echo "-c 10000 -s 0 -H 2" ;;
	idle100k) echo "-c 100000 -s 0 -H 2 -k 200" ;;
	*)	die "unknown scenario $1" ;;
	esac
}

# A row of results.csv for scenario $1, server $2, $3 connections, not
# run for reason $4.
skipped() {
	echo "== $1, $2: skipped: $4"
	# The 20 figures from senders to own_cpu_pct empty, then result and
	# exit: the 25 columns of the header.
	echo "$1,$2,$3,,,,,,,,,,,,,,,,,,,,,skipped ($4)," >>"$RESULTS/results.csv"
}

# True if chatbench's output $1 sustained its rate: everything delivered,
# the run ok, p99 at most 100 ms (the ladder's test; compare-report.sh's
# sustains() is the same).
sustained() {
	[ "$(field "$1" result)" = ok ] && [ "$(field "$1" missing)" = 0 ] &&
	    awk -v p="$(field "$1" p99_us)" -v r="$(field "$1" ratio)" \
	    'BEGIN { exit !(p != "" && p <= 100000 && r >= 1) }'
}

# One run: scenario $1 against server $2, repetition suffix $3 (empty for
# the first); appends a row to results.csv.
run() {
	scn=$1
	srv=$2
	name=$srv$3
	args=$(scenario_args "$scn")
	out=$RESULTS/logs/$scn-$name.txt
	conns=$(echo "$args" | sed 's/.*-c \([0-9]*\).*/\1/')
	if [ "$fdmax" != unlimited ] && [ $((conns + 64)) -gt "$fdmax" ]; then
		# Both ends need a descriptor per connection, in one process.
		skipped "$scn" "$srv" "$conns" "fd limit $fdmax"
		return
	fi
	# The ladder climbs until a server misses a rung: past it, a server
	# that cannot keep up drains its backlog for minutes per rung.
	case "$scn $ladder_missed " in
	ladder*" $srv:"*)
		if [ "$LADDER_ALL" != 1 ]; then
			_m=${ladder_missed#* $srv:}
			skipped "$scn" "$srv" "$conns" "missed ${_m%% *}"
			return
		fi
		;;
	esac
	start_server "$srv"
	case $srv in
	wschatd*|before*|hist*) mode="-M chat -l $(echo "$args" |
		    sed 's/.*-s \([0-9]*\).*/\1/')" ;;
	*)	mode="-M raw" ;;
	esac
	echo "== $scn, $srv (pids $srvpids, port $port): chatbench $mode $args"
	# The run's own limit: connect, send, drain; chatbench -d is the
	# deadline, timeout(1) the last resort.
	taskset -c "$GEN_CPU" "$CHATBENCH" -p "$port" -P "$srvpids" -z "$SIZE" \
	    -d $((DURATION * 10 + 120)) $mode $args >"$out" 2>&1 &
	bpid=$!
	wait "$bpid"
	brc=$?
	bpid=
	grep -E '^(connections|messages|  rooms|  the server|  latency|server|cpu|result)' \
	    "$out" | sed 's/^/   /'
	stop_server "$srv"
	cp "$log" "$RESULTS/logs/$scn-$name.server.log" 2>/dev/null
	echo "$scn,$name$(for f in conns senders sent deliveries expected \
	    missing ratio frames dropped failed deliveries_per_s p50_us \
	    p99_us p999_us max_us srv_cpu_s cpu_per_M rss_per_conn \
	    anon_per_conn srv_sys_s own_cpu_pct result; do printf ',%s' "$(field "$out" $f)"; done),$brc" \
	    >>"$RESULTS/results.csv"
	case $scn in
	ladder*)
		case " $ladder_missed " in
		*" $srv:"*) ;;
		*)	sustained "$out" ||
			    ladder_missed="$ladder_missed $srv:$scn" ;;
		esac
		;;
	esac
}

# Wait up to $QUIET_WAIT s for a 1-minute load average below 1.0.
wait_quiet() {
	_end=$(($(date +%s) + QUIET_WAIT))
	while [ "$(date +%s)" -lt "$_end" ]; do
		awk '{ exit !($1 < 1.0) }' /proc/loadavg && return 0
		echo "compare: load average $(cut -d' ' -f1-3 /proc/loadavg);" \
		    "waiting"
		sleep 30
	done
	awk '{ exit !($1 < 1.0) }' /proc/loadavg
}

# --- setup -------------------------------------------------------------------
[ -x "$CHATBENCH" ] || die "$CHATBENCH: not built (make)"
# As many descriptors as allowed: raising the hard limit takes
# CAP_SYS_RESOURCE; without it the scenarios past it are skipped.
ulimit -n 300000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fdmax=$(ulimit -n)
check_setup 5000
# The peers only when they run (the history column needs none).
case " $SERVERS " in
*" floor "*|*" bun "*|*" node "*|*" gorilla "*) build_peers ;;
esac
mkdir -p "$RESULTS/logs" || die "cannot make $RESULTS"
quiet=yes
if [ "$QUIET_WAIT" -gt 0 ]; then
	wait_quiet || quiet=no
fi
{
	echo "date=$(date -u '+%F %T UTC')"
	echo "host=$(hostname)"
	echo "cpus=$(nproc) x $(sed -n 's/^model name\t*: //p' /proc/cpuinfo |
	    head -n 1)"
	echo "kernel=$(uname -sr)"
	echo "memory=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' \
	    /proc/meminfo)"
	echo "wschatd=$("$WSCHATD" -v 2>&1 | head -n 1)" \
	    "$(git -C "$here" describe --always --dirty 2>/dev/null)"
	[ -z "${WSCHATD_BEFORE:-}" ] || echo "before=$WSCHATD_BEFORE"
	[ -x "$BUN" ] && echo "node=$(node --version) ws=$(sed -n \
	    's/.*"version": "\(.*\)".*/\1/p' \
	    "$BENCH_BUILD/node_modules/ws/package.json" | head -n 1)"
	[ -x "$BUN" ] && echo "go=$(go version | cut -d' ' -f3) gorilla=$(dpkg-query -W \
	    -f '${Version}' golang-github-gorilla-websocket-dev 2>/dev/null)"
	[ -x "$BUN" ] && echo "bun=$("$BUN" --version) ($BUN)"
	echo "floor=$(${CC:-cc} --version | head -n 1) -O2," \
	    "$(openssl version 2>/dev/null)"
	echo "pinning=server on CPU $SRV_CPU, chatbench on CPU $GEN_CPU"
	echo "duration=$DURATION size=$SIZE"
	echo "fd_limit=$fdmax"
	echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "quiet=$quiet"
} >"$RESULTS/meta"
echo "scenario,server,conns,senders,sent,deliveries,expected,missing,ratio,\
frames,dropped,failed,deliveries_per_s,p50_us,p99_us,p999_us,max_us,\
srv_cpu_s,cpu_per_M,rss_per_conn,anon_per_conn,srv_sys_s,own_cpu_pct,\
result,exit" \
    >"$RESULTS/results.csv"
sed 's/^/compare: /' "$RESULTS/meta"

# --- the runs ----------------------------------------------------------------
# Each scenario REPEAT times, every server once in each round: the
# servers interleaved, so that a change in the machine's load hits all.
for scn in $SCENARIOS; do
	_r=1
	while [ "$_r" -le "$REPEAT" ]; do
		for srv in $SERVERS; do
			run "$scn" "$srv" "$([ "$_r" -gt 1 ] && echo ".$_r")"
		done
		_r=$((_r + 1))
	done
done
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/meta"

# --- report ------------------------------------------------------------------
"$here/compare-report.sh" "$RESULTS" || die "compare-report.sh failed"
if [ "$HISTORY_COLUMN" = 1 ]; then
	"$here/history-column.sh" "$RESULTS" >>"$RESULTS/results.md" ||
	    die "history-column.sh failed"
fi
echo "compare: $RESULTS/results.md"
exit 0
