#!/bin/sh
#
# Copyright (c) 2026 The wschatd authors.  ISC licence: see COPYING.
#
# history-column.sh DIR: the history column of issue 16 from the
# results.csv of a `HISTORY_COLUMN=1 compare.sh` run in DIR, as markdown
# on stdout (compare.sh appends it to results.md): per scenario and
# round, the CPU-s per million deliveries of wschatd with history off
# (histoffN) and on (histonN), and on over off, against the issue's
# target of at most 1.1.  The CPU is that of every process of the tree
# (master, workers, history process) from the first send to the last
# delivery.  A round is one run of each server, one after the other
# (compare.sh's REPEAT); its rows are named histon1, histon1.2, ...
# Reads DIR only.

set -u
dir=${1:?usage: history-column.sh DIR}
csv=$dir/results.csv
[ -r "$csv" ] || { echo "history-column: no $csv" >&2; exit 1; }

awk -F, '
NR == 1 { next }
$2 ~ /^hist(on|off)[0-9]+(\.[0-9]+)?$/ {
	srv = $2; round = 1
	if (split(srv, p, ".") == 2) { srv = p[1]; round = p[2] }
	kind = srv ~ /^histon/ ? "on" : "off"
	w = srv; sub(/^hist(on|off)/, "", w)
	key = $1 SUBSEP w SUBSEP round
	cpu[key, kind] = $19
	gen[key, kind] = $23
	ok[key, kind] = ($24 == "ok" && $8 == 0 && $11 == 0)
	dps[key, kind] = $13
	p99[key, kind] = $15
	if (!(key in seen)) { seen[key] = 1; order[n++] = key }
}
function f(x) { return x == "" ? "-" : sprintf("%.3f", x) }
END {
	print "\n## History on over history off (issue 16)\n"
	print "wschatd -w `W` with `history off` and with `history on` (a fresh"
	print "store in a temporary directory), one after the other in each"
	print "round. CPU-s/M: utime + stime of every process of the tree"
	print "(master, workers, history process) from the first send to the"
	print "last delivery, per million deliveries. Target: on at most 1.1"
	print "times off.\n"
	print "| scenario | W | round | off CPU-s/M | on CPU-s/M | on / off | deliveries/s off / on | p99 ms off / on | gen CPU % off / on | all delivered |"
	print "|---|---:|---:|---:|---:|---:|---|---|---|---|"
	for (i = 0; i < n; i++) {
		k = order[i]
		split(k, a, SUBSEP)
		r = "-"
		if (cpu[k, "off"] > 0 && cpu[k, "on"] != "")
			r = sprintf("%.3f", cpu[k, "on"] / cpu[k, "off"])
		if (r != "-") { sum[a[1], a[2]] += r; cnt[a[1], a[2]]++ }
		printf "| %s | %s | %s | %s | %s | %s | %d / %d | %.1f / %.1f | %s / %s | %s |\n",
		    a[1], a[2], a[3], f(cpu[k, "off"]), f(cpu[k, "on"]), r,
		    dps[k, "off"], dps[k, "on"], p99[k, "off"] / 1000,
		    p99[k, "on"] / 1000, gen[k, "off"], gen[k, "on"],
		    (ok[k, "off"] && ok[k, "on"]) ? "yes" : "NO"
		if (!((a[1], a[2]) in sn)) { sn[a[1], a[2]] = 1; so[m++] = a[1] SUBSEP a[2] }
	}
	print "\n| scenario | W | rounds | mean on / off | target 1.1 |"
	print "|---|---:|---:|---:|---|"
	for (i = 0; i < m; i++) {
		split(so[i], a, SUBSEP)
		mean = sum[a[1], a[2]] / cnt[a[1], a[2]]
		printf "| %s | %s | %d | %.3f | %s |\n", a[1], a[2],
		    cnt[a[1], a[2]], mean, mean <= 1.1 ? "met" : "missed"
	}
}' "$csv"
