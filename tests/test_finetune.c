/* test_finetune.c: starting from pretrained weights, frozen layers and the
 * classifier's own learning rate (train_init_from, TrainConfig.init, freeze,
 * head_lr; optim_set_group).
 *
 * - a model pretrained on 3 classes, saved and loaded back, initialises a
 *   model for 2 classes: every layer but the classifier gets its weights
 *   (bit for bit); the classifier keeps the seed's initialisation;
 * - after fine-tuning with freeze = 3, the first three layers' parameters and
 *   batch-norm running statistics are bit-identical to the pretrained ones,
 *   while the later layers and the classifier moved;
 * - optimiser groups equal separate optimisers over the slices with lr x
 *   factor (PyTorch's param_groups), for SGD with momentum and AdamW, and a
 *   factor 0 range does not move at all;
 * - errors: another input size, no matching layer, freeze out of range. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/data/dataset.h"
#include "hipid/train/train.h"
#include "testutil.h"

#define SZ 16
#define SPEC "c8,bn,r,mp2,c8,bn,r,gap"

static void make_data(Dataset *d, int n, int K, uint64_t seed) {
    dataset_alloc(d, n, SZ, K);
    Rng r = rng_stream(seed, 0, 0, 0);
    for (int c = 0; c < K; c++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", c);
        d->class_names[c] = strdup(name);
    }
    for (int i = 0; i < n; i++) {
        d->labels[i] = i % K;
        uint8_t *img = d->images + (long)i * SZ * SZ;
        for (int j = 0; j < SZ * SZ; j++) img[j] = (uint8_t)rng_below(&r, 60);
        int x0 = 2 + 4 * (i % K); /* a bright bar whose place is the class */
        for (int y = 2; y < SZ - 2; y++)
            for (int x = x0; x < x0 + 3; x++) img[y * SZ + x] = (uint8_t)(180 + rng_below(&r, 70));
    }
    snprintf(d->source, sizeof d->source, "bars (test_finetune)");
}

static TrainConfig config(int epochs) {
    TrainConfig c = {.model = SPEC, .epochs = epochs, .batch = 8, .threads = 1, .opt = optim_defaults(),
                     .seed = 3, .standardize = 1};
    c.opt.kind = OPT_ADAM;
    c.opt.lr = 0.01f;
    return c;
}

static int same_tensors(const Layer *a, const Layer *b) {
    if (a->n_tensors != b->n_tensors) return 0;
    for (int k = 0; k < a->n_tensors; k++)
        if (a->tensors[k].size != b->tensors[k].size ||
            memcmp(a->tensors[k].data, b->tensors[k].data, sizeof(float) * a->tensors[k].size) != 0)
            return 0;
    return 1;
}

static void check_groups(OptKind kind) {
    enum { N = 40 };
    OptConfig c = optim_defaults();
    c.kind = kind;
    c.weight_decay = 0.01f;
    Rng r = rng_stream(9, 1, 0, 0);
    float p[N], q[N], g[N];
    for (int i = 0; i < N; i++) p[i] = q[i] = rng_uniform(&r) - 0.5f;
    Optim *all = optim_create(c, N), *a = optim_create(c, 10), *b = optim_create(c, 20);
    REQUIRE(optim_set_group(all, 0, 10, 0.5f) == 0 && optim_set_group(all, 30, 40, 0.0f) == 0, "groups");
    EXPECT(optim_set_group(all, 5, 15, 1.0f) != 0, "an overlapping group is refused");
    float frozen[10];
    memcpy(frozen, p + 30, sizeof frozen);
    for (int step = 0; step < 5; step++) {
        for (int i = 0; i < N; i++) g[i] = rng_uniform(&r) - 0.5f;
        optim_step(all, p, g, 0.1f);
        optim_step(a, q, g, 0.05f);           /* [0, 10) at 0.1 x 0.5 */
        optim_step(b, q + 10, g + 10, 0.1f);  /* [10, 30) at factor 1 */
    }
    EXPECT(memcmp(p, q, sizeof(float) * 30) == 0, "%s: groups differ from separate optimisers",
           optim_kind_names[kind]);
    EXPECT(memcmp(p + 30, frozen, sizeof frozen) == 0, "%s: a factor-0 range moved", optim_kind_names[kind]);
    optim_free(all), optim_free(a), optim_free(b);
}

int main(void) {
    ErrBuf e = {{0}};
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s/finetune_pre.h5", getenv("TEST_TMP") ? getenv("TEST_TMP") : "/tmp");

    check_groups(OPT_SGD);
    check_groups(OPT_ADAMW);

    /* pretrain on 3 classes, save, load */
    Dataset pre = {0}, fine = {0};
    make_data(&pre, 48, 3, 1);
    make_data(&fine, 32, 2, 2);
    int idx[48];
    for (int i = 0; i < 48; i++) idx[i] = i;
    TrainConfig pc = config(3);
    Model *trained = NULL;
    EpochStats st;
    REQUIRE(train_run(&trained, &st, &pre, idx, 48, NULL, 0, &pc, &e) == HIPID_OK, "pretraining: %s", e.msg);
    REQUIRE(model_save(trained, ckpt, &e) == HIPID_OK, "model_save: %s", e.msg);
    Model *src = model_load(ckpt, 8, 1, &e);
    REQUIRE(src != NULL, "model_load: %s", e.msg);

    /* fine-tune on 2 classes, the first three layers frozen */
    TrainConfig fc = config(3);
    fc.init = src;
    fc.freeze = 3;
    fc.head_lr = 0.02f;
    Trainer *t = trainer_create(&fc, &fine, idx, 32, NULL, 0, &e);
    REQUIRE(t != NULL, "trainer_create with init: %s", e.msg);
    Model *m = t->m;
    int L = m->n_layers;
    REQUIRE(L == src->n_layers, "layers %d vs %d", L, src->n_layers);
    for (int l = 0; l < L - 1; l++) EXPECT(same_tensors(m->layers[l], src->layers[l]), "layer %d not copied", l);
    Model *fresh = model_create(SPEC, (Shape){1, SZ, SZ}, 2, 8, 1, fc.seed, &e);
    REQUIRE(fresh != NULL, "model_create: %s", e.msg);
    EXPECT(same_tensors(m->layers[L - 1], fresh->layers[L - 1]),
           "the 2-class classifier is not the seed's initialisation");
    REQUIRE(trainer_run(t, NULL, NULL, NULL, NULL, 0, &e) == TRAIN_DONE, "fine-tuning: %s", e.msg);
    for (int l = 0; l < 3; l++)
        EXPECT(same_tensors(m->layers[l], src->layers[l]), "frozen layer %d (%s) moved", l, m->layers[l]->label);
    EXPECT(!same_tensors(m->layers[4], src->layers[4]), "layer 4 (not frozen) did not train");
    EXPECT(!same_tensors(m->layers[5], src->layers[5]), "layer 5's batch norm (not frozen) did not change");
    EXPECT(!same_tensors(m->layers[L - 1], fresh->layers[L - 1]), "the classifier did not train");
    printf("info fine-tuned: %d layers, layers 0-2 frozen, classifier at lr %.3g\n", L, fc.head_lr);
    trainer_free(t);

    /* errors, each naming what was expected */
    Dataset big = {0};
    dataset_alloc(&big, 16, 2 * SZ, 2);
    for (int c = 0; c < 2; c++) big.class_names[c] = strdup(c ? "b" : "a");
    for (int i = 0; i < 16; i++) big.labels[i] = i % 2;
    Trainer *bad = trainer_create(&fc, &big, idx, 16, NULL, 0, &e);
    EXPECT(!bad && strstr(e.msg, "takes 16x16 images, the data are 32x32"), "other input size: '%s'", e.msg);
    trainer_free(bad);
    TrainConfig oc = fc;
    oc.model = "fl,fc12,r";
    oc.freeze = 0;
    bad = trainer_create(&oc, &fine, idx, 32, NULL, 0, &e);
    EXPECT(!bad && strstr(e.msg, "no layer with weights matches"), "unrelated model: '%s'", e.msg);
    trainer_free(bad);
    oc = fc;
    oc.freeze = L;
    bad = trainer_create(&oc, &fine, idx, 32, NULL, 0, &e);
    EXPECT(!bad && strstr(e.msg, "classifier always trains"), "freeze = all layers: '%s'", e.msg);
    trainer_free(bad);

    model_free(fresh), model_free(src), model_free(trained);
    dataset_free(&pre), dataset_free(&fine), dataset_free(&big);
    remove(ckpt);
    return tu_exit_status();
}
