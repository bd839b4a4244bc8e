/* fuzz_prep.c: the `preprocessing` attribute's parser (prep_parse_describe).
 * A text that parses is described again (prep_describe); that description
 * must parse and describe to itself (a difference aborts). */
#include "fuzz.h"

#include "hipid/data/prep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = fuzz_cstr(data, size);
    PrepConfig c, c2;
    memset(&c, 0, sizeof c);
    memset(&c2, 0, sizeof c2);
    ErrBuf e = {{0}};
    if (fuzz_note(prep_parse_describe(&c, text, &e) == HIPID_OK, "prep_parse_describe", e.msg)) {
        char d1[2048], d2[2048];
        prep_describe(d1, sizeof d1, &c);
        if (prep_parse_describe(&c2, d1, &e) != HIPID_OK) {
            fprintf(stderr, "'%s' parses, but its description '%s' does not: %s\n", text, d1, e.msg);
            abort();
        }
        prep_describe(d2, sizeof d2, &c2);
        if (strcmp(d1, d2) != 0) {
            fprintf(stderr, "'%s' describes as '%s', which describes as '%s'\n", text, d1, d2);
            abort();
        }
    }
    free(text);
    return 0;
}
