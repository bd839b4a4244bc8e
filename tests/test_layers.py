"""test_layers.py: the layering of src/ and include/hipid/, read from the sources.

A module is LAYER/NAME: src/LAYER/NAME.c together with include/hipid/LAYER/NAME.h.
Its edges are the project headers it includes ("hipid/LAYER/NAME.h"). The test
fails when
  - an edge goes up: from a layer to a layer above it (README "Layout");
  - the module graph has a cycle (two modules that need each other);
  - a file includes a header that does not exist, or a source sits outside the
    layer folders;
  - MPI is included outside sweep/scheduler and the sweep command (train knows no MPI).
A negative control runs the same checks on a small made-up tree with an upward
edge and a cycle, so the checker is shown to catch both.
"""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

# Each layer may include only layers of a lower rank (and its own folder).
RANK = {"base": 0, "nn": 1, "data": 1, "train": 2, "sweep": 3, "report": 4, "cmd": 5}
MPI_ALLOWED = {"sweep/scheduler", "cmd/sweep", "cmd/main"}
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]([^>"]+)[>"]', re.M)


def modules(root):
    """{module: [(file, [included headers])]} for every .c and .h of the tree."""
    mods, stray = {}, []
    for top, sub in (("src", ""), ("include", "hipid")):
        base = os.path.join(root, top, sub)
        for dirpath, _, files in os.walk(base):
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, base)
                parts = rel.split(os.sep)
                if len(parts) != 2 or parts[0] not in RANK:
                    stray.append(os.path.relpath(path, root))
                    continue
                mod = parts[0] + "/" + os.path.splitext(parts[1])[0]
                text = open(path, encoding="utf-8").read()
                mods.setdefault(mod, []).append((os.path.relpath(path, root), INCLUDE.findall(text)))
    return mods, stray


def check(root):
    """Returns a list of problems (strings); empty when the layering holds."""
    mods, stray = modules(root)
    problems = ["%s: not inside one of the layer folders %s" % (s, sorted(RANK)) for s in stray]
    edges = {m: set() for m in mods}
    for mod, files in mods.items():
        layer = mod.split("/")[0]
        for path, incs in files:
            for inc in incs:
                if inc in ("mpi.h",) and mod not in MPI_ALLOWED:
                    problems.append("%s: includes <mpi.h>; only %s may" % (path, sorted(MPI_ALLOWED)))
                if not inc.startswith("hipid/"):
                    continue
                target = inc[len("hipid/"):-2] if inc.endswith(".h") else inc
                if target not in mods:
                    problems.append("%s: includes %s, which is not a module header" % (path, inc))
                    continue
                tl = target.split("/")[0]
                if RANK[tl] > RANK[layer] or (RANK[tl] == RANK[layer] and tl != layer):
                    problems.append("%s: %s (%s) includes %s (%s): upward or sideways edge"
                                    % (path, mod, layer, target, tl))
                if target != mod:
                    edges[mod].add(target)
    # cycles: depth-first search with colours
    colour, stack = {}, []

    def visit(m):
        colour[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if colour.get(t) == 1:
                problems.append("cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            elif t not in colour:
                visit(t)
        stack.pop()
        colour[m] = 2

    for m in sorted(edges):
        if m not in colour:
            visit(m)
    return problems, mods, edges


def negative_control():
    """A tree with an upward edge (nn -> train) and a cycle (a <-> b in data)."""
    with tempfile.TemporaryDirectory() as d:
        files = {
            "src/nn/model.c": '#include "hipid/train/train.h"\n',
            "include/hipid/train/train.h": '#include "hipid/nn/model.h"\n',
            "include/hipid/nn/model.h": "",
            "src/data/a.c": '#include "hipid/data/b.h"\n',
            "src/data/b.c": '#include "hipid/data/a.h"\n',
            "include/hipid/data/a.h": "",
            "include/hipid/data/b.h": "",
        }
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
            open(os.path.join(d, rel), "w").write(text)
        problems, _, _ = check(d)
    return problems


def main():
    root = testlib.project_root()
    neg = negative_control()
    testlib.check(any("upward" in p for p in neg), "the checker sees an upward edge: %s" % neg)
    testlib.check(any(p.startswith("cycle: data/a -> data/b") for p in neg), "the checker sees a cycle: %s" % neg)
    problems, mods, edges = check(root)
    for p in problems:
        print("layering: " + p)
    per_layer = {}
    for m in mods:
        per_layer.setdefault(m.split("/")[0], []).append(m)
    for layer in sorted(RANK, key=lambda l: (RANK[l], l)):
        print("info: %-7s %2d modules, %3d edges down" % (
            layer, len(per_layer.get(layer, [])),
            sum(len(edges[m]) for m in per_layer.get(layer, []))))
    testlib.check(not problems, "%d layering problems" % len(problems))
    testlib.done()


if __name__ == "__main__":
    main()
