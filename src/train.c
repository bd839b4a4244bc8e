/* train.c: the single-process training loop. See train.h. */
#include "hipid/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/ops.h"
#include "hipid/rng.h"
#include "hipid/sample.h"

static int argmax_row(const float *z, int k) {
    int best = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > z[best]) best = j;
    return best;
}

void train_evaluate(float *loss, float *acc, Model *m, const Dataset *d, const int *idx, int n,
                    const float *class_w) {
    int K = m->n_classes, B = m->max_batch;
    long px = shape_size(m->in);
    float *x = xmalloc_f32((size_t)B * px);
    int *y = xmalloc(sizeof(int) * B);
    double loss_sum = 0.0, w_sum = 0.0;
    int correct = 0;
    for (int s = 0; s < n; s += B) {
        int nb = n - s < B ? n - s : B;
        dataset_gather_f32(x, d, idx + s, nb, m->input_mean, m->input_std);
        for (int i = 0; i < nb; i++) y[i] = d->labels[idx[s + i]];
        const float *z = model_forward(m, x, nb, 0);
        double wb = 0.0;
        for (int i = 0; i < nb; i++) wb += class_w ? class_w[y[i]] : 1.0;
        loss_sum += softmax_xent(NULL, NULL, z, y, class_w, nb, K) * wb;
        w_sum += wb;
        for (int i = 0; i < nb; i++) correct += argmax_row(z + (long)i * K, K) == y[i];
    }
    *loss = n > 0 ? (float)(loss_sum / w_sum) : NAN;
    *acc = n > 0 ? (float)correct / (float)n : NAN;
    free(x);
    free(y);
}

int train_run(Model **out_model, EpochStats *last, const Dataset *d, const int *train_idx,
              int n_train, const int *val_idx, int n_val, const TrainConfig *cfg, ErrBuf *e) {
    int B = cfg->batch, K = d->n_classes;
    *out_model = NULL;
    if (B < 1 || cfg->epochs < 1)
        return hipid_err(e, "--batch and --epochs must be at least 1, found %d and %d", B, cfg->epochs);
    if (B > n_train)
        return hipid_err(e, "--batch %d is larger than the training set (%d images); "
                            "use --batch %d or less", B, n_train, n_train);
    Model *m = model_create(cfg->model, (Shape){1, d->size, d->size}, K, B, cfg->threads,
                            cfg->seed, e);
    if (!m) return HIPID_ERR;
    /* standardise inputs with the training images' statistics (never the
     * validation's: that would leak); the checkpoint keeps them */
    if (cfg->standardize) dataset_pixel_stats(&m->input_mean, &m->input_std, d, train_idx, n_train);
    float *class_w = NULL;
    if (cfg->balance == TRAIN_BALANCE_LOSS) {
        class_w = xcalloc(K, sizeof(float));
        for (int i = 0; i < n_train; i++) class_w[d->labels[train_idx[i]]] += 1.0f;
        for (int c = 0; c < K; c++)
            class_w[c] = class_w[c] > 0 ? (float)n_train / ((float)K * class_w[c]) : 0.0f;
    }
    OptConfig oc = cfg->opt;
    oc.epochs = cfg->epochs;
    Optim *opt = optim_create(oc, m->n_params);
    long px = shape_size(m->in);
    float *x = xmalloc_f32((size_t)B * px), *dlogits = xmalloc_f32((size_t)B * K);
    int *y = xmalloc(sizeof(int) * B), *order = xmalloc(sizeof(int) * n_train);
    int rc = HIPID_OK;
    EpochStats st = {0};
    for (int epoch = 0; epoch < cfg->epochs; epoch++) {
        double t0 = now_seconds(), loss_sum = 0.0;
        int seen = 0, correct = 0;
        float lr = optim_lr_at(&oc, epoch);
        if (cfg->balance == TRAIN_BALANCE_SAMPLING) {
            sample_balanced_epoch(order, n_train, train_idx, n_train, d->labels, K, cfg->seed,
                                  (uint64_t)epoch);
        } else {
            memcpy(order, train_idx, sizeof(int) * n_train);
            Rng r = rng_stream(cfg->seed, 0x5E11u, (uint64_t)epoch, 0);
            rng_shuffle(&r, order, n_train);
        }
        for (int s = 0; s < n_train; s += B) {
            int nb = n_train - s < B ? n_train - s : B;
            if (nb < 2 && seen > 0) break; /* batch norm needs two samples: drop a lone last one */
            dataset_gather_f32(x, d, order + s, nb, 0.0f, 1.0f);
            augment_batch(x, x, order + s, nb, d->size, &cfg->aug, cfg->seed, cfg->trial,
                          (uint64_t)epoch, cfg->threads);
            for (long j = 0; j < (long)nb * px; j++) x[j] = (x[j] - m->input_mean) / m->input_std;
            for (int i = 0; i < nb; i++) y[i] = d->labels[order[s + i]];
            const float *z = model_forward(m, x, nb, 1);
            float loss = softmax_xent(dlogits, NULL, z, y, class_w, nb, K);
            if (!isfinite(loss)) {
                rc = hipid_err(e, "training loss became %s at epoch %d, batch %d (lr %g); "
                                  "lower --lr or check the data", isnan(loss) ? "NaN" : "infinite",
                               epoch + 1, s / B + 1, lr);
                goto done;
            }
            for (int i = 0; i < nb; i++) correct += argmax_row(z + (long)i * K, K) == y[i];
            model_zero_grads(m);
            model_backward(m, dlogits, nb);
            optim_step(opt, m->params, m->grads, lr);
            loss_sum += (double)loss * nb;
            seen += nb;
        }
        double dt = now_seconds() - t0;
        st.train_loss = (float)(loss_sum / seen);
        st.train_acc = (float)correct / (float)seen;
        st.img_per_s = (float)(seen / dt);
        train_evaluate(&st.val_loss, &st.val_acc, m, d, val_idx, n_val, class_w);
        if (cfg->log)
            fprintf(cfg->log, "epoch %3d/%d  lr %.3g  train loss %.4f acc %.4f  val loss %.4f acc %.4f  %.1f img/s\n",
                    epoch + 1, cfg->epochs, lr, st.train_loss, st.train_acc, st.val_loss, st.val_acc,
                    st.img_per_s);
    }
done:
    free(x);
    free(dlogits);
    free(y);
    free(order);
    free(class_w);
    optim_free(opt);
    if (rc != HIPID_OK) {
        model_free(m);
        return rc;
    }
    if (last) *last = st;
    *out_model = m;
    return HIPID_OK;
}
