/* cmd/sweep.c: `hipid sweep JOB`: options, MPI's lifetime, and the
 * scheduler (scheduler.h), which does the work on every rank. */
#include <getopt.h>
#include <mpi.h>
#include <stdio.h>

#include "hipid/base/common.h"
#include "hipid/cmd/cmd.h"
#include "hipid/sweep/scheduler.h"

static void sweep_usage(FILE *f) {
    fprintf(f,
        "usage: [mpirun -np N] hipid sweep JOB.ini [options]\n"
        "  --dry-run      print the expanded plan, rank groups and a work estimate; train nothing\n"
        "  --link-gbit G  with --dry-run: cost collectives on links of G Gbit/s (default: measured\n"
        "                 between the ranks given, or one node's shared memory)\n"
        "  --link-us U    with --dry-run: and U microseconds of latency per message\n"
        "  --shard I/N    run only trials with plan index %% N == I (0-based; job arrays)\n"
        "  --reindex      rebuild sweep.h5 from the trial files and stop\n"
        "  --quiet        only the closing summary\n"
        "  --verbose      also per-epoch lines of group leaders\n"
        "  --no-status    do not write RESULTS/status.html (a live page, rewritten every 5 s)\n"
        "  --status-every S  seconds between rewrites of status.html and its reload, >= 1  [5]\n"
        "Trains every trial of the job (README: \"Job files\"), results in [run] output\n"
        "(default results/<job name>/). Rerun the same command to resume after a kill.\n"
        "The folder is locked while a sweep runs (RESULTS/sweep.lock; --shard I/N shares it and\n"
        "locks RESULTS/sweep.shard-I-of-N.lock): a second sweep on it exits 1 naming the holder.\n"
        "A data set built on first use is locked too (DATA.lock): a second sweep waits for it.\n"
        "HIPID_THREADS overrides [run] threads. Exit status: 0 done (failed trials are\n"
        "recorded), 1 failure, 2 usage or job-file error, 3 interrupted by SIGUSR1/SIGTERM\n"
        "after checkpointing (rerun to resume).\n");
}

/* Options into o. Returns NULL, or what is wrong with them; *help set for
 * --help. Every rank parses the same argv. */
static const char *parse_options(SweepOptions *o, int *help, int argc, char **argv) {
    static const struct option opts[] = {{"dry-run", no_argument, 0, 'n'}, {"shard", required_argument, 0, 's'},
                                         {"reindex", no_argument, 0, 'r'},
                                         {"link-gbit", required_argument, 0, 'g'},
                                         {"link-us", required_argument, 0, 'u'},
                                         {"quiet", no_argument, 0, 'q'},   {"verbose", no_argument, 0, 'v'},
                                         {"no-status", no_argument, 0, 'S'},
                                         {"status-every", required_argument, 0, 'E'},
                                         {"help", no_argument, 0, 'h'},    {0, 0, 0, 0}};
    const char *bad = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': o->dry_run = 1; break;
        case 'r': o->reindex = 1; break;
        case 'q': o->quiet = 1; break;
        case 'v': o->verbose = 1; break;
        case 'S': o->no_status = 1; break;
        case 'E':
            if (cmd_parse_positive(optarg, &o->status_every) || o->status_every < 1)
                bad = "--status-every expects seconds >= 1, e.g. 5";
            break;
        case 's':
            if (sscanf(optarg, "%d/%d", &o->shard, &o->n_shards) != 2 || o->n_shards < 1 || o->shard < 0 ||
                o->shard >= o->n_shards)
                bad = "--shard expects I/N with 0 <= I < N, e.g. 0/4";
            break;
        case 'g':
            if (cmd_parse_positive(optarg, &o->link_gbit)) bad = "--link-gbit expects a bandwidth in Gbit/s > 0, e.g. 10";
            break;
        case 'u':
            if (cmd_parse_positive(optarg, &o->link_us)) bad = "--link-us expects a latency in microseconds > 0, e.g. 5";
            break;
        case 'h': *help = 1; return NULL;
        default: bad = "unknown option or missing value (see hipid sweep --help)"; break;
        }
    }
    if (!bad && (o->link_gbit > 0 || o->link_us > 0) && !o->dry_run) bad = "--link-gbit and --link-us need --dry-run";
    if (!bad && optind != argc - 1) bad = "expects exactly one job file (see hipid sweep --help)";
    if (!bad) o->job_path = argv[optind];
    return bad;
}

int cmd_sweep(int argc, char **argv) {
    int provided, rank, help = 0, status;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    SweepOptions o = {0};
    const char *bad = parse_options(&o, &help, argc, argv);
    if (help) {
        if (rank == 0) sweep_usage(stdout);
        status = 0;
    } else if (bad) {
        if (rank == 0) fprintf(stderr, "hipid sweep: %s\n", bad);
        status = HIPID_EXIT_USAGE;
    } else {
        status = scheduler_run(&o);
    }
    MPI_Finalize();
    return status;
}
