/* report_write.c: report.md, the CSV tables and the stdout summary of an
 * analysed Report (report.h). See report_write.h. Only formatting: every number comes from
 * report.c. CSV: comma-separated, fields with commas or quotes quoted, NaN
 * written "nan"; JSON: NaN written null. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hipid/report/report_write.h"

#include "hipid/base/fsafe.h"

const char *const report_metric_titles[M_COUNT] = {"accuracy", "balanced accuracy", "macro-F1", "ROC AUC", "log loss"};

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

/* "0.833 ± 0.059 [0.772, 0.894]" (mean, SD, 95% interval of the mean). */
static void md_summary(FILE *f, const Summary *s) {
    char lo[32], hi[32];
    if (s->n == 0) fprintf(f, "n/a");
    else if (s->n == 1 || !isfinite(s->lo)) fprintf(f, "%.3f", s->mean);
    else {
        report_fmt_num(lo, sizeof lo, s->lo, 3);
        report_fmt_num(hi, sizeof hi, s->hi, 3);
        fprintf(f, "%.3f ± %.3f [%s, %s]", s->mean, s->sd, lo, hi);
    }
}

/* What the intervals of the means are, for captions: "95% interval of the
 * mean, Nadeau-Bengio corrected (n_test/n_train = 0.5000)". */
void report_interval_text(char *buf, size_t cap, const Report *r) {
    if (r->corrected)
        snprintf(buf, cap, "95%% interval of the mean, Nadeau-Bengio corrected for the overlap of the training sets "
                           "(n_test/n_train = %.4f, the mean over the outer trials)", r->ratio);
    else
        snprintf(buf, cap, "95%% t-interval of the mean (plain: the outer trials test a single split, so there is no "
                           "overlap to correct for; over seeds it shows the seeds' spread only)");
}

static const char *design_name(const Report *r) { return r->nested ? "nested" : "not nested"; }

void report_selection_text(char *buf, size_t cap, const Report *r) {
    if (r->nested)
        snprintf(buf, cap,
                 "Nested cross-validation: for each outer fold (repeat, seed) and family, the configuration with the "
                 "highest mean inner-fold test accuracy was selected (ties: the lower mean inner log loss, then the "
                 "lower configuration number); the family's estimate is that configuration's outer-fold result, "
                 "which played no part in the choice, so the estimate is unbiased.");
    else if (!r->chose)
        snprintf(buf, cap,
                 "Not nested, one configuration per family: nothing was selected, and each family's test folds are "
                 "reported as they are (they played no part in training).");
    else if (r->by_test)
        snprintf(buf, cap,
                 "Not nested, without validation sets (val_fraction 0): per family, the configuration with the "
                 "highest mean test accuracy (ties: the lower configuration number) was selected and its test folds "
                 "are reported, so the estimate of the chosen configuration is optimistic.");
    else
        snprintf(buf, cap,
                 "Not nested: per family, the configuration with the lowest mean validation loss (the early-stopping "
                 "carve inside each training set; ties: the lower configuration number) was selected and its test "
                 "folds are reported. The test folds played no part in the choice, but the configurations were "
                 "compared on data drawn from the same training sets, so with non-nested selection the test estimate "
                 "of the best-by-validation configuration is only mildly optimistic.");
    size_t at = strlen(buf);
    if (r->staged && at < cap)
        snprintf(buf + at, cap - at, " %s: only configurations that reached their bracket's last rung%s are "
                                     "candidates; those stopped or pruned at a lower rung (trained for fewer epochs) "
                                     "are listed with the rung they reached but never selected.",
                 report_search_title(r), r->nested ? " in the outer fold's inner trials" : " (none of whose trials "
                                                                                          "was pruned)");
}

static const char *prune_text(const Report *r) {
    if (strcmp(r->prune, "median") == 0) return "median pruning after each rung's first wave";
    if (strcmp(r->prune, "wilcoxon") == 0) return "Wilcoxon signed-rank pruning after each rung's first wave";
    return "no pruning";
}

const char *report_search_title(const Report *r) {
    int pr = strcmp(r->prune, "median") == 0 || strcmp(r->prune, "wilcoxon") == 0;
    if (strcmp(r->search, "halving") == 0) return "Successive halving";
    if (strcmp(r->search, "hyperband") == 0) return "Hyperband";
    if (strcmp(r->search, "random") == 0) return pr ? "Random search with pruning" : "Random search";
    return pr ? "Grid search with pruning" : "Grid search";
}

double report_rung_shown(const Report *r, double score) { return strcmp(r->metric, "val_acc") == 0 ? -score : score; }

void report_search_text(char *buf, size_t cap, const Report *r) {
    buf[0] = '\0';
    if (!r->staged) return;
    int ep[64], n_ep = report_rung_epochs(r, ep, 64);
    size_t at = (size_t)snprintf(buf, cap, "%s (", report_search_title(r));
    if (r->eta > 0 && at < cap) at += (size_t)snprintf(buf + at, cap - at, "eta %d, ", r->eta);
    for (int i = 0; i < n_ep && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%d", i == 0 ? (n_ep > 1 ? "rungs at " : "one rung at ") : ", ", ep[i]);
    if (at < cap)
        at += (size_t)snprintf(buf + at, cap - at, " epochs; metric %s; %s): within each selection group (family, "
                                                   "bracket%s) the configurations ",
                               r->metric[0] ? r->metric : "val_loss", prune_text(r), r->nested ? ", outer fold" : "");
    if (at < cap && n_ep > 1)
        at += (size_t)snprintf(buf + at, cap - at, "were trained to a rung's epochs and the best 1/%d by their mean %s "
                                                   "over the group's units went on to the next; ", r->eta, strcmp(r->metric, "val_acc") == 0 ?
                                                   "validation accuracy" : "lowest validation loss");
    else if (at < cap) at += (size_t)snprintf(buf + at, cap - at, "ran their units to their own epochs; ");
    if (at < cap)
        at += (size_t)snprintf(buf + at, cap - at, "only those that reached their bracket's last rung%s are candidates "
                                                   "for selection. ", r->nested ? " in an outer fold" : "");
    if (at < cap && isfinite(r->grid_epochs) && r->grid_epochs > 0)
        at += (size_t)snprintf(buf + at, cap - at, "Compute: %.0f epochs trained (the sum of epochs_run over the %d done "
                                                   "trial files) against %.0f for the full grid (every planned trial to "
                                                   "its epochs), %.1f%%. ",
                               r->epochs_spent, r->n_done, r->grid_epochs, 100 * r->epochs_spent / r->grid_epochs);
    else if (at < cap)
        at += (size_t)snprintf(buf + at, cap - at, "Compute: %.0f epochs trained (the sum of epochs_run over the %d done "
                                                   "trial files); the index does not give the full grid's. ",
                               r->epochs_spent, r->n_done);
    if (at < cap)
        snprintf(buf + at, cap - at, "%d of %d configurations reached the top rung%s.", r->n_top, r->n_staged_configs,
                 r->nested ? " in at least one outer fold" : "");
}

/* ---- the summary (report.md's first section and stdout) ---- */

static const RConfig *chosen_config(const Report *r, int f) {
    for (int i = 0; i < r->n_configs; i++)
        if (r->configs[i].fam == f && r->configs[i].config == r->fam[f].chosen) return &r->configs[i];
    return NULL;
}

/* "0.492 (Depuy) | no, p = 0.71" cells of the summary table: F's majority
 * rate, with learned and pv of the family or of its ensemble */
static void md_base(FILE *f, const Report *r, const RFamily *F, int learned, double pv) {
    char p[32];
    if (learned < 0) {
        fprintf(f, "n/a | n/a");
        return;
    }
    report_fmt_p(p, sizeof p, pv);
    fprintf(f, "%.3f (", F->base_rate);
    md_cell(f, r->class_names ? r->class_names[F->base_class] : "?");
    fprintf(f, ") | %s, %s", learned ? "yes" : "**no**", p);
}

/* The leakage check: test images with a near-duplicate or a leakage-group
 * mate among the rows their model was fitted on (first pass). */
static void md_leaks(FILE *f, const Report *r) {
    long worst, dup_only;
    if (!report_leak_totals(r, &worst, &dup_only)) return;
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

static void summary_row(FILE *f, const Report *r, int fa) {
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
    md_base(f, r, F, F->learned, F->base_p);
    static const int rest[] = {M_BACC, M_F1, M_AUC};
    for (int i = 0; i < 3; i++) {
        fprintf(f, " | ");
        md_summary(f, &F->m[rest[i]]);
    }
    if (isfinite(F->auc_pooled)) fprintf(f, " | %.3f |\n", F->auc_pooled);
    else fprintf(f, " | n/a |\n");
}

/* An ensemble row's cells from accuracy on (its baseline is F's). */
static void md_ensemble_cells(FILE *f, const Report *r, const RFamily *F, const REnsemble *E) {
    md_summary(f, &E->m[M_ACC]);
    fprintf(f, " | ");
    md_base(f, r, F, E->learned, E->base_p);
    static const int rest[] = {M_BACC, M_F1, M_AUC};
    for (int i = 0; i < 3; i++) {
        fprintf(f, " | ");
        md_summary(f, &E->m[rest[i]]);
    }
    fprintf(f, " | n/a |\n");
}

/* The family's ensemble over seeds, as a row of its own below it. */
static void ensemble_row(FILE *f, const Report *r, int fa) {
    const RFamily *F = &r->fam[fa];
    const REnsemble *E = &F->ens;
    if (E->seeds < 2) return;
    fprintf(f, "| %s, ensemble of %d seeds | the selected trials above, probabilities averaged per test fold | %d | ",
            F->name, E->seeds, E->n_folds);
    md_ensemble_cells(f, r, F, E);
}

/* "pre + nb + do": the members of the job's ensemble. */
static void fens_name(char *buf, size_t cap, const Report *r, const char *sep) {
    const RFamEnsemble *X = &r->fens;
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < X->n_fam && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? sep : "", r->fam[X->fam[i]].name);
}

/* The job's ensemble over families, as a row below the families. */
static void fens_row(FILE *f, const Report *r) {
    const RFamEnsemble *X = &r->fens;
    char name[300];
    if (X->n_fam == 0 || X->e.n_folds == 0) return;
    fens_name(name, sizeof name, r, " + ");
    fprintf(f, "| ensemble of %s | the job's ensemble: the selected models of these families, probabilities averaged "
               "per test fold (%d per fold) | %d | ", name, X->e.seeds, X->e.n_folds);
    md_ensemble_cells(f, r, &r->fam[X->fam[0]], &X->e);
}

/* The job's ensemble against each member. */
static void fens_md(FILE *f, const Report *r) {
    char text[2400];
    report_fens_text(text, sizeof text, r);
    if (text[0]) fprintf(f, "**The job's ensemble** %s.\n\n", text);
}

/* Three or more families: one line per compared metric. */
static void summary_friedman(FILE *f, const Report *r) {
    if (r->n_fam < 3) return;
    fprintf(f, "**Friedman test** over the %d test folds all %d families share (ranks within each fold, 1 = best):\n\n",
            r->n_friedman, r->n_fam);
    for (int m = 0; m < C_COUNT; m++) {
        char p[32], cd[32];
        report_fmt_p(p, sizeof p, r->friedman_p[m]);
        report_fmt_num(cd, sizeof cd, r->cd[m], 2);
        fprintf(f, "- %s: chi-square %.2f, %s; average ranks", report_metric_titles[m], r->friedman_stat[m], p);
        for (int fa = 0; fa < r->n_fam; fa++) fprintf(f, "%s %s %.2f", fa ? "," : "", r->fam[fa].name, r->avg_rank[m][fa]);
        fprintf(f, "; Nemenyi critical difference %s\n", cd);
    }
    fprintf(f, "\n");
}

static void summary_md(FILE *f, const Report *r, int level) {
    char iv[400];
    report_interval_text(iv, sizeof iv, r);
    fprintf(f, "%s Summary\n\n", level == 1 ? "#" : "##");
    fprintf(f, "Results: `%s`%s%s. Design: %s. %d of %d planned trials done (%d failed, %d missing, %d unreadable",
            r->dir, r->job[0] ? ", job " : "", r->job, design_name(r), r->n_done,
            r->have_index ? r->n_planned : r->n_done + r->n_failed, r->n_failed, r->n_missing, r->n_skipped);
    if (r->staged) fprintf(f, ", %d not needed by the search", r->n_not_needed);
    fprintf(f, ").\n\n");
    if (r->staged && isfinite(r->grid_epochs) && r->grid_epochs > 0)
        fprintf(f, "Search: %s; %.0f epochs trained against %.0f for the full grid (%.1f%%); %d of %d configurations "
                   "reached the top rung%s.\n\n",
                report_search_title(r), r->epochs_spent, r->grid_epochs, 100 * r->epochs_spent / r->grid_epochs,
                r->n_top, r->n_staged_configs, r->nested ? " in at least one outer fold" : "");
    fprintf(f, "| family | selected configuration | test folds | accuracy | majority class | beats it? | balanced accuracy "
               "| macro-F1 | ROC AUC, mean over folds | ROC AUC, pooled out-of-fold |\n"
               "|---|---|---|---|---|---|---|---|---|---|\n");
    int ens = 0;
    for (int fa = 0; fa < r->n_fam; fa++) {
        summary_row(f, r, fa);
        ensemble_row(f, r, fa);
        ens |= r->fam[fa].ens.seeds >= 2;
    }
    fens_row(f, r);
    fprintf(f, "\nCells: mean ± SD over the test folds (the plain SD, for reference) [%s]. ROC AUC, pooled: one AUC of "
               "the out-of-fold predictions of every selected test fold together (what the roc plot shows); no "
               "interval. Majority class: the accuracy of always answering the most frequent class; beats it?: exact "
               "one-sided binomial test of the correct answers of one pass over the data (each image tested once).\n\n",
            iv);
    if (ens)
        fprintf(f, "Ensemble rows: on each test fold, the mean of the class probabilities of that family's selected "
                   "models of every seed (trained on the same data from other seeds), scored as one model; beats it? "
                   "on the first repeat's folds. `hipid predict --best --ensemble` averages a configuration's models "
                   "of every fold and seed.\n\n");
    for (int fa = 0; fa < r->n_fam; fa++) {
        char s[700];
        report_base_sentence(s, sizeof s, r, fa);
        if (s[0]) fprintf(f, "**Warning:** %s.\n\n", s);
    }
    fens_md(f, r);
    md_leaks(f, r);
    for (int i = 0; i < r->n_cmp; i++) fprintf(f, "**Verdict%s:** %s.\n\n", i == 0 ? "" : " (further pair)", r->cmp[i].verdict);
    summary_friedman(f, r);
}

static void summary_csv(FILE *f, const Report *r) {
    fprintf(f, "kind,name,configuration,folds,accuracy,accuracy_lo,accuracy_hi,auc,auc_lo,auc_hi,p,p_holm,"
               "p_a_better,p_equivalent,p_b_better,text\n");
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
        fprintf(f, ",nan,nan,nan,nan,nan,");
        csv_str(f, r->nested ? "nested: selected per outer fold" : F->chosen >= 0 ? chosen_config(r, fa)->hparams : "");
        fputc('\n', f);
        const REnsemble *E = &F->ens;
        if (E->seeds < 2) continue;
        fprintf(f, "ensemble,");
        csv_str(f, F->name);
        fprintf(f, ",%d,%d", r->nested ? -1 : F->chosen, E->n_folds);
        double v[] = {E->m[M_ACC].mean, E->m[M_ACC].lo, E->m[M_ACC].hi, E->m[M_AUC].mean, E->m[M_AUC].lo,
                      E->m[M_AUC].hi, E->learned >= 0 ? E->base_p : NAN};
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) csv_num(f, v[j]);
        fprintf(f, ",nan,nan,nan,nan,%d seeds: their probabilities averaged per test fold (p: binomial test against "
                   "the majority class)\n", E->seeds);
    }
    const RFamEnsemble *X = &r->fens;
    if (X->n_fam > 0 && X->e.n_folds > 0) {
        char name[300];
        fens_name(name, sizeof name, r, "+");
        fprintf(f, "job-ensemble,");
        csv_str(f, name);
        fprintf(f, ",-1,%d", X->e.n_folds);
        double v[] = {X->e.m[M_ACC].mean, X->e.m[M_ACC].lo, X->e.m[M_ACC].hi, X->e.m[M_AUC].mean, X->e.m[M_AUC].lo,
                      X->e.m[M_AUC].hi, X->e.learned >= 0 ? X->e.base_p : NAN};
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) csv_num(f, v[j]);
        fprintf(f, ",nan,nan,nan,nan,%d models per test fold: their probabilities averaged (p: binomial test against "
                   "the majority class)\n", X->e.seeds);
        for (int i = 0; i < X->n_fam; i++) {
            const TTest *t = &X->vs[i][0];
            fprintf(f, "job-ensemble-vs,");
            csv_str(f, r->fam[X->fam[i]].name);
            fprintf(f, ",-1,%d", X->n_pairs[i]);
            double w[] = {t->estimate, t->lo, t->hi, NAN, NAN, NAN, t->p};
            for (size_t j = 0; j < sizeof w / sizeof w[0]; j++) csv_num(f, w[j]);
            fprintf(f, ",nan,nan,nan,nan,accuracy of the job's ensemble minus this family's (its seeds averaged), "
                       "corrected t-test\n");
        }
    }
    for (int i = 0; i < r->n_cmp; i++) {
        const RCompare *c = &r->cmp[i];
        char name[80];
        snprintf(name, sizeof name, "%s-%s", r->fam[c->a].name, r->fam[c->b].name);
        fprintf(f, "comparison,");
        csv_str(f, name);
        fprintf(f, ",-1,%d", c->n_pairs);
        const TTest *ta = &c->t[M_ACC], *tu = &c->t[M_AUC];
        double v[] = {ta->estimate, ta->lo, ta->hi, tu->estimate, tu->lo, tu->hi, ta->p, c->p_holm[M_ACC],
                      c->bayes[M_ACC].p_right, c->bayes[M_ACC].p_rope, c->bayes[M_ACC].p_left};
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) csv_num(f, v[j]);
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

static void json_prop(FILE *f, const PropCI *p) {
    fprintf(f, "{\"k\": %ld, \"n\": %ld, \"estimate\": ", p->k, p->n);
    json_num(f, p->est);
    fprintf(f, ", \"lo\": ");
    json_num(f, p->lo);
    fprintf(f, ", \"hi\": ");
    json_num(f, p->hi);
    fputc('}', f);
}

/* "per_class": sensitivity, specificity, precision with Wilson intervals. */
static void json_classes(FILE *f, const Report *r, const RFamily *F) {
    fprintf(f, ", \"auc_pooled\": ");
    json_num(f, F->auc_pooled);
    fprintf(f, ",\n     \"per_class\": [");
    for (int k = 0; k < r->K; k++) {
        fprintf(f, "%s{\"class\": ", k ? ", " : "");
        json_write_string(f, r->class_names[k]);
        fprintf(f, ", \"sensitivity\": ");
        json_prop(f, &F->sens_ci[k]);
        fprintf(f, ", \"specificity\": ");
        json_prop(f, &F->spec_ci[k]);
        fprintf(f, ", \"precision\": ");
        json_prop(f, &F->prec_ci[k]);
        fprintf(f, ", \"auc_pooled\": ");
        json_num(f, F->auc_class[k]);
        fputc('}', f);
    }
    fputc(']', f);
}

/* An ensemble's metrics and binomial test, as fields of an open object. */
static void json_ensemble_fields(FILE *f, const REnsemble *E) {
    for (int m = 0; m < M_COUNT; m++) {
        fprintf(f, ", \"%s\": ", report_metric_names[m]);
        json_summary_obj(f, &E->m[m]);
    }
    fprintf(f, ", \"n\": %ld, \"correct\": %ld, \"p\": ", E->base_n, E->base_correct);
    json_num(f, E->learned >= 0 ? E->base_p : NAN);
    fprintf(f, ", \"learned\": %s", E->learned < 0 ? "null" : E->learned ? "true" : "false");
}

static void json_family(FILE *f, const Report *r, int fa) {
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
    json_classes(f, r, F);
    if (F->learned >= 0) {
        fprintf(f, ",\n     \"majority\": {\"class\": ");
        json_write_string(f, r->class_names ? r->class_names[F->base_class] : "?");
        fprintf(f, ", \"rate\": %.17g, \"n\": %ld, \"correct\": %ld, \"p\": %.17g, \"learned\": %s}", F->base_rate,
                F->base_n, F->base_correct, F->base_p, F->learned ? "true" : "false");
    } else fprintf(f, ",\n     \"majority\": null");
    fprintf(f, ", \"stuck_trials\": %d", F->n_stuck);
    if (F->ens.seeds >= 2) {
        fprintf(f, ",\n     \"ensemble\": {\"seeds\": %d, \"folds\": %d", F->ens.seeds, F->ens.n_folds);
        json_ensemble_fields(f, &F->ens);
        fputc('}', f);
    } else fprintf(f, ",\n     \"ensemble\": null");
    if (F->leak_group >= 0) fprintf(f, ", \"leaks\": {\"tested\": %ld, \"group\": %ld, \"duplicate\": ", F->base_n, F->leak_group);
    if (F->leak_group >= 0 && F->leak_dup >= 0) fprintf(f, "%ld}", F->leak_dup);
    else if (F->leak_group >= 0) fprintf(f, "null}");
    fputc('}', f);
}

/* The job's ensemble over families, or null. */
static void json_fens(FILE *f, const Report *r) {
    const RFamEnsemble *X = &r->fens;
    if (X->n_fam == 0 || X->e.n_folds == 0) {
        fprintf(f, "null");
        return;
    }
    fprintf(f, "{\"families\": [");
    for (int i = 0; i < X->n_fam; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_write_string(f, r->fam[X->fam[i]].name);
    }
    fprintf(f, "], \"models\": %d, \"folds\": %d", X->e.seeds, X->e.n_folds);
    json_ensemble_fields(f, &X->e);
    fprintf(f, ",\n   \"against\": [");
    for (int i = 0; i < X->n_fam; i++) {
        fprintf(f, "%s\n    {\"family\": ", i ? "," : "");
        json_write_string(f, r->fam[X->fam[i]].name);
        fprintf(f, ", \"models\": %d, \"pairs\": %d, \"accuracy\": ", X->member_models[i], X->n_pairs[i]);
        json_ttest(f, &X->vs[i][0]);
        fprintf(f, ", \"balanced_accuracy\": ");
        json_ttest(f, &X->vs[i][1]);
        fputc('}', f);
    }
    fprintf(f, "]}");
}

/* "tests": per compared metric, the corrected t-test with its Holm-adjusted
 * p, the Bayesian correlated t-test and (5x2 designs) Dietterich's test. */
static void json_metric_tests(FILE *f, const RCompare *c) {
    fprintf(f, ",\n     \"tests\": {");
    for (int m = 0; m < C_COUNT; m++) {
        const BayesCT *b = &c->bayes[m];
        fprintf(f, "%s\n       \"%s\": {\"corrected_t\": ", m ? "," : "", report_metric_names[m]);
        json_ttest(f, &c->t[m]);
        fprintf(f, ", \"p_holm\": ");
        json_num(f, c->p_holm[m]);
        fprintf(f, ",\n         \"bayes\": {\"mean\": ");
        json_num(f, b->mean);
        fprintf(f, ", \"scale\": ");
        json_num(f, b->scale);
        fprintf(f, ", \"df\": ");
        json_num(f, b->df);
        fprintf(f, ", \"p_a_better\": ");
        json_num(f, b->p_right);
        fprintf(f, ", \"p_equivalent\": ");
        json_num(f, b->p_rope);
        fprintf(f, ", \"p_b_better\": ");
        json_num(f, b->p_left);
        fputc('}', f);
        if (c->have_5x2) {
            fprintf(f, ", \"5x2cv\": ");
            json_ttest(f, &c->t5x2[m]);
        }
        fputc('}', f);
    }
    fprintf(f, "}");
}

static void json_compare(FILE *f, const Report *r, int i) {
    const RCompare *c = &r->cmp[i];
    fprintf(f, "%s\n    {\"a\": ", i ? "," : "");
    json_write_string(f, r->fam[c->a].name);
    fprintf(f, ", \"b\": ");
    json_write_string(f, r->fam[c->b].name);
    fprintf(f, ", \"pairs\": %d, \"ratio\": ", c->n_pairs);
    json_num(f, c->ratio);
    fprintf(f, ",\n     \"accuracy_difference\": ");
    json_ttest(f, &c->t[M_ACC]);
    fprintf(f, ",\n     \"auc_difference\": ");
    json_ttest(f, &c->t[M_AUC]);
    json_metric_tests(f, c);
    if (r->n_friedman > 0) {
        fprintf(f, ",\n     \"rank_z\": {");
        for (int m = 0; m < C_COUNT; m++) {
            fprintf(f, "%s\"%s\": {\"p\": ", m ? ", " : "", report_metric_names[m]);
            json_num(f, r->p_rank[m][i]);
            fprintf(f, ", \"p_holm\": ");
            json_num(f, r->p_rank_holm[m][i]);
            fputc('}', f);
        }
        fputc('}', f);
    }
    fprintf(f, ",\n     \"mcnemar\": {\"b\": %ld, \"c\": %ld, \"exact\": %s, \"statistic\": ", c->mcnemar.b,
            c->mcnemar.c, c->mcnemar.exact ? "true" : "false");
    json_num(f, c->mcnemar.statistic);
    fprintf(f, ", \"p\": ");
    json_num(f, c->mcnemar.p);
    fprintf(f, "},\n     \"verdict\": ");
    json_write_string(f, c->verdict);
    fputc('}', f);
}

/* "friedman": null below three families, else per compared metric. */
static void json_friedman(FILE *f, const Report *r) {
    fprintf(f, ",\n  \"friedman\": ");
    if (r->n_fam < 3) {
        fprintf(f, "null");
        return;
    }
    fprintf(f, "{\"units\": %d", r->n_friedman);
    for (int m = 0; m < C_COUNT; m++) {
        fprintf(f, ",\n    \"%s\": {\"statistic\": ", report_metric_names[m]);
        json_num(f, r->friedman_stat[m]);
        fprintf(f, ", \"df\": %d, \"p\": ", r->n_fam - 1);
        json_num(f, r->friedman_p[m]);
        fprintf(f, ", \"cd\": ");
        json_num(f, r->cd[m]);
        fprintf(f, ", \"avg_rank\": {");
        for (int fa = 0; fa < r->n_fam; fa++) {
            fprintf(f, "%s", fa ? ", " : "");
            json_write_string(f, r->fam[fa].name);
            fprintf(f, ": ");
            json_num(f, r->avg_rank[m][fa]);
        }
        fprintf(f, "}}");
    }
    fprintf(f, "}");
}

static void summary_json(FILE *f, const Report *r) {
    char sel[1024];
    report_selection_text(sel, sizeof sel, r);
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
    fprintf(f, "  \"interval\": {\"method\": \"%s\", \"level\": 0.95, \"ratio\": ",
            r->corrected ? "nadeau_bengio" : "t");
    json_num(f, r->ratio);
    fprintf(f, "},\n  \"class_interval\": \"wilson\",\n  \"auc\": \"mean over folds; auc_pooled: pooled out-of-fold\",\n");
    if (r->staged) {
        fprintf(f, "  \"search\": {\"mode\": ");
        json_write_string(f, r->search);
        fprintf(f, ", \"metric\": ");
        json_write_string(f, r->metric);
        fprintf(f, ", \"prune\": ");
        json_write_string(f, r->prune);
        fprintf(f, ", \"eta\": %d, \"epochs_spent\": %.17g, \"grid_epochs\": ", r->eta, r->epochs_spent);
        json_num(f, r->grid_epochs);
        fprintf(f, ", \"configurations\": %d, \"top\": %d, \"groups\": %d, \"open\": %d, \"not_needed\": %d},\n",
                r->n_staged_configs, r->n_top, r->n_groups, r->n_open, r->n_not_needed);
    }
    fprintf(f, "  \"rope\": ");
    json_num(f, r->rope);
    fprintf(f, ",\n  \"families\": [");
    for (int fa = 0; fa < r->n_fam; fa++) json_family(f, r, fa);
    fprintf(f, "\n  ],\n  \"job_ensemble\": ");
    json_fens(f, r);
    fprintf(f, ",\n  \"comparisons\": [");
    for (int i = 0; i < r->n_cmp; i++) json_compare(f, r, i);
    fprintf(f, "\n  ]");
    json_friedman(f, r);
    fprintf(f, "\n}\n");
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
    static const char *const what[3] = {"sens", "spec", "prec"};
    FILE *f = report_open_file(out, NULL, "configs.csv", e);
    if (!f) return HIPID_ERR;
    fprintf(f, "family,config,n_trials,n_failed,n_selected,val_loss,interval,ratio");
    metric_header(f);
    for (int w = 0; w < 3; w++)
        for (int c = 0; c < r->K; c++) fprintf(f, ",%s_%d_k,%s_%d_n,%s_%d,%s_%d_lo,%s_%d_hi", what[w], c, what[w], c,
                                               what[w], c, what[w], c, what[w], c);
    fprintf(f, ",class_interval,hparams\n");
    for (int i = 0; i < r->n_configs; i++) {
        const RConfig *c = &r->configs[i];
        csv_str(f, r->fam[c->fam].name);
        fprintf(f, ",%d,%d,%d,%d", c->config, c->n_done, c->n_failed, c->n_selected);
        csv_num(f, c->val_loss);
        fprintf(f, ",%s", r->corrected ? "nadeau_bengio" : "t");
        csv_num(f, r->corrected ? r->ratio : 0.0);
        metric_summaries(f, c->m, M_COUNT);
        const PropCI *p[3] = {c->sens_ci, c->spec_ci, c->prec_ci};
        for (int w = 0; w < 3; w++)
            for (int k = 0; k < r->K; k++) {
                fprintf(f, ",%ld,%ld", p[w][k].k, p[w][k].n);
                csv_num(f, p[w][k].est);
                csv_num(f, p[w][k].lo);
                csv_num(f, p[w][k].hi);
            }
        fprintf(f, ",wilson,");
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

/* One row of comparisons.csv; NaN where a column does not apply. */
typedef struct {
    const char *a, *b, *test, *scope;
    double est, lo, hi, stat, df, p, p_holm, p_a, p_eq, p_b, rope;
    long b_count, c_count;
    int n;
} CmpRow;

static void cmp_row(FILE *f, const CmpRow *w) {
    csv_str(f, w->a);
    fputc(',', f);
    csv_str(f, w->b);
    fprintf(f, ",%s,", w->test);
    csv_str(f, w->scope);
    double v[] = {w->est, w->lo, w->hi, w->stat, w->df, w->p, w->p_holm, w->p_a, w->p_eq, w->p_b, w->rope};
    for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) csv_num(f, v[j]);
    fprintf(f, ",%ld,%ld,%d\n", w->b_count, w->c_count, w->n);
}

static CmpRow row_blank(const Report *r, const RCompare *c, const char *test, const char *scope, int n) {
    CmpRow w = {r->fam[c->a].name, r->fam[c->b].name, test, scope, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN,
                NAN, NAN, -1, -1, n};
    return w;
}

static CmpRow row_ttest(const Report *r, const RCompare *c, const char *test, const char *scope, const TTest *t, int n) {
    CmpRow w = row_blank(r, c, test, scope, n);
    w.est = t->estimate, w.lo = t->lo, w.hi = t->hi, w.stat = t->t, w.df = t->df, w.p = t->p;
    return w;
}

/* Per compared metric: corrected t (with Holm), Bayesian, 5x2cv, rank z. */
static void cmp_metric_rows(FILE *f, const Report *r, int i) {
    const RCompare *c = &r->cmp[i];
    for (int m = 0; m < C_COUNT; m++) {
        const char *s = report_metric_names[m];
        CmpRow w = row_ttest(r, c, "corrected_t", s, &c->t[m], c->n_pairs);
        w.p_holm = c->p_holm[m];
        cmp_row(f, &w);
        const BayesCT *b = &c->bayes[m];
        w = row_blank(r, c, "bayes_correlated", s, c->n_pairs);
        w.est = b->mean, w.stat = b->scale, w.df = b->df, w.rope = r->rope;
        w.p_a = b->p_right, w.p_eq = b->p_rope, w.p_b = b->p_left;
        cmp_row(f, &w);
        if (c->have_5x2) {
            w = row_ttest(r, c, "5x2cv", s, &c->t5x2[m], 10);
            cmp_row(f, &w);
        }
        if (r->n_friedman > 0) {
            int F = r->n_fam, N = r->n_friedman;
            w = row_blank(r, c, "rank_z", s, N);
            w.est = r->avg_rank[m][c->a] - r->avg_rank[m][c->b];
            w.stat = w.est / sqrt(F * (F + 1) / (6.0 * N));
            w.p = r->p_rank[m][i], w.p_holm = r->p_rank_holm[m][i];
            cmp_row(f, &w);
        }
    }
}

/* McNemar pooled and per (repeat, seed), DeLong per (repeat, seed). */
static void cmp_image_rows(FILE *f, const Report *r, const RCompare *c) {
    long n_img = 0;
    for (int g = 0; g < c->n_groups; g++) n_img += c->groups[g].n;
    CmpRow w = row_blank(r, c, c->mcnemar.exact ? "mcnemar_exact" : "mcnemar_chi2", "pooled", (int)n_img);
    w.stat = c->mcnemar.statistic, w.p = c->mcnemar.p, w.b_count = c->mcnemar.b, w.c_count = c->mcnemar.c;
    cmp_row(f, &w);
    for (int g = 0; g < c->n_groups; g++) {
        const RGroup *G = &c->groups[g];
        char scope[64];
        snprintf(scope, sizeof scope, "repeat %d seed %d", G->repeat, G->seed);
        w = row_blank(r, c, G->mcnemar.exact ? "mcnemar_exact" : "mcnemar_chi2", scope, G->n);
        w.stat = G->mcnemar.statistic, w.p = G->mcnemar.p, w.b_count = G->mcnemar.b, w.c_count = G->mcnemar.c;
        cmp_row(f, &w);
        if (G->have_delong) {
            w = row_ttest(r, c, "delong", scope, &G->delong.d, G->n);
            cmp_row(f, &w);
        }
    }
}

/* Three or more families: Friedman and the Nemenyi CD per metric (a = b = "*"). */
static void cmp_friedman_rows(FILE *f, const Report *r) {
    if (r->n_fam < 3) return;
    for (int m = 0; m < C_COUNT; m++) {
        CmpRow w = {"*", "*", "friedman", report_metric_names[m], NAN, NAN, NAN, r->friedman_stat[m], r->n_fam - 1,
                    r->friedman_p[m], NAN, NAN, NAN, NAN, NAN, -1, -1, r->n_friedman};
        cmp_row(f, &w);
        w.test = "nemenyi_cd", w.est = r->cd[m], w.stat = w.df = w.p = NAN;
        cmp_row(f, &w);
    }
}

static int write_comparisons_csv(const Report *r, const char *out, ErrBuf *e) {
    FILE *f = report_open_file(out, NULL, "comparisons.csv", e);
    if (!f) return HIPID_ERR;
    fprintf(f, "a,b,test,scope,estimate,lo,hi,statistic,df,p,p_holm,p_a_better,p_equivalent,p_b_better,rope,"
               "b_count,c_count,n\n");
    for (int i = 0; i < r->n_cmp; i++) {
        cmp_metric_rows(f, r, i);
        cmp_image_rows(f, r, &r->cmp[i]);
    }
    cmp_friedman_rows(f, r);
    return report_close_file(f, out, NULL, "comparisons.csv", e);
}

static const char *img_path(const Report *r, int index) {
    return r->source_paths && index < r->n_source ? r->source_paths[index] : "";
}

static const char *class_name(const Report *r, int c) { return c >= 0 && c < r->K ? r->class_names[c] : "-"; }

static int write_errors_csv(const Report *r, const char *out, ErrBuf *e) {
    FILE *f = report_open_file(out, NULL, "errors.csv", e);
    if (!f) return HIPID_ERR;
    fprintf(f, "rank,index,source_path,true,p_true");
    for (int fa = 0; fa < r->n_fam; fa++) fprintf(f, ",%s_pred,%s_wrong,%s_tested", r->fam[fa].name, r->fam[fa].name, r->fam[fa].name);
    fprintf(f, ",both_tested,disagree\n");
    for (int i = 0; i < r->n_img; i++) {
        const RImage *im = &r->img[i];
        fprintf(f, "%d,%d,", i + 1, im->index);
        csv_str(f, img_path(r, im->index));
        fputc(',', f);
        csv_str(f, class_name(r, im->label));
        csv_num(f, im->p_true);
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
    if (r->have_index && r->staged)
        fprintf(f, "The sweep index plans %d trials (%d outer, %d inner). Trial files read: %d done, %d failed; %d missing, "
                   "%d unreadable; %d not needed by the search (their configuration was stopped or pruned before "
                   "them).\n\n",
                r->n_planned, r->n_outer_planned, r->n_planned - r->n_outer_planned, r->n_done, r->n_failed, r->n_missing,
                r->n_skipped, r->n_not_needed);
    else if (r->have_index)
        fprintf(f, "The sweep index plans %d trials (%d outer, %d inner). Trial files read: %d done, %d failed; %d missing, "
                   "%d unreadable.\n\n",
                r->n_planned, r->n_outer_planned, r->n_planned - r->n_outer_planned, r->n_done, r->n_failed, r->n_missing,
                r->n_skipped);
    else
        fprintf(f, "No sweep index: trial files read: %d done, %d failed, %d unreadable.\n\n", r->n_done, r->n_failed,
                r->n_skipped);
    if (r->n_missing || r->n_failed || r->n_skipped || r->n_open)
        fprintf(f, "**The sweep is incomplete**: the tables below use the finished trials only. Rerun `hipid sweep` on "
                   "the same job file to finish it.\n\n");
    for (int i = 0; i < r->n_lines && i < 50; i++) fprintf(f, "- %s\n", r->lines[i]);
    if (r->n_lines > 50) fprintf(f, "- ... and %d more\n", r->n_lines - 50);
    if (r->n_lines) fputc('\n', f);
    for (int i = 0; i < r->n_notes; i++) fprintf(f, "Note: %s\n\n", r->notes[i]);
}

/* "0.750 [0.551, 0.880] (18/24)": a proportion with its Wilson interval. */
static void md_prop(FILE *f, const PropCI *p) {
    char lo[32], hi[32];
    if (p->n == 0) {
        fprintf(f, "n/a (0/0)");
        return;
    }
    report_fmt_num(lo, sizeof lo, p->lo, 3);
    report_fmt_num(hi, sizeof hi, p->hi, 3);
    fprintf(f, "%.3f [%s, %s] (%ld/%ld)", p->est, lo, hi, p->k, p->n);
}

static void md_classes(FILE *f, const Report *r) {
    fprintf(f, "### Per-class sensitivity, specificity and precision\n\nEach family's selected trials, one class against "
               "the rest, on the counts pooled over their test folds (k/n in brackets; `configs.csv` has every "
               "configuration): the proportion and its 95%% Wilson score interval, which stays inside [0, 1]. "
               "Sensitivity = tp/(tp+fn), specificity = tn/(tn+fp), precision = tp/(tp+fp).%s\n\n",
            r->repeats > 1 ? " With several repeats or seeds each image is counted once per repeat and seed, which the "
                             "interval takes as independent: read it as too narrow by up to the square root of that "
                             "number."
                           : "");
    fprintf(f, "| family | class | sensitivity | specificity | precision | ROC AUC, pooled |\n|---|---|---|---|---|---|\n");
    for (int fa = 0; fa < r->n_fam; fa++) {
        const RFamily *F = &r->fam[fa];
        for (int k = 0; k < r->K; k++) {
            fprintf(f, "| %s | ", F->name);
            md_cell(f, r->class_names[k]);
            fprintf(f, " | ");
            md_prop(f, &F->sens_ci[k]);
            fprintf(f, " | ");
            md_prop(f, &F->spec_ci[k]);
            fprintf(f, " | ");
            md_prop(f, &F->prec_ci[k]);
            if (isfinite(F->auc_class[k])) fprintf(f, " | %.3f |\n", F->auc_class[k]);
            else fprintf(f, " | n/a |\n");
        }
    }
    fputc('\n', f);
}

static void md_configs(FILE *f, const Report *r) {
    char iv[400];
    report_interval_text(iv, sizeof iv, r);
    fprintf(f, "## Configurations\n\nOuter test folds only (every configuration, not just the selected ones; "
               "`configs.csv` has every column, `folds.csv` every fold). Cells: mean ± SD [%s]. ROC AUC: mean over "
               "folds.\n\n", iv);
    if (r->staged)
        fprintf(f, "Rung reached: how far the search (%s) took the configuration; only those at the top rung are "
                   "candidates for selection, the others' outer folds were trained for fewer epochs and their numbers "
                   "enter no family's estimate.\n\n", report_search_title(r));
    fprintf(f, "| family | config | %strials | failed | val loss", r->staged ? "rung reached | " : "");
    for (int m = 0; m < M_COUNT; m++) fprintf(f, " | %s", report_metric_titles[m]);
    fprintf(f, " | hyperparameters |\n|---|---|---|---|---%s", r->staged ? "|---" : "");
    for (int m = 0; m < M_COUNT + 1; m++) fprintf(f, "|---");
    fprintf(f, "|\n");
    for (int i = 0; i < r->n_configs; i++) {
        const RConfig *c = &r->configs[i];
        fprintf(f, "| %s | c%d%s | ", r->fam[c->fam].name, c->config,
                !r->nested && r->fam[c->fam].chosen == c->config ? " (selected)" : "");
        if (r->staged) {
            char st[400];
            report_config_stage(st, sizeof st, r, c->fam, c->config);
            fprintf(f, "%s | ", st[0] ? st : "-");
        }
        if (isfinite(c->val_loss)) fprintf(f, "%d | %d | %.4f", c->n_done, c->n_failed, c->val_loss);
        else fprintf(f, "%d | %d | n/a", c->n_done, c->n_failed);
        for (int m = 0; m < M_COUNT; m++) {
            fprintf(f, " | ");
            md_summary(f, &c->m[m]);
        }
        fprintf(f, " | ");
        md_cell(f, c->hparams);
        fprintf(f, " |\n");
    }
    fputc('\n', f);
    md_classes(f, r);
}

/* Rung rows [i, j) of r->rungs that share a group (family, bracket,
 * repeat, outer) and a rung: j from i. */
static int rung_block_end(const Report *r, int i) {
    const RungRow *a = &r->rungs[i];
    int j = i + 1;
    while (j < r->n_rungs && r->rungs[j].family == a->family && r->rungs[j].bracket == a->bracket &&
           r->rungs[j].repeat == a->repeat && r->rungs[j].outer == a->outer && r->rungs[j].rung == a->rung)
        j++;
    return j;
}

#define MD_RUNG_ROWS 200

/* Staged searches: the paragraph and one table row per (group, rung). */
static void md_search(FILE *f, const Report *r) {
    if (!r->staged) return;
    char txt[2000];
    report_search_text(txt, sizeof txt, r);
    int acc = strcmp(r->metric, "val_acc") == 0, rows = 0;
    fprintf(f, "## Search: %s\n\n%s\n\nPer selection group and rung: the configurations that entered it and what "
               "became of them (promoted to the next rung, stopped: not among the best 1/%d, pruned after the rung's "
               "first wave, top: reached the bracket's last rung%s). Each configuration with its mean %s over the "
               "group's units at the rung's epochs (%s), best first. `rungs.csv` has one row per configuration and "
               "rung.\n\n| family | bracket | %srung | epochs | entered | promoted | stopped | pruned | top%s | "
               "configurations (%s, outcome) |\n|---|---|---|---|---|---|---|---|---|---%s%s|\n",
            report_search_title(r), txt, r->eta, r->n_open ? "; open: not decided yet" : "",
            acc ? "validation accuracy" : "lowest validation loss", acc ? "higher is better" : "lower is better",
            r->nested ? "outer fold | " : "", r->n_open ? " | open" : "", acc ? "val acc" : "val loss",
            r->nested ? "|---" : "", r->n_open ? "|---" : "");
    for (int i = 0; i < r->n_rungs; i = rung_block_end(r, i), rows++) {
        if (rows == MD_RUNG_ROWS) {
            fprintf(f, "\n... and more rows: see `rungs.csv`.\n");
            break;
        }
        const RungRow *a = &r->rungs[i];
        int j = rung_block_end(r, i), n_st[RUNG_OPEN + 1] = {0};
        for (int k = i; k < j; k++) n_st[r->rungs[k].state]++;
        fprintf(f, "| %s | %d | ", r->fam[a->family].name, a->bracket);
        if (r->nested) fprintf(f, "repeat %d, fold %d | ", a->repeat, a->outer);
        fprintf(f, "%d | %d | %d | %d | %d | %d | %d", a->rung, a->epochs, j - i, n_st[RUNG_PROMOTED], n_st[RUNG_STOPPED],
                n_st[RUNG_PRUNED], n_st[RUNG_TOP]);
        if (r->n_open) fprintf(f, " | %d", n_st[RUNG_OPEN]);
        fprintf(f, " |");
        for (int k = i; k < j; k++) {
            char v[32];
            report_fmt_num(v, sizeof v, report_rung_shown(r, r->rungs[k].score), 4);
            fprintf(f, "%s c%d %s %s", k > i ? "," : "", r->rungs[k].config, v, rung_state_names[r->rungs[k].state]);
        }
        fprintf(f, " |\n");
    }
    fputc('\n', f);
}

static int write_rungs_csv(const Report *r, const char *out, ErrBuf *e) {
    if (!r->staged) return HIPID_OK;
    FILE *f = report_open_file(out, NULL, "rungs.csv", e);
    if (!f) return HIPID_ERR;
    fprintf(f, "family,bracket,repeat,outer,rung,epochs,config,n_units,score,state\n");
    for (int i = 0; i < r->n_rungs; i++) {
        const RungRow *g = &r->rungs[i];
        csv_str(f, r->fam[g->family].name);
        fprintf(f, ",%d,%d,%d,%d,%d,%d,%d", g->bracket, g->repeat, g->outer, g->rung, g->epochs, g->config, g->n_units);
        if (isfinite(g->score)) fprintf(f, ",%.17g", g->score);
        else fprintf(f, ",%s", isnan(g->score) ? "nan" : g->score > 0 ? "inf" : "-inf");
        fprintf(f, ",%s\n", rung_state_names[g->state]);
    }
    return report_close_file(f, out, NULL, "rungs.csv", e);
}

static void md_selection(FILE *f, const Report *r) {
    char sel[1024];
    report_selection_text(sel, sizeof sel, r);
    fprintf(f, "## Selection\n\n%s\n\n", sel);
    if (r->nested) {
        fprintf(f, "How often each configuration was selected (outer folds):\n\n| family | config | selected | %s"
                   "hyperparameters |\n|---|---|---|%s---|\n", r->staged ? "rung reached | " : "", r->staged ? "---|" : "");
        for (int i = 0; i < r->n_configs; i++) {
            const RConfig *c = &r->configs[i];
            fprintf(f, "| %s | c%d | %d | ", r->fam[c->fam].name, c->config, c->n_selected);
            if (r->staged) {
                char st[400];
                report_config_stage(st, sizeof st, r, c->fam, c->config);
                fprintf(f, "%s | ", st[0] ? st : "-");
            }
            md_cell(f, c->hparams);
            fprintf(f, " |\n");
        }
        fputc('\n', f);
    }
    char iv[400];
    report_interval_text(iv, sizeof iv, r);
    fprintf(f, "Estimate of each family (its selected trials' outer test folds; mean ± SD [%s]; ROC AUC: mean over "
               "folds):\n\n| family | folds", iv);
    for (int m = 0; m < M_COUNT; m++) fprintf(f, " | %s", report_metric_titles[m]);
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

/* One row of a pair's table: the difference of metric m in points
 * (hundredths; ROC AUC in AUC units), its corrected t-test and, unless
 * is_5x2, Holm and the Bayesian probabilities. */
static void md_test_row(FILE *f, const Report *r, const RCompare *c, int m, const TTest *t, int is_5x2) {
    double sc = m == M_AUC ? 1 : 100;
    int dec = m == M_AUC ? 3 : 1;
    char p[32], est[32], lo[32], hi[32];
    report_fmt_p(p, sizeof p, t->p);
    report_fmt_num(est, sizeof est, sc * t->estimate, dec);
    report_fmt_num(lo, sizeof lo, sc * t->lo, dec);
    report_fmt_num(hi, sizeof hi, sc * t->hi, dec);
    fprintf(f, "| %s%s | %s%s | %s to %s | %.2f | %.0f | %s", report_metric_titles[m], m == M_AUC ? " (mean over folds)" : "",
            t->estimate > 0 ? "+" : "", est, lo, hi, t->t, t->df, p);
    if (is_5x2) {
        fprintf(f, " |\n");
        return;
    }
    if (r->n_cmp > 1) {
        report_fmt_p(p, sizeof p, c->p_holm[m]);
        fprintf(f, " | %s", p);
    }
    const BayesCT *b = &c->bayes[m];
    fprintf(f, " | %.3f | %.3f | %.3f |\n", b->p_right, b->p_rope, b->p_left);
}

static void md_pair_tests(FILE *f, const Report *r, const RCompare *c) {
    const char *A = r->fam[c->a].name, *B = r->fam[c->b].name;
    fprintf(f, "| metric | difference | 95%% CI | t | df | p |%s P(%s better) | P(equivalent) | P(%s better) |\n"
               "|---|---|---|---|---|---|%s---|---|---|\n",
            r->n_cmp > 1 ? " p, Holm |" : "", A, B, r->n_cmp > 1 ? "---|" : "");
    for (int m = 0; m < C_COUNT; m++) md_test_row(f, r, c, m, &c->t[m], 0);
    if (!c->have_5x2) return;
    fprintf(f, "\nDietterich's 5x2cv t-test (estimate = the first fold's difference):\n\n"
               "| metric | estimate | 95%% CI | t | df | p |\n|---|---|---|---|---|---|\n");
    for (int m = 0; m < C_COUNT; m++) md_test_row(f, r, c, m, &c->t5x2[m], 1);
}

static void md_pair_images(FILE *f, const Report *r, const RCompare *c) {
    const char *A = r->fam[c->a].name, *B = r->fam[c->b].name;
    char p[32];
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
        char pm[32], pd[32], d[3][32];
        report_fmt_p(pm, sizeof pm, G->mcnemar.p);
        fprintf(f, "| %d | %d | %d | %ld | %ld | %s | ", G->repeat, G->seed, G->n, G->mcnemar.b, G->mcnemar.c, pm);
        if (!G->have_delong) {
            fprintf(f, "- | - | - | - |\n");
            continue;
        }
        report_fmt_p(pd, sizeof pd, G->delong.d.p);
        report_fmt_num(d[0], sizeof d[0], G->delong.d.estimate, 3);
        report_fmt_num(d[1], sizeof d[1], G->delong.d.lo, 3);
        report_fmt_num(d[2], sizeof d[2], G->delong.d.hi, 3);
        fprintf(f, "%.3f | %.3f | %s%s (%s to %s) | %s |\n", G->delong.auc_a, G->delong.auc_b,
                G->delong.d.estimate > 0 ? "+" : "", d[0], d[1], d[2], pd);
    }
    fprintf(f, "\n%s\n\n",
            r->K == 2 ? "DeLong: per repeat and seed, on the out-of-fold P(class 1) pooled over that repeat's folds "
                        "(each image once; the folds' models are taken as one scorer)."
                      : "DeLong's test is for two classes; with more, compare AUCs with the corrected t-test above.");
    if (!c->have_5x2)
        fprintf(f, "Dietterich's 5x2cv test applies to 5 repeats of 2-fold CV with one seed; this design is not that.\n\n");
}

static void md_compare_intro(FILE *f, const Report *r) {
    char rope[32];
    snprintf(rope, sizeof rope, "%.3g", 100 * r->rope);
    if (r->n_fam > 2)
        fprintf(f, "%d families: every pair is compared below (the summary's first verdict is the first pair's, job "
                   "order). The corrected t-tests' p-values are Holm-adjusted over the %d pairs, per metric (column "
                   "\"p, Holm\"), and the verdicts use the adjusted p; the intervals are not adjusted. The Friedman "
                   "test over all families is in the next section.\n\n",
                r->n_fam, r->n_cmp);
    fprintf(f, "Differences are first family minus second, in points (hundredths) for accuracy, balanced accuracy and "
               "macro-F1 and in AUC units for ROC AUC, on the test folds both families were tested on.\n\n"
               "**How to read the Bayesian columns** (correlated t-test of Corani & Benavoli 2015, region of practical "
               "equivalence ±%s point%s, `--rope`, also ±%.3g in AUC units): given these folds, the probability that "
               "the first family is better by more than the rope, that the two are practically equivalent (the "
               "difference within the rope), and that the second is better by more than the rope; the three add up to "
               "1. A probability above 0.95 is a decision at the usual level. Unlike a p-value, a high P(equivalent) is "
               "evidence that the two are practically the same; when no probability dominates, the data cannot "
               "decide. It uses the same correlation between folds as the corrected t-test and a flat prior.\n\n",
            rope, strcmp(rope, "1") ? "s" : "", r->rope);
}

static void md_compare(FILE *f, const Report *r) {
    fprintf(f, "## Comparison\n\n");
    if (r->n_cmp == 0) {
        fprintf(f, "Only one family: nothing to compare.\n\n");
        return;
    }
    md_compare_intro(f, r);
    for (int i = 0; i < r->n_cmp; i++) {
        const RCompare *c = &r->cmp[i];
        const char *A = r->fam[c->a].name, *B = r->fam[c->b].name;
        fprintf(f, "### %s vs %s\n\n**%s.**\n\n", A, B, c->verdict);
        fprintf(f, "Each family's selected trial on the same %d test folds (repeat, fold, seed); differences are %s - %s. "
                   "Corrected resampled t-test (Nadeau & Bengio) with n_test/n_train = %.4f (the mean over these folds "
                   "of the test fold's size over the data the model was fitted on, validation carve included).\n\n",
                c->n_pairs, A, B, c->ratio);
        md_pair_tests(f, r, c);
        md_pair_images(f, r, c);
    }
}

/* Three or more families: Friedman, average ranks, Nemenyi CD, post-hoc tests. */
static void md_friedman(FILE *f, const Report *r) {
    if (r->n_fam < 3) return;
    fprintf(f, "## More than two families\n\nFriedman's test over the %d test folds on which all %d families have a "
               "result (the same test set): within each fold the families are ranked (1 = best, ties share their "
               "mean rank), and the test asks whether the average ranks differ more than chance would make them. "
               "Critical difference (Nemenyi, 0.05, Demsar 2006): two families whose average ranks differ by more "
               "are different at the 0.05 level.\n\n| metric | Friedman chi-square | df | p | critical difference",
            r->n_friedman, r->n_fam);
    for (int fa = 0; fa < r->n_fam; fa++) fprintf(f, " | rank %s", r->fam[fa].name);
    fprintf(f, " |\n|---|---|---|---|---");
    for (int fa = 0; fa < r->n_fam; fa++) fprintf(f, "|---");
    fprintf(f, "|\n");
    for (int m = 0; m < C_COUNT; m++) {
        char p[32];
        report_fmt_p(p, sizeof p, r->friedman_p[m]);
        fprintf(f, "| %s | %.3f | %d | %s | %.3f", report_metric_titles[m], r->friedman_stat[m], r->n_fam - 1, p, r->cd[m]);
        for (int fa = 0; fa < r->n_fam; fa++) fprintf(f, " | %.3f", r->avg_rank[m][fa]);
        fprintf(f, " |\n");
    }
    fprintf(f, "\nPost-hoc, per pair: Demsar's z test of the two average ranks and the corrected t-test of the mean "
               "difference, each Holm-adjusted over the %d pairs (per metric).\n\n| pair | metric | rank difference | "
               "rank z p, Holm | corrected t p, Holm |\n|---|---|---|---|---|\n",
            r->n_cmp);
    for (int i = 0; i < r->n_cmp; i++) {
        const RCompare *c = &r->cmp[i];
        for (int m = 0; m < C_COUNT; m++) {
            char pr[32], pt[32];
            report_fmt_p(pr, sizeof pr, r->p_rank_holm[m][i]);
            report_fmt_p(pt, sizeof pt, c->p_holm[m]);
            fprintf(f, "| %s - %s | %s | %+.3f | %s | %s |\n", r->fam[c->a].name, r->fam[c->b].name, report_metric_titles[m],
                    r->avg_rank[m][c->a] - r->avg_rank[m][c->b], pr, pt);
        }
    }
    fprintf(f, "\nThe Friedman test needs several folds to have any power, and its folds overlap in training data "
               "as the t-test's do (it takes them as independent blocks): read a small p as an indication, not as "
               "proof.\n\n");
}

static int have_file(const char *out, const char *name) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", out, name);
    return access(path, F_OK) == 0;
}

static void md_plots(FILE *f, const Report *r, const char *out, int plots, const char *note) {
    char iv[400];
    fprintf(f, "## Plots\n\n");
    if (!plots) {
        fprintf(f, "No plots: %s\n\n", note && note[0] ? note : "not requested (--no-plots).");
        return;
    }
    report_interval_text(iv, sizeof iv, r);
    fprintf(f, "Each as PNG and SVG; the data and gnuplot script are in `plotdata/` and `plots.gp` "
               "(rerun with `gnuplot plots.gp` in this folder).\n\n"
               "- Learning curves of the selected trials: mean over the folds with a band of ±1 SD; after early "
               "stopping, late epochs average fewer folds (the plot gives the number per epoch).\n\n"
               "![learning curves](learning_curves.png)\n\n"
               "- Test-fold scores per family: one point per fold, folds paired across families, the mean with its "
               "%s.\n\n![fold scores](fold_scores.png)\n\n"
               "- Confusion matrices summed over the outer test folds (colour: share of the true class).\n\n"
               "![confusion](confusion.png)\n\n"
               "- ROC curves of the out-of-fold predictions pooled over folds and repeats (binary: class 1 positive; "
               "more classes: one-vs-rest per class); their AUCs are the pooled ones, not the summary's mean over "
               "folds.\n\n![ROC](roc.png)\n\n",
            iv);
    if (r->n_cmp > 0 && have_file(out, "posterior.png"))
        fprintf(f, "- Posterior of the mean accuracy difference of each pair (Bayesian correlated t-test), with the "
                   "region of practical equivalence shaded: the areas left of, inside and right of it are the three "
                   "probabilities of the Comparison tables.\n\n![posterior](posterior.png)\n\n");
    if (r->staged && have_file(out, "rungs.png"))
        fprintf(f, "- The search (%s): mean validation loss per epoch of each configuration over the units its rung "
                   "decisions used (%s), the configurations that reached the top rung in colour, those stopped or "
                   "pruned at a lower rung in grey (pruned dashed); dotted vertical lines at the rungs' epochs. Here the colours "
                   "tell configurations apart, not families.\n\n"
                   "![rungs](rungs.png)\n\n",
                report_search_title(r), r->nested ? "the inner-fold trials of every outer fold" : "its outer trials");
    if (r->n_friedman > 0 && isfinite(r->cd[M_ACC]) && have_file(out, "cd_diagram.png"))
        fprintf(f, "- Critical-difference diagram (Demsar 2006): average ranks on accuracy over the folds all families "
                   "share (1 = best); families joined by a bar differ by less than the Nemenyi critical difference "
                   "and are not distinguishable.\n\n![critical difference](cd_diagram.png)\n\n");
}

static void md_errors(FILE *f, const Report *r, int sheet, const char *sheet_note) {
    fprintf(f, "## Error analysis\n\n");
    fprintf(f, "Test images that the first two families' selected trials classify differently in some fold, or that a "
               "family gets wrong in more than half of the repeats and seeds that test them: %d image(s), all in "
               "`errors.csv`; the first 20 here, most confidently wrong first: by p(true), the mean probability the "
               "models gave the true class over every test of the image by every family (ascending; ties by source "
               "path).\n\n",
            r->n_img);
    if (r->n_img == 0) return;
    if (sheet) fprintf(f, "![errors](errors.png)\n\nThe contact sheet shows the first 24 images, numbered as in the first column; under each: the true class, then per family the most frequent prediction and wrong/tested.\n\n");
    else fprintf(f, "No contact sheet: %s\n\n", sheet_note && sheet_note[0] ? sheet_note : "not requested.");
    fprintf(f, "| # | row | source path | true | p(true)");
    for (int fa = 0; fa < r->n_fam; fa++) fprintf(f, " | %s (wrong/tested)", r->fam[fa].name);
    fprintf(f, " | disagree |\n|---|---|---|---|---");
    for (int fa = 0; fa < r->n_fam + 1; fa++) fprintf(f, "|---");
    fprintf(f, "|\n");
    for (int i = 0; i < r->n_img && i < 20; i++) {
        const RImage *im = &r->img[i];
        fprintf(f, "| %d | %d | ", i + 1, im->index);
        md_cell(f, img_path(r, im->index)[0] ? img_path(r, im->index) : "?");
        fprintf(f, " | ");
        md_cell(f, class_name(r, im->label));
        fprintf(f, " | %.3f", im->p_true);
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
        write_errors_csv(r, out, e) || write_rungs_csv(r, out, e))
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
    md_search(f, r);
    md_selection(f, r);
    md_configs(f, r);
    md_compare(f, r);
    md_friedman(f, r);
    md_plots(f, r, out, plots, plot_note);
    md_errors(f, r, sheet, sheet_note);
    fprintf(f, "## Files\n\n- `report.md`: this report\n- `configs.csv`: one row per family and configuration\n"
               "- `folds.csv`: one row per outer trial (`selected` = 1 for the trials behind each family's estimate)\n"
               "- `comparisons.csv`: every test of every pair of families\n- `errors.csv`: the flagged images\n");
    if (r->staged) fprintf(f, "- `rungs.csv`: the search's rung table, one row per selection group, configuration and rung\n");
    if (plots) fprintf(f, "- `learning_curves`, `fold_scores`, `confusion`, `roc`%s (.png, .svg), `plots.gp`, `plotdata/`\n",
                       r->staged ? ", `rungs`" : "");
    if (sheet) fprintf(f, "- `errors.png`: contact sheet of the flagged images\n");
    fprintf(f, "\nHow to read the tests: see docs/report.md.\n");
    return report_close_file(f, out, NULL, "report.md", e);
}

/* OUT/NAME or OUT/SUB/NAME, and its temporary name (fsafe_tmp_name) */
static int report_paths(char *path, char *tmp, const char *out, const char *sub, const char *name, ErrBuf *e) {
    if (snprintf(path, 1400, "%s/%s%s%s", out, sub ? sub : "", sub ? "/" : "", name) >= 1400)
        return hipid_err(e, "%s: path too long", out);
    return fsafe_tmp_name(tmp, 1500, path, e);
}

FILE *report_open_file(const char *out, const char *sub, const char *name, ErrBuf *e) {
    char path[1400], tmp[1500];
    if (report_paths(path, tmp, out, sub, name, e) != HIPID_OK) return NULL;
    FILE *f = fopen(tmp, "w");
    if (!f) hipid_err(e, "%s: cannot write (%s)", tmp, strerror(errno));
    return f;
}

int report_close_file(FILE *f, const char *out, const char *sub, const char *name, ErrBuf *e) {
    char path[1400], tmp[1500];
    if (report_paths(path, tmp, out, sub, name, e) != HIPID_OK) {
        fclose(f);
        return HIPID_ERR;
    }
    return fsafe_fclose_commit(f, tmp, path, name, e);
}

void report_abandon_file(FILE *f, const char *out, const char *sub, const char *name) {
    char path[1400], tmp[1500];
    fclose(f);
    if (report_paths(path, tmp, out, sub, name, NULL) == HIPID_OK) remove(tmp);
}
