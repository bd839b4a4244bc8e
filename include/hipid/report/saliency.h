/* saliency.h: where in the image a model looked, for one image and one class.
 *
 * Grad-CAM (Selvaraju et al. 2017) for models with convolutions: A (C,h,w)
 * is the output of the last layer that still has spatial extent (h*w > 1;
 * in cnn-paper the last max pool), G = d z_cls / d A where z_cls is the
 * class's logit (pre-softmax score); channel weights alpha_c = mean over
 * (h,w) of G_c; cam = ReLU(sum_c alpha_c A_c), upsampled bilinearly to the
 * input size (torch.nn.functional.interpolate(mode="bilinear",
 * align_corners=False)). Dense-only models have no spatial layer: their map
 * is the input-gradient magnitude |d z_cls / d x| smoothed by a 5x5 binomial
 * filter (edges clamped).
 *
 * Maps are in the model's input coordinates: the preprocessed S x S image,
 * not the raw X-ray. Nothing here reads or writes files except saliency_save_png.
 */
#ifndef HIPID_SALIENCY_H
#define HIPID_SALIENCY_H

#include <stdint.h>

#include "hipid/nn/model.h"

/* The layer Grad-CAM reads: the last layer whose output has h*w > 1, if a
 * convolution comes at or before it, dropout layers left out (the identity
 * at inference); -1 if there is none (use input gradients). */
int saliency_cam_layer(const Model *m);

/* Saliency of one image x (1, m->in) for class cls, in map (H, W) of the
 * input, >= 0, not normalised. Runs an eval forward and model_backward_to
 * (parameter gradients of m are overwritten: zeroed first). If raw is not
 * NULL it receives the map before upsampling or smoothing: the Grad-CAM grid
 * (h, w) of layer saliency_cam_layer(m), or |d z / d x| (H, W). Returns the
 * layer used (-1: input gradient). */
int saliency_map(float *map, float *raw, Model *m, const float *x, int cls);

/* Bilinear resize of in (h, w) to out (H, W), half-pixel centres, edges
 * clamped (align_corners=False, as torch and OpenCV). */
void resize_bilinear(float *out, const float *in, int h, int w, int H, int W);

/* rgb (S, S, 3): the grey image with map (S, S) as a colour heat map
 * (blue -> red, jet-like) blended over it; the map is scaled to its maximum
 * and its weight grows with the value, so cold areas stay grey. */
void saliency_overlay(uint8_t *rgb, const uint8_t *grey, const float *map, int S);

/* Write a PNG (libvips must be initialised): the input image on the left,
 * the overlay on the right, each S x S scaled up by the integer factor
 * `zoom` (pixel replication): (2 * S * zoom) x (S * zoom) pixels. */
int saliency_save_png(const char *path, const uint8_t *grey, const uint8_t *rgb, int S, int zoom, ErrBuf *e);

#endif
