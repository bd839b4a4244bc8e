/* optim.c: SGD with momentum, Adam, AdamW, and LR schedules. See optim.h. */
#include "hipid/nn/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/common.h"

OptConfig optim_defaults(void) {
    return (OptConfig){.kind = OPT_SGD, .lr = 0.01f, .momentum = 0.9f, .weight_decay = 0.0f,
                       .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .sched = SCHED_CONSTANT,
                       .step_size = 10, .gamma = 0.1f, .epochs = 1};
}

const char *const optim_kind_names[] = {"sgd", "adam", "adamw", NULL};
const char *const optim_sched_names[] = {"constant", "step", "cosine", NULL};

int optim_parse_kind(const char *s) { return names_index(optim_kind_names, s); }
int optim_parse_sched(const char *s) { return names_index(optim_sched_names, s); }

Optim *optim_create(OptConfig cfg, size_t n_params) {
    Optim *o = xcalloc(1, sizeof *o);
    o->cfg = cfg;
    o->n = n_params;
    o->n_threads = 1;
    o->m = xcalloc_f32(n_params);
    if (cfg.kind != OPT_SGD) o->v = xcalloc_f32(n_params);
    return o;
}

void optim_free(Optim *o) {
    if (!o) return;
    free(o->m);
    free(o->v);
    free(o);
}

int optim_set_group(Optim *o, size_t lo, size_t hi, float factor) {
    if (o->n_groups == OPTIM_MAX_GROUPS || lo > hi || hi > o->n || !(factor >= 0.0f)) return 1;
    for (int k = 0; k < o->n_groups; k++)
        if (lo < o->groups[k].hi && o->groups[k].lo < hi) return 1;
    o->groups[o->n_groups++] = (OptGroup){lo, hi, factor};
    return 0;
}

/* The update of p[lo, hi) at learning rate lr (the step counter already
 * advanced). */
static void step_range(Optim *o, float *p, const float *g, float lr, size_t lo, size_t hi) {
    const OptConfig *c = &o->cfg;
    float wd = c->weight_decay;
    float *m = o->m, *v = o->v;
    long n = (long)(hi - lo);
    p += lo, g += lo, m += lo, v = v ? v + lo : NULL;
    if (c->kind == OPT_SGD) {
        float mu = c->momentum;
        int first = o->t == 1;
        if (mu == 0.0f) {
#pragma omp parallel for simd num_threads(o->n_threads) schedule(static)
            for (long i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
        } else {
#pragma omp parallel for simd num_threads(o->n_threads) schedule(static)
            for (long i = 0; i < n; i++) {
                float d = g[i] + wd * p[i];
                m[i] = first ? d : mu * m[i] + d;
                p[i] -= lr * m[i];
            }
        }
        return;
    }
    float b1 = c->beta1, b2 = c->beta2;
    float bc1 = 1.0f - powf(b1, (float)o->t), bc2 = 1.0f - powf(b2, (float)o->t);
    float step = lr / bc1, sq_bc2 = sqrtf(bc2);
    int decoupled = c->kind == OPT_ADAMW;
    float eps = c->eps;
#pragma omp parallel for simd num_threads(o->n_threads) schedule(static)
    for (long i = 0; i < n; i++) {
        float gi = g[i];
        if (decoupled) p[i] *= 1.0f - lr * wd;
        else gi += wd * p[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) / sq_bc2 + eps);
    }
}

static int by_lo(const void *a, const void *b) {
    const OptGroup *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void optim_step(Optim *o, float *p, const float *g, float lr) {
    o->t++;
    OptGroup gs[OPTIM_MAX_GROUPS];
    memcpy(gs, o->groups, sizeof(OptGroup) * o->n_groups);
    qsort(gs, o->n_groups, sizeof *gs, by_lo);
    size_t at = 0; /* ranges between groups take factor 1 */
    for (int k = 0; k <= o->n_groups; k++) {
        size_t lo = k < o->n_groups ? gs[k].lo : o->n;
        if (at < lo) step_range(o, p, g, lr, at, lo);
        if (k == o->n_groups) break;
        if (gs[k].factor > 0.0f) step_range(o, p, g, lr * gs[k].factor, gs[k].lo, gs[k].hi);
        at = gs[k].hi;
    }
}

float optim_lr_at(const OptConfig *c, int epoch) {
    int W = c->warmup > 0 ? c->warmup : 0;
    if (epoch < W) return c->lr * (float)(epoch + 1) / (float)(W + 1);
    epoch -= W;
    switch (c->sched) {
    case SCHED_STEP:
        return c->lr * powf(c->gamma, (float)(epoch / (c->step_size > 0 ? c->step_size : 1)));
    case SCHED_COSINE: {
        int T = c->epochs - W > 0 ? c->epochs - W : 1;
        return 0.5f * c->lr * (1.0f + cosf(3.14159265358979f * (float)epoch / (float)T));
    }
    default:
        return c->lr;
    }
}
