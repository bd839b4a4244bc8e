/* study.c: a sweep's study and its MPI-free steps (study.h): the job, the
 * phantom data set built on first use, the CV splits, each trial's rows,
 * the results folder's trial states and index, and what the sweep prints
 * about the plan. The scheduler (scheduler.c) decides which rank runs each
 * step and shares the outcome. */
#define _POSIX_C_SOURCE 200809L
#include "hipid/sweep/study.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hipid/base/fsafe.h"
#include "hipid/data/prepset.h"
#include "hipid/data/synth_set.h"
#include "hipid/sweep/estimate.h"

int study_load_job(Study *s, const char *path, ErrBuf *e) {
    if (job_load(&s->job, path, e) != HIPID_OK) return HIPID_ERR;
    const char *env_threads = getenv("HIPID_THREADS");
    s->threads = s->job.threads;
    if (env_threads && threads_parse("HIPID_THREADS", env_threads, &s->threads, e) != 0) {
        job_free(&s->job);
        return HIPID_ERR;
    }
    snprintf(s->out, sizeof s->out, "%s", s->job.output);
    return HIPID_OK;
}

void study_free(Study *s) {
    if (!s) return;
    free(s->plan);
    free(s->hold);
    split_free(&s->sp);
    dataset_free(&s->d);
    for (int i = 0; i < s->n_fdata; i++) dataset_free(&s->fdata[i]);
    job_free(&s->job);
    memset(s, 0, sizeof *s);
}

/* ---- the phantom data set ---- */

/* hipid prep SRC -o OUT --size SIZE --quiet, SRC a folder or, with
 * manifest, its manifest (synth's keeps every view's patient id, so that the
 * views of one patient share a leakage group). 0 or an exit status, errors
 * printed. */
static int prep_images(const char *dir, const char *manifest, const char *out, int size, unsigned steps, int *vips) {
    PrepSetConfig c = prepset_config_default(size);
    c.prep.steps = steps;
    c.src = dir;
    c.manifest = manifest;
    c.out = out;
    c.quiet = 1;
    ErrBuf e = {{0}};
    PrepSetStats s = {0};
    int status = HIPID_EXIT_FAIL;
    /* libvips stays up (it cannot start twice in one process): *vips
     * tells study_build_data to shut it down after the last data set */
    if (prepset_start_vips("prep", &e) == HIPID_OK) {
        *vips = 1;
        if (prepset_build(&s, &c, &e) == HIPID_OK) {
            prepset_print_summary(stdout, &c, &s);
            status = 0;
        }
        prepset_stats_free(&s);
    }
    if (status) fprintf(stderr, "hipid sweep: %s\n", e.msg);
    return status;
}

/* The folder that will hold path, made if missing. */
static int make_parent(const char *path, ErrBuf *e) {
    char parent[1100];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (!slash) return HIPID_OK;
    *slash = 0;
    return mkdir_p(parent, e);
}

/* Seconds a sweep waits for another process building the same data set. */
enum { DATA_WAIT_SECONDS = 3600 };

/* The data set is built by one process at a time: an exclusive lock on
 * DATA.lock. If another process holds it (a sweep of another job, or an
 * array task, with the same [data] path), wait for it, checking every
 * second, at most DATA_WAIT_SECONDS, then use what it built: *ready is 1 if
 * the data set exists once the lock is ours (the caller builds nothing). */
static int lock_data(FsafeLock *lk, const char *data, int *ready, ErrBuf *e) {
    char path[1100], what[1200], stale[256];
    snprintf(path, sizeof path, "%s.lock", data);
    snprintf(what, sizeof what, "data set %s (being built)", data);
    *ready = 0;
    if (make_parent(data, e) != HIPID_OK) return HIPID_ERR;
    double t0 = now_seconds();
    for (int said = 0;; said = 1) {
        if (fsafe_lock(lk, path, what, 0, stale, e) == HIPID_OK) break;
        /* anything but a held lock (a lock file we cannot open) is final */
        if (!strstr(e->msg, " is in use by ")) return HIPID_ERR;
        if (now_seconds() - t0 > DATA_WAIT_SECONDS) {
            char held[sizeof e->msg];
            snprintf(held, sizeof held, "%s", e->msg);
            return hipid_err(e, "%s; waited %d s for it", held, (int)DATA_WAIT_SECONDS);
        }
        if (!said) { /* the holder's line, as fsafe_lock wrote it */
            char holder[256] = "";
            FILE *h = fopen(path, "r");
            if (h && fgets(holder, sizeof holder, h)) holder[strcspn(holder, "\n")] = '\0';
            if (h) fclose(h);
            printf("data %s is being built by %s (lock file %s): waiting for it, at most %d s\n", data,
                   holder[0] ? holder : "another process", path, (int)DATA_WAIT_SECONDS);
            fflush(stdout);
        }
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
    e->msg[0] = '\0';
    if (stale[0]) fprintf(stderr, "hipid sweep: note: took over the lock %s from %s (no longer running)\n", path, stale);
    *ready = access(data, F_OK) == 0;
    if (*ready) {
        printf("data %s: built by another run meanwhile; using it\n", data);
        fflush(stdout);
    }
    return HIPID_OK;
}

/* The job's [data] synth recipe: the PNGs of synth_write_set (in a folder
 * of this process, removed afterwards), prepared into the data set (written
 * to a temporary name and renamed), under lock_data. */
static int build_synth(const Job *j, int *vips, ErrBuf *e) {
    char classes[16] = "6", per[16] = "80", size[16] = "64", seed[16] = "1", dir[1400], spec[256], images[1100];
    snprintf(spec, sizeof spec, "%s", j->synth);
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        char *dst = !strcmp(tok, "classes") ? classes : !strcmp(tok, "per_class") ? per
                  : !strcmp(tok, "size") ? size : !strcmp(tok, "seed") ? seed : NULL;
        if (dst) snprintf(dst, 16, "%s", eq + 1);
    }
    snprintf(images, sizeof images, "%s.images", j->data);
    if (fsafe_tmp_name(dir, sizeof dir, images, e) != HIPID_OK) return HIPID_ERR;
    FsafeLock lk;
    int ready, rc = HIPID_ERR;
    if (lock_data(&lk, j->data, &ready, e) != HIPID_OK) return HIPID_ERR;
    if (ready) {
        fsafe_unlock(&lk);
        return HIPID_OK;
    }
    printf("data %s is missing: building it from [data] synth = %s\n", j->data, j->synth);
    fflush(stdout);
    /* synth_write_set, not cmd_synth: that shuts libvips down, and libvips
     * cannot start twice in one process */
    SynthSetConfig sc = {.out_dir = dir, .per_class = atoi(per), .n_classes = atoi(classes), .size = atoi(size),
                         .seed = (uint64_t)strtoull(seed, NULL, 10), .imbalance = 1.0};
    if (synth_write_set(&sc, e) >= 0) {
        *vips = 1; /* started by synth_write_set */
        char manifest[1500];
        snprintf(manifest, sizeof manifest, "%s/manifest.csv", dir);
        rc = prep_images(dir, manifest, j->data, atoi(size), PREP_ALL_STEPS, vips) == 0
                 ? HIPID_OK
                 : hipid_err(e, "%s: building the phantom data set failed (see above)", j->data);
    }
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir); /* the PNGs were only the way in */
    if (access(dir, F_OK) == 0 && system(cmd) != 0) fprintf(stderr, "hipid sweep: could not remove %s\n", dir);
    fsafe_unlock(&lk);
    return rc;
}

/* Data set out from the job's [data] source by hipid prep with steps
 * (whose = "[data] steps" or the family's section, for the message), under
 * lock_data. */
static int build_source(const Job *j, const char *out, unsigned steps, const char *whose, int *vips, ErrBuf *e) {
    FsafeLock lk;
    int ready, rc = HIPID_OK;
    const char *const in[] = {j->source, j->path};
    if (fsafe_output(out, "data set", in, 2, e) != HIPID_OK) return HIPID_ERR;
    if (lock_data(&lk, out, &ready, e) != HIPID_OK) return HIPID_ERR;
    if (!ready) {
        char st[128] = "";
        if (steps != PREP_ALL_STEPS) {
            snprintf(st, sizeof st, ", steps ");
            prep_steps_text(st + strlen(st), sizeof st - strlen(st), steps);
        }
        printf("data %s is missing: building it from [data] source = %s at %d px (hipid prep%s%s%s)\n", out,
               j->source, j->prep_size, st, st[0] ? " of " : "", st[0] ? whose : "");
        fflush(stdout);
        if (prep_images(j->source, NULL, out, j->prep_size, steps, vips) != 0)
            rc = hipid_err(e, "%s: building the data set from %s failed (see above)", out, j->source);
    }
    fsafe_unlock(&lk);
    return rc;
}

int study_data_missing(const Study *s) {
    if (access(s->job.data, F_OK) != 0) return 1;
    for (int f = 0; f < s->job.n_families; f++)
        if (s->job.families[f].data[0] && access(s->job.families[f].data, F_OK) != 0) return 1;
    return 0;
}

int study_build_data(const Study *s, ErrBuf *e) {
    const Job *j = &s->job;
    int rc = HIPID_OK, vips = 0; /* libvips started (a run that found a data set built meanwhile did not) */
    if (access(j->data, F_OK) != 0) {
        if (j->synth[0]) rc = build_synth(j, &vips, e);
        else if (j->source[0]) rc = build_source(j, j->data, j->prep_steps, "[data] steps", &vips, e);
        else rc = hipid_err(e, "%s: data set not found ([data] path in %s); make it with hipid prep, or give [data] "
                            "source or synth", j->data, j->path);
    }
    for (int f = 0; f < j->n_families && rc == HIPID_OK; f++) {
        const Family *fa = &j->families[f];
        if (!fa->data[0] || access(fa->data, F_OK) == 0) continue;
        char whose[64];
        snprintf(whose, sizeof whose, "[family %s]", fa->name);
        if (fa->prep_from_source) rc = build_source(j, fa->data, fa->prep_steps, whose, &vips, e);
        else rc = hipid_err(e, "%s: data set not found ([family %s] data in %s); make it with hipid prep from the "
                            "films of %s, or give the family steps to prepare it from [data] source", fa->data,
                            fa->name, j->path, j->data);
    }
    if (vips) prepset_stop_vips(); /* after the last data set: libvips cannot start again in this process */
    return rc;
}

/* ---- data and splits ---- */

static uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
    x ^= x >> 31;
    return x * 0xBF58476D1CE4E5B9ull;
}

static int make_splits(Study *s, ErrBuf *e) {
    const Job *j = &s->job;
    const Dataset *d = &s->d;
    const int32_t *g = j->use_groups ? d->groups : NULL;
    if (j->scheme == CV_HOLDOUT) {
        s->hold = xmalloc((size_t)j->repeats * (d->n ? d->n : 1));
        for (int r = 0; r < j->repeats; r++)
            if (split_holdout3(s->hold + (size_t)r * d->n, d->labels, g, d->n, d->n_classes, j->fractions,
                               r == 0 ? j->cv_seed : mix(j->cv_seed, (uint64_t)r), d->class_names, e))
                return HIPID_ERR;
        return HIPID_OK;
    }
    /* a k-fold design with repeats is split_make's "repeated" */
    static const char *names[] = {"holdout", "kfold", "repeated", "group", "nested"};
    int scheme = j->scheme == CV_KFOLD && j->repeats > 1 ? CV_REPEATED : (int)j->scheme;
    snprintf(s->sp.scheme, sizeof s->sp.scheme, "%s", names[scheme]);
    s->sp.k = j->k;
    s->sp.repeats = j->repeats;
    s->sp.inner_k = j->inner_k;
    s->sp.seed = j->cv_seed;
    return split_make(&s->sp, d->labels, d->groups, d->n, d->n_classes, j->use_groups, d->class_names, e);
}

/* A data set built from [data] source by other steps than the job asks
 * for (whose: "[data] steps" or "[family NAME] steps") would be used
 * silently otherwise. */
static int check_steps(const Dataset *d, const char *path, unsigned want_steps, const char *whose, const Job *j,
                       ErrBuf *e) {
    PrepConfig pc;
    ErrBuf pe = {{0}};
    if (prep_parse_describe(&pc, d->preprocessing, &pe) != HIPID_OK || pc.steps == want_steps) return HIPID_OK;
    char have[128], want[128];
    prep_steps_text(have, sizeof have, pc.steps);
    prep_steps_text(want, sizeof want, want_steps);
    return hipid_err(e, "%s: prepared with steps %s, but %s asks for %s (%s); give another path or remove this "
                     "data set to rebuild it", path, have, j->path, want, whose);
}

static int same_str(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* A family's own data set o (path, family name) against the job's d: the
 * same films in the same order, labels, groups, classes and image size, so
 * that the job's folds hold for it. */
static int check_same_films(const Dataset *o, const Dataset *d, const char *path, const char *fam, const Job *j,
                            ErrBuf *e) {
    const char *head = "expected the films of";
    if (o->n != d->n)
        return hipid_err(e, "%s: [family %s] data: %s %s in the same order, found %d images against its %d", path,
                         fam, head, j->data, o->n, d->n);
    if (o->size != d->size)
        return hipid_err(e, "%s: [family %s] data: expected %dx%d images as %s has, found %dx%d", path, fam, d->size,
                         d->size, j->data, o->size, o->size);
    int same = o->n_classes == d->n_classes;
    for (int k = 0; same && k < d->n_classes; k++) same = same_str(o->class_names[k], d->class_names[k]);
    if (!same)
        return hipid_err(e, "%s: [family %s] data: expected the classes of %s, found other class names", path, fam,
                         j->data);
    for (int i = 0; i < d->n; i++) {
        const char *what = !same_str(o->source_paths ? o->source_paths[i] : "", d->source_paths ? d->source_paths[i] : "")
                               ? "film"
                           : o->labels[i] != d->labels[i] ? "label"
                           : o->groups[i] != d->groups[i] ? "leakage group"
                                                          : NULL;
        if (what)
            return hipid_err(e, "%s: [family %s] data: %s %s in the same order, found another %s in row %d (%s, "
                             "%s has %s)", path, fam, head, j->data, what, i,
                             o->source_paths && o->source_paths[i] ? o->source_paths[i] : "?", j->data,
                             d->source_paths && d->source_paths[i] ? d->source_paths[i] : "?");
    }
    return HIPID_OK;
}

/* The families' own data sets, each distinct path loaded once. */
static int load_family_data(Study *s, ErrBuf *e) {
    Job *j = &s->job;
    for (int f = 0; f < j->n_families; f++) {
        Family *fa = &j->families[f];
        s->fdata_of[f] = -1;
        if (!fa->data[0] || (s->dry_run && access(fa->data, F_OK) != 0)) continue;
        for (int g = 0; g < f; g++)
            if (s->fdata_of[g] >= 0 && strcmp(j->families[g].data, fa->data) == 0) s->fdata_of[f] = s->fdata_of[g];
        if (s->fdata_of[f] < 0) {
            Dataset *o = &s->fdata[s->n_fdata];
            if (dataset_load(o, fa->data, e) != HIPID_OK) return HIPID_ERR;
            s->fdata_of[f] = s->n_fdata++;
            char whose[64];
            snprintf(whose, sizeof whose, "[family %s] steps", fa->name);
            if ((fa->prep_from_source && check_steps(o, fa->data, fa->prep_steps, whose, j, e) != HIPID_OK) ||
                check_same_films(o, &s->d, fa->data, fa->name, j, e) != HIPID_OK)
                return HIPID_ERR;
        }
        fa->data_checksum = dataset_identity(&s->fdata[s->fdata_of[f]]);
    }
    return HIPID_OK;
}

int study_load_data(Study *s, ErrBuf *e) {
    if (dataset_load(&s->d, s->job.data, e) != HIPID_OK) return HIPID_ERR;
    s->have_data = 1;
    if (s->job.source[0] && check_steps(&s->d, s->job.data, s->job.prep_steps, "[data] steps", &s->job, e) != HIPID_OK)
        return HIPID_ERR;
    s->checksum = dataset_identity(&s->d); /* pixels and preprocessing too, not only labels and groups */
    if (load_family_data(s, e) != HIPID_OK) return HIPID_ERR;
    return make_splits(s, e);
}

const Dataset *study_data(const Study *s, int f) {
    return s->fdata_of[f] >= 0 && s->n_fdata > 0 ? &s->fdata[s->fdata_of[f]] : &s->d;
}

uint64_t study_data_checksum(const Study *s, int f) {
    return s->job.families[f].data[0] ? s->job.families[f].data_checksum : s->checksum;
}

int study_expand(Study *s, ErrBuf *e) { return job_expand(&s->plan, &s->n_plan, &s->job, s->checksum, e); }

void study_free_parts(TrialParts *p) {
    free(p->train);
    free(p->val);
    free(p->test);
    memset(p, 0, sizeof *p);
}

/* Rows rows[0..n) split by split_holdout (stratified, by whole leakage
 * groups unless [cv] groups = no): a share of them into out[0..*n_out),
 * the rest into rest[0..*n_rest); dataset row numbers, rows may be one of
 * the outputs' own buffers. */
static int draw_rows(int *rest, int *n_rest, int *out, int *n_out, const Study *s, const int *rows, int n,
                     double share, uint64_t seed, ErrBuf *e) {
    const Job *j = &s->job;
    const Dataset *d = &s->d;
    size_t cap = (size_t)(n ? n : 1);
    int32_t *lab = xmalloc(sizeof(int32_t) * cap), *grp = xmalloc(sizeof(int32_t) * cap);
    int *a = xmalloc(sizeof(int) * cap), *b = xmalloc(sizeof(int) * cap), na = 0, nb = 0;
    for (int i = 0; i < n; i++) {
        lab[i] = d->labels[rows[i]];
        grp[i] = j->use_groups ? d->groups[rows[i]] : rows[i];
    }
    int rc = split_holdout(a, &na, b, &nb, lab, grp, n, d->n_classes, share, seed, d->class_names, e);
    for (int i = 0; i < na; i++) a[i] = rows[a[i]];
    for (int i = 0; i < nb; i++) b[i] = rows[b[i]];
    memcpy(rest, a, sizeof(int) * na);
    memcpy(out, b, sizeof(int) * nb);
    *n_rest = na;
    *n_out = nb;
    free(lab);
    free(grp);
    free(a);
    free(b);
    return rc;
}

/* The CV unit's own seed: its draws do not depend on the ranks. */
static uint64_t unit_seed(const Job *j, const Trial *t) {
    return mix(mix(mix(j->cv_seed, (uint64_t)t->repeat), (uint64_t)t->outer), (uint64_t)(t->inner + 1));
}

/* A failed draw of the family's key = value for trial t, said with where
 * it failed (split_holdout's message names only the class). */
static int draw_err(const Study *s, const Trial *t, const char *key, double value, ErrBuf *e) {
    char why[sizeof e->msg];
    snprintf(why, sizeof why, "%s", e->msg);
    return hipid_err(e, "%s: [family %s] %s = %g, repeat %d, fold %d: %s", s->job.path,
                     s->job.families[t->family].name, key, value, t->repeat, t->outer, why);
}

/* [family] subsample: keep the share of p's training rows that the trial's
 * seed draws (the rest is dropped, not used for validation). Each seed of a
 * family trains on its own subset of the same training part, so that its
 * seeds' ensemble is subagging; the draw depends on the CV unit and the seed
 * only. */
static int subsample_train(TrialParts *p, const Study *s, const Trial *t, double sub, ErrBuf *e) {
    int *drop = xmalloc(sizeof(int) * (size_t)(p->n_train ? p->n_train : 1)), n_drop;
    uint64_t seed = mix(mix(unit_seed(&s->job, t), 0x5B5Au), t->seed); /* apart from the carve's draw */
    int rc = draw_rows(p->train, &p->n_train, drop, &n_drop, s, p->train, p->n_train, 1.0 - sub, seed, e);
    free(drop);
    return rc == HIPID_OK ? rc : draw_err(s, t, "subsample", sub, e);
}

int study_trial_parts(TrialParts *p, const Study *s, const Trial *t, ErrBuf *e) {
    const Job *j = &s->job;
    int n = s->d.n;
    double sub = j->families[t->family].subsample;
    memset(p, 0, sizeof *p);
    p->train = xmalloc(sizeof(int) * (n ? n : 1));
    p->val = xmalloc(sizeof(int) * (n ? n : 1));
    p->test = xmalloc(sizeof(int) * (n ? n : 1));
    if (j->scheme == CV_HOLDOUT) {
        const int8_t *part = s->hold + (size_t)t->repeat * n;
        p->n_train = split_part_indices(p->train, part, n, SPLIT_TRAIN);
        p->n_val = split_part_indices(p->val, part, n, SPLIT_VAL);
        p->n_test = split_part_indices(p->test, part, n, SPLIT_TEST);
        return sub < 1.0 ? subsample_train(p, s, t, sub, e) : HIPID_OK;
    }
    const int *assign = s->sp.fold_of + (size_t)t->repeat * n;
    int fold = t->outer;
    if (t->inner >= 0) {
        assign = s->sp.inner_fold_of + ((size_t)t->repeat * j->k + t->outer) * n;
        fold = t->inner;
    }
    int n_all = 0, rc = HIPID_OK;
    int *all = xmalloc(sizeof(int) * (n ? n : 1));
    split_fold_indices(all, &n_all, p->test, &p->n_test, assign, n, fold);
    if (j->families[t->family].val_fraction <= 0.0) {
        memcpy(p->train, all, sizeof(int) * n_all);
        p->n_train = n_all;
    } else {
        /* the validation share of the CV unit's training rows */
        double vf = j->families[t->family].val_fraction;
        rc = draw_rows(p->train, &p->n_train, p->val, &p->n_val, s, all, n_all, vf, unit_seed(j, t), e);
        if (rc != HIPID_OK) draw_err(s, t, "val_fraction", vf, e);
    }
    free(all);
    if (rc == HIPID_OK && sub < 1.0) rc = subsample_train(p, s, t, sub, e);
    return rc;
}

int study_check_plan(const Study *s, ErrBuf *e) {
    const Job *j = &s->job;
    /* every configuration's model on the data set's own images: its shapes
     * (an mp64 on 32 px) and its memory at its batch */
    Shape in = {1, s->d.size, s->d.size};
    for (int f = 0; f < j->n_families; f++)
        for (int c = 0; c < j->families[f].n_configs; c++) {
            const HParams *h = &j->families[f].configs[c];
            int seen = job_config_model_seen(&j->families[f], c, 0);
            ErrBuf me = {{0}};
            char cut[128];
            if (!seen && job_check_model(h, in, s->d.n_classes, s->threads, &me) != HIPID_OK)
                return hipid_err(e, "%s: [family %s] model '%s' on %s (%dx%d images, %d classes): %s", j->path,
                                 j->families[f].name, str_cut(cut, sizeof cut, h->model), j->data, s->d.size,
                                 s->d.size, s->d.n_classes, me.msg);
        }
    int rc = HIPID_OK;
    for (int i = 0; i < s->n_plan && rc == HIPID_OK; i++) {
        const Trial *t = &s->plan[i];
        const Family *fa = &j->families[t->family];
        TrialParts p;
        char why[512];
        rc = study_trial_parts(&p, s, t, e);
        if (rc == HIPID_OK && p.n_train == 0) { /* say where the images went */
            if (j->scheme == CV_HOLDOUT)
                snprintf(why, sizeof why, "hold-out repeat %d: fractions %g, %g, %g of %d images leave none for "
                         "training (%d validation, %d test)", t->repeat, j->fractions[0], j->fractions[1],
                         j->fractions[2], s->d.n, p.n_val, p.n_test);
            else if (t->inner >= 0)
                snprintf(why, sizeof why, "repeat %d, outer fold %d, inner fold %d: %d images in %d outer and %d "
                         "inner folds with val_fraction %g leave none for training (%d validation, %d test); use "
                         "fewer folds, a smaller val_fraction or more images", t->repeat, t->outer, t->inner,
                         s->d.n, j->k, j->inner_k, fa->val_fraction, p.n_val, p.n_test);
            else
                snprintf(why, sizeof why, "repeat %d, fold %d: %d images in %d folds with val_fraction %g leave "
                         "none for training (%d validation, %d test); use fewer folds, a smaller val_fraction or "
                         "more images", t->repeat, t->outer, s->d.n, j->k, fa->val_fraction, p.n_val, p.n_test);
            rc = hipid_err(e, "%s: family %s: the training part is empty: %s", j->path, fa->name, why);
        } else if (rc == HIPID_OK && p.n_train < fa->configs[t->config].batch) {
            rc = hipid_err(e, "%s: family %s: batch %d is larger than a training set (%d images)", j->path,
                           fa->name, fa->configs[t->config].batch, p.n_train);
        }
        study_free_parts(&p);
    }
    return rc;
}

/* ---- the results folder ---- */

void study_trial_path(char *buf, size_t cap, const Study *s, const Trial *t, const char *suffix) {
    char hash[24];
    snprintf(hash, sizeof hash, "%016" PRIx64, t->hash);
    trialfile_path(buf, cap, s->out, s->job.families[t->family].name, hash, suffix);
}

void study_key(char *buf, size_t cap, const Study *s) {
    const Job *j = &s->job;
    snprintf(buf, cap, "data=%016" PRIx64 " scheme=%d k=%d repeats=%d inner_k=%d fractions=%.9g,%.9g,%.9g "
                       "val_fraction=%.9g cv_seed=%" PRIu64 " groups=%d",
             s->checksum, (int)j->scheme, j->k, j->repeats, j->inner_k, j->fractions[0], j->fractions[1],
             j->fractions[2], j->val_fraction, j->cv_seed, j->use_groups);
}

int study_check_output(const Study *s, ErrBuf *e) {
    char trials[1100];
    snprintf(trials, sizeof trials, "%s/trials", s->out);
    if (mkdir_p(trials, e) != HIPID_OK) return HIPID_ERR;
    char path[1100], have[512] = "", want[512], progress[1100];
    snprintf(path, sizeof path, "%s/sweep.h5", s->out);
    const char *const in[] = {s->job.path, s->job.data};
    if (fsafe_output(path, "sweep index", in, 2, e) != HIPID_OK) return HIPID_ERR;
    snprintf(progress, sizeof progress, "%s/status.html", s->out);
    if (fsafe_output(progress, "status page", in, 2, e) != HIPID_OK) return HIPID_ERR;
    snprintf(progress, sizeof progress, "%s/progress", s->out);
    /* the caller holds the folder's lock: no live run of ours writes here,
     * and another host's or a live process's files are never called stale */
    int gone = fsafe_remove_stale_tmp(s->out, NULL) + fsafe_remove_stale_tmp(trials, NULL) +
               fsafe_remove_stale_tmp(progress, NULL);
    if (gone) fprintf(stderr, "hipid sweep: note: removed %d temporary file(s) left in %s by runs that were stopped\n", gone, s->out);
    study_key(want, sizeof want, s);
    if (access(path, F_OK) != 0) return HIPID_OK;
    ErrBuf ie = {{0}};
    hid_t f = trialfile_open_index(path, "remove it", &ie);
    if (f < 0) return hipid_err(e, "%s", ie.msg);
    int got = trialfile_index_study(f, have, sizeof have);
    H5Fclose(f);
    if (got != HIPID_OK || strcmp(have, want) != 0)
        return hipid_err(e, "%s holds results of another study (data or [cv] differ: it has '%s', this job "
                            "gives '%s'); set [run] output to a new folder or remove the old one",
                         s->out, have, want);
    return HIPID_OK;
}

int study_scan(TrialSummary *sum, int *todo, const Study *s, int shard, int n_shards) {
    int n_todo = 0;
    for (int i = 0; i < s->n_plan; i++) {
        char path[1400], ckpt[1400];
        const Trial *t = &s->plan[i];
        study_trial_path(path, sizeof path, s, t, ".h5");
        study_trial_path(ckpt, sizeof ckpt, s, t, ".ckpt.h5");
        TrialSummary *x = &sum[i];
        trialfile_summary(x, path, t->hash);
        if (x->state == TRIAL_BAD) {
            /* unreadable, another trial's, or failing its checksums: not done.
             * The file stays until the redone trial's rename replaces it. */
            fprintf(stderr, "hipid sweep: warning: %s; redoing the trial\n", x->reason);
            x->state = TRIAL_TODO;
            x->reason[0] = 0;
        }
        if (x->state == TRIAL_TODO && access(ckpt, F_OK) == 0) x->state = TRIAL_PARTIAL;
        int mine = n_shards <= 1 || i % n_shards == shard;
        if (!mine) continue;
        if (x->state == TRIAL_TODO || x->state == TRIAL_PARTIAL ||
            (x->state == TRIAL_FAILED && x->attempts <= s->job.retries))
            todo[n_todo++] = i;
    }
    return n_todo;
}

void study_rescan(TrialSummary *sum, const Study *s) {
    for (int i = 0; i < s->n_plan; i++) {
        char path[1400], ckpt[1400];
        study_trial_path(path, sizeof path, s, &s->plan[i], ".h5");
        study_trial_path(ckpt, sizeof ckpt, s, &s->plan[i], ".ckpt.h5");
        int pruned = sum[i].pruned; /* the master's, not the file's */
        trialfile_summary(&sum[i], path, s->plan[i].hash);
        sum[i].pruned = pruned;
        if (sum[i].state == TRIAL_TODO && access(ckpt, F_OK) == 0) sum[i].state = TRIAL_PARTIAL;
    }
}

int study_write_index(const Study *s, const TrialSummary *sum, const double *busy, const double *elapsed,
                      int n_ranks, const RungRow *rungs, int n_rungs, ErrBuf *e) {
    char study[512];
    study_key(study, sizeof study, s);
    return trialfile_write_index(s->out, &s->job, s->plan, sum, s->n_plan, study, busy, elapsed, n_ranks, rungs, n_rungs, e);
}

/* ---- what the sweep prints ---- */

void study_format_duration(char *buf, size_t cap, double s) {
    if (s < 0 || !isfinite(s)) snprintf(buf, cap, "?");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void study_print_summary(const Study *st, const TrialSummary *sum) {
    const Job *j = &st->job;
    printf("\n%-10s %6s %6s %6s %10s %8s %8s\n", "family", "done", "failed", "left", "test acc", "sd", "min");
    int skipped = 0; /* staged: trials of configurations that stopped early are never trained */
    for (int f = 0; f < j->n_families; f++) {
        int done = 0, failed = 0, left = 0;
        double s = 0, s2 = 0, mn = 1;
        for (int i = 0; i < st->n_plan; i++) {
            const Trial *t = &st->plan[i];
            if (t->family != f || t->inner >= 0) continue; /* inner folds only select */
            const TrialSummary *x = &sum[i];
            if (x->state == TRIAL_DONE) {
                done++;
                s += x->test_acc;
                s2 += x->test_acc * x->test_acc;
                mn = x->test_acc < mn ? x->test_acc : mn;
            } else if (x->state == TRIAL_FAILED) failed++;
            else if (x->pruned) skipped++;
            else left++;
        }
        double mean = done ? s / done : NAN, sd = done > 1 ? sqrt((s2 - s * s / done) / (done - 1)) : NAN;
        printf("%-10s %6d %6d %6d %10.4f %8.4f %8.4f\n", j->families[f].name, done, failed, left, mean, sd,
               done ? mn : NAN);
    }
    if (j->scheme == CV_NESTED) printf("(nested: outer-fold trials only; inner trials are for selection)\n");
    if (skipped) printf("(%s: %d trial(s) of configurations stopped before their last rung or pruned were not needed)\n",
                        search_mode_names[j->search], skipped);
    printf("results: %s (sweep.h5 indexes %d trial files)\n", st->out, st->n_plan);
}

/* One family's line of the estimate table, and a note when its allreduce
 * dominates a step. */
static void print_family_estimate(const Family *fa, const EstFamily *x) {
    char a[32], b[32], cstr[32];
    study_format_duration(a, sizeof a, x->per_trial);
    snprintf(b, sizeof b, "%.1f ms", x->step * 1e3);
    snprintf(cstr, sizeof cstr, x->rpt > 1 ? "%.1f ms" : "-", x->comm * 1e3);
    printf("%-10s %7d %7d %6d %7d %11s %11s %11s\n", fa->name, fa->n_configs, x->n_trials, x->rpt, x->groups, b,
           cstr, a);
    if (x->rpt > 1 && x->comm > 0.5 * x->step / x->rpt)
        printf("  note: %s's collectives (%.0f MB of fixed-point sums) take %.0f%% of a step at %d ranks: "
               "ranks_per_trial 1 (parallel over trials) is faster\n",
               fa->name, x->bytes / 1e6, 100.0 * x->comm / (x->step / x->rpt + x->comm), x->rpt);
}

void study_print_estimate(const Study *s, int n_todo, int n_ranks, const EstLink *link) {
    const Job *j = &s->job;
    EstData d = {.size = s->d.size, .n_classes = s->d.n_classes, .n_images = s->d.n, .from_file = 1};
    ErrBuf e = {{0}};
    if (!s->have_data && estimate_data(&d, j, &e) != HIPID_OK) { /* not there: the synth recipe's numbers */
        d.size = estimate_synth_value(j->synth, "size", 64);
        d.n_classes = estimate_synth_value(j->synth, "classes", 6);
        d.n_images = (double)d.n_classes * estimate_synth_value(j->synth, "per_class", 80);
    }
    Estimate est;
    estimate_work(&est, j, &d, s->plan, s->n_plan, n_ranks, s->threads, link);
    printf("job %s (%s): data %s%s\n", j->name, j->path, j->data, s->have_data ? "" : " (not built yet: sizes assumed)");
    for (int f = 0; f < j->n_families; f++)
        if (j->families[f].data[0])
            printf("  [family %s] data %s%s\n", j->families[f].name, j->families[f].data,
                   access(j->families[f].data, F_OK) == 0 ? "" : " (not built yet)");
    printf("design: %d CV unit(s) x %d seed(s) per configuration; %s search\n", est.n_units, j->n_seeds,
           j->random ? "random" : "grid");
    printf("%-10s %7s %7s %6s %7s %11s %11s %11s\n", "family", "configs", "trials", "ranks", "groups",
           "step (1 r)", "allreduce", "est/trial");
    for (int f = 0; f < j->n_families; f++) print_family_estimate(&j->families[f], &est.fam[f]);
    char a[32];
    study_format_duration(a, sizeof a, est.total);
    printf("%d trial(s) in all, %d to run now; with %d rank(s): about %s of work\n", s->n_plan, n_todo,
           n_ranks, a);
    estimate_print_dp(stdout, j, &est, link);
    printf("results: %s\n", s->out);
}
