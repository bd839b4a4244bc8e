/* study.h: what every rank of a sweep shares, and the sweep's steps that
 * need no MPI.
 *
 * A Study is the job, its data set, the CV splits made once for the whole
 * plan, and the plan itself (job_expand). Around it: building a missing
 * phantom data set from [data] synth, a trial's train/val/test rows, the
 * results folder (one study per folder) and the states of its trial files,
 * the sweep index, the closing summary and the --dry-run estimate. Which rank
 * calls what, and how the outcome is shared, is the scheduler's business
 * (scheduler.h); nothing here talks to other ranks.
 */
#ifndef HIPID_STUDY_H
#define HIPID_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "hipid/base/common.h"
#include "hipid/data/dataset.h"
#include "hipid/data/split.h"
#include "hipid/sweep/estimate.h"
#include "hipid/sweep/job.h"
#include "hipid/sweep/trialfile.h"

typedef struct {
    Job job;
    int threads;                  /* per rank: HIPID_THREADS, else [run] threads */
    char out[1024];               /* [run] output: sweep.h5 and trials/ */
    Dataset d;
    int have_data;                /* d is loaded (a dry run may go without) */
    int dry_run;                  /* a family's data set not built yet is left out (study_load_data) */
    uint64_t checksum;            /* dataset_identity of d (labels, groups, pixels,
                                   * preprocessing); 0 without data */
    /* families with their own data set ([family] data / steps): the distinct
     * ones, same films, order, labels and groups as d (checked on load) */
    int n_fdata;
    Dataset fdata[JOB_MAX_FAMILIES];
    int fdata_of[JOB_MAX_FAMILIES]; /* per family: index into fdata, -1 = d */
    Splits sp;                    /* k-fold schemes: folds of every repeat (and inner folds) */
    int8_t *hold;                 /* holdout: (repeats, n) SPLIT_* parts */
    Trial *plan;                  /* (n_plan), job_expand's order */
    int n_plan;
} Study;

/* Read and validate the job file (job_load) and settle threads and the
 * output folder. On error e holds the job file's "FILE:LINE: KEY: ..." line
 * and the study owns nothing. */
int study_load_job(Study *s, const char *path, ErrBuf *e);

/* Build the job's missing data sets: [data] path from [data] synth or
 * [data] source, a family's from [data] source with its steps, each under an
 * exclusive lock on DATA.lock (written under a per-process temporary name and
 * renamed into place); a second sweep finding the lock held waits for the
 * builder (at most an hour) and then uses its file. Fails saying how to make
 * a data set the job cannot build. Prints what it does on stdout. */
int study_build_data(const Study *s, ErrBuf *e);

/* Is a data set of the job missing: [data] path or a family's own? */
int study_data_missing(const Study *s);

/* Load the data set, its checksum and the splits of the job's CV design,
 * and each family's own data set, which must hold the same films in the
 * same order with the same labels, groups and image size (else e names the
 * file, the family and the first difference); its identity goes into the
 * family's data_checksum. In a dry run a family's data set that does not
 * exist yet is left out: the family keeps the stand-in key. */
int study_load_data(Study *s, ErrBuf *e);

/* The data set family f trains on (its own, else d), and its identity. */
const Dataset *study_data(const Study *s, int f);
uint64_t study_data_checksum(const Study *s, int f);

/* The plan (job_expand with the data checksum in every hash). */
int study_expand(Study *s, ErrBuf *e);

/* Every trial's split can be made and has at least a batch of training
 * images; needs the data. */
int study_check_plan(const Study *s, ErrBuf *e);

/* Create the trials folder; refuse an output folder whose sweep.h5 holds
 * another study (data or [cv] differ). The caller holds the folder's lock
 * (sweep.lock, see scheduler.h), so stale temporary files of killed runs of
 * this host are removed here. */
int study_check_output(const Study *s, ErrBuf *e);

void study_free(Study *s); /* no-op on a zeroed Study */

/* Train/val/test rows of trial t: the CV unit's train and test, then the
 * validation share carved (stratified, grouped) out of train. p owns its
 * arrays afterwards, also on failure (study_free_parts). */
int study_trial_parts(TrialParts *p, const Study *s, const Trial *t, ErrBuf *e);
void study_free_parts(TrialParts *p);

/* Trial t's file (suffix ".h5") or checkpoint (".ckpt.h5"). */
void study_trial_path(char *buf, size_t cap, const Study *s, const Trial *t, const char *suffix);

/* The study key sweep.h5 records: the data checksum and the CV design. */
void study_key(char *buf, size_t cap, const Study *s);

/* The state of every planned trial from its file (a missing file with a
 * checkpoint is partial; an unreadable one is reported, removed and redone)
 * into sum (n_plan); todo (n_plan) gets the plan indices this run trains, in
 * plan order: todo, partial, and failed ones with attempts left, of shard
 * `shard` of n_shards (n_shards <= 1: all). Returns their number. */
int study_scan(TrialSummary *sum, int *todo, const Study *s, int shard, int n_shards);

/* Read the states again at the end (shards may share the folder). */
void study_rescan(TrialSummary *sum, const Study *s);

/* sweep.h5 from sum; busy and elapsed (n_ranks) when known (trialfile_write_index). */
int study_write_index(const Study *s, const TrialSummary *sum, const double *busy, const double *elapsed,
                      int n_ranks, const RungRow *rungs, int n_rungs, ErrBuf *e);

/* The closing table: per family done, failed, left and test accuracy. */
void study_print_summary(const Study *s, const TrialSummary *sum);

/* --dry-run: the plan per family with step, allreduce and trial time
 * estimates for n_ranks ranks; bw is the measured allreduce bandwidth in
 * bytes/s (0: not measured). */
void study_print_estimate(const Study *s, int n_todo, int n_ranks, const EstLink *link);

/* "42s", "3m05s", "2h10m", or "?" for a negative or non-finite s. */
void study_format_duration(char *buf, size_t cap, double s);

#endif
