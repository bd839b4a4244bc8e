/* slurm_plan.c: a job file's sweep as Slurm batch jobs: sizing, the scripts
 * and their submission. See slurm_plan.h; `hipid slurm` (cmd/slurm.c) parses
 * the options and calls these in order. */
#define _POSIX_C_SOURCE 200809L
#include "hipid/sweep/slurm_plan.h"

#include "hipid/base/fsafe.h"
#include "hipid/sweep/halving.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* One #SBATCH setting to write: key without "--", value (NULL: keep the
 * shipped line as it is). */
typedef struct {
    const char *key;
    const char *value;
} Setting;

/* ---- small helpers ---- */

static void fmt_slurm_time(char *buf, size_t cap, double s) {
    long m = (long)ceil(s / 300.0) * 5; /* whole 5 minutes */
    if (m >= 24 * 60) snprintf(buf, cap, "%ld-%02ld:%02ld:00", m / 1440, m % 1440 / 60, m % 60);
    else snprintf(buf, cap, "%02ld:%02ld:00", m / 60, m % 60);
}

double slurm_time_seconds(const char *s) {
    long f[4] = {0}, days = 0;
    int n = 0, dash = 0;
    const char *p = s;
    if (!*s) return -1;
    for (;;) {
        if (*p < '0' || *p > '9' || n == 4) return -1;
        char *end;
        f[n++] = strtol(p, &end, 10);
        p = end;
        if (*p == '-' && !dash && n == 1) { days = f[0], n = 0, dash = 1, p++; continue; }
        if (*p == ':') { p++; continue; }
        if (*p) return -1;
        break;
    }
    if (dash) { /* D-H, D-H:M, D-H:M:S */
        if (n > 3) return -1;
        return days * 86400.0 + f[0] * 3600.0 + (n > 1 ? f[1] * 60.0 : 0) + (n > 2 ? f[2] : 0);
    }
    if (n == 1) return f[0] * 60.0;                      /* M */
    if (n == 2) return f[0] * 60.0 + f[1];               /* M:S */
    if (n == 3) return f[0] * 3600.0 + f[1] * 60.0 + f[2]; /* H:M:S */
    return -1;
}

static void fmt_dur(char *buf, size_t cap, double s) {
    if (!isfinite(s)) snprintf(buf, cap, "?");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* s, single-quoted for a shell when it holds anything but plain characters */
static const char *shq(char *buf, size_t cap, const char *s) {
    if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-:=%+,@") == strlen(s))
        return s;
    size_t o = 0;
    if (o < cap) buf[o++] = '\'';
    for (const char *p = s; *p && o + 5 < cap; p++) {
        if (*p == '\'') { memcpy(buf + o, "'\\''", 4); o += 4; }
        else buf[o++] = *p;
    }
    if (o + 1 < cap) buf[o++] = '\'';
    buf[o < cap ? o : cap - 1] = 0;
    return buf;
}

/* PATH has an executable `name` */
static int in_path(const char *name) {
    const char *path = getenv("PATH");
    char dir[1100], full[1200];
    for (const char *p = path; p && *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)n, p);
        snprintf(full, sizeof full, "%s/%s", n ? dir : ".", name);
        if (access(full, X_OK) == 0) return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* MaxArraySize from `scontrol show config`, or 0 if not known */
static int site_max_array(void) {
    if (!in_path("scontrol")) return 0;
    FILE *p = popen("scontrol show config 2>/dev/null", "r");
    if (!p) return 0;
    char line[512];
    int v = 0;
    while (fgets(line, sizeof line, p))
        if (strncmp(line, "MaxArraySize", 12) == 0 && strchr(line, '=')) v = atoi(strchr(line, '=') + 1);
    pclose(p);
    return v;
}

/* ---- sizing ---- */

int slurm_plan_init(SlurmPlan *p, const SlurmOpts *o, const Job *job, const Trial *trials, int n_trials,
                    ErrBuf *e) {
    memset(p, 0, sizeof *p);
    p->o = *o;
    p->job = job;
    p->trials = trials;
    p->n_trials = n_trials;
    p->n_shards = o->array ? o->n_shards : 1;
    if (n_trials == 0) return hipid_err(e, "%s: the job expands to no trials", o->job_path);
    if (o->array && JOB_STAGED(job))
        return hipid_err(e, "%s: --array: [search] mode = %s, prune = %s decides from the results of every "
                            "configuration, so it runs as one job (more tasks, not an array)", o->job_path,
                         search_mode_names[job->search], search_prune_names[job->prune]);
    p->rpt = 1;
    for (int f = 0; f < job->n_families; f++)
        p->rpt = job->families[f].ranks_per_trial > p->rpt ? job->families[f].ranks_per_trial : p->rpt;
    int per_shard = (n_trials + p->n_shards - 1) / p->n_shards; /* trials of the largest shard */
    if (o->ntasks) {
        if (o->ntasks % p->rpt)
            return hipid_err(e, "--ntasks %d is not a multiple of the job's largest ranks_per_trial (%d)",
                             o->ntasks, p->rpt);
        p->ntasks = o->ntasks;
        snprintf(p->why_tasks, sizeof p->why_tasks, "--ntasks");
    } else {
        int cap = SLURM_MAX_AUTO_TASKS / p->rpt > 0 ? SLURM_MAX_AUTO_TASKS / p->rpt : 1;
        p->ntasks = (per_shard < cap ? per_shard : cap) * p->rpt;
        snprintf(p->why_tasks, sizeof p->why_tasks, "%d trial(s)%s, %d rank(s) each, at most %d rank(s) by default",
                 per_shard, o->array ? " in the largest shard" : "", p->rpt, SLURM_MAX_AUTO_TASKS);
    }
    p->cpus = o->cpus ? o->cpus : job->threads;
    return HIPID_OK;
}

/* Seconds of work of the longest shard: shard s gets trials s, s + n_shards,
 * ...; a family's trials share the ranks in groups, and a shard takes at
 * least its longest trial. */
static double longest_shard(const SlurmPlan *p) {
    double work = 0.0;
    for (int s = 0; s < p->n_shards && s < p->n_trials; s++) {
        double w = 0.0, longest = 0.0;
        for (int i = s; i < p->n_trials; i += p->n_shards) {
            const EstFamily *x = &p->est.fam[p->trials[i].family];
            w += x->per_trial / x->groups;
            longest = x->per_trial > longest ? x->per_trial : longest;
        }
        w = w > longest ? w : longest;
        work = w > work ? w : work;
    }
    return work;
}

int slurm_plan_estimate(SlurmPlan *p, ErrBuf *e) {
    const Job *job = p->job;
    /* time */
    if (estimate_data(&p->data, job, e) != HIPID_OK) return HIPID_ERR;
    EstLink link = EST_LINK_DEFAULT;
    if (p->o.link.gbit > 0) link.gbit = p->o.link.gbit, link.source = EST_LINK_STATED;
    if (p->o.link.us > 0) link.us = p->o.link.us, link.source = EST_LINK_STATED;
    p->link = link;
    estimate_work(&p->est, job, &p->data, p->trials, p->n_trials, p->ntasks, p->cpus, &link);
    p->work = longest_shard(p);
    if (JOB_STAGED(job)) { /* halving trains a share of the grid's epochs (its bound, without early stopping) */
        int *all = xmalloc(sizeof(int) * (p->n_trials + 1)), runs = 0;
        double grid = 0, hv = 0;
        for (int i = 0; i < p->n_trials; i++) all[i] = i;
        halving_expected(job, p->trials, all, p->n_trials, &grid, &hv, &runs);
        free(all);
        if (grid > 0) p->work *= hv / grid;
    }
    if (p->o.time) snprintf(p->limit, sizeof p->limit, "%s", p->o.time);
    else if (!isfinite(p->work)) return hipid_err(e, "%s: a model could not be timed; give --time", p->o.job_path);
    else {
        double t = SLURM_TIME_FACTOR * p->work + SLURM_TIME_EXTRA;
        p->capped = t > SLURM_TIME_MAX;
        fmt_slurm_time(p->limit, sizeof p->limit, p->capped ? SLURM_TIME_MAX : t);
    }
    /* the estimate has room for the warning; a --time shorter than 4 warnings
     * would be signalled at once (Slurm may send it a minute early), so it is
     * warned a quarter before its end */
    double limit_s = p->o.time ? slurm_time_seconds(p->o.time) : -1;
    double warn = limit_s > 0 && limit_s < 4 * SLURM_WARN_S ? floor(limit_s / 4) : SLURM_WARN_S;
    snprintf(p->signal, sizeof p->signal, "B:USR1@%.0f", warn);
    /* memory */
    if (estimate_memory(&p->mem, job, &p->data, p->cpus, e) != HIPID_OK) return HIPID_ERR;
    p->per_rank = (p->mem.total + SLURM_PROCESS_BYTES) * SLURM_MEM_FACTOR;
    long mem_mb = (long)ceil(p->per_rank / p->cpus / 1048576.0 / 64.0) * 64;
    snprintf(p->mem_per_cpu, sizeof p->mem_per_cpu, "%ldM", mem_mb);
    /* arrays */
    p->max_array = p->o.max_array;
    p->max_from = "--max-array-size";
    if (p->o.array && !p->max_array) {
        p->max_array = site_max_array();
        p->max_from = "scontrol show config";
        if (!p->max_array) {
            p->max_array = SLURM_DEFAULT_MAX_ARRAY;
            p->max_from = "Slurm's default; scontrol show config gave nothing";
        }
    }
    p->n_arrays = p->o.array ? (p->n_shards + p->max_array - 1) / p->max_array : 0;
    return HIPID_OK;
}

void slurm_plan_print(FILE *f, const SlurmPlan *p) {
    const Job *job = p->job;
    const char *unit = p->o.array ? "longest shard" : "job";
    char a[32];
    fprintf(f, "job %s (%s): %d trial(s)", job->name, p->o.job_path, p->n_trials);
    for (int i = 0; i < job->n_families; i++)
        fprintf(f, "%s %s %d (ranks_per_trial %d)", i ? "," : ":", job->families[i].name, p->est.fam[i].n_trials,
                job->families[i].ranks_per_trial);
    fprintf(f, "\n");
    if (p->o.array)
        fprintf(f, "shards: %d (--array), %d array job(s) of at most %d task(s) (MaxArraySize %d: %s)\n",
                p->n_shards, p->n_arrays, p->max_array, p->max_array, p->max_from);
    if (p->n_shards > p->n_trials)
        fprintf(f, "note: %d of the %d shards have no trials (the job has %d); they end at once\n",
                p->n_shards - p->n_trials, p->n_shards, p->n_trials);
    fprintf(f, "tasks: %d per %s (%s)\n", p->ntasks, p->o.array ? "shard" : "job", p->why_tasks);
    fprintf(f, "cpus per task: %d (%s)\n", p->cpus, p->cpus == job->threads ? "[run] threads" : "--cpus-per-task");
    fprintf(f, "data: %d x %d images, %d classes, %.0f images (%s)\n", p->data.size, p->data.size,
            p->data.n_classes, p->data.n_images, p->data.from_file ? job->data : "not built yet: from [data] synth");
    fprintf(f, "step times measured here with %d thread(s):", p->cpus);
    for (int i = 0; i < job->n_families; i++) {
        fmt_dur(a, sizeof a, p->est.fam[i].per_trial);
        fprintf(f, "%s %s %.1f ms (%s a trial)", i ? "," : "", job->families[i].name, p->est.fam[i].step * 1e3, a);
    }
    fprintf(f, "\n");
    fmt_dur(a, sizeof a, p->work);
    if (p->o.time) fprintf(f, "time: %s (--time); estimated work of the %s: %s\n", p->limit, unit, a);
    else
        fprintf(f, "time: %s = %.1f x %s (estimated work of the %s on %d rank(s)) + %.0f min (checkpoint warning, "
                   "start-up)%s\n",
                p->limit, SLURM_TIME_FACTOR, a, unit, p->ntasks, SLURM_TIME_EXTRA / 60,
                p->capped ? ", capped at 24 h: the sweep checkpoints at the limit and requeues itself" : "");
    const EstMemory *m = &p->mem;
    fprintf(f, "memory per rank: %s: model %.1f MB (parameters, gradients, activations for the batch) + "
               "optimiser %.1f MB + best copy %.1f MB + fixed-point sums %.1f MB + batch %.1f MB + data set %.1f MB "
               "+ process %.0f MB, x %.2f = %.0f MB; / %d CPU(s): --mem-per-cpu=%s\n",
            m->which, m->model / 1e6, m->optim / 1e6, m->best / 1e6, m->fixed / 1e6, m->batch / 1e6, m->data / 1e6,
            SLURM_PROCESS_BYTES / 1e6, SLURM_MEM_FACTOR, p->per_rank / 1e6, p->cpus, p->mem_per_cpu);
    estimate_print_dp(f, job, &p->est, &p->link);
}

/* ---- the scripts ---- */

/* the folder of the shipped scripts (absolute): HIPID_SLURM_DIR, ./slurm, or
 * slurm/ next to the binary's bin/ */
static int find_slurm_dir(char *dir, size_t cap) {
    char cand[3][1100] = {{0}}, exe[1024];
    const char *env = getenv("HIPID_SLURM_DIR");
    if (env && *env) snprintf(cand[0], sizeof cand[0], "%s", env);
    snprintf(cand[1], sizeof cand[1], "slurm");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *s = strrchr(exe, '/');
        if (s) *s = 0;
        snprintf(cand[2], sizeof cand[2], "%s/../slurm", exe);
    }
    for (int i = 0; i < 3; i++) {
        char probe[3400], real[PATH_MAX];
        if (!cand[i][0]) continue;
        snprintf(probe, sizeof probe, "%s/common.sh", cand[i]);
        if (access(probe, R_OK) != 0 || !realpath(cand[i], real)) {
            if (i == 0) return HIPID_ERR; /* asked for, not there */
            continue;
        }
        return snprintf(dir, cap, "%s", real) < (int)cap ? HIPID_OK : HIPID_ERR;
    }
    return HIPID_ERR;
}

/* option name of an "#SBATCH --key[=value]" or "##SBATCH ..." line, in key */
static int sbatch_key(const char *line, char *key, size_t cap) {
    const char *p = line;
    if (strncmp(p, "##SBATCH", 8) == 0) p += 8;
    else if (strncmp(p, "#SBATCH", 7) == 0) p += 7;
    else return 0;
    p += strspn(p, " \t");
    if (strncmp(p, "--", 2) != 0) return 0;
    p += 2;
    size_t n = strcspn(p, "= \t\n");
    snprintf(key, cap, "%.*s", (int)n, p);
    return 1;
}

/* Copy the shipped script src to dst with its settings block rewritten:
 * every setting with a value becomes "#SBATCH --key=value" (added before the
 * end of the block if the shipped script lacks it); `vars` (shell lines, may
 * be NULL) replace the block's lines that assign the same names; `env` lines
 * follow the block. */
static int write_script(const char *src, const char *dst, const char *header, const Setting *set, int n_set,
                        const char *const *vars, int n_vars, const char *env, ErrBuf *e) {
    FILE *in = fopen(src, "r"), *out = NULL;
    char tmp[1500]; /* dst (at most 1199 characters) and .tmp.<host>.<pid> */
    int used[16] = {0}, in_block = 0, ok = 1;
    if (!in) return hipid_err(e, "%s: cannot read: %s", src, strerror(errno));
    if (fsafe_tmp_name(tmp, sizeof tmp, dst, e) != HIPID_OK) {
        fclose(in);
        return HIPID_ERR;
    }
    if (!(out = fopen(tmp, "w"))) {
        fclose(in);
        return hipid_err(e, "%s: cannot write: %s", tmp, strerror(errno));
    }
    char line[2048], key[64];
    int lineno = 0;
    while (fgets(line, sizeof line, in)) {
        lineno++;
        if (lineno == 2) fputs(header, out);
        if (strncmp(line, "# ---- change these", 19) == 0) in_block = 1;
        if (in_block && strncmp(line, "# ---- end of settings", 22) == 0) {
            for (int i = 0; i < n_set; i++)
                if (!used[i] && set[i].value) fprintf(out, "#SBATCH --%s=%s\n", set[i].key, set[i].value);
            fputs(line, out);
            fputs(env, out);
            in_block = 0;
            continue;
        }
        int done = 0;
        if (in_block && sbatch_key(line, key, sizeof key))
            for (int i = 0; i < n_set && !done; i++)
                if (strcmp(key, set[i].key) == 0) {
                    used[i] = 1;
                    if (set[i].value) {
                        fprintf(out, "#SBATCH --%s=%s\n", set[i].key, set[i].value);
                        done = 1;
                    }
                }
        for (int i = 0; in_block && i < n_vars && !done; i++) {
            size_t n = strcspn(vars[i], "=") + 1;
            if (strncmp(line, vars[i], n) == 0) {
                fprintf(out, "%s\n", vars[i]);
                done = 1;
            }
        }
        if (!done) fputs(line, out);
    }
    ok = !ferror(in) && !ferror(out);
    fclose(in);
    if (fclose(out) != 0) ok = 0;
    if (ok) chmod(tmp, 0755);
    if (!ok || rename(tmp, dst) != 0) {
        remove(tmp);
        return hipid_err(e, "%s: writing failed: %s", dst, strerror(errno));
    }
    return HIPID_OK;
}

/* The lines that follow each settings block: the scripts run the binary and
 * common.sh that wrote them, unless the environment of sbatch says otherwise. */
static void script_env(char *env, size_t cap, const char *src_dir) {
    char exe[1100] = "", q1[1200], q2[1200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    snprintf(env, cap,
             "# written by hipid slurm: the binary and scripts it came from (the environment of sbatch may override)\n"
             "HIPID=${HIPID:-%s}\nHIPID_SLURM_DIR=${HIPID_SLURM_DIR:-%s}\n",
             shq(q1, sizeof q1, exe[0] ? exe : "bin/hipid"), shq(q2, sizeof q2, src_dir));
}

/* sweep.sbatch, or array script k of the plan's arrays; its sbatch command
 * into s->cmd, ":$VAR" of its job id appended to depvars. */
static int write_sweep_script(SlurmScripts *s, const SlurmPlan *p, int k, const char *env, char *depvars,
                              size_t depcap, ErrBuf *e) {
    const SlurmOpts *o = &p->o;
    int array = o->array, max = p->max_array;
    int lo = k * max, hi = array ? (lo + max < p->n_shards ? lo + max : p->n_shards) - 1 : 0;
    char name[96], tasks_s[16], cpus_s[16], arr[32], off[48], tot[48], src[1200], header[1400];
    char *dst = s->script[k], q1[1200], q2[1200], v[16];
    const char *vars[2] = {off, tot};
    snprintf(name, sizeof name, "hipid-%s", p->job->name);
    snprintf(tasks_s, sizeof tasks_s, "%d", p->ntasks);
    snprintf(cpus_s, sizeof cpus_s, "%d", p->cpus);
    snprintf(arr, sizeof arr, "0-%d", hi - lo);
    snprintf(off, sizeof off, "SHARD_OFFSET=%d", lo);
    snprintf(tot, sizeof tot, "N_SHARDS=%d", p->n_shards);
    Setting set[] = {{"job-name", name},  {"array", array ? arr : NULL}, {"ntasks", tasks_s},
                     {"cpus-per-task", cpus_s}, {"time", p->limit}, {"signal", p->signal}, {"partition", o->partition},
                     {"mem-per-cpu", p->mem_per_cpu}, {"account", o->account}};
    if (!array) snprintf(dst, sizeof s->script[k], "%s/sweep.sbatch", s->out_dir);
    else if (p->n_arrays == 1) snprintf(dst, sizeof s->script[k], "%s/array.sbatch", s->out_dir);
    else snprintf(dst, sizeof s->script[k], "%s/array-%d-%d.sbatch", s->out_dir, lo, hi);
    snprintf(src, sizeof src, "%s/%s", s->src_dir, array ? "array.sbatch" : "sweep.sbatch");
    if (array)
        snprintf(header, sizeof header,
                 "# Written by `hipid slurm` from %s for %s: shards %d-%d of %d (task I runs shard %d+I);\n"
                 "# the settings below are sized for the job (see hipid slurm --help).\n",
                 src, o->job_path, lo, hi, p->n_shards, lo);
    else
        snprintf(header, sizeof header,
                 "# Written by `hipid slurm` from %s for %s;\n"
                 "# the settings below are sized for the job (see hipid slurm --help).\n",
                 src, o->job_path);
    if (write_script(src, dst, header, set, sizeof set / sizeof set[0], vars, array ? 2 : 0, env, e) != HIPID_OK)
        return HIPID_ERR;
    if (array) snprintf(v, sizeof v, "a%d", k);
    else snprintf(v, sizeof v, "sweep");
    snprintf(s->cmd[s->n_cmds++], sizeof s->cmd[0], "%s=$(sbatch --parsable %s %s)", v, shq(q1, sizeof q1, dst),
             shq(q2, sizeof q2, o->job_path));
    size_t l = strlen(depvars);
    snprintf(depvars + l, depcap - l, ":$%s", v);
    return HIPID_OK;
}

/* report.sbatch and its sbatch command, after the jobs in depvars */
static int write_report_script(SlurmScripts *s, const SlurmPlan *p, const char *env, const char *depvars,
                               ErrBuf *e) {
    char rname[96], src[1200], header[1400], q1[1200], q2[1200];
    snprintf(rname, sizeof rname, "hipid-%s-report", p->job->name);
    Setting set[] = {{"job-name", rname}, {"partition", p->o.partition}, {"account", p->o.account}};
    snprintf(s->report, sizeof s->report, "%s/report.sbatch", s->out_dir);
    snprintf(src, sizeof src, "%s/report.sbatch", s->src_dir);
    snprintf(header, sizeof header, "# Written by `hipid slurm` from %s for %s.\n", src, p->o.job_path);
    if (write_script(src, s->report, header, set, 3, NULL, 0, env, e) != HIPID_OK) return HIPID_ERR;
    snprintf(s->cmd[s->n_cmds++], sizeof s->cmd[0], "sbatch --dependency=afterok%s %s %s", depvars,
             shq(q1, sizeof q1, s->report), shq(q2, sizeof q2, p->job->output));
    return HIPID_OK;
}

/* submit.sh: cd to the submit folder, then every sbatch command */
static int write_submit_sh(SlurmScripts *s, const SlurmPlan *p, ErrBuf *e) {
    char q[1200];
    snprintf(s->submit_sh, sizeof s->submit_sh, "%s/submit.sh", s->out_dir);
    FILE *sf = fopen(s->submit_sh, "w");
    if (!sf) return hipid_err(e, "%s: cannot write: %s", s->submit_sh, strerror(errno));
    fprintf(sf, "#!/bin/sh\n# written by hipid slurm for %s: the sweep, then the report once it ended with status 0\n"
                "set -e\ncd %s\n", p->o.job_path, shq(q, sizeof q, s->cwd));
    for (int i = 0; i < s->n_cmds; i++) fprintf(sf, "%s\n", s->cmd[i]);
    if (fclose(sf) != 0) return hipid_err(e, "%s: writing failed", s->submit_sh);
    chmod(s->submit_sh, 0755);
    return HIPID_OK;
}

SlurmScripts *slurm_write_scripts(const SlurmPlan *p, ErrBuf *e) {
    SlurmScripts *s = xcalloc(1, sizeof *s);
    char env[3000], depvars[512] = "";
    if (find_slurm_dir(s->src_dir, sizeof s->src_dir) != HIPID_OK) {
        hipid_err(e, "cannot find the shipped scripts (slurm/common.sh): run from the hipid folder or set "
                     "HIPID_SLURM_DIR");
        goto error;
    }
    if (p->o.out) snprintf(s->out_dir, sizeof s->out_dir, "%s", p->o.out);
    else snprintf(s->out_dir, sizeof s->out_dir, "%s/slurm", p->job->output);
    if (mkdir_p(s->out_dir, e) != HIPID_OK) goto error;
    if (!getcwd(s->cwd, sizeof s->cwd)) snprintf(s->cwd, sizeof s->cwd, ".");
    script_env(env, sizeof env, s->src_dir);
    s->n_scripts = p->o.array ? p->n_arrays : 1;
    if (s->n_scripts > SLURM_MAX_SCRIPTS) {
        hipid_err(e, "%d array jobs of %d tasks: too many; raise --max-array-size or lower --array", s->n_scripts,
                  p->max_array);
        goto error;
    }
    for (int k = 0; k < s->n_scripts; k++)
        if (write_sweep_script(s, p, k, env, depvars, sizeof depvars, e) != HIPID_OK) goto error;
    if (write_report_script(s, p, env, depvars, e) != HIPID_OK || write_submit_sh(s, p, e) != HIPID_OK) goto error;
    return s;
error:
    free(s);
    return NULL;
}

void slurm_scripts_free(SlurmScripts *s) { free(s); }

void slurm_scripts_print(FILE *f, const SlurmScripts *s) {
    fprintf(f, "wrote");
    for (int k = 0; k < s->n_scripts; k++) fprintf(f, " %s", s->script[k]);
    fprintf(f, " %s %s\n", s->report, s->submit_sh);
    fprintf(f, "submit from %s (or run %s):\n", s->cwd, s->submit_sh);
    for (int i = 0; i < s->n_cmds; i++) fprintf(f, "  %s\n", s->cmd[i]);
}

/* ---- submission ---- */

/* Run argv, its stdout into buf; the exit status, or -1 if it did not run. */
static int run_capture(char *const argv[], char *buf, size_t cap) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(NULL); /* what was printed so far comes before the child's output */
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd[0], buf + n, cap - 1 - n)) > 0 && n + 1 < cap) n += (size_t)r;
    buf[n] = 0;
    close(fd[0]);
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* sbatch --parsable [--dependency=afterok:DEP] SCRIPT ARG; the job id into id */
static int sbatch(char *id, size_t cap, const char *dep, const char *script, const char *arg, ErrBuf *e) {
    char depopt[4200], buf[512];
    char *argv[6];
    int a = 0;
    argv[a++] = "sbatch";
    argv[a++] = "--parsable";
    if (dep) {
        snprintf(depopt, sizeof depopt, "--dependency=afterok:%s", dep);
        argv[a++] = depopt;
    }
    argv[a++] = (char *)script;
    argv[a++] = (char *)arg;
    argv[a] = NULL;
    int rc = run_capture(argv, buf, sizeof buf);
    size_t n = strspn(buf, "0123456789_");
    if (rc != 0 || n == 0)
        return hipid_err(e, "sbatch %s failed (exit status %d)%s", script, rc, rc == 0 ? ": no job id printed" : "");
    snprintf(id, cap, "%.*s", (int)n, buf);
    return HIPID_OK;
}

int slurm_submit(const SlurmPlan *p, const SlurmScripts *s, FILE *f, ErrBuf *e) {
    char ids[SLURM_MAX_SCRIPTS][64], depids[4096] = "", rid[64];
    ErrBuf se = {{0}};
    if (!in_path("sbatch"))
        return hipid_err(e, "--submit: sbatch not found in PATH (not a Slurm login node?); the scripts are in %s",
                         s->out_dir);
    for (int k = 0; k < s->n_scripts; k++) {
        if (sbatch(ids[k], sizeof ids[k], NULL, s->script[k], p->o.job_path, &se) != HIPID_OK)
            return hipid_err(e, "%s%s%s", se.msg, k ? "; already submitted:" : "", k ? depids : "");
        size_t l = strlen(depids);
        if (snprintf(depids + l, sizeof depids - l, "%s%s", k ? ":" : "", ids[k]) >= (int)(sizeof depids - l))
            return hipid_err(e, "too many job ids for one --dependency; submitted: %s", depids);
        fprintf(f, "submitted %s: job %s\n", s->script[k], ids[k]);
    }
    if (sbatch(rid, sizeof rid, depids, s->report, p->job->output, &se) != HIPID_OK)
        return hipid_err(e, "%s; sweep job(s) %s are submitted", se.msg, depids);
    fprintf(f, "submitted %s: job %s, after job(s) %s end with status 0\n", s->report, rid, depids);
    fprintf(f, "sweep jobs: %s\nreport job: %s\n", depids, rid);
    return HIPID_OK;
}
