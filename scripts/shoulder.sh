#!/usr/bin/env bash
# make shoulder: the real shoulder films end to end (issue #11; README, "On the
# real shoulder films"): the phantom-pretrained checkpoint (make
# pretrain-shoulder, skipped when it exists), then jobs/shoulder.ini on NP MPI
# ranks (cnn-paper, dnn-paper, the small ResNet from scratch and fine-tuned
# from the phantoms; grouped 10-fold CV, seeds 1-3, 120 trials), then its
# report. About 75 minutes on 2 cores. Rerunning resumes: finished trials are
# skipped. The last line is the path of the report's page.
# make shoulder128: the same with PRETRAIN_SIZE=128 and jobs/shoulder128.ini
# (the fine-tuned ResNet alone at 128 px; about 110 minutes on 2 cores); make
# shoulder128-ensemble, make shoulder-bagged and make shoulder128-bagged: their
# jobs the same way. A job given as the second argument writes to
# results/<its file name without .ini>.
# The braces make bash read the whole script before running it: editing or
# pulling it during an hour-long run cannot change what the run does next.
{
set -eu
HIPID=${1:-bin/hipid}
JOB=${2:-jobs/shoulder.ini}
. "$(dirname "$0")/local-mpi.sh"
"$(dirname "$0")/pretrain-shoulder.sh" "$HIPID"
local_mpirun "${NP:-2}" "$HIPID" sweep "$JOB"
"$HIPID" report "results/$(basename "$JOB" .ini)"
echo "open in a browser: $(cd "results/$(basename "$JOB" .ini)/report" && pwd)/index.html"
exit
}
