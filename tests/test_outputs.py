"""Outputs that must not be written, inputs that must not be waited on
(issue #16), checked with os.stat and file bytes:

- a character device (mknod c 1 3, as root; skipped with a note if mknod is
  not permitted), a FIFO and a directory given as the output of split -o,
  prep -o, train --save, synth --out and export --onnx: refused with one
  line, the node still what it was;
- an output that is one of the command's inputs (the same path, or a hard
  link): refused, the input byte-equal afterwards (prep list.csv -o list.csv);
- a FIFO given where a file is read (sweep's [data] path under --dry-run,
  sweep.h5 and a trial file under report and sweep, split --data, train
  --splits / --init): one line within `timeout 20`, never a hang.

Run with /usr/bin/python3."""
import glob
import os
import shutil
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, require, run, tmp_dir  # noqa: E402

HIPID = hipid()
ROOT = tmp_dir("outputs")
ENV = dict(os.environ, OMP_NUM_THREADS="1", HIPID_THREADS="1")


def p(*parts):
    return os.path.join(ROOT, *parts)


def hip(*args):
    """hipid under `timeout 20`: a hang is exit 124."""
    return run(["timeout", "20", HIPID] + [str(a) for a in args], env=ENV, errors="replace")


def one_line(r):
    return len(r.stderr.strip().splitlines()) == 1


def kind(path):
    st = os.lstat(path)
    return stat.S_IFMT(st.st_mode), (os.major(st.st_rdev), os.minor(st.st_rdev)) if stat.S_ISCHR(st.st_mode) else None


# ---- inputs: a data set, a trial file, a splits file ---------------------------
r = hip("synth", "--out", p("imgs"), "--per-class", 12, "--classes", 2, "--size", 32)
require(r.returncode == 0, f"synth: {r.stderr}")
r = hip("prep", p("imgs"), "-o", p("data.h5"), "--size", 32, "--dup-threshold", -1, "-q")
require(r.returncode == 0, f"prep: {r.stderr}")
r = hip("split", "--data", p("data.h5"), "--k", 3, "-o", p("splits.h5"))
require(r.returncode == 0, f"split: {r.stderr}")
with open(p("job.ini"), "w") as f:
    f.write(f"[job]\nname = j\nseeds = 1\n[data]\npath = {p('data.h5')}\n"
            "[cv]\nscheme = kfold\nk = 3\nval_fraction = 0.2\n"
            "[family dnn]\nmodel = fl,fc16,r\noptimizer = sgd\nlr = 0.05\nbatch = 4\nepochs = 1\n"
            f"[run]\noutput = {p('res')}\n")
r = hip("sweep", "--quiet", "--no-status", p("job.ini"))
require(r.returncode == 0, f"sweep: {r.stderr}")
TRIAL = sorted(glob.glob(p("res", "trials", "*.h5")))[0]

IMAGE = sorted(glob.glob(p("imgs", "*", "*.png")))[0]
TRAIN = ["train", "--data", p("data.h5"), "--epochs", 1, "--batch", 4, "--model", "fl,fc8"]


def writers(out):
    """(name, args) of every command writing out."""
    return [("split -o", ["split", "--data", p("data.h5"), "--k", 3, "-o", out]),
            ("prep -o", ["prep", p("imgs"), "-o", out, "--size", 32, "--dup-threshold", -1, "-q"]),
            ("train --save", TRAIN + ["--save", out]),
            ("synth --out", ["synth", "--out", out, "--per-class", 2, "--classes", 2, "--size", 16]),
            ("export --onnx", ["export", "--onnx", out, "--model", TRIAL])]


# ---- a device, a FIFO, a directory as the output --------------------------------
nodes = {}
try:
    os.mknod(p("dev"), stat.S_IFCHR | 0o666, os.makedev(1, 3))
    nodes["a character device"] = p("dev")
except (PermissionError, OSError) as ex:
    print(f"skip: mknod of a character device is not permitted here ({ex}); FIFO and directory checked", flush=True)
os.mkfifo(p("fifo"))
nodes["a FIFO"] = p("fifo")
os.mkdir(p("dir"))
nodes["a directory"] = p("dir")
for what, node in nodes.items():
    before = kind(node)
    for name, args in writers(node):
        if name == "synth --out" and what == "a directory":
            continue  # synth's output is a folder
        r = hip(*args)
        check(r.returncode not in (0, 124) and one_line(r),
              f"{name} {what}: refused in one line (exit {r.returncode}: {r.stderr.strip()[:300]})")
        check(kind(node) == before, f"{name} {what}: still {what} afterwards ({kind(node)})")
    check(not os.path.exists(node + ".lock"), f"{what}: no lock file made beside it")
check(os.listdir(p("dir")) == [], "the directory given as an output is untouched")

# ---- an input as the output ------------------------------------------------------
shutil.copy(os.path.join(p("imgs"), "manifest.csv"), p("imgs", "list.csv"))
with open(p("imgs", "list.csv"), "rb") as f:
    manifest = f.read()
r = hip("prep", p("imgs", "list.csv"), "-o", p("imgs", "list.csv"), "--size", 32, "-q")
check(r.returncode == 1 and one_line(r) and "input" in r.stderr,
      f"prep list.csv -o list.csv refused ({r.returncode}: {r.stderr.strip()[:300]})")
with open(p("imgs", "list.csv"), "rb") as f:
    check(f.read() == manifest, "the manifest is intact, byte for byte")
os.link(p("data.h5"), p("data-link.h5"))
os.link(TRIAL, p("trial-link.h5"))
with open(p("data.h5"), "rb") as f:
    data_bytes = f.read()
with open(TRIAL, "rb") as f:
    trial_bytes = f.read()
for name, args in [("split -o (hard link of --data)", ["split", "--data", p("data.h5"), "--k", 3, "-o", p("data-link.h5")]),
                   ("prep -o (the same path as SRC)", ["prep", p("data.h5"), "-o", p("data.h5"), "-q"]),
                   ("train --save (hard link of --data)", TRAIN + ["--save", p("data-link.h5")]),
                   ("train --save (the --splits file)", TRAIN + ["--splits", p("splits.h5"), "--save", p("splits.h5")]),
                   ("export --onnx (hard link of the trial)", ["export", "--onnx", p("trial-link.h5"), "--model", TRIAL])]:
    r = hip(*args)
    check(r.returncode == 1 and one_line(r) and "input" in r.stderr,
          f"{name}: refused as an input ({r.returncode}: {r.stderr.strip()[:300]})")
with open(p("data.h5"), "rb") as f:
    check(f.read() == data_bytes, "the data set is intact after the refusals")
with open(TRIAL, "rb") as f:
    check(f.read() == trial_bytes, "the trial file is intact after the refusals")
# predict's saliency PNG over the image it explains (or the model) is refused
with open(IMAGE, "rb") as f:
    image_bytes = f.read()
for name, out in [("predict --saliency over its IMAGE", IMAGE), ("predict --saliency over its model", TRIAL)]:
    r = hip("predict", "--model", TRIAL, "--saliency", out, IMAGE)
    check(r.returncode == 1 and "input" in r.stderr and r.stdout.strip(),
          f"{name}: classified, the PNG refused as an input ({r.returncode}: {r.stderr.strip()[:300]})")
with open(IMAGE, "rb") as f:
    check(f.read() == image_bytes, "the image is intact after predict's refusal")
# negative control: an ordinary new output is written
r = hip("split", "--data", p("data.h5"), "--k", 3, "-o", p("splits2.h5"))
check(r.returncode == 0 and stat.S_ISREG(os.stat(p("splits2.h5")).st_mode), f"an ordinary output is written: {r.stderr}")

# ---- FIFOs as inputs ---------------------------------------------------------------
with open(p("fifo.ini"), "w") as f:
    f.write(open(p("job.ini")).read().replace(p("data.h5"), p("fifo")).replace(p("res"), p("res-fifo")))
for name, args in [("sweep --dry-run with [data] path a FIFO", ["sweep", "--dry-run", p("fifo.ini")]),
                   ("sweep with [data] path a FIFO", ["sweep", "--quiet", p("fifo.ini")]),
                   ("split --data FIFO", ["split", "--data", p("fifo"), "--k", 3, "-o", p("x.h5")]),
                   ("train --data FIFO", ["train", "--data", p("fifo"), "--epochs", 1]),
                   ("train --splits FIFO", TRAIN + ["--splits", p("fifo")]),
                   ("train --init FIFO", TRAIN + ["--init", p("fifo")]),
                   ("export --model FIFO", ["export", "--onnx", p("x.onnx"), "--model", p("fifo")]),
                   ("predict --model FIFO", ["predict", "--model", p("fifo"), IMAGE])]:
    r = hip(*args)
    check(r.returncode not in (0, 124) and one_line(r) and "FIFO" in r.stderr,
          f"{name}: one line naming the FIFO, no hang ({r.returncode}: {r.stderr.strip()[:300]})")

# sweep.h5 a FIFO: report goes on without it (one line), sweep refuses
shutil.copytree(p("res"), p("res-a"))
os.remove(p("res-a", "sweep.h5"))
os.mkfifo(p("res-a", "sweep.h5"))
r = hip("report", p("res-a"), "--out", p("rep-a"), "--no-plots")
check(r.returncode != 124 and one_line(r) and "FIFO" in r.stderr,
      f"report with sweep.h5 a FIFO: one line, no hang ({r.returncode}: {r.stderr.strip()[:300]})")
with open(p("res-a.ini"), "w") as f:
    f.write(open(p("job.ini")).read().replace(p("res"), p("res-a")))
r = hip("sweep", "--quiet", p("res-a.ini"))
check(r.returncode == 1 and one_line(r) and "FIFO" in r.stderr,
      f"sweep with sweep.h5 a FIFO: refused in one line ({r.returncode}: {r.stderr.strip()[:300]})")
check(stat.S_ISFIFO(os.lstat(p("res-a", "sweep.h5")).st_mode), "sweep.h5 is still the FIFO")
# a trial file a FIFO: report skips it in one line
shutil.copytree(p("res"), p("res-b"))
victim = sorted(glob.glob(p("res-b", "trials", "*.h5")))[0]
os.remove(victim)
os.mkfifo(victim)
r = hip("report", p("res-b"), "--out", p("rep-b"), "--no-plots")
check(r.returncode != 124 and "FIFO" in r.stderr and len([ln for ln in r.stderr.splitlines() if "FIFO" in ln]) == 1,
      f"report with a trial file a FIFO: one line about it, no hang ({r.returncode}: {r.stderr.strip()[:300]})")

done()
