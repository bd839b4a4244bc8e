/* layers.c: one small struct and one const ops table per layer type. Each
 * forward/backward is a thin wrapper over a kernel in ops.c. Layer-specific
 * state (kernel size, saved statistics, masks) lives in the layer's own struct,
 * whose first member is the common Layer. Construction lives in model.c.
 * Backward follows the mode of the last forward (Model.last_train): after an
 * eval forward, batch norm differentiates through its running statistics and
 * dropout passes gradients through, as the eval forward computed.
 * The residual block is one layer made of the same kernels (and the same
 * batch-norm code as the bn layer); its saved activations live in its struct,
 * its backward scratch is the model's (LayerCtx.res_scratch). */
#include "hipid/nn/layers.h"

#include <string.h>

#include "hipid/base/common.h"
#include "hipid/base/rng.h"
#include "hipid/nn/ops.h"

/* Backward of a convolution with t[0] = weight (OC,C,K,K), t[1] = bias,
 * padding K/2: fused, or in two timed calls when profiling (cx->t_w). */
static void conv_bwd_run(const TensorView *t, const LayerCtx *cx, const float *in, const float *dout, float *din,
                         int N, Shape s, int stride) {
    int oc = t[0].dims[0], k = t[0].dims[2];
    if (!cx->t_w) {
        conv2d_backward(din, t[0].grad, t[1].grad, dout, in, t[0].data, cx->col_scratch, cx->dw_scratch,
                        cx->n_threads, N, s.c, s.h, s.w, oc, k, stride, k / 2);
        return;
    }
    double t0 = now_seconds();
    conv2d_backward(NULL, t[0].grad, t[1].grad, dout, in, t[0].data, cx->col_scratch, cx->dw_scratch,
                    cx->n_threads, N, s.c, s.h, s.w, oc, k, stride, k / 2);
    *cx->t_w += now_seconds() - t0;
    if (din)
        conv2d_backward(din, NULL, NULL, dout, in, t[0].data, cx->col_scratch, cx->dw_scratch, cx->n_threads, N,
                        s.c, s.h, s.w, oc, k, stride, k / 2);
}

/* ---- conv2d ---- */
static void conv_forward(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    (void)train;
    ConvLayer *c = (ConvLayer *)l;
    conv2d_forward(out, in, l->tensors[0].data, l->tensors[1].data, cx->col_scratch, cx->n_threads,
                   N, l->in.c, l->in.h, l->in.w, l->out.c, c->k, c->stride, c->k / 2);
}
static void conv_backward(Layer *l, const LayerCtx *cx, const float *in, const float *out,
                          const float *dout, float *din, int N) {
    (void)out;
    conv_bwd_run(l->tensors, cx, in, dout, din, N, l->in, ((ConvLayer *)l)->stride);
}
const LayerOps conv_ops = {"conv", conv_forward, conv_backward};

/* ---- dense ---- */
static void dense_fwd(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    (void)train;
    dense_forward(out, in, l->tensors[0].data, l->tensors[1].data, cx->n_threads, N,
                  (int)shape_size(l->in), l->out.c);
}
static void dense_bwd(Layer *l, const LayerCtx *cx, const float *in, const float *out, const float *dout,
                      float *din, int N) {
    (void)out;
    int n_in = (int)shape_size(l->in);
    const TensorView *t = l->tensors;
    if (!cx->t_w) {
        dense_backward(din, t[0].grad, t[1].grad, dout, in, t[0].data, cx->n_threads, N, n_in, l->out.c);
        return;
    }
    double t0 = now_seconds();
    dense_backward(NULL, t[0].grad, t[1].grad, dout, in, t[0].data, cx->n_threads, N, n_in, l->out.c);
    *cx->t_w += now_seconds() - t0;
    if (din) dense_backward(din, NULL, NULL, dout, in, t[0].data, cx->n_threads, N, n_in, l->out.c);
}
const LayerOps dense_ops = {"dense", dense_fwd, dense_bwd};

/* ---- relu (in place when the model allows it) ---- */
static void relu_fwd(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    (void)train;
    relu_forward(out, in, N * shape_size(l->in), cx->n_threads);
}
static void relu_bwd(Layer *l, const LayerCtx *cx, const float *in, const float *out, const float *dout,
                     float *din, int N) {
    (void)in;
    if (din) relu_backward(din, dout, out, N * shape_size(l->in), cx->n_threads);
}
const LayerOps relu_ops = {"relu", relu_fwd, relu_bwd};

/* ---- batch norm ---- */

/* One batch norm over (N,C,HW) with tensors t[0..3] = weight, bias,
 * running_mean, running_var; mean/invstd (C) keep the batch statistics of a
 * training forward. Shared by the bn layer and the residual block. */
static void bn_run_forward(const TensorView *t, float *mean, float *invstd, const LayerCtx *cx,
                           const float *in, float *out, int N, int C, int HW, int train) {
    if (train)
        batchnorm_forward_train(out, mean, invstd, t[2].data, t[3].data, in, t[0].data, t[1].data, N, C, HW,
                                BN_MOMENTUM, BN_EPS, cx->n_threads);
    else
        batchnorm_forward_eval(out, in, t[2].data, t[3].data, t[0].data, t[1].data, N, C, HW, BN_EPS,
                               cx->n_threads);
}
/* din may be NULL. After an eval forward (cx->last_train == 0) the
 * statistics were constants: differentiate through the running ones. */
static void bn_run_backward(const TensorView *t, const float *mean, const float *invstd, const LayerCtx *cx,
                            const float *in, const float *dout, float *din, int N, int C, int HW) {
    if (!cx->last_train)
        batchnorm_backward_eval(din, t[0].grad, t[1].grad, dout, in, t[2].data, t[3].data, t[0].data, N, C, HW,
                                BN_EPS, cx->n_threads);
    else
        batchnorm_backward(din, t[0].grad, t[1].grad, dout, in, mean, invstd, t[0].data, N, C, HW,
                           cx->n_threads);
}

static void bn_fwd(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    BnLayer *b = (BnLayer *)l;
    bn_run_forward(l->tensors, b->mean, b->invstd, cx, in, out, N, l->in.c, l->in.h * l->in.w, train);
}
static void bn_bwd(Layer *l, const LayerCtx *cx, const float *in, const float *out, const float *dout,
                   float *din, int N) {
    (void)out;
    BnLayer *b = (BnLayer *)l;
    bn_run_backward(l->tensors, b->mean, b->invstd, cx, in, dout, din, N, l->in.c, l->in.h * l->in.w);
}
const LayerOps bn_ops = {"batchnorm", bn_fwd, bn_bwd};

/* ---- max pool ---- */
static void pool_fwd(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    (void)train;
    PoolLayer *p = (PoolLayer *)l;
    maxpool_forward(out, p->argmax, in, N, l->in.c, l->in.h, l->in.w, p->k, cx->n_threads);
}
static void pool_bwd(Layer *l, const LayerCtx *cx, const float *in, const float *out, const float *dout,
                     float *din, int N) {
    (void)in, (void)out;
    PoolLayer *p = (PoolLayer *)l;
    if (din) maxpool_backward(din, dout, p->argmax, N, l->in.c, l->in.h, l->in.w, p->k, cx->n_threads);
}
const LayerOps pool_ops = {"maxpool", pool_fwd, pool_bwd};

/* ---- global average pool ---- */
static void gap_fwd(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    (void)cx, (void)train;
    gap_forward(out, in, N, l->in.c, l->in.h * l->in.w);
}
static void gap_bwd(Layer *l, const LayerCtx *cx, const float *in, const float *out, const float *dout,
                    float *din, int N) {
    (void)cx, (void)in, (void)out;
    if (din) gap_backward(din, dout, N, l->in.c, l->in.h * l->in.w);
}
const LayerOps gap_ops = {"gap", gap_fwd, gap_bwd};

/* ---- dropout ---- */
static void drop_fwd(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    DropLayer *d = (DropLayer *)l;
    long n = N * shape_size(l->in);
    if (!train || d->p == 0.0f) {
        if (out != in) memcpy(out, in, sizeof(float) * n);
        return;
    }
    if (!cx->fixed_dropout) {
        /* one stream per (layer, step, position in the global batch): a sample's
         * mask does not depend on how the batch is cut into micro-batches */
        long per = shape_size(l->in);
        float keep = 1.0f / (1.0f - d->p);
        for (int s = 0; s < N; s++) {
            Rng r = rng_stream(cx->seed, 0xD500u + (uint64_t)d->index, cx->step,
                               (uint64_t)(cx->sample_base + s));
            float *mk = d->mask + (long)s * per;
            for (long i = 0; i < per; i++) mk[i] = rng_uniform(&r) < d->p ? 0.0f : keep;
        }
    }
    dropout_apply(out, in, d->mask, n);
}
static void drop_bwd(Layer *l, const LayerCtx *cx, const float *in, const float *out, const float *dout,
                     float *din, int N) {
    (void)cx, (void)in, (void)out;
    DropLayer *d = (DropLayer *)l;
    /* after an eval forward dropout was the identity */
    if (din) dropout_apply(din, dout, d->p == 0.0f || !cx->last_train ? NULL : d->mask, N * shape_size(l->in));
}
const LayerOps dropout_ops = {"dropout", drop_fwd, drop_bwd};

/* ---- flatten: a view, no work ---- */
static void flat_fwd(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    (void)l, (void)cx, (void)in, (void)out, (void)N, (void)train;
}
static void flat_bwd(Layer *l, const LayerCtx *cx, const float *in, const float *out, const float *dout,
                     float *din, int N) {
    (void)l, (void)cx, (void)in, (void)out, (void)dout, (void)din, (void)N;
}
const LayerOps flatten_ops = {"flatten", flat_fwd, flat_bwd};

/* ---- residual block (see ResLayer in layers.h) ---- */

/* Convolution with tensors t[0] = weight (OC,C,K,K), t[1] = bias, padding K/2. */
static void res_conv_fwd(const TensorView *t, const LayerCtx *cx, const float *in, float *out, int N, Shape s,
                         int stride) {
    int oc = t[0].dims[0], k = t[0].dims[2];
    conv2d_forward(out, in, t[0].data, t[1].data, cx->col_scratch, cx->n_threads, N, s.c, s.h, s.w, oc, k,
                   stride, k / 2);
}

static void res_fwd(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    ResLayer *r = (ResLayer *)l;
    Shape o = l->out;
    int hw = o.h * o.w;
    long n = N * shape_size(o);
    res_conv_fwd(&l->tensors[RES_CONV1], cx, in, r->a1, N, l->in, r->stride);
    bn_run_forward(&l->tensors[RES_BN1], r->mean[0], r->invstd[0], cx, r->a1, r->h1, N, o.c, hw, train);
    relu_forward(r->h1, r->h1, n, cx->n_threads);
    res_conv_fwd(&l->tensors[RES_CONV2], cx, r->h1, r->a2, N, o, 1);
    bn_run_forward(&l->tensors[RES_BN2], r->mean[1], r->invstd[1], cx, r->a2, out, N, o.c, hw, train);
    const float *skip = in;
    if (r->proj) {
        float *sp = cx->res_scratch; /* proj_bn output, only until the sum */
        res_conv_fwd(&l->tensors[RES_PCONV], cx, in, r->ap, N, l->in, r->stride);
        bn_run_forward(&l->tensors[RES_PBN], r->mean[2], r->invstd[2], cx, r->ap, sp, N, o.c, hw, train);
        skip = sp;
    }
    add_relu_forward(out, skip, n, cx->n_threads);
}

/* Scratch: g (N,out) the gradient at the sum, d1 (N,out) and d2 (N, max(in,
 * out)) for the gradients inside the block. din receives the projection's
 * input gradient (or g for the identity) plus conv1's. */
static void res_bwd(Layer *l, const LayerCtx *cx, const float *in, const float *out, const float *dout,
                    float *din, int N) {
    ResLayer *r = (ResLayer *)l;
    Shape o = l->out;
    int hw = o.h * o.w;
    long n = N * shape_size(o), n_in = N * shape_size(l->in);
    float *g = cx->res_scratch, *d1 = g + n, *d2 = d1 + n;
    relu_backward(g, dout, out, n, cx->n_threads);
    if (r->proj) { /* shortcut first: its input gradient initialises din */
        bn_run_backward(&l->tensors[RES_PBN], r->mean[2], r->invstd[2], cx, r->ap, g, d1, N, o.c, hw);
        conv_bwd_run(&l->tensors[RES_PCONV], cx, in, d1, din, N, l->in, r->stride);
    }
    bn_run_backward(&l->tensors[RES_BN2], r->mean[1], r->invstd[1], cx, r->a2, g, d1, N, o.c, hw);
    conv_bwd_run(&l->tensors[RES_CONV2], cx, r->h1, d1, d2, N, o, 1);
    relu_backward(d2, d2, r->h1, n, cx->n_threads);
    bn_run_backward(&l->tensors[RES_BN1], r->mean[0], r->invstd[0], cx, r->a1, d2, d1, N, o.c, hw);
    if (!din) { /* first layer: parameter gradients only */
        conv_bwd_run(&l->tensors[RES_CONV1], cx, in, d1, NULL, N, l->in, r->stride);
    } else if (r->proj) {
        conv_bwd_run(&l->tensors[RES_CONV1], cx, in, d1, d2, N, l->in, r->stride);
        add_inplace(din, d2, n_in, cx->n_threads);
    } else {
        conv_bwd_run(&l->tensors[RES_CONV1], cx, in, d1, din, N, l->in, r->stride);
        add_inplace(din, g, n_in, cx->n_threads);
    }
}
const LayerOps res_ops = {"res", res_fwd, res_bwd};
