#!/usr/bin/env bash
# Every fuzz seed (tests/fuzz/seeds/<h>/) and every crash input found by
# fuzzing (tests/fuzz/regress/<h>/) through its harness, built without
# libFuzzer: $TEST_BIN/fuzz/fuzz_<h> (tests/fuzz/main.c; `make test` builds
# them, under SANITIZE=1 with ASan and UBSan). Fails if a harness is missing
# or any input crashes it (a sanitizer report, an abort, a signal). Inputs in
# tests/fuzz/pending/ (crashes not fixed yet) are not run.
set -u
cd "$(dirname "$0")/.."
: "${TEST_BIN:=build/tests}"
export OMP_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}"
fail=0 n_harness=0
for src in tests/fuzz/fuzz_*.c; do
    h=$(basename "$src" .c) short=${h#fuzz_}
    bin=$TEST_BIN/fuzz/$h
    if [ ! -x "$bin" ]; then
        echo "FAIL $h: $bin missing (make $bin, or make test)"
        fail=1
        continue
    fi
    n_harness=$((n_harness + 1))
    dirs=(tests/fuzz/seeds/$short)
    [ -d tests/fuzz/regress/$short ] && dirs+=(tests/fuzz/regress/$short)
    log=$(mktemp)
    if "$bin" "${dirs[@]}" >"$log" 2>&1; then
        echo "  ok $h: $(tail -1 "$log") (${dirs[*]})"
    else
        echo "FAIL $h: crashed on $(grep '^input ' "$log" | tail -1 | cut -d' ' -f2)"
        grep -vE '^input ' "$log" | tail -25 | sed 's/^/    /'
        fail=1
    fi
    rm -f "$log"
done
# the failure path works: a driver that aborts after its inputs (its
# FUZZ_SELFTEST_ABORT hook) must be reported
if [ -x "$TEST_BIN/fuzz/fuzz_prep" ] && { FUZZ_SELFTEST_ABORT=1 "$TEST_BIN/fuzz/fuzz_prep" tests/fuzz/seeds/prep; } >/dev/null 2>&1; then
    echo "FAIL: a driver that aborts exited 0"
    fail=1
fi
[ "$n_harness" -ge 9 ] || { echo "FAIL: expected 9 harnesses, found $n_harness"; fail=1; }
echo "summary: $n_harness harnesses, $(find tests/fuzz/seeds tests/fuzz/regress -type f 2>/dev/null | wc -l) inputs"
exit $fail
