"""The two HTML pages in a real browser: results/JOB/status.html (rewritten by
the sweep's master while it runs) and results/JOB/report/index.html (hipid
report), loaded from file:// by Debian's headless Chromium through its
DevTools protocol (tests/cdp.py).

One small sweep (2 families, k = 3; dnn's second configuration diverges, so
3 of its trials fail) under mpirun -np 2. While it runs, rank 1 is frozen
(SIGSTOP) mid-trial so the status page can be read in a known running state:
it is loaded once the master has rewritten it with that trial running and
nothing left to run; it must reload itself (meta refresh). Rank 1 is then
continued, the sweep ends, the final page is loaded, hipid report writes
index.html, and that page is loaded too.

For every page load: only the page's own file:// URL may be requested (every
other request fails in the browser and is a test failure; data: URLs are
recorded, allowed and printed), and no console error, uncaught exception or
error log entry may appear. Screenshots of the whole page at 1280x800 and
390x844 (mobile) go to $TEST_TMP/html-artefacts/ (or $HIPID_TEST_ARTEFACTS;
printed as info lines), and to docs/img/html_*.png when
HIPID_UPDATE_SCREENSHOTS=1 (the README's; off by default). Through the DOM:
  - status.html: state, progress counts, the running trial (epoch n/E),
    recent, failed (with the trial files' reasons) and family tables, no
    script, no horizontal scrolling at phone width; the final version: state
    finished, counts equal to the trial files, no refresh;
  - index.html: #trials has one row per trial file, each cell's data-value
    equal to the file (family, config, unit, seed, state, epochs_run,
    best_epoch, val_loss, val_acc, test_acc, the test AUC recomputed with
    scikit-learn, seconds, ranks; numbers within 1e-9, "" when not finite);
    #summary has a row per family; the sections exist; a real mouse click on
    every header sorts by it ascending (aria-sort), a second click on
    test_acc descending; #filter-family and #filter-state hide the other
    rows; with JavaScript disabled both tables are there with every row shown.
`tidy -q -e` finds no error in either page (its warnings are printed).

A missing chromium or tidy is a failure, not a skip (CI installs both:
scripts/install-deps.sh). Runs with /usr/bin/python3 (h5py, sklearn,
python3-websocket); needs mpirun (Open MPI)."""
import glob
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402
from testlib import check, done, hipid, project_root, require, run, run_hipid, tmp_dir  # noqa: E402

T0 = time.monotonic()
HIPID = hipid()
ROOT = tmp_dir("html_browser")
# the screenshots and a copy of the running status.html: $HIPID_TEST_ARTEFACTS if set (tests/run.sh removes
# $TEST_TMP when it ends: it sets this to results/test-artefacts), else $TEST_TMP/html-artefacts
ART = os.environ.get("HIPID_TEST_ARTEFACTS") or os.path.join(os.environ.get("TEST_TMP") or ROOT, "html-artefacts")
os.makedirs(ART, exist_ok=True)
UPDATE = os.environ.get("HIPID_UPDATE_SCREENSHOTS") == "1"
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
           ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
EVERY = 5.0  # STATUS_HTML_EVERY (status_html.h): rewrites and refreshes
VIEWS = [("1280x800", 1280, 800, False), ("390x844", 390, 844, True)]
KEYS = ["family", "config", "unit", "seed", "state", "epochs", "best_epoch", "val_loss", "val_acc", "test_acc",
        "test_auc", "seconds", "ranks"]
NUMERIC = {"config", "seed", "epochs", "best_epoch", "val_loss", "val_acc", "test_acc", "test_auc", "seconds", "ranks"}
FAMS = ["cnn", "dnn"]
N_PLAN = 9
NEG = []  # negative controls: (what was tampered, whether the check still passed)
DATA_SEEN = set()  # pages whose data: URLs were printed

DATA = os.path.join(ROOT, "data.h5")
OUT0 = os.path.join(ROOT, "browser")  # + the attempt (start_frozen)
OUT = OUT0
JOB = f"""[job]
name = browser
seeds = 1
[data]
path = {DATA}
[cv]
scheme = kfold
k = 3
val_fraction = 0.2
[family cnn]
model = c8,r,mp2,fl,fc16,r
optimizer = adam
lr = 0.003
batch = 8
epochs = 40
[family dnn]
model = fl,fc16,r
optimizer = sgd
lr = 0.05, 1e30
batch = 8
epochs = 4
[run]
output = {OUT0}
"""


def info(msg):
    print(f"info {msg}", flush=True)


def elapsed():
    return time.monotonic() - T0


# ---- the browser side ----

def faults(page, url):
    """(requests seen, data: URLs, requests of anything but url, console errors) since the last call; forgets them."""
    own = url.split("#")[0]
    urls = [u for _, u in page.requests]
    data = sorted({u[:60] for u in urls if u.startswith("data:")})
    other = sorted({u for u in urls if u.split("#")[0] != own and not u.startswith("data:")})
    errors = list(page.errors)
    page.requests.clear()
    page.errors.clear()
    return urls, data, other, errors


def audit(page, url, what):
    """Every request the page made since the last audit was url itself (data: allowed, printed), and no
    console error, exception or error log entry was seen."""
    urls, data, other, errors = faults(page, url)
    if data and url not in DATA_SEEN:
        DATA_SEEN.add(url)
        info(f"{what}: data: URLs loaded (allowed): {len(data)}, e.g. {data[0]}...")
    check(urls and not other, f"{what}: requests only its own file ({len(urls)} seen; others: {other[:5]})")
    check(not errors, f"{what}: no console error, exception or error log entry ({errors[:5]})")


def shoot(page, name, view):
    """Screenshot of the whole page at the current viewport into ART (and docs/img/ when asked)."""
    path = os.path.join(ART, f"{name}-{view}.png")
    w, h = page.screenshot(path)
    info(f"screenshot {path} ({w}x{h} CSS px)")
    check(os.path.getsize(path) > 1000, f"{name} {view}: a non-empty screenshot ({os.path.getsize(path)} bytes)")
    if UPDATE:
        dest = os.path.join(project_root(), "docs", "img", f"html_{name}{'_phone' if view.startswith('390') else ''}.png")
        shutil.copyfile(path, dest)
        info(f"copied to {dest}")
    return path


def no_hscroll(page, what):
    """At phone width the page itself does not scroll sideways (wide tables scroll in their own box)."""
    w = page.eval("[window.innerWidth, document.documentElement.scrollWidth]")
    check(w[1] <= w[0] + 1, f"{what}: no horizontal scrolling of the page at phone width (content {w[1]} px in {w[0]})")


def tidy_run(path):
    """(exit status, error lines, warning lines) of tidy -q -e."""
    p = run([TIDY, "-q", "-e", path], timeout=60)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    return p.returncode, [l for l in lines if "Error:" in l], [l for l in lines if "Warning:" in l]


def tidy(path, what):
    rc, errors, warnings = tidy_run(path)
    for l in warnings:
        info(f"tidy {what}: {l}")
    check(rc in (0, 1) and not errors, f"tidy -q -e {what}: no error (exit {rc}: {errors[:5]})")


# ---- the sweep side ----

def rank_pids(p):
    """World rank -> pid of this job's hipid processes (from their environment), as test_stall.py."""
    pids = {}
    for d in glob.glob("/proc/[0-9]*"):
        try:
            if os.path.basename(os.readlink(d + "/exe")) != "hipid" or os.getsid(int(d[6:])) != os.getsid(p.pid):
                continue
            env = open(d + "/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        for kv in env:
            if kv.startswith(b"OMPI_COMM_WORLD_RANK="):
                pids[int(kv.split(b"=")[1])] = int(d[6:])
    return pids


def signal_all(pids, sig):
    for pid in pids.values():
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def page_counts(text):
    """id -> integer of the status page's counters (#total, #n-done, ...), from its source."""
    return {k: int(v) for k, v in re.findall(r'<b id="(total|n-done|n-failed|n-running|n-queued)">(\d+)</b>', text)}


def trial_files():
    return sorted(p for p in glob.glob(os.path.join(OUT, "trials", "*.h5")) if not p.endswith(".ckpt.h5"))


def s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def auc(f):
    """Macro one-vs-rest AUC of the test predictions (binary: class 1); NaN if a class is missing."""
    if "predictions/test_prob" not in f:
        return math.nan
    P = f["predictions/test_prob"][()].astype(np.float64)
    y = f["predictions/test_label"][()]
    K = P.shape[1]
    per = [roc_auc_score(y == c, P[:, c]) if 0 < np.sum(y == c) < len(y) else math.nan for c in range(K)]
    return per[1] if K == 2 else float(np.mean(per))


def read_trials():
    """data-file -> {key: expected value} from the trial files."""
    out = {}
    for p in trial_files():
        with h5py.File(p, "r") as f:
            a = f.attrs
            out["trials/" + os.path.basename(p)] = {
                "family": s(a["family"]), "config": int(a["config"]),
                "unit": (int(a["repeat"]), int(a["outer"]), int(a["inner"])), "seed": int(a["seed"]),
                "state": s(a["state"]), "epochs": int(a["epochs_run"]), "best_epoch": int(a["best_epoch"]),
                "val_loss": float(a["val_loss"]), "val_acc": float(a["val_acc"]), "test_acc": float(a["test_acc"]),
                "test_auc": auc(f) if s(a["state"]) == "done" else math.nan, "seconds": float(a["seconds"]),
                "ranks": int(a["ranks"]), "reason": s(a["reason"]), "label": s(a["label"])}
    return out


def same_value(cell, want):
    """A data-value against the file's value: numbers within 1e-9, '' for a non-finite number."""
    if isinstance(want, str):
        return cell == want
    if isinstance(want, float) and not math.isfinite(want):
        return cell == ""
    try:
        return abs(float(cell) - want) <= 1e-9
    except ValueError:
        return False


# ---- the checks of each page ----

STATUS_JS = """(() => {
  const rows = id => [...document.querySelectorAll('#' + id + ' tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim()));
  const num = id => { const e = document.getElementById(id); return e ? Number(e.textContent) : null; };
  return {state: (document.getElementById('state') || {}).textContent || null,
          refresh: !!document.querySelector('meta[http-equiv=refresh]'), scripts: document.scripts.length,
          bar: !!document.querySelector('.bar'), counts: {total: num('total'), done: num('n-done'),
          failed: num('n-failed'), running: num('n-running'), queued: num('n-queued')},
          eta: !!document.getElementById('eta'),
          running: rows('running'), recent: rows('recent'), failed: rows('failed'), families: rows('families'),
          ranks: rows('ranks'), sparks: document.querySelectorAll('#running svg, #recent svg').length};
})()"""


def check_status(d, what, final, trials):
    """The DOM of status.html (d from STATUS_JS) against the trial files (and, while running, the frozen trial)."""
    for t in ("running", "recent", "failed", "families", "ranks"):
        check(d[t] is not None and len(d[t]) > 0, f"{what}: table #{t} with rows")
    check(d["bar"] and None not in d["counts"].values(), f"{what}: the progress bar and its counts ({d['counts']})")
    check(d["scripts"] == 0, f"{what}: no script (the page needs no JavaScript; {d['scripts']} found)")
    check(len(d["families"]) == len(FAMS) and [r[0] for r in d["families"]] == FAMS,
          f"{what}: one #families row per family ({[r[0] for r in d['families']]})")
    check(len(d["ranks"]) == 2, f"{what}: one #ranks row per rank ({len(d['ranks'])})")
    failed = {v["label"]: " ".join(v["reason"].split()) for v in trials.values() if v["state"] == "failed"}
    shown = {r[0]: " ".join(r[-1].split()) for r in d["failed"] if len(r) >= 3}
    check(shown == failed and failed,
          f"{what}: #failed lists the failed trials with their reasons ({sorted(shown)} == {sorted(failed)})")
    n_done = sum(v["state"] == "done" for v in trials.values())
    if final:
        check(d["state"] == "finished" and not d["refresh"] and not d["eta"],
              f"{what}: state finished, no more refreshing, no ETA ({d['state']}, refresh {d['refresh']})")
        want = {"total": N_PLAN, "done": n_done, "failed": len(failed), "running": 0, "queued": 0}
        check(d["counts"] == want, f"{what}: counts {d['counts']} == the trial files {want}")
        check(d["running"] == [["none"]], f"{what}: no running trial ({d['running'][:2]})")
    else:
        check(d["state"] == "running" and d["refresh"] and d["eta"],
              f"{what}: state running, refreshing itself, an ETA ({d['state']}, refresh {d['refresh']})")
        check(d["counts"]["running"] == 1 and d["counts"]["queued"] == 0
              and d["counts"]["done"] + d["counts"]["failed"] == N_PLAN - 1 and d["counts"]["total"] == N_PLAN,
              f"{what}: rank 1's trial running, the other {N_PLAN - 1} ended ({d['counts']})")
        run_rows = [r for r in d["running"] if len(r) >= 3]
        ep = re.fullmatch(r"(\d+)/(\d+)", run_rows[0][2]) if run_rows else None
        # rank 1's trial (the cnn one it trained when frozen, or rarely one the master handed it just before)
        check(len(run_rows) == 1 and ep and 0 <= int(ep.group(1)) <= int(ep.group(2)) and int(ep.group(2)) in (4, 40),
              f"{what}: the running trial with its epoch n/E ({d['running']})")
        check(d["sparks"] >= 1, f"{what}: learning-curve sparklines ({d['sparks']})")


def check_status_page(page, path, what, final, trials):
    url = "file://" + path
    for view, w, h, mobile in VIEWS:
        page.viewport(w, h, mobile)
        page.goto(url)
        d = page.eval(STATUS_JS)
        check_status(d, f"{what} {view}", final, trials)
        if mobile:
            no_hscroll(page, what)
        shoot(page, what.replace(" ", "_"), view)
        audit(page, url, f"{what} {view}")
    return d


TRIALS_JS = """(() => [...document.querySelectorAll('#trials tbody tr')].map(r => ({
  file: r.dataset.file, family: r.dataset.family, state: r.dataset.state,
  shown: r.offsetParent !== null && getComputedStyle(r).visibility !== 'hidden',
  values: [...r.cells].map(c => c.getAttribute('data-value'))})))()"""
HEAD_JS = "[...document.querySelectorAll('#trials thead th')].map(t => [t.dataset.key, t.getAttribute('aria-sort')])"


def check_rows(rows, trials, what):
    """One #trials body row per trial file (by data-file)."""
    files = sorted(r["file"] for r in rows)
    check(files == sorted(trials), f"{what}: one #trials row per trial file ({len(files)} rows, {len(trials)} files"
          f"{'' if files == sorted(trials) else ': ' + str(sorted(set(files) ^ set(trials))[:4])})")
    return files == sorted(trials)


def value_diffs(rows, trials, keys):
    """Where the #trials rows differ from the trial files: a list of lines, and the unit values per CV unit."""
    col = {k: i for i, k in enumerate(keys)}
    bad, units = [], {}
    if sorted(r["file"] for r in rows) != sorted(trials):
        bad.append(f"rows {sorted(r['file'] for r in rows)} != files {sorted(trials)}")
        return bad, units
    for r in rows:
        t = trials[r["file"]]
        if r["family"] != t["family"] or r["state"] != t["state"]:
            bad.append(f"{r['file']}: data-family/state {r['family']}/{r['state']} != {t['family']}/{t['state']}")
        for k in KEYS:
            if k not in col or col[k] >= len(r["values"]):
                continue
            v = r["values"][col[k]]
            if k == "unit":
                units.setdefault(t["unit"], set()).add(v)
            elif not same_value(v, t[k]):
                bad.append(f"{r['file']} {k}: data-value {v!r} != {t[k]!r}")
    return bad, units


def check_index(page, trials, keys):
    rows = page.eval(TRIALS_JS)
    if not check_rows(rows, trials, "index.html"):
        return
    bad, units = value_diffs(rows, trials, keys)
    check(not bad, f"index.html: every #trials data-value equals its trial file ({len(bad)} differ: {bad[:6]})")
    check(all(len(v) == 1 for v in units.values()) and len({next(iter(v)) for v in units.values()}) == len(units),
          f"index.html: one distinct unit value per CV unit ({ {k: sorted(v) for k, v in units.items()} })")


def sort_key(k, v):
    return float(v) if k in NUMERIC else v.casefold()


def is_sorted(k, values, desc):
    """values sorted by k (empty values together at one end)."""
    full = [v for v in values if v not in ("", None)]
    n_empty = len(values) - len(full)
    ends = values[len(values) - n_empty:] if n_empty and values[-1] in ("", None) else values[:n_empty]
    keys = [sort_key(k, v) for v in full]
    return all(e in ("", None) for e in ends) and keys == sorted(keys, reverse=desc)


def check_sorting(page, keys):
    col = {k: i for i, k in enumerate(keys)}
    rows0 = sorted(r["file"] for r in page.eval(TRIALS_JS))
    bad = []
    for k in keys:
        page.click(f'#trials thead th[data-key="{k}"]')
        rows = page.eval(TRIALS_JS)
        vals = [r["values"][col[k]] for r in rows]
        aria = dict(page.eval(HEAD_JS))
        if not is_sorted(k, vals, False) or aria.get(k) != "ascending" or sorted(r["file"] for r in rows) != rows0:
            bad.append(f"{k}: {vals} aria-sort {aria.get(k)}")
        if any(v == "ascending" or v == "descending" for kk, v in aria.items() if kk != k):
            bad.append(f"{k}: another header keeps aria-sort ({aria})")
    check(not bad, f"index.html: one click on each header sorts ascending by it, aria-sort=ascending ({bad[:3]})")
    # test_acc: ascending, then descending
    page.click('#trials thead th[data-key="family"]')
    ok1, ok2, msg1, msg2 = sort_twice(page, keys)
    check(ok1, f"index.html: a click on test_acc sorts ascending ({msg1})")
    check(ok2, f"index.html: a second click sorts descending ({msg2})")


def sort_twice(page, keys):
    """Two clicks on the test_acc header: (ascending ok, then descending ok, what was seen of each)."""
    i = keys.index("test_acc")
    page.click('#trials thead th[data-key="test_acc"]')
    asc = [r["values"][i] for r in page.eval(TRIALS_JS)]
    a1 = dict(page.eval(HEAD_JS)).get("test_acc")
    page.click('#trials thead th[data-key="test_acc"]')
    desc = [r["values"][i] for r in page.eval(TRIALS_JS)]
    a2 = dict(page.eval(HEAD_JS)).get("test_acc")
    return (is_sorted("test_acc", asc, False) and a1 == "ascending" and len({v for v in asc if v}) > 1,
            is_sorted("test_acc", desc, True) and a2 == "descending" and asc != desc,
            f"{asc}, aria-sort {a1}", f"{desc}, aria-sort {a2}")


def choose(page, sel, value):
    page.eval(f"""(() => {{ const s = document.querySelector({sel!r}); s.value = {value!r};
        s.dispatchEvent(new Event('input', {{bubbles: true}})); s.dispatchEvent(new Event('change', {{bubbles: true}}));
        return s.value; }})()""")


def check_filters(page, trials):
    opts = page.eval("[...document.querySelectorAll('#filter-family option')].map(o => o.value)")
    check(sorted(opts) == sorted([""] + FAMS), f"index.html: #filter-family offers all and each family ({opts})")
    opts = page.eval("[...document.querySelectorAll('#filter-state option')].map(o => o.value)")
    check({"", "done", "failed"} <= set(opts), f"index.html: #filter-state offers all, done, failed ({opts})")
    vis = page.eval("!!document.getElementById('filter-family').offsetParent")
    check(vis, "index.html: the family filter is visible with JavaScript on")
    for fam, state in (("dnn", ""), ("cnn", ""), ("", "failed"), ("dnn", "done")):
        choose(page, "#filter-family", fam)
        choose(page, "#filter-state", state)
        rows = page.eval(TRIALS_JS)
        want = {f for f, t in trials.items() if (not fam or t["family"] == fam) and (not state or t["state"] == state)}
        shown = {r["file"] for r in rows if r["shown"]}
        check(shown == want and want, f"index.html: filter family {fam!r} state {state!r} shows exactly its "
              f"{len(want)} rows ({len(shown)} shown)")
    choose(page, "#filter-family", "")
    choose(page, "#filter-state", "")
    rows = page.eval(TRIALS_JS)
    check(all(r["shown"] for r in rows), "index.html: both filters back on all show every row")


def index_page(page, path, trials):
    url = "file://" + path
    keys = None
    for view, w, h, mobile in VIEWS:
        page.viewport(w, h, mobile)
        page.goto(url)
        what = f"index.html {view}"
        if keys is None:
            keys = [k for k, _ in page.eval(HEAD_JS)]
            check(sorted(keys) == sorted(KEYS), f"index.html: #trials.sortable headers carry the data-keys {KEYS} "
                  f"({keys})")
            check(page.eval("!!document.querySelector('table#trials.sortable')"), "index.html: table#trials.sortable")
            secs = page.eval("['verdict','trial-list','configs','comparisons','plots','errors']"
                             ".filter(i => !document.querySelector('section#' + i))")
            check(not secs, f"index.html: sections verdict, trial-list, configs, comparisons, plots, errors ({secs} missing)")
            fams = page.eval("[...document.querySelectorAll('#summary tr[data-family]')].map(r => r.dataset.family)")
            check(sorted(fams) == FAMS, f"index.html: one #summary row per family ({fams})")
            svgs = page.eval("document.querySelectorAll('#plots svg').length")
            check(svgs >= 1, f"index.html: inline SVG plots in #plots ({svgs})")
            check_index(page, trials, keys)
        if mobile:
            no_hscroll(page, "index.html")
        shoot(page, "report", view)  # before sorting: the page as it opens
        if not mobile:
            check_sorting(page, keys)
            check_filters(page, trials)
        audit(page, url, what)
    # JavaScript off: the same tables, every row shown
    page.viewport(1280, 800)
    page.call("Emulation.setScriptExecutionDisabled", {"value": True})
    page.goto(url)
    rows = page.eval(TRIALS_JS)
    check(check_rows(rows, trials, "index.html without JavaScript") and all(r["shown"] for r in rows),
          f"index.html without JavaScript: every #trials row is shown ({sum(r['shown'] for r in rows)} of {len(rows)})")
    fams = page.eval("[...document.querySelectorAll('#summary tr[data-family]')].filter(r => r.offsetParent).length")
    check(fams == len(FAMS), f"index.html without JavaScript: the #summary rows are shown ({fams})")
    ran = page.eval("document.getElementById('trial-filters') ? document.getElementById('trial-filters').hidden : null")
    info(f"index.html without JavaScript: filters hidden = {ran}")
    audit(page, url, "index.html without JavaScript")
    # negative control: without the script a click sorts nothing, and sort_twice says so
    ok1, ok2, _, _ = sort_twice(page, keys)
    NEG.append(("clicks on test_acc with JavaScript off", ok1 or ok2))
    page.call("Emulation.setScriptExecutionDisabled", {"value": False})
    faults(page, url)
    return keys


def negatives(page, index, trials, keys):
    """Tampered copies of index.html and of its DOM: each check used above must fail on them."""
    html = open(index, encoding="utf-8").read()

    def variant(name, text):
        path = os.path.join(ROOT, f"negative-{name}.html")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        page.goto("file://" + path)
        page.settle(0.3)
        return "file://" + path

    url = variant("fetch", html.replace("</body>", '<img src="https://example.invalid/x.png" alt="">'
                                        '<img src="beside.png" alt=""></body>'))
    _, _, other, _ = faults(page, url)
    NEG.append(("an https image and a file beside the page", len(other) < 2))
    url = variant("console", html.replace("</body>", '<script>console.error("negative control");null.x;</script>'
                                          "</body>"))
    _, _, _, errors = faults(page, url)
    NEG.append(("console.error and an exception", len(errors) < 2))
    url = variant("same", html)
    rows = page.eval(TRIALS_JS)
    check(not value_diffs(rows, trials, keys)[0], "the untampered copy of index.html passes value_diffs")
    i = keys.index("test_acc")
    rows2 = [dict(r, values=list(r["values"])) for r in rows]
    done_row = next(r for r in rows2 if r["state"] == "done")
    done_row["values"][i] = "%.17g" % (float(done_row["values"][i]) + 2e-9)
    NEG.append(("one test_acc off by 2e-9", not value_diffs(rows2, trials, keys)[0]))
    NEG.append(("a row missing", not value_diffs(rows[1:], trials, keys)[0]))
    faults(page, url)
    path = os.path.join(ROOT, "negative-tidy.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(html.replace("</body>", "<p>x<blinky>y</blinky></p></body>", 1))
    rc, errors, _ = tidy_run(path)
    NEG.append(("an unknown element for tidy", rc in (0, 1) and not errors))


# ---- main ----

CHROMIUM = cdp.find_chromium()
WHERE = "$CHROMIUM=" + os.environ["CHROMIUM"] if os.environ.get("CHROMIUM") else "chromium on PATH"
require(CHROMIUM, f"chromium not found ({WHERE}): this test needs Debian's chromium (scripts/install-deps.sh); "
        "it fails rather than skip")
TIDY = shutil.which("tidy")
require(TIDY, "tidy is not installed: this test needs Debian's tidy (scripts/install-deps.sh)")
# the data set: 48 phantom images, prepared without the duplicate search (the sweep's own synth runs it:
# a minute under the sanitizers)
p = run_hipid("synth", "--out", os.path.join(ROOT, "synth"), "--classes", "3", "--per-class", "16", "--size", "32",
              "--seed", "3", timeout=120, env=ENV)
require(p.returncode == 0, f"hipid synth exits 0 ({p.stderr[-300:]})")
p = run_hipid("prep", os.path.join(ROOT, "synth", "manifest.csv"), "-o", DATA, "--size", "32", "--dup-threshold", "-1",
              "-q", timeout=120, env=ENV)
require(p.returncode == 0, f"hipid prep exits 0 ({p.stderr[-300:]})")


def start_frozen(attempt):
    """Start the sweep (job browser.ini, output OUT) and freeze rank 1 while both ranks train (two progress files
    at once), so that the page keeps one trial running. Returns (Popen, rank pids, when frozen), frozen None if
    the sweep ended first (a machine fast enough to run the trials between two polls)."""
    with open(os.path.join(ROOT, "browser.ini"), "w") as f:
        f.write(JOB.replace(OUT0, OUT))
    log = open(os.path.join(ROOT, f"sweep{attempt}.out"), "w+")
    p = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", os.path.join(ROOT, "browser.ini")],
                         stdout=log, stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
    p.log = log
    pids, deadline = {}, time.monotonic() + 180
    while len(pids) < 2 and p.poll() is None and time.monotonic() < deadline:  # the ranks exist before they train
        pids = rank_pids(p)
        time.sleep(0.02)
    progress = os.path.join(OUT, "progress")
    while p.poll() is None and time.monotonic() < deadline:
        try:
            if len(os.listdir(progress)) >= 2 and 1 in pids:
                os.kill(pids[1], signal.SIGSTOP)
                return p, pids, time.monotonic()
        except FileNotFoundError:
            pass
        time.sleep(0.005)
    return p, pids, None


browser = None
sweep = None
pids = {}
try:
    browser = cdp.Chromium(log_dir=ROOT)
    info(f"{browser.version} up in {browser.startup_seconds:.1f} s")
    page = browser.page()
    for attempt in range(3):
        OUT = f"{OUT0}{attempt}"
        status = os.path.join(OUT, "status.html")
        sweep, pids, frozen = start_frozen(attempt)
        if frozen:
            break
        sweep.wait(timeout=180)
        info(f"attempt {attempt}: the sweep ended (exit {sweep.returncode}) before rank 1 could be frozen mid-trial")
    require(frozen, f"rank 1 frozen while two trials ran (3 attempts; pids {pids})")
    info(f"rank 1 frozen at {elapsed():.1f} s")
    # wait for the master to finish the rest and rewrite the page: rank 1's trial running, nothing queued
    text, c = "", {}
    while time.monotonic() < frozen + 60 and sweep.poll() is None:
        if os.path.exists(status):
            text = open(status, encoding="utf-8").read()
            c = page_counts(text)
            if c.get("n-running") == 1 and c.get("n-queued") == 0 and c.get("n-done", 0) + c.get("n-failed", 0) == 8:
                break
        time.sleep(0.2)
    info(f"status.html with rank 1's trial running at {elapsed():.1f} s ({c})")
    running_copy = os.path.join(ART, "status-running.html")
    shutil.copyfile(status, running_copy)
    trials_now = read_trials()  # the 8 ended trials (rank 1's is still running)
    check_status_page(page, status, "status running", False, trials_now)
    # it reloads itself: one more load event within the refresh period
    n = page.loads
    reloaded = browser.pump(lambda: page.loads > n, EVERY + 5)
    check(reloaded, f"status.html reloads itself within {EVERY + 5:.0f} s (meta refresh)")
    audit(page, "file://" + status, "status running, after its own reload")
    signal_all(pids, signal.SIGCONT)
    pids = {}
    rc = sweep.wait(timeout=180)
    sweep.log.seek(0)
    log = sweep.log.read()
    require(rc == 0, f"the sweep exits 0 after rank 1 is continued ({rc}: {log[-600:]})")
    m = re.search(r"status page: (\S+)", log)
    check(m and os.path.realpath(m.group(1)) == os.path.realpath(status),
          f"hipid sweep prints the path of status.html ({m.group(0) if m else 'no line'})")
    info(f"sweep done at {elapsed():.1f} s")

    trials = read_trials()
    states = [t["state"] for t in trials.values()]
    require(len(trials) == N_PLAN and states.count("failed") == 3,
            f"{N_PLAN} trial files, 3 failed ({len(trials)}, {states.count('failed')})")
    check_status_page(page, status, "status finished", True, trials)

    p = run_hipid("report", OUT, timeout=180, env=ENV)
    require(p.returncode == 0, f"hipid report exits 0 ({p.returncode}: {p.stderr[-400:]})")
    index = os.path.join(OUT, "report", "index.html")
    require(os.path.isfile(index), f"hipid report writes {index}")
    info(f"report done at {elapsed():.1f} s")
    keys = index_page(page, index, trials)
    negatives(page, index, trials, keys)
    page.close()
except cdp.CDPError as e:
    require(False, f"the browser: {e} (chromium log: {browser.log_tail() if browser else ''})")
finally:
    signal_all(pids, signal.SIGCONT)
    if sweep and sweep.poll() is None:
        try:
            os.killpg(sweep.pid, signal.SIGKILL)
        except OSError:
            pass
        sweep.wait()
    if browser:
        browser.close()

# negative controls: each check must fail on its tampered input
for what, passed in NEG:
    check(not passed, f"negative control: {what}: the check fails")
info(f"negative controls: {len(NEG)} run")
tidy(running_copy, "status.html (running)")
tidy(status, "status.html (finished)")
tidy(index, "index.html")
info(f"total {elapsed():.1f} s")
done()
