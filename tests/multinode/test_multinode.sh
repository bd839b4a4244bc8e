#!/usr/bin/env bash
# make test-multinode: hipid sweep across "hosts" that are Linux network
# namespaces of this machine (root only). Each host has its own network
# namespace, host name (hN) and address on a private test subnet 10.251.S.0/24
# that exists only inside this run: the hosts' cables (veth pairs) meet on a
# bridge inside a namespace of its own, so the machine's own network is not
# touched. Open MPI starts its daemons in the other namespaces through
# tests/multinode/ns-rsh (what ssh does on a cluster) and talks TCP between
# them (no shared memory); each link is limited to 1 Gbit/s (tc tbf) unless
# HIPID_TEST_RATE=none. Everything created here is removed on exit, by name
# and by pid, also when a case fails or the run is interrupted.
#
# Cases (each bounded by a timeout):
#   spread       a sweep whose rank groups span hosts (ranks_per_trial 1 and
#                2, 3 ranks on 3 hosts): trial files bit-identical to the same
#                job on one host
#   kill         a rank killed (kill -9) on h3 mid-trial
#   link-down    h3's link taken down mid-trial
#   sigstop      a rank on h3 frozen with SIGSTOP mid-trial
#   master-lost  the master's host (h2, where mpirun runs) cut off mid-trial
# Each failure case must end the job within BOUND s (30) with a line naming
# the rank or host, and the rerun on the healed network must give trial
# files bit-identical to the one-host run.
#
# Environment: HIPID (default bin/hipid), HIPID_TEST_KEEP=1 keeps the folder,
# HIPID_TEST_RATE (default 1gbit; "none": no limit).
set -u
cd "$(dirname "$0")/../.."
HIPID=$(realpath "${HIPID:-bin/hipid}")
RATE=${HIPID_TEST_RATE:-1gbit}
BOUND=30
STALL=12   # above the runtime's keepalive detection (5 + 3 x 1 s): a cut link is the runtime's to handle
[ "$(id -u)" -eq 0 ] || { echo "test_multinode: needs root (network namespaces)" >&2; exit 1; }
for c in ip tc unshare mpirun; do
    command -v $c >/dev/null || { echo "test_multinode: $c not found" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hipid-multinode.XXXXXX") || exit 1
failed=()
passed=0
. tests/multinode/netns.sh
cleanup() {
    net_down
    if [ "${HIPID_TEST_KEEP:-0}" = 1 ]; then echo "info kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

spread_hosts="$NET.2:1,$NET.3:1,$NET.4:1"
one_host="$NET.2:3"

job_file() { # job_file NAME
    local out=$tmp/$1
    cat >"$tmp/$1.ini" <<EOF
[job]
name = $1
seeds = 1
[data]
path = $tmp/data.h5
synth = classes=3,per_class=16,size=32,seed=6
[cv]
scheme = kfold
k = 3
val_fraction = 0.2
[family pair]
model = c8,r,mp2,fl,fc16
lr = 0.003
batch = 8
micro_batch = 4
epochs = 120
ranks_per_trial = 2
[family solo]
model = fl,fc32,r,fc16
lr = 0.01
batch = 8
epochs = 180
[run]
threads = 1
checkpoint_every = 5
stall_timeout = $STALL
output = $out
EOF
    echo "$tmp/$1.ini"
}

case_fail() { echo "    $*"; case_ok=0; }
run_case() {
    local name=$1 t0=$SECONDS
    case_ok=1
    "$2"
    if [ "$case_ok" = 1 ]; then
        printf 'PASS %-14s %3ds\n' "$name" $((SECONDS - t0))
        passed=$((passed + 1))
    else
        printf 'FAIL %-14s %3ds\n' "$name" $((SECONDS - t0))
        failed+=("$name")
    fi
}

same_trials() { # same_trials DIR WHAT: DIR's trial files equal the one-host run's
    local f n=0
    for f in "$tmp/ref/trials/"*.h5; do
        case $f in *.ckpt.h5) continue ;; esac
        n=$((n + 1))
        [ -e "$1/trials/${f##*/}" ] || { case_fail "$2: no ${f##*/}"; continue; }
        /usr/bin/python3 tests/h5same.py "$f" "$1/trials/${f##*/}" >/dev/null || case_fail "$2: ${f##*/} differs from the one-host run's"
    done
    [ "$n" -gt 0 ] || case_fail "$2: the reference has no trial files"
}

# pid_of_rank R: the pid of world rank R of the running job, on any host
pid_of_rank() {
    local ns pid
    for ns in "${created[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$HIPID" ] || continue
            tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo "$pid"; return; }
        done
    done
}

# fault NAME ACTION: start the spread job, wait until it trains (a checkpoint
# exists), do ACTION, and expect the job to end within BOUND s; then heal,
# rerun and compare
fault() {
    local name=$1 action=$2 words=$3 job out log t0 took pid
    job=$(job_file "$name") out=$tmp/$name log=$tmp/$name.log
    on_hosts "$spread_hosts" 3 timeout 600 "$HIPID" sweep --quiet "$job" >"$log" 2>&1 &
    local bg=$!
    t0=$SECONDS
    until compgen -G "$out/trials/*.ckpt.h5" >/dev/null && [ -n "$(pid_of_rank 1)" ]; do
        sleep 0.2
        kill -0 $bg 2>/dev/null || { case_fail "$name: the job ended before the fault: $(tail -3 "$log")"; return; }
        [ $((SECONDS - t0)) -lt 120 ] || { case_fail "$name: no checkpoint after 120 s"; return; }
    done
    local tf target
    target=$(pid_of_rank 1)
    [ -n "$target" ] || { case_fail "$name: rank 1 ended before the fault (trials too short)"; kill -9 $bg; wait $bg; return; }
    tf=$(date +%s.%N)
    case $action in
        kill) kill -9 "$target" ;;
        stop) kill -STOP "$target" ;;
        cut3) cable 3 down ;;
        cut2) cable 2 down ;;
    esac
    local waited=0
    while kill -0 $bg 2>/dev/null && [ $waited -lt $((BOUND * 5)) ]; do
        sleep 0.2
        waited=$((waited + 1))
    done
    took=$(awk "BEGIN { print $(date +%s.%N) - $tf }")
    if kill -0 $bg 2>/dev/null; then
        case_fail "$name: the job still runs $BOUND s after the fault: $(tail -3 "$log")"
        kill -9 $bg 2>/dev/null
    fi
    wait $bg 2>/dev/null
    # whatever is left of the job (ranks, daemons) goes: continued, then killed
    for pid in $(for ns in "${created[@]}"; do ip netns pids "$ns"; done); do
        kill -CONT "$pid" 2>/dev/null
        kill -9 "$pid" 2>/dev/null
    done
    cable 2 up
    cable 3 up
    local line
    line=$(grep -m1 -iE "$words" "$log")
    # the runtime's message names the node on a line of its own
    if grep -q "Remote daemon:" "$log"; then line="$line $(grep -m1 'Remote daemon:' "$log" | sed 's/^ *//')"; fi
    echo "info $name: job ended $(printf '%.1f' "$took") s after the fault: ${line:-(no matching line)}"
    [ -n "$line" ] || case_fail "$name: no line matching '$words' in: $(grep -v '^ *$' "$log" | head -5)"
    awk "BEGIN { exit !($took <= $BOUND) }" || case_fail "$name: the job took $took s to end, more than $BOUND"
    sleep 1
    on_hosts "$spread_hosts" 3 timeout 600 "$HIPID" sweep --quiet "$job" >"$log.rerun" 2>&1 ||
        { case_fail "$name: the rerun failed: $(tail -3 "$log.rerun")"; return; }
    same_trials "$out" "$name rerun"
}

case_spread() {
    local job out
    job=$(job_file ref)
    on_hosts "$one_host" 3 timeout 600 "$HIPID" sweep --quiet "$job" >"$tmp/ref.log" 2>&1 ||
        { case_fail "one-host run failed: $(tail -3 "$tmp/ref.log")"; return; }
    job=$(job_file spread) out=$tmp/spread
    on_hosts "$spread_hosts" 3 timeout 600 "$HIPID" sweep "$job" >"$tmp/spread.log" 2>&1 ||
        { case_fail "spread run failed: $(tail -3 "$tmp/spread.log")"; return; }
    same_trials "$out" spread
    local n
    n=$(ls "$out/trials/"*.h5 | grep -vc ckpt)
    [ "$n" -eq 6 ] || case_fail "spread: expected 6 trial files, found $n"
    # the same placement puts one rank on each host
    local names
    names=$(on_hosts "$spread_hosts" 3 hostname 2>&1 | sort | tr '\n' ' ')
    [ "$names" = "h2 h3 h4 " ] || case_fail "spread: ranks on hosts '$names', expected h2 h3 h4"
}

case_kill() { fault kill kill "process rank 1 .*exited on signal|exited on signal 9"; }
case_link() { fault link-down cut3 "lost communication with a remote daemon"; }
case_stop() { fault sigstop stop "stalled.*rank 1 \(host h3\)|rank 1 \(host h3\)"; }
case_master() { fault master-lost cut2 "lost communication with a remote daemon"; }

t0=$SECONDS
net_up || { echo "test_multinode: could not build the test network" >&2; exit 1; }
echo "info network: 3 hosts h2-h4 on $NET.0/24 (namespaces ${P}2-4, bridge in ${P}sw), links ${RATE}, in $((SECONDS - t0)) s"
run_case spread case_spread
run_case kill case_kill
run_case link-down case_link
run_case sigstop case_stop
run_case master-lost case_master
cleanup
trap - EXIT
left=$(ip netns list | grep -c "^$P" || true)
if [ "$left" -eq 0 ]; then printf 'PASS %-14s\n' nothing-left; passed=$((passed + 1)); else
    printf 'FAIL %-14s %s namespace(s) left\n' nothing-left "$left"; failed+=(nothing-left); fi
echo
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "$passed passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
