/* check_recipe: the engine's learning-rate schedule and label-smoothed loss,
 * printed for tests/test_recipe.py to compare with PyTorch.
 *   check_recipe lr LR SCHED EPOCHS WARMUP STEP_SIZE GAMMA
 *       one line per epoch: optim_lr_at (SCHED: constant, step, cosine)
 *   check_recipe xent EPS N K WEIGHTED < logits (N*K) labels (N) [weights (K)]
 *       the loss, then the N*K gradient values of softmax_xent_ls */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/nn/ops.h"
#include "hipid/nn/optim.h"

static int usage(void) {
    fprintf(stderr, "usage: check_recipe lr LR SCHED EPOCHS WARMUP STEP_SIZE GAMMA | xent EPS N K WEIGHTED\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc == 8 && strcmp(argv[1], "lr") == 0) {
        OptConfig c = optim_defaults();
        c.lr = strtof(argv[2], NULL);
        if ((int)(c.sched = optim_parse_sched(argv[3])) < 0) return usage();
        c.epochs = atoi(argv[4]);
        c.warmup = atoi(argv[5]);
        c.step_size = atoi(argv[6]);
        c.gamma = strtof(argv[7], NULL);
        for (int e = 0; e < c.epochs; e++) printf("%.9g\n", optim_lr_at(&c, e));
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "xent") == 0) {
        float eps = strtof(argv[2], NULL);
        int N = atoi(argv[3]), K = atoi(argv[4]), weighted = atoi(argv[5]);
        if (N < 1 || K < 2) return usage();
        float *z = malloc(sizeof(float) * N * K), *dz = malloc(sizeof(float) * N * K), *w = malloc(sizeof(float) * K);
        int *y = malloc(sizeof(int) * N);
        for (int i = 0; i < N * K; i++)
            if (scanf("%f", &z[i]) != 1) return usage();
        for (int i = 0; i < N; i++)
            if (scanf("%d", &y[i]) != 1) return usage();
        for (int k = 0; k < K && weighted; k++)
            if (scanf("%f", &w[k]) != 1) return usage();
        printf("%.9g\n", softmax_xent_ls(dz, NULL, z, y, weighted ? w : NULL, N, K, eps));
        for (int i = 0; i < N * K; i++) printf("%.9g\n", dz[i]);
        free(z), free(dz), free(w), free(y);
        return 0;
    }
    return usage();
}
