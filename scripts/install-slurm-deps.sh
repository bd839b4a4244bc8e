#!/usr/bin/env bash
# Install what the Slurm scripts (slurm/) and their test (tests/slurm/) need
# from Debian 12's archive: the Slurm daemons and client commands, MUNGE (the
# authentication Slurm uses) and PMIx headers (Slurm's mpi/pmix plugin loads
# libpmix.so, which only the -dev package provides). Run as root; safe to run
# again. Starts nothing: tests/slurm/cluster.sh starts its own daemons.
# On a real cluster none of this is needed; Slurm is already there.
set -eu
export DEBIAN_FRONTEND=noninteractive
packages=(
    slurmctld slurmd slurm-client   # controller, node daemon, sbatch/srun/sinfo...
    munge                           # authentication between Slurm daemons and commands
    libpmix-dev                     # srun --mpi=pmix (also pulled in by libopenmpi-dev)
    openmpi-bin libopenmpi-dev      # mpirun / mpicc, as in install-deps.sh
)
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
