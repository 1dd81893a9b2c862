#!/bin/sh
# Add up the test cases of every test log under the given build trees:
# criterion's "Synthesis:" lines and the e2e scripts' "N passed, N failed".
# Prints one line "N passed, N failed"; exits 1 if any failed or none ran.
# For a log with failures it first prints the failing cases and the error
# each ended with, so that a CI transcript alone says what broke.
passed=0 failed=0

failures() {	# failures LOG: the failing cases of one log, briefly
	echo "--- $1:"
	grep -E '^not ok|^[A-Za-z_.]*(Error|Exception|Exit)(: |$)|^\[----\].*(FAIL|rror|ssert)|^\[FAIL\]|^==[0-9]+==ERROR|^SUMMARY: |^--- valgrind' "$1" |
	    head -n 40
}
for dir in "$@"; do
	for log in $(find "$dir/tests" "$dir/shm/tests" -name '*.log' ! -name 'test-suite.log' 2>/dev/null); do
		line=$(grep -E '^\[====\] Synthesis:|^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
		case "$line" in
		*Synthesis*)
			p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
			f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p')
			passed=$((passed + ${p:-0}))
			n=0
			for x in $f; do n=$((n + x)); done
			failed=$((failed + n))
			[ "$n" -eq 0 ] || failures "$log" ;;
		*passed*)
			n=$(echo "$line" | cut -d' ' -f3)
			passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
			failed=$((failed + n))
			[ "$n" -eq 0 ] || failures "$log" ;;
		*)
			echo "$log: no result line"; failed=$((failed + 1))
			tail -n 15 "$log" ;;
		esac
	done
	if [ -f "$dir/test-suite.log" ] && grep -q '^# FAIL: *[1-9]\|^# ERROR: *[1-9]' "$dir/test-suite.log"; then
		echo "$dir: make check reported failures"
		grep -E '^(FAIL|ERROR):' "$dir/test-suite.log" | head -20
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
