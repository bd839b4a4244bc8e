/* split.h: deterministic data splits shared by every model of a run.
 *
 * All splitters are pure functions of (labels, groups, n, n_classes, k, seed,
 * repeat): no global state, no MPI, no I/O. They write plain assignments a
 * caller can store and compare:
 *   fold_of[i]        in [0,k): the test fold of image i (k-fold schemes)
 *   inner_fold_of[i]  in [0,inner_k), or -1 where image i is not in that outer
 *                     training set (nested)
 *   part[i]           SPLIT_TRAIN, SPLIT_VAL or SPLIT_TEST (hold-out)
 * Groups (patients, near-duplicate clusters: images sharing a group) never
 * straddle a split. groups may be NULL (every image its own group) everywhere
 * except in split_holdout. Group ids need only be >= 0, not dense; labels must
 * be in [0,n_classes). dataset_load guarantees both; a violation aborts.
 *
 * A class with fewer images (or, group-aware, fewer groups) than the split
 * needs is bad input: HIPID_ERR with a message in e naming the class
 * (class_names may be NULL: classes are then named by index).
 *
 * The file layer (split_save / split_load, "splits.h5") stores the
 * assignments so that every model of a study sees exactly the same folds;
 * see docs/splits.md for the layout.
 */
#ifndef HIPID_SPLIT_H
#define HIPID_SPLIT_H

#include <stdint.h>

#include "hipid/base/common.h"

#define SPLIT_FORMAT "hipid-splits"
#define SPLIT_FORMAT_VERSION 1

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2 };

/* Stratified, group-aware hold-out: whole groups are assigned to the validation
 * part, class by class (a group counts towards its first image's label), until
 * each class has about frac of its images there. Writes the indices into
 * train_idx/val_idx (each capacity n) and their counts. Fails, naming the
 * class, if a class would be left with no training image. */
int split_holdout(int *train_idx, int *n_train, int *val_idx, int *n_val,
                  const int32_t *labels, const int32_t *groups, int n, int n_classes,
                  double frac, uint64_t seed, char *const *class_names, ErrBuf *e);

/* Stratified k-fold, ignoring groups (sklearn's StratifiedKFold with shuffle):
 * each class's members are shuffled with the stream (seed, repeat, class) and
 * dealt round-robin, so each class has floor or ceil(n_c/k) images in every
 * test fold and fold sizes differ by at most one. Fails if a class has fewer
 * than k images. */
int split_stratified_kfold(int *fold_of, const int32_t *labels, int n, int n_classes, int k,
                           uint64_t seed, uint64_t repeat, char *const *class_names, ErrBuf *e);

/* Stratified group k-fold: the greedy of sklearn's StratifiedGroupKFold.
 * Groups are shuffled with (seed, repeat), stably sorted by decreasing
 * standard deviation of their class counts, and each is put in the fold that
 * minimises the mean over classes of the standard deviation over folds of
 * (class count in fold / class total); ties go to the fold with fewer images,
 * then the lower index. No group is in two folds. Fails if a class occurs in
 * fewer than k groups, or if some training set (all folds but one) would lack
 * a class. Classes with no image at all also fail. */
int split_group_kfold(int *fold_of, const int32_t *labels, const int32_t *groups, int n,
                      int n_classes, int k, uint64_t seed, uint64_t repeat,
                      char *const *class_names, ErrBuf *e);

/* As split_group_kfold, but groups enter the stable sort in increasing id
 * order instead of shuffled: fold for fold what sklearn's
 * StratifiedGroupKFold(shuffle=False) returns. For tests and comparisons. */
int split_group_kfold_unshuffled(int *fold_of, const int32_t *labels, const int32_t *groups,
                                 int n, int n_classes, int k, char *const *class_names, ErrBuf *e);

/* 1 if groups is non-NULL and some group holds two or more images. */
int split_has_groups(const int32_t *groups, int n);

/* The k-fold every scheme builds on: split_group_kfold when split_has_groups,
 * otherwise split_stratified_kfold (whose per-class guarantee is exact). */
int split_kfold(int *fold_of, const int32_t *labels, const int32_t *groups, int n, int n_classes,
                int k, uint64_t seed, uint64_t repeat, char *const *class_names, ErrBuf *e);

/* Nested cross-validation: fold_of (n) as split_kfold(k); then for each outer
 * fold o, inner_fold_of[o*n + i] (k x n) is an inner split_kfold(inner_k) of
 * the outer training set {i : fold_of[i] != o}, and -1 for o's test images.
 * Inner streams are keyed by (seed, repeat, o). Errors name the class and, for
 * an inner split, the outer fold. */
int split_nested(int *fold_of, int *inner_fold_of, const int32_t *labels, const int32_t *groups,
                 int n, int n_classes, int k, int inner_k, uint64_t seed, uint64_t repeat,
                 char *const *class_names, ErrBuf *e);

/* Fixed stratified hold-out into train/val/test with fractions frac[3]
 * (non-negative, summing to 1 within 1e-6). Without groups (split_has_groups
 * false), each class is shuffled and cut by largest remainders: every part
 * holds frac[p]*n_c images of class c within one. With groups, whole groups
 * are taken largest first (shuffled within a size) and each goes to the part
 * that most reduces sum over classes and parts of
 * ((count - frac*n_c) / n_c)^2, which keeps every class within about one
 * group of its target. Fails if a class would get no training image, or none
 * in a part with a positive fraction. part: (n) */
int split_holdout3(int8_t *part, const int32_t *labels, const int32_t *groups, int n,
                   int n_classes, const double frac[3], uint64_t seed, char *const *class_names,
                   ErrBuf *e);

/* Indices of a fold's training and test images: test = {i : assign[i] == fold},
 * train = {i : assign[i] >= 0 && assign[i] != fold} (so an inner_fold_of row
 * works too). Either output may be NULL. Capacities n. */
void split_fold_indices(int *train_idx, int *n_train, int *test_idx, int *n_test,
                        const int *assign, int n, int fold);

/* Indices {i : part[i] == which}; returns their count. Capacity n. */
int split_part_indices(int *idx, const int8_t *part, int n, int which);

/* FNV-1a 64 over n, labels and groups, each as little-endian int32 (groups
 * NULL hashes as groups[i] = i). Stored in splits.h5 to detect a mismatched
 * data set. */
uint64_t split_data_checksum(const int32_t *labels, const int32_t *groups, int n);

/* The contents of a splits.h5 file. Arrays are owned; split_free releases
 * them (and is a no-op on a zeroed Splits). */
typedef struct {
    char scheme[16];        /* "kfold", "repeated", "group", "nested" or "holdout" */
    int n, n_classes;
    int k, repeats, inner_k; /* k = 0 and repeats = 1 for holdout; inner_k = 0 unless nested */
    int grouped;            /* 1 if the splits keep groups whole */
    uint64_t seed;
    double fractions[3];    /* holdout only */
    uint64_t data_checksum; /* split_data_checksum of the data set */
    char data_path[1024];   /* the data set the splits were made from, as given */
    int *fold_of;           /* (repeats, n); NULL for holdout */
    int *inner_fold_of;     /* (repeats, k, n); nested only, else NULL */
    int8_t *part;           /* (n); holdout only, else NULL */
} Splits;

/* Build the splits of scheme s->scheme for a data set, from the parameters
 * the caller set in s (scheme, k, repeats, inner_k, seed, fractions,
 * data_path). Repeat r uses stream index r. use_groups 0 treats every image as
 * its own group (groups still enter the checksum). "kfold", "repeated",
 * "nested" and "holdout" keep groups whole when the data set has any (see
 * split_kfold); "group" always runs split_group_kfold. "kfold" makes one
 * repeat; "repeated", "group" and "nested" make s->repeats. Fills n, n_classes,
 * grouped, data_checksum and allocates the arrays; on error s owns nothing. */
int split_make(Splits *s, const int32_t *labels, const int32_t *groups, int n, int n_classes,
               int use_groups, char *const *class_names, ErrBuf *e);

/* Write s to path (via path.tmp and a rename). */
int split_save(const Splits *s, const char *path, ErrBuf *e);

/* Read path and validate it against the data set (labels, groups, n): format
 * and version, shapes, value ranges, that inner folds are -1 exactly on the
 * outer test fold, that no group straddles a split when grouped, and that
 * the data checksum matches. Messages name the file and what differs. */
int split_load(Splits *s, const char *path, const int32_t *labels, const int32_t *groups, int n,
               ErrBuf *e);

void split_free(Splits *s);

#endif
