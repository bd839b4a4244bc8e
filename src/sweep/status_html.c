/* status_html.c: the live status page of a sweep and the progress files it
 * reads (status_html.h). Writes HTML with fprintf; knows no MPI and reads no
 * trial file: what the master knows comes from the scheduler (sum, the
 * start and end of trials), the running trials' epochs from progress files. */
#define _POSIX_C_SOURCE 200809L
#include "hipid/sweep/status_html.h"

#include "hipid/base/fsafe.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SLOT_OTHER = 0, SLOT_QUEUED, SLOT_RUNNING, SLOT_ENDED };
enum { N_RECENT = 12, N_FAILED_SHOWN = 100 };

/* A trial's learning curve, from its progress file. */
typedef struct {
    int n;          /* epochs so far */
    float *train;   /* (n) train loss */
    float *val;     /* (n) validation loss, NaN without a validation set */
    float *val_acc; /* (n) */
} Curve;

typedef struct {
    int idx;
    Curve c;
} Recent;

struct StatusHtml {
    const Study *st;
    const TrialSummary *sum;   /* (n_plan), borrowed */
    int n_plan, n_ranks, host_len;
    char *hosts;               /* (n_ranks * host_len) */
    unsigned char *slot;       /* (n_plan) SLOT_* */
    double *start;             /* (n_plan) when a running trial was handed out */
    int *first, *n_group;      /* (n_plan) the ranks that run it */
    double *busy;              /* (n_ranks) seconds in ended trials */
    Recent recent[N_RECENT];   /* ring of trials ended in this run */
    int n_recent, n_ended;
    double t0, last_write, write_seconds;
    double every;              /* seconds between rewrites, and the refresh */
    int n_writes, warned;
    char path[1100], dir[1100];
};

/* ---- progress files ---- */

void status_progress_path(char *buf, size_t cap, const Study *s, const Trial *t) {
    snprintf(buf, cap, "%s/progress/%s-%016" PRIx64 ".txt", s->out, s->job.families[t->family].name, t->hash);
}

static int progress_put(FILE *f, const EpochRecord *hist, int n) {
    fprintf(f, "# hipid-progress 1: epoch train_loss train_acc val_loss val_acc seconds\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%d %.6g %.6g %.6g %.6g %.3f\n", hist[i].epoch, hist[i].train_loss, hist[i].train_acc,
                hist[i].val_loss, hist[i].val_acc, hist[i].seconds);
    return ferror(f) ? HIPID_ERR : HIPID_OK;
}

/* The folder of path (up to the last '/'), created. */
static int make_parent(const char *path, ErrBuf *e) {
    char dir[1400];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return HIPID_OK;
    *slash = 0;
    return mkdir_p(dir, e);
}

int status_progress_write(const char *path, const EpochRecord *hist, int n, ErrBuf *e) {
    char tmp[1800];
    if (fsafe_tmp_name(tmp, sizeof tmp, path, e) != HIPID_OK) return HIPID_ERR;
    FILE *f = fopen(tmp, "w");
    if (!f && errno == ENOENT && make_parent(path, e) == HIPID_OK) f = fopen(tmp, "w");
    if (!f) return hipid_err(e, "%s: cannot write the progress file: %s", tmp, strerror(errno));
    int ok = progress_put(f, hist, n) == HIPID_OK;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return hipid_err(e, "%s: cannot write the progress file: %s", path, strerror(errno));
    }
    return HIPID_OK;
}

static void curve_free(Curve *c) {
    free(c->train);
    free(c->val);
    free(c->val_acc);
    *c = (Curve){0};
}

/* The curve in a progress file; an empty one if it is missing. */
static void curve_read(Curve *c, const char *path) {
    *c = (Curve){0};
    FILE *f = fopen(path, "r");
    if (!f) return;
    int cap = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        int ep;
        double tl, ta, vl, va, sec;
        if (line[0] == '#' || sscanf(line, "%d %lf %lf %lf %lf %lf", &ep, &tl, &ta, &vl, &va, &sec) != 6) continue;
        if (c->n == cap) {
            cap = cap ? 2 * cap : 32;
            c->train = realloc(c->train, sizeof(float) * cap);
            c->val = realloc(c->val, sizeof(float) * cap);
            c->val_acc = realloc(c->val_acc, sizeof(float) * cap);
            HIPID_CHECK(c->train && c->val && c->val_acc);
        }
        c->train[c->n] = (float)tl, c->val[c->n] = (float)vl, c->val_acc[c->n] = (float)va;
        c->n++;
    }
    fclose(f);
}

/* ---- the page's state ---- */

StatusHtml *status_html_create(const Study *st, int shard, int n_shards, const TrialSummary *sum, const int *todo, int n_todo,
                               int n_ranks, const char *hosts, int host_len, ErrBuf *e) {
    StatusHtml *s = xcalloc(1, sizeof *s);
    s->st = st, s->sum = sum, s->n_plan = st->n_plan, s->n_ranks = n_ranks, s->host_len = host_len;
    int n = st->n_plan ? st->n_plan : 1;
    s->hosts = xcalloc((size_t)n_ranks, (size_t)host_len);
    memcpy(s->hosts, hosts, (size_t)n_ranks * host_len);
    s->slot = xcalloc((size_t)n, 1);
    s->start = xcalloc((size_t)n, sizeof(double));
    s->first = xcalloc((size_t)n, sizeof(int));
    s->n_group = xcalloc((size_t)n, sizeof(int));
    s->busy = xcalloc((size_t)n_ranks, sizeof(double));
    for (int i = 0; i < n_todo; i++) s->slot[todo[i]] = SLOT_QUEUED;
    s->t0 = now_seconds();
    s->every = STATUS_HTML_EVERY;
    if (n_shards > 1)
        snprintf(s->path, sizeof s->path, "%s/status-shard%dof%d.html", st->out, shard, n_shards);
    else
        snprintf(s->path, sizeof s->path, "%s/status.html", st->out);
    snprintf(s->dir, sizeof s->dir, "%s/progress", st->out);
    if (mkdir_p(s->dir, e) != HIPID_OK) {
        status_html_free(s);
        return NULL;
    }
    return s;
}

void status_html_free(StatusHtml *s) {
    if (!s) return;
    for (int i = 0; i < N_RECENT; i++) curve_free(&s->recent[i].c);
    free(s->hosts);
    free(s->slot);
    free(s->start);
    free(s->first);
    free(s->n_group);
    free(s->busy);
    free(s);
}

const char *status_html_path(const StatusHtml *s) { return s->path; }

void status_html_set_every(StatusHtml *s, double seconds) { s->every = seconds; }

void status_html_started(StatusHtml *s, int idx, int first, int n) {
    if (!s) return;
    s->slot[idx] = SLOT_RUNNING;
    s->start[idx] = now_seconds();
    s->first[idx] = first;
    s->n_group[idx] = n;
}

void status_html_ended(StatusHtml *s, int idx, int stopped) {
    if (!s || s->slot[idx] != SLOT_RUNNING) return;
    double secs = now_seconds() - s->start[idx];
    for (int k = s->first[idx]; k < s->first[idx] + s->n_group[idx] && k < s->n_ranks; k++) s->busy[k] += secs;
    s->slot[idx] = stopped ? SLOT_QUEUED : SLOT_ENDED;
    if (stopped) return;
    char path[1400];
    status_progress_path(path, sizeof path, s->st, &s->st->plan[idx]);
    Recent *r = &s->recent[s->n_ended % N_RECENT];
    curve_free(&r->c);
    r->idx = idx;
    curve_read(&r->c, path);
    remove(path);
    s->n_ended++;
    s->n_recent = s->n_ended < N_RECENT ? s->n_ended : N_RECENT;
}

/* ---- what the page says ---- */

typedef struct {
    int done, failed, running, queued, other;
} Counts;

static Counts count_trials(const StatusHtml *s, int family) {
    Counts c = {0};
    for (int i = 0; i < s->n_plan; i++) {
        if (family >= 0 && s->st->plan[i].family != family) continue;
        int st = s->sum[i].state;
        if (s->slot[i] == SLOT_RUNNING) c.running++;
        else if (s->slot[i] == SLOT_QUEUED) c.queued++;
        else if (st == TRIAL_DONE) c.done++;
        else if (st == TRIAL_FAILED) c.failed++;
        else c.other++;
    }
    return c;
}

/* Rank groups that run family f's trials. */
static int family_groups(const StatusHtml *s, int f) {
    int rpt = s->st->job.families[f].ranks_per_trial;
    if (rpt > s->n_ranks) rpt = s->n_ranks;
    if (rpt < 1) rpt = 1;
    return (s->n_ranks + rpt - 1) / rpt;
}

static int family_epochs(const StatusHtml *s, int f) {
    const Family *fam = &s->st->job.families[f];
    int e = 1;
    for (int c = 0; c < fam->n_configs; c++) e = fam->configs[c].epochs > e ? fam->configs[c].epochs : e;
    return e;
}

static int trial_epochs(const StatusHtml *s, int i) {
    const Trial *t = &s->st->plan[i];
    return s->st->job.families[t->family].configs[t->config].epochs;
}

/* Mean seconds of family f's done trials (this run and before), or NaN. */
static double family_mean(const StatusHtml *s, int f) {
    double sum = 0.0;
    int n = 0;
    for (int i = 0; i < s->n_plan; i++)
        if (s->st->plan[i].family == f && s->sum[i].state == TRIAL_DONE && s->slot[i] != SLOT_RUNNING &&
            s->sum[i].seconds > 0)
            sum += s->sum[i].seconds, n++;
    return n ? sum / n : NAN;
}

/* Running trials' curves, read now: (n_plan) with empty curves elsewhere. */
static Curve *read_running(const StatusHtml *s) {
    Curve *c = xcalloc((size_t)(s->n_plan ? s->n_plan : 1), sizeof(Curve));
    char path[1400];
    for (int i = 0; i < s->n_plan; i++) {
        if (s->slot[i] != SLOT_RUNNING) continue;
        status_progress_path(path, sizeof path, s->st, &s->st->plan[i]);
        curve_read(&c[i], path);
    }
    return c;
}

/* Seconds a trial of family f is expected to take: the mean of its done
 * trials; else the epochs of its running trials extrapolated; else NaN. */
static double family_estimate(const StatusHtml *s, int f, const Curve *run, double now) {
    double m = family_mean(s, f);
    if (isfinite(m)) return m;
    for (int i = 0; i < s->n_plan; i++)
        if (s->slot[i] == SLOT_RUNNING && s->st->plan[i].family == f && run[i].n > 0)
            return (now - s->start[i]) / run[i].n * family_epochs(s, f);
    return NAN;
}

/* Seconds of work left in trial i: a running one by its own pace (wall time
 * per epoch so far times the epochs left), else its family's estimate. */
static double trial_left(const StatusHtml *s, int i, const Curve *run, const double *est, double now) {
    if (s->slot[i] != SLOT_RUNNING) return est[s->st->plan[i].family];
    double el = now - s->start[i];
    int E = trial_epochs(s, i);
    if (run[i].n > 0) return el / run[i].n * (E > run[i].n ? E - run[i].n : 0);
    double left = est[s->st->plan[i].family] - el;
    return left > 0 ? left : 0.0;
}

typedef struct {
    double seconds; /* of the trials with an estimate */
    int n_unknown;  /* trials without one (no trial of their family has run an epoch) */
} Eta;

/* The ETA: every trial's work left divided by the rank groups of its
 * family, summed (phases run one after another). */
static Eta eta_compute(const StatusHtml *s, const Curve *run, double now) {
    double est[JOB_MAX_FAMILIES];
    Eta eta = {0.0, 0};
    for (int f = 0; f < s->st->job.n_families; f++) est[f] = family_estimate(s, f, run, now);
    for (int i = 0; i < s->n_plan; i++) {
        if (s->slot[i] != SLOT_RUNNING && s->slot[i] != SLOT_QUEUED) continue;
        double left = trial_left(s, i, run, est, now);
        if (isfinite(left)) eta.seconds += left / family_groups(s, s->st->plan[i].family);
        else eta.n_unknown++;
    }
    return eta;
}

/* ---- HTML pieces ---- */

static void put_text(FILE *f, const char *t) {
    for (; *t; t++) {
        switch (*t) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc((unsigned char)*t < 0x20 ? ' ' : *t, f); break;
        }
    }
}

static void put_num(FILE *f, double v, const char *fmt) {
    if (isfinite(v)) fprintf(f, fmt, v);
    else fputs("&ndash;", f);
}

static void put_duration(FILE *f, double secs) {
    char b[32];
    if (!isfinite(secs)) {
        fputs("&ndash;", f);
        return;
    }
    study_format_duration(b, sizeof b, secs);
    put_text(f, b);
}

static void put_label(FILE *f, const StatusHtml *s, int i) {
    char label[160];
    job_trial_label(label, sizeof label, &s->st->job, &s->st->plan[i]);
    put_text(f, label);
}

static const char CSS[] =
    "body{font:15px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;padding:12px;"
    "max-width:1240px;color:#111;background:#fff}"
    "h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin:1.2em 0 .4em}"
    ".meta{color:#444}.state{font-weight:bold}"
    ".bar{display:block;width:100%;height:22px;margin:.4em 0}"
    ".legend span{margin-right:1em;white-space:nowrap}.legend svg{margin-right:3px}"
    ".scroll{overflow-x:auto}table{border-collapse:collapse;font-variant-numeric:tabular-nums}"
    "th,td{border-bottom:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:middle}"
    "td.n,th.n{text-align:right}td:first-child{white-space:nowrap}"
    ".reason{max-width:60ch;word-break:break-word}svg{vertical-align:middle}"
    ".note{color:#444;font-size:.9em;max-width:90ch}"
    "@media (max-width:600px){body{font-size:14px;padding:6px}th,td{padding:2px 4px}}"
    "@media print{body{max-width:none}}";

static void put_head(FILE *f, const StatusHtml *s, int state) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n", f);
    if (state == STATUS_RUNNING) fprintf(f, "<meta http-equiv=\"refresh\" content=\"%.0f\">\n", s->every);
    fputs("<title>hipid sweep ", f);
    put_text(f, s->st->job.name);
    fprintf(f, ": %s</title>\n<style>%s</style>\n</head>\n<body>\n", state == STATUS_RUNNING ? "running"
            : state == STATUS_FINISHED ? "finished" : "interrupted", CSS);
}

static void put_title(FILE *f, const StatusHtml *s, int state, double now) {
    char when[64];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", &tm);
    fputs("<h1>hipid sweep ", f);
    put_text(f, s->st->job.name);
    fputs("</h1>\n<p class=\"meta\">State: <span class=\"state\" id=\"state\">", f);
    fputs(state == STATUS_RUNNING ? "running" : state == STATUS_FINISHED ? "finished" : "interrupted", f);
    fprintf(f, "</span>. Written <time id=\"written\" datetime=\"%.19s\">%s</time> after ", when, when);
    put_duration(f, now - s->t0);
    if (state == STATUS_RUNNING)
        fprintf(f, "; this page reloads itself every %.0f s. If the time above stops moving for more than a minute, "
                "the sweep is no longer running (killed or crashed; rerun the same command to resume).</p>\n",
                s->every);
    else if (state == STATUS_FINISHED) fputs(": the sweep has ended; this page no longer changes.</p>\n", f);
    else fputs(": stopped by a signal after checkpointing; rerun the same command to resume.</p>\n", f);
}

/* Okabe-Ito colours (safe for the common colour blindnesses); failed is
 * also hatched, so no state is told by colour alone. */
static const char *const FILL[] = {"#0072B2", "url(#hatch)", "#E69F00", "#dddddd", "#ffffff"};
static const char HATCH[] = "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\">"
                            "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
                            "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#f3c4a8\"/>"
                            "<rect width=\"3\" height=\"6\" fill=\"#D55E00\"/></pattern></defs></svg>\n";

/* x advances by segment n of total in a bar 1000 wide. */
static void put_segment(FILE *f, double *x, int n, int total, int kind) {
    if (n <= 0) return;
    double w = 1000.0 * n / total;
    fprintf(f, "<rect x=\"%.2f\" y=\"0\" width=\"%.2f\" height=\"20\" fill=\"%s\"/>", *x, w, FILL[kind]);
    *x += w;
}

static void put_legend_item(FILE *f, int kind, const char *what, int n, const char *id) {
    fprintf(f, "<span><svg width=\"12\" height=\"12\" viewBox=\"0 0 12 12\" aria-hidden=\"true\"><rect x=\".5\" "
            "y=\".5\" width=\"11\" height=\"11\" fill=\"%s\" stroke=\"#555\"/></svg>%s <b id=\"%s\">%d</b></span>",
            FILL[kind], what, id, n);
}

static void put_progress(FILE *f, const StatusHtml *s, Counts c, Eta eta, int state) {
    int total = s->n_plan > 0 ? s->n_plan : 1;
    fprintf(f, "<h2>Progress</h2>\n<p><b id=\"total\">%d</b> planned trials.</p>\n", s->n_plan);
    double x = 0.0;
    fprintf(f, "%s<svg class=\"bar\" viewBox=\"0 0 1000 20\" preserveAspectRatio=\"none\" role=\"img\">"
            "<title>%d done, %d failed, %d running, %d to run</title>", HATCH, c.done, c.failed, c.running, c.queued);
    put_segment(f, &x, c.done, total, 0);
    put_segment(f, &x, c.failed, total, 1);
    put_segment(f, &x, c.running, total, 2);
    put_segment(f, &x, c.queued, total, 3);
    put_segment(f, &x, c.other, total, 4);
    fputs("<rect x=\"0\" y=\"0\" width=\"1000\" height=\"20\" fill=\"none\" stroke=\"#555\" stroke-width=\"2\"/>"
          "</svg>\n<p class=\"legend\">", f);
    put_legend_item(f, 0, "done", c.done, "n-done");
    put_legend_item(f, 1, "failed", c.failed, "n-failed");
    put_legend_item(f, 2, "running", c.running, "n-running");
    put_legend_item(f, 3, "to run", c.queued, "n-queued");
    if (c.other) put_legend_item(f, 4, "not in this run (other shards, or no retries left)", c.other, "n-other");
    fputs("</p>\n", f);
    if (state != STATUS_RUNNING) return;
    fputs("<p>ETA: <b id=\"eta\">", f);
    if (eta.n_unknown == c.running + c.queued && eta.n_unknown > 0) fputs("unknown until a trial has run an epoch", f);
    else put_duration(f, eta.seconds);
    fputs("</b>", f);
    if (eta.n_unknown && eta.n_unknown < c.running + c.queued)
        fprintf(f, " and more: %d trial(s) of families that have not run an epoch yet are not counted", eta.n_unknown);
    fputs(".</p>\n<p class=\"note\">How the ETA is computed: a trial still to run is expected to take its "
          "family's mean duration so far (its done trials; before the first one ends, the wall time per epoch of "
          "its running trials times the epochs), a running trial its own wall time per epoch so far times the "
          "epochs it has left (early stopping may end it sooner); each trial's time is divided by the number of "
          "rank groups that run its family, and the results are summed (phases of different ranks_per_trial run "
          "one after another). It assumes the groups stay busy.</p>\n", f);
}

static void put_busy(FILE *f, const StatusHtml *s, const double *busy, const double *elapsed, double now) {
    fputs("<h2>Ranks</h2>\n<p class=\"note\">Busy share: time in trials over "
          "time since the sweep started.</p>\n<div class=\"scroll\"><table id=\"ranks\">\n<thead><tr><th>rank</th><th>host</th><th class=\"n\">busy"
          "</th><th>share</th></tr></thead>\n<tbody>\n", f);
    for (int k = 0; k < s->n_ranks; k++) {
        double b = busy ? busy[k] : s->busy[k], el = elapsed ? elapsed[k] : now - s->t0;
        for (int i = 0; i < s->n_plan && !busy; i++)
            if (s->slot[i] == SLOT_RUNNING && k >= s->first[i] && k < s->first[i] + s->n_group[i])
                b += now - s->start[i];
        double share = el > 0 ? 100.0 * b / el : 0.0;
        share = share > 100 ? 100 : share;
        fprintf(f, "<tr><td>%d</td><td>", k);
        put_text(f, s->hosts + (size_t)k * s->host_len);
        fprintf(f, "</td><td class=\"n\">%.0f%%</td><td><svg width=\"120\" height=\"12\" viewBox=\"0 0 120 12\" "
                "aria-hidden=\"true\"><rect x=\"0\" y=\"1\" width=\"%.1f\" height=\"10\" fill=\"#0072B2\"/>"
                "<rect x=\".5\" y=\".5\" width=\"119\" height=\"11\" fill=\"none\" stroke=\"#555\"/></svg></td></tr>\n",
                share, 1.2 * share);
    }
    fputs("</tbody></table></div>\n", f);
}

/* The y of v on a sparkline spanning [lo, hi]. */
static double spark_y(float v, float lo, float hi) {
    return hi > lo ? 2.0 + 24.0 * (hi - v) / (hi - lo) : 14.0;
}

static void spark_line(FILE *f, const float *v, int n, int E, float lo, float hi, const char *style) {
    int m = 0;
    for (int i = 0; i < n; i++) m += isfinite(v[i]) != 0;
    if (m == 0) return;
    fprintf(f, "<polyline fill=\"none\" %s points=\"", style);
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) fprintf(f, "%.1f,%.1f ", 2.0 + 116.0 * (E > 1 ? (double)i / (E - 1) : 0.0), spark_y(v[i], lo, hi));
    fputs("\"/>", f);
    if (m == 1)
        for (int i = 0; i < n; i++)
            if (isfinite(v[i])) fprintf(f, "<circle cx=\"2\" cy=\"%.1f\" r=\"2\" fill=\"#0072B2\"/>", spark_y(v[i], lo, hi));
}

/* Validation loss per epoch (solid blue) over the trial's epochs E, train
 * loss dashed grey, on a shared scale. */
static void put_spark(FILE *f, const Curve *c, int E) {
    if (c->n == 0) {
        fputs("&ndash;", f);
        return;
    }
    float lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < c->n; i++) {
        if (isfinite(c->val[i])) lo = fminf(lo, c->val[i]), hi = fmaxf(hi, c->val[i]);
        if (isfinite(c->train[i])) lo = fminf(lo, c->train[i]), hi = fmaxf(hi, c->train[i]);
    }
    E = E > c->n ? E : c->n;
    fputs("<svg width=\"150\" height=\"28\" viewBox=\"0 0 120 28\" role=\"img\"><title>validation loss (solid) "
          "and train loss (dashed) per epoch", f);
    if (isfinite(c->val[0]) && isfinite(c->val[c->n - 1]))
        fprintf(f, ": validation %.3g to %.3g", c->val[0], c->val[c->n - 1]);
    fputs("</title>", f);
    if (isfinite(lo) && isfinite(hi)) {
        spark_line(f, c->train, c->n, E, lo, hi, "stroke=\"#888\" stroke-width=\"1\" stroke-dasharray=\"3 2\"");
        spark_line(f, c->val, c->n, E, lo, hi, "stroke=\"#0072B2\" stroke-width=\"1.6\"");
    }
    fputs("</svg>", f);
}

static void put_running(FILE *f, const StatusHtml *s, const Curve *run, double now) {
    fputs("<h2>Running</h2>\n<div class=\"scroll\"><table id=\"running\">\n<thead><tr><th>trial</th><th>ranks</th>"
          "<th class=\"n\">epoch</th><th class=\"n\">train loss</th><th class=\"n\">val loss</th>"
          "<th class=\"n\">val acc</th><th class=\"n\">time</th><th>curve</th></tr></thead>\n<tbody>\n", f);
    int any = 0;
    for (int i = 0; i < s->n_plan; i++) {
        if (s->slot[i] != SLOT_RUNNING) continue;
        const Curve *c = &run[i];
        int n = c->n, E = trial_epochs(s, i);
        fputs("<tr><td>", f);
        put_label(f, s, i);
        fprintf(f, "</td><td>%d", s->first[i]);
        if (s->n_group[i] > 1) fprintf(f, "&ndash;%d", s->first[i] + s->n_group[i] - 1);
        fprintf(f, "</td><td class=\"n epoch\">%d/%d</td><td class=\"n\">", n, E);
        put_num(f, n ? c->train[n - 1] : NAN, "%.4f");
        fputs("</td><td class=\"n\">", f);
        put_num(f, n ? c->val[n - 1] : NAN, "%.4f");
        fputs("</td><td class=\"n\">", f);
        put_num(f, n ? c->val_acc[n - 1] : NAN, "%.3f");
        fputs("</td><td class=\"n\">", f);
        put_duration(f, now - s->start[i]);
        fputs("</td><td>", f);
        put_spark(f, c, E);
        fputs("</td></tr>\n", f);
        any = 1;
    }
    if (!any) fputs("<tr><td colspan=\"8\">none</td></tr>\n", f);
    fputs("</tbody></table></div>\n", f);
}

static void put_recent(FILE *f, const StatusHtml *s) {
    fputs("<h2>Recently ended</h2>\n<p class=\"note\">The last trials that ended "
          "in this run, newest first.</p>\n<div class=\"scroll\"><table id=\"recent\">\n<thead><tr><th>trial</th><th>state</th><th class=\"n\">test acc</th>"
          "<th class=\"n\">val acc</th><th class=\"n\">best epoch</th><th class=\"n\">time</th><th>curve</th>"
          "</tr></thead>\n<tbody>\n", f);
    for (int k = 0; k < s->n_recent; k++) {
        const Recent *r = &s->recent[(s->n_ended - 1 - k) % N_RECENT];
        const TrialSummary *t = &s->sum[r->idx];
        int ok = t->state == TRIAL_DONE;
        fputs("<tr><td>", f);
        put_label(f, s, r->idx);
        fprintf(f, "</td><td>%s</td><td class=\"n\">", ok ? "done" : "<b>failed</b>");
        put_num(f, ok ? t->test_acc : NAN, "%.3f");
        fputs("</td><td class=\"n\">", f);
        put_num(f, ok ? t->val_acc : NAN, "%.3f");
        fputs("</td><td class=\"n\">", f);
        put_num(f, ok ? t->best_epoch : NAN, "%.0f");
        fputs("</td><td class=\"n\">", f);
        put_duration(f, t->seconds);
        fputs("</td><td>", f);
        put_spark(f, &r->c, trial_epochs(s, r->idx));
        fputs("</td></tr>\n", f);
    }
    if (!s->n_recent) fputs("<tr><td colspan=\"7\">none yet</td></tr>\n", f);
    fputs("</tbody></table></div>\n", f);
}

static void put_failed(FILE *f, const StatusHtml *s) {
    fputs("<h2>Failed</h2>\n<div class=\"scroll\"><table id=\"failed\">\n<thead><tr><th>trial</th>"
          "<th class=\"n\">attempts</th><th>reason</th></tr></thead>\n<tbody>\n", f);
    int n = 0;
    for (int i = 0; i < s->n_plan; i++) {
        if (s->sum[i].state != TRIAL_FAILED || s->slot[i] == SLOT_RUNNING) continue;
        if (n++ >= N_FAILED_SHOWN) continue;
        fputs("<tr><td>", f);
        put_label(f, s, i);
        fprintf(f, "</td><td class=\"n\">%d</td><td class=\"reason\">", s->sum[i].attempts);
        put_text(f, s->sum[i].reason);
        fputs("</td></tr>\n", f);
    }
    if (n > N_FAILED_SHOWN) fprintf(f, "<tr><td colspan=\"3\">and %d more (sweep.h5 lists them all)</td></tr>\n",
                                    n - N_FAILED_SHOWN);
    if (!n) fputs("<tr><td colspan=\"3\">none</td></tr>\n", f);
    fputs("</tbody></table></div>\n", f);
}

static void put_family_row(FILE *f, const StatusHtml *s, int fam) {
    Counts c = count_trials(s, fam);
    double acc = 0.0, best = -1.0;
    int n = 0;
    for (int i = 0; i < s->n_plan; i++)
        if (s->st->plan[i].family == fam && s->sum[i].state == TRIAL_DONE && s->slot[i] != SLOT_RUNNING) {
            acc += s->sum[i].test_acc, n++;
            best = s->sum[i].test_acc > best ? s->sum[i].test_acc : best;
        }
    fputs("<tr><td>", f);
    put_text(f, s->st->job.families[fam].name);
    fprintf(f, "</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%d</td>"
            "<td class=\"n\">", c.done, c.failed, c.running, c.queued);
    put_num(f, n ? acc / n : NAN, "%.3f");
    fputs("</td><td class=\"n\">", f);
    put_num(f, n ? best : NAN, "%.3f");
    fputs("</td><td class=\"n\">", f);
    put_duration(f, family_mean(s, fam));
    fputs("</td></tr>\n", f);
}

static void put_families(FILE *f, const StatusHtml *s) {
    fputs("<h2>Families</h2>\n<p class=\"note\">Test accuracy of the done "
          "trials so far (each trial's own test part; hipid report compares families properly).</p>\n<div class=\"scroll\"><table id=\"families\">\n"
          "<thead><tr><th>family</th><th class=\"n\">done</th><th class=\"n\">failed</th><th class=\"n\">running</th>"
          "<th class=\"n\">to run</th><th class=\"n\">mean test acc</th><th class=\"n\">best</th>"
          "<th class=\"n\">mean time</th></tr></thead>\n<tbody>\n", f);
    for (int fam = 0; fam < s->st->job.n_families; fam++) put_family_row(f, s, fam);
    fputs("</tbody></table></div>\n", f);
}

static void put_footer(FILE *f, const StatusHtml *s) {
    fputs("<p class=\"note\">Written by the master rank of <code>hipid sweep</code> (a temporary file, then a rename)"
          "; the running trials' epochs come from the files their group leaders write after every epoch in ", f);
    put_text(f, s->dir);
    fputs(". Results: ", f);
    put_text(f, s->st->out);
    fputs("/trials and sweep.h5; <code>hipid report</code> analyses them.", f);
    if (s->n_writes > 0)
        fprintf(f, " Cost of this page: <span id=\"cost\">%.2f ms per rewrite (mean of %d)</span>.", 1e3 *
                s->write_seconds / s->n_writes, s->n_writes);
    fputs("</p>\n</body>\n</html>\n", f);
}

static void put_page(FILE *f, StatusHtml *s, int state, const double *busy, const double *elapsed) {
    double now = now_seconds();
    Curve *run = read_running(s);
    put_head(f, s, state);
    put_title(f, s, state, now);
    put_progress(f, s, count_trials(s, -1), eta_compute(s, run, now), state);
    put_busy(f, s, busy, elapsed, now);
    put_running(f, s, run, now);
    put_recent(f, s);
    put_failed(f, s);
    put_families(f, s);
    put_footer(f, s);
    for (int i = 0; i < s->n_plan; i++) curve_free(&run[i]);
    free(run);
}

int status_html_write(StatusHtml *s, int state, const double *busy, const double *elapsed, ErrBuf *e) {
    double t0 = now_seconds();
    char tmp[1500];
    if (fsafe_tmp_name(tmp, sizeof tmp, s->path, e) != HIPID_OK) return HIPID_ERR;
    FILE *f = fopen(tmp, "w");
    if (!f) return hipid_err(e, "%s: cannot write the status page: %s", tmp, strerror(errno));
    put_page(f, s, state, busy, elapsed);
    int ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, s->path) != 0) {
        remove(tmp);
        return hipid_err(e, "%s: cannot write the status page: %s", s->path, strerror(errno));
    }
    s->last_write = now_seconds();
    s->write_seconds += s->last_write - t0;
    s->n_writes++;
    return HIPID_OK;
}

void status_html_tick(StatusHtml *s) {
    if (!s || now_seconds() - s->last_write < s->every) return;
    ErrBuf e = {{0}};
    if (status_html_write(s, STATUS_RUNNING, NULL, NULL, &e) != HIPID_OK) {
        if (!s->warned) fprintf(stderr, "hipid sweep: %s (the sweep goes on)\n", e.msg);
        s->warned = 1;
        s->last_write = now_seconds(); /* try again later, not at every step */
    }
}
