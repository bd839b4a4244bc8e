/* report_plot.h: the report's plots (gnuplot) and its contact sheet of
 * flagged images (libvips). */
#ifndef HIPID_REPORT_PLOT_H
#define HIPID_REPORT_PLOT_H

#include "hipid/report/report.h"

/* Sizes in pixels of the plots added with the Bayesian and multi-family
 * comparisons (the others: report.h). P = pairs of families drawn, at most
 * REPORT_POST_MAX (the first ones, in Report.cmp order); F = families. */
#define REPORT_POST_W 460          /* posterior: min(P, 3) columns of POST_W, */
#define REPORT_POST_H 380          /*   ceil(P / 3) rows of POST_H */
#define REPORT_POST_MAX 12
#define REPORT_CD_W 800            /* cd_diagram: CD_W x (CD_H + CD_H_PER_FAMILY F) */
#define REPORT_CD_H 160
#define REPORT_CD_H_PER_FAMILY 30
#define REPORT_RUNG_W 1000         /* rungs (staged searches): RUNG_W x RUNG_H_PER_FAMILY F', */
#define REPORT_RUNG_H_PER_FAMILY 420 /* F' the families in the rung table */

/* Family f's colour in every plot ("#0072B2", Okabe & Ito's palette), for
 * pages that show the plots beside their tables. */
const char *report_family_colour(int f);

/* Write out/plots.gp and its data (out/plotdata/) and run gnuplot in out,
 * each plot as .png and .svg: learning_curves, fold_scores, confusion, roc;
 * posterior when there is a pair of families (Report.n_cmp > 0);
 * cd_diagram when the Friedman test ran (Report.n_friedman > 0) and its
 * critical difference is defined; rungs for a staged search (Report.staged):
 * per family, the mean validation loss per epoch of each configuration of
 * the rung table over the trials its decisions used (not nested: its outer
 * trials; nested: its inner trials), those that reached the top rung in
 * colour, the others grey, dotted lines at the rungs' epochs. Only families with a selected trial are
 * drawn. Fails with one line if gnuplot is missing or exits non-zero. */
int report_plots(const Report *r, const char *out, ErrBuf *e);

/* The contact sheet out/errors.png of the first n flagged images (libvips,
 * started by the caller), read from the data set the trials name. Fails
 * (one line in e) when the data set is missing or not the trials' one. */
int report_sheet(const Report *r, const char *out, int n, ErrBuf *e);

#endif
