/* audit.c: near-duplicate groups and label conflicts of a data set, as text
 * and as a contact sheet. See audit.h. */
#include "hipid/data/audit.h"

#include <stdlib.h>
#include <string.h>

#include "hipid/data/image.h"

#define SHEET_MAX_ROW 8      /* members shown per group on the sheet */
#define PRINT_MAX_MEMBERS 16 /* file names printed per group */

static int group_cmp(const void *x, const void *y) {
    const AuditGroup *a = x, *b = y;
    int ca = a->n_labels > 1, cb = b->n_labels > 1;
    if (ca != cb) return cb - ca;
    if (a->n != b->n) return b->n - a->n;
    return a->cluster - b->cluster;
}

int audit_build(Audit *a, const Dataset *d, const char *path, ErrBuf *e) {
    memset(a, 0, sizeof *a);
    if (!d->dup_groups)
        return hipid_err(e, "%s: no duplicate search stored (dup_groups is missing: the data set was made with the "
                            "search off or by an older hipid); run hipid prep again",
                         path);
    if (d->n < 1) return hipid_err(e, "%s: the data set has no image", path);
    int n = d->n;
    int *size = xcalloc((size_t)n, sizeof(int)), *slot = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        int c = d->dup_groups[i];
        if (c < 0 || c >= n) {
            free(size);
            free(slot);
            return hipid_err(e, "%s: dup_groups[%d] = %d, expected a value in [0, %d)", path, i, c, n);
        }
        size[c]++;
    }
    for (int c = 0; c < n; c++) {
        slot[c] = -1;
        if (size[c] >= 2) slot[c] = a->n_groups++;
    }
    a->n_images = n;
    a->largest = 1;
    a->groups = xcalloc((size_t)a->n_groups + 1, sizeof(AuditGroup));
    for (int c = 0; c < n; c++)
        if (slot[c] >= 0) {
            AuditGroup *g = &a->groups[slot[c]];
            g->cluster = c;
            g->members = xmalloc(sizeof(int) * (size_t)size[c]);
        }
    for (int i = 0; i < n; i++) {
        int s = slot[d->dup_groups[i]];
        if (s >= 0) a->groups[s].members[a->groups[s].n++] = i;
    }
    int *seen = xcalloc((size_t)d->n_classes + 1, sizeof(int));
    for (int k = 0; k < a->n_groups; k++) {
        AuditGroup *g = &a->groups[k];
        memset(seen, 0, sizeof(int) * ((size_t)d->n_classes + 1));
        for (int j = 0; j < g->n; j++) g->n_labels += !seen[d->labels[g->members[j]]]++;
        a->n_in_groups += g->n;
        a->n_conflicts += g->n_labels > 1;
        a->largest = g->n > a->largest ? g->n : a->largest;
    }
    if (a->n_groups > 1) qsort(a->groups, (size_t)a->n_groups, sizeof *a->groups, group_cmp);
    free(seen);
    free(slot);
    free(size);
    return HIPID_OK;
}

void audit_free(Audit *a) {
    if (!a) return;
    for (int k = 0; k < a->n_groups; k++) free(a->groups[k].members);
    free(a->groups);
    memset(a, 0, sizeof *a);
}

static const char *name_of(const Dataset *d, int i) {
    return d->source_paths && d->source_paths[i] && d->source_paths[i][0] ? d->source_paths[i] : "?";
}

void audit_print(FILE *f, const Audit *a, const Dataset *d, int max_groups) {
    fprintf(f, "%d images: %d near-duplicate group(s) of 2 or more holding %d images, the largest %d; %d label "
               "conflict(s)\n",
            a->n_images, a->n_groups, a->n_in_groups, a->largest, a->n_conflicts);
    int *count = xcalloc((size_t)d->n_classes + 1, sizeof(int));
    for (int k = 0; k < a->n_groups && k < max_groups; k++) {
        const AuditGroup *g = &a->groups[k];
        if (g->n_labels > 1) {
            memset(count, 0, sizeof(int) * ((size_t)d->n_classes + 1));
            for (int j = 0; j < g->n; j++) count[d->labels[g->members[j]]]++;
            fprintf(f, "conflict %d (%d images:", g->cluster, g->n);
            for (int c = 0, first = 1; c < d->n_classes; c++)
                if (count[c]) {
                    fprintf(f, "%s %s %d", first ? "" : ",", d->class_names[c], count[c]);
                    first = 0;
                }
            fprintf(f, "):");
        } else
            fprintf(f, "group %d (%d images, %s):", g->cluster, g->n, d->class_names[d->labels[g->members[0]]]);
        for (int j = 0; j < g->n && j < PRINT_MAX_MEMBERS; j++) fprintf(f, " %s", name_of(d, g->members[j]));
        if (g->n > PRINT_MAX_MEMBERS) fprintf(f, " ... (+%d more)", g->n - PRINT_MAX_MEMBERS);
        fputc('\n', f);
    }
    if (a->n_groups > max_groups) fprintf(f, "... and %d more group(s)\n", a->n_groups - max_groups);
    free(count);
}

/* the last path component */
static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int audit_sheet(const char *path, const Audit *a, const Dataset *d, int max_groups, ErrBuf *e) {
    if (a->n_groups == 0) return hipid_err(e, "%s: no near-duplicate group to draw", path);
    int rows = a->n_groups < max_groups ? a->n_groups : max_groups, cols = 1, n = 0, S = d->size;
    for (int k = 0; k < rows; k++) {
        int m = a->groups[k].n < SHEET_MAX_ROW ? a->groups[k].n : SHEET_MAX_ROW;
        cols = m > cols ? m : cols;
    }
    /* a row per group: its members, then blank cells up to the row's end */
    uint8_t *blank = xcalloc((size_t)S * S, 1);
    SheetCell *cells = xcalloc((size_t)rows * cols, sizeof *cells);
    char (*text)[3][160] = xcalloc((size_t)rows * cols, sizeof *text);
    for (int k = 0; k < rows; k++) {
        const AuditGroup *g = &a->groups[k];
        for (int j = 0; j < cols; j++, n++) {
            SheetCell *c = &cells[n];
            c->side = S;
            c->px = blank;
            if (j >= g->n || j >= SHEET_MAX_ROW) continue;
            int i = g->members[j];
            c->px = d->images + (size_t)i * S * S;
            snprintf(text[n][0], sizeof text[n][0], "%s %d%s", g->n_labels > 1 ? "CONFLICT" : "group", g->cluster,
                     j == SHEET_MAX_ROW - 1 && g->n > SHEET_MAX_ROW ? " (+more)" : "");
            snprintf(text[n][1], sizeof text[n][1], "%s", d->class_names[d->labels[i]]);
            snprintf(text[n][2], sizeof text[n][2], "%.40s", base_name(name_of(d, i)));
            for (int t = 0; t < 3; t++) c->lines[t] = text[n][t];
        }
    }
    int rc = image_sheet_save(path, cells, n, cols, 96, "audit contact sheet", e);
    free(text);
    free(cells);
    free(blank);
    return rc;
}
