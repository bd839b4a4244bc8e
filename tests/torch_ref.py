"""torch_ref.py: PyTorch reference results for tests/check_torch.c.

Builds a preset in PyTorch exactly as its spec string in src/nn/model.c says
(read from that file, so the two cannot drift apart), as an nn.Sequential
with one module per engine layer: c<OC>[k<K>][s<S>] -> Conv2d(padding K//2),
res<N>[s<S>] -> ResBlock (below), r -> ReLU, bn -> BatchNorm2d/1d,
mp<K> -> MaxPool2d(K), gap -> mean over H,W, do<P> -> multiplication by an
explicit mask (0 or 1/(1-P)) that this script draws and exports, so both
sides use identical masks; fl -> Flatten,
inserted before a dense layer on images as the engine does; fc<N> -> Linear;
the classifier fc<K> is appended. Parameters are PyTorch's own default
initialisation, exported in nn.Sequential.parameters() order (layer order,
weight then bias; a ResBlock's submodules in attribute order), which is the
engine's parameter-block order.

Writes OUT (HDF5, read by check_torch.c) with:
  attrs   preset, spec, size, batch, classes, steps, sgd_*, adam_*
  x (steps,N,1,S,S) f32, y (steps,N) i32     one batch per step; step 0 is
                                              also the batch of the single-pass checks
  init/NNN                                    initial parameters
  masks/<layer index> (steps,N,F)             dropout masks per step
  ref/logits, ref/loss, ref/grad/NNN          one training forward/backward
  ref/grad64/NNN                              the same gradients in float64
  ref/buffer/NNN                              BN running_mean, running_var after it
  ref/eval_logits                             eval mode after that forward
  sgd/loss (steps), sgd/final/NNN             10 SGD steps (momentum, weight decay)
  adam/loss (steps), adam/final/NNN           10 Adam steps (L2 weight decay)
  sgd|adam/loss64, sgd|adam/final64/NNN       the same runs in float64

usage: /usr/bin/python3 tests/torch_ref.py PRESET SIZE BATCH CLASSES OUT
"""
import copy
import os
import re
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn

STEPS = 10
SGD = dict(lr=1e-4, momentum=0.9, weight_decay=5e-4)
ADAM = dict(lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)


class MaskDropout(nn.Module):
    """Inverted dropout with a mask set from outside (0 or 1/(1-p))."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.mask = None

    def forward(self, x):
        return x * self.mask if self.training else x


class ResBlock(nn.Module):
    """res<N>[s<S>]: hipid's residual block (layers.h ResLayer). Attributes in
    this order so that .parameters() and the buffers enumerate as the engine's
    tensors: conv1, bn1, conv2, bn2[, proj_conv, proj_bn]. Every convolution
    has a bias, as in the engine."""

    def __init__(self, c, n, s):
        super().__init__()
        self.conv1 = nn.Conv2d(c, n, 3, stride=s, padding=1)
        self.bn1 = nn.BatchNorm2d(n)
        self.conv2 = nn.Conv2d(n, n, 3, stride=1, padding=1)
        self.bn2 = nn.BatchNorm2d(n)
        self.proj = c != n or s != 1
        if self.proj:
            self.proj_conv = nn.Conv2d(c, n, 1, stride=s)
            self.proj_bn = nn.BatchNorm2d(n)

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (self.proj_bn(self.proj_conv(x)) if self.proj else x))


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def preset_spec(root, name):
    src = open(os.path.join(root, "src", "nn", "model.c")).read()
    table = dict(re.findall(r'\{"([a-z0-9-]+)",\s*"([^"]+)"\}', src))
    return table[name]


def build(spec, shape, n_classes):
    """Mirror model.c's model_parse: returns (nn.Sequential, dropout layer indices)."""
    c, h, w = shape
    mods, drops = [], []
    toks = [t.strip() for t in spec.split(",")]
    i = 0
    while True:
        if i < len(toks):
            tok = toks[i]
            i += 1
        elif h != 1 or w != 1:
            tok = "fl"
        else:
            tok = "fc%d" % n_classes
            i = len(toks) + 1
        if tok.startswith("fc") and (h != 1 or w != 1):
            mods.append(nn.Flatten())
            c, h, w = c * h * w, 1, 1
        m = re.fullmatch(r"c(\d+)((?:[ks]\d+)*)", tok)
        r = re.fullmatch(r"res(\d+)(?:s(\d+))?", tok)
        if r:
            n, s = int(r.group(1)), int(r.group(2) or 1)
            mods.append(ResBlock(c, n, s))
            c, h, w = n, (h - 1) // s + 1, (w - 1) // s + 1
        elif m:
            oc, k, s = int(m.group(1)), 3, 1
            for key, val in re.findall(r"([ks])(\d+)", m.group(2)):
                if key == "k":
                    k = int(val)
                else:
                    s = int(val)
            mods.append(nn.Conv2d(c, oc, k, stride=s, padding=k // 2))
            c, h, w = oc, (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
        elif tok.startswith("fc"):
            o = int(tok[2:])
            mods.append(nn.Linear(c, o))
            c = o
        elif tok == "r":
            mods.append(nn.ReLU())
        elif tok == "bn":
            mods.append(nn.BatchNorm2d(c) if (h, w) != (1, 1) else nn.BatchNorm1d(c))
        elif tok.startswith("mp"):
            k = int(tok[2:]) if len(tok) > 2 else 2
            mods.append(nn.MaxPool2d(k))
            h, w = h // k, w // k
        elif tok == "gap":
            mods.append(GlobalAvgPool())
            h, w = 1, 1
        elif tok.startswith("do"):
            drops.append((len(mods), float(tok[2:]), c * h * w))
            mods.append(MaskDropout(float(tok[2:])))
        elif tok == "fl":
            mods.append(nn.Flatten())
            c, h, w = c * h * w, 1, 1
        else:
            raise ValueError("unknown token " + tok)
        if i > len(toks):
            break
    return nn.Sequential(*mods), drops


def set_masks(model, drops, masks, step):
    for idx, _, _ in drops:
        model[idx].mask = torch.from_numpy(masks[idx][step])


def train(model, opt, drops, masks, xs, ys):
    losses = []
    lossf = nn.CrossEntropyLoss()
    model.train()
    for t in range(STEPS):
        set_masks(model, drops, masks, t)
        opt.zero_grad()
        loss = lossf(model(xs[t]), ys[t])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses, dtype=np.float64)


def main():
    preset, size, batch, n_classes, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    torch.set_num_threads(1)
    torch.manual_seed(1234)
    torch.set_default_dtype(torch.float32)
    spec = preset_spec(root, preset)
    model, drops = build(spec, (1, size, size), n_classes)
    init = copy.deepcopy(model.state_dict())

    # image-like inputs (k/255), labels covering every class
    xs = torch.randint(0, 256, (STEPS, batch, 1, size, size)).float() / 255.0
    ys = torch.stack([torch.randperm(batch) % n_classes for _ in range(STEPS)]).long()
    masks = {}
    for idx, p, f in drops:
        keep = (torch.rand(STEPS, batch, f) >= p).float()
        masks[idx] = (keep / (1.0 - p)).numpy().astype(np.float32)

    # one training forward/backward, buffers, eval-mode logits
    model.train()
    set_masks(model, drops, masks, 0)
    logits = model(xs[0])
    loss = nn.CrossEntropyLoss()(logits, ys[0])
    loss.backward()
    grads = [p.grad.detach().numpy().copy() for p in model.parameters()]
    m64 = copy.deepcopy(model).double()
    m64.load_state_dict({k: v.double() for k, v in init.items()})
    for idx, _, _ in drops:
        m64[idx].mask = torch.from_numpy(masks[idx][0].astype(np.float64))
    m64.train()
    nn.CrossEntropyLoss()(m64(xs[0].double()), ys[0]).backward()
    grads64 = [p.grad.detach().numpy().astype(np.float32) for p in m64.parameters()]
    buffers = []
    for mod in model.modules():  # depth first: a block's bn1, bn2, proj_bn in order
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            buffers += [mod.running_mean.numpy().copy(), mod.running_var.numpy().copy()]
    model.eval()
    with torch.no_grad():
        eval_logits = model(xs[0]).numpy()

    model.load_state_dict(init)
    sgd_loss = train(model, torch.optim.SGD(model.parameters(), **SGD), drops, masks, xs, ys)
    sgd_final = [p.detach().numpy().copy() for p in model.parameters()]
    model.load_state_dict(init)
    adam_loss = train(model, torch.optim.Adam(model.parameters(), **ADAM), drops, masks, xs, ys)
    adam_final = [p.detach().numpy().copy() for p in model.parameters()]

    # the same runs in float64: how far float32 itself strays on this trajectory
    # (ReLU networks are not smooth: a unit that sits within rounding of zero
    # switches its whole weight row's gradient on or off)
    m64 = copy.deepcopy(model).double()
    masks64 = {k: v.astype(np.float64) for k, v in masks.items()}
    ref64 = {}
    for name, make in (("sgd", lambda ps: torch.optim.SGD(ps, **SGD)),
                       ("adam", lambda ps: torch.optim.Adam(ps, **ADAM))):
        m64.load_state_dict({k: v.double() for k, v in init.items()})
        loss64 = train(m64, make(m64.parameters()), drops, masks64, xs.double(), ys)
        ref64[name] = (loss64, [p.detach().numpy().astype(np.float32) for p in m64.parameters()])

    model.load_state_dict(init)
    with h5py.File(out + ".tmp", "w") as f:
        f.attrs.update(dict(preset=preset, spec=spec, size=size, batch=batch, classes=n_classes,
                            steps=STEPS, sgd_lr=SGD["lr"], sgd_momentum=SGD["momentum"],
                            sgd_weight_decay=SGD["weight_decay"], adam_lr=ADAM["lr"],
                            adam_beta1=ADAM["betas"][0], adam_beta2=ADAM["betas"][1],
                            adam_eps=ADAM["eps"], adam_weight_decay=ADAM["weight_decay"]))
        f["x"] = xs.numpy()
        f["y"] = ys.numpy().astype(np.int32)
        for k, p in enumerate(model.parameters()):
            f["init/%03d" % k] = p.detach().numpy()
        for idx in masks:
            f["masks/%d" % idx] = masks[idx]
        f["ref/logits"] = logits.detach().numpy()
        f["ref/loss"] = np.array([loss.item()])
        f["ref/eval_logits"] = eval_logits
        for k, g in enumerate(grads):
            f["ref/grad/%03d" % k] = g
        for k, g in enumerate(grads64):
            f["ref/grad64/%03d" % k] = g
        for k, b in enumerate(buffers):
            f["ref/buffer/%03d" % k] = b
        for name in ref64:
            f[name + "/loss64"] = ref64[name][0]
            for k, p in enumerate(ref64[name][1]):
                f["%s/final64/%03d" % (name, k)] = p
        f["sgd/loss"] = sgd_loss
        f["adam/loss"] = adam_loss
        for k, p in enumerate(sgd_final):
            f["sgd/final/%03d" % k] = p
        for k, p in enumerate(adam_final):
            f["adam/final/%03d" % k] = p
    os.replace(out + ".tmp", out)
    print("info %s %dx%d batch %d classes %d: %d parameters, loss %.6f, sgd %.6f -> %.6f, adam %.6f -> %.6f"
          % (preset, size, size, batch, n_classes, sum(p.numel() for p in model.parameters()),
             loss.item(), sgd_loss[0], sgd_loss[-1], adam_loss[0], adam_loss[-1]))


if __name__ == "__main__":
    main()
