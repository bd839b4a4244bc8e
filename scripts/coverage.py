#!/usr/bin/python3
"""Line coverage of the test suite, per test, and which tests the sanitized
pass can leave out (make coverage; README, "Tests").

Input: a directory with one subdirectory per test, each holding the .gcda
files that test wrote (tests/run.sh with HIPID_COVERAGE_DIR set runs each test
with GCOV_PREFIX=DIR/<test>), and the build directory holding the .gcno files.
gcov (-j -t) turns each test's counts into the lines of src/ and include/ it
ran.

Prints the suite's line coverage per layer. Given --times LOG (a
sanitized run of tests/run.sh: lines "PASS name  Ns"), it also chooses the
tests that the sanitized pass runs: greedily the one adding most
not-yet-run lines per second, until every line the whole suite runs is run,
then drops any chosen test whose lines the others already run. A test that
the log's run left out has no time there and costs the median of the others.
The rest would add no line under the sanitizers; --write FILE lists them, one
name per line, in the form tests/run.sh reads (tests/sanitize-skip.txt).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict


def test_lines(test_dir):
    """the (file, line) pairs of src/ and include/ that ran in one test, and
    all the instrumented ones of the files it reached"""
    ran, listed = set(), set()
    for dirpath, _, files in os.walk(test_dir):
        for f in files:
            if not f.endswith(".gcda"):
                continue
            gcda = os.path.join(dirpath, f)
            # DIR/<test>/<absolute object dir>/x.gcda; its .gcno is in that object dir
            # (copied beside the counts on a first reading, which a later one reuses)
            objdir = "/" + os.path.relpath(dirpath, test_dir)
            gcno = os.path.join(objdir, f[:-5] + ".gcno")
            if not os.path.exists(os.path.join(dirpath, f[:-5] + ".gcno")):
                if not os.path.exists(gcno):
                    print(f"coverage.py: {gcda}: expected {gcno} beside its object, found none "
                          "(was the build removed after the run?)", file=sys.stderr)
                    sys.exit(1)
                shutil.copy(gcno, dirpath)
            out = subprocess.run(["gcov", "-j", "-t", f], cwd=dirpath, capture_output=True,
                                 text=True, check=True).stdout
            for doc in out.splitlines():
                doc = doc.strip()
                if not doc.startswith("{"):
                    continue
                d = json.loads(doc)
                for fi in d["files"]:
                    path = os.path.normpath(os.path.join(d["current_working_directory"], fi["file"]))
                    # relative to the directory the build ran in (the checkout)
                    rel = os.path.relpath(path, d["current_working_directory"])
                    if not (rel.startswith("src/") or rel.startswith("include/")):
                        continue
                    for ln in fi["lines"]:
                        listed.add((rel, ln["line_number"]))
                        if ln["count"] > 0:
                            ran.add((rel, ln["line_number"]))
    return ran, listed


def read_times(log):
    times = {}
    pat = re.compile(r"^(PASS|FAIL)\s+(\S+)\s+(\d+)s")
    with open(log) as fh:
        for line in fh:
            m = pat.match(line)
            if m:
                times[m.group(2)] = int(m.group(3))
    return times


def choose(per_test, cost):
    universe = set().union(*per_test.values())
    left = set(universe)
    chosen = []
    while left:
        best = max(per_test, key=lambda t: (len(per_test[t] & left) / max(cost[t], 1), -cost[t]))
        gain = per_test[best] & left
        if not gain:
            break
        chosen.append(best)
        left -= gain
    # drop chosen tests, dearest first, whose lines the other chosen ones run
    for t in sorted(chosen, key=lambda t: -cost[t]):
        others = set().union(*(per_test[o] for o in chosen if o != t)) if len(chosen) > 1 else set()
        if per_test[t] <= others:
            chosen.remove(t)
    return chosen


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="per-test .gcda directories (HIPID_COVERAGE_DIR)")
    ap.add_argument("--times", help="a sanitized tests/run.sh log, for each test's cost")
    ap.add_argument("--write", help="write the tests the sanitized pass leaves out to this file")
    a = ap.parse_args()
    tests = sorted(t for t in os.listdir(a.dir) if os.path.isdir(os.path.join(a.dir, t)))
    if not tests:
        sys.exit(f"coverage.py: {a.dir}: expected one directory per test, found none")
    per_test, listed = {}, set()
    for t in tests:
        per_test[t], seen = test_lines(os.path.join(a.dir, t))
        listed |= seen
    ran = set().union(*per_test.values())

    def layer(f):
        return f.split("/")[1] if f.startswith("src/") else "include"
    n_ran, n_all = defaultdict(int), defaultdict(int)
    for f, _ in ran:
        n_ran[layer(f)] += 1
    for f, _ in listed:
        n_all[layer(f)] += 1
    print(f"lines of src/ and include/ run by the {len(tests)} tests: {len(ran)} of {len(listed)} "
          f"({100 * len(ran) / len(listed):.1f}%)")
    for l in sorted(n_all):
        print(f"  {l:8s} {n_ran[l]:6d} of {n_all[l]:6d} ({100 * n_ran[l] / n_all[l]:.1f}%)")

    if not a.times:
        return
    # tests/run.sh's SAN_SKIP: left out of the sanitized pass for reasons of
    # their own, so their lines do not count as run there
    with open("tests/run.sh") as fh:
        never = set(re.findall(r"^\s+\[(test_\S+)\]=", fh.read(), re.M))
    times = read_times(a.times)
    candidates = [t for t in tests if t not in never]
    if not times:
        sys.exit(f"coverage.py: {a.times}: expected lines 'PASS name  Ns' of tests/run.sh, found none")
    # a test the log's run left out (a SKIP line) has no time there: it costs
    # the median of the others, and is named
    missing = [t for t in candidates if t not in times]
    if missing:
        median = sorted(times.values())[len(times) // 2]
        print(f"no time in {a.times} for {', '.join(missing)}: {median} s each (the median)")
        for t in missing:
            times[t] = median
    chosen = choose({t: per_test[t] for t in candidates}, times)
    skipped = [t for t in candidates if t not in chosen]
    lost = ran - set().union(*(per_test[t] for t in chosen))
    print(f"lines no test of the sanitized pass runs: {len(lost)} (they run only in "
          f"{', '.join(sorted(never & set(tests)))}, which tests/run.sh leaves out for reasons of its own)"
          if lost else "every line the suite runs also runs in the sanitized pass")
    cost_all = sum(times[t] for t in candidates)
    cost_chosen = sum(times[t] for t in chosen)
    print(f"sanitized pass: {len(chosen)} of {len(candidates)} tests run every line that all {len(candidates)} run "
          f"({cost_chosen} of {cost_all} s in {a.times})")
    for t in sorted(skipped, key=lambda t: -times[t]):
        print(f"  leave out {t:28s} {times[t]:4d} s")
    if a.write:
        with open(a.write, "w") as fh:
            fh.write("# Tests the sanitized pass (make test SANITIZE=1) leaves out: every line of\n"
                     "# src/ and include/ each one runs also runs, sanitized, in the tests kept.\n"
                     "# Written by `make coverage` (scripts/coverage.py); rerun it when tests change.\n")
            for t in skipped:
                fh.write(f"{t}\n")


if __name__ == "__main__":
    main()
