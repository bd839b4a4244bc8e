"""Leakage audit of hipid prep: flipped, re-encoded and resized copies of an
X-ray land in the group of the original, a copy filed under another class is
listed as a label conflict (same near-duplicate group, separate leakage
groups: the user decides), and hipid's split_holdout never puts one group on
both sides.

A small ImageFolder tree is built in TEST_TMP from real shoulder X-rays
(copies in the scratch folder only) plus altered copies made with Pillow.
The same tree prepared with --dup-threshold -1 must NOT group the copies:
that shows the checks here can fail.

Environment: HIPID, TEST_BIN, TEST_TMP, HIPID_ROOT.
"""
import io
import os
import re
import shutil
import sys

import h5py
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, failures, require, run, run_hipid, data_dir, test_bin, tmp_dir  # noqa: E402

BIN = test_bin("check_prep")
TMP = tmp_dir("dups")
SRC = data_dir("shoulder-implants")

tree = os.path.join(TMP, "dups")
for c in ("Cofield", "Zimmer"):
    os.makedirs(os.path.join(tree, c))
originals = {"Cofield": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "Zimmer": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
for c, nums in originals.items():
    for n in nums:
        shutil.copy(os.path.join(SRC, c, "%s.%d.jpg" % (c, n)), os.path.join(tree, c))


def save(img, path, **kw):
    img.save(os.path.join(tree, path), **kw)


def reencoded(img, q):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def load(c, n):
    return Image.open(os.path.join(SRC, c, "%s.%d.jpg" % (c, n))).convert("RGB")


# copy -> original (both paths relative to the tree)
copies = {}
im = load("Cofield", 2)  # flipped, re-encoded at quality 80, resized to 85%
w, h = im.size
save(reencoded(im.transpose(Image.FLIP_LEFT_RIGHT), 80).resize((int(w * .85), int(h * .85)), Image.BILINEAR),
     "Cofield/zz_flip_resized.jpg", quality=90)
copies["Cofield/zz_flip_resized.jpg"] = "Cofield/Cofield.2.jpg"
im = load("Zimmer", 5)  # flipped and saved as 16-bit PNG at 120%
big = im.transpose(Image.FLIP_LEFT_RIGHT).convert("L").resize((int(w * 1.2), int(h * 1.2)), Image.BICUBIC)
Image.fromarray(np.asarray(big).astype(np.uint16) * 257).save(os.path.join(tree, "Zimmer/zz_flip16.png"))
copies["Zimmer/zz_flip16.png"] = "Zimmer/Zimmer.5.jpg"
im = load("Cofield", 7)  # the same film filed under the other class, re-exported at quality 70
save(reencoded(im, 70), "Zimmer/zz_misfiled.jpg", quality=70)
copies["Zimmer/zz_misfiled.jpg"] = "Cofield/Cofield.7.jpg"


def prep(src, out, *extra):
    r = run_hipid("prep", src, "-o", out, *extra)
    print(r.stdout)
    print(r.stderr, file=sys.stderr)
    require(r.returncode == 0, "hipid prep %s exited %d" % (src, r.returncode))
    f = h5py.File(out, "r")
    paths = [p.decode() for p in f["source_paths"][:]]
    return r.stdout, dict(zip(paths, f["groups"][:])), f


def same_class(a, b):
    return a.split("/")[0] == b.split("/")[0]


out = os.path.join(TMP, "dups.h5")
stdout, group, f = prep(tree, out)
dup = dict(zip([p.decode() for p in f["source_paths"][:]], f["dup_groups"][:]))
for c, o in copies.items():
    check(dup[c] == dup[o], "%s found as a copy of %s (near-duplicate groups %d vs %d)" % (c, o, dup[c], dup[o]))
    if same_class(c, o):
        check(group[c] == group[o], "%s grouped with %s (%d vs %d)" % (c, o, group[c], group[o]))
    else:
        check(group[c] != group[o], "%s, filed under another class than %s, is not merged into its leakage group"
              % (c, o))
n_groups = len(set(group.values()))
merged = sum(1 for c, o in copies.items() if same_class(c, o))
check(n_groups == len(group) - merged, "only the same-class copies merge: %d groups for %d images" % (n_groups, len(group)))
m = re.search(r"^copies of one radiograph .*: (\d+) group\(s\)", stdout, re.M)
check(m is not None and int(m.group(1)) == len(copies), "prep reports %d copy groups" % len(copies))
check(re.search(r"^conflict \d+ \(2 images: Cofield 1, Zimmer 1\): .*Cofield/Cofield.7.jpg.*Zimmer/zz_misfiled.jpg",
                stdout, re.M) is not None, "a copy filed under two classes is listed as a label conflict")
f.close()

# split_holdout keeps every group on one side, over many seeds
r = run([BIN, "split", out, "50"])
print(r.stdout, r.stderr)
check(r.returncode == 0 and r.stdout.startswith("ok"), "split_holdout never splits a group")

# negative control: without the audit the copies are separate groups
_, group_off, f_off = prep(tree, os.path.join(TMP, "dups_off.h5"), "--dup-threshold", "-1")
check(all(group_off[c] != group_off[o] for c, o in copies.items()),
      "with --dup-threshold -1 the copies are NOT grouped (the checks above can fail)")
f_off.close()

# manifest with patient ids: same patient -> same group, merged with duplicates
csv = os.path.join(tree, "manifest.csv")
rows = [("Cofield/Cofield.1.jpg", "Cofield", "P1"), ("Cofield/Cofield.3.jpg", "Cofield", "P1"),
        ("Zimmer/Zimmer.1.jpg", "Zimmer", "P1"),  # one patient, two implants
        ("Cofield/Cofield.2.jpg", "Cofield", "P2"), ("Cofield/zz_flip_resized.jpg", "Cofield", "P3"),
        ("Cofield/Cofield.4.jpg", "Cofield", "P3"),  # P2 ~ P3 through the duplicate
        ("Zimmer/Zimmer.2.jpg", "Zimmer", ""), ("Zimmer/Zimmer.3.jpg", "Zimmer", ""),
        ("Cofield/Cofield.5.jpg", "Cofield", ""), ("Zimmer/Zimmer.4.jpg", "Zimmer", "")]
with open(csv, "w") as fh:
    fh.write("path,label,patient_id,note\n")
    for p, lab, pid in rows:
        fh.write('%s,%s,%s,"free text, with a comma"\n' % (p, lab, pid))
_, g, fm = prep(csv, os.path.join(TMP, "dups_manifest.h5"))
pids = [p.decode() for p in fm["patient_ids"][:]]
check(pids == [r[2] for r in rows], "patient_ids stored as given")
check(g["Cofield/Cofield.1.jpg"] == g["Cofield/Cofield.3.jpg"] == g["Zimmer/Zimmer.1.jpg"], "patient P1 is one group")
check(g["Cofield/Cofield.2.jpg"] == g["Cofield/zz_flip_resized.jpg"] == g["Cofield/Cofield.4.jpg"],
      "P2 and P3 merged through the near-duplicate")
check(len(set(g.values())) == 6, "10 rows -> 6 groups, found %d" % len(set(g.values())))
fm.close()
r = run([BIN, "split", os.path.join(TMP, "dups_manifest.h5"), "50"])
check(r.returncode == 0, "split_holdout keeps patient groups whole: %s" % (r.stdout + r.stderr).strip())

print("info dups: %d copies grouped with their originals, %d failures" % (len(copies), failures()))
done()
