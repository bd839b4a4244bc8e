/* check_augment: apply given augmentation parameters or draw a balanced
 * epoch, for tests/test_augment.py.
 *
 *   check_augment geom S ANGLE SCALE TX TY FLIP FILL IN.f32 OUT.f32
 *     augment_apply with only the geometric step (FILL: zero or edge) to an
 *     (S,S) float32 image read from IN; writes the result to OUT.
 *   check_augment balanced LABELS N_OUT SEED EPOCH
 *     LABELS: "n n_classes" then n labels; train_idx = 0..n-1. Prints the
 *     order from sample_balanced_epoch on one line.
 * Exits 2 on bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/train/augment.h"
#include "hipid/train/sample.h"

static int geom(char **argv) {
    int S = atoi(argv[2]);
    AugParams p = {.flip = atoi(argv[7]), .angle = (float)atof(argv[3]), .scale = (float)atof(argv[4]),
                   .tx = (float)atof(argv[5]), .ty = (float)atof(argv[6]), .contrast = 1.0f,
                   .gamma = 1.0f, .fill = strcmp(argv[8], "edge") == 0 ? AUG_FILL_EDGE : AUG_FILL_ZERO};
    float *src = malloc(sizeof(float) * S * S), *dst = malloc(sizeof(float) * S * S);
    FILE *f = fopen(argv[9], "rb");
    if (S < 1 || !f || fread(src, sizeof(float), (size_t)S * S, f) != (size_t)S * S) return 2;
    fclose(f);
    augment_apply(dst, src, S, &p);
    f = fopen(argv[10], "wb");
    if (!f || fwrite(dst, sizeof(float), (size_t)S * S, f) != (size_t)S * S) return 2;
    fclose(f);
    free(src);
    free(dst);
    return 0;
}

static int balanced(char **argv) {
    int n, K, n_out = atoi(argv[3]);
    FILE *f = fopen(argv[2], "r");
    if (!f || fscanf(f, "%d %d", &n, &K) != 2 || n < 1 || K < 1 || n_out < 0) return 2;
    int32_t *labels = malloc(sizeof(int32_t) * n);
    int *idx = malloc(sizeof(int) * n), *order = malloc(sizeof(int) * (n_out + 1));
    for (int i = 0; i < n; i++) {
        if (fscanf(f, "%d", &labels[i]) != 1 || labels[i] < 0 || labels[i] >= K) return 2;
        idx[i] = i;
    }
    fclose(f);
    sample_balanced_epoch(order, n_out, idx, n, labels, K, strtoull(argv[4], NULL, 10),
                          strtoull(argv[5], NULL, 10));
    for (int i = 0; i < n_out; i++) printf("%d%c", order[i], i + 1 < n_out ? ' ' : '\n');
    free(labels);
    free(idx);
    free(order);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 11 && strcmp(argv[1], "geom") == 0) return geom(argv);
    if (argc == 6 && strcmp(argv[1], "balanced") == 0) return balanced(argv);
    fprintf(stderr, "usage: check_augment geom S ANGLE SCALE TX TY FLIP FILL IN OUT\n"
                    "       check_augment balanced LABELS N_OUT SEED EPOCH\n");
    return 2;
}
