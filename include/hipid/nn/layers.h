/* layers.h: what a layer is (Layer, its ops table, its tensors) and the
 * concrete layer types. Each type embeds Layer as its first member; the ops
 * tables are defined in layers.c, construction is in model.c. Layers know
 * nothing of the Model: a pass hands them a LayerCtx. */
#ifndef HIPID_LAYERS_H
#define HIPID_LAYERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int c, h, w; /* flat vectors are (c,1,1) */
} Shape;

static inline long shape_size(Shape s) { return (long)s.c * s.h * s.w; }

/* One named tensor of a layer: a view into the model's blocks. */
typedef struct {
    char name[32];       /* "weight", "bias", "running_mean", "running_var"; a residual
                          * block prefixes its parts: "conv1.weight", "bn1.running_var" */
    int ndim, dims[4];
    long size;
    float *data;         /* into Model.params or Model.buffers */
    float *grad;         /* into Model.grads, NULL for buffers */
} TensorView;

typedef struct Layer Layer;

/* A residual block has the most: 3 convolutions (weight, bias) and 3 batch
 * norms (weight, bias, running_mean, running_var). */
#define LAYER_MAX_TENSORS 18

/* Batch norm as PyTorch's defaults, for the bn layer and inside residual blocks. */
#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f

/* What a layer needs from the network that runs it: scratch space, threads,
 * and the keys of the dropout stream. model.c fills one per pass from the
 * Model; layers never see the Model itself. */
typedef struct {
    float *col_scratch;   /* conv scratch: the largest conv2d_scratch_floats() */
    float *dw_scratch;    /* conv per-thread gradient partials */
    float *res_scratch;   /* residual blocks: the largest res_scratch_floats() */
    int n_threads;
    uint64_t seed;        /* dropout stream seed */
    uint64_t step;        /* optimiser steps so far */
    long sample_base;     /* position of this pass's first sample in its global batch */
    int fixed_dropout;    /* tests: keep dropout masks set by hand */
    int last_train;       /* `train` of the last forward; backward follows that mode */
    double *t_w;          /* profiling: seconds of weight gradients are added here, the
                           * weight and input gradients computed apart; NULL: fused */
} LayerCtx;

typedef struct {
    const char *name;
    /* out: (N, l->out); in: (N, l->in). train selects batch statistics/dropout. */
    void (*forward)(Layer *l, const LayerCtx *cx, const float *in, float *out, int N, int train);
    /* din may be NULL (first layer); accumulates into parameter gradients. */
    void (*backward)(Layer *l, const LayerCtx *cx, const float *in, const float *out,
                     const float *dout, float *din, int N);
} LayerOps;

struct Layer {
    const LayerOps *ops;
    char label[24];       /* the spec token, e.g. "c16" */
    Shape in, out;
    int in_place;         /* output aliases input (relu, flatten) */
    int n_tensors;
    TensorView tensors[LAYER_MAX_TENSORS];
};

typedef struct {
    Layer base;
    int k, stride; /* padding is k/2 */
} ConvLayer;

typedef struct {
    Layer base;           /* momentum BN_MOMENTUM, eps BN_EPS */
    float *mean, *invstd; /* (C) batch statistics of the last training forward */
} BnLayer;

typedef struct {
    Layer base;
    int k;
    int32_t *argmax; /* (max_batch, out) */
} PoolLayer;

typedef struct {
    Layer base;
    int index;   /* layer index: keys the mask stream */
    float p;
    float *mask; /* (max_batch, in) of 0 or 1/(1-p) */
} DropLayer;

/* Basic ResNet block (torchvision's BasicBlock, but every convolution keeps
 * its bias, as hipid's conv layer does, so the PyTorch twin is an exact copy):
 *   main:     conv1 3x3 (C->N, stride S, pad 1) -> bn1 -> relu -> conv2 3x3 (N->N, pad 1) -> bn2
 *   shortcut: identity if C == N and S == 1, else proj_conv 1x1 (C->N, stride S) -> proj_bn
 *   out = relu(main + shortcut)
 * Tensors in PyTorch's state_dict order of a module with attributes conv1,
 * bn1, conv2, bn2[, proj_conv, proj_bn]: per convolution weight, bias; per
 * batch norm weight, bias, running_mean, running_var (BN_MOMENTUM, BN_EPS,
 * the same kernels and modes as the bn layer). Constants for the offsets: */
enum { RES_CONV1 = 0, RES_BN1 = 2, RES_CONV2 = 6, RES_BN2 = 8, RES_PCONV = 12, RES_PBN = 14 };

typedef struct {
    Layer base;
    int stride, proj;     /* proj: 1x1 projection shortcut */
    /* saved for backward, each (max_batch, out): */
    float *a1;            /* conv1 output (bn1 input) */
    float *h1;            /* relu(bn1(a1)), conv2 input */
    float *a2;            /* conv2 output (bn2 input) */
    float *ap;            /* proj_conv output (proj_bn input), NULL without projection */
    float *mean[3], *invstd[3]; /* (out.c) batch statistics of bn1, bn2, proj_bn */
} ResLayer;

/* Floats of LayerCtx.res_scratch one forward/backward of r needs at batch B. */
static inline long res_scratch_floats(const ResLayer *r, int B) {
    long mid = shape_size(r->base.out), in = shape_size(r->base.in);
    return (long)B * (2 * mid + (in > mid ? in : mid));
}

extern const LayerOps conv_ops, dense_ops, relu_ops, bn_ops, pool_ops, gap_ops, dropout_ops,
    flatten_ops, res_ops;

#endif
