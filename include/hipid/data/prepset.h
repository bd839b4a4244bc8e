/* prepset.h: a whole prepared data set from a folder or manifest of X-rays:
 * what `hipid prep` does, for the prep command and for the sweep (which
 * builds a job's phantom data set with it).
 *
 * One image at a time: read the file (SHA-256 of its bytes), decode (DICOM
 * through dicom.h, with its patient id hashed unless keep_ids), run the
 * standardisation pipeline (prep.h) into its slot of the output array, hash
 * it for the leakage audit (dupdesc.h). Only the output array grows with the
 * number of images. Afterwards: quality gates, near-duplicate clusters,
 * leakage groups, the optional preview contact sheet, and dataset_save
 * (temp + rename). Progress goes to stdout ("prep: N candidate files ...",
 * near-duplicate groups) and stderr ("skip <path>: <reason>"); the closing
 * summary is the caller's to print (prepset_print_summary).
 *
 * libvips must be running: prepset_start_vips before, prepset_stop_vips at
 * the end of the process (libvips cannot start again after it stops).
 */
#ifndef HIPID_PREPSET_H
#define HIPID_PREPSET_H

#include <stdio.h>

#include "hipid/base/common.h"
#include "hipid/data/prep.h"

typedef struct {
    const char *src;      /* a class-folder tree or a manifest CSV; with manifest, the
                           * folder the manifest's paths are relative to */
    const char *manifest; /* NULL, or a manifest CSV whose paths are relative to src */
    const char *out;      /* the data set to write */
    const char *preview;  /* NULL, or a PNG contact sheet of sampled images and their steps */
    int preview_n;        /* images in the contact sheet */
    int strict;           /* any skipped file is an error: nothing written */
    int quiet;            /* print only near-duplicate groups that mix labels */
    double progress;      /* seconds between progress lines on stdout while images are
                           * prepared (flushed, for logs); 0: none */
    int dup_threshold;    /* copies: at least this many verified feature matches to a group's
                           * medoid (dupdesc.h); -1 = no duplicate search */
    PrepConfig prep;      /* the per-image pipeline, output size included */
    /* DICOM inputs: where their patient ids come from and how they are stored.
     * A manifest's non-empty patient_id always wins. */
    int patient_from;         /* PREPSET_IDS_PATIENT (PatientID), _STUDY (StudyInstanceUID), _NONE */
    int keep_ids;             /* store the DICOM ids as they are instead of their salted hash */
    const char *id_salt_file; /* NULL: a random salt per run, else the key bytes (HMAC-SHA256) */
} PrepSetConfig;

enum { PREPSET_IDS_PATIENT = 0, PREPSET_IDS_STUDY, PREPSET_IDS_NONE };

#define PREPSET_PROGRESS_SECONDS 10.0

/* Hashed DICOM ids: this many hex digits of HMAC-SHA256(salt, id). */
#define PREPSET_ID_HEX 32

/* The defaults of `hipid prep` for output size S: every step, the
 * prep_config_default limits, DUP_DEFAULT_THRESHOLD, 8 preview images, no
 * preview, not strict, not quiet, a progress line every
 * PREPSET_PROGRESS_SECONDS; src and out still to be set. */
PrepSetConfig prepset_config_default(int size);

/* What prepset_build made. Owns class_names and per_class (prepset_stats_free). */
typedef struct {
    int n_images;        /* written */
    int n_classes;
    int n_skipped;       /* files left out (listed in the data set's `skipped`) */
    int n_dup_groups;    /* near-duplicate groups of two or more images */
    int n_dup_conflicts; /* of which carry more than one label */
    int dup_largest;     /* members of the largest (1 if none) */
    int n_dup_capped;    /* groups that reached the size cap */
    double dup_seconds;  /* the duplicate search (descriptors not included) */
    int n_groups;        /* leakage groups (patient ids + duplicates) */
    int n_preview;       /* rows of the contact sheet, 0 if none was written */
    int n_dicom;         /* of the images written, how many were DICOM */
    char **class_names;  /* (n_classes) */
    int *per_class;      /* (n_classes) images written per class */
    char preprocessing[512];
    double seconds;
} PrepSetStats;

/* Build c->out. On failure returns HIPID_ERR with one line in e (the source,
 * an unusable class, --strict with skips, a file that cannot be written) and
 * writes nothing; s is then empty. */
int prepset_build(PrepSetStats *s, const PrepSetConfig *c, ErrBuf *e);
void prepset_stats_free(PrepSetStats *s); /* no-op on a zeroed PrepSetStats */

/* The closing lines of `hipid prep`: counts per class, the audit, the
 * preprocessing string, the preview and the file written. */
void prepset_print_summary(FILE *f, const PrepSetConfig *c, const PrepSetStats *s);

/* Start libvips for prep: one malloc arena, libvips' warnings dropped (a
 * failing file becomes one skip line), no operation cache, no loaders that
 * libvips marks unsafe. prog names the process in libvips' messages. */
int prepset_start_vips(const char *prog, ErrBuf *e);
void prepset_stop_vips(void);

#endif
