/* trialfile.h: the per-trial result file of a sweep and the sweep index.
 *
 * results/<job>/trials/<family>-<hash>.h5, format "hipid-trial" version 1,
 * written to a temporary name and renamed when complete:
 *   attributes  format, format_version, state ("done" | "failed"), reason,
 *               hash (16 hex digits), key (the canonical configuration text),
 *               label, family, config, repeat, outer, inner, seed, attempts,
 *               model (spec), optimizer, lr, momentum, weight_decay, batch,
 *               micro_batch, epochs, patience, augment, balance, standardize,
 *               data (path), data_checksum (hex), image_size, n_classes,
 *               preprocessing, best_epoch, epochs_run, seconds, ranks, threads,
 *               allreduce_seconds (time in group collectives, leader),
 *               test_acc, test_loss, val_acc, val_loss
 *   class_names              string [K]
 *   indices/train|val|test   int32 [n]      data-set row numbers
 *   history/epoch, lr, train_loss, train_acc, val_loss, val_acc, seconds   [E]
 *   predictions/val_index, test_index       int32 [n]
 *   predictions/val_label, test_label       int32 [n]
 *   predictions/val_prob, test_prob         float32 [n,K]  softmax of the best weights
 *   metrics/confusion        int32 [K,K]    test, rows = true class
 *   weights/best, weights/last              model_write_h5 groups
 * A failed trial keeps the attributes (state "failed", reason) and no
 * weights.
 *
 * The sweep index results/<job>/sweep.h5 ("hipid-sweep" version 1) holds one
 * row per planned trial (see trialfile_write_index) and can be rebuilt from
 * the trial files at any time. */
#ifndef HIPID_TRIALFILE_H
#define HIPID_TRIALFILE_H

#include <stdint.h>

#include "hipid/base/common.h"

#define TRIAL_FORMAT "hipid-trial"
#define TRIAL_FORMAT_VERSION 1
#define SWEEP_FORMAT "hipid-sweep"
#define SWEEP_FORMAT_VERSION 1

enum { TRIAL_TODO = 0, TRIAL_PARTIAL, TRIAL_DONE, TRIAL_FAILED, TRIAL_BAD };

/* What the index keeps of a trial. */
typedef struct {
    int state;             /* TRIAL_*; TRIAL_BAD: the file is unreadable (truncated) */
    int attempts, best_epoch, epochs_run, ranks;
    double test_acc, test_loss, val_acc, val_loss, seconds;
    char reason[512];
} TrialSummary;

/* Read a trial file's summary and check that it belongs to `hash`. A missing
 * file is TRIAL_TODO; an unreadable one or one of another hash TRIAL_BAD with
 * the reason filled. Never fails. */
void trialfile_summary(TrialSummary *s, const char *path, uint64_t hash);

#endif
