/* test_gradsum.c: the exact micro-batch gradient sums of train.c against a
 * gradient the model computes directly.
 *
 * One SGD step (lr 1, no momentum, no decay) over the whole training set,
 * cut into micro-batches of 2 and 4, gives p1 = p0 - g. For a model without
 * batch norm or dropout the mean-loss gradient does not depend on how the
 * batch is cut, so g must match one float forward/backward over the whole
 * batch (the reference), for both fixed-point sums:
 *   fixed64  rounds each micro-batch at 2^-40: error far below float;
 *   fixed32  rounds at a per-tensor power of two that keeps the step's sum
 *            below 2^30, so each element is within (micro-batches) / 2^29
 *            of its tensor's largest micro-batch gradient; we allow 1e-5 of
 *            the tensor's largest gradient (a wrong scale or a lost
 *            micro-batch is off by far more).
 * Both must also give a p1 that a second run reproduces bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/data/dataset.h"
#include "hipid/nn/ops.h"
#include "hipid/train/train.h"
#include "testutil.h"

#define N 48
#define SZ 12
#define K 3
#define SPEC "fl,fc24,r,fc16,r"

static void make_data(Dataset *d) {
    dataset_alloc(d, N, SZ, K);
    Rng r = rng_stream(5, 0, 0, 0);
    for (int c = 0; c < K; c++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", c);
        d->class_names[c] = strdup(name);
    }
    for (int i = 0; i < N; i++) {
        d->labels[i] = i % K;
        for (int j = 0; j < SZ * SZ; j++) d->images[(long)i * SZ * SZ + j] = (uint8_t)rng_below(&r, 256);
    }
    snprintf(d->source, sizeof d->source, "random (test_gradsum)");
}

/* p1 - p0 after one step with micro-batches of ms and the given sum; p0 too. */
static float *one_step(const Dataset *d, const int *idx, int ms, int sum, float **p0_out, long *np_out) {
    TrainConfig cfg = {.model = SPEC, .epochs = 1, .batch = N, .threads = 1, .micro_batch = ms,
                       .gradient_sum = sum, .opt = optim_defaults(), .seed = 11, .standardize = 0};
    cfg.opt.kind = OPT_SGD;
    cfg.opt.lr = 1.0f;
    cfg.opt.momentum = 0.0f;
    cfg.opt.weight_decay = 0.0f;
    cfg.opt.sched = SCHED_CONSTANT;
    ErrBuf e = {{0}};
    Trainer *t = trainer_create(&cfg, d, idx, N, NULL, 0, &e);
    REQUIRE(t != NULL, "trainer_create: %s", e.msg);
    long np = (long)t->m->n_params;
    float *p0 = xmalloc_f32(np), *step = xmalloc_f32(np);
    memcpy(p0, t->m->params, sizeof(float) * np);
    REQUIRE(trainer_run(t, NULL, NULL, NULL, NULL, 0, &e) == TRAIN_DONE, "trainer_run: %s", e.msg);
    REQUIRE(t->step == 1, "one step expected, %llu taken", (unsigned long long)t->step);
    for (long i = 0; i < np; i++) step[i] = p0[i] - t->m->params[i];
    trainer_free(t);
    *p0_out = p0;
    *np_out = np;
    return step;
}

int main(void) {
    Dataset d = {0};
    make_data(&d);
    int idx[N];
    for (int i = 0; i < N; i++) idx[i] = i;

    /* the reference: one float forward/backward over all N images */
    ErrBuf e = {{0}};
    Model *m = model_create(SPEC, (Shape){1, SZ, SZ}, K, N, 1, 11, &e);
    REQUIRE(m != NULL, "model_create: %s", e.msg);
    float *x = xmalloc_f32((long)N * SZ * SZ), *dz = xmalloc_f32(N * K);
    int y[N];
    dataset_gather_f32(x, &d, idx, N, 0.0f, 1.0f);
    for (int i = 0; i < N; i++) y[i] = d.labels[i];
    const float *z = model_forward(m, x, N, 1);
    softmax_xent(dz, NULL, z, y, NULL, N, K);
    model_zero_grads(m);
    model_backward(m, dz, N);

    const char *names[] = {"fixed32", "fixed64"};
    for (int sum = 0; sum < 2; sum++)
        for (int ms = 2; ms <= 4; ms += 2) {
            float *p0, *p0b;
            long np, npb;
            float *g = one_step(&d, idx, ms, sum, &p0, &np);
            float *g2 = one_step(&d, idx, ms, sum, &p0b, &npb);
            REQUIRE(np == (long)m->n_params && memcmp(p0, m->params, sizeof(float) * np) == 0,
                    "%s: the trainer's initial weights are not the reference model's", names[sum]);
            EXPECT(memcmp(g, g2, sizeof(float) * np) == 0, "%s micro_batch %d: two runs differ", names[sum], ms);
            double worst = 0.0; /* error relative to the tensor's largest gradient */
            for (int l = 0; l < m->n_layers; l++)
                for (int k = 0; k < m->layers[l]->n_tensors; k++) {
                    const TensorView *tv = &m->layers[l]->tensors[k];
                    if (!tv->grad) continue;
                    long off = (long)(tv->grad - m->grads);
                    double big = 0.0, err = 0.0;
                    for (long i = 0; i < tv->size; i++) big = fmax(big, fabs(tv->grad[i]));
                    for (long i = 0; i < tv->size; i++) {
                        /* p0 - (p0 - g) in float adds up to an ulp of p0 */
                        double ulp = ldexp(1.0, -23) * fabs(p0[off + i]);
                        err = fmax(err, fabs((double)g[off + i] - tv->grad[i]) - ulp);
                    }
                    EXPECT(big > 0.0, "layer %d tensor %s: zero reference gradient", l, tv->name);
                    if (big > 0.0) worst = fmax(worst, err / big);
                }
            printf("max %s micro_batch %d: largest gradient error %.3g of its tensor's largest\n", names[sum], ms,
                   worst);
            EXPECT(worst <= 1e-5, "%s micro_batch %d: gradient off by %.3g of the tensor's largest", names[sum], ms,
                   worst);
            free(g), free(g2), free(p0), free(p0b);
        }
    free(x), free(dz);
    model_free(m);
    dataset_free(&d);
    return tu_exit_status();
}
