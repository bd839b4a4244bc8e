/* sweep.c: `hipid sweep JOB`: a job file's trials over MPI rank groups.
 *
 * Rank 0 validates the job, the data and the output folder and broadcasts
 * each decision, so ranks leave together. Ranks are split into groups of a
 * family's ranks_per_trial (one phase per distinct value); world rank 0 is
 * the master and also the leader of group 0: between its own training steps
 * it answers the other leaders' requests for work (dynamic schedule, no idle
 * core for bookkeeping). A group trains its trial data-parallel (train.h:
 * fixed micro-batches, exact fixed-point sums), its leader writes the trial
 * file (trialfile.h) and mid-trial checkpoints. Rerunning the command skips
 * finished trials, resumes partial ones from their checkpoint and retries
 * failed ones up to [run] retries.
 *
 * SIGUSR1 / SIGTERM: every group finishes its step, checkpoints, the master
 * writes the index, and every rank exits with status 3 (rerun to resume).
 * Waiting ranks sleep between MPI tests instead of spinning, so a rank
 * waiting for work does not steal the core of one that trains. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hipid/sweep/estimate.h"
#include "hipid/base/h5util.h"
#include "hipid/sweep/job.h"
#include "hipid/data/prepset.h"
#include "hipid/data/split.h"
#include "hipid/data/synth.h"
#include "hipid/data/synth_set.h"
#include "hipid/train/train.h"
#include "hipid/nn/ops.h"
#include "hipid/sweep/trialfile.h"

/* The one mutable global: what a signal handler may touch. */
static volatile sig_atomic_t g_signal;

static void on_signal(int sig) { g_signal = sig; }

enum { TAG_REQ = 11, TAG_ASSIGN = 12, TAG_HALT = 13 };
enum { RUN_DONE = 0, RUN_FAILED = 1, RUN_STOPPED = 2, RUN_NONE = 3 };
enum { ASSIGN_END = -1, ASSIGN_HALT = -2 };
#define SWEEP_EXIT_INTERRUPTED 3

typedef struct {
    int rank, size;      /* world */
    MPI_Comm group;      /* this phase's group */
    int grank, gsize, group_id, n_groups;
} Comm;

typedef struct {
    Job job;
    Dataset d;
    int have_data;
    uint64_t checksum;
    Splits sp;              /* k-fold schemes */
    int8_t *hold;           /* holdout: (repeats, n) parts */
    Trial *plan;
    int n_plan;
    TrialSummary *sum;      /* (n_plan), rank 0's view */
    int *todo, n_todo;      /* plan indices this run trains, in plan order */
    char out[1024], trials[1100];
    Comm c;
    int threads, quiet, verbose, shard, n_shards;
    /* master */
    const int *queue;       /* this phase's trials (plan indices), handed out in order */
    int n_queue, next, halting, active, *running; /* running: plan index per group, -1 idle */
    int *leaders;           /* world rank of each group's leader */
    int n_finished, n_failed;
    double t0, busy;
    int stopped;            /* this rank saw a stop */
    double comm_seconds;    /* in group collectives during the current trial */
} Sweep;

/* ---- small MPI helpers ---- */

static void nap(void) {
    struct timespec ts = {0, 1000000}; /* 1 ms */
    nanosleep(&ts, NULL);
}

/* Wait for a request without spinning a core. */
static void wait_sleeping(MPI_Request *r) {
    int done = 0;
    for (int i = 0; i < 50 && !done; i++) MPI_Test(r, &done, MPI_STATUS_IGNORE);
    while (!done) {
        nap();
        MPI_Test(r, &done, MPI_STATUS_IGNORE);
    }
}

static void bcast_int(int *v, int root, MPI_Comm comm) {
    MPI_Request r;
    MPI_Ibcast(v, 1, MPI_INT, root, comm, &r);
    wait_sleeping(&r);
}

/* Rank 0's status and message reach every rank; returns the status. */
static int bcast_status(int status, ErrBuf *e, MPI_Comm comm) {
    MPI_Bcast(&status, 1, MPI_INT, 0, comm);
    MPI_Bcast(e->msg, sizeof e->msg, MPI_CHAR, 0, comm);
    return status;
}

/* The group's collectives for train.h; ctx is the Sweep, whose comm_seconds
 * counts the time spent in them (waiting for peers included). */
static void grp_sum_i64(void *ctx, int64_t *v, long n) {
    Sweep *sw = ctx;
    double t0 = now_seconds();
    MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_INT64_T, MPI_SUM, sw->c.group);
    sw->comm_seconds += now_seconds() - t0;
}
static void grp_sum_f32(void *ctx, float *v, long n) {
    Sweep *sw = ctx;
    double t0 = now_seconds();
    MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, sw->c.group);
    sw->comm_seconds += now_seconds() - t0;
}
static int grp_leader_flag(void *ctx, int flag) {
    MPI_Bcast(&flag, 1, MPI_INT, 0, ((Sweep *)ctx)->c.group);
    return flag;
}

static void say(const Sweep *sw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const Sweep *sw, const char *fmt, ...) {
    if (sw->c.rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void fmt_duration(char *buf, size_t cap, double s) {
    if (s < 0 || !isfinite(s)) snprintf(buf, cap, "?");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* ---- paths ---- */

static void trial_path(char *buf, size_t cap, const Sweep *sw, const Trial *t, const char *suffix) {
    char hash[24];
    snprintf(hash, sizeof hash, "%016" PRIx64, t->hash);
    trialfile_path(buf, cap, sw->out, sw->job.families[t->family].name, hash, suffix);
}

/* ---- splits ---- */

static uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
    x ^= x >> 31;
    return x * 0xBF58476D1CE4E5B9ull;
}

static int make_splits(Sweep *sw, ErrBuf *e) {
    const Job *j = &sw->job;
    const Dataset *d = &sw->d;
    const int32_t *g = j->use_groups ? d->groups : NULL;
    if (j->scheme == CV_HOLDOUT) {
        sw->hold = xmalloc((size_t)j->repeats * (d->n ? d->n : 1));
        for (int r = 0; r < j->repeats; r++)
            if (split_holdout3(sw->hold + (size_t)r * d->n, d->labels, g, d->n, d->n_classes, j->fractions,
                               r == 0 ? j->cv_seed : mix(j->cv_seed, (uint64_t)r), d->class_names, e))
                return HIPID_ERR;
        return HIPID_OK;
    }
    /* a k-fold design with repeats is split_make's "repeated" */
    static const char *names[] = {"holdout", "kfold", "repeated", "group", "nested"};
    int scheme = j->scheme == CV_KFOLD && j->repeats > 1 ? CV_REPEATED : (int)j->scheme;
    snprintf(sw->sp.scheme, sizeof sw->sp.scheme, "%s", names[scheme]);
    sw->sp.k = j->k;
    sw->sp.repeats = j->repeats;
    sw->sp.inner_k = j->inner_k;
    sw->sp.seed = j->cv_seed;
    return split_make(&sw->sp, d->labels, d->groups, d->n, d->n_classes, j->use_groups, d->class_names, e);
}

static void parts_free(TrialParts *p) {
    free(p->train);
    free(p->val);
    free(p->test);
    memset(p, 0, sizeof *p);
}

/* Train/val/test of a trial: the CV unit's train and test, then the
 * validation share carved (stratified, grouped) out of train. */
static int trial_parts(TrialParts *p, const Sweep *sw, const Trial *t, ErrBuf *e) {
    const Job *j = &sw->job;
    const Dataset *d = &sw->d;
    int n = d->n;
    memset(p, 0, sizeof *p);
    p->train = xmalloc(sizeof(int) * (n ? n : 1));
    p->val = xmalloc(sizeof(int) * (n ? n : 1));
    p->test = xmalloc(sizeof(int) * (n ? n : 1));
    if (j->scheme == CV_HOLDOUT) {
        const int8_t *part = sw->hold + (size_t)t->repeat * n;
        p->n_train = split_part_indices(p->train, part, n, SPLIT_TRAIN);
        p->n_val = split_part_indices(p->val, part, n, SPLIT_VAL);
        p->n_test = split_part_indices(p->test, part, n, SPLIT_TEST);
        return HIPID_OK;
    }
    const int *assign = sw->sp.fold_of + (size_t)t->repeat * n;
    int fold = t->outer;
    if (t->inner >= 0) {
        assign = sw->sp.inner_fold_of + ((size_t)t->repeat * j->k + t->outer) * n;
        fold = t->inner;
    }
    int n_all = 0;
    int *all = xmalloc(sizeof(int) * (n ? n : 1));
    split_fold_indices(all, &n_all, p->test, &p->n_test, assign, n, fold);
    if (j->val_fraction <= 0.0) {
        memcpy(p->train, all, sizeof(int) * n_all);
        p->n_train = n_all;
        free(all);
        return HIPID_OK;
    }
    int32_t *lab = xmalloc(sizeof(int32_t) * (n_all ? n_all : 1)), *grp = xmalloc(sizeof(int32_t) * (n_all ? n_all : 1));
    int *tr = xmalloc(sizeof(int) * (n_all ? n_all : 1)), *va = xmalloc(sizeof(int) * (n_all ? n_all : 1));
    for (int i = 0; i < n_all; i++) {
        lab[i] = d->labels[all[i]];
        grp[i] = j->use_groups ? d->groups[all[i]] : all[i];
    }
    int ntr = 0, nva = 0;
    uint64_t seed = mix(mix(mix(j->cv_seed, (uint64_t)t->repeat), (uint64_t)t->outer), (uint64_t)(t->inner + 1));
    int rc = split_holdout(tr, &ntr, va, &nva, lab, grp, n_all, d->n_classes, j->val_fraction, seed,
                           d->class_names, e);
    for (int i = 0; i < ntr; i++) p->train[i] = all[tr[i]];
    for (int i = 0; i < nva; i++) p->val[i] = all[va[i]];
    p->n_train = ntr;
    p->n_val = nva;
    free(lab);
    free(grp);
    free(tr);
    free(va);
    free(all);
    return rc;
}

/* ---- the trial file ---- */

/* The record of trial t so far; the caller adds what it has. */
static TrialRecord trial_record(const Sweep *sw, const Trial *t, const TrialParts *p, int attempts, double secs) {
    return (TrialRecord){.job = &sw->job, .t = t, .data_checksum = sw->checksum, .d = &sw->d, .attempts = attempts,
                         .ranks = sw->c.gsize, .threads = sw->threads, .seconds = secs,
                         .allreduce_seconds = sw->comm_seconds, .p = p};
}

static void write_failed(const Sweep *sw, const Trial *t, const TrialParts *p, int attempts, double secs,
                         const char *reason) {
    char path[1400];
    ErrBuf e = {{0}};
    trial_path(path, sizeof path, sw, t, ".h5");
    TrialRecord r = trial_record(sw, t, p, attempts, secs);
    r.state = "failed";
    r.reason = reason;
    r.val_loss = r.val_acc = r.test_loss = r.test_acc = NAN;
    if (trialfile_write_failed(path, &r, &e) != HIPID_OK) {
        fprintf(stderr, "hipid sweep: %s\n", e.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

/* ---- one trial, on every rank of a group ---- */

typedef struct {
    Sweep *sw;
    const char *ckpt, *key;
} TrialCtx;

static int master_poll(Sweep *sw);

static int poll_cb(void *ctx) {
    Sweep *sw = ((TrialCtx *)ctx)->sw;
    if (sw->c.grank != 0) return 0;
    if (sw->c.rank == 0) return master_poll(sw);
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(0, TAG_HALT, MPI_COMM_WORLD, &flag, &st);
    if (flag) {
        int v;
        MPI_Recv(&v, 1, MPI_INT, 0, TAG_HALT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        sw->halting = 1;
    }
    return g_signal != 0 || sw->halting;
}

static int ckpt_cb(void *ctx, const Trainer *t, ErrBuf *e) {
    TrialCtx *tc = ctx;
    int ok = 1;
    if (tc->sw->c.grank == 0) ok = trainer_save_state(t, tc->ckpt, tc->key, e) == HIPID_OK;
    MPI_Bcast(&ok, 1, MPI_INT, 0, tc->sw->c.group);
    if (!ok && tc->sw->c.grank == 0) {
        fprintf(stderr, "hipid sweep: %s\n", e->msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return ok ? HIPID_OK : HIPID_ERR;
}

/* Returns RUN_DONE, RUN_FAILED or RUN_STOPPED (same on every rank). */
static int run_trial(Sweep *sw, int idx) {
    const Job *j = &sw->job;
    const Trial *t = &sw->plan[idx];
    const HParams *h = &j->families[t->family].configs[t->config];
    char key[8192], ckpt[1400], path[1400], tmp[1500];
    job_trial_key(key, sizeof key, j, t, sw->checksum);
    trial_path(ckpt, sizeof ckpt, sw, t, ".ckpt.h5");
    trial_path(path, sizeof path, sw, t, ".h5");
    int attempts = (sw->sum[idx].state == TRIAL_FAILED ? sw->sum[idx].attempts : 0) + 1;
    double t0 = now_seconds();
    sw->comm_seconds = 0.0;
    ErrBuf e = {{0}};
    TrialParts p;
    if (trial_parts(&p, sw, t, &e) != HIPID_OK) { /* validated up front; only a changed data set gets here */
        if (sw->c.grank == 0) write_failed(sw, t, NULL, attempts, 0.0, e.msg);
        parts_free(&p);
        return RUN_FAILED;
    }
    TrainConfig cfg = {.model = h->model, .epochs = h->epochs, .batch = h->batch, .threads = sw->threads,
                       .micro_batch = h->micro_batch, .patience = h->patience, .opt = h->opt, .seed = t->seed,
                       .balance = h->balance, .aug = h->aug, .standardize = h->standardize,
                       .trial = ((uint64_t)t->repeat << 32) | ((uint64_t)t->outer << 16) | (uint64_t)(t->inner + 1),
                       .log = sw->verbose && sw->c.grank == 0 ? stdout : NULL};
    Trainer *tr = trainer_create(&cfg, &sw->d, p.train, p.n_train, p.val, p.n_val, &e);
    int status = RUN_FAILED;
    if (!tr) {
        if (sw->c.grank == 0) write_failed(sw, t, &p, attempts, now_seconds() - t0, e.msg);
        goto done;
    }
    if (access(ckpt, F_OK) == 0) {
        ErrBuf ce = {{0}};
        int ok = trainer_load_state(tr, ckpt, key, &ce) == HIPID_OK;
        int all_ok = 0;
        MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, sw->c.group);
        if (!all_ok) { /* start afresh: a checkpoint cut short by a kill */
            if (sw->c.grank == 0) fprintf(stderr, "hipid sweep: %s; restarting the trial\n", ok ? "checkpoint unreadable on a peer" : ce.msg);
            trainer_free(tr);
            tr = trainer_create(&cfg, &sw->d, p.train, p.n_train, p.val, p.n_val, &e);
        }
    }
    TrialCtx tc = {sw, ckpt, key};
    int rc = trainer_run(tr, &(TrainComm){sw->c.grank, sw->c.gsize, sw, grp_sum_i64, grp_sum_f32, grp_leader_flag},
                         poll_cb, ckpt_cb, &tc, j->checkpoint_every, &e);
    if (rc == TRAIN_STOPPED) {
        status = RUN_STOPPED;
        goto done;
    }
    if (rc != TRAIN_DONE) {
        if (sw->c.grank == 0) write_failed(sw, t, &p, attempts, now_seconds() - t0, e.msg);
        goto done;
    }
    /* last weights first, then the best (by validation loss) and their predictions */
    int K = sw->d.n_classes, chunk = h->micro_batch > 0 ? h->micro_batch : h->batch;
    hid_t f = H5I_INVALID_HID;
    int ok = 1;
    if (sw->c.grank == 0) {
        f = trialfile_create(tmp, sizeof tmp, path, &e);
        ok = f >= 0 && trialfile_write_weights(f, "last", tr->m) == HIPID_OK;
    }
    trainer_use_best(tr);
    float *zv = xmalloc_f32((size_t)(p.n_val ? p.n_val : 1) * K), *zt = xmalloc_f32((size_t)(p.n_test ? p.n_test : 1) * K);
    TrainComm gc = {sw->c.grank, sw->c.gsize, sw, grp_sum_i64, grp_sum_f32, grp_leader_flag};
    train_logits(zv, tr->m, &sw->d, p.val, p.n_val, chunk, &gc);
    train_logits(zt, tr->m, &sw->d, p.test, p.n_test, chunk, &gc);
    if (sw->c.grank == 0) {
        TrialRecord o = trial_record(sw, t, &p, attempts, now_seconds() - t0);
        o.state = "done";
        o.reason = "";
        o.tr = tr;
        o.val_logits = zv;
        o.test_logits = zt;
        train_score(&o.val_loss, &o.val_acc, zv, sw->d.labels, p.val, p.n_val, K, NULL);
        train_score(&o.test_loss, &o.test_acc, zt, sw->d.labels, p.test, p.n_test, K, NULL);
        ok = ok && trialfile_write_weights(f, "best", tr->m) == HIPID_OK && trialfile_write_record(f, &o) == HIPID_OK;
        if (f < 0 || trialfile_finish(f, ok, tmp, path, &e) != HIPID_OK) {
            fprintf(stderr, "hipid sweep: %s\n", e.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        remove(ckpt);
    }
    free(zv);
    free(zt);
    status = RUN_DONE;
done:
    trainer_free(tr);
    parts_free(&p);
    sw->busy += now_seconds() - t0;
    return status;
}

/* ---- the index ---- */

static void study_key(char *buf, size_t cap, const Sweep *sw) {
    const Job *j = &sw->job;
    snprintf(buf, cap, "data=%016" PRIx64 " scheme=%d k=%d repeats=%d inner_k=%d fractions=%.9g,%.9g,%.9g "
                       "val_fraction=%.9g cv_seed=%" PRIu64 " groups=%d",
             sw->checksum, (int)j->scheme, j->k, j->repeats, j->inner_k, j->fractions[0], j->fractions[1],
             j->fractions[2], j->val_fraction, j->cv_seed, j->use_groups);
}

/* Rank 0: sweep.h5 from sw->sum (plus busy seconds per rank when known). */
static void write_index(const Sweep *sw, const double *busy, const double *elapsed) {
    char study[512];
    ErrBuf e = {{0}};
    study_key(study, sizeof study, sw);
    if (trialfile_write_index(sw->out, &sw->job, sw->plan, sw->sum, sw->n_plan, study, busy, elapsed, sw->c.size,
                              &e) != HIPID_OK)
        fprintf(stderr, "hipid sweep: %s\n", e.msg);
}

/* ---- the master ---- */

static void master_notify_halt(Sweep *sw) {
    if (sw->halting) return;
    sw->halting = 1;
    for (int g = 1; g < sw->c.n_groups; g++) {
        int v = 1;
        if (sw->running[g] >= 0) MPI_Send(&v, 1, MPI_INT, sw->leaders[g], TAG_HALT, MPI_COMM_WORLD);
    }
}

static void print_status(const Sweep *sw) {
    if (sw->quiet) return;
    int running = 0;
    for (int g = 0; g < sw->c.n_groups; g++) running += sw->running[g] >= 0;
    int left = sw->n_todo - sw->n_finished - running; /* over all phases of this run */
    double el = now_seconds() - sw->t0;
    int done = sw->n_finished;
    char a[32], b[32];
    fmt_duration(a, sizeof a, el);
    fmt_duration(b, sizeof b, done > 0 ? el / done * (left + running) : NAN);
    printf("        done %d, running %d, failed %d, left %d; elapsed %s, ETA %s\n", done, running, sw->n_failed,
           left, a, b);
    fflush(stdout);
}

/* A group reported trial idx with status st. */
static void master_record(Sweep *sw, int idx, int st, int group) {
    if (idx < 0 || st == RUN_NONE) return;
    sw->running[group] = -1;
    if (st == RUN_STOPPED) {
        sw->stopped = 1;
        master_notify_halt(sw);
        return;
    }
    char path[1400], label[128];
    const Trial *t = &sw->plan[idx];
    trial_path(path, sizeof path, sw, t, ".h5");
    trialfile_summary(&sw->sum[idx], path, t->hash);
    const TrialSummary *s = &sw->sum[idx];
    sw->n_finished++;
    if (s->state != TRIAL_DONE) sw->n_failed++;
    job_trial_label(label, sizeof label, &sw->job, t);
    if (!sw->quiet) {
        if (s->state == TRIAL_DONE)
            printf("[%4d/%d] %-24s test acc %.3f  val acc %.3f  best epoch %d  %.1fs  %d rank(s)\n", sw->n_finished,
                   sw->n_todo, label, s->test_acc, s->val_acc, s->best_epoch, s->seconds, s->ranks);
        else
            printf("[%4d/%d] %-24s FAILED (attempt %d): %s\n", sw->n_finished, sw->n_todo, label, s->attempts,
                   s->reason);
        print_status(sw);
    }
    write_index(sw, NULL, NULL);
}

static int master_next(Sweep *sw) {
    if (g_signal) master_notify_halt(sw);
    if (sw->halting) return ASSIGN_HALT;
    return sw->next < sw->n_queue ? sw->queue[sw->next++] : ASSIGN_END;
}

/* Answer pending requests; with block, until every other group has ended. */
static void master_serve(Sweep *sw, int block) {
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (g_signal) master_notify_halt(sw);
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQ, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            if (!block || sw->active == 0) return;
            nap();
            continue;
        }
        int msg[3];
        MPI_Recv(msg, 3, MPI_INT, st.MPI_SOURCE, TAG_REQ, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        master_record(sw, msg[1], msg[2], msg[0]);
        int next = master_next(sw);
        if (next >= 0) sw->running[msg[0]] = next;
        else sw->active--;
        MPI_Send(&next, 1, MPI_INT, st.MPI_SOURCE, TAG_ASSIGN, MPI_COMM_WORLD);
    }
}

static int master_poll(Sweep *sw) {
    master_serve(sw, 0);
    return g_signal != 0 || sw->halting;
}

/* ---- phases ---- */

/* Run the todo trials of families with ranks_per_trial rpt. */
static void run_phase(Sweep *sw, int rpt, const int *phase_todo, int n_phase) {
    Comm *c = &sw->c;
    if (rpt > c->size) rpt = c->size;
    c->group_id = c->rank / rpt;
    c->n_groups = (c->size + rpt - 1) / rpt;
    MPI_Comm_split(MPI_COMM_WORLD, c->group_id, c->rank, &c->group);
    MPI_Comm_rank(c->group, &c->grank);
    MPI_Comm_size(c->group, &c->gsize);
    sw->leaders = xmalloc(sizeof(int) * c->n_groups);
    for (int g = 0; g < c->n_groups; g++) sw->leaders[g] = g * rpt;
    if (c->rank == 0) {
        sw->queue = phase_todo;
        sw->n_queue = n_phase;
        sw->next = 0;
        sw->active = c->n_groups - 1;
        sw->running = xmalloc(sizeof(int) * c->n_groups);
        for (int g = 0; g < c->n_groups; g++) sw->running[g] = -1;
    }
    int last = -1, last_st = RUN_NONE;
    for (;;) {
        int idx = ASSIGN_END;
        if (c->grank == 0) {
            if (c->rank == 0) {
                idx = master_next(sw);
                sw->running[0] = idx >= 0 ? idx : -1;
            } else {
                int msg[3] = {c->group_id, last, last_st};
                MPI_Send(msg, 3, MPI_INT, 0, TAG_REQ, MPI_COMM_WORLD);
                MPI_Request r;
                MPI_Irecv(&idx, 1, MPI_INT, 0, TAG_ASSIGN, MPI_COMM_WORLD, &r);
                wait_sleeping(&r);
            }
        }
        bcast_int(&idx, 0, c->group);
        if (idx < 0) break;
        last = idx;
        last_st = run_trial(sw, idx);
        if (last_st == RUN_STOPPED) sw->stopped = 1;
        if (c->rank == 0) master_record(sw, idx, last_st, 0);
    }
    if (c->rank == 0) {
        /* halt notices go to leaders still training */
        master_serve(sw, 1);
        free(sw->running);
        sw->running = NULL;
    } else if (c->grank == 0) { /* drain a halt notice that crossed our last request */
        int flag = 1;
        while (flag) {
            MPI_Iprobe(0, TAG_HALT, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
            if (flag) {
                int v;
                MPI_Recv(&v, 1, MPI_INT, 0, TAG_HALT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            }
        }
    }
    free(sw->leaders);
    sw->leaders = NULL;
    MPI_Request r;
    MPI_Ibarrier(MPI_COMM_WORLD, &r);
    wait_sleeping(&r);
    MPI_Comm_free(&c->group);
}

/* ---- setting up ---- */

/* hipid prep DIR -o OUT --size SIZE --quiet, as the sweep ran it before
 * prepset.h existed; 0 or an exit status (errors printed). */
static int prep_images(const char *dir, const char *out, const char *size) {
    double v;
    if (cli_num("prep", "size", size, 8, 4096, 1, &v) != HIPID_OK) return HIPID_EXIT_USAGE;
    PrepSetConfig c = prepset_config_default((int)v);
    c.src = dir;
    c.out = out;
    c.quiet = 1;
    ErrBuf e = {{0}};
    PrepSetStats s = {0};
    int status = HIPID_EXIT_FAIL;
    if (prepset_start_vips("prep", &e) == HIPID_OK) {
        if (prepset_build(&s, &c, &e) == HIPID_OK) {
            prepset_print_summary(stdout, &c, &s);
            status = 0;
        }
        prepset_stats_free(&s);
        prepset_stop_vips();
    }
    if (status) fprintf(stderr, "hipid sweep: %s\n", e.msg);
    return status;
}

/* Rank 0: build the job's data set from its [data] synth recipe. Images and
 * file are made under names of this process and renamed into place, so that
 * independent jobs (array tasks) building the same data at once do not clash:
 * they write identical files and the last rename wins. */
static int build_synth(const Job *j, ErrBuf *e) {
    char classes[16] = "6", per[16] = "80", size[16] = "64", seed[16] = "1", dir[1100], spec[256], tmp_h5[1100];
    snprintf(spec, sizeof spec, "%s", j->synth);
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        char *dst = !strcmp(tok, "classes") ? classes : !strcmp(tok, "per_class") ? per
                  : !strcmp(tok, "size") ? size : !strcmp(tok, "seed") ? seed : NULL;
        if (dst) snprintf(dst, 16, "%s", eq + 1);
    }
    snprintf(dir, sizeof dir, "%s.images.%ld", j->data, (long)getpid());
    snprintf(tmp_h5, sizeof tmp_h5, "%s.%ld.h5", j->data, (long)getpid());
    printf("data %s is missing: building it from [data] synth = %s\n", j->data, j->synth);
    fflush(stdout);
    char parent[1100];
    snprintf(parent, sizeof parent, "%s", j->data);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = 0;
        if (mkdir_p(parent, e) != HIPID_OK) return HIPID_ERR;
    }
    /* synth_write_set, not cmd_synth: that shuts libvips down, and libvips
     * cannot start twice in one process */
    SynthSetConfig sc = {.out_dir = dir, .per_class = atoi(per), .n_classes = atoi(classes), .size = atoi(size),
                         .seed = (uint64_t)strtoull(seed, NULL, 10), .imbalance = 1.0};
    if (synth_write_set(&sc, e) < 0) return HIPID_ERR;
    int rc = prep_images(dir, tmp_h5, size);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir); /* the PNGs were only the way in */
    if (system(cmd) != 0) fprintf(stderr, "hipid sweep: could not remove %s\n", dir);
    if (rc != 0) return hipid_err(e, "%s: building the phantom data set failed (see above)", j->data);
    if (rename(tmp_h5, j->data) != 0) return hipid_err(e, "%s: cannot rename %s into place: %s", j->data, tmp_h5, strerror(errno));
    return HIPID_OK;
}

/* Rank 0: what is done, failed, partial; the todo list of this run. */
static void scan_trials(Sweep *sw) {
    sw->todo = xmalloc(sizeof(int) * (sw->n_plan ? sw->n_plan : 1));
    sw->n_todo = 0;
    for (int i = 0; i < sw->n_plan; i++) {
        char path[1400], ckpt[1400];
        const Trial *t = &sw->plan[i];
        trial_path(path, sizeof path, sw, t, ".h5");
        trial_path(ckpt, sizeof ckpt, sw, t, ".ckpt.h5");
        TrialSummary *s = &sw->sum[i];
        trialfile_summary(s, path, t->hash);
        if (s->state == TRIAL_BAD) {
            fprintf(stderr, "hipid sweep: %s; redoing the trial\n", s->reason);
            remove(path);
            s->state = TRIAL_TODO;
            s->reason[0] = 0;
        }
        if (s->state == TRIAL_TODO && access(ckpt, F_OK) == 0) s->state = TRIAL_PARTIAL;
        int mine = sw->n_shards <= 1 || i % sw->n_shards == sw->shard;
        if (!mine) continue;
        if (s->state == TRIAL_TODO || s->state == TRIAL_PARTIAL ||
            (s->state == TRIAL_FAILED && s->attempts <= sw->job.retries))
            sw->todo[sw->n_todo++] = i;
    }
}

/* Rank 0: refuse a results folder that holds another study. */
static int check_output(Sweep *sw, ErrBuf *e) {
    if (mkdir_p(sw->trials, e) != HIPID_OK) return HIPID_ERR;
    char path[1100], have[512] = "", want[512];
    snprintf(path, sizeof path, "%s/sweep.h5", sw->out);
    study_key(want, sizeof want, sw);
    if (access(path, F_OK) != 0) return HIPID_OK;
    ErrBuf ie = {{0}};
    hid_t f = h5_open_versioned(path, SWEEP_FORMAT, SWEEP_FORMAT_VERSION, "sweep index", "remove it", &ie);
    if (f < 0) return hipid_err(e, "%s", ie.msg);
    int got = h5_attr_read_str(f, "study", have, sizeof have);
    H5Fclose(f);
    if (got != HIPID_OK || strcmp(have, want) != 0)
        return hipid_err(e, "%s holds results of another study (data or [cv] differ: it has '%s', this job "
                            "gives '%s'); set [run] output to a new folder or remove the old one",
                         sw->out, have, want);
    return HIPID_OK;
}

/* ---- --dry-run ---- */

static void dry_run(Sweep *sw) {
    const Job *j = &sw->job;
    int size = sw->c.size;
    /* the allreduce of a gradient block, measured when there are peers */
    double bw = 0.0;
    if (size > 1) {
        long n = 1 << 21;
        int64_t *v = xcalloc(n, sizeof(int64_t));
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = now_seconds();
        for (int r = 0; r < 3; r++) MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
        bw = 3.0 * n * 8 / (now_seconds() - t0);
        free(v);
    }
    if (sw->c.rank != 0) return;
    EstData d = {.size = sw->d.size, .n_classes = sw->d.n_classes, .n_images = sw->d.n, .from_file = 1};
    ErrBuf e = {{0}};
    if (!sw->have_data && estimate_data(&d, j, &e) != HIPID_OK) { /* not there: the synth recipe's numbers */
        d.size = estimate_synth_value(j->synth, "size", 64);
        d.n_classes = estimate_synth_value(j->synth, "classes", 6);
        d.n_images = (double)d.n_classes * estimate_synth_value(j->synth, "per_class", 80);
    }
    Estimate est;
    estimate_work(&est, j, &d, sw->plan, sw->n_plan, size, sw->threads, bw);
    printf("job %s (%s): data %s%s\n", j->name, j->path, j->data, sw->have_data ? "" : " (not built yet: sizes assumed)");
    printf("design: %d CV unit(s) x %d seed(s) per configuration; %s search\n", est.n_units, j->n_seeds,
           j->random ? "random" : "grid");
    printf("%-10s %7s %7s %6s %7s %11s %11s %11s\n", "family", "configs", "trials", "ranks", "groups",
           "step (1 r)", "allreduce", "est/trial");
    for (int f = 0; f < j->n_families; f++) {
        const Family *fa = &j->families[f];
        const EstFamily *x = &est.fam[f];
        char a[32], b[32], cstr[32];
        fmt_duration(a, sizeof a, x->per_trial);
        snprintf(b, sizeof b, "%.1f ms", x->step * 1e3);
        snprintf(cstr, sizeof cstr, x->rpt > 1 ? "%.1f ms%s" : "-", x->comm * 1e3, bw > 0 ? "" : "*");
        printf("%-10s %7d %7d %6d %7d %11s %11s %11s\n", fa->name, fa->n_configs, x->n_trials, x->rpt, x->groups, b,
               cstr, a);
        if (x->rpt > 1 && x->comm > 0.5 * x->step / x->rpt)
            printf("  note: %s's allreduce (%.0f MB of fixed-point gradients) takes %.0f%% of a step at %d ranks: "
                   "ranks_per_trial 1 (parallel over trials) is faster\n",
                   fa->name, x->bytes / 1e6, 100.0 * x->comm / (x->step / x->rpt + x->comm), x->rpt);
    }
    char a[32];
    fmt_duration(a, sizeof a, est.total);
    printf("%d trial(s) in all, %d to run now; with %d rank(s): about %s of work%s\n", sw->n_plan, sw->n_todo,
           size, a, bw > 0 || size == 1 ? "" : " (* allreduce assumed at 2 GB/s)");
    printf("results: %s\n", sw->out);
}

static void sweep_usage(FILE *f) {
    fprintf(f,
        "usage: [mpirun -np N] hipid sweep JOB.ini [options]\n"
        "  --dry-run      print the expanded plan, rank groups and a work estimate; train nothing\n"
        "  --shard I/N    run only trials with plan index %% N == I (0-based; job arrays)\n"
        "  --reindex      rebuild sweep.h5 from the trial files and stop\n"
        "  --quiet        only the closing summary\n"
        "  --verbose      also per-epoch lines of group leaders\n"
        "Trains every trial of the job (README: \"Job files\"), results in [run] output\n"
        "(default results/<job name>/). Rerun the same command to resume after a kill.\n"
        "HIPID_THREADS overrides [run] threads. Exit status: 0 done (failed trials are\n"
        "recorded), 1 failure, 2 usage or job-file error, 3 interrupted by SIGUSR1/SIGTERM\n"
        "after checkpointing (rerun to resume).\n");
}

static void print_summary(const Sweep *sw) {
    const Job *j = &sw->job;
    printf("\n%-10s %6s %6s %6s %10s %8s %8s\n", "family", "done", "failed", "left", "test acc", "sd", "min");
    for (int f = 0; f < j->n_families; f++) {
        int done = 0, failed = 0, left = 0;
        double s = 0, s2 = 0, mn = 1;
        for (int i = 0; i < sw->n_plan; i++) {
            const Trial *t = &sw->plan[i];
            if (t->family != f || t->inner >= 0) continue; /* inner folds only select */
            const TrialSummary *x = &sw->sum[i];
            if (x->state == TRIAL_DONE) {
                done++;
                s += x->test_acc;
                s2 += x->test_acc * x->test_acc;
                mn = x->test_acc < mn ? x->test_acc : mn;
            } else if (x->state == TRIAL_FAILED) failed++;
            else left++;
        }
        double mean = done ? s / done : NAN, sd = done > 1 ? sqrt((s2 - s * s / done) / (done - 1)) : NAN;
        printf("%-10s %6d %6d %6d %10.4f %8.4f %8.4f\n", j->families[f].name, done, failed, left, mean, sd,
               done ? mn : NAN);
    }
    if (j->scheme == CV_NESTED) printf("(nested: outer-fold trials only; inner trials are for selection)\n");
    printf("results: %s (sweep.h5 indexes %d trial files)\n", sw->out, sw->n_plan);
}

int cmd_sweep(int argc, char **argv) {
    static const struct option opts[] = {{"dry-run", no_argument, 0, 'n'}, {"shard", required_argument, 0, 's'},
                                         {"reindex", no_argument, 0, 'r'},
                                         {"quiet", no_argument, 0, 'q'},   {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},    {0, 0, 0, 0}};
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    Sweep sw = {0};
    MPI_Comm_rank(MPI_COMM_WORLD, &sw.c.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &sw.c.size);
    int dry = 0, reindex = 0, c, status = HIPID_EXIT_USAGE;
    const char *bad_opt = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': dry = 1; break;
        case 'r': reindex = 1; break;
        case 'q': sw.quiet = 1; break;
        case 'v': sw.verbose = 1; break;
        case 's':
            if (sscanf(optarg, "%d/%d", &sw.shard, &sw.n_shards) != 2 || sw.n_shards < 1 || sw.shard < 0 ||
                sw.shard >= sw.n_shards)
                bad_opt = "--shard expects I/N with 0 <= I < N, e.g. 0/4";
            break;
        case 'h':
            if (sw.c.rank == 0) sweep_usage(stdout);
            MPI_Finalize();
            return 0;
        default: bad_opt = "unknown option or missing value (see hipid sweep --help)"; break;
        }
    }
    if (!bad_opt && optind != argc - 1) bad_opt = "expects exactly one job file (see hipid sweep --help)";
    if (bad_opt) {
        if (sw.c.rank == 0) fprintf(stderr, "hipid sweep: %s\n", bad_opt);
        MPI_Finalize();
        return HIPID_EXIT_USAGE;
    }
    const char *job_path = argv[optind];
    ErrBuf e = {{0}};
    /* 1. the job: rank 0 parses and validates, everyone learns the verdict */
    int rc = sw.c.rank == 0 ? job_load(&sw.job, job_path, &e) : HIPID_OK;
    if (bcast_status(rc, &e, MPI_COMM_WORLD) != HIPID_OK) {
        if (sw.c.rank == 0) fprintf(stderr, "hipid sweep: %s\n", e.msg);
        MPI_Finalize();
        return HIPID_EXIT_USAGE;
    }
    if (sw.c.rank != 0 && job_load(&sw.job, job_path, &e) != HIPID_OK) {
        fprintf(stderr, "hipid sweep: rank %d: %s (the file changed under us?)\n", sw.c.rank, e.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const char *env_threads = getenv("HIPID_THREADS");
    sw.threads = env_threads && atoi(env_threads) > 0 ? atoi(env_threads) : sw.job.threads;
    snprintf(sw.out, sizeof sw.out, "%s", sw.job.output);
    snprintf(sw.trials, sizeof sw.trials, "%s/trials", sw.out);
    /* 2. the data: built by rank 0 if the job says how, then read by all */
    status = HIPID_EXIT_FAIL;
    int exists = access(sw.job.data, F_OK) == 0;
    rc = HIPID_OK;
    if (sw.c.rank == 0 && !exists && !dry) {
        if (sw.job.synth[0]) rc = build_synth(&sw.job, &e);
        else rc = hipid_err(&e, "%s: data set not found ([data] path in %s); make it with hipid prep, or give [data] synth",
                            sw.job.data, job_path);
    }
    if (bcast_status(rc, &e, MPI_COMM_WORLD) != HIPID_OK) {
        if (sw.c.rank == 0) fprintf(stderr, "hipid sweep: %s\n", e.msg);
        goto out;
    }
    sw.have_data = !dry || exists;
    int ok = 1, all_ok;
    if (sw.have_data) {
        ok = dataset_load(&sw.d, sw.job.data, &e) == HIPID_OK;
        if (ok) {
            sw.checksum = split_data_checksum(sw.d.labels, sw.d.groups, sw.d.n);
            ok = make_splits(&sw, &e) == HIPID_OK;
        }
    }
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all_ok) {
        if (!ok) fprintf(stderr, "hipid sweep: %s%s\n", sw.c.rank ? "" : "", e.msg);
        goto out;
    }
    /* 3. the plan, checked trial by trial for splits that cannot be made */
    if (job_expand(&sw.plan, &sw.n_plan, &sw.job, sw.checksum, &e) != HIPID_OK) {
        if (sw.c.rank == 0) fprintf(stderr, "hipid sweep: %s\n", e.msg);
        goto out;
    }
    sw.sum = xcalloc(sw.n_plan ? sw.n_plan : 1, sizeof(TrialSummary));
    rc = HIPID_OK;
    if (sw.c.rank == 0 && sw.have_data)
        for (int i = 0; i < sw.n_plan && rc == HIPID_OK; i++) {
            TrialParts p;
            rc = trial_parts(&p, &sw, &sw.plan[i], &e);
            if (rc == HIPID_OK && p.n_train < sw.job.families[sw.plan[i].family].configs[sw.plan[i].config].batch)
                rc = hipid_err(&e, "%s: family %s: batch %d is larger than a training set (%d images)", job_path,
                               sw.job.families[sw.plan[i].family].name,
                               sw.job.families[sw.plan[i].family].configs[sw.plan[i].config].batch, p.n_train);
            parts_free(&p);
        }
    /* 4. the results folder */
    if (rc == HIPID_OK && sw.c.rank == 0 && !dry) rc = check_output(&sw, &e);
    if (bcast_status(rc, &e, MPI_COMM_WORLD) != HIPID_OK) {
        if (sw.c.rank == 0) fprintf(stderr, "hipid sweep: %s\n", e.msg);
        goto out;
    }
    if (sw.c.rank == 0) scan_trials(&sw);
    if (reindex) {
        if (sw.c.rank == 0) {
            write_index(&sw, NULL, NULL);
            print_summary(&sw);
        }
        status = 0;
        goto out;
    }
    if (dry) {
        dry_run(&sw);
        status = 0;
        goto out;
    }
    /* 5. every rank learns the todo list */
    MPI_Bcast(&sw.n_todo, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (sw.c.rank != 0) sw.todo = xmalloc(sizeof(int) * (sw.n_todo ? sw.n_todo : 1));
    MPI_Bcast(sw.todo, sw.n_todo, MPI_INT, 0, MPI_COMM_WORLD);
    /* the states rank 0 found (attempts of failed trials) */
    MPI_Bcast(sw.sum, (int)(sizeof(TrialSummary) * sw.n_plan), MPI_BYTE, 0, MPI_COMM_WORLD);
    const int *all_todo = sw.todo;
    int n_all = sw.n_todo;
    if (sw.c.rank == 0) {
        int done = 0, failed = 0;
        for (int i = 0; i < sw.n_plan; i++) done += sw.sum[i].state == TRIAL_DONE, failed += sw.sum[i].state == TRIAL_FAILED;
        say(&sw, "sweep %s: %d trials (%d done, %d failed before), %d to run on %d rank(s), %d thread(s) each\n",
            sw.job.name, sw.n_plan, done, failed, n_all, sw.c.size, sw.threads);
        write_index(&sw, NULL, NULL);
    }
    sw.t0 = now_seconds();
    signal(SIGUSR1, on_signal);
    signal(SIGTERM, on_signal);
    /* 6. one phase per distinct ranks_per_trial */
    int *phase = xmalloc(sizeof(int) * (n_all ? n_all : 1));
    for (int f = 0; f < sw.job.n_families; f++) {
        int rpt = sw.job.families[f].ranks_per_trial, seen = 0;
        for (int g = 0; g < f; g++) seen |= sw.job.families[g].ranks_per_trial == rpt;
        if (seen) continue;
        int n_phase = 0;
        for (int i = 0; i < n_all; i++)
            if (sw.job.families[sw.plan[all_todo[i]].family].ranks_per_trial == rpt) phase[n_phase++] = all_todo[i];
        int halt = sw.halting || sw.stopped;
        MPI_Allreduce(MPI_IN_PLACE, &halt, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (halt) break;
        if (n_phase > 0) run_phase(&sw, rpt, phase, n_phase);
    }
    free(phase);
    /* 7. the index with busy time per rank, the summary, the verdict */
    double el = now_seconds() - sw.t0, *busy = NULL, *elapsed = NULL;
    if (sw.c.rank == 0) {
        busy = xmalloc(sizeof(double) * sw.c.size);
        elapsed = xmalloc(sizeof(double) * sw.c.size);
    }
    MPI_Gather(&sw.busy, 1, MPI_DOUBLE, busy, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Gather(&el, 1, MPI_DOUBLE, elapsed, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    int stopped = sw.stopped || sw.halting;
    MPI_Allreduce(MPI_IN_PLACE, &stopped, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (sw.c.rank == 0) {
        for (int i = 0; i < sw.n_plan; i++) { /* rescan: shards may share the folder */
            char path[1400], ckpt[1400];
            trial_path(path, sizeof path, &sw, &sw.plan[i], ".h5");
            trial_path(ckpt, sizeof ckpt, &sw, &sw.plan[i], ".ckpt.h5");
            trialfile_summary(&sw.sum[i], path, sw.plan[i].hash);
            if (sw.sum[i].state == TRIAL_TODO && access(ckpt, F_OK) == 0) sw.sum[i].state = TRIAL_PARTIAL;
        }
        write_index(&sw, busy, elapsed);
        print_summary(&sw);
        printf("busy:");
        for (int r = 0; r < sw.c.size; r++) printf(" rank %d %.0f%%", r, 100.0 * busy[r] / (elapsed[r] > 0 ? elapsed[r] : 1));
        printf(" of %.1f s\n", el);
        if (stopped) printf("interrupted: checkpoints written; rerun the same command to resume\n");
    }
    free(busy);
    free(elapsed);
    status = stopped ? SWEEP_EXIT_INTERRUPTED : 0;
out:
    free(sw.plan);
    free(sw.sum);
    free(sw.todo);
    free(sw.hold);
    split_free(&sw.sp);
    dataset_free(&sw.d);
    job_free(&sw.job);
    MPI_Finalize();
    return status;
}
