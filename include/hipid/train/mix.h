/* mix.h: mixup (Zhang et al. 2018) and cutmix (Yun et al. 2019) of training
 * batches, drawn per optimiser step.
 *
 * For each step a stream keyed by (seed, trial, step) draws, in this order:
 * which of the two (both enabled: cutmix with probability 1/2, as timm's
 * default switch), lambda ~ Beta(alpha, alpha) (the quantile of a uniform,
 * dist.h), a partner for every position of the global batch (a uniform
 * permutation of the positions; a sample may be its own partner), and for
 * cutmix a box: side floor(S * sqrt(1 - lambda)), centre uniform over the
 * pixels, clipped to the image. Everything depends on the step alone, never
 * on micro-batches or ranks, so mixed trials stay bit-identical across rank
 * counts; each rank gathers and augments the partners of its own positions.
 *
 *   mixup   x = lam * x_i + (1 - lam) * x_partner
 *   cutmix  x = x_i with the box's pixels taken from x_partner; lam becomes
 *           1 - box area / S^2, the share of x_i's own pixels
 * and the loss is lam * L(x, y_i) + (1 - lam) * L(x, y_partner), each term
 * the label-smoothed, class-weighted cross-entropy of softmax_xent_ls.
 * Validation, test and prediction never mix. */
#ifndef HIPID_MIX_H
#define HIPID_MIX_H

#include <stdint.h>

typedef struct {
    float mixup, cutmix; /* Beta alphas; 0 turns each off */
} MixConfig;

enum { MIX_NONE = 0, MIX_MIXUP, MIX_CUTMIX };

typedef struct {
    int kind;             /* MIX_* */
    float lam;            /* the weight of each sample's own label */
    int y0, y1, x0, x1;   /* cutmix: rows [y0, y1) x columns [x0, x1) from the partner */
    int side;             /* cutmix: the box's side before clipping */
} MixStep;

static inline int mix_enabled(const MixConfig *c) { return c->mixup > 0 || c->cutmix > 0; }

/* The step's draw (see above) into *s and partner[0..nb) (positions in the
 * batch). kind MIX_NONE, and partner[i] = i, when c mixes nothing. */
void mix_draw(MixStep *s, int *partner, int nb, const MixConfig *c, int S, uint64_t seed, uint64_t trial,
              uint64_t step);

/* x (n, S*S) mixed in place with xp (n, S*S), the partners' images. */
void mix_images(float *x, const float *xp, int n, int S, const MixStep *s);

/* lam * softmax_xent_ls(y) * share_a + (1 - lam) * softmax_xent_ls(y_partner)
 * * share_b: the mixed loss's gradient into dlogits (N, K), each term scaled
 * by its share of the whole batch's class weight (a micro-batch's weight of
 * y, resp. yp, over the batch's; 1 and 1 for a whole batch). tmp: N*K
 * floats. Returns lam * loss(y) + (1 - lam) * loss(yp), each a mean over
 * this micro-batch. */
float mix_xent(float *dlogits, float *tmp, const float *logits, const int *y, const int *yp,
               const float *class_w, int N, int K, float eps, float lam, float share_a, float share_b);

#endif
