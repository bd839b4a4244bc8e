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
    } else if (o->fold >= sp.k || o->repeat >= sp.repeats) {
        hipid_err(e, "%s has %d folds and %d repeat(s); --fold %d --repeat %d is out of range", o->splits, sp.k,
                  sp.repeats, o->fold, o->repeat);
        rc = FIT_ERR_OPTION;
    } else {
        split_fold_indices(f->train, &f->n_train, f->val, &f->n_val, sp.fold_of + (long)o->repeat * d->n, d->n,
                           o->fold);
    }
    f->trial = (uint64_t)o->repeat * 1000u + (uint64_t)o->fold;
    split_free(&sp);
    return rc;
}

int fit_data_load(FitData *f, const FitOpts *o, ErrBuf *e) {
    ErrBuf e2 = {{0}};
    memset(f, 0, sizeof *f);
    if (dataset_load(&f->d, o->data, e) != HIPID_OK) return HIPID_ERR;
    /* a bad spec is the user's: check it before splitting */
    Model *probe = model_create(o->cfg.model, (Shape){1, f->d.size, f->d.size}, f->d.n_classes, 1, 1, 0, &e2);
    if (!probe) {
        hipid_err(e, "--model %s: %s", o->cfg.model, e2.msg);
        dataset_free(&f->d);
        memset(f, 0, sizeof *f);
        return FIT_ERR_OPTION;
    }
    model_free(probe);
    size_t cap = sizeof(int) * (f->d.n ? f->d.n : 1);
    f->train = xmalloc(cap);
    f->val = xmalloc(cap);
    f->test = xmalloc(cap);
    int rc = HIPID_OK;
    if (o->splits) rc = pick_from_splits(f, o, e);
    else if (split_holdout(f->train, &f->n_train, f->val, &f->n_val, f->d.labels, f->d.groups, f->d.n,
                           f->d.n_classes, o->val_fraction, o->cfg.seed, f->d.class_names, &e2) != HIPID_OK)
        rc = hipid_err(e, "%s: %s", o->data, e2.msg);
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
        return cfg.batch < 1 || cfg.epochs < 1 || cfg.batch > f->n_train ? FIT_ERR_OPTION : HIPID_ERR;
    if (f->n_test > 0) train_evaluate(&r->test_loss, &r->test_acc, *m, &f->d, f->test, f->n_test, NULL);
    return HIPID_OK;
}
