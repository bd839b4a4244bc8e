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
done()
