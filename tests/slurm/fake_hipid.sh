#!/usr/bin/env bash
# fake_hipid.sh: a stand-in for `bin/hipid sweep` and `bin/hipid report`
# that follows their contract, so that the Slurm scripts can be tested
# before (and without) the real sweep. Each MPI rank runs one copy.
#
#   fake_hipid.sh sweep JOB.ini [--dry-run] [--shard I/N] [--quiet|--verbose]
#   fake_hipid.sh report RESULTS_DIR
#
# sweep: reads [job] name and [run] output from JOB.ini (output defaults to
# results/<name>); the plan is HIPID_FAKE_TRIALS trials (default 12) of
# HIPID_FAKE_EPOCHS epochs (default 4) of HIPID_FAKE_EPOCH_SECONDS (0.25 s).
# The shard's trials are dealt to the ranks round-robin. A finished trial is
# OUTPUT/trials/trial-NNNN.h5 (text, not HDF5: its content depends only on
# the job and the trial); a trial stopped by USR1/TERM leaves
# trial-NNNN.ckpt with its next epoch and the rank exits 3; a rerun skips
# finished trials and resumes checkpointed ones. Rank 0 writes OUTPUT/sweep.h5
# (a list of finished trials) when the shard is done. Every start and resume
# is appended to OUTPUT/fake-runs.log, which tests read.
# report: writes RESULTS_DIR/report/report.md listing the trials.
# Exit statuses as hipid: 0 done, 1 error, 2 usage, 3 interrupted.
set -u

usage() { echo "usage: fake_hipid.sh sweep JOB.ini [--dry-run] [--shard I/N] [--quiet|--verbose] | report DIR" >&2; exit 2; }

# ini_get FILE SECTION KEY: the value, or nothing
ini_get() {
    awk -v sec="$2" -v key="$3" '
        /^[ \t]*\[/ { s = $0; gsub(/^[ \t]*\[|\][ \t]*$/, "", s); next }
        s == sec && index($0, "=") {
            k = substr($0, 1, index($0, "=") - 1); v = substr($0, index($0, "=") + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", v)
            if (k == key) { print v; exit }
        }' "$1"
}

# atomic write: content from stdin to FILE via a temporary name
put() { cat >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }

# finished DIR: names of the finished trial files in DIR/trials, one a line
finished() { local f; for f in "$1"/trials/*.h5; do [ -e "$f" ] && basename "$f"; done; }

cmd_report() {
    [ $# -eq 1 ] || usage
    [ -d "$1/trials" ] || { echo "fake_hipid report: no trials folder in '$1'" >&2; exit 1; }
    mkdir -p "$1/report" || exit 1
    { echo "# fake report"; finished "$1" | wc -l; } | put "$1/report/report.md"
}

stop=0
on_signal() { stop=1; }

cmd_sweep() {
    local job="" dry=0 shard_i=0 shard_n=1 a
    while [ $# -gt 0 ]; do
        case $1 in
            --dry-run) dry=1 ;;
            --quiet | --verbose) ;;
            --shard) [ $# -ge 2 ] || usage; a=$2; shift
                [[ $a =~ ^([0-9]+)/([0-9]+)$ ]] || usage
                shard_i=${BASH_REMATCH[1]} shard_n=${BASH_REMATCH[2]}
                [ "$shard_n" -ge 1 ] && [ "$shard_i" -lt "$shard_n" ] || usage ;;
            -*) usage ;;
            *) [ -z "$job" ] || usage; job=$1 ;;
        esac
        shift
    done
    [ -n "$job" ] || usage
    [ -r "$job" ] || { echo "fake_hipid: cannot read job file '$job'" >&2; exit 1; }
    local name out
    name=$(ini_get "$job" job name); name=${name:-$(basename "$job" .ini)}
    out=$(ini_get "$job" run output); out=${out:-results/$name}

    local rank=${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}
    local size=${OMPI_COMM_WORLD_SIZE:-${SLURM_STEP_NUM_TASKS:-1}}
    local n_trials=${HIPID_FAKE_TRIALS:-12} n_epochs=${HIPID_FAKE_EPOCHS:-4}
    local epoch_s=${HIPID_FAKE_EPOCH_SECONDS:-0.25}
    local -a mine=()
    local t pos=0
    for ((t = 0; t < n_trials; t++)); do
        [ $((t % shard_n)) -eq "$shard_i" ] || continue
        [ $((pos % size)) -eq "$rank" ] && mine+=("$t")
        pos=$((pos + 1))
    done
    if [ "$dry" -eq 1 ]; then
        echo "rank $rank/$size shard $shard_i/$shard_n trials: ${mine[*]:-none}"
        exit 0
    fi

    trap on_signal USR1 TERM
    mkdir -p "$out/trials" || exit 1
    echo "start rank=$rank size=$size shard=$shard_i/$shard_n threads=${HIPID_THREADS:-unset} restart=${SLURM_RESTART_COUNT:-0} job=${SLURM_JOB_ID:-none} pid=$$" >>"$out/fake-runs.log"
    local f e0 e
    for t in "${mine[@]}"; do
        f=$(printf '%s/trials/trial-%04d' "$out" "$t")
        [ -e "$f.h5" ] && continue
        e0=0
        if [ -e "$f.ckpt" ]; then
            e0=$(cat "$f.ckpt")
            echo "resume trial=$t epoch=$e0 rank=$rank restart=${SLURM_RESTART_COUNT:-0}" >>"$out/fake-runs.log"
        fi
        for ((e = e0; e < n_epochs; e++)); do
            if [ "$stop" -eq 1 ]; then
                echo "$e" | put "$f.ckpt"
                echo "checkpoint trial=$t epoch=$e rank=$rank" >>"$out/fake-runs.log"
                exit 3
            fi
            sleep "$epoch_s" &
            wait $! || wait $!   # a trapped signal cuts the first wait short
        done
        printf 'fake trial %d of job %s: %d epochs\n' "$t" "$name" "$n_epochs" | put "$f.h5"
        rm -f "$f.ckpt"
        echo "finish trial=$t rank=$rank shard=$shard_i/$shard_n" >>"$out/fake-runs.log"
    done
    [ "$stop" -eq 1 ] && { echo "stopped rank=$rank between trials" >>"$out/fake-runs.log"; exit 3; }
    if [ "$rank" -eq 0 ]; then
        # the index: wait (briefly) for the other ranks' trials of this shard
        local deadline=$((SECONDS + 30)) missing
        while :; do
            missing=0
            for ((t = shard_i; t < n_trials; t += shard_n)); do
                [ -e "$(printf '%s/trials/trial-%04d.h5' "$out" "$t")" ] || missing=1
            done
            [ "$missing" -eq 0 ] || [ "$SECONDS" -ge "$deadline" ] || [ "$stop" -eq 1 ] && break
            sleep 0.2
        done
        finished "$out" | put "$out/sweep.h5"
    fi
    echo "done rank=$rank" >>"$out/fake-runs.log"
    exit 0
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
    sweep) cmd_sweep "$@" ;;
    report) cmd_report "$@" ;;
    *) usage ;;
esac
