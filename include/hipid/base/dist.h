/* dist.h: quantiles of distributions that more than one layer needs (the
 * report's intervals, the trainer's mixup draws), on GSL's CDFs. */
#ifndef HIPID_DIST_H
#define HIPID_DIST_H

/* The x in (0,1) with P(X <= x) = P (upper: P(X > x) = P), X ~ Beta(a, b), by
 * bisection of GSL's CDF down to adjacent doubles (at most ~1100 halvings,
 * about 60 in practice). Not gsl_cdf_beta_Pinv/Qinv: GSL 2.7's aborts the
 * program ("inverse failed to converge") on ordinary inputs such as a = 2,
 * b = 332, P = 0.05, and for small a = b. NaN where GSL's CDF gives up (a
 * and b near 1e6). */
double dist_beta_quantile(double P, double a, double b, int upper);

#endif
