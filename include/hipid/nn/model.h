/* model.h: a sequential network built from a spec string, with one contiguous
 * parameter block, a matching gradient block and a block of non-trained
 * buffers (batch-norm running statistics).
 *
 * Spec strings (comma separated, case sensitive; the classifier "fc<K>" is
 * appended automatically, K taken from the data):
 *   c<OC>[k<K>][s<S>]  conv2d, OC out channels, odd kernel K (default 3),
 *                      stride S (1 or 2, default 1), zero padding K/2
 *   res<N>[s<S>]       basic ResNet block, N out channels, stride S (1 or 2,
 *                      default 1): relu(bn(conv3x3(relu(bn(conv3x3 sS(x))))) +
 *                      shortcut), the shortcut the identity if the input has N
 *                      channels and S is 1, else bn(conv1x1 sS(x)); every
 *                      convolution has a bias (ResLayer in layers.h)
 *   r                  ReLU
 *   bn                 batch norm (2d on images, 1d on flat vectors)
 *   mp[<K>]            max pool, window and stride K (default 2)
 *   gap                global average pool -> flat (C)
 *   do<P>              inverted dropout with probability P in [0,1)
 *   fl                 flatten (inserted automatically before fc on images)
 *   fc<N>              dense layer with N outputs
 * Bounds: at most MODEL_MAX_CHANNELS channels (c, res), kernels of at most
 * MODEL_MAX_KERNEL, at most MODEL_MAX_UNITS units (fc), flat vectors of at
 * most INT_MAX values; and a model must fit in memory (model_check_memory).
 * Presets: "cnn-paper", "dnn-paper" and "resnet-small" (see model.c for their
 * spec strings).
 *
 * Parameter order in the block is layer order, weight then bias, exactly as
 * torch.nn.Sequential(...).parameters() enumerates the same network (a
 * residual block counts as one module with submodules conv1, bn1, conv2, bn2
 * [, proj_conv, proj_bn]; tests/torch_ref.py has its twin). Checkpoint
 * tensors are named "NN.<layer>.<tensor>", e.g. "03.res.bn1.running_var".
 * Ownership: the Model owns everything it points to; model_free(NULL) is a no-op.
 */
#ifndef HIPID_MODEL_H
#define HIPID_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

#include "hipid/base/common.h"
#include "hipid/nn/layers.h"

typedef struct Model Model;

/* Seconds one layer spent, summed over the passes since model_profile(m, 1):
 * forward, backward in all, and the weight-gradient part of the backward
 * (convolutions and dense layers, in residual blocks too; the rest of the
 * backward is the input gradient). */
typedef struct {
    double fwd, bwd, bwd_w;
    long n_fwd, n_bwd;
} LayerTimes;

struct Model {
    char spec[1024];      /* full spec, classifier included */
    Shape in;
    int n_classes;
    int n_layers;
    Layer **layers;
    size_t n_params, n_buffers;
    float *params;        /* (n_params) */
    float *grads;         /* (n_params) */
    float *buffers;       /* (n_buffers) */
    int max_batch, n_threads;
    float **acts;         /* acts[i]: input of layer i, acts[n_layers]: logits */
    float *dbuf[2];       /* ping-pong gradient buffers, max_batch * max act size */
    float *col_scratch;   /* conv scratch: the largest conv2d_scratch_floats() */
    float *dw_scratch;    /* conv per-thread gradient partials */
    float *res_scratch;   /* residual blocks: the largest res_scratch_floats() */
    size_t n_bytes;       /* heap bytes of all the above (memory estimates) */
    float input_mean;     /* inputs are standardised (v - mean) / std before */
    float input_std;      /* model_forward; train sets them, checkpoints keep them */
    uint64_t seed;        /* dropout stream seed */
    uint64_t step;        /* optimiser steps so far: keys dropout masks with sample_base */
    long sample_base;     /* position of this forward's first sample in its global batch */
    int fixed_dropout;    /* tests: keep dropout masks set by hand */
    int last_train;       /* `train` of the last model_forward; backward follows that mode */
    LayerTimes *times;    /* (n_layers) while profiling (model_profile), else NULL */
};

#define MODEL_MAX_CHANNELS 65535
#define MODEL_MAX_KERNEL 255
#define MODEL_MAX_SIDE 65536 /* input height and width */
#define MODEL_MAX_UNITS 100000000

/* Expand a preset name to its spec; returns NULL if name is not a preset. */
const char *model_preset_spec(const char *name);

/* Build a model for inputs of shape `in` and n_classes outputs, parameters
 * initialised as PyTorch's defaults from `seed`. Returns NULL and fills e
 * on a malformed spec (message names the token and what was expected) or
 * one that does not fit in memory (model_check_memory). */
Model *model_create(const char *spec_or_preset, Shape in, int n_classes, int max_batch,
                    int n_threads, uint64_t seed, ErrBuf *e);
void model_free(Model *m);

/* Does the spec build for inputs of shape `in` (its tokens, their bounds and
 * the shapes they meet)? Allocates nothing for data, checks no memory. */
int model_check_spec(const char *spec_or_preset, Shape in, int n_classes, ErrBuf *e);

/* Would model_create(spec_or_preset, in, n_classes, max_batch, n_threads)
 * fit in memory, with extra_copies more copies of its parameters and buffers
 * (a trainer's optimiser state and best weights)? Every layer's parameters
 * (with gradients), activations for max_batch and convolution scratch are
 * summed in double arithmetic, so no size overflows, and compared with
 * mem_available_bytes(); nothing is allocated for data. HIPID_ERR with the
 * spec's parse error, or one line naming the layer that takes the most (its
 * 1-based index among the built layers and its token), e.g. "layer 1
 * 'c4096': 8.6 GB of activations for batch 512 at 64x64 (9.1 GB in all),
 * more than the 7.8 GB available". *bytes (if not NULL) gets the total.
 * model_create runs this check (extra_copies 0) before allocating. */
int model_check_memory(const char *spec_or_preset, Shape in, int n_classes, int max_batch, int n_threads,
                       int extra_copies, double *bytes, ErrBuf *e);

/* Re-initialise parameters and buffers as PyTorch does, from seed. */
void model_init_params(Model *m, uint64_t seed);

/* Forward x (N, in) -> logits (N, n_classes), N <= max_batch. The returned
 * pointer is owned by the model and valid until the next forward. */
const float *model_forward(Model *m, const float *x, int N, int train);
/* Backward from dlogits (N, n_classes) after a training forward of the same
 * batch; ACCUMULATES into m->grads (call model_zero_grads first). */
void model_backward(Model *m, const float *dlogits, int N);

/* Gradient of sum(dlogits * logits) with respect to the output of layer
 * `layer` (0 <= layer < n_layers: the activation m->acts[layer + 1], shape
 * m->layers[layer]->out), or with respect to the input x when layer == -1
 * (shape m->in). Call it after model_forward of the same N samples, training
 * or eval: the gradient is that of the function that forward computed (after
 * an eval forward, batch norm uses its running statistics and dropout is the
 * identity). Writes grad_out (N, size of that shape); like model_backward it
 * also accumulates parameter gradients, of the layers above `layer`, into
 * m->grads (harmless for inference; zero them before training on). For
 * saliency maps (Grad-CAM, input gradients). */
void model_backward_to(Model *m, const float *dlogits, int N, int layer, float *grad_out);
void model_zero_grads(Model *m);

/* Dropout mask of layer i, (max_batch, size) floats, or NULL if it is not a
 * dropout layer. Tests fill it and set m->fixed_dropout = 1. */
float *model_dropout_mask(Model *m, int i);

/* Checkpoints: HDF5 files of format MODEL_FORMAT, one dataset per tensor. */
#define MODEL_FORMAT "hipid-model"
#define MODEL_FORMAT_VERSION 1

/* Checkpoints: HDF5, one dataset per tensor, format version attribute.
 * Written to PATH.tmp then renamed. */
int model_save(const Model *m, const char *path, ErrBuf *e);
Model *model_load(const char *path, int max_batch, int n_threads, ErrBuf *e);

/* Weights inside another file (sweep trial files): attributes spec,
 * input_shape, n_classes, input_mean, input_std on loc, and one group per
 * layer with parameters, "NN.<layer>/<tensor>" (e.g. "00.conv/weight"). */
int model_write_h5(const Model *m, hid_t loc);
Model *model_read_h5(hid_t loc, const char *path, int max_batch, int n_threads, ErrBuf *e);

/* Floating-point operations (2 per multiply-add) of one forward pass of one
 * image (for GFLOP/s reports); model_layer_flops: of layer i alone (0 for
 * layers without convolutions or dense products). */
double model_forward_flops(const Model *m);
double model_layer_flops(const Model *m, int i);

/* Profiling (hipid's bench, `make bench PROFILE=1`): on = 1 starts (or
 * restarts) per-layer timers in m->times, on = 0 frees them. A profiled
 * backward computes the weight and input gradients of a layer in two calls
 * instead of one, so the parts can be timed; the results are bit-identical. */
void model_profile(Model *m, int on);

#endif
