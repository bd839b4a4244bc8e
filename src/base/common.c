/* common.c: error reporting, aligned allocation, clocks. */
#define _POSIX_C_SOURCE 200809L
#include "hipid/base/common.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

int names_index(const char *const *names, const char *s) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

const char *names_list(char *buf, size_t cap, const char *const *names) {
    size_t len = 0;
    int n = 0;
    while (names[n]) n++;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    return buf;
}

static int mkdir_one(const char *path, ErrBuf *e) {
    struct stat st;
    if (mkdir(path, 0777) == 0) return HIPID_OK;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return HIPID_OK;
    return hipid_err(e, "cannot create directory %s: %s", path,
                     errno == EEXIST ? "exists and is not a directory" : strerror(errno));
}

int mkdir_p(const char *path, ErrBuf *e) {
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return hipid_err(e, "output path '%s' is empty or too long", path);
    memcpy(buf, path, len + 1);
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        int rc = mkdir_one(buf, e);
        *s = '/';
        if (rc != HIPID_OK) return rc;
    }
    return mkdir_one(buf, e);
}

void fmt_shortest_float(char *out, size_t cap, float v) {
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtof(out, NULL) == v) return;
    }
}

int32_t uf_find(int32_t *parent, int32_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

void uf_union(int32_t *parent, int32_t a, int32_t b) {
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a < b) parent[b] = a;
    else if (b < a) parent[a] = b;
}

double mem_available_bytes(void) {
    double avail = -1.0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
                avail = (double)kb * 1024.0;
                break;
            }
        fclose(f);
    }
    /* a cgroup v2 limit (Slurm's --mem, a container): what is left of it */
    unsigned long long max = 0, cur = 0;
    FILE *cg = fopen("/sys/fs/cgroup/memory.max", "r");
    if (cg) {
        if (fscanf(cg, "%llu", &max) == 1) {
            FILE *cc = fopen("/sys/fs/cgroup/memory.current", "r");
            if (cc) {
                if (fscanf(cc, "%llu", &cur) != 1) cur = 0;
                fclose(cc);
            }
            double left = max > cur ? (double)(max - cur) : 0.0;
            if (avail < 0 || left < avail) avail = left;
        }
        fclose(cg);
    }
    /* HIPID_MEM_LIMIT=BYTES: a lower budget of one's own (a shared node) */
    const char *lim = getenv("HIPID_MEM_LIMIT");
    char *end = NULL;
    double own = lim ? strtod(lim, &end) : -1.0;
    if (lim && end != lim && !*end && own > 0 && (avail < 0 || own < avail)) avail = own;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (avail < 0 || (double)rl.rlim_cur < avail))
        avail = (double)rl.rlim_cur;
    return avail < 0 || avail > MEM_UNKNOWN_CAP ? MEM_UNKNOWN_CAP : avail;
}

const char *fmt_bytes(char *buf, size_t cap, double bytes) {
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    int u = 0;
    while (bytes >= 999.95 && u < 6) bytes /= 1000.0, u++;
    if (u == 0) snprintf(buf, cap, "%.0f B", bytes);
    else snprintf(buf, cap, "%.1f %s", bytes, units[u]);
    return buf;
}

const char *str_cut(char *buf, size_t cap, const char *s) {
    size_t n = strlen(s);
    if (n <= STR_CUT_KEEP) snprintf(buf, cap, "%s", s);
    else snprintf(buf, cap, "%.*s...(%zu characters)", STR_CUT_KEEP, s, n);
    return buf;
}

int threads_max(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > INT_MAX / 4) n = INT_MAX / 4;
    return 4 * (int)n;
}

int threads_parse(const char *name, const char *s, int *out, ErrBuf *e) {
    int hi = threads_max();
    char *end = NULL;
    errno = 0;
    long v = s && *s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < 1 || v > hi)
        return hipid_err(e, "%s expects an integer in [1, %d] (4 x %d cores), found '%.40s'", name, hi, hi / 4,
                         s ? s : "");
    *out = (int)v;
    return 0;
}

int cli_threads(const char *cmd, const char *s, int *out) {
    ErrBuf e = {{0}};
    if (threads_parse("--threads", s, out, &e) == 0) return HIPID_OK;
    fprintf(stderr, "hipid %s: %s\n", cmd, e.msg);
    return HIPID_ERR;
}
