/* trialfile.c: reading a trial file's summary. See trialfile.h; sweep.c
 * writes the files. */
#include "hipid/sweep/trialfile.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hipid/base/h5util.h"

void trialfile_summary(TrialSummary *s, const char *path, uint64_t hash) {
    memset(s, 0, sizeof *s);
    s->test_acc = s->test_loss = s->val_acc = s->val_loss = -1.0;
    if (access(path, F_OK) != 0) {
        s->state = TRIAL_TODO;
        return;
    }
    ErrBuf e = {{0}};
    hid_t f = h5_open_versioned(path, TRIAL_FORMAT, TRIAL_FORMAT_VERSION, "trial file",
                                "it is redone", &e);
    if (f < 0) {
        s->state = TRIAL_BAD;
        snprintf(s->reason, sizeof s->reason, "%.*s", (int)sizeof s->reason - 1, e.msg);
        return;
    }
    char want[24], got[24] = "", state[16] = "";
    snprintf(want, sizeof want, "%016" PRIx64, hash);
    double v[10];
    int ints[4];
    if (h5_attr_read_str(f, "hash", got, sizeof got) || strcmp(got, want) != 0) {
        s->state = TRIAL_BAD;
        snprintf(s->reason, sizeof s->reason, "%s: holds trial %s, expected %s", path, got, want);
    } else if (h5_attr_read_str(f, "state", state, sizeof state) ||
               h5_attr_read_int(f, "attempts", &ints[0], 1) ||
               h5_attr_read_int(f, "best_epoch", &ints[1], 1) ||
               h5_attr_read_int(f, "epochs_run", &ints[2], 1) || h5_attr_read_int(f, "ranks", &ints[3], 1) ||
               h5_attr_read_double(f, "test_acc", &v[0]) || h5_attr_read_double(f, "test_loss", &v[1]) ||
               h5_attr_read_double(f, "val_acc", &v[2]) || h5_attr_read_double(f, "val_loss", &v[3]) ||
               h5_attr_read_double(f, "seconds", &v[4])) {
        s->state = TRIAL_BAD;
        snprintf(s->reason, sizeof s->reason, "%s: trial file lacks its summary attributes", path);
    } else {
        s->state = strcmp(state, "done") == 0 ? TRIAL_DONE : TRIAL_FAILED;
        s->attempts = ints[0];
        s->best_epoch = ints[1];
        s->epochs_run = ints[2];
        s->ranks = ints[3];
        s->test_acc = v[0];
        s->test_loss = v[1];
        s->val_acc = v[2];
        s->val_loss = v[3];
        s->seconds = v[4];
        if (s->state == TRIAL_FAILED) h5_attr_read_str(f, "reason", s->reason, sizeof s->reason);
    }
    H5Fclose(f);
}
