/* layers.c: one small struct and one const ops table per layer type. Each
 * forward/backward is a thin wrapper over a kernel in ops.c. Layer-specific
 * state (kernel size, saved statistics, masks) lives in the layer's own struct,
 * whose first member is the common Layer. Construction lives in model.c.
 * Backward follows the mode of the last forward (Model.last_train): after an
 * eval forward, batch norm differentiates through its running statistics and
 * dropout passes gradients through, as the eval forward computed. */
#include "hipid/nn/layers.h"

#include <string.h>

#include "hipid/nn/ops.h"
#include "hipid/base/rng.h"

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
    ConvLayer *c = (ConvLayer *)l;
    conv2d_backward(din, l->tensors[0].grad, l->tensors[1].grad, dout, in, l->tensors[0].data,
                    cx->col_scratch, cx->dw_scratch, cx->n_threads, N, l->in.c, l->in.h, l->in.w,
                    l->out.c, c->k, c->stride, c->k / 2);
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
    dense_backward(din, l->tensors[0].grad, l->tensors[1].grad, dout, in, l->tensors[0].data,
                   cx->n_threads, N, (int)shape_size(l->in), l->out.c);
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
static void bn_fwd(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train) {
    BnLayer *b = (BnLayer *)l;
    int hw = l->in.h * l->in.w;
    if (train)
        batchnorm_forward_train(out, b->mean, b->invstd, l->tensors[2].data, l->tensors[3].data,
                                in, l->tensors[0].data, l->tensors[1].data, N, l->in.c, hw,
                                b->momentum, b->eps, cx->n_threads);
    else
        batchnorm_forward_eval(out, in, l->tensors[2].data, l->tensors[3].data,
                               l->tensors[0].data, l->tensors[1].data, N, l->in.c, hw, b->eps,
                               cx->n_threads);
}
static void bn_bwd(Layer *l, const LayerCtx *cx, const float *in, const float *out, const float *dout,
                   float *din, int N) {
    (void)out;
    BnLayer *b = (BnLayer *)l;
    if (!cx->last_train) { /* after an eval forward: the statistics were constants */
        batchnorm_backward_eval(din, l->tensors[0].grad, l->tensors[1].grad, dout, in, l->tensors[2].data,
                                l->tensors[3].data, l->tensors[0].data, N, l->in.c, l->in.h * l->in.w,
                                b->eps, cx->n_threads);
        return;
    }
    batchnorm_backward(din, l->tensors[0].grad, l->tensors[1].grad, dout, in, b->mean, b->invstd,
                       l->tensors[0].data, N, l->in.c, l->in.h * l->in.w, cx->n_threads);
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
