/* cmd/report.c: `hipid report RESULTS`: the report of a sweep's results
 * folder (report.h): report.md, index.html, CSV tables, plots (gnuplot) and a contact
 * sheet of the images the models get wrong (libvips), then a summary on
 * stdout for scripts. A plain process: no MPI. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>

#include "hipid/cmd/cmd.h"
#include "hipid/report/report.h"
#include "hipid/report/report_html.h"
#include "hipid/report/report_plot.h"
#include "hipid/report/report_write.h"

#define SHEET_N 24

static void report_usage(FILE *f) {
    fprintf(f, "usage: hipid report RESULTS_DIR [--format md|csv|json] [--out DIR] [--no-plots] [--rope R]\n"
               "  --format F   the summary printed on stdout: md, csv or json        [md]\n"
               "  --rope R     half-width of the Bayesian test's region of practical\n"
               "               equivalence, as a difference of scores in [0, 1)      [%g = %g point]\n"
               "  --out DIR    where the report goes                                 [RESULTS_DIR/report]\n"
               "  --no-plots   no gnuplot plots and no contact sheet\n"
               "Reads RESULTS_DIR/trials/*.h5 and RESULTS_DIR/sweep.h5 (a finished or partial sweep) and\n"
               "writes report.md, index.html (the report as one self-contained page), configs.csv, folds.csv,\n"
               "comparisons.csv, errors.csv, learning_curves,\n"
               "fold_scores, confusion and roc (.png and .svg, drawn by gnuplot) and errors.png.\n"
               "Missing, failed and unreadable trials are listed; unreadable trial files are skipped.\n"
               "Exit status: 0 ok, 1 failure (also: a trial file was skipped, or gnuplot failed; the\n"
               "report is still written), 2 usage. How to read it: docs/report.md.\n",
            REPORT_ROPE_DEFAULT, 100 * REPORT_ROPE_DEFAULT);
}

/* What became of the plots and the contact sheet, for report.md. */
typedef struct {
    int plots, sheet;      /* 1: made */
    char plot_note[600];   /* else why not */
    char sheet_note[2400];
} Extras;

/* Plots (gnuplot) and the contact sheet (libvips, started here as prog)
 * into out, recorded in x. Returns HIPID_EXIT_FAIL if the plots failed,
 * else 0: a missing contact sheet is only noted (stderr and report.md). */
static int plots_and_sheet(Extras *x, const Report *r, const char *out, const char *prog) {
    ErrBuf pe = {{0}};
    int status = 0;
    x->plots = report_plots(r, out, &pe) == HIPID_OK;
    if (!x->plots) {
        fprintf(stderr, "hipid report: %s\n", pe.msg);
        snprintf(x->plot_note, sizeof x->plot_note, "%s", pe.msg);
        status = HIPID_EXIT_FAIL;
    }
    if (r->n_img == 0) snprintf(x->sheet_note, sizeof x->sheet_note, "no flagged image.");
    else if (VIPS_INIT(prog)) {
        snprintf(x->sheet_note, sizeof x->sheet_note, "cannot start libvips: %.400s", vips_error_buffer());
    } else {
        vips_cache_set_max(0);
        ErrBuf se = {{0}};
        x->sheet = report_sheet(r, out, SHEET_N, &se) == HIPID_OK;
        if (!x->sheet) {
            snprintf(x->sheet_note, sizeof x->sheet_note, "%s", se.msg);
            fprintf(stderr, "hipid report: no contact sheet: %s\n", se.msg);
        }
        vips_shutdown();
    }
    return status;
}

/* --rope: a number in [0, 1). */
static int parse_rope(double *rope, const char *s) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0 || v >= 1) {
        fprintf(stderr, "hipid report: --rope expects a difference of scores in [0, 1) (0.01 = 1 point), found '%s'\n", s);
        return -1;
    }
    *rope = v;
    return 0;
}

int cmd_report(int argc, char **argv) {
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"out", required_argument, 0, 'o'},
                                         {"no-plots", no_argument, 0, 'n'},
                                         {"rope", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out_opt = NULL;
    int format = REPORT_MD, plots = 1, c;
    double rope = REPORT_ROPE_DEFAULT;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "md") == 0) format = REPORT_MD;
            else if (strcmp(optarg, "csv") == 0) format = REPORT_CSV;
            else if (strcmp(optarg, "json") == 0) format = REPORT_JSON;
            else {
                fprintf(stderr, "hipid report: --format expects md, csv or json, found '%s'\n", optarg);
                return HIPID_EXIT_USAGE;
            }
            break;
        case 'o': out_opt = optarg; break;
        case 'n': plots = 0; break;
        case 'r':
            if (parse_rope(&rope, optarg) != 0) return HIPID_EXIT_USAGE;
            break;
        case 'h': report_usage(stdout); return 0;
        default: fprintf(stderr, "hipid report: unknown option or missing value (see hipid report --help)\n"); return HIPID_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "hipid report: expects exactly one results folder (see hipid report --help)\n");
        return HIPID_EXIT_USAGE;
    }
    const char *dir = argv[optind];
    char out[1100];
    snprintf(out, sizeof out, "%s", out_opt ? out_opt : "");
    if (!out_opt) snprintf(out, sizeof out, "%s/report", dir);
    ErrBuf e = {{0}};
    Report r;
    if (report_load(&r, dir, stderr, &e) != HIPID_OK) {
        fprintf(stderr, "hipid report: %s\n", e.msg);
        report_free(&r);
        return HIPID_EXIT_FAIL;
    }
    int status = r.n_skipped ? HIPID_EXIT_FAIL : 0;
    r.rope = rope;
    report_analyse(&r);
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "hipid report: %s: cannot create the report folder (%s)\n", out, strerror(errno));
        report_free(&r);
        return HIPID_EXIT_FAIL;
    }
    Extras x = {0, 0, "not requested (--no-plots).", "not requested (--no-plots)."};
    if (plots && plots_and_sheet(&x, &r, out, argv[0]) != 0) status = HIPID_EXIT_FAIL;
    if (report_write_files(&r, out, x.plots, x.plot_note, x.sheet, x.sheet_note, &e) != HIPID_OK ||
        report_write_html(&r, out, x.plots, x.plot_note, x.sheet, x.sheet_note, &e) != HIPID_OK) {
        fprintf(stderr, "hipid report: %s\n", e.msg);
        report_free(&r);
        return HIPID_EXIT_FAIL;
    }
    report_write_summary(stdout, &r, format);
    if (format == REPORT_MD) printf("\nreport: %s/report.md\npage:   %s/index.html\n", out, out);
    report_free(&r);
    return status;
}
