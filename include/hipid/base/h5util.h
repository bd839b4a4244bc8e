/* h5util.h: the few HDF5 idioms hipid repeats (string attributes, whole
 * datasets in one call, silencing HDF5's own error stack so that callers can
 * print one clear line instead). Every function returns HIPID_OK or HIPID_ERR. */
#ifndef HIPID_H5UTIL_H
#define HIPID_H5UTIL_H

#include <hdf5.h>

#include "hipid/base/common.h"

/* Turn off HDF5's automatic error printing for this process. */
void h5_quiet(void);

/* Open one of hipid's versioned files read-only: it must be a regular file
 * (fsafe_input: a FIFO or a device is refused, never waited on), HDF5 with the
 * root attributes format == `format` and format_version == `version`.
 * Returns the file id, or H5I_INVALID_HID with a one-line message in e that
 * names the file, what kind of file was expected (`kind`, e.g. "checkpoint")
 * and what was found, ending with `hint` (what to do about it). */
hid_t h5_open_versioned(const char *path, const char *format, int version, const char *kind,
                        const char *hint, ErrBuf *e);

/* Start writing one of hipid's versioned files: creates PATH.tmp.<host>.<pid>
 * (fsafe_tmp_name, so concurrent writers of one path never share it; its name
 * is left in tmp, cap bytes) with the format and format_version attributes.
 * Returns the file, or H5I_INVALID_HID with a message in e. */
hid_t h5_create_versioned(char *tmp, size_t cap, const char *path, const char *format, int version,
                          ErrBuf *e);
/* Finish it: close file; if ok, rename tmp to path, otherwise (or if closing
 * fails) remove tmp and report "writing the <what> failed". A path that is
 * no longer missing or a regular file (a device, a FIFO, a directory) is
 * refused (fsafe_output) and tmp removed. A crash at any
 * point leaves no half-written file under path. */
int h5_finish_versioned(hid_t file, int ok, const char *tmp, const char *path, const char *what,
                        ErrBuf *e);

/* Nonzero once a file written through the two functions above could not be
 * created or closed (a write of HDF5's own failed: a full disk). HDF5 1.10,
 * Debian 12's, leaves such a file half destroyed in its tables, and its exit
 * handler then crashes on it (HDFGroup/hdf5 #2291, fixed in 1.14) or leaks
 * its cache: a process that sees this set leaves with _exit after flushing
 * its streams. */
int h5_unclosable(void);

int h5_attr_write_str(hid_t obj, const char *name, const char *value);
int h5_attr_write_int(hid_t obj, const char *name, const int *values, int n);
int h5_attr_write_double(hid_t obj, const char *name, double value);
/* Read a string attribute into buf (truncated to cap-1). */
int h5_attr_read_str(hid_t obj, const char *name, char *buf, size_t cap);
/* Read one number (any numeric type) as double. */
int h5_attr_read_double(hid_t obj, const char *name, double *value);
/* Read n ints; fails if the attribute holds a different count. */
int h5_attr_read_int(hid_t obj, const char *name, int *values, int n);

/* Generic forms: an attribute of n values (scalar when n == 1), and a whole
 * dataset of rank ndim (chunked as one chunk and deflated if `deflate`).
 * h5_read checks the shape first; its messages name the file and dataset. */
int h5_attr_write(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v, int n);
int h5_attr_read(hid_t obj, const char *name, hid_t mem_type, void *v, int n);
int h5_write(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, const void *v, int ndim,
             const hsize_t *dims, int deflate);
int h5_read(hid_t loc, const char *name, hid_t mem_type, void *v, int ndim, const hsize_t *dims,
            const char *path, ErrBuf *e);

/* A 1-D dataset of n variable-length UTF-8 strings (NULL entries, or s NULL,
 * are written as ""). */
int h5_write_strings(hid_t loc, const char *name, char *const *s, int n);

/* Length of the first dimension of dataset name; -1 if missing. */
long h5_len(hid_t loc, const char *name);
/* Read a 1-D dataset of variable-length strings of any length: *out gets n
 * malloc'd copies (free with strv_free(*out, *n)); on failure *out is NULL
 * and e names the file and dataset. */
int h5_read_strings(hid_t loc, const char *name, char ***out, int *n, const char *path, ErrBuf *e);

/* Write an int32 dataset [n] (little-endian in the file). */
int h5_write_i32(hid_t loc, const char *name, const int32_t *v, int n);

/* Write a float32 dataset of rank ndim, dims as given (contiguous). */
int h5_write_f32(hid_t loc, const char *name, const float *data, int ndim, const hsize_t *dims);
/* Read a float32 dataset whose shape must equal dims; on a shape mismatch the
 * message in e says which dataset, what was expected and what was found. */
int h5_read_f32(hid_t loc, const char *name, float *data, int ndim, const hsize_t *dims,
                const char *file, ErrBuf *e);

#endif
