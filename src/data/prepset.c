/* prepset.c: folder or manifest of X-rays -> hipid data set (prepset.h).
 *
 * Lists the sources (imgsrc.h), prepares each image (prep.h), describes it
 * for the duplicate search (dupdesc.h: local features of the grey source
 * image, before the study's steps), then the quality gates, the leakage
 * audit (copies grouped, label conflicts listed: audit.h), the optional preview
 * contact sheet and dataset_save. No option parsing and no summary printing:
 * the callers (`hipid prep`, the sweep's phantom data) do those.
 */
#define _POSIX_C_SOURCE 200809L
#include "hipid/data/prepset.h"

#include <errno.h>
#include <glib.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#include "hipid/data/dataset.h"
#include "hipid/data/imgsrc.h"
#include "hipid/data/audit.h"
#include "hipid/data/dicom.h"
#include "hipid/data/dupdesc.h"
#include "hipid/data/phash.h"

#define PREVIEW_TILE 128
#define PREVIEW_GAP 4
#define PREVIEW_LABEL_H 24
#define MAX_DUP_LINES 50

PrepSetConfig prepset_config_default(int size) {
    PrepSetConfig c = {.preview_n = 8,
                       .dup_threshold = (int)DUP_DEFAULT_THRESHOLD,
                       .progress = PREPSET_PROGRESS_SECONDS,
                       .prep = prep_config_default(size)};
    return c;
}

/* Rows of the preview contact sheet: tiles (n_rows, PREP_MAX_TILES, T, T). */
typedef struct {
    int n_rows, cap_rows, n_cols;
    uint8_t *tiles;
} Preview;

/* Files left out: "<path>: <reason>" lines. */
typedef struct {
    char **lines;
    int n, cap;
} Skips;

static const char *step_label(unsigned steps, int col, int n_cols) {
    if (col == 0) return "original";
    if (col == n_cols - 1) return "final";
    int k = 0;
    for (int b = 0; prep_step_name(b); b++)
        if (steps & (1u << b) && ++k == col) return prep_step_name(b);
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

/* One skip line "<name>: <reason>": name is already escaped (imgsrc.h), the
 * reason is made one line of valid UTF-8 here (a library's message may hold
 * anything). reason NULL: name is a whole line of imgsrc's, escaped. */
static void add_skip(Skips *s, const char *name, const char *reason) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->lines = realloc(s->lines, sizeof(char *) * s->cap);
        HIPID_CHECK(s->lines);
    }
    char *line = NULL, *why = imgsrc_escape_text(reason ? reason : "");
    if (asprintf(&line, "%s%s%s", name, reason ? ": " : "", reason ? why : "") < 0)
        hipid_die(__FILE__, __LINE__, "out of memory");
    free(why);
    s->lines[s->n++] = line;
    fprintf(stderr, "skip %s\n", line);
}

/* The image list of c->src (and c->manifest). */
static int list_sources(ImageList *l, const PrepSetConfig *c, ErrBuf *e) {
    struct stat st;
    char *src = imgsrc_escape(c->src);
    int rc;
    if (c->manifest) {
        if (stat(c->src, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = hipid_err(e, "%s: with --manifest, SRC must be the folder the manifest's paths are relative to",
                           src);
        else
            rc = imgsrc_read_manifest(l, c->manifest, c->src, e);
    } else if (stat(c->src, &st) != 0)
        rc = hipid_err(e, "%s: no such folder or manifest file", src);
    else if (S_ISREG(st.st_mode))
        rc = imgsrc_read_manifest(l, c->src, NULL, e);
    else if (S_ISDIR(st.st_mode))
        rc = imgsrc_scan_folder(l, c->src, e);
    else
        rc = hipid_err(e, "%s: expected a folder of class folders or a manifest CSV, found %s", src,
                       S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket" : "a device");
    free(src);
    return rc;
}

/* How DICOM ids become the data set's patient ids: the HMAC key (owned) and
 * the choices of PrepSetConfig. */
typedef struct {
    uint8_t *key;
    size_t n_key;
    int from, keep;
} IdPolicy;

#define SALT_BYTES 32
#define SALT_FILE_MIN 16

static int ids_start(IdPolicy *p, const PrepSetConfig *c, ErrBuf *e) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(p, 0, sizeof *p);
    p->from = c->patient_from;
    p->keep = c->keep_ids;
    if (!c->id_salt_file) { /* random per run: ids cannot be linked across runs */
        p->key = g_malloc(SALT_BYTES);
        p->n_key = SALT_BYTES;
        if (getrandom(p->key, SALT_BYTES, 0) != SALT_BYTES)
            return hipid_err(e, "cannot get %d random bytes for the patient id salt: %s", SALT_BYTES, strerror(errno));
        return HIPID_OK;
    }
    if (imgsrc_read_file(&bytes, &len, NULL, c->id_salt_file, e) != HIPID_OK) {
        char *name = imgsrc_escape(c->id_salt_file), *why = imgsrc_escape_text(e->msg);
        hipid_err(e, "%s: cannot read the --id-salt-file: %s", name, why);
        free(name);
        free(why);
        return HIPID_ERR;
    }
    if (len < SALT_FILE_MIN) {
        free(bytes);
        char *name = imgsrc_escape(c->id_salt_file);
        hipid_err(e, "%s: --id-salt-file holds %zu bytes, expected a secret of at least %d", name, len,
                  SALT_FILE_MIN);
        free(name);
        return HIPID_ERR;
    }
    /* the key is g_free'd in ids_free */
    p->key = g_malloc(len);
    memcpy(p->key, bytes, len);
    memset(bytes, 0, len);
    free(bytes);
    p->n_key = len;
    return HIPID_OK;
}

static void ids_free(IdPolicy *p) {
    if (p->key) memset(p->key, 0, p->n_key);
    g_free(p->key);
    memset(p, 0, sizeof *p);
}

/* The patient id the data set stores for a DICOM file: the chosen element,
 * hashed unless keep, "" if the file lacks it. */
static void ids_from_dicom(char *out, size_t cap, const DicomInfo *di, const IdPolicy *p) {
    const char *raw = p->from == PREPSET_IDS_STUDY ? di->study_uid : p->from == PREPSET_IDS_PATIENT ? di->patient_id : "";
    if (!raw[0] || p->keep) { /* stored as a UTF-8 string: escaped (imgsrc.h) */
        char *esc = imgsrc_escape(raw);
        snprintf(out, cap, "%s", esc);
        free(esc);
        return;
    }
    GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, p->key, p->n_key);
    g_hmac_update(h, (const guchar *)raw, (gssize)strlen(raw));
    snprintf(out, cap, "%.*s", PREPSET_ID_HEX, g_hmac_get_string(h));
    g_hmac_unref(h);
}

/* Decode one file into g (prep_decode); a DICOM file's patient id as stored
 * into pid, a multi-frame one gets a note line. */
static int decode(GreyBuf *g, char *pid, size_t pid_cap, int *is_dicom, const uint8_t *bytes, size_t n_bytes,
                  const char *path, const char *rel, const PrepConfig *c, const IdPolicy *ids, ErrBuf *e) {
    DicomInfo di;
    pid[0] = '\0';
    if (prep_decode(g, &di, is_dicom, bytes, n_bytes, path, c, e) != HIPID_OK) return HIPID_ERR;
    if (!*is_dicom) return HIPID_OK;
    if (di.n_frames > 1)
        fprintf(stderr, "note %s: multi-frame DICOM (%d frames): the first frame is used\n", rel, di.n_frames);
    ids_from_dicom(pid, pid_cap, &di, ids);
    return HIPID_OK;
}

/* The duplicate-search descriptor of the decoded grey image g. */
static int describe(DupDesc *out, const GreyBuf *g, ErrBuf *e) {
    if (dupdesc_compute(out, g->px, g->w, g->h, NULL) != 0)
        return hipid_err(e, "cannot describe the image for the duplicate search (%dx%d px)", g->w, g->h);
    return HIPID_OK;
}

/* "prep: 5000 of 20000 files (4990 kept), 61 s, about 3.1 min left", at most
 * one line per sc->progress seconds, flushed for logs that are tailed. */
static void progress_line(double *last, double t0, int done, int kept, const ImageList *l, const PrepSetConfig *sc) {
    double now = now_seconds();
    if (sc->progress <= 0 || done >= l->n || now - *last < sc->progress) return;
    double left = (now - t0) / done * (l->n - done);
    printf("prep: %d of %d files (%d kept), %.0f s, about %.1f min left\n", done, l->n, kept, now - t0, left / 60);
    fflush(stdout);
    *last = now;
}

/* Prepare every listed image into d (rows 0..used), its hash into hashes;
 * unusable files go to skips. Returns the number of images kept. */
static int prepare_all(Dataset *d, PHash *hashes, DupDesc *descs, int *per_class, int *n_dicom, Skips *skips,
                       Preview *pv, const ImageList *l, const PrepSetConfig *sc, const IdPolicy *ids) {
    const PrepConfig *c = &sc->prep;
    const int S = c->size;
    int used = 0;
    ErrBuf e = {{0}};
    double t0 = now_seconds(), last = t0;
    /* the progress line is the loop's step, so a skipped file counts too */
    for (int i = 0; i < l->n; progress_line(&last, t0, ++i, used, l, sc)) {
        uint8_t *bytes = NULL;
        size_t n_bytes = 0;
        char sha[65], where[64] = "", pid[320]; /* a kept DICOM id, escaped: up to 4 x 64 bytes */
        int is_dicom = 0;
        GreyBuf g = {0};
        PrepInfo info;
        /* preview rows are spread over the list: take the first image at or
         * after each of cap_rows evenly spaced positions */
        int want_tiles = pv->n_rows < pv->cap_rows && (long)i * pv->cap_rows >= (long)pv->n_rows * l->n;
        uint8_t *tiles = want_tiles ? pv->tiles + (size_t)pv->n_rows * PREP_MAX_TILES * PREVIEW_TILE * PREVIEW_TILE : NULL;
        if (l->rows[i]) snprintf(where, sizeof where, "manifest row %d: ", l->rows[i]);
        if (imgsrc_read_file(&bytes, &n_bytes, sha, l->paths[i], &e) != HIPID_OK ||
            decode(&g, pid, sizeof pid, &is_dicom, bytes, n_bytes, l->paths[i], l->rel_paths[i], c, ids, &e) != HIPID_OK ||
            (descs && describe(&descs[used], &g, &e) != HIPID_OK) ||
            prep_image(d->images + (size_t)used * S * S, &info, tiles, PREVIEW_TILE, &g, c, &e) != PREP_OK) {
            char reason[600];
            snprintf(reason, sizeof reason, "%s%s", where, e.msg);
            add_skip(skips, l->rel_paths[i], reason);
            free(bytes);
            grey_free(&g);
            continue;
        }
        free(bytes);
        grey_free(&g);
        if (tiles) {
            pv->n_cols = info.n_tiles;
            pv->n_rows++;
        }
        d->labels[used] = l->labels[i];
        d->source_paths[used] = strdup(l->rel_paths[i]);
        d->source_sha256[used] = strdup(sha);
        d->patient_ids[used] = strdup(l->patient_ids[i][0] ? l->patient_ids[i] : pid); /* the manifest wins */
        *n_dicom += is_dicom;
        hashes[used] = info.hash;
        per_class[l->labels[i]]++;
        used++;
    }
    return used;
}

/* Leakage audit: copies of one radiograph grouped (dupdesc_cluster: every
 * member verified against its group's medoid, no chains), then merged with
 * patient ids into the leakage groups. A copy group whose members carry
 * different labels (a label conflict) is kept in dup_groups as found, for
 * `hipid audit`, but enters the leakage groups split by label: hipid does not
 * decide which label is right. The hashes, clusters and skips move into d. */
static void audit(PrepSetStats *s, Dataset *d, const PHash *hashes, const DupDesc *descs, Skips *skips,
                  const PrepSetConfig *c) {
    int used = d->n, K = d->n_classes;
    int32_t *dup = xmalloc(sizeof(int32_t) * (used ? used : 1)), *by_label = xmalloc(sizeof(int32_t) * (used ? used : 1));
    if (c->dup_threshold >= 0 && used > 0) {
        DupClusterParams p;
        DupClusterStats st;
        int64_t n_pairs = 0;
        dupdesc_default_cluster_params(&p);
        if (dupdesc_cluster(dup, &st, NULL, NULL, NULL, &n_pairs, descs, (float)c->dup_threshold, &p, 0, used) < 0)
            hipid_die(__FILE__, __LINE__, "out of memory in the duplicate search");
        s->n_dup_capped = st.n_groups_capped;
        s->dup_seconds = st.t_codebook + st.t_vlad + st.t_candidates + st.t_verify + st.t_link;
    } else
        for (int i = 0; i < used; i++) dup[i] = i;
    for (int i = 0; i < used; i++) by_label[i] = dup[i] * K + d->labels[i]; /* conflicts split by label */
    s->n_groups = prep_merge_groups(d->groups, by_label, d->patient_ids, used);
    free(by_label);
    d->phash = xmalloc(sizeof(uint64_t) * PHASH_WORDS * (used ? used : 1));
    for (int i = 0; i < used; i++)
        memcpy(d->phash + (size_t)i * PHASH_WORDS, hashes[i].h[hashes[i].flip], sizeof hashes[i].h[0]);
    d->dup_groups = dup;
    d->dup_threshold = c->dup_threshold;
    Audit a;
    ErrBuf e = {{0}};
    if (audit_build(&a, d, c->out, &e) == HIPID_OK) {
        s->n_dup_groups = a.n_groups;
        s->n_dup_conflicts = a.n_conflicts;
        s->dup_largest = a.largest;
        if (!c->quiet || a.n_conflicts) audit_print(stdout, &a, d, c->quiet ? a.n_conflicts : MAX_DUP_LINES);
        audit_free(&a);
    }
    d->skipped = skips->lines ? skips->lines : xcalloc(1, sizeof(char *)); /* written even when empty */
    d->n_skipped = skips->n;
    skips->lines = NULL;
    skips->n = 0;
}

int prepset_build(PrepSetStats *s, const PrepSetConfig *c, ErrBuf *e) {
    const int S = c->prep.size;
    ImageList l = {0};
    Dataset d = {0};
    Preview pv = {0};
    Skips skips = {0};
    IdPolicy ids = {0};
    PrepConfig pc = c->prep;
    PHash *hashes = NULL;
    DupDesc *descs = NULL;
    double t0 = now_seconds();
    memset(s, 0, sizeof *s);
    if (check_output_dir(c->out, e) != HIPID_OK || ids_start(&ids, c, e) != HIPID_OK ||
        list_sources(&l, c, e) != HIPID_OK)
        goto error;

    dataset_alloc(&d, l.n, S, l.n_classes);
    for (int k = 0; k < l.n_classes; k++) d.class_names[k] = strdup(l.class_names[k]);
    hashes = xcalloc(l.n ? l.n : 1, sizeof *hashes);
    if (c->dup_threshold >= 0) descs = xcalloc(l.n ? l.n : 1, sizeof *descs);
    s->per_class = xcalloc(l.n_classes, sizeof(int));
    if (c->preview) {
        pv.cap_rows = c->preview_n < l.n ? c->preview_n : l.n;
        pv.tiles = xcalloc((size_t)pv.cap_rows * PREP_MAX_TILES * PREVIEW_TILE * PREVIEW_TILE, 1);
    }
    printf("prep: %d candidate files, %d classes, from %s", l.n, l.n_classes, l.what);
    if (l.n_hidden) printf(" (%d hidden entr%s ignored: names starting with '.')", l.n_hidden, l.n_hidden == 1 ? "y" : "ies");
    printf("\n");
    fflush(stdout);
    /* folder entries that are not candidates: one skip line each, first */
    for (int i = 0; i < l.n_skips; i++) add_skip(&skips, l.skips[i], NULL);
    double t_images = now_seconds();
    d.n = prepare_all(&d, hashes, descs, s->per_class, &s->n_dicom, &skips, &pv, &l, c, &ids);
    if (c->progress > 0 && c->dup_threshold >= 0 && now_seconds() - t_images >= c->progress) {
        printf("prep: %d images prepared in %.0f s; searching copies of one radiograph\n", d.n, now_seconds() - t_images);
        fflush(stdout);
    }
    ids_free(&ids);
    /* arrays keep their capacity; the unused tail holds no strings */

    /* quality gates */
    if (c->strict && skips.n) {
        hipid_err(e, "%d file(s) skipped (listed above) and --strict is set; nothing written", skips.n);
        goto error;
    }
    for (int k = 0; k < l.n_classes; k++)
        if (s->per_class[k] == 0) {
            hipid_err(e, "class '%s' has no usable image (all its files were skipped, see above)", l.class_names[k]);
            goto error;
        }
    s->n_skipped = skips.n;
    audit(s, &d, hashes, descs, &skips, c);
    pc.dicom_inputs = s->n_dicom > 0;
    prep_describe(d.preprocessing, sizeof d.preprocessing, &pc);
    snprintf(d.source, sizeof d.source, "%.*s", (int)sizeof d.source - 1, l.what);

    if (c->preview && pv.n_rows > 0 && preview_save(&pv, c->preview, c->prep.steps, e) != HIPID_OK) goto error;
    if (dataset_save(&d, c->out, e) != HIPID_OK) goto error;

    s->n_images = d.n;
    s->n_classes = l.n_classes;
    s->class_names = xcalloc(l.n_classes ? l.n_classes : 1, sizeof(char *));
    for (int k = 0; k < l.n_classes; k++) s->class_names[k] = strdup(l.class_names[k]);
    s->n_preview = c->preview ? pv.n_rows : 0;
    snprintf(s->preprocessing, sizeof s->preprocessing, "%s", d.preprocessing);
    s->seconds = now_seconds() - t0;
    free(pv.tiles);
    free(hashes);
    free(descs);
    dataset_free(&d);
    imgsrc_free(&l);
    return HIPID_OK;
error:
    ids_free(&ids);
    strv_free(skips.lines, skips.n);
    free(pv.tiles);
    free(hashes);
    free(descs);
    dataset_free(&d);
    imgsrc_free(&l);
    prepset_stats_free(s);
    return HIPID_ERR;
}

void prepset_stats_free(PrepSetStats *s) {
    if (!s) return;
    strv_free(s->class_names, s->n_classes);
    free(s->per_class);
    memset(s, 0, sizeof *s);
}

void prepset_print_summary(FILE *f, const PrepSetConfig *c, const PrepSetStats *s) {
    int S = c->prep.size;
    fprintf(f, "prep: %d images %dx%d in %d classes, %d skipped, %.1f s\n", s->n_images, S, S, s->n_classes,
            s->n_skipped, s->seconds);
    for (int k = 0; k < s->n_classes; k++) fprintf(f, "  class %-20s %d\n", s->class_names[k], s->per_class[k]);
    if (c->dup_threshold >= 0) {
        fprintf(f, "copies of one radiograph (flipped, rotated, cropped, re-exposed, re-encoded; >= %d verified "
                   "matches and a pixel correlation >= %.2f to a group's medoid): %d group(s), the largest %d, "
                   "%d label conflict(s), %.1f s\n",
                c->dup_threshold, DUP_DEFAULT_MIN_CORR, s->n_dup_groups, s->dup_largest, s->n_dup_conflicts, s->dup_seconds);
        if (s->n_dup_capped)
            fprintf(f, "warning: %d copy group(s) reached the cap of %d members: members were left out; look at "
                       "them with hipid audit\n", s->n_dup_capped, DUP_DEFAULT_MAX_GROUP);
    } else
        fprintf(f, "duplicate audit off (--dup-threshold -1)\n");
    if (s->n_dicom > 0) {
        static const char *from[] = {"PatientID", "StudyInstanceUID", "none"};
        fprintf(f, "DICOM: %d image(s); patient ids from %s, %s\n", s->n_dicom, from[c->patient_from],
                c->patient_from == PREPSET_IDS_NONE ? "none stored"
                : c->keep_ids ? "stored as they are (--keep-ids)"
                : c->id_salt_file ? "stored as HMAC-SHA256 with the --id-salt-file key"
                                  : "stored as HMAC-SHA256 with a random salt of this run (not linkable to other runs)");
    }
    fprintf(f, "leakage groups (patient ids + duplicates): %d\n", s->n_groups);
    fprintf(f, "preprocessing: %s\n", s->preprocessing);
    if (s->n_preview > 0) fprintf(f, "preview: %s (%d images)\n", c->preview, s->n_preview);
    char *out = imgsrc_escape(c->out);
    fprintf(f, "wrote %s\n", out);
    free(out);
}

/* libvips logs warnings ("error in tile 0 x 56") on stderr as it decodes; a
 * file that fails is reported once, with libvips' error text, as a skip
 * line, and a file that loads despite a warning is fine by fail_on=error. */
static void drop_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data) {}

int prepset_start_vips(const char *prog, ErrBuf *e) {
#ifdef M_ARENA_MAX
    /* glibc gives each libvips worker thread its own malloc arena, and the
     * per-image buffers fragment them: RSS grew ~10 kB per image (91 MB
     * after 6000 images at --size 32) with no leak behind it. One arena kept
     * it at 60 MB, at the same speed. */
    mallopt(M_ARENA_MAX, 1);
#endif
    if (VIPS_INIT(prog)) return hipid_err(e, "cannot start libvips: %s", vips_error_buffer());
    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, drop_log, NULL);
    vips_cache_set_max(0);          /* every operation runs once: caching only holds memory */
    vips_block_untrusted_set(TRUE); /* no loaders that libvips marks unsafe for untrusted files */
    return HIPID_OK;
}

void prepset_stop_vips(void) { vips_shutdown(); }
