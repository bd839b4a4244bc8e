#!/usr/bin/env bash
# make pretrain-shoulder: the network of jobs/shoulder.ini's `pre` family
# pretrained on shoulder phantoms, for fine-tuning on the real films
# (docs/shoulder.md, "Pretraining on shoulder phantoms"; issue #11 item 2):
#   1. hipid synth --anatomy shoulder: 200 random humeral-implant designs x 100
#      films (2-4 views per patient), 128 px, seed 12;
#   2. hipid prep: the study's steps down to 64 px (PRETRAIN_SIZE), as the real
#      films are prepared (no copy search: phantom views never repeat a film);
#   3. hipid train: 20 epochs, AdamW, cosine, label smoothing, default
#      augmentation, 10% of the patients held out; --save writes the checkpoint.
# About 10 minutes on 2 cores. Each step is skipped when its output exists, so a
# killed run resumes at the step it was in, and the training within it at its
# last epoch (hipid train's state file, shoulder-res*.state.h5). Writes under results/pretrain/
# (PRETRAIN_DIR); PRETRAIN_CLASSES, PRETRAIN_PER_CLASS and PRETRAIN_EPOCHS
# shrink it (tests/test_pretrain.py runs a small one). PRETRAIN_SIZE=128
# pretrains for 128 px films from the same phantoms (shoulder-res128.h5, about
# 25 minutes); PRETRAIN_SIZE=192 (or 160, 224, 256) from phantoms of the same
# synth command drawn at 256 px, in shoulder-phantoms256/ (shoulder-res192.h5,
# about 55 minutes). PRETRAIN_STEPS (default the study's four) prepares the
# phantoms with other prep steps, e.g. background,otsu,largest,invert,crop for
# films prepared with `[data] steps` that crop, or none for the grey film; the
# files then carry the steps in their names (shoulder-res128-none.h5).
# docs/shoulder.md, "Pretraining on shoulder phantoms", has what each measured.
# The braces make bash read the whole script before running it: editing or
# pulling it during an hour-long run cannot change what the run does next.
{
set -eu
HIPID=${1:-bin/hipid}
OUT=${PRETRAIN_DIR:-results/pretrain}
CLASSES=${PRETRAIN_CLASSES:-200}
PER_CLASS=${PRETRAIN_PER_CLASS:-100}
EPOCHS=${PRETRAIN_EPOCHS:-20}
SIZE=${PRETRAIN_SIZE:-64}
STEPS=$(printf %s "${PRETRAIN_STEPS:-background,otsu,largest,invert}" | tr -d ' ')
if [ "$STEPS" = background,otsu,largest,invert ]; then TAG=""; else TAG="-$(printf %s "$STEPS" | tr , -)"; fi
# the phantoms are drawn at 128 px for sizes up to 128, at 256 px above
case "$SIZE" in
    32 | 64 | 96 | 128) DRAW=128 PHANTOMS="$OUT/shoulder-phantoms" ;;
    160 | 192 | 224 | 256) DRAW=256 PHANTOMS="$OUT/shoulder-phantoms256" ;;
    *) echo "pretrain-shoulder.sh: PRETRAIN_SIZE must be 32, 64, 96 or 128 (phantoms drawn at 128 px) or 160, 192, 224 or 256 (drawn at 256 px), not '$SIZE'" >&2; exit 2 ;;
esac
# a crop enlarges the implant: draw the phantoms at 256 px so that it has the detail
case "$STEPS" in *crop*) DRAW=256 PHANTOMS="$OUT/shoulder-phantoms256" ;; esac
MODEL=c32k5s2,bn,r,mp2,res32,res64s2,res128s2,gap
mkdir -p "$OUT"
if [ ! -f "$PHANTOMS/manifest.csv" ]; then
    "$HIPID" synth --anatomy shoulder --out "$PHANTOMS" --force \
        --classes "$CLASSES" --per-class "$PER_CLASS" --size "$DRAW" --seed 12
fi
if [ ! -f "$OUT/shoulder-phantoms$SIZE$TAG.h5" ]; then
    "$HIPID" prep "$PHANTOMS/manifest.csv" -o "$OUT/shoulder-phantoms$SIZE$TAG.h5" \
        --size "$SIZE" --steps "$STEPS" --dup-threshold -1 -q
fi
if [ ! -f "$OUT/shoulder-res$SIZE$TAG.h5" ]; then
    "$HIPID" train --data "$OUT/shoulder-phantoms$SIZE$TAG.h5" --model "$MODEL" --epochs "$EPOCHS" --batch 64 \
        --lr 2e-3 --optimizer adamw --weight-decay 0.05 --schedule cosine --warmup 1 \
        --label-smoothing 0.1 --augment default --val-fraction 0.1 --save "$OUT/shoulder-res$SIZE$TAG.h5"
fi
echo "pretrained: $OUT/shoulder-res$SIZE$TAG.h5"
exit
}
