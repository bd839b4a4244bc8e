/* trialfile.c: writing and reading trial files and the sweep index (see
 * trialfile.h for the layout). No MPI: the sweep's scheduler decides who
 * writes when; the report, predict and eval read. */
#include "hipid/sweep/trialfile.h"


#include <glib.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hipid/base/fsafe.h"
#include "hipid/base/h5util.h"
#include "hipid/nn/ops.h"

int trialfile_path(char *buf, size_t cap, const char *results, const char *family, const char *hash_hex,
                   const char *suffix) {
    return snprintf(buf, cap, "%s/trials/%s-%s%s", results, family, hash_hex, suffix);
}

/* ---- checksums ----
 *
 * weights_sha256 and predictions_sha256 (root attributes, 64 hex digits) are
 * SHA-256 over a canonical walk of the saved objects, so they depend on the
 * bytes as stored and nothing else (no times, hosts or rank counts):
 *   - objects in name order (H5Literate by name, increasing), groups
 *     recursively; for each, "G <path>\n" or "D <path>\n", then its
 *     attributes in name order as "A <name>\n" + value;
 *   - a value (attribute or dataset) is "<class> <size> <sign> <ndims> <dims...>\n"
 *     then its elements: numbers little-endian in their stored width,
 *     fixed-length strings as stored, variable-length strings each followed
 *     by a NUL byte.
 * weights_sha256 covers weights/ (every tensor of "best" and "last" with the
 * model attributes). predictions_sha256 covers class_names, indices/,
 * history/ (but history/seconds, a wall time), predictions/ and metrics/,
 * then the root attributes of CHECKED_ATTRS (what identifies the trial and
 * how it scored); an absent object or attribute hashes as "- <name>\n". */

static const char *const CHECKED_OBJECTS[] = {"class_names", "indices", "history", "predictions", "metrics"};
static const char *const CHECKED_ATTRS[] = {
    "state", "reason", "hash", "key", "label", "family", "config", "repeat", "outer", "inner", "seed",
    "n_classes", "image_size", "data", "data_checksum", "preprocessing", "best_epoch", "epochs_run",
    "test_acc", "test_loss", "val_acc", "val_loss"};

static void sum_text(GChecksum *s, const char *fmt, ...) {
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_checksum_update(s, (const guchar *)buf, n < (int)sizeof buf ? n : (int)sizeof buf - 1);
}

/* The value of an attribute (is_attr) or dataset id into s; HIPID_ERR if it
 * cannot be read. */
static int sum_value(GChecksum *s, hid_t id, int is_attr) {
    int rc = HIPID_ERR;
    hid_t type = is_attr ? H5Aget_type(id) : H5Dget_type(id), space = is_attr ? H5Aget_space(id) : H5Dget_space(id);
    hid_t mem = H5I_INVALID_HID;
    void *buf = NULL;
    if (type < 0 || space < 0) goto error;
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    int nd = H5Sget_simple_extent_ndims(space), vstr = cls == H5T_STRING && H5Tis_variable_str(type) > 0;
    hssize_t np = H5Sget_simple_extent_npoints(space);
    hsize_t dims[H5S_MAX_RANK];
    if (nd < 0 || nd > H5S_MAX_RANK || np < 0 || H5Sget_simple_extent_dims(space, dims, NULL) < 0) goto error;
    int sign = cls == H5T_INTEGER ? (int)H5Tget_sign(type) : -1;
    sum_text(s, "%d %zu %d %d", (int)cls, vstr ? (size_t)0 : size, sign, nd);
    for (int i = 0; i < nd; i++) sum_text(s, " %llu", (unsigned long long)dims[i]);
    sum_text(s, "\n");
    if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        if ((mem = H5Tcopy(type)) < 0 || H5Tset_order(mem, H5T_ORDER_LE) < 0) goto error;
    } else if (cls == H5T_STRING) {
        if ((mem = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mem, vstr ? H5T_VARIABLE : size) < 0) goto error;
        if (!vstr && H5Tset_strpad(mem, H5Tget_strpad(type)) < 0) goto error;
        if (H5Tset_cset(mem, H5Tget_cset(type)) < 0) goto error;
    } else {
        goto error; /* hipid writes no other kind */
    }
    size_t each = vstr ? sizeof(char *) : size;
    buf = xcalloc((size_t)np + 1, each);
    if (np > 0 && (is_attr ? H5Aread(id, mem, buf) : H5Dread(id, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)) < 0)
        goto error;
    if (vstr) {
        char **str = buf;
        for (hssize_t i = 0; i < np; i++) g_checksum_update(s, (const guchar *)(str[i] ? str[i] : ""), (gssize)strlen(str[i] ? str[i] : "") + 1);
        if (np > 0) H5Dvlen_reclaim(mem, space, H5P_DEFAULT, buf);
    } else {
        g_checksum_update(s, buf, (gssize)((size_t)np * each));
    }
    rc = HIPID_OK;
error:
    free(buf);
    if (mem >= 0) H5Tclose(mem);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return rc;
}

typedef struct {
    GChecksum *s;
    int bad;
    char path[1024];
} SumWalk;

static herr_t sum_attr_cb(hid_t obj, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    SumWalk *w = data;
    sum_text(w->s, "A %s\n", name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0 || sum_value(w->s, a, 1) != HIPID_OK) w->bad = 1;
    if (a >= 0) H5Aclose(a);
    return w->bad ? -1 : 0;
}

static int sum_object(SumWalk *w, hid_t loc, const char *name);

static herr_t sum_link_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)info;
    SumWalk *w = data;
    return sum_object(w, g, name) == HIPID_OK ? 0 : -1;
}

/* name (under loc) and everything below it, into w->s. */
static int sum_object(SumWalk *w, hid_t loc, const char *name) {
    size_t len = strlen(w->path);
    int n = snprintf(w->path + len, sizeof w->path - len, "%s%s", len ? "/" : "", name);
    if (n < 0 || (size_t)n >= sizeof w->path - len) return w->bad = 1, HIPID_ERR;
    if (strcmp(w->path, "history/seconds") == 0) { /* a wall time: differs between equal runs */
        w->path[len] = 0;
        return HIPID_OK;
    }
    H5O_info_t oi;
    hid_t o = H5I_INVALID_HID;
    if (H5Oget_info_by_name(loc, name, &oi, H5P_DEFAULT) < 0 || (oi.type != H5O_TYPE_GROUP && oi.type != H5O_TYPE_DATASET) ||
        (o = H5Oopen(loc, name, H5P_DEFAULT)) < 0) {
        w->bad = 1;
    } else {
        int group = oi.type == H5O_TYPE_GROUP;
        sum_text(w->s, "%c %s\n", group ? 'G' : 'D', w->path);
        hsize_t idx = 0;
        if (H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, sum_attr_cb, w) < 0) w->bad = 1;
        if (!w->bad && group) {
            idx = 0;
            if (H5Literate(o, H5_INDEX_NAME, H5_ITER_INC, &idx, sum_link_cb, w) < 0) w->bad = 1;
        } else if (!w->bad && sum_value(w->s, o, 0) != HIPID_OK) {
            w->bad = 1;
        }
    }
    if (o >= 0) H5Oclose(o);
    w->path[len] = 0;
    return w->bad ? HIPID_ERR : HIPID_OK;
}

/* The checksum (64 hex digits) of the weights (which 0) or the predictions
 * (which 1) of an open trial file; HIPID_ERR if something is unreadable. */
static int trial_sha256(char hex[65], hid_t f, int which) {
    SumWalk w = {g_checksum_new(G_CHECKSUM_SHA256), 0, ""};
    const char *const *objs = which ? CHECKED_OBJECTS : (const char *const[]){"weights"};
    size_t n_objs = which ? sizeof CHECKED_OBJECTS / sizeof *CHECKED_OBJECTS : 1;
    sum_text(w.s, "hipid-trial-%s 1\n", which ? "predictions" : "weights");
    for (size_t i = 0; !w.bad && i < n_objs; i++) {
        if (H5Lexists(f, objs[i], H5P_DEFAULT) > 0) sum_object(&w, f, objs[i]);
        else sum_text(w.s, "- %s\n", objs[i]);
    }
    for (size_t i = 0; which && !w.bad && i < sizeof CHECKED_ATTRS / sizeof *CHECKED_ATTRS; i++) {
        hid_t a = H5Aexists(f, CHECKED_ATTRS[i]) > 0 ? H5Aopen(f, CHECKED_ATTRS[i], H5P_DEFAULT) : H5I_INVALID_HID;
        sum_text(w.s, "%s %s\n", a >= 0 ? "A" : "-", CHECKED_ATTRS[i]);
        if (a >= 0 && sum_value(w.s, a, 1) != HIPID_OK) w.bad = 1;
        if (a >= 0) H5Aclose(a);
    }
    snprintf(hex, 65, "%s", g_checksum_get_string(w.s));
    g_checksum_free(w.s);
    return w.bad ? HIPID_ERR : HIPID_OK;
}

static const char *const SUM_ATTR[2] = {"weights_sha256", "predictions_sha256"};
static const char *const SUM_WHAT[2] = {"weights", "predictions"};

/* Before the file is closed: both checksums as root attributes. */
static int write_checksums(hid_t f) {
    for (int k = 0; k < 2; k++) {
        char hex[65];
        if (trial_sha256(hex, f, k) != HIPID_OK || h5_attr_write_str(f, SUM_ATTR[k], hex) != HIPID_OK)
            return HIPID_ERR;
    }
    return HIPID_OK;
}

int trialfile_verify(hid_t f, const char *path, ErrBuf *e) {
    for (int k = 0; k < 2; k++) {
        char want[80] = "", got[65];
        if (H5Aexists(f, SUM_ATTR[k]) <= 0) continue; /* written before checksums */
        if (h5_attr_read_str(f, SUM_ATTR[k], want, sizeof want) != HIPID_OK || trial_sha256(got, f, k) != HIPID_OK)
            return hipid_err(e, "%s: %s unreadable (corrupt; rerun the sweep to redo the trial)", path, SUM_WHAT[k]);
        if (strcmp(want, got) != 0)
            return hipid_err(e, "%s: %s do not match their checksum (corrupt; rerun the sweep to redo the trial)",
                             path, SUM_WHAT[k]);
    }
    return HIPID_OK;
}

/* ---- writing ---- */

/* Labels of idx, softmax of logits: the predictions group. */
static int write_predictions(hid_t g, const char *which, const Dataset *d, const int *idx, int n,
                             const float *logits) {
    int K = d->n_classes;
    char name[32];
    int *lab = xmalloc(sizeof(int) * (n ? n : 1));
    float *prob = xmalloc_f32((size_t)(n ? n : 1) * K);
    softmax_rows(prob, logits, n, K);
    for (int i = 0; i < n; i++) lab[i] = d->labels[idx[i]];
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)K};
    int bad = 0;
    snprintf(name, sizeof name, "%s_index", which);
    bad |= h5_write_i32(g, name, idx, n);
    snprintf(name, sizeof name, "%s_label", which);
    bad |= h5_write_i32(g, name, lab, n);
    snprintf(name, sizeof name, "%s_prob", which);
    bad |= h5_write_f32(g, name, prob, 2, dims);
    free(lab);
    free(prob);
    return bad ? HIPID_ERR : HIPID_OK;
}

static int write_attrs(hid_t f, const TrialRecord *o) {
    const Job *j = o->job;
    const Trial *t = o->t;
    const Dataset *d = o->d;
    const HParams *h = &j->families[t->family].configs[t->config];
    char key[8192], label[128], hash[24], ck[24], aug[256];
    job_trial_key(key, sizeof key, j, t, o->data_checksum);
    job_trial_label(label, sizeof label, j, t);
    snprintf(hash, sizeof hash, "%016" PRIx64, t->hash);
    snprintf(ck, sizeof ck, "%016" PRIx64, o->data_checksum);
    augment_format(aug, sizeof aug, &h->aug);
    int seed = (int)t->seed, best = o->tr ? o->tr->best_epoch : 0, run = o->tr ? o->tr->n_hist : 0;
    int one[] = {t->config, t->repeat, t->outer, t->inner, seed, o->attempts, h->batch, h->micro_batch,
                 h->epochs, h->patience, h->standardize, d->size, d->n_classes, best, run, o->ranks,
                 o->threads, o->budget};
    const char *one_names[] = {"config", "repeat", "outer", "inner", "seed", "attempts", "batch",
                               "micro_batch", "epochs", "patience", "standardize", "image_size",
                               "n_classes", "best_epoch", "epochs_run", "ranks", "threads", "budget"};
    int bad = h5_attr_write_str(f, "state", o->state) || h5_attr_write_str(f, "reason", o->reason) ||
              h5_attr_write_str(f, "hash", hash) || h5_attr_write_str(f, "key", key) ||
              h5_attr_write_str(f, "label", label) ||
              h5_attr_write_str(f, "family", j->families[t->family].name) ||
              h5_attr_write_str(f, "job", j->name) || h5_attr_write_str(f, "model", h->model) ||
              h5_attr_write_str(f, "optimizer", optim_kind_names[h->opt.kind]) ||
              h5_attr_write_str(f, "schedule", optim_sched_names[h->opt.sched]) ||
              h5_attr_write_double(f, "gamma", h->opt.gamma) ||
              h5_attr_write_int(f, "step_size", &h->opt.step_size, 1) ||
              h5_attr_write_str(f, "augment", aug) || h5_attr_write_str(f, "balance", train_balance_names[h->balance]) ||
              h5_attr_write_str(f, "gradient_sum", train_sum_names[h->gradient_sum]) ||
              h5_attr_write_str(f, "init", h->init) || h5_attr_write_int(f, "freeze", &h->freeze, 1) ||
              h5_attr_write_double(f, "head_lr", h->head_lr) ||
              h5_attr_write_int(f, "warmup", &h->opt.warmup, 1) ||
              h5_attr_write_double(f, "label_smoothing", h->label_smoothing) ||
              h5_attr_write_double(f, "mixup", h->mix.mixup) || h5_attr_write_double(f, "cutmix", h->mix.cutmix) ||
              h5_attr_write_double(f, "subsample", j->families[t->family].subsample) ||
              h5_attr_write_str(f, "tta", tta_names[h->tta]) ||
              h5_attr_write_str(f, "data", job_family_data(j, t->family)) || h5_attr_write_str(f, "data_checksum", ck) ||
              h5_attr_write_str(f, "preprocessing", d->preprocessing) ||
              h5_attr_write_double(f, "lr", h->opt.lr) || h5_attr_write_double(f, "momentum", h->opt.momentum) ||
              h5_attr_write_double(f, "weight_decay", h->opt.weight_decay) ||
              h5_attr_write_double(f, "dropout", h->dropout) || h5_attr_write_double(f, "seconds", o->seconds) ||
              h5_attr_write_double(f, "allreduce_seconds", o->allreduce_seconds) ||
              h5_attr_write_double(f, "test_acc", o->test_acc) ||
              h5_attr_write_double(f, "test_loss", o->test_loss) ||
              h5_attr_write_double(f, "val_acc", o->val_acc) || h5_attr_write_double(f, "val_loss", o->val_loss);
    for (size_t i = 0; !bad && i < sizeof one / sizeof one[0]; i++) bad = h5_attr_write_int(f, one_names[i], &one[i], 1);
    bad = bad || h5_write_strings(f, "class_names", d->class_names, d->n_classes);
    return bad ? HIPID_ERR : HIPID_OK;
}

static int write_history(hid_t f, const Trainer *tr) {
    hid_t g = H5Gcreate2(f, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return HIPID_ERR;
    int n = tr->n_hist;
    hsize_t dim = (hsize_t)n;
    int *ep = xmalloc(sizeof(int) * (n ? n : 1));
    float *col = xmalloc(sizeof(float) * (n ? n : 1));
    double *sec = xmalloc(sizeof(double) * (n ? n : 1));
    int bad = 0;
    for (int i = 0; i < n; i++) {
        ep[i] = tr->hist[i].epoch;
        sec[i] = tr->hist[i].seconds;
    }
    bad |= h5_write_i32(g, "epoch", ep, n);
    bad |= h5_write(g, "seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sec, 1, &dim, 0);
    static const char *names[] = {"lr", "train_loss", "train_acc", "val_loss", "val_acc"};
    for (int c = 0; c < 5; c++) {
        for (int i = 0; i < n; i++) {
            const EpochRecord *r = &tr->hist[i];
            float v[5] = {r->lr, r->train_loss, r->train_acc, r->val_loss, r->val_acc};
            col[i] = v[c];
        }
        bad |= h5_write_f32(g, names[c], col, 1, &dim);
    }
    free(ep);
    free(col);
    free(sec);
    if (H5Gclose(g) < 0) bad = 1;
    return bad ? HIPID_ERR : HIPID_OK;
}

hid_t trialfile_create(char *tmp, size_t cap, const char *path, ErrBuf *e) {
    return h5_create_versioned(tmp, cap, path, TRIAL_FORMAT, TRIAL_FORMAT_VERSION, e);
}

int trialfile_finish(hid_t f, int ok, const char *tmp, const char *path, ErrBuf *e) {
    ok = ok && write_checksums(f) == HIPID_OK;
    return h5_finish_versioned(f, ok, tmp, path, "trial file", e);
}

int trialfile_write_weights(hid_t f, const char *which, const Model *m) {
    hid_t w = H5Gopen2(f, "weights", H5P_DEFAULT);
    if (w < 0) w = H5Gcreate2(f, "weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (w < 0) return HIPID_ERR;
    hid_t g = H5Gcreate2(w, which, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = g < 0 || model_write_h5(m, g) != HIPID_OK;
    if (g >= 0 && H5Gclose(g) < 0) bad = 1;
    if (H5Gclose(w) < 0) bad = 1;
    return bad ? HIPID_ERR : HIPID_OK;
}

/* metrics/confusion of the test logits: rows true class, columns argmax. */
static int write_confusion(hid_t f, const TrialRecord *o) {
    const Dataset *d = o->d;
    int K = d->n_classes;
    int *conf = xcalloc((size_t)K * K, sizeof(int));
    for (int i = 0; i < o->p->n_test; i++) {
        const float *z = o->test_logits + (long)i * K;
        int best = 0;
        for (int k = 1; k < K; k++) best = z[k] > z[best] ? k : best;
        conf[d->labels[o->p->test[i]] * K + best]++;
    }
    hsize_t dims[2] = {(hsize_t)K, (hsize_t)K};
    hid_t g = H5Gcreate2(f, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = g < 0 || h5_write(g, "confusion", H5T_STD_I32LE, H5T_NATIVE_INT, conf, 2, dims, 0);
    if (g >= 0) H5Gclose(g);
    free(conf);
    return bad ? HIPID_ERR : HIPID_OK;
}

int trialfile_write_record(hid_t f, const TrialRecord *o) {
    int bad = write_attrs(f, o) != HIPID_OK;
    if (!o->p) return bad ? HIPID_ERR : HIPID_OK;
    hid_t g = H5Gcreate2(f, "indices", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad = bad || g < 0 || h5_write_i32(g, "train", o->p->train, o->p->n_train) ||
          h5_write_i32(g, "val", o->p->val, o->p->n_val) || h5_write_i32(g, "test", o->p->test, o->p->n_test);
    if (g >= 0) H5Gclose(g);
    if (bad || !o->tr) return bad ? HIPID_ERR : HIPID_OK;
    bad = write_history(f, o->tr) != HIPID_OK;
    if (strcmp(o->state, "failed") == 0) return bad ? HIPID_ERR : HIPID_OK; /* the epochs it completed only */
    g = H5Gcreate2(f, "predictions", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad = bad || g < 0 || write_predictions(g, "val", o->d, o->p->val, o->p->n_val, o->val_logits) ||
          write_predictions(g, "test", o->d, o->p->test, o->p->n_test, o->test_logits);
    if (g >= 0) H5Gclose(g);
    bad = bad || write_confusion(f, o) != HIPID_OK;
    return bad ? HIPID_ERR : HIPID_OK;
}

int trialfile_write_failed(const char *path, const TrialRecord *r, ErrBuf *e) {
    char tmp[1500];
    hid_t f = trialfile_create(tmp, sizeof tmp, path, e);
    if (f < 0) return HIPID_ERR;
    return trialfile_finish(f, trialfile_write_record(f, r) == HIPID_OK, tmp, path, e);
}

/* ---- the index ---- */

static const char *state_name(int s) {
    static const char *n[] = {"todo", "partial", "done", "failed", "bad"};
    return n[s];
}

/* The index's columns, in the order written. */
typedef struct {
    char **lab, **fam, **state, **hash, **reason; /* (n) */
    int *iv;                                       /* (N_INDEX_INT, n) */
    double *dv;                                    /* (5, n) */
} IndexColumns;

static const char *const index_int_names[] = {"config", "repeat", "outer", "inner", "seed", "attempts", "best_epoch", "ranks",
                                              "budget", "pruned"};
#define N_INDEX_INT ((int)(sizeof index_int_names / sizeof *index_int_names))
static const char *const index_dbl_names[] = {"test_acc", "test_loss", "val_acc", "val_loss", "seconds"};

static void index_columns(IndexColumns *c, const Job *job, const Trial *plan, const TrialSummary *sum, int n) {
    c->lab = xcalloc(n ? n : 1, sizeof(char *));
    c->fam = xcalloc(n ? n : 1, sizeof(char *));
    c->state = xcalloc(n ? n : 1, sizeof(char *));
    c->hash = xcalloc(n ? n : 1, sizeof(char *));
    c->reason = xcalloc(n ? n : 1, sizeof(char *));
    c->iv = xmalloc(sizeof(int) * N_INDEX_INT * (n ? n : 1));
    c->dv = xmalloc(sizeof(double) * 5 * (n ? n : 1));
    for (int i = 0; i < n; i++) {
        const Trial *t = &plan[i];
        const TrialSummary *s = &sum[i];
        char buf[128];
        job_trial_label(buf, sizeof buf, job, t);
        c->lab[i] = strdup(buf);
        c->fam[i] = strdup(job->families[t->family].name);
        c->state[i] = strdup(state_name(s->state));
        snprintf(buf, sizeof buf, "%016" PRIx64, t->hash);
        c->hash[i] = strdup(buf);
        c->reason[i] = strdup(s->reason);
        int row[N_INDEX_INT] = {t->config, t->repeat, t->outer, t->inner, (int)t->seed, s->attempts, s->best_epoch,
                                s->ranks, s->budget, s->pruned};
        for (int k = 0; k < N_INDEX_INT; k++) c->iv[k * n + i] = row[k];
        double drow[5] = {s->test_acc, s->test_loss, s->val_acc, s->val_loss, s->seconds};
        for (int k = 0; k < 5; k++) c->dv[k * n + i] = drow[k];
    }
}

static void index_columns_free(IndexColumns *c, int n) {
    strv_free(c->lab, n);
    strv_free(c->fam, n);
    strv_free(c->state, n);
    strv_free(c->hash, n);
    strv_free(c->reason, n);
    free(c->iv);
    free(c->dv);
}

/* The search's attributes and, with halving or pruning, the rung table. */
static int write_search(hid_t f, const Job *job, const Trial *plan, int n, const RungRow *rows, int n_rows) {
    double grid = 0.0;
    for (int i = 0; i < n; i++) grid += job->families[plan[i].family].configs[plan[i].config].epochs;
    int bad = h5_attr_write_str(f, "search", search_mode_names[job->search]) ||
              h5_attr_write_str(f, "metric", search_metric_names[job->metric]) ||
              h5_attr_write_str(f, "prune", search_prune_names[job->prune]) ||
              h5_attr_write_int(f, "eta", &job->eta, 1) || h5_attr_write_int(f, "min_epochs", &job->min_epochs, 1) ||
              h5_attr_write_int(f, "max_epochs", &job->max_epochs, 1) || h5_attr_write_double(f, "grid_epochs", grid);
    if (bad || n_rows <= 0) return bad;
    hid_t g = H5Gcreate2(f, "rungs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return 1;
    enum { NI = 7 };
    static const char *const names[NI] = {"config", "bracket", "repeat", "outer", "rung", "epochs", "n_units"};
    int32_t *iv = xmalloc(sizeof(int32_t) * NI * n_rows);
    double *score = xmalloc(sizeof(double) * n_rows);
    char **fam = xcalloc(n_rows, sizeof(char *)), **state = xcalloc(n_rows, sizeof(char *));
    for (int i = 0; i < n_rows; i++) {
        const RungRow *r = &rows[i];
        int32_t row[NI] = {r->config, r->bracket, r->repeat, r->outer, r->rung, r->epochs, r->n_units};
        for (int k = 0; k < NI; k++) iv[k * n_rows + i] = row[k];
        score[i] = r->score;
        fam[i] = strdup(job->families[r->family].name);
        state[i] = strdup(rung_state_names[r->state]);
    }
    hsize_t dim = (hsize_t)n_rows;
    bad = h5_write_strings(g, "family", fam, n_rows) || h5_write_strings(g, "state", state, n_rows) ||
          h5_write(g, "score", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, score, 1, &dim, 0);
    for (int k = 0; !bad && k < NI; k++) bad = h5_write_i32(g, names[k], iv + k * n_rows, n_rows);
    strv_free(fam, n_rows);
    strv_free(state, n_rows);
    free(iv);
    free(score);
    H5Gclose(g);
    return bad;
}

int trialfile_write_index(const char *results, const Job *job, const Trial *plan, const TrialSummary *sum,
                          int n, const char *study, const double *busy, const double *elapsed, int n_ranks,
                          const RungRow *rungs, int n_rungs, ErrBuf *e) {
    char path[1100], tmp[1300];
    ErrBuf fe = {{0}};
    snprintf(path, sizeof path, "%s/sweep.h5", results);
    /* written under a per-process temporary name and renamed into place */
    hid_t f = h5_create_versioned(tmp, sizeof tmp, path, SWEEP_FORMAT, SWEEP_FORMAT_VERSION, e);
    if (f < 0) return HIPID_ERR;
    IndexColumns c;
    index_columns(&c, job, plan, sum, n);
    hsize_t dim = (hsize_t)n;
    int bad = h5_attr_write_str(f, "job", job->name) || h5_attr_write_str(f, "job_file", job->path) ||
              h5_attr_write_str(f, "data", job->data) || h5_attr_write_str(f, "study", study) || h5_write_strings(f, "label", c.lab, n) ||
              h5_write_strings(f, "family", c.fam, n) || h5_write_strings(f, "state", c.state, n) ||
              h5_write_strings(f, "hash", c.hash, n) || h5_write_strings(f, "reason", c.reason, n);
    for (int k = 0; !bad && k < N_INDEX_INT; k++) bad = h5_write_i32(f, index_int_names[k], c.iv + k * n, n);
    if (!bad) bad = write_search(f, job, plan, n, rungs, n_rungs);
    if (!bad && job->n_ensemble > 0) {
        char ens[JOB_MAX_FAMILIES * 34] = "";
        for (int i = 0; i < job->n_ensemble; i++)
            snprintf(ens + strlen(ens), sizeof ens - strlen(ens), "%s%s", i ? "," : "",
                     job->families[job->ensemble[i]].name);
        bad = h5_attr_write_str(f, "ensemble", ens);
    }
    for (int k = 0; !bad && k < 5; k++)
        bad = h5_write(f, index_dbl_names[k], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, c.dv + k * n, 1, &dim, 0);
    if (!bad && busy) {
        hsize_t r = (hsize_t)n_ranks;
        bad = h5_write(f, "rank_busy_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, busy, 1, &r, 0) ||
              h5_write(f, "rank_elapsed_seconds", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, elapsed, 1, &r, 0);
    }
    index_columns_free(&c, n);
    if (h5_finish_versioned(f, !bad, tmp, path, "sweep index", &fe) != HIPID_OK)
        return hipid_err(e, "%s: cannot write the sweep index%s%s", path, fe.msg[0] ? ": " : "", fe.msg);
    return HIPID_OK;
}

/* ---- reading ---- */

void trialfile_summary(TrialSummary *s, const char *path, uint64_t hash) {
    memset(s, 0, sizeof *s);
    s->test_acc = s->test_loss = s->val_acc = s->val_loss = -1.0;
    if (access(path, F_OK) != 0) {
        s->state = TRIAL_TODO;
        return;
    }
    ErrBuf e = {{0}};
    hid_t f = h5_open_versioned(path, TRIAL_FORMAT, TRIAL_FORMAT_VERSION, "trial file",
                                "it is redone", &e);
    if (f < 0) {
        s->state = TRIAL_BAD;
        snprintf(s->reason, sizeof s->reason, "%.*s", (int)sizeof s->reason - 1, e.msg);
        return;
    }
    char want[24], got[24] = "", state[16] = "";
    snprintf(want, sizeof want, "%016" PRIx64, hash);
    double v[10];
    int ints[4];
    if (h5_attr_read_str(f, "hash", got, sizeof got) || strcmp(got, want) != 0) {
        s->state = TRIAL_BAD;
        snprintf(s->reason, sizeof s->reason, "%s: holds trial %s, expected %s (its name does not match its content)",
                 path, got, want);
    } else if (trialfile_verify(f, path, &e) != HIPID_OK) {
        s->state = TRIAL_BAD;
        snprintf(s->reason, sizeof s->reason, "%.*s", (int)sizeof s->reason - 1, e.msg);
    } else if (h5_attr_read_str(f, "state", state, sizeof state) ||
               h5_attr_read_int(f, "attempts", &ints[0], 1) ||
               h5_attr_read_int(f, "best_epoch", &ints[1], 1) ||
               h5_attr_read_int(f, "epochs_run", &ints[2], 1) || h5_attr_read_int(f, "ranks", &ints[3], 1) ||
               h5_attr_read_double(f, "test_acc", &v[0]) || h5_attr_read_double(f, "test_loss", &v[1]) ||
               h5_attr_read_double(f, "val_acc", &v[2]) || h5_attr_read_double(f, "val_loss", &v[3]) ||
               h5_attr_read_double(f, "seconds", &v[4])) {
        s->state = TRIAL_BAD;
        snprintf(s->reason, sizeof s->reason, "%s: trial file lacks its summary attributes", path);
    } else {
        s->state = strcmp(state, "done") == 0 ? TRIAL_DONE : TRIAL_FAILED;
        s->attempts = ints[0];
        s->best_epoch = ints[1];
        s->epochs_run = ints[2];
        s->ranks = ints[3];
        s->test_acc = v[0];
        s->test_loss = v[1];
        s->val_acc = v[2];
        s->val_loss = v[3];
        s->seconds = v[4];
        if (h5_attr_read_int(f, "budget", &s->budget, 1)) s->budget = 0; /* written before halving */
        if (s->state == TRIAL_FAILED) h5_attr_read_str(f, "reason", s->reason, sizeof s->reason);
    }
    H5Fclose(f);
}

int trialfile_rung_metric(const char *path, uint64_t hash, int epochs, int metric, int retries, double *out) {
    TrialSummary s;
    trialfile_summary(&s, path, hash);
    if (s.state == TRIAL_FAILED && s.attempts > retries) {
        *out = INFINITY; /* unless it failed after the epochs asked for (a later rung): they score as before */
        if (epochs <= 0 || s.epochs_run < epochs) return 1;
    } else {
        int final = s.budget == 0 || s.epochs_run < s.budget;
        if (s.state != TRIAL_DONE || s.epochs_run < 1 || (!final && (epochs <= 0 || s.epochs_run < epochs))) return 0;
    }
    hid_t f = h5_open_versioned(path, TRIAL_FORMAT, TRIAL_FORMAT_VERSION, "trial file", "it is redone", NULL);
    if (f < 0) return s.state == TRIAL_FAILED; /* failed: +inf */
    int n = s.epochs_run, use = epochs > 0 && epochs < n ? epochs : n;
    float *loss = xmalloc_f32((size_t)n), *acc = xmalloc_f32((size_t)n);
    hsize_t dim = (hsize_t)n;
    int ok = h5_read(f, "history/val_loss", H5T_NATIVE_FLOAT, loss, 1, &dim, path, NULL) == HIPID_OK &&
             h5_read(f, "history/val_acc", H5T_NATIVE_FLOAT, acc, 1, &dim, path, NULL) == HIPID_OK;
    H5Fclose(f);
    if (ok) {
        int best = -1;
        for (int i = 0; i < use; i++)
            if (isfinite(loss[i]) && (best < 0 || loss[i] < loss[best])) best = i;
        *out = best < 0 ? INFINITY : metric == SEARCH_METRIC_VAL_ACC ? -(double)acc[best] : (double)loss[best];
    }
    free(loss);
    free(acc);
    return ok || s.state == TRIAL_FAILED;
}

int trialfile_is_trial(const char *path) {
    char fmt[64] = "";
    hid_t file = H5I_INVALID_HID;
    h5_quiet();
    if (fsafe_input(path, "trial file", 0, NULL) != HIPID_OK || H5Fis_hdf5(path) <= 0 ||
        (file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return 0;
    int is_trial = h5_attr_read_str(file, "format", fmt, sizeof fmt) == HIPID_OK && strcmp(fmt, TRIAL_FORMAT) == 0;
    H5Fclose(file);
    return is_trial;
}

hid_t trialfile_open(const char *path, const char *hint, ErrBuf *e) {
    hid_t f = h5_open_versioned(path, TRIAL_FORMAT, TRIAL_FORMAT_VERSION, "trial file", hint, e);
    if (f >= 0 && trialfile_verify(f, path, e) != HIPID_OK) {
        H5Fclose(f);
        return H5I_INVALID_HID;
    }
    return f;
}

/* 1 if the attribute is missing (or of another type) */
static int no_str(hid_t f, const char *name, char *buf, size_t cap) {
    return h5_attr_read_str(f, name, buf, cap) != HIPID_OK;
}
static int no_int(hid_t f, const char *name, int *v) { return h5_attr_read_int(f, name, v, 1) != HIPID_OK; }
static int no_dbl(hid_t f, const char *name, double *v) { return h5_attr_read_double(f, name, v) != HIPID_OK; }

unsigned trialfile_read_info(TrialInfo *t, hid_t f) {
    memset(t, 0, sizeof *t);
    t->lr = t->momentum = t->weight_decay = t->dropout = NAN;
    int id = no_str(f, "state", t->state, sizeof t->state) + no_str(f, "family", t->family, sizeof t->family) +
             no_str(f, "label", t->label, sizeof t->label) + no_str(f, "hash", t->hash, sizeof t->hash) +
             no_int(f, "config", &t->config) + no_int(f, "repeat", &t->repeat) + no_int(f, "outer", &t->outer) +
             no_int(f, "inner", &t->inner) + no_int(f, "seed", &t->seed) + no_dbl(f, "val_loss", &t->val_loss);
    int k = no_int(f, "n_classes", &t->n_classes);
    int prep = no_str(f, "preprocessing", t->preprocessing, sizeof t->preprocessing);
    int size = no_int(f, "image_size", &t->image_size);
    no_str(f, "reason", t->reason, sizeof t->reason);
    no_str(f, "data", t->data, sizeof t->data);
    no_str(f, "data_checksum", t->data_checksum, sizeof t->data_checksum);
    no_str(f, "model", t->model, sizeof t->model);
    no_str(f, "optimizer", t->optimizer, sizeof t->optimizer);
    no_str(f, "augment", t->augment, sizeof t->augment);
    no_str(f, "balance", t->balance, sizeof t->balance);
    no_dbl(f, "lr", &t->lr);
    no_dbl(f, "momentum", &t->momentum);
    no_dbl(f, "weight_decay", &t->weight_decay);
    no_dbl(f, "dropout", &t->dropout);
    no_int(f, "batch", &t->batch);
    no_int(f, "epochs", &t->epochs);
    no_int(f, "patience", &t->patience);
    no_str(f, "init", t->init, sizeof t->init);
    no_int(f, "freeze", &t->freeze);
    no_int(f, "warmup", &t->warmup);
    no_dbl(f, "head_lr", &t->head_lr);
    no_dbl(f, "label_smoothing", &t->label_smoothing);
    no_dbl(f, "mixup", &t->mixup);
    no_dbl(f, "cutmix", &t->cutmix);
    t->subsample = 1.0;
    no_dbl(f, "subsample", &t->subsample);
    snprintf(t->tta_name, sizeof t->tta_name, "none");
    no_str(f, "tta", t->tta_name, sizeof t->tta_name);
    int tta_known = 0;
    for (int a = 0; tta_names[a]; a++)
        if (strcmp(t->tta_name, tta_names[a]) == 0) t->tta = a, tta_known = 1;
    return (id || k ? 0 : TRIALINFO_ID) | (prep ? 0 : TRIALINFO_PREP) | (size || k ? 0 : TRIALINFO_SHAPE) |
           (tta_known ? TRIALINFO_TTA : 0);
}

int trialfile_read_class_names(char ***names, int *n, hid_t f, const char *path, ErrBuf *e) {
    return h5_read_strings(f, "class_names", names, n, path, e);
}

void trialfile_test_free(TrialTest *r) {
    if (!r) return;
    free(r->test_index);
    free(r->test_label);
    free(r->fit_index);
    free(r->test_prob);
    free(r->hist);
    memset(r, 0, sizeof *r);
}

/* Labels and rows in range, probabilities finite. */
static int check_test(const TrialTest *r, const char *path, int K, ErrBuf *e) {
    for (size_t i = 0; i < (size_t)r->n_test; i++) {
        if (r->test_label[i] < 0 || r->test_label[i] >= K || r->test_index[i] < 0)
            return hipid_err(e, "%s: predictions/test_label or test_index out of range at row %zu", path, i);
    }
    for (int i = 0; i < r->n_train + r->n_val; i++)
        if (r->fit_index[i] < 0) return hipid_err(e, "%s: indices/train or indices/val negative at row %d", path, i);
    for (size_t i = 0; i < (size_t)r->n_test; i++) {
        for (int c = 0; c < K; c++)
            if (!isfinite(r->test_prob[i * K + c]))
                return hipid_err(e, "%s: predictions/test_prob is not finite at row %zu", path, i);
    }
    return HIPID_OK;
}

int trialfile_read_test(TrialTest *r, hid_t f, const char *path, int K, ErrBuf *e) {
    memset(r, 0, sizeof *r);
    long n_tr = h5_len(f, "indices/train"), n_va = h5_len(f, "indices/val"), n_te = h5_len(f, "indices/test");
    long n_p = h5_len(f, "predictions/test_index"), n_ep = h5_len(f, "history/train_loss");
    if (n_tr < 0 || n_va < 0 || n_te < 0 || n_p != n_te || n_ep < 0)
        return hipid_err(e, "%s: a done trial without indices/*, predictions/test_* or history/* (truncated?)", path);
    r->n_train = (int)n_tr;
    r->n_val = (int)n_va;
    r->n_test = (int)n_te;
    r->n_epochs = (int)n_ep;
    size_t n = (size_t)r->n_test;
    r->test_index = xcalloc(n + 1, sizeof(int));
    r->test_label = xcalloc(n + 1, sizeof(int));
    r->fit_index = xcalloc((size_t)(n_tr + n_va) + 1, sizeof(int));
    r->test_prob = xcalloc(n * K + 1, sizeof(double));
    r->hist = xcalloc((size_t)4 * r->n_epochs + 1, sizeof(float));
    hsize_t d1 = n, d2[2] = {n, (hsize_t)K}, de = (hsize_t)r->n_epochs, dtr = (hsize_t)n_tr, dva = (hsize_t)n_va;
    static const char *hn[4] = {"history/train_loss", "history/train_acc", "history/val_loss", "history/val_acc"};
    int bad = h5_read(f, "predictions/test_index", H5T_NATIVE_INT, r->test_index, 1, &d1, path, e) ||
              h5_read(f, "predictions/test_label", H5T_NATIVE_INT, r->test_label, 1, &d1, path, e) ||
              h5_read(f, "predictions/test_prob", H5T_NATIVE_DOUBLE, r->test_prob, 2, d2, path, e) ||
              (n_tr && h5_read(f, "indices/train", H5T_NATIVE_INT, r->fit_index, 1, &dtr, path, e)) ||
              (n_va && h5_read(f, "indices/val", H5T_NATIVE_INT, r->fit_index + n_tr, 1, &dva, path, e));
    for (int h = 0; !bad && h < 4; h++)
        bad = h5_read(f, hn[h], H5T_NATIVE_FLOAT, r->hist + (size_t)h * r->n_epochs, 1, &de, path, e);
    if (bad || check_test(r, path, K, e) != HIPID_OK) {
        trialfile_test_free(r);
        return HIPID_ERR;
    }
    return HIPID_OK;
}

Model *trialfile_load_model(const char *path, const char *which, int max_batch, int n_threads, ErrBuf *e) {
    char grp_name[64];
    snprintf(grp_name, sizeof grp_name, "weights/%s", which);
    hid_t file = trialfile_open(path, "rerun the sweep that wrote it", e);
    if (file < 0) return NULL;
    Model *m = NULL;
    hid_t g = H5Gopen2(file, grp_name, H5P_DEFAULT);
    if (g < 0) hipid_err(e, "%s: no %s weights (a failed trial?)", path, which);
    else m = model_read_h5(g, path, max_batch, n_threads, e);
    if (g >= 0) H5Gclose(g);
    H5Fclose(file);
    return m;
}

/* ---- reading the index ---- */

hid_t trialfile_open_index(const char *path, const char *hint, ErrBuf *e) {
    return h5_open_versioned(path, SWEEP_FORMAT, SWEEP_FORMAT_VERSION, "sweep index", hint, e);
}

int trialfile_index_study(hid_t f, char *buf, size_t cap) { return h5_attr_read_str(f, "study", buf, cap); }

void trialfile_index_free(SweepIndex *x) {
    if (!x) return;
    strv_free(x->family, x->n);
    strv_free(x->state, x->n);
    strv_free(x->hash, x->n);
    strv_free(x->label, x->n);
    free(x->config);
    free(x->inner);
    free(x->val_loss);
    free(x->test_acc);
    free(x->budget);
    free(x->pruned);
    free(x->rungs);
    strv_free(x->rung_family, x->n_rungs);
    x->rung_family = NULL;
    x->rungs = NULL;
    x->n_rungs = 0;
    x->budget = x->pruned = NULL;
    x->family = x->state = x->hash = x->label = NULL;
    x->config = x->inner = NULL;
    x->val_loss = NULL;
    x->test_acc = NULL;
    x->n = 0;
}

/* The search's attributes and the rung table, when the index has them. */
static int read_search(SweepIndex *x, hid_t f, const char *path, ErrBuf *e) {
    x->grid_epochs = NAN;
    h5_attr_read_str(f, "search", x->search, sizeof x->search);
    h5_attr_read_str(f, "metric", x->metric, sizeof x->metric);
    h5_attr_read_str(f, "prune", x->prune, sizeof x->prune);
    h5_attr_read_int(f, "eta", &x->eta, 1);
    h5_attr_read_int(f, "min_epochs", &x->min_epochs, 1);
    h5_attr_read_int(f, "max_epochs", &x->max_epochs, 1);
    h5_attr_read_double(f, "grid_epochs", &x->grid_epochs);
    if (H5Lexists(f, "rungs", H5P_DEFAULT) <= 0) return 0;
    hid_t g = H5Gopen2(f, "rungs", H5P_DEFAULT);
    if (g < 0) return hipid_err(e, "%s: rungs: cannot open the rung table", path) != HIPID_OK;
    enum { NI = 7 };
    static const char *const names[NI] = {"config", "bracket", "repeat", "outer", "rung", "epochs", "n_units"};
    int nf = 0, ns = 0, bad = 0;
    char **state = NULL;
    bad = h5_read_strings(g, "family", &x->rung_family, &nf, path, e) ||
          h5_read_strings(g, "state", &state, &ns, path, e);
    if (!bad && ns != nf) bad = hipid_err(e, "%s: rungs/family and rungs/state differ in length (%d, %d)", path, nf, ns) != HIPID_OK;
    int n = bad ? 0 : nf;
    int32_t *iv = xmalloc(sizeof(int32_t) * NI * (n + 1));
    double *score = xmalloc(sizeof(double) * (n + 1));
    hsize_t dim = (hsize_t)n;
    for (int k = 0; !bad && k < NI; k++) bad = h5_read(g, names[k], H5T_NATIVE_INT32, iv + k * n, 1, &dim, path, e);
    if (!bad) bad = h5_read(g, "score", H5T_NATIVE_DOUBLE, score, 1, &dim, path, e);
    x->rungs = xcalloc((size_t)n + 1, sizeof(RungRow));
    for (int i = 0; !bad && i < n; i++) {
        RungRow *r = &x->rungs[i];
        int32_t *c = iv + i;
        *r = (RungRow){.family = -1, .config = c[0], .bracket = c[n], .repeat = c[2 * n], .outer = c[3 * n],
                       .rung = c[4 * n], .epochs = c[5 * n], .n_units = c[6 * n], .score = score[i], .state = -1};
        for (int k = 0; rung_state_names[k]; k++)
            if (strcmp(state[i], rung_state_names[k]) == 0) r->state = k;
        if (r->state < 0) bad = hipid_err(e, "%s: rungs/state: expected promoted, stopped, pruned, top or open, found '%s'",
                                          path, state[i]) != HIPID_OK;
    }
    if (!bad) x->n_rungs = n;
    strv_free(state, ns);
    free(iv);
    free(score);
    H5Gclose(g);
    if (bad) { /* the columns are dropped with the table */
        strv_free(x->rung_family, nf);
        x->rung_family = NULL;
    }
    return bad;
}

int trialfile_read_index(SweepIndex *x, hid_t f, const char *path, ErrBuf *e) {
    memset(x, 0, sizeof *x);
    h5_attr_read_str(f, "job", x->job, sizeof x->job);
    h5_attr_read_str(f, "job_file", x->job_file, sizeof x->job_file);
    h5_attr_read_str(f, "ensemble", x->ensemble, sizeof x->ensemble);
    h5_attr_read_str(f, "data", x->data, sizeof x->data);
    trialfile_index_study(f, x->study, sizeof x->study);
    int nf = 0, ns = 0, nh = 0, nl = 0;
    int bad = h5_read_strings(f, "family", &x->family, &nf, path, e) ||
              h5_read_strings(f, "state", &x->state, &ns, path, e) ||
              h5_read_strings(f, "hash", &x->hash, &nh, path, e) || h5_read_strings(f, "label", &x->label, &nl, path, e);
    if (!bad && (ns != nf || nh != nf || nl != nf))
        bad = hipid_err(e, "%s: columns family, state, hash and label of different lengths (%d, %d, %d, %d)", path,
                        nf, ns, nh, nl) != HIPID_OK;
    int n = nf;
    x->config = xcalloc((size_t)n + 1, sizeof(int));
    x->inner = xcalloc((size_t)n + 1, sizeof(int));
    x->val_loss = xcalloc((size_t)n + 1, sizeof(double));
    x->test_acc = xcalloc((size_t)n + 1, sizeof(double));
    hsize_t dim = (hsize_t)n;
    x->budget = xcalloc((size_t)n + 1, sizeof(int));
    x->pruned = xcalloc((size_t)n + 1, sizeof(int));
    bad = bad || h5_read(f, "config", H5T_NATIVE_INT, x->config, 1, &dim, path, e) ||
          h5_read(f, "inner", H5T_NATIVE_INT, x->inner, 1, &dim, path, e) ||
          h5_read(f, "val_loss", H5T_NATIVE_DOUBLE, x->val_loss, 1, &dim, path, e) ||
          h5_read(f, "test_acc", H5T_NATIVE_DOUBLE, x->test_acc, 1, &dim, path, e);
    if (!bad && H5Lexists(f, "pruned", H5P_DEFAULT) > 0) /* an index written before halving has neither */
        bad = h5_read(f, "budget", H5T_NATIVE_INT, x->budget, 1, &dim, path, e) ||
              h5_read(f, "pruned", H5T_NATIVE_INT, x->pruned, 1, &dim, path, e);
    if (!bad) bad = read_search(x, f, path, e);
    if (!bad) {
        x->n = n;
        return HIPID_OK;
    }
    strv_free(x->family, nf);
    strv_free(x->state, ns);
    strv_free(x->hash, nh);
    strv_free(x->label, nl);
    x->family = x->state = x->hash = x->label = NULL;
    trialfile_index_free(x);
    return HIPID_ERR;
}
