/* augment.c: random geometric and intensity augmentation. See augment.h. */
#include "hipid/train/augment.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/rng.h"

#define TAG_AUGMENT 0xA06Du

AugConfig augment_defaults(void) {
    return (AugConfig){.flip = 0.5f, .rot = 5.0f, .scale = 0.1f, .shift = 0.05f, .bright = 0.1f,
                       .contrast = 0.1f, .gamma = 0.1f, .noise = 0.01f, .fill = AUG_FILL_ZERO};
}

AugConfig augment_none(void) { return (AugConfig){.fill = AUG_FILL_ZERO}; }

int augment_is_identity(const AugConfig *c) {
    return c->flip == 0 && c->rot == 0 && c->scale == 0 && c->shift == 0 && c->bright == 0 &&
           c->contrast == 0 && c->gamma == 0 && c->noise == 0;
}

/* ---- spec strings ---- */

typedef struct {
    const char *key;
    size_t offset;
    float lo, hi;
    const char *what;
} AugKey;

static const AugKey aug_keys[] = {
    {"flip", offsetof(AugConfig, flip), 0.0f, 1.0f, "a probability"},
    {"rot", offsetof(AugConfig, rot), 0.0f, 180.0f, "degrees"},
    {"scale", offsetof(AugConfig, scale), 0.0f, 0.95f, "a relative zoom range"},
    {"shift", offsetof(AugConfig, shift), 0.0f, 0.5f, "a fraction of the image size"},
    {"bright", offsetof(AugConfig, bright), 0.0f, 1.0f, "an additive range"},
    {"contrast", offsetof(AugConfig, contrast), 0.0f, 1.0f, "a relative range"},
    {"gamma", offsetof(AugConfig, gamma), 0.0f, 0.95f, "a relative range"},
    {"noise", offsetof(AugConfig, noise), 0.0f, 1.0f, "a standard deviation"},
};
#define N_AUG_KEYS (sizeof aug_keys / sizeof aug_keys[0])
#define AUG_EXPECTED "none, default, flip[=P], rot=DEG, scale=F, shift=F, bright=F, contrast=F, " \
                     "gamma=F, noise=SIGMA or fill=zero|edge"

int augment_parse(AugConfig *cfg, const char *spec, ErrBuf *e) {
    AugConfig c = augment_none();
    char buf[512];
    if (!spec || !*spec) return hipid_err(e, "augmentation spec is empty; expected 'none' or e.g. 'default'");
    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
        return hipid_err(e, "augmentation spec '%.40s...' is too long", spec);
    char *save = NULL;
    /* each key once: "rot=5,rot=6" would silently keep the last;
     * seen[N_AUG_KEYS] is none/default, seen[N_AUG_KEYS + 1] fill */
    int seen[N_AUG_KEYS + 2] = {0};
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *val = strchr(tok, '=');
        if (val) *val++ = '\0';
        int slot = strcmp(tok, "none") == 0 || strcmp(tok, "default") == 0 ? (int)N_AUG_KEYS
                 : strcmp(tok, "fill") == 0 ? (int)N_AUG_KEYS + 1 : -1;
        for (size_t i = 0; slot < 0 && i < N_AUG_KEYS; i++)
            if (strcmp(tok, aug_keys[i].key) == 0) slot = (int)i;
        if (slot >= 0 && seen[slot]++)
            return hipid_err(e, "augmentation: '%s' given twice in '%.200s'; expected each key once%s", tok, spec,
                             slot == (int)N_AUG_KEYS ? " (none or default, then keys that change it)" : "");
        if (strcmp(tok, "none") == 0 || strcmp(tok, "default") == 0) {
            if (val) return hipid_err(e, "augmentation '%s=%s': '%s' takes no value", tok, val, tok);
            c = strcmp(tok, "none") == 0 ? augment_none() : augment_defaults();
            continue;
        }
        if (strcmp(tok, "fill") == 0) {
            if (val && strcmp(val, "zero") == 0) c.fill = AUG_FILL_ZERO;
            else if (val && strcmp(val, "edge") == 0) c.fill = AUG_FILL_EDGE;
            else return hipid_err(e, "augmentation 'fill': expected fill=zero or fill=edge, found '%s'",
                                  val ? val : "no value");
            continue;
        }
        const AugKey *k = NULL;
        for (size_t i = 0; i < N_AUG_KEYS; i++)
            if (strcmp(tok, aug_keys[i].key) == 0) k = &aug_keys[i];
        if (!k) return hipid_err(e, "augmentation: unknown key '%s' in '%s'; expected " AUG_EXPECTED, tok, spec);
        float v;
        if (!val) {
            if (strcmp(k->key, "flip") != 0)
                return hipid_err(e, "augmentation '%s': expected %s=VALUE (%s in [%g, %g])", tok, tok,
                                 k->what, k->lo, k->hi);
            v = 0.5f;
        } else {
            char *end = NULL;
            errno = 0;
            double d = strtod(val, &end);
            /* compared as the float it becomes: 0.95 is the documented
             * maximum although the double 0.95 exceeds the float 0.95f */
            if (!*val || *end || errno || !((float)d >= k->lo && (float)d <= k->hi))
                return hipid_err(e, "augmentation '%s=%s': expected %s in [%g, %g], found '%s'", tok, val,
                                 k->what, k->lo, k->hi, val);
            v = (float)d;
        }
        *(float *)((char *)&c + k->offset) = v;
    }
    *cfg = c;
    return HIPID_OK;
}

void augment_format(char *buf, size_t cap, const AugConfig *cfg) {
    size_t len = 0;
    if (cap == 0) return;
    buf[0] = '\0';
    if (augment_is_identity(cfg)) {
        snprintf(buf, cap, "none");
        return;
    }
    for (size_t i = 0; i < N_AUG_KEYS; i++) {
        float v = *(const float *)((const char *)cfg + aug_keys[i].offset);
        char num[32];
        fmt_shortest_float(num, sizeof num, v);
        if (v != 0 && len < cap)
            len += snprintf(buf + len, cap - len, "%s%s=%s", len ? "," : "", aug_keys[i].key, num);
    }
    if (cfg->fill == AUG_FILL_EDGE && len < cap) snprintf(buf + len, cap - len, ",fill=edge");
}

/* ---- drawing and applying ---- */

void augment_draw(AugParams *p, const AugConfig *cfg, uint64_t seed, uint64_t trial,
                  uint64_t epoch, uint64_t sample) {
    Rng k = rng_stream(seed, TAG_AUGMENT, 0, 0);
    Rng r = rng_stream(rng_u64(&k), trial, epoch, sample);
    float u[8];
    for (int i = 0; i < 8; i++) u[i] = 2.0f * rng_uniform(&r) - 1.0f; /* [-1,1) */
    p->flip = 0.5f * (u[0] + 1.0f) < cfg->flip;
    p->angle = cfg->rot * u[1];
    p->scale = 1.0f + cfg->scale * u[2];
    p->tx = cfg->shift * u[3];
    p->ty = cfg->shift * u[4];
    p->bright = cfg->bright * u[5];
    p->contrast = 1.0f + cfg->contrast * u[6];
    p->gamma = 1.0f + cfg->gamma * u[7];
    p->noise = cfg->noise;
    p->noise_key = rng_u64(&r);
    p->fill = cfg->fill;
}

static inline float pixel_at(const float *src, int S, int x, int y, AugFill fill) {
    if (x < 0 || x >= S || y < 0 || y >= S) {
        if (fill == AUG_FILL_ZERO) return 0.0f;
        x = x < 0 ? 0 : x >= S ? S - 1 : x;
        y = y < 0 ? 0 : y >= S ? S - 1 : y;
    }
    return src[(long)y * S + x];
}

static void geometry(float *dst, const float *src, int S, const AugParams *p) {
    double c = 0.5 * (S - 1), th = p->angle * (M_PI / 180.0);
    double cs = cos(th) / p->scale, sn = sin(th) / p->scale;
    double dx = (double)p->tx * S, dy = (double)p->ty * S;
    double fl = p->flip ? -1.0 : 1.0;
    for (int y = 0; y < S; y++) {
        double qy = y - c - dy;
        for (int x = 0; x < S; x++) {
            double qx = x - c - dx;
            /* invert: translate, rotate back, unzoom, unmirror */
            double sx = fl * (qx * cs - qy * sn) + c, sy = qx * sn + qy * cs + c;
            double fx0 = floor(sx), fy0 = floor(sy);
            float v;
            if (p->fill == AUG_FILL_ZERO && (fx0 < -1.0 || fx0 >= S || fy0 < -1.0 || fy0 >= S)) {
                v = 0.0f;
            } else {
                int x0 = (int)fx0, y0 = (int)fy0;
                float ax = (float)(sx - fx0), ay = (float)(sy - fy0);
                float p00 = pixel_at(src, S, x0, y0, p->fill), p01 = pixel_at(src, S, x0 + 1, y0, p->fill);
                float p10 = pixel_at(src, S, x0, y0 + 1, p->fill), p11 = pixel_at(src, S, x0 + 1, y0 + 1, p->fill);
                v = (1.0f - ay) * ((1.0f - ax) * p00 + ax * p01) + ay * ((1.0f - ax) * p10 + ax * p11);
            }
            dst[(long)y * S + x] = v;
        }
    }
}

static inline float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

void augment_apply(float *dst, const float *src, int S, const AugParams *p) {
    long px = (long)S * S;
    int moved = p->angle != 0.0f || p->scale != 1.0f || p->tx != 0.0f || p->ty != 0.0f;
    if (moved) {
        geometry(dst, src, S, p);
    } else if (p->flip) { /* an exact mirror */
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) dst[(long)y * S + x] = src[(long)y * S + (S - 1 - x)];
    } else {
        memcpy(dst, src, sizeof(float) * px);
    }
    if (p->contrast != 1.0f || p->bright != 0.0f) {
        float m = 0.0f;
        if (p->contrast != 1.0f) {
            double sum = 0.0;
            for (long i = 0; i < px; i++) sum += dst[i];
            m = (float)(sum / px);
        }
        for (long i = 0; i < px; i++) {
            float v = dst[i];
            if (p->contrast != 1.0f) v = m + p->contrast * (v - m);
            dst[i] = clamp01(v + p->bright);
        }
    }
    if (p->gamma != 1.0f)
        for (long i = 0; i < px; i++) dst[i] = powf(dst[i] > 0.0f ? dst[i] : 0.0f, p->gamma);
    if (p->noise > 0.0f) {
        Rng r = rng_stream(p->noise_key, 0, 0, 0);
        for (long i = 0; i < px; i++) dst[i] = clamp01(dst[i] + p->noise * rng_normal(&r));
    }
}

void augment_image(float *dst, const float *src, int S, const AugConfig *cfg, uint64_t seed,
                   uint64_t trial, uint64_t epoch, uint64_t sample) {
    AugParams p;
    augment_draw(&p, cfg, seed, trial, epoch, sample);
    augment_apply(dst, src, S, &p);
}

void augment_batch(float *out, const float *in, const int *sample_idx, int n, int S,
                   const AugConfig *cfg, uint64_t seed, uint64_t trial, uint64_t epoch,
                   int n_threads) {
    long px = (long)S * S;
    if (n <= 0) return;
    if (augment_is_identity(cfg)) {
        if (out != in) memcpy(out, in, sizeof(float) * px * n);
        return;
    }
    float *tmp = out == in ? xmalloc_f32((size_t)px * n) : out;
    if (n_threads <= 0) n_threads = omp_get_max_threads();
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int i = 0; i < n; i++)
        augment_image(tmp + i * px, in + i * px, S, cfg, seed, trial, epoch, (uint64_t)sample_idx[i]);
    if (tmp != out) {
        memcpy(out, tmp, sizeof(float) * px * n);
        free(tmp);
    }
}
