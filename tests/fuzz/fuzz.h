/* fuzz.h: what the harnesses in tests/fuzz/ share: a reader of the fuzz
 * bytes, a private temporary folder, and the structural HDF5 mutator.
 *
 * Every harness defines LLVMFuzzerTestOneInput. `make fuzz FUZZ_S=N` links
 * each with libFuzzer (clang -fsanitize=fuzzer,address,undefined, library
 * sources compiled the same way into build/fuzz/) and runs it N seconds on
 * tests/fuzz/seeds/<harness>/; tests/test_fuzz_regress.sh runs every seed and
 * every tests/fuzz/regress/<harness>/ input through the same harness linked
 * with tests/fuzz/main.c instead (gcc, the normal build, or build/san).
 * A crash found (build/fuzz/crashes/<h>/) is minimised with
 *   build/fuzz/fuzz_<h> -minimize_crash=1 -runs=20000 CRASH
 * and kept in tests/fuzz/regress/<h>/ once fixed, tests/fuzz/pending/<h>/
 * until then (not run by make test). FUZZ_VERBOSE=1 makes a harness print
 * whether each reader accepted its input, or its message.
 *
 * HDF5 inputs are never corrupted byte by byte (libhdf5 is not hardened
 * against that): a harness builds one valid file per variant with hipid's own
 * writer, and the fuzz bytes drive edits made through the HDF5 API on a copy
 * (fuzz_h5_mutate): delete a dataset, group or attribute; replace it by one
 * of another type, rank or shape; change a value in place; turn a string into
 * an empty, overlong or binary one. Then the reader runs on the copy. */
#ifndef HIPID_FUZZ_H
#define HIPID_FUZZ_H

#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "hipid/nn/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Models are checked against the memory hipid may use (mem_available_bytes);
 * under libFuzzer's -malloc_limit_mb=2048 that budget is 1 GB, not the
 * machine's, so a spec too large for it is a refusal, not an OOM report. */
__attribute__((constructor)) static void fuzz_memory_budget(void) { setenv("HIPID_MEM_LIMIT", "1e9", 0); }

/* ---- the fuzz bytes as a stream (0 once exhausted) ---- */
typedef struct {
    const uint8_t *p;
    size_t n, i;
} FuzzIn;

static inline unsigned fz_u8(FuzzIn *in) { return in->i < in->n ? in->p[in->i++] : 0; }
static inline unsigned fz_u16(FuzzIn *in) {
    unsigned lo = fz_u8(in);
    return lo | fz_u8(in) << 8;
}
static inline int fz_left(const FuzzIn *in) { return in->i < in->n; }

/* A value that readers find interesting: small numbers, limits, non-finite. */
static inline double fz_value(FuzzIn *in) {
    static const double special[] = {0,           1,           -1,          2,          3,
                                     -2147483648., 2147483647., 4294967295., 1e18,       -1e18,
                                     9.3e18,      NAN,         INFINITY,    -INFINITY,  0.5,
                                     1e-300,      255,         256,         65536,      1e9};
    unsigned b = fz_u8(in);
    if (b < sizeof special / sizeof special[0]) return special[b];
    return (double)((int)b - 128);
}

/* With FUZZ_VERBOSE set, what a reader said (to see which inputs get
 * through: the regression driver is the place to look). Returns ok. */
static inline int fuzz_note(int ok, const char *what, const char *msg) {
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "  %s: %s\n", what, ok ? "accepted" : msg);
    return ok;
}

/* ---- a private folder, removed at exit ---- */
static char fz_dir_buf[64];

static inline int fz_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}
static inline void fz_rm_dir(void) {
    if (fz_dir_buf[0]) nftw(fz_dir_buf, fz_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}
static inline const char *fuzz_dir(void) {
    if (!fz_dir_buf[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fz_dir_buf, sizeof fz_dir_buf, "%s/hipid-fuzz.XXXXXX", t && strlen(t) < 40 ? t : "/tmp");
        if (!mkdtemp(fz_dir_buf)) {
            perror(fz_dir_buf);
            abort();
        }
        atexit(fz_rm_dir);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* readers' own messages are enough */
    }
    return fz_dir_buf;
}
/* fuzz_dir()/name, in buf. */
static inline const char *fuzz_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", fuzz_dir(), name);
    return buf;
}
static inline void fuzz_write(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}
/* The whole file (malloc'd); *n its size. */
static inline uint8_t *fuzz_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(len > 0 ? (size_t)len : 1);
    if (!p || (len > 0 && fread(p, 1, (size_t)len, f) != (size_t)len)) abort();
    fclose(f);
    *n = (size_t)len;
    return p;
}
/* The input as a NUL-terminated string (malloc'd). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

/* ---- structural HDF5 edits ---- */
#define FZ_MAX_ITEMS 512
typedef struct {
    char obj[192];  /* object path from the root ("." = the root group) */
    char attr[64];  /* attribute name, "" for the object itself */
    int is_group;
} FzItem;
typedef struct {
    int n;
    FzItem item[FZ_MAX_ITEMS];
} FzItems;

static inline herr_t fz_attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *op) {
    (void)loc, (void)info;
    FzItems *l = op;
    FzItem *last = &l->item[l->n - 1]; /* the object being listed */
    if (l->n >= FZ_MAX_ITEMS || strlen(name) >= sizeof last->attr) return 0;
    FzItem *it = &l->item[l->n++];
    *it = *last;
    it->is_group = 0;
    snprintf(it->attr, sizeof it->attr, "%s", name);
    return 0;
}
static inline herr_t fz_obj_cb(hid_t loc, const char *name, const H5O_info_t *info, void *op) {
    FzItems *l = op;
    if (l->n >= FZ_MAX_ITEMS || strlen(name) >= sizeof l->item[0].obj) return 0;
    if (info->type != H5O_TYPE_GROUP && info->type != H5O_TYPE_DATASET) return 0;
    FzItem *it = &l->item[l->n++];
    snprintf(it->obj, sizeof it->obj, "%s", name);
    it->attr[0] = 0;
    it->is_group = info->type == H5O_TYPE_GROUP;
    hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
    if (o >= 0) {
        hsize_t idx = 0;
        H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, fz_attr_cb, l);
        H5Oclose(o);
    }
    return 0;
}

static inline hid_t fz_num_type(FuzzIn *in) {
    static const hid_t *types[] = {&H5T_STD_I32LE_g, &H5T_STD_I64LE_g, &H5T_STD_U64LE_g, &H5T_STD_U8LE_g,
                                   &H5T_IEEE_F32LE_g, &H5T_IEEE_F64LE_g, &H5T_STD_I16BE_g, &H5T_STD_I8LE_g};
    return *types[fz_u8(in) % (sizeof types / sizeof types[0])];
}

/* A string from the input: empty, overlong, or up to 40 input bytes. */
static inline char *fz_string(FuzzIn *in) {
    unsigned kind = fz_u8(in) % 4, len;
    char *s;
    if (kind == 0) len = 0;
    else if (kind == 1) len = 1000 + 64 * (fz_u8(in) % 128); /* overlong: up to ~9 kB */
    else len = fz_u8(in) % 41;
    s = malloc(len + 1);
    if (!s) abort();
    for (unsigned i = 0; i < len; i++) s[i] = kind == 1 ? 'A' + (char)(i % 26) : (char)fz_u8(in);
    s[len] = 0;
    if (kind != 1) s[strnlen(s, len)] = 0;
    return s;
}

/* Remove the item; returns its parent object (for re-creating it), or -1. */
static inline hid_t fz_remove(hid_t f, const FzItem *it, const char **name) {
    if (it->attr[0]) {
        hid_t o = H5Oopen(f, it->obj, H5P_DEFAULT);
        if (o < 0) return -1;
        H5Adelete(o, it->attr);
        *name = it->attr;
        return o;
    }
    if (strcmp(it->obj, ".") == 0) return -1;
    H5Ldelete(f, it->obj, H5P_DEFAULT);
    const char *slash = strrchr(it->obj, '/');
    *name = slash ? slash + 1 : it->obj;
    if (!slash) return H5Oopen(f, ".", H5P_DEFAULT);
    char parent[192];
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - it->obj), it->obj);
    return H5Oopen(f, parent, H5P_DEFAULT);
}

/* Create name at loc (attribute if it->attr[0], else dataset) of file type
 * ft and space sp, and write buf of memory type mt. */
static inline void fz_create(hid_t loc, const FzItem *it, const char *name, hid_t ft, hid_t sp, hid_t mt,
                      const void *buf) {
    if (it->attr[0]) {
        hid_t a = H5Acreate2(loc, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            H5Awrite(a, mt, buf);
            H5Aclose(a);
        }
    } else {
        hid_t d = H5Dcreate2(loc, name, ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0) {
            H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
            H5Dclose(d);
        }
    }
}

static inline hid_t fz_space(FuzzIn *in, int rank, hsize_t *n_points) {
    hsize_t dims[3] = {1, 1, 1};
    *n_points = 1;
    if (rank == 0) return H5Screate(H5S_SCALAR);
    for (int r = 0; r < rank; r++) {
        dims[r] = fz_u8(in) % 12;
        *n_points *= dims[r];
    }
    return H5Screate_simple(rank, dims, NULL);
}

/* Overwrite one element of a numeric dataset or attribute in place. */
static inline void fz_poke(hid_t f, const FzItem *it, FuzzIn *in) {
    hid_t o = it->attr[0] ? H5Aopen_by_name(f, it->obj, it->attr, H5P_DEFAULT, H5P_DEFAULT)
                          : H5Dopen2(f, it->obj, H5P_DEFAULT);
    if (o < 0) return;
    hid_t sp = it->attr[0] ? H5Aget_space(o) : H5Dget_space(o);
    hid_t t = it->attr[0] ? H5Aget_type(o) : H5Dget_type(o);
    H5T_class_t cls = H5Tget_class(t);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if (n > 0 && n < (1 << 24) && (cls == H5T_INTEGER || cls == H5T_FLOAT)) {
        double *v = malloc(sizeof(double) * (size_t)n);
        herr_t ok = it->attr[0] ? H5Aread(o, H5T_NATIVE_DOUBLE, v) : H5Dread(o, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        if (ok >= 0 && v) {
            unsigned k = 1 + fz_u8(in) % 3; /* a few elements */
            for (unsigned j = 0; j < k; j++) v[fz_u16(in) % n] = fz_value(in);
            if (it->attr[0]) H5Awrite(o, H5T_NATIVE_DOUBLE, v);
            else H5Dwrite(o, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        }
        free(v);
    }
    H5Tclose(t);
    H5Sclose(sp);
    if (it->attr[0]) H5Aclose(o);
    else H5Dclose(o);
}

/* Up to 4 edits of the HDF5 file at path, driven by in. */
static inline void fuzz_h5_mutate(const char *path, FuzzIn *in) {
    static FzItems items; /* big: not on the stack */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) abort(); /* our own valid copy */
    for (int step = 0; step < 4 && fz_left(in); step++) {
        items.n = 0;
        H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, fz_obj_cb, &items, H5O_INFO_BASIC);
        if (items.n == 0) break;
        FzItem it = items.item[fz_u16(in) % items.n];
        unsigned op = fz_u8(in) % 8;
        const char *name = NULL;
        if (op == 7 || op == 6) { /* in place: keep type and shape */
            fz_poke(f, &it, in);
            continue;
        }
        if (it.is_group && op != 0 && !it.attr[0]) op = 0; /* groups can only go */
        hid_t loc = fz_remove(f, &it, &name);
        if (loc < 0) continue;
        if (op == 1 || op == 2) { /* a number, scalar or 1-element array */
            double v = fz_value(in);
            hsize_t one = 1;
            hid_t sp = op == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &one, NULL);
            fz_create(loc, &it, name, fz_num_type(in), sp, H5T_NATIVE_DOUBLE, &v);
            H5Sclose(sp);
        } else if (op == 3) { /* an array of another type, rank or shape */
            hsize_t np;
            hid_t ft = fz_num_type(in);
            hid_t sp = fz_space(in, (int)(fz_u8(in) % 4), &np);
            double *v = malloc(sizeof(double) * (np ? np : 1));
            for (hsize_t j = 0; j < np; j++) v[j] = fz_value(in);
            fz_create(loc, &it, name, ft, sp, H5T_NATIVE_DOUBLE, v);
            free(v);
            H5Sclose(sp);
        } else if (op == 4) { /* a string, fixed or variable length, scalar or array */
            hsize_t np;
            int var = fz_u8(in) & 1;
            int rank = (int)(fz_u8(in) % 2);
            hid_t sp = fz_space(in, rank, &np);
            char **s = malloc(sizeof(char *) * (np ? np : 1));
            size_t longest = 1;
            for (hsize_t j = 0; j < np; j++) {
                s[j] = fz_string(in);
                if (strlen(s[j]) + 1 > longest) longest = strlen(s[j]) + 1;
            }
            hid_t st = H5Tcopy(H5T_C_S1);
            H5Tset_cset(st, H5T_CSET_UTF8);
            if (var) {
                H5Tset_size(st, H5T_VARIABLE);
                fz_create(loc, &it, name, st, sp, st, s);
            } else {
                char *flat = calloc(np ? np : 1, longest);
                for (hsize_t j = 0; j < np; j++) memcpy(flat + j * longest, s[j], strlen(s[j]));
                H5Tset_size(st, longest);
                H5Tset_strpad(st, H5T_STR_NULLPAD);
                fz_create(loc, &it, name, st, sp, st, flat);
                free(flat);
            }
            H5Tclose(st);
            for (hsize_t j = 0; j < np; j++) free(s[j]);
            free(s);
            H5Sclose(sp);
        } else if (op == 5 && !it.attr[0]) { /* a dataset becomes a group */
            hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g >= 0) H5Gclose(g);
        } /* op 0 (and 5 on an attribute): just gone */
        H5Oclose(loc);
    }
    if (H5Fclose(f) < 0) abort();
}

/* A loaded model's one evaluation forward pass on zeros (when small enough to
 * be quick), then freed: wrong shapes show as bad reads or writes. */
static inline void fuzz_forward_free(Model *m) {
    long n = shape_size(m->in);
    if (n > 0 && n < (1 << 20) && m->n_params < (1u << 22)) {
        float *x = calloc((size_t)n, sizeof(float));
        model_forward(m, x, 1, 0);
        free(x);
    }
    model_free(m);
}

/* The HDF5 harnesses' first steps: the fuzz input's first byte picks one of
 * n_variants valid base files, a copy of it is written to path (cap bytes,
 * in the private folder) and edited by the rest of the input. Returns the
 * variant. */
static inline int fuzz_h5_variant(char *path, size_t cap, FuzzIn *in, uint8_t *const *base, const size_t *base_n,
                                  int n_variants) {
    int v = (int)(fz_u8(in) % (unsigned)n_variants);
    fuzz_write(fuzz_path(path, cap, "work.h5"), base[v], base_n[v]);
    fuzz_h5_mutate(path, in);
    return v;
}

#endif
