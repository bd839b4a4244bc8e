#!/usr/bin/env bash
# make demo: the sweep of jobs/demo.ini on 2 MPI ranks, on built-in phantom data
# (made on first use): cnn-paper and dnn-paper, 2 learning rates each, stratified
# patient-grouped 5-fold CV, early stopping on a validation share of each
# training fold. About two minutes on 2 cores. Results land in results/demo/;
# the sweep ends with a table of test accuracy per family (mean, SD, minimum),
# then the report, and the last line is the path of its page, index.html.
# Rerunning resumes: finished trials are skipped.
set -eu
HIPID=${1:-bin/hipid}
. "$(dirname "$0")/local-mpi.sh"
local_mpirun "${NP:-2}" "$HIPID" sweep jobs/demo.ini
if "$HIPID" --help | grep -q '^  report'; then
    "$HIPID" report results/demo
    # last line: the page to open (copy results/demo/report/index.html to a laptop, or open it in place)
    echo "open in a browser: $(cd results/demo/report && pwd)/index.html"
fi
