"""hipid sweep's live status page, results/JOB/status.html, watched while a
small sweep runs on 2 ranks: it appears before the first trial ends, it is
rewritten (its written-at time moves), every snapshot is a whole page
(ends with </html>, parses), a running trial's epoch grows, and at the end
it says finished with the counts of the trial files and the failed trials'
reasons (one family diverges on purpose, lr 1e6). No external reference, no
script; tidy finds no error or warning when it is installed. --no-status
writes no page. Runs with /usr/bin/python3; needs mpirun (Open MPI)."""
import glob
import html.parser
import os
import re
import shutil
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import check, done, hipid, require, tmp_dir  # noqa: E402

HIPID = hipid()
SAN = os.environ.get("SANITIZE") == "1"  # ~10x slower: fewer epochs, more time
ROOT = tmp_dir("status")
OUT = os.path.join(ROOT, "out")
JOB = os.path.join(ROOT, "st.ini")
with open(JOB, "w") as f:
    f.write(f"""[job]
name = st
[data]
path = {ROOT}/data.h5
synth = classes=3,per_class=30,size=48,seed=3
[cv]
scheme = holdout
repeats = 2
[family cnn]
model = cnn-paper
optimizer = adam
lr = 0.001
batch = 16
epochs = {20 if SAN else 100}
[family bad]
model = fl,fc32,r
optimizer = sgd
lr = 1e6
batch = 8
epochs = 4
[run]
output = {OUT}
threads = 1
checkpoint_every = 0
""")


class Page(html.parser.HTMLParser):
    """Text of every element with an id, the rows of each table with an id,
    and every attribute value (for external references)."""

    def __init__(self):
        super().__init__()
        self.ids, self.tables, self.attrs, self.stack, self.meta = {}, {}, [], [], []
        self.table, self.row, self.ended = None, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag == "meta":
            self.meta.append(a)
        if tag == "table" and "id" in a:
            self.table = a["id"]
            self.tables[self.table] = []
        if tag == "tr" and self.table:
            self.row = []
        if tag == "td" and self.row is not None:
            self.row.append("")
        if tag not in ("meta", "rect", "circle", "polyline"):
            self.stack.append(a.get("id"))

    def handle_endtag(self, tag):
        if tag == "html":
            self.ended = True
        if tag == "tr" and self.row is not None:
            if self.row:
                self.tables[self.table].append(self.row)
            self.row = None
        if tag == "table":
            self.table = None
        if tag not in ("meta", "rect", "circle", "polyline") and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.ids[i] = self.ids.get(i, "") + data
        if self.row:
            self.row[-1] += data


def parse(text):
    p = Page()
    p.feed(text)
    p.close()
    return p


def external(text, page):
    """What in the page could make a browser fetch something."""
    bad = [f"<{t} {k}={v}>" for t, k, v in page.attrs if k in ("src", "href", "srcset", "data", "action")]
    bad += re.findall(r"url\((?!#)[^)]*\)|@import|<script|<link|<iframe|<img", text)
    return bad


# ---- watch a sweep -----------------------------------------------------------
env = dict(os.environ, OMP_NUM_THREADS="1")
log = open(os.path.join(ROOT, "sweep.log"), "w+")
t0 = time.time()
# one rewrite a second (--status-every 1; the default is 5): on a quiet machine a trial lasts only a few
# seconds, and the test must see one at two different epochs
EVERY = 1
proc = subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--status-every", str(EVERY), JOB], stdout=log,
                        stderr=subprocess.STDOUT, env=env)
page_path = os.path.join(OUT, "status.html")
snaps, last, progress_seen = [], None, set()
while proc.poll() is None and time.time() - t0 < (1200 if SAN else 110):
    for p in glob.glob(os.path.join(OUT, "progress", "*.txt")):
        progress_seen.add(os.path.basename(p))
    try:
        with open(page_path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = None
    if text is not None and text != last:
        snaps.append((time.time() - t0, text))
        last = text
    time.sleep(0.1)
if proc.poll() is None:
    proc.kill()
rc = proc.wait()
log.seek(0)
out = log.read()
require(rc == 0, f"the sweep exits 0 ({rc}): {out[-800:]}")
with open(page_path, encoding="utf-8") as f:
    final = f.read()
if final != last:
    snaps.append((time.time() - t0, final))
print(f"  {len(snaps)} versions of status.html seen in {time.time() - t0:.0f} s", flush=True)

# the path line, printed at start
lines = out.splitlines()
where = [i for i, l in enumerate(lines) if l.startswith("status page: ")]
first_trial = next((i for i, l in enumerate(lines) if l.startswith("[")), len(lines))
require(where, f"hipid sweep prints the page's path ({out[:600]})")
printed = lines[where[0]].split()[2]
check(os.path.samefile(printed, page_path) and os.path.isabs(printed),
      f"the printed path {printed} is the page, absolute")
check(where[0] < first_trial, "the path is printed before the first trial ends")

# every snapshot a whole page
pages = [(t, text, parse(text)) for t, text in snaps]
check(all(text.rstrip().endswith("</html>") and p.ended for _, text, p in pages),
      "every snapshot is a whole page (ends with </html>)")
check(all(not external(text, p) for _, text, p in pages),
      "no external reference, no script: " + str([external(text, p) for _, text, p in pages][-1][:3]))
first = pages[0][2]
check(first.ids.get("state") == "running" and first.ids.get("n-done") == "0",
      f"the page appears before the first trial ends (first: {first.ids.get('state')}, "
      f"done {first.ids.get('n-done')})")
check(any(m.get("http-equiv") == "refresh" and m.get("content") == str(EVERY) for m in first.meta),
      f"while running the page reloads itself every {EVERY} s (--status-every)")
written = [p.ids.get("written") for _, _, p in pages]
check(len(set(written)) >= 3, f"the page is rewritten: {len(set(written))} written-at times")
check(all(b - a > 0.6 * EVERY for (a, _, _), (b, _, _) in zip(pages[1:-2], pages[2:-1])),
      f"rewrites are about {EVERY} s apart, not more often: " + str([round(t, 1) for t, _, _ in pages]))

# a running trial's epoch grows
epochs = {}
for _, _, p in pages:
    for row in p.tables.get("running", []):
        if len(row) >= 3 and "/" in row[2]:
            epochs.setdefault(row[0], []).append(int(row[2].split("/")[0]))
grown = {k: v for k, v in epochs.items() if len(v) >= 2 and v[-1] > v[0]}
check(grown, f"a running trial's epoch grows from rewrite to rewrite: {epochs}")
check(any(k.startswith("cnn") for k in epochs), "the running trials are listed by label")
check(progress_seen, "group leaders write progress files while trials run")
check(not glob.glob(os.path.join(OUT, "progress", "*")), "no progress file is left at the end")
check(any("<svg" in row_text for _, text, _ in pages for row_text in re.findall(r'<table id="running">.*?</table>',
                                                                                    text, re.S)),
      "running trials have a sparkline")

# the end
end = pages[-1][2]
files = glob.glob(os.path.join(OUT, "trials", "*.h5"))
states = []
for path in files:
    with h5py.File(path) as h:
        s = h.attrs["state"]
        states.append(s.decode() if isinstance(s, bytes) else s)
n_done, n_failed = states.count("done"), states.count("failed")
check(end.ids.get("state") == "finished", f"at the end the page says finished ({end.ids.get('state')})")
check(not end.meta or all(m.get("http-equiv") != "refresh" for m in end.meta), "a finished page does not reload")
check(end.ids.get("n-done") == str(n_done) == "2" and end.ids.get("n-failed") == str(n_failed) == "2",
      f"done and failed counts are the trial files' ({end.ids.get('n-done')}/{n_done}, "
      f"{end.ids.get('n-failed')}/{n_failed})")
check(end.ids.get("n-running") == "0" and end.ids.get("n-queued") == "0", "nothing running or to run at the end")
failed = end.tables.get("failed", [])
check(len(failed) == 2 and all(r[0].startswith("bad") and "diverged" in r[2] for r in failed),
      f"the failed trials are listed with their reasons: {failed}")
recent = end.tables.get("recent", [])
check(len(recent) == 4 and sum(r[1] == "done" for r in recent) == 2, f"the recently ended trials: {recent}")
fam = {r[0]: r for r in end.tables.get("families", [])}
check(fam.get("cnn", [""] * 3)[1] == "2" and fam.get("bad", [""] * 3)[2] == "2", f"the family table: {fam}")
check(len(end.tables.get("ranks", [])) == 2 and "%" in end.tables["ranks"][0][2], "a busy share per rank")
check(re.search(r"\d+\.\d+ ms per rewrite", end.ids.get("cost", "")), f"the page states its cost: {end.ids.get('cost')}")

# the validator, if there is one
if shutil.which("tidy"):
    for label, text in (("running", pages[len(pages) // 2][1]), ("finished", final)):
        snap = os.path.join(ROOT, f"snap-{label}.html")
        with open(snap, "w", encoding="utf-8") as f:
            f.write(text)
        t = testlib.run(["tidy", "-q", "-e", snap])
        check(t.returncode == 0 and not t.stderr.strip(), f"tidy: no error or warning on the {label} page: {t.stderr[:400]}")
else:
    print("  (tidy not installed: apt-get install tidy to validate the page)")

# --no-status: no page (a rerun: done trials are skipped, failed ones retried)
os.remove(page_path)
p = testlib.run(["mpirun", "--oversubscribe", "-np", "1", HIPID, "sweep", "--no-status", JOB], env=env, timeout=120)
check(p.returncode == 0 and not os.path.exists(page_path) and "status page" not in p.stdout,
      f"--no-status writes no page ({p.returncode}: {p.stderr[-300:]})")
# --status-every below a second: a usage error, one line
p = testlib.run([HIPID, "sweep", "--status-every", "0.5", JOB], env=env, timeout=60)
check(p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "--status-every" in p.stderr,
      f"--status-every 0.5 is refused with one line ({p.returncode}: {p.stderr.strip()[:200]})")
done()
