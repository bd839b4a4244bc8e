/* stats.c: classification metrics and paired significance tests. See stats.h.
 * Distributions come from GSL; everything else is counting and sorting. */
#include "hipid/report/stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_cdf.h>

#include "hipid/base/common.h"
#include "hipid/base/dist.h"

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

/* ---- intervals for resampled means and for proportions ------------------- */

void stats_summary_corrected(Summary *s, const double *x, int J, double ratio, double level) {
    HIPID_CHECK(ratio >= 0.0);
    stats_summary(s, x, J, level);
    if (J < 2) return;
    /* the same se as stats_ttest_corrected, so a difference's interval agrees with its test */
    double h = t_crit(level, J - 1) * sqrt((1.0 / J + ratio) * s->sd * s->sd);
    s->lo = s->mean - h;
    s->hi = s->mean + h;
}

static double clamp01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

void stats_prop_ci(double *lo, double *hi, long k, long n, double level, StatsPropMethod method) {
    HIPID_CHECK(n >= 0 && k >= 0 && k <= n && level > 0.0 && level < 1.0);
    HIPID_CHECK(method == STATS_CI_WILSON || method == STATS_CI_CLOPPER_PEARSON);
    *lo = *hi = NAN;
    if (n == 0) return;
    double alpha2 = 0.5 * (1.0 - level), q = (double)k / (double)n, nn = (double)n;
    if (method == STATS_CI_WILSON) { /* statsmodels' expression, term for term */
        double z = gsl_cdf_ugaussian_Qinv(alpha2), z2 = z * z, denom = 1.0 + z2 / nn;
        double center = (q + z2 / (2.0 * nn)) / denom;
        double dist = z * sqrt(q * (1.0 - q) / nn + z2 / (4.0 * nn * nn)) / denom;
        *lo = clamp01(center - dist);
        *hi = clamp01(center + dist);
    } else { /* beta quantiles: Beta(k, n-k+1) and Beta(k+1, n-k) */
        *lo = k ? dist_beta_quantile(alpha2, (double)k, (double)(n - k + 1), 0) : 0.0;
        *hi = k < n ? dist_beta_quantile(alpha2, (double)(k + 1), (double)(n - k), 1) : 1.0;
    }
    if (k == 0) *lo = 0.0; /* exact in both methods; rounding could leave 1e-17 */
    if (k == n) *hi = 1.0;
}

/* ---- Bayesian correlated t-test ----------------------------------------- */

void stats_bayes_correlated(BayesCT *r, const double *d, int J, double ratio, double rope) {
    HIPID_CHECK(J >= 0 && ratio >= 0.0 && rope >= 0.0);
    r->mean = r->scale = r->df = r->p_left = r->p_rope = r->p_right = NAN;
    if (J < 2) return;
    int all_equal = 1;
    for (int j = 1; j < J; j++) all_equal &= d[j] == d[0];
    /* all equal: s^2 is 0, though the rounded mean of J copies can leave 1e-36 */
    r->mean = all_equal ? d[0] : mean_of(d, J);
    r->scale = all_equal ? 0.0 : sqrt((1.0 / J + ratio) * var_of(d, J, r->mean));
    r->df = J - 1;
    if (isnan(r->mean) || isnan(r->scale)) return; /* a NaN difference */
    if (r->scale == 0.0) { /* a point mass at the mean */
        r->p_left = r->mean < -rope;
        r->p_right = r->mean > rope;
        r->p_rope = !(r->mean < -rope || r->mean > rope);
        return;
    }
    /* each tail from its own side, so a small probability keeps its digits */
    double a = (-rope - r->mean) / r->scale, b = (rope - r->mean) / r->scale;
    r->p_left = gsl_cdf_tdist_P(a, r->df);
    r->p_right = gsl_cdf_tdist_Q(b, r->df);
    if (a > 0.0) r->p_rope = gsl_cdf_tdist_Q(a, r->df) - r->p_right; /* the rope in one tail */
    else if (b < 0.0) r->p_rope = gsl_cdf_tdist_P(b, r->df) - r->p_left;
    else r->p_rope = 1.0 - r->p_left - r->p_right;
    if (r->p_rope < 0.0) r->p_rope = 0.0;
}

/* ---- more than two models ------------------------------------------------ */

void stats_friedman(double *statistic, double *p, double *avg_rank, const double *x, int N, int k) {
    HIPID_CHECK(N >= 0 && k >= 1);
    *statistic = *p = NAN;
    for (int j = 0; j < k; j++) avg_rank[j] = N ? 0.0 : NAN;
    if (N == 0) return;
    double ties = 0.0; /* sum over tie groups of t (t^2 - 1) */
    int has_nan = 0;
    for (int i = 0; i < N; i++) {
        const double *row = x + (size_t)i * k;
        for (int j = 0; j < k; j++) {
            if (isnan(row[j])) has_nan = 1;
            int above = 0, tied = 0; /* rank 1 = highest: 1 + #above + (#tied others) / 2 */
            for (int l = 0; l < k; l++) {
                above += row[l] > row[j];
                tied += row[l] == row[j];
            }
            avg_rank[j] += 1.0 + above + 0.5 * (tied - 1);
            ties += tied * tied - 1; /* each of a group's t members: t^2 - 1 */
        }
    }
    if (has_nan) {
        for (int j = 0; j < k; j++) avg_rank[j] = NAN;
        return;
    }
    double ss = 0.0, mid = 0.5 * (k + 1); /* sum_j (R_j - N (k+1)/2)^2 with R_j rank sums */
    for (int j = 0; j < k; j++) {
        double dev = avg_rank[j] - N * mid;
        ss += dev * dev;
        avg_rank[j] /= N;
    }
    if (N < 2 || k < 3) return;
    double c = 1.0 - ties / ((double)k * ((double)k * k - 1.0) * N);
    if (c <= 0.0) return; /* every block all ties */
    *statistic = 12.0 * ss / ((double)N * k * (k + 1)) / c;
    *p = gsl_cdf_chisq_Q(*statistic, k - 1);
}

typedef struct {
    double p;
    int i;
} PIdx;

static int cmp_pidx(const void *a, const void *b) {
    double x = ((const PIdx *)a)->p, y = ((const PIdx *)b)->p;
    return (x > y) - (x < y);
}

void stats_holm(double *adj, const double *p, int m) {
    HIPID_CHECK(m >= 0);
    PIdx *v = xmalloc(sizeof(PIdx) * (size_t)(m > 0 ? m : 1));
    int n = 0;
    for (int i = 0; i < m; i++) {
        HIPID_CHECK(isnan(p[i]) || (p[i] >= 0.0 && p[i] <= 1.0));
        if (!isnan(p[i])) v[n++] = (PIdx){p[i], i};
    }
    qsort(v, (size_t)n, sizeof *v, cmp_pidx); /* ties get the same adjusted p in any order */
    for (int i = 0; i < m; i++)
        if (isnan(p[i])) adj[i] = NAN;
    double run = 0.0;
    for (int r = 0; r < n; r++) {
        double a = v[r].p * (n - r);
        if (a > run) run = a;
        adj[v[r].i] = run < 1.0 ? run : 1.0;
    }
    free(v);
}

double stats_rank_z_p(double rank_i, double rank_j, int N, int k) {
    if (N < 1 || k < 2) return NAN;
    double z = (rank_i - rank_j) / sqrt((double)k * (k + 1) / (6.0 * N));
    return isnan(z) ? NAN : 2.0 * gsl_cdf_ugaussian_Q(fabs(z));
}

/* Demsar 2006, Table 5a: q_0.05 for the Nemenyi test, k = 2..10 treatments
 * (studentized range quantile, infinite df, over sqrt 2), as published: three
 * decimals, k = 3 and k = 7 7e-4 off the exact 2.3437 and 2.9483 (so CDs match
 * the literature's and Orange's). tests/test_stats.py checks every entry
 * against scipy.stats.studentized_range within 1e-3. */
static const double nemenyi_q05[11] = {NAN,   NAN,   1.960, 2.343, 2.569, 2.728,
                                       2.850, 2.949, 3.031, 3.102, 3.164};

double stats_nemenyi_cd(int k, int N) {
    if (k < 2 || k > 10 || N < 1) return NAN;
    return nemenyi_q05[k] * sqrt((double)k * (k + 1) / (6.0 * N));
}
