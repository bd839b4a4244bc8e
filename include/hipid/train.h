/* train.h: train one model on one split of a data set, single process.
 *
 * Batches are drawn from a per-epoch shuffle keyed by (seed, epoch); a whole
 * run is bit-identical for the same seed, data and thread count. Validation
 * is never augmented and uses batch-norm running statistics. */
#ifndef HIPID_TRAIN_H
#define HIPID_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "hipid/augment.h"
#include "hipid/dataset.h"
#include "hipid/model.h"
#include "hipid/optim.h"

enum {
    TRAIN_BALANCE_NONE = 0,
    TRAIN_BALANCE_LOSS,     /* weight the loss by n/(K*n_c), sklearn's "balanced" */
    TRAIN_BALANCE_SAMPLING, /* class-balanced epoch orders (sample.h) */
};

typedef struct {
    const char *model;     /* preset name or spec */
    int epochs, batch, threads;
    OptConfig opt;
    uint64_t seed;
    int balance;           /* TRAIN_BALANCE_*: how to treat class imbalance */
    AugConfig aug;         /* training batches only; all zero = none */
    uint64_t trial;        /* keys augmentation streams with seed and epoch */
    int standardize;       /* inputs (v - mean) / std with training-set statistics */
    FILE *log;             /* per-epoch lines go here; NULL for silence */
} TrainConfig;

typedef struct {
    float train_loss, train_acc, val_loss, val_acc, img_per_s;
} EpochStats;

/* Train a freshly built model on train_idx, evaluating val_idx (may be empty)
 * after each epoch. On success *out_model owns the trained model (caller frees)
 * and last holds the final epoch's statistics. Errors (batch larger than the
 * training set, NaN loss, bad spec) return HIPID_ERR with a message in e. */
int train_run(Model **out_model, EpochStats *last, const Dataset *d, const int *train_idx,
              int n_train, const int *val_idx, int n_val, const TrainConfig *cfg, ErrBuf *e);

/* Loss and accuracy of m on idx (eval mode, batches of m->max_batch). */
void train_evaluate(float *loss, float *acc, Model *m, const Dataset *d, const int *idx, int n,
                    const float *class_w);

#endif
