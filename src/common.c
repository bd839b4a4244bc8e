/* common.c: error reporting, aligned allocation, clocks. */
#define _POSIX_C_SOURCE 200809L
#include "hipid/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

int hipid_err(ErrBuf *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return HIPID_ERR;
}

void hipid_die(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "hipid: internal error at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

void *xmalloc(size_t n_bytes) {
    void *p = malloc(n_bytes ? n_bytes : 1);
    if (!p) hipid_die(__FILE__, __LINE__, "out of memory allocating %zu bytes", n_bytes);
    return p;
}

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) hipid_die(__FILE__, __LINE__, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

float *xmalloc_f32(size_t n) {
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) hipid_die(__FILE__, __LINE__, "out of memory allocating %zu floats", n);
    return p;
}

float *xcalloc_f32(size_t n) {
    float *p = xmalloc_f32(n);
    memset(p, 0, n * sizeof(float));
    return p;
}

void strv_free(char **s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

long peak_rss_kb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_maxrss;
}

int cli_num(const char *cmd, const char *name, const char *s, double lo, double hi, int whole,
            double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi) || (whole && v != (double)(long long)v)) {
        fprintf(stderr, "hipid %s: --%s expects %s in [%g, %g], found '%s'\n", cmd, name,
                whole ? "an integer" : "a number", lo, hi, s);
        return HIPID_ERR;
    }
    *out = v;
    return HIPID_OK;
}

void json_write_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}
