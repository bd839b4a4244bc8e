/* saliency.c: Grad-CAM and input-gradient maps, the colour overlay and its
 * PNG. See saliency.h. */
#include "hipid/report/saliency.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/nn/layers.h"
#include "hipid/data/image.h"

int saliency_cam_layer(const Model *m) {
    int conv = 0, layer = -1;
    for (int i = 0; i < m->n_layers; i++) {
        const Layer *l = m->layers[i];
        conv |= l->ops == &conv_ops;
        /* dropout is the identity at inference: name the layer before it */
        if (conv && l->out.h * l->out.w > 1 && l->ops != &dropout_ops) layer = i;
    }
    return layer;
}

void resize_bilinear(float *out, const float *in, int h, int w, int H, int W) {
    double sy = (double)h / H, sx = (double)w / W;
    for (int y = 0; y < H; y++) {
        double fy = fmax((y + 0.5) * sy - 0.5, 0.0);
        int y0 = (int)fy, y1 = y0 < h - 1 ? y0 + 1 : y0;
        double ly = fy - y0;
        for (int x = 0; x < W; x++) {
            double fx = fmax((x + 0.5) * sx - 0.5, 0.0);
            int x0 = (int)fx, x1 = x0 < w - 1 ? x0 + 1 : x0;
            double lx = fx - x0;
            double top = (1 - lx) * in[y0 * w + x0] + lx * in[y0 * w + x1];
            double bot = (1 - lx) * in[y1 * w + x0] + lx * in[y1 * w + x1];
            out[(long)y * W + x] = (float)((1 - ly) * top + ly * bot);
        }
    }
}

/* 5-tap binomial [1 4 6 4 1]/16 along rows then columns, edges clamped. */
static void smooth_binomial(float *out, const float *in, int H, int W) {
    static const double k[5] = {1 / 16., 4 / 16., 6 / 16., 4 / 16., 1 / 16.};
    float *tmp = xmalloc_f32((size_t)H * W);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double s = 0.0;
            for (int j = -2; j <= 2; j++) {
                int xx = x + j < 0 ? 0 : x + j >= W ? W - 1 : x + j;
                s += k[j + 2] * in[(long)y * W + xx];
            }
            tmp[(long)y * W + x] = (float)s;
        }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double s = 0.0;
            for (int j = -2; j <= 2; j++) {
                int yy = y + j < 0 ? 0 : y + j >= H ? H - 1 : y + j;
                s += k[j + 2] * tmp[(long)yy * W + x];
            }
            out[(long)y * W + x] = (float)s;
        }
    free(tmp);
}

int saliency_map(float *map, float *raw, Model *m, const float *x, int cls) {
    int L = saliency_cam_layer(m), H = m->in.h, W = m->in.w;
    HIPID_CHECK(cls >= 0 && cls < m->n_classes && m->in.c == 1);
    float *onehot = xcalloc_f32(m->n_classes);
    onehot[cls] = 1.0f;
    model_zero_grads(m);
    model_forward(m, x, 1, 0);
    if (L < 0) { /* dense only: |d z / d x|, smoothed */
        float *g = xmalloc_f32((size_t)H * W);
        model_backward_to(m, onehot, 1, -1, g);
        for (long i = 0; i < (long)H * W; i++) g[i] = fabsf(g[i]);
        if (raw) memcpy(raw, g, sizeof(float) * H * W);
        smooth_binomial(map, g, H, W);
        free(g);
    } else {
        Shape s = m->layers[L]->out;
        long hw = (long)s.h * s.w;
        float *g = xmalloc_f32((size_t)shape_size(s)), *cam = xcalloc_f32((size_t)hw);
        const float *a = m->acts[L + 1]; /* still the forward's activation: backward only writes dbuf */
        model_backward_to(m, onehot, 1, L, g);
        for (int c = 0; c < s.c; c++) {
            double alpha = 0.0;
            for (long i = 0; i < hw; i++) alpha += g[c * hw + i];
            alpha /= (double)hw;
            for (long i = 0; i < hw; i++) cam[i] += (float)(alpha * a[c * hw + i]);
        }
        for (long i = 0; i < hw; i++) cam[i] = cam[i] > 0.0f ? cam[i] : 0.0f;
        if (raw) memcpy(raw, cam, sizeof(float) * hw);
        resize_bilinear(map, cam, s.h, s.w, H, W);
        free(g);
        free(cam);
    }
    model_zero_grads(m);
    free(onehot);
    return L;
}

static double clamp01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

void saliency_overlay(uint8_t *rgb, const uint8_t *grey, const float *map, int S) {
    long n = (long)S * S;
    float mx = 0.0f;
    for (long i = 0; i < n; i++) mx = map[i] > mx ? map[i] : mx;
    for (long i = 0; i < n; i++) {
        double t = mx > 0.0f ? map[i] / mx : 0.0, a = 0.7 * t;
        double col[3] = {clamp01(1.5 - fabs(4 * t - 3)), clamp01(1.5 - fabs(4 * t - 2)),
                         clamp01(1.5 - fabs(4 * t - 1))};
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = (uint8_t)lround((1 - a) * grey[i] + a * 255.0 * col[c]);
    }
}

int saliency_save_png(const char *path, const uint8_t *grey, const uint8_t *rgb, int S, int zoom, ErrBuf *e) {
    int W = 2 * S * zoom, H = S * zoom, rc = HIPID_ERR;
    uint8_t *canvas = xmalloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int sx = (x % (S * zoom)) / zoom, sy = y / zoom;
            uint8_t *dst = canvas + ((size_t)y * W + x) * 3;
            if (x < S * zoom) dst[0] = dst[1] = dst[2] = grey[sy * S + sx];
            else memcpy(dst, rgb + ((size_t)sy * S + sx) * 3, 3);
        }
    if (image_save_png(path, canvas, W, H, 3, "saliency", e) != HIPID_OK) goto error;
    rc = HIPID_OK;
error:
    free(canvas);
    return rc;
}
