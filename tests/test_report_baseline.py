"""hipid report says when a model learned nothing beyond the class frequencies.

One small phantom sweep (3 classes x 60, 3-fold CV) with a family that learns (a small
CNN; at 40 per class, Adam 3e-3 and 12 epochs it learned on one processor and stayed
at 0.40 on another, so it now has the margin of 60 per class, 1e-3 and 25 epochs:
0.59, binomial p < 1e-12, on an AMD EPYC) and one that cannot (the same dense net
with a learning rate of 1e-12, so its weights stay where they started). From the trial files (h5py) this test
recomputes, independently of hipid, the majority-class rate of the first pass
over the data, the correct count and scipy's exact one-sided binomial test
(scipy.stats.binomtest), and whether the training loss ever left the loss of
predicting the class frequencies; then checks that report.md warns about the
family that learned nothing and only about it, that the verdict opens with it,
and that summary.json carries the same numbers.
"""
import glob
import json
import math
import os
import subprocess
import sys

import h5py
import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

check = testlib.check
HIPID = os.path.abspath(testlib.hipid())
ROOT = testlib.tmp_dir("baseline")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
SWEEP_ENV = dict(ENV, ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0")

JOB = """[job]
name = baseline
seeds = 1
[data]
path = {root}/phantom32.h5
synth = classes=3,per_class=60,size=32,seed=5
[cv]
scheme = kfold
k = 3
val_fraction = 0.2
[family cnn]
model = c8,r,c8,r,bn,mp2,fl,fc16,r
optimizer = adam
lr = 0.001
batch = 8
epochs = 25
[family frozen]
model = fl,fc16,r
optimizer = sgd
momentum = 0
lr = 1e-12
batch = 8
epochs = 3
[run]
output = {root}/out
"""


def attr(f, k):
    v = f.attrs[k]
    return v.decode() if isinstance(v, bytes) else v


def expected(results):
    """Per family: (rate, majority class index, n, correct, p, mean accuracy, stuck trials) from the trial files."""
    by_fam = {}
    for p in sorted(glob.glob(os.path.join(results, "trials", "*.h5"))):
        with h5py.File(p, "r") as f:
            if attr(f, "state") != "done":
                continue
            y = f["predictions/test_label"][()]
            P = f["predictions/test_prob"][()]
            K = P.shape[1]
            tl = f["history/train_loss"][()]
            shares = np.bincount(y, minlength=K) / len(y)
            h = -sum(s * math.log(s) for s in shares if s > 0)
            stuck = bool(np.all(tl >= 0.95 * min(math.log(K), h)))
            by_fam.setdefault(attr(f, "family"), []).append((int(f.attrs["repeat"]), y, P.argmax(1), stuck))
    out = {}
    for fam, ts in by_fam.items():
        y = np.concatenate([t[1] for t in ts if t[0] == 0])
        pred = np.concatenate([t[2] for t in ts if t[0] == 0])
        counts = np.bincount(y)
        cls = int(np.argmax(counts))  # ties: the lower class, as hipid
        rate = counts[cls] / len(y)
        k = int((pred == y).sum())
        p = stats.binomtest(k, len(y), rate, alternative="greater").pvalue
        acc = float(np.mean([np.mean(t[2] == t[1]) for t in ts]))
        out[fam] = dict(rate=rate, cls=cls, n=len(y), k=k, p=p, acc=acc, stuck=sum(t[3] for t in ts))
    return out


def main():
    job = os.path.join(ROOT, "baseline.ini")
    with open(job, "w") as f:
        f.write(JOB.format(root=ROOT))
    r = subprocess.run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", job], capture_output=True,
                       text=True, timeout=600, env=SWEEP_ENV)
    testlib.require(r.returncode == 0, "the sweep exits 0: " + r.stderr[-600:])
    out = os.path.join(ROOT, "out")
    r = subprocess.run([HIPID, "report", out, "--format", "json"], capture_output=True, text=True, timeout=300,
                       env=ENV)
    testlib.require(r.returncode == 0, "report exits 0: " + r.stderr[-600:])
    summary = json.loads(r.stdout)
    exp = expected(out)
    md = open(os.path.join(out, "report", "report.md")).read()
    check(set(exp) == {"cnn", "frozen"}, f"both families have done trials ({sorted(exp)})")
    fams = {f["name"]: f for f in summary["families"]}
    for name, e in exp.items():
        m = fams[name]["majority"]
        print(f"info {name}: accuracy {e['acc']:.3f}, majority {e['rate']:.3f}, {e['k']}/{e['n']} right, "
              f"binomial p {e['p']:.3g}, stuck trials {e['stuck']}")
        check(m is not None, f"{name}: summary.json has the majority-class comparison")
        if m is None:
            continue
        check(abs(m["rate"] - e["rate"]) < 1e-12 and m["n"] == e["n"] and m["correct"] == e["k"],
              f"{name}: majority rate {m['rate']} / {m['correct']} of {m['n']} equal the trial files' "
              f"{e['rate']} / {e['k']} of {e['n']}")
        check(abs(m["p"] - e["p"]) <= 1e-9 * max(1e-300, e["p"]) + 1e-15,
              f"{name}: binomial p {m['p']} equals scipy's {e['p']}")
        learned = e["p"] < 0.05 and e["acc"] > e["rate"]
        check(m["learned"] == learned, f"{name}: learned = {m['learned']}, expected {learned}")
        check(fams[name]["stuck_trials"] == e["stuck"],
              f"{name}: {fams[name]['stuck_trials']} stuck trials, expected {e['stuck']}")
        warned = f"**Warning:** {name} did not learn more than the class frequencies" in md
        check(warned == (not learned), f"{name}: report.md warns {warned}, expected {not learned}")
    # the negative control of the whole check: the frozen family must be the one that learned nothing
    check("frozen" in exp and not (exp["frozen"]["p"] < 0.05), "the frozen family does not beat the majority class")
    check("cnn" in exp and exp["cnn"]["p"] < 0.05, "the CNN beats the majority class")
    check("frozen" in exp and exp["frozen"]["stuck"] == 3, "the frozen family's training loss never moved (3 trials)")
    verdict = summary["comparisons"][0]["verdict"] if summary["comparisons"] else ""
    check(verdict.startswith("frozen learned nothing beyond the class frequencies"),
          f"the verdict opens with the family that learned nothing: {verdict!r}")
    testlib.done()


if __name__ == "__main__":
    main()
