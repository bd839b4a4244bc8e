/* synth_canvas.h: what every phantom anatomy draws with ("hipid synth"):
 * polygons in a float canvas of attenuation, the clutter of real films (lead
 * marker, ruler, cables, calibration sphere) and the film itself (exposure,
 * window, blur, noise, a low-resolution copy, 8-bit quantisation).
 *
 * The hip phantoms (synth.c) and the shoulder phantoms (synth_shoulder.c)
 * both build on it; it knows neither. Shapes are outlined as Paths in a
 * convenient frame, mapped to image fractions by an affine Xform, and added to
 * the canvas with anti-aliased coverage, so overlaps add up and holes (negative
 * weights) subtract.
 */
#ifndef HIPID_SYNTH_CANVAS_H
#define HIPID_SYNTH_CANVAS_H

#include <math.h>
#include <stdint.h>

#include "hipid/base/rng.h"

#define SYNTH_PI 3.14159265f
#define SYNTH_DEG (SYNTH_PI / 180.0f)
#define SYNTH_ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Attenuation of materials, per unit coverage, shared by every anatomy. */
#define A_METAL 6.0f
#define A_LEAD 5.0f

/* Add weight * coverage of the polygon (xy: n points x0,y0,x1,y1..., pixel
 * units, pixel (i,j) covers [i,i+1) x [j,j+1)) to canvas (size, size).
 * Coverage is anti-aliased (exact horizontally, 5 samples vertically), the
 * fill rule nonzero; parts outside the canvas are clipped. */
void synth_raster_poly(float *canvas, int size, const float *xy, int n, float weight);

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
    Xform world; /* the anatomy's canonical frame -> image fractions (mirror, pose) */
    Xform image; /* image fractions -> image fractions (the identity) */
} Canvas;

static inline Vec2 v2(float x, float y) { return (Vec2){x, y}; }
static inline Vec2 v_add(Vec2 a, Vec2 b) { return v2(a.x + b.x, a.y + b.y); }
static inline Vec2 v_scale(Vec2 a, float s) { return v2(a.x * s, a.y * s); }
static inline Vec2 v_lerp(Vec2 a, Vec2 b, float t) { return v2(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t); }
static inline float v_len(Vec2 a) { return sqrtf(a.x * a.x + a.y * a.y); }
static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }
static inline float unif(Rng *r, float lo, float hi) { return lo + (hi - lo) * rng_uniform(r); }

static inline Vec2 xf_apply(const Xform *t, Vec2 p) {
    return v2(t->a * p.x + t->b * p.y + t->c, t->d * p.x + t->e * p.y + t->f);
}

/* a after b: p -> a(b(p)) */
static inline Xform xf_mul(const Xform *a, const Xform *b) {
    return (Xform){a->a * b->a + a->b * b->d, a->a * b->b + a->b * b->e, a->a * b->c + a->b * b->f + a->c,
                   a->d * b->a + a->e * b->d, a->d * b->b + a->e * b->e, a->d * b->c + a->e * b->f + a->f};
}

/* The frame with origin o whose unit x and y axes map to ex and ey. */
static inline Xform xf_frame(Vec2 o, Vec2 ex, Vec2 ey) { return (Xform){ex.x, ey.x, o.x, ex.y, ey.y, o.y}; }

void path_add(Path *q, Vec2 p);
/* Quadratic Bezier from a (exclusive) to b (inclusive) with control c. */
void path_quad(Path *q, Vec2 a, Vec2 c, Vec2 b, int steps);
/* Arc of an ellipse (centre c, radii rx ry, rotated by rot) from angle t0 to t1. */
void path_arc(Path *q, Vec2 c, float rx, float ry, float rot, float t0, float t1, int steps);
void path_rect(Path *q, Vec2 a, Vec2 b);
/* q moved inwards by d along the vertex bisectors (miters capped at 3 d). */
void path_inset(Path *out, const Path *q, float d);

/* Add w times the coverage of q, mapped by t, to the canvas. */
void fill(Canvas *cv, const Xform *t, const Path *q, float w);
void fill_ellipse(Canvas *cv, const Xform *t, Vec2 c, float rx, float ry, float rot, float w);
/* A stroke of half-width hw along the cubic Bezier c[0..7] (x0,y0..x3,y3). */
void fill_cubic_stroke(Canvas *cv, const Xform *t, const float *c, float hw, float w);
/* A flat bone: its outline (n points), with a denser cortical rim of width rim. */
void fill_bone(Canvas *cv, const Xform *t, const float (*pts)[2], int n, float w, float rim);

/* The side a film shows; a left one is the mirror image of the canonical right. */
#define SYNTH_RIGHT 0
#define SYNTH_LEFT 1

#define SYNTH_MAX_CABLES 2

/* The clutter of a film, in image fractions (the marker is never mirrored). */
typedef struct {
    int marker;                   /* 0 none, 1 L/R marker of the patient's side */
    float marker_x, marker_y, marker_h, marker_rot_deg;
    int ruler;
    float ruler_x0, ruler_y0, ruler_x1, ruler_y1, ruler_w, ruler_step;
    int n_cables;
    float cable[SYNTH_MAX_CABLES][8]; /* cubic Bezier control points x0,y0..x3,y3 */
    float cable_w[SYNTH_MAX_CABLES], cable_a[SYNTH_MAX_CABLES];
    int sphere;
    float sphere_x, sphere_y, sphere_r;
} SynthClutter;

/* Draw a film's clutter: marker 70%, ruler 35%, 0-2 cables, sphere 15%. */
void synth_clutter_sample(SynthClutter *c, Rng *r);
/* left: the marker reads L, else R. */
void synth_clutter_draw(Canvas *cv, const SynthClutter *c, int left);

/* The film: attenuation A -> brightness 1 - exp(-k A) with k = exposure and a
 * heel gradient top to bottom, a window and gamma, Gaussian blur, noise
 * stronger in bright areas, an optional low-resolution round trip. */
typedef struct {
    float exposure, heel;         /* attenuation gain; its gradient top to bottom */
    float win_lo, win_hi, gamma;  /* window on 1 - exp(-exposure * A) */
    float blur_px, noise;         /* at 128 px; scaled with the image size */
    int lowres;                   /* 0, or the factor of a downscale-then-upscale copy */
    uint64_t noise_seed;
} SynthFilm;

/* Exposure, heel, window, gamma, blur and noise level (not noise_seed, not lowres). */
void synth_film_sample(SynthFilm *f, Rng *r);

/* A view's film and clutter, in the order every anatomy draws them: the film,
 * the clutter, then the noise seed (not lowres). */
void synth_film_clutter_sample(SynthFilm *f, SynthClutter *c, Rng *r);

/* The stream of view `view` >= 1 of a patient, keyed (seed, a, b, view).
 * Later views are low-resolution copies of view 1 with probability 0.12:
 * then *lowres is the factor (2..4) and the stream is view 1's, so the copy
 * repeats view 1's pose, film and clutter; else *lowres is 0. */
Rng synth_view_stream(uint64_t seed, uint64_t a, uint64_t b, int view, int *lowres);
/* Develop the canvas into img (size, size) 8-bit grey. */
void synth_film_develop(uint8_t *img, const float *A, int size, const SynthFilm *f);

#endif
