/* check_saliency.c: export the engine's saliency maps for tests/test_predict.py,
 * which recomputes them in PyTorch from the same weights.
 *
 * usage: check_saliency TRIAL.h5 DATA.h5 OUT.h5 ROW...
 * For each data-set row: the standardised input x (S,S) as predict feeds it,
 * the predicted class, the raw map (Grad-CAM grid (h,w), or |dz/dx| (S,S)
 * for dense-only models) and the final map (S,S), into OUT.h5 as
 * x (n,S,S), cls (n), raw (n,h,w), map (n,S,S) and attribute layer (the
 * Grad-CAM layer index, -1 = input gradient). Exits 1 on any error. */
#include <stdio.h>
#include <stdlib.h>

#include "hipid/data/dataset.h"
#include "hipid/base/h5util.h"
#include "hipid/nn/model.h"
#include "hipid/report/saliency.h"
#include "hipid/sweep/trialfile.h"
#include "testutil.h"

int main(int argc, char **argv) {
    ErrBuf e = {{0}};
    Dataset d = {0};
    if (argc < 5) {
        fprintf(stderr, "usage: check_saliency TRIAL.h5 DATA.h5 OUT.h5 ROW...\n");
        return 2;
    }
    Model *m = trialfile_load_model(argv[1], "best", 1, 2, &e);
    if (!m || dataset_load(&d, argv[2], &e) != HIPID_OK) {
        fprintf(stderr, "check_saliency: %s\n", e.msg);
        return 1;
    }
    int n = argc - 4, S = d.size, L = saliency_cam_layer(m);
    REQUIRE(m->in.h == S && m->in.w == S, "the trial's input %dx%d is not the data set's %dx%d", m->in.h, m->in.w,
            S, S);
    int h = L < 0 ? S : m->layers[L]->out.h, w = L < 0 ? S : m->layers[L]->out.w;
    float *x = xmalloc_f32((size_t)n * S * S), *raw = xmalloc_f32((size_t)n * h * w), *map = xmalloc_f32((size_t)n * S * S);
    int *cls = xmalloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) {
        int row = atoi(argv[4 + i]);
        REQUIRE(row >= 0 && row < d.n, "row %s is not in [0, %d)", argv[4 + i], d.n);
        float *xi = x + (long)i * S * S;
        dataset_gather_f32(xi, &d, &row, 1, m->input_mean, m->input_std);
        const float *z = model_forward(m, xi, 1, 0);
        cls[i] = 0;
        for (int k = 1; k < m->n_classes; k++)
            if (z[k] > z[cls[i]]) cls[i] = k;
        saliency_map(map + (long)i * S * S, raw + (long)i * h * w, m, xi, cls[i]);
    }
    char tmp[4096];
    hid_t f = h5_create_versioned(tmp, sizeof tmp, argv[3], "hipid-check-saliency", 1, &e);
    hsize_t dx[3] = {(hsize_t)n, (hsize_t)S, (hsize_t)S}, dr[3] = {(hsize_t)n, (hsize_t)h, (hsize_t)w},
            dc = (hsize_t)n;
    int ok = f >= 0 && h5_write_f32(f, "x", x, 3, dx) == HIPID_OK && h5_write_f32(f, "raw", raw, 3, dr) == HIPID_OK &&
             h5_write_f32(f, "map", map, 3, dx) == HIPID_OK &&
             h5_write(f, "cls", H5T_STD_I32LE, H5T_NATIVE_INT, cls, 1, &dc, 0) == HIPID_OK &&
             h5_attr_write_int(f, "layer", &L, 1) == HIPID_OK;
    int rc = f >= 0 && h5_finish_versioned(f, ok, tmp, argv[3], "saliency check file", &e) == HIPID_OK ? 0 : 1;
    if (rc) fprintf(stderr, "check_saliency: %s\n", e.msg);
    free(x);
    free(raw);
    free(map);
    free(cls);
    dataset_free(&d);
    model_free(m);
    return rc;
}
