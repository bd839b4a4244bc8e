# shellcheck shell=bash
# common.sh: shell functions shared by sweep.sbatch, array.sbatch and
# report.sbatch. Sourced, not run. It launches `hipid sweep` as one MPI job
# over the allocation, forwards Slurm's warning signals to it and requeues
# the job when the sweep stopped at a checkpoint (exit status 3).
#
# Settings, all optional, from the environment of `sbatch` (sbatch passes
# your environment on) or set at the top of a .sbatch script:
#   HIPID               the hipid binary (default: bin/hipid in the folder
#                       you submitted from)
#   HIPID_LAUNCHER      auto (default), srun or mpirun. auto: srun --mpi=pmix
#                       when this Slurm has the pmix plugin, else mpirun
#   HIPID_SRUN_ARGS     extra options for srun   (e.g. "--mpi=pmix_v4")
#   HIPID_MPIRUN_ARGS   extra options for mpirun (e.g. "--oversubscribe")
#   HIPID_MAX_REQUEUES  stop requeueing after this many restarts (default 20)
#
# Exit statuses of hipid sweep: 0 done (some trials may have failed), 1 error,
# 2 usage error, 3 stopped by SIGUSR1/SIGTERM after checkpointing: rerunning
# the same command resumes. Not here: anything about the job file itself.

HIPID=${HIPID:-bin/hipid}
HIPID_LAUNCHER=${HIPID_LAUNCHER:-auto}
HIPID_MAX_REQUEUES=${HIPID_MAX_REQUEUES:-20}

hipid_log() { echo "hipid-slurm $(date '+%F %T'): $*"; }
hipid_die() { hipid_log "error: $*" >&2; exit 1; }

# hipid_launcher: print "srun" or "mpirun"
hipid_launcher() {
    case $HIPID_LAUNCHER in
        srun | mpirun) echo "$HIPID_LAUNCHER" ;;
        auto) if srun --mpi=list 2>&1 | grep -qw pmix; then echo srun; else echo mpirun; fi ;;
        *) hipid_die "HIPID_LAUNCHER must be auto, srun or mpirun, found '$HIPID_LAUNCHER'" ;;
    esac
}

# hipid_forward SIGNAL: called by the trap; pass the request on to the sweep.
# USR1 is sent whatever arrived: srun and mpirun both pass USR1 on to every
# rank, while mpirun answers TERM by killing the ranks before they can
# checkpoint.
hipid_forward() {
    hipid_log "got SIG$1: asking the sweep to checkpoint and stop"
    hipid_signalled=1
    if [ -n "${hipid_pid:-}" ]; then kill -USR1 "$hipid_pid" 2>/dev/null; fi
}

# hipid_run_sweep REQUEUE_ID ARGS...: run `hipid sweep ARGS...` on every task
# of the allocation, wait for it, and if it exits 3 requeue REQUEUE_ID (the
# job, or one task of an array). Exits with the sweep's status (0 after a
# successful requeue).
hipid_run_sweep() {
    local requeue_id=$1 launcher rc
    shift
    [ -x "$HIPID" ] || command -v "$HIPID" >/dev/null ||
        hipid_die "no hipid binary at '$HIPID' (submit from the hipid folder or set HIPID)"
    # threads per rank: --cpus-per-task, overriding the job file's [run] threads
    if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export HIPID_THREADS=$SLURM_CPUS_PER_TASK; fi
    launcher=$(hipid_launcher) || exit 1
    local -a cmd
    if [ "$launcher" = srun ]; then
        # srun does not inherit --cpus-per-task from sbatch (Slurm >= 22.05)
        cmd=(srun --mpi=pmix --kill-on-bad-exit=1 --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}")
        # shellcheck disable=SC2206  # word splitting of the extra options is wanted
        cmd+=(${HIPID_SRUN_ARGS:-})
    else
        # mpirun takes hosts and rank count from the allocation; no binding,
        # so that each rank's threads can use all of its CPUs
        cmd=(mpirun --bind-to none)
        # out-of-band TCP keepalives: a host whose link goes down is noticed
        # in seconds, not after the kernel's default of minutes
        cmd+=(--mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 1 --mca oob_tcp_keepalive_probes 3)
        # shellcheck disable=SC2206
        cmd+=(${HIPID_MPIRUN_ARGS:-})
    fi
    cmd+=("$HIPID" sweep "$@")

    hipid_signalled=0 hipid_pid=
    trap 'hipid_forward USR1' USR1
    trap 'hipid_forward TERM' TERM
    hipid_log "job ${SLURM_JOB_ID:-?} restart ${SLURM_RESTART_COUNT:-0}: ${SLURM_NTASKS:-?} tasks x ${HIPID_THREADS:-?} threads, via $launcher"
    hipid_log "running: ${cmd[*]}"
    "${cmd[@]}" &
    hipid_pid=$!
    # a signal that came before the launch is passed on now
    if [ "$hipid_signalled" -eq 1 ]; then kill -USR1 "$hipid_pid" 2>/dev/null; fi
    # wait returns early (status > 128) each time a trapped signal arrives;
    # a second wait on an ended child gives its real status
    while :; do
        wait "$hipid_pid"
        rc=$?
        [ "$rc" -gt 128 ] || break
        kill -0 "$hipid_pid" 2>/dev/null && continue
        wait "$hipid_pid"
        rc=$?
        break
    done
    # the sweep has ended: a time-limit warning that comes now is moot, and
    # must not kill this script (a default USR1 would fail the job)
    trap '' USR1
    trap - TERM
    hipid_log "sweep exited with status $rc"

    [ "$rc" -eq 3 ] || exit "$rc"
    if [ "${SLURM_RESTART_COUNT:-0}" -ge "$HIPID_MAX_REQUEUES" ]; then
        hipid_log "already restarted ${SLURM_RESTART_COUNT} times (HIPID_MAX_REQUEUES); not requeueing. Resubmit to go on."
        exit 3
    fi
    hipid_log "checkpointed; requeueing $requeue_id"
    scontrol requeue "$requeue_id" || { hipid_log "scontrol requeue $requeue_id failed; resubmit to go on"; exit 3; }
    exit 0
}
