/* report_plot.c: the report's pictures (report.h).
 *
 * Plots: report_plots writes the data of each plot under out/plotdata/, a
 * gnuplot script out/plots.gp that draws each plot twice (pngcairo, svg), and
 * runs `gnuplot plots.gp` in out as a child process, its messages in
 * out/plotdata/gnuplot.log. Only families with a selected trial are drawn.
 * Contact sheet: report_sheet composes the flagged images (preprocessed uint8
 * rows of the data set) with libvips, labelled with image_draw_text. */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
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

static const char *colour[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

/* A gnuplot string literal: double quotes, backslash and quote escaped. */
static void gp_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void gp_class_tics(FILE *f, const char *axis, const Report *r) {
    fprintf(f, "set %s (", axis);
    for (int c = 0; c < r->K; c++) {
        if (c) fputs(", ", f);
        gp_str(f, r->class_names[c]);
        fprintf(f, " %d", c);
    }
    fprintf(f, ")\n");
}

static void gp_terminal(FILE *f, int svg, int w, int h, const char *name) {
    if (svg) fprintf(f, "set terminal svg size %d,%d fixed noenhanced font \"sans,11\" background rgb \"white\"\n", w, h);
    else fprintf(f, "set terminal pngcairo size %d,%d noenhanced font \"sans,10\"\n", w, h);
    fprintf(f, "set output \"%s.%s\"\nreset\nset datafile missing \"nan\"\nset grid\n", name, svg ? "svg" : "png");
}

/* Families drawn: those with a selected trial. */
static int drawn(const Report *r, int *fams) {
    int n = 0;
    for (int f = 0; f < r->n_fam; f++)
        if (r->fam[f].n_sel > 0) fams[n++] = f;
    return n;
}

/* ---- data files ---- */

/* lc_F.dat: epoch n, then mean and SD of train_loss, train_acc, val_loss, val_acc. */
static int data_learning(const Report *r, const char *out, int f, ErrBuf *e) {
    char name[32];
    snprintf(name, sizeof name, "lc_%d.dat", f);
    FILE *d = report_open_file(out, "plotdata", name, e);
    if (!d) return HIPID_ERR;
    const RFamily *F = &r->fam[f];
    int max_ep = 0;
    for (int u = 0; u < r->n_units; u++)
        if (F->sel[u] && F->sel[u]->n_epochs > max_ep) max_ep = F->sel[u]->n_epochs;
    double *x = xcalloc((size_t)r->n_units + 1, sizeof(double));
    fprintf(d, "# epoch n train_loss sd train_acc sd val_loss sd val_acc sd (over the selected trials that ran the epoch)\n");
    for (int ep = 0; ep < max_ep; ep++) {
        Summary s[4];
        int n = 0;
        for (int h = 0; h < 4; h++) {
            int m = 0;
            for (int u = 0; u < r->n_units; u++) {
                const RTrial *t = F->sel[u];
                if (!t || ep >= t->n_epochs) continue;
                double v = t->hist[(size_t)h * t->n_epochs + ep];
                if (isfinite(v)) x[m++] = v;
            }
            stats_summary(&s[h], x, m, 0.95);
            if (m > n) n = m;
        }
        fprintf(d, "%d %d", ep + 1, n);
        for (int h = 0; h < 4; h++) fprintf(d, " %.6g %.6g", s[h].mean, s[h].n > 1 ? s[h].sd : 0.0);
        fputc('\n', d);
    }
    free(x);
    return report_close_file(d, out, "plotdata", name, e);
}

static int data_folds(const Report *r, const char *out, ErrBuf *e) {
    FILE *d = report_open_file(out, "plotdata", "folds.dat", e);
    if (!d) return HIPID_ERR;
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams);
    fprintf(d, "# x (family slot, jittered) slot accuracy auc\n");
    for (int i = 0; i < n; i++)
        for (int u = 0, j = 0; u < r->n_units; u++) {
            const RTrial *t = r->fam[fams[i]].sel[u];
            if (!t) continue;
            fprintf(d, "%.4f %d %.6g %.6g\n", i + 0.06 * ((j++ % 7) - 3), i, t->m[M_ACC], t->m[M_AUC]);
        }
    if (report_close_file(d, out, "plotdata", "folds.dat", e)) return HIPID_ERR;
    d = report_open_file(out, "plotdata", "means.dat", e);
    if (!d) return HIPID_ERR;
    fprintf(d, "# slot accuracy lo hi auc lo hi (95%% t-interval; the mean when undefined)\n");
    for (int i = 0; i < n; i++) {
        const Summary *a = &r->fam[fams[i]].m[M_ACC], *b = &r->fam[fams[i]].m[M_AUC];
        fprintf(d, "%d %.6g %.6g %.6g %.6g %.6g %.6g\n", i, a->mean, isfinite(a->lo) ? a->lo : a->mean,
                isfinite(a->hi) ? a->hi : a->mean, b->mean, isfinite(b->lo) ? b->lo : b->mean, isfinite(b->hi) ? b->hi : b->mean);
    }
    return report_close_file(d, out, "plotdata", "means.dat", e);
}

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

/* roc_F_C.dat: the pooled ROC curve of class C (one vs rest); *auc its area
 * (binary: one curve, C = 1). Returns the pooled macro AUC. */
static int data_roc(const Report *r, const char *out, int f, double *auc, ErrBuf *e) {
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
    *auc = stats_auc(NULL, y, P, n, K);
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

/* ---- the script ---- */

static int max_epochs(const Report *r) {
    int m = 0;
    for (int i = 0; i < r->n_trials; i++)
        if (r->trials[i].done && r->trials[i].n_epochs > m) m = r->trials[i].n_epochs;
    return m;
}

static void gp_learning(FILE *g, const Report *r, int svg) {
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams);
    gp_terminal(g, svg, REPORT_LC_W, REPORT_LC_H_PER_FAMILY * n, "learning_curves");
    fprintf(g, "set multiplot layout %d,2 title \"Learning curves of the selected trials: mean over folds, band = ±1 SD\"\n"
               "set xlabel \"epoch\"\nset key top right\n%s",
            n, max_epochs(r) <= 20 ? "set xtics 1\n" : "");
    for (int i = 0; i < n; i++) {
        int f = fams[i];
        const char *nm = r->fam[f].name;
        for (int acc = 0; acc < 2; acc++) {
            int tc = acc ? 5 : 3, vc = acc ? 9 : 7;
            fprintf(g, "set title \"%s: %s (%d folds)\"\nset ylabel \"%s\"\n", nm, acc ? "accuracy" : "loss", r->fam[f].n_sel,
                    acc ? "accuracy" : "cross-entropy loss");
            fprintf(g, acc ? "set yrange [0:1]\n" : "set yrange [0:*]\n");
            fprintf(g,
                    "plot \"plotdata/lc_%d.dat\" u 1:($%d-$%d):($%d+$%d) w filledcurves fc rgb \"%s\" fs transparent solid 0.2 "
                    "noborder notitle, \\\n  \"\" u 1:%d w lines lc rgb \"%s\" lw 2 title \"train\", \\\n"
                    "  \"\" u 1:($%d-$%d):($%d+$%d) w filledcurves fc rgb \"%s\" fs transparent solid 0.2 noborder notitle, \\\n"
                    "  \"\" u 1:%d w lines lc rgb \"%s\" lw 2 title \"validation\"\n",
                    f, tc, tc + 1, tc, tc + 1, colour[0], tc, colour[0], vc, vc + 1, vc, vc + 1, colour[1], vc, colour[1]);
        }
    }
    fprintf(g, "unset multiplot\nset output\n\n");
}

static void gp_folds(FILE *g, const Report *r, int svg) {
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams);
    gp_terminal(g, svg, REPORT_FOLDS_W, REPORT_FOLDS_H, "fold_scores");
    fprintf(g, "set multiplot layout 1,2 title \"Test-fold scores of each family's selected trials\"\nset xtics (");
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", g);
        gp_str(g, r->fam[fams[i]].name);
        fprintf(g, " %d", i);
    }
    fprintf(g, ")\nset xrange [-0.6:%g]\nset xlabel \"family\"\nset key below\n", n - 0.4);
    for (int auc = 0; auc < 2; auc++)
        fprintf(g,
                "set title \"%s\"\nset ylabel \"%s\"\nset yrange [*:1]\n"
                "plot \"plotdata/folds.dat\" u 1:%d w points pt 7 ps 0.9 lc rgb \"#555555\" title \"one test fold\", \\\n"
                "  \"plotdata/means.dat\" u 1:%d:%d:%d w yerrorbars pt 5 ps 1.6 lw 2 lc rgb \"%s\" title \"mean, 95%% CI\"\n",
                auc ? "ROC AUC" : "accuracy", auc ? "ROC AUC (one-vs-rest macro for K > 2)" : "accuracy", auc ? 4 : 3,
                auc ? 5 : 2, auc ? 6 : 3, auc ? 7 : 4, colour[1]);
    fprintf(g, "unset multiplot\nset output\n\n");
}

static void gp_confusion(FILE *g, const Report *r, int svg) {
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams), K = r->K;
    gp_terminal(g, svg, REPORT_PANEL * n, REPORT_PANEL, "confusion");
    fprintf(g, "set multiplot layout 1,%d title \"Confusion matrices, summed over the outer test folds\"\nunset grid\n"
               "set xrange [-0.5:%g]\nset yrange [%g:-0.5]\nset cbrange [0:1]\nset palette defined (0 \"white\", 1 \"#4a90d9\")\n"
               "unset colorbox\nset xlabel \"predicted class\"\nset ylabel \"true class\"\nset xtics rotate by 30 right\n",
            n, K - 0.5, K - 0.5);
    gp_class_tics(g, "xtics", r);
    gp_class_tics(g, "ytics", r);
    for (int i = 0; i < n; i++) {
        long total = 0;
        for (int c = 0; c < K * K; c++) total += r->fam[fams[i]].conf[c];
        fprintf(g, "set title \"%s (%ld test predictions)\"\n", r->fam[fams[i]].name, total);
        fprintf(g, "plot \"plotdata/conf_%d.dat\" u 1:2:3 w image notitle, \"\" u 1:2:(sprintf(\"%%d\", $4)) w labels "
                   "font \",12\" notitle\n",
                fams[i]);
    }
    fprintf(g, "unset multiplot\nset output\n\n");
}

static void gp_roc(FILE *g, const Report *r, int svg, const double *auc) {
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams), K = r->K;
    gp_terminal(g, svg, REPORT_PANEL * n, REPORT_PANEL, "roc");
    fprintf(g, "set multiplot layout 1,%d title \"ROC curves, out-of-fold predictions pooled over folds and repeats\"\n"
               "set xrange [0:1]\nset yrange [0:1]\nset size ratio -1\nset xlabel \"false positive rate\"\n"
               "set ylabel \"true positive rate\"\nset key bottom right\n",
            n);
    for (int i = 0; i < n; i++) {
        int f = fams[i];
        fprintf(g, "set title \"%s: pooled AUC %.3f%s\"\nplot x w lines dt 2 lc rgb \"gray\" title \"chance\"", r->fam[f].name,
                auc[f], K > 2 ? " (one-vs-rest macro)" : "");
        for (int c = K == 2 ? 1 : 0; c < K; c++) {
            fprintf(g, ", \\\n  \"plotdata/roc_%d_%d.dat\" u 1:2 w lines lw 2 lc rgb \"%s\" title ", f, c, colour[c % 8]);
            char t[300];
            snprintf(t, sizeof t, "%s%s", r->class_names[c], K == 2 ? " positive" : " vs rest");
            gp_str(g, t);
        }
        fputc('\n', g);
    }
    fprintf(g, "unset multiplot\nset output\n\n");
}

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

int report_plots(const Report *r, const char *out, ErrBuf *e) {
    char dir[1300], path[1400];
    snprintf(dir, sizeof dir, "%s/plotdata", out);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return hipid_err(e, "%s: cannot create (%s)", dir, strerror(errno));
    int fams[REPORT_MAX_FAMILIES], n = drawn(r, fams);
    if (n == 0) return hipid_err(e, "no family has a selected trial: nothing to plot");
    double auc[REPORT_MAX_FAMILIES];
    if (data_folds(r, out, e)) return HIPID_ERR;
    for (int i = 0; i < n; i++)
        if (data_learning(r, out, fams[i], e) || data_confusion(r, out, fams[i], e) || data_roc(r, out, fams[i], &auc[fams[i]], e))
            return HIPID_ERR;
    snprintf(path, sizeof path, "%s/plots.gp", out);
    FILE *g = fopen(path, "w");
    if (!g) return hipid_err(e, "%s: cannot write (%s)", path, strerror(errno));
    fprintf(g, "# plots.gp: written by hipid report; run in this folder: gnuplot plots.gp\n"
               "# Each plot twice: PNG (pngcairo) and SVG, same size in pixels.\n\n");
    for (int svg = 0; svg < 2; svg++) {
        gp_learning(g, r, svg);
        gp_folds(g, r, svg);
        gp_confusion(g, r, svg);
        gp_roc(g, r, svg, auc);
    }
    int bad = ferror(g);
    if (fclose(g) != 0 || bad) return hipid_err(e, "%s: write failed", path);
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
