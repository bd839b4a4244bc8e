/* imgsrc.h: the list of source images for `hipid prep`, from a class-folder
 * tree (ImageFolder convention) or a manifest CSV, and the raw file bytes
 * with their SHA-256. Lists paths only; decoding is prep.h's job.
 *
 * Folder: SRC/<class>/<file>, classes in sorted (strcmp) order of folder
 * name; files in sorted order, then nested folders in sorted order. Every
 * entry of a class folder is either a candidate or a skip line (`skips`):
 *  - a regular file (after following symlinks) is a candidate (non-images
 *    are rejected later, with a reason); a file reached a second time (a
 *    symlink or a hard link to a file already listed) is a skip line naming
 *    the first name: it counts once;
 *  - a folder is entered once: a folder reached again (same st_dev and
 *    st_ino as one already entered, a class folder or SRC itself) is a skip
 *    line ("symlink loop (already scanned as A)"), so `A/self -> .` adds
 *    nothing; folders nested deeper than IMGSRC_MAX_DEPTH are skip lines;
 *  - a dangling symlink, a FIFO, a device, a socket (or a symlink to one)
 *    and an unreadable nested folder are skip lines with the reason;
 *  - hidden entries (names starting with '.') are not candidates and not
 *    skip lines: they are counted in n_hidden (prep prints the count), so a
 *    folder copied from macOS (.DS_Store) passes --strict.
 * At SRC itself, folders (after following symlinks) are the classes, regular
 * files (a README) and hidden entries are ignored, and anything else
 * (dangling link, FIFO, ...) is a skip line.
 *
 * Manifest CSV: a header row naming at least the columns `path` and `label`
 * (any order; `patient_id` optional, other columns ignored); RFC 4180 quoting;
 * paths relative to the root (absolute paths are used as they are); labels
 * are class names, classes in sorted order of name. The file is read only
 * when it is a regular file of at most FSAFE_TEXT_MAX bytes (fsafe.h).
 *
 * Names: everything this module hands on for messages or for the data set
 * (rel_paths, class_names, patient_ids, skips, what) is escaped by
 * imgsrc_escape, so it is one line and valid UTF-8; `paths` keep the raw
 * bytes, for opening.
 */
#ifndef HIPID_IMGSRC_H
#define HIPID_IMGSRC_H

#include <stddef.h>
#include <stdint.h>

#include "hipid/base/common.h"

/* Largest image file read (prep, predict): 1 GiB. */
#define IMGSRC_FILE_MAX ((size_t)1 << 30)
/* Folders nested inside a class folder that are still entered. */
#define IMGSRC_MAX_DEPTH 16

typedef struct {
    int n, n_classes;
    char **class_names; /* (n_classes), owned, escaped */
    char **paths;       /* (n) full paths to open (raw bytes), owned */
    char **rel_paths;   /* (n) relative to the root, escaped: as stored in the data set */
    char **patient_ids; /* (n) "" if unknown, escaped */
    int32_t *labels;    /* (n) */
    int *rows;          /* (n) manifest line number (header = 1), 0 for folders */
    char **skips;       /* (n_skips) "<rel path>: <reason>" for folder entries left out, escaped */
    int n_skips;
    int n_hidden;       /* hidden entries of class folders, ignored */
    char root[4096];    /* folder that rel_paths are relative to (raw) */
    char what[4200];    /* for the data set's `source` attribute (escaped) */
} ImageList;

/* Scan a class-folder tree. Fails (naming it) on a class folder that
 * cannot be read or has no entries at all, or a root without class folders. */
int imgsrc_scan_folder(ImageList *l, const char *root, ErrBuf *e);

/* Read a manifest CSV whose paths are relative to root (NULL: the CSV's own
 * folder). Fails naming the file and line on a malformed CSV, and on a CSV
 * that is not a regular file; rows whose file does not exist or is not a
 * regular file are kept (imgsrc_read_file refuses them, the caller reports
 * them as skips). */
int imgsrc_read_manifest(ImageList *l, const char *csv, const char *root, ErrBuf *e);

void imgsrc_free(ImageList *l); /* no-op on a zeroed ImageList */

/* Read a whole file into a malloc'd buffer (free with free) and, if
 * sha256_hex is not NULL, its SHA-256 as 64 lowercase hex digits (GLib's
 * GChecksum). Only a regular file (after following symlinks) of at most
 * IMGSRC_FILE_MAX bytes is opened: anything else fails before
 * opening ("a FIFO, not a regular file", "dangling symlink ..."); the open
 * is non-blocking and checked again with fstat, so nothing here can block
 * on a FIFO swapped in. Messages do not name the file: callers prefix it. */
int imgsrc_read_file(uint8_t **bytes, size_t *n_bytes, char sha256_hex[65], const char *path, ErrBuf *e);

/* As imgsrc_read_file's checks without reading: HIPID_OK for a regular
 * file, else one line "<path escaped>: <reason>" in e. */
int imgsrc_check_file(const char *path, ErrBuf *e);

/* The escaping of names (file names, class names, patient ids) in messages
 * and in the data set's UTF-8 string datasets, so that each stays one line
 * and is valid UTF-8:
 *   backslash -> \\   newline -> \n   CR -> \r   tab -> \t
 *   other bytes < 0x20, 0x7f, the bytes of a C1 control (U+0080..U+009F)
 *   and every byte that is not part of valid UTF-8 -> \xNN (lowercase hex)
 * Everything else (printable ASCII, valid UTF-8) is kept. The escaping is
 * reversible: b'caf\xe9.png' is stored as "caf\xe9.png", a name holding a
 * real backslash-x as "caf\\xe9.png". Returns a malloc'd string. */
char *imgsrc_escape(const char *raw);
/* As imgsrc_escape for free text (a reason, a library's message) that may
 * already hold escaped names: backslashes are kept as they are. */
char *imgsrc_escape_text(const char *raw);

#endif
