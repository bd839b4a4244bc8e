"""test_stats.py: src/stats.c against scikit-learn, scipy and independent
reference implementations, through tests/check_stats (records on stdin).

Metrics (confusion matrix, accuracy, balanced accuracy, macro F1, per-class
sensitivity/specificity, ROC AUC binary and one-vs-rest macro, log loss, ROC
curve points) are compared with sklearn on fixed-seed random problems:
balanced and imbalanced, K = 2 and 4, scores with many ties, perfect and
hopeless predictions, a class never predicted, a class absent from y, hard 0/1
probabilities (log-loss clipping) and float32 softmax outputs.

Tests: the paired t-test with scipy.stats.ttest_rel; the corrected resampled
t-test with the Nadeau-Bengio formula written out here (and, with ratio 0,
with scipy.stats.ttest_1samp); 5x2cv with Dietterich's formula written out
here; McNemar with scipy's binom / chi2; DeLong with the O(m*n) Mann-Whitney
kernel psi(x, y) = [x > y] + 0.5 [x == y] in numpy, and with pROC's published
results on its aSAH data set (the worked example). Summaries with numpy and
scipy.stats.t.

Report statistics (issue 15): the corrected (Nadeau-Bengio) summary interval
with the formula in numpy and an mpmath t quantile, with scipy's t.ppf, and at
ratio 0 with scipy.stats.t.interval/sem; Wilson and Clopper-Pearson intervals
with statsmodels' proportion_confint on every k of n <= 60, 100, 333, 1000 and
random n <= 20000 (plus n = 1e5, 2e5 at 1e-10); the Bayesian correlated t-test
with Corani & Benavoli's posterior through scipy.stats.t(df, loc, scale);
Friedman with scipy.stats.friedmanchisquare and rankdata; Holm with
statsmodels' multipletests; the rank z test with scipy.stats.norm; Nemenyi's
critical difference with scipy.stats.studentized_range (1e-3: the table's
three decimals). Each has a control showing the check can fail (the correction
widens, the two proportion methods differ, ties change Friedman's statistic,
Holm is not Bonferroni).

Tolerance: 1e-12 relative (values under 1e-13 in size compared absolutely).
Prints "max REL-DIFF ..." per reference; exits 1 if any check failed.
"""
import os
import sys
import warnings

import mpmath
import numpy as np
from scipy import stats
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score,
                             log_loss, multilabel_confusion_matrix, recall_score, roc_auc_score,
                             roc_curve)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import check, done, require, test_bin  # noqa: E402

CHECK = test_bin("check_stats")
TOL = 1e-12
ABS_FLOOR = 1e-13

warnings.simplefilter("ignore")  # sklearn's UndefinedMetricWarning etc. on degenerate cases
worst = {}  # reference name -> largest relative difference seen


def fmt(v):
    return repr(float(v)) if not isinstance(v, (int, np.integer)) else str(int(v))


def run(records):
    """records: list of (name, [numbers...]); returns one dict per record."""
    text = "\n".join(name + " " + " ".join(fmt(v) for v in nums) for name, nums in records) + "\n"
    p = testlib.run([CHECK], input=text)
    require(p.returncode == 0, "check_stats exited %d: %s" % (p.returncode, p.stderr[-2000:]))
    out, cur = [], {}
    for line in p.stdout.splitlines():
        if line == "end":
            out.append(cur)
            cur = {}
            continue
        key, *vals = line.split()
        cur[key] = np.array([float(v) for v in vals])
    require(len(out) == len(records), "check_stats answered %d of %d records" % (len(out), len(records)))
    return out


def close(ref_name, got, ref, what, tol=TOL, track=True):
    """Elementwise: both NaN, equal infinities, or relative difference <= tol."""
    got = np.atleast_1d(np.asarray(got, dtype=float))
    ref = np.atleast_1d(np.asarray(ref, dtype=float))
    check(got.shape == ref.shape, "%s: shape %s, expected %s (got %s, ref %s)" % (what, got.shape, ref.shape, got, ref))
    for g, r in zip(got, ref):
        if np.isnan(r) or np.isnan(g):
            check(np.isnan(r) and np.isnan(g), "%s: got %r, expected %r" % (what, g, r))
            continue
        if np.isinf(r) or np.isinf(g):
            check(g == r, "%s: got %r, expected %r" % (what, g, r))
            continue
        scale = max(abs(g), abs(r))
        d = abs(g - r) / scale if scale > ABS_FLOOR else abs(g - r)
        if track:
            worst[ref_name] = max(worst.get(ref_name, 0.0), d)
        check(d <= tol, "%s: got %.17g, expected %.17g (rel diff %.3g)" % (what, g, r, d))


# ---- data ------------------------------------------------------------------

def labels(rng, n, K, imbalanced):
    if imbalanced:
        w = np.array([0.6, 0.1, 0.25, 0.05][:K] if K == 4 else [0.85, 0.15])
        y = rng.choice(K, size=n, p=w / w.sum())
    else:
        y = rng.integers(0, K, n)
    return y


def probs(rng, y, K, kind):
    n = len(y)
    if kind == "dirichlet":  # informative: the true class gets a boost
        a = np.ones((n, K))
        a[np.arange(n), y] += 2.0
        return np.vstack([rng.dirichlet(r) for r in a])
    if kind == "ties":  # coarse weights: many tied scores and tied argmax rows
        w = rng.integers(0, 4, (n, K)).astype(float)
        w[np.arange(n), y] += rng.integers(0, 3, n)
        w[w.sum(axis=1) == 0, 0] = 1.0
        return w / w.sum(axis=1, keepdims=True)
    if kind == "perfect":  # hard one-hot on the truth: log loss hits the clip
        P = np.zeros((n, K))
        P[np.arange(n), y] = 1.0
        return P
    if kind == "hard_wrong":  # hard one-hot, half of them wrong
        p = np.where(rng.random(n) < 0.5, y, (y + 1) % K)
        P = np.zeros((n, K))
        P[np.arange(n), p] = 1.0
        return P
    if kind == "never_last":  # the last class is never predicted
        P = rng.dirichlet(np.ones(K), n)
        P[:, K - 1] *= 0.01
        return P / P.sum(axis=1, keepdims=True)
    if kind == "float32":  # a float softmax widened to double: rows off 1 by ~1e-7
        z = (rng.normal(0, 2, (n, K)) + 2.0 * np.eye(K)[y]).astype(np.float32)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32).astype(np.float64)
    if kind == "uniform":  # every row the same: one big tie
        return np.full((n, K), 1.0 / K)
    raise ValueError(kind)


def metric_cases():
    rng = np.random.default_rng(20240611)
    cases = []
    for K in (2, 4):
        for kind in ("dirichlet", "ties", "perfect", "hard_wrong", "never_last", "float32", "uniform"):
            for imb in (False, True):
                for n in (7, 60, 400):
                    y = labels(rng, n, K, imb)
                    cases.append((y, probs(rng, y, K, kind), "%s K=%d n=%d%s" % (kind, K, n, " imb" if imb else "")))
    # a class absent from y (AUC undefined: sklearn raises, we give NaN)
    y = rng.integers(0, 3, 50)
    cases.append((y, probs(rng, y, 4, "dirichlet"), "class 3 absent K=4"))
    y = np.zeros(20, dtype=int)
    cases.append((y, probs(rng, y, 2, "dirichlet"), "one class only K=2"))
    return cases


# ---- metrics -----------------------------------------------------------------

def test_metrics():
    cases = metric_cases()
    res = run([("metrics", [len(y), P.shape[1]] + list(y) + list(P.ravel())) for y, P, _ in cases])
    for (y, P, name), r in zip(cases, res):
        K = P.shape[1]
        pred = np.argmax(P, axis=1)
        check((r["pred"] == pred).all(), "%s: argmax differs from numpy's" % name)
        cm = confusion_matrix(y, pred, labels=np.arange(K))
        check((r["conf"].reshape(K, K) == cm).all(), "%s: confusion matrix\n%s\nvs sklearn\n%s" % (name, r["conf"], cm))
        close("sklearn accuracy_score", r["accuracy"], accuracy_score(y, pred), name + " accuracy")
        close("sklearn balanced_accuracy_score", r["balanced"], balanced_accuracy_score(y, pred), name + " balanced")
        close("sklearn f1_score macro", r["f1"], f1_score(y, pred, average="macro", zero_division=0), name + " f1")
        present = np.bincount(y, minlength=K) > 0
        rec = recall_score(y, pred, labels=np.arange(K), average=None, zero_division=0)
        close("sklearn recall_score", r["sens"][present], rec[present], name + " sensitivity")
        check(np.isnan(r["sens"][~present]).all(), "%s: sensitivity of an absent class must be NaN" % name)
        mcm = multilabel_confusion_matrix(y, pred, labels=np.arange(K))
        tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
        has_neg = tn + fp > 0
        close("sklearn multilabel_confusion_matrix (specificity)", r["spec"][has_neg],
              tn[has_neg] / (tn + fp)[has_neg], name + " specificity")
        check(np.isnan(r["spec"][~has_neg]).all(), "%s: specificity without negatives must be NaN" % name)
        close("sklearn log_loss", r["logloss"], log_loss(y, P, labels=np.arange(K)), name + " log loss")
        # AUC
        if present.all():
            ref = roc_auc_score(y, P[:, 1]) if K == 2 else roc_auc_score(y, P, multi_class="ovr", average="macro")
            close("sklearn roc_auc_score", r["auc"], ref, name + " auc")
        else:
            check(np.isnan(r["auc"]), "%s: AUC with an absent class must be NaN (sklearn raises)" % name)
        for c in range(K):
            pos = y == c
            ref = roc_auc_score(pos, P[:, c]) if 0 < pos.sum() < len(y) else np.nan
            close("sklearn roc_auc_score", r["auc_class"][c], ref, "%s auc class %d" % (name, c))


def test_roc_curve():
    rng = np.random.default_rng(7)
    cases = []
    for n in (5, 40, 300):
        for kind in ("continuous", "ties", "constant", "perfect", "reversed"):
            y = rng.integers(0, 4, n)
            pos = int(rng.integers(0, 4))
            t = (y == pos).astype(float)
            s = {"continuous": rng.normal(size=n) + t, "ties": np.round(rng.normal(size=n) + t, 1),
                 "constant": np.full(n, 0.3), "perfect": t + rng.random(n) * 0.5,
                 "reversed": -t}[kind]
            cases.append((y, s, pos, "%s n=%d" % (kind, n)))
    y = np.array([1, 1, 1, 1])
    cases.append((y, np.array([0.1, 0.4, 0.4, 0.9]), 1, "no negatives"))
    cases.append((y, np.array([0.1, 0.4, 0.4, 0.9]), 0, "no positives"))
    cases.append((np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.4, 0.5]), 1, "sklearn docstring"))
    res = run([("roc", [len(y), pos] + list(y) + list(s)) for y, s, pos, _ in cases])
    for (y, s, pos, name), r in zip(cases, res):
        t = (y == pos).astype(int)
        fpr, tpr, thr = roc_curve(t, s, drop_intermediate=False)
        close("sklearn roc_curve", r["fpr"], fpr, name + " fpr")
        close("sklearn roc_curve", r["tpr"], tpr, name + " tpr")
        check(r["thr"][0] == np.inf, "%s: thr[0] must be inf" % name)
        close("sklearn roc_curve", r["thr"][1:], thr[1:], name + " thresholds")
        ref = roc_auc_score(t, s) if 0 < t.sum() < len(t) else np.nan
        close("sklearn roc_auc_score", r["auc"], ref, name + " auc")
    # AUC equals the trapezoid under our own curve
    for (y, s, pos, name), r in zip(cases, res):
        if not np.isnan(r["auc"][0]):
            close("own curve", r["auc"], np.trapz(r["tpr"], r["fpr"]), name + " trapz", track=False)


# ---- summaries and t-tests -----------------------------------------------------

_tq_cache = {}


def t_quantile(level, df):
    """Two-sided t critical value to 40 digits with mpmath (the exact CDF via
    the regularised incomplete beta). scipy 1.10's t.ppf is off by up to ~2e-9
    relative (e.g. df=4, 0.95), GSL's by ~1e-15, so scipy cannot referee it."""
    key = (level, df)
    if key not in _tq_cache:
        with mpmath.workdps(40):
            nu, a = mpmath.mpf(df), (1 - mpmath.mpf(level)) / 2
            sf = lambda x: mpmath.betainc(nu / 2, mpmath.mpf(1) / 2, 0, nu / (nu + x * x), regularized=True) / 2 - a
            _tq_cache[key] = float(mpmath.findroot(sf, stats.t.isf(float(a), df)))
    return _tq_cache[key]


def t_ci(mean, se, df, level):
    h = t_quantile(level, df) * se
    return mean - h, mean + h


def t_ci_scipy(got_lo, got_hi, mean, se, df, level, what):
    """The interval against scipy's t.ppf, at the tolerance its error allows."""
    h = stats.t.ppf(0.5 + 0.5 * level, df) * se
    close("scipy t.ppf (intervals, its own error ~2e-9)", [got_lo, got_hi], [mean - h, mean + h], what, tol=1e-8)


def test_summary():
    rng = np.random.default_rng(3)
    cases = [(rng.normal(0.8, 0.05, n), lev) for n in (2, 3, 10, 100) for lev in (0.9, 0.95, 0.99)]
    cases += [(np.array([0.7]), 0.95), (np.array([]), 0.95), (np.full(5, 0.25), 0.95)]
    res = run([("summary", [len(x), lev] + list(x)) for x, lev in cases])
    for (x, lev), r in zip(cases, res):
        n = len(x)
        mean = x.mean() if n else np.nan
        sd = x.std(ddof=1) if n > 1 else np.nan
        lo, hi = t_ci(mean, sd / np.sqrt(n), n - 1, lev) if n > 1 else (np.nan, np.nan)
        name = "summary n=%d level=%g" % (n, lev)
        close("numpy mean/std", [r["mean"][0], r["sd"][0]], [mean, sd], name)
        close("mpmath t quantile (intervals)", [r["lo"][0], r["hi"][0]], [lo, hi], name + " interval")
        if n > 1:
            t_ci_scipy(r["lo"][0], r["hi"][0], mean, sd / np.sqrt(n), n - 1, lev, name + " interval")


def test_ttest_paired():
    rng = np.random.default_rng(4)
    cases = []
    for n in (2, 3, 5, 10, 50):
        for shift in (0.0, 0.01, 0.2):
            a = rng.normal(0.85, 0.03, n)
            cases.append((a, a - shift + rng.normal(0, 0.02, n), 0.95))
    a = rng.normal(size=8)
    cases += [(a, a.copy(), 0.95), (a, a - 0.5, 0.95), (a, a + rng.normal(0, 1e-3, 8), 0.9)]
    res = run([("ttest", [len(a), lev] + list(a) + list(b)) for a, b, lev in cases])
    for (a, b, lev), r in zip(cases, res):
        ref = stats.ttest_rel(a, b)
        d = a - b
        name = "ttest_rel n=%d" % len(a)
        close("scipy ttest_rel", [r["t"][0], r["p"][0], r["df"][0]], [ref.statistic, ref.pvalue, len(a) - 1], name)
        se = d.std(ddof=1) / np.sqrt(len(d))
        close("mpmath t quantile (intervals)", [r["lo"][0], r["hi"][0]], t_ci(d.mean(), se, len(d) - 1, lev), name + " interval")
        t_ci_scipy(r["lo"][0], r["hi"][0], d.mean(), se, len(d) - 1, lev, name + " interval")


def nb_reference(d, ratio, level):
    """Nadeau & Bengio (2003) corrected resampled t, Bouckaert & Frank (2004) for k x r CV."""
    J = len(d)
    mean = np.mean(d)
    se = np.sqrt((1.0 / J + ratio) * np.var(d, ddof=1))
    t = mean / se
    p = 2 * stats.t.sf(abs(t), J - 1)
    return mean, se, t, p, t_ci(mean, se, J - 1, level)


def test_ttest_corrected():
    rng = np.random.default_rng(5)
    cases = []
    for k, reps in ((10, 10), (5, 2), (5, 5), (2, 5), (3, 1), (10, 1)):
        J = k * reps
        for eff in (0.0, 0.01, 0.05):
            cases.append((rng.normal(eff, 0.03, J), 1.0 / (k - 1), 0.95))
    cases.append((rng.normal(0.02, 0.01, 30), 0.25, 0.9))  # hold-out style ratio
    res = run([("corrected", [len(d), ratio, lev] + list(d)) for d, ratio, lev in cases])
    for (d, ratio, lev), r in zip(cases, res):
        mean, se, t, p, (lo, hi) = nb_reference(d, ratio, lev)
        name = "corrected J=%d ratio=%g" % (len(d), ratio)
        close("Nadeau-Bengio formula (numpy/scipy)",
              [r[k][0] for k in ("estimate", "se", "t", "p", "df", "lo", "hi")],
              [mean, se, t, p, len(d) - 1, lo, hi], name)
    # ratio 0 is the plain one-sample t-test of the differences
    ds = [rng.normal(0.01, 0.02, J) for J in (5, 20, 100)]
    res = run([("corrected", [len(d), 0.0, 0.95] + list(d)) for d in ds])
    for d, r in zip(ds, res):
        ref = stats.ttest_1samp(d, 0.0)
        close("scipy ttest_1samp (ratio 0)", [r["t"][0], r["p"][0]], [ref.statistic, ref.pvalue], "ratio 0 J=%d" % len(d))
    # the correction can only widen: same d, larger ratio -> larger p
    d = rng.normal(0.01, 0.02, 100)
    a, b = run([("corrected", [100, 0.0, 0.95] + list(d)), ("corrected", [100, 1 / 9, 0.95] + list(d))])
    check(b["p"][0] > a["p"][0] and b["se"][0] > a["se"][0], "the correction must widen the test")


def dietterich_reference(p, level):
    p = np.asarray(p).reshape(5, 2)
    pbar = p.mean(axis=1)
    s2 = ((p - pbar[:, None]) ** 2).sum(axis=1)
    se = np.sqrt(s2.mean())
    t = p[0, 0] / se
    return p[0, 0], se, t, 2 * stats.t.sf(abs(t), 5), t_ci(p[0, 0], se, 5, level)


def test_5x2cv():
    rng = np.random.default_rng(6)
    cases = [(rng.normal(eff, 0.02, 10), lev) for eff in (0.0, 0.01, 0.05) for lev in (0.95, 0.99) for _ in range(3)]
    res = run([("5x2cv", [lev] + list(p)) for p, lev in cases])
    for (p, lev), r in zip(cases, res):
        est, se, t, pv, (lo, hi) = dietterich_reference(p, lev)
        close("Dietterich 5x2cv formula (numpy/scipy)",
              [r[k][0] for k in ("estimate", "se", "t", "p", "df", "lo", "hi")], [est, se, t, pv, 5, lo, hi], "5x2cv")


# ---- McNemar -------------------------------------------------------------------

def mcnemar_reference(b, c):
    n = b + c
    if n == 0:
        return 1, 0.0, 1.0
    if n < 25:
        k = min(b, c)
        return 1, float(k), min(1.0, 2 * stats.binom.cdf(k, n, 0.5))
    s = (abs(b - c) - 1.0) ** 2 / n
    return 0, s, stats.chi2.sf(s, 1)


def test_mcnemar():
    grid = [(b, c) for b in range(0, 41, 3) for c in range(0, 41, 4)] + [(12, 12), (0, 24), (0, 25), (500, 430)]
    res = run([("mcnemar_bc", [b, c]) for b, c in grid])
    for (b, c), r in zip(grid, res):
        exact, s, p = mcnemar_reference(b, c)
        check(r["exact"][0] == exact and r["b"][0] == b and r["c"][0] == c, "mcnemar b=%d c=%d: exact flag/counts" % (b, c))
        close("scipy binom.cdf / chi2.sf (McNemar)", [r["statistic"][0], r["p"][0]], [s, p], "mcnemar b=%d c=%d" % (b, c))
    # from correctness vectors
    rng = np.random.default_rng(8)
    vecs = []
    for n in (10, 60, 600):
        for q in (0.02, 0.1, 0.3):
            a = rng.random(n) < 0.8
            flip = rng.random(n) < q
            vecs.append((a.astype(int), np.where(flip, ~a, a).astype(int)))
    res = run([("mcnemar", [len(a)] + list(a) + list(b)) for a, b in vecs])
    for (a, b), r in zip(vecs, res):
        bb, cc = int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))
        check(r["b"][0] == bb and r["c"][0] == cc, "mcnemar counts from vectors")
        exact, s, p = mcnemar_reference(bb, cc)
        close("scipy binom.cdf / chi2.sf (McNemar)", r["p"], p, "mcnemar vectors")


# ---- DeLong --------------------------------------------------------------------

def delong_reference(y, a, b, level):
    """O(m*n) structural components from the Mann-Whitney kernel."""
    pos, neg = y == 1, y != 1
    out = []
    for s in (a, b):
        x, z = s[pos][:, None], s[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)
        out.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))  # auc, V10 (m), V01 (n)
    m, n = pos.sum(), neg.sum()
    S10 = np.cov(np.vstack([out[0][1], out[1][1]]), ddof=1)
    S01 = np.cov(np.vstack([out[0][2], out[1][2]]), ddof=1)
    C = S10 / m + S01 / n
    diff = out[0][0] - out[1][0]
    se = np.sqrt(C[0, 0] + C[1, 1] - 2 * C[0, 1])
    z = diff / se if se > 0 else np.nan
    p = 2 * stats.norm.sf(abs(z)) if se > 0 else np.nan
    h = stats.norm.ppf(0.5 + 0.5 * level) * se
    return dict(auc_a=out[0][0], auc_b=out[1][0], var_a=C[0, 0], var_b=C[1, 1], cov=C[0, 1],
                estimate=diff, se=se, t=z, p=p, lo=diff - h, hi=diff + h)


DELONG_KEYS = ("auc_a", "auc_b", "var_a", "var_b", "cov", "estimate", "se", "t", "p", "lo", "hi")


def test_delong():
    rng = np.random.default_rng(9)
    cases = []
    for n, prev in ((12, 0.5), (60, 0.3), (400, 0.5), (400, 0.1), (1000, 0.05)):
        for kind in ("continuous", "ties", "correlated"):
            y = (rng.random(n) < prev).astype(int)
            y[:2], y[2:4] = 1, 0  # at least two of each
            a = rng.normal(size=n) + 1.0 * y
            b = rng.normal(size=n) + 0.6 * y
            if kind == "ties":
                a, b = np.round(a, 0), np.round(b * 2, 0) / 2
            if kind == "correlated":
                b = a + rng.normal(0, 0.3, n)
            cases.append((y, a, b, "%s n=%d prev=%g" % (kind, n, prev)))
    y = np.array([1, 1, 0, 0, 1, 0])
    cases.append((y, np.array([.9, .8, .1, .2, .7, .3]), np.array([.6, .2, .5, .1, .9, .4]), "one perfect"))
    res = run([("delong", [len(y), 1, 0.95] + list(y) + list(a) + list(b)) for y, a, b, _ in cases])
    for (y, a, b, name), r in zip(cases, res):
        ref = delong_reference(y, a, b, 0.95)
        close("numpy O(m*n) DeLong", [r[k][0] for k in DELONG_KEYS], [ref[k] for k in DELONG_KEYS], "delong " + name)
        close("sklearn roc_auc_score", [r["auc_a"][0], r["auc_b"][0]], [roc_auc_score(y, a), roc_auc_score(y, b)],
              "delong auc " + name)
    # identical scores: se 0, z and p NaN; a single positive: no variance
    y = np.array([1, 0, 1, 0, 0])
    s = np.array([0.3, 0.1, 0.7, 0.2, 0.9])
    r1, r2 = run([("delong", [5, 1, 0.95] + list(y) + list(s) + list(s)),
                  ("delong", [5, 1, 0.95] + [1, 0, 0, 0, 0] + list(s) + list(s[::-1]))])
    check(r1["se"][0] == 0 and np.isnan(r1["t"][0]) and np.isnan(r1["p"][0]), "identical scores: se 0, z/p NaN")
    check(not np.isnan(r2["auc_a"][0]) and np.isnan(r2["var_a"][0]) and np.isnan(r2["p"][0]), "one positive: AUC, no test")


def test_empty_and_tiny():
    """Sizes 0 and 1: NaN results, no crash (the sanitizer run covers memory)."""
    r = run([("metrics", [0, 3]), ("roc", [0, 1]), ("ttest", [1, 0.95, 0.5, 0.4]),
             ("corrected", [1, 0.1, 0.95, 0.02]), ("delong", [0, 1, 0.95]),
             ("delong", [3, 1, 0.95, 1, 1, 1, 0.1, 0.2, 0.3, 0.3, 0.2, 0.1]), ("mcnemar", [0])])
    m, roc, tt, nb, d0, d1, mc = r
    for k in ("accuracy", "balanced", "f1", "auc", "logloss"):
        check(np.isnan(m[k][0]), "metrics n=0: %s must be NaN" % k)
    check(len(roc["fpr"]) == 1 and np.isnan(roc["fpr"][0]) and np.isnan(roc["tpr"][0]), "roc n=0: one NaN point")
    for k in ("t", "p", "lo", "hi"):
        check(np.isnan(tt[k][0]) and np.isnan(nb[k][0]), "a single difference: %s must be NaN" % k)
    check(np.isnan(d0["auc_a"][0]) and np.isnan(d1["auc_a"][0]) and np.isnan(d1["p"][0]), "DeLong without negatives")
    check(mc["p"][0] == 1 and mc["exact"][0] == 1, "McNemar without discordant pairs: exact, p = 1")


# pROC's aSAH data set (Turck et al. 2010, Intensive Care Med 36:107-115; 113
# patients, positive = outcome "Poor"), as shipped with the R package pROC.
ASAH_POOR = [
    0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0,
    1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0,
    0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0]
ASAH_S100B = [
    0.13, 0.14, 0.1, 0.04, 0.13, 0.1, 0.47, 0.16, 0.18, 0.1, 0.12, 0.1, 0.44, 0.71, 0.04, 0.08, 0.49, 0.04, 0.07,
    0.33, 0.09, 0.09, 0.07, 0.11, 0.07, 0.17, 0.07, 0.11, 0.13, 0.19, 0.05, 0.16, 0.41, 0.14, 0.34, 0.35, 0.48, 0.09,
    0.96, 0.25, 0.5, 0.46, 0.16, 0.07, 0.43, 0.45, 0.11, 0.08, 0.09, 0.86, 0.52, 0.08, 0.06, 0.13, 2.07, 0.1, 0.14,
    0.15, 0.07, 0.06, 0.77, 0.05, 0.09, 0.3, 0.03, 0.09, 0.04, 0.23, 0.7, 0.09, 0.27, 0.71, 0.08, 0.26, 0.08, 0.16,
    0.09, 0.13, 0.1, 0.08, 0.11, 0.33, 0.11, 0.28, 0.07, 0.1, 0.32, 0.22, 0.07, 0.05, 0.24, 0.38, 0.1, 0.15, 0.08,
    0.14, 0.1, 0.07, 0.04, 0.19, 0.56, 0.14, 0.58, 0.32, 0.82, 0.74, 0.15, 0.47, 0.17, 0.44, 0.15, 0.5, 0.48]
ASAH_WFNS = [
    1, 1, 1, 1, 3, 2, 5, 4, 1, 2, 5, 2, 5, 5, 1, 2, 5, 2, 2, 5, 2, 1, 1, 1, 1, 2, 1, 2, 1, 1, 3, 4, 2, 1, 4, 5, 4, 1,
    4, 2, 5, 5, 1, 1, 2, 4, 1, 1, 2, 5, 5, 2, 1, 2, 5, 1, 2, 2, 2, 1, 5, 1, 1, 2, 5, 2, 1, 4, 5, 2, 4, 4, 1, 4, 1, 2,
    1, 4, 2, 1, 2, 3, 2, 4, 2, 1, 4, 5, 1, 1, 5, 4, 2, 2, 1, 1, 1, 3, 1, 2, 5, 2, 2, 5, 5, 5, 2, 4, 4, 5, 1, 1, 1]
ASAH_NDKA = [
    3.01, 8.54, 8.09, 10.42, 17.4, 12.75, 6.0, 13.2, 15.54, 6.01, 15.96, 17.86, 5.18, 8.9, 13.41, 20.75, 11.6, 16.11,
    32.37, 54.82, 32.41, 49.94, 40.34, 9.47, 6.29, 12.53, 6.54, 6.3, 80.3, 12.8, 9.8, 9.81, 9.85, 18.21, 5.03, 14.04,
    21.93, 8.02, 7.42, 8.38, 6.59, 9.63, 13.12, 7.96, 14.34, 41.43, 7.63, 7.06, 12.59, 13.56, 3.87, 9.44, 7.66, 12.98,
    419.19, 27.19, 22.27, 9.95, 21.22, 11.73, 10.4, 58.83, 6.39, 11.09, 12.22, 13.67, 17.21, 22.63, 12.9, 9.7, 21.57,
    8.23, 72.57, 15.54, 10.51, 10.6, 14.57, 5.19, 9.63, 4.61, 21.48, 17.3, 12.71, 9.44, 11.07, 19.46, 10.83, 5.37,
    11.97, 7.75, 9.83, 10.55, 28.49, 8.53, 12.57, 12.9, 46.83, 11.68, 12.67, 9.01, 9.57, 34.06, 11.72, 14.26, 47.61,
    11.67, 24.58, 10.33, 13.87, 15.89, 22.43, 6.79, 13.45]


def test_delong_proc_asah():
    """The worked example: pROC's own regression values (pROC tests/testthat,
    test-var.R and test-roc.test.R: var(r.wfns), var(r.ndka), var(r.s100b),
    roc.test(r.wfns, r.s100b), roc.test(r.wfns, r.ndka)), printed there to 15
    significant digits."""
    y = np.array(ASAH_POOR)
    check(len(y) == 113 and y.sum() == 41, "aSAH: 113 patients, 41 poor outcomes")
    wfns, s100b, ndka = (np.array(v, dtype=float) for v in (ASAH_WFNS, ASAH_S100B, ASAH_NDKA))
    r1, r2 = run([("delong", [113, 1, 0.95] + list(y) + list(wfns) + list(s100b)),
                  ("delong", [113, 1, 0.95] + list(y) + list(wfns) + list(ndka))])
    tol = 1e-12 * 1000  # the published values carry 15 digits
    close("pROC published (aSAH)", [r1["var_a"][0], r1["var_b"][0], r2["var_b"][0]],
          [0.00146991470882363, 0.00266868245717244, 0.0031908105493913], "pROC var(wfns, s100b, ndka)", tol=tol)
    close("pROC published (aSAH)", [r1["t"][0], r1["p"][0], r1["lo"][0], r1["hi"][0]],
          [2.20898359144091, 0.0271757822291882, 0.0104061769564846, 0.174214419249478],
          "pROC roc.test(wfns, s100b)", tol=tol)
    close("pROC published (aSAH)", [r2["t"][0], r2["p"][0], r2["lo"][0], r2["hi"][0]],
          [2.79777591868904, 0.00514557970691098, 0.0634011709339876, 0.3600405634833566],
          "pROC roc.test(wfns, ndka)", tol=tol)
    close("pROC published (aSAH)", [r1["auc_a"][0], r1["auc_b"][0], r2["auc_b"][0]],
          [0.823678861788618, 0.731368563685637, 0.611957994579946], "pROC auc(wfns, s100b, ndka)", tol=tol)
    print("info aSAH worked example: wfns vs s100b z=%.14f p=%.14g (pROC 2.20898359144091, 0.0271757822291882)"
          % (r1["t"][0], r1["p"][0]))


# ---- intervals for resampled means and proportions -------------------------------

def test_summary_corrected():
    """Nadeau-Bengio corrected interval of a mean of J resampled scores."""
    rng = np.random.default_rng(11)
    cases = [(rng.normal(0.8, 0.05, J), ratio, lev) for J in (2, 3, 5, 10, 25, 50, 100)
             for ratio in (0.0, 1 / 9, 0.25, 1.0) for lev in (0.9, 0.95, 0.99)]
    cases += [(np.array([]), 0.25, 0.95), (np.array([0.7]), 0.25, 0.95), (np.full(6, 0.25), 0.25, 0.95)]
    res = run([("sumcorr", [len(x), ratio, lev] + list(x)) for x, ratio, lev in cases])
    for (x, ratio, lev), r in zip(cases, res):
        J = len(x)
        name = "summary_corrected J=%d ratio=%g level=%g" % (J, ratio, lev)
        mean = x.mean() if J else np.nan
        sd = x.std(ddof=1) if J > 1 else np.nan
        se = np.sqrt((1.0 / J + ratio) * np.var(x, ddof=1)) if J > 1 else np.nan
        lo, hi = t_ci(mean, se, J - 1, lev) if J > 1 else (np.nan, np.nan)
        close("numpy mean/std", [r["n"][0], r["mean"][0], r["sd"][0]], [J, mean, sd], name)
        close("corrected interval, mpmath t quantile", [r["lo"][0], r["hi"][0]], [lo, hi], name)
        if J > 1:
            t_ci_scipy(r["lo"][0], r["hi"][0], mean, se, J - 1, lev, name)
    # ratio 0: scipy's t.interval around the mean with scipy's sem, and stats_summary itself
    xs = [rng.normal(0.7, 0.1, J) for J in (2, 5, 30)]
    res = run([("sumcorr", [len(x), 0.0, 0.95] + list(x)) for x in xs] +
              [("summary", [len(x), 0.95] + list(x)) for x in xs])
    for x, r, s in zip(xs, res[:len(xs)], res[len(xs):]):
        lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
        close("scipy t.interval/sem (ratio 0, its own error ~2e-9)", [r["lo"][0], r["hi"][0]], [lo, hi],
              "summary_corrected ratio 0 J=%d" % len(x), tol=1e-8)
        close("stats_summary (ratio 0)", [r["lo"][0], r["hi"][0]], [s["lo"][0], s["hi"][0]],
              "summary_corrected ratio 0 = summary J=%d" % len(x), tol=1e-14, track=False)
    # the check can fail: the corrected interval of 10-fold CV is wider than the naive one
    x = rng.normal(0.8, 0.05, 10)
    a, b = run([("sumcorr", [10, 0.0, 0.95] + list(x)), ("sumcorr", [10, 1 / 9, 0.95] + list(x))])
    w0, w1 = a["hi"][0] - a["lo"][0], b["hi"][0] - b["lo"][0]
    check(abs(w1 / w0 - np.sqrt(1 + 10 / 9)) < 1e-12, "10-fold correction widens by sqrt(1 + J ratio): %g" % (w1 / w0))


def test_prop_ci():
    """Wilson and Clopper-Pearson against statsmodels' proportion_confint."""
    from statsmodels.stats.proportion import proportion_confint
    grid = [(k, n) for n in list(range(1, 61)) + [100, 333, 1000] for k in range(n + 1)]
    rng = np.random.default_rng(12)
    for _ in range(300):
        n = int(rng.integers(1, 20001))
        grid.append((int(rng.integers(0, n + 1)), n))
    grid += [(k, n) for n in (5000, 20000) for k in (0, 1, 2, 3, n // 3, n // 2, n - 3, n - 2, n - 1, n)]
    for method, code, label in (("wilson", 0, "Wilson"), ("beta", 1, "Clopper-Pearson")):
        for lev in (0.9, 0.95, 0.99):
            res = run([("propci", [k, n, lev, code]) for k, n in grid])
            got = np.array([[r["lo"][0], r["hi"][0]] for r in res])
            k, n = np.array(grid).T
            ref_lo, ref_hi = proportion_confint(k, n, alpha=1 - lev, method=method)
            for (kk, nn), g, rl, rh in zip(grid, got, ref_lo, ref_hi):
                close("statsmodels proportion_confint %s" % method, g, [rl, rh],
                      "%s k=%d n=%d level=%g" % (label, kk, nn, lev))
            check(np.all((got >= 0) & (got <= 1)), "%s level=%g: a bound outside [0, 1]" % (label, lev))
            check(np.all((got[:, 0] <= k / n) & (k / n <= got[:, 1])),
                  "%s level=%g: k/n outside its interval" % (label, lev))
            check(np.all(got[k == 0, 0] == 0) and np.all(got[k == n, 1] == 1),
                  "%s: lo = 0 at k = 0 and hi = 1 at k = n" % label)
    # n = 1 written out: Clopper-Pearson [0, 1 - (alpha/2)^1] for k = 0, Wilson z^2/(1+z^2) above
    z2 = stats.norm.isf(0.025) ** 2
    r = run([("propci", [0, 1, 0.95, 1]), ("propci", [1, 1, 0.95, 1]), ("propci", [0, 1, 0.95, 0])])
    close("closed forms n = 1", [r[0]["lo"][0], r[0]["hi"][0], r[1]["lo"][0], r[1]["hi"][0], r[2]["hi"][0]],
          [0.0, 0.975, 0.025, 1.0, z2 / (1 + z2)], "proportion n=1")
    # n large: GSL's beta CDF still holds (1e-10; GSL's own quantile aborts on e.g. k=2, n=333)
    big = [(k, n) for n in (100000, 200000) for k in (1, 3, n // 2, n - 1)]
    res = run([("propci", [k, n, 0.95, 1]) for k, n in big])
    for (k, n), r in zip(big, res):
        close("statsmodels proportion_confint beta, n >= 1e5", [r["lo"][0], r["hi"][0]],
              proportion_confint(k, n, alpha=0.05, method="beta"), "Clopper-Pearson k=%d n=%d" % (k, n), tol=1e-10)
    z = run([("propci", [0, 0, 0.95, 0]), ("propci", [0, 0, 0.95, 1])])
    check(all(np.isnan(r["lo"][0]) and np.isnan(r["hi"][0]) for r in z), "n = 0: NaN interval")
    # the check can fail: the two methods differ
    w, b = run([("propci", [3, 20, 0.95, 0]), ("propci", [3, 20, 0.95, 1])])
    check(abs(w["lo"][0] - b["lo"][0]) > 1e-3, "Wilson and Clopper-Pearson must differ at k=3, n=20")


# ---- Bayesian correlated t-test ------------------------------------------------

def bayes_reference(d, rho, rope):
    """Corani & Benavoli 2015: posterior Student t(J-1, mean(d), sqrt((1/J + rho/(1-rho)) s^2)),
    rho = n_test / (n_test + n_train)."""
    J = len(d)
    mean, s2 = np.mean(d), np.var(d, ddof=1)
    scale = np.sqrt((1.0 / J + rho / (1 - rho)) * s2)
    post = stats.t(J - 1, loc=mean, scale=scale)
    return dict(mean=mean, scale=scale, df=J - 1, p_left=post.cdf(-rope), p_right=post.sf(rope),
                p_rope=post.cdf(rope) - post.cdf(-rope))


def test_bayes_correlated():
    rng = np.random.default_rng(13)
    cases = []
    for k, reps in ((10, 10), (10, 1), (5, 2), (5, 5), (2, 5), (3, 1)):
        J, rho = k * reps, 1.0 / k  # k-fold: n_test / (n_test + n_train) = 1/k
        for eff in (0.0, 0.005, 0.02, 0.1):
            for rope in (0.0, 0.01, 0.05):
                cases.append((rng.normal(eff, 0.03, J), rho, rope))
    cases += [(rng.normal(0.02, 0.01, 30), 0.2, 0.01), (rng.normal(-0.3, 0.01, 10), 0.1, 0.01)]
    res = run([("bayes", [len(d), rho / (1 - rho), rope] + list(d)) for d, rho, rope in cases])
    for (d, rho, rope), r in zip(cases, res):
        ref = bayes_reference(d, rho, rope)
        name = "bayes J=%d rho=%g rope=%g" % (len(d), rho, rope)
        close("Corani-Benavoli posterior (numpy)", [r[k][0] for k in ("mean", "scale", "df")],
              [ref[k] for k in ("mean", "scale", "df")], name)
        got = np.array([r[k][0] for k in ("p_left", "p_rope", "p_right")])
        want = np.array([ref[k] for k in ("p_left", "p_rope", "p_right")])
        diff = np.abs(got - want).max()
        key = "scipy t(df, loc, scale) cdf/sf (absolute)"
        worst[key] = max(worst.get(key, 0), diff)
        check(diff <= 1e-12, "%s: probabilities %s, expected %s" % (name, got, want))
        check(abs(got.sum() - 1) <= 1e-12 and np.all(got >= 0), "%s: probabilities must sum to 1" % name)
        if rope == 0:
            check(got[1] == 0, "%s: a rope of width 0 has probability 0" % name)
    # the rope far in one tail: P(rope) ~ 1e-10 keeps its digits (a difference of two sf, not 1 - 1)
    tails = [rng.normal(0.1, 0.005, 10), -rng.normal(0.1, 0.005, 10), rng.normal(0.2, 0.02, 20)]
    res = run([("bayes", [len(d), 1 / 9, 0.01] + list(d)) for d in tails])
    for d, r in zip(tails, res):
        ref = bayes_reference(d, 0.1, 0.01)
        post = stats.t(len(d) - 1, loc=ref["mean"], scale=ref["scale"])
        # the rope lies in the tail away from the mean: cdf there if the mean is above it, else sf
        want = post.cdf(0.01) - post.cdf(-0.01) if ref["mean"] > 0 else post.sf(-0.01) - post.sf(0.01)
        check(0 < want < 1e-6, "tail case: P(rope) %g should be tiny" % want)
        close("scipy t sf/cdf difference (P(rope) in a tail)", r["p_rope"], want, "bayes P(rope) in a tail", tol=1e-9)
    # s^2 = 0: a point mass at the mean
    deg = [(np.full(10, 0.02), 0.01, (0, 0, 1)), (np.full(10, 0.005), 0.01, (0, 1, 0)),
           (np.full(10, -0.03), 0.01, (1, 0, 0)), (np.zeros(5), 0.0, (0, 1, 0)), (np.full(5, 0.01), 0.01, (0, 1, 0))]
    res = run([("bayes", [len(d), 1 / 9, rope] + list(d)) for d, rope, _ in deg])
    for (d, rope, want), r in zip(deg, res):
        got = tuple(r[k][0] for k in ("p_left", "p_rope", "p_right"))
        check(r["scale"][0] == 0 and r["mean"][0] == d[0] and got == want,
              "s^2 = 0, d = %g, rope %g: %s, expected %s" % (d[0], rope, got, want))
    small = run([("bayes", [1, 0.1, 0.01, 0.02]), ("bayes", [0, 0.1, 0.01]), ("bayes", [3, 0.1, 0.01, 0.02, np.nan, 0.01])])
    for r in small:
        check(all(np.isnan(r[k][0]) for k in ("mean", "scale", "p_left", "p_rope", "p_right")), "J < 2 or a NaN: NaN")
    # the check can fail: without the correction (ratio 0) the posterior is narrower
    d = rng.normal(0.01, 0.03, 10)
    a, b = run([("bayes", [10, 0.0, 0.01] + list(d)), ("bayes", [10, 1 / 9, 0.01] + list(d))])
    check(b["scale"][0] > 1.4 * a["scale"][0], "the correlation must widen the posterior")


# ---- more than two models --------------------------------------------------------

def test_friedman():
    rng = np.random.default_rng(14)
    cases = []
    for N in (2, 3, 5, 10, 50):
        for k in (3, 4, 5, 8):
            x = rng.normal(0.8, 0.05, (N, k)) + np.linspace(0, 0.04, k)
            cases.append((x, "continuous N=%d k=%d" % (N, k)))
            cases.append((np.round(x * 20) / 20, "ties N=%d k=%d" % (N, k)))  # coarse grid: many ties
    x = rng.normal(size=(6, 4))
    x[2] = 0.5  # one block all tied
    cases.append((x, "one block all tied"))
    cases.append((np.array([[1.0, 2, 3], [2, 3, 1], [3, 1, 2]]), "Latin square (statistic 0)"))
    res = run([("friedman", [x.shape[0], x.shape[1]] + list(x.ravel())) for x, _ in cases])
    for (x, name), r in zip(cases, res):
        N, k = x.shape
        ref = stats.friedmanchisquare(*x.T)
        ranks = stats.rankdata(-x, axis=1).mean(axis=0)  # higher is better -> rank 1
        close("scipy rankdata (average ranks)", r["rank"], ranks, "friedman ranks " + name)
        # scipy sums squared rank sums and subtracts 3N(k+1); compare on that scale
        d = abs(r["statistic"][0] - ref.statistic) / max(abs(ref.statistic), 3 * N * (k + 1) / 100)
        worst["scipy friedmanchisquare (statistic)"] = max(worst.get("scipy friedmanchisquare (statistic)", 0), d)
        check(d <= TOL, "friedman %s: statistic %.17g, scipy %.17g" % (name, r["statistic"][0], ref.statistic))
        if ref.statistic > 1e-9:
            close("scipy friedmanchisquare (p)", r["p"], ref.pvalue, "friedman p " + name)
        else:
            check(abs(r["p"][0] - 1) < 1e-12, "friedman %s: statistic 0 gives p 1" % name)
    # the check can fail: without the tie correction the statistic of a tied case differs
    x = cases[1][0]
    N, k = x.shape
    R = stats.rankdata(x, axis=1).sum(axis=0)
    plain = 12.0 / (N * k * (k + 1)) * np.sum(R ** 2) - 3 * N * (k + 1)
    check(abs(plain - stats.friedmanchisquare(*x.T).statistic) > 1e-6, "ties must change Friedman's statistic")
    # undefined: every block all tied, k < 3, N < 2, a NaN
    und = [np.full((4, 3), 0.7), rng.normal(size=(5, 2)), rng.normal(size=(1, 4))]
    nan = rng.normal(size=(4, 3))
    nan[1, 2] = np.nan
    res = run([("friedman", [x.shape[0], x.shape[1]] + list(x.ravel())) for x in und + [nan]])
    for x, r in zip(und, res):
        check(np.isnan(r["statistic"][0]) and np.isnan(r["p"][0]), "friedman %s: statistic NaN" % (x.shape,))
        close("scipy rankdata (average ranks)", r["rank"], stats.rankdata(-x, axis=1).mean(axis=0),
              "friedman ranks, no test %s" % (x.shape,))
    check(np.all(np.isnan(res[-1]["rank"])) and np.isnan(res[-1]["statistic"][0]), "friedman with a NaN: all NaN")


def test_holm():
    from statsmodels.stats.multitest import multipletests
    rng = np.random.default_rng(15)
    cases = []
    for m in (1, 2, 3, 6, 10, 28):
        for kind in ("uniform", "small", "ties", "nan"):
            p = rng.random(m) if kind != "small" else rng.random(m) ** 6
            if kind == "ties" and m > 1:
                p[: m // 2 + 1] = p[0]
            if kind == "nan":
                p[rng.random(m) < 0.3] = np.nan
            cases.append(p)
    cases += [np.array([0.01, 0.04, 0.03, 0.005]), np.array([1.0, 0.0, 0.5]), np.array([np.nan, np.nan]), np.array([])]
    res = run([("holm", [len(p)] + list(p)) for p in cases])
    for p, r in zip(cases, res):
        ok = ~np.isnan(p)
        ref = np.full(len(p), np.nan)
        if ok.any():
            ref[ok] = multipletests(p[ok], method="holm")[1]
        name = "holm m=%d (%d NaN) %s" % (len(p), (~ok).sum(), np.round(p, 4))
        close("statsmodels multipletests holm", r.get("adj", np.array([])), ref, name)
        close("statsmodels multipletests holm", r.get("inplace", np.array([])), ref, name + " in place")
    # the check can fail: Holm is not Bonferroni
    p = np.array([0.01, 0.04, 0.03, 0.005])
    check(np.abs(multipletests(p, method="holm")[1] - np.minimum(1, 4 * p)).max() > 0.01, "Holm must differ from Bonferroni")


def test_rank_z_p():
    rng = np.random.default_rng(16)
    cases = []
    for N in (2, 5, 10, 50):
        for k in (2, 3, 5, 8):
            ri, rj = rng.uniform(1, k, 2)
            cases.append((ri, rj, N, k))
    cases += [(1.0, 3.0, 10, 3), (2.0, 2.0, 5, 4), (1.0, 8.0, 100, 8)]
    res = run([("rankz", list(c)) for c in cases])
    for (ri, rj, N, k), r in zip(cases, res):
        z = (ri - rj) / np.sqrt(k * (k + 1) / (6.0 * N))
        close("scipy norm.sf (rank z)", r["p"], 2 * stats.norm.sf(abs(z)), "rank z N=%d k=%d" % (N, k))
    r = run([("rankz", [1.0, 2.0, 0, 3]), ("rankz", [1.0, 2.0, 5, 1])])
    check(np.isnan(r[0]["p"][0]) and np.isnan(r[1]["p"][0]), "rank z: N < 1 or k < 2 gives NaN")


def test_nemenyi_cd():
    """Demsar's table (three decimals) against the exact studentized range quantile."""
    cases = [(k, N) for k in range(2, 11) for N in (1, 5, 10, 50, 100)]
    res = run([("nemenyi", [k, N]) for k, N in cases])
    for (k, N), r in zip(cases, res):
        q = stats.studentized_range.ppf(0.95, k, np.inf) / np.sqrt(2)
        f = np.sqrt(k * (k + 1) / (6.0 * N))
        cd = r["cd"][0]
        worst["scipy studentized_range q (table, absolute)"] = max(
            worst.get("scipy studentized_range q (table, absolute)", 0), abs(cd / f - q))
        check(abs(cd / f - q) <= 1e-3, "Nemenyi k=%d: q %.4f, scipy %.4f" % (k, cd / f, q))
        check(abs(cd - q * f) / (q * f) <= 1e-3, "Nemenyi CD k=%d N=%d: %.5f, scipy %.5f" % (k, N, cd, q * f))
    res = run([("nemenyi", [1, 10]), ("nemenyi", [11, 10]), ("nemenyi", [3, 0])])
    check(all(np.isnan(r["cd"][0]) for r in res), "Nemenyi outside k = 2..10 or N < 1: NaN")


if __name__ == "__main__":
    test_metrics()
    test_roc_curve()
    test_summary()
    test_ttest_paired()
    test_ttest_corrected()
    test_5x2cv()
    test_mcnemar()
    test_delong()
    test_delong_proc_asah()
    test_empty_and_tiny()
    test_summary_corrected()
    test_prop_ci()
    test_bayes_correlated()
    test_friedman()
    test_holm()
    test_rank_z_p()
    test_nemenyi_cd()
    for name in sorted(worst):
        print("max %-52s %.3g" % (name, worst[name]))
    done()
