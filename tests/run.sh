#!/bin/bash
# Runs every test: the unit tests (check), the integration tests (the real
# dgramd binary over real sockets) and the lint checks. Ends with the line
# "N passed, N failed"; exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."

# Every test runs inside a mount+network namespace of its own (tests/netns.sh):
# only lo, and a resolver on loopback that the tests control, so nothing a
# test does (DNS included) can leave this host. That needs root; without it
# the tests that resolve names through DNS say "skip".
if [ -z "${DGRAMD_TEST_RESOLVER:-}" ]; then
	if [ "$(id -u)" = 0 ] && tests/netns.sh true 2>/dev/null; then
		exec tests/netns.sh "$0" "$@"
	fi
	echo "== not in a test namespace (needs root): tests that resolve names are skipped"
fi

passed=0
failed=0
failures=()
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# DGRAMD may name another binary or a wrapper (a fake clock, a tracer).
export DGRAMD="${DGRAMD:-$PWD/dgramd}"
export PYTHONDONTWRITEBYTECODE=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
PY=${PYTHON:-python3}
[ -x /usr/bin/python3 ] && PY=${PYTHON:-/usr/bin/python3}

echo "== unit tests"
for bin in ${UNIT_BINS:-}; do
	if [ "$(basename "$bin")" = test-resolve ] && [ -z "${DGRAMD_TEST_RESOLVER:-}" ]; then
		echo "skip test-resolve (it resolves names: needs the namespace's resolver)"
		continue
	fi
	out="$tmp/$(basename "$bin").out"
	CK_FORK=yes CK_VERBOSITY=normal timeout 120 "$bin" >"$out" 2>&1
	rc=$?
	if [ ! -f "$out" ]; then
		echo "not ok $(basename "$bin") (its output vanished: $out)"
		failed=$((failed + 1)); failures+=("$(basename "$bin")")
		continue
	fi
	# check prints "NN%: Checks: N, Failures: F, Errors: E" per suite.
	line=$(grep -E '^[0-9]+%: Checks: ' "$out" | tail -1)
	if [ -z "$line" ]; then
		cat "$out"
		echo "not ok $(basename "$bin") (exit $rc, no summary)"
		failed=$((failed + 1)); failures+=("$(basename "$bin")")
		continue
	fi
	n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
	e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
	bad=$((f + e))
	passed=$((passed + n - bad))
	failed=$((failed + bad))
	if [ "$bad" -gt 0 ] || [ $rc -ne 0 ]; then
		cat "$out"
		failures+=("$(basename "$bin")")
		[ "$bad" -eq 0 ] && failed=$((failed + 1))
	fi
	echo "$(basename "$bin"): $line"
done

# run_test LABEL FILE: runs one integration test file and counts its
# "ok"/"not ok" lines (an exit status without a "not ok" line is one failure).
run_test() {
	local label=$1 t=$2 out rc ok nok
	out="$tmp/$label.out"
	case "$t" in
	*.py) timeout 300 "$PY" "$t" >"$out" 2>&1 ;;
	*.sh) timeout 300 bash "$t" >"$out" 2>&1 ;;
	esac
	rc=$?
	if [ ! -f "$out" ]; then
		echo "not ok $label (its output vanished: $out)"
		failed=$((failed + 1)); failures+=("$label")
		return
	fi
	ok=$(grep -c '^ok ' "$out")
	nok=$(grep -c '^not ok ' "$out")
	passed=$((passed + ok))
	failed=$((failed + nok))
	if [ $rc -ne 0 ] && [ "$nok" -eq 0 ]; then
		echo "not ok $label (exit $rc)"
		failed=$((failed + 1))
		nok=1
	fi
	if [ "$nok" -gt 0 ]; then
		cat "$out"
		failures+=("$label")
	else
		grep -E '^(ok|skip) ' "$out" | sed "s|^|$label: |"
	fi
}

echo "== integration and lint tests"
for t in tests/integration/t_*.py tests/integration/t_*.sh; do
	[ -e "$t" ] || continue
	run_test "$(basename "$t")" "$t"
done

# The tests that read syslog lines back run again with the clock on a
# one-digit and on a two-digit day of this month (an RFC 3164 time stamp
# pads a one-digit day with a space: "Dec  1"), so the suite cannot pass
# only on some days of the month.
echo "== syslog-reading tests on a one-digit and a two-digit day"
FAKETIME_LIB=
for l in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
	[ -e "$l" ] && FAKETIME_LIB=$l && break
done
for day in 05 15; do
	# Only dgramd runs on the fake clock (the test programs' sleeps and
	# timeouts stay real): a wrapper that execs it under libfaketime.
	cat >"$tmp/dgramd-day$day" <<-EOF
	#!/bin/sh
	export LD_PRELOAD="$FAKETIME_LIB" FAKETIME="@$(date +%Y-%m)-$day 12:00:00"
	export FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_DISABLE_SHM=1
	export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
	exec "$DGRAMD" "\$@"
	EOF
	chmod +x "$tmp/dgramd-day$day"
	for t in tests/integration/t_log*.py; do
		[ -e "$t" ] || continue
		label="$(basename "$t")@day$day"
		if [ -z "$FAKETIME_LIB" ]; then
			echo "skip $label (libfaketime is not installed: make deps)"
			continue
		fi
		DGRAMD="$tmp/dgramd-day$day" DGRAMD_TEST_DAY=$day \
		    DGRAMD_TEST_FAKETIME="@$(date +%Y-%m)-$day 12:00:00" \
		    DGRAMD_TEST_FAKETIME_LIB="$FAKETIME_LIB" run_test "$label" "$t"
	done
done

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
