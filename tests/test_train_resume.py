"""`hipid train --save` survives a stop (a long pretraining on a Slurm
partition with a time limit, a kill -9), checked with h5py:

- an uninterrupted run leaves the model and no state file;
- stopped by SIGTERM (Slurm's warning before the limit) it exits 3, says
  where the run is, writes no model and a state file whose progress matches
  the epoch lines it printed; stopped again and again (at least once within
  an epoch) and continued each time, it ends with the tensors and
  standardisation of the uninterrupted run bit for bit;
- killed with SIGKILL after its state file appeared, the same command
  continues it, also to the same tensors, and removes the temporary state
  file a kill in the middle of a save leaves (one of a dead pid);
- --checkpoint-every 0 writes no state file while it trains, yet SIGUSR1
  still saves the run;
- a state file of other options (another learning rate) or of another
  --init checkpoint is refused with one line naming it, and its bytes stay
  as they were; a truncated one likewise; --checkpoint-every without
  --save is a usage error.
Run by tests/run.sh with Debian's /usr/bin/python3; needs HIPID, TEST_TMP."""
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, require, run_hipid, tmp_dir  # noqa: E402

TMP = tmp_dir("resume")
DATA = os.path.join(TMP, "d.h5")
p = run_hipid("synth", "--out", os.path.join(TMP, "ph"), "--per-class", 30, "--size", 64, "--seed", 3, timeout=300)
require(p.returncode == 0, "synth: " + p.stderr[-400:])
p = run_hipid("prep", os.path.join(TMP, "ph", "manifest.csv"), "-o", DATA, "--size", 32, "-q", "--dup-threshold", -1,
              timeout=300)
require(p.returncode == 0, "prep: " + p.stderr[-400:])

EPOCHS = 40
ARGS = ["train", "--data", DATA, "--model", "c8,bn,r,mp2,res16s2,gap", "--epochs", EPOCHS, "--batch", 16, "--lr", "2e-3",
        "--optimizer", "adamw", "--schedule", "cosine", "--warmup", 2, "--augment", "default", "--threads", 1]


def out(name):
    return os.path.join(TMP, name + ".h5"), os.path.join(TMP, name + ".state.h5")


def model(path):
    """Every tensor of a hipid model file, and its standardisation attributes."""
    with h5py.File(path, "r") as f:
        t = {}
        f["tensors"].visititems(lambda n, d: t.__setitem__(n, d[()]) if isinstance(d, h5py.Dataset) else None)
        return t, (float(f.attrs["input_mean"]), float(f.attrs["input_std"]))


def same_model(a, b):
    (ta, sa), (tb, sb) = model(a), model(b)
    return len(ta) > 0 and ta.keys() == tb.keys() and all(np.array_equal(ta[k], tb[k]) for k in ta) and sa == sb


def progress(state):
    with h5py.File(state, "r") as f:
        g = f.attrs["progress"]
        return int(g[0]), int(g[1])  # epochs done, training images of the next one done


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def start(name, *extra):
    log = open(os.path.join(TMP, name + ".log"), "a")
    proc = subprocess.Popen([hipid()] + [str(a) for a in ARGS + list(extra)] + ["--save", out(name)[0]],
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, log.name


def epoch_lines(log):
    with open(log) as f:
        return [ln for ln in f if ln.startswith("epoch ")]


def wait_for(cond, proc, what):
    t0 = time.time()
    while not cond():
        if proc.poll() is not None or time.time() - t0 > 300:
            require(False, f"no {what}: the run " + ("ended (exit %d)" % proc.returncode if proc.returncode is not None
                                                      else "took 300 s"))
        time.sleep(0.005)


# the reference: uninterrupted
ref, ref_state = out("ref")
p = run_hipid(*ARGS, "--save", ref, timeout=600)
require(p.returncode == 0, "uninterrupted run: " + p.stderr[-400:])
check(os.path.exists(ref) and not os.path.exists(ref_state), "an uninterrupted run leaves the model, no state file")

# SIGTERM, continued, until a stop within an epoch has been seen (and at least two stops)
path, state = out("term")
stops, within, n_lines = 0, 0, 0
while stops < 8:
    proc, log = start("term")
    wait_for(lambda: len(epoch_lines(log)) >= n_lines + 1, proc, "an epoch line")
    t1 = time.time()
    wait_for(lambda: len(epoch_lines(log)) >= n_lines + 2, proc, "two more epoch lines")
    time.sleep((time.time() - t1) * 0.5)  # into the next epoch's steps (a state file follows each line)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=300)
    if rc == 0:
        break  # finished before the signal landed
    stops += 1
    check(rc == 3, f"stop {stops}: SIGTERM exits 3, not {rc}")
    with open(log) as f:
        text = f.read()
    check(f"the run so far is in {state}" in text, f"stop {stops}: the output names the state file")
    check(not os.path.exists(path), f"stop {stops}: no model file before the run is done")
    require(os.path.exists(state), f"stop {stops}: SIGTERM leaves a state file")
    ep, pos = progress(state)
    n_lines = len(epoch_lines(log))
    check(ep == n_lines, f"stop {stops}: the state's {ep} epochs are the {n_lines} epoch lines printed")
    within += pos > 0
    if stops >= 2 and within:
        break
print(f"info {stops} SIGTERM stops, {within} within an epoch")
check(stops >= 2 and within >= 1, f"the runs were stopped twice, once within an epoch ({stops} stops, {within} within)")
p = run_hipid(*ARGS, "--save", path, timeout=600)
check(p.returncode == 0, "the continued run exits 0: " + p.stderr[-400:])
check(f"continuing from {state}: epoch" in p.stdout, "the continued run says where it starts")
check(len([ln for ln in p.stdout.splitlines() if ln.startswith("epoch ")]) == EPOCHS - n_lines,
      "the continued run trains only the remaining epochs")
check(same_model(path, ref), "stopped and continued, the model equals the uninterrupted run's bit for bit")
check(not os.path.exists(state), "the finished run removes its state file")

# SIGKILL once the state file exists
path, state = out("kill")
proc, log = start("kill")
wait_for(lambda: os.path.exists(state) and progress(state)[0] >= 2, proc, "a state file of 2 epochs")
proc.kill()
proc.wait()
# what a kill in the middle of a save leaves: its temporary file, named by fsafe_tmp_name for a dead pid
dead = subprocess.Popen(["true"])
dead.wait()
leftover = f"{state}.tmp.{socket.gethostname()}.{dead.pid}"
open(leftover, "wb").close()
p = run_hipid(*ARGS, "--save", path, timeout=600)
check(not os.path.exists(leftover), "the continuing run removes the killed run's temporary state file")
check(p.returncode == 0, "the run after kill -9 exits 0: " + p.stderr[-400:])
check("continuing from" in p.stdout, "the run after kill -9 continues the killed one")
check(same_model(path, ref), "killed and continued, the model equals the uninterrupted run's bit for bit")

# --checkpoint-every 0: no state while training, one on SIGUSR1
path, state = out("usr1")
proc, log = start("usr1", "--checkpoint-every", 0)
wait_for(lambda: len(epoch_lines(log)) >= 3, proc, "three epoch lines")
check(not os.path.exists(state), "--checkpoint-every 0 writes no state file while training")
proc.send_signal(signal.SIGUSR1)
check(proc.wait(timeout=300) == 3, "SIGUSR1 exits 3")
check(os.path.exists(state), "SIGUSR1 saves the run even with --checkpoint-every 0")
before = sha(state)

# refused: other options, another --init, a truncated file
args_lr = [a if a != "2e-3" else "1e-3" for a in ARGS]
p = run_hipid(*args_lr, "--save", path, timeout=300)
lines = p.stderr.strip().splitlines()
check(p.returncode == 1 and len(lines) == 1 and state in lines[0] and "another training configuration" in lines[0],
      f"a state file of another learning rate is refused in one line naming it: {p.returncode} {p.stderr!r}")
check(sha(state) == before, "the refused state file is left as it was")
p = run_hipid(*ARGS, "--init", ref, "--save", path, timeout=300)
check(p.returncode == 1 and "another training configuration" in p.stderr and state in p.stderr,
      f"a state file of a run without --init is refused with --init: {p.returncode} {p.stderr!r}")
check(sha(state) == before, "the refused state file is left as it was (--init)")
with open(state, "rb") as f:
    head = f.read(os.path.getsize(state) // 2)
with open(state, "wb") as f:
    f.write(head)
p = run_hipid(*ARGS, "--save", path, timeout=300)
lines = p.stderr.strip().splitlines()
check(p.returncode == 1 and len(lines) == 1 and state in lines[0],
      f"a truncated state file is refused in one line naming it: {p.returncode} {p.stderr!r}")
check(not os.path.exists(path), "no model is written from a refused state file")

p = run_hipid(*ARGS, "--checkpoint-every", 2, timeout=60)
check(p.returncode == 2 and "--checkpoint-every needs --save" in p.stderr,
      f"--checkpoint-every without --save is a usage error: {p.returncode} {p.stderr!r}")
done()
