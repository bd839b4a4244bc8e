"""bench_audit.py: see bench_audit.sh."""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import audit_bench  # noqa: E402

HIPID = os.environ.get("HIPID", "bin/hipid")
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "shoulder-implants")


def prep(tree, out, *extra):
    t0 = time.monotonic()
    r = subprocess.run([HIPID, "prep", tree, "-o", out, "--size", "32", "-q", *extra], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("bench_audit: hipid prep failed: " + r.stderr[-500:])
    return time.monotonic() - t0, r.stdout


def main():
    with tempfile.TemporaryDirectory(prefix="hipid-bench-audit.") as tmp:
        tree, truth = audit_bench.make(tmp, SRC, 7, 597, 200)
        t_on, out = prep(tree, os.path.join(tmp, "on.h5"))
        t_off, _ = prep(tree, os.path.join(tmp, "off.h5"), "--dup-threshold", "-1")
        m = re.search(r"^copies of one radiograph .*, ([\d.]+) s$", out, re.M)
        search = float(m.group(1)) if m else float("nan")
        s = audit_bench.score(os.path.join(tmp, "on.h5"), truth)
        n = s["images"]
        describe = max(t_on - t_off - search, 0.0) / n
        est = (describe * n + search) * 10000 / n
        print("bench audit images=%d copy_pairs=%d recall=%.4f false_rate=%.2e false_share=%.4f largest=%d "
              "describe_ms=%.1f search_s=%.1f est_10k_s=%.0f"
              % (n, s["copy_pairs"], s["recall"], s["false_rate"], s["false_share"], s["largest"], 1e3 * describe,
                 search, est), flush=True)


if __name__ == "__main__":
    main()
