"""audit_bench.py: the copy-detection benchmark of hipid's leakage audit, on
real radiographs. Used by tests/test_audit.py (a small seeded instance with
pass/fail bounds) and bench/bench_audit.sh (a larger one, with timings).

make(out, seed, n_originals, n_copied): an ImageFolder tree under out/tree with
n_originals real shoulder radiographs (seeded choice) and, for n_copied of
them, 2 to 4 augmented copies each in the original's class folder. Each copy
combines at least one geometric change (a dihedral flip or quarter turn, a
rotation of 3 to 30 degrees with black corners or cropped to the valid area, an
off-centre crop or a centred zoom) with at least one photometric change
(brightness and contrast, gamma, a colour tint), maybe a resize, and JPEG
re-encoding at quality 50-95: what public collections hold under other names.
Returns {relative path: truth id}; originals that are known copies of each
other in the published set (data/shoulder-implants/duplicates.csv) share an id.

score(h5, truth): pairs of images with the same truth id (copy pairs) and with
different ids, against the data set's dup_groups: recall = copy pairs in one
group / copy pairs; false-merge rate = different-original pairs in one group /
different-original pairs; and the stricter share of grouped pairs that are
false merges.
"""
import csv
import itertools
import os
import shutil

import h5py
import numpy as np
from PIL import Image


def _dihedral(im, k):
    """k in 1..7: k%4 quarter turns, then a left-right flip if k >= 4."""
    ops = [None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270]
    if ops[k % 4] is not None:
        im = im.transpose(ops[k % 4])
    if k >= 4:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return im


def augment(im, rng):
    """A copy of the PIL RGB image im: (image, tags, JPEG quality)."""
    tags = []
    geo = rng.random(3) < np.array([0.5, 0.6, 0.5])  # dihedral, rotation, crop/zoom
    if not geo.any():
        geo[rng.integers(3)] = True
    if geo[0]:
        k = int(rng.integers(1, 8))
        im = _dihedral(im, k)
        tags.append(f"dihedral{k}")
    if geo[1]:
        ang = float(rng.uniform(-30, 30))
        if abs(ang) < 3:
            ang = 3.0 if ang >= 0 else -3.0
        w, h = im.size
        if rng.random() < 0.7:
            im = im.rotate(ang, resample=Image.Resampling.BILINEAR, expand=bool(rng.random() < 0.5),
                           fillcolor=(0, 0, 0))
            tags.append(f"rot{ang:+.0f}black")
        else:  # rotate, then crop to the square without black corners
            im = im.rotate(ang, resample=Image.Resampling.BILINEAR, expand=False)
            a = np.deg2rad(abs(ang))
            s = w / (np.cos(a) + np.sin(a))
            m = (w - s) / 2
            im = im.crop((int(np.ceil(m)), int(np.ceil(m)), int(w - m), int(h - m)))
            tags.append(f"rot{ang:+.0f}crop")
    if geo[2]:
        w, h = im.size
        if rng.random() < 0.5:  # off-centre crop keeping 75-100% of each side
            fx, fy = rng.uniform(0.75, 1.0, 2)
            cw, ch = int(round(w * fx)), int(round(h * fy))
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            im = im.crop((x0, y0, x0 + cw, y0 + ch))
            tags.append(f"crop{fx:.2f}x{fy:.2f}")
        else:  # centred zoom 1.05-1.35
            z = rng.uniform(1.05, 1.35)
            cw, ch = w / z, h / z
            im = im.crop((int((w - cw) / 2), int((h - ch) / 2), int((w + cw) / 2), int((h + ch) / 2)))
            tags.append(f"zoom{z:.2f}")
    a = np.asarray(im).astype(np.float32)
    valid = a.max(axis=2) > 0  # rotation corners stay black
    pho = rng.random(3) < np.array([0.5, 0.5, 0.3])  # brightness/contrast, gamma, tint
    if not pho.any():
        pho[rng.integers(3)] = True
    if pho[0]:
        c, b = rng.uniform(0.7, 1.3), rng.uniform(-40, 40)
        a = (a - 128) * c + 128 + b
        tags.append(f"bc{c:.2f}{b:+.0f}")
    if pho[1]:
        g = float(np.exp(rng.uniform(np.log(0.6), np.log(1.7))))
        a = 255.0 * (np.clip(a, 0, 255) / 255.0) ** g
        tags.append(f"gamma{g:.2f}")
    if pho[2]:
        t = rng.uniform(0.75, 1.15, 3)
        a = a * t[None, None, :]
        tags.append("tint")
    a[~valid] = 0
    im = Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        s = float(rng.uniform(0.7, 2.0))
        im = im.resize((max(32, int(im.size[0] * s)), max(32, int(im.size[1] * s))), Image.Resampling.BILINEAR)
        tags.append(f"resize{s:.2f}")
    q = int(rng.integers(50, 96))
    tags.append(f"jpeg{q}")
    return im, tags, q


def known_duplicates(src):
    """Pairs of published files that are one film (duplicates.csv beside the images)."""
    with open(os.path.join(src, "duplicates.csv"), newline="") as f:
        return [(r["a"], r["b"]) for r in csv.DictReader(f)]


def make(out, src, seed, n_originals, n_copied):
    rng = np.random.default_rng(seed)
    classes = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    files = sorted(f"{c}/{n}" for c in classes for n in os.listdir(os.path.join(src, c)) if n.endswith(".jpg"))
    chosen = sorted(rng.choice(len(files), size=min(n_originals, len(files)), replace=False))
    copied = set(rng.choice(chosen, size=min(n_copied, len(chosen)), replace=False).tolist())
    tree = os.path.join(out, "tree")
    shutil.rmtree(tree, ignore_errors=True)
    for c in classes:
        os.makedirs(os.path.join(tree, c))
    parent = {f: f for f in files}
    for a, b in known_duplicates(src):  # the published set's own copies: one truth id
        if a in parent and b in parent:
            parent[max(a, b)] = min(a, b)

    def root(x):
        while parent[x] != x:
            x = parent[x]
        return x

    truth = {}
    for i in chosen:
        rel = files[i]
        shutil.copy(os.path.join(src, rel), os.path.join(tree, rel))
        truth[rel] = root(rel)
        if i not in copied:
            continue
        im = Image.open(os.path.join(src, rel)).convert("RGB")
        for k in range(int(rng.integers(2, 5))):
            copy, _, q = augment(im, rng)
            name = rel.replace(".jpg", f".copy{k}.jpg")
            copy.save(os.path.join(tree, name), quality=q)
            truth[name] = root(rel)
    return tree, truth


def score(h5, truth):
    with h5py.File(h5, "r") as f:
        paths = [p.decode() if isinstance(p, bytes) else p for p in f["source_paths"][()]]
        dup = f["dup_groups"][()]
    group = dict(zip(paths, dup))
    names = sorted(set(truth) & set(group))
    same = diff = same_hit = diff_hit = 0
    for a, b in itertools.combinations(names, 2):
        together = group[a] == group[b]
        if truth[a] == truth[b]:
            same += 1
            same_hit += together
        else:
            diff += 1
            diff_hit += together
    grouped = same_hit + diff_hit
    sizes = np.bincount(dup)
    return dict(images=len(names), copy_pairs=same, recall=same_hit / max(same, 1), other_pairs=diff,
                false_merges=diff_hit, false_rate=diff_hit / max(diff, 1),
                false_share=diff_hit / max(grouped, 1), largest=int(sizes.max()) if len(sizes) else 0)
