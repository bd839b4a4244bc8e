"""testlib.py: the one helper module of the Python tests.

check(cond, msg) records a failure (printed as "FAIL file:line: msg") and goes
on, so one run shows every broken expectation; done() prints the summary line
and exits 1 if anything failed. Paths: project_root(), hipid() (the binary
under test, $HIPID), tmp_dir() (a fresh folder under $TEST_TMP).
"""
import inspect
import os
import sys
import tempfile

_failures = []


def project_root():
    return os.environ.get("HIPID_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hipid():
    return os.path.join(project_root(), os.environ.get("HIPID", "bin/hipid"))


def tmp_dir(prefix="t"):
    return tempfile.mkdtemp(prefix=prefix + ".", dir=os.environ.get("TEST_TMP") or None)


def check(cond, msg):
    """Record a failed expectation (with the caller's file and line) unless cond."""
    if cond:
        return True
    frame = inspect.stack()[1]
    line = "FAIL %s:%d: %s" % (os.path.basename(frame.filename), frame.lineno, msg)
    print(line, flush=True)
    _failures.append(line)
    return False


def require(cond, msg):
    """Like check, but a failure ends the test at once (exit 1): for steps the rest depends on."""
    if cond:
        return True
    frame = inspect.stack()[1]
    print("FAIL %s:%d: %s" % (os.path.basename(frame.filename), frame.lineno, msg), flush=True)
    print("summary: %d failure(s)" % (len(_failures) + 1), flush=True)
    sys.exit(1)


def failures():
    return len(_failures)


def done():
    """Print the summary and exit: 1 if any check failed, else 0."""
    print("summary: %d failure(s)" % len(_failures), flush=True)
    sys.exit(1 if _failures else 0)
