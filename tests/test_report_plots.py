"""The report's plots on a tiny 3-family sweep (4 classes, repeated 3-fold x 2,
early stopping in two families), read back from their SVGs and data files
and checked against numbers recomputed here from the trial files (h5py,
numpy, scipy, scikit-learn): every plot's PNG and SVG at its documented size;
fold_scores: one pairing line per CV unit, one point per selected test fold,
the chance levels, the corrected intervals; roc: the per-class and macro
AUCs of the pooled out-of-fold predictions; learning_curves: the folds that
ran each epoch (bar heights too), lines drawn over the bands; posterior:
the three probabilities of the Bayesian correlated t-test and the rope;
cd_diagram: the average ranks, the critical difference (bar length in rank
units), Friedman's p and the cliques. Then the same results without one
family (no cd_diagram, one posterior panel), and negative controls: each
SVG check run on a tampered copy must fail.
Runs with /usr/bin/python3; needs mpirun (Open MPI) and gnuplot."""
import glob
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET

import h5py
import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trialsum  # noqa: E402
from testlib import check, done, hipid, png_size, require, run, run_hipid, tmp_dir  # noqa: E402

HIPID = hipid()
ROOT = tmp_dir("report_plots")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
SWEEP_ENV = dict(ENV, ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
ROPE = 0.01
FAMS = ["cnn", "dnn", "lin"]
# sizes documented in report.h / report_plot.h (REPORT_*), F families, P pairs
LC_W, LC_H, FOLDS_W, FOLDS_H, PANEL = 1000, 330, 900, 420, 440
POST_W, POST_H, CD_W, CD_H, CD_HF = 460, 380, 800, 160, 30
FOLDS_RGB, PAIR_RGB, ROPE_RGB = "rgb(201, 180,  88)", "rgb(187, 187, 187)", "rgb(153, 153, 153)"

JOB = """[job]
name = plots
seeds = 1
[data]
path = {data}
synth = classes=4,per_class=24,size=32,seed=3
[cv]
scheme = repeated
k = 3
repeats = 2
val_fraction = 0.2
[family cnn]
model = c8,r,c8,r,bn,mp2,fl,fc16,r,do0.3
optimizer = adam
lr = 0.003
batch = 8
epochs = 8
patience = 2
[family dnn]
model = fl,fc32,r,do0.5
optimizer = sgd
lr = 0.05
batch = 8
epochs = 8
patience = 1
[family lin]
model = fl,fc16,r
optimizer = adam
lr = 0.001
batch = 8
epochs = 8
[run]
output = {out}
"""


def svg_size(path):
    root = ET.parse(path).getroot()
    return int(float(root.get("width"))), int(float(root.get("height")))


def texts(svg):
    """Every <text> of an SVG, in document order, tags stripped."""
    return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]


def group(svg, gid):
    """The markup of gnuplot's <g id="gid"> up to the next plot group."""
    i = svg.find(f'<g id="{gid}"')
    if i < 0:
        return ""
    j = svg.find('<g id="gnuplot_plot_', i + 10)
    return svg[i:j if j > 0 else len(svg)]


def load_trials(results):
    out = []
    for p in sorted(glob.glob(os.path.join(results, "trials", "*.h5"))):
        with h5py.File(p, "r") as f:
            if f.attrs["state"] != b"done":
                continue
            P = f["predictions/test_prob"][()].astype(np.float64)
            y = f["predictions/test_label"][()]
            out.append(dict(family=f.attrs["family"].decode(), unit=(int(f.attrs["repeat"]), int(f.attrs["outer"]),
                                                                    int(f.attrs["seed"])),
                            y=y, P=P, pred=P.argmax(1), n_epochs=len(f["history/train_loss"]),
                            n_fit=len(f["indices/train"]) + len(f["indices/val"])))
    for t in out:
        t["m"] = [accuracy_score(t["y"], t["pred"]), balanced_accuracy_score(t["y"], t["pred"]),
                  f1_score(t["y"], t["pred"], average="macro", zero_division=0),
                  roc_auc_score(t["y"], t["P"], multi_class="ovr", average="macro", labels=range(t["P"].shape[1]))]
    return out


def by_family(trials):
    """family -> {unit: trial} (one configuration per family: every outer trial is selected)."""
    d = {}
    for t in trials:
        d.setdefault(t["family"], {})[t["unit"]] = t
    return d


def read_dat(path):
    return np.array([[float(v) for v in l.split()] for l in open(path) if l.strip() and not l.startswith("#")])


def num(s, pat):
    m = re.search(pat, s)
    return float(m.group(1)) if m else None


# ---- the checks: each returns (ok, message) so the negative controls can call them on tampered files ----

def check_pairs(svg, n_units, n_points):
    """fold_scores: in each of the 4 metric panels (a-d), plot 2 (the pairing lines) has one subpath per unit and
    plot 3 one point per selected test fold; the pairing lines are drawn before the points, the points before the
    interval bars."""
    got = []
    for p in "abcd":
        lines = group(svg, f"gnuplot_plot_2{p}")
        got.append((lines.count("M") if PAIR_RGB in lines else -1, group(svg, f"gnuplot_plot_3{p}").count("<use")))
    order = all(svg.find(f"gnuplot_plot_2{p}") < svg.find(f"gnuplot_plot_3{p}") < svg.find(f"gnuplot_plot_4{p}")
                for p in "abcd")
    ok = all(g == (n_units, n_points) for g in got) and order
    return ok, f"fold_scores: (pairing lines, points) per panel {got} == ({n_units}, {n_points}), drawn in order"


def check_roc(svg, ref_class, ref_macro):
    """roc: legend 'C vs rest: AUC x' per family (job order) and the title's pooled macro AUC, to 3 decimals."""
    t = texts(svg)
    cls = [float(v) for v in re.findall(r"vs rest: AUC ([0-9.]+)", " | ".join(t))]
    mac = [float(v) for v in re.findall(r"pooled out-of-fold AUC ([0-9.]+)", " | ".join(t))]
    want = [a for f in ref_class for a in f]
    ok = len(cls) == len(want) and np.allclose(cls, want, atol=6e-4) and np.allclose(mac, ref_macro, atol=6e-4)
    return ok, f"roc: per-class AUCs {cls} and macro {mac} == sklearn {np.round(want, 3).tolist()} {np.round(ref_macro, 3).tolist()}"


def bar_heights(panel):
    """Heights in pixels of the folds-per-epoch bars (polygons in FOLDS_RGB) of one panel group."""
    hs = []
    for pts in re.findall(r"fill = '" + re.escape(FOLDS_RGB) + r"'[^>]*points = '([^']*)'", panel):
        ys = [float(p.split(",")[1]) for p in pts.split()]
        hs.append(max(ys) - min(ys))
    return hs


def check_epochs(svg, counts):
    """learning_curves: family i's loss panel (plot group 1 of panel 2i+1) has one bar per epoch, heights in
    proportion to the folds that ran it; the train line (plot 4) comes after both bands (plots 2, 3)."""
    ok, got = True, []
    for i, c in enumerate(counts):
        p = chr(ord("a") + 2 * i)
        hs = bar_heights(group(svg, f"gnuplot_plot_1{p}"))
        got.append(hs)
        ok &= len(hs) == len(c) and len(hs) > 0 and np.allclose(np.array(hs) / hs[0], np.array(c) / c[0], atol=0.02)
        ok &= svg.find(f"gnuplot_plot_3{p}") < svg.find(f"gnuplot_plot_4{p}")
    return ok, f"learning_curves: bar heights {[[round(h) for h in x] for x in got]} proportional to folds per epoch {counts}"


def check_posterior(svg, refs):
    """posterior: per pair, the key's three probabilities (to 3 decimals) and the rope's grey fill and label."""
    t = " | ".join(texts(svg))
    got = [(float(a), float(b), float(c)) for a, b, c in
           re.findall(r"better\) = ([0-9.]+) \| P\(equivalent, within the rope\) = ([0-9.]+) \| P\(\S+ better\) = ([0-9.]+)", t)]
    ok = len(got) == len(refs) and all(np.allclose(g, r, atol=6e-4) for g, r in zip(got, refs))
    ok &= svg.count(ROPE_RGB) >= len(refs) and t.count(f"rope ±{ROPE:g}") == len(refs)
    return ok, f"posterior: P(b better), P(rope), P(a better) {got} == {[tuple(np.round(r, 3)) for r in refs]}"


def cd_geometry(svg):
    """(axis x0, px per rank, CD bar length in px, clique extents, vertical family lines' x)."""
    segs = [(float(a), float(b), float(c), float(d), w) for w, a, b, c, d in re.findall(
        r'stroke-width="([0-9.]+)"[^>]*>\s*<path[^>]*d=\'M([0-9.]+),([0-9.]+) L([0-9.]+),([0-9.]+)', svg)]
    flat = [s for s in segs if s[1] == s[3] and s[4] == "1.50"]
    axis = min(flat, key=lambda s: s[1])  # the top-most: family lines run below it
    return segs, axis


def check_cd(svg, ranks, cd, p, cliques):
    t = texts(svg)
    s = " | ".join(t)
    names = {n: float(v) for n, v in re.findall(r"(\w+)  ([0-9.]+)", s)}
    names.update({n: float(v) for v, n in re.findall(r"([0-9.]+)  (\w+)", s)})
    cd_txt = num(s, r"CD = ([0-9.]+)")
    p_txt = num(s, r"Friedman p = ([0-9.]+)")
    ok = all(abs(names.get(f, -9) - r) < 6e-3 for f, r in ranks.items())
    ok &= cd_txt is not None and abs(cd_txt - cd) < 6e-4 and p_txt is not None and abs(p_txt - p) < 6e-4
    # drawn lengths: the axis spans ranks 1..K' (integer tics), the CD bar CD ranks, cliques join ranks
    segs, axis = cd_geometry(svg)
    n_tics = sum(1 for x in t if re.fullmatch(r"\d+", x))
    px = (axis[2] - axis[0]) / (n_tics - 1)
    bar = [s for s in segs if s[1] == s[3] and s[4] == "2.50"]
    ok &= len(bar) == 1 and abs((bar[0][2] - bar[0][0]) / px - cd) < 0.01
    thick = sorted((s[0], s[2]) for s in segs if s[4] == "5.00")
    want = sorted((axis[0] + (lo - 1) * px - 5, axis[0] + (hi - 1) * px + 5) for lo, hi in cliques)
    ok &= len(thick) == len(want) and all(abs(a - c) < 1.5 and abs(b - d) < 1.5 for (a, b), (c, d) in zip(thick, want))
    return ok, (f"cd_diagram: ranks {names} == {ranks}, CD {cd_txt} == {cd:.3f} (bar {len(bar)}), Friedman p {p_txt} == "
                f"{p:.3f}, cliques {len(thick)} == {len(want)} {cliques}")


def run_check(res):
    ok, msg = res
    check(ok, msg)
    print(("ok   " if ok else "FAIL ") + msg)


# ---- the sweep and the report ----

data = os.path.join(ROOT, "data.h5")
results = os.path.join(ROOT, "plots")
job = os.path.join(ROOT, "plots.ini")
with open(job, "w") as f:
    f.write(JOB.format(data=data, out=results))
p = run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", job], timeout=300, env=SWEEP_ENV)
require(p.returncode == 0, "the 3-family sweep exits 0" + ("" if p.returncode == 0 else f": {p.stderr[-600:]}"))
rep = os.path.join(ROOT, "rep")
p = run_hipid("report", results, "--rope", str(ROPE), "--out", rep, timeout=120, env=ENV)
require(p.returncode == 0, f"hipid report exits 0 ({p.returncode}: {p.stderr[-400:]})")

trials = load_trials(results)
fam = by_family(trials)
require(sorted(fam) == FAMS and all(len(fam[f]) == 6 for f in FAMS), f"6 done outer trials per family ({ {f: len(v) for f, v in fam.items()} })")
units = sorted(fam["cnn"])
K = trials[0]["P"].shape[1]
n_pairs = 3

sizes = {"learning_curves": (LC_W, LC_H * 3), "fold_scores": (FOLDS_W, FOLDS_H), "confusion": (PANEL * 3, PANEL),
         "roc": (PANEL * 3, PANEL), "posterior": (POST_W * 3, POST_H), "cd_diagram": (CD_W, CD_H + CD_HF * 3)}
for name, wh in sizes.items():
    png, svg = os.path.join(rep, name + ".png"), os.path.join(rep, name + ".svg")
    got = (png_size(png) if os.path.isfile(png) else None, svg_size(svg) if os.path.isfile(svg) else None)
    check(got == (wh, wh), f"{name}: PNG and SVG of {wh[0]}x{wh[1]} (found {got})")
svg = {n: open(os.path.join(rep, n + ".svg"), encoding="utf-8").read() for n in sizes}
log = open(os.path.join(rep, "plotdata", "gnuplot.log")).read().strip()
check(log == "", f"gnuplot says nothing (no key that does not fit, no warning): {log[:300]}")

# fold_scores: pairing lines, points, chance levels, corrected intervals
run_check(check_pairs(svg["fold_scores"], len(units), 3 * len(units)))
chance = read_dat(os.path.join(rep, "plotdata", "chance.dat"))
first = [fam["cnn"][u] for u in units if u[0] == units[0][0] and u[2] == units[0][2]]
ys = np.concatenate([t["y"] for t in first])
base = np.bincount(ys).max() / len(ys)
check(chance.shape == (6, 5) and np.allclose(chance[:, 1], base) and np.allclose(chance[:, 2:4], 1 / K)
      and np.allclose(chance[:, 4], 0.5), f"fold_scores: chance levels {chance[0, 1:].tolist()} == ({base}, 1/K, 1/K, 0.5)")
means = read_dat(os.path.join(rep, "plotdata", "means.dat"))
ratio = np.mean([len(t["y"]) / t["n_fit"] for t in trials])
worst = 0
for i, f in enumerate(FAMS):
    for m in range(4):
        x = np.array([fam[f][u]["m"][m] for u in units])
        h = stats.t.ppf(0.975, len(x) - 1) * np.sqrt((1 / len(x) + ratio) * x.var(ddof=1))
        worst = max(worst, np.max(np.abs(means[i, 1 + 3 * m:4 + 3 * m] - [x.mean(), x.mean() - h, x.mean() + h])))
check(worst < 1e-5 and "mean, corrected 95% CI" in texts(svg["fold_scores"]),
      f"fold_scores: bars = mean and Nadeau-Bengio 95% interval (ratio {ratio:.4f}), labelled corrected; max diff {worst:.1e}")

# roc: per-class AUC of the pooled out-of-fold predictions
ref_class, ref_macro = [], []
for f in FAMS:
    y = np.concatenate([fam[f][u]["y"] for u in units])
    P = np.concatenate([fam[f][u]["P"] for u in units])
    ref_class.append([roc_auc_score(y == c, P[:, c]) for c in range(K)])
    ref_macro.append(roc_auc_score(y, P, multi_class="ovr", average="macro"))
run_check(check_roc(svg["roc"], ref_class, ref_macro))

# learning_curves: folds per epoch from the histories
counts = []
for i, f in enumerate(FAMS):
    n_ep = [fam[f][u]["n_epochs"] for u in units]
    c = [sum(n > e for n in n_ep) for e in range(max(n_ep))]
    counts.append(c)
    lc = read_dat(os.path.join(rep, "plotdata", f"lc_{i}.dat"))
    check(lc[:, 1].astype(int).tolist() == c, f"learning_curves: lc_{i}.dat folds per epoch {lc[:, 1].astype(int).tolist()} == {c}")
check(any(len(set(c)) > 1 for c in counts), f"early stopping made the folds per epoch vary in some family ({counts})")
run_check(check_epochs(svg["learning_curves"], counts))
check("folds that ran the epoch (right axis)" in texts(svg["learning_curves"]), "learning_curves: the bars are in the key")

# posterior: the Bayesian correlated t-test, recomputed
post_refs = []
for a, b in [(0, 1), (0, 2), (1, 2)]:
    d = np.array([fam[FAMS[a]][u]["m"][0] - fam[FAMS[b]][u]["m"][0] for u in units])
    J = len(d)
    r = np.mean([len(fam[FAMS[a]][u]["y"]) / fam[FAMS[a]][u]["n_fit"] for u in units])
    scale = np.sqrt((1 / J + r) * d.var(ddof=1))
    post = stats.t(J - 1, loc=d.mean(), scale=scale)
    post_refs.append((post.cdf(-ROPE), post.cdf(ROPE) - post.cdf(-ROPE), post.sf(ROPE)))
    if (a, b) == (0, 1):
        dat = read_dat(os.path.join(rep, "plotdata", "post_0.dat"))
        check(np.allclose(dat[:, 1], post.pdf(dat[:, 0]), rtol=1e-5, atol=1e-8),
              "posterior: post_0.dat is scipy's Student t density with the recomputed mean, scale and df")
        rope_block = open(os.path.join(rep, "plotdata", "post_0.dat")).read().split("\n\n\n")[1]
        xs = [float(l.split()[0]) for l in rope_block.strip().splitlines()]
        check(abs(xs[0] + ROPE) < 1e-9 and abs(xs[-1] - ROPE) < 1e-9, f"posterior: the rope band spans ±{ROPE} ({xs[0]}, {xs[-1]})")
run_check(check_posterior(svg["posterior"], post_refs))

# cd_diagram: ranks, CD, Friedman p, cliques
acc = np.array([[fam[f][u]["m"][0] for f in FAMS] for u in units])
ranks = np.mean([stats.rankdata(-row) for row in acc], axis=0)
q = stats.studentized_range.ppf(0.95, 3, np.inf) / np.sqrt(2)
cd = q * np.sqrt(3 * 4 / (6 * len(units)))
fp = stats.friedmanchisquare(*acc.T).pvalue
order = np.argsort(ranks)
cliques, reach = [], -1
for i in range(3):
    j = i
    while j + 1 < 3 and ranks[order[j + 1]] - ranks[order[i]] < cd:
        j += 1
    if j > i and j > reach:
        cliques.append((ranks[order[i]], ranks[order[j]]))
        reach = j
run_check(check_cd(svg["cd_diagram"], dict(zip(FAMS, ranks)), cd, fp, cliques))

# ---- two families: no cd_diagram, one posterior panel ----
two = os.path.join(ROOT, "two")
shutil.copytree(results, two, ignore=shutil.ignore_patterns("report"))
for t in glob.glob(os.path.join(two, "trials", "lin-*.h5")):
    os.remove(t)
os.remove(os.path.join(two, "sweep.h5"))
rep2 = os.path.join(ROOT, "rep2")
p = run_hipid("report", two, "--out", rep2, timeout=120, env=ENV)
check(p.returncode == 0, f"two families: report exits 0 ({p.stderr[-300:]})")
check(not os.path.exists(os.path.join(rep2, "cd_diagram.png")) and png_size(os.path.join(rep2, "posterior.png")) == (POST_W, POST_H)
      and png_size(os.path.join(rep2, "fold_scores.png")) == (FOLDS_W, FOLDS_H),
      "two families: no cd_diagram, a posterior of one panel, fold_scores of the documented size")
if os.path.isfile(os.path.join(rep2, "posterior.svg")):
    run_check(check_posterior(open(os.path.join(rep2, "posterior.svg"), encoding="utf-8").read(), post_refs[:1]))

# ---- a family whose every trial failed: its comparisons have no posterior, the plots still draw ----
dead = os.path.join(ROOT, "dead")
shutil.copytree(results, dead, ignore=shutil.ignore_patterns("report"))
for t in glob.glob(os.path.join(dead, "trials", "lin-*.h5")):
    with h5py.File(t, "r+") as f:
        f.attrs["state"] = "failed"
        f.attrs["reason"] = "made to fail by the test"
    trialsum.reseal(t)
os.remove(os.path.join(dead, "sweep.h5"))
rep3 = os.path.join(ROOT, "rep3")
p = run_hipid("report", dead, "--out", rep3, timeout=120, env=ENV)
check(p.returncode == 0 and os.path.isfile(os.path.join(rep3, "posterior.png")),
      f"a family with only failed trials: report exits 0 and draws the posterior ({p.stderr[-300:]})")

# ---- negative controls: every SVG check fails on a tampered copy ----
fs = svg["fold_scores"]
i = fs.find("M", fs.find(PAIR_RGB, fs.find('<g id="gnuplot_plot_2a"')))
neg = [("a pairing line dropped", check_pairs(fs[:i] + fs[i + 1:], len(units), 3 * len(units))),
       ("one AUC off by 0.002", check_roc(svg["roc"], [[a + 0.002 * (k == 0) for k, a in enumerate(c)] for c in ref_class],
                                          ref_macro)),
       ("one fold fewer in the first epoch", check_epochs(svg["learning_curves"], [[c[0] - 1] + c[1:] for c in counts])),
       ("another rope", check_posterior(svg["posterior"].replace(f"rope ±{ROPE:g}", "rope ±0.02"), post_refs)),
       ("probabilities of the naive (uncorrected) posterior", check_posterior(svg["posterior"], [
           (t.cdf(-ROPE), t.cdf(ROPE) - t.cdf(-ROPE), t.sf(ROPE)) for t in
           [stats.t(len(x) - 1, loc=x.mean(), scale=x.std(ddof=1) / np.sqrt(len(x))) for x in
            [np.array([fam[FAMS[a]][u]["m"][0] - fam[FAMS[b]][u]["m"][0] for u in units]) for a, b in [(0, 1), (0, 2), (1, 2)]]]])),
       ("CD of 6 units with k = 4", check_cd(svg["cd_diagram"], dict(zip(FAMS, ranks)),
                                             stats.studentized_range.ppf(0.95, 4, np.inf) / np.sqrt(2) * np.sqrt(20 / 36), fp,
                                             cliques))]
for what, (ok, msg) in neg:
    check(not ok, f"negative control ({what}) fails: {msg}")
print(f"negative controls: {sum(not ok for _, (ok, _) in neg)} of {len(neg)} fail as they should")

done()
