/* audit.h: the leakage audit of a data set, read back: near-duplicate groups,
 * their sizes, label conflicts, and a contact sheet of the largest groups and
 * of every conflict (`hipid audit`, and the summary `hipid prep` prints).
 *
 * Input is a loaded Dataset with dup_groups (written by prep's duplicate
 * search, dupdesc.h). A group is a dup_groups cluster of two or more images;
 * a label conflict is a group whose members carry different labels: the same
 * radiograph filed under two implants, or a false match; prep keeps such
 * members in separate leakage groups per label and lists them, the user
 * decides. Nothing here searches for duplicates.
 */
#ifndef HIPID_AUDIT_H
#define HIPID_AUDIT_H

#include <stdio.h>

#include "hipid/base/common.h"
#include "hipid/data/dataset.h"

typedef struct {
    int cluster;     /* the dup_groups value */
    int n;           /* members */
    int n_labels;    /* distinct labels among them; > 1: a label conflict */
    int *members;    /* (n) data-set rows, ascending */
} AuditGroup;

typedef struct {
    int n_images;
    int n_groups;        /* clusters with two or more members */
    int n_in_groups;     /* images in those */
    int n_conflicts;     /* groups with more than one label */
    int largest;         /* members of the largest group (1 if there is none) */
    AuditGroup *groups;  /* (n_groups): conflicts first, then by size (largest first), then cluster */
} Audit;

/* Gather the groups of d. Fails with one line (naming `path`) when d has no
 * duplicate search stored (no dup_groups: made with the search off, or by an
 * older hipid) or no image. a owns its arrays; audit_free(NULL) is a no-op. */
int audit_build(Audit *a, const Dataset *d, const char *path, ErrBuf *e);
void audit_free(Audit *a);

/* One line of totals, then one line per group (up to max_groups; the rest
 * counted): "conflict 12 (3 images: Depuy 2, Zimmer 1): path path path" or
 * "group 7 (4 images, Depuy): path ..." (at most 16 names a group). */
void audit_print(FILE *f, const Audit *a, const Dataset *d, int max_groups);

/* A contact sheet of up to max_groups groups (conflicts first, then the
 * largest), every member of a group in one row, captioned with its group,
 * label and file name. Fails with one line when there is no group. */
int audit_sheet(const char *path, const Audit *a, const Dataset *d, int max_groups, ErrBuf *e);

#endif
