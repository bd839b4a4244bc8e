"""Two hipid processes on one output (issue #16): results-folder locks, per
output locks, per-process temporary names, stale locks and temporary files.

- Ten times, two identical sweeps started together on one results folder:
  every trial file reads in h5py with state=done and finite, not all-zero
  best and last weights; the trials trained by the two runs add up to the
  plan (none trained twice); a loser exits 1 naming the holder (host=,
  pid=); a rerun has nothing to do.
- Ten times, two `hipid prep` to one output started together: the output's
  images read fully in h5py and match a prep made alone; a loser exits
  non-zero naming the holder.
- A lock file naming a dead process is taken over with a note; a temporary
  file of a dead process of this host is removed, a live one's and another
  host's are kept.
- Shards 0/2 and 1/2 run together; a whole sweep against a shard's shared
  lock, and a shard against the same shard's lock, are refused (the locks
  are held here with flock, so nothing depends on timing); a shard waits out
  a last shard's moment of holding the folder's lock exclusively.
- A sweep whose data set is being built by another process (its DATA.lock
  held here) waits, then uses the file the other one put in place.

Run with /usr/bin/python3 (h5py, numpy)."""
import fcntl
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, require, run_hipid, tmp_dir  # noqa: E402

HIPID = hipid()
ROOT = tmp_dir("concurrency")
DATA = os.path.join(ROOT, "data.h5")
IMGS = os.path.join(ROOT, "imgs")
N_PLAN = 3  # k = 3 folds, one family, one configuration
ENV = dict(os.environ, OMP_NUM_THREADS="1", HIPID_THREADS="1")


def job(name, data=DATA, synth=""):
    path = os.path.join(ROOT, name + ".ini")
    out = os.path.join(ROOT, name)
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = 1\n[data]\npath = {data}\n{synth}\n"
                "[cv]\nscheme = kfold\nk = 3\nval_fraction = 0.2\n"
                "[family dnn]\nmodel = fl,fc16,r\noptimizer = sgd\nlr = 0.05\nbatch = 4\nepochs = 2\n"
                f"[run]\noutput = {out}\n")
    return path, out


def start(*args):
    return subprocess.Popen([HIPID] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)


def finish(p):
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


def to_run(stdout):
    m = re.search(r"(\d+) to run", stdout)
    return int(m.group(1)) if m else -1


def trial_problems(out):
    """What is wrong with the trial files of results folder out (empty: nothing)."""
    files = sorted(glob.glob(os.path.join(out, "trials", "*.h5")))
    bad = [] if len(files) == N_PLAN else [f"{len(files)} trial files, expected {N_PLAN}"]
    for path in files:
        try:
            with h5py.File(path, "r") as f:
                if f.attrs["state"] != b"done":
                    bad.append(f"{path}: state {f.attrs['state']}")
                for which in ("best", "last"):
                    tensors = []
                    f[f"weights/{which}"].visititems(
                        lambda n, o: tensors.append(o[()]) if isinstance(o, h5py.Dataset) else None)
                    if not tensors:
                        bad.append(f"{path}: no {which} weights")
                    for t in tensors:
                        if not np.all(np.isfinite(t)) or not np.any(t):
                            bad.append(f"{path}: {which} weights not finite or all zero")
        except Exception as ex:  # noqa: BLE001 - any unreadable file is the finding
            bad.append(f"{path}: {ex}")
    with h5py.File(os.path.join(out, "sweep.h5"), "r") as f:
        states = [s.decode() if isinstance(s, bytes) else s for s in f["state"][()]]
    if states != ["done"] * N_PLAN:
        bad.append(f"sweep.h5 states {states}")
    return bad


def names_holder(err):
    """One line naming the holder. A loser that tried in the microseconds
    between the winner's flock and its writing of its line finds no line
    yet and says "another process" (fsafe_lock reads the line before trying
    the lock); the deterministic checks below (held()) require host= pid=."""
    one = len(err.strip().splitlines()) == 1 and "is in use by " in err
    return one and (("host=" in err and " pid=" in err) or "in use by another process" in err)


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


HOST = socket.gethostname()

# ---- the data, made once ----------------------------------------------------
r = run_hipid("synth", "--out", IMGS, "--per-class", 12, "--classes", 2, "--size", 32, env=ENV)
require(r.returncode == 0, f"synth: {r.stderr}")
r = run_hipid("prep", IMGS, "-o", DATA, "--size", 32, "--dup-threshold", -1, "-q", env=ENV)
require(r.returncode == 0, f"prep: {r.stderr}")
with h5py.File(DATA, "r") as f:
    REF_IMAGES = f["images"][()]
require(REF_IMAGES.shape == (24, 32, 32), f"reference data set of 24 images, found {REF_IMAGES.shape}")

# ---- two identical sweeps, ten times ------------------------------------------
JOB, OUT = job("twin")
refused = 0
for i in range(10):
    shutil.rmtree(OUT, ignore_errors=True)
    a, b = start("sweep", "--quiet", "--no-status", JOB), start("sweep", "--quiet", "--no-status", JOB)
    (ra, oa, ea), (rb, ob, eb) = finish(a), finish(b)
    trained = 0
    for rc, out, err in ((ra, oa, ea), (rb, ob, eb)):
        if rc == 0:
            trained += to_run(out)
        else:
            refused += 1
            check(rc == 1 and names_holder(err), f"try {i}: the losing sweep exits 1 with one line naming the "
                  f"holder (rc {rc}: {err.strip()[:300]})")
    check(ra == 0 or rb == 0, f"try {i}: one sweep finished ({ra}, {rb}): {ea.strip()[:200]} {eb.strip()[:200]}")
    check(trained == N_PLAN, f"try {i}: the two runs trained {trained} trials in all, the plan has {N_PLAN}")
    bad = trial_problems(OUT)
    check(not bad, f"try {i}: every trial file whole and done: {bad[:3]}")
    left = glob.glob(os.path.join(OUT, "trials", "*.tmp*")) + glob.glob(os.path.join(OUT, "*.tmp*"))
    check(not left, f"try {i}: no temporary files left: {left[:3]}")
print(f"twin sweeps: {refused} of 10 tries had a loser refused at the start", flush=True)
rc, out, err = finish(start("sweep", "--quiet", "--no-status", JOB))
check(rc == 0 and to_run(out) == 0 and f"{N_PLAN} done" in out, f"rerun: all done, nothing to run ({rc}: {out[:200]} {err[:200]})")

# ---- two preps to one output, ten times ---------------------------------------
PREP_OUT = os.path.join(ROOT, "twin.h5")
for i in range(10):
    if os.path.exists(PREP_OUT):
        os.remove(PREP_OUT)
    args = ("prep", IMGS, "-o", PREP_OUT, "--size", 32, "--dup-threshold", -1, "-q")
    a, b = start(*args), start(*args)
    (ra, oa, ea), (rb, ob, eb) = finish(a), finish(b)
    check(ra == 0 or rb == 0, f"prep try {i}: one prep succeeded ({ra}, {rb}): {ea[:200]} {eb[:200]}")
    for rc, err in ((ra, ea), (rb, eb)):
        if rc != 0:
            check(names_holder(err), f"prep try {i}: the loser names the holder in one line: {err.strip()[:300]}")
    try:
        with h5py.File(PREP_OUT, "r") as f:
            imgs = f["images"][()]
        check(np.array_equal(imgs, REF_IMAGES), f"prep try {i}: the output's images equal a prep made alone")
    except Exception as ex:  # noqa: BLE001
        check(False, f"prep try {i}: the output reads in h5py: {ex}")
left = glob.glob(PREP_OUT + ".tmp*")
check(not left, f"no temporary files of the preps left: {left}")

# ---- a stale lock and stale temporary files -----------------------------------
gone = dead_pid()
with open(os.path.join(OUT, "sweep.lock"), "w") as f:
    f.write(f"host={HOST} pid={gone} since=2026-01-01T00:00:00Z cmd=hipid\n")
stale = os.path.join(OUT, "trials", f"dnn-0123.h5.tmp.{HOST}.{gone}")
live = os.path.join(OUT, "trials", f"dnn-4567.h5.tmp.{HOST}.{os.getpid()}")
other = os.path.join(OUT, "trials", f"dnn-89ab.h5.tmp.some-other-host.{gone}")
for p in (stale, live, other):
    open(p, "w").close()
rc, out, err = finish(start("sweep", "--quiet", "--no-status", JOB))
check(rc == 0, f"sweep over a stale lock: exit 0 ({rc}: {err[:300]})")
check(re.search(rf"note: took over the lock \S*sweep.lock from host={re.escape(HOST)} pid={gone} ", err) is not None,
      f"the takeover is noted naming the dead holder: {err.strip()[:300]}")
check(not os.path.exists(stale), "a dead process's temporary file is removed")
check(os.path.exists(live) and os.path.exists(other), "a live process's and another host's temporary files are kept")
check(len(re.findall(r"note: removed 1 temporary file", err)) == 1, f"one note for the removed file: {err.strip()[:300]}")
for p in (live, other):
    os.remove(p)

# ---- shards ------------------------------------------------------------------
shutil.rmtree(OUT)
a, b = start("sweep", "--quiet", "--no-status", "--shard", "0/2", JOB), start("sweep", "--quiet", "--no-status", "--shard", "1/2", JOB)
(ra, oa, ea), (rb, ob, eb) = finish(a), finish(b)
check(ra == 0 and rb == 0, f"shards 0/2 and 1/2 run together ({ra}: {ea[:200]}; {rb}: {eb[:200]})")
check(to_run(oa) + to_run(ob) == N_PLAN, f"the shards split the plan ({to_run(oa)} + {to_run(ob)})")
bad = trial_problems(OUT)
check(not bad, f"after the shards every trial file whole and done: {bad[:3]}")


def held(path, mode, *args):
    """Run hipid with lock file path held here (fcntl.LOCK_SH or LOCK_EX),
    this process's holder line in it."""
    with open(path, "a") as f:
        fcntl.flock(f, mode)
        f.truncate(0)
        f.write(f"host={HOST} pid={os.getpid()} since=2026-01-01T00:00:00Z cmd=python3\n")
        f.flush()
        try:
            return finish(start(*args))
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


rc, out, err = held(os.path.join(OUT, "sweep.lock"), fcntl.LOCK_SH, "sweep", "--quiet", "--no-status", JOB)
ME = f"in use by host={HOST} pid={os.getpid()} "
check(rc == 1 and ME in err and "sweep.lock" in err and len(err.strip().splitlines()) == 1,
      f"a whole sweep is refused while a shard holds the folder: {rc}: {err.strip()[:300]}")
rc, out, err = held(os.path.join(OUT, "sweep.shard-0-of-2.lock"), fcntl.LOCK_EX, "sweep", "--quiet", "--no-status",
                    "--shard", "0/2", JOB)
check(rc == 1 and "shard 0/2" in err and ME in err, f"the same shard twice is refused: {rc}: {err.strip()[:300]}")
rc, out, err = held(os.path.join(OUT, "sweep.lock"), fcntl.LOCK_EX, "sweep", "--quiet", "--no-status",
                    "--shard", "1/2", JOB)
check(rc == 1 and ME in err, f"a shard is refused while a whole sweep holds the folder: {rc}: {err.strip()[:300]}")
rc, out, err = held(os.path.join(OUT, "sweep.lock"), fcntl.LOCK_SH, "sweep", "--quiet", "--no-status",
                    "--shard", "1/2", JOB)
check(rc == 0, f"a shard runs beside another shard's shared lock: {rc}: {err.strip()[:300]}")


def opened(pid, path):
    """Does process pid have path open?"""
    try:
        real = os.path.realpath(path)
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == real for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


# The last shard out takes sweep.lock exclusively for a moment to empty it; a
# shard starting then waits that out (a flaky failure of the shards above).
# Held here, empty, until the shard has the file open and has tried, then let go.
lock = os.path.join(OUT, "sweep.lock")
with open(lock, "w") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    p = start("sweep", "--quiet", "--no-status", "--shard", "1/2", JOB)
    t0 = time.monotonic()
    while not opened(p.pid, lock) and p.poll() is None and time.monotonic() - t0 < 60:
        time.sleep(0.002)
    seen = opened(p.pid, lock)
    time.sleep(0.3)
    fcntl.flock(f, fcntl.LOCK_UN)
rc, out, err = finish(p)
check(seen and rc == 0, f"a shard waits out a last shard emptying the lock file (seen {seen}): {rc}: {err.strip()[:300]}")
rc, out, err = held(os.path.join(OUT, "sweep.lock"), fcntl.LOCK_EX, "sweep", "--dry-run", JOB)
check(rc == 0, f"--dry-run takes no lock: {rc}: {err.strip()[:300]}")

# ---- a data set being built by another process --------------------------------
DATA2 = os.path.join(ROOT, "shared", "data2.h5")
JOB2, OUT2 = job("waiter", data=DATA2, synth="synth = classes=2,per_class=12,size=32,seed=3")
os.makedirs(os.path.dirname(DATA2))
with open(DATA2 + ".lock", "a") as lk:
    fcntl.flock(lk, fcntl.LOCK_EX)
    lk.write(f"host={HOST} pid={os.getpid()} since=2026-01-01T00:00:00Z cmd=python3\n")
    lk.flush()
    p = start("sweep", "--quiet", "--no-status", JOB2)
    first = p.stdout.readline()  # blocks until the sweep says it waits
    check("is being built by" in first and f"pid={os.getpid()}" in first,
          f"the sweep waits for the data set's builder, naming it: {first.strip()}")
    shutil.copy(DATA, DATA2 + ".part")
    os.rename(DATA2 + ".part", DATA2)
    lk.truncate(0)
    fcntl.flock(lk, fcntl.LOCK_UN)
rc, out, err = finish(p)
check(rc == 0 and "built by another run meanwhile; using it" in out, f"then uses the finished data set: {rc}: {out[:300]} {err[:300]}")
check(not glob.glob(DATA2 + ".images*"), "it built nothing itself")
check(not trial_problems(OUT2), f"and trains on it: {trial_problems(OUT2)[:3]}")

done()
