/* tta.h: test-time augmentation, the one definition the sweep's stored
 * predictions and `hipid predict` share.
 *
 * "none": the logits of one eval forward. "flip": the image and its
 * horizontal mirror (columns reversed; the training augmentation's flip)
 * each go through an eval forward, and the returned logits are
 * log((softmax(z) + softmax(z_mirror)) / 2), computed in double: their
 * softmax is the mean of the two probability vectors, so everything
 * downstream (stored test_prob, the report, predict) reads them as logits.
 * A mirror is the one transform that is sure to keep an implant's identity
 * on a radiograph (left and right shoulders and hips are both filmed).
 * Saliency maps and the ONNX export are of the network alone. */
#ifndef HIPID_TTA_H
#define HIPID_TTA_H

#include "hipid/nn/model.h"

enum { TTA_NONE = 0, TTA_FLIP };
/* "none", "flip", indexed by TTA_*, NULL-terminated. */
extern const char *const tta_names[];

/* Eval-mode logits (N, m->n_classes) of x (N, m->in), N <= m->max_batch,
 * under test-time augmentation `tta`. x is mirrored in place and mirrored
 * back (bit for bit) before returning; the result lives in m (as
 * model_forward's) for TTA_NONE and in out (N * n_classes floats) else. */
const float *tta_forward(float *out, Model *m, float *x, int N, int tta);

/* Reverse the columns of each of the N * c * h rows of x (N, c, h, w). */
void tta_mirror(float *x, int N, Shape in);

#endif
