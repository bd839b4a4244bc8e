/* cmd_synth.c: `hipid synth`: write a phantom data set of AP hip radiographs
 * (one folder per femoral-stem design) or of shoulder radiographs (one folder
 * per random humeral-implant design), plus manifest.csv. Drawing is in
 * synth.c and synth_shoulder.c, writing in synth_set.c; this file parses
 * options and guards the output folder. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>

#include "hipid/base/fsafe.h"
#include "hipid/cmd/cmd.h"
#include "hipid/data/synth.h"
#include "hipid/data/synth_set.h"
#include "hipid/data/synth_shoulder.h"

static void synth_usage(FILE *f) {
    fprintf(f,
        "usage: hipid synth --out DIR [options]\n"
        "  --out DIR            output folder, created if missing; must be empty;\n"
        "                       locked while written (DIR.lock beside it)        (required)\n"
        "  --anatomy A          hip (AP hips, a table of %d stem designs) or shoulder\n"
        "                       (shoulder films, random humeral-implant designs\n"
        "                       drawn from the seed: shoulder-000, shoulder-001, ...)  [hip]\n"
        "  --per-class N        images of the first class                         [50]\n"
        "  --classes K          number of designs: 1..%d hip, 1..%d shoulder       [6]\n"
        "  --size S             image side in pixels, 16..4096                    [128]\n"
        "  --seed X             same arguments and seed give identical files      [1]\n"
        "  --imbalance R        class sizes fall geometrically from N to N/R      [1]\n"
        "  --threads T          OpenMP threads (output does not depend on T)      [OMP_NUM_THREADS or all]\n"
        "  --force              write into a non-empty DIR (overwrites, deletes nothing)\n"
        "  --list-designs       print the designs (shoulder: of --seed and --classes) and exit\n"
        "writes DIR/<design>/pNNNN_vV.png (8-bit grey) and DIR/manifest.csv\n"
        "(path,label,patient_id,side); each patient has 2-4 views of one hip or shoulder.\n",
        synth_n_designs(), synth_n_designs(), SYNTH_SHOULDER_MAX_CLASSES);
}

static void synth_list_shoulder(const SynthSetConfig *c) {
    printf("%-13s %6s %6s %6s %5s %6s %6s %6s %6s %5s %4s %5s %6s\n", "design", "length", "w_prox", "w_dist", "incl",
           "head_r", "head_h", "offset", "collar", "gap", "fins", "holes", "slot");
    for (int k = 0; k < c->n_classes; k++) {
        ShoulderDesign d;
        char name[64];
        synth_shoulder_design(&d, c->seed, k);
        synth_class_name(name, sizeof name, SYNTH_SHOULDER, k);
        printf("%-13s %6.3f %6.3f %6.3f %5.0f %6.3f %6.2f %6.3f %6.3f %5.3f %4d %5d %6.3f\n", name, d.length, d.w_prox,
               d.w_dist, d.incl_deg, d.head_r, d.head_h, d.head_off, d.collar_t, d.gap, d.n_fins, d.n_holes, d.slot);
    }
}

static void synth_list_designs(void) {
    printf("%-20s %-26s %6s %6s %6s %4s %6s %4s %7s %6s\n", "design", "family", "length", "w_prox", "w_dist", "nsa",
           "collar", "fen", "modular", "cement");
    for (int i = 0; i < synth_n_designs(); i++) {
        const SynthDesign *d = synth_design(i);
        printf("%-20s %-26s %6.3f %6.3f %6.3f %4.0f %6.3f %4d %7d %6.3f\n", d->name, d->family, d->length, d->w_prox,
               d->w_dist, d->nsa_deg, d->collar, d->n_fen, d->modular, d->cement);
    }
}

static int opt_seed(const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || s[0] == '+') {
        fprintf(stderr, "hipid synth: --seed expects a non-negative integer below 2^64, found '%s'\n", s);
        return HIPID_ERR;
    }
    *out = (uint64_t)v;
    return HIPID_OK;
}

/* 1 if path is missing (or unreachable: creating it will report why) or an
 * empty directory, 0 if a non-empty directory, -1 if it exists but is not a
 * directory (errno ENOTDIR) or cannot be read (errno set). */
static int dir_is_empty(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return 1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *ent;
    int empty = 1;
    while ((ent = readdir(d)) != NULL)
        if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

static const struct option synth_opts[] = {
    {"out", required_argument, 0, 'o'},     {"per-class", required_argument, 0, 'n'},
    {"classes", required_argument, 0, 'k'}, {"size", required_argument, 0, 'S'},
    {"seed", required_argument, 0, 's'},    {"imbalance", required_argument, 0, 'r'},
    {"threads", required_argument, 0, 't'}, {"force", no_argument, 0, 'f'},
    {"list-designs", no_argument, 0, 'l'},  {"help", no_argument, 0, 'h'},
    {"anatomy", required_argument, 0, 'a'},
    {0, 0, 0, 0}};

/* Options into cfg, *force and *threads; -1 to go on, else the exit status
 * (0 after --help or --list-designs, 2 for a usage error, printed here). */
static int synth_parse(SynthSetConfig *cfg, int *force, int *threads, int argc, char **argv) {
    *cfg = (SynthSetConfig){.per_class = 50, .n_classes = 6, .size = 128, .seed = 1, .imbalance = 1.0,
                            .anatomy = SYNTH_HIP};
    int list = 0;
    *force = 0;
    *threads = omp_get_max_threads();
    int c;
    double v;
    optind = 1;
    opterr = 0; /* one-line errors of our own below */
    while ((c = getopt_long(argc, argv, ":h", synth_opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'o': cfg->out_dir = optarg; break;
        case 'f': *force = 1; break;
        case 'n': bad = cli_num("synth", "per-class", optarg, 1, 1e7, 1, &v); cfg->per_class = (int)v; break;
        case 'k': bad = cli_num("synth", "classes", optarg, 1, SYNTH_SHOULDER_MAX_CLASSES, 1, &v); cfg->n_classes = (int)v; break;
        case 'S': bad = cli_num("synth", "size", optarg, 16, 4096, 1, &v); cfg->size = (int)v; break;
        case 'r': bad = cli_num("synth", "imbalance", optarg, 1, 1e6, 0, &v); cfg->imbalance = v; break;
        case 't': bad = cli_threads("synth", optarg, threads); break;
        case 's': bad = opt_seed(optarg, &cfg->seed); break;
        case 'l': list = 1; break;
        case 'a':
            if (strcmp(optarg, "hip") == 0) cfg->anatomy = SYNTH_HIP;
            else if (strcmp(optarg, "shoulder") == 0) cfg->anatomy = SYNTH_SHOULDER;
            else {
                fprintf(stderr, "hipid synth: --anatomy expects hip or shoulder, found '%s'\n", optarg);
                return HIPID_EXIT_USAGE;
            }
            break;
        case 'h': synth_usage(stdout); return 0;
        case ':':
            fprintf(stderr, "hipid synth: option '%s' needs a value (see hipid synth --help)\n", argv[optind - 1]);
            return HIPID_EXIT_USAGE;
        default:
            fprintf(stderr, "hipid synth: unknown option '%s' (see hipid synth --help)\n", argv[optind - 1]);
            return HIPID_EXIT_USAGE;
        }
        if (bad) return HIPID_EXIT_USAGE;
    }
    if (cfg->n_classes > synth_max_classes(cfg->anatomy)) {
        fprintf(stderr, "hipid synth: --classes expects at most %d for --anatomy %s, found %d\n",
                synth_max_classes(cfg->anatomy), cfg->anatomy == SYNTH_SHOULDER ? "shoulder" : "hip", cfg->n_classes);
        return HIPID_EXIT_USAGE;
    }
    if (list) {
        if (cfg->anatomy == SYNTH_SHOULDER) synth_list_shoulder(cfg);
        else synth_list_designs();
        return 0;
    }
    if (optind < argc) {
        fprintf(stderr, "hipid synth: unexpected argument '%s' (see hipid synth --help)\n", argv[optind]);
        return HIPID_EXIT_USAGE;
    }
    if (!cfg->out_dir || !*cfg->out_dir) {
        fprintf(stderr, "hipid synth: --out is required (see hipid synth --help)\n");
        return HIPID_EXIT_USAGE;
    }
    return -1;
}

/* The output folder must be missing or empty unless --force; -1 to go on,
 * else the exit status (printed here). */
static int check_out_dir(const char *out, int force) {
    int empty = dir_is_empty(out), err = errno;
    if (empty < 0) {
        fprintf(stderr, "hipid synth: --out %s: %s\n", out,
                err == ENOTDIR ? "exists and is not a directory" : strerror(err));
        return err == ENOTDIR ? HIPID_EXIT_USAGE : HIPID_EXIT_FAIL;
    }
    if (!empty && !force) {
        fprintf(stderr, "hipid synth: --out %s is not empty; use --force to write into it\n", out);
        return HIPID_EXIT_USAGE;
    }
    return -1;
}

/* The output folder is ours while we write it: an exclusive lock on
 * DIR.lock beside it (a second synth into DIR fails naming the holder). -1
 * to go on, else the exit status (printed here). */
static int lock_out_dir(FsafeLock *lk, const char *out) {
    char lock[4200], what[4200], stale[256];
    size_t n = strlen(out);
    ErrBuf e = {{0}};
    while (n > 1 && out[n - 1] == '/') n--;
    snprintf(lock, sizeof lock, "%.*s.lock", (int)n, out);
    snprintf(what, sizeof what, "output folder %.*s", (int)n, out);
    if (fsafe_lock(lk, lock, what, 0, stale, &e) != HIPID_OK) {
        fprintf(stderr, "hipid synth: %s\n", e.msg);
        return HIPID_EXIT_FAIL;
    }
    if (stale[0]) fprintf(stderr, "hipid synth: note: took over the lock of %s from %s (no longer running)\n", out, stale);
    return -1;
}

int cmd_synth(int argc, char **argv) {
    SynthSetConfig cfg;
    int force, threads, status = synth_parse(&cfg, &force, &threads, argc, argv);
    if (status >= 0) return status;
    if ((status = check_out_dir(cfg.out_dir, force)) >= 0) return status;
    ErrBuf e = {{0}};
    FsafeLock lk = {.fd = -1};
    if ((status = lock_out_dir(&lk, cfg.out_dir)) >= 0) return status;
    /* again under the lock: a synth that held it may have filled the folder */
    if ((status = check_out_dir(cfg.out_dir, force)) >= 0) {
        fsafe_unlock(&lk);
        return status;
    }
    omp_set_num_threads(threads);
    double t0 = now_seconds();
    int n = synth_write_set(&cfg, &e);
    double dt = now_seconds() - t0;
    vips_shutdown();
    fsafe_unlock(&lk);
    if (n < 0) {
        fprintf(stderr, "hipid synth: %s\n", e.msg);
        return HIPID_EXIT_FAIL;
    }
    printf("synth: %d images, %d classes, %dx%d px, seed %llu -> %s (%.2f s, %.0f img/s, %d thread(s))\n", n,
           cfg.n_classes, cfg.size, cfg.size, (unsigned long long)cfg.seed, cfg.out_dir, dt, n / (dt > 0 ? dt : 1e-9),
           threads);
    return 0;
}
