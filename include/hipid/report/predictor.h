/* predictor.h: a sweep trial as a classifier of raw X-ray files, with an
 * optional saliency map per image (what `hipid predict` runs).
 *
 * The trial file carries everything needed: the best weights (with the input
 * standardisation), the class names and the data set's `preprocessing`
 * attribute, which prep_parse_describe turns back into the PrepConfig that
 * made the training images. Each image goes through the same decode and
 * prep_image as in `hipid prep`, then the same pixel/255 standardisation as
 * dataset_gather_f32, an eval forward and the same double-precision softmax
 * as the trial's stored predictions.
 *
 * In the report layer because of the saliency maps (saliency.h). No MPI and
 * nothing printed: messages come back in an ErrBuf. Reads trial files, the
 * sweep index and image files (libvips, started by the caller); writes only
 * the saliency PNGs it is asked for.
 */
#ifndef HIPID_PREDICTOR_H
#define HIPID_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>

#include "hipid/base/common.h"
#include "hipid/data/prep.h"
#include "hipid/nn/model.h"
#include "hipid/sweep/trialfile.h"

/* Everything predict takes from a trial file, and the last image it saw. */
typedef struct {
    Model *m;             /* the trial's best weights, batch 1, owned */
    PrepConfig prep;      /* the data set's preprocessing; prep.size = S */
    int n_classes;        /* K */
    char **class_names;   /* (K), owned */
    uint8_t *px;          /* (S, S) the last prepared image, owned */
    float *x;             /* (1, S, S) its standardised model input, owned */
    TrialInfo info;       /* the trial's attributes (family, config, hash, data set, preprocessing) */
} Predictor;

/* Open a done trial file (results/<job>/trials/<family>-<hash>.h5) for
 * classification with `threads` OpenMP threads. Fails with one line in e
 * naming path and the problem: not a trial file (a `hipid train` checkpoint
 * is named as such), another format version, a trial that is not done, a
 * missing or unusable preprocessing attribute, missing shape or class names,
 * weights that do not match them. On failure p is freed (zeroed). */
int predictor_open(Predictor *p, const char *path, int threads, ErrBuf *e);

/* Free everything p owns and zero it; NULL or a zeroed Predictor is fine. */
void predictor_free(Predictor *p);

/* How --best chose a configuration. */
enum {
    PICK_VAL_LOSS,  /* the lowest mean validation loss */
    PICK_ONLY,      /* no validation loss anywhere (val_fraction 0), and one configuration */
    PICK_TEST_ACC,  /* no validation loss, several configurations: the highest mean test
                     * accuracy, which is optimistic for that configuration */
};

/* The trial --best picks from a sweep's results folder. */
typedef struct {
    char path[4096];      /* DIR/trials/<family>-<hash>.h5 */
    char family[256];
    int config;
    int rule;             /* PICK_* */
    double mean_val_loss; /* of the chosen configuration's done trials (NaN unless PICK_VAL_LOSS) */
    double val_loss;      /* of the chosen trial (NaN unless PICK_VAL_LOSS) */
    int n_done;           /* done trials considered (of the family, if given) */
} BestTrial;

/* Among the done, not pruned trials of DIR/sweep.h5 (of `family` if not
 * NULL): the configuration (family, config) with the lowest mean validation
 * loss over its trials with one, ties to the first in index order, and its
 * trial with the lowest validation loss. Trained without a validation share
 * (val_fraction 0: no trial has one), the only configuration, or with
 * several the one with the highest mean test accuracy (b->rule says which);
 * its first trial in index order. Fails with one line in e when the index
 * is unreadable, empty or has no such trial, or the path does not fit. */
int predictor_pick_best(BestTrial *b, const char *dir, const char *family, ErrBuf *e);

/* The members of `hipid predict --best --ensemble`: without `family`, when
 * the index names a job ensemble ([job] ensemble), for each of its families
 * the configuration predictor_pick_best would pick within that family;
 * otherwise the one configuration it picks (of `family` if not NULL). Of each
 * configuration, every done, not pruned trial, except a nested design's
 * inner-fold models (trained on less data), in index order:
 * one model per test fold and seed. *paths (n strings,
 * DIR/trials/<family>-<hash>.h5) is the caller's to free with
 * predictor_free_paths; `what` gets "pre config 0 (30 trials), nb config 0
 * (30 trials)". Fails with one line in e naming the index. */
int predictor_pick_ensemble(char ***paths, int *n, char *what, size_t cap, const char *dir, const char *family,
                            ErrBuf *e);
void predictor_free_paths(char **paths, int n);

/* Classify one image file: prob (K) gets the softmax of the trial's logits.
 * p->px and p->x keep the prepared image for predictor_saliency. Fails with
 * "IMAGE: why" in e when the file cannot be read or decoded or the
 * preprocessing rejects it (too small, empty mask). */
int predictor_classify(float *prob, Predictor *p, const char *image, ErrBuf *e);

/* The saliency map (saliency_map) of the last classified image for class
 * cls, written to png as saliency_save_png does with the given zoom. *layer
 * gets the layer used (-1: input gradient, else Grad-CAM) and *peak the
 * map's maximum (0: no region raises the class score). Fails with the PNG
 * writer's message in e. */
int predictor_saliency(int *layer, float *peak, Predictor *p, int cls, const char *png, int zoom, ErrBuf *e);

/* Write the trial's model as an ONNX file (nn/onnx.h) at out, with the class
 * names, the preprocessing string and the trial's provenance as metadata:
 * hipid.trial_file (trial, as given), hipid.family, hipid.label,
 * hipid.config, hipid.hash, hipid.data, hipid.data_checksum,
 * hipid.val_loss. Written to a temporary file and renamed; fails with one
 * line in e naming out or the layer that has no ONNX form. */
int predictor_export_onnx(const Predictor *p, const char *trial, const char *out, ErrBuf *e);

#endif
