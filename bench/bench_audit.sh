#!/usr/bin/env bash
# The leakage audit's copy detection on real radiographs (tests/audit_bench.py,
# another seed than tests/test_audit.py): all 597 shoulder radiographs, 200 of
# them with 2-4 augmented copies. Prints one line:
#   bench audit images= copy_pairs= recall= false_rate= false_share= describe_ms= search_s= est_10k_s=
# describe_ms: descriptor time per image (prep with the search on minus off,
# less the grouping); search_s: the grouping (codebook, candidates, geometric
# verification); est_10k_s: both scaled to 10,000 images (descriptors and
# verification grow linearly; the candidate search is n^2 dot products, which
# this scaling underestimates by its share: see the README).
set -eu
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/bench_audit.py
