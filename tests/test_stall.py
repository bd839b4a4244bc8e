"""The sweep's watchdog ([run] stall_timeout): a rank frozen with SIGSTOP ends
the job within a bound, with one line naming the rank and host waited for,
instead of a silent hang; the rerun resumes to the same trial files as an
uninterrupted run (h5same, bit for bit but wall-clock attributes).

Five cases on one host under mpirun -np 2 (tests/multinode has the same
faults across hosts), stall_timeout = 5 s:
  - ranks_per_trial 2, rank 1 frozen: rank 0 waits in the group's gradient
    allreduce and names rank 1;
  - ranks_per_trial 1, rank 1 frozen while it trains: the master misses its
    heartbeats and names rank 1;
  - ranks_per_trial 1, rank 0 (the master) frozen: rank 1, asking for its next
    trial, names rank 0;
  - one trial for two ranks: rank 1 has nothing to do and waits at the end of
    the phase while the master trains. Rank 1 frozen there: the master, done,
    names it; the master frozen: rank 1, missing its heartbeats, names it.
Each must end within BOUND seconds of the freeze. A negative control: the same
freeze with stall_timeout = 0 (wait forever) is still running after the bound.
"""
import glob
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h5same import differences  # noqa: E402
import testlib  # noqa: E402

check = testlib.check
HIPID = testlib.hipid()
ROOT = testlib.tmp_dir("stall")
DATA = os.path.join(ROOT, "data.h5")
STALL = 5
BOUND = 30  # seconds from the freeze to the job's end
# trials long enough to be frozen mid-way (a 60-epoch trial can end before
# the freeze on a quiet machine), short enough that the master case's rank 1
# ends its trial and asks within the bound (the sanitizer build is ~5x slower)
EPOCHS = 60 if os.environ.get("SANITIZE") == "1" else 300
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
           ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")


def job(name, rpt, stall, epochs=EPOCHS, cv="scheme = kfold\nk = 2\nval_fraction = 0.2"):
    path = os.path.join(ROOT, name + ".ini")
    with open(path, "w") as f:
        f.write(f"[job]\nname = {name}\nseeds = 1\n"
                f"[data]\npath = {DATA}\nsynth = classes=2,per_class=24,size=32,seed=4\n"
                f"[cv]\n{cv}\n"
                f"[family cnn]\nmodel = c8,r,mp2,fl,fc16\nlr = 0.003\nbatch = 8\nmicro_batch = 4\nepochs = {epochs}\n"
                f"[run]\nranks_per_trial = {rpt}\nthreads = 1\ncheckpoint_every = 5\nstall_timeout = {stall}\n"
                f"output = {os.path.join(ROOT, name)}\n")
    return path, os.path.join(ROOT, name)


def start(path):
    return subprocess.Popen(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                            start_new_session=True)


def rank_pids(p):
    """World rank -> pid of this job's hipid processes (from their environment)."""
    pids = {}
    for d in glob.glob("/proc/[0-9]*"):
        try:
            if os.path.basename(os.readlink(d + "/exe")) != "hipid":
                continue
            env = open(d + "/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if os.getsid(int(os.path.basename(d))) != os.getsid(p.pid):
            continue
        for kv in env:
            if kv.startswith(b"OMPI_COMM_WORLD_RANK="):
                pids[int(kv.split(b"=")[1])] = int(os.path.basename(d))
    return pids


def freeze(p, rank, out):
    """Wait until training runs (a checkpoint exists), then SIGSTOP rank."""
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None:
        if glob.glob(os.path.join(out, "trials", "*.ckpt.h5")) and len(rank_pids(p)) == 2:
            break
        time.sleep(0.2)
    pids = rank_pids(p)
    testlib.require(rank in pids, f"found the pid of rank {rank} ({pids})")
    os.kill(pids[rank], signal.SIGSTOP)
    return time.time(), pids


def end(p, pids, timeout):
    try:
        out, err = p.communicate(timeout=timeout)
        return out, err, True
    except subprocess.TimeoutExpired:
        return "", "", False
    finally:
        for pid in pids.values():  # whatever is left: continued, then killed
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.wait()


def stall_case(name, rpt, rank, words, **kw):
    path, out = job(name, rpt, STALL, **kw)
    p = start(path)
    t_freeze, pids = freeze(p, rank, out)
    _, err, ended = end(p, pids, BOUND)
    took = time.time() - t_freeze
    lines = [l for l in err.splitlines() if "stalled" in l]
    print(f"info {name}: rank {rank} frozen, job ended after {took:.1f} s: {lines[:1]}")
    check(ended and took <= BOUND, f"{name}: the job ends within {BOUND} s of the freeze ({took:.1f} s)")
    check(len(lines) >= 1 and all(w in lines[0] for w in words),
          f"{name}: a line names {words} ({lines[:2]}; stderr tail {err[-300:]!r})")
    return path, out


def main():
    host = socket.gethostname()
    # the reference: an uninterrupted run of the same job
    ref_path, ref_out = job("ref", 2, STALL)
    r = testlib.run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", ref_path], timeout=900,
                    env=ENV)
    testlib.require(r.returncode == 0, "the reference sweep exits 0: " + r.stderr[-300:])

    path, out = stall_case("group", 2, 1, ["rank 0", "rank 1", "allreduce"])
    # the rerun resumes and equals the uninterrupted run
    r = testlib.run(["mpirun", "--oversubscribe", "-np", "2", HIPID, "sweep", "--quiet", path], timeout=900, env=ENV)
    check(r.returncode == 0, f"group: the rerun exits 0 ({r.stderr[-300:]})")
    names = sorted(os.path.basename(f) for f in glob.glob(os.path.join(ref_out, "trials", "*.h5"))
                   if not f.endswith(".ckpt.h5"))
    diff = [n for n in names if differences(os.path.join(ref_out, "trials", n), os.path.join(out, "trials", n))]
    check(names and not diff, f"group: the rerun's {len(names)} trial files equal the uninterrupted run's ({diff[:2]})")

    stall_case("worker", 1, 1, ["rank 0", "heard nothing", "from rank 1", "host"])
    stall_case("master", 1, 0, ["rank 1", "rank 0", "the master"])
    one = "scheme = holdout"  # one trial: the master trains it, rank 1 waits at the phase's end
    # frozen after its arrival: the master names it at the closing exchange
    stall_case("end-waiter", 1, 1, ["rank 0", "the master", "rank 1", "host"], cv=one)
    stall_case("end-master", 1, 0, ["rank 1", "end of the phase", "rank 0", "the master"], cv=one)
    print(f"info host names in the lines: {host}")

    # negative control: with stall_timeout = 0 the frozen job just waits
    path, out = job("forever", 2, 0)
    p = start(path)
    _, pids = freeze(p, 1, out)
    _, _, ended = end(p, pids, BOUND)
    check(not ended, f"stall_timeout = 0: the frozen job is still waiting after {BOUND} s (the check can fail)")
    testlib.done()


if __name__ == "__main__":
    main()
