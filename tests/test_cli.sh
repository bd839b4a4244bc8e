#!/usr/bin/env bash
# test_cli.sh: bad input through bin/hipid. Writes a small valid data set
# with h5py following the layout documented in include/hipid/dataset.h (an
# independent check of that layout), then broken variants, and checks exit
# statuses (0 ok, 1 failure, 2 usage), that messages are one line naming the
# token or file, and that nothing crashes (status >= 128) or trips a
# sanitizer.
set -u
cd "$(dirname "$0")/.."
: "${HIPID:=bin/hipid}" "${TEST_TMP:=/tmp}"
dir=$(mktemp -d "$TEST_TMP/cli.XXXXXX")
fails=0

/usr/bin/python3 - "$dir" <<'EOF' || { echo "FAIL writing data sets with h5py"; exit 1; }
import sys, h5py, numpy as np
d = sys.argv[1]
N, S, K = 24, 16, 3
rng = np.random.default_rng(0)

def write(path, drop=(), labels_dtype=np.int32, labels=None, images=None, images_dtype=np.uint8):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "hipid-dataset"
        f.attrs["format_version"] = 1
        f.attrs["image_size"] = S
        f.attrs["n_classes"] = K
        f.attrs["preprocessing"] = "none"
        f.attrs["source"] = "synth test_cli"
        y = np.arange(N) % K if labels is None else labels
        x = images if images is not None else np.zeros((N, S, S), images_dtype)
        if images is None:
            for i in range(N):  # class c: a bright block in a class-specific place
                c = i % K
                x[i, 2 + 4 * c: 6 + 4 * c, 2:14] = 220
                x[i] += rng.integers(0, 30, (S, S)).astype(images_dtype)
        st = h5py.string_dtype("utf-8")
        items = {
            "images": lambda: f.create_dataset("images", data=x, chunks=(1,) + x.shape[1:], compression="gzip"),
            "labels": lambda: f.create_dataset("labels", data=np.asarray(y).astype(labels_dtype)),
            "class_names": lambda: f.create_dataset("class_names", data=["a", "b", "c"], dtype=st),
            "groups": lambda: f.create_dataset("groups", data=np.arange(N, dtype=np.int32)),
            "patient_ids": lambda: f.create_dataset("patient_ids", data=[""] * N, dtype=st),
            "source_paths": lambda: f.create_dataset("source_paths", data=["img%d.png" % i for i in range(N)], dtype=st),
            "source_sha256": lambda: f.create_dataset("source_sha256", data=[""] * N, dtype=st),
        }
        for name, make in items.items():
            if name not in drop:
                make()

write(d + "/ok.h5")
write(d + "/no_labels.h5", drop=("labels",))
write(d + "/labels_float.h5", labels_dtype=np.float64)
write(d + "/labels_2d.h5", labels=(np.arange(N) % K).reshape(N, 1))
write(d + "/labels_short.h5", labels=np.arange(N - 1) % K)
write(d + "/labels_range.h5", labels=np.full(N, K))
write(d + "/images_float.h5", images=rng.random((N, S, S)).astype(np.float32))
write(d + "/images_shape.h5", images=np.zeros((N, S, S + 1), np.uint8))
EOF
printf 'this is not an HDF5 file\n' >"$dir/text.h5"
head -c 2000 "$dir/ok.h5" >"$dir/truncated.h5"

# run NAME EXPECTED_STATUS ARGS...: runs hipid, keeps stdout/stderr in $out/$err
run() {
    local name=$1 want=$2
    shift 2
    out="$dir/$name.out" err="$dir/$name.err"
    "$HIPID" "$@" >"$out" 2>"$err"
    local got=$?
    local ok=1
    [ "$got" -eq "$want" ] || ok=0
    if grep -qE 'Sanitizer|runtime error:|internal error' "$err"; then ok=0; fi
    [ "$got" -lt 128 ] || ok=0
    if [ "$ok" -eq 1 ]; then
        echo "  ok $name (status $got)"
    else
        echo "FAIL $name: status $got, expected $want"
        sed 's/^/    stderr: /' "$err" | head -20
        fails=$((fails + 1))
    fi
    return 0
}

# expect NAME CONDITION-DESCRIPTION: count a failure when the last command failed
expect() {
    if [ "$2" -ne 0 ]; then echo "FAIL $1"; fails=$((fails + 1)); fi
}

one_line_naming() {  # NAME WORD: stderr is one line and names WORD
    local lines
    lines=$(wc -l <"$err")
    [ "$lines" -eq 1 ] && grep -qF -- "$2" "$err"
    expect "$1: expected one stderr line naming '$2', got: $(head -c 300 "$err")" $?
}

train=(train --epochs 3 --batch 4 --threads 2 --val-fraction 0.25)

# a good run: one line per epoch
run train_ok 0 "${train[@]}" --model dnn-paper --data "$dir/ok.h5"
n=$(grep -c '^epoch' "$out")
[ "$n" -eq 3 ]
expect "train_ok: expected 3 epoch lines, found $n" $?
run train_cnn_ok 0 "${train[@]}" --model cnn-paper --data "$dir/ok.h5" --save "$dir/model.h5"
[ "$(grep -c '^epoch' "$out")" -eq 3 ] && [ -s "$dir/model.h5" ]
expect "train_cnn_ok: 3 epoch lines and a checkpoint" $?

# usage errors: exit 2, one line naming the token
run preset_unknown 2 "${train[@]}" --model cnn-papr --data "$dir/ok.h5"
one_line_naming preset_unknown cnn-papr
run spec_even_kernel 2 "${train[@]}" --model c16k4 --data "$dir/ok.h5"
one_line_naming spec_even_kernel c16k4
run spec_unknown_token 2 "${train[@]}" --model c16,zz --data "$dir/ok.h5"
one_line_naming spec_unknown_token zz
run batch_too_large 2 "${train[@]}" --batch 1000 --model dnn-paper --data "$dir/ok.h5"
grep -q -- '--batch' "$err"
expect "batch_too_large: message should name --batch" $?
run unknown_option 2 train --frobnicate --data "$dir/ok.h5"
run unknown_command 2 frobnicate
run bad_number 2 train --epochs many --data "$dir/ok.h5"
run missing_data 2 train --epochs 1

# broken data files: exit 1, message naming the file
for f in no_labels labels_float labels_2d labels_short labels_range images_float images_shape text truncated missing; do
    run "data_$f" 1 "${train[@]}" --model dnn-paper --data "$dir/$f.h5"
    grep -qF "$dir/$f.h5" "$err"
    expect "data_$f: message should name the file, got: $(head -c 300 "$err")" $?
done
grep -q 'labels' "$dir/data_no_labels.err"
expect "data_no_labels: message should name 'labels'" $?

# NaN loss
run nan_loss 1 train --epochs 3 --batch 4 --threads 2 --lr 1000 --model dnn-paper --data "$dir/ok.h5"
grep -q 'NaN' "$err"
expect "nan_loss: message should mention NaN, got: $(head -c 300 "$err")" $?

# progress reaches a log file as it is printed: the first epoch line shows up
# alone (a 4 KB stdio buffer would hold back about 40 of them)
log="$dir/progress.log"
"$HIPID" train --epochs 200 --batch 4 --threads 1 --model c32,r,c32,r,c32,r --data "$dir/ok.h5" >"$log" 2>&1 &
pid=$!
seen=0
for _ in $(seq 1 600); do
    seen=$(grep -c '^epoch' "$log")
    [ "$seen" -gt 0 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ "$seen" -ge 1 ] && [ "$seen" -lt 40 ]
expect "progress: the first epoch lines reach the log file as printed (found $seen at first sight)" $?

# help
run help 0 --help
grep -q 'train' "$out"
expect "help: should list the train command" $?
run train_help 0 train --help
grep -q -- '--data' "$out"
expect "train_help: should list --data" $?

rm -rf "$dir"
echo "summary: $fails failure(s)"
[ "$fails" -eq 0 ]
