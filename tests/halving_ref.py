"""halving_ref.py: an independent Python reading of the contract in
include/hipid/sweep/halving.h (successive halving, Hyperband, per-fold
pruning), written from the header's text and not from src/sweep/halving.c.
The tests compare the engine's rung table, trial budgets and pruned flags,
its exact Wilcoxon p-values and its --dry-run epoch counts with what this
module computes from the same plan and the same metrics.

Exact where the contract is exact: rung epochs, bracket shares and p-values
use integers and fractions (no floating point); a configuration's score is
the float mean of its units' metrics summed in plan order (the only reading
of "mean" that two implementations can agree on bit for bit), and a median
of an even count is 0.5 * (a + b) of the two middle floats.

Readings of the contract where its text leaves a choice (named so that a
disagreement with the engine can be traced to one of them):
  - largest remainders: equal remainders go to the lower bracket index;
  - the first wave covers min(prune_after, units) units; when it covers them
    all there is no pruning decision (nothing would be saved);
  - a paired difference of two equal metrics (+inf and +inf included) is 0;
  - a NaN score ranks as +inf;
  - the tie-breaking hash of a configuration is the plan hash of its first
    trial (plan order), the same for every selection group of the family.

Plan trials are dicts: idx, family (name), config, repeat, outer, inner,
seed, hash (int), epochs (the configuration's own epochs). A job is a dict:
search ("grid" | "random" | "halving" | "hyperband"), metric ("val_loss" |
"val_acc"), prune ("none" | "median" | "wilcoxon"), eta, min_epochs,
max_epochs, prune_after (0: default), prune_alpha, nested (bool).
"""
import itertools
import math
from fractions import Fraction

INF = float("inf")
STATES = ("promoted", "stopped", "pruned", "top", "open")


def staged(job):
    return job["search"] in ("halving", "hyperband")


def s_max(job):
    """floor(log_eta(max_epochs / min_epochs)) in integers: the largest s with
    eta^s * min_epochs <= max_epochs."""
    if not staged(job):
        return 0
    s = 0
    while job["eta"] ** (s + 1) * job["min_epochs"] <= job["max_epochs"]:
        s += 1
    return s


def round_half_up(q):
    """round() of a positive Fraction, halves up (Python's round() goes to even)."""
    return math.floor(q + Fraction(1, 2))


def rung_epochs(job):
    """E_r = round(max_epochs * eta^(r - s_max)) for r = 0..s_max; [0] (each
    configuration to its own epochs) outside halving."""
    if not staged(job):
        return [0]
    s = s_max(job)
    return [max(1, round_half_up(Fraction(job["max_epochs"], job["eta"] ** (s - r)))) for r in range(s + 1)]


def bracket_weights(job):
    """Li et al.'s n_s = ceil((s_max + 1) / (s + 1)) * eta^s for bracket b = s_max - s."""
    s_m = s_max(job)
    out = []
    for b in range(s_m + 1):
        s = s_m - b
        out.append(-(-(s_m + 1) // (s + 1)) * job["eta"] ** s)
    return out


def deal(job, n):
    """Configurations per bracket: n shared in proportion to the weights,
    largest remainders (exact fractions; equal remainders: lower bracket)."""
    if job["search"] != "hyperband":
        return [n]
    w = bracket_weights(job)
    tot = sum(w)
    quota = [Fraction(n * x, tot) for x in w]
    count = [math.floor(q) for q in quota]
    rem = [q - c for q, c in zip(quota, count)]
    left = n - sum(count)
    for b in sorted(range(len(w)), key=lambda b: (-rem[b], b))[:left]:
        count[b] += 1
    return count


def config_hashes(plan):
    """(family, config) -> the plan hash of the configuration's first trial."""
    out = {}
    for t in sorted(plan, key=lambda t: t["idx"]):
        out.setdefault((t["family"], t["config"]), t["hash"])
    return out


class Group:
    def __init__(self, family, bracket, repeat, outer, cfgs, first, top):
        self.family, self.bracket, self.repeat, self.outer = family, bracket, repeat, outer
        self.cfgs, self.first, self.top = cfgs, first, top
        self.units = {c: [] for c in cfgs}   # plan indices, plan order
        self.follow = {c: [] for c in cfgs}  # nested: the outer trials

    @property
    def n_units(self):
        return len(self.units[self.cfgs[0]])


def groups(job, plan, shares=None):
    """The selection groups: (family, bracket) or, nested, (family, bracket,
    repeat, outer); families in order of first appearance in the plan.
    shares: {family: configurations per bracket} to use instead of deal()
    (another resolution of equal remainders)."""
    plan = sorted(plan, key=lambda t: t["idx"])
    hashes = config_hashes(plan)
    s_m = s_max(job)
    hyper = job["search"] == "hyperband"
    fams = []
    for t in plan:
        if t["family"] not in fams:
            fams.append(t["family"])
    out = []
    for fam in fams:
        trials = [t for t in plan if t["family"] == fam]
        cfgs = sorted({t["config"] for t in trials})
        if hyper:
            cfgs.sort(key=lambda c: (hashes[(fam, c)], c))
        counts = (shares or {}).get(fam) or deal(job, len(cfgs))
        outers = [(-1, -1)]
        if job["nested"]:
            outers = []
            for t in trials:
                if (t["repeat"], t["outer"]) not in outers:
                    outers.append((t["repeat"], t["outer"]))
        at = 0
        for b, n in enumerate(counts):
            mine, at = cfgs[at:at + n], at + n
            if not mine:
                continue
            for rep, out_ in outers:
                g = Group(fam, b, rep, out_, mine, b if hyper else 0, s_m)
                for t in trials:
                    if t["config"] not in g.units:
                        continue
                    if job["nested"] and (t["repeat"], t["outer"]) != (rep, out_):
                        continue
                    if job["nested"] and t["inner"] < 0:
                        g.follow[t["config"]].append(t["idx"])
                    else:
                        g.units[t["config"]].append(t["idx"])
                if len({len(v) for v in g.units.values()}) != 1 or len({len(v) for v in g.follow.values()}) != 1 \
                        or g.n_units == 0:
                    raise ValueError(f"family {fam}: configurations without the same units")
                out.append(g)
    return out


# ---- the metric ---------------------------------------------------------------

def history_metric(val_loss, val_acc, epochs, metric):
    """A trial's metric at a budget of `epochs` (0: all it has): the lowest
    finite validation loss over the first epochs (the first such epoch on
    ties), or minus the validation accuracy at that epoch; +inf without one."""
    n = len(val_loss) if epochs <= 0 else min(epochs, len(val_loss))
    best = None
    for i in range(n):
        x = float(val_loss[i])
        if math.isfinite(x) and (best is None or x < float(val_loss[best])):
            best = i
    if best is None:
        return INF
    return float(val_loss[best]) if metric == "val_loss" else -float(val_acc[best])


def mean(xs):
    s = 0.0
    for x in xs:
        s += x
    return s / len(xs)


def key(score):
    return INF if math.isnan(score) else score


# ---- the exact one-sided signed-rank test --------------------------------------

def _signed_ranks(d):
    """Nonzero differences' average ranks of |d| (Fractions) and signs."""
    nz = [x for x in d if not math.isnan(x) and x != 0]
    order = sorted(range(len(nz)), key=lambda i: abs(nz[i]))
    rank = [Fraction(0)] * len(nz)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and abs(nz[order[j + 1]]) == abs(nz[order[i]]):
            j += 1
        for k in range(i, j + 1):  # positions i+1..j+1, averaged
            rank[order[k]] = Fraction(i + 1 + j + 1, 2)
        i = j + 1
    return rank, [x > 0 for x in nz]


def wilcoxon_greater(d):
    """P(W+ >= observed W+) under H0 (each sign + or - with 1/2), exactly, as a
    Fraction; 1 when no difference is nonzero. Counts sign patterns with a
    table over the attainable rank sums."""
    rank, pos = _signed_ranks(d)
    if not rank:
        return Fraction(1)
    w = sum(r for r, p in zip(rank, pos) if p)
    ways = {Fraction(0): 1}
    for r in rank:
        nxt = dict(ways)
        for s, c in ways.items():
            nxt[s + r] = nxt.get(s + r, 0) + c
        ways = nxt
    return Fraction(sum(c for s, c in ways.items() if s >= w), 2 ** len(rank))


def wilcoxon_brute(d):
    """The same p-value by listing all 2^n sign patterns (small n only)."""
    rank, pos = _signed_ranks(d)
    if not rank:
        return Fraction(1)
    w = sum(r for r, p in zip(rank, pos) if p)
    hits = sum(1 for signs in itertools.product((0, 1), repeat=len(rank))
               if sum(r for r, s in zip(rank, signs) if s) >= w)
    return Fraction(hits, 2 ** len(rank))


# ---- the decisions ---------------------------------------------------------------

def wave_size(job, g):
    if job["prune"] == "none":
        return g.n_units
    m = job["prune_after"] if job["prune_after"] > 0 else -(-g.n_units // 2)
    return min(m, g.n_units)


def run(job, plan, metric_fn, shares=None):
    """Every decision of every group, given metric_fn(idx, budget) (budget 0:
    the trial's own epochs). Returns (rows, budget, pruned): rows as tuples
    (family, config, bracket, repeat, outer, rung, epochs, n_units, score,
    state); budget[idx] the epochs each trial was last trained to (0: its
    end, -1: never), pruned[idx] 1 for units of configurations that stopped
    before their bracket's last rung in their group."""
    E = rung_epochs(job)
    rows, last = [], {}
    pruned = {t["idx"]: 0 for t in plan}
    hashes = config_hashes(plan)
    for g in groups(job, plan, shares):
        h = {c: hashes[(g.family, c)] for c in g.cfgs}
        alive = list(g.cfgs)
        top = set()
        for r in range(g.first, g.top + 1):
            b = E[r]
            entered = len(alive)
            m = wave_size(job, g)
            met = {}

            def score(c, n):
                for i in g.units[c][:n]:
                    if i not in met:
                        met[i] = metric_fn(i, b)
                        last[i] = b
                return mean([met[i] for i in g.units[c][:n]])

            def row(c, n, s, state):
                rows.append((g.family, c, g.bracket, g.repeat, g.outer, r, b, n, s, state))

            if m < g.n_units:  # the first wave and its pruning decision
                sc = {c: score(c, m) for c in alive}
                ranked = sorted(alive, key=lambda c: (key(sc[c]), h[c], c))
                best = ranked[0]
                if job["prune"] == "median":
                    v = sorted(key(sc[c]) for c in alive)
                    n = len(v)
                    med = v[n // 2] if n % 2 else (v[n // 2] if v[n // 2 - 1] == v[n // 2]
                                                   else 0.5 * (v[n // 2 - 1] + v[n // 2]))
                out = set()
                for c in ranked[1:]:
                    if job["prune"] == "median":
                        gone = key(sc[c]) > med
                    else:
                        d = []
                        for i, j in zip(g.units[c][:m], g.units[best][:m]):
                            d.append(0.0 if met[i] == met[j] else met[i] - met[j])
                        gone = wilcoxon_greater(d) < Fraction(job["prune_alpha"])
                    if gone:
                        out.add(c)
                        row(c, m, sc[c], "pruned")
                alive = [c for c in alive if c not in out]
            sc = {c: score(c, g.n_units) for c in alive}
            ranked = sorted(alive, key=lambda c: (key(sc[c]), h[c], c))
            if r == g.top:
                for c in ranked:
                    row(c, g.n_units, sc[c], "top")
                top = set(ranked)
                break
            keep = max(1, entered // job["eta"])
            for k, c in enumerate(ranked):
                row(c, g.n_units, sc[c], "promoted" if k < keep else "stopped")
            alive = ranked[:keep]
        for c in g.cfgs:
            for i in g.units[c] + g.follow[c]:  # an outer trial of a stopped configuration is never trained
                pruned[i] = int(c not in top)
            if c in top:
                for i in g.follow[c]:
                    last[i] = 0
    budget = {}
    for t in plan:
        b = last.get(t["idx"], -1)
        budget[t["idx"]] = 0 if staged(job) and b >= job["max_epochs"] else b
    return rows, budget, pruned


def expected(job, plan, shares=None):
    """(grid_epochs, most_epochs, runs): the epochs a full grid trains (every
    trial to its own epochs); the most a staged search can (every configuration
    promoted as the rule allows, no early stopping, no pruning, a promoted
    trial continuing from its rung: E_r - E_r-1 more epochs); the trial runs
    that takes (one per trial and rung, plus nested outer trials)."""
    own = {t["idx"]: t["epochs"] for t in plan}
    grid = sum(own.values())
    E = rung_epochs(job)
    most, runs = 0, 0
    for g in groups(job, plan, shares):
        n, prev = len(g.cfgs), 0
        for r in range(g.first, g.top + 1):
            if E[r] == 0:
                most += sum(own[i] for c in g.cfgs for i in g.units[c])
            else:
                most += n * g.n_units * (E[r] - prev)
            prev = E[r]
            runs += n * g.n_units
            if r < g.top:
                n = max(1, n // job["eta"])
        # nested: the outer trials of the configurations left, to their own
        # epochs (max_epochs under halving, whichever configurations they are)
        runs += sum(len(g.follow[c]) for c in g.cfgs[:n])
        most += sum(own[i] for c in g.cfgs[:n] for i in g.follow[c])
    return grid, most, runs


def final_states(rows):
    """(family, bracket, repeat, outer, config) -> its last row's state."""
    out = {}
    for r in sorted(rows, key=lambda r: r[5]):
        out[(r[0], r[2], r[3], r[4], r[1])] = r[9]
    return out
