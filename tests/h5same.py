"""Compare two HDF5 files bit for bit: every dataset and every attribute,
except the wall-clock ones (WALL) and history/seconds, which differ between
equal runs. As a program: h5same.py A.h5 B.h5 exits 0 if they are the same,
1 (printing what differs) if not."""
import sys

import h5py
import numpy as np

WALL = {"seconds", "allreduce_seconds", "ranks", "threads", "job"}


def read_all(path):
    """Every dataset and attribute of an HDF5 file, keyed by path ('@' for attributes)."""
    out = {}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            if k not in WALL:
                out["@" + k] = np.asarray(v)

        def visit(name, obj):
            for k, v in obj.attrs.items():
                out[name + "@" + k] = np.asarray(v)
            if isinstance(obj, h5py.Dataset) and name != "history/seconds":
                out[name] = obj[()]
        f.visititems(visit)
    return out


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":  # bit for bit, NaN included
        return a.tobytes() == b.tobytes()
    return bool(np.array_equal(a, b))


def differences(pa, pb):
    a, b = read_all(pa), read_all(pb)
    return [k for k in a if k not in b or not same(a[k], b[k])] + [k for k in b if k not in a]


if __name__ == "__main__":
    d = differences(sys.argv[1], sys.argv[2])
    if d:
        print(f"{sys.argv[1]} and {sys.argv[2]} differ in {d[:6]}")
    sys.exit(1 if d else 0)
