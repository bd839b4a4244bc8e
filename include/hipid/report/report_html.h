/* report_html.h: index.html, an analysed Report (report.h) as one
 * self-contained page: inline CSS, the gnuplot SVGs inlined, the contact
 * sheet as a data: URI, nothing fetched from anywhere. Readable with
 * JavaScript off; a small inline script only sorts and filters the trials
 * table. The one module that writes this format; every number comes from
 * report.c, formatted as report.md formats it.
 *
 * DOM contract (tests/test_report_html.py and the browser test rely on it):
 *  - <table id="summary">, one <tr data-family="NAME"> per family;
 *  - <table id="trials" class="sortable">: <th data-key="K"> with K in
 *    family, config, unit, seed, state, epochs, best_epoch, val_loss, val_acc,
 *    test_acc, test_auc, seconds, ranks; body rows <tr data-file="trials/F.h5"
 *    data-family="NAME" data-state="done|failed">, each <td data-value="RAW">
 *    (numbers as %.17g, "" when not finite); clicking a <th> sorts by it
 *    (ascending, then descending) and sets its aria-sort;
 *  - <select id="filter-family">, <select id="filter-state"> (value "" = all);
 *  - sections verdict, trial-list, configs, comparisons, plots, errors;
 *  - <div id="config-plots">: one <figure class="cfg" id="cfg-F-C"
 *    data-family="NAME" data-config="C"> per #config-table row (F: family
 *    index; the row's config cell links to it). With done outer trials it
 *    holds <svg class="spark curve" role="img"> with data-val-loss and
 *    data-train-loss (mean per epoch over the trials that ran it, finite
 *    values only, %.9g, "NaN" if none), data-folds (trials that ran each
 *    epoch), data-range (loss axis lo hi), and <svg class="spark folds"
 *    role="img"> with one <circle class="fold" data-value="ACC"> per done
 *    outer trial, data-mean and data-base-rate. Drawn with --no-plots too.
 *  - a staged search only (Report.staged): section search (and its nav
 *    link), <p id="search-compute" data-epochs-spent data-grid-epochs
 *    data-configs data-top data-groups>, <table id="rung-table"> with one
 *    <tr data-family data-bracket data-repeat data-outer data-rung
 *    data-epochs> per selection group and rung, holding one <span
 *    class="rung-cfg STATE" data-config data-n-units data-state
 *    data-score="RAW"> per configuration (score as sweep.h5 stores it);
 *    #config-table gets a "rung reached" column; figure fig-rungs. */
#ifndef HIPID_REPORT_HTML_H
#define HIPID_REPORT_HTML_H

#include "hipid/report/report.h"

/* out/index.html, written to a temporary name and renamed. `plots`: the
 * SVG plots are in out (else the page says why not, from plot_note);
 * `sheet`: out/errors.png is the contact sheet (else sheet_note). Fails
 * with one line naming the file. */
int report_write_html(const Report *r, const char *out, int plots, const char *plot_note, int sheet,
                      const char *sheet_note, ErrBuf *e);

#endif
