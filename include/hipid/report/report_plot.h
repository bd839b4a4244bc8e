/* report_plot.h: the report's plots (gnuplot) and its contact sheet of
 * flagged images (libvips). */
#ifndef HIPID_REPORT_PLOT_H
#define HIPID_REPORT_PLOT_H

#include "hipid/report/report.h"

/* Write out/plots.gp and its data (out/plotdata/) and run gnuplot in out:
 * learning_curves, fold_scores, confusion, roc as .png and .svg. Fails with
 * one line if gnuplot is missing or exits non-zero. */
int report_plots(const Report *r, const char *out, ErrBuf *e);

/* The contact sheet out/errors.png of the first n flagged images (libvips,
 * started by the caller), read from the data set the trials name. Fails
 * (one line in e) when the data set is missing or not the trials' one. */
int report_sheet(const Report *r, const char *out, int n, ErrBuf *e);

#endif
