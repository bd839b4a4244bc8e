/* cmd_prep.c: `hipid prep`: turn a folder (or manifest) of X-rays into a
 * hipid data set.
 *
 * One image at a time: read the file (SHA-256 of its bytes), decode, run the
 * standardisation pipeline (prep.h) into its slot of the output array, hash
 * it for the leakage audit (phash.h). Only the output array grows with the
 * number of images. Afterwards: near-duplicate clusters, leakage groups,
 * summary, optional preview contact sheet, and dataset_save (temp + rename).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#include "hipid/cmd/cmd.h"
#include "hipid/data/dataset.h"
#include "hipid/data/imgsrc.h"
#include "hipid/data/phash.h"
#include "hipid/data/prep.h"

#define PREVIEW_TILE 128
#define PREVIEW_GAP 4
#define PREVIEW_LABEL_H 24
#define MAX_DUP_LINES 50

static void prep_usage(FILE *f) {
    PrepConfig c = prep_config_default(128);
    fprintf(f,
        "usage: hipid prep SRC -o OUT.h5 [options]\n"
        "  SRC                  a folder with one subfolder per class (class index = sorted\n"
        "                       folder name), or a manifest CSV (path,label[,patient_id,...];\n"
        "                       header row required; paths relative to the CSV's folder)\n"
        "  -o, --output PATH    the data set to write (HDF5, see docs/data.md)     (required)\n"
        "  --size S             output images are S x S                          [%d]\n"
        "  --steps LIST         comma list of background, otsu, largest, invert,\n"
        "                       run in that order, or none                       [%s]\n"
        "  --manifest CSV       take the image list from CSV; its paths are relative to SRC\n"
        "  --min-size PX        skip images smaller than this on either side       [%d]\n"
        "  --min-mask F         skip images whose kept mask covers less than F     [%g]\n"
        "  --bg-radius F        background median window half-width, as a fraction\n"
        "                       of the content's longer side                       [%g]\n"
        "  --binary             otsu writes 255 inside the mask instead of the grey values\n"
        "  --dup-threshold D    near-duplicates: 256-bit perceptual-hash Hamming distance\n"
        "                       <= D, mirror images included; -1 turns the audit off [%d]\n"
        "  --preview PNG        contact sheet: sampled images, one row each:\n"
        "                       original | after each step | final\n"
        "  --preview-n N        images in the contact sheet                        [8]\n"
        "  --strict             any skipped file is an error (exit 1, nothing written)\n"
        "  -q, --quiet          no per-duplicate-group lines\n"
        "Images are processed at a working size whose longer side is at most max(2S, 256).\n"
        "Skipped files (unreadable, truncated, too small, near-empty mask, missing manifest\n"
        "rows) are listed on stderr as 'skip <path>: <reason>' and kept in the output's\n"
        "'skipped' dataset. Exit status: 0 ok, 1 failure, 2 usage.\n",
        c.size, PREP_DEFAULT_STEPS, c.min_size, c.min_mask, c.bg_radius, PHASH_DEFAULT_THRESHOLD);
}

typedef struct {
    const char *out, *manifest, *preview;
    int strict, quiet, dup_threshold, preview_n;
    PrepConfig cfg;
} PrepArgs;

/* Rows of the preview contact sheet: tiles (n_rows, PREP_MAX_TILES, T, T). */
typedef struct {
    int n_rows, cap_rows, n_cols;
    uint8_t *tiles;
} Preview;

static const char *step_label(unsigned steps, int col, int n_cols) {
    static const char *names[] = {"background", "otsu", "largest", "invert"};
    if (col == 0) return "original";
    if (col == n_cols - 1) return "final";
    int k = 0;
    for (int b = 0; b < 4; b++)
        if (steps & (1u << b) && ++k == col) return names[b];
    return "?";
}

static int preview_save(const Preview *p, const char *path, unsigned steps, ErrBuf *e) {
    const int T = PREVIEW_TILE, G = PREVIEW_GAP, L = PREVIEW_LABEL_H;
    int cw = p->n_cols * (T + G) - G, ch = L + p->n_rows * (T + G) - G, rc = HIPID_ERR;
    uint8_t *canvas = xcalloc((size_t)cw * ch, 1);
    for (int c = 0; c < p->n_cols; c++) image_draw_text(canvas, cw, ch, c * (T + G) + 2, 2, step_label(steps, c, p->n_cols));
    for (int r = 0; r < p->n_rows; r++)
        for (int c = 0; c < p->n_cols; c++) {
            const uint8_t *tile = p->tiles + ((size_t)r * PREP_MAX_TILES + c) * T * T;
            for (int y = 0; y < T; y++)
                memcpy(canvas + (size_t)(L + r * (T + G) + y) * cw + c * (T + G), tile + (size_t)y * T, T);
        }
    if (image_save_png(path, canvas, cw, ch, 1, "preview", e) != HIPID_OK) goto error;
    rc = HIPID_OK;
error:
    free(canvas);
    return rc;
}

/* Fail early, before hours of work, if OUT's folder cannot take the file. */
static int check_output_dir(const char *out, ErrBuf *e) {
    char *dir = g_path_get_dirname(out);
    int ok = access(dir, W_OK) == 0;
    int err = errno;
    if (!ok) hipid_err(e, "%s: cannot write into folder %s: %s", out, dir, strerror(err));
    g_free(dir);
    return ok ? HIPID_OK : HIPID_ERR;
}

static void add_skip(char ***skipped, int *n, int *cap, const char *path, const char *reason) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 16;
        *skipped = realloc(*skipped, sizeof(char *) * *cap);
        HIPID_CHECK(*skipped);
    }
    char *line = NULL;
    if (asprintf(&line, "%s: %s", path, reason) < 0) hipid_die(__FILE__, __LINE__, "out of memory");
    (*skipped)[(*n)++] = line;
    fprintf(stderr, "skip %s: %s\n", path, reason);
}

/* Print near-duplicate clusters (size >= 2), warn when one spans classes. */
static void report_dups(const Dataset *d, const int32_t *dup, int quiet) {
    int n = d->n, lines = 0, more = 0;
    int *count = xcalloc(n ? n : 1, sizeof(int));
    for (int i = 0; i < n; i++) count[dup[i]]++;
    for (int c = 0; c < n; c++) {
        if (count[c] < 2) continue;
        int first = -1, mixed = 0;
        for (int i = 0; i < n; i++)
            if (dup[i] == c) {
                if (first < 0) first = i;
                else if (d->labels[i] != d->labels[first]) mixed = 1;
            }
        if (quiet && !mixed) continue;
        if (lines >= MAX_DUP_LINES) {
            more++;
            continue;
        }
        lines++;
        printf("%s %d:", mixed ? "warning: near-duplicates with different labels" : "dup", c);
        for (int i = first; i < n; i++)
            if (dup[i] == c) printf(" %s%s%s%s", d->source_paths[i], mixed ? " (" : "",
                                    mixed ? d->class_names[d->labels[i]] : "", mixed ? ")" : "");
        printf("\n");
    }
    if (more) printf("... and %d more duplicate groups (see dup_groups in the output)\n", more);
    free(count);
}

static int run_prep(const char *src, const PrepArgs *a) {
    const PrepConfig *c = &a->cfg;
    const int S = c->size;
    ErrBuf e = {{0}};
    ImageList l = {0};
    Dataset d = {0};
    Preview pv = {0};
    PHash *hashes = NULL;
    int32_t *dup = NULL;
    char **skipped = NULL;
    int n_skipped = 0, cap_skipped = 0, status = HIPID_EXIT_FAIL, used = 0;
    int *per_class = NULL;
    double t0 = now_seconds();
    struct stat st;

    if (check_output_dir(a->out, &e) != HIPID_OK) goto fail;
    if (a->manifest) {
        if (stat(src, &st) != 0 || !S_ISDIR(st.st_mode)) {
            hipid_err(&e, "%s: with --manifest, SRC must be the folder the manifest's paths are relative to", src);
            goto fail;
        }
        if (imgsrc_read_manifest(&l, a->manifest, src, &e) != HIPID_OK) goto fail;
    } else if (stat(src, &st) == 0 && S_ISREG(st.st_mode)) {
        if (imgsrc_read_manifest(&l, src, NULL, &e) != HIPID_OK) goto fail;
    } else if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (imgsrc_scan_folder(&l, src, &e) != HIPID_OK) goto fail;
    } else {
        hipid_err(&e, "%s: no such folder or manifest file", src);
        goto fail;
    }

    dataset_alloc(&d, l.n, S, l.n_classes);
    for (int k = 0; k < l.n_classes; k++) d.class_names[k] = strdup(l.class_names[k]);
    hashes = xcalloc(l.n ? l.n : 1, sizeof *hashes);
    per_class = xcalloc(l.n_classes, sizeof(int));
    if (a->preview) {
        pv.cap_rows = a->preview_n < l.n ? a->preview_n : l.n;
        pv.tiles = xcalloc((size_t)pv.cap_rows * PREP_MAX_TILES * PREVIEW_TILE * PREVIEW_TILE, 1);
    }
    printf("prep: %d candidate files, %d classes, from %s\n", l.n, l.n_classes, l.what);
    fflush(stdout);

    for (int i = 0; i < l.n; i++) {
        uint8_t *bytes = NULL;
        size_t n_bytes = 0;
        char sha[65], where[64] = "";
        GreyBuf g = {0};
        PrepInfo info;
        /* preview rows are spread over the list: take the first image at or
         * after each of cap_rows evenly spaced positions */
        int want_tiles = pv.n_rows < pv.cap_rows && (long)i * pv.cap_rows >= (long)pv.n_rows * l.n;
        uint8_t *tiles = want_tiles ? pv.tiles + (size_t)pv.n_rows * PREP_MAX_TILES * PREVIEW_TILE * PREVIEW_TILE : NULL;
        if (l.rows[i]) snprintf(where, sizeof where, "manifest row %d: ", l.rows[i]);
        if (imgsrc_read_file(&bytes, &n_bytes, sha, l.paths[i], &e) != HIPID_OK ||
            image_decode(&g, bytes, n_bytes, &e) != HIPID_OK ||
            prep_image(d.images + (size_t)used * S * S, &info, tiles, PREVIEW_TILE, &g, c, &e) != PREP_OK) {
            char reason[600];
            snprintf(reason, sizeof reason, "%s%s", where, e.msg);
            add_skip(&skipped, &n_skipped, &cap_skipped, l.rel_paths[i], reason);
            free(bytes);
            grey_free(&g);
            continue;
        }
        free(bytes);
        grey_free(&g);
        if (tiles) {
            pv.n_cols = info.n_tiles;
            pv.n_rows++;
        }
        d.labels[used] = l.labels[i];
        d.source_paths[used] = strdup(l.rel_paths[i]);
        d.source_sha256[used] = strdup(sha);
        d.patient_ids[used] = strdup(l.patient_ids[i]);
        hashes[used] = info.hash;
        per_class[l.labels[i]]++;
        used++;
    }
    d.n = used; /* arrays keep their capacity; the unused tail holds no strings */

    /* quality gates */
    if (a->strict && n_skipped) {
        hipid_err(&e, "%d file(s) skipped (listed above) and --strict is set; nothing written", n_skipped);
        goto fail;
    }
    for (int k = 0; k < l.n_classes; k++)
        if (per_class[k] == 0) {
            hipid_err(&e, "class '%s' has no usable image (all its files were skipped, see above)",
                      l.class_names[k]);
            goto fail;
        }

    /* leakage audit: near-duplicates, merged with patient ids into groups */
    dup = xmalloc(sizeof(int32_t) * (used ? used : 1));
    int n_dup = phash_cluster(dup, hashes, used, a->dup_threshold);
    int n_groups = prep_merge_groups(d.groups, dup, d.patient_ids, used);
    d.phash = xmalloc(sizeof(uint64_t) * PHASH_WORDS * (used ? used : 1));
    for (int i = 0; i < used; i++)
        memcpy(d.phash + (size_t)i * PHASH_WORDS, hashes[i].h[hashes[i].flip], sizeof hashes[i].h[0]);
    d.dup_groups = dup;
    dup = NULL;
    d.dup_threshold = a->dup_threshold;
    d.skipped = skipped ? skipped : xcalloc(1, sizeof(char *)); /* written even when empty */
    d.n_skipped = n_skipped;
    skipped = NULL;
    prep_describe(d.preprocessing, sizeof d.preprocessing, c);
    snprintf(d.source, sizeof d.source, "%.*s", (int)sizeof d.source - 1, l.what);

    report_dups(&d, d.dup_groups, a->quiet);
    if (a->preview && pv.n_rows > 0 && preview_save(&pv, a->preview, c->steps, &e) != HIPID_OK) goto fail;
    if (dataset_save(&d, a->out, &e) != HIPID_OK) goto fail;

    printf("prep: %d images %dx%d in %d classes, %d skipped, %.1f s\n", used, S, S, l.n_classes, n_skipped,
           now_seconds() - t0);
    for (int k = 0; k < l.n_classes; k++) printf("  class %-20s %d\n", l.class_names[k], per_class[k]);
    if (a->dup_threshold >= 0)
        printf("duplicate groups (size >= 2, 256-bit pHash distance <= %d, mirror images included): %d\n",
               a->dup_threshold, n_dup);
    else
        printf("duplicate audit off (--dup-threshold -1)\n");
    printf("leakage groups (patient ids + duplicates): %d\n", n_groups);
    printf("preprocessing: %s\n", d.preprocessing);
    if (a->preview && pv.n_rows > 0) printf("preview: %s (%d images)\n", a->preview, pv.n_rows);
    printf("wrote %s\n", a->out);
    status = 0;
    goto done;
fail:
    fprintf(stderr, "hipid prep: %s\n", e.msg);
done:
    if (skipped) {
        for (int i = 0; i < n_skipped; i++) free(skipped[i]);
        free(skipped);
    }
    free(dup);
    free(per_class);
    free(hashes);
    free(pv.tiles);
    dataset_free(&d);
    imgsrc_free(&l);
    return status;
}

/* libvips logs warnings ("error in tile 0 x 56") on stderr as it decodes; a
 * file that fails is reported once, with libvips' error text, as a skip
 * line, and a file that loads despite a warning is fine by fail_on=error. */
static void drop_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data) {}

int cmd_prep(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},     {"size", required_argument, 0, 'S'},
        {"steps", required_argument, 0, 's'},      {"manifest", required_argument, 0, 'm'},
        {"min-size", required_argument, 0, 'z'},   {"min-mask", required_argument, 0, 'k'},
        {"bg-radius", required_argument, 0, 'r'},  {"binary", no_argument, 0, 'B'},
        {"dup-threshold", required_argument, 0, 'd'}, {"preview", required_argument, 0, 'p'},
        {"preview-n", required_argument, 0, 'n'},  {"strict", no_argument, 0, 'X'},
        {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    PrepArgs a = {.dup_threshold = PHASH_DEFAULT_THRESHOLD, .preview_n = 8, .cfg = prep_config_default(128)};
    const char *steps = PREP_DEFAULT_STEPS;
    ErrBuf e = {{0}};
    double v;
    int c, size = 128;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'o': a.out = optarg; break;
        case 'm': a.manifest = optarg; break;
        case 'p': a.preview = optarg; break;
        case 's': steps = optarg; break;
        case 'B': a.cfg.binary = 1; break;
        case 'X': a.strict = 1; break;
        case 'q': a.quiet = 1; break;
        case 'S': bad = cli_num("prep", "size", optarg, 8, 4096, 1, &v); size = (int)v; break;
        case 'z': bad = cli_num("prep", "min-size", optarg, 1, 1e6, 1, &v); a.cfg.min_size = (int)v; break;
        case 'k': bad = cli_num("prep", "min-mask", optarg, 0, 1, 0, &v); a.cfg.min_mask = v; break;
        case 'r': bad = cli_num("prep", "bg-radius", optarg, 0.01, 1, 0, &v); a.cfg.bg_radius = v; break;
        case 'd': bad = cli_num("prep", "dup-threshold", optarg, -1, 64 * PHASH_WORDS, 1, &v); a.dup_threshold = (int)v; break;
        case 'n': bad = cli_num("prep", "preview-n", optarg, 1, 64, 1, &v); a.preview_n = (int)v; break;
        case 'h': prep_usage(stdout); return 0;
        default: prep_usage(stderr); return HIPID_EXIT_USAGE;
        }
        if (bad) return HIPID_EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "hipid prep: expected one SRC (a class folder tree or a manifest CSV), found %d "
                        "(see hipid prep --help)\n", argc - optind);
        return HIPID_EXIT_USAGE;
    }
    if (!a.out) {
        fprintf(stderr, "hipid prep: -o/--output is required (see hipid prep --help)\n");
        return HIPID_EXIT_USAGE;
    }
    PrepConfig base = prep_config_default(size);
    base.min_size = a.cfg.min_size;
    base.min_mask = a.cfg.min_mask;
    base.bg_radius = a.cfg.bg_radius;
    base.binary = a.cfg.binary;
    a.cfg = base;
    if (prep_parse_steps(&a.cfg.steps, steps, &e) != HIPID_OK) {
        fprintf(stderr, "hipid prep: %s\n", e.msg);
        return HIPID_EXIT_USAGE;
    }
#ifdef M_ARENA_MAX
    /* glibc gives each libvips worker thread its own malloc arena, and the
     * per-image buffers fragment them: RSS grew ~10 kB per image (91 MB
     * after 6000 images at --size 32) with no leak behind it. One arena kept
     * it at 60 MB, at the same speed. */
    mallopt(M_ARENA_MAX, 1);
#endif
    if (VIPS_INIT(argv[0])) {
        fprintf(stderr, "hipid prep: cannot start libvips: %s\n", vips_error_buffer());
        return HIPID_EXIT_FAIL;
    }
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, drop_log, NULL);
    vips_cache_set_max(0);         /* every operation runs once: caching only holds memory */
    vips_block_untrusted_set(TRUE); /* no loaders that libvips marks unsafe for untrusted files */
    int status = run_prep(argv[optind], &a);
    vips_shutdown();
    return status;
}
