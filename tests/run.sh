#!/bin/bash
# Runs every test: the unit tests (check), the integration tests (the real
# dgramd binary over real sockets) and the lint checks. Ends with the line
# "N passed, N failed"; exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
failures=()
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export DGRAMD="$PWD/dgramd"
export PYTHONDONTWRITEBYTECODE=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
PY=${PYTHON:-python3}
[ -x /usr/bin/python3 ] && PY=${PYTHON:-/usr/bin/python3}

echo "== unit tests"
for bin in ${UNIT_BINS:-}; do
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

echo "== integration and lint tests"
for t in tests/integration/t_*.py tests/integration/t_*.sh; do
	[ -e "$t" ] || continue
	out="$tmp/$(basename "$t").out"
	case "$t" in
	*.py) timeout 300 "$PY" "$t" >"$out" 2>&1 ;;
	*.sh) timeout 300 bash "$t" >"$out" 2>&1 ;;
	esac
	rc=$?
	if [ ! -f "$out" ]; then
		echo "not ok $(basename "$t") (its output vanished: $out)"
		failed=$((failed + 1)); failures+=("$(basename "$t")")
		continue
	fi
	ok=$(grep -c '^ok ' "$out")
	nok=$(grep -c '^not ok ' "$out")
	passed=$((passed + ok))
	failed=$((failed + nok))
	if [ $rc -ne 0 ] && [ "$nok" -eq 0 ]; then
		echo "not ok $(basename "$t") (exit $rc)"
		failed=$((failed + 1))
		nok=1
	fi
	if [ "$nok" -gt 0 ]; then
		cat "$out"
		failures+=("$(basename "$t")")
	else
		grep -E '^(ok|skip) ' "$out" | sed "s|^|$(basename "$t"): |"
	fi
done

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
