/* halving.h: successive halving, Hyperband and per-fold pruning of a sweep's
 * configurations ([search] mode = halving | hyperband, [search] prune). Pure:
 * no MPI, no files; the scheduler asks it what to run next and tells it what
 * came out, the study and the report read its rung table.
 *
 * Rungs. s_max = floor(log_eta(max_epochs / min_epochs)); rung r (0..s_max)
 * trains to E_r = round(max_epochs * eta^(r - s_max)) epochs, so the last rung
 * is max_epochs. Every configuration's schedule runs over max_epochs (a
 * family's epochs is max_epochs), so a trial trained to E_r and continued
 * from its rung checkpoint to E_r+1 ends bit-identical to one trained straight
 * to E_r+1.
 *
 * Brackets. halving: one bracket, all of a family's configurations start at
 * rung 0. hyperband: brackets s = s_max..0 (bracket b = s_max - s starts at
 * rung b with E_b epochs); the family's configurations, in configuration
 * hash order (of their first trials), are dealt to the brackets in
 * proportion to Li et al.'s n_s = ceil((s_max + 1) / (s + 1)) * eta^s
 * (largest remainders in integers, equal remainders to the lower bracket; a
 * bracket may get none). grid/random with a prune: one bracket of one rung, each
 * configuration to its own epochs.
 *
 * Selection groups. A bracket's decisions are taken per selection group:
 * (family, bracket) when not nested, its units every (repeat, outer, seed)
 * trial; nested, (family, bracket, repeat, outer), its units the inner-fold
 * trials (inner >= 0, every seed) of that outer fold, and the outer trials
 * (inner = -1) are trained, to max_epochs, only for the configurations that
 * end at the bracket's last rung: the outer test folds never enter a decision.
 *
 * A trial's metric at a budget of E epochs is read from its history: the
 * lowest validation loss over epochs 1..E (metric = val_loss), or minus the
 * validation accuracy at that epoch (metric = val_acc): lower is better. A
 * failed trial scores +inf. A configuration's score at a rung is the mean
 * over the group's units (its first prune_after units at a pruning point).
 *
 * Promotion. When every configuration of a group at rung r has its units
 * scored, the configurations are ranked by score, ties by configuration hash
 * (the plan hash of the configuration's first trial), and the first
 * max(1, floor(n / eta)) go on to rung r+1. The order in which results
 * arrive, the rank count and timing never enter a decision.
 *
 * Pruning (prune = median | wilcoxon). Within a rung a configuration runs its
 * first prune_after units (plan order) as a first wave; once every
 * configuration of the group has its first wave, the reference is the best of
 * them (score, then hash). median: a configuration whose score is above the
 * median of all the group's first-wave scores is pruned. wilcoxon: one whose
 * paired differences to the reference over those units (its metric minus the
 * reference's) give an exact one-sided signed-rank p-value (H1: worse; zero
 * differences dropped, tied |d| average ranks, every sign pattern counted)
 * below prune_alpha is pruned. The reference is never pruned. Pruned
 * configurations run no further units and are not promoted. With
 * prune_after at or above the number of units there is no first wave and no
 * pruning.
 *
 * Resume. Before a unit is handed out, lookup() is asked whether a trial
 * file already holds it at that budget; if so it counts as done at once. As
 * decisions depend only on the metrics, a rerun after a kill takes the same
 * decisions and hands out only what is missing. A trial that fails at a later
 * rung keeps the history it completed (trialfile.h), so its earlier rungs
 * score the same on a rerun. */
#ifndef HIPID_HALVING_H
#define HIPID_HALVING_H

#include "hipid/sweep/job.h"

enum { HALVING_WAIT = -3, HALVING_END = -1 };

/* Per (group, configuration, rung): what the rung table records. */
enum {
    RUNG_PROMOTED = 0, /* went on to the next rung */
    RUNG_STOPPED,      /* not among the best 1/eta */
    RUNG_PRUNED,       /* pruned after its first wave */
    RUNG_TOP,          /* reached the bracket's last rung (a candidate for selection) */
    RUNG_OPEN,         /* not decided yet (an interrupted sweep) */
};
extern const char *const rung_state_names[]; /* "promoted", "stopped", "pruned", "top", "open" */

typedef struct {
    int family, config, bracket;
    int repeat, outer;  /* nested: the outer fold of the group; -1, -1 otherwise */
    int rung, epochs;   /* rung index (0..s_max) and its budget */
    int n_units;        /* units scored at this rung */
    double score;       /* mean metric over them (lower is better); NaN if none */
    int state;          /* RUNG_* */
} RungRow;

/* Does plan trial idx already have a result at budget epochs (0: its own
 * epochs)? 1 and *metric (NaN never: a failed trial is +inf) if its trial file
 * holds at least those epochs, or ended before them (early stopping: the
 * metric of what it has); 0 if it must run. */
typedef int (*HalvingLookup)(void *ctx, int idx, int epochs, double *metric);

typedef struct Halving Halving;

/* The engine for the plan trials phase[0..n_phase) (their families all use
 * the job's search). NULL with e filled if the plan cannot be arranged (a
 * configuration without units). */
Halving *halving_create(const Job *job, const Trial *plan, int n_plan, const int *phase, int n_phase,
                        HalvingLookup lookup, void *ctx, ErrBuf *e);
void halving_free(Halving *h);

/* The next trial to run and its budget (epochs to train to; 0 = its own
 * epochs, i.e. to the end): 0, or HALVING_WAIT (nothing can run until a
 * running trial reports), or HALVING_END (the phase is complete). */
int halving_next(Halving *h, int *idx, int *budget);

/* A trial handed out by halving_next ended: its metric at the budget it was
 * given (+inf: failed). Decisions it completes are taken here. */
void halving_done(Halving *h, int idx, double metric);

/* The rung table so far, sorted by family, bracket, repeat, outer, rung,
 * score, configuration; *rows malloc'd (caller frees). */
int halving_table(const Halving *h, RungRow **rows);

/* Per plan trial (n_plan): budget[i] the epochs it has been (or is being)
 * trained to (0: to its end, -1: not needed), pruned[i] 1 if its
 * configuration stopped before its bracket's last rung in the trial's group
 * (a nested outer trial of such a configuration is never trained). Trials of
 * other phases are left as they are. */
void halving_trial_states(const Halving *h, int *budget, int *pruned);

/* Epochs a full grid would train (every trial of the phase to its epochs)
 * and the most halving can (no early stopping), for --dry-run and the bench;
 * and the plan printed as brackets and rungs. */
void halving_expected(const Job *job, const Trial *plan, const int *phase, int n_phase, double *grid_epochs,
                      double *halving_epochs, int *runs);  /* runs: trial runs (one per trial and rung), at most */
void halving_print_plan(const Job *job, const Trial *plan, const int *phase, int n_phase);

/* Exact one-sided signed-rank p-value of d[0..n) (H1: the differences tend
 * to be positive), as described above; 1 when no difference is nonzero. */
double halving_wilcoxon_greater(const double *d, int n);

#endif
