/* test_augment.c: augmentation and balanced sampling contracts that need no
 * reference library (geometry against skimage/scipy is in test_augment.py).
 *
 * Checks: an image's augmentation depends on (seed, trial, epoch, sample)
 * only, not on its batch position, the batch's other images, the thread
 * count or in-place use (memcmp); "none" copies bit for bit; flip=1 is an
 * exact mirror; brightness, contrast, gamma and noise follow the formulas in
 * augment.h; parameters stay in their documented ranges; spec strings parse,
 * round-trip and fail with the bad key named; balanced sampling is
 * deterministic and balanced. Exits 1 if any check fails. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/train/augment.h"
#include "hipid/base/rng.h"
#include "hipid/train/sample.h"
#include "testutil.h"

#define S 32
#define PX (S * S)
#define N_DATA 24

static float data[N_DATA * PX]; /* a small "data set" of images in [0,1] */

static void make_data(void) {
    Rng r = rng_stream(99, 0, 0, 0);
    for (int n = 0; n < N_DATA; n++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                float v = 0.4f + 0.3f * sinf(0.2f * x + n) * cosf(0.3f * y) + 0.1f * rng_uniform(&r);
                data[n * PX + y * S + x] = v < 0 ? 0 : v > 1 ? 1 : v;
            }
}

/* Gather images idx[0..n) of the data set into a batch (n,1,S,S). */
static void gather(float *batch, const int *idx, int n) {
    for (int i = 0; i < n; i++) memcpy(batch + i * PX, data + idx[i] * PX, sizeof(float) * PX);
}

static float max_diff(const float *a, const float *b, int n) {
    float d = 0;
    for (int i = 0; i < n; i++) d = fmaxf(d, fabsf(a[i] - b[i]));
    return d;
}

static void test_determinism(void) {
    AugConfig cfg = augment_defaults();
    int idx_a[8] = {3, 7, 1, 20, 11, 5, 0, 9}, idx_b[5] = {9, 7, 15, 3, 22};
    float a[8 * PX], a2[8 * PX], b[5 * PX], in[8 * PX], one[PX];
    gather(in, idx_a, 8);
    omp_set_num_threads(1);
    augment_batch(a, in, idx_a, 8, S, &cfg, 42, 1, 3, 1);
    augment_batch(a2, in, idx_a, 8, S, &cfg, 42, 1, 3, 2);
    EXPECT(memcmp(a, a2, sizeof a) == 0, "1 and 2 threads differ (max %g)", max_diff(a, a2, 8 * PX));
    memcpy(a2, in, sizeof in);
    augment_batch(a2, a2, idx_a, 8, S, &cfg, 42, 1, 3, 2);
    EXPECT(memcmp(a, a2, sizeof a) == 0, "in place differs from out of place");
    /* sample 7 at position 1 of batch a and position 1 of batch b; sample 3 at 0 and 3;
     * sample 9 at 7 and 0 */
    gather(in, idx_b, 5);
    augment_batch(b, in, idx_b, 5, S, &cfg, 42, 1, 3, 2);
    EXPECT(memcmp(a + 1 * PX, b + 1 * PX, sizeof(float) * PX) == 0, "sample 7 depends on its batch");
    EXPECT(memcmp(a + 0 * PX, b + 3 * PX, sizeof(float) * PX) == 0, "sample 3 depends on its batch position");
    EXPECT(memcmp(a + 7 * PX, b + 0 * PX, sizeof(float) * PX) == 0, "sample 9 depends on its batch position");
    augment_image(one, data + 20 * PX, S, &cfg, 42, 1, 3, 20);
    EXPECT(memcmp(a + 3 * PX, one, sizeof one) == 0, "augment_image differs from augment_batch");
    /* every key matters */
    float o2[PX];
    augment_image(o2, data + 20 * PX, S, &cfg, 43, 1, 3, 20);
    EXPECT(memcmp(one, o2, sizeof one) != 0, "seed ignored");
    augment_image(o2, data + 20 * PX, S, &cfg, 42, 2, 3, 20);
    EXPECT(memcmp(one, o2, sizeof one) != 0, "trial ignored");
    augment_image(o2, data + 20 * PX, S, &cfg, 42, 1, 4, 20);
    EXPECT(memcmp(one, o2, sizeof one) != 0, "epoch ignored");
    augment_image(o2, data + 20 * PX, S, &cfg, 42, 1, 3, 21);
    EXPECT(memcmp(one, o2, sizeof one) != 0, "sample ignored");
    for (int i = 0; i < 8 * PX; i++) EXPECT(a[i] >= 0.0f && a[i] <= 1.0f, "pixel %d = %g outside [0,1]", i, a[i]);
}

static void test_identity_and_flip(void) {
    AugConfig none = augment_none();
    int idx[4] = {0, 5, 10, 23};
    float in[4 * PX], out[4 * PX], one[PX];
    gather(in, idx, 4);
    augment_batch(out, in, idx, 4, S, &none, 1, 0, 0, 2);
    EXPECT(memcmp(in, out, sizeof in) == 0, "'none' changed a batch");
    augment_image(one, in, S, &none, 1, 0, 0, 0);
    EXPECT(memcmp(in, one, sizeof one) == 0, "'none' changed an image");
    /* zero ranges through the parser are the identity as well */
    AugConfig z;
    ErrBuf e = {{0}};
    EXPECT(augment_parse(&z, "flip=0,rot=0,scale=0,shift=0,bright=0,contrast=0,gamma=0,noise=0", &e) == HIPID_OK, "%s", e.msg);
    EXPECT(augment_is_identity(&z), "all-zero spec is not the identity");
    AugParams p;
    augment_draw(&p, &z, 5, 0, 0, 5);
    augment_apply(one, in, S, &p);
    EXPECT(memcmp(in, one, sizeof one) == 0, "zero ranges changed an image");
    /* flip=1 alone: an exact mirror, every time */
    AugConfig flip = augment_none();
    flip.flip = 1.0f;
    for (int s = 0; s < 4; s++) {
        augment_image(one, data + s * PX, S, &flip, 7, 0, 0, (uint64_t)s);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                EXPECT(one[y * S + x] == data[s * PX + y * S + (S - 1 - x)], "flip is not a mirror at (%d,%d)", x, y);
    }
}

/* brightness, contrast and gamma against augment.h's formulas, one at a time and together */
static void test_intensity(void) {
    const char *specs[4] = {"bright=0.2", "contrast=0.3", "gamma=0.3", "bright=0.2,contrast=0.3,gamma=0.3"};
    float worst = 0;
    for (int t = 0; t < 4; t++) {
        AugConfig cfg;
        ErrBuf e = {{0}};
        EXPECT(augment_parse(&cfg, specs[t], &e) == HIPID_OK, "%s", e.msg);
        for (int s = 0; s < N_DATA; s++) {
            const float *src = data + s * PX;
            float out[PX], want[PX];
            AugParams p;
            augment_draw(&p, &cfg, 11, 2, 5, (uint64_t)s);
            EXPECT(fabsf(p.bright) <= cfg.bright && fabsf(p.contrast - 1) <= cfg.contrast &&
                   fabsf(p.gamma - 1) <= cfg.gamma, "parameter out of range");
            EXPECT(!p.flip && p.angle == 0 && p.scale == 1 && p.tx == 0 && p.ty == 0, "geometry drawn while off");
            augment_image(out, src, S, &cfg, 11, 2, 5, (uint64_t)s);
            double m = 0;
            for (int i = 0; i < PX; i++) m += src[i];
            m /= PX;
            for (int i = 0; i < PX; i++) {
                double v = m + p.contrast * (src[i] - m) + p.bright;
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                want[i] = (float)pow(v, p.gamma);
            }
            float d = max_diff(out, want, PX);
            worst = fmaxf(worst, d);
            EXPECT(d < 2e-6f, "%s, sample %d: largest difference to the formula %g", specs[t], s, d);
        }
    }
    printf("max |intensity - formula| %.3g\n", worst);
    /* noise: on flat 0.5 the difference has mean 0 and std sigma */
    AugConfig cfg = augment_none();
    cfg.noise = 0.05f;
    float flat[PX], out[PX];
    double sum = 0, sq = 0;
    int n = 0;
    for (int i = 0; i < PX; i++) flat[i] = 0.5f;
    for (int s = 0; s < 20; s++) {
        augment_image(out, flat, S, &cfg, 3, 0, 0, (uint64_t)s);
        for (int i = 0; i < PX; i++, n++) {
            sum += out[i] - 0.5;
            sq += (out[i] - 0.5) * (out[i] - 0.5);
        }
    }
    double mean = sum / n, sd = sqrt(sq / n - mean * mean);
    EXPECT(fabs(mean) < 4 * 0.05 / sqrt(n), "noise mean %g", mean);
    EXPECT(fabs(sd - 0.05) < 0.002, "noise std %g, expected 0.05", sd);
    printf("info noise sigma 0.05: measured mean %.2e std %.4f over %d pixels\n", mean, sd, n);
}

/* draws cover their ranges: flip rate near p, angles spread over [-rot, rot] */
static void test_draws(void) {
    AugConfig cfg = augment_defaults();
    int flips = 0, n = 4000;
    float amin = 1e9f, amax = -1e9f, smin = 1e9f, smax = -1e9f;
    for (int s = 0; s < n; s++) {
        AugParams p;
        augment_draw(&p, &cfg, 1, 0, 0, (uint64_t)s);
        flips += p.flip;
        amin = fminf(amin, p.angle), amax = fmaxf(amax, p.angle);
        smin = fminf(smin, p.scale), smax = fmaxf(smax, p.scale);
        EXPECT(fabsf(p.tx) <= cfg.shift && fabsf(p.ty) <= cfg.shift && p.noise == cfg.noise, "draw out of range");
    }
    EXPECT(abs(flips - n / 2) < 4 * 32, "flip rate %d/%d, expected about half", flips, n); /* sd = 31.6 */
    EXPECT(amin >= -5 && amax <= 5 && amin < -4.9f && amax > 4.9f, "angles in [%g, %g]", amin, amax);
    EXPECT(smin >= 0.9f && smax <= 1.1f && smin < 0.91f && smax > 1.09f, "scales in [%g, %g]", smin, smax);
}

static void test_parse(void) {
    AugConfig c;
    ErrBuf e = {{0}};
    EXPECT(augment_parse(&c, "flip,rot=5,scale=0.1,shift=0.05,bright=0.1,contrast=0.1,gamma=0.1,noise=0.01", &e) == HIPID_OK, "%s", e.msg);
    AugConfig d = augment_defaults();
    EXPECT(memcmp(&c, &d, sizeof c) == 0, "the documented default spec does not give augment_defaults()");
    EXPECT(augment_parse(&c, "default", &e) == HIPID_OK && memcmp(&c, &d, sizeof c) == 0, "'default'");
    EXPECT(augment_parse(&c, "none", &e) == HIPID_OK && augment_is_identity(&c), "'none'");
    EXPECT(augment_parse(&c, "default,noise=0,fill=edge", &e) == HIPID_OK && c.noise == 0 && c.rot == 5 &&
           c.fill == AUG_FILL_EDGE, "overrides after default");
    char buf[256];
    AugConfig r;
    augment_format(buf, sizeof buf, &c);
    EXPECT(augment_parse(&r, buf, &e) == HIPID_OK && memcmp(&c, &r, sizeof c) == 0, "format '%s' does not round-trip", buf);
    augment_format(buf, sizeof buf, &d);
    printf("info default spec: %s\n", buf);
    static const struct {
        const char *spec, *want;
    } bad[] = {
        {"rotate=5", "unknown key 'rotate'"}, {"rot=abc", "'rot=abc': expected degrees"},
        {"rot=500", "in [0, 180]"},           {"rot", "expected rot=VALUE"},
        {"flip=2", "a probability"},          {"fill=blur", "fill=zero or fill=edge"},
        {"", "empty"},                        {"none=1", "takes no value"},
        {"scale=-0.1", "found '-0.1'"},
    };
    AugConfig keep = augment_defaults();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = keep;
        e.msg[0] = '\0';
        EXPECT(augment_parse(&c, bad[i].spec, &e) == HIPID_ERR, "'%s' accepted", bad[i].spec);
        EXPECT(strstr(e.msg, bad[i].want) != NULL, "'%s': message '%s' lacks '%s'", bad[i].spec, e.msg, bad[i].want);
        EXPECT(memcmp(&c, &keep, sizeof c) == 0, "'%s': config changed on error", bad[i].spec);
    }
}

static void test_balanced(void) {
    enum { N = 300, K = 4 };
    int32_t labels[N];
    int idx[N], a[N], b[N], cnt[K];
    for (int i = 0; i < N; i++) labels[i] = i < 10 ? 0 : i < 40 ? 1 : i < 200 ? 2 : 3; /* 10/30/160/100 */
    for (int i = 0; i < N; i++) idx[i] = N - 1 - i;
    sample_balanced_epoch(a, N, idx, N, labels, K, 5, 2);
    sample_balanced_epoch(b, N, idx, N, labels, K, 5, 2);
    EXPECT(memcmp(a, b, sizeof a) == 0, "balanced sampling is not deterministic");
    sample_balanced_epoch(b, N, idx, N, labels, K, 5, 3);
    EXPECT(memcmp(a, b, sizeof a) != 0, "two epochs gave the same order");
    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < N; i++) cnt[labels[a[i]]]++;
    for (int c = 0; c < K; c++) EXPECT(cnt[c] == N / K, "class %d drawn %d times, expected %d", c, cnt[c], N / K);
    /* a class absent from the training set gets no slots; 7 slots over 2 classes -> 3 or 4 */
    int sub[20], o[7];
    for (int i = 0; i < 20; i++) sub[i] = 40 + i; /* class 2 only */
    for (int i = 0; i < 10; i++) sub[10 + i] = i; /* class 0 */
    sample_balanced_epoch(o, 7, sub, 20, labels, K, 1, 0);
    int c0 = 0;
    for (int i = 0; i < 7; i++) {
        EXPECT(labels[o[i]] == 0 || labels[o[i]] == 2, "drew a class absent from the training set");
        c0 += labels[o[i]] == 0;
    }
    EXPECT(c0 == 3 || c0 == 4, "7 slots over 2 classes gave %d to class 0", c0);
}

int main(void) {
    make_data();
    test_determinism();
    test_identity_and_flip();
    test_intensity();
    test_draws();
    test_parse();
    test_balanced();
    return tu_exit_status();
}
