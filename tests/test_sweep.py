"""hipid sweep under MPI: determinism across group sizes, kill -9 and resume,
SIGUSR1 and resume, truncated trial files, failed trials and retries, the
dynamic schedule's busy time, and job errors that every rank agrees on.

Trial files are compared with h5py, bit for bit: every dataset and every
attribute except the wall-clock ones (seconds, history/seconds) and the
group size (ranks). Runs with /usr/bin/python3; needs mpirun (Open MPI)."""
import glob
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h5same import differences, read_all, same  # noqa: E402
import testlib  # noqa: E402
from testlib import check, done, hipid, run_hipid, tmp_dir  # noqa: E402

HIPID = hipid()
ROOT = tmp_dir("sweep")
DATA = os.path.join(ROOT, "data.h5")


def job(name, families, cv="scheme = kfold\nk = 3\nval_fraction = 0.2", run="", extra="", seeds="1"):
    path = os.path.join(ROOT, name + ".ini")
    out = os.path.join(ROOT, name)
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = {seeds}\n{extra}\n"
                f"[data]\npath = {DATA}\nsynth = classes=3,per_class=24,size=32,seed=3\n"
                f"[cv]\n{cv}\n{families}\n[run]\noutput = {out}\n{run}\n")
    return path, out


def mpirun(np_, args, timeout=600, **kw):
    return testlib.run(["mpirun", "--oversubscribe", "-np", str(np_), HIPID, "sweep"] + args, timeout=timeout, **kw)


def compare_dirs(ref, other, what):
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ref, "trials", "*.h5")))
    got = sorted(os.path.basename(p) for p in glob.glob(os.path.join(other, "trials", "*.h5")))
    check(files == got and len(files) > 0, f"{what}: the same {len(files)} trial files ({len(got)} found)")
    worst = []
    for name in files:
        if name not in got:
            continue
        diff = differences(os.path.join(ref, "trials", name), os.path.join(other, "trials", name))
        if diff:
            worst.append(f"{name}: {diff[:4]}")
    check(not worst, f"{what}: every dataset and attribute bit-identical" + ("" if not worst else f" ({worst[:2]})"))


FAMILIES = """
[family cnn]
model = c8,r,c8,r,bn,mp2,fl,fc16,r,do0.3
optimizer = adam
lr = 0.003
batch = 8
micro_batch = 2
epochs = 4
augment = default
mixup = 0.4
cutmix = 1
[family dnn]
model = fl,fc32,r,do0.5
optimizer = sgd
lr = 0.05
batch = 8
micro_batch = 2
epochs = 4
balance = loss
gradient_sum = fixed64
"""

# ---- determinism: ranks_per_trial 1, 2 and 4 --------------------------------
outs = {}
for r in (1, 2, 4):
    path, out = job(f"det{r}", FAMILIES, run=f"ranks_per_trial = {r}")
    p = mpirun(r, ["--quiet", path])
    check(p.returncode == 0, f"determinism: sweep with ranks_per_trial {r} on {r} rank(s) exits 0"
          + ("" if p.returncode == 0 else f": {p.stderr[-800:]}"))
    outs[r] = out
compare_dirs(outs[1], outs[2], "ranks_per_trial 1 vs 2")
compare_dirs(outs[1], outs[4], "ranks_per_trial 1 vs 4")
with h5py.File(glob.glob(os.path.join(outs[4], "trials", "cnn-*.h5"))[0]) as f:
    check(int(f.attrs["ranks"]) == 4, "ranks_per_trial 4: the trial was trained by 4 ranks")
    check(f.attrs["gradient_sum"] in (b"fixed32", "fixed32"), "cnn (default): 32-bit gradient sums")
    check(abs(float(f.attrs["mixup"]) - 0.4) < 1e-6 and float(f.attrs["cutmix"]) == 1.0,
          "cnn: its mixup and cutmix alphas recorded (the bit-identical trials above mixed every step)")
with h5py.File(glob.glob(os.path.join(outs[4], "trials", "dnn-*.h5"))[0]) as f:
    check(f.attrs["gradient_sum"] in (b"fixed64", "fixed64"), "dnn: gradient_sum = fixed64 recorded")
# the comparison can fail: another micro-batch size changes the weights
path, out = job("det_mb4", FAMILIES.replace("micro_batch = 2", "micro_batch = 4"), run="ranks_per_trial = 2")
mpirun(2, ["--quiet", path])
a = read_all(glob.glob(os.path.join(outs[1], "trials", "cnn-*.h5"))[0])
b = read_all(glob.glob(os.path.join(out, "trials", "cnn-*.h5"))[0])
check(not same(a["weights/last/00.conv/weight"], b["weights/last/00.conv/weight"]),
      "negative control: micro_batch 4 instead of 2 gives different weights")

# ---- trial file contents ------------------------------------------------------
tf = sorted(glob.glob(os.path.join(outs[2], "trials", "cnn-*.h5")))[0]
with h5py.File(tf) as f, h5py.File(DATA) as d:
    tr, va, te = (set(f["indices/" + k][()].tolist()) for k in ("train", "val", "test"))
    check(not (tr & va) and not (tr & te) and not (va & te), "trial file: train, val and test are disjoint")
    groups = d["groups"][()]
    gs = [set(groups[list(s)].tolist()) for s in (tr, va, te)]
    check(not (gs[0] & gs[1]) and not (gs[0] & gs[2]) and not (gs[1] & gs[2]),
          "trial file: no leakage group straddles train/val/test")
    p = f["predictions/test_prob"][()]
    check(np.allclose(p.sum(1), 1, atol=1e-5) and list(f["predictions/test_index"][()]) == list(f["indices/test"][()]),
          "trial file: test probabilities per test image, rows sum to 1")
    acc = float(np.mean(p.argmax(1) == d["labels"][()][f["predictions/test_index"][()]]))
    check(abs(acc - f.attrs["test_acc"]) < 1e-6, f"trial file: stored test_acc {f.attrs['test_acc']:.4f} = accuracy of stored probabilities {acc:.4f}")
    conf = f["metrics/confusion"][()]
    check(conf.sum() == len(te) and np.trace(conf) == round(acc * len(te)), "trial file: confusion matrix matches")
    check(len(f["history/train_loss"]) == 4 and "weights/best/00.conv/weight" in f and "weights/last/00.conv/weight" in f,
          "trial file: history of 4 epochs, best and last weights one dataset per tensor")
# the model rebuilds from the trial file alone
e = run_hipid("eval", "--checkpoint", tf, "--data", DATA)
check(e.returncode == 0 and "accuracy" in e.stdout, "hipid eval rebuilds the model from a trial file")

# ---- kill -9 mid-trial, then resume -------------------------------------------
# long enough that a signal sent when the first checkpoint appears lands mid-trial
LONG = FAMILIES.replace("epochs = 4", "epochs = 40")
ref_path, ref = job("ref", LONG, run="checkpoint_every = 1")
p = mpirun(2, ["--quiet", ref_path])
check(p.returncode == 0, "reference run exits 0")
with h5py.File(os.path.join(ref, "sweep.h5")) as f:
    states = [s.decode() if isinstance(s, bytes) else s for s in f["state"][()]]
check(states.count("done") == len(states), f"index: all {len(states)} trials done")
# busy time: 16 trials of equal cost on 2 ranks, so that the last trial's tail
# is small next to the sweep (with 6 trials of two costs it is not)
EVEN = """
[family even]
model = c8,r,c8,r,bn,mp2,fl,fc16,r,do0.3
lr = 0.003
batch = 8
epochs = 50
"""
busy_path, busy_out = job("busy", EVEN, cv="scheme = kfold\nk = 4\nval_fraction = 0.2",
                          run="checkpoint_every = 0", seeds="1, 2, 3, 4")
p = mpirun(2, ["--quiet", busy_path])
with h5py.File(os.path.join(busy_out, "sweep.h5")) as f:
    busy, el = f["rank_busy_seconds"][()], f["rank_elapsed_seconds"][()]
    n_busy = len(f["state"])
print(f"info busy fraction per rank: {np.round(busy / el, 3).tolist()} over {el.max():.1f} s, {n_busy} trials")
check(p.returncode == 0 and len(busy) == 2 and (busy / el).min() > 0.6,
      "dynamic schedule: both ranks (the master too) busy more than 60% of the sweep")


def alive_in_session(sid):
    """Processes of session sid that are not zombies."""
    n = 0
    for d in os.listdir("/proc"):
        try:
            stat = open(f"/proc/{d}/stat").read()
        except (OSError, ValueError):
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        n += int(fields[3]) == sid and fields[0] != "Z"
    return n


def run_until_checkpoint(path, sig, min_done=1):
    """Start a 2-rank sweep, wait for a mid-trial checkpoint, send sig to the job."""
    proc = subprocess.Popen(["mpirun", "-np", "2", HIPID, "sweep", "--quiet", path], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    out = path[:-4]
    t0 = time.time()
    while time.time() - t0 < 120 and proc.poll() is None:
        if glob.glob(os.path.join(out, "trials", "*.ckpt.h5")) and \
                len(glob.glob(os.path.join(out, "trials", "*[0-9a-f].h5"))) >= min_done:
            break
        time.sleep(0.02)
    if sig == signal.SIGKILL:
        # the whole job: Open MPI puts ranks in process groups of their own,
        # so kill by session (start_new_session made mpirun its leader)
        subprocess.run(["pkill", "-KILL", "-s", str(proc.pid)])
        proc.communicate()
        while alive_in_session(proc.pid):
            time.sleep(0.01)  # gone, all of them, before the rerun starts
        return proc.returncode, "", ""
    else:
        proc.send_signal(sig)
    o, e = proc.communicate(timeout=120)
    return proc.returncode, o, e


kill_path, kill_out = job("killed", LONG, run="checkpoint_every = 1")
rc, _, _ = run_until_checkpoint(kill_path, signal.SIGKILL, min_done=0)
n_ckpt = len(glob.glob(os.path.join(kill_out, "trials", "*.ckpt.h5")))
n_done = len(glob.glob(os.path.join(kill_out, "trials", "*[0-9a-f].h5")))
print(f"info killed with SIGKILL: {n_done} trial files, {n_ckpt} checkpoints left")
check(n_ckpt >= 1, "kill -9 left a mid-trial checkpoint to resume from")
p = mpirun(2, ["--quiet", kill_path])
check(p.returncode == 0, "rerun after kill -9 exits 0")
check(not glob.glob(os.path.join(kill_out, "trials", "*.ckpt.h5")), "no checkpoint is left after the rerun")
compare_dirs(ref, kill_out, "kill -9 + rerun vs uninterrupted")

# a truncated trial file is detected and redone
victim = sorted(glob.glob(os.path.join(kill_out, "trials", "dnn-*.h5")))[0]
with open(victim, "r+b") as f:
    f.truncate(os.path.getsize(victim) // 2)
p = mpirun(2, [kill_path])
check(p.returncode == 0 and "redoing" in p.stderr and "1 to run" in p.stdout,
      "a truncated trial file is reported and only that trial is redone")
compare_dirs(ref, kill_out, "truncated file redone vs uninterrupted")

# ---- SIGUSR1 (Slurm's preemption warning): checkpoint, exit 3, resume ----------
usr_path, usr_out = job("usr1", LONG, run="checkpoint_every = 1")
proc = subprocess.Popen(["mpirun", "-np", "2", HIPID, "sweep", usr_path], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, start_new_session=True)
t0 = time.time()
while time.time() - t0 < 120 and not glob.glob(os.path.join(usr_out, "trials", "*.ckpt.h5")):
    time.sleep(0.01)
proc.send_signal(signal.SIGUSR1)  # a trial is at its first epochs: mid-trial
o, e = proc.communicate(timeout=120)
check(proc.returncode == 3 and "interrupted" in o, f"SIGUSR1: every rank checkpoints and the job exits 3 (got {proc.returncode})")
n_ckpt = len(glob.glob(os.path.join(usr_out, "trials", "*.ckpt.h5")))
check(n_ckpt >= 1, f"SIGUSR1: {n_ckpt} checkpoint(s) left to resume from")
p = mpirun(2, ["--quiet", usr_path])
check(p.returncode == 0, "rerun after SIGUSR1 exits 0")
compare_dirs(ref, usr_out, "SIGUSR1 + rerun vs uninterrupted")

# ---- a rank that dies takes the job down (no hang); the rerun resumes ----------
die_path, die_out = job("die", LONG)
proc = subprocess.Popen(["mpirun", "-np", "2", HIPID, "sweep", "--quiet", die_path], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, start_new_session=True)
t0 = time.time()
while time.time() - t0 < 120 and not glob.glob(os.path.join(die_out, "trials", "*.ckpt.h5")):
    time.sleep(0.02)
ranks = subprocess.run(["pgrep", "-f", f"{HIPID} sweep --quiet {die_path}", "-s", str(proc.pid)],
                       capture_output=True, text=True).stdout.split()
victims = [r for r in ranks if int(r) != proc.pid]
if victims:
    os.kill(int(victims[-1]), signal.SIGKILL)
try:
    proc.communicate(timeout=60)
    ended = True
except subprocess.TimeoutExpired:
    subprocess.run(["pkill", "-KILL", "-s", str(proc.pid)])
    proc.communicate()
    ended = False
check(len(victims) == 2 and ended and proc.returncode != 0,
      f"one rank killed: the job ends (exit {proc.returncode}) within 60 s instead of hanging")
p = mpirun(2, ["--quiet", die_path])
check(p.returncode == 0, "rerun after a rank died completes")
compare_dirs(ref, die_out, "rank killed + rerun vs uninterrupted")

# ---- the index is rebuilt from the trial files ---------------------------------
idx = os.path.join(die_out, "sweep.h5")
before = {k: v for k, v in read_all(idx).items() if "busy" not in k and "elapsed" not in k}
os.remove(idx)
p = mpirun(1, ["--reindex", die_path])
after = read_all(idx)
check(p.returncode == 0 and all(k in after and same(before[k], after[k]) for k in before if not k.startswith("@")),
      "hipid sweep --reindex rebuilds sweep.h5 from the trial files alone")

# ---- failed trials: recorded, the sweep goes on, retried up to the limit --------
bad_fam = FAMILIES.replace("lr = 0.05", "lr = 1e30")
fail_path, fail_out = job("fail", bad_fam, run="retries = 1")
p = mpirun(2, ["--quiet", fail_path])
check(p.returncode == 0, "a sweep with diverging trials still exits 0")
with h5py.File(os.path.join(fail_out, "sweep.h5")) as f:
    fam = [s.decode() for s in f["family"][()]]
    st = [s.decode() for s in f["state"][()]]
    reason = [s.decode() for s in f["reason"][()]]
check(all(s == "failed" for s, fa in zip(st, fam) if fa == "dnn") and all(s == "done" for s, fa in zip(st, fam) if fa == "cnn"),
      "diverging dnn trials are recorded failed, cnn trials done")
check(any("diverged" in r for r in reason), "the failure reason is recorded in the index")
p = mpirun(2, [fail_path])
check("3 to run" in p.stdout, "rerun retries the 3 failed trials")
p = mpirun(2, [fail_path])
check("0 to run" in p.stdout, "after retries = 1 they are not retried again")
with h5py.File(glob.glob(os.path.join(fail_out, "trials", "dnn-*.h5"))[0]) as f:
    check(int(f.attrs["attempts"]) == 2, "the trial file counts 2 attempts")

# ---- job errors: every rank leaves together with one line ----------------------
bad_path = os.path.join(ROOT, "bad.ini")
with open(bad_path, "w") as f:
    f.write(open(ref_path).read().replace("[run]\n", "[run]\nthreds = 2\n"))
t0 = time.time()
p = mpirun(2, [bad_path], timeout=60)
lines = [l for l in p.stderr.splitlines() if "hipid" in l]
check(p.returncode == 2 and len(lines) == 1 and f"{bad_path}:" in lines[0] and "threds" in lines[0],
      f"unknown key: exit 2 and one line naming file:line and key ({lines[:1]}) in {time.time() - t0:.1f} s")
# the same folder with another CV design is refused
other_path, _ = job("ref", LONG, cv="scheme = kfold\nk = 4\nval_fraction = 0.2")
p = mpirun(2, [other_path], timeout=60)
check(p.returncode != 0 and "another study" in p.stderr, "a changed CV design in the same results folder is refused")

# ---- [data] source: a missing data set is prepared from images ---------------
tree = os.path.join(ROOT, "src-tree")
r = run_hipid("synth", "--out", tree, "--classes", "2", "--per-class", "16", "--size", "40", "--seed", "5")
check(r.returncode == 0, "synth writes a small tree")
src_data = os.path.join(ROOT, "from-source.h5")
src_path = os.path.join(ROOT, "source.ini")
with open(src_path, "w") as f:
    f.write(f"[job]\nname = source\n[data]\npath = {src_data}\nsource = {tree}/manifest.csv\nsize = 24\n"
            f"[cv]\nscheme = kfold\nk = 2\n[family dnn]\nmodel = fl,fc8\nepochs = 1\nbatch = 4\n"
            f"[run]\noutput = {os.path.join(ROOT, 'source')}\n")
p = mpirun(1, [src_path])
check(p.returncode == 0 and "building it from [data] source" in p.stdout,
      f"a sweep with [data] source and no data set builds it and runs ({p.returncode}: {p.stderr[-300:]})")
if os.path.exists(src_data):
    with h5py.File(src_data) as f:
        pids = [x.decode() for x in f["patient_ids"][()]]
        check(f["images"].shape[1:] == (24, 24) and len(pids) >= 10 and all(pids),
              f"the data set is prepared at size 24 with the manifest's patient ids ({f['images'].shape}, {pids[:3]})")
# [data] steps: the same path asked for with other steps is refused, naming it; a new path is built with them
crop_job = os.path.join(ROOT, "source-crop.ini")
crop_data = os.path.join(ROOT, "from-source-crop.h5")
for path in (src_data, crop_data):
    with open(crop_job, "w") as f:
        f.write(f"[job]\nname = source-crop\n[data]\npath = {path}\nsource = {tree}/manifest.csv\nsize = 24\n"
                f"steps = background, otsu, largest, invert, crop\n[cv]\nscheme = kfold\nk = 2\n"
                f"[family dnn]\nmodel = fl,fc8\nepochs = 1\nbatch = 4\n[run]\noutput = {os.path.join(ROOT, 'source-crop')}\n")
    p = mpirun(1, [crop_job])
    if path == src_data:
        err = [l for l in p.stderr.splitlines() if "prepared with steps" in l]
        check(p.returncode != 0 and len(err) == 1 and src_data in err[0]
              and "background,otsu,largest,invert,crop" in err[0],
              f"[data] steps other than the existing data set's: refused, naming it ({p.returncode}: {p.stderr[-300:]})")
    else:
        check(p.returncode == 0 and os.path.exists(crop_data), f"[data] steps with a new path builds and runs "
              f"({p.returncode}: {p.stderr[-300:]})")
if os.path.exists(crop_data):
    with h5py.File(crop_data) as f:
        pre_s = f.attrs["preprocessing"]
        pre_s = pre_s.decode() if isinstance(pre_s, bytes) else pre_s
        check(",invert,crop(mask-bbox,square,margin=0.04)," in pre_s, f"prepared with the crop step ({pre_s})")

# ---- fine-tuning: [family] init, freeze, head_lr ------------------------------
# pretrain with hipid train on the sweep's own data (a stand-in for phantoms),
# then a sweep starting from it with the first three layers frozen
pre = os.path.join(ROOT, "pre.h5")
FT_MODEL = "c8,bn,r,mp2,fl,fc16"
r = run_hipid("train", "--data", DATA, "--model", FT_MODEL, "--epochs", "2", "--batch", "8", "--threads", "1",
              "--save", pre)
check(r.returncode == 0, f"hipid train --save writes the pretrained checkpoint ({r.stderr[-200:]})")
ft_path, ft_out = job("finetune", f"[family ft]\nmodel = {FT_MODEL}\nbatch = 8\nepochs = 2\ninit = {pre}\n"
                      "freeze = 3\nhead_lr = 0.01\n")
p = mpirun(1, ["--quiet", ft_path])
check(p.returncode == 0, f"a sweep with init/freeze/head_lr runs ({p.stderr[-300:]})")
ft_files = [f for f in glob.glob(os.path.join(ft_out, "trials", "*.h5")) if not f.endswith(".ckpt.h5")]
check(len(ft_files) == 3, f"fine-tuning: 3 trial files ({len(ft_files)})")
if ft_files and os.path.exists(pre):
    with h5py.File(ft_files[0]) as f, h5py.File(pre) as g:
        check(f.attrs["init"] in (pre, pre.encode()) and int(f.attrs["freeze"]) == 3
              and abs(float(f.attrs["head_lr"]) - 0.01) < 1e-9, "fine-tuning: init, freeze, head_lr recorded")
        t = g["tensors"]
        for name, ours in (("00.conv.weight", "00.conv/weight"), ("01.batchnorm.running_mean", "01.batchnorm/running_mean")):
            w = f["weights/last/" + ours][()] if "weights/last/" + ours in f else None
            check(w is not None and np.array_equal(w, t[name][()]),
                  f"fine-tuning: frozen {name} is the checkpoint's after training")
        moved = f["weights/last/05.dense/weight"][()] if "weights/last/05.dense/weight" in f else None
        check(moved is not None and not np.array_equal(moved, t["05.dense.weight"][()]),
              "fine-tuning: the layer after the frozen ones trained")
r = run_hipid("report", ft_out)
rep_md = os.path.join(ft_out, "report", "report.md")
text = open(rep_md).read() if os.path.exists(rep_md) else ""
check(r.returncode == 0 and f"init={pre}" in text and "freeze=3" in text and "head_lr=0.01" in text,
      "fine-tuning: the report's configuration names init, freeze and head_lr")
# the checkpoint's SHA-256 is in the trial keys: run again, every trial is
# reused; rewritten in place with other weights, every trial runs again
if os.path.exists(pre):
    p = mpirun(1, [ft_path])
    check(p.returncode == 0 and "(3 done, 0 failed before)" in p.stdout,
          f"fine-tuning: a rerun with the same checkpoint reuses its 3 trials ({p.stdout[:160]!r})")
    with h5py.File(pre, "r+") as g:
        g["tensors/00.conv.weight"][0, 0, 0, 0] += 0.5
    p = mpirun(1, [ft_path])
    check(p.returncode == 0 and "(0 done, 0 failed before)" in p.stdout,
          f"fine-tuning: a checkpoint rewritten in place is not mistaken for the old one ({p.stdout[:160]!r})")
bad_ft, _ = job("finetune_bad", f"[family ft]\nmodel = {FT_MODEL}\ninit = {ROOT}/missing.h5\n")
p = mpirun(1, [bad_ft], timeout=60)
check(p.returncode == 2 and "init: expected a readable checkpoint" in p.stderr,
      f"a missing init file is a job-file error naming the key ({p.stderr.strip()[-200:]})")

done()
