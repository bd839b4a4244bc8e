"""hipid export --onnx on real shoulder radiographs (data/shoulder-implants).

Prepares 48 of them (12 per manufacturer) at 32x32, runs a tiny holdout sweep
(2 epochs) of four families that cover every layer kind: a CNN with
conv+bn+relu+maxpool+fc, a CNN with a strided 5x5 conv, batch norm on a flat
vector and dropout, dnn-paper (dense only, with dropout) and a residual net
(identity and projection blocks, gap, dropout); then for each trial:
- export writes a file that passes onnx.checker (full_check) and strict shape
  inference, input [N,1,32,32] and output [N,4] with a symbolic N, opset 13;
- an independent runtime (below: the graph run node by node with
  torch.nn.functional, tensors from numpy_helper.to_array) on the data set's
  prepared images gives hipid predict's probabilities (--format json: every
  class, %.9g) on the same raw JPEGs to 1e-5; a negative control (the input
  given as pixel/255 instead of the pixel value) differs, so the comparison
  can fail;
- metadata: class_names equals the data set's, preprocessing its attribute,
  input_size, the trial's provenance;
- --best (and --family) exports the trial predict --best picks;
- bad input (missing file, a data set, a text file, a folder without --best,
  an output that is a folder or in a missing folder, usage errors) gets one
  line, exit 1 (2 for usage), and leaves no OUT and no temporary file; a
  failed export leaves an existing OUT untouched.
Runs with /usr/bin/python3 (onnx 1.12, torch, h5py); needs mpirun."""
import glob
import json
import os
import sys

import h5py
import numpy as np
import onnx
import onnx.checker
import onnx.helper
import onnx.numpy_helper
import onnx.shape_inference
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, prep_shoulder_subset, require, run, run_hipid, data_dir, tmp_dir  # noqa: E402

SRC = data_dir("shoulder-implants")
TMP = tmp_dir("onnx")
S = 32


def strs(a):
    return [s.decode() if isinstance(s, bytes) else s for s in a]


# ---- the independent runtime ------------------------------------------------------

def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run_graph(model, x):
    """Run model's graph on x (numpy float32) node by node; returns its one output."""
    g = model.graph
    env = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in g.initializer}
    env[g.input[0].name] = torch.from_numpy(x)
    for n in g.node:
        a, i = attrs(n), [env[name] for name in n.input]
        op = n.op_type
        if op == "Div":
            y = i[0] / i[1]
        elif op == "Sub":
            y = i[0] - i[1]
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Conv":
            p = a.get("pads", [0, 0, 0, 0])
            require(p[0] == p[2] and p[1] == p[3], f"{n.name}: symmetric pads")
            y = F.conv2d(i[0], i[1], i[2], stride=tuple(a.get("strides", [1, 1])), padding=(p[0], p[1]))
        elif op == "BatchNormalization":
            y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], training=False, eps=a.get("epsilon", 1e-5))
        elif op == "Relu":
            y = F.relu(i[0])
        elif op == "MaxPool":
            require("pads" not in a, f"{n.name}: no padding")
            y = F.max_pool2d(i[0], tuple(a["kernel_shape"]), tuple(a["strides"]))
        elif op == "GlobalAveragePool":
            y = i[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Flatten":
            y = torch.flatten(i[0], start_dim=a.get("axis", 1))
        elif op == "Gemm":
            w = i[1].t() if a.get("transB", 0) else i[1]
            y = i[0] @ w + i[2]
        elif op == "Softmax":
            y = F.softmax(i[0], dim=a.get("axis", -1))
        else:
            require(False, f"{n.name}: operator {op} unknown to the test's runtime")
        env[n.output[0]] = y
    return env[g.output[0].name].numpy()


def dims(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


# ---- data set and sweep -------------------------------------------------------------
DATA = prep_shoulder_subset(TMP, 12, S)
OUT = os.path.join(TMP, "res")
FAMILIES = {
    "cnn": "c8,bn,r,mp2,c8,r,mp2",
    "cnndo": "c8k5s2,r,mp2,fl,fc16,bn,r,do0.5",
    "dnn": "dnn-paper",
    "res": "c8,bn,r,res8,res16s2,gap,do0.2",
}
with open(os.path.join(TMP, "job.ini"), "w") as f:
    f.write(f"[job]\nname = onnx\nseeds = 1\n[data]\npath = {DATA}\n"
            "[cv]\nscheme = holdout\nrepeats = 1\nfractions = 0.6, 0.2, 0.2\n")
    for fam, spec in FAMILIES.items():
        f.write(f"[family {fam}]\nmodel = {spec}\noptimizer = adam\nlr = 0.003\nbatch = 8\nepochs = 2\n")
    f.write(f"[run]\noutput = {OUT}\n")
# Open MPI's own allocations would fail the sanitizer build's leak check: off for the sweep only
env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
p = run(["mpirun", "--oversubscribe", "-np", "2", hipid(), "sweep", "--quiet",
         os.path.join(TMP, "job.ini")], timeout=600, env=env)
require(p.returncode == 0, "sweep exits 0" + ("" if p.returncode == 0 else ": " + p.stderr[-800:]))
trials = sorted(glob.glob(os.path.join(OUT, "trials", "*.h5")))
require(len(trials) == len(FAMILIES), f"{len(FAMILIES)} trial files ({len(trials)})")
with h5py.File(DATA) as d:
    source_paths = strs(d["source_paths"][()])
    images = d["images"][()]
    data_classes = strs(d["class_names"][()])
    data_prep = d.attrs["preprocessing"]
    data_prep = data_prep.decode() if isinstance(data_prep, bytes) else str(data_prep)
ROWS = list(range(0, len(source_paths), 3))  # 16 films, every class
RAW = [os.path.join(SRC, source_paths[i]) for i in ROWS]
X = images[ROWS].astype(np.float32).reshape(len(ROWS), 1, S, S)


def export(*args):
    return run_hipid("export", *args, timeout=120)


# ---- each trial: checker, shapes, outputs against predict, metadata ---------------
worst, worst_control = 0.0, float("inf")
for t in trials:
    tag = os.path.basename(t)
    with h5py.File(t) as f:
        family = f.attrs["family"]
        family = family.decode() if isinstance(family, bytes) else str(family)
    out = os.path.join(TMP, tag[:-3] + ".onnx")
    p = export("--onnx", out, "--model", t)
    require(p.returncode == 0 and os.path.isfile(out), f"{tag}: export exits 0" + ("" if p.returncode == 0 else ": " + p.stderr))
    m = onnx.load(out)
    try:
        onnx.checker.check_model(m, full_check=True)
        inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        ok, why = True, ""
    except Exception as ex:  # the checker's own exception types differ by version
        ok, why, inferred = False, str(ex).splitlines()[0], m
    check(ok, f"{tag}: onnx.checker (full_check) and strict shape inference pass {why}")
    check([o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [13], f"{tag}: opset 13")
    check(dims(m.graph.input[0]) == ["N", 1, S, S], f"{tag}: input [N,1,{S},{S}]: {dims(m.graph.input[0])}")
    check(dims(inferred.graph.output[0]) == ["N", len(data_classes)], f"{tag}: output [N,K]: {dims(inferred.graph.output[0])}")
    check(not any(n.op_type == "Dropout" for n in m.graph.node), f"{tag}: no Dropout node")
    meta = {e.key: e.value for e in m.metadata_props}
    check(json.loads(meta.get("class_names", "null")) == data_classes, f"{tag}: class_names {meta.get('class_names')}")
    check(meta.get("preprocessing") == data_prep, f"{tag}: preprocessing {meta.get('preprocessing')!r}")
    check(meta.get("input_size") == str(S), f"{tag}: input_size {meta.get('input_size')}")
    check(meta.get("hipid.trial_file") == t and meta.get("hipid.family") == family,
          f"{tag}: provenance {meta.get('hipid.trial_file')} {meta.get('hipid.family')}")

    p = run_hipid("predict", "--threads", "1", "--format", "json", "--model", t, *RAW, timeout=300)
    require(p.returncode == 0, f"{tag}: predict exits 0: {p.stderr}")
    pred = np.array([[r["probs"][c] for c in data_classes] for r in json.loads(p.stdout)])
    got = run_graph(m, X)
    diff = float(np.abs(got - pred).max())
    control = float(np.abs(run_graph(m, X / 255.0) - pred).max())
    worst, worst_control = max(worst, diff), min(worst_control, control)
    check(diff <= 1e-5, f"{tag}: ONNX graph (torch runtime) equals predict to 1e-5 (max diff {diff:.2e})")
    check(control > 1e-3, f"{tag}: negative control (input as pixel/255) differs ({control:.2e})")
print(f"max |onnx - predict| over {len(trials)} trials x {len(ROWS)} films: {worst:.3g} "
      f"(negative control: min {worst_control:.3g})")

# ---- --best ----------------------------------------------------------------------------
for fam in [None, "res"]:
    out = os.path.join(TMP, "best.onnx")
    extra = ["--family", fam] if fam else []
    p = export("--onnx", out, "--model", OUT, "--best", *extra)
    q = run_hipid("predict", "--model", OUT, "--best", *extra, RAW[0], timeout=120)
    pick = [ln for ln in p.stderr.splitlines() if ln.startswith("export: best of")]
    pick_pred = [ln for ln in q.stderr.splitlines() if ln.startswith("predict: best of")]
    ok = p.returncode == 0 and os.path.isfile(out) and len(pick) == 1 and len(pick_pred) == 1
    check(ok and pick[0][len("export"):] == pick_pred[0][len("predict"):],
          f"--best {fam or ''}: the trial predict --best picks: {pick} {pick_pred}")
    if ok:
        meta = {e.key: e.value for e in onnx.load(out).metadata_props}
        check(meta["hipid.trial_file"] in pick[0] and (fam is None or meta["hipid.family"] == fam),
              f"--best {fam or ''}: metadata names the picked trial ({meta['hipid.trial_file']})")

# ---- bad input: one line, exit status, nothing left behind -------------------------
BAD = os.path.join(TMP, "bad")
os.mkdir(BAD)
text = os.path.join(TMP, "notes.txt")
with open(text, "w") as f:
    f.write("not a trial\n")
o = os.path.join(BAD, "out.onnx")
cases = [
    ("missing trial file", ["--onnx", o, "--model", os.path.join(TMP, "nothere.h5")], 1, "nothere.h5"),
    ("a data set", ["--onnx", o, "--model", DATA], 1, DATA),
    ("a text file", ["--onnx", o, "--model", text], 1, text),
    ("a folder without --best", ["--onnx", o, "--model", OUT], 2, OUT),
    ("--best on a file", ["--onnx", o, "--model", trials[0], "--best"], 2, trials[0]),
    ("--best on a folder without sweep.h5", ["--onnx", o, "--model", BAD, "--best"], 1, BAD),
    ("--best of an unknown family", ["--onnx", o, "--model", OUT, "--best", "--family", "nope"], 1, "nope"),
    ("output is a folder", ["--onnx", BAD, "--model", trials[0]], 1, BAD),
    ("output in a missing folder", ["--onnx", os.path.join(BAD, "no", "x.onnx"), "--model", trials[0]], 1, "x.onnx"),
    ("output below a file", ["--onnx", os.path.join(text, "x.onnx"), "--model", trials[0]], 1, "x.onnx"),
    ("no --onnx", ["--model", trials[0]], 2, "--onnx"),
    ("no --model", ["--onnx", o], 2, "--model"),
    ("an extra argument", ["--onnx", o, "--model", trials[0], "extra"], 2, "extra"),
    ("--family without --best", ["--onnx", o, "--model", trials[0], "--family", "cnn"], 2, "--family"),
]
for what, args, status, needle in cases:
    p = export(*args)
    err = p.stderr.strip().split("\n")
    check(p.returncode == status and len(err) == 1 and needle in err[0],
          f"{what}: exit {status}, one line naming {needle}: exit {p.returncode}: {p.stderr.strip()}")
    check(os.listdir(BAD) == [], f"{what}: nothing written ({os.listdir(BAD)})")
    print(f"info: {what}: {err[0]}")
# a failed export leaves an existing OUT as it was
with open(o, "w") as f:
    f.write("old\n")
p = export("--onnx", o, "--model", DATA)
check(p.returncode == 1 and open(o).read() == "old\n" and os.listdir(BAD) == ["out.onnx"],
      f"failed export over an existing file: untouched, no temporary file ({os.listdir(BAD)})")
p = run_hipid("export", "--help")
check(p.returncode == 0 and "--onnx" in p.stdout, "export --help")
p = run_hipid("--help")
check("export" in p.stdout, "export is listed by hipid --help")
done()
