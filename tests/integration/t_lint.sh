#!/bin/bash
# Static analysis: cppcheck and clang-tidy report nothing on src/*/*.c
# (tests/lint.sh holds the checks). Skipped under SANITIZE=1, where the
# same sources were already checked by the plain run.
cd "$(dirname "$0")/../.."
if [ "${SANITIZE:-}" = "1" ]; then
	echo "skip lint (checked in the plain run)"
	exit 0
fi
out=$(bash tests/lint.sh 2>&1)
rc=$?
if echo "$out" | grep -q "^skip"; then
	echo "$out"
	exit 0
fi
if [ $rc -eq 0 ]; then
	echo "ok lint (cppcheck, clang-tidy)"
else
	echo "$out"
	echo "not ok lint"
	exit 1
fi
