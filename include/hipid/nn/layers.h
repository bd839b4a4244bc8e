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
    char name[32];       /* "weight", "bias", "running_mean", "running_var" */
    int ndim, dims[4];
    long size;
    float *data;         /* into Model.params or Model.buffers */
    float *grad;         /* into Model.grads, NULL for buffers */
} TensorView;

typedef struct Layer Layer;

/* What a layer needs from the network that runs it: scratch space, threads,
 * and the keys of the dropout stream. model.c fills one per pass from the
 * Model; layers never see the Model itself. */
typedef struct {
    float *col_scratch;   /* conv scratch: the largest conv2d_scratch_floats() */
    float *dw_scratch;    /* conv per-thread gradient partials */
    int n_threads;
    uint64_t seed;        /* dropout stream seed */
    uint64_t step;        /* optimiser steps so far */
    long sample_base;     /* position of this pass's first sample in its global batch */
    int fixed_dropout;    /* tests: keep dropout masks set by hand */
    int last_train;       /* `train` of the last forward; backward follows that mode */
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
    TensorView tensors[4];
};

typedef struct {
    Layer base;
    int k, stride; /* padding is k/2 */
} ConvLayer;

typedef struct {
    Layer base;
    float momentum, eps;
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

extern const LayerOps conv_ops, dense_ops, relu_ops, bn_ops, pool_ops, gap_ops, dropout_ops,
    flatten_ops;

#endif
