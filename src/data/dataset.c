/* dataset.c: read and write hipid's HDF5 data-set file. See dataset.h. */
#include "hipid/data/dataset.h"

#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/h5util.h"
#include "hipid/data/split.h"

void dataset_alloc(Dataset *d, int n, int size, int n_classes) {
    memset(d, 0, sizeof *d);
    d->n = n;
    d->size = size;
    d->n_classes = n_classes;
    d->images = xcalloc((size_t)n * size * size, 1);
    d->labels = xcalloc(n, sizeof *d->labels);
    d->groups = xcalloc(n, sizeof *d->groups);
    for (int i = 0; i < n; i++) d->groups[i] = i;
    d->class_names = xcalloc(n_classes, sizeof(char *));
    d->patient_ids = xcalloc(n, sizeof(char *));
    d->source_paths = xcalloc(n, sizeof(char *));
    d->source_sha256 = xcalloc(n, sizeof(char *));
}

void dataset_free(Dataset *d) {
    if (!d) return;
    free(d->images);
    free(d->labels);
    free(d->groups);
    strv_free(d->class_names, d->n_classes);
    strv_free(d->patient_ids, d->n);
    strv_free(d->source_paths, d->n);
    strv_free(d->source_sha256, d->n);
    free(d->phash);
    free(d->dup_groups);
    strv_free(d->skipped, d->n_skipped);
    memset(d, 0, sizeof *d);
}

void dataset_images_sha256(char hex[65], const uint8_t *images, size_t n) {
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    /* g_checksum_update takes a gssize: feed large sets in pieces */
    for (size_t off = 0; off < n;) {
        size_t piece = n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30);
        g_checksum_update(sum, images + off, (gssize)piece);
        off += piece;
    }
    snprintf(hex, 65, "%s", g_checksum_get_string(sum));
    g_checksum_free(sum);
}

uint64_t dataset_identity(const Dataset *d) {
    char head[256];
    int len = snprintf(head, sizeof head, "hipid-data-identity 1\nn=%d\nlabels_groups=%016" PRIx64
                       "\nimages_sha256=%s\npreprocessing=", d->n, split_data_checksum(d->labels, d->groups, d->n),
                       d->images_sha256);
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, (const guchar *)head, len);
    g_checksum_update(sum, (const guchar *)d->preprocessing, (gssize)strlen(d->preprocessing));
    g_checksum_update(sum, (const guchar *)"\n", 1);
    guint8 digest[32];
    gsize n = sizeof digest;
    g_checksum_get_digest(sum, digest, &n);
    g_checksum_free(sum);
    uint64_t id = 0;
    for (int i = 0; i < 8; i++) id = id << 8 | digest[i];
    return id;
}

/* A hash dataset [n] (words 1) or [n, words] with its method and threshold. */
static int write_hash(hid_t file, const char *name, const uint64_t *v, int n, int words, const char *method,
                      int threshold) {
    int rc = HIPID_ERR;
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)words};
    hid_t space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    if ((space = H5Screate_simple(words > 1 ? 2 : 1, dims, NULL)) < 0) goto error;
    if ((dset = H5Dcreate2(file, name, H5T_STD_U64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto error;
    if (n > 0 && H5Dwrite(dset, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) goto error;
    if (h5_attr_write_str(dset, "method", method) || h5_attr_write_int(dset, "dup_threshold", &threshold, 1))
        goto error;
    rc = HIPID_OK;
error:
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    return rc;
}

#define HASH_METHOD                                                                                  \
    "dct-phash-256: grey source image, letterbox trimmed, resized to 64x64, DCT-II, 16x16 lowest "  \
    "frequencies > their median, bit 16*row+column, most significant first; orientation with "      \
    "C[0][1] >= 0 (mirror-canonical); distance = smallest Hamming distance over as-is/mirror "      \
    "pairings"

static int write_images(hid_t file, const Dataset *d) {
    int rc = HIPID_ERR;
    hsize_t dims[3] = {(hsize_t)d->n, (hsize_t)d->size, (hsize_t)d->size};
    hsize_t chunk[3] = {1, (hsize_t)d->size, (hsize_t)d->size};
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    if ((space = H5Screate_simple(3, dims, NULL)) < 0) goto error;
    if ((dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0) goto error;
    if (d->n > 0 && (H5Pset_chunk(dcpl, 3, chunk) < 0 || H5Pset_deflate(dcpl, 4) < 0)) goto error;
    if ((dset = H5Dcreate2(file, "images", H5T_STD_U8LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0)
        goto error;
    if (d->n > 0 && H5Dwrite(dset, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->images) < 0)
        goto error;
    rc = HIPID_OK;
error:
    if (dset >= 0) H5Dclose(dset);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return rc;
}

int dataset_save(const Dataset *d, const char *path, ErrBuf *e) {
    char tmp[4096];
    hid_t file = h5_create_versioned(tmp, sizeof tmp, path, DATASET_FORMAT, DATASET_FORMAT_VERSION, e);
    if (file < 0) return HIPID_ERR;
    char sha[65];
    dataset_images_sha256(sha, d->images, (size_t)d->n * d->size * d->size);
    int ok = !(h5_attr_write_int(file, "image_size", &d->size, 1) ||
        h5_attr_write_str(file, "images_sha256", sha) ||
        h5_attr_write_int(file, "n_classes", &d->n_classes, 1) ||
        h5_attr_write_str(file, "preprocessing", d->preprocessing) ||
        h5_attr_write_str(file, "source", d->source) || write_images(file, d) ||
        h5_write_i32(file, "labels", d->labels, d->n) || h5_write_i32(file, "groups", d->groups, d->n) ||
        h5_write_strings(file, "class_names", d->class_names, d->n_classes) ||
        h5_write_strings(file, "patient_ids", d->patient_ids, d->n) ||
        h5_write_strings(file, "source_paths", d->source_paths, d->n) ||
        h5_write_strings(file, "source_sha256", d->source_sha256, d->n) ||
        (d->phash && write_hash(file, "phash", d->phash, d->n, 4, HASH_METHOD, d->dup_threshold)) ||
        (d->dup_groups && h5_write_i32(file, "dup_groups", d->dup_groups, d->n)) ||
        (d->skipped && h5_write_strings(file, "skipped", d->skipped, d->n_skipped)));
    return h5_finish_versioned(file, ok, tmp, path, "data set", e);
}

/* Read a 1-D dataset's length, or -1 if missing / not 1-D. */
static long dset_len1(hid_t file, const char *name) {
    long n = -1;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hsize_t dim;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return -1;
    if ((dset = H5Dopen2(file, name, H5P_DEFAULT)) < 0) return -1;
    if ((space = H5Dget_space(dset)) >= 0 && H5Sget_simple_extent_ndims(space) == 1 &&
        H5Sget_simple_extent_dims(space, &dim, NULL) == 1)
        n = (long)dim;
    if (space >= 0) H5Sclose(space);
    H5Dclose(dset);
    return n;
}

/* 1 if dset stores integers (of `size` bytes, any size if 0). H5Dread would
 * otherwise convert floats to integers silently. */
static int dset_is_int(hid_t dset, size_t size) {
    hid_t t = H5Dget_type(dset);
    int ok = t >= 0 && H5Tget_class(t) == H5T_INTEGER && (size == 0 || H5Tget_size(t) == size);
    if (t >= 0) H5Tclose(t);
    return ok;
}

static int read_ints(hid_t file, const char *name, int32_t *v, int n, const char *path, ErrBuf *e) {
    long len = dset_len1(file, name);
    if (len != n)
        return hipid_err(e, "%s: dataset '%s' should be int32 [%d], found %s%ld", path, name, n,
                         len < 0 ? "none or not 1-D " : "length ", len < 0 ? 0 : len);
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    if (dset >= 0 && !dset_is_int(dset, 0)) {
        H5Dclose(dset);
        return hipid_err(e, "%s: dataset '%s' should be int32 [%d], found a non-integer type", path, name, n);
    }
    int bad = dset < 0 || (n > 0 && H5Dread(dset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0);
    if (dset >= 0) H5Dclose(dset);
    return bad ? hipid_err(e, "%s: cannot read '%s' (truncated or corrupt?)", path, name) : HIPID_OK;
}

/* Read an optional hash dataset of shape [n] (words 1) or [n, words];
 * allocates *v. */
static int read_hash(uint64_t **v, int *threshold, hid_t file, const char *name, int n, int words,
                     const char *path, ErrBuf *e) {
    int rc = HIPID_ERR, nd = words > 1 ? 2 : 1;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hsize_t dims[2] = {0, 1};
    if ((dset = H5Dopen2(file, name, H5P_DEFAULT)) < 0 || (space = H5Dget_space(dset)) < 0 ||
        H5Sget_simple_extent_ndims(space) != nd || H5Sget_simple_extent_dims(space, dims, NULL) != nd ||
        dims[0] != (hsize_t)n || dims[1] != (hsize_t)words) {
        hipid_err(e, "%s: dataset '%s' should be uint64 [%d%s]", path, name, n, words > 1 ? ",4" : "");
        goto error;
    }
    *v = xcalloc((size_t)n * words + 1, sizeof **v);
    if (n > 0 && H5Dread(dset, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, *v) < 0) {
        hipid_err(e, "%s: cannot read '%s' (truncated or corrupt?)", path, name);
        goto error;
    }
    h5_attr_read_int(dset, "dup_threshold", threshold, 1);
    rc = HIPID_OK;
error:
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return rc;
}

static int read_strings(hid_t file, const char *name, char **out, int n, const char *path, ErrBuf *e) {
    long len = dset_len1(file, name);
    if (len != n)
        return hipid_err(e, "%s: dataset '%s' should be string [%d], found %s%ld", path, name, n,
                         len < 0 ? "none or not 1-D " : "length ", len < 0 ? 0 : len);
    char **tmp = NULL;
    int got = 0;
    if (h5_read_strings(file, name, &tmp, &got, path, e) != HIPID_OK) return HIPID_ERR;
    for (int i = 0; i < n; i++) out[i] = tmp[i];
    free(tmp);
    return HIPID_OK;
}

int dataset_load(Dataset *d, const char *path, ErrBuf *e) {
    int size = 0, k = 0;
    hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hsize_t dims[3];
    memset(d, 0, sizeof *d);
    if ((file = h5_open_versioned(path, DATASET_FORMAT, DATASET_FORMAT_VERSION, "data set",
                                  "make one with 'hipid prep' or 'hipid synth', or re-run it", e)) < 0)
        return HIPID_ERR;
    if (h5_attr_read_int(file, "image_size", &size, 1) || h5_attr_read_int(file, "n_classes", &k, 1) ||
        size < 1 || k < 1) {
        hipid_err(e, "%s: attributes image_size and n_classes must be positive integers", path);
        goto error;
    }
    if (H5Lexists(file, "images", H5P_DEFAULT) <= 0 || (dset = H5Dopen2(file, "images", H5P_DEFAULT)) < 0 ||
        (space = H5Dget_space(dset)) < 0 || H5Sget_simple_extent_ndims(space) != 3 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 3 || dims[1] != (hsize_t)size ||
        dims[2] != (hsize_t)size || !dset_is_int(dset, 1)) {
        hipid_err(e, "%s: dataset 'images' should be uint8 [N,%d,%d]", path, size, size);
        goto error;
    }
    /* n_classes sizes an allocation: it must agree with class_names first */
    if (h5_len(file, "class_names") != k) {
        hipid_err(e, "%s: attribute n_classes = %d, but dataset 'class_names' does not hold %d names", path, k, k);
        goto error;
    }
    dataset_alloc(d, (int)dims[0], size, k);
    if (d->n > 0 && H5Dread(dset, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->images) < 0) {
        hipid_err(e, "%s: cannot read 'images' (truncated or corrupt?)", path);
        goto error;
    }
    dataset_images_sha256(d->images_sha256, d->images, (size_t)d->n * size * size);
    char stored[80] = "";
    if (H5Aexists(file, "images_sha256") > 0 &&
        (h5_attr_read_str(file, "images_sha256", stored, sizeof stored) != HIPID_OK ||
         strcmp(stored, d->images_sha256) != 0)) {
        hipid_err(e, "%s: images do not match their stored SHA-256 (changed or corrupt since prep)", path);
        goto error;
    }
    if (read_ints(file, "labels", d->labels, d->n, path, e) ||
        read_ints(file, "groups", d->groups, d->n, path, e) ||
        read_strings(file, "class_names", d->class_names, k, path, e) ||
        read_strings(file, "patient_ids", d->patient_ids, d->n, path, e) ||
        read_strings(file, "source_paths", d->source_paths, d->n, path, e) ||
        read_strings(file, "source_sha256", d->source_sha256, d->n, path, e))
        goto error;
    for (int i = 0; i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= k) {
            hipid_err(e, "%s: labels[%d] = %d, expected a class index in [0,%d)", path, i, d->labels[i], k);
            goto error;
        }
    for (int i = 0; i < d->n; i++)
        if (d->groups[i] < 0 || d->groups[i] >= d->n) {
            hipid_err(e, "%s: groups[%d] = %d, expected a group index in [0,%d)", path, i, d->groups[i], d->n);
            goto error;
        }
    if (H5Lexists(file, "phash", H5P_DEFAULT) > 0 &&
        read_hash(&d->phash, &d->dup_threshold, file, "phash", d->n, 4, path, e) != HIPID_OK)
        goto error;
    if (H5Lexists(file, "dup_groups", H5P_DEFAULT) > 0) {
        d->dup_groups = xcalloc(d->n ? d->n : 1, sizeof *d->dup_groups);
        if (read_ints(file, "dup_groups", d->dup_groups, d->n, path, e)) goto error;
    }
    h5_attr_read_str(file, "preprocessing", d->preprocessing, sizeof d->preprocessing);
    h5_attr_read_str(file, "source", d->source, sizeof d->source);
    H5Sclose(space);
    H5Dclose(dset);
    H5Fclose(file);
    return HIPID_OK;
error:
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    if (file >= 0) H5Fclose(file);
    dataset_free(d);
    return HIPID_ERR;
}

void dataset_gather_f32(float *out, const Dataset *d, const int *idx, int n, float mean, float std) {
    long px = (long)d->size * d->size;
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v / 255.0f - mean) / std;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = d->images + (long)idx[i] * px;
        float *dst = out + (long)i * px;
        for (long j = 0; j < px; j++) dst[j] = lut[src[j]];
    }
}

void dataset_pixel_stats(float *mean, float *std, const Dataset *d, const int *idx, int n) {
    long px = (long)d->size * d->size;
    double hist[256] = {0}, cnt = 0, s = 0, ss = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = d->images + (long)idx[i] * px;
        for (long j = 0; j < px; j++) hist[src[j]] += 1.0;
    }
    for (int v = 0; v < 256; v++) {
        double x = v / 255.0;
        cnt += hist[v], s += hist[v] * x, ss += hist[v] * x * x;
    }
    double mu = cnt > 0 ? s / cnt : 0.0, var = cnt > 0 ? ss / cnt - mu * mu : 1.0;
    *mean = (float)mu;
    *std = (float)(var > 1e-6 ? sqrt(var) : 1e-3);
}
