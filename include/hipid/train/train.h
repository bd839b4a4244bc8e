/* train.h: train one model on one split of a data set, on one rank or on a
 * group of ranks that share each step's batch.
 *
 * Batches are drawn from a per-epoch shuffle keyed by (seed, epoch). A batch
 * of nb samples is cut into fixed micro-batches (micro_batch samples each,
 * the last batch of an epoch into floor(nb / micro_batch) as equal as
 * possible); micro-batches are dealt to the ranks of a group round-robin.
 * Each micro-batch is a forward and backward pass of its own, with batch
 * norm over that micro-batch (ghost batch norm); its gradient, the running
 * statistics it produces and its loss are converted to fixed point and
 * summed exactly across micro-batches and ranks. The sum does not depend on
 * the order or on who computed what, so the same trial ends bit-identical
 * with 1, 2 or 4 ranks (at a fixed thread count per rank). micro_batch 0 is
 * one micro-batch per batch: plain batch norm, float arithmetic, one rank.
 *
 * Gradients go to fixed point in one of two ways (TrainConfig.gradient_sum):
 *   fixed32  each rank keeps its micro-batches' float gradients; a max-
 *            reduction gives every tensor's largest magnitude over all
 *            micro-batches of the step, from which a power-of-two scale
 *            follows (the largest that keeps a sum of every micro-batch
 *            below 2^30); each micro-batch is rounded at that scale to 32
 *            bits and the integers are summed. Half the bytes of fixed64;
 *            the scale depends only on the micro-batches, so the sum is
 *            still independent of the rank count.
 *   fixed64  each micro-batch rounded at the fixed scale 2^40 to 64 bits.
 * Running statistics and losses are always 64-bit (few values).
 *
 * Mixup and cutmix (mix.h) draw per step, from (seed, trial, step), a
 * partner for every position of the global batch; a rank gathers and
 * augments the partners of its own micro-batches, and each loss term gets
 * its share of the batch's class weight, so mixing keeps all of the above.
 *
 * Evaluation runs in fixed chunks dealt round-robin too; each sample's logits
 * come from exactly one rank and are summed with zeros elsewhere (exact).
 * Validation is never augmented and uses batch-norm running statistics.
 *
 * This layer knows no MPI: a TrainComm supplies the group's collectives. */
#ifndef HIPID_TRAIN_H
#define HIPID_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "hipid/train/augment.h"
#include "hipid/train/mix.h"
#include "hipid/train/tta.h"
#include "hipid/data/dataset.h"
#include "hipid/nn/model.h"
#include "hipid/nn/optim.h"

enum {
    TRAIN_BALANCE_NONE = 0,
    TRAIN_BALANCE_LOSS,     /* weight the loss by n/(K*n_c), sklearn's "balanced" */
    TRAIN_BALANCE_SAMPLING, /* class-balanced epoch orders (sample.h) */
};
/* "none", "loss", "sampling", indexed by TRAIN_BALANCE_*, NULL-terminated. */
extern const char *const train_balance_names[];

enum { TRAIN_SUM_FIXED32 = 0, TRAIN_SUM_FIXED64 };
/* "fixed32", "fixed64", indexed by TRAIN_SUM_*, NULL-terminated. */
extern const char *const train_sum_names[];

typedef struct {
    const char *model;     /* preset name or spec */
    int epochs, batch, threads;
    int micro_batch;       /* 0: the whole batch is one micro-batch */
    int gradient_sum;      /* TRAIN_SUM_*: how micro-batch gradients are summed */
    int patience;          /* early stop after this many epochs without a better
                            * validation loss; 0 = run every epoch */
    OptConfig opt;
    uint64_t seed;
    int balance;           /* TRAIN_BALANCE_*: how to treat class imbalance */
    AugConfig aug;         /* training batches only; all zero = none */
    uint64_t trial;        /* keys augmentation streams with seed and epoch */
    int standardize;       /* inputs (v - mean) / std with training-set statistics */
    /* fine-tuning (train_init_from): */
    const Model *init;     /* start from these weights where layers match; NULL: from seed */
    int freeze;            /* the first `freeze` layers (spec tokens) keep their initial
                            * parameters and running statistics */
    float head_lr;         /* the classifier's learning rate (before the schedule); 0: lr */
    float label_smoothing; /* of the training loss (softmax_xent_ls); validation stays plain NLL */
    MixConfig mix;         /* mixup / cutmix of training batches (mix.h); all zero = none */
    FILE *log;             /* per-epoch lines go here; NULL for silence */
} TrainConfig;

typedef struct {
    float train_loss, train_acc, val_loss, val_acc, img_per_s;
} EpochStats;

/* One row of a trial's history. */
typedef struct {
    int epoch;             /* 1-based */
    float lr, train_loss, train_acc, val_loss, val_acc;
    double seconds;        /* wall time of the epoch on this rank (not reproducible) */
} EpochRecord;

/* The collectives of a group of ranks training one trial together. All
 * members call them in the same order. NULL members / a NULL TrainComm mean
 * a group of one. */
typedef struct {
    int rank, size;
    void *ctx;
    void (*sum_i64)(void *ctx, int64_t *v, long n);   /* in place, exact */
    void (*sum_i32)(void *ctx, int32_t *v, long n);   /* in place, exact */
    void (*max_f32)(void *ctx, float *v, long n);     /* in place, exact */
    void (*sum_f32)(void *ctx, float *v, long n);     /* in place */
    int (*leader_flag)(void *ctx, int flag);          /* the leader's flag, on every rank */
} TrainComm;

enum { TRAIN_DONE = 0, TRAIN_STOPPED = 1 };

typedef struct Trainer Trainer;
/* Called between steps on every rank; returns nonzero to ask for a stop
 * (only the leader's answer counts). */
typedef int (*TrainPoll)(void *ctx);
/* Called on every rank after each epoch with epoch % every == 0 and when a
 * stop was asked; the callee writes the checkpoint (leader) or nothing. */
typedef int (*TrainCheckpoint)(void *ctx, const Trainer *t, ErrBuf *e);

struct Trainer {
    TrainConfig cfg;
    const Dataset *d;
    int *train_idx, n_train, *val_idx, n_val;  /* owned copies */
    Model *m;
    Optim *opt;
    float *class_w;        /* (K) or NULL */
    /* progress: epoch (0-based) and the start of the next batch within it */
    int epoch, pos;
    uint64_t step;         /* optimiser steps taken */
    int64_t ep_loss_fx;    /* partial sums of the current epoch (fixed point) */
    int64_t ep_correct, ep_seen;
    double ep_seconds;
    /* early stopping */
    double best_val_loss;
    int best_epoch, bad_epochs, stopped_early;
    float *best_params, *best_buffers;
    /* fine-tuning: buffers [0, n_frozen_buf) are put back after every step */
    long n_frozen_buf;
    float *frozen_buf;
    /* successive halving: stop after this many epochs (a rung) as if asked to
     * pause, with TRAIN_DONE; the caller checkpoints and continues later; 0 = never */
    int pause_at;
    /* history */
    int n_hist;
    EpochRecord *hist;     /* (cfg.epochs) */
};

/* Copy into dst every tensor of the layers that src has at the same position
 * with the same token and tensor shapes (a classifier for another number of
 * classes does not match and keeps dst's initialisation). Returns the number
 * of layers with parameters copied; -1 (e filled) if the input shapes differ
 * or no layer with parameters matches. `what` names src in messages. */
int train_init_from(Model *dst, const Model *src, const char *what, ErrBuf *e);

/* Build the model (seeded, then cfg->init's weights where they match),
 * standardisation statistics and optimiser (cfg->freeze, cfg->head_lr as
 * parameter groups) for a trial on train_idx, validated on val_idx (may be
 * empty). */
Trainer *trainer_create(const TrainConfig *cfg, const Dataset *d, const int *train_idx, int n_train,
                        const int *val_idx, int n_val, ErrBuf *e);
void trainer_free(Trainer *t);

/* Train until cfg.epochs are done or early stopping ends the run
 * (TRAIN_DONE), or poll asked to stop (TRAIN_STOPPED, after a checkpoint).
 * A NaN/infinite loss or a gradient beyond fixed-point range is an error
 * (HIPID_ERR, e says where). poll and ckpt may be NULL. */
int trainer_run(Trainer *t, const TrainComm *c, TrainPoll poll, TrainCheckpoint ckpt, void *ctx,
                int checkpoint_every, ErrBuf *e);

/* Logits (n,K) of model m for images idx[0..n), eval mode under test-time
 * augmentation tta (TTA_*, tta.h), computed in chunks of `chunk` images
 * dealt round-robin over the group; the same on every rank afterwards. */
void train_logits(float *logits, Model *m, const Dataset *d, const int *idx, int n, int chunk, int tta,
                  const TrainComm *c);
/* Mean (class_w-weighted) cross-entropy and accuracy from logits (n,K). */
void train_score(float *loss, float *acc, const float *logits, const int32_t *labels, const int *idx,
                 int n, int K, const float *class_w);

/* The last finished epoch's losses, accuracies and images/s (zeros before
 * the first). */
void trainer_last_stats(const Trainer *t, EpochStats *last);

/* Put the best (lowest validation loss) weights into t->m; a no-op without a
 * validation set, where the last weights count as the best. */
void trainer_use_best(Trainer *t);

/* Mid-trial checkpoints: everything needed to continue bit-identically
 * (weights, optimiser moments, progress, early-stopping state, history).
 * trainer_load_state checks that the file belongs to this trial (same
 * parameter count and `key`). Written via PATH.tmp and a rename. */
int trainer_save_state(const Trainer *t, const char *path, const char *key, ErrBuf *e);
int trainer_load_state(Trainer *t, const char *path, const char *key, ErrBuf *e);

/* Single rank, whole-batch convenience for tests: train and return the
 * model (caller frees) and the last epoch's statistics. (`hipid train`, which
 * can also continue a run, is fit.h.) */
int train_run(Model **out_model, EpochStats *last, const Dataset *d, const int *train_idx,
              int n_train, const int *val_idx, int n_val, const TrainConfig *cfg, ErrBuf *e);

/* Loss and accuracy of m on idx (eval mode, batches of m->max_batch). */
void train_evaluate(float *loss, float *acc, Model *m, const Dataset *d, const int *idx, int n,
                    const float *class_w);

#endif
