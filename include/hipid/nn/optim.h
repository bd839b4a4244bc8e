/* optim.h: optimisers over one contiguous parameter block, and learning-rate
 * schedules. Each update follows torch.optim's documented algorithm:
 *  - SGD: g += wd*p; buf = momentum*buf + g (buf = g on the first step);
 *         p -= lr*buf  (dampening 0, no Nesterov).
 *  - Adam: g += wd*p (L2); m,v moments; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
 *  - AdamW: p *= 1 - lr*wd (decoupled), then Adam without the L2 term.
 * The Optim owns its state arrays; optim_free(NULL) is a no-op. */
#ifndef HIPID_OPTIM_H
#define HIPID_OPTIM_H

#include <stddef.h>

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW } OptKind;
typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE } SchedKind;

typedef struct {
    OptKind kind;
    float lr, momentum, weight_decay, beta1, beta2, eps;
    SchedKind sched;
    int step_size;  /* SCHED_STEP: epochs between decays */
    float gamma;    /* SCHED_STEP: factor per decay */
    int epochs;     /* SCHED_COSINE: T_max (warm-up epochs included) */
    int warmup;     /* epochs of linear warm-up: lr x (e + 1) / (warmup + 1) in epoch e < warmup,
                     * then the schedule over the remaining epochs (PyTorch: SequentialLR of
                     * LinearLR(1 / (warmup + 1), total_iters = warmup) and the schedule) */
} OptConfig;

/* Parameter groups: [lo, hi) of the block updated at lr x factor (as
 * PyTorch's param_groups with their own lr); factor 0 freezes the range (no
 * update, no weight decay, no moments). Parameters outside every group use
 * factor 1. */
#define OPTIM_MAX_GROUPS 4
typedef struct {
    size_t lo, hi;
    float factor;
} OptGroup;

typedef struct {
    OptConfig cfg;
    size_t n;
    long t;         /* steps taken */
    float *m, *v;   /* (n) momentum / first moment, second moment */
    int n_groups;
    OptGroup groups[OPTIM_MAX_GROUPS];
    int n_threads;  /* OpenMP threads of a step (1 from optim_create); the update is
                     * elementwise, so the result does not depend on it */
} Optim;

/* Defaults: SGD, lr 0.01, momentum 0.9, Adam betas (0.9, 0.999), eps 1e-8. */
OptConfig optim_defaults(void);
/* The names of OptKind and SchedKind values, indexed by value, NULL-terminated:
 * the one table used by parsers, trial files and reports. */
extern const char *const optim_kind_names[];  /* "sgd", "adam", "adamw" */
extern const char *const optim_sched_names[]; /* "constant", "step", "cosine" */
/* Parse a name of the tables above; -1 if unknown. */
int optim_parse_kind(const char *s);
int optim_parse_sched(const char *s);

Optim *optim_create(OptConfig cfg, size_t n_params);
void optim_free(Optim *o);
/* One update of params (n) from grads (n) at learning rate lr. */
void optim_step(Optim *o, float *params, const float *grads, float lr);
/* Give [lo, hi) its own learning-rate factor (see OptGroup); groups must not
 * overlap. Returns 0, or 1 if the table is full or the range is bad. */
int optim_set_group(Optim *o, size_t lo, size_t hi, float factor);
/* Learning rate for a 0-based epoch under the configured schedule. */
float optim_lr_at(const OptConfig *cfg, int epoch);

#endif
