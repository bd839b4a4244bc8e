/* sample.h: the order in which a training epoch visits images.
 *
 * Class balancing comes in two forms in hipid: a weighted loss (TrainConfig
 * .balanced, weights n/(K*n_c)) or balanced sampling, here. Both are pure
 * functions of their inputs and (seed, epoch); nothing here knows of MPI.
 */
#ifndef HIPID_SAMPLE_H
#define HIPID_SAMPLE_H

#include <stdint.h>

/* Draw an epoch's sample order (data-set indices) with equal class counts:
 * the n_out slots are shared equally among the classes present in train_idx
 * (the n_out % K' left over go to classes picked at random each epoch), so
 * every class gets floor or ceil(n_out/K') slots and exactly n_out/K' in
 * expectation. A class fills its slots by walking through fresh random
 * permutations of its images (oversampling without replacement): no image
 * repeats before every image of its class has been used, and image counts
 * within a class differ by at most one. The result is shuffled. Keyed by
 * (seed, epoch); depends on train_idx's order. order: (n_out); labels
 * indexed by data-set index, in [0,n_classes). n_train must be > 0 when
 * n_out > 0. */
void sample_balanced_epoch(int *order, int n_out, const int *train_idx, int n_train,
                           const int32_t *labels, int n_classes, uint64_t seed, uint64_t epoch);

#endif
