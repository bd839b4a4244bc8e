#!/usr/bin/env bash
# Successive halving against the full grid, side by side in one run (bench/run.sh
# calls it): jobs/halving.ini (16 configurations of cnn-paper, 5-fold, rungs of
# 3, 9 and 27 epochs) and jobs/halving-grid.ini (the same 16 configurations,
# every trial to 27 epochs), each with mpirun -np 2 on the phantom set.
# Prints one "bench halving ..." line: epochs trained by each (summed over the
# trial files' epochs_run; a promoted trial's epochs count once), their share
# (target: halving at most 35% of the grid), wall times, the configuration
# each selects (the grid: lowest mean validation loss over the folds, as the
# report selects; halving: the one at the last rung), and whether halving's
# pick is the grid's or has a grid test accuracy inside the 95% interval
# (Nadeau-Bengio corrected, as the report's) of the grid's pick.
# Needs HIPID; runs as root with the Open MPI root variables set here (a
# benchmark harness, not a user command).
set -eu
cd "$(dirname "$0")/.."
: "${HIPID:=bin/hipid}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
PY=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hipid-bench-halving.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$HIPID" synth --out "$tmp/phantom" --per-class 60 --classes 6 --size 64 --seed 1 >/dev/null
"$HIPID" prep "$tmp/phantom" -o "$tmp/phantom64.h5" --size 64 --quiet >/dev/null
run() { # job name -> wall seconds; results in $tmp/name
    local t0 t1
    sed -e "s#^\[run\]#[run]\noutput = $tmp/$2#" -e "s#^path = .*#path = $tmp/phantom64.h5#" "$1" >"$tmp/$2.ini"
    t0=$(date +%s.%N)
    mpirun -np 2 "$HIPID" sweep --quiet "$tmp/$2.ini" >"$tmp/$2.log" 2>&1 || { cat "$tmp/$2.log"; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
sh=$(run jobs/halving.ini halving)
sg=$(run jobs/halving-grid.ini grid)
"$PY" - "$tmp/halving" "$tmp/grid" "$sh" "$sg" <<'PYEOF'
import glob, os, sys
import h5py
import numpy as np
from scipy import stats

hdir, gdir, sh, sg = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])

def trials(d):
    out = []
    for p in glob.glob(os.path.join(d, "trials", "*.h5")):
        if p.endswith(".ckpt.h5"):
            continue
        with h5py.File(p, "r") as f:
            a = f.attrs
            st = a["state"].decode() if isinstance(a["state"], bytes) else str(a["state"])
            if st != "done":
                continue
            out.append(dict(config=int(a["config"]), epochs_run=int(a["epochs_run"]),
                            hist=np.array(f["history/val_loss"][:], dtype=float) if "history" in f else np.zeros(0),
                            val_loss=float(a["val_loss"]), test_acc=float(a["test_acc"]),
                            n_train=len(f["indices/train"]) + len(f["indices/val"]), n_test=len(f["indices/test"])))
    return out

ht, gt = trials(hdir), trials(gdir)
h_ep, g_ep = sum(t["epochs_run"] for t in ht), sum(t["epochs_run"] for t in gt)
with h5py.File(os.path.join(hdir, "sweep.h5"), "r") as f:
    st = f["rungs/state"].asstr()[:]
    top = [(f["rungs/score"][i], int(f["rungs/config"][i])) for i in range(len(st)) if st[i] == "top"]
    nominal = float(f.attrs["grid_epochs"])
h_pick = min(top)[1]
configs = sorted({t["config"] for t in gt})
mean_vl = {c: np.mean([t["val_loss"] for t in gt if t["config"] == c]) for c in configs}
g_pick = min(configs, key=lambda c: (mean_vl[c], c))
def acc(c):
    return np.array([t["test_acc"] for t in gt if t["config"] == c])
a = acc(g_pick)
k = len(a)
ratio = np.mean([t["n_test"] / t["n_train"] for t in gt])
half = stats.t.ppf(0.975, k - 1) * np.sqrt((1 / k + ratio) * np.var(a, ddof=1))
lo, hi = a.mean() - half, a.mean() + half
ha = acc(h_pick).mean()
print(f"bench halving configs={len(configs)} grid_epochs={g_ep} halving_epochs={h_ep} "
      f"share={100 * h_ep / g_ep:.1f}% (target <= 35%; nominal grid {nominal:.0f}) grid_s={sg:.0f} halving_s={sh:.0f} "
      f"grid_pick=c{g_pick} halving_pick=c{h_pick} same={'yes' if g_pick == h_pick else 'no'} "
      f"within_95={'yes' if lo <= ha <= hi else 'no'} (grid test acc of the halving pick {ha:.3f}, "
      f"grid pick {a.mean():.3f} [{lo:.3f}, {hi:.3f}] corrected)")
# What other rungs would have picked, replayed from the grid's own histories:
# a trial trained to E epochs and continued is bit-identical to the grid's
# trial over its first E epochs (tests/test_halving.py), so each rung's metric
# is the lowest validation loss over the grid trial's first E epochs.
def whatif(min_ep, max_ep, eta):
    s = 0
    while eta ** (s + 1) <= max_ep / min_ep * (1 + 1e-12):
        s += 1
    E = [max(1, int(max_ep * eta ** (r - s) + 0.5)) for r in range(s + 1)]
    alive, spent = list(configs), 0
    for r, b in enumerate(E):
        score = {}
        for c in alive:
            ts = [t for t in gt if t["config"] == c]
            score[c] = np.mean([t["hist"][:b].min() if len(t["hist"]) else np.inf for t in ts])
            spent += sum(min(b, t["epochs_run"]) - min(E[r - 1] if r else 0, t["epochs_run"]) for t in ts)
        alive = sorted(alive, key=lambda c: (score[c], c))
        if r < len(E) - 1:
            alive = alive[:max(1, len(alive) // eta)]
    pick = alive[0]
    inside = lo <= acc(pick).mean() <= hi
    print(f"bench halving what-if rungs={'/'.join(map(str, E))} eta={eta} epochs={spent} share={100 * spent / g_ep:.1f}% "
          f"pick=c{pick} grid_test_acc={acc(pick).mean():.3f} within_95={'yes' if inside else 'no'}")


for mn, eta in ((3, 3), (1, 3), (9, 3), (3, 2), (1, 2)):
    whatif(mn, 27, eta)
PYEOF
