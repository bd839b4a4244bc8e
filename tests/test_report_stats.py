"""hipid report's statistics on a three-family job (3 classes, repeated 3-fold,
2 repeats), each recomputed here from the trial files (h5py) with scipy,
statsmodels and scikit-learn: the Nadeau-Bengio corrected intervals of every
family and configuration mean, Wilson intervals of per-class sensitivity,
specificity and precision on pooled counts, the pooled AUC, the corrected
t-test of accuracy, balanced accuracy, macro-F1 and AUC with Holm over the
pairs, the Bayesian correlated t-test (`--rope 0.02`), Friedman's test with
average ranks, the Nemenyi critical difference and Holm-adjusted rank z tests,
verdicts that claim nothing Holm does not allow, bounds never rounded onto
zero, and the error analysis ordered by the probability given to the true
class. Runs with /usr/bin/python3; needs mpirun (Open MPI)."""
import glob
import json
import os
import re
import sys

import h5py
import numpy as np
from scipy import stats
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, roc_auc_score)
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, read_csv, require, run, run_hipid, tmp_dir  # noqa: E402

HIPID = hipid()
ROOT = tmp_dir("report-stats")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
SWEEP_ENV = dict(ENV, ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
ROPE = 0.02
COMPARED = ["accuracy", "balanced_accuracy", "macro_f1", "auc"]
FAMILIES = """
[family cnn]
model = c8,r,c8,r,bn,mp2,fl,fc16,r,do0.3
optimizer = adam
lr = 0.003, 0.001
batch = 8
epochs = 4
[family dnn]
model = fl,fc32,r,do0.5
optimizer = sgd
lr = 0.05, 0.01
batch = 8
epochs = 4
[family lin]
model = fl,fc3
optimizer = sgd
lr = 0.05
batch = 8
epochs = 3
"""


def sweep(name, cv, synth):
    data = os.path.join(ROOT, "data.h5")
    path, out = os.path.join(ROOT, name + ".ini"), os.path.join(ROOT, name)
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = 1\n[data]\npath = {data}\nsynth = {synth}\n[cv]\n{cv}\n{FAMILIES}\n"
                f"[run]\noutput = {out}\n")
    p = run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", path], timeout=300, env=SWEEP_ENV)
    require(p.returncode == 0, f"sweep {name} exits 0" + ("" if p.returncode == 0 else f": {p.stderr[-600:]}"))
    return out


def load_trials(results):
    out = []
    for p in sorted(glob.glob(os.path.join(results, "trials", "*.h5"))):
        with h5py.File(p, "r") as f:
            if f.attrs["state"] not in (b"done", "done") or int(f.attrs["inner"]) >= 0:
                continue
            y = f["predictions/test_label"][()]
            P = f["predictions/test_prob"][()].astype(np.float64)
            fam = f.attrs["family"]
            t = dict(file=os.path.basename(p), family=fam.decode() if isinstance(fam, bytes) else fam,
                     config=int(f.attrs["config"]), unit=(int(f.attrs["repeat"]), int(f.attrs["outer"]),
                                                          int(f.attrs["seed"])),
                     y=y, P=P, pred=P.argmax(1), index=f["predictions/test_index"][()],
                     n_fit=len(f["indices/train"]) + len(f["indices/val"]))
        t["accuracy"] = accuracy_score(y, t["pred"])
        t["balanced_accuracy"] = balanced_accuracy_score(y, t["pred"])
        t["macro_f1"] = f1_score(y, t["pred"], average="macro", zero_division=0)
        t["auc"] = roc_auc_score(y, P, multi_class="ovr", average="macro", labels=list(range(P.shape[1])))
        out.append(t)
    return out


def corrected(x, ratio):
    x = np.asarray(x, float)
    J = len(x)
    h = stats.t.ppf(0.975, J - 1) * np.sqrt((1 / J + ratio) * x.var(ddof=1))
    return x.mean(), x.std(ddof=1), x.mean() - h, x.mean() + h


def diff(a, b):
    return abs(float(a) - float(b))


res = sweep("f3", "scheme = repeated\nk = 3\nrepeats = 2\nval_fraction = 0.2", "classes=3,per_class=24,size=32,seed=3")
p = run_hipid("report", res, "--format", "json", "--no-plots", "--rope", str(ROPE), timeout=120, env=ENV)
require(p.returncode == 0, f"report exits 0 ({p.stderr.strip()[:300]})")
js = json.loads(p.stdout)
rep = os.path.join(res, "report")
md = open(os.path.join(rep, "report.md")).read()
trials = load_trials(res)
folds = {r["file"]: r for r in read_csv(os.path.join(rep, "folds.csv"))}
sel = [t for t in trials if folds[t["file"]]["selected"] == "1"]
fams = [f["name"] for f in js["families"]]
require(fams == ["cnn", "dnn", "lin"] and len(js["comparisons"]) == 3, f"three families, three pairs ({fams})")
K = trials[0]["P"].shape[1]

# ---- 1. corrected intervals of every mean ----------------------------------------
ratio = np.mean([len(t["y"]) / t["n_fit"] for t in trials])
check(js["interval"]["method"] == "nadeau_bengio" and diff(js["interval"]["ratio"], ratio) < 1e-9,
      f"JSON: intervals Nadeau-Bengio corrected, ratio {ratio:.6f} = mean n_test/(n_train+n_val) ({js['interval']})")
check(f"n_test/n_train = {ratio:.4f}" in md and "Nadeau-Bengio corrected" in md,
      "report.md labels the intervals corrected and prints the ratio")
worst = 0.0
for F in js["families"]:
    ts = [t for t in sel if t["family"] == F["name"]]
    for m in COMPARED:
        ref = corrected([t[m] for t in ts], ratio)
        got = (F[m]["mean"], F[m]["sd"], F[m]["lo"], F[m]["hi"])
        worst = max([worst] + [diff(a, b) for a, b in zip(got, ref)])
for r in read_csv(os.path.join(rep, "configs.csv")):
    ts = [t for t in trials if t["family"] == r["family"] and t["config"] == int(r["config"])]
    for m in COMPARED:
        ref = corrected([t[m] for t in ts], ratio)
        worst = max([worst] + [diff(r[f"{m}_{s}"], v) for s, v in zip(("mean", "sd", "lo", "hi"), ref)])
print(f"max |corrected interval - scipy| over families and configurations: {worst:.2e}")
check(worst < 1e-9, "family and configuration means: SD and corrected 95% interval as scipy.stats.t")

# ---- 2. Wilson intervals of per-class proportions, pooled AUC --------------------------
worst, n_checked, inside = 0.0, 0, True


def wilson_check(rows_k_n_lo_hi):
    global worst, n_checked, inside
    for k, n, est, lo, hi in rows_k_n_lo_hi:
        rlo, rhi = proportion_confint(k, n, alpha=0.05, method="wilson")
        worst = max(worst, diff(lo, rlo), diff(hi, rhi), diff(est, k / n))
        inside &= 0 <= float(lo) <= float(hi) <= 1
        n_checked += 1


def pooled_counts(ts):
    cm = sum(confusion_matrix(t["y"], t["pred"], labels=list(range(K))) for t in ts)
    tp = np.diag(cm)
    row, col, tot = cm.sum(1), cm.sum(0), cm.sum()
    return {"sens": (tp, row), "spec": (tot - row - col + tp, tot - row), "prec": (tp, col)}


for F in js["families"]:
    ts = [t for t in sel if t["family"] == F["name"]]
    cnt = pooled_counts(ts)
    for c, pc in enumerate(F["per_class"]):
        for key, js_key in (("sens", "sensitivity"), ("spec", "specificity"), ("prec", "precision")):
            k, n = cnt[key][0][c], cnt[key][1][c]
            o = pc[js_key]
            check(o["k"] == k and o["n"] == n, f"{F['name']} class {c} {js_key}: pooled counts {k}/{n} ({o['k']}/{o['n']})")
            wilson_check([(k, n, o["estimate"], o["lo"], o["hi"])])
    y = np.concatenate([t["y"] for t in ts])
    P = np.concatenate([t["P"] for t in ts])
    worst = max(worst, diff(F["auc_pooled"], roc_auc_score(y, P, multi_class="ovr", average="macro")))
for r in read_csv(os.path.join(rep, "configs.csv")):
    ts = [t for t in trials if t["family"] == r["family"] and t["config"] == int(r["config"])]
    cnt = pooled_counts(ts)
    for key in ("sens", "spec", "prec"):
        for c in range(K):
            k, n = int(cnt[key][0][c]), int(cnt[key][1][c])
            check(int(r[f"{key}_{c}_k"]) == k and int(r[f"{key}_{c}_n"]) == n, f"configs.csv {key}_{c}: counts {k}/{n}")
            wilson_check([(k, n, r[f"{key}_{c}"], r[f"{key}_{c}_lo"], r[f"{key}_{c}_hi"])])
print(f"max |Wilson interval, pooled AUC - statsmodels/sklearn| over {n_checked} proportions: {worst:.2e}")
check(worst < 1e-9 and inside, f"per-class intervals: Wilson as statsmodels, inside [0, 1] ({n_checked} proportions)")
check("Wilson" in md and "ROC AUC, mean over folds" in md and "ROC AUC, pooled out-of-fold" in md,
      "report.md names the Wilson interval and labels each AUC mean over folds or pooled")

# ---- 3. pairwise tests: corrected t, Holm, Bayesian correlated t ------------------------
cmp_rows = read_csv(os.path.join(rep, "comparisons.csv"))
by_unit = {}
for t in sel:
    by_unit.setdefault(t["unit"], {})[t["family"]] = t
pair_p = {m: [] for m in COMPARED}
worst_t = worst_b = 0.0
for ci, C in enumerate(js["comparisons"]):
    a, b = C["a"], C["b"]
    units = [u for u in sorted(by_unit) if a in by_unit[u] and b in by_unit[u]]
    rho = np.mean([len(by_unit[u][a]["y"]) / by_unit[u][a]["n_fit"] for u in units])
    for m in COMPARED:
        d = np.array([by_unit[u][a][m] - by_unit[u][b][m] for u in units])
        J, s2 = len(d), d.var(ddof=1)
        se = np.sqrt((1 / J + rho) * s2)
        p_ref = 2 * stats.t.sf(abs(d.mean() / se), J - 1)
        pair_p[m].append(p_ref)
        row = [r for r in cmp_rows if r["a"] == a and r["b"] == b and r["test"] == "corrected_t" and r["scope"] == m][0]
        worst_t = max(worst_t, diff(row["estimate"], d.mean()), diff(row["p"], p_ref), diff(C["tests"][m]["corrected_t"]["p"], p_ref))
        # Corani & Benavoli: posterior Student t(J-1), location mean(d), scale sqrt((1/J + rho/(1-rho)) s^2)
        post = stats.t(J - 1, loc=d.mean(), scale=np.sqrt((1 / J + rho) * s2))
        ref = (post.sf(ROPE), post.cdf(ROPE) - post.cdf(-ROPE), post.cdf(-ROPE))
        row = [r for r in cmp_rows if r["a"] == a and r["b"] == b and r["test"] == "bayes_correlated" and r["scope"] == m][0]
        got = [float(row[k]) for k in ("p_a_better", "p_equivalent", "p_b_better")]
        jb = C["tests"][m]["bayes"]
        got_js = [jb["p_a_better"], jb["p_equivalent"], jb["p_b_better"]]
        worst_b = max([worst_b, diff(row["rope"], ROPE)] + [diff(x, y) for x, y in zip(got + got_js, ref + ref)])
print(f"max |corrected t - scipy|: {worst_t:.2e}; max |Bayesian probabilities - scipy.stats.t|: {worst_b:.2e}")
check(worst_t < 1e-9, "corrected t-test of accuracy, balanced accuracy, macro-F1 and AUC for every pair")
check(worst_b < 1e-9, f"Bayesian correlated t-test (rope {ROPE}): P(A better), P(equivalent), P(B better) for every "
                      "pair and metric, in comparisons.csv and the JSON")
check("±2 points" in md and "How to read the Bayesian columns" in md, "report.md states the rope (--rope 0.02 = 2 points) "
                                                                    "and how to read the Bayesian test")
worst = 0.0
for m in COMPARED:
    adj = multipletests(pair_p[m], method="holm")[1]
    for ci, C in enumerate(js["comparisons"]):
        row = [r for r in cmp_rows if r["a"] == C["a"] and r["b"] == C["b"] and r["test"] == "corrected_t"
               and r["scope"] == m][0]
        worst = max(worst, diff(row["p_holm"], adj[ci]), diff(C["tests"][m]["p_holm"], adj[ci]))
check(worst < 1e-9, f"corrected t p-values Holm-adjusted over the 3 pairs as statsmodels multipletests ({worst:.1e})")
for C in js["comparisons"]:
    ph = C["tests"]["accuracy"]["p_holm"]
    claims = "not distinguishable" not in C["verdict"] and "cannot be compared" not in C["verdict"]
    check(claims == (ph < 0.05), f"verdict {C['a']}-{C['b']} claims a difference only if Holm's p < 0.05 "
                                 f"(p_holm {ph:.3f}): {C['verdict'][-160:]}")

# ---- 4. Friedman, average ranks, Nemenyi CD, rank z post-hoc with Holm ------------------
units = [u for u in sorted(by_unit) if len(by_unit[u]) == 3]
check(js["friedman"]["units"] == len(units), f"Friedman over the {len(units)} units all three families share")
q = stats.studentized_range.ppf(0.95, 3, np.inf) / np.sqrt(2)
cd_ref = q * np.sqrt(3 * 4 / (6 * len(units)))
worst = worst_cd = 0.0
for m in COMPARED:
    x = np.array([[by_unit[u][f][m] for f in fams] for u in units])
    st, pf = stats.friedmanchisquare(*x.T)
    ranks = np.mean([stats.rankdata(-row) for row in x], axis=0)
    jf = js["friedman"][m]
    worst_cd = max(worst_cd, diff(jf["cd"], cd_ref) / cd_ref)
    worst = max([worst, diff(jf["statistic"], st), diff(jf["p"], pf)] +
                [diff(jf["avg_rank"][f], ranks[i]) for i, f in enumerate(fams)])
    z = [(ranks[fams.index(C["a"])] - ranks[fams.index(C["b"])]) / np.sqrt(3 * 4 / (6 * len(units)))
         for C in js["comparisons"]]
    adj = multipletests([2 * stats.norm.sf(abs(v)) for v in z], method="holm")[1]
    for ci, C in enumerate(js["comparisons"]):
        row = [r for r in cmp_rows if r["a"] == C["a"] and r["b"] == C["b"] and r["test"] == "rank_z"
               and r["scope"] == m][0]
        worst = max(worst, diff(row["statistic"], z[ci]), diff(row["p_holm"], adj[ci]))
print(f"max |Friedman, ranks, rank z Holm - scipy/statsmodels|: {worst:.2e}; Nemenyi CD relative to "
      f"scipy's studentized range: {worst_cd:.1e}")
check(worst < 1e-9, "Friedman chi-square and p (scipy friedmanchisquare), average ranks, Demsar's rank z "
                    "p-values Holm-adjusted (statsmodels)")
# Demsar's table gives q to three decimals (2.343 for k = 3; scipy 2.3437)
check(worst_cd < 1e-3, f"Nemenyi critical difference {js['friedman']['accuracy']['cd']:.4f} vs {cd_ref:.4f}")
check("## More than two families" in md and "critical difference" in md, "report.md has the Friedman section")

# ---- 5. numbers never rounded onto zero -----------------------------------------------
bad = []
for line in md.splitlines():
    mt = re.match(r"\| (accuracy|balanced accuracy|macro-F1|ROC AUC \(mean over folds\)) \| [+]?(\S+) \| (\S+) to (\S+) \|",
                  line)
    if not mt:
        continue
    for s in mt.groups()[1:]:
        v = float(s)
        digits = s.lstrip("-+0.")
        if v == 0 and re.search(r"[1-9]", s) is None and s not in ("0.0", "0.000"):
            bad.append(s)
        if v != 0 and len(digits.replace(".", "")) < 2 and abs(v) < 1:
            bad.append(s)
check(not bad and "| accuracy |" in md, f"comparison tables: every nonzero bound keeps two significant digits ({bad[:5]})")

# ---- 6. error analysis: by the mean probability given to the true class -------------------
errs = read_csv(os.path.join(rep, "errors.csv"))
ptrue = {}
for t in sel:
    for i, row in enumerate(t["index"]):
        ptrue.setdefault(int(row), []).append(t["P"][i, t["y"][i]])
worst = max([diff(r["p_true"], np.mean(ptrue[int(r["index"])])) for r in errs] + [0.0])
order = sorted(errs, key=lambda r: (np.mean(ptrue[int(r["index"])]), r["source_path"], int(r["index"])))
check(len(errs) > 0 and worst < 1e-9 and [r["index"] for r in order] == [r["index"] for r in errs],
      f"errors.csv: {len(errs)} images by p_true ascending (ties by source path), p_true as recomputed ({worst:.1e})")
check("p(true)" in md and "most confidently wrong first" in md, "report.md ranks the errors by p(true)")

# negative control: a different rope changes the Bayesian probabilities and nothing else
p2 = run_hipid("report", res, "--format", "json", "--no-plots", "--rope", "0.2", "--out", os.path.join(ROOT, "r2"),
               timeout=120, env=ENV)
js2 = json.loads(p2.stdout) if p2.returncode == 0 else None
check(js2 is not None and js2["comparisons"][0]["tests"]["accuracy"]["bayes"]["p_equivalent"]
      > js["comparisons"][0]["tests"]["accuracy"]["bayes"]["p_equivalent"]
      and js2["comparisons"][0]["tests"]["accuracy"]["corrected_t"] == js["comparisons"][0]["tests"]["accuracy"]["corrected_t"],
      "negative control: a wider rope raises P(equivalent) and leaves the t-test alone")
p3 = run_hipid("report", res, "--rope", "-1", env=ENV)
check(p3.returncode == 2 and "--rope" in p3.stderr, f"--rope -1: usage error ({p3.returncode}: {p3.stderr.strip()})")
done()
