"""A full disk (the brief: one clear line naming the file, no data lost),
on a small tmpfs mounted for this test (as root; skipped with a note where
mount is not permitted), checked with os.stat, file bytes and h5py:

- hipid prep -o over an existing data set on a full disk: exit 1, one line
  naming the output and the full disk, the old data set byte-equal, no
  temporary file left;
- hipid train --save continuing a stopped run's state file on a full disk:
  exit 1 with one line naming the state file and "No space left on device",
  the state file byte-equal and whole (h5py reads its progress), no model
  and no temporary file; with room again the same command continues from
  that state, exits 0, writes the model and removes the state;
- hipid sweep with its results folder on a nearly full disk: a nonzero exit
  with a line naming a file under the results folder and the full disk;
  with room again the rerun exits 0 and sweep.h5 indexes every trial, and no
  temporary file is left;
- hipid report over an earlier report on a full disk: exit 1, each of its
  lines naming a file and the full disk; every file of the report folder is
  either the earlier one (each made 8 bytes beforehand, so that a rewrite in
  place needs more room than it frees) or a whole new one, and each file
  whose write failed is the earlier one, byte-equal; no temporary file left.
Run by tests/run.sh with Debian's /usr/bin/python3; needs HIPID, TEST_TMP."""
import glob
import hashlib
import os
import signal
import subprocess
import sys
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, require, run, run_hipid, tmp_dir  # noqa: E402

TMP = tmp_dir("diskfull")
MNT = os.path.join(TMP, "small")
os.mkdir(MNT)
if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", MNT], capture_output=True).returncode != 0:
    print("skip: mounting a tmpfs is not permitted here (needs root); a full disk is not tested", flush=True)
    done()

FILLER = os.path.join(MNT, "filler")


def leave_free(n):
    """Fill the tmpfs so that about n bytes stay free."""
    if os.path.exists(FILLER):
        os.remove(FILLER)
    st = os.statvfs(MNT)
    fill = st.f_bavail * st.f_frsize - n
    if fill > 0:
        with open(FILLER, "wb") as f:
            f.write(b"\0" * fill)


def temporaries():
    return [p for p in glob.glob(os.path.join(MNT, "**", "*"), recursive=True) if ".tmp." in os.path.basename(p)]


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def full_line(stderr, path_part):
    """The stderr lines of hipid naming path_part and a full disk."""
    return [ln for ln in stderr.splitlines() if ln.startswith("hipid ") and path_part in ln
            and ("No space left on device" in ln or "disk full" in ln)]


try:
    p = run_hipid("synth", "--out", os.path.join(TMP, "ph"), "--per-class", 30, "--size", 64, "--seed", 3,
                  timeout=300)
    require(p.returncode == 0, "synth: " + p.stderr[-400:])
    manifest = os.path.join(TMP, "ph", "manifest.csv")
    data = os.path.join(TMP, "d.h5")
    p = run_hipid("prep", manifest, "-o", data, "--size", 32, "-q", "--dup-threshold", -1, timeout=300)
    require(p.returncode == 0, "prep: " + p.stderr[-400:])

    # prep over an existing data set
    keep = os.path.join(MNT, "keep.h5")
    with open(data, "rb") as f, open(keep, "wb") as g:
        g.write(f.read())
    before = sha(keep)
    leave_free(8 << 10)
    p = run_hipid("prep", manifest, "-o", keep, "--size", 64, "-q", "--dup-threshold", -1, timeout=300)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 1 and len(lines) == 1 and full_line(p.stderr, keep),
          f"prep -o on a full disk: exit 1, one line naming it and the full disk ({p.returncode}: {p.stderr!r})")
    check(sha(keep) == before, "the data set prep was to replace is byte-equal")
    check(not temporaries(), f"prep left no temporary file: {temporaries()}")
    os.remove(keep)

    # train --save: a state file from a stopped run, then a disk too full for the next one
    args = ["train", "--data", data, "--model", "c8,bn,r,mp2,res16s2,gap", "--epochs", 100, "--batch", 16,
            "--optimizer", "adam", "--lr", "1e-3", "--threads", 1]
    model = os.path.join(MNT, "m.h5")
    state = os.path.join(MNT, "m.state.h5")
    pr = subprocess.Popen([hipid()] + [str(a) for a in args + ["--save", model]], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    while not os.path.exists(state) and pr.poll() is None:
        time.sleep(0.002)
    pr.send_signal(signal.SIGTERM)  # a clean stop: SIGKILL could land in a save and leave its temporary file
    require(pr.wait() == 3 and os.path.exists(state), "the stopped run left a state file")
    before = sha(state)
    leave_free(4 << 10)
    p = run_hipid(*args, "--save", model, timeout=300)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 1 and len(lines) == 1 and full_line(p.stderr, state),
          f"train --save with no room for its next state: exit 1, one line naming it ({p.returncode}: {p.stderr!r})")
    check("continuing from" in p.stdout, "it had continued the stopped run")
    check(sha(state) == before and not os.path.exists(model), "the state file is byte-equal, no model written")
    with h5py.File(state, "r") as f:
        check(int(f.attrs["progress"][0]) >= 1, "the kept state is whole (h5py reads its progress)")
    check(not temporaries(), f"train left no temporary file: {temporaries()}")
    os.remove(FILLER)
    p = run_hipid(*args, "--save", model, timeout=300)
    check(p.returncode == 0 and "continuing from" in p.stdout,
          f"with room again the same command continues the run ({p.returncode}: {p.stderr[-300:]})")
    check(os.path.exists(model) and not os.path.exists(state), "the continued run writes the model, removes the state")
    os.remove(model)

    # sweep with its results on a nearly full disk
    res = os.path.join(MNT, "res")
    job = os.path.join(TMP, "job.ini")
    with open(job, "w") as f:
        f.write(f"[job]\nname = full\nseeds = 1\n[data]\npath = {data}\n[cv]\nscheme = kfold\nk = 3\nseed = 1\n"
                "[family f]\nmodel = c8,bn,r,mp2,gap\nepochs = 3\nbatch = 16\nlr = 1e-3\noptimizer = adam\n"
                f"[run]\noutput = {res}\nthreads = 1\n")
    leave_free(48 << 10)
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    sweep = ["mpirun", "--oversubscribe", "-np", "2", hipid(), "sweep", "--quiet", job]
    p = run(sweep, timeout=600, env=env)
    check(p.returncode != 0 and full_line(p.stderr, res),
          f"sweep on a full disk: nonzero exit, a line naming a file under {res} and the full disk "
          f"({p.returncode}: {p.stderr[-600:]!r})")
    os.remove(FILLER)
    p = run(sweep, timeout=600, env=env)
    check(p.returncode == 0, f"with room again the sweep's rerun exits 0: {p.stderr[-600:]}")
    require(os.path.exists(os.path.join(res, "sweep.h5")), "the rerun wrote sweep.h5")
    with h5py.File(os.path.join(res, "sweep.h5"), "r") as f:
        states = [s.decode() if isinstance(s, bytes) else str(s) for s in f["state"][()]]
    check(states == ["done"] * 3, f"sweep.h5 indexes the 3 trials, all done: {states}")
    trial_files = glob.glob(os.path.join(res, "trials", "*[0-9a-f].h5"))
    check(len(trial_files) == 3, f"the rerun holds the 3 trials' files ({len(trial_files)})")
    check(not temporaries(), f"the sweep left no temporary file: {temporaries()}")

    # report over an earlier report
    rep = os.path.join(MNT, "rep")
    p = run_hipid("report", res, "--out", rep, timeout=600)
    require(p.returncode == 0, f"report with room: {p.stderr[-400:]}")
    files = sorted(os.path.relpath(q, rep) for q in glob.glob(os.path.join(rep, "**", "*"), recursive=True)
                   if os.path.isfile(q))
    written = {q: sha(os.path.join(rep, q)) for q in files}  # what a whole new report file holds (the same results)
    for q in files:  # an earlier, smaller report: rewriting a file in place needs more room than it frees
        with open(os.path.join(rep, q), "wb") as f:
            f.write(b"earlier\n")
    before = {q: sha(os.path.join(rep, q)) for q in files}
    leave_free(4 << 10)
    p = run_hipid("report", res, "--out", rep, timeout=600)
    said = [ln for ln in p.stderr.splitlines() if ln.startswith("hipid ")]
    check(p.returncode == 1 and said and all("No space left on device" in ln and rep in ln for ln in said),
          f"report on a full disk: exit 1, each of its lines naming a file and the full disk ({p.returncode}: "
          f"{p.stderr!r})")
    now = {q: sha(os.path.join(rep, q)) for q in files}
    broken = [q for q in files if now[q] not in (before[q], written[q])]
    check(not broken, f"each of the {len(files)} files is the earlier one or a whole new one ({broken} are neither)")
    failed = [q for q in files if os.path.join(rep, q) in p.stderr]
    check(failed and all(now[q] == before[q] for q in failed),
          f"each file whose write failed ({failed}) is the earlier one, byte-equal")
    check(not temporaries(), f"report left no temporary file: {temporaries()}")
finally:
    subprocess.run(["umount", MNT])
done()
