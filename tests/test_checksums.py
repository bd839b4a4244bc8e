"""Checksums of data sets and trial files (#16 items 6-8), checked against
h5py and hashlib (tests/trialsum.py recomputes every checksum in Python):

- a data set's images_sha256 is the SHA-256 of its images' bytes; one pixel
  changed with h5py makes loading fail in one line; a data set without the
  attribute (written before it) still loads;
- trials name their data by dataset_identity (labels, groups, images,
  preprocessing): prep again with other --steps to the same path and the old
  trials are not reused (0 done), the old folder is refused, and report says
  the data set differs;
- 80 corrupted trial files (40 one-element edits with h5py, 40 raw byte
  flips): eval, report and predict never succeed silently; a file that loads
  must hold the original's weights and predictions;
- a trial file renamed onto another trial's name: report warns and counts it
  as not done; the sweep redoes a corrupted trial, bit-identical to the first.
"""
import glob
import hashlib
import os
import random
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import h5same  # noqa: E402
import testlib  # noqa: E402
import trialsum  # noqa: E402
from testlib import check, done, require, run_hipid  # noqa: E402

ROOT = testlib.tmp_dir("checksums")
ENV = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
IMG, DATA = os.path.join(ROOT, "img"), os.path.join(ROOT, "data.h5")


def hipid(*args, **kw):
    return run_hipid(*args, timeout=120, env=ENV, **kw)


def prep(steps, out=DATA):
    p = hipid("prep", IMG, "--manifest", os.path.join(IMG, "manifest.csv"), "-o", out, "--size", "32",
              "--dup-threshold", "-1", "--steps", steps, "-q")
    require(p.returncode == 0, f"prep --steps {steps}: {p.stderr[-300:]}")


def job(name, out):
    path = os.path.join(ROOT, name + ".ini")
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = 1\n[data]\npath = {DATA}\n[cv]\nscheme = kfold\nk = 2\n"
                f"[family dnn]\nmodel = fl,fc8,r\noptimizer = sgd\nlr = 0.05, 0.02\nbatch = 4\nepochs = 2\n"
                f"[run]\noutput = {out}\n")
    return path


def lines(text):
    return [x for x in text.splitlines() if x.strip()]


# ---- the data set ------------------------------------------------------------
p = hipid("synth", "--out", IMG, "--per-class", "24", "--classes", "2", "--size", "32", "--seed", "2")
require(p.returncode == 0, f"synth: {p.stderr[-300:]}")
prep("background,otsu,largest,invert")
with h5py.File(DATA, "r") as f:
    stored = f.attrs["images_sha256"].decode()
    images = f["images"][()]
check(stored == hashlib.sha256(images.tobytes()).hexdigest(),
      "images_sha256 is hashlib.sha256 of the images' bytes as h5py reads them")

OUT1 = os.path.join(ROOT, "out1")
J1 = job("ck", OUT1)
p = hipid("sweep", "--quiet", J1)
require(p.returncode == 0, f"first sweep: {p.stderr[-400:]}")
trials = sorted(glob.glob(os.path.join(OUT1, "trials", "dnn-*.h5")))
require(len(trials) == 4, f"the sweep wrote 4 trial files ({len(trials)})")
T0, T1 = trials[0], trials[1]
with h5py.File(T0, "r") as f:
    old_id = f.attrs["data_checksum"].decode()
check(old_id == trialsum.data_identity(DATA),
      f"data_checksum is the Python dataset_identity of labels, groups, images and preprocessing ({old_id})")
for t in trials:
    with h5py.File(t, "r") as f:
        got = (f.attrs["weights_sha256"].decode(), f.attrs["predictions_sha256"].decode())
    check(got == (trialsum.trial_sha256(t, "weights"), trialsum.trial_sha256(t, "predictions")),
          f"{os.path.basename(t)}: stored checksums equal the h5py/hashlib ones")

p = hipid("eval", "--checkpoint", T0, "--data", DATA)
require(p.returncode == 0, f"eval of a healthy trial: {p.stderr}")
EVAL0 = p.stdout.replace(T0, "X")

px = os.path.join(ROOT, "pixel.h5")
shutil.copy(DATA, px)
with h5py.File(px, "r+") as f:
    f["images"][3, 10, 10] = (int(f["images"][3, 10, 10]) + 1) % 256
p = hipid("eval", "--checkpoint", T0, "--data", px)
want = f"{px}: images do not match their stored SHA-256 (changed or corrupt since prep)"
check(p.returncode == 1 and lines(p.stderr) == [f"hipid eval: {want}"],
      f"one pixel changed with h5py: load fails in one line ({p.stderr.strip()!r})")
old = os.path.join(ROOT, "old.h5")
shutil.copy(DATA, old)
with h5py.File(old, "r+") as f:
    del f.attrs["images_sha256"]
p = hipid("eval", "--checkpoint", T0, "--data", old)
check(p.returncode == 0 and p.stdout.replace(T0, "X").replace(old, DATA) == EVAL0,
      f"a data set written before images_sha256 still loads ({p.stderr.strip()})")

# ---- 80 corrupted trial files ---------------------------------------------------
rng = random.Random(16)
with h5py.File(T0, "r") as f:
    targets = []
    f.visititems(lambda n, o: targets.append(n) if isinstance(o, h5py.Dataset) and
                 (n.startswith("weights/") or n.startswith("predictions/")) else None)
    original = {n: f[n][()] for n in targets}
raw_paths = sorted(glob.glob(os.path.join(IMG, "*", "*.png")))[:2]
counts = {"checksum": 0, "hdf5": 0, "loaded": 0}
silent = []
for i in range(80):
    case = os.path.join(ROOT, f"case{i:02d}")
    shutil.copytree(OUT1, case, ignore=shutil.ignore_patterns("report"))
    victim = os.path.join(case, "trials", os.path.basename(T0))
    if i < 40:  # one element of a weight or prediction dataset, with h5py
        name = targets[i % len(targets)] if i < len(targets) else rng.choice(targets)
        with h5py.File(victim, "r+") as f:
            a = f[name][()]
            j = rng.randrange(a.size)
            a.flat[j] = a.flat[j] + (1 if a.dtype.kind in "iu" else 0.25)
            f[name][...] = a
        what = f"{name}[{j}] changed"
    else:  # raw byte flips at a random offset
        size = os.path.getsize(victim)
        off = rng.randrange(size)
        with open(victim, "r+b") as f:
            f.seek(off)
            b = f.read(1)[0]
            f.seek(off)
            f.write(bytes([b ^ rng.randrange(1, 256)]))
        what = f"byte {off} of {size} flipped"
    runs = [hipid("eval", "--checkpoint", victim, "--data", DATA),
            hipid("report", "--no-plots", case)]
    if i % 4 == 0:
        runs.append(hipid("predict", "--model", victim, "--format", "tsv", *raw_paths))
    verdicts = []
    for r in runs:
        if "do not match their checksum" in r.stderr or "unreadable (corrupt" in r.stderr:
            verdicts.append("checksum")
        elif r.returncode != 0:
            verdicts.append("hdf5")
        else:
            verdicts.append("loaded")
        if r.returncode != 0:
            check(os.path.basename(victim) in r.stderr, f"case {i} ({what}): the error names the file ({r.stderr[-200:]})")
    if i < 40:
        check(verdicts == ["checksum"] * len(runs), f"case {i} ({what}): every reader refuses by checksum ({verdicts})")
    if "loaded" in verdicts:
        # a flip in unused bytes: what was read must be the original
        try:
            with h5py.File(victim, "r") as f:
                same = all(np.array_equal(f[n][()], original[n]) for n in targets)
        except Exception:  # h5py cannot read it: hipid must not have either
            same = False
        e = runs[0]
        same = same and e.returncode == 0 and e.stdout.replace(victim, "X") == EVAL0
        if not same:
            silent.append(f"case {i} ({what}): {verdicts}")
    counts[max(set(verdicts), key=["loaded", "hdf5", "checksum"].index)] += 1
    shutil.rmtree(case)
print(f"80 corrupted trial files: {counts['checksum']} caught by the checksum, {counts['hdf5']} by HDF5's own "
      f"errors, {counts['loaded']} loaded with the original weights and predictions (flips in unused bytes)")
check(not silent, f"no changed trial file is read silently: {silent}")
check(counts["checksum"] >= 40, f"at least the 40 h5py edits are caught by the checksum ({counts})")

# ---- a trial file renamed onto another trial's name -------------------------------
ren = os.path.join(ROOT, "renamed")
shutil.copytree(OUT1, ren, ignore=shutil.ignore_patterns("report"))
p = hipid("report", "--no-plots", ren)
md = open(os.path.join(ren, "report", "report.md")).read() if p.returncode == 0 else ""
check(p.returncode == 0 and "4 of 4 planned trials done" in md, f"control: 4 of 4 done ({p.stderr[-200:]})")
shutil.move(os.path.join(ren, "trials", os.path.basename(T0)), os.path.join(ren, "trials", os.path.basename(T1)))
p = hipid("report", "--no-plots", ren)
warn = lines(p.stderr)
md = open(os.path.join(ren, "report", "report.md")).read()
check(len(warn) == 1 and "warning:" in warn[0] and os.path.basename(T1) in warn[0] and "does not match its content" in warn[0],
      f"renamed trial file: one warning line naming it ({warn})")
check("2 of 4 planned trials done (0 failed, 1 missing, 1 unreadable)" in md,
      "renamed trial file: not counted as done (2 of 4 done, 1 missing, 1 unreadable)")

# ---- the sweep redoes a corrupted trial ---------------------------------------------
keep = os.path.join(ROOT, "T1.orig.h5")
shutil.copy(T1, keep)
with h5py.File(T1, "r+") as f:
    name = [n for n in targets if n.startswith("weights/best")][0]
    a = f[name][()]
    a.flat[0] += 0.5
    f[name][...] = a
p = hipid("sweep", "--quiet", J1)
warn = [x for x in lines(p.stderr) if "warning:" in x]
check(p.returncode == 0 and len(warn) == 1 and os.path.basename(T1) in warn[0] and "checksum" in warn[0],
      f"sweep: one warning line naming the corrupted trial ({lines(p.stderr)})")
d = h5same.differences(keep, T1)
check(d == [], f"the redone trial equals the original bit for bit (checksums included): {d}")

# ---- prep again with other steps to the same path ---------------------------------------
OUT2 = os.path.join(ROOT, "out2")
os.makedirs(OUT2)
shutil.copytree(os.path.join(OUT1, "trials"), os.path.join(OUT2, "trials"))
J2 = job("ck2", OUT2)
p = hipid("sweep", "--dry-run", J2)
check(p.returncode == 0 and "4 trial(s) in all, 0 to run now" in p.stdout,
      f"control: the old trials are done for the same data ({p.stdout[-300:]}{p.stderr[-300:]})")
prep("invert")
new_id = trialsum.data_identity(DATA)
check(new_id != old_id, f"another preprocessing gives another data identity ({new_id})")
p = hipid("sweep", "--dry-run", J2)
check(p.returncode == 0 and "4 trial(s) in all, 4 to run now" in p.stdout,
      f"prep again with other --steps: the old trials are not reused ({p.stdout[-300:]}{p.stderr[-300:]})")
p = hipid("sweep", "--quiet", J1)
check(p.returncode != 0 and "another study" in p.stderr, f"the old results folder is refused ({p.stderr.strip()})")
p = hipid("report", "--no-plots", OUT1)
check("not the data set the trials were trained on" in p.stderr and "warning:" in p.stderr,
      f"report says the data set differs ({p.stderr.strip()})")

done()
