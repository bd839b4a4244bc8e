/* report_plot.c: the report's pictures (report_plot.h).
 *
 * Plots: report_plots writes the data of each plot under out/plotdata/, a
 * gnuplot script out/plots.gp that draws each plot twice (pngcairo, svg), and
 * runs `gnuplot plots.gp` in out as a child process, its messages in
 * out/plotdata/gnuplot.log. Only families with a selected trial are drawn;
 * family f has the colour palette[f] in every plot. The numbers drawn come
 * from report.c (intervals, AUCs, posteriors, ranks); this file only
 * arranges them, except the ROC curves and the posterior densities, which
 * are evaluated here from the same inputs.
 * Contact sheet: report_sheet composes the flagged images (preprocessed uint8
 * rows of the data set) with libvips, labelled with image_draw_text. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hipid/base/h5util.h"
#include "hipid/data/dataset.h"
#include "hipid/data/image.h"
#include "hipid/report/report_plot.h"
#include "hipid/report/report_write.h"

/* Okabe & Ito's palette, told apart with every common colour-vision
 * deficiency: families (and the classes of a ROC panel) in this order. */
static const char *const palette[8] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                       "#E69F00", "#56B4E9", "#000000", "#F0E442"};
#define TRAIN_COLOUR "#3C3C3C"
#define FOLDS_COLOUR "#C9B458" /* the folds-per-epoch bars */
#define PAIR_COLOUR "#BBBBBB"
#define CHANCE_COLOUR "#333333"

static const char *fam_colour(int f) { return palette[f % 8]; }

const char *report_family_colour(int f) { return fam_colour(f); }

/* The colour as the integer gnuplot's `lc rgb variable` reads. */
static long colour_int(const char *hex) { return strtol(hex + 1, NULL, 16); }

/* A gnuplot string literal of printf-formatted text: double quotes,
 * backslash and quote escaped, newlines as \n. */
static void gp_strf(FILE *f, const char *fmt, ...) {
    char s[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    fputc('"', f);
    for (const char *c = s; *c; c++) {
        if (*c == '\n') {
            fputs("\\n", f);
            continue;
        }
        if (*c == '"' || *c == '\\') fputc('\\', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

static void gp_terminal(FILE *f, int svg, int w, int h, const char *name) {
    if (svg) fprintf(f, "set terminal svg size %d,%d fixed noenhanced font \"sans,11\" background rgb \"white\"\n", w, h);
    else fprintf(f, "set terminal pngcairo size %d,%d noenhanced font \"sans,10\"\n", w, h);
    fprintf(f, "set output \"%s.%s\"\nreset\nset datafile missing \"nan\"\nset grid\n", name, svg ? "svg" : "png");
}

static void gp_end(FILE *g, int multiplot) { fprintf(g, "%sset output\n\n", multiplot ? "unset multiplot\n" : ""); }

/* Place the next plot of a multiplot in cell (row, col) of a rows x cols
 * grid filling the band [y0, y1] of the canvas (screen fractions). */
static void gp_cell(FILE *g, int row, int col, int rows, int cols, double y0, double y1) {
    double h = (y1 - y0) / rows;
    fprintf(g, "set origin %g,%g\nset size %g,%g\n", (double)col / cols, y1 - (row + 1) * h, 1.0 / cols, h);
}

/* One entry of a figure's key: a `plot` clause drawing nothing in the
 * style to explain ("NaN w lines lc ...") and its text. */
typedef struct {
    char style[200], title[120];
} KeyEntry;

#define KEY_ROW_PX 22

static double key_width(const KeyEntry *k) { return strlen(k->title) * 6.5 + 70; }

/* Rows the entries take on a canvas W pixels wide, filled greedily. */
static int key_rows(const KeyEntry *k, int n, int W) {
    int rows = n > 0;
    double x = 0;
    for (int i = 0; i < n; i++) {
        if (x > 0 && x + key_width(&k[i]) > W) rows++, x = 0;
        x += key_width(&k[i]);
    }
    return rows;
}

/* The key of a multiplot, below pixel row y_px of a W x H canvas: each
 * entry plotted alone in its own small frame (so gnuplot never wraps it),
 * rows centred. Unsets the panels' settings: call it last. */
static void gp_keys(FILE *g, const KeyEntry *k, int n, int W, int H, double y_px) {
    fputs("unset border\nunset tics\nunset grid\nunset xlabel\nunset ylabel\nunset y2label\nunset title\nunset label\n"
          "unset arrow\nunset colorbox\nset lmargin 0\nset rmargin 0\nset tmargin 0\nset bmargin 0\nset xrange [0:1]\n"
          "set yrange [0:1]\nset key center center samplen 2\n", g);
    for (int i = 0; i < n;) {
        int j = i;
        double w = 0;
        while (j < n && (j == i || w + key_width(&k[j]) <= W)) w += key_width(&k[j++]);
        double x = (W - w) / 2;
        for (; i < j; i++) {
            fprintf(g, "set origin %g,%g\nset size %g,%g\nplot %s title ", x / W, 1 - (y_px + KEY_ROW_PX) / H,
                    key_width(&k[i]) / W, (double)KEY_ROW_PX / H, k[i].style);
            gp_strf(g, "%s", k[i].title);
            fputc('\n', g);
            x += key_width(&k[i]);
        }
        y_px += KEY_ROW_PX;
    }
}

/* Families drawn: those with a selected trial. */
static int drawn(const Report *r, int *fams) {
    int n = 0;
    for (int f = 0; f < r->n_fam; f++)
        if (r->fam[f].n_sel > 0) fams[n++] = f;
    return n;
}

static int max_name(const Report *r) {
    int m = 0;
    for (int c = 0; c < r->K; c++)
        if ((int)strlen(r->class_names[c]) > m) m = (int)strlen(r->class_names[c]);
    return m;
}

/* ---- learning curves ---- */

/* Mean and SD of history row h (train_loss, train_acc, val_loss, val_acc)
 * at epoch ep over F's selected trials that ran it. x: scratch (n_units). */
static void hist_summary(Summary *s, const Report *r, const RFamily *F, int h, int ep, double *x) {
    int m = 0;
    for (int u = 0; u < r->n_units; u++) {
        const RTrial *t = F->sel[u];
        if (!t || ep >= t->n_epochs) continue;
        double v = t->hist[(size_t)h * t->n_epochs + ep];
        if (isfinite(v)) x[m++] = v;
    }
    stats_summary(s, x, m, 0.95);
}

/* lc_F.dat: epoch, how many selected trials ran it (RFamily.epoch_n), then
 * mean and SD of train_loss, train_acc, val_loss, val_acc over them. */
static int data_learning(const Report *r, const char *out, int f, ErrBuf *e) {
    char name[32];
    snprintf(name, sizeof name, "lc_%d.dat", f);
    FILE *d = report_open_file(out, "plotdata", name, e);
    if (!d) return HIPID_ERR;
    const RFamily *F = &r->fam[f];
    double *x = xcalloc((size_t)r->n_units + 1, sizeof(double));
    fprintf(d, "# epoch folds train_loss sd train_acc sd val_loss sd val_acc sd (folds: selected trials that ran "
               "the epoch)\n");
    for (int ep = 0; ep < F->n_epoch_max; ep++) {
        fprintf(d, "%d %d", ep + 1, F->epoch_n[ep]);
        for (int h = 0; h < 4; h++) {
            Summary s;
            hist_summary(&s, r, F, h, ep, x);
            fprintf(d, " %.6g %.6g", s.mean, s.n > 1 ? s.sd : 0.0);
        }
        fputc('\n', d);
    }
    free(x);
    return report_close_file(d, out, "plotdata", name, e);
}

/* One panel: the folds per epoch as light bars on the right axis (bottom
 * quarter), then both bands, then both lines on top, so that each line
 * keeps its key's colour. */
static void gp_learning_panel(FILE *g, const Report *r, int f, int acc) {
    const RFamily *F = &r->fam[f];
    int c = acc ? 5 : 3, v = acc ? 9 : 7, n = F->n_sel;
    fputs("set title ", g);
    gp_strf(g, "%s: %s", F->name, acc ? "accuracy" : "loss");
    fprintf(g, "\nset ylabel \"%s\"\nset yrange %s\nset ytics nomirror\n", acc ? "accuracy" : "cross-entropy loss",
            acc ? "[0:1]" : "[0:*]");
    fprintf(g, "set y2range [0:%d]\nset y2tics (\"0\" 0, \"%d\" %d) nomirror\n", 4 * n, n, n);
    fprintf(g,
            "plot \"plotdata/lc_%d.dat\" u 1:2 axes x1y2 w boxes fs solid 0.3 noborder lc rgb \"%s\" "
            "title \"folds that ran the epoch (right axis)\", \\\n"
            "  \"\" u 1:($%d-$%d):($%d+$%d) w filledcurves fc rgb \"%s\" fs transparent solid 0.18 noborder notitle, \\\n"
            "  \"\" u 1:($%d-$%d):($%d+$%d) w filledcurves fc rgb \"%s\" fs transparent solid 0.18 noborder notitle, \\\n"
            "  \"\" u 1:%d w lines lc rgb \"%s\" lw 2 title \"train\", \\\n"
            "  \"\" u 1:%d w lines lc rgb \"%s\" lw 2 title \"validation\"\n",
            f, FOLDS_COLOUR, c, c + 1, c, c + 1, TRAIN_COLOUR, v, v + 1, v, v + 1, fam_colour(f), c, TRAIN_COLOUR, v, fam_colour(f));
}

static void gp_learning(FILE *g, const Report *r, int svg) {
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams), H = REPORT_LC_H_PER_FAMILY * n, max_ep = 0;
    for (int i = 0; i < n; i++)
        if (r->fam[fams[i]].n_epoch_max > max_ep) max_ep = r->fam[fams[i]].n_epoch_max;
    gp_terminal(g, svg, REPORT_LC_W, H, "learning_curves");
    fprintf(g, "set multiplot title \"Learning curves of the selected trials: mean over the folds that ran each epoch, "
               "band = ±1 SD\"\nset xlabel \"epoch\"\nset xrange [0.5:%g]\nset boxwidth 0.8\n%sunset key\n",
            max_ep + 0.5, max_ep <= 20 ? "set xtics 1\n" : "");
    KeyEntry k[REPORT_MAX_FAMILIES + 2] = {
        {"NaN w boxes fs solid 0.3 noborder lc rgb \"" FOLDS_COLOUR "\"", "folds that ran the epoch (right axis)"},
        {"NaN w lines lw 2 lc rgb \"" TRAIN_COLOUR "\"", "train"}};
    for (int i = 0; i < n; i++) {
        snprintf(k[i + 2].style, sizeof k[0].style, "NaN w lines lw 2 lc rgb \"%s\"", fam_colour(fams[i]));
        snprintf(k[i + 2].title, sizeof k[0].title, "validation: %s", r->fam[fams[i]].name);
    }
    int rows = key_rows(k, n + 2, REPORT_LC_W);
    double top = 1 - (28.0 + KEY_ROW_PX * rows) / H;
    for (int i = 0; i < n; i++)
        for (int acc = 0; acc < 2; acc++) {
            gp_cell(g, i, acc, n, 2, 0, top);
            gp_learning_panel(g, r, fams[i], acc);
        }
    gp_keys(g, k, n + 2, REPORT_LC_W, H, 24);
    gp_end(g, 1);
}

/* ---- fold scores ---- */

/* The compared metrics in fold_scores' panels, with their chance levels:
 * accuracy: the majority-class share (RFamily.base_rate); balanced
 * accuracy and macro-F1: 1/K (what guessing with the class shares scores);
 * ROC AUC: 0.5. */
static const char *const fold_title[C_COUNT] = {"accuracy", "balanced accuracy", "macro-F1", "ROC AUC"};

static double chance_level(const Report *r, const RFamily *F, int m) {
    if (m == M_ACC) return F->base_class >= 0 ? F->base_rate : NAN;
    return m == M_AUC ? 0.5 : 1.0 / r->K;
}

/* x of unit u's point in family slot i: spread evenly and symmetrically
 * over [i - 0.27, i + 0.03], left of the interval bar at i + 0.22. */
static double fold_x(int i, int u, int n_units) {
    double off = n_units > 1 ? (double)u / (n_units - 1) - 0.5 : 0.0;
    return i - 0.12 + 0.3 * off;
}

/* folds.dat: x slot unit colour, then the C_COUNT metrics of each selected
 * trial; pairs.dat: one line per unit through its points (units with two or
 * more families). */
static int data_fold_points(const Report *r, const char *out, const int *fams, int n, ErrBuf *e) {
    FILE *d = report_open_file(out, "plotdata", "folds.dat", e), *p = NULL;
    if (!d || !(p = report_open_file(out, "plotdata", "pairs.dat", e))) {
        if (d) report_abandon_file(d, out, "plotdata", "folds.dat");
        return HIPID_ERR;
    }
    fprintf(d, "# x slot unit colour accuracy balanced_accuracy macro_f1 auc\n");
    fprintf(p, "# one block per CV unit: x and the metrics of folds.dat, family by family\n");
    for (int u = 0; u < r->n_units; u++) {
        int k = 0;
        for (int i = 0; i < n; i++) k += r->fam[fams[i]].sel[u] != NULL;
        for (int i = 0; i < n; i++) {
            const RTrial *t = r->fam[fams[i]].sel[u];
            if (!t) continue;
            double x = fold_x(i, u, r->n_units);
            fprintf(d, "%.4f %d %d %ld", x, i, u, colour_int(fam_colour(fams[i])));
            if (k > 1) fprintf(p, "%.4f", x);
            for (int m = 0; m < C_COUNT; m++) {
                fprintf(d, " %.6g", t->m[m]);
                if (k > 1) fprintf(p, " %.6g", t->m[m]);
            }
            fputc('\n', d);
            if (k > 1) fputc('\n', p);
        }
        if (k > 1) fputc('\n', p);
    }
    int rc = report_close_file(d, out, "plotdata", "folds.dat", e);
    return report_close_file(p, out, "plotdata", "pairs.dat", e) || rc;
}

/* means.dat: x, then mean lo hi per metric (the corrected interval when
 * Report.corrected; the mean when undefined); chance.dat: a segment per
 * slot at each metric's chance level. */
static int data_fold_means(const Report *r, const char *out, const int *fams, int n, ErrBuf *e) {
    FILE *d = report_open_file(out, "plotdata", "means.dat", e), *c = NULL;
    if (!d || !(c = report_open_file(out, "plotdata", "chance.dat", e))) {
        if (d) report_abandon_file(d, out, "plotdata", "means.dat");
        return HIPID_ERR;
    }
    fprintf(d, "# x, then mean lo hi of accuracy, balanced_accuracy, macro_f1, auc (95%% %s interval)\n",
            r->corrected ? "corrected t" : "t");
    fprintf(c, "# x and the chance level of accuracy (majority class), balanced_accuracy and macro_f1 (1/K), auc (0.5)\n");
    for (int i = 0; i < n; i++) {
        const RFamily *F = &r->fam[fams[i]];
        fprintf(d, "%.2f", i + 0.22);
        for (int m = 0; m < C_COUNT; m++) {
            const Summary *s = &F->m[m];
            fprintf(d, " %.6g %.6g %.6g", s->mean, isfinite(s->lo) ? s->lo : s->mean, isfinite(s->hi) ? s->hi : s->mean);
        }
        fputc('\n', d);
        for (int side = -1; side <= 1; side += 2) {
            fprintf(c, "%.2f", i + 0.45 * side);
            for (int m = 0; m < C_COUNT; m++) fprintf(c, " %.6g", chance_level(r, F, m));
            fputc('\n', c);
        }
        fputc('\n', c);
    }
    int rc = report_close_file(d, out, "plotdata", "means.dat", e);
    return report_close_file(c, out, "plotdata", "chance.dat", e) || rc;
}

static void gp_fold_panel(FILE *g, int m) {
    fprintf(g, "set title \"%s\"\n", fold_title[m]);
    fprintf(g,
            "plot \"plotdata/chance.dat\" u 1:%d w lines dt 2 lw 1.5 lc rgb \"%s\" notitle, \\\n"
            "  \"plotdata/pairs.dat\" u 1:%d w lines lw 1 lc rgb \"%s\" notitle, \\\n"
            "  \"plotdata/folds.dat\" u 1:%d:4 w points pt 7 ps 0.8 lc rgb variable notitle, \\\n"
            "  \"plotdata/means.dat\" u 1:%d:%d:%d w yerrorbars pt 5 ps 1.1 lw 1.5 lc rgb \"#000000\" notitle\n",
            2 + m, CHANCE_COLOUR, 2 + m, PAIR_COLOUR, 5 + m, 2 + 3 * m, 3 + 3 * m, 4 + 3 * m);
}

static void gp_folds(FILE *g, const Report *r, int svg) {
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams), len = 0, H = REPORT_FOLDS_H;
    for (int i = 0; i < n; i++) len += (int)strlen(r->fam[fams[i]].name) + 2;
    gp_terminal(g, svg, REPORT_FOLDS_W, H, "fold_scores");
    fputs("set multiplot title \"Test-fold scores of each family's selected trials; grey lines join the scores of one "
          "CV unit\"\nset xtics (", g);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", g);
        gp_strf(g, "%s", r->fam[fams[i]].name);
        fprintf(g, " %d", i);
    }
    /* names wider than a panel's share are turned */
    fprintf(g, ")%s\nset xrange [-0.55:%g]\nset grid noxtics ytics\nset yrange [*:1]\nset offsets 0, 0, 0, graph 0.04\nunset key\n",
            len * 6 > 150 ? " rotate by 30 right" : "", n - 0.45);
    double bottom = (KEY_ROW_PX + 6.0) / H, top = 1 - 22.0 / H;
    for (int m = 0; m < C_COUNT; m++) {
        gp_cell(g, 0, m, 1, C_COUNT, bottom, top);
        gp_fold_panel(g, m);
    }
    KeyEntry k[4] = {{"NaN w lines dt 2 lw 1.5 lc rgb \"" CHANCE_COLOUR "\"", "chance level"},
                     {"NaN w lines lw 1 lc rgb \"" PAIR_COLOUR "\"", "same CV unit"},
                     {"NaN w points pt 7 ps 0.8 lc rgb \"#777777\"", "one test fold (family colour)"},
                     {"\"+\" u (NaN):(NaN):(NaN):(NaN) w yerrorbars pt 5 ps 1.1 lw 1.5 lc rgb \"#000000\"", ""}};
    snprintf(k[3].title, sizeof k[3].title, "mean, %s", r->corrected ? "corrected 95% CI" : "95% t-interval");
    gp_keys(g, k, 4, REPORT_FOLDS_W, H, H - 4 - KEY_ROW_PX);
    gp_end(g, 1);
}

/* ---- confusion matrices ---- */

/* conf_F.dat: predicted true share count, one scanline per true class. */
static int data_confusion(const Report *r, const char *out, int f, ErrBuf *e) {
    char name[32];
    snprintf(name, sizeof name, "conf_%d.dat", f);
    FILE *d = report_open_file(out, "plotdata", name, e);
    if (!d) return HIPID_ERR;
    int K = r->K;
    const long *c = r->fam[f].conf;
    for (int t = 0; t < K; t++) {
        long row = 0;
        for (int p = 0; p < K; p++) row += c[t * K + p];
        for (int p = 0; p < K; p++) fprintf(d, "%d %d %.6g %ld\n", p, t, row ? (double)c[t * K + p] / row : 0.0, c[t * K + p]);
        fputc('\n', d);
    }
    return report_close_file(d, out, "plotdata", name, e);
}

/* Class tics: names along y; along x the names too when they fit under
 * their column, else the class numbers, which the y names end with. */
static void gp_confusion_tics(FILE *g, const Report *r, int numbered) {
    for (int axis = 0; axis < 2; axis++) {
        fprintf(g, "set %s (", axis ? "ytics" : "xtics");
        for (int c = 0; c < r->K; c++) {
            if (c) fputs(", ", g);
            if (!numbered) gp_strf(g, "%s", r->class_names[c]);
            else if (axis) gp_strf(g, "%s  %d", r->class_names[c], c + 1);
            else gp_strf(g, "%d", c + 1);
            fprintf(g, " %d", c);
        }
        fputs(") scale 0\n", g);
    }
}

/* Equal squares placed by hand, each after its tic names, one colour bar
 * right of the last; the block centred vertically. */
static void gp_confusion(FILE *g, const Report *r, int svg) {
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams), K = r->K, P = REPORT_PANEL, W = P * n, cbar = 75;
    int name_px = max_name(r) * 13 / 2, numbered = name_px + 8 > (P - 150) / K;
    int left = name_px + (numbered ? 22 : 0) + 36, title = 58, bottom = 50;
    int side = (W - cbar) / n - left - 16;
    if (side > P - title - bottom) side = P - title - bottom;
    int top = title + (P - title - bottom - side) / 2, slot = (W - cbar) / n;
    gp_terminal(g, svg, W, P, "confusion");
    fprintf(g, "set multiplot title \"Confusion matrices summed over the selected test folds: counts; colour = "
               "share of the true class's row\"\nunset grid\nset xrange [-0.5:%g]\nset yrange [%g:-0.5]\nset cbrange [0:1]\n"
               "set palette defined (0 \"#FFFFFF\", 0.5 \"#6BAED6\", 1 \"#08306B\")\nset xlabel \"predicted class\" "
               "offset 0,0.3\nset cblabel \"share of the row\"\nset cbtics 0.2\n",
            K - 0.5, K - 0.5);
    gp_confusion_tics(g, r, numbered);
    fprintf(g, "set tmargin at screen %g\nset bmargin at screen %g\n", 1 - (double)top / P, 1 - (double)(top + side) / P);
    for (int i = 0; i < n; i++) {
        long total = 0;
        for (int c = 0; c < K * K; c++) total += r->fam[fams[i]].conf[c];
        double x0 = (double)(i * slot + left) / W, x1 = (double)(i * slot + left + side) / W;
        fprintf(g, "set lmargin at screen %g\nset rmargin at screen %g\n", x0, x1);
        fprintf(g, "set label 1 \"true class\" at screen %g, screen %g rotate by 90 center\n", (i * slot + 14.0) / W,
                1 - (top + side / 2.0) / P);
        if (i == n - 1)
            fprintf(g, "set colorbox user origin screen %g, screen %g size screen %g, screen %g\n", x1 + 12.0 / W,
                    1 - (double)(top + side) / P, 14.0 / W, (double)side / P);
        else fputs("unset colorbox\n", g);
        fputs("set title ", g);
        gp_strf(g, "%s (%ld test predictions)", r->fam[fams[i]].name, total);
        fprintf(g, "\nplot \"plotdata/conf_%d.dat\" u 1:2:3 w image notitle, \\\n"
                   "  \"\" u 1:2:($3 > 0.55 ? \"\" : sprintf(\"%%d\", $4)) w labels tc rgb \"#000000\" notitle, \\\n"
                   "  \"\" u 1:2:($3 > 0.55 ? sprintf(\"%%d\", $4) : \"\") w labels tc rgb \"#FFFFFF\" notitle\n",
                fams[i]);
    }
    gp_end(g, 1);
}

/* ---- ROC curves ---- */

/* roc_F_C.dat: the ROC curve of class C against the rest on F's
 * out-of-fold predictions pooled over its selected trials (binary: one
 * curve, C = 1). */
static int data_roc(const Report *r, const char *out, int f, ErrBuf *e) {
    const RFamily *F = &r->fam[f];
    int K = r->K, n = 0;
    for (int u = 0; u < r->n_units; u++)
        if (F->sel[u]) n += F->sel[u]->n_test;
    int *y = xcalloc((size_t)n + 1, sizeof(int));
    double *P = xcalloc((size_t)n * K + 1, sizeof(double)), *score = xcalloc((size_t)n + 1, sizeof(double));
    double *fpr = xcalloc((size_t)n + 2, sizeof(double)), *tpr = xcalloc((size_t)n + 2, sizeof(double));
    int j = 0, rc = HIPID_OK;
    for (int u = 0; u < r->n_units; u++) {
        const RTrial *t = F->sel[u];
        if (!t) continue;
        memcpy(y + j, t->test_label, sizeof(int) * t->n_test);
        memcpy(P + (size_t)j * K, t->test_prob, sizeof(double) * t->n_test * K);
        j += t->n_test;
    }
    for (int c = K == 2 ? 1 : 0; c < K && rc == HIPID_OK; c++) {
        char name[32];
        snprintf(name, sizeof name, "roc_%d_%d.dat", f, c);
        FILE *d = report_open_file(out, "plotdata", name, e);
        if (!d) {
            rc = HIPID_ERR;
            break;
        }
        for (int i = 0; i < n; i++) score[i] = P[(size_t)i * K + c];
        int m = stats_roc_curve(fpr, tpr, NULL, y, score, c, n);
        fprintf(d, "# false_positive_rate true_positive_rate (class %d vs rest, pooled over the selected trials)\n", c);
        for (int i = 0; i < m; i++) fprintf(d, "%.6g %.6g\n", fpr[i], tpr[i]);
        rc = report_close_file(d, out, "plotdata", name, e);
    }
    free(y);
    free(P);
    free(score);
    free(fpr);
    free(tpr);
    return rc;
}

/* One panel: the key below the square, one entry per class with its
 * pooled AUC (RFamily.auc_class); classes 5 to 8 dashed, in case two of
 * the palette's colours look alike. */
static void gp_roc_panel(FILE *g, const Report *r, int f) {
    const RFamily *F = &r->fam[f];
    int K = r->K;
    fputs("set title ", g);
    gp_strf(g, "%s: pooled out-of-fold AUC %.3f%s", F->name, F->auc_pooled, K > 2 ? " (macro)" : "");
    fputs("\nplot x w lines dt 2 lc rgb \"#999999\" notitle", g);
    for (int c = K == 2 ? 1 : 0; c < K; c++) {
        fprintf(g, ", \\\n  \"plotdata/roc_%d_%d.dat\" u 1:2 w lines lw 2 lc rgb \"%s\" dt %d title ", f, c, palette[c % 8],
                c / 4 + 1);
        gp_strf(g, "%s%s: AUC %.3f", r->class_names[c], K == 2 ? " positive" : " vs rest", F->auc_class[c]);
    }
    fputc('\n', g);
}

static void gp_roc(FILE *g, const Report *r, int svg) {
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams);
    gp_terminal(g, svg, REPORT_PANEL * n, REPORT_PANEL, "roc");
    fprintf(g, "set multiplot layout 1,%d title \"ROC curves of the out-of-fold predictions pooled over every selected "
               "test fold\"\nset xrange [0:1]\nset yrange [0:1]\nset size ratio -1\nset xlabel \"false positive rate\"\n"
               "set ylabel \"true positive rate\"\nset xlabel offset 0,0.4\nset key below Left reverse maxcols %d samplen 2 height 1\n",
            n, max_name(r) > 12 ? 1 : 2);
    for (int i = 0; i < n; i++) gp_roc_panel(g, r, fams[i]);
    gp_end(g, 1);
}

/* ---- posterior of the Bayesian correlated t-test ---- */

static double t_pdf(double x, const BayesCT *b) {
    double z = (x - b->mean) / b->scale, v = b->df;
    return exp(lgamma((v + 1) / 2) - lgamma(v / 2)) / (sqrt(v * M_PI) * b->scale) * pow(1 + z * z / v, -(v + 1) / 2);
}

/* A drawable posterior: a proper Student t (not the point mass of equal
 * differences, not undefined). */
static int post_ok(const BayesCT *b) { return isfinite(b->mean) && isfinite(b->df) && b->df > 0 && b->scale > 0; }

/* x range shown: mean +- 5 scales, widened to twice the rope on each side. */
static void post_range(const BayesCT *b, double rope, double *lo, double *hi) {
    double w = post_ok(b) ? 5 * b->scale : 0.05;
    *lo = fmin(b->mean - w, -2 * rope - 1e-3);
    *hi = fmax(b->mean + w, 2 * rope + 1e-3);
}

/* One gnuplot data block: the density at 200 points from a to z. */
static void post_block(FILE *d, const BayesCT *b, double a, double z) {
    for (int i = 0; i <= 200; i++) {
        double x = a + (z - a) * i / 200.0;
        fprintf(d, "%.8g %.8g\n", x, t_pdf(x, b));
    }
    fputs("\n\n", d);
}

/* post_I.dat for comparison I: four blocks, the density below -rope,
 * within +-rope, above +rope, and over the whole range. */
static int data_posterior(const Report *r, const char *out, int i, ErrBuf *e) {
    const BayesCT *b = &r->cmp[i].bayes[M_ACC];
    if (!post_ok(b)) return HIPID_OK;
    char name[32];
    snprintf(name, sizeof name, "post_%d.dat", i);
    FILE *d = report_open_file(out, "plotdata", name, e);
    if (!d) return HIPID_ERR;
    double lo, hi, q = r->rope;
    post_range(b, q, &lo, &hi);
    fprintf(d, "# accuracy difference, posterior density (Student t: mean %.8g scale %.8g df %g); "
               "blocks: below -rope, rope, above +rope, all\n",
            b->mean, b->scale, b->df);
    post_block(d, b, lo, -q);
    post_block(d, b, -q, q);
    post_block(d, b, q, hi);
    post_block(d, b, lo, hi);
    return report_close_file(d, out, "plotdata", name, e);
}

static void gp_post_rope(FILE *g, double q) {
    for (int s = -1; s <= 1; s += 2)
        fprintf(g, "set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc rgb \"#777777\"\n", s * q, s * q);
    fputs("set label ", g);
    gp_strf(g, "rope ±%g", q);
    fprintf(g, " at 0, graph 1.035 center tc rgb \"#555555\"\nset title offset 0,0.8\n");
}

/* Panel of comparison i: regions filled in the colour of the family they
 * favour (grey: equivalent), the three probabilities in the key. */
static void gp_post_panel(FILE *g, const Report *r, int i) {
    const RCompare *c = &r->cmp[i];
    const BayesCT *b = &c->bayes[M_ACC];
    const char *A = r->fam[c->a].name, *B = r->fam[c->b].name;
    double lo, hi, q = r->rope;
    post_range(b, q, &lo, &hi);
    fputs("unset arrow\nunset label\nset title ", g);
    gp_strf(g, "%s - %s (%d paired units)", A, B, c->n_pairs);
    fputs("\nset xlabel ", g);
    gp_strf(g, "accuracy difference, %s - %s", A, B);
    fprintf(g, "\nset xrange [%g:%g]\n", lo, hi);
    gp_post_rope(g, q);
    if (!post_ok(b)) {
        fputs("set label ", g);
        if (isfinite(b->mean)) gp_strf(g, "every paired difference equals %.4f: no spread to draw", b->mean);
        else gp_strf(g, "fewer than 2 paired units: no posterior");
        /* gnuplot refuses to autoscale a plot without a point */
        fputs(" at graph 0.5, graph 0.5 center\nset yrange [0:1]\nplot NaN notitle\nset yrange [0:*]\n", g);
        return;
    }
    fprintf(g, "plot \"plotdata/post_%d.dat\" index 0 u 1:2 w filledcurves y1=0 fs transparent solid 0.5 noborder "
               "fc rgb \"%s\" title ", i, fam_colour(c->b));
    gp_strf(g, "P(%s better) = %.3f", B, b->p_left);
    fprintf(g, ", \\\n  \"\" index 1 u 1:2 w filledcurves y1=0 fs transparent solid 0.5 noborder fc rgb \"#999999\" title ");
    gp_strf(g, "P(equivalent, within the rope) = %.3f", b->p_rope);
    fprintf(g, ", \\\n  \"\" index 2 u 1:2 w filledcurves y1=0 fs transparent solid 0.5 noborder fc rgb \"%s\" title ",
            fam_colour(c->a));
    gp_strf(g, "P(%s better) = %.3f", A, b->p_right);
    fprintf(g, ", \\\n  \"\" index 3 u 1:2 w lines lw 1.5 lc rgb \"#000000\" notitle\n");
}

static int post_count(const Report *r) { return r->n_cmp < REPORT_POST_MAX ? r->n_cmp : REPORT_POST_MAX; }

static void gp_posterior(FILE *g, const Report *r, int svg) {
    int P = post_count(r), cols = P < 3 ? P : 3, rows = (P + 2) / 3;
    gp_terminal(g, svg, REPORT_POST_W * cols, REPORT_POST_H * rows, "posterior");
    fprintf(g, "set multiplot layout %d,%d title ", rows, cols);
    gp_strf(g, "Bayesian correlated t-test (Corani & Benavoli 2015):%sposterior of the mean accuracy difference%s",
            cols == 1 ? "\n" : " ", r->n_cmp > P ? " (first pairs)" : "");
    /* room for the panel title and the rope label under a two-line figure title */
    fprintf(g, "\nset ylabel \"posterior density\"\nset yrange [0:*]\nset key below Left reverse samplen 2 maxcols 1\n"
               "set tmargin %d\n", cols == 1 ? 6 : 4);
    for (int i = 0; i < P; i++) gp_post_panel(g, r, i);
    gp_end(g, 1);
}

/* ---- critical-difference diagram ---- */

/* Families of the Friedman test in ascending average accuracy rank. */
static int cd_order(const Report *r, int *ord) {
    int n = 0;
    for (int f = 0; f < r->n_fam; f++)
        if (isfinite(r->avg_rank[M_ACC][f])) ord[n++] = f;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && r->avg_rank[M_ACC][ord[j]] < r->avg_rank[M_ACC][ord[j - 1]]; j--) {
            int t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    return n;
}

typedef struct {
    int W, H, hi;            /* size in pixels; the axis runs from rank 1 to hi */
    double ax0, ax1;         /* the axis's ends in pixels from the left */
} CdFrame;

static double cd_sx(const CdFrame *fr, double rank) { return (fr->ax0 + (fr->ax1 - fr->ax0) * (rank - 1) / (fr->hi - 1)) / fr->W; }
static double cd_sy(const CdFrame *fr, double px) { return 1 - px / fr->H; }

static void cd_line(FILE *g, const CdFrame *fr, double x0, double y0, double x1, double y1, double lw, const char *col) {
    fprintf(g, "set arrow from screen %.5f, screen %.5f to screen %.5f, screen %.5f nohead lw %g lc rgb \"%s\"\n", x0,
            cd_sy(fr, y0), x1, cd_sy(fr, y1), lw, col);
}

#define CD_AXIS_Y 112.0

/* The rank axis, its tics and the CD bar above it. */
static void gp_cd_axis(FILE *g, const CdFrame *fr, double cd) {
    cd_line(g, fr, cd_sx(fr, 1), CD_AXIS_Y, cd_sx(fr, fr->hi), CD_AXIS_Y, 1.5, "#000000");
    for (int t = 2; t <= 2 * fr->hi; t++) {
        double x = cd_sx(fr, t / 2.0);
        cd_line(g, fr, x, CD_AXIS_Y, x, CD_AXIS_Y - (t % 2 ? 5 : 9), 1, "#000000");
        if (t % 2 == 0) fprintf(g, "set label \"%d\" at screen %.5f, screen %.5f center\n", t / 2, x, cd_sy(fr, CD_AXIS_Y - 18));
    }
    double x0 = cd_sx(fr, 1), x1 = cd_sx(fr, 1 + cd);
    cd_line(g, fr, x0, 74, x1, 74, 2.5, "#000000");
    cd_line(g, fr, x0, 69, x0, 79, 1.5, "#000000");
    cd_line(g, fr, x1, 69, x1, 79, 1.5, "#000000");
    fprintf(g, "set label \"CD = %.3f\" at screen %.5f, screen %.5f center\n", cd, (x0 + x1) / 2, cd_sy(fr, 62));
}

/* Thick lines under the axis: each maximal run of families (by rank)
 * whose ranks differ by less than cd. Returns how many. */
static int gp_cd_cliques(FILE *g, const CdFrame *fr, const Report *r, const int *ord, int n, double cd) {
    int drawn_to = -1, k = 0;
    const double *R = r->avg_rank[M_ACC];
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j + 1 < n && R[ord[j + 1]] - R[ord[i]] < cd) j++;
        if (j == i || j <= drawn_to) continue;
        double y = CD_AXIS_Y + 14 + 9 * k++;
        cd_line(g, fr, cd_sx(fr, R[ord[i]]) - 5.0 / fr->W, y, cd_sx(fr, R[ord[j]]) + 5.0 / fr->W, y, 5, "#000000");
        drawn_to = j;
    }
    return k;
}

/* Each family: a line from its rank down to its row, then out to its
 * name (better half on the left, best on top; worse half on the right,
 * worst on top). */
static void gp_cd_names(FILE *g, const CdFrame *fr, const Report *r, const int *ord, int n, double y0) {
    int half = (n + 1) / 2;
    double dy = (fr->H - 16 - y0) / half;
    for (int i = 0; i < n; i++) {
        int f = ord[i], left = i < half, row = left ? i : n - 1 - i;
        double rank = r->avg_rank[M_ACC][f], x = cd_sx(fr, rank), y = y0 + dy * (row + 0.5);
        double xe = left ? (fr->ax0 - 30) / fr->W : (fr->ax1 + 30) / fr->W;
        cd_line(g, fr, x, CD_AXIS_Y, x, y, 1.5, fam_colour(f));
        cd_line(g, fr, x, y, xe, y, 1.5, fam_colour(f));
        fputs("set label ", g);
        if (left) gp_strf(g, "%s  %.2f", r->fam[f].name, rank);
        else gp_strf(g, "%.2f  %s", rank, r->fam[f].name);
        fprintf(g, " at screen %.5f, screen %.5f %s tc rgb \"%s\"\n", xe + (left ? -6.0 : 6.0) / fr->W, cd_sy(fr, y),
                left ? "right" : "left", fam_colour(f));
    }
}

static void gp_cd(FILE *g, const Report *r, int svg) {
    int ord[REPORT_MAX_FAMILIES], n = cd_order(r, ord);
    double cd = r->cd[M_ACC];
    CdFrame fr = {REPORT_CD_W, REPORT_CD_H + REPORT_CD_H_PER_FAMILY * r->n_fam, r->n_fam, 0.3 * REPORT_CD_W,
                  0.7 * REPORT_CD_W};
    while (fr.hi < 1 + cd) fr.hi++;
    char p[64];
    report_fmt_p(p, sizeof p, r->friedman_p[M_ACC]);
    gp_terminal(g, svg, fr.W, fr.H, "cd_diagram");
    fputs("unset grid\nunset border\nunset tics\nunset key\nset label ", g);
    gp_strf(g, "Critical-difference diagram (Demšar 2006): average accuracy rank over %d CV units, 1 = best", r->n_friedman);
    fprintf(g, " at screen 0.5, screen %.5f center\nset label ", cd_sy(&fr, 16));
    gp_strf(g, "Friedman %s; Nemenyi CD at 0.05; a thick line joins families whose ranks differ by less than CD", p);
    fprintf(g, " at screen 0.5, screen %.5f center font \",9\"\n", cd_sy(&fr, 34));
    gp_cd_axis(g, &fr, cd);
    int k = gp_cd_cliques(g, &fr, r, ord, n, cd);
    gp_cd_names(g, &fr, r, ord, n, CD_AXIS_Y + 14 + 9 * k + 4);
    fputs("set xrange [0:1]\nset yrange [0:1]\nplot NaN notitle\n", g);
    gp_end(g, 0);
}

static int have_cd(const Report *r) { return r->n_friedman > 0 && isfinite(r->cd[M_ACC]); }

/* ---- the search's rungs ---- */

/* Families with rung rows. */
static int rung_fams(const Report *r, int *fams) {
    int n = 0;
    for (int f = 0; f < r->n_fam; f++)
        for (int i = 0; i < r->n_rungs; i++)
            if (r->rungs[i].family == f) {
                fams[n++] = f;
                break;
            }
    return n;
}

/* Family f's configurations in the rung table, ascending; *n how many.
 * Caller frees. */
static int *rung_configs(const Report *r, int f, int *n) {
    int *c = xcalloc((size_t)r->n_rungs + 1, sizeof(int));
    *n = 0;
    for (int i = 0; i < r->n_rungs; i++) {
        if (r->rungs[i].family != f) continue;
        int v = r->rungs[i].config, j = 0;
        while (j < *n && c[j] < v) j++;
        if (j < *n && c[j] == v) continue;
        memmove(c + j + 1, c + j, sizeof(int) * (size_t)(*n - j));
        c[j] = v;
        (*n)++;
    }
    return c;
}

/* Whether (f, c) has a rung row of state st. */
static int rung_has(const Report *r, int f, int c, int st) {
    for (int i = 0; i < r->n_rungs; i++)
        if (r->rungs[i].family == f && r->rungs[i].config == c && r->rungs[i].state == st) return 1;
    return 0;
}

/* The trials whose metrics took (f, c)'s rung decisions: not nested its
 * outer trials, nested its inner ones (halving.h's selection groups). */
static int rung_unit(const Report *r, const RTrial *t, int f, int c) {
    return t->done && t->hist && t->fam == f && t->config == c && (r->nested ? t->inner >= 0 : t->inner < 0);
}

/* rung_F_C.dat: epoch, mean validation loss over (f, c)'s units that ran
 * it (finite values only), how many ran it. */
static int data_rung(const Report *r, const char *out, int f, int c, ErrBuf *e) {
    char name[48];
    snprintf(name, sizeof name, "rung_%d_%d.dat", f, c);
    FILE *d = report_open_file(out, "plotdata", name, e);
    if (!d) return HIPID_ERR;
    int max_ep = 0;
    for (int i = 0; i < r->n_trials; i++)
        if (rung_unit(r, &r->trials[i], f, c) && r->trials[i].n_epochs > max_ep) max_ep = r->trials[i].n_epochs;
    fprintf(d, "# epoch mean_val_loss units (the %s trials of %s c%d that ran the epoch)\n",
            r->nested ? "inner" : "outer", r->fam[f].name, c);
    for (int ep = 0; ep < max_ep; ep++) {
        double sum = 0;
        int n = 0, ran = 0;
        for (int i = 0; i < r->n_trials; i++) {
            const RTrial *t = &r->trials[i];
            if (!rung_unit(r, t, f, c) || ep >= t->n_epochs) continue;
            ran++;
            double v = t->hist[(size_t)2 * t->n_epochs + ep]; /* row 2: val_loss */
            if (isfinite(v)) sum += v, n++;
        }
        fprintf(d, "%d %.6g %d\n", ep + 1, n ? sum / n : NAN, ran);
    }
    return report_close_file(d, out, "plotdata", name, e);
}

static int data_rungs(const Report *r, const char *out, ErrBuf *e) {
    int fams[REPORT_MAX_FAMILIES], n = rung_fams(r, fams), rc = HIPID_OK;
    for (int i = 0; i < n && rc == HIPID_OK; i++) {
        int nc = 0, *cs = rung_configs(r, fams[i], &nc);
        for (int k = 0; k < nc && rc == HIPID_OK; k++) rc = data_rung(r, out, fams[i], cs[k], e);
        free(cs);
    }
    return rc;
}

#define RUNG_GREY "#A8A8A8"
#define RUNG_LINE "#666666"

/* The rungs' epochs as dotted vertical lines, labelled above the frame. */
static void gp_rung_lines(FILE *g, const Report *r, int f) {
    int ep[64], n = 0;
    for (int i = 0; i < r->n_rungs; i++) { /* this family's rungs: (rung, epochs) pairs */
        const RungRow *w = &r->rungs[i];
        int seen = 0;
        for (int j = 0; j < n && !seen; j++) seen = ep[j] == w->epochs;
        if (w->family != f || seen || n == 64) continue;
        ep[n++] = w->epochs;
        fprintf(g, "set arrow from %d, graph 0 to %d, graph 1 nohead dt 3 lw 1.2 lc rgb \"%s\"\n", w->epochs, w->epochs,
                RUNG_LINE);
        fprintf(g, "set label \"rung %d: %d epoch%s\" at %d, graph 1 center offset 0,0.7 tc rgb \"%s\" font \",9\"\n",
                w->rung, w->epochs, w->epochs == 1 ? "" : "s", w->epochs, RUNG_LINE);
    }
}

/* Family f's panel: grey lines first (stopped solid, pruned dashed), then
 * the top-rung configurations in colour on top, each with its key entry. */
static void gp_rung_panel(FILE *g, const Report *r, int f) {
    int nc = 0, *cs = rung_configs(r, f, &nc), n_top = 0, n_grey = 0, n_pruned = 0;
    char grey[400] = "", pruned[400] = "";
    fputs("unset arrow\nunset label\nset title ", g);
    gp_strf(g, "%s: mean validation loss per epoch of each configuration (%s)", r->fam[f].name,
            r->nested ? "its inner-fold trials, every outer fold" : "its outer trials");
    fputc('\n', g);
    gp_rung_lines(g, r, f);
    fputs("plot", g);
    for (int k = 0; k < nc; k++) {
        if (rung_has(r, f, cs[k], RUNG_TOP)) continue;
        int pr = rung_has(r, f, cs[k], RUNG_PRUNED);
        char *list = pr ? pruned : grey;
        size_t l = strlen(list);
        snprintf(list + l, 400 - l, "%sc%d", l ? ", " : "", cs[k]);
        n_grey += !pr;
        n_pruned += pr;
        fprintf(g, "%s \"plotdata/rung_%d_%d.dat\" u 1:2 w linespoints pt 7 ps 0.5 lw 1.2 dt %d lc rgb \"%s\" notitle",
                n_grey + n_pruned > 1 ? ", \\\n " : "", f, cs[k], pr ? 2 : 1, RUNG_GREY);
    }
    if (n_grey) {
        fprintf(g, "%s NaN w linespoints pt 7 ps 0.5 lw 1.2 lc rgb \"%s\" title ", n_grey + n_pruned ? ", \\\n " : "", RUNG_GREY);
        gp_strf(g, "stopped below the top rung: %s", grey);
    }
    if (n_pruned) {
        fprintf(g, ", \\\n NaN w linespoints pt 7 ps 0.5 lw 1.2 dt 2 lc rgb \"%s\" title ", RUNG_GREY);
        gp_strf(g, "pruned: %s", pruned);
    }
    for (int k = 0; k < nc; k++) {
        if (!rung_has(r, f, cs[k], RUNG_TOP)) continue;
        char st[400];
        int bracket = 0;
        report_config_stage(st, sizeof st, r, f, cs[k]);
        for (int i = 0; i < r->n_rungs; i++) /* a configuration is dealt to one bracket (halving.h) */
            if (r->rungs[i].family == f && r->rungs[i].config == cs[k]) bracket = r->rungs[i].bracket;
        fprintf(g, "%s \"plotdata/rung_%d_%d.dat\" u 1:2 w linespoints pt 7 ps 0.8 lw 2.5 lc rgb \"%s\" title ",
                n_grey + n_pruned + n_top ? ", \\\n " : "", f, cs[k], palette[n_top % 6]);
        if (strcmp(r->search, "hyperband") == 0) gp_strf(g, "c%d: %s, bracket %d (entered at rung %d)", cs[k], st, bracket, bracket);
        else gp_strf(g, "c%d: %s", cs[k], st);
        n_top++;
    }
    if (n_grey + n_pruned + n_top == 0) fputs(" NaN notitle", g);
    fputc('\n', g);
    free(cs);
}

static void gp_rungs(FILE *g, const Report *r, int svg) {
    int fams[REPORT_MAX_FAMILIES], n = rung_fams(r, fams), H = REPORT_RUNG_H_PER_FAMILY * n, max_ep = 0;
    for (int i = 0; i < r->n_rungs; i++)
        if (r->rungs[i].epochs > max_ep) max_ep = r->rungs[i].epochs;
    gp_terminal(g, svg, REPORT_RUNG_W, H, "rungs");
    fprintf(g, "set multiplot title ");
    gp_strf(g, "%s: validation loss of every configuration; colour = reached the top rung%s, grey = stopped or pruned "
               "below it", report_search_title(r), r->nested ? " in some outer fold" : "");
    fprintf(g, "\nset xlabel \"epoch\"\nset ylabel \"validation loss (mean over the units)\"\n"
               "set key below Left reverse maxcols 1 samplen 3\nset tmargin 4\nset title offset 0,0.9\n");
    if (max_ep > 30) fprintf(g, "set logscale x\nset xrange [0.8:%g]\n", max_ep * 1.15);
    else fprintf(g, "set xrange [0.5:%g]\nset xtics 1\n", max_ep + 0.5);
    for (int i = 0; i < n; i++) {
        gp_cell(g, i, 0, n, 1, 0, 1 - 24.0 / H);
        gp_rung_panel(g, r, fams[i]);
    }
    gp_end(g, 1);
}

/* ---- running gnuplot ---- */

/* Run `gnuplot plots.gp` in out; its output in plotdata/gnuplot.log. */
static int run_gnuplot(const char *out, ErrBuf *e) {
    char log[1400];
    snprintf(log, sizeof log, "%s/plotdata/gnuplot.log", out);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return hipid_err(e, "cannot start gnuplot: fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (chdir(out) != 0) _exit(126);
        execlp("gnuplot", "gnuplot", "plots.gp", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return hipid_err(e, "waiting for gnuplot: %s", strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return HIPID_OK;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return hipid_err(e, "gnuplot not found: install it (Debian: apt-get install gnuplot-nox) or use --no-plots");
    /* the first line gnuplot complained with */
    char line[300] = "", buf[300];
    FILE *f = fopen(log, "r");
    while (f && fgets(buf, sizeof buf, f))
        if (strstr(buf, "rror") || strstr(buf, "line ")) {
            snprintf(line, sizeof line, "%s", buf);
            line[strcspn(line, "\n")] = 0;
            break;
        }
    if (f) fclose(f);
    return hipid_err(e, "gnuplot failed on %s/plots.gp (%s %d)%s%s; see %s", out, WIFEXITED(st) ? "exit status" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), line[0] ? ": " : "", line, log);
}

static int write_data(const Report *r, const char *out, ErrBuf *e) {
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams);
    if (data_fold_points(r, out, fams, n, e) || data_fold_means(r, out, fams, n, e)) return HIPID_ERR;
    for (int i = 0; i < n; i++)
        if (data_learning(r, out, fams[i], e) || data_confusion(r, out, fams[i], e) || data_roc(r, out, fams[i], e))
            return HIPID_ERR;
    for (int i = 0; i < post_count(r); i++)
        if (data_posterior(r, out, i, e)) return HIPID_ERR;
    if (r->staged && data_rungs(r, out, e)) return HIPID_ERR;
    return HIPID_OK;
}

int report_plots(const Report *r, const char *out, ErrBuf *e) {
    char dir[1300];
    snprintf(dir, sizeof dir, "%s/plotdata", out);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return hipid_err(e, "%s: cannot create (%s)", dir, strerror(errno));
    int fams[REPORT_MAX_FAMILIES];
    if (drawn(r, fams) == 0) return hipid_err(e, "no family has a selected trial: nothing to plot");
    if (write_data(r, out, e)) return HIPID_ERR;
    FILE *g = report_open_file(out, NULL, "plots.gp", e);
    if (!g) return HIPID_ERR;
    fprintf(g, "# plots.gp: written by hipid report; run in this folder: gnuplot plots.gp\n"
               "# Each plot twice: PNG (pngcairo) and SVG, same size in pixels.\n\n");
    for (int svg = 0; svg < 2; svg++) {
        gp_learning(g, r, svg);
        gp_folds(g, r, svg);
        gp_confusion(g, r, svg);
        gp_roc(g, r, svg);
        if (r->n_cmp > 0) gp_posterior(g, r, svg);
        if (have_cd(r)) gp_cd(g, r, svg);
        if (r->staged) gp_rungs(g, r, svg);
    }
    if (report_close_file(g, out, NULL, "plots.gp", e) != HIPID_OK) return HIPID_ERR;
    return run_gnuplot(out, e);
}

/* ---- contact sheet ---- */

#define SHEET_COLS 5

int report_sheet(const Report *r, const char *out, int n, ErrBuf *e) {
    if (r->data_note[0]) return hipid_err(e, "%s", r->data_note);
    if (n > r->n_img) n = r->n_img;
    if (n <= 0) return hipid_err(e, "no flagged image");
    ErrBuf oe = {{0}};
    hid_t f = h5_open_versioned(r->data, DATASET_FORMAT, DATASET_FORMAT_VERSION, "data set", "", &oe), dset = H5I_INVALID_HID,
          space = H5I_INVALID_HID, mem = H5I_INVALID_HID;
    if (f < 0) return hipid_err(e, "%s", oe.msg);
    int S = 0, rc = HIPID_ERR, F = r->n_fam < 3 ? r->n_fam : 3;
    uint8_t *img = NULL;
    char (*text)[IMAGE_SHEET_LINES][200] = xcalloc((size_t)n, sizeof *text);
    SheetCell *cells = xcalloc((size_t)n, sizeof *cells);
    h5_attr_read_int(f, "image_size", &S, 1);
    if (S <= 0 || (dset = H5Dopen2(f, "images", H5P_DEFAULT)) < 0 || (space = H5Dget_space(dset)) < 0) {
        hipid_err(e, "%s: no images dataset", r->data);
        goto error;
    }
    img = xmalloc((size_t)n * S * S);
    hsize_t one[3] = {1, (hsize_t)S, (hsize_t)S};
    mem = H5Screate_simple(3, one, NULL);
    for (int i = 0; i < n; i++) {
        const RImage *ri = &r->img[i];
        hsize_t start[3] = {(hsize_t)ri->index, 0, 0};
        uint8_t *px = img + (size_t)i * S * S;
        if (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, one, NULL) < 0 ||
            H5Dread(dset, H5T_NATIVE_UINT8, mem, space, H5P_DEFAULT, px) < 0) {
            hipid_err(e, "%s: cannot read image row %d (truncated?)", r->data, ri->index);
            goto error;
        }
        cells[i].px = px;
        cells[i].side = S;
        snprintf(text[i][0], sizeof text[i][0], "#%d true %s", i + 1, r->class_names[ri->label]);
        cells[i].lines[0] = text[i][0];
        for (int fa = 0; fa < F; fa++) {
            snprintf(text[i][fa + 1], sizeof text[i][0], "%s: %s %d/%d", r->fam[fa].name,
                     ri->pred[fa] >= 0 ? r->class_names[ri->pred[fa]] : "-", ri->n_wrong[fa], ri->n_tested[fa]);
            cells[i].lines[fa + 1] = text[i][fa + 1];
        }
    }
    char path[1400];
    snprintf(path, sizeof path, "%s/errors.png", out);
    rc = image_sheet_save(path, cells, n, SHEET_COLS, 96, "contact sheet", e);
error:
    free(cells);
    free(text);
    free(img);
    if (mem >= 0) H5Sclose(mem);
    if (space >= 0) H5Sclose(space);
    if (dset >= 0) H5Dclose(dset);
    H5Fclose(f);
    return rc;
}
