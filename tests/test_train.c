/* test_train.c: training end to end on a small generated data set.
 *
 * - both presets reach 100% training accuracy (eval mode) on 3 separable
 *   classes of 32x32 shapes (filled square, horizontal bar, vertical bar);
 * - the same seed twice gives bit-identical parameters and buffers;
 * - model_save then model_load gives bit-identical eval-mode logits;
 * - dataset_save then dataset_load gives the same images and labels;
 * - loading a truncated checkpoint, a non-checkpoint HDF5 file, a text file,
 *   a missing file and a checkpoint of another format version fails with a
 *   message naming the file (not a crash). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/data/dataset.h"
#include "hipid/base/h5util.h"
#include "hipid/train/train.h"
#include "testutil.h"

#define S 32

static void make_shapes(Dataset *d, int n) {
    dataset_alloc(d, n, S, 3);
    Rng r = rng_stream(42, 0, 0, 0);
    const char *names[3] = {"square", "hbar", "vbar"};
    for (int c = 0; c < 3; c++) d->class_names[c] = strdup(names[c]);
    for (int i = 0; i < n; i++) {
        int c = i % 3, x0 = 4 + (int)rng_below(&r, 12), y0 = 4 + (int)rng_below(&r, 12);
        uint8_t *img = d->images + (long)i * S * S;
        for (int j = 0; j < S * S; j++) img[j] = (uint8_t)rng_below(&r, 40); /* noise */
        int w = c == 0 ? 12 : c == 1 ? 16 : 4, h = c == 0 ? 12 : c == 1 ? 4 : 16;
        for (int y = y0; y < y0 + h && y < S; y++)
            for (int x = x0; x < x0 + w && x < S; x++) img[y * S + x] = (uint8_t)(200 + rng_below(&r, 56));
        d->labels[i] = c;
    }
    snprintf(d->source, sizeof d->source, "synth shapes (test_train)");
}

static TrainConfig config(const char *model, int epochs) {
    TrainConfig cfg = {.model = model, .epochs = epochs, .batch = 8, .threads = 2,
                       .opt = optim_defaults(), .seed = 7, .log = NULL, .standardize = 1};
    cfg.opt.lr = 0.01f;
    /* cosine decay lets the weights settle, so batch norm's running statistics
     * (used in eval mode, momentum 0.1) catch up with the batch statistics */
    cfg.opt.sched = SCHED_COSINE;
    return cfg;
}

static void train_preset(const Dataset *d, const int *idx, int n, const char *model, int epochs,
                         const char *tmp_ckpt) {
    ErrBuf e = {{0}};
    TrainConfig cfg = config(model, epochs);
    Model *a = NULL, *b = NULL;
    EpochStats st;
    double t0 = now_seconds();
    EXPECT(train_run(&a, &st, d, idx, n, NULL, 0, &cfg, &e) == HIPID_OK, "%s: train_run: %s", model, e.msg);
    if (!a) return;
    float loss, acc;
    train_evaluate(&loss, &acc, a, d, idx, n, NULL);
    printf("max %s train accuracy %.4f (eval mode, loss %.4f, %d epochs, %.1f s)\n", model, acc, loss,
           epochs, now_seconds() - t0);
    EXPECT(acc == 1.0f, "%s: training accuracy %.4f, expected 1", model, acc);

    /* same seed twice: bit-identical */
    EXPECT(train_run(&b, &st, d, idx, n, NULL, 0, &cfg, &e) == HIPID_OK, "%s: second run: %s", model, e.msg);
    if (b) {
        EXPECT(b->n_params == a->n_params &&
                   memcmp(a->params, b->params, sizeof(float) * a->n_params) == 0 &&
                   memcmp(a->buffers, b->buffers, sizeof(float) * a->n_buffers) == 0,
               "%s: two runs with the same seed differ", model);
        printf("info %s: same seed twice, parameters bit-identical: %s\n", model,
               memcmp(a->params, b->params, sizeof(float) * a->n_params) == 0 ? "yes" : "no");
        model_free(b);
    }

    /* save, load, identical eval logits */
    EXPECT(model_save(a, tmp_ckpt, &e) == HIPID_OK, "%s: model_save: %s", model, e.msg);
    Model *c = model_load(tmp_ckpt, 8, 2, &e);
    EXPECT(c != NULL, "%s: model_load: %s", model, e.msg);
    if (c) {
        float *x = xmalloc_f32(8 * S * S), *za = xmalloc_f32(8 * 3);
        dataset_gather_f32(x, d, idx, 8, 0.0f, 1.0f);
        memcpy(za, model_forward(a, x, 8, 0), sizeof(float) * 8 * 3);
        const float *zc = model_forward(c, x, 8, 0);
        EXPECT(memcmp(za, zc, sizeof(float) * 8 * 3) == 0, "%s: logits differ after save/load", model);
        EXPECT(strcmp(a->spec, c->spec) == 0, "%s: spec differs after load", model);
        free(x), free(za);
        model_free(c);
    }
    model_free(a);
}

static void expect_load_error(const char *path, const char *what) {
    ErrBuf e = {{0}};
    Model *m = model_load(path, 4, 1, &e);
    printf("info %s: %s\n", what, e.msg);
    EXPECT(m == NULL, "%s: model_load accepted %s", what, path);
    EXPECT(strstr(e.msg, path) != NULL, "%s: message does not name the file: '%s'", what, e.msg);
    model_free(m);
}

static void copy_prefix(const char *src, const char *dst, long n) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    REQUIRE(in && out, "cannot copy %s to %s", src, dst);
    for (long i = 0; i < n; i++) {
        int ch = fgetc(in);
        if (ch == EOF) break;
        fputc(ch, out);
    }
    fclose(in);
    fclose(out);
}

int main(void) {
    char ckpt[4096], path[4096], data_path[4096];
    Dataset d;
    int n = 60;
    make_shapes(&d, n);
    int *idx = xmalloc(sizeof(int) * n);
    for (int i = 0; i < n; i++) idx[i] = i;

    /* data set round trip */
    ErrBuf e = {{0}};
    tu_tmp_path(data_path, sizeof data_path, "train_shapes.h5");
    EXPECT(dataset_save(&d, data_path, &e) == HIPID_OK, "dataset_save: %s", e.msg);
    Dataset d2;
    EXPECT(dataset_load(&d2, data_path, &e) == HIPID_OK, "dataset_load of a saved data set: %s", e.msg);
    if (d2.n == n) {
        EXPECT(memcmp(d.images, d2.images, (size_t)n * S * S) == 0 &&
                   memcmp(d.labels, d2.labels, sizeof(int32_t) * n) == 0 &&
                   strcmp(d2.class_names[2], "vbar") == 0,
               "data set differs after save/load");
        dataset_free(&d2);
    }

    tu_tmp_path(ckpt, sizeof ckpt, "train_ckpt.h5");
    train_preset(&d, idx, n, "cnn-paper", 30, ckpt);
    train_preset(&d, idx, n, "dnn-paper", 15, ckpt);

    /* bad checkpoints */
    FILE *fp = fopen(ckpt, "rb");
    REQUIRE(fp, "cannot open the checkpoint %s", ckpt);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    tu_tmp_path(path, sizeof path, "ckpt_half.h5");
    copy_prefix(ckpt, path, size / 2);
    expect_load_error(path, "truncated checkpoint (half)");
    tu_tmp_path(path, sizeof path, "ckpt_head.h5");
    copy_prefix(ckpt, path, 600);
    expect_load_error(path, "truncated checkpoint (600 bytes)");
    expect_load_error(data_path, "non-checkpoint HDF5 file");
    tu_tmp_path(path, sizeof path, "not_hdf5.h5");
    fp = fopen(path, "w");
    fputs("this is not HDF5\n", fp);
    fclose(fp);
    expect_load_error(path, "text file");
    tu_tmp_path(path, sizeof path, "does_not_exist.h5");
    expect_load_error(path, "missing file");
    /* another format version */
    tu_tmp_path(path, sizeof path, "ckpt_v2.h5");
    copy_prefix(ckpt, path, size);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    int v2 = 2;
    REQUIRE(f >= 0 && H5Adelete(f, "format_version") >= 0 && h5_attr_write_int(f, "format_version", &v2, 1) == 0,
            "cannot set format_version 2 in %s", path);
    H5Fclose(f);
    expect_load_error(path, "format version 2");

    free(idx);
    dataset_free(&d);
    return tu_exit_status();
}
