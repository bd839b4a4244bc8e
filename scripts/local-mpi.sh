# Sourced by the make targets that run a sweep on this machine (demo,
# shoulder): local_mpirun NP ARGS... runs mpirun with NP ranks. A local
# convenience, not something to type on a cluster: Open MPI refuses root
# without --allow-run-as-root, and more ranks than cores without --oversubscribe.
local_mpirun() {
    local np=$1
    shift
    local mpi=(-np "$np")
    [ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
    [ "$(nproc)" -lt "$np" ] && mpi+=(--oversubscribe)
    mpirun "${mpi[@]}" "$@"
}
