/* split.c: stratified, group-aware splits. See split.h. */
#include "hipid/data/split.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/h5util.h"
#include "hipid/base/rng.h"

int split_holdout(int *train_idx, int *n_train, int *val_idx, int *n_val,
                  const int32_t *labels, const int32_t *groups, int n, int n_classes,
                  double frac, uint64_t seed, char *const *class_names, ErrBuf *e) {
    /* map each group to its first image's label and its size */
    int max_g = 0;
    for (int i = 0; i < n; i++) max_g = groups[i] > max_g ? groups[i] : max_g;
    int n_g = max_g + 1;
    int *g_label = xmalloc(sizeof(int) * n_g), *g_size = xcalloc(n_g, sizeof(int));
    int *in_val = xcalloc(n_g, sizeof(int)), *order = xmalloc(sizeof(int) * n_g);
    int *c_count = xcalloc(n_classes, sizeof(int)), *c_val = xcalloc(n_classes, sizeof(int));
    int rc = HIPID_OK;
    for (int g = 0; g < n_g; g++) g_label[g] = -1;
    for (int i = 0; i < n; i++) {
        int g = groups[i];
        if (g_label[g] < 0) g_label[g] = labels[i];
        g_size[g]++;
        c_count[labels[i]]++;
    }
    for (int g = 0; g < n_g; g++) order[g] = g;
    Rng r = rng_stream(seed, 0x5B17u, 0, 0);
    rng_shuffle(&r, order, n_g);
    for (int c = 0; c < n_classes; c++) {
        int target = (int)lround(frac * c_count[c]);
        for (int j = 0; j < n_g && c_val[c] < target; j++) {
            int g = order[j];
            if (g_label[g] != c || in_val[g]) continue;
            if (c_val[c] + g_size[g] > target && c_val[c] > 0) continue;
            in_val[g] = 1;
            c_val[c] += g_size[g];
        }
    }
    /* count training images per class over all images: a group mixing labels
     * counts towards its first label only, so c_val alone can miss that it
     * took a class's last training image */
    memset(c_val, 0, sizeof(int) * n_classes);
    for (int i = 0; i < n; i++) c_val[labels[i]] += !in_val[groups[i]];
    for (int c = 0; c < n_classes; c++)
        if (c_count[c] > 0 && c_val[c] == 0 && frac < 1.0) {
            rc = hipid_err(e, "class '%s' has %d image(s) in %s: too few to hold out %.0f%% and keep "
                              "some for training", class_names ? class_names[c] : "?", c_count[c],
                           "its groups", 100.0 * frac);
            goto done;
        }
    *n_train = *n_val = 0;
    for (int i = 0; i < n; i++) {
        if (in_val[groups[i]]) val_idx[(*n_val)++] = i;
        else train_idx[(*n_train)++] = i;
    }
done:
    free(g_label);
    free(g_size);
    free(in_val);
    free(order);
    free(c_count);
    free(c_val);
    return rc;
}

/* ---- helpers ---- */

/* Stream tags: keep every splitter's randomness apart from the others'. */
enum { TAG_SKFOLD = 0x5B18u, TAG_GKFOLD = 0x5B19u, TAG_NESTED = 0x5B1Au, TAG_HOLDOUT3 = 0x5B1Bu };

static const char *class_name(char *const *names, int c, char *buf, size_t cap) {
    if (names && names[c]) return names[c];
    snprintf(buf, cap, "%d", c);
    return buf;
}

/* Map groups to dense ids in increasing order of the original id (NULL: one
 * group per image). gid: (n). Returns the number of groups. */
static int compact_groups(int *gid, const int32_t *groups, int n) {
    if (!groups) {
        for (int i = 0; i < n; i++) gid[i] = i;
        return n;
    }
    int32_t max_g = -1;
    for (int i = 0; i < n; i++) {
        HIPID_CHECK(groups[i] >= 0);
        if (groups[i] > max_g) max_g = groups[i];
    }
    int *map = xmalloc(sizeof(int) * (size_t)(max_g + 1));
    for (int32_t g = 0; g <= max_g; g++) map[g] = -1;
    for (int i = 0; i < n; i++) map[groups[i]] = 0;
    int n_g = 0;
    for (int32_t g = 0; g <= max_g; g++)
        if (map[g] == 0) map[g] = n_g++;
    for (int i = 0; i < n; i++) gid[i] = map[groups[i]];
    free(map);
    return n_g;
}

int split_has_groups(const int32_t *groups, int n) {
    if (!groups || n < 2) return 0;
    int *gid = xmalloc(sizeof(int) * (size_t)n);
    int n_g = compact_groups(gid, groups, n);
    free(gid);
    return n_g < n;
}

static void check_labels(const int32_t *labels, int n, int n_classes) {
    for (int i = 0; i < n; i++) HIPID_CHECK(labels[i] >= 0 && labels[i] < n_classes);
}

/* ---- stratified k-fold ---- */

int split_stratified_kfold(int *fold_of, const int32_t *labels, int n, int n_classes, int k,
                           uint64_t seed, uint64_t repeat, char *const *class_names, ErrBuf *e) {
    char nb[16];
    if (k < 2) return hipid_err(e, "k-fold needs k >= 2 folds, found %d", k);
    check_labels(labels, n, n_classes);
    int *count = xcalloc(n_classes, sizeof(int)), *start = xcalloc(n_classes + 1, sizeof(int));
    int *members = xmalloc(sizeof(int) * (size_t)(n ? n : 1)), *fill = xcalloc(n_classes, sizeof(int));
    int rc = HIPID_OK;
    for (int i = 0; i < n; i++) count[labels[i]]++;
    for (int c = 0; c < n_classes; c++)
        if (count[c] < k) {
            rc = hipid_err(e, "class '%s' has %d image(s), fewer than the %d folds; use fewer folds "
                              "or more images of it", class_name(class_names, c, nb, sizeof nb),
                           count[c], k);
            goto done;
        }
    for (int c = 0; c < n_classes; c++) start[c + 1] = start[c] + count[c];
    for (int i = 0; i < n; i++) members[start[labels[i]] + fill[labels[i]]++] = i;
    /* deal each shuffled class round-robin, continuing where the previous class
     * stopped, so fold sizes differ by at most one as well */
    int offset = 0;
    for (int c = 0; c < n_classes; c++) {
        Rng r = rng_stream(seed, TAG_SKFOLD, repeat, (uint64_t)c);
        rng_shuffle(&r, members + start[c], count[c]);
        for (int j = 0; j < count[c]; j++) fold_of[members[start[c] + j]] = (offset + j) % k;
        offset = (offset + count[c]) % k;
    }
done:
    free(count);
    free(start);
    free(members);
    free(fill);
    return rc;
}

/* ---- stratified group k-fold ---- */

typedef struct {
    double key; /* minus the std of the group's class counts */
    int pos;    /* position after the shuffle: makes the sort stable */
    int g;
} GroupKey;

static int cmp_group_key(const void *a, const void *b) {
    const GroupKey *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Population standard deviation summed the way numpy does for short rows
 * (sequentially), so that ties and orderings agree with sklearn's. */
static double std_seq(const double *x, int n, int stride) {
    double s = 0.0, v = 0.0;
    for (int i = 0; i < n; i++) s += x[(long)i * stride];
    double mean = s / n;
    for (int i = 0; i < n; i++) {
        double d = x[(long)i * stride] - mean;
        v += d * d;
    }
    return sqrt(v / n);
}

static int group_kfold_core(int *fold_of, const int32_t *labels, const int32_t *groups, int n,
                            int n_classes, int k, int shuffle, uint64_t seed, uint64_t repeat,
                            char *const *class_names, ErrBuf *e) {
    char nb[16];
    int K = n_classes, rc = HIPID_OK;
    if (k < 2) return hipid_err(e, "k-fold needs k >= 2 folds, found %d", k);
    check_labels(labels, n, n_classes);
    int *gid = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    int n_g = compact_groups(gid, groups, n);
    double *gcnt = xcalloc((size_t)n_g * K, sizeof(double));
    double *fcnt = xcalloc((size_t)k * K, sizeof(double)), *prop = xmalloc(sizeof(double) * k * K);
    double *y_cnt = xcalloc(K, sizeof(double)), *f_size = xcalloc(k, sizeof(double));
    int *n_groups_c = xcalloc(K, sizeof(int)), *g_fold = xmalloc(sizeof(int) * (size_t)(n_g ? n_g : 1));
    GroupKey *keys = xmalloc(sizeof(GroupKey) * (size_t)(n_g ? n_g : 1));
    for (int i = 0; i < n; i++) {
        gcnt[(long)gid[i] * K + labels[i]] += 1.0;
        y_cnt[labels[i]] += 1.0;
    }
    for (int g = 0; g < n_g; g++)
        for (int c = 0; c < K; c++) n_groups_c[c] += gcnt[(long)g * K + c] > 0;
    for (int c = 0; c < K; c++)
        if (n_groups_c[c] < k) {
            rc = hipid_err(e, "class '%s' has %d image(s) in %d group(s), fewer groups than the %d "
                              "folds; use fewer folds or more patients of it",
                           class_name(class_names, c, nb, sizeof nb), (int)y_cnt[c], n_groups_c[c], k);
            goto done;
        }
    for (int g = 0; g < n_g; g++) keys[g].g = g;
    if (shuffle) {
        int *perm = xmalloc(sizeof(int) * (size_t)(n_g ? n_g : 1));
        for (int g = 0; g < n_g; g++) perm[g] = g;
        Rng r = rng_stream(seed, TAG_GKFOLD, repeat, 0);
        rng_shuffle(&r, perm, n_g);
        for (int g = 0; g < n_g; g++) keys[g].g = perm[g];
        free(perm);
    }
    for (int p = 0; p < n_g; p++) {
        keys[p].pos = p;
        keys[p].key = -std_seq(gcnt + (long)keys[p].g * K, K, 1);
    }
    qsort(keys, (size_t)n_g, sizeof *keys, cmp_group_key);
    for (int p = 0; p < n_g; p++) {
        const double *gc = gcnt + (long)keys[p].g * K;
        int best = -1;
        double min_eval = INFINITY, min_size = INFINITY;
        for (int f = 0; f < k; f++) {
            for (int j = 0; j < k; j++)
                for (int c = 0; c < K; c++)
                    prop[j * K + c] = (fcnt[j * K + c] + (j == f ? gc[c] : 0.0)) / y_cnt[c];
            double sum = 0.0;
            for (int c = 0; c < K; c++) sum += std_seq(prop + c, k, K);
            double eval = sum / K;
            /* numpy.isclose(eval, min_eval) with its default tolerances */
            int close = isfinite(min_eval) && fabs(eval - min_eval) <= 1e-8 + 1e-5 * fabs(min_eval);
            if (eval < min_eval || (close && f_size[f] < min_size)) {
                min_eval = eval;
                min_size = f_size[f];
                best = f;
            }
        }
        HIPID_CHECK(best >= 0); /* eval is finite: every class has images */
        g_fold[keys[p].g] = best;
        for (int c = 0; c < K; c++) {
            fcnt[best * K + c] += gc[c];
            f_size[best] += gc[c];
        }
    }
    for (int f = 0; f < k; f++) {
        if (f_size[f] == 0) {
            rc = hipid_err(e, "stratified group %d-fold left fold %d empty (%d groups); use fewer folds",
                           k, f, n_g);
            goto done;
        }
        for (int c = 0; c < K; c++)
            if (fcnt[f * K + c] == y_cnt[c]) {
                rc = hipid_err(e, "class '%s': all its groups fell into fold %d, leaving that fold's "
                                  "training set without it; use fewer folds or another seed",
                               class_name(class_names, c, nb, sizeof nb), f);
                goto done;
            }
    }
    for (int i = 0; i < n; i++) fold_of[i] = g_fold[gid[i]];
done:
    free(gid);
    free(gcnt);
    free(fcnt);
    free(prop);
    free(y_cnt);
    free(f_size);
    free(n_groups_c);
    free(g_fold);
    free(keys);
    return rc;
}

int split_group_kfold(int *fold_of, const int32_t *labels, const int32_t *groups, int n,
                      int n_classes, int k, uint64_t seed, uint64_t repeat,
                      char *const *class_names, ErrBuf *e) {
    return group_kfold_core(fold_of, labels, groups, n, n_classes, k, 1, seed, repeat, class_names, e);
}

int split_group_kfold_unshuffled(int *fold_of, const int32_t *labels, const int32_t *groups,
                                 int n, int n_classes, int k, char *const *class_names, ErrBuf *e) {
    return group_kfold_core(fold_of, labels, groups, n, n_classes, k, 0, 0, 0, class_names, e);
}

int split_kfold(int *fold_of, const int32_t *labels, const int32_t *groups, int n, int n_classes,
                int k, uint64_t seed, uint64_t repeat, char *const *class_names, ErrBuf *e) {
    if (split_has_groups(groups, n))
        return split_group_kfold(fold_of, labels, groups, n, n_classes, k, seed, repeat, class_names, e);
    return split_stratified_kfold(fold_of, labels, n, n_classes, k, seed, repeat, class_names, e);
}

/* ---- nested ---- */

int split_nested(int *fold_of, int *inner_fold_of, const int32_t *labels, const int32_t *groups,
                 int n, int n_classes, int k, int inner_k, uint64_t seed, uint64_t repeat,
                 char *const *class_names, ErrBuf *e) {
    if (split_kfold(fold_of, labels, groups, n, n_classes, k, seed, repeat, class_names, e))
        return HIPID_ERR;
    int *idx = xmalloc(sizeof(int) * (size_t)(n ? n : 1)), *sub_fold = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    int32_t *sub_labels = xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    int32_t *sub_groups = groups ? xmalloc(sizeof(int32_t) * (size_t)(n ? n : 1)) : NULL;
    int rc = HIPID_OK;
    for (int o = 0; o < k; o++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (fold_of[i] != o) {
                idx[m] = i;
                sub_labels[m] = labels[i];
                if (sub_groups) sub_groups[m] = groups[i];
                m++;
            }
        Rng r = rng_stream(seed, TAG_NESTED, repeat, (uint64_t)o);
        uint64_t inner_seed = rng_u64(&r);
        ErrBuf inner = {{0}};
        if (split_kfold(sub_fold, sub_labels, sub_groups, m, n_classes, inner_k, inner_seed, 0,
                        class_names, &inner)) {
            rc = hipid_err(e, "inner split of outer fold %d's training set: %s", o, inner.msg);
            break;
        }
        int *row = inner_fold_of + (long)o * n;
        for (int i = 0; i < n; i++) row[i] = -1;
        for (int j = 0; j < m; j++) row[idx[j]] = sub_fold[j];
    }
    free(idx);
    free(sub_fold);
    free(sub_labels);
    free(sub_groups);
    return rc;
}

/* ---- three-way hold-out ---- */

typedef struct {
    int size, pos, g;
} GroupSize;

static int cmp_group_size(const void *a, const void *b) {
    const GroupSize *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Largest remainders: counts (3) summing to n_c, each floor or ceil of
 * frac*n_c; empty parts with a positive fraction are served first. */
static void apportion(int *cnt, const double frac[3], int n_c) {
    double rem[3];
    int left = n_c;
    for (int p = 0; p < 3; p++) {
        double t = frac[p] * n_c;
        cnt[p] = (int)floor(t + 1e-9);
        if (cnt[p] > left) cnt[p] = left;
        rem[p] = t - cnt[p];
        left -= cnt[p];
    }
    while (left > 0) {
        int best = -1;
        for (int p = 0; p < 3; p++) {
            if (rem[p] <= 0) continue;
            if (best < 0) {
                best = p;
                continue;
            }
            int pe = cnt[p] == 0 && frac[p] > 0, be = cnt[best] == 0 && frac[best] > 0;
            if (pe > be || (pe == be && rem[p] > rem[best] + 1e-12)) best = p;
        }
        if (best < 0) best = 0; /* rounding slack: give it to training */
        cnt[best]++;
        rem[best] = 0;
        left--;
    }
}

int split_holdout3(int8_t *part, const int32_t *labels, const int32_t *groups, int n,
                   int n_classes, const double frac[3], uint64_t seed, char *const *class_names,
                   ErrBuf *e) {
    static const char *part_name[3] = {"train", "val", "test"};
    char nb[16];
    int K = n_classes, rc = HIPID_OK;
    double fsum = 0.0;
    for (int p = 0; p < 3; p++) {
        if (!(frac[p] >= 0.0 && frac[p] <= 1.0))
            return hipid_err(e, "hold-out fraction %d is %g, expected a number in [0,1]", p, frac[p]);
        fsum += frac[p];
    }
    if (fabs(fsum - 1.0) > 1e-6)
        return hipid_err(e, "hold-out fractions %g,%g,%g sum to %g, expected 1", frac[0], frac[1],
                         frac[2], fsum);
    if (!(frac[0] > 0.0)) return hipid_err(e, "the training fraction must be positive, found %g", frac[0]);
    check_labels(labels, n, n_classes);
    int *count = xcalloc(K, sizeof(int)), *cnt = xcalloc((size_t)3 * K, sizeof(int));
    int *gid = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) count[labels[i]]++;
    if (!split_has_groups(groups, n)) {
        int *members = xmalloc(sizeof(int) * (size_t)(n ? n : 1));
        for (int c = 0; c < K; c++) {
            int m = 0, want[3];
            for (int i = 0; i < n; i++)
                if (labels[i] == c) members[m++] = i;
            Rng r = rng_stream(seed, TAG_HOLDOUT3, 0, (uint64_t)c);
            rng_shuffle(&r, members, m);
            apportion(want, frac, m);
            for (int j = 0; j < m; j++) part[members[j]] = (int8_t)(j < want[0] ? 0 : j < want[0] + want[1] ? 1 : 2);
            for (int p = 0; p < 3; p++) cnt[p * K + c] = want[p];
        }
        free(members);
    } else {
        int n_g = compact_groups(gid, groups, n);
        int *gc = xcalloc((size_t)n_g * K, sizeof(int)), *g_part = xmalloc(sizeof(int) * (size_t)n_g);
        int *perm = xmalloc(sizeof(int) * (size_t)n_g);
        GroupSize *gs = xmalloc(sizeof(GroupSize) * (size_t)n_g);
        for (int i = 0; i < n; i++) gc[(long)gid[i] * K + labels[i]]++;
        for (int g = 0; g < n_g; g++) perm[g] = g;
        Rng r = rng_stream(seed, TAG_HOLDOUT3, 1, 0);
        rng_shuffle(&r, perm, n_g);
        for (int p = 0; p < n_g; p++) {
            gs[p].g = perm[p];
            gs[p].pos = p;
            gs[p].size = 0;
            for (int c = 0; c < K; c++) gs[p].size += gc[(long)perm[p] * K + c];
        }
        qsort(gs, (size_t)n_g, sizeof *gs, cmp_group_size);
        for (int q = 0; q < n_g; q++) {
            const int *x = gc + (long)gs[q].g * K;
            int best = 0;
            double best_delta = INFINITY;
            for (int p = 0; p < 3; p++) {
                if (frac[p] <= 0.0) continue;
                double delta = 0.0;
                for (int c = 0; c < K; c++) {
                    if (!x[c]) continue;
                    double dev = cnt[p * K + c] - frac[p] * count[c], w = 1.0 / ((double)count[c] * count[c]);
                    delta += w * (2.0 * x[c] * dev + (double)x[c] * x[c]);
                }
                if (delta < best_delta - 1e-12) {
                    best_delta = delta;
                    best = p;
                }
            }
            g_part[gs[q].g] = best;
            for (int c = 0; c < K; c++) cnt[best * K + c] += x[c];
        }
        for (int i = 0; i < n; i++) part[i] = (int8_t)g_part[gid[i]];
        free(gc);
        free(g_part);
        free(perm);
        free(gs);
    }
    for (int c = 0; c < K && rc == HIPID_OK; c++)
        for (int p = 0; p < 3; p++)
            if (frac[p] > 0.0 && cnt[p * K + c] == 0) {
                rc = hipid_err(e, "class '%s' has %d image(s)%s: too few for a %g/%g/%g hold-out that "
                                  "puts some in %s",
                               class_name(class_names, c, nb, sizeof nb), count[c],
                               split_has_groups(groups, n) ? " in its groups" : "", frac[0], frac[1],
                               frac[2], part_name[p]);
                break;
            }
    free(count);
    free(cnt);
    free(gid);
    return rc;
}

/* ---- index helpers, checksum ---- */

void split_fold_indices(int *train_idx, int *n_train, int *test_idx, int *n_test,
                        const int *assign, int n, int fold) {
    int n_tr = 0, n_te = 0;
    for (int i = 0; i < n; i++) {
        if (assign[i] < 0) continue;
        if (assign[i] == fold) {
            if (test_idx) test_idx[n_te] = i;
            n_te++;
        } else {
            if (train_idx) train_idx[n_tr] = i;
            n_tr++;
        }
    }
    if (n_train) *n_train = n_tr;
    if (n_test) *n_test = n_te;
}

int split_part_indices(int *idx, const int8_t *part, int n, int which) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (part[i] == which) idx[m++] = i;
    return m;
}

static uint64_t fnv1a_i32(uint64_t h, int32_t v) {
    uint32_t u = (uint32_t)v;
    for (int b = 0; b < 4; b++) {
        h ^= (u >> (8 * b)) & 0xffu;
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t split_data_checksum(const int32_t *labels, const int32_t *groups, int n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv1a_i32(h, n);
    for (int i = 0; i < n; i++) h = fnv1a_i32(h, labels[i]);
    for (int i = 0; i < n; i++) h = fnv1a_i32(h, groups ? groups[i] : i);
    return h;
}

/* ---- splits.h5 ---- */

#define CHECKSUM_ALGORITHM "fnv1a64 over n, labels[n], groups[n] as little-endian int32"

int split_make(Splits *s, const int32_t *labels, const int32_t *groups, int n, int n_classes,
               int use_groups, char *const *class_names, ErrBuf *e) {
    const int32_t *g = use_groups ? groups : NULL;
    int is_group = strcmp(s->scheme, "group") == 0, is_nested = strcmp(s->scheme, "nested") == 0;
    int is_holdout = strcmp(s->scheme, "holdout") == 0;
    int is_kfold = strcmp(s->scheme, "kfold") == 0, is_repeated = strcmp(s->scheme, "repeated") == 0;
    s->fold_of = s->inner_fold_of = NULL;
    s->part = NULL;
    if (!(is_group || is_nested || is_holdout || is_kfold || is_repeated))
        return hipid_err(e, "unknown split scheme '%s'; expected kfold, repeated, group, nested or holdout",
                         s->scheme);
    s->n = n;
    s->n_classes = n_classes;
    s->data_checksum = split_data_checksum(labels, groups, n);
    s->grouped = g && (is_group || split_has_groups(g, n));
    if (is_holdout) {
        s->k = s->inner_k = 0;
        s->repeats = 1;
        s->part = xmalloc((size_t)(n ? n : 1));
        if (split_holdout3(s->part, labels, g, n, n_classes, s->fractions, s->seed, class_names, e))
            goto error;
        return HIPID_OK;
    }
    if (is_kfold) s->repeats = 1; /* "repeated" is k-fold with repeats */
    if (!is_nested) s->inner_k = 0;
    if (s->repeats < 1) return hipid_err(e, "repeats must be at least 1, found %d", s->repeats);
    s->fold_of = xmalloc(sizeof(int) * (size_t)s->repeats * (size_t)(n ? n : 1));
    if (is_nested)
        s->inner_fold_of = xmalloc(sizeof(int) * (size_t)s->repeats * (size_t)s->k * (size_t)(n ? n : 1));
    for (int r = 0; r < s->repeats; r++) {
        int *f = s->fold_of + (size_t)r * n, rc;
        if (is_nested)
            rc = split_nested(f, s->inner_fold_of + (size_t)r * s->k * n, labels, g, n, n_classes,
                              s->k, s->inner_k, s->seed, (uint64_t)r, class_names, e);
        else if (is_group)
            rc = split_group_kfold(f, labels, g, n, n_classes, s->k, s->seed, (uint64_t)r,
                                   class_names, e);
        else
            rc = split_kfold(f, labels, g, n, n_classes, s->k, s->seed, (uint64_t)r, class_names, e);
        if (rc) goto error;
    }
    return HIPID_OK;
error:
    split_free(s);
    return HIPID_ERR;
}

void split_free(Splits *s) {
    if (!s) return;
    free(s->fold_of);
    free(s->inner_fold_of);
    free(s->part);
    s->fold_of = s->inner_fold_of = NULL;
    s->part = NULL;
}

/* Read a dataset whose shape must equal dims; messages name file and dataset. */
int split_save(const Splits *s, const char *path, ErrBuf *e) {
    char tmp[4096];
    hid_t file = h5_create_versioned(tmp, sizeof tmp, path, SPLIT_FORMAT, SPLIT_FORMAT_VERSION, e);
    if (file < 0) return HIPID_ERR;
    hsize_t d2[2] = {(hsize_t)s->repeats, (hsize_t)s->n};
    hsize_t d3[3] = {(hsize_t)s->repeats, (hsize_t)s->k, (hsize_t)s->n}, d1 = (hsize_t)s->n;
    int ok = 1;
    if (h5_attr_write_str(file, "scheme", s->scheme) || h5_attr_write_int(file, "n", &s->n, 1) ||
        h5_attr_write_int(file, "n_classes", &s->n_classes, 1) ||
        h5_attr_write_int(file, "k", &s->k, 1) || h5_attr_write_int(file, "repeats", &s->repeats, 1) ||
        h5_attr_write_int(file, "inner_k", &s->inner_k, 1) ||
        h5_attr_write_int(file, "grouped", &s->grouped, 1) ||
        h5_attr_write(file, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &s->seed, 1) ||
        h5_attr_write(file, "fractions", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s->fractions, 3) ||
        h5_attr_write_str(file, "data_path", s->data_path) ||
        h5_attr_write(file, "data_checksum", H5T_STD_U64LE, H5T_NATIVE_UINT64, &s->data_checksum, 1) ||
        h5_attr_write_str(file, "checksum_algorithm", CHECKSUM_ALGORITHM))
        ok = 0;
    if (ok && s->fold_of && h5_write(file, "fold_of", H5T_STD_I32LE, H5T_NATIVE_INT, s->fold_of, 2, d2, 1))
        ok = 0;
    if (ok && s->inner_fold_of &&
        h5_write(file, "inner_fold_of", H5T_STD_I32LE, H5T_NATIVE_INT, s->inner_fold_of, 3, d3, 1))
        ok = 0;
    if (ok && s->part && h5_write(file, "part", H5T_STD_I8LE, H5T_NATIVE_INT8, s->part, 1, &d1, 1)) ok = 0;
    return h5_finish_versioned(file, ok, tmp, path, "splits", e);
}

/* Structural checks of loaded splits against the data set's groups. */
static int validate_splits(const Splits *s, const int32_t *groups, const char *path, ErrBuf *e) {
    int n = s->n;
    for (size_t i = 0; s->fold_of && i < (size_t)s->repeats * n; i++)
        if (s->fold_of[i] < 0 || s->fold_of[i] >= s->k)
            return hipid_err(e, "%s: fold_of[%zu,%zu] = %d, expected a fold in [0,%d)", path,
                             i / n, i % n, s->fold_of[i], s->k);
    for (int r = 0; s->inner_fold_of && r < s->repeats; r++)
        for (int o = 0; o < s->k; o++)
            for (int i = 0; i < n; i++) {
                int v = s->inner_fold_of[((size_t)r * s->k + o) * n + i];
                int outer_test = s->fold_of[(size_t)r * n + i] == o;
                if (outer_test ? v != -1 : (v < 0 || v >= s->inner_k))
                    return hipid_err(e, "%s: inner_fold_of[%d,%d,%d] = %d, expected %s", path, r, o, i, v,
                                     outer_test ? "-1 (the image is in that outer test fold)"
                                                : "an inner fold in [0,inner_k)");
            }
    for (int i = 0; s->part && i < n; i++)
        if (s->part[i] < 0 || s->part[i] > 2)
            return hipid_err(e, "%s: part[%d] = %d, expected 0 (train), 1 (val) or 2 (test)", path, i,
                             s->part[i]);
    if (!s->grouped || !groups) return HIPID_OK;
    /* every assignment must be constant within a group */
    int *gid = xmalloc(sizeof(int) * (size_t)(n ? n : 1)), rc = HIPID_OK;
    int n_g = compact_groups(gid, groups, n);
    int *first = xmalloc(sizeof(int) * (size_t)(n_g ? n_g : 1));
    size_t n_rows = s->part ? 1 : (size_t)s->repeats * (s->inner_fold_of ? 1 + s->k : 1);
    for (size_t row = 0; row < n_rows && rc == HIPID_OK; row++) {
        for (int g = 0; g < n_g; g++) first[g] = -1;
        for (int i = 0; i < n; i++) {
            int v;
            if (s->part) v = s->part[i];
            else if (row < (size_t)s->repeats) v = s->fold_of[row * n + i];
            else v = s->inner_fold_of[(row - s->repeats) * n + i];
            if (first[gid[i]] < 0) first[gid[i]] = i;
            else {
                int j = first[gid[i]], w;
                if (s->part) w = s->part[j];
                else if (row < (size_t)s->repeats) w = s->fold_of[row * n + j];
                else w = s->inner_fold_of[(row - s->repeats) * n + j];
                if (v != w) {
                    rc = hipid_err(e, "%s: images %d and %d share group %d but are split apart; the "
                                      "file is damaged or was made for other groups; re-run hipid split",
                                   path, j, i, groups[i]);
                    break;
                }
            }
        }
    }
    free(gid);
    free(first);
    return rc;
}

/* 1 if loc has a dataset name of exactly this shape (read nothing). */
static int dset_has_shape(hid_t loc, const char *name, int ndim, const hsize_t *dims) {
    hsize_t got[H5S_MAX_RANK];
    int same = 0;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return 0;
    hid_t dset = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t space = dset >= 0 ? H5Dget_space(dset) : H5I_INVALID_HID;
    if (space >= 0 && H5Sget_simple_extent_ndims(space) == ndim) {
        H5Sget_simple_extent_dims(space, got, NULL);
        same = 1;
        for (int d = 0; d < ndim; d++) same = same && got[d] == dims[d];
    }
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return same;
}

int split_load(Splits *s, const char *path, const int32_t *labels, const int32_t *groups, int n,
               ErrBuf *e) {
    int is_holdout, is_nested;
    hid_t file = H5I_INVALID_HID;
    memset(s, 0, sizeof *s);
    if ((file = h5_open_versioned(path, SPLIT_FORMAT, SPLIT_FORMAT_VERSION, "splits file",
                                  "make one with 'hipid split'", e)) < 0)
        return HIPID_ERR;
    if (h5_attr_read_str(file, "scheme", s->scheme, sizeof s->scheme) ||
        h5_attr_read_int(file, "n", &s->n, 1) || h5_attr_read_int(file, "n_classes", &s->n_classes, 1) ||
        h5_attr_read_int(file, "k", &s->k, 1) || h5_attr_read_int(file, "repeats", &s->repeats, 1) ||
        h5_attr_read_int(file, "inner_k", &s->inner_k, 1) ||
        h5_attr_read_int(file, "grouped", &s->grouped, 1) ||
        h5_attr_read(file, "seed", H5T_NATIVE_UINT64, &s->seed, 1) ||
        h5_attr_read(file, "fractions", H5T_NATIVE_DOUBLE, s->fractions, 3) ||
        h5_attr_read(file, "data_checksum", H5T_NATIVE_UINT64, &s->data_checksum, 1)) {
        hipid_err(e, "%s: missing or malformed attribute (scheme, n, n_classes, k, repeats, inner_k, "
                     "grouped, seed, fractions or data_checksum)", path);
        goto error;
    }
    h5_attr_read_str(file, "data_path", s->data_path, sizeof s->data_path);
    if (s->n != n) {
        hipid_err(e, "%s: made for a data set of %d images (%s), this one has %d; re-run hipid split "
                     "on this data set", path, s->n, s->data_path, n);
        goto error;
    }
    uint64_t sum = split_data_checksum(labels, groups, n);
    if (sum != s->data_checksum) {
        hipid_err(e, "%s: made for another data set (%s): labels/groups checksum %016llx, this data "
                     "set's is %016llx; re-run hipid split on this data set", path, s->data_path,
                  (unsigned long long)s->data_checksum, (unsigned long long)sum);
        goto error;
    }
    is_holdout = strcmp(s->scheme, "holdout") == 0;
    is_nested = strcmp(s->scheme, "nested") == 0;
    if (!is_holdout && strcmp(s->scheme, "kfold") && strcmp(s->scheme, "repeated") &&
        strcmp(s->scheme, "group") && !is_nested) {
        hipid_err(e, "%s: unknown scheme '%s'; expected kfold, repeated, group, nested or holdout",
                  path, s->scheme);
        goto error;
    }
    if (is_holdout) {
        hsize_t d1 = (hsize_t)n;
        s->part = xmalloc((size_t)(n ? n : 1));
        if (h5_read(file, "part", H5T_NATIVE_INT8, s->part, 1, &d1, path, e)) goto error;
    } else {
        if (s->k < 2 || s->repeats < 1 || (is_nested && s->inner_k < 2)) {
            hipid_err(e, "%s: k = %d, repeats = %d, inner_k = %d: expected k >= 2, repeats >= 1%s",
                      path, s->k, s->repeats, s->inner_k, is_nested ? ", inner_k >= 2" : "");
            goto error;
        }
        hsize_t d2[2] = {(hsize_t)s->repeats, (hsize_t)n};
        hsize_t d3[3] = {(hsize_t)s->repeats, (hsize_t)s->k, (hsize_t)n};
        /* the shapes first: repeats and k come from attributes, and an absurd
         * value must be a message, not an allocation of that size */
        if (!dset_has_shape(file, "fold_of", 2, d2) || (is_nested && !dset_has_shape(file, "inner_fold_of", 3, d3))) {
            hipid_err(e, "%s: fold_of/inner_fold_of do not have the shape that repeats = %d, k = %d and %d images "
                         "give; re-run hipid split", path, s->repeats, s->k, n);
            goto error;
        }
        s->fold_of = xmalloc(sizeof(int) * (size_t)s->repeats * (size_t)(n ? n : 1));
        if (h5_read(file, "fold_of", H5T_NATIVE_INT, s->fold_of, 2, d2, path, e)) goto error;
        if (is_nested) {
            s->inner_fold_of = xmalloc(sizeof(int) * (size_t)s->repeats * s->k * (size_t)(n ? n : 1));
            if (h5_read(file, "inner_fold_of", H5T_NATIVE_INT, s->inner_fold_of, 3, d3, path, e))
                goto error;
        }
    }
    if (validate_splits(s, groups, path, e)) goto error;
    H5Fclose(file);
    return HIPID_OK;
error:
    if (file >= 0) H5Fclose(file);
    split_free(s);
    return HIPID_ERR;
}
