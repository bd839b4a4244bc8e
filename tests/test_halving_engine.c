/* test_halving_engine.c: the successive halving / Hyperband / pruning engine
 * (halving.h) alone: no MPI, no training. Jobs are written to $TEST_TMP and
 * read with job_load and job_expand; each plan trial gets a simulated
 * validation-loss history (seeded, coarse values so that ties are common,
 * some trials failing from a given epoch on: +inf), and the engine is driven
 * through halving_next / halving_done as a scheduler would.
 *
 * Run bare (tests/run.sh), it checks on its own:
 * - hand-computed cases: promotion by score, ties by configuration hash (the
 *   hash of its first plan trial, in every nested outer fold alike),
 *   median and Wilcoxon pruning decisions, the epochs of --dry-run;
 * - exact signed-rank p-values of a few small tables worked out by hand;
 * - for halving, hyperband, prune = median | wilcoxon, grid with a prune,
 *   k-fold and nested: every configuration ends in exactly one final state per
 *   selection group, promoted on consecutive rungs before it; a group's top
 *   rung has at least one configuration; each rung promotes
 *   max(1, floor(entered / eta)) (fewer only when pruning left fewer);
 *   nothing is handed out twice at one budget and budgets only grow;
 * - the rung table and the per-trial budgets and pruned flags are the same
 *   whatever order the results come back in (issue order, reversed,
 *   shuffled, a pool of workers answering at random), and after an
 *   interruption and a resume through lookup(), which is then never asked to
 *   run what it already holds.
 *
 * With arguments, for tests/test_halving.py (which compares with the
 * independent tests/halving_ref.py):
 *   test_halving_engine dump JOB SEED LEVELS P_FAIL
 *       runs the engine on JOB's plan with simulated histories (loss values
 *       k/4, k in 1..LEVELS; a trial fails with probability P_FAIL from a
 *       random epoch on) and prints the plan ("plan" lines), the histories
 *       ("hist"), the rung table ("row"), the trial states ("trial"),
 *       halving_expected ("expected") and halving_print_plan's text; the same
 *       order and resume checks run first (FAIL lines, exit 1).
 *   test_halving_engine wilcoxon < TABLE
 *       one p-value (%.17g) of halving_wilcoxon_greater per input line
 *       "n d1 ... dn". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/sweep/halving.h"
#include "hipid/sweep/job.h"
#include "testutil.h"

/* ---- a job and its simulated trials ---- */

typedef struct {
    Job job;
    Trial *plan;
    int n, *all;
    int max_e;     /* longest own epochs of any trial */
    float *loss;   /* (n * max_e) validation loss per epoch */
    int *fail_at;  /* 0: never fails; else its metric is +inf at budgets >= fail_at */
    int *disk;     /* epochs each trial's file holds (-1: none), for lookup() */
    int use_disk;  /* lookup() answers from disk */
    int n_lookup_hits;
} World;

static int own_epochs(const World *w, int i) {
    return w->job.families[w->plan[i].family].configs[w->plan[i].config].epochs;
}

static int world_load(World *w, const char *path) {
    memset(w, 0, sizeof *w);
    ErrBuf e = {{0}};
    if (job_load(&w->job, path, &e) != HIPID_OK) {
        printf("FAIL job_load %s: %s\n", path, e.msg);
        return 0;
    }
    if (job_expand(&w->plan, &w->n, &w->job, 0, &e) != HIPID_OK) {
        printf("FAIL job_expand %s: %s\n", path, e.msg);
        job_free(&w->job);
        return 0;
    }
    w->all = malloc(sizeof(int) * (w->n + 1));
    for (int i = 0; i < w->n; i++) w->all[i] = i, w->max_e = own_epochs(w, i) > w->max_e ? own_epochs(w, i) : w->max_e;
    w->loss = calloc((size_t)w->n * w->max_e + 1, sizeof(float));
    w->fail_at = calloc(w->n + 1, sizeof(int));
    w->disk = malloc(sizeof(int) * (w->n + 1));
    for (int i = 0; i < w->n; i++) w->disk[i] = -1;
    return 1;
}

static void world_free(World *w) {
    free(w->plan);
    free(w->all);
    free(w->loss);
    free(w->fail_at);
    free(w->disk);
    job_free(&w->job);
}

/* Random histories: losses k/4 (k in 1..levels, so ties are common) and,
 * with probability p_fail, a failure from a random epoch on. */
static void world_randomize(World *w, uint64_t seed, int levels, double p_fail) {
    for (int i = 0; i < w->n; i++) {
        Rng r = rng_stream(seed, 0x4a1f, (uint64_t)i, 0);
        for (int e = 0; e < w->max_e; e++) w->loss[(size_t)i * w->max_e + e] = (float)(1 + rng_below(&r, levels)) / 4.0f;
        w->fail_at[i] = rng_uniform(&r) < p_fail ? 1 + (int)rng_below(&r, w->max_e) : 0;
    }
}

/* Every epoch of trial i at one value. */
static void world_const(World *w, int i, float v) {
    for (int e = 0; e < w->max_e; e++) w->loss[(size_t)i * w->max_e + e] = v;
    w->fail_at[i] = 0;
}

/* The metric at a budget (0: the trial's own epochs): the lowest loss over
 * the first epochs, +inf once the trial has failed. */
static double world_metric(const World *w, int i, int budget) {
    int E = budget > 0 ? budget : own_epochs(w, i);
    if (w->fail_at[i] && E >= w->fail_at[i]) return INFINITY;
    double best = INFINITY;
    for (int e = 0; e < E && e < w->max_e; e++) best = fmin(best, w->loss[(size_t)i * w->max_e + e]);
    return best;
}

static int world_lookup(void *ctx, int idx, int epochs, double *metric) {
    World *w = ctx;
    if (!w->use_disk || w->disk[idx] < 0) return 0;
    int E = epochs > 0 ? epochs : own_epochs(w, idx);
    if (w->disk[idx] < E) return 0;
    *metric = world_metric(w, idx, epochs);
    w->n_lookup_hits++;
    return 1;
}

/* ---- driving the engine ---- */

enum { ORDER_FIFO, ORDER_LIFO, ORDER_SHUFFLE, ORDER_POOL };
static const char *const order_names[] = {"issue order", "reversed", "shuffled", "a pool of 3 workers"};

typedef struct {
    RungRow *rows;
    int n_rows;
    int *budget, *pruned; /* (n) halving_trial_states */
    int ok;               /* the run reached HALVING_END */
} Outcome;

static void outcome_free(Outcome *o) {
    free(o->rows);
    free(o->budget);
    free(o->pruned);
    memset(o, 0, sizeof *o);
}

static int row_cmp(const void *a, const void *b) {
    const RungRow *x = a, *y = b;
    int kx[7] = {x->family, x->bracket, x->repeat, x->outer, x->rung, x->config, x->state};
    int ky[7] = {y->family, y->bracket, y->repeat, y->outer, y->rung, y->config, y->state};
    for (int k = 0; k < 7; k++)
        if (kx[k] != ky[k]) return kx[k] < ky[k] ? -1 : 1;
    return 0;
}

/* Drive h to the end, or to stop_after results (0: no limit). Results go
 * back in the given order; what is reported is written to w->disk. */
static int drive(World *w, Halving *h, int order, uint64_t seed, int stop_after, const char *what) {
    int *pi = malloc(sizeof(int) * (w->n + 1)), *pb = malloc(sizeof(int) * (w->n + 1)), np = 0;
    char *seen = calloc((size_t)w->n * (w->max_e + 1) + 1, 1); /* (trial, budget) handed out */
    int *last_b = malloc(sizeof(int) * (w->n + 1));
    for (int i = 0; i < w->n; i++) last_b[i] = -1;
    Rng r = rng_stream(seed, 0x0de5, (uint64_t)order, 0);
    int reports = 0, ended = 0, bad = 0;
    for (;;) {
        int rc = 0, idx = -1, b = -1;
        while ((order != ORDER_POOL || np < 3) && (rc = halving_next(h, &idx, &b)) == 0) {
            if (idx < 0 || idx >= w->n || b < 0 || b > w->max_e) {
                EXPECT(0, "%s: halving_next gave trial %d budget %d", what, idx, b);
                bad = 1;
                break;
            }
            for (int k = 0; k < np; k++)
                if (pi[k] == idx) {
                    EXPECT(0, "%s: trial %d handed out again while it runs", what, idx);
                    bad = 1;
                }
            int eb = b > 0 ? b : own_epochs(w, idx);
            if (seen[(size_t)idx * (w->max_e + 1) + eb]) {
                EXPECT(0, "%s: trial %d handed out twice at %d epochs", what, idx, eb);
                bad = 1;
            }
            seen[(size_t)idx * (w->max_e + 1) + eb] = 1;
            if (w->use_disk && w->disk[idx] >= eb) {
                EXPECT(0, "%s: trial %d handed out at %d epochs though its file holds %d", what, idx, eb, w->disk[idx]);
                bad = 1;
            }
            if (eb < last_b[idx]) {
                EXPECT(0, "%s: trial %d handed out at %d epochs after %d", what, idx, eb, last_b[idx]);
                bad = 1;
            }
            last_b[idx] = eb;
            pi[np] = idx, pb[np++] = b;
        }
        if (bad) break;
        if (np == 0) {
            EXPECT(rc == HALVING_END, "%s: nothing running, yet halving_next says %d (not HALVING_END)", what, rc);
            ended = rc == HALVING_END;
            break;
        }
        if (rc == HALVING_END) {
            EXPECT(0, "%s: HALVING_END while %d trial(s) run", what, np);
            break;
        }
        /* report one (pool) or all of them (batch orders) */
        int n_rep = order == ORDER_POOL ? 1 : np;
        if (order == ORDER_SHUFFLE)
            for (int k = np - 1; k > 0; k--) {
                int j = (int)rng_below(&r, (uint32_t)(k + 1)), t = pi[k], u = pb[k];
                pi[k] = pi[j], pb[k] = pb[j], pi[j] = t, pb[j] = u;
            }
        if (order == ORDER_LIFO)
            for (int k = 0; k < np / 2; k++) {
                int t = pi[k], u = pb[k];
                pi[k] = pi[np - 1 - k], pb[k] = pb[np - 1 - k], pi[np - 1 - k] = t, pb[np - 1 - k] = u;
            }
        for (int k = 0; k < n_rep && !(stop_after && reports >= stop_after); k++) {
            int at = order == ORDER_POOL ? (int)rng_below(&r, (uint32_t)np) : 0;
            int idx2 = pi[at], b2 = pb[at];
            memmove(pi + at, pi + at + 1, sizeof(int) * (np - at - 1));
            memmove(pb + at, pb + at + 1, sizeof(int) * (np - at - 1));
            np--;
            halving_done(h, idx2, world_metric(w, idx2, b2));
            w->disk[idx2] = b2 > 0 ? b2 : own_epochs(w, idx2);
            reports++;
        }
        if (stop_after && reports >= stop_after) break;
    }
    free(pi);
    free(pb);
    free(seen);
    free(last_b);
    return ended;
}

static Halving *engine(World *w, HalvingLookup lookup) {
    ErrBuf e = {{0}};
    Halving *h = halving_create(&w->job, w->plan, w->n, w->all, w->n, lookup, w, &e);
    EXPECT(h != NULL, "halving_create: %s", e.msg);
    return h;
}

static void take_outcome(Outcome *o, const World *w, const Halving *h, int ended) {
    o->n_rows = halving_table(h, &o->rows);
    qsort(o->rows, o->n_rows, sizeof(RungRow), row_cmp);
    o->budget = malloc(sizeof(int) * (w->n + 1));
    o->pruned = malloc(sizeof(int) * (w->n + 1));
    for (int i = 0; i < w->n; i++) o->budget[i] = -7, o->pruned[i] = -7;
    halving_trial_states(h, o->budget, o->pruned);
    o->ok = ended;
}

/* One full run in the given order (disk cleared, no lookup). */
static void run_order(Outcome *o, World *w, int order, uint64_t seed) {
    for (int i = 0; i < w->n; i++) w->disk[i] = -1;
    w->use_disk = 0;
    Halving *h = engine(w, world_lookup);
    if (!h) return;
    take_outcome(o, w, h, drive(w, h, order, seed, 0, order_names[order]));
    halving_free(h);
}

/* Interrupted after stop_after results, then resumed by a new engine that
 * finds them through lookup(). */
static void run_resumed(Outcome *o, World *w, uint64_t seed, int stop_after) {
    for (int i = 0; i < w->n; i++) w->disk[i] = -1;
    w->use_disk = 0;
    Halving *h = engine(w, world_lookup);
    if (!h) return;
    drive(w, h, ORDER_POOL, seed, stop_after, "before the interruption");
    halving_free(h);
    w->use_disk = 1;
    w->n_lookup_hits = 0;
    h = engine(w, world_lookup);
    if (!h) return;
    take_outcome(o, w, h, drive(w, h, ORDER_POOL, seed + 1, 0, "resumed"));
    halving_free(h);
    w->use_disk = 0;
}

static int same_outcome(const Outcome *a, const Outcome *b, const World *w, char *why, size_t cap) {
    if (a->n_rows != b->n_rows) return snprintf(why, cap, "%d rows against %d", b->n_rows, a->n_rows), 0;
    for (int k = 0; k < a->n_rows; k++) {
        const RungRow *x = &a->rows[k], *y = &b->rows[k];
        if (row_cmp(x, y) || x->epochs != y->epochs || x->n_units != y->n_units ||
            memcmp(&x->score, &y->score, sizeof(double)))
            return snprintf(why, cap, "row %d: config %d rung %d %s score %.17g against config %d rung %d %s score %.17g",
                            k, y->config, y->rung, rung_state_names[y->state], y->score, x->config, x->rung,
                            rung_state_names[x->state], x->score), 0;
    }
    for (int i = 0; i < w->n; i++)
        if (a->budget[i] != b->budget[i] || a->pruned[i] != b->pruned[i])
            return snprintf(why, cap, "trial %d: budget %d pruned %d against %d %d", i, b->budget[i], b->pruned[i],
                            a->budget[i], a->pruned[i]), 0;
    return 1;
}

/* ---- what every finished table must satisfy ---- */

static void check_structure(const World *w, const Outcome *o, const char *what) {
    const Job *j = &w->job;
    int staged = j->search >= SEARCH_HALVING;
    EXPECT(o->ok, "%s: the run did not reach HALVING_END", what);
    /* s_max from the rows: the largest rung seen */
    for (int k = 0; k < o->n_rows; k++)
        EXPECT(o->rows[k].state != RUNG_OPEN, "%s: an open row after the end (config %d rung %d)", what,
               o->rows[k].config, o->rows[k].rung);
    int top = 0;
    for (int k = 0; k < o->n_rows; k++) top = o->rows[k].rung > top ? o->rows[k].rung : top;
    if (!staged) EXPECT(top == 0, "%s: grid with a prune has one rung, found rung %d", what, top);
    /* per group (rows are sorted family, bracket, repeat, outer, rung, config) */
    for (int k = 0; k < o->n_rows;) {
        int end = k;
        const RungRow *g = &o->rows[k];
        while (end < o->n_rows && o->rows[end].family == g->family && o->rows[end].bracket == g->bracket &&
               o->rows[end].repeat == g->repeat && o->rows[end].outer == g->outer)
            end++;
        int first = g->rung, n_cfg = 0, n_top = 0;
        const Family *fa = &j->families[g->family];
        int *final = calloc(fa->n_configs, sizeof(int)), *last_rung = malloc(sizeof(int) * fa->n_configs);
        for (int c = 0; c < fa->n_configs; c++) last_rung[c] = first - 1;
        for (int r = first; r <= top; r++) {
            int entered = 0, promoted = 0, kept_alive = 0;
            for (int q = k; q < end; q++) {
                const RungRow *x = &o->rows[q];
                if (x->rung != r) continue;
                entered++;
                promoted += x->state == RUNG_PROMOTED;
                kept_alive += x->state != RUNG_PRUNED;
                EXPECT(!final[x->config], "%s: config %d has a row at rung %d after its final state", what, x->config, r);
                EXPECT(last_rung[x->config] == r - 1, "%s: config %d at rung %d was not promoted at rung %d", what,
                       x->config, r, r - 1);
                last_rung[x->config] = r;
                if (x->state != RUNG_PROMOTED) final[x->config] = 1 + x->state;
                if (x->state == RUNG_TOP) n_top++;
                EXPECT(x->state != RUNG_TOP || r == top, "%s: config %d top at rung %d of %d", what, x->config, r, top);
                EXPECT(x->state != RUNG_PROMOTED || r < top, "%s: config %d promoted at the last rung", what,
                       x->config);
                if (r == first) n_cfg++;
            }
            if (entered == 0) continue;
            if (r < top) {
                int want = entered / j->eta > 1 ? entered / j->eta : 1;
                if (want > kept_alive) want = kept_alive;
                EXPECT(promoted == want, "%s: group (family %d bracket %d outer %d) rung %d: %d of %d promoted "
                       "(%d after pruning), expected %d", what, g->family, g->bracket, g->outer, r, promoted, entered,
                       kept_alive, want);
                if (j->prune == SEARCH_PRUNE_NONE)
                    EXPECT(promoted == (entered / j->eta > 1 ? entered / j->eta : 1),
                           "%s: rung %d promoted %d of %d without pruning", what, r, promoted, entered);
            }
        }
        int n_final = 0;
        for (int c = 0; c < fa->n_configs; c++) n_final += final[c] != 0;
        EXPECT(n_final == n_cfg, "%s: group (family %d bracket %d outer %d): %d configurations, %d with a final state",
               what, g->family, g->bracket, g->outer, n_cfg, n_final);
        EXPECT(n_top >= 1, "%s: group (family %d bracket %d outer %d): no configuration at the top rung", what,
               g->family, g->bracket, g->outer);
        free(final);
        free(last_rung);
        k = end;
    }
    /* the trial states: a unit's pruned flag says whether its configuration
     * ended below the top, in its group */
    for (int i = 0; i < w->n; i++) {
        const Trial *t = &w->plan[i];
        int outer_trial = j->scheme == CV_NESTED && t->inner < 0, is_top = 0, any = 0;
        for (int k = 0; k < o->n_rows; k++) {
            const RungRow *x = &o->rows[k];
            if (x->family != t->family || x->config != t->config) continue;
            if (j->scheme == CV_NESTED && (x->repeat != t->repeat || x->outer != t->outer)) continue;
            any = 1;
            is_top |= x->state == RUNG_TOP;
        }
        EXPECT(any, "%s: trial %d belongs to no group's rows", what, i);
        if (outer_trial) {
            EXPECT(o->pruned[i] == !is_top && o->budget[i] == (is_top ? 0 : -1),
                   "%s: outer trial %d: budget %d pruned %d (its configuration %s the top)", what, i, o->budget[i],
                   o->pruned[i], is_top ? "reached" : "did not reach");
        } else {
            EXPECT(o->pruned[i] == !is_top, "%s: trial %d: pruned %d, its configuration %s the top", what, i,
                   o->pruned[i], is_top ? "reached" : "did not reach");
            EXPECT(!is_top || o->budget[i] == 0, "%s: trial %d of a top configuration: budget %d, expected 0 (to its end)",
                   what, i, o->budget[i]);
        }
    }
}

/* Every order, and an interruption at several points, against issue order. */
static void check_orders(World *w, uint64_t seed, const char *what, Outcome *ref_out) {
    char label[256], why[512];
    Outcome ref = {0};
    run_order(&ref, w, ORDER_FIFO, seed);
    snprintf(label, sizeof label, "%s, %s", what, order_names[ORDER_FIFO]);
    check_structure(w, &ref, label);
    for (int order = ORDER_LIFO; order <= ORDER_POOL; order++) {
        Outcome o = {0};
        run_order(&o, w, order, seed);
        EXPECT(same_outcome(&ref, &o, w, why, sizeof why), "%s: results in %s change the outcome: %s", what,
               order_names[order], why);
        outcome_free(&o);
    }
    int total = 0; /* results of a whole run: interrupt at a quarter, half and all but one */
    for (int i = 0; i < w->n; i++) total += ref.budget[i] != -1;
    for (int part = 1; part <= 3; part++) {
        int stop = part == 3 ? (total > 1 ? total - 1 : 1) : total * part / 4 + 1;
        Outcome o = {0};
        run_resumed(&o, w, seed + 17 * part, stop);
        EXPECT(o.ok && same_outcome(&ref, &o, w, why, sizeof why),
               "%s: interrupted after %d results and resumed through lookup(): %s", what, stop, o.ok ? why : "no end");
        EXPECT(part < 2 || w->n_lookup_hits > 0, "%s: the resumed engine found nothing on disk", what);
        outcome_free(&o);
    }
    if (ref_out) *ref_out = ref;
    else outcome_free(&ref);
}

/* ---- hand-computed cases ---- */

#define HEAD                                                                                                          \
    "[job]\nname = hv\nseeds = 1\n[data]\npath = none.h5\nsynth = classes=3,per_class=24,size=32,seed=3\n"

/* plan index of (config c, unit u) when every configuration has n_u trials in plan order */
static int trial_of(const World *w, int c, int u) {
    int k = 0;
    for (int i = 0; i < w->n; i++)
        if (w->plan[i].config == c && k++ == u) return i;
    return -1;
}

static uint64_t cfg_hash(const World *w, int c) { return w->plan[trial_of(w, c, 0)].hash; }

static const RungRow *find_row(const Outcome *o, int c, int rung) {
    for (int k = 0; k < o->n_rows; k++)
        if (o->rows[k].config == c && o->rows[k].rung == rung) return &o->rows[k];
    return NULL;
}

static int state_at(const Outcome *o, int c, int rung) {
    const RungRow *x = find_row(o, c, rung);
    return x ? x->state : -1;
}

static void hand_cases(void) {
    /* 1. nine configurations, two units, eta 3, rungs 1 3 9: the best three
     *    then the best one go on; a configuration's metric is config + 1. */
    World w;
    const char *path = tu_write_text("hv_hand1.ini", HEAD "[cv]\nscheme = kfold\nk = 2\nval_fraction = 0.2\n"
                                 "[search]\nmode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3\n"
                                 "[family f]\nmodel = fl,fc3\nlr = 1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 7e-4, 8e-4, 9e-4\n");
    REQUIRE(world_load(&w, path), "hand case 1 loads");
    REQUIRE(w.n == 18, "hand case 1: 18 trials, found %d", w.n);
    for (int i = 0; i < w.n; i++) world_const(&w, i, (float)(w.plan[i].config + 1));
    Outcome o = {0};
    check_orders(&w, 1, "hand 1", &o);
    for (int c = 0; c < 9; c++) {
        EXPECT(state_at(&o, c, 0) == (c < 3 ? RUNG_PROMOTED : RUNG_STOPPED), "hand 1: config %d at rung 0: %d", c,
               state_at(&o, c, 0));
        if (c < 3)
            EXPECT(state_at(&o, c, 1) == (c == 0 ? RUNG_PROMOTED : RUNG_STOPPED), "hand 1: config %d at rung 1: %d", c,
                   state_at(&o, c, 1));
    }
    EXPECT(state_at(&o, 0, 2) == RUNG_TOP && o.n_rows == 9 + 3 + 1, "hand 1: config 0 alone at the top (%d rows)",
           o.n_rows);
    const RungRow *x = find_row(&o, 4, 0);
    EXPECT(x && x->epochs == 1 && x->n_units == 2 && x->score == 5.0, "hand 1: config 4's row: rung 0, 1 epoch, 2 units, score 5");
    x = find_row(&o, 0, 1);
    EXPECT(x && x->epochs == 3, "hand 1: rung 1 trains to 3 epochs");
    for (int i = 0; i < w.n; i++) {
        int c = w.plan[i].config, want = c == 0 ? 0 : c < 3 ? 3 : 1;
        EXPECT(o.budget[i] == want && o.pruned[i] == (c != 0), "hand 1: trial %d (config %d): budget %d pruned %d, expected %d %d",
               i, c, o.budget[i], o.pruned[i], want, c != 0);
    }
    double grid, most;
    int runs;
    halving_expected(&w.job, w.plan, w.all, w.n, &grid, &most, &runs);
    /* 9 x 2 x 1 + 3 x 2 x (3 - 1) + 1 x 2 x (9 - 3) = 42 epochs in 18 + 6 + 2 runs; grid 18 x 9 */
    EXPECT(grid == 162 && most == 42 && runs == 26, "hand 1: expected epochs %g of %g in %d runs, expected 42 of 162 in 26",
           most, grid, runs);
    outcome_free(&o);

    /* 2. the same plan, every metric equal: the configurations with the
     *    smallest hashes (of their first trial) go on */
    for (int i = 0; i < w.n; i++) world_const(&w, i, 0.5f);
    int by_hash[9];
    for (int c = 0; c < 9; c++) by_hash[c] = c;
    for (int a = 0; a < 9; a++)
        for (int b = a + 1; b < 9; b++)
            if (cfg_hash(&w, by_hash[b]) < cfg_hash(&w, by_hash[a])) {
                int t = by_hash[a];
                by_hash[a] = by_hash[b], by_hash[b] = t;
            }
    check_orders(&w, 2, "hand 2 (ties)", &o);
    for (int k = 0; k < 9; k++)
        EXPECT(state_at(&o, by_hash[k], 0) == (k < 3 ? RUNG_PROMOTED : RUNG_STOPPED),
               "hand 2: ties: config %d (hash rank %d) at rung 0: %d", by_hash[k], k, state_at(&o, by_hash[k], 0));
    EXPECT(state_at(&o, by_hash[0], 2) == RUNG_TOP, "hand 2: ties: the smallest hash reaches the top");
    /* a failed trial ranks last: the best-hash configuration fails a unit */
    w.fail_at[trial_of(&w, by_hash[0], 1)] = 1;
    outcome_free(&o);
    check_orders(&w, 3, "hand 2 (a failure)", &o);
    x = find_row(&o, by_hash[0], 0);
    EXPECT(x && x->state == RUNG_STOPPED && isinf(x->score), "hand 2: a configuration with a failed unit scores +inf and stops");
    EXPECT(state_at(&o, by_hash[3], 0) == RUNG_PROMOTED, "hand 2: the fourth hash goes on in its place");
    outcome_free(&o);
    world_free(&w);

    /* 3. median pruning: four configurations, four units, a first wave of
     *    two; rungs 1 2 (eta 2). First-wave scores 1 2 3 4: the median is
     *    2.5, configs 2 and 3 are pruned; 0 and 1 are promoted (keep 2);
     *    at rung 1 the median of 1 and 2 is 1.5: config 1 pruned. */
    path = tu_write_text("hv_hand3.ini", HEAD "[cv]\nscheme = kfold\nk = 4\nval_fraction = 0.2\n"
                     "[search]\nmode = halving\nmin_epochs = 1\nmax_epochs = 2\neta = 2\nprune = median\nprune_after = 2\n"
                     "[family f]\nmodel = fl,fc3\nlr = 1e-4, 2e-4, 3e-4, 4e-4\n");
    REQUIRE(world_load(&w, path), "hand case 3 loads");
    for (int i = 0; i < w.n; i++) world_const(&w, i, (float)(w.plan[i].config + 1));
    check_orders(&w, 4, "hand 3 (median)", &o);
    EXPECT(state_at(&o, 2, 0) == RUNG_PRUNED && state_at(&o, 3, 0) == RUNG_PRUNED, "hand 3: configs 2, 3 pruned at rung 0");
    x = find_row(&o, 3, 0);
    EXPECT(x && x->n_units == 2 && x->score == 4.0, "hand 3: a pruned row counts its first wave (2 units, score 4)");
    EXPECT(state_at(&o, 0, 0) == RUNG_PROMOTED && state_at(&o, 1, 0) == RUNG_PROMOTED, "hand 3: configs 0, 1 promoted");
    EXPECT(state_at(&o, 1, 1) == RUNG_PRUNED && state_at(&o, 0, 1) == RUNG_TOP, "hand 3: rung 1: config 1 pruned, 0 top");
    /* budgets: config 0 to its end (0); config 1's first wave ran rung 1 to
     * max_epochs (0), its other units rung 0 (1); configs 2, 3 pruned at rung
     * 0: units 0, 1 at 1 epoch, units 2, 3 never (-1) */
    for (int c = 0; c < 4; c++)
        for (int u = 0; u < 4; u++) {
            int i = trial_of(&w, c, u), want = c == 0 ? 0 : c == 1 ? (u < 2 ? 0 : 1) : (u < 2 ? 1 : -1);
            EXPECT(o.budget[i] == want, "hand 3: config %d unit %d: budget %d, expected %d", c, u, o.budget[i], want);
        }
    outcome_free(&o);
    world_free(&w);

    /* 3b. median pruning with the default first wave, ceil(3 / 2) = 2 units;
     *     rungs 9/8 9/4 9/2 9 round to 1 2 5 9. First-wave scores: config 0
     *     1, config 1 2 (the median: kept), config 2 (1.5 + 4.5) / 2 = 3:
     *     pruned. A first wave of one unit would prune config 1 instead. */
    path = tu_write_text("hv_hand3b.ini", HEAD "[cv]\nscheme = kfold\nk = 3\nval_fraction = 0.2\n"
                     "[search]\nmode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 2\nprune = median\n"
                     "[family f]\nmodel = fl,fc3\nlr = 1e-4, 2e-4, 3e-4\n");
    REQUIRE(world_load(&w, path), "hand case 3b loads");
    static const float v3b[3][3] = {{1, 1, 1}, {2, 2, 2}, {1.5f, 4.5f, 1}};
    for (int c = 0; c < 3; c++)
        for (int u = 0; u < 3; u++) world_const(&w, trial_of(&w, c, u), v3b[c][u]);
    check_orders(&w, 6, "hand 3b (median, default wave)", &o);
    x = find_row(&o, 2, 0);
    EXPECT(x && x->state == RUNG_PRUNED && x->n_units == 2 && x->score == 3.0,
           "hand 3b: config 2 pruned after a first wave of 2 units, score 3");
    x = find_row(&o, 1, 0);
    EXPECT(x && x->state == RUNG_STOPPED && x->n_units == 3, "hand 3b: config 1 at the median kept, then stopped (keep 1 of 3)");
    static const int e3b[4] = {1, 2, 5, 9};
    for (int r = 0; r < 4; r++) {
        x = find_row(&o, 0, r);
        EXPECT(x && x->epochs == e3b[r] && x->state == (r < 3 ? RUNG_PROMOTED : RUNG_TOP),
               "hand 3b: config 0 at rung %d: %d epochs, expected %d", r, x ? x->epochs : -1, e3b[r]);
    }
    EXPECT(o.budget[trial_of(&w, 1, 2)] == 1 && o.budget[trial_of(&w, 2, 2)] == -1,
           "hand 3b: config 1 ran its third unit, pruned config 2 did not");
    outcome_free(&o);
    world_free(&w);

    /* 4. Wilcoxon pruning, alpha 0.2, a first wave of 3 of 6 units, one rung
     *    (grid): config 1 is worse on all three (p = 1/8), pruned; config 2
     *    worse by 1 and 2, better by 2.5 (W+ = 3, p = 5/8), kept; config 3
     *    equal to the reference (no evidence, p = 1), kept. */
    path = tu_write_text("hv_hand4.ini", "[job]\nname = hv\nseeds = 1, 2\n[data]\npath = none.h5\n"
                     "[cv]\nscheme = kfold\nk = 3\nval_fraction = 0.2\n"
                     "[search]\nprune = wilcoxon\nprune_alpha = 0.2\nprune_after = 3\n"
                     "[family f]\nmodel = fl,fc3\nepochs = 2\nlr = 1e-4, 2e-4, 3e-4, 4e-4\n");
    REQUIRE(world_load(&w, path), "hand case 4 loads");
    REQUIRE(w.n == 24, "hand case 4: 24 trials, found %d", w.n);
    static const float base[3] = {1.0f, 2.0f, 3.0f}, c2[3] = {2.0f, 4.0f, 0.5f};
    for (int c = 0; c < 4; c++)
        for (int u = 0; u < 6; u++) {
            float v = u < 3 ? (c == 1 ? base[u] + 0.5f : c == 2 ? c2[u] : base[u]) : 1.0f;
            world_const(&w, trial_of(&w, c, u), v);
        }
    check_orders(&w, 5, "hand 4 (wilcoxon)", &o);
    EXPECT(state_at(&o, 1, 0) == RUNG_PRUNED, "hand 4: config 1 (worse on 3 of 3) pruned");
    EXPECT(state_at(&o, 2, 0) == RUNG_TOP && state_at(&o, 3, 0) == RUNG_TOP && state_at(&o, 0, 0) == RUNG_TOP,
           "hand 4: configs 0, 2, 3 kept to the end (the grid's one rung)");
    for (int u = 0; u < 6; u++)
        EXPECT(o.budget[trial_of(&w, 1, u)] == (u < 3 ? 0 : -1), "hand 4: pruned config 1 unit %d: budget %d", u,
               o.budget[trial_of(&w, 1, u)]);
    outcome_free(&o);
    world_free(&w);

    /* 5. nested, every metric equal: in every outer fold's group the ties go
     *    to the configurations with the smallest hash of their first plan
     *    trial (halving.h: "the plan hash of the configuration's first
     *    trial"), the same three in both outer folds */
    path = tu_write_text("hv_hand5.ini", HEAD "[cv]\nscheme = nested\nk = 2\ninner_k = 2\nval_fraction = 0.2\n"
                     "[search]\nmode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3\n"
                     "[family f]\nmodel = fl,fc3\nlr = 1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 7e-4, 8e-4, 9e-4\n");
    REQUIRE(world_load(&w, path), "hand case 5 loads");
    for (int i = 0; i < w.n; i++) world_const(&w, i, 0.5f);
    for (int c = 0; c < 9; c++) by_hash[c] = c;
    for (int a = 0; a < 9; a++)
        for (int b = a + 1; b < 9; b++)
            if (cfg_hash(&w, by_hash[b]) < cfg_hash(&w, by_hash[a])) {
                int t = by_hash[a];
                by_hash[a] = by_hash[b], by_hash[b] = t;
            }
    check_orders(&w, 7, "hand 5 (nested ties)", &o);
    for (int outer = 0; outer < 2; outer++)
        for (int k = 0; k < 9; k++) {
            int got = -1;
            for (int q = 0; q < o.n_rows; q++)
                if (o.rows[q].outer == outer && o.rows[q].config == by_hash[k] && o.rows[q].rung == 0)
                    got = o.rows[q].state;
            EXPECT(got == (k < 3 ? RUNG_PROMOTED : RUNG_STOPPED),
                   "hand 5: nested ties, outer fold %d: config %d (hash rank %d of its first trial) at rung 0: %s", outer,
                   by_hash[k], k, got >= 0 ? rung_state_names[got] : "no row");
        }
    outcome_free(&o);
    world_free(&w);
}

static void wilcoxon_cases(void) {
    static const struct {
        int n;
        double d[8], p;
    } T[] = {
        {3, {1, 2, 3}, 1.0 / 8},            /* all positive */
        {3, {-1, -2, -3}, 1.0},             /* all negative */
        {3, {1, -2, 3}, 3.0 / 8},           /* W+ = 4: {1,3} {1,2,3} {3}... sums >= 4: 3 of 8 */
        {3, {0, 1, 2}, 1.0 / 4},            /* the zero dropped: two positives */
        {3, {1, 1, -1}, 4.0 / 8},           /* ties: ranks 2 2 2, W+ = 4 of 6: 4 of 8 patterns */
        {4, {0, 0, 0, 0}, 1.0},             /* nothing nonzero */
        {2, {INFINITY, 1}, 1.0 / 4},        /* +inf is the largest difference */
        {5, {1, 2, 3, 4, 5}, 1.0 / 32},
        {5, {-1, 2, 3, 4, 5}, 2.0 / 32},    /* W+ = 14: patterns with sum >= 14: {2345}, {12345} */
    };
    for (size_t k = 0; k < sizeof T / sizeof T[0]; k++) {
        double p = halving_wilcoxon_greater(T[k].d, T[k].n);
        EXPECT(p == T[k].p, "wilcoxon case %zu: p %.17g, expected %.17g", k, p, T[k].p);
    }
}

/* ---- random plans in every mode ---- */

static const char *const MODES[] = {
    /* search section, cv section */
    "mode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3\n", "scheme = kfold\nk = 3\nval_fraction = 0.2\n",
    "mode = hyperband\nmin_epochs = 1\nmax_epochs = 9\neta = 3\n", "scheme = kfold\nk = 2\nval_fraction = 0.2\n",
    "mode = hyperband\nmin_epochs = 1\nmax_epochs = 16\neta = 2\nprune = median\n",
    "scheme = kfold\nk = 4\nval_fraction = 0.2\n",
    "mode = halving\nmin_epochs = 2\nmax_epochs = 8\neta = 2\nprune = wilcoxon\nprune_alpha = 0.3\n",
    "scheme = kfold\nk = 3\nval_fraction = 0.2\n",
    "mode = halving\nmin_epochs = 1\nmax_epochs = 9\neta = 3\nprune = median\nprune_after = 1\n",
    "scheme = nested\nk = 3\ninner_k = 2\nval_fraction = 0.2\n",
    "mode = hyperband\nmin_epochs = 1\nmax_epochs = 4\neta = 2\nmetric = val_acc\n",
    "scheme = nested\nk = 2\ninner_k = 3\nval_fraction = 0.2\n",
    "prune = wilcoxon\nprune_alpha = 0.3\n", "scheme = kfold\nk = 3\nval_fraction = 0.2\n",
    "prune = median\n", "scheme = nested\nk = 2\ninner_k = 3\nval_fraction = 0.2\n",
};

static void random_cases(int reps) {
    int n_modes = (int)(sizeof MODES / sizeof MODES[0]) / 2;
    for (int m = 0; m < n_modes; m++) {
        for (int rep = 0; rep < reps; rep++) {
            char text[2048], name[64], what[128];
            int staged = strstr(MODES[2 * m], "halving") || strstr(MODES[2 * m], "hyperband");
            snprintf(text, sizeof text,
                     "[job]\nname = hv\nseeds = 1, 2\n[data]\npath = none.h5\n[cv]\n%s[search]\n%s"
                     "[family a]\nmodel = fl,fc3\nlr = 1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 7e-4%s\n%s"
                     "[family b]\nmodel = fl,fc8,r,fc3\nlr = 1e-3, 2e-3, 3e-3%s\n",
                     MODES[2 * m + 1], MODES[2 * m], rep % 2 ? ", 8e-4, 9e-4, 1e-3, 2e-2" : "",
                     staged ? "" : "epochs = 2, 3\n", staged ? "" : "\nepochs = 4");
            snprintf(name, sizeof name, "hv_rand%d.ini", m);
            World w;
            if (!world_load(&w, tu_write_text(name, text))) {
                EXPECT(0, "mode %d: job does not load", m);
                continue;
            }
            world_randomize(&w, 100 + (uint64_t)rep, 3 + rep % 3, rep % 2 ? 0.1 : 0.03);
            snprintf(what, sizeof what, "mode %d (%s%s) rep %d", m, staged ? "" : "grid, ", MODES[2 * m], rep);
            for (char *p = what; *p; p++)
                if (*p == '\n') *p = ' ';
            check_orders(&w, 1000 + (uint64_t)rep, what, NULL);
            world_free(&w);
        }
    }
}

/* ---- the modes for the Python side ---- */

static int dump(const char *path, uint64_t seed, int levels, double p_fail) {
    World w;
    if (!world_load(&w, path)) return 1;
    world_randomize(&w, seed, levels, p_fail);
    Outcome o = {0};
    check_orders(&w, seed, path, NULL);
    run_order(&o, &w, ORDER_POOL, seed);
    for (int i = 0; i < w.n; i++) {
        const Trial *t = &w.plan[i];
        printf("plan %d %s %d %d %d %d %llu %016llx %d\n", i, w.job.families[t->family].name, t->config, t->repeat,
               t->outer, t->inner, (unsigned long long)t->seed, (unsigned long long)t->hash, own_epochs(&w, i));
    }
    for (int i = 0; i < w.n; i++) {
        printf("hist %d %d", i, w.fail_at[i]);
        for (int e = 0; e < w.max_e; e++) printf(" %.9g", w.loss[(size_t)i * w.max_e + e]);
        printf("\n");
    }
    for (int k = 0; k < o.n_rows; k++) {
        const RungRow *x = &o.rows[k];
        printf("row %s %d %d %d %d %d %d %d %.17g %s\n", w.job.families[x->family].name, x->config, x->bracket,
               x->repeat, x->outer, x->rung, x->epochs, x->n_units, x->score, rung_state_names[x->state]);
    }
    for (int i = 0; i < w.n; i++) printf("trial %d %d %d\n", i, o.budget[i], o.pruned[i]);
    double grid, most;
    int runs;
    halving_expected(&w.job, w.plan, w.all, w.n, &grid, &most, &runs);
    printf("expected %.17g %.17g %d\n", grid, most, runs);
    fflush(stdout);
    halving_print_plan(&w.job, w.plan, w.all, w.n);
    outcome_free(&o);
    world_free(&w);
    return tu_exit_status();
}

static int wilcoxon_table(void) {
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        char *p = line, *end;
        long n = strtol(p, &end, 10);
        if (end == p || n < 0 || n > 200) continue;
        double *d = malloc(sizeof(double) * (n + 1));
        p = end;
        for (long k = 0; k < n; k++) {
            d[k] = strtod(p, &end);
            p = end;
        }
        printf("%.17g\n", halving_wilcoxon_greater(d, (int)n));
        free(d);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "wilcoxon") == 0) return wilcoxon_table();
    if (argc == 6 && strcmp(argv[1], "dump") == 0)
        return dump(argv[2], strtoull(argv[3], NULL, 10), atoi(argv[4]), atof(argv[5]));
    if (argc > 1) {
        fprintf(stderr, "usage: test_halving_engine [dump JOB SEED LEVELS P_FAIL | wilcoxon < TABLE]\n");
        return 2;
    }
    wilcoxon_cases();
    hand_cases();
    const char *san = getenv("SANITIZE");
    random_cases(san && strcmp(san, "1") == 0 ? 2 : 6);
    return tu_exit_status();
}
