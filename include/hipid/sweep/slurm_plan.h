/* slurm_plan.h: a job file's sweep as Slurm batch jobs (`hipid slurm`).
 *
 * Three steps, each its own call so that a command can tell the user's
 * mistakes (exit 2) from failures (exit 1):
 *   slurm_plan_init      tasks (MPI ranks) and CPUs per task, from the options
 *                        and the job; fails only on what the user must fix
 *   slurm_plan_estimate  time limit, memory per CPU and job arrays, from steps
 *                        timed on this machine (estimate.h)
 *   slurm_write_scripts  the shipped slurm/{sweep,array,report}.sbatch with
 *                        their settings block rewritten, and DIR/submit.sh
 *   slurm_submit         (optional) the sbatch commands, the report chained
 *                        after the sweep with --dependency=afterok
 *
 * Sizing (README "Running on a cluster"):
 *   tasks   one rank group per trial of the (largest) shard, at most
 *           SLURM_MAX_AUTO_TASKS ranks, times the largest ranks_per_trial
 *   memory  every configuration's model built for its batch (model.h
 *           n_bytes) plus optimiser moments, the best copy, the fixed-point
 *           accumulator, the batch, the whole data set and the process
 *   time    one step per family timed here (estimate.h), the longest
 *           shard's work, SLURM_TIME_FACTOR times that plus the checkpoint
 *           warning and start-up, at most 24 h (a longer sweep goes on by
 *           requeueing)
 * Does not do: talk to Slurm other than `scontrol show config` (for
 * MaxArraySize) and, in slurm_submit, sbatch; parse command lines. The
 * launching, signal and requeue logic stays in slurm/common.sh. No MPI. */
#ifndef HIPID_SLURM_PLAN_H
#define HIPID_SLURM_PLAN_H

#include <stdio.h>

#include "hipid/base/common.h"
#include "hipid/sweep/estimate.h"
#include "hipid/sweep/job.h"

#define SLURM_MAX_AUTO_TASKS 16         /* default ranks at most, before rounding to ranks_per_trial */
#define SLURM_TIME_FACTOR 1.5           /* limit = factor x estimated work + ... */
#define SLURM_WARN_S 600.0              /* USR1 this long before the limit (--signal=B:USR1@600) ... */
#define SLURM_TIME_EXTRA (SLURM_WARN_S + 300.0) /* ... plus start-up and data build, added to the estimate */
#define SLURM_TIME_MAX (24.0 * 3600.0)
#define SLURM_PROCESS_BYTES 150e6       /* a rank without its model and data: MPI, HDF5, OpenBLAS, libvips, code */
#define SLURM_MEM_FACTOR 1.25
#define SLURM_DEFAULT_MAX_ARRAY 1001    /* Slurm's default MaxArraySize */
#define SLURM_MAX_SCRIPTS 60            /* array scripts of one plan at most */

/* Seconds in a Slurm time limit (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S), or -1
 * if s is not one. */
double slurm_time_seconds(const char *s);

/* What the user asked for. Zero means "decide from the job". Strings are
 * borrowed (the caller keeps them alive while the plan is used). */
typedef struct {
    const char *job_path;   /* the job file, as given (printed and written into the scripts) */
    int ntasks;             /* MPI ranks per job or shard; a multiple of the largest ranks_per_trial */
    int cpus;               /* threads per rank; 0: the job's [run] threads */
    int array;              /* 1: a job array of n_shards shards instead of one MPI job */
    int n_shards;           /* with array */
    int max_array;          /* the site's MaxArraySize; 0: scontrol show config, else Slurm's default */
    int submit;             /* run sbatch (the command decides whether to call slurm_submit) */
    const char *time;       /* Slurm time limit as given, or NULL to estimate it */
    const char *partition, *account; /* written into the scripts; NULL: the site's default */
    const char *out;        /* where the scripts go; NULL: <[run] output>/slurm */
    EstLink link;           /* --link-gbit/--link-us; gbit or us 0: EST_LINK_DEFAULT's */
} SlurmOpts;

/* What was decided, and the numbers behind it (slurm_plan_print explains
 * them). Borrows the options' strings, the job and the trials. */
typedef struct {
    SlurmOpts o;            /* the options as given */
    const Job *job;
    const Trial *trials;
    int n_trials;
    int n_shards;           /* o.n_shards with an array, else 1 */
    int rpt;                /* the job's largest ranks_per_trial */
    int ntasks, cpus;       /* per job (or per shard) */
    char why_tasks[160];
    /* slurm_plan_estimate */
    EstData data;
    Estimate est;
    EstMemory mem;
    double work;            /* s, estimated work of the longest shard (of the job without an array) */
    EstLink link;           /* what the collectives were costed on */
    char limit[32];         /* the time limit written into the scripts */
    char signal[32];        /* "B:USR1@N": N = SLURM_WARN_S, or a quarter of a shorter --time */
    int capped;             /* 1: the estimate was cut to SLURM_TIME_MAX */
    double per_rank;        /* bytes a rank is given: (mem.total + process) x SLURM_MEM_FACTOR */
    char mem_per_cpu[32];   /* "NNNM", per_rank / cpus in whole 64 MB */
    int max_array;          /* MaxArraySize used (with an array) */
    const char *max_from;   /* where max_array came from */
    int n_arrays;           /* array jobs (0 without an array) */
} SlurmPlan;

/* Start a plan for `job` (expanded into trials[0..n_trials)) with options o:
 * ranks per job or shard and CPUs per task. HIPID_ERR, with a message in e,
 * when the user has to change something: the job expands to no trials, or
 * o->ntasks is not a multiple of the largest ranks_per_trial. */
int slurm_plan_init(SlurmPlan *p, const SlurmOpts *o, const Job *job, const Trial *trials, int n_trials,
                    ErrBuf *e);

/* Time limit, memory and arrays: reads the data set's header (or the synth
 * recipe), times one step per family and builds every configuration's model
 * (seconds of work); asks `scontrol show config` for MaxArraySize when an
 * array needs it and o.max_array is 0. HIPID_ERR (e says why) when the data
 * cannot be read, no model can be built, or a model could not be timed and
 * no --time was given. */
int slurm_plan_estimate(SlurmPlan *p, ErrBuf *e);

/* The plan in words: trials per family, shards, tasks, CPUs, data, step
 * times, time limit and memory, each with where it came from. */
void slurm_plan_print(FILE *f, const SlurmPlan *p);

/* The files written by slurm_write_scripts and the commands that submit
 * them. */
typedef struct {
    char src_dir[1100];     /* the shipped scripts, absolute */
    char out_dir[1100];     /* where the scripts went */
    char cwd[1100];         /* the folder to submit from (relative paths of the job) */
    int n_scripts;          /* sweep.sbatch, or one array*.sbatch per array job */
    char script[SLURM_MAX_SCRIPTS][1200];
    char report[1200];      /* report.sbatch */
    char submit_sh[1200];   /* submit.sh */
    int n_cmds;             /* n_scripts sbatch lines, then the report's */
    char cmd[SLURM_MAX_SCRIPTS + 1][3200];
} SlurmScripts;

/* Write the batch scripts of plan p (after slurm_plan_estimate) and
 * submit.sh into o.out (created if missing). The shipped scripts come from
 * HIPID_SLURM_DIR, ./slurm or slurm/ next to the binary's bin/; the written
 * ones run this binary and that folder's common.sh unless sbatch's
 * environment says otherwise. Files are written to NAME.tmp and renamed.
 * Returns the list (caller frees with slurm_scripts_free), or NULL with a
 * message in e. */
SlurmScripts *slurm_write_scripts(const SlurmPlan *p, ErrBuf *e);
void slurm_scripts_free(SlurmScripts *s);

/* "wrote FILES", the folder to submit from and the sbatch command lines. */
void slurm_scripts_print(FILE *f, const SlurmScripts *s);

/* Submit s: every sweep or array script with sbatch --parsable, then the
 * report with --dependency=afterok on all of them; prints each job id to f
 * as it comes. HIPID_ERR when sbatch is not in PATH or fails; e then names
 * the jobs already submitted. */
int slurm_submit(const SlurmPlan *p, const SlurmScripts *s, FILE *f, ErrBuf *e);

#endif
