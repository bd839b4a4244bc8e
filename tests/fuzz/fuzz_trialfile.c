/* fuzz_trialfile.c: trial files and the sweep index, through every reader
 * of trialfile.h. Variants by the first input byte: a done trial (weights,
 * history, predictions), a failed trial, and a sweep index, all written by
 * trialfile.c itself for a small job; the rest of the input edits a copy
 * (fuzz_h5_mutate). */
#include "fuzz.h"

#include "hipid/sweep/trialfile.h"

#define NV 3
static uint8_t *base[NV];
static size_t base_n[NV];
static uint64_t base_hash;

static const char job_text[] = "[job]\nname = fz\nseeds = 1\n[data]\npath = data/set.h5\n"
                               "[cv]\nscheme = kfold\nk = 2\nseed = 1\n"
                               "[family cnn]\nmodel = c4,r,mp2,fl\noptimizer = adam\nlr = 1e-3\n"
                               "batch = 4\nepochs = 3\naugment = default\n";

static void die(const char *what, const ErrBuf *e) {
    fprintf(stderr, "fuzz_trialfile: %s: %s\n", what, e->msg);
    abort();
}

static void make_base(void) {
    char path[128], tmp[1500], results[128];
    ErrBuf e = {{0}};
    Job job;
    Trial *plan = NULL;
    int n_plan = 0;
    fuzz_write(fuzz_path(path, sizeof path, "fz.ini"), job_text, sizeof job_text - 1);
    if (job_load(&job, path, &e) != HIPID_OK || job_expand(&plan, &n_plan, &job, 0x77, &e) != HIPID_OK)
        die("job", &e);
    base_hash = plan[0].hash;
    Dataset d;
    dataset_alloc(&d, 8, 8, 2);
    d.class_names[0] = strdup("a");
    d.class_names[1] = strdup("b");
    for (int i = 0; i < 8; i++) d.labels[i] = i % 2;
    snprintf(d.preprocessing, sizeof d.preprocessing, "grey8");
    Model *m = model_create(job.families[0].configs[0].model, (Shape){1, 8, 8}, 2, 2, 1, 1, &e);
    if (!m) die("model", &e);
    int train[4] = {0, 1, 2, 3}, val[2] = {4, 5}, test[2] = {6, 7};
    TrialParts parts = {train, val, test, 4, 2, 2};
    EpochRecord hist[3];
    memset(hist, 0, sizeof hist);
    for (int i = 0; i < 3; i++) hist[i] = (EpochRecord){.epoch = i + 1, .lr = 1e-3f, .train_loss = 0.7f,
                                                        .train_acc = 0.5f, .val_loss = 0.6f, .val_acc = 0.5f};
    Trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.n_hist = 3;
    tr.hist = hist;
    tr.best_epoch = 2;
    float logits[4] = {0.1f, 0.9f, 2.0f, -1.0f};
    TrialRecord r = {.job = &job, .t = &plan[0], .data_checksum = 0x77, .d = &d, .state = "done", .reason = "",
                     .attempts = 1, .ranks = 1, .threads = 1, .seconds = 1.5, .p = &parts, .tr = &tr,
                     .val_logits = logits, .test_logits = logits, .val_loss = 0.6f, .val_acc = 0.5f,
                     .test_loss = 0.6f, .test_acc = 0.5f};
    /* 0: done */
    fuzz_path(path, sizeof path, "base.h5");
    hid_t f = trialfile_create(tmp, sizeof tmp, path, &e);
    if (f < 0) die("create", &e);
    int ok = trialfile_write_weights(f, "last", m) == HIPID_OK && trialfile_write_weights(f, "best", m) == HIPID_OK &&
             trialfile_write_record(f, &r) == HIPID_OK;
    if (trialfile_finish(f, ok, tmp, path, &e) != HIPID_OK || !ok) die("done trial", &e);
    base[0] = fuzz_read(path, &base_n[0]);
    /* 1: failed */
    r.state = "failed", r.reason = "diverged", r.tr = NULL;
    if (trialfile_write_failed(path, &r, &e) != HIPID_OK) die("failed trial", &e);
    base[1] = fuzz_read(path, &base_n[1]);
    /* 2: the index */
    TrialSummary *sum = calloc((size_t)n_plan, sizeof *sum);
    sum[0].state = TRIAL_DONE, sum[0].attempts = 1, sum[0].test_acc = 0.5;
    if (n_plan > 1) sum[1].state = TRIAL_FAILED, snprintf(sum[1].reason, sizeof sum[1].reason, "diverged");
    double busy[2] = {1, 2}, elapsed[2] = {3, 4};
    fuzz_path(results, sizeof results, "");
    if (trialfile_write_index(results, &job, plan, sum, n_plan, "study text", busy, elapsed, 2, NULL, 0, &e) != HIPID_OK)
        die("index", &e);
    fuzz_path(path, sizeof path, "sweep.h5");
    base[2] = fuzz_read(path, &base_n[2]);
    remove(path);
    free(sum);
    model_free(m);
    dataset_free(&d);
    free(plan);
    job_free(&job);
}

static void read_trial(const char *path) {
    ErrBuf e = {{0}};
    TrialSummary s;
    trialfile_summary(&s, path, base_hash);
    trialfile_is_trial(path);
    hid_t f = trialfile_open(path, "fuzz", &e);
    if (fuzz_note(f >= 0, "trialfile_open", e.msg)) {
        TrialInfo info;
        trialfile_read_info(&info, f);
        char **names = NULL;
        int n = 0;
        if (fuzz_note(trialfile_read_class_names(&names, &n, f, path, &e) == HIPID_OK, "trialfile_read_class_names", e.msg)) strv_free(names, n);
        int Ks[2] = {2, info.n_classes};
        for (int j = 0; j < (info.n_classes != 2 && info.n_classes > 0 && info.n_classes <= 64 ? 2 : 1); j++) {
            TrialTest t;
            memset(&t, 0, sizeof t);
            if (fuzz_note(trialfile_read_test(&t, f, path, Ks[j], &e) == HIPID_OK, "trialfile_read_test", e.msg)) {
                for (int i = 0; i < t.n_test; i++)
                    if (t.test_label[i] < 0 || t.test_label[i] >= Ks[j] || t.test_index[i] < 0) {
                        fprintf(stderr, "trialfile_read_test accepted label %d / row %d\n", t.test_label[i],
                                t.test_index[i]);
                        abort();
                    }
            }
            trialfile_test_free(&t);
        }
        H5Fclose(f);
    }
    const char *which[2] = {"best", "last"};
    for (int j = 0; j < 2; j++) {
        Model *m = trialfile_load_model(path, which[j], 2, 1, &e);
        if (fuzz_note(m != NULL, "trialfile_load_model", e.msg)) fuzz_forward_free(m);
    }
}

static void read_index(const char *path) {
    ErrBuf e = {{0}};
    hid_t f = trialfile_open_index(path, "fuzz", &e);
    if (!fuzz_note(f >= 0, "trialfile_open_index", e.msg)) return;
    char study[512];
    trialfile_index_study(f, study, sizeof study);
    SweepIndex x;
    memset(&x, 0, sizeof x);
    if (fuzz_note(trialfile_read_index(&x, f, path, &e) == HIPID_OK, "trialfile_read_index", e.msg)) {
        for (int i = 0; i < x.n; i++)
            if (!x.family[i] || !x.state[i] || !x.hash[i] || !x.label[i]) abort();
    }
    trialfile_index_free(&x);
    H5Fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!base[0]) make_base();
    FuzzIn in = {data, size, 0};
    char path[128];
    int v = fuzz_h5_variant(path, sizeof path, &in, base, base_n, NV);
    if (v == 2) read_index(path);
    else read_trial(path);
    return 0;
}
