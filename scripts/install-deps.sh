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
    clang libclang-rt-14-dev libomp-14-dev   # make fuzz: clang 14, libFuzzer/ASan runtimes (libclang_rt.fuzzer*.a), OpenMP
    iproute2                                 # make test-multinode: network namespaces, tc
    libdcmtk-dev dcmtk                       # DICOM in (dcmtk's img2dcm/dcmcjpeg write test files)
    libprotobuf-c-dev protobuf-c-compiler    # ONNX out (onnx.proto from python3-onnx)
    python3-pydicom python3-onnx             # tests: DICOM written independently, onnx.checker
    python3-statsmodels                      # tests: Holm, proportion intervals (report statistics)
    python3-numpy python3-torch python3-scipy python3-sklearn python3-h5py python3-skimage
    chromium tidy python3-websocket          # tests: HTML pages in headless Chromium (DevTools protocol), HTML validator
)
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
