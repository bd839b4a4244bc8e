#!/usr/bin/env bash
# test_torch.sh: live cross-check of the presets against PyTorch.
# tests/torch_ref.py (Debian's /usr/bin/python3, torch) writes the reference
# file, build/tests/check_torch compares the engine with it; fails if either
# fails. Every preset at 64x64 and at the study's 128x128 (batch 8, 3
# classes); every single-pass quantity within 1e-4 at both sizes.
set -eu
cd "$(dirname "$0")/.."
: "${TEST_BIN:=build/tests}" "${TEST_TMP:=/tmp}"
dir=$(mktemp -d "$TEST_TMP/torch.XXXXXX")
for size in 64 128; do
    for preset in cnn-paper dnn-paper resnet-small; do
        /usr/bin/python3 tests/torch_ref.py "$preset" "$size" 8 3 "$dir/$preset-$size.h5"
        "$TEST_BIN/check_torch" "$dir/$preset-$size.h5" 2 | sed "s/^max /max $preset $size /"
        [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "check_torch failed for $preset at $size"; exit 1; }
    done
done
rm -rf "$dir"
