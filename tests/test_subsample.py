"""[family] subsample (subagging): each seed of a family trains on its own
stratified share of the fold's training part, drawn by whole leakage groups.

A phantom sweep through `[data] synth` (patients of 2-4 views share a
leakage group), 3-fold CV, two seeds, four families of one tiny model:
  whole   val_fraction = 0                   the reference training part
  bag     val_fraction = 0, subsample = 0.6
  val     val_fraction = 0.25                the reference with a carve
  bagval  val_fraction = 0.25, subsample = 0.7
Read independently from the trial files with h5py and counted with numpy:
  - bag tests the same images as whole and trains on a subset of whole's
    training images, no validation part; per class its share of them is
    0.6 within one leakage group's size; no leakage group is split between
    kept and dropped rows;
  - the two seeds of bag draw different subsets in every fold; together they
    cover more of the training part than either alone;
  - bagval keeps val's validation part exactly and trains on a 0.7 share of
    val's training images (the draw comes after the carve);
  - the same bag family alone in another job, on one rank instead of two,
    draws exactly the same rows (the draw depends on the fold and the seed,
    not on the ranks or the other families);
  - the report names the subsample in bag's configuration and scores the
    ensemble of its two seeds;
  - a draw that would leave a class without training images (two tiny
    classes, subsample = 0.5) stops the sweep before any trial with one
    line naming the job file, the family, the key and the fold.
"""
import json
import os
import subprocess
import sys
from collections import defaultdict

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

check = testlib.check
HIPID = testlib.hipid()
ROOT = testlib.tmp_dir("subsample")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
SWEEP_ENV = dict(ENV, ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0")

HEAD = """[job]
name = {name}
seeds = 1, 2
[data]
path = {root}/phantom.h5
synth = classes=3,per_class=60,size=32,seed=5
[cv]
scheme = kfold
k = 3
seed = 4
"""
FAMILY = """[family {name}]
model = fl,fc8,r
optimizer = adam
lr = 0.003
batch = 8
epochs = 1
val_fraction = {val}
{extra}
"""
FAMILIES = {"whole": ("0", ""), "bag": ("0", "subsample = 0.6"), "val": ("0.25", ""),
            "bagval": ("0.25", "subsample = 0.7")}


def sweep(name, families, ranks):
    text = HEAD.format(name=name, root=ROOT)
    for fam in families:
        val, extra = FAMILIES[fam]
        text += FAMILY.format(name=fam, val=val, extra=extra)
    text += f"[run]\noutput = {ROOT}/{name}\n"
    job = os.path.join(ROOT, name + ".ini")
    with open(job, "w") as f:
        f.write(text)
    r = subprocess.run(["mpirun", "--oversubscribe", "-np", str(ranks), HIPID, "sweep", "--quiet", job],
                       capture_output=True, text=True, timeout=900, env=SWEEP_ENV)
    testlib.require(r.returncode == 0, f"sweep {name} exits 0: {r.stderr[-800:]}")
    return os.path.join(ROOT, name)


def trials(results):
    """{(family, fold, seed): {"train", "val", "test": row sets}} of the done trials."""
    out = {}
    for name in sorted(os.listdir(os.path.join(results, "trials"))):
        with h5py.File(os.path.join(results, "trials", name), "r") as f:
            if f.attrs["state"] not in (b"done", "done"):
                continue
            fam = f.attrs["family"]
            fam = fam.decode() if isinstance(fam, bytes) else str(fam)
            key = (fam, int(np.ravel(f.attrs["outer"])[0]), int(np.ravel(f.attrs["seed"])[0]))
            out[key] = {p: set(int(i) for i in f["indices/" + p][()]) for p in ("train", "val", "test")}
            out[key]["subsample"] = float(np.ravel(f.attrs["subsample"])[0])
    return out


def check_share(what, kept, full, labels, groups, share, biggest):
    """kept is a subset of full, per class share of it within one group's size,
    whole groups only."""
    check(kept <= full, f"{what}: trains only on rows of the reference training part ({len(kept - full)} others)")
    for c in sorted({int(labels[i]) for i in full}):
        n_c = sum(1 for i in full if labels[i] == c)
        k_c = sum(1 for i in kept if labels[i] == c)
        check(abs(k_c - share * n_c) <= biggest,
              f"{what}: class {c} keeps {k_c} of {n_c} ({share} x {n_c} = {share * n_c:.1f}, within {biggest})")
    split = defaultdict(set)
    for i in full:
        split[int(groups[i])].add(i in kept)
    torn = [g for g, sides in split.items() if len(sides) > 1]
    check(not torn, f"{what}: no leakage group split between kept and dropped rows ({len(torn)} split)")


def main():
    res = sweep("bagging", ["whole", "bag", "val", "bagval"], 2)
    with h5py.File(os.path.join(ROOT, "phantom.h5"), "r") as f:
        labels = f["labels"][()]
        groups = f["groups"][()]
    sizes = np.bincount(groups)
    biggest = int(sizes.max())
    check(len(labels) == 180 and biggest > 1, f"180 phantoms in leakage groups of up to {biggest} views")
    ts = trials(res)
    check(len(ts) == 24, f"24 trials done: 4 families x 3 folds x 2 seeds ({len(ts)})")
    for fold in range(3):
        for seed in (1, 2):
            need = [(fam, fold, seed) for fam in FAMILIES]
            if not all(k in ts for k in need):
                check(False, f"fold {fold} seed {seed}: a trial is missing")
                continue
            whole, bag, val, bagval = (ts[k] for k in need)
            w = f"fold {fold} seed {seed}"
            check(bag["test"] == whole["test"] and bagval["test"] == whole["test"],
                  f"{w}: the subsampled families test the same images")
            check(not bag["val"] and not whole["val"], f"{w}: val_fraction 0 has no validation part")
            check(bag["subsample"] == 0.6 and whole["subsample"] == 1.0,
                  f"{w}: the trial files record subsample ({bag['subsample']}, {whole['subsample']})")
            check_share(f"{w} bag", bag["train"], whole["train"], labels, groups, 0.6, biggest)
            check(bagval["val"] == val["val"] and val["val"],
                  f"{w}: bagval keeps val's validation part ({len(bagval['val'])} against {len(val['val'])})")
            check_share(f"{w} bagval", bagval["train"], val["train"], labels, groups, 0.7, biggest)
            check(not (bag["train"] & bag["test"]) and not (bagval["train"] & (bagval["test"] | bagval["val"])),
                  f"{w}: no training row is a test or validation row")
        if ("bag", fold, 1) in ts and ("bag", fold, 2) in ts:
            a, b = ts[("bag", fold, 1)]["train"], ts[("bag", fold, 2)]["train"]
            n = len(ts[("whole", fold, 1)]["train"])
            check(a != b, f"fold {fold}: the two seeds of bag draw different subsets")
            check(len(a | b) > max(len(a), len(b)),
                  f"fold {fold}: the two seeds together train on {len(a | b)} of {n} rows, more than either "
                  f"({len(a)}, {len(b)})")

    # the same family alone, on one rank: the same draws
    alone = trials(sweep("alone", ["bag"], 1))
    same = [k for k in alone if k in ts and alone[k]["train"] == ts[k]["train"]]
    check(len(alone) == 6 and len(same) == 6,
          f"bag alone on one rank draws the same training rows in {len(same)} of {len(alone)} trials")

    r = subprocess.run([HIPID, "report", res, "--no-plots", "--format", "json"], capture_output=True, text=True,
                       timeout=300, env=ENV)
    testlib.require(r.returncode == 0, "report exits 0: " + r.stderr[-400:])
    fams = {f["name"]: f for f in json.loads(r.stdout)["families"]}
    ens = fams.get("bag", {}).get("ensemble", {})
    check(ens.get("seeds") == 2 and ens.get("folds") == 3, f"the report scores bag's ensemble of 2 seeds ({ens})")
    md = open(os.path.join(res, "report", "report.md")).read()
    check("subsample=0.6" in md and "subsample=0.7" in md, "report.md names the subsample of bag and bagval")

    tiny = os.path.join(ROOT, "tiny.ini")
    with open(tiny, "w") as f:
        f.write(f"[data]\npath = {ROOT}/tiny.h5\nsynth = classes=2,per_class=5,size=32,seed=3\n[cv]\nk = 2\n"
                f"val_fraction = 0\n[family bag]\nmodel = fl,fc8,r\nbatch = 2\nepochs = 1\nsubsample = 0.5\n"
                f"[run]\noutput = {ROOT}/tiny\n")
    r = subprocess.run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", tiny],
                       capture_output=True, text=True, timeout=300, env=SWEEP_ENV)
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("hipid sweep:")]
    check(r.returncode != 0 and len(errs) >= 1 and len(set(errs)) == 1
          and f"{tiny}: [family bag] subsample = 0.5, repeat 0, fold " in errs[0] and "too few" in errs[0],
          f"an impossible draw stops the sweep in one line naming the file, family, key and fold: "
          f"{r.returncode}, {errs[:2]}")
    trials_dir = os.path.join(ROOT, "tiny", "trials")
    check(not os.path.isdir(trials_dir) or not os.listdir(trials_dir), "no trial ran")
    testlib.done()


if __name__ == "__main__":
    main()
