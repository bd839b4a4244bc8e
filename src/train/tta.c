/* tta.c: test-time augmentation. See tta.h. */
#include "hipid/train/tta.h"

#include <math.h>
#include <string.h>

const char *const tta_names[] = {"none", "flip", NULL};

void tta_mirror(float *x, int N, Shape in) {
    long rows = (long)N * in.c * in.h;
    for (long r = 0; r < rows; r++) {
        float *v = x + r * in.w;
        for (int a = 0, b = in.w - 1; a < b; a++, b--) {
            float t = v[a];
            v[a] = v[b];
            v[b] = t;
        }
    }
}

/* log of the mean of softmax(z1) and softmax(z2), row by row (1e-300 keeps a
 * probability that underflows finite); out may be z1 */
static void mean_log_prob(float *out, const float *z1, const float *z2, int N, int K) {
    for (int i = 0; i < N; i++) {
        const float *a = z1 + (long)i * K, *b = z2 + (long)i * K;
        double ma = a[0], mb = b[0], sa = 0.0, sb = 0.0;
        for (int k = 1; k < K; k++) {
            ma = a[k] > ma ? a[k] : ma;
            mb = b[k] > mb ? b[k] : mb;
        }
        for (int k = 0; k < K; k++) {
            sa += exp((double)a[k] - ma);
            sb += exp((double)b[k] - mb);
        }
        for (int k = 0; k < K; k++)
            out[(long)i * K + k] = (float)log(0.5 * (exp((double)a[k] - ma) / sa + exp((double)b[k] - mb) / sb) + 1e-300);
    }
}

const float *tta_forward(float *out, Model *m, float *x, int N, int tta) {
    const float *z = model_forward(m, x, N, 0);
    if (tta == TTA_NONE) return z;
    int K = m->n_classes;
    memcpy(out, z, sizeof(float) * (size_t)N * K);
    tta_mirror(x, N, m->in);
    z = model_forward(m, x, N, 0);
    tta_mirror(x, N, m->in);
    mean_log_prob(out, out, z, N, K);
    return out;
}
