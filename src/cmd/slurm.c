/* cmd_slurm.c: `hipid slurm JOB`: batch scripts for a job file's sweep on a
 * Slurm cluster, sized from the job: tasks (MPI ranks), CPUs per task
 * (threads per rank), memory per CPU and a time limit. The scripts are the
 * shipped slurm/{sweep,array,report}.sbatch with their settings block
 * rewritten; the launching, signal and requeue logic stays in
 * slurm/common.sh. Prints the sbatch commands (the report chained after the
 * sweep with --dependency=afterok) and writes them to DIR/submit.sh;
 * --submit runs them.
 *
 * Sizing (README "Running on a cluster"):
 *   tasks   one rank group per trial of the (largest) shard, at most
 *           MAX_AUTO_TASKS ranks, times the largest ranks_per_trial
 *   memory  every configuration's model built for its batch (model.h
 *           n_bytes) plus optimiser moments, the best copy, the fixed-point
 *           accumulator, the batch, the whole data set and the process
 *   time    one step per family timed here (estimate.h), the longest
 *           shard's work, TIME_FACTOR times that plus the checkpoint warning
 *           and start-up, at most 24 h (a longer sweep goes on by requeueing)
 * Does not do: talk to Slurm other than `scontrol show config` (for
 * MaxArraySize) and, with --submit, sbatch. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hipid/cmd/cmd.h"
#include "hipid/sweep/estimate.h"
#include "hipid/sweep/job.h"

#define MAX_AUTO_TASKS 16         /* default ranks at most, before rounding to ranks_per_trial */
#define TIME_FACTOR 1.5           /* limit = factor x estimated work + ... */
#define TIME_EXTRA (600.0 + 300.0) /* ... the USR1 warning (--signal=B:USR1@600) and start-up, data build */
#define TIME_MAX (24.0 * 3600.0)
#define PROCESS_BYTES 150e6       /* a rank without its model and data: MPI, HDF5, OpenBLAS, libvips, code */
#define MEM_FACTOR 1.25
#define DEFAULT_MAX_ARRAY 1001    /* Slurm's default MaxArraySize */

typedef struct {
    int ntasks, cpus, n_shards, max_array, submit;
    const char *time, *partition, *account, *out;
} SlurmOpts;

/* One #SBATCH setting to write: key without "--", value (NULL: keep the
 * shipped line as it is). */
typedef struct {
    const char *key;
    const char *value;
} Setting;

static void slurm_usage(FILE *f) {
    fprintf(f,
        "usage: hipid slurm JOB.ini [options]\n"
        "  --ntasks N            MPI ranks per job (a multiple of the largest ranks_per_trial)\n"
        "                        [one per trial of a shard, at most %d, x ranks_per_trial]\n"
        "  --cpus-per-task N     threads per rank                          [the job's [run] threads]\n"
        "  --time T              time limit, Slurm's format (MM, HH:MM:SS, D-HH:MM:SS)\n"
        "                        [from the timed steps: %.1f x work + %.0f min, at most 24:00:00]\n"
        "  --partition P         --account A   written into the scripts     [none: the site's default]\n"
        "  --array N             a job array of N shards instead of one MPI job\n"
        "  --max-array-size M    the site's MaxArraySize: more shards are split over several\n"
        "                        arrays (indices 0..M-1 each)              [scontrol show config, else %d]\n"
        "  --out DIR             where the scripts go                      [<[run] output>/slurm]\n"
        "  --submit              run the sbatch commands and print the job ids\n"
        "Writes DIR/sweep.sbatch (or DIR/array*.sbatch), DIR/report.sbatch and DIR/submit.sh\n"
        "from the scripts in slurm/ and prints the sbatch commands; run them from this folder.\n"
        "Exit status: 0 done, 1 failure (sbatch missing or failing), 2 usage or job-file error.\n",
        MAX_AUTO_TASKS, TIME_FACTOR, TIME_EXTRA / 60, DEFAULT_MAX_ARRAY);
}

static int parse_pos(const char *s, int *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < 1 || x > INT_MAX) return HIPID_ERR;
    *v = (int)x;
    return HIPID_OK;
}

/* Slurm's time formats: digits with at most one '-' (days) and up to two ':' */
static int valid_time(const char *s) {
    int dash = 0, colon = 0, digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9') digits++;
        else if (*p == '-' && !colon && digits) dash++;
        else if (*p == ':') colon++;
        else return 0;
    }
    return digits && dash <= 1 && colon <= 2;
}

static void fmt_slurm_time(char *buf, size_t cap, double s) {
    long m = (long)ceil(s / 300.0) * 5; /* whole 5 minutes */
    if (m >= 24 * 60) snprintf(buf, cap, "%ld-%02ld:%02ld:00", m / 1440, m % 1440 / 60, m % 60);
    else snprintf(buf, cap, "%02ld:%02ld:00", m / 60, m % 60);
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
    char tmp[1200];
    int used[16] = {0}, in_block = 0, ok = 1;
    if (!in) return hipid_err(e, "%s: cannot read: %s", src, strerror(errno));
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
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

/* Run argv, its stdout into buf; the exit status, or -1 if it did not run. */
static int run_capture(char *const argv[], char *buf, size_t cap) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(stdout);
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

/* sbatch --parsable [--dependency=DEP] SCRIPT ARG; the job id into id */
static int submit(char *id, size_t cap, const char *dep, const char *script, const char *arg, ErrBuf *e) {
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

int cmd_slurm(int argc, char **argv) {
    static const struct option opts[] = {
        {"ntasks", required_argument, 0, 'n'},    {"cpus-per-task", required_argument, 0, 'c'},
        {"time", required_argument, 0, 't'},      {"partition", required_argument, 0, 'p'},
        {"account", required_argument, 0, 'A'},   {"array", required_argument, 0, 'a'},
        {"max-array-size", required_argument, 0, 'M'}, {"out", required_argument, 0, 'o'},
        {"submit", no_argument, 0, 's'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    SlurmOpts o = {0};
    char (*cmds)[3200] = NULL;
    int c, array = 0;
    char bad[256] = "";
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1 && !bad[0]) {
        switch (c) {
        case 'n': if (parse_pos(optarg, &o.ntasks)) snprintf(bad, sizeof bad, "--ntasks expects a positive integer, found '%s'", optarg); break;
        case 'c': if (parse_pos(optarg, &o.cpus)) snprintf(bad, sizeof bad, "--cpus-per-task expects a positive integer, found '%s'", optarg); break;
        case 'a': array = 1; if (parse_pos(optarg, &o.n_shards)) snprintf(bad, sizeof bad, "--array expects a positive number of shards, found '%s'", optarg); break;
        case 'M': if (parse_pos(optarg, &o.max_array)) snprintf(bad, sizeof bad, "--max-array-size expects a positive integer, found '%s'", optarg); break;
        case 't':
            o.time = optarg;
            if (!valid_time(optarg)) snprintf(bad, sizeof bad, "--time expects Slurm's MM, HH:MM:SS or D-HH:MM:SS, found '%s'", optarg);
            break;
        case 'p': o.partition = optarg; break;
        case 'A': o.account = optarg; break;
        case 'o': o.out = optarg; break;
        case 's': o.submit = 1; break;
        case 'h': slurm_usage(stdout); return 0;
        case ':': snprintf(bad, sizeof bad, "%s needs a value (see hipid slurm --help)", argv[optind - 1]); break;
        default: snprintf(bad, sizeof bad, "unknown option '%s' (see hipid slurm --help)", argv[optind - 1]); break;
        }
    }
    if (!bad[0] && optind != argc - 1) snprintf(bad, sizeof bad, "expects exactly one job file (see hipid slurm --help)");
    if (bad[0]) {
        fprintf(stderr, "hipid slurm: %s\n", bad);
        return HIPID_EXIT_USAGE;
    }
    const char *job_path = argv[optind];
    if (!array) o.n_shards = 1;

    Job job;
    Trial *plan = NULL;
    int n_plan = 0, status = HIPID_EXIT_USAGE;
    ErrBuf e = {{0}};
    if (job_load(&job, job_path, &e) != HIPID_OK) {
        fprintf(stderr, "hipid slurm: %s\n", e.msg);
        return HIPID_EXIT_USAGE;
    }
    if (job_expand(&plan, &n_plan, &job, 0, &e) != HIPID_OK) {
        fprintf(stderr, "hipid slurm: %s\n", e.msg);
        goto out;
    }
    if (n_plan == 0) {
        fprintf(stderr, "hipid slurm: %s: the job expands to no trials\n", job_path);
        goto out;
    }

    /* ---- tasks and threads ---- */
    int rpt = 1;
    for (int f = 0; f < job.n_families; f++) rpt = job.families[f].ranks_per_trial > rpt ? job.families[f].ranks_per_trial : rpt;
    int per_shard = (n_plan + o.n_shards - 1) / o.n_shards; /* trials of the largest shard */
    char why_tasks[160];
    if (o.ntasks) {
        if (o.ntasks % rpt) {
            fprintf(stderr, "hipid slurm: --ntasks %d is not a multiple of the job's largest ranks_per_trial (%d)\n",
                    o.ntasks, rpt);
            goto out;
        }
        snprintf(why_tasks, sizeof why_tasks, "--ntasks");
    } else {
        int groups = per_shard, cap = MAX_AUTO_TASKS / rpt > 0 ? MAX_AUTO_TASKS / rpt : 1;
        o.ntasks = (groups < cap ? groups : cap) * rpt;
        snprintf(why_tasks, sizeof why_tasks, "%d trial(s)%s, %d rank(s) each, at most %d rank(s) by default",
                 per_shard, array ? " in the largest shard" : "", rpt, MAX_AUTO_TASKS);
    }
    o.cpus = o.cpus ? o.cpus : job.threads;
    status = HIPID_EXIT_FAIL;

    /* ---- time ---- */
    EstData d;
    if (estimate_data(&d, &job, &e) != HIPID_OK) {
        fprintf(stderr, "hipid slurm: %s\n", e.msg);
        goto out;
    }
    Estimate est;
    estimate_work(&est, &job, &d, plan, n_plan, o.ntasks, o.cpus, 0.0);
    double work = 0.0; /* of the longest shard */
    for (int s = 0; s < o.n_shards && s < n_plan; s++) {
        double w = 0.0, longest = 0.0;
        for (int i = s; i < n_plan; i += o.n_shards) {
            const EstFamily *x = &est.fam[plan[i].family];
            w += x->per_trial / x->groups;
            longest = x->per_trial > longest ? x->per_trial : longest;
        }
        w = w > longest ? w : longest;
        work = w > work ? w : work;
    }
    char limit[32], a[32];
    int capped = 0;
    if (o.time) snprintf(limit, sizeof limit, "%s", o.time);
    else if (!isfinite(work)) {
        fprintf(stderr, "hipid slurm: %s: a model could not be timed; give --time\n", job_path);
        goto out;
    } else {
        double t = TIME_FACTOR * work + TIME_EXTRA;
        capped = t > TIME_MAX;
        fmt_slurm_time(limit, sizeof limit, capped ? TIME_MAX : t);
    }

    /* ---- memory ---- */
    EstMemory mem;
    if (estimate_memory(&mem, &job, &d, o.cpus, &e) != HIPID_OK) {
        fprintf(stderr, "hipid slurm: %s\n", e.msg);
        goto out;
    }
    double per_rank = (mem.total + PROCESS_BYTES) * MEM_FACTOR;
    long mem_mb = (long)ceil(per_rank / o.cpus / 1048576.0 / 64.0) * 64;
    char mem_s[32];
    snprintf(mem_s, sizeof mem_s, "%ldM", mem_mb);

    /* ---- arrays ---- */
    const char *max_from = "--max-array-size";
    if (array && !o.max_array) {
        o.max_array = site_max_array();
        max_from = "scontrol show config";
        if (!o.max_array) {
            o.max_array = DEFAULT_MAX_ARRAY;
            max_from = "Slurm's default; scontrol show config gave nothing";
        }
    }
    int n_arrays = array ? (o.n_shards + o.max_array - 1) / o.max_array : 0;

    /* ---- what was decided, and why ---- */
    printf("job %s (%s): %d trial(s)", job.name, job_path, n_plan);
    for (int f = 0; f < job.n_families; f++)
        printf("%s %s %d (ranks_per_trial %d)", f ? "," : ":", job.families[f].name, est.fam[f].n_trials,
               job.families[f].ranks_per_trial);
    printf("\n");
    if (array)
        printf("shards: %d (--array), %d array job(s) of at most %d task(s) (MaxArraySize %d: %s)\n", o.n_shards,
               n_arrays, o.max_array, o.max_array, max_from);
    if (o.n_shards > n_plan)
        printf("note: %d of the %d shards have no trials (the job has %d); they end at once\n", o.n_shards - n_plan,
               o.n_shards, n_plan);
    printf("tasks: %d per %s (%s)\n", o.ntasks, array ? "shard" : "job", why_tasks);
    printf("cpus per task: %d (%s)\n", o.cpus, o.cpus == job.threads ? "[run] threads" : "--cpus-per-task");
    printf("data: %d x %d images, %d classes, %.0f images (%s)\n", d.size, d.size, d.n_classes, d.n_images,
           d.from_file ? job.data : "not built yet: from [data] synth");
    printf("step times measured here with %d thread(s):", o.cpus);
    for (int f = 0; f < job.n_families; f++) {
        fmt_dur(a, sizeof a, est.fam[f].per_trial);
        printf("%s %s %.1f ms (%s a trial)", f ? "," : "", job.families[f].name, est.fam[f].step * 1e3, a);
    }
    printf("\n");
    fmt_dur(a, sizeof a, work);
    if (o.time) printf("time: %s (--time); estimated work of the %s: %s\n", limit, array ? "longest shard" : "job", a);
    else
        printf("time: %s = %.1f x %s (estimated work of the %s on %d rank(s)) + %.0f min (checkpoint warning, "
               "start-up)%s\n",
               limit, TIME_FACTOR, a, array ? "longest shard" : "job", o.ntasks, TIME_EXTRA / 60,
               capped ? ", capped at 24 h: the sweep checkpoints at the limit and requeues itself" : "");
    printf("memory per rank: %s: model %.1f MB (parameters, gradients, activations for the batch) + "
           "optimiser %.1f MB + best copy %.1f MB + fixed-point sums %.1f MB + batch %.1f MB + data set %.1f MB "
           "+ process %.0f MB, x %.2f = %.0f MB; / %d CPU(s): --mem-per-cpu=%s\n",
           mem.which, mem.model / 1e6, mem.optim / 1e6, mem.best / 1e6, mem.fixed / 1e6, mem.batch / 1e6,
           mem.data / 1e6, PROCESS_BYTES / 1e6, MEM_FACTOR, per_rank / 1e6, o.cpus, mem_s);

    /* ---- the scripts ---- */
    char src_dir[1100], out_dir[1100], cwd[1100], exe[1100] = "", tasks_s[16], cpus_s[16];
    if (find_slurm_dir(src_dir, sizeof src_dir) != HIPID_OK) {
        fprintf(stderr, "hipid slurm: cannot find the shipped scripts (slurm/common.sh): run from the hipid folder "
                        "or set HIPID_SLURM_DIR\n");
        goto out;
    }
    if (o.out) snprintf(out_dir, sizeof out_dir, "%s", o.out);
    else snprintf(out_dir, sizeof out_dir, "%s/slurm", job.output);
    ErrBuf me = {{0}};
    if (mkdir_p(out_dir, &me) != HIPID_OK) {
        fprintf(stderr, "hipid slurm: %s\n", me.msg);
        goto out;
    }
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    snprintf(tasks_s, sizeof tasks_s, "%d", o.ntasks);
    snprintf(cpus_s, sizeof cpus_s, "%d", o.cpus);
    char name[96], rname[96], env[3000], header[1400], q1[1200], q2[1200];
    snprintf(name, sizeof name, "hipid-%s", job.name);
    snprintf(rname, sizeof rname, "hipid-%s-report", job.name);
    /* the scripts run the binary and common.sh that wrote them, unless the
     * environment of sbatch says otherwise */
    snprintf(env, sizeof env,
             "# written by hipid slurm: the binary and scripts it came from (the environment of sbatch may override)\n"
             "HIPID=${HIPID:-%s}\nHIPID_SLURM_DIR=${HIPID_SLURM_DIR:-%s}\n",
             shq(q1, sizeof q1, exe[0] ? exe : "bin/hipid"), shq(q2, sizeof q2, src_dir));
    Setting sweep_set[] = {{"job-name", name}, {"array", NULL}, {"ntasks", tasks_s}, {"cpus-per-task", cpus_s},
                           {"time", limit},    {"partition", o.partition}, {"mem-per-cpu", mem_s},
                           {"account", o.account}};
    Setting report_set[] = {{"job-name", rname}, {"partition", o.partition}, {"account", o.account}};
    int n_sweep_set = sizeof sweep_set / sizeof sweep_set[0];
    char src[1200], dst[1200], ids[64][64], depvars[512] = "", depids[4096] = "";
    cmds = xcalloc(64, sizeof *cmds); /* the sbatch command lines, (64) */
    int n_cmds = 0;
    char script_out[64][1200];
    int n_scripts = array ? n_arrays : 1;
    if (n_scripts > 60) {
        fprintf(stderr, "hipid slurm: %d array jobs of %d tasks: too many; raise --max-array-size or lower --array\n",
                n_scripts, o.max_array);
        goto out;
    }
    for (int k = 0; k < n_scripts; k++) {
        int lo = k * o.max_array, hi = array ? (lo + o.max_array < o.n_shards ? lo + o.max_array : o.n_shards) - 1 : 0;
        char arr[32], off[48], tot[48];
        const char *vars[2] = {off, tot};
        snprintf(arr, sizeof arr, "0-%d", hi - lo);
        snprintf(off, sizeof off, "SHARD_OFFSET=%d", lo);
        snprintf(tot, sizeof tot, "N_SHARDS=%d", o.n_shards);
        if (!array) snprintf(dst, sizeof dst, "%s/sweep.sbatch", out_dir);
        else if (n_arrays == 1) snprintf(dst, sizeof dst, "%s/array.sbatch", out_dir);
        else snprintf(dst, sizeof dst, "%s/array-%d-%d.sbatch", out_dir, lo, hi);
        snprintf(src, sizeof src, "%s/%s", src_dir, array ? "array.sbatch" : "sweep.sbatch");
        if (array) sweep_set[1].value = arr;
        if (array)
            snprintf(header, sizeof header,
                     "# Written by `hipid slurm` from %s for %s: shards %d-%d of %d (task I runs shard %d+I);\n"
                     "# the settings below are sized for the job (see hipid slurm --help).\n",
                     src, job_path, lo, hi, o.n_shards, lo);
        else
            snprintf(header, sizeof header,
                     "# Written by `hipid slurm` from %s for %s;\n"
                     "# the settings below are sized for the job (see hipid slurm --help).\n",
                     src, job_path);
        if (write_script(src, dst, header, sweep_set, n_sweep_set, vars, array ? 2 : 0, env, &e) != HIPID_OK) {
            fprintf(stderr, "hipid slurm: %s\n", e.msg);
            goto out;
        }
        snprintf(script_out[k], sizeof script_out[k], "%s", dst);
        char v[16];
        snprintf(v, sizeof v, array ? "a%d" : "sweep", k);
        snprintf(cmds[n_cmds++], sizeof cmds[0], "%s=$(sbatch --parsable %s %s)", v, shq(q1, sizeof q1, dst),
                 shq(q2, sizeof q2, job_path));
        size_t l = strlen(depvars);
        snprintf(depvars + l, sizeof depvars - l, ":$%s", v);
    }
    char report[1200];
    snprintf(report, sizeof report, "%s/report.sbatch", out_dir);
    snprintf(src, sizeof src, "%s/report.sbatch", src_dir);
    snprintf(header, sizeof header, "# Written by `hipid slurm` from %s for %s.\n", src, job_path);
    if (write_script(src, report, header, report_set, 3, NULL, 0, env, &e) != HIPID_OK) {
        fprintf(stderr, "hipid slurm: %s\n", e.msg);
        goto out;
    }
    snprintf(cmds[n_cmds++], sizeof cmds[0], "sbatch --dependency=afterok%s %s %s", depvars,
             shq(q1, sizeof q1, report), shq(q2, sizeof q2, job.output));
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/submit.sh", out_dir);
    FILE *sf = fopen(sub, "w");
    if (!sf) {
        fprintf(stderr, "hipid slurm: %s: cannot write: %s\n", sub, strerror(errno));
        goto out;
    }
    fprintf(sf, "#!/bin/sh\n# written by hipid slurm for %s: the sweep, then the report once it ended with status 0\n"
                "set -e\ncd %s\n", job_path, shq(q1, sizeof q1, cwd));
    for (int i = 0; i < n_cmds; i++) fprintf(sf, "%s\n", cmds[i]);
    if (fclose(sf) != 0) {
        fprintf(stderr, "hipid slurm: %s: writing failed\n", sub);
        goto out;
    }
    chmod(sub, 0755);
    printf("wrote");
    for (int k = 0; k < n_scripts; k++) printf(" %s", script_out[k]);
    printf(" %s %s\n", report, sub);
    printf("submit from %s (or run %s):\n", cwd, sub);
    for (int i = 0; i < n_cmds; i++) printf("  %s\n", cmds[i]);

    if (!o.submit) {
        status = 0;
        goto out;
    }
    if (!in_path("sbatch")) {
        fprintf(stderr, "hipid slurm: --submit: sbatch not found in PATH (not a Slurm login node?); the scripts are in %s\n", out_dir);
        goto out;
    }
    for (int k = 0; k < n_scripts; k++) {
        if (submit(ids[k], sizeof ids[k], NULL, script_out[k], job_path, &e) != HIPID_OK) {
            fprintf(stderr, "hipid slurm: %s%s%s\n", e.msg, k ? "; already submitted:" : "", k ? depids : "");
            goto out;
        }
        size_t l = strlen(depids);
        if (snprintf(depids + l, sizeof depids - l, "%s%s", k ? ":" : "", ids[k]) >= (int)(sizeof depids - l)) {
            fprintf(stderr, "hipid slurm: too many job ids for one --dependency; submitted: %s\n", depids);
            goto out;
        }
        printf("submitted %s: job %s\n", script_out[k], ids[k]);
    }
    char rid[64];
    if (submit(rid, sizeof rid, depids, report, job.output, &e) != HIPID_OK) {
        fprintf(stderr, "hipid slurm: %s; sweep job(s) %s are submitted\n", e.msg, depids);
        goto out;
    }
    printf("submitted %s: job %s, after job(s) %s end with status 0\n", report, rid, depids);
    printf("sweep jobs: %s\nreport job: %s\n", depids, rid);
    status = 0;
out:
    free(cmds);
    free(plan);
    job_free(&job);
    return status;
}
