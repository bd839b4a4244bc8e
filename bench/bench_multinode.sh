#!/usr/bin/env bash
# Data-parallel training across hosts, measured side by side in one run
# (bench/run.sh calls it when it runs as root): one trial of cnn-paper and of
# dnn-paper (128 px, batch 32 as 2 micro-batches of 16, 2 epochs) with
#   - 1 rank (the baseline),
#   - 2 ranks on one host (shared memory),
#   - 2 ranks on two namespace hosts of tests/multinode/netns.sh, links at
#     1 Gbit/s (tc tbf),
# each with gradient_sum fixed64 (8 bytes a parameter) and fixed32 (4).
# Prints per case the bytes each rank sends into a step's collectives, the
# time in collectives and the training time per step, the speedup over one
# rank, and the cost model's prediction (hipid sweep --dry-run on the same
# hosts: the link it measures between them) with predicted / measured.
# Needs root (network namespaces), HIPID, mpirun, ip, tc, unshare.
set -u
cd "$(dirname "$0")/.."
HIPID=$(realpath "${HIPID:-bin/hipid}")
RATE=${HIPID_TEST_RATE:-1gbit}
PY=/usr/bin/python3
if [ "$(id -u)" -ne 0 ]; then echo "bench multinode: skipped (needs root for network namespaces)"; exit 0; fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hipid-bench-mn.XXXXXX") || exit 1
. tests/multinode/netns.sh
trap 'net_down; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
net_up || { echo "bench multinode: could not build the test network" >&2; exit 1; }

"$HIPID" synth --out "$tmp/p128" --per-class 40 --classes 4 --size 128 --seed 2 >/dev/null
"$HIPID" prep "$tmp/p128" -o "$tmp/p128.h5" --size 128 --quiet >/dev/null
job() { # name model ranks_per_trial gradient_sum -> the job file
    cat >"$tmp/$1.ini" <<EOF
[data]
path = $tmp/p128.h5
[cv]
scheme = holdout
fractions = 0.8, 0.1, 0.1
[family f]
model = $2
batch = 32
micro_batch = 16
epochs = 2
gradient_sum = $4
[run]
ranks_per_trial = $3
threads = 1
checkpoint_every = 0
output = $tmp/$1
EOF
    echo "$tmp/$1.ini"
}
# measure TRIALDIR: steps, s of training per step, s of collectives per step, bytes per step
measure() {
    $PY - "$1" <<'EOF'
import glob, math, sys, h5py
f = h5py.File(glob.glob(sys.argv[1] + "/trials/*.h5")[0])
steps = int(f.attrs["epochs_run"]) * math.ceil(len(f["indices/train"]) / int(f.attrs["batch"]))
train = float(f["history/seconds"][()].sum())
comm = float(f.attrs["allreduce_seconds"])
np_ = nb = nt = 0
def visit(name, obj):
    global np_, nb, nt
    if isinstance(obj, h5py.Dataset) and name.startswith("weights/last/"):
        if "running" in name.rsplit("/", 1)[-1]: nb += obj.size
        else: np_ += obj.size; nt += 1
f.visititems(visit)
s = f.attrs["gradient_sum"]; s = s.decode() if isinstance(s, bytes) else s
b = (np_ + nb + 3) * 8 if s == "fixed64" else np_ * 4 + (nb + 3) * 8 + (nt + 1) * 4
print(steps, train / steps, comm / steps, b)
EOF
}
two_hosts="$NET.2:1,$NET.3:1"
for model in cnn-paper dnn-paper; do
    for sum in fixed64 fixed32; do
        n=${model%%-*}_$sum
        on_hosts "$NET.2:1" 1 "$HIPID" sweep --quiet "$(job "${n}_r1" "$model" 1 "$sum")" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
        mpirun --oversubscribe -np 2 "$HIPID" sweep --quiet "$(job "${n}_local" "$model" 2 "$sum")" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
        on_hosts "$two_hosts" 2 "$HIPID" sweep --quiet "$(job "${n}_hosts" "$model" 2 "$sum")" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
        # the cost model on the same two hosts: the link it measures there
        on_hosts "$two_hosts" 2 "$HIPID" sweep --dry-run "$tmp/${n}_hosts.ini" >"$tmp/dry" 2>&1 || { cat "$tmp/dry"; exit 1; }
        read -r _ t1 _ _ <<<"$(measure "$tmp/${n}_r1")"
        read -r _ tl cl b <<<"$(measure "$tmp/${n}_local")"
        read -r _ th ch _ <<<"$(measure "$tmp/${n}_hosts")"
        link=$(sed -n 's/.*(link \([^,]*\) Gbit\/s, \([^ ]*\) us.*/\1 \2/p' "$tmp/dry")
        pred=$(awk '/^data parallel/ { t = 1 } t && $1 == "f" { print $6 / 1000 }' "$tmp/dry")
        awk -v m="$model" -v s="$sum" -v b="$b" -v t1="$t1" -v tl="$tl" -v cl="$cl" -v th="$th" -v ch="$ch" \
            -v link="$link" -v pred="$pred" 'BEGIN {
            split(link, L, " ");
            printf "bench multinode model=%s gradient_sum=%s bytes_per_step=%.1fMB rank1_step_ms=%.1f " \
                   "one_host: step_ms=%.1f collectives_ms=%.1f speedup=%.2f  two_hosts_%s: step_ms=%.1f collectives_ms=%.1f speedup=%.2f " \
                   "predicted_ms=%.1f (link measured %s Gbit/s, %s us) predicted/measured=%.2f\n",
                   m, s, b / 1e6, 1e3 * t1, 1e3 * tl, 1e3 * cl, t1 / tl, "'"$RATE"'", 1e3 * th, 1e3 * ch, t1 / th,
                   1e3 * pred, L[1], L[2], pred / th }'
    done
done
