/* h5util.c: see h5util.h. */
#include "hipid/base/h5util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hipid/base/fsafe.h"

void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* set once a file could not be created or closed for writing (h5util.h, h5_unclosable) */
static int g_unclosable;

int h5_unclosable(void) { return g_unclosable; }

/* Close a file being written; 0 if HDF5 could not (its last flush failed).
 * errno is what the failed write left. */
static int close_written(hid_t file) {
    errno = 0;
    if (H5Fclose(file) >= 0) return 1;
    int err = errno;
    g_unclosable = 1;
    errno = err;
    return 0;
}

/* ": No space left on device" for a full disk or quota, else " (disk full?)",
 * after a write failed with errno err */
static const char *why_write_failed(char *buf, size_t cap, int err) {
    if (err == ENOSPC || err == EDQUOT) snprintf(buf, cap, ": %s", strerror(err));
    else snprintf(buf, cap, " (disk full?)");
    return buf;
}

hid_t h5_open_versioned(const char *path, const char *format, int version, const char *kind,
                        const char *hint, ErrBuf *e) {
    char fmt[64] = "";
    int got = 0;
    hid_t file = H5I_INVALID_HID;
    h5_quiet();
    /* a FIFO or a device would block H5Fis_hdf5's open() or read forever */
    if (access(path, F_OK) == 0 && fsafe_input(path, kind, 0, e) != HIPID_OK) return H5I_INVALID_HID;
    if (H5Fis_hdf5(path) <= 0) {
        hipid_err(e, "%s: not a readable HDF5 file (missing, truncated or not HDF5)", path);
        return H5I_INVALID_HID;
    }
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        hipid_err(e, "%s: cannot open as HDF5 (truncated or corrupt?)", path);
        return H5I_INVALID_HID;
    }
    if (h5_attr_read_str(file, "format", fmt, sizeof fmt) || strcmp(fmt, format) != 0) {
        hipid_err(e, "%s: expected a hipid %s (attribute format=\"%s\"), found \"%s\"; %s", path, kind,
                  format, fmt, hint);
        H5Fclose(file);
        return H5I_INVALID_HID;
    }
    if (h5_attr_read_int(file, "format_version", &got, 1) || got != version) {
        hipid_err(e, "%s: %s format version %d, this hipid reads version %d; %s", path, kind, got, version,
                  hint);
        H5Fclose(file);
        return H5I_INVALID_HID;
    }
    return file;
}

hid_t h5_create_versioned(char *tmp, size_t cap, const char *path, const char *format, int version,
                          ErrBuf *e) {
    hid_t file = H5I_INVALID_HID;
    /* per process: two writers of one path never share a temporary file */
    if (fsafe_tmp_name(tmp, cap, path, e) != HIPID_OK) return H5I_INVALID_HID;
    h5_quiet();
    errno = 0;
    if ((file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0) {
        int err = errno;
        /* HDF5 made the file, then failed writing its superblock: its cache of it stays behind */
        if (access(tmp, F_OK) == 0) g_unclosable = 1;
        remove(tmp); /* the name is this process's own */
        if (err == ENOSPC || err == EDQUOT)
            hipid_err(e, "%s: cannot create file: %s (the previous %s, if any, is untouched)", tmp, strerror(err),
                      path);
        else
            hipid_err(e, "%s: cannot create file (does the folder exist and is it writable?%s%s)", tmp,
                      err ? " " : "", err ? strerror(err) : "");
        return H5I_INVALID_HID;
    }
    if (h5_attr_write_str(file, "format", format) || h5_attr_write_int(file, "format_version", &version, 1)) {
        char why[96];
        int err = errno;
        if (!close_written(file)) err = errno;
        remove(tmp);
        hipid_err(e, "%s: cannot write attributes%s", tmp, why_write_failed(why, sizeof why, err));
        return H5I_INVALID_HID;
    }
    return file;
}

int h5_finish_versioned(hid_t file, int ok, const char *tmp, const char *path, const char *what,
                        ErrBuf *e) {
    int err = errno;
    if (!close_written(file)) {
        ok = 0;
        err = errno;
    }
    return fsafe_commit(tmp, path, ok, ok ? 0 : err, what, e);
}

int h5_attr_write_str(hid_t obj, const char *name, const char *value) {
    int rc = HIPID_ERR;
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    if ((type = H5Tcopy(H5T_C_S1)) < 0) goto error;
    if (H5Tset_size(type, strlen(value) + 1) < 0) goto error;
    if ((space = H5Screate(H5S_SCALAR)) < 0) goto error;
    if ((attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto error;
    if (H5Awrite(attr, type, value) < 0) goto error;
    rc = HIPID_OK;
error:
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return rc;
}

int h5_attr_read_str(hid_t obj, const char *name, char *buf, size_t cap) {
    int rc = HIPID_ERR;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    char *tmp = NULL;
    if (H5Aexists(obj, name) <= 0) return HIPID_ERR;
    if ((attr = H5Aopen(obj, name, H5P_DEFAULT)) < 0) goto error;
    /* one string, never an array of them (it would be read over buf) */
    hid_t space = H5Aget_space(attr);
    hssize_t n_points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0) H5Sclose(space);
    if (n_points != 1) goto error;
    if ((ftype = H5Aget_type(attr)) < 0 || H5Tget_class(ftype) != H5T_STRING) goto error;
    if (H5Tis_variable_str(ftype) > 0) {
        /* same character set as the file: HDF5 cannot convert between sets,
         * and h5py writes str attributes as variable-length UTF-8 */
        if ((mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
            H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0)
            goto error;
        if (H5Aread(attr, mtype, &tmp) < 0) goto error;
        snprintf(buf, cap, "%s", tmp ? tmp : "");
        H5free_memory(tmp);
    } else {
        size_t n = H5Tget_size(ftype);
        tmp = xcalloc(n + 1, 1);
        if ((mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mtype, n + 1) < 0 ||
            H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0) {
            free(tmp);
            goto error;
        }
        if (H5Aread(attr, mtype, tmp) < 0) {
            free(tmp);
            goto error;
        }
        snprintf(buf, cap, "%s", tmp);
        free(tmp);
    }
    rc = HIPID_OK;
error:
    if (mtype >= 0) H5Tclose(mtype);
    if (ftype >= 0) H5Tclose(ftype);
    if (attr >= 0) H5Aclose(attr);
    return rc;
}

int h5_attr_write(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v, int n) {
    int rc = HIPID_ERR;
    hsize_t dim = (hsize_t)n;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    if ((space = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL)) < 0) goto error;
    if ((attr = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0) goto error;
    if (H5Awrite(attr, mem_type, v) < 0) goto error;
    rc = HIPID_OK;
error:
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    return rc;
}

int h5_attr_read(hid_t obj, const char *name, hid_t mem_type, void *v, int n) {
    int rc = HIPID_ERR;
    hid_t attr = H5I_INVALID_HID, space = H5I_INVALID_HID;
    if (H5Aexists(obj, name) <= 0) return HIPID_ERR;
    if ((attr = H5Aopen(obj, name, H5P_DEFAULT)) < 0) goto error;
    if ((space = H5Aget_space(attr)) < 0 || H5Sget_simple_extent_npoints(space) != n) goto error;
    if (H5Aread(attr, mem_type, v) < 0) goto error;
    rc = HIPID_OK;
error:
    if (space >= 0) H5Sclose(space);
    if (attr >= 0) H5Aclose(attr);
    return rc;
}

int h5_attr_write_int(hid_t obj, const char *name, const int *values, int n) {
    return h5_attr_write(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, values, n);
}

int h5_attr_write_double(hid_t obj, const char *name, double value) {
    return h5_attr_write(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, 1);
}

int h5_attr_read_int(hid_t obj, const char *name, int *values, int n) {
    return h5_attr_read(obj, name, H5T_NATIVE_INT, values, n);
}

int h5_attr_read_double(hid_t obj, const char *name, double *value) {
    return h5_attr_read(obj, name, H5T_NATIVE_DOUBLE, value, 1);
}

int h5_write(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, const void *v, int ndim,
             const hsize_t *dims, int deflate) {
    int rc = HIPID_ERR;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    hsize_t total = 1;
    for (int d = 0; d < ndim; d++) total *= dims[d];
    if ((space = H5Screate_simple(ndim, dims, NULL)) < 0) goto error;
    if ((dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0) goto error;
    if (deflate && total > 0 && (H5Pset_chunk(dcpl, ndim, dims) < 0 || H5Pset_deflate(dcpl, 4) < 0))
        goto error;
    if ((dset = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) goto error;
    if (total > 0 && H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) goto error;
    rc = HIPID_OK;
error:
    if (dset >= 0) H5Dclose(dset);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return rc;
}

int h5_write_f32(hid_t loc, const char *name, const float *data, int ndim, const hsize_t *dims) {
    return h5_write(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data, ndim, dims, 0);
}

static void dims_str(char *buf, size_t cap, int ndim, const hsize_t *dims) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && len < cap; i++)
        len += snprintf(buf + len, cap - len, "%s%llu", i ? "," : "", (unsigned long long)dims[i]);
}

int h5_read(hid_t loc, const char *name, hid_t mem_type, void *v, int ndim, const hsize_t *dims,
            const char *path, ErrBuf *e) {
    int rc = HIPID_ERR;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID;
    hsize_t got[H5S_MAX_RANK], total = 1;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return hipid_err(e, "%s: dataset '%s' is missing", path, name);
    if ((dset = H5Dopen2(loc, name, H5P_DEFAULT)) < 0 || (space = H5Dget_space(dset)) < 0) {
        hipid_err(e, "%s: cannot open dataset '%s' (truncated or corrupt?)", path, name);
        goto error;
    }
    int got_ndim = H5Sget_simple_extent_dims(space, got, NULL), same = got_ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = got[d] == dims[d];
    if (!same) {
        char want_s[96], got_s[96];
        dims_str(want_s, sizeof want_s, ndim, dims);
        dims_str(got_s, sizeof got_s, got_ndim < 0 ? 0 : got_ndim, got);
        hipid_err(e, "%s: dataset '%s' has shape [%s], expected [%s]", path, name, got_s, want_s);
        goto error;
    }
    for (int d = 0; d < ndim; d++) total *= dims[d];
    if (total > 0 && H5Dread(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        hipid_err(e, "%s: cannot read dataset '%s' (truncated or corrupt?)", path, name);
        goto error;
    }
    rc = HIPID_OK;
error:
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return rc;
}

int h5_read_f32(hid_t loc, const char *name, float *data, int ndim, const hsize_t *dims,
                const char *file, ErrBuf *e) {
    return h5_read(loc, name, H5T_NATIVE_FLOAT, data, ndim, dims, file, e);
}

long h5_len(hid_t loc, const char *name) {
    long n = -1;
    hsize_t dims[H5S_MAX_RANK];
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return -1;
    hid_t dset = H5Dopen2(loc, name, H5P_DEFAULT), space = dset >= 0 ? H5Dget_space(dset) : H5I_INVALID_HID;
    if (space >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) >= 1) n = (long)dims[0];
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    return n;
}

int h5_read_strings(hid_t loc, const char *name, char ***out, int *n_out, const char *path, ErrBuf *e) {
    int rc = HIPID_ERR;
    long n = h5_len(loc, name);
    hid_t dset = H5I_INVALID_HID, type = H5I_INVALID_HID, space = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    char **tmp = NULL;
    *out = NULL;
    *n_out = 0;
    if (n < 0) return hipid_err(e, "%s: dataset '%s' is missing", path, name);
    tmp = xcalloc(n ? (size_t)n : 1, sizeof *tmp);
    if ((dset = H5Dopen2(loc, name, H5P_DEFAULT)) < 0) goto error;
    /* memory type in the file's character set (UTF-8 as written by
     * h5_write_strings and h5py): HDF5 cannot convert between sets */
    if ((ftype = H5Dget_type(dset)) < 0 || H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) <= 0)
        goto error;
    if ((type = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(type, H5Tget_cset(ftype)) < 0)
        goto error;
    if (n > 0 && H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) < 0) goto error;
    *out = xcalloc(n ? (size_t)n : 1, sizeof **out);
    for (long i = 0; i < n; i++) (*out)[i] = strdup(tmp[i] ? tmp[i] : "");
    *n_out = (int)n;
    if ((space = H5Dget_space(dset)) >= 0) H5Dvlen_reclaim(type, space, H5P_DEFAULT, tmp);
    rc = HIPID_OK;
error:
    if (rc != HIPID_OK)
        hipid_err(e, "%s: cannot read '%s' as variable-length strings (wrong type, truncated or corrupt?)",
                  path, name);
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
    if (type >= 0) H5Tclose(type);
    if (dset >= 0) H5Dclose(dset);
    free(tmp);
    return rc;
}

int h5_write_strings(hid_t file, const char *name, char *const *s, int n) {
    int rc = HIPID_ERR;
    hsize_t dim = (hsize_t)n;
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID, dset = H5I_INVALID_HID;
    const char **tmp = xcalloc(n, sizeof *tmp);
    for (int i = 0; i < n; i++) tmp[i] = s && s[i] ? s[i] : "";
    if ((type = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(type, H5T_CSET_UTF8) < 0)
        goto error;
    if ((space = H5Screate_simple(1, &dim, NULL)) < 0) goto error;
    if ((dset = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        goto error;
    if (n > 0 && H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) < 0) goto error;
    rc = HIPID_OK;
error:
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    free(tmp);
    return rc;
}

int h5_write_i32(hid_t loc, const char *name, const int32_t *v, int n) {
    hsize_t dim = (hsize_t)n;
    return h5_write(loc, name, H5T_STD_I32LE, H5T_NATIVE_INT32, v, 1, &dim, 0);
}
