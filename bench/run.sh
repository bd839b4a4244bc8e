#!/usr/bin/env bash
# make bench: hipid against its PyTorch twin (Debian's python3-torch), side by
# side in one run, then the data-pipeline benchmarks (bench/bench_*.sh).
# Each case runs in its own process (twice, alternating hipid and torch; the
# better run of each counts) so that peak memory is the case's own.
# Prints one line per case:
#   bench model=M threads=T hipid_img_s= torch_img_s= ratio= gflops= peak_gflops= hipid_rss_mb= torch_rss_mb=
# PROFILE=1 (make bench PROFILE=1) prints instead, for each preset at 1 and 2
# threads, the per-layer profile of bench_train --profile (README "Where a
# training step's time goes").
set -eu
cd "$(dirname "$0")/.."
: "${BENCH_BIN:=build/bench/bench_train}" "${HIPID:=bin/hipid}" "${PROFILE:=0}"
export HIPID
PY=/usr/bin/python3
if [ "$PROFILE" = 1 ]; then
    for model in cnn-paper dnn-paper resnet-small; do
        steps=10; [ "$model" = dnn-paper ] && steps=60
        for threads in 1 2; do
            OMP_NUM_THREADS=$threads "$BENCH_BIN" "$model" "$threads" 32 128 "$steps" --profile | grep '^profile'
        done
    done
    exit 0
fi
field() { tr " " "\n" | sed -n "s/^$1=//p"; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
for model in cnn-paper dnn-paper resnet-small; do
    steps=10; [ "$model" = dnn-paper ] && steps=60
    for threads in 1 2; do
        h_best=0 t_best=0 h_line= t_line=
        for rep in 1 2; do
            h=$(OMP_NUM_THREADS=$threads "$BENCH_BIN" "$model" "$threads" 32 128 "$steps")
            t=$(OMP_NUM_THREADS=$threads "$PY" bench/torch_train.py "$model" "$threads" 32 128 "$steps")
            hv=$(echo "$h" | field hipid_img_s); tv=$(echo "$t" | field torch_img_s)
            [ "$(best "$hv" "$h_best")" = "$hv" ] && h_best=$hv h_line=$h
            [ "$(best "$tv" "$t_best")" = "$tv" ] && t_best=$tv t_line=$t
        done
        ratio=$(awk -v a="$h_best" -v b="$t_best" 'BEGIN { printf "%.2f", a / b }')
        echo "bench model=$model threads=$threads hipid_img_s=$h_best torch_img_s=$t_best ratio=$ratio" \
             "gflops=$(echo "$h_line" | field gflops) peak_gflops=$(echo "$h_line" | field peak_gflops)" \
             "hipid_rss_mb=$(echo "$h_line" | field rss_mb) torch_rss_mb=$(echo "$t_line" | field rss_mb)"
    done
done
for b in bench/bench_*.sh; do
    [ -e "$b" ] && bash "$b"
done
exit 0
