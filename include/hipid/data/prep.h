/* prep.h: the per-image standardisation pipeline behind `hipid prep`.
 *
 * One image at a time: decode (libvips), convert to one 8-bit grey channel,
 * shrink to a working size, then the study's optional steps in this order
 *   background  subtract a large-window median background estimate
 *   otsu        keep pixels above the Otsu threshold (skimage's threshold_otsu)
 *   largest     keep the largest 8-connected component of the Otsu mask
 *   invert      255 - v
 *   crop        cut to a square around the kept mask's bounding box (needs
 *               otsu or largest): prep_crop_box
 * and always an aspect-preserving resize with padding to S x S and a min-max
 * stretch to 0..255. Every function works on a GreyBuf in memory; none keeps
 * state between images. Nothing here lists folders, hashes files or writes
 * HDF5: see imgsrc.h, phash.h and cmd_prep.c.
 *
 * libvips must have been initialised (VIPS_INIT) by the caller.
 */
#ifndef HIPID_PREP_H
#define HIPID_PREP_H

#include <stddef.h>
#include <stdint.h>

#include "hipid/base/common.h"
#include "hipid/data/dicom.h"
#include "hipid/data/image.h"
#include "hipid/data/phash.h"

/* Optional steps, as bits; they always run in this order. */
enum {
    PREP_BACKGROUND = 1 << 0,
    PREP_OTSU = 1 << 1,
    PREP_LARGEST = 1 << 2,
    PREP_INVERT = 1 << 3,
    PREP_CROP = 1 << 4,
};
/* the study's steps: the default (crop is not one of them) */
#define PREP_ALL_STEPS (PREP_BACKGROUND | PREP_OTSU | PREP_LARGEST | PREP_INVERT)
#define PREP_DEFAULT_STEPS "background,otsu,largest,invert"
#define PREP_MAX_TILES 7 /* original, 5 steps, final */
/* crop: the square's margin on each side, as a fraction of the box's longer side */
#define PREP_CROP_MARGIN 0.04

/* Background estimate: the trimmed content is shrunk so its longer side is
 * PREP_BG_GRID pixels, median-filtered there, and scaled back up. */
#define PREP_BG_GRID 64

typedef struct {
    unsigned steps;   /* PREP_* bits */
    int size;         /* S: output images are S x S */
    int work_max;     /* longer side of the working image; larger inputs are shrunk */
    int min_size;     /* inputs smaller than this on either side are rejected */
    double bg_radius; /* median window half-width, fraction of the content's longer side */
    double min_mask;  /* reject when the kept mask covers less than this fraction */
    int binary;       /* otsu writes 255 inside the mask instead of keeping grey values */
    DicomWindow window; /* VOI step for DICOM inputs (dicom.h); default: the file's, else auto */
    int dicom_inputs;   /* set by prepset when DICOM files were prepared: prep_describe then
                         * records the DICOM display pipeline and its VOI step */
} PrepConfig;

/* The crop step's square for a mask (w x h, nonzero = kept): the bounding
 * box of the kept pixels, x in [bx0, bx1) and y in [by0, by1), and L its
 * longer side; side = floor(L (1 + 2 margin) + 0.5), and the top-left
 * corner x0 = floor((bx0 + bx1 - side) / 2 + 0.5), likewise y0, so that the
 * square is centred on the box. x0, y0 may be negative and the square may
 * reach past the image: the step fills what lies outside with the padding
 * value. Returns 0 (and leaves the outputs alone) for an empty mask. */
int prep_crop_box(const uint8_t *mask, int w, int h, double margin, int *x0, int *y0, int *side);

/* Defaults for output size S (work_max = max(2S, 256)). */
PrepConfig prep_config_default(int size);

/* Parse a comma list of step names ("background,otsu,largest,invert", "none")
 * into PREP_* bits. Fails naming an unknown word or a step given twice. */
int prep_parse_steps(unsigned *steps, const char *list, ErrBuf *e);

/* The name of step bit 1 << b ("background" for b = 0, ...); NULL past the last. */
const char *prep_step_name(int b);

/* steps as prep_parse_steps reads them: "background,otsu,largest,invert", "none" */
void prep_steps_text(char *buf, size_t cap, unsigned steps);

/* The `preprocessing` attribute: steps with parameters, e.g.
 * "grey8,work<=256,background(median,r=0.2,grid=64),otsu(mask),largest(8-conn),invert,
 *  resize=128(aspect,pad=255,lanczos3),minmax(0..255)". With DICOM inputs
 * (c->dicom_inputs) a second item records their display pipeline:
 * "dicom(modality,voi=V,mono1-inverted)", V one of file-else-auto(p0.5..p99.5),
 * auto(p0.5..p99.5), window(c=C,w=W). */
void prep_describe(char *buf, size_t cap, const PrepConfig *c);

/* The inverse of prep_describe: read a `preprocessing` attribute back into
 * a config, so that the same steps can be re-applied to new images (hipid
 * predict). Accepts exactly the strings prep_describe writes (numbers are
 * written so that they read back bit for bit); anything else fails with a
 * message quoting the text and the offending item (callers prefix the file). */
int prep_parse_describe(PrepConfig *c, const char *text, ErrBuf *e);

/* Background step, in place: v = max(0, v - median_background(v)) inside the
 * content box; the letterbox stays 0. */
int prep_background(GreyBuf *g, double radius, ErrBuf *e);

/* 256-bin histogram of g (vips_hist_find). */
int prep_histogram(uint64_t hist[256], const GreyBuf *g, ErrBuf *e);

/* Otsu's threshold exactly as skimage.filters.threshold_otsu computes it for
 * a uint8 image with this histogram: bins outside [min,max] of the image are
 * ignored, the between-class variance is evaluated in double in the same
 * order, ties go to the lowest threshold. Pixels > threshold are foreground.
 * Returns the only value for a constant image, -1 for an empty histogram. */
int otsu_threshold(const uint64_t hist[256]);

/* What prep_image learned about one image. */
typedef struct {
    int src_w, src_h;  /* decoded size */
    int threshold;     /* Otsu threshold, -1 when no mask step ran */
    double mask_frac;  /* fraction of working pixels kept by otsu/largest (1 if none ran) */
    int n_components;  /* components of the Otsu mask (0 if largest did not run) */
    int n_tiles;       /* tiles written for the preview */
    PHash hash;        /* of the grey image before the steps (see phash.h) */
} PrepInfo;

/* Decode one file's bytes into g: DICOM (dicom_sniff on path and bytes)
 * through dicom.h with c->window, into di (*is_dicom = 1); anything else
 * through libvips (image_decode, *is_dicom = 0, di untouched). The one decode
 * step of prep and predict. */
int prep_decode(GreyBuf *g, DicomInfo *di, int *is_dicom, const uint8_t *bytes, size_t n_bytes, const char *path,
                const PrepConfig *c, ErrBuf *e);

/* Why prep_image rejected an image (quality filter), or PREP_OK. */
typedef enum { PREP_OK = 0, PREP_REJECT_UNREADABLE, PREP_REJECT_SMALL, PREP_REJECT_EMPTY_MASK } PrepReject;

/* Run the whole pipeline on a decoded grey image g (consumed: shrunk and
 * modified in place). Writes out (S, S). If tiles is not NULL it receives up
 * to PREP_MAX_TILES display tiles (tile, tile): the original, the image after
 * each enabled step and the final image, each contrast-stretched for viewing.
 * Returns PREP_OK, or a PrepReject with the reason in e; resource failures
 * inside libvips are reported as PREP_REJECT_UNREADABLE. */
PrepReject prep_image(uint8_t *out, PrepInfo *info, uint8_t *tiles, int tile, GreyBuf *g,
                      const PrepConfig *c, ErrBuf *e);

/* Leakage groups: images with the same non-empty patient id, or in the same
 * near-duplicate cluster (dup, any ints), share a group. groups (n) gets
 * 0..G-1 numbered by first appearance; returns G. */
int prep_merge_groups(int32_t *groups, const int32_t *dup, char *const *patient_ids, int n);

#endif
