/* bench_train.c: time training steps of one model on random 1xSxS inputs.
 * usage: bench_train MODEL THREADS [BATCH SIZE STEPS] [--profile]
 * Prints: hipid_img_s=<x> gflops=<x> peak_gflops=<x> rss_mb=<x>
 * peak_gflops is cblas_sgemm on a 2048^2 product with THREADS OpenBLAS threads,
 * measured in this run. Run each case in its own process so rss_mb is its own.
 * --profile (make bench PROFILE=1) adds a table: per layer and pass (forward,
 * input gradient, weight gradient) and for the optimiser, milliseconds per
 * step, GFLOP/s, GB/s of the least traffic the pass needs, and a roofline
 * bound max(flops / sgemm rate, bytes / triad bandwidth), both measured here.
 * bound/time is the share of that bound reached; above 100% a pass beat the
 * memory bound because its data came from cache. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/common.h"
#include "hipid/base/rng.h"
#include "hipid/nn/model.h"
#include "hipid/nn/ops.h"
#include "hipid/nn/optim.h"

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

/* STREAM's triad a = b + s c over 3 x 128 MB with `threads` threads: GB/s
 * counted as 3 x 4 bytes per element (best of 5). */
static double triad_gbs(int threads) {
    long n = 32L << 20;
    float *a = xmalloc_f32(n), *b = xmalloc_f32(n), *c = xmalloc_f32(n);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < n; i++) a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t = now_seconds();
#pragma omp parallel for simd num_threads(threads) schedule(static)
        for (long i = 0; i < n; i++) a[i] = b[i] + 0.5f * c[i];
        double g = 12.0 * n / (now_seconds() - t) / 1e9;
        best = g > best ? g : best;
    }
    if (a[n / 2] != 2.0f) fprintf(stderr, "bench_train: triad computed %g\n", a[n / 2]);
    free(a), free(b), free(c);
    return best;
}

typedef struct {
    double peak, bw; /* GFLOP/s, GB/s */
    double step_s;   /* seconds per step */
} Roof;

/* One row: what, seconds per step, flops and bytes per step. */
static void row(const Roof *rf, int i, const char *tok, const char *pass, double s, double fl, double by) {
    double bound = fl / (rf->peak * 1e9) > by / (rf->bw * 1e9) ? fl / (rf->peak * 1e9) : by / (rf->bw * 1e9);
    char idx[16] = "";
    if (i >= 0) snprintf(idx, sizeof idx, "%d", i);
    printf("profile %3s %-8s %-14s %8.2f %5.1f%% %8.1f %7.1f %8.2f %5.0f%%\n", idx, tok, pass, s * 1e3,
           100.0 * s / rf->step_s, fl / s / 1e9, by / s / 1e9, bound * 1e3, 100.0 * bound / s);
}

static void print_profile(const Model *m, const Roof *rf, int B, int steps, double t_zero, double t_loss,
                          double t_opt, int momentum_slots) {
    printf("profile  #  layer    pass            ms/step  share  GFLOP/s    GB/s bound_ms  bound/time\n");
    double tot = 0.0;
    int first = 0; /* the lowest layer with parameters computes no input gradient */
    while (first < m->n_layers && m->layers[first]->n_tensors == 0) first++;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = m->layers[i];
        const LayerTimes *t = &m->times[i];
        double fl = model_layer_flops(m, i) * B, in = 4.0 * shape_size(l->in) * B, out = 4.0 * shape_size(l->out) * B;
        double par = 0.0;
        for (int k = 0; k < l->n_tensors; k++)
            if (l->tensors[k].grad) par += 4.0 * l->tensors[k].size;
        double fwd = t->fwd / steps, bwd = t->bwd / steps, bw_w = t->bwd_w / steps;
        tot += fwd + bwd;
        if (l->in_place && fwd < 1e-5 && bwd < 1e-5) continue; /* flatten: a view */
        row(rf, i, l->label, "forward", fwd, fl, in + out + par);
        if (!t->n_bwd) continue;
        if (bw_w > 0.0) {
            row(rf, i, l->label, "weight grad", bw_w, fl, in + out + 2.0 * par);
            if (i > first) row(rf, i, l->label, "input grad", bwd - bw_w, fl, 2.0 * out + in + par);
        } else {
            row(rf, i, l->label, "backward", bwd, 0.0, 2.0 * out + in + 2.0 * par);
        }
    }
    double np = 4.0 * m->n_params;
    row(rf, -1, "grads", "zero", t_zero / steps, 0.0, np);
    row(rf, -1, "loss", "softmax-xent", t_loss / steps, 0.0, 0.0);
    row(rf, -1, "params", "optimiser", t_opt / steps, 0.0, np * (3 + 2 * momentum_slots));
    tot += (t_zero + t_loss + t_opt) / steps;
    printf("profile timed parts %.2f ms of a %.2f ms step (%.1f%%)\n", tot * 1e3, rf->step_s * 1e3,
           100.0 * tot / rf->step_s);
}

int main(int argc, char **argv) {
    int profile = argc > 1 && strcmp(argv[argc - 1], "--profile") == 0;
    if (profile) argc--;
    if (argc < 3) {
        fprintf(stderr, "usage: bench_train MODEL THREADS [BATCH SIZE STEPS] [--profile]\n");
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
    o->n_threads = threads;
    float *x = xmalloc_f32((size_t)B * S * S), *dz = xmalloc_f32((size_t)B * K);
    int *y = xmalloc(sizeof(int) * B);
    Rng r = rng_stream(3, 0, 0, 0);
    for (long i = 0; i < (long)B * S * S; i++) x[i] = rng_uniform(&r);
    for (int i = 0; i < B; i++) y[i] = i % K;
    /* the timed run, then (with --profile) the same steps again with timers */
    double img_s = 0.0, t_zero = 0.0, t_loss = 0.0, t_opt = 0.0;
    for (int pass = 0; pass < 1 + profile; pass++) {
        double t0 = 0;
        for (int s = -2; s < steps; s++) { /* two warm-up steps */
            if (s == 0) {
                t0 = now_seconds();
                if (pass == 1) model_profile(m, 1), t_zero = t_loss = t_opt = 0.0;
            }
            const float *z = model_forward(m, x, B, 1);
            double b = now_seconds();
            softmax_xent(dz, NULL, z, y, NULL, B, K);
            double c = now_seconds();
            model_zero_grads(m);
            double d = now_seconds();
            model_backward(m, dz, B);
            double f = now_seconds();
            optim_step(o, m->params, m->grads, 0.001f);
            double g = now_seconds();
            t_loss += c - b, t_zero += d - c, t_opt += g - f;
        }
        if (pass == 0) img_s = (double)steps * B / (now_seconds() - t0);
    }
    double gflops = 3.0 * model_forward_flops(m) * img_s / 1e9; /* forward + 2x backward */
    long rss = peak_rss_kb();
    double peak = sgemm_peak(threads);
    printf("hipid_img_s=%.1f gflops=%.1f peak_gflops=%.1f rss_mb=%.0f\n", img_s, gflops, peak, rss / 1024.0);
    if (profile) {
        Roof rf = {peak, triad_gbs(threads), B / img_s};
        printf("profile model=%s threads=%d batch=%d size=%d: %.1f img/s, %.1f GFLOP/s = %.0f%% of sgemm's %.1f;"
               " triad %.1f GB/s\n", spec, threads, B, S, img_s, gflops, 100.0 * gflops / peak, peak, rf.bw);
        print_profile(m, &rf, B, steps, t_zero, t_loss, t_opt, oc.momentum != 0.0f);
    }
    free(x), free(dz), free(y);
    optim_free(o);
    model_free(m);
    return 0;
}
