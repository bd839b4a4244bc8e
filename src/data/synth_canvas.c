/* synth_canvas.c: the drawing, clutter and film shared by every phantom
 * anatomy (see synth_canvas.h). Holds no global state and writes no files.
 */
#include "hipid/data/synth_canvas.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/common.h"

#define PI_F SYNTH_PI

/* ---------------------------------------------------------------------------
 * Rasteriser: nonzero fill, exact horizontal coverage, SUBROWS scanlines per
 * pixel row. Spans add to a difference array (fully covered pixels) and a
 * partial array (the two end pixels), so cost is O(edges + width) per row.
 * ------------------------------------------------------------------------- */
#define SUBROWS 5

static void span_add(float *part, float *full, int size, float x0, float x1, float w) {
    x0 = fmaxf(x0, 0.0f);
    x1 = fminf(x1, (float)size);
    if (!(x1 > x0)) return;
    int i0 = (int)x0, i1 = (int)x1;
    if (i0 == i1) {
        part[i0] += (x1 - x0) * w;
        return;
    }
    part[i0] += ((float)(i0 + 1) - x0) * w;
    full[i0 + 1] += w;
    full[i1] -= w;
    if (i1 < size) part[i1] += (x1 - (float)i1) * w;
}

/* Crossings of the scanline y with the polygon's edges, sorted by x. */
static int scan_crossings(float *xs, int *dirs, const float *xy, int n, float y) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        float x0 = xy[2 * i], y0 = xy[2 * i + 1];
        int j = (i + 1) % n;
        float x1 = xy[2 * j], y1 = xy[2 * j + 1];
        int d = (y0 <= y && y < y1) ? 1 : (y1 <= y && y < y0) ? -1 : 0;
        if (!d) continue;
        float x = x0 + (y - y0) * (x1 - x0) / (y1 - y0);
        int k = m++;
        while (k > 0 && xs[k - 1] > x) {
            xs[k] = xs[k - 1];
            dirs[k] = dirs[k - 1];
            k--;
        }
        xs[k] = x;
        dirs[k] = d;
    }
    return m;
}

void synth_raster_poly(float *canvas, int size, const float *xy, int n, float weight) {
    if (n < 3 || weight == 0.0f) return;
    float xmin = xy[0], xmax = xy[0], ymin = xy[1], ymax = xy[1];
    for (int i = 1; i < n; i++) {
        xmin = fminf(xmin, xy[2 * i]);
        xmax = fmaxf(xmax, xy[2 * i]);
        ymin = fminf(ymin, xy[2 * i + 1]);
        ymax = fmaxf(ymax, xy[2 * i + 1]);
    }
    if (!(xmax > 0.0f && xmin < (float)size && ymax > 0.0f && ymin < (float)size)) return;
    int r0 = ymin < 0.0f ? 0 : (int)ymin, r1 = ymax >= (float)size ? size - 1 : (int)ymax;
    int c0 = xmin < 0.0f ? 0 : (int)xmin, c1 = xmax >= (float)size ? size - 1 : (int)xmax;
    float *part = xcalloc((size_t)size + 1, sizeof(float));
    float *full = xcalloc((size_t)size + 1, sizeof(float));
    float *xs = xmalloc(sizeof(float) * (size_t)n);
    int *dirs = xmalloc(sizeof(int) * (size_t)n);
    for (int r = r0; r <= r1; r++) {
        for (int s = 0; s < SUBROWS; s++) {
            float y = (float)r + ((float)s + 0.5f) / SUBROWS;
            int m = scan_crossings(xs, dirs, xy, n, y), wind = 0;
            float start = 0.0f;
            for (int k = 0; k < m; k++) {
                int prev = wind;
                wind += dirs[k];
                if (prev == 0 && wind != 0) start = xs[k];
                else if (prev != 0 && wind == 0) span_add(part, full, size, start, xs[k], 1.0f / SUBROWS);
            }
        }
        float run = 0.0f, *row = canvas + (size_t)r * size;
        for (int c = 0; c <= c1; c++) {
            run += full[c];
            if (c >= c0) row[c] += weight * (run + part[c]);
        }
        memset(part + c0, 0, sizeof(float) * (size_t)(c1 - c0 + 1));
        memset(full, 0, sizeof(float) * ((size_t)size + 1));
    }
    free(dirs);
    free(xs);
    free(full);
    free(part);
}

/* ---------------------------------------------------------------------------
 * Paths and fills
 * ------------------------------------------------------------------------- */
void path_add(Path *q, Vec2 p) {
    HIPID_CHECK(q->n < PATH_CAP);
    q->p[q->n++] = p;
}

/* Quadratic Bezier from a (exclusive) to b (inclusive) with control c. */
void path_quad(Path *q, Vec2 a, Vec2 c, Vec2 b, int steps) {
    for (int i = 1; i <= steps; i++) {
        float t = (float)i / (float)steps;
        path_add(q, v_lerp(v_lerp(a, c, t), v_lerp(c, b, t), t));
    }
}

/* Arc of an ellipse (centre c, radii rx ry, rotated by rot) from angle t0 to t1. */
void path_arc(Path *q, Vec2 c, float rx, float ry, float rot, float t0, float t1, int steps) {
    float cr = cosf(rot), sr = sinf(rot);
    for (int i = 0; i <= steps; i++) {
        float t = t0 + (t1 - t0) * (float)i / (float)steps;
        float x = rx * cosf(t), y = ry * sinf(t);
        path_add(q, v2(c.x + cr * x - sr * y, c.y + sr * x + cr * y));
    }
}

void path_rect(Path *q, Vec2 a, Vec2 b) {
    path_add(q, a);
    path_add(q, v2(b.x, a.y));
    path_add(q, b);
    path_add(q, v2(a.x, b.y));
}

void fill(Canvas *cv, const Xform *t, const Path *q, float w) {
    float xy[2 * PATH_CAP];
    for (int i = 0; i < q->n; i++) {
        Vec2 p = xf_apply(t, q->p[i]);
        xy[2 * i] = p.x * (float)cv->size;
        xy[2 * i + 1] = p.y * (float)cv->size;
    }
    synth_raster_poly(cv->A, cv->size, xy, q->n, w);
}

void fill_ellipse(Canvas *cv, const Xform *t, Vec2 c, float rx, float ry, float rot, float w) {
    Path q = {0};
    path_arc(&q, c, rx, ry, rot, 0.0f, 2.0f * PI_F * 47.0f / 48.0f, 47);
    fill(cv, t, &q, w);
}

/* A stroke of half-width hw along the cubic Bezier c[0..7]. */
void fill_cubic_stroke(Canvas *cv, const Xform *t, const float *c, float hw, float w) {
    enum { STEPS = 48 };
    Vec2 pts[STEPS + 1], nrm[STEPS + 1];
    for (int i = 0; i <= STEPS; i++) {
        float s = (float)i / STEPS, u = 1.0f - s;
        float b0 = u * u * u, b1 = 3 * u * u * s, b2 = 3 * u * s * s, b3 = s * s * s;
        pts[i] = v2(b0 * c[0] + b1 * c[2] + b2 * c[4] + b3 * c[6], b0 * c[1] + b1 * c[3] + b2 * c[5] + b3 * c[7]);
    }
    for (int i = 0; i <= STEPS; i++) {
        Vec2 d = v_add(pts[i < STEPS ? i + 1 : i], v_scale(pts[i > 0 ? i - 1 : i], -1.0f));
        float l = fmaxf(v_len(d), 1e-6f);
        nrm[i] = v2(-d.y / l * hw, d.x / l * hw);
    }
    Path q = {0};
    for (int i = 0; i <= STEPS; i++) path_add(&q, v_add(pts[i], nrm[i]));
    for (int i = STEPS; i >= 0; i--) path_add(&q, v_add(pts[i], v_scale(nrm[i], -1.0f)));
    fill(cv, t, &q, w);
}

/* q moved inwards by d along the vertex bisectors (miters capped at 3 d). */
void path_inset(Path *out, const Path *q, float d) {
    float area = 0.0f;
    for (int i = 0; i < q->n; i++) {
        Vec2 a = q->p[i], b = q->p[(i + 1) % q->n];
        area += a.x * b.y - b.x * a.y;
    }
    float sgn = area > 0.0f ? 1.0f : -1.0f; /* y down: area > 0 is clockwise on screen */
    out->n = 0;
    for (int i = 0; i < q->n; i++) {
        Vec2 a = q->p[(i + q->n - 1) % q->n], b = q->p[i], c = q->p[(i + 1) % q->n];
        Vec2 e0 = v_add(b, v_scale(a, -1.0f)), e1 = v_add(c, v_scale(b, -1.0f));
        e0 = v_scale(e0, 1.0f / fmaxf(v_len(e0), 1e-6f));
        e1 = v_scale(e1, 1.0f / fmaxf(v_len(e1), 1e-6f));
        Vec2 nrm = v2(-(e0.y + e1.y) * sgn, (e0.x + e1.x) * sgn);
        float l = fmaxf(v_len(nrm), 1e-6f), cosh = l / 2.0f;
        path_add(out, v_add(b, v_scale(nrm, fminf(d / fmaxf(cosh, 1e-3f), 3.0f * d) / l)));
    }
}

/* A flat bone: its outline, with a denser cortical rim of width rim. */
void fill_bone(Canvas *cv, const Xform *t, const float (*pts)[2], int n, float w, float rim) {
    Path q = {0}, in = {0};
    for (int i = 0; i < n; i++) path_add(&q, v2(pts[i][0], pts[i][1]));
    fill(cv, t, &q, w);
    path_inset(&in, &q, rim);
    fill(cv, t, &in, -0.35f * w);
}

/* ---------------------------------------------------------------------------
 * Clutter, in image fractions.
 * ------------------------------------------------------------------------- */
static const float glyph_l[][4] = {{0, 0, 1, 5}, {1, 4, 3, 5}};
static const float glyph_r[][4] = {{0, 0, 1, 5}, {1, 0, 2.4f, 1}, {2, 1, 3, 2}, {1, 2, 2.4f, 3}};

static void draw_marker(Canvas *cv, const SynthClutter *p, int left) {
    if (!p->marker) return;
    float k = p->marker_h / 5.0f, a = p->marker_rot_deg * SYNTH_DEG;
    Xform local = {k * cosf(a), -k * sinf(a), p->marker_x, k * sinf(a), k * cosf(a), p->marker_y};
    Xform t = xf_mul(&cv->image, &local);
    Path frame = {0};
    path_rect(&frame, v2(-1.0f, -1.0f), v2(4.0f, 6.0f));
    fill(cv, &t, &frame, 0.25f);
    int right = !left;
    const float (*g)[4] = right ? glyph_r : glyph_l;
    int n = right ? SYNTH_ROWS(glyph_r) : SYNTH_ROWS(glyph_l);
    for (int i = 0; i < n; i++) {
        Path q = {0};
        path_rect(&q, v2(g[i][0], g[i][1]), v2(g[i][2], g[i][3]));
        fill(cv, &t, &q, A_LEAD);
    }
    if (right) {
        Path leg = {0};
        path_add(&leg, v2(1.0f, 3.0f));
        path_add(&leg, v2(2.0f, 3.0f));
        path_add(&leg, v2(3.0f, 5.0f));
        path_add(&leg, v2(2.0f, 5.0f));
        fill(cv, &t, &leg, A_LEAD);
    }
}

static void draw_ruler(Canvas *cv, const SynthClutter *p) {
    if (!p->ruler) return;
    Vec2 a = v2(p->ruler_x0, p->ruler_y0), b = v2(p->ruler_x1, p->ruler_y1);
    Vec2 d = v_add(b, v_scale(a, -1.0f));
    float len = v_len(d);
    Vec2 e = v_scale(d, 1.0f / len), nrm = v2(-e.y, e.x);
    Xform local = xf_frame(a, e, nrm);
    Xform t = xf_mul(&cv->image, &local);
    Path body = {0};
    path_rect(&body, v2(0.0f, 0.0f), v2(len, p->ruler_w));
    fill(cv, &t, &body, 0.3f);
    int i = 0;
    for (float x = 0.5f * p->ruler_step; x < len; x += p->ruler_step, i++) {
        float h = p->ruler_w * (i % 5 == 0 ? 0.7f : 0.35f);
        Path q = {0};
        path_rect(&q, v2(x, 0.0f), v2(x + 0.0045f, h));
        fill(cv, &t, &q, 2.0f);
    }
}

void synth_clutter_draw(Canvas *cv, const SynthClutter *p, int left) {
    draw_ruler(cv, p);
    for (int i = 0; i < p->n_cables; i++) {
        fill_cubic_stroke(cv, &cv->image, p->cable[i], p->cable_w[i], 0.35f * p->cable_a[i]);
        fill_cubic_stroke(cv, &cv->image, p->cable[i], 0.35f * p->cable_w[i], p->cable_a[i]);
    }
    if (p->sphere) fill_ellipse(cv, &cv->image, v2(p->sphere_x, p->sphere_y), p->sphere_r, p->sphere_r, 0.0f, A_METAL);
    draw_marker(cv, p, left);
}

void synth_clutter_sample(SynthClutter *p, Rng *r) {
    p->marker = rng_uniform(r) < 0.7f;
    int corner = (int)rng_below(r, 4);
    p->marker_x = (corner & 1) ? unif(r, 0.78f, 0.88f) : unif(r, 0.05f, 0.14f);
    p->marker_y = (corner & 2) ? unif(r, 0.80f, 0.86f) : unif(r, 0.04f, 0.12f);
    p->marker_h = unif(r, 0.07f, 0.10f);
    p->marker_rot_deg = unif(r, -10.0f, 10.0f);
    p->ruler = rng_uniform(r) < 0.35f;
    float e = unif(r, 0.03f, 0.08f), a = unif(r, 0.05f, 0.25f), b = unif(r, 0.75f, 0.95f);
    if (rng_below(r, 2)) { /* vertical, at the left or right edge */
        float x = rng_below(r, 2) ? 1.0f - e : e - 0.03f;
        p->ruler_x0 = x, p->ruler_y0 = a, p->ruler_x1 = x + unif(r, -0.02f, 0.02f), p->ruler_y1 = b;
    } else { /* horizontal, at the bottom */
        float y = 1.0f - e;
        p->ruler_x0 = a, p->ruler_y0 = y, p->ruler_x1 = b, p->ruler_y1 = y + unif(r, -0.02f, 0.02f);
    }
    p->ruler_w = unif(r, 0.035f, 0.055f);
    p->ruler_step = unif(r, 0.016f, 0.022f);
    float u = rng_uniform(r);
    p->n_cables = u < 0.5f ? 0 : u < 0.85f ? 1 : 2;
    for (int i = 0; i < SYNTH_MAX_CABLES; i++) {
        for (int k = 0; k < 8; k++) p->cable[i][k] = unif(r, -0.1f, 1.1f);
        p->cable_w[i] = unif(r, 0.004f, 0.009f);
        p->cable_a[i] = unif(r, 0.4f, 1.2f);
    }
    p->sphere = rng_uniform(r) < 0.15f;
    p->sphere_x = rng_below(r, 2) ? unif(r, 0.78f, 0.92f) : unif(r, 0.08f, 0.22f);
    p->sphere_y = unif(r, 0.55f, 0.88f);
    p->sphere_r = unif(r, 0.035f, 0.048f);
}

/* ---------------------------------------------------------------------------
 * Film: exposure, window, blur, noise, low resolution, quantisation.
 * ------------------------------------------------------------------------- */
static void film_expose(float *v, const float *A, int n, const SynthFilm *p) {
    float span = p->win_hi - p->win_lo;
    for (int j = 0; j < n; j++) {
        float k = p->exposure * (1.0f + p->heel * (((float)j + 0.5f) / (float)n - 0.5f));
        for (int i = 0; i < n; i++) {
            float b = 1.0f - expf(-k * A[(size_t)j * n + i]);
            v[(size_t)j * n + i] = powf(clampf((b - p->win_lo) / span, 0.0f, 1.0f), p->gamma);
        }
    }
}

/* Separable Gaussian blur of v (n, n) in place, clamped edges; tmp (n, n). */
static void film_blur(float *v, float *tmp, int n, float sigma) {
    if (sigma < 0.05f) return;
    int r = (int)ceilf(3.0f * sigma);
    float k[64];
    if (r > 31) r = 31;
    float sum = 0.0f;
    for (int i = -r; i <= r; i++) sum += k[i + r] = expf(-0.5f * (float)(i * i) / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] /= sum;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            float acc = 0.0f;
            for (int d = -r; d <= r; d++) acc += k[d + r] * v[(size_t)j * n + (i + d < 0 ? 0 : i + d >= n ? n - 1 : i + d)];
            tmp[(size_t)j * n + i] = acc;
        }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            float acc = 0.0f;
            for (int d = -r; d <= r; d++) acc += k[d + r] * tmp[(size_t)(j + d < 0 ? 0 : j + d >= n ? n - 1 : j + d) * n + i];
            v[(size_t)j * n + i] = acc;
        }
}

/* Approximately normal noise (sum of four 16-bit uniforms), stronger in bright areas. */
static void film_noise(float *v, int n, float sigma, uint64_t seed) {
    Rng r = {seed};
    for (size_t i = 0; i < (size_t)n * n; i++) {
        uint64_t x = rng_u64(&r);
        float s = (float)((x & 0xffff) + ((x >> 16) & 0xffff) + ((x >> 32) & 0xffff) + (x >> 48)) / 65536.0f;
        v[i] += sigma * (0.6f + 0.4f * sqrtf(fmaxf(v[i], 0.0f))) * (s - 2.0f) * 1.7320508f;
    }
}

/* Box-downscale by f, then bilinear upscale back to n. */
static void film_lowres(float *v, float *tmp, int n, int f) {
    int m = n / f;
    if (m < 2) return;
    for (int j = 0; j < m; j++)
        for (int i = 0; i < m; i++) {
            float acc = 0.0f;
            for (int b = 0; b < f; b++)
                for (int a = 0; a < f; a++) acc += v[(size_t)(j * f + b) * n + (i * f + a)];
            tmp[(size_t)j * m + i] = acc / (float)(f * f);
        }
    for (int j = 0; j < n; j++) {
        float y = clampf(((float)j + 0.5f) * (float)m / (float)n - 0.5f, 0.0f, (float)(m - 1));
        int y0 = (int)y, y1 = y0 + 1 < m ? y0 + 1 : y0;
        float fy = y - (float)y0;
        for (int i = 0; i < n; i++) {
            float x = clampf(((float)i + 0.5f) * (float)m / (float)n - 0.5f, 0.0f, (float)(m - 1));
            int x0 = (int)x, x1 = x0 + 1 < m ? x0 + 1 : x0;
            float fx = x - (float)x0;
            float top = tmp[(size_t)y0 * m + x0] * (1 - fx) + tmp[(size_t)y0 * m + x1] * fx;
            float bot = tmp[(size_t)y1 * m + x0] * (1 - fx) + tmp[(size_t)y1 * m + x1] * fx;
            v[(size_t)j * n + i] = top * (1 - fy) + bot * fy;
        }
    }
}

void synth_film_sample(SynthFilm *f, Rng *r) {
    f->exposure = unif(r, 0.8f, 1.3f);
    f->heel = unif(r, -0.25f, 0.25f);
    f->win_lo = unif(r, 0.0f, 0.12f);
    f->win_hi = unif(r, 0.88f, 0.98f);
    f->gamma = expf(unif(r, -0.3f, 0.3f));
    f->blur_px = unif(r, 0.3f, 1.3f);
    f->noise = unif(r, 0.008f, 0.035f);
}

void synth_film_clutter_sample(SynthFilm *f, SynthClutter *c, Rng *r) {
    synth_film_sample(f, r);
    synth_clutter_sample(c, r);
    f->noise_seed = rng_u64(r);
}

#define LOWRES_P 0.12f

Rng synth_view_stream(uint64_t seed, uint64_t a, uint64_t b, int view, int *lowres) {
    Rng v = rng_stream(seed, a, b, (uint64_t)view);
    *lowres = 0;
    if (view > 1 && rng_uniform(&v) < LOWRES_P) {
        *lowres = 2 + (int)rng_below(&v, 3);
        v = rng_stream(seed, a, b, 1);
    }
    return v;
}

void synth_film_develop(uint8_t *img, const float *A, int size, const SynthFilm *f) {
    size_t nn = (size_t)size * size;
    float *v = xmalloc_f32(nn), *tmp = xmalloc_f32(nn);
    film_expose(v, A, size, f);
    film_blur(v, tmp, size, f->blur_px * (float)size / 128.0f);
    film_noise(v, size, f->noise, f->noise_seed);
    if (f->lowres > 1) film_lowres(v, tmp, size, f->lowres);
    for (size_t i = 0; i < nn; i++) img[i] = (uint8_t)lrintf(clampf(v[i], 0.0f, 1.0f) * 255.0f);
    free(tmp);
    free(v);
}
