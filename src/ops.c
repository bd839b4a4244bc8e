/* ops.c: numerical kernels. See ops.h for the contracts and shapes. */
#include "hipid/ops.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "hipid/common.h"

void im2col(float *col, const float *img, int C, int H, int W, int K, int S, int P) {
    int OH = conv_out_size(H, K, S, P), OW = conv_out_size(W, K, S, P);
    for (int c = 0; c < C; c++) {
        const float *src = img + (long)c * H * W;
        for (int kh = 0; kh < K; kh++) {
            for (int kw = 0; kw < K; kw++) {
                float *dst = col + ((long)(c * K + kh) * K + kw) * OH * OW;
                /* output columns whose input column stays inside [0,W) */
                int ow_lo = 0, ow_hi = OW;
                while (ow_lo < OW && ow_lo * S + kw - P < 0) ow_lo++;
                while (ow_hi > ow_lo && (ow_hi - 1) * S + kw - P >= W) ow_hi--;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * S + kh - P;
                    float *d = dst + (long)oh * OW;
                    if (ih < 0 || ih >= H) {
                        memset(d, 0, sizeof(float) * OW);
                        continue;
                    }
                    const float *s = src + (long)ih * W + kw - P;
                    for (int ow = 0; ow < ow_lo; ow++) d[ow] = 0.0f;
                    if (S == 1) {
                        memcpy(d + ow_lo, s + ow_lo, sizeof(float) * (ow_hi - ow_lo));
                    } else {
                        for (int ow = ow_lo; ow < ow_hi; ow++) d[ow] = s[ow * S];
                    }
                    for (int ow = ow_hi; ow < OW; ow++) d[ow] = 0.0f;
                }
            }
        }
    }
}

void col2im_add(float *img, const float *col, int C, int H, int W, int K, int S, int P) {
    int OH = conv_out_size(H, K, S, P), OW = conv_out_size(W, K, S, P);
    for (int c = 0; c < C; c++) {
        float *dst = img + (long)c * H * W;
        for (int kh = 0; kh < K; kh++) {
            for (int kw = 0; kw < K; kw++) {
                const float *src = col + ((long)(c * K + kh) * K + kw) * OH * OW;
                int ow_lo = 0, ow_hi = OW;
                while (ow_lo < OW && ow_lo * S + kw - P < 0) ow_lo++;
                while (ow_hi > ow_lo && (ow_hi - 1) * S + kw - P >= W) ow_hi--;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh * S + kh - P;
                    if (ih < 0 || ih >= H) continue;
                    float *d = dst + (long)ih * W + kw - P;
                    const float *s = src + (long)oh * OW;
                    if (S == 1) {
                        for (int ow = ow_lo; ow < ow_hi; ow++) d[ow] += s[ow];
                    } else {
                        for (int ow = ow_lo; ow < ow_hi; ow++) d[ow * S] += s[ow];
                    }
                }
            }
        }
    }
}

/* Direct 3x3-or-larger convolution for one input channel (C == 1), where
 * im2col + GEMM has a reduction of only K*K and runs far below peak.
 * out: (OC,OH,OW) for one image; stride 1 only. */
static void conv_c1_forward(float *out, const float *img, const float *w, const float *b,
                            int H, int W, int OC, int K, int P) {
    int OH = conv_out_size(H, K, 1, P), OW = conv_out_size(W, K, 1, P);
    for (int oc = 0; oc < OC; oc++) {
        float *o = out + (long)oc * OH * OW;
        float bias = b ? b[oc] : 0.0f;
        for (long i = 0; i < (long)OH * OW; i++) o[i] = bias;
        for (int kh = 0; kh < K; kh++) {
            for (int kw = 0; kw < K; kw++) {
                float wv = w[((long)oc * K + kh) * K + kw];
                int ow_lo = 0, ow_hi = OW;
                while (ow_lo < OW && ow_lo + kw - P < 0) ow_lo++;
                while (ow_hi > ow_lo && ow_hi - 1 + kw - P >= W) ow_hi--;
                for (int oh = 0; oh < OH; oh++) {
                    int ih = oh + kh - P;
                    if (ih < 0 || ih >= H) continue;
                    const float *s = img + (long)ih * W + kw - P;
                    float *d = o + (long)oh * OW;
#pragma omp simd
                    for (int ow = ow_lo; ow < ow_hi; ow++) d[ow] += wv * s[ow];
                }
            }
        }
    }
}

void conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                    float *col_scratch, int n_threads,
                    int N, int C, int H, int W, int OC, int K, int S, int P) {
    int OH = conv_out_size(H, K, S, P), OW = conv_out_size(W, K, S, P);
    long ohw = (long)OH * OW, ckk = (long)C * K * K;
#pragma omp parallel num_threads(n_threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads(), lo, hi;
        split_range(N, t, nt, &lo, &hi);
        float *col = col_scratch + (long)t * ckk * ohw;
        for (int n = lo; n < hi; n++) {
            const float *x = inp + (long)n * C * H * W;
            float *y = out + (long)n * OC * ohw;
            if (C == 1 && S == 1) {
                conv_c1_forward(y, x, w, b, H, W, OC, K, P);
                continue;
            }
            im2col(col, x, C, H, W, K, S, P);
            if (b) {
                for (int oc = 0; oc < OC; oc++)
                    for (long i = 0; i < ohw; i++) y[oc * ohw + i] = b[oc];
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)ohw, (int)ckk,
                        1.0f, w, (int)ckk, col, (int)ohw, b ? 1.0f : 0.0f, y, (int)ohw);
        }
    }
}

void conv2d_backward(float *dinp, float *dw, float *db, const float *dout,
                     const float *inp, const float *w, float *col_scratch,
                     float *dw_scratch, int n_threads,
                     int N, int C, int H, int W, int OC, int K, int S, int P) {
    int OH = conv_out_size(H, K, S, P), OW = conv_out_size(W, K, S, P);
    long ohw = (long)OH * OW, ckk = (long)C * K * K, n_w = (long)OC * ckk;
    int team = n_threads < N ? n_threads : N;
    if (team < 1) team = 1;
#pragma omp parallel num_threads(team)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads(), lo, hi;
        split_range(N, t, nt, &lo, &hi);
        float *col = col_scratch + (long)t * ckk * ohw;
        /* thread 0 accumulates straight into dw/db, the others into scratch */
        float *my_dw = t == 0 ? dw : dw_scratch + (long)t * (n_w + OC);
        float *my_db = t == 0 ? db : my_dw + n_w;
        if (t > 0) memset(my_dw, 0, sizeof(float) * (n_w + OC));
        for (int n = lo; n < hi; n++) {
            const float *x = inp + (long)n * C * H * W;
            const float *dy = dout + (long)n * OC * ohw;
            im2col(col, x, C, H, W, K, S, P);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, (int)ckk, (int)ohw,
                        1.0f, dy, (int)ohw, col, (int)ohw, 1.0f, my_dw, (int)ckk);
            if (my_db) {
                for (int oc = 0; oc < OC; oc++) {
                    float s = 0.0f;
                    const float *d = dy + oc * ohw;
#pragma omp simd reduction(+ : s)
                    for (long i = 0; i < ohw; i++) s += d[i];
                    my_db[oc] += s;
                }
            }
            if (dinp) {
                float *dx = dinp + (long)n * C * H * W;
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ckk, (int)ohw, OC,
                            1.0f, w, (int)ckk, dy, (int)ohw, 0.0f, col, (int)ohw);
                memset(dx, 0, sizeof(float) * C * H * W);
                col2im_add(dx, col, C, H, W, K, S, P);
            }
        }
#pragma omp barrier
        /* deterministic reduction: fixed order over threads, split over elements */
        if (nt > 1) {
            long lo_e = n_w * t / nt, hi_e = n_w * (t + 1) / nt;
            for (int u = 1; u < nt; u++) {
                const float *src = dw_scratch + (long)u * (n_w + OC);
                for (long i = lo_e; i < hi_e; i++) dw[i] += src[i];
            }
#pragma omp single
            if (db) {
                for (int u = 1; u < nt; u++) {
                    const float *src = dw_scratch + (long)u * (n_w + OC) + n_w;
                    for (int oc = 0; oc < OC; oc++) db[oc] += src[oc];
                }
            }
        }
    }
}

void dense_forward(float *out, const float *inp, const float *w, const float *b,
                   int n_threads, int N, int n_in, int n_out) {
    int team = n_threads < N ? n_threads : N;
    if (team < 1) team = 1;
#pragma omp parallel num_threads(team)
    {
        int lo, hi;
        split_range(N, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (hi > lo) {
            for (int n = lo; n < hi; n++)
                for (int o = 0; o < n_out; o++) out[(long)n * n_out + o] = b ? b[o] : 0.0f;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hi - lo, n_out, n_in, 1.0f,
                        inp + (long)lo * n_in, n_in, w, n_in, 1.0f, out + (long)lo * n_out, n_out);
        }
    }
}

void dense_backward(float *dinp, float *dw, float *db, const float *dout,
                    const float *inp, const float *w, int n_threads, int N, int n_in, int n_out) {
#pragma omp parallel num_threads(n_threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads(), lo, hi;
        /* dw rows [lo,hi) += dout[:,lo:hi]^T @ inp : each thread owns its rows */
        split_range(n_out, t, nt, &lo, &hi);
        if (hi > lo) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, n_in, N, 1.0f,
                        dout + lo, n_out, inp, n_in, 1.0f, dw + (long)lo * n_in, n_in);
            if (db) {
                for (int o = lo; o < hi; o++) {
                    float s = 0.0f;
                    for (int n = 0; n < N; n++) s += dout[(long)n * n_out + o];
                    db[o] += s;
                }
            }
        }
        if (dinp) {
            split_range(N, t, nt, &lo, &hi);
            if (hi > lo)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, n_in, n_out, 1.0f,
                            dout + (long)lo * n_out, n_out, w, n_in, 0.0f, dinp + (long)lo * n_in, n_in);
        }
    }
}

void relu_forward(float *out, const float *inp, long n, int n_threads) {
#pragma omp parallel for simd num_threads(n_threads) schedule(static)
    for (long i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void relu_backward(float *dinp, const float *dout, const float *out, long n, int n_threads) {
#pragma omp parallel for simd num_threads(n_threads) schedule(static)
    for (long i = 0; i < n; i++) dinp[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

void maxpool_forward(float *out, int32_t *argmax, const float *inp,
                     int N, int C, int H, int W, int K, int n_threads) {
    int OH = H / K, OW = W / K;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (long nc = 0; nc < (long)N * C; nc++) {
        const float *x = inp + nc * H * W;
        float *y = out + nc * OH * OW;
        int32_t *a = argmax + nc * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            for (int ow = 0; ow < OW; ow++) {
                int best = (oh * K) * W + ow * K;
                float m = x[best];
                for (int kh = 0; kh < K; kh++) {
                    for (int kw = 0; kw < K; kw++) {
                        int idx = (oh * K + kh) * W + ow * K + kw;
                        /* first maximum wins, NaN propagates: as PyTorch */
                        if (x[idx] > m || isnan(x[idx])) {
                            m = x[idx];
                            best = idx;
                        }
                    }
                }
                y[oh * OW + ow] = m;
                a[oh * OW + ow] = best;
            }
        }
    }
}

void maxpool_backward(float *dinp, const float *dout, const int32_t *argmax,
                      int N, int C, int H, int W, int K, int n_threads) {
    int OH = H / K, OW = W / K;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (long nc = 0; nc < (long)N * C; nc++) {
        float *dx = dinp + nc * H * W;
        const float *dy = dout + nc * OH * OW;
        const int32_t *a = argmax + nc * OH * OW;
        memset(dx, 0, sizeof(float) * H * W);
        for (int i = 0; i < OH * OW; i++) dx[a[i]] += dy[i];
    }
}

void gap_forward(float *out, const float *inp, int N, int C, int HW) {
    for (long nc = 0; nc < (long)N * C; nc++) {
        double s = 0.0;
        for (int i = 0; i < HW; i++) s += inp[nc * HW + i];
        out[nc] = (float)(s / HW);
    }
}

void gap_backward(float *dinp, const float *dout, int N, int C, int HW) {
    for (long nc = 0; nc < (long)N * C; nc++) {
        float g = dout[nc] / (float)HW;
        for (int i = 0; i < HW; i++) dinp[nc * HW + i] = g;
    }
}

void batchnorm_forward_train(float *out, float *mean, float *invstd,
                             float *run_mean, float *run_var, const float *inp,
                             const float *gamma, const float *beta,
                             int N, int C, int HW, float momentum, float eps, int n_threads) {
    long M = (long)N * HW;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < C; c++) {
        double s = 0.0, ss = 0.0;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((long)n * C + c) * HW;
            for (int i = 0; i < HW; i++) s += x[i];
        }
        double mu = s / (double)M;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((long)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                double d = x[i] - mu;
                ss += d * d;
            }
        }
        double var = ss / (double)M;
        float is = (float)(1.0 / sqrt(var + eps));
        mean[c] = (float)mu;
        invstd[c] = is;
        run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * (float)mu;
        double unbiased = M > 1 ? ss / (double)(M - 1) : var;
        run_var[c] = (1.0f - momentum) * run_var[c] + momentum * (float)unbiased;
        float scale = gamma[c] * is, shift = beta[c] - (float)mu * scale;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((long)n * C + c) * HW;
            float *y = out + ((long)n * C + c) * HW;
#pragma omp simd
            for (int i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
        }
    }
}

void batchnorm_forward_eval(float *out, const float *inp, const float *run_mean,
                            const float *run_var, const float *gamma, const float *beta,
                            int N, int C, int HW, float eps, int n_threads) {
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < C; c++) {
        float scale = gamma[c] / sqrtf(run_var[c] + eps);
        float shift = beta[c] - run_mean[c] * scale;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((long)n * C + c) * HW;
            float *y = out + ((long)n * C + c) * HW;
#pragma omp simd
            for (int i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
        }
    }
}

void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *inp, const float *mean, const float *invstd,
                        const float *gamma, int N, int C, int HW, int n_threads) {
    long M = (long)N * HW;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int c = 0; c < C; c++) {
        double sdy = 0.0, sdyx = 0.0;
        float mu = mean[c], is = invstd[c];
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((long)n * C + c) * HW;
            const float *dy = dout + ((long)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                sdy += dy[i];
                sdyx += dy[i] * (x[i] - mu);
            }
        }
        float dg = (float)(sdyx * is), db = (float)sdy;
        dgamma[c] += dg;
        dbeta[c] += db;
        /* dx = gamma*is/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)) */
        float k = gamma[c] * is;
        float mdy = (float)(sdy / (double)M), mdyx = (float)(sdyx * is * is / (double)M);
        if (!dinp) continue;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((long)n * C + c) * HW;
            const float *dy = dout + ((long)n * C + c) * HW;
            float *dx = dinp + ((long)n * C + c) * HW;
#pragma omp simd
            for (int i = 0; i < HW; i++) dx[i] = k * (dy[i] - mdy - (x[i] - mu) * mdyx);
        }
    }
}

void dropout_apply(float *out, const float *inp, const float *mask, long n) {
    if (!mask) {
        if (out != inp) memcpy(out, inp, sizeof(float) * n);
        return;
    }
    for (long i = 0; i < n; i++) out[i] = inp[i] * mask[i];
}

float softmax_xent(float *dlogits, float *probs, const float *logits, const int *labels,
                   const float *class_w, int N, int K) {
    double loss = 0.0, wsum = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (long)n * K;
        float mx = -FLT_MAX;
        for (int k = 0; k < K; k++) mx = z[k] > mx ? z[k] : mx;
        double se = 0.0;
        for (int k = 0; k < K; k++) se += exp((double)z[k] - mx);
        double lse = mx + log(se);
        double w = class_w ? class_w[labels[n]] : 1.0;
        loss += w * (lse - z[labels[n]]);
        wsum += w;
        if (probs)
            for (int k = 0; k < K; k++) probs[(long)n * K + k] = (float)exp(z[k] - lse);
    }
    if (dlogits) {
        for (int n = 0; n < N; n++) {
            const float *z = logits + (long)n * K;
            float mx = -FLT_MAX;
            for (int k = 0; k < K; k++) mx = z[k] > mx ? z[k] : mx;
            double se = 0.0;
            for (int k = 0; k < K; k++) se += exp((double)z[k] - mx);
            double lse = mx + log(se);
            double w = class_w ? class_w[labels[n]] : 1.0;
            for (int k = 0; k < K; k++) {
                double p = exp(z[k] - lse);
                dlogits[(long)n * K + k] = (float)(w * (p - (k == labels[n])) / wsum);
            }
        }
    }
    return (float)(loss / wsum);
}
