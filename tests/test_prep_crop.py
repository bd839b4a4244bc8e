"""The crop step of hipid prep (`--steps ...,crop`) against scikit-image and
PIL, on real X-rays from data/shoulder-implants.

- The square: check_prep dump gives prep's largest 8-connected component of
  each film (test_prep_otsu.py checks it against skimage); check_prep cropbox
  runs prep_crop_box on it. skimage.measure.regionprops' bbox of that
  component gives the square independently: side = floor(L (1 + 2 m) + 0.5)
  for the box's longer side L and m = 0.04, centred on the box (prep.h). Both
  must agree exactly; with m = 0 they must not (so the check can fail).
- The image: hipid prep with background,otsu,largest,invert,crop at 128 px
  against the same steps redone in numpy from the dump (the background
  step's output masked by the component, inverted, cut to the square with
  white outside the film), resized by PIL's Lanczos and min-max stretched.
  libvips' lanczos3 and PIL's resample differently (a few films differ by
  1.5 to 3.5 grey levels on average), so the comparison is on the mean
  absolute difference per film: median below 0.5, 90% of films below 1, none
  above 4. Controls: the square shifted by a tenth of its side is at least
  twice as far on every film, and the uncropped prep ten times as far in the
  median.
- --steps crop without otsu or largest is refused with one line; the
  data set's preprocessing string names the step and reads back.

Environment: TEST_BIN (compiled helpers), TEST_TMP, HIPID_ROOT.
"""
import glob
import os
import sys

import h5py
import numpy as np
from PIL import Image
from skimage.measure import regionprops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, data_dir, done, prep_dump_records, require, run, run_hipid, test_bin, tmp_dir  # noqa: E402

BIN = test_bin("check_prep")
TMP = tmp_dir("crop")
SRC = data_dir("shoulder-implants")
MARGIN = 0.04
S = 128

classes = sorted(d for d in os.listdir(SRC) if os.path.isdir(os.path.join(SRC, d)))
films = []
for c in classes:  # 12 films per manufacturer, spread over the file-name order
    names = sorted(os.listdir(os.path.join(SRC, c)))
    films += [os.path.join(c, n) for n in names[::max(1, len(names) // 12)][:12]]
require(len(films) == 48, f"48 films, 12 per class ({len(films)})")


def square(keep, m):
    """(x0, y0, side) from skimage's bounding box of the component."""
    r0, c0, r1, c1 = regionprops(keep.astype(np.uint8))[0].bbox
    side = int(np.floor(max(r1 - r0, c1 - c0) * (1 + 2 * m) + 0.5))
    return int(np.floor((c0 + c1 - side) / 2 + 0.5)), int(np.floor((r0 + r1 - side) / 2 + 0.5)), side


# ---- the square -------------------------------------------------------------------------------
dump = os.path.join(TMP, "dump.bin")
r = run([BIN, "dump", dump, "0.35"] + [os.path.join(SRC, f) for f in films])
require(r.returncode == 0, "check_prep dump exited %d: %s" % (r.returncode, r.stderr.strip()))
recs = [planes for (_, _, planes) in prep_dump_records(dump)]
require(len(recs) == len(films), f"a record per film ({len(recs)})")
boxes = {}
for m in (MARGIN, 0.0):
    r = run([BIN, "cropbox", dump, repr(m)])
    require(r.returncode == 0, "check_prep cropbox exited %d: %s" % (r.returncode, r.stderr.strip()))
    boxes[m] = [tuple(int(v) for v in line.split()) for line in r.stdout.split("\n") if line]
want = [square(keep, MARGIN) for (_, _, _, keep) in recs]
same = sum(a == b for a, b in zip(boxes[MARGIN], want))
check(same == len(films), f"prep_crop_box = skimage regionprops' square on {same} of {len(films)} films")
check(sum(a != b for a, b in zip(boxes[0.0], want)) == len(films),
      "margin 0 gives another square on every film (the check can fail)")
outside = sum(x0 < 0 or y0 < 0 or x0 + s > keep.shape[1] or y0 + s > keep.shape[0]
              for (x0, y0, s), (_, _, _, keep) in zip(want, recs))
check(outside > 0, f"some squares reach past the film ({outside}), so the padding is exercised")

# ---- the image --------------------------------------------------------------------------------
manifest = os.path.join(TMP, "m.csv")
with open(manifest, "w") as f:
    f.write("path,label\n" + "".join(f"{p},{p.split('/')[0]}\n" for p in films))
out = {}
for steps in ("background,otsu,largest,invert,crop", "background,otsu,largest,invert"):
    path = os.path.join(TMP, steps.count(",") and f"d{steps.count(',')}.h5")
    p = run_hipid("prep", SRC, "--manifest", manifest, "--size", S, "--steps", steps, "-o", path, "-q",
                  "--dup-threshold", "-1", timeout=300)
    require(p.returncode == 0, f"prep --steps {steps}: " + p.stderr[-400:])
    with h5py.File(path) as d:
        src = [s.decode() if isinstance(s, bytes) else s for s in d["source_paths"][()]]
        pre = d.attrs["preprocessing"]
        pre = pre.decode() if isinstance(pre, bytes) else pre
        out[steps] = (dict(zip(src, d["images"][()])), pre)
crop, pre = out["background,otsu,largest,invert,crop"]
plain, _ = out["background,otsu,largest,invert"]
check(",invert,crop(mask-bbox,square,margin=0.04),resize=128(aspect,pad=255,lanczos3)" in pre,
      f"the preprocessing string names the crop after invert ({pre})")


def expected(otsu_in, keep, shift):
    inv = (255 - otsu_in * (keep > 0)).astype(np.uint8)
    x0, y0, side = square(keep, MARGIN)
    x0 += shift * side // 10
    sq = np.full((side, side), 255, np.uint8)
    h, w = inv.shape
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + side, h), min(x0 + side, w)
    sq[ys - y0:ye - y0, xs - x0:xe - x0] = inv[ys:ye, xs:xe]
    a = np.asarray(Image.fromarray(sq).resize((S, S), Image.LANCZOS)).astype(np.float64)
    lo, hi = a.min(), a.max()
    return np.round((a - lo) * 255 / (hi - lo)) if hi > lo else a


mad, mad_shift, mad_plain = [], [], []
for f, (_, otsu_in, _, keep) in zip(films, recs):
    got = crop[f].astype(np.float64)
    mad.append(np.abs(got - expected(otsu_in, keep, 0)).mean())
    mad_shift.append(np.abs(got - expected(otsu_in, keep, 1)).mean())
    mad_plain.append(np.abs(got - plain[f].astype(np.float64)).mean())
mad, mad_shift, mad_plain = np.array(mad), np.array(mad_shift), np.array(mad_plain)
check(np.median(mad) < 0.5 and np.mean(mad < 1.0) >= 0.9 and mad.max() < 4.0,
      f"hipid's crop = numpy + PIL's: mean absolute difference per film median {np.median(mad):.2f} grey levels, "
      f"{np.mean(mad < 1.0):.0%} of films below 1, at most {mad.max():.2f} (libvips and PIL resample differently)")
check(bool(np.all(mad_shift > 2 * mad)) and np.median(mad_plain) > 10 * np.median(mad),
      f"controls are far: on every film the square shifted by a tenth is at least twice as far "
      f"(closest ratio {np.min(mad_shift / np.maximum(mad, 1e-9)):.1f}); the uncropped prep median "
      f"{np.median(mad_plain):.1f} levels")

# ---- errors -----------------------------------------------------------------------------------
p = run_hipid("prep", SRC, "--manifest", manifest, "--steps", "invert,crop", "-o", os.path.join(TMP, "x.h5"))
check(p.returncode == 2 and p.stderr.count("\n") == 1 and "needs otsu or largest" in p.stderr
      and not os.path.exists(os.path.join(TMP, "x.h5")),
      f"crop without otsu or largest: exit 2, one line ({p.returncode}: {p.stderr.strip()[:200]})")
done()
