"""hipid sweep with [search] mode = halving | hyperband and prune = median |
wilcoxon, checked against tests/halving_ref.py (an independent reading of
include/hipid/sweep/halving.h) and against grid-mode runs; never against the
engine's own output.

1. the reference itself: exact signed-rank p-values against scipy (tie-free)
   and against listing every sign pattern (ties, zeros); rung epochs and
   bracket shares worked out by hand;
2. the engine alone ($TEST_BIN/test_halving_engine): its p-values, and its
   rung tables, trial budgets, pruned flags, rung epochs, bracket shares and
   --dry-run epoch counts on simulated histories (ties, failures), each
   recomputed by halving_ref.py;
3. real sweeps: the rung table in sweep.h5, the budget and pruned columns and
   the trial files' budget attributes equal halving_ref.py's recomputation
   from the trial files' histories (halving, hyperband, prune = wilcoxon and
   median, nested with inner folds, grid with a prune);
4. mpirun -np 1, 2 and 4 (ranks_per_trial 1, and 2 with micro_batch): the same
   rung table and bit-identical trial files;
5. kill -9 of the whole job mid-rung, then a rerun: the same rung table and
   trial files as an uninterrupted run; a rerun of a finished sweep trains
   nothing; --reindex rebuilds the same table;
6. a trial promoted through every rung (continued from its rung checkpoints)
   is bit-identical to a grid-mode trial trained straight to max_epochs;
7. --dry-run: brackets, rungs, and "epochs: at most X ... against Y" equal
   halving_ref.py's arithmetic;
8. job errors: one line naming FILE:LINE and the key, exit 2; --shard with
   halving refused;
9. hipid report succeeds on a halving results folder.
SANITIZE=1 shrinks the sweeps (fewer configurations, no 4-rank runs)."""
import glob
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction

import h5py
import numpy as np
import scipy.stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import halving_ref as R  # noqa: E402
from h5same import differences  # noqa: E402
import testlib  # noqa: E402
from testlib import check, done, hipid, require, test_bin, tmp_dir  # noqa: E402

T_START = time.time()
HIPID = hipid()
ENGINE = test_bin("test_halving_engine")
ROOT = tmp_dir("halving")
DATA = os.path.join(ROOT, "data.h5")
SAN = os.environ.get("SANITIZE") == "1"


def info(msg):
    print(f"info {msg}", flush=True)


# ============================================================================
# 1. the reference against scipy, brute force and hand values
# ============================================================================

rng = random.Random(7)
n_scipy = 0
for n in range(1, 13):
    for _ in range(6):
        # tie-free, zero-free: distinct magnitudes, random signs
        mags = rng.sample(range(1, 1000), n)
        d = [m / 7.0 * rng.choice((-1, 1)) for m in mags]
        ours = R.wilcoxon_greater(d)
        theirs = scipy.stats.wilcoxon(d, alternative="greater", method="exact").pvalue
        check(abs(float(ours) - theirs) <= 1e-12 * max(1.0, theirs),
              f"reference p-value {float(ours):.15g} = scipy's exact {theirs:.15g} for {n} tie-free differences")
        n_scipy += 1
for n in range(1, 11):
    for _ in range(8):
        d = [rng.choice((-3, -2, -1, 0, 1, 2, 3, 2.5, float("inf"))) for _ in range(n)]
        check(R.wilcoxon_greater(d) == R.wilcoxon_brute(d),
              f"reference p-value = every sign pattern listed, with ties and zeros: {d}")
check(R.wilcoxon_greater([1, 2, 3]) == Fraction(1, 8) and R.wilcoxon_greater([1, 1, -1]) == Fraction(1, 2)
      and R.wilcoxon_greater([0, 0]) == 1 and R.wilcoxon_greater([-1, 2, 3, 4, 5]) == Fraction(2, 32),
      "reference p-values of hand-worked tables")
J = dict(search="halving", eta=3, min_epochs=1, max_epochs=9)
check(R.s_max(J) == 2 and R.rung_epochs(J) == [1, 3, 9], "reference rungs: 1 3 9 for min 1 max 9 eta 3")
check(R.rung_epochs(dict(J, eta=2)) == [1, 2, 5, 9], "reference rungs: 9/8 9/4 9/2 9 round (halves up) to 1 2 5 9")
check(R.rung_epochs(dict(J, min_epochs=2, max_epochs=8, eta=2)) == [2, 4, 8], "reference rungs: 2 4 8")
check(R.rung_epochs(dict(J, min_epochs=4, max_epochs=4)) == [4], "reference rungs: min = max gives one rung")
check(R.deal(dict(J, search="hyperband"), 9) == [5, 3, 1],
      "reference Hyperband shares of 9 configurations over n_s = 9, 6, 3: 4.5, 3, 1.5 -> 5 3 1")
check(R.deal(dict(J, search="hyperband", max_epochs=16, eta=2), 7) == [2, 2, 1, 1, 1],
      "reference Hyperband shares of 7 over n_s = 16 16 8 6 5 -> 2 2 1 1 1")

# ============================================================================
# 2. the engine alone, on simulated histories
# ============================================================================

require(os.access(ENGINE, os.X_OK), f"the engine driver {ENGINE} is built")
# its p-values: exactly the reference's (both are sums of k / 2^n), and scipy's
table = []
for n in range(1, 15):
    for _ in range(4):
        table.append([rng.choice((-4, -3, -2, -1, 0, 1, 2, 3, 4, 0.5, 1.5)) for _ in range(n)])
        table.append([rng.uniform(-1, 1) for _ in range(n)])
table.append([float("inf"), 1.0, -2.0])
table.append([0.0] * 5)
p = testlib.run([ENGINE, "wilcoxon"], input="".join(f"{len(d)} " + " ".join(repr(x) for x in d) + "\n" for d in table))
got = [float(x) for x in p.stdout.split()]
require(p.returncode == 0 and len(got) == len(table), f"the engine driver prints {len(table)} p-values ({len(got)})")
bad = [(d, g, float(R.wilcoxon_greater(d))) for d, g in zip(table, got) if Fraction(g) != R.wilcoxon_greater(d)]
check(not bad, f"halving_wilcoxon_greater equals the exact reference on {len(table)} tables "
      f"(ties, zeros, +inf){'' if not bad else ': ' + str(bad[:2])}")
tie_free = [(d, g) for d, g in zip(table, got) if len(set(abs(x) for x in d)) == len(d) and 0 not in d
            and all(math.isfinite(x) for x in d)]
worst = max(abs(g - scipy.stats.wilcoxon(d, alternative="greater", method="exact").pvalue) for d, g in tie_free)
check(worst <= 1e-12, f"halving_wilcoxon_greater = scipy exact on {len(tie_free)} tie-free tables (worst {worst:.2g})")


def engine_job(name, search, cv, families, seeds="1, 2"):
    path = os.path.join(ROOT, name + ".ini")
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = {seeds}\n[data]\npath = none.h5\n[cv]\n{cv}\n[search]\n{search}\n"
                f"{families}\n")
    return path


def parse_job(search, cv):
    """The job dict halving_ref reads, from the [search] and [cv] text."""
    kv = dict(ln.split("=", 1) for ln in search.strip().splitlines() if "=" in ln)
    kv = {k.strip(): v.strip() for k, v in kv.items()}
    mode = kv.get("mode", "grid")
    st = mode in ("halving", "hyperband")
    return dict(search=mode, metric=kv.get("metric", "val_loss"), prune=kv.get("prune", "none"),
                eta=int(kv.get("eta", 3)) if st else 0, min_epochs=int(kv.get("min_epochs", 1)) if st else 0,
                max_epochs=int(kv.get("max_epochs", 0)) if st else 0, prune_after=int(kv.get("prune_after", 0)),
                prune_alpha=float(kv.get("prune_alpha", 0.05)), nested="nested" in cv)


def parse_dump(text):
    plan, hist, rows, trials, expected, lines = [], {}, [], {}, None, []
    for ln in text.splitlines():
        w = ln.split()
        if not w:
            continue
        if w[0] == "plan":
            plan.append(dict(idx=int(w[1]), family=w[2], config=int(w[3]), repeat=int(w[4]), outer=int(w[5]),
                             inner=int(w[6]), seed=int(w[7]), hash=int(w[8], 16), epochs=int(w[9])))
        elif w[0] == "hist":
            hist[int(w[1])] = (int(w[2]), [float(np.float32(x)) for x in w[3:]])
        elif w[0] == "row":
            rows.append((w[1], int(w[2]), int(w[3]), int(w[4]), int(w[5]), int(w[6]), int(w[7]), int(w[8]),
                         float(w[9]), w[10]))
        elif w[0] == "trial":
            trials[int(w[1])] = (int(w[2]), int(w[3]))
        elif w[0] == "expected":
            expected = (float(w[1]), float(w[2]), int(w[3]))
        else:
            lines.append(ln)
    return plan, hist, rows, trials, expected, lines


def sort_rows(rows):
    return sorted(rows, key=lambda r: (r[0], r[2], r[3], r[4], r[5], r[1], r[9]))


def rows_diff(want, got):
    """First difference of two rung tables (as sets of rows), or ''."""
    a, b = sort_rows(want), sort_rows(got)
    if a == b:
        return ""
    only_a = [r for r in a if r not in b]
    only_b = [r for r in b if r not in a]
    return f"{len(a)} rows expected, {len(b)} found; expected only: {only_a[:3]}; found only: {only_b[:3]}"


def plan_text_checks(job, plan, lines, expected_line, what):
    """halving_print_plan's text (the --dry-run plan) against the reference.
    Returns {family: shares} where the engine resolved equal remainders in
    another (valid) order than the reference, for the rest of the comparison."""
    head = next((ln for ln in lines if ln.startswith("search ")), "")
    if R.staged(job):
        m = re.search(r"rungs of ([\d ]+) epochs", head)
        got = [int(x) for x in m.group(1).split()] if m else None
        check(got == R.rung_epochs(job), f"{what}: rungs of {got} epochs, reference {R.rung_epochs(job)}")
    # configurations per bracket, per family
    shares, other = {}, {}
    for ln in lines:
        m = re.match(r"\s+(\S+)\s+bracket (\d+): (\d+) configuration", ln)
        if m:
            shares.setdefault(m.group(1), {})[int(m.group(2))] = int(m.group(3))
    for fam in dict.fromkeys(t["family"] for t in plan):
        n = len({t["config"] for t in plan if t["family"] == fam})
        want = R.deal(job, n)
        got = [shares.get(fam, {}).get(b, 0) for b in range(len(want))]
        if got != want and job["search"] == "hyperband":
            # equal remainders: the contract names no order; any largest-remainder share is one
            w = R.bracket_weights(job)
            quota = [Fraction(n * x, sum(w)) for x in w]
            fl = [math.floor(q) for q in quota]
            extra = [g - f for g, f in zip(got, fl)]
            given = [q - f for q, f, e in zip(quota, fl, extra) if e == 1]
            left = [q - f for q, f, e in zip(quota, fl, extra) if e == 0]
            valid = sum(got) == n and all(e in (0, 1) for e in extra) and (not given or not left
                                                                          or min(given) >= max(left))
            check(valid, f"{what}: family {fam}: {got} configurations per bracket, not a largest-remainder share "
                  f"(reference {want})")
            if valid:
                info(f"{what}: family {fam}: equal remainders shared as {got}, the reference's order gives {want}")
                other[fam] = got
            continue
        check(got == want, f"{what}: family {fam}: {got} configurations per bracket, reference {want}")
    grid, most, runs = R.expected(job, plan, other)
    m = re.search(r"epochs: at most (\d+) in (\d+) trial runs .* against (\d+) for the full grid", expected_line)
    check(m is not None and (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (most, runs, grid),
          f"{what}: '{expected_line.strip()}' against the reference's at most {most} in {runs} runs, grid {grid}")
    return other


FAMS = """[family a]
model = fl,fc3
lr = {lrs}
{extra}
[family b]
model = fl,fc8,r,fc3
lr = 1e-3, 2e-3, 3e-3
{extra_b}
"""


def lrs(n):
    return ", ".join(f"{k + 1}e-4" for k in range(n)) if n else "loguniform(1e-4, 1e-2)"


K2, K3, K4 = (f"scheme = kfold\nk = {k}\nval_fraction = 0.2" for k in (2, 3, 4))
SCEN = [
    # (search, cv, configurations of family a, extra family keys, seeds, levels, p_fail)
    ("mode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3", K3, 9, "", "1, 2", 3, 0.05),
    ("mode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 2", K2, 11, "", "1", 2, 0.1),
    ("mode = hyperband\nmin_epochs = 1\nmax_epochs = 9\neta = 3", K3, 9, "", "1", 3, 0.05),
    ("mode = hyperband\nmin_epochs = 1\nmax_epochs = 16\neta = 2", K2, 7, "", "1, 2", 2, 0.1),
    ("mode = hyperband\nmin_epochs = 1\nmax_epochs = 9\neta = 6", K2, 8, "", "1", 3, 0.0),
    ("mode = halving\nmin_epochs = 4\nmax_epochs = 4\neta = 3", K2, 5, "", "1", 3, 0.1),
    ("mode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3\nprune = median", K4, 9, "", "1", 3, 0.05),
    ("mode = halving\nmin_epochs = 2\nmax_epochs = 8\neta = 2\nprune = wilcoxon\nprune_alpha = 0.3",
     K3, 8, "", "1, 2", 4, 0.05),
    ("mode = hyperband\nmin_epochs = 1\nmax_epochs = 9\neta = 3\nprune = wilcoxon\nprune_alpha = 0.2\nprune_after = 3",
     K3, 10, "", "1, 2", 3, 0.05),
    ("mode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3\nprune = median\nprune_after = 1",
     "scheme = nested\nk = 3\ninner_k = 2\nval_fraction = 0.2", 7, "", "1, 2", 2, 0.05),
    ("mode = hyperband\nmin_epochs = 1\nmax_epochs = 9\neta = 3\nmetric = val_acc",
     "scheme = nested\nk = 2\ninner_k = 2\nval_fraction = 0.2", 9, "", "1", 2, 0.1),
    ("mode = halving\nmin_epochs = 1\nmax_epochs = 4\neta = 2\nprune = wilcoxon\nprune_alpha = 0.4\nprune_after = 2",
     "scheme = nested\nk = 2\ninner_k = 3\nval_fraction = 0.2", 6, "", "1", 2, 0.0),
    ("prune = wilcoxon\nprune_alpha = 0.3", K3, 4, "epochs = 2, 3", "1, 2", 3, 0.05),
    ("prune = median", "scheme = nested\nk = 2\ninner_k = 3\nval_fraction = 0.2", 5, "epochs = 2", "1", 2, 0.05),
    ("mode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3\nprune = median\nprune_after = 9",
     K3, 6, "", "1", 3, 0.0),
    # equal remainders in the Hyperband shares (60 configurations over n_s 32 32 16 8 6 6)
    ("mode = hyperband\nsamples = 60\nmin_epochs = 1\nmax_epochs = 32\neta = 2", K2,
     0, "", "1", 4, 0.0),
]
if SAN:
    SCEN = SCEN[::2]
n_rows_compared = 0
for k, (search, cv, n_a, extra, seeds, levels, p_fail) in enumerate(SCEN):
    what = f"engine case {k} ({search.splitlines()[0]}{', nested' if 'nested' in cv else ''})"
    extra_b = "epochs = 4" if extra else ""
    path = engine_job(f"engine{k}", search, cv, FAMS.format(lrs=lrs(n_a), extra=extra, extra_b=extra_b), seeds)
    for seed in (1, 2):
        p = testlib.run([ENGINE, "dump", path, str(seed + 10 * k), str(levels), str(p_fail)])
        fails = [ln for ln in p.stdout.splitlines() if ln.startswith("FAIL")]
        check(p.returncode == 0 and not fails, f"{what} seed {seed}: the driver's own checks pass "
              f"(order, resume, structure){'' if not fails else ': ' + fails[0]}{p.stderr[-300:]}")
        plan, hist, rows, trials, expected, lines = parse_dump(p.stdout)
        if not plan:
            continue
        job = parse_job(search, cv)

        def metric(i, b):
            fail_at, loss = hist[i]
            E = b if b > 0 else plan[i]["epochs"]
            return math.inf if fail_at and E >= fail_at else R.history_metric(loss, loss, E, "val_loss")
        other = plan_text_checks(job, plan, lines, next((ln for ln in lines if "epochs: at most" in ln), ""),
                                 f"{what} seed {seed}")
        want_rows, want_budget, want_pruned = R.run(job, plan, metric, other)
        diff = rows_diff(want_rows, rows)
        check(not diff, f"{what} seed {seed}: the engine's rung table = the reference's: {diff}")
        n_rows_compared += len(rows)
        bad = [i for i in trials if trials[i] != (want_budget[i], want_pruned[i])]
        check(not bad, f"{what} seed {seed}: trial budgets and pruned flags = the reference's"
              + ("" if not bad else f" (trial {bad[0]}: {trials[bad[0]]} against "
                 f"{(want_budget[bad[0]], want_pruned[bad[0]])})"))
        grid, most, runs = R.expected(job, plan, other)
        check(expected == (grid, most, runs), f"{what}: halving_expected {expected} = reference {(grid, most, runs)}")
info(f"engine against the reference: {len(SCEN)} cases x 2 seeds, {n_rows_compared} rung-table rows compared; "
     f"{time.time() - T_START:.1f} s so far")

# ============================================================================
# 3. real sweeps against the reference
# ============================================================================


def job(name, families, search, cv=K3, run="", seeds="1"):
    path = os.path.join(ROOT, name + ".ini")
    out = os.path.join(ROOT, name)
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = {seeds}\n"
                f"[data]\npath = {DATA}\nsynth = classes=3,per_class=24,size=32,seed=3\n"
                f"[cv]\n{cv}\n[search]\n{search}\n{families}\n[run]\noutput = {out}\nthreads = 1\n{run}\n")
    return path, out


def mpirun(np_, args, timeout=300, **kw):
    return testlib.run(["mpirun", "--oversubscribe", "-np", str(np_), HIPID, "sweep", "--no-status"] + args,
                       timeout=timeout, **kw)


def trial_files(out):
    return sorted(p for p in glob.glob(os.path.join(out, "trials", "*.h5")) if not p.endswith(".ckpt.h5"))


def s(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def read_index(out):
    """sweep.h5: the plan (halving_ref's trial dicts), per-trial columns, the
    rung table as rows, and the attributes."""
    with h5py.File(os.path.join(out, "sweep.h5"), "r") as f:
        n = len(f["family"])
        col = {k: f[k][()] for k in ("family", "config", "repeat", "outer", "inner", "seed", "hash", "state",
                                     "budget", "pruned")}
        attrs = {k: (s(v) if isinstance(v, (bytes, str)) else v.item() if hasattr(v, "item") else v)
                 for k, v in f.attrs.items()}
        rows = []
        if "rungs" in f:
            g = f["rungs"]
            for i in range(len(g["family"])):
                rows.append((s(g["family"][i]), int(g["config"][i]), int(g["bracket"][i]), int(g["repeat"][i]),
                             int(g["outer"][i]), int(g["rung"][i]), int(g["epochs"][i]), int(g["n_units"][i]),
                             float(g["score"][i]), s(g["state"][i])))
    plan = [dict(idx=i, family=s(col["family"][i]), config=int(col["config"][i]), repeat=int(col["repeat"][i]),
                 outer=int(col["outer"][i]), inner=int(col["inner"][i]), seed=int(col["seed"][i]),
                 hash=int(s(col["hash"][i]), 16), epochs=0) for i in range(n)]
    per = [dict(state=s(col["state"][i]), budget=int(col["budget"][i]), pruned=int(col["pruned"][i])) for i in range(n)]
    return plan, per, rows, attrs


def trial_path(out, t):
    return os.path.join(out, "trials", f"{t['family']}-{t['hash']:016x}.h5")


def job_dict(search, cv):
    return parse_job(search, cv)


def recompute(out, search, cv, what):
    """halving_ref's decisions from the trial files' histories, against the
    rung table, budget and pruned columns of sweep.h5 and the files' budget
    attributes. Returns (plan, rows) for later comparisons."""
    require(os.path.exists(os.path.join(out, "sweep.h5")), f"{what}: sweep.h5 written")
    plan, per, rows, attrs = read_index(out)
    jd = job_dict(search, cv)
    problems = []
    files = {}
    for t in plan:
        p = trial_path(out, t)
        if os.path.exists(p):
            with h5py.File(p, "r") as f:
                a = dict(f.attrs)
                files[t["idx"]] = dict(state=s(a["state"]), budget=int(a.get("budget", 0)), epochs=int(a["epochs"]),
                                       loss=f["history/val_loss"][()] if "history/val_loss" in f else [],
                                       acc=f["history/val_acc"][()] if "history/val_acc" in f else [])
            t["epochs"] = files[t["idx"]]["epochs"]
    for t in plan:  # trials never run: their configuration's epochs from a sibling
        if not t["epochs"]:
            sib = [u["epochs"] for u in plan if u["family"] == t["family"] and u["config"] == t["config"] and u["epochs"]]
            t["epochs"] = sib[0] if sib else (jd["max_epochs"] or 0)

    def metric(i, b):
        fi = files.get(i)
        if fi is None:
            problems.append(f"trial {i} needed at {b} epochs has no file")
            return math.inf
        if fi["state"] != "done":
            return math.inf
        E = b if b > 0 else plan[i]["epochs"]
        if len(fi["loss"]) < E and fi["budget"] != 0:
            problems.append(f"trial {i} needed at {E} epochs holds {len(fi['loss'])} (budget {fi['budget']})")
        return R.history_metric(fi["loss"], fi["acc"], b, jd["metric"])
    want_rows, want_budget, want_pruned = R.run(jd, plan, metric)
    check(not problems, f"{what}: every trial file holds the epochs of the rungs its configuration reached"
          + ("" if not problems else f": {problems[:2]}"))
    diff = rows_diff(want_rows, rows)
    check(not diff and rows, f"{what}: sweep.h5's rung table ({len(rows)} rows) = halving_ref's recomputation from "
          f"the trial histories{': ' + diff if diff else ''}")
    bad = []
    for t in plan:
        i = t["idx"]
        fb = files[i]["budget"] if i in files else -1
        if i in files and files[i]["state"] != "done":
            fb = want_budget[i] if want_budget[i] >= 0 else -2  # a failed file records no budget, but it exists
        if (fb, per[i]["pruned"]) != (want_budget[i], want_pruned[i]):
            bad.append(f"trial {i} ({t['family']} c{t['config']} o{t['outer']} i{t['inner']}): file budget {fb} "
                       f"pruned {per[i]['pruned']}, reference {want_budget[i]} {want_pruned[i]}")
        if i in files and files[i]["state"] == "done" and per[i]["budget"] != fb:
            bad.append(f"trial {i}: sweep.h5 budget {per[i]['budget']} against the file's {fb}")
    check(not bad, f"{what}: trial budgets (file attribute, sweep.h5) and pruned flags = the reference's"
          + ("" if not bad else f": {bad[:2]}"))
    ckpts = glob.glob(os.path.join(out, "trials", "*.ckpt.h5"))
    check(not ckpts, f"{what}: no rung checkpoint left at the end ({len(ckpts)})")
    grid = sum(t["epochs"] for t in plan)
    check(attrs.get("search") == jd["search"] and attrs.get("prune") == jd["prune"]
          and attrs.get("metric") == jd["metric"] and attrs.get("eta") == jd["eta"]
          and attrs.get("min_epochs") == jd["min_epochs"] and attrs.get("max_epochs") == jd["max_epochs"]
          and attrs.get("grid_epochs") == grid,
          f"{what}: sweep.h5 attributes search/metric/prune/eta/min/max/grid_epochs = the job's "
          f"({[attrs.get(k) for k in ('search', 'metric', 'prune', 'eta', 'min_epochs', 'max_epochs', 'grid_epochs')]}"
          f", grid {grid})")
    return plan, rows


MODEL = "c8,bn,r,mp2,fl,do0.2,fc3"
LRS = ["0.001", "0.003", "0.01", "0.03", "0.1", "0.3"][:4 if SAN else 6]
CNN = (f"[family cnn]\nmodel = {MODEL}\nlr = {{lrs}}\nschedule = cosine\naugment = default\nbatch = 16\n"
       f"micro_batch = 4\n")
HALV = "mode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3"
KF3 = K3


def sweep_ok(p, what):
    why = [ln for ln in p.stderr.splitlines() if ln.startswith("hipid")] or [p.stderr[-300:]]
    return check(p.returncode == 0, f"{what}: exits 0" + ("" if p.returncode == 0 else f" ({p.returncode}): {why[:2]}"))


# J1: halving, k-fold, cosine schedule, augmentation, dropout (the main job)
t0 = time.time()
j1_path, j1 = job("halv_np2", CNN.format(lrs=", ".join(LRS)), HALV, KF3, run="checkpoint_every = 1")
p = mpirun(2, ["--verbose", j1_path])  # --verbose: a line per epoch trained
sweep_ok(p, "halving sweep on 2 ranks")
info(f"halving sweep ({len(LRS)} configurations x 3 folds, rungs 1 3 9) on 2 ranks: {time.time() - t0:.1f} s")
j1_plan, j1_rows = recompute(j1, HALV, KF3, "halving")
check(len({r[1] for r in j1_rows if r[9] == "top"}) == 1 and len({r[1] for r in j1_rows if r[5] == 1}) == len(LRS) // 3,
      f"halving: {len(LRS)} configurations, {len(LRS) // 3} at rung 1, one at the top (rows {len(j1_rows)})")
# no retraining from scratch: epoch e is trained once per unit of every
# configuration at the rung that covers it (E_r-1 < e <= E_r), never again
trained = {}
for m in re.finditer(r"^epoch\s+(\d+)/(\d+)", p.stdout, re.M):
    trained[int(m.group(1))] = trained.get(int(m.group(1)), 0) + 1
E = R.rung_epochs(job_dict(HALV, KF3))
want = {}
for r in range(len(E)):
    at_rung = sum(r_[7] for r_ in j1_rows if r_[5] == r)  # units of the configurations at rung r
    for e in range(E[r - 1] + 1 if r else 1, E[r] + 1):
        want[e] = at_rung
most = R.expected(job_dict(HALV, KF3), [dict(t, epochs=9) for t in j1_plan])[1]
check(trained == want and sum(trained.values()) == most,
      f"each epoch trained once per unit at its rung: {sum(trained.values())} epochs (reference {most}), "
      f"per epoch {[trained.get(e, 0) for e in sorted(want)]} against {[want[e] for e in sorted(want)]}")

# J2: Hyperband (9 configurations over brackets 5 3 1) and a family whose
# trials all fail (+inf: ties broken by configuration hash); no retries
SIMPLE = "[family {name}]\nmodel = {model}\nlr = {lrs}\nbatch = 16\n{extra}"
HYPER = "mode = hyperband\nmin_epochs = 1\nmax_epochs = 9\neta = 3"
KF2 = K2
n_hb = 5 if SAN else 9
j2_path, j2 = job("hyper", SIMPLE.format(name="hb", model="c8,bn,r,mp2,fl,fc3", extra="",
                                         lrs=", ".join(f"{(k + 1) * 0.002:g}" for k in range(n_hb)))
                  + SIMPLE.format(name="bad", model="fl,fc16,r,fc3", extra="optimizer = sgd\n",
                                  lrs="1e30, 5e29, 2e29"), HYPER, KF2, run="retries = 0")
t0 = time.time()
p = mpirun(2, ["--quiet", j2_path])
sweep_ok(p, "hyperband sweep")
info(f"hyperband sweep: {time.time() - t0:.1f} s")
j2_plan, j2_rows = recompute(j2, HYPER, KF2, "hyperband")
check(sorted({r[2] for r in j2_rows if r[0] == "hb"}) == [b for b, c in enumerate(R.deal(job_dict(HYPER, KF2), n_hb)) if c],
      f"hyperband: the configurations spread over the brackets {sorted({r[2] for r in j2_rows if r[0] == 'hb'})}")
bad_rows = [r for r in j2_rows if r[0] == "bad"]
check(bad_rows and all(math.isinf(r[8]) for r in bad_rows) and any(r[9] == "promoted" for r in bad_rows),
      "hyperband: the failing family scores +inf and still promotes one configuration (by hash)")

# J3: halving with Wilcoxon pruning after 3 of 6 units (k = 3, two seeds), alpha 0.2
WILC = "mode = halving\nmin_epochs = 1\nmax_epochs = 3\neta = 3\nprune = wilcoxon\nprune_alpha = 0.2"
t0 = time.time()
j3_path, j3 = job("wilc", SIMPLE.format(name="w", model="fl,fc16,r,fc3", extra="",
                                        lrs="0.003, 0.03, 1, 3" if not SAN else "0.01, 1, 3"),
                  WILC, KF3, seeds="1, 2")
p = mpirun(2, ["--quiet", j3_path])
sweep_ok(p, "halving sweep with wilcoxon pruning")
info(f"wilcoxon sweep: {time.time() - t0:.1f} s")
j3_plan, j3_rows = recompute(j3, WILC, KF3, "prune = wilcoxon")
check(any(r[9] == "pruned" and r[7] == 3 for r in j3_rows),
      f"prune = wilcoxon: a configuration is pruned after its first 3 units ({[r[9] for r in j3_rows]})")

# J4: halving with median pruning on val_acc (ties are common on 10 validation images)
MED = "mode = halving\nmin_epochs = 1\nmax_epochs = 4\neta = 2\nprune = median\nmetric = val_acc"
t0 = time.time()
j4_path, j4 = job("median", SIMPLE.format(name="m", model="fl,fc16,r,fc3", extra="",
                                          lrs="0.001, 0.003, 0.01, 0.03, 0.1"),
                  MED, KF3)
p = mpirun(2, ["--quiet", j4_path])
sweep_ok(p, "halving sweep with median pruning on val_acc")
info(f"median sweep: {time.time() - t0:.1f} s")
j4_plan, j4_rows = recompute(j4, MED, KF3, "prune = median, metric = val_acc")
check(any(r[9] == "pruned" for r in j4_rows), "prune = median: some configuration is pruned")

# J5: nested CV: inner folds decide per outer fold, the outer trials train
# the configurations left at the top; median pruning after one inner unit
NEST = "mode = halving\nmin_epochs = 1\nmax_epochs = 4\neta = 2\nprune = median\nprune_after = 1"
NCV = "scheme = nested\nk = 3\ninner_k = 2\nval_fraction = 0.2"
t0 = time.time()
j5_path, j5 = job("nested", SIMPLE.format(name="n", model="fl,fc16,r,fc3", extra="",
                                          lrs="0.001, 0.01, 0.1, 1").replace("batch = 16", "batch = 8"), NEST, NCV)
p = mpirun(2, ["--quiet", j5_path])
sweep_ok(p, "nested halving sweep")
info(f"nested sweep: {time.time() - t0:.1f} s")
j5_plan, j5_rows = recompute(j5, NEST, NCV, "nested")
check(sorted({r[4] for r in j5_rows}) == [0, 1, 2], "nested: decisions per outer fold 0, 1, 2")
_, j5_per, _, _ = read_index(j5)
outer_done = [t for t in j5_plan if t["inner"] < 0 and j5_per[t["idx"]]["state"] == "done"]
check(len(outer_done) == sum(1 for r in j5_rows if r[9] == "top"),
      f"nested: one outer trial per configuration at the top of its outer fold ({len(outer_done)})")

# J6: grid with a prune (one rung: each configuration to its own epochs)
GRIDP = "prune = wilcoxon\nprune_alpha = 0.2\nprune_after = 3"
t0 = time.time()
j6_path, j6 = job("gridprune", SIMPLE.format(name="g", model="fl,fc16,r,fc3", extra="epochs = 1, 2\n",
                                             lrs="0.01, 3"), GRIDP, KF3, seeds="1, 2")
p = mpirun(2, ["--quiet", j6_path])
sweep_ok(p, "grid sweep with wilcoxon pruning")
info(f"grid + prune sweep: {time.time() - t0:.1f} s")
recompute(j6, GRIDP, KF3, "grid with prune = wilcoxon")


def compare_dirs(ref, other, what):
    names = [os.path.basename(p) for p in trial_files(ref)]
    got = [os.path.basename(p) for p in trial_files(other)]
    check(names == got and names, f"{what}: the same {len(names)} trial files ({len(got)} found)")
    worst = []
    for name in names:
        if name in got:
            diff = differences(os.path.join(ref, "trials", name), os.path.join(other, "trials", name))
            if diff:
                worst.append(f"{name}: {diff[:4]}")
    check(not worst, f"{what}: every dataset and attribute bit-identical (but wall times and group size)"
          + ("" if not worst else f" ({len(worst)} files differ: {worst[:2]})"))


def compare_tables(ref, other, what):
    a, b = read_index(ref)[2], read_index(other)[2]
    diff = rows_diff(a, b)
    check(not diff and a, f"{what}: the same rung table ({len(a)} rows){': ' + diff if diff else ''}")
    if not diff and a != b:  # rows are written in the order decisions were taken, which timing may change
        info(f"{what}: the same rows in another order")


info(f"sections 1-3: {time.time() - T_START:.1f} s")
# ============================================================================
# 4. rank counts and group sizes: the same decisions, bit-identical files
# ============================================================================

J1_TEXT = CNN.format(lrs=", ".join(LRS))
cases = [(1, 1), (4, 1), (2, 2)] if not SAN else [(1, 1), (2, 2)]
for np_, rpt in cases:
    t0 = time.time()
    path, out = job(f"halv_np{np_}_rpt{rpt}", J1_TEXT, HALV, KF3, run=f"ranks_per_trial = {rpt}")
    p = mpirun(np_, ["--quiet", path])
    sweep_ok(p, f"halving on {np_} rank(s), ranks_per_trial {rpt}")
    info(f"halving on {np_} rank(s), ranks_per_trial {rpt}: {time.time() - t0:.1f} s")
    compare_tables(j1, out, f"{np_} rank(s), ranks_per_trial {rpt} against 2 ranks")
    compare_dirs(j1, out, f"{np_} rank(s), ranks_per_trial {rpt} against 2 ranks")
    if rpt > 1 and trial_files(out):
        with h5py.File(trial_files(out)[0], "r") as f:
            check(int(f.attrs["ranks"]) == rpt, f"ranks_per_trial {rpt}: trials trained by {rpt} ranks "
                  f"({int(f.attrs['ranks'])})")

# a configuration that fails, yet is promoted (the least bad by hash), is
# handed out again at the next rung: with retries left it trains again; its
# file must not depend on which rank ran it
FAILING = SIMPLE.format(name="bad", model="fl,fc16,r,fc3", extra="optimizer = sgd\n", lrs="1e30, 5e29, 2e29")
fouts = []
for np_ in (1, 2):
    path, out = job(f"failing_np{np_}", FAILING, HYPER, KF2)
    p = mpirun(np_, ["--quiet", path])
    sweep_ok(p, f"all-failing hyperband family on {np_} rank(s)")
    fouts.append(out)
compare_tables(fouts[0], fouts[1], "failing family: 1 rank against 2")
compare_dirs(fouts[0], fouts[1], "failing family, retried within the sweep: 1 rank against 2")

info(f"sections 1-4: {time.time() - T_START:.1f} s")
# ============================================================================
# 5. kill -9 mid-rung, rerun; a finished sweep rerun; --reindex
# ============================================================================


def session_pids(sid):
    """Processes of session sid (started by this test in a session of its own) that are not zombies."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            out.append(int(d))
    return out


def kill_session(proc):
    """SIGKILL to every process of the job's session (Open MPI gives ranks process groups of their own)."""
    for _ in range(200):
        pids = session_pids(proc.pid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    proc.communicate()


def budgets(out):
    got = {}
    for p in trial_files(out):
        try:
            with h5py.File(p, "r") as f:
                got[os.path.basename(p)] = int(f.attrs.get("budget", 0))
        except OSError:
            pass
    return got


full_budgets = budgets(j1)
n_final = sum(1 for b in full_budgets.values() if b == 0)
killed = None
for attempt in range(3):
    kpath, kout = job(f"halv_kill{attempt}", J1_TEXT, HALV, KF3, run="checkpoint_every = 1")
    proc = subprocess.Popen(["mpirun", "-np", "2", HIPID, "sweep", "--no-status", "--quiet", kpath], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < 120 and proc.poll() is None:
        if any(b == 3 for b in budgets(kout).values()):  # rung 1 (3 epochs) under way
            break
        time.sleep(0.005)
    kill_session(proc)
    at_kill = budgets(kout)
    if sum(1 for b in at_kill.values() if b == 0) < n_final and any(b > 0 for b in at_kill.values()):
        killed = (kpath, kout, at_kill)
        break
    info(f"kill attempt {attempt}: too late (the sweep had finished), again")
require(killed is not None, "kill -9 landed mid-rung in one of 3 attempts")
kpath, kout, at_kill = killed
n_ckpt = len(glob.glob(os.path.join(kout, "trials", "*.ckpt.h5")))
info(f"killed with SIGKILL: {len(at_kill)} trial files (budgets {sorted(set(at_kill.values()))}), {n_ckpt} checkpoints")
p = mpirun(2, [kpath])
sweep_ok(p, "rerun after kill -9")
n_runs = len(re.findall(r"^\[\s*\d+/\d+\]", p.stdout, re.M))
full_runs = R.expected(job_dict(HALV, KF3), [dict(t, epochs=9) for t in j1_plan])[2]
info(f"rerun after the kill: {n_runs} trial runs of the {full_runs} of a whole sweep")
check(0 < n_runs < full_runs, f"the rerun trains only what is missing ({n_runs} trial runs of {full_runs})")
compare_tables(j1, kout, "kill -9 + rerun against uninterrupted")
compare_dirs(j1, kout, "kill -9 + rerun against uninterrupted")

# a finished sweep, rerun: nothing trains, nothing changes
before = {os.path.basename(q): open(q, "rb").read() for q in trial_files(j1)}
p = mpirun(2, [j1_path])
sweep_ok(p, "rerun of a finished halving sweep")
n_runs = len(re.findall(r"^\[\s*\d+/\d+\]", p.stdout, re.M))
after = {os.path.basename(q): open(q, "rb").read() for q in trial_files(j1)}
check(n_runs == 0 and before == after, f"a finished sweep rerun trains nothing ({n_runs} runs) and leaves every "
      f"trial file as it was ({sum(before[k] != after.get(k) for k in before)} changed)")
compare_tables(kout, j1, "finished sweep rerun")

# --reindex rebuilds the rung table, budgets and pruned flags from the trial files
_, per_before, rows_before, _ = read_index(j1)
os.remove(os.path.join(j1, "sweep.h5"))
p = mpirun(1, ["--reindex", j1_path])
sweep_ok(p, "--reindex of a halving sweep")
_, per_after, rows_after, _ = read_index(j1)
check(not rows_diff(rows_before, rows_after) and per_before == per_after,
      f"--reindex rebuilds the same rung table, budgets and pruned flags {rows_diff(rows_before, rows_after)}")

# a configuration promoted, then diverging at a later rung: its trial file
# becomes a failed one; a rerun (no retries left) must still take the same
# decisions from the metrics the earlier rungs had
LATE = SIMPLE.format(name="late", model="fl,fc16,r,fc3", extra="optimizer = sgd\nmomentum = 0.9\n", lrs="2, 5, 10, 20")
LATE_S = "mode = halving\nmin_epochs = 1\nmax_epochs = 8\neta = 2"
lpath, lout = job("late", LATE, LATE_S, KF2, run="retries = 0")
p = mpirun(2, ["--quiet", lpath])
sweep_ok(p, "halving with a configuration diverging after its promotion")
lrows = read_index(lout)[2]
late_fail = any(r[9] in ("promoted", "top") and math.isinf(r[8]) and r[5] > 0 for r in lrows)
check(late_fail, "late divergence (the setup): a configuration promoted at rung 0 fails at a later rung")
before = {os.path.basename(q): open(q, "rb").read() for q in trial_files(lout)}
p = mpirun(2, [lpath])
n_runs = len(re.findall(r"^\[\s*\d+/\d+\]", p.stdout, re.M))
after = {os.path.basename(q): open(q, "rb").read() for q in trial_files(lout)}
diff = rows_diff(lrows, read_index(lout)[2])
check(n_runs == 0 and not diff and before == after,
      f"late divergence: a rerun takes the same decisions and trains nothing ({n_runs} runs; {diff or 'same table'})")

info(f"sections 1-5: {time.time() - T_START:.1f} s")
# ============================================================================
# 6. promoted through its rungs = trained straight through (grid mode)
# ============================================================================

top_cfg = [r[1] for r in j1_rows if r[9] == "top"]
require(len(top_cfg) == 1, "halving: one configuration at the top")
promoted_at = sorted(r[5] for r in j1_rows if r[1] == top_cfg[0] and r[9] == "promoted")
check(promoted_at == [0, 1], f"the top configuration was paused and continued at rungs 0 and 1 ({promoted_at})")
gpath, gout = job("straight", CNN.format(lrs=LRS[top_cfg[0]]) + "epochs = 9\n", "mode = grid", KF3)
p = mpirun(2, ["--quiet", gpath])
sweep_ok(p, "grid sweep of the top configuration to 9 epochs")
top_files = sorted(os.path.basename(trial_path(j1, t)) for t in j1_plan if t["config"] == top_cfg[0])
got = [os.path.basename(q) for q in trial_files(gout)]
check(got == top_files, f"the grid trials have the halving trials' hashes ({got[:1]} against {top_files[:1]})")
# the grid's one configuration is config 0: config, label and the checksum
# over the attributes naming the trial differ; everything else must not
NAMING = {"@config", "@label", "@predictions_sha256"}
worst, named = [], set()
for name in got:
    if name in top_files:
        diff = differences(os.path.join(j1, "trials", name), os.path.join(gout, "trials", name))
        named |= set(diff) & NAMING
        diff = [k for k in diff if k not in NAMING]
        if diff:
            worst.append(f"{name}: {diff[:4]}")
check(not worst and got, "continued from rung checkpoints (1, 3, then 9 epochs) = trained straight to 9 epochs: "
      f"weights, history, predictions and every attribute but wall times and the trial's naming ({worst[:2]})")
check(named <= NAMING and ("@config" in named) == (top_cfg[0] != 0),
      f"only the naming differs, as expected (config {top_cfg[0]} against 0: {sorted(named)})")
with h5py.File(os.path.join(gout, "trials", got[0]), "r") as f:
    check(len(f["history/val_loss"]) == 9, "the straight trial has 9 epochs of history")

# ============================================================================
# 7. --dry-run: brackets, rungs, epochs against the full grid
# ============================================================================

dry_path, dry_out = job("dryonly", J1_TEXT, HALV, KF3)  # J1's plan, a folder never written
for what, path, out, search, cv in (("halving", dry_path, j1, HALV, KF3), ("hyperband", j2_path, j2, HYPER, KF2),
                                    ("nested", j5_path, j5, NEST, NCV)):
    p = mpirun(1, ["--dry-run", path])
    check(p.returncode == 0, f"--dry-run of the {what} job exits 0")
    plan = read_index(out)[0]
    jd = job_dict(search, cv)
    for t in plan:
        t["epochs"] = jd["max_epochs"]
    lines = p.stdout.splitlines()
    line = next((ln for ln in lines if "epochs: at most" in ln), "")
    check(line != "", f"--dry-run of the {what} job prints 'epochs: at most ...'")
    plan_text_checks(jd, plan, lines, line, f"--dry-run ({what})")
check(not os.path.exists(dry_out), "--dry-run writes nothing (no results folder)")

info(f"sections 1-7: {time.time() - T_START:.1f} s")
# ============================================================================
# 8. job errors: one line, FILE:LINE: KEY, exit 2
# ============================================================================

BASE = (f"[job]\nname = bad\n[data]\npath = {DATA}\n[cv]\nscheme = kfold\nk = 3\nval_fraction = 0.2\n"
        "[search]\nmode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3\n"
        "[family f]\nmodel = fl,fc3\nbatch = 16\n"
        f"[run]\noutput = {os.path.join(ROOT, 'bad')}\n")
ERRORS = [
    # (what, text, the key the message names, the keys whose later line the message names)
    ("eta = 1", BASE.replace("eta = 3", "eta = 1"), "eta", ["eta"]),
    ("min_epochs > max_epochs", BASE.replace("min_epochs = 1", "min_epochs = 10"), "min_epochs",
     ["min_epochs", "max_epochs"]),
    ("max_epochs missing", BASE.replace("max_epochs = 9\n", ""), "max_epochs", ["mode"]),
    ("min_epochs with mode = grid", BASE.replace("mode = halving", "mode = grid").replace("max_epochs = 9\n", "")
     .replace("eta = 3\n", "").replace("batch = 16", "batch = 16\nepochs = 2"), "min_epochs", ["min_epochs", "mode"]),
    ("prune_alpha with prune = median", BASE.replace("eta = 3", "eta = 3\nprune = median\nprune_alpha = 0.1"),
     "prune_alpha", ["prune_alpha", "prune"]),
    ("prune_after with prune = none", BASE.replace("eta = 3", "eta = 3\nprune_after = 2"), "prune_after",
     ["prune_after", "prune"]),
    ("family epochs with mode = halving", BASE.replace("batch = 16", "batch = 16\nepochs = 5"), "epochs",
     ["epochs", "max_epochs"]),
    ("val_fraction = 0 with halving", BASE.replace("val_fraction = 0.2", "val_fraction = 0"), "val_fraction",
     ["val_fraction", "mode"]),
]
for what, text, key, keys in ERRORS:
    path = os.path.join(ROOT, "bad_" + re.sub(r"\W+", "_", what) + ".ini")
    with open(path, "w") as f:
        f.write(text)
    lines_of = {}
    for n, ln in enumerate(text.splitlines(), 1):
        k = ln.split("=")[0].strip()
        if "=" in ln:
            lines_of.setdefault(k, n)
    at = [lines_of[k] for k in keys if k in lines_of]
    want_line, want_key = max((lines_of[k], k) for k in keys if k in lines_of) if at else (0, key)
    p = testlib.run([HIPID, "sweep", path], timeout=60)
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    body = err[0].split(f"{path}:{want_line}: ", 1)[-1] if err else ""
    ok = (p.returncode == 2 and len(err) == 1 and f"{path}:{want_line}: {want_key}:" in err[0] and key in body)
    check(ok, f"{what}: exit 2 and one line '{path}:{want_line}: {want_key}: ...' naming {key} "
          f"(exit {p.returncode}: {err[:2]})")
    if os.environ.get("HALVING_SHOW_ERRORS"):
        info(f"{what}: {err[:1]}")
p = mpirun(2, ["--shard", "0/2", j1_path], timeout=60)
err = [ln for ln in p.stderr.splitlines() if ln.startswith("hipid")]
check(p.returncode == 2 and len(err) == 1 and "--shard" in err[0] and "halving" in err[0],
      f"--shard 0/2 with mode = halving: every rank exits 2, one line ({p.returncode}: {err[:2]})")

# ============================================================================
# 9. the report reads a halving results folder
# ============================================================================

for what, out in (("halving", j1), ("nested", j5)):
    r = testlib.run([HIPID, "report", out], timeout=300)
    check(r.returncode == 0, f"hipid report on the {what} results exits 0 ({r.stderr[-300:]})")

info(f"test_halving.py: {time.time() - T_START:.1f} s")
done()
