/* bench_train.c: time training steps of one model on random 1xSxS inputs.
 * usage: bench_train MODEL THREADS [BATCH SIZE STEPS]
 * Prints: hipid_img_s=<x> gflops=<x> peak_gflops=<x> rss_mb=<x>
 * peak_gflops is cblas_sgemm on a 2048^2 product with THREADS OpenBLAS threads,
 * measured in this run. Run each case in its own process so rss_mb is its own. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "hipid/base/common.h"
#include "hipid/nn/model.h"
#include "hipid/nn/ops.h"
#include "hipid/nn/optim.h"
#include "hipid/base/rng.h"

static double sgemm_peak(int threads) {
    int n = 2048;
    float *a = xmalloc_f32((size_t)n * n), *b = xmalloc_f32((size_t)n * n), *c = xmalloc_f32((size_t)n * n);
    Rng r = rng_stream(7, 0, 0, 0);
    for (long i = 0; i < (long)n * n; i++) a[i] = rng_uniform(&r), b[i] = rng_uniform(&r);
    openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t = now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double g = 2.0 * n * n * n / (now_seconds() - t) / 1e9;
        best = g > best ? g : best;
    }
    openblas_set_num_threads(1);
    free(a), free(b), free(c);
    return best;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_train MODEL THREADS [BATCH SIZE STEPS]\n");
        return 2;
    }
    const char *spec = argv[1];
    int threads = atoi(argv[2]), B = argc > 3 ? atoi(argv[3]) : 32, S = argc > 4 ? atoi(argv[4]) : 128;
    int steps = argc > 5 ? atoi(argv[5]) : 10, K = 2;
    ErrBuf e;
    Model *m = model_create(spec, (Shape){1, S, S}, K, B, threads, 1, &e);
    if (!m) {
        fprintf(stderr, "bench_train: %s\n", e.msg);
        return 2;
    }
    OptConfig oc = optim_defaults();
    Optim *o = optim_create(oc, m->n_params);
    float *x = xmalloc_f32((size_t)B * S * S), *dz = xmalloc_f32((size_t)B * K);
    int *y = xmalloc(sizeof(int) * B);
    Rng r = rng_stream(3, 0, 0, 0);
    for (long i = 0; i < (long)B * S * S; i++) x[i] = rng_uniform(&r);
    for (int i = 0; i < B; i++) y[i] = i % K;
    double t0 = 0;
    for (int s = -2; s < steps; s++) { /* two warm-up steps */
        if (s == 0) t0 = now_seconds();
        const float *z = model_forward(m, x, B, 1);
        softmax_xent(dz, NULL, z, y, NULL, B, K);
        model_zero_grads(m);
        model_backward(m, dz, B);
        optim_step(o, m->params, m->grads, 0.001f);
    }
    double img_s = (double)steps * B / (now_seconds() - t0);
    double gflops = 3.0 * model_forward_flops(m) * img_s / 1e9; /* forward + 2x backward */
    long rss = peak_rss_kb();
    double peak = sgemm_peak(threads);
    printf("hipid_img_s=%.1f gflops=%.1f peak_gflops=%.1f rss_mb=%.0f\n", img_s, gflops, peak, rss / 1024.0);
    free(x), free(dz), free(y);
    optim_free(o);
    model_free(m);
    return 0;
}
