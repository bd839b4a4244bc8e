/* estimate.c: work and memory estimates of a job's sweep (estimate.h).
 * Times one step per family and builds models to count bytes; trains nothing,
 * reads only the data set's header (or lists a [data] source not yet
 * prepared), knows nothing of MPI or Slurm. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hipid/data/dataset.h"
#include "hipid/sweep/estimate.h"
#include "hipid/base/h5util.h"
#include "hipid/nn/model.h"

int estimate_synth_value(const char *synth, const char *key, int dflt) {
    size_t n = strlen(key);
    for (const char *p = synth; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, key, n) == 0 && p[n] == '=') return atoi(p + n + 1);
    return dflt;
}

/* Images and classes of a class-folder tree (files in its subfolders), or
 * rows of a manifest (classes unknown: 2 assumed). For estimates only. */
static void count_source(EstData *d, const char *src) {
    size_t n = strlen(src);
    d->n_classes = 2;
    d->n_images = 0;
    if (n > 4 && strcmp(src + n - 4, ".csv") == 0) {
        FILE *f = fopen(src, "r");
        int c, lines = 0;
        while (f && (c = fgetc(f)) != EOF) lines += c == '\n';
        if (f) fclose(f);
        d->n_images = lines > 1 ? lines - 1 : 0;
        return;
    }
    DIR *top = opendir(src);
    struct dirent *cls;
    int classes = 0;
    while (top && (cls = readdir(top))) {
        if (cls->d_name[0] == '.') continue;
        char sub[2200];
        snprintf(sub, sizeof sub, "%s/%s", src, cls->d_name);
        DIR *in = opendir(sub);
        if (!in) continue;
        struct dirent *f;
        int files = 0;
        while ((f = readdir(in)))
            files += f->d_name[0] != '.';
        closedir(in);
        classes += files > 0;
        d->n_images += files;
    }
    if (top) closedir(top);
    if (classes > 0) d->n_classes = classes;
}

int estimate_data(EstData *d, const Job *j, ErrBuf *e) {
    memset(d, 0, sizeof *d);
    if (access(j->data, F_OK) != 0 && j->source[0]) {
        d->size = j->prep_size;
        count_source(d, j->source);
        return HIPID_OK;
    }
    if (access(j->data, F_OK) != 0) {
        d->size = estimate_synth_value(j->synth, "size", 64);
        d->n_classes = estimate_synth_value(j->synth, "classes", 6);
        d->n_images = (double)d->n_classes * estimate_synth_value(j->synth, "per_class", 80);
        return HIPID_OK;
    }
    hid_t f = H5I_INVALID_HID, ds = H5I_INVALID_HID, sp = H5I_INVALID_HID;
    hsize_t n = 0;
    h5_quiet();
    f = h5_open_versioned(j->data, DATASET_FORMAT, DATASET_FORMAT_VERSION, "data set", "check [data] path", e);
    if (f < 0) goto error;
    if (h5_attr_read_int(f, "image_size", &d->size, 1) != HIPID_OK ||
        h5_attr_read_int(f, "n_classes", &d->n_classes, 1) != HIPID_OK || d->size < 1 || d->n_classes < 1) {
        hipid_err(e, "%s: attributes image_size and n_classes must be positive integers", j->data);
        goto error;
    }
    if ((ds = H5Dopen2(f, "labels", H5P_DEFAULT)) < 0 || (sp = H5Dget_space(ds)) < 0 ||
        H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, &n, NULL) != 1) {
        hipid_err(e, "%s: expected a one-dimensional dataset 'labels'", j->data);
        goto error;
    }
    d->n_images = (double)n;
    d->from_file = 1;
    H5Sclose(sp);
    H5Dclose(ds);
    H5Fclose(f);
    return HIPID_OK;
error:
    if (sp >= 0) H5Sclose(sp);
    if (ds >= 0) H5Dclose(ds);
    if (f >= 0) H5Fclose(f);
    return HIPID_ERR;
}

double estimate_time_step(const Job *j, int f, const EstData *d, int threads, size_t *n_params) {
    const HParams *h = &j->families[f].configs[0];
    int S = d->size, K = d->n_classes;
    int mb = h->micro_batch > 0 ? h->micro_batch : h->batch;
    ErrBuf e = {{0}};
    Model *m = model_create(h->model, (Shape){1, S, S}, K, mb, threads, 1, &e);
    if (!m) return NAN;
    *n_params = m->n_params;
    float *x = xcalloc_f32((size_t)mb * S * S), *dz = xcalloc_f32((size_t)mb * K);
    for (long i = 0; i < (long)mb * S * S; i++) x[i] = (float)((i * 7919) % 255) / 255.0f;
    model_forward(m, x, mb, 1);
    model_backward(m, dz, mb); /* warm-up */
    double t0 = now_seconds();
    int reps = 0;
    while (reps < 2 || now_seconds() - t0 < 0.3) {
        model_forward(m, x, mb, 1);
        model_backward(m, dz, mb);
        reps++;
    }
    double per_micro = (now_seconds() - t0) / reps;
    free(x);
    free(dz);
    model_free(m);
    return per_micro * (h->batch / mb);
}

void estimate_work(Estimate *est, const Job *j, const EstData *d, const Trial *plan, int n_plan, int ranks,
                   int threads, double bw) {
    memset(est, 0, sizeof *est);
    est->n_units = j->scheme == CV_HOLDOUT ? j->repeats
                 : j->scheme == CV_NESTED ? j->repeats * j->k * (j->inner_k + 1) : j->repeats * j->k;
    double test_share = j->scheme == CV_HOLDOUT ? j->fractions[2] : 1.0 / j->k;
    double val_share = j->scheme == CV_HOLDOUT ? j->fractions[1] : (1 - test_share) * j->val_fraction;
    est->n_train = d->n_images * (1 - test_share - val_share);
    for (int f = 0; f < j->n_families; f++) {
        const Family *fa = &j->families[f];
        EstFamily *x = &est->fam[f];
        for (int i = 0; i < n_plan; i++) x->n_trials += plan[i].family == f;
        x->rpt = fa->ranks_per_trial < ranks ? fa->ranks_per_trial : ranks;
        x->groups = (ranks + x->rpt - 1) / x->rpt;
        x->step = estimate_time_step(j, f, d, threads, &x->n_params);
        x->bytes = (double)x->n_params * 8.0;
        x->comm = x->rpt > 1 ? (bw > 0 ? x->bytes / bw * 2.0 : x->bytes / 2e9) : 0.0;
        const HParams *h = &fa->configs[0];
        double steps = ceil(est->n_train / h->batch) * h->epochs;
        x->per_trial = steps * (x->step / x->rpt + x->comm);
        est->total += x->per_trial * x->n_trials / x->groups;
    }
}

int estimate_memory(EstMemory *m, const Job *j, const EstData *d, int threads, ErrBuf *e) {
    memset(m, 0, sizeof *m);
    int built = 0;
    ErrBuf last = {{0}};
    for (int f = 0; f < j->n_families; f++)
        for (int c = 0; c < j->families[f].n_configs; c++) {
            const HParams *h = &j->families[f].configs[c];
            int seen = 0; /* configurations often differ only in learning rate */
            for (int c2 = 0; c2 < c && !seen; c2++)
                seen = j->families[f].configs[c2].batch == h->batch &&
                       j->families[f].configs[c2].micro_batch == h->micro_batch &&
                       j->families[f].configs[c2].opt.kind == h->opt.kind &&
                       strcmp(j->families[f].configs[c2].model, h->model) == 0;
            if (seen) continue;
            /* as the trainer builds it: activations for the whole batch */
            Model *mo = model_create(h->model, (Shape){1, d->size, d->size}, d->n_classes, h->batch, threads, 1, &last);
            if (!mo) continue;
            built++;
            double np = (double)mo->n_params, nb = (double)mo->n_buffers;
            EstMemory x = {
                .model = (double)mo->n_bytes,
                .optim = (h->opt.kind == OPT_SGD ? 1.0 : 2.0) * np * sizeof(float),
                .best = (np + nb) * sizeof(float),
                .fixed = h->micro_batch > 0 ? (np + nb + 3) * 8.0 : 0.0,
                .batch = (double)h->batch * d->size * d->size * sizeof(float),
                .data = d->n_images * d->size * d->size,
            };
            x.total = x.model + x.optim + x.best + x.fixed + x.batch + x.data;
            if (x.total > m->total) {
                *m = x;
                snprintf(m->which, sizeof m->which, "family %.31s config %d (batch %d)", j->families[f].name, c,
                         h->batch);
            }
            model_free(mo);
        }
    if (!built) return hipid_err(e, "%s: no model of the job could be built: %s", j->path, last.msg);
    return HIPID_OK;
}
