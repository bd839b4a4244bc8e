"""test_bounds.py: sizes and counts a user can get wrong are refused in one
line, before anything is allocated or read without bound (issue #16).

Every refused case asserts the exit status, that stderr is exactly one line
(no backtrace, no abort), and a key part of the message; every run has a
20 s timeout, so a hang fails instead of blocking.

- model size: c99999 and c65536 (above the 65535-channel bound) on hipid
  train and in a job under sweep --dry-run (FILE:LINE: form); fl,fc1000000
  under an address-space limit of 4 GB, with the layer's bytes checked
  against a Python count of its parameters and the copies a trainer keeps
  (negative control: fl,fc1000 under the same limit trains / passes);
- threads: HIPID_THREADS and --threads of train, eval, predict and synth
  refuse 0, abc, -3, 99999999999 and 4 x cores + 1, naming the range;
  4 x cores passes (the bound is exact);
- job files: /dev/zero, a FIFO, a folder, a 20 MB file and a 100 KB line;
- lr = 1e308 (infinite as a float) and epochs = 2147483647 (the maximum named);
- an empty training part (a k-fold splits file with every image in fold 0, a
  hold-out one without training images) is named, not "--batch 0";
- a 20 KB spec is cut to 60 characters and its length in the message;
- repeated --augment / augment = keys and --steps steps;
- with the data set present, sweep --dry-run checks each family's model on
  its real image size: mp64 on 32 px is refused naming the family and the
  layer (negative control: the same job on 64 px passes).
"""
import os
import resource
import stat
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, require, run_hipid, tmp_dir  # noqa: E402

TMP = tmp_dir("bounds")
ENV = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
ENV.pop("HIPID_THREADS", None)
CORES = os.sysconf("SC_NPROCESSORS_ONLN")
AS_LIMIT = 4_000_000_000


def limit_as():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


SANITIZED = os.environ.get("SANITIZE") == "1"


def hp(*args, env=None, limit=False):
    """hipid with args, 20 s at most; (status, stderr) with status None on a timeout.
    limit: the memory budget is 4 GB, as an address-space limit (ulimit -v), or
    "env" as HIPID_MEM_LIMIT; ASan cannot start under an address-space limit, so
    the sanitizer build always gets HIPID_MEM_LIMIT."""
    if limit == "env" or (limit and SANITIZED):
        env = dict(env or ENV, HIPID_MEM_LIMIT=str(AS_LIMIT))
        limit = False
    try:
        p = subprocess.run(["timeout", "20", hipid()] + [str(a) for a in args], capture_output=True, text=True,
                           env=env or ENV, cwd=TMP, preexec_fn=limit_as if limit else None)
    except OSError as exc:
        return None, str(exc)
    return (None if p.returncode == 124 else p.returncode), p.stderr


def refused(what, args, status, *parts, env=None, limit=False, max_len=None):
    """A run that must fail with `status` and one stderr line holding every part."""
    rc, err = hp(*args, env=env, limit=limit)
    lines = err.strip("\n").split("\n") if err.strip() else []
    check(rc is not None, f"{what}: timed out (20 s)")
    check(rc == status, f"{what}: exit {rc}, expected {status}; stderr: {err[:400]}")
    check(len(lines) == 1, f"{what}: stderr has {len(lines)} lines, expected 1: {err[:600]}")
    for part in parts:
        check(part in err, f"{what}: message lacks '{part}': {err[:400]}")
    if max_len is not None:
        check(len(err) <= max_len, f"{what}: message of {len(err)} characters, expected at most {max_len}")
    return err


def passes(what, args, env=None, limit=False):
    rc, err = hp(*args, env=env, limit=limit)
    check(rc == 0, f"{what}: exit {rc}, expected 0; stderr: {err[:400]}")


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def job(name, data, model, extra=""):
    return write(name, f"[data]\npath = {data}\n[cv]\nk = 2\nval_fraction = 0\ngroups = no\n"
                       f"[family a]\nmodel = {model}\nbatch = 4\nepochs = 1\n{extra}")


def fmt_bytes(b):
    """common.c fmt_bytes: powers of 1000, one decimal."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    u = 0
    while b >= 999.95 and u < 6:
        b /= 1000.0
        u += 1
    return "%.0f B" % b if u == 0 else "%.1f %s" % (b, units[u])


# ---- data: 2 classes x 8 phantoms, prepared at 32 and at 64 px ----
rc, err = hp("synth", "--out", "tree", "--classes", "2", "--per-class", "8", "--size", "32", "--seed", "5")
require(rc == 0, "synth writes a small tree: " + err[-300:])
for size in (32, 64):
    rc, err = hp("prep", "tree", "--manifest", "tree/manifest.csv", "--size", size, "-o", f"d{size}.h5", "-q")
    require(rc == 0, f"prep at {size} px: " + err[-300:])

# ---- 1. model size ----
for spec in ("c99999", "c65536"):
    refused(f"train --model {spec}", ["train", "--data", "d32.h5", "--model", spec, "--epochs", "1", "--batch", "4"],
            2, f"spec token '{spec}'", "at most 65535 channels")
    path = job(f"{spec}.ini", "d32.h5", spec + ",r")
    refused(f"job model = {spec},r", ["sweep", path, "--dry-run"], 2, f"{path}:8: model:", f"'{spec}'",
            "at most 65535 channels")

# fl,fc1000000 on 32x32, SGD: the dense layer holds 1024e6 + 1e6 parameters,
# four copies (weights, gradients, momentum, best weights) of 4 bytes
want = fmt_bytes((1024 * 1000000 + 1000000) * 4 * 4)
for how, limit in (("ulimit -v", True), ("HIPID_MEM_LIMIT", "env")):
    refused(f"train fl,fc1000000 under a 4 GB limit ({how})",
            ["train", "--data", "d32.h5", "--model", "fl,fc1000000", "--optimizer", "sgd", "--epochs", "1", "--batch",
             "4"], 2, "--model: layer 2 'fc1000000'", f"{want} of parameters for batch 4 at 32x32", "available",
            limit=limit)
    passes(f"train fl,fc1000 under the same limit (negative control, {how})",
           ["train", "--data", "d32.h5", "--model", "fl,fc1000", "--epochs", "1", "--batch", "4"], limit=limit)
# in a job: checked on 64x64 at the job's batch, Adam (two moments) and best weights
path = job("fc.ini", "d32.h5", "fl,fc1000000")
want = fmt_bytes((4096 * 1000000 + 1000000) * 5 * 4)
refused("job fl,fc1000000 under a 4 GB limit", ["sweep", path, "--dry-run"], 2, f"{path}:8: model: layer 2 'fc1000000'",
        f"{want} of parameters for batch 4 at 64x64", "available", limit=True)
passes("job fl,fc1000 under the same limit", ["sweep", job("fc1000.ini", "d32.h5", "fl,fc1000"), "--dry-run"],
       limit=True)

# ---- 2. threads ----
top = 4 * CORES
ok_job = job("ok.ini", "d32.h5", "dnn-paper")
for bad in ("0", "abc", "-3", "99999999999", str(top + 1)):
    refused(f"HIPID_THREADS={bad}", ["sweep", ok_job, "--dry-run"], 2,
            f"HIPID_THREADS expects an integer in [1, {top}]", f"found '{bad}'", env=dict(ENV, HIPID_THREADS=bad))
    for cmd in ("train", "eval", "predict", "synth"):
        refused(f"{cmd} --threads {bad}", [cmd, "--threads", bad], 2,
                f"hipid {cmd}: --threads expects an integer in [1, {top}]", f"found '{bad}'")
passes(f"HIPID_THREADS={top}", ["sweep", ok_job, "--dry-run"], env=dict(ENV, HIPID_THREADS=str(top)))
passes(f"train --threads {top}", ["train", "--data", "d32.h5", "--model", "dnn-paper", "--epochs", "1", "--batch", "4",
                                  "--threads", str(top)])

# ---- 3. job files that are not small regular text files ----
fifo = os.path.join(TMP, "fifo.ini")
os.mkfifo(fifo)
os.mkdir(os.path.join(TMP, "folder.ini"))
with open(os.path.join(TMP, "big.ini"), "w") as f:
    f.write("; " + "a" * (20 * 1000 * 1000) + "\n")
write("longline.ini", "[data]\npath = d32.h5\n; " + "a" * 100000 + "\n[family a]\nmodel = dnn-paper\n")
for path, part in (("/dev/zero", "found a character device"), (fifo, "found a FIFO"),
                   ("folder.ini", "found a directory"), ("big.ini", "more than the 16777216 bytes"),
                   ("longline.ini", "longline.ini:3: line of 100002 bytes, longer than the 65536")):
    refused(f"job file {path}", ["sweep", path, "--dry-run"], 2, "job file", part)
check(stat.S_ISFIFO(os.stat(fifo).st_mode), "the FIFO is still a FIFO")

# ---- 4. small items ----
path = job("lr.ini", "d32.h5", "dnn-paper", "lr = 1e308\n")
refused("lr = 1e308", ["sweep", path, "--dry-run"], 2, f"{path}:11: lr:", "found '1e308'", "32-bit float")
passes("lr = 1e30 (the maximum)", ["sweep", job("lr30.ini", "d32.h5", "dnn-paper", "lr = 1e30\n"), "--dry-run"])
path = write("epochs.ini", "[data]\npath = d32.h5\n[family a]\nmodel = dnn-paper\nepochs = 2147483647\n")
refused("epochs = 2147483647", ["sweep", path, "--dry-run"], 2, f"{path}:5: epochs:", "the largest allowed is 1000000")

# an empty training part: splits files edited so that no image is left to train on
rc, err = hp("split", "--data", "d32.h5", "--scheme", "kfold", "--k", "2", "--ignore-groups", "-o", "k2.h5")
require(rc == 0, "split kfold: " + err[-300:])
rc, err = hp("split", "--data", "d32.h5", "--scheme", "holdout", "--ignore-groups", "-o", "ho.h5")
require(rc == 0, "split holdout: " + err[-300:])
with h5py.File(os.path.join(TMP, "k2.h5"), "r+") as f:
    f["fold_of"][...] = 0
with h5py.File(os.path.join(TMP, "ho.h5"), "r+") as f:
    part = f["part"][:]
    part[part == 0] = 1  # every training image to validation
    f["part"][...] = part
err = refused("k-fold split with everything in fold 0",
              ["train", "--data", "d32.h5", "--splits", "k2.h5", "--fold", "0", "--batch", "2", "--epochs", "1"], 1,
              "k2.h5: fold 0 of repeat 0 leaves no training images", "16 of the 16 images")
check("--batch 0" not in err, "no advice to use --batch 0: " + err)
refused("hold-out split without training images",
        ["train", "--data", "d32.h5", "--splits", "ho.h5", "--batch", "2", "--epochs", "1"], 1,
        "ho.h5: its hold-out training part is empty")

# a 20 KB spec: its first 60 characters and its length
spec = "c4," * 7000 + "r"
refused("a 20 KB spec", ["train", "--data", "d32.h5", "--model", spec], 2,
        "spec '" + spec[:60] + "...(%d characters)'" % len(spec), max_len=300)

# repeated keys and steps
refused("--augment rot=5,rot=6", ["train", "--data", "d32.h5", "--augment", "rot=5,rot=6"], 2, "'rot' given twice")
refused("--augment none,default", ["train", "--data", "d32.h5", "--augment", "none,default"], 2,
        "'default' given twice")
passes("--augment default,rot=10 (a key after default)",
       ["train", "--data", "d32.h5", "--model", "dnn-paper", "--augment", "default,rot=10", "--epochs", "1",
        "--batch", "4"])
path = job("aug.ini", "d32.h5", "dnn-paper", "augment = flip | rot=5,rot=6\n")
refused("augment = rot=5,rot=6", ["sweep", path, "--dry-run"], 2, f"{path}:11: augment:", "'rot' given twice")
refused("--steps otsu,otsu", ["prep", "tree", "--steps", "otsu,otsu", "-o", "x.h5"], 2, "step 'otsu' given twice")
check(not os.path.exists(os.path.join(TMP, "x.h5")), "prep with repeated steps wrote nothing")

# the data set's own image size: mp64 on 32 px in the dry run
path = job("mp.ini", "d32.h5", "c4,mp64")
refused("mp64 on 32 px", ["sweep", path, "--dry-run"], 1, "[family a]", "spec token 'mp64'", "32x32 images")
passes("mp64 on 64 px (negative control)", ["sweep", job("mp64.ini", "d64.h5", "c4,mp64"), "--dry-run"])

done()
