/* dist.c: distribution quantiles (dist.h). */
#include "hipid/base/dist.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

double dist_beta_quantile(double P, double a, double b, int upper) {
    double lo = 0.0, hi = 1.0;
    for (;;) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) return mid;
        double f = upper ? gsl_cdf_beta_Q(mid, a, b) : gsl_cdf_beta_P(mid, a, b);
        if (isnan(f)) return NAN;
        if (upper ? f > P : f < P) lo = mid; /* the root lies above mid */
        else hi = mid;
    }
}
