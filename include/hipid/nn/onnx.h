/* onnx.h: a Model as an ONNX file (the only writer of the format; the
 * generated protobuf-c code of onnx.proto is used by src/nn/onnx.c alone).
 *
 * The file is the eval-mode inference graph, opset ONNX_OPSET (IR version
 * ONNX_IR_VERSION):
 *   input  "image"  float [N,1,S,S], N symbolic: the prepared 8-bit image's
 *                   pixel values as floats in 0..255
 *   Div 255, Sub input_mean, Div input_std   (the trainer's standardisation,
 *                   the same float operations in the same order)
 *   one or more nodes per layer: conv -> Conv; bn -> BatchNormalization with
 *   its running statistics (epsilon BN_EPS); r -> Relu; mp<K> -> MaxPool K/K;
 *   gap -> GlobalAveragePool + Flatten; fl -> Flatten; fc -> Gemm (transB;
 *   a Flatten first if its input is still an image); do<P> -> nothing
 *   (dropout is the identity at inference); res<N>[s<S>] -> Conv,
 *   BatchNormalization, Relu, Conv, BatchNormalization, [Conv,
 *   BatchNormalization on the shortcut,] Add, Relu
 *   Softmax (axis 1) -> output "probabilities" float [N,K]
 * Initializers are named as the checkpoint's tensors, "NN.<layer>.<tensor>".
 * Metadata (ModelProto.metadata_props): class_names (a JSON array of the K
 * names, in output order), preprocessing (hipid prep's description string),
 * input_size (S), input (what "image" holds), input_mean, input_std, spec,
 * then the caller's extra keys (provenance). docs/export.md has the list.
 * Does not read trial files or images: the caller hands in plain data.
 */
#ifndef HIPID_ONNX_H
#define HIPID_ONNX_H

#include "hipid/base/common.h"
#include "hipid/nn/model.h"

#define ONNX_OPSET 13
#define ONNX_IR_VERSION 7

typedef struct {
    char *const *class_names;   /* (n_classes), n_classes == m->n_classes */
    int n_classes;
    const char *preprocessing;  /* the data set's preprocessing string */
    const char *const *keys;    /* (n_extra) further metadata, e.g. "hipid.trial_file" */
    const char *const *values;  /* (n_extra) */
    int n_extra;
} OnnxInfo;

/* Check that every layer of m has an ONNX form; else fill e with one line
 * naming the first layer that has none. */
int onnx_check_model(const Model *m, ErrBuf *e);

/* Write m and info to path as an ONNX ModelProto: to a temporary file in
 * path's folder, then renamed over path, so path is either the whole model
 * or untouched. Fails with one line in e naming path (a folder, an
 * unwritable place, a full disk) or the layer that cannot be exported;
 * then nothing is left behind. */
int onnx_write(const Model *m, const OnnxInfo *info, const char *path, ErrBuf *e);

#endif
