"""Leakage: patient ids and near-duplicate groups survive the sweep's own data
path, no trial puts one patient or one radiograph on two sides of a split, and
a sweep with `groups = no` is caught by the report.

A phantom sweep built through `[data] synth` (the path that used to drop the
patient ids), 3-fold CV with a validation carve. Read independently with h5py:
  - the data set: every image has its patient id (from synth's manifest.csv,
    read here with csv), images of one patient share a leakage group, no
    near-duplicate group spans two classes or is larger than one patient's
    views (the phantoms of different patients are different drawings);
  - every trial file: no patient id and no near-duplicate group in two of
    train, validation and test.
The demo's own phantom set (jobs/demo.ini's synth line, 6 designs x 60
patients' views at 64 px: one anatomy template, so a copy search without the
pixel check grouped different patients and designs) is made with `hipid synth`
and `hipid prep` and must have no near-duplicate group spanning patients or
classes and none larger than one patient's views; the demo's [cv] design on
it puts no patient and no copy group in two of train, validation and test.
The same job with `[cv] groups = no`: patients do straddle the splits, and the
report's leakage count (summary.json) equals the count made here from the
trial files; with groups the count is 0.
A second family with its own `val_fraction = 0` ([family] overrides [cv]):
its trials have no validation part, test the same folds as the first
family's, and train on exactly the first family's training and validation
images of the fold.
"""
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

check = testlib.check
HIPID = testlib.hipid()
ROOT = testlib.tmp_dir("leakage")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
SWEEP_ENV = dict(ENV, ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
MAX_VIEWS = 4  # synth draws 2-4 views per patient (test_synth.py)

JOB = """[job]
name = {name}
seeds = 1
[data]
path = {root}/phantom.h5
synth = classes=3,per_class=30,size=32,seed=11
[cv]
scheme = kfold
k = 3
val_fraction = 0.25
groups = {groups}
[family dnn]
model = fl,fc16,r
optimizer = adam
lr = 0.003
batch = 8
epochs = 2
[family whole]
model = fl,fc8,r
val_fraction = 0
optimizer = adam
lr = 0.003
batch = 8
epochs = 2
[run]
output = {root}/{name}
"""


def sweep(name, groups):
    job = os.path.join(ROOT, name + ".ini")
    with open(job, "w") as f:
        f.write(JOB.format(name=name, root=ROOT, groups=groups))
    r = subprocess.run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", job],
                       capture_output=True, text=True, timeout=600, env=SWEEP_ENV)
    testlib.require(r.returncode == 0, f"sweep {name} exits 0: {r.stderr[-800:]}")
    return os.path.join(ROOT, name)


def strings(ds):
    return [v.decode() if isinstance(v, bytes) else v for v in ds[()]]


def trials(results):
    out = []
    for name in sorted(os.listdir(os.path.join(results, "trials"))):
        with h5py.File(os.path.join(results, "trials", name), "r") as f:
            if f.attrs["state"] not in (b"done", "done"):
                continue
            parts = {part: f["indices/" + part][()] for part in ("train", "val", "test")}
            family = f.attrs["family"]
            family = family.decode() if isinstance(family, bytes) else str(family)
            out.append((family, int(np.ravel(f.attrs["outer"])[0]), parts))
    return out


def of_family(ts, family):
    """The parts of one family's trials, by test fold."""
    return {outer: parts for fam, outer, parts in ts if fam == family}


def straddling(parts, key):
    """Keys (patient ids or groups) found in two or more of train, val, test."""
    sides = defaultdict(set)
    for part, rows in parts.items():
        for i in rows:
            if key[i] is not None:
                sides[key[i]].add(part)
    return {k for k, s in sides.items() if len(s) > 1}


def leaks(parts, grp):
    """Test rows whose group has a member in train or val."""
    fit = {grp[i] for i in np.concatenate([parts["train"], parts["val"]])}
    return sum(1 for i in parts["test"] if grp[i] in fit)


def family_json(text, name):
    """One family of the report's JSON."""
    fams = [f for f in json.loads(text)["families"] if f.get("name") == name]
    testlib.require(len(fams) == 1, f"the report's JSON has family {name}")
    return fams[0]


def dup_members(dups):
    members = defaultdict(list)
    for i, g in enumerate(dups):
        members[g].append(i)
    return [m for m in members.values() if len(m) > 1]


def demo_phantoms():
    line = [l for l in open(os.path.join(testlib.project_root(), "jobs", "demo.ini")) if l.startswith("synth")]
    testlib.require(len(line) == 1, "jobs/demo.ini has one synth line")
    kv = dict(x.split("=") for x in line[0].split("=", 1)[1].strip().split(","))
    tree, out = os.path.join(ROOT, "demo-tree"), os.path.join(ROOT, "demo.h5")
    r = testlib.run_hipid("synth", "--out", tree, "--classes", kv["classes"], "--per-class", kv["per_class"],
                          "--size", kv["size"], "--seed", kv["seed"], timeout=600)
    testlib.require(r.returncode == 0, "hipid synth: " + r.stderr[-300:])
    r = testlib.run_hipid("prep", os.path.join(tree, "manifest.csv"), "-o", out, "--size", kv["size"], "-q",
                          timeout=1200)
    testlib.require(r.returncode == 0, "hipid prep: " + r.stderr[-300:])
    with h5py.File(out, "r") as f:
        pids, labels, dups = strings(f["patient_ids"]), f["labels"][()], f["dup_groups"][()]
        paths = strings(f["source_paths"])
    multi = dup_members(dups)
    across_pat = [m for m in multi if len({pids[i] for i in m}) > 1]
    across_cls = [m for m in multi if len({labels[i] for i in m}) > 1]
    largest = max((len(m) for m in multi), default=1)
    print(f"info demo phantom set ({len(pids)} images): {len(multi)} near-duplicate groups, largest {largest}, "
          f"{len(across_pat)} spanning patients, {len(across_cls)} spanning classes")
    check(not across_cls, "demo phantoms: no near-duplicate group spans classes: "
          + "; ".join(",".join(paths[i] for i in m) for m in across_cls[:3]))
    check(not across_pat, "demo phantoms: no near-duplicate group spans patients: "
          + "; ".join(",".join(paths[i] for i in m) for m in across_pat[:3]))
    check(largest <= MAX_VIEWS, f"demo phantoms: no group larger than one patient's views ({largest})")
    return out, pids, dups


def demo_splits(data, pids, dups):
    """jobs/demo.ini's [cv] (its splits depend on the data and [cv] only, not
    on the families) on the demo's data set, with one cheap family."""
    text = open(os.path.join(testlib.project_root(), "jobs", "demo.ini")).read()
    cv = text[text.index("[cv]"):text.index("[", text.index("[cv]") + 1)]
    job = os.path.join(ROOT, "demo-splits.ini")
    out = os.path.join(ROOT, "demo-splits")
    with open(job, "w") as f:
        f.write(f"[job]\nname = demo-splits\nseeds = 1\n[data]\npath = {data}\n{cv}\n[search]\nmode = grid\n"
                f"[family dnn]\nmodel = fl,fc8\nepochs = 1\nbatch = 16\n[run]\noutput = {out}\n")
    r = subprocess.run([HIPID, "sweep", "--quiet", job], capture_output=True, text=True, timeout=600, env=SWEEP_ENV)
    testlib.require(r.returncode == 0, f"the demo's CV design exits 0: {r.stderr[-800:]}")
    ts = trials(out)
    check(len(ts) == 5, f"the demo's 5 folds ({len(ts)} trials)")
    for k, (_, _, parts) in enumerate(ts):
        check(not straddling(parts, pids), f"demo fold {k}: no patient in two of train, val, test")
        check(not straddling(parts, [int(g) for g in dups]), f"demo fold {k}: no copy group in two of train, val, test")


def main():
    demo_splits(*demo_phantoms())
    grouped = sweep("grouped", "yes")
    data = os.path.join(ROOT, "phantom.h5")
    with h5py.File(data, "r") as f:
        pids = strings(f["patient_ids"])
        labels = f["labels"][()]
        groups = f["groups"][()]
        dups = f["dup_groups"][()] if "dup_groups" in f else None
        paths = strings(f["source_paths"])
    n = len(pids)
    check(n == 90 and all(pids), f"all {n} images carry a patient id ({sum(1 for p in pids if not p)} empty)")
    by_patient = defaultdict(set)
    for i, p in enumerate(pids):
        by_patient[p].add(groups[i])
    check(all(len(g) == 1 for g in by_patient.values()), "the views of each patient share one leakage group")
    check(dups is not None, "the data set has near-duplicate groups (dup_groups)")
    if dups is not None:
        multi = dup_members(dups)
        spans = [m for m in multi if len({labels[i] for i in m}) > 1]
        largest = max((len(m) for m in multi), default=1)
        print(f"info phantom set: {len(multi)} near-duplicate groups, largest {largest}, spanning classes {len(spans)}")
        check(not spans, "no near-duplicate group spans classes: "
              + "; ".join(",".join(paths[i] for i in m) for m in spans[:3]))
        check(largest <= MAX_VIEWS, f"no near-duplicate group is larger than one patient's views ({largest})")
    dup_key = [int(g) for g in dups] if dups is not None else [None] * n
    ts = trials(grouped)
    check(len(ts) == 6, f"6 trials done, 3 folds of 2 families ({len(ts)})")
    for k, (_, _, parts) in enumerate(ts):
        check(not straddling(parts, pids), f"trial {k}: no patient in two of train, val, test")
        check(not straddling(parts, dup_key), f"trial {k}: no near-duplicate group in two of train, val, test")
    carved, whole = of_family(ts, "dnn"), of_family(ts, "whole")
    check(sorted(carved) == [0, 1, 2] and sorted(whole) == [0, 1, 2],
          f"both families test folds 0-2 ({sorted(carved)}, {sorted(whole)})")
    for k in sorted(set(carved) & set(whole)):
        a, b = carved[k], whole[k]
        check(len(a["val"]) > 0, f"fold {k}: [cv] val_fraction = 0.25 carves a validation part ({len(a['val'])})")
        check(len(b["val"]) == 0, f"fold {k}: [family whole] val_fraction = 0 has no validation part ({len(b['val'])})")
        check(sorted(b["test"]) == sorted(a["test"]), f"fold {k}: both families test the same images")
        check(sorted(b["train"]) == sorted(np.concatenate([a["train"], a["val"]])),
              f"fold {k}: [family whole] trains on the other family's training and validation images "
              f"({len(b['train'])} against {len(a['train'])} + {len(a['val'])})")
    r = subprocess.run([HIPID, "report", grouped, "--no-plots", "--format", "json"], capture_output=True, text=True,
                       timeout=300, env=ENV)
    testlib.require(r.returncode == 0, "report exits 0: " + r.stderr[-400:])
    fam = family_json(r.stdout, "dnn")
    check(fam.get("leaks", {}).get("group") == 0, f"grouped CV: the report counts 0 leaks ({fam.get('leaks')})")

    # the negative control: the same job without groups must leak, and the report must say so
    loose = sweep("loose", "no")
    ts = list(of_family(trials(loose), "dnn").values())
    expected = sum(leaks(p, list(groups)) for p in ts)
    straddle = sum(len(straddling(p, pids)) for p in ts)
    print(f"info groups = no: {expected} test images share a patient with their model's training data, "
          f"{straddle} patients straddle a split")
    check(expected > 0, "without groups, patients straddle the splits (the check can fail)")
    r = subprocess.run([HIPID, "report", loose, "--no-plots", "--format", "json"], capture_output=True, text=True,
                       timeout=300, env=ENV)
    testlib.require(r.returncode == 0, "report exits 0: " + r.stderr[-400:])
    fam = family_json(r.stdout, "dnn")
    check(fam.get("leaks", {}).get("group") == expected,
          f"the report's leak count {fam.get('leaks')} equals the trial files' {expected}")
    md = open(os.path.join(loose, "report", "report.md")).read()
    check("**Warning: leakage.**" in md, "report.md warns about the leakage")
    counts = Counter(pids)
    check(max(counts.values()) <= MAX_VIEWS and min(counts.values()) >= 2,
          f"synth gives 2-{MAX_VIEWS} views per patient ({min(counts.values())}-{max(counts.values())})")
    testlib.done()


if __name__ == "__main__":
    main()
