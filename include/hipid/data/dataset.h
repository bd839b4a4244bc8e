/* dataset.h: hipid's HDF5 data-set file, format version 1.
 *
 * Layout (every name below is at the file's root; readable with h5py):
 *   attributes
 *     format          string  "hipid-dataset"
 *     format_version  int     1
 *     image_size      int     S (images are S x S, one channel)
 *     n_classes       int     K
 *     preprocessing   string  the steps and parameters that made the images, as
 *                             prep_describe writes them (prep_parse_describe reads
 *                             them back; hipid predict re-applies them)
 *     source          string  what the images came from (folder, manifest, "synth ...")
 *     images_sha256   string  SHA-256 (64 lowercase hex digits) of the images dataset's
 *                             N*S*S bytes in row-major order, as stored; dataset_load
 *                             recomputes it and refuses a mismatch (files written
 *                             before this attribute load, the hash computed then)
 *   datasets
 *     images          uint8  [N,S,S]  chunked [1,S,S], deflate
 *     labels          int32  [N]      in [0,K)
 *     class_names     string [K]      variable-length UTF-8
 *     groups          int32  [N]      in [0,N), leakage group: images sharing a group (same
 *                                     patient or near-duplicates) never straddle a split
 *     patient_ids     string [N]      as given by the source ("" if unknown)
 *     source_paths    string [N]      relative to the source root
 *     source_sha256   string [N]      hex digest of the source file bytes ("" if none)
 *   optional datasets (written by `hipid prep`; dataset_load reads phash and
 *   dup_groups when present, NULL otherwise)
 *     phash           uint64 [N,4]    256-bit DCT perceptual hash of the grey source image,
 *                                     mirror-canonical, the 4 words most significant first
 *                                     (phash.h); attributes: method (string), dup_threshold
 *                                     (int, the Hamming distance used for grouping; -1 = off)
 *     dup_groups      int32  [N]      near-duplicate cluster in [0,N) (numbered by first
 *                                     appearance); groups merges these with patient_ids
 *     skipped         string [M]      "<path>: <reason>" for every source file left out
 * Other datasets (splits/...) may follow; readers ignore what they do not know.
 *
 * Files are written to PATH.tmp and renamed, so a crash never leaves a
 * half-written data set under the final name.
 */
#ifndef HIPID_DATASET_H
#define HIPID_DATASET_H

#include <stdint.h>

#include "hipid/base/common.h"

#define DATASET_FORMAT "hipid-dataset"
#define DATASET_FORMAT_VERSION 1

typedef struct {
    int n, size, n_classes;
    uint8_t *images;      /* (n, size, size) */
    int32_t *labels;      /* (n) */
    int32_t *groups;      /* (n) */
    char **class_names;   /* (n_classes) */
    char **patient_ids;   /* (n), may be NULL when writing: stored as "" */
    char **source_paths;  /* (n), may be NULL when writing */
    char **source_sha256; /* (n), may be NULL when writing */
    uint64_t *phash;      /* (n, 4), optional: NULL = not written / not in the file */
    int32_t *dup_groups;  /* (n), optional */
    char **skipped;       /* (n_skipped), optional, written only (dataset_load leaves it NULL) */
    int n_skipped;
    int dup_threshold;    /* stored with phash */
    char preprocessing[512];
    char source[512];
    char images_sha256[65];  /* filled by dataset_load (and by dataset_save's caller through
                              * dataset_images_sha256 if wanted); dataset_save recomputes it */
} Dataset;

/* Allocate arrays for n images of size x size and K classes (all zeroed,
 * strings NULL, groups[i] = i; the optional arrays stay NULL). */
void dataset_alloc(Dataset *d, int n, int size, int n_classes);
/* Free everything d owns and zero it; safe on a zeroed Dataset. */
void dataset_free(Dataset *d);

/* Read a data set; on a wrong layout the message names the file, the dataset
 * or attribute, what was expected and what was found. */
int dataset_load(Dataset *d, const char *path, ErrBuf *e);
int dataset_save(const Dataset *d, const char *path, ErrBuf *e);

/* SHA-256 of n bytes of images as 64 lowercase hex digits (GLib GChecksum). */
void dataset_images_sha256(char hex[65], const uint8_t *images, size_t n);

/* The data set's identity: what trial keys and trial files' data_checksum
 * name. The first 8 bytes (big-endian) of SHA-256 over the text
 *   "hipid-data-identity 1\nn=<n>\nlabels_groups=<16 hex>\nimages_sha256=<64 hex>\n"
 *   "preprocessing=<preprocessing>\n"
 * where labels_groups is split_data_checksum's FNV-1a of n, labels and groups
 * (the splits' checksum). So new pixels or another preprocessing give another
 * identity even when labels and groups are the same. d->images_sha256 must
 * be set (dataset_load does it). */
uint64_t dataset_identity(const Dataset *d);

/* Images idx[0..n) as float (n,1,S,S): pixel/255 standardised as
 * (v - mean) / std (mean 0, std 1 leaves [0,1] values). */
void dataset_gather_f32(float *out, const Dataset *d, const int *idx, int n, float mean, float std);
/* Mean and standard deviation of pixel/255 over images idx[0..n), exact
 * (from a 256-bin histogram); std is at least 1e-3. */
void dataset_pixel_stats(float *mean, float *std, const Dataset *d, const int *idx, int n);

#endif
