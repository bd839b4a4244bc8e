/* dupdesc.c: copy detection for the leakage audit. See dupdesc.h. */
#define _POSIX_C_SOURCE 200809L
#include "hipid/data/dupdesc.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif
#include <cblas.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

enum { N_SCALES = 3, N_OCT_MAX = 4, N_GAUSS = N_SCALES + 3, ORI_BINS = 36, D = DUP_DESC_LEN };

void dupdesc_default_desc_params(DupDescParams *p) {
    p->c_dog = 0.001f;
    p->edge_ratio = 10.0f;
}

void dupdesc_default_match_params(DupMatchParams *p) {
    p->ratio = 0.85f;
    p->tol = 2.0f;
    p->n_top = 60;
    p->min_corr = DUP_DEFAULT_MIN_CORR;
    p->min_overlap = 0.2f;
}

void dupdesc_default_cluster_params(DupClusterParams *p) {
    p->n_cand = DUP_DEFAULT_CANDIDATES;
    p->max_group = DUP_DEFAULT_MAX_GROUP;
    p->n_threads = 0;
    dupdesc_default_match_params(&p->match);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}


/* a . b and |a - b|^2 over D floats with 8 partial sums in a fixed order
 * (vectorisable without -ffast-math; same result on every thread) */
static inline float dot_d(const float *a, const float *b) {
    float acc[8] = {0};
    for (int k = 0; k < D; k += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[k + l] * b[k + l];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static inline float dist2_d(const float *a, const float *b) {
    float acc[8] = {0};
    for (int k = 0; k < D; k += 8)
        for (int l = 0; l < 8; l++) {
            float t = a[k + l] - b[k + l];
            acc[l] += t * t;
        }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* ---------------------------------------------------------------- resize */

/* Separable resampling of src (sh, sw) to dst (dh, dw) with a triangle filter
 * whose support follows the scale (bilinear when enlarging, area-like when
 * shrinking). Returns 0 or -1 (memory). */
static int resize_f32(float *dst, const float *src, int dw, int dh, int sw, int sh) {
    float *tmp = malloc(sizeof(float) * (size_t)sw * dh);
    if (!tmp) return -1;
    for (int pass = 0; pass < 2; pass++) {
        int n_in = pass ? sw : sh, n_out = pass ? dw : dh, n_other = pass ? dh : sw;
        double scale = (double)n_out / n_in, support = scale < 1 ? 1.0 / scale : 1.0;
        for (int o = 0; o < n_out; o++) {
            double c = (o + 0.5) / scale - 0.5; /* centre in input coordinates */
            int lo = (int)floor(c - support), hi = (int)ceil(c + support);
            double wsum = 0, wts[4096];
            int n_w = 0;
            for (int i = lo; i <= hi && n_w < 4096; i++, n_w++) {
                double t = 1.0 - fabs(i - c) / support;
                wts[n_w] = t > 0 ? t : 0;
                wsum += wts[n_w];
            }
            for (int k = 0; k < n_other; k++) {
                double s = 0;
                for (int i = lo, j = 0; j < n_w; i++, j++) {
                    if (wts[j] == 0) continue;
                    int ii = i < 0 ? 0 : (i >= n_in ? n_in - 1 : i);
                    s += wts[j] * (pass ? tmp[(size_t)k * sw + ii] : src[(size_t)ii * sw + k]);
                }
                if (pass)
                    dst[(size_t)k * dw + o] = (float)(s / wsum);
                else
                    tmp[(size_t)o * sw + k] = (float)(s / wsum);
            }
        }
    }
    free(tmp);
    return 0;
}

/* Separable Gaussian blur of img (h, w) in place with sigma; tmp (h * w);
 * borders replicated. */
static void blur_f32(float *img, float *tmp, int w, int h, double sigma) {
    int r = (int)ceil(3.0 * sigma);
    if (r < 1) return;
    if (r > 127) r = 127;
    float k[256];
    double s = 0;
    for (int i = -r; i <= r; i++) s += (k[i + r] = (float)exp(-0.5 * i * i / (sigma * sigma)));
    for (int i = 0; i <= 2 * r; i++) k[i] = (float)(k[i] / s);
    for (int y = 0; y < h; y++) {
        const float *row = img + (size_t)y * w;
        float *o = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) {
            float a = 0;
            if (x >= r && x < w - r) {
                const float *q = row + x - r;
                for (int i = 0; i <= 2 * r; i++) a += k[i] * q[i];
            } else
                for (int i = -r; i <= r; i++) {
                    int xx = x + i;
                    xx = xx < 0 ? 0 : (xx >= w ? w - 1 : xx);
                    a += k[i + r] * row[xx];
                }
            o[x] = a;
        }
    }
    for (int y = 0; y < h; y++) {
        float *o = img + (size_t)y * w;
        for (int x = 0; x < w; x++) o[x] = 0;
        for (int i = -r; i <= r; i++) {
            int yy = y + i;
            yy = yy < 0 ? 0 : (yy >= h ? h - 1 : yy);
            const float *q = tmp + (size_t)yy * w;
            float kk = k[i + r];
            for (int x = 0; x < w; x++) o[x] += kk * q[x];
        }
    }
}

/* ---------------------------------------------------------------- keypoints */

/* A DoG extremum before orientation: octave o, level k (Gaussian used for
 * gradients), position and sigma in octave px, |DoG| response. */
typedef struct {
    float x, y, sig, resp;
    int o, k;
} Cand;

typedef struct {
    Cand *v;
    int n, cap;
} CandList;

static int cand_push(CandList *l, const Cand *c) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        Cand *v = realloc(l->v, sizeof(Cand) * cap);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *c;
    return 0;
}

static int cmp_cand(const void *pa, const void *pb) {
    const Cand *a = pa, *b = pb;
    if (a->resp != b->resp) return a->resp > b->resp ? -1 : 1;
    if (a->o != b->o) return a->o - b->o;
    if (a->y != b->y) return a->y < b->y ? -1 : 1;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    return a->k - b->k;
}

/* Gradient magnitude and direction (atan2, -pi..pi) of g (h, w) by central
 * differences; 0 on the border. */
static void grad_polar(float *mag, float *ang, const float *g, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (x < 1 || y < 1 || x >= w - 1 || y >= h - 1) {
                mag[i] = ang[i] = 0;
                continue;
            }
            float gx = g[i + 1] - g[i - 1], gy = g[i + w] - g[i - w];
            mag[i] = sqrtf(gx * gx + gy * gy);
            ang[i] = atan2f(gy, gx);
        }
}

/* Dominant orientations at (x, y) (octave px) with scale sig (octave px)
 * from the gradient images mag, ang (h, w): up to 2 peaks >= 0.8 max,
 * strongest first. Returns the count. */
static int kp_orientations(float *ori, const float *mag, const float *ang, int w, int h, float x, float y,
                           float sig) {
    double hist[ORI_BINS] = {0}, tmp[ORI_BINS];
    double sw = 1.5 * sig, k2 = -1.0 / (2 * sw * sw);
    int r = (int)lround(3 * sw), xi = (int)lround(x), yi = (int)lround(y);
    for (int dy = -r; dy <= r; dy++) {
        int yy = yi + dy;
        if (yy < 1 || yy >= h - 1) continue;
        for (int dx = -r; dx <= r; dx++) {
            int xx = xi + dx;
            if (xx < 1 || xx >= w - 1) continue;
            size_t i = (size_t)yy * w + xx;
            double wt = exp((dx * dx + dy * dy) * k2);
            int b = (int)floor(ORI_BINS * (ang[i] + M_PI) / (2 * M_PI) + 0.5) % ORI_BINS;
            hist[b] += wt * mag[i];
        }
    }
    for (int it = 0; it < 6; it++) { /* smooth (circular box of 3) */
        for (int b = 0; b < ORI_BINS; b++)
            tmp[b] = (hist[(b + ORI_BINS - 1) % ORI_BINS] + hist[b] + hist[(b + 1) % ORI_BINS]) / 3;
        memcpy(hist, tmp, sizeof hist);
    }
    double mx = 0;
    for (int b = 0; b < ORI_BINS; b++) mx = hist[b] > mx ? hist[b] : mx;
    if (mx <= 0) return 0;
    int n = 0;
    double best[2] = {-1, -1};
    for (int b = 0; b < ORI_BINS; b++) {
        double l = hist[(b + ORI_BINS - 1) % ORI_BINS], c = hist[b], rr = hist[(b + 1) % ORI_BINS];
        if (c < 0.8 * mx || c <= l || c <= rr) continue;
        double off = 0.5 * (l - rr) / (l - 2 * c + rr);
        float a = (float)((b + off) * 2 * M_PI / ORI_BINS - M_PI);
        if (n < 2) {
            ori[n] = a;
            best[n++] = c;
        } else if (c > best[0] || c > best[1]) {
            int k = best[0] < best[1] ? 0 : 1;
            ori[k] = a;
            best[k] = c;
        }
    }
    if (n == 2 && best[1] > best[0]) {
        float t = ori[0];
        ori[0] = ori[1];
        ori[1] = t;
    }
    return n;
}

/* 4 x 4 x 8 descriptor at (x, y, sig, ori) (octave px) from the gradient
 * images mag, ang (h, w), written as RootSIFT * 255. Bin (cv * 4 + cu) * 8
 * + o: cu along the orientation, cv across it, o the gradient direction
 * relative to ori. */
static void kp_descriptor(uint8_t *out, const float *mag, const float *ang, int w, int h, float x, float y, float sig,
                          float ori) {
    float hist[D] = {0};
    double hw = 3.0 * sig; /* cell width */
    int r = (int)ceil(hw * 5 * 0.7072);
    double co = cos(ori) / hw, si = sin(ori) / hw;
    int xi = (int)lround(x), yi = (int)lround(y);
    for (int dy = -r; dy <= r; dy++) {
        int yy = yi + dy;
        if (yy < 1 || yy >= h - 1) continue;
        for (int dx = -r; dx <= r; dx++) {
            int xx = xi + dx;
            if (xx < 1 || xx >= w - 1) continue;
            double fx = xx - x, fy = yy - y;
            double u = co * fx + si * fy, v = -si * fx + co * fy;
            double cu = u + 1.5, cv = v + 1.5;
            if (cu <= -1 || cu >= 4 || cv <= -1 || cv >= 4) continue;
            size_t i = (size_t)yy * w + xx;
            double m = mag[i] * exp(-(u * u + v * v) / 8.0); /* sigma = 2 cells */
            double rel = ang[i] - ori;
            while (rel < 0) rel += 2 * M_PI;
            while (rel >= 2 * M_PI) rel -= 2 * M_PI;
            double o = rel * 8 / (2 * M_PI);
            int u0 = (int)floor(cu), v0 = (int)floor(cv), o0 = (int)floor(o);
            double fu = cu - u0, fv = cv - v0, fo = o - o0;
            for (int a = 0; a < 2; a++) {
                int vv = v0 + a;
                if (vv < 0 || vv > 3) continue;
                double wv = a ? fv : 1 - fv;
                for (int b = 0; b < 2; b++) {
                    int uu = u0 + b;
                    if (uu < 0 || uu > 3) continue;
                    double wu = b ? fu : 1 - fu;
                    hist[(vv * 4 + uu) * 8 + (o0 & 7)] += (float)(m * wv * wu * (1 - fo));
                    hist[(vv * 4 + uu) * 8 + ((o0 + 1) & 7)] += (float)(m * wv * wu * fo);
                }
            }
        }
    }
    double n2 = 0;
    for (int i = 0; i < D; i++) n2 += (double)hist[i] * hist[i];
    double inv = n2 > 0 ? 1 / sqrt(n2) : 0, l1 = 0;
    for (int i = 0; i < D; i++) {
        double t = hist[i] * inv;
        hist[i] = (float)(t > 0.2 ? 0.2 : t);
        l1 += hist[i];
    }
    for (int i = 0; i < D; i++) {
        double t = l1 > 0 ? sqrt(hist[i] / l1) * 255.0 + 0.5 : 0;
        out[i] = (uint8_t)(t > 255 ? 255 : t);
    }
}

/* Solve the 3 x 3 system H x = -g (Cramer). Returns 0, or -1 if singular. */
static int solve3(double *x, double H[3][3], const double *g) {
    double det = H[0][0] * (H[1][1] * H[2][2] - H[1][2] * H[2][1]) - H[0][1] * (H[1][0] * H[2][2] - H[1][2] * H[2][0]) +
                 H[0][2] * (H[1][0] * H[2][1] - H[1][1] * H[2][0]);
    if (fabs(det) < 1e-12) return -1;
    for (int c = 0; c < 3; c++) {
        double M[3][3];
        memcpy(M, H, sizeof M);
        for (int r = 0; r < 3; r++) M[r][c] = -g[r];
        x[c] = (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) - M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
                M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0])) /
               det;
    }
    return 0;
}

/* DoG extrema of one octave (gaussians gs: N_GAUSS x (oh, ow)) into cl. */
static int octave_extrema(CandList *cl, const float *gs, float *dog, int ow, int oh, int o, const DupDescParams *p) {
    size_t n = (size_t)ow * oh;
    for (int k = 0; k < N_GAUSS - 1; k++)
        for (size_t i = 0; i < n; i++) dog[k * n + i] = gs[(k + 1) * n + i] - gs[k * n + i];
    for (int k = 1; k < N_GAUSS - 2; k++)
        for (int y = 1; y < oh - 1; y++)
            for (int x = 1; x < ow - 1; x++) {
                const float *dc = dog + k * n + (size_t)y * ow + x;
                float v = *dc;
                if (fabsf(v) < 0.8f * p->c_dog) continue;
                int is_max = 1, is_min = 1;
                for (int dk = -1; dk <= 1 && (is_max || is_min); dk++)
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++) {
                            if (!dk && !dy && !dx) continue;
                            float q = dc[(ptrdiff_t)dk * n + dy * ow + dx];
                            if (q >= v) is_max = 0;
                            if (q <= v) is_min = 0;
                        }
                if (!is_max && !is_min) continue;
                ptrdiff_t N = (ptrdiff_t)n;
                double dxx = dc[1] + dc[-1] - 2 * v, dyy = dc[ow] + dc[-ow] - 2 * v, dss = dc[N] + dc[-N] - 2 * v;
                double dxy = 0.25 * (dc[ow + 1] - dc[ow - 1] - dc[-ow + 1] + dc[-ow - 1]);
                double dxs = 0.25 * (dc[N + 1] - dc[N - 1] - dc[-N + 1] + dc[-N - 1]);
                double dys = 0.25 * (dc[N + ow] - dc[N - ow] - dc[-N + ow] + dc[-N - ow]);
                double tr = dxx + dyy, det = dxx * dyy - dxy * dxy, er = p->edge_ratio;
                if (det <= 0 || tr * tr * er >= (er + 1) * (er + 1) * det) continue;
                double g3[3] = {0.5 * (dc[1] - dc[-1]), 0.5 * (dc[ow] - dc[-ow]), 0.5 * (dc[N] - dc[-N])};
                double H3[3][3] = {{dxx, dxy, dxs}, {dxy, dyy, dys}, {dxs, dys, dss}}, off[3] = {0, 0, 0};
                if (solve3(off, H3, g3) || fabs(off[0]) > 0.6 || fabs(off[1]) > 0.6 || fabs(off[2]) > 0.6)
                    off[0] = off[1] = off[2] = 0;
                double val = v + 0.5 * (g3[0] * off[0] + g3[1] * off[1] + g3[2] * off[2]);
                if (fabs(val) < p->c_dog) continue;
                Cand c = {(float)(x + off[0]), (float)(y + off[1]), (float)(1.6 * pow(2.0, (k + off[2]) / 3.0)),
                          (float)fabs(val), o, k + (off[2] > 0.5 ? 1 : 0)};
                if (cand_push(cl, &c)) return -1;
            }
    return 0;
}

/* The scale space of a working image: octave o (at most N_OCT_MAX, while
 * both sides are >= 16 px) holds N_GAUSS Gaussians of (oh[o], ow[o]) from
 * pyr + off[o]. mag and ang have pyr's layout and get a level's gradients
 * on first use, which done_grad records, since only the levels where a kept
 * keypoint lies need them. */
typedef struct {
    int n_oct, ow[N_OCT_MAX], oh[N_OCT_MAX];
    size_t off[N_OCT_MAX + 1];
    float *pyr, *mag, *ang; /* (off[n_oct]) */
    uint8_t *done_grad;     /* (n_oct, N_GAUSS) */
} ScaleSpace;

/* The working image base (H, W): px (h, w) resampled (src (h * w) is
 * scratch), then its 1% .. 99.5% quantiles (histogram of rounded values)
 * stretched to 0..1. Returns 0 or -1 (memory). */
static int working_image(float *base, float *src, const uint8_t *px, int w, int h, int W, int H) {
    for (size_t i = 0; i < (size_t)w * h; i++) src[i] = px[i];
    if (resize_f32(base, src, W, H, w, h)) return -1;
    size_t n0 = (size_t)W * H, hist[256] = {0}, acc = 0;
    for (size_t i = 0; i < n0; i++) {
        int v = (int)lrintf(base[i]);
        hist[v < 0 ? 0 : (v > 255 ? 255 : v)]++;
    }
    int lo = 0, hi = 255;
    for (int v = 0; v < 256; v++) {
        acc += hist[v];
        if (acc <= 0.01 * n0) lo = v;
        if (acc < 0.995 * n0) hi = v + 1;
    }
    if (hi <= lo) hi = lo + 1;
    float s = 1.0f / (hi - lo);
    for (size_t i = 0; i < n0; i++) {
        float t = (base[i] - lo) * s;
        base[i] = t < 0 ? 0 : (t > 1 ? 1 : t);
    }
    return 0;
}

/* out's thumbnail for the pixel check: the working image base (H, W)
 * resampled to DUP_THUMB px on its longer side (8 .. DUP_THUMB px a side).
 * Returns 0 or -1 (memory). */
static int thumbnail(DupDesc *out, const float *base, int W, int H) {
    int tw = (int)lround((double)W * DUP_THUMB / DUP_SIDE), th = (int)lround((double)H * DUP_THUMB / DUP_SIDE);
    tw = tw < 8 ? 8 : (tw > DUP_THUMB ? DUP_THUMB : tw);
    th = th < 8 ? 8 : (th > DUP_THUMB ? DUP_THUMB : th);
    float t[DUP_THUMB * DUP_THUMB];
    if (resize_f32(t, base, tw, th, W, H)) return -1;
    out->tw = tw, out->th = th;
    for (int i = 0; i < tw * th; i++) out->thumb[i] = (uint8_t)lrintf(t[i] * 255.0f);
    return 0;
}

/* Blurs the working image (octave 0's Gaussian 0 of ss) into every
 * Gaussian of ss and collects the DoG extrema of each octave into cl; dog
 * (N_GAUSS - 1 images of octave 0's size) and tmp (one such image) are
 * scratch. Returns 0 or -1 (memory). */
static int scale_space_extrema(CandList *cl, ScaleSpace *ss, float *dog, float *tmp, const DupDescParams *p) {
    /* sigma of Gaussian k of an octave is 1.6 * 2^(k/3) octave px; the
     * input is taken as blurred by 0.5 px */
    blur_f32(ss->pyr, tmp, ss->ow[0], ss->oh[0], sqrt(1.6 * 1.6 - 0.25));
    for (int o = 0; o < ss->n_oct; o++) {
        int ow = ss->ow[o], oh = ss->oh[o];
        size_t n = (size_t)ow * oh;
        float *gs = ss->pyr + ss->off[o];
        if (o > 0) { /* every other pixel of the previous octave's Gaussian 3 (sigma 2 * 1.6) */
            int pw = ss->ow[o - 1];
            const float *g3 = ss->pyr + ss->off[o - 1] + 3 * (size_t)pw * ss->oh[o - 1];
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) gs[(size_t)y * ow + x] = g3[(size_t)(2 * y) * pw + 2 * x];
        }
        for (int k = 1; k < N_GAUSS; k++) {
            double s0 = 1.6 * pow(2.0, (k - 1) / 3.0), s1 = 1.6 * pow(2.0, k / 3.0);
            memcpy(gs + k * n, gs + (k - 1) * n, sizeof(float) * n);
            blur_f32(gs + k * n, tmp, ow, oh, sqrt(s1 * s1 - s0 * s0));
        }
        if (octave_extrema(cl, gs, dog, ow, oh, o, p)) return -1;
    }
    return 0;
}

/* Keypoints of out (x, y, sigma in working px, orientation) and their
 * descriptors from the candidates cl, strongest first (cl is sorted here),
 * one per dominant orientation, at most DUP_MAX_KP: orientations and
 * descriptors are computed only for what is kept. Returns the count. */
static int keypoints_describe(DupDesc *out, CandList *cl, ScaleSpace *ss) {
    if (cl->n > 1) qsort(cl->v, cl->n, sizeof(Cand), cmp_cand); /* cl->v is NULL when nothing was found */
    int m = 0;
    for (int c = 0; c < cl->n && m < DUP_MAX_KP; c++) {
        const Cand *k = &cl->v[c];
        int ow = ss->ow[k->o], oh = ss->oh[k->o];
        size_t lv = ss->off[k->o] + (size_t)k->k * ow * oh;
        float *mag = ss->mag + lv, *ang = ss->ang + lv;
        if (!ss->done_grad[k->o * N_GAUSS + k->k]) {
            grad_polar(mag, ang, ss->pyr + lv, ow, oh);
            ss->done_grad[k->o * N_GAUSS + k->k] = 1;
        }
        float oris[2];
        int n_ori = kp_orientations(oris, mag, ang, ow, oh, k->x, k->y, k->sig);
        double sc = (double)(1 << k->o);
        for (int q = 0; q < n_ori && m < DUP_MAX_KP; q++, m++) {
            out->kp[m][0] = (float)((k->x + 0.5) * sc - 0.5);
            out->kp[m][1] = (float)((k->y + 0.5) * sc - 0.5);
            out->kp[m][2] = (float)(k->sig * sc);
            out->kp[m][3] = oris[q];
            kp_descriptor(out->desc[m], mag, ang, ow, oh, k->x, k->y, k->sig, oris[q]);
        }
    }
    return m;
}

int dupdesc_compute(DupDesc *out, const uint8_t *px, int w, int h, const DupDescParams *p) {
    DupDescParams dp;
    if (!p) {
        dupdesc_default_desc_params(&dp);
        p = &dp;
    }
    memset(out, 0, sizeof *out);
    if (!px || w < 16 || h < 16) return -1;
    int side = w > h ? w : h;
    int W = (int)lround((double)w * DUP_SIDE / side), H = (int)lround((double)h * DUP_SIDE / side);
    W = W < 16 ? 16 : W;
    H = H < 16 ? 16 : H;
    out->w = W;
    out->h = H;
    ScaleSpace ss = {0};
    for (int o = 0, ow = W, oh = H; o < N_OCT_MAX && ow >= 16 && oh >= 16; o++, ow /= 2, oh /= 2) {
        ss.ow[o] = ow, ss.oh[o] = oh;
        ss.off[o + 1] = ss.off[o] + (size_t)ow * oh * N_GAUSS;
        ss.n_oct++;
    }
    size_t n0 = (size_t)W * H, n_ss = ss.off[ss.n_oct];
    float *src = malloc(sizeof(float) * (size_t)w * h), *dog = malloc(sizeof(float) * n0 * (N_GAUSS - 1)),
          *tmp = malloc(sizeof(float) * n0);
    ss.pyr = malloc(sizeof(float) * n_ss);
    ss.mag = malloc(sizeof(float) * n_ss);
    ss.ang = malloc(sizeof(float) * n_ss);
    ss.done_grad = calloc((size_t)ss.n_oct * N_GAUSS, 1);
    CandList cl = {0};
    int rc = -1;
    if (!src || !dog || !tmp || !ss.pyr || !ss.mag || !ss.ang || !ss.done_grad) goto done;
    /* the working image is octave 0's Gaussian 0 */
    if (working_image(ss.pyr, src, px, w, h, W, H) || thumbnail(out, ss.pyr, W, H)) goto done;
    if (scale_space_extrema(&cl, &ss, dog, tmp, p)) goto done;
    out->n_kp = keypoints_describe(out, &cl, &ss);
    rc = 0;
done:
    free(cl.v);
    free(src);
    free(dog);
    free(tmp);
    free(ss.pyr);
    free(ss.mag);
    free(ss.ang);
    free(ss.done_grad);
    return rc;
}

/* ---------------------------------------------------------------- mirror */

/* perm[i]: the bin of the mirror image's descriptor that bin i moves to
 * (x -> -x: cu kept, cv -> 3 - cv, o -> -o mod 8). */
static void mirror_perm(int *perm) {
    for (int cv = 0; cv < 4; cv++)
        for (int cu = 0; cu < 4; cu++)
            for (int o = 0; o < 8; o++) perm[(cv * 4 + cu) * 8 + o] = ((3 - cv) * 4 + cu) * 8 + ((8 - o) & 7);
}

/* float RootSIFT rows f (n_kp, D) of d, L2-normalised; mirrored if mir */
static void desc_to_float(float *f, const DupDesc *d, int mir) {
    int perm[D];
    mirror_perm(perm);
    for (int i = 0; i < d->n_kp; i++) {
        double s = 0;
        for (int k = 0; k < D; k++) s += (double)d->desc[i][k] * d->desc[i][k];
        float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
        for (int k = 0; k < D; k++) f[(size_t)i * D + (mir ? perm[k] : k)] = d->desc[i][k] * inv;
    }
}

/* ---------------------------------------------------------------- verify */

typedef struct {
    int ia, ib;
    float ratio;
} Match;

static int cmp_match(const void *pa, const void *pb) {
    const Match *a = pa, *b = pb;
    if (a->ratio != b->ratio) return a->ratio < b->ratio ? -1 : 1;
    return a->ia - b->ia;
}

/* Inliers of the best similarity transform between matched points za -> zb,
 * and into A the affine map (zb = A[0..2] . (x, y, 1), A[3..5] . (x, y, 1))
 * fitted by least squares to that transform's inliers: a film resized to
 * another aspect ratio is not a similarity. za, zb: (m, 2). Hypotheses from
 * all pairs of the first n_top matches. */
static int ransac_similarity(const float *za, const float *zb, int m, int n_top, float tol, double *A) {
    if (m < 3) return 0;
    int top = m < n_top ? m : n_top, best = 0;
    double T[4] = {1, 0, 0, 0};
    float tol2 = tol * tol;
    for (int p = 0; p < top; p++)
        for (int q = p + 1; q < top; q++) {
            double ax = za[2 * q] - za[2 * p], ay = za[2 * q + 1] - za[2 * p + 1];
            double bx = zb[2 * q] - zb[2 * p], by = zb[2 * q + 1] - zb[2 * p + 1];
            double na = ax * ax + ay * ay, nb = bx * bx + by * by;
            if (na < 64 || nb < 64) continue; /* points too close to fix a rotation */
            double s2 = nb / na;
            if (s2 < 0.1 || s2 > 10) continue; /* scale outside 0.32 .. 3.2 */
            /* a = (b / a) as complex numbers */
            double cr = (bx * ax + by * ay) / na, ci = (by * ax - bx * ay) / na;
            double tx = zb[2 * p] - (cr * za[2 * p] - ci * za[2 * p + 1]);
            double ty = zb[2 * p + 1] - (ci * za[2 * p] + cr * za[2 * p + 1]);
            int cnt = 0;
            for (int k = 0; k < m; k++) {
                double ex = cr * za[2 * k] - ci * za[2 * k + 1] + tx - zb[2 * k];
                double ey = ci * za[2 * k] + cr * za[2 * k + 1] + ty - zb[2 * k + 1];
                cnt += ex * ex + ey * ey < tol2;
            }
            if (cnt > best) {
                best = cnt;
                T[0] = cr, T[1] = ci, T[2] = tx, T[3] = ty;
            }
        }
    A[0] = T[0], A[1] = -T[1], A[2] = T[2], A[3] = T[1], A[4] = T[0], A[5] = T[3];
    if (best < 6) return best;
    /* least squares over the inliers: H = sum (x y 1)^T (x y 1) */
    double H[3][3] = {{0}}, gx[3] = {0}, gy[3] = {0}, ax[3], ay[3];
    for (int k = 0; k < m; k++) {
        double x = za[2 * k], y = za[2 * k + 1];
        double ex = T[0] * x - T[1] * y + T[2] - zb[2 * k], ey = T[1] * x + T[0] * y + T[3] - zb[2 * k + 1];
        if (!(ex * ex + ey * ey < tol2)) continue;
        double v[3] = {x, y, 1};
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) H[r][c] += v[r] * v[c];
            gx[r] -= v[r] * zb[2 * k];
            gy[r] -= v[r] * zb[2 * k + 1];
        }
    }
    if (!solve3(ax, H, gx) && !solve3(ay, H, gy)) {
        memcpy(A, ax, sizeof ax);
        memcpy(A + 3, ay, sizeof ay);
    }
    return best;
}

/* Ranks of v (n, values 0..255) into r, ties (equal to a quarter grey
 * level) given their mean rank: a counting sort, no comparisons. */
static void ranks(float *r, const float *v, int n) {
    enum { Q = 1021 };
    int cnt[Q] = {0};
    double below = 0, mean[Q];
    for (int i = 0; i < n; i++) {
        int q = (int)lrintf(v[i] * 4);
        cnt[q < 0 ? 0 : (q >= Q ? Q - 1 : q)]++;
    }
    for (int q = 0; q < Q; q++) {
        mean[q] = below + (cnt[q] + 1) / 2.0;
        below += cnt[q];
    }
    for (int i = 0; i < n; i++) {
        int q = (int)lrintf(v[i] * 4);
        r[i] = (float)mean[q < 0 ? 0 : (q >= Q ? Q - 1 : q)];
    }
}

/* Point (x, y) of image a's working px through the affine map A (and b's
 * mirror) into b's working px, or back if inv. */
static void map_point(double *x, double *y, const double *A, int mir, int inv) {
    double X = *x, Y = *y;
    if (!inv) {
        double bx = A[0] * X + A[1] * Y + A[2], by = A[3] * X + A[4] * Y + A[5];
        *x = mir ? -bx : bx, *y = by;
    } else {
        double bx = (mir ? -X : X) - A[2], by = Y - A[5], det = A[0] * A[4] - A[1] * A[3];
        *x = (A[4] * bx - A[1] * by) / det, *y = (A[0] * by - A[3] * bx) / det;
    }
}

/* Pixel check of an affine map A from a's working px to b's (b mirrored if
 * mir). The finer of the two thumbnails is blurred to the coarser one's
 * resolution and resampled onto its grid; both are band-passed (less their
 * blur at DETAIL_SIGMA px), and Spearman's rank correlation of the two is
 * taken over the overlap (less a border of 2 px, and less black padding). Copies of one film share
 * its fine detail (grain, texture, edges) exactly; different films of one
 * anatomy or implant design share only the coarse shape. Rank correlation
 * does not change under monotone intensity maps (brightness, contrast,
 * gamma). *overlap gets the overlap's share of the coarser thumbnail. */
enum { PIX_N = DUP_THUMB * DUP_THUMB };
#define DETAIL_SIGMA 1.0
#define BLACK 3.0f /* grey level (0..255 after the stretch) of padding */
static float pixel_corr(const DupDesc *a, const DupDesc *b, int mir, const double *A, float *overlap) {
    double ka = (double)a->tw / a->w, kb = (double)b->tw / b->w; /* thumb px per working px */
    double det = A[0] * A[4] - A[1] * A[3];
    if (!(fabs(det) > 1e-6)) return 0;
    double S = sqrt(fabs(det)) * kb / ka; /* b thumb px per a thumb px (geometric mean of the axes) */
    int grid_is_a = S >= 1;
    const DupDesc *g = grid_is_a ? a : b, *f = grid_is_a ? b : a;
    double kg = grid_is_a ? ka : kb, kf = grid_is_a ? kb : ka, Sf = grid_is_a ? S : 1 / S;
    int gw = g->tw, gh = g->th, fw = f->tw, fh = f->th;
    float fs[PIX_N], tmp[PIX_N], wg[PIX_N], wf[PIX_N], bg[PIX_N], bf[PIX_N], va[PIX_N], vb[PIX_N];
    uint8_t in[PIX_N];
    /* f blurred to g's resolution */
    for (int i = 0; i < fw * fh; i++) fs[i] = f->thumb[i];
    if (Sf > 1.05) blur_f32(fs, tmp, fw, fh, 0.5 * sqrt(Sf * Sf - 1));
    double sum = 0;
    int n_in = 0;
    for (int v = 0; v < gh; v++)
        for (int u = 0; u < gw; u++) {
            int i = v * gw + u;
            double x = (u + 0.5) / kg - 0.5, y = (v + 0.5) / kg - 0.5;
            map_point(&x, &y, A, mir, !grid_is_a);
            double uf = (x + 0.5) * kf - 0.5, vf = (y + 0.5) * kf - 0.5;
            wg[i] = g->thumb[i];
            in[i] = uf >= 0 && vf >= 0 && uf <= fw - 1 && vf <= fh - 1;
            wf[i] = 0;
            if (!in[i]) continue;
            int x0 = (int)uf, y0 = (int)vf, x1 = x0 + 1 < fw ? x0 + 1 : x0, y1 = y0 + 1 < fh ? y0 + 1 : y0;
            double fx = uf - x0, fy = vf - y0;
            double top = fs[y0 * fw + x0] * (1 - fx) + fs[y0 * fw + x1] * fx;
            double bot = fs[y1 * fw + x0] * (1 - fx) + fs[y1 * fw + x1] * fx;
            wf[i] = (float)(top * (1 - fy) + bot * fy);
            sum += wf[i], n_in++;
        }
    *overlap = (float)n_in / (gw * gh);
    if (n_in < 16) return 0;
    for (int i = 0; i < gw * gh; i++)
        if (!in[i]) wf[i] = (float)(sum / n_in);
    memcpy(bg, wg, sizeof(float) * gw * gh);
    memcpy(bf, wf, sizeof(float) * gw * gh);
    blur_f32(bg, tmp, gw, gh, DETAIL_SIGMA);
    blur_f32(bf, tmp, gw, gh, DETAIL_SIGMA);
    int n = 0;
    for (int v = 2; v < gh - 2; v++)
        for (int u = 2; u < gw - 2; u++) {
            int ok = 1;
            float mg = 0, mf = 0; /* brightest in the window: black padding or corners carry no detail */
            for (int dv = -2; dv <= 2 && ok; dv++)
                for (int du = -2; du <= 2 && ok; du++) {
                    int k = (v + dv) * gw + u + du;
                    ok = in[k];
                    mg = wg[k] > mg ? wg[k] : mg;
                    mf = wf[k] > mf ? wf[k] : mf;
                }
            if (!ok || mg <= BLACK || mf <= BLACK) continue;
            int i = v * gw + u;
            /* details into 0..255 for the counting-sort ranks */
            float da = 128 + 2 * (wg[i] - bg[i]), db = 128 + 2 * (wf[i] - bf[i]);
            va[n] = da < 0 ? 0 : (da > 255 ? 255 : da);
            vb[n] = db < 0 ? 0 : (db > 255 ? 255 : db);
            n++;
        }
    if (n < 16) return 0;
    float *ra = wg, *rb = wf; /* reused as rank buffers */
    ranks(ra, va, n);
    ranks(rb, vb, n);
    double ma = 0, mb = 0;
    for (int i = 0; i < n; i++) ma += ra[i], mb += rb[i];
    ma /= n, mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        double da = ra[i] - ma, db = rb[i] - mb;
        sab += da * db, saa += da * da, sbb += db * db;
    }
    return saa > 0 && sbb > 0 ? (float)(sab / sqrt(saa * sbb)) : 0;
}

/* Inliers from a (fa: na x D) to b (fb: nb x D), with positions pa, pb. */
static int match_verify(const float *fa, const float *pa, int na, const float *fb, const float *pb, int nb,
                        const DupMatchParams *p, float *sim, Match *mt, float *za, float *zb, double *T) {
    if (na < 3 || nb < 3) return 0;
    /* sim (na, nb) = fa . fb^T */
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++) {
            sim[(size_t)i * nb + j] = dot_d(fa + (size_t)i * D, fb + (size_t)j * D);
        }
    int m = 0;
    for (int i = 0; i < na; i++) {
        float s1 = -2, s2 = -2;
        int j1 = -1;
        for (int j = 0; j < nb; j++) {
            float s = sim[(size_t)i * nb + j];
            if (s > s1) {
                s2 = s1;
                s1 = s;
                j1 = j;
            } else if (s > s2)
                s2 = s;
        }
        double d1 = sqrt(fmax(2 - 2 * s1, 0)), d2 = sqrt(fmax(2 - 2 * s2, 0));
        if (!(d1 < p->ratio * d2)) continue;
        int back = 1; /* mutual: i is the best row for column j1 */
        for (int k = 0; k < na && back; k++)
            if (k != i && sim[(size_t)k * nb + j1] > s1) back = 0;
        if (!back) continue;
        mt[m++] = (Match){i, j1, d2 > 0 ? (float)(d1 / d2) : 1.0f};
    }
    if (m < 3) return 0;
    qsort(mt, m, sizeof(Match), cmp_match);
    for (int k = 0; k < m; k++) {
        za[2 * k] = pa[2 * mt[k].ia];
        za[2 * k + 1] = pa[2 * mt[k].ia + 1];
        zb[2 * k] = pb[2 * mt[k].ib];
        zb[2 * k + 1] = pb[2 * mt[k].ib + 1];
    }
    return ransac_similarity(za, zb, m, p->n_top, p->tol, T);
}

/* Work buffers for one verification. */
typedef struct {
    float fa[DUP_MAX_KP * D], fb[DUP_MAX_KP * D], pa[2 * DUP_MAX_KP], pb[2 * DUP_MAX_KP];
    float sim[DUP_MAX_KP * DUP_MAX_KP], za[2 * DUP_MAX_KP], zb[2 * DUP_MAX_KP];
    Match mt[DUP_MAX_KP];
} VerifyWork;

static float verify_pair(VerifyWork *wk, const DupDesc *a, const DupDesc *b, const DupMatchParams *p, int *mirrored) {
    int best = 0, best_mir = 0;
    double T[6] = {1, 0, 0, 0, 1, 0}, Tm[6] = {1, 0, 0, 0, 1, 0};
    desc_to_float(wk->fa, a, 0);
    for (int i = 0; i < a->n_kp; i++) {
        wk->pa[2 * i] = a->kp[i][0];
        wk->pa[2 * i + 1] = a->kp[i][1];
    }
    for (int mir = 0; mir < 2; mir++) {
        desc_to_float(wk->fb, b, mir);
        for (int i = 0; i < b->n_kp; i++) {
            wk->pb[2 * i] = mir ? -b->kp[i][0] : b->kp[i][0];
            wk->pb[2 * i + 1] = b->kp[i][1];
        }
        int c = match_verify(wk->fa, wk->pa, a->n_kp, wk->fb, wk->pb, b->n_kp, p, wk->sim, wk->mt, wk->za, wk->zb, Tm);
        if (c > best) {
            best = c;
            best_mir = mir;
            memcpy(T, Tm, sizeof T);
        }
    }
    if (mirrored) *mirrored = best_mir;
    /* the pixel check: the transform must also bring the pixels into
     * agreement (a shared anatomy or implant design can give many inliers) */
    if (best >= 3 && p->min_corr > 0) {
        float overlap, r = pixel_corr(a, b, best_mir, T, &overlap);
        if (!(r >= p->min_corr && overlap >= p->min_overlap)) return 0;
    }
    return (float)best;
}

float dupdesc_similarity(const DupDesc *a, const DupDesc *b, const DupMatchParams *p, int *mirrored) {
    DupMatchParams mp;
    if (!p) {
        dupdesc_default_match_params(&mp);
        p = &mp;
    }
    VerifyWork *wk = malloc(sizeof *wk);
    if (!wk) return -1;
    float s = verify_pair(wk, a, b, p, mirrored);
    free(wk);
    return s;
}

/* ---------------------------------------------------------------- VLAD */

/* Codebook cb (K, D) by k-means on sample rows x (m, D): initial centres at
 * evenly spaced rows, 15 Lloyd iterations; an emptied centre takes the row
 * farthest from its centre. Deterministic. Returns 0 or -1. */
static int kmeans(float *cb, const float *x, int64_t m, int K) {
    int32_t *as = malloc(sizeof(int32_t) * m);
    float *dist = malloc(sizeof(float) * m);
    double *sum = malloc(sizeof(double) * K * D);
    int64_t *cnt = malloc(sizeof(int64_t) * K);
    if (!as || !dist || !sum || !cnt) {
        free(as), free(dist), free(sum), free(cnt);
        return -1;
    }
    for (int k = 0; k < K; k++) memcpy(cb + (size_t)k * D, x + (size_t)(m * k / K) * D, sizeof(float) * D);
    for (int it = 0; it < 15; it++) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++) {
            float bd = FLT_MAX;
            int bk = 0;
            for (int k = 0; k < K; k++) {
                float s = dist2_d(x + (size_t)i * D, cb + (size_t)k * D);
                if (s < bd) bd = s, bk = k;
            }
            as[i] = bk;
            dist[i] = bd;
        }
        memset(sum, 0, sizeof(double) * K * D);
        memset(cnt, 0, sizeof(int64_t) * K);
        for (int64_t i = 0; i < m; i++) {
            cnt[as[i]]++;
            for (int j = 0; j < D; j++) sum[(size_t)as[i] * D + j] += x[(size_t)i * D + j];
        }
        for (int k = 0; k < K; k++) {
            if (cnt[k]) {
                for (int j = 0; j < D; j++) cb[(size_t)k * D + j] = (float)(sum[(size_t)k * D + j] / cnt[k]);
            } else {
                int64_t far = 0;
                for (int64_t i = 1; i < m; i++)
                    if (dist[i] > dist[far]) far = i;
                memcpy(cb + (size_t)k * D, x + (size_t)far * D, sizeof(float) * D);
                dist[far] = 0;
            }
        }
    }
    free(as), free(dist), free(sum), free(cnt);
    return 0;
}

/* VLAD of the features f (n_kp, D) on codebook cb (K, D), added into v (K * D)
 * (not normalised). */
static void vlad_add(float *v, const float *f, int n_kp, const float *cb, int K) {
    for (int i = 0; i < n_kp; i++) {
        const float *x = f + (size_t)i * D;
        float bd = FLT_MAX;
        int bk = 0;
        for (int k = 0; k < K; k++) {
            float s = dist2_d(x, cb + (size_t)k * D);
            if (s < bd) bd = s, bk = k;
        }
        for (int j = 0; j < D; j++) v[(size_t)bk * D + j] += x[j] - cb[(size_t)bk * D + j];
    }
}

/* power-law (sqrt), intra (per word) and global L2 normalisation of v (K * D) */
static void vlad_normalise(float *v, int K) {
    double tot = 0;
    for (int k = 0; k < K; k++) {
        float *w = v + (size_t)k * D;
        double s = 0;
        for (int j = 0; j < D; j++) {
            w[j] = w[j] >= 0 ? sqrtf(w[j]) : -sqrtf(-w[j]);
            s += (double)w[j] * w[j];
        }
        if (s > 0)
            for (int j = 0; j < D; j++) w[j] = (float)(w[j] / sqrt(s));
        tot += s > 0;
    }
    for (size_t j = 0; j < (size_t)K * D; j++) v[j] = tot > 0 ? (float)(v[j] / sqrt(tot)) : 0;
}

/* ---------------------------------------------------------------- cluster */

typedef struct {
    int32_t i, j;
    float s;
} Pair;

typedef struct {
    int32_t deg;
    double ssum;
    int32_t i;
} NodeKey;

static int cmp_node(const void *pa, const void *pb) {
    const NodeKey *a = pa, *b = pb;
    if (a->deg != b->deg) return a->deg > b->deg ? -1 : 1;
    if (a->ssum != b->ssum) return a->ssum > b->ssum ? -1 : 1;
    return a->i - b->i;
}

static int cmp_pair_ij(const void *pa, const void *pb) {
    const Pair *a = pa, *b = pb;
    if (a->i != b->i) return a->i - b->i;
    return a->j - b->j;
}

/* keep the k largest (value, index) in a sorted insertion list */
static void topk_insert(float *val, int32_t *idx, int k, float v, int32_t j) {
    if (v < val[k - 1] || (v == val[k - 1] && j > idx[k - 1])) return;
    int p = k - 1;
    while (p > 0 && (val[p - 1] < v || (val[p - 1] == v && idx[p - 1] > j))) {
        val[p] = val[p - 1];
        idx[p] = idx[p - 1];
        p--;
    }
    val[p] = v;
    idx[p] = j;
}

enum { N_WORDS = DUP_VLAD_WORDS };
static const size_t VLAD_LEN = (size_t)N_WORDS * D; /* one image's VLAD vector */

/* 1. Codebook (N_WORDS, D) by k-means on at most 40000 features of d (n),
 * taken at an even stride through all images' features in order; all zeros
 * when there are fewer than N_WORDS features. Returns it (the caller frees),
 * or NULL (memory). */
static float *cluster_codebook(const DupDesc *d, int n) {
    int64_t tot = 0;
    for (int i = 0; i < n; i++) tot += d[i].n_kp;
    int64_t m_max = 40000, m = 0, c = 0;
    int step_num = tot > m_max ? (int)((tot + m_max - 1) / m_max) : 1;
    float *cb = calloc(VLAD_LEN, sizeof(float));
    float *sample = malloc(sizeof(float) * D * (size_t)(tot / step_num + DUP_MAX_KP + 1));
    float *f = malloc(sizeof(float) * DUP_MAX_KP * D);
    if (!cb || !sample || !f) goto fail;
    for (int i = 0; i < n; i++) {
        desc_to_float(f, &d[i], 0);
        for (int k = 0; k < d[i].n_kp; k++, c++)
            if (c % step_num == 0) memcpy(sample + (size_t)(m++) * D, f + (size_t)k * D, sizeof(float) * D);
    }
    if (m >= N_WORDS && kmeans(cb, sample, m, N_WORDS)) goto fail;
    free(f);
    free(sample);
    return cb;
fail:
    free(f);
    free(sample);
    free(cb);
    return NULL;
}

/* 2. Mirror-symmetrised VLAD of each image of d (n) on the codebook cb:
 * U (n, VLAD_LEN), row i the L2-normalised sum of the normalised VLAD of
 * image i and of its mirror image, so that a mirrored copy lands near its
 * original. A thread without work buffers leaves its rows zero.
 * Returns U (the caller frees), or NULL (memory). */
static float *cluster_vlad(const DupDesc *d, int n, const float *cb) {
    const size_t VD = VLAD_LEN;
    float *U = calloc((size_t)n * VD, sizeof(float));
    if (!U) return NULL;
#pragma omp parallel
    {
        float *f = malloc(sizeof(float) * DUP_MAX_KP * D), *vm = malloc(sizeof(float) * VD);
#pragma omp for schedule(dynamic, 8)
        for (int i = 0; i < n; i++) {
            if (!f || !vm) continue;
            float *v = U + (size_t)i * VD;
            desc_to_float(f, &d[i], 0);
            vlad_add(v, f, d[i].n_kp, cb, N_WORDS);
            vlad_normalise(v, N_WORDS);
            memset(vm, 0, sizeof(float) * VD);
            desc_to_float(f, &d[i], 1);
            vlad_add(vm, f, d[i].n_kp, cb, N_WORDS);
            vlad_normalise(vm, N_WORDS);
            double s = 0;
            for (size_t j = 0; j < VD; j++) {
                v[j] += vm[j];
                s += (double)v[j] * v[j];
            }
            float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
            for (size_t j = 0; j < VD; j++) v[j] *= inv;
        }
        free(f);
        free(vm);
    }
    return U;
}

/* Each image's kc most VLAD-similar other images (rows of U (n, VLAD_LEN)):
 * topv, topi (n, kc) get their similarities and indices, best first (ties:
 * lower index). From blocks of S = U U^T by sgemm: each element's sum is
 * done by one thread in a fixed order, so the result does not depend on the
 * thread count. Returns 0 or -1 (memory). */
static int vlad_topk(float *topv, int32_t *topi, const float *U, int n, int kc) {
    enum { B = 256 };
    const size_t VD = VLAD_LEN;
    float *S = malloc(sizeof(float) * (size_t)B * n);
    if (!S) return -1;
    for (size_t q = 0; q < (size_t)n * kc; q++) topv[q] = -FLT_MAX, topi[q] = INT32_MAX;
    for (int r0 = 0; r0 < n; r0 += B) {
        int rb = n - r0 < B ? n - r0 : B;
        /* rows r0 .. r0+rb against all columns */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, n, (int)VD, 1.0f, U + (size_t)r0 * VD, (int)VD, U,
                    (int)VD, 0.0f, S, n);
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rb; r++) {
            int i = r0 + r;
            for (int j = 0; j < n; j++)
                if (j != i) topk_insert(topv + (size_t)i * kc, topi + (size_t)i * kc, kc, S[(size_t)r * n + j], j);
        }
    }
    free(S);
    return 0;
}

/* 3. Candidate pairs: each image with its kc (>= 1) most VLAD-similar
 * images (rows of U (n, VLAD_LEN)), as unique pairs i < j sorted by i, then
 * j, with similarity 0. *pairs (the caller frees) gets them and *np their
 * count. Returns 0 or -1 (memory). */
static int cluster_candidates(Pair **pairs, int64_t *np, const float *U, int n, int kc) {
    float *topv = malloc(sizeof(float) * (size_t)n * kc);
    int32_t *topi = malloc(sizeof(int32_t) * (size_t)n * kc);
    Pair *pr = malloc(sizeof(Pair) * (size_t)n * kc);
    int rc = -1;
    if (!topv || !topi || !pr || vlad_topk(topv, topi, U, n, kc)) goto done;
    int64_t m = 0, u = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < kc; k++) {
            int32_t j = topi[(size_t)i * kc + k];
            if (j == INT32_MAX) continue;
            pr[m++] = (Pair){i < j ? i : j, i < j ? j : i, 0};
        }
    qsort(pr, m, sizeof(Pair), cmp_pair_ij);
    for (int64_t q = 0; q < m; q++)
        if (!u || pr[q].i != pr[u - 1].i || pr[q].j != pr[u - 1].j) pr[u++] = pr[q];
    *pairs = pr;
    *np = u;
    pr = NULL;
    rc = 0;
done:
    free(topv);
    free(topi);
    free(pr);
    return rc;
}

/* 4. The similarity of each candidate pair (np) of d into its s, as
 * dupdesc_similarity gives it; -1 where a thread had no work buffers. */
static void cluster_verify(Pair *pairs, int64_t np, const DupDesc *d, const DupMatchParams *mp) {
#pragma omp parallel
    {
        VerifyWork *wk = malloc(sizeof *wk);
#pragma omp for schedule(dynamic, 16)
        for (int64_t q = 0; q < np; q++)
            pairs[q].s = wk ? verify_pair(wk, &d[pairs[q].i], &d[pairs[q].j], mp, NULL) : -1;
        free(wk);
    }
}

/* The links between n images: their verified pairs with similarity >=
 * threshold, listed once from each end. */
typedef struct {
    int32_t *deg;   /* (n) links of image i */
    double *ssum;   /* (n) the sum of their similarities */
    int64_t *start; /* (n + 1) image i's links are adj[start[i] .. start[i + 1]) */
    Pair *adj;      /* i: the image, j: the linked image, s: similarity; per image by s desc, then j */
} Links;

static void links_free(Links *l) {
    free(l->deg);
    free(l->ssum);
    free(l->start);
    free(l->adj);
}

/* Links of n images from the verified pairs (np). Returns 0, or -1
 * (memory; links_free still releases what was taken). */
static int links_build(Links *l, const Pair *pairs, int64_t np, float threshold, int n) {
    l->deg = calloc(n, sizeof(int32_t));
    l->ssum = calloc(n, sizeof(double));
    l->start = calloc((size_t)n + 1, sizeof(int64_t));
    l->adj = malloc(sizeof(Pair) * (size_t)(2 * np + 1));
    int64_t *fill = malloc(sizeof(int64_t) * n);
    if (!l->deg || !l->ssum || !l->start || !l->adj || !fill) {
        free(fill);
        return -1;
    }
    for (int64_t q = 0; q < np; q++)
        if (pairs[q].s >= threshold) {
            l->deg[pairs[q].i]++, l->deg[pairs[q].j]++;
            l->ssum[pairs[q].i] += pairs[q].s, l->ssum[pairs[q].j] += pairs[q].s;
        }
    for (int i = 0; i < n; i++) l->start[i + 1] = l->start[i] + l->deg[i];
    for (int i = 0; i < n; i++) fill[i] = l->start[i];
    Pair *adj = l->adj;
    for (int64_t q = 0; q < np; q++)
        if (pairs[q].s >= threshold) {
            adj[fill[pairs[q].i]++] = (Pair){pairs[q].i, pairs[q].j, pairs[q].s};
            adj[fill[pairs[q].j]++] = (Pair){pairs[q].j, pairs[q].i, pairs[q].s};
        }
    free(fill);
    for (int i = 0; i < n; i++) /* insertion sort: lists are short */
        for (int64_t a = l->start[i] + 1; a < l->start[i + 1]; a++) {
            Pair t = adj[a];
            int64_t b = a;
            while (b > l->start[i] && (adj[b - 1].s < t.s || (adj[b - 1].s == t.s && adj[b - 1].j > t.j))) {
                adj[b] = adj[b - 1];
                b--;
            }
            adj[b] = t;
        }
    return 0;
}

/* order (n): the images in the order they are tried as medoids, the most
 * links first (ties: the larger sum of similarities, then the lower index).
 * Returns 0 or -1 (memory). */
static int medoid_order(int32_t *order, const Links *l, int n) {
    NodeKey *key = malloc(sizeof(NodeKey) * n);
    if (!key) return -1;
    for (int i = 0; i < n; i++) key[i] = (NodeKey){l->deg[i], l->ssum[i], i};
    qsort(key, n, sizeof(NodeKey), cmp_node);
    for (int i = 0; i < n; i++) order[i] = key[i].i;
    free(key);
    return 0;
}

/* Medoids, taken in order (n), each take their linked images not yet
 * grouped, strongest link first, up to max_group members. medoid (n) gets
 * each image's medoid (a medoid: itself; -1: not grouped), size (n) each
 * medoid's group size (size starts zeroed). Returns the number of groups
 * that reached max_group with linked images left out. */
static int medoids_take(int32_t *medoid, int32_t *size, const int32_t *order, const Links *l, int max_group, int n) {
    int n_capped = 0;
    for (int i = 0; i < n; i++) medoid[i] = -1;
    for (int a = 0; a < n; a++) {
        int i = order[a];
        if (medoid[i] >= 0 || l->deg[i] == 0) continue;
        int free_links = 0;
        for (int64_t e = l->start[i]; e < l->start[i + 1]; e++) free_links += medoid[l->adj[e].j] < 0;
        if (!free_links) continue;
        medoid[i] = i;
        size[i] = 1;
        for (int64_t e = l->start[i]; e < l->start[i + 1]; e++) {
            int j = l->adj[e].j;
            if (medoid[j] >= 0) continue;
            if (size[i] >= max_group) {
                n_capped++;
                break;
            }
            medoid[j] = i;
            size[i]++;
        }
    }
    return n_capped;
}

/* Each image still ungrouped joins the medoid it is most similar to among
 * its links if that group has room (medoid, size as medoids_take). */
static void leftovers_join(int32_t *medoid, int32_t *size, const Links *l, int max_group, int n) {
    for (int i = 0; i < n; i++) {
        if (medoid[i] >= 0) continue;
        for (int64_t e = l->start[i]; e < l->start[i + 1]; e++) {
            int j = l->adj[e].j;
            if (medoid[j] == j && size[j] < max_group) {
                medoid[i] = j;
                size[j]++;
                break;
            }
        }
    }
}

/* group (n) gets the medoid groups (medoid (n) as medoids_take; an
 * ungrouped image is a group of its own) numbered by first appearance, st
 * the number of groups with >= 2 members and the largest size; size (n) is
 * scratch. Returns the number of groups, or -1 (memory). */
static int groups_number(int32_t *group, DupClusterStats *st, int32_t *size, const int32_t *medoid, int n) {
    int32_t *num = malloc(sizeof(int32_t) * n);
    if (!num) return -1;
    for (int i = 0; i < n; i++) num[i] = -1;
    int g = 0;
    memset(size, 0, sizeof(int32_t) * n);
    for (int i = 0; i < n; i++) {
        int r = medoid[i] >= 0 ? medoid[i] : i;
        if (num[r] < 0) num[r] = g++;
        group[i] = num[r];
        size[group[i]]++;
    }
    free(num);
    for (int k = 0; k < g; k++) {
        st->n_groups_multi += size[k] >= 2;
        if (size[k] > st->largest_group) st->largest_group = size[k];
    }
    return g;
}

/* 5. Medoid groups of n images from the verified pairs (np): images are
 * tried as medoids in order of their links >= threshold; each takes its
 * not yet grouped linked images, strongest link first, up to max_group
 * members; then every image left alone joins the medoid it is most similar
 * to (>= threshold) if that group has room. group (n) gets 0..G-1, st the
 * group counts. Returns G, or -1 (memory). */
static int cluster_groups(int32_t *group, DupClusterStats *st, const Pair *pairs, int64_t np, float threshold,
                          int max_group, int n) {
    Links l = {0};
    int32_t *order = malloc(sizeof(int32_t) * n), *medoid = malloc(sizeof(int32_t) * n);
    int32_t *size = calloc(n, sizeof(int32_t));
    int ret = -1;
    if (!order || !medoid || !size || links_build(&l, pairs, np, threshold, n) || medoid_order(order, &l, n))
        goto done;
    st->n_groups_capped = medoids_take(medoid, size, order, &l, max_group, n);
    leftovers_join(medoid, size, &l, max_group, n);
    ret = groups_number(group, st, size, medoid, n);
done:
    links_free(&l);
    free(order);
    free(medoid);
    free(size);
    return ret;
}

int dupdesc_cluster(int32_t *group, DupClusterStats *stats, int32_t *pair_i, int32_t *pair_j, float *pair_s,
                int64_t *n_pairs, const DupDesc *d, float threshold, const DupClusterParams *p, int64_t max_pairs,
                int n) {
    DupClusterParams cp;
    DupClusterStats st = {0};
    if (!p) {
        dupdesc_default_cluster_params(&cp);
        p = &cp;
    }
#ifdef _OPENMP
    int saved_threads = omp_get_max_threads();
    if (p->n_threads > 0) omp_set_num_threads(p->n_threads);
#endif
    int kc = p->n_cand < n - 1 ? p->n_cand : n - 1, ret = -1;
    float *cb = NULL, *U = NULL;
    Pair *pairs = NULL;
    int64_t np = 0;
    double t0 = now_s();
    if (n <= 0) {
        ret = 0;
        goto done;
    }
    if (!(cb = cluster_codebook(d, n))) goto done;
    st.t_codebook = now_s() - t0;
    t0 = now_s();
    if (!(U = cluster_vlad(d, n, cb))) goto done;
    st.t_vlad = now_s() - t0;
    t0 = now_s();
    if (kc > 0 && cluster_candidates(&pairs, &np, U, n, kc)) goto done;
    free(U);
    U = NULL;
    st.t_candidates = now_s() - t0;
    t0 = now_s();
    cluster_verify(pairs, np, d, &p->match);
    st.n_pairs_verified = np;
    st.t_verify = now_s() - t0;
    t0 = now_s();
    ret = cluster_groups(group, &st, pairs, np, threshold, p->max_group > 1 ? p->max_group : 1, n);
    if (ret < 0) goto done;
    if (n_pairs) *n_pairs = np;
    for (int64_t q = 0; q < np && q < max_pairs; q++) {
        if (pair_i) pair_i[q] = pairs[q].i;
        if (pair_j) pair_j[q] = pairs[q].j;
        if (pair_s) pair_s[q] = pairs[q].s;
    }
    st.t_link = now_s() - t0;
done:
#ifdef _OPENMP
    omp_set_num_threads(saved_threads);
#endif
    if (stats) *stats = st;
    free(cb);
    free(U);
    free(pairs);
    return ret;
}
