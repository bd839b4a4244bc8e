/* stats.h: metrics and significance tests for the report of a sweep.
 *
 * Pure functions: no I/O, no MPI, no global state. Outputs come first, sizes
 * last. Labels are ints in [0,K); class probabilities P are (n,K) row-major
 * doubles (a caller holding float softmax outputs widens them first). Every
 * result is a double; undefined quantities (a class with no sample, a sample
 * of one, a zero variance where one divides by it) are NaN, never an abort.
 * Broken invariants (a label out of range, a non-finite score, n < 0, K < 2) abort via
 * HIPID_CHECK: they are programming errors, not user input.
 *
 * Conventions follow scikit-learn 1.2 (Debian 12) and scipy 1.10, and
 * tests/test_stats.py checks them against those libraries:
 *  - the predicted class is the first maximum of a row (numpy's argmax);
 *  - ROC curves and AUC give tied scores half credit (trapezoidal rule);
 *  - p-values are two-sided; distributions come from GSL.
 *
 * What it does not do: bootstrap intervals, and anything that needs the raw
 * images. */
#ifndef HIPID_STATS_H
#define HIPID_STATS_H

#include <stdint.h>

/* ---- classification metrics -------------------------------------------- */

/* pred[i] = argmax_c P[i,c], the first index on ties. pred: (n) */
void stats_argmax(int *pred, const double *P, int n, int K);

/* Confusion matrix: conf[t*K + p] = number of samples of true class t
 * predicted as p (rows: true class). conf: (K,K) */
void stats_confusion(long *conf, const int *y, const int *pred, int n, int K);

/* The following read a confusion matrix conf (K,K) from stats_confusion. */

/* Fraction of samples on the diagonal; NaN if conf is all zero. */
double stats_accuracy(const long *conf, int K);

/* Mean recall over the classes present in the true labels (sklearn's
 * balanced_accuracy_score); NaN if there is no sample. */
double stats_balanced_accuracy(const long *conf, int K);

/* Macro F1 as sklearn's f1_score(average='macro', zero_division=0) with its
 * default labels: the mean over classes occurring in the true labels or the
 * predictions of 2 tp / (2 tp + fp + fn) (0 where precision + recall is 0).
 * NaN if there is no sample. */
double stats_macro_f1(const long *conf, int K);

/* Per class c (one vs rest): sens[c] = recall = tp / (tp + fn), NaN if class
 * c has no sample; spec[c] = tn / (tn + fp), NaN if every sample is of class
 * c. sens, spec: (K) */
void stats_sens_spec(double *sens, double *spec, const long *conf, int K);

/* Mean negative log-likelihood of the true class, as sklearn 1.2's
 * log_loss(y, P, labels=range(K)) for float64 input: each probability is
 * clipped to [eps, 1 - eps] with eps = DBL_EPSILON, each row is then divided
 * by its sum, and the loss is -mean_i log P'[i, y_i]. NaN if n == 0. */
double stats_log_loss(const int *y, const double *P, int n, int K);

/* ROC AUC of score for "y == pos" against the rest: the Mann-Whitney
 * statistic P(score_pos > score_neg) + 0.5 P(equal), which equals the
 * trapezoidal area under sklearn's roc_curve. NaN if either side is empty. */
double stats_roc_auc(const int *y, const double *score, int pos, int n);

/* ROC AUC of class probabilities. K == 2: stats_roc_auc of column 1 (sklearn
 * roc_auc_score(y, P[:,1])). K > 2: the one-vs-rest macro mean (sklearn
 * roc_auc_score(y, P, multi_class='ovr', average='macro')); NaN if some class
 * has no sample (sklearn raises). per_class (K, may be NULL): each class's
 * one-vs-rest AUC, NaN where undefined (for K == 2, per_class[0] is the AUC
 * of column 0 for class 0). */
double stats_auc(double *per_class, const int *y, const double *P, int n, int K);

/* ROC curve of score for "y == pos" against the rest, as sklearn's
 * roc_curve(y == pos, score, drop_intermediate=False): one point per distinct
 * score, from the highest down, preceded by (0,0). thr[0] is +INFINITY (sklearn
 * >= 1.3; 1.2 writes max score + 1), thr[j] the j-th highest distinct score;
 * point j counts the samples with score >= thr[j]. fpr is NaN throughout if
 * there is no negative, tpr if there is no positive. fpr, tpr, thr: capacity
 * n + 1 (thr may be NULL). Returns the number of points. */
int stats_roc_curve(double *fpr, double *tpr, double *thr, const int *y, const double *score, int pos,
                    int n);

/* ---- summaries ---------------------------------------------------------- */

typedef struct {
    int n;
    double mean;
    double sd;        /* sample standard deviation (n - 1 denominator); NaN if n < 2 */
    double lo, hi;    /* t interval of the mean at the given level: mean -+ t_{n-1} sd / sqrt(n) */
} Summary;

/* Mean, sample sd and a two-sided t confidence interval at level (e.g. 0.95)
 * of x. n == 0: everything NaN; n == 1: sd and interval NaN. x: (n) */
void stats_summary(Summary *s, const double *x, int n, double level);

/* ---- paired comparisons ------------------------------------------------- */

/* A t (or z) test of a mean difference. */
typedef struct {
    double estimate;  /* the estimated difference (see each function) */
    double se;        /* the standard error the statistic divides by */
    double t;         /* estimate / se */
    double df;        /* degrees of freedom (INFINITY for a z test) */
    double p;         /* two-sided p-value */
    double lo, hi;    /* confidence interval of the difference at the requested level */
} TTest;

/* Paired t-test of a - b (scipy.stats.ttest_rel(a, b)): estimate = mean of
 * d = a - b, se = sd(d) / sqrt(n), df = n - 1. All differences equal and zero
 * gives t = p = NaN (as scipy); equal but nonzero gives t = +-inf, p = 0.
 * n < 2: NaN. a, b: (n) */
void stats_ttest_paired(TTest *r, const double *a, const double *b, int n, double level);

/* Corrected resampled t-test (Nadeau & Bengio 2003, "Inference for the
 * generalization error", Machine Learning 52:239-281; for repeated k-fold
 * cross-validation Bouckaert & Frank 2004, "Evaluating the replicability of
 * significance tests for comparing learning algorithms", PAKDD). d holds the
 * J = k * r per-split differences of a score between two models trained and
 * tested on the same splits; ratio = n_test / n_train of one split (1/(k-1)
 * for k-fold). The splits' overlap makes the d_j correlated, so the variance
 * of their mean is taken as
 *     var_corr = (1/J + n_test/n_train) * s^2,   s^2 the sample variance of d,
 * estimate = mean(d), se = sqrt(var_corr), t = estimate / se, df = J - 1,
 * p = 2 P(T_{J-1} > |t|), interval = estimate -+ t_{J-1, (1+level)/2} se.
 * J < 2: NaN. d: (J) */
void stats_ttest_corrected(TTest *r, const double *d, int J, double ratio, double level);

/* Dietterich's 5x2cv paired t-test (Dietterich 1998, "Approximate statistical
 * tests for comparing supervised classification learning algorithms", Neural
 * Computation 10:1895-1923). p (5,2): p[2i + j] is the difference of the two
 * models' scores on fold j of replication i. With pbar_i the mean of row i and
 * s_i^2 = (p_i1 - pbar_i)^2 + (p_i2 - pbar_i)^2:
 *     t = p_11 / sqrt(mean_i s_i^2),   df = 5,
 * estimate = p_11 (the first fold's difference, the statistic's numerator),
 * se = sqrt(mean_i s_i^2), interval = estimate -+ t_{5,(1+level)/2} se (the
 * test inverted). se == 0 gives NaN or inf as IEEE division does. */
void stats_5x2cv(TTest *r, const double *p, double level);

typedef struct {
    long b;           /* model A right, model B wrong */
    long c;           /* model A wrong, model B right */
    int exact;        /* 1: exact binomial test (b + c < 25), 0: chi-square */
    double statistic; /* exact: min(b, c); chi-square: (|b - c| - 1)^2 / (b + c) */
    double p;         /* two-sided */
} McNemar;

/* Exact one-sided binomial test: P(X >= k) for X ~ Binomial(n, p), as
 * scipy.stats.binomtest(k, n, p, alternative="greater").pvalue. It asks
 * whether k correct answers out of n beat a classifier that is right with
 * probability p (e.g. always the most frequent class: p = its share,
 * caret's "accuracy > no-information rate" test). 0 <= k <= n, 0 <= p <= 1. */
double stats_binom_greater(long k, long n, double p);

/* McNemar's test on the discordant counts b, c. b + c < 25: exact, as
 * statsmodels' mcnemar(exact=True): p = min(1, 2 * BinomCDF(min(b,c); b+c, 1/2)).
 * Otherwise the chi-square with continuity correction (statsmodels'
 * mcnemar(exact=False, correction=True)), p = P(chi2_1 > statistic).
 * b + c == 0: exact, statistic 0, p = 1. */
void stats_mcnemar_counts(McNemar *r, long b, long c);

/* McNemar's test on paired correctness (nonzero = correct) of two models on
 * the same samples. Pooling predictions of repeated cross-validation counts
 * each image once per repeat, which the test takes as independent: use it on
 * one repeat's out-of-fold predictions, or read its p as optimistic.
 * correct_a, correct_b: (n) */
void stats_mcnemar(McNemar *r, const uint8_t *correct_a, const uint8_t *correct_b, int n);

typedef struct {
    int n_pos, n_neg;
    double auc_a, auc_b;
    double var_a, var_b, cov;  /* DeLong covariance of (auc_a, auc_b) */
    TTest d;                   /* estimate = auc_a - auc_b, se, z in t, df = INFINITY, p, interval */
} DeLong;

/* DeLong's test for two correlated ROC AUCs on the same samples (DeLong,
 * DeLong & Clarke-Pearson 1988, Biometrics 44:837-845), computed with the
 * midranks of Sun & Xu 2014 (IEEE Signal Processing Letters 21:1389-1393).
 * Positives are y == pos (m of them), negatives the rest (n of them). For a
 * score vector, the structural components are
 *     V10(x_i) = (1/n) sum_j psi(x_i, y_j),  V01(y_j) = (1/m) sum_i psi(x_i, y_j),
 * psi(x, y) = 1 if x > y, 1/2 if x == y, 0 otherwise; S10 and S01 are their
 * 2x2 sample covariances over the two scores (denominators m-1, n-1), and
 *     Cov(auc) = S10 / m + S01 / n,
 *     se(auc_a - auc_b) = sqrt(var_a + var_b - 2 cov),  z = diff / se,
 * p = 2 (1 - Phi(|z|)), interval = diff -+ Phi^-1((1+level)/2) se.
 * Fewer than 2 positives or negatives: variances and the test are NaN (the
 * AUCs are still given if both sides are non-empty). se == 0 (e.g. identical
 * scores): z and p are NaN (pROC reports z = 0, p = 1 when the AUCs are
 * equal). score_a, score_b, y: (n_samples) */
void stats_delong(DeLong *r, const int *y, const double *score_a, const double *score_b, int pos,
                  int n_samples, double level);

/* ---- intervals for resampled means and for proportions ------------------- */

/* The mean of J scores from overlapping resamples (k-fold, repeated k-fold,
 * repeated hold-out) with the Nadeau-Bengio correction (see
 * stats_ttest_corrected): se = sqrt((1/J + ratio) s^2), ratio = n_test /
 * n_train of one split, interval mean -+ t_{J-1,(1+level)/2} se. s->sd stays
 * the plain sample SD; s->lo/hi are the corrected bounds. J == 0: NaN; J == 1:
 * sd and interval NaN. ratio == 0 gives stats_summary's naive interval. x: (J) */
void stats_summary_corrected(Summary *s, const double *x, int J, double ratio, double level);

typedef enum { STATS_CI_WILSON = 0, STATS_CI_CLOPPER_PEARSON } StatsPropMethod;

/* Two-sided interval at level for a proportion k/n, inside [0, 1]:
 * Wilson's score interval (no continuity correction), or the exact
 * Clopper-Pearson interval from beta quantiles (lo = 0 when k == 0, hi = 1
 * when k == n). As statsmodels' proportion_confint(k, n, alpha=1-level,
 * method='wilson' | 'beta'); Wilson is clamped to [0, 1] (statsmodels leaves
 * a rounding-sized excursion at k = 0 or n). The beta quantiles are found by
 * bisection of GSL's beta CDF (GSL 2.7's own inverse aborts on inputs such as
 * k = 2, n = 333); tested to n = 2e5. n == 0: NaN. 0 <= k <= n. */
void stats_prop_ci(double *lo, double *hi, long k, long n, double level, StatsPropMethod method);

/* ---- Bayesian correlated t-test ----------------------------------------- */

typedef struct {
    double mean, scale, df; /* posterior of the mean difference: Student t(df) located at
                             * mean with this scale; df = J - 1 */
    double p_left, p_rope, p_right; /* P(diff < -rope), P(|diff| <= rope), P(diff > rope) */
} BayesCT;

/* Corani & Benavoli 2015, "A Bayesian approach for comparing cross-validated
 * algorithms on multiple data sets", Machine Learning 100:285-304, their
 * correlated t-test for one data set: d holds J per-split differences a - b;
 * with rho = n_test / (n_test + n_train) the correlation of two splits'
 * differences, the posterior of the mean difference is a Student t with
 * df = J - 1, location mean(d) and scale sqrt((1/J + rho/(1-rho)) s^2),
 * s^2 the sample variance of d (so ratio = rho/(1-rho) = n_test/n_train, as
 * stats_ttest_corrected). rope >= 0 is the half-width of the region of
 * practical equivalence (closed: |diff| == rope counts as equivalent).
 * p_left + p_rope + p_right = 1; each tail is computed from its own side, so
 * a probability of 1e-12 keeps its digits. All d equal (s^2 == 0): a point
 * mass at d[0] (the three probabilities 0 or 1, scale 0). J < 2 or a NaN in d:
 * every field NaN (df too when J < 2). d: (J) */
void stats_bayes_correlated(BayesCT *r, const double *d, int J, double ratio, double rope);

/* ---- more than two models ------------------------------------------------ */

/* Friedman's test over N blocks (CV units) of k treatments (families):
 * x (N, k) row-major, higher is better. Ranks within each block (1 = best,
 * ties get their mean rank) are averaged into avg_rank (k). statistic is
 * Friedman's chi-square with scipy's tie correction (as
 * scipy.stats.friedmanchisquare on the k columns), p = P(chi2_{k-1} >
 * statistic). N < 2 or k < 3: statistic and p NaN (scipy needs k >= 3), the
 * average ranks are still given (N >= 1); every block all ties: statistic and
 * p NaN. N == 0, or a NaN anywhere in x (drop incomplete blocks first):
 * everything NaN. */
void stats_friedman(double *statistic, double *p, double *avg_rank, const double *x, int N, int k);

/* Holm's step-down adjustment of m p-values (statsmodels' multipletests(p,
 * method='holm')[1]): sorted ascending, p_(i) * (m - i) for i = 0..m-1,
 * made monotone by a running maximum, capped at 1. NaN inputs stay NaN and
 * are not counted in m. Tied p-values get the same adjusted value. A p
 * outside [0, 1] aborts. adj, p: (m); adj may equal p. */
void stats_holm(double *adj, const double *p, int m);

/* Demsar 2006 ("Statistical comparisons of classifiers over multiple data
 * sets", JMLR 7:1-30): the post-hoc z statistic of two treatments' average
 * ranks over N blocks of k, z = (R_i - R_j) / sqrt(k (k + 1) / (6 N)), and its
 * two-sided normal p-value (to be Holm-adjusted over the pairs), which is
 * returned. NaN if N < 1, k < 2 or a rank is NaN. */
double stats_rank_z_p(double rank_i, double rank_j, int N, int k);

/* The Nemenyi critical difference of average ranks at level 0.95 for k
 * treatments and N blocks: q_0.05(k) sqrt(k (k + 1) / (6 N)), q the
 * studentized range quantile (infinite df) over sqrt 2 (Demsar's Table 5a,
 * k = 2..10, as published to three decimals: within 7e-4 of
 * scipy.stats.studentized_range.ppf(0.95, k, inf) / sqrt(2)).
 * NaN outside k = 2..10 or N < 1. */
double stats_nemenyi_cd(int k, int N);

#endif
