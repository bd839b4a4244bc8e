"""index.html, the report as one self-contained page, read with Python's
html.parser (no browser: tests/test_html*.py drives Chromium). On a tiny
sweep (3 classes, 3-fold CV, two families that learn and one whose second lr makes
its trials diverge, so failed rows exist): every trial file appears once in
#trials with its attributes (h5py) and its test AUC (scikit-learn, from the
stored predictions) in data-value; the summary rows equal `hipid report
--format json`; the DOM contract (ids, data-key set, selects, sections, lang,
meta); no reference outside the file (http://, https://, src="//", src= other
than data:), every id unique and every #reference resolved after the SVGs are
inlined; tidy finds no error (skipped with an info line when tidy is not
installed); --no-plots says so and inlines no gnuplot SVG. Per configuration (one
figure.cfg per row of #config-table): the learning curve's data-val-loss,
data-train-loss and data-folds equal the per-epoch means over the
configuration's done outer trials that ran the epoch, recomputed from the
trial files' history (h5py, within 1e-6), its fold-score dots' data-value
the test accuracies of the stored predictions (within 1e-6), and the drawn
path and dot positions those numbers; a configuration without a done trial
has no SVG. Negative controls: the trial comparison fails on a copy with one
number changed, the configuration comparison on a copy with one loss or one
fold score changed, and the id check on a page with two plots sharing an id.
Runs with /usr/bin/python3; needs mpirun (Open MPI) and gnuplot."""
import glob
import html
import json
import math
import os
import re
import shutil
import sys
from html.parser import HTMLParser

import h5py
import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, require, run, run_hipid, tmp_dir  # noqa: E402

HIPID = hipid()
ROOT = tmp_dir("report_html")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
SWEEP_ENV = dict(ENV, ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
KEYS = ["family", "config", "unit", "seed", "state", "epochs", "best_epoch", "val_loss", "val_acc", "test_acc",
        "test_auc", "seconds", "ranks"]

JOB = """[job]
name = html
seeds = 1
[data]
path = {data}
synth = classes=3,per_class=15,size=32,seed=5
[cv]
scheme = kfold
k = 3
val_fraction = 0.2
[family cnn]
model = c8,r,mp2,fl,fc16,r
optimizer = adam
lr = 0.003
batch = 8
epochs = 3
[family dnn]
model = fl,fc32,r
optimizer = sgd
lr = 0.05
batch = 8
epochs = 3
[family bad]
model = fl,fc16,r
optimizer = sgd
lr = 0.01, 1e30
batch = 8
epochs = 2
[run]
output = {out}
"""


class Page(HTMLParser):
    """The parts of index.html the contract names: tables by id (header
    attributes, rows with their attributes and cells' data-value and text),
    selects, sections, every id and every attribute that can fetch."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.selects, self.sections, self.ids, self.refs = {}, {}, [], [], []
        self.fetch, self.meta, self.html_lang, self.title, self.scripts = [], [], None, None, 0
        self._table, self._row, self._cell, self._select, self._in_title, self._depth = None, None, None, None, 0, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        for k in ("href", "xlink:href"):
            if a.get(k, "").startswith("#"):
                self.refs.append(a[k][1:])
        for k in ("src", "href", "xlink:href", "action", "poster", "data"):
            v = a.get(k)
            if v is not None and not v.startswith(("#", "data:")):
                self.fetch.append((tag, k, v))
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "meta":
            self.meta.append(a)
        elif tag == "title" and self.title is None:
            self._in_title = 1
            self.title = ""
        elif tag == "script":
            self.scripts += 1
            if "src" in a:
                self.fetch.append(("script", "src", a["src"]))
        elif tag == "section":
            self.sections.append(a.get("id"))
        elif tag == "table":
            self._depth += 1
            if a.get("id") and self._depth == 1:
                self._table = self.tables[a["id"]] = dict(attrs=a, th=[], rows=[])
        elif self._table is not None and tag == "tr":
            self._row = dict(attrs=a, cells=[])
        elif self._table is not None and tag == "th" and self._row is not None and not self._table["rows"] \
                and self._row["attrs"] == {}:
            self._table["th"].append(a)
        elif self._row is not None and tag in ("td", "th"):
            self._cell = dict(attrs=a, text="")
        elif tag == "select":
            self._select = self.selects[a.get("id")] = []
        elif tag == "option" and self._select is not None:
            self._select.append(a.get("value"))

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = 0
        elif tag == "table":
            self._depth -= 1
            if self._depth == 0:
                self._table = None
        elif tag == "tr" and self._row is not None:
            if self._row["attrs"]:
                self._table["rows"].append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append(self._cell)
            self._cell = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self._cell["text"] += data


def parse(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    p = Page()
    p.feed(text)
    p.close()
    return p, text


def same(a, b, tol=0.0):
    """a: a data-value string; b: the reference value."""
    if isinstance(b, str):
        return a == b
    if b is None or (isinstance(b, float) and not math.isfinite(b)):
        return a == ""
    return a != "" and abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))


def reference(path):
    """What the trials table must say about a trial file, from h5py."""
    with h5py.File(path, "r") as f:
        at = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        ref = dict(family=at["family"], config=str(int(at["config"])),
                   unit=f"{int(at['repeat'])} {int(at['outer'])} {int(at['inner'])}", seed=str(int(at["seed"])),
                   state=at["state"], epochs=float(at["epochs_run"]), best_epoch=float(at["best_epoch"]),
                   val_loss=float(at["val_loss"]), val_acc=float(at["val_acc"]), test_acc=float(at["test_acc"]),
                   seconds=float(at["seconds"]), ranks=float(at["ranks"]), test_auc=None)
        if at["state"] == "done":
            y, P = f["predictions/test_label"][()], f["predictions/test_prob"][()].astype(np.float64)
            ref["test_auc"] = roc_auc_score(y, P, multi_class="ovr", average="macro", labels=range(P.shape[1]))
    return ref


def compare_trials(page, results):
    """Mismatches between #trials and the trial files (a list of strings)."""
    bad = []
    rows = page.tables["trials"]["rows"]
    files = sorted(p for p in glob.glob(os.path.join(results, "trials", "*.h5")) if not p.endswith(".ckpt.h5"))
    if len(rows) != len(files):
        bad.append(f"{len(rows)} rows for {len(files)} trial files")
    for path in files:
        name = "trials/" + os.path.basename(path)
        mine = [r for r in rows if r["attrs"].get("data-file") == name]
        if len(mine) != 1:
            bad.append(f"{name}: {len(mine)} rows")
            continue
        row, ref = mine[0], reference(path)
        if row["attrs"].get("data-family") != ref["family"] or row["attrs"].get("data-state") != ref["state"]:
            bad.append(f"{name}: row attributes {row['attrs']}")
        vals = dict(zip(KEYS, (c["attrs"].get("data-value") for c in row["cells"])))
        for k in KEYS:
            if not same(vals.get(k), ref[k], 1e-9 if k == "test_auc" else 0.0):
                bad.append(f"{name}: {k} = {vals.get(k)!r}, the trial file says {ref[k]!r}")
    return bad


def compare_summary(page, js):
    bad = []
    rows = {r["attrs"].get("data-family"): r for r in page.tables["summary"]["rows"]}
    if sorted(rows) != sorted(fam["name"] for fam in js["families"]):
        bad.append(f"summary families {sorted(rows)}")
    for fam in js["families"]:
        row = rows.get(fam["name"])
        if row is None:
            continue
        cells = row["cells"]  # family, configuration, folds, accuracy, majority, beats, bacc, f1, auc, pooled
        if cells[2]["attrs"].get("data-value") != str(fam["folds"]):
            bad.append(f"{fam['name']}: folds {cells[2]['attrs']}")
        for i, m in ((3, "accuracy"), (6, "balanced_accuracy"), (7, "macro_f1"), (8, "auc")):
            for attr, key in (("data-value", "mean"), ("data-sd", "sd"), ("data-lo", "lo"), ("data-hi", "hi")):
                if not same(cells[i]["attrs"].get(attr, ""), fam[m][key], 1e-9):
                    bad.append(f"{fam['name']} {m} {key}: {cells[i]['attrs'].get(attr)!r}, json {fam[m][key]!r}")
        if not same(cells[9]["attrs"].get("data-value", ""), fam["auc_pooled"], 1e-9):
            bad.append(f"{fam['name']} auc_pooled: {cells[9]['attrs']}, json {fam['auc_pooled']}")
        if fam["majority"] and not same(cells[4]["attrs"].get("data-value", ""), fam["majority"]["rate"], 1e-12):
            bad.append(f"{fam['name']} majority rate {cells[4]['attrs']}")
    return bad


class ConfigPlots(HTMLParser):
    """Each figure.cfg of #config-plots: its data-family/data-config, the
    attributes of its two SVGs (curve, folds), the d of the curve's paths by
    class and the fold dots' attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.cards, self._card, self._svg = [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure" and "cfg" in a.get("class", "").split():
            self._card = dict(family=a.get("data-family"), config=a.get("data-config"), id=a.get("id"), svgs={},
                              paths={}, dots=[])
            self.cards.append(self._card)
        elif self._card is not None and tag == "svg":
            self._svg = [c for c in a.get("class", "").split() if c in ("curve", "folds")][0]
            self._card["svgs"][self._svg] = a
        elif self._card is not None and tag == "path" and self._svg == "curve" and a.get("class"):
            self._card["paths"][a["class"]] = a.get("d", "")
        elif self._card is not None and tag == "circle" and "fold" in a.get("class", "").split():
            self._card["dots"].append(a)

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg = None
        elif tag == "figure":
            self._card = None


def config_reference(results):
    """(family, config) -> dict(val, train, folds, acc) from the done outer
    trials' files: per-epoch means of history/val_loss and train_loss over
    the trials that ran the epoch (finite values only), how many ran it, and
    each trial's test accuracy (argmax of the stored test_prob)."""
    groups = {}
    for path in glob.glob(os.path.join(results, "trials", "*.h5")):
        if path.endswith(".ckpt.h5"):
            continue
        with h5py.File(path, "r") as f:
            at = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            if int(at["inner"]) >= 0:
                continue
            g = groups.setdefault((at["family"], str(int(at["config"]))), [])
            if at["state"] != "done":
                continue
            P, y = f["predictions/test_prob"][()], f["predictions/test_label"][()]
            g.append(dict(val=f["history/val_loss"][()].astype(np.float64),
                          train=f["history/train_loss"][()].astype(np.float64),
                          acc=float(np.mean(np.argmax(P, axis=1) == y))))
    ref = {}
    for key, ts in groups.items():
        E = max((len(t["val"]) for t in ts), default=0)
        r = dict(val=[], train=[], folds=[], acc=sorted(t["acc"] for t in ts))
        for ep in range(E):
            ran = [t for t in ts if len(t["val"]) > ep]
            r["folds"].append(len(ran))
            for k in ("val", "train"):
                v = [t[k][ep] for t in ran if math.isfinite(t[k][ep])]
                r[k].append(sum(v) / len(v) if v else float("nan"))
        ref[key] = r
    return ref


def floats(s):
    return [float(x) for x in s.split()] if s else []


def near(a, b, tol):
    return len(a) == len(b) and all((math.isnan(x) and math.isnan(y)) or abs(x - y) <= tol for x, y in zip(a, b))


def path_values(d, lo, hi):
    """The loss values a curve path draws (y of each point back on the
    loss axis; LC_Y0 = 8, LC_Y1 = 76 in report_html.c)."""
    ys = [float(m[1]) for m in re.findall(r"[ML]([-0-9.]+) ([-0-9.]+)", d or "")]
    return [hi - (y - 8.0) / 68.0 * (hi - lo) for y in ys]


def compare_configs(cards, config_rows, ref):
    """Mismatches between the per-configuration plots and the trial files."""
    bad = []
    rows = sorted((r["attrs"].get("data-family"), r["attrs"].get("data-config")) for r in config_rows)
    got = sorted((c["family"], c["config"]) for c in cards)
    if got != rows or sorted(ref) != rows:
        bad.append(f"cards {got}, table rows {rows}, trial files {sorted(ref)}")
    for c in cards:
        name, r = f"{c['family']} c{c['config']}", ref.get((c["family"], c["config"]))
        if r is None:
            continue
        if not r["acc"]:
            if c["svgs"] or c["dots"]:
                bad.append(f"{name}: no done trial, yet {len(c['svgs'])} SVGs")
            continue
        cu, fo = c["svgs"].get("curve"), c["svgs"].get("folds")
        if cu is None or fo is None:
            bad.append(f"{name}: svgs {sorted(c['svgs'])}")
            continue
        for svg in (cu, fo):
            if svg.get("role") != "img" or not svg.get("aria-label"):
                bad.append(f"{name}: role/aria-label {svg.get('role')!r} {svg.get('aria-label')!r}")
        for k, attr in (("val", "data-val-loss"), ("train", "data-train-loss")):
            if not near(floats(cu.get(attr, "")), r[k], 1e-6):
                bad.append(f"{name}: {attr} {cu.get(attr)!r}, trial files {r[k]}")
        if floats(cu.get("data-folds", "")) != r["folds"]:
            bad.append(f"{name}: data-folds {cu.get('data-folds')!r}, trial files {r['folds']}")
        dots = sorted(float(d.get("data-value", "nan")) for d in c["dots"])
        if not near(dots, r["acc"], 1e-6):
            bad.append(f"{name}: fold dots {dots}, trial files {r['acc']}")
        lo, hi = floats(cu.get("data-range", ""))
        if hi > lo and not near(path_values(c["paths"].get("val"), lo, hi), [v for v in r["val"] if math.isfinite(v)],
                                1e-3 * (hi - lo)):
            bad.append(f"{name}: the drawn validation path is not data-val-loss")
        xs = sorted((float(d["cx"]) - 8.0) / 224.0 for d in c["dots"])  # FS_X0 = 8, FS_X1 = 232
        if not near(xs, r["acc"], 1e-4):
            bad.append(f"{name}: dot positions {xs}")
    return bad


def id_problems(page):
    dup = sorted({i for i in page.ids if page.ids.count(i) > 1})
    missing = sorted(set(page.refs) - set(page.ids))
    return ([f"duplicate ids {dup[:5]}"] if dup else []) + ([f"unresolved #refs {missing[:5]}"] if missing else [])


# ---- the sweep and the report ----
data, results, rep = os.path.join(ROOT, "data.h5"), os.path.join(ROOT, "html"), os.path.join(ROOT, "rep")
job = os.path.join(ROOT, "html.ini")
with open(job, "w") as f:
    f.write(JOB.format(data=data, out=results))
p = run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", job], timeout=300, env=SWEEP_ENV)
require(p.returncode == 0, "the sweep exits 0" + ("" if p.returncode == 0 else f": {p.stderr[-600:]}"))
p = run_hipid("report", results, "--out", rep, timeout=120, env=ENV)
require(p.returncode == 0, f"hipid report exits 0 ({p.returncode}: {p.stderr[-400:]})")
index = os.path.join(rep, "index.html")
require(os.path.isfile(index), "index.html is written beside report.md")
check(f"{index}" in p.stdout, "hipid report prints the path of index.html")
check(not os.path.exists(index + ".tmp"), "no temporary file is left")
page, text = parse(index)

# ---- the DOM contract ----
check(page.html_lang == "en", f'<html lang="en"> ({page.html_lang!r})')
check(any(m.get("charset", "").lower() == "utf-8" for m in page.meta), '<meta charset="utf-8">')
check(any(m.get("name") == "viewport" and m.get("content") == "width=device-width, initial-scale=1" for m in page.meta),
      "the viewport meta")
check(bool(page.title and page.title.strip()), "a non-empty <title>")
for s in ("verdict", "configs", "comparisons", "plots", "errors"):
    check(s in page.sections, f'<section id="{s}">')
require("summary" in page.tables and "trials" in page.tables, "tables #summary and #trials")
check("sortable" in page.tables["trials"]["attrs"].get("class", "").split(), "#trials has class sortable")
check([a.get("data-key") for a in page.tables["trials"]["th"]] == KEYS,
      f"#trials headers carry data-key {KEYS}: {[a.get('data-key') for a in page.tables['trials']['th']]}")
check(page.selects.get("filter-family") == [""] + ["cnn", "dnn", "bad"],
      f"#filter-family: all, then the families ({page.selects.get('filter-family')})")
check(page.selects.get("filter-state") == ["", "done", "failed"], f"#filter-state ({page.selects.get('filter-state')})")
check(page.scripts == 1, f"one inline script ({page.scripts})")

# ---- the numbers ----
states = [r["attrs"].get("data-state") for r in page.tables["trials"]["rows"]]
check(states.count("failed") == 3 and states.count("done") == 9, f"9 done and 3 failed rows ({states})")
bad = compare_trials(page, results)
check(not bad, "#trials equals the trial files: " + "; ".join(bad[:5]))
p = run_hipid("report", results, "--out", os.path.join(ROOT, "rep-json"), "--format", "json", "--no-plots",
              timeout=120, env=ENV)
require(p.returncode == 0, "hipid report --format json exits 0")
js = json.loads(p.stdout)
bad = compare_summary(page, js)
check(not bad, "#summary equals the JSON summary: " + "; ".join(bad[:5]))
verdict = js["comparisons"][0]["verdict"]
check(verdict in html.unescape(text), "the first verdict is in the page")

# ---- per-configuration learning curves and fold scores ----
cp = ConfigPlots()
cp.feed(text)
cref = config_reference(results)
check(len(cp.cards) == 4 and any(not r["acc"] for r in cref.values()),
      f"one figure per configuration, 4, one of them without a done trial ({len(cp.cards)})")
bad = compare_configs(cp.cards, page.tables["config-table"]["rows"], cref)
check(not bad, "per-configuration curves and fold scores equal the trial files: " + "; ".join(bad[:5]))
links = re.findall(r'<a href="#(cfg-[0-9]+-[0-9]+)">', text)
check(len(links) == 4 and sorted(links) == sorted(c["id"] for c in cp.cards),
      "each #config-table row links to its figure")

# ---- self-contained ----
for pat in ("http://", "https://", 'src="//', "src='//", "@import", "url(http"):
    check(pat not in text, f"no {pat} anywhere in the page")
check(not page.fetch, f"nothing refers outside the file ({page.fetch[:3]})")
check(text.count("<svg") >= 5 and "<?xml" not in text and "<!DOCTYPE svg" not in text,
      "the plots are inlined (5 or more <svg>, no XML prolog or doctype)")
check('src="data:image/png;base64,' in text, "the contact sheet is a data: URI")
bad = id_problems(page)
check(not bad, "ids unique and every #reference resolved: " + "; ".join(bad))

# ---- tidy ----
if shutil.which("tidy"):
    p = run(["tidy", "-q", "-e", index])
    errors = [l for l in p.stderr.splitlines() if " - Error: " in l]
    check(p.returncode < 2 and not errors, f"tidy finds no error (exit {p.returncode}): {errors[:3]}")
else:
    print("info: tidy not installed, HTML validation skipped (apt-get install tidy)")

# ---- --no-plots ----
rep2 = os.path.join(ROOT, "rep-noplots")
p = run_hipid("report", results, "--out", rep2, "--no-plots", timeout=120, env=ENV)
require(p.returncode == 0, "hipid report --no-plots exits 0")
page2, text2 = parse(os.path.join(rep2, "index.html"))
check('<svg class="plot"' not in text2 and "No plots: not requested (--no-plots)." in text2,
      "--no-plots: no gnuplot SVG, and the plots section says why")
cp3 = ConfigPlots()
cp3.feed(text2)
check(not compare_configs(cp3.cards, page2.tables["config-table"]["rows"], cref),
      "--no-plots: the per-configuration curves and fold scores (drawn by the page, not gnuplot) are the same")
check(not compare_trials(page2, results), "--no-plots: the trials table is the same")

# ---- negative controls ----
row = page.tables["trials"]["rows"][0]
row["cells"][KEYS.index("val_loss")]["attrs"]["data-value"] = "0.125"
check(compare_trials(page, results), "control: a changed val_loss is caught")
card = next(c for c in cp.cards if c["dots"])
card["svgs"]["curve"]["data-val-loss"] = re.sub(r"^\S+", "0.5", card["svgs"]["curve"]["data-val-loss"])
check(compare_configs(cp.cards, page.tables["config-table"]["rows"], cref), "control: a changed mean loss is caught")
cp2 = ConfigPlots()
cp2.feed(text)
next(c for c in cp2.cards if c["dots"])["dots"][0]["data-value"] = "0.123"
check(compare_configs(cp2.cards, page.tables["config-table"]["rows"], cref), "control: a changed fold score is caught")
dup = Page()
dup.feed('<svg><g id="fig-a"></g></svg><svg><g id="fig-a"></g><use href="#nowhere"/></svg>')
check(len(id_problems(dup)) == 2, "control: a duplicate id and an unresolved reference are caught")
done()
