/* test_backward_to.c: model_backward_to against finite differences.
 *
 * A small net with every layer type that matters for saliency (conv, relu,
 * batch norm with non-trivial running statistics, max pool, flatten, dense,
 * dropout), two samples, eval mode, f(x) = sum(w * logits) for fixed random w:
 * - the input gradient (layer -1) matches central differences of f in
 *   98% of the coordinates to 1e-3 of max|g| (the rest may sit next to a
 *   ReLU or max-pool kink);
 * - the gradient at an inner layer's output (the max pool, as Grad-CAM reads
 *   it) equals the input gradient of a second model made of the layers above
 *   it with the same parameters, and that matches finite differences too;
 * - after a training forward, model_backward_to(-1) accumulates the same
 *   parameter gradients as model_backward (behaviour unchanged);
 * - the same input and inner-layer checks through residual blocks (identity
 *   and projection shortcut; batch norms inside them on running statistics).
 * Prints the largest differences. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/nn/model.h"
#include "testutil.h"

#define N 2
#define K 3

static double f_of(Model *m, const float *x, const float *w) {
    return tu_dot(model_forward(m, x, N, 0), w, (long)N * K);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Central differences of f at every coordinate of x (n floats), relative to
 * max|g|: returns the 98th percentile of the differences (a few coordinates
 * sit next to a ReLU or max-pool kink), the largest in *worst. */
static double fd_check(Model *m, float *x, long n, const float *g, const float *w, double *worst) {
    double gmax = 0.0, h = 2e-3, *d = xmalloc(sizeof(double) * n);
    for (long i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
    for (long i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + (float)h;
        double fp = f_of(m, x, w);
        x[i] = keep - (float)h;
        double fm = f_of(m, x, w);
        x[i] = keep;
        d[i] = fabs((fp - fm) / (2 * h) - g[i]) / gmax;
    }
    qsort(d, n, sizeof *d, cmp_double);
    double p98 = d[(long)(0.98 * (n - 1))];
    *worst = d[n - 1];
    free(d);
    return p98;
}

/* t: weight, bias, running_mean, running_var of one batch norm */
static void randomise_bn_tensors(TensorView *t, Rng *r) {
    tu_fill(t[0].data, t[0].size, 0.5f, 1.5f, r);  /* gamma */
    tu_fill(t[1].data, t[1].size, -0.3f, 0.3f, r); /* beta */
    tu_fill(t[2].data, t[2].size, -0.2f, 0.2f, r); /* running mean */
    tu_fill(t[3].data, t[3].size, 0.3f, 1.5f, r);  /* running var */
}

static void randomise_bn(Model *m, Rng *r) {
    for (int i = 0; i < m->n_layers; i++) {
        Layer *l = m->layers[i];
        if (l->ops == &bn_ops) randomise_bn_tensors(l->tensors, r);
        if (l->ops == &res_ops)
            for (int t = RES_BN1; t < l->n_tensors; t += t == RES_BN1 ? RES_BN2 - RES_BN1 : RES_PBN - RES_BN2)
                randomise_bn_tensors(&l->tensors[t], r);
    }
}

static void copy_tensors(Model *dst, int dst_first, const Model *src, int src_first) {
    for (int i = src_first; i < src->n_layers; i++)
        for (int t = 0; t < src->layers[i]->n_tensors; t++)
            memcpy(dst->layers[i - src_first + dst_first]->tensors[t].data, src->layers[i]->tensors[t].data,
                   sizeof(float) * src->layers[i]->tensors[t].size);
}

/* Model a's input gradient on x (the logits weighted by w) against finite
 * differences, and its gradient at the output of layer L against the input
 * gradient of b, a model of a's layers after L with the same parameters
 * (and against finite differences through b). tag prefixes the messages. */
static void check_grads(const char *tag, Model *a, Model *b, int L, const float *x, const float *w) {
    long nx = N * shape_size(a->in), nl = N * shape_size(a->layers[L]->out);
    float *gx = xmalloc_f32(nx), *gl = xmalloc_f32(nl), *act = xmalloc_f32(nl), *gb = xmalloc_f32(nl);
    float *xc = xmalloc_f32(nx);
    memcpy(xc, x, sizeof(float) * nx);

    /* input gradient */
    model_forward(a, xc, N, 0);
    model_zero_grads(a);
    model_backward_to(a, w, N, -1, gx);
    double worst, p98 = fd_check(a, xc, nx, gx, w, &worst);
    double gnorm = sqrt(tu_dot(gx, gx, nx));
    EXPECT(gnorm > 1e-3, "%sinput gradient is (nearly) zero: %g", tag, gnorm);
    EXPECT(p98 < 1e-3, "%sinput gradient: 98th percentile of differences %.3g of max|g|", tag, p98);
    printf("max %sinput-gradient difference vs finite differences: %.3g of max|g| (98th percentile %.3g)\n", tag,
           worst, p98);

    /* gradient at layer L's output = input gradient of the tail model */
    model_forward(a, xc, N, 0);
    memcpy(act, a->acts[L + 1], sizeof(float) * nl);
    float zsave[N * K];
    memcpy(zsave, a->acts[a->n_layers], sizeof zsave);
    model_backward_to(a, w, N, L, gl);
    double dz = tu_norm_rel(model_forward(b, act, N, 0), zsave, N * K, 1e-6);
    EXPECT(dz < 1e-6, "%stail model logits differ: %g", tag, dz);
    model_backward_to(b, w, N, -1, gb);
    double dg = tu_norm_rel(gl, gb, nl, 1e-6);
    EXPECT(dg < 1e-6, "%sgradient at layer %d differs from the tail model's input gradient: %g", tag, L, dg);
    p98 = fd_check(b, act, nl, gb, w, &worst);
    EXPECT(p98 < 1e-3, "%slayer gradient: 98th percentile of differences %.3g of max|g|", tag, p98);
    printf("max %slayer-%d-gradient difference: %.3g vs tail model, %.3g of max|g| vs finite differences "
           "(98th percentile %.3g)\n", tag, L, dg, worst, p98);
    free(gx), free(gl), free(act), free(gb), free(xc);
}

/* Residual blocks (identity shortcut, then a projection at stride 2), with
 * the tail model made of the second block (and the classifier). */
static void res_case(Rng *r) {
    ErrBuf e = {{0}};
    Shape in = {1, 8, 8};
    const int L = 3; /* res4: output (4,8,8) */
    Model *a = model_create("c4,bn,r,res4,res6s2", in, K, N, 2, 3, &e);
    REQUIRE(a, "model_create: %s", e.msg);
    Model *b = model_create("res6s2", a->layers[L]->out, K, N, 2, 4, &e);
    REQUIRE(b && b->n_layers == a->n_layers - L - 1, "tail model: %s", b ? "wrong number of layers" : e.msg);
    randomise_bn(a, r);
    copy_tensors(b, 0, a, L + 1);
    long nx = N * shape_size(in);
    float *x = xmalloc_f32(nx), *w = xmalloc_f32(N * K);
    tu_fill(x, nx, -1.0f, 1.0f, r);
    tu_fill(w, N * K, -1.0f, 1.0f, r);
    check_grads("res ", a, b, L, x, w);
    free(x), free(w);
    model_free(a);
    model_free(b);
}

int main(void) {
    ErrBuf e = {{0}};
    Rng r = rng_stream(5, 0, 0, 0);
    Shape in = {1, 10, 10};
    const char *spec = "c4,r,bn,mp2,c3,r,bn,fl,fc8,r,do0.3";
    const int L = 3; /* the max pool: output (4,5,5) */
    Model *a = model_create(spec, in, K, N, 2, 3, &e);
    REQUIRE(a, "model_create(%s): %s", spec, e.msg);
    Model *b = model_create("c3,r,bn,fl,fc8,r,do0.3", a->layers[L]->out, K, N, 2, 4, &e);
    REQUIRE(b && b->n_layers == a->n_layers - L - 1, "tail model: %s", b ? "wrong number of layers" : e.msg);
    randomise_bn(a, &r);
    copy_tensors(b, 0, a, L + 1);

    long nx = N * shape_size(in);
    float *x = xmalloc_f32(nx), *w = xmalloc_f32(N * K), *gx = xmalloc_f32(nx);
    tu_fill(x, nx, -1.0f, 1.0f, &r);
    tu_fill(w, N * K, -1.0f, 1.0f, &r);
    check_grads("", a, b, L, x, w); /* L: the max pool */

    /* training mode: parameter gradients as model_backward's */
    float *g1 = xmalloc_f32(a->n_params);
    model_zero_grads(a);
    model_forward(a, x, N, 1);
    model_backward(a, w, N);
    memcpy(g1, a->grads, sizeof(float) * a->n_params);
    model_zero_grads(a);
    a->fixed_dropout = 1; /* same masks as the forward above */
    a->step--;
    model_forward(a, x, N, 1);
    model_backward_to(a, w, N, -1, gx);
    double dp = tu_norm_rel(a->grads, g1, (long)a->n_params, 1e-6);
    EXPECT(dp == 0.0, "training mode: parameter gradients differ from model_backward's: %g", dp);
    printf("max training-mode parameter-gradient difference vs model_backward: %g\n", dp);

    free(g1);
    free(x);
    free(w);
    free(gx);
    model_free(a);
    model_free(b);
    res_case(&r);
    return tu_exit_status();
}
