"""hipid prep on the real shoulder-implant X-rays: class counts as in the data
folder's README (or every missing image named in a skip line), and the HDF5
output read back with h5py against the documented layout (docs/data.md).
Then --progress: lines that reach a pipe while prep still runs, counts that
grow, none with --progress 0, a usage error for a negative value.

Environment: HIPID (binary), TEST_TMP (scratch), HIPID_ROOT (project root).
"""
import hashlib
import os
import re
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, hipid, require, run_hipid, data_dir, tmp_dir  # noqa: E402

TMP = tmp_dir("shoulder")
SRC = data_dir("shoulder-implants")
S = 128


def readme_counts():
    """The class table of the data folder's README: | Name | count |."""
    section = open(os.path.join(SRC, "README.md")).read()
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^\|\s*(\w+)\s*\|\s*(\d+)\s*\|", section, re.M)}


out = os.path.join(TMP, "shoulder.h5")
preview = os.path.join(TMP, "shoulder_preview.png")
r = run_hipid("prep", SRC, "-o", out, "--preview", preview)
print(r.stdout)
print(r.stderr, file=sys.stderr)
require(r.returncode == 0, "hipid prep exited %d" % r.returncode)

expected = readme_counts()
check(expected == {"Cofield": 83, "Depuy": 294, "Tornier": 71, "Zimmer": 149},
      "README table parsed: %s" % expected)
skips = re.findall(r"^skip (\S+): (.+)$", r.stderr, re.M)
skipped_by_class = {}
for path, reason in skips:
    check(reason.strip() != "", "skip line for %s gives a reason" % path)
    skipped_by_class[path.split("/")[0]] = skipped_by_class.get(path.split("/")[0], 0) + 1

# summary: per-class counts, skipped, duplicate groups, seconds
m = re.search(r"^prep: (\d+) images 128x128 in 4 classes, (\d+) skipped, ([\d.]+) s$", r.stdout, re.M)
check(m is not None, "summary line")
check(re.search(r"^copies of one radiograph .*: \d+ group\(s\), the largest \d+, \d+ label conflict", r.stdout,
                re.M) is not None, "copy-group count printed")
printed = dict((k, int(v)) for k, v in re.findall(r"^  class (\S+)\s+(\d+)$", r.stdout, re.M))
for name, n in expected.items():
    check(printed.get(name, 0) + skipped_by_class.get(name, 0) == n,
          "class %s: %d prepared + %d skipped == README's %d" %
          (name, printed.get(name, 0), skipped_by_class.get(name, 0), n))

f = h5py.File(out, "r")
# root attributes
a = f.attrs
check(a["format"] in (b"hipid-dataset", "hipid-dataset"), "format attribute")
check(int(a["format_version"]) == 1, "format_version 1")
check(int(a["image_size"]) == S and int(a["n_classes"]) == 4, "image_size / n_classes")
pre = a["preprocessing"].decode() if isinstance(a["preprocessing"], bytes) else a["preprocessing"]
for word in ("background(median", "otsu(mask)", "largest(8-conn)", "invert", "resize=128", "minmax"):
    check(word in pre, "preprocessing attribute mentions %s: %s" % (word, pre))
check("shoulder-implants" in str(a["source"]), "source attribute")

N = sum(printed.values())
images = f["images"]
check(images.dtype == np.uint8 and images.shape == (N, S, S), "images uint8 [N,S,S]: %s %s" % (images.dtype, images.shape))
check(images.chunks == (1, S, S) and images.compression == "gzip", "images chunked (1,S,S) + deflate")
for name, dtype in (("labels", np.int32), ("groups", np.int32), ("dup_groups", np.int32)):
    check(f[name].dtype == dtype and f[name].shape == (N,), "%s int32 [N]" % name)
check(f["phash"].dtype == np.uint64 and f["phash"].shape == (N, 4), "phash uint64 [N,4]")
check(int(f["phash"].attrs["dup_threshold"]) >= 0 and "dct-phash-256" in str(f["phash"].attrs["method"]),
      "phash attributes")
for name, n in (("class_names", 4), ("source_paths", N), ("source_sha256", N), ("patient_ids", N)):
    info = h5py.check_string_dtype(f[name].dtype)
    check(info is not None and info.encoding == "utf-8" and info.length is None and f[name].shape == (n,),
          "%s: variable-length UTF-8 string [%d]" % (name, n))
check("skipped" in f and f["skipped"].shape == (len(skips),), "skipped [M] lists the %d skips" % len(skips))

names = [s.decode() for s in f["class_names"][:]]
check(names == sorted(expected), "class_names in sorted folder order: %s" % names)
labels = f["labels"][:]
paths = [s.decode() for s in f["source_paths"][:]]
shas = [s.decode() for s in f["source_sha256"][:]]
check(np.bincount(labels, minlength=4).tolist() == [printed[n] for n in names], "labels match the counts")
bad_label = [p for p, l in zip(paths, labels) if p.split("/")[0] != names[l]]
check(not bad_label, "every label matches its folder (%d wrong)" % len(bad_label))
check(len(set(paths)) == N and all(not p.startswith("/") for p in paths), "paths unique and relative")
bad_sha = [p for p, h in zip(paths, shas)
           if hashlib.sha256(open(os.path.join(SRC, p), "rb").read()).hexdigest() != h]
check(not bad_sha, "source_sha256 == sha256 of the file bytes (%d differ)" % len(bad_sha))

# groups: [0,N), numbered by first appearance, near-duplicates inside one group
groups, dup = f["groups"][:], f["dup_groups"][:]
check(groups.min() >= 0 and groups.max() < N, "groups in [0,N)")
first = {}
for g in groups:
    first.setdefault(g, len(first))
check(all(first[g] == g for g in first), "groups numbered by first appearance")
labels = f["labels"][:]
for c in np.unique(dup):
    members = np.nonzero(dup == c)[0]
    for lab in np.unique(labels[members]):  # a label conflict: one leakage group per label
        same = members[labels[members] == lab]
        check(len(np.unique(groups[same])) == 1, "dup cluster %d, label %d shares one group" % (c, lab))

# images: min-max normalised, inverted (implant dark on white)
im = images[:]
check(int(im.max()) == 255 and (im.reshape(N, -1).min(1) == 0).mean() > 0.99, "images stretched to 0..255")
check(np.median(im) == 255, "inverted: background white")

# preview: a PNG with 8 rows of 6 tiles (original, 4 steps, final)
check(os.path.exists(preview) and open(preview, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "preview PNG written")
from skimage import io as skio  # noqa: E402
pv = skio.imread(preview)
check(pv.shape[1] == 6 * 132 - 4 and pv.shape[0] == 24 + 8 * 132 - 4, "preview 8 rows x 6 tiles: %s" % (pv.shape,))

print("info prep shoulder: %d images, %d skipped, %s" % (N, len(skips), m.group(0) if m else "?"))

# --progress: flushed lines a tailed log sees while prep runs
PROGRESS = re.compile(r"^prep: (\d+) of (\d+) files \((\d+) kept\), \d+ s, about [\d.]+ min left$")
proc = subprocess.Popen([hipid(), "prep", SRC, "-o", os.path.join(TMP, "progress.h5"), "--size", "32",
                         "--progress", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
seen, running_at_first = [], None
for line in proc.stdout:
    g = PROGRESS.match(line.rstrip("\n"))
    if g:
        if running_at_first is None:
            running_at_first = proc.poll() is None
        seen.append((int(g.group(1)), int(g.group(2)), int(g.group(3))))
proc.wait(timeout=600)
check(proc.returncode == 0 and len(seen) >= 2, "--progress 0.05: prep exits 0 with %d progress lines" % len(seen))
check(running_at_first is True, "the first progress line reaches the pipe while prep still runs")
check(all(b[0] > a[0] and b[2] >= a[2] for a, b in zip(seen, seen[1:])) and
      all(t == seen[0][1] and t >= len(paths) and k <= d < t for d, t, k in seen),
      "progress counts grow and stay below the files' total (at least the %d kept): %s" % (len(paths), seen[:3]))
r = run_hipid("prep", SRC, "-o", os.path.join(TMP, "quiet.h5"), "--size", "32", "--progress", "0",
              "--dup-threshold", "-1")
check(r.returncode == 0 and not re.search(r"^prep: \d+ of \d+ files", r.stdout, re.M),
      "--progress 0: no progress line")
r = run_hipid("prep", SRC, "-o", os.path.join(TMP, "bad.h5"), "--progress", "-1")
check(r.returncode == 2 and "progress" in r.stderr and not os.path.exists(os.path.join(TMP, "bad.h5")),
      "--progress -1: usage error naming the option (%d: %s)" % (r.returncode, r.stderr.strip()[:120]))
done()
