/* report.c: read a sweep's results folder and analyse it (report.h).
 *
 * Reading: sweep.h5 (optional: the plan and each trial's state), every
 * trials/ *.h5 (skipping unreadable ones with a line each), and the data set
 * the trials name (only its source paths, labels and groups). Analysis:
 * per-trial metrics from the stored test predictions, per-configuration
 * summaries, the selection, the paired comparisons and the flagged images.
 * No plotting or writing here (report_write.c, report_plot.c). */
#include "hipid/report/report.h"

#include <dirent.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hipid/data/dataset.h"
#include "hipid/base/h5util.h"
#include "hipid/data/split.h"
#include "hipid/sweep/trialfile.h"

const char *const report_metric_names[M_COUNT] = {"accuracy", "balanced_accuracy", "macro_f1", "auc",
                                                  "log_loss"};

static void add_line(char ***v, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_line(char ***v, int *n, const char *fmt, ...) {
    char buf[1600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    *v = realloc(*v, sizeof(char *) * (size_t)(*n + 1));
    HIPID_CHECK(*v);
    (*v)[(*n)++] = strdup(buf);
}

static void trial_free(RTrial *t) {
    free(t->test_index);
    free(t->fit_index);
    free(t->test_label);
    free(t->test_pred);
    free(t->test_prob);
    free(t->hist);
    free(t->sens);
    free(t->spec);
}

void report_free(Report *r) {
    if (!r) return;
    for (int i = 0; i < r->n_trials; i++) trial_free(&r->trials[i]);
    free(r->trials);
    for (int i = 0; i < r->n_configs; i++) {
        free(r->configs[i].sens);
        free(r->configs[i].spec);
        free(r->configs[i].sens_ci);
        free(r->configs[i].spec_ci);
        free(r->configs[i].prec_ci);
    }
    free(r->configs);
    for (int f = 0; f < r->n_fam; f++) {
        free(r->fam[f].sel);
        free(r->fam[f].sens);
        free(r->fam[f].spec);
        free(r->fam[f].conf);
        free(r->fam[f].sens_ci);
        free(r->fam[f].spec_ci);
        free(r->fam[f].prec_ci);
        free(r->fam[f].auc_class);
        free(r->fam[f].epoch_n);
    }
    for (int i = 0; i < r->n_cmp; i++) {
        for (int m = 0; m < C_COUNT; m++) free(r->cmp[i].d[m]);
        free(r->cmp[i].groups);
    }
    for (int m = 0; m < C_COUNT; m++) {
        free(r->p_rank[m]);
        free(r->p_rank_holm[m]);
    }
    free(r->cmp);
    free(r->units);
    free(r->img);
    strv_free(r->class_names, r->K);
    strv_free(r->source_paths, r->n_source);
    free(r->data_groups);
    free(r->dup_groups);
    free(r->rungs);
    strv_free(r->lines, r->n_lines);
    strv_free(r->notes, r->n_notes);
    memset(r, 0, sizeof *r);
}

static int family_index(Report *r, const char *name) {
    for (int f = 0; f < r->n_fam; f++)
        if (strcmp(r->fam[f].name, name) == 0) return f;
    if (r->n_fam == REPORT_MAX_FAMILIES) return -1;
    snprintf(r->fam[r->n_fam].name, sizeof r->fam[0].name, "%.*s", (int)sizeof r->fam[0].name - 1, name);
    r->fam[r->n_fam].chosen = -1;
    return r->n_fam++;
}

/* ---- reading ---- */

static void hparams_text(char *buf, size_t cap, const TrialInfo *ti) {
    const char *opt = ti->optimizer, *aug = ti->augment;
    int n = snprintf(buf, cap, "model=%.255s optimizer=%s lr=%.4g", ti->model, opt, ti->lr);
    if (n < (int)cap && strcmp(opt, "sgd") == 0) n += snprintf(buf + n, cap - n, " momentum=%.4g", ti->momentum);
    if (n < (int)cap && ti->weight_decay != 0) n += snprintf(buf + n, cap - n, " weight_decay=%.4g", ti->weight_decay);
    if (n < (int)cap && ti->dropout >= 0) n += snprintf(buf + n, cap - n, " dropout=%.3g", ti->dropout);
    if (n < (int)cap)
        n += snprintf(buf + n, cap - n, " batch=%d epochs=%d patience=%d balance=%s augment=%s", ti->batch,
                      ti->epochs, ti->patience, ti->balance, aug[0] ? aug : "none");
    if (n < (int)cap && ti->warmup) n += snprintf(buf + n, cap - n, " warmup=%d", ti->warmup);
    if (n < (int)cap && ti->label_smoothing > 0)
        n += snprintf(buf + n, cap - n, " label_smoothing=%.3g", ti->label_smoothing);
    if (n < (int)cap && ti->mixup > 0) n += snprintf(buf + n, cap - n, " mixup=%.3g", ti->mixup);
    if (n < (int)cap && ti->cutmix > 0) n += snprintf(buf + n, cap - n, " cutmix=%.3g", ti->cutmix);
    if (n < (int)cap && ti->subsample < 1)
        n += snprintf(buf + n, cap - n, " subsample=%.3g", ti->subsample);
    if (n < (int)cap && ti->init[0]) n += snprintf(buf + n, cap - n, " init=%.255s", ti->init);
    if (n < (int)cap && ti->freeze) n += snprintf(buf + n, cap - n, " freeze=%d", ti->freeze);
    if (n < (int)cap && ti->head_lr > 0) n += snprintf(buf + n, cap - n, " head_lr=%.4g", ti->head_lr);
    if (n < (int)cap && ti->tta != TTA_NONE) snprintf(buf + n, cap - n, " tta=%s", tta_names[ti->tta]);
}

/* The class names of a done trial: the first trial's become the report's,
 * later ones must match them. */
static int check_classes(Report *r, hid_t f, const char *path, int K, ErrBuf *e) {
    char **names = NULL;
    int n_names = 0, rc = HIPID_ERR;
    if (trialfile_read_class_names(&names, &n_names, f, path, e)) goto error;
    if (n_names != K || K < 2) {
        hipid_err(e, "%s: %d class names for n_classes %d", path, n_names, K);
        goto error;
    }
    if (!r->class_names) {
        r->K = K;
        r->class_names = names;
        names = NULL;
    } else {
        int same = K == r->K;
        for (int c = 0; same && c < K; c++) same = strcmp(names[c], r->class_names[c]) == 0;
        if (!same) {
            hipid_err(e, "%s: its classes differ from the other trials' (%d classes, first '%s'); one results "
                         "folder holds one study", path, K, names[0]);
            goto error;
        }
    }
    rc = HIPID_OK;
error:
    strv_free(names, n_names);
    return rc;
}

/* The attributes the trial recorded about its run (TrialSummary); NaN and
 * -1 when the file lacks them. */
static void read_summary(RTrial *t, const char *path, const char *hash) {
    TrialSummary s;
    trialfile_summary(&s, path, strtoull(hash, NULL, 16));
    int ok = s.state == TRIAL_DONE || s.state == TRIAL_FAILED;
    t->best_epoch = ok ? s.best_epoch : -1;
    t->epochs_run = ok ? s.epochs_run : -1;
    t->ranks = ok ? s.ranks : -1;
    t->seconds = ok ? s.seconds : NAN;
    t->val_acc = ok ? s.val_acc : NAN;
    t->test_acc = ok ? s.test_acc : NAN;
    t->budget = ok ? s.budget : 0;
}

/* Read one trial file into t (fam resolved by the caller through name).
 * Returns HIPID_ERR with a one-line message for an unreadable file. */
static int read_trial(Report *r, RTrial *t, const char *path, ErrBuf *e) {
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    hid_t f = trialfile_open(path, "rerun the sweep with this hipid (it redoes the trial)", e);
    if (f < 0) return HIPID_ERR;
    int rc = HIPID_ERR;
    TrialInfo ti;
    TrialTest tt;
    if (!(trialfile_read_info(&ti, f) & TRIALINFO_ID)) {
        hipid_err(e, "%s: trial file lacks its attributes (family, config, repeat, outer, inner, seed, n_classes, "
                     "val_loss); truncated?", path);
        goto error;
    }
    {
        /* a file renamed (or copied) onto another trial's name is that trial's
         * slot holding something else: not done */
        char want[200];
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        snprintf(want, sizeof want, "%s-%s.h5", ti.family, ti.hash);
        if (strcmp(base, want) != 0) {
            hipid_err(e, "%s: its name does not match its content (it holds trial %s, file name %s); not counted "
                         "as done", path, ti.hash, want);
            goto error;
        }
    }
    snprintf(t->label, sizeof t->label, "%.*s", (int)sizeof t->label - 1, ti.label);
    snprintf(t->hash, sizeof t->hash, "%s", ti.hash);
    snprintf(t->reason, sizeof t->reason, "%.*s", (int)sizeof t->reason - 1, ti.reason);
    t->config = ti.config;
    t->repeat = ti.repeat;
    t->outer = ti.outer;
    t->inner = ti.inner;
    t->seed = ti.seed;
    t->val_loss = ti.val_loss;
    read_summary(t, path, ti.hash);
    hparams_text(t->hparams, sizeof t->hparams, &ti);
    t->fam = family_index(r, ti.family);
    if (t->fam < 0) {
        hipid_err(e, "%s: family '%s' is one more than the %d a report can hold", path, ti.family, REPORT_MAX_FAMILIES);
        goto error;
    }
    t->done = strcmp(ti.state, "done") == 0;
    RFamily *fm = &r->fam[t->fam];
    if (!fm->data[0]) {
        snprintf(fm->data, sizeof fm->data, "%s", ti.data);
        snprintf(fm->data_checksum, sizeof fm->data_checksum, "%s", ti.data_checksum);
        snprintf(fm->preprocessing, sizeof fm->preprocessing, "%s", ti.preprocessing);
    }
    if (!t->done) {
        rc = HIPID_OK;
        goto error;
    }
    int K = ti.n_classes;
    if (check_classes(r, f, path, K, e) != HIPID_OK || trialfile_read_test(&tt, f, path, K, e) != HIPID_OK)
        goto error;
    t->n_train = tt.n_train;
    t->n_val = tt.n_val;
    t->n_test = tt.n_test;
    t->n_epochs = tt.n_epochs;
    t->test_index = tt.test_index;
    t->fit_index = tt.fit_index;
    t->test_label = tt.test_label;
    t->test_prob = tt.test_prob;
    t->hist = tt.hist;
    t->test_pred = xcalloc((size_t)t->n_test + 1, sizeof(int));
    for (int i = 0; i < t->n_test; i++)
        if (t->test_index[i] + 1 > r->n_rows) r->n_rows = t->test_index[i] + 1;
    rc = HIPID_OK;
error:
    H5Fclose(f);
    if (rc != HIPID_OK) trial_free(t);
    return rc;
}

/* The design from sweep.h5's study key. */
static void parse_study(Report *r) {
    const char *s = strstr(r->study, "scheme=");
    int scheme = -1;
    if (s) sscanf(s, "scheme=%d k=%d repeats=%d inner_k=%d", &scheme, &r->k, &r->repeats, &r->inner_k);
    r->nested = scheme == 4;
}

/* sweep.h5: families in job order, the design and the search. The index
 * stays in x (zeroed if unreadable) for match_index once the trials are read. */
static void read_index(Report *r, SweepIndex *x, FILE *warn) {
    char path[1200];
    ErrBuf e = {{0}};
    memset(x, 0, sizeof *x);
    r->grid_epochs = NAN;
    snprintf(path, sizeof path, "%s/sweep.h5", r->dir);
    hid_t f = trialfile_open_index(path, "rerun the sweep to rebuild it", &e);
    if (f < 0) {
        add_line(&r->notes, &r->n_notes, "No readable sweep index (%s): missing trials cannot be listed.", e.msg);
        if (warn) fprintf(warn, "hipid report: %s; reporting the trial files alone\n", e.msg);
        return;
    }
    int bad = trialfile_read_index(x, f, path, &e) != HIPID_OK;
    H5Fclose(f);
    snprintf(r->job, sizeof r->job, "%s", x->job);
    snprintf(r->job_file, sizeof r->job_file, "%s", x->job_file);
    snprintf(r->study, sizeof r->study, "%s", x->study);
    snprintf(r->ensemble_names, sizeof r->ensemble_names, "%s", x->ensemble);
    snprintf(r->data, sizeof r->data, "%s", x->data); /* its checksum comes with its trials (pick_data) */
    if (bad) {
        add_line(&r->notes, &r->n_notes, "The sweep index %s is unreadable (%s): missing trials cannot be listed.", path,
                 e.msg);
        if (warn) fprintf(warn, "hipid report: %s\n", e.msg);
        trialfile_index_free(x);
        memset(x, 0, sizeof *x);
        return;
    }
    r->have_index = 1;
    parse_study(r);
    r->n_planned = x->n;
    for (int i = 0; i < x->n; i++) {
        family_index(r, x->family[i]);
        r->n_outer_planned += x->inner[i] < 0;
    }
    snprintf(r->search, sizeof r->search, "%s", x->search);
    snprintf(r->metric, sizeof r->metric, "%s", x->metric);
    snprintf(r->prune, sizeof r->prune, "%s", x->prune);
    r->eta = x->eta;
    r->min_epochs = x->min_epochs;
    r->max_epochs = x->max_epochs;
    r->grid_epochs = x->grid_epochs;
    r->rungs = xcalloc((size_t)x->n_rungs + 1, sizeof(RungRow));
    for (int i = 0; i < x->n_rungs; i++) {
        int fam = family_index(r, x->rung_family[i]);
        if (fam < 0) continue; /* a family beyond REPORT_MAX_FAMILIES: its trials are refused too */
        r->rungs[r->n_rungs] = x->rungs[i];
        r->rungs[r->n_rungs++].family = fam;
    }
    r->staged = r->n_rungs > 0;
}

/* The index row of trial t (same family and hash), -1 if none. */
static int index_row(const Report *r, const SweepIndex *x, const RTrial *t) {
    for (int i = 0; i < x->n; i++)
        if (strcmp(x->hash[i], t->hash) == 0 && strcmp(x->family[i], r->fam[t->fam].name) == 0) return i;
    return -1;
}

/* Nested staged search: outer trials are trained only for the configurations
 * that end at the top rung of their outer fold, and the index (which has no
 * repeat or outer column to read) does not tell which planned outer trial
 * belongs to which fold. Per (fam, config): the outer trials its top and
 * still open groups need (seeds per group = its outer rows / its groups)
 * against those present; when none of them is missing, every outer trial of
 * it without a file was not needed. Returns that (1) or 0 (some are due). */
static int outer_not_needed(const Report *r, const SweepIndex *x, int fam, int config) {
    int n_rows = 0, n_groups = 0, n_due = 0, present = 0, m = 0;
    for (int i = 0; i < x->n; i++)
        n_rows += x->inner[i] < 0 && x->config[i] == config && strcmp(x->family[i], r->fam[fam].name) == 0;
    /* its rows, then per distinct (repeat, outer): top or open anywhere in it */
    const RungRow **own = xcalloc((size_t)r->n_rungs + 1, sizeof *own);
    for (int i = 0; i < r->n_rungs; i++)
        if (r->rungs[i].family == fam && r->rungs[i].config == config) own[m++] = &r->rungs[i];
    for (int i = 0; i < m; i++) {
        int seen = 0, due = 0;
        for (int j = 0; j < i && !seen; j++) seen = own[j]->repeat == own[i]->repeat && own[j]->outer == own[i]->outer;
        if (seen) continue;
        n_groups++;
        for (int j = i; j < m; j++)
            due |= own[j]->repeat == own[i]->repeat && own[j]->outer == own[i]->outer &&
                   (own[j]->state == RUNG_TOP || own[j]->state == RUNG_OPEN);
        if (!due) continue;
        n_due++;
        for (int t = 0; t < r->n_trials; t++) {
            const RTrial *tr = &r->trials[t];
            present += tr->fam == fam && tr->config == config && tr->inner < 0 && tr->repeat == own[i]->repeat &&
                       tr->outer == own[i]->outer;
        }
    }
    free(own);
    if (n_groups == 0 || n_rows % n_groups) return 0;
    return present >= n_due * (n_rows / n_groups);
}

/* After the trials are read: each trial's pruned flag from its index row,
 * and the planned trials without a file: missing, or not needed by the
 * search (their configuration was pruned or stopped first). */
static void match_index(Report *r, const SweepIndex *x) {
    for (int i = 0; i < r->n_trials; i++) {
        int k = index_row(r, x, &r->trials[i]);
        r->trials[i].pruned = k >= 0 ? x->pruned[k] : 0;
    }
    /* outer_not_needed per (family, config), once: -1 not asked yet */
    int max_c = 0;
    for (int i = 0; i < x->n; i++)
        if (x->config[i] > max_c) max_c = x->config[i];
    signed char *memo = xmalloc((size_t)REPORT_MAX_FAMILIES * (max_c + 1) + 1);
    memset(memo, -1, (size_t)REPORT_MAX_FAMILIES * (max_c + 1) + 1);
    for (int i = 0; i < x->n; i++) {
        char tp[1400];
        trialfile_path(tp, sizeof tp, r->dir, x->family[i], x->hash[i], ".h5");
        struct stat sb;
        if (stat(tp, &sb) == 0) continue;
        int fam = family_index(r, x->family[i]), nn = 0;
        if (r->staged && r->nested && x->inner[i] < 0 && fam >= 0 && x->config[i] >= 0) {
            signed char *v = &memo[(size_t)fam * (max_c + 1) + x->config[i]];
            if (*v < 0) *v = (signed char)outer_not_needed(r, x, fam, x->config[i]);
            nn = *v;
        }
        if (r->staged && (x->pruned[i] || nn)) {
            r->n_not_needed++;
            continue;
        }
        r->n_missing++;
        add_line(&r->lines, &r->n_lines, "missing: %s (%s trial; index state %s; no file trials/%s-%s.h5)", x->label[i],
                 x->inner[i] < 0 ? "outer" : "inner", x->state[i], x->family[i], x->hash[i]);
    }
    free(memo);
    for (int i = 0; i < r->n_rungs; i++) r->n_open += r->rungs[i].state == RUNG_OPEN;
    if (r->n_open)
        add_line(&r->lines, &r->n_lines, "the search is unfinished: %d rung decision(s) still open", r->n_open);
}

/* The job's data set (sweep.h5's data attribute, else the first family's)
 * and its checksum from a family trained on it; a note for each family
 * trained on its own preparation of the films ([family] data / steps). */
static void pick_data(Report *r) {
    int pick = -1, indexed = r->data[0] != 0;
    for (int f = 0; f < r->n_fam && pick < 0; f++)
        if (r->fam[f].data[0] && strcmp(r->fam[f].data, r->data) == 0) pick = f;
    /* an index of an older sweep, or none: the data set most families name
     * (families come in trial-file name order, so the first is no guide) */
    for (int f = 0, most = 0; f < r->n_fam && !indexed; f++) {
        int n = 0;
        for (int g = 0; g < r->n_fam; g++) n += r->fam[f].data[0] && strcmp(r->fam[g].data, r->fam[f].data) == 0;
        if (n > most) most = n, pick = f;
    }
    if (pick >= 0) {
        snprintf(r->data, sizeof r->data, "%s", r->fam[pick].data);
        snprintf(r->data_checksum, sizeof r->data_checksum, "%s", r->fam[pick].data_checksum);
    }
    for (int f = 0; f < r->n_fam && r->data[0]; f++) {
        if (!r->fam[f].data[0] || strcmp(r->fam[f].data, r->data) == 0) continue;
        if (indexed)
            add_line(&r->notes, &r->n_notes, "Family %s was trained on its own preparation of the films, %s "
                     "(preprocessing: %s), with the same films, labels, groups and folds as the job's data set %s.",
                     r->fam[f].name, r->fam[f].data, r->fam[f].preprocessing, r->data);
        else /* without the index's data attribute, which data set is the job's is not known */
            add_line(&r->notes, &r->n_notes, "Family %s was trained on %s (preprocessing: %s), other families on "
                     "%s (the sweep index does not say which is the job's [data] path).", r->fam[f].name,
                     r->fam[f].data, r->fam[f].preprocessing, r->data);
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The data set's source paths and groups, checked against the trials'
 * data_checksum (dataset_identity: labels, groups, the images' SHA-256 and
 * the preprocessing). A data set that differs, or fails to load, leaves a
 * note (and a warning line) instead. */
static void read_data(Report *r, FILE *warn) {
    if (!r->data[0]) {
        snprintf(r->data_note, sizeof r->data_note, "the trial files name no data set");
        return;
    }
    ErrBuf e = {{0}};
    Dataset d;
    if (dataset_load(&d, r->data, &e) != HIPID_OK) {
        snprintf(r->data_note, sizeof r->data_note, "%s", e.msg);
        if (warn && access(r->data, F_OK) == 0) /* a data set moved away was never worth a warning */
            fprintf(warn, "hipid report: warning: %s; the error analysis lists row numbers only\n", e.msg);
        return;
    }
    char ck[24];
    snprintf(ck, sizeof ck, "%016" PRIx64, dataset_identity(&d));
    if (r->data_checksum[0] && strcmp(ck, r->data_checksum) != 0) {
        snprintf(r->data_note, sizeof r->data_note,
                 "%s is not the data set the trials were trained on (data checksum %s, the trials say %s: other "
                 "images, preprocessing, labels or groups)", r->data, ck, r->data_checksum);
        if (warn) fprintf(warn, "hipid report: warning: %s\n", r->data_note);
        dataset_free(&d);
        return;
    }
    r->n_source = d.n;
    r->source_paths = d.source_paths;
    r->data_groups = d.groups;
    r->dup_groups = d.dup_groups;
    d.source_paths = NULL;
    d.groups = NULL;
    d.dup_groups = NULL;
    dataset_free(&d);
}

int report_load(Report *r, const char *dir, FILE *warn, ErrBuf *e) {
    memset(r, 0, sizeof *r);
    r->rope = REPORT_ROPE_DEFAULT;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    char tdir[1100];
    snprintf(tdir, sizeof tdir, "%s/trials", dir);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return hipid_err(e, "%s: no such results folder (give the [run] output folder of a sweep, e.g. results/demo)", dir);
    DIR *d = opendir(tdir);
    if (!d) return hipid_err(e, "%s: no trials folder: is %s the output folder of hipid sweep?", tdir, dir);
    char **names = NULL;
    int n_names = 0;
    for (struct dirent *de; (de = readdir(d));) {
        size_t l = strlen(de->d_name);
        if (l > 3 && strcmp(de->d_name + l - 3, ".h5") == 0 && (l < 8 || strcmp(de->d_name + l - 8, ".ckpt.h5") != 0))
            add_line(&names, &n_names, "%s", de->d_name);
    }
    closedir(d);
    if (n_names == 0) return hipid_err(e, "%s: no trial files (*.h5) yet: run hipid sweep first", tdir);
    qsort(names, n_names, sizeof *names, cmp_str);
    h5_quiet();
    SweepIndex x;
    read_index(r, &x, warn);
    r->trials = xcalloc((size_t)n_names, sizeof(RTrial));
    for (int i = 0; i < n_names; i++) {
        char path[1300];
        ErrBuf te = {{0}};
        snprintf(path, sizeof path, "%s/%s", tdir, names[i]);
        RTrial *t = &r->trials[r->n_trials];
        if (read_trial(r, t, path, &te) != HIPID_OK) {
            r->n_skipped++;
            add_line(&r->lines, &r->n_lines, "unreadable, skipped: %s", te.msg);
            if (warn) fprintf(warn, "hipid report: warning: skipping %s (not counted as done)\n", te.msg);
            continue;
        }
        r->n_trials++;
        if (t->done) {
            r->n_done++;
        } else {
            r->n_failed++;
            add_line(&r->lines, &r->n_lines, "failed: %s (%s)", t->label, t->reason[0] ? t->reason : "no reason given");
        }
    }
    strv_free(names, n_names);
    match_index(r, &x);
    trialfile_index_free(&x);
    if (r->n_done == 0)
        return hipid_err(e, "%s: none of the %d trial file(s) holds a finished trial (%d failed, %d unreadable)", tdir,
                         r->n_trials + r->n_skipped, r->n_failed, r->n_skipped);
    if (!r->have_index) { /* the design from the trials themselves */
        for (int i = 0; i < r->n_trials; i++) {
            r->nested |= r->trials[i].inner >= 0;
            if (r->trials[i].outer + 1 > r->k) r->k = r->trials[i].outer + 1;
            if (r->trials[i].repeat + 1 > r->repeats) r->repeats = r->trials[i].repeat + 1;
        }
    }
    pick_data(r);
    read_data(r, warn);
    return HIPID_OK;
}

/* ---- analysis ---- */

static void trial_metrics(RTrial *t, int K) {
    long *conf = xcalloc((size_t)K * K, sizeof(long));
    t->sens = xcalloc((size_t)K, sizeof(double));
    t->spec = xcalloc((size_t)K, sizeof(double));
    stats_argmax(t->test_pred, t->test_prob, t->n_test, K);
    stats_confusion(conf, t->test_label, t->test_pred, t->n_test, K);
    t->m[M_ACC] = stats_accuracy(conf, K);
    t->m[M_BACC] = stats_balanced_accuracy(conf, K);
    t->m[M_F1] = stats_macro_f1(conf, K);
    t->m[M_AUC] = stats_auc(NULL, t->test_label, t->test_prob, t->n_test, K);
    t->m[M_LOGLOSS] = stats_log_loss(t->test_label, t->test_prob, t->n_test, K);
    stats_sens_spec(t->sens, t->spec, conf, K);
    free(conf);
}

/* Summary of the finite values among x[0..n): the Nadeau-Bengio corrected
 * interval when ratio > 0, else the plain t interval. */
static void summary_finite(Summary *s, const double *x, int n, double ratio) {
    double *v = xmalloc(sizeof(double) * (size_t)(n + 1));
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) v[m++] = x[i];
    if (ratio > 0) stats_summary_corrected(s, v, m, ratio, 0.95);
    else stats_summary(s, v, m, 0.95);
    free(v);
}

/* Summaries of the metrics of trials ts[0..n) (NULL entries skipped). */
static void summarise(Summary *m, Summary *sens, Summary *spec, RTrial *const *ts, int n, int K, double ratio) {
    double *x = xmalloc(sizeof(double) * (size_t)(n + 1));
    for (int k = 0; k < M_COUNT + 2 * K; k++) {
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (!ts[i]) continue;
            x[j++] = k < M_COUNT ? ts[i]->m[k] : k < M_COUNT + K ? ts[i]->sens[k - M_COUNT] : ts[i]->spec[k - M_COUNT - K];
        }
        Summary *s = k < M_COUNT ? &m[k] : k < M_COUNT + K ? &sens[k - M_COUNT] : &spec[k - M_COUNT - K];
        summary_finite(s, x, j, ratio);
    }
    free(x);
}

/* A trial that may stand for its configuration: not marked pruned by the
 * index and trained to its end (a file stopped at a rung has budget > 0).
 * Every trial of a grid is one. */
static int candidate(const RTrial *t) { return !t->pruned && t->budget == 0; }

/* Report.ratio (mean n_test / (n_train + n_val) over the done outer trials
 * and Report.corrected: 1 when the outer trials test at least two different
 * splits (repeat, outer fold); one split, however many seeds, keeps the
 * plain t interval. */
static void design_ratio(Report *r) {
    double sum = 0;
    int n = 0, splits = 0;
    for (int i = 0; i < r->n_trials; i++) {
        const RTrial *t = &r->trials[i];
        if (!t->done || t->inner >= 0 || t->n_train + t->n_val <= 0 || !candidate(t)) continue;
        sum += (double)t->n_test / (t->n_train + t->n_val);
        n++;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) {
            const RTrial *o = &r->trials[j];
            seen = o->done && o->inner < 0 && o->repeat == t->repeat && o->outer == t->outer && candidate(o);
        }
        splits += !seen;
    }
    r->ratio = n ? sum / n : NAN;
    r->corrected = splits >= 2 && isfinite(r->ratio) && r->ratio > 0;
}

static double summary_ratio(const Report *r) { return r->corrected ? r->ratio : 0.0; }

/* conf (K,K) += the confusion matrix of t's test predictions. */
static void add_conf(long *conf, const RTrial *t, int K) {
    for (int i = 0; i < t->n_test; i++) conf[t->test_label[i] * K + t->test_pred[i]]++;
}

static void prop_set(PropCI *p, long k, long n) {
    p->k = k;
    p->n = n;
    p->est = p->lo = p->hi = NAN;
    if (n <= 0) return;
    p->est = (double)k / n;
    stats_prop_ci(&p->lo, &p->hi, k, n, 0.95, STATS_CI_WILSON);
}

/* One-vs-rest sensitivity, specificity and precision of each class from the
 * pooled confusion matrix conf (K,K), with Wilson intervals. Each (K). */
static void class_props(PropCI *sens, PropCI *spec, PropCI *prec, const long *conf, int K) {
    long total = 0;
    for (int i = 0; i < K * K; i++) total += conf[i];
    for (int c = 0; c < K; c++) {
        long tp = conf[c * K + c], row = 0, col = 0;
        for (int j = 0; j < K; j++) row += conf[c * K + j], col += conf[j * K + c];
        prop_set(&sens[c], tp, row);
        prop_set(&spec[c], total - row - col + tp, total - row);
        prop_set(&prec[c], tp, col);
    }
}

static void alloc_props(PropCI **sens, PropCI **spec, PropCI **prec, int K) {
    *sens = xcalloc((size_t)K, sizeof(PropCI));
    *spec = xcalloc((size_t)K, sizeof(PropCI));
    *prec = xcalloc((size_t)K, sizeof(PropCI));
}

static int unit_cmp(const void *a, const void *b) {
    const RUnit *x = a, *y = b;
    if (x->repeat != y->repeat) return x->repeat - y->repeat;
    if (x->seed != y->seed) return x->seed - y->seed;
    return x->outer - y->outer;
}

static RConfig *config_of(Report *r, int fam, int config) {
    for (int i = 0; i < r->n_configs; i++)
        if (r->configs[i].fam == fam && r->configs[i].config == config) return &r->configs[i];
    return NULL;
}

/* Whether (fam, config) is in the rung table. */
static int in_rungs(const Report *r, int fam, int config) {
    for (int i = 0; i < r->n_rungs; i++)
        if (r->rungs[i].family == fam && r->rungs[i].config == config) return 1;
    return 0;
}

/* One RConfig per configuration with an outer trial, and (staged) per
 * configuration of the rung table, which nested has outer trials only where
 * it reached the top rung. */
static void build_configs(Report *r) {
    int K = r->K;
    r->configs = xcalloc((size_t)r->n_trials + r->n_rungs + 1, sizeof(RConfig));
    for (int f = 0; f < r->n_fam; f++) {
        int max_c = -1;
        for (int i = 0; i < r->n_trials; i++)
            if (r->trials[i].fam == f && r->trials[i].inner < 0 && r->trials[i].config > max_c) max_c = r->trials[i].config;
        for (int i = 0; i < r->n_rungs; i++)
            if (r->rungs[i].family == f && r->rungs[i].config > max_c) max_c = r->rungs[i].config;
        for (int c = 0; c <= max_c; c++) {
            RTrial **ts = xcalloc((size_t)r->n_trials + 1, sizeof(RTrial *));
            int n = 0, failed = 0, excluded = 0;
            double vl = 0;
            int n_vl = 0;
            const char *hp = NULL, *hp_inner = NULL;
            for (int i = 0; i < r->n_trials; i++) {
                RTrial *t = &r->trials[i];
                if (t->fam != f || t->config != c) continue;
                excluded |= !candidate(t);
                if (t->done && !hp_inner) hp_inner = t->hparams;
                if (t->inner >= 0) continue;
                if (!t->done) {
                    failed++;
                    continue;
                }
                hp = t->hparams;
                ts[n++] = t;
                if (isfinite(t->val_loss)) vl += t->val_loss, n_vl++;
            }
            if (n + failed == 0 && !in_rungs(r, f, c)) {
                free(ts);
                continue;
            }
            RConfig *rc = &r->configs[r->n_configs++];
            rc->fam = f;
            rc->config = c;
            rc->n_done = n;
            rc->n_failed = failed;
            rc->excluded = excluded;
            snprintf(rc->hparams, sizeof rc->hparams, "%s", hp ? hp : hp_inner ? hp_inner : "(every trial failed)");
            rc->val_loss = n_vl ? vl / n_vl : NAN;
            rc->sens = xcalloc((size_t)K, sizeof(Summary));
            rc->spec = xcalloc((size_t)K, sizeof(Summary));
            summarise(rc->m, rc->sens, rc->spec, ts, n, K, summary_ratio(r));
            long *conf = xcalloc((size_t)K * K, sizeof(long));
            for (int i = 0; i < n; i++) add_conf(conf, ts[i], K);
            alloc_props(&rc->sens_ci, &rc->spec_ci, &rc->prec_ci, K);
            class_props(rc->sens_ci, rc->spec_ci, rc->prec_ci, conf, K);
            free(conf);
            free(ts);
        }
    }
}

static void build_units(Report *r) {
    r->units = xcalloc((size_t)r->n_trials + 1, sizeof(RUnit));
    for (int i = 0; i < r->n_trials; i++) {
        const RTrial *t = &r->trials[i];
        if (!t->done || t->inner >= 0) continue;
        RUnit u = {t->repeat, t->outer, t->seed};
        int seen = 0;
        for (int j = 0; j < r->n_units && !seen; j++) seen = !unit_cmp(&u, &r->units[j]);
        if (!seen) r->units[r->n_units++] = u;
    }
    qsort(r->units, r->n_units, sizeof(RUnit), unit_cmp);
}

static RTrial *find_outer(Report *r, int fam, int config, const RUnit *u) {
    for (int i = 0; i < r->n_trials; i++) {
        RTrial *t = &r->trials[i];
        if (t->done && t->fam == fam && t->config == config && t->inner < 0 && t->repeat == u->repeat &&
            t->outer == u->outer && t->seed == u->seed)
            return t;
    }
    return NULL;
}

/* Nested: per unit, the configuration with the best mean inner accuracy
 * among those whose inner trials of the unit are candidates. */
static void select_nested(Report *r, int f) {
    RFamily *fa = &r->fam[f];
    for (int u = 0; u < r->n_units; u++) {
        const RUnit *un = &r->units[u];
        int best = -1;
        double best_acc = -1, best_ll = INFINITY;
        for (int ci = 0; ci < r->n_configs; ci++) {
            const RConfig *c = &r->configs[ci];
            if (c->fam != f) continue;
            double acc = 0, ll = 0;
            int n = 0, out = 0;
            for (int i = 0; i < r->n_trials; i++) {
                const RTrial *t = &r->trials[i];
                if (t->fam != f || t->config != c->config || t->inner < 0 || t->repeat != un->repeat ||
                    t->outer != un->outer || t->seed != un->seed)
                    continue;
                out |= !candidate(t);
                if (!t->done) continue;
                acc += t->m[M_ACC];
                ll += t->m[M_LOGLOSS];
                n++;
            }
            if (n == 0 || out) continue;
            acc /= n;
            ll /= n;
            if (acc > best_acc || (acc == best_acc && ll < best_ll)) best = c->config, best_acc = acc, best_ll = ll;
        }
        if (best < 0) continue;
        fa->sel[u] = find_outer(r, f, best, un);
        if (fa->sel[u]) config_of(r, f, best)->n_selected++;
    }
}

/* Not nested: the configuration with the lowest mean validation loss among
 * those not excluded by a staged search. */
static void select_by_validation(Report *r, int f, int *by_test) {
    RFamily *fa = &r->fam[f];
    int best = -1;
    double best_v = INFINITY;
    int any_val = 0, n_cand = 0;
    for (int ci = 0; ci < r->n_configs; ci++) {
        const RConfig *c = &r->configs[ci];
        if (c->fam != f || c->n_done == 0 || c->excluded) continue;
        n_cand++;
        any_val |= isfinite(c->val_loss);
    }
    /* one candidate: reported as it is, whatever the validation set */
    *by_test = !any_val && n_cand > 1;
    r->chose |= n_cand > 1;
    for (int ci = 0; ci < r->n_configs; ci++) {
        const RConfig *c = &r->configs[ci];
        if (c->fam != f || c->n_done == 0 || c->excluded) continue;
        double v = any_val ? c->val_loss : -c->m[M_ACC].mean;
        if (isfinite(v) && v < best_v) best = c->config, best_v = v;
    }
    fa->chosen = best;
    if (best < 0) return;
    for (int u = 0; u < r->n_units; u++)
        if ((fa->sel[u] = find_outer(r, f, best, &r->units[u]))) config_of(r, f, best)->n_selected++;
}

static int same_test_set(const RTrial *a, const RTrial *b) {
    if (a->n_test != b->n_test) return 0;
    for (int i = 0; i < a->n_test; i++)
        if (a->test_index[i] != b->test_index[i] || a->test_label[i] != b->test_label[i]) return 0;
    return 1;
}

/* ---- against the class frequencies ---- */

int report_trial_stuck(const RTrial *t, int K) {
    if (!t->done || t->n_epochs < 1 || !t->hist || t->n_test < 1) return 0;
    double h = 0.0;
    for (int k = 0; k < K; k++) {
        long c = 0;
        for (int i = 0; i < t->n_test; i++) c += t->test_label[i] == k;
        double p = (double)c / t->n_test;
        if (p > 0) h -= p * log(p);
    }
    double floor = 0.95 * fmin(log((double)K), h);
    for (int e = 0; e < t->n_epochs; e++)
        if (!(t->hist[e] >= floor)) return 0; /* row 0: train_loss */
    return 1;
}

/* Test rows of t whose leakage group (near-duplicate group if dup) has a
 * member among t's fitted rows; stamp (n_source) is scratch, fresh per call
 * through the value `mark`. */
static long count_leaks(const Report *r, const RTrial *t, const int32_t *grp, int dup, int *stamp, int mark) {
    int n = r->n_source, *size = NULL;
    long leaks = 0;
    if (dup) { /* a near-duplicate group of one image is no group */
        size = xcalloc((size_t)n + 1, sizeof(int));
        for (int i = 0; i < n; i++)
            if (grp[i] >= 0 && grp[i] < n) size[grp[i]]++;
    }
    for (int i = 0; i < t->n_train + t->n_val; i++) {
        int row = t->fit_index[i];
        if (row < n && grp[row] >= 0 && grp[row] < n) stamp[grp[row]] = mark;
    }
    for (int i = 0; i < t->n_test; i++) {
        int row = t->test_index[i];
        if (row >= n || grp[row] < 0 || grp[row] >= n || (size && size[grp[row]] < 2)) continue;
        leaks += stamp[grp[row]] == mark;
    }
    free(size);
    return leaks;
}

static void baseline(Report *r, int f) {
    RFamily *F = &r->fam[f];
    int K = r->K;
    long *count = xcalloc((size_t)K, sizeof(long));
    F->base_class = -1;
    F->learned = -1;
    F->leak_dup = r->dup_groups ? 0 : -1;
    F->leak_group = r->data_groups ? 0 : -1;
    int *stamp = xcalloc((size_t)r->n_source + 1, sizeof(int)), mark = 0;
    for (int u = 0; u < r->n_units; u++) {
        const RTrial *t = F->sel[u];
        if (!t) continue;
        F->n_stuck += report_trial_stuck(t, K);
        if (r->units[u].repeat != r->units[0].repeat || r->units[u].seed != r->units[0].seed) continue;
        for (int i = 0; i < t->n_test; i++) {
            count[t->test_label[i]]++;
            F->base_correct += t->test_pred[i] == t->test_label[i];
        }
        F->base_n += t->n_test;
        if (r->dup_groups) F->leak_dup += count_leaks(r, t, r->dup_groups, 1, stamp, ++mark);
        if (r->data_groups) F->leak_group += count_leaks(r, t, r->data_groups, 0, stamp, ++mark);
    }
    free(stamp);
    for (int k = 0; k < K; k++)
        if (count[k] > 0 && (F->base_class < 0 || count[k] > count[F->base_class])) F->base_class = k;
    if (F->base_class >= 0) {
        F->base_rate = (double)count[F->base_class] / F->base_n;
        F->base_p = stats_binom_greater(F->base_correct, F->base_n, F->base_rate);
        F->learned = F->base_p < 0.05 && F->m[M_ACC].mean > F->base_rate;
    }
    free(count);
}

/* One averaged model per test fold: folds are the distinct (repeat, outer)
 * of the selected trials of families fams[0..nf); a fold's members are those
 * trials (every seed of every listed family) on the same test set as the
 * first. A fold on which some listed family has no member is left out and
 * counted in *incomplete. Returns the folds (repeat, outer, test_prob,
 * test_pred and metrics their own; index and labels borrowed), their count in
 * *n and the fewest members of a kept fold in *fewest. */
static RTrial *fold_ensembles(const Report *r, const int *fams, int nf, int *n, int *fewest, int *incomplete) {
    int K = r->K, total = r->n_units * nf;
    RTrial *folds = xcalloc((size_t)total + 1, sizeof(RTrial));
    char *used = xcalloc((size_t)total + 1, 1);
    char *present = xcalloc((size_t)nf + 1, 1);
    *n = 0;
    *fewest = total + 1;
    *incomplete = 0;
    for (int x = 0; x < total; x++) {
        const RTrial *t = r->fam[fams[x / r->n_units]].sel[x % r->n_units];
        if (!t || used[x]) continue;
        const RUnit *ux = &r->units[x % r->n_units];
        RTrial *e = &folds[(*n)++];
        e->repeat = ux->repeat;
        e->outer = ux->outer;
        e->n_test = t->n_test;
        e->test_index = t->test_index; /* borrowed */
        e->test_label = t->test_label;
        e->test_prob = xcalloc((size_t)t->n_test * K + 1, sizeof(double));
        e->test_pred = xcalloc((size_t)t->n_test + 1, sizeof(int));
        int members = 0, complete = 1;
        memset(present, 0, (size_t)nf);
        for (int y = x; y < total; y++) {
            const RTrial *o = r->fam[fams[y / r->n_units]].sel[y % r->n_units];
            const RUnit *uy = &r->units[y % r->n_units];
            if (!o || used[y] || uy->repeat != ux->repeat || uy->outer != ux->outer || !same_test_set(o, t)) continue;
            used[y] = 1;
            members++;
            present[y / r->n_units] = 1;
            for (long i = 0; i < (long)t->n_test * K; i++) e->test_prob[i] += o->test_prob[i];
        }
        for (int f = 0; f < nf; f++) complete &= present[f];
        if (!complete) {
            free(e->test_prob);
            free(e->test_pred);
            memset(e, 0, sizeof *e);
            (*n)--;
            (*incomplete)++;
            continue;
        }
        for (long i = 0; i < (long)t->n_test * K; i++) e->test_prob[i] /= members;
        trial_metrics(e, K);
        *fewest = members < *fewest ? members : *fewest;
    }
    free(present);
    free(used);
    return folds;
}

static void fold_ensembles_free(RTrial *folds, int n) {
    for (int i = 0; i < n; i++) {
        free(folds[i].test_prob);
        free(folds[i].test_pred);
        free(folds[i].sens);
        free(folds[i].spec);
    }
    free(folds);
}

/* E from n fold ensembles (fold_ensembles; fewest members on a fold),
 * scored when every fold has at least `least` members; the binomial test on
 * the first repeat against base's majority rate. */
static void score_ensemble(Report *r, REnsemble *E, RTrial *folds, int n, int fewest, int least, const RFamily *base) {
    int K = r->K;
    memset(E, 0, sizeof *E);
    E->learned = -1;
    if (n > 0 && fewest >= least) {
        RTrial **ptr = xcalloc((size_t)n, sizeof(RTrial *));
        for (int i = 0; i < n; i++) {
            ptr[i] = &folds[i];
            if (folds[i].repeat != r->units[0].repeat) continue;
            E->base_n += folds[i].n_test;
            for (int j = 0; j < folds[i].n_test; j++) E->base_correct += folds[i].test_pred[j] == folds[i].test_label[j];
        }
        Summary *sens = xcalloc((size_t)K, sizeof(Summary)), *spec = xcalloc((size_t)K, sizeof(Summary));
        summarise(E->m, sens, spec, ptr, n, K, summary_ratio(r));
        free(sens);
        free(spec);
        free(ptr);
        E->seeds = fewest;
        E->n_folds = n;
        if (base->base_class >= 0 && E->base_n > 0) {
            E->base_p = stats_binom_greater(E->base_correct, E->base_n, base->base_rate);
            E->learned = E->base_p < 0.05 && E->m[M_ACC].mean > base->base_rate;
        }
    }
}

/* F->ens: the family's seeds; none when some fold has a single member. */
static void ensemble(Report *r, int f) {
    int n, fewest, incomplete;
    RTrial *folds = fold_ensembles(r, &f, 1, &n, &fewest, &incomplete);
    score_ensemble(r, &r->fam[f].ens, folds, n, fewest, 2, &r->fam[f]);
    fold_ensembles_free(folds, n);
}

/* r->fens from the index's [job] ensemble names: the ensemble over those
 * families and, per member, the corrected t-test over the shared folds of
 * the ensemble minus the member's own fold ensemble (its seeds averaged; its
 * single model with one seed). A named family without selected trials
 * leaves the ensemble out, with a note. */
static void family_ensemble(Report *r, const char *names) {
    RFamEnsemble *X = &r->fens;
    char buf[sizeof X->names];
    snprintf(buf, sizeof buf, "%s", names);
    snprintf(X->names, sizeof X->names, "%s", names);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int f = -1;
        for (int i = 0; i < r->n_fam; i++)
            if (strcmp(r->fam[i].name, tok) == 0) f = i;
        if (f < 0 || r->fam[f].n_sel == 0 || X->n_fam == REPORT_MAX_FAMILIES) {
            add_line(&r->notes, &r->n_notes, "The job's ensemble (%s) is not reported: family %s %s.", names, tok,
                     f < 0 ? "has no trial file in this results folder" : "has no selected trial");
            X->n_fam = 0;
            return;
        }
        X->fam[X->n_fam++] = f;
    }
    if (X->n_fam < 2) {
        X->n_fam = 0;
        return;
    }
    int n, fewest, incomplete, none;
    RTrial *all = fold_ensembles(r, X->fam, X->n_fam, &n, &fewest, &incomplete);
    score_ensemble(r, &X->e, all, n, fewest, 1, &r->fam[X->fam[0]]);
    if (incomplete)
        add_line(&r->notes, &r->n_notes, "The job's ensemble leaves out %d test fold(s) on which some of its families "
                 "(%s) have no selected trial.", incomplete, names);
    double *d = xcalloc((size_t)2 * n + 1, sizeof(double));
    for (int m = 0; m < X->n_fam; m++) {
        int nm, fm, J = 0;
        RTrial *own = fold_ensembles(r, &X->fam[m], 1, &nm, &fm, &none);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < nm; j++) {
                if (own[j].repeat != all[i].repeat || own[j].outer != all[i].outer || !same_test_set(&own[j], &all[i]))
                    continue;
                d[J] = all[i].m[M_ACC] - own[j].m[M_ACC];
                d[n + J++] = all[i].m[M_BACC] - own[j].m[M_BACC];
                break;
            }
        X->member_models[m] = fm;
        X->n_pairs[m] = J;
        double ratio = summary_ratio(r);
        stats_ttest_corrected(&X->vs[m][0], d, J, ratio, 0.95);
        stats_ttest_corrected(&X->vs[m][1], d + n, J, ratio, 0.95);
        fold_ensembles_free(own, nm);
    }
    free(d);
    fold_ensembles_free(all, n);
}

/* "; the ensemble of its 3 seeds did: 318 of 597 right (0.533), p = 0.027"
 * ("pre's" for "its" when named) for a family that learned nothing alone but
 * whose ensemble row did; "" otherwise. */
static void ensemble_clause(char *buf, size_t cap, const RFamily *F, int named) {
    char p[32], whose[40];
    buf[0] = '\0';
    if (F->learned != 0 || F->ens.learned != 1) return;
    report_fmt_p(p, sizeof p, F->ens.base_p);
    snprintf(whose, sizeof whose, "%s%s", named ? F->name : "its", named ? "'s" : "");
    snprintf(buf, cap, "; the ensemble of %s %d seeds did: %ld of %ld right (%.3f), %s", whose, F->ens.seeds,
             F->ens.base_correct, F->ens.base_n, (double)F->ens.base_correct / F->ens.base_n, p);
}

/* x in points to one decimal, without a "-0.0" */
static double points(double x) {
    double v = round(1000 * x) / 10;
    return v == 0 ? 0.0 : v;
}

/* "+3.7 points [-1.7, +9.1], p = 0.16" at buf + *at. */
static void points_text(char *buf, size_t cap, size_t *at, const TTest *t) {
    char p[32];
    report_fmt_p(p, sizeof p, t->p);
    if (*at >= cap) return;
    if (!isfinite(t->estimate)) *at += (size_t)snprintf(buf + *at, cap - *at, "n/a");
    else if (!isfinite(t->lo)) *at += (size_t)snprintf(buf + *at, cap - *at, "%+.1f points", points(t->estimate));
    else
        *at += (size_t)snprintf(buf + *at, cap - *at, "%+.1f points [%+.1f, %+.1f], %s", points(t->estimate),
                                points(t->lo), points(t->hi), p);
}

void report_fens_text(char *buf, size_t cap, const Report *r) {
    const RFamEnsemble *X = &r->fens;
    size_t at = 0;
    buf[0] = '\0';
    if (X->n_fam == 0 || X->e.n_folds == 0) return;
    at += (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < X->n_fam && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? ", " : "", r->fam[X->fam[i]].name);
    if (at < cap)
        at += (size_t)snprintf(buf + at, cap - at, "; [job] ensemble, named before any result): %ld of %ld test "
                               "images right on the first repeat (%.3f). Against each member's own models (their "
                               "seeds averaged per fold), ensemble minus member over the test folds they share, "
                               "corrected t-test:", X->e.base_correct, X->e.base_n,
                               X->e.base_n ? (double)X->e.base_correct / X->e.base_n : NAN);
    for (int i = 0; i < X->n_fam && at < cap; i++) {
        at += (size_t)snprintf(buf + at, cap - at, "%s %s (%d model%s per fold, %d folds): accuracy ", i ? ";" : "",
                               r->fam[X->fam[i]].name, X->member_models[i], X->member_models[i] == 1 ? "" : "s",
                               X->n_pairs[i]);
        points_text(buf, cap, &at, &X->vs[i][0]);
        if (at < cap) at += (size_t)snprintf(buf + at, cap - at, ", balanced accuracy ");
        points_text(buf, cap, &at, &X->vs[i][1]);
    }
}

void report_base_sentence(char *buf, size_t cap, const Report *r, int f) {
    const RFamily *F = &r->fam[f];
    char p[32];
    buf[0] = '\0';
    if (F->learned != 0) return;
    report_fmt_p(p, sizeof p, F->base_p);
    snprintf(buf, cap,
             "%s did not learn more than the class frequencies: %ld of %ld test images right (%.3f) against %.3f "
             "for always answering \"%s\" (exact binomial test, one-sided, %s)%s",
             F->name, F->base_correct, F->base_n, (double)F->base_correct / F->base_n, F->base_rate,
             r->class_names ? r->class_names[F->base_class] : "?", p,
             F->n_stuck ? "; its training loss never left the class-frequency loss in " : "");
    if (F->n_stuck) {
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, "%d of %d selected trials", F->n_stuck, F->n_sel);
    }
    size_t l = strlen(buf);
    ensemble_clause(buf + l, cap - l, F, 0);
}

/* The verdict's opening when one or both families of c learned nothing
 * beyond the class frequencies ("" otherwise). */
static void verdict_base(char *buf, size_t cap, const RCompare *c, const Report *r) {
    const RFamily *A = &r->fam[c->a], *B = &r->fam[c->b];
    buf[0] = '\0';
    if (A->learned == 0 && B->learned == 0 && A->ens.learned != 1 && B->ens.learned != 1)
        snprintf(buf, cap,
                 "neither %s nor %s learned more than the class frequencies (%.3f and %.3f accuracy against %.3f for "
                 "always answering \"%s\"), so this comparison says nothing about implant identification: ",
                 A->name, B->name, A->m[M_ACC].mean, B->m[M_ACC].mean, A->base_rate,
                 r->class_names ? r->class_names[A->base_class] : "?");
    else if (A->learned == 0 && B->learned == 0) {
        const RFamily *X = A->ens.learned == 1 ? A : B;
        char ens[160];
        ensemble_clause(ens, sizeof ens, X, 1);
        snprintf(buf, cap,
                 "neither %s nor %s learned more than the class frequencies as single models (%.3f and %.3f accuracy "
                 "against %.3f for always answering \"%s\")%s; single models: ",
                 A->name, B->name, A->m[M_ACC].mean, B->m[M_ACC].mean, A->base_rate,
                 r->class_names ? r->class_names[A->base_class] : "?", ens);
    } else if (A->learned == 0 || B->learned == 0) {
        const RFamily *X = A->learned == 0 ? A : B;
        char ens[160];
        ensemble_clause(ens, sizeof ens, X, 1);
        snprintf(buf, cap, "%s learned nothing beyond the class frequencies (%.3f accuracy against %.3f)%s; ", X->name,
                 X->m[M_ACC].mean, X->base_rate, ens);
    }
}

/* "by 15.9 points of accuracy, 95% CI -14.7 to 46.5": estimate and interval
 * of t in points, oriented so that the first-named family is ahead. */
static void verdict_numbers(char *est, char *lo, char *hi, size_t cap, const TTest *t, int a_better) {
    report_fmt_num(est, cap, 100 * fabs(t->estimate), 1);
    report_fmt_num(lo, cap, 100 * (a_better ? t->lo : -t->hi), 1);
    report_fmt_num(hi, cap, 100 * (a_better ? t->hi : -t->lo), 1);
}

/* The p-values of the verdict: "corrected t-test p = 0.030" and, with more
 * than one pair, ", Holm-adjusted over 3 pairs p = 0.090". */
static void verdict_p(char *buf, size_t cap, const RCompare *c, const Report *r) {
    char p[32], ph[32];
    report_fmt_p(p, sizeof p, c->t[M_ACC].p);
    if (r->n_cmp < 2) {
        snprintf(buf, cap, "corrected t-test %s", p);
        return;
    }
    report_fmt_p(ph, sizeof ph, c->p_holm[M_ACC]);
    snprintf(buf, cap, "corrected t-test %s, Holm-adjusted over %d pairs %s", p, r->n_cmp, ph);
}

/* "; Bayesian correlated t-test: P(cnn better) = 0.91, P(within 1 point) =
 * 0.06, P(dnn better) = 0.03" ("" when the test is undefined). */
static void verdict_bayes(char *buf, size_t cap, const RCompare *c, const Report *r, int a_better) {
    const BayesCT *b = &c->bayes[M_ACC];
    const char *A = r->fam[c->a].name, *B = r->fam[c->b].name;
    char rope[32];
    buf[0] = '\0';
    if (!isfinite(b->p_rope)) return;
    snprintf(rope, sizeof rope, "%.3g", 100 * r->rope);
    snprintf(buf, cap, "; Bayesian correlated t-test: P(%s better) = %.2f, P(within %s point%s) = %.2f, P(%s better) = %.2f",
             a_better ? A : B, a_better ? b->p_right : b->p_left, rope, strcmp(rope, "1") ? "s" : "", b->p_rope,
             a_better ? B : A, a_better ? b->p_left : b->p_right);
}

static void verdict_pair(char *out, size_t cap, const RCompare *c, const Report *r) {
    const char *A = r->fam[c->a].name, *B = r->fam[c->b].name;
    const TTest *t = &c->t[M_ACC];
    if (c->n_pairs < 2 || !isfinite(t->lo)) {
        if (c->n_pairs >= 2 && t->estimate == 0)
            snprintf(out, cap, "%s and %s equal: the same accuracy on each of %d paired test folds", A, B, c->n_pairs);
        else
            snprintf(out, cap, "%s vs %s: cannot be compared, %d paired test fold(s) with a result for both (need 2)",
                     A, B, c->n_pairs);
        return;
    }
    int a_better = t->estimate >= 0;
    const char *W = a_better ? A : B, *L = a_better ? B : A;
    char est[32], lo[32], hi[32], p[128], bayes[256];
    verdict_numbers(est, lo, hi, sizeof est, t, a_better);
    verdict_p(p, sizeof p, c, r);
    verdict_bayes(bayes, sizeof bayes, c, r, a_better);
    if (c->p_holm[M_ACC] < 0.05)
        snprintf(out, cap, "%s better than %s by %s points of accuracy (95%% CI %s to %s, %s)%s", W, L, est, lo, hi, p,
                 bayes);
    else
        snprintf(out, cap, "%s better than %s by %s points of accuracy, 95%% CI %s to %s (%s): not distinguishable on "
                           "this data%s%s",
                 W, L, est, lo, hi, p, t->p < 0.05 ? " once the other pairs are accounted for" : "", bayes);
}

static void verdict(RCompare *c, const Report *r) {
    char base[400], rest[800];
    verdict_base(base, sizeof base, c, r);
    verdict_pair(rest, sizeof rest, c, r);
    snprintf(c->verdict, sizeof c->verdict, "%s%s", base, rest);
}

/* Units u where both families of c have a selected trial on the same test
 * set: paired[u] = 1, c->d[m] gets each compared metric's difference, and
 * the ratio and pooled McNemar counts are accumulated. */
static void pair_units(Report *r, RCompare *c, int *paired) {
    const RFamily *A = &r->fam[c->a], *B = &r->fam[c->b];
    double ratio = 0;
    long b = 0, cc = 0;
    int mismatched = 0;
    for (int m = 0; m < C_COUNT; m++) c->d[m] = xcalloc((size_t)r->n_units + 1, sizeof(double));
    for (int u = 0; u < r->n_units; u++) {
        const RTrial *ta = A->sel[u], *tb = B->sel[u];
        if (!ta || !tb) continue;
        if (!same_test_set(ta, tb)) {
            mismatched++;
            continue;
        }
        paired[u] = 1;
        for (int m = 0; m < C_COUNT; m++) c->d[m][c->n_pairs] = ta->m[m] - tb->m[m];
        c->n_pairs++;
        ratio += (double)ta->n_test / (ta->n_train + ta->n_val);
        for (int i = 0; i < ta->n_test; i++) {
            int ra = ta->test_pred[i] == ta->test_label[i], rb = tb->test_pred[i] == tb->test_label[i];
            b += ra && !rb;
            cc += !ra && rb;
        }
    }
    if (mismatched)
        add_line(&r->notes, &r->n_notes, "%s vs %s: %d unit(s) left out because the two trials' test sets differ.",
                 A->name, B->name, mismatched);
    c->ratio = c->n_pairs ? ratio / c->n_pairs : NAN;
    stats_mcnemar_counts(&c->mcnemar, b, cc);
}

/* The corrected t-test and the Bayesian correlated t-test of each compared
 * metric, on its finite differences (AUC can be undefined on a fold). */
static void compare_metrics(RCompare *c, double rope) {
    double *v = xcalloc((size_t)c->n_pairs + 1, sizeof(double));
    /* no paired unit yet (a family without done trials): the tests say n/a */
    double rho = c->n_pairs ? c->ratio : 0.0;
    for (int m = 0; m < C_COUNT; m++) {
        int n = 0;
        for (int j = 0; j < c->n_pairs; j++)
            if (isfinite(c->d[m][j])) v[n++] = c->d[m][j];
        stats_ttest_corrected(&c->t[m], v, n, rho, 0.95);
        stats_bayes_correlated(&c->bayes[m], v, n, rho, rope);
        c->p_holm[m] = c->t[m].p;
    }
    free(v);
}

/* McNemar and (K == 2) DeLong of group gr: the paired units of its
 * (repeat, seed), from unit u on, pooled out of fold. */
static void compare_group(const Report *r, const RCompare *c, RGroup *gr, const int *paired, int u) {
    const RFamily *A = &r->fam[c->a], *B = &r->fam[c->b];
    int K = r->K, n = 0, j = 0;
    for (int v = u; v < r->n_units; v++)
        if (paired[v] && r->units[v].repeat == gr->repeat && r->units[v].seed == gr->seed) n += A->sel[v]->n_test;
    int *y = xcalloc((size_t)n + 1, sizeof(int));
    uint8_t *ca = xcalloc((size_t)n + 1, 1), *cb = xcalloc((size_t)n + 1, 1);
    double *sa = xcalloc((size_t)n + 1, sizeof(double)), *sb = xcalloc((size_t)n + 1, sizeof(double));
    for (int v = u; v < r->n_units; v++) {
        if (!paired[v] || r->units[v].repeat != gr->repeat || r->units[v].seed != gr->seed) continue;
        const RTrial *ta = A->sel[v], *tb = B->sel[v];
        for (int i = 0; i < ta->n_test; i++, j++) {
            y[j] = ta->test_label[i];
            ca[j] = ta->test_pred[i] == y[j];
            cb[j] = tb->test_pred[i] == y[j];
            sa[j] = ta->test_prob[(size_t)i * K + (K - 1)];
            sb[j] = tb->test_prob[(size_t)i * K + (K - 1)];
        }
    }
    gr->n = n;
    stats_mcnemar(&gr->mcnemar, ca, cb, n);
    if (K == 2) {
        gr->have_delong = 1;
        stats_delong(&gr->delong, y, sa, sb, 1, n, 0.95);
    }
    free(y);
    free(ca);
    free(cb);
    free(sa);
    free(sb);
}

/* Per (repeat, seed): McNemar and DeLong on the pooled out-of-fold predictions. */
static void compare_groups(const Report *r, RCompare *c, const int *paired) {
    c->groups = xcalloc((size_t)r->n_units + 1, sizeof(RGroup));
    for (int u = 0; u < r->n_units; u++) {
        if (!paired[u]) continue;
        int g = 0;
        while (g < c->n_groups && (c->groups[g].repeat != r->units[u].repeat || c->groups[g].seed != r->units[u].seed)) g++;
        if (g < c->n_groups) continue;
        RGroup *gr = &c->groups[c->n_groups++];
        gr->repeat = r->units[u].repeat;
        gr->seed = r->units[u].seed;
        compare_group(r, c, gr, paired, u);
    }
}

/* 5x2cv: exactly repeats 0..4 x folds 0..1 x one seed, all paired. */
static void compare_5x2(const Report *r, RCompare *c, const int *paired) {
    const RFamily *A = &r->fam[c->a], *B = &r->fam[c->b];
    int ok5 = c->n_pairs == 10;
    double p[C_COUNT][10];
    for (int u = 0, j = 0; ok5 && u < r->n_units; u++) {
        if (!paired[u]) continue;
        const RUnit *un = &r->units[u];
        ok5 = un->repeat == j / 2 && un->outer == j % 2 && un->seed == r->units[0].seed;
        for (int m = 0; ok5 && m < C_COUNT; m++) p[m][j] = A->sel[u]->m[m] - B->sel[u]->m[m];
        j++;
    }
    if (!ok5) return;
    c->have_5x2 = 1;
    for (int m = 0; m < C_COUNT; m++) stats_5x2cv(&c->t5x2[m], p[m], 0.95);
}

static void compare(Report *r, RCompare *c) {
    int *paired = xcalloc((size_t)r->n_units + 1, sizeof(int));
    pair_units(r, c, paired);
    compare_metrics(c, r->rope);
    compare_groups(r, c, paired);
    compare_5x2(r, c, paired);
    free(paired);
}

/* p_holm of every pair: each metric's corrected-t p-values Holm-adjusted
 * over the pairs. */
static void holm_pairs(Report *r) {
    double *p = xcalloc((size_t)r->n_cmp + 1, sizeof(double)), *adj = xcalloc((size_t)r->n_cmp + 1, sizeof(double));
    for (int m = 0; m < C_COUNT; m++) {
        for (int i = 0; i < r->n_cmp; i++) p[i] = r->cmp[i].t[m].p;
        stats_holm(adj, p, r->n_cmp);
        for (int i = 0; i < r->n_cmp; i++) r->cmp[i].p_holm[m] = adj[i];
    }
    free(p);
    free(adj);
}

/* x[m] (N, F): the compared metrics of every family on the units where all
 * families have a selected trial on the same test set with finite metrics.
 * Returns N. */
static int friedman_blocks(const Report *r, double **x) {
    int F = r->n_fam, N = 0;
    for (int u = 0; u < r->n_units; u++) {
        const RTrial *t0 = r->fam[0].sel[u];
        int ok = t0 != NULL;
        for (int f = 0; ok && f < F; f++) {
            const RTrial *t = r->fam[f].sel[u];
            ok = t && same_test_set(t0, t);
            for (int m = 0; ok && m < C_COUNT; m++) ok = isfinite(t->m[m]);
        }
        if (!ok) continue;
        for (int m = 0; m < C_COUNT; m++)
            for (int f = 0; f < F; f++) x[m][(size_t)N * F + f] = r->fam[f].sel[u]->m[m];
        N++;
    }
    return N;
}

/* Three or more families: Friedman's test, average ranks, the Nemenyi
 * critical difference and Demsar's rank z post-hoc tests, Holm-adjusted. */
static void friedman(Report *r) {
    int F = r->n_fam;
    for (int m = 0; m < C_COUNT; m++) {
        r->friedman_stat[m] = r->friedman_p[m] = r->cd[m] = NAN;
        for (int f = 0; f < REPORT_MAX_FAMILIES; f++) r->avg_rank[m][f] = NAN;
    }
    if (F < 3) return;
    double *x[C_COUNT];
    for (int m = 0; m < C_COUNT; m++) x[m] = xcalloc((size_t)r->n_units * F + 1, sizeof(double));
    int N = r->n_friedman = friedman_blocks(r, x);
    for (int m = 0; m < C_COUNT; m++) {
        r->p_rank[m] = xcalloc((size_t)r->n_cmp + 1, sizeof(double));
        r->p_rank_holm[m] = xcalloc((size_t)r->n_cmp + 1, sizeof(double));
        if (N >= 1) stats_friedman(&r->friedman_stat[m], &r->friedman_p[m], r->avg_rank[m], x[m], N, F);
        r->cd[m] = stats_nemenyi_cd(F, N);
        for (int i = 0; i < r->n_cmp; i++)
            r->p_rank[m][i] = N >= 2 ? stats_rank_z_p(r->avg_rank[m][r->cmp[i].a], r->avg_rank[m][r->cmp[i].b], N, F) : NAN;
        stats_holm(r->p_rank_holm[m], r->p_rank[m], r->n_cmp);
        free(x[m]);
    }
}

/* p_true of each image: the mean probability its tests gave the true class. */
static int img_cmp(const void *x, const void *y, void *ctx) {
    const RImage *a = x, *b = y;
    const Report *r = ctx;
    if (a->p_true != b->p_true) return a->p_true < b->p_true ? -1 : 1;
    if (r->source_paths && a->index < r->n_source && b->index < r->n_source) {
        int c = strcmp(r->source_paths[a->index], r->source_paths[b->index]);
        if (c) return c;
    }
    return a->index - b->index;
}

/* Tally every selected test of every image into all (n_rows): tests, wrong
 * answers, votes (N, F, K), the probability given to the true class, and the
 * first pair's disagreements. */
static void tally_images(const Report *r, RImage *all, int *votes, double *p_sum, int *p_n) {
    int K = r->K, F = r->n_fam;
    for (int u = 0; u < r->n_units; u++) {
        for (int f = 0; f < F; f++) {
            const RTrial *t = r->fam[f].sel[u];
            if (!t) continue;
            for (int i = 0; i < t->n_test; i++) {
                int row = t->test_index[i];
                RImage *im = &all[row];
                im->label = t->test_label[i];
                im->n_tested[f]++;
                im->n_wrong[f] += t->test_pred[i] != t->test_label[i];
                votes[((size_t)row * F + f) * K + t->test_pred[i]]++;
                p_sum[row] += t->test_prob[(size_t)i * K + t->test_label[i]];
                p_n[row]++;
            }
        }
        if (F < 2 || !r->fam[0].sel[u] || !r->fam[1].sel[u] || !same_test_set(r->fam[0].sel[u], r->fam[1].sel[u]))
            continue;
        const RTrial *a = r->fam[0].sel[u], *b = r->fam[1].sel[u];
        for (int i = 0; i < a->n_test; i++) {
            all[a->test_index[i]].n_both++;
            all[a->test_index[i]].n_disagree += a->test_pred[i] != b->test_pred[i];
        }
    }
}

/* Images the first pair disagrees on, or any family gets wrong in more than
 * half of the selected trials that test it, most confidently wrong first. */
static void flag_images(Report *r) {
    int N = r->n_rows, K = r->K, F = r->n_fam;
    RImage *all = xcalloc((size_t)N + 1, sizeof(RImage));
    int *votes = xcalloc((size_t)N * F * K + 1, sizeof(int)), *p_n = xcalloc((size_t)N + 1, sizeof(int));
    double *p_sum = xcalloc((size_t)N + 1, sizeof(double));
    for (int i = 0; i < N; i++) all[i].index = i, all[i].label = -1;
    tally_images(r, all, votes, p_sum, p_n);
    r->img = xcalloc((size_t)N + 1, sizeof(RImage));
    for (int i = 0; i < N; i++) {
        RImage *im = &all[i];
        int flagged = im->n_disagree > 0;
        im->score = 0;
        im->p_true = p_n[i] ? p_sum[i] / p_n[i] : NAN;
        for (int f = 0; f < F; f++) {
            im->pred[f] = -1;
            for (int k = 0, best = 0; k < K; k++) {
                int v = votes[((size_t)i * F + f) * K + k];
                if (v > best) best = v, im->pred[f] = k;
            }
            if (im->n_tested[f] == 0) continue;
            im->score += (double)im->n_wrong[f] / im->n_tested[f];
            flagged |= 2 * im->n_wrong[f] > im->n_tested[f];
        }
        if (flagged) r->img[r->n_img++] = *im;
    }
    qsort_r(r->img, r->n_img, sizeof(RImage), img_cmp, r);
    free(all);
    free(votes);
    free(p_sum);
    free(p_n);
}

/* The pooled out-of-fold AUC (macro and per class) of f's selected trials
 * and how many of them reached each epoch. */
static void family_pooled(Report *r, RFamily *fa) {
    int K = r->K, n = 0, j = 0;
    fa->auc_class = xcalloc((size_t)K, sizeof(double));
    for (int u = 0; u < r->n_units; u++) {
        const RTrial *t = fa->sel[u];
        if (!t) continue;
        n += t->n_test;
        if (t->n_epochs > fa->n_epoch_max) fa->n_epoch_max = t->n_epochs;
    }
    fa->epoch_n = xcalloc((size_t)fa->n_epoch_max + 1, sizeof(int));
    int *y = xcalloc((size_t)n + 1, sizeof(int));
    double *P = xcalloc((size_t)n * K + 1, sizeof(double));
    for (int u = 0; u < r->n_units; u++) {
        const RTrial *t = fa->sel[u];
        if (!t) continue;
        for (int e = 0; e < t->n_epochs; e++) fa->epoch_n[e]++;
        memcpy(y + j, t->test_label, sizeof(int) * (size_t)t->n_test);
        memcpy(P + (size_t)j * K, t->test_prob, sizeof(double) * (size_t)t->n_test * K);
        j += t->n_test;
    }
    fa->auc_pooled = NAN;
    for (int k = 0; k < K; k++) fa->auc_class[k] = NAN;
    if (n > 0) fa->auc_pooled = stats_auc(fa->auc_class, y, P, n, K);
    free(y);
    free(P);
}

/* ---- the search's rung table ---- */

static int rung_cmp(const void *a, const void *b) {
    const RungRow *x = a, *y = b;
    int kx[] = {x->family, x->bracket, x->repeat, x->outer, x->rung}, ky[] = {y->family, y->bracket, y->repeat, y->outer, y->rung};
    for (int i = 0; i < 5; i++)
        if (kx[i] != ky[i]) return kx[i] < ky[i] ? -1 : 1;
    if (x->score != y->score) {
        if (isnan(x->score) || isnan(y->score)) return isnan(x->score) - isnan(y->score);
        return x->score < y->score ? -1 : 1;
    }
    return x->config - y->config;
}

/* The rung table sorted, the compute spent and the counts the report gives. */
static void analyse_search(Report *r) {
    for (int i = 0; i < r->n_trials; i++)
        if (r->trials[i].done && r->trials[i].epochs_run > 0) r->epochs_spent += r->trials[i].epochs_run;
    if (r->n_rungs > 0) qsort(r->rungs, (size_t)r->n_rungs, sizeof(RungRow), rung_cmp); /* none without an index */
    for (int i = 0; i < r->n_rungs; i++) {
        const RungRow *g = &r->rungs[i];
        int new_cfg = 1, new_group = 1, top_before = 0;
        for (int j = 0; j < i; j++) {
            const RungRow *h = &r->rungs[j];
            int same_cfg = h->family == g->family && h->config == g->config;
            new_cfg &= !same_cfg;
            top_before |= same_cfg && h->state == RUNG_TOP;
            new_group &= !(h->family == g->family && h->bracket == g->bracket && h->repeat == g->repeat &&
                           h->outer == g->outer);
        }
        r->n_staged_configs += new_cfg;
        r->n_groups += new_group;
        r->n_top += g->state == RUNG_TOP && !top_before;
    }
}

/* The last rung row of (fam, config) in the group (repeat, outer): the
 * highest rung it entered. NULL if none. */
static const RungRow *last_rung(const Report *r, int fam, int config, int repeat, int outer) {
    const RungRow *last = NULL;
    for (int i = 0; i < r->n_rungs; i++) {
        const RungRow *g = &r->rungs[i];
        if (g->family == fam && g->config == config && g->repeat == repeat && g->outer == outer &&
            (!last || g->rung > last->rung))
            last = g;
    }
    return last;
}

static int stage_text(char *buf, size_t cap, const RungRow *g) {
    const char *ep = g->epochs == 1 ? "epoch" : "epochs";
    if (g->state == RUNG_TOP) return snprintf(buf, cap, "top rung (%d %s)", g->epochs, ep);
    return snprintf(buf, cap, "%s at rung %d (%d %s)",
                    g->state == RUNG_PRUNED ? "pruned" : g->state == RUNG_OPEN ? "open" : "stopped", g->rung, g->epochs, ep);
}

void report_config_stage(char *buf, size_t cap, const Report *r, int fam, int config) {
    buf[0] = '\0';
    /* the groups of (fam, config), each with its last row */
    const RungRow **last = xcalloc((size_t)r->n_rungs + 1, sizeof *last);
    int n = 0;
    for (int i = 0; i < r->n_rungs; i++) {
        const RungRow *g = &r->rungs[i];
        if (g->family != fam || g->config != config) continue;
        const RungRow *l = last_rung(r, fam, config, g->repeat, g->outer);
        int seen = 0;
        for (int j = 0; j < n && !seen; j++) seen = last[j] == l;
        if (!seen) last[n++] = l;
    }
    if (n == 1 && !r->nested) stage_text(buf, cap, last[0]);
    else if (n > 0) {
        /* nested: distinct outcomes (state, rung), counted over the outer folds, top first */
        size_t at = 0;
        int *done = xcalloc((size_t)n, sizeof(int));
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < n; i++) {
                if (done[i] || (pass == 0) != (last[i]->state == RUNG_TOP)) continue;
                int k = 0;
                for (int j = i; j < n; j++)
                    if (!done[j] && last[j]->state == last[i]->state && last[j]->rung == last[i]->rung) k++, done[j] = 1;
                char one[96];
                stage_text(one, sizeof one, last[i]);
                if (at < cap)
                    at += at == 0 ? (size_t)snprintf(buf + at, cap - at, "%s in %d of %d outer folds", one, k, n)
                                  : (size_t)snprintf(buf + at, cap - at, ", %s in %d", one, k);
            }
        free(done);
    }
    free(last);
}

int report_rung_epochs(const Report *r, int *ep, int cap) {
    int n = 0;
    for (int i = 0; i < r->n_rungs; i++) {
        int e = r->rungs[i].epochs, j = 0;
        while (j < n && ep[j] < e) j++;
        if ((j < n && ep[j] == e) || n == cap) continue;
        memmove(ep + j + 1, ep + j, sizeof(int) * (size_t)(n - j));
        ep[j] = e;
        n++;
    }
    return n;
}

/* Selection, summaries, class intervals and the baseline of family f. */
static void analyse_family(Report *r, int f, int *by_test) {
    RFamily *fa = &r->fam[f];
    int K = r->K;
    fa->sel = xcalloc((size_t)r->n_units + 1, sizeof(RTrial *));
    fa->sens = xcalloc((size_t)K, sizeof(Summary));
    fa->spec = xcalloc((size_t)K, sizeof(Summary));
    fa->conf = xcalloc((size_t)K * K, sizeof(long));
    if (r->nested) select_nested(r, f);
    else {
        int bt = 0;
        select_by_validation(r, f, &bt);
        *by_test |= bt && fa->chosen >= 0;
    }
    for (int u = 0; u < r->n_units; u++) {
        if (!fa->sel[u]) continue;
        fa->n_sel++;
        add_conf(fa->conf, fa->sel[u], K);
    }
    summarise(fa->m, fa->sens, fa->spec, fa->sel, r->n_units, K, summary_ratio(r));
    alloc_props(&fa->sens_ci, &fa->spec_ci, &fa->prec_ci, K);
    class_props(fa->sens_ci, fa->spec_ci, fa->prec_ci, fa->conf, K);
    family_pooled(r, fa);
    baseline(r, f);
    ensemble(r, f);
}

void report_analyse(Report *r) {
    for (int i = 0; i < r->n_trials; i++)
        if (r->trials[i].done) trial_metrics(&r->trials[i], r->K);
    analyse_search(r);
    design_ratio(r);
    build_configs(r);
    build_units(r);
    int by_test = 0;
    for (int f = 0; f < r->n_fam; f++) analyse_family(r, f, &by_test);
    r->by_test = by_test;
    if (by_test)
        add_line(&r->notes, &r->n_notes,
                 "No validation loss was recorded (val_fraction 0?): configurations were chosen by mean test accuracy, "
                 "so the estimate of the chosen configuration is optimistic.");
    r->cmp = xcalloc((size_t)(r->n_fam * r->n_fam) + 1, sizeof(RCompare));
    for (int a = 0; a < r->n_fam; a++)
        for (int b = a + 1; b < r->n_fam; b++) {
            RCompare *c = &r->cmp[r->n_cmp++];
            c->a = a;
            c->b = b;
            compare(r, c);
        }
    holm_pairs(r);
    friedman(r);
    if (r->ensemble_names[0]) family_ensemble(r, r->ensemble_names);
    for (int i = 0; i < r->n_cmp; i++) verdict(&r->cmp[i], r);
    flag_images(r);
}

void report_fmt_num(char *buf, size_t cap, double v, int dec) {
    double a = fabs(v);
    if (!isfinite(v)) snprintf(buf, cap, "n/a");
    else if (a == 0 || a >= 0.95 * pow(10, 1 - dec)) snprintf(buf, cap, "%.*f", dec, v);
    else snprintf(buf, cap, "%.*f", (int)ceil(-log10(a)) + 1, v);
}

void report_fmt_p(char *buf, size_t cap, double p) {
    if (!isfinite(p)) snprintf(buf, cap, "p n/a");
    else if (p < 0.001) snprintf(buf, cap, "p < 0.001");
    else snprintf(buf, cap, "p = %.3f", p);
}

int report_leak_totals(const Report *r, long *worst, long *dup_only) {
    int any = 0;
    *worst = *dup_only = 0;
    for (int fa = 0; fa < r->n_fam; fa++) {
        const RFamily *F = &r->fam[fa];
        any |= F->leak_group >= 0 && F->base_n > 0;
        if (F->leak_group > *worst) *worst = F->leak_group;
        if (F->leak_dup > *dup_only) *dup_only = F->leak_dup;
    }
    return any;
}
