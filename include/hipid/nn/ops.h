/* ops.h: the numerical kernels of the engine, forward and backward.
 *
 * Plain functions: outputs first, then inputs, then sizes; the shape of every
 * tensor is written once next to its prototype. All tensors are float32, NCHW,
 * contiguous. Backward kernels ACCUMULATE (+=) into parameter gradients (dw, db,
 * dgamma, dbeta) and OVERWRITE input gradients (dinp).
 *
 * Threading: kernels that parallelise take n_threads and run an OpenMP team of
 * that size; OpenBLAS is always called single-threaded from inside the team, so
 * there is one thread pool. Results are bit-identical for a fixed n_threads.
 * Scratch buffers are owned by the caller (the model's workspace).
 *
 * Not here: layer bookkeeping (layers.c), shapes of whole models (model.c).
 */
#ifndef HIPID_OPS_H
#define HIPID_OPS_H

#include <stdint.h>

static inline int conv_out_size(int in, int k, int stride, int pad) {
    return (in + 2 * pad - k) / stride + 1;
}

/* col: (C*K*K, OH*OW) from img: (C,H,W). Zero padding P, stride S. */
void im2col(float *col, const float *img, int C, int H, int W, int K, int S, int P);
/* img (C,H,W) += col2im(col); the adjoint of im2col. */
void col2im_add(float *img, const float *col, int C, int H, int W, int K, int S, int P);

/* Floats of scratch that conv2d_forward/backward need for this shape. */
long conv2d_scratch_floats(int n_threads, int C, int H, int W, int OC, int K, int S);

/* out: (N,OC,OH,OW); inp: (N,C,H,W); w: (OC,C,K,K); b: (OC) or NULL.
 * Stride 1 with "same" padding runs a direct kernel; other cases im2col + sgemm.
 * scratch: conv2d_scratch_floats(n_threads, ...) floats. */
void conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                    float *scratch, int n_threads,
                    int N, int C, int H, int W, int OC, int K, int S, int P);
/* dinp: (N,C,H,W) or NULL (not needed for the first layer); dw += , db += .
 * dw NULL: the input gradient only (db is then ignored); a profiled pass
 * times the two gradients apart this way, and the sum is bit-identical.
 * scratch as for the forward; dw_scratch: n_threads * (OC*C*K*K + OC). */
void conv2d_backward(float *dinp, float *dw, float *db, const float *dout,
                     const float *inp, const float *w, float *scratch,
                     float *dw_scratch, int n_threads,
                     int N, int C, int H, int W, int OC, int K, int S, int P);

/* out: (N,n_out); inp: (N,n_in); w: (n_out,n_in) as torch.nn.Linear; b: (n_out). */
void dense_forward(float *out, const float *inp, const float *w, const float *b,
                   int n_threads, int N, int n_in, int n_out);
/* dinp: (N,n_in) or NULL; dw: (n_out,n_in) +=; db: (n_out) +=; dw NULL: the
 * input gradient only (db ignored). */
void dense_backward(float *dinp, float *dw, float *db, const float *dout,
                    const float *inp, const float *w, int n_threads, int N, int n_in, int n_out);

/* Elementwise over n floats. out may alias inp (in place). */
void relu_forward(float *out, const float *inp, long n, int n_threads);
/* dinp = dout * (out > 0); dinp may alias dout. */
void relu_backward(float *dinp, const float *dout, const float *out, long n, int n_threads);

/* Residual sum: out = max(out + skip, 0), n floats, in place (forward of a
 * residual block's final add and ReLU). */
void add_relu_forward(float *out, const float *skip, long n, int n_threads);
/* y += x over n floats (a gradient reaching a tensor along two paths). */
void add_inplace(float *y, const float *x, long n, int n_threads);

/* Max pool, window K, stride K, no padding (floor). out, argmax: (N,C,H/K,W/K);
 * argmax holds the flat index into the (H,W) plane of the first maximum. */
void maxpool_forward(float *out, int32_t *argmax, const float *inp,
                     int N, int C, int H, int W, int K, int n_threads);
void maxpool_backward(float *dinp, const float *dout, const int32_t *argmax,
                      int N, int C, int H, int W, int K, int n_threads);

/* Global average pool: out (N,C) from inp (N,C,HW). */
void gap_forward(float *out, const float *inp, int N, int C, int HW);
void gap_backward(float *dinp, const float *dout, int N, int C, int HW);

/* Batch norm over (N,C,HW): statistics per channel over N*HW values.
 * Training: uses batch statistics, stores mean and invstd (C) for backward and
 * updates running stats with PyTorch's convention:
 * run = (1-momentum)*run + momentum*batch, variance unbiased in the running
 * update and biased in the normalisation. */
void batchnorm_forward_train(float *out, float *mean, float *invstd,
                             float *run_mean, float *run_var, const float *inp,
                             const float *gamma, const float *beta,
                             int N, int C, int HW, float momentum, float eps, int n_threads);
void batchnorm_forward_eval(float *out, const float *inp, const float *run_mean,
                            const float *run_var, const float *gamma, const float *beta,
                            int N, int C, int HW, float eps, int n_threads);
/* dinp may be NULL (first layer): only dgamma and dbeta are accumulated. */
void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *inp, const float *mean, const float *invstd,
                        const float *gamma, int N, int C, int HW, int n_threads);

/* Backward of batchnorm_forward_eval (running statistics are constants):
 * dinp = dout * gamma / sqrt(run_var + eps); accumulates dgamma, dbeta.
 * dinp may be NULL. dinp may equal dout. */
void batchnorm_backward_eval(float *dinp, float *dgamma, float *dbeta, const float *dout,
                             const float *inp, const float *run_mean, const float *run_var,
                             const float *gamma, int N, int C, int HW, float eps, int n_threads);

/* Inverted dropout: out = inp * mask, mask holds 0 or 1/(1-p); NULL mask copies. */
void dropout_apply(float *out, const float *inp, const float *mask, long n);

/* Class probabilities of logits (N,K) into prob (N,K), computed in double
 * (max-shifted exp over their sum) and rounded to float once. */
void softmax_rows(float *prob, const float *logits, int N, int K);

/* Softmax cross-entropy, mean over the batch, weighted like
 * torch.nn.CrossEntropyLoss(weight=class_w): sum_i w[y_i] * nll_i / sum_i w[y_i].
 * logits: (N,K); labels: (N) in [0,K); class_w: (K) or NULL for all ones.
 * dlogits (N,K) receives d(loss)/d(logits), may be NULL. probs (N,K) may be NULL.
 * Returns the loss. */
float softmax_xent(float *dlogits, float *probs, const float *logits, const int *labels,
                   const float *class_w, int N, int K);
/* The same with label smoothing eps in [0, 1), as CrossEntropyLoss(weight,
 * label_smoothing=eps): sample i contributes (1 - eps) w[y_i] nll(y_i) +
 * eps / K sum_k w[k] nll(k), the sum divided by sum_i w[y_i]. eps 0 is
 * softmax_xent, bit for bit. */
float softmax_xent_ls(float *dlogits, float *probs, const float *logits, const int *labels,
                      const float *class_w, int N, int K, float eps);

#endif
