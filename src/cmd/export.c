/* cmd/export.c: `hipid export`: write a sweep trial's model as an ONNX file.
 *
 * Parses the options, resolves --model as `hipid predict` does (a trial
 * file, or --best's pick from a results folder: cmd_choose_trial), opens it
 * with the predictor (report/predictor.h) and writes it with
 * predictor_export_onnx (the graph and its metadata: nn/onnx.h,
 * docs/export.md). Nothing else.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "hipid/base/fsafe.h"
#include "hipid/cmd/cmd.h"
#include "hipid/report/predictor.h"

static void export_usage(FILE *f) {
    fprintf(f,
        "usage: hipid export --onnx OUT.onnx --model TRIAL.h5\n"
        "       hipid export --onnx OUT.onnx --model RESULTS_DIR --best [--family F]\n"
        "  --onnx OUT.onnx      the ONNX file to write (replaced if it exists)      (required)\n"
        "  --model PATH         a sweep's trial file (results/<job>/trials/<family>-<hash>.h5),\n"
        "                       or a sweep's results folder together with --best    (required)\n"
        "  --best               pick the trial hipid predict --best picks: among the done trials\n"
        "                       (of --family F if given) the configuration with the lowest mean\n"
        "                       validation loss, then its trial with the lowest validation loss\n"
        "                       (without validation losses: the only configuration, or the one\n"
        "                       with the highest mean test accuracy, and its first trial)\n"
        "  --family F           restrict --best to family F\n"
        "The file holds the trial's best weights as an opset-13 inference graph: input \"image\"\n"
        "[N,1,S,S] float (the prepared image's pixels, 0..255), the trial's standardisation as\n"
        "its first nodes, batch norm with its running statistics, dropout removed, output\n"
        "\"probabilities\" [N,K] (softmax); metadata: class_names (JSON array), preprocessing,\n"
        "input_size and the trial's provenance (docs/export.md). Written to a temporary file\n"
        "beside OUT and renamed, so OUT is whole or untouched.\n"
        "Exit status: 0 ok, 1 failure, 2 usage.\n");
}

static int run_export(const char *out, const char *model, int best, const char *family) {
    char trial[4096];
    ErrBuf e = {{0}};
    Predictor p = {0};
    int status = cmd_choose_trial(trial, sizeof trial, "export", model, best, family);
    if (status != 0) return status;
    const char *const in[] = {trial};
    /* a FIFO as --model would block the predictor's first look at it */
    if (fsafe_input(trial, "trial file", 0, &e) != HIPID_OK || fsafe_output(out, "ONNX file", in, 1, &e) != HIPID_OK) {
        fprintf(stderr, "hipid export: %s\n", e.msg);
        return HIPID_EXIT_FAIL;
    }
    if (predictor_open(&p, trial, 1, &e) != HIPID_OK || predictor_export_onnx(&p, trial, out, &e) != HIPID_OK) {
        fprintf(stderr, "hipid export: %s\n", e.msg);
        predictor_free(&p);
        return HIPID_EXIT_FAIL;
    }
    fprintf(stderr, "export: %s (%s, %d classes, %dx%d inputs) -> %s\n", trial, p.m->spec, p.n_classes,
            p.prep.size, p.prep.size, out);
    predictor_free(&p);
    return 0;
}

int cmd_export(int argc, char **argv) {
    static const struct option opts[] = {
        {"onnx", required_argument, 0, 'o'}, {"model", required_argument, 0, 'm'},
        {"best", no_argument, 0, 'b'},       {"family", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    const char *out = NULL, *model = NULL, *family = NULL;
    int best = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'm': model = optarg; break;
        case 'b': best = 1; break;
        case 'f': family = optarg; break;
        case 'h': export_usage(stdout); return 0;
        default: export_usage(stderr); return HIPID_EXIT_USAGE;
        }
    }
    const char *problem = !out ? "--onnx OUT.onnx is required"
                          : !model ? "--model is required"
                          : optind < argc ? "unexpected argument"
                          : family && !best ? "--family only selects with --best"
                          : NULL;
    if (problem) {
        fprintf(stderr, "hipid export: %s%s%s (see hipid export --help)\n", problem,
                optind < argc ? " " : "", optind < argc ? argv[optind] : "");
        return HIPID_EXIT_USAGE;
    }
    return run_export(out, model, best, family);
}
