/* halving.c: successive halving, Hyperband and per-fold pruning
 * (halving.h). A selection group is a small state machine: its current rung,
 * wave and the configurations still in; every result that completes a wave
 * or a rung takes the group's decision at once. */
#include "hipid/sweep/halving.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rung_state_names[] = {"promoted", "stopped", "pruned", "top", "open", NULL};

enum { U_WAITING = 0, U_ISSUED, U_DONE };

typedef struct {
    int family, bracket, repeat, outer;
    int n_cfg, n_units, n_follow;   /* configurations; units per configuration; nested outer trials per one */
    int *cfg;                       /* (n_cfg) configuration indices */
    uint64_t *hash;                 /* (n_cfg) tie-breakers */
    int *unit;                      /* (n_cfg * n_units) plan indices */
    int *follow;                    /* (n_cfg * n_follow) nested: the outer trials */
    int rung, first, top;           /* current rung; the bracket's first and last */
    int entered;                    /* configurations that entered the current rung */
    int wave;                       /* 0: the first prune_after units; 1: the rest */
    int *alive;                     /* (n_cfg) in the current rung (not pruned, not stopped) */
    int *top_reached;               /* (n_cfg) ended at the last rung */
    double *metric;                 /* (n_cfg * n_units) at the current rung */
    char *ustate;                   /* (n_cfg * n_units) U_* at the current rung */
    char *fstate;                   /* (n_cfg * n_follow) U_* of the outer trials */
    int *budget_of;                 /* (n_cfg) budget the configuration's units last ran to */
    int finished;                   /* all decisions taken and every trial done */
} Group;

struct Halving {
    const Job *job;
    const Trial *plan;
    int n_plan;
    int s_max;
    Group *g;
    int n_groups;
    int *grp_of, *slot_of, *unit_of; /* (n_plan) -1 outside; unit_of < 0: outer trial -1 - k */
    int *budget;                     /* (n_plan) what each trial was last handed out (or found) at; -1 never */
    RungRow *rows;
    int n_rows, cap_rows;
    HalvingLookup lookup;
    void *ctx;
};

/* ---- rungs and brackets ---- */

static int staged(const Job *j) { return j->search >= SEARCH_HALVING; }

static int s_max_of(const Job *j) {
    if (!staged(j)) return 0;
    int s = 0;
    double r = (double)j->max_epochs / j->min_epochs;
    while (pow(j->eta, s + 1) <= r * (1 + 1e-12)) s++;
    return s;
}

/* Budget of rung r: 0 (the trial's own epochs) outside halving. */
static int rung_epochs(const Job *j, int s_max, int r) {
    if (!staged(j)) return 0;
    long e = lround(j->max_epochs * pow(j->eta, r - s_max));
    return e < 1 ? 1 : (int)e;
}

/* Configurations per bracket: Li et al.'s n_s for s = s_max - b, an
 * integer (s_max is at most log2 of 1e6). */
static long long bracket_weight(const Job *j, int s_max, int b) {
    int s = s_max - b;
    long long w = (s_max + 1 + s) / (s + 1); /* ceil((s_max + 1) / (s + 1)) */
    for (int k = 0; k < s; k++) w *= j->eta;
    return w;
}

/* Largest-remainder share of n configurations over the brackets, in
 * integers; equal remainders favour the lower bracket. */
static void deal_brackets(int *count, const Job *j, int s_max, int n) {
    int nb = j->search == SEARCH_HYPERBAND ? s_max + 1 : 1;
    if (nb == 1) {
        count[0] = n;
        return;
    }
    long long tot = 0, rem[64];
    for (int b = 0; b < nb; b++) tot += bracket_weight(j, s_max, b);
    int given = 0;
    for (int b = 0; b < nb; b++) {
        long long q = (long long)n * bracket_weight(j, s_max, b);
        count[b] = (int)(q / tot);
        rem[b] = q % tot;
        given += count[b];
    }
    while (given < n) {
        int best = 0;
        for (int b = 1; b < nb; b++)
            if (rem[b] > rem[best]) best = b;
        count[best]++;
        rem[best] = -1;
        given++;
    }
}

/* ---- building the groups ---- */

typedef struct {
    uint64_t hash;
    int config;
} CfgKey;

static int cfgkey_cmp(const void *a, const void *b) {
    const CfgKey *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->config - y->config;
}

static int is_unit(const Job *j, const Trial *t) { return j->scheme == CV_NESTED ? t->inner >= 0 : 1; }

static void add_row(Halving *h, const Group *g, int slot, int n_units, double score, int state) {
    if (h->n_rows == h->cap_rows) {
        h->cap_rows = h->cap_rows ? 2 * h->cap_rows : 64;
        h->rows = realloc(h->rows, sizeof(RungRow) * h->cap_rows);
        if (!h->rows) abort();
    }
    h->rows[h->n_rows++] = (RungRow){g->family, g->cfg[slot], g->bracket, g->repeat, g->outer, g->rung,
                                     rung_epochs(h->job, h->s_max, g->rung), n_units, score, state};
}

static void group_start_rung(Group *g, int rung) {
    g->rung = rung;
    g->wave = 0;
    g->entered = 0;
    for (int c = 0; c < g->n_cfg; c++) g->entered += g->alive[c];
    for (int k = 0; k < g->n_cfg * g->n_units; k++) g->metric[k] = NAN, g->ustate[k] = U_WAITING;
}

/* Group of (family, bracket, repeat, outer) over the configurations cfg. */
static int build_group(Halving *h, Group *g, int fam, int bracket, int repeat, int outer, const int *cfg, int n_cfg,
                       const int *phase, int n_phase, ErrBuf *e) {
    const Job *j = h->job;
    *g = (Group){.family = fam, .bracket = bracket, .repeat = repeat, .outer = outer, .n_cfg = n_cfg};
    g->cfg = malloc(sizeof(int) * n_cfg);
    g->hash = malloc(sizeof(uint64_t) * n_cfg);
    memcpy(g->cfg, cfg, sizeof(int) * n_cfg);
    /* units and outer trials of each configuration, in plan order */
    int *nu = calloc(n_cfg, sizeof(int)), *nf = calloc(n_cfg, sizeof(int));
    for (int pass = 0; pass < 2; pass++) {
        for (int c = 0; c < n_cfg; c++) nu[c] = nf[c] = 0;
        for (int i = 0; i < n_phase; i++) {
            const Trial *t = &h->plan[phase[i]];
            if (t->family != fam || (outer >= 0 && (t->repeat != repeat || t->outer != outer))) continue;
            int slot = -1;
            for (int c = 0; c < n_cfg && slot < 0; c++)
                if (cfg[c] == t->config) slot = c;
            if (slot < 0) continue;
            if (pass == 1) {
                int u = is_unit(j, t);
                int k = u ? nu[slot] : nf[slot];
                if (u && k < g->n_units) g->unit[slot * g->n_units + k] = phase[i];
                if (!u && k < g->n_follow) g->follow[slot * g->n_follow + k] = phase[i];
                h->grp_of[phase[i]] = (int)(g - h->g);
                h->slot_of[phase[i]] = slot;
                h->unit_of[phase[i]] = u ? k : -1 - k;
            }
            if (is_unit(j, t)) nu[slot]++;
            else nf[slot]++;
        }
        if (pass == 0) {
            g->n_units = nu[0];
            g->n_follow = nf[0];
            for (int c = 1; c < n_cfg; c++)
                if (nu[c] != g->n_units || nf[c] != g->n_follow) g->n_units = -1;
            if (g->n_units <= 0) {
                int n0 = nu[0];
                free(nu);
                free(nf);
                return hipid_err(e, "family %s: configurations without the same CV units to compare (%d units)",
                                 j->families[fam].name, n0);
            }
            g->unit = malloc(sizeof(int) * n_cfg * g->n_units);
            g->follow = malloc(sizeof(int) * (n_cfg * g->n_follow + 1));
        }
    }
    free(nu);
    free(nf);
    for (int c = 0; c < n_cfg; c++) { /* the plan hash of the configuration's first trial (halving.h) */
        g->hash[c] = UINT64_MAX;
        for (int i = 0; i < h->n_plan; i++)
            if (h->plan[i].family == fam && h->plan[i].config == cfg[c]) {
                g->hash[c] = h->plan[i].hash;
                break;
            }
    }
    g->alive = malloc(sizeof(int) * n_cfg);
    g->top_reached = calloc(n_cfg, sizeof(int));
    g->budget_of = calloc(n_cfg, sizeof(int));
    g->metric = malloc(sizeof(double) * n_cfg * g->n_units);
    g->ustate = malloc((size_t)n_cfg * g->n_units);
    g->fstate = calloc((size_t)n_cfg * g->n_follow + 1, 1);
    for (int c = 0; c < n_cfg; c++) g->alive[c] = 1, g->budget_of[c] = -1;
    g->first = bracket; /* halving: bracket 0 starts at rung 0; hyperband: bracket b at rung b */
    g->top = h->s_max;
    group_start_rung(g, g->first);
    return HIPID_OK;
}

Halving *halving_create(const Job *job, const Trial *plan, int n_plan, const int *phase, int n_phase,
                        HalvingLookup lookup, void *ctx, ErrBuf *e) {
    Halving *h = calloc(1, sizeof *h);
    h->job = job;
    h->plan = plan;
    h->n_plan = n_plan;
    h->s_max = s_max_of(job);
    h->lookup = lookup;
    h->ctx = ctx;
    h->grp_of = malloc(sizeof(int) * (n_plan + 1));
    h->slot_of = malloc(sizeof(int) * (n_plan + 1));
    h->unit_of = malloc(sizeof(int) * (n_plan + 1));
    h->budget = malloc(sizeof(int) * (n_plan + 1));
    for (int i = 0; i < n_plan; i++) h->grp_of[i] = h->slot_of[i] = h->budget[i] = -1, h->unit_of[i] = 0;
    int nb = job->search == SEARCH_HYPERBAND ? h->s_max + 1 : 1, cap = 0;
    for (int f = 0; f < job->n_families; f++) {
        int in_phase = 0;
        for (int i = 0; i < n_phase && !in_phase; i++) in_phase = plan[phase[i]].family == f;
        if (!in_phase) continue;
        const Family *fa = &job->families[f];
        /* configurations in hash order (of their first trial), dealt to brackets */
        CfgKey *keys = calloc(fa->n_configs, sizeof(CfgKey));
        for (int c = 0; c < fa->n_configs; c++) {
            keys[c].config = c;
            keys[c].hash = UINT64_MAX;
            for (int i = 0; i < n_plan; i++)
                if (plan[i].family == f && plan[i].config == c) {
                    keys[c].hash = plan[i].hash;
                    break;
                }
        }
        if (nb > 1) qsort(keys, fa->n_configs, sizeof(CfgKey), cfgkey_cmp);
        int count[64] = {0}, at = 0;
        deal_brackets(count, job, h->s_max, fa->n_configs);
        /* nested: one group per (bracket, repeat, outer); else per bracket */
        int n_outer_units = 1, *reps = NULL, *outs = NULL;
        if (job->scheme == CV_NESTED) {
            reps = malloc(sizeof(int) * (n_phase + 1));
            outs = malloc(sizeof(int) * (n_phase + 1));
            n_outer_units = 0;
            for (int i = 0; i < n_phase; i++) {
                const Trial *t = &plan[phase[i]];
                if (t->family != f) continue;
                int seen = 0;
                for (int k = 0; k < n_outer_units && !seen; k++) seen = reps[k] == t->repeat && outs[k] == t->outer;
                if (!seen) reps[n_outer_units] = t->repeat, outs[n_outer_units++] = t->outer;
            }
        }
        for (int b = 0; b < nb; b++) {
            int *cs = malloc(sizeof(int) * (count[b] + 1));
            for (int k = 0; k < count[b]; k++) cs[k] = keys[at + k].config;
            at += count[b];
            if (count[b] == 0) {
                free(cs);
                continue;
            }
            for (int u = 0; u < n_outer_units; u++) {
                if (h->n_groups == cap) {
                    cap = cap ? 2 * cap : 16;
                    h->g = realloc(h->g, sizeof(Group) * cap);
                }
                Group *g = &h->g[h->n_groups++];
                int rep = reps ? reps[u] : -1, out = outs ? outs[u] : -1;
                if (build_group(h, g, f, b, rep, out, cs, count[b], phase, n_phase, e) != HIPID_OK) {
                    h->n_groups--;
                    free(cs);
                    free(keys);
                    free(reps);
                    free(outs);
                    halving_free(h);
                    return NULL;
                }
            }
            free(cs);
        }
        free(keys);
        free(reps);
        free(outs);
    }
    return h;
}

void halving_free(Halving *h) {
    if (!h) return;
    for (int k = 0; k < h->n_groups; k++) {
        Group *g = &h->g[k];
        free(g->cfg);
        free(g->hash);
        free(g->unit);
        free(g->follow);
        free(g->alive);
        free(g->top_reached);
        free(g->metric);
        free(g->ustate);
        free(g->fstate);
        free(g->budget_of);
    }
    free(h->g);
    free(h->grp_of);
    free(h->slot_of);
    free(h->unit_of);
    free(h->budget);
    free(h->rows);
    free(h);
}

/* ---- decisions ---- */

double halving_wilcoxon_greater(const double *d, int n) {
    double *a = malloc(sizeof(double) * (n + 1));
    int *sign = malloc(sizeof(int) * (n + 1)), m = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(d[i]) || d[i] == 0.0) continue;
        a[m] = fabs(d[i]);
        sign[m++] = d[i] > 0;
    }
    if (m == 0) {
        free(a);
        free(sign);
        return 1.0;
    }
    /* doubled average ranks: integers */
    int *r2 = malloc(sizeof(int) * m), total = 0, w = 0;
    for (int i = 0; i < m; i++) {
        int below = 0, equal = 0;
        for (int k = 0; k < m; k++) below += a[k] < a[i], equal += a[k] == a[i];
        r2[i] = 2 * below + equal + 1; /* 2 * (below + (equal + 1) / 2) */
        total += r2[i];
        if (sign[i]) w += r2[i];
    }
    /* null distribution of the positive rank sum: each sign +/- with 1/2 */
    double *p = calloc((size_t)total + 1, sizeof(double));
    p[0] = 1.0;
    int reach = 0;
    for (int i = 0; i < m; i++) {
        for (int s = reach; s >= 0; s--)
            if (p[s] != 0.0) p[s + r2[i]] += p[s] * 0.5, p[s] *= 0.5;
        reach += r2[i];
    }
    double pv = 0.0;
    for (int s = w; s <= total; s++) pv += p[s];
    free(p);
    free(r2);
    free(a);
    free(sign);
    return pv > 1.0 ? 1.0 : pv;
}

/* Mean metric of slot c over units [0, n). */
static double score_of(const Group *g, int c, int n) {
    double s = 0.0;
    for (int u = 0; u < n; u++) s += g->metric[c * g->n_units + u];
    return s / n;
}

typedef struct {
    double score;
    uint64_t hash;
    int slot;
} Ranked;

static int ranked_cmp(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    /* NaN (inf - inf) sorts last as if +inf */
    double sx = isnan(x->score) ? INFINITY : x->score, sy = isnan(y->score) ? INFINITY : y->score;
    if (sx != sy) return sx < sy ? -1 : 1;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->slot - y->slot;
}

static int double_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Units the first wave covers; n_units when no pruning applies. */
static int wave_units(const Halving *h, const Group *g) {
    if (h->job->prune == SEARCH_PRUNE_NONE) return g->n_units;
    int m = h->job->prune_after > 0 ? h->job->prune_after : (g->n_units + 1) / 2;
    return m < g->n_units ? m : g->n_units;
}

static int units_done(const Group *g, int c, int n) {
    for (int u = 0; u < n; u++)
        if (g->ustate[c * g->n_units + u] != U_DONE) return 0;
    return 1;
}

/* The pruning decision after the first wave. */
static void prune_wave(Halving *h, Group *g, int m) {
    Ranked *r = malloc(sizeof(Ranked) * g->n_cfg);
    int n = 0;
    for (int c = 0; c < g->n_cfg; c++)
        if (g->alive[c]) r[n++] = (Ranked){score_of(g, c, m), g->hash[c], c};
    qsort(r, n, sizeof(Ranked), ranked_cmp);
    int ref = r[0].slot;
    double median = 0;
    if (h->job->prune == SEARCH_PRUNE_MEDIAN) {
        double *s = malloc(sizeof(double) * n);
        for (int k = 0; k < n; k++) s[k] = isnan(r[k].score) ? INFINITY : r[k].score;
        qsort(s, n, sizeof(double), double_cmp);
        median = n % 2 ? s[n / 2] : (s[n / 2 - 1] == s[n / 2] ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]));
        free(s);
    }
    double *d = malloc(sizeof(double) * m);
    for (int k = 1; k < n; k++) {
        int c = r[k].slot, out = 0;
        if (h->job->prune == SEARCH_PRUNE_MEDIAN) {
            out = (isnan(r[k].score) ? INFINITY : r[k].score) > median;
        } else {
            for (int u = 0; u < m; u++) {
                double x = g->metric[c * g->n_units + u], y = g->metric[ref * g->n_units + u];
                d[u] = x == y ? 0.0 : x - y; /* inf - inf: equal, no evidence */
            }
            out = halving_wilcoxon_greater(d, m) < h->job->prune_alpha;
        }
        if (out) {
            g->alive[c] = 0;
            add_row(h, g, c, m, r[k].score, RUNG_PRUNED);
        }
    }
    free(d);
    free(r);
}

/* The rung's decision: promote the best max(1, floor(entered / eta)). */
static void decide_rung(Halving *h, Group *g) {
    Ranked *r = malloc(sizeof(Ranked) * g->n_cfg);
    int n = 0;
    for (int c = 0; c < g->n_cfg; c++)
        if (g->alive[c]) r[n++] = (Ranked){score_of(g, c, g->n_units), g->hash[c], c};
    qsort(r, n, sizeof(Ranked), ranked_cmp);
    if (g->rung >= g->top) {
        for (int k = 0; k < n; k++) {
            g->top_reached[r[k].slot] = 1;
            add_row(h, g, r[k].slot, g->n_units, r[k].score, RUNG_TOP);
        }
        g->rung = g->top + 1; /* past the rungs: the outer trials, if any */
        free(r);
        return;
    }
    int keep = g->entered / h->job->eta;
    if (keep < 1) keep = 1;
    for (int k = 0; k < n; k++) {
        int c = r[k].slot, promoted = k < keep;
        add_row(h, g, c, g->n_units, r[k].score, promoted ? RUNG_PROMOTED : RUNG_STOPPED);
        if (!promoted) g->alive[c] = 0;
    }
    free(r);
    group_start_rung(g, g->rung + 1);
}

/* Take every decision the group's results allow. */
static void advance(Halving *h, Group *g) {
    for (;;) {
        if (g->rung > g->top) {
            int all = 1;
            for (int k = 0; k < g->n_cfg * g->n_follow && all; k++)
                all = !g->top_reached[k / g->n_follow] || g->fstate[k] == U_DONE;
            g->finished = all;
            return;
        }
        int m = wave_units(h, g), all = 1;
        int lim = g->wave == 0 ? m : g->n_units;
        for (int c = 0; c < g->n_cfg && all; c++)
            if (g->alive[c]) all = units_done(g, c, lim);
        if (!all) return;
        if (g->wave == 0 && m < g->n_units) {
            prune_wave(h, g, m);
            g->wave = 1;
            continue;
        }
        decide_rung(h, g);
    }
}

/* ---- handing out work ---- */

static int take(Halving *h, Group *g, int k_unit, int slot, int *idx, int *budget) {
    int pi = g->unit[k_unit], b = rung_epochs(h->job, h->s_max, g->rung);
    double m;
    g->budget_of[slot] = b;
    h->budget[pi] = b;
    if (h->lookup && h->lookup(h->ctx, pi, b, &m)) {
        g->metric[k_unit] = m;
        g->ustate[k_unit] = U_DONE;
        advance(h, g);
        return 0;
    }
    g->ustate[k_unit] = U_ISSUED;
    *idx = pi;
    *budget = b;
    return 1;
}

int halving_next(Halving *h, int *idx, int *budget) {
    int again = 1, busy = 0;
    while (again) { /* a result found on disk may open more work */
        again = 0;
        busy = 0;
        for (int k = 0; k < h->n_groups; k++) {
            Group *g = &h->g[k];
            if (g->finished) continue;
            if (g->rung > g->top) {
                for (int f = 0; f < g->n_cfg * g->n_follow; f++) {
                    if (!g->top_reached[f / g->n_follow] || g->fstate[f] == U_DONE) continue;
                    if (g->fstate[f] == U_ISSUED) {
                        busy = 1;
                        continue;
                    }
                    double m;
                    h->budget[g->follow[f]] = 0;
                    if (h->lookup && h->lookup(h->ctx, g->follow[f], 0, &m)) {
                        g->fstate[f] = U_DONE;
                        again = 1;
                        continue;
                    }
                    g->fstate[f] = U_ISSUED;
                    *idx = g->follow[f];
                    *budget = 0;
                    return 0;
                }
                advance(h, g);
                continue;
            }
            int lim = g->wave == 0 ? wave_units(h, g) : g->n_units;
            for (int u = 0; u < lim; u++) /* unit-major: every configuration's first units first */
                for (int c = 0; c < g->n_cfg; c++) {
                    int ku = c * g->n_units + u;
                    if (!g->alive[c] || g->ustate[ku] == U_DONE) continue;
                    if (g->ustate[ku] == U_ISSUED) {
                        busy = 1;
                        continue;
                    }
                    int rung = g->rung;
                    if (take(h, g, ku, c, idx, budget)) return 0;
                    again = 1; /* found on disk; the group may have moved on */
                    if (g->rung != rung || g->finished) goto next_group;
                }
        next_group:;
        }
    }
    /* nothing to hand out: wait for the trials out there, or the phase is
     * complete (a group can only be open while one of its trials runs) */
    return busy ? HALVING_WAIT : HALVING_END;
}

void halving_done(Halving *h, int idx, double metric) {
    if (idx < 0 || idx >= h->n_plan || h->grp_of[idx] < 0) return;
    Group *g = &h->g[h->grp_of[idx]];
    int slot = h->slot_of[idx], u = h->unit_of[idx];
    if (u < 0) {
        g->fstate[slot * g->n_follow + (-1 - u)] = U_DONE;
    } else {
        int ku = slot * g->n_units + u;
        if (g->ustate[ku] != U_ISSUED) return;
        g->metric[ku] = isnan(metric) ? INFINITY : metric;
        g->ustate[ku] = U_DONE;
    }
    advance(h, g);
}

/* ---- what it has decided ---- */

static int row_cmp(const void *a, const void *b) {
    const RungRow *x = a, *y = b;
    int k[5][2] = {{x->family, y->family}, {x->bracket, y->bracket}, {x->repeat, y->repeat}, {x->outer, y->outer},
                   {x->rung, y->rung}};
    for (int i = 0; i < 5; i++)
        if (k[i][0] != k[i][1]) return k[i][0] < k[i][1] ? -1 : 1;
    double sx = isnan(x->score) ? INFINITY : x->score, sy = isnan(y->score) ? INFINITY : y->score;
    if (sx != sy) return sx < sy ? -1 : 1;
    return x->config - y->config;
}

int halving_table(const Halving *h, RungRow **rows) {
    int n = h->n_rows, cap = h->n_rows;
    for (int k = 0; k < h->n_groups; k++) cap += h->g[k].n_cfg;
    RungRow *out = malloc(sizeof(RungRow) * (cap + 1));
    if (h->n_rows) memcpy(out, h->rows, sizeof(RungRow) * h->n_rows);
    for (int k = 0; k < h->n_groups; k++) { /* the rung under way */
        const Group *g = &h->g[k];
        if (g->rung > g->top) continue;
        for (int c = 0; c < g->n_cfg; c++) {
            if (!g->alive[c]) continue;
            int done = 0;
            double s = 0;
            for (int u = 0; u < g->n_units; u++)
                if (g->ustate[c * g->n_units + u] == U_DONE) done++, s += g->metric[c * g->n_units + u];
            out[n++] = (RungRow){g->family, g->cfg[c], g->bracket, g->repeat, g->outer, g->rung,
                                 rung_epochs(h->job, h->s_max, g->rung), done, done ? s / done : NAN, RUNG_OPEN};
        }
    }
    qsort(out, n, sizeof(RungRow), row_cmp); /* the same table whatever order decisions came in */
    *rows = out;
    return n;
}

void halving_trial_states(const Halving *h, int *budget, int *pruned) {
    for (int i = 0; i < h->n_plan; i++) {
        if (h->grp_of[i] < 0) continue;
        const Group *g = &h->g[h->grp_of[i]];
        int c = h->slot_of[i];
        int out = !g->alive[c] && !g->top_reached[c];
        int b = h->budget[i];
        budget[i] = b > 0 && b >= h->job->max_epochs ? 0 : b;
        pruned[i] = out; /* nested outer trials too: never run for such a configuration */
    }
}

/* ---- the plan, before anything runs ---- */

void halving_expected(const Job *job, const Trial *plan, const int *phase, int n_phase, double *grid_epochs,
                      double *halving_epochs, int *runs) {
    double grid = 0;
    for (int i = 0; i < n_phase; i++) grid += job->families[plan[phase[i]].family].configs[plan[phase[i]].config].epochs;
    *grid_epochs = grid;
    *halving_epochs = grid;
    *runs = n_phase;
    int n_plan = 0;
    for (int i = 0; i < n_phase; i++) n_plan = phase[i] + 1 > n_plan ? phase[i] + 1 : n_plan;
    ErrBuf e = {{0}};
    Halving *h = halving_create(job, plan, n_plan, phase, n_phase, NULL, NULL, &e);
    if (!h) return;
    double sum = 0;
    int items = 0;
    for (int k = 0; k < h->n_groups; k++) {
        const Group *g = &h->g[k];
        int n = g->n_cfg, prev = 0;
        for (int r = g->first; r <= g->top; r++) {
            int b = rung_epochs(job, h->s_max, r);
            if (b == 0) { /* grid with pruning: each configuration to its own epochs */
                for (int c = 0; c < g->n_cfg; c++) sum += (double)g->n_units * job->families[g->family].configs[g->cfg[c]].epochs;
            } else {
                sum += (double)n * g->n_units * (b - prev);
            }
            prev = b;
            items += n * g->n_units;
            if (r < g->top) n = n / job->eta < 1 ? 1 : n / job->eta;
        }
        items += n * g->n_follow;
        for (int c = 0; c < n && g->n_follow; c++) sum += (double)g->n_follow * job->families[g->family].configs[g->cfg[c]].epochs;
    }
    *halving_epochs = sum;
    *runs = items;
    halving_free(h);
}

void halving_print_plan(const Job *job, const Trial *plan, const int *phase, int n_phase) {
    int n_plan = 0;
    for (int i = 0; i < n_phase; i++) n_plan = phase[i] + 1 > n_plan ? phase[i] + 1 : n_plan;
    ErrBuf e = {{0}};
    Halving *h = halving_create(job, plan, n_plan, phase, n_phase, NULL, NULL, &e);
    if (!h) {
        printf("search: %s\n", e.msg);
        return;
    }
    printf("search %s, metric %s, prune %s", search_mode_names[job->search], search_metric_names[job->metric],
           search_prune_names[job->prune]);
    if (staged(job)) printf(", eta %d, rungs of", job->eta);
    for (int r = 0; staged(job) && r <= h->s_max; r++) printf(" %d", rung_epochs(job, h->s_max, r));
    if (staged(job)) printf(" epochs");
    printf("\n");
    for (int k = 0; k < h->n_groups; k++) {
        const Group *g = &h->g[k];
        if (g->outer >= 0 && (k > 0 && h->g[k - 1].family == g->family && h->g[k - 1].bracket == g->bracket)) continue;
        printf("  %-10s bracket %d: %d configuration(s) x %d unit(s)%s:", job->families[g->family].name, g->bracket,
               g->n_cfg, g->n_units, g->outer >= 0 ? " per outer fold" : "");
        int n = g->n_cfg;
        for (int r = g->first; r <= g->top; r++) {
            int b = rung_epochs(job, h->s_max, r);
            if (b) printf(" rung %d %d cfg to %d ep;", r, n, b);
            else printf(" %d cfg to their epochs;", n);
            if (r < g->top) n = n / job->eta < 1 ? 1 : n / job->eta;
        }
        if (g->n_follow) printf(" then %d outer trial(s) per configuration left", g->n_follow);
        printf("\n");
    }
    double grid, hv;
    int runs;
    halving_expected(job, plan, phase, n_phase, &grid, &hv, &runs);
    printf("  epochs: at most %.0f in %d trial runs (no early stopping, no pruning) against %.0f for the full grid "
           "(%.0f%%)\n", hv, runs, grid, grid > 0 ? 100.0 * hv / grid : 0.0);
    halving_free(h);
}
