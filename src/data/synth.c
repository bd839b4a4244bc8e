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
#include "hipid/data/synth_canvas.h"

#define PI_F SYNTH_PI
#define DEG SYNTH_DEG
#define ROWS SYNTH_ROWS


/* Attenuation of materials, per unit coverage. Bone and soft tissue are
 * further scaled per patient. */
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
    float *A = xcalloc_f32((size_t)size * size);
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
    synth_clutter_draw(&cv, &p->clutter, p->side == SYNTH_LEFT);
    synth_film_develop(img, A, size, &p->film);
    free(A);
}

/* ---------------------------------------------------------------------------
 * Parameters
 * ------------------------------------------------------------------------- */

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


static void sample_view(SynthParams *p, Rng *r) {
    p->rot_deg = unif(r, -4.0f, 4.0f);
    p->zoom = unif(r, 0.82f, 0.94f);
    p->tx = unif(r, -0.04f, 0.04f);
    p->ty = unif(r, -0.03f, 0.04f);
    p->leg_rot = cosf(unif(r, -15.0f, 15.0f) * DEG);
    synth_film_clutter_sample(&p->film, &p->clutter, r);
}

void synth_params_sample(SynthParams *p, uint64_t seed, int design, int patient, int view) {
    HIPID_CHECK(design >= 0 && design < synth_n_designs() && view >= 1);
    memset(p, 0, sizeof *p);
    p->design = design;
    Rng r = rng_stream(seed, (uint64_t)design, (uint64_t)patient, SYNTH_PATIENT_VIEW);
    sample_patient(p, &r);
    int lowres;
    Rng v = synth_view_stream(seed, (uint64_t)design, (uint64_t)patient, view, &lowres);
    sample_view(p, &v);
    p->film.lowres = lowres;
}
