/* fuzz_splits.c: splits files (split_load, against the data set they were
 * made from). Variants by the first input byte: kfold, nested, holdout and
 * group (repeated); the rest of the input edits a copy (fuzz_h5_mutate).
 * Splits that load must hold folds in [0,k), inner folds in [-1,inner_k)
 * and parts in {train,val,test}, else abort. */
#include "fuzz.h"

#include "hipid/data/split.h"

#define N 12
#define NV 4
static int32_t labels[N] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
static int32_t groups[N] = {0, 1, 0, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static uint8_t *base[NV];
static size_t base_n[NV];

static void make_base(void) {
    static const char *schemes[NV] = {"kfold", "nested", "holdout", "group"};
    char path[128];
    for (int v = 0; v < NV; v++) {
        Splits s;
        ErrBuf e = {{0}};
        memset(&s, 0, sizeof s);
        snprintf(s.scheme, sizeof s.scheme, "%s", schemes[v]);
        s.k = v == 2 ? 0 : 3;
        s.repeats = v == 3 ? 2 : 1;
        s.inner_k = v == 1 ? 2 : 0;
        s.seed = 3;
        s.fractions[0] = 0.5, s.fractions[1] = 0.25, s.fractions[2] = 0.25;
        snprintf(s.data_path, sizeof s.data_path, "data/set.h5");
        if (split_make(&s, labels, groups, N, 2, 1, NULL, &e) != HIPID_OK ||
            split_save(&s, fuzz_path(path, sizeof path, "base.h5"), &e) != HIPID_OK) {
            fprintf(stderr, "fuzz_splits: %s: %s\n", schemes[v], e.msg);
            abort();
        }
        split_free(&s);
        base[v] = fuzz_read(path, &base_n[v]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!base[0]) make_base();
    FuzzIn in = {data, size, 0};
    char path[128];
    fuzz_h5_variant(path, sizeof path, &in, base, base_n, NV);
    Splits s;
    memset(&s, 0, sizeof s);
    ErrBuf e = {{0}};
    if (fuzz_note(split_load(&s, path, labels, groups, N, &e) == HIPID_OK, "split_load", e.msg)) {
        int bad = s.n != N;
        for (long i = 0; !bad && s.fold_of && i < (long)s.repeats * N; i++)
            bad = s.fold_of[i] < 0 || s.fold_of[i] >= s.k;
        for (long i = 0; !bad && s.inner_fold_of && i < (long)s.repeats * s.k * N; i++)
            bad = s.inner_fold_of[i] < -1 || s.inner_fold_of[i] >= s.inner_k;
        for (int i = 0; !bad && s.part && i < N; i++) bad = s.part[i] < SPLIT_TRAIN || s.part[i] > SPLIT_TEST;
        if (bad || (!s.fold_of && !s.part)) {
            fprintf(stderr, "split_load accepted out-of-range assignments (%s, k %d, inner_k %d)\n", s.scheme, s.k,
                    s.inner_k);
            abort();
        }
    }
    split_free(&s);
    return 0;
}
