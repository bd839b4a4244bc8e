#!/usr/bin/env bash
# hipid prep on bad input: corrupt, truncated, empty, non-image, too small and
# blank files are skipped with one clear line each (or fail under --strict);
# an empty class folder, a class with nothing usable, a manifest with a
# missing file or no header, and usage mistakes give a message and the right
# exit status (0 ok, 1 failure, 2 usage) and never a crash. Run under the
# sanitizer build by `make test SANITIZE=1` (HIPID points there).
# Environment: HIPID, TEST_TMP, HIPID_ROOT.
set -u
HIPID=${HIPID:-bin/hipid}
ROOT=${HIPID_ROOT:-.}
SRC="$ROOT/data/shoulder-implants"
T="${TEST_TMP:-/tmp}/prep_errors"
rm -rf "$T"
mkdir -p "$T"
fails=0

fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# run NAME EXPECTED_STATUS ARGS...: output in $T/NAME.out and .err
run() {
    local name=$1 want=$2
    shift 2
    "$HIPID" prep "$@" >"$T/$name.out" 2>"$T/$name.err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit status $rc, expected $want"
        sed 's/^/    /' "$T/$name.err" | tail -20
    fi
    if [ "$rc" -ge 128 ] || grep -q -E "Sanitizer|runtime error|Segmentation|Aborted" "$T/$name.err"; then
        fail "$name: crashed or sanitizer report (status $rc)"
    fi
}

# expect NAME FILE REGEX: the file has a line matching REGEX
expect() {
    grep -q -E -- "$3" "$T/$1.$2" || { fail "$1: no line matching '$3' in $2"; sed 's/^/    /' "$T/$1.$2" | head -20; }
}

# a tree with 3 good images per class and every kind of bad file in class a
tree="$T/tree"
mkdir -p "$tree/a" "$tree/b"
cp "$SRC"/Cofield/Cofield.{1,2,3}.jpg "$tree/a/"
cp "$SRC"/Zimmer/Zimmer.{1,2,3}.jpg "$tree/b/"
jpg="$SRC/Depuy/Depuy.1.jpg"
head -c $(($(stat -c %s "$jpg") / 2)) "$jpg" >"$tree/a/truncated.jpg"
head -c 3000 /dev/urandom >"$tree/a/corrupt.jpg"
: >"$tree/a/empty.png"
echo "scanned on 2019-03-04, see ticket 12" >"$tree/a/notes.txt"
echo "hidden files are ignored" >"$tree/a/.DS_Store"
/usr/bin/python3 - "$tree/a" "$jpg" <<'EOF'
import sys
import numpy as np
from PIL import Image
d, jpg = sys.argv[1], sys.argv[2]
Image.fromarray(np.full((20, 300), 90, np.uint8)).save(d + "/tiny.png")      # 20 px high
Image.fromarray(np.full((200, 200), 90, np.uint8)).save(d + "/blank.png")    # nothing to segment
Image.open(jpg).convert("L").save(d + "/full.png")
b = open(d + "/full.png", "rb").read()
open(d + "/truncated.png", "wb").write(b[: len(b) // 2])
EOF
rm "$tree/a/full.png"

run skips 0 "$tree" -o "$T/skips.h5"
expect skips err '^skip a/corrupt.jpg: not an image libvips can read'
expect skips err '^skip a/empty.png: empty file \(0 bytes\)'
expect skips err '^skip a/notes.txt: not an image libvips can read'
expect skips err '^skip a/truncated.jpg: cannot decode pixels \(truncated or corrupt\?\) \(libvips: .*Premature end'
expect skips err '^skip a/truncated.png: cannot decode pixels \(truncated or corrupt\?\)'
expect skips err '^skip a/tiny.png: too small: 300x20 px \(--min-size 32\)'
expect skips err '^skip a/blank.png: near-empty mask: 0.00% of pixels kept'
expect skips out '^prep: 6 images 128x128 in 2 classes, 7 skipped, '
[ "$(grep -c '^skip ' "$T/skips.err")" -eq 7 ] || fail "skips: expected exactly 7 skip lines"
grep -q DS_Store "$T/skips.err" && fail "skips: hidden file reported"
/usr/bin/python3 -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
assert f['images'].shape[0] == 6, f['images'].shape
assert len(f['skipped']) == 7 and all(b': ' in s for s in f['skipped'][:]), f['skipped'][:]
" "$T/skips.h5" || fail "skips: output should hold 6 images and 7 'skipped' entries"

# a lower --min-size accepts the 20 px image; --steps none accepts the blank one
run minsize 0 "$tree" -o "$T/minsize.h5" --min-size 16 --steps none
expect minsize out '^prep: 8 images 128x128 in 2 classes, 5 skipped, '

# --strict: any skip is an error, nothing written
run strict 1 "$tree" -o "$T/strict.h5" --strict
expect strict err '^hipid prep: 7 file\(s\) skipped \(listed above\) and --strict is set; nothing written$'
[ -e "$T/strict.h5" ] && fail "strict: output written despite --strict"
ls "$T" | grep -q 'strict.h5.tmp' && fail "strict: temporary file left behind"

# an empty class folder is an error naming it
mkdir -p "$T/emptyclass/a" "$T/emptyclass/b"
cp "$SRC"/Cofield/Cofield.1.jpg "$T/emptyclass/a/"
run emptyclass 1 "$T/emptyclass" -o "$T/x.h5"
expect emptyclass err "^hipid prep: .*/emptyclass/b: empty class folder \(class 'b' has no files\)"

# a class whose files are all unusable is an error naming the class
mkdir -p "$T/nousable/a" "$T/nousable/b"
cp "$SRC"/Cofield/Cofield.1.jpg "$T/nousable/a/"
cp "$tree/a/corrupt.jpg" "$tree/a/empty.png" "$T/nousable/b/"
run nousable 1 "$T/nousable" -o "$T/x.h5"
expect nousable err "^hipid prep: class 'b' has no usable image"

# a folder without class folders
mkdir -p "$T/flat"
cp "$SRC"/Cofield/Cofield.1.jpg "$T/flat/"
run flat 1 "$T/flat" -o "$T/x.h5"
expect flat err "^hipid prep: .*/flat: no class folders found"

# manifest: a missing file is a skip naming the row (line) number and path
cat >"$tree/list.csv" <<'EOF'
path,label,patient_id
a/Cofield.1.jpg,a,p1
a/Cofield.2.jpg,a,p2
a/gone.jpg,a,p3
b/Zimmer.1.jpg,b,p4
"b/Zimmer.2.jpg",b,p5
EOF
run manifest 0 "$tree/list.csv" -o "$T/manifest.h5"
expect manifest err '^skip a/gone.jpg: manifest row 4: cannot open: no such file$'
expect manifest out '^prep: 4 images 128x128 in 2 classes, 1 skipped, '
run manifest_strict 1 "$tree/list.csv" -o "$T/manifest_strict.h5" --strict
expect manifest_strict err '^skip a/gone.jpg: manifest row 4: '
# --manifest with SRC as the image root
cp "$tree/list.csv" "$T/elsewhere.csv"
run manifest_opt 0 "$tree" --manifest "$T/elsewhere.csv" -o "$T/manifest_opt.h5"
expect manifest_opt out '^prep: 4 images 128x128 in 2 classes, 1 skipped, '

# manifest problems that are errors
printf 'a/Cofield.1.jpg,a\n' >"$T/noheader.csv"
run noheader 1 "$T/noheader.csv" -o "$T/x.h5"
expect noheader err '^hipid prep: .*/noheader.csv:1: expected a header row naming the columns path,label'
printf 'path,label\na/Cofield.1.jpg\n' >"$T/short.csv"
run shortrow 1 "$T/short.csv" -o "$T/x.h5"
expect shortrow err '^hipid prep: .*/short.csv:2: expected a path and a label'
printf 'path,label\n"a/Cofield.1.jpg,a\n' >"$T/quote.csv"
run quote 1 "$T/quote.csv" -o "$T/x.h5"
expect quote err 'unterminated quoted field'

# usage and environment mistakes
run nosrc 1 "$T/does-not-exist" -o "$T/x.h5"
expect nosrc err 'no such folder or manifest file'
run badsteps 2 "$tree" -o "$T/x.h5" --steps otsu,blur
expect badsteps err "unknown step 'blur'"
run noout 2 "$tree"
expect noout err '-o/--output is required'
run badsize 2 "$tree" -o "$T/x.h5" --size 0
run outdir 1 "$tree" -o "$T/no/such/dir/x.h5"
expect outdir err 'cannot write into folder'
run help 0 --help
expect help out '^usage: hipid prep SRC -o OUT.h5'

echo "summary prep errors: $fails failure(s)"
[ "$fails" -eq 0 ]
