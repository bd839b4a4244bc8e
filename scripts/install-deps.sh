#!/usr/bin/env bash
# Install hipid's build, test and benchmark dependencies from Debian 12's
# archive (run as root, or through sudo). Safe to run again.
set -eu
export DEBIAN_FRONTEND=noninteractive
packages=(
    build-essential pkg-config make          # toolchain
    libopenmpi-dev openmpi-bin               # MPI (mpicc wraps gcc)
    libhdf5-dev hdf5-tools                   # data sets, checkpoints, results
    libopenblas-dev                          # sgemm
    libvips-dev                              # image decoding and preprocessing
    libinih-dev                              # job files (INI)
    libgsl-dev gnuplot-nox                   # statistics and plots of reports
    time                                     # peak memory in benchmarks
    iproute2                                 # make test-multinode: network namespaces, tc
    python3-numpy python3-torch python3-scipy python3-sklearn python3-h5py python3-skimage
)
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
