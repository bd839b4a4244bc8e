/* cmd/predict.c: `hipid predict`: classify raw X-ray files with a trained
 * sweep trial, optionally with a saliency map per image.
 *
 * Parses the options, resolves --model (a trial file, or --best's pick from
 * a results folder; several trial files, or --best --ensemble's members,
 * make an ensemble), then per IMAGE calls the predictor of each member
 * (report/predictor.h: the trial's preprocessing, weights and class names),
 * averages their probabilities and prints one result in the chosen format.
 * A bad IMAGE is reported on stderr and skipped; the others are still
 * classified, and the exit status is 1.
 * No MPI: one process, OpenMP threads inside the model.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>

#include "hipid/base/fsafe.h"
#include "hipid/cmd/cmd.h"
#include "hipid/data/imgsrc.h"
#include "hipid/report/predictor.h"

enum { FMT_TEXT, FMT_TSV, FMT_JSON };

static void predict_usage(FILE *f) {
    fprintf(f,
        "usage: hipid predict --model TRIAL.h5 [options] IMAGE...\n"
        "       hipid predict --model RESULTS_DIR --best [--family F] [--ensemble] [options] IMAGE...\n"
        "       hipid predict --model TRIAL1.h5 --model TRIAL2.h5 ... [options] IMAGE...\n"
        "  --model PATH         a sweep's trial file (results/<job>/trials/<family>-<hash>.h5),\n"
        "                       or a sweep's results folder together with --best  (required)\n"
        "  --best               pick a trial from RESULTS_DIR/sweep.h5: among the done trials\n"
        "                       (of --family F if given) the configuration with the lowest mean\n"
        "                       validation loss, then its trial with the lowest validation loss\n"
        "                       (without validation losses: the only configuration, or the one\n"
        "                       with the highest mean test accuracy, and its first trial)\n"
        "  --family F           restrict --best to family F\n"
        "  --ensemble           with --best: average every done trial of the picked configuration\n"
        "                       (one model per test fold and seed; a nested design's outer models);\n"
        "                       a job with [job] ensemble and no --family: of each of its families\n"
        "  --format FMT         text, tsv or json                                   [text]\n"
        "  --saliency PNG       (one IMAGE) write its saliency map for the predicted class\n"
        "  --saliency-dir DIR   (any number) write DIR/<image name>.png for each IMAGE\n"
        "  --zoom Z             saliency PNGs show each input pixel as Z x Z   [256/S, >= 1]\n"
        "  --threads T          OpenMP threads                 [OMP_NUM_THREADS or all]\n"
        "Each IMAGE (any format hipid prep reads: PNG, JPEG, DICOM) is prepared exactly as the trial's data set\n"
        "was (its 'preprocessing' attribute) and classified with the trial's best weights (and\n"
        "its test-time augmentation); an ensemble prints the mean of its members' probabilities.\n"
        "Output per image: path, predicted class and probability, runner-up class and\n"
        "probability. An IMAGE that cannot be read or that the preprocessing rejects (too\n"
        "small, empty mask) gets one line on stderr; the others are still classified and\n"
        "the exit status is 1. Saliency: Grad-CAM at the last spatial layer for models with\n"
        "convolutions, smoothed |d score / d input| for dense-only ones (docs/predict.md).\n"
        "Exit status: 0 ok, 1 failure, 2 usage.\n");
}

/* The class with the highest probability, the first of ties. */
static int top_class(const float *prob, int K) {
    int a = 0;
    for (int k = 1; k < K; k++)
        if (prob[k] > prob[a]) a = k;
    return a;
}

static void print_result(FILE *f, int format, int first, const char *path, const float *prob,
                         char *const *names, int K) {
    int a = top_class(prob, K), b = -1;
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

#define PREDICT_MAX_MODELS 256

typedef struct {
    const char *model, *family, *saliency, *saliency_dir;
    const char *models[PREDICT_MAX_MODELS]; /* every --model; model is the first */
    int n_models, best, ensemble, format, threads, zoom;
} PredictArgs;

/* The mean of the members' probabilities (in double) for one image; the
 * first member's message when any cannot classify it. */
static int classify(float *prob, Predictor *p, int n, const char *image, ErrBuf *e) {
    int K = p[0].n_classes;
    double sum[K];
    float one[K];
    for (int k = 0; k < K; k++) sum[k] = 0.0;
    for (int j = 0; j < n; j++) {
        if (predictor_classify(n == 1 ? prob : one, &p[j], image, e) != HIPID_OK) return HIPID_ERR;
        for (int k = 0; k < K && n > 1; k++) sum[k] += one[k];
    }
    for (int k = 0; k < K && n > 1; k++) prob[k] = (float)(sum[k] / n);
    return HIPID_OK;
}

/* Classify images[i] with the n members p, print its result, write its
 * saliency map if asked (one member only); counts it in *n_ok when
 * classified, in *n_bad when anything failed. */
static void predict_one(int *n_ok, int *n_bad, Predictor *p, int n, const PredictArgs *a, char **images, int i,
                        GHashTable *used) {
    ErrBuf e = {{0}};
    int K = p->n_classes, S = p->prep.size, layer;
    float prob[K], peak;
    /* an IMAGE is opened only when it is a regular file (a FIFO would block,
     * a device has effects of its own); messages name it escaped, one line */
    if (imgsrc_check_file(images[i], &e) != HIPID_OK || classify(prob, p, n, images[i], &e) != HIPID_OK) {
        char *msg = imgsrc_escape_text(e.msg);
        fprintf(stderr, "hipid predict: %s\n", msg);
        free(msg);
        (*n_bad)++;
        return;
    }
    print_result(stdout, a->format, *n_ok == 0, images[i], prob, p->class_names, K);
    (*n_ok)++;
    if (!a->saliency && !a->saliency_dir) return;
    char out[4096];
    int top = top_class(prob, K), zoom = a->zoom > 0 ? a->zoom : (256 + S - 1) / S;
    if (a->saliency) snprintf(out, sizeof out, "%s", a->saliency);
    else saliency_name(out, sizeof out, a->saliency_dir, images[i], i, used);
    /* never over a device, a folder, the model or the image itself */
    const char *inputs[] = {a->model, images[i]};
    if (fsafe_output(out, "saliency PNG", inputs, 2, &e) != HIPID_OK ||
        predictor_saliency(&layer, &peak, p, top, out, zoom, &e) != HIPID_OK) {
        fprintf(stderr, "hipid predict: %s\n", e.msg);
        (*n_bad)++;
        return;
    }
    fprintf(stderr, "predict: saliency of %s (class %s, %s) -> %s%s\n", images[i], p->class_names[top],
            layer < 0 ? "input gradient" : "Grad-CAM", out,
            peak > 0.0f ? "" : " (the map is zero everywhere: no region raises the class score)");
}

/* The trial files to open: the --model files, --best's pick, or with
 * --ensemble every member of the picked configuration, or of the job's
 * ensemble's families (predictor_pick_ensemble; *paths, n of them,
 * the caller frees with predictor_free_paths). 0 or an exit status after one
 * line on stderr. */
static int choose_members(char ***paths, int *n, const PredictArgs *a) {
    char trial[4096];
    ErrBuf e = {{0}};
    *paths = NULL;
    *n = 0;
    if (a->n_models > 1) {
        *paths = xmalloc(sizeof **paths * (size_t)a->n_models);
        for (; *n < a->n_models; (*n)++) HIPID_CHECK(((*paths)[*n] = strdup(a->models[*n])) != NULL);
        return 0;
    }
    struct stat st;
    if (a->ensemble && !(stat(a->model, &st) == 0 && S_ISDIR(st.st_mode))) {
        fprintf(stderr, "hipid predict: --best needs a sweep's results folder as --model, found %s\n", a->model);
        return HIPID_EXIT_USAGE;
    }
    int status = a->ensemble ? 0 : cmd_choose_trial(trial, sizeof trial, "predict", a->model, a->best, a->family);
    if (status != 0) return status;
    if (!a->ensemble) {
        *paths = xmalloc(sizeof **paths);
        HIPID_CHECK(((*paths)[0] = strdup(trial)) != NULL);
        *n = 1;
        return 0;
    }
    char what[1024];
    if (predictor_pick_ensemble(paths, n, what, sizeof what, a->model, a->family, &e) != HIPID_OK) {
        fprintf(stderr, "hipid predict: %s\n", e.msg);
        return HIPID_EXIT_FAIL;
    }
    fprintf(stderr, "predict: --best --ensemble: %s\n", what);
    return 0;
}

/* Open the n members; the classes of each must be the first's, in order. */
static int open_members(Predictor *p, char **paths, int n, int threads, ErrBuf *e) {
    for (int j = 0; j < n; j++) {
        if (predictor_open(&p[j], paths[j], threads, e) != HIPID_OK) return HIPID_ERR;
        int same = p[j].n_classes == p[0].n_classes;
        for (int k = 0; same && k < p[0].n_classes; k++) same = strcmp(p[j].class_names[k], p[0].class_names[k]) == 0;
        if (!same)
            return hipid_err(e, "%s: its classes differ from those of %s (an ensemble averages one set of classes)",
                             paths[j], paths[0]);
    }
    return HIPID_OK;
}

static int run_predict(const PredictArgs *a, char **images, int n_images) {
    ErrBuf e = {{0}};
    char **paths;
    int n, n_ok = 0, n_bad = 0, status = choose_members(&paths, &n, a);
    if (status != 0) return status;
    Predictor *p = xmalloc(sizeof *p * (size_t)n);
    memset(p, 0, sizeof *p * (size_t)n);
    if (open_members(p, paths, n, a->threads, &e) != HIPID_OK) {
        fprintf(stderr, "hipid predict: %s\n", e.msg);
        status = HIPID_EXIT_FAIL;
        goto done;
    }
    if (n > 1) fprintf(stderr, "predict: ensemble of %d trials: the mean of their probabilities\n", n);
    if (a->saliency_dir && mkdir(a->saliency_dir, 0777) != 0 && errno != EEXIST) {
        hipid_err(&e, "%s: cannot create the saliency folder: %s", a->saliency_dir, strerror(errno));
        fprintf(stderr, "hipid predict: %s\n", e.msg);
        status = HIPID_EXIT_FAIL;
        goto done;
    }
    GHashTable *used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    if (a->format == FMT_TSV) printf("path\tclass\tprob\trunner_up\trunner_up_prob\n");
    if (a->format == FMT_JSON) printf("[");
    for (int i = 0; i < n_images; i++) predict_one(&n_ok, &n_bad, p, n, a, images, i, used);
    if (a->format == FMT_JSON) printf("%s]\n", n_ok ? "\n" : "");
    fflush(stdout);
    if (n_bad) fprintf(stderr, "hipid predict: %d of %d image(s) failed (see above)\n", n_bad, n_images);
    g_hash_table_destroy(used);
    status = n_bad ? HIPID_EXIT_FAIL : 0;
done:
    for (int j = 0; j < n; j++) predictor_free(&p[j]);
    free(p);
    predictor_free_paths(paths, n);
    return status;
}

/* libvips logs warnings ("error in tile 0 x 56") on stderr as it decodes;
 * they are dropped: an IMAGE that fails is reported once, with libvips'
 * error text. */
static void drop_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data) {
    (void)domain, (void)level, (void)msg, (void)data;
}

int cmd_predict(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},    {"family", required_argument, 0, 'f'},
        {"best", no_argument, 0, 'b'},           {"format", required_argument, 0, 'F'},
        {"saliency", required_argument, 0, 's'}, {"saliency-dir", required_argument, 0, 'd'},
        {"zoom", required_argument, 0, 'z'},     {"threads", required_argument, 0, 't'},
        {"ensemble", no_argument, 0, 'e'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    PredictArgs a = {.format = FMT_TEXT, .threads = omp_get_max_threads()};
    double v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'm':
            if (a.n_models == PREDICT_MAX_MODELS) {
                fprintf(stderr, "hipid predict: at most %d --model files\n", PREDICT_MAX_MODELS);
                return HIPID_EXIT_USAGE;
            }
            a.models[a.n_models++] = optarg;
            a.model = a.models[0];
            break;
        case 'e': a.ensemble = 1; break;
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
        case 't': bad = cli_threads("predict", optarg, &a.threads); break;
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
                          : a.ensemble && !a.best ? "--ensemble takes the members of --best's configuration"
                          : a.n_models > 1 && a.best ? "--best takes one results folder as --model"
                          : (a.n_models > 1 || a.ensemble) && (a.saliency || a.saliency_dir)
                              ? "saliency maps are of one network: give one --model without --ensemble"
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
