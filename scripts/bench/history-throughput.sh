#!/bin/sh
#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# history-throughput.sh: does the history process keep up with the
# fastest publish rate chatbench can make (issue 16)?  Starts wschatd -f
# -w $WORKERS with history on (a fresh store in a temporary directory),
# runs chatbench with many senders and few receivers ($CONNS connections,
# all of them senders unless $SENDERS says otherwise, each in a room of
# its own unless $ROOMS says otherwise (-G), window 16, $DURATION
# s), and meanwhile reads /metrics every $SAMPLE s: the messages the
# history process committed (wschatd_history_messages_total) and the
# highest id it committed (wschatd_history_committed_id), into
# samples.txt (with wschatd_history_lost_total: messages the ring lapped
# before the history process read them, recorded as a gap).  Then it
# waits until the messages committed and lost add up to the number sent
# (ids are not consecutive numbers, so the count, not the id, says how
# many) or $DRAIN s pass, and reports: the publish rate, the committed
# rate from the start to the end of the wait and at its fastest 1 s, how
# far behind the store was when sending stopped, and the utime + stime of
# the history process alone, of the workers and of the master over the
# whole run, per message.
#
# Run from the build tree: WSCHATD=./wschatd WEBROOT=www
# scripts/bench/history-throughput.sh.  Environment: WORKERS (2), CONNS
# (60), SENDERS ($CONNS), ROOMS ($CONNS), DURATION (10), SIZE (64), SAMPLE (0.5), DRAIN
# (30), CHATBENCH (scripts/bench/chatbench), OUT (a directory for the
# samples and chatbench's output; $tmp, removed, if unset), HIST_OPTS
# (more -o options for wschatd), RATE (unset: as fast as a window of 16
# per sender allows; else messages/s in all, chatbench -R).  Linux only (/proc); only the processes
# it started are signalled, by PID.

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bench_setup history-throughput chatbench
WORKERS=${WORKERS:-2}
CONNS=${CONNS:-60}
ROOMS=${ROOMS:-$CONNS}
SENDERS=${SENDERS:-$CONNS}
DURATION=${DURATION:-10}
SIZE=${SIZE:-64}
SAMPLE=${SAMPLE:-0.5}
DRAIN=${DRAIN:-30}
CHATBENCH=${CHATBENCH:-$here/chatbench}
HIST_OPTS=${HIST_OPTS:-}
RATE=${RATE:-}
# As fast as the windows allow, or RATE messages/s in all (-R).
pace="-w 16"
[ -z "$RATE" ] || pace="-R $RATE"
OUT=${OUT:-$tmp}
mkdir -p "$OUT" || die "cannot make $OUT"
[ -x "$CHATBENCH" ] || die "$CHATBENCH: not built (make)"
check_setup "$CONNS"

# A metric's value from /metrics (the sum over its labels, if any).
metric() {
	curl -s "http://127.0.0.1:$port/metrics" |
	    awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 }
	    END { printf "%.0f\n", s }'
}

# A line of samples.txt: time, messages committed, the highest id
# committed, messages lost.
sample() {
	echo "$(date +%s.%N) $(metric wschatd_history_messages_total)" \
	    "$(metric wschatd_history_committed_id)" \
	    "$(metric wschatd_history_lost_total)" >>"$OUT/samples.txt"
}

# utime + stime of process $1 in clock ticks.
ticks() {
	_s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	set -- $_s
	echo $((${12} + ${13}))
}

log=$tmp/wschatd.log
start_daemon "$WORKERS" -o "history_file=$tmp/history.db" \
    -o max_connections=0 -o command_rate=1000000 -o message_rate=0 \
    $HIST_OPTS
[ -n "$histpid" ] || die "no history process"
hz=$(getconf CLK_TCK)
h0=$(ticks "$histpid")
m0=$(ticks "$pid")
w0=$(cpu_ticks)
echo "history-throughput: wschatd -w $WORKERS (pids $pid $workers, history $histpid), chatbench -c $CONNS -G $ROOMS -s $SENDERS -l $SENDERS $pace -z $SIZE -D $DURATION"
"$CHATBENCH" -p "$port" -M chat -c "$CONNS" -G "$ROOMS" -s "$SENDERS" \
    -l "$SENDERS" \
    $pace -z "$SIZE" -D "$DURATION" -d $((DURATION * 4 + 60)) \
    >"$OUT/chatbench.txt" 2>&1 &
bpid=$!
t0=$(date +%s.%N)
: >"$OUT/samples.txt"
while kill -0 "$bpid" 2>/dev/null; do
	sample
	sleep "$SAMPLE"
done
wait "$bpid"
brc=$?
bpid=
t_end=$(date +%s.%N)
sent=$(tail -n 1 "$OUT/chatbench.txt" | tr ' ' '\n' | sed -n 's/^sent=//p')
[ -n "$sent" ] || die "chatbench failed: $(tail -n 3 "$OUT/chatbench.txt")"
behind=$((sent - $(metric wschatd_history_messages_total)))
# Until the store has every message sent.
_end=$(($(date +%s) + DRAIN))
while [ $(($(metric wschatd_history_messages_total) +
    $(metric wschatd_history_lost_total))) -lt "$sent" ] &&
    [ "$(date +%s)" -lt "$_end" ]; do
	sample
	sleep 0.1
done
t_caught=$(date +%s.%N)
sample
h1=$(ticks "$histpid")
m1=$(ticks "$pid")
w1=$(cpu_ticks)
stored=$(metric wschatd_history_messages_total)
committed=$(metric wschatd_history_committed_id)
commits=$(metric wschatd_history_commits_total)
lost=$(metric wschatd_history_lost_total)
errors=$(metric wschatd_history_errors_total)
term_daemon
cp "$log" "$OUT/wschatd.log"
grep -E '^(messages|server|cpu|result)' "$OUT/chatbench.txt" | sed 's/^/  /'
awk -v sent="$sent" -v stored="$stored" -v committed="$committed" \
    -v commits="$commits" -v lost="$lost" -v errors="$errors" \
    -v behind="$behind" -v t0="$t0" -v te="$t_end" -v tc="$t_caught" \
    -v hz="$hz" -v h="$((h1 - h0))" -v w="$((w1 - w0))" \
    -v m="$((m1 - m0))" -v brc="$brc" -v rc="$daemon_rc" '
# The fastest committed rate between two samples at least 1 s apart.
{ t[n] = $1; s[n] = $2; n++ }
END {
	best = 0
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (t[j] - t[i] >= 1) {
				r = (s[j] - s[i]) / (t[j] - t[i])
				if (r > best) best = r
				break
			}
	printf "history-throughput: sent=%d stored=%d committed_id=%.0f " \
	    "commits=%d lost=%d errors=%d\n", sent, stored, committed,
	    commits, lost, errors
	printf "history-throughput: published %.0f messages/s over %.1f s " \
	    "(chatbench start to end); committed %.0f messages/s from the " \
	    "start until caught up, %.0f/s at the fastest 1 s\n", sent / (te - t0),
	    te - t0, s[n - 1] / (tc - t0), best
	all = " some were neither committed nor counted lost"
	if (stored + lost >= sent)
		all = " all were committed or counted lost"
	printf "history-throughput: behind by %d messages when chatbench " \
	    "ended; %.2f s later%s\n", behind, tc - te, all
	printf "history-throughput: CPU s: history process %.2f " \
	    "(%.2f us per message), workers %.2f (%.2f us per message), " \
	    "master %.2f\n", h / hz, 1e6 * h / hz / (stored ? stored : 1),
	    w / hz, 1e6 * w / hz / (sent ? sent : 1), m / hz
	printf "history-throughput: chatbench exit %d, wschatd exit %d\n",
	    brc, rc
}' "$OUT/samples.txt" | tee "$OUT/summary.txt"
