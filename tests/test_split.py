"""test_split.py: the splitters in src/split.c against their contracts and
against scikit-learn, through tests/check_split (one splitter call per run).

Data: the study's class sizes 83/294/71/149 plus a tiny class, and random
imbalanced label sets; groups are random "patients" of 1-4 images, mostly of
one class, some mixing classes. Checks: partitions, per-class counts within
one of ideal (StratifiedKFold's guarantee; sklearn's spread is reported next
to ours), groups never straddling folds, group k-fold balance no worse than
sklearn's StratifiedGroupKFold (and identical to it fold for fold without
shuffling), nested inner folds, hold-out fractions, determinism, and errors
naming a too-small class. Then `hipid split` end to end: the splits.h5 layout
read with h5py, and split_load accepting it for its data set and refusing a
changed data set or a tampered file. Exits 1 if any check failed.
"""
import os
import sys

import h5py
import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import check, done, require, run_hipid, test_bin, tmp_dir  # noqa: E402

CHECK = test_bin("check_split")
TMP = tmp_dir("split")
INPUT = os.path.join(TMP, "split_input.txt")
REAL_SIZES = [83, 294, 71, 149]


def run(mode, y, g, k, seed, repeat=0, extra=None, names=None):
    """Run check_split; return the assignment rows, or the error message."""
    names = names or ["c%d" % c for c in range(int(y.max()) + 1)]
    with open(INPUT, "w") as f:
        f.write("%d %d %s\n" % (len(y), len(names), " ".join(names)))
        f.write("".join("%d %d\n" % (a, b) for a, b in zip(y, g)))
    cmd = [CHECK, mode, INPUT, str(k), str(seed), str(repeat)] + ([extra] if extra else [])
    p = testlib.run(cmd)
    if p.returncode == 1:
        return p.stderr.strip()
    require(p.returncode == 0, "%s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    return np.array([[int(v) for v in line.split()] for line in p.stdout.strip().split("\n")])


def class_sizes_labels(sizes, rng):
    y = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(y)
    return y


def random_groups(y, rng, p_mix=0.05):
    """Patients of 1-4 images of one class; a few images join another group."""
    order = np.argsort(y, kind="stable")
    g = np.empty(len(y), dtype=int)
    gid = i = 0
    while i < len(order):
        m = int(rng.integers(1, 5))
        g[order[i:i + m]] = gid
        gid += 1
        i += m
    for j in range(len(y)):
        if rng.random() < p_mix:
            g[j] = g[rng.integers(len(y))]
    perm = rng.permutation(gid)  # group ids need not follow the classes
    return perm[g]


def counts(fold, y, k):
    """(k, K) images of class c in test fold f."""
    K = int(y.max()) + 1
    return np.array([np.bincount(y[fold == f], minlength=K) for f in range(k)])


def spread(fold, y, k):
    """Largest |count - n_c/k| over folds and classes (StratifiedKFold's guarantee: < 1)."""
    cnt = counts(fold, y, k)
    return np.abs(cnt - np.bincount(y) / k).max()


def share_dev(fold, y, k):
    """Largest |share of class c in fold f - 1/k| and sklearn's criterion
    (mean over classes of the std over folds of the shares)."""
    share = counts(fold, y, k) / np.bincount(y)
    return np.abs(share - 1.0 / k).max(), share.std(axis=0).mean()


def sk_folds(splitter, y, g):
    fold = np.full(len(y), -1)
    for f, (_, te) in enumerate(splitter.split(np.zeros(len(y)), y, g)):
        check((fold[te] == -1).all(), "sklearn put a sample in two test folds")
        fold[te] = f
    return fold


def groups_whole(assign, g):
    """True if every group has a single value in assign."""
    for gid in np.unique(g):
        if len(np.unique(assign[g == gid])) != 1:
            return False
    return True


def data_sets():
    """(name, labels) pairs: the study's sizes with a tiny class, and random imbalanced ones."""
    rng = np.random.default_rng(20240601)
    out = [("study+tiny", class_sizes_labels(REAL_SIZES + [12], rng))]
    for t in range(6):
        K = int(rng.integers(2, 7))
        sizes = [int(s) for s in rng.integers(10, 200, size=K)]
        sizes[int(rng.integers(K))] = int(rng.integers(10, 16))  # one small class
        out.append(("random%d(K=%d)" % (t, K), class_sizes_labels(sizes, rng)))
    return out


def test_stratified_kfold():
    worst_ours = worst_sk = 0.0
    for name, y in data_sets():
        singletons = np.arange(len(y))
        for k in (3, 5, 10):
            if np.bincount(y).min() < k:
                continue
            for seed in (1, 2):
                for mode in ("skfold", "kfold"):  # kfold falls back to skfold without groups
                    fold = run(mode, y, singletons, k, seed)[0]
                    check(fold.min() >= 0 and fold.max() < k, "%s %s: fold out of range" % (name, mode))
                    check(np.bincount(fold, minlength=k).min() > 0, "%s: empty fold" % name)
                    sizes = np.bincount(fold, minlength=k)
                    check(sizes.max() - sizes.min() <= 1, "%s k=%d: fold sizes %s" % (name, k, sizes))
                    s = spread(fold, y, k)
                    check(s < 1.0, "%s %s k=%d seed %d: class count %.2f from ideal" % (name, mode, k, seed, s))
                    worst_ours = max(worst_ours, s)
                sk = sk_folds(StratifiedKFold(k, shuffle=True, random_state=seed), y, None)
                worst_sk = max(worst_sk, spread(sk, y, k))
    print("info stratified k-fold: largest |class count per test fold - n_c/k|: hipid %.3f, "
          "sklearn StratifiedKFold %.3f (both must be < 1)" % (worst_ours, worst_sk))
    # the study's classes, k=5: per class the smallest and largest count in a test fold
    y = data_sets()[0][1]
    ours = counts(run("skfold", y, np.arange(len(y)), 5, 1)[0], y, 5)
    sk = counts(sk_folds(StratifiedKFold(5, shuffle=True, random_state=1), y, None), y, 5)
    print("info   study+tiny k=5, test-fold count range per class (ideal): " + "; ".join(
        "%d: hipid %d-%d sklearn %d-%d (%.1f)" % (c, ours[:, c].min(), ours[:, c].max(), sk[:, c].min(),
                                                   sk[:, c].max(), n / 5.0)
        for c, n in enumerate(np.bincount(y))))
    check(worst_sk < 1.0, "sklearn reference broke its own guarantee?")


def test_group_kfold():
    rng = np.random.default_rng(7)
    rows = []
    for name, y in data_sets():
        g = random_groups(y, rng)
        k = 5
        n_groups_per_class = [len(np.unique(g[y == c])) for c in range(y.max() + 1)]
        if min(n_groups_per_class) < k:
            k = 3
        # without shuffling: the same greedy as sklearn, fold for fold
        ours = run("group-noshuffle", y, g, k, 0)[0]
        sk = sk_folds(StratifiedGroupKFold(k, shuffle=False), y, g)
        check((ours == sk).all(), "%s: unshuffled group k-fold differs from sklearn's in %d images"
              % (name, (ours != sk).sum()))
        sk_max, sk_std = share_dev(sk, y, k)
        devs = []
        for seed in (1, 2, 3):
            for mode in ("group", "kfold"):  # kfold dispatches to group k-fold when groups exist
                fold = run(mode, y, g, k, seed)[0]
                check(fold.min() >= 0 and fold.max() < k, "%s: fold out of range" % name)
                check(groups_whole(fold, g), "%s %s seed %d: a group straddles folds" % (name, mode, seed))
                check(np.bincount(fold, minlength=k).min() > 0, "%s: empty fold" % name)
                for f in range(k):  # every training set has every class
                    check(len(np.unique(y[fold != f])) == y.max() + 1, "%s: training set lacks a class" % name)
                devs.append(share_dev(fold, y, k))
        ours_max = max(d[0] for d in devs)
        ours_std = max(d[1] for d in devs)
        rows.append((name, k, ours_max, sk_max, ours_std, sk_std))
        check(ours_max <= sk_max + 0.05, "%s: class share deviation %.3f, sklearn %.3f" % (name, ours_max, sk_max))
        check(ours_std <= sk_std + 0.01, "%s: mean std of class shares %.4f, sklearn %.4f" % (name, ours_std, sk_std))
    print("info group k-fold: max |class share in fold - 1/k| and mean std of shares "
          "(hipid worst of 3 seeds / sklearn StratifiedGroupKFold shuffle=False):")
    for name, k, om, sm, os_, ss in rows:
        print("info   %-16s k=%d  max dev %.3f / %.3f   mean std %.4f / %.4f" % (name, k, om, sm, os_, ss))


def test_nested():
    rng = np.random.default_rng(11)
    name, y = data_sets()[0]
    for grouped in (False, True):
        g = random_groups(y, rng) if grouped else np.arange(len(y))
        k, ik = 5, 3
        out = run("nested", y, g, k, 5, 0, str(ik))
        require(out.shape == (1 + k, len(y)), "nested output shape %s" % (out.shape,))
        outer, inner = out[0], out[1:]
        for o in range(k):
            row = inner[o]
            check(((row == -1) == (outer == o)).all(),
                  "outer fold %d: inner folds must cover exactly the outer training set" % o)
            tr = outer != o
            check(row[tr].min() >= 0 and row[tr].max() < ik, "inner fold out of range")
            check(np.bincount(row[tr], minlength=ik).min() > 0, "empty inner fold")
            if grouped:
                check(groups_whole(outer, g) and groups_whole(row, g), "a group straddles nested folds")
            else:
                s = spread(row[tr], y[tr], ik)
                check(s < 1.0, "inner stratification off by %.2f in outer fold %d" % (s, o))
        check(not (inner[0] == inner[1]).all(), "inner splits of different outer folds identical")


def test_holdout():
    rng = np.random.default_rng(13)
    fr = np.array([0.6, 0.2, 0.2])
    worst_single = worst_group = 0.0
    for name, y in data_sets():
        for grouped in (False, True):
            g = random_groups(y, rng) if grouped else np.arange(len(y))
            part = run("holdout", y, g, 0, 3, 0, "0.6,0.2,0.2")[0]
            check(set(np.unique(part)) <= {0, 1, 2}, "part values")
            cnt = counts(part, y, 3)
            dev = np.abs(cnt - np.outer(fr, np.bincount(y)))
            if grouped:
                check(groups_whole(part, g), "%s: a group straddles the hold-out parts" % name)
                # within one group: the largest group holding that class
                for c in range(y.max() + 1):
                    biggest = max(np.sum(g == gid) for gid in np.unique(g[y == c]))
                    check(dev[:, c].max() <= biggest,
                          "%s: class %d off its target by %.2f, largest group %d" % (name, c, dev[:, c].max(), biggest))
                worst_group = max(worst_group, dev.max())
            else:
                check(dev.max() < 1.0, "%s: hold-out class count %.2f from target" % (name, dev.max()))
                worst_single = max(worst_single, dev.max())
            check(cnt.min() > 0, "%s: a class is missing from a part" % name)
    print("info hold-out 60/20/20: largest |class count - target|: %.2f without groups, %.2f with groups"
          % (worst_single, worst_group))
    # frac 0 for val is allowed and leaves it empty
    y = data_sets()[0][1]
    part = run("holdout", y, np.arange(len(y)), 0, 3, 0, "0.8,0,0.2")[0]
    check((part != 1).all(), "val fraction 0 must leave val empty")
    msg = run("holdout", y, np.arange(len(y)), 0, 3, 0, "0.5,0.2,0.2")
    check(isinstance(msg, str) and "sum to" in msg, "fractions not summing to 1 must fail: %r" % (msg,))


def test_determinism():
    rng = np.random.default_rng(17)
    y = data_sets()[0][1]
    g = random_groups(y, rng)
    for mode, k, extra in (("skfold", 5, None), ("group", 5, None), ("nested", 5, "3"), ("holdout", 0, "0.6,0.2,0.2")):
        gg = np.arange(len(y)) if mode == "skfold" else g
        a = run(mode, y, gg, k, 42, 0, extra)
        b = run(mode, y, gg, k, 42, 0, extra)
        c = run(mode, y, gg, k, 43, 0, extra)
        check((a == b).all(), "%s: same seed gave different splits" % mode)
        check(not (a == c).all(), "%s: different seeds gave the same split" % mode)
        if mode != "holdout":
            d = run(mode, y, gg, k, 42, 1, extra)
            check(not (a == d).all(), "%s: repeat 1 equals repeat 0" % mode)


def test_errors():
    rng = np.random.default_rng(19)
    names = ["cup", "stem", "knee", "plate", "tiny"]
    y = class_sizes_labels(REAL_SIZES + [3], rng)
    msg = run("skfold", y, np.arange(len(y)), 5, 1, names=names)
    check(isinstance(msg, str) and "'tiny'" in msg and "3 image" in msg, "too-small class: %r" % (msg,))
    msg = run("nested", y, np.arange(len(y)), 2, 1, 0, "3", names=names)
    check(isinstance(msg, str) and "'tiny'" in msg, "too-small class in an inner split: %r" % (msg,))
    # enough images but too few groups
    y = class_sizes_labels(REAL_SIZES + [20], rng)
    g = np.arange(len(y))
    tiny = np.flatnonzero(y == 4)
    g[tiny] = tiny[np.arange(len(tiny)) % 4]  # 20 images of 4 patients
    msg = run("group", y, g, 5, 1, names=names)
    check(isinstance(msg, str) and "'tiny'" in msg and "4 group" in msg, "too few groups: %r" % (msg,))
    msg = run("kfold", y, g, 5, 1, names=names)
    check(isinstance(msg, str) and "'tiny'" in msg, "kfold with groups must be group-aware: %r" % (msg,))
    y = class_sizes_labels(REAL_SIZES + [2], rng)
    msg = run("holdout", y, np.arange(len(y)), 0, 1, 0, "0.6,0.2,0.2", names=names)
    check(isinstance(msg, str) and "'tiny'" in msg, "too-small class for hold-out: %r" % (msg,))


def write_dataset(path, y, g, names, size=4):
    """A minimal hipid data set (dataset.h layout) with tiny blank images."""
    n = len(y)
    # ASCII: dataset.c reads variable-length strings with an ASCII memory type
    # and HDF5 will not convert UTF-8 to it
    strings = h5py.string_dtype("ascii")
    with h5py.File(path, "w") as f:
        # fixed-length ASCII: h5_attr_read_str cannot read h5py's default UTF-8 vlen strings
        f.attrs["format"] = np.bytes_("hipid-dataset")
        f.attrs["format_version"] = np.int32(1)
        f.attrs["image_size"] = np.int32(size)
        f.attrs["n_classes"] = np.int32(len(names))
        f.attrs["preprocessing"] = np.bytes_("test")
        f.attrs["source"] = np.bytes_("test_split.py")
        f.create_dataset("images", data=np.zeros((n, size, size), dtype=np.uint8))
        f.create_dataset("labels", data=np.asarray(y, dtype=np.int32))
        f.create_dataset("groups", data=np.asarray(g, dtype=np.int32))
        f.create_dataset("class_names", data=np.array(names, dtype=object), dtype=strings)
        for name in ("patient_ids", "source_paths", "source_sha256"):
            f.create_dataset(name, data=np.array([""] * n, dtype=object), dtype=strings)


def fnv1a64(y, g):
    h = 0xCBF29CE484222325
    for v in np.concatenate([[len(y)], y, g]).astype("<i4").tobytes():
        h = ((h ^ v) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def hipid_split(data, out, *args):
    p = run_hipid("split", "--data", data, "-o", out, *args)
    return p.returncode, p.stdout + p.stderr


def load(splits, data):
    p = testlib.run([CHECK, "load", splits, data])
    check(p.returncode in (0, 1), "check_split load exited %d: %s" % (p.returncode, p.stderr))
    return p.returncode, (p.stdout + p.stderr).strip()


def test_cli():
    rng = np.random.default_rng(23)
    names = ["cup", "stem", "knee", "plate", "tiny"]
    y = class_sizes_labels(REAL_SIZES + [12], rng)
    g = random_groups(y, rng)
    data = os.path.join(TMP, "split_data.h5")
    write_dataset(data, y, g, names)
    n = len(y)
    out = os.path.join(TMP, "splits.h5")
    runs = {"kfold": [], "repeated": ["--repeats", "3"], "group": ["--k", "4"],
            "nested": ["--k", "4", "--inner-k", "3", "--repeats", "2"], "holdout": ["--fractions", "0.6,0.2,0.2"]}
    for scheme, extra in runs.items():
        rc, text = hipid_split(data, out, "--scheme", scheme, "--seed", "9", *extra)
        require(rc == 0, "hipid split --scheme %s failed: %s" % (scheme, text))
        with h5py.File(out, "r") as f:
            a = f.attrs
            check(a["format"] in (b"hipid-splits", "hipid-splits") and int(a["format_version"]) == 1, "format attrs")
            scheme_attr = a["scheme"].decode() if isinstance(a["scheme"], bytes) else a["scheme"]
            check(scheme_attr == scheme and int(a["seed"]) == 9 and int(a["n"]) == n, "scheme/seed/n attrs")
            check(int(a["data_checksum"]) == fnv1a64(y, g), "data_checksum is not FNV-1a of n, labels, groups")
            check(int(a["grouped"]) == 1, "%s: groups must be kept whole by default" % scheme)
            if scheme == "holdout":
                part = f["part"][...]
                check(f["part"].dtype == np.int8 and part.shape == (n,), "part must be int8 [N]")
                check(groups_whole(part, g), "holdout: a group straddles parts")
                check("fold_of" not in f, "holdout has no fold_of")
                continue
            fold = f["fold_of"][...]
            R, k = int(a["repeats"]), int(a["k"])
            check(f["fold_of"].dtype == np.int32 and fold.shape == (R, n), "fold_of must be int32 [R,N]")
            check(fold.min() >= 0 and fold.max() < k, "fold_of range")
            for r in range(R):
                check(groups_whole(fold[r], g), "%s: a group straddles folds" % scheme)
            if R > 1:
                check(not (fold[0] == fold[1]).all(), "%s: repeats identical" % scheme)
            if scheme == "kfold":  # the file holds exactly what the function gives
                ref = run("kfold", y, g, 5, 9, 0)[0]
                check((fold[0] == ref).all(), "hipid split kfold differs from split_kfold")
            if scheme == "nested":
                inner = f["inner_fold_of"][...]
                check(inner.shape == (R, k, n) and f["inner_fold_of"].dtype == np.int32, "inner_fold_of [R,K,N]")
                for r in range(R):
                    for o in range(k):
                        check(((inner[r, o] == -1) == (fold[r] == o)).all(), "inner folds vs outer test fold")
                        check(groups_whole(inner[r, o], g), "nested: a group straddles inner folds")
        rc, text = load(out, data)
        check(rc == 0 and text.startswith("ok " + scheme), "split_load rejected a fresh %s file: %s" % (scheme, text))
    # same seed, same file contents; another seed, other folds
    o1, o2 = os.path.join(TMP, "s1.h5"), os.path.join(TMP, "s2.h5")
    hipid_split(data, o1, "--scheme", "group", "--seed", "5")
    hipid_split(data, o2, "--scheme", "group", "--seed", "5")
    with h5py.File(o1, "r") as f1, h5py.File(o2, "r") as f2:
        check((f1["fold_of"][...] == f2["fold_of"][...]).all(), "hipid split is not deterministic")
    hipid_split(data, o2, "--scheme", "group", "--seed", "6")
    with h5py.File(o1, "r") as f1, h5py.File(o2, "r") as f2:
        check(not (f1["fold_of"][...] == f2["fold_of"][...]).all(), "seed 5 and 6 gave the same folds")
    # a data set with one label changed, or fewer images, is refused
    other = os.path.join(TMP, "split_other.h5")
    y2 = y.copy()
    y2[0] = (y2[0] + 1) % 4
    write_dataset(other, y2, g, names)
    rc, text = load(o1, other)
    check(rc == 1 and "another data set" in text, "a changed label must be detected: %s" % text)
    write_dataset(other, y[:-1], g[:-1], names)
    rc, text = load(o1, other)
    check(rc == 1 and "images" in text, "a different image count must be detected: %s" % text)
    # a tampered file: a group split apart, an out-of-range fold, a newer version
    with h5py.File(o1, "r+") as f:
        fo = f["fold_of"][...]
        big = np.flatnonzero(np.bincount(g) >= 2)[0]
        i = np.flatnonzero(g == big)[0]
        fo[0, i] = (fo[0, i] + 1) % int(f.attrs["k"])
        f["fold_of"][...] = fo
    rc, text = load(o1, data)
    check(rc == 1 and "share group" in text, "a straddling group must be detected: %s" % text)
    with h5py.File(o1, "r+") as f:
        fo = f["fold_of"][...]
        fo[0, 0] = 99
        f["fold_of"][...] = fo
    rc, text = load(o1, data)
    check(rc == 1 and "fold_of[0,0] = 99" in text, "an out-of-range fold must be detected: %s" % text)
    with h5py.File(o2, "r+") as f:
        f.attrs["format_version"] = np.int32(2)
    rc, text = load(o2, data)
    check(rc == 1 and "version 2" in text, "a newer format must be refused with a hint: %s" % text)
    # user errors: too-small class (exit 1, named), bad scheme and misplaced options (exit 2)
    y3 = class_sizes_labels(REAL_SIZES + [3], rng)
    write_dataset(other, y3, np.arange(len(y3)), names)
    rc, text = hipid_split(other, out, "--scheme", "kfold")
    check(rc == 1 and "'tiny'" in text, "too-small class must fail naming it: %d %s" % (rc, text))
    rc, text = hipid_split(data, out, "--scheme", "loo")
    check(rc == 2 and "--scheme" in text, "bad scheme must be a usage error: %s" % text)
    rc, text = hipid_split(data, out, "--scheme", "kfold", "--inner-k", "3")
    check(rc == 2 and "nested" in text, "--inner-k without nested must be a usage error: %s" % text)
    rc, text = hipid_split(data, out, "--scheme", "holdout", "--fractions", "0.6,0.2")
    check(rc == 2 and "--fractions" in text, "bad --fractions must be a usage error: %s" % text)
    # --ignore-groups gives plain stratified k-fold (and says so in the file)
    rc, text = hipid_split(data, out, "--scheme", "kfold", "--ignore-groups", "--seed", "9")
    with h5py.File(out, "r") as f:
        check(int(f.attrs["grouped"]) == 0, "--ignore-groups must store grouped=0")
        check((f["fold_of"][0] == run("skfold", y, g, 5, 9, 0)[0]).all(), "--ignore-groups is not skfold")
    rc, text = load(out, data)
    check(rc == 0, "split_load must accept --ignore-groups splits of its data set: %s" % text)
    rc, text = hipid_split(data, out, "--scheme", "group", "--ignore-groups")
    rc, text = load(out, data)
    check(rc == 0 and "grouped=0" in text, "group scheme with --ignore-groups: %s" % text)


if __name__ == "__main__":
    test_stratified_kfold()
    test_group_kfold()
    test_nested()
    test_holdout()
    test_determinism()
    test_errors()
    test_cli()
    done()
