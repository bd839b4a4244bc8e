#!/usr/bin/env bash
# Time `hipid synth` writing about 600 phantoms at 128 px (6 classes x 100),
# wall clock including process start and PNG writes. Prints one line:
#   bench synth size=128 images=<n> img_s=<x>
# Environment: HIPID (binary, default bin/hipid), OMP_NUM_THREADS (as usual).
set -euo pipefail
cd "$(dirname "$0")/.."
HIPID=${HIPID:-bin/hipid}
SIZE=128 PER_CLASS=100 CLASSES=6
out=$(mktemp -d "${TMPDIR:-/tmp}/hipid-bench-synth.XXXXXX")
trap 'rm -rf "$out"' EXIT
t0=$(date +%s.%N)
"$HIPID" synth --out "$out/set" --size $SIZE --per-class $PER_CLASS --classes $CLASSES --seed 1 >/dev/null
t1=$(date +%s.%N)
n=$(($(wc -l <"$out/set/manifest.csv") - 1))
awk -v n="$n" -v s="$SIZE" -v t0="$t0" -v t1="$t1" \
    'BEGIN { printf "bench synth size=%d images=%d img_s=%.0f\n", s, n, n / (t1 - t0) }'
