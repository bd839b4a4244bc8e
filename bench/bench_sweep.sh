#!/usr/bin/env bash
# The sweep runner, measured side by side in one run (bench/run.sh calls it):
#  1. throughput of jobs/demo.ini: mpirun -np 2 against the same trials one
#     after another in one process (-np 1); target ratio >= 1.8
#  2. data parallelism: one cnn-paper and one dnn-paper trial (128 px) with
#     ranks_per_trial 2 against 1 rank: trial time and the allreduce share
#     (time in the group's collectives / trial time, from the trial files)
#  3. what exactness costs: the same cnn-paper trial on one rank with fixed
#     micro-batches (fixed-point sums) against plain float sums (micro_batch 0)
#  4. scheduler overhead per trial: 40 trivial trials on 2 ranks; the time the
#     ranks were not training, per trial
# Prints "bench sweep ..." lines. Needs HIPID; runs as root with the Open MPI
# root variables set here (a benchmark harness, not a user command).
set -eu
cd "$(dirname "$0")/.."
: "${HIPID:=bin/hipid}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
PY=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hipid-bench-sweep.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
run() { # np job -> wall seconds
    local t0 t1
    t0=$(date +%s.%N)
    mpirun --oversubscribe -np "$1" "$HIPID" sweep --quiet "$2" >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
# 1. demo throughput; the data set is built first so that neither run pays for it
sed "s#^\[run\]#[run]\noutput = $tmp/demo_np2#" jobs/demo.ini >"$tmp/np2.ini"
sed "s#^\[run\]#[run]\noutput = $tmp/demo_np1#" jobs/demo.ini >"$tmp/np1.ini"
sed -i "s#^path = .*#path = $tmp/phantom64.h5#" "$tmp/np1.ini" "$tmp/np2.ini"
"$HIPID" synth --out "$tmp/phantom" --per-class 60 --classes 6 --size 64 --seed 1 >/dev/null
"$HIPID" prep "$tmp/phantom" -o "$tmp/phantom64.h5" --size 64 --quiet >/dev/null
s2=$(run 2 "$tmp/np2.ini")
s1=$(run 1 "$tmp/np1.ini")
trials=$(mpirun -np 1 "$HIPID" sweep --dry-run "$tmp/np1.ini" | sed -n 's/^\([0-9]*\) trial(s) in all.*/\1/p')
awk -v n="$trials" -v a="$s1" -v b="$s2" 'BEGIN { printf "bench sweep demo trials=%d np1_s=%s np2_s=%s np1_trials_per_min=%.1f np2_trials_per_min=%.1f ratio=%.2f (target >= 1.8)\n", n, a, b, 60*n/a, 60*n/b, a/b }'
# 2 and 3. one trial per preset at 128 px
"$HIPID" synth --out "$tmp/p128" --per-class 40 --classes 4 --size 128 --seed 2 >/dev/null
"$HIPID" prep "$tmp/p128" -o "$tmp/p128.h5" --size 128 --quiet >/dev/null
one_trial() { # name model ranks micro
    cat >"$tmp/$1.ini" <<EOF
[data]
path = $tmp/p128.h5
[cv]
scheme = holdout
fractions = 0.8, 0.1, 0.1
[family f]
model = $2
batch = 32
micro_batch = $4
epochs = 2
[run]
ranks_per_trial = $3
checkpoint_every = 0
output = $tmp/$1
EOF
    run "$3" "$tmp/$1.ini" >/dev/null
    $PY -c "import h5py,glob; f=h5py.File(glob.glob('$tmp/$1/trials/*.h5')[0]); print(f.attrs['seconds'], f.attrs['allreduce_seconds'])"
}
for model in cnn-paper dnn-paper; do
    read -r t1 c1 <<<"$(one_trial "${model}_r1" "$model" 1 16)"
    read -r t2 c2 <<<"$(one_trial "${model}_r2" "$model" 2 16)"
    awk -v m="$model" -v a="$t1" -v b="$t2" -v c="$c2" 'BEGIN { printf "bench sweep data-parallel model=%s micro_batch=16 rank1_s=%.2f rank2_s=%.2f speedup=%.2f allreduce_share=%.1f%%\n", m, a, b, a/b, 100*c/b }'
done
read -r tf _ <<<"$(one_trial cnn_float cnn-paper 1 0)"
read -r tx _ <<<"$(one_trial cnn_fixed cnn-paper 1 16)"
awk -v a="$tf" -v b="$tx" 'BEGIN { printf "bench sweep exactness model=cnn-paper float_sums_s=%.2f fixed_point_micro16_s=%.2f cost=%.1f%%\n", a, b, 100*(b-a)/a }'
# 4. scheduler overhead: 40 trials of one epoch of a tiny model
cat >"$tmp/tiny.ini" <<EOF
[job]
seeds = 1, 2, 3, 4
[data]
path = $tmp/phantom64.h5
[cv]
scheme = kfold
k = 5
val_fraction = 0
[family t]
model = fl
lr = 0.01, 0.001
batch = 16
epochs = 1
[run]
checkpoint_every = 0
output = $tmp/tiny
EOF
wall=$(run 2 "$tmp/tiny.ini")
$PY - "$tmp/tiny/sweep.h5" "$wall" <<'EOF'
import sys, h5py
f = h5py.File(sys.argv[1]); n = len(f["state"]); busy = f["rank_busy_seconds"][()]; el = f["rank_elapsed_seconds"][()]
print(f"bench sweep scheduler trials={n} wall_s={float(sys.argv[2]):.2f} in_sweep_s={el.max():.2f} "
      f"not_training_per_trial_ms={1000 * (el.sum() - busy.sum()) / n:.1f} (2 ranks, trivial trials)")
EOF
