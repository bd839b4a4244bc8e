/* test_synth_draw.c: the phantom library without the CLI.
 *  - the rasteriser's coverage against exact areas (box coverage per pixel,
 *    shoelace areas, clipping, fill rule, orientation);
 *  - synth_draw and synth_params_sample are deterministic and keyed;
 *  - class sizes under --imbalance fall geometrically.
 * Exits 1 if any check fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/rng.h"
#include "hipid/data/synth.h"
#include "hipid/data/synth_set.h"

#include "testutil.h"

#define N 32

static double canvas_sum(const float *c) {
    double s = 0.0;
    for (int i = 0; i < N * N; i++) s += c[i];
    return s;
}

static double shoelace(const float *xy, int n) {
    double a = 0.0;
    for (int i = 0; i < n; i++) {
        int j = (i + 1) % n;
        a += (double)xy[2 * i] * xy[2 * j + 1] - (double)xy[2 * j] * xy[2 * i + 1];
    }
    return fabs(a) / 2.0;
}

/* overlap of [a0,a1) with [b0,b1) */
static double overlap(double a0, double a1, double b0, double b1) {
    double lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0.0;
}

/* An axis-aligned box whose y edges fall between sample rows is exact per pixel. */
static void test_box_exact(void) {
    float c[N * N] = {0};
    const float x0 = 2.3f, x1 = 10.7f, y0 = 3.2f, y1 = 7.6f;
    float xy[8] = {x0, y0, x1, y0, x1, y1, x0, y1};
    synth_raster_poly(c, N, xy, 4, 2.0f);
    double worst = 0.0;
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++) {
            double want = 2.0 * overlap(i, i + 1, x0, x1) * overlap(j, j + 1, y0, y1);
            worst = fmax(worst, fabs(c[j * N + i] - want));
        }
    printf("largest box coverage difference %.2e\n", worst);
    EXPECT(worst < 1e-5, "box coverage off by %g", worst);
}

/* Star polygons (non-convex): total coverage equals the shoelace area. */
static void test_star_area(void) {
    Rng r = rng_stream(7, 0, 0, 0);
    double worst = 0.0;
    for (int t = 0; t < 50; t++) {
        float c[N * N] = {0}, xy[2 * 40];
        int n = 5 + (int)rng_below(&r, 30);
        float cx = 10 + 12 * rng_uniform(&r), cy = 10 + 12 * rng_uniform(&r);
        for (int k = 0; k < n; k++) {
            float a = 6.2831853f * (float)k / (float)n, rad = 2.0f + 7.0f * rng_uniform(&r);
            xy[2 * k] = cx + rad * cosf(a);
            xy[2 * k + 1] = cy + rad * sinf(a);
        }
        synth_raster_poly(c, N, xy, n, 1.0f);
        double area = shoelace(xy, n);
        worst = fmax(worst, fabs(canvas_sum(c) - area) / area);
        for (int i = 0; i < N * N; i++) EXPECT(c[i] >= -1e-5f && c[i] <= 1.0f + 1e-5f, "coverage %g", c[i]);
    }
    printf("largest relative area difference %.2e (stars)\n", worst);
    EXPECT(worst < 0.01, "area off by %g", worst);
}

/* Clipping, reversed orientation, nonzero winding. */
static void test_clip_orient_winding(void) {
    float a[N * N] = {0}, b[N * N] = {0};
    float half[8] = {-8, 4.1f, 8, 4.1f, 8, 12.1f, -8, 12.1f}; /* half outside on the left */
    synth_raster_poly(a, N, half, 4, 1.0f);
    EXPECT(fabs(canvas_sum(a) - 64.0) < 1e-3, "clipped area %g, expected 64", canvas_sum(a));
    float rev[8] = {-8, 12.1f, 8, 12.1f, 8, 4.1f, -8, 4.1f};
    synth_raster_poly(b, N, rev, 4, 1.0f);
    for (int i = 0; i < N * N; i++) EXPECT(fabsf(a[i] - b[i]) < 1e-6f, "orientation changes pixel %d", i);
    float out[8] = {40, 40, 50, 40, 50, 50, 40, 50};
    memset(a, 0, sizeof a);
    synth_raster_poly(a, N, out, 4, 1.0f);
    EXPECT(canvas_sum(a) == 0.0, "a polygon outside the canvas drew %g", canvas_sum(a));
    /* a pentagram: nonzero fills the inner pentagon once, not twice, not zero */
    float star[10];
    for (int k = 0; k < 5; k++) {
        float t = 6.2831853f * (float)(2 * k) / 5.0f - 1.5707963f;
        star[2 * k] = 16 + 12 * cosf(t);
        star[2 * k + 1] = 16 + 12 * sinf(t);
    }
    memset(a, 0, sizeof a);
    synth_raster_poly(a, N, star, 5, 1.0f);
    EXPECT(fabsf(a[16 * N + 16] - 1.0f) < 1e-5f, "pentagram centre %g, expected 1", a[16 * N + 16]);
}

static void test_draw_deterministic(void) {
    const int S = 64;
    uint8_t *x = malloc(S * S), *y = malloc(S * S);
    SynthParams p, q;
    for (int d = 0; d < synth_n_designs(); d++) {
        synth_params_sample(&p, 11, d, 3, 2);
        synth_params_sample(&q, 11, d, 3, 2);
        EXPECT(memcmp(&p, &q, sizeof p) == 0, "params of design %d differ between calls", d);
        synth_draw(x, S, &p);
        synth_draw(y, S, &q);
        EXPECT(memcmp(x, y, S * S) == 0, "design %d draws differently twice", d);
        int max = 0;
        for (int i = 0; i < S * S; i++) max = x[i] > max ? x[i] : max;
        EXPECT(max >= 240, "design %d: brightest pixel %d, expected metal near 255", d, max);
    }
    /* one patient keeps design and side across views; another seed changes the image */
    synth_params_sample(&p, 11, 2, 5, 1);
    synth_params_sample(&q, 11, 2, 5, 3);
    EXPECT(p.side == q.side && p.stem_scale == q.stem_scale && p.design == q.design, "views of a patient disagree");
    synth_draw(x, S, &p);
    synth_params_sample(&q, 12, 2, 5, 1);
    synth_draw(y, S, &q);
    EXPECT(memcmp(x, y, S * S) != 0, "seeds 11 and 12 draw the same image");
    free(y);
    free(x);
}

static void test_class_sizes(void) {
    SynthSetConfig c = {.per_class = 100, .n_classes = 6, .size = 64, .seed = 1, .imbalance = 4.0};
    const int want[6] = {100, 76, 57, 44, 33, 25};
    for (int k = 0; k < 6; k++)
        EXPECT(synth_class_size(&c, k) == want[k], "class %d: %d images, expected %d", k, synth_class_size(&c, k),
               want[k]);
    c.imbalance = 1.0;
    for (int k = 0; k < 6; k++) EXPECT(synth_class_size(&c, k) == 100, "balanced class %d", k);
    c.per_class = 2;
    c.imbalance = 100.0;
    EXPECT(synth_class_size(&c, 5) == 1, "a class never has fewer than 1 image");
}

int main(void) {
    test_box_exact();
    test_star_area();
    test_clip_orient_winding();
    test_draw_deterministic();
    test_class_sizes();
    return tu_exit_status();
}
