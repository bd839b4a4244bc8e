/* fuzz_checkpoint.c: checkpoints (model_load). Variant 0 (first input byte
 * even): a small CNN with batch norm, max pool and dropout; variant 1 a
 * residual network. The rest of the input edits a copy (fuzz_h5_mutate); a
 * model that loads runs one forward pass. */
#include "fuzz.h"

#include "hipid/nn/model.h"

static uint8_t *base[2];
static size_t base_n[2];

static void make_base(void) {
    static const char *specs[2] = {"c4,bn,r,mp2,fl,do0.5,fc8", "c4,res4,res8s2,gap"};
    char path[128];
    for (int v = 0; v < 2; v++) {
        ErrBuf e = {{0}};
        Model *m = model_create(specs[v], (Shape){1, 8, 8}, 3, 2, 1, 5, &e);
        if (!m || model_save(m, fuzz_path(path, sizeof path, "base.h5"), &e) != HIPID_OK) {
            fprintf(stderr, "fuzz_checkpoint: %s\n", e.msg);
            abort();
        }
        model_free(m);
        base[v] = fuzz_read(path, &base_n[v]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!base[0]) make_base();
    FuzzIn in = {data, size, 0};
    char path[128];
    fuzz_h5_variant(path, sizeof path, &in, base, base_n, 2);
    ErrBuf e = {{0}};
    Model *m = model_load(path, 2, 1, &e);
    if (fuzz_note(m != NULL, "model_load", e.msg)) fuzz_forward_free(m);
    return 0;
}
