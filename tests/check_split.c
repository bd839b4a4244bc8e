/* check_split: run one splitter on labels/groups from a text file and print
 * the assignments, for tests/test_split.py.
 *
 *   check_split MODE FILE K SEED REPEAT [INNER_K | F_TRAIN,F_VAL,F_TEST]
 * MODE: skfold (split_stratified_kfold, groups ignored), kfold (split_kfold),
 *       group (split_group_kfold), group-noshuffle, nested, holdout.
 * FILE: "n n_classes name_0 ... name_{K-1}" then n lines "label group".
 * Prints one line of n assignments (fold_of or part); nested prints fold_of
 * then k lines of inner_fold_of. On a splitter error prints "error: MSG" to
 * stderr and exits 1; bad arguments exit 2.
 *
 *   check_split load SPLITS.h5 DATA.h5
 * split_load's verdict: "ok SCHEME n=N k=K repeats=R inner_k=I grouped=G" or
 * "error: MSG" (exit 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/data/dataset.h"
#include "hipid/data/split.h"

static void print_row(const int *v, int n) {
    for (int i = 0; i < n; i++) printf("%d%c", v[i], i + 1 < n ? ' ' : '\n');
    if (n == 0) printf("\n");
}

static int load(const char *splits, const char *data) {
    ErrBuf e = {{0}};
    Dataset d;
    Splits s;
    if (dataset_load(&d, data, &e)) {
        fprintf(stderr, "check_split: %s\n", e.msg);
        return 2;
    }
    int rc = split_load(&s, splits, d.labels, d.groups, d.n, &e);
    if (rc) fprintf(stderr, "error: %s\n", e.msg);
    else printf("ok %s n=%d k=%d repeats=%d inner_k=%d grouped=%d\n", s.scheme, s.n, s.k, s.repeats,
                s.inner_k, s.grouped);
    split_free(&s);
    dataset_free(&d);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "load") == 0) return load(argv[2], argv[3]);
    if (argc < 6) {
        fprintf(stderr, "usage: check_split MODE FILE K SEED REPEAT [INNER_K | F0,F1,F2]\n");
        return 2;
    }
    const char *mode = argv[1];
    int k = atoi(argv[3]);
    uint64_t seed = strtoull(argv[4], NULL, 10), repeat = strtoull(argv[5], NULL, 10);
    FILE *f = fopen(argv[2], "r");
    int n, K;
    if (!f || fscanf(f, "%d %d", &n, &K) != 2 || n < 0 || K < 1) {
        fprintf(stderr, "check_split: cannot read header of %s\n", argv[2]);
        return 2;
    }
    char **names = calloc(K, sizeof(char *));
    int32_t *labels = malloc(sizeof(int32_t) * (n + 1)), *groups = malloc(sizeof(int32_t) * (n + 1));
    char buf[256];
    for (int c = 0; c < K; c++) {
        if (fscanf(f, "%255s", buf) != 1) return 2;
        names[c] = strdup(buf);
    }
    for (int i = 0; i < n; i++)
        if (fscanf(f, "%d %d", &labels[i], &groups[i]) != 2 || labels[i] < 0 || labels[i] >= K ||
            groups[i] < 0) {
            fprintf(stderr, "check_split: bad line %d of %s\n", i + 2, argv[2]);
            return 2;
        }
    fclose(f);
    int *fold = malloc(sizeof(int) * (n + 1)), *inner = NULL, rc = 0;
    ErrBuf e = {{0}};
    if (strcmp(mode, "skfold") == 0) rc = split_stratified_kfold(fold, labels, n, K, k, seed, repeat, names, &e);
    else if (strcmp(mode, "kfold") == 0) rc = split_kfold(fold, labels, groups, n, K, k, seed, repeat, names, &e);
    else if (strcmp(mode, "group") == 0) rc = split_group_kfold(fold, labels, groups, n, K, k, seed, repeat, names, &e);
    else if (strcmp(mode, "group-noshuffle") == 0) rc = split_group_kfold_unshuffled(fold, labels, groups, n, K, k, names, &e);
    else if (strcmp(mode, "nested") == 0 && argc > 6) {
        inner = malloc(sizeof(int) * ((size_t)k * n + 1));
        rc = split_nested(fold, inner, labels, groups, n, K, k, atoi(argv[6]), seed, repeat, names, &e);
    } else if (strcmp(mode, "holdout") == 0 && argc > 6) {
        double fr[3];
        int8_t *part = malloc(n + 1);
        if (sscanf(argv[6], "%lf,%lf,%lf", &fr[0], &fr[1], &fr[2]) != 3) return 2;
        rc = split_holdout3(part, labels, groups, n, K, fr, seed, names, &e);
        for (int i = 0; i < n; i++) fold[i] = part[i];
        free(part);
    } else {
        fprintf(stderr, "check_split: unknown mode '%s' (or missing argument)\n", mode);
        return 2;
    }
    if (rc != HIPID_OK) {
        fprintf(stderr, "error: %s\n", e.msg);
        rc = 1;
    } else {
        print_row(fold, n);
        for (int o = 0; inner && o < k; o++) print_row(inner + (size_t)o * n, n);
    }
    for (int c = 0; c < K; c++) free(names[c]);
    free(names);
    free(labels);
    free(groups);
    free(fold);
    free(inner);
    return rc;
}
