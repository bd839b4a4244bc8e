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
#include "hipid/train/train.h"

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

const int estimate_dp_ranks[EST_N_DP] = {1, 2, 4, 8};

double estimate_allreduce(double bytes, int p, const EstLink *l) {
    if (p <= 1) return 0.0;
    return 2.0 * (p - 1) / p * bytes / (l->gbit * 1e9 / 8.0) + 2.0 * (p - 1) * l->us * 1e-6;
}

double estimate_dp_step(const HParams *h, const EstModelSize *sz, double step1, int p, const EstLink *l,
                        double *bytes) {
    int S = h->micro_batch > 0 ? h->batch / h->micro_batch : 1;
    int mine = (S + p - 1) / p; /* micro-batches of the busiest rank */
    double tail = ((double)sz->n_buffers + 3) * 8.0, b = 0.0, t = step1 * mine / S;
    if (h->micro_batch > 0) {
        int sum32 = h->gradient_sum == TRAIN_SUM_FIXED32;
        double grad = (double)sz->n_params * (sum32 ? 4.0 : 8.0), mx = sum32 ? (sz->n_tensors + 1) * 4.0 : 0.0;
        b = grad + tail + mx;
        /* fixed64 sums gradients and tail in one block; fixed32 needs three collectives */
        t += sum32 ? estimate_allreduce(grad, p, l) + estimate_allreduce(tail, p, l) + estimate_allreduce(mx, p, l)
                   : estimate_allreduce(grad + tail, p, l);
    }
    if (p > 1) t += 2.0 * ceil(log2(p)) * l->us * 1e-6; /* the leader's two flags (binomial broadcasts) */
    if (bytes) *bytes = b;
    return t;
}

double estimate_time_step(const Job *j, int f, const EstData *d, int threads, EstModelSize *sz) {
    const HParams *h = &j->families[f].configs[0];
    int S = d->size, K = d->n_classes;
    int mb = h->micro_batch > 0 ? h->micro_batch : h->batch;
    ErrBuf e = {{0}};
    Model *m = model_create(h->model, (Shape){1, S, S}, K, mb, threads, 1, &e);
    if (!m) return NAN;
    sz->n_params = m->n_params;
    sz->n_buffers = m->n_buffers;
    sz->n_tensors = 0;
    for (int l = 0; l < m->n_layers; l++)
        for (int k = 0; k < m->layers[l]->n_tensors; k++) sz->n_tensors += m->layers[l]->tensors[k].grad != NULL;
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
                   int threads, const EstLink *l) {
    memset(est, 0, sizeof *est);
    est->n_units = j->scheme == CV_HOLDOUT ? j->repeats
                 : j->scheme == CV_NESTED ? j->repeats * j->k * (j->inner_k + 1) : j->repeats * j->k;
    double test_share = j->scheme == CV_HOLDOUT ? j->fractions[2] : 1.0 / j->k;
    for (int f = 0; f < j->n_families; f++) {
        const Family *fa = &j->families[f];
        EstFamily *x = &est->fam[f];
        for (int i = 0; i < n_plan; i++) x->n_trials += plan[i].family == f;
        x->rpt = fa->ranks_per_trial < ranks ? fa->ranks_per_trial : ranks;
        x->groups = (ranks + x->rpt - 1) / x->rpt;
        EstModelSize sz = {0};
        x->step = estimate_time_step(j, f, d, threads, &sz);
        x->n_params = sz.n_params;
        const HParams *h = &fa->configs[0];
        double at_rpt = estimate_dp_step(h, &sz, x->step, x->rpt, l, &x->bytes);
        x->comm = x->rpt > 1 ? at_rpt - estimate_dp_step(h, &sz, x->step, x->rpt, &(EstLink){INFINITY, 0, 0}, NULL)
                             : 0.0;
        for (int i = 0; i < EST_N_DP; i++) {
            x->dp_step[i] = estimate_dp_step(h, &sz, x->step, estimate_dp_ranks[i], l, NULL);
            x->dp_eff[i] = x->dp_step[0] / (estimate_dp_ranks[i] * x->dp_step[i]);
        }
        /* training images of a trial: after the test part and the family's validation share,
         * the family's subsample of the rest */
        double val_share = j->scheme == CV_HOLDOUT ? j->fractions[1] : (1 - test_share) * fa->val_fraction;
        double n_train = d->n_images * (1 - test_share - val_share) * fa->subsample;
        double steps = ceil(n_train / h->batch) * h->epochs;
        x->per_trial = steps * at_rpt;
        est->total += x->per_trial * x->n_trials / x->groups;
    }
}

/* The data-parallel table: each family's step time and efficiency at 1, 2,
 * 4 and 8 ranks per trial on the link. */
void estimate_print_dp(FILE *f, const Job *j, const Estimate *est, const EstLink *l) {
    static const char *const src[] = {"assumed: one node's shared memory", "measured between these ranks",
                                      "as stated"};
    fprintf(f, "data parallel, one trial (link %.3g Gbit/s, %.3g us, %s): step time and efficiency\n", l->gbit, l->us,
           src[l->source]);
    fprintf(f, "%-10s %9s", "family", "MB/step");
    for (int i = 0; i < EST_N_DP; i++) fprintf(f, "   %2d rank%s   ", estimate_dp_ranks[i], i ? "s" : " ");
    fprintf(f, "\n");
    for (int k = 0; k < j->n_families; k++) {
        const EstFamily *x = &est->fam[k];
        fprintf(f, "%-10s %9.1f", j->families[k].name, x->bytes / 1e6);
        if (j->families[k].configs[0].micro_batch == 0) {
            fprintf(f, " %7.1f ms 100%%  (micro_batch 0: one rank per trial)\n", x->dp_step[0] * 1e3);
            continue;
        }
        for (int i = 0; i < EST_N_DP; i++) fprintf(f, " %7.1f ms %3.0f%%", x->dp_step[i] * 1e3, 100.0 * x->dp_eff[i]);
        fprintf(f, "\n");
    }
}

/* Bytes of train.c's step scratch for micro-batched sums on one of rpt ranks. */
static double fixed_bytes(const HParams *h, double np, double nb, int rpt) {
    if (h->micro_batch <= 0) return 0.0;
    if (h->gradient_sum == TRAIN_SUM_FIXED64) return (np + nb + 3) * 8.0;
    int S = h->batch / h->micro_batch, mine = (S + rpt - 1) / rpt;
    return (double)mine * np * 4.0 + np * 4.0 + (nb + 3) * 8.0;
}

/* Data sets a rank loads: [data] path and each distinct [family] data. */
static int data_sets(const Job *j) {
    int n = 1;
    for (int f = 0; f < j->n_families; f++) {
        int seen = !j->families[f].data[0];
        for (int g = 0; g < f && !seen; g++) seen = strcmp(j->families[g].data, j->families[f].data) == 0;
        n += !seen;
    }
    return n;
}

int estimate_memory(EstMemory *m, const Job *j, const EstData *d, int threads, ErrBuf *e) {
    memset(m, 0, sizeof *m);
    int built = 0;
    ErrBuf last = {{0}};
    for (int f = 0; f < j->n_families; f++)
        for (int c = 0; c < j->families[f].n_configs; c++) {
            const HParams *h = &j->families[f].configs[c];
            if (job_config_model_seen(&j->families[f], c, 1)) continue;
            /* as the trainer builds it: activations for the whole batch */
            Model *mo = model_create(h->model, (Shape){1, d->size, d->size}, d->n_classes, h->batch, threads, 1, &last);
            if (!mo) continue;
            built++;
            double np = (double)mo->n_params, nb = (double)mo->n_buffers;
            EstMemory x = {
                .model = (double)mo->n_bytes,
                .optim = (h->opt.kind == OPT_SGD ? 1.0 : 2.0) * np * sizeof(float),
                .best = (np + nb) * sizeof(float),
                .fixed = fixed_bytes(h, np, nb, j->families[f].ranks_per_trial),
                .batch = (double)h->batch * d->size * d->size * sizeof(float),
                .data = (double)data_sets(j) * d->n_images * d->size * d->size,
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
