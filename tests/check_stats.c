/* check_stats: run stats.h functions on numbers read from stdin and print the
 * results, for tests/test_stats.py.
 *
 * stdin is a sequence of records, whitespace-separated; each starts with a
 * function name and its numbers in this order:
 *   metrics    n K  y[n]  P[n*K]                 (P row-major)
 *   roc        n pos  y[n]  score[n]
 *   summary    n level  x[n]
 *   ttest      n level  a[n]  b[n]
 *   corrected  J ratio level  d[J]
 *   5x2cv      level  p[10]                      (p[2i+j]: replication i, fold j)
 *   mcnemar    n  correct_a[n]  correct_b[n]     (0/1)
 *   mcnemar_bc b c
 *   delong     n pos level  y[n]  score_a[n]  score_b[n]
 *   sumcorr    J ratio level  x[J]
 *   propci     k n level method            (method: 0 Wilson, 1 Clopper-Pearson)
 *   bayes      J ratio rope  d[J]
 *   friedman   N k  x[N*k]                   (row-major, one row per block)
 *   holm       m  p[m]                       (nan allowed)
 *   rankz      rank_i rank_j N k
 *   nemenyi    k N
 * For each record it prints lines "key v1 v2 ..." (numbers with %.17g, so nan
 * and inf are spelt that way) and then a line "end". A malformed record
 * prints "error: ..." to stderr and exits 2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/common.h"
#include "hipid/report/stats.h"

static void die_input(const char *what) {
    fprintf(stderr, "error: cannot read %s\n", what);
    exit(2);
}

static double rd(const char *what) {
    double v;
    if (scanf("%lf", &v) != 1) die_input(what);
    return v;
}

static int rd_int(const char *what) {
    int v;
    if (scanf("%d", &v) != 1) die_input(what);
    return v;
}

static double *rd_vec(long n, const char *what) {
    double *v = xmalloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    for (long i = 0; i < n; i++) v[i] = rd(what);
    return v;
}

static int *rd_ivec(long n, const char *what) {
    int *v = xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    for (long i = 0; i < n; i++) v[i] = rd_int(what);
    return v;
}

static void put(const char *key, const double *v, long n) {
    printf("%s", key);
    for (long i = 0; i < n; i++) printf(" %.17g", v[i]);
    printf("\n");
}

static void put1(const char *key, double v) { put(key, &v, 1); }

static void put_ttest(const TTest *r) {
    put1("estimate", r->estimate);
    put1("se", r->se);
    put1("t", r->t);
    put1("df", r->df);
    put1("p", r->p);
    put1("lo", r->lo);
    put1("hi", r->hi);
}

static void do_metrics(void) {
    int n = rd_int("n"), K = rd_int("K");
    if (n < 0 || K < 2) die_input("n >= 0, K >= 2");
    int *y = rd_ivec(n, "y"), *pred = xmalloc(sizeof(int) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K) die_input("a label in [0,K)");
    double *P = rd_vec((long)n * K, "P");
    long *conf = xmalloc(sizeof(long) * (size_t)K * K);
    double *cd = xmalloc(sizeof(double) * (size_t)K * K), *sens = xmalloc(sizeof(double) * K),
           *spec = xmalloc(sizeof(double) * K), *auc_c = xmalloc(sizeof(double) * K);
    stats_argmax(pred, P, n, K);
    stats_confusion(conf, y, pred, n, K);
    for (int i = 0; i < K * K; i++) cd[i] = (double)conf[i];
    stats_sens_spec(sens, spec, conf, K);
    double auc = stats_auc(auc_c, y, P, n, K);
    printf("pred");
    for (int i = 0; i < n; i++) printf(" %d", pred[i]);
    printf("\n");
    put("conf", cd, (long)K * K);
    put1("accuracy", stats_accuracy(conf, K));
    put1("balanced", stats_balanced_accuracy(conf, K));
    put1("f1", stats_macro_f1(conf, K));
    put("sens", sens, K);
    put("spec", spec, K);
    put1("auc", auc);
    put("auc_class", auc_c, K);
    put1("logloss", stats_log_loss(y, P, n, K));
    free(y), free(pred), free(P), free(conf), free(cd), free(sens), free(spec), free(auc_c);
}

static void do_roc(void) {
    int n = rd_int("n"), pos = rd_int("pos");
    if (n < 0) die_input("n >= 0");
    int *y = rd_ivec(n, "y");
    double *s = rd_vec(n, "score");
    double *fpr = xmalloc(sizeof(double) * (size_t)(n + 1)), *tpr = xmalloc(sizeof(double) * (size_t)(n + 1)),
           *thr = xmalloc(sizeof(double) * (size_t)(n + 1));
    int m = stats_roc_curve(fpr, tpr, thr, y, s, pos, n);
    put("fpr", fpr, m);
    put("tpr", tpr, m);
    put("thr", thr, m);
    put1("auc", stats_roc_auc(y, s, pos, n));
    free(y), free(s), free(fpr), free(tpr), free(thr);
}

static void do_summary(void) {
    int n = rd_int("n");
    double level = rd("level");
    if (n < 0) die_input("n >= 0");
    double *x = rd_vec(n, "x");
    Summary s;
    stats_summary(&s, x, n, level);
    put1("n", s.n);
    put1("mean", s.mean);
    put1("sd", s.sd);
    put1("lo", s.lo);
    put1("hi", s.hi);
    free(x);
}

static void do_ttest(void) {
    int n = rd_int("n");
    double level = rd("level");
    if (n < 0) die_input("n >= 0");
    double *a = rd_vec(n, "a"), *b = rd_vec(n, "b");
    TTest r;
    stats_ttest_paired(&r, a, b, n, level);
    put_ttest(&r);
    free(a), free(b);
}

static void do_corrected(void) {
    int J = rd_int("J");
    double ratio = rd("ratio"), level = rd("level");
    if (J < 0) die_input("J >= 0");
    double *d = rd_vec(J, "d");
    TTest r;
    stats_ttest_corrected(&r, d, J, ratio, level);
    put_ttest(&r);
    free(d);
}

static void do_5x2cv(void) {
    double level = rd("level"), p[10];
    for (int i = 0; i < 10; i++) p[i] = rd("p");
    TTest r;
    stats_5x2cv(&r, p, level);
    put_ttest(&r);
}

static void put_mcnemar(const McNemar *r) {
    put1("b", (double)r->b);
    put1("c", (double)r->c);
    put1("exact", r->exact);
    put1("statistic", r->statistic);
    put1("p", r->p);
}

static void do_mcnemar(void) {
    int n = rd_int("n");
    if (n < 0) die_input("n >= 0");
    uint8_t *a = xmalloc((size_t)n + 1), *b = xmalloc((size_t)n + 1);
    for (int i = 0; i < n; i++) a[i] = (uint8_t)rd_int("correct_a");
    for (int i = 0; i < n; i++) b[i] = (uint8_t)rd_int("correct_b");
    McNemar r;
    stats_mcnemar(&r, a, b, n);
    put_mcnemar(&r);
    free(a), free(b);
}

static void do_mcnemar_bc(void) {
    long b, c;
    if (scanf("%ld %ld", &b, &c) != 2 || b < 0 || c < 0) die_input("b c");
    McNemar r;
    stats_mcnemar_counts(&r, b, c);
    put_mcnemar(&r);
}

static void do_delong(void) {
    int n = rd_int("n"), pos = rd_int("pos");
    double level = rd("level");
    if (n < 0) die_input("n >= 0");
    int *y = rd_ivec(n, "y");
    double *a = rd_vec(n, "score_a"), *b = rd_vec(n, "score_b");
    DeLong r;
    stats_delong(&r, y, a, b, pos, n, level);
    put1("n_pos", r.n_pos);
    put1("n_neg", r.n_neg);
    put1("auc_a", r.auc_a);
    put1("auc_b", r.auc_b);
    put1("var_a", r.var_a);
    put1("var_b", r.var_b);
    put1("cov", r.cov);
    put_ttest(&r.d);
    free(y), free(a), free(b);
}

static void do_sumcorr(void) {
    int J = rd_int("J");
    double ratio = rd("ratio"), level = rd("level");
    if (J < 0 || ratio < 0) die_input("J >= 0, ratio >= 0");
    double *x = rd_vec(J, "x");
    Summary s;
    stats_summary_corrected(&s, x, J, ratio, level);
    put1("n", s.n);
    put1("mean", s.mean);
    put1("sd", s.sd);
    put1("lo", s.lo);
    put1("hi", s.hi);
    free(x);
}

static void do_propci(void) {
    long k, n;
    int method;
    double level;
    if (scanf("%ld %ld %lf %d", &k, &n, &level, &method) != 4 || n < 0 || k < 0 || k > n || method < 0 ||
        method > 1)
        die_input("k n level method");
    double lo, hi;
    stats_prop_ci(&lo, &hi, k, n, level, (StatsPropMethod)method);
    put1("lo", lo);
    put1("hi", hi);
}

static void do_bayes(void) {
    int J = rd_int("J");
    double ratio = rd("ratio"), rope = rd("rope");
    if (J < 0 || ratio < 0 || rope < 0) die_input("J >= 0, ratio >= 0, rope >= 0");
    double *d = rd_vec(J, "d");
    BayesCT r;
    stats_bayes_correlated(&r, d, J, ratio, rope);
    put1("mean", r.mean);
    put1("scale", r.scale);
    put1("df", r.df);
    put1("p_left", r.p_left);
    put1("p_rope", r.p_rope);
    put1("p_right", r.p_right);
    free(d);
}

static void do_friedman(void) {
    int N = rd_int("N"), k = rd_int("k");
    if (N < 0 || k < 1) die_input("N >= 0, k >= 1");
    double *x = rd_vec((long)N * k, "x"), *rank = xmalloc(sizeof(double) * (size_t)k), stat, p;
    stats_friedman(&stat, &p, rank, x, N, k);
    put1("statistic", stat);
    put1("p", p);
    put("rank", rank, k);
    free(x), free(rank);
}

static void do_holm(void) {
    int m = rd_int("m");
    if (m < 0) die_input("m >= 0");
    double *p = rd_vec(m, "p"), *adj = xmalloc(sizeof(double) * (size_t)(m + 1));
    stats_holm(adj, p, m);
    put("adj", adj, m);
    stats_holm(p, p, m); /* in place: the same answer */
    put("inplace", p, m);
    free(p), free(adj);
}

static void do_rankz(void) {
    double ri = rd("rank_i"), rj = rd("rank_j");
    int N = rd_int("N"), k = rd_int("k");
    put1("p", stats_rank_z_p(ri, rj, N, k));
}

static void do_nemenyi(void) {
    int k = rd_int("k"), N = rd_int("N");
    put1("cd", stats_nemenyi_cd(k, N));
}

int main(void) {
    static const struct {
        const char *name;
        void (*run)(void);
    } cmds[] = {{"metrics", do_metrics}, {"roc", do_roc},         {"summary", do_summary},
                {"ttest", do_ttest},     {"corrected", do_corrected}, {"5x2cv", do_5x2cv},
                {"mcnemar", do_mcnemar}, {"mcnemar_bc", do_mcnemar_bc}, {"delong", do_delong},
                {"sumcorr", do_sumcorr}, {"propci", do_propci},   {"bayes", do_bayes},
                {"friedman", do_friedman}, {"holm", do_holm},      {"rankz", do_rankz},
                {"nemenyi", do_nemenyi}};
    char name[32];
    while (scanf("%31s", name) == 1) {
        size_t k = 0, n_cmds = sizeof cmds / sizeof cmds[0];
        while (k < n_cmds && strcmp(cmds[k].name, name) != 0) k++;
        if (k == n_cmds) {
            fprintf(stderr, "error: unknown function '%s'\n", name);
            return 2;
        }
        cmds[k].run();
        printf("end\n");
    }
    return 0;
}
