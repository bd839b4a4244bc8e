"""test_augment.py: augmentation geometry against skimage/scipy, and balanced
sampling against a chi-square test, through tests/check_augment.

Geometry: rotations by known angles must match skimage.transform.rotate
(order=1, zero or edge fill) and scipy.ndimage.rotate (order=1,
mode='grid-constant', which fills beyond the edge the same way) within 1e-5
on a test image; a combined mirror + zoom + rotation + shift must match
skimage.transform.warp with the forward map documented in augment.h, and
zoom/shift must move a dot where the documentation says.
Balanced sampling: class counts over epochs pass scipy's chi-square test of
equal counts, image counts within a class too; the unbalanced order fails the
same test (so the test can fail); draws are deterministic by (seed, epoch).
"""
import os
import sys

import numpy as np
from scipy import ndimage
from scipy.stats import chisquare
from skimage.transform import ProjectiveTransform, rotate, warp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, require, run, test_bin, tmp_dir  # noqa: E402

CHECK = test_bin("check_augment")
TMP = tmp_dir("augment")
TOL = 1e-5


def test_image(S):
    yy, xx = np.mgrid[0:S, 0:S]
    img = 0.5 + 0.3 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + 0.1 * (xx > 0.6 * S)
    img[S // 5:S // 5 + 4, 5:S // 2] = 1.0  # an asymmetric bar
    return img.astype(np.float32)


def geom(img, angle=0.0, scale=1.0, tx=0.0, ty=0.0, flip=0, fill="zero"):
    S = img.shape[0]
    src, dst = os.path.join(TMP, "aug_in.f32"), os.path.join(TMP, "aug_out.f32")
    img.astype(np.float32).tofile(src)
    args = [CHECK, "geom", str(S), repr(angle), repr(scale), repr(tx), repr(ty), str(flip), fill, src, dst]
    p = run(args)
    require(p.returncode == 0, "check_augment geom failed: %s" % p.stderr)
    return np.fromfile(dst, dtype=np.float32).reshape(S, S)


def test_rotation():
    img = test_image(48)
    ref = img.astype(np.float64)
    worst_sk = worst_sp = 0.0
    for angle in (7.0, -12.5, 3.0, 90.0, 180.0):
        out = geom(img, angle)
        sk = rotate(ref, angle, order=1, mode="constant", cval=0.0, preserve_range=True)
        sp = ndimage.rotate(ref, angle, reshape=False, order=1, mode="grid-constant", cval=0.0)
        d_sk, d_sp = np.abs(out - sk).max(), np.abs(out - sp).max()
        check(d_sk < TOL, "rotation %g: largest difference to skimage %.3g" % (angle, d_sk))
        check(d_sp < TOL, "rotation %g: largest difference to scipy %.3g" % (angle, d_sp))
        worst_sk, worst_sp = max(worst_sk, d_sk), max(worst_sp, d_sp)
        out = geom(img, angle, fill="edge")
        sk = rotate(ref, angle, order=1, mode="edge", preserve_range=True)
        d = np.abs(out - sk).max()
        check(d < TOL, "rotation %g, edge fill: largest difference to skimage %.3g" % (angle, d))
        worst_sk = max(worst_sk, d)
    print("max |rotation - skimage.transform.rotate| %.3g, |rotation - scipy.ndimage.rotate| %.3g"
          % (worst_sk, worst_sp))


def forward_matrix(S, angle, scale, tx, ty, flip):
    """augment.h's forward map in (x, y): mirror, zoom, rotate CCW as displayed, shift."""
    c = (S - 1) / 2.0
    t = np.deg2rad(angle)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    lin = scale * rot @ np.diag([-1.0 if flip else 1.0, 1.0])
    m = np.eye(3)
    m[:2, :2] = lin
    m[:2, 2] = np.array([c, c]) + np.array([tx, ty]) * S - lin @ np.array([c, c])
    return m


def test_affine():
    img = test_image(40)
    worst = 0.0
    for angle, scale, tx, ty, flip in ((4.0, 1.08, 0.05, -0.03, 1), (-5.0, 0.9, -0.05, 0.04, 0),
                                       (0.0, 1.1, 0.0, 0.0, 1), (0.0, 1.0, 0.05, 0.05, 0)):
        out = geom(img, angle, scale, tx, ty, flip)
        inv = np.linalg.inv(forward_matrix(40, angle, scale, tx, ty, flip))
        ref = warp(img.astype(np.float64), ProjectiveTransform(matrix=inv), order=1, mode="constant",
                   cval=0.0, preserve_range=True)
        d = np.abs(out - ref).max()
        check(d < TOL, "mirror/zoom/rotate/shift %s: largest difference to skimage.warp %.3g"
              % ((angle, scale, tx, ty, flip), d))
        worst = max(worst, d)
    print("max |mirror+zoom+rotate+shift - skimage.transform.warp| %.3g" % worst)
    # the documented directions, on a dot right of the centre of a 41x41 image
    dot = np.zeros((41, 41), dtype=np.float32)
    dot[20, 24] = 1.0
    check(geom(dot, scale=2.0)[20, 28] == 1.0, "zoom 2 must move the dot from 4 to 8 px right of centre")
    check(geom(dot, tx=5 / 41, ty=0)[20, 29] > 0.999, "shift tx>0 must move the image right")
    check(geom(dot, tx=0, ty=5 / 41)[25, 24] > 0.999, "shift ty>0 must move the image down")
    check(geom(dot, angle=90.0)[16, 20] > 0.999, "+90 degrees must turn right of centre into above it")


def write_labels(path, labels, K):
    with open(path, "w") as f:
        f.write("%d %d\n" % (len(labels), K))
        f.write("\n".join(str(v) for v in labels) + "\n")


def balanced(labels_path, n_out, seed, epoch):
    p = run([CHECK, "balanced", labels_path, str(n_out), str(seed), str(epoch)])
    require(p.returncode == 0, "check_augment balanced failed: %s" % p.stderr)
    return np.array([int(v) for v in p.stdout.split()])


def test_balanced():
    rng = np.random.default_rng(5)
    K = 5
    labels = np.repeat(np.arange(K), [83, 294, 71, 149, 12])
    rng.shuffle(labels)
    path = os.path.join(TMP, "aug_labels.txt")
    write_labels(path, labels, K)
    n, epochs = len(labels), 20
    orders = [balanced(path, n, 3, e) for e in range(epochs)]
    class_counts = np.zeros(K)
    image_counts = np.zeros(n)
    for o in orders:
        check(len(o) == n and o.min() >= 0 and o.max() < n, "order has wrong length or indices")
        c = np.bincount(labels[o], minlength=K)
        check(c.max() - c.min() <= 1, "class counts in one epoch differ by more than one: %s" % c)
        class_counts += c
        image_counts += np.bincount(o, minlength=n)
    stat, p = chisquare(class_counts)
    check(p > 0.01, "class counts %s fail the chi-square test of equality (p=%.3g)" % (class_counts, p))
    worst_p = 1.0
    for c in range(K):
        cnt = image_counts[labels == c]
        _, pc = chisquare(cnt)
        worst_p = min(worst_p, pc)
        check(pc > 0.001, "images of class %d are not drawn uniformly (p=%.3g)" % (c, pc))
    # the natural (unbalanced) order must fail the same test: the test has teeth
    _, p_plain = chisquare(np.bincount(labels, minlength=K) * epochs)
    check(p_plain < 1e-6, "the unbalanced order should fail the chi-square test (p=%.3g)" % p_plain)
    print("info balanced sampling over %d epochs: class counts %s, chi-square p=%.3f "
          "(unbalanced order p=%.1e); within-class uniformity worst p=%.3f"
          % (epochs, class_counts.astype(int).tolist(), p, p_plain, worst_p))
    check((balanced(path, n, 3, 0) == orders[0]).all(), "balanced sampling is not deterministic")
    check(not (orders[1] == orders[0]).all(), "two epochs drew the same order")
    check(not (balanced(path, n, 4, 0) == orders[0]).all(), "two seeds drew the same order")
    # more slots than images: every image of the smallest class repeats evenly
    o = balanced(path, 2000, 3, 0)
    tiny = np.bincount(o, minlength=n)[labels == 4]
    check(tiny.max() - tiny.min() <= 1, "oversampling must cycle through a class evenly: %s" % tiny)


if __name__ == "__main__":
    test_rotation()
    test_affine()
    test_balanced()
    done()
