#!/bin/sh
# memcheck.sh [BUILD]: run end-to-end test files with every wschatd
# process (master and workers) under valgrind memcheck, and fail if
# valgrind reports anything: an invalid access, a use of uninitialised
# memory, a definite leak.  BUILD is a configured and built tree
# (build/plain); its logs go to BUILD/tests/memcheck/, one per test file,
# each ending in "N passed, N failed" (the clean valgrind run counts as
# one more case) for scripts/test-summary.sh.
set -u
build=$(cd "${1:-build/plain}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
out=$build/tests/memcheck
vg=$build/memcheck-valgrind	# not under tests/: no result lines there
rm -rf "$out" "$vg" && mkdir -p "$out" "$vg"
# Every end-to-end file that runs the daemon of this build: all but
# test_docs (only -t and -h) and test_initscript (its own installed build).
files=${MEMCHECK_TESTS:-"test_http test_static test_echo test_line \
    test_metrics test_ops test_chat test_conformance test_hostile \
    test_limits test_process test_chaos test_wschat test_config \
    test_browser test_bench test_rooms test_v2 test_output \
    test_history_wire test_history"}
cat >"$out/wschatd" <<EOT
#!/bin/sh
exec valgrind -q --trace-children=yes --vgdb=no --leak-check=full \\
    --errors-for-leak-kinds=definite --log-file=$vg/%p.log \\
    $build/wschatd "\$@"
EOT
chmod +x "$out/wschatd"
status=0
for t in $files; do
	rm -f "$vg"/*.log
	CHATBENCH=$build/scripts/bench/chatbench WSCHAT=$build/wschat \
	WSCHATD=$out/wschatd WSCHATD_SRCDIR=$top \
	PYTHONPATH=$top/tests/e2e timeout 1800 "${PYTHON3:-/usr/bin/python3}" \
	    "$top/tests/e2e/$t.py" >"$out/$t.log" 2>&1
	rc=$?
	reports=0
	for f in "$vg"/*.log; do
		[ -s "$f" ] || continue
		reports=$((reports + 1))
		{ echo "--- valgrind: $f"; cat "$f"; } >>"$out/$t.log"
	done
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out/$t.log" |
	    tail -n 1)
	p=${line%% *}
	f=$(echo "$line" | cut -d' ' -f3)
	[ -n "$p" ] || { p=0; f=1; }
	if [ "$reports" -eq 0 ] && [ "$rc" -eq 0 ]; then
		p=$((p + 1))
	else
		f=$((f + 1))
		status=1
	fi
	echo "$p passed, $f failed" >>"$out/$t.log"
	rm -f "$vg"/*.log
	echo "memcheck: $t: $p passed, $f failed, $reports valgrind reports"
done
exit $status
