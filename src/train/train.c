/* train.c: the training loop, on one rank or a group. See train.h. */
#include "hipid/train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/h5util.h"
#include "hipid/nn/ops.h"
#include "hipid/base/rng.h"
#include "hipid/train/sample.h"
#include "hipid/train/tta.h"

const char *const train_balance_names[] = {"none", "loss", "sampling", NULL};
const char *const train_sum_names[] = {"fixed32", "fixed64", NULL};

/* Fixed-point scales: gradients (already divided by the batch weight) to
 * 2^-40 (~1e-12, below a float ulp of any gradient that matters), running
 * statistics and losses to 2^-32. A value is accepted if a sum of `parts`
 * of them cannot overflow 2^62. */
#define FX_GRAD 0x1p40
#define FX_STAT 0x1p32
/* fixed32: the sum of every micro-batch of a step stays below 2^30, so no
 * partial sum on any rank can overflow 32 bits. */
#define FX32_SUM_LIMIT 0x1p30
/* A micro-batch gradient is divergence beyond 2^22 / parts (about 4e6 for
 * the whole batch), the limit fixed64's 2^62 / FX_GRAD sets, in both modes. */
#define GRAD_LIMIT (0x1p62 / FX_GRAD)
#define STATE_FORMAT "hipid-trial-state"
#define STATE_VERSION 1

static int argmax_row(const float *z, int k) {
    int best = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > z[best]) best = j;
    return best;
}

/* acc[i] += round(v[i] * scale); returns 0 if some value is not finite or
 * could overflow a sum of `parts` values. */
static int fx_add(int64_t *acc, const float *v, long n, double scale, int parts) {
    double lim = 0x1p62 / parts;
    int ok = 1;
    for (long i = 0; i < n; i++) {
        double x = (double)v[i] * scale;
        if (!(fabs(x) < lim)) {
            ok = 0;
            continue;
        }
        acc[i] += llrint(x);
    }
    return ok;
}

static void fx_get(float *v, const int64_t *acc, long n, double scale) {
    for (long i = 0; i < n; i++) v[i] = (float)((double)acc[i] / scale);
}

static int comm_rank(const TrainComm *c) { return c ? c->rank : 0; }
static int comm_size(const TrainComm *c) { return c ? c->size : 1; }

void train_logits(float *logits, Model *m, const Dataset *d, const int *idx, int n, int chunk, int tta,
                  const TrainComm *c) {
    int K = m->n_classes, rank = comm_rank(c), size = comm_size(c);
    HIPID_CHECK(chunk >= 1 && chunk <= m->max_batch);
    float *x = xmalloc_f32((size_t)chunk * shape_size(m->in)), *zt = xmalloc_f32((size_t)chunk * K);
    memset(logits, 0, sizeof(float) * (size_t)n * K);
    for (int s = 0, ci = 0; s < n; s += chunk, ci++) {
        if (ci % size != rank) continue;
        int nb = n - s < chunk ? n - s : chunk;
        dataset_gather_f32(x, d, idx + s, nb, m->input_mean, m->input_std);
        const float *z = tta_forward(zt, m, x, nb, tta);
        memcpy(logits + (long)s * K, z, sizeof(float) * (size_t)nb * K);
    }
    free(zt);
    free(x);
    /* every value comes from one rank, zeros from the rest: the sum is exact;
     * adding zero on a lone rank too makes -0 into +0 as the sum would */
    if (size > 1 && c->sum_f32) c->sum_f32(c->ctx, logits, (long)n * K);
    else
        for (long i = 0; i < (long)n * K; i++) logits[i] += 0.0f;
}

void train_score(float *loss, float *acc, const float *logits, const int32_t *labels, const int *idx,
                 int n, int K, const float *class_w) {
    double l = 0.0, w = 0.0;
    int correct = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (long)i * K;
        int y = labels[idx[i]];
        double mx = z[0], se = 0.0;
        for (int j = 1; j < K; j++) mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < K; j++) se += exp((double)z[j] - mx);
        double wi = class_w ? class_w[y] : 1.0;
        l += wi * (mx + log(se) - z[y]);
        w += wi;
        correct += argmax_row(z, K) == y;
    }
    *loss = n > 0 ? (float)(l / w) : NAN;
    *acc = n > 0 ? (float)correct / (float)n : NAN;
}

void train_evaluate(float *loss, float *acc, Model *m, const Dataset *d, const int *idx, int n,
                    const float *class_w) {
    float *z = xmalloc_f32((size_t)(n ? n : 1) * m->n_classes);
    train_logits(z, m, d, idx, n, m->max_batch, TTA_NONE, NULL);
    train_score(loss, acc, z, d->labels, idx, n, m->n_classes, class_w);
    free(z);
}

/* Where layer l's parameters (buffers) start in the model's blocks: the
 * first tensor of l or of a later layer; the block's end if none. */
static long layer_start(const Model *m, int l, int buffers) {
    for (; l < m->n_layers; l++)
        for (int k = 0; k < m->layers[l]->n_tensors; k++) {
            const TensorView *tv = &m->layers[l]->tensors[k];
            if (!buffers && tv->grad) return (long)(tv->data - m->params);
            if (buffers && !tv->grad) return (long)(tv->data - m->buffers);
        }
    return buffers ? (long)m->n_buffers : (long)m->n_params;
}

int train_init_from(Model *dst, const Model *src, const char *what, ErrBuf *e) {
    if (src->in.c != dst->in.c || src->in.h != dst->in.h || src->in.w != dst->in.w)
        return hipid_err(e, "%s: its model takes %dx%d images, the data are %dx%d", what, src->in.w, src->in.h,
                         dst->in.w, dst->in.h), -1;
    int copied = 0;
    for (int l = 0; l < dst->n_layers && l < src->n_layers; l++) {
        const Layer *a = dst->layers[l], *b = src->layers[l];
        int same = strcmp(a->label, b->label) == 0 && a->n_tensors == b->n_tensors;
        for (int k = 0; same && k < a->n_tensors; k++) same = a->tensors[k].size == b->tensors[k].size;
        if (!same) continue;
        for (int k = 0; k < a->n_tensors; k++)
            memcpy(a->tensors[k].data, b->tensors[k].data, sizeof(float) * a->tensors[k].size);
        copied += a->n_tensors > 0;
    }
    char cut[128];
    if (copied == 0)
        return hipid_err(e, "%s: no layer with weights matches the model (%s)", what,
                         str_cut(cut, sizeof cut, src->spec)), -1;
    return copied;
}

/* The optimiser's groups: the frozen layers at factor 0, the classifier at
 * head_lr / lr; the frozen layers' buffers kept to be put back. */
static void set_groups(Trainer *t) {
    const Model *m = t->m;
    long frozen = layer_start(m, t->cfg.freeze, 0), head = layer_start(m, m->n_layers - 1, 0);
    if (frozen > 0) HIPID_CHECK(optim_set_group(t->opt, 0, (size_t)frozen, 0.0f) == 0);
    if (t->cfg.head_lr > 0.0f)
        HIPID_CHECK(optim_set_group(t->opt, (size_t)head, m->n_params, t->cfg.head_lr / t->cfg.opt.lr) == 0);
    t->n_frozen_buf = layer_start(m, t->cfg.freeze, 1);
    if (t->n_frozen_buf > 0) {
        t->frozen_buf = xmalloc_f32(t->n_frozen_buf);
        memcpy(t->frozen_buf, m->buffers, sizeof(float) * t->n_frozen_buf);
    }
}

Trainer *trainer_create(const TrainConfig *cfg, const Dataset *d, const int *train_idx, int n_train,
                        const int *val_idx, int n_val, ErrBuf *e) {
    int B = cfg->batch, K = d->n_classes;
    if (B < 1 || cfg->epochs < 1) {
        hipid_err(e, "--batch and --epochs must be at least 1, found %d and %d", B, cfg->epochs);
        return NULL;
    }
    if (n_train == 0) {
        hipid_err(e, "the training set is empty (0 images; %d for validation): nothing to train on", n_val);
        return NULL;
    }
    if (B > n_train) {
        hipid_err(e, "--batch %d is larger than the training set (%d images); use --batch %d or less", B,
                  n_train, n_train);
        return NULL;
    }
    if (!(cfg->opt.lr > 0.0f && cfg->opt.lr <= (float)TRAIN_MAX_LR) ||
        !(cfg->head_lr >= 0.0f && cfg->head_lr <= (float)TRAIN_MAX_LR)) {
        hipid_err(e, "lr %g, head_lr %g: expected a learning rate in (0, %g] (head_lr 0: lr)", (double)cfg->opt.lr,
                  (double)cfg->head_lr, TRAIN_MAX_LR);
        return NULL;
    }
    if (cfg->micro_batch < 0 || (cfg->micro_batch > 0 && (cfg->micro_batch < 2 || B % cfg->micro_batch))) {
        hipid_err(e, "micro_batch %d must be 0 or a divisor of batch %d of at least 2", cfg->micro_batch, B);
        return NULL;
    }
    /* everything below at once: the model at the whole batch, the
     * optimiser's state (SGD one copy of the parameters, Adam two) and the
     * best weights */
    Shape in = {1, d->size, d->size};
    if (model_check_memory(cfg->model, in, K, B, cfg->threads, (cfg->opt.kind == OPT_SGD ? 1 : 2) + 1, NULL, e))
        return NULL;
    Model *m = model_create(cfg->model, in, K, B, cfg->threads, cfg->seed, e);
    if (!m) return NULL;
    if (cfg->freeze < 0 || cfg->freeze >= m->n_layers) {
        hipid_err(e, "freeze %d: expected 0 to %d (the model has %d layers; the classifier always trains)",
                  cfg->freeze, m->n_layers - 1, m->n_layers);
        model_free(m);
        return NULL;
    }
    if (cfg->init && train_init_from(m, cfg->init, "init", e) < 0) {
        model_free(m);
        return NULL;
    }
    Trainer *t = xcalloc(1, sizeof *t);
    t->cfg = *cfg;
    t->d = d;
    t->m = m;
    t->n_train = n_train;
    t->n_val = n_val;
    t->train_idx = xmalloc(sizeof(int) * (n_train ? n_train : 1));
    t->val_idx = xmalloc(sizeof(int) * (n_val ? n_val : 1));
    memcpy(t->train_idx, train_idx, sizeof(int) * n_train);
    if (n_val) memcpy(t->val_idx, val_idx, sizeof(int) * n_val);
    /* standardise with the training images' statistics (never the
     * validation's: that would leak); the model keeps them */
    if (cfg->standardize) dataset_pixel_stats(&m->input_mean, &m->input_std, d, train_idx, n_train);
    if (cfg->balance == TRAIN_BALANCE_LOSS) {
        t->class_w = xcalloc(K, sizeof(float));
        for (int i = 0; i < n_train; i++) t->class_w[d->labels[train_idx[i]]] += 1.0f;
        for (int c = 0; c < K; c++)
            t->class_w[c] = t->class_w[c] > 0 ? (float)n_train / ((float)K * t->class_w[c]) : 0.0f;
    }
    OptConfig oc = cfg->opt;
    oc.epochs = cfg->epochs;
    t->cfg.opt = oc;
    t->opt = optim_create(oc, m->n_params);
    t->opt->n_threads = cfg->threads;
    set_groups(t);
    t->best_val_loss = INFINITY;
    t->best_params = xmalloc_f32(m->n_params);
    t->best_buffers = xmalloc_f32(m->n_buffers ? m->n_buffers : 1);
    t->hist = xcalloc(cfg->epochs, sizeof(EpochRecord));
    return t;
}

void trainer_free(Trainer *t) {
    if (!t) return;
    model_free(t->m);
    optim_free(t->opt);
    free(t->train_idx);
    free(t->val_idx);
    free(t->class_w);
    free(t->best_params);
    free(t->best_buffers);
    free(t->frozen_buf);
    free(t->hist);
    free(t);
}

void trainer_use_best(Trainer *t) {
    if (t->n_val == 0 || t->best_epoch == 0) return;
    memcpy(t->m->params, t->best_params, sizeof(float) * t->m->n_params);
    if (t->m->n_buffers) memcpy(t->m->buffers, t->best_buffers, sizeof(float) * t->m->n_buffers);
}

/* The epoch's sample order, a pure function of (seed, epoch). */
static void epoch_order(int *order, const Trainer *t) {
    const TrainConfig *cfg = &t->cfg;
    if (cfg->balance == TRAIN_BALANCE_SAMPLING) {
        sample_balanced_epoch(order, t->n_train, t->train_idx, t->n_train, t->d->labels, t->d->n_classes,
                              cfg->seed, (uint64_t)t->epoch);
    } else {
        memcpy(order, t->train_idx, sizeof(int) * t->n_train);
        Rng r = rng_stream(cfg->seed, 0x5E11u, (uint64_t)t->epoch, 0);
        rng_shuffle(&r, order, t->n_train);
    }
}

/* Scratch of one step. */
typedef struct {
    float *x, *dlogits, *buf0;
    int *y;
    /* mixing (mix.h): the partners' images, labels, data-set indices, batch
     * positions, and the second loss term's gradient; NULL without */
    float *xp, *dtmp;
    int *yp, *pidx, *partner;
    int64_t *acc;   /* micro-batches: [n_params if fixed64] + n_buffers + 3 (loss, correct, bad) */
    int64_t small[3];
    /* fixed32 (see train.h) */
    float *mb;      /* this rank's micro-batch gradients, (micro-batches per rank, n_params) */
    int32_t *acc32; /* (n_params) */
    int n_t;        /* parameter tensors */
    long *t_off, *t_len;
    float *t_max;   /* (n_t + 1): each tensor's largest magnitude, then the divergence flag */
    double *t_scale;/* (n_t) */
} StepScratch;

/* The parameter tensors of m as (offset, length) into its gradient block. */
static void scratch_tensors(StepScratch *sc, const Model *m) {
    int n = 0;
    for (int l = 0; l < m->n_layers; l++) n += m->layers[l]->n_tensors;
    sc->t_off = xmalloc(sizeof(long) * (n ? n : 1));
    sc->t_len = xmalloc(sizeof(long) * (n ? n : 1));
    sc->t_max = xmalloc_f32((size_t)n + 1);
    sc->t_scale = xmalloc(sizeof(double) * (n ? n : 1));
    long covered = 0;
    sc->n_t = 0;
    for (int l = 0; l < m->n_layers; l++)
        for (int k = 0; k < m->layers[l]->n_tensors; k++) {
            const TensorView *tv = &m->layers[l]->tensors[k];
            if (!tv->grad) continue;
            sc->t_off[sc->n_t] = (long)(tv->grad - m->grads);
            sc->t_len[sc->n_t++] = tv->size;
            covered += tv->size;
        }
    HIPID_CHECK(covered == (long)m->n_params);
}

/* fixed32: the step's gradient into `grads` from this rank's n_local stored
 * micro-batch gradients, S micro-batches in the step over all ranks. `bad`
 * is this rank's divergence flag so far. Returns 1 (on every rank) if some
 * rank diverged, else 0. The collectives: a max over n_t + 1 floats, then
 * a sum over n_params 32-bit integers. */
static int sum_fixed32(float *grads, StepScratch *sc, long np, int n_local, int S, int bad, const TrainComm *c) {
    int nt = sc->n_t;
    float lim = (float)(GRAD_LIMIT / S);
    for (int t = 0; t < nt; t++) {
        float mx = 0.0f;
        for (int k = 0; k < n_local; k++) {
            const float *g = sc->mb + k * np + sc->t_off[t];
            for (long i = 0; i < sc->t_len[t]; i++) {
                float a = fabsf(g[i]);
                if (!(a < lim)) bad = 1; /* NaN too */
                else if (a > mx) mx = a;
            }
        }
        sc->t_max[t] = mx;
    }
    sc->t_max[nt] = bad ? 1.0f : 0.0f;
    if (comm_size(c) > 1 && c->max_f32) c->max_f32(c->ctx, sc->t_max, nt + 1);
    if (sc->t_max[nt] != 0.0f) return 1;
    memset(sc->acc32, 0, sizeof(int32_t) * np);
    for (int t = 0; t < nt; t++) {
        /* the largest power of two with max * scale <= 2^30 / S; exact in double */
        double scale = 1.0;
        if (sc->t_max[t] > 0.0f) {
            int ex;
            frexp(FX32_SUM_LIMIT / S / (double)sc->t_max[t], &ex);
            scale = ldexp(1.0, ex - 1);
        }
        int32_t *a = sc->acc32 + sc->t_off[t];
        for (int k = 0; k < n_local; k++) {
            const float *g = sc->mb + k * np + sc->t_off[t];
            for (long i = 0; i < sc->t_len[t]; i++) a[i] += (int32_t)llrint((double)g[i] * scale);
        }
        sc->t_scale[t] = scale;
    }
    if (comm_size(c) > 1 && c->sum_i32) c->sum_i32(c->ctx, sc->acc32, np);
    for (int t = 0; t < nt; t++) {
        const int32_t *a = sc->acc32 + sc->t_off[t];
        float *g = grads + sc->t_off[t];
        double scale = sc->t_scale[t];
        for (long i = 0; i < sc->t_len[t]; i++) g[i] = (float)((double)a[i] / scale);
    }
    return 0;
}

/* One optimiser step on batch order[0..nb). Returns 0, or 1 if some
 * micro-batch produced a non-finite loss or an out-of-range gradient. */
static int train_step(Trainer *t, StepScratch *sc, const int *order, int nb, const TrainComm *c,
                      float lr) {
    Model *m = t->m;
    const TrainConfig *cfg = &t->cfg;
    const Dataset *d = t->d;
    int K = d->n_classes, ms = cfg->micro_batch;
    int rank = comm_rank(c), size = comm_size(c);
    int S = ms > 0 ? (nb / ms > 1 ? nb / ms : 1) : 1;
    int fixed = ms > 0, sum32 = fixed && cfg->gradient_sum == TRAIN_SUM_FIXED32;
    long px = shape_size(m->in), np = (long)m->n_params, nbuf = (long)m->n_buffers;
    long ngrad = fixed && !sum32 ? np : 0; /* gradients in the 64-bit sum */
    double W = 0.0;
    for (int i = 0; i < nb; i++) W += t->class_w ? t->class_w[d->labels[order[i]]] : 1.0;
    if (fixed) {
        memset(sc->acc, 0, sizeof(int64_t) * (ngrad + nbuf + 3));
        if (nbuf) memcpy(sc->buf0, m->buffers, sizeof(float) * nbuf);
    }
    int64_t *acc_loss = fixed ? sc->acc + ngrad + nbuf : sc->small, *acc_correct = acc_loss + 1,
            *acc_bad = acc_loss + 2;
    if (!fixed) memset(sc->small, 0, sizeof sc->small);
    MixStep mx;
    int mixing = mix_enabled(&cfg->mix);
    if (mixing) mix_draw(&mx, sc->partner, nb, &cfg->mix, d->size, cfg->seed, cfg->trial, t->step);
    int bad = 0, n_local = 0;
    for (int j = 0; j < S; j++) {
        if (j % size != rank) continue;
        int lo, hi;
        split_range(nb, j, S, &lo, &hi);
        int n = hi - lo;
        const int *ord = order + lo;
        dataset_gather_f32(sc->x, d, ord, n, 0.0f, 1.0f);
        augment_batch(sc->x, sc->x, ord, n, d->size, &cfg->aug, cfg->seed, cfg->trial,
                      (uint64_t)t->epoch, cfg->threads);
        double Wj = 0.0, Wp = 0.0;
        if (mixing) { /* the partners of this micro-batch's positions, augmented as their own */
            for (int i = 0; i < n; i++) {
                sc->pidx[i] = order[sc->partner[lo + i]];
                sc->yp[i] = d->labels[sc->pidx[i]];
                Wp += t->class_w ? t->class_w[sc->yp[i]] : 1.0;
            }
            dataset_gather_f32(sc->xp, d, sc->pidx, n, 0.0f, 1.0f);
            augment_batch(sc->xp, sc->xp, sc->pidx, n, d->size, &cfg->aug, cfg->seed, cfg->trial,
                          (uint64_t)t->epoch, cfg->threads);
            mix_images(sc->x, sc->xp, n, d->size, &mx);
        }
        for (long q = 0; q < (long)n * px; q++) sc->x[q] = (sc->x[q] - m->input_mean) / m->input_std;
        for (int i = 0; i < n; i++) {
            sc->y[i] = d->labels[ord[i]];
            Wj += t->class_w ? t->class_w[sc->y[i]] : 1.0;
        }
        if (fixed && nbuf) memcpy(m->buffers, sc->buf0, sizeof(float) * nbuf);
        m->step = t->step;
        m->sample_base = lo;
        const float *z = model_forward(m, sc->x, n, 1);
        /* each term's share of the batch-mean gradient; the partners' labels
         * are a permutation of the batch's, so both totals are W */
        float loss = mixing ? mix_xent(sc->dlogits, sc->dtmp, z, sc->y, sc->yp, t->class_w, n, K,
                                       cfg->label_smoothing, mx.lam, (float)(Wj / W), (float)(Wp / W))
                            : softmax_xent_ls(sc->dlogits, NULL, z, sc->y, t->class_w, n, K, cfg->label_smoothing);
        int correct = 0;
        for (int i = 0; i < n; i++) correct += argmax_row(z + (long)i * K, K) == sc->y[i];
        if (!isfinite(loss)) bad = 1;
        if (fixed && !mixing) { /* the micro-batch's share of the batch-mean gradient */
            float share = (float)(Wj / W);
            for (long q = 0; q < (long)n * K; q++) sc->dlogits[q] *= share;
        }
        model_zero_grads(m);
        model_backward(m, sc->dlogits, n);
        double lsum = (double)loss * n;
        if (sum32) {
            memcpy(sc->mb + (long)n_local++ * np, m->grads, sizeof(float) * np);
        } else if (fixed && !fx_add(sc->acc, m->grads, np, FX_GRAD, S)) {
            bad = 1;
        }
        if (fixed) {
            if (nbuf && !fx_add(sc->acc + ngrad, m->buffers, nbuf, FX_STAT, S)) bad = 1;
            if (isfinite(lsum) && fabs(lsum * FX_STAT) < 0x1p62 / S) *acc_loss += llrint(lsum * FX_STAT);
            else bad = 1;
        } else {
            *acc_loss = isfinite(lsum) && fabs(lsum * FX_STAT) < 0x1p62 ? llrint(lsum * FX_STAT) : 0;
        }
        *acc_correct += correct;
    }
    if (sum32) {
        if (sum_fixed32(m->grads, sc, np, n_local, S, bad, c)) return 1;
        bad = 0; /* every rank's flag was in the max */
    }
    *acc_bad = bad;
    if (fixed && size > 1 && c->sum_i64) c->sum_i64(c->ctx, sc->acc, ngrad + nbuf + 3);
    if (*acc_bad) return 1;
    if (fixed) {
        if (!sum32) fx_get(m->grads, sc->acc, np, FX_GRAD);
        if (nbuf) fx_get(m->buffers, sc->acc + ngrad, nbuf, FX_STAT * S);
    }
    optim_step(t->opt, m->params, m->grads, lr);
    if (t->n_frozen_buf) memcpy(m->buffers, t->frozen_buf, sizeof(float) * t->n_frozen_buf);
    t->step++;
    t->ep_loss_fx += *acc_loss;
    t->ep_correct += *acc_correct;
    t->ep_seen += nb;
    return 0;
}

/* End of an epoch: validation, history, early stopping. */
static void epoch_end(Trainer *t, const TrainComm *c, float lr) {
    Model *m = t->m;
    int K = t->d->n_classes;
    EpochRecord *r = &t->hist[t->n_hist++];
    r->epoch = t->epoch + 1;
    r->lr = lr;
    r->train_loss = (float)((double)t->ep_loss_fx / FX_STAT / (double)t->ep_seen);
    r->train_acc = (float)((double)t->ep_correct / (double)t->ep_seen);
    r->val_loss = r->val_acc = NAN;
    r->seconds = t->ep_seconds;
    if (t->n_val > 0) {
        float *z = xmalloc_f32((size_t)t->n_val * K);
        int chunk = t->cfg.micro_batch > 0 ? t->cfg.micro_batch : t->cfg.batch;
        train_logits(z, m, t->d, t->val_idx, t->n_val, chunk, TTA_NONE, c);
        train_score(&r->val_loss, &r->val_acc, z, t->d->labels, t->val_idx, t->n_val, K, t->class_w);
        free(z);
        if (r->val_loss < t->best_val_loss) {
            t->best_val_loss = r->val_loss;
            t->best_epoch = r->epoch;
            t->bad_epochs = 0;
            memcpy(t->best_params, m->params, sizeof(float) * m->n_params);
            if (m->n_buffers) memcpy(t->best_buffers, m->buffers, sizeof(float) * m->n_buffers);
        } else if (++t->bad_epochs >= t->cfg.patience && t->cfg.patience > 0) {
            t->stopped_early = 1;
        }
    } else {
        t->best_epoch = r->epoch;
    }
    if (t->cfg.log)
        fprintf(t->cfg.log, "epoch %3d/%d  lr %.3g  train loss %.4f acc %.4f  val loss %.4f acc %.4f  %.1f img/s\n",
                r->epoch, t->cfg.epochs, lr, r->train_loss, r->train_acc, r->val_loss, r->val_acc,
                t->ep_seconds > 0 ? t->ep_seen / t->ep_seconds : 0.0);
    t->epoch++;
    t->pos = 0;
    t->ep_loss_fx = t->ep_correct = t->ep_seen = 0;
    t->ep_seconds = 0.0;
}

int trainer_run(Trainer *t, const TrainComm *c, TrainPoll poll, TrainCheckpoint ckpt, void *ctx,
                int checkpoint_every, ErrBuf *e) {
    Model *m = t->m;
    int B = t->cfg.batch, K = t->d->n_classes;
    long np = (long)m->n_params, nbuf = (long)m->n_buffers;
    int ms = t->cfg.micro_batch, sum32 = ms > 0 && t->cfg.gradient_sum == TRAIN_SUM_FIXED32;
    StepScratch sc = {
        .x = xmalloc_f32((size_t)B * shape_size(m->in)),
        .dlogits = xmalloc_f32((size_t)B * K),
        .buf0 = xmalloc_f32(nbuf ? nbuf : 1),
        .y = xmalloc(sizeof(int) * B),
        .acc = ms > 0 ? xmalloc(sizeof(int64_t) * ((sum32 ? 0 : np) + nbuf + 3)) : NULL,
    };
    if (mix_enabled(&t->cfg.mix)) {
        sc.xp = xmalloc_f32((size_t)B * shape_size(m->in));
        sc.dtmp = xmalloc_f32((size_t)B * K);
        sc.yp = xmalloc(sizeof(int) * B);
        sc.pidx = xmalloc(sizeof(int) * B);
        sc.partner = xmalloc(sizeof(int) * B);
    }
    if (sum32) { /* a rank holds at most ceil(micro-batches per step / ranks) */
        int size = comm_size(c), per_rank = (B / ms + size - 1) / size;
        sc.mb = xmalloc_f32((size_t)per_rank * np);
        sc.acc32 = xmalloc(sizeof(int32_t) * (np ? np : 1));
        scratch_tensors(&sc, m);
    }
    int *order = xmalloc(sizeof(int) * t->n_train);
    int rc = TRAIN_DONE;
    while (t->epoch < t->cfg.epochs && !t->stopped_early && !(t->pause_at > 0 && t->epoch >= t->pause_at)) {
        float lr = optim_lr_at(&t->cfg.opt, t->epoch);
        epoch_order(order, t);
        while (t->pos < t->n_train) {
            int nb = t->n_train - t->pos < B ? t->n_train - t->pos : B;
            if (nb < 2 && t->ep_seen > 0) break; /* batch norm needs two samples: drop a lone last one */
            if (poll) {
                int want = poll(ctx);
                if (c && c->size > 1 && c->leader_flag) want = c->leader_flag(c->ctx, want);
                if (want) {
                    rc = TRAIN_STOPPED;
                    if (ckpt && ckpt(ctx, t, e) != HIPID_OK) rc = HIPID_ERR;
                    goto done;
                }
            }
            double t0 = now_seconds();
            int bad = train_step(t, &sc, order + t->pos, nb, c, lr);
            /* every rank computed the same verdict from the same sums; the
             * leader's is the one that counts all the same */
            if (c && c->size > 1 && c->leader_flag) bad = c->leader_flag(c->ctx, bad);
            if (bad) {
                rc = hipid_err(e, "training diverged at epoch %d, step %d (lr %g): the loss or a gradient "
                                  "is not finite or beyond +-4e6; lower the learning rate or check the data",
                               t->epoch + 1, t->pos / B + 1, lr);
                goto done;
            }
            t->ep_seconds += now_seconds() - t0;
            t->pos += nb;
        }
        epoch_end(t, c, lr);
        if (c && c->size > 1 && c->leader_flag) t->stopped_early = c->leader_flag(c->ctx, t->stopped_early);
        if (ckpt && checkpoint_every > 0 && t->epoch % checkpoint_every == 0 && t->epoch < t->cfg.epochs &&
            !t->stopped_early && ckpt(ctx, t, e) != HIPID_OK) {
            rc = HIPID_ERR;
            goto done;
        }
    }
done:
    free(sc.x);
    free(sc.dlogits);
    free(sc.buf0);
    free(sc.y);
    free(sc.xp);
    free(sc.dtmp);
    free(sc.yp);
    free(sc.pidx);
    free(sc.partner);
    free(sc.acc);
    free(sc.mb);
    free(sc.acc32);
    free(sc.t_off);
    free(sc.t_len);
    free(sc.t_max);
    free(sc.t_scale);
    free(order);
    return rc;
}

void trainer_last_stats(const Trainer *t, EpochStats *last) {
    memset(last, 0, sizeof *last);
    if (t->n_hist == 0) return;
    const EpochRecord *r = &t->hist[t->n_hist - 1];
    double secs = r->seconds > 0 ? r->seconds : 1e-9;
    *last = (EpochStats){r->train_loss, r->train_acc, r->val_loss, r->val_acc, (float)(t->n_train / secs)};
}

int train_run(Model **out_model, EpochStats *last, const Dataset *d, const int *train_idx,
              int n_train, const int *val_idx, int n_val, const TrainConfig *cfg, ErrBuf *e) {
    *out_model = NULL;
    Trainer *t = trainer_create(cfg, d, train_idx, n_train, val_idx, n_val, e);
    if (!t) return HIPID_ERR;
    if (trainer_run(t, NULL, NULL, NULL, NULL, 0, e) != TRAIN_DONE) {
        trainer_free(t);
        return HIPID_ERR;
    }
    if (last) trainer_last_stats(t, last);
    *out_model = t->m;
    t->m = NULL;
    trainer_free(t);
    return HIPID_OK;
}

/* ---- mid-trial checkpoints ---- */

int trainer_save_state(const Trainer *t, const char *path, const char *key, ErrBuf *e) {
    char tmp[4096];
    const Model *m = t->m;
    hid_t f = h5_create_versioned(tmp, sizeof tmp, path, STATE_FORMAT, STATE_VERSION, e);
    if (f < 0) return HIPID_ERR;
    int64_t prog[9] = {t->epoch, t->pos, (int64_t)t->step, t->ep_loss_fx, t->ep_correct, t->ep_seen,
                       t->best_epoch, t->bad_epochs, t->stopped_early};
    int64_t sizes[3] = {(int64_t)m->n_params, (int64_t)m->n_buffers, t->opt->t};
    double real[2] = {t->best_val_loss, t->ep_seconds};
    hsize_t np = m->n_params, nb = m->n_buffers ? m->n_buffers : 1, hd[2] = {(hsize_t)t->n_hist, 7};
    double *h = xmalloc(sizeof(double) * 7 * (t->n_hist ? t->n_hist : 1));
    for (int i = 0; i < t->n_hist; i++) {
        const EpochRecord *r = &t->hist[i];
        double row[7] = {r->epoch, r->lr, r->train_loss, r->train_acc, r->val_loss, r->val_acc, r->seconds};
        memcpy(h + 7 * i, row, sizeof row);
    }
    int ok = !(h5_attr_write_str(f, "key", key) ||
               h5_attr_write(f, "progress", H5T_STD_I64LE, H5T_NATIVE_INT64, prog, 9) ||
               h5_attr_write(f, "sizes", H5T_STD_I64LE, H5T_NATIVE_INT64, sizes, 3) ||
               h5_attr_write(f, "real", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, real, 2) ||
               h5_attr_write_double(f, "input_mean", m->input_mean) ||
               h5_attr_write_double(f, "input_std", m->input_std) ||
               h5_write_f32(f, "params", m->params, 1, &np) ||
               h5_write_f32(f, "buffers", m->n_buffers ? m->buffers : t->best_buffers, 1, &nb) ||
               h5_write_f32(f, "best_params", t->best_params, 1, &np) ||
               h5_write_f32(f, "best_buffers", t->best_buffers, 1, &nb) ||
               h5_write_f32(f, "opt_m", t->opt->m, 1, &np) ||
               (t->opt->v && h5_write_f32(f, "opt_v", t->opt->v, 1, &np)) ||
               h5_write(f, "history", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, h, 2, hd, 0));
    free(h);
    return h5_finish_versioned(f, ok, tmp, path, "training checkpoint", e);
}

int trainer_load_state(Trainer *t, const char *path, const char *key, ErrBuf *e) {
    Model *m = t->m;
    char fkey[4096] = "";
    int64_t prog[9], sizes[3];
    double real[2], mean = 0, std = 1;
    double *h = NULL;
    int rc = HIPID_ERR;
    hid_t f = h5_open_versioned(path, STATE_FORMAT, STATE_VERSION, "training checkpoint",
                                "delete it to start the training afresh", e);
    if (f < 0) return HIPID_ERR;
    if (h5_attr_read_str(f, "key", fkey, sizeof fkey) || strcmp(fkey, key) != 0) {
        hipid_err(e, "%s: checkpoint of another training configuration (options, data, split or initial weights); "
                     "delete it to start afresh", path);
        goto error;
    }
    if (h5_attr_read(f, "progress", H5T_NATIVE_INT64, prog, 9) ||
        h5_attr_read(f, "sizes", H5T_NATIVE_INT64, sizes, 3) ||
        h5_attr_read(f, "real", H5T_NATIVE_DOUBLE, real, 2) || h5_attr_read_double(f, "input_mean", &mean) ||
        h5_attr_read_double(f, "input_std", &std)) {
        hipid_err(e, "%s: training checkpoint lacks its progress attributes", path);
        goto error;
    }
    if (sizes[0] != (int64_t)m->n_params || sizes[1] != (int64_t)m->n_buffers || prog[0] < 0 ||
        prog[0] > t->cfg.epochs || prog[1] < 0 || prog[1] > t->n_train) {
        hipid_err(e, "%s: training checkpoint does not fit this model (%lld parameters, expected %zu)", path,
                  (long long)sizes[0], m->n_params);
        goto error;
    }
    hsize_t np = m->n_params, nb = m->n_buffers ? m->n_buffers : 1, hd[2] = {(hsize_t)prog[0], 7};
    h = xmalloc(sizeof(double) * 7 * (prog[0] ? prog[0] : 1));
    if (h5_read_f32(f, "params", m->params, 1, &np, path, e) ||
        h5_read_f32(f, "buffers", m->n_buffers ? m->buffers : t->best_buffers, 1, &nb, path, e) ||
        h5_read_f32(f, "best_params", t->best_params, 1, &np, path, e) ||
        h5_read_f32(f, "best_buffers", t->best_buffers, 1, &nb, path, e) ||
        h5_read_f32(f, "opt_m", t->opt->m, 1, &np, path, e) ||
        (t->opt->v && h5_read_f32(f, "opt_v", t->opt->v, 1, &np, path, e)) ||
        h5_read(f, "history", H5T_NATIVE_DOUBLE, h, 2, hd, path, e))
        goto error;
    t->epoch = (int)prog[0];
    t->pos = (int)prog[1];
    t->step = (uint64_t)prog[2];
    t->ep_loss_fx = prog[3];
    t->ep_correct = prog[4];
    t->ep_seen = prog[5];
    t->best_epoch = (int)prog[6];
    t->bad_epochs = (int)prog[7];
    t->stopped_early = (int)prog[8];
    t->opt->t = (long)sizes[2];
    t->best_val_loss = real[0];
    t->ep_seconds = real[1];
    m->input_mean = (float)mean;
    m->input_std = (float)std;
    t->n_hist = (int)prog[0];
    for (int i = 0; i < t->n_hist; i++) {
        const double *row = h + 7 * i;
        t->hist[i] = (EpochRecord){(int)row[0], (float)row[1], (float)row[2], (float)row[3],
                                   (float)row[4], (float)row[5], row[6]};
    }
    rc = HIPID_OK;
error:
    free(h);
    H5Fclose(f);
    return rc;
}
