/* phash.h: a 256-bit DCT perceptual hash and near-duplicate clustering, for
 * the leakage audit of `hipid prep`.
 *
 * The pHash recipe (as Python's imagehash.phash with hash_size=16): the
 * letterbox-trimmed grey image is resized to 64 x 64 (aspect ignored), a 2-D
 * DCT-II is taken, and the 16 x 16 lowest frequencies are compared with their
 * median: bit i = 16v+u is C[v][u] > median, most significant bit first in
 * word i/64.
 *
 * Why 256 bits and not the usual 64: X-rays of one joint all look alike at
 * 8 x 8 frequencies. On the shoulder set the 64-bit hash puts different
 * patients at Hamming distance 4 while a re-encoded flipped copy can be at
 * 4-6. With 256 bits, flipped, re-encoded, resized or gamma-changed copies
 * stay <= 40; the closest two images are two exposures of one patient (46)
 * and the closest different patients are 52 apart, hence the default
 * threshold 46 (docs/data.md). Crops or zooms of more than a few percent
 * are not caught by either hash.
 *
 * Mirroring the image left to right multiplies C[v][u] by (-1)^u, so the hash
 * of the mirror image comes from the same coefficients; both orientations are
 * kept and the distance is the smallest Hamming distance over the pairings of
 * "as is" and "mirrored".
 */
#ifndef HIPID_PHASH_H
#define HIPID_PHASH_H

#include <stdint.h>

#include "hipid/base/common.h"

#define PHASH_SIDE 64 /* the image is resized to PHASH_SIDE x PHASH_SIDE */
#define PHASH_WORDS 4 /* 256 bits */
#define PHASH_DEFAULT_THRESHOLD 46

typedef struct {
    uint64_t h[2][PHASH_WORDS]; /* [0] the image as is, [1] its mirror image */
    int flip; /* canonical orientation (the one stored in data sets): the one whose
               * first horizontal frequency C[0][1] is >= 0 (brighter left half),
               * so an image and its mirror store the same hash unless the image
               * is nearly symmetric */
} PHash;

/* Hash a PHASH_SIDE x PHASH_SIDE grey image px (64, 64). */
PHash phash_from_pixels(const uint8_t *px);

/* Hash a grey image px (h, w) of any size: trim the letterbox (as
 * image_content_box), resize to 64 x 64 with libvips, then phash_from_pixels.
 * libvips must be initialised. */
int phash_image(PHash *out, const uint8_t *px, int w, int h, ErrBuf *e);

/* Smallest Hamming distance over the as-is/mirror pairings: symmetric, and 0
 * between an image and its exact mirror image. */
int phash_distance(const PHash *a, const PHash *b);

/* Union-find over all pairs with phash_distance <= threshold (O(n^2)
 * popcounts: about 5 s for 50 000 images; threshold < 0: no pairs).
 * cluster (n) gets 0..C-1 numbered by first appearance; returns the number
 * of clusters with two or more members. */
int phash_cluster(int32_t *cluster, const PHash *h, int n, int threshold);

#endif
