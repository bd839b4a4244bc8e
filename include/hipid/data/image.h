/* image.h: 8-bit grey images in memory and the libvips glue around them.
 *
 * Decoding (PNG, JPEG, ... to one 8-bit grey channel), resizing, the
 * letterbox content box, 8-connected components, text drawing and PNG
 * output: the image plumbing that prep (the study's steps), the perceptual
 * hash, predict, saliency and the report's contact sheet share. Nothing here
 * knows about data sets or preprocessing strings (prep.h).
 *
 * libvips must have been initialised (VIPS_INIT) by the caller. Messages do
 * not name the file: callers prefix it.
 */
#ifndef HIPID_IMAGE_H
#define HIPID_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <vips/vips.h>

#include "hipid/base/common.h"

/* Pixels at or below this count as letterbox padding (content box). */
#define IMAGE_TRIM_THRESHOLD 10.0

/* An 8-bit grey image held in memory. */
typedef struct {
    int w, h;
    uint8_t *px; /* (h, w), owned; free with grey_free */
} GreyBuf;

void grey_free(GreyBuf *g); /* no-op on a zeroed GreyBuf */

/* Decode encoded image bytes (PNG, JPEG; TIFF and WebP also work) and convert
 * to one 8-bit grey channel: autorotate, flatten alpha onto black, colour to
 * luminance, 16-bit data min-max stretched to 0..255. Empty, non-image,
 * truncated and corrupt files fail with the reason (libvips' words included);
 * messages here and below do not name the file: callers prefix it. */
int image_decode(GreyBuf *out, const void *bytes, size_t n_bytes, ErrBuf *e);

/* Shrink g in place so that its longer side is at most max_side. */
int image_shrink(GreyBuf *g, int max_side, ErrBuf *e);

/* Bounding box of the non-letterbox content: the rows and columns in which
 * at least 1% (and 2) of the pixels are brighter than IMAGE_TRIM_THRESHOLD;
 * the whole image if there are none. Always succeeds (returns HIPID_OK). */
int image_content_box(int *left, int *top, int *width, int *height, const GreyBuf *g);

/* 8-connected component labelling of mask (nonzero = foreground):
 * labels (h, w) get 0 for background and 1..n in raster order of each
 * component's first pixel. Returns n. */
int image_label_components8(int32_t *labels, const uint8_t *mask, int w, int h);

/* keep (h, w) = 1 on the largest 8-connected component of mask (ties: the
 * one met first in raster order), else 0. Returns its pixel count; writes the
 * number of components into *n_components if not NULL. */
long image_largest_component(uint8_t *keep, const uint8_t *mask, int w, int h, int *n_components);

/* Aspect-preserving resize of g into out (S, S), centred, the rest filled
 * with pad (0..255). */
int image_resize_pad(uint8_t *out, int S, const GreyBuf *g, int pad, ErrBuf *e);

/* Draw text with libvips' text renderer (white on black, "sans" at 110
 * dpi) into a grey canvas (cw x ch) at (x, y), clipped to the canvas. Best
 * effort: a missing font only costs the label. libvips must be started. */
void image_draw_text(uint8_t *canvas, int cw, int ch, int x, int y, const char *text);

/* Write 8-bit pixels (h, w, bands), bands 1 (grey) or 3 (RGB), as a PNG; on
 * failure e says "PATH: cannot write the <what> PNG (libvips: ...)". */
int image_save_png(const char *path, const uint8_t *pix, int w, int h, int bands, const char *what, ErrBuf *e);

/* One cell of a contact sheet: a square grey tile and caption lines. */
#define IMAGE_SHEET_LINES 4
typedef struct {
    const uint8_t *px;                    /* (side, side) */
    int side;
    const char *lines[IMAGE_SHEET_LINES]; /* NULL-terminated early if fewer */
} SheetCell;

/* A contact sheet PNG at path: cells in rows of `cols`, each tile scaled up
 * by a whole factor to at least min_side pixels (nearest neighbour, so
 * pixels stay visible), its caption lines drawn below it. All tiles must have
 * the same side. `what` names the sheet in error messages. */
int image_sheet_save(const char *path, const SheetCell *cells, int n, int cols, int min_side, const char *what,
                     ErrBuf *e);

/* ---- libvips glue for the modules that run their own libvips steps ---- */

/* Move libvips' error text into e as one line after `what`; returns HIPID_ERR. */
int image_vips_fail(ErrBuf *e, const char *what);
/* A libvips view of g's pixels (no copy: unref it before g changes). */
VipsImage *image_vips_wrap(const GreyBuf *g);
/* Evaluate a 1-band uchar image into a new GreyBuf (`what` names the step). */
int image_from_vips(GreyBuf *out, VipsImage *im, const char *what, ErrBuf *e);
/* Replace g by im's pixels. */
int image_replace(GreyBuf *g, VipsImage *im, const char *what, ErrBuf *e);
/* Resize to exactly w x h (separate scales); 0 on success, as libvips. */
int image_resize_exact(VipsImage *in, VipsImage **out, int w, int h, VipsKernel kernel);

#endif
