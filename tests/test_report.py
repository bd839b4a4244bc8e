"""hipid report on three tiny sweeps (3 classes repeated 3-fold; nested; binary
5x2cv), and two 3-fold ones without validation sets (the selection then):
files and plot sizes, every metric recomputed here with sklearn and
scipy from the trial files (h5py), the selection rule, McNemar counts, the
corrected t-test, DeLong's AUCs, 5x2cv, the JSON/CSV summaries (intervals of
means Nadeau-Bengio corrected), and the partial, truncated, other-version,
missing-folder and no-gnuplot cases. test_report_stats.py checks the class
intervals, the Bayesian, Friedman and Holm results and the error order on a
three-family job.
Runs with /usr/bin/python3; needs mpirun (Open MPI) and gnuplot."""
import csv
import glob
import json
import os
import shutil
import sys
import xml.etree.ElementTree as ET

import h5py
import numpy as np
from scipy import stats
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, f1_score, log_loss, recall_score,
                             roc_auc_score)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trialsum  # noqa: E402
from testlib import check, done, hipid, png_size, read_csv, require, run, run_hipid, tmp_dir  # noqa: E402

HIPID = hipid()
ROOT = tmp_dir("report")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
# the sweeps are fixtures here: under the sanitizer build, Open MPI's own
# leaks at exit would fail them, so only `hipid report` runs with leak checks
SWEEP_ENV = dict(ENV, ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0")


FAMILIES = """
[family cnn]
model = c8,r,c8,r,bn,mp2,fl,fc16,r,do0.3
optimizer = adam
lr = 0.003, 0.001
batch = 8
epochs = 4
augment = default
[family dnn]
model = fl,fc32,r,do0.5
optimizer = sgd
lr = 0.05, 0.01
batch = 8
epochs = 4
"""


def sweep(name, cv, synth="classes=3,per_class=24,size=32,seed=3", families=FAMILIES):
    data = os.path.join(ROOT, f"data-{synth.split(',')[0]}.h5")
    path, out = os.path.join(ROOT, name + ".ini"), os.path.join(ROOT, name)
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = 1\n[data]\npath = {data}\nsynth = {synth}\n[cv]\n{cv}\n{families}\n"
                f"[run]\noutput = {out}\n")
    p = run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", path], timeout=300, env=SWEEP_ENV)
    require(p.returncode == 0, f"sweep {name} exits 0" + ("" if p.returncode == 0 else f": {p.stderr[-600:]}"))
    return out


def report(results, *args, env=None):
    return run_hipid("report", results, *args, timeout=120, env=env or ENV)


def attr(f, k):
    v = f.attrs[k]
    return v.decode() if isinstance(v, bytes) else v


def load_trials(results):
    """Every trial file: attributes and predictions, with metrics recomputed by sklearn."""
    out = []
    for p in sorted(glob.glob(os.path.join(results, "trials", "*.h5"))):
        with h5py.File(p, "r") as f:
            if attr(f, "state") != "done":
                continue
            y = f["predictions/test_label"][()]
            P = f["predictions/test_prob"][()].astype(np.float64)
            K = P.shape[1]
            pred = P.argmax(1)
            t = dict(file=os.path.basename(p), family=attr(f, "family"), config=int(f.attrs["config"]),
                     repeat=int(f.attrs["repeat"]), outer=int(f.attrs["outer"]), inner=int(f.attrs["inner"]),
                     seed=int(f.attrs["seed"]), val_loss=float(f.attrs["val_loss"]), y=y, P=P, pred=pred,
                     index=f["predictions/test_index"][()], n_fit=len(f["indices/train"]) + len(f["indices/val"]),
                     label=attr(f, "label"))
        labels = list(range(K))
        t["accuracy"] = accuracy_score(y, pred)
        t["balanced_accuracy"] = balanced_accuracy_score(y, pred)
        t["macro_f1"] = f1_score(y, pred, average="macro", zero_division=0)
        t["auc"] = roc_auc_score(y, P[:, 1]) if K == 2 else roc_auc_score(y, P, multi_class="ovr", average="macro",
                                                                          labels=labels)
        t["log_loss"] = log_loss(y, P, labels=labels)
        t["sens"] = recall_score(y, pred, average=None, labels=labels, zero_division=0)
        t["spec"] = np.array([recall_score(y != c, pred != c, zero_division=0) for c in labels])
        out.append(t)
    return out


METRICS = ["accuracy", "balanced_accuracy", "macro_f1", "auc", "log_loss"]


def summary(x, ratio=0.0):
    """Mean, SD and the 95% interval of the mean: Nadeau-Bengio corrected,
    se = sqrt((1/J + ratio) s^2), or the plain t interval with ratio 0."""
    x = np.asarray(x, float)
    m, sd = x.mean(), x.std(ddof=1)
    h = stats.t.ppf(0.975, len(x) - 1) * np.sqrt((1 / len(x) + ratio) * sd ** 2)
    return m, sd, m - h, m + h


def close(a, b, tol=1e-7):
    return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))


def check_metrics(results, trials, what):
    """folds.csv and configs.csv against sklearn/scipy."""
    rep = os.path.join(results, "report")
    folds = {r["file"]: r for r in read_csv(os.path.join(rep, "folds.csv"))}
    outer = [t for t in trials if t["inner"] < 0]
    check(len(folds) == len(outer), f"{what}: folds.csv has one row per outer trial ({len(folds)} of {len(outer)})")
    worst = 0.0
    for t in outer:
        r = folds.get(t["file"])
        if r is None:
            worst = np.inf
            continue
        K = len(t["sens"])
        vals = [(r[m], t[m]) for m in METRICS] + [(r[f"sens_{c}"], t["sens"][c]) for c in range(K)] + \
               [(r[f"spec_{c}"], t["spec"][c]) for c in range(K)]
        worst = max([worst] + [abs(float(a) - b) for a, b in vals])
    print(f"max |folds.csv - sklearn| over every outer trial and metric: {worst:.2e}")
    check(worst < 1e-7, f"{what}: accuracy, balanced accuracy, macro-F1, AUC, log loss, sensitivity, specificity "
                        f"of every outer trial match sklearn")
    worst = 0.0
    rows = read_csv(os.path.join(rep, "configs.csv"))
    # the corrected intervals' ratio: the mean test/fitted size over the outer trials
    ratio = np.mean([len(t["y"]) / t["n_fit"] for t in outer])
    check(all(r["interval"] == "nadeau_bengio" and close(r["ratio"], ratio, 1e-9) for r in rows),
          f"{what}: configs.csv labels its intervals nadeau_bengio with ratio {ratio:.4f}")
    for r in rows:
        ts = [t for t in outer if t["family"] == r["family"] and t["config"] == int(r["config"])]
        check_n = int(r["n_trials"]) == len(ts)
        if not check_n:
            worst = np.inf
        for m in METRICS:
            ref = summary([t[m] for t in ts], ratio)
            got = [float(r[f"{m}_{s}"]) for s in ("mean", "sd", "lo", "hi")]
            worst = max([worst] + [abs(a - b) for a, b in zip(got, ref)])
        vl = np.mean([t["val_loss"] for t in ts])
        worst = max(worst, abs(float(r["val_loss"]) - vl))
    print(f"max |configs.csv - numpy/scipy| (mean, sd, corrected interval): {worst:.2e}")
    check(len(rows) == 4 and worst < 1e-7, f"{what}: configs.csv: n, mean, SD and 95% corrected interval of every metric")
    return folds


def pairs(trials, sel_files):
    """Paired selected outer trials of cnn and dnn by (repeat, outer, seed)."""
    by = {}
    for t in trials:
        if t["file"] in sel_files:
            by.setdefault((t["repeat"], t["outer"], t["seed"]), {})[t["family"]] = t
    return [by[k] for k in sorted(by) if len(by[k]) == 2]


def check_comparison(results, trials, folds, what):
    rep = os.path.join(results, "report")
    sel = {f for f, r in folds.items() if r["selected"] == "1"}
    pr = pairs(trials, sel)
    cmp_rows = read_csv(os.path.join(rep, "comparisons.csv"))
    # McNemar counts, pooled over every paired unit
    b = sum(int(np.sum((p["cnn"]["pred"] == p["cnn"]["y"]) & (p["dnn"]["pred"] != p["dnn"]["y"]))) for p in pr)
    c = sum(int(np.sum((p["cnn"]["pred"] != p["cnn"]["y"]) & (p["dnn"]["pred"] == p["dnn"]["y"]))) for p in pr)
    row = [r for r in cmp_rows if r["scope"] == "pooled"][0]
    if b + c >= 25:
        pref = stats.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1)
    else:
        pref = min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5))
    check(int(row["b_count"]) == b and int(row["c_count"]) == c and close(row["p"], pref, 1e-6),
          f"{what}: McNemar pooled counts b={b} c={c} and p={pref:.4g} ({row['b_count']}, {row['c_count']}, {row['p']})")
    # corrected resampled t-test of the accuracy difference
    d = np.array([p["cnn"]["accuracy"] - p["dnn"]["accuracy"] for p in pr])
    ratio = np.mean([len(p["cnn"]["y"]) / p["cnn"]["n_fit"] for p in pr])
    J = len(d)
    se = np.sqrt((1 / J + ratio) * d.var(ddof=1))
    t = d.mean() / se
    p_ref = 2 * stats.t.sf(abs(t), J - 1)
    row = [r for r in cmp_rows if r["test"] == "corrected_t" and r["scope"] == "accuracy"][0]
    check(int(row["n"]) == J and close(row["estimate"], d.mean()) and close(row["statistic"], t, 1e-6)
          and close(row["p"], p_ref, 1e-6),
          f"{what}: corrected t-test of accuracy: J={J}, ratio={ratio:.4f}, diff={d.mean():.4f}, t={t:.4f}, p={p_ref:.4f}")
    return pr, cmp_rows


# ---- 1. repeated 3-fold, 3 classes, not nested -----------------------------------
kf = sweep("kf", "scheme = repeated\nk = 3\nrepeats = 2\nval_fraction = 0.2")
p = report(kf, "--format", "json")
check(p.returncode == 0, f"report exits 0 ({p.stderr.strip()[:300]})")
try:
    js = json.loads(p.stdout)
    check(js["trials"]["done"] == 24 and len(js["families"]) == 2 and len(js["comparisons"]) == 1,
          "--format json: valid JSON with 24 done trials, 2 families, 1 comparison")
except ValueError as err:
    js = None
    check(False, f"--format json parses: {err}: {p.stdout[:200]}")
rep = os.path.join(kf, "report")
files = ["report.md", "configs.csv", "folds.csv", "comparisons.csv", "errors.csv", "plots.gp", "errors.png"] + \
        [f"{n}.{e}" for n in ("learning_curves", "fold_scores", "confusion", "roc") for e in ("png", "svg")]
missing = [f for f in files if not os.path.isfile(os.path.join(rep, f))]
check(not missing, f"every report file exists ({missing or len(files)})")
sizes = {"learning_curves": (1000, 330 * 2), "fold_scores": (900, 420), "confusion": (880, 440), "roc": (880, 440)}
for name, wh in sizes.items():
    got = png_size(os.path.join(rep, name + ".png"))
    check(got == wh, f"{name}.png is a PNG of {wh[0]}x{wh[1]} pixels (found {got})")
    try:
        svg = ET.parse(os.path.join(rep, name + ".svg")).getroot()
        check(svg.tag.endswith("svg") and svg.get("width", "").startswith(str(wh[0])),
              f"{name}.svg is SVG, width {svg.get('width')}")
    except ET.ParseError as err:
        check(False, f"{name}.svg parses as XML: {err}")
sheet = png_size(os.path.join(rep, "errors.png"))
n_err = len(read_csv(os.path.join(rep, "errors.csv")))
check(sheet is not None and sheet[0] > 0 and n_err > 0, f"errors.png is a PNG {sheet} of {min(n_err, 24)} flagged images")

trials = load_trials(kf)
folds = check_metrics(kf, trials, "kfold")
# selection: the configuration with the lowest mean validation loss
for fam in ("cnn", "dnn"):
    vl = {}
    for t in trials:
        if t["family"] == fam and t["inner"] < 0:
            vl.setdefault(t["config"], []).append(t["val_loss"])
    best = min(vl, key=lambda c: (np.mean(vl[c]), c))
    sel = {int(r["config"]) for r in folds.values() if r["family"] == fam and r["selected"] == "1"}
    jfam = [f for f in js["families"] if f["name"] == fam][0] if js else {}
    check(sel == {best} and jfam.get("configuration") == best,
          f"not nested: {fam} selects c{best}, the lowest mean validation loss (report: {sel})")
pr, cmp_rows = check_comparison(kf, trials, folds, "kfold")
md = open(os.path.join(rep, "report.md")).read()
acc = {fam: np.mean([p[fam]["accuracy"] for p in pr]) for fam in ("cnn", "dnn")}
check(all(f"| {fam} | 6 | {acc[fam]:.3f} ± " in md for fam in acc),
      f"report.md states each family's estimate (accuracy {acc['cnn']:.3f}, {acc['dnn']:.3f})")
verdict = js["comparisons"][0]["verdict"] if js else "?"
# the pair's sentence, after the opening that says which families learned nothing
# beyond the class frequencies (test_report_baseline.py checks that part)
check(f"**Verdict:** {verdict}." in md and ("cnn better than dnn" in verdict or "dnn better than cnn" in verdict)
      and "points" in verdict, f"report.md carries the verdict sentence ({verdict})")
check("mildly optimistic" in md and "## Error analysis" in md, "report.md names the selection used and has the error analysis")
p = report(kf, "--format", "csv", "--no-plots", "--out", os.path.join(ROOT, "kf-csv"))
rows = list(csv.DictReader(p.stdout.splitlines()))
check(p.returncode == 0 and [r["kind"] for r in rows] == ["family", "family", "comparison"]
      and close(rows[0]["accuracy"], acc["cnn"]), "--format csv: two family rows and a comparison row")

# negative control: the report reads the predictions, not the stored test_acc
neg = os.path.join(ROOT, "kf-neg")
shutil.copytree(kf, neg, ignore=shutil.ignore_patterns("report"))
victim = sorted(glob.glob(os.path.join(neg, "trials", "cnn-*.h5")))[0]
with h5py.File(victim, "r+") as f:
    y = f["predictions/test_label"][()]
    P = np.full(f["predictions/test_prob"].shape, 0.01, np.float32)
    P[np.arange(len(y)), y] = 0.98
    f["predictions/test_prob"][...] = P
trialsum.reseal(victim)  # a consistent file that says so
report(neg, "--no-plots")
r = {x["file"]: x for x in read_csv(os.path.join(neg, "report", "folds.csv"))}[os.path.basename(victim)]
check(float(r["accuracy"]) == 1.0 and float(folds[os.path.basename(victim)]["accuracy"]) < 1.0,
      "negative control: perfect predictions written into a trial file give accuracy 1 in folds.csv")

# ---- 2. nested -------------------------------------------------------------------
ne = sweep("ne", "scheme = nested\nk = 3\ninner_k = 2\nval_fraction = 0.2")
p = report(ne, "--no-plots")
check(p.returncode == 0, "nested: report exits 0")
trials_ne = load_trials(ne)
folds_ne = check_metrics(ne, trials_ne, "nested")
ok = True
for fam in ("cnn", "dnn"):
    for key in sorted({(t["repeat"], t["outer"], t["seed"]) for t in trials_ne if t["inner"] < 0}):
        inner = {}
        for t in trials_ne:
            if t["family"] == fam and t["inner"] >= 0 and (t["repeat"], t["outer"], t["seed"]) == key:
                inner.setdefault(t["config"], []).append(t)
        best = min(inner, key=lambda c: (-np.mean([t["accuracy"] for t in inner[c]]),
                                         np.mean([t["log_loss"] for t in inner[c]]), c))
        sel = [r for r in folds_ne.values() if r["family"] == fam and r["selected"] == "1"
               and (int(r["repeat"]), int(r["outer"]), int(r["seed"])) == key]
        ok &= len(sel) == 1 and int(sel[0]["config"]) == best
check(ok, "nested: per outer fold, the configuration with the best mean inner accuracy (ties: log loss) is selected")
md = open(os.path.join(ne, "report", "report.md")).read()
check("Nested cross-validation" in md and "unbiased" in md, "nested: report.md says how the selection was made")
check_comparison(ne, trials_ne, folds_ne, "nested")

# ---- 3. binary, 5 x 2-fold: DeLong and 5x2cv ----------------------------------------
one_cfg = FAMILIES.replace("lr = 0.003, 0.001", "lr = 0.003").replace("lr = 0.05, 0.01", "lr = 0.05")
b2 = sweep("b2", "scheme = repeated\nk = 2\nrepeats = 5\nval_fraction = 0.2",
           synth="classes=2,per_class=30,size=32,seed=5", families=one_cfg)
p = report(b2, "--no-plots")
check(p.returncode == 0, "binary 5x2: report exits 0")
trials_b2 = load_trials(b2)
folds_b2 = {r["file"]: r for r in read_csv(os.path.join(b2, "report", "folds.csv"))}
pr, cmp_rows = check_comparison(b2, trials_b2, folds_b2, "5x2")
worst = 0.0
for rep_i in range(5):
    grp = [p for p in pr if p["cnn"]["repeat"] == rep_i]
    y = np.concatenate([p["cnn"]["y"] for p in grp])
    auc_a = roc_auc_score(y, np.concatenate([p["cnn"]["P"][:, 1] for p in grp]))
    auc_b = roc_auc_score(y, np.concatenate([p["dnn"]["P"][:, 1] for p in grp]))
    row = [r for r in cmp_rows if r["test"] == "delong" and r["scope"] == f"repeat {rep_i} seed 1"]
    worst = max(worst, abs(float(row[0]["estimate"]) - (auc_a - auc_b)) if row else np.inf)
check(worst < 1e-9, f"DeLong per repeat: AUC difference of the pooled out-of-fold scores as sklearn ({worst:.1e})")
pm = np.array([[0.0, 0.0]] * 5)
for p in pr:
    pm[p["cnn"]["repeat"], p["cnn"]["outer"]] = p["cnn"]["accuracy"] - p["dnn"]["accuracy"]
s2 = ((pm - pm.mean(1, keepdims=True)) ** 2).sum(1)
t5 = pm[0, 0] / np.sqrt(s2.mean())
row = [r for r in cmp_rows if r["test"] == "5x2cv" and r["scope"] == "accuracy"]
check(len(row) == 1 and close(row[0]["statistic"], t5, 1e-6) and close(row[0]["p"], 2 * stats.t.sf(abs(t5), 5), 1e-6),
      f"5x2cv t = {t5:.4f} as Dietterich's formula")

# ---- 4. partial sweep, truncated and foreign files, errors ---------------------------
part = os.path.join(ROOT, "kf-partial")
shutil.copytree(kf, part, ignore=shutil.ignore_patterns("report"))
gone = sorted(glob.glob(os.path.join(part, "trials", "dnn-*.h5")))[0]
with h5py.File(gone) as f:
    gone_label = attr(f, "label")
os.remove(gone)
p = report(part, "--format", "json", "--no-plots")
js = json.loads(p.stdout) if p.returncode == 0 else {}
md = open(os.path.join(part, "report", "report.md")).read()
check(p.returncode == 0 and js["trials"]["missing"] == 1 and f"missing: {gone_label}" in md
      and "incomplete" in md, f"partial sweep: the deleted trial '{gone_label}' is listed as missing")

# a family with no finished trial yet (the sweep still running): no crash, the pair is "cannot be compared"
early = os.path.join(ROOT, "kf-early")
shutil.copytree(kf, early, ignore=shutil.ignore_patterns("report"))
for t in glob.glob(os.path.join(early, "trials", "dnn-*.h5")):
    os.remove(t)
p = report(early, "--no-plots")
md = open(os.path.join(early, "report", "report.md")).read() if p.returncode == 0 else ""
check(p.returncode == 0 and "cannot be compared" in md and "no finished trial" in md,
      f"a family without finished trials: report exits 0 and says the pair cannot be compared ({p.returncode}: {p.stderr[-300:]})")

trunc = os.path.join(ROOT, "kf-trunc")
shutil.copytree(kf, trunc, ignore=shutil.ignore_patterns("report"))
victim = sorted(glob.glob(os.path.join(trunc, "trials", "cnn-*.h5")))[1]
with open(victim, "r+b") as f:
    f.truncate(os.path.getsize(victim) // 2)
p = report(trunc, "--no-plots")
lines = [l for l in p.stderr.splitlines() if l.strip()]
check(p.returncode == 1 and len(lines) == 1 and os.path.basename(victim) in lines[0] and "skipping" in lines[0],
      f"truncated trial file: exit 1 and one line naming it ({lines})")
md = open(os.path.join(trunc, "report", "report.md")).read()
check("unreadable, skipped" in md and "23 done" in md, "truncated trial file: the report is written from the other 23")

foreign = os.path.join(ROOT, "kf-v2")
shutil.copytree(kf, foreign, ignore=shutil.ignore_patterns("report"))
victim = sorted(glob.glob(os.path.join(foreign, "trials", "dnn-*.h5")))[0]
with h5py.File(victim, "r+") as f:
    f.attrs["format_version"] = np.int32(2)
p = report(foreign, "--no-plots")
lines = [l for l in p.stderr.splitlines() if l.strip()]
check(p.returncode == 1 and len(lines) == 1 and "format version 2" in lines[0], f"trial file of version 2: one line ({lines})")

for args, rc, what in [([os.path.join(ROOT, "nowhere")], 1, "a missing folder"),
                       ([ROOT], 1, "a folder without trials/"),
                       ([kf, "--format", "xml"], 2, "a bad --format"),
                       ([], 2, "no folder")]:
    p = run_hipid("report", *args, env=ENV)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check(p.returncode == rc and len(lines) == 1 and lines[0].startswith("hipid report:"),
          f"{what}: exit {rc} and one line ({lines})")
empty = os.path.join(ROOT, "empty")
os.makedirs(os.path.join(empty, "trials"))
p = report(empty)
check(p.returncode == 1 and "no trial files" in p.stderr and len(p.stderr.strip().splitlines()) == 1,
      f"no trial files: one line ({p.stderr.strip()})")
p = report(kf, "--out", os.path.join(ROOT, "kf-nognuplot"), env=dict(ENV, PATH="/nonexistent"))
lines = [l for l in p.stderr.splitlines() if l.strip()]
check(p.returncode == 1 and len(lines) == 1 and "gnuplot not found" in lines[0]
      and os.path.isfile(os.path.join(ROOT, "kf-nognuplot", "report.md")),
      f"gnuplot missing: one line, exit 1, report.md still written ({lines})")

# val_fraction = 0: with two configurations per family the choice is made on
# the test folds (the higher mean test accuracy, recomputed here), and the
# report says the estimate is optimistic; with one, nothing is chosen and it
# says neither that nor that a validation loss chose
for name, fams in (("nv-two", FAMILIES), ("nv-one", FAMILIES.replace("0.003, 0.001", "0.003")
                                           .replace("0.05, 0.01", "0.05"))):
    res = sweep(name, "scheme = kfold\nk = 3\nval_fraction = 0", families=fams)
    p = report(res, "--format", "json", "--no-plots")
    require(p.returncode == 0, f"report {name}: {p.stderr[-300:]}")
    md = open(os.path.join(res, "report", "report.md")).read()
    sel = {fa["name"]: fa["configuration"] for fa in json.loads(p.stdout)["families"]}
    nv_rows = load_trials(res)
    chosen = {}
    for fam in ("cnn", "dnn"):
        mean = {}
        for t in nv_rows:
            if t["family"] == fam:
                mean.setdefault(t["config"], []).append(t["accuracy"])
        chosen[fam] = min(mean, key=lambda c: (-np.mean(mean[c]), c))
    warned = "No validation loss was recorded" in md and "optimistic" in md
    by_val = "lowest mean validation loss" in md
    if name == "nv-two":
        check(warned and not by_val and "highest mean test accuracy" in md,
              f"{name}: the report says the test folds chose and warns ({'warned' if warned else ''} "
              f"{'by_val' if by_val else ''})")
        check(sel == chosen, f"{name}: the chosen configurations are those of the higher mean test accuracy "
                             f"({sel} against {chosen})")
    else:
        check(not warned and not by_val and "nothing was selected" in md,
              f"{name}: one configuration per family: no warning, no selection by validation loss, "
              f"'nothing was selected' ({'warned' if warned else ''} {'by_val' if by_val else ''})")
        check(sel == {"cnn": 0, "dnn": 0}, f"{name}: each family reports its one configuration ({sel})")

done()
