"""The trial files' checksums (weights_sha256, predictions_sha256) computed
with h5py and hashlib, independently of hipid's C code (the walk is described
in src/sweep/trialfile.c), and the data sets' identity (dataset_identity).

  trial_sha256(path, "weights" | "predictions") -> 64 hex digits
  reseal(path)     rewrite both attributes after a deliberate edit with h5py,
                   so that a test can make a consistent file that says X
  data_identity(path) -> the 16 hex digits trials store as data_checksum
"""
import hashlib
import struct

import h5py
import numpy as np

CHECKED_OBJECTS = ["class_names", "indices", "history", "predictions", "metrics"]
CHECKED_ATTRS = ["state", "reason", "hash", "key", "label", "family", "config", "repeat", "outer", "inner", "seed",
                 "n_classes", "image_size", "data", "data_checksum", "preprocessing", "best_epoch", "epochs_run",
                 "test_acc", "test_loss", "val_acc", "val_loss"]
H5T_INTEGER, H5T_FLOAT, H5T_STRING = 0, 1, 3


def _value(h, dtype, shape, raw):
    """raw: the numpy array (fixed types) or a list of bytes (variable-length strings)."""
    vlen = h5py.check_string_dtype(dtype) is not None and h5py.check_string_dtype(dtype).length is None
    if vlen:
        cls, size, sign = H5T_STRING, 0, -1
    elif dtype.kind == "S":
        cls, size, sign = H5T_STRING, dtype.itemsize, -1
    elif dtype.kind in "iu":
        cls, size, sign = H5T_INTEGER, dtype.itemsize, 1 if dtype.kind == "i" else 0
    elif dtype.kind == "f":
        cls, size, sign = H5T_FLOAT, dtype.itemsize, -1
    else:
        raise ValueError(f"unexpected type {dtype}")
    h.update((f"{cls} {size} {sign} {len(shape)}" + "".join(f" {d}" for d in shape) + "\n").encode())
    if vlen:
        for s in np.asarray(raw, dtype=object).ravel():
            s = s if isinstance(s, bytes) else s.encode()
            h.update(s + b"\0")
    else:
        a = np.asarray(raw)
        if a.dtype.kind in "iuf":
            a = a.astype(a.dtype.newbyteorder("<"))
        h.update(a.tobytes())


def _attr(h, obj, name):
    aid = h5py.h5a.open(obj.id, name.encode())
    dtype, shape = aid.dtype, aid.shape
    if h5py.check_string_dtype(dtype) is not None and h5py.check_string_dtype(dtype).length is None:
        raw = obj.attrs[name]
        raw = [raw] if not isinstance(raw, np.ndarray) else list(raw.ravel())
    else:
        raw = np.empty(shape, dtype=dtype)
        aid.read(raw)
    _value(h, dtype, shape, raw)


def _object(h, f, path):
    if path == "history/seconds":
        return
    obj = f[path]
    group = isinstance(obj, h5py.Group)
    h.update(f"{'G' if group else 'D'} {path}\n".encode())
    for name in sorted(obj.attrs.keys(), key=lambda s: s.encode()):
        h.update(f"A {name}\n".encode())
        _attr(h, obj, name)
    if group:
        for name in sorted(obj.keys(), key=lambda s: s.encode()):
            _object(h, f, path + "/" + name)
    else:
        raw = obj[()]
        _value(h, obj.dtype, obj.shape, raw)


def trial_sha256(path, which):
    h = hashlib.sha256(f"hipid-trial-{which} 1\n".encode())
    with h5py.File(path, "r") as f:
        for name in (CHECKED_OBJECTS if which == "predictions" else ["weights"]):
            if name in f:
                _object(h, f, name)
            else:
                h.update(f"- {name}\n".encode())
        if which == "predictions":
            for name in CHECKED_ATTRS:
                if name in f.attrs:
                    h.update(f"A {name}\n".encode())
                    _attr(h, f, name)
                else:
                    h.update(f"- {name}\n".encode())
    return h.hexdigest()


def reseal(path):
    """After an intended edit: store the checksums of what the file now holds."""
    w, p = trial_sha256(path, "weights"), trial_sha256(path, "predictions")
    with h5py.File(path, "r+") as f:
        f.attrs["weights_sha256"] = np.bytes_(w)
        f.attrs["predictions_sha256"] = np.bytes_(p)


def data_identity(path):
    """dataset_identity of a data set, from its labels, groups, images and preprocessing."""
    with h5py.File(path, "r") as f:
        labels = f["labels"][()].astype("<i4")
        groups = f["groups"][()].astype("<i4")
        images = f["images"][()]
        pre = f.attrs["preprocessing"]
    pre = pre if isinstance(pre, bytes) else pre.encode()
    n = len(labels)
    fnv = 0xcbf29ce484222325
    for v in [n] + list(labels) + list(groups):
        for byte in struct.pack("<i", int(v)):
            fnv = ((fnv ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    text = (f"hipid-data-identity 1\nn={n}\nlabels_groups={fnv:016x}\nimages_sha256="
            f"{hashlib.sha256(images.tobytes()).hexdigest()}\npreprocessing=").encode() + pre + b"\n"
    return hashlib.sha256(text).hexdigest()[:16]
