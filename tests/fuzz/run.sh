#!/usr/bin/env bash
# Run libFuzzer harnesses (built by `make fuzz-build` into build/fuzz/) one
# after the other, each for SECONDS, on its seeds (tests/fuzz/seeds/<h>/)
# (<h> without fuzz_) and a corpus that grows in build/fuzz/corpus/<h>/. Crashes land in
# build/fuzz/crashes/<h>/; minimise one with
#   build/fuzz/<h> -minimize_crash=1 -runs=10000 CRASH
# and add it to tests/fuzz/regress/<h without fuzz_>/ (tests/test_fuzz_regress.sh runs it).
# Prints one line per harness (runs, seconds, new corpus files, crashes) and
# exits 1 if any harness crashed.
# Usage: tests/fuzz/run.sh SECONDS HARNESS...
# With FUZZ_RUNS=N set instead, each harness runs exactly N inputs from
# libFuzzer's seed 1 on a fresh corpus (the seeds only): the same inputs on
# every machine, so a CI pass is repeatable and a crash it reports can be
# reproduced (what CI runs; the timed form explores further).
set -u
cd "$(dirname "$0")/../.."
secs=$1; shift
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}"
export OMP_NUM_THREADS=1
crashed=()
for h in "$@"; do
    corpus=build/fuzz/corpus/$h crashes=build/fuzz/crashes/$h log=build/fuzz/$h.log
    budget=(-max_total_time="$secs")
    if [ -n "${FUZZ_RUNS:-}" ]; then
        corpus=build/fuzz/corpus-runs/$h budget=(-runs="$FUZZ_RUNS" -seed=1)
        rm -rf "$corpus"
    fi
    mkdir -p "$corpus" "$crashes"
    t0=$SECONDS
    # absurd sizes (a spec c99999) are out-of-memory reports, not hangs:
    # -rss_limit_mb / -malloc_limit_mb turn them into crashes to look at
    build/fuzz/$h "${budget[@]}" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "tests/fuzz/seeds/${h#fuzz_}" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    n_crash=$(find "$crashes" -type f | wc -l)
    printf 'fuzz %-16s %8s runs %4ds  corpus %5d  crash files %d  exit %d\n' "$h" "${runs:-?}" \
        $((SECONDS - t0)) "$(find "$corpus" -type f | wc -l)" "$n_crash" "$rc"
    if [ "$rc" -ne 0 ]; then
        crashed+=("$h")
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 | sed 's/^/    /'
    fi
done
[ ${#crashed[@]} -eq 0 ] || { echo "fuzz: crashed: ${crashed[*]} (logs in build/fuzz/<harness>.log)"; exit 1; }
