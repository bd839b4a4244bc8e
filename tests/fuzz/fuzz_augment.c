/* fuzz_augment.c: augmentation specs (augment_parse). A spec that parses
 * must format (augment_format) to a spec that reads back to the same config
 * (augment.h's promise; a difference aborts; identity configs format as
 * "none", which drops an unused fill=edge), and is applied to one 12x12
 * image, whose pixels must stay in [0,1]. */
#include "fuzz.h"

#include "hipid/train/augment.h"

/* Same ranges and fill (== on floats: a spec's -0 formats as nothing, 0). */
static int same_config(const AugConfig *a, const AugConfig *b) {
    return a->flip == b->flip && a->rot == b->rot && a->scale == b->scale && a->shift == b->shift &&
           a->bright == b->bright && a->contrast == b->contrast && a->gamma == b->gamma && a->noise == b->noise &&
           a->fill == b->fill;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *spec = fuzz_cstr(data, size);
    AugConfig cfg = augment_none(), back = augment_none();
    ErrBuf e = {{0}};
    if (fuzz_note(augment_parse(&cfg, spec, &e) == HIPID_OK, "augment_parse", e.msg)) {
        char canon[512];
        augment_format(canon, sizeof canon, &cfg);
        /* an identity config formats as "none", whatever its fill (no step reads it) */
        int ok = augment_parse(&back, canon, &e) == HIPID_OK;
        int same = augment_is_identity(&cfg) ? augment_is_identity(&back) : same_config(&cfg, &back);
        if (!ok || !same) {
            fprintf(stderr, "augment spec '%s' formats as '%s', which reads back differently (%s)\n", spec, canon,
                    e.msg);
            abort();
        }
        float src[144], dst[144];
        for (int i = 0; i < 144; i++) src[i] = (float)((i * 37) % 144) / 143.0f;
        augment_image(dst, src, 12, &cfg, 1, 2, 3, size);
        for (int i = 0; i < 144; i++)
            if (!(dst[i] >= 0.0f && dst[i] <= 1.0f)) {
                fprintf(stderr, "augment spec '%s': pixel %d is %g, outside [0,1]\n", spec, i, dst[i]);
                abort();
            }
    }
    free(spec);
    return 0;
}
