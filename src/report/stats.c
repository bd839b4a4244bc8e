/* stats.c: classification metrics and paired significance tests. See stats.h.
 * Distributions come from GSL; everything else is counting and sorting. */
#include "hipid/report/stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>

#include "hipid/base/common.h"

/* ---- classification metrics -------------------------------------------- */

void stats_argmax(int *pred, const double *P, int n, int K) {
    HIPID_CHECK(n >= 0 && K >= 1);
    for (int i = 0; i < n; i++) {
        const double *row = P + (size_t)i * K;
        int best = 0;
        for (int c = 1; c < K; c++)
            if (row[c] > row[best]) best = c;
        pred[i] = best;
    }
}

void stats_confusion(long *conf, const int *y, const int *pred, int n, int K) {
    HIPID_CHECK(n >= 0 && K >= 1);
    for (int i = 0; i < K * K; i++) conf[i] = 0;
    for (int i = 0; i < n; i++) {
        HIPID_CHECK(y[i] >= 0 && y[i] < K && pred[i] >= 0 && pred[i] < K);
        conf[(size_t)y[i] * K + pred[i]]++;
    }
}

/* row sum (true class c) and column sum (predicted class c) */
static long conf_row(const long *conf, int K, int c) {
    long s = 0;
    for (int j = 0; j < K; j++) s += conf[(size_t)c * K + j];
    return s;
}

static long conf_col(const long *conf, int K, int c) {
    long s = 0;
    for (int i = 0; i < K; i++) s += conf[(size_t)i * K + c];
    return s;
}

double stats_accuracy(const long *conf, int K) {
    long total = 0, right = 0;
    for (int c = 0; c < K; c++) {
        total += conf_row(conf, K, c);
        right += conf[(size_t)c * K + c];
    }
    return total ? (double)right / (double)total : NAN;
}

double stats_balanced_accuracy(const long *conf, int K) {
    double sum = 0.0;
    int present = 0;
    for (int c = 0; c < K; c++) {
        long row = conf_row(conf, K, c);
        if (!row) continue;
        sum += (double)conf[(size_t)c * K + c] / (double)row;
        present++;
    }
    return present ? sum / present : NAN;
}

double stats_macro_f1(const long *conf, int K) {
    double sum = 0.0;
    int used = 0;
    for (int c = 0; c < K; c++) {
        long row = conf_row(conf, K, c), col = conf_col(conf, K, c), tp = conf[(size_t)c * K + c];
        if (!row && !col) continue; /* neither in y nor in pred: not one of sklearn's labels */
        used++;
        /* sklearn: precision and recall (0 where undefined), then 2pr/(p+r), 0 if p+r == 0 */
        double prec = col ? (double)tp / (double)col : 0.0;
        double rec = row ? (double)tp / (double)row : 0.0;
        double den = prec + rec;
        sum += den > 0.0 ? 2.0 * prec * rec / den : 0.0;
    }
    return used ? sum / used : NAN;
}

void stats_sens_spec(double *sens, double *spec, const long *conf, int K) {
    long total = 0;
    for (int c = 0; c < K; c++) total += conf_row(conf, K, c);
    for (int c = 0; c < K; c++) {
        long row = conf_row(conf, K, c), col = conf_col(conf, K, c), tp = conf[(size_t)c * K + c];
        long fp = col - tp, neg = total - row, tn = neg - fp;
        sens[c] = row ? (double)tp / (double)row : NAN;
        spec[c] = neg ? (double)tn / (double)neg : NAN;
    }
}

double stats_log_loss(const int *y, const double *P, int n, int K) {
    HIPID_CHECK(n >= 0 && K >= 2);
    if (n == 0) return NAN;
    const double eps = DBL_EPSILON, hi = 1.0 - DBL_EPSILON;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const double *row = P + (size_t)i * K;
        HIPID_CHECK(y[i] >= 0 && y[i] < K);
        double s = 0.0, py = 0.0;
        for (int c = 0; c < K; c++) {
            double p = row[c] < eps ? eps : row[c] > hi ? hi : row[c];
            s += p;
            if (c == y[i]) py = p;
        }
        total -= log(py / s);
    }
    return total / n;
}

/* A score and whether its sample is a positive; sorted by decreasing score. */
typedef struct {
    double s;
    int pos;
} ScoreLab;

static int cmp_score_desc(const void *a, const void *b) {
    double x = ((const ScoreLab *)a)->s, y = ((const ScoreLab *)b)->s;
    return (x < y) - (x > y);
}

/* Sorted (score, is positive) pairs; counts of positives and negatives. */
static ScoreLab *sorted_scores(const int *y, const double *score, size_t stride, int pos, int n,
                               long *n_pos, long *n_neg) {
    ScoreLab *v = xmalloc(sizeof(ScoreLab) * (size_t)(n > 0 ? n : 1));
    *n_pos = *n_neg = 0;
    for (int i = 0; i < n; i++) {
        double s = score[(size_t)i * stride];
        HIPID_CHECK(isfinite(s));
        v[i].s = s;
        v[i].pos = y[i] == pos;
        if (v[i].pos) ++*n_pos;
        else ++*n_neg;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_score_desc);
    return v;
}

/* Twice the area under the unnormalised ROC step curve (counts, not rates),
 * walking the distinct scores from the highest: every negative in a group
 * earns the positives above it plus half of those tied with it. Exact in
 * doubles while 2 * n_pos * n_neg < 2^53. */
static double auc_sorted(const ScoreLab *v, int n, long n_pos, long n_neg) {
    if (!n_pos || !n_neg) return NAN;
    double area2 = 0.0;
    long tp = 0;
    for (int i = 0; i < n;) {
        long gp = 0, gn = 0;
        int j = i;
        for (; j < n && v[j].s == v[i].s; j++) {
            if (v[j].pos) gp++;
            else gn++;
        }
        area2 += (double)gn * (double)(2 * tp + gp);
        tp += gp;
        i = j;
    }
    return area2 / (2.0 * (double)n_pos * (double)n_neg);
}

static double roc_auc_strided(const int *y, const double *score, size_t stride, int pos, int n) {
    long n_pos, n_neg;
    ScoreLab *v = sorted_scores(y, score, stride, pos, n, &n_pos, &n_neg);
    double auc = auc_sorted(v, n, n_pos, n_neg);
    free(v);
    return auc;
}

double stats_roc_auc(const int *y, const double *score, int pos, int n) {
    HIPID_CHECK(n >= 0);
    return roc_auc_strided(y, score, 1, pos, n);
}

double stats_auc(double *per_class, const int *y, const double *P, int n, int K) {
    HIPID_CHECK(n >= 0 && K >= 2);
    double sum = 0.0, last = NAN;
    for (int c = 0; c < K; c++) {
        last = roc_auc_strided(y, P + c, (size_t)K, c, n);
        if (per_class) per_class[c] = last;
        sum += last; /* a NaN makes the macro mean NaN, as sklearn refuses */
    }
    return K == 2 ? last : sum / K; /* binary: the AUC of column 1 alone */
}

int stats_roc_curve(double *fpr, double *tpr, double *thr, const int *y, const double *score, int pos,
                    int n) {
    HIPID_CHECK(n >= 0);
    long n_pos, n_neg;
    ScoreLab *v = sorted_scores(y, score, 1, pos, n, &n_pos, &n_neg);
    long tp = 0, fp = 0;
    int m = 0;
    fpr[m] = n_neg ? 0.0 : NAN;
    tpr[m] = n_pos ? 0.0 : NAN;
    if (thr) thr[m] = INFINITY;
    m++;
    for (int i = 0; i < n;) {
        int j = i;
        for (; j < n && v[j].s == v[i].s; j++) {
            if (v[j].pos) tp++;
            else fp++;
        }
        fpr[m] = n_neg ? (double)fp / (double)n_neg : NAN;
        tpr[m] = n_pos ? (double)tp / (double)n_pos : NAN;
        if (thr) thr[m] = v[i].s;
        m++;
        i = j;
    }
    free(v);
    return m;
}

/* ---- summaries ---------------------------------------------------------- */

static double mean_of(const double *x, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    return s / n;
}

/* sample variance, n - 1 denominator, two passes */
static double var_of(const double *x, int n, double mean) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (x[i] - mean) * (x[i] - mean);
    return s / (n - 1);
}

/* t_{df} quantile for a two-sided interval at level */
static double t_crit(double level, double df) { return gsl_cdf_tdist_Pinv(0.5 + 0.5 * level, df); }

/* two-sided p of a t statistic; NaN stays NaN, +-inf gives 0 */
static double t_p2(double t, double df) {
    if (isnan(t) || isnan(df)) return NAN;
    if (isinf(t)) return 0.0;
    return 2.0 * gsl_cdf_tdist_Q(fabs(t), df);
}

void stats_summary(Summary *s, const double *x, int n, double level) {
    HIPID_CHECK(n >= 0 && level > 0.0 && level < 1.0);
    s->n = n;
    s->mean = n ? mean_of(x, n) : NAN;
    s->sd = s->lo = s->hi = NAN;
    if (n < 2) return;
    s->sd = sqrt(var_of(x, n, s->mean));
    double h = t_crit(level, n - 1) * s->sd / sqrt((double)n);
    s->lo = s->mean - h;
    s->hi = s->mean + h;
}

/* ---- paired comparisons ------------------------------------------------- */

static void ttest_nan(TTest *r) { r->estimate = r->se = r->t = r->df = r->p = r->lo = r->hi = NAN; }

/* t, p and interval from estimate, se, df */
static void ttest_finish(TTest *r, double level) {
    r->t = r->estimate / r->se;
    r->p = t_p2(r->t, r->df);
    double h = t_crit(level, r->df) * r->se;
    r->lo = r->estimate - h;
    r->hi = r->estimate + h;
}

void stats_ttest_paired(TTest *r, const double *a, const double *b, int n, double level) {
    HIPID_CHECK(n >= 0 && level > 0.0 && level < 1.0);
    ttest_nan(r);
    if (n < 2) return;
    double *d = xmalloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) d[i] = a[i] - b[i];
    r->estimate = mean_of(d, n);
    r->se = sqrt(var_of(d, n, r->estimate) / n);
    r->df = n - 1;
    free(d);
    ttest_finish(r, level);
}

void stats_ttest_corrected(TTest *r, const double *d, int J, double ratio, double level) {
    HIPID_CHECK(J >= 0 && ratio >= 0.0 && level > 0.0 && level < 1.0);
    ttest_nan(r);
    if (J < 2) return;
    r->estimate = mean_of(d, J);
    r->se = sqrt((1.0 / J + ratio) * var_of(d, J, r->estimate));
    r->df = J - 1;
    ttest_finish(r, level);
}

void stats_5x2cv(TTest *r, const double *p, double level) {
    HIPID_CHECK(level > 0.0 && level < 1.0);
    double s2 = 0.0;
    for (int i = 0; i < 5; i++) {
        double m = 0.5 * (p[2 * i] + p[2 * i + 1]);
        s2 += (p[2 * i] - m) * (p[2 * i] - m) + (p[2 * i + 1] - m) * (p[2 * i + 1] - m);
    }
    r->estimate = p[0];
    r->se = sqrt(s2 / 5.0);
    r->df = 5;
    ttest_finish(r, level);
}

void stats_mcnemar_counts(McNemar *r, long b, long c) {
    HIPID_CHECK(b >= 0 && c >= 0);
    long n = b + c;
    r->b = b;
    r->c = c;
    r->exact = n < 25;
    if (n == 0) {
        r->statistic = 0.0;
        r->p = 1.0;
    } else if (r->exact) {
        long k = b < c ? b : c;
        r->statistic = (double)k;
        double p = 2.0 * gsl_cdf_binomial_P((unsigned)k, 0.5, (unsigned)n);
        r->p = p < 1.0 ? p : 1.0;
    } else {
        double dev = fabs((double)(b - c)) - 1.0;
        r->statistic = dev * dev / (double)n;
        r->p = gsl_cdf_chisq_Q(r->statistic, 1.0);
    }
}

void stats_mcnemar(McNemar *r, const uint8_t *correct_a, const uint8_t *correct_b, int n) {
    HIPID_CHECK(n >= 0);
    long b = 0, c = 0;
    for (int i = 0; i < n; i++) {
        int ra = correct_a[i] != 0, rb = correct_b[i] != 0;
        b += ra && !rb;
        c += !ra && rb;
    }
    stats_mcnemar_counts(r, b, c);
}

/* Midranks (1-based, ties averaged) of x[idx[0..m)] among themselves:
 * rank[k] for x[idx[k]]. order is scratch of m ints. */
typedef struct {
    const double *x;
    const int *idx;
} RankCtx;

static int cmp_rank(const void *a, const void *b, void *ctx) {
    const RankCtx *r = ctx;
    double u = r->x[r->idx[*(const int *)a]], v = r->x[r->idx[*(const int *)b]];
    return (u > v) - (u < v);
}

static void midranks(double *rank, const double *x, const int *idx, int m, int *order) {
    RankCtx ctx = {x, idx};
    for (int k = 0; k < m; k++) order[k] = k;
    qsort_r(order, (size_t)m, sizeof *order, cmp_rank, &ctx);
    for (int a = 0; a < m;) {
        int b = a;
        while (b < m && x[idx[order[b]]] == x[idx[order[a]]]) b++;
        double mid = 0.5 * (a + 1 + b); /* mean of ranks a+1 .. b */
        for (int k = a; k < b; k++) rank[order[k]] = mid;
        a = b;
    }
}

/* Structural components of one score vector (Sun & Xu 2014):
 * v10[i] for the m positives, v01[j] for the n negatives; returns the AUC. */
static double delong_components(double *v10, double *v01, const double *score, const int *all,
                                 const int *pos_idx, const int *neg_idx, int m, int n, double *scratch,
                                 int *order) {
    double *tz = scratch, *tx = scratch + m + n, *ty = tx + m;
    midranks(tz, score, all, m + n, order); /* all = positives then negatives */
    midranks(tx, score, pos_idx, m, order);
    midranks(ty, score, neg_idx, n, order);
    double auc = 0.0;
    for (int i = 0; i < m; i++) {
        v10[i] = (tz[i] - tx[i]) / n; /* negatives below x_i, ties half */
        auc += v10[i];
    }
    for (int j = 0; j < n; j++) v01[j] = 1.0 - (tz[m + j] - ty[j]) / m; /* positives above y_j */
    return auc / m;
}

/* sample covariance of u and v (length k, k - 1 denominator) */
static double cov_of(const double *u, const double *v, int k) {
    double mu = mean_of(u, k), mv = mean_of(v, k), s = 0.0;
    for (int i = 0; i < k; i++) s += (u[i] - mu) * (v[i] - mv);
    return s / (k - 1);
}

void stats_delong(DeLong *r, const int *y, const double *score_a, const double *score_b, int pos,
                  int n_samples, double level) {
    HIPID_CHECK(n_samples >= 0 && level > 0.0 && level < 1.0);
    int m = 0, n = 0;
    for (int i = 0; i < n_samples; i++) {
        HIPID_CHECK(isfinite(score_a[i]) && isfinite(score_b[i]));
        if (y[i] == pos) m++;
        else n++;
    }
    r->n_pos = m;
    r->n_neg = n;
    r->auc_a = r->auc_b = r->var_a = r->var_b = r->cov = NAN;
    ttest_nan(&r->d);
    r->d.df = INFINITY;
    if (!m || !n) return;
    int *all = xmalloc(sizeof(int) * (size_t)n_samples), *order = xmalloc(sizeof(int) * (size_t)n_samples);
    double *buf = xmalloc(sizeof(double) * (size_t)(4 * n_samples));
    double *v10a = buf, *v10b = buf + m, *v01a = buf + 2 * m, *v01b = v01a + n, *scratch;
    scratch = xmalloc(sizeof(double) * (size_t)(2 * n_samples));
    int ip = 0, in = m;
    for (int i = 0; i < n_samples; i++) all[y[i] == pos ? ip++ : in++] = i;
    r->auc_a = delong_components(v10a, v01a, score_a, all, all, all + m, m, n, scratch, order);
    r->auc_b = delong_components(v10b, v01b, score_b, all, all, all + m, m, n, scratch, order);
    r->d.estimate = r->auc_a - r->auc_b;
    if (m >= 2 && n >= 2) {
        r->var_a = cov_of(v10a, v10a, m) / m + cov_of(v01a, v01a, n) / n;
        r->var_b = cov_of(v10b, v10b, m) / m + cov_of(v01b, v01b, n) / n;
        r->cov = cov_of(v10a, v10b, m) / m + cov_of(v01a, v01b, n) / n;
        double var_d = r->var_a + r->var_b - 2.0 * r->cov;
        r->d.se = sqrt(var_d > 0.0 ? var_d : 0.0); /* rounding can leave -1e-18 */
        r->d.t = r->d.se > 0.0 ? r->d.estimate / r->d.se : NAN;
        r->d.p = isnan(r->d.t) ? NAN : 2.0 * gsl_cdf_ugaussian_Q(fabs(r->d.t));
        double h = gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * level) * r->d.se;
        r->d.lo = r->d.estimate - h;
        r->d.hi = r->d.estimate + h;
    }
    free(scratch);
    free(buf);
    free(order);
    free(all);
}

double stats_binom_greater(long k, long n, double p) {
    HIPID_CHECK(n >= 0 && k >= 0 && k <= n && p >= 0.0 && p <= 1.0);
    if (k == 0) return 1.0;
    return gsl_cdf_binomial_Q((unsigned)(k - 1), p, (unsigned)n); /* P(X > k - 1) */
}
