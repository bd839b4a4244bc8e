/* report.h: the report of a sweep's results folder (`hipid report`).
 *
 * Reads every trial file of RESULTS/trials (trialfile.h) and the sweep index
 * RESULTS/sweep.h5 when present, recomputes every metric from the stored test
 * predictions (stats.h), selects a configuration per family, compares the
 * families on the folds they share and gathers the images they get wrong.
 * report_load + report_analyse are pure computation on files (no MPI, no
 * libvips, no gnuplot) so that they can be tested alone; report_write_*
 * (report_write.c) and report_plots / report_sheet (report_plot.c) write the
 * results.
 *
 * Conventions:
 *  - Metrics come from outer trials only (inner = -1); inner trials of a
 *    nested design only feed the selection.
 *  - A CV unit is (repeat, outer fold, seed). Families are paired on units.
 *  - Selection. Nested: per unit, the configuration with the highest mean
 *    inner-fold test accuracy (ties: lower mean inner log loss, then the lower
 *    configuration number); the estimate is that configuration's outer trial.
 *    Not nested: per family the configuration with the lowest mean validation
 *    loss over its outer trials (the early-stopping carve of each training
 *    set; ties: lower configuration number); its test folds are reported.
 *    Without a validation set (val_fraction 0), by mean test accuracy, and the
 *    report says that this estimate is optimistic. A family with one
 *    candidate configuration has no choice to make: nothing is optimistic.
 *  - Staged searches (halving, hyperband, a prune; halving.h): a trial is a
 *    candidate only if the index does not mark it pruned and its file was
 *    trained to its end (budget 0). Not nested, a configuration is a
 *    candidate when every trial of it is; nested, per unit, when its inner
 *    trials of that unit are. Non-candidates stay in the per-configuration
 *    tables, marked with the rung they stopped at, and never reach a
 *    family's numbers. A grid (no rung table, budget 0 everywhere) is
 *    unaffected.
 *  - The corrected resampled t-test's ratio is n_test / (n_train + n_val)
 *    from the trial's index sets (the data a model was fitted on, early
 *    stopping included; near, not exactly, 1/(k-1) for k-fold), averaged
 *    over the paired units; the intervals of the means (Report.ratio) use
 *    its average over all outer trials.
 *  - Compared metrics (C_COUNT): corrected t-test and Bayesian correlated
 *    t-test per metric; p-values Holm-adjusted over the pairs (p_holm),
 *    which the verdicts use. Three or more families: Friedman's test on the
 *    units they all share, average ranks, Nemenyi CD, Demsar's rank z tests.
 *  - Per-class proportions: Wilson intervals on counts pooled over folds.
 *  - McNemar: discordant counts pooled over every paired unit (each image
 *    once per repeat and seed), and per (repeat, seed) (each image once).
 *  - DeLong (K == 2): per (repeat, seed), on the out-of-fold scores P[:,1]
 *    pooled over that repeat's folds.
 *  - 5x2cv: when the paired units are exactly 5 repeats x 2 folds x 1 seed.
 *  - More than two families: every pair is compared; the summary's first
 *    verdict is the first pair's (families in job order).
 *  - Ensemble over seeds (RFamily.ens, a job with 2+ seeds): per test fold
 *    (repeat, outer), the mean of the test probabilities of the family's
 *    selected trials of every seed on that fold, scored as one model; its
 *    intervals as RFamily.m's, its binomial test on the first repeat (each
 *    image once) against the family's majority rate.
 */
#ifndef HIPID_REPORT_H
#define HIPID_REPORT_H

#include <stdio.h>

#include "hipid/base/common.h"
#include "hipid/report/stats.h"
#include "hipid/sweep/halving.h"

#define REPORT_MAX_FAMILIES 8

/* The per-trial metrics, in this order everywhere (tables, CSV, JSON). */
enum { M_ACC, M_BACC, M_F1, M_AUC, M_LOGLOSS, M_COUNT };
extern const char *const report_metric_names[M_COUNT]; /* "accuracy", ... */
/* The metrics families are compared on: the first C_COUNT of M_* (accuracy,
 * balanced accuracy, macro-F1, ROC AUC). */
#define C_COUNT 4

/* A proportion k/n with its interval (stats_prop_ci, Wilson, level 0.95);
 * est, lo, hi NaN when n == 0. */
typedef struct {
    long k, n;
    double est, lo, hi;
} PropCI;

/* Default half-width of the Bayesian test's region of practical
 * equivalence: 1 point of accuracy (`hipid report --rope`). */
#define REPORT_ROPE_DEFAULT 0.01

/* Plot sizes in pixels (PNG; the SVGs have the same size). F = families. */
#define REPORT_LC_W 1000
#define REPORT_LC_H_PER_FAMILY 330  /* learning_curves: F rows of (loss, accuracy) */
#define REPORT_FOLDS_W 900
#define REPORT_FOLDS_H 420          /* fold_scores: accuracy, balanced accuracy, macro-F1, AUC panels */
#define REPORT_PANEL 440            /* confusion and roc: F panels of PANEL x PANEL */

typedef struct {
    char path[1400];   /* RESULTS/trials/<family>-<hash>.h5 */
    char label[64], hash[24], hparams[512];
    int fam;           /* index into Report.fam */
    int config, repeat, outer, inner, seed;
    int done;          /* 1 done, 0 failed */
    char reason[256];  /* failed: why */
    double val_loss;   /* attribute: loss on the validation carve (best weights) */
    /* attributes as the trial recorded them (trialfile_summary; the report's
     * metrics m[] are recomputed from the predictions instead) */
    int best_epoch, epochs_run, ranks;
    double seconds, val_acc, test_acc;
    int n_train, n_val, n_test;
    int *test_index, *test_label, *test_pred; /* (n_test) */
    int *fit_index;    /* (n_train + n_val) rows the model was fitted on */
    double *test_prob; /* (n_test, K) */
    int n_epochs;
    float *hist;       /* (4, n_epochs): train_loss, train_acc, val_loss, val_acc */
    double m[M_COUNT]; /* from the test predictions */
    double *sens, *spec; /* (K) */
    int budget;        /* the file's budget attribute: a rung's epochs, 0 = trained to its end */
    int pruned;        /* the index marks its configuration stopped or pruned in its group */
} RTrial;

typedef struct {
    int fam, config;
    char hparams[512];
    int n_done, n_failed;  /* outer trials */
    Summary m[M_COUNT];    /* over done outer trials, finite values only; lo/hi corrected
                            * (Nadeau-Bengio, Report.ratio) when Report.corrected */
    Summary *sens, *spec;  /* (K) per-fold mean and SD (intervals not used: see *_ci) */
    PropCI *sens_ci, *spec_ci, *prec_ci; /* (K) one-vs-rest, on counts pooled over the
                            * outer test folds: sensitivity tp/(tp+fn), specificity
                            * tn/(tn+fp), precision tp/(tp+fp) */
    double val_loss;       /* mean validation loss of the outer trials */
    int n_selected;        /* units where this configuration was selected */
    int excluded;          /* not nested: a trial of it is pruned or stopped at a rung, so it is
                            * never selected (see Staged searches above) */
} RConfig;

/* The ensemble over seeds of a family's selected trials (see above). */
typedef struct {
    int seeds;             /* members per test fold (the fewest over the folds); 0: no ensemble */
    int n_folds;
    Summary m[M_COUNT];    /* over the folds; lo/hi corrected as RFamily.m */
    long base_n, base_correct; /* first repeat's test images, correctly classified */
    double base_p;         /* stats_binom_greater(base_correct, base_n, RFamily.base_rate) */
    int learned;           /* as RFamily.learned; -1: no ensemble */
} REnsemble;

/* The ensemble over families named by the job ([job] ensemble, sweep.h5's
 * `ensemble` attribute), fixed before any result: per test fold (repeat,
 * outer), the mean of the test probabilities of every selected trial of the
 * named families (all seeds) on that fold, scored as one model (e; e.seeds =
 * the fewest models on a fold), its binomial test against the first named
 * family's majority rate. Against each member: per shared fold, the
 * ensemble's accuracy and balanced accuracy minus those of the member's own
 * fold ensemble (its seeds averaged; its single model with one seed), by the
 * corrected resampled t-test. */
typedef struct {
    char names[300];       /* as the index gives them: "fam,fam,..." */
    int n_fam;             /* 0: no ensemble (none named, or a named family has no selected trial) */
    int fam[REPORT_MAX_FAMILIES];
    REnsemble e;
    int member_models[REPORT_MAX_FAMILIES]; /* models per fold of each member's own ensemble */
    int n_pairs[REPORT_MAX_FAMILIES];
    TTest vs[REPORT_MAX_FAMILIES][2]; /* [member][0 accuracy, 1 balanced accuracy]: ensemble - member */
} RFamEnsemble;

typedef struct {
    char name[32];
    int chosen;            /* not nested: the selected configuration; -1 nested or none */
    RTrial **sel;          /* (Report.n_units) the selected outer trial per unit, NULL if none */
    int n_sel;
    Summary m[M_COUNT];    /* over the selected trials; lo/hi corrected as RConfig.m */
    Summary *sens, *spec;  /* (K) */
    PropCI *sens_ci, *spec_ci, *prec_ci; /* (K) as RConfig's, over the selected test folds */
    long *conf;            /* (K, K) summed over the selected trials' test folds */
    double auc_pooled;     /* ROC AUC of the out-of-fold predictions pooled over the selected
                            * trials (what the roc plot shows), beside m[M_AUC], the mean of
                            * per-fold AUCs */
    double *auc_class;     /* (K) pooled one-vs-rest AUC per class (K == 2: both columns) */
    int *epoch_n;          /* (max n_epochs over sel) how many selected trials reached each
                            * epoch (early stopping ends some sooner) */
    int n_epoch_max;
    /* Against the class frequencies (caret's no-information rate): on the
     * first (repeat, seed) pass of the selected trials, where each image is
     * tested once, the share of the most frequent class among the tested
     * images and an exact one-sided binomial test of the correct count. */
    int base_class;        /* the most frequent class, -1 if nothing was tested */
    long base_n, base_correct; /* images tested in that pass, correctly classified */
    double base_rate;      /* base_class's share: what always answering it scores */
    double base_p;         /* stats_binom_greater(base_correct, base_n, base_rate) */
    int learned;           /* 1: p < 0.05 and mean accuracy above base_rate; 0: not; -1: no data */
    int n_stuck;           /* selected trials whose training loss never left the loss of
                            * predicting the class frequencies (report_trial_stuck) */
    /* Leakage actually present, on the same first pass: test images whose
     * near-duplicate group (the data set's dup_groups, groups of 2 or more) or
     * leakage group (groups: patients and near-duplicates) has a member in
     * the rows their model was fitted on. -1 when the data set is unreadable. */
    long leak_dup, leak_group;
    REnsemble ens;
    /* the data set its trials name ([family] data, else [data] path), with
     * their data_checksum and preprocessing: from its first trial file */
    char data[1024], data_checksum[24], preprocessing[1024];
} RFamily;

typedef struct {
    int repeat, outer, seed;
} RUnit;

typedef struct {
    int repeat, seed;
    int n;                 /* pooled images of this (repeat, seed) */
    McNemar mcnemar;
    int have_delong;
    DeLong delong;
} RGroup;

typedef struct {
    int a, b;              /* families; differences are a - b */
    int n_pairs;           /* units where both have a selected trial on the same test fold */
    double ratio;          /* n_test / (n_train + n_val) */
    double *d[C_COUNT];    /* (n_pairs) per-unit differences a - b of each compared metric */
    TTest t[C_COUNT];      /* corrected resampled t-test per metric */
    double p_holm[C_COUNT]; /* t[m].p Holm-adjusted over every pair of families (= p with one pair) */
    BayesCT bayes[C_COUNT]; /* Bayesian correlated t-test per metric, rope Report.rope */
    int have_5x2;
    TTest t5x2[C_COUNT];
    McNemar mcnemar;       /* pooled over every paired unit */
    int n_groups;
    RGroup *groups;        /* (n_groups) per (repeat, seed) */
    char verdict[1200];
} RCompare;

typedef struct {
    int index;             /* data-set row */
    int label;
    int n_tested[REPORT_MAX_FAMILIES], n_wrong[REPORT_MAX_FAMILIES];
    int pred[REPORT_MAX_FAMILIES]; /* most frequent prediction, -1 if never tested */
    int n_both, n_disagree; /* first pair: units testing both, with different predictions */
    double score;          /* sum over families of the wrong fraction */
    double p_true;         /* mean probability given to the true class over every test of the
                            * image by every family: the sort key (ascending = most
                            * confidently wrong first; ties by source path, then row) */
} RImage;

typedef struct {
    char dir[1024];
    char job[64], job_file[1024], study[512];
    char data[1024], data_checksum[24]; /* the job's data set ([data] path, from sweep.h5; else the
                                         * first family's): source paths, groups, contact sheet */
    int have_index;        /* sweep.h5 was read */
    int nested, k, repeats, inner_k; /* design (from the study key, else from the trials) */
    int chose;             /* not nested: some family had two or more candidate configurations
                            * (a choice); 0: each family's one configuration is reported as is */
    int by_test;           /* not nested, and a choice was made on mean test accuracy (no
                            * validation loss: val_fraction 0) */
    int K;
    char **class_names;    /* (K) */
    int n_fam;
    RFamily fam[REPORT_MAX_FAMILIES];
    RTrial *trials;        /* every readable trial file */
    int n_trials;
    RConfig *configs;      /* outer-trial configurations, by family then number */
    int n_configs;
    RUnit *units;          /* every unit with a done outer trial, sorted */
    int n_units;
    RCompare *cmp;         /* pairs of families, first pair first */
    int n_cmp;
    /* intervals of resampled means: Nadeau-Bengio corrected with ratio = mean
     * n_test / (n_train + n_val) over the outer trials; corrected = 0 (naive t
     * intervals) for a single hold-out split or one test fold */
    int corrected;
    double ratio;
    double rope;           /* Bayesian test's rope half-width (set before report_analyse;
                            * report_load sets REPORT_ROPE_DEFAULT) */
    /* three or more families: Friedman test over the units every family has
     * a selected trial on, per compared metric; average ranks (1 = best),
     * Nemenyi critical difference (0.05), Demsar's rank z post-hoc p-values
     * Holm-adjusted over the pairs (in cmp order) */
    int n_friedman;        /* units in the test; 0 when fewer than 3 families */
    double friedman_stat[C_COUNT], friedman_p[C_COUNT];
    double avg_rank[C_COUNT][REPORT_MAX_FAMILIES];
    double cd[C_COUNT];
    double *p_rank[C_COUNT];      /* (n_cmp) the rank z tests' p-values, unadjusted */
    double *p_rank_holm[C_COUNT]; /* (n_cmp) */
    RImage *img;           /* flagged images: disagreement or wrong in most of their tests */
    int n_img;
    int n_rows;            /* data-set rows seen in the index sets (max index + 1) */
    char **source_paths;   /* (n_source) of the data set, NULL if it could not be read */
    int32_t *data_groups;  /* (n_source) leakage groups of the data set, NULL if unread */
    int32_t *dup_groups;   /* (n_source) near-duplicate groups, NULL if unread or absent */
    int n_source;
    char data_note[2200];   /* why the data set could not be used ("" if it could) */
    /* The search (sweep.h5's attributes, halving.h); "" and 0 for an index
     * without them. staged: the index has a rung table (rungs, sorted by
     * family, bracket, repeat, outer, rung, score, config; family = index
     * into fam). */
    char search[16], metric[16], prune[16];
    int eta, min_epochs, max_epochs;
    double grid_epochs;    /* epochs a full grid would train (sweep.h5); NaN if unknown */
    int staged;
    RungRow *rungs;
    int n_rungs;
    double epochs_spent;   /* sum of epochs_run over the done trials */
    int n_staged_configs;  /* configurations (family, config) in the rung table */
    int n_top;             /* of them, those that reached their bracket's last rung in some group */
    int n_groups;          /* selection groups (family, bracket, repeat, outer) */
    int n_open;            /* rung rows not decided yet (an interrupted sweep) */
    /* bookkeeping for the "Trials" section */
    int n_planned, n_outer_planned, n_done, n_failed, n_missing, n_skipped;
    int n_not_needed;      /* planned trials without a file that the search did not need (their
                            * configuration stopped or was pruned first): not missing */
    char **lines;          /* one line per failed, missing or unreadable trial */
    int n_lines;
    char **notes;          /* caveats the report must mention */
    int n_notes;
    char ensemble_names[300]; /* the index's [job] ensemble, "" if none */
    RFamEnsemble fens;
} Report;

/* Read dir/sweep.h5 (optional) and every dir/trials/ *.h5. An unreadable
 * trial file (truncated, another format version) is skipped: its message
 * goes to `warn` (one line each, if not NULL) and into r->lines, and
 * r->n_skipped counts it. Fails (one line in e) when dir or dir/trials is
 * missing, when there is no trial file at all or none is readable, or when
 * the trials disagree on the classes. r owns everything; report_free. */
int report_load(Report *r, const char *dir, FILE *warn, ErrBuf *e);

/* Metrics, configurations, selection, comparisons and flagged images. */
void report_analyse(Report *r);

/* Free everything r owns; a zeroed Report is fine. */
void report_free(Report *r);

/* 1 if the trial's training loss stayed, in every epoch, at or above 95% of
 * the loss of a model that only predicts class frequencies: ln K with a
 * class-balanced loss, the entropy of the class shares otherwise; the
 * smaller of the two is used (shares taken from the trial's test labels). */
int report_trial_stuck(const RTrial *t, int K);

/* The sentence "F did not learn more than the class frequencies: ..." for a
 * family with learned == 0 (buf gets "" otherwise). */
void report_base_sentence(char *buf, size_t cap, const Report *r, int f);

/* The job's ensemble against its members, one sentence without its subject
 * and final period: "(pre, nb; [job] ensemble, named before any result): 392
 * of 597 test images right ... nb (1 model per fold, 10 folds): accuracy
 * +3.7 points [-1.7, +9.1], p = 0.160, balanced accuracy ..."; "" without
 * one. */
void report_fens_text(char *buf, size_t cap, const Report *r);

/* The leakage line's totals over the families: *worst the largest leak_group,
 * *dup_only the largest leak_dup. Returns 1 if some family has a leakage
 * count on a tested pass (the line is written), else 0. */
int report_leak_totals(const Report *r, long *worst, long *dup_only);

/* How configuration `config` of family fam fared in the rung table: ""
 * without one; not nested "top rung (9 epochs)", "stopped at rung 1 (3
 * epochs)", "pruned at rung 0 (1 epochs)", "open at rung 1 (3 epochs)";
 * nested the same per outer fold, counted: "top rung in 2 of 3 outer folds,
 * stopped at rung 1 (3 epochs) in 1". */
void report_config_stage(char *buf, size_t cap, const Report *r, int fam, int config);

/* The distinct epochs of the rung table's rungs, ascending, into ep (cap
 * entries at most); returns how many. */
int report_rung_epochs(const Report *r, int *ep, int cap);

/* Format v with dec decimals, or with two significant digits when fixed
 * decimals would show fewer (0.0026 at dec 2: "0.0026", never "0.00");
 * NaN: "n/a". */
void report_fmt_num(char *buf, size_t cap, double v, int dec);

/* Format p as "p = 0.034" or "p < 0.001" (NaN: "p n/a"). */
void report_fmt_p(char *buf, size_t cap, double p);

#endif
