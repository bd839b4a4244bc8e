#!/usr/bin/env bash
# What the live status page (results/JOB/status.html, status_html.h) costs,
# side by side in one run (bench/run.sh calls it): jobs/demo.ini cut to 4
# epochs per trial (20 trials, 2 ranks), with the page and with --no-status,
# twice each, alternating (the faster run of each counts), and the master's
# time per rewrite as the page itself reports it (mean over the run).
# Prints one "bench status ..." line. Needs HIPID; runs as root with the Open
# MPI root variables set here (a benchmark harness, not a user command).
set -eu
cd "$(dirname "$0")/.."
: "${HIPID:=bin/hipid}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hipid-bench-status.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$HIPID" synth --out "$tmp/phantom" --per-class 60 --classes 6 --size 64 --seed 1 >/dev/null
"$HIPID" prep "$tmp/phantom" -o "$tmp/phantom64.h5" --size 64 --quiet >/dev/null
run() { # name [--no-status] -> wall seconds
    local out="$tmp/$1" t0 t1
    sed -e "s#^path = .*#path = $tmp/phantom64.h5#" -e "s#^epochs = .*#epochs = 4#" \
        -e "s#^\[run\]#[run]\noutput = $out#" jobs/demo.ini >"$tmp/$1.ini"
    rm -rf "$out"
    t0=$(date +%s.%N)
    mpirun --oversubscribe -np 2 "$HIPID" sweep --quiet ${2:-} "$tmp/$1.ini" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b ? a : b) }'; }
on= off=
for rep in 1 2; do
    on=$(best "$(run on)" "$on")
    off=$(best "$(run off --no-status)" "$off")
done
cost=$(sed -n 's/.*<span id="cost">\([0-9.]*\) ms per rewrite (mean of \([0-9]*\)).*/\1 \2/p' "$tmp/on/status.html")
read -r ms n <<<"${cost:-nan 0}"
kb=$(awk -v b="$(wc -c <"$tmp/on/status.html")" 'BEGIN { printf "%.1f", b / 1024 }')
trials=$(ls "$tmp/on/trials"/*.h5 | wc -l)
awk -v a="$on" -v b="$off" -v ms="$ms" -v n="$n" -v kb="$kb" -v t="$trials" 'BEGIN {
    printf "bench status demo-4-epochs trials=%d with_page_s=%.2f no_status_s=%.2f ratio=%.3f rewrite_ms=%s rewrites=%d page_kb=%s master_share=%.3f%% (target: ratio ~1.00 within run-to-run noise)\n",
        t, a, b, a / b, ms, n, kb, 100 * ms * n / 1000 / a }'
