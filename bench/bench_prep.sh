#!/usr/bin/env bash
# Time `hipid prep` on the shoulder X-rays (data/shoulder-implants,
# 597 JPEGs) with the default steps and a preview, and print one line:
#   bench prep images=<n> img_s=<images per second, wall clock> peak_rss_mb=<max RSS>
# Peak RSS comes from /usr/bin/time -v (the `time` package).
# Environment: HIPID (binary, default bin/hipid), PREP_SRC (another folder).
set -eu
cd "$(dirname "$0")/.."
HIPID=${HIPID:-bin/hipid}
SRC=${PREP_SRC:-data/shoulder-implants}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hipid-bench-prep.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
/usr/bin/time -v -o "$tmp/time.txt" "$HIPID" prep "$SRC" -o "$tmp/out.h5" --preview "$tmp/preview.png" -q \
    >"$tmp/out.txt" 2>"$tmp/err.txt" || { cat "$tmp/err.txt" >&2; exit 1; }
n=$(sed -n 's/^prep: \([0-9]*\) images .*/\1/p' "$tmp/out.txt")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/time.txt" |
       awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/time.txt")
awk -v n="$n" -v w="$wall" -v r="$rss_kb" \
    'BEGIN { printf "bench prep images=%d img_s=%.1f peak_rss_mb=%.1f\n", n, n / w, r / 1024 }'
