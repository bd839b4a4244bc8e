/* trialfile.h: the per-trial result file of a sweep and the sweep index: the
 * one module that writes and reads them (the sweep writes, report, predict
 * and eval read through here).
 *
 * results/<job>/trials/<family>-<hash>.h5, format "hipid-trial" version 1,
 * written to a temporary name and renamed when complete:
 *   attributes  format, format_version, state ("done" | "failed"), reason,
 *               hash (16 hex digits), key (the canonical configuration text),
 *               label, family, config, repeat, outer, inner, seed, attempts,
 *               model (spec), optimizer, lr, momentum, weight_decay, batch,
 *               micro_batch, epochs, patience, augment, balance, standardize,
 *               gradient_sum ("fixed32" | "fixed64"), init (path, "" = none),
 *               freeze, head_lr, warmup, label_smoothing, mixup, cutmix (alphas,
 *               0 = off), subsample (the share of the training part this seed
 *               drew, [family] subsample; 1 = all), tta ("none" | "flip":
 *               the test-time augmentation of the stored predictions, tta.h),
 *               data (path: the family's own data set, [family] data, or
 *               [data] path), data_checksum (hex), image_size, n_classes,
 *               preprocessing, best_epoch, epochs_run, seconds, ranks, threads,
 *               budget (epochs this file was trained to under successive halving:
 *               its rung's; 0 = to the trial's epochs; halving.h),
 *               allreduce_seconds (time in group collectives, leader),
 *               test_acc, test_loss, val_acc, val_loss,
 *               weights_sha256, predictions_sha256 (64 hex digits each, written
 *               last by trialfile_finish: SHA-256 of weights/, and of the datasets
 *               the report reads with the attributes naming and scoring the
 *               trial; the walk is described in trialfile.c; bytes as saved
 *               only, so equal across rank counts)
 *   class_names              string [K]
 *   indices/train|val|test   int32 [n]      data-set row numbers
 *   history/epoch, lr, train_loss, train_acc, val_loss, val_acc, seconds   [E]
 *   predictions/val_index, test_index       int32 [n]
 *   predictions/val_label, test_label       int32 [n]
 *   predictions/val_prob, test_prob         float32 [n,K]  softmax of the best weights
 *   metrics/confusion        int32 [K,K]    test, rows = true class
 *   weights/best, weights/last              model_write_h5 groups
 * A failed trial keeps the attributes (state "failed", reason) and no
 * weights. Beside it, while the trial runs: <family>-<hash>.ckpt.h5 (train.h).
 *
 * The sweep index results/<job>/sweep.h5 ("hipid-sweep" version 1) holds one
 * row per planned trial (see trialfile_write_index) and can be rebuilt from
 * the trial files at any time. */
#ifndef HIPID_TRIALFILE_H
#define HIPID_TRIALFILE_H

#include <hdf5.h>
#include <stdint.h>

#include "hipid/base/common.h"
#include "hipid/data/dataset.h"
#include "hipid/nn/model.h"
#include "hipid/sweep/halving.h"
#include "hipid/sweep/job.h"
#include "hipid/train/train.h"

#define TRIAL_FORMAT "hipid-trial"
#define TRIAL_FORMAT_VERSION 1
#define SWEEP_FORMAT "hipid-sweep"
#define SWEEP_FORMAT_VERSION 1

/* RESULTS/trials/<family>-<hash><suffix>, suffix ".h5" (the trial file) or
 * ".ckpt.h5" (its mid-trial checkpoint). Returns snprintf's count: >= cap
 * means the path did not fit. */
int trialfile_path(char *buf, size_t cap, const char *results, const char *family, const char *hash_hex,
                   const char *suffix);

/* ---- writing (the sweep, on a group's leader) ---- */

/* A trial's rows of the data set (study_trial_parts makes them). */
typedef struct {
    int *train, *val, *test; /* (n_train), (n_val), (n_test) */
    int n_train, n_val, n_test;
} TrialParts;

/* What a trial file records besides its weights. Borrows everything. */
typedef struct {
    const Job *job;
    const Trial *t;
    uint64_t data_checksum;
    const Dataset *d;          /* sizes, class names, preprocessing, labels */
    const char *state;         /* "done" or "failed" */
    const char *reason;        /* why it failed; "" when done */
    int attempts, ranks, threads;
    double seconds;            /* wall time of this attempt */
    double allreduce_seconds;  /* of it, in the group's collectives */
    const TrialParts *p;       /* NULL: the split could not be made */
    const Trainer *tr;         /* NULL for a failed trial: no history, predictions or metrics */
    const float *val_logits;   /* (n_val, K), best weights */
    const float *test_logits;  /* (n_test, K), best weights */
    float val_loss, val_acc, test_loss, test_acc;
    int budget;                /* epochs trained to under halving (a rung's); 0 = the trial's epochs */
} TrialRecord;

/* A done trial is written in steps around the group's collectives:
 * trialfile_create, trialfile_write_weights "last" (before the trainer
 * restores its best weights), "best", trialfile_write_record, then
 * trialfile_finish, which renames the temporary file (name in tmp) into
 * place if ok, or removes it. Each returns HIPID_OK or HIPID_ERR (create
 * and finish with a message in e). */
hid_t trialfile_create(char *tmp, size_t cap, const char *path, ErrBuf *e);
int trialfile_write_weights(hid_t f, const char *which, const Model *m);
int trialfile_write_record(hid_t f, const TrialRecord *r);
int trialfile_finish(hid_t f, int ok, const char *tmp, const char *path, ErrBuf *e);
/* A failed trial's file, whole: the record's attributes (and indices if r->p). */
int trialfile_write_failed(const char *path, const TrialRecord *r, ErrBuf *e);

enum { TRIAL_TODO = 0, TRIAL_PARTIAL, TRIAL_DONE, TRIAL_FAILED, TRIAL_BAD };

/* What the index keeps of a trial. */
typedef struct {
    int state;             /* TRIAL_*; TRIAL_BAD: the file is unreadable (truncated) */
    int attempts, best_epoch, epochs_run, ranks;
    int budget;            /* the file's budget attribute (0: trained to its epochs, or absent) */
    int pruned;            /* set by the sweep's master (halving.h), never read from the trial file:
                            * the trial's configuration stopped before its bracket's last rung */
    double test_acc, test_loss, val_acc, val_loss, seconds;
    char reason[512];
} TrialSummary;

/* RESULTS/sweep.h5, one row per planned trial: columns label, family, state
 * (todo, partial, done, failed, bad), hash, reason (strings), config, repeat,
 * outer, inner, seed, attempts, best_epoch, ranks, budget, pruned (int32),
 * test_acc, test_loss, val_acc, val_loss, seconds (float64); attributes job,
 * job_file, data (the job's [data] path) and study (its data checksum and the
 * CV design: a results folder holds one study), ensemble ([job] ensemble,
 * when given), search ("grid", "random", "halving", "hyperband"), metric
 * ("val_loss" | "val_acc"), prune ("none" | "median" | "wilcoxon"), eta,
 * min_epochs, max_epochs (int; 0 when not halving) and grid_epochs (float64:
 * the epochs every planned trial would train to its end, a full grid's
 * cost). busy and elapsed (seconds per world rank, n_ranks) are written as
 * rank_busy_seconds and rank_elapsed_seconds when not NULL. With halving or
 * pruning (n_rungs > 0) the group rungs/ holds the rung table (halving.h's
 * RungRow), one row per (selection group, configuration, rung):
 *   rungs/family, rungs/state ("promoted", "stopped", "pruned", "top", "open")  strings
 *   rungs/config, bracket, repeat, outer, rung, epochs, n_units                int32
 *   rungs/score                                                                float64
 * Written to a temporary name and renamed. */
int trialfile_write_index(const char *results, const Job *job, const Trial *plan, const TrialSummary *sum,
                          int n_plan, const char *study, const double *busy, const double *elapsed, int n_ranks,
                          const RungRow *rungs, int n_rungs, ErrBuf *e);

/* The metric of a done trial's file at a budget of `epochs` (halving.h: the
 * lowest validation loss over its first `epochs` epochs, or minus the
 * validation accuracy at that epoch, per job->metric); 1 if the file holds at
 * least that many epochs or ended before them (early stopping, or trained to
 * its own epochs), 0 if it must be trained further (or is missing, failed or
 * unreadable: *metric untouched). A failed file with no attempts left gives
 * 1 and +inf. */
int trialfile_rung_metric(const char *path, uint64_t hash, int epochs, int metric, int retries, double *metric_out);

/* ---- reading ---- */

/* Read a trial file's summary and check that it belongs to `hash` and
 * passes trialfile_verify. A missing file is TRIAL_TODO; an unreadable one,
 * one of another hash (its name does not match its content) or one that
 * fails its checksums TRIAL_BAD with the reason filled. Never fails. */
void trialfile_summary(TrialSummary *s, const char *path, uint64_t hash);

/* Whether path is an HDF5 file whose format attribute says "hipid-trial"
 * (of any version: trialfile_open then names the version). */
int trialfile_is_trial(const char *path);

/* Open a trial file read-only: format and version are checked, and the
 * weights and predictions against their checksums (trialfile_verify), else
 * H5I_INVALID_HID with a message in e (a version mismatch's ends with hint,
 * what the user of this reader should do). Close with H5Fclose. */
hid_t trialfile_open(const char *path, const char *hint, ErrBuf *e);

/* Recompute weights_sha256 and predictions_sha256 of an open trial file and
 * compare: "<path>: weights do not match their checksum (corrupt; rerun the
 * sweep to redo the trial)" (or predictions, or "... unreadable ..." when
 * HDF5 cannot read them). A file written before checksums (no attribute)
 * passes. */
int trialfile_verify(hid_t f, const char *path, ErrBuf *e);

/* A trial's attributes as the readers use them. Strings are "" and numbers
 * 0 (lr, momentum, weight_decay, dropout: NaN) when the file lacks them. */
typedef struct {
    char state[16], reason[512];
    char family[64], label[128], hash[24];
    int config, repeat, outer, inner, seed;
    char data[1024], data_checksum[24], preprocessing[1024];
    int image_size, n_classes;
    char model[1024], optimizer[32], augment[256], balance[32];
    double lr, momentum, weight_decay, dropout;
    int batch, epochs, patience;
    double val_loss;
    /* the recipe and fine-tuning keys; zero or "" in files written before them */
    char init[1024];
    int freeze, warmup;
    double head_lr, label_smoothing;
    double mixup, cutmix;     /* alphas (mix.h) */
    double subsample;         /* [family] subsample; 1 in files written before it */
    int tta;                  /* TTA_*; TTA_NONE in files written before it */
    char tta_name[16];        /* the attribute as stored ("none" when missing) */
} TrialInfo;

/* Groups of attributes, for what trialfile_read_info found complete. */
enum {
    TRIALINFO_ID = 1 << 0,    /* state, family, label, hash, config, repeat, outer, inner, seed,
                               * n_classes, val_loss */
    TRIALINFO_PREP = 1 << 1,  /* preprocessing */
    TRIALINFO_SHAPE = 1 << 2, /* image_size, n_classes */
    TRIALINFO_TTA = 1 << 3,   /* tta missing (none) or one this build knows; clear for an unknown value */
};

/* Read every attribute of TrialInfo from an open trial file; returns the
 * TRIALINFO_* groups that were all there (the caller decides what it needs). */
unsigned trialfile_read_info(TrialInfo *t, hid_t f);

/* class_names: *names gets n malloc'd strings (strv_free). */
int trialfile_read_class_names(char ***names, int *n, hid_t f, const char *path, ErrBuf *e);

/* A done trial's test predictions and learning curves. Owned: free with
 * trialfile_test_free (or take the arrays and free them yourself). */
typedef struct {
    int n_train, n_val, n_test, n_epochs;
    int *test_index, *test_label; /* (n_test + 1) data-set rows and their labels */
    int *fit_index;               /* (n_train + n_val + 1) rows the model was fitted on: train, then val */
    double *test_prob;            /* (n_test * K + 1) softmax of the best weights */
    float *hist;                  /* (4 * n_epochs + 1): train_loss, train_acc, val_loss, val_acc */
} TrialTest;

/* Read them for K classes, checking sizes, label and row ranges and that
 * the probabilities are finite; a message names the file and what is wrong. */
int trialfile_read_test(TrialTest *r, hid_t f, const char *path, int K, ErrBuf *e);
void trialfile_test_free(TrialTest *r);

/* The "best" or "last" weights of a trial file as a model (model_read_h5). */
Model *trialfile_load_model(const char *path, const char *which, int max_batch, int n_threads, ErrBuf *e);

/* Open the sweep index read-only, as trialfile_open does a trial file. */
hid_t trialfile_open_index(const char *path, const char *hint, ErrBuf *e);
/* Its study attribute (see trialfile_write_index). */
int trialfile_index_study(hid_t f, char *buf, size_t cap);

/* The columns of the index the readers use. Owned: trialfile_index_free. */
typedef struct {
    char job[64], job_file[1024], study[512]; /* "" if missing */
    char ensemble[300];                       /* [job] ensemble: "fam,fam,..."; "" if none */
    char data[1024];                          /* the job's [data] path; "" in an older index */
    int n;
    char **family, **state, **hash, **label;  /* (n) */
    int *config, *inner;                      /* (n + 1) */
    int *budget, *pruned;                     /* (n + 1); zeros in an index written before halving */
    double *val_loss;                         /* (n + 1); NaN for a trial without a validation share */
    double *test_acc;                         /* (n + 1) */
    char search[16], metric[16], prune[16];   /* "" if missing */
    int eta, min_epochs, max_epochs;
    double grid_epochs;                       /* NaN if missing */
    int n_rungs;                              /* the rung table; 0 without halving or pruning */
    RungRow *rungs;                           /* (n_rungs + 1), family -1: see rung_family */
    char **rung_family;                       /* (n_rungs) family names */
} SweepIndex;

/* Read the attributes, then the columns; on failure the columns are empty
 * (n 0) but the attributes stay, and e names the file and what is wrong. */
int trialfile_read_index(SweepIndex *x, hid_t f, const char *path, ErrBuf *e);
void trialfile_index_free(SweepIndex *x); /* no-op on a zeroed SweepIndex */

#endif
