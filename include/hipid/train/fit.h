/* fit.h: one model on one data set file, as `hipid train` runs it: the
 * training, validation and (optional) test images from a stored split
 * (`hipid split`: its hold-out parts, or fold F of repeat R of a k-fold) or a
 * fresh stratified, group-aware hold-out carve; then train_run on one rank
 * and the test part scored.
 *
 * With a state file (FitOpts.state) the run survives a kill: every
 * state_every epochs, and when *stop turns nonzero between two steps, the
 * trainer's whole state goes to that file (trainer_save_state: weights,
 * optimiser moments, progress within the epoch); a run that finds the file
 * continues from it and ends with the weights an uninterrupted run ends
 * with, bit for bit at the same thread count. The file's key (fit_state_key)
 * holds everything that decides those weights, so a file of other options,
 * data, split or --init checkpoint is refused rather than continued.
 * Does not do: MPI, signals (the caller owns *stop), printing (per-epoch and
 * resume lines go to cfg.log), saving the model (model_save) or removing
 * the state file after it. */
#ifndef HIPID_FIT_H
#define HIPID_FIT_H

#include <signal.h>
#include <stdint.h>

#include "hipid/base/common.h"
#include "hipid/data/dataset.h"
#include "hipid/nn/model.h"
#include "hipid/train/train.h"

/* A return value besides HIPID_OK and HIPID_ERR: an option does not fit the
 * data (the user's to fix; `hipid train` exits 2). */
#define FIT_ERR_OPTION (-2)
/* fit_train: *stop asked to stop; the state file holds the run so far. */
#define FIT_STOPPED 1

typedef struct {
    const char *data;       /* hipid data set (HDF5) */
    const char *splits;     /* splits.h5 from `hipid split`; NULL: carve val_fraction */
    int fold, repeat;       /* k-fold splits: validate on fold `fold` of repeat `repeat` */
    double val_fraction;    /* without splits: the hold-out's share of each class */
    TrainConfig cfg;        /* cfg.trial is replaced by FitData.trial */
    const char *state;      /* the run's state file (continued if present); NULL: none */
    int state_every;        /* epochs between state files; 0: only on a stop */
    volatile sig_atomic_t *stop; /* nonzero: write the state file and stop (with state) */
} FitOpts;

typedef struct {
    Dataset d;
    int *train, *val, *test;      /* indices into d, capacity d.n each, owned */
    int n_train, n_val, n_test;   /* n_test > 0 only with a hold-out splits file */
    uint64_t trial;               /* augmentation key: repeat * 1000 + fold with a splits file, else 0 */
} FitData;

typedef struct {
    EpochStats last;        /* the last epoch's statistics */
    float test_loss, test_acc; /* of the test part, when n_test > 0 */
} FitResult;

/* Load o->data, check that o->cfg.model builds for it, and pick the images.
 * HIPID_ERR when a file cannot be read or the hold-out cannot be carved;
 * FIT_ERR_OPTION when the model spec is invalid or fold/repeat is not in the
 * splits file. e names the file or the option. On error f owns nothing. */
int fit_data_load(FitData *f, const FitOpts *o, ErrBuf *e);
void fit_data_free(FitData *f); /* a zeroed FitData is a no-op */

/* Train o->cfg (with trial f->trial) on f's training images, validated on
 * its validation images, and score the test images; continue from o->state
 * if that file exists. *m gets the trained model (caller frees; NULL
 * otherwise). FIT_ERR_OPTION when the batch is larger than the training
 * set, FIT_STOPPED when *stop ended the run (its state written), HIPID_ERR
 * when training fails or the state file cannot be continued (e names it). */
int fit_train(Model **m, FitResult *r, const FitData *f, const FitOpts *o, ErrBuf *e);

/* The key a state file of this run carries: the data set's identity, the
 * training and validation images, the --init weights (SHA-256 of their
 * tensors) and every option that changes the weights (not the thread count,
 * the log or the state file's own settings). */
void fit_state_key(char *buf, size_t cap, const FitData *f, const FitOpts *o);

#endif
