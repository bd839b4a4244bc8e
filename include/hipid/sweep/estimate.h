/* estimate.h: how much work and memory a job's sweep needs, without training
 * it: one optimiser step per family is timed on this machine, trials are
 * counted from the plan, a model of each configuration is built to count its
 * bytes. Shared by `hipid sweep --dry-run` (which adds a measured allreduce
 * bandwidth) and `hipid slurm` (which sizes a batch job from it). No MPI. */
#ifndef HIPID_ESTIMATE_H
#define HIPID_ESTIMATE_H

#include <stddef.h>
#include <stdio.h>

#include "hipid/sweep/job.h"

/* What the estimates need to know about the job's data. */
typedef struct {
    int size, n_classes; /* images are size x size, n_classes labels */
    double n_images;
    int from_file;       /* 1: read from the data set; 0: assumed from [data] synth (or its defaults) */
} EstData;

/* The network between the ranks of a group, for the cost of a step's
 * collectives. An allreduce of B bytes over p ranks is costed as a ring:
 * 2(p-1)/p * B / bandwidth + 2(p-1) * latency (Open MPI's choice for large
 * blocks; for p = 2 every algorithm moves B each way). */
typedef enum { EST_LINK_ASSUMED, EST_LINK_MEASURED, EST_LINK_STATED } EstLinkSource;
typedef struct {
    double gbit;         /* bandwidth per direction, Gbit/s */
    double us;           /* latency per message, microseconds */
    EstLinkSource source;
} EstLink;
/* Without a measurement or --link-gbit/--link-us: one node's shared memory. */
#define EST_LINK_DEFAULT ((EstLink){16.0, 2.0, EST_LINK_ASSUMED})

/* Seconds of one allreduce of `bytes` over p ranks on link l (0 for p 1). */
double estimate_allreduce(double bytes, int p, const EstLink *l);

/* Data-parallel step costs are tabled for these group sizes. */
#define EST_N_DP 4
extern const int estimate_dp_ranks[EST_N_DP]; /* 1, 2, 4, 8 */

/* One family's share of the work. */
typedef struct {
    int n_trials;        /* of this family in the plan */
    int rpt, groups;     /* ranks per trial (at most the ranks), trials trained at once */
    size_t n_params;     /* of config 0's model; 0 if it could not be built */
    double step;         /* s, one optimiser step of config 0 on one rank (NaN if not built) */
    double bytes;        /* sent into a step's collectives by each rank: the gradient block as
                          * fixed32 (4 bytes a parameter) or fixed64 (8), the 64-bit running
                          * statistics and loss, fixed32's per-tensor maxima */
    double comm;         /* s of collectives per step at rpt ranks (0 with one rank per trial) */
    double per_trial;    /* s, one trial on rpt ranks */
    double dp_step[EST_N_DP]; /* s per step at estimate_dp_ranks[i] ranks per trial */
    double dp_eff[EST_N_DP];  /* step(1) / (p * step(p)): parallel efficiency */
} EstFamily;

typedef struct {
    int n_units;         /* CV units per configuration and seed */
    EstFamily fam[JOB_MAX_FAMILIES];
    double total;        /* s of wall time for the whole plan on the given ranks */
} Estimate;

/* Bytes one rank holds while training (the largest over every family and
 * configuration), by part. */
typedef struct {
    double model;        /* parameters, gradients, buffers, activations and scratch for the batch */
    double optim;        /* optimiser moments (Adam/AdamW: 2, SGD: 1 per parameter) */
    double best;         /* the best-so-far copy of parameters and buffers */
    double fixed;        /* micro-batched steps: fixed64's 64-bit accumulator, or fixed32's
                          * stored micro-batch gradients and 32-bit accumulator */
    double batch;        /* the batch as float input */
    double data;         /* the whole data set, and each family's own (every rank loads them), uint8 images */
    double total;        /* sum of the above */
    char which[96];      /* "family F config C (model M, batch B)" of the largest */
} EstMemory;

/* The data's size, classes and images: the data set's header when the file
 * at j->data exists (reads attributes only), else [data] synth's recipe
 * (defaults: size 64, 6 classes, 80 per class). Errors name the file. */
int estimate_data(EstData *d, const Job *j, ErrBuf *e);

/* A number of a [data] synth recipe "k=v,k=v", or dflt when absent. */
int estimate_synth_value(const char *synth, const char *key, int dflt);

/* The sizes of a model that the step's collectives move. */
typedef struct {
    size_t n_params, n_buffers;
    int n_tensors;       /* parameter tensors (fixed32 reduces one maximum each) */
} EstModelSize;

/* Seconds of one optimiser step of config 0 of family f on one rank with
 * `threads` threads (forward and backward of every micro-batch, timed for at
 * least 0.3 s after a warm-up); *sz gets the model's sizes. NaN if the
 * model cannot be built. */
double estimate_time_step(const Job *j, int f, const EstData *d, int threads, EstModelSize *sz);

/* Seconds of one step of a family at p ranks per trial: each rank computes
 * ceil(S / p) of the S micro-batches (step1 is all S on one rank), then the
 * collectives of train.c on link l: the gradient sum (fixed32 adds a max-
 * reduction of one float per tensor), the 64-bit statistics and the two
 * leader broadcasts. *bytes (may be NULL) gets the bytes each rank sends in. */
double estimate_dp_step(const HParams *h, const EstModelSize *sz, double step1, int p, const EstLink *l,
                        double *bytes);

/* Time every family's step and estimate the plan's wall time on `ranks`
 * ranks over link l. Trials of a family run ranks_per_trial ranks each (at
 * most `ranks`), ceil(ranks / rpt) at once; est->total is the sum over
 * families of per_trial * n_trials / groups. */
void estimate_work(Estimate *est, const Job *j, const EstData *d, const Trial *plan, int n_plan, int ranks,
                   int threads, const EstLink *l);

/* The table of each family's step time (config 0) and parallel efficiency
 * at 1, 2, 4 and 8 ranks per trial on link l. */
void estimate_print_dp(FILE *f, const Job *j, const Estimate *est, const EstLink *l);

/* Build every configuration's model (for the batch) and count the bytes a
 * rank needs; the largest configuration wins. HIPID_ERR if no model can be
 * built (e names it). */
int estimate_memory(EstMemory *m, const Job *j, const EstData *d, int threads, ErrBuf *e);

#endif
