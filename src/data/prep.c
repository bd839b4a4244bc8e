/* prep.c: the per-image standardisation pipeline. See prep.h.
 *
 * libvips does the decoding, colour conversion, trimming, resampling, the
 * median background, the histogram and the padding. Two things are plain C:
 *  - connected components: vips_labelregions (and vips_draw_flood under it)
 *    are 4-connected only, and the study's "largest component" is 8-connected
 *    (skimage.measure.label(connectivity=2)); a two-pass union-find labeller
 *    is shorter than any workaround;
 *  - Otsu's threshold itself, which libvips does not have (it gives us the
 *    histogram) and which must match skimage bin for bin.
 * Pixel loops that are one line (compare with a threshold, multiply by a
 * mask, 255 - v, min-max stretch) are also C: wrapping them in libvips
 * would cost a copy each and make them no clearer.
 */
#include "hipid/data/prep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

PrepConfig prep_config_default(int size) {
    PrepConfig c = {.steps = PREP_ALL_STEPS, .size = size, .work_max = 2 * size < 256 ? 256 : 2 * size,
                    .min_size = 32, .bg_radius = 0.35, .min_mask = 0.005, .binary = 0};
    return c;
}

static const struct {
    const char *name;
    unsigned bit;
} step_names[] = {
    {"background", PREP_BACKGROUND},
    {"otsu", PREP_OTSU},
    {"largest", PREP_LARGEST},
    {"invert", PREP_INVERT},
    {"crop", PREP_CROP},
};
#define N_STEP_NAMES (int)(sizeof step_names / sizeof step_names[0])

int prep_parse_steps(unsigned *steps, const char *list, ErrBuf *e) {
    unsigned bits = 0;
    const char *p = list;
    if (strcmp(list, "none") == 0 || strcmp(list, "") == 0) {
        *steps = 0;
        return HIPID_OK;
    }
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < N_STEP_NAMES; i++)
            if (strlen(step_names[i].name) == len && strncmp(p, step_names[i].name, len) == 0) {
                if (bits & step_names[i].bit)
                    return hipid_err(e, "--steps: step '%s' given twice in '%.200s'; expected each step once",
                                     step_names[i].name, list);
                bits |= step_names[i].bit;
                found = 1;
            }
        if (!found)
            return hipid_err(e, "--steps: unknown step '%.*s', expected a comma list of "
                                "background, otsu, largest, invert, crop (or none)", (int)len, p);
        p += len;
        if (*p == ',') p++;
    }
    if ((bits & PREP_CROP) && !(bits & (PREP_OTSU | PREP_LARGEST)))
        return hipid_err(e, "--steps: crop cuts to the kept mask's box, so it needs otsu or largest; found '%.200s'",
                         list);
    *steps = bits;
    return HIPID_OK;
}

const char *prep_step_name(int b) {
    for (int i = 0; i < N_STEP_NAMES; i++)
        if (step_names[i].bit == 1u << b) return step_names[i].name;
    return NULL;
}

void prep_steps_text(char *buf, size_t cap, unsigned steps) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_STEP_NAMES && n < cap; i++)
        if (steps & step_names[i].bit) n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", step_names[i].name);
    if (n == 0) snprintf(buf, cap, "none");
}

/* Shortest %.Ng form of v that reads back as exactly v: "0.35" stays
 * "0.35" (what %g wrote before), and no value is rounded away. */
static void fmt_exact(char *buf, size_t cap, double v) {
    for (int p = 6; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* The VOI item of the dicom(...) step (see prep.h). */
static void describe_voi(char *buf, size_t cap, const DicomWindow *w) {
    char cs[32], ws[32];
    if (w->mode == DICOM_VOI_FIXED) {
        fmt_exact(cs, sizeof cs, w->center);
        fmt_exact(ws, sizeof ws, w->width);
        snprintf(buf, cap, "window(c=%s,w=%s)", cs, ws);
    } else {
        snprintf(buf, cap, "%sauto(p%g..p%g)", w->mode == DICOM_VOI_FILE ? "file-else-" : "", DICOM_AUTO_LO,
                 DICOM_AUTO_HI);
    }
}

/* Read a dicom(...) item back (the inverse of describe_voi inside it). */
static int parse_dicom_item(PrepConfig *c, const char *tok) {
    char voi[96], want[160];
    int end = -1;
    if (sscanf(tok, "dicom(modality,voi=%95[^)])%n", voi, &end) < 1 || end < 0) return 0;
    DicomWindow w = {.mode = DICOM_VOI_FILE};
    if (strncmp(voi, "window(", 7) == 0) {
        w.mode = DICOM_VOI_FIXED;
        if (sscanf(voi, "window(c=%lf,w=%lf", &w.center, &w.width) != 2) return 0;
    } else if (strncmp(voi, "auto(", 5) == 0) {
        w.mode = DICOM_VOI_AUTO;
    }
    describe_voi(voi, sizeof voi, &w);
    snprintf(want, sizeof want, "dicom(modality,voi=%s,mono1-inverted)", voi);
    if (strcmp(want, tok) != 0) return 0;
    c->window = w;
    c->dicom_inputs = 1;
    return 1;
}

void prep_describe(char *buf, size_t cap, const PrepConfig *c) {
    size_t n = 0;
    char r[32], m[32];
    fmt_exact(r, sizeof r, c->bg_radius);
    fmt_exact(m, sizeof m, c->min_mask);
#define ADD(...) (n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__))
    ADD("grey8(autorot,alpha-on-black)");
    if (c->dicom_inputs) {
        char voi[96];
        describe_voi(voi, sizeof voi, &c->window);
        ADD(",dicom(modality,voi=%s,mono1-inverted)", voi);
    }
    ADD(",work<=%d", c->work_max);
    if (c->steps & PREP_BACKGROUND)
        ADD(",background(median,r=%s*content,grid=%d,trim>%g)", r, PREP_BG_GRID, IMAGE_TRIM_THRESHOLD);
    if (c->steps & PREP_OTSU) ADD(",otsu(%s)", c->binary ? "binary" : "mask");
    if (c->steps & PREP_LARGEST) ADD(",largest(8-conn)");
    if (c->steps & PREP_INVERT) ADD(",invert");
    if (c->steps & PREP_CROP) ADD(",crop(mask-bbox,square,margin=%g)", PREP_CROP_MARGIN);
    ADD(",resize=%d(aspect,pad=%d,lanczos3),minmax(0..255)", c->size, c->steps & PREP_INVERT ? 255 : 0);
    if (c->steps & (PREP_OTSU | PREP_LARGEST)) ADD(",min_mask=%s", m);
    ADD(",min_size=%d", c->min_size);
#undef ADD
}

/* Copy the next top-level comma-separated item of *p (commas inside
 * parentheses belong to the item) into tok; advances *p. 0 at the end. */
static int next_item(char *tok, size_t cap, const char **p) {
    const char *s = *p;
    size_t n = 0;
    int depth = 0;
    if (!*s) return 0;
    for (; *s && (depth > 0 || *s != ','); s++) {
        depth += *s == '(' ? 1 : *s == ')' ? -1 : 0;
        if (n + 1 < cap) tok[n++] = *s;
    }
    tok[n] = '\0';
    *p = *s == ',' ? s + 1 : s;
    return 1;
}

/* sscanf that must consume all of tok. */
#define SCAN_ALL(tok, fmt, ...) \
    (end = -1, sscanf(tok, fmt "%n", __VA_ARGS__, &end) >= 0 && end == (int)strlen(tok))

int prep_parse_describe(PrepConfig *out, const char *text, ErrBuf *e) {
    PrepConfig c = prep_config_default(128);
    char tok[256], again[1024], mode[16];
    const char *p = text;
    int end, grid = 0, pad = 0, item = 0, have_size = 0, have_work = 0;
    double trim = 0.0, margin = 0.0;
    c.steps = 0;
    c.work_max = c.size = 0;
    while (next_item(tok, sizeof tok, &p)) {
        if (item++ == 0) {
            if (strcmp(tok, "grey8(autorot,alpha-on-black)") != 0)
                return hipid_err(e, "preprocessing \"%.200s\" does not start with grey8(autorot,alpha-on-black): "
                                    "not made by hipid prep (a synthetic data set?)", text);
        } else if (parse_dicom_item(&c, tok)) {
        } else if (SCAN_ALL(tok, "work<=%d", &c.work_max)) {
            have_work = 1;
        } else if (SCAN_ALL(tok, "background(median,r=%lf*content,grid=%d,trim>%lf)", &c.bg_radius, &grid, &trim)) {
            c.steps |= PREP_BACKGROUND;
            if (grid != PREP_BG_GRID || trim != IMAGE_TRIM_THRESHOLD)
                return hipid_err(e, "preprocessing step '%s': this hipid runs the background step with grid=%d, "
                                    "trim>%g only", tok, PREP_BG_GRID, IMAGE_TRIM_THRESHOLD);
        } else if (SCAN_ALL(tok, "otsu(%15[a-z])", mode) && (!strcmp(mode, "mask") || !strcmp(mode, "binary"))) {
            c.steps |= PREP_OTSU;
            c.binary = strcmp(mode, "binary") == 0;
        } else if (strcmp(tok, "largest(8-conn)") == 0) {
            c.steps |= PREP_LARGEST;
        } else if (strcmp(tok, "invert") == 0) {
            c.steps |= PREP_INVERT;
        } else if (SCAN_ALL(tok, "crop(mask-bbox,square,margin=%lf)", &margin) && margin == PREP_CROP_MARGIN) {
            c.steps |= PREP_CROP;
        } else if (SCAN_ALL(tok, "resize=%d(aspect,pad=%d,lanczos3)", &c.size, &pad)) {
            have_size = 1;
        } else if (strcmp(tok, "minmax(0..255)") == 0) {
        } else if (SCAN_ALL(tok, "min_mask=%lf", &c.min_mask)) {
        } else if (SCAN_ALL(tok, "min_size=%d", &c.min_size)) {
        } else {
            return hipid_err(e, "preprocessing \"%.200s\": unknown item '%s'", text, tok);
        }
    }
    if (item == 0) return hipid_err(e, "preprocessing is empty: not made by hipid prep (a synthetic data set?)");
    if ((c.steps & PREP_CROP) && !(c.steps & (PREP_OTSU | PREP_LARGEST)))
        return hipid_err(e, "preprocessing \"%.200s\": crop without otsu or largest, which hipid prep never writes",
                         text);
    if (!have_work || !have_size || c.size < 1 || c.work_max < 1)
        return hipid_err(e, "preprocessing \"%.200s\": lacks work<=N or resize=S", text);
    /* anything else (order, repeats, a pad that does not follow from invert,
     * missing items) shows up as a difference when written back */
    prep_describe(again, sizeof again, &c);
    if (strcmp(again, text) != 0)
        return hipid_err(e, "preprocessing \"%.200s\" is not in the form this hipid writes (expected \"%.200s\")",
                         text, again);
    *out = c;
    return HIPID_OK;
}
#undef SCAN_ALL

int prep_background(GreyBuf *g, double radius, ErrBuf *e) {
    int l, t, cw, ch, rc = HIPID_ERR;
    VipsImage *ctx = NULL, **v;
    image_content_box(&l, &t, &cw, &ch, g);
    ctx = vips_image_new();
    v = (VipsImage **)vips_object_local_array(VIPS_OBJECT(ctx), 8);
    int side = cw > ch ? cw : ch;
    int sw = cw, sh = ch;
    if (side > PREP_BG_GRID) {
        sw = (int)lround((double)cw * PREP_BG_GRID / side);
        sh = (int)lround((double)ch * PREP_BG_GRID / side);
        sw = sw < 1 ? 1 : sw;
        sh = sh < 1 ? 1 : sh;
    }
    /* median window 2r+1 on the small grid, at most the grid's shorter side
     * (vips_rank refuses larger windows) and odd */
    int r = (int)lround(radius * (sw > sh ? sw : sh));
    int win = 2 * r + 1, shorter = sw < sh ? sw : sh;
    if (win > shorter) win = shorter % 2 ? shorter : shorter - 1;
    if (win < 1) win = 1;
    if (!(v[0] = image_vips_wrap(g)) || vips_extract_area(v[0], &v[1], l, t, cw, ch, NULL) ||
        image_resize_exact(v[1], &v[2], sw, sh, VIPS_KERNEL_LANCZOS3) || vips_median(v[2], &v[3], win, NULL) ||
        image_resize_exact(v[3], &v[4], cw, ch, VIPS_KERNEL_LINEAR) ||
        /* short result; the cast to uchar clips negatives to 0 */
        vips_subtract(v[1], v[4], &v[5], NULL) || vips_cast(v[5], &v[6], VIPS_FORMAT_UCHAR, NULL) ||
        vips_embed(v[6], &v[7], l, t, g->w, g->h, "extend", VIPS_EXTEND_BLACK, NULL)) {
        image_vips_fail(e, "background step failed");
        goto error;
    }
    rc = image_replace(g, v[7], "background step failed", e);
error:
    g_object_unref(ctx);
    return rc;
}

int prep_histogram(uint64_t hist[256], const GreyBuf *g, ErrBuf *e) {
    VipsImage *in = NULL, *h = NULL;
    uint32_t *mem = NULL;
    size_t size = 0;
    int rc = HIPID_ERR;
    if (!(in = image_vips_wrap(g)) || vips_hist_find(in, &h, NULL) || !(mem = vips_image_write_to_memory(h, &size))) {
        image_vips_fail(e, "cannot take the histogram");
        goto error;
    }
    HIPID_CHECK(h->BandFmt == VIPS_FORMAT_UINT && h->Xsize == 256 && size == 256 * sizeof(uint32_t));
    for (int i = 0; i < 256; i++) hist[i] = mem[i];
    rc = HIPID_OK;
error:
    g_free(mem);
    if (h) g_object_unref(h);
    if (in) g_object_unref(in);
    return rc;
}

int otsu_threshold(const uint64_t hist[256]) {
    int lo = 0, hi = 255;
    while (lo < 256 && hist[lo] == 0) lo++;
    if (lo == 256) return -1;
    while (hist[hi] == 0) hi--;
    if (lo == hi) return lo; /* skimage returns the only value */
    /* skimage: counts as float over [min, max]; weight1/mean1 cumulative
     * from below, weight2/mean2 from above; variance12[i] =
     * weight1[i] * weight2[i+1] * (mean1[i] - mean2[i+1])**2; argmax. The
     * same double operations in the same order give the same threshold. */
    double w1[256], m1[256], w2[256], m2[256], cw = 0, cs = 0;
    for (int v = lo; v <= hi; v++) {
        cw += (double)hist[v];
        cs += (double)hist[v] * v;
        w1[v] = cw;
        m1[v] = cs / cw;
    }
    cw = cs = 0;
    for (int v = hi; v >= lo; v--) {
        cw += (double)hist[v];
        cs += (double)hist[v] * v;
        w2[v] = cw;
        m2[v] = cs / cw;
    }
    int best = lo;
    double best_var = -1.0;
    for (int v = lo; v < hi; v++) {
        double d = m1[v] - m2[v + 1];
        double var = w1[v] * w2[v + 1] * (d * d);
        if (var > best_var) {
            best_var = var;
            best = v;
        }
    }
    return best;
}

/* Stretch px[0..n) linearly so that its minimum becomes 0 and its maximum
 * 255; a constant image is left as it is. */
static void stretch_minmax(uint8_t *px, size_t n) {
    uint8_t lo = 255, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (px[i] < lo) lo = px[i];
        if (px[i] > hi) hi = px[i];
    }
    if (hi <= lo) return;
    double a = 255.0 / (hi - lo);
    for (size_t i = 0; i < n; i++) px[i] = (uint8_t)lround((px[i] - lo) * a);
}

int prep_crop_box(const uint8_t *mask, int w, int h, double margin, int *x0, int *y0, int *side) {
    int bx0 = w, by0 = h, bx1 = 0, by1 = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (mask[(size_t)y * w + x]) {
                if (x < bx0) bx0 = x;
                if (x + 1 > bx1) bx1 = x + 1;
                if (y < by0) by0 = y;
                if (y + 1 > by1) by1 = y + 1;
            }
    if (bx1 <= bx0) return 0;
    int longer = bx1 - bx0 > by1 - by0 ? bx1 - bx0 : by1 - by0;
    *side = (int)floor(longer * (1.0 + 2.0 * margin) + 0.5);
    *x0 = (int)floor((bx0 + bx1 - *side) / 2.0 + 0.5);
    *y0 = (int)floor((by0 + by1 - *side) / 2.0 + 0.5);
    return 1;
}

/* The crop step, in place: g becomes the square of prep_crop_box, pad
 * outside the image. Nothing happens for an empty mask. */
static void crop_square(GreyBuf *g, const uint8_t *mask, int pad) {
    int x0, y0, side;
    if (!prep_crop_box(mask, g->w, g->h, PREP_CROP_MARGIN, &x0, &y0, &side)) return;
    uint8_t *sq = xmalloc((size_t)side * side);
    memset(sq, pad, (size_t)side * side);
    for (int y = 0; y < side; y++) {
        int sy = y0 + y;
        if (sy < 0 || sy >= g->h) continue;
        for (int x = 0; x < side; x++) {
            int sx = x0 + x;
            if (sx >= 0 && sx < g->w) sq[(size_t)y * side + x] = g->px[(size_t)sy * g->w + sx];
        }
    }
    free(g->px);
    g->px = sq;
    g->w = g->h = side;
}

/* Append a display tile of g (contrast-stretched) to the preview tiles. */
static int add_tile(uint8_t *tiles, int tile, PrepInfo *info, const GreyBuf *g, int pad, ErrBuf *e) {
    if (!tiles || info->n_tiles >= PREP_MAX_TILES) return HIPID_OK;
    uint8_t *dst = tiles + (size_t)info->n_tiles * tile * tile;
    if (image_resize_pad(dst, tile, g, pad, e) != HIPID_OK) return HIPID_ERR;
    stretch_minmax(dst, (size_t)tile * tile);
    info->n_tiles++;
    return HIPID_OK;
}

int prep_decode(GreyBuf *g, DicomInfo *di, int *is_dicom, const uint8_t *bytes, size_t n_bytes, const char *path,
                const PrepConfig *c, ErrBuf *e) {
    char err[sizeof e->msg];
    *is_dicom = dicom_sniff(path, bytes, n_bytes);
    if (!*is_dicom) return image_decode(g, bytes, n_bytes, e);
    memset(g, 0, sizeof *g);
    if (dicom_decode(&g->px, &g->w, &g->h, di, bytes, n_bytes, &c->window, err, sizeof err) != 0)
        return hipid_err(e, "%s", err);
    return HIPID_OK;
}

PrepReject prep_image(uint8_t *out, PrepInfo *info, uint8_t *tiles, int tile, GreyBuf *g,
                      const PrepConfig *c, ErrBuf *e) {
    size_t n_px;
    uint8_t *mask = NULL;
    PrepReject rc = PREP_REJECT_UNREADABLE;
    memset(info, 0, sizeof *info);
    info->threshold = -1;
    info->mask_frac = 1.0;
    info->src_w = g->w;
    info->src_h = g->h;
    if (g->w < c->min_size || g->h < c->min_size) {
        hipid_err(e, "too small: %dx%d px (--min-size %d)", g->w, g->h, c->min_size);
        return PREP_REJECT_SMALL;
    }
    if (image_shrink(g, c->work_max, e) != HIPID_OK) return PREP_REJECT_UNREADABLE;
    if (phash_image(&info->hash, g->px, g->w, g->h, e) != HIPID_OK) return PREP_REJECT_UNREADABLE;
    if (add_tile(tiles, tile, info, g, 0, e) != HIPID_OK) return PREP_REJECT_UNREADABLE;
    n_px = (size_t)g->w * g->h;
    if (c->steps & PREP_BACKGROUND) {
        if (prep_background(g, c->bg_radius, e) != HIPID_OK || add_tile(tiles, tile, info, g, 0, e) != HIPID_OK)
            return PREP_REJECT_UNREADABLE;
    }
    if (c->steps & (PREP_OTSU | PREP_LARGEST)) {
        uint64_t hist[256];
        size_t kept = 0;
        if (prep_histogram(hist, g, e) != HIPID_OK) return PREP_REJECT_UNREADABLE;
        info->threshold = otsu_threshold(hist);
        mask = xmalloc(n_px);
        for (size_t i = 0; i < n_px; i++) mask[i] = g->px[i] > info->threshold;
        if (c->steps & PREP_OTSU) {
            for (size_t i = 0; i < n_px; i++) g->px[i] = mask[i] ? (c->binary ? 255 : g->px[i]) : 0;
            if (add_tile(tiles, tile, info, g, 0, e) != HIPID_OK) goto error;
        }
        if (c->steps & PREP_LARGEST) {
            uint8_t *keep = xmalloc(n_px);
            image_largest_component(keep, mask, g->w, g->h, &info->n_components);
            free(mask);
            mask = keep;
            for (size_t i = 0; i < n_px; i++)
                if (!mask[i]) g->px[i] = 0;
            if (add_tile(tiles, tile, info, g, 0, e) != HIPID_OK) goto error;
        }
        for (size_t i = 0; i < n_px; i++) kept += mask[i];
        info->mask_frac = n_px ? (double)kept / n_px : 0.0;
        if (info->mask_frac < c->min_mask) {
            hipid_err(e, "near-empty mask: %.2f%% of pixels kept (Otsu threshold %d, --min-mask %g)",
                      100.0 * info->mask_frac, info->threshold, c->min_mask);
            rc = PREP_REJECT_EMPTY_MASK;
            goto error;
        }
        if (!(c->steps & PREP_CROP)) {
            free(mask);
            mask = NULL;
        }
    }
    int pad = 0;
    if (c->steps & PREP_INVERT) {
        for (size_t i = 0; i < n_px; i++) g->px[i] = (uint8_t)(255 - g->px[i]);
        pad = 255;
        if (add_tile(tiles, tile, info, g, pad, e) != HIPID_OK) goto error;
    }
    if ((c->steps & PREP_CROP) && mask) { /* prep_parse_steps makes crop need a mask */
        crop_square(g, mask, pad);
        free(mask);
        mask = NULL;
        if (add_tile(tiles, tile, info, g, pad, e) != HIPID_OK) goto error;
    }
    if (image_resize_pad(out, c->size, g, pad, e) != HIPID_OK) goto error;
    stretch_minmax(out, (size_t)c->size * c->size);
    if (tiles) {
        GreyBuf fin = {.w = c->size, .h = c->size, .px = out};
        if (add_tile(tiles, tile, info, &fin, pad, e) != HIPID_OK) goto error;
    }
    return PREP_OK;
error:
    free(mask);
    return rc;
}

static int cmp_by_dup(const void *a, const void *b, void *ctx) {
    const int32_t *dup = ctx;
    int32_t x = dup[*(const int *)a], y = dup[*(const int *)b];
    return x < y ? -1 : x > y ? 1 : *(const int *)a - *(const int *)b;
}

static int cmp_by_patient(const void *a, const void *b, void *ctx) {
    char *const *pid = ctx;
    int c = strcmp(pid[*(const int *)a], pid[*(const int *)b]);
    return c ? c : *(const int *)a - *(const int *)b;
}

int prep_merge_groups(int32_t *groups, const int32_t *dup, char *const *patient_ids, int n) {
    int32_t *parent = xmalloc(sizeof(int32_t) * (n ? n : 1));
    int *order = xmalloc(sizeof(int) * (n ? n : 1)), n_groups = 0;
    for (int i = 0; i < n; i++) parent[i] = i;
    /* sort by key, then link neighbours with equal keys */
    if (dup) {
        for (int i = 0; i < n; i++) order[i] = i;
        qsort_r(order, n, sizeof *order, cmp_by_dup, (void *)dup);
        for (int i = 1; i < n; i++)
            if (dup[order[i]] == dup[order[i - 1]]) uf_union(parent, order[i - 1], order[i]);
    }
    if (patient_ids) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (patient_ids[i] && patient_ids[i][0]) order[m++] = i;
        qsort_r(order, m, sizeof *order, cmp_by_patient, (void *)patient_ids);
        for (int i = 1; i < m; i++)
            if (strcmp(patient_ids[order[i]], patient_ids[order[i - 1]]) == 0)
                uf_union(parent, order[i - 1], order[i]);
    }
    /* number the groups by first appearance; uf_union keeps the smallest
     * index as root, so a root is always its group's first image */
    for (int i = 0; i < n; i++) {
        int32_t r = uf_find(parent, i);
        groups[i] = r == i ? n_groups++ : groups[r];
    }
    free(order);
    free(parent);
    return n_groups;
}

