/* fuzz_job.c: job files (job_load, then job_expand). The input is the whole
 * file's text. */
#include "fuzz.h"

#include "hipid/sweep/job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[128];
    fuzz_write(fuzz_path(path, sizeof path, "job.ini"), data, size);
    Job job;
    ErrBuf e = {{0}};
    if (fuzz_note(job_load(&job, path, &e) == HIPID_OK, "job_load", e.msg)) {
        Trial *trials = NULL;
        int n = 0;
        if (job_expand(&trials, &n, &job, 0x1234, &e) == HIPID_OK && n > 0) {
            char buf[8192];
            job_trial_key(buf, sizeof buf, &job, &trials[0], 0x1234);
            job_trial_label(buf, sizeof buf, &job, &trials[n - 1]);
        }
        free(trials);
        job_free(&job);
    }
    return 0;
}
