/* test_job.c: job files, parsing and expansion (job.h).
 *
 * - every documented key, each set to a non-default value, is read back;
 * - a minimal job gets every documented default;
 * - the order of sections does not change the job or its trial hashes;
 * - dropout rewrites every do<P> token of the expanded spec;
 * - each kind of error starts with its exact "FILE:LINE: KEY:" prefix;
 * - trial order (nested: inner folds, then the outer trial) and labels;
 * - hashes: the same job twice gives the same hashes, [run] keys and the job
 *   name leave them alone, lr and the data checksum change them;
 * - [family] val_fraction: the family's own share (else [cv]'s), in its
 *   trials' hashes only; a family without it keeps its hashes;
 * - [family] subsample: in its trials' keys and hashes only, = 1 the same
 *   trials as without it, outside [0.5, 1] an error;
 * - two families with the same configuration fail to expand;
 * - random search is reproducible and stays within its ranges.
 * Job files are written to $TEST_TMP (else /tmp). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/data/prep.h"
#include "hipid/sweep/job.h"
#include "hipid/train/train.h"
#include "testutil.h"

static int load(Job *job, const char *name, const char *text, ErrBuf *e) {
    return job_load(job, tu_write_text(name, text), e);
}

/* ---- every key, non-default ---- */

static const char *FULL =
    "# every key, none at its default\n"
    "[job]\n"
    "name = full-sweep.v2\n"
    "seeds = 3, 7, 11\n"
    "[data]\n"
    "path = data/hips.h5\n"
    "synth = classes=6,per_class=80,size=64,seed=9\n"
    "[cv]\n"
    "scheme = nested\n"
    "k = 4\n"
    "repeats = 2\n"
    "inner_k = 2\n"
    "val_fraction = 0.25\n"
    "seed = 42\n"
    "groups = no\n"
    "[search]\n"
    "mode = grid\n"
    "seed = 5\n"
    "[family cnn_a-1]\n"
    "model = cnn-paper\n"
    "optimizer = sgd\n"
    "lr = 0.05\n"
    "momentum = 0.8\n"
    "weight_decay = 1e-4\n"
    "schedule = step\n"
    "step_size = 7\n"
    "gamma = 0.5\n"
    "batch = 64\n"
    "micro_batch = 16\n"
    "epochs = 33\n"
    "patience = 4\n"
    "dropout = 0.25\n"
    "augment = flip,rot=5\n"
    "balance = sampling\n"
    "standardize = no\n"
    "mixup = 0.3\n"
    "cutmix = 1.5\n"
    "subsample = 0.75\n"
    "ranks_per_trial = 2\n"
    "[run]\n"
    "ranks_per_trial = 4\n"
    "threads = 3\n"
    "checkpoint_every = 5\n"
    "output = out/full\n"
    "retries = 0\n"
    "stall_timeout = 45\n";

/* [job] ensemble: the named families, in the order given; none by default. */
static void test_ensemble(void) {
    ErrBuf e = {{0}};
    Job j;
    int rc = load(&j, "ens.ini", "[job]\nensemble = c , a\n[data]\npath = d\n[family a]\nmodel = dnn-paper\n"
                  "[family b]\nmodel = cnn-paper\n[family c]\nmodel = resnet-small\n", &e);
    EXPECT(rc == HIPID_OK, "ensemble job: %s", e.msg);
    if (rc) return;
    EXPECT(j.n_ensemble == 2 && j.ensemble[0] == 2 && j.ensemble[1] == 0, "ensemble %d: %d %d", j.n_ensemble,
           j.ensemble[0], j.ensemble[1]);
    job_free(&j);
    rc = load(&j, "noens.ini", "[data]\npath = d\n[family a]\nmodel = dnn-paper\n[family b]\nmodel = cnn-paper\n", &e);
    EXPECT(rc == HIPID_OK && j.n_ensemble == 0, "no ensemble by default (%d)", rc ? -1 : j.n_ensemble);
    if (rc == HIPID_OK) job_free(&j);
}

/* [data] steps: the study's by default, else the listed ones (spaces allowed). */
static void test_data_steps(void) {
    ErrBuf e = {{0}};
    Job j;
    int rc = load(&j, "steps.ini", "[data]\npath = d\nsource = s\nsteps = background, otsu, largest, invert, crop\n"
                  "[family a]\nmodel = dnn-paper\n", &e);
    EXPECT(rc == HIPID_OK && j.prep_steps == (PREP_ALL_STEPS | PREP_CROP), "steps with crop: %s (%u)", e.msg,
           rc ? 0u : j.prep_steps);
    if (rc == HIPID_OK) job_free(&j);
    rc = load(&j, "nosteps.ini", "[data]\npath = d\nsource = s\n[family a]\nmodel = dnn-paper\n", &e);
    EXPECT(rc == HIPID_OK && j.prep_steps == PREP_ALL_STEPS, "default steps: %s (%u)", e.msg, rc ? 0u : j.prep_steps);
    if (rc == HIPID_OK) job_free(&j);
}

/* [family] data and steps: a family's own preparation of the job's films,
 * its file named after [data] path and the steps unless given; its trials'
 * hashes follow its own data set, and a family without one keeps the keys
 * it has in a job without such families. */
static void test_family_data(void) {
    ErrBuf e = {{0}};
    Job j;
    const char *text = "[data]\npath = r/d.h5\nsource = s\n[cv]\nk = 2\n"
                       "[family a]\nmodel = dnn-paper\n"
                       "[family b]\nmodel = dnn-paper\nsteps = background, otsu, largest, invert, crop\n"
                       "[family c]\nmodel = cnn-paper\ndata = other.h5\n"
                       "[family d]\nmodel = cnn-paper\nlr = 0.01\nsteps = none\n"
                       "[family e]\nmodel = cnn-paper\nlr = 0.02\ndata = x/own.h5\nsteps = background, otsu\n";
    int rc = load(&j, "famdata.ini", text, &e);
    EXPECT(rc == HIPID_OK, "family data job: %s", e.msg);
    if (rc) return;
    const Family *f = j.families;
    EXPECT(!f[0].data[0] && strcmp(job_family_data(&j, 0), "r/d.h5") == 0, "a: the job's data (%s)", f[0].data);
    EXPECT(strcmp(f[1].data, "r/d-background-otsu-largest-invert-crop.h5") == 0 && f[1].prep_from_source &&
           f[1].prep_steps == (PREP_ALL_STEPS | PREP_CROP), "b: %s from source %d steps %u", f[1].data,
           f[1].prep_from_source, f[1].prep_steps);
    EXPECT(strcmp(f[2].data, "other.h5") == 0 && !f[2].prep_from_source && strcmp(job_family_data(&j, 2), "other.h5") == 0,
           "c: %s from source %d", f[2].data, f[2].prep_from_source);
    EXPECT(strcmp(f[3].data, "r/d-none.h5") == 0 && f[3].prep_from_source && f[3].prep_steps == 0, "d: %s steps %u",
           f[3].data, f[3].prep_steps);
    EXPECT(strcmp(f[4].data, "x/own.h5") == 0 && f[4].prep_from_source && f[4].prep_steps == (PREP_BACKGROUND | PREP_OTSU),
           "e: %s steps %u", f[4].data, f[4].prep_steps);
    /* a and b differ only in their data: distinct trials, as long as the
     * data sets are not loaded (stand-ins) and once they are */
    Trial *t = NULL, *t2 = NULL, *t3 = NULL;
    int n = 0, n2 = 0, n3 = 0;
    rc = job_expand(&t, &n, &j, 0x1234, &e);
    EXPECT(rc == HIPID_OK && n == 10 && t[0].hash != t[2].hash, "expand with stand-ins: %s (%d)", e.msg, n);
    j.families[1].data_checksum = 0x1234; /* b's data set loaded, as identical as a's */
    j.families[2].data_checksum = 0x99;
    rc = job_expand(&t2, &n2, &j, 0x1234, &e);
    EXPECT(rc == HIPID_ERR && strstr(e.msg, "[family b]: expected configurations distinct"),
           "the same data set twice is the same trial: %s", e.msg);
    j.families[1].data_checksum = 0x5678;
    rc = job_expand(&t2, &n2, &j, 0x1234, &e);
    EXPECT(rc == HIPID_OK && t2[0].hash == t[0].hash && t2[2].hash != t[2].hash && t2[4].hash != t[4].hash,
           "a keeps its hash, b and c follow their data sets: %s", e.msg);
    Job one;
    rc = load(&one, "famdata1.ini", "[data]\npath = r/d.h5\nsource = s\n[cv]\nk = 2\n[family a]\nmodel = dnn-paper\n", &e);
    if (rc == HIPID_OK && job_expand(&t3, &n3, &one, 0x1234, &e) == HIPID_OK)
        EXPECT(n3 == 2 && t3[0].hash == t[0].hash && t3[1].hash == t[1].hash,
               "a's trials are those of a job without family data sets");
    else
        EXPECT(0, "one-family job: %s", e.msg);
    if (rc == HIPID_OK) job_free(&one);
    free(t3);
    t3 = NULL;
    /* b's trials are those of a job whose [data] path is b's data set: the
     * trials of an earlier sweep on that data set count as done */
    rc = load(&one, "famdata2.ini", "[data]\npath = r/d-crop.h5\nsource = s\nsteps = background, otsu, largest, "
              "invert, crop\n[cv]\nk = 2\n[family b]\nmodel = dnn-paper\n", &e);
    if (rc == HIPID_OK && job_expand(&t3, &n3, &one, 0x5678, &e) == HIPID_OK)
        EXPECT(n3 == 2 && t3[0].hash == t2[2].hash && t3[1].hash == t2[3].hash,
               "b's trials are those of a job on its data set");
    else
        EXPECT(0, "job on b's data set: %s", e.msg);
    if (rc == HIPID_OK) job_free(&one);
    free(t);
    free(t2);
    free(t3);
    job_free(&j);
}

static void test_full(void) {
    ErrBuf e = {{0}};
    Job j;
    int rc = load(&j, "full.ini", FULL, &e);
    EXPECT(rc == HIPID_OK, "full job: %s", e.msg);
    if (rc) return;
    EXPECT(strcmp(j.name, "full-sweep.v2") == 0, "name '%s'", j.name);
    EXPECT(j.n_seeds == 3 && j.seeds[0] == 3 && j.seeds[1] == 7 && j.seeds[2] == 11, "seeds (%d)", j.n_seeds);
    EXPECT(strcmp(j.data, "data/hips.h5") == 0, "data '%s'", j.data);
    EXPECT(strcmp(j.synth, "classes=6,per_class=80,size=64,seed=9") == 0, "synth '%s'", j.synth);
    EXPECT(j.scheme == CV_NESTED && j.k == 4 && j.repeats == 2 && j.inner_k == 2, "cv %d k%d r%d i%d",
           j.scheme, j.k, j.repeats, j.inner_k);
    EXPECT(j.val_fraction == 0.25 && j.cv_seed == 42 && j.use_groups == 0, "val_fraction %g seed %llu groups %d",
           j.val_fraction, (unsigned long long)j.cv_seed, j.use_groups);
    EXPECT(j.random == 0 && j.search_seed == 5, "search %d seed %llu", j.random,
           (unsigned long long)j.search_seed);
    EXPECT(j.threads == 3 && j.checkpoint_every == 5 && j.retries == 0 && j.stall_timeout == 45, "run %d %d %d %d",
           j.threads, j.checkpoint_every, j.retries, j.stall_timeout);
    EXPECT(strcmp(j.output, "out/full") == 0, "output '%s'", j.output);
    EXPECT(j.n_families == 1, "n_families %d", j.n_families);
    const Family *f = &j.families[0];
    EXPECT(strcmp(f->name, "cnn_a-1") == 0 && f->ranks_per_trial == 2 && f->n_configs == 1 && f->subsample == 0.75,
           "family '%s' ranks %d configs %d subsample %g", f->name, f->ranks_per_trial, f->n_configs, f->subsample);
    const HParams *h = &f->configs[0];
    EXPECT(h->opt.kind == OPT_SGD && h->opt.lr == 0.05f && h->opt.momentum == 0.8f &&
               h->opt.weight_decay == 1e-4f, "optimizer %d lr %g momentum %g wd %g", h->opt.kind, h->opt.lr,
           h->opt.momentum, h->opt.weight_decay);
    EXPECT(h->opt.sched == SCHED_STEP && h->opt.step_size == 7 && h->opt.gamma == 0.5f && h->opt.epochs == 33,
           "schedule %d step %d gamma %g T %d", h->opt.sched, h->opt.step_size, h->opt.gamma, h->opt.epochs);
    EXPECT(h->batch == 64 && h->micro_batch == 16 && h->epochs == 33 && h->patience == 4,
           "batch %d micro %d epochs %d patience %d", h->batch, h->micro_batch, h->epochs, h->patience);
    EXPECT(h->dropout == 0.25f && strstr(h->model, "do0.25") && !strstr(h->model, "do0.5") &&
               strncmp(h->model, "c16,r,c16", 9) == 0, "dropout %g model '%s'", h->dropout, h->model);
    EXPECT(h->mix.mixup == 0.3f && h->mix.cutmix == 1.5f, "mixup %g cutmix %g", h->mix.mixup, h->mix.cutmix);
    char aug[256];
    augment_format(aug, sizeof aug, &h->aug);
    EXPECT(strcmp(aug, "flip=0.5,rot=5") == 0, "augment '%s'", aug);
    EXPECT(h->balance == TRAIN_BALANCE_SAMPLING && h->standardize == 0, "balance %d standardize %d",
           h->balance, h->standardize);
    Trial *t = NULL;
    int n = 0;
    EXPECT(job_expand(&t, &n, &j, 0, &e) == HIPID_OK, "expand: %s", e.msg);
    /* 2 repeats x 4 outer x (2 inner + 1) x 3 seeds */
    EXPECT(n == 2 * 4 * 3 * 3, "full: %d trials, expected 72", n);
    free(t);
    job_free(&j);
}

/* ---- defaults ---- */

static void test_defaults(void) {
    ErrBuf e = {{0}};
    Job j;
    int rc = load(&j, "mini-job.ini", "[data]\npath = d.h5\n[family dnn]\nmodel = dnn-paper\n", &e);
    EXPECT(rc == HIPID_OK, "minimal job: %s", e.msg);
    if (rc) return;
    EXPECT(strcmp(j.name, "mini-job") == 0, "default name '%s', expected the base name", j.name);
    EXPECT(j.n_seeds == 1 && j.seeds[0] == 1, "default seeds");
    EXPECT(j.synth[0] == '\0', "default synth '%s'", j.synth);
    EXPECT(j.source[0] == '\0' && j.prep_size == 128, "default source '%s', size %d", j.source, j.prep_size);
    EXPECT(j.scheme == CV_KFOLD && j.k == 5 && j.repeats == 1 && j.inner_k == 0, "default cv %d k%d r%d i%d",
           j.scheme, j.k, j.repeats, j.inner_k);
    EXPECT(fabs(j.val_fraction - 0.2) < 1e-12 && j.cv_seed == 1 && j.use_groups == 1, "default cv values");
    EXPECT(j.random == 0 && j.search_seed == 1, "default search");
    EXPECT(j.threads == 1 && j.checkpoint_every == 1 && j.retries == 2 && j.stall_timeout == 300,
           "default run %d %d %d %d", j.threads, j.checkpoint_every, j.retries, j.stall_timeout);
    EXPECT(strcmp(j.output, "results/mini-job") == 0, "default output '%s'", j.output);
    const Family *f = &j.families[0];
    EXPECT(f->n_configs == 1 && f->ranks_per_trial == 1 && f->subsample == 1, "default family");
    const HParams *h = &f->configs[0];
    EXPECT(strcmp(h->model, "dnn-paper") == 0 && h->dropout < 0, "default model '%s' dropout %g", h->model,
           h->dropout);
    EXPECT(h->opt.kind == OPT_ADAM && h->opt.lr == 1e-3f && h->opt.momentum == 0.9f && h->opt.weight_decay == 0,
           "default optimizer");
    EXPECT(h->opt.sched == SCHED_CONSTANT && h->opt.step_size == 10 && h->opt.gamma == 0.1f, "default schedule");
    EXPECT(h->batch == 32 && h->micro_batch == 0 && h->epochs == 20 && h->patience == 0, "default training");
    EXPECT(augment_is_identity(&h->aug) && h->balance == TRAIN_BALANCE_NONE && h->standardize == 1,
           "default augment/balance/standardize");
    EXPECT(h->gradient_sum == TRAIN_SUM_FIXED32, "default gradient_sum %d", h->gradient_sum);
    job_free(&j);

    /* holdout defaults */
    rc = load(&j, "ho.ini", "[cv]\nscheme = holdout\n[data]\npath = d.h5\n[family a]\nmodel = dnn-paper\n", &e);
    EXPECT(rc == HIPID_OK, "holdout job: %s", e.msg);
    if (rc) return;
    EXPECT(j.fractions[0] == 0.6 && j.fractions[1] == 0.2 && j.fractions[2] == 0.2 && j.k == 1,
           "holdout defaults %g %g %g k %d", j.fractions[0], j.fractions[1], j.fractions[2], j.k);
    job_free(&j);

    /* [run] ranks_per_trial is the families' default */
    rc = load(&j, "rk.ini", "[family a]\nmodel = dnn-paper\nmicro_batch = 8\n[run]\nranks_per_trial = 3\n"
                            "[data]\npath = d.h5\n[family b]\nmodel = dnn-paper\nranks_per_trial = 1\n", &e);
    EXPECT(rc == HIPID_OK, "ranks job: %s", e.msg);
    if (rc) return;
    EXPECT(j.families[0].ranks_per_trial == 3 && j.families[1].ranks_per_trial == 1, "ranks %d %d",
           j.families[0].ranks_per_trial, j.families[1].ranks_per_trial);
    job_free(&j);
}

/* Two job texts loaded (as name a and b) and expanded with data checksum ck;
 * HIPID_ERR (and a failed check naming what) if either fails. */
typedef struct {
    Job job[2];
    Trial *t[2];
    int n[2];
} JobPair;

static int load_pair(JobPair *p, const char *what, const char *a, const char *b, uint64_t ck) {
    memset(p, 0, sizeof *p);
    const char *text[2] = {a, b}, *name[2] = {"pair-a.ini", "pair-b.ini"};
    for (int k = 0; k < 2; k++) {
        ErrBuf e = {{0}};
        if (load(&p->job[k], name[k], text[k], &e) != HIPID_OK) {
            EXPECT(0, "%s %c: %s", what, 'a' + k, e.msg);
            if (k) job_free(&p->job[0]);
            free(p->t[0]);
            return HIPID_ERR;
        }
        if (job_expand(&p->t[k], &p->n[k], &p->job[k], ck, &e) != HIPID_OK) {
            EXPECT(0, "%s %c: expand: %s", what, 'a' + k, e.msg);
            for (int i = 0; i <= k; i++) job_free(&p->job[i]);
            free(p->t[0]);
            return HIPID_ERR;
        }
    }
    return HIPID_OK;
}

static void free_pair(JobPair *p) {
    for (int k = 0; k < 2; k++) {
        free(p->t[k]);
        job_free(&p->job[k]);
    }
}

/* ---- section order ---- */

static void test_order(void) {
    const char *a = "[job]\nseeds = 1, 2\n[data]\npath = d.h5\n[cv]\nk = 3\n[search]\nmode = random\nsamples = 4\n"
                    "[family x]\nmodel = cnn-paper\nlr = loguniform(1e-4, 1e-1)\nbatch = 16, 32\nmicro_batch = 8\n"
                    "[run]\nranks_per_trial = 2\nthreads = 2\n";
    const char *b = "[run]\nthreads = 2\nranks_per_trial = 2\n"
                    "[family x]\nbatch = 16, 32\nmicro_batch = 8\nlr = loguniform(1e-4, 1e-1)\nmodel = cnn-paper\n"
                    "[search]\nsamples = 4\nmode = random\n[cv]\nk = 3\n[data]\npath = d.h5\n[job]\nseeds = 1, 2\n";
    JobPair p;
    if (load_pair(&p, "order", a, b, 7) != HIPID_OK) return;
    int na = p.n[0], nb = p.n[1];
    EXPECT(na == nb && na == 4 * 3 * 2, "order: %d vs %d trials, expected 24", na, nb);
    int same = na == nb;
    for (int i = 0; same && i < na; i++) same = p.t[0][i].hash == p.t[1][i].hash;
    EXPECT(same, "section order changed the trial hashes");
    EXPECT(p.job[0].families[0].ranks_per_trial == 2 && p.job[1].families[0].ranks_per_trial == 2,
           "[run] after [family] must still set the family's ranks_per_trial");
    free_pair(&p);
}

/* ---- errors ---- */

typedef struct {
    const char *text;
    const char *prefix; /* after "FILE" */
} ErrCase;

static const ErrCase err_cases[] = {
    /* pass 1: lines, sections, keys */
    {"[data]\npath = d\nnot a key value line\n", ":3: expected '[section]', 'key = value' or a comment"},
    {"x = 1\n[data]\npath = d\n", ":1: x: expected a [section] header"},
    {"[data]\npath = d\n[model]\n", ":3: [model]: expected one of job, data, cv, search, family NAME, run, found"},
    {"[data]\npath = d\n[family]\nmodel = dnn-paper\n", ":3: [family]: expected a family name, [family NAME], found none"},
    {"[data]\npath = d\n[family a b]\nmodel = dnn-paper\n", ":3: [family a b]: expected a family name"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\n[family a]\nmodel = dnn-paper\n",
     ":5: [family a]: expected a new family name"},
    {"[data]\npath = d\n[cv]\nk = 3\n[cv]\nrepeats = 2\n", ":5: [cv]: expected each section once"},
    {"[data]\npath = d\n[cv]\nfolds = 3\n", ":4: folds: expected a key of [cv] (scheme, k, repeats, inner_k, "
                                           "fractions, val_fraction, seed, groups), found unknown key 'folds'"},
    /* the longest key list, a family's (once past the message's old 256-byte buffer: fuzz_job) */
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nfolds = 3\n",
     ":5: folds: expected a key of [family a] (model, optimizer, lr, momentum, weight_decay, schedule, step_size, "
     "gamma, batch, micro_batch, epochs, patience, dropout, augment, balance, standardize, gradient_sum, freeze, "
     "head_lr, warmup, label_smoothing, tta, mixup, cutmix, init, ranks_per_trial, val_fraction, subsample, data, "
     "steps), "
     "found unknown key 'folds'"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nlr = 0.1\nlr = 0.2\n",
     ":6: lr: expected lr once in [family a], found it again (first at line 5)"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\n  lr = 0.1\n", ":5: expected lines to start in the first column"},
    /* missing */
    {"[family a]\nmodel = dnn-paper\n", ": [data] path: expected a data set path, found nothing"},
    {"[cv]\nk = 3\n\n[data]\nsynth = classes=3\n[family a]\nmodel = dnn-paper\n",
     ":4: [data] path: expected a data set path, found nothing"},
    {"[data]\npath = d\n", ": [family NAME]: expected at least one model family"},
    {"[data]\npath = d\n[family a]\nlr = 0.1\n", ":3: [family a] model: expected a preset"},
    /* values */
    {"[job]\nname = my job\n[data]\npath = d\n[family a]\nmodel = dnn-paper\n", ":2: name: expected a name"},
    {"[job]\nseeds = 1, -2\n[data]\npath = d\n[family a]\nmodel = dnn-paper\n", ":2: seeds: expected"},
    {"[job]\nseeds = 1, 1\n[data]\npath = d\n[family a]\nmodel = dnn-paper\n", ":2: seeds: expected distinct seeds"},
    {"[data]\npath = d\nsteps = otsu\n[family a]\nmodel = dnn-paper\n", ":3: steps: expected steps only with source"},
    {"[data]\npath = d\nsource = s\nsteps = otsu, sharpen\n[family a]\nmodel = dnn-paper\n",
     ":4: steps: unknown step 'sharpen'"},
    {"[data]\npath = d\nsource = s\nsteps = invert, crop\n[family a]\nmodel = dnn-paper\n",
     ":4: steps: crop cuts to the kept mask's box, so it needs otsu or largest"},
    {"[job]\nensemble = a, c\n[data]\npath = d\n[family a]\nmodel = dnn-paper\n[family b]\nmodel = cnn-paper\n",
     ":2: ensemble: expected families of this job (a, b), found 'c'"},
    {"[job]\nensemble = a, b, a\n[data]\npath = d\n[family a]\nmodel = dnn-paper\n[family b]\nmodel = cnn-paper\n",
     ":2: ensemble: expected distinct families, found a twice"},
    {"[job]\nensemble = a\n[data]\npath = d\n[family a]\nmodel = dnn-paper\n[family b]\nmodel = cnn-paper\n",
     ":2: ensemble: expected a comma-separated list of two or more families, found 'a'"},
    {"[job]\nensemble = a, b,\n[data]\npath = d\n[family a]\nmodel = dnn-paper\n[family b]\nmodel = cnn-paper\n",
     ":2: ensemble: expected a comma-separated list of two or more families"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nsteps = otsu, largest\n",
     ":5: steps: expected steps only with [data] source"},
    {"[data]\npath = d\nsource = s\n[family a]\nmodel = dnn-paper\nsteps = background, otsu, largest, invert\n",
     ":6: steps: expected steps other than the job's own ([data] steps), found the same"},
    {"[data]\npath = d\nsource = s\n[family a]\nmodel = dnn-paper\nsteps = otsu, sharpen\n",
     ":6: steps: unknown step 'sharpen'"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\ndata = d\n",
     ":5: data: expected a data set other than [data] path"},
    {"[data]\npath = d\nsource = s\n[family a]\nmodel = dnn-paper\ndata = x.h5\nsteps = none\n[family b]\n"
     "model = cnn-paper\ndata = x.h5\nsteps = otsu\n",
     ":11: steps: expected the steps of [family a], which trains on the same data set x.h5"},
    {"[data]\npath = d\nsynth = classes=9\n[family a]\nmodel = dnn-paper\n", ":3: synth: expected classes="},
    {"[data]\npath = d\nsynth = size=8\n[family a]\nmodel = dnn-paper\n", ":3: synth: expected size="},
    {"[data]\npath = d\nsynth = colour=1\n[family a]\nmodel = dnn-paper\n", ":3: synth: expected keys classes"},
    {"[data]\npath = d\nsynth = classes=3\nsource = imgs\n[family a]\nmodel = dnn-paper\n",
     ":4: source: expected either source or synth, found both"},
    {"[data]\npath = d\nsize = 64\n[family a]\nmodel = dnn-paper\n", ":3: size: expected size only with source"},
    {"[data]\npath = d\n[run]\nstall_timeout = -5\n[family a]\nmodel = dnn-paper\n",
     ":4: stall_timeout: expected a number of seconds >= 0 (0 = wait forever)"},
    {"[data]\npath = d\nsource = imgs\nsize = 4\n[family a]\nmodel = dnn-paper\n",
     ":4: size: expected an image side in [8, 4096] px, found '4'"},
    {"[data]\npath = d\n[cv]\nscheme = loo\n[family a]\nmodel = dnn-paper\n", ":4: scheme: expected holdout, kfold"},
    {"[data]\npath = d\n[cv]\nk = 1\n[family a]\nmodel = dnn-paper\n", ":4: k: expected a number of folds >= 2, found '1'"},
    {"[data]\npath = d\n[cv]\nrepeats = 0\n[family a]\nmodel = dnn-paper\n", ":4: repeats: expected"},
    {"[data]\npath = d\n[cv]\nval_fraction = 0.6\n[family a]\nmodel = dnn-paper\n", ":4: val_fraction: expected a share in [0, 0.5]"},
    {"[data]\npath = d\n[cv]\nscheme = holdout\nfractions = 0.5, 0.2, 0.2\n[family a]\nmodel = dnn-paper\n",
     ":5: fractions: expected shares summing to 1"},
    {"[data]\npath = d\n[cv]\nscheme = holdout\nfractions = 0, 0.5, 0.5\n[family a]\nmodel = dnn-paper\n",
     ":5: fractions: expected a training share > 0"},
    {"[data]\npath = d\n[cv]\nscheme = holdout\nfractions = 0.5, 0.5\n[family a]\nmodel = dnn-paper\n",
     ":5: fractions: expected three shares"},
    {"[data]\npath = d\n[cv]\ngroups = maybe\n[family a]\nmodel = dnn-paper\n", ":4: groups: expected yes or no"},
    {"[data]\npath = d\n[search]\nmode = bayes\n[family a]\nmodel = dnn-paper\n", ":4: mode: expected grid, random, halving or hyperband"},
    {"[data]\npath = d\n[search]\nmode = random\nsamples = 0\n[family a]\nmodel = dnn-paper\n", ":5: samples: expected"},
    {"[data]\npath = d\n[run]\nthreads = 0\n[family a]\nmodel = dnn-paper\n", ":4: threads: expected"},
    {"[data]\npath = d\n[run]\nretries = -1\n[family a]\nmodel = dnn-paper\n", ":4: retries: expected"},
    {"[data]\npath = d\n[run]\ncheckpoint_every = x\n[family a]\nmodel = dnn-paper\n", ":4: checkpoint_every: expected"},
    {"[data]\npath = d\n[run]\nranks_per_trial = 0\n[family a]\nmodel = dnn-paper\n", ":4: ranks_per_trial: expected"},
    {"[data]\npath = d\n[family a]\nmodel = c16,zz\n", ":4: model: expected a preset (cnn-paper, dnn-paper) or a layer spec"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\noptimizer = adam, lbfgs\n", ":5: optimizer: expected sgd, adam or adamw, found 'lbfgs'"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nlr = 0\n", ":5: lr: expected a learning rate > 0, found '0'"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nlr = 0.1,,0.2\n", ":5: lr: expected a learning rate > 0, found an empty value"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nlr = 0.1, 0.1\n", ":5: lr: expected distinct values"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nmomentum = 1\n", ":5: momentum: expected a momentum in [0, 1)"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nweight_decay = -1e-4\n", ":5: weight_decay: expected"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nschedule = poly\n", ":5: schedule: expected constant, step or cosine"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nstep_size = 0\n", ":5: step_size: expected"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\ngamma = 0\n", ":5: gamma: expected a decay factor in (0, 1]"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nbatch = 1\n", ":5: batch: expected a batch size >= 2"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nbatch = 32.5\n", ":5: batch: expected a batch size >= 2"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nmicro_batch = 1\n", ":5: micro_batch: expected 0 (the whole batch)"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nepochs = 0\n", ":5: epochs: expected"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\ngradient_sum = fixed16\n", ":5: gradient_sum: expected fixed32 or fixed64"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nlabel_smoothing = 1\n", ":5: label_smoothing: expected a label smoothing in [0, 1)"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\ntta = rotate\n", ":5: tta: expected none or flip"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nmixup = -0.2\n", ":5: mixup: expected a mixup alpha in [0, 100] (0: off)"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\ncutmix = x\n", ":5: cutmix: expected a cutmix alpha in [0, 100] (0: off)"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nepochs = 5\nwarmup = 5\n", ":6: warmup: expected fewer warm-up epochs than epochs, found warmup = 5 with epochs = 5"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nfreeze = -1\n", ":5: freeze: expected a number of layers >= 0"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\ninit = /nonexistent/pre.h5\n", ":5: init: expected a readable checkpoint"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\npatience = -1\n", ":5: patience: expected"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\ndropout = 1\n", ":5: dropout: expected spec or a dropout probability"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\naugment = none | flip,rot=500\n", ":5: augment: expected an augmentation spec"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nbalance = oversample\n", ":5: balance: expected none, loss or sampling"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nstandardize = 1\n", ":5: standardize: expected yes or no"},
    {"[data]\npath = d\n[search]\nmode = random\n[family a]\nmodel = dnn-paper\nlr = loguniform(0, 1)\n",
     ":7: lr: expected loguniform(a, b) with a > 0"},
    {"[data]\npath = d\n[search]\nmode = random\n[family a]\nmodel = dnn-paper\nlr = uniform(0.1, 0.01)\n",
     ":7: lr: expected a < b"},
    {"[data]\npath = d\n[search]\nmode = random\n[family a]\nmodel = dnn-paper\nmomentum = uniform(0.5, 1.5)\n",
     ":7: momentum: expected a < b, both a momentum in [0, 1)"},
    {"[data]\npath = d\n[search]\nmode = random\n[family a]\nmodel = dnn-paper\nbatch = uniform(8, 64)\n",
     ":7: batch: expected a list of values (ranges are for"},
    /* combinations: the later key's line */
    {"[data]\npath = d\n[cv]\ninner_k = 3\n[family a]\nmodel = dnn-paper\n", ":4: inner_k: expected inner_k only with scheme = nested"},
    {"[data]\npath = d\n[cv]\ninner_k = 3\nscheme = group\n[family a]\nmodel = dnn-paper\n",
     ":5: scheme: expected inner_k only with scheme = nested, found scheme = group"},
    {"[data]\npath = d\n[cv]\nfractions = 0.6, 0.2, 0.2\n[family a]\nmodel = dnn-paper\n", ":4: fractions: expected fractions only with scheme = holdout"},
    {"[data]\npath = d\n[cv]\nval_fraction = 0.1\nscheme = holdout\n[family a]\nmodel = dnn-paper\n",
     ":5: scheme: expected val_fraction only with k-fold schemes"},
    {"[data]\npath = d\n[cv]\nscheme = holdout\nk = 3\n[family a]\nmodel = dnn-paper\n", ":5: k: expected k only with k-fold schemes"},
    {"[data]\npath = d\n[search]\nsamples = 5\n[family a]\nmodel = dnn-paper\n", ":4: samples: expected samples only with mode = random"},
    {"[data]\npath = d\n[search]\nsamples = 5\nmode = grid\n[family a]\nmodel = dnn-paper\n", ":5: mode: expected samples only"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nlr = loguniform(1e-4, 1e-2)\n",
     ":5: lr: expected a list of values in grid mode"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nlr = loguniform(1e-4, 1e-2)\n[search]\nmode = grid\n",
     ":7: mode: expected a list of values in grid mode"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nbatch = 32, 48\nmicro_batch = 16, 32\n",
     ":6: micro_batch: expected a micro_batch that divides batch, found micro_batch = 32 with batch = 48"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nmicro_batch = 16\nbatch = 40\n",
     ":6: batch: expected a micro_batch that divides batch"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nranks_per_trial = 2\n",
     ":5: ranks_per_trial: expected micro_batch set to batch/ranks_per_trial or less so each rank gets whole micro-batches"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\n[run]\nranks_per_trial = 2\n",
     ":6: ranks_per_trial: expected micro_batch set to batch/ranks_per_trial or less"},
    {"[data]\npath = d\n[run]\nranks_per_trial = 2\n[family a]\nmodel = dnn-paper\nmicro_batch = 0, 8\n",
     ":7: micro_batch: expected micro_batch set to batch/ranks_per_trial or less"},
    {"[data]\npath = d\n[run]\nranks_per_trial = 4\n[family a]\nmodel = dnn-paper\nbatch = 32\nmicro_batch = 16\n",
     ":8: micro_batch: expected at least ranks_per_trial = 4 micro-batches per batch"},
    {"[data]\npath = d\n[cv]\nval_fraction = 0\n[family a]\nmodel = dnn-paper\npatience = 0, 5\n",
     ":7: patience: expected val_fraction > 0 for early stopping"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\npatience = 5\n[cv]\nval_fraction = 0\n",
     ":7: val_fraction: expected val_fraction > 0 for early stopping"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nval_fraction = 0\npatience = 5\n",
     ":6: patience: expected val_fraction > 0 for early stopping"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\npatience = 5\nval_fraction = 0\n",
     ":6: val_fraction: expected val_fraction > 0 for early stopping"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nval_fraction = 0.7\n",
     ":5: val_fraction: expected a share in [0, 0.5], found '0.7'"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nsubsample = 0.3\n",
     ":5: subsample: expected a share of the training part in [0.5, 1], found '0.3'"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nsubsample = 1.2\n",
     ":5: subsample: expected a share of the training part in [0.5, 1], found '1.2'"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nsubsample = most\n",
     ":5: subsample: expected a share of the training part in [0.5, 1], found 'most'"},
    {"[data]\npath = d\n[family a]\nmodel = dnn-paper\nval_fraction = some\n",
     ":5: val_fraction: expected a share in [0, 0.5], found 'some'"},
    {"[data]\npath = d\n[cv]\nscheme = holdout\n[family a]\nmodel = dnn-paper\nval_fraction = 0.1\n",
     ":7: val_fraction: expected val_fraction only with k-fold schemes"},
    {"[data]\npath = d\n[search]\nmode = halving\nmax_epochs = 9\n[family a]\nmodel = dnn-paper\nval_fraction = 0\n",
     ":8: val_fraction: expected a validation share > 0 in [family a] (halving compares validation loss), found 0"},
    {"[data]\npath = d\n[cv]\nscheme = holdout\nfractions = 0.7, 0, 0.3\n[family a]\nmodel = dnn-paper\npatience = 3\n",
     ":8: patience: expected a validation share > 0 in fractions"},
    {"[data]\npath = d\n[family a]\nmodel = c8,r,fl\ndropout = 0.2\n",
     ":5: dropout: expected a model with do<P> layers, found spec without dropout"},
    {"[data]\npath = d\n[family a]\ndropout = spec, 0.2\nmodel = fl,fc16,r\n",
     ":5: model: expected a model with do<P> layers, found spec without dropout"},
};

static void test_errors(void) {
    char path[512];
    tu_tmp_path(path, sizeof path, "err.ini");
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        ErrBuf e = {{0}};
        Job j;
        char want[512];
        snprintf(want, sizeof want, "%s%s", path, err_cases[i].prefix);
        int rc = load(&j, "err.ini", err_cases[i].text, &e);
        EXPECT(rc == HIPID_ERR, "case %zu: accepted, expected an error '%s'", i, want);
        if (rc == HIPID_OK) {
            job_free(&j);
            continue;
        }
        EXPECT(strncmp(e.msg, want, strlen(want)) == 0, "case %zu:\n  got  '%s'\n  want '%s...'", i, e.msg, want);
        EXPECT(strchr(e.msg, '\n') == NULL, "case %zu: message has more than one line: '%s'", i, e.msg);
        EXPECT(j.n_families == 0, "case %zu: job owns families after an error", i);
    }
    printf("info %zu error cases\n", sizeof err_cases / sizeof err_cases[0]);

    /* a missing file, a folder, a line too long for libinih */
    ErrBuf e = {{0}};
    Job j;
    char missing[512], want[600];
    tu_tmp_path(missing, sizeof missing, "no-such-job.ini");
    EXPECT(job_load(&j, missing, &e) == HIPID_ERR, "missing file accepted");
    snprintf(want, sizeof want, "%s: cannot read the job file: No such file or directory", missing);
    EXPECT(strcmp(e.msg, want) == 0, "missing file: '%s'", e.msg);
    const char *dir = getenv("TEST_TMP") && *getenv("TEST_TMP") ? getenv("TEST_TMP") : "/tmp";
    EXPECT(job_load(&j, dir, &e) == HIPID_ERR, "folder accepted");
    snprintf(want, sizeof want, "%s: the job file must be a regular file, found a directory", dir);
    EXPECT(strcmp(e.msg, want) == 0, "folder: '%s'", e.msg);
    char long_job[1024];
    snprintf(long_job, sizeof long_job, "[data]\npath = %0300d\n[family a]\nmodel = dnn-paper\n", 7);
    EXPECT(load(&j, "err.ini", long_job, &e) == HIPID_ERR, "a 307-character line accepted");
    snprintf(want, sizeof want, "%s:2: expected a line of at most", path);
    EXPECT(strncmp(e.msg, want, strlen(want)) == 0, "long line: '%s'", e.msg);
}

/* ---- trial order, labels ---- */

static void test_trials(void) {
    ErrBuf e = {{0}};
    Job j;
    int rc = load(&j, "nested.ini", "[job]\nseeds = 4, 5\n[data]\npath = d\n[cv]\nscheme = nested\nk = 3\ninner_k = 2\n"
                                    "[family cnn]\nmodel = cnn-paper\nlr = 0.01, 0.001\n", &e);
    EXPECT(rc == HIPID_OK, "nested: %s", e.msg);
    if (rc) return;
    Trial *t = NULL;
    int n = 0;
    EXPECT(job_expand(&t, &n, &j, 0, &e) == HIPID_OK, "expand: %s", e.msg);
    EXPECT(n == 2 * 3 * 3 * 2, "nested: %d trials, expected 36", n);
    int ok = 1, i = 0;
    for (int c = 0; c < 2; c++)
        for (int o = 0; o < 3; o++)
            for (int in = 0; in < 3; in++)
                for (int s = 0; s < 2; s++, i++)
                    ok &= i < n && t[i].id == i && t[i].config == c && t[i].repeat == 0 && t[i].outer == o &&
                          t[i].inner == (in < 2 ? in : -1) && t[i].seed == (uint64_t)(4 + s);
    EXPECT(ok, "nested trials are not ordered config, outer, inner (outer trial last), seed");
    char label[64];
    job_trial_label(label, sizeof label, &j, &t[2]);
    EXPECT(strcmp(label, "cnn c0 r0 f0 i1 s4") == 0, "label '%s'", label);
    job_trial_label(label, sizeof label, &j, &t[n - 1]);
    EXPECT(strcmp(label, "cnn c1 r0 f2 s5") == 0, "label '%s'", label);
    EXPECT(j.families[0].configs[0].opt.lr == 0.01f && j.families[0].configs[1].opt.lr == 0.001f,
           "grid order of lr");
    free(t);
    job_free(&j);

    rc = load(&j, "ho.ini", "[cv]\nscheme = holdout\nrepeats = 3\n[data]\npath = d\n[family a]\nmodel = dnn-paper\n", &e);
    EXPECT(rc == HIPID_OK, "holdout: %s", e.msg);
    if (rc) return;
    job_expand(&t, &n, &j, 0, &e);
    EXPECT(n == 3 && t[0].repeat == 0 && t[2].repeat == 2 && t[2].outer == 0 && t[2].inner == -1,
           "holdout repeats: %d trials", n);
    free(t);
    job_free(&j);
}

static void test_duplicate_families(void) {
    ErrBuf e = {{0}};
    Job j;
    Trial *t = NULL;
    int n = 0;
    int rc = load(&j, "dup.ini", "[data]\npath = d\n[family a]\nmodel = dnn-paper\nlr = 0.1, 0.01\n"
                                 "[family b]\nmodel = dnn-paper\nlr = 0.01\nranks_per_trial = 1\n", &e);
    EXPECT(rc == HIPID_OK, "dup: %s", e.msg);
    if (rc) return;
    EXPECT(job_expand(&t, &n, &j, 0, &e) == HIPID_ERR && t == NULL && n == 0,
           "two families with the same configuration expanded");
    EXPECT(strstr(e.msg, ": [family b]: expected configurations distinct") &&
               strstr(e.msg, "configuration 0 equal to [family a] configuration 1"), "dup: '%s'", e.msg);
    free(t);
    job_free(&j);
}

/* ---- a family's own validation share ---- */

static void test_family_val(void) {
    const char *base = "[data]\npath = d\n[cv]\nk = 3\nval_fraction = 0.15\n"
                       "[family a]\nmodel = dnn-paper\npatience = 4\n"
                       "[family b]\nmodel = fl,fc8,r\n";
    char text[512];
    snprintf(text, sizeof text, "%sval_fraction = 0\n", base);
    JobPair p;
    if (load_pair(&p, "family val_fraction", base, text, 5) != HIPID_OK) return;
    const Job *j0 = &p.job[0], *j1 = &p.job[1];
    EXPECT(j0->families[0].val_fraction == 0.15 && j0->families[1].val_fraction == 0.15,
           "families without val_fraction take [cv]'s: %g %g", j0->families[0].val_fraction,
           j0->families[1].val_fraction);
    EXPECT(j1->val_fraction == 0.15 && j1->families[0].val_fraction == 0.15 && j1->families[1].val_fraction == 0,
           "[family b] val_fraction = 0: cv %g, a %g, b %g", j1->val_fraction, j1->families[0].val_fraction,
           j1->families[1].val_fraction);
    const Trial *t0 = p.t[0], *t1 = p.t[1];
    int n0 = p.n[0], n1 = p.n[1];
    EXPECT(n0 == 6 && n1 == 6, "trials %d %d, expected 6", n0, n1);
    for (int i = 0; i < n0 && i < n1; i++) {
        if (t0[i].family == 0)
            EXPECT(t0[i].hash == t1[i].hash, "trial %d of the family without the key changed its hash", i);
        else
            EXPECT(t0[i].hash != t1[i].hash, "trial %d: val_fraction 0.15 and 0 hash alike", i);
    }
    char key[4096];
    for (int i = 0; i < n1; i++)
        if (t1[i].family == 1) {
            job_trial_key(key, sizeof key, j1, &t1[i], 5);
            EXPECT(strstr(key, " val_fraction=0 "), "the trial key names the family's share: %s", key);
            break;
        }
    free_pair(&p);

    /* [cv] val_fraction = 0 with a family that has its own share and early stopping */
    ErrBuf e = {{0}};
    Job j;
    int rc = load(&j, "fv2.ini", "[data]\npath = d\n[cv]\nval_fraction = 0\n[family a]\nmodel = dnn-paper\n"
                                 "val_fraction = 0.2\npatience = 3\n", &e);
    EXPECT(rc == HIPID_OK, "a family's share with [cv] val_fraction = 0: %s", e.msg);
    if (rc == HIPID_OK) {
        EXPECT(j.families[0].val_fraction == 0.2, "family share %g", j.families[0].val_fraction);
        job_free(&j);
    }
}

/* ---- a family's subsample (subagging) ---- */

static void test_family_subsample(void) {
    const char *base = "[data]\npath = d\n[cv]\nk = 3\n"
                       "[family a]\nmodel = dnn-paper\n"
                       "[family b]\nmodel = fl,fc8,r\n";
    char text[512], whole[512];
    snprintf(text, sizeof text, "%ssubsample = 0.8\n", base);
    snprintf(whole, sizeof whole, "%ssubsample = 1\n", base);
    JobPair p, q;
    if (load_pair(&p, "family subsample", base, text, 5) != HIPID_OK) return;
    const Job *j0 = &p.job[0], *j1 = &p.job[1];
    EXPECT(j0->families[0].subsample == 1 && j0->families[1].subsample == 1 && j1->families[0].subsample == 1 &&
           j1->families[1].subsample == 0.8, "subsample: a %g b %g, then a %g b %g", j0->families[0].subsample,
           j0->families[1].subsample, j1->families[0].subsample, j1->families[1].subsample);
    for (int i = 0; i < p.n[0] && i < p.n[1]; i++) {
        if (p.t[0][i].family == 0)
            EXPECT(p.t[0][i].hash == p.t[1][i].hash, "trial %d of the family without subsample changed its hash", i);
        else
            EXPECT(p.t[0][i].hash != p.t[1][i].hash, "trial %d: subsample 0.8 and none hash alike", i);
    }
    char key[4096];
    for (int i = 0; i < p.n[1]; i++)
        if (p.t[1][i].family == 1) {
            job_trial_key(key, sizeof key, j1, &p.t[1][i], 5);
            EXPECT(strstr(key, "\nsubsample share=0.8\n"), "the trial key names the family's subsample: %s", key);
            break;
        }
    free_pair(&p);
    /* subsample = 1 is the whole training part: the same trials as without the key */
    if (load_pair(&q, "family subsample 1", base, whole, 5) != HIPID_OK) return;
    for (int i = 0; i < q.n[0] && i < q.n[1]; i++)
        EXPECT(q.t[0][i].hash == q.t[1][i].hash, "trial %d: subsample = 1 changed its hash", i);
    free_pair(&q);
}

/* ---- hashes ---- */

static const char *HASH_JOB =
    "[job]\nname = h%s\nseeds = 1, 2\n[data]\npath = d\n[cv]\nk = 3\n"
    "[family a]\nmodel = cnn-paper\nlr = %s\nbatch = 16\nmicro_batch = 8\n"
    "[run]\nthreads = %d\nranks_per_trial = 2\noutput = %s\nretries = %d\ncheckpoint_every = %d\n";

static int hashes(uint64_t *out, int cap, const char *name, const char *lr, int threads, const char *output,
                  int retries, uint64_t checksum) {
    char text[1024];
    snprintf(text, sizeof text, HASH_JOB, name, lr, threads, output, retries, threads);
    ErrBuf e = {{0}};
    Job j;
    Trial *t = NULL;
    int n = 0;
    if (load(&j, "hash.ini", text, &e) || job_expand(&t, &n, &j, checksum, &e)) {
        EXPECT(0, "hash job: %s", e.msg);
        job_free(&j);
        return 0;
    }
    for (int i = 0; i < n && i < cap; i++) out[i] = t[i].hash;
    free(t);
    job_free(&j);
    return n;
}

static int n_equal(const uint64_t *a, const uint64_t *b, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += a[i] == b[i];
    return k;
}

static void test_hashes(void) {
    uint64_t a[64], b[64];
    int n = hashes(a, 64, "x", "1e-3", 1, "out/a", 2, 0);
    EXPECT(n == 6, "hash job: %d trials, expected 6", n);
    int distinct = 1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < i; k++) distinct &= a[i] != a[k];
    EXPECT(distinct, "trials of one job share a hash");
    EXPECT(hashes(b, 64, "x", "1e-3", 1, "out/a", 2, 0) == n && n_equal(a, b, n) == n, "same job twice: hashes differ");
    EXPECT(hashes(b, 64, "y", "1e-3", 8, "elsewhere", 0, 0) == n && n_equal(a, b, n) == n,
           "[run] keys or the job name changed the hashes");
    EXPECT(hashes(b, 64, "x", "0.001", 1, "out/a", 2, 0) == n && n_equal(a, b, n) == n,
           "the same lr written differently changed the hashes");
    EXPECT(hashes(b, 64, "x", "2e-3", 1, "out/a", 2, 0) == n && n_equal(a, b, n) == 0, "changing lr kept hashes");
    EXPECT(hashes(b, 64, "x", "1e-3", 1, "out/a", 2, 99) == n && n_equal(a, b, n) == 0,
           "changing the data checksum kept hashes");

    /* a preset and its spec are the same network */
    ErrBuf e = {{0}};
    Job j1, j2;
    Trial *t1 = NULL, *t2 = NULL;
    int n1 = 0, n2 = 0;
    char spec_job[512];
    snprintf(spec_job, sizeof spec_job, "[data]\npath = d\n[family a]\nmodel = %s\n", "fl,fc512,r,do0.5,fc128,r");
    if (load(&j1, "h1.ini", "[data]\npath = d\n[family a]\nmodel = dnn-paper\n", &e) == HIPID_OK &&
        load(&j2, "h2.ini", spec_job, &e) == HIPID_OK) {
        job_expand(&t1, &n1, &j1, 0, &e);
        job_expand(&t2, &n2, &j2, 0, &e);
        EXPECT(n1 == n2 && n1 > 0 && t1[0].hash == t2[0].hash, "dnn-paper and its spec hash differently");
        char k1[4096];
        job_trial_key(k1, sizeof k1, &j1, &t1[0], 0);
        EXPECT(strstr(k1, "fl,fc512,r,do0.5,fc128,r") && !strstr(k1, "threads"), "trial key: %s", k1);
        free(t1);
        free(t2);
        job_free(&j1);
        job_free(&j2);
    } else {
        EXPECT(0, "preset/spec jobs: %s", e.msg);
    }

    /* tta = none is the key of a job written before tta; flip is another
     * trial; so are mixup and cutmix at 0 and above */
    const char *jobs[7] = {"[data]\npath = d\n[family a]\nmodel = dnn-paper\n",
                           "[data]\npath = d\n[family a]\nmodel = dnn-paper\ntta = none\n",
                           "[data]\npath = d\n[family a]\nmodel = dnn-paper\ntta = flip\n",
                           "[data]\npath = d\n[family a]\nmodel = dnn-paper\nmixup = 0\ncutmix = 0\n",
                           "[data]\npath = d\n[family a]\nmodel = dnn-paper\nmixup = 0.2\n",
                           "[data]\npath = d\n[family a]\nmodel = dnn-paper\ncutmix = 1\n",
                           "[data]\npath = d\n[family a]\nmodel = dnn-paper\nmixup = 0.2\ncutmix = 1\n"};
    char keys[7][4096];
    uint64_t h[7] = {0};
    for (int i = 0; i < 7; i++) {
        Job j;
        Trial *t = NULL;
        int nt = 0;
        keys[i][0] = '\0';
        if (load(&j, "keys.ini", jobs[i], &e) != HIPID_OK) {
            EXPECT(0, "key job %d: %s", i, e.msg);
            continue;
        }
        job_expand(&t, &nt, &j, 0, &e);
        if (nt > 0) {
            job_trial_key(keys[i], sizeof keys[i], &j, &t[0], 0);
            h[i] = t[0].hash;
        }
        free(t);
        job_free(&j);
    }
    EXPECT(strcmp(keys[0], keys[1]) == 0 && h[0] == h[1], "tta = none changed the trial key");
    EXPECT(strstr(keys[2], "\neval tta=flip\n") && h[2] != h[0], "tta = flip: key %s", keys[2]);
    EXPECT(strcmp(keys[0], keys[3]) == 0 && h[0] == h[3], "mixup = 0, cutmix = 0 changed the trial key");
    EXPECT(strstr(keys[4], "\nmix mixup=0.200000003 cutmix=0\n") && h[4] != h[0], "mixup = 0.2: key %s", keys[4]);
    EXPECT(strstr(keys[5], "\nmix mixup=0 cutmix=1\n") && h[5] != h[0] && h[5] != h[4], "cutmix = 1: key %s",
           keys[5]);
    EXPECT(h[6] != h[4] && h[6] != h[5] && h[6] != h[0], "mixup and cutmix: key %s", keys[6]);
}

/* ---- random search ---- */

static void test_random(void) {
    const char *text = "[data]\npath = d\n[search]\nmode = random\nsamples = 200\nseed = 3\n"
                       "[family a]\nmodel = cnn-paper\nlr = loguniform(1e-5, 1e-1)\nmomentum = uniform(0.5, 0.99)\n"
                       "dropout = uniform(0.1, 0.6)\nbatch = 16, 32, 64\naugment = none | default\n"
                       "[family b]\nmodel = dnn-paper\noptimizer = sgd, adam\nepochs = 5, 10\n";
    ErrBuf e = {{0}};
    Job j, j2;
    int rc = load(&j, "rand.ini", text, &e);
    EXPECT(rc == HIPID_OK, "random: %s", e.msg);
    if (rc) return;
    const Family *f = &j.families[0];
    EXPECT(f->n_configs == 200, "random: %d configs, expected 200", f->n_configs);
    int in_range = 1, below_mid = 0, n_batch[3] = {0}, n_aug = 0, do_ok = 1;
    for (int c = 0; c < f->n_configs; c++) {
        const HParams *h = &f->configs[c];
        in_range &= h->opt.lr >= 1e-5f && h->opt.lr <= 1e-1f && h->opt.momentum >= 0.5f &&
                    h->opt.momentum <= 0.99f && h->dropout >= 0.1f && h->dropout <= 0.6f;
        below_mid += h->opt.lr < 1e-3f; /* the log-midpoint */
        n_batch[h->batch == 16 ? 0 : h->batch == 32 ? 1 : 2]++;
        n_aug += !augment_is_identity(&h->aug);
        const char *d = strstr(h->model, ",do");
        do_ok &= d != NULL && strtof(d + 3, NULL) == h->dropout && strncmp(h->model, "c16", 3) == 0;
    }
    EXPECT(in_range, "random draws outside their ranges");
    /* a uniform draw on [1e-5, 1e-1] falls below 1e-3 with probability 1%;
     * a log-uniform one with probability 1/2 */
    EXPECT(below_mid > 70 && below_mid < 130, "loguniform: %d of 200 below the log-midpoint", below_mid);
    EXPECT(n_batch[0] > 40 && n_batch[1] > 40 && n_batch[2] > 40, "batch choices %d %d %d", n_batch[0], n_batch[1],
           n_batch[2]);
    EXPECT(n_aug > 70 && n_aug < 130, "augment choices: %d of 200 default", n_aug);
    EXPECT(do_ok, "dropout not written into the spec");
    /* family b: a 4-point grid with samples 200 gets the whole grid once */
    EXPECT(j.families[1].n_configs == 4, "small all-list family: %d configs, expected its 4-point grid",
           j.families[1].n_configs);
    rc = load(&j2, "rand.ini", text, &e);
    EXPECT(rc == HIPID_OK && j2.families[0].n_configs == 200 &&
               memcmp(j.families[0].configs, j2.families[0].configs, sizeof(HParams) * 200) == 0,
           "random search is not reproducible");
    if (rc == HIPID_OK) job_free(&j2);
    job_free(&j);

    /* all lists, grid larger than samples: drawn without replacement */
    rc = load(&j, "rand2.ini", "[data]\npath = d\n[search]\nmode = random\nsamples = 10\n"
                               "[family a]\nmodel = dnn-paper\nlr = 0.1, 0.01, 0.001\nepochs = 1, 2, 3, 4\n", &e);
    EXPECT(rc == HIPID_OK, "random lists: %s", e.msg);
    if (rc) return;
    int distinct = j.families[0].n_configs == 10;
    for (int a = 0; a < j.families[0].n_configs; a++)
        for (int b = 0; b < a; b++)
            distinct &= !(j.families[0].configs[a].opt.lr == j.families[0].configs[b].opt.lr &&
                          j.families[0].configs[a].epochs == j.families[0].configs[b].epochs);
    EXPECT(distinct, "random search over lists repeated a configuration");
    job_free(&j);
}

int main(void) {
    test_full();
    test_ensemble();
    test_family_data();
    test_data_steps();
    test_defaults();
    test_order();
    test_errors();
    test_trials();
    test_family_val();
    test_family_subsample();
    test_hashes();
    test_duplicate_families();
    test_random();
    return tu_exit_status();
}
