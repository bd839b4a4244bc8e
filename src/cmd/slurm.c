/* cmd_slurm.c: `hipid slurm JOB`: batch scripts for a job file's sweep on a
 * Slurm cluster, sized from the job (tasks, CPUs per task, memory per CPU, a
 * time limit). This file parses the options; the sizing, the scripts and the
 * submission are in sweep/slurm_plan.c (see slurm_plan.h for how each number
 * is decided). Prints the plan and the sbatch commands (the report chained
 * after the sweep with --dependency=afterok), writes them to DIR/submit.sh;
 * --submit runs them. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/cmd/cmd.h"
#include "hipid/sweep/job.h"
#include "hipid/sweep/slurm_plan.h"

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
        "  --link-gbit G         cost data-parallel steps on links of G Gbit/s [16: one node]\n"
        "  --link-us U           and U microseconds per message            [2]\n"
        "  --submit              run the sbatch commands and print the job ids\n"
        "Writes DIR/sweep.sbatch (or DIR/array*.sbatch), DIR/report.sbatch and DIR/submit.sh\n"
        "from the scripts in slurm/ and prints the sbatch commands; run them from this folder.\n"
        "Exit status: 0 done, 1 failure (sbatch missing or failing), 2 usage or job-file error.\n",
        SLURM_MAX_AUTO_TASKS, SLURM_TIME_FACTOR, SLURM_TIME_EXTRA / 60, SLURM_DEFAULT_MAX_ARRAY);
}

static int parse_pos(const char *s, int *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < 1 || x > INT_MAX) return HIPID_ERR;
    *v = (int)x;
    return HIPID_OK;
}

/* Options into o; -1 to go on, else the exit status (0 after --help, 2 for
 * a usage error, printed here). */
static int slurm_parse(SlurmOpts *o, int argc, char **argv) {
    static const struct option opts[] = {
        {"ntasks", required_argument, 0, 'n'},    {"cpus-per-task", required_argument, 0, 'c'},
        {"time", required_argument, 0, 't'},      {"partition", required_argument, 0, 'p'},
        {"account", required_argument, 0, 'A'},   {"array", required_argument, 0, 'a'},
        {"max-array-size", required_argument, 0, 'M'}, {"out", required_argument, 0, 'o'},
        {"submit", no_argument, 0, 's'},          {"help", no_argument, 0, 'h'},
        {"link-gbit", required_argument, 0, 'g'}, {"link-us", required_argument, 0, 'u'},
        {0, 0, 0, 0}};
    int c;
    char bad[256] = "";
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1 && !bad[0]) {
        switch (c) {
        case 'n': if (parse_pos(optarg, &o->ntasks)) snprintf(bad, sizeof bad, "--ntasks expects a positive integer, found '%s'", optarg); break;
        case 'c': if (parse_pos(optarg, &o->cpus)) snprintf(bad, sizeof bad, "--cpus-per-task expects a positive integer, found '%s'", optarg); break;
        case 'a': o->array = 1; if (parse_pos(optarg, &o->n_shards)) snprintf(bad, sizeof bad, "--array expects a positive number of shards, found '%s'", optarg); break;
        case 'M': if (parse_pos(optarg, &o->max_array)) snprintf(bad, sizeof bad, "--max-array-size expects a positive integer, found '%s'", optarg); break;
        case 't':
            o->time = optarg;
            if (slurm_time_seconds(optarg) < 0) snprintf(bad, sizeof bad, "--time expects Slurm's MM, HH:MM:SS or D-HH:MM:SS, found '%s'", optarg);
            break;
        case 'p': o->partition = optarg; break;
        case 'A': o->account = optarg; break;
        case 'o': o->out = optarg; break;
        case 's': o->submit = 1; break;
        case 'g': if (cmd_parse_positive(optarg, &o->link.gbit)) snprintf(bad, sizeof bad, "--link-gbit expects a bandwidth in Gbit/s > 0, found '%s'", optarg); break;
        case 'u': if (cmd_parse_positive(optarg, &o->link.us)) snprintf(bad, sizeof bad, "--link-us expects a latency in microseconds > 0, found '%s'", optarg); break;
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
    o->job_path = argv[optind];
    return -1;
}

int cmd_slurm(int argc, char **argv) {
    SlurmOpts o;
    int status = slurm_parse(&o, argc, argv);
    if (status >= 0) return status;
    Job job;
    Trial *trials = NULL;
    int n_trials = 0;
    SlurmPlan plan;
    SlurmScripts *scripts = NULL;
    ErrBuf e = {{0}};
    /* the job file and the options against it: the user's to fix (exit 2) */
    status = HIPID_EXIT_USAGE;
    if (job_load(&job, o.job_path, &e) != HIPID_OK || job_expand(&trials, &n_trials, &job, 0, &e) != HIPID_OK ||
        slurm_plan_init(&plan, &o, &job, trials, n_trials, &e) != HIPID_OK)
        goto out;
    /* from here on a failure (exit 1) */
    status = HIPID_EXIT_FAIL;
    if (slurm_plan_estimate(&plan, &e) != HIPID_OK) goto out;
    slurm_plan_print(stdout, &plan);
    if (!(scripts = slurm_write_scripts(&plan, &e))) goto out;
    slurm_scripts_print(stdout, scripts);
    if (o.submit && slurm_submit(&plan, scripts, stdout, &e) != HIPID_OK) goto out;
    status = 0;
out:
    if (status) fprintf(stderr, "hipid slurm: %s\n", e.msg);
    slurm_scripts_free(scripts);
    free(trials);
    job_free(&job);
    return status;
}
