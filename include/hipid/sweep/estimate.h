/* estimate.h: how much work and memory a job's sweep needs, without training
 * it: one optimiser step per family is timed on this machine, trials are
 * counted from the plan, a model of each configuration is built to count its
 * bytes. Shared by `hipid sweep --dry-run` (which adds a measured allreduce
 * bandwidth) and `hipid slurm` (which sizes a batch job from it). No MPI. */
#ifndef HIPID_ESTIMATE_H
#define HIPID_ESTIMATE_H

#include <stddef.h>

#include "hipid/sweep/job.h"

/* What the estimates need to know about the job's data. */
typedef struct {
    int size, n_classes; /* images are size x size, n_classes labels */
    double n_images;
    int from_file;       /* 1: read from the data set; 0: assumed from [data] synth (or its defaults) */
} EstData;

/* One family's share of the work. */
typedef struct {
    int n_trials;        /* of this family in the plan */
    int rpt, groups;     /* ranks per trial (at most the ranks), trials trained at once */
    size_t n_params;     /* of config 0's model; 0 if it could not be built */
    double step;         /* s, one optimiser step of config 0 on one rank (NaN if not built) */
    double bytes;        /* of the fixed-point gradient block the allreduce sums */
    double comm;         /* s of allreduce per step (0 with one rank per trial) */
    double per_trial;    /* s, one trial on rpt ranks */
} EstFamily;

typedef struct {
    int n_units;         /* CV units per configuration and seed */
    double n_train;      /* training images of a trial (after test and validation parts) */
    EstFamily fam[JOB_MAX_FAMILIES];
    double total;        /* s of wall time for the whole plan on the given ranks */
} Estimate;

/* Bytes one rank holds while training (the largest over every family and
 * configuration), by part. */
typedef struct {
    double model;        /* parameters, gradients, buffers, activations and scratch for the batch */
    double optim;        /* optimiser moments (Adam/AdamW: 2, SGD: 1 per parameter) */
    double best;         /* the best-so-far copy of parameters and buffers */
    double fixed;        /* the 64-bit fixed-point accumulator of micro-batched steps */
    double batch;        /* the batch as float input */
    double data;         /* the whole data set (every rank loads it), uint8 images */
    double total;        /* sum of the above */
    char which[96];      /* "family F config C (model M, batch B)" of the largest */
} EstMemory;

/* The data's size, classes and images: the data set's header when the file
 * at j->data exists (reads attributes only), else [data] synth's recipe
 * (defaults: size 64, 6 classes, 80 per class). Errors name the file. */
int estimate_data(EstData *d, const Job *j, ErrBuf *e);

/* A number of a [data] synth recipe "k=v,k=v", or dflt when absent. */
int estimate_synth_value(const char *synth, const char *key, int dflt);

/* Seconds of one optimiser step of config 0 of family f on one rank with
 * `threads` threads (forward and backward of every micro-batch, timed for at
 * least 0.3 s after a warm-up); *n_params gets the model's size. NaN if the
 * model cannot be built. */
double estimate_time_step(const Job *j, int f, const EstData *d, int threads, size_t *n_params);

/* Time every family's step and estimate the plan's wall time on `ranks`
 * ranks. bw: measured allreduce bandwidth in bytes/s, 0 = not measured
 * (2 GB/s assumed). Trials of a family run ranks_per_trial ranks each (at
 * most `ranks`), ceil(ranks / rpt) at once; est->total is the sum over
 * families of per_trial * n_trials / groups. */
void estimate_work(Estimate *est, const Job *j, const EstData *d, const Trial *plan, int n_plan, int ranks,
                   int threads, double bw);

/* Build every configuration's model (for the batch) and count the bytes a
 * rank needs; the largest configuration wins. HIPID_ERR if no model can be
 * built (e names it). */
int estimate_memory(EstMemory *m, const Job *j, const EstData *d, int threads, ErrBuf *e);

#endif
