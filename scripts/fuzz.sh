#!/usr/bin/env bash
# Run one Go fuzz target for a while: scripts/fuzz.sh <package> <target> <time>.
#
# A crasher fails the run (Go writes it to testdata/fuzz/<target>/ and prints its name).
# Go's fuzzing engine can also fail a run with "context deadline exceeded" and no failing
# input when a worker is slow to stop at the deadline (taking coverage snapshots on a loaded
# machine); that says nothing about the code under test, so such a run is retried, at most
# twice.
set -uo pipefail
pkg=$1 target=$2 time=$3
for attempt in 1 2 3; do
	out=$(go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time" 2>&1)
	rc=$?
	printf '%s\n' "$out" | tail -n 20
	if [ $rc -eq 0 ]; then
		exit 0
	fi
	if printf '%s' "$out" | grep -q 'Failing input written' || ! printf '%s' "$out" | grep -q 'context deadline exceeded'; then
		exit $rc
	fi
	echo "fuzz.sh: $target stopped with 'context deadline exceeded' and no failing input (attempt $attempt); running it again"
done
exit 1
