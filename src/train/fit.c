/* fit.c: one model on one data set file (`hipid train`). See fit.h. */
#define _POSIX_C_SOURCE 200809L
#include "hipid/train/fit.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hipid/data/split.h"

/* The images of a splits file: its hold-out parts, or fold o->fold of repeat
 * o->repeat. */
static int pick_from_splits(FitData *f, const FitOpts *o, ErrBuf *e) {
    const Dataset *d = &f->d;
    Splits sp = {0};
    int rc = HIPID_OK;
    if (split_load(&sp, o->splits, d->labels, d->groups, d->n, e) != HIPID_OK) return HIPID_ERR;
    if (sp.part) {
        f->n_train = split_part_indices(f->train, sp.part, d->n, SPLIT_TRAIN);
        f->n_val = split_part_indices(f->val, sp.part, d->n, SPLIT_VAL);
        f->n_test = split_part_indices(f->test, sp.part, d->n, SPLIT_TEST);
        if (f->n_train == 0)
            rc = hipid_err(e, "%s: its hold-out training part is empty (%d validation, %d test of %d images)",
                           o->splits, f->n_val, f->n_test, d->n);
    } else if (o->fold >= sp.k || o->repeat >= sp.repeats) {
        hipid_err(e, "%s has %d folds and %d repeat(s); --fold %d --repeat %d is out of range", o->splits, sp.k,
                  sp.repeats, o->fold, o->repeat);
        rc = FIT_ERR_OPTION;
    } else {
        split_fold_indices(f->train, &f->n_train, f->val, &f->n_val, sp.fold_of + (long)o->repeat * d->n, d->n,
                           o->fold);
        if (f->n_train == 0)
            rc = hipid_err(e, "%s: fold %d of repeat %d leaves no training images: %d of the %d images are in that "
                              "fold (%d folds); split again with fewer folds or use more images", o->splits, o->fold,
                           o->repeat, f->n_val, d->n, sp.k);
    }
    f->trial = (uint64_t)o->repeat * 1000u + (uint64_t)o->fold;
    split_free(&sp);
    return rc;
}

int fit_data_load(FitData *f, const FitOpts *o, ErrBuf *e) {
    ErrBuf e2 = {{0}};
    memset(f, 0, sizeof *f);
    if (dataset_load(&f->d, o->data, e) != HIPID_OK) return HIPID_ERR;
    /* a bad spec, or one too large for this machine at --batch, is the
     * user's: check it before splitting, without allocating it (as
     * trainer_create: the optimiser's state and the best weights too) */
    const TrainConfig *c = &o->cfg;
    int copies = (c->opt.kind == OPT_SGD ? 1 : 2) + 1;
    if (model_check_memory(c->model, (Shape){1, f->d.size, f->d.size}, f->d.n_classes, c->batch > 0 ? c->batch : 1,
                           c->threads > 0 ? c->threads : 1, copies, NULL, &e2) != HIPID_OK) {
        hipid_err(e, "--model: %s", e2.msg);
        dataset_free(&f->d);
        memset(f, 0, sizeof *f);
        return FIT_ERR_OPTION;
    }
    size_t cap = sizeof(int) * (f->d.n ? f->d.n : 1);
    f->train = xmalloc(cap);
    f->val = xmalloc(cap);
    f->test = xmalloc(cap);
    int rc = HIPID_OK;
    if (o->splits) rc = pick_from_splits(f, o, e);
    else if (split_holdout(f->train, &f->n_train, f->val, &f->n_val, f->d.labels, f->d.groups, f->d.n,
                           f->d.n_classes, o->val_fraction, o->cfg.seed, f->d.class_names, &e2) != HIPID_OK)
        rc = hipid_err(e, "%s: %s", o->data, e2.msg);
    if (rc == HIPID_OK && !o->splits && f->n_train == 0)
        rc = hipid_err(e, "%s: the training part is empty: %d images, --val-fraction %g holds out %d", o->data,
                       f->d.n, o->val_fraction, f->n_val);
    if (rc != HIPID_OK) fit_data_free(f);
    return rc;
}

void fit_data_free(FitData *f) {
    if (!f) return;
    free(f->train);
    free(f->val);
    free(f->test);
    dataset_free(&f->d);
    memset(f, 0, sizeof *f);
}

/* SHA-256 (hex) of n bytes at p, with a second block q of m bytes */
static void sha256_hex(char hex[65], const void *p, size_t n, const void *q, size_t m) {
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    if (n) g_checksum_update(sum, p, (gssize)n);
    if (m) g_checksum_update(sum, q, (gssize)m);
    snprintf(hex, 65, "%s", g_checksum_get_string(sum));
    g_checksum_free(sum);
}

void fit_state_key(char *buf, size_t cap, const FitData *f, const FitOpts *o) {
    const TrainConfig *c = &o->cfg;
    const OptConfig *p = &c->opt;
    char train[65], val[65], init[65] = "none", aug[256];
    sha256_hex(train, f->train, sizeof(int) * (size_t)f->n_train, NULL, 0);
    sha256_hex(val, f->val, sizeof(int) * (size_t)f->n_val, NULL, 0);
    if (c->init)
        sha256_hex(init, c->init->params, sizeof(float) * c->init->n_params, c->init->buffers,
                   sizeof(float) * c->init->n_buffers);
    augment_format(aug, sizeof aug, &c->aug);
    snprintf(buf, cap,
             "hipid-train 1\n"
             "data %016llx\n"
             "images train=%s val=%s trial=%llu\n"
             "init %s freeze=%d head_lr=%.9g\n"
             "model %s\n"
             "opt kind=%s lr=%.9g momentum=%.9g weight_decay=%.9g beta1=%.9g beta2=%.9g eps=%.9g "
             "sched=%s step_size=%d gamma=%.9g warmup=%d\n"
             "train epochs=%d batch=%d micro_batch=%d gradient_sum=%d patience=%d seed=%llu balance=%s "
             "standardize=%d label_smoothing=%.9g mixup=%.9g cutmix=%.9g\n"
             "augment %s\n",
             (unsigned long long)dataset_identity(&f->d), train, val, (unsigned long long)f->trial, init, c->freeze,
             c->head_lr, c->model, optim_kind_names[p->kind], p->lr, p->momentum, p->weight_decay, p->beta1,
             p->beta2, p->eps, optim_sched_names[p->sched], p->step_size, p->gamma, p->warmup, c->epochs, c->batch,
             c->micro_batch, c->gradient_sum, c->patience, (unsigned long long)c->seed, train_balance_names[c->balance], c->standardize, c->label_smoothing,
             c->mix.mixup, c->mix.cutmix, aug);
}

typedef struct {
    const char *path, *key;
    volatile sig_atomic_t *stop;
} StateCtx;

static int poll_stop(void *ctx) { return *((StateCtx *)ctx)->stop != 0; }

static int save_state(void *ctx, const Trainer *t, ErrBuf *e) {
    const StateCtx *s = ctx;
    return trainer_save_state(t, s->path, s->key, e);
}

/* trainer_create's checks of --batch and --epochs are the options' fault */
static int option_fault(const TrainConfig *c, const FitData *f) {
    return c->batch < 1 || c->epochs < 1 || c->batch > f->n_train || !(c->opt.lr > 0.0f) ||
           !(c->opt.lr <= (float)TRAIN_MAX_LR);
}

int fit_train(Model **m, FitResult *r, const FitData *f, const FitOpts *o, ErrBuf *e) {
    TrainConfig cfg = o->cfg;
    cfg.trial = f->trial;
    memset(r, 0, sizeof *r);
    *m = NULL;
    Trainer *t = trainer_create(&cfg, &f->d, f->train, f->n_train, f->val, f->n_val, e);
    if (!t) return option_fault(&cfg, f) ? FIT_ERR_OPTION : HIPID_ERR;
    char key[4096];
    StateCtx sc = {.path = o->state, .key = key, .stop = o->stop};
    int rc = HIPID_OK;
    if (o->state) {
        fit_state_key(key, sizeof key, f, o);
        if (access(o->state, F_OK) == 0) {
            if (trainer_load_state(t, o->state, key, e) != HIPID_OK) {
                rc = HIPID_ERR;
                goto done;
            }
            if (cfg.log)
                fprintf(cfg.log, "continuing from %s: epoch %d of %d, %d of %d training images done\n", o->state,
                        t->epoch + 1, cfg.epochs, t->pos, f->n_train);
        }
    }
    rc = trainer_run(t, NULL, o->state && o->stop ? poll_stop : NULL, o->state ? save_state : NULL, &sc,
                     o->state ? o->state_every : 0, e);
    if (rc != TRAIN_DONE) {
        rc = rc == TRAIN_STOPPED ? FIT_STOPPED : HIPID_ERR;
        goto done;
    }
    trainer_last_stats(t, &r->last);
    *m = t->m;
    t->m = NULL;
    if (f->n_test > 0) train_evaluate(&r->test_loss, &r->test_acc, *m, &f->d, f->test, f->n_test, NULL);
    rc = HIPID_OK;
done:
    trainer_free(t);
    return rc;
}
