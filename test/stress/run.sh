#!/usr/bin/env bash
# make stress: the fuzz targets briefly, then the floods of issue 10 against
# the real binary on 127.0.0.1 only, with RSS figures. Bounded: each fuzz
# target runs FUZZTIME (default 8s) and the floods have their own limits
# (the whole run takes a few minutes on two cores).
#
# To add a flood: write it as a test in test/e2e whose output has lines with
# "RSS" (t.Logf), and add its name to FLOODS below.
set -uo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-8s}
FLOODS=${FLOODS:-'TestHardening_MemFloodBudgetHolds|TestHardening_MemGarbageFlood'}
fail=0
summary=()

echo "== fuzz: every Fuzz target for $FUZZTIME"
while IFS=: read -r file _ line; do
	name=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")
	pkg=$(dirname "$file")
	start=$(date +%s)
	if out=$(timeout 300 "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel 2 "$pkg" 2>&1); then
		res=ok
	else
		res=FAIL
		fail=1
		echo "$out" | tail -30
	fi
	execs=$(grep -oE 'execs: [0-9]+' <<<"$out" | tail -1)
	line="fuzz $name ($pkg): $res in $(($(date +%s) - start))s, ${execs:-no count}"
	echo "$line"
	summary+=("$line")
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | sort)

echo "== floods: $FLOODS (KEMI_STRESS=1)"
out=$(KEMI_STRESS=1 timeout 600 "$GO" test -count=1 -v -run "^(${FLOODS})\$" ./test/e2e 2>&1)
rc=$?
grep -E 'RSS|^(---|===|ok|FAIL|PASS)' <<<"$out" | grep -v '^        ' || true
if [ $rc -ne 0 ]; then
	fail=1
	echo "$out" | tail -60
fi
summary+=("floods: $(grep -cE '^--- PASS' <<<"$out") passed, $(grep -cE '^--- FAIL' <<<"$out") failed")

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $fail
