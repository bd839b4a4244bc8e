/* testutil.h: small helpers shared by the C tests (header only).
 *
 * EXPECT counts a failure, prints file:line and a message, and goes on, so
 * one run shows every broken expectation; a test's main() returns
 * tu_exit_status() so that any failed expectation exits 1. REQUIRE is EXPECT
 * for a precondition the rest of the test depends on (a fixture file written,
 * a model created): a failure there exits 1 at once. Random fills use the
 * engine's explicit-state Rng so every test is replayable. The scratch folder
 * is $TEST_TMP (set by tests/run.sh), else /tmp. */
#ifndef HIPID_TESTUTIL_H
#define HIPID_TESTUTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/rng.h"

static int tu_failures, tu_checks;

/* prints one failure line; the condition is evaluated once, by the caller */
#define TU_FAIL_(cond_text, ...)                                       \
    do {                                                               \
        tu_failures++;                                                 \
        printf("FAIL %s:%d: (%s) ", __FILE__, __LINE__, cond_text);    \
        printf(__VA_ARGS__);                                           \
        printf("\n");                                                  \
        fflush(stdout);                                                \
    } while (0)

#define EXPECT(cond, ...)                                              \
    do {                                                               \
        tu_checks++;                                                   \
        if (!(cond)) TU_FAIL_(#cond, __VA_ARGS__);                     \
    } while (0)

#define REQUIRE(cond, ...)                                             \
    do {                                                               \
        tu_checks++;                                                   \
        if (!(cond)) {                                                 \
            TU_FAIL_(#cond, __VA_ARGS__);                              \
            exit(tu_exit_status());                                    \
        }                                                              \
    } while (0)

static inline int tu_exit_status(void) {
    printf("summary: %d failure(s) in %d checks\n", tu_failures, tu_checks);
    return tu_failures ? 1 : 0;
}

/* a[i] uniform in [lo,hi) */
static inline void tu_fill(float *a, long n, float lo, float hi, Rng *r) {
    for (long i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng_uniform(r);
}

static inline double tu_dot(const float *a, const float *b, long n) {
    double s = 0.0;
    for (long i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* max_i |a_i - b_i| / max(max_i |b_i|, floor): the infinity-norm ratio. */
static inline double tu_norm_rel(const float *a, const float *b, long n, double floor) {
    double d = 0.0, m = 0.0;
    for (long i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= d)) d = e; /* NaN propagates */
        if (fabs((double)b[i]) > m) m = fabs((double)b[i]);
    }
    return d / (m > floor ? m : floor);
}

/* ||a - b||_2 / max(||b||_2, floor): the 2-norm ratio. */
static inline double tu_norm2_rel(const float *a, const float *b, long n, double floor) {
    double d = 0.0, m = 0.0;
    for (long i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        d += e * e;
        m += (double)b[i] * b[i];
    }
    d = sqrt(d), m = sqrt(m);
    return d / (m > floor ? m : floor);
}

/* path under the scratch folder; returns buf */
static inline const char *tu_tmp_path(char *buf, size_t cap, const char *name) {
    const char *dir = getenv("TEST_TMP");
    snprintf(buf, cap, "%s/%s", dir && *dir ? dir : "/tmp", name);
    return buf;
}

/* Write text to a file of that name under the scratch folder; returns its
 * path (one of 8 rotating buffers, so a few stay valid at once). */
static inline const char *tu_write_text(const char *name, const char *text) {
    static char path[8][512];
    static int slot;
    char *p = path[slot++ % 8];
    tu_tmp_path(p, 512, name);
    FILE *f = fopen(p, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    return p;
}

#endif
