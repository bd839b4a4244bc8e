/* scheduler.h: the MPI runner of `hipid sweep`: a study's trials over rank
 * groups. The only module of the sweep that talks MPI (study.h, trialfile.h
 * and train.h know none).
 *
 * Rank 0 validates the job, the data and the output folder and broadcasts
 * each decision, so ranks leave together. Ranks are split into groups of a
 * family's ranks_per_trial (one phase per distinct value); world rank 0 is
 * the master and also the leader of group 0: between its own training steps
 * it answers the other leaders' requests for work (dynamic schedule, no idle
 * core for bookkeeping). A group trains its trial data-parallel (train.h:
 * fixed micro-batches, exact fixed-point sums), its leader writes the trial
 * file (trialfile.h) and mid-trial checkpoints. Rerunning skips finished
 * trials, resumes partial ones from their checkpoint and retries failed ones
 * up to [run] retries.
 *
 * The results folder is locked by the master before anything is written
 * (fsafe.h): RESULTS/sweep.lock exclusively for a whole sweep; with --shard
 * I/N shared, plus RESULTS/sweep.shard-I-of-N.lock exclusively, so the shards
 * of one array run together while a whole sweep and a shard, or one shard
 * twice, exclude each other. The loser leaves on every rank with one line
 * naming the holder; --dry-run takes no lock.
 *
 * SIGUSR1 / SIGTERM: every group finishes its step, checkpoints, the master
 * writes the index, and every rank returns SWEEP_EXIT_INTERRUPTED (rerun to
 * resume).
 */
#ifndef HIPID_SCHEDULER_H
#define HIPID_SCHEDULER_H

#include "hipid/base/common.h"

#define SWEEP_EXIT_INTERRUPTED HIPID_EXIT_INTERRUPTED

typedef struct {
    const char *job_path;
    int dry_run;    /* print the plan and a work estimate; train nothing */
    int reindex;    /* rebuild sweep.h5 from the trial files and stop */
    int quiet;      /* only the closing summary */
    int verbose;    /* also per-epoch lines of group leaders */
    int no_status;  /* no status.html and no progress files (status_html.h) */
    double status_every; /* seconds between rewrites of status.html (0: STATUS_HTML_EVERY) */
    int shard, n_shards; /* run plan indices i with i % n_shards == shard; n_shards <= 1: all */
    double link_gbit, link_us; /* --dry-run: the link to cost collectives on; 0 = measure (or assume) */
} SweepOptions;

/* Run the sweep on MPI_COMM_WORLD, which the caller has initialised
 * (MPI_THREAD_FUNNELED) and finalises. Every rank calls it and gets the same
 * exit status: 0 done (failed trials are recorded), HIPID_EXIT_FAIL,
 * HIPID_EXIT_USAGE (the job file), SWEEP_EXIT_INTERRUPTED. Errors are
 * printed (by rank 0 where every rank knows them). Installs handlers for
 * SIGUSR1 and SIGTERM once training starts. */
int scheduler_run(const SweepOptions *o);

#endif
