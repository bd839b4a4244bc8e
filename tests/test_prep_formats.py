"""hipid prep reads PNG (8 and 16 bit; grey, grey+alpha, RGB, RGBA, palette)
and JPEG (baseline and progressive; grey and RGB) to the same grey image,
and flattens transparency onto black.

One real X-ray is written in every format into TEST_TMP (16-bit PNGs by a
small PNG writer below: Pillow cannot write 16-bit RGB), prepared with
--steps none, and every output compared with the plain 8-bit grey PNG.

Environment: HIPID, TEST_TMP, HIPID_ROOT.
"""
import os
import struct
import sys
import zlib

import h5py
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, require, run_hipid, data_dir, tmp_dir  # noqa: E402

TMP = tmp_dir("formats")
SRC = data_dir("shoulder-implants")


def write_png(path, a, color_type):
    """a: (h, w[, c]) uint8 or uint16 array; color_type 0 grey, 2 RGB, 4 grey+alpha, 6 RGBA."""
    depth = 16 if a.dtype == np.uint16 else 8
    h, w = a.shape[:2]
    raw = a.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1).tobytes()
    stride = len(raw) // h
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)


tree = os.path.join(TMP, "formats")
os.makedirs(os.path.join(tree, "x"))
grey = np.asarray(Image.open(os.path.join(SRC, "Cofield", "Cofield.1.jpg")).convert("L"))
h, w = grey.shape
rgb = np.repeat(grey[:, :, None], 3, 2)
opaque = np.full((h, w), 255, np.uint8)
g16 = grey.astype(np.uint16) * 257


def p(name):
    return os.path.join(tree, "x", name)


Image.fromarray(grey).save(p("a_grey8.png"))
write_png(p("grey16.png"), g16, 0)
Image.fromarray(rgb).save(p("rgb8.png"))
write_png(p("rgb16.png"), np.repeat(g16[:, :, None], 3, 2), 2)
Image.fromarray(grey).convert("P").save(p("palette.png"))
Image.fromarray(np.dstack([grey, opaque])).save(p("grey_alpha8.png"))
write_png(p("grey_alpha16.png"), np.dstack([g16, opaque.astype(np.uint16) * 257]), 4)
Image.fromarray(np.dstack([rgb, opaque])).save(p("rgba8.png"))
Image.fromarray(grey).save(p("grey_baseline.jpg"), quality=95)
Image.fromarray(rgb).save(p("rgb_baseline.jpg"), quality=95)
Image.fromarray(grey).save(p("grey_progressive.jpg"), quality=95, progressive=True)
Image.fromarray(rgb).save(p("rgb_progressive.jpg"), quality=95, progressive=True)
# transparency: a white square that is fully transparent must come out black
hole = np.dstack([rgb, opaque]).copy()
hole[60:140, 60:140, :3] = 255
hole[60:140, 60:140, 3] = 0
Image.fromarray(hole).save(p("rgba_hole.png"))

out = os.path.join(TMP, "formats.h5")
r = run_hipid("prep", tree, "-o", out, "--steps", "none", "-q")
print(r.stdout)
print(r.stderr, file=sys.stderr)
require(r.returncode == 0, "hipid prep exited %d" % r.returncode)
f = h5py.File(out, "r")
paths = [s.decode() for s in f["source_paths"][:]]
ims = dict(zip(paths, f["images"][:].astype(int)))
ref = ims.pop("x/a_grey8.png")
hole_im = ims.pop("x/rgba_hole.png")
worst = 0.0
for name, im in sorted(ims.items()):
    d = np.abs(im - ref)
    jpeg = name.endswith(".jpg")
    ok = d.mean() <= (2.0 if jpeg else 0.5) and d.max() <= (24 if jpeg else 3)
    worst = max(worst, d.mean())
    print("%-22s mean |diff| %.3f  max %d  %s" % (name, d.mean(), d.max(), "ok" if ok else "FAIL"))
    check(ok, name)
check(len(paths) == 13, "expected 13 images, got %d" % len(paths))
# the hole (60..140 of 250 px, i.e. 31..71 of 128) is black; outside it, the image is unchanged
inside = hole_im[34:68, 34:68]
outside = np.ones_like(ref, bool)
outside[28:75, 28:75] = False
print("rgba_hole: inside mean %.1f (black = 0), outside mean |diff| %.2f"
      % (inside.mean(), np.abs(hole_im - ref)[outside].mean()))
check(not (inside.max() > 5 or np.abs(hole_im - ref)[outside].mean() > 2),
      "transparent region not flattened onto black")
# the 12 plain encodings are one picture: one duplicate group
dup = dict(zip(paths, f["dup_groups"][:]))
check(len(set(v for k, v in dup.items() if k != "x/rgba_hole.png")) == 1,
      "the 12 encodings of one image should form one duplicate group: %s" % dup)
print("max mean |diff| over formats: %.3f" % worst)
done()
