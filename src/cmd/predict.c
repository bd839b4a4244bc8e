/* cmd_predict.c: `hipid predict`: classify raw X-ray files with a trained
 * sweep trial, optionally with a saliency map per image.
 *
 * The trial file carries everything needed: the best weights (with the input
 * standardisation), the class names and the data set's `preprocessing`
 * attribute, which prep_parse_describe turns back into the PrepConfig that
 * made the training images; each IMAGE goes through the same decode and
 * prep_image as in `hipid prep`, then the same pixel/255 standardisation as
 * dataset_gather_f32, an eval forward and the same double-precision softmax
 * as the trial's stored predictions. A bad IMAGE is reported on stderr and
 * skipped; the others are still classified, and the exit status is 1.
 * No MPI: one process, OpenMP threads inside the model.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>

#include "hipid/cmd/cmd.h"
#include "hipid/data/dataset.h"
#include "hipid/base/h5util.h"
#include "hipid/data/imgsrc.h"
#include "hipid/nn/model.h"
#include "hipid/nn/ops.h"
#include "hipid/data/prep.h"
#include "hipid/report/saliency.h"
#include "hipid/sweep/trialfile.h"

enum { FMT_TEXT, FMT_TSV, FMT_JSON };

static void predict_usage(FILE *f) {
    fprintf(f,
        "usage: hipid predict --model TRIAL.h5 [options] IMAGE...\n"
        "       hipid predict --model RESULTS_DIR --best [--family F] [options] IMAGE...\n"
        "  --model PATH         a sweep's trial file (results/<job>/trials/<family>-<hash>.h5),\n"
        "                       or a sweep's results folder together with --best  (required)\n"
        "  --best               pick a trial from RESULTS_DIR/sweep.h5: among the done trials\n"
        "                       (of --family F if given) the configuration with the lowest mean\n"
        "                       validation loss, then its trial with the lowest validation loss\n"
        "  --family F           restrict --best to family F\n"
        "  --format FMT         text, tsv or json                                   [text]\n"
        "  --saliency PNG       (one IMAGE) write its saliency map for the predicted class\n"
        "  --saliency-dir DIR   (any number) write DIR/<image name>.png for each IMAGE\n"
        "  --zoom Z             saliency PNGs show each input pixel as Z x Z   [256/S, >= 1]\n"
        "  --threads T          OpenMP threads                 [OMP_NUM_THREADS or all]\n"
        "Each IMAGE (any format hipid prep reads) is prepared exactly as the trial's data set\n"
        "was (its 'preprocessing' attribute) and classified with the trial's best weights.\n"
        "Output per image: path, predicted class and probability, runner-up class and\n"
        "probability. An IMAGE that cannot be read or that the preprocessing rejects (too\n"
        "small, empty mask) gets one line on stderr; the others are still classified and\n"
        "the exit status is 1. Saliency: Grad-CAM at the last spatial layer for models with\n"
        "convolutions, smoothed |d score / d input| for dense-only ones (docs/predict.md).\n"
        "Exit status: 0 ok, 1 failure, 2 usage.\n");
}

/* Everything predict takes from a trial file. */
typedef struct {
    Model *m;
    PrepConfig prep;
    int n_classes;
    char **class_names; /* (n_classes), owned */
} Predictor;

static void predictor_free(Predictor *p) {
    model_free(p->m);
    strv_free(p->class_names, p->n_classes);
    memset(p, 0, sizeof *p);
}

static int predictor_open(Predictor *p, const char *path, int threads, ErrBuf *e) {
    char fmt[64] = "";
    int rc = HIPID_ERR;
    hid_t file = H5I_INVALID_HID;
    memset(p, 0, sizeof *p);
    h5_quiet();
    /* a `hipid train` checkpoint is a model without its data set's story */
    if (H5Fis_hdf5(path) > 0 && (file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0) {
        int is_ckpt = h5_attr_read_str(file, "format", fmt, sizeof fmt) == HIPID_OK && strcmp(fmt, "hipid-model") == 0;
        H5Fclose(file);
        file = H5I_INVALID_HID;
        if (is_ckpt)
            return hipid_err(e, "%s: a hipid train checkpoint (format \"hipid-model\"), which records neither "
                                "the preprocessing nor the class names; predict needs a sweep trial file "
                                "(results/<job>/trials/<family>-<hash>.h5)", path);
    }
    if ((file = trialfile_open(path, "predict reads the trial files of hipid sweep (results/<job>/trials/*.h5) "
                                     "written by this version", e)) < 0)
        return HIPID_ERR;
    TrialInfo ti;
    unsigned have = trialfile_read_info(&ti, file);
    int S = ti.image_size, K = ti.n_classes;
    if (strcmp(ti.state, "done") != 0) {
        hipid_err(e, "%s: trial state is \"%s\", not \"done\" (%.255s): it has no best weights", path, ti.state,
                  ti.reason[0] ? ti.reason : "no reason recorded");
        goto error;
    }
    if (!(have & TRIALINFO_PREP)) {
        hipid_err(e, "%s: the trial file lacks the preprocessing attribute", path);
        goto error;
    }
    if (prep_parse_describe(&p->prep, ti.preprocessing, e) != HIPID_OK) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        hipid_err(e, "%s: cannot re-apply the data set's preprocessing: %s", path, why);
        goto error;
    }
    if (!(have & TRIALINFO_SHAPE) || K < 2) {
        hipid_err(e, "%s: the trial file lacks image_size or n_classes", path);
        goto error;
    }
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
    rc = HIPID_OK;
error:
    if (file >= 0) H5Fclose(file);
    if (rc != HIPID_OK) predictor_free(p);
    return rc;
}

/* The configuration (family, config) with the lowest mean val_loss over its
 * done trials (of family, if not NULL), ties to the first in index order,
 * and its trial with the lowest val_loss: the index row, or -1 if none;
 * *mean and *n_done for the message. */
static int best_row(const SweepIndex *x, const char *family, double *mean, int *n_done) {
    int n = x->n, best_first = -1, best = -1;
    double best_mean = INFINITY;
    *n_done = 0;
    for (int i = 0; i < n; i++) {
        int usable = (!family || strcmp(x->family[i], family) == 0) && strcmp(x->state[i], "done") == 0 &&
                     isfinite(x->val_loss[i]);
        if (!usable) continue;
        (*n_done)++;
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (strcmp(x->family[j], x->family[i]) == 0 && x->config[j] == x->config[i]) first = 0;
        if (!first) continue; /* each configuration once, at its first row */
        double sum = 0.0;
        int cnt = 0;
        for (int j = i; j < n; j++)
            if (strcmp(x->family[j], x->family[i]) == 0 && x->config[j] == x->config[i] &&
                strcmp(x->state[j], "done") == 0 && isfinite(x->val_loss[j]))
                sum += x->val_loss[j], cnt++;
        if (sum / cnt < best_mean) {
            best_mean = sum / cnt;
            best_first = i;
        }
    }
    for (int j = best_first; best_first >= 0 && j < n; j++)
        if (strcmp(x->family[j], x->family[best_first]) == 0 && x->config[j] == x->config[best_first] &&
            strcmp(x->state[j], "done") == 0 && isfinite(x->val_loss[j]) && (best < 0 || x->val_loss[j] < x->val_loss[best]))
            best = j;
    *mean = best_mean;
    return best;
}

/* --best: pick a trial from DIR/sweep.h5 (see the usage text); path gets
 * DIR/trials/<family>-<hash>.h5. */
static int pick_best(char *path, size_t cap, const char *dir, const char *family, ErrBuf *e) {
    char index[4096];
    SweepIndex x = {0};
    int rc = HIPID_ERR, n_done = 0;
    double mean = INFINITY;
    snprintf(index, sizeof index, "%s/sweep.h5", dir);
    hid_t file = trialfile_open_index(index, "give a trial file instead, or rerun the sweep to rebuild the index", e);
    if (file < 0) return HIPID_ERR;
    if (trialfile_read_index(&x, file, index, e) != HIPID_OK) goto error;
    if (x.n < 1) {
        hipid_err(e, "%s: no trials indexed", index);
        goto error;
    }
    int row = best_row(&x, family, &mean, &n_done);
    if (row < 0) {
        hipid_err(e, "%s: no done trial%s%s%s with a finite validation loss", index, family ? " of family '" : "",
                  family ? family : "", family ? "'" : "");
        goto error;
    }
    if (trialfile_path(path, cap, dir, x.family[row], x.hash[row], ".h5") >= (int)cap) {
        hipid_err(e, "%s: path too long", dir);
        goto error;
    }
    fprintf(stderr, "predict: best of %d done trial(s): %s (family %s, config %d: mean val_loss %.6g; "
                    "this trial %.6g)\n", n_done, path, x.family[row], x.config[row], mean, x.val_loss[row]);
    rc = HIPID_OK;
error:
    trialfile_index_free(&x);
    H5Fclose(file);
    return rc;
}

/* Read and prepare one image file into px (S, S). */
static int prepare_image(uint8_t *px, const char *path, const PrepConfig *c, ErrBuf *e) {
    uint8_t *bytes = NULL;
    size_t n_bytes = 0;
    char sha[65];
    GreyBuf g = {0};
    PrepInfo info;
    int rc = HIPID_ERR;
    if (imgsrc_read_file(&bytes, &n_bytes, sha, path, e) != HIPID_OK ||
        image_decode(&g, bytes, n_bytes, e) != HIPID_OK || prep_image(px, &info, NULL, 0, &g, c, e) != PREP_OK) {
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

static void print_result(FILE *f, int format, int first, const char *path, const float *prob,
                         char *const *names, int K) {
    int a = 0, b = -1;
    for (int k = 1; k < K; k++)
        if (prob[k] > prob[a]) a = k;
    for (int k = 0; k < K; k++)
        if (k != a && (b < 0 || prob[k] > prob[b])) b = k;
    if (format == FMT_TEXT) {
        fprintf(f, "%s\t%s %.4f\t(runner-up %s %.4f)\n", path, names[a], prob[a], names[b], prob[b]);
    } else if (format == FMT_TSV) {
        fprintf(f, "%s\t%s\t%.9g\t%s\t%.9g\n", path, names[a], prob[a], names[b], prob[b]);
    } else {
        fprintf(f, "%s\n  {\"path\": ", first ? "" : ",");
        json_write_string(f, path);
        fprintf(f, ", \"class\": ");
        json_write_string(f, names[a]);
        fprintf(f, ", \"prob\": %.9g, \"runner_up\": ", prob[a]);
        json_write_string(f, names[b]);
        fprintf(f, ", \"runner_up_prob\": %.9g, \"probs\": {", prob[b]);
        for (int k = 0; k < K; k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_write_string(f, names[k]);
            fprintf(f, ": %.9g", prob[k]);
        }
        fprintf(f, "}}");
    }
}

/* DIR/<file name without extension>.png; a name met before gets -<index>. */
static void saliency_name(char *out, size_t cap, const char *dir, const char *image, int index, GHashTable *used) {
    char *base = g_path_get_basename(image), *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = '\0';
    snprintf(out, cap, "%s/%s.png", dir, base);
    if (g_hash_table_contains(used, out)) snprintf(out, cap, "%s/%s-%d.png", dir, base, index);
    g_hash_table_add(used, g_strdup(out));
    g_free(base);
}

typedef struct {
    const char *model, *family, *saliency, *saliency_dir;
    int best, format, threads, zoom;
} PredictArgs;

static int run_predict(const PredictArgs *a, char **images, int n_images) {
    char trial[4096];
    ErrBuf e = {{0}};
    Predictor p = {0};
    struct stat st;
    int status = HIPID_EXIT_FAIL, n_ok = 0, n_bad = 0;
    uint8_t *px = NULL, *rgb = NULL;
    float *x = NULL, *map = NULL;
    GHashTable *used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    if (stat(a->model, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!a->best) {
            fprintf(stderr, "hipid predict: %s is a folder: add --best (and --family F) to pick a trial from "
                            "its sweep.h5, or give a trial file\n", a->model);
            status = HIPID_EXIT_USAGE;
            goto done;
        }
        if (pick_best(trial, sizeof trial, a->model, a->family, &e) != HIPID_OK) goto fail;
    } else {
        if (a->best) {
            fprintf(stderr, "hipid predict: --best needs a sweep's results folder as --model, found %s\n", a->model);
            status = HIPID_EXIT_USAGE;
            goto done;
        }
        snprintf(trial, sizeof trial, "%s", a->model);
    }
    if (predictor_open(&p, trial, a->threads, &e) != HIPID_OK) goto fail;
    if (a->saliency_dir && mkdir(a->saliency_dir, 0777) != 0 && errno != EEXIST) {
        hipid_err(&e, "%s: cannot create the saliency folder: %s", a->saliency_dir, strerror(errno));
        goto fail;
    }
    int S = p.prep.size, K = p.n_classes, zoom = a->zoom > 0 ? a->zoom : (256 + S - 1) / S;
    px = xmalloc((size_t)S * S);
    x = xmalloc_f32((size_t)S * S);
    map = xmalloc_f32((size_t)S * S);
    rgb = xmalloc((size_t)S * S * 3);
    if (a->format == FMT_TSV) printf("path\tclass\tprob\trunner_up\trunner_up_prob\n");
    if (a->format == FMT_JSON) printf("[");
    for (int i = 0; i < n_images; i++) {
        if (prepare_image(px, images[i], &p.prep, &e) != HIPID_OK) {
            fprintf(stderr, "hipid predict: %s\n", e.msg);
            n_bad++;
            continue;
        }
        /* as the sweep: dataset_gather_f32's standardisation, an eval
         * forward, the same softmax_rows */
        Dataset one = {.n = 1, .size = S, .images = px};
        int row = 0;
        float prob[K];
        dataset_gather_f32(x, &one, &row, 1, p.m->input_mean, p.m->input_std);
        const float *z = model_forward(p.m, x, 1, 0);
        softmax_rows(prob, z, 1, K);
        print_result(stdout, a->format, n_ok == 0, images[i], prob, p.class_names, K);
        n_ok++;
        if (a->saliency || a->saliency_dir) {
            char out[4096];
            int top = 0;
            for (int k = 1; k < K; k++)
                if (prob[k] > prob[top]) top = k;
            if (a->saliency) snprintf(out, sizeof out, "%s", a->saliency);
            else saliency_name(out, sizeof out, a->saliency_dir, images[i], i, used);
            int layer = saliency_map(map, NULL, p.m, x, top);
            saliency_overlay(rgb, px, map, S);
            if (saliency_save_png(out, px, rgb, S, zoom, &e) != HIPID_OK) {
                fprintf(stderr, "hipid predict: %s\n", e.msg);
                n_bad++;
                continue;
            }
            float peak = 0.0f;
            for (int j = 0; j < S * S; j++) peak = map[j] > peak ? map[j] : peak;
            fprintf(stderr, "predict: saliency of %s (class %s, %s) -> %s%s\n", images[i], p.class_names[top],
                    layer < 0 ? "input gradient" : "Grad-CAM", out,
                    peak > 0.0f ? "" : " (the map is zero everywhere: no region raises the class score)");
        }
    }
    if (a->format == FMT_JSON) printf("%s]\n", n_ok ? "\n" : "");
    fflush(stdout);
    if (n_bad) fprintf(stderr, "hipid predict: %d of %d image(s) failed (see above)\n", n_bad, n_images);
    status = n_bad ? HIPID_EXIT_FAIL : 0;
    goto done;
fail:
    fprintf(stderr, "hipid predict: %s\n", e.msg);
done:
    g_hash_table_destroy(used);
    free(px);
    free(x);
    free(map);
    free(rgb);
    predictor_free(&p);
    return status;
}

static void drop_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data) {}

int cmd_predict(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},    {"family", required_argument, 0, 'f'},
        {"best", no_argument, 0, 'b'},           {"format", required_argument, 0, 'F'},
        {"saliency", required_argument, 0, 's'}, {"saliency-dir", required_argument, 0, 'd'},
        {"zoom", required_argument, 0, 'z'},     {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    PredictArgs a = {.format = FMT_TEXT, .threads = omp_get_max_threads()};
    double v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm': a.model = optarg; break;
        case 'f': a.family = optarg; break;
        case 'b': a.best = 1; break;
        case 's': a.saliency = optarg; break;
        case 'd': a.saliency_dir = optarg; break;
        case 'F':
            if (strcmp(optarg, "text") == 0) a.format = FMT_TEXT;
            else if (strcmp(optarg, "tsv") == 0) a.format = FMT_TSV;
            else if (strcmp(optarg, "json") == 0) a.format = FMT_JSON;
            else {
                fprintf(stderr, "hipid predict: --format expects text, tsv or json, found '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 'z': bad = cli_num("predict", "zoom", optarg, 1, 64, 1, &v); a.zoom = (int)v; break;
        case 't': bad = cli_num("predict", "threads", optarg, 1, 1024, 1, &v); a.threads = (int)v; break;
        case 'h': predict_usage(stdout); return 0;
        default: predict_usage(stderr); return HIPID_EXIT_USAGE;
        }
        if (bad) return HIPID_EXIT_USAGE;
    }
    int n_images = argc - optind;
    const char *problem = !a.model ? "--model is required"
                          : n_images < 1 ? "expected at least one IMAGE"
                          : a.saliency && a.saliency_dir ? "--saliency and --saliency-dir exclude each other"
                          : a.saliency && n_images != 1 ? "--saliency takes one IMAGE; use --saliency-dir for several"
                          : a.family && !a.best ? "--family only selects with --best"
                          : NULL;
    if (problem) {
        fprintf(stderr, "hipid predict: %s (see hipid predict --help)\n", problem);
        return HIPID_EXIT_USAGE;
    }
    if (VIPS_INIT(argv[0])) {
        fprintf(stderr, "hipid predict: cannot start libvips: %s\n", vips_error_buffer());
        return HIPID_EXIT_FAIL;
    }
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, drop_log, NULL);
    vips_cache_set_max(0);
    vips_block_untrusted_set(TRUE);
    int status = run_predict(&a, argv + optind, n_images);
    vips_shutdown();
    return status;
}
