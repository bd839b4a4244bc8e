/* report_write.h: report.md, the CSV tables and the stdout summary of an
 * analysed Report (report.h), and the report folder's file helpers. Only
 * formatting: every number comes from report.c. */
#ifndef HIPID_REPORT_WRITE_H
#define HIPID_REPORT_WRITE_H

#include <stdio.h>

#include "hipid/report/report.h"

enum { REPORT_MD, REPORT_CSV, REPORT_JSON };

/* report.md and the CSV tables (configs, folds, comparisons, errors) into
 * out (which must exist). `plots` / `sheet`: the plot files / the contact
 * sheet were made (else the md says why not, from plot_note / sheet_note). */
int report_write_files(const Report *r, const char *out, int plots, const char *plot_note, int sheet,
                       const char *sheet_note, ErrBuf *e);

/* The summary (per family: selection and estimate; per pair: the verdict)
 * in one of REPORT_MD, REPORT_CSV, REPORT_JSON. */
void report_write_summary(FILE *f, const Report *r, int format);

/* Texts and titles report.md and index.html (report_html.h) share. */
extern const char *const report_metric_titles[M_COUNT]; /* "accuracy", "balanced accuracy", ... */
/* What the intervals of the means are: "95% interval of the mean,
 * Nadeau-Bengio corrected ... (n_test/n_train = 0.2500, ...)". */
void report_interval_text(char *buf, size_t cap, const Report *r);
/* How the configurations were selected (nested or not), a paragraph. */
void report_selection_text(char *buf, size_t cap, const Report *r);
/* A staged search (Report.staged), a paragraph ("" otherwise): the mode,
 * eta, the rungs' epochs, metric and prune; the epochs trained (the sum of
 * the done trials' epochs_run) against a full grid's (sweep.h5's
 * grid_epochs) as a percentage; the configurations that reached the top rung. */
void report_search_text(char *buf, size_t cap, const Report *r);
/* The search's title: "Successive halving", "Hyperband", "Grid search with
 * median pruning", ... */
const char *report_search_title(const Report *r);
/* A rung score as shown: the mean validation loss, or (metric val_acc) the
 * mean validation accuracy, which halving.h stores negated. */
double report_rung_shown(const Report *r, double score);

/* Files of the report folder: OUT/NAME, or OUT/SUB/NAME when sub is not
 * NULL, written under a temporary name (fsafe_tmp_name) that
 * report_close_file renames into place, so that a failed write (a full
 * disk) leaves an earlier report's file as it was; errors name the file.
 * report_abandon_file closes one without keeping it. */
FILE *report_open_file(const char *out, const char *sub, const char *name, ErrBuf *e);
int report_close_file(FILE *f, const char *out, const char *sub, const char *name, ErrBuf *e);
void report_abandon_file(FILE *f, const char *out, const char *sub, const char *name);

#endif
