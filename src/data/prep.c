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
                bits |= step_names[i].bit;
                found = 1;
            }
        if (!found)
            return hipid_err(e, "--steps: unknown step '%.*s', expected a comma list of "
                                "background, otsu, largest, invert (or none)", (int)len, p);
        p += len;
        if (*p == ',') p++;
    }
    *steps = bits;
    return HIPID_OK;
}

/* Shortest %.Ng form of v that reads back as exactly v: "0.35" stays
 * "0.35" (what %g wrote before), and no value is rounded away. */
static void fmt_exact(char *buf, size_t cap, double v) {
    for (int p = 6; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void prep_describe(char *buf, size_t cap, const PrepConfig *c) {
    size_t n = 0;
    char r[32], m[32];
    fmt_exact(r, sizeof r, c->bg_radius);
    fmt_exact(m, sizeof m, c->min_mask);
#define ADD(...) (n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__))
    ADD("grey8(autorot,alpha-on-black),work<=%d", c->work_max);
    if (c->steps & PREP_BACKGROUND)
        ADD(",background(median,r=%s*content,grid=%d,trim>%g)", r, PREP_BG_GRID, PREP_TRIM_THRESHOLD);
    if (c->steps & PREP_OTSU) ADD(",otsu(%s)", c->binary ? "binary" : "mask");
    if (c->steps & PREP_LARGEST) ADD(",largest(8-conn)");
    if (c->steps & PREP_INVERT) ADD(",invert");
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
    double trim = 0.0;
    c.steps = 0;
    c.work_max = c.size = 0;
    while (next_item(tok, sizeof tok, &p)) {
        if (item++ == 0) {
            if (strcmp(tok, "grey8(autorot,alpha-on-black)") != 0)
                return hipid_err(e, "preprocessing \"%.200s\" does not start with grey8(autorot,alpha-on-black): "
                                    "not made by hipid prep (a synthetic data set?)", text);
        } else if (SCAN_ALL(tok, "work<=%d", &c.work_max)) {
            have_work = 1;
        } else if (SCAN_ALL(tok, "background(median,r=%lf*content,grid=%d,trim>%lf)", &c.bg_radius, &grid, &trim)) {
            c.steps |= PREP_BACKGROUND;
            if (grid != PREP_BG_GRID || trim != PREP_TRIM_THRESHOLD)
                return hipid_err(e, "preprocessing step '%s': this hipid runs the background step with grid=%d, "
                                    "trim>%g only", tok, PREP_BG_GRID, PREP_TRIM_THRESHOLD);
        } else if (SCAN_ALL(tok, "otsu(%15[a-z])", mode) && (!strcmp(mode, "mask") || !strcmp(mode, "binary"))) {
            c.steps |= PREP_OTSU;
            c.binary = strcmp(mode, "binary") == 0;
        } else if (strcmp(tok, "largest(8-conn)") == 0) {
            c.steps |= PREP_LARGEST;
        } else if (strcmp(tok, "invert") == 0) {
            c.steps |= PREP_INVERT;
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

void grey_free(GreyBuf *g) {
    if (!g) return;
    free(g->px);
    memset(g, 0, sizeof *g);
}

/* Move libvips' error text into e as one line, after what failed. */
static int vips_fail(ErrBuf *e, const char *what) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", vips_error_buffer());
    vips_error_clear();
    for (char *p = msg; *p; p++)
        if (*p == '\n') *p = (p[1] ? ';' : '\0');
    return hipid_err(e, "%s (libvips: %s)", what, msg[0] ? msg : "no detail");
}

/* A libvips view of g's pixels (no copy: unref it before g changes). */
static VipsImage *grey_wrap(const GreyBuf *g) {
    return vips_image_new_from_memory(g->px, (size_t)g->w * g->h, g->w, g->h, 1, VIPS_FORMAT_UCHAR);
}

/* Evaluate a 1-band uchar image into a new GreyBuf; `what` names the step
 * for the message if libvips fails. */
static int grey_from_vips(GreyBuf *out, VipsImage *im, const char *what, ErrBuf *e) {
    size_t size = 0;
    void *mem;
    if (im->Bands != 1 || im->BandFmt != VIPS_FORMAT_UCHAR)
        hipid_die(__FILE__, __LINE__, "grey_from_vips: %d bands, format %d", im->Bands, im->BandFmt);
    if (!(mem = vips_image_write_to_memory(im, &size))) return vips_fail(e, what);
    HIPID_CHECK(size == (size_t)im->Xsize * im->Ysize);
    out->w = im->Xsize;
    out->h = im->Ysize;
    out->px = xmalloc(size);
    memcpy(out->px, mem, size);
    g_free(mem);
    return HIPID_OK;
}

/* Replace g by im's pixels. */
static int grey_replace(GreyBuf *g, VipsImage *im, const char *what, ErrBuf *e) {
    GreyBuf tmp = {0};
    if (grey_from_vips(&tmp, im, what, e) != HIPID_OK) return HIPID_ERR;
    grey_free(g);
    *g = tmp;
    return HIPID_OK;
}

/* Resize to exactly w x h (separate scales), edges copied if rounding leaves
 * a pixel short. */
static int resize_exact(VipsImage *in, VipsImage **out, int w, int h, VipsKernel kernel) {
    VipsImage *ctx = vips_image_new();
    VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(ctx), 2);
    int rc = -1;
    if (in->Xsize == w && in->Ysize == h) {
        g_object_ref(in);
        *out = in;
        rc = 0;
        goto done;
    }
    if (vips_resize(in, &t[0], (double)w / in->Xsize, "vscale", (double)h / in->Ysize, "kernel", kernel,
                    NULL))
        goto done;
    if (t[0]->Xsize == w && t[0]->Ysize == h) {
        g_object_ref(t[0]);
        *out = t[0];
        rc = 0;
        goto done;
    }
    rc = vips_embed(t[0], out, 0, 0, w, h, "extend", VIPS_EXTEND_COPY, NULL);
done:
    g_object_unref(ctx);
    return rc;
}

int prep_decode(GreyBuf *out, const void *bytes, size_t n_bytes, ErrBuf *e) {
    VipsImage *ctx = NULL, **t, *im;
    VipsArrayDouble *black = NULL;
    const char *loader;
    int rc = HIPID_ERR;
    memset(out, 0, sizeof *out);
    if (n_bytes == 0) return hipid_err(e, "empty file (0 bytes)");
    if (!(loader = vips_foreign_find_load_buffer(bytes, n_bytes))) {
        vips_error_clear();
        return hipid_err(e, "not an image libvips can read (expected PNG or JPEG)");
    }
    ctx = vips_image_new();
    t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(ctx), 8);
    if (!(t[0] = vips_image_new_from_buffer(bytes, n_bytes, "", "fail_on", VIPS_FAIL_ON_ERROR, NULL))) {
        vips_fail(e, "cannot read the image header");
        goto error;
    }
    /* refuse before decoding anything absurd (a 1 GB bitmap bomb) */
    if ((double)t[0]->Xsize * t[0]->Ysize > 256e6) {
        hipid_err(e, "image too large to prepare (%dx%d px)", t[0]->Xsize, t[0]->Ysize);
        goto error;
    }
    if (vips_autorot(t[0], &t[1], NULL)) goto vips_error;
    im = t[1];
    if (vips_image_hasalpha(im)) {
        black = vips_array_double_newv(1, 0.0);
        if (vips_flatten(im, &t[2], "background", black, NULL)) goto vips_error;
        im = t[2];
    }
    /* keep 16-bit precision until the stretch below */
    if (vips_colourspace(im, &t[3], im->BandFmt == VIPS_FORMAT_USHORT ? VIPS_INTERPRETATION_GREY16
                                                                      : VIPS_INTERPRETATION_B_W,
                         NULL))
        goto vips_error;
    im = t[3];
    if (im->Bands > 1) {
        if (vips_extract_band(im, &t[4], 0, NULL)) goto vips_error;
        im = t[4];
    }
    if (im->BandFmt != VIPS_FORMAT_UCHAR) {
        /* 16-bit (or float) data: stretch the image's own range to 0..255, so
         * 12-bit X-rays stored in 16-bit PNGs keep their contrast */
        double lo, hi, a;
        if (!(t[5] = vips_image_copy_memory(im))) goto decode_error;
        if (vips_min(t[5], &lo, NULL) || vips_max(t[5], &hi, NULL)) goto vips_error;
        a = hi > lo ? 255.0 / (hi - lo) : 0.0;
        if (vips_linear1(t[5], &t[6], a, -lo * a, NULL) || vips_cast(t[6], &t[7], VIPS_FORMAT_UCHAR, NULL))
            goto vips_error;
        im = t[7];
    }
    if (grey_from_vips(out, im, "cannot decode pixels (truncated or corrupt?)", e) != HIPID_OK) goto error;
    rc = HIPID_OK;
    goto error;
decode_error:
    vips_fail(e, "cannot decode pixels (truncated or corrupt?)");
    goto error;
vips_error:
    vips_fail(e, "cannot convert to grey");
error:
    if (black) vips_area_unref(VIPS_AREA(black));
    if (ctx) g_object_unref(ctx);
    return rc;
}

int prep_shrink(GreyBuf *g, int max_side, ErrBuf *e) {
    int side = g->w > g->h ? g->w : g->h, rc = HIPID_ERR;
    VipsImage *in = NULL, *out = NULL;
    if (side <= max_side) return HIPID_OK;
    double s = (double)max_side / side;
    int w = (int)lround(g->w * s), h = (int)lround(g->h * s);
    if (!(in = grey_wrap(g)) || resize_exact(in, &out, w < 1 ? 1 : w, h < 1 ? 1 : h, VIPS_KERNEL_LANCZOS3)) {
        vips_fail(e, "cannot shrink to the working size");
        goto error;
    }
    rc = grey_replace(g, out, "cannot shrink to the working size", e);
error:
    if (out) g_object_unref(out);
    if (in) g_object_unref(in);
    return rc;
}

/* libvips has vips_find_trim for this, but on a 250 x 250 image it costs
 * about 4 ms (it builds a median, linear, abs, threshold and profile
 * pipeline) against 0.05 ms for the row and column counts below; it runs
 * twice per image (background, hash), so it was most of prep's time. */
int prep_content_box(int *left, int *top, int *width, int *height, const GreyBuf *g) {
    int *rows = xcalloc(g->h ? g->h : 1, sizeof(int)), *cols = xcalloc(g->w ? g->w : 1, sizeof(int));
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++)
            if (g->px[(size_t)y * g->w + x] > PREP_TRIM_THRESHOLD) {
                rows[y]++;
                cols[x]++;
            }
    /* a row (column) is content if enough of its pixels are: isolated
     * bright specks (JPEG noise, a burnt-in letter) do not count */
    int need_r = g->w / 100 > 2 ? g->w / 100 : 2, need_c = g->h / 100 > 2 ? g->h / 100 : 2;
    int y0 = 0, y1 = g->h - 1, x0 = 0, x1 = g->w - 1;
    while (y0 < g->h && rows[y0] < need_r) y0++;
    while (y1 > y0 && rows[y1] < need_r) y1--;
    while (x0 < g->w && cols[x0] < need_c) x0++;
    while (x1 > x0 && cols[x1] < need_c) x1--;
    if (y0 >= g->h || x0 >= g->w) { /* nothing bright: keep everything */
        y0 = x0 = 0;
        y1 = g->h - 1;
        x1 = g->w - 1;
    }
    *left = x0;
    *top = y0;
    *width = x1 - x0 + 1;
    *height = y1 - y0 + 1;
    free(rows);
    free(cols);
    return HIPID_OK;
}

int prep_background(GreyBuf *g, double radius, ErrBuf *e) {
    int l, t, cw, ch, rc = HIPID_ERR;
    VipsImage *ctx = NULL, **v;
    prep_content_box(&l, &t, &cw, &ch, g);
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
    if (!(v[0] = grey_wrap(g)) || vips_extract_area(v[0], &v[1], l, t, cw, ch, NULL) ||
        resize_exact(v[1], &v[2], sw, sh, VIPS_KERNEL_LANCZOS3) || vips_median(v[2], &v[3], win, NULL) ||
        resize_exact(v[3], &v[4], cw, ch, VIPS_KERNEL_LINEAR) ||
        /* short result; the cast to uchar clips negatives to 0 */
        vips_subtract(v[1], v[4], &v[5], NULL) || vips_cast(v[5], &v[6], VIPS_FORMAT_UCHAR, NULL) ||
        vips_embed(v[6], &v[7], l, t, g->w, g->h, "extend", VIPS_EXTEND_BLACK, NULL)) {
        vips_fail(e, "background step failed");
        goto error;
    }
    rc = grey_replace(g, v[7], "background step failed", e);
error:
    g_object_unref(ctx);
    return rc;
}

int prep_histogram(uint64_t hist[256], const GreyBuf *g, ErrBuf *e) {
    VipsImage *in = NULL, *h = NULL;
    uint32_t *mem = NULL;
    size_t size = 0;
    int rc = HIPID_ERR;
    if (!(in = grey_wrap(g)) || vips_hist_find(in, &h, NULL) || !(mem = vips_image_write_to_memory(h, &size))) {
        vips_fail(e, "cannot take the histogram");
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

static int32_t uf_find(int32_t *parent, int32_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void uf_union(int32_t *parent, int32_t a, int32_t b) {
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a < b) parent[b] = a;
    else if (b < a) parent[a] = b;
}

int label_components8(int32_t *labels, const uint8_t *mask, int w, int h) {
    size_t n_px = (size_t)w * h;
    int32_t *parent = xmalloc(sizeof(int32_t) * (n_px + 1)), next = 1;
    parent[0] = 0;
    /* pass 1: provisional labels, merging with the already visited
     * neighbours W, NW, N, NE */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!mask[i]) {
                labels[i] = 0;
                continue;
            }
            int32_t nb[4], k = 0;
            if (x > 0 && labels[i - 1]) nb[k++] = labels[i - 1];
            if (y > 0) {
                const int32_t *up = labels + i - w;
                if (x > 0 && up[-1]) nb[k++] = up[-1];
                if (up[0]) nb[k++] = up[0];
                if (x + 1 < w && up[1]) nb[k++] = up[1];
            }
            if (k == 0) {
                parent[next] = next;
                labels[i] = next++;
                continue;
            }
            labels[i] = nb[0];
            for (int j = 1; j < k; j++) uf_union(parent, nb[0], nb[j]);
        }
    /* pass 2: final labels 1..n in raster order of each component's first pixel */
    int32_t *map = xcalloc((size_t)next, sizeof(int32_t)), n = 0;
    for (size_t i = 0; i < n_px; i++) {
        if (!labels[i]) continue;
        int32_t root = uf_find(parent, labels[i]);
        if (!map[root]) map[root] = ++n;
        labels[i] = map[root];
    }
    free(map);
    free(parent);
    return n;
}

long largest_component(uint8_t *keep, const uint8_t *mask, int w, int h, int *n_components) {
    size_t n_px = (size_t)w * h;
    int32_t *labels = xmalloc(sizeof(int32_t) * (n_px ? n_px : 1));
    int n = label_components8(labels, mask, w, h);
    long *size = xcalloc((size_t)n + 1, sizeof(long)), best_size = 0;
    int best = 0;
    for (size_t i = 0; i < n_px; i++) size[labels[i]]++;
    for (int k = 1; k <= n; k++)
        if (size[k] > best_size) {
            best_size = size[k];
            best = k;
        }
    for (size_t i = 0; i < n_px; i++) keep[i] = best && labels[i] == best;
    if (n_components) *n_components = n;
    free(size);
    free(labels);
    return best_size;
}

int prep_resize_pad(uint8_t *out, int S, const GreyBuf *g, int pad, ErrBuf *e) {
    int side = g->w > g->h ? g->w : g->h, rc = HIPID_ERR;
    int w = (int)lround((double)g->w * S / side), h = (int)lround((double)g->h * S / side);
    VipsImage *ctx = vips_image_new(), **v = (VipsImage **)vips_object_local_array(VIPS_OBJECT(ctx), 3);
    VipsArrayDouble *bg = vips_array_double_newv(1, (double)pad);
    void *mem = NULL;
    size_t size = 0;
    if (!(v[0] = grey_wrap(g)) || resize_exact(v[0], &v[1], w < 1 ? 1 : w, h < 1 ? 1 : h, VIPS_KERNEL_LANCZOS3) ||
        vips_gravity(v[1], &v[2], VIPS_COMPASS_DIRECTION_CENTRE, S, S, "extend", VIPS_EXTEND_BACKGROUND,
                     "background", bg, NULL) ||
        !(mem = vips_image_write_to_memory(v[2], &size))) {
        vips_fail(e, "cannot resize");
        goto error;
    }
    HIPID_CHECK(size == (size_t)S * S);
    memcpy(out, mem, size);
    rc = HIPID_OK;
error:
    g_free(mem);
    vips_area_unref(VIPS_AREA(bg));
    g_object_unref(ctx);
    return rc;
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

/* Append a display tile of g (contrast-stretched) to the preview tiles. */
static int add_tile(uint8_t *tiles, int tile, PrepInfo *info, const GreyBuf *g, int pad, ErrBuf *e) {
    if (!tiles || info->n_tiles >= PREP_MAX_TILES) return HIPID_OK;
    uint8_t *dst = tiles + (size_t)info->n_tiles * tile * tile;
    if (prep_resize_pad(dst, tile, g, pad, e) != HIPID_OK) return HIPID_ERR;
    stretch_minmax(dst, (size_t)tile * tile);
    info->n_tiles++;
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
    if (prep_shrink(g, c->work_max, e) != HIPID_OK) return PREP_REJECT_UNREADABLE;
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
            largest_component(keep, mask, g->w, g->h, &info->n_components);
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
        free(mask);
        mask = NULL;
    }
    int pad = 0;
    if (c->steps & PREP_INVERT) {
        for (size_t i = 0; i < n_px; i++) g->px[i] = (uint8_t)(255 - g->px[i]);
        pad = 255;
        if (add_tile(tiles, tile, info, g, pad, e) != HIPID_OK) goto error;
    }
    if (prep_resize_pad(out, c->size, g, pad, e) != HIPID_OK) goto error;
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

void prep_draw_text(uint8_t *canvas, int cw, int ch, int x, int y, const char *text) {
    VipsImage *t = NULL;
    void *mem = NULL;
    size_t size = 0;
    if (vips_text(&t, text, "dpi", 110, "font", "sans", NULL) || !(mem = vips_image_write_to_memory(t, &size))) {
        vips_error_clear();
        goto done;
    }
    for (int r = 0; r < t->Ysize && y + r < ch; r++)
        for (int c = 0; c < t->Xsize && x + c < cw; c++)
            canvas[(size_t)(y + r) * cw + x + c] = ((uint8_t *)mem)[r * t->Xsize + c];
done:
    g_free(mem);
    if (t) g_object_unref(t);
}

int prep_save_png(const char *path, const uint8_t *pix, int w, int h, int bands, const char *what, ErrBuf *e) {
    VipsImage *im = vips_image_new_from_memory(pix, (size_t)w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
    int rc = HIPID_OK;
    if (!im || vips_pngsave(im, path, "compression", 9, NULL)) {
        rc = hipid_err(e, "%s: cannot write the %s PNG (libvips: %.200s)", path, what, vips_error_buffer());
        vips_error_clear();
    }
    if (im) g_object_unref(im);
    return rc;
}
