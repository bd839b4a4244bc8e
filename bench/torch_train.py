"""Time training steps of the PyTorch twin of a hipid model on random inputs.
usage: /usr/bin/python3 bench/torch_train.py SPEC THREADS [BATCH SIZE STEPS]
Prints: torch_img_s=<x> rss_mb=<x>. The network is built from the same spec
string hipid uses (see include/hipid/nn/model.h), so both sides train one
model; presets are read from src/nn/model.c, as tests/torch_ref.py does."""
import os
import re
import resource
import sys
import time

import torch
import torch.nn as nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "tests"))
from torch_ref import ResBlock  # noqa: E402  the engine's residual block, as the numerics test builds it

PRESETS = dict(re.findall(r'\{"([a-z0-9-]+)",\s*"([^"]+)"\}', open(os.path.join(ROOT, "src", "nn", "model.c")).read()))


def build(spec, size, n_classes):
    spec = PRESETS.get(spec, spec)
    c, h, w = 1, size, size
    layers = []
    for tok in spec.split(",") + ["fc%d" % n_classes]:
        if tok.startswith("fc") and (h, w) != (1, 1):
            layers.append(nn.Flatten()); c, h, w = c * h * w, 1, 1
        if tok.startswith("res"):
            n, s = (int(v) for v in (tok[3:].split("s") + ["1"])[:2])
            layers.append(ResBlock(c, n, s)); c, h, w = n, (h - 1) // s + 1, (w - 1) // s + 1
        elif tok.startswith("c") and tok[1].isdigit():
            rest, k, s = tok[1:], 3, 1
            if "s" in rest: rest, s = rest.split("s")[0], int(rest.split("s")[1])
            if "k" in rest: rest, k = rest.split("k")[0], int(rest.split("k")[1])
            oc = int(rest)
            layers.append(nn.Conv2d(c, oc, k, stride=s, padding=k // 2))
            c, h, w = oc, (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
        elif tok.startswith("fc"):
            layers.append(nn.Linear(c, int(tok[2:]))); c = int(tok[2:])
        elif tok == "r":
            layers.append(nn.ReLU(inplace=True))
        elif tok == "bn":
            layers.append(nn.BatchNorm2d(c) if (h, w) != (1, 1) else nn.BatchNorm1d(c))
        elif tok.startswith("mp"):
            k = int(tok[2:] or 2); layers.append(nn.MaxPool2d(k)); h, w = h // k, w // k
        elif tok == "gap":
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]; h, w = 1, 1
        elif tok.startswith("do"):
            layers.append(nn.Dropout(float(tok[2:])))
        elif tok == "fl":
            layers.append(nn.Flatten()); c, h, w = c * h * w, 1, 1
    return nn.Sequential(*layers)


def main():
    spec, threads = sys.argv[1], int(sys.argv[2])
    B = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    S = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    steps = int(sys.argv[5]) if len(sys.argv) > 5 else 10
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = build(spec, S, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    x = torch.rand(B, 1, S, S)
    y = torch.arange(B) % 2
    lossf = nn.CrossEntropyLoss()
    for s in range(-2, steps):
        if s == 0:
            t0 = time.perf_counter()
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
    img_s = steps * B / (time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("torch_img_s=%.1f rss_mb=%.0f" % (img_s, rss))


if __name__ == "__main__":
    main()
