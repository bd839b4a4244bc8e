/* report_html.c: index.html, the report as one self-contained page (see
 * report_html.h). Only formatting: the numbers come from report.c, the
 * texts shared with report.md from report_write.c, the plots are the SVGs
 * report_plot.c made (inlined here: prolog and namespaces dropped, ids
 * prefixed so that two plots never share one). The only drawing done here:
 * the small per-configuration SVGs (learning curve, fold scores), from the
 * trials' histories and test accuracies. */
#include "hipid/report/report_html.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hipid/base/fsafe.h"
#include "hipid/report/report_plot.h"
#include "hipid/report/report_write.h"

/* ---- small formatters ---- */

/* Text or attribute value, escaped. */
static void esc(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A raw number for data-value: %.17g, "" when not finite. */
static void raw(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.17g", v);
}

/* A number with dec decimals (report_fmt_num), "n/a" when not finite. */
static void num(FILE *f, double v, int dec) {
    char b[48];
    report_fmt_num(b, sizeof b, v, dec);
    fputs(b, f);
}

static void pval(FILE *f, double p) {
    char b[32];
    report_fmt_p(b, sizeof b, p);
    fputs(b, f);
}

/* "0.833 ± 0.059 [0.772, 0.894]" as report.md's cells; the raw mean, SD
 * and interval in data- attributes. */
static void td_summary(FILE *f, const Summary *s) {
    fputs("<td class=\"n\" data-value=\"", f);
    raw(f, s->mean);
    fputs("\" data-sd=\"", f);
    raw(f, s->sd);
    fputs("\" data-lo=\"", f);
    raw(f, s->lo);
    fputs("\" data-hi=\"", f);
    raw(f, s->hi);
    fputs("\">", f);
    if (s->n == 0) fputs("n/a", f);
    else if (s->n == 1 || !isfinite(s->lo)) fprintf(f, "%.3f", s->mean);
    else {
        fprintf(f, "%.3f ± %.3f <span class=\"ci\">[", s->mean, s->sd);
        num(f, s->lo, 3);
        fputs(", ", f);
        num(f, s->hi, 3);
        fputs("]</span>", f);
    }
    fputs("</td>", f);
}

static const char *class_name(const Report *r, int c) { return c >= 0 && c < r->K ? r->class_names[c] : "-"; }

static const char *img_path(const Report *r, int index) {
    return r->source_paths && index < r->n_source ? r->source_paths[index] : "";
}

static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* A family's name with its plot colour. */
static void fam_label(FILE *f, const Report *r, int fa) {
    fprintf(f, "<span class=\"sw\" aria-hidden=\"true\" style=\"color:%s\">&#9632;</span>", report_family_colour(fa));
    esc(f, r->fam[fa].name);
}

static const RConfig *chosen_config(const Report *r, int f) {
    for (int i = 0; i < r->n_configs; i++)
        if (r->configs[i].fam == f && r->configs[i].config == r->fam[f].chosen) return &r->configs[i];
    return NULL;
}

/* ---- the page's frame ---- */

static const char CSS[] =
    ":root{--fg:#1a1a1a;--muted:#555;--line:#d0d0d0;--bg:#fff;--band:#f4f6f8;--warn:#fff4e0;--warnb:#D55E00;"
    "--ok:#0072B2}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif;"
    "color:var(--fg);background:var(--bg)}\n"
    "header,main,footer{max-width:1400px;margin:0 auto;padding:0 1rem}\n"
    "header{padding-top:1rem;border-bottom:1px solid var(--line)}\n"
    "h1{font-size:1.6rem;margin:.3rem 0}h2{font-size:1.3rem;margin:2rem 0 .6rem;border-bottom:2px solid var(--ok);"
    "padding-bottom:.2rem}h3{font-size:1.1rem;margin:1.4rem 0 .4rem}\n"
    "nav{margin:.6rem 0 .8rem}nav a{margin-right:1rem;color:var(--ok)}\n"
    ".meta,.caption{color:var(--muted);font-size:.9rem}\n"
    "code{font-family:ui-monospace,\"DejaVu Sans Mono\",monospace;font-size:.9em;overflow-wrap:anywhere}\n"
    ".wrap{overflow-x:auto;margin:.5rem 0;border:1px solid var(--line);border-radius:4px}\n"
    "table{border-collapse:collapse;width:100%;font-size:.88rem}\n"
    "th,td{padding:.3rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}\n"
    "thead th{background:var(--band);vertical-align:bottom}\n"
    "tbody tr:nth-child(even){background:#fafbfc}\n"
    "td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\n"
    ".ci{color:var(--muted)}td.n .ci{display:block}\n"
    ".hp{font-size:.8rem;color:var(--muted);min-width:15rem;max-width:24rem;overflow-wrap:anywhere}\n"
    "caption{text-align:left;padding:.3rem .5rem}\n"
    ".sw{margin-right:.3em}\n"
    ".warn{background:var(--warn);border-left:4px solid var(--warnb);padding:.5rem .8rem}\n"
    ".verdict{background:var(--band);border-left:4px solid var(--ok);padding:.5rem .8rem}\n"
    ".failed{color:var(--warnb);font-weight:600}.reason{display:block;font-size:.8rem;color:var(--muted);"
    "white-space:normal;min-width:14rem}\n"
    "table.sortable th{cursor:pointer;user-select:none}\n"
    "table.sortable th:focus{outline:2px solid var(--ok);outline-offset:-2px}\n"
    "th[aria-sort=ascending]::after{content:\" \\25B2\"}th[aria-sort=descending]::after{content:\" \\25BC\"}\n"
    ".filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;margin:.5rem 0}\n"
    ".filters label{font-weight:600}.filters select{margin-left:.3rem;font:inherit}\n"
    "figure{margin:1rem 0 1.6rem}figcaption{font-size:.9rem;color:var(--muted);max-width:60rem}\n"
    "svg.plot,img.sheet{display:block;max-width:100%;height:auto;border:1px solid var(--line)}\n"
    ".cfgs{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:.8rem;margin:.6rem 0 1rem}\n"
    "figure.cfg{margin:0;padding:.4rem .6rem;border:1px solid var(--line);border-radius:4px}\n"
    "figure.cfg figcaption{color:var(--fg);font-weight:600}\n"
    "svg.spark{display:block;width:100%;height:auto;margin:.2rem 0}svg.spark text{font:10px system-ui,sans-serif;"
    "fill:#555}\n"
    ".cfg .caption{margin:0}\n"
    ".rung-cfg{white-space:nowrap}.rung-cfg.stopped,.rung-cfg.pruned{color:var(--muted)}"
    ".rung-cfg.top{font-weight:600}td.stage{white-space:nowrap}\n"
    "footer{border-top:1px solid var(--line);margin-top:2rem;padding-bottom:2rem;color:var(--muted);"
    "font-size:.9rem}\n"
    "@media (max-width:700px){body{font-size:14px}h1{font-size:1.3rem}nav a{display:inline-block;"
    "margin:.15rem .8rem .15rem 0}}\n"
    "@media print{body{font-size:10pt}nav,.filters{display:none}header,main,footer{max-width:none;padding:0}"
    ".wrap{overflow:visible;border:0}table{font-size:8pt;page-break-inside:auto}thead{display:table-header-group}"
    "thead th{position:static}tr,figure,svg.plot,img.sheet{break-inside:avoid;page-break-inside:avoid}"
    "tr[hidden]{display:table-row}td.n,thead th{white-space:normal}.hp{min-width:0}"
    "svg.plot,img.sheet{max-width:100%;max-height:24cm;border:0}h2{break-after:avoid}a{color:inherit}"
    "table.sortable th::after{content:none}}\n";

/* Sorting and filtering of table.sortable (#trials); nothing else. */
static const char JS[] =
    "(function(){\n"
    "'use strict';\n"
    "function cmp(a,b){var x=Number(a),y=Number(b);\n"
    " if(a!==''&&b!==''&&!isNaN(x)&&!isNaN(y))return x-y;\n"
    " if(a==='')return b===''?0:1;if(b==='')return -1;\n"
    " return a.localeCompare(b,undefined,{numeric:true});}\n"
    "function sortBy(table,th){\n"
    " var ths=table.tHead.rows[0].cells,i=th.cellIndex,j;\n"
    " var dir=th.getAttribute('aria-sort')==='ascending'?'descending':'ascending';\n"
    " for(j=0;j<ths.length;j++)ths[j].removeAttribute('aria-sort');\n"
    " th.setAttribute('aria-sort',dir);\n"
    " var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);\n"
    " rows.sort(function(p,q){var a=p.cells[i].getAttribute('data-value')||'',"
    "b=q.cells[i].getAttribute('data-value')||'';\n"
    "  var c=cmp(a,b);if(a===''||b==='')return c;return dir==='ascending'?c:-c;});\n"
    " for(j=0;j<rows.length;j++)body.appendChild(rows[j]);}\n"
    "function filter(table){\n"
    " var ff=document.getElementById('filter-family'),fs=document.getElementById('filter-state');\n"
    " var f=ff?ff.value:'',s=fs?fs.value:'',rows=table.tBodies[0].rows,n=0,j;\n"
    " for(j=0;j<rows.length;j++){var r=rows[j];\n"
    "  r.hidden=(f!==''&&r.getAttribute('data-family')!==f)||(s!==''&&r.getAttribute('data-state')!==s);\n"
    "  if(!r.hidden)n++;}\n"
    " var out=document.getElementById('trial-count');\n"
    " if(out)out.textContent=n+' of '+rows.length+' trials shown';}\n"
    "var tables=document.querySelectorAll('table.sortable'),k;\n"
    "for(k=0;k<tables.length;k++)(function(table){\n"
    " var ths=table.tHead.rows[0].cells,j;\n"
    " for(j=0;j<ths.length;j++){ths[j].tabIndex=0;\n"
    "  ths[j].addEventListener('click',function(ev){sortBy(table,ev.currentTarget);});\n"
    "  ths[j].addEventListener('keydown',function(ev){if(ev.key==='Enter'||ev.key===' '){ev.preventDefault();"
    "sortBy(table,ev.currentTarget);}});}\n"
    "})(tables[k]);\n"
    "var trials=document.getElementById('trials'),box=document.getElementById('trial-filters');\n"
    "if(trials&&box){box.hidden=false;\n"
    " ['filter-family','filter-state'].forEach(function(id){var el=document.getElementById(id);\n"
    "  if(el)el.addEventListener('change',function(){filter(trials);});});\n"
    " filter(trials);}\n"
    "})();\n";

static void head(FILE *f, const Report *r) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>hipid report: ", f);
    esc(f, r->job[0] ? r->job : r->dir);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", CSS);
}

static void header(FILE *f, const Report *r) {
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime(&now));
    fputs("<header>\n<h1>Report: ", f);
    esc(f, r->job[0] ? r->job : r->dir);
    fprintf(f, "</h1>\n<p class=\"meta\">Made by <code>hipid report</code> on %s from <code>", when);
    esc(f, r->dir);
    fputs("</code>", f);
    if (r->job_file[0]) {
        fputs(" (job file <code>", f);
        esc(f, r->job_file);
        fputs("</code>)", f);
    }
    fputs(". Data set <code>", f);
    esc(f, r->data);
    fprintf(f, "</code>. %d classes:", r->K);
    for (int c = 0; c < r->K; c++) {
        fputs(c ? ", " : " ", f);
        esc(f, r->class_names[c]);
    }
    fprintf(f, ". Metrics are recomputed from each trial's stored test predictions.</p>\n<nav aria-label=\"sections\">"
               "<a href=\"#verdict\">Summary</a><a href=\"#trial-list\">Trials</a>%s<a href=\"#configs\">Configurations"
               "</a><a href=\"#comparisons\">Comparisons</a><a href=\"#plots\">Plots</a><a href=\"#errors\">Error "
               "analysis</a></nav>\n</header>\n<main>\n", r->staged ? "<a href=\"#search\">Search</a>" : "");
}

/* ---- summary and verdicts ---- */

/* The majority class and "beats it?" cells: F's rate, with learned and p of
 * the family or of its ensemble. */
static void summary_base(FILE *f, const Report *r, const RFamily *F, int learned, double p) {
    if (learned < 0) {
        fputs("<td>n/a</td><td>n/a</td>", f);
        return;
    }
    fputs("<td class=\"n\" data-value=\"", f);
    raw(f, F->base_rate);
    fprintf(f, "\">%.3f (", F->base_rate);
    esc(f, class_name(r, F->base_class));
    fprintf(f, ")</td><td class=\"n\" data-value=\"%d\">%s, ", learned, learned ? "yes" : "<strong>no</strong>");
    pval(f, p);
    fputs("</td>", f);
}

static void summary_row(FILE *f, const Report *r, int fa) {
    const RFamily *F = &r->fam[fa];
    fputs("<tr data-family=\"", f);
    esc(f, F->name);
    fputs("\"><th scope=\"row\">", f);
    fam_label(f, r, fa);
    fputs("</th><td class=\"hp\">", f);
    if (r->nested) fputs("per outer fold (see Configurations)", f);
    else if (F->chosen >= 0) {
        fprintf(f, "c%d: ", F->chosen);
        esc(f, chosen_config(r, fa)->hparams);
    } else fputs("none (no finished trial)", f);
    fprintf(f, "</td><td class=\"n\" data-value=\"%d\">%d</td>", F->n_sel, F->n_sel);
    td_summary(f, &F->m[M_ACC]);
    summary_base(f, r, F, F->learned, F->base_p);
    static const int rest[] = {M_BACC, M_F1, M_AUC};
    for (int i = 0; i < 3; i++) td_summary(f, &F->m[rest[i]]);
    fputs("<td class=\"n\" data-value=\"", f);
    raw(f, F->auc_pooled);
    fputs("\">", f);
    num(f, F->auc_pooled, 3);
    fputs("</td></tr>\n", f);
}

/* An ensemble row's cells from accuracy on (its baseline is F's). */
static void ensemble_cells(FILE *f, const Report *r, const RFamily *F, const REnsemble *E) {
    td_summary(f, &E->m[M_ACC]);
    summary_base(f, r, F, E->learned, E->base_p);
    static const int rest[] = {M_BACC, M_F1, M_AUC};
    for (int i = 0; i < 3; i++) td_summary(f, &E->m[rest[i]]);
    fputs("<td>n/a</td></tr>\n", f);
}

/* The family's ensemble over seeds (report.h), as report.md's row. */
static void ensemble_row(FILE *f, const Report *r, int fa) {
    const RFamily *F = &r->fam[fa];
    const REnsemble *E = &F->ens;
    if (E->seeds < 2) return;
    fputs("<tr data-ensemble=\"", f);
    esc(f, F->name);
    fputs("\"><th scope=\"row\">", f);
    esc(f, F->name);
    fprintf(f, ", ensemble of %d seeds</th><td class=\"hp\">the selected trials above, probabilities averaged per test "
               "fold</td><td class=\"n\" data-value=\"%d\">%d</td>", E->seeds, E->n_folds, E->n_folds);
    ensemble_cells(f, r, F, E);
}

/* The job's ensemble over families (report.h), as report.md's row. */
static void fens_row(FILE *f, const Report *r) {
    const RFamEnsemble *X = &r->fens;
    if (X->n_fam == 0 || X->e.n_folds == 0) return;
    fputs("<tr data-job-ensemble=\"1\"><th scope=\"row\">ensemble of ", f);
    for (int i = 0; i < X->n_fam; i++) {
        if (i) fputs(" + ", f);
        esc(f, r->fam[X->fam[i]].name);
    }
    fprintf(f, "</th><td class=\"hp\">the job's ensemble: the selected models of these families, probabilities "
               "averaged per test fold (%d per fold)</td><td class=\"n\" data-value=\"%d\">%d</td>", X->e.seeds,
            X->e.n_folds, X->e.n_folds);
    ensemble_cells(f, r, &r->fam[X->fam[0]], &X->e);
}

static void summary_table(FILE *f, const Report *r) {
    char iv[400];
    report_interval_text(iv, sizeof iv, r);
    fputs("<div class=\"wrap\"><table id=\"summary\">\n<caption class=\"caption\">Per family: the selected "
          "configuration and its estimate on the outer test folds</caption>\n<thead><tr><th scope=\"col\">family</th>"
          "<th scope=\"col\">selected configuration</th><th scope=\"col\">test folds</th><th scope=\"col\">accuracy</th>"
          "<th scope=\"col\">majority class</th><th scope=\"col\">beats it?</th><th scope=\"col\">balanced accuracy</th>"
          "<th scope=\"col\">macro-F1</th><th scope=\"col\">ROC AUC, mean over folds</th><th scope=\"col\">ROC AUC, "
          "pooled out-of-fold</th></tr></thead>\n<tbody>\n", f);
    int ens = 0;
    for (int fa = 0; fa < r->n_fam; fa++) {
        summary_row(f, r, fa);
        ensemble_row(f, r, fa);
        ens |= r->fam[fa].ens.seeds >= 2;
    }
    fens_row(f, r);
    fputs("</tbody></table></div>\n<p class=\"caption\">Cells: mean ± SD over the test folds (the plain SD, for "
          "reference) [", f);
    esc(f, iv);
    fputs("]. ROC AUC, pooled: one AUC of the out-of-fold predictions of every selected test fold together (what the "
          "roc plot shows); no interval. Majority class: the accuracy of always answering the most frequent class; "
          "beats it?: exact one-sided binomial test of the correct answers of one pass over the data (each image "
          "tested once).", f);
    if (ens)
        fputs(" Ensemble rows: on each test fold, the mean of the class probabilities of that family's selected models "
              "of every seed, scored as one model; beats it? on the first repeat's folds.", f);
    fputs("</p>\n", f);
    char text[2400];
    report_fens_text(text, sizeof text, r);
    if (text[0]) {
        fputs("<p id=\"job-ensemble\"><strong>The job's ensemble</strong> ", f);
        esc(f, text);
        fputs(".</p>\n", f);
    }
}

/* The leakage line, as report.md's. */
static void leaks(FILE *f, const Report *r) {
    long worst, dup_only;
    if (!report_leak_totals(r, &worst, &dup_only)) return;
    fprintf(f, "<p id=\"leakage\"%s><strong>%s</strong> (first pass, each image tested once):", worst ? " class=\"warn\"" : "",
            worst ? "Warning: leakage." : "Leakage check");
    for (int fa = 0; fa < r->n_fam; fa++) {
        const RFamily *F = &r->fam[fa];
        if (F->leak_group < 0 || F->base_n == 0) continue;
        fputs(fa ? "; " : " ", f);
        esc(f, F->name);
        fprintf(f, ": %ld of %ld test images share a leakage group (patient or near-duplicate) with an image their "
                   "model was fitted on", F->leak_group, F->base_n);
        if (F->leak_dup >= 0) fprintf(f, ", %ld have a near-duplicate (same radiograph) there", F->leak_dup);
    }
    fprintf(f, ".%s</p>\n", worst ? " Their accuracy is optimistic: the splits did not keep groups together "
                                    "(<code>[cv] groups = no</code>?)."
                            : dup_only ? " The copies on both sides are label conflicts (one film under two labels, "
                                         "kept apart by label; <code>hipid audit</code> lists them)." : "");
}

static void friedman_lines(FILE *f, const Report *r) {
    if (r->n_fam < 3) return;
    fprintf(f, "<p><strong>Friedman test</strong> over the %d test folds all %d families share (ranks within each "
               "fold, 1 = best):</p>\n<ul>\n", r->n_friedman, r->n_fam);
    for (int m = 0; m < C_COUNT; m++) {
        fprintf(f, "<li>%s: chi-square %.2f, ", report_metric_titles[m], r->friedman_stat[m]);
        pval(f, r->friedman_p[m]);
        fputs("; average ranks", f);
        for (int fa = 0; fa < r->n_fam; fa++) {
            fputs(fa ? ", " : " ", f);
            esc(f, r->fam[fa].name);
            fprintf(f, " %.2f", r->avg_rank[m][fa]);
        }
        fputs("; Nemenyi critical difference ", f);
        num(f, r->cd[m], 2);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
}

static void section_verdict(FILE *f, const Report *r) {
    fputs("<section id=\"verdict\">\n<h2>Summary</h2>\n<p>Results <code>", f);
    esc(f, r->dir);
    fprintf(f, "</code>. Design: %s. %d of %d planned trials done (%d failed, %d missing, %d unreadable).</p>\n",
            r->nested ? "nested" : "not nested", r->n_done, r->have_index ? r->n_planned : r->n_done + r->n_failed,
            r->n_failed, r->n_missing, r->n_skipped);
    for (int i = 0; i < r->n_cmp; i++) {
        fprintf(f, "<p class=\"verdict\"><strong>Verdict%s:</strong> ", i ? " (further pair)" : "");
        esc(f, r->cmp[i].verdict);
        fputs(".</p>\n", f);
    }
    summary_table(f, r);
    for (int fa = 0; fa < r->n_fam; fa++) {
        char s[700];
        report_base_sentence(s, sizeof s, r, fa);
        if (!s[0]) continue;
        fputs("<p class=\"warn\"><strong>Warning:</strong> ", f);
        esc(f, s);
        fputs(".</p>\n", f);
    }
    leaks(f, r);
    friedman_lines(f, r);
    fputs("</section>\n", f);
}

/* ---- the trials table ---- */

static const char *const trial_keys[] = {"family", "config", "unit", "seed", "state", "epochs", "best_epoch",
                                         "val_loss", "val_acc", "test_acc", "test_auc", "seconds", "ranks"};
static const char *const trial_titles[] = {"family", "config", "CV unit", "seed", "state", "epochs run",
                                           "best epoch", "val loss", "val accuracy", "test accuracy", "test AUC",
                                           "seconds", "ranks"};
#define N_TRIAL_COLS (int)(sizeof trial_keys / sizeof trial_keys[0])

static void td_int(FILE *f, int v) {
    if (v < 0) fputs("<td class=\"n\" data-value=\"\">-</td>", f);
    else fprintf(f, "<td class=\"n\" data-value=\"%d\">%d</td>", v, v);
}

/* A measured number: raw in data-value, shown with dec decimals (failed
 * trials' metrics are shown as "-": they were never measured). */
static void td_real(FILE *f, double v, int dec, int show) {
    fputs("<td class=\"n\" data-value=\"", f);
    raw(f, v);
    fputs("\">", f);
    if (show && isfinite(v)) fprintf(f, "%.*f", dec, v);
    else fputs("-", f);
    fputs("</td>", f);
}

static void trial_ident(FILE *f, const Report *r, const RTrial *t) {
    fputs("<td data-value=\"", f);
    esc(f, r->fam[t->fam].name);
    fputs("\">", f);
    fam_label(f, r, t->fam);
    fprintf(f, "</td><td data-value=\"%d\" title=\"", t->config);
    esc(f, t->hparams);
    fprintf(f, "\">c%d</td>", t->config);
    fprintf(f, "<td data-value=\"%d %d %d\">repeat %d, fold %d", t->repeat, t->outer, t->inner, t->repeat, t->outer);
    if (t->inner >= 0) fprintf(f, ", inner %d", t->inner);
    fprintf(f, "</td><td class=\"n\" data-value=\"%d\">%d</td>", t->seed, t->seed);
    fprintf(f, "<td data-value=\"%s\">", t->done ? "done" : "failed");
    if (t->done) fputs("done", f);
    else {
        fputs("<span class=\"failed\">failed</span><span class=\"reason\">", f);
        esc(f, t->reason);
        fputs("</span>", f);
    }
    fputs("</td>", f);
}

static void trial_row(FILE *f, const Report *r, const RTrial *t) {
    fputs("<tr data-file=\"trials/", f);
    esc(f, base_name(t->path));
    fputs("\" data-family=\"", f);
    esc(f, r->fam[t->fam].name);
    fprintf(f, "\" data-state=\"%s\">", t->done ? "done" : "failed");
    trial_ident(f, r, t);
    td_int(f, t->epochs_run);
    td_int(f, t->best_epoch);
    td_real(f, t->val_loss, 4, t->done);
    td_real(f, t->val_acc, 3, t->done);
    td_real(f, t->test_acc, 3, t->done);
    td_real(f, t->done ? t->m[M_AUC] : NAN, 3, t->done);
    td_real(f, t->seconds, 1, 1);
    td_int(f, t->ranks);
    fputs("</tr>\n", f);
}

/* The family and state selects, shown only when the script runs. */
static void trial_filters(FILE *f, const Report *r) {
    fputs("<div class=\"filters\" id=\"trial-filters\" hidden>\n<label for=\"filter-family\">Family"
          "<select id=\"filter-family\"><option value=\"\">all</option>", f);
    for (int fa = 0; fa < r->n_fam; fa++) {
        fputs("<option value=\"", f);
        esc(f, r->fam[fa].name);
        fputs("\">", f);
        esc(f, r->fam[fa].name);
        fputs("</option>", f);
    }
    fputs("</select></label>\n<label for=\"filter-state\">State<select id=\"filter-state\"><option value=\"\">all"
          "</option><option value=\"done\">done</option><option value=\"failed\">failed</option></select></label>\n"
          "<span id=\"trial-count\" aria-live=\"polite\"></span>\n</div>\n", f);
}

/* Rows in reading order: family, configuration, outer before inner
 * trials, repeat, outer fold, inner fold, seed. */
static int trial_order(const void *a, const void *b) {
    const RTrial *x = *(const RTrial *const *)a, *y = *(const RTrial *const *)b;
    int kx[] = {x->fam, x->config, x->inner >= 0, x->repeat, x->outer, x->inner, x->seed};
    int ky[] = {y->fam, y->config, y->inner >= 0, y->repeat, y->outer, y->inner, y->seed};
    for (int i = 0; i < 7; i++)
        if (kx[i] != ky[i]) return kx[i] < ky[i] ? -1 : 1;
    return 0;
}

static void trial_table(FILE *f, const Report *r) {
    trial_filters(f, r);
    fputs("<div class=\"wrap\"><table id=\"trials\" class=\"sortable\">\n<caption class=\"caption\">Every readable "
          "trial file; click a column heading to sort by it</caption>\n<thead><tr>", f);
    for (int k = 0; k < N_TRIAL_COLS; k++)
        fprintf(f, "<th scope=\"col\" data-key=\"%s\">%s</th>", trial_keys[k], trial_titles[k]);
    fputs("</tr></thead>\n<tbody>\n", f);
    const RTrial **order = xcalloc((size_t)r->n_trials + 1, sizeof *order);
    for (int i = 0; i < r->n_trials; i++) order[i] = &r->trials[i];
    qsort(order, (size_t)r->n_trials, sizeof *order, trial_order);
    for (int i = 0; i < r->n_trials; i++) trial_row(f, r, order[i]);
    free(order);
    fputs("</tbody></table></div>\n<p class=\"caption\">CV unit: repeat, outer fold and, for the inner trials of a "
          "nested design, the inner fold. Epochs, best epoch, validation loss and accuracy, test accuracy, seconds and "
          "ranks as the trial file records them; test AUC recomputed from its stored predictions (one-vs-rest macro "
          "for more than two classes). The report's other tables recompute accuracy from the predictions too; both "
          "agree to float precision.</p>\n", f);
}

static void section_trials(FILE *f, const Report *r) {
    fputs("<section id=\"trial-list\">\n<h2>Trials</h2>\n", f);
    if (r->have_index)
        fprintf(f, "<p>The sweep index plans %d trials (%d outer, %d inner). Trial files read: %d done, %d failed; %d "
                   "missing, %d unreadable", r->n_planned, r->n_outer_planned,
                r->n_planned - r->n_outer_planned, r->n_done, r->n_failed, r->n_missing, r->n_skipped);
    if (r->have_index && r->staged)
        fprintf(f, "; %d not needed by the search (their configuration was stopped or pruned before them)",
                r->n_not_needed);
    if (r->have_index) fputs(".</p>\n", f);
    else
        fprintf(f, "<p>No sweep index: trial files read: %d done, %d failed, %d unreadable.</p>\n", r->n_done,
                r->n_failed, r->n_skipped);
    if (r->n_missing || r->n_failed || r->n_skipped || r->n_open)
        fputs("<p class=\"warn\"><strong>The sweep is incomplete</strong>: the tables use the finished trials only. "
              "Rerun <code>hipid sweep</code> on the same job file to finish it.</p>\n", f);
    if (r->n_lines) fputs("<ul>\n", f);
    for (int i = 0; i < r->n_lines && i < 50; i++) {
        fputs("<li>", f);
        esc(f, r->lines[i]);
        fputs("</li>\n", f);
    }
    if (r->n_lines > 50) fprintf(f, "<li>... and %d more</li>\n", r->n_lines - 50);
    if (r->n_lines) fputs("</ul>\n", f);
    for (int i = 0; i < r->n_notes; i++) {
        fputs("<p>Note: ", f);
        esc(f, r->notes[i]);
        fputs("</p>\n", f);
    }
    trial_table(f, r);
    fputs("</section>\n", f);
}

/* ---- the search (staged sweeps only) ---- */

/* One row per selection group and rung: counts per outcome, then each
 * configuration with its score as a span (DOM contract in report_html.h). */
static void rung_row(FILE *f, const Report *r, int i, int j) {
    const RungRow *a = &r->rungs[i];
    int n_st[RUNG_OPEN + 1] = {0};
    for (int k = i; k < j; k++) n_st[r->rungs[k].state]++;
    fputs("<tr data-family=\"", f);
    esc(f, r->fam[a->family].name);
    fprintf(f, "\" data-bracket=\"%d\" data-repeat=\"%d\" data-outer=\"%d\" data-rung=\"%d\" data-epochs=\"%d\">"
               "<th scope=\"row\">", a->bracket, a->repeat, a->outer, a->rung, a->epochs);
    fam_label(f, r, a->family);
    fprintf(f, "</th><td class=\"n\">%d</td>", a->bracket);
    if (r->nested) fprintf(f, "<td>repeat %d, fold %d</td>", a->repeat, a->outer);
    fprintf(f, "<td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%d</td>", a->rung, a->epochs, j - i);
    for (int st = RUNG_PROMOTED; st <= (r->n_open ? RUNG_OPEN : RUNG_TOP); st++)
        fprintf(f, "<td class=\"n\">%d</td>", n_st[st]);
    fputs("<td>", f);
    for (int k = i; k < j; k++) {
        const RungRow *g = &r->rungs[k];
        fprintf(f, "%s<span class=\"rung-cfg %s\" data-config=\"%d\" data-n-units=\"%d\" data-state=\"%s\" "
                   "data-score=\"", k > i ? ", " : "", rung_state_names[g->state], g->config, g->n_units,
                rung_state_names[g->state]);
        raw(f, g->score);
        fprintf(f, "\">c%d ", g->config);
        num(f, report_rung_shown(r, g->score), 4);
        fprintf(f, " %s</span>", rung_state_names[g->state]);
    }
    fputs("</td></tr>\n", f);
}

static void section_search(FILE *f, const Report *r) {
    if (!r->staged) return;
    char txt[2000];
    int acc = strcmp(r->metric, "val_acc") == 0;
    report_search_text(txt, sizeof txt, r);
    fputs("<section id=\"search\">\n<h2>Search: ", f);
    esc(f, report_search_title(r));
    fputs("</h2>\n<p id=\"search-compute\" data-epochs-spent=\"", f);
    raw(f, r->epochs_spent);
    fputs("\" data-grid-epochs=\"", f);
    raw(f, r->grid_epochs);
    fprintf(f, "\" data-configs=\"%d\" data-top=\"%d\" data-groups=\"%d\">", r->n_staged_configs, r->n_top,
            r->n_groups);
    esc(f, txt);
    fputs("</p>\n<div class=\"wrap\"><table id=\"rung-table\">\n<thead><tr><th scope=\"col\">family</th>"
          "<th scope=\"col\">bracket</th>", f);
    if (r->nested) fputs("<th scope=\"col\">outer fold</th>", f);
    fputs("<th scope=\"col\">rung</th><th scope=\"col\">epochs</th><th scope=\"col\">entered</th>"
          "<th scope=\"col\">promoted</th><th scope=\"col\">stopped</th><th scope=\"col\">pruned</th>"
          "<th scope=\"col\">top</th>", f);
    if (r->n_open) fputs("<th scope=\"col\">open</th>", f);
    fprintf(f, "<th scope=\"col\">configurations (%s, outcome)</th></tr></thead>\n<tbody>\n", acc ? "val acc" : "val loss");
    for (int i = 0; i < r->n_rungs;) {
        int j = i + 1;
        const RungRow *a = &r->rungs[i];
        while (j < r->n_rungs && r->rungs[j].family == a->family && r->rungs[j].bracket == a->bracket &&
               r->rungs[j].repeat == a->repeat && r->rungs[j].outer == a->outer && r->rungs[j].rung == a->rung)
            j++;
        rung_row(f, r, i, j);
        i = j;
    }
    fprintf(f, "</tbody></table></div>\n<p class=\"caption\">Per selection group and rung: the configurations that "
               "entered it and what became of them (promoted to the next rung; stopped: not among the best 1/%d; "
               "pruned after the rung's first wave; top: reached the bracket's last rung%s), each with its mean %s "
               "over the group's units at the rung's epochs (%s), best first. <code>rungs.csv</code> has the same "
               "rows.</p>\n</section>\n",
            r->eta, r->n_open ? "; open: not decided yet" : "", acc ? "validation accuracy" : "lowest validation loss",
            acc ? "higher is better" : "lower is better");
}

/* ---- configurations ---- */

static void config_row(FILE *f, const Report *r, const RConfig *c) {
    int sel = !r->nested && r->fam[c->fam].chosen == c->config;
    fputs("<tr data-family=\"", f);
    esc(f, r->fam[c->fam].name);
    fprintf(f, "\" data-config=\"%d\"><th scope=\"row\">", c->config);
    fam_label(f, r, c->fam);
    fprintf(f, "</th><td><a href=\"#cfg-%d-%d\">c%d</a>%s</td>", c->fam, c->config, c->config,
            sel ? " <strong>(selected)</strong>" : "");
    if (r->staged) {
        char st[400];
        report_config_stage(st, sizeof st, r, c->fam, c->config);
        fputs("<td class=\"stage\">", f);
        esc(f, st[0] ? st : "-");
        fputs("</td>", f);
    }
    fprintf(f, "<td class=\"n\">%d</td><td class=\"n\">%d</td>", c->n_done, c->n_failed);
    if (r->nested) fprintf(f, "<td class=\"n\">%d</td>", c->n_selected);
    td_real(f, c->val_loss, 4, 1);
    for (int m = 0; m < M_COUNT; m++) td_summary(f, &c->m[m]);
    fputs("<td class=\"hp\">", f);
    esc(f, c->hparams);
    fputs("</td></tr>\n", f);
}

static void config_table(FILE *f, const Report *r) {
    char iv[400];
    report_interval_text(iv, sizeof iv, r);
    fputs("<div class=\"wrap\"><table id=\"config-table\">\n<thead><tr><th scope=\"col\">family</th>"
          "<th scope=\"col\">config</th>", f);
    if (r->staged) fputs("<th scope=\"col\">rung reached</th>", f);
    fputs("<th scope=\"col\">trials</th><th scope=\"col\">failed</th>", f);
    if (r->nested) fputs("<th scope=\"col\">selected (outer folds)</th>", f);
    fputs("<th scope=\"col\">val loss</th>", f);
    for (int m = 0; m < M_COUNT; m++) fprintf(f, "<th scope=\"col\">%s</th>", report_metric_titles[m]);
    fputs("<th scope=\"col\">hyperparameters</th></tr></thead>\n<tbody>\n", f);
    for (int i = 0; i < r->n_configs; i++) config_row(f, r, &r->configs[i]);
    fputs("</tbody></table></div>\n<p class=\"caption\">Outer test folds only (every configuration, not just the "
          "selected ones; <code>configs.csv</code> has every column, <code>folds.csv</code> every fold). Cells: mean "
          "± SD [", f);
    esc(f, iv);
    fputs("]. ROC AUC: mean over folds.", f);
    if (r->staged)
        fputs(" Rung reached: how far the search took the configuration; only those at the top rung are candidates "
              "for selection, the others were trained for fewer epochs and enter no family's estimate.", f);
    fputs("</p>\n", f);
}

/* ---- per-configuration plots ----
 * Two small SVGs per configuration, drawn here (report_plot.c's gnuplot
 * figures show the selected configurations only): the learning curve and
 * the fold scores of its done outer trials. The plotted numbers are in
 * data- attributes (%.9g, "NaN" for an epoch without a finite value). */

#define SPARK_W 240.0
#define LC_H 100.0
#define LC_X0 36.0
#define LC_X1 232.0
#define LC_Y0 8.0
#define LC_Y1 76.0
#define FS_H 50.0
#define FS_X0 8.0
#define FS_X1 232.0
#define FS_AXIS 32.0

/* The mean of history row `row` at epoch ep over the trials that ran it
 * (finite values only; NaN if none); *n_ran: how many ran it. */
static double hist_mean(const RTrial *const *ts, int n, int row, int ep, int *n_ran) {
    double s = 0;
    int m = 0, ran = 0;
    for (int i = 0; i < n; i++) {
        if (!ts[i]->hist || ep >= ts[i]->n_epochs) continue;
        ran++;
        double v = ts[i]->hist[(size_t)row * ts[i]->n_epochs + ep];
        if (isfinite(v)) s += v, m++;
    }
    if (n_ran) *n_ran = ran;
    return m ? s / m : NAN;
}

typedef struct {
    int E;               /* epochs of the longest trial */
    double *val, *train; /* (E) mean validation and train loss per epoch */
    int *ran;            /* (E) trials that ran the epoch */
    double lo, hi;       /* range of the finite means of both; NaN if none */
} CfgCurve;

static void curve_make(CfgCurve *c, const RTrial *const *ts, int n) {
    c->E = 0;
    for (int i = 0; i < n; i++)
        if (ts[i]->hist && ts[i]->n_epochs > c->E) c->E = ts[i]->n_epochs;
    c->val = xcalloc((size_t)c->E + 1, sizeof(double));
    c->train = xcalloc((size_t)c->E + 1, sizeof(double));
    c->ran = xcalloc((size_t)c->E + 1, sizeof(int));
    c->lo = INFINITY, c->hi = -INFINITY;
    for (int ep = 0; ep < c->E; ep++) {
        c->val[ep] = hist_mean(ts, n, 2, ep, &c->ran[ep]);
        c->train[ep] = hist_mean(ts, n, 0, ep, NULL);
        double v[2] = {c->val[ep], c->train[ep]};
        for (int k = 0; k < 2; k++)
            if (isfinite(v[k])) c->lo = fmin(c->lo, v[k]), c->hi = fmax(c->hi, v[k]);
    }
    if (c->lo > c->hi) c->lo = c->hi = NAN;
}

static void curve_free(CfgCurve *c) {
    free(c->val);
    free(c->train);
    free(c->ran);
}

/* ` NAME="v0 v1 ..."` with %.9g, NaN as "NaN". */
static void data_list(FILE *f, const char *name, const double *v, int n) {
    fprintf(f, " %s=\"", name);
    for (int i = 0; i < n; i++) {
        if (i) fputc(' ', f);
        if (isfinite(v[i])) fprintf(f, "%.9g", v[i]);
        else fputs("NaN", f);
    }
    fputc('"', f);
}

/* First and last finite value of v (n), NaN if none. */
static void ends(const double *v, int n, double *first, double *last) {
    *first = *last = NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            if (!isfinite(*first)) *first = v[i];
            *last = v[i];
        }
}

/* The curve's description: aria-label and <title>. */
static void curve_text(char *buf, size_t cap, const CfgCurve *c, int n) {
    double v0, v1, t0, t1;
    ends(c->val, c->E, &v0, &v1);
    ends(c->train, c->E, &t0, &t1);
    size_t k = 0;
    if (isfinite(v0)) k = (size_t)snprintf(buf, cap, "validation loss from %.3g to %.3g", v0, v1);
    else k = (size_t)snprintf(buf, cap, "no validation loss recorded");
    k += (size_t)snprintf(buf + k, cap - k, " over %d epoch%s, %d fold%s", c->E, c->E == 1 ? "" : "s", n,
                          n == 1 ? "" : "s");
    if (c->E > 0 && c->ran[c->E - 1] < n && k < cap)
        k += (size_t)snprintf(buf + k, cap - k, " (%d ran all %d epochs; later epochs average fewer folds)",
                              c->ran[c->E - 1], c->E);
    if (isfinite(t0) && k < cap)
        k += (size_t)snprintf(buf + k, cap - k, "; train loss (dashed) from %.3g to %.3g", t0, t1);
    if (isfinite(c->lo) && k < cap) snprintf(buf + k, cap - k, "; loss axis %.3g to %.3g", c->lo, c->hi);
}

static double curve_x(const CfgCurve *c, int ep) {
    return c->E > 1 ? LC_X0 + (LC_X1 - LC_X0) * ep / (c->E - 1) : (LC_X0 + LC_X1) / 2;
}

static double curve_y(const CfgCurve *c, double v) {
    return c->hi > c->lo ? LC_Y0 + (LC_Y1 - LC_Y0) * (c->hi - v) / (c->hi - c->lo) : (LC_Y0 + LC_Y1) / 2;
}

/* One series as a path (a gap where an epoch has no value), a dot when it
 * has a single point. */
static void curve_line(FILE *f, const CfgCurve *c, const double *v, const char *style) {
    int pts = 0, last = -1;
    for (int ep = 0; ep < c->E; ep++) pts += isfinite(v[ep]) != 0;
    if (pts == 0) return;
    fprintf(f, "<path fill=\"none\" %s d=\"", style);
    for (int ep = 0; ep < c->E; ep++) {
        if (!isfinite(v[ep])) continue;
        fprintf(f, "%s%.2f %.2f ", last >= 0 && last == ep - 1 ? "L" : "M", curve_x(c, ep), curve_y(c, v[ep]));
        last = ep;
    }
    fputs("\"/>", f);
    for (int ep = 0; ep < c->E && pts == 1; ep++)
        if (isfinite(v[ep]))
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"#555\"/>", curve_x(c, ep), curve_y(c, v[ep]));
}

/* Axis labels: the loss range on the left, the epochs below. */
static void curve_axes(FILE *f, const CfgCurve *c) {
    fprintf(f, "<path fill=\"none\" stroke=\"#999\" d=\"M%.0f %.0f V%.0f H%.0f\"/>", LC_X0 - 4, LC_Y0, LC_Y1 + 4,
            LC_X1);
    if (isfinite(c->lo))
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.3g</text><text x=\"%.0f\" y=\"%.0f\" "
                   "text-anchor=\"end\">%.3g</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">loss</text>",
                LC_X0 - 7, LC_Y0 + 4, c->hi, LC_X0 - 7, LC_Y1 + 3, c->lo, LC_X0 - 7, (LC_Y0 + LC_Y1) / 2 + 3);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">1</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">epoch"
               "</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%d</text>", LC_X0, LC_Y1 + 17,
            (LC_X0 + LC_X1) / 2, LC_Y1 + 17, LC_X1, LC_Y1 + 17, c->E);
}

static void curve_svg(FILE *f, const RConfig *cf, const RTrial *const *ts, int n) {
    CfgCurve c;
    curve_make(&c, ts, n);
    char text[400];
    curve_text(text, sizeof text, &c, n);
    fprintf(f, "<svg class=\"spark curve\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", SPARK_W, LC_H);
    esc(f, text);
    fputc('"', f);
    data_list(f, "data-val-loss", c.val, c.E);
    data_list(f, "data-train-loss", c.train, c.E);
    fputs(" data-folds=\"", f);
    for (int ep = 0; ep < c.E; ep++) fprintf(f, "%s%d", ep ? " " : "", c.ran[ep]);
    fputs("\"", f);
    data_list(f, "data-range", (double[2]){c.lo, c.hi}, 2);
    fputs("><title>", f);
    esc(f, text);
    fputs("</title>", f);
    curve_axes(f, &c);
    if (isfinite(c.lo)) {
        curve_line(f, &c, c.train, "stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\" class=\"train\"");
        char style[96];
        snprintf(style, sizeof style, "stroke=\"%s\" stroke-width=\"2.2\" class=\"val\"",
                 report_family_colour(cf->fam));
        curve_line(f, &c, c.val, style);
    }
    fputs("</svg>\n", f);
    curve_free(&c);
}

static double fold_x(double v) { return FS_X0 + (FS_X1 - FS_X0) * fmin(1.0, fmax(0.0, v)); }

/* The 0..1 axis with ticks at 0, 0.5, 1. */
static void fold_axis(FILE *f) {
    fprintf(f, "<path fill=\"none\" stroke=\"#999\" d=\"M%.0f %.0f H%.0f", FS_X0, FS_AXIS, FS_X1);
    for (int k = 0; k <= 4; k++) fprintf(f, " M%.0f %.0f v%d", fold_x(k / 4.0), FS_AXIS, k % 2 ? 3 : 5);
    fprintf(f, "\"/><text x=\"%.0f\" y=\"%.0f\">0</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">0.5"
               "</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">1</text>", FS_X0, FS_AXIS + 16,
            fold_x(0.5), FS_AXIS + 16, FS_X1, FS_AXIS + 16);
}

/* One dot per trial: its test accuracy (m[M_ACC]), three rows of jitter. */
static void fold_dots(FILE *f, const RConfig *cf, const RTrial *const *ts, int n) {
    for (int i = 0; i < n; i++) {
        double v = ts[i]->m[M_ACC];
        if (!isfinite(v)) continue;
        fprintf(f, "<circle class=\"fold\" cx=\"%.2f\" cy=\"%.0f\" r=\"4\" fill=\"%s\" fill-opacity=\"0.75\" "
                   "stroke=\"#fff\" data-value=\"%.9g\"><title>repeat %d, fold %d, seed %d: accuracy %.3f</title>"
                   "</circle>", fold_x(v), 20.0 + 6 * (i % 3 - 1), report_family_colour(cf->fam), v,
                ts[i]->repeat, ts[i]->outer, ts[i]->seed, v);
    }
}

static void fold_svg(FILE *f, const Report *r, const RConfig *cf, const RTrial *const *ts, int n) {
    double base = r->fam[cf->fam].learned >= 0 ? r->fam[cf->fam].base_rate : NAN, mean = cf->m[M_ACC].mean;
    char text[300];
    size_t k = (size_t)snprintf(text, sizeof text, "test accuracy of %d fold%s on a 0 to 1 axis:", n,
                                n == 1 ? "" : "s");
    for (int i = 0; i < n && k < sizeof text; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "%s %.3f", i ? "," : "", ts[i]->m[M_ACC]);
    if (k < sizeof text) k += (size_t)snprintf(text + k, sizeof text - k, "; mean %.3f (solid bar)", mean);
    if (isfinite(base) && k < sizeof text)
        snprintf(text + k, sizeof text - k, "; majority class %.3f (dashed)", base);
    fprintf(f, "<svg class=\"spark folds\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", SPARK_W, FS_H);
    esc(f, text);
    fputc('"', f);
    data_list(f, "data-mean", &mean, 1);
    data_list(f, "data-base-rate", &base, 1);
    fputs("><title>", f);
    esc(f, text);
    fputs("</title>", f);
    fold_axis(f);
    if (isfinite(base))
        fprintf(f, "<path stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"3 2\" class=\"base\" d=\"M%.2f 6 "
                   "V%.0f\"/>", fold_x(base), FS_AXIS + 4);
    fold_dots(f, cf, ts, n);
    if (isfinite(mean))
        fprintf(f, "<path stroke=\"#1a1a1a\" stroke-width=\"2\" class=\"mean\" d=\"M%.2f 8 V%.0f\"/>", fold_x(mean),
                FS_AXIS);
    fputs("</svg>\n", f);
}

/* The done outer trials of cf in reading order; *n: how many. Caller frees. */
static const RTrial **config_trials(const Report *r, const RConfig *cf, int *n) {
    const RTrial **ts = xcalloc((size_t)r->n_trials + 1, sizeof *ts);
    *n = 0;
    for (int i = 0; i < r->n_trials; i++) {
        const RTrial *t = &r->trials[i];
        if (t->fam == cf->fam && t->config == cf->config && t->inner < 0 && t->done) ts[(*n)++] = t;
    }
    qsort(ts, (size_t)*n, sizeof *ts, trial_order);
    return ts;
}

static void config_card(FILE *f, const Report *r, const RConfig *cf) {
    int n = 0, sel = !r->nested && r->fam[cf->fam].chosen == cf->config;
    const RTrial **ts = config_trials(r, cf, &n);
    fprintf(f, "<figure class=\"cfg\" id=\"cfg-%d-%d\" data-family=\"", cf->fam, cf->config);
    esc(f, r->fam[cf->fam].name);
    fprintf(f, "\" data-config=\"%d\">\n<figcaption>", cf->config);
    fam_label(f, r, cf->fam);
    fprintf(f, " c%d%s: %d fold%s</figcaption>\n", cf->config, sel ? " (selected)" : "", n, n == 1 ? "" : "s");
    if (n == 0) fputs("<p class=\"caption\">No finished outer trial: nothing to draw.</p>\n", f);
    else {
        curve_svg(f, cf, ts, n);
        fold_svg(f, r, cf, ts, n);
        fputs("<p class=\"caption\">Test accuracy: mean ", f);
        num(f, cf->m[M_ACC].mean, 3);
        if (r->fam[cf->fam].learned >= 0) {
            fputs(", majority class ", f);
            num(f, r->fam[cf->fam].base_rate, 3);
        }
        fputs(".</p>\n", f);
    }
    fputs("</figure>\n", f);
    free(ts);
}

static void config_plots(FILE *f, const Report *r) {
    fputs("<h3>Learning curves and fold scores per configuration</h3>\n<p class=\"caption\">Top: the mean validation "
          "loss per epoch (solid, family colour) and the mean train loss (dashed grey) over the configuration's "
          "finished outer trials, each epoch averaged over the trials that ran it (early stopping ends some sooner); "
          "left, the loss axis's range. Bottom: each outer test fold's accuracy as a dot on a 0 to 1 axis, the mean as "
          "a solid bar, the majority-class rate (always answering the most frequent class) as a dashed tick.</p>\n"
          "<div class=\"cfgs\" id=\"config-plots\">\n", f);
    for (int i = 0; i < r->n_configs; i++) config_card(f, r, &r->configs[i]);
    fputs("</div>\n", f);
}

/* "0.750 [0.551, 0.880] (18/24)" */
static void td_prop(FILE *f, const PropCI *p) {
    fputs("<td class=\"n\" data-value=\"", f);
    raw(f, p->est);
    fputs("\">", f);
    if (p->n == 0) fputs("n/a (0/0)", f);
    else {
        fprintf(f, "%.3f (%ld/%ld) <span class=\"ci\">[", p->est, p->k, p->n);
        num(f, p->lo, 3);
        fputs(", ", f);
        num(f, p->hi, 3);
        fputs("]</span>", f);
    }
    fputs("</td>", f);
}

static void class_table(FILE *f, const Report *r) {
    fputs("<h3>Per-class sensitivity, specificity and precision</h3>\n<p>Each family's selected trials, one class "
          "against the rest, on the counts pooled over their test folds (k/n in brackets): the proportion and its 95% "
          "Wilson score interval. Sensitivity = tp/(tp+fn), specificity = tn/(tn+fp), precision = tp/(tp+fp).", f);
    if (r->repeats > 1)
        fputs(" With several repeats or seeds each image is counted once per repeat and seed, which the interval "
              "takes as independent: read it as too narrow by up to the square root of that number.", f);
    fputs("</p>\n<div class=\"wrap\"><table id=\"class-table\">\n<thead><tr><th scope=\"col\">family</th>"
          "<th scope=\"col\">class</th><th scope=\"col\">sensitivity</th><th scope=\"col\">specificity</th>"
          "<th scope=\"col\">precision</th><th scope=\"col\">ROC AUC, pooled</th></tr></thead>\n<tbody>\n", f);
    for (int fa = 0; fa < r->n_fam; fa++) {
        const RFamily *F = &r->fam[fa];
        for (int k = 0; k < r->K && F->sens_ci; k++) {
            fputs("<tr><th scope=\"row\">", f);
            fam_label(f, r, fa);
            fputs("</th><td>", f);
            esc(f, r->class_names[k]);
            fputs("</td>", f);
            td_prop(f, &F->sens_ci[k]);
            td_prop(f, &F->spec_ci[k]);
            td_prop(f, &F->prec_ci[k]);
            td_real(f, F->auc_class[k], 3, 1);
            fputs("</tr>\n", f);
        }
    }
    fputs("</tbody></table></div>\n", f);
}

static void section_configs(FILE *f, const Report *r) {
    char sel[1024];
    report_selection_text(sel, sizeof sel, r);
    fputs("<section id=\"configs\">\n<h2>Configurations</h2>\n<p>", f);
    esc(f, sel);
    fputs("</p>\n", f);
    config_table(f, r);
    config_plots(f, r);
    class_table(f, r);
    fputs("</section>\n", f);
}

/* ---- comparisons ---- */

static void test_row(FILE *f, const Report *r, const RCompare *c, int m, const TTest *t, int is_5x2) {
    double sc = m == M_AUC ? 1 : 100;
    int dec = m == M_AUC ? 3 : 1;
    fprintf(f, "<tr><th scope=\"row\">%s%s</th><td class=\"n\" data-value=\"", report_metric_titles[m],
            m == M_AUC ? " (mean over folds)" : "");
    raw(f, t->estimate);
    fprintf(f, "\">%s", t->estimate > 0 ? "+" : "");
    num(f, sc * t->estimate, dec);
    fputs("</td><td class=\"n\">", f);
    num(f, sc * t->lo, dec);
    fputs(" to ", f);
    num(f, sc * t->hi, dec);
    fprintf(f, "</td><td class=\"n\">%.2f</td><td class=\"n\">%.0f</td><td class=\"n\" data-value=\"", t->t, t->df);
    raw(f, t->p);
    fputs("\">", f);
    pval(f, t->p);
    fputs("</td>", f);
    if (!is_5x2) {
        if (r->n_cmp > 1) {
            fputs("<td class=\"n\">", f);
            pval(f, c->p_holm[m]);
            fputs("</td>", f);
        }
        const BayesCT *b = &c->bayes[m];
        fprintf(f, "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f</td>", b->p_right,
                b->p_rope, b->p_left);
    }
    fputs("</tr>\n", f);
}

static void pair_tests(FILE *f, const Report *r, const RCompare *c) {
    fputs("<div class=\"wrap\"><table class=\"tests\">\n<thead><tr><th scope=\"col\">metric</th>"
          "<th scope=\"col\">difference</th><th scope=\"col\">95% CI</th><th scope=\"col\">t</th><th scope=\"col\">df"
          "</th><th scope=\"col\">p</th>", f);
    if (r->n_cmp > 1) fputs("<th scope=\"col\">p, Holm</th>", f);
    fputs("<th scope=\"col\">P(", f);
    esc(f, r->fam[c->a].name);
    fputs(" better)</th><th scope=\"col\">P(equivalent)</th><th scope=\"col\">P(", f);
    esc(f, r->fam[c->b].name);
    fputs(" better)</th></tr></thead>\n<tbody>\n", f);
    for (int m = 0; m < C_COUNT; m++) test_row(f, r, c, m, &c->t[m], 0);
    fputs("</tbody></table></div>\n", f);
    if (!c->have_5x2) return;
    fputs("<p>Dietterich's 5x2cv t-test (estimate = the first fold's difference):</p>\n<div class=\"wrap\"><table>"
          "<thead><tr><th scope=\"col\">metric</th><th scope=\"col\">estimate</th><th scope=\"col\">95% CI</th>"
          "<th scope=\"col\">t</th><th scope=\"col\">df</th><th scope=\"col\">p</th></tr></thead>\n<tbody>\n", f);
    for (int m = 0; m < C_COUNT; m++) test_row(f, r, c, m, &c->t5x2[m], 1);
    fputs("</tbody></table></div>\n", f);
}

static void group_row(FILE *f, const RGroup *G) {
    fprintf(f, "<tr><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%ld</td>"
               "<td class=\"n\">%ld</td><td class=\"n\">", G->repeat, G->seed, G->n, G->mcnemar.b, G->mcnemar.c);
    pval(f, G->mcnemar.p);
    fputs("</td>", f);
    if (!G->have_delong) {
        fputs("<td>-</td><td>-</td><td>-</td><td>-</td></tr>\n", f);
        return;
    }
    fprintf(f, "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">%s", G->delong.auc_a,
            G->delong.auc_b, G->delong.d.estimate > 0 ? "+" : "");
    num(f, G->delong.d.estimate, 3);
    fputs(" (", f);
    num(f, G->delong.d.lo, 3);
    fputs(" to ", f);
    num(f, G->delong.d.hi, 3);
    fputs(")</td><td class=\"n\">", f);
    pval(f, G->delong.d.p);
    fputs("</td></tr>\n", f);
}

static void pair_images(FILE *f, const Report *r, const RCompare *c) {
    const char *A = r->fam[c->a].name, *B = r->fam[c->b].name;
    fputs("<p>McNemar on the pooled out-of-fold predictions (each test image once per repeat and seed): ", f);
    esc(f, A);
    fputs(" right where ", f);
    esc(f, B);
    fprintf(f, " is wrong b = %ld, the reverse c = %ld, %s %.3f, ", c->mcnemar.b, c->mcnemar.c,
            c->mcnemar.exact ? "exact binomial test, min(b,c) =" : "chi-square (continuity corrected) =",
            c->mcnemar.statistic);
    pval(f, c->mcnemar.p);
    fprintf(f, ".%s</p>\n", c->n_groups > 1 ? " Pooled over repeats the images recur, which the test takes as "
                                              "independent: read this p as optimistic and prefer the per-repeat rows."
                                            : "");
    fputs("<div class=\"wrap\"><table>\n<thead><tr><th scope=\"col\">repeat</th><th scope=\"col\">seed</th>"
          "<th scope=\"col\">images</th><th scope=\"col\">McNemar b</th><th scope=\"col\">c</th><th scope=\"col\">p</th>"
          "<th scope=\"col\">DeLong AUC ", f);
    esc(f, A);
    fputs("</th><th scope=\"col\">AUC ", f);
    esc(f, B);
    fputs("</th><th scope=\"col\">difference (95% CI)</th><th scope=\"col\">p</th></tr></thead>\n<tbody>\n", f);
    for (int g = 0; g < c->n_groups; g++) group_row(f, &c->groups[g]);
    fprintf(f, "</tbody></table></div>\n<p class=\"caption\">%s%s</p>\n",
            r->K == 2 ? "DeLong: per repeat and seed, on the out-of-fold P(class 1) pooled over that repeat's folds "
                        "(each image once; the folds' models are taken as one scorer)."
                      : "DeLong's test is for two classes; with more, compare AUCs with the corrected t-test above.",
            c->have_5x2 ? "" : " Dietterich's 5x2cv test applies to 5 repeats of 2-fold CV with one seed; this design "
                               "is not that.");
}

static void compare_intro(FILE *f, const Report *r) {
    char rope[32];
    snprintf(rope, sizeof rope, "%.3g", 100 * r->rope);
    if (r->n_fam > 2)
        fprintf(f, "<p>%d families: every pair is compared below (the summary's first verdict is the first pair's, "
                   "job order). The corrected t-tests' p-values are Holm-adjusted over the %d pairs, per metric "
                   "(column \"p, Holm\"), and the verdicts use the adjusted p; the intervals are not adjusted.</p>\n",
                r->n_fam, r->n_cmp);
    fprintf(f, "<p>Differences are first family minus second, in points (hundredths) for accuracy, balanced accuracy "
               "and macro-F1 and in AUC units for ROC AUC, on the test folds both families were tested on.</p>\n"
               "<p><strong>How to read the Bayesian columns</strong> (correlated t-test of Corani &amp; Benavoli 2015, "
               "region of practical equivalence ±%s point%s, <code>--rope</code>, also ±%.3g in AUC units): the "
               "probability that the first family is better by more than the rope, that the two are practically "
               "equivalent, and that the second is better by more than the rope; the three add up to 1. A probability "
               "above 0.95 is a decision at the usual level; when none dominates, the data cannot decide.</p>\n",
            rope, strcmp(rope, "1") ? "s" : "", r->rope);
}

static void friedman_table(FILE *f, const Report *r) {
    if (r->n_fam < 3) return;
    fprintf(f, "<h3>More than two families</h3>\n<p>Friedman's test over the %d test folds on which all %d families "
               "have a result; average ranks (1 = best) and the Nemenyi critical difference (0.05, Demsar 2006).</p>\n"
               "<div class=\"wrap\"><table id=\"friedman\">\n<thead><tr><th scope=\"col\">metric</th><th scope=\"col\">"
               "Friedman chi-square</th><th scope=\"col\">df</th><th scope=\"col\">p</th><th scope=\"col\">critical "
               "difference</th>", r->n_friedman, r->n_fam);
    for (int fa = 0; fa < r->n_fam; fa++) {
        fputs("<th scope=\"col\">rank ", f);
        esc(f, r->fam[fa].name);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (int m = 0; m < C_COUNT; m++) {
        fprintf(f, "<tr><th scope=\"row\">%s</th><td class=\"n\">%.3f</td><td class=\"n\">%d</td><td class=\"n\">",
                report_metric_titles[m], r->friedman_stat[m], r->n_fam - 1);
        pval(f, r->friedman_p[m]);
        fprintf(f, "</td><td class=\"n\">%.3f</td>", r->cd[m]);
        for (int fa = 0; fa < r->n_fam; fa++) fprintf(f, "<td class=\"n\">%.3f</td>", r->avg_rank[m][fa]);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table></div>\n<p class=\"caption\">Post-hoc rank z tests with Holm's adjustment: "
          "<code>comparisons.csv</code> (rows <code>rank_z</code>) and report.md.</p>\n", f);
}

static void section_comparisons(FILE *f, const Report *r) {
    fputs("<section id=\"comparisons\">\n<h2>Comparisons</h2>\n", f);
    if (r->n_cmp == 0) fputs("<p>Only one family: nothing to compare.</p>\n", f);
    else compare_intro(f, r);
    for (int i = 0; i < r->n_cmp; i++) {
        const RCompare *c = &r->cmp[i];
        fputs("<h3>", f);
        esc(f, r->fam[c->a].name);
        fputs(" vs ", f);
        esc(f, r->fam[c->b].name);
        fputs("</h3>\n<p class=\"verdict\"><strong>", f);
        esc(f, c->verdict);
        fprintf(f, ".</strong></p>\n<p>Each family's selected trial on the same %d test folds; corrected resampled "
                   "t-test (Nadeau &amp; Bengio) with n_test/n_train = %.4f.</p>\n", c->n_pairs, c->ratio);
        pair_tests(f, r, c);
        pair_images(f, r, c);
    }
    friedman_table(f, r);
    fputs("</section>\n", f);
}

/* ---- plots: the SVGs, inlined ---- */

/* The whole file, NUL-terminated (NULL if unreadable). */
static char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (*len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = xmalloc((size_t)*len + 1);
        if (fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
            free(buf);
            buf = NULL;
        } else buf[*len] = '\0';
    }
    fclose(f);
    return buf;
}

/* Length of an attribute ` NAME='...'` or ` NAME="..."` starting at s
 * (the leading blank included), 0 if s is not one. */
static size_t attr_len(const char *s, const char *name) {
    size_t n = strlen(name);
    if (!(s[0] == ' ' || s[0] == '\n' || s[0] == '\t') || strncmp(s + 1, name, n) != 0 || s[n + 1] != '=') return 0;
    char q = s[n + 2];
    if (q != '"' && q != '\'') return 0;
    const char *end = strchr(s + n + 3, q);
    return end ? (size_t)(end - s) + 1 : 0;
}

/* Copy svg (from its "<svg" on) into f: namespace declarations dropped (the
 * HTML parser supplies them), every id and #reference prefixed with pfx,
 * gnuplot's title replaced by label. */
static void copy_svg(FILE *f, const char *svg, const char *pfx, const char *label) {
    const char *end = strstr(svg, "</svg>");
    fprintf(f, "<svg class=\"plot\" role=\"img\" aria-label=\"");
    esc(f, label);
    fputc('"', f);
    for (const char *p = svg + 4; *p && p != end; p++) {
        size_t n;
        if ((n = attr_len(p, "xmlns")) || (n = attr_len(p, "xmlns:xlink"))) p += n - 1;
        else if ((p[0] == ' ' || p[0] == '\n') && strncmp(p + 1, "id=", 3) == 0 && (p[4] == '"' || p[4] == '\'')) {
            fprintf(f, " id=%c%s-", p[4], pfx);
            p += 4;
        } else if ((strncmp(p, "href='#", 7) == 0 || strncmp(p, "href=\"#", 7) == 0)) {
            fprintf(f, "href=%c#%s-", p[5], pfx);
            p += 6;
        } else if (strncmp(p, "url(#", 5) == 0) {
            fprintf(f, "url(#%s-", pfx);
            p += 4;
        } else if (strncmp(p, "<title>Gnuplot</title>", 22) == 0) {
            fputs("<title>", f);
            esc(f, label);
            fputs("</title>", f);
            p += 21;
        } else fputc(*p, f);
    }
    fputs("</svg>", f);
}

/* One figure: out/NAME.svg inlined with its caption; a note if it is not
 * there. */
static void figure(FILE *f, const char *out, const char *name, const char *label, const char *caption) {
    char path[1400];
    long len = 0;
    snprintf(path, sizeof path, "%s/%s.svg", out, name);
    char *svg = slurp(path, &len);
    const char *start = svg ? strstr(svg, "<svg") : NULL;
    fprintf(f, "<figure id=\"fig-%s\">\n", name);
    if (start && strstr(start, "</svg>")) copy_svg(f, start, name, label);
    else fprintf(f, "<p class=\"warn\">%s.svg is missing or not an SVG.</p>", name);
    fputs("\n<figcaption>", f);
    fputs(caption, f);
    fputs("</figcaption>\n</figure>\n", f);
    free(svg);
}

static int have_file(const char *out, const char *name) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", out, name);
    return access(path, F_OK) == 0;
}

static void section_plots(FILE *f, const Report *r, const char *out, int plots, const char *note) {
    fputs("<section id=\"plots\">\n<h2>Plots</h2>\n", f);
    if (!plots) {
        fputs("<p>No plots: ", f);
        esc(f, note && note[0] ? note : "not requested (--no-plots).");
        fputs("</p>\n</section>\n", f);
        return;
    }
    char iv[400], cap[700];
    report_interval_text(iv, sizeof iv, r);
    fputs("<p>Colours: Okabe and Ito's palette, one colour per family in every plot (the swatches in the tables). "
          "The data and gnuplot script are beside this page in <code>plotdata/</code> and <code>plots.gp</code>.</p>\n",
          f);
    figure(f, out, "learning_curves", "learning curves",
           "Learning curves of the selected trials: mean over the folds with a band of ±1 SD; after early stopping, "
           "late epochs average fewer folds (the bars give the number per epoch).");
    snprintf(cap, sizeof cap, "Test-fold scores per family: one point per fold, folds paired across families, the "
                              "mean with its %s.", iv);
    figure(f, out, "fold_scores", "fold scores", cap);
    figure(f, out, "confusion", "confusion matrices",
           "Confusion matrices summed over the outer test folds (colour: share of the true class).");
    figure(f, out, "roc", "ROC curves",
           "ROC curves of the out-of-fold predictions pooled over folds and repeats; their AUCs are the pooled ones, "
           "not the summary's mean over folds.");
    if (r->n_cmp > 0 && have_file(out, "posterior.svg"))
        figure(f, out, "posterior", "posterior of the accuracy difference",
               "Posterior of the mean accuracy difference of each pair (Bayesian correlated t-test), the region of "
               "practical equivalence shaded: the areas are the three probabilities of the comparison tables.");
    if (r->staged && have_file(out, "rungs.svg")) {
        snprintf(cap, sizeof cap, "The search (%s): mean validation loss per epoch of each configuration over the "
                                  "units its rung decisions used (%s); the configurations that reached the top rung "
                                  "in colour, those stopped or pruned at a lower rung in grey (pruned dashed); dotted "
                                  "vertical lines at the rungs' epochs. Here the colours tell configurations apart, not "
                                  "families.",
                 report_search_title(r), r->nested ? "the inner-fold trials of every outer fold" : "its outer trials");
        figure(f, out, "rungs", "validation loss per configuration and rung", cap);
    }
    if (r->n_friedman > 0 && isfinite(r->cd[M_ACC]) && have_file(out, "cd_diagram.svg"))
        figure(f, out, "cd_diagram", "critical-difference diagram",
               "Critical-difference diagram (Demsar 2006): average ranks on accuracy (1 = best); families joined by a "
               "bar are not distinguishable.");
    fputs("</section>\n", f);
}

/* ---- error analysis ---- */

static void base64(FILE *f, const unsigned char *b, long n) {
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (long i = 0; i < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16 | (i + 1 < n ? (unsigned)b[i + 1] << 8 : 0) | (i + 2 < n ? b[i + 2] : 0);
        fputc(T[v >> 18 & 63], f);
        fputc(T[v >> 12 & 63], f);
        fputc(i + 1 < n ? T[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? T[v & 63] : '=', f);
    }
}

/* out/errors.png as an <img> with a data: URI and its pixel size. */
static void sheet_img(FILE *f, const char *out) {
    char path[1400];
    long len = 0;
    snprintf(path, sizeof path, "%s/errors.png", out);
    unsigned char *png = (unsigned char *)slurp(path, &len);
    if (!png || len < 24 || memcmp(png, "\x89PNG", 4) != 0) {
        fputs("<p class=\"warn\">errors.png is missing or not a PNG.</p>\n", f);
        free(png);
        return;
    }
    unsigned w = (unsigned)png[16] << 24 | png[17] << 16 | png[18] << 8 | png[19];
    unsigned h = (unsigned)png[20] << 24 | png[21] << 16 | png[22] << 8 | png[23];
    fprintf(f, "<figure id=\"fig-errors\"><img class=\"sheet\" width=\"%u\" height=\"%u\" alt=\"contact sheet of the "
               "first 24 flagged test images, numbered as in the table\" src=\"data:image/png;base64,", w, h);
    base64(f, png, len);
    fputs("\">\n<figcaption>The first 24 images, numbered as in the table's first column; under each: the true class, "
          "then per family the most frequent prediction and wrong/tested.</figcaption></figure>\n", f);
    free(png);
}

static void error_row(FILE *f, const Report *r, int i) {
    const RImage *im = &r->img[i];
    const char *path = img_path(r, im->index);
    fprintf(f, "<tr data-row=\"%d\"><td class=\"n\">%d</td><td class=\"n\">%d</td><td title=\"", im->index, i + 1,
            im->index);
    esc(f, path);
    fputs("\"><code>", f);
    esc(f, path[0] ? base_name(path) : "?");
    fputs("</code></td><td>", f);
    esc(f, class_name(r, im->label));
    fputs("</td>", f);
    td_real(f, im->p_true, 3, 1);
    for (int fa = 0; fa < r->n_fam; fa++) {
        fputs(im->pred[fa] >= 0 && im->pred[fa] != im->label ? "<td class=\"failed\">" : "<td>", f);
        esc(f, class_name(r, im->pred[fa]));
        fprintf(f, " (%d/%d)</td>", im->n_wrong[fa], im->n_tested[fa]);
    }
    fprintf(f, "<td class=\"n\">%d/%d</td></tr>\n", im->n_disagree, im->n_both);
}

static void section_errors(FILE *f, const Report *r, const char *out, int sheet, const char *sheet_note) {
    fprintf(f, "<section id=\"errors\">\n<h2>Error analysis</h2>\n<p>Test images that the first two families' "
               "selected trials classify differently in some fold, or that a family gets wrong in more than half of "
               "the repeats and seeds that test them: %d image(s), most confidently wrong first (by p(true), the mean "
               "probability the models gave the true class over every test of the image by every family).</p>\n",
            r->n_img);
    if (r->n_img == 0) {
        fputs("</section>\n", f);
        return;
    }
    if (sheet) sheet_img(f, out);
    else {
        fputs("<p>No contact sheet: ", f);
        esc(f, sheet_note && sheet_note[0] ? sheet_note : "not requested.");
        fputs("</p>\n", f);
    }
    fputs("<div class=\"wrap\"><table id=\"error-table\">\n<thead><tr><th scope=\"col\">#</th><th scope=\"col\">row"
          "</th><th scope=\"col\">file (hover: source path)</th><th scope=\"col\">true class</th><th scope=\"col\">"
          "p(true)</th>", f);
    for (int fa = 0; fa < r->n_fam; fa++) {
        fputs("<th scope=\"col\">", f);
        esc(f, r->fam[fa].name);
        fputs(" (wrong/tested)</th>", f);
    }
    fputs("<th scope=\"col\">disagree</th></tr></thead>\n<tbody>\n", f);
    for (int i = 0; i < r->n_img; i++) error_row(f, r, i);
    fputs("</tbody></table></div>\n", f);
    if (r->data_note[0]) {
        fputs("<p>Source paths unavailable: ", f);
        esc(f, r->data_note);
        fputs("</p>\n", f);
    }
    fputs("</section>\n", f);
}

static void footer(FILE *f, int plots, int sheet) {
    fprintf(f, "</main>\n<footer>\n<p>Beside this page: <code>report.md</code>, <code>configs.csv</code>, "
               "<code>folds.csv</code>, <code>comparisons.csv</code>, <code>errors.csv</code>%s%s. How to read the "
               "tests: docs/report.md in the hipid sources.</p>\n</footer>\n<script>\n%s</script>\n</body>\n</html>\n",
            plots ? ", the plots as PNG and SVG with <code>plots.gp</code> and <code>plotdata/</code>" : "",
            sheet ? ", <code>errors.png</code>" : "", JS);
}

int report_write_html(const Report *r, const char *out, int plots, const char *plot_note, int sheet,
                      const char *sheet_note, ErrBuf *e) {
    char path[1400], tmp[1700];
    snprintf(path, sizeof path, "%s/index.html", out);
    if (fsafe_tmp_name(tmp, sizeof tmp, path, e) != HIPID_OK) return HIPID_ERR;
    FILE *f = fopen(tmp, "w");
    if (!f) return hipid_err(e, "%s: cannot write (%s)", tmp, strerror(errno));
    head(f, r);
    header(f, r);
    section_verdict(f, r);
    section_trials(f, r);
    section_search(f, r);
    section_configs(f, r);
    section_comparisons(f, r);
    section_plots(f, r, out, plots, plot_note);
    section_errors(f, r, out, sheet, sheet_note);
    footer(f, plots, sheet);
    return fsafe_fclose_commit(f, tmp, path, "report page", e);
}
