"""The training recipe's pieces against PyTorch: the learning-rate schedule
with linear warm-up (SequentialLR of LinearLR and StepLR / CosineAnnealingLR)
and the label-smoothed, class-weighted cross-entropy with its gradient
(F.cross_entropy(weight=, label_smoothing=) and autograd, float64), through
build/tests/check_recipe. Runs with /usr/bin/python3."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
from testlib import check, done, test_bin  # noqa: E402

CHECK = test_bin("check_recipe")


def torch_lrs(lr, sched, epochs, warmup, step_size, gamma):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    rest = epochs - warmup
    if sched == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=rest)
    elif sched == "step":
        main = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
    else:
        main = torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0)
    if warmup:
        warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / (warmup + 1), end_factor=1.0,
                                                 total_iters=warmup)
        s = torch.optim.lr_scheduler.SequentialLR(opt, [warm, main], milestones=[warmup])
    else:
        s = main
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return np.array(out)


worst = 0.0
for lr, sched, epochs, warmup, step_size, gamma in [(0.01, "cosine", 30, 3, 10, 0.1), (0.002, "cosine", 150, 5, 10, 0.1),
                                                     (0.1, "step", 25, 4, 7, 0.5), (0.05, "constant", 12, 2, 10, 0.1),
                                                     (0.003, "cosine", 20, 0, 10, 0.1), (0.1, "step", 9, 0, 3, 0.3)]:
    r = testlib.run([CHECK, "lr", str(lr), sched, str(epochs), str(warmup), str(step_size), str(gamma)])
    ours = np.array([float(x) for x in r.stdout.split()])
    ref = torch_lrs(lr, sched, epochs, warmup, step_size, gamma)
    # of the base rate: near the end of a cosine the rate is tiny and float32
    # cos against PyTorch's recursive form differs in the last digits
    rel = float(np.max(np.abs(ours - ref)) / lr) if len(ours) == len(ref) else np.inf
    worst = max(worst, rel)
    check(r.returncode == 0 and rel < 1e-6,
          f"lr {sched} warmup {warmup} epochs {epochs}: largest difference {rel:.2e} of the base rate from PyTorch")
print(f"max lr schedule: largest difference from PyTorch {worst:.2e} of the base rate")

rng = np.random.default_rng(4)
worst_l = worst_g = 0.0
for eps in (0.0, 0.1, 0.3):
    for weighted in (0, 1):
        N, K = 7, 4
        z = rng.normal(0, 2, (N, K)).astype(np.float32)
        y = rng.integers(0, K, N)
        w = rng.uniform(0.3, 3.0, K).astype(np.float32)
        text = " ".join(f"{v:.9g}" for v in z.ravel()) + " " + " ".join(str(v) for v in y)
        if weighted:
            text += " " + " ".join(f"{v:.9g}" for v in w)
        r = testlib.run([CHECK, "xent", str(eps), str(N), str(K), str(weighted)], input=text)
        vals = np.array([float(x) for x in r.stdout.split()])
        zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(zt, torch.tensor(y), label_smoothing=eps,
                                                 weight=torch.tensor(w, dtype=torch.float64) if weighted else None)
        loss.backward()
        dl = abs(vals[0] - loss.item()) / abs(loss.item())
        dg = float(np.max(np.abs(vals[1:].reshape(N, K) - zt.grad.numpy())) / np.max(np.abs(zt.grad.numpy())))
        worst_l, worst_g = max(worst_l, dl), max(worst_g, dg)
        check(r.returncode == 0 and dl < 1e-6 and dg < 1e-6,
              f"xent eps {eps} weighted {weighted}: loss {vals[0]:.7f} vs {loss.item():.7f}, gradient off by {dg:.2e}")
print(f"max label-smoothed loss: relative difference {worst_l:.2e}, gradient {worst_g:.2e} of its largest")

# ---- mixup and cutmix (mix.h) -------------------------------------------------
from scipy import stats  # noqa: E402


def mixxent(z, y, yp, w, eps, lam, sa, sb):
    N, K = z.shape
    text = " ".join(f"{v:.9g}" for v in z.ravel()) + " " + " ".join(str(v) for v in list(y) + list(yp))
    if w is not None:
        text += " " + " ".join(f"{v:.9g}" for v in w)
    r = testlib.run([CHECK, "mixxent", str(eps), str(N), str(K), str(int(w is not None)), f"{lam:.9g}", f"{sa:.9g}",
                     f"{sb:.9g}"], input=text)
    vals = np.array([float(x) for x in r.stdout.split()])
    return r.returncode, vals[0], vals[1:].reshape(N, K)


worst = 0.0
for eps, weighted, lam in ((0.0, 0, 0.7), (0.1, 1, 0.35), (0.3, 1, 0.9), (0.1, 0, 0.05)):
    N, K = 12, 4
    z = rng.normal(0, 2, (N, K)).astype(np.float32)
    y = rng.integers(0, K, N)
    perm = rng.permutation(N)
    yp = y[perm]
    w = rng.uniform(0.3, 3.0, K).astype(np.float32) if weighted else None
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64) if weighted else None
    F = torch.nn.functional
    lam32 = float(np.float32(lam))
    loss = lam32 * F.cross_entropy(zt, torch.tensor(y), weight=wt, label_smoothing=eps) + \
        (1 - lam32) * F.cross_entropy(zt, torch.tensor(yp), weight=wt, label_smoothing=eps)
    loss.backward()
    ref = zt.grad.numpy()
    # the whole batch at once
    rc, l, g = mixxent(z, y, yp, w, eps, lam, 1.0, 1.0)
    dl, dg = abs(l - loss.item()) / abs(loss.item()), float(np.max(np.abs(g - ref)) / np.max(np.abs(ref)))
    check(rc == 0 and dl < 1e-6 and dg < 1e-6,
          f"mixed loss eps {eps} weighted {weighted} lam {lam}: loss {l:.7f} vs PyTorch {loss.item():.7f}, "
          f"gradient off by {dg:.2e}")
    # three micro-batches (5, 4, 3 samples), each term scaled by its share of
    # the batch's class weight as the trainer does: together PyTorch's gradient
    wy = (w[y] if weighted else np.ones(N)).astype(np.float64)
    wp = (w[yp] if weighted else np.ones(N)).astype(np.float64)
    parts, lo = [], 0
    for n in (5, 4, 3):
        sl = slice(lo, lo + n)
        rc2, _, gp = mixxent(z[sl], y[sl], yp[sl], w, eps, lam, wy[sl].sum() / wy.sum(), wp[sl].sum() / wp.sum())
        parts.append(gp)
        lo += n
    dm = float(np.max(np.abs(np.concatenate(parts) - ref)) / np.max(np.abs(ref)))
    worst = max(worst, dg, dm)
    check(rc2 == 0 and dm < 1e-5, f"mixed loss in 3 micro-batches, eps {eps} weighted {weighted}: gradient off by "
          f"{dm:.2e} of its largest from PyTorch's on the whole batch")
print(f"max mixed loss gradient: relative difference {worst:.2e} from PyTorch")


def draws(mixup, cutmix, S, nb, seed, trial, step0, steps):
    r = testlib.run([CHECK, "mixdraw", str(mixup), str(cutmix), str(S), str(nb), str(seed), str(trial), str(step0),
                     str(steps)])
    rows = [line.split() for line in r.stdout.splitlines()]
    return r.returncode, [(int(a[0]), float(a[1]), *map(int, a[2:6]), [int(v) for v in a[7:]], int(a[6])) for a in rows]


STEPS, NB, S = 3000, 16, 64
rc, off = draws(0, 0, S, NB, 1, 0, 0, 5)
check(rc == 0 and all(d[0] == 0 and d[1] == 1.0 and d[6] == list(range(NB)) for d in off),
      "mixing off: no mixing, lambda 1, every sample its own partner")
for alpha in (0.4, 2.0):
    rc, mx = draws(alpha, 0, S, NB, 7, 3, 0, STEPS)
    lam = np.array([d[1] for d in mx])
    ks = stats.kstest(lam, stats.beta(alpha, alpha).cdf)
    other = 2.0 if alpha == 0.4 else 0.4
    ks_other = stats.kstest(lam, stats.beta(other, other).cdf)
    check(rc == 0 and len(mx) == STEPS and all(d[0] == 1 for d in mx), f"mixup {alpha}: every step mixes up")
    check(ks.pvalue > 1e-3 and ks_other.pvalue < 1e-6,
          f"mixup {alpha}: lambda ~ Beta({alpha}, {alpha}) (Kolmogorov-Smirnov p = {ks.pvalue:.3f}; against "
          f"Beta({other}, {other}) p = {ks_other.pvalue:.1e})")
    check(all(sorted(d[6]) == list(range(NB)) for d in mx), f"mixup {alpha}: partners are a permutation of the batch")
    # every position is partnered with every other about equally often
    pos = np.array([d[6][0] for d in mx])
    chi = stats.chisquare(np.bincount(pos, minlength=NB))
    check(chi.pvalue > 1e-3, f"mixup {alpha}: position 0's partner uniform over the batch (chi-square p = "
          f"{chi.pvalue:.3f})")
# a tiny alpha, where GSL's inverse CDF gave up and aborted the program: lambda
# is then almost always within 1e-6 of 0 or 1 (float32 rounds most to 0 or 1),
# half on each side; the share between 0.01 and 0.99 is Beta's
rc, tiny = draws(0.01, 0, S, NB, 7, 3, 0, STEPS)
lam = np.array([d[1] for d in tiny])
mid = int(((lam > 0.01) & (lam < 0.99)).sum())
p_mid = stats.beta(0.01, 0.01).cdf(0.99) - stats.beta(0.01, 0.01).cdf(0.01)
check(rc == 0 and len(lam) == STEPS and np.all((lam >= 0) & (lam <= 1)) and
      stats.binomtest(int((lam < 0.5).sum()), STEPS, 0.5).pvalue > 1e-3 and
      stats.binomtest(mid, STEPS, p_mid).pvalue > 1e-3,
      f"mixup 0.01: {STEPS} draws in [0, 1], {int((lam < 0.5).sum())} below 1/2, {mid} in (0.01, 0.99) "
      f"(Beta: {p_mid * STEPS:.1f} expected)")
rc, cm = draws(0, 1.0, S, NB, 7, 3, 0, STEPS)
bad = [d for d in cm if not (d[0] == 2 and 0 <= d[2] < d[3] <= S and 0 <= d[4] < d[5] <= S or d[2] == d[3])]
check(rc == 0 and not bad, f"cutmix: every step cuts a box inside the image ({len(bad)} not)")
area_ok = all(abs(d[1] - (1 - (d[3] - d[2]) * (d[5] - d[4]) / S ** 2)) < 1e-6 for d in cm)
check(area_ok, "cutmix: lambda is 1 - box area / image area, the share of each image's own pixels")
inner = [d for d in cm if 0 < d[2] and d[3] < S and 0 < d[4] and d[5] < S]
check(len(inner) > 100 and all(d[3] - d[2] == d[5] - d[4] == d[7] for d in inner) and
      all(d[3] - d[2] <= d[7] and d[5] - d[4] <= d[7] for d in cm),
      f"cutmix: a box is its drawn square, clipped by the border ({len(inner)} not clipped)")
# the square's side is floor(S sqrt(1 - l)), l ~ Beta(a, a): a chi-square of
# the sides over bins [e_i, e_i+1) against their exact probabilities
# P(1 - (e_i+1 / S)^2 < l <= 1 - (e_i / S)^2)
for alpha in (1.0, 0.3):
    SB = 512
    rc, big = draws(0, alpha, SB, 4, 5, 1, 0, STEPS)
    side = np.array([d[7] for d in big])
    edges = np.unique(np.concatenate([[0, 1, 2, 3], np.geomspace(4, SB + 1, 16).astype(int)]))
    cdf = stats.beta(alpha, alpha).cdf
    expect = np.array([cdf(1 - (a / SB) ** 2) - cdf(1 - (b / SB) ** 2) for a, b in zip(edges[:-1], edges[1:])])
    obs = np.histogram(side, edges)[0]
    chi = stats.chisquare(obs, expect / expect.sum() * len(side))
    check(rc == 0 and chi.pvalue > 1e-3 and obs.sum() == STEPS,
          f"cutmix {alpha}: box sides as floor(S sqrt(1 - l)), l ~ Beta({alpha}, {alpha}) (chi-square p = "
          f"{chi.pvalue:.3f} over {len(obs)} bins)")
    if alpha == 1.0:  # negative control: the same sides are not those of Beta(0.3, 0.3)
        c3 = stats.beta(0.3, 0.3).cdf
        e3 = np.array([c3(1 - (a / SB) ** 2) - c3(1 - (b / SB) ** 2) for a, b in zip(edges[:-1], edges[1:])])
        check(stats.chisquare(obs, e3 / e3.sum() * len(side)).pvalue < 1e-6,
              "cutmix 1: the chi-square rejects Beta(0.3, 0.3) for its sides")
rc, both = draws(0.4, 1.0, S, NB, 7, 3, 0, STEPS)
kinds = np.array([d[0] for d in both])
bt = stats.binomtest(int((kinds == 2).sum()), STEPS, 0.5)
check(set(kinds.tolist()) == {1, 2} and bt.pvalue > 1e-3,
      f"mixup and cutmix: {int((kinds == 2).sum())} of {STEPS} steps cutmix (binomial p = {bt.pvalue:.3f} for 1/2)")
rc, again = draws(0.4, 1.0, S, NB, 7, 3, 0, STEPS)
rc, one = draws(0.4, 1.0, S, NB, 7, 3, 1234, 1)
rc, seed8 = draws(0.4, 1.0, S, NB, 8, 3, 0, 50)
rc, trial4 = draws(0.4, 1.0, S, NB, 7, 4, 0, 50)
check(again == both and one[0] == both[1234], "mix draws depend on (seed, trial, step) alone: step 1234 drawn by itself "
      "equals step 1234 of a run")
check(seed8 != both[:50] and trial4 != both[:50], "another seed or trial draws otherwise")

N, S = 3, 9
x = rng.uniform(0, 1, (N, S, S)).astype(np.float32)
xp = rng.uniform(0, 1, (N, S, S)).astype(np.float32)
text = " ".join(f"{v:.9g}" for v in np.concatenate([x.ravel(), xp.ravel()]))
for kind, lam, box in ((1, 0.3, (0, 0, 0, 0)), (2, 1 - 12 / 81, (2, 5, 4, 8))):
    r = testlib.run([CHECK, "mixapply", str(kind), f"{lam:.9g}", *map(str, box), str(S), str(N)], input=text)
    got = np.array([float(v) for v in r.stdout.split()]).reshape(N, S, S)
    if kind == 1:
        want = np.float32(lam) * x + np.float32(1 - np.float32(lam)) * xp
    else:
        want = x.copy()
        want[:, box[0]:box[1], box[2]:box[3]] = xp[:, box[0]:box[1], box[2]:box[3]]
    check(r.returncode == 0 and np.allclose(got, want, atol=1e-6),
          f"mix_images {'mixup' if kind == 1 else 'cutmix'}: off by {np.max(np.abs(got - want)):.1e}")

# ---- one mixed training step of the trainer against PyTorch ---------------------
# hipid train, 4 phantom films of 2 designs at 16 px, a linear classifier (fl +
# fc2), plain SGD, one step on the whole batch (batch 4, no validation, no
# standardisation, label smoothing 0.1), from weights w0 saved by a step of lr
# 1e-30. Its weights after a mixup, then a cutmix step must equal PyTorch's step
# on the batch mixed with the lambda, partners and box check_recipe mixdraw
# prints for (seed, trial 0, step 0). The epoch's shuffle decides which films
# sit at which batch positions; it is drawn inside hipid, so every one of the 24
# orders is tried: one must match, and the unmixed step must not.
import itertools  # noqa: E402

import h5py  # noqa: E402

tmp = testlib.tmp_dir("mixstep")
ph, dset = os.path.join(tmp, "ph"), os.path.join(tmp, "d.h5")
r1 = testlib.run_hipid("synth", "--out", ph, "--classes", 2, "--per-class", 2, "--size", 32, "--seed", 3)
r2 = testlib.run_hipid("prep", os.path.join(ph, "manifest.csv"), "-o", dset, "--size", 16, "--dup-threshold", -1,
                       "-q", "--steps", "none")
testlib.require(r1.returncode == 0 and r2.returncode == 0, f"4 phantom films prepared: {r1.stderr}{r2.stderr}")
with h5py.File(dset) as f:
    X = torch.tensor(f["images"][()].reshape(4, -1) / 255.0, dtype=torch.float64)
    Y = torch.tensor(f["labels"][()].astype(np.int64))
BASE = ["train", "--data", dset, "--model", "fl", "--epochs", 1, "--batch", 4, "--optimizer", "sgd",
        "--momentum", 0, "--val-fraction", 0, "--no-standardize", "--threads", 1, "--label-smoothing", 0.1]
w0p = os.path.join(tmp, "w0.h5")
r = testlib.run_hipid(*BASE, "--lr", 1e-30, "--save", w0p)
testlib.require(r.returncode == 0, f"hipid train wrote w0: {r.stderr}")


def weights(path):
    with h5py.File(path) as f:
        return (torch.tensor(f["tensors/01.dense.weight"][()], dtype=torch.float64),
                torch.tensor(f["tensors/01.dense.bias"][()], dtype=torch.float64))


W0, B0 = weights(w0p)
LR = 0.5


def torch_step(xb, ya, yb, lam):
    W, B = W0.clone().requires_grad_(True), B0.clone().requires_grad_(True)
    z = xb @ W.T + B
    F = torch.nn.functional
    loss = lam * F.cross_entropy(z, ya, label_smoothing=0.1) + (1 - lam) * F.cross_entropy(z, yb, label_smoothing=0.1)
    loss.backward()
    return (W0 - LR * W.grad), (B0 - LR * B.grad)


for kind, opts, seed in (("mixup", ["--mixup", 0.4], 2), ("cutmix", ["--cutmix", 1.0], 4)):
    w1p = os.path.join(tmp, f"w1-{kind}.h5")
    r = testlib.run_hipid(*BASE, "--lr", LR, "--init", w0p, "--seed", seed, "--save", w1p, *opts)
    rc, d = draws(0.4 if kind == "mixup" else 0, 1.0 if kind == "cutmix" else 0, 16, 4, seed, 0, 0, 1)
    if r.returncode != 0 or rc != 0:
        check(False, f"{kind} step: hipid train exits 0 ({r.stderr.strip()[-300:]})")
        continue
    k, lam, y0, y1, x0, x1, partner = d[0][0], float(np.float32(d[0][1])), *d[0][2:7]
    W1, B1 = weights(w1p)
    best, best_plain = np.inf, np.inf
    for order in itertools.permutations(range(4)):
        o, po = list(order), [order[partner[i]] for i in range(4)]
        if kind == "mixup":
            xb = lam * X[o] + (1 - lam) * X[po]
        else:
            xb = X[o].reshape(4, 16, 16).clone()
            xb[:, y0:y1, x0:x1] = X[po].reshape(4, 16, 16)[:, y0:y1, x0:x1]
            xb = xb.reshape(4, -1)
        Wt, Bt = torch_step(xb, Y[o], Y[po], lam)
        err = float(max((W1 - Wt).abs().max(), (B1 - Bt).abs().max()) / (W1 - W0).abs().max())
        Wp, Bp = torch_step(X[o], Y[o], Y[o], 1.0)
        plain = float(max((W1 - Wp).abs().max(), (B1 - Bp).abs().max()) / (W1 - W0).abs().max())
        best, best_plain = min(best, err), min(best_plain, plain)
    mixes = k == (1 if kind == "mixup" else 2) and 0.05 < lam < 0.95 and partner != list(range(4))
    check(mixes and best < 1e-4 and best_plain > 1e-2,
          f"{kind} step (lambda {lam:.3f}, partners {partner}): hipid's weights equal PyTorch's mixed step to "
          f"{best:.1e} of the update, the unmixed step's only to {best_plain:.1e}")
    print(f"{kind} step: PyTorch's mixed step to {best:.1e} of the update, the unmixed one {best_plain:.1e}")
done()
