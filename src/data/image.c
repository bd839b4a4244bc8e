/* image.c: 8-bit grey images in memory and the libvips glue around them:
 * decoding, resizing, the letterbox box, connected components, text and PNG
 * output. See image.h. Used by prep (the study's steps), the perceptual hash,
 * predict, saliency maps and the report's contact sheet.
 *
 * Connected components are plain C: vips_labelregions (and vips_draw_flood
 * under it) are 4-connected only, and the study's "largest component" is
 * 8-connected (skimage.measure.label(connectivity=2)); a two-pass union-find
 * labeller is shorter than any workaround.
 */
#include "hipid/data/image.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/fsafe.h"

void grey_free(GreyBuf *g) {
    if (!g) return;
    free(g->px);
    memset(g, 0, sizeof *g);
}

/* Move libvips' error text into e as one line, after what failed. */
int image_vips_fail(ErrBuf *e, const char *what) {
    char msg[400];
    snprintf(msg, sizeof msg, "%s", vips_error_buffer());
    vips_error_clear();
    for (char *p = msg; *p; p++)
        if (*p == '\n') *p = (p[1] ? ';' : '\0');
    return hipid_err(e, "%s (libvips: %s)", what, msg[0] ? msg : "no detail");
}

/* A libvips view of g's pixels (no copy: unref it before g changes). */
VipsImage *image_vips_wrap(const GreyBuf *g) {
    return vips_image_new_from_memory(g->px, (size_t)g->w * g->h, g->w, g->h, 1, VIPS_FORMAT_UCHAR);
}

/* Evaluate a 1-band uchar image into a new GreyBuf; `what` names the step
 * for the message if libvips fails. */
int image_from_vips(GreyBuf *out, VipsImage *im, const char *what, ErrBuf *e) {
    size_t size = 0;
    void *mem;
    if (im->Bands != 1 || im->BandFmt != VIPS_FORMAT_UCHAR)
        hipid_die(__FILE__, __LINE__, "grey_from_vips: %d bands, format %d", im->Bands, im->BandFmt);
    if (!(mem = vips_image_write_to_memory(im, &size))) return image_vips_fail(e, what);
    HIPID_CHECK(size == (size_t)im->Xsize * im->Ysize);
    out->w = im->Xsize;
    out->h = im->Ysize;
    out->px = xmalloc(size);
    memcpy(out->px, mem, size);
    g_free(mem);
    return HIPID_OK;
}

/* Replace g by im's pixels. */
int image_replace(GreyBuf *g, VipsImage *im, const char *what, ErrBuf *e) {
    GreyBuf tmp = {0};
    if (image_from_vips(&tmp, im, what, e) != HIPID_OK) return HIPID_ERR;
    grey_free(g);
    *g = tmp;
    return HIPID_OK;
}

/* Resize to exactly w x h (separate scales), edges copied if rounding leaves
 * a pixel short. */
int image_resize_exact(VipsImage *in, VipsImage **out, int w, int h, VipsKernel kernel) {
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

int image_decode(GreyBuf *out, const void *bytes, size_t n_bytes, ErrBuf *e) {
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
        image_vips_fail(e, "cannot read the image header");
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
    if (image_from_vips(out, im, "cannot decode pixels (truncated or corrupt?)", e) != HIPID_OK) goto error;
    rc = HIPID_OK;
    goto error;
decode_error:
    image_vips_fail(e, "cannot decode pixels (truncated or corrupt?)");
    goto error;
vips_error:
    image_vips_fail(e, "cannot convert to grey");
error:
    if (black) vips_area_unref(VIPS_AREA(black));
    if (ctx) g_object_unref(ctx);
    return rc;
}

int image_shrink(GreyBuf *g, int max_side, ErrBuf *e) {
    int side = g->w > g->h ? g->w : g->h, rc = HIPID_ERR;
    VipsImage *in = NULL, *out = NULL;
    if (side <= max_side) return HIPID_OK;
    double s = (double)max_side / side;
    int w = (int)lround(g->w * s), h = (int)lround(g->h * s);
    if (!(in = image_vips_wrap(g)) || image_resize_exact(in, &out, w < 1 ? 1 : w, h < 1 ? 1 : h, VIPS_KERNEL_LANCZOS3)) {
        image_vips_fail(e, "cannot shrink to the working size");
        goto error;
    }
    rc = image_replace(g, out, "cannot shrink to the working size", e);
error:
    if (out) g_object_unref(out);
    if (in) g_object_unref(in);
    return rc;
}

/* libvips has vips_find_trim for this, but on a 250 x 250 image it costs
 * about 4 ms (it builds a median, linear, abs, threshold and profile
 * pipeline) against 0.05 ms for the row and column counts below; it runs
 * twice per image (background, hash), so it was most of prep's time. */
int image_content_box(int *left, int *top, int *width, int *height, const GreyBuf *g) {
    int *rows = xcalloc(g->h ? g->h : 1, sizeof(int)), *cols = xcalloc(g->w ? g->w : 1, sizeof(int));
    for (int y = 0; y < g->h; y++)
        for (int x = 0; x < g->w; x++)
            if (g->px[(size_t)y * g->w + x] > IMAGE_TRIM_THRESHOLD) {
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

int image_label_components8(int32_t *labels, const uint8_t *mask, int w, int h) {
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

long image_largest_component(uint8_t *keep, const uint8_t *mask, int w, int h, int *n_components) {
    size_t n_px = (size_t)w * h;
    int32_t *labels = xmalloc(sizeof(int32_t) * (n_px ? n_px : 1));
    int n = image_label_components8(labels, mask, w, h);
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

int image_resize_pad(uint8_t *out, int S, const GreyBuf *g, int pad, ErrBuf *e) {
    int side = g->w > g->h ? g->w : g->h, rc = HIPID_ERR;
    int w = (int)lround((double)g->w * S / side), h = (int)lround((double)g->h * S / side);
    VipsImage *ctx = vips_image_new(), **v = (VipsImage **)vips_object_local_array(VIPS_OBJECT(ctx), 3);
    VipsArrayDouble *bg = vips_array_double_newv(1, (double)pad);
    void *mem = NULL;
    size_t size = 0;
    if (!(v[0] = image_vips_wrap(g)) || image_resize_exact(v[0], &v[1], w < 1 ? 1 : w, h < 1 ? 1 : h, VIPS_KERNEL_LANCZOS3) ||
        vips_gravity(v[1], &v[2], VIPS_COMPASS_DIRECTION_CENTRE, S, S, "extend", VIPS_EXTEND_BACKGROUND,
                     "background", bg, NULL) ||
        !(mem = vips_image_write_to_memory(v[2], &size))) {
        image_vips_fail(e, "cannot resize");
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

void image_draw_text(uint8_t *canvas, int cw, int ch, int x, int y, const char *text) {
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

int image_save_png(const char *path, const uint8_t *pix, int w, int h, int bands, const char *what, ErrBuf *e) {
    char tmp[4200], msg[300];
    if (fsafe_tmp_name(tmp, sizeof tmp, path, e) != HIPID_OK) return HIPID_ERR;
    VipsImage *im = vips_image_new_from_memory(pix, (size_t)w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
    errno = 0;
    int ok = im && vips_pngsave(im, tmp, "compression", 9, NULL) == 0, err = errno;
    if (im) g_object_unref(im);
    if (ok) return fsafe_commit(tmp, path, 1, 0, what, e);
    remove(tmp);
    snprintf(msg, sizeof msg, "%s: cannot write the %s PNG", path, what);
    if (err != ENOSPC && err != EDQUOT && strstr(vips_error_buffer(), strerror(ENOSPC))) err = ENOSPC;
    if (err == ENOSPC || err == EDQUOT) { /* libvips' own text is five lines saying so */
        vips_error_clear();
        return hipid_err(e, "%s: %s", msg, strerror(err));
    }
    return image_vips_fail(e, msg);
}

#define SHEET_LINE 20 /* pixels per caption line */
#define SHEET_GAP 8
#define SHEET_MIN_TEXT 270 /* a cell is at least this wide, for its captions */

int image_sheet_save(const char *path, const SheetCell *cells, int n, int cols, int min_side, const char *what,
                     ErrBuf *e) {
    if (n <= 0) return hipid_err(e, "%s: no image for the %s", path, what);
    int S = cells[0].side, n_lines = 0;
    for (int i = 0; i < n; i++) {
        HIPID_CHECK(cells[i].side == S);
        int k = 0;
        while (k < IMAGE_SHEET_LINES && cells[i].lines[k]) k++;
        n_lines = k > n_lines ? k : n_lines;
    }
    int z = S >= min_side ? 1 : (min_side + S - 1) / S, T = S * z;
    int CW = (T > SHEET_MIN_TEXT ? T : SHEET_MIN_TEXT) + SHEET_GAP, CH = T + n_lines * SHEET_LINE + SHEET_GAP;
    cols = n < cols ? n : cols;
    int rows = (n + cols - 1) / cols, W = cols * CW, H = rows * CH;
    uint8_t *canvas = xcalloc((size_t)W * H, 1), *cell = xmalloc((size_t)CW * CH);
    for (int i = 0; i < n; i++) {
        memset(cell, 0, (size_t)CW * CH);
        for (int y = 0; y < T; y++)
            for (int x = 0; x < T; x++) cell[(size_t)y * CW + x] = cells[i].px[(y / z) * S + x / z];
        for (int k = 0; k < IMAGE_SHEET_LINES && cells[i].lines[k]; k++)
            image_draw_text(cell, CW, CH, 0, T + 2 + k * SHEET_LINE, cells[i].lines[k]);
        int ox = (i % cols) * CW, oy = (i / cols) * CH;
        for (int y = 0; y < CH; y++) memcpy(canvas + (size_t)(oy + y) * W + ox, cell + (size_t)y * CW, CW - SHEET_GAP);
    }
    int rc = image_save_png(path, canvas, W, H, 1, what, e);
    free(cell);
    free(canvas);
    return rc;
}
