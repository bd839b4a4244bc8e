/* synth_set.c: write a class-per-folder phantom data set (see synth.h).
 *
 * Plans the images (class sizes, patients of 2-4 views), renders them in
 * parallel, writes one PNG each with libvips and then the manifest by temp
 * file + rename. It neither checks nor cleans the output folder: the caller
 * decides whether writing there is allowed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>

#include "hipid/base/fsafe.h"
#include "hipid/data/synth.h"
#include "hipid/data/synth_shoulder.h"
#include "hipid/data/synth_set.h"

typedef struct {
    int cls, patient, view; /* stream keys: patient counts within the class, views from 1 */
    int pid;                /* patient number across the set: p0001.. */
} SynthItem;

int synth_max_classes(int anatomy) {
    return anatomy == SYNTH_SHOULDER ? SYNTH_SHOULDER_MAX_CLASSES : synth_n_designs();
}

void synth_class_name(char *buf, size_t cap, int anatomy, int k) {
    if (anatomy == SYNTH_SHOULDER) snprintf(buf, cap, "shoulder-%03d", k);
    else snprintf(buf, cap, "%s", synth_design(k)->name);
}

static int patient_views(const SynthSetConfig *c, int k, int p) {
    return c->anatomy == SYNTH_SHOULDER ? synth_shoulder_views(c->seed, k, p) : synth_patient_views(c->seed, k, p);
}

/* Draw item (k, patient, view) into img; returns the side it shows. */
static int draw_item(const SynthSetConfig *c, uint8_t *img, int k, int patient, int view) {
    if (c->anatomy == SYNTH_SHOULDER) {
        ShoulderParams p;
        synth_shoulder_sample(&p, c->seed, k, patient, view);
        synth_shoulder_draw(img, c->size, &p);
        return p.side;
    }
    SynthParams p;
    synth_params_sample(&p, c->seed, k, patient, view);
    synth_draw(img, c->size, &p);
    return p.side;
}

int synth_class_size(const SynthSetConfig *c, int k) {
    HIPID_CHECK(k >= 0 && k < c->n_classes && c->imbalance >= 1.0);
    double f = c->n_classes > 1 ? pow(c->imbalance, -(double)k / (double)(c->n_classes - 1)) : 1.0;
    long n = lround((double)c->per_class * f);
    return n < 1 ? 1 : (int)n;
}

/* Views of the next patient when `left` images of the class remain: the
 * patient's own 2..4, adjusted so that no patient is left with one image. */
static int plan_views(int drawn, int left) {
    if (drawn >= left) return left;
    if (left - drawn == 1) return drawn > 2 ? drawn - 1 : drawn + 1;
    return drawn;
}

/* The items of the set in manifest order; *n_items set. Caller frees. */
static SynthItem *plan_items(const SynthSetConfig *c, int *n_items) {
    int total = 0;
    for (int k = 0; k < c->n_classes; k++) total += synth_class_size(c, k);
    SynthItem *it = xmalloc(sizeof *it * (size_t)total);
    int n = 0, pid = 0;
    for (int k = 0; k < c->n_classes; k++) {
        int left = synth_class_size(c, k);
        for (int p = 0; left > 0; p++) {
            int v = plan_views(patient_views(c, k, p), left);
            pid++;
            for (int j = 1; j <= v; j++) it[n++] = (SynthItem){k, p, j, pid};
            left -= v;
        }
    }
    HIPID_CHECK(n == total);
    *n_items = n;
    return it;
}

static int png_write(const char *path, const uint8_t *img, int size, ErrBuf *e) {
    VipsImage *im = vips_image_new_from_memory(img, (size_t)size * size, size, size, 1, VIPS_FORMAT_UCHAR);
    if (!im) return hipid_err(e, "%s: cannot wrap the image for libvips", path);
    int rc = vips_pngsave(im, path, "compression", 6, "strip", TRUE, NULL);
    g_object_unref(im);
    if (rc == 0) return HIPID_OK;
    const char *msg = vips_error_buffer();
    size_t n = strcspn(msg, "\n");
    hipid_err(e, "cannot write %s: %.*s", path, (int)(n > 300 ? 300 : n), msg);
    vips_error_clear();
    return HIPID_ERR;
}

static const char *side_name(int side) { return side == SYNTH_LEFT ? "left" : "right"; }

static int write_manifest(const SynthSetConfig *c, const SynthItem *it, const int *sides, int n, ErrBuf *e) {
    char path[4096], tmp[4400];
    snprintf(path, sizeof path, "%s/manifest.csv", c->out_dir);
    if (fsafe_tmp_name(tmp, sizeof tmp, path, e) != HIPID_OK) return HIPID_ERR;
    FILE *f = fopen(tmp, "w");
    if (!f) return hipid_err(e, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "path,label,patient_id,side\n");
    for (int i = 0; i < n; i++) {
        char name[64];
        synth_class_name(name, sizeof name, c->anatomy, it[i].cls);
        fprintf(f, "%s/p%04d_v%d.png,%s,p%04d,%s\n", name, it[i].pid, it[i].view, name, it[i].pid,
                side_name(sides[i]));
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        return hipid_err(e, "cannot write %s: %s", tmp, strerror(errno ? errno : EIO));
    }
    if (rename(tmp, path) != 0) return hipid_err(e, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    return HIPID_OK;
}

/* Render and write every item; the first failure is reported. */
static int render_items(const SynthSetConfig *c, const SynthItem *it, int *sides, int n, ErrBuf *e) {
    int failed = 0;
#pragma omp parallel
    {
        uint8_t *img = xmalloc((size_t)c->size * c->size);
        ErrBuf local = {{0}};
#pragma omp for schedule(dynamic, 4)
        for (int i = 0; i < n; i++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop) continue;
            sides[i] = draw_item(c, img, it[i].cls, it[i].patient, it[i].view);
            char path[4096], name[64];
            synth_class_name(name, sizeof name, c->anatomy, it[i].cls);
            int len = snprintf(path, sizeof path, "%s/%s/p%04d_v%d.png", c->out_dir, name, it[i].pid, it[i].view);
            int rc = len >= (int)sizeof path ? hipid_err(&local, "output path under %s is too long", c->out_dir)
                                             : png_write(path, img, c->size, &local);
            if (rc != HIPID_OK) {
#pragma omp critical(synth_error)
                if (!failed) {
                    *e = local;
                    failed = 1;
                }
            }
        }
        free(img);
    }
    return failed ? HIPID_ERR : HIPID_OK;
}

int synth_write_set(const SynthSetConfig *c, ErrBuf *e) {
    HIPID_CHECK(c->n_classes >= 1 && c->n_classes <= synth_max_classes(c->anatomy) && c->per_class >= 1 &&
                c->size >= 16);
    if (VIPS_INIT("hipid")) return hipid_err(e, "cannot start libvips: %s", vips_error_buffer());
    if (mkdir_p(c->out_dir, e) != HIPID_OK) return HIPID_ERR;
    for (int k = 0; k < c->n_classes; k++) {
        char dir[4096], name[64];
        synth_class_name(name, sizeof name, c->anatomy, k);
        if (snprintf(dir, sizeof dir, "%s/%s", c->out_dir, name) >= (int)sizeof dir)
            return hipid_err(e, "output path %s is too long", c->out_dir);
        if (mkdir_p(dir, e) != HIPID_OK) return HIPID_ERR;
    }
    int n = 0;
    SynthItem *it = plan_items(c, &n);
    int *sides = xcalloc((size_t)n, sizeof(int));
    int rc = render_items(c, it, sides, n, e);
    if (rc == HIPID_OK) rc = write_manifest(c, it, sides, n, e);
    free(sides);
    free(it);
    return rc == HIPID_OK ? n : HIPID_ERR;
}
