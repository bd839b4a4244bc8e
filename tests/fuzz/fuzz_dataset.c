/* fuzz_dataset.c: data-set files (dataset_load). Variant 0 (first input
 * byte even) is a full data set with the optional phash/dup_groups/skipped,
 * variant 1 one without them; the rest of the input edits a copy
 * (fuzz_h5_mutate). What loads must keep dataset_load's promises (labels in
 * [0,K), groups in [0,n)), else abort. dup_groups is not range-checked by
 * dataset_load (audit.c checks it before use). */
#include "fuzz.h"

#include "hipid/data/dataset.h"
#include "hipid/data/prep.h"

static uint8_t *base[2];
static size_t base_n[2];

static void make_base(void) {
    char path[128];
    for (int v = 0; v < 2; v++) {
        Dataset d;
        ErrBuf e = {{0}};
        dataset_alloc(&d, 6, 8, 2);
        for (int i = 0; i < 6 * 64; i++) d.images[i] = (uint8_t)(i * 7);
        char *cn[2] = {"stem a", "stem b"};
        for (int k = 0; k < 2; k++) d.class_names[k] = strdup(cn[k]);
        for (int i = 0; i < 6; i++) {
            char s[80];
            d.labels[i] = i % 2;
            d.groups[i] = i / 2 * 2;
            snprintf(s, sizeof s, "p%d", i / 2);
            d.patient_ids[i] = strdup(s);
            snprintf(s, sizeof s, "%s/%d.png", cn[i % 2], i);
            d.source_paths[i] = strdup(s);
            snprintf(s, sizeof s, "%064d", i);
            d.source_sha256[i] = strdup(s);
        }
        if (v == 0) {
            d.phash = calloc(6 * 4, sizeof(uint64_t));
            d.dup_groups = calloc(6, sizeof(int32_t));
            for (int i = 0; i < 6; i++) d.dup_groups[i] = i < 2 ? 0 : i;
            d.skipped = calloc(1, sizeof(char *));
            d.skipped[0] = strdup("x.png: unreadable");
            d.n_skipped = 1;
            d.dup_threshold = 10;
        }
        PrepConfig pc = prep_config_default(8);
        prep_describe(d.preprocessing, sizeof d.preprocessing, &pc);
        snprintf(d.source, sizeof d.source, "fuzz base %d", v);
        fuzz_path(path, sizeof path, "base.h5");
        if (dataset_save(&d, path, &e) != HIPID_OK) {
            fprintf(stderr, "fuzz_dataset: %s\n", e.msg);
            abort();
        }
        dataset_free(&d);
        base[v] = fuzz_read(path, &base_n[v]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!base[0]) make_base();
    FuzzIn in = {data, size, 0};
    char path[128];
    fuzz_h5_variant(path, sizeof path, &in, base, base_n, 2);
    Dataset d;
    memset(&d, 0, sizeof d);
    ErrBuf e = {{0}};
    if (fuzz_note(dataset_load(&d, path, &e) == HIPID_OK, "dataset_load", e.msg)) {
        for (int i = 0; i < d.n; i++) {
            if (d.labels[i] < 0 || d.labels[i] >= d.n_classes || d.groups[i] < 0 || d.groups[i] >= d.n) {
                fprintf(stderr, "dataset_load accepted row %d: label %d (K %d), group %d\n", i, d.labels[i],
                        d.n_classes, d.groups[i]);
                abort();
            }
        }
        for (int k = 0; k < d.n_classes; k++)
            if (!d.class_names[k]) abort();
        if (d.n > 0) {
            int idx[1] = {d.n - 1};
            float mean, std;
            dataset_pixel_stats(&mean, &std, &d, idx, 1);
            float *x = malloc(sizeof(float) * (size_t)d.size * d.size);
            dataset_gather_f32(x, &d, idx, 1, mean, std);
            free(x);
        }
    }
    dataset_free(&d);
    return 0;
}
