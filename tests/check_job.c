/* check_job: load a job file and print its expanded trials as TSV, for
 * tests/test_job.py.
 *
 *   check_job JOB [DATA_CHECKSUM]
 * Prints a header line, then one line per trial: id family config repeat
 * outer inner seed hash, then every HParams field (model optimizer lr
 * momentum weight_decay schedule step_size gamma epochs batch micro_batch
 * patience dropout balance augment standardize) and the family's
 * ranks_per_trial. Reals are printed with %.9g. On a job error prints
 * "error: MSG" to stderr and exits 1; bad arguments exit 2. */
#include <stdio.h>
#include <stdlib.h>

#include "hipid/sweep/job.h"

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: check_job JOB [DATA_CHECKSUM]\n");
        return 2;
    }
    uint64_t checksum = argc == 3 ? strtoull(argv[2], NULL, 0) : 0;
    static const char *const opt[] = {"sgd", "adam", "adamw"}, *const sched[] = {"constant", "step", "cosine"},
                             *const balance[] = {"none", "loss", "sampling"};
    ErrBuf e = {{0}};
    Job job;
    Trial *trials = NULL;
    int n = 0;
    if (job_load(&job, argv[1], &e) || job_expand(&trials, &n, &job, checksum, &e)) {
        fprintf(stderr, "error: %s\n", e.msg);
        job_free(&job);
        return 1;
    }
    printf("id\tfamily\tconfig\trepeat\touter\tinner\tseed\thash\tmodel\toptimizer\tlr\tmomentum\t"
           "weight_decay\tschedule\tstep_size\tgamma\tepochs\tbatch\tmicro_batch\tpatience\tdropout\t"
           "balance\taugment\tstandardize\tranks_per_trial\n");
    for (int i = 0; i < n; i++) {
        const Trial *t = &trials[i];
        const Family *f = &job.families[t->family];
        const HParams *h = &f->configs[t->config];
        char aug[256];
        augment_format(aug, sizeof aug, &h->aug);
        printf("%d\t%s\t%d\t%d\t%d\t%d\t%llu\t%016llx\t%s\t%s\t%.9g\t%.9g\t%.9g\t%s\t%d\t%.9g\t%d\t%d\t%d\t%d\t"
               "%.9g\t%s\t%s\t%d\t%d\n",
               t->id, f->name, t->config, t->repeat, t->outer, t->inner, (unsigned long long)t->seed,
               (unsigned long long)t->hash, h->model, opt[h->opt.kind], h->opt.lr, h->opt.momentum,
               h->opt.weight_decay, sched[h->opt.sched], h->opt.step_size, h->opt.gamma, h->epochs,
               h->batch, h->micro_batch, h->patience, h->dropout, balance[h->balance], aug,
               h->standardize, f->ranks_per_trial);
    }
    free(trials);
    job_free(&job);
    return 0;
}
