/* main.c: dispatch to a subcommand. Kept short on purpose. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hipid/base/common.h"
#include "hipid/base/h5util.h"
#include "hipid/cmd/cmd.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = { /* in pipeline order */
    {"synth", cmd_synth, "write a phantom data set of hip X-rays, one folder per stem design"},
    {"prep", cmd_prep, "turn a folder or manifest of X-rays into an HDF5 data set"},
    {"audit", cmd_audit, "list a data set's near-duplicate groups and label conflicts, with a contact sheet"},
    {"split", cmd_split, "make cross-validation splits of a data set (splits.h5)"},
    {"train", cmd_train, "train one model on an HDF5 data set"},
    {"eval", cmd_eval, "evaluate a saved model on a data set"},
    {"sweep", cmd_sweep, "run a job file's cross-validated sweep over MPI ranks"},
    {"report", cmd_report, "report a sweep: metrics, selection, CNN vs DNN tests, plots, errors"},
    {"slurm", cmd_slurm, "write (and submit) Slurm batch scripts sized for a job file's sweep"},
    {"predict", cmd_predict, "classify X-ray files with a sweep's trial, with saliency maps"},
    {"export", cmd_export, "write a sweep's trial as an ONNX model (class names and preprocessing inside)"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: hipid <command> [options]   (hipid <command> --help for its options)\n\n"
               "hipid compares neural networks that identify orthopaedic implants in X-rays.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    /* progress lines reach a log file (Slurm output, tail -f) as they are
     * printed, not when a 4 KB buffer fills */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return HIPID_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            int status = commands[i].run(argc - 1, argv + 1);
            if (h5_unclosable()) { /* HDF5's exit handler would crash on the file (h5util.h) */
                fflush(NULL);
                _exit(status);
            }
            return status;
        }
    fprintf(stderr, "hipid: unknown command '%s'; expected one of:", argv[1]);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) fprintf(stderr, " %s", commands[i].name);
    fprintf(stderr, "\n");
    return HIPID_EXIT_USAGE;
}
