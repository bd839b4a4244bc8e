#!/usr/bin/env bash
# make demo: the whole pipeline on built-in data, in about two minutes on 2 cores.
#   1. hipid synth: a phantom set of AP hip radiographs, one folder per stem design
#   2. hipid prep:  PNGs -> a versioned HDF5 data set (preprocessing, leakage groups)
#   3. hipid split: one stratified, patient-grouped 60/20/20 hold-out for both models
#   4. hipid train: cnn-paper and dnn-paper on exactly that split; accuracies printed
# Output lands in results/demo/.
set -eu
HIPID=${1:-bin/hipid}
out=results/demo
mkdir -p "$out"
"$HIPID" synth --out "$out/synth" --per-class 80 --classes 6 --size 128 --seed 1 --force
"$HIPID" prep "$out/synth" -o "$out/data.h5" --size 128
"$HIPID" split --data "$out/data.h5" --scheme holdout --fractions 0.6,0.2,0.2 --seed 1 -o "$out/splits.h5"
for model in cnn-paper dnn-paper; do
    echo "== $model"
    "$HIPID" train --data "$out/data.h5" --splits "$out/splits.h5" --model "$model" \
        --epochs 20 --batch 16 --optimizer adam --lr 0.0001 --augment default \
        --save "$out/$model.h5" | tee "$out/$model.log"
done
echo
echo "demo accuracies (phantom data, one split; see README for what this does and does not show):"
for model in cnn-paper dnn-paper; do
    printf '  %-10s %s\n' "$model" "$(grep '^final' "$out/$model.log")"
done
