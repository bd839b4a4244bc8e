/* check_recipe: the engine's learning-rate schedule and label-smoothed loss,
 * printed for tests/test_recipe.py to compare with PyTorch.
 *   check_recipe lr LR SCHED EPOCHS WARMUP STEP_SIZE GAMMA
 *       one line per epoch: optim_lr_at (SCHED: constant, step, cosine)
 *   check_recipe xent EPS N K WEIGHTED < logits (N*K) labels (N) [weights (K)]
 *       the loss, then the N*K gradient values of softmax_xent_ls
 *   check_recipe mixxent EPS N K WEIGHTED LAM SHARE_A SHARE_B < logits labels
 *       partner-labels [weights]: the same for mix_xent
 *   check_recipe mixdraw MIXUP CUTMIX S NB SEED TRIAL STEP0 STEPS
 *       one line per step: kind lam y0 y1 x0 x1 side partner[0..NB) (mix_draw)
 *   check_recipe mixapply KIND LAM Y0 Y1 X0 X1 S N < x (N*S*S) xp (N*S*S)
 *       the N*S*S mixed values of mix_images */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/nn/ops.h"
#include "hipid/nn/optim.h"
#include "hipid/train/mix.h"

static int usage(void) {
    fprintf(stderr, "usage: check_recipe lr LR SCHED EPOCHS WARMUP STEP_SIZE GAMMA | xent EPS N K WEIGHTED | "
                    "mixxent EPS N K WEIGHTED LAM SHARE_A SHARE_B | mixdraw MIXUP CUTMIX S NB SEED TRIAL STEP0 STEPS | "
                    "mixapply KIND LAM Y0 Y1 X0 X1 S N\n");
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
    if (argc == 9 && strcmp(argv[1], "mixxent") == 0) {
        float eps = strtof(argv[2], NULL), lam = strtof(argv[6], NULL);
        float sa = strtof(argv[7], NULL), sb = strtof(argv[8], NULL);
        int N = atoi(argv[3]), K = atoi(argv[4]), weighted = atoi(argv[5]);
        if (N < 1 || K < 2) return usage();
        float *z = malloc(sizeof(float) * N * K), *dz = malloc(sizeof(float) * N * K);
        float *tmp = malloc(sizeof(float) * N * K), *w = malloc(sizeof(float) * K);
        int *y = malloc(sizeof(int) * N), *yp = malloc(sizeof(int) * N);
        for (int i = 0; i < N * K; i++)
            if (scanf("%f", &z[i]) != 1) return usage();
        for (int i = 0; i < 2 * N; i++)
            if (scanf("%d", i < N ? &y[i] : &yp[i - N]) != 1) return usage();
        for (int k = 0; k < K && weighted; k++)
            if (scanf("%f", &w[k]) != 1) return usage();
        printf("%.9g\n", mix_xent(dz, tmp, z, y, yp, weighted ? w : NULL, N, K, eps, lam, sa, sb));
        for (int i = 0; i < N * K; i++) printf("%.9g\n", dz[i]);
        free(z), free(dz), free(tmp), free(w), free(y), free(yp);
        return 0;
    }
    if (argc == 10 && strcmp(argv[1], "mixdraw") == 0) {
        MixConfig c = {.mixup = strtof(argv[2], NULL), .cutmix = strtof(argv[3], NULL)};
        int S = atoi(argv[4]), nb = atoi(argv[5]), steps = atoi(argv[9]);
        uint64_t seed = strtoull(argv[6], NULL, 10), trial = strtoull(argv[7], NULL, 10);
        uint64_t step0 = strtoull(argv[8], NULL, 10);
        if (S < 1 || nb < 1 || steps < 1) return usage();
        int *partner = malloc(sizeof(int) * nb);
        for (int k = 0; k < steps; k++) {
            MixStep m;
            mix_draw(&m, partner, nb, &c, S, seed, trial, step0 + (uint64_t)k);
            printf("%d %.9g %d %d %d %d %d", m.kind, m.lam, m.y0, m.y1, m.x0, m.x1, m.side);
            for (int i = 0; i < nb; i++) printf(" %d", partner[i]);
            printf("\n");
        }
        free(partner);
        return 0;
    }
    if (argc == 10 && strcmp(argv[1], "mixapply") == 0) {
        MixStep m = {.kind = atoi(argv[2]), .lam = strtof(argv[3], NULL), .y0 = atoi(argv[4]),
                     .y1 = atoi(argv[5]), .x0 = atoi(argv[6]), .x1 = atoi(argv[7])};
        int S = atoi(argv[8]), N = atoi(argv[9]);
        if (S < 1 || N < 1) return usage();
        long n = (long)N * S * S;
        float *x = malloc(sizeof(float) * n), *xp = malloc(sizeof(float) * n);
        for (long i = 0; i < 2 * n; i++)
            if (scanf("%f", i < n ? &x[i] : &xp[i - n]) != 1) return usage();
        mix_images(x, xp, N, S, &m);
        for (long i = 0; i < n; i++) printf("%.9g\n", x[i]);
        free(x), free(xp);
        return 0;
    }
    return usage();
}
