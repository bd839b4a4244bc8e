/* report_write.c: report.md, the CSV tables and the stdout summary of an
 * analysed Report (report.h). See report_write.h. Only formatting: every number comes from
 * report.c. CSV: comma-separated, fields with commas or quotes quoted, NaN
 * written "nan"; JSON: NaN written null. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "hipid/report/report_write.h"

static const char *metric_title[M_COUNT] = {"accuracy", "balanced accuracy", "macro-F1", "ROC AUC", "log loss"};

/* ---- small formatters ---- */

static void csv_str(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, ",%.10g", v);
    else fprintf(f, ",nan");
}

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}

/* Markdown table cells must not contain '|'. */
static void md_cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else fputc(*s, f);
    }
}

/* "0.833 ± 0.059 [0.772, 0.894]" (mean, SD, 95% t interval). */
static void md_summary(FILE *f, const Summary *s) {
    if (s->n == 0) fprintf(f, "n/a");
    else if (s->n == 1 || !isfinite(s->lo)) fprintf(f, "%.3f", s->mean);
    else fprintf(f, "%.3f ± %.3f [%.3f, %.3f]", s->mean, s->sd, s->lo, s->hi);
}

static const char *design_name(const Report *r) { return r->nested ? "nested" : "not nested"; }

static void selection_text(char *buf, size_t cap, const Report *r) {
    if (r->nested)
        snprintf(buf, cap,
                 "Nested cross-validation: for each outer fold (repeat, seed) and family, the configuration with the "
                 "highest mean inner-fold test accuracy was selected (ties: the lower mean inner log loss, then the "
                 "lower configuration number); the family's estimate is that configuration's outer-fold result, "
                 "which played no part in the choice, so the estimate is unbiased.");
    else
        snprintf(buf, cap,
                 "Not nested: per family, the configuration with the lowest mean validation loss (the early-stopping "
                 "carve inside each training set; ties: the lower configuration number) was selected and its test "
                 "folds are reported. The test folds played no part in the choice, but the configurations were "
                 "compared on data drawn from the same training sets, so with non-nested selection the test estimate "
                 "of the best-by-validation configuration is only mildly optimistic.");
}

/* ---- the summary (report.md's first section and stdout) ---- */

static const RConfig *chosen_config(const Report *r, int f) {
    for (int i = 0; i < r->n_configs; i++)
        if (r->configs[i].fam == f && r->configs[i].config == r->fam[f].chosen) return &r->configs[i];
    return NULL;
}

/* "0.492 (Depuy) | no, p = 0.71" cells of the summary table */
static void md_base(FILE *f, const Report *r, const RFamily *F) {
    char p[32];
    if (F->learned < 0) {
        fprintf(f, "n/a | n/a");
        return;
    }
    report_fmt_p(p, sizeof p, F->base_p);
    fprintf(f, "%.3f (", F->base_rate);
    md_cell(f, r->class_names ? r->class_names[F->base_class] : "?");
    fprintf(f, ") | %s, %s", F->learned ? "yes" : "**no**", p);
}

/* The leakage check: test images with a near-duplicate or a leakage-group
 * mate among the rows their model was fitted on (first pass). */
static void md_leaks(FILE *f, const Report *r) {
    long worst = 0, dup_only = 0;
    int any = 0;
    for (int fa = 0; fa < r->n_fam; fa++) {
        const RFamily *F = &r->fam[fa];
        any |= F->leak_group >= 0 && F->base_n > 0;
        worst = F->leak_group > worst ? F->leak_group : worst;
        dup_only = F->leak_dup > dup_only ? F->leak_dup : dup_only;
    }
    if (!any) return;
    fprintf(f, "%s (first pass, each image tested once):", worst ? "**Warning: leakage.**" : "**Leakage check**");
    for (int fa = 0; fa < r->n_fam; fa++) {
        const RFamily *F = &r->fam[fa];
        if (F->leak_group < 0 || F->base_n == 0) continue;
        fprintf(f, "%s %s: %ld of %ld test images share a leakage group (patient or near-duplicate) with an image "
                   "their model was fitted on",
                fa ? ";" : "", F->name, F->leak_group, F->base_n);
        if (F->leak_dup >= 0) fprintf(f, ", %ld have a near-duplicate (same radiograph) there", F->leak_dup);
    }
    fprintf(f, ".%s\n\n", worst ? " Their accuracy is optimistic: the splits did not keep groups together (`[cv] "
                                   "groups = no`?)."
                        : dup_only ? " The copies on both sides are label conflicts (one film under two labels, kept "
                                     "apart by label; `hipid audit` lists them)." : "");
}

static void summary_md(FILE *f, const Report *r, int level) {
    char sel[1024];
    selection_text(sel, sizeof sel, r);
    fprintf(f, "%s Summary\n\n", level == 1 ? "#" : "##");
    fprintf(f, "Results: `%s`%s%s. Design: %s. %d of %d planned trials done (%d failed, %d missing, %d unreadable).\n\n",
            r->dir, r->job[0] ? ", job " : "", r->job, design_name(r), r->n_done,
            r->have_index ? r->n_planned : r->n_done + r->n_failed, r->n_failed, r->n_missing, r->n_skipped);
    fprintf(f, "| family | selected configuration | test folds | accuracy | majority class | beats it? | ROC AUC | macro-F1 |\n"
               "|---|---|---|---|---|---|---|---|\n");
    for (int fa = 0; fa < r->n_fam; fa++) {
        const RFamily *F = &r->fam[fa];
        fprintf(f, "| %s | ", F->name);
        if (r->nested) fprintf(f, "per outer fold (see Selection)");
        else if (F->chosen >= 0) {
            fprintf(f, "c%d: ", F->chosen);
            md_cell(f, chosen_config(r, fa)->hparams);
        } else fprintf(f, "none (no finished trial)");
        fprintf(f, " | %d | ", F->n_sel);
        md_summary(f, &F->m[M_ACC]);
        fprintf(f, " | ");
        md_base(f, r, F);
        fprintf(f, " | ");
        md_summary(f, &F->m[M_AUC]);
        fprintf(f, " | ");
        md_summary(f, &F->m[M_F1]);
        fprintf(f, " |\n");
    }
    fprintf(f, "\nCells: mean ± SD over the test folds [95%% t-interval of the mean]. Majority class: the accuracy of "
               "always answering the most frequent class; beats it?: exact one-sided binomial test of the correct "
               "answers of one pass over the data (each image tested once).\n\n");
    for (int fa = 0; fa < r->n_fam; fa++) {
        char s[700];
        report_base_sentence(s, sizeof s, r, fa);
        if (s[0]) fprintf(f, "**Warning:** %s.\n\n", s);
    }
    md_leaks(f, r);
    for (int i = 0; i < r->n_cmp; i++) fprintf(f, "**Verdict%s:** %s.\n\n", i == 0 ? "" : " (further pair)", r->cmp[i].verdict);
}

static void summary_csv(FILE *f, const Report *r) {
    fprintf(f, "kind,name,configuration,folds,accuracy,accuracy_lo,accuracy_hi,auc,auc_lo,auc_hi,p,text\n");
    for (int fa = 0; fa < r->n_fam; fa++) {
        const RFamily *F = &r->fam[fa];
        fprintf(f, "family,");
        csv_str(f, F->name);
        fprintf(f, ",%d,%d", r->nested ? -1 : F->chosen, F->n_sel);
        csv_num(f, F->m[M_ACC].mean);
        csv_num(f, F->m[M_ACC].lo);
        csv_num(f, F->m[M_ACC].hi);
        csv_num(f, F->m[M_AUC].mean);
        csv_num(f, F->m[M_AUC].lo);
        csv_num(f, F->m[M_AUC].hi);
        fprintf(f, ",nan,");
        csv_str(f, r->nested ? "nested: selected per outer fold" : F->chosen >= 0 ? chosen_config(r, fa)->hparams : "");
        fputc('\n', f);
    }
    for (int i = 0; i < r->n_cmp; i++) {
        const RCompare *c = &r->cmp[i];
        char name[80];
        snprintf(name, sizeof name, "%s-%s", r->fam[c->a].name, r->fam[c->b].name);
        fprintf(f, "comparison,");
        csv_str(f, name);
        fprintf(f, ",-1,%d", c->n_pairs);
        csv_num(f, c->acc.estimate);
        csv_num(f, c->acc.lo);
        csv_num(f, c->acc.hi);
        csv_num(f, c->auc.estimate);
        csv_num(f, c->auc.lo);
        csv_num(f, c->auc.hi);
        csv_num(f, c->acc.p);
        fputc(',', f);
        csv_str(f, c->verdict);
        fputc('\n', f);
    }
}

static void json_summary_obj(FILE *f, const Summary *s) {
    fprintf(f, "{\"n\": %d, \"mean\": ", s->n);
    json_num(f, s->mean);
    fprintf(f, ", \"sd\": ");
    json_num(f, s->sd);
    fprintf(f, ", \"lo\": ");
    json_num(f, s->lo);
    fprintf(f, ", \"hi\": ");
    json_num(f, s->hi);
    fputc('}', f);
}

static void json_ttest(FILE *f, const TTest *t) {
    fprintf(f, "{\"estimate\": ");
    json_num(f, t->estimate);
    fprintf(f, ", \"lo\": ");
    json_num(f, t->lo);
    fprintf(f, ", \"hi\": ");
    json_num(f, t->hi);
    fprintf(f, ", \"t\": ");
    json_num(f, t->t);
    fprintf(f, ", \"df\": ");
    json_num(f, t->df);
    fprintf(f, ", \"p\": ");
    json_num(f, t->p);
    fputc('}', f);
}

static void summary_json(FILE *f, const Report *r) {
    char sel[1024];
    selection_text(sel, sizeof sel, r);
    fprintf(f, "{\n  \"results\": ");
    json_write_string(f, r->dir);
    fprintf(f, ",\n  \"job\": ");
    json_write_string(f, r->job);
    fprintf(f, ",\n  \"design\": ");
    json_write_string(f, design_name(r));
    fprintf(f, ",\n  \"selection\": ");
    json_write_string(f, sel);
    fprintf(f, ",\n  \"trials\": {\"planned\": %d, \"done\": %d, \"failed\": %d, \"missing\": %d, \"unreadable\": %d},\n",
            r->have_index ? r->n_planned : r->n_done + r->n_failed, r->n_done, r->n_failed, r->n_missing, r->n_skipped);
    fprintf(f, "  \"families\": [");
    for (int fa = 0; fa < r->n_fam; fa++) {
        const RFamily *F = &r->fam[fa];
        fprintf(f, "%s\n    {\"name\": ", fa ? "," : "");
        json_write_string(f, F->name);
        fprintf(f, ", \"configuration\": ");
        if (r->nested || F->chosen < 0) fprintf(f, "null, \"hparams\": null");
        else {
            fprintf(f, "%d, \"hparams\": ", F->chosen);
            json_write_string(f, chosen_config(r, fa)->hparams);
        }
        fprintf(f, ", \"folds\": %d", F->n_sel);
        for (int m = 0; m < M_COUNT; m++) {
            fprintf(f, ", \"%s\": ", report_metric_names[m]);
            json_summary_obj(f, &F->m[m]);
        }
        if (F->learned >= 0) {
            fprintf(f, ", \"majority\": {\"class\": ");
            json_write_string(f, r->class_names ? r->class_names[F->base_class] : "?");
            fprintf(f, ", \"rate\": %.17g, \"n\": %ld, \"correct\": %ld, \"p\": %.17g, \"learned\": %s}", F->base_rate,
                    F->base_n, F->base_correct, F->base_p, F->learned ? "true" : "false");
        } else fprintf(f, ", \"majority\": null");
        fprintf(f, ", \"stuck_trials\": %d", F->n_stuck);
        if (F->leak_group >= 0) fprintf(f, ", \"leaks\": {\"tested\": %ld, \"group\": %ld, \"duplicate\": ", F->base_n, F->leak_group);
        if (F->leak_group >= 0 && F->leak_dup >= 0) fprintf(f, "%ld}", F->leak_dup);
        else if (F->leak_group >= 0) fprintf(f, "null}");
        fputc('}', f);
    }
    fprintf(f, "\n  ],\n  \"comparisons\": [");
    for (int i = 0; i < r->n_cmp; i++) {
        const RCompare *c = &r->cmp[i];
        fprintf(f, "%s\n    {\"a\": ", i ? "," : "");
        json_write_string(f, r->fam[c->a].name);
        fprintf(f, ", \"b\": ");
        json_write_string(f, r->fam[c->b].name);
        fprintf(f, ", \"pairs\": %d, \"ratio\": ", c->n_pairs);
        json_num(f, c->ratio);
        fprintf(f, ",\n     \"accuracy_difference\": ");
        json_ttest(f, &c->acc);
        fprintf(f, ",\n     \"auc_difference\": ");
        json_ttest(f, &c->auc);
        fprintf(f, ",\n     \"mcnemar\": {\"b\": %ld, \"c\": %ld, \"exact\": %s, \"statistic\": ", c->mcnemar.b,
                c->mcnemar.c, c->mcnemar.exact ? "true" : "false");
        json_num(f, c->mcnemar.statistic);
        fprintf(f, ", \"p\": ");
        json_num(f, c->mcnemar.p);
        fprintf(f, "},\n     \"verdict\": ");
        json_write_string(f, c->verdict);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
}

void report_write_summary(FILE *f, const Report *r, int format) {
    if (format == REPORT_JSON) summary_json(f, r);
    else if (format == REPORT_CSV) summary_csv(f, r);
    else summary_md(f, r, 1);
}

/* ---- CSV tables ---- */

static void metric_header(FILE *f) {
    for (int m = 0; m < M_COUNT; m++)
        fprintf(f, ",%s_mean,%s_sd,%s_lo,%s_hi", report_metric_names[m], report_metric_names[m], report_metric_names[m],
                report_metric_names[m]);
}

static void metric_summaries(FILE *f, const Summary *s, int n) {
    for (int m = 0; m < n; m++) {
        csv_num(f, s[m].mean);
        csv_num(f, s[m].sd);
        csv_num(f, s[m].lo);
        csv_num(f, s[m].hi);
    }
}

static int write_configs_csv(const Report *r, const char *out, ErrBuf *e) {
    FILE *f = report_open_file(out, NULL, "configs.csv", e);
    if (!f) return HIPID_ERR;
    fprintf(f, "family,config,n_trials,n_failed,n_selected,val_loss");
    metric_header(f);
    for (int c = 0; c < r->K; c++) fprintf(f, ",sens_%d_mean,sens_%d_sd,sens_%d_lo,sens_%d_hi", c, c, c, c);
    for (int c = 0; c < r->K; c++) fprintf(f, ",spec_%d_mean,spec_%d_sd,spec_%d_lo,spec_%d_hi", c, c, c, c);
    fprintf(f, ",hparams\n");
    for (int i = 0; i < r->n_configs; i++) {
        const RConfig *c = &r->configs[i];
        csv_str(f, r->fam[c->fam].name);
        fprintf(f, ",%d,%d,%d,%d", c->config, c->n_done, c->n_failed, c->n_selected);
        csv_num(f, c->val_loss);
        metric_summaries(f, c->m, M_COUNT);
        metric_summaries(f, c->sens, r->K);
        metric_summaries(f, c->spec, r->K);
        fputc(',', f);
        csv_str(f, c->hparams);
        fputc('\n', f);
    }
    return report_close_file(f, out, NULL, "configs.csv", e);
}

static int is_selected(const Report *r, const RTrial *t) {
    for (int u = 0; u < r->n_units; u++)
        if (r->fam[t->fam].sel[u] == t) return 1;
    return 0;
}

static int write_folds_csv(const Report *r, const char *out, ErrBuf *e) {
    FILE *f = report_open_file(out, NULL, "folds.csv", e);
    if (!f) return HIPID_ERR;
    fprintf(f, "family,config,repeat,outer,seed,selected,n_train,n_val,n_test,val_loss");
    for (int m = 0; m < M_COUNT; m++) fprintf(f, ",%s", report_metric_names[m]);
    for (int c = 0; c < r->K; c++) fprintf(f, ",sens_%d", c);
    for (int c = 0; c < r->K; c++) fprintf(f, ",spec_%d", c);
    fprintf(f, ",file\n");
    for (int i = 0; i < r->n_trials; i++) {
        const RTrial *t = &r->trials[i];
        if (!t->done || t->inner >= 0) continue;
        csv_str(f, r->fam[t->fam].name);
        fprintf(f, ",%d,%d,%d,%d,%d,%d,%d,%d", t->config, t->repeat, t->outer, t->seed, is_selected(r, t), t->n_train,
                t->n_val, t->n_test);
        csv_num(f, t->val_loss);
        for (int m = 0; m < M_COUNT; m++) csv_num(f, t->m[m]);
        for (int c = 0; c < r->K; c++) csv_num(f, t->sens[c]);
        for (int c = 0; c < r->K; c++) csv_num(f, t->spec[c]);
        fputc(',', f);
        const char *base = strrchr(t->path, '/');
        csv_str(f, base ? base + 1 : t->path);
        fputc('\n', f);
    }
    return report_close_file(f, out, NULL, "folds.csv", e);
}

static void cmp_row(FILE *f, const Report *r, const RCompare *c, const char *test, const char *scope, double est, double lo,
                    double hi, double stat, double df, double p, long b, long cc, int n) {
    csv_str(f, r->fam[c->a].name);
    fputc(',', f);
    csv_str(f, r->fam[c->b].name);
    fprintf(f, ",%s,%s", test, scope);
    csv_num(f, est);
    csv_num(f, lo);
    csv_num(f, hi);
    csv_num(f, stat);
    csv_num(f, df);
    csv_num(f, p);
    fprintf(f, ",%ld,%ld,%d\n", b, cc, n);
}

static int write_comparisons_csv(const Report *r, const char *out, ErrBuf *e) {
    FILE *f = report_open_file(out, NULL, "comparisons.csv", e);
    if (!f) return HIPID_ERR;
    fprintf(f, "a,b,test,scope,estimate,lo,hi,statistic,df,p,b_count,c_count,n\n");
    for (int i = 0; i < r->n_cmp; i++) {
        const RCompare *c = &r->cmp[i];
        cmp_row(f, r, c, "corrected_t", "accuracy", c->acc.estimate, c->acc.lo, c->acc.hi, c->acc.t, c->acc.df, c->acc.p, -1,
                -1, c->n_pairs);
        cmp_row(f, r, c, "corrected_t", "auc", c->auc.estimate, c->auc.lo, c->auc.hi, c->auc.t, c->auc.df, c->auc.p, -1, -1,
                c->n_pairs);
        long n_img = 0;
        for (int g = 0; g < c->n_groups; g++) n_img += c->groups[g].n;
        cmp_row(f, r, c, c->mcnemar.exact ? "mcnemar_exact" : "mcnemar_chi2", "pooled", NAN, NAN, NAN,
                c->mcnemar.statistic, NAN, c->mcnemar.p, c->mcnemar.b, c->mcnemar.c, (int)n_img);
        for (int g = 0; g < c->n_groups; g++) {
            const RGroup *G = &c->groups[g];
            char scope[64];
            snprintf(scope, sizeof scope, "repeat %d seed %d", G->repeat, G->seed);
            cmp_row(f, r, c, G->mcnemar.exact ? "mcnemar_exact" : "mcnemar_chi2", scope, NAN, NAN, NAN,
                    G->mcnemar.statistic, NAN, G->mcnemar.p, G->mcnemar.b, G->mcnemar.c, G->n);
            if (G->have_delong)
                cmp_row(f, r, c, "delong", scope, G->delong.d.estimate, G->delong.d.lo, G->delong.d.hi, G->delong.d.t,
                        G->delong.d.df, G->delong.d.p, -1, -1, G->n);
        }
        if (c->have_5x2) {
            cmp_row(f, r, c, "5x2cv", "accuracy", c->acc_5x2.estimate, c->acc_5x2.lo, c->acc_5x2.hi, c->acc_5x2.t,
                    c->acc_5x2.df, c->acc_5x2.p, -1, -1, 10);
            cmp_row(f, r, c, "5x2cv", "auc", c->auc_5x2.estimate, c->auc_5x2.lo, c->auc_5x2.hi, c->auc_5x2.t,
                    c->auc_5x2.df, c->auc_5x2.p, -1, -1, 10);
        }
    }
    return report_close_file(f, out, NULL, "comparisons.csv", e);
}

static const char *img_path(const Report *r, int index) {
    return r->source_paths && index < r->n_source ? r->source_paths[index] : "";
}

static const char *class_name(const Report *r, int c) { return c >= 0 && c < r->K ? r->class_names[c] : "-"; }

static int write_errors_csv(const Report *r, const char *out, ErrBuf *e) {
    FILE *f = report_open_file(out, NULL, "errors.csv", e);
    if (!f) return HIPID_ERR;
    fprintf(f, "rank,index,source_path,true");
    for (int fa = 0; fa < r->n_fam; fa++) fprintf(f, ",%s_pred,%s_wrong,%s_tested", r->fam[fa].name, r->fam[fa].name, r->fam[fa].name);
    fprintf(f, ",both_tested,disagree\n");
    for (int i = 0; i < r->n_img; i++) {
        const RImage *im = &r->img[i];
        fprintf(f, "%d,%d,", i + 1, im->index);
        csv_str(f, img_path(r, im->index));
        fputc(',', f);
        csv_str(f, class_name(r, im->label));
        for (int fa = 0; fa < r->n_fam; fa++) {
            fputc(',', f);
            csv_str(f, class_name(r, im->pred[fa]));
            fprintf(f, ",%d,%d", im->n_wrong[fa], im->n_tested[fa]);
        }
        fprintf(f, ",%d,%d\n", im->n_both, im->n_disagree);
    }
    return report_close_file(f, out, NULL, "errors.csv", e);
}

/* ---- report.md ---- */

static void md_trials(FILE *f, const Report *r) {
    fprintf(f, "## Trials\n\n");
    if (r->have_index)
        fprintf(f, "The sweep index plans %d trials (%d outer, %d inner). Trial files read: %d done, %d failed; %d missing, "
                   "%d unreadable.\n\n",
                r->n_planned, r->n_outer_planned, r->n_planned - r->n_outer_planned, r->n_done, r->n_failed, r->n_missing,
                r->n_skipped);
    else
        fprintf(f, "No sweep index: trial files read: %d done, %d failed, %d unreadable.\n\n", r->n_done, r->n_failed,
                r->n_skipped);
    if (r->n_missing || r->n_failed || r->n_skipped)
        fprintf(f, "**The sweep is incomplete**: the tables below use the finished trials only. Rerun `hipid sweep` on "
                   "the same job file to finish it.\n\n");
    for (int i = 0; i < r->n_lines && i < 50; i++) fprintf(f, "- %s\n", r->lines[i]);
    if (r->n_lines > 50) fprintf(f, "- ... and %d more\n", r->n_lines - 50);
    if (r->n_lines) fputc('\n', f);
    for (int i = 0; i < r->n_notes; i++) fprintf(f, "Note: %s\n\n", r->notes[i]);
}

static void md_configs(FILE *f, const Report *r) {
    fprintf(f, "## Configurations\n\nOuter test folds only (every configuration, not just the selected ones; "
               "`configs.csv` has every column, `folds.csv` every fold). Cells: mean ± SD [95%% t-interval].\n\n");
    fprintf(f, "| family | config | trials | failed | val loss");
    for (int m = 0; m < M_COUNT; m++) fprintf(f, " | %s", metric_title[m]);
    fprintf(f, " | hyperparameters |\n|---|---|---|---|---");
    for (int m = 0; m < M_COUNT + 1; m++) fprintf(f, "|---");
    fprintf(f, "|\n");
    for (int i = 0; i < r->n_configs; i++) {
        const RConfig *c = &r->configs[i];
        fprintf(f, "| %s | c%d%s | %d | %d | %.4f", r->fam[c->fam].name, c->config,
                !r->nested && r->fam[c->fam].chosen == c->config ? " (selected)" : "", c->n_done, c->n_failed, c->val_loss);
        for (int m = 0; m < M_COUNT; m++) {
            fprintf(f, " | ");
            md_summary(f, &c->m[m]);
        }
        fprintf(f, " | ");
        md_cell(f, c->hparams);
        fprintf(f, " |\n");
    }
    fprintf(f, "\n### Per-class sensitivity and specificity\n\nOne-vs-rest, mean ± SD over the outer test folds.\n\n"
               "| family | config | class | sensitivity | specificity |\n|---|---|---|---|---|\n");
    for (int i = 0; i < r->n_configs; i++) {
        const RConfig *c = &r->configs[i];
        for (int k = 0; k < r->K; k++) {
            fprintf(f, "| %s | c%d | ", r->fam[c->fam].name, c->config);
            md_cell(f, r->class_names[k]);
            fprintf(f, " | ");
            md_summary(f, &c->sens[k]);
            fprintf(f, " | ");
            md_summary(f, &c->spec[k]);
            fprintf(f, " |\n");
        }
    }
    fputc('\n', f);
}

static void md_selection(FILE *f, const Report *r) {
    char sel[1024];
    selection_text(sel, sizeof sel, r);
    fprintf(f, "## Selection\n\n%s\n\n", sel);
    if (r->nested) {
        fprintf(f, "How often each configuration was selected (outer folds):\n\n| family | config | selected | hyperparameters |\n|---|---|---|---|\n");
        for (int i = 0; i < r->n_configs; i++) {
            const RConfig *c = &r->configs[i];
            fprintf(f, "| %s | c%d | %d | ", r->fam[c->fam].name, c->config, c->n_selected);
            md_cell(f, c->hparams);
            fprintf(f, " |\n");
        }
        fputc('\n', f);
    }
    fprintf(f, "Estimate of each family (its selected trials' outer test folds):\n\n| family | folds");
    for (int m = 0; m < M_COUNT; m++) fprintf(f, " | %s", metric_title[m]);
    fprintf(f, " |\n|---|---");
    for (int m = 0; m < M_COUNT; m++) fprintf(f, "|---");
    fprintf(f, "|\n");
    for (int fa = 0; fa < r->n_fam; fa++) {
        fprintf(f, "| %s | %d", r->fam[fa].name, r->fam[fa].n_sel);
        for (int m = 0; m < M_COUNT; m++) {
            fprintf(f, " | ");
            md_summary(f, &r->fam[fa].m[m]);
        }
        fprintf(f, " |\n");
    }
    fputc('\n', f);
}

static void md_ttest(FILE *f, const char *what, const TTest *t, double scale, const char *unit) {
    char p[32];
    report_fmt_p(p, sizeof p, t->p);
    fprintf(f, "| %s | %+.2f%s | %.2f to %.2f | %.2f | %.0f | %s |\n", what, scale * t->estimate, unit, scale * t->lo,
            scale * t->hi, t->t, t->df, p);
}

static void md_compare(FILE *f, const Report *r) {
    fprintf(f, "## Comparison\n\n");
    if (r->n_cmp == 0) {
        fprintf(f, "Only one family: nothing to compare.\n\n");
        return;
    }
    if (r->n_fam > 2)
        fprintf(f, "%d families: every pair is compared below; the summary's first verdict is the first pair's (job order). "
                   "No correction for multiple comparisons is applied.\n\n",
                r->n_fam);
    for (int i = 0; i < r->n_cmp; i++) {
        const RCompare *c = &r->cmp[i];
        const char *A = r->fam[c->a].name, *B = r->fam[c->b].name;
        char p[32];
        fprintf(f, "### %s vs %s\n\n**%s.**\n\n", A, B, c->verdict);
        fprintf(f, "Each family's selected trial on the same %d test folds (repeat, fold, seed); differences are %s - %s. "
                   "Corrected resampled t-test (Nadeau & Bengio) with n_test/n_train = %.4f (test fold over the data the "
                   "model was fitted on, validation carve included).\n\n",
                c->n_pairs, A, B, c->ratio);
        fprintf(f, "| test | difference | 95%% CI | statistic | df | p |\n|---|---|---|---|---|---|\n");
        md_ttest(f, "accuracy, corrected t (points)", &c->acc, 100, "");
        md_ttest(f, "ROC AUC, corrected t", &c->auc, 1, "");
        if (c->have_5x2) {
            md_ttest(f, "accuracy, 5x2cv t (points; estimate = first fold)", &c->acc_5x2, 100, "");
            md_ttest(f, "ROC AUC, 5x2cv t (estimate = first fold)", &c->auc_5x2, 1, "");
        }
        report_fmt_p(p, sizeof p, c->mcnemar.p);
        fprintf(f, "\nMcNemar on the pooled out-of-fold predictions (each test image once per repeat and seed): %s right "
                   "where %s is wrong b = %ld, the reverse c = %ld, %s %.3f, %s.%s\n\n",
                A, B, c->mcnemar.b, c->mcnemar.c, c->mcnemar.exact ? "exact binomial test, min(b,c) =" : "chi-square (continuity corrected) =",
                c->mcnemar.statistic, p,
                c->n_groups > 1 ? " Pooled over repeats the images recur, which the test takes as independent: read this "
                                  "p as optimistic and prefer the per-repeat rows."
                                : "");
        fprintf(f, "| repeat | seed | images | McNemar b | c | p | DeLong AUC %s | AUC %s | difference (95%% CI) | p |\n"
                   "|---|---|---|---|---|---|---|---|---|---|\n",
                A, B);
        for (int g = 0; g < c->n_groups; g++) {
            const RGroup *G = &c->groups[g];
            char pm[32], pd[32];
            report_fmt_p(pm, sizeof pm, G->mcnemar.p);
            fprintf(f, "| %d | %d | %d | %ld | %ld | %s | ", G->repeat, G->seed, G->n, G->mcnemar.b, G->mcnemar.c, pm);
            if (G->have_delong) {
                report_fmt_p(pd, sizeof pd, G->delong.d.p);
                fprintf(f, "%.3f | %.3f | %+.3f (%.3f to %.3f) | %s |\n", G->delong.auc_a, G->delong.auc_b, G->delong.d.estimate,
                        G->delong.d.lo, G->delong.d.hi, pd);
            } else {
                fprintf(f, "- | - | - | - |\n");
            }
        }
        fprintf(f, "\n%s\n\n",
                r->K == 2 ? "DeLong: per repeat and seed, on the out-of-fold P(class 1) pooled over that repeat's folds "
                            "(each image once; the folds' models are taken as one scorer)."
                          : "DeLong's test is for two classes; with more, compare AUCs with the corrected t-test above.");
        if (!c->have_5x2)
            fprintf(f, "Dietterich's 5x2cv test applies to 5 repeats of 2-fold CV with one seed; this design is not that.\n\n");
    }
}

static void md_plots(FILE *f, int plots, const char *note) {
    fprintf(f, "## Plots\n\n");
    if (!plots) {
        fprintf(f, "No plots: %s\n\n", note && note[0] ? note : "not requested (--no-plots).");
        return;
    }
    fprintf(f, "Each as PNG and SVG; the data and gnuplot script are in `plotdata/` and `plots.gp` "
               "(rerun with `gnuplot plots.gp` in this folder).\n\n"
               "- Learning curves of the selected trials: mean over the folds with a band of ±1 SD (epochs that "
               "fewer folds reached, after early stopping, average fewer folds).\n\n![learning curves](learning_curves.png)\n\n"
               "- Test-fold scores per family: one point per fold, the mean with its 95%% t-interval.\n\n![fold scores](fold_scores.png)\n\n"
               "- Confusion matrices summed over the outer test folds (colour: share of the true class).\n\n![confusion](confusion.png)\n\n"
               "- ROC curves of the out-of-fold predictions pooled over folds and repeats (binary: class 1 positive; "
               "more classes: one-vs-rest per class).\n\n![ROC](roc.png)\n\n");
}

static void md_errors(FILE *f, const Report *r, int sheet, const char *sheet_note) {
    fprintf(f, "## Error analysis\n\n");
    fprintf(f, "Test images that the first two families' selected trials classify differently in some fold, or that a "
               "family gets wrong in more than half of the repeats and seeds that test them: %d image(s), all in "
               "`errors.csv`; the first 20 here, worst first (sum over families of the share of wrong tests).\n\n",
            r->n_img);
    if (r->n_img == 0) return;
    if (sheet) fprintf(f, "![errors](errors.png)\n\nThe contact sheet shows the first 24 images, numbered as in the first column; under each: the true class, then per family the most frequent prediction and wrong/tested.\n\n");
    else fprintf(f, "No contact sheet: %s\n\n", sheet_note && sheet_note[0] ? sheet_note : "not requested.");
    fprintf(f, "| # | row | source path | true");
    for (int fa = 0; fa < r->n_fam; fa++) fprintf(f, " | %s (wrong/tested)", r->fam[fa].name);
    fprintf(f, " | disagree |\n|---|---|---|---");
    for (int fa = 0; fa < r->n_fam + 1; fa++) fprintf(f, "|---");
    fprintf(f, "|\n");
    for (int i = 0; i < r->n_img && i < 20; i++) {
        const RImage *im = &r->img[i];
        fprintf(f, "| %d | %d | ", i + 1, im->index);
        md_cell(f, img_path(r, im->index)[0] ? img_path(r, im->index) : "?");
        fprintf(f, " | ");
        md_cell(f, class_name(r, im->label));
        for (int fa = 0; fa < r->n_fam; fa++) {
            fprintf(f, " | ");
            md_cell(f, class_name(r, im->pred[fa]));
            fprintf(f, " (%d/%d)", im->n_wrong[fa], im->n_tested[fa]);
        }
        fprintf(f, " | %d/%d |\n", im->n_disagree, im->n_both);
    }
    fputc('\n', f);
    if (r->data_note[0]) fprintf(f, "Source paths unavailable: %s\n\n", r->data_note);
}

int report_write_files(const Report *r, const char *out, int plots, const char *plot_note, int sheet,
                       const char *sheet_note, ErrBuf *e) {
    if (write_configs_csv(r, out, e) || write_folds_csv(r, out, e) || write_comparisons_csv(r, out, e) ||
        write_errors_csv(r, out, e))
        return HIPID_ERR;
    FILE *f = report_open_file(out, NULL, "report.md", e);
    if (!f) return HIPID_ERR;
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime(&now));
    fprintf(f, "# Report: %s\n\nMade by `hipid report` on %s from `%s`%s%s%s. Data set: `%s`. %d classes:",
            r->job[0] ? r->job : r->dir, when, r->dir, r->job_file[0] ? " (job file `" : "", r->job_file,
            r->job_file[0] ? "`)" : "", r->data, r->K);
    for (int c = 0; c < r->K; c++) fprintf(f, "%s %s", c ? "," : "", r->class_names[c]);
    fprintf(f, ". Metrics are recomputed from each trial's stored test predictions.\n\n");
    summary_md(f, r, 2);
    md_trials(f, r);
    md_selection(f, r);
    md_configs(f, r);
    md_compare(f, r);
    md_plots(f, plots, plot_note);
    md_errors(f, r, sheet, sheet_note);
    fprintf(f, "## Files\n\n- `report.md`: this report\n- `configs.csv`: one row per family and configuration\n"
               "- `folds.csv`: one row per outer trial (`selected` = 1 for the trials behind each family's estimate)\n"
               "- `comparisons.csv`: every test of every pair of families\n- `errors.csv`: the flagged images\n");
    if (plots) fprintf(f, "- `learning_curves`, `fold_scores`, `confusion`, `roc` (.png, .svg), `plots.gp`, `plotdata/`\n");
    if (sheet) fprintf(f, "- `errors.png`: contact sheet of the flagged images\n");
    fprintf(f, "\nHow to read the tests: see docs/report.md.\n");
    return report_close_file(f, out, NULL, "report.md", e);
}

FILE *report_open_file(const char *out, const char *sub, const char *name, ErrBuf *e) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s%s%s", out, sub ? sub : "", sub ? "/" : "", name);
    FILE *f = fopen(path, "w");
    if (!f) hipid_err(e, "%s: cannot write (%s)", path, strerror(errno));
    return f;
}

int report_close_file(FILE *f, const char *out, const char *sub, const char *name, ErrBuf *e) {
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    return bad ? hipid_err(e, "%s/%s%s%s: write failed (disk full?)", out, sub ? sub : "", sub ? "/" : "", name)
               : HIPID_OK;
}
