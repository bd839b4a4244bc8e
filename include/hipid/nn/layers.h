/* layers.h: the concrete layer types. Each embeds Layer as its first member;
 * the ops tables are defined in layers.c, construction is in model.c. */
#ifndef HIPID_LAYERS_H
#define HIPID_LAYERS_H

#include "hipid/nn/model.h"

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
