/* mix.c: mixup and cutmix of training batches (mix.h). */
#include "hipid/train/mix.h"

#include <math.h>
#include <stddef.h>

#include "hipid/base/dist.h"
#include "hipid/base/rng.h"
#include "hipid/nn/ops.h"

#define TAG_MIX 0x313Bu

void mix_draw(MixStep *s, int *partner, int nb, const MixConfig *c, int S, uint64_t seed, uint64_t trial,
              uint64_t step) {
    *s = (MixStep){.kind = MIX_NONE, .lam = 1.0f};
    for (int i = 0; i < nb; i++) partner[i] = i;
    if (!mix_enabled(c)) return;
    Rng k = rng_stream(seed, TAG_MIX, 0, 0);
    Rng r = rng_stream(rng_u64(&k), trial, step, 0);
    float coin = rng_uniform(&r);
    s->kind = c->mixup > 0 && c->cutmix > 0 ? (coin < 0.5f ? MIX_CUTMIX : MIX_MIXUP)
              : c->cutmix > 0               ? MIX_CUTMIX
                                            : MIX_MIXUP;
    double a = s->kind == MIX_CUTMIX ? c->cutmix : c->mixup;
    double lam = dist_beta_quantile((double)rng_uniform(&r), a, a, 0);
    rng_shuffle(&r, partner, nb);
    if (s->kind == MIX_MIXUP) {
        s->lam = (float)lam;
        return;
    }
    int side = s->side = (int)floor(S * sqrt(1.0 - lam));
    int cy = (int)rng_below(&r, (uint32_t)S), cx = (int)rng_below(&r, (uint32_t)S);
    s->y0 = cy - side / 2 < 0 ? 0 : cy - side / 2;
    s->x0 = cx - side / 2 < 0 ? 0 : cx - side / 2;
    s->y1 = cy - side / 2 + side > S ? S : cy - side / 2 + side;
    s->x1 = cx - side / 2 + side > S ? S : cx - side / 2 + side;
    s->lam = (float)(1.0 - (double)(s->y1 - s->y0) * (s->x1 - s->x0) / ((double)S * S));
}

void mix_images(float *x, const float *xp, int n, int S, const MixStep *s) {
    long px = (long)S * S;
    for (int i = 0; i < n; i++) {
        float *a = x + i * px;
        const float *b = xp + i * px;
        if (s->kind == MIX_MIXUP) {
            for (long q = 0; q < px; q++) a[q] = s->lam * a[q] + (1.0f - s->lam) * b[q];
        } else if (s->kind == MIX_CUTMIX) {
            for (int y = s->y0; y < s->y1; y++)
                for (int c = s->x0; c < s->x1; c++) a[(long)y * S + c] = b[(long)y * S + c];
        }
    }
}

float mix_xent(float *dlogits, float *tmp, const float *logits, const int *y, const int *yp,
               const float *class_w, int N, int K, float eps, float lam, float share_a, float share_b) {
    float la = softmax_xent_ls(dlogits, NULL, logits, y, class_w, N, K, eps);
    float lb = softmax_xent_ls(tmp, NULL, logits, yp, class_w, N, K, eps);
    float wa = lam * share_a, wb = (1.0f - lam) * share_b;
    for (long q = 0; q < (long)N * K; q++) dlogits[q] = wa * dlogits[q] + wb * tmp[q];
    return lam * la + (1.0f - lam) * lb;
}
