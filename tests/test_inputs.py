"""Image inputs of hipid prep and hipid predict (issue #16): only regular files
are read, symlinks are followed once, every entry of a class folder is used or
listed with a reason, and names stay one line and read back.

A class folder A holds 3 real radiographs plus: `selfdir -> .` (a symlink
loop), a dangling link, a FIFO, a character device (mknod, if permitted), a
socket, a second symlink to an image, a link to class folder B, a hidden
file, and two images whose names hold a newline and a Latin-1 byte
(b'caf\\xe9.jpg', a copy of Cofield.1.jpg, so the duplicate audit names it).
Checked against an independent reference (os.lstat/os.stat, a Python
reimplementation of the documented escaping, h5py):
- prep's data set has exactly the expected images (source_paths equal the
  escaped names, in order), every other entry has exactly one skip line with
  the expected reason, and `skipped` holds the same lines;
- every line on stdout and stderr is a whole message (no line is a fragment
  of a file name), h5py's asstr()[:] reads every stored string, and
  unescaping a stored name gives the file's raw bytes back;
- a manifest whose rows name a FIFO, a device and a folder: skip lines, no
  hang; a FIFO given as the manifest or as SRC: one-line error;
- hipid predict TRIAL fifo (and a device, a folder, a dangling link, a
  name with a newline): one line each, exit 1, the good image still
  classified; hipid report on the sweep reads the escaped names.
Every command runs under `timeout 30`, so a hang is a failure (status 124).
Needs mpirun (a one-rank sweep makes the trial files)."""
import glob
import os
import re
import shutil
import socket
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, data_dir, done, hipid, require, run, tmp_dir  # noqa: E402

HIPID = hipid()
SHOULDER = data_dir("shoulder-implants")
TMP = tmp_dir("inputs")


def hip(*args):
    """hipid under `timeout 30`; stdout and stderr as text. Output that is not
    valid UTF-8 (a raw file name) is a failure, then decoded with replacement."""
    p = subprocess.run(["timeout", "30", HIPID] + [str(a) for a in args], capture_output=True)
    for k in ("stdout", "stderr"):
        raw = getattr(p, k)
        try:
            setattr(p, k, raw.decode("utf-8"))
        except UnicodeDecodeError as err:
            check(False, f"hipid {args[0]}: {k} is not valid UTF-8 ({err})")
            setattr(p, k, raw.decode("utf-8", "replace"))
    check(p.returncode != 124, f"hipid {' '.join(map(str, args))[:200]}: timed out (a hang)")
    return p


def escape(raw: bytes) -> str:
    """The escaping documented in docs/data.md (independent of the C code)."""
    out, i = [], 0
    short = {0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
    while i < len(raw):
        b = raw[i]
        if b in short:
            out.append(short[b])
            i += 1
        elif b < 0x20 or b == 0x7F:
            out.append("\\x%02x" % b)
            i += 1
        elif b < 0x80:
            out.append(chr(b))
            i += 1
        else:
            for n in (4, 3, 2):
                try:
                    ch = raw[i:i + n].decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if len(ch) == 1:
                    break
            else:
                n, ch = 1, None
            if ch is None or 0x80 <= ord(ch) <= 0x9F:
                out.extend("\\x%02x" % c for c in raw[i:i + n])
            else:
                out.append(ch)
            i += n
    return "".join(out)


def unescape(s: str) -> bytes:
    out, i, enc = bytearray(), 0, s.encode("utf-8")
    while i < len(enc):
        if enc[i] == 0x5C:
            c = chr(enc[i + 1])
            if c == "x":
                out.append(int(enc[i + 2:i + 4], 16))
                i += 4
                continue
            out.append({"\\": 0x5C, "n": 0x0A, "r": 0x0D, "t": 0x09}[c])
            i += 2
        else:
            out.append(enc[i])
            i += 1
    return bytes(out)


# the reference escaping itself (so a wrong expectation cannot pass silently)
check(escape(b"caf\xe9.jpg") == "caf\\xe9.jpg", "escape: Latin-1 byte")
check(escape(b"a\\b\nc\x1b\x7f") == "a\\\\b\\nc\\x1b\\x7f", "escape: backslash and controls")
check(escape("café".encode()) == "café", "escape: valid UTF-8 kept")
check(unescape(escape(b"x\\xe9\xe9\n")) == b"x\\xe9\xe9\n", "escape: reversible")

# ---- the class-folder tree -------------------------------------------------------
SRC = os.path.join(TMP, "src")
A, B = os.path.join(SRC, "A"), os.path.join(SRC, "B")
os.makedirs(A)
os.makedirs(B)
for k in (1, 2, 3):
    shutil.copy(os.path.join(SHOULDER, "Cofield", f"Cofield.{k}.jpg"), A)
    shutil.copy(os.path.join(SHOULDER, "Zimmer", f"Zimmer.{k}.jpg"), B)
NL, LATIN = b"new\nline.jpg", b"caf\xe9.jpg"
shutil.copy(os.path.join(SHOULDER, "Cofield", "Cofield.4.jpg"), os.path.join(A.encode(), NL))
shutil.copy(os.path.join(SHOULDER, "Cofield", "Cofield.1.jpg"), os.path.join(A.encode(), LATIN))
os.symlink(".", os.path.join(A, "selfdir"))
os.symlink("nowhere.jpg", os.path.join(A, "dangling.jpg"))
os.symlink("Cofield.3.jpg", os.path.join(A, "link.jpg"))
os.symlink("../B", os.path.join(A, "toB"))
os.mkfifo(os.path.join(A, "fifo.jpg"))
open(os.path.join(A, ".DS_Store"), "w").close()
have_dev = True
try:
    os.mknod(os.path.join(A, "dev.jpg"), 0o600 | 0o020000, os.makedev(1, 3))  # /dev/null's numbers
except OSError as err:
    have_dev = False
    print(f"skip: device node case ({err})")
have_sock = True
try:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(A, "sock.jpg"))
except OSError as err:
    have_sock = False
    print(f"skip: socket case ({err})")

# expected, from the file system itself: regular files (not hidden) once per inode
want_paths, want_skips, seen = [], {}, {}
for cls in (b"A", b"B"):
    d = os.path.join(SRC.encode(), cls)
    for name in sorted(os.listdir(d)):
        if name.startswith(b"."):
            continue
        p, rel = os.path.join(d, name), escape(cls + b"/" + name)
        st = os.stat(p) if os.path.exists(p) else None
        if st and os.path.isfile(p):
            key = (st.st_dev, st.st_ino)
            if key in seen:
                want_skips[rel] = r"the same file as " + re.escape(seen[key]) + r" \(a symlink to it\), counted once"
            else:
                seen[key] = rel
                want_paths.append(rel)
want_skips.update({
    "A/dangling.jpg": r"dangling symlink \(its target nowhere.jpg does not exist\)",
    "A/fifo.jpg": r"a FIFO, not a regular file",
    "A/selfdir": r"symlink loop \(already scanned as A\)",
    "A/toB": r"the same folder as B, scanned once \(as B\)",
})
if have_dev:
    want_skips["A/dev.jpg"] = r"a character device, not a regular file"
if have_sock:
    want_skips["A/sock.jpg"] = r"a socket, not a regular file"
check(len(want_paths) == 8 and "A/link.jpg" in want_skips, f"reference: 8 images, link.jpg a duplicate ({want_paths})")

OUT = os.path.join(TMP, "d.h5")
p = hip("prep", SRC, "-o", OUT, "--size", "32")
require(p.returncode == 0, f"prep of the tree exits 0 (status {p.returncode}: {p.stderr[-600:]})")
err_lines = p.stderr.splitlines()
check(all(ln.startswith("skip ") for ln in err_lines), "every stderr line is a skip line: "
      + repr([ln for ln in err_lines if not ln.startswith("skip ")]))
got_skips = {}
for ln in err_lines:
    m = re.match(r"skip (.*?): (.*)$", ln)
    if m:
        check(m.group(1) not in got_skips, f"one skip line for {m.group(1)}")
        got_skips[m.group(1)] = m.group(2)
check(set(got_skips) == set(want_skips), f"skip lines name exactly {sorted(want_skips)}, found {sorted(got_skips)}")
for rel, rx in want_skips.items():
    check(re.fullmatch(rx, got_skips.get(rel, "")) is not None, f"skip {rel}: reason '{got_skips.get(rel)}' ~ /{rx}/")
out_prefixes = ("prep:", "  class ", "copies of one", "leakage groups", "preprocessing:", "wrote ", "group ",
                "conflict ")
stray = [ln for ln in p.stdout.splitlines() if not ln.startswith(out_prefixes) and not re.match(r"\d+ images: ", ln)]
check(not stray, f"every stdout line is a whole message: stray {stray}")
check(re.search(r"^prep: 8 candidate files, 2 classes, .*\(1 hidden entry ignored", p.stdout, re.M) is not None,
      "the candidate line counts the hidden entry")
check(re.search(r"^prep: 8 images 32x32 in 2 classes, %d skipped" % len(want_skips), p.stdout, re.M) is not None,
      "summary: 8 images, every skip counted")
# the duplicate audit prints the stored (escaped) name of the Latin-1 copy next to its original
check(re.search(r"^group \d+ \(2 images, A\): A/Cofield\.1\.jpg A/caf\\xe9\.jpg$", p.stdout, re.M) is not None,
      "the audit's group line names A/caf\\xe9.jpg (escaped) with A/Cofield.1.jpg")
with h5py.File(OUT) as f:
    try:
        paths = list(f["source_paths"].asstr()[:])
        skipped = list(f["skipped"].asstr()[:])
        classes = list(f["class_names"].asstr()[:])
        pids = list(f["patient_ids"].asstr()[:])
    except UnicodeDecodeError as err:
        require(False, f"h5py's asstr() reads every stored name ({err})")
    n_img = f["images"].shape[0]
check(paths == want_paths, f"source_paths are the expected images in order: {paths} vs {want_paths}")
check(n_img == len(want_paths), f"{n_img} images stored")
check(classes == ["A", "B"] and pids == [""] * n_img, "class_names and patient_ids read as UTF-8")
check(sorted(skipped) == sorted(f"{k}: {v}" for k, v in got_skips.items()), "`skipped` holds the skip lines")
for rel in paths:
    raw = os.path.join(SRC.encode(), unescape(rel))
    check(os.path.isfile(raw), f"unescaped stored name {rel!r} is the file {raw!r}")

# a newline in a *folder* name and a backslash in a file name stay one line too
odd = os.path.join(TMP, "odd")
os.makedirs(os.path.join(odd.encode(), b"cls\nx"))
os.makedirs(os.path.join(odd, "b"))
shutil.copy(os.path.join(SHOULDER, "Cofield", "Cofield.5.jpg"), os.path.join(odd.encode(), b"cls\nx", b"a\\xe9.jpg"))
shutil.copy(os.path.join(SHOULDER, "Zimmer", "Zimmer.5.jpg"), os.path.join(odd, "b"))
p = hip("prep", odd, "-o", os.path.join(TMP, "odd.h5"), "--size", "32", "-q")
check(p.returncode == 0 and p.stderr == "", f"prep of odd names exits 0 without skips ({p.stderr[-300:]})")
if p.returncode == 0:
    with h5py.File(os.path.join(TMP, "odd.h5")) as f:
        got = (list(f["class_names"].asstr()[:]), list(f["source_paths"].asstr()[:]))
    check(got == (["b", "cls\\nx"], ["b/Zimmer.5.jpg", "cls\\nx/a\\\\xe9.jpg"]),
          f"class folder with a newline and a name with a backslash stored escaped: {got}")
    check(all(not ln.startswith("x") for ln in p.stdout.splitlines()), "no stdout line is a folder-name fragment")

# ---- manifests ---------------------------------------------------------------------
man = os.path.join(TMP, "m.csv")
with open(man, "w") as f:
    f.write("path,label\nA/Cofield.1.jpg,A\nA/fifo.jpg,A\nB/Zimmer.1.jpg,B\nA,A\n")
    if have_dev:
        f.write("A/dev.jpg,B\n")
p = hip("prep", SRC, "--manifest", man, "-o", os.path.join(TMP, "m.h5"), "--size", "32", "-q",
        "--dup-threshold", "-1")
check(p.returncode == 0, f"manifest naming a FIFO: prep exits 0, no hang (status {p.returncode}: {p.stderr[-300:]})")
want = ["skip A/fifo.jpg: manifest row 3: a FIFO, not a regular file",
        "skip A: manifest row 5: a directory, not a regular file"]
if have_dev:
    want.append("skip A/dev.jpg: manifest row 6: a character device, not a regular file")
check(p.stderr.splitlines() == want, f"manifest skip lines: {p.stderr.splitlines()}")
fifo_csv = os.path.join(TMP, "list.csv")
os.mkfifo(fifo_csv)
for args in (["prep", SRC, "--manifest", fifo_csv], ["prep", fifo_csv]):
    p = hip(*args, "-o", os.path.join(TMP, "x.h5"))
    lines = p.stderr.splitlines()
    check(p.returncode == 1 and len(lines) == 1 and "FIFO" in p.stderr and fifo_csv in p.stderr,
          f"{' '.join(args[:3])}: a FIFO manifest is a one-line error (status {p.returncode}): {lines}")

# ---- predict ---------------------------------------------------------------------
RES = os.path.join(TMP, "res")
with open(os.path.join(TMP, "job.ini"), "w") as f:
    f.write(f"[job]\nname = inputs\nseeds = 1\n[data]\npath = {OUT}\n[cv]\nscheme = kfold\nk = 2\n"
            f"val_fraction = 0.2\n[family f]\nmodel = dnn-paper\noptimizer = sgd\nlr = 0.01\nbatch = 2\n"
            f"epochs = 1\n[run]\noutput = {RES}\n")
env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0", OMP_NUM_THREADS="1")
p = run(["timeout", "120", "mpirun", "--allow-run-as-root", "-np", "1", HIPID, "sweep", "--quiet",
         os.path.join(TMP, "job.ini")], env=env)
trials = sorted(glob.glob(os.path.join(RES, "trials", "*.h5")))
require(p.returncode == 0 and trials, f"a one-rank sweep makes trial files ({p.stderr[-400:]})")
good = os.path.join(A, "Cofield.1.jpg")
bad = [os.path.join(A, "fifo.jpg"), os.path.join(A, "dangling.jpg"), A, os.path.join(TMP, "no\nsuch.jpg")]
if have_dev:
    bad.append(os.path.join(A, "dev.jpg"))
p = hip("predict", "--model", trials[0], "--threads", "1", *bad, good)
check(p.returncode == 1, f"predict with bad images exits 1, no hang (status {p.returncode})")
lines = p.stderr.splitlines()
check(len(lines) == len(bad) + 1 and all(ln.startswith("hipid predict: ") for ln in lines),
      f"one stderr line per bad image and a count: {lines}")
check(any(ln == f"hipid predict: {os.path.join(A, 'fifo.jpg')}: a FIFO, not a regular file" for ln in lines),
      "predict names the FIFO: '<path>: a FIFO, not a regular file'")
check(any(escape(os.path.join(TMP, "no\nsuch.jpg").encode()) in ln for ln in lines), "a newline in a name is \\n")
check(p.stdout.startswith(good + "\t") and len(p.stdout.splitlines()) == 1, f"the good image is classified: {p.stdout}")

# ---- report reads the escaped names ------------------------------------------------
p = hip("report", RES, "--no-plots")
check(p.returncode == 0, f"hipid report exits 0 ({p.stderr[-300:]})")
errs = os.path.join(RES, "report", "errors.csv")
if os.path.exists(errs):
    with open(errs, encoding="utf-8") as f:
        rows = [ln.split(",") for ln in f.read().splitlines()[1:]]
    check(all(r[2] in paths for r in rows), f"errors.csv names stored source paths: {[r[2] for r in rows]}")
else:
    check(False, "report wrote errors.csv")

done()
