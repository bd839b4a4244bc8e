/* scheduler.c: the MPI runner of `hipid sweep` (scheduler.h): rank groups,
 * the master/leader protocol, one trial on a group, phases, stopping.
 *
 * Three kinds of state, kept apart: the Study (study.h: job, data, splits,
 * plan; the same on every rank), the Comm (world and this phase's group),
 * and the Master (world rank 0 only: the phase's queue, who runs what, the
 * counts). A Run ties them to this rank's progress: the trial states, the
 * todo list, the stop flags and the time spent.
 *
 * Waiting ranks sleep between MPI tests instead of spinning, so a rank
 * waiting for work does not steal the core of one that trains.
 *
 * The watchdog ([run] stall_timeout): every wait on a peer has a deadline.
 * Group collectives are non-blocking and polled; group leaders send the
 * master a heartbeat at most every few seconds while they train, and the
 * master checks them; a leader waiting for the master's answer waits at most
 * the timeout. At the end of a phase, ranks whose group has ended wait for
 * the others (who may train for hours): the master sends them a heartbeat
 * meanwhile, and once every group has ended it waits at most the timeout
 * for each rank's arrival, so neither a frozen waiter nor a frozen master
 * hangs the job there. A rank that waited too long prints one line naming
 * the rank(s) and host(s) it waited for and the trial, then stops the job
 * (MPI_Abort); a rerun resumes from the trial files and checkpoints. */
#define _POSIX_C_SOURCE 200809L
#include "hipid/sweep/scheduler.h"

#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "hipid/base/fsafe.h"
#include "hipid/sweep/halving.h"
#include "hipid/sweep/status_html.h"
#include "hipid/sweep/study.h"
#include "hipid/sweep/trialfile.h"
#include "hipid/train/train.h"

/* The one mutable global: what a signal handler may touch. */
static volatile sig_atomic_t g_signal;

static void on_signal(int sig) { g_signal = sig; }

/* REQ/ASSIGN: a leader asks the master for work; HALT: the master stops a
 * leader; BEAT: a training leader is alive; ARRIVE/GO: a rank reached the
 * end of the phase, the master lets every rank past it; MBEAT: the master is
 * alive, to ranks waiting at the end of the phase; TIMES: the closing
 * exchange of busy times and stop flags. */
enum {
    TAG_REQ = 11, TAG_ASSIGN = 12, TAG_HALT = 13, TAG_BEAT = 14, TAG_ARRIVE = 15, TAG_GO = 16, TAG_MBEAT = 17,
    TAG_TIMES = 18, /* a rank's closing numbers to the master; the master's verdict back */
};
enum { HOST_LEN = 64 };
enum { RUN_DONE = 0, RUN_FAILED = 1, RUN_STOPPED = 2, RUN_NONE = 3 };
enum { ASSIGN_END = -1, ASSIGN_HALT = -2, ASSIGN_WAIT = -3 }; /* END, WAIT as HALVING_* */

typedef struct {
    int rank, size;      /* world */
    MPI_Comm group;      /* this phase's group */
    int grank, gsize, group_id, n_groups;
} Comm;

/* World rank 0: handing out a phase's trials, and the run's counts. */
typedef struct {
    const int *queue;    /* this phase's trials (plan indices), handed out in order */
    int n_queue, next;
    int active;          /* other groups not yet told that the phase is over */
    int *running;        /* (n_groups) plan index per group, -1 idle */
    int *leaders;        /* (n_groups) world rank of each group's leader */
    double *heard;       /* (n_groups) when each group's leader was last heard of (its assignment, a heartbeat) */
    int *ended;          /* (n_groups) 1 once the group was told the phase is over */
    int rpt, all_ended;  /* ranks per group; 1 when the master itself is at the phase's end */
    double mbeat_sent;   /* when the waiting ranks last got a master heartbeat */
    int n_finished, n_failed;
    int budget;          /* of the trial master_next last handed out (halving.h; 0: to its end) */
    int *given;          /* (n_plan) budget each trial was handed out with */
} Master;

/* This rank's run of the study. */
typedef struct {
    Study st;
    Comm c;
    const SweepOptions *o;
    TrialSummary *sum;      /* (n_plan): rank 0's scan, then broadcast; rank 0 keeps it current */
    int *todo, n_todo;      /* plan indices this run trains, in plan order */
    int n_runs;             /* rank 0: trial runs expected (n_todo; staged: one per trial and rung, at most) */
    Master m;               /* world rank 0 only */
    int halting;            /* a stop was decided (master) or announced to this leader */
    int stopped;            /* this rank saw a stop */
    double t0, busy;        /* start of training; seconds spent in trials */
    double comm_seconds;    /* in group collectives during the current trial */
    char (*hosts)[HOST_LEN]; /* (size) every rank's host name */
    int trial;              /* plan index of this rank's current trial, -1 between trials */
    double beat_sent;       /* when this leader last sent the master a heartbeat */
    StatusHtml *page;       /* world rank 0: status.html; NULL when off (--no-status) */
    FsafeLock lock, shard_lock; /* world rank 0: the results folder's (lock_results) */
    Halving *hv[JOB_MAX_FAMILIES]; /* world rank 0, staged searches: one engine per phase */
    int n_hv;
} Run;

/* ---- small MPI helpers ---- */

static void nap(void) {
    struct timespec ts = {0, 1000000}; /* 1 ms */
    nanosleep(&ts, NULL);
}

/* ---- the watchdog ---- */

/* Seconds a wait on a peer may take; 0: forever. */
static double stall_limit(const Run *r) { return r->st.job.stall_timeout; }

/* The trial this rank is on, for messages. */
static void trial_label(char *buf, size_t cap, const Run *r, int idx) {
    if (idx < 0) snprintf(buf, cap, "(between trials)");
    else job_trial_label(buf, cap, &r->st.job, &r->st.plan[idx]);
}

/* "rank 3 (host b)" or "ranks 2-3 (hosts b, c)", the group's members but me. */
static void group_peers(char *buf, size_t cap, const Run *r) {
    int lo = r->c.rank - r->c.grank, n = 0;
    size_t o = 0;
    buf[0] = 0;
    for (int k = lo; k < lo + r->c.gsize && o < cap; k++) {
        if (k == r->c.rank) continue;
        o += snprintf(buf + o, cap - o, "%srank %d (host %s)", n++ ? ", " : "", k, r->hosts[k]);
    }
}

/* One line, then the whole job stops: no rank hangs on a peer that will
 * never come. what: "waited 5 s for rank 1 (host b) in ...". */
static void stall_abort(const Run *r, const char *what) {
    fprintf(stderr, "hipid sweep: stalled: rank %d (host %s) %s: frozen, dead or cut off ([run] stall_timeout = %d s); "
            "stopping the job, rerun to resume\n", r->c.rank, r->hosts[r->c.rank], what, r->st.job.stall_timeout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* Wait for q: for the first second every MPI_Test drives the transfer (a
 * non-blocking collective only moves data inside MPI calls: with 1 ms naps
 * between tests, a 34 MB allreduce took twice as long as a blocking one) and
 * sched_yield leaves the core to a peer that shares it; then sleeping. Past
 * the stall limit, stop the job naming peers and what was waited for (with
 * this rank's trial, if it is on one). */
static void wait_peer(const Run *r, MPI_Request *q, const char *what, const char *peers) {
    double t0 = now_seconds(), lim = stall_limit(r);
    int done = 0;
    for (int i = 0; i < 2000 && !done; i++) MPI_Test(q, &done, MPI_STATUS_IGNORE);
    while (!done && now_seconds() - t0 < 1.0) {
        sched_yield();
        MPI_Test(q, &done, MPI_STATUS_IGNORE);
    }
    while (!done) {
        double w = now_seconds() - t0;
        if (lim > 0 && w > lim) {
            char msg[1600], label[128] = "";
            if (r->trial >= 0) trial_label(label, sizeof label, r, r->trial);
            snprintf(msg, sizeof msg, "waited %.0f s for %s in %s%s%s", w, peers, what, r->trial >= 0 ? " of trial " : "",
                     label);
            stall_abort(r, msg);
        }
        nap();
        MPI_Test(q, &done, MPI_STATUS_IGNORE);
    }
}

/* A collective of the group, waited for under the watchdog. */
static void wait_group(const Run *r, MPI_Request *q, const char *what) {
    char peers[1024];
    group_peers(peers, sizeof peers, r);
    wait_peer(r, q, what, peers);
}

static void bcast_int(const Run *r, int *v, const char *what) {
    MPI_Request q;
    MPI_Ibcast(v, 1, MPI_INT, 0, r->c.group, &q);
    wait_group(r, &q, what);
}

/* Rank 0's status and message reach every rank; returns the status. */
static int bcast_status(int status, ErrBuf *e, MPI_Comm comm) {
    MPI_Bcast(&status, 1, MPI_INT, 0, comm);
    MPI_Bcast(e->msg, sizeof e->msg, MPI_CHAR, 0, comm);
    return status;
}

/* The group's collectives for train.h; ctx is the Run, whose comm_seconds
 * counts the time spent in them (waiting for peers included). Each is an
 * in-place allreduce waited for under the watchdog. */
static void grp_allreduce(Run *r, void *v, long n, MPI_Datatype type, MPI_Op op, const char *what) {
    double t0 = now_seconds();
    MPI_Request q;
    MPI_Iallreduce(MPI_IN_PLACE, v, (int)n, type, op, r->c.group, &q);
    wait_group(r, &q, what);
    r->comm_seconds += now_seconds() - t0;
}
static void grp_sum_i64(void *ctx, int64_t *v, long n) {
    grp_allreduce(ctx, v, n, MPI_INT64_T, MPI_SUM, "the gradient allreduce");
}
static void grp_sum_i32(void *ctx, int32_t *v, long n) {
    grp_allreduce(ctx, v, n, MPI_INT32_T, MPI_SUM, "the gradient allreduce");
}
static void grp_max_f32(void *ctx, float *v, long n) {
    grp_allreduce(ctx, v, n, MPI_FLOAT, MPI_MAX, "the gradient scale allreduce");
}
static void grp_sum_f32(void *ctx, float *v, long n) {
    grp_allreduce(ctx, v, n, MPI_FLOAT, MPI_SUM, "the prediction allreduce");
}
static int grp_leader_flag(void *ctx, int flag) {
    bcast_int(ctx, &flag, "the leader's broadcast");
    return flag;
}

static TrainComm group_comm(Run *r) {
    return (TrainComm){.rank = r->c.grank, .size = r->c.gsize, .ctx = r, .sum_i64 = grp_sum_i64,
                       .sum_i32 = grp_sum_i32, .max_f32 = grp_max_f32, .sum_f32 = grp_sum_f32,
                       .leader_flag = grp_leader_flag};
}

/* Rank 0: sweep.h5 from r->sum (plus busy seconds per rank when known), with
 * the rung table and pruned flags of a staged search. */
static void write_index(const Run *r, const double *busy, const double *elapsed) {
    ErrBuf e = {{0}};
    RungRow *rows = NULL;
    int n_rows = 0, n = r->st.n_plan;
    if (r->n_hv > 0) {
        int *bud = xmalloc(sizeof(int) * (n + 1)), *pr = xmalloc(sizeof(int) * (n + 1));
        for (int i = 0; i < n; i++) bud[i] = -1, pr[i] = r->sum[i].pruned;
        for (int k = 0; k < r->n_hv; k++) {
            RungRow *t = NULL;
            int nt = halving_table(r->hv[k], &t);
            rows = realloc(rows, sizeof(RungRow) * (n_rows + nt + 1));
            memcpy(rows + n_rows, t, sizeof(RungRow) * nt);
            n_rows += nt;
            free(t);
            halving_trial_states(r->hv[k], bud, pr);
        }
        for (int i = 0; i < n; i++) r->sum[i].pruned = pr[i];
        free(bud);
        free(pr);
    }
    if (study_write_index(&r->st, r->sum, busy, elapsed, r->c.size, rows, n_rows, &e) != HIPID_OK)
        fprintf(stderr, "hipid sweep: %s\n", e.msg);
    free(rows);
}

/* ---- one trial, on every rank of a group ---- */

/* A trial in progress; also the context of train.h's callbacks. */
typedef struct {
    Run *r;
    const Trial *t;
    const HParams *h;
    char key[8192], ckpt[1400], path[1400];
    int attempts;
    double t0;
    TrialParts p;
    const Trainer *tr;      /* once training started: its history feeds the progress file */
    int budget;             /* halving: the rung's epochs this run trains to; 0 = to the end */
    int n_noted;            /* epochs written to the progress file */
    char progress[1400];    /* status_html.h: the progress file (leader) */
} TrialRun;

static int master_poll(Run *r);

/* Leader: the progress file for status.html after each new epoch (read by
 * the master only; nothing here touches the trial's numbers). */
static void progress_note(TrialRun *x) {
    if (x->r->c.grank != 0 || x->r->o->no_status || !x->tr || x->tr->n_hist == x->n_noted) return;
    ErrBuf e = {{0}};
    if (status_progress_write(x->progress, x->tr->hist, x->tr->n_hist, &e) != HIPID_OK)
        fprintf(stderr, "hipid sweep: %s (the trial goes on)\n", e.msg);
    x->n_noted = x->tr->n_hist;
}

static int poll_cb(void *ctx) {
    Run *r = ((TrialRun *)ctx)->r;
    if (r->c.grank != 0) return 0;
    progress_note(ctx);
    if (r->c.rank == 0) return master_poll(r);
    double now = now_seconds(), lim = stall_limit(r);
    if (lim > 0 && now - r->beat_sent > fmin(lim / 4, 5.0)) { /* the master watches for these */
        int g = r->c.group_id;
        MPI_Send(&g, 1, MPI_INT, 0, TAG_BEAT, MPI_COMM_WORLD);
        r->beat_sent = now;
    }
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(0, TAG_HALT, MPI_COMM_WORLD, &flag, &st);
    if (flag) {
        int v;
        MPI_Recv(&v, 1, MPI_INT, 0, TAG_HALT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        r->halting = 1;
    }
    return g_signal != 0 || r->halting;
}

static int ckpt_cb(void *ctx, const Trainer *t, ErrBuf *e) {
    TrialRun *x = ctx;
    int ok = 1;
    if (x->r->c.grank == 0) ok = trainer_save_state(t, x->ckpt, x->key, e) == HIPID_OK;
    bcast_int(x->r, &ok, "the checkpoint's broadcast");
    if (!ok && x->r->c.grank == 0) {
        fprintf(stderr, "hipid sweep: %s\n", e->msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return ok ? HIPID_OK : HIPID_ERR;
}

/* The record of the trial so far; the caller adds what it has. */
static TrialRecord trial_record(const TrialRun *x, const TrialParts *p, double secs) {
    const Run *r = x->r;
    return (TrialRecord){.job = &r->st.job, .t = x->t, .data_checksum = study_data_checksum(&r->st, x->t->family),
                         .d = study_data(&r->st, x->t->family),
                         .attempts = x->attempts, .ranks = r->c.gsize, .threads = r->st.threads, .seconds = secs,
                         .allreduce_seconds = r->comm_seconds, .p = p};
}

/* Leader: the failed trial's file; p NULL when its rows could not be made. */
static void write_failed(const TrialRun *x, const TrialParts *p, double secs, const char *reason) {
    ErrBuf e = {{0}};
    TrialRecord rec = trial_record(x, p, secs);
    rec.tr = p ? x->tr : NULL; /* the epochs it completed: a staged search scores its earlier rungs from them */
    rec.state = "failed";
    rec.reason = reason;
    rec.val_loss = rec.val_acc = rec.test_loss = rec.test_acc = NAN;
    if (trialfile_write_failed(x->path, &rec, &e) != HIPID_OK) {
        fprintf(stderr, "hipid sweep: %s\n", e.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

static TrainConfig train_config(const Run *r, const Trial *t, const HParams *h) {
    return (TrainConfig){.model = h->model, .epochs = h->epochs, .batch = h->batch, .threads = r->st.threads,
                         .micro_batch = h->micro_batch, .gradient_sum = h->gradient_sum, .patience = h->patience, .opt = h->opt, .seed = t->seed,
                         .balance = h->balance, .aug = h->aug, .standardize = h->standardize,
                         .freeze = h->freeze, .head_lr = h->head_lr, .label_smoothing = h->label_smoothing,
                         .mix = h->mix,
                         .trial = ((uint64_t)t->repeat << 32) | ((uint64_t)t->outer << 16) | (uint64_t)(t->inner + 1),
                         .log = r->o->verbose && r->c.grank == 0 ? stdout : NULL};
}

/* Continue from the trial's checkpoint if every rank of the group can read
 * it; otherwise (a checkpoint cut short by a kill) start afresh. */
static Trainer *resume(TrialRun *x, Trainer *tr, const TrainConfig *cfg, ErrBuf *e) {
    Run *r = x->r;
    if (access(x->ckpt, F_OK) != 0) return tr;
    ErrBuf ce = {{0}};
    int ok = trainer_load_state(tr, x->ckpt, x->key, &ce) == HIPID_OK;
    int all_ok = 0;
    MPI_Request q;
    MPI_Iallreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, r->c.group, &q);
    wait_group(r, &q, "the checkpoint check");
    if (all_ok) return tr;
    if (r->c.grank == 0)
        fprintf(stderr, "hipid sweep: %s; restarting the trial\n", ok ? "checkpoint unreadable on a peer" : ce.msg);
    trainer_free(tr);
    return trainer_create(cfg, study_data(&r->st, x->t->family), x->p.train, x->p.n_train, x->p.val, x->p.n_val, e);
}

/* A trained trial: last weights first, then the best (by validation loss)
 * and their predictions, computed by the whole group, written by its leader.
 * A trial paused at a rung (paused) keeps its checkpoint for the next rung. */
static void finish_done(TrialRun *x, Trainer *tr, int paused) {
    Run *r = x->r;
    const Dataset *d = study_data(&r->st, x->t->family);
    const TrialParts *p = &x->p;
    int K = d->n_classes, chunk = x->h->micro_batch > 0 ? x->h->micro_batch : x->h->batch;
    char tmp[1500];
    ErrBuf e = {{0}};
    hid_t f = H5I_INVALID_HID;
    int ok = 1;
    if (r->c.grank == 0) {
        f = trialfile_create(tmp, sizeof tmp, x->path, &e);
        ok = f >= 0 && trialfile_write_weights(f, "last", tr->m) == HIPID_OK;
    }
    trainer_use_best(tr);
    float *zv = xmalloc_f32((size_t)(p->n_val ? p->n_val : 1) * K), *zt = xmalloc_f32((size_t)(p->n_test ? p->n_test : 1) * K);
    TrainComm gc = group_comm(r);
    train_logits(zv, tr->m, d, p->val, p->n_val, chunk, x->h->tta, &gc);
    train_logits(zt, tr->m, d, p->test, p->n_test, chunk, x->h->tta, &gc);
    if (r->c.grank == 0) {
        TrialRecord o = trial_record(x, p, now_seconds() - x->t0);
        o.state = "done";
        o.reason = "";
        o.tr = tr;
        o.budget = paused ? x->budget : 0;
        o.val_logits = zv;
        o.test_logits = zt;
        train_score(&o.val_loss, &o.val_acc, zv, d->labels, p->val, p->n_val, K, NULL);
        train_score(&o.test_loss, &o.test_acc, zt, d->labels, p->test, p->n_test, K, NULL);
        ok = ok && trialfile_write_weights(f, "best", tr->m) == HIPID_OK && trialfile_write_record(f, &o) == HIPID_OK;
        if (f < 0 || trialfile_finish(f, ok, tmp, x->path, &e) != HIPID_OK) {
            fprintf(stderr, "hipid sweep: %s\n", e.msg);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        if (!paused) remove(x->ckpt);
    }
    free(zv);
    free(zt);
}

/* Returns RUN_DONE, RUN_FAILED or RUN_STOPPED (same on every rank). */
static int run_trial(Run *r, int idx, int budget) {
    const Study *st = &r->st;
    TrialRun x = {.r = r, .t = &st->plan[idx], .t0 = now_seconds(), .budget = budget};
    x.h = &st->job.families[x.t->family].configs[x.t->config];
    job_trial_key(x.key, sizeof x.key, &st->job, x.t, st->checksum);
    study_trial_path(x.ckpt, sizeof x.ckpt, st, x.t, ".ckpt.h5");
    study_trial_path(x.path, sizeof x.path, st, x.t, ".h5");
    status_progress_path(x.progress, sizeof x.progress, st, x.t);
    TrialSummary cur; /* from the file, on every rank: a staged search may retry a trial within one run */
    trialfile_summary(&cur, x.path, x.t->hash);
    x.attempts = (cur.state == TRIAL_FAILED ? cur.attempts : 0) + 1;
    r->comm_seconds = 0.0;
    r->trial = idx;
    ErrBuf e = {{0}};
    if (study_trial_parts(&x.p, st, x.t, &e) != HIPID_OK) { /* validated up front; only a changed data set gets here */
        if (r->c.grank == 0) write_failed(&x, NULL, 0.0, e.msg);
        study_free_parts(&x.p);
        return RUN_FAILED;
    }
    TrainConfig cfg = train_config(r, x.t, x.h);
    Model *start = NULL; /* fine-tuning: the weights to start from, read by every rank */
    if (x.h->init[0]) start = model_load(x.h->init, 1, 1, &e); /* its errors name the file */
    cfg.init = start;
    Trainer *tr = start || !x.h->init[0] ? trainer_create(&cfg, study_data(st, x.t->family), x.p.train, x.p.n_train, x.p.val, x.p.n_val, &e)
                                         : NULL;
    int status = RUN_FAILED;
    if (!tr) {
        if (r->c.grank == 0) write_failed(&x, &x.p, now_seconds() - x.t0, e.msg);
        goto done;
    }
    tr = resume(&x, tr, &cfg, &e);
    x.tr = tr;
    if (budget > 0 && budget < cfg.epochs) tr->pause_at = budget;
    TrainComm gc = group_comm(r);
    int rc = trainer_run(tr, &gc, poll_cb, ckpt_cb, &x, st->job.checkpoint_every, &e);
    progress_note(&x); /* the last epochs, before the master learns that the trial ended */
    int paused = rc == TRAIN_DONE && tr->epoch < cfg.epochs && !tr->stopped_early;
    if (rc == TRAIN_STOPPED) {
        status = RUN_STOPPED;
    } else if (rc != TRAIN_DONE) {
        if (r->c.grank == 0) write_failed(&x, &x.p, now_seconds() - x.t0, e.msg);
    } else {
        /* at a rung: the state to continue from, before the best weights replace the last */
        if (paused && ckpt_cb(&x, tr, &e) != HIPID_OK) paused = 0;
        finish_done(&x, tr, paused);
        status = RUN_DONE;
    }
done:
    trainer_free(tr);
    model_free(start);
    study_free_parts(&x.p);
    r->busy += now_seconds() - x.t0;
    r->trial = -1;
    return status;
}

/* ---- the master ---- */

static void master_notify_halt(Run *r) {
    if (r->halting) return;
    r->halting = 1;
    for (int g = 1; g < r->c.n_groups; g++) {
        int v = 1;
        if (r->m.running[g] >= 0) MPI_Send(&v, 1, MPI_INT, r->m.leaders[g], TAG_HALT, MPI_COMM_WORLD);
    }
}

static void print_status(const Run *r) {
    if (r->o->quiet) return;
    const Master *m = &r->m;
    int running = 0;
    for (int g = 0; g < r->c.n_groups; g++) running += m->running[g] >= 0;
    int left = r->n_runs - m->n_finished - running; /* over all phases of this run */
    if (left < 0) left = 0;                         /* staged: n_todo is an upper bound */
    double el = now_seconds() - r->t0;
    int done = m->n_finished;
    char a[32], b[32];
    study_format_duration(a, sizeof a, el);
    study_format_duration(b, sizeof b, done > 0 ? el / done * (left + running) : NAN);
    printf("        done %d, running %d, failed %d, left %d; elapsed %s, ETA %s\n", done, running, m->n_failed,
           left, a, b);
    fflush(stdout);
}

/* A group reported trial idx with status st. */
static void master_record(Run *r, int idx, int st, int group) {
    if (idx < 0 || st == RUN_NONE) return;
    Master *m = &r->m;
    m->running[group] = -1;
    if (st == RUN_STOPPED) status_html_ended(r->page, idx, 1);
    if (st == RUN_STOPPED) {
        r->stopped = 1;
        master_notify_halt(r);
        return;
    }
    char path[1400], label[128];
    const Trial *t = &r->st.plan[idx];
    study_trial_path(path, sizeof path, &r->st, t, ".h5");
    trialfile_summary(&r->sum[idx], path, t->hash);
    const TrialSummary *s = &r->sum[idx];
    if (r->n_hv > 0) { /* a failed trial scores +inf now; a rerun retries it */
        double metric = INFINITY;
        if (!trialfile_rung_metric(path, t->hash, m->given[idx], r->st.job.metric, -1, &metric)) metric = INFINITY;
        halving_done(r->hv[r->n_hv - 1], idx, metric);
    }
    m->n_finished++;
    if (s->state != TRIAL_DONE) m->n_failed++;
    job_trial_label(label, sizeof label, &r->st.job, t);
    char rung[48] = "";
    if (s->budget > 0) snprintf(rung, sizeof rung, "  (rung: %d epochs)", s->budget);
    if (!r->o->quiet) {
        if (s->state == TRIAL_DONE)
            printf("[%4d/%d] %-24s test acc %.3f  val acc %.3f  best epoch %d  %.1fs  %d rank(s)%s\n", m->n_finished,
                   r->n_runs, label, s->test_acc, s->val_acc, s->best_epoch, s->seconds, s->ranks, rung);
        else
            printf("[%4d/%d] %-24s FAILED (attempt %d): %s\n", m->n_finished, r->n_runs, label, s->attempts,
                   s->reason);
        print_status(r);
    }
    write_index(r, NULL, NULL);
    status_html_ended(r->page, idx, 0);
}

/* Group g was handed trial idx (or told the phase is over, idx < 0). */
static void master_assign(Run *r, int g, int idx) {
    Master *m = &r->m;
    m->running[g] = idx >= 0 ? idx : -1;
    if (idx < 0) return;
    int end = g + 1 < r->c.n_groups ? m->leaders[g + 1] : r->c.size;
    status_html_started(r->page, idx, m->leaders[g], end - m->leaders[g]);
}

static int master_next(Run *r) {
    if (g_signal) master_notify_halt(r);
    if (r->halting) return ASSIGN_HALT;
    r->m.budget = 0;
    if (r->n_hv > 0) {
        int idx = -1, rc = halving_next(r->hv[r->n_hv - 1], &idx, &r->m.budget);
        if (rc == HALVING_WAIT) return ASSIGN_WAIT;
        if (rc == HALVING_END) return ASSIGN_END;
        r->m.given[idx] = r->m.budget;
        return idx;
    }
    return r->m.next < r->m.n_queue ? r->m.queue[r->m.next++] : ASSIGN_END;
}

/* Ranks waiting at the end of the phase (their group has ended; group 0's
 * members once the master is there too) hear from the master every
 * min(limit / 4, 5 s), so they can tell a master still serving from a frozen
 * one. */
static void master_beat_waiting(Run *r) {
    Master *m = &r->m;
    double lim = stall_limit(r), now = now_seconds();
    if (lim <= 0 || now - m->mbeat_sent <= fmin(lim / 4, 5.0)) return;
    for (int k = 1; k < r->c.size; k++) {
        int g = k / m->rpt, v = 0;
        if (g == 0 ? m->all_ended : m->ended[g]) MPI_Send(&v, 1, MPI_INT, k, TAG_MBEAT, MPI_COMM_WORLD);
    }
    m->mbeat_sent = now;
}

/* Heartbeats received; a group silent past the stall limit stops the job. */
static void master_watch(Run *r) {
    Master *m = &r->m;
    master_beat_waiting(r);
    int flag = 1;
    MPI_Status st;
    while (flag) {
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_BEAT, MPI_COMM_WORLD, &flag, &st);
        if (!flag) break;
        int g;
        MPI_Recv(&g, 1, MPI_INT, st.MPI_SOURCE, TAG_BEAT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (g > 0 && g < r->c.n_groups) m->heard[g] = now_seconds();
    }
    double lim = stall_limit(r), now = now_seconds();
    for (int g = 1; g < r->c.n_groups && lim > 0; g++) {
        if (m->running[g] < 0 || now - m->heard[g] <= lim) continue;
        char msg[512], label[128];
        int L = m->leaders[g];
        trial_label(label, sizeof label, r, m->running[g]);
        snprintf(msg, sizeof msg, "(the master) heard nothing for %.0f s from rank %d (host %s), leading group %d "
                 "on trial %s", now - m->heard[g], L, r->hosts[L], g, label);
        stall_abort(r, msg);
    }
}

/* Answer pending requests; with block, until every other group has ended. */
static void master_serve(Run *r, int block) {
    Master *m = &r->m;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (g_signal) master_notify_halt(r);
        master_watch(r);
        status_html_tick(r->page);
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQ, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            if (!block || m->active == 0) return;
            nap();
            continue;
        }
        int msg[3];
        MPI_Recv(msg, 3, MPI_INT, st.MPI_SOURCE, TAG_REQ, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        master_record(r, msg[1], msg[2], msg[0]);
        int next = master_next(r);
        if (next >= 0) master_assign(r, msg[0], next);
        else if (next != ASSIGN_WAIT) m->active--, m->ended[msg[0]] = 1;
        m->heard[msg[0]] = now_seconds();
        int out[2] = {next, m->budget};
        MPI_Send(out, 2, MPI_INT, st.MPI_SOURCE, TAG_ASSIGN, MPI_COMM_WORLD);
    }
}

static int master_poll(Run *r) {
    master_serve(r, 0);
    return g_signal != 0 || r->halting;
}

/* ---- phases ---- */

/* Groups of rpt ranks for this phase; the master's queue. */
static void phase_begin(Run *r, int rpt, const int *phase_todo, int n_phase) {
    Comm *c = &r->c;
    c->group_id = c->rank / rpt;
    c->n_groups = (c->size + rpt - 1) / rpt;
    MPI_Comm_split(MPI_COMM_WORLD, c->group_id, c->rank, &c->group);
    MPI_Comm_rank(c->group, &c->grank);
    MPI_Comm_size(c->group, &c->gsize);
    if (c->rank != 0) return;
    Master *m = &r->m;
    m->leaders = xmalloc(sizeof(int) * c->n_groups);
    for (int g = 0; g < c->n_groups; g++) m->leaders[g] = g * rpt;
    m->queue = phase_todo;
    m->n_queue = n_phase;
    m->next = 0;
    m->active = c->n_groups - 1;
    m->running = xmalloc(sizeof(int) * c->n_groups);
    m->heard = xmalloc(sizeof(double) * c->n_groups);
    m->ended = xcalloc(c->n_groups, sizeof(int));
    m->rpt = rpt;
    m->all_ended = 0;
    free(m->given);
    m->given = xcalloc(r->st.n_plan + 1, sizeof(int));
    m->mbeat_sent = now_seconds();
    for (int g = 0; g < c->n_groups; g++) m->running[g] = -1, m->heard[g] = now_seconds();
}

/* The master: one message of n doubles from every other rank on tag (into
 * got[k * n], if got is not NULL), waiting at most the stall limit from now
 * and naming the ranks that never sent; with watch, the phase's watchdog
 * (heartbeats to ranks waiting, leaders' heartbeats) runs meanwhile. */
static void master_collect(Run *r, int tag, double *got, int n, int watch, const char *where) {
    int size = r->c.size, have = 1;
    double t0 = now_seconds(), lim = stall_limit(r), v[8];
    char *in = xcalloc(size, 1);
    HIPID_CHECK(n <= 8);
    while (have < size) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, &st);
        if (flag) {
            int k = st.MPI_SOURCE;
            MPI_Recv(got ? got + (size_t)k * n : v, n, MPI_DOUBLE, k, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            have += !in[k];
            in[k] = 1;
            continue;
        }
        if (lim > 0 && now_seconds() - t0 > lim) {
            char msg[1600];
            size_t o = (size_t)snprintf(msg, sizeof msg, "(the master) waited %.0f s %s for ", now_seconds() - t0,
                                        where);
            for (int k = 1, m = 0; k < size && o < sizeof msg; k++)
                if (!in[k])
                    o += (size_t)snprintf(msg + o, sizeof msg - o, "%srank %d (host %s)", m++ ? ", " : "", k,
                                          r->hosts[k]);
            stall_abort(r, msg);
        }
        if (watch) master_watch(r);
        nap();
    }
    free(in);
}

/* The master, once every group has ended: each rank's arrival, then GO to
 * all. Ranks waiting meanwhile keep getting heartbeats. */
static void master_gather(Run *r) {
    int v = 0;
    master_collect(r, TAG_ARRIVE, NULL, 1, 1, "at the end of the phase");
    for (int k = 1; k < r->c.size; k++) MPI_Send(&v, 1, MPI_INT, k, TAG_GO, MPI_COMM_WORLD);
}

/* Any other rank: arrive, then wait for GO, hearing from the master at
 * least every stall limit (it may be serving groups that still train). */
static void await_go(Run *r) {
    int v = r->c.rank, flag = 0;
    double heard = now_seconds(), lim = stall_limit(r), me = r->c.rank;
    MPI_Send(&me, 1, MPI_DOUBLE, 0, TAG_ARRIVE, MPI_COMM_WORLD);
    for (;;) {
        MPI_Iprobe(0, TAG_GO, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        if (flag) break;
        MPI_Iprobe(0, TAG_MBEAT, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        if (flag) {
            MPI_Recv(&v, 1, MPI_INT, 0, TAG_MBEAT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            heard = now_seconds();
            continue;
        }
        if (lim > 0 && now_seconds() - heard > lim) {
            char msg[512];
            snprintf(msg, sizeof msg, "waited %.0f s at the end of the phase for rank 0 (host %s), the master",
                     now_seconds() - heard, r->hosts[0]);
            stall_abort(r, msg);
        }
        nap();
    }
    MPI_Recv(&v, 1, MPI_INT, 0, TAG_GO, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    /* heartbeats sent before GO arrived before it: none is left for the next phase */
    for (flag = 1; flag;) {
        MPI_Iprobe(0, TAG_MBEAT, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
        if (flag) MPI_Recv(&v, 1, MPI_INT, 0, TAG_MBEAT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
}

/* Every group has ended; halt notices that crossed a last request are gone. */
static void phase_end(Run *r) {
    Comm *c = &r->c;
    if (c->rank == 0) {
        /* halt notices go to leaders still training */
        r->m.all_ended = 1; /* group 0's other members wait here from now on */
        master_serve(r, 1);
        master_gather(r);
        free(r->m.running);
        free(r->m.leaders);
        free(r->m.heard);
        free(r->m.ended);
        r->m.running = r->m.leaders = r->m.ended = NULL;
        r->m.heard = NULL;
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
    if (c->rank == 0) { /* heartbeats sent after the master's last look */
        int flag = 1, g;
        while (flag) {
            MPI_Iprobe(MPI_ANY_SOURCE, TAG_BEAT, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
            if (flag) MPI_Recv(&g, 1, MPI_INT, MPI_ANY_SOURCE, TAG_BEAT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
    }
    if (c->rank != 0) await_go(r);
    MPI_Comm_free(&c->group);
}

/* Run the todo trials of families with ranks_per_trial rpt. */
static void run_phase(Run *r, int rpt, const int *phase_todo, int n_phase) {
    Comm *c = &r->c;
    phase_begin(r, rpt > c->size ? c->size : rpt, phase_todo, n_phase);
    int last = -1, last_st = RUN_NONE;
    for (;;) {
        int asg[2] = {ASSIGN_END, 0}; /* trial, budget */
        if (c->grank == 0) {
            if (c->rank == 0) {
                asg[0] = master_next(r);
                asg[1] = r->m.budget;
                master_assign(r, 0, asg[0] == ASSIGN_WAIT ? -1 : asg[0]);
            } else {
                int msg[3] = {c->group_id, last, last_st};
                MPI_Send(msg, 3, MPI_INT, 0, TAG_REQ, MPI_COMM_WORLD);
                MPI_Request req;
                char who[160];
                snprintf(who, sizeof who, "rank 0 (host %s), the master,", r->hosts[0]);
                MPI_Irecv(asg, 2, MPI_INT, 0, TAG_ASSIGN, MPI_COMM_WORLD, &req);
                wait_peer(r, &req, "its request for the next trial", who);
            }
        }
        bcast_int(r, &asg[0], "the group's wait for its next trial");
        bcast_int(r, &asg[1], "the group's wait for its next trial");
        int idx = asg[0];
        if (idx == ASSIGN_WAIT) { /* halving: the rung waits for trials of other groups */
            last = -1, last_st = RUN_NONE;
            if (c->rank == 0) master_serve(r, 0);
            for (int k = 0; k < (c->rank == 0 ? 1 : 20); k++) nap();
            continue;
        }
        if (idx < 0) break;
        last = idx;
        last_st = run_trial(r, idx, asg[1]);
        if (last_st == RUN_STOPPED) r->stopped = 1;
        if (c->rank == 0) master_record(r, idx, last_st, 0);
    }
    phase_end(r);
}

/* Rank 0, staged searches: has plan trial idx a result at `epochs` on disk? */
static int search_lookup(void *ctx, int idx, int epochs, double *metric) {
    const Run *r = ctx;
    char path[1400];
    study_trial_path(path, sizeof path, &r->st, &r->st.plan[idx], ".h5");
    return trialfile_rung_metric(path, r->st.plan[idx].hash, epochs, r->st.job.metric, r->st.job.retries, metric);
}

/* Rank 0: the phase's halving engine (the plan was checked: it cannot fail
 * but on a changed data set, which stops the job). */
static Halving *search_engine(Run *r, const int *phase, int n_phase) {
    ErrBuf e = {{0}};
    Halving *h = halving_create(&r->st.job, r->st.plan, r->st.n_plan, phase, n_phase, search_lookup, r, &e);
    if (!h) {
        fprintf(stderr, "hipid sweep: %s\n", e.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return h;
}

/* Rank 0, after a phase: rung checkpoints of configurations that stopped
 * before their bracket's last rung are never continued (the decisions are
 * the same on a rerun; were one continued after all, it would train from the
 * start to the same result). */
static void drop_checkpoints(const Run *r, const Halving *h) {
    int n = r->st.n_plan, *bud = xmalloc(sizeof(int) * (n + 1)), *pr = xcalloc(n + 1, sizeof(int));
    halving_trial_states(h, bud, pr);
    for (int i = 0; i < n; i++) {
        char ckpt[1400];
        if (!pr[i]) continue;
        study_trial_path(ckpt, sizeof ckpt, &r->st, &r->st.plan[i], ".ckpt.h5");
        remove(ckpt);
    }
    free(bud);
    free(pr);
}

/* One phase per distinct ranks_per_trial, in family order, until a stop. */
static void run_phases(Run *r) {
    const Job *j = &r->st.job;
    int *phase = xmalloc(sizeof(int) * (r->st.n_plan ? r->st.n_plan : 1));
    for (int f = 0; f < j->n_families; f++) {
        int rpt = j->families[f].ranks_per_trial, seen = 0;
        for (int g = 0; g < f; g++) seen |= j->families[g].ranks_per_trial == rpt;
        if (seen) continue;
        int n_phase = 0;
        if (JOB_STAGED(j)) { /* the engine decides what runs; every trial of the phase is its to look up */
            for (int i = 0; i < r->st.n_plan; i++)
                if (j->families[r->st.plan[i].family].ranks_per_trial == rpt) phase[n_phase++] = i;
        } else {
            for (int i = 0; i < r->n_todo; i++)
                if (j->families[r->st.plan[r->todo[i]].family].ranks_per_trial == rpt) phase[n_phase++] = r->todo[i];
        }
        int halt = r->halting || r->stopped;
        MPI_Request q;
        MPI_Iallreduce(MPI_IN_PLACE, &halt, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &q);
        wait_peer(r, &q, "the check for a stop before a phase", "every other rank");
        if (halt) break;
        if (n_phase > 0 && JOB_STAGED(j) && r->c.rank == 0) r->hv[r->n_hv++] = search_engine(r, phase, n_phase);
        if (n_phase > 0) run_phase(r, rpt, phase, n_phase);
        if (n_phase > 0 && JOB_STAGED(j) && r->c.rank == 0) drop_checkpoints(r, r->hv[r->n_hv - 1]);
    }
    free(phase);
}

/* ---- the run ---- */

/* Rank 0, before anything is written: the results folder is this run's.
 * A whole sweep takes RESULTS/sweep.lock exclusively; --shard I/N takes it
 * shared (the shards of one array run side by side) and
 * RESULTS/sweep.shard-I-of-N.lock exclusively, so a whole sweep and a
 * shard, or one shard twice, exclude each other. A dead holder's lock is
 * taken over with a note naming it. */
static int lock_results(Run *r, ErrBuf *e) {
    const char *out = r->st.out;
    int sharded = r->o->n_shards > 1;
    char path[1200], what[1300], stale[256];
    if (mkdir_p(out, e) != HIPID_OK) return HIPID_ERR;
    snprintf(path, sizeof path, "%s/sweep.lock", out);
    snprintf(what, sizeof what, "results folder %s", out);
    if (fsafe_lock(&r->lock, path, what, sharded, stale, e) != HIPID_OK) return HIPID_ERR;
    if (stale[0]) fprintf(stderr, "hipid sweep: note: took over the lock %s from %s (no longer running)\n", path, stale);
    if (!sharded) return HIPID_OK;
    snprintf(path, sizeof path, "%s/sweep.shard-%d-of-%d.lock", out, r->o->shard, r->o->n_shards);
    snprintf(what, sizeof what, "shard %d/%d of results folder %s", r->o->shard, r->o->n_shards, out);
    if (fsafe_lock(&r->shard_lock, path, what, 0, stale, e) != HIPID_OK) {
        fsafe_unlock(&r->lock);
        return HIPID_ERR;
    }
    if (stale[0]) fprintf(stderr, "hipid sweep: note: took over the lock %s from %s (no longer running)\n", path, stale);
    return HIPID_OK;
}

/* Rank 0: release the folder. The last shard out empties the shared lock
 * file as an exclusive holder would (fsafe_unlock leaves a shared holder's
 * line, which the next sweep would report as a stale holder). */
static void unlock_results(Run *r) {
    if (r->lock.fd >= 0 && r->lock.shared && flock(r->lock.fd, LOCK_EX | LOCK_NB) == 0 &&
        ftruncate(r->lock.fd, 0) != 0) {
        /* only the holder's line stays: harmless */
    }
    fsafe_unlock(&r->shard_lock);
    fsafe_unlock(&r->lock);
}

/* Steps 2 to 4 and rank 0's scan of the results folder: 0 to go on, else
 * HIPID_EXIT_FAIL (printed). */
static int prepare(Run *r, ErrBuf *e) {
    Study *st = &r->st;
    int root = r->c.rank == 0, dry = r->o->dry_run;
    /* 2. the data (the job's and the families' own): built by rank 0 if the
     * job says how, then read by all */
    int exists = !study_data_missing(st);
    st->dry_run = dry;
    int rc = root && !exists && !dry ? study_build_data(st, e) : HIPID_OK;
    if (bcast_status(rc, e, MPI_COMM_WORLD) != HIPID_OK) {
        if (root) fprintf(stderr, "hipid sweep: %s\n", e->msg);
        return HIPID_EXIT_FAIL;
    }
    int ok = 1, all_ok;
    if (!dry || access(st->job.data, F_OK) == 0) ok = study_load_data(st, e) == HIPID_OK;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all_ok) {
        if (!ok) fprintf(stderr, "hipid sweep: %s\n", e->msg);
        return HIPID_EXIT_FAIL;
    }
    /* 3. the plan, checked trial by trial for splits that cannot be made */
    if (study_expand(st, e) != HIPID_OK) {
        if (root) fprintf(stderr, "hipid sweep: %s\n", e->msg);
        return HIPID_EXIT_FAIL;
    }
    r->sum = xcalloc(st->n_plan ? st->n_plan : 1, sizeof(TrialSummary));
    rc = root && st->have_data ? study_check_plan(st, e) : HIPID_OK;
    /* 4. the results folder */
    if (rc == HIPID_OK && root && !dry) rc = study_check_output(st, e);
    if (bcast_status(rc, e, MPI_COMM_WORLD) != HIPID_OK) {
        if (root) fprintf(stderr, "hipid sweep: %s\n", e->msg);
        return HIPID_EXIT_FAIL;
    }
    if (root) {
        r->todo = xmalloc(sizeof(int) * (st->n_plan ? st->n_plan : 1));
        r->n_todo = study_scan(r->sum, r->todo, st, r->o->shard, r->o->n_shards);
    }
    return 0;
}

/* An allreduce as a training step does it (non-blocking, driven by
 * MPI_Test; wait_peer), without the watchdog; seconds it took. */
static double timed_iallreduce(int64_t *v, long n) {
    double t0 = now_seconds();
    MPI_Request q;
    int done = 0;
    MPI_Iallreduce(MPI_IN_PLACE, v, (int)n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD, &q);
    while (!done) {
        MPI_Test(&q, &done, MPI_STATUS_IGNORE);
        if (!done) sched_yield();
    }
    return now_seconds() - t0;
}

/* --dry-run: the link between the ranks, measured when there are peers
 * (latency from 200 one-value allreduces, bandwidth from three of 16 MB,
 * both non-blocking as in training and read through estimate_allreduce's
 * ring model), or as stated; then rank 0 prints the estimate. */
static int dry_run(Run *r) {
    EstLink link = EST_LINK_DEFAULT;
    int p = r->c.size;
    if (p > 1) {
        long n = 1 << 21;
        int64_t *v = xcalloc(n, sizeof(int64_t));
        timed_iallreduce(v, n); /* warm-up: connections, buffers */
        MPI_Barrier(MPI_COMM_WORLD);
        double small = 0.0, big = 0.0;
        for (int k = 0; k < 200; k++) small += timed_iallreduce(v, 1) / 200;
        for (int k = 0; k < 3; k++) big += timed_iallreduce(v, n) / 3;
        free(v);
        double lat = small / (2.0 * (p - 1)), wire = big - 2.0 * (p - 1) * lat;
        link.us = lat * 1e6;
        link.gbit = 2.0 * (p - 1) / p * n * 8.0 * 8.0 / (wire > 0 ? wire : big) / 1e9;
        link.source = EST_LINK_MEASURED;
    }
    if (r->o->link_gbit > 0) link.gbit = r->o->link_gbit, link.source = EST_LINK_STATED;
    if (r->o->link_us > 0) link.us = r->o->link_us, link.source = EST_LINK_STATED;
    if (r->c.rank == 0) study_print_estimate(&r->st, r->n_todo, p, &link);
    if (r->c.rank == 0 && JOB_STAGED(&r->st.job)) { /* brackets, rungs, and the epochs against the grid's */
        int *all = xmalloc(sizeof(int) * (r->st.n_plan + 1));
        for (int i = 0; i < r->st.n_plan; i++) all[i] = i;
        halving_print_plan(&r->st.job, r->st.plan, all, r->st.n_plan);
        free(all);
    }
    return 0;
}

/* Rank 0: status.html, written once now, its path printed. A folder that
 * refuses it costs the page, not the sweep. */
static void page_open(Run *r) {
    ErrBuf e = {{0}};
    r->page = status_html_create(&r->st, r->o->shard, r->o->n_shards, r->sum, r->todo, r->n_todo, r->c.size, r->hosts[0], HOST_LEN, &e);
    if (r->page && r->o->status_every > 0) status_html_set_every(r->page, r->o->status_every);
    if (r->page && status_html_write(r->page, STATUS_RUNNING, NULL, NULL, &e) != HIPID_OK) {
        status_html_free(r->page);
        r->page = NULL;
    }
    if (!r->page) {
        fprintf(stderr, "hipid sweep: %s (no status page)\n", e.msg);
        return;
    }
    char abs[PATH_MAX];
    const char *p = status_html_path(r->page);
    if (!r->o->quiet) printf("status page: %s (rewritten every %g s while the sweep runs)\n", realpath(p, abs) ? abs : p,
                             r->o->status_every > 0 ? r->o->status_every : STATUS_HTML_EVERY);
    fflush(stdout);
}

/* 5. Every rank learns the todo list and the states rank 0 found (the
 * attempts of failed trials); rank 0 says what is ahead. */
static void share_plan(Run *r) {
    MPI_Bcast(&r->n_todo, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (r->c.rank != 0) r->todo = xmalloc(sizeof(int) * (r->n_todo ? r->n_todo : 1));
    MPI_Bcast(r->todo, r->n_todo, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(r->sum, (int)(sizeof(TrialSummary) * r->st.n_plan), MPI_BYTE, 0, MPI_COMM_WORLD);
    if (r->c.rank != 0) return;
    r->n_runs = r->n_todo;
    if (JOB_STAGED(&r->st.job)) { /* the engine looks every trial up; count its runs (rungs) at most */
        int *all = xmalloc(sizeof(int) * (r->st.n_plan + 1)), runs = 0;
        double grid, hv;
        for (int i = 0; i < r->st.n_plan; i++) all[i] = i;
        halving_expected(&r->st.job, r->st.plan, all, r->st.n_plan, &grid, &hv, &runs);
        free(all);
        r->n_runs = runs;
    }
    int done = 0, failed = 0;
    for (int i = 0; i < r->st.n_plan; i++) done += r->sum[i].state == TRIAL_DONE, failed += r->sum[i].state == TRIAL_FAILED;
    printf("sweep %s: %d trials (%d done, %d failed before), %d to run on %d rank(s), %d thread(s) each\n",
           r->st.job.name, r->st.n_plan, done, failed, r->n_todo, r->c.size, r->st.threads);
    fflush(stdout);
    write_index(r, NULL, NULL);
    if (!r->o->no_status) page_open(r);
}

/* Rank 0: the page's last version (no more reloading), then it is gone. */
static void page_close(Run *r, int stopped, const double *busy, const double *elapsed) {
    ErrBuf e = {{0}};
    if (r->page && status_html_write(r->page, stopped ? STATUS_INTERRUPTED : STATUS_FINISHED, busy, elapsed, &e) != HIPID_OK)
        fprintf(stderr, "hipid sweep: %s\n", e.msg);
    status_html_free(r->page);
    r->page = NULL;
}

/* Every rank's busy and elapsed seconds to the master (busy, elapsed: rank
 * 0's arrays of size ranks) and the stop flag's maximum back to all, point to
 * point so that the master can name a rank that never sends (frozen after
 * the last phase) and a rank can name a master that never answers; each
 * wait is bounded by the stall limit. */
static void closing_exchange(Run *r, double *busy, double *elapsed, double el, int *stopped) {
    int n = r->c.size;
    if (r->c.rank != 0) {
        double mine[3] = {r->busy, el, *stopped}, verdict = 0;
        MPI_Request q;
        MPI_Send(mine, 3, MPI_DOUBLE, 0, TAG_TIMES, MPI_COMM_WORLD);
        MPI_Irecv(&verdict, 1, MPI_DOUBLE, 0, TAG_TIMES, MPI_COMM_WORLD, &q);
        char who[160];
        snprintf(who, sizeof who, "rank 0 (host %s), the master,", r->hosts[0]);
        wait_peer(r, &q, "the closing exchange of busy times", who);
        *stopped = verdict != 0;
        return;
    }
    double (*got)[3] = xcalloc(n, sizeof *got);
    master_collect(r, TAG_TIMES, got[0], 3, 0, "in the closing exchange");
    busy[0] = r->busy, elapsed[0] = el;
    for (int k = 1; k < n; k++) {
        busy[k] = got[k][0], elapsed[k] = got[k][1];
        *stopped |= got[k][2] != 0;
    }
    double verdict = *stopped;
    for (int k = 1; k < n; k++) MPI_Send(&verdict, 1, MPI_DOUBLE, k, TAG_TIMES, MPI_COMM_WORLD);
    free(got);
}

/* 7. The index with busy time per rank, the summary, the verdict. */
static int finish(Run *r) {
    double el = now_seconds() - r->t0, *busy = NULL, *elapsed = NULL;
    if (r->c.rank == 0) {
        busy = xmalloc(sizeof(double) * r->c.size);
        elapsed = xmalloc(sizeof(double) * r->c.size);
    }
    int stopped = r->stopped || r->halting;
    closing_exchange(r, busy, elapsed, el, &stopped);
    if (r->c.rank == 0) {
        study_rescan(r->sum, &r->st); /* shards may share the folder */
        write_index(r, busy, elapsed);
        page_close(r, stopped, busy, elapsed);
        study_print_summary(&r->st, r->sum);
        printf("busy:");
        for (int k = 0; k < r->c.size; k++) printf(" rank %d %.0f%%", k, 100.0 * busy[k] / (elapsed[k] > 0 ? elapsed[k] : 1));
        printf(" of %.1f s\n", el);
        if (stopped) printf("interrupted: checkpoints written; rerun the same command to resume\n");
    }
    free(busy);
    free(elapsed);
    return stopped ? SWEEP_EXIT_INTERRUPTED : 0;
}

/* Every rank's host name, for the watchdog's messages. */
static void gather_hosts(Run *r) {
    char me[MPI_MAX_PROCESSOR_NAME] = "";
    int len = 0;
    MPI_Get_processor_name(me, &len);
    char mine[HOST_LEN] = "";
    memcpy(mine, me, strnlen(me, HOST_LEN - 1)); /* a longer name is cut: it only labels messages */
    r->hosts = xcalloc((size_t)r->c.size, HOST_LEN);
    MPI_Allgather(mine, HOST_LEN, MPI_CHAR, r->hosts, HOST_LEN, MPI_CHAR, MPI_COMM_WORLD);
}

/* --reindex of a staged search: every decision the trial files allow, taken
 * again (trials that would have to run are left open). */
static void replay_search(Run *r) {
    const Job *j = &r->st.job;
    if (!JOB_STAGED(j)) return;
    int *phase = xmalloc(sizeof(int) * (r->st.n_plan + 1));
    for (int f = 0; f < j->n_families; f++) {
        int rpt = j->families[f].ranks_per_trial, seen = 0, n_phase = 0;
        for (int g = 0; g < f; g++) seen |= j->families[g].ranks_per_trial == rpt;
        if (seen) continue;
        for (int i = 0; i < r->st.n_plan; i++)
            if (j->families[r->st.plan[i].family].ranks_per_trial == rpt) phase[n_phase++] = i;
        Halving *h = search_engine(r, phase, n_phase);
        int idx, budget;
        while (halving_next(h, &idx, &budget) == 0) {} /* handed out, never done: stays open */
        r->hv[r->n_hv++] = h;
    }
    free(phase);
}

static int train_all(Run *r) {
    gather_hosts(r);
    r->trial = -1;
    share_plan(r);
    r->t0 = now_seconds();
    signal(SIGUSR1, on_signal);
    signal(SIGTERM, on_signal);
    /* 6. one phase per distinct ranks_per_trial */
    run_phases(r);
    return finish(r);
}

int scheduler_run(const SweepOptions *o) {
    Run r = {.o = o};
    MPI_Comm_rank(MPI_COMM_WORLD, &r.c.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r.c.size);
    ErrBuf e = {{0}};
    /* 1. the job: rank 0 parses and validates, everyone learns the verdict */
    int rc = r.c.rank == 0 ? study_load_job(&r.st, o->job_path, &e) : HIPID_OK;
    if (bcast_status(rc, &e, MPI_COMM_WORLD) != HIPID_OK) {
        if (r.c.rank == 0) fprintf(stderr, "hipid sweep: %s\n", e.msg);
        return HIPID_EXIT_USAGE;
    }
    if (r.c.rank != 0 && study_load_job(&r.st, o->job_path, &e) != HIPID_OK) {
        fprintf(stderr, "hipid sweep: rank %d: %s (the file changed under us?)\n", r.c.rank, e.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (JOB_STAGED(&r.st.job) && o->n_shards > 1) { /* known on every rank: the job file was read by all */
        if (r.c.rank == 0)
            fprintf(stderr, "hipid sweep: --shard %d/%d: [search] mode = %s, prune = %s decides from the results of "
                    "every configuration; run it as one sweep (more ranks, not shards)\n", o->shard, o->n_shards,
                    search_mode_names[r.st.job.search], search_prune_names[r.st.job.prune]);
        study_free(&r.st);
        return HIPID_EXIT_USAGE;
    }
    /* 1b. the results folder's lock (--dry-run writes nothing and takes none) */
    r.lock.fd = r.shard_lock.fd = -1;
    rc = r.c.rank == 0 && !o->dry_run ? lock_results(&r, &e) : HIPID_OK;
    if (bcast_status(rc, &e, MPI_COMM_WORLD) != HIPID_OK) {
        if (r.c.rank == 0) fprintf(stderr, "hipid sweep: %s\n", e.msg);
        study_free(&r.st);
        return HIPID_EXIT_FAIL;
    }
    int status = prepare(&r, &e);
    if (status == 0) {
        if (o->reindex) {
            if (r.c.rank == 0) {
                replay_search(&r);
                write_index(&r, NULL, NULL);
                study_print_summary(&r.st, r.sum);
            }
        } else {
            status = o->dry_run ? dry_run(&r) : train_all(&r);
        }
    }
    unlock_results(&r);
    for (int k = 0; k < r.n_hv; k++) halving_free(r.hv[k]);
    free(r.m.given);
    free(r.sum);
    free(r.todo);
    free(r.hosts);
    study_free(&r.st);
    return status;
}
