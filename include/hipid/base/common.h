/* common.h: error handling, logging and small helpers shared by every module.
 *
 * Two tiers of error (STYLE.md habit 6):
 *  - HIPID_CHECK / hipid_die: a broken invariant or a resource failure. Prints
 *    file:line and aborts the process (every rank, once MPI is in play).
 *  - Bad user input: functions return HIPID_ERR and write a one-line message
 *    into a caller's ErrBuf that names the file/key, what was expected and what
 *    was found. main() prints it and exits 2 (usage) or 1 (failure).
 */
#ifndef HIPID_COMMON_H
#define HIPID_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HIPID_OK 0
#define HIPID_ERR (-1)

/* Exit statuses of the command line. */
#define HIPID_EXIT_FAIL 1
#define HIPID_EXIT_USAGE 2
/* stopped by SIGTERM / SIGUSR1 with its progress saved: run it again to continue */
#define HIPID_EXIT_INTERRUPTED 3

typedef struct {
    char msg[512];
} ErrBuf;

/* Format a message into e (if not NULL) and return HIPID_ERR. */
int hipid_err(ErrBuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

_Noreturn void hipid_die(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define HIPID_CHECK(cond)                                                      \
    do {                                                                       \
        if (!(cond)) hipid_die(__FILE__, __LINE__, "check failed: %s", #cond); \
    } while (0)

/* malloc/calloc that die on failure; sizes are element counts. */
void *xmalloc(size_t n_bytes);
void *xcalloc(size_t n, size_t size);
float *xmalloc_f32(size_t n);  /* 64-byte aligned, uninitialised */
float *xcalloc_f32(size_t n);  /* 64-byte aligned, zeroed */

/* Free an array of n malloc'd strings and the array; NULL is a no-op. */
void strv_free(char **s, int n);

double now_seconds(void);

/* Write s as a JSON string literal (quotes, escapes) to f. */
void json_write_string(FILE *f, const char *s);

/* Peak resident set size of this process in kilobytes (Linux getrusage). */
long peak_rss_kb(void);

/* Parse a command-line number strictly (the whole string, finite, within
 * [lo,hi], a whole number if `whole`); on failure print one line,
 * "hipid CMD: --NAME expects ... found '...'", and return HIPID_ERR. */
int cli_num(const char *cmd, const char *name, const char *s, double lo, double hi, int whole,
            double *out);

/* Bytes this process may still allocate: the lowest of MemAvailable from
 * /proc/meminfo, what is left of a cgroup v2 memory.max (Slurm's --mem, a
 * container), HIPID_MEM_LIMIT (bytes, e.g. 4e9) and the address-space limit
 * (RLIMIT_AS). When none is known, MEM_UNKNOWN_CAP, so a size checked against
 * it cannot overflow a size_t either. */
#define MEM_UNKNOWN_CAP 0x1p50
double mem_available_bytes(void);

/* bytes in powers of 1000 ("3.2 TB", "512 MB", "840 B") into buf; returns buf. */
const char *fmt_bytes(char *buf, size_t cap, double bytes);

/* s for a message: as is when at most STR_CUT_KEEP characters, else its
 * first STR_CUT_KEEP, "..." and its length ("c16,c16,...(20480 characters)");
 * returns buf (cap >= 96 holds every result). */
#define STR_CUT_KEEP 60
const char *str_cut(char *buf, size_t cap, const char *s);

/* Thread counts (--threads, HIPID_THREADS) are integers in [1, threads_max()],
 * threads_max() being 4 x the online cores. threads_parse: 0 and *out set
 * when s is one, else -1 and e holds "NAME expects an integer in [1, MAX]
 * (4 x N cores), found 'S'". cli_threads prints that as
 * "hipid CMD: --threads ..." and returns HIPID_ERR. */
int threads_max(void);
int threads_parse(const char *name, const char *s, int *out, ErrBuf *e);
int cli_threads(const char *cmd, const char *s, int *out);

/* The largest learning rate hipid trains with (lr and head_lr, in job files
 * and on the command line): large enough for a test to make a trial diverge
 * on purpose, small enough to stay finite as a float. */
#define TRAIN_MAX_LR 1e30

/* Name tables: a NULL-terminated array of names whose index is the enum value
 * (e.g. optim_kind_names). Returns the index of s, or -1 if s is not in it. */
int names_index(const char *const *names, const char *s);
/* "a, b or c" from a name table, for error messages; returns buf. */
const char *names_list(char *buf, size_t cap, const char *const *names);

/* Union-find over parent[] (parent[i] == i for a root): the root of x, with
 * path halving; uf_union links the larger root under the smaller one. */
int32_t uf_find(int32_t *parent, int32_t x);
void uf_union(int32_t *parent, int32_t a, int32_t b);

/* mkdir -p: create path and its missing parents (mode 0777 less the umask).
 * An existing directory is fine; anything else is a one-line error in e. */
int mkdir_p(const char *path, ErrBuf *e);

/* The shortest %g form of v (6 to 9 digits) that reads back as the same float. */
void fmt_shortest_float(char *out, size_t cap, float v);

/* Split [0,n) into n_parts contiguous ranges; part p gets [*lo,*hi). */
static inline void split_range(int n, int part, int n_parts, int *lo, int *hi) {
    int base = n / n_parts, rem = n % n_parts;
    *lo = part * base + (part < rem ? part : rem);
    *hi = *lo + base + (part < rem ? 1 : 0);
}

#endif
