"""[family] steps and data: a family trained on its own preparation of the job's films, on real shoulder
radiographs (data/shoulder-implants), checked with h5py and hipid predict:
- the family's data set is prepared from [data] source with its steps, named after [data] path; it holds the
  same films, labels and groups as the job's data set, in the same order, and other pixels;
- its trials record that data set (path, checksum, preprocessing), train and test on the same rows as the
  other family's trials of the same fold, and their stored test probabilities are what hipid predict gives
  on the raw films with the recorded (cropping) preprocessing; each trial's key names its own data set's
  identity (recomputed with hashlib) and hashes to its name (FNV-1a in Python);
- a rerun trains nothing; the report names the family's data set and scores the job's ensemble of both;
- predict --best --ensemble is the mean of its members' own predictions, each with its own preprocessing;
- refused, in one line naming the file: a family data set of other films, one with another leakage group,
  a missing one without steps, and one prepared with other steps than the family's.
Runs with /usr/bin/python3; needs mpirun (Open MPI)."""
import glob
import json
import os
import shutil
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trialsum  # noqa: E402
from testlib import check, data_dir, done, require, run, run_hipid, sweep_or_stop, tmp_dir  # noqa: E402

TMP = tmp_dir("famdata")
SRC = data_dir("shoulder-implants")
CLASSES = sorted(d for d in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, d)))
CROP = "background, otsu, largest, invert, crop"


def strs(a):
    return [s.decode() if isinstance(s, bytes) else s for s in a]


def attr(f, name):
    v = f.attrs[name]
    return v.decode() if isinstance(v, bytes) else str(v)


def manifest(name, first, n):
    """Films first..first+n-1 (file-name order) of each class, by absolute path."""
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write("path,label\n")
        for c in CLASSES:
            for film in sorted(os.listdir(os.path.join(SRC, c)))[first:first + n]:
                f.write(f"{os.path.join(SRC, c, film)},{c}\n")
    return path


def write_job(name, families, extra_job=""):
    path = os.path.join(TMP, name + ".ini")
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = 1\n{extra_job}\n[data]\npath = {DATA}\nsource = {MANIFEST}\n"
                f"size = 48\n[cv]\nscheme = kfold\nk = 2\nval_fraction = 0\n{families}\n"
                f"[run]\noutput = {os.path.join(TMP, name)}\n")
    return path


def family(name, extra=""):
    return (f"[family {name}]\nmodel = c8,r,bn,mp2,c16,r,mp2,gap\noptimizer = adam\nlr = 0.003\nbatch = 8\n"
            f"epochs = 2\n{extra}\n")


def fnv1a64(text):
    h = 0xcbf29ce484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def sweep_np1(job):
    return run(["mpirun", "-np", "1", os.environ.get("HIPID", "bin/hipid"), "sweep", "--quiet", job], timeout=300)


MANIFEST = manifest("films.csv", 0, 8)
DATA = os.path.join(TMP, "sh.h5")
OWN = os.path.join(TMP, "sh-background-otsu-largest-invert-crop.h5")

# ---- a job of two families that differ only in their preprocessing ---------------
JOB = write_job("fam", family("ref") + family("crop", f"steps = {CROP}"), "ensemble = ref, crop")
sweep_or_stop(JOB)
require(os.path.exists(DATA) and os.path.exists(OWN), f"both data sets built ({os.listdir(TMP)})")
with h5py.File(DATA) as a, h5py.File(OWN) as b:
    same = {k: np.array_equal(a[k][()], b[k][()]) for k in ("labels", "groups", "source_paths")}
    check(all(same.values()) and a["labels"].shape == (32,), f"the family's data set holds the job's 32 films, "
          f"labels and groups in the same order ({same})")
    pre_a, pre_b = attr(a, "preprocessing"), attr(b, "preprocessing")
    check("crop(" not in pre_a and ",invert,crop(mask-bbox,square,margin=0.04)," in pre_b,
          f"prepared with the family's steps ({pre_b})")
    diff = np.abs(a["images"][()].astype(int) - b["images"][()].astype(int)).mean()
    check(diff > 5, f"and other pixels (mean |difference| {diff:.1f} grey levels)")
    own_pre = pre_b

trials = {}
for t in sorted(glob.glob(os.path.join(TMP, "fam", "trials", "*.h5"))):
    with h5py.File(t) as f:
        trials[(attr(f, "family"), int(f.attrs["outer"]))] = t
check(sorted(trials) == [("crop", 0), ("crop", 1), ("ref", 0), ("ref", 1)], f"4 trials ({sorted(trials)})")
for fold in (0, 1):
    if ("crop", fold) not in trials or ("ref", fold) not in trials:
        continue
    with h5py.File(trials[("ref", fold)]) as r, h5py.File(trials[("crop", fold)]) as c:
        check(attr(r, "data") == DATA and attr(c, "data") == OWN,
              f"fold {fold}: each trial names its data set ({attr(r, 'data')}, {attr(c, 'data')})")
        check(attr(c, "preprocessing") == own_pre and attr(r, "data_checksum") != attr(c, "data_checksum"),
              f"fold {fold}: the crop trial records its data set's preprocessing and another checksum")
        for f, path in ((r, DATA), (c, OWN)):
            key, ident = attr(f, "key"), trialsum.data_identity(path)
            check(attr(f, "data_checksum") == ident and f"\ndata {ident}\n" in key
                  and fnv1a64(key) == int(attr(f, "hash"), 16),
                  f"fold {fold}, {attr(f, 'family')}: data_checksum and key name {os.path.basename(path)}'s identity "
                  f"({ident}, hashlib) and the key hashes to the trial's name")
        rows_same = all(np.array_equal(r[k][()], c[k][()]) for k in ("indices/train", "indices/test"))
        check(rows_same, f"fold {fold}: both families train and test on the same rows (the job's folds)")

# the stored test probabilities are those of the cropped films: hipid predict re-applies the recorded
# preprocessing to the raw JPEGs
with h5py.File(DATA) as d:
    paths = strs(d["source_paths"][()])
worst = 0.0
for fold in (0, 1):
    t = trials.get(("crop", fold))
    if not t:
        continue
    with h5py.File(t) as f:
        idx, prob, names = f["predictions/test_index"][()], f["predictions/test_prob"][()], strs(f["class_names"][()])
    raw = [p if os.path.isabs(p) else os.path.join(SRC, p) for p in (paths[i] for i in idx)]
    p = run_hipid("predict", "--threads", "2", "--model", t, "--format", "json", *raw, timeout=300)
    try:
        got = np.array([[r["probs"][n] for n in names] for r in json.loads(p.stdout)])
        worst = max(worst, float(np.abs(got - prob).max()))
    except (ValueError, KeyError) as ex:
        worst = float("inf")
        print("predict:", p.returncode, p.stderr[-300:], ex)
check(worst < 1e-5, f"crop trials' stored test probabilities = hipid predict on the raw films (max diff {worst:.2e})")

# ---- a rerun trains nothing ---------------------------------------------------------
before = {t: os.path.getmtime(t) for t in trials.values()}
p = run(["mpirun", "--oversubscribe", "-np", "2", os.environ.get("HIPID", "bin/hipid"), "sweep", JOB], timeout=300)
check(p.returncode == 0 and "building" not in p.stdout and all(os.path.getmtime(t) == m for t, m in before.items()),
      f"a rerun builds and trains nothing ({p.returncode}: {p.stdout[-300:]})")

# ---- the report ---------------------------------------------------------------------
p = run_hipid("report", os.path.join(TMP, "fam"), "--no-plots", timeout=300)
md = open(os.path.join(TMP, "fam", "report", "report.md")).read() if p.returncode == 0 else ""
check(f"Family crop was trained on its own preparation of the films, {OWN}" in md and "Family ref was" not in md,
      f"the report names the crop family's data set ({p.returncode}: {p.stderr[-300:]})")
check("ensemble of ref + crop" in md, "the report scores the job's ensemble of ref and crop")

# ---- predict --best --ensemble: every member with its own preprocessing -------------------
films = [os.path.join(SRC, CLASSES[k], sorted(os.listdir(os.path.join(SRC, CLASSES[k])))[20]) for k in range(3)]
p = run_hipid("predict", "--model", os.path.join(TMP, "fam"), "--best", "--ensemble", "--format", "json", *films,
              timeout=300)
members = []
for t in trials.values():
    q = run_hipid("predict", "--model", t, "--format", "json", *films, timeout=300)
    members.append([r["probs"] for r in json.loads(q.stdout)] if q.returncode == 0 else None)
try:
    ens = [r["probs"] for r in json.loads(p.stdout)]
    gap = max(abs(ens[i][n] - np.mean([m[i][n] for m in members])) for i in range(3) for n in ens[i])
except (ValueError, KeyError, TypeError) as ex:
    gap = float("inf")
    print("ensemble:", p.returncode, p.stderr[-300:], ex)
check(gap < 1e-6 and "4 trials" in p.stderr, f"--best --ensemble = the mean of its 4 members' predictions "
      f"(max diff {gap:.2e}; {p.stderr.strip().splitlines()[:1]})")

# ---- refusals ---------------------------------------------------------------------------
other = os.path.join(TMP, "other.h5")
p = run_hipid("prep", manifest("other.csv", 8, 8), "--size", "48", "-o", other, "-q", timeout=300)
require(p.returncode == 0, "prep of 32 other films: " + p.stderr[-300:])
cases = [
    ("other-films", family("x", f"data = {other}"), f"{other}: [family x] data: expected the films of {DATA} in the "
     "same order, found another film in row 0"),
    ("other-groups", family("x", f"data = {os.path.join(TMP, 'groups.h5')}"),
     f"{os.path.join(TMP, 'groups.h5')}: [family x] data: expected the films of {DATA} in the same order, found "
     "another leakage group in row 0"),
    ("missing", family("x", f"data = {os.path.join(TMP, 'missing.h5')}"),
     f"{os.path.join(TMP, 'missing.h5')}: data set not found ([family x] data in"),
    ("other-steps", family("x", "steps = background, otsu"),
     f"{os.path.join(TMP, 'sh-background-otsu.h5')}: prepared with steps background,otsu,largest,invert, but"),
]
shutil.copy(DATA, os.path.join(TMP, "sh-background-otsu.h5"))  # in place of what steps = background, otsu makes
shutil.copy(OWN, os.path.join(TMP, "groups.h5"))  # the crop set with row 0 moved to another leakage group
with h5py.File(os.path.join(TMP, "groups.h5"), "r+") as f:
    g = f["groups"][()]
    g[0] = next(v for v in g if v != g[0])
    f["groups"][...] = g
for name, fams, want in cases:
    p = sweep_np1(write_job(name, family("ref") + fams))
    err = [ln for ln in p.stderr.splitlines() if ln.startswith("hipid")]  # not mpirun's own box
    check(p.returncode != 0 and len(err) == 1 and want in err[0],
          f"{name}: refused in one line naming the file ({p.returncode}: {err[:2]})")
    check(not glob.glob(os.path.join(TMP, name, "trials", "*.h5")), f"{name}: no trial ran")
done()
