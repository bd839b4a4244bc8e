/* synth.c: draw one phantom AP hip radiograph (see synth.h).
 *
 * Pipeline per image: shapes are outlined as polygons in a convenient frame
 * (canonical, the stem's own frame, or image fractions), mapped to pixels by
 * an affine Xform and rasterised with anti-aliasing into a float canvas of
 * attenuation A (additive, so overlaps and holes compose). Then brightness
 * 1 - exp(-k A), a window and gamma, Gaussian blur, noise, an optional
 * low-resolution round trip, and 8-bit quantisation.
 *
 * It does not write files (synth_set.c does) and holds no global state.
 */
#include "hipid/data/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/rng.h"

#define PI_F 3.14159265f
#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define DEG (PI_F / 180.0f)

/* Attenuation of materials, per unit coverage. Bone and soft tissue are
 * further scaled per patient. */
#define A_METAL 6.0f
#define A_LEAD 5.0f
#define A_CEMENT 0.9f
#define A_CORTEX 1.0f
#define A_MARROW 0.35f  /* what the medullary canal keeps of the cortex value */
#define A_PELVIS 0.55f

/* ---------------------------------------------------------------------------
 * The design table. Which pairs are hard to tell apart, and why:
 *
 *   design              family imitated                    hard to tell from
 *   tapered-wedge       flat single-taper wedge            collared (only the collar
 *                       (Taperloc, Accolade, Tri-Lock)     differs), modular-neck (only
 *                                                          the neck junction differs),
 *                                                          fenestrated (small windows)
 *   cylindrical-coated  extensively coated cylinder        nothing close: long and
 *                       (AML, Solution, Prodigy)           parallel-sided
 *   anatomic-curved     anatomic, medial bow               tapered-wedge at low
 *                       (ABG, Anatomic, PCA)               resolution (bow is subtle)
 *   short-metaphyseal   short curved neck-sparing          nothing close: length
 *                       (Fitmore, Metha, Tri-Lock BPS)
 *   collared            collared wedge (Corail KLA,        tapered-wedge; modular-neck
 *                       Polarstem collared)
 *   modular-neck        modular body and neck              tapered-wedge, collared;
 *                       (Profemur, Rejuvenate, M/L Taper   its neck angle varies by
 *                       Kinectiv)                          patient (three versions)
 *   cemented-polished   polished double taper in a         easy: cement mantle and plug
 *                       cement mantle (Exeter, CPT, CPCS)
 *   fenestrated         straight stem with proximal        tapered-wedge when the
 *                       windows (Austin Moore type)        windows are blurred away
 *
 * Easy pairs: short-metaphyseal vs cylindrical-coated (length), anything vs
 * cemented-polished. The first six rows are the default --classes 6.
 * ------------------------------------------------------------------------- */
static const SynthDesign designs[] = {
    /* name                 family                      len   w_prox w_dist tpr_end flare sh_h  sh_rnd nsa  spread neck_w collar bow   fen mod cement tip */
    {"tapered-wedge",      "Taperloc/Accolade wedge",  0.46f, 0.044f, 0.013f, 1.00f, 0.034f, 0.050f, 0.15f, 132, 1.5f, 0.020f, 0.000f, 0.000f, 0, 0, 0.000f, 0.5f},
    {"cylindrical-coated", "AML/Solution cylinder",    0.58f, 0.038f, 0.024f, 0.22f, 0.034f, 0.040f, 0.45f, 135, 1.5f, 0.020f, 0.000f, 0.000f, 0, 0, 0.000f, 1.0f},
    {"anatomic-curved",    "ABG/Anatomic",             0.46f, 0.042f, 0.017f, 0.75f, 0.050f, 0.025f, 0.80f, 128, 1.5f, 0.020f, 0.000f, 0.022f, 0, 0, 0.000f, 0.9f},
    {"short-metaphyseal",  "Fitmore/Metha short stem", 0.26f, 0.044f, 0.018f, 1.00f, 0.045f, 0.005f, 1.00f, 127, 1.5f, 0.020f, 0.000f, 0.010f, 0, 0, 0.000f, 0.8f},
    {"collared",           "Corail KLA collared",      0.46f, 0.044f, 0.014f, 1.00f, 0.034f, 0.050f, 0.15f, 134, 1.5f, 0.020f, 0.030f, 0.000f, 0, 0, 0.000f, 0.5f},
    {"modular-neck",       "Profemur/Rejuvenate",      0.46f, 0.044f, 0.015f, 0.90f, 0.034f, 0.045f, 0.30f, 131, 5.0f, 0.019f, 0.000f, 0.000f, 0, 1, 0.000f, 0.6f},
    {"cemented-polished",  "Exeter/CPT double taper",  0.44f, 0.036f, 0.011f, 1.00f, 0.028f, 0.040f, 0.60f, 130, 1.5f, 0.019f, 0.000f, 0.000f, 0, 0, 0.013f, 0.8f},
    {"fenestrated",        "Austin Moore type",        0.48f, 0.044f, 0.015f, 1.00f, 0.034f, 0.050f, 0.20f, 133, 1.5f, 0.020f, 0.000f, 0.000f, 2, 0, 0.000f, 0.5f},
};

int synth_n_designs(void) { return ROWS(designs); }

const SynthDesign *synth_design(int i) {
    HIPID_CHECK(i >= 0 && i < synth_n_designs());
    return &designs[i];
}

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
 * Paths and frames
 * ------------------------------------------------------------------------- */
#define PATH_CAP 400

typedef struct {
    float x, y;
} Vec2;

typedef struct {
    int n;
    Vec2 p[PATH_CAP];
} Path;

/* (x, y) -> (a x + b y + c, d x + e y + f) */
typedef struct {
    float a, b, c, d, e, f;
} Xform;

typedef struct {
    float *A; /* (size, size) attenuation */
    int size;
    Xform world; /* canonical frame -> pixels (mirror, pose) */
    Xform image; /* image fractions -> pixels */
} Canvas;

static Vec2 v2(float x, float y) { return (Vec2){x, y}; }
static Vec2 v_add(Vec2 a, Vec2 b) { return v2(a.x + b.x, a.y + b.y); }
static Vec2 v_scale(Vec2 a, float s) { return v2(a.x * s, a.y * s); }
static Vec2 v_lerp(Vec2 a, Vec2 b, float t) { return v2(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t); }
static float v_len(Vec2 a) { return sqrtf(a.x * a.x + a.y * a.y); }
static float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

static Vec2 xf_apply(const Xform *t, Vec2 p) {
    return v2(t->a * p.x + t->b * p.y + t->c, t->d * p.x + t->e * p.y + t->f);
}

/* a after b: p -> a(b(p)) */
static Xform xf_mul(const Xform *a, const Xform *b) {
    return (Xform){a->a * b->a + a->b * b->d, a->a * b->b + a->b * b->e, a->a * b->c + a->b * b->f + a->c,
                   a->d * b->a + a->e * b->d, a->d * b->b + a->e * b->e, a->d * b->c + a->e * b->f + a->f};
}

/* The frame with origin o whose unit x and y axes map to ex and ey. */
static Xform xf_frame(Vec2 o, Vec2 ex, Vec2 ey) { return (Xform){ex.x, ey.x, o.x, ex.y, ey.y, o.y}; }

static void path_add(Path *q, Vec2 p) {
    HIPID_CHECK(q->n < PATH_CAP);
    q->p[q->n++] = p;
}

/* Quadratic Bezier from a (exclusive) to b (inclusive) with control c. */
static void path_quad(Path *q, Vec2 a, Vec2 c, Vec2 b, int steps) {
    for (int i = 1; i <= steps; i++) {
        float t = (float)i / (float)steps;
        path_add(q, v_lerp(v_lerp(a, c, t), v_lerp(c, b, t), t));
    }
}

/* Arc of an ellipse (centre c, radii rx ry, rotated by rot) from angle t0 to t1. */
static void path_arc(Path *q, Vec2 c, float rx, float ry, float rot, float t0, float t1, int steps) {
    float cr = cosf(rot), sr = sinf(rot);
    for (int i = 0; i <= steps; i++) {
        float t = t0 + (t1 - t0) * (float)i / (float)steps;
        float x = rx * cosf(t), y = ry * sinf(t);
        path_add(q, v2(c.x + cr * x - sr * y, c.y + sr * x + cr * y));
    }
}

static void path_rect(Path *q, Vec2 a, Vec2 b) {
    path_add(q, a);
    path_add(q, v2(b.x, a.y));
    path_add(q, b);
    path_add(q, v2(a.x, b.y));
}

static void fill(Canvas *cv, const Xform *t, const Path *q, float w) {
    float xy[2 * PATH_CAP];
    for (int i = 0; i < q->n; i++) {
        Vec2 p = xf_apply(t, q->p[i]);
        xy[2 * i] = p.x * (float)cv->size;
        xy[2 * i + 1] = p.y * (float)cv->size;
    }
    synth_raster_poly(cv->A, cv->size, xy, q->n, w);
}

static void fill_ellipse(Canvas *cv, const Xform *t, Vec2 c, float rx, float ry, float rot, float w) {
    Path q = {0};
    path_arc(&q, c, rx, ry, rot, 0.0f, 2.0f * PI_F * 47.0f / 48.0f, 47);
    fill(cv, t, &q, w);
}

/* A stroke of half-width hw along the cubic Bezier c[0..7]. */
static void fill_cubic_stroke(Canvas *cv, const Xform *t, const float *c, float hw, float w) {
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

/* ---------------------------------------------------------------------------
 * The stem, in its own frame: u medial, v distal along the shaft axis, origin
 * at the neck point. n is the neck direction (towards the head), q its normal
 * on the inferior (calcar) side.
 * ------------------------------------------------------------------------- */
typedef struct {
    const SynthDesign *d;
    float len, wp, wd, flare, sh_h, neck_w, collar, bow, cement;
    float off;        /* neck point to head centre along n */
    float head_r;
    Vec2 n, q;
    float s_j;        /* where the calcar curve meets the neck's inferior edge */
    float s_k;        /* where the shoulder's top meets the neck's superior edge */
    float v_fl;       /* where the calcar curve meets the medial border */
} Stem;

static Vec2 neck_pt(const Stem *s, float along, float across) {
    return v_add(v_scale(s->n, along), v_scale(s->q, across));
}

static float stem_hw(const Stem *s, float v) {
    float t = clampf(v / s->len, 0.0f, 1.0f), tt = fminf(t / s->d->taper_end, 1.0f);
    return s->wd + (s->wp - s->wd) * (1.0f - tt);
}

static float stem_axis(const Stem *s, float v) {
    return s->bow * sinf(PI_F * clampf(v / s->len, 0.0f, 1.0f));
}

static void stem_init(Stem *s, const SynthParams *p) {
    const SynthDesign *d = synth_design(p->design);
    float k = p->stem_scale, a = p->nsa_deg * DEG;
    *s = (Stem){.d = d, .len = d->length * k, .wp = d->w_prox * k, .wd = d->w_dist * k,
                .flare = d->flare * k, .sh_h = d->shoulder_h * k, .neck_w = d->neck_w,
                .collar = d->collar, .bow = d->bow * k, .cement = d->cement,
                .off = p->offset, .head_r = p->head_r};
    s->n = v2(sinf(a), cosf(a));
    s->q = v2(-s->n.y, s->n.x);
    s->s_j = (s->wp + s->flare - s->neck_w * s->q.x) / s->n.x;
    s->s_k = (-s->sh_h + s->neck_w * s->q.y) / s->n.y;
    s->v_fl = 0.28f * s->len + 0.03f;
}

/* The calcar curve from J on the neck to B0 on the medial border. */
static void stem_calcar(Path *q, const Stem *s, Vec2 J, Vec2 B0) {
    float t2 = (J.x - B0.x) / s->n.x;
    Vec2 c = v_add(J, v_scale(s->n, -t2));
    if (t2 < 0.0f || c.y > B0.y) c = v_lerp(J, B0, 0.5f);
    path_quad(q, J, c, B0, 10);
}

/* Medial border down, rounded tip, lateral border up, for v in [v_med, len]
 * medially and up to v_lat laterally; widened by infl (cement mantle). */
static void stem_body_sides(Path *q, const Stem *s, float v_med, float v_lat, float infl, float tip_extra) {
    for (float v = v_med; v < s->len; v += 0.01f)
        path_add(q, v2(stem_axis(s, v) + stem_hw(s, v) + infl, v));
    float hw = stem_hw(s, s->len) + infl, c = stem_axis(s, s->len);
    float depth = s->d->tip_round * hw * 1.2f + 0.003f + tip_extra;
    path_arc(q, v2(c, s->len), hw, depth, 0.0f, 0.0f, PI_F, 12);
    for (float v = s->len - 0.01f; v > v_lat; v -= 0.01f)
        path_add(q, v2(stem_axis(s, v) - stem_hw(s, v) - infl, v));
}

/* Outline of the stem including its neck up to `s_end` along n. */
static void stem_outline(Path *q, const Stem *s, float s_end) {
    Vec2 K = neck_pt(s, s->s_k, -s->neck_w);
    Vec2 S = v2(-s->wp, -s->sh_h);
    float w_end = s->neck_w * 0.85f;
    path_add(q, K);
    path_add(q, neck_pt(s, s_end, -w_end));
    path_add(q, neck_pt(s, s_end, w_end));
    Vec2 J = neck_pt(s, s->s_j, s->neck_w);
    path_add(q, J);
    Vec2 B0 = v2(stem_axis(s, s->v_fl) + stem_hw(s, s->v_fl), s->v_fl);
    stem_calcar(q, s, J, B0);
    float dk = v_len(v_add(K, v_scale(S, -1.0f)));
    float r = fminf(s->d->shoulder_round * 0.07f * s->len / 0.46f, 0.9f * dk);
    stem_body_sides(q, s, s->v_fl + 0.01f, S.y + r, 0.0f, 0.0f);
    Vec2 P1 = v2(S.x, S.y + r), P2 = v_lerp(S, K, r / fmaxf(dk, 1e-6f));
    path_add(q, P1);
    path_quad(q, P1, S, P2, 8);
}

static void draw_cement(Canvas *cv, const Xform *t, const Stem *s, float density) {
    if (s->cement <= 0.0f) return;
    Path q = {0};
    float top = -s->sh_h + 0.015f;
    path_add(&q, v2(s->wp * 0.2f, top - 0.01f));
    stem_body_sides(&q, s, s->v_fl * 0.5f, top, s->cement, 0.02f);
    path_add(&q, v2(-s->wp - s->cement, top));
    fill(cv, t, &q, A_CEMENT * density);
}

static void draw_collar(Canvas *cv, const Xform *t, const Stem *s) {
    if (s->collar <= 0.0f) return;
    Path q = {0};
    float s0 = s->s_j - 0.006f, s1 = s0 + 0.016f, a0 = 0.2f * s->neck_w, a1 = s->neck_w + s->collar;
    path_add(&q, neck_pt(s, s0, a0));
    path_add(&q, neck_pt(s, s0, a1));
    path_add(&q, neck_pt(s, s1, a1 - 0.004f));
    path_add(&q, neck_pt(s, s1, a0));
    fill(cv, t, &q, A_METAL);
}

static void draw_fenestrations(Canvas *cv, const Xform *t, const Stem *s) {
    for (int i = 0; i < s->d->n_fen; i++) {
        float v = 0.06f + 0.075f * (float)i;
        fill_ellipse(cv, t, v2(stem_axis(s, v) + 0.1f * stem_hw(s, v), v), 0.45f * stem_hw(s, v), 0.026f, 0.0f,
                     -A_METAL);
    }
}

/* A modular neck: a wider piece seated in a pocket of the body, with a gap. */
static void draw_modular_neck(Canvas *cv, const Xform *t, const Stem *s, float s_mod, float s_end) {
    float w0 = s->neck_w * 1.45f, w1 = s->neck_w * 0.85f, s0 = s_mod - 0.03f;
    Path q = {0};
    path_add(&q, neck_pt(s, s0, -w0));
    path_add(&q, neck_pt(s, s_end, -w1));
    path_add(&q, neck_pt(s, s_end, w1));
    path_add(&q, neck_pt(s, s0, w0));
    fill(cv, t, &q, A_METAL);
    Path g = {0};
    path_add(&g, neck_pt(s, s_mod, -w0 - 0.004f));
    path_add(&g, neck_pt(s, s_mod + 0.008f, -w0 - 0.004f));
    path_add(&g, neck_pt(s, s_mod + 0.008f, w0 + 0.004f));
    path_add(&g, neck_pt(s, s_mod, w0 + 0.004f));
    fill(cv, t, &g, -0.8f * A_METAL);
}

static void draw_stem(Canvas *cv, const Xform *t, const Stem *s, const SynthParams *p) {
    float s_end = s->off - 0.5f * s->head_r;
    draw_cement(cv, t, s, p->bone);
    Path q = {0};
    if (s->d->modular) {
        float s_mod = s->s_k + 0.02f;
        stem_outline(&q, s, s_mod);
        fill(cv, t, &q, A_METAL);
        draw_modular_neck(cv, t, s, s_mod, s_end);
    } else {
        stem_outline(&q, s, s_end);
        fill(cv, t, &q, A_METAL);
    }
    draw_collar(cv, t, s);
    draw_fenestrations(cv, t, s);
}

/* ---------------------------------------------------------------------------
 * Femur, in the stem's frame. Outer borders are tables (v, u) scaled by the
 * patient's femur size, widened where the stem would otherwise pierce the
 * cortex; the canal is the outer border moved in by the cortical thickness
 * and widened to hold the stem.
 * ------------------------------------------------------------------------- */
static const float femur_lat[][2] = {{-0.04f, -0.115f}, {0.04f, -0.110f}, {0.12f, -0.090f},
                                     {0.22f, -0.072f},  {0.34f, -0.063f}, {1.40f, -0.060f}};
static const float femur_med[][2] = {{0.03f, 0.100f}, {0.09f, 0.098f}, {0.13f, 0.112f}, {0.17f, 0.108f},
                                     {0.21f, 0.085f}, {0.26f, 0.070f}, {0.36f, 0.062f}, {1.40f, 0.060f}};

static float table_interp(const float (*t)[2], int n, float v) {
    if (v <= t[0][0]) return t[0][1];
    for (int i = 1; i < n; i++)
        if (v <= t[i][0]) return t[i - 1][1] + (t[i][1] - t[i - 1][1]) * (v - t[i - 1][0]) / (t[i][0] - t[i - 1][0]);
    return t[n - 1][1];
}

static float stem_lat_at(const Stem *s, float v) {
    return v > s->len ? 1.0f : stem_axis(s, v) - stem_hw(s, v) - s->cement;
}

static float stem_med_at(const Stem *s, float v) {
    return (v > s->len || v < s->v_fl) ? -1.0f : stem_axis(s, v) + stem_hw(s, v) + s->cement;
}

static float femur_outer(const Stem *s, float v, float fs, int medial) {
    if (medial) return fmaxf(fs * table_interp(femur_med, ROWS(femur_med), v), stem_med_at(s, v) + 0.012f);
    return fminf(fs * table_interp(femur_lat, ROWS(femur_lat), v), stem_lat_at(s, v) - 0.012f);
}

static float cortex_at(float v, float cortex) {
    float t = clampf(v / 0.3f, 0.0f, 1.0f);
    return 0.006f + (cortex - 0.006f) * t * t * (3.0f - 2.0f * t);
}

/* Points of the femur's top: the neck cut (perpendicular to the neck) and
 * the greater trochanter. cut[0] is the calcar (medial), cut[1] the saddle. */
static void femur_cut(Vec2 cut[2], const Stem *s, float fs) {
    Vec2 Q = v_scale(s->n, s->s_j - 0.006f);
    Vec2 K = neck_pt(s, s->s_k, -s->neck_w);
    float um = fs * femur_med[0][1], ul = K.x - 0.012f;
    cut[0] = v_add(Q, v_scale(s->q, (um - Q.x) / s->q.x));
    cut[1] = v_add(Q, v_scale(s->q, (ul - Q.x) / s->q.x));
}

/* The femur's top: where the greater trochanter peaks, and its lateral corner. */
typedef struct {
    Vec2 cut[2]; /* calcar (medial) and saddle (lateral) ends of the neck cut */
    Vec2 gt, gt_lat;
} FemurTop;

static FemurTop femur_top(const Stem *s, float fs) {
    FemurTop f;
    femur_cut(f.cut, s, fs);
    float v_gt = fminf(f.cut[1].y - 0.06f, -0.12f);
    f.gt = v2(-0.055f * fs, v_gt);
    f.gt_lat = v2(-0.11f * fs, v_gt + 0.06f);
    return f;
}

#define FEMUR_BOTTOM 1.4f /* well below the image */

static void femur_outline(Path *q, const Stem *s, const FemurTop *f, float fs) {
    path_add(q, f->cut[1]);
    path_quad(q, f->cut[1], v2(f->cut[1].x - 0.01f, f->gt.y + 0.01f), f->gt, 6);
    path_quad(q, f->gt, v2(f->gt_lat.x, f->gt.y), f->gt_lat, 6);
    for (float v = f->gt_lat.y + 0.02f; v < FEMUR_BOTTOM; v += 0.02f) path_add(q, v2(femur_outer(s, v, fs, 0), v));
    for (float v = FEMUR_BOTTOM; v > f->cut[0].y + 0.01f; v -= 0.02f) path_add(q, v2(femur_outer(s, v, fs, 1), v));
    path_add(q, f->cut[0]);
}

/* The canal: the outline moved in by the cortex (thin proximally), never
 * narrower than the stem (the canal is reamed to the implant). */
static void femur_canal(Path *q, const Stem *s, const FemurTop *f, float fs, float cortex) {
    const float in = 0.008f;
    Vec2 saddle = v2(f->cut[1].x - 0.004f, f->cut[1].y + in), top = v2(f->gt.x, f->gt.y + in + 0.004f);
    path_add(q, saddle);
    path_quad(q, saddle, v2(f->cut[1].x - 0.012f, f->gt.y + 0.02f), top, 6);
    path_quad(q, top, v2(f->gt_lat.x + in, f->gt.y + in), v2(f->gt_lat.x + in, f->gt_lat.y), 6);
    for (float v = f->gt_lat.y + 0.02f; v < FEMUR_BOTTOM; v += 0.02f) {
        float u = femur_outer(s, v, fs, 0) + cortex_at(v, cortex);
        path_add(q, v2(fminf(u, stem_lat_at(s, v) - 0.002f), v));
    }
    for (float v = FEMUR_BOTTOM; v > f->cut[0].y + in + 0.01f; v -= 0.02f) {
        float u = femur_outer(s, v, fs, 1) - cortex_at(v, cortex);
        path_add(q, v2(fmaxf(u, stem_med_at(s, v) + 0.002f), v));
    }
    path_add(q, v2(f->cut[0].x - in, f->cut[0].y + in));
}

static void draw_femur(Canvas *cv, const Xform *t, const Stem *s, const SynthParams *p) {
    FemurTop f = femur_top(s, p->femur_scale);
    Path q = {0}, c = {0};
    femur_outline(&q, s, &f, p->femur_scale);
    fill(cv, t, &q, A_CORTEX * p->bone);
    femur_canal(&c, s, &f, p->femur_scale, p->cortex);
    fill(cv, t, &c, -(1.0f - A_MARROW) * A_CORTEX * p->bone);
}

/* ---------------------------------------------------------------------------
 * Pelvis, cup and head, in the canonical frame around the head centre.
 * ------------------------------------------------------------------------- */
static const float ilium_pts[][2] = {{-0.13f, -0.07f}, {-0.17f, -0.13f}, {-0.26f, -0.22f}, {-0.36f, -0.40f},
                                     {-0.36f, -0.70f}, {0.45f, -0.70f},  {0.32f, -0.30f},  {0.22f, -0.12f},
                                     {0.16f, -0.02f},  {0.10f, 0.07f},   {0.0f, 0.01f},    {-0.08f, -0.05f}};
static const float pubis_pts[][2] = {{-0.01f, 0.05f}, {0.00f, 0.15f}, {0.03f, 0.26f}, {0.08f, 0.33f},
                                     {0.15f, 0.35f},  {0.24f, 0.31f}, {0.33f, 0.28f}, {0.60f, 0.30f},
                                     {0.60f, 0.00f},  {0.30f, 0.03f}, {0.16f, -0.03f}, {0.09f, -0.01f}};

/* q moved inwards by d along the vertex bisectors (miters capped at 3 d). */
static void path_inset(Path *out, const Path *q, float d) {
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
static void fill_bone(Canvas *cv, const Xform *t, const float (*pts)[2], int n, float w, float rim) {
    Path q = {0}, in = {0};
    for (int i = 0; i < n; i++) path_add(&q, v2(pts[i][0], pts[i][1]));
    fill(cv, t, &q, w);
    path_inset(&in, &q, rim);
    fill(cv, t, &in, -0.35f * w);
}

static void draw_pelvis(Canvas *cv, const SynthParams *p) {
    float k = p->pelvis_scale;
    Xform local = {k, 0, p->head_x + p->pelvis_dx, 0, k, p->head_y + p->pelvis_dy};
    Xform t = xf_mul(&cv->world, &local);
    float a = A_PELVIS * p->bone;
    fill_bone(cv, &t, ilium_pts, ROWS(ilium_pts), 1.3f * a, 0.012f);
    fill_bone(cv, &t, pubis_pts, ROWS(pubis_pts), 1.3f * a, 0.012f);
    fill_ellipse(cv, &t, v2(0.20f, 0.175f), 0.085f, 0.062f, -0.4f, -1.0f * a);
    /* the pelvic brim: a dense line */
    const float brim[8] = {0.10f, 0.02f, 0.22f, -0.06f, 0.30f, -0.25f, 0.34f, -0.6f};
    fill_cubic_stroke(cv, &t, brim, 0.008f, 0.7f * a);
}

/* Direction from the head centre to the cup's dome: superomedial. */
static float cup_dome(const SynthParams *p) {
    float incl = p->cup_incl_deg * DEG;
    return atan2f(-cosf(incl), sinf(incl));
}

/* The acetabular roof (sourcil): a dense arc of bone just outside the cup,
 * between straight up and the dome. */
static void draw_acetabular_roof(Canvas *cv, const SynthParams *p) {
    Xform local = {1, 0, p->head_x, 0, 1, p->head_y};
    Xform t = xf_mul(&cv->world, &local);
    float r = p->cup_r + 0.012f, c = 0.5f * (-PI_F / 2.0f + cup_dome(p));
    Path q = {0};
    path_arc(&q, v2(0, 0), r + 0.012f, r + 0.012f, 0.0f, c - 1.1f, c + 1.1f, 16);
    path_arc(&q, v2(0, 0), r, r, 0.0f, c + 1.1f, c - 1.1f, 16);
    fill(cv, &t, &q, 0.8f * A_PELVIS * p->bone);
}

static void draw_cup_and_head(Canvas *cv, const SynthParams *p) {
    Xform local = {1, 0, p->head_x, 0, 1, p->head_y};
    Xform t = xf_mul(&cv->world, &local);
    float r = p->cup_r, dome = cup_dome(p);
    Path q = {0};
    path_arc(&q, v2(0, 0), r, r, 0.0f, dome - PI_F / 2, dome + PI_F / 2, 32);
    fill(cv, &t, &q, 0.45f * A_METAL);
    Path rim = {0};
    path_arc(&rim, v2(0, 0), r, r, 0.0f, dome - PI_F / 2, dome + PI_F / 2, 32);
    path_arc(&rim, v2(0, 0), r - 0.008f, r - 0.008f, 0.0f, dome + PI_F / 2, dome - PI_F / 2, 32);
    fill(cv, &t, &rim, 0.5f * A_METAL);
    for (int i = 0; i < p->n_holes; i++) {
        float a = dome + 0.55f * (float)(i - (p->n_holes - 1) * 0.5f);
        Vec2 c = v2(0.8f * r * cosf(a), 0.8f * r * sinf(a));
        fill_ellipse(cv, &t, c, 0.009f, 0.009f, 0.0f, -0.45f * A_METAL);
        if (i < p->n_screws) {
            float sc[8] = {c.x, c.y, c.x + 0.05f * cosf(a), c.y + 0.05f * sinf(a),
                           c.x + 0.09f * cosf(a + 0.1f), c.y + 0.09f * sinf(a + 0.1f),
                           c.x + 0.13f * cosf(a + 0.1f), c.y + 0.13f * sinf(a + 0.1f)};
            fill_cubic_stroke(cv, &t, sc, 0.0065f, A_METAL);
        }
    }
    fill_ellipse(cv, &t, v2(0, 0), p->head_r, p->head_r, 0.0f, A_METAL);
}

/* ---------------------------------------------------------------------------
 * Soft tissue: thickness ramps up from the lateral skin line (which bulges
 * out around the trochanter) and grows medially.
 * ------------------------------------------------------------------------- */
static void draw_soft_tissue(Canvas *cv, const SynthParams *p) {
    int n = cv->size;
    /* invert the world transform: pixel centres -> canonical */
    const Xform *w = &cv->world;
    float det = w->a * w->e - w->b * w->d;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            float px = ((float)i + 0.5f) / (float)n - w->c, py = ((float)j + 0.5f) / (float)n - w->f;
            float x = (w->e * px - w->b * py) / det, y = (-w->d * px + w->a * py) / det;
            float dy = (y - 0.38f) / 0.3f;
            float skin = p->skin_x - 0.28f * expf(-dy * dy);
            float depth = x - skin;
            if (depth <= 0.0f) continue;
            cv->A[(size_t)j * n + i] += p->soft * (1.0f - expf(-depth / 0.07f)) * (0.8f + 0.4f * x);
        }
}

/* ---------------------------------------------------------------------------
 * Clutter, in image fractions.
 * ------------------------------------------------------------------------- */
/* Block letters on a 3 x 5 grid: rectangles x0,y0,x1,y1; R's leg is a parallelogram. */
static const float glyph_l[][4] = {{0, 0, 1, 5}, {1, 4, 3, 5}};
static const float glyph_r[][4] = {{0, 0, 1, 5}, {1, 0, 2.4f, 1}, {2, 1, 3, 2}, {1, 2, 2.4f, 3}};

static void draw_marker(Canvas *cv, const SynthParams *p) {
    if (!p->marker) return;
    float k = p->marker_h / 5.0f, a = p->marker_rot_deg * DEG;
    Xform local = {k * cosf(a), -k * sinf(a), p->marker_x, k * sinf(a), k * cosf(a), p->marker_y};
    Xform t = xf_mul(&cv->image, &local);
    Path frame = {0};
    path_rect(&frame, v2(-1.0f, -1.0f), v2(4.0f, 6.0f));
    fill(cv, &t, &frame, 0.25f);
    int right = p->side == SYNTH_RIGHT;
    const float (*g)[4] = right ? glyph_r : glyph_l;
    int n = right ? ROWS(glyph_r) : ROWS(glyph_l);
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

static void draw_ruler(Canvas *cv, const SynthParams *p) {
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

static void draw_clutter(Canvas *cv, const SynthParams *p) {
    draw_ruler(cv, p);
    for (int i = 0; i < p->n_cables; i++) {
        fill_cubic_stroke(cv, &cv->image, p->cable[i], p->cable_w[i], 0.35f * p->cable_a[i]);
        fill_cubic_stroke(cv, &cv->image, p->cable[i], 0.35f * p->cable_w[i], p->cable_a[i]);
    }
    if (p->sphere) fill_ellipse(cv, &cv->image, v2(p->sphere_x, p->sphere_y), p->sphere_r, p->sphere_r, 0.0f, A_METAL);
    draw_marker(cv, p);
}

/* ---------------------------------------------------------------------------
 * Film: exposure, window, blur, noise, low resolution, quantisation.
 * ------------------------------------------------------------------------- */
static void film_expose(float *v, const float *A, int n, const SynthParams *p) {
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

/* ---------------------------------------------------------------------------
 * Drawing one image
 * ------------------------------------------------------------------------- */
/* canonical -> pixels fractions: mirror for a left hip, then rotate, zoom and
 * shift about the image centre. */
static Xform pose_xform(const SynthParams *p) {
    float a = p->rot_deg * DEG, z = p->zoom, m = p->side == SYNTH_LEFT ? -1.0f : 1.0f;
    Xform mirror = {m, 0, p->side == SYNTH_LEFT ? 1.0f : 0.0f, 0, 1, 0};
    Xform to_c = {1, 0, -0.5f, 0, 1, -0.5f};
    Xform rot = {z * cosf(a), -z * sinf(a), 0.5f + p->tx, z * sinf(a), z * cosf(a), 0.5f + p->ty};
    Xform t = xf_mul(&to_c, &mirror);
    return xf_mul(&rot, &t);
}

/* The stem frame in canonical coordinates: origin at the neck point, u
 * (foreshortened by the leg's rotation) medial, v down the tilted shaft. */
static Xform stem_xform(const Stem *s, const SynthParams *p) {
    float b = p->shaft_tilt_deg * DEG;
    Vec2 ax = v2(sinf(b), cosf(b)), md = v2(cosf(b) * p->leg_rot, -sinf(b) * p->leg_rot);
    Vec2 head_local = v_scale(s->n, s->off);
    Vec2 o = v2(p->head_x - head_local.x * md.x - head_local.y * ax.x, p->head_y - head_local.x * md.y - head_local.y * ax.y);
    return xf_frame(o, md, ax);
}

void synth_draw(uint8_t *img, int size, const SynthParams *p) {
    HIPID_CHECK(size >= 16);
    size_t nn = (size_t)size * size;
    float *A = xcalloc_f32(nn), *v = xmalloc_f32(nn), *tmp = xmalloc_f32(nn);
    Canvas cv = {.A = A, .size = size, .world = pose_xform(p), .image = {1, 0, 0, 0, 1, 0}};
    Stem s;
    stem_init(&s, p);
    Xform st = stem_xform(&s, p), t = xf_mul(&cv.world, &st);
    draw_soft_tissue(&cv, p);
    draw_pelvis(&cv, p);
    draw_acetabular_roof(&cv, p);
    draw_femur(&cv, &t, &s, p);
    draw_stem(&cv, &t, &s, p);
    draw_cup_and_head(&cv, p);
    draw_clutter(&cv, p);
    film_expose(v, A, size, p);
    film_blur(v, tmp, size, p->blur_px * (float)size / 128.0f);
    film_noise(v, size, p->noise, p->noise_seed);
    if (p->lowres > 1) film_lowres(v, tmp, size, p->lowres);
    for (size_t i = 0; i < nn; i++) img[i] = (uint8_t)lrintf(clampf(v[i], 0.0f, 1.0f) * 255.0f);
    free(tmp);
    free(v);
    free(A);
}

/* ---------------------------------------------------------------------------
 * Parameters
 * ------------------------------------------------------------------------- */
#define LOWRES_P 0.12f

static float unif(Rng *r, float lo, float hi) { return lo + (hi - lo) * rng_uniform(r); }

int synth_patient_views(uint64_t seed, int design, int patient) {
    Rng r = rng_stream(seed, (uint64_t)design, (uint64_t)patient, SYNTH_PATIENT_VIEW);
    return 2 + (int)rng_below(&r, 3);
}

static void sample_patient(SynthParams *p, Rng *r) {
    static const float head_mm[3] = {28.0f, 32.0f, 36.0f};
    const SynthDesign *d = synth_design(p->design);
    (void)rng_below(r, 3); /* the number of views, see synth_patient_views */
    p->side = (int)rng_below(r, 2);
    p->stem_scale = unif(r, 0.9f, 1.1f);
    p->nsa_deg = d->nsa_deg + (d->modular ? d->nsa_spread * (float)((int)rng_below(r, 3) - 1)
                                          : unif(r, -d->nsa_spread, d->nsa_spread));
    p->offset = unif(r, 0.19f, 0.23f);
    p->head_r = head_mm[rng_below(r, 3)] / 260.0f / 2.0f;
    p->cup_r = p->head_r + unif(r, 0.03f, 0.04f);
    p->cup_incl_deg = unif(r, 35.0f, 50.0f);
    p->n_holes = (int)rng_below(r, 4);
    p->n_screws = p->n_holes ? (int)rng_below(r, (uint32_t)p->n_holes + 1) : 0;
    p->head_x = unif(r, 0.53f, 0.60f);
    p->head_y = unif(r, 0.18f, 0.23f);
    p->shaft_tilt_deg = unif(r, 3.0f, 9.0f);
    p->femur_scale = unif(r, 0.9f, 1.1f);
    p->cortex = unif(r, 0.018f, 0.03f);
    p->bone = unif(r, 0.8f, 1.1f);
    p->soft = unif(r, 0.25f, 0.45f);
    p->skin_x = unif(r, 0.06f, 0.16f);
    p->pelvis_dx = unif(r, -0.02f, 0.02f);
    p->pelvis_dy = unif(r, -0.02f, 0.02f);
    p->pelvis_scale = unif(r, 0.92f, 1.08f);
}

static void sample_clutter(SynthParams *p, Rng *r) {
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

static void sample_view(SynthParams *p, Rng *r) {
    p->rot_deg = unif(r, -4.0f, 4.0f);
    p->zoom = unif(r, 0.82f, 0.94f);
    p->tx = unif(r, -0.04f, 0.04f);
    p->ty = unif(r, -0.03f, 0.04f);
    p->leg_rot = cosf(unif(r, -15.0f, 15.0f) * DEG);
    p->exposure = unif(r, 0.8f, 1.3f);
    p->heel = unif(r, -0.25f, 0.25f);
    p->win_lo = unif(r, 0.0f, 0.12f);
    p->win_hi = unif(r, 0.88f, 0.98f);
    p->gamma = expf(unif(r, -0.3f, 0.3f));
    p->blur_px = unif(r, 0.3f, 1.3f);
    p->noise = unif(r, 0.008f, 0.035f);
    sample_clutter(p, r);
    p->noise_seed = rng_u64(r);
}

void synth_params_sample(SynthParams *p, uint64_t seed, int design, int patient, int view) {
    HIPID_CHECK(design >= 0 && design < synth_n_designs() && view >= 1);
    memset(p, 0, sizeof *p);
    p->design = design;
    Rng r = rng_stream(seed, (uint64_t)design, (uint64_t)patient, SYNTH_PATIENT_VIEW);
    sample_patient(p, &r);
    Rng v = rng_stream(seed, (uint64_t)design, (uint64_t)patient, (uint64_t)view);
    int lowres = 0;
    if (view > 1 && rng_uniform(&v) < LOWRES_P) {
        lowres = 2 + (int)rng_below(&v, 3);
        v = rng_stream(seed, (uint64_t)design, (uint64_t)patient, 1);
    }
    sample_view(p, &v);
    p->lowres = lowres;
}
