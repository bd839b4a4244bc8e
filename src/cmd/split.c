/* cmd_split.c: `hipid split`: make the cross-validation splits of a data set
 * once and store them, so that every model of a study sees the same folds.
 * The splitting and the file are data/split.c; this file parses options,
 * prints a per-fold class table and calls split_make and split_save. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/outclaim.h"
#include "hipid/cmd/cmd.h"
#include "hipid/data/dataset.h"
#include "hipid/data/split.h"

static void split_usage(FILE *f) {
    fprintf(f,
        "usage: hipid split --data D.h5 --scheme S -o splits.h5 [options]\n"
        "  --data PATH          hipid data set (HDF5)                        (required)\n"
        "  --scheme S           kfold, repeated, group, nested or holdout    [kfold]\n"
        "  --k K                folds (outer folds for nested)               [5]\n"
        "  --repeats R          repetitions (repeated, nested)               [3 repeated, 1 nested]\n"
        "  --inner-k K          inner folds per outer training set (nested)  [3]\n"
        "  --fractions T,V,E    train,val,test fractions (holdout)           [0.6,0.2,0.2]\n"
        "  --seed S                                                          [1]\n"
        "  --ignore-groups      treat every image as its own group (leaks across patients\n"
        "                       and near-duplicates: for comparisons only)\n"
        "  -o, --out PATH       splits file to write, locked while written (PATH.lock)  (required)\n"
        "Groups (patients, near-duplicates) are kept whole by every scheme when the data\n"
        "set has any: kfold/repeated/nested then use stratified group k-fold; 'group'\n"
        "always does. See docs/splits.md for the schemes and the file layout.\n");
}

static int parse_fractions(const char *s, double *fr) {
    char *end = NULL;
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        errno = 0;
        fr[i] = strtod(p, &end);
        if (end == p || errno || !(fr[i] >= 0.0 && fr[i] <= 1.0) || (i < 2 ? *end != ',' : *end != '\0'))
            goto bad;
        p = end + 1;
    }
    return HIPID_OK;
bad:
    fprintf(stderr, "hipid split: --fractions expects three numbers in [0,1] like 0.6,0.2,0.2 "
                    "(train,val,test), found '%s'\n", s);
    return HIPID_ERR;
}

/* One line per fold (first repeat) or part: test images per class. */
static void print_table(const Splits *s, const Dataset *d) {
    int K = d->n_classes, rows = s->part ? 3 : s->k;
    static const char *part_name[3] = {"train", "val", "test"};
    int *cnt = xcalloc((size_t)rows * K, sizeof(int));
    for (int i = 0; i < d->n; i++) {
        int r = s->part ? s->part[i] : s->fold_of[i];
        cnt[r * K + d->labels[i]]++;
    }
    printf("%-6s %7s", s->part ? "part" : "fold", "images");
    for (int c = 0; c < K; c++) printf(" %10.10s", d->class_names[c]);
    printf("\n");
    for (int r = 0; r < rows; r++) {
        int tot = 0;
        for (int c = 0; c < K; c++) tot += cnt[r * K + c];
        if (s->part) printf("%-6s %7d", part_name[r], tot);
        else printf("%-6d %7d", r, tot);
        for (int c = 0; c < K; c++) printf(" %10d", cnt[r * K + c]);
        printf("\n");
    }
    free(cnt);
}

static const struct option split_opts[] = {
    {"data", required_argument, 0, 'd'},    {"scheme", required_argument, 0, 'S'},
    {"k", required_argument, 0, 'k'},       {"repeats", required_argument, 0, 'r'},
    {"inner-k", required_argument, 0, 'i'}, {"fractions", required_argument, 0, 'f'},
    {"seed", required_argument, 0, 's'},    {"ignore-groups", no_argument, 0, 'G'},
    {"out", required_argument, 0, 'o'},     {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

/* What the command line asks for besides the splits' own parameters. */
typedef struct {
    const char *data, *out;
    int use_groups, have_fractions;
} SplitArgs;

static int parse_seed(const char *s, uint64_t *seed) {
    char *end = NULL;
    errno = 0;
    *seed = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-') {
        fprintf(stderr, "hipid split: --seed expects a non-negative integer, found '%s'\n", s);
        return HIPID_ERR;
    }
    return HIPID_OK;
}

/* The options that apply to one scheme only, and the schemes' defaults
 * (repeated: 3 repeats; nested: 3 inner folds; else 1 repeat). */
static int check_scheme(Splits *s, const SplitArgs *a) {
    int is_repeated = strcmp(s->scheme, "repeated") == 0, is_nested = strcmp(s->scheme, "nested") == 0;
    if (s->repeats && !is_repeated && !is_nested) {
        fprintf(stderr, "hipid split: --repeats applies to --scheme repeated or nested, not %s\n", s->scheme);
        return HIPID_ERR;
    }
    if (s->inner_k && !is_nested) {
        fprintf(stderr, "hipid split: --inner-k applies to --scheme nested only\n");
        return HIPID_ERR;
    }
    if (a->have_fractions && strcmp(s->scheme, "holdout") != 0) {
        fprintf(stderr, "hipid split: --fractions applies to --scheme holdout only\n");
        return HIPID_ERR;
    }
    if (!s->repeats) s->repeats = is_repeated ? 3 : 1;
    if (!s->inner_k && is_nested) s->inner_k = 3;
    return HIPID_OK;
}

/* Options into s (the parameters split_make reads) and a; -1 to go on, else
 * the exit status (0 after --help, 2 for a usage error, printed here). */
static int split_parse(Splits *s, SplitArgs *a, int argc, char **argv) {
    *s = (Splits){.scheme = "kfold", .k = 5, .repeats = 0, .inner_k = 0, .seed = 1, .fractions = {0.6, 0.2, 0.2}};
    *a = (SplitArgs){.use_groups = 1};
    int c;
    double v = 0.0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", split_opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'o': a->out = optarg; break;
        case 'G': a->use_groups = 0; break;
        case 'S':
            if (strcmp(optarg, "kfold") && strcmp(optarg, "repeated") && strcmp(optarg, "group") &&
                strcmp(optarg, "nested") && strcmp(optarg, "holdout")) {
                fprintf(stderr, "hipid split: --scheme expects kfold, repeated, group, nested or "
                                "holdout, found '%s'\n", optarg);
                bad = 1;
            } else snprintf(s->scheme, sizeof s->scheme, "%s", optarg);
            break;
        case 'k': bad = cli_num("split", "k", optarg, 2, 1000, 1, &v); s->k = (int)v; break;
        case 'r': bad = cli_num("split", "repeats", optarg, 1, 1000, 1, &v); s->repeats = (int)v; break;
        case 'i': bad = cli_num("split", "inner-k", optarg, 2, 1000, 1, &v); s->inner_k = (int)v; break;
        case 'f': bad = parse_fractions(optarg, s->fractions); a->have_fractions = 1; break;
        case 's': bad = parse_seed(optarg, &s->seed); break;
        case 'h': split_usage(stdout); return 0;
        default: split_usage(stderr); return HIPID_EXIT_USAGE;
        }
        if (bad) return HIPID_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "hipid split: unexpected argument '%s' (see hipid split --help)\n", argv[optind]);
        return HIPID_EXIT_USAGE;
    }
    if (!a->data || !a->out) {
        fprintf(stderr, "hipid split: --data and -o are required (see hipid split --help)\n");
        return HIPID_EXIT_USAGE;
    }
    if (check_scheme(s, a) != HIPID_OK) return HIPID_EXIT_USAGE;
    snprintf(s->data_path, sizeof s->data_path, "%s", a->data);
    return -1;
}

/* One line: the data set, the scheme with its parameters, how groups were treated. */
static void print_summary(const Splits *s, const Dataset *d, const SplitArgs *a) {
    int is_repeated = strcmp(s->scheme, "repeated") == 0, is_nested = strcmp(s->scheme, "nested") == 0;
    printf("data %s: %d images, %d classes; scheme %s", a->data, d->n, d->n_classes, s->scheme);
    if (strcmp(s->scheme, "holdout") == 0) printf(" %g/%g/%g", s->fractions[0], s->fractions[1], s->fractions[2]);
    else printf(" k=%d", s->k);
    if (is_repeated || is_nested) printf(" repeats=%d", s->repeats);
    if (is_nested) printf(" inner-k=%d", s->inner_k);
    printf(" seed %llu; %s\n", (unsigned long long)s->seed,
           s->grouped ? "groups kept whole" : a->use_groups ? "no multi-image groups" : "groups ignored");
}

int cmd_split(int argc, char **argv) {
    Splits s;
    SplitArgs a;
    int status = split_parse(&s, &a, argc, argv);
    if (status >= 0) return status;
    ErrBuf e = {{0}};
    Dataset d;
    FsafeLock lk = {.fd = -1};
    char stale[256];
    const char *const in[] = {a.data};
    if (outclaim_take(&lk, a.out, "splits file", in, 1, stale, &e) != HIPID_OK) {
        fprintf(stderr, "hipid split: %s\n", e.msg);
        return HIPID_EXIT_FAIL;
    }
    if (stale[0]) fprintf(stderr, "hipid split: note: took over the lock of %s from %s (no longer running)\n", a.out, stale);
    if (dataset_load(&d, a.data, &e) != HIPID_OK) {
        fprintf(stderr, "hipid split: %s\n", e.msg);
        fsafe_unlock(&lk);
        return HIPID_EXIT_FAIL;
    }
    status = HIPID_EXIT_FAIL;
    if (split_make(&s, d.labels, d.groups, d.n, d.n_classes, a.use_groups, d.class_names, &e)) {
        fprintf(stderr, "hipid split: %s: %s\n", a.data, e.msg);
        goto done;
    }
    print_summary(&s, &d, &a);
    print_table(&s, &d);
    if (split_save(&s, a.out, &e)) {
        fprintf(stderr, "hipid split: %s\n", e.msg);
        goto done;
    }
    printf("wrote %s\n", a.out);
    status = 0;
done:
    split_free(&s);
    dataset_free(&d);
    fsafe_unlock(&lk);
    return status;
}
