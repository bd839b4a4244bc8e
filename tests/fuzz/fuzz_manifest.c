/* fuzz_manifest.c: manifest CSVs (imgsrc_read_manifest), paths relative to
 * the harness's empty temporary folder (rows naming missing files are kept,
 * as for any manifest). */
#include "fuzz.h"

#include "hipid/data/imgsrc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[128];
    fuzz_write(fuzz_path(path, sizeof path, "manifest.csv"), data, size);
    ImageList l;
    ErrBuf e = {{0}};
    if (fuzz_note(imgsrc_read_manifest(&l, path, NULL, &e) == HIPID_OK, "imgsrc_read_manifest", e.msg)) {
        for (int i = 0; i < l.n; i++)
            if (l.labels[i] < 0 || l.labels[i] >= l.n_classes || !l.rel_paths[i] || !l.patient_ids[i]) abort();
    }
    imgsrc_free(&l);
    return 0;
}
