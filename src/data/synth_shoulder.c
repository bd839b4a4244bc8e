/* synth_shoulder.c: draw one phantom shoulder radiograph after an
 * arthroplasty, with a randomly drawn humeral-implant design per class (see
 * synth_shoulder.h). Shapes go into the shared canvas (synth_canvas.h), which
 * also adds the clutter and develops the film. Holds no global state and
 * writes no files (synth_set.c does).
 */
#include "hipid/data/synth_shoulder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/common.h"
#include "hipid/base/rng.h"

#define DEG SYNTH_DEG
#define PI_F SYNTH_PI

/* Stream keys: designs and patients live apart from the hip phantoms'. */
#define KEY_DESIGN 0x73686f756c646572ull /* "shoulder" */
#define KEY_PATIENT 0x68756d6572757300ull
#define PATIENT_VIEW 0

#define A_CORTEX 1.0f
#define A_MARROW 0.35f /* what the canal keeps of the cortex value */
#define A_FLAT 0.5f    /* scapula, clavicle and ribs, per unit of the patient's bone density */

/* ---------------------------------------------------------------------------
 * Designs and parameters
 * ------------------------------------------------------------------------- */
void synth_shoulder_design(ShoulderDesign *d, uint64_t seed, int k) {
    Rng r = rng_stream(seed ^ KEY_DESIGN, (uint64_t)k, 0, 0);
    memset(d, 0, sizeof *d);
    d->length = unif(&r, 0.26f, 0.55f);
    d->w_prox = unif(&r, 0.030f, 0.052f);
    d->w_dist = unif(&r, 0.009f, 0.022f);
    d->body_len = unif(&r, 0.05f, 0.16f);
    d->taper_end = unif(&r, 0.25f, 1.0f);
    d->tip_round = unif(&r, 0.1f, 1.0f);
    d->incl_deg = unif(&r, 125.0f, 155.0f);
    d->head_r = unif(&r, 0.085f, 0.12f);
    d->head_h = unif(&r, 0.45f, 0.9f);
    d->head_off = unif(&r, -0.012f, 0.018f);
    if (rng_uniform(&r) < 0.5f) {
        d->collar_t = unif(&r, 0.006f, 0.016f);
        d->collar_w = unif(&r, 0.55f, 1.1f);
    }
    if (rng_uniform(&r) < 0.4f) d->gap = unif(&r, 0.004f, 0.012f);
    d->n_fins = (int)rng_below(&r, 4);
    d->fin_len = unif(&r, 0.07f, 0.20f);
    d->fin_reach = unif(&r, 0.010f, 0.030f);
    d->fin_holes = (int)rng_below(&r, 3);
    d->n_holes = (int)rng_below(&r, SHOULDER_MAX_HOLES + 1);
    d->hole_r = unif(&r, 0.004f, 0.008f);
    if (rng_uniform(&r) < 0.3f) d->slot = unif(&r, 0.08f, 0.22f);
}

int synth_shoulder_views(uint64_t seed, int k, int patient) {
    Rng r = rng_stream(seed ^ KEY_PATIENT, (uint64_t)k, (uint64_t)patient, PATIENT_VIEW);
    return 2 + (int)rng_below(&r, 3);
}

static void sample_patient(ShoulderParams *p, Rng *r) {
    (void)rng_below(r, 3); /* the number of views, see synth_shoulder_views */
    p->side = (int)rng_below(r, 2);
    p->implant_scale = unif(r, 0.92f, 1.08f);
    p->head_scale = unif(r, 0.92f, 1.08f);
    p->head_x = unif(r, 0.36f, 0.46f);
    p->head_y = unif(r, 0.26f, 0.36f);
    p->shaft_tilt_deg = unif(r, -6.0f, 10.0f);
    p->humerus_w = unif(r, 0.050f, 0.068f);
    p->cortex = unif(r, 0.010f, 0.018f);
    p->bone = unif(r, 0.7f, 1.1f);
    p->soft = unif(r, 0.25f, 0.5f);
    p->skin_r = unif(r, 0.40f, 0.55f);
    p->scap_dx = unif(r, -0.02f, 0.03f);
    p->scap_dy = unif(r, -0.03f, 0.03f);
    p->scap_scale = unif(r, 0.9f, 1.1f);
    p->glenoid_pegs = rng_uniform(r) < 0.5f ? 0 : 1 + (int)rng_below(r, 3);
}

static void sample_view(ShoulderParams *p, Rng *r) {
    float u = rng_uniform(r);
    p->rot_deg = u < 0.65f ? unif(r, -25.0f, 25.0f) : (rng_below(r, 2) ? 1.0f : -1.0f) * unif(r, 60.0f, 110.0f);
    p->zoom = unif(r, 1.25f, 1.75f);
    p->tx = unif(r, -0.08f, 0.08f);
    p->ty = unif(r, -0.08f, 0.08f);
    p->axial = cosf(unif(r, -30.0f, 30.0f) * DEG);
    synth_film_clutter_sample(&p->film, &p->clutter, r);
}

void synth_shoulder_sample(ShoulderParams *p, uint64_t seed, int k, int patient, int view) {
    HIPID_CHECK(k >= 0 && view >= 1);
    memset(p, 0, sizeof *p);
    p->design = k;
    synth_shoulder_design(&p->d, seed, k);
    Rng r = rng_stream(seed ^ KEY_PATIENT, (uint64_t)k, (uint64_t)patient, PATIENT_VIEW);
    sample_patient(p, &r);
    int lowres;
    Rng v = synth_view_stream(seed ^ KEY_PATIENT, (uint64_t)k, (uint64_t)patient, view, &lowres);
    sample_view(p, &v);
    p->film.lowres = lowres;
}

/* ---------------------------------------------------------------------------
 * The implant, in the stem's frame: u medial, v distal, origin at the centre
 * of the resection cut. n is the head's axis (medial and up), t runs along
 * the cut from lateral-up to medial-down.
 * ------------------------------------------------------------------------- */
typedef struct {
    ShoulderDesign d; /* scaled by the patient's implant and head sizes */
    Vec2 n, t;
    float base;       /* half-width of the head's base circle on the cut */
    float s_lat;      /* where the lateral border meets the cut, along t (< 0) */
    float s_med;      /* where the medial flare leaves the cut, along t (> 0) */
} Implant;

static Vec2 cut_pt(const Implant *m, float along, float above) {
    return v_add(v_scale(m->t, along), v_scale(m->n, above));
}

static float shaft_hw(const Implant *m, float v) {
    const ShoulderDesign *d = &m->d;
    float below = d->length - d->body_len, t = (v - d->body_len) / fmaxf(d->taper_end * below, 1e-4f);
    return d->w_dist + (d->w_prox - d->w_dist) * (1.0f - clampf(t, 0.0f, 1.0f));
}

static void implant_init(Implant *m, const ShoulderParams *p) {
    ShoulderDesign d = p->d;
    float k = p->implant_scale, h = p->head_scale;
    d.length *= k, d.w_prox *= k, d.w_dist *= k, d.body_len *= k, d.fin_len *= k, d.fin_reach *= k;
    d.head_r *= h, d.head_off *= h, d.slot *= k;
    m->d = d;
    float a = d.incl_deg * DEG;
    m->n = v2(sinf(a), cosf(a));
    m->t = v2(-m->n.y, m->n.x);
    float hh = d.head_h * d.head_r, down = d.head_r - hh;
    m->base = sqrtf(fmaxf(d.head_r * d.head_r - down * down, 1e-8f));
    m->s_lat = -d.w_prox / m->t.x;
    m->s_med = fmaxf(0.75f * m->base, (d.w_prox * 1.2f) / m->t.x);
}

/* The stem: cut, medial flare, shaft, tip, lateral border. */
static void implant_stem_outline(Path *q, const Implant *m) {
    const ShoulderDesign *d = &m->d;
    Vec2 L = cut_pt(m, m->s_lat, 0.0f), M = cut_pt(m, m->s_med, 0.0f);
    path_add(q, L);
    path_add(q, M);
    Vec2 B = v2(d->w_prox, d->body_len);
    path_quad(q, M, v2(M.x, 0.5f * (M.y + B.y) + 0.3f * (B.y - M.y)), B, 10);
    for (float v = d->body_len + 0.01f; v < d->length; v += 0.01f) path_add(q, v2(shaft_hw(m, v), v));
    float hw = shaft_hw(m, d->length);
    path_arc(q, v2(0.0f, d->length), hw, d->tip_round * hw * 1.3f + 0.003f, 0.0f, 0.0f, PI_F, 12);
    for (float v = d->length - 0.01f; v > d->body_len; v -= 0.01f) path_add(q, v2(-shaft_hw(m, v), v));
    path_add(q, v2(-d->w_prox, d->body_len));
}

/* The head: the part of its sphere's outline beyond the cut, lifted by the
 * collar and the taper gap. */
static void implant_head(Canvas *cv, const Xform *t, const Implant *m, float lift) {
    const ShoulderDesign *d = &m->d;
    float down = d->head_r * (1.0f - d->head_h), k = down / d->head_r;
    Vec2 c = cut_pt(m, d->head_off, lift - down);
    float phi = asinf(clampf(k, -1.0f, 1.0f));
    Path q = {0};
    /* angles measured from t towards n: the cap spans phi .. pi - phi */
    for (int i = 0; i <= 40; i++) {
        float f = phi + (PI_F - 2.0f * phi) * (float)i / 40.0f;
        Vec2 dir = v_add(v_scale(m->t, cosf(f)), v_scale(m->n, sinf(f)));
        path_add(&q, v_add(c, v_scale(dir, d->head_r)));
    }
    fill(cv, t, &q, A_METAL);
}

static void implant_fins(Canvas *cv, const Xform *t, const Implant *m) {
    const ShoulderDesign *d = &m->d;
    for (int i = 0; i < d->n_fins; i++) {
        Path q = {0};
        if (i < 2) { /* lateral (i = 0) or medial (i = 1) fin in profile */
            float sg = i == 0 ? -1.0f : 1.0f, v0 = i == 0 ? cut_pt(m, m->s_lat, 0).y + 0.01f : d->body_len * 0.6f;
            float u0 = sg * (i == 0 ? d->w_prox : shaft_hw(m, v0 + 0.5f * d->fin_len)) * 0.9f;
            path_add(&q, v2(u0, v0));
            path_add(&q, v2(u0 + sg * d->fin_reach, v0 + 0.015f));
            path_add(&q, v2(u0 + sg * d->fin_reach, v0 + d->fin_len - 0.02f));
            path_add(&q, v2(u0, v0 + d->fin_len));
            fill(cv, t, &q, A_METAL);
            for (int h = 0; h < d->fin_holes; h++) {
                float v = v0 + d->fin_len * (0.3f + 0.4f * (float)h);
                fill_ellipse(cv, t, v2(u0 + sg * 0.55f * d->fin_reach, v), 0.35f * d->fin_reach, 0.35f * d->fin_reach,
                             0.0f, -A_METAL);
            }
        } else { /* anterior fin face-on: a denser strip down the body with its holes */
            float v0 = 0.01f, hw = 0.25f * d->w_prox;
            path_rect(&q, v2(-hw, v0), v2(hw, v0 + d->fin_len));
            fill(cv, t, &q, 0.5f * A_METAL);
            for (int h = 0; h < d->fin_holes; h++)
                fill_ellipse(cv, t, v2(0.0f, v0 + d->fin_len * (0.3f + 0.4f * (float)h)), 0.6f * hw, 0.6f * hw, 0.0f,
                             -0.6f * A_METAL);
        }
    }
}

static void implant_holes_and_slot(Canvas *cv, const Xform *t, const Implant *m) {
    const ShoulderDesign *d = &m->d;
    float top = cut_pt(m, m->s_lat, 0).y;
    for (int i = 0; i < d->n_holes; i++) {
        float v = top + 0.02f + (d->body_len - top) * 0.8f * (float)i / (float)SHOULDER_MAX_HOLES;
        fill_ellipse(cv, t, v2(-0.45f * d->w_prox, v), d->hole_r, d->hole_r, 0.0f, -A_METAL);
    }
    if (d->slot > 0.0f) {
        float v1 = d->length - 0.02f, v0 = fmaxf(v1 - d->slot, d->body_len + 0.02f), hw = 0.3f * d->w_dist;
        Path q = {0};
        path_rect(&q, v2(-hw, v0), v2(hw, v1));
        fill(cv, t, &q, -0.8f * A_METAL);
    }
}

static void draw_implant(Canvas *cv, const Xform *t, const Implant *m) {
    const ShoulderDesign *d = &m->d;
    Path q = {0};
    implant_stem_outline(&q, m);
    fill(cv, t, &q, A_METAL);
    implant_fins(cv, t, m);
    implant_holes_and_slot(cv, t, m);
    float lift = 0.0f;
    if (d->collar_t > 0.0f) {
        float w = d->collar_w * m->base;
        Path c = {0};
        path_add(&c, cut_pt(m, -w, 0.0f));
        path_add(&c, cut_pt(m, w, 0.0f));
        path_add(&c, cut_pt(m, w * 0.95f, d->collar_t));
        path_add(&c, cut_pt(m, -w * 0.95f, d->collar_t));
        fill(cv, t, &c, A_METAL);
        lift += d->collar_t;
    }
    if (d->gap > 0.0f) { /* the trunnion bridges the gap */
        Path c = {0};
        float w0 = 0.28f * m->base, w1 = 0.22f * m->base;
        path_add(&c, cut_pt(m, d->head_off - w0, lift));
        path_add(&c, cut_pt(m, d->head_off + w0, lift));
        path_add(&c, cut_pt(m, d->head_off + w1, lift + d->gap + 0.01f));
        path_add(&c, cut_pt(m, d->head_off - w1, lift + d->gap + 0.01f));
        fill(cv, t, &c, A_METAL);
        lift += d->gap;
    }
    implant_head(cv, t, m, lift);
}

/* ---------------------------------------------------------------------------
 * The humerus, in the stem's frame: a shaft of the patient's width that
 * flares to the tuberosities at the cut, its canal reamed to the stem.
 * ------------------------------------------------------------------------- */
#define HUMERUS_BOTTOM 1.5f

static float humerus_hw(const Implant *m, const ShoulderParams *p, float v, int medial) {
    float w = p->humerus_w, top = medial ? m->base * 0.9f : m->d.w_prox + 0.05f;
    float f = clampf(v / 0.22f, 0.0f, 1.0f);
    float outer = top + (w - top) * f * f * (3.0f - 2.0f * f);
    return fmaxf(outer, shaft_hw(m, v) + 0.008f);
}

static void draw_humerus(Canvas *cv, const Xform *t, const Implant *m, const ShoulderParams *p) {
    Vec2 L = cut_pt(m, m->s_lat, 0.0f), M = cut_pt(m, m->s_med * 1.05f, 0.0f);
    Path q = {0}, c = {0};
    /* greater tuberosity above the lateral end of the cut */
    path_add(&q, M);
    path_add(&q, v2(L.x + 0.01f, L.y - 0.01f));
    path_quad(&q, v2(L.x + 0.01f, L.y - 0.01f), v2(-humerus_hw(m, p, 0.0f, 0), L.y - 0.03f),
              v2(-humerus_hw(m, p, 0.02f, 0), 0.02f), 6);
    for (float v = 0.04f; v < HUMERUS_BOTTOM; v += 0.02f) path_add(&q, v2(-humerus_hw(m, p, v, 0), v));
    for (float v = HUMERUS_BOTTOM; v > M.y + 0.01f; v -= 0.02f) path_add(&q, v2(humerus_hw(m, p, v, 1), v));
    fill(cv, t, &q, A_CORTEX * p->bone);
    for (float v = fmaxf(M.y, L.y) + 0.01f; v < HUMERUS_BOTTOM; v += 0.02f) {
        float thick = p->cortex * (0.4f + 0.6f * clampf(v / 0.3f, 0.0f, 1.0f));
        path_add(&c, v2(fminf(-humerus_hw(m, p, v, 0) + thick, -shaft_hw(m, v)), v));
    }
    for (float v = HUMERUS_BOTTOM; v > fmaxf(M.y, L.y) + 0.01f; v -= 0.02f) {
        float thick = p->cortex * (0.4f + 0.6f * clampf(v / 0.3f, 0.0f, 1.0f));
        path_add(&c, v2(fmaxf(humerus_hw(m, p, v, 1) - thick, shaft_hw(m, v)), v));
    }
    fill(cv, t, &c, -(1.0f - A_MARROW) * A_CORTEX * p->bone);
}

/* ---------------------------------------------------------------------------
 * Scapula, clavicle and ribs, in the canonical frame around the glenoid.
 * ------------------------------------------------------------------------- */
static const float scapula_pts[][2] = {{0.00f, -0.10f}, {0.08f, -0.14f}, {0.30f, -0.10f}, {0.48f, -0.04f},
                                       {0.42f, 0.20f},  {0.28f, 0.48f},  {0.20f, 0.55f},  {0.12f, 0.30f},
                                       {0.04f, 0.12f},  {0.00f, 0.08f}};

static void draw_shoulder_girdle(Canvas *cv, const ShoulderParams *p, Vec2 glenoid, float head_r) {
    float k = p->scap_scale, a = A_FLAT * p->bone;
    Xform local = {k, 0, glenoid.x + p->scap_dx, 0, k, glenoid.y + p->scap_dy};
    Xform t = xf_mul(&cv->world, &local);
    fill_bone(cv, &t, scapula_pts, SYNTH_ROWS(scapula_pts), a, 0.012f);
    /* the glenoid: a dense rim facing the head */
    fill_ellipse(cv, &t, v2(0.02f, 0.0f), 0.035f, 0.085f, 0.0f, 0.9f * a);
    fill_ellipse(cv, &t, v2(0.03f, 0.0f), 0.022f, 0.07f, 0.0f, -0.4f * a);
    /* acromion over the head, coracoid medial to it, clavicle across the top */
    float r = head_r / k;
    const float acromion[8] = {-0.02f, -0.12f, -0.10f - r, -0.16f - r, -0.28f - r, -0.13f - r, -0.34f - r, -0.09f - r};
    fill_cubic_stroke(cv, &t, acromion, 0.022f, 1.1f * a);
    fill_ellipse(cv, &t, v2(0.12f, -0.14f), 0.035f, 0.025f, 0.3f, 1.0f * a);
    const float clavicle[8] = {-0.22f - r, -0.22f - r, 0.05f, -0.30f - r, 0.35f, -0.22f - r, 0.75f, -0.28f - r};
    fill_cubic_stroke(cv, &t, clavicle, 0.026f, 1.2f * a);
    for (int i = 0; i < 4; i++) { /* ribs over the chest wall */
        float y = -0.05f + 0.16f * (float)i;
        const float rib[8] = {0.25f, y, 0.40f, y - 0.08f, 0.60f, y - 0.04f, 0.80f, y + 0.10f};
        fill_cubic_stroke(cv, &t, rib, 0.014f, 0.6f * a);
    }
    for (int i = 0; i < p->glenoid_pegs; i++) /* a glenoid component: its metal pegs */
        fill_ellipse(cv, &t, v2(0.06f, -0.03f + 0.03f * (float)i), 0.012f, 0.005f, 0.0f, A_METAL * 0.8f);
}

/* Soft tissue: the shoulder's rounded outline, the chest wall medially
 * (thicker towards the chest) and the arm around the humeral shaft. */
static void draw_soft_tissue(Canvas *cv, const ShoulderParams *p) {
    int n = cv->size;
    const Xform *w = &cv->world;
    float det = w->a * w->e - w->b * w->d, b = p->shaft_tilt_deg * DEG;
    Vec2 c = v2(p->head_x + 0.22f, p->head_y + 0.30f), ax = v2(-sinf(b), cosf(b));
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            float px = ((float)i + 0.5f) / (float)n - w->c, py = ((float)j + 0.5f) / (float)n - w->f;
            float x = (w->e * px - w->b * py) / det, y = (-w->d * px + w->a * py) / det;
            float dx = x - c.x, dy = y - c.y, depth = p->skin_r - sqrtf(dx * dx + dy * dy);
            if (x > c.x) depth = fmaxf(depth, 0.5f * p->skin_r + 0.3f * (x - c.x));
            float hx = x - p->head_x, hy = y - p->head_y, along = hx * ax.x + hy * ax.y;
            if (along > 0.0f) depth = fmaxf(depth, 0.14f - fabsf(hx * ax.y - hy * ax.x));
            if (depth <= 0.0f) continue;
            cv->A[(size_t)j * n + i] += p->soft * (1.0f - expf(-depth / 0.06f)) * (0.8f + 0.5f * x);
        }
}

/* ---------------------------------------------------------------------------
 * Drawing one image
 * ------------------------------------------------------------------------- */
/* canonical -> image fractions: the implant's upper stem (a pivot below the
 * cut) rotated and zoomed about itself to near the image centre, then the
 * whole film mirrored for a left shoulder. */
static Xform pose_xform(const ShoulderParams *p) {
    float a = p->rot_deg * DEG, z = p->zoom, b = p->shaft_tilt_deg * DEG;
    Vec2 pivot = v2(p->head_x - 0.12f * sinf(b), p->head_y + 0.12f * cosf(b));
    Xform to_pivot = {1, 0, -pivot.x, 0, 1, -pivot.y};
    Xform rot = {z * cosf(a), -z * sinf(a), 0.5f + p->tx, z * sinf(a), z * cosf(a), 0.42f + p->ty};
    Xform mirror = {p->side == SYNTH_LEFT ? -1.0f : 1.0f, 0, p->side == SYNTH_LEFT ? 1.0f : 0.0f, 0, 1, 0};
    Xform t = xf_mul(&rot, &to_pivot);
    return xf_mul(&mirror, &t);
}

/* The stem frame in canonical coordinates: origin at the cut's centre, u
 * medial (foreshortened by the arm's rotation), v down the tilted shaft. */
static Xform stem_xform(const ShoulderParams *p) {
    float b = p->shaft_tilt_deg * DEG;
    Vec2 ax = v2(-sinf(b), cosf(b)), md = v2(cosf(b) * p->axial, sinf(b) * p->axial);
    return xf_frame(v2(p->head_x, p->head_y), md, ax);
}

void synth_shoulder_draw(uint8_t *img, int size, const ShoulderParams *p) {
    HIPID_CHECK(size >= 16);
    float *A = xcalloc_f32((size_t)size * size);
    Canvas cv = {.A = A, .size = size, .world = pose_xform(p), .image = {1, 0, 0, 0, 1, 0}};
    Implant m;
    implant_init(&m, p);
    Xform st = stem_xform(p), t = xf_mul(&cv.world, &st);
    /* the glenoid faces the head: beyond the head along its axis */
    Vec2 head_top = xf_apply(&st, cut_pt(&m, m.d.head_off, m.d.head_r * m.d.head_h + m.d.collar_t + m.d.gap));
    draw_soft_tissue(&cv, p);
    draw_shoulder_girdle(&cv, p, v2(head_top.x + 0.015f, head_top.y), m.d.head_r);
    draw_humerus(&cv, &t, &m, p);
    draw_implant(&cv, &t, &m);
    synth_clutter_draw(&cv, &p->clutter, p->side == SYNTH_LEFT);
    synth_film_develop(img, A, size, &p->film);
    free(A);
}
