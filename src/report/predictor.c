/* predictor.c: a sweep trial as a classifier of raw X-ray files (see
 * predictor.h): open a trial file or pick a results folder's best trial,
 * classify one image file, draw its saliency map. Does not parse options or
 * print anything; `hipid predict` (cmd/predict.c) does.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/fsafe.h"
#include "hipid/base/h5util.h"
#include "hipid/data/dataset.h"
#include "hipid/data/image.h"
#include "hipid/data/imgsrc.h"
#include "hipid/nn/onnx.h"
#include "hipid/nn/ops.h"
#include "hipid/report/predictor.h"

#include "hipid/report/saliency.h"
#include "hipid/sweep/trialfile.h"
#include "hipid/train/tta.h"

void predictor_free(Predictor *p) {
    if (!p) return;
    model_free(p->m);
    strv_free(p->class_names, p->n_classes);
    free(p->px);
    free(p->x);
    memset(p, 0, sizeof *p);
}

/* 1 if path is a `hipid train` checkpoint: a model without its data set's story. */
static int is_train_checkpoint(const char *path) {
    char fmt[64] = "";
    int is_ckpt = 0;
    hid_t file = H5I_INVALID_HID;
    if (fsafe_input(path, "model", 0, NULL) == HIPID_OK && H5Fis_hdf5(path) > 0 && (file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0) {
        is_ckpt = h5_attr_read_str(file, "format", fmt, sizeof fmt) == HIPID_OK && strcmp(fmt, MODEL_FORMAT) == 0;
        H5Fclose(file);
    }
    return is_ckpt;
}

/* The trial's attributes into p->info, and what predict needs of them:
 * done, the preprocessing (into p->prep), image_size and n_classes (*S, *K). */
static int read_trial_info(Predictor *p, int *S, int *K, hid_t file, const char *path, ErrBuf *e) {
    TrialInfo *t = &p->info;
    unsigned have = trialfile_read_info(t, file);
    *S = t->image_size;
    *K = t->n_classes;
    if (strcmp(t->state, "done") != 0)
        return hipid_err(e, "%s: trial state is \"%s\", not \"done\" (%.255s): it has no best weights", path,
                         t->state, t->reason[0] ? t->reason : "no reason recorded");
    if (!(have & TRIALINFO_PREP)) return hipid_err(e, "%s: the trial file lacks the preprocessing attribute", path);
    if (prep_parse_describe(&p->prep, t->preprocessing, e) != HIPID_OK) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        return hipid_err(e, "%s: cannot re-apply the data set's preprocessing: %s", path, why);
    }
    if (!(have & TRIALINFO_SHAPE) || *K < 2) return hipid_err(e, "%s: the trial file lacks image_size or n_classes", path);
    if (!(have & TRIALINFO_TTA))
        return hipid_err(e, "%s: tta attribute is \"%s\", expected none or flip (written by another hipid version?)",
                         path, t->tta_name);
    return HIPID_OK;
}

int predictor_open(Predictor *p, const char *path, int threads, ErrBuf *e) {
    int rc = HIPID_ERR, S = 0, K = 0;
    hid_t file = H5I_INVALID_HID;
    memset(p, 0, sizeof *p);
    h5_quiet();
    if (is_train_checkpoint(path))
        return hipid_err(e, "%s: a hipid train checkpoint (format \"hipid-model\"), which records neither "
                            "the preprocessing nor the class names; predict and export need a sweep trial file "
                            "(results/<job>/trials/<family>-<hash>.h5)", path);
    if ((file = trialfile_open(path, "predict and export read the trial files of hipid sweep (results/<job>/trials/*.h5) "
                                     "written by this version", e)) < 0)
        return HIPID_ERR;
    if (read_trial_info(p, &S, &K, file, path, e) != HIPID_OK) goto error;
    if (trialfile_read_class_names(&p->class_names, &p->n_classes, file, path, e) != HIPID_OK) goto error;
    if (p->n_classes != K) {
        hipid_err(e, "%s: %d class_names for n_classes = %d", path, p->n_classes, K);
        goto error;
    }
    H5Fclose(file);
    file = H5I_INVALID_HID;
    if (!(p->m = trialfile_load_model(path, "best", 1, threads, e))) goto error;
    if (p->prep.size != S || p->m->in.c != 1 || p->m->in.h != S || p->m->in.w != S || p->m->n_classes != K) {
        hipid_err(e, "%s: inconsistent trial: images %dx%d, preprocessing resize=%d, weights for %dx%dx%d "
                     "inputs and %d classes, %d class names", path, S, S, p->prep.size, p->m->in.c, p->m->in.h,
                  p->m->in.w, p->m->n_classes, K);
        goto error;
    }
    p->px = xmalloc((size_t)S * S);
    p->x = xmalloc_f32((size_t)S * S);
    rc = HIPID_OK;
error:
    if (file >= 0) H5Fclose(file);
    if (rc != HIPID_OK) predictor_free(p);
    return rc;
}

static int row_usable(const SweepIndex *x, int i, const char *family) {
    return (!family || strcmp(x->family[i], family) == 0) && strcmp(x->state[i], "done") == 0 && !x->pruned[i];
}

static int same_config(const SweepIndex *x, int i, int j) {
    return strcmp(x->family[i], x->family[j]) == 0 && x->config[i] == x->config[j];
}

/* predictor_pick_best's choice among the index rows (of family, if not
 * NULL): the chosen trial's row or -1; *mean (the configuration's mean
 * validation loss, NaN without one), *rule and *n_done for the message. */
static int best_row(const SweepIndex *x, const char *family, double *mean, int *rule, int *n_done) {
    int n = x->n, best_first = -1, best = -1, any_val = 0, n_configs = 0;
    double best_score = INFINITY;
    *n_done = 0;
    for (int i = 0; i < n; i++)
        if (row_usable(x, i, family)) {
            (*n_done)++;
            any_val |= isfinite(x->val_loss[i]);
        }
    for (int i = 0; i < n; i++) {
        if (!row_usable(x, i, family)) continue;
        int first = 1;
        for (int j = 0; j < i && first; j++) first = !(row_usable(x, j, family) && same_config(x, i, j));
        if (!first) continue; /* each configuration once, at its first usable row */
        n_configs++;
        double sum = 0.0;
        int cnt = 0;
        for (int j = i; j < n; j++) {
            if (!row_usable(x, j, family) || !same_config(x, i, j)) continue;
            double v = any_val ? x->val_loss[j] : -x->test_acc[j]; /* lower is better */
            if (isfinite(v)) sum += v, cnt++;
        }
        if (cnt > 0 && sum / cnt < best_score) {
            best_score = sum / cnt;
            best_first = i;
        }
    }
    for (int j = best_first; best_first >= 0 && j < n; j++)
        if (row_usable(x, j, family) && same_config(x, j, best_first) &&
            (best < 0 || (any_val && isfinite(x->val_loss[j]) && !(x->val_loss[j] >= x->val_loss[best]))))
            best = j;
    *rule = any_val ? PICK_VAL_LOSS : n_configs == 1 ? PICK_ONLY : PICK_TEST_ACC;
    *mean = any_val ? best_score : NAN;
    return best;
}

int predictor_pick_best(BestTrial *b, const char *dir, const char *family, ErrBuf *e) {
    char index[4096];
    SweepIndex x = {0};
    int rc = HIPID_ERR;
    memset(b, 0, sizeof *b);
    b->mean_val_loss = INFINITY;
    snprintf(index, sizeof index, "%s/sweep.h5", dir);
    hid_t file = trialfile_open_index(index, "give a trial file instead, or rerun the sweep to rebuild the index", e);
    if (file < 0) return HIPID_ERR;
    if (trialfile_read_index(&x, file, index, e) != HIPID_OK) goto error;
    if (x.n < 1) {
        hipid_err(e, "%s: no trials indexed", index);
        goto error;
    }
    int row = best_row(&x, family, &b->mean_val_loss, &b->rule, &b->n_done);
    if (row < 0) {
        hipid_err(e, "%s: no done trial%s%s%s", index, family ? " of family '" : "", family ? family : "",
                  family ? "'" : "");
        goto error;
    }
    if (trialfile_path(b->path, sizeof b->path, dir, x.family[row], x.hash[row], ".h5") >= (int)sizeof b->path) {
        hipid_err(e, "%s: path too long", dir);
        goto error;
    }
    snprintf(b->family, sizeof b->family, "%s", x.family[row]);
    b->config = x.config[row];
    b->val_loss = b->rule == PICK_VAL_LOSS ? x.val_loss[row] : NAN;
    rc = HIPID_OK;
error:
    trialfile_index_free(&x);
    H5Fclose(file);
    return rc;
}

/* Append to paths every done outer trial of (family, config) with a finite
 * validation loss, in index order. */
static int add_members(char **paths, int *n, const SweepIndex *x, const char *family, int config, const char *dir,
                       ErrBuf *e) {
    for (int i = 0; i < x->n; i++) {
        if (!row_usable(x, i, family) || x->config[i] != config || x->inner[i] >= 0) continue;
        char path[4096];
        if (trialfile_path(path, sizeof path, dir, x->family[i], x->hash[i], ".h5") >= (int)sizeof path)
            return hipid_err(e, "%s: path too long", dir);
        HIPID_CHECK((paths[*n] = strdup(path)) != NULL);
        (*n)++;
    }
    return HIPID_OK;
}

int predictor_pick_ensemble(char ***paths, int *n, char *what, size_t cap, const char *dir, const char *family,
                            ErrBuf *e) {
    char index[4096], names[sizeof ((SweepIndex *)0)->ensemble];
    SweepIndex x = {0};
    int rc = HIPID_ERR;
    size_t at = 0;
    *paths = NULL;
    *n = 0;
    what[0] = '\0';
    snprintf(index, sizeof index, "%s/sweep.h5", dir);
    hid_t file = trialfile_open_index(index, "rerun the sweep to rebuild the index", e);
    if (file < 0) return HIPID_ERR;
    if (trialfile_read_index(&x, file, index, e) != HIPID_OK) goto error;
    *paths = xmalloc(sizeof **paths * (size_t)(x.n ? x.n : 1));
    /* the job's ensemble unless --family narrows the pick; else one pick */
    int job = !family && x.ensemble[0];
    snprintf(names, sizeof names, "%s", job ? x.ensemble : "");
    char *save = NULL, *tok = job ? strtok_r(names, ",", &save) : NULL;
    const char *named[64];
    int n_named = 0;
    do {
        double mean;
        int n_done, rule, before = *n, row = best_row(&x, tok ? tok : family, &mean, &rule, &n_done);
        if (row < 0) {
            const char *f = tok ? tok : family;
            hipid_err(e, "%s: no done trial%s%s%s", index, f ? " of family '" : "", f ? f : "", f ? "'" : "");
            goto error;
        }
        int seen = 0; /* a hand-edited index could name a family twice */
        for (int i = 0; i < n_named && !seen; i++) seen = strcmp(named[i], x.family[row]) == 0;
        if (seen || n_named == (int)(sizeof named / sizeof named[0])) continue;
        named[n_named++] = x.family[row];
        if (add_members(*paths, n, &x, x.family[row], x.config[row], dir, e) != HIPID_OK) goto error;
        if (*n == before) {
            hipid_err(e, "%s: family '%s' config %d has no done trial outside inner folds", index, x.family[row],
                      x.config[row]);
            goto error;
        }
        if (at < cap)
            at += (size_t)snprintf(what + at, cap - at, "%s%s config %d (%d trials%s)", at ? ", " : "", x.family[row],
                                   x.config[row], *n - before,
                                   rule == PICK_TEST_ACC ? "; no validation loss: by mean test accuracy, optimistic"
                                                         : "");
    } while (tok && (tok = strtok_r(NULL, ",", &save)));
    rc = HIPID_OK;
error:
    if (rc != HIPID_OK) {
        predictor_free_paths(*paths, *n);
        *paths = NULL;
        *n = 0;
    }
    trialfile_index_free(&x);
    H5Fclose(file);
    return rc;
}

void predictor_free_paths(char **paths, int n) {
    for (int i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
}

/* Read and prepare one image file into px (S, S). */
static int prepare_image(uint8_t *px, const char *path, const PrepConfig *c, ErrBuf *e) {
    uint8_t *bytes = NULL;
    size_t n_bytes = 0;
    char sha[65];
    GreyBuf g = {0};
    PrepInfo info;
    DicomInfo di;
    int rc = HIPID_ERR, is_dicom;
    if (imgsrc_read_file(&bytes, &n_bytes, sha, path, e) != HIPID_OK ||
        prep_decode(&g, &di, &is_dicom, bytes, n_bytes, path, c, e) != HIPID_OK ||
        prep_image(px, &info, NULL, 0, &g, c, e) != PREP_OK) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        hipid_err(e, "%s: %s", path, why);
        goto done;
    }
    rc = HIPID_OK;
done:
    grey_free(&g);
    free(bytes);
    return rc;
}

int predictor_classify(float *prob, Predictor *p, const char *image, ErrBuf *e) {
    int S = p->prep.size, row = 0;
    if (prepare_image(p->px, image, &p->prep, e) != HIPID_OK) return HIPID_ERR;
    /* as the sweep: dataset_gather_f32's standardisation, an eval forward
     * under the trial's test-time augmentation, the same softmax_rows */
    Dataset one = {.n = 1, .size = S, .images = p->px};
    dataset_gather_f32(p->x, &one, &row, 1, p->m->input_mean, p->m->input_std);
    float *zt = xmalloc_f32((size_t)p->n_classes);
    const float *z = tta_forward(zt, p->m, p->x, 1, p->info.tta);
    softmax_rows(prob, z, 1, p->n_classes);
    free(zt);
    return HIPID_OK;
}

int predictor_saliency(int *layer, float *peak, Predictor *p, int cls, const char *png, int zoom, ErrBuf *e) {
    int S = p->prep.size, rc = HIPID_ERR;
    float *map = xmalloc_f32((size_t)S * S);
    uint8_t *rgb = xmalloc((size_t)S * S * 3);
    *layer = saliency_map(map, NULL, p->m, p->x, cls);
    *peak = 0.0f;
    saliency_overlay(rgb, p->px, map, S);
    if (saliency_save_png(png, p->px, rgb, S, zoom, e) != HIPID_OK) goto done;
    for (int j = 0; j < S * S; j++) *peak = map[j] > *peak ? map[j] : *peak;
    rc = HIPID_OK;
done:
    free(rgb);
    free(map);
    return rc;
}

int predictor_export_onnx(const Predictor *p, const char *trial, const char *out, ErrBuf *e) {
    const TrialInfo *t = &p->info;
    char config[32], val_loss[32];
    snprintf(config, sizeof config, "%d", t->config);
    snprintf(val_loss, sizeof val_loss, "%.9g", t->val_loss);
    const char *keys[] = {"hipid.trial_file", "hipid.family", "hipid.label", "hipid.config", "hipid.hash",
                          "hipid.data", "hipid.data_checksum", "hipid.val_loss", "hipid.tta"};
    /* hipid.tta: the network is exported alone; a "flip" trial's stored and
     * predicted probabilities average it over the image and its mirror */
    const char *values[] = {trial, t->family, t->label, config, t->hash, t->data, t->data_checksum, val_loss,
                            tta_names[t->tta]};
    OnnxInfo info = {.class_names = p->class_names, .n_classes = p->n_classes,
                     .preprocessing = t->preprocessing, .keys = keys, .values = values,
                     .n_extra = (int)(sizeof keys / sizeof keys[0])};
    return onnx_write(p->m, &info, out, e);
}
