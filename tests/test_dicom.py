"""hipid prep reads DICOM radiographs as a viewer displays them.

DICOM files are written by an independent writer (pydicom) and, for the
compressed transfer syntaxes, by DCMTK's command-line tools (img2dcm,
dcmcjpeg, dcmcjpls, dcmcrle). Every image is 64 x 64 and prepared with
--size 64 --steps none, so prep's resize is the identity and the stored
pixels are the decoded ones (each test image spans 0..255 after its VOI
step, so the final min-max stretch is the identity too). Checked:
  - pixels equal pydicom's apply_modality_lut + apply_voi_lut, scaled to
    0..255 (within 0.5: rounding; 1 for the VOI LUT, which DCMTK renders
    by truncation), for 8/12/16-bit,
    signed and unsigned stored values, rescale slope/intercept, a window in
    the file, a VOI LUT Sequence, no window (auto: numpy.percentile 0.5 and
    99.5 of the modality values), --window C,W and --window auto;
  - MONOCHROME1 and MONOCHROME2 of one image give the same output (and a
    negative control: the MONOCHROME1 reference without inversion is far off);
  - JPEG lossless, JPEG-LS and RLE equal their uncompressed source; JPEG
    baseline equals DCMTK's own dcmdjpeg decompression read by pydicom;
  - multi-frame: the first frame, with one note line;
  - patient ids: HMAC hex by default (same patient same id; new per run,
    stable with --id-salt-file), raw with --keep-ids, StudyInstanceUID with
    --patient-from study, a manifest's patient_id wins; PatientName and the
    raw PatientID appear nowhere in the HDF5 bytes;
  - corrupt, truncated, no pixel data (Basic Text SR), JPEG 2000 and a
    private transfer syntax: one skip line each naming the file (and the UID),
    the rest still written; a folder of only bad files fails with one error
    and writes nothing.

Environment: HIPID, TEST_TMP, HIPID_ROOT; run by /usr/bin/python3 (pydicom).
"""
import json
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, require, run, run_hipid, tmp_dir  # noqa: E402

TMP = tmp_dir("dicom")
S = 64
NAME = "Doe^Jane^Confidential"
PREP = ["--size", S, "--steps", "none", "--dup-threshold", -1, "--min-size", 16]
STUDY = {"PID-A": generate_uid(), "PID-B": generate_uid()}


def base_image(seed=0):
    """A 64 x 64 phantom in [0, 1]: a ramp, a bright disc (an implant), noise."""
    y, x = np.mgrid[0:S, 0:S] / (S - 1.0)
    f = 0.15 + 0.6 * (0.6 * x + 0.4 * y)
    f[(x - 0.55) ** 2 + (y - 0.45) ** 2 < 0.04] = 0.95
    f += np.random.default_rng(seed).normal(0, 0.02, f.shape)
    f[:3, :3], f[-3:, -3:] = 0.0, 1.0
    return np.clip(f, 0, 1)


def write_dcm(path, stored, bits_stored=8, signed=False, mono="MONOCHROME2", pid="PID-A", **extra):
    """Uncompressed little-endian explicit DICOM of stored values (frames, h, w) or (h, w)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR image storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.Modality = NAME, pid, "CR"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = STUDY.setdefault(pid, generate_uid()), generate_uid()
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, mono
    ds.Rows, ds.Columns = stored.shape[-2:]
    if stored.ndim == 3:
        ds.NumberOfFrames = stored.shape[0]
    ds.BitsAllocated = 8 if bits_stored == 8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits_stored, bits_stored - 1, int(signed)
    for k, v in extra.items():
        setattr(ds, k, v)
    dtype = {(8, 0): np.uint8, (8, 1): np.int8, (16, 0): np.uint16, (16, 1): np.int16}[(ds.BitsAllocated, int(signed))]
    ds.PixelData = stored.astype(dtype).tobytes()
    ds.save_as(path, write_like_original=False)
    return path


def stored_values(f, bits, signed):
    s = np.round(f * (2 ** bits - 1)).astype(np.int64)
    return s - 2 ** (bits - 1) if signed else s


def reference(path, window=None):
    """pydicom's modality + VOI output scaled to 0..255 (MONOCHROME1 inverted);
    window: None (the file's), 'auto' or (C, W)."""
    ds = pydicom.dcmread(path)
    arr = ds.pixel_array
    if arr.ndim == 3:
        arr = arr[0]
    mv = apply_modality_lut(arr, ds)
    v = mv.astype(np.float64)
    has_file_voi = "VOILUTSequence" in ds or "WindowCenter" in ds
    if window is None and has_file_voi:
        y = apply_voi_lut(mv, ds).astype(np.float64)
        if "VOILUTSequence" in ds:
            y = y / (2 ** ds.VOILUTSequence[0].LUTDescriptor[2] - 1)
        else:
            lo, hi = (0, 2 ** ds.BitsStored - 1) if ds.PixelRepresentation == 0 else \
                (-2 ** (ds.BitsStored - 1), 2 ** (ds.BitsStored - 1) - 1)
            if "RescaleSlope" in ds:
                lo, hi = lo * ds.RescaleSlope + ds.RescaleIntercept, hi * ds.RescaleSlope + ds.RescaleIntercept
            y = (y - lo) / (hi - lo)
    else:
        if window is None or window == "auto":
            lo, hi = np.percentile(v, 0.5), np.percentile(v, 99.5)
            c, w = (lo + hi) / 2 + 0.5, hi - lo + 1
        else:
            c, w = window
        y = np.clip(((v - (c - 0.5)) / (w - 1) + 0.5), 0, 1)
        y[v <= c - 0.5 - (w - 1) / 2] = 0
    y = y * 255
    if ds.PhotometricInterpretation == "MONOCHROME1":
        y = 255 - y
    return y


def prep(src, out, *opts):
    r = run_hipid("prep", src, "-o", out, *PREP, *[str(o) for o in opts])
    return r


def load(out):
    with h5py.File(out, "r") as f:
        paths = [p.decode() if isinstance(p, bytes) else p for p in f["source_paths"][()]]
        pids = [p.decode() if isinstance(p, bytes) else p for p in f["patient_ids"][()]]
        return {"images": dict(zip(paths, f["images"][()])), "pids": dict(zip(paths, pids)),
                "pre": f.attrs["preprocessing"].decode() if isinstance(f.attrs["preprocessing"], bytes)
                else str(f.attrs["preprocessing"]),
                "skipped": [s.decode() if isinstance(s, bytes) else s for s in f["skipped"][()]]}


def tool(*cmd):
    r = run([str(c) for c in cmd])
    require(r.returncode == 0, "%s: %s" % (" ".join(map(str, cmd)), r.stderr.strip()[:300]))


# ---- the good files ----------------------------------------------------------
good = os.path.join(TMP, "good")
cls = os.path.join(good, "x")
os.makedirs(cls)
f0 = base_image(0)
P = lambda name: os.path.join(cls, name)  # noqa: E731
M = 2 ** 12 - 1
cases = {  # name -> (path, reference window override or None)
    "u8": write_dcm(P("u8.dcm"), stored_values(f0, 8, False)),
    "u12_win": write_dcm(P("u12_win.dcm"), stored_values(f0, 12, False), 12, RescaleSlope=2, RescaleIntercept=-1024,
                         WindowCenter=2 * 1800 - 1024, WindowWidth=2 * 2600),
    "s16_win": write_dcm(P("s16_win.dcm"), stored_values(f0, 16, True), 16, True, WindowCenter=1000,
                         WindowWidth=50000, pid="PID-B"),
    "s12": write_dcm(P("s12"), stored_values(f0, 12, True), 12, True, RescaleSlope=1, RescaleIntercept=100),
    # a fractional slope and a narrow window: truncated modality values would be off by up to 3 grey levels
    "frac": write_dcm(P("frac.dcm"), stored_values(f0, 12, False), 12, RescaleSlope=0.37, RescaleIntercept=-3.3,
                      WindowCenter=700, WindowWidth=80),
    "u16": write_dcm(P("u16.dcm"), stored_values(f0, 16, False), 16, pid="PID-B"),
    "m2": write_dcm(P("m2.dcm"), stored_values(f0, 12, False), 12, WindowCenter=1900, WindowWidth=2800),
    "m1": write_dcm(P("m1.dcm"), M - stored_values(f0, 12, False), 12, mono="MONOCHROME1",
                    WindowCenter=M - 1900 + 1, WindowWidth=2800),
    "m2_auto": write_dcm(P("m2_auto.dcm"), stored_values(f0, 12, False), 12),
    "m1_auto": write_dcm(P("m1_auto.dcm"), M - stored_values(f0, 12, False), 12, mono="MONOCHROME1"),
    "multi": write_dcm(P("multi.dcm"), np.stack([stored_values(base_image(s), 8, False) for s in (0, 1, 2)]), 8),
}
# a VOI LUT Sequence (a gamma curve, 12-bit output) on 12-bit data: preferred to the window beside it
lut_item = Dataset()
lut_item.add_new(0x00283002, "US", [4096, 0, 12])  # LUTDescriptor
lut_item.add_new(0x00283006, "US", [int(round(M * (i / M) ** 0.6)) for i in range(4096)])  # LUTData
cases["voilut"] = write_dcm(P("voilut.dcm"), stored_values(f0, 12, False), 12, VOILUTSequence=[lut_item],
                            WindowCenter=100, WindowWidth=10)
# compressed copies made by DCMTK
tool("dcmcjpeg", "+e1", cases["u12_win"], P("jpeg_lossless.dcm"))
tool("dcmcjpls", cases["s16_win"], P("jpegls.dcm"))
tool("dcmcrle", cases["u16"], P("rle.dcm"))
tool("dcmcjpeg", "+eb", cases["u8"], P("jpeg_baseline.dcm"))
tool("dcmdjpeg", P("jpeg_baseline.dcm"), os.path.join(TMP, "jpeg_baseline_dec.dcm"))
tool("dcmdjpeg", P("jpeg_lossless.dcm"), os.path.join(TMP, "jpeg_lossless_dec.dcm"))
same_as = {"jpeg_lossless.dcm": cases["u12_win"], "jpegls.dcm": cases["s16_win"], "rle.dcm": cases["u16"],
           "jpeg_baseline.dcm": os.path.join(TMP, "jpeg_baseline_dec.dcm")}
# img2dcm: a JPEG file wrapped as it is (JPEG baseline transfer syntax, no PatientID)
from PIL import Image  # noqa: E402
Image.fromarray(np.round(f0 * 255).astype(np.uint8)).save(os.path.join(TMP, "plain.jpg"), quality=95)
tool("img2dcm", "-i", "JPEG", os.path.join(TMP, "plain.jpg"), P("img2dcm.dcm"))
tool("dcmdjpeg", P("img2dcm.dcm"), os.path.join(TMP, "img2dcm_dec.dcm"))
same_as["img2dcm.dcm"] = os.path.join(TMP, "img2dcm_dec.dcm")
check(pydicom.dcmread(P("jpeg_lossless.dcm")).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.70",
      "dcmcjpeg +e1 wrote JPEG lossless SV1")

out = os.path.join(TMP, "good.h5")
r = prep(good, out)
require(r.returncode == 0, "prep of the good DICOM files: " + r.stderr[-600:])
d = load(out)
n_files = len(os.listdir(cls))
check(len(d["images"]) == n_files, "all %d DICOM files prepared, found %d" % (n_files, len(d["images"])))
check(d["skipped"] == [], "nothing skipped: %s" % d["skipped"])
check("dicom(modality,voi=file-else-auto(p0.5..p99.5),mono1-inverted)" in d["pre"],
      "preprocessing records the DICOM pipeline: " + d["pre"])
notes = [ln for ln in r.stderr.splitlines() if ln.startswith("note ")]
check(len(notes) == 1 and "x/multi.dcm" in notes[0] and "3 frames" in notes[0], "one multi-frame note: %s" % notes)

worst = 0.0
for name, path in list(cases.items()) + [(k, v) for k, v in same_as.items()]:
    rel = "x/" + (os.path.basename(path) if name in cases else name)
    got = d["images"].get(rel)
    if got is None:
        check(False, "%s missing from the data set" % rel)
        continue
    ref = reference(path)
    diff = np.abs(got.astype(np.float64) - ref).max()
    worst = max(worst, diff)
    tol = 1.0 if name == "voilut" else 0.5  # DCMTK renders VOI LUTs (truncating); windows are rounded
    check(diff <= tol + 1e-6, "%s: pixels equal pydicom's modality+VOI within %g (max diff %.3f)" % (rel, tol, diff))
    check(got.min() == 0 and got.max() == 255, "%s spans 0..255 (the final stretch is the identity)" % rel)
print("max |prep - pydicom modality+VOI| over %d DICOM files: %.3f (of 255)" % (len(cases) + len(same_as), worst))

im = d["images"]
for a, b in (("x/m1.dcm", "x/m2.dcm"), ("x/m1_auto.dcm", "x/m2_auto.dcm")):
    diff = np.abs(im[a].astype(int) - im[b].astype(int)).max()
    check(diff == 0, "%s and %s: MONOCHROME1 and 2 of one image give the same output (max diff %d)" % (a, b, diff))
    print("info %s vs %s: %d pixel(s) differ, max %d" % (a, b, int((im[a] != im[b]).sum()), diff))
ref_m1 = reference(cases["m1"])
check(np.abs(im["x/m1.dcm"] - (255 - ref_m1)).max() > 100, "negative control: MONOCHROME1 left uninverted is far off")
check(np.abs(im["x/voilut.dcm"] - reference(cases["voilut"], (1900, 2800))).max() > 10,
      "negative control: the VOI LUT is not a plain window")

# patient ids: hashed, same patient -> same id; no name, no raw id in the file
pids = d["pids"]
hexid = re.compile(r"^[0-9a-f]{32}$")
check(all(hexid.match(pids[k]) for k in pids if k != "x/img2dcm.dcm"), "hashed ids are 32 hex digits: %s" % pids)
check(pids["x/img2dcm.dcm"] == "" or hexid.match(pids["x/img2dcm.dcm"]), "img2dcm file: no or hashed id")
check(pids["x/u8.dcm"] == pids["x/m2.dcm"] != pids["x/u16.dcm"] == pids["x/s16_win.dcm"],
      "same PatientID -> same hash, different -> different")
raw = open(out, "rb").read()
for secret in (b"Doe^Jane", b"Confidential", b"PID-A", b"PID-B"):
    check(secret not in raw, "%r appears nowhere in the HDF5 file" % secret)
out2 = os.path.join(TMP, "good2.h5")
r = prep(good, out2)
require(r.returncode == 0, "second prep: " + r.stderr[-300:])
check(load(out2)["pids"]["x/u8.dcm"] != pids["x/u8.dcm"], "a random salt per run: ids differ between runs")
salt = os.path.join(TMP, "salt")
open(salt, "wb").write(os.urandom(32))
ids = []
for k in range(2):
    o = os.path.join(TMP, "salted%d.h5" % k)
    require(prep(good, o, "--id-salt-file", salt).returncode == 0, "prep with --id-salt-file")
    ids.append(load(o)["pids"])
check(ids[0] == ids[1], "--id-salt-file: the same ids in two runs")
o = os.path.join(TMP, "keep.h5")
r = prep(good, o, "--keep-ids", "--window", "auto")
require(r.returncode == 0, "prep --keep-ids --window auto: " + r.stderr[-300:])
dk = load(o)
check(dk["pids"]["x/u8.dcm"] == "PID-A" and dk["pids"]["x/u16.dcm"] == "PID-B", "--keep-ids stores the raw ids")
check(b"Doe^Jane" not in open(o, "rb").read(), "--keep-ids still drops PatientName")
check("voi=auto(p0.5..p99.5)" in dk["pre"], "--window auto recorded: " + dk["pre"])
diff = np.abs(dk["images"]["x/u12_win.dcm"] - reference(cases["u12_win"], "auto")).max()
check(diff <= 1, "--window auto overrides the file's window (max diff %.3f)" % diff)
o = os.path.join(TMP, "study.h5")
require(prep(good, o, "--keep-ids", "--patient-from", "study").returncode == 0, "prep --patient-from study")
ds_ = load(o)
check(ds_["pids"]["x/u8.dcm"] == STUDY["PID-A"] and ds_["pids"]["x/u16.dcm"] == STUDY["PID-B"],
      "--patient-from study: StudyInstanceUID")
o = os.path.join(TMP, "fixed.h5")
require(prep(good, o, "--window", "1900,800").returncode == 0, "prep --window 1900,800")
df = load(o)
check("voi=window(c=1900,w=800)" in df["pre"], "--window C,W recorded: " + df["pre"])
diff = np.abs(df["images"]["x/m2.dcm"] - reference(cases["m2"], (1900, 800))).max()
check(diff <= 1, "--window 1900,800 (max diff %.3f)" % diff)
check(prep(good, o, "--window", "1,0").returncode == 2, "--window with width 0 is a usage error")

# a manifest's patient_id wins over the file's
man = os.path.join(TMP, "manifest.csv")
open(man, "w").write("path,label,patient_id\nx/u8.dcm,x,manifest-7\nx/u16.dcm,x,\n")
o = os.path.join(TMP, "manifest.h5")
r = run_hipid("prep", good, "--manifest", man, "-o", o, *PREP)
require(r.returncode == 0, "prep with a manifest: " + r.stderr[-300:])
dm = load(o)
check(dm["pids"]["x/u8.dcm"] == "manifest-7" and hexid.match(dm["pids"]["x/u16.dcm"]),
      "manifest patient_id wins, an empty one falls back to the file's: %s" % dm["pids"])

# ---- bad files: one skip line each, the rest written ----------------------------
bad_cls = os.path.join(TMP, "bad", "x")
os.makedirs(bad_cls)
B = lambda name: os.path.join(bad_cls, name)  # noqa: E731
open(B("corrupt.dcm"), "wb").write(np.random.default_rng(1).bytes(3000))
whole = open(cases["u12_win"], "rb").read()
open(B("truncated.dcm"), "wb").write(whole[:len(whole) // 2])
open(B("preamble_garbage"), "wb").write(b"\0" * 128 + b"DICM" + np.random.default_rng(2).bytes(500))
sr_meta = FileMetaDataset()
sr_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
sr_meta.MediaStorageSOPInstanceUID = generate_uid()
sr_meta.TransferSyntaxUID = ExplicitVRLittleEndian
sr = FileDataset(B("report.dcm"), {}, file_meta=sr_meta, preamble=b"\0" * 128)
sr.is_little_endian, sr.is_implicit_VR = True, False
sr.SOPClassUID, sr.SOPInstanceUID = sr_meta.MediaStorageSOPClassUID, sr_meta.MediaStorageSOPInstanceUID
sr.PatientName, sr.PatientID, sr.Modality, sr.ValueType = NAME, "PID-A", "SR", "CONTAINER"
sr.save_as(B("report.dcm"), write_like_original=False)


def with_syntax(src, dst, uid):
    """src's dataset under another transfer syntax UID, pixel data encapsulated junk."""
    ds = pydicom.dcmread(src)
    ds.file_meta.TransferSyntaxUID = uid
    frag = np.random.default_rng(3).bytes(400)
    ds.PixelData = pydicom.encaps.encapsulate([frag])
    ds["PixelData"].is_undefined_length = True
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(dst, write_like_original=True)


with_syntax(cases["u8"], B("j2k.dcm"), "1.2.840.10008.1.2.4.90")
with_syntax(cases["u8"], B("private.dcm"), "1.2.826.0.1.3680043.9999.1")
bad_names = sorted(os.listdir(bad_cls))
for n_ in ("u8.dcm", "m2.dcm"):
    shutil.copy(cases[n_.split(".")[0]], B(n_))
o = os.path.join(TMP, "mixed.h5")
r = prep(os.path.join(TMP, "bad"), o)
require(r.returncode == 0, "prep with bad files among good ones: " + r.stderr[-600:])
skips = [ln for ln in r.stderr.splitlines() if ln.startswith("skip ")]
for ln in skips:
    print("info " + ln)
for name in bad_names:
    mine = [ln for ln in skips if ln.startswith("skip x/%s: " % name)]
    check(len(mine) == 1, "one skip line for %s, found %d" % (name, len(mine)))
check(len(r.stderr.strip().splitlines()) == len(bad_names), "stderr holds only the skip lines:\n" + r.stderr)
check(any("1.2.840.10008.1.2.4.90" in ln for ln in skips if "j2k.dcm" in ln), "JPEG 2000 skip names the UID")
check(any("1.2.826.0.1.3680043.9999.1" in ln for ln in skips if "private.dcm" in ln), "private syntax skip names the UID")
check(any("pixel data" in ln for ln in skips if "report.dcm" in ln), "the SR skip says it has no pixel data")
dx = load(o)
check(sorted(dx["images"]) == ["x/m2.dcm", "x/u8.dcm"], "the good files are written: %s" % sorted(dx["images"]))
check(len(dx["skipped"]) == len(bad_names), "the skipped dataset lists the %d bad files" % len(bad_names))
check(b"Doe^Jane" not in open(o, "rb").read(), "the SR's PatientName is not in the file either")

for n_ in ("u8.dcm", "m2.dcm"):
    os.remove(B(n_))
o = os.path.join(TMP, "onlybad.h5")
r = prep(os.path.join(TMP, "bad"), o)
errs = [ln for ln in r.stderr.splitlines() if not ln.startswith("skip ")]
check(r.returncode == 1, "a folder of only bad files fails (exit %d)" % r.returncode)
check(len(errs) == 1 and errs[0].startswith("hipid prep: "), "one clear error: %s" % errs)
check(not os.path.exists(o) and not [f for f in os.listdir(TMP) if f.startswith("onlybad")], "nothing written")
# ---- hipid predict reads DICOM as prep did --------------------------------------
# two classes of phantoms (the disc left or right), 16-bit with a window, half
# MONOCHROME1; a tiny sweep on their data set; predict on the raw .dcm files of
# the test rows must give the trial's stored test probabilities
pred_src = os.path.join(TMP, "pred")
for k, side in enumerate(("left", "right")):
    os.makedirs(os.path.join(pred_src, side))
    for i in range(12):
        f = base_image(100 + 12 * k + i)
        f = f[:, ::-1] if side == "right" else f
        st = stored_values(f, 16, False)
        mono1 = i % 2 == 1
        write_dcm(os.path.join(pred_src, side, "%02d.dcm" % i), 65535 - st if mono1 else st, 16,
                  mono="MONOCHROME1" if mono1 else "MONOCHROME2", pid="P%d%02d" % (k, i),
                  WindowCenter=(65535 - 30000 + 1) if mono1 else 30000, WindowWidth=50000)
pred_data = os.path.join(TMP, "pred.h5")
r = prep(pred_src, pred_data)
require(r.returncode == 0, "prep of the two-class DICOM set: " + r.stderr[-300:])
pred_out = os.path.join(TMP, "pred-res")
with open(os.path.join(TMP, "pred.ini"), "w") as f:
    f.write("[job]\nname = dcm\nseeds = 1\n[data]\npath = %s\n[cv]\nscheme = holdout\nrepeats = 1\n"
            "fractions = 0.5, 0.25, 0.25\n[family cnn]\nmodel = c4,bn,r,mp2\noptimizer = adam\nlr = 0.003\n"
            "batch = 4\nepochs = 2\n[run]\noutput = %s\n" % (pred_data, pred_out))
env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
r = run(["mpirun", "--oversubscribe", "-np", "2", hipid(), "sweep", "--quiet", os.path.join(TMP, "pred.ini")],
        timeout=600, env=env)
require(r.returncode == 0, "tiny sweep on the DICOM set: " + r.stderr[-600:])
trial = [os.path.join(pred_out, "trials", t) for t in os.listdir(os.path.join(pred_out, "trials"))
         if t.endswith(".h5")][0]
with h5py.File(trial) as f:
    idx = f["predictions/test_index"][()]
    prob = f["predictions/test_prob"][()]
    names = [n.decode() if isinstance(n, bytes) else n for n in f["class_names"][()]]
with h5py.File(pred_data) as f:
    rel = [p_.decode() if isinstance(p_, bytes) else p_ for p_ in f["source_paths"][()]]
r = run_hipid("predict", "--model", trial, "--format", "json", *[os.path.join(pred_src, rel[i]) for i in idx])
try:
    js = json.loads(r.stdout)
    diff = max(abs(row["probs"][n] - prob[i][k]) for i, row in enumerate(js) for k, n in enumerate(names))
except Exception as ex:  # noqa: BLE001
    js, diff = [], float("inf")
    print("info predict output:", ex, r.stdout[:300], r.stderr[-300:])
print("max |predict on .dcm - stored test_prob|: %.3g over %d films" % (diff, len(idx)))
check(r.returncode == 0 and len(js) == len(idx) and diff < 1e-5,
      "predict on the raw DICOM files gives the stored test probabilities (max diff %.2e)" % diff)
# control: the same films with another window in the file give other probabilities
shifted = []
for i in idx:
    ds = pydicom.dcmread(os.path.join(pred_src, rel[i]))
    ds.WindowCenter = float(ds.WindowCenter) + 8000
    shifted.append(os.path.join(TMP, "shifted-%d.dcm" % i))
    ds.save_as(shifted[-1])
r = run_hipid("predict", "--model", trial, "--format", "json", *shifted)
try:
    js = json.loads(r.stdout)
    alt = max(abs(row["probs"][n] - prob[i][k]) for i, row in enumerate(js) for k, n in enumerate(names))
except Exception:  # noqa: BLE001
    alt = 0.0
check(r.returncode == 0 and alt > 1e-3, "control: a shifted window in the files changes the probabilities (%.3g)" % alt)

done()
