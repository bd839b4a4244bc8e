"""hipid report on staged searches (successive halving, halving.h): a tiny
halving sweep (6 learning rates, rungs at 1, 3 and 9 epochs, eta 3) not
nested and nested, and a plain grid, each through `hipid report`. Checked
with h5py against sweep.h5 and the trial files, independently of the
report's code:
 - not nested: the selected configuration (JSON and folds.csv) is the one
   with the lowest mean outer val_loss among the configurations none of
   whose sweep.h5 rows is pruned, and it reached the top rung;
 - the compute: epochs trained = the sum of epochs_run over the done trial
   files, the grid's = sweep.h5's grid_epochs (= planned trials x max_epochs),
   in index.html's data- attributes and report.md's sentence, the percentage;
 - the rung table: index.html's #rung-table spans, rungs.csv and report.md's
   rows (counts per outcome, configurations, scores to 4 decimals) equal
   sweep.h5's rungs/ rows; the configuration tables mark each configuration
   with the rung it reached, as rungs/ says;
 - rungs.png and rungs.svg exist, are PNG / SVG of 1000 x 420, and the page
   inlines the SVG;
 - nested (k 3, inner_k 2): in every outer fold the selected configuration
   reached the top rung of that fold and none of its inner trials there is
   pruned; outer trials the search never needed are counted as not needed,
   not missing;
 - a grid sweep's report has no search section, no rungs plot or CSV.
Negative control: a stopped configuration's outer val_loss set to 0.01 (files
resealed) is still not selected; with sweep.h5's pruned column and the
files' budget cleared as well, it is, so the selection check can fail.
The nested sweep uses batch 8: with k 3 and inner_k 2 the inner training
sets of these 72 images hold 15 images, fewer than a batch of 16.
Runs with /usr/bin/python3; needs mpirun (Open MPI) and gnuplot."""
import glob
import json
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trialsum  # noqa: E402
from testlib import check, done, hipid, png_size, read_csv, require, run, run_hipid, tmp_dir  # noqa: E402

HIPID = hipid()
ROOT = tmp_dir("report_halving")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
# the sweeps are fixtures: Open MPI's own leaks at exit would fail them under ASan
SWEEP_ENV = dict(ENV, ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
DATA = os.path.join(ROOT, "data.h5")
LRS = "1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5"
HALVING = "[search]\nmode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3\n"


def sweep(name, cv, search=HALVING, family=f"batch = 16\nlr = {LRS}\n"):
    path, out = os.path.join(ROOT, name + ".ini"), os.path.join(ROOT, name)
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = 1\n[data]\npath = {DATA}\n"
                f"synth = classes=3,per_class=24,size=32,seed=3\n[cv]\n{cv}\n{search}"
                f"[family cnn]\nmodel = c8,bn,r,mp2,fl,fc3\n{family}[run]\noutput = {out}\nthreads = 1\n")
    p = run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", path], timeout=300, env=SWEEP_ENV)
    require(p.returncode == 0, f"sweep {name} exits 0" + ("" if p.returncode == 0 else f": {p.stderr[-800:]}"))
    return out


def report(results, *args):
    p = run_hipid("report", results, *args, timeout=120, env=ENV)
    return p


def s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def index(results):
    """sweep.h5: the per-trial rows, the attributes and the rung rows, with h5py."""
    with h5py.File(os.path.join(results, "sweep.h5"), "r") as f:
        cols = {k: [s(v) if isinstance(v, bytes) else v for v in f[k][()]]
                for k in ("family", "hash", "state", "config", "repeat", "outer", "inner", "budget", "pruned")}
        rows = [dict(zip(cols, vals)) for vals in zip(*cols.values())]
        attrs = {k: (s(v) if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        g = f["rungs"] if "rungs" in f else None
        rungs = []
        if g is not None:
            for i in range(len(g["config"])):
                rungs.append(dict(family=s(g["family"][i]), bracket=int(g["bracket"][i]), repeat=int(g["repeat"][i]),
                                  outer=int(g["outer"][i]), rung=int(g["rung"][i]), epochs=int(g["epochs"][i]),
                                  config=int(g["config"][i]), n_units=int(g["n_units"][i]),
                                  score=float(g["score"][i]), state=s(g["state"][i])))
    return rows, attrs, rungs


def trial_files(results):
    out = []
    for p in sorted(glob.glob(os.path.join(results, "trials", "*.h5"))):
        if p.endswith(".ckpt.h5"):
            continue
        with h5py.File(p, "r") as f:
            a = f.attrs
            out.append(dict(file=os.path.basename(p), path=p, state=s(a["state"]), family=s(a["family"]),
                            config=int(a["config"]), repeat=int(a["repeat"]), outer=int(a["outer"]),
                            inner=int(a["inner"]), seed=int(a["seed"]), val_loss=float(a["val_loss"]),
                            epochs_run=int(a["epochs_run"]), budget=int(a["budget"]) if "budget" in a else 0))
    return out


class Page(HTMLParser):
    """#search-compute's attributes, #rung-table's rows and spans, and the
    text of each #config-table row."""

    def __init__(self):
        super().__init__()
        self.compute, self.rung_rows, self.spans, self.config_rows = None, [], [], {}
        self.table, self.row, self.text, self.ids = None, None, None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if a.get("id") == "search-compute":
            self.compute = a
        if tag == "table":
            self.table = a.get("id")
        if tag == "tr" and self.table == "rung-table" and "data-rung" in a:
            self.rung_rows.append(a)
        if tag == "tr" and self.table == "config-table" and "data-config" in a:
            self.row, self.text = (a["data-family"], int(a["data-config"])), []
        if tag == "span" and "rung-cfg" in (a.get("class") or ""):
            self.spans.append(dict(self.rung_rows[-1], **a))

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        if tag == "tr" and self.row is not None:
            self.config_rows[self.row] = "".join(self.text)
            self.row = None

    def handle_data(self, data):
        if self.row is not None:
            self.text.append(data)


def page(results):
    p = Page()
    with open(os.path.join(results, "report", "index.html")) as f:
        p.feed(f.read())
    return p


def key(d):
    return (d["family"], int(d["bracket"]), int(d["repeat"]), int(d["outer"]), int(d["rung"]), int(d["epochs"]),
            int(d["config"]), int(d["n_units"]), d["state"])


def stage_text(rungs, fam, config, repeat=-1, outer=-1):
    """What the configuration tables should say, from rungs/ alone: its highest rung's row."""
    rows = [g for g in rungs if g["family"] == fam and g["config"] == config and g["repeat"] == repeat
            and g["outer"] == outer]
    g = max(rows, key=lambda g: g["rung"])
    ep = "epoch" if g["epochs"] == 1 else "epochs"
    if g["state"] == "top":
        return f"top rung ({g['epochs']} {ep})"
    return f"{'pruned' if g['state'] == 'pruned' else 'stopped'} at rung {g['rung']} ({g['epochs']} {ep})"


def check_compute(results, attrs, trials, what):
    spent = sum(t["epochs_run"] for t in trials if t["state"] == "done")
    grid = float(attrs["grid_epochs"])
    n_done = sum(t["state"] == "done" for t in trials)
    pg = page(results)
    c = pg.compute or {}
    check(c and float(c["data-epochs-spent"]) == spent and float(c["data-grid-epochs"]) == grid,
          f"{what}: index.html's compute: {c.get('data-epochs-spent')} epochs spent (the trial files' epochs_run sum "
          f"{spent}), grid {c.get('data-grid-epochs')} (sweep.h5 {grid})")
    md = open(os.path.join(results, "report", "report.md")).read()
    sentence = (f"Compute: {spent} epochs trained (the sum of epochs_run over the {n_done} done trial files) against "
                f"{grid:.0f} for the full grid (every planned trial to its epochs), {100 * spent / grid:.1f}%.")
    check(sentence in md, f"{what}: report.md says '{sentence}'")
    print(f"info: {what}: {spent} epochs of {grid:.0f} ({100 * spent / grid:.1f}%)")
    return pg, md


def span_key(sp):
    """key() of a #rung-table span (its row's data- attributes with its own)."""
    return key({k: sp["data-" + k.replace("_", "-")] for k in ("family", "bracket", "repeat", "outer", "rung",
                                                                "epochs", "config", "n_units", "state")})


def check_rung_table(results, rungs, pg, md, what):
    want = sorted(key(g) for g in rungs)
    spans = sorted(pg.spans, key=span_key)
    got = [span_key(sp) for sp in spans]
    check(want and got == want, f"{what}: index.html's rung table has sweep.h5's {len(want)} rungs/ rows "
                                f"({len(got)} spans)")
    worst = max([abs(float(sp["data-score"]) - g["score"]) for sp, g in zip(spans, sorted(rungs, key=key))]
                or [np.inf])
    check(got == want and worst == 0.0, f"{what}: index.html's rung scores equal sweep.h5's (largest difference "
                                        f"{worst:.1e})")
    rows = read_csv(os.path.join(results, "report", "rungs.csv"))
    got = sorted(key(r) for r in rows)
    check(got == want and all(float(r["score"]) == g["score"] for r, g in
                              zip(sorted(rows, key=key), sorted(rungs, key=key))),
          f"{what}: rungs.csv equals sweep.h5's rungs/ ({len(rows)} rows)")
    # report.md: one row per (group, rung) with the counts per outcome and each configuration
    blocks = {}
    for g in rungs:
        blocks.setdefault((g["family"], g["bracket"], g["repeat"], g["outer"], g["rung"]), []).append(g)
    sec = md.split("## Search:")[1].split("\n## ")[0] if "## Search:" in md else ""
    lines = [l for l in sec.splitlines() if l.startswith("| cnn |")]
    ok = len(lines) == len(blocks)
    for line, (k, gs) in zip(lines, sorted(blocks.items())):
        cells = [c.strip() for c in line.strip("|").split("|")]
        nested = k[2] >= 0
        n = [int(x) for x in cells[(3 if nested else 2) + 2:(3 if nested else 2) + 7]]
        count = [len(gs)] + [sum(g["state"] == st for g in gs) for st in ("promoted", "stopped", "pruned", "top")]
        cfgs = sorted(re.findall(r"c(\d+) ([0-9.]+) (\w+)", cells[-1]))
        ref = sorted((str(g["config"]), f"{g['score']:.4f}", g["state"]) for g in gs)
        ok &= n == count and cfgs == ref and int(cells[1]) == k[1]
    check(ok and lines, f"{what}: report.md's rung table: {len(lines)} rows (sweep.h5: {len(blocks)} groups x rungs), "
                        f"counts, configurations and scores as rungs/")


def check_plot(results, n_fam, what):
    rep = os.path.join(results, "report")
    got = png_size(os.path.join(rep, "rungs.png"))
    check(got == (1000, 420 * n_fam), f"{what}: rungs.png is a PNG of 1000x{420 * n_fam} ({got})")
    try:
        svg = ET.parse(os.path.join(rep, "rungs.svg")).getroot()
        check(svg.tag.endswith("svg") and svg.get("width", "").startswith("1000"),
              f"{what}: rungs.svg is SVG, width {svg.get('width')}")
    except (ET.ParseError, OSError) as err:
        check(False, f"{what}: rungs.svg parses as XML: {err}")
    html_text = open(os.path.join(rep, "index.html")).read()
    check(re.search(r'<figure id="fig-rungs">\s*<svg class="plot"', html_text) is not None,
          f"{what}: index.html inlines the rungs SVG")


# ---- 1. successive halving, not nested -----------------------------------------------
hv = sweep("hv", "scheme = kfold\nk = 3\nval_fraction = 0.2")
p = report(hv, "--format", "json")
require(p.returncode == 0, f"report exits 0 ({p.stderr.strip()[-400:]})")
js = json.loads(p.stdout)
rows, attrs, rungs = index(hv)
trials = trial_files(hv)
require(rungs and attrs.get("search") == "halving", f"sweep.h5 has a rung table and search = halving ({attrs.get('search')})")
check(attrs["grid_epochs"] == len(rows) * attrs["max_epochs"],
      f"sweep.h5's grid_epochs {attrs['grid_epochs']} = {len(rows)} planned trials x {attrs['max_epochs']} epochs")

pruned_cfg = {r["config"] for r in rows if r["pruned"]}
top_cfg = {g["config"] for g in rungs if g["state"] == "top"}
vl = {}
for t in trials:
    if t["state"] == "done" and t["inner"] < 0:
        vl.setdefault(t["config"], []).append(t["val_loss"])
cands = {c: np.mean(v) for c, v in vl.items() if c not in pruned_cfg}
best = min(cands, key=lambda c: (cands[c], c))
folds = read_csv(os.path.join(hv, "report", "folds.csv"))
sel = {int(r["config"]) for r in folds if r["selected"] == "1"}
chosen = js["families"][0]["configuration"]
print(f"info: pruned configurations {sorted(pruned_cfg)}, top rung {sorted(top_cfg)}, "
      f"mean val loss {({c: round(float(np.mean(v)), 4) for c, v in sorted(vl.items())})}")
check(chosen == best and sel == {best} and best in top_cfg,
      f"not nested: the report selects c{chosen} (folds.csv {sel}); the lowest mean val loss among non-pruned "
      f"configurations is c{best}, which reached the top rung ({sorted(top_cfg)})")
check(len(pruned_cfg) > 0 and not (pruned_cfg & top_cfg), "some configurations are pruned, none of them at the top rung")
check(all(t["budget"] == 0 for t in trials if t["config"] == best),
      "the selected configuration's trial files were trained to their end (budget 0)")
pg, md = check_compute(hv, attrs, trials, "halving")
check_rung_table(hv, rungs, pg, md, "halving")
ok = True
for c in sorted(vl):
    want = stage_text(rungs, "cnn", c)
    ok &= want in pg.config_rows.get(("cnn", c), "") and bool(re.search(rf"\| cnn \| c{c}( \(selected\))? \| {re.escape(want)} \|", md))
check(ok, "each configuration row of index.html and report.md says the rung it reached (as sweep.h5's rungs/)")
check_plot(hv, 1, "halving")
check("search" in pg.ids and js.get("search", {}).get("epochs_spent") == sum(t["epochs_run"] for t in trials),
      "index.html has the search section; the JSON's search.epochs_spent agrees")

# negative control: a stopped configuration made to look best by its validation loss
neg = os.path.join(ROOT, "hv-neg")
shutil.copytree(hv, neg, ignore=shutil.ignore_patterns("report"))
victim = min(pruned_cfg)
files = [t["path"].replace(hv, neg) for t in trials if t["config"] == victim and t["inner"] < 0]
for path in files:
    with h5py.File(path, "r+") as f:
        f.attrs["val_loss"] = np.float32(0.01)
    trialsum.reseal(path)
p = report(neg, "--format", "json", "--no-plots")
check(p.returncode == 0 and json.loads(p.stdout)["families"][0]["configuration"] == best,
      f"negative control: c{victim} (stopped) with val_loss 0.01 is still not selected; c{best} is")
with h5py.File(os.path.join(neg, "sweep.h5"), "r+") as f:
    f["pruned"][...] = 0
for path in files:
    with h5py.File(path, "r+") as f:
        f.attrs["budget"] = np.int32(0)
    trialsum.reseal(path)
p = report(neg, "--format", "json", "--no-plots")
got = json.loads(p.stdout)["families"][0]["configuration"] if p.returncode == 0 else None
check(got == victim, f"negative control: with pruned and budget cleared, c{victim} is selected (c{got}): "
                     f"the selection check can fail")

# ---- 2. successive halving, nested -----------------------------------------------------
ne = sweep("ne", "scheme = nested\nk = 3\ninner_k = 2\nval_fraction = 0.2", family=f"batch = 8\nlr = {LRS}\n")
p = report(ne)
require(p.returncode == 0, f"nested: report exits 0 ({p.stderr.strip()[-400:]})")
rows, attrs, rungs = index(ne)
trials = trial_files(ne)
folds = read_csv(os.path.join(ne, "report", "folds.csv"))
units = sorted({(t["repeat"], t["outer"], t["seed"]) for t in trials if t["inner"] < 0})
ok, n_sel = True, 0
for (rep, outer, seed) in units:
    sel = [int(r["config"]) for r in folds if r["selected"] == "1" and
           (int(r["repeat"]), int(r["outer"]), int(r["seed"])) == (rep, outer, seed)]
    top = {g["config"] for g in rungs if g["state"] == "top" and (g["repeat"], g["outer"]) == (rep, outer)}
    pruned_here = {r["config"] for r in rows if r["inner"] >= 0 and r["pruned"] and (r["repeat"], r["outer"]) == (rep, outer)}
    n_sel += len(sel)
    ok &= len(sel) == 1 and sel[0] in top and sel[0] not in pruned_here
    print(f"info: nested repeat {rep} fold {outer}: selected {sel}, top rung {sorted(top)}, pruned {sorted(pruned_here)}")
check(ok and n_sel == 3, "nested: in every outer fold the selected configuration reached that fold's top rung and "
                         "none of its inner trials there is pruned")
present = {t["file"] for t in trials}
absent = sum(1 for r in rows if f"{r['family']}-{r['hash']}.h5" not in present)
md = open(os.path.join(ne, "report", "report.md")).read()
check(f"0 missing, 0 unreadable, {absent} not needed by the search" in md and absent > 0,
      f"nested: the {absent} outer trials the search never ran are 'not needed', none missing")
pg, md = check_compute(ne, attrs, trials, "nested")
check_rung_table(ne, rungs, pg, md, "nested")
check_plot(ne, 1, "nested")

# ---- 3. a plain grid: no search section ----------------------------------------------
gr = sweep("grid", "scheme = kfold\nk = 3\nval_fraction = 0.2", search="",
           family="batch = 16\nlr = 1e-2, 1e-3\nepochs = 2\n")
p = report(gr, "--format", "json")
require(p.returncode == 0, f"grid: report exits 0 ({p.stderr.strip()[-400:]})")
rep = os.path.join(gr, "report")
md = open(os.path.join(rep, "report.md")).read()
html_text = open(os.path.join(rep, "index.html")).read()
check("## Search" not in md and "rung reached" not in md and 'id="search"' not in html_text
      and 'id="rung-table"' not in html_text and "search" not in json.loads(p.stdout),
      "grid: no search section, rung column or JSON search object")
check(not any(os.path.exists(os.path.join(rep, n)) for n in ("rungs.png", "rungs.svg", "rungs.csv")),
      "grid: no rungs plot or rungs.csv")
trials = trial_files(gr)
vl = {}
for t in trials:
    vl.setdefault(t["config"], []).append(t["val_loss"])
best = min(vl, key=lambda c: (np.mean(vl[c]), c))
check(json.loads(p.stdout)["families"][0]["configuration"] == best,
      f"grid: the lowest mean validation loss is selected as before (c{best})")

done()
