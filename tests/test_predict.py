"""hipid predict on the real shoulder radiographs (data/shoulder-implants).

Prepares 80 of them (20 per manufacturer) at 64x64, runs a tiny sweep (a small
CNN with two learning rates and dnn-paper, 2-fold, 3 epochs), then:
- predict on the raw JPEGs of every trial's test images gives the stored
  predictions/test_prob (tsv: predicted and runner-up; json: every class) to
  1e-5, and the predicted class is the stored argmax; a trial whose recorded
  preprocessing is altered (invert dropped) gives other probabilities, so the
  comparison can fail;
- --best picks the documented trial (configuration with the lowest mean
  val_loss, then its lowest val_loss) and predicts as that trial file does;
- errors: a trial of another format version, a data set, a text file, a
  hipid train checkpoint, a trial whose preprocessing is not a prep pipeline,
  and unreadable / truncated / too small / empty-mask / missing images each
  get one line naming the file (exit 1, the good images still classified);
  usage errors exit 2;
- --saliency writes a PNG of (2*S*zoom) x (S*zoom) whose left half is the
  prepared image; --saliency-dir writes one per image;
- Grad-CAM (cnn) and the smoothed input gradient (dnn) equal PyTorch's,
  computed with hooks on the same network built from the trial's weights.
Runs with /usr/bin/python3 (torch, h5py, scipy, skimage); needs mpirun."""
import glob
import json
import os
import shutil
import sys

import h5py
import numpy as np
import scipy.ndimage
import skimage.io
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref  # noqa: E402
import trialsum  # noqa: E402
from testlib import check, done, prep_shoulder_subset, require, run, run_hipid, data_dir, sweep_or_stop, test_bin, tmp_dir  # noqa: E402

SRC = data_dir("shoulder-implants")
TMP = tmp_dir("predict")


def predict(args):
    return run_hipid("predict", "--threads", "2", *args, timeout=300)


def tsv_rows(out):
    lines = out.strip().split("\n")
    require(lines[0] == "path\tclass\tprob\trunner_up\trunner_up_prob", "tsv header: " + lines[0])
    return [ln.split("\t") for ln in lines[1:] if ln]


def strs(a):
    return [s.decode() if isinstance(s, bytes) else s for s in a]


# ---- data set and sweep -------------------------------------------------------
# no duplicate search: these 80 films hold two copies (Cofield 12/14, 13/15) whose
# grouping changes the folds, and this test is about predict, not the audit; the
# 3-epoch fixture's Grad-CAM maps are checked on the folds it had before
DATA = prep_shoulder_subset(TMP, 20, 64)
OUT = os.path.join(TMP, "res")
with open(os.path.join(TMP, "job.ini"), "w") as f:
    f.write(f"""[job]
name = predict
seeds = 1
[data]
path = {DATA}
[cv]
scheme = kfold
k = 2
val_fraction = 0.2
[family cnn]
model = c8,r,bn,mp2,c8,r,mp2,do0.2
optimizer = adam
lr = 0.003, 0.001
batch = 8
epochs = 3
[family dnn]
model = dnn-paper
optimizer = sgd
lr = 0.01
batch = 8
epochs = 3
[run]
output = {OUT}
""")
sweep_or_stop(os.path.join(TMP, "job.ini"))
trials = sorted(glob.glob(os.path.join(OUT, "trials", "*.h5")))
check(len(trials) == 6, f"6 trial files ({len(trials)})")
with h5py.File(DATA) as d:
    source_paths = strs(d["source_paths"][()])
    images = d["images"][()]


def raw_paths(rows):
    return [os.path.join(SRC, source_paths[i]) for i in rows]


# ---- predictions equal the stored test predictions ------------------------------
worst = 0.0
for t in trials:
    with h5py.File(t) as f:
        idx = f["predictions/test_index"][()]
        prob = f["predictions/test_prob"][()]
        names = strs(f["class_names"][()])
    p = predict(["--model", t, "--format", "tsv"] + raw_paths(idx))
    rows = tsv_rows(p.stdout) if p.returncode == 0 else []
    ok = p.returncode == 0 and len(rows) == len(idx)
    diff, same_class = 0.0, True
    for row, pr, path in zip(rows, prob, raw_paths(idx)):
        ok = ok and row[0] == path
        k, k2 = names.index(row[1]), names.index(row[3])
        same_class = same_class and k == int(np.argmax(pr))
        order = np.argsort(-pr, kind="stable")
        same_class = same_class and k2 == order[1]
        diff = max(diff, abs(float(row[2]) - pr[k]), abs(float(row[4]) - pr[k2]))
    worst = max(worst, diff)
    tag = os.path.basename(t)
    check(ok, f"{tag}: one tsv row per test image, in order" + ("" if p.returncode == 0 else ": " + p.stderr))
    check(same_class, f"{tag}: predicted and runner-up classes are the stored ones")
    check(diff < 1e-5, f"{tag}: probabilities equal predictions/test_prob (max diff {diff:.2e})")
print(f"max |predict - stored test_prob| over {len(trials)} trials: {worst:.3g}")

# json: every class probability
t0 = trials[0]
with h5py.File(t0) as f:
    idx = f["predictions/test_index"][()]
    prob = f["predictions/test_prob"][()]
    names = strs(f["class_names"][()])
p = predict(["--model", t0, "--format", "json"] + raw_paths(idx[:6]))
try:
    js = json.loads(p.stdout)
    full = max(abs(r["probs"][n] - prob[i][k]) for i, r in enumerate(js) for k, n in enumerate(names))
except (ValueError, KeyError) as ex:
    js, full = [], float("inf")
    print("json:", ex, p.stdout[:300])
check(len(js) == 6 and full < 1e-5, f"json: all {len(names)} class probabilities equal the stored ones (max diff {full:.2e})")
p = predict(["--model", t0] + raw_paths(idx[:2]))
lines = p.stdout.strip().split("\n")
check(p.returncode == 0 and len(lines) == 2 and "runner-up" in lines[0] and lines[0].startswith(raw_paths(idx[:1])[0]),
      f"text format: one line per image with the runner-up ({lines[0]!r})")

# negative control: the comparison notices another preprocessing
alt = os.path.join(TMP, "alt.h5")
shutil.copy(t0, alt)
with h5py.File(alt, "r+") as f:
    pre = f.attrs["preprocessing"]
    pre = pre.decode() if isinstance(pre, bytes) else pre
    f.attrs["preprocessing"] = pre.replace(",invert", "").replace("pad=255", "pad=0")
trialsum.reseal(alt)
p = predict(["--model", alt, "--format", "tsv"] + raw_paths(idx))
rows = tsv_rows(p.stdout) if p.returncode == 0 else []
alt_diff = max((abs(float(r[2]) - prob[i][names.index(r[1])]) for i, r in enumerate(rows)), default=0.0)
check(p.returncode == 0 and alt_diff > 1e-3, f"control: without invert the probabilities differ (max diff {alt_diff:.3g})")

# ---- --best -------------------------------------------------------------------------
with h5py.File(os.path.join(OUT, "sweep.h5")) as f:
    fam, state, hsh = strs(f["family"][()]), strs(f["state"][()]), strs(f["hash"][()])
    config, val = f["config"][()], f["val_loss"][()]


def expected_best(family=None):
    rows = [i for i in range(len(fam)) if (family is None or fam[i] == family) and state[i] == "done"
            and np.isfinite(val[i])]
    groups = {}
    for i in rows:
        groups.setdefault((fam[i], config[i]), []).append(i)
    key = min(groups, key=lambda g: (np.mean([val[i] for i in groups[g]]), groups[g][0]))
    i = min(groups[key], key=lambda j: (val[j], j))
    return os.path.join(OUT, "trials", f"{fam[i]}-{hsh[i]}.h5")


for family in ("cnn", "dnn", None):
    want = expected_best(family)
    args = ["--model", OUT, "--best"] + (["--family", family] if family else [])
    p = predict(args + ["--format", "tsv"] + raw_paths(range(4)))
    q = predict(["--model", want, "--format", "tsv"] + raw_paths(range(4)))
    check(p.returncode == 0 and want in p.stderr and p.stdout == q.stdout,
          f"--best {family or '(all families)'} picks {os.path.basename(want)} and predicts as it does"
          + ("" if p.returncode == 0 else ": " + p.stderr))
n_cnn_cfg = len({config[i] for i in range(len(fam)) if fam[i] == "cnn"})
check(n_cnn_cfg == 2, f"--best had a choice: the cnn family has {n_cnn_cfg} configurations")
p = predict(["--model", OUT, "--best", "--family", "nope"] + raw_paths([0]))
check(p.returncode == 1 and "no done trial of family 'nope'" in p.stderr, f"--best of an unknown family: {p.stderr.strip()}")

# ---- model file errors ----------------------------------------------------------
v2 = os.path.join(TMP, "v2.h5")
shutil.copy(t0, v2)
with h5py.File(v2, "r+") as f:
    f.attrs["format_version"] = np.int32(2)
ckpt = os.path.join(TMP, "ckpt.h5")
with h5py.File(ckpt, "w") as f:
    f.attrs["format"] = "hipid-model"
    f.attrs["format_version"] = np.int32(1)
synth = os.path.join(TMP, "synth.h5")
shutil.copy(t0, synth)
with h5py.File(synth, "r+") as f:
    f.attrs["preprocessing"] = "synth phantoms 64x64"
trialsum.reseal(synth)
text = os.path.join(TMP, "notes.txt")
open(text, "w").write("not a model\n")
for path, needle, what in [(v2, "format version 2", "another format version"),
                           (DATA, "expected a hipid trial file", "a data set"),
                           (text, "not a readable HDF5 file", "a text file"),
                           (ckpt, "hipid train checkpoint", "a hipid train checkpoint"),
                           (synth, "cannot re-apply the data set's preprocessing", "a trial of a synthetic data set")]:
    p = predict(["--model", path] + raw_paths([0]))
    err = p.stderr.strip().split("\n")
    check(p.returncode == 1 and len(err) == 1 and path in err[0] and needle in err[0] and not p.stdout,
          f"{what}: exit 1, one line naming the file: {err[0] if err else ''}")

# ---- image errors: one line each, the others still classified -------------------------
small = os.path.join(TMP, "small.png")
skimage.io.imsave(small, (np.arange(20 * 20).reshape(20, 20) % 256).astype(np.uint8), check_contrast=False)
flat = os.path.join(TMP, "flat.png")
skimage.io.imsave(flat, np.full((100, 100), 128, np.uint8), check_contrast=False)
unreadable = os.path.join(TMP, "notes.jpg")
shutil.copy(text, unreadable)
trunc = os.path.join(TMP, "truncated.jpg")
open(trunc, "wb").write(open(raw_paths([0])[0], "rb").read()[:400])
missing = os.path.join(TMP, "missing.jpg")
good = raw_paths([0, 1])
bad = {small: "too small", flat: "near-empty mask", unreadable: "not an image", trunc: "", missing: ""}
p = predict(["--model", t0, "--format", "tsv", good[0]] + list(bad) + [good[1]])
rows = tsv_rows(p.stdout)
err = p.stderr.strip().split("\n")
check(p.returncode == 1 and [r[0] for r in rows] == good, f"bad images: exit 1, both good images classified ({len(rows)} rows)")
for path, needle in bad.items():
    mine = [ln for ln in err if path in ln]
    check(len(mine) == 1 and needle in mine[0], f"{os.path.basename(path)}: one line: {mine[0] if mine else '(none)'}")
check(len(err) == len(bad) + 1 and "5 of 7 image(s) failed" in err[-1], f"a closing count: {err[-1]}")
for args, what in [(["--model", t0, "--saliency", "a.png"] + good, "--saliency with two images"),
                   (["--model", OUT] + good, "a results folder without --best"),
                   (["--model", t0, "--format", "xml"] + good, "an unknown --format"),
                   (good, "no --model")]:
    p = predict(args)
    check(p.returncode == 2 and p.stderr.strip(), f"usage error, exit 2: {what}: {p.stderr.strip().splitlines()[0]}")

# ---- saliency PNGs ------------------------------------------------------------------
# the trial of each family with the lowest validation loss: a 3-epoch model
# that learned nothing can have Grad-CAM maps that are all zero, and which
# trial comes first by file name changes with every change of the trial keys


def best_of(family):
    mine = [t for t in trials if os.path.basename(t).startswith(family)]
    return min(mine, key=lambda t: (float(h5py.File(t, "r").attrs["val_loss"]), t))


cnn, dnn = best_of("cnn"), best_of("dnn")
for t in (cnn, dnn):
    # a 3-epoch model's Grad-CAM can be all zero for one image (no region
    # raises the class score): the overlay must show on at least one of four
    overlays = 0
    for row in (3, 2, 11, 27):
        png = os.path.join(TMP, f"{os.path.basename(t)}.{row}.png")
        p = predict(["--model", t, "--saliency", png] + raw_paths([row]))
        im = skimage.io.imread(png) if os.path.exists(png) else np.zeros((0, 0, 3), np.uint8)
        left = im[:, :256, 0] if im.shape == (256, 512, 3) else None
        want = np.kron(images[row], np.ones((4, 4), np.uint8))
        check(p.returncode == 0 and im.shape == (256, 512, 3), f"{os.path.basename(t)} row {row}: --saliency writes a "
              f"512x256 RGB PNG (2 panels of 64 px x zoom 4): {im.shape}")
        check(left is not None and np.array_equal(left, want), "its left half is the prepared image (the data set's row)")
        overlays += left is not None and np.abs(im[:, 256:].astype(int) - np.stack([want] * 3, -1)).max() > 50
    check(overlays >= 1, f"{os.path.basename(t)}: the right half carries a colour overlay ({overlays} of 4 images)")
sal_dir = os.path.join(TMP, "sal")
p = predict(["--model", cnn, "--saliency-dir", sal_dir, "--zoom", "2"] + raw_paths([4, 5, 6]))
pngs = sorted(glob.glob(os.path.join(sal_dir, "*.png")))
want_names = sorted(os.path.splitext(os.path.basename(x))[0] + ".png" for x in raw_paths([4, 5, 6]))
check(p.returncode == 0 and [os.path.basename(x) for x in pngs] == want_names
      and all(skimage.io.imread(x).shape == (128, 256, 3) for x in pngs),
      f"--saliency-dir: one 256x128 PNG per image, named after it ({len(pngs)})")

# ---- Grad-CAM and input gradients against PyTorch ------------------------------------------


def torch_model(trial):
    with h5py.File(trial) as f:
        g = f["weights/best"]
        spec = g.attrs["spec"]
        spec = spec.decode() if isinstance(spec, bytes) else spec
        shape = tuple(int(v) for v in g.attrs["input_shape"])
        net, _ = torch_ref.build(spec, shape, int(g.attrs["n_classes"]))
        for name, grp in g.items():
            mod = net[int(name.split(".")[0])]
            for tname, ds in grp.items():
                getattr(mod, tname).data.copy_(torch.from_numpy(ds[()]))
    return net.eval()


rows = [2, 11, 27, 45, 63, 77]
for t, kind in ((cnn, "Grad-CAM"), (dnn, "input gradient")):
    out = os.path.join(TMP, os.path.basename(t) + ".sal.h5")
    p = run([test_bin("check_saliency"), t, DATA, out] + [str(r) for r in rows], timeout=300)
    check(p.returncode == 0, f"check_saliency {kind}" + ("" if p.returncode == 0 else ": " + p.stderr))
    if p.returncode != 0:
        continue
    with h5py.File(out) as f:
        x, cls, raw, cmap, layer = f["x"][()], f["cls"][()], f["raw"][()], f["map"][()], int(f.attrs["layer"])
    net = torch_model(t).double()
    S = x.shape[1]
    d_raw = d_map = 0.0
    for i in range(len(rows)):
        xt = torch.tensor(x[i][None, None], dtype=torch.float64, requires_grad=True)
        if layer >= 0:
            acts = {}
            h = net[layer].register_forward_hook(lambda m, a, o: acts.update(a=o) or o.retain_grad())
            z = net(xt)
            h.remove()
            z[0, cls[i]].backward()
            A, G = acts["a"][0].detach(), acts["a"].grad[0]
            cam = torch.relu((G.mean(dim=(1, 2))[:, None, None] * A).sum(0))
            ref_raw = cam.numpy()
            ref_map = F.interpolate(cam[None, None], size=(S, S), mode="bilinear", align_corners=False)[0, 0].numpy()
        else:
            z = net(xt)
            z[0, cls[i]].backward()
            ref_raw = xt.grad[0, 0].abs().numpy()
            k = np.array([1, 4, 6, 4, 1]) / 16.0
            ref_map = scipy.ndimage.convolve1d(scipy.ndimage.convolve1d(ref_raw, k, axis=1, mode="nearest"), k,
                                               axis=0, mode="nearest")
        check(int(z.argmax()) == cls[i], f"{kind} row {rows[i]}: same predicted class")
        scale = max(np.abs(ref_map).max(), 1e-12)
        d_raw = max(d_raw, np.abs(raw[i] - ref_raw).max() / max(np.abs(ref_raw).max(), 1e-12))
        d_map = max(d_map, np.abs(cmap[i] - ref_map).max() / scale)
    nonzero = sum(float(np.abs(m).max()) > 0 for m in cmap)
    check(layer == (-1 if kind == "input gradient" else 6), f"{kind}: layer {layer}")
    # Grad-CAM's ReLU zeroes a map where no region raises the class score,
    # which a 3-epoch model does for some images
    check(nonzero >= len(rows) // 2, f"{kind}: {nonzero} of {len(rows)} maps are not all zero")
    check(d_raw < 1e-4 and d_map < 1e-4, f"{kind} equals PyTorch's (max diff / max: raw {d_raw:.2e}, map {d_map:.2e})")
    print(f"max {kind} difference vs PyTorch (relative to the map's max): raw {d_raw:.3g}, upsampled {d_map:.3g}")

done()
