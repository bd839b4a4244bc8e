/* split.h: deterministic data splits shared by every model of a run.
 *
 * All splitters take labels (n) and groups (n) (images of one group never
 * straddle a split), are deterministic from a seed, and know nothing of MPI. */
#ifndef HIPID_SPLIT_H
#define HIPID_SPLIT_H

#include <stdint.h>

#include "hipid/common.h"

/* Stratified, group-aware hold-out: whole groups are assigned to the validation
 * part, class by class (a group counts towards its first image's label), until
 * each class has about frac of its images there. Writes the indices into
 * train_idx/val_idx (each capacity n) and their counts. Fails, naming the
 * class, if a class would be left with no training image. */
int split_holdout(int *train_idx, int *n_train, int *val_idx, int *n_val,
                  const int32_t *labels, const int32_t *groups, int n, int n_classes,
                  double frac, uint64_t seed, char *const *class_names, ErrBuf *e);

#endif
