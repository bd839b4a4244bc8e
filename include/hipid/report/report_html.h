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
 *  - sections verdict, trial-list, configs, comparisons, plots, errors. */
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
