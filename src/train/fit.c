/* fit.c: one model on one data set file (`hipid train`). See fit.h. */
#include "hipid/train/fit.h"

#include <stdlib.h>
#include <string.h>

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

int fit_train(Model **m, FitResult *r, const FitData *f, const FitOpts *o, ErrBuf *e) {
    TrainConfig cfg = o->cfg;
    cfg.trial = f->trial;
    memset(r, 0, sizeof *r);
    if (train_run(m, &r->last, &f->d, f->train, f->n_train, f->val, f->n_val, &cfg, e) != HIPID_OK)
        /* trainer_create's checks of --batch and --epochs are the options' fault */
        return cfg.batch < 1 || cfg.epochs < 1 || cfg.batch > f->n_train || !(cfg.opt.lr > 0.0f) ||
                       !(cfg.opt.lr <= (float)TRAIN_MAX_LR) ? FIT_ERR_OPTION : HIPID_ERR;
    if (f->n_test > 0) train_evaluate(&r->test_loss, &r->test_acc, *m, &f->d, f->test, f->n_test, NULL);
    return HIPID_OK;
}
