/* dupdesc.h: copy detection for the leakage audit.
 *
 * Finds radiographs that are copies of one film: rotated by any angle
 * (small angles and quarter turns), mirrored, cropped or zoomed, with
 * other brightness, contrast, gamma or tint, black rotation corners, or
 * re-encoded.
 *
 * Descriptor (dupdesc_compute): the grey image is resized so its longer side
 * is DUP_SIDE px and its intensities stretched between the 1% and 99.5%
 * quantiles; local features are taken like SIFT (difference-of-Gaussian
 * extrema over 4 octaves x 3 scales, edge and contrast rejection, dominant
 * gradient orientation, 4 x 4 x 8 gradient histograms), stored as RootSIFT
 * (sqrt of the L1-normalised histogram) quantised to uint8, at most
 * DUP_MAX_KP keypoints (the strongest |DoG|). Local features are invariant
 * to rotation, scale, crop and monotone intensity changes; the mirror image's
 * features are a fixed permutation of these (no second pass).
 *
 * Verification (dupdesc_similarity): mutual nearest neighbours with Lowe's
 * ratio test between the two images' features, against the second image as
 * is and mirrored, then the similarity transform (rotation + scale +
 * translation) that the most matches agree with, found by trying every pair
 * among the best matches (deterministic, no random sampling). The similarity
 * is the number of agreeing matches (inliers).
 *
 * Clustering (dupdesc_cluster): candidates come from a global VLAD vector per
 * image (64-word codebook learnt by k-means on the data itself, mirror-
 * symmetrised); each image's n_cand most similar images are verified; a
 * group is formed around a medoid: every member is itself verified against
 * the medoid at >= threshold inliers (no chains: the group's diameter is two
 * verified links at most), and groups are capped at max_group members.
 * Results do not depend on the number of threads.
 */
#ifndef HIPID_DUPDESC_H
#define HIPID_DUPDESC_H

#include <stdint.h>

#ifndef DUP_SIDE
#define DUP_SIDE 256 /* working size: longer side, px */
#endif
#ifndef DUP_MAX_KP
#define DUP_MAX_KP 192 /* keypoints kept per image */
#endif
#define DUP_DESC_LEN 128     /* 4 x 4 cells x 8 orientations */
#define DUP_THUMB 96         /* pixel check: thumbnail's longer side, px */
#define DUP_VLAD_WORDS 64    /* codebook size for the candidate search */
#define DUP_DEFAULT_THRESHOLD 14.0f
#define DUP_DEFAULT_MIN_CORR 0.60f /* pixel check (tests/audit_bench.py and the demo phantoms: README) */
#define DUP_DEFAULT_CANDIDATES 15
#define DUP_DEFAULT_MAX_GROUP 20

/* Fixed-size descriptor, plain data (no pointers): can be stored as a flat
 * uint8 array of sizeof(DupDesc) = 36,884 bytes per image (e.g. an HDF5
 * dataset of shape (n, sizeof(DupDesc)) uint8). Unused keypoint slots are 0. */
typedef struct {
    int32_t n_kp;                             /* keypoints used, 0..DUP_MAX_KP */
    int32_t w, h;                             /* working image size, px */
    float kp[DUP_MAX_KP][4];                  /* x, y (working px), sigma (px), orientation (rad) */
    uint8_t desc[DUP_MAX_KP][DUP_DESC_LEN];   /* RootSIFT * 255, bin (cell_v * 4 + cell_u) * 8 + o */
    int32_t tw, th;                           /* thumbnail size, px */
    uint8_t thumb[DUP_THUMB * DUP_THUMB];     /* the stretched working image at tw x th, row-major */
} DupDesc;

typedef struct {
    float c_dog;      /* DoG contrast threshold (image in 0..1) */
    float edge_ratio; /* principal curvature ratio limit */
} DupDescParams;

typedef struct {
    float ratio;      /* Lowe ratio test on descriptor distances */
    float tol;        /* inlier tolerance, px of the second image's working size */
    int n_top;        /* hypotheses from all pairs of the n_top best matches */
    float min_corr;   /* pixel check: rank correlation over the overlap the transform gives; 0: off */
    float min_overlap; /* pixel check: overlap at least this share of the smaller thumbnail */
} DupMatchParams;

typedef struct {
    int n_cand;           /* candidates per image from the VLAD search */
    int max_group;        /* hard cap on a group's size */
    int n_threads;        /* OpenMP threads, 0: default; results do not depend on it */
    DupMatchParams match;
} DupClusterParams;

typedef struct {
    int64_t n_pairs_verified;
    int n_groups_multi;    /* groups with >= 2 members */
    int largest_group;
    int n_groups_capped;   /* groups that hit max_group: members were left out (warn!) */
    double t_codebook, t_vlad, t_candidates, t_verify, t_link; /* seconds */
} DupClusterStats;

void dupdesc_default_desc_params(DupDescParams *p);
void dupdesc_default_match_params(DupMatchParams *p);
void dupdesc_default_cluster_params(DupClusterParams *p);

/* Descriptor of a grey image px (h, w), row-major, any size >= 16 x 16.
 * p may be NULL (defaults). Returns 0, or -1 on bad input / out of memory. */
int dupdesc_compute(DupDesc *out, const uint8_t *px, int w, int h, const DupDescParams *p);

/* Similarity of two descriptors: the inlier count of the best similarity
 * transform from a to b or to b's mirror image (0..DUP_MAX_KP*2). Symmetric up
 * to ties. *mirrored (may be NULL) gets 1 if the mirror won. p may be NULL. */
float dupdesc_similarity(const DupDesc *a, const DupDesc *b, const DupMatchParams *p, int *mirrored);

/* Group the n descriptors d (n): group (n) gets 0..G-1 (numbered by first
 * appearance; singletons get their own group). Two images share a group only
 * if one of them is the group's medoid and their similarity is >= threshold.
 * pair_i, pair_j, pair_s (optional, may be NULL, capacity max_pairs): the
 * verified pairs and their similarity, for reports; *n_pairs gets their count.
 * p and stats may be NULL. Returns the number of groups, or -1 (out of memory). */
int dupdesc_cluster(int32_t *group, DupClusterStats *stats, int32_t *pair_i, int32_t *pair_j, float *pair_s,
                int64_t *n_pairs, const DupDesc *d, float threshold, const DupClusterParams *p, int64_t max_pairs,
                int n);

#endif
