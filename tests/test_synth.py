"""hipid synth, end to end through the command line.

Checks file and manifest counts (balanced and --imbalance), byte-identical
output for one seed whatever the thread count, different output for another
seed, valid 8-bit grey PNGs of the asked size, patients that keep label and
side, a bright elongated stem in every image, that a simple independent
classifier beats chance on held-out patients, and the exit codes of bad
options. The same for --anatomy shoulder (random humeral-implant designs),
plus: every design of --list-designs within its documented ranges and other
designs for another seed, a classifier on pose-independent implant features
(scikit-image, scikit-learn) far above chance on held-out patients, the
drawn length differing between classes (Kruskal-Wallis, scipy), and hip
phantoms unchanged by the shoulder code (a fixed set's SHA-256). Run by tests/run.sh with Debian's /usr/bin/python3; needs HIPID
and TEST_TMP. Exits non-zero if any check failed.
"""
import collections
import csv
import hashlib
import os
import sys

import numpy as np
from PIL import Image
from scipy import ndimage, stats
from skimage.measure import label, regionprops
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, require, run_hipid, tmp_dir  # noqa: E402

TMP = tmp_dir("synth")


def run(*args, threads=None):
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return run_hipid("synth", *args, env=env)


def synth(out, *args, threads=None):
    r = run("--out", out, *args, threads=threads)
    require(r.returncode == 0, f"hipid synth {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return out


def read_manifest(d):
    with open(os.path.join(d, "manifest.csv"), newline="") as f:
        header = f.readline().strip()
        require(header == "path,label,patient_id,side", f"manifest header is {header!r}")
        f.seek(0)
        return list(csv.DictReader(f))


def design_names():
    r = run_hipid("synth", "--list-designs")
    require(r.returncode == 0, r.stderr)
    names = [line.split()[0] for line in r.stdout.splitlines()[1:] if line.strip()]
    require(len(names) >= 6, f"only {len(names)} designs: {names}")
    return names


def all_files(d):
    out = {}
    for base, _, files in os.walk(d):
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = fh.read()
    return out


def expected_sizes(n, k, r):
    # lround: halves away from zero, like the C code
    return [max(1, int(np.floor(n * r ** (-i / (k - 1) if k > 1 else 0) + 0.5))) for i in range(k)]


def check_layout(d, n, k, r, size, names):
    rows = read_manifest(d)
    counts = collections.Counter(row["label"] for row in rows)
    want = expected_sizes(n, k, r)
    got = [counts[name] for name in names[:k]]
    check(got == want, f"class sizes {got}, expected {want} (N={n} K={k} R={r})")
    check(set(counts) == set(names[:k]), f"labels {sorted(counts)} are not the first {k} designs")
    pngs = {p for p in all_files(d) if p.endswith(".png")}
    listed = {row["path"] for row in rows}
    require(pngs == listed, f"PNGs and manifest differ: {sorted(pngs ^ listed)[:5]}")
    check(not os.path.exists(os.path.join(d, "manifest.csv.tmp")), "temporary manifest left behind")
    for row in rows:
        check(row["path"].split("/")[0] == row["label"], f"{row['path']} is not in its class folder")
        check(row["side"] in ("left", "right"), f"side {row['side']!r}")
    for row in rows[:: max(1, len(rows) // 25)]:
        with open(os.path.join(d, row["path"]), "rb") as f:
            head = f.read(26)
        if not check(head[:8] == b"\x89PNG\r\n\x1a\n", f"{row['path']} is not a PNG"):
            continue
        w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        check((w, h, head[24], head[25]) == (size, size, 8, 0),
              f"{row['path']}: {w}x{h}, bit depth {head[24]}, colour type {head[25]}; expected {size}x{size} 8-bit grey")
        im = Image.open(os.path.join(d, row["path"]))
        check(im.mode == "L" and im.size == (size, size), f"{row['path']}: PIL reads {im.mode} {im.size}")
    print(f"info layout ok: {len(rows)} images, class sizes {got}")
    return rows


def check_patients(rows):
    by = collections.defaultdict(list)
    for row in rows:
        by[row["patient_id"]].append(row)
    class_size = collections.Counter(row["label"] for row in rows)
    for pid, rs in by.items():
        check(len({r["label"] for r in rs}) == 1, f"patient {pid} has several labels")
        check(len({r["side"] for r in rs}) == 1, f"patient {pid} has several sides")
        if class_size[rs[0]["label"]] > 1:
            check(2 <= len(rs) <= 4, f"patient {pid} has {len(rs)} views, expected 2-4")
    sides = collections.Counter(rows[i]["side"] for i in range(len(rows)))
    check(min(sides.values()) > 0.2 * len(rows), f"sides unbalanced: {dict(sides)}")
    print(f"info patients ok: {len(by)} patients, views {collections.Counter(len(v) for v in by.values())}, "
          f"sides {dict(sides)}")


def load(d, row):
    return np.asarray(Image.open(os.path.join(d, row["path"])), dtype=np.float32)


def check_stem(d, rows, size):
    """The brightest structure (top 3% after a light blur) is a plausible area
    and contains one tall component: stem plus head."""
    worst_h, fracs = 1.0, []
    for row in rows:
        a = load(d, row)
        check(a.max() >= 230, f"{row['path']}: brightest pixel {a.max()}, expected metal near 255")
        fracs.append(np.mean(a >= 235))
        s = ndimage.gaussian_filter(a, 1.0)
        lab, n = ndimage.label(s >= np.percentile(s, 97))
        h = max(sl[0].stop - sl[0].start for sl in ndimage.find_objects(lab)) / size
        worst_h = min(worst_h, h)
        check(h >= 0.25, f"{row['path']}: tallest bright structure spans {h:.2f} of the height, expected a stem")
    fracs = np.array(fracs)
    check(0.005 <= fracs.min() and fracs.max() <= 0.15,
          f"metal area fraction in [{fracs.min():.4f}, {fracs.max():.4f}], expected within [0.005, 0.15]")
    print(f"info stem ok: metal area {fracs.min():.3f}..{fracs.max():.3f}, tallest bright part >= {worst_h:.2f}")


def stem_profile(a):
    """Simple features of the tallest bright structure (stem, neck and head):
    its height, area and width at 16 heights, raw and relative to the widest."""
    s = ndimage.gaussian_filter(a, 1.0)
    lab, _ = ndimage.label(s >= np.percentile(s, 97))
    objs = ndimage.find_objects(lab)
    k = int(np.argmax([o[0].stop - o[0].start for o in objs]))
    w = (lab[objs[k]] == k + 1).sum(1).astype(float)
    q = np.interp(np.linspace(0, 1, 16), np.linspace(0, 1, len(w)), w)
    return np.r_[len(w), w.sum(), q, q / q.max()]


def check_classifier(d, rows, names):
    """Logistic regression on stem_profile features, trained on half the
    patients, tested on the other half: well above chance, not perfect
    needed (some designs differ only in a collar or a neck junction)."""
    X = np.array([stem_profile(load(d, row)) for row in rows])
    y = np.array([names.index(row["label"]) for row in rows])
    g = np.array([row["patient_id"] for row in rows])
    pats = sorted(set(g))
    np.random.default_rng(0).shuffle(pats)
    train = np.isin(g, pats[: len(pats) // 2])
    sc = StandardScaler().fit(X[train])
    clf = LogisticRegression(max_iter=5000, C=1.0).fit(sc.transform(X[train]), y[train])
    acc = float(np.mean(clf.predict(sc.transform(X[~train])) == y[~train]))
    chance = 1.0 / len(set(y))
    print(f"info classifier: held-out accuracy {acc:.3f}, chance {chance:.3f}, "
          f"{train.sum()} train / {(~train).sum()} test images")
    check(acc >= chance + 0.2, f"classes hardly distinguishable: accuracy {acc:.3f}, chance {chance:.3f}")


def check_determinism(a, args, tag="det"):
    b = synth(os.path.join(TMP, tag + "-b"), *args, threads=1)
    fa, fb = all_files(a), all_files(b)
    if check(fa.keys() == fb.keys(), "same seed, different file lists"):
        diff = [p for p in fa if fa[p] != fb[p]]
        check(not diff, f"same seed, different bytes in {len(diff)} files, e.g. {diff[:3]}")
    other = list(args)
    other[other.index("--seed") + 1] = "8"
    c = synth(os.path.join(TMP, tag + "-c"), *other)
    fc = all_files(c)
    same = [p for p in fa if p.endswith(".png") and fc.get(p) == fa[p]]
    check(not same, f"seeds 7 and 8 give identical images: {same[:3]}")
    print(f"info determinism ok: {len(fa)} files identical with 1 thread and default threads; seed 8 differs")


def check_errors():
    cases = [
        ([], "--out"),
        (["--out", os.path.join(TMP, "e1"), "--classes", "99"], "--classes"),
        (["--out", os.path.join(TMP, "e2"), "--per-class", "0"], "--per-class"),
        (["--out", os.path.join(TMP, "e3"), "--imbalance", "0.5"], "--imbalance"),
        (["--out", os.path.join(TMP, "e4"), "--size", "abc"], "--size"),
        (["--out", os.path.join(TMP, "e5"), "--no-such-option"], "--no-such-option"),
        (["--out", os.path.join(TMP, "e6"), "--anatomy", "knee"], "--anatomy"),
        (["--out", os.path.join(TMP, "e7"), "--anatomy", "shoulder", "--classes", "1001"], "--classes"),
    ]
    for args, word in cases:
        r = run(*args)
        check(r.returncode == 2, f"synth {args}: exit {r.returncode}, expected 2")
        lines = r.stderr.strip().splitlines()
        check(len(lines) == 1 and word in lines[0], f"synth {args}: expected one line naming {word}, got {r.stderr!r}")
        check(not os.path.exists(args[1]) if args else True, f"synth {args} created its output")
    full = os.path.join(TMP, "nonempty")
    os.makedirs(full, exist_ok=True)
    with open(os.path.join(full, "keep.txt"), "w") as f:
        f.write("user data\n")
    r = run("--out", full, "--per-class", "2")
    check(r.returncode == 2 and "not empty" in r.stderr, f"non-empty dir: exit {r.returncode}, {r.stderr!r}")
    check(os.listdir(full) == ["keep.txt"], f"refused run still wrote {os.listdir(full)}")
    r = run("--out", full, "--per-class", "2", "--classes", "2", "--force")
    check(r.returncode == 0, f"--force: exit {r.returncode}: {r.stderr}")
    check(os.path.exists(os.path.join(full, "keep.txt")), "--force deleted a file")
    blocker = os.path.join(TMP, "a-file")
    open(blocker, "w").close()
    r = run("--out", os.path.join(blocker, "sub"), "--per-class", "2")
    check(r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1,
          f"unwritable --out: exit {r.returncode} (expected 1), {r.stderr!r}")
    print("info bad options ok: exit 2 with one line; non-empty dir refused; I/O failure exit 1")


# The ranges of synth_shoulder_design (include/hipid/data/synth_shoulder.h
# documents the fields): column -> (lo, hi); 0 is allowed where a feature
# is optional (collar, gap, slot).
SHOULDER_RANGES = {"length": (0.26, 0.55), "w_prox": (0.030, 0.052), "w_dist": (0.009, 0.022),
                   "incl": (125, 155), "head_r": (0.085, 0.12), "head_h": (0.45, 0.9),
                   "offset": (-0.012, 0.018), "collar": (0.006, 0.016), "gap": (0.004, 0.012),
                   "fins": (0, 3), "holes": (0, 4), "slot": (0.08, 0.22)}
OPTIONAL = {"collar", "gap", "slot"}


def shoulder_designs(k, seed):
    r = run_hipid("synth", "--anatomy", "shoulder", "--list-designs", "--classes", str(k), "--seed", str(seed))
    require(r.returncode == 0, r.stderr)
    lines = r.stdout.splitlines()
    cols = lines[0].split()
    return {ln.split()[0]: dict(zip(cols[1:], map(float, ln.split()[1:]))) for ln in lines[1:] if ln.strip()}


def check_shoulder_designs(k):
    d7, d8 = shoulder_designs(k, 7), shoulder_designs(k, 8)
    names = [f"shoulder-{i:03d}" for i in range(k)]
    check(list(d7) == names, f"--list-designs names {list(d7)[:3]}..., expected {names[:3]}...")
    for name, d in d7.items():
        for col, (lo, hi) in SHOULDER_RANGES.items():
            v = d[col]
            ok = lo - 1e-3 <= v <= hi + 1e-3 or (col in OPTIONAL and v == 0)
            check(ok, f"{name}: {col} = {v} outside [{lo}, {hi}]")
    check(len({tuple(d.values()) for d in d7.values()}) == k, "two classes share one design")
    check(all(d7[n] != d8[n] for n in names), "seeds 7 and 8 list the same designs")
    print(f"info shoulder designs ok: {k} within their ranges, distinct, other designs for seed 8")
    return d7


def implant_features(a):
    """Pose-independent features of the largest 8-connected metal region
    (>= 250): area, axis lengths, solidity, eccentricity, Euler number
    (holes), perimeter and the first four Hu moments."""
    lab = label(a >= 250, connectivity=2)
    if lab.max() == 0:
        return np.zeros(11)
    rp = max(regionprops(lab), key=lambda r: r.area)
    return np.r_[rp.area, rp.major_axis_length, rp.minor_axis_length, rp.solidity, rp.eccentricity,
                 rp.euler_number, rp.perimeter, rp.moments_hu[:4] * [1, 10, 100, 1000]]


def check_shoulder_classes(d, rows):
    """Each class is one design: a logistic regression on pose-independent
    features of the implant, trained on half the patients, beats chance on
    the other half by far, and the implant's drawn length differs between
    classes far more than between views of one class (Kruskal-Wallis).
    Poses cover +-110 degrees, so no upright profile is used."""
    X = np.array([implant_features(load(d, row)) for row in rows])
    y = np.array([row["label"] for row in rows])
    g = np.array([row["patient_id"] for row in rows])
    pats = sorted(set(g))
    np.random.default_rng(0).shuffle(pats)
    train = np.isin(g, pats[: len(pats) // 2])
    sc = StandardScaler().fit(X[train])
    clf = LogisticRegression(max_iter=5000).fit(sc.transform(X[train]), y[train])
    acc = float(np.mean(clf.predict(sc.transform(X[~train])) == y[~train]))
    chance = 1.0 / len(set(y))
    kw = stats.kruskal(*[X[y == c, 1] for c in sorted(set(y))])
    print(f"info shoulder classes: held-out accuracy {acc:.3f} (chance {chance:.3f}); drawn length "
          f"Kruskal-Wallis p {kw.pvalue:.2g}")
    check(acc >= chance + 0.12, f"shoulder designs hardly distinguishable: accuracy {acc:.3f}, chance {chance:.3f}")
    check(kw.pvalue < 1e-6, f"classes hardly differ in drawn length: Kruskal-Wallis p {kw.pvalue:.3g}")


# --per-class 6 --classes 8 --size 64 --seed 3, by the binary of commit e143dee
HIP_FIXED_SHA256 = "7c5544abca6708b1951952a90dca5268eeee63400204b4dd4001b9722a08de3c"


def check_hip_unchanged():
    """A fixed hip set's bytes, recorded before the drawing code was shared
    with the shoulder phantoms (commit e143dee)."""
    d = synth(os.path.join(TMP, "hip-fixed"), "--per-class", "6", "--classes", "8", "--size", "64", "--seed", "3")
    h = hashlib.sha256()
    for p, b in sorted(all_files(d).items()):
        h.update(p.encode() + b"\0" + hashlib.sha256(b).digest())
    check(h.hexdigest() == HIP_FIXED_SHA256, f"hip phantoms changed: {h.hexdigest()}")


def main_shoulder():
    k = 16
    check_shoulder_designs(k)
    names = [f"shoulder-{i:03d}" for i in range(k)]
    args = ["--anatomy", "shoulder", "--per-class", "24", "--classes", str(k), "--size", "96", "--seed", "7"]
    a = synth(os.path.join(TMP, "sh-a"), *args)
    rows = check_layout(a, 24, k, 1.0, 96, names)
    check_patients(rows)
    check_shoulder_classes(a, rows)
    small = args[:]
    small[small.index("--per-class") + 1] = "6"
    check_determinism(synth(os.path.join(TMP, "sh-det-a"), *small), small, tag="sh-det")


def main():
    check_hip_unchanged()
    main_shoulder()
    names = design_names()
    args = ["--per-class", "50", "--seed", "7"]
    a = synth(os.path.join(TMP, "det-a"), *args)
    rows = check_layout(a, 50, 6, 1.0, 128, names)
    check_patients(rows)
    check_stem(a, rows, 128)
    check_classifier(a, rows, names)
    check_determinism(a, args)
    imb = synth(os.path.join(TMP, "imb"), "--per-class", "20", "--classes", "4", "--imbalance", "4", "--size", "96")
    rows = check_layout(imb, 20, 4, 4.0, 96, names)
    check_patients(rows)
    allk = synth(os.path.join(TMP, "all"), "--per-class", "5", "--classes", str(len(names)), "--imbalance", "2.5")
    check_layout(allk, 5, len(names), 2.5, 128, names)
    check_errors()
    done()


if __name__ == "__main__":
    main()
