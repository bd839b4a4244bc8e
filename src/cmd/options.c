/* cmd/options.c: option-value parsing shared by the commands (cmd.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "hipid/cmd/cmd.h"
#include "hipid/report/predictor.h"

int cmd_parse_positive(const char *s, double *v) {
    char *end;
    *v = strtod(s, &end);
    return end == s || *end || !(*v > 0.0) || !isfinite(*v);
}

int cmd_choose_trial(char *trial, size_t cap, const char *cmd, const char *model, int best, const char *family) {
    struct stat st;
    ErrBuf e = {{0}};
    BestTrial b;
    if (!(stat(model, &st) == 0 && S_ISDIR(st.st_mode))) {
        if (best) {
            fprintf(stderr, "hipid %s: --best needs a sweep's results folder as --model, found %s\n", cmd, model);
            return HIPID_EXIT_USAGE;
        }
        snprintf(trial, cap, "%s", model);
        return 0;
    }
    if (!best) {
        fprintf(stderr, "hipid %s: %s is a folder: add --best (and --family F) to pick a trial from "
                        "its sweep.h5, or give a trial file\n", cmd, model);
        return HIPID_EXIT_USAGE;
    }
    if (predictor_pick_best(&b, model, family, &e) != HIPID_OK) {
        fprintf(stderr, "hipid %s: %s\n", cmd, e.msg);
        return HIPID_EXIT_FAIL;
    }
    if (b.rule == PICK_VAL_LOSS)
        fprintf(stderr, "%s: best of %d done trial(s): %s (family %s, config %d: mean val_loss %.6g; "
                        "this trial %.6g)\n", cmd, b.n_done, b.path, b.family, b.config, b.mean_val_loss, b.val_loss);
    else
        fprintf(stderr, "%s: of %d done trial(s): %s (family %s, config %d: %s; its first trial)\n", cmd, b.n_done,
                b.path, b.family, b.config,
                b.rule == PICK_ONLY ? "the only configuration, no validation loss"
                                    : "no validation loss (val_fraction 0): the highest mean test accuracy, "
                                      "which is optimistic");
    snprintf(trial, cap, "%s", b.path);
    return 0;
}
