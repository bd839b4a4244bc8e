/* job.c: job files (INI, read with libinih) and their expansion into trials.
 * See job.h for the interface and docs/jobs.md for the file format.
 *
 * Loading runs in three passes, so that the order of sections never matters:
 *  0. fsafe_read_text reads the whole file: a regular file of at most
 *     FSAFE_TEXT_MAX bytes and lines of at most FSAFE_LINE_MAX.
 *  1. libinih reads the text through job_read_line, which counts lines (the
 *     Debian build has no INI_HANDLER_LINENO) and tracks section headers; the
 *     handler only files each raw value under its section and key. Bad lines,
 *     unknown sections and keys, repeated sections and keys fail here.
 *  2. Every value is converted and range-checked, sections in a fixed order
 *     ([job], [data], [cv], [search], [run], then the families).
 *  3. Combinations of keys are checked; a message cites the line of the later
 *     of the keys involved.
 * The families' configurations (grid or random draws) are expanded at load
 * time; job_expand only crosses them with CV units and seeds.
 * Not here: reading the data set, MPI, running anything. */
#include "hipid/sweep/job.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <glib.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hipid/base/fsafe.h"
#include "hipid/data/prep.h"
#include "hipid/nn/model.h"
#include "hipid/base/rng.h"
#include "hipid/train/train.h"

#define TAG_SEARCH 0x5EA7C4u
#define MAX_KEYS 30
#define MAX_VALUES 64     /* values in one hyperparameter list */
#define MAX_CONFIGS 10000 /* configurations per family (grid product or samples) */

/* ---- the key table: sections, keys, hyperparameter kinds and defaults ---- */

enum { S_JOB, S_DATA, S_CV, S_SEARCH, S_RUN, N_FIXED, S_FAMILY = N_FIXED };

static const char *const section_names[] = {"job", "data", "cv", "search", "run", "family"};

enum { K_NAME, K_SEEDS, K_ENSEMBLE };
enum { K_PATH, K_SYNTH, K_SOURCE, K_SIZE, K_STEPS };
enum { K_SCHEME, K_K, K_REPEATS, K_INNER_K, K_FRACTIONS, K_VAL_FRACTION, K_CV_SEED, K_GROUPS };
enum { K_MODE, K_SAMPLES, K_SEARCH_SEED, K_MIN_EPOCHS, K_MAX_EPOCHS, K_ETA, K_METRIC, K_PRUNE, K_PRUNE_AFTER,
       K_PRUNE_ALPHA };
enum { K_RUN_RANKS, K_THREADS, K_CHECKPOINT, K_OUTPUT, K_RETRIES, K_STALL };
/* family keys; F_OPTIMIZER..F_CUTMIX are the hyperparameters, in grid order
 * (the first varies slowest; keys added later come last, so that the random
 * draws of the older ones, one stream per axis, stay as they were) */
enum {
    F_MODEL, F_OPTIMIZER, F_LR, F_MOMENTUM, F_WEIGHT_DECAY, F_SCHEDULE, F_STEP_SIZE, F_GAMMA,
    F_BATCH, F_MICRO_BATCH, F_EPOCHS, F_PATIENCE, F_DROPOUT, F_AUGMENT, F_BALANCE, F_STANDARDIZE,
    F_GRADIENT_SUM, F_FREEZE, F_HEAD_LR, F_WARMUP, F_LABEL_SMOOTHING, F_TTA, F_MIXUP, F_CUTMIX, F_INIT, F_RANKS, F_VAL_FRACTION,
    F_SUBSAMPLE, F_DATA, F_STEPS, N_FAMILY_KEYS
};
#define HP_FIRST F_OPTIMIZER
#define N_HP (F_CUTMIX - F_OPTIMIZER + 1)
_Static_assert(N_FAMILY_KEYS <= MAX_KEYS, "a family's keys must fit Section's arrays");

static const char *const section_keys[][MAX_KEYS] = {
    [S_JOB] = {"name", "seeds", "ensemble"},
    [S_DATA] = {"path", "synth", "source", "size", "steps"},
    [S_CV] = {"scheme", "k", "repeats", "inner_k", "fractions", "val_fraction", "seed", "groups"},
    [S_SEARCH] = {"mode", "samples", "seed", "min_epochs", "max_epochs", "eta", "metric", "prune", "prune_after",
                  "prune_alpha"},
    [S_RUN] = {"ranks_per_trial", "threads", "checkpoint_every", "output", "retries", "stall_timeout"},
    [S_FAMILY] = {"model", "optimizer", "lr", "momentum", "weight_decay", "schedule", "step_size",
                  "gamma", "batch", "micro_batch", "epochs", "patience", "dropout", "augment",
                  "balance", "standardize", "gradient_sum", "freeze", "head_lr", "warmup", "label_smoothing", "tta", "mixup", "cutmix",
                  "init", "ranks_per_trial", "val_fraction", "subsample", "data", "steps"},
};

typedef enum { V_REAL, V_INT, V_CHOICE, V_AUG } ValKind;

typedef struct {
    ValKind kind;
    double lo, hi;             /* V_REAL, V_INT: allowed range */
    int lo_open, hi_open;      /* V_REAL: bound excluded */
    const char *const *names;  /* V_CHOICE: the value stored is the index */
    const char *def;           /* default, parsed as if written in the file */
    const char *expect;        /* "expected ..." text */
} HpKey;

static const char *const yesno_names[] = {"no", "yes", NULL};
static const char *const scheme_names[] = {"holdout", "kfold", "repeated", "group", "nested", NULL};
const char *const search_mode_names[] = {"grid", "random", "halving", "hyperband", NULL};
const char *const search_metric_names[] = {"val_loss", "val_acc", NULL};
const char *const search_prune_names[] = {"none", "median", "wilcoxon", NULL};

static const HpKey hp_keys[N_HP] = {
    [F_OPTIMIZER - HP_FIRST] = {V_CHOICE, 0, 0, 0, 0, optim_kind_names, "adam", "sgd, adam or adamw"},
    [F_LR - HP_FIRST] = {V_REAL, 0, TRAIN_MAX_LR, 1, 0, NULL, "1e-3", "a learning rate > 0"},
    [F_MOMENTUM - HP_FIRST] = {V_REAL, 0, 1, 0, 1, NULL, "0.9", "a momentum in [0, 1)"},
    [F_WEIGHT_DECAY - HP_FIRST] = {V_REAL, 0, INFINITY, 0, 0, NULL, "0", "a weight decay >= 0"},
    [F_SCHEDULE - HP_FIRST] = {V_CHOICE, 0, 0, 0, 0, optim_sched_names, "constant", "constant, step or cosine"},
    [F_STEP_SIZE - HP_FIRST] = {V_INT, 1, 1e6, 0, 0, NULL, "10", "a whole number of epochs >= 1"},
    [F_GAMMA - HP_FIRST] = {V_REAL, 0, 1, 1, 0, NULL, "0.1", "a decay factor in (0, 1]"},
    [F_BATCH - HP_FIRST] = {V_INT, 2, 1 << 20, 0, 0, NULL, "32", "a batch size >= 2"},
    [F_MICRO_BATCH - HP_FIRST] = {V_INT, 0, 1 << 20, 0, 0, NULL, "0",
                                  "0 (the whole batch) or a micro-batch size >= 2"},
    [F_EPOCHS - HP_FIRST] = {V_INT, 1, 1e6, 0, 0, NULL, "20", "a number of epochs >= 1"},
    [F_PATIENCE - HP_FIRST] = {V_INT, 0, 1e6, 0, 0, NULL, "0", "a number of epochs >= 0 (0 = off)"},
    [F_DROPOUT - HP_FIRST] = {V_REAL, 0, 1, 0, 1, NULL, "spec",
                              "spec or a dropout probability in [0, 1)"},
    [F_AUGMENT - HP_FIRST] = {V_AUG, 0, 0, 0, 0, NULL, "none", "an augmentation spec"},
    [F_BALANCE - HP_FIRST] = {V_CHOICE, 0, 0, 0, 0, train_balance_names, "none", "none, loss or sampling"},
    [F_STANDARDIZE - HP_FIRST] = {V_CHOICE, 0, 0, 0, 0, yesno_names, "yes", "yes or no"},
    [F_GRADIENT_SUM - HP_FIRST] = {V_CHOICE, 0, 0, 0, 0, train_sum_names, "fixed32", "fixed32 or fixed64"},
    [F_FREEZE - HP_FIRST] = {V_INT, 0, 1e4, 0, 0, NULL, "0", "a number of layers >= 0 (spec tokens kept as init has them)"},
    [F_HEAD_LR - HP_FIRST] = {V_REAL, 0, TRAIN_MAX_LR, 0, 0, NULL, "0", "a learning rate >= 0 (0: lr)"},
    [F_WARMUP - HP_FIRST] = {V_INT, 0, 1e6, 0, 0, NULL, "0", "a number of warm-up epochs >= 0, below epochs"},
    [F_LABEL_SMOOTHING - HP_FIRST] = {V_REAL, 0, 1, 0, 1, NULL, "0", "a label smoothing in [0, 1)"},
    [F_TTA - HP_FIRST] = {V_CHOICE, 0, 0, 0, 0, tta_names, "none", "none or flip"},
    [F_MIXUP - HP_FIRST] = {V_REAL, 0, 100, 0, 0, NULL, "0", "a mixup alpha in [0, 100] (0: off)"},
    [F_CUTMIX - HP_FIRST] = {V_REAL, 0, 100, 0, 0, NULL, "0", "a cutmix alpha in [0, 100] (0: off)"},
};

/* ---- pass 1: reading lines and filing raw values ---- */

typedef struct {
    int line;              /* of the header; 0 = absent */
    char name[32];         /* family NAME */
    char *val[MAX_KEYS];   /* raw values, owned */
    int at[MAX_KEYS];      /* line of each key; 0 = not given */
} Section;

typedef struct {
    const char *path;
    char *text;            /* the whole file (fsafe_read_text), owned */
    size_t n_text, at;     /* its length and the read position */
    int line;              /* lines read so far */
    char *buf;
    size_t buf_cap;
    char **lines;          /* every line read, for syntax error messages */
    int n_lines, cap_lines;
    Section fixed[N_FIXED];
    Section fam[JOB_MAX_FAMILIES];
    int n_fam;
    Section *cur;          /* section of the current line; NULL before the first */
    int cur_kind;          /* S_* of cur */
    int cur_bad;           /* the current header was rejected: ignore its keys */
    ErrBuf *e;
    int failed;            /* line of the first error, which e holds; 0 = none */
} Parser;

/* Record the first error of pass 1 (fmt includes "FILE:LINE: "). */
static void parse_fail(Parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void parse_fail(Parser *p, const char *fmt, ...) {
    if (p->failed) return;
    p->failed = p->line;
    if (!p->e) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->e->msg, sizeof p->e->msg, fmt, ap);
    va_end(ap);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int name_ok(const char *s, const char *extra) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s)) return 0;
    return 1;
}

/* A "[...]" line: switch the current section, or record why not. */
static void open_section(Parser *p, char *name) {
    p->cur = NULL;
    p->cur_bad = 1;
    for (int s = 0; s < N_FIXED; s++) {
        if (strcmp(name, section_names[s]) != 0) continue;
        Section *sec = &p->fixed[s];
        if (sec->line) {
            parse_fail(p, "%s:%d: [%s]: expected each section once, found a second [%s] (first at line %d)",
                       p->path, p->line, name, name, sec->line);
            return;
        }
        sec->line = p->line;
        p->cur = sec, p->cur_kind = s, p->cur_bad = 0;
        return;
    }
    if (strncmp(name, "family", 6) == 0 && (name[6] == '\0' || isspace((unsigned char)name[6]))) {
        char *fname = trim(name + 6);
        if (!*fname) {
            parse_fail(p, "%s:%d: [family]: expected a family name, [family NAME], found none", p->path, p->line);
            return;
        }
        if (!name_ok(fname, "_-") || strlen(fname) >= sizeof p->fam[0].name) {
            parse_fail(p, "%s:%d: [family %s]: expected a family name of 1 to %zu characters "
                          "from A-Z a-z 0-9 _ -, found '%s'",
                       p->path, p->line, fname, sizeof p->fam[0].name - 1, fname);
            return;
        }
        for (int i = 0; i < p->n_fam; i++)
            if (strcmp(p->fam[i].name, fname) == 0) {
                parse_fail(p, "%s:%d: [family %s]: expected a new family name, found '%s' again "
                              "(first at line %d)", p->path, p->line, fname, fname, p->fam[i].line);
                return;
            }
        if (p->n_fam == JOB_MAX_FAMILIES) {
            parse_fail(p, "%s:%d: [family %s]: expected at most %d families, found more",
                       p->path, p->line, fname, JOB_MAX_FAMILIES);
            return;
        }
        Section *sec = &p->fam[p->n_fam++];
        snprintf(sec->name, sizeof sec->name, "%s", fname);
        sec->line = p->line;
        p->cur = sec, p->cur_kind = S_FAMILY, p->cur_bad = 0;
        return;
    }
    parse_fail(p, "%s:%d: [%s]: expected one of job, data, cv, search, family NAME, run, found '%s'",
               p->path, p->line, name, name);
}

/* libinih's reader: fgets semantics, plus line counting and section tracking.
 * It runs before libinih handles the line, so p->line is the line the
 * handler is called for. */
static char *job_read_line(char *str, int num, void *stream) {
    Parser *p = stream;
    if (p->at >= p->n_text) return NULL;
    const char *nl = memchr(p->text + p->at, '\n', p->n_text - p->at);
    size_t len = nl ? (size_t)(nl - (p->text + p->at)) + 1 : p->n_text - p->at;
    if (len + 1 > p->buf_cap) {
        p->buf_cap = len + 1;
        free(p->buf);
        p->buf = xmalloc(p->buf_cap);
    }
    memcpy(p->buf, p->text + p->at, len);
    p->buf[len] = '\0';
    p->at += len;
    p->line++;
    if (p->n_lines == p->cap_lines) {
        p->cap_lines = p->cap_lines ? 2 * p->cap_lines : 64;
        char **grown = realloc(p->lines, sizeof(char *) * p->cap_lines);
        HIPID_CHECK(grown != NULL);
        p->lines = grown;
    }
    p->lines[p->n_lines++] = strdup(p->buf);
    HIPID_CHECK(p->lines[p->n_lines - 1] != NULL);

    size_t body = (size_t)len;
    while (body > 0 && (p->buf[body - 1] == '\n' || p->buf[body - 1] == '\r')) body--;
    /* libinih needs room for "\r\n\0" */
    if (body > (size_t)num - 3)
        parse_fail(p, "%s:%d: expected a line of at most %d characters, found %zu", p->path, p->line,
                   num - 3, body);
    size_t n_copy = len < (size_t)num - 1 ? len : (size_t)num - 1;
    memcpy(str, p->buf, n_copy);
    str[n_copy] = '\0';

    char *s = p->buf;
    if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3; /* UTF-8 BOM */
    char *t = s;
    while (*t == ' ' || *t == '\t') t++;
    if (*t == '\0' || *t == '\n' || *t == '\r' || *t == ';' || *t == '#') return str;
    if (t > s) {
        /* libinih would read it as a continuation of the previous value */
        s[body - (size_t)(s - p->buf)] = '\0';
        parse_fail(p, "%s:%d: expected lines to start in the first column (an indented line continues "
                      "the previous value), found '%s'", p->path, p->line, s);
        return str;
    }
    if (*t == '[') {
        char *end = strchr(t, ']');
        if (end) { /* without ']' libinih reports the line */
            *end = '\0';
            open_section(p, t + 1);
        }
    }
    return str;
}

static int section_key_index(int kind, const char *name) {
    for (int k = 0; k < MAX_KEYS && section_keys[kind][k]; k++)
        if (strcmp(section_keys[kind][k], name) == 0) return k;
    return -1;
}

static int job_ini_handler(void *user, const char *section, const char *name, const char *value) {
    Parser *p = user;
    (void)section; /* job_read_line tracks sections itself, empty ones included */
    if (p->cur_bad) return 1; /* its header failed already */
    if (!p->cur) {
        parse_fail(p, "%s:%d: %s: expected a [section] header before the first key, found '%s' "
                      "outside any section", p->path, p->line, name, name);
        return 1;
    }
    int k = section_key_index(p->cur_kind, name);
    char label[48];
    if (p->cur_kind == S_FAMILY) snprintf(label, sizeof label, "[family %s]", p->cur->name);
    else snprintf(label, sizeof label, "[%s]", section_names[p->cur_kind]);
    if (k < 0) {
        char list[512] = ""; /* every key of the section; a family has about 300 characters of them */
        size_t len = 0;
        for (int i = 0; i < MAX_KEYS && section_keys[p->cur_kind][i] && len < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                    section_keys[p->cur_kind][i]);
        parse_fail(p, "%s:%d: %s: expected a key of %s (%s), found unknown key '%s'", p->path, p->line,
                   name, label, list, name);
        return 1;
    }
    if (p->cur->at[k]) {
        parse_fail(p, "%s:%d: %s: expected %s once in %s, found it again (first at line %d)", p->path,
                   p->line, name, name, label, p->cur->at[k]);
        return 1;
    }
    p->cur->at[k] = p->line;
    p->cur->val[k] = strdup(value);
    HIPID_CHECK(p->cur->val[k] != NULL);
    return 1;
}

static void parser_free(Parser *p) {
    for (int s = 0; s < N_FIXED; s++)
        for (int k = 0; k < MAX_KEYS; k++) free(p->fixed[s].val[k]);
    for (int f = 0; f < p->n_fam; f++)
        for (int k = 0; k < MAX_KEYS; k++) free(p->fam[f].val[k]);
    strv_free(p->lines, p->n_lines);
    free(p->buf);
    free(p->text);
}

/* ---- pass 2: values ---- */

/* An error about one key: "FILE:LINE: KEY: " when the key was given, else
 * "FILE:HEADER_LINE: [SECTION] KEY: ", else (no such section) "FILE: [SECTION] KEY: ". */
static int key_err(const Parser *p, const Section *sec, int kind, int key, ErrBuf *e, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int key_err(const Parser *p, const Section *sec, int kind, int key, ErrBuf *e, const char *fmt, ...) {
    char prefix[256], body[512];
    const char *kname = section_keys[kind][key];
    char label[48];
    if (kind == S_FAMILY) snprintf(label, sizeof label, "[family %s]", sec->name);
    else snprintf(label, sizeof label, "[%s]", section_names[kind]);
    if (sec->at[key]) snprintf(prefix, sizeof prefix, "%s:%d: %s", p->path, sec->at[key], kname);
    else if (sec->line) snprintf(prefix, sizeof prefix, "%s:%d: %s %s", p->path, sec->line, label, kname);
    else snprintf(prefix, sizeof prefix, "%s: %s %s", p->path, label, kname);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return hipid_err(e, "%s: %s", prefix, body);
}

/* The error of a combination of two keys, citing the later line (lines of 0,
 * defaults, lose). */
static int pair_err(const Parser *p, int line_a, const char *key_a, int line_b, const char *key_b,
                    ErrBuf *e, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int pair_err(const Parser *p, int line_a, const char *key_a, int line_b, const char *key_b,
                    ErrBuf *e, const char *fmt, ...) {
    char body[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    int line = line_b >= line_a ? line_b : line_a;
    const char *key = line_b >= line_a ? key_b : key_a;
    if (line > 0) return hipid_err(e, "%s:%d: %s: %s", p->path, line, key, body);
    return hipid_err(e, "%s: %s: %s", p->path, key, body);
}

static int later(int a, int b) { return a > b ? a : b; }

/* Strict number parsing of a whole (trimmed) string. */
static int parse_double(const char *s, double *out) {
    char *end = NULL;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return -1;
    errno = 0;
    double v = strtod(s, &end);
    while (end && isspace((unsigned char)*end)) end++;
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_long(const char *s, long *out) {
    char *end = NULL;
    while (isspace((unsigned char)*s)) s++;
    if (!*s || !(isdigit((unsigned char)*s) || ((*s == '-' || *s == '+') && isdigit((unsigned char)s[1]))))
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    while (isspace((unsigned char)*s)) s++;
    if (!isdigit((unsigned char)*s)) return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

static int choice_index(const char *const *names, const char *s) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

/* The raw value of a key, trimmed, or NULL when not given. Trimming happens
 * in place: values are owned by the parser. */
static const char *raw(const Section *sec, int key) {
    return sec->val[key] ? trim(sec->val[key]) : NULL;
}

static int get_long(const Parser *p, const Section *sec, int kind, int key, long lo, long hi, long def,
                    const char *expect, long *out, ErrBuf *e) {
    const char *v = raw(sec, key);
    long x = def;
    if (v && (parse_long(v, &x) || x < lo || x > hi))
        return key_err(p, sec, kind, key, e, "expected %s, found '%s'", expect, v);
    *out = x;
    return HIPID_OK;
}

static int get_int(const Parser *p, const Section *sec, int kind, int key, long lo, long hi, long def,
                   const char *expect, int *out, ErrBuf *e) {
    long x = def;
    if (get_long(p, sec, kind, key, lo, hi, def, expect, &x, e)) return HIPID_ERR;
    *out = (int)x;
    return HIPID_OK;
}

static int get_u64(const Parser *p, const Section *sec, int kind, int key, uint64_t def, uint64_t *out,
                   ErrBuf *e) {
    const char *v = raw(sec, key);
    *out = def;
    if (v && parse_u64(v, out))
        return key_err(p, sec, kind, key, e, "expected a seed, a whole number in [0, 2^64), found '%s'", v);
    return HIPID_OK;
}

static int get_choice(const Parser *p, const Section *sec, int kind, int key, const char *const *names,
                      int def, const char *expect, int *out, ErrBuf *e) {
    const char *v = raw(sec, key);
    int x = v ? choice_index(names, v) : def;
    if (x < 0) return key_err(p, sec, kind, key, e, "expected %s, found '%s'", expect, v);
    *out = x;
    return HIPID_OK;
}

static int load_job_section(Job *job, const Parser *p, ErrBuf *e) {
    const Section *sec = &p->fixed[S_JOB];
    const char *v = raw(sec, K_NAME);
    if (v) {
        if (!name_ok(v, "_.-") || strlen(v) >= sizeof job->name)
            return key_err(p, sec, S_JOB, K_NAME, e, "expected a name of 1 to %zu characters from "
                           "A-Z a-z 0-9 _ . -, found '%s'", sizeof job->name - 1, v);
        snprintf(job->name, sizeof job->name, "%s", v);
    } else {
        const char *base = strrchr(p->path, '/');
        base = base ? base + 1 : p->path;
        size_t n = strlen(base);
        if (n > 4 && strcmp(base + n - 4, ".ini") == 0) n -= 4;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)n, base);
        if (!name_ok(name, "_.-") || strlen(name) >= sizeof job->name)
            return key_err(p, sec, S_JOB, K_NAME, e, "expected a name of 1 to %zu characters from "
                           "A-Z a-z 0-9 _ . - (set [job] name), found '%s' from the file name",
                           sizeof job->name - 1, name);
        memcpy(job->name, name, strlen(name) + 1); /* fits: checked above */
    }
    v = raw(sec, K_SEEDS);
    if (!v) {
        job->n_seeds = 1;
        job->seeds[0] = 1;
        return HIPID_OK;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    job->n_seeds = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        uint64_t s;
        if (parse_u64(tok, &s))
            return key_err(p, sec, S_JOB, K_SEEDS, e, "expected a comma-separated list of seeds "
                           "(whole numbers >= 0), found '%s' in '%s'", trim(tok), v);
        for (int i = 0; i < job->n_seeds; i++)
            if (job->seeds[i] == s)
                return key_err(p, sec, S_JOB, K_SEEDS, e, "expected distinct seeds, found %llu twice in '%s'",
                               (unsigned long long)s, v);
        if (job->n_seeds == JOB_MAX_SEEDS)
            return key_err(p, sec, S_JOB, K_SEEDS, e, "expected at most %d seeds, found more in '%s'",
                           JOB_MAX_SEEDS, v);
        job->seeds[job->n_seeds++] = s;
    }
    if (job->n_seeds == 0 || v[strlen(v) - 1] == ',' || v[0] == ',' || strstr(v, ",,"))
        return key_err(p, sec, S_JOB, K_SEEDS, e, "expected a comma-separated list of seeds "
                       "(whole numbers >= 0), found '%s'", v);
    return HIPID_OK;
}

/* [job] ensemble = FAMILY, FAMILY, ...: two or more distinct families of the
 * job, read once the families are known. */
static int load_ensemble(Job *job, const Parser *p, ErrBuf *e) {
    const Section *sec = &p->fixed[S_JOB];
    const char *v = raw(sec, K_ENSEMBLE);
    job->n_ensemble = 0;
    if (!v) return HIPID_OK;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        int f = -1;
        for (int i = 0; i < job->n_families; i++)
            if (strcmp(job->families[i].name, tok) == 0) f = i;
        if (f < 0) {
            char names[JOB_MAX_FAMILIES * 34] = "";
            for (int i = 0; i < job->n_families; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                         job->families[i].name);
            return key_err(p, sec, S_JOB, K_ENSEMBLE, e, "expected families of this job (%s), found '%s'", names,
                           tok);
        }
        for (int i = 0; i < job->n_ensemble; i++)
            if (job->ensemble[i] == f)
                return key_err(p, sec, S_JOB, K_ENSEMBLE, e, "expected distinct families, found %s twice in '%s'",
                               tok, v);
        job->ensemble[job->n_ensemble++] = f;
    }
    if (job->n_ensemble < 2 || v[strlen(v) - 1] == ',' || v[0] == ',' || strstr(v, ",,"))
        return key_err(p, sec, S_JOB, K_ENSEMBLE, e, "expected a comma-separated list of two or more families, "
                       "found '%s'", v);
    return HIPID_OK;
}

/* "classes=6,per_class=80,size=64,seed=1": every key optional, each once. */
static int check_synth(const Parser *p, const Section *sec, const char *v, ErrBuf *e) {
    static const char *const keys[] = {"classes", "per_class", "size", "seed"};
    static const char *const expects[] = {"an integer in [1, 8]", "an integer >= 1",
                                          "an integer in [16, 4096]", "a whole number >= 0"};
    static const double lo[] = {1, 1, 16, 0}, hi[] = {8, 1e7, 4096, 1.8446744073709552e19};
    int seen[4] = {0};
    char buf[512];
    if (!*v) return key_err(p, sec, S_DATA, K_SYNTH, e, "expected e.g. classes=6,per_class=80,size=64,seed=1, "
                            "found nothing");
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        char *val = strchr(tok, '=');
        if (val) *val++ = '\0';
        char *key = trim(tok);
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(key, keys[i]) == 0) k = i;
        if (k < 0)
            return key_err(p, sec, S_DATA, K_SYNTH, e, "expected keys classes, per_class, size, seed "
                           "(e.g. classes=6,per_class=80,size=64,seed=1), found '%s'", key);
        if (seen[k]) return key_err(p, sec, S_DATA, K_SYNTH, e, "expected %s once, found it twice", key);
        seen[k] = 1;
        if (k == 3) {
            uint64_t s;
            if (!val || parse_u64(val, &s))
                return key_err(p, sec, S_DATA, K_SYNTH, e, "expected seed=%s, found '%s'", expects[k],
                               val ? trim(val) : "no value");
            continue;
        }
        long x;
        if (!val || parse_long(val, &x) || x < lo[k] || x > hi[k])
            return key_err(p, sec, S_DATA, K_SYNTH, e, "expected %s=%s, found '%s'", key, expects[k],
                           val ? trim(val) : "no value");
    }
    return HIPID_OK;
}

/* A steps value ("background, otsu, largest, invert", "none"; blanks
 * ignored) into PREP_* bits; key kind/key of section sec for the error. */
static int parse_steps(unsigned *steps, const Parser *p, const Section *sec, int kind, int key, const char *v,
                       ErrBuf *e) {
    ErrBuf pe = {{0}};
    char list[256];
    size_t n = 0;
    for (const char *c = v; *c && n + 1 < sizeof list; c++)
        if (!isspace((unsigned char)*c)) list[n++] = *c;
    list[n] = '\0';
    if (prep_parse_steps(steps, list, &pe) != HIPID_OK)
        return key_err(p, sec, kind, key, e, "%s", pe.msg + strlen("--steps: "));
    return HIPID_OK;
}

static int load_data_section(Job *job, const Parser *p, ErrBuf *e) {
    const Section *sec = &p->fixed[S_DATA];
    const char *v = raw(sec, K_PATH);
    if (!v || !*v) return key_err(p, sec, S_DATA, K_PATH, e, "expected a data set path, found nothing");
    if (strlen(v) >= sizeof job->data)
        return key_err(p, sec, S_DATA, K_PATH, e, "expected a path shorter than %zu characters, found %zu",
                       sizeof job->data, strlen(v));
    snprintf(job->data, sizeof job->data, "%s", v);
    v = raw(sec, K_SYNTH);
    if (v) {
        if (check_synth(p, sec, v, e)) return HIPID_ERR;
        snprintf(job->synth, sizeof job->synth, "%s", v);
    }
    v = raw(sec, K_SOURCE);
    if (v) {
        if (job->synth[0])
            return key_err(p, sec, S_DATA, K_SOURCE, e, "expected either source or synth, found both");
        if (!*v || strlen(v) >= sizeof job->source)
            return key_err(p, sec, S_DATA, K_SOURCE, e, "expected an image folder or manifest (.csv), found '%s'", v);
        snprintf(job->source, sizeof job->source, "%s", v);
    }
    v = raw(sec, K_SIZE);
    job->prep_size = 128;
    if (v) {
        long x;
        if (!job->source[0]) return key_err(p, sec, S_DATA, K_SIZE, e, "expected size only with source, found no source");
        if (parse_long(v, &x) || x < 8 || x > 4096)
            return key_err(p, sec, S_DATA, K_SIZE, e, "expected an image side in [8, 4096] px, found '%s'", v);
        job->prep_size = (int)x;
    }
    v = raw(sec, K_STEPS);
    job->prep_steps = PREP_ALL_STEPS;
    if (v) {
        if (!job->source[0])
            return key_err(p, sec, S_DATA, K_STEPS, e, "expected steps only with source, found no source");
        if (parse_steps(&job->prep_steps, p, sec, S_DATA, K_STEPS, v, e)) return HIPID_ERR;
    }
    return HIPID_OK;
}

static int load_cv_section(Job *job, const Parser *p, ErrBuf *e) {
    const Section *sec = &p->fixed[S_CV];
    int scheme = CV_KFOLD;
    if (get_choice(p, sec, S_CV, K_SCHEME, scheme_names, CV_KFOLD, "holdout, kfold, repeated, group or nested",
                   &scheme, e) ||
        get_int(p, sec, S_CV, K_K, 2, 100000, 5, "a number of folds >= 2", &job->k, e) ||
        get_int(p, sec, S_CV, K_REPEATS, 1, 100000, 1, "a number of repeats >= 1", &job->repeats, e) ||
        get_int(p, sec, S_CV, K_INNER_K, 2, 100000, 3, "a number of inner folds >= 2", &job->inner_k, e) ||
        get_u64(p, sec, S_CV, K_CV_SEED, 1, &job->cv_seed, e) ||
        get_choice(p, sec, S_CV, K_GROUPS, yesno_names, 1, "yes or no", &job->use_groups, e))
        return HIPID_ERR;
    job->scheme = (CvScheme)scheme;

    const char *v = raw(sec, K_VAL_FRACTION);
    job->val_fraction = 0.2;
    if (v && (parse_double(v, &job->val_fraction) || job->val_fraction < 0 || job->val_fraction > 0.5))
        return key_err(p, sec, S_CV, K_VAL_FRACTION, e, "expected a share in [0, 0.5], found '%s'", v);

    v = raw(sec, K_FRACTIONS);
    double f[3] = {0.6, 0.2, 0.2};
    if (v) {
        char buf[256], *save = NULL;
        int n = 0, bad = 0;
        snprintf(buf, sizeof buf, "%s", v);
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (n == 3 || parse_double(tok, &f[n]) || f[n] < 0) bad = 1;
            if (bad) break;
            n++;
        }
        if (bad || n != 3 || strstr(v, ",,") || v[strlen(v) - 1] == ',')
            return key_err(p, sec, S_CV, K_FRACTIONS, e, "expected three shares >= 0 "
                           "TRAIN, VAL, TEST (e.g. 0.6, 0.2, 0.2), found '%s'", v);
        if (fabs(f[0] + f[1] + f[2] - 1.0) > 1e-6)
            return key_err(p, sec, S_CV, K_FRACTIONS, e, "expected shares summing to 1, found '%s' "
                           "(sum %.9g)", v, f[0] + f[1] + f[2]);
        if (!(f[0] > 0))
            return key_err(p, sec, S_CV, K_FRACTIONS, e, "expected a training share > 0, found '%s'", v);
    }

    /* keys that belong to other schemes */
    int scheme_at = sec->at[K_SCHEME];
    const char *sname = scheme_names[scheme];
    if (sec->at[K_INNER_K] && job->scheme != CV_NESTED)
        return pair_err(p, sec->at[K_INNER_K], "inner_k", scheme_at, "scheme", e,
                        "expected inner_k only with scheme = nested, found scheme = %s", sname);
    if (sec->at[K_FRACTIONS] && job->scheme != CV_HOLDOUT)
        return pair_err(p, sec->at[K_FRACTIONS], "fractions", scheme_at, "scheme", e,
                        "expected fractions only with scheme = holdout, found scheme = %s", sname);
    if (sec->at[K_VAL_FRACTION] && job->scheme == CV_HOLDOUT)
        return pair_err(p, sec->at[K_VAL_FRACTION], "val_fraction", scheme_at, "scheme", e,
                        "expected val_fraction only with k-fold schemes (holdout takes fractions), "
                        "found scheme = holdout");
    if (sec->at[K_K] && job->scheme == CV_HOLDOUT)
        return pair_err(p, sec->at[K_K], "k", scheme_at, "scheme", e,
                        "expected k only with k-fold schemes, found scheme = holdout");
    if (job->scheme == CV_HOLDOUT) {
        job->k = 1; /* one test part */
        job->val_fraction = 0;
        memcpy(job->fractions, f, sizeof f);
    } else {
        memset(job->fractions, 0, sizeof job->fractions);
    }
    if (job->scheme != CV_NESTED) job->inner_k = 0;
    return HIPID_OK;
}

/* [search]: the mode, and the rungs and pruning of halving.h. Needs [cv]
 * (pruning and promotion compare validation metrics). */
static int load_search_section(Job *job, const Parser *p, ErrBuf *e) {
    const Section *sec = &p->fixed[S_SEARCH];
    if (get_choice(p, sec, S_SEARCH, K_MODE, search_mode_names, SEARCH_GRID, "grid, random, halving or hyperband",
                   &job->search, e) ||
        get_int(p, sec, S_SEARCH, K_SAMPLES, 1, MAX_CONFIGS, 10, "a number of configurations in [1, 10000]",
                &job->samples, e) ||
        get_u64(p, sec, S_SEARCH, K_SEARCH_SEED, 1, &job->search_seed, e) ||
        get_int(p, sec, S_SEARCH, K_MIN_EPOCHS, 1, 1000000, 1, "a whole number of epochs >= 1", &job->min_epochs, e) ||
        get_int(p, sec, S_SEARCH, K_MAX_EPOCHS, 1, 1000000, 0, "a whole number of epochs >= 1", &job->max_epochs, e) ||
        get_int(p, sec, S_SEARCH, K_ETA, 2, 1000, 3, "a whole number >= 2 (the share kept per rung is 1/eta)",
                &job->eta, e) ||
        get_choice(p, sec, S_SEARCH, K_METRIC, search_metric_names, SEARCH_METRIC_VAL_LOSS, "val_loss or val_acc",
                   &job->metric, e) ||
        get_choice(p, sec, S_SEARCH, K_PRUNE, search_prune_names, SEARCH_PRUNE_NONE, "none, median or wilcoxon",
                   &job->prune, e) ||
        get_int(p, sec, S_SEARCH, K_PRUNE_AFTER, 1, 1000000, 0,
                "a number of CV units >= 1 before a configuration can be pruned", &job->prune_after, e))
        return HIPID_ERR;
    job->prune_alpha = 0.05;
    const char *v = raw(sec, K_PRUNE_ALPHA);
    if (v && (parse_double(v, &job->prune_alpha) || !(job->prune_alpha > 0 && job->prune_alpha < 1)))
        return key_err(p, sec, S_SEARCH, K_PRUNE_ALPHA, e, "expected a p-value threshold in (0, 1), found '%s'", v);
    int staged = job->search >= SEARCH_HALVING, mode_at = sec->at[K_MODE];
    const char *mode = search_mode_names[job->search];
    job->random = job->search == SEARCH_RANDOM || (staged && sec->at[K_SAMPLES]);
    if (!job->random && sec->at[K_SAMPLES])
        return pair_err(p, sec->at[K_SAMPLES], "samples", mode_at, "mode", e,
                        "expected samples only with mode = random, halving or hyperband, found mode = %s", mode);
    if (!job->random) job->samples = 0;
    static const int rung_keys[] = {K_MIN_EPOCHS, K_MAX_EPOCHS, K_ETA};
    for (int k = 0; k < 3 && !staged; k++)
        if (sec->at[rung_keys[k]])
            return pair_err(p, sec->at[rung_keys[k]], section_keys[S_SEARCH][rung_keys[k]], mode_at, "mode", e,
                            "expected %s only with mode = halving or hyperband, found mode = %s",
                            section_keys[S_SEARCH][rung_keys[k]], mode);
    if ((sec->at[K_PRUNE_AFTER] || sec->at[K_PRUNE_ALPHA]) && job->prune == SEARCH_PRUNE_NONE) {
        int k = sec->at[K_PRUNE_AFTER] ? K_PRUNE_AFTER : K_PRUNE_ALPHA;
        return pair_err(p, sec->at[k], section_keys[S_SEARCH][k], sec->at[K_PRUNE], "prune", e,
                        "expected %s only with prune = median or wilcoxon, found prune = none",
                        section_keys[S_SEARCH][k]);
    }
    if (sec->at[K_PRUNE_ALPHA] && job->prune != SEARCH_PRUNE_WILCOXON)
        return pair_err(p, sec->at[K_PRUNE_ALPHA], "prune_alpha", sec->at[K_PRUNE], "prune", e,
                        "expected prune_alpha only with prune = wilcoxon, found prune = median");
    if (!staged) {
        job->min_epochs = job->max_epochs = job->eta = 0;
    } else {
        if (!sec->at[K_MAX_EPOCHS])
            return key_err(p, sec, S_SEARCH, K_MODE, e, "expected max_epochs (the last rung's epochs) with "
                           "mode = %s, found none", mode);
        if (job->min_epochs > job->max_epochs)
            return pair_err(p, sec->at[K_MIN_EPOCHS], "min_epochs", sec->at[K_MAX_EPOCHS], "max_epochs", e,
                            "expected min_epochs <= max_epochs, found %d > %d", job->min_epochs, job->max_epochs);
    }
    /* promotion and pruning compare validation metrics */
    double val = job->scheme == CV_HOLDOUT ? job->fractions[1] : job->val_fraction;
    if ((staged || job->prune != SEARCH_PRUNE_NONE) && !(val > 0)) {
        const Section *cv = &p->fixed[S_CV];
        int at = cv->at[job->scheme == CV_HOLDOUT ? K_FRACTIONS : K_VAL_FRACTION];
        const char *vkey = job->scheme == CV_HOLDOUT ? "fractions" : "val_fraction";
        return pair_err(p, staged ? mode_at : sec->at[K_PRUNE], staged ? "mode" : "prune", at ? at : cv->line, vkey, e,
                        "expected a validation share > 0 in [cv] %s (%s compares validation %s), found 0", vkey,
                        staged ? mode : search_prune_names[job->prune], job->metric ? "accuracy" : "loss");
    }
    return HIPID_OK;
}

static int load_run_section(Job *job, int *ranks, const Parser *p, ErrBuf *e) {
    const Section *sec = &p->fixed[S_RUN];
    if (get_int(p, sec, S_RUN, K_RUN_RANKS, 1, 1 << 20, 1, "a number of ranks >= 1", ranks, e) ||
        get_int(p, sec, S_RUN, K_THREADS, 1, 4096, 1, "a number of threads per rank >= 1", &job->threads, e) ||
        get_int(p, sec, S_RUN, K_CHECKPOINT, 0, 1000000, 1, "a number of epochs >= 0 (0 = never)",
                &job->checkpoint_every, e) ||
        get_int(p, sec, S_RUN, K_RETRIES, 0, 1000, 2, "a number of retries >= 0", &job->retries, e) ||
        get_int(p, sec, S_RUN, K_STALL, 0, 1000000, 300, "a number of seconds >= 0 (0 = wait forever)",
                &job->stall_timeout, e))
        return HIPID_ERR;
    const char *v = raw(sec, K_OUTPUT);
    if (v && !*v) return key_err(p, sec, S_RUN, K_OUTPUT, e, "expected a folder, found nothing");
    if (v && strlen(v) >= sizeof job->output)
        return key_err(p, sec, S_RUN, K_OUTPUT, e, "expected a folder shorter than %zu characters, found %zu",
                       sizeof job->output, strlen(v));
    if (v) snprintf(job->output, sizeof job->output, "%s", v);
    else snprintf(job->output, sizeof job->output, "results/%s", job->name);
    return HIPID_OK;
}

/* ---- families: hyperparameter axes ---- */

enum { DIST_LIST, DIST_UNIFORM, DIST_LOGUNIFORM };

typedef struct {
    int n;                       /* DIST_LIST: number of values */
    double v[MAX_VALUES];        /* the values (choices: the index; dropout "spec": -1) */
    AugConfig aug[MAX_VALUES];   /* augment: the configs */
    int dist;
    double a, b;                 /* DIST_UNIFORM, DIST_LOGUNIFORM: bounds */
    int line;                    /* 0 = default */
} Axis;

/* Values are stored as floats: one that is not finite as a float is out of
 * range whatever the key's bounds. */
static int real_allowed(const HpKey *k, double x) {
    return (k->lo_open ? x > k->lo : x >= k->lo) && (k->hi_open ? x < k->hi : x <= k->hi) && isfinite((float)x);
}

/* Why a real x is refused, when its bounds are not in the expect text. */
static void real_why(const HpKey *k, double x, char *why, size_t cap) {
    if (!isfinite((float)x))
        snprintf(why, cap, " (beyond the range of a 32-bit float, %g)", (double)FLT_MAX);
    else if (isfinite(k->hi) && k->hi > 1 && x > k->hi)
        snprintf(why, cap, " (the largest allowed is %g)", k->hi);
}

/* One list value; 0 on success, else why holds a parenthesised detail or "". */
static int parse_hp_value(double *x, AugConfig *aug, int key, const char *tok, char *why, size_t cap) {
    const HpKey *k = &hp_keys[key - HP_FIRST];
    why[0] = '\0';
    switch (k->kind) {
    case V_CHOICE: {
        int i = choice_index(k->names, tok);
        if (i < 0) return -1;
        *x = i;
        return 0;
    }
    case V_INT: {
        long l;
        if (!parse_long(tok, &l) && l > k->hi) snprintf(why, cap, " (the largest allowed is %.0f)", k->hi);
        if (parse_long(tok, &l) || l < k->lo || l > k->hi) return -1;
        if (key == F_MICRO_BATCH && l == 1) return -1;
        *x = (double)l;
        return 0;
    }
    case V_REAL:
        if (key == F_DROPOUT && strcmp(tok, "spec") == 0) {
            *x = -1.0;
            return 0;
        }
        if (parse_double(tok, x)) return -1;
        real_why(k, *x, why, cap);
        if (!real_allowed(k, *x)) return -1;
        return 0;
    case V_AUG: {
        ErrBuf ae = {{0}};
        if (augment_parse(aug, tok, &ae)) {
            snprintf(why, cap, " (%.*s)", (int)(cap > 4 ? cap - 4 : 0), ae.msg);
            return -1;
        }
        *x = 0;
        return 0;
    }
    }
    return -1;
}

/* Values equal as stored (reals as floats, augment as their canonical spec). */
static int hp_same(int key, const Axis *ax, int i, int j) {
    if (key == F_AUGMENT) {
        char a[256], b[256];
        augment_format(a, sizeof a, &ax->aug[i]);
        augment_format(b, sizeof b, &ax->aug[j]);
        return strcmp(a, b) == 0;
    }
    return (float)ax->v[i] == (float)ax->v[j];
}

static int parse_axis(Axis *ax, const Parser *p, const Section *sec, int key, int random, ErrBuf *e) {
    const HpKey *k = &hp_keys[key - HP_FIRST];
    const char *given = raw(sec, key);
    const char *text = given ? given : k->def;
    const char *kname = section_keys[S_FAMILY][key];
    char buf[512], why[320] = "";
    memset(ax, 0, sizeof *ax);
    ax->line = sec->at[key];
    snprintf(buf, sizeof buf, "%s", text);
    char *t = trim(buf);

    if (k->kind == V_REAL && strchr(t, '(')) {
        int dist = strncmp(t, "uniform(", 8) == 0 ? DIST_UNIFORM
                 : strncmp(t, "loguniform(", 11) == 0 ? DIST_LOGUNIFORM : -1;
        char *open = strchr(t, '('), *comma = strchr(t, ','), *close = strchr(t, ')');
        double a = 0, b = 0;
        if (dist < 0 || !comma || !close || comma > close || close[1] != '\0')
            return key_err(p, sec, S_FAMILY, key, e, "expected a list of values or uniform(a, b) or "
                           "loguniform(a, b), found '%s'", t);
        *comma = '\0', *close = '\0';
        if (parse_double(open + 1, &a) || parse_double(comma + 1, &b))
            return key_err(p, sec, S_FAMILY, key, e, "expected numbers a, b in %s(a, b), found '%s'",
                           dist == DIST_UNIFORM ? "uniform" : "loguniform", text);
        if (dist == DIST_LOGUNIFORM && !(a > 0))
            return key_err(p, sec, S_FAMILY, key, e, "expected loguniform(a, b) with a > 0, found '%s'", text);
        if (!(a < b) || !real_allowed(k, a) || !real_allowed(k, b)) {
            real_why(k, real_allowed(k, a) ? b : a, why, sizeof why);
            return key_err(p, sec, S_FAMILY, key, e, "expected a < b, both %s, found '%s'%s", k->expect, text, why);
        }
        if (!random)
            return pair_err(p, p->fixed[S_SEARCH].at[K_MODE], "mode", ax->line, kname, e,
                            "expected a list of values in grid mode (ranges need [search] mode = random), "
                            "found '%s'", text);
        ax->dist = dist, ax->a = a, ax->b = b;
        return HIPID_OK;
    }

    if (strchr(t, '('))
        return key_err(p, sec, S_FAMILY, key, e, "expected a list of values (ranges are for lr, momentum, "
                       "weight_decay, gamma, dropout), found '%s'", t);
    const char *sep = key == F_AUGMENT ? "|" : ",";
    int n_seps = 0;
    for (const char *c = t; *c; c++) n_seps += *c == sep[0];
    char *save = NULL;
    for (char *tok = strtok_r(t, sep, &save); tok; tok = strtok_r(NULL, sep, &save)) {
        tok = trim(tok);
        if (ax->n == MAX_VALUES)
            return key_err(p, sec, S_FAMILY, key, e, "expected at most %d values, found more", MAX_VALUES);
        if (!*tok || parse_hp_value(&ax->v[ax->n], &ax->aug[ax->n], key, tok, why, sizeof why))
            return key_err(p, sec, S_FAMILY, key, e, "expected %s%s, found '%s'%s", k->expect,
                           key == F_AUGMENT ? " (alternatives separated by |)" : "", tok, why);
        for (int j = 0; j < ax->n; j++)
            if (hp_same(key, ax, j, ax->n))
                return key_err(p, sec, S_FAMILY, key, e, "expected distinct values, found '%s' twice", tok);
        ax->n++;
    }
    if (ax->n == 0 || n_seps != ax->n - 1)
        return key_err(p, sec, S_FAMILY, key, e, "expected %s, found an empty value in '%s'", k->expect, text);
    return HIPID_OK;
}

/* Rewrite every do<P> token of spec to do<dropout>; -1 when the result does
 * not fit. Returns the number of tokens rewritten. */
static int rewrite_dropout(char *out, size_t cap, const char *spec, float dropout) {
    char buf[1024], num[32];
    size_t len = 0;
    int n = 0;
    snprintf(buf, sizeof buf, "%s", spec);
    fmt_shortest_float(num, sizeof num, dropout);
    out[0] = '\0';
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int is_do = strncmp(tok, "do", 2) == 0 && (isdigit((unsigned char)tok[2]) || tok[2] == '.');
        int w = is_do ? snprintf(out + len, cap - len, "%sdo%s", len ? "," : "", num)
                      : snprintf(out + len, cap - len, "%s%s", len ? "," : "", tok);
        if (w < 0 || (size_t)w >= cap - len) return -1;
        len += (size_t)w;
        n += is_do;
    }
    return n;
}

static const char *model_full_spec(const char *model) {
    const char *s = model_preset_spec(model);
    return s ? s : model;
}

/* Fill h from one value per axis: idx[a] for lists, val[a] for ranges. */
static int make_config(HParams *h, const Axis *axes, const int *idx, const double *drawn, const char *model) {
    OptConfig opt = optim_defaults();
    memset(h, 0, sizeof *h);
    double v[N_HP];
    for (int a = 0; a < N_HP; a++) v[a] = axes[a].dist == DIST_LIST ? axes[a].v[idx[a]] : drawn[a];
#define HV(key) v[(key) - HP_FIRST]
    opt.kind = (OptKind)HV(F_OPTIMIZER);
    opt.lr = (float)HV(F_LR);
    opt.momentum = (float)HV(F_MOMENTUM);
    opt.weight_decay = (float)HV(F_WEIGHT_DECAY);
    opt.sched = (SchedKind)HV(F_SCHEDULE);
    opt.step_size = (int)HV(F_STEP_SIZE);
    opt.gamma = (float)HV(F_GAMMA);
    h->batch = (int)HV(F_BATCH);
    h->micro_batch = (int)HV(F_MICRO_BATCH);
    h->epochs = (int)HV(F_EPOCHS);
    opt.epochs = h->epochs;
    h->patience = (int)HV(F_PATIENCE);
    h->dropout = HV(F_DROPOUT) < 0 ? -1.0f : (float)HV(F_DROPOUT);
    h->aug = axes[F_AUGMENT - HP_FIRST].aug[idx[F_AUGMENT - HP_FIRST]];
    h->balance = (int)HV(F_BALANCE);
    h->standardize = (int)HV(F_STANDARDIZE);
    h->gradient_sum = (int)HV(F_GRADIENT_SUM);
    h->freeze = (int)HV(F_FREEZE);
    h->head_lr = (float)HV(F_HEAD_LR);
    opt.warmup = (int)HV(F_WARMUP);
    h->label_smoothing = (float)HV(F_LABEL_SMOOTHING);
    h->mix.mixup = (float)HV(F_MIXUP);
    h->mix.cutmix = (float)HV(F_CUTMIX);
    h->tta = (int)HV(F_TTA);
#undef HV
    h->opt = opt;
    if (h->dropout < 0) {
        snprintf(h->model, sizeof h->model, "%s", model);
        return HIPID_OK;
    }
    return rewrite_dropout(h->model, sizeof h->model, model_full_spec(model), h->dropout) > 0 ? HIPID_OK
                                                                                            : HIPID_ERR;
}

static double draw_u53(Rng *r) { return (double)(rng_u64(r) >> 11) * 0x1p-53; }

/* Random search: configuration s of family f. Lists are uniform choices,
 * ranges uniform or log-uniform; each key has its own stream, keyed by
 * (search seed, family, sample, attempt) and the key's index. */
static void draw_config(int *idx, double *drawn, const Axis *axes, uint64_t seed, int f, int s, int attempt) {
    Rng base = rng_stream(seed, (uint64_t)f, (uint64_t)s, (uint64_t)attempt);
    uint64_t k0 = rng_u64(&base);
    for (int a = 0; a < N_HP; a++) {
        Rng r = rng_stream(k0, TAG_SEARCH, (uint64_t)a, 0);
        const Axis *ax = &axes[a];
        idx[a] = 0;
        drawn[a] = 0;
        if (ax->dist == DIST_LIST) idx[a] = (int)rng_below(&r, (uint32_t)ax->n);
        else if (ax->dist == DIST_UNIFORM) drawn[a] = ax->a + (ax->b - ax->a) * draw_u53(&r);
        else drawn[a] = exp(log(ax->a) + (log(ax->b) - log(ax->a)) * draw_u53(&r));
    }
}

/* SHA-256 of a whole file as 64 hex digits; HIPID_ERR with errno set when it
 * cannot be read. */
static int file_sha256(char hex[65], const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return HIPID_ERR;
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) g_checksum_update(sum, buf, (gssize)n);
    int bad = ferror(f);
    fclose(f);
    snprintf(hex, 65, "%s", g_checksum_get_string(sum));
    g_checksum_free(sum);
    if (bad) errno = EIO;
    return bad ? HIPID_ERR : HIPID_OK;
}

/* A family's model (a preset or a spec that builds), init (a readable file,
 * or "" when absent) and init's SHA-256 ("" without init), which goes into
 * the trial keys so that a checkpoint rewritten in place is not mistaken for
 * the one earlier trials started from. */
static int family_model(const char **model, const char **init, char init_sha[65], const Parser *p,
                        const Section *sec, ErrBuf *e) {
    *model = raw(sec, F_MODEL);
    if (!*model || !**model)
        return key_err(p, sec, S_FAMILY, F_MODEL, e, "expected a preset (cnn-paper, dnn-paper) or a layer "
                       "spec, found nothing");
    if (strlen(*model) >= sizeof ((HParams *)0)->model)
        return key_err(p, sec, S_FAMILY, F_MODEL, e, "expected a spec shorter than %zu characters, found %zu",
                       sizeof ((HParams *)0)->model, strlen(*model));
    ErrBuf me = {{0}};
    char cut[128];
    if (model_check_spec(*model, (Shape){1, 64, 64}, 2, &me) != HIPID_OK)
        return key_err(p, sec, S_FAMILY, F_MODEL, e, "expected a preset (cnn-paper, dnn-paper) or a layer "
                       "spec valid for 64x64 images, found '%s' (%s)", str_cut(cut, sizeof cut, *model), me.msg);
    *init = raw(sec, F_INIT) ? raw(sec, F_INIT) : "";
    if (strlen(*init) >= sizeof ((HParams *)0)->init)
        return key_err(p, sec, S_FAMILY, F_INIT, e, "expected a path shorter than %zu characters",
                       sizeof ((HParams *)0)->init);
    init_sha[0] = 0;
    if (**init && (access(*init, R_OK) != 0 || file_sha256(init_sha, *init) != HIPID_OK))
        return key_err(p, sec, S_FAMILY, F_INIT, e, "expected a readable checkpoint (hipid train --save), found "
                       "'%s' (%s)", *init, strerror(errno));
    return HIPID_OK;
}

/* Every batch and micro_batch value against each other and ranks_per_trial
 * (ranks_at: the line that set it). */
static int check_batching(const Axis *batch, const Axis *micro, int ranks, int ranks_at, const Parser *p,
                          ErrBuf *e) {
    for (int i = 0; i < batch->n; i++)
        for (int j = 0; j < micro->n; j++) {
            int b = (int)batch->v[i], mb = (int)micro->v[j];
            if (mb == 0 && ranks > 1)
                return pair_err(p, ranks_at, "ranks_per_trial", micro->line, "micro_batch", e,
                                "expected micro_batch set to batch/ranks_per_trial or less so each rank gets "
                                "whole micro-batches, found micro_batch = 0 with ranks_per_trial = %d", ranks);
            if (mb > 0 && b % mb != 0)
                return pair_err(p, batch->line, "batch", micro->line, "micro_batch", e,
                                "expected a micro_batch that divides batch, found micro_batch = %d with batch = %d",
                                mb, b);
            if (mb > 0 && b / mb < ranks) {
                /* three keys: cite the latest */
                int other = later(batch->line, ranks_at);
                return pair_err(p, other, other == batch->line ? "batch" : "ranks_per_trial", micro->line,
                                "micro_batch", e,
                                "expected at least ranks_per_trial = %d micro-batches per batch, found "
                                "batch/micro_batch = %d/%d = %d", ranks, b, mb, b / mb);
            }
        }
    return HIPID_OK;
}

/* [family] data and steps: the family's own preparation of the job's
 * films. steps needs [data] source (the films are prepared again from it,
 * at [data] size) and, without data, names the file after [data] path and
 * the steps: results/data/sh.h5 with steps background, crop is
 * results/data/sh-background-crop.h5. data alone names a data set made by
 * hipid prep. A family sharing its data path with an earlier one (of the
 * f_index before it) must ask for the same steps. */
static int family_data(Family *fam, const Parser *p, const Section *sec, int f_index, const Job *job, ErrBuf *e) {
    const char *d = raw(sec, F_DATA), *st = raw(sec, F_STEPS);
    fam->data[0] = '\0';
    fam->prep_from_source = 0;
    fam->prep_steps = 0;
    fam->data_checksum = 0;
    if (!d && !st) return HIPID_OK;
    if (st) {
        if (!job->source[0])
            return key_err(p, sec, S_FAMILY, F_STEPS, e, "expected steps only with [data] source (the family's "
                           "images are prepared from it), found no source");
        if (parse_steps(&fam->prep_steps, p, sec, S_FAMILY, F_STEPS, st, e)) return HIPID_ERR;
        if (fam->prep_steps == job->prep_steps)
            return key_err(p, sec, S_FAMILY, F_STEPS, e, "expected steps other than the job's own ([data] steps), "
                           "found the same: leave steps out to train on [data] path");
        fam->prep_from_source = 1;
    }
    if (d) {
        if (!*d || strlen(d) >= sizeof fam->data)
            return key_err(p, sec, S_FAMILY, F_DATA, e, "expected a data set path shorter than %zu characters, "
                           "found '%s'", sizeof fam->data, d);
        if (strcmp(d, job->data) == 0)
            return key_err(p, sec, S_FAMILY, F_DATA, e, "expected a data set other than [data] path (leave data "
                           "out to train on it), found '%s'", d);
        snprintf(fam->data, sizeof fam->data, "%s", d);
    } else {
        char tag[256];
        prep_steps_text(tag, sizeof tag, fam->prep_steps);
        for (char *c = tag; *c; c++)
            if (*c == ',') *c = '-';
        size_t n = strlen(job->data);
        if (n > 3 && strcmp(job->data + n - 3, ".h5") == 0) n -= 3;
        if (n + strlen(tag) + 4 >= sizeof fam->data)
            return key_err(p, sec, S_FAMILY, F_STEPS, e, "expected a [data] path short enough to name the "
                           "family's data set after it, found %zu characters", strlen(job->data));
        snprintf(fam->data, sizeof fam->data, "%.*s-%s.h5", (int)n, job->data, tag);
    }
    for (int g = 0; g < f_index; g++) {
        const Family *o = &job->families[g];
        if (strcmp(o->data, fam->data) == 0 &&
            (o->prep_from_source != fam->prep_from_source || o->prep_steps != fam->prep_steps))
            return key_err(p, sec, S_FAMILY, st ? F_STEPS : F_DATA, e, "expected the steps of [family %s], which "
                           "trains on the same data set %s, found other steps", o->name, fam->data);
    }
    return HIPID_OK;
}

static int load_family(Family *fam, const Parser *p, const Section *sec, int f_index, const Job *job,
                       int run_ranks, int run_ranks_at, ErrBuf *e) {
    snprintf(fam->name, sizeof fam->name, "%s", sec->name);
    const char *model = NULL, *init = "";
    char init_sha[65];
    if (family_model(&model, &init, init_sha, p, sec, e) || family_data(fam, p, sec, f_index, job, e))
        return HIPID_ERR;

    int ranks_at = sec->at[F_RANKS] ? sec->at[F_RANKS] : run_ranks_at;
    if (get_int(p, sec, S_FAMILY, F_RANKS, 1, 1 << 20, run_ranks, "a number of ranks >= 1",
                &fam->ranks_per_trial, e))
        return HIPID_ERR;

    /* the family's own validation share of each training set, else [cv]'s */
    const Section *cv = &p->fixed[S_CV];
    const char *vf = raw(sec, F_VAL_FRACTION);
    fam->val_fraction = job->val_fraction;
    int val_at = sec->at[F_VAL_FRACTION] ? sec->at[F_VAL_FRACTION] : cv->at[K_VAL_FRACTION];
    if (vf && job->scheme == CV_HOLDOUT)
        return pair_err(p, sec->at[F_VAL_FRACTION], "val_fraction", cv->at[K_SCHEME] ? cv->at[K_SCHEME] : cv->line,
                        "scheme", e, "expected val_fraction only with k-fold schemes (holdout takes [cv] "
                        "fractions), found scheme = holdout");
    if (vf && (parse_double(vf, &fam->val_fraction) || fam->val_fraction < 0 || fam->val_fraction > 0.5))
        return key_err(p, sec, S_FAMILY, F_VAL_FRACTION, e, "expected a share in [0, 0.5], found '%s'", vf);
    /* subagging: each trial trains on its seed's own share of the training part */
    const char *ss = raw(sec, F_SUBSAMPLE);
    fam->subsample = 1.0;
    if (ss && (parse_double(ss, &fam->subsample) || !(fam->subsample >= 0.5 && fam->subsample <= 1.0)))
        return key_err(p, sec, S_FAMILY, F_SUBSAMPLE, e, "expected a share of the training part in [0.5, 1], found "
                       "'%s'", ss);
    if (JOB_STAGED(job) && job->scheme != CV_HOLDOUT && !(fam->val_fraction > 0)) {
        int halving = job->search >= SEARCH_HALVING;
        const Section *search = &p->fixed[S_SEARCH];
        return pair_err(p, search->at[halving ? K_MODE : K_PRUNE], halving ? "mode" : "prune", val_at, "val_fraction",
                        e, "expected a validation share > 0 in [family %s] (%s compares validation %s), found 0",
                        sec->name, halving ? search_mode_names[job->search] : search_prune_names[job->prune],
                        job->metric ? "accuracy" : "loss");
    }

    if (job->search >= SEARCH_HALVING && sec->at[F_EPOCHS])
        return pair_err(p, sec->at[F_EPOCHS], "epochs", p->fixed[S_SEARCH].at[K_MAX_EPOCHS], "max_epochs", e,
                        "expected no epochs in a family with mode = %s ([search] max_epochs sets them), "
                        "found '%s'", search_mode_names[job->search], raw(sec, F_EPOCHS));
    Axis *axes = xcalloc(N_HP, sizeof(Axis));
    int rc = HIPID_ERR;
    for (int a = 0; a < N_HP; a++)
        if (parse_axis(&axes[a], p, sec, HP_FIRST + a, job->random, e)) goto done;
    if (job->search >= SEARCH_HALVING) { /* every configuration's schedule runs over max_epochs (halving.h) */
        Axis *ep = &axes[F_EPOCHS - HP_FIRST];
        ep->n = 1;
        ep->v[0] = job->max_epochs;
        ep->dist = DIST_LIST;
    }

    const Axis *pat = &axes[F_PATIENCE - HP_FIRST], *drop = &axes[F_DROPOUT - HP_FIRST];
    if (check_batching(&axes[F_BATCH - HP_FIRST], &axes[F_MICRO_BATCH - HP_FIRST], fam->ranks_per_trial, ranks_at,
                       p, e))
        goto done;

    int any_patience = 0;
    for (int i = 0; i < pat->n; i++) any_patience |= pat->v[i] > 0;
    if (any_patience) {
        if (job->scheme == CV_HOLDOUT && job->fractions[1] == 0) {
            pair_err(p, cv->at[K_FRACTIONS], "fractions", pat->line, "patience", e,
                     "expected a validation share > 0 in fractions for early stopping (patience > 0), "
                     "found fractions[1] = 0");
            goto done;
        }
        if (job->scheme != CV_HOLDOUT && fam->val_fraction == 0) {
            pair_err(p, val_at, "val_fraction", pat->line, "patience", e,
                     "expected val_fraction > 0 for early stopping (patience > 0), found val_fraction = 0");
            goto done;
        }
    }

    int any_dropout = drop->dist != DIST_LIST;
    for (int i = 0; i < drop->n; i++) any_dropout |= drop->v[i] >= 0;
    if (any_dropout) {
        char spec[1024], cut[128];
        int n = rewrite_dropout(spec, sizeof spec, model_full_spec(model), 0.5f);
        if (n == 0) {
            pair_err(p, sec->at[F_MODEL], "model", drop->line, "dropout", e,
                     "expected a model with do<P> layers, found spec without dropout ('%s')",
                     str_cut(cut, sizeof cut, model_full_spec(model)));
            goto done;
        }
        if (n < 0) {
            key_err(p, sec, S_FAMILY, F_DROPOUT, e, "expected a spec that stays below %zu characters "
                    "with dropout rewritten, found '%s'", sizeof spec, str_cut(cut, sizeof cut, model));
            goto done;
        }
    }

    /* configurations */
    double grid = 1;
    int all_lists = 1;
    for (int a = 0; a < N_HP; a++) {
        if (axes[a].dist == DIST_LIST) grid *= axes[a].n;
        else all_lists = 0;
    }
    int idx[N_HP] = {0};
    double drawn[N_HP] = {0};
    if (!job->random || (all_lists && grid <= job->samples)) {
        /* the cartesian product (random mode: a grid no larger than samples,
         * as scikit-learn's ParameterSampler) */
        if (grid > MAX_CONFIGS) {
            hipid_err(e, "%s:%d: [family %s]: expected at most %d configurations, found %.0f in the grid",
                      p->path, sec->line, sec->name, MAX_CONFIGS, grid);
            goto done;
        }
        fam->n_configs = (int)grid;
        fam->configs = xcalloc((size_t)fam->n_configs, sizeof(HParams));
        for (int c = 0; c < fam->n_configs; c++) {
            int rest = c;
            for (int a = N_HP - 1; a >= 0; a--) {
                idx[a] = rest % axes[a].n;
                rest /= axes[a].n;
            }
            HIPID_CHECK(make_config(&fam->configs[c], axes, idx, drawn, model) == HIPID_OK);
        }
    } else {
        /* random draws; all-list families are sampled without replacement */
        fam->n_configs = job->samples;
        fam->configs = xcalloc((size_t)fam->n_configs, sizeof(HParams));
        uint64_t *ids = xmalloc(sizeof(uint64_t) * (size_t)job->samples);
        for (int s = 0; s < job->samples; s++) {
            for (int attempt = 0;; attempt++) {
                HIPID_CHECK(attempt < 1000000);
                draw_config(idx, drawn, axes, job->search_seed, f_index, s, attempt);
                if (!all_lists) break;
                uint64_t id = 0;
                for (int a = 0; a < N_HP; a++) id = id * (uint64_t)axes[a].n + (uint64_t)idx[a];
                int dup = 0;
                for (int j = 0; j < s && !dup; j++) dup = ids[j] == id;
                ids[s] = id;
                if (!dup) break;
            }
            HIPID_CHECK(make_config(&fam->configs[s], axes, idx, drawn, model) == HIPID_OK);
        }
        free(ids);
    }
    /* memory at the job's batch sizes, on 64x64 images (the data set's own
     * size is checked by study_check_plan once it is known) */
    for (int c = 0; c < fam->n_configs; c++) {
        ErrBuf me = {{0}};
        if (job_check_model(&fam->configs[c], (Shape){1, 64, 64}, 2, job->threads, &me) != HIPID_OK) {
            key_err(p, sec, S_FAMILY, F_MODEL, e, "%s", me.msg);
            free(fam->configs);
            fam->configs = NULL;
            fam->n_configs = 0;
            goto done;
        }
    }
    for (int c = 0; c < fam->n_configs; c++) {
        snprintf(fam->configs[c].init, sizeof fam->configs[c].init, "%s", init);
        snprintf(fam->configs[c].init_sha256, sizeof fam->configs[c].init_sha256, "%s", init_sha);
        if (fam->configs[c].opt.warmup >= fam->configs[c].epochs) {
            key_err(p, sec, S_FAMILY, F_WARMUP, e, "expected fewer warm-up epochs than epochs, found warmup = %d "
                    "with epochs = %d", fam->configs[c].opt.warmup, fam->configs[c].epochs);
            free(fam->configs);
            fam->configs = NULL;
            fam->n_configs = 0;
            goto done;
        }
    }
    rc = HIPID_OK;
done:
    free(axes);
    return rc;
}

/* ---- the model of a configuration ---- */

int job_config_model_seen(const Family *fa, int c, int same_micro) {
    const HParams *h = &fa->configs[c];
    for (int c2 = 0; c2 < c; c2++) {
        const HParams *g = &fa->configs[c2];
        if (g->batch == h->batch && g->opt.kind == h->opt.kind && strcmp(g->model, h->model) == 0 &&
            (!same_micro || g->micro_batch == h->micro_batch))
            return 1;
    }
    return 0;
}

int job_check_model(const HParams *h, Shape in, int n_classes, int threads, ErrBuf *e) {
    /* as trainer_create allocates: the model at the whole batch, the
     * optimiser's state (SGD one copy of the parameters, Adam two) and the
     * best weights */
    int copies = (h->opt.kind == OPT_SGD ? 1 : 2) + 1;
    return model_check_memory(h->model, in, n_classes, h->batch, threads, copies, NULL, e);
}

/* ---- job_load / job_free ---- */

int job_load(Job *job, const char *path, ErrBuf *e) {
    Parser p = {.path = path, .e = e};
    memset(job, 0, sizeof *job);
    snprintf(job->path, sizeof job->path, "%s", path);
    /* a regular file of bounded size and line length: a FIFO, a device or a
     * folder given as the job is one line here, not a hang or an unbounded read */
    if (fsafe_read_text(&p.text, &p.n_text, path, "job file", FSAFE_TEXT_MAX, FSAFE_LINE_MAX, e) != HIPID_OK)
        return HIPID_ERR;
    int rc = ini_parse_stream(job_read_line, &p, job_ini_handler, &p);
    int run_ranks = 1;
    if (rc > 0 && rc <= p.n_lines) {
        /* a line libinih could not read; unless an earlier line failed already */
        if (!p.failed || rc < p.failed) {
            p.failed = 0;
            parse_fail(&p, "%s:%d: expected '[section]', 'key = value' or a comment, found '%s'", path, rc,
                       trim(p.lines[rc - 1]));
        }
    } else if (rc < 0 && !p.failed) {
        hipid_err(e, "%s: cannot parse job file (libinih error %d)", path, rc);
        goto error;
    }
    if (p.failed) goto error;

    if (load_job_section(job, &p, e) || load_data_section(job, &p, e) || load_cv_section(job, &p, e) ||
        load_search_section(job, &p, e) || load_run_section(job, &run_ranks, &p, e))
        goto error;
    if (p.n_fam == 0) {
        hipid_err(e, "%s: [family NAME]: expected at least one model family, found none", path);
        goto error;
    }
    for (int f = 0; f < p.n_fam; f++) {
        job->n_families = f + 1;
        if (load_family(&job->families[f], &p, &p.fam[f], f, job, run_ranks, p.fixed[S_RUN].at[K_RUN_RANKS], e))
            goto error;
    }
    if (load_ensemble(job, &p, e)) goto error;
    parser_free(&p);
    return HIPID_OK;
error:
    parser_free(&p);
    job_free(job);
    return HIPID_ERR;
}

void job_free(Job *job) {
    if (!job) return;
    for (int f = 0; f < job->n_families && f < JOB_MAX_FAMILIES; f++) {
        free(job->families[f].configs);
        job->families[f].configs = NULL;
        job->families[f].n_configs = 0;
    }
    job->n_families = 0;
}

/* ---- trials ---- */

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

const char *job_family_data(const Job *job, int f) {
    return job->families[f].data[0] ? job->families[f].data : job->data;
}

void job_trial_key(char *buf, size_t cap, const Job *job, const Trial *t, uint64_t data_checksum) {
    const HParams *h = &job->families[t->family].configs[t->config];
    const Family *fa = &job->families[t->family];
    if (fa->data[0]) /* the family's own data set: its identity, or a stand-in until it is loaded */
        data_checksum = fa->data_checksum ? fa->data_checksum : fnv1a64(fa->data) ^ data_checksum;
    char tune[1600] = ""; /* absent without fine-tuning: other trials keep their keys; init < 1024 */
    size_t at = 0;
    if (h->init[0] || h->freeze || h->head_lr > 0)
        at += (size_t)snprintf(tune, sizeof tune, "finetune init=%s sha256=%s freeze=%d head_lr=%.9g\n", h->init,
                               h->init_sha256, h->freeze, h->head_lr);
    if (h->opt.warmup || h->label_smoothing > 0)
        at += (size_t)snprintf(tune + at, sizeof tune - at, "recipe warmup=%d label_smoothing=%.9g\n",
                               h->opt.warmup, h->label_smoothing);
    if (mix_enabled(&h->mix))
        at += (size_t)snprintf(tune + at, sizeof tune - at, "mix mixup=%.9g cutmix=%.9g\n", h->mix.mixup,
                               h->mix.cutmix);
    if (fa->subsample < 1.0) /* absent for the whole training part: other trials keep their keys */
        at += (size_t)snprintf(tune + at, sizeof tune - at, "subsample share=%.9g\n", fa->subsample);
    if (h->tta != TTA_NONE) snprintf(tune + at, sizeof tune - at, "eval tta=%s\n", tta_names[h->tta]);
    char aug[256];
    augment_format(aug, sizeof aug, &h->aug);
    const OptConfig *o = &h->opt;
    const char *model = h->dropout < 0 ? model_full_spec(h->model) : h->model;
    snprintf(buf, cap,
             "hipid-trial 1\n"
             "data %016llx\n"
             "cv scheme=%s k=%d repeats=%d inner_k=%d fractions=%.9g,%.9g,%.9g val_fraction=%.9g "
             "seed=%llu groups=%d\n"
             "unit repeat=%d outer=%d inner=%d seed=%llu\n"
             "model %s\n"
             "opt kind=%s lr=%.9g momentum=%.9g weight_decay=%.9g beta1=%.9g beta2=%.9g eps=%.9g "
             "sched=%s step_size=%d gamma=%.9g sched_epochs=%d\n"
             "train epochs=%d batch=%d micro_batch=%d patience=%d dropout=%.9g balance=%s "
             "standardize=%d%s\n"
             "augment %s\n%s",
             (unsigned long long)data_checksum, scheme_names[job->scheme], job->k, job->repeats,
             job->inner_k, job->fractions[0], job->fractions[1], job->fractions[2],
             job->families[t->family].val_fraction, /* the family's own, else [cv]'s */
             (unsigned long long)job->cv_seed, job->use_groups, t->repeat, t->outer, t->inner,
             (unsigned long long)t->seed, model, optim_kind_names[o->kind], o->lr, o->momentum,
             o->weight_decay, o->beta1, o->beta2, o->eps, optim_sched_names[o->sched], o->step_size,
             o->gamma, o->epochs, h->epochs, h->batch, h->micro_batch, h->patience, h->dropout,
             train_balance_names[h->balance], h->standardize,
             /* absent for fixed64, the one sum before fixed32: its trials keep their keys */
             h->micro_batch > 0 && h->gradient_sum == TRAIN_SUM_FIXED32 ? " gradient_sum=fixed32" : "", aug, tune);
}

void job_trial_label(char *buf, size_t cap, const Job *job, const Trial *t) {
    char inner[24] = "";
    if (t->inner >= 0) snprintf(inner, sizeof inner, " i%d", t->inner);
    snprintf(buf, cap, "%s c%d r%d f%d%s s%llu", job->families[t->family].name, t->config, t->repeat,
             t->outer, inner, (unsigned long long)t->seed);
}

/* by hash, then id: equal hashes end up next to each other, lower id first */
static int trial_cmp_hash(const void *pa, const void *pb) {
    const Trial *a = pa, *b = pb;
    if (a->hash != b->hash) return a->hash < b->hash ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

int job_expand(Trial **trials, int *n_trials, const Job *job, uint64_t data_checksum, ErrBuf *e) {
    *trials = NULL;
    *n_trials = 0;
    int n_outer = job->scheme == CV_HOLDOUT ? 1 : job->k;
    int n_inner = job->scheme == CV_NESTED ? job->inner_k : 0;
    long per_config = (long)job->repeats * n_outer * (n_inner + 1) * job->n_seeds, total = 0;
    for (int f = 0; f < job->n_families; f++) total += per_config * job->families[f].n_configs;
    if (total > 10000000)
        return hipid_err(e, "%s: expected at most 10000000 trials, found %ld", job->path, total);
    Trial *out = xmalloc(sizeof(Trial) * (size_t)(total ? total : 1));
    char *key = xmalloc(8192);
    int n = 0;
    for (int f = 0; f < job->n_families; f++)
        for (int c = 0; c < job->families[f].n_configs; c++)
            for (int r = 0; r < job->repeats; r++)
                for (int o = 0; o < n_outer; o++)
                    for (int i = 0; i <= n_inner; i++)
                        for (int s = 0; s < job->n_seeds; s++) {
                            Trial *t = &out[n];
                            *t = (Trial){.id = n, .family = f, .config = c, .repeat = r, .outer = o,
                                         .inner = i < n_inner ? i : -1, .seed = job->seeds[s]};
                            job_trial_key(key, 8192, job, t, data_checksum);
                            t->hash = fnv1a64(key);
                            n++;
                        }
    free(key);
    HIPID_CHECK(n == total);
    /* a hash names a trial: two families with the same configuration would
     * run (and store) the same trial twice */
    Trial *sorted = xmalloc(sizeof(Trial) * (size_t)(n ? n : 1));
    memcpy(sorted, out, sizeof(Trial) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(Trial), trial_cmp_hash);
    for (int i = 1; i < n; i++) {
        if (sorted[i].hash != sorted[i - 1].hash) continue;
        const Trial *a = &sorted[i - 1], *b = &sorted[i];
        int rc = hipid_err(e, "%s: [family %s]: expected configurations distinct from every other family's, "
                              "found configuration %d equal to [family %s] configuration %d",
                           job->path, job->families[b->family].name, b->config, job->families[a->family].name,
                           a->config);
        free(sorted);
        free(out);
        return rc;
    }
    free(sorted);
    *trials = out;
    *n_trials = n;
    return HIPID_OK;
}
