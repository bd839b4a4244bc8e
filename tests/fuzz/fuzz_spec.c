/* fuzz_spec.c: model spec strings and presets (model_create), on a 1x32x32
 * and a 1x9x9 input; a model that builds runs one training forward and
 * backward of one image, so that wrong shapes show as bad reads or writes. */
#include "fuzz.h"

#include "hipid/nn/model.h"

static void one(const char *spec, Shape in) {
    ErrBuf e = {{0}};
    Model *m = model_create(spec, in, 3, 1, 1, 7, &e);
    if (!fuzz_note(m != NULL, "model_create", e.msg)) return;
    if (m->n_params < (1u << 22)) {
        float *x = calloc((size_t)shape_size(in), sizeof(float));
        float dl[3] = {0.5f, -0.25f, -0.25f};
        for (long i = 0; i < shape_size(in); i++) x[i] = (float)(i % 7) / 7.0f;
        model_zero_grads(m);
        model_forward(m, x, 1, 1);
        model_backward(m, dl, 1);
        model_forward(m, x, 1, 0);
        free(x);
    }
    model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *spec = fuzz_cstr(data, size);
    one(spec, (Shape){1, 32, 32});
    one(spec, (Shape){1, 9, 9});
    free(spec);
    return 0;
}
