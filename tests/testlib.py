"""testlib.py: the one helper module of the Python tests.

check(cond, msg) records a failure (printed as "FAIL file:line: msg") and goes
on, so one run shows every broken expectation; require(cond, msg) is check for
a step the rest of the test depends on (a command that must succeed, a file
that must exist before it is read): a failure there ends the test at once.
done() prints the summary line and exits 1 if anything failed.
Paths: project_root(), hipid() (the binary under test, $HIPID), test_bin(name)
(a compiled helper in $TEST_BIN), data_dir() (the project's real data, data/,
shipped with the clone), tmp_dir() (a fresh folder under $TEST_TMP). run() and run_hipid()
run a command and capture its output as text.
"""
import csv
import inspect
import os
import struct
import subprocess
import sys
import tempfile

_failures = []
_checks = 0


def project_root():
    return os.environ.get("HIPID_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hipid():
    return os.path.abspath(os.path.join(project_root(), os.environ.get("HIPID", "bin/hipid")))


def test_bin(name):
    """A compiled test helper (tests/check_*.c), from $TEST_BIN (default build/tests)."""
    return os.path.abspath(os.path.join(project_root(), os.environ.get("TEST_BIN", "build/tests"), name))


def data_dir(*parts):
    """A path under the project's real data, data/ (shipped with the clone)."""
    return os.path.normpath(os.path.join(project_root(), "data", *parts))


def tmp_dir(prefix="t"):
    return tempfile.mkdtemp(prefix=prefix + ".", dir=os.environ.get("TEST_TMP") or None)


def run(cmd, **kw):
    """Run cmd (a list), capturing stdout and stderr as text: a subprocess.CompletedProcess."""
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def run_hipid(*args, **kw):
    """Run the binary under test with args; as run()."""
    return run([hipid()] + [str(a) for a in args], **kw)


def sweep_or_stop(job, ranks=2, timeout=600):
    """Run `hipid sweep --quiet JOB` on `ranks` ranks; a failed sweep ends the test. Under the sanitizer
    build Open MPI's own allocations (never freed by MPI_Finalize) would fail it as leaks, so leak
    detection is off for this one command (the commands a test checks keep it)."""
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    p = run(["mpirun", "--oversubscribe", "-np", str(ranks), hipid(), "sweep", "--quiet", job], timeout=timeout,
            env=env)
    require(p.returncode == 0, "sweep exits 0" + ("" if p.returncode == 0 else ": " + p.stderr[-800:]))


def prep_dump_records(path):
    """The records of `check_prep dump` (tests/check_prep.c): per image (threshold, n_components, [grey,
    otsu input, otsu mask, largest component]), the planes as (h, w) uint8 arrays."""
    import numpy as np
    b = open(path, "rb").read()
    o = 0
    while o < len(b):
        w, h, t, nc = np.frombuffer(b, np.int32, 4, o)
        o += 16
        n = int(w) * int(h)
        planes = [np.frombuffer(b, np.uint8, n, o + k * n).reshape(h, w) for k in range(4)]
        o += 4 * n
        yield int(t), int(nc), planes


def prep_shoulder_subset(tmp, per_class, size):
    """The first per_class shoulder films of each manufacturer (file-name order) prepared at size x size
    into tmp/d.h5, without the duplicate search (these subsets hold two copies whose grouping would change
    the folds); a failed prep ends the test. Returns the data-set path."""
    src = data_dir("shoulder-implants")
    classes = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))  # not README, LICENSE
    manifest = os.path.join(tmp, "m.csv")
    with open(manifest, "w") as f:
        f.write("path,label\n")
        for c in classes:
            for name in sorted(os.listdir(os.path.join(src, c)))[:per_class]:
                f.write(f"{c}/{name},{c}\n")
    out = os.path.join(tmp, "d.h5")
    p = run_hipid("prep", src, "--manifest", manifest, "--size", size, "-o", out, "-q", "--dup-threshold", "-1",
                  timeout=300)
    require(p.returncode == 0, f"prep of {per_class * len(classes)} shoulder radiographs at {size}x{size}"
            + ("" if p.returncode == 0 else ": " + p.stderr))
    return out


def _report(msg, depth):
    frame = inspect.stack()[depth]
    line = "FAIL %s:%d: %s" % (os.path.basename(frame.filename), frame.lineno, msg)
    print(line, flush=True)
    _failures.append(line)


def check(cond, msg):
    """Record a failed expectation (with the caller's file and line) unless cond."""
    global _checks
    _checks += 1
    if cond:
        return True
    _report(msg, 2)
    return False


def png_size(path):
    """(width, height) of a PNG file from its IHDR chunk, or None if it is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def read_csv(path):
    """The rows of a CSV file with a header line, as dicts."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def require(cond, msg):
    """As check, but a failure prints the summary and exits 1 at once."""
    global _checks
    _checks += 1
    if cond:
        return True
    _report(msg, 2)
    done()


def failures():
    return len(_failures)


def done():
    """Print the summary and exit: 1 if any check failed, else 0."""
    print("summary: %d failure(s) in %d checks" % (len(_failures), _checks), flush=True)
    sys.exit(1 if _failures else 0)
