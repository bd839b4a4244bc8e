/* imgsrc.h: the list of source images for `hipid prep`, from a class-folder
 * tree (ImageFolder convention) or a manifest CSV, and the raw file bytes
 * with their SHA-256. Lists paths only; decoding is prep.h's job.
 *
 * Folder: SRC/<class>/<file>, classes in sorted (strcmp) order of folder
 * name; files in sorted order; hidden entries (".*") ignored; every other
 * regular file is a candidate (non-images are rejected later, with a reason).
 *
 * Manifest CSV: a header row naming at least the columns `path` and `label`
 * (any order; `patient_id` optional, other columns ignored); RFC 4180 quoting;
 * paths relative to the root (absolute paths are used as they are); labels
 * are class names, classes in sorted order of name.
 */
#ifndef HIPID_IMGSRC_H
#define HIPID_IMGSRC_H

#include <stddef.h>
#include <stdint.h>

#include "hipid/base/common.h"

typedef struct {
    int n, n_classes;
    char **class_names; /* (n_classes), owned */
    char **paths;       /* (n) full paths to open, owned */
    char **rel_paths;   /* (n) relative to the root, as stored in the data set */
    char **patient_ids; /* (n) "" if unknown */
    int32_t *labels;    /* (n) */
    int *rows;          /* (n) manifest line number (header = 1), 0 for folders */
    char root[4096];    /* folder that rel_paths are relative to */
    char what[4200];    /* for the data set's `source` attribute */
} ImageList;

/* Scan a class-folder tree. Fails (naming it) on an empty class folder or a
 * root without class folders. */
int imgsrc_scan_folder(ImageList *l, const char *root, ErrBuf *e);

/* Read a manifest CSV whose paths are relative to root (NULL: the CSV's own
 * folder). Fails naming the file and line on a malformed CSV; rows whose file
 * does not exist are kept (the caller reports them as skips). */
int imgsrc_read_manifest(ImageList *l, const char *csv, const char *root, ErrBuf *e);

void imgsrc_free(ImageList *l); /* no-op on a zeroed ImageList */

/* Read a whole file into a malloc'd buffer (free with free) and its
 * SHA-256 as 64 lowercase hex digits (GLib's GChecksum). */
int imgsrc_read_file(uint8_t **bytes, size_t *n_bytes, char sha256_hex[65], const char *path,
                     ErrBuf *e);

#endif
