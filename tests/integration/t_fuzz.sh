#!/bin/bash
# t_fuzz.sh: a short, bounded libFuzzer pass over every tests/fuzz/fuzz-*.c
# harness (FUZZ_CHECK_SECS each, default 5), from its seeds. Prints
# "ok fuzz-NAME" or "not ok fuzz-NAME" (with the crash report) per harness,
# and "skip" when clang or its libFuzzer runtime is missing. `make fuzz`
# runs the long version.
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_CHECK_SECS:-5}

if ! command -v clang >/dev/null 2>&1; then
	echo "skip fuzz (clang not installed)"
	exit 0
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
    'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
    > "$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined -o "$probe/p" "$probe/p.c" >/dev/null 2>&1; then
	echo "skip fuzz (clang has no libFuzzer runtime: install libclang-rt-14-dev)"
	exit 0
fi

if ! make -s fuzz-bins >"$probe/build.log" 2>&1; then
	cat "$probe/build.log"
	echo "not ok fuzz-build"
	exit 1
fi
echo "ok fuzz-build"

bad=0
for src in tests/fuzz/fuzz-*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c)
	n=${name#fuzz-}
	corpus="$probe/corpus-$n"
	mkdir -p "$corpus"
	seeds=
	[ -d "tests/fuzz/corpus/$n" ] && seeds="tests/fuzz/corpus/$n"
	if timeout $((secs + 60)) "tests/fuzz/bin/$name" -max_total_time="$secs" \
	    -artifact_prefix="$probe/$n-" -print_final_stats=1 "$corpus" $seeds \
	    >"$probe/$n.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$probe/$n.log")
		echo "ok $name (${runs:-?} runs in ${secs}s)"
	else
		tail -60 "$probe/$n.log"
		for a in "$probe/$n-"*; do
			[ -e "$a" ] || continue
			echo "crashing input $(basename "$a"):"
			od -A d -c "$a" | head -20
		done
		echo "not ok $name"
		bad=1
	fi
done
exit $bad
