"""Otsu threshold and 8-connected components of hipid prep against
scikit-image, on real X-rays from data/shoulder-implants.

check_prep dump runs prep's own steps (decode, working size, optional
background step, vips_hist_find + otsu_threshold, label_components8) and
writes what went in and what came out; here skimage.filters.threshold_otsu
and skimage.measure.label(connectivity=2) redo the work on the same input.
Thresholds must be equal (not within a bin: the C code does skimage's
arithmetic in the same order), masks and largest components identical.
A second part feeds random histograms to both.

Environment: TEST_BIN (compiled helpers), TEST_TMP, HIPID_ROOT.
"""
import glob
import os
import sys

import numpy as np
from PIL import Image
from skimage.filters import threshold_otsu
from skimage.measure import label

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, prep_dump_records, require, run, data_dir, test_bin, tmp_dir  # noqa: E402

BIN = test_bin("check_prep")
TMP = tmp_dir("otsu")
SRC = data_dir("shoulder-implants")

files = sorted(glob.glob(os.path.join(SRC, "*", "*.jpg")))
require(len(files) == 597, "expected the 597 shoulder X-rays in %s, found %d" % (SRC, len(files)))
# every 2nd image, plus every image larger than 250 px (they are shrunk first)
big = [f for f in files if max(Image.open(f).size) > 250]
sample = sorted(set(files[::2]) | set(big))


n_img = 0
max_dt = 0
for radius in ("0", "0.35"):  # the grey image itself, and after the background step
    out = os.path.join(TMP, "otsu_dump_%s.bin" % radius)
    r = run([BIN, "dump", out, radius] + sample)
    require(r.returncode == 0, "check_prep dump exited %d: %s" % (r.returncode, r.stderr.strip()))
    recs = list(prep_dump_records(out))
    require(len(recs) == len(sample), "check_prep wrote %d records for %d images" % (len(recs), len(sample)))
    for f, (t, nc, (grey, otsu_in, mask, keep)) in zip(sample, recs):
        n_img += 1
        name = "%s (background %s)" % (os.path.relpath(f, SRC), radius)
        t_sk = int(threshold_otsu(otsu_in))
        max_dt = max(max_dt, abs(t - t_sk))
        if not check(t == t_sk, "%s: threshold %d, skimage %d" % (name, t, t_sk)):
            continue
        m = otsu_in > t_sk
        if not check(np.array_equal(mask.astype(bool), m),
                     "%s: Otsu mask differs in %d px" % (name, int((mask.astype(bool) != m).sum()))):
            continue
        lab = label(m, connectivity=2)
        check(lab.max() == nc, "%s: %d components, skimage %d" % (name, nc, lab.max()))
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        best = lab == int(np.argmax(sizes))  # ties: lowest label = first in raster order
        if sizes.max() == 0:
            best[:] = False
        check(np.array_equal(keep.astype(bool), best),
              "%s: largest component differs in %d px" % (name, int((keep.astype(bool) != best).sum())))
    os.remove(out)

# random histograms: sparse, gappy, skewed, with empty ends
rng = np.random.default_rng(7)
hists = []
for k in range(300):
    h = np.zeros(256, np.int64)
    lo, hi = sorted(rng.choice(256, 2, replace=False))
    kind = k % 3
    if kind == 0:
        h[lo:hi + 1] = rng.integers(0, 1000, hi - lo + 1)
    elif kind == 1:
        for c in rng.integers(lo, hi + 1, 3):
            h += (rng.integers(1000, 100000) * np.exp(-0.5 * ((np.arange(256) - c) / rng.uniform(2, 30)) ** 2)).astype(np.int64)
    else:
        idx = rng.choice(256, rng.integers(2, 12), replace=False)
        h[idx] = rng.integers(1, 10 ** 6, len(idx))
    h[lo] += 1
    h[hi] += 1  # at least two distinct values
    hists.append(h)
txt = "\n".join(" ".join(map(str, h)) for h in hists) + "\n"
r = run([BIN, "otsu"], input=txt)
require(r.returncode == 0, "check_prep otsu exited %d: %s" % (r.returncode, r.stderr.strip()))
got = r.stdout.split()
for h, g in zip(hists, got):
    want = int(threshold_otsu(hist=(h, np.arange(256))))
    check(int(g) == want, "histogram %s...: threshold %s, skimage %d" % (h[:8].tolist(), g, want))
check(len(got) == len(hists), "check_prep otsu answered %d of %d histograms" % (len(got), len(hists)))

print("max threshold difference vs skimage: %d over %d images (%d files x 2 inputs) and %d histograms"
      % (max_dt, n_img, len(sample), len(hists)))
done()
