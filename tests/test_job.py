"""test_job.py: job expansion (tests/check_job) against an independent reading
of the same job files with Python's configparser and scikit-learn.

- grid: the set of configurations equals sklearn.model_selection.ParameterGrid
  over the lists configparser reads, and their order is itertools.product in
  the documented key order (the first key varies slowest);
- trial counts: families x configurations x CV units x seeds, for k-fold,
  nested and hold-out with repeats;
- nested: per (repeat, outer fold) the inner folds 0..inner_k-1 come first,
  then the outer trial (inner -1), each once per seed;
- random: draws stay within uniform/loguniform bounds, loguniform is spread
  in log space (about half below the log-midpoint, where a uniform draw would
  put 1%), list choices are all used, and the same job gives the same draws;
- hashes: distinct within a job, unchanged by [run] keys, changed by lr.
"""
import configparser
import itertools
import math
import os
import sys

from sklearn.model_selection import ParameterGrid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import check, done, project_root, require, test_bin, tmp_dir  # noqa: E402

ROOT = project_root()
CHECK = test_bin("check_job")
TMP = tmp_dir("job")

HP_ORDER = ["optimizer", "lr", "momentum", "weight_decay", "schedule", "step_size", "gamma", "batch",
            "micro_batch", "epochs", "patience", "dropout", "augment", "balance", "standardize"]
DEFAULTS = {"optimizer": "adam", "lr": "1e-3", "momentum": "0.9", "weight_decay": "0", "schedule": "constant",
            "step_size": "10", "gamma": "0.1", "batch": "32", "micro_batch": "0", "epochs": "20",
            "patience": "0", "dropout": "spec", "augment": "none", "balance": "none", "standardize": "yes"}
REAL = {"lr", "momentum", "weight_decay", "gamma", "dropout"}
INT = {"step_size", "batch", "micro_batch", "epochs", "patience"}
FLOAT_RTOL = 1e-6  # check_job prints float32 values with %.9g


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run(path):
    p = testlib.run([CHECK, path])
    require(p.returncode == 0, "check_job failed on %s : %s" % (path, p.stderr.strip()))
    lines = p.stdout.strip().split("\n")
    head = lines[0].split("\t")
    return [dict(zip(head, ln.split("\t"))) for ln in lines[1:]]


def canon(key, value):
    """A value as check_job prints it, from its job-file text."""
    value = value.strip()
    if key == "standardize":
        return {"yes": "1", "no": "0"}[value]
    if key == "dropout":
        return -1.0 if value == "spec" else float(value)
    if key in REAL:
        return float(value)
    if key in INT:
        return int(value)
    if key == "augment":
        return {"none": "none", "flip": "flip=0.5", "flip,rot=5": "flip=0.5,rot=5"}.get(value, value)
    return value


def read_family(cp, section):
    """configparser's view of one family: key -> list of canonical values."""
    out = {}
    for key in HP_ORDER:
        text = cp.get(section, key, fallback=DEFAULTS[key])
        sep = "|" if key == "augment" else ","
        out[key] = [canon(key, v) for v in text.split(sep)]
    return out


def row_config(row):
    out = {}
    for key in HP_ORDER:
        v = row[key]
        if key in REAL:
            v = float(v)
        elif key in INT:
            v = int(v)
        out[key] = v
    return out


def same(a, b):
    for k in HP_ORDER:
        if isinstance(a[k], float) or isinstance(b[k], float):
            x, y = float(a[k]), float(b[k])
            if not (x == y or abs(x - y) <= FLOAT_RTOL * max(abs(x), abs(y))):
                return False
        elif a[k] != b[k]:
            return False
    return True


def configs_of(rows, family):
    seen = {}
    for r in rows:
        if r["family"] == family:
            seen.setdefault(int(r["config"]), row_config(r))
    return [seen[c] for c in sorted(seen)]


def n_units(cp):
    scheme = cp.get("cv", "scheme", fallback="kfold")
    repeats = cp.getint("cv", "repeats", fallback=1)
    k = cp.getint("cv", "k", fallback=5)
    if scheme == "holdout":
        return repeats
    if scheme == "nested":
        return repeats * k * (cp.getint("cv", "inner_k", fallback=3) + 1)
    return repeats * k


def n_seeds(cp):
    return len(cp.get("job", "seeds", fallback="1").split(","))


# ---- grid ----

GRID = """[job]
seeds = 1, 2
[data]
path = data/x.h5
[cv]
scheme = kfold
k = 3
repeats = 2
[family cnn]
model = cnn-paper
optimizer = sgd, adam
lr = 0.1, 0.01, 0.001
batch = 16, 32
micro_batch = 8
dropout = spec, 0.25
augment = none | flip | flip,rot=5
standardize = yes, no
[family dnn]
model = dnn-paper
epochs = 5, 10
weight_decay = 0, 1e-4
[run]
threads = 2
"""


def test_grid():
    path = write("grid.ini", GRID)
    rows = run(path)
    cp = configparser.ConfigParser()
    cp.read(path)
    total = 0
    for section in [s for s in cp.sections() if s.startswith("family ")]:
        name = section.split()[1]
        lists = read_family(cp, section)
        expected = list(ParameterGrid(lists))
        got = configs_of(rows, name)
        check(len(got) == len(expected), f"{name}: {len(got)} configurations, ParameterGrid has {len(expected)}")
        unmatched = [g for g in got if not any(same(g, x) for x in expected)]
        missing = [x for x in expected if not any(same(g, x) for g in got)]
        check(not unmatched and not missing,
              f"{name}: configurations differ from ParameterGrid: {len(unmatched)} extra, {len(missing)} missing")
        order = [dict(zip(HP_ORDER, vals)) for vals in itertools.product(*[lists[k] for k in HP_ORDER])]
        check(len(order) == len(got) and all(same(a, b) for a, b in zip(got, order)),
              f"{name}: grid order is not itertools.product in the documented key order")
        total += len(expected)
        # dropout >= 0 rewrites the spec, else the preset stays
        for r in rows:
            if r["family"] == name and float(r["dropout"]) >= 0:
                check("do0.25" in r["model"] and "do0.5" not in r["model"], f"dropout not applied: {r['model']}")
    want = total * n_units(cp) * n_seeds(cp)
    check(len(rows) == want, f"grid: {len(rows)} trials, expected {want}")
    check(len({r["hash"] for r in rows}) == len(rows), "grid: trials share a hash")
    check([int(r["id"]) for r in rows] == list(range(len(rows))), "grid: ids are not 0..n-1 in order")
    print(f"info grid: {total} configurations, {len(rows)} trials, matches ParameterGrid")

    # [run] keys do not enter the hash, lr does
    rows2 = run(write("grid2.ini", GRID.replace("threads = 2", "threads = 8\nretries = 0\noutput = elsewhere")))
    check([r["hash"] for r in rows2] == [r["hash"] for r in rows], "[run] keys changed the hashes")
    rows3 = run(write("grid3.ini", GRID.replace("0.1, 0.01, 0.001", "0.2, 0.01, 0.001")))
    changed = sum(a["hash"] != b["hash"] for a, b in zip(rows, rows3))
    n_lr02 = sum(1 for r in rows3 if abs(float(r["lr"]) - 0.2) < 1e-6)
    check(changed == n_lr02 and changed > 0, f"changing one lr changed {changed} hashes, expected {n_lr02}")


# ---- nested and holdout ----

NESTED = """[job]
seeds = 3, 9
[data]
path = d.h5
[cv]
scheme = nested
k = 4
repeats = 2
inner_k = 3
[family a]
model = dnn-paper
lr = 0.01, 0.001
"""

HOLDOUT = """[data]
path = d.h5
[cv]
scheme = holdout
repeats = 5
fractions = 0.7, 0.1, 0.2
[family a]
model = dnn-paper
[family b]
model = cnn-paper
batch = 8, 16
"""


def test_nested():
    path = write("nested.ini", NESTED)
    rows = run(path)
    cp = configparser.ConfigParser()
    cp.read(path)
    seeds = [int(s) for s in cp.get("job", "seeds").split(",")]
    k, inner_k, repeats = cp.getint("cv", "k"), cp.getint("cv", "inner_k"), cp.getint("cv", "repeats")
    n_cfg = len(cp.get("family a", "lr").split(","))
    check(len(rows) == n_cfg * n_units(cp) * len(seeds), f"nested: {len(rows)} trials")
    expected = [(c, r, o, i, s) for c in range(n_cfg) for r in range(repeats) for o in range(k)
                for i in list(range(inner_k)) + [-1] for s in seeds]
    got = [(int(x["config"]), int(x["repeat"]), int(x["outer"]), int(x["inner"]), int(x["seed"])) for x in rows]
    check(got == expected, "nested: trials not ordered config, repeat, outer, inner 0..inner_k-1 then -1, seed")
    # the outer trial of each (config, repeat, outer) comes after all its inner trials
    for c, r, o in itertools.product(range(n_cfg), range(repeats), range(k)):
        idx = [j for j, g in enumerate(got) if g[:3] == (c, r, o)]
        outer = [j for j in idx if got[j][3] == -1]
        check(len(outer) == len(seeds) and min(outer) > max(j for j in idx if got[j][3] >= 0),
              f"nested: outer trial of c{c} r{r} f{o} before an inner one")
    print(f"info nested: {len(rows)} trials in the documented order")

    path = write("holdout.ini", HOLDOUT)
    rows = run(path)
    cp = configparser.ConfigParser()
    cp.read(path)
    check(len(rows) == (1 + 2) * n_units(cp), f"holdout: {len(rows)} trials, expected {(1 + 2) * n_units(cp)}")
    check(sorted({int(r["repeat"]) for r in rows}) == list(range(5)), "holdout: repeats are not 0..4")
    check(all(r["outer"] == "0" and r["inner"] == "-1" for r in rows), "holdout: outer/inner not 0/-1")


# ---- random ----

RANDOM = """[data]
path = d.h5
[search]
mode = random
samples = 300
seed = 11
[family r]
model = cnn-paper
lr = loguniform(1e-6, 1e-1)
weight_decay = uniform(0, 0.01)
gamma = uniform(0.1, 0.9)
dropout = loguniform(0.01, 0.5)
batch = 16, 32, 64
optimizer = sgd, adam, adamw
"""


def test_random():
    path = write("random.ini", RANDOM)
    rows = run(path)
    cp = configparser.ConfigParser()
    cp.read(path)
    samples = cp.getint("search", "samples")
    cfgs = configs_of(rows, "r")
    check(len(cfgs) == samples, f"random: {len(cfgs)} configurations, expected {samples}")
    check(len(rows) == samples * n_units(cp), f"random: {len(rows)} trials")

    def bounds(key):
        text = cp.get("family r", key)
        a, b = [float(x) for x in text[text.index("(") + 1:text.index(")")].split(",")]
        return text.startswith("log"), a, b

    for key in ["lr", "weight_decay", "gamma", "dropout"]:
        log, a, b = bounds(key)
        vals = [c[key] for c in cfgs]
        tol = 1e-6 * b
        check(all(a - tol <= v <= b + tol for v in vals), f"random {key}: a draw outside [{a}, {b}]")
        if log:
            mid = math.sqrt(a * b)
            below = sum(v < mid for v in vals) / len(vals)
            # log-uniform: 1/2 below the log-midpoint; uniform would give (mid-a)/(b-a)
            check(0.4 < below < 0.6, f"random {key}: {below:.2f} below the log-midpoint, expected about 0.5")
            lin = (mid - a) / (b - a)
            check(abs(below - lin) > 0.1 or abs(lin - 0.5) < 0.1,
                  f"random {key}: spread looks linear ({below:.2f} vs {lin:.2f})")
            decades = {math.floor(math.log10(v)) for v in vals}
            check(len(decades) >= math.floor(math.log10(b / a)),
                  f"random {key}: draws cover {len(decades)} decades of {math.log10(b / a):.0f}")
        else:
            mean = sum(vals) / len(vals)
            check(abs(mean - (a + b) / 2) < 0.1 * (b - a), f"random {key}: mean {mean} far from {(a + b) / 2}")
    for key, allowed in [("batch", {16, 32, 64}), ("optimizer", {"sgd", "adam", "adamw"})]:
        seen = [c[key] for c in cfgs]
        check(set(seen) == allowed, f"random {key}: choices {set(seen)}, expected {allowed}")
        check(min(seen.count(v) for v in allowed) > samples / len(allowed) / 2,
              f"random {key}: a choice is drawn far less often than uniform")
    check(len({(c["lr"], c["gamma"]) for c in cfgs}) == samples, "random: repeated draws")
    again = run(path)
    check([r["hash"] for r in again] == [r["hash"] for r in rows], "random: the same job drew differently")
    other = run(write("random2.ini", RANDOM.replace("seed = 11", "seed = 12")))
    check(configs_of(other, "r")[0]["lr"] != cfgs[0]["lr"], "random: another search seed drew the same lr")
    print(f"info random: {samples} draws within bounds, loguniform spread in log space")


def test_docs_example():
    """docs/jobs.md's annotated example parses and has the trial count it states."""
    text = open(os.path.join(ROOT, "docs", "jobs.md")).read()
    example = text.split("```ini\n", 1)[1].split("```", 1)[0]
    rows = run(write("docs-example.ini", example))
    check(len(rows) == 120, f"docs example: {len(rows)} trials, the text says 120")
    check("(8 + 4) x 5 folds x 2 seeds = 120 trials" in text, "docs example: the stated count changed")


def main():
    require(os.path.exists(CHECK), "missing " + CHECK)
    test_docs_example()
    test_grid()
    test_nested()
    test_random()
    done()


if __name__ == "__main__":
    main()
