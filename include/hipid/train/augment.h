/* augment.h: on-the-fly augmentation of training images.
 *
 * Images are float (S,S) in [0,1], one channel; a batch is (N,1,S,S). Each
 * image's random parameters come from a stream keyed by (seed, trial, epoch,
 * sample), where sample is the image's index in the data set, never its
 * position in a batch: a run is reproducible whatever the batch composition,
 * the number of ranks or of threads.
 *
 * Validation and test images are never augmented: that is the caller's
 * contract (call augment_batch on training batches only).
 *
 * Per image, in this order (pixel centres at integer coordinates, image
 * centre c = (S-1)/2, y pointing down):
 *  1. geometry, one bilinear resampling: a horizontal mirror (probability
 *     flip), then zoom by s, rotation by a degrees counter-clockwise as
 *     displayed (skimage.transform.rotate's sense) about the centre, and a
 *     translation by (tx,ty)*S pixels. Source points outside the image read 0
 *     (fill=zero) or the nearest edge pixel (fill=edge).
 *  2. contrast about the image mean m (after step 1): v = m + c*(v - m)
 *  3. brightness: v = v + b;  then v = clamp(v, 0, 1) if step 2 or 3 ran
 *  4. gamma: v = v^g
 *  5. noise: v = clamp(v + sigma*z, 0, 1), z standard normal per pixel
 * A step whose parameter is the identity (no flip, a = 0, s = 1, t = 0;
 * c = 1, b = 0, g = 1, sigma = 0) is skipped, so "none" copies the image
 * bit for bit. Parameters are drawn in a fixed order whatever the config,
 * so turning one augmentation off does not change the others' draws.
 */
#ifndef HIPID_AUGMENT_H
#define HIPID_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "hipid/base/common.h"

typedef enum { AUG_FILL_ZERO = 0, AUG_FILL_EDGE = 1 } AugFill;

/* Ranges of the random parameters; 0 turns a step off. Defaults
 * (augment_defaults, spec "default") in brackets. */
typedef struct {
    float flip;     /* probability of a horizontal mirror                     [0.5]  */
    float rot;      /* a uniform in [-rot, rot] degrees                        [5]    */
    float scale;    /* s uniform in [1-scale, 1+scale]                         [0.1]  */
    float shift;    /* tx, ty independently uniform in [-shift, shift]         [0.05] */
    float bright;   /* b uniform in [-bright, bright]                          [0.1]  */
    float contrast; /* c uniform in [1-contrast, 1+contrast]                   [0.1]  */
    float gamma;    /* g uniform in [1-gamma, 1+gamma]                         [0.1]  */
    float noise;    /* sigma                                                   [0.01] */
    AugFill fill;   /* outside the source image                                [zero] */
} AugConfig;

/* The drawn parameters of one image. */
typedef struct {
    int flip;
    float angle;      /* degrees, counter-clockwise */
    float scale;      /* zoom factor s */
    float tx, ty;     /* translation as a fraction of S (x right, y down) */
    float contrast, bright, gamma, noise;
    uint64_t noise_key; /* seeds the per-pixel noise stream */
    AugFill fill;
} AugParams;

AugConfig augment_defaults(void);
/* All steps off. */
AugConfig augment_none(void);
/* 1 if cfg changes no image. */
int augment_is_identity(const AugConfig *cfg);

/* Parse a comma-separated spec, applied left to right from "none":
 *   none | default | flip[=P] | rot=DEG | scale=F | shift=F | bright=F |
 *   contrast=F | gamma=F | noise=SIGMA | fill=zero|edge
 * e.g. "flip,rot=5,scale=0.1,shift=0.05,bright=0.1,contrast=0.1,gamma=0.1,noise=0.01"
 * or "default,noise=0". A bare "flip" means flip=0.5. Ranges: flip [0,1],
 * rot [0,180], scale [0,0.95], shift [0,0.5], bright [0,1], contrast [0,1],
 * gamma [0,0.95], noise [0,1]. Each key at most once (none and default
 * count as one key). On error cfg is unchanged and e names the bad or
 * repeated key or value and what was expected. */
int augment_parse(AugConfig *cfg, const char *spec, ErrBuf *e);

/* The canonical spec of cfg ("none" or key=value pairs), which
 * augment_parse reads back to the same config. */
void augment_format(char *buf, size_t cap, const AugConfig *cfg);

/* Draw one image's parameters from the stream (seed, trial, epoch, sample). */
void augment_draw(AugParams *p, const AugConfig *cfg, uint64_t seed, uint64_t trial,
                  uint64_t epoch, uint64_t sample);

/* Apply drawn parameters: dst, src (S,S), dst != src. */
void augment_apply(float *dst, const float *src, int S, const AugParams *p);

/* augment_draw + augment_apply. dst, src: (S,S), dst != src. */
void augment_image(float *dst, const float *src, int S, const AugConfig *cfg, uint64_t seed,
                   uint64_t trial, uint64_t epoch, uint64_t sample);

/* Augment a batch: image i of in (n,1,S,S) is data-set image sample_idx[i].
 * out may equal in (in place). OpenMP over images with n_threads (<= 0: the
 * OpenMP default); the result is the same for any thread count. */
void augment_batch(float *out, const float *in, const int *sample_idx, int n, int S,
                   const AugConfig *cfg, uint64_t seed, uint64_t trial, uint64_t epoch,
                   int n_threads);

#endif
