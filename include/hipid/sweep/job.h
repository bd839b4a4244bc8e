/* job.h: a sweep's job file (INI, parsed with libinih) and its expansion into
 * trials. Pure: no MPI, no data I/O beyond reading the job file itself; the
 * sweep's scheduler (scheduler.c) parses on rank 0 and broadcasts the outcome.
 *
 * Sections and keys (README "Job files" documents every key, default and
 * allowed values; job.c's key table is the single source of both):
 *   [job]      name, seeds
 *   [data]     path, synth, source, size
 *   [cv]       scheme, k, repeats, inner_k, fractions, val_fraction, seed, groups
 *   [search]   mode, samples, seed, min_epochs, max_epochs, eta, metric, prune,
 *              prune_after, prune_alpha (halving.h)
 *   [family NAME]  model, optimizer, lr, momentum, weight_decay, schedule,
 *              step_size, gamma, batch, micro_batch, epochs, patience, dropout,
 *              augment, balance, standardize, gradient_sum, freeze, head_lr, warmup,
 *              label_smoothing, mixup, cutmix, tta, init,
 *              ranks_per_trial, val_fraction (the family's own [cv] val_fraction),
 *              subsample (each seed's share of the training part: subagging),
 *              data, steps (the family's own preparation of the job's films)
 *   [run]      ranks_per_trial, threads, checkpoint_every, output, retries, stall_timeout
 * Hyperparameter keys of a family take a comma-separated list (grid: the
 * cartesian product; random: a uniform choice) and, for real-valued keys in
 * random mode, uniform(a, b) or loguniform(a, b).
 *
 * Errors are one line, "FILE:LINE: KEY: expected ..., found ..." (LINE is the
 * line of the offending key; combinations name the line of the later key). */
#ifndef HIPID_JOB_H
#define HIPID_JOB_H

#include <stdint.h>

#include "hipid/train/augment.h"
#include "hipid/train/mix.h"
#include "hipid/base/common.h"
#include "hipid/nn/layers.h"
#include "hipid/nn/optim.h"

#define JOB_MAX_FAMILIES 8
#define JOB_MAX_SEEDS 64

/* One concrete hyperparameter configuration of a family. */
typedef struct {
    char model[1024];  /* preset name or spec, with dropout already applied (do<P> rewritten) */
    OptConfig opt;     /* kind, lr, momentum, weight_decay, sched, step_size, gamma */
    int epochs;
    int batch;         /* global batch per optimiser step */
    int micro_batch;   /* fixed micro-batch: batch-norm statistics and the unit handed to ranks;
                        * 0 = the whole batch (one micro-batch) */
    int patience;      /* early stopping on validation loss, epochs; 0 = off */
    float dropout;     /* < 0: as in the spec; else every do<P> layer uses this P */
    int balance;       /* TRAIN_BALANCE_* */
    AugConfig aug;
    int standardize;
    int gradient_sum;  /* TRAIN_SUM_*: how micro-batch gradients are summed (train.h) */
    int freeze;        /* fine-tuning: the first layers kept as init has them */
    float head_lr;     /* fine-tuning: the classifier's learning rate; 0 = opt.lr */
    float label_smoothing; /* of the training loss; warm-up epochs are opt.warmup */
    MixConfig mix;     /* mixup / cutmix alphas of training batches (mix.h); 0 = off */
    int tta;           /* TTA_*: test-time augmentation of the stored predictions (tta.h) */
    char init[1024];   /* fine-tuning: a checkpoint (hipid train --save) to start from; "" = none */
    char init_sha256[65]; /* its SHA-256 when the job was read (in the trial key); "" = none */
} HParams;

typedef struct {
    char name[32];       /* the NAME of [family NAME] */
    int ranks_per_trial; /* ranks that train one trial together */
    double val_fraction; /* k-fold schemes: the family's validation share of each training
                          * set ([family] val_fraction, else [cv]'s); 0 = none */
    double subsample;    /* [family] subsample: the share of the training part (after the
                          * validation carve) that each trial trains on, drawn per trial
                          * seed, stratified and by leakage group (subagging); 1 = all */
    int n_configs;
    HParams *configs;    /* (n_configs), owned */
    /* [family] data / steps: the family trains on its own preparation of the
     * job's films (same films, order, labels and groups as [data] path, so the
     * same folds; other preprocessing). "" = the job's data set. */
    char data[1024];
    int prep_from_source; /* 1 ([family] steps): data is prepared from [data] source at [data]
                           * size with prep_steps when missing; 0: data must exist */
    unsigned prep_steps;  /* PREP_* bits, with prep_from_source */
    uint64_t data_checksum; /* dataset_identity of data, filled by the study once it is loaded
                             * (study_load_data); 0 = not known yet */
} Family;

typedef enum { CV_HOLDOUT, CV_KFOLD, CV_REPEATED, CV_GROUP, CV_NESTED } CvScheme;

enum { SEARCH_GRID = 0, SEARCH_RANDOM, SEARCH_HALVING, SEARCH_HYPERBAND };
enum { SEARCH_METRIC_VAL_LOSS = 0, SEARCH_METRIC_VAL_ACC };
enum { SEARCH_PRUNE_NONE = 0, SEARCH_PRUNE_MEDIAN, SEARCH_PRUNE_WILCOXON };
/* "grid", "random", "halving", "hyperband"; "val_loss", "val_acc"; "none",
 * "median", "wilcoxon": indexed by the enums above, NULL-terminated. */
extern const char *const search_mode_names[], *const search_metric_names[], *const search_prune_names[];

/* Does the job's search go through halving.h (halving, hyperband, or a prune)? */
#define JOB_STAGED(job) ((job)->search >= SEARCH_HALVING || (job)->prune != SEARCH_PRUNE_NONE)

typedef struct {
    char path[1024];          /* the job file as given */
    char name[64];            /* [job] name, default: the file's base name without .ini */
    int n_seeds;
    uint64_t seeds[JOB_MAX_SEEDS]; /* training seeds; every CV unit is trained once per seed */
    /* [data] */
    char data[1024];          /* hipid data set (HDF5), relative to the current folder */
    char synth[256];          /* if set and data is missing: "classes=K,per_class=N,size=S,seed=X" */
    char source[1024];        /* if set and data is missing: hipid prep SOURCE --size prep_size */
    int prep_size;            /* [data] size, with source */
    unsigned prep_steps;      /* [data] steps, with source: PREP_* bits (prep.h), default the study's */
    /* [cv] */
    CvScheme scheme;
    int k, repeats, inner_k;
    double fractions[3];      /* holdout: train/val/test */
    double val_fraction;      /* k-fold schemes: share of each training set held out (grouped,
                               * stratified) for early stopping and best weights; 0 = none */
    uint64_t cv_seed;
    int use_groups;
    /* [search] */
    int search;               /* SEARCH_*: the mode */
    int random;               /* configurations drawn at random (mode = random, or halving /
                               * hyperband with samples); else the grid's cartesian product */
    int samples;              /* random: configurations per family */
    uint64_t search_seed;
    int min_epochs, max_epochs, eta; /* halving, hyperband: rungs (halving.h); 0 otherwise */
    int metric;               /* SEARCH_METRIC_*: what promotion and pruning compare */
    int prune;                /* SEARCH_PRUNE_*: per-fold pruning within a rung */
    int prune_after;          /* units of a configuration before its pruning decision */
    double prune_alpha;       /* wilcoxon: prune below this one-sided p-value */
    /* families */
    int n_families;
    Family families[JOB_MAX_FAMILIES];
    /* [job] ensemble: families whose selected models the report averages
     * (report.h, "Ensemble over families"); decided before any result */
    int n_ensemble;
    int ensemble[JOB_MAX_FAMILIES]; /* indices into families, in the order given */
    /* [run]: how, not what; not part of any trial's hash */
    int threads;              /* per rank */
    int checkpoint_every;     /* epochs between mid-trial checkpoints; 0 = never */
    int retries;              /* failed trials are retried this many times on a rerun */
    int stall_timeout;        /* seconds a rank waits on a stalled peer before the job stops; 0 = forever */
    char output[1024];        /* default results/<name> */
} Job;

/* The data set family f trains on: its own [family] data, else [data] path. */
const char *job_family_data(const Job *job, int f);

/* Parse and validate a job file. On error returns HIPID_ERR with e holding
 * "FILE:LINE: KEY: expected ..., found ..." and job owning nothing. */
int job_load(Job *job, const char *path, ErrBuf *e);
void job_free(Job *job);

/* 1 if an earlier configuration of fa than c has the same model, batch and
 * optimiser (and micro_batch, if same_micro): its model's shapes and memory
 * were checked already (configurations often differ only in learning rate). */
int job_config_model_seen(const Family *fa, int c, int same_micro);

/* Does configuration h's model build for images of shape `in` with
 * n_classes classes, and fit in memory at its batch with `threads` threads
 * and the copies a trainer keeps (model_check_memory)? HIPID_ERR with the
 * model's one-line reason (a spec token, or the layer and bytes) in e. */
int job_check_model(const HParams *h, Shape in, int n_classes, int threads, ErrBuf *e);

/* One unit of work. */
typedef struct {
    int id;              /* index in the plan */
    int family, config;  /* into job->families[family].configs[config] */
    int repeat;          /* CV repeat (holdout: the repeat's own split) */
    int outer;           /* test fold (holdout: 0) */
    int inner;           /* nested: inner test fold, -1 for the outer trial */
    uint64_t seed;       /* training seed */
    uint64_t hash;       /* of everything that determines the result (job_trial_key) */
} Trial;

/* Expand into trials, ordered family, config, repeat, outer, inner (-1
 * last), seed; data_checksum (dataset_identity of the data set, 0 when not
 * known yet) enters every hash, but for a family with its own data set,
 * whose data_checksum does (or, while that is 0, a stand-in made from its
 * path). *trials is malloc'd (caller frees). */
int job_expand(Trial **trials, int *n_trials, const Job *job, uint64_t data_checksum, ErrBuf *e);

/* The canonical text of everything that determines trial t's result (data
 * checksum, CV design, fold, seed, hyperparameters; never [run] keys);
 * job_expand hashes it (FNV-1a 64) into t->hash. */
void job_trial_key(char *buf, size_t cap, const Job *job, const Trial *t, uint64_t data_checksum);

/* Short human label, e.g. "cnn c2 r0 f3 i1 s1". */
void job_trial_label(char *buf, size_t cap, const Job *job, const Trial *t);

#endif
