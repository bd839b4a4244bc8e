"""The pretraining job (scripts/pretrain-shoulder.sh, `make pretrain-shoulder`)
end to end on a small set, checked with h5py:

- it writes shoulder phantoms of the asked classes, a 64 px data set of them
  and a hipid-model checkpoint of the job's network for those classes;
- run again, every step is skipped and the checkpoint's bytes stay as they are;
- fine-tuning on real shoulder films from that checkpoint with every layer but
  the classifier frozen (`hipid train --init --freeze 7`) keeps those layers'
  tensors bit for bit and gives the classifier the real set's 4 classes;
- without --freeze the same fine-tuning moves the pretrained convolutions (so
  the equality above can fail);
- jobs/shoulder.ini, pointed at that checkpoint and data set, is a valid job
  (--dry-run: 120 trials, cnn, dnn, res and pre), and without the checkpoint it
  is refused with one line naming the init key;
- PRETRAIN_SIZE picks the size: 32 from the same 128 px phantoms, 160 from
  phantoms drawn at 256 px, 100 refused;
- jobs/shoulder128.ini is jobs/shoulder.ini's pre family on 128 px films from
  the 128 px checkpoint, and a valid job of 30 trials; jobs/shoulder128-ensemble.ini
  a valid job of 60 trials in six families, crop and grey on their own data sets.
Run by tests/run.sh with Debian's /usr/bin/python3; needs HIPID, TEST_TMP."""
import hashlib
import os
import re
import subprocess
import sys

import h5py
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, prep_shoulder_subset, project_root, require, run_hipid, tmp_dir  # noqa: E402

TMP = tmp_dir("pretrain")
OUT = os.path.join(TMP, "pre")
MODEL = "c32k5s2,bn,r,mp2,res32,res64s2,res128s2,gap"
CKPT = os.path.join(OUT, "shoulder-res64.h5")


def run_job(rc=0, **extra):
    env = dict(os.environ, PRETRAIN_DIR=OUT, PRETRAIN_CLASSES="5", PRETRAIN_PER_CLASS="24", PRETRAIN_EPOCHS="2", **extra)
    p = subprocess.run([os.path.join(project_root(), "scripts", "pretrain-shoulder.sh"), hipid()], env=env,
                       capture_output=True, text=True, timeout=600, cwd=project_root())
    require(p.returncode == rc, f"pretrain-shoulder.sh {extra} exits {rc}, not {p.returncode}: {p.stderr[-800:]}")
    return p


def tensors(path):
    with h5py.File(path, "r") as f:
        out = {}
        f["tensors"].visititems(lambda n, d: out.__setitem__(n, d[()]) if isinstance(d, h5py.Dataset) else None)
        return out


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


first = run_job()
with open(os.path.join(OUT, "shoulder-phantoms", "manifest.csv")) as f:
    labels = sorted({line.split(",")[1] for line in f.read().splitlines()[1:]})
check(labels == [f"shoulder-{k:03d}" for k in range(5)], f"phantom classes {labels}")
with h5py.File(os.path.join(OUT, "shoulder-phantoms64.h5"), "r") as f:
    check(f["images"].shape == (120, 64, 64), f"phantom data set images {f['images'].shape}, expected (120, 64, 64)")
with h5py.File(CKPT, "r") as f:
    a = dict(f.attrs)
fmt, spec = a.get("format", b""), a.get("spec", b"")
check(fmt in (b"hipid-model", "hipid-model") and spec in (MODEL.encode(), MODEL),
      f"checkpoint format {fmt!r}, spec {spec!r}")
check(int(a.get("n_classes", -1)) == 5 and list(a.get("input_shape", [])) == [1, 64, 64],
      f"checkpoint for 5 classes of 1x64x64 ({a.get('n_classes')}, {a.get('input_shape')})")
before = sha(CKPT)
again = run_job()
check(sha(CKPT) == before and "epoch" not in again.stdout and "synth:" not in again.stdout,
      f"a second run skips every step ({again.stdout.strip()[-200:]!r})")
# PRETRAIN_SIZE: the same phantoms prepared and trained at another size, beside
# the 64 px checkpoint; a size the 128 px phantoms cannot give is refused
small = run_job(PRETRAIN_SIZE="32")
with h5py.File(os.path.join(OUT, "shoulder-res32.h5"), "r") as f:
    shape = list(f.attrs.get("input_shape", []))
check(shape == [1, 32, 32] and "synth:" not in small.stdout and sha(CKPT) == before,
      f"PRETRAIN_SIZE=32 trains on the same phantoms at 32 px ({shape}) and leaves the 64 px checkpoint")
# above 128 px the phantoms are drawn again at 256 px, in a folder of their own
large = run_job(PRETRAIN_SIZE="160")
with open(os.path.join(OUT, "shoulder-phantoms256", "manifest.csv")) as f:
    first_film = os.path.join(OUT, "shoulder-phantoms256", f.read().splitlines()[1].split(",")[0])
with Image.open(first_film) as im:
    drawn = im.size
with h5py.File(os.path.join(OUT, "shoulder-res160.h5"), "r") as f:
    shape = list(f.attrs.get("input_shape", []))
check(drawn == (256, 256) and shape == [1, 160, 160] and "synth:" in large.stdout and sha(CKPT) == before,
      f"PRETRAIN_SIZE=160 draws phantoms at 256 px ({drawn}), trains at 160 px ({shape}) and leaves the 64 px "
      "checkpoint")
bad = run_job(rc=2, PRETRAIN_SIZE="100")
check("PRETRAIN_SIZE must be" in bad.stderr and not os.path.exists(os.path.join(OUT, "shoulder-phantoms100.h5")),
      f"PRETRAIN_SIZE=100 is refused in one line: {bad.stderr.strip()!r}")

data = prep_shoulder_subset(TMP, 12, 64)
pre = tensors(CKPT)
runs = {}
for name, extra in (("frozen", ["--freeze", "7"]), ("free", [])):
    path = os.path.join(TMP, name + ".h5")
    p = run_hipid("train", "--data", data, "--model", MODEL, "--init", CKPT, *extra, "--epochs", "2", "--batch", "8",
                  "--optimizer", "adamw", "--lr", "1e-3", "--save", path, timeout=300)
    require(p.returncode == 0, f"fine-tune {name}" + ("" if p.returncode == 0 else ": " + p.stderr[-600:]))
    runs[name] = tensors(path)
body = [k for k in pre if int(k.split(".")[0]) <= 6]
head = [k for k in runs["frozen"] if k not in pre or runs["frozen"][k].shape != pre[k].shape]
check(len(body) >= 30, f"{len(body)} pretrained tensors below the classifier")
moved = [k for k in body if not np.array_equal(runs["frozen"][k], pre[k])]
check(not moved, f"frozen layers moved: {moved[:4]}")
check(head and all(runs["frozen"][k].shape[0] == 4 for k in head if k.endswith("weight")),
      f"the classifier is new and has the real set's 4 classes: {[(k, runs['frozen'][k].shape) for k in head]}")
free_moved = [k for k in body if k.endswith("conv.weight") or k.endswith("conv1.weight")]
check(all(not np.array_equal(runs["free"][k], pre[k]) for k in free_moved),
      "without --freeze the pretrained convolutions move")
with open(os.path.join(project_root(), "jobs", "shoulder.ini")) as f:
    text = f.read()
check("init = results/pretrain/shoulder-res64.h5" in text, "the job starts from make pretrain-shoulder's checkpoint")
for name, ckpt in (("ok", CKPT), ("missing", os.path.join(TMP, "missing.h5"))):
    job = os.path.join(TMP, f"job-{name}.ini")
    with open(job, "w") as f:
        f.write(text.replace("results/pretrain/shoulder-res64.h5", ckpt).replace("results/data/shoulder64.h5", data)
                + f"output = {os.path.join(TMP, 'res-' + name)}\n")
    p = run_hipid("sweep", "--dry-run", job, timeout=120)
    if name == "ok":
        fams = re.findall(r"^(\w+) +1 +30 ", p.stdout, re.M)  # family, configs, trials
        check(p.returncode == 0 and "120 trial(s) in all" in p.stdout and fams == ["cnn", "dnn", "res", "pre"],
              f"jobs/shoulder.ini is a valid job of 120 trials in cnn, dnn, res and pre ({p.returncode}: {fams}: "
              f"{p.stderr.strip()[-200:]})")
    else:
        check(p.returncode == 2 and p.stderr.count("\n") == 1 and "init" in p.stderr and ckpt in p.stderr,
              f"without the checkpoint: exit 2, one line naming init ({p.returncode}: {p.stderr.strip()[-200:]})")
# jobs/shoulder128.ini (make shoulder128): the pre family alone at 128 px, from
# PRETRAIN_SIZE=128's checkpoint; checked as a job with the 32 px checkpoint
# and films at 32 px in their place (a 128 px pretraining is 25 minutes)
with open(os.path.join(project_root(), "jobs", "shoulder128.ini")) as f:
    text128 = f.read()
check("init = results/pretrain/shoulder-res128.h5" in text128 and "\nsize = 128\n" in text128
      and "path = results/data/shoulder128.h5" in text128,
      "jobs/shoulder128.ini starts from PRETRAIN_SIZE=128's checkpoint on films at 128 px")
fam_pre = lambda t: re.search(r"^\[family pre\]\n(.*?)\n\n", t, re.M | re.S).group(1)  # noqa: E731
check(fam_pre(text128).replace("shoulder-res128", "shoulder-res64") == fam_pre(text),
      "its pre family is jobs/shoulder.ini's but for the checkpoint")
os.makedirs(os.path.join(TMP, "d32"), exist_ok=True)
data32 = prep_shoulder_subset(os.path.join(TMP, "d32"), 12, 32)
job = os.path.join(TMP, "job-128.ini")
with open(job, "w") as f:
    f.write(text128.replace("results/pretrain/shoulder-res128.h5", os.path.join(OUT, "shoulder-res32.h5"))
            .replace("results/data/shoulder128.h5", data32).replace("\nsize = 128\n", "\nsize = 32\n")
            + f"output = {os.path.join(TMP, 'res-128')}\n")
p = run_hipid("sweep", "--dry-run", job, timeout=120)
fams = re.findall(r"^(\w+) +1 +30 ", p.stdout, re.M)
check(p.returncode == 0 and "30 trial(s) in all" in p.stdout and fams == ["pre"],
      f"jobs/shoulder128.ini is a valid job of 30 trials in pre ({p.returncode}: {fams}: {p.stderr.strip()[-200:]})")
# jobs/shoulder128-ensemble.ini (make shoulder128-ensemble): six families of
# the same recipe, crop and grey on their own preparations of the films
# ([family] steps), and their ensemble; checked the same way, the three
# checkpoints the 32 px one
with open(os.path.join(project_root(), "jobs", "shoulder128-ensemble.ini")) as f:
    text_ens = f.read()
crop_ckpt = "results/pretrain/shoulder-res128-background-otsu-largest-invert-crop.h5"
grey_ckpt = "results/pretrain/shoulder-res128-none.h5"  # PRETRAIN_STEPS=none's name
grey_sec = text_ens.split("[family grey]")[1].split("\n[")[0] if "[family grey]" in text_ens else ""
check("ensemble = ref, nb, aug, do, crop, grey" in text_ens
      and "steps = background, otsu, largest, invert, crop" in text_ens and crop_ckpt in text_ens
      and "steps = none" in grey_sec and grey_ckpt in grey_sec,
      "jobs/shoulder128-ensemble.ini: crop and grey with their own steps and phantom checkpoints")
job = os.path.join(TMP, "job-ens.ini")
with open(job, "w") as f:
    f.write(text_ens.replace("results/pretrain/shoulder-res128.h5", os.path.join(OUT, "shoulder-res32.h5"))
            .replace(crop_ckpt, os.path.join(OUT, "shoulder-res32.h5"))
            .replace(grey_ckpt, os.path.join(OUT, "shoulder-res32.h5"))
            .replace("results/data/shoulder128.h5", data32).replace("\nsize = 128\n", "\nsize = 32\n")
            + f"output = {os.path.join(TMP, 'res-ens')}\n")
p = run_hipid("sweep", "--dry-run", job, timeout=120)
fams = re.findall(r"^(\w+) +1 +10 ", p.stdout, re.M)
own = data32[:-3] + "-background-otsu-largest-invert-crop.h5"
own_grey = data32[:-3] + "-none.h5"
check(p.returncode == 0 and "60 trial(s) in all" in p.stdout and fams == ["ref", "nb", "aug", "do", "crop", "grey"]
      and f"[family crop] data {own} (not built yet)" in p.stdout
      and f"[family grey] data {own_grey} (not built yet)" in p.stdout,
      f"jobs/shoulder128-ensemble.ini is a valid job of 60 trials, crop's and grey's data sets named after [data] path "
      f"({p.returncode}: {fams}: {p.stdout[:300]} {p.stderr.strip()[-200:]})")
print(f"info pretraining job: {len(body)} pretrained tensors, {len(moved)} moved when frozen; classifier {head}")
done()
