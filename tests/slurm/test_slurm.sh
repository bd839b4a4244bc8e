#!/usr/bin/env bash
# test_slurm.sh: the batch scripts in slurm/ on a real (single-node) Slurm
# cluster that tests/slurm/cluster.sh starts in a temporary folder and stops
# on any exit. Needs root and scripts/install-slurm-deps.sh; fails (never
# skips) when Slurm cannot start. About 2-3 minutes on 2 cores.
#
# Cases:
#   mpi-hello     a 10-line MPI program through sweep.sbatch's launch lines,
#                 srun --mpi=pmix and mpirun: 2 ranks, an allreduce
#   sweep+report  sweep.sbatch via srun --mpi=pmix, then report.sbatch
#                 chained with --dependency=afterok; when the binary has no
#                 `report` command yet (not in `$HIPID --help`), only that
#                 report.sbatch ran after the sweep (an info line says so)
#   mpirun        sweep.sbatch with HIPID_LAUNCHER=mpirun: same trials. The
#                 fake runs 1 rank x 2 CPUs (HIPID_THREADS must follow
#                 --cpus-per-task); the real binary 2 ranks x 1 CPU, as the
#                 reference: its results are bit-identical only at a fixed
#                 thread count per rank (README)
#   array         array.sbatch --array=0-2: the shards together give the
#                 same trials as the single job
#   preempt       scancel --signal=USR1 --batch mid-run (srun, then mpirun):
#                 the job checkpoints, requeues itself, resumes, and ends
#                 with the same trials
#   array-preempt the same for one array task: only that task restarts
#   hipid-slurm   (real binary only) `hipid slurm --array 2 --max-array-size 1
#                 --submit`: two array jobs of one task each, the report
#                 chained after both; the shards give the same trials
#
# Environment:
#   HIPID          binary under test (default tests/slurm/fake_hipid.sh, a
#                  stand-in that follows the contract of hipid sweep/report)
#   HIPID_TEST_JOB job file to sweep (default: a small one written here for
#                  the fake); its [run] output is replaced by a temporary folder
#   HIPID_TEST_CMP command comparing two trial files, exit 0 if equal
#                  (default: cmp -s)
#   HIPID_TEST_KEEP=1  keep the temporary folder (logs, outputs) and say where
#   HIPID_TEST_TIMEOUT seconds a sweep job may take (default 120 for the
#                  fake, 300 for the real binary)
#   SLURM_TEST_PORT first of two ports for slurmctld/slurmd (default: 6817,
#                  or a free pair found from 16817 if that is taken)
# Prints one line per case, "info" lines with measured times, and a closing
# "N passed, N failed"; exits 1 if any case failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
: "${HIPID:=tests/slurm/fake_hipid.sh}" "${HIPID_TEST_CMP:=cmp -s}"
export HIPID
fake=0
[ "$(basename "$HIPID")" = fake_hipid.sh ] && fake=1
: "${HIPID_TEST_TIMEOUT:=$([ "$fake" -eq 1 ] && echo 120 || echo 300)}"
to=$HIPID_TEST_TIMEOUT
# the binary has a report command (the fake always has)
has_report=$fake
[ "$fake" -eq 1 ] || ! "$HIPID" --help 2>/dev/null | grep -qE '^ +report ' || has_report=1
# the fake's pace: 12 trials x 4 epochs x 0.25 s
export HIPID_FAKE_TRIALS=${HIPID_FAKE_TRIALS:-12} HIPID_FAKE_EPOCHS=${HIPID_FAKE_EPOCHS:-4}
export HIPID_FAKE_EPOCH_SECONDS=${HIPID_FAKE_EPOCH_SECONDS:-0.25}
# the test runs as root; Open MPI refuses that unless told. Kept out of the
# scripts in slurm/, which users read.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hipid-slurm.XXXXXX") || exit 1
cluster=$tmp/cluster
stamp=$tmp/stamp
touch "$stamp"
cleanup() {
    if [ -e "$cluster/pids" ]; then
        tests/slurm/cluster.sh stop "$cluster" >/dev/null || echo "FAIL stopping the test cluster (see above)"
    fi
    if [ "${HIPID_TEST_KEEP:-0}" = 1 ]; then echo "info kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---- the cluster ----
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "${SLURM_TEST_PORT:-}" ]; then
    SLURM_TEST_PORT=6817
    while ! port_free "$SLURM_TEST_PORT" || ! port_free $((SLURM_TEST_PORT + 1)); do
        SLURM_TEST_PORT=$((SLURM_TEST_PORT < 16817 ? 16817 : SLURM_TEST_PORT + 2))
        [ "$SLURM_TEST_PORT" -lt 17817 ] || { echo "FAIL no free port pair for Slurm"; exit 1; }
    done
fi
export SLURM_TEST_PORT
t0=$(now)
if ! tests/slurm/cluster.sh start "$cluster"; then
    echo "FAIL the Slurm test cluster did not start (reasons above); nothing was tested"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "info cluster up in $(elapsed "$t0" "$(now)") s"
# shellcheck source=/dev/null
. "$cluster/env"
cpus=$(sinfo -h -o %c | head -n1)

# ---- helpers ----
passed=0 failed=0 failures=()
case_fail() { echo "    $*"; case_ok=0; }

# job_file OUTDIR: a copy of the job under test writing to OUTDIR; prints its path
n_jobs=0
job_file() {
    n_jobs=$((n_jobs + 1))
    local f=$tmp/job$n_jobs.ini
    if [ -n "${HIPID_TEST_JOB:-}" ]; then
        awk -v out="$1" '
            /^[ \t]*\[/ { if (inrun && !done) { print "output = " out; done = 1 }
                          inrun = ($0 ~ /^[ \t]*\[run\]/) }
            inrun && /^[ \t]*output[ \t]*=/ { next }
            { print }
            END { if (!done) { if (!inrun) print "[run]"; print "output = " out } }' \
            "$HIPID_TEST_JOB" >"$f"
    else
        printf '[job]\nname = slurmtest\n[run]\noutput = %s\n' "$1" >"$f"
    fi
    echo "$f"
}

# submit SBATCH-OPTIONS... -- SCRIPT ARGS...: sbatch from the repo, prints the job id
submit() {
    sbatch --parsable --export=ALL -o "$tmp/logs/%x-%A_%a.out" "$@" | cut -d';' -f1
}

# job_field ID FIELD: the values of FIELD for every record of job ID (one per
# array task), one a line
job_field() {
    scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# wait_done ID SECONDS: wait until every record of job ID is in a final
# state; 1 on timeout
wait_done() {
    local deadline=$((SECONDS + $2)) s
    while :; do
        s=$(job_field "$1" JobState)
        if [ -n "$s" ] && ! grep -qvE '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)$' <<<"$s"; then
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}

# expect_completed ID WHAT: every record COMPLETED with exit code 0:0
expect_completed() {
    local bad
    bad=$(scontrol -o show job "$1" | grep -vE 'JobState=COMPLETED .*ExitCode=0:0|ExitCode=0:0 .*JobState=COMPLETED' |
        grep -oE '(JobId|JobState|ExitCode|ArrayTaskId)=[^ ]*' | tr '\n' ' ')
    [ -z "$bad" ] || case_fail "$2 did not complete with status 0: $bad"
}

# check_report RID SWEEP_IDS DIR NAME: report job RID (log NAME-RID_*) started
# after every sweep job (SWEEP_IDS, ':'-separated) ended; with a report
# command it completed and wrote DIR/report/report.md, without one it at
# least ran `hipid report DIR`
check_report() {
    local rid=$1 sid
    for sid in ${2//:/ }; do
        [ "$(job_field "$rid" StartTime)" \> "$(job_field "$sid" EndTime | sort | tail -n1)" ] ||
            [ "$(job_field "$rid" StartTime)" = "$(job_field "$sid" EndTime | sort | tail -n1)" ] ||
            case_fail "report job $rid started before sweep job $sid ended"
    done
    if [ "$has_report" -eq 1 ]; then
        expect_completed "$rid" "report job"
        [ -s "$3/report/report.md" ] || case_fail "no $3/report/report.md"
    else
        echo "info $4: $HIPID --help lists no 'report' command: checked only that report.sbatch ran after the sweep (it exits 2)"
        grep -q "running: .* report $3\$" "$tmp/logs/$4-${rid}_"* || case_fail "report job $rid did not run 'hipid report $3'"
    fi
}

# trials DIR: names of finished trial files
trials() { (cd "$1/trials" 2>/dev/null && ls -1 -- *.h5 2>/dev/null); }

# same_trials DIR REF WHAT: same trial names, and each file equal by HIPID_TEST_CMP
same_trials() {
    local a b f
    a=$(trials "$1") b=$(trials "$2")
    [ -n "$a" ] || { case_fail "$3: no trial files in $1/trials"; return; }
    [ "$a" = "$b" ] || { case_fail "$3: trial files differ from the single job's: $(diff <(echo "$a") <(echo "$b") | grep '^[<>]' | tr '\n' ' ')"; return; }
    for f in $a; do
        $HIPID_TEST_CMP "$1/trials/$f" "$2/trials/$f" || case_fail "$3: $f differs from the single job's"
    done
}

# once DIR WHAT (fake only): every trial finished exactly once across all
# runs, shards and ranks
once() {
    local dup n
    n=$(grep -c '^finish trial=' "$1/fake-runs.log")
    dup=$(grep -o '^finish trial=[0-9]*' "$1/fake-runs.log" | sort | uniq -d | tr '\n' ' ')
    [ -z "$dup" ] || case_fail "$2: trials finished more than once: $dup"
    [ "$n" -eq "$HIPID_FAKE_TRIALS" ] || case_fail "$2: $n trials finished, expected $HIPID_FAKE_TRIALS"
}

show_logs() { local f; for f in "$tmp"/logs/*-"$1"_*; do [ -e "$f" ] && { echo "    -- $f"; tail -n 15 "$f" | sed 's/^/       /'; }; done; }

run_case() {  # NAME FUNCTION
    local name=$1 t=$SECONDS
    case_ok=1 case_job=
    "$2"
    if [ "$case_ok" -eq 1 ]; then
        passed=$((passed + 1)); printf 'PASS %-16s %3ds\n' "$name" $((SECONDS - t))
    else
        failed=$((failed + 1)); failures+=("$name")
        printf 'FAIL %-16s %3ds\n' "$name" $((SECONDS - t))
        [ -n "$case_job" ] && show_logs "$case_job"
        # jobs of the failed case must not hold the node for the next ones
        # (the cluster is this test's own)
        squeue -h -o %A | sort -u | xargs -r scancel
    fi
}

mkdir -p "$tmp/logs"
ref=$tmp/out-single

# ---- cases ----
case_sweep_report() {
    local job id rid
    job=$(job_file "$ref")
    id=$(submit -J sweep -n 2 -c 1 slurm/sweep.sbatch "$job") || { case_fail "sbatch sweep.sbatch failed"; return; }
    case_job=$id
    rid=$(submit -J report --dependency=afterok:"$id" slurm/report.sbatch "$ref") || { case_fail "sbatch report.sbatch failed"; return; }
    wait_done "$id" "$to" || { case_fail "sweep job $id not done after $to s"; return; }
    expect_completed "$id" "sweep job"
    wait_done "$rid" 60 || { case_fail "report job $rid not done 60 s after the sweep"; case_job=$rid; return; }
    check_report "$rid" "$id" "$ref" report
    [ -n "$(trials "$ref")" ] || case_fail "no trial files in $ref/trials"
    grep -q 'via srun' "$tmp/logs/sweep-${id}_"* || case_fail "sweep not launched with srun (pmix missing?)"
    if [ "$fake" -eq 1 ]; then
        [ "$(trials "$ref" | wc -l)" -eq "$HIPID_FAKE_TRIALS" ] || case_fail "expected $HIPID_FAKE_TRIALS trials"
        grep -q 'rank=1 size=2 .*threads=1 ' "$ref/fake-runs.log" || case_fail "rank 1 of 2 with HIPID_THREADS=1 not seen: $(cat "$ref/fake-runs.log")"
    fi
}

case_mpirun() {
    local out=$tmp/out-mpirun job id c=$((cpus >= 2 ? 2 : 1)) n=1
    job=$(job_file "$out")
    # the fake: one rank with every CPU, HIPID_THREADS must follow
    # --cpus-per-task; the real binary: the reference's 2 ranks x 1 thread
    [ "$fake" -eq 1 ] || n=2 c=1
    id=$(HIPID_LAUNCHER=mpirun submit -J mpirun -n "$n" -c "$c" slurm/sweep.sbatch "$job") || { case_fail "sbatch failed"; return; }
    case_job=$id
    wait_done "$id" "$to" || { case_fail "job $id not done after $to s"; return; }
    expect_completed "$id" "sweep job"
    grep -q 'via mpirun' "$tmp/logs/mpirun-${id}_"* || case_fail "not launched with mpirun"
    [ "$fake" -eq 1 ] || grep -q "on $n rank(s), $c thread(s) each" "$tmp/logs/mpirun-${id}_"* ||
        case_fail "the sweep did not report $n rank(s) x $c thread(s)"
    same_trials "$out" "$ref" "mpirun"
    if [ "$fake" -eq 1 ]; then
        grep -q "rank=0 size=1 .*threads=$c " "$out/fake-runs.log" || case_fail "HIPID_THREADS=$c not seen: $(cat "$out/fake-runs.log")"
    fi
}

case_array() {
    local out=$tmp/out-array job id
    job=$(job_file "$out")
    id=$(submit -J array --array=0-2 -n 1 -c 1 slurm/array.sbatch "$job") || { case_fail "sbatch array.sbatch failed"; return; }
    case_job=$id
    wait_done "$id" "$to" || { case_fail "array $id not done after $to s"; return; }
    expect_completed "$id" "array task"
    [ "$(job_field "$id" JobId | wc -l)" -eq 3 ] || case_fail "expected 3 array tasks, found: $(job_field "$id" JobId | tr '\n' ' ')"
    same_trials "$out" "$ref" "array"
    if [ "$fake" -eq 1 ]; then
        for s in 0 1 2; do
            grep -q "shard=$s/3" "$out/fake-runs.log" || case_fail "shard $s/3 never ran"
        done
        once "$out" array
    fi
}

# preempt OUT NAME SBATCH-ARGS...: submit, signal once a trial has finished,
# wait for the requeued job to complete; sets preempt_id
preempt() {
    local out=$1 name=$2 job id target t_sig t_back deadline n
    shift 2
    job=$(job_file "$out")
    id=$(submit -J "$name" "$@" "$job") || { case_fail "sbatch failed"; return 1; }
    case_job=$id preempt_id=$id
    target=$id
    [ "${PREEMPT_TASK:-}" ] && target=${id}_$PREEMPT_TASK
    # signal while the job runs and has finished at least one trial, but not all
    deadline=$((SECONDS + 90))
    until [ "$(job_field "$target" JobState)" = RUNNING ] && [ -n "$(trials "$out")" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { case_fail "$target never ran a trial within 90 s"; return 1; }
        sleep 0.2
    done
    n=$(trials "$out" | wc -l)
    t_sig=$(now)
    scancel --signal=USR1 --batch "$target" || { case_fail "scancel --signal=USR1 --batch $target failed"; return 1; }
    # back: running again after a restart
    deadline=$((SECONDS + 120))
    until [ "$(job_field "$target" Restarts)" -ge 1 ] 2>/dev/null && [ "$(job_field "$target" JobState)" = RUNNING ]; do
        if [ "$SECONDS" -ge "$deadline" ] || { [ "$(job_field "$target" Restarts)" = 0 ] && wait_done "$target" 0; }; then
            case_fail "$target did not come back after USR1 (state $(job_field "$target" JobState), restarts $(job_field "$target" Restarts))"
            return 1
        fi
        sleep 0.2
    done
    t_back=$(now)
    echo "info $name: $n trials done at the signal; requeued job running again after $(elapsed "$t_sig" "$t_back") s"
    wait_done "$id" "$to" || { case_fail "job $id not done $to s after its restart"; return 1; }
    expect_completed "$id" "requeued job"
    [ "$n" -lt "$(trials "$ref" | wc -l)" ] || case_fail "the sweep had finished before the signal: nothing was preempted (make the job longer)"
    grep -q 'sweep exited with status 3' "$tmp/logs/$name-"* || case_fail "no 'sweep exited with status 3' in the job log"
    grep -q 'requeueing' "$tmp/logs/$name-"* || case_fail "no 'requeueing' in the job log"
    same_trials "$out" "$ref" "$name"
    if [ "$fake" -eq 1 ]; then
        grep -q '^checkpoint trial=' "$out/fake-runs.log" || grep -q '^stopped rank=' "$out/fake-runs.log" ||
            case_fail "the fake sweep never checkpointed: $(cat "$out/fake-runs.log")"
        grep -q 'restart=1 ' "$out/fake-runs.log" || case_fail "no run with SLURM_RESTART_COUNT=1: $(cat "$out/fake-runs.log")"
        grep -q '^resume trial=.* restart=1$' "$out/fake-runs.log" || case_fail "no trial resumed from its checkpoint: $(cat "$out/fake-runs.log")"
        once "$out" "$name"
    fi
}

case_preempt_srun() {
    HIPID_FAKE_EPOCH_SECONDS=0.5 preempt "$tmp/out-preempt" preempt -n 2 -c 1 slurm/sweep.sbatch
    grep -q 'via srun' "$tmp/logs/preempt-"* || case_fail "not launched with srun"
}

case_preempt_mpirun() {
    HIPID_FAKE_EPOCH_SECONDS=0.5 HIPID_LAUNCHER=mpirun preempt "$tmp/out-preempt-mpirun" preempt-mpirun -n 2 -c 1 slurm/sweep.sbatch
    grep -q 'via mpirun' "$tmp/logs/preempt-mpirun-"* || case_fail "not launched with mpirun"
}

case_array_preempt() {
    local out=$tmp/out-array-preempt t r
    HIPID_FAKE_EPOCH_SECONDS=0.5 PREEMPT_TASK=1 preempt "$out" array-preempt --array=0-2 -n 1 -c 1 slurm/array.sbatch || return
    for t in 0 2; do
        r=$(scontrol -o show job "${preempt_id}_$t" | grep -oE 'Restarts=[0-9]+')
        [ "$r" = Restarts=0 ] || case_fail "task $t restarted too ($r): only task 1 was signalled"
    done
}

# a real MPI program through the scripts' own launch lines: MPI_Init, the
# rank count and an allreduce must work with srun --mpi=pmix and with mpirun
case_mpi_hello() {
    local l id
    cat >"$tmp/hello.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int rank, size, sum = 0;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    printf("hello rank %d of %d sum %d\n", rank, size, sum);
    MPI_Finalize();
    return 0;
}
EOF
    mpicc -o "$tmp/hello" "$tmp/hello.c" || { case_fail "mpicc failed"; return; }
    for l in srun mpirun; do
        id=$(HIPID=$tmp/hello HIPID_LAUNCHER=$l submit -J "hello-$l" -n 2 -c 1 slurm/sweep.sbatch /dev/null) || { case_fail "sbatch failed"; return; }
        case_job=$id
        wait_done "$id" 60 || { case_fail "$l: job $id not done after 60 s"; return; }
        expect_completed "$id" "$l hello job"
        [ "$(grep -c '^hello rank [01] of 2 sum 1$' "$tmp/logs/hello-$l-${id}_"*)" -eq 2 ] ||
            case_fail "$l: expected ranks 0 and 1 of 2 with sum 1"
    done
}

# hipid slurm writes the array scripts, split (--max-array-size 1) into two
# array jobs of one task, submits them and the report after both
case_hipid_slurm() {
    local out=$tmp/out-hipid-slurm job gen=$tmp/gen log=$tmp/hipid-slurm.out ids rid sid s sname rname
    job=$(job_file "$out")
    SBATCH_OUTPUT="$tmp/logs/%x-%A_%a.out" "$HIPID" slurm "$job" --array 2 --max-array-size 1 --ntasks 1 \
        --cpus-per-task 1 --time 10:00 --out "$gen" --submit >"$log" 2>&1 || { case_fail "hipid slurm --submit failed: $(tail -n 3 "$log")"; return; }
    ids=$(sed -n 's/^sweep jobs: //p' "$log") rid=$(sed -n 's/^report job: //p' "$log")
    [ -n "$ids" ] && [ -n "$rid" ] || { case_fail "no job ids in the output: $(cat "$log")"; return; }
    case_job=${ids%%:*}
    [ -e "$gen/array-0-0.sbatch" ] && [ -e "$gen/array-1-1.sbatch" ] || case_fail "expected $gen/array-0-0.sbatch and array-1-1.sbatch: $(ls "$gen")"
    [ "$(tr ':' '\n' <<<"$ids" | wc -l)" -eq 2 ] || case_fail "expected 2 array jobs, found '$ids'"
    # still pending (the sweep takes longer than this): it waits for both
    for sid in ${ids//:/ }; do
        [ "$(job_field "$rid" JobState)" != PENDING ] || job_field "$rid" Dependency | grep -q "afterok:${sid}" ||
            case_fail "report job $rid does not depend on $sid: $(job_field "$rid" Dependency)"
    done
    for sid in ${ids//:/ }; do
        wait_done "$sid" "$to" || { case_fail "array job $sid not done after $to s"; return; }
        expect_completed "$sid" "array job $sid"
    done
    sname=$(sed -n 's/^#SBATCH --job-name=//p' "$gen/array-0-0.sbatch")
    rname=$(sed -n 's/^#SBATCH --job-name=//p' "$gen/report.sbatch")
    for s in 0 1; do
        grep -q -- "--shard $s/2" "$tmp/logs/$sname-"* || case_fail "no sweep ran --shard $s/2"
    done
    same_trials "$out" "$ref" hipid-slurm
    wait_done "$rid" 60 || { case_fail "report job $rid not done 60 s after the sweep"; return; }
    check_report "$rid" "$ids" "$out" "$rname"
}

run_case mpi-hello case_mpi_hello
run_case sweep+report case_sweep_report
run_case mpirun case_mpirun
run_case array case_array
run_case preempt case_preempt_srun
run_case preempt-mpirun case_preempt_mpirun
run_case array-preempt case_array_preempt
if [ "$fake" -eq 0 ]; then
    run_case hipid-slurm case_hipid_slurm
else
    echo "info hipid-slurm: not run with the fake (hipid slurm needs the real binary: HIPID=bin/hipid)"
fi

# ---- the cluster leaves nothing outside its folder ----
t0=$(now)
if tests/slurm/cluster.sh stop "$cluster"; then
    echo "info cluster stopped in $(elapsed "$t0" "$(now)") s"
    left=$(find /etc/slurm /var/log/slurm /var/lib/slurm /var/spool/slurm* /var/spool/slurmd /var/spool/slurmctld \
        /run/munge /run/slurm* /var/log/munge /var/lib/munge /etc/munge -newer "$stamp" 2>/dev/null)
    if [ -z "$left" ]; then
        passed=$((passed + 1)); echo "PASS nothing-outside"
    else
        failed=$((failed + 1)); failures+=(nothing-outside); echo "FAIL nothing-outside: $left"
    fi
else
    failed=$((failed + 1)); failures+=(cluster-stop); echo "FAIL cluster-stop"
fi

echo
[ "$failed" -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
