"""The cost model of hipid sweep --dry-run (README "Running across nodes"):
the data-parallel table's bytes and step times against the documented
formula, computed here from the network's sizes. A step at p ranks is the
busiest rank's share of the micro-batches plus the collectives, each an
allreduce of B bytes costed as a ring, 2(p-1)/p B / bandwidth + 2(p-1)
latency, plus two one-value broadcasts of ceil(log2 p) latencies.
fixed32 reduces the gradients as int32, one float per tensor (max) and the
64-bit tail (buffers + 3); fixed64 one block of 8-byte values.
Runs with /usr/bin/python3; the dry run needs no data set (sizes assumed from
[data] synth)."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, run_hipid, tmp_dir  # noqa: E402

ROOT = tmp_dir("costmodel")
job = os.path.join(ROOT, "j.ini")
with open(job, "w") as f:
    f.write(f"""[data]
path = {ROOT}/none.h5
synth = classes=3,per_class=20,size=32,seed=1
[cv]
scheme = kfold
k = 3
[family f32]
model = fl,fc2048
batch = 8
micro_batch = 2
[family f64]
model = fl,fc2048
batch = 8
micro_batch = 2
gradient_sum = fixed64
[family solo]
model = fl,fc2048
batch = 8
""")
GBIT, US = 1.0, 100.0
r = run_hipid("sweep", "--dry-run", "--link-gbit", str(GBIT), "--link-us", str(US), job)
check(r.returncode == 0, f"dry run exits 0 ({r.stderr[-300:]})")
lines = r.stdout.splitlines()
start = next((i for i, l in enumerate(lines) if l.startswith("data parallel")), None)
check(start is not None and f"link {GBIT:g} Gbit/s, {US:g} us, as stated" in lines[start],
      "the table names the stated link")
rows = {}
for l in lines[(start or 0) + 2:]:
    w = l.split()
    if len(w) >= 3 and w[0] in ("f32", "f64", "solo"):
        rows[w[0]] = w

# fl,fc2048 on 32x32 with 3 classes: fc2048 (1024 x 2048 + 2048), fc3 (2048 x 3 + 3); 4 tensors, no buffers
n_params, n_buffers, n_tensors = 1024 * 2048 + 2048 + 2048 * 3 + 3, 0, 4
bw, lat = GBIT * 1e9 / 8, US * 1e-6
S = 8 // 2


def ring(b, p):
    return 0.0 if p == 1 else 2 * (p - 1) / p * b / bw + 2 * (p - 1) * lat


def comm(kind, p):
    tail = (n_buffers + 3) * 8
    if kind == "f32":
        c = ring(n_params * 4, p) + ring(tail, p) + ring((n_tensors + 1) * 4, p)
    else:
        c = ring(n_params * 8 + tail, p)
    return c + (2 * math.ceil(math.log2(p)) * lat if p > 1 else 0.0)


for kind, nbytes in (("f32", n_params * 4 + (n_buffers + 3) * 8 + (n_tensors + 1) * 4),
                     ("f64", (n_params + n_buffers + 3) * 8)):
    w = rows.get(kind)
    if not check(w is not None and len(w) >= 14, f"{kind}: a row with 4 group sizes ({w})"):
        continue
    check(abs(float(w[1]) - nbytes / 1e6) <= 0.05, f"{kind}: {w[1]} MB a step, expected {nbytes / 1e6:.2f}")
    step1 = float(w[2]) / 1e3
    for i, p in enumerate((1, 2, 4, 8)):
        got = float(w[2 + 3 * i]) / 1e3
        want = step1 * math.ceil(S / p) / S + comm(kind, p)
        # the table prints 0.1 ms; step(1) enters scaled by at most 1
        check(abs(got - want) <= 0.2e-3, f"{kind} at {p} rank(s): {got * 1e3:.1f} ms, formula {want * 1e3:.2f} ms")
        eff = float(w[4 + 3 * i].rstrip("%"))
        check(abs(eff - 100 * step1 / (p * got)) <= 1.0, f"{kind} at {p} rank(s): efficiency {eff}%")
w = rows.get("solo")
check(w is not None and "micro_batch 0" in " ".join(w), "a family without micro-batches is one rank per trial")
bad = run_hipid("sweep", "--link-gbit", "1", job)
check(bad.returncode == 2 and "need --dry-run" in bad.stderr, "--link-gbit without --dry-run is a usage error")
bad = run_hipid("sweep", "--dry-run", "--link-gbit", "-3", job)
check(bad.returncode == 2 and "--link-gbit expects" in bad.stderr, "a negative bandwidth is a usage error")
print(f"info f32 row: {' '.join(rows.get('f32', []))}")
done()
