/* cmd_train.c: `hipid train`: one model, one stratified hold-out split (or a
 * split from `hipid split`). This file parses the options and prints; the
 * data, the split and the training are train/fit.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/base/fsafe.h"
#include "hipid/base/outclaim.h"
#include "hipid/cmd/cmd.h"
#include "hipid/train/fit.h"

static void train_usage(FILE *f) {
    fprintf(f,
        "usage: hipid train --data D.h5 [options]\n"
        "  --data PATH          hipid data set (HDF5, see README)          (required)\n"
        "  --model NAME|SPEC    cnn-paper, dnn-paper or a spec string       [cnn-paper]\n"
        "  --epochs E                                                       [10]\n"
        "  --batch B                                                        [32]\n"
        "  --lr L               initial learning rate                       [0.01]\n"
        "  --optimizer O        sgd, adam or adamw                          [sgd]\n"
        "  --momentum M         SGD momentum                                [0.9]\n"
        "  --weight-decay W                                                 [0]\n"
        "  --schedule S         constant, step or cosine                    [constant]\n"
        "  --step-size N        epochs between step decays                  [10]\n"
        "  --gamma G            step decay factor                           [0.1]\n"
        "  --seed S             seeds init, shuffles, dropout and the split [1]\n"
        "  --val-fraction F     stratified, group-aware hold-out            [0.2]\n"
        "  --balance B          none, loss (inverse-frequency class weights)\n"
        "                       or sampling (class-balanced epochs)         [none]\n"
        "  --augment SPEC       training-batch augmentation: none, default or\n"
        "                       flip,rot=5,scale=0.1,shift=0.05,bright=0.1,\n"
        "                       contrast=0.1,gamma=0.1,noise=0.01            [none]\n"
        "  --splits PATH        use a split made by 'hipid split' instead of\n"
        "                       --val-fraction: hold-out parts, or k-fold\n"
        "  --fold F             k-fold: validate on fold F, train on the rest [0]\n"
        "  --repeat R           repeated k-fold: which repeat               [0]\n"
        "  --no-standardize     feed pixel/255 as is; by default inputs are\n"
        "                       (v - mean) / std with training-set statistics\n"
        "  --threads T          OpenMP threads (OpenBLAS runs inside them)  [OMP_NUM_THREADS or all]\n"
        "  --save PATH          write the trained model (HDF5 checkpoint; PATH.lock held meanwhile).\n"
        "                       The run's state goes to PATH's name with .state.h5 every\n"
        "                       --checkpoint-every epochs and on SIGTERM or SIGUSR1 (exit 3);\n"
        "                       the same command continues it (bit for bit at the same --threads)\n"
        "  --checkpoint-every N epochs between state files; 0: only on a signal [1]\n"
        "  --init PATH          start from a checkpoint's weights (--save of a pretraining run)\n"
        "                       in every layer whose token and shapes match   [the seed's]\n"
        "  --freeze N           the first N spec tokens keep their weights and\n"
        "                       batch-norm statistics                          [0]\n"
        "  --head-lr L          the classifier's learning rate                 [--lr]\n"
        "  --warmup W           epochs of linear warm-up before the schedule  [0]\n"
        "  --label-smoothing E  of the training loss, in [0, 1)               [0]\n"
        "  --mixup A            mixup of training batches, lambda ~ Beta(A, A) [0: off]\n"
        "  --cutmix A           cutmix of training batches, lambda ~ Beta(A, A);\n"
        "                       with --mixup, either per step, half and half  [0: off]\n"
        "spec strings: comma-separated c<N>[k<K>][s<S>], r, bn, mp[<K>], gap, do<P>, fl, fc<N>;\n"
        "the classifier fc<classes> is appended. cnn-paper is\n"
        "  %s\n", model_preset_spec("cnn-paper"));
}

static const struct option train_opts[] = {
    {"data", required_argument, 0, 'd'},   {"model", required_argument, 0, 'm'},
    {"epochs", required_argument, 0, 'e'}, {"batch", required_argument, 0, 'b'},
    {"lr", required_argument, 0, 'l'},     {"optimizer", required_argument, 0, 'o'},
    {"momentum", required_argument, 0, 'M'}, {"weight-decay", required_argument, 0, 'w'},
    {"schedule", required_argument, 0, 'S'}, {"step-size", required_argument, 0, 'z'},
    {"gamma", required_argument, 0, 'g'},  {"seed", required_argument, 0, 's'},
    {"val-fraction", required_argument, 0, 'v'}, {"balance", required_argument, 0, 'B'},
    {"augment", required_argument, 0, 'A'}, {"splits", required_argument, 0, 'P'},
    {"fold", required_argument, 0, 'F'},   {"no-standardize", no_argument, 0, 'N'},   {"repeat", required_argument, 0, 'R'},
    {"threads", required_argument, 0, 't'}, {"save", required_argument, 0, 'O'},
    {"init", required_argument, 0, 'I'},   {"freeze", required_argument, 0, 'Z'},
    {"head-lr", required_argument, 0, 'H'}, {"warmup", required_argument, 0, 'W'},
    {"label-smoothing", required_argument, 0, 'L'}, {"mixup", required_argument, 0, 'X'},
    {"cutmix", required_argument, 0, 'C'}, {"checkpoint-every", required_argument, 0, 'K'},
    {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};

/* Options into o, *save and *init; -1 to go on, else the exit status (0
 * after --help, 2 for a usage error, printed here). */
static int train_parse(FitOpts *o, const char **save, const char **init, int argc, char **argv) {
    int every = -1;
    *o = (FitOpts){.val_fraction = 0.2,
                   .cfg = {.model = "cnn-paper", .epochs = 10, .batch = 32, .opt = optim_defaults(),
                           .standardize = 1, .seed = 1, .threads = omp_get_max_threads(), .log = stdout}};
    TrainConfig *cfg = &o->cfg;
    double v = 0.0;
    int c;
    *save = *init = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", train_opts, NULL)) != -1) {
        int bad = 0;
        ErrBuf ae = {{0}};
        switch (c) {
        case 'd': o->data = optarg; break;
        case 'm': cfg->model = optarg; break;
        case 'O': *save = optarg; break;
        case 'I': *init = optarg; break;
        case 'Z': bad = cli_num("train", "freeze", optarg, 0, 1e4, 1, &v); cfg->freeze = (int)v; break;
        case 'H': bad = cli_num("train", "head-lr", optarg, 0, 1e3, 0, &v); cfg->head_lr = (float)v; break;
        case 'W': bad = cli_num("train", "warmup", optarg, 0, 1e6, 1, &v); cfg->opt.warmup = (int)v; break;
        case 'L': bad = cli_num("train", "label-smoothing", optarg, 0, 0.999, 0, &v); cfg->label_smoothing = (float)v; break;
        case 'X': bad = cli_num("train", "mixup", optarg, 0, 100, 0, &v); cfg->mix.mixup = (float)v; break;
        case 'C': bad = cli_num("train", "cutmix", optarg, 0, 100, 0, &v); cfg->mix.cutmix = (float)v; break;
        case 'K': bad = cli_num("train", "checkpoint-every", optarg, 0, 1e6, 1, &v); every = (int)v; break;
        case 'B':
            if ((cfg->balance = names_index(train_balance_names, optarg)) < 0) {
                fprintf(stderr, "hipid train: --balance expects none, loss or sampling, found '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 'A':
            if (augment_parse(&cfg->aug, optarg, &ae) != HIPID_OK) {
                fprintf(stderr, "hipid train: --augment: %s\n", ae.msg);
                bad = 1;
            }
            break;
        case 'P': o->splits = optarg; break;
        case 'N': cfg->standardize = 0; break;
        case 'F': bad = cli_num("train", "fold", optarg, 0, 1e6, 1, &v); o->fold = (int)v; break;
        case 'R': bad = cli_num("train", "repeat", optarg, 0, 1e6, 1, &v); o->repeat = (int)v; break;
        case 'e': bad = cli_num("train", "epochs", optarg, 1, 1e6, 1, &v); cfg->epochs = (int)v; break;
        case 'b': bad = cli_num("train", "batch", optarg, 1, 1e6, 1, &v); cfg->batch = (int)v; break;
        case 't': bad = cli_threads("train", optarg, &cfg->threads); break;
        case 'l': bad = cli_num("train", "lr", optarg, 0, 1e3, 0, &v); cfg->opt.lr = (float)v; break;
        case 'M': bad = cli_num("train", "momentum", optarg, 0, 1, 0, &v); cfg->opt.momentum = (float)v; break;
        case 'w': bad = cli_num("train", "weight-decay", optarg, 0, 1e3, 0, &v); cfg->opt.weight_decay = (float)v; break;
        case 'z': bad = cli_num("train", "step-size", optarg, 1, 1e6, 1, &v); cfg->opt.step_size = (int)v; break;
        case 'g': bad = cli_num("train", "gamma", optarg, 0, 1e3, 0, &v); cfg->opt.gamma = (float)v; break;
        case 's': bad = cli_num("train", "seed", optarg, 0, 9.007199254740992e15, 1, &v); cfg->seed = (uint64_t)v; break;
        case 'v': bad = cli_num("train", "val-fraction", optarg, 0, 0.9, 0, &v); o->val_fraction = v; break;
        case 'o':
            if ((int)(cfg->opt.kind = optim_parse_kind(optarg)) < 0) {
                fprintf(stderr, "hipid train: --optimizer expects sgd, adam or adamw, found '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 'S':
            if ((int)(cfg->opt.sched = optim_parse_sched(optarg)) < 0) {
                fprintf(stderr, "hipid train: --schedule expects constant, step or cosine, found '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 'h': train_usage(stdout); return 0;
        default: fprintf(stderr, "hipid train: see hipid train --help\n"); return HIPID_EXIT_USAGE;
        }
        if (bad) return HIPID_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "hipid train: unexpected argument '%s' (see hipid train --help)\n", argv[optind]);
        return HIPID_EXIT_USAGE;
    }
    if (!o->data) {
        fprintf(stderr, "hipid train: --data is required (see hipid train --help)\n");
        return HIPID_EXIT_USAGE;
    }
    if (every >= 0 && !*save) {
        fprintf(stderr, "hipid train: --checkpoint-every needs --save (the state file is named after it)\n");
        return HIPID_EXIT_USAGE;
    }
    o->state_every = every >= 0 ? every : 1;
    return -1;
}

/* exit status of a fit.h error */
static int train_status(int rc) { return rc == FIT_ERR_OPTION ? HIPID_EXIT_USAGE : HIPID_EXIT_FAIL; }

static volatile sig_atomic_t g_stop;
static void on_stop(int sig) { g_stop = sig; }

/* --save's state file: PATH with .h5 replaced by (or without it, followed
 * by) .state.h5; 0 if it does not fit. */
static int state_path(char *out, size_t cap, const char *save) {
    size_t n = strlen(save);
    if (n > 3 && strcmp(save + n - 3, ".h5") == 0) n -= 3;
    return snprintf(out, cap, "%.*s.state.h5", (int)n, save) < (int)cap;
}

/* A killed run's temporary files of the model and of the state file (a kill
 * in the middle of a save), removed now that this run holds the lock. */
static void remove_killed_tmp(const char *save, const char *state) {
    const char *paths[2] = {save, state};
    for (int i = 0; i < 2; i++) {
        char dir[4096] = ".", prefix[4200];
        const char *slash = strrchr(paths[i], '/');
        if (slash) snprintf(dir, sizeof dir, "%.*s", slash == paths[i] ? 1 : (int)(slash - paths[i]), paths[i]);
        snprintf(prefix, sizeof prefix, "%s.tmp.", slash ? slash + 1 : paths[i]);
        fsafe_remove_stale_tmp(dir, prefix);
    }
}

int cmd_train(int argc, char **argv) {
    FitOpts o;
    const char *save, *init;
    int status = train_parse(&o, &save, &init, argc, argv), rc;
    if (status >= 0) return status;
    FitData f;
    FitResult r;
    Model *m = NULL, *start = NULL;
    ErrBuf e = {{0}};
    char aug[256], stale[256], state[4096];
    FsafeLock lk = {.fd = -1};
    const char *const in[] = {o.data, o.splits, init};
    if (save && !state_path(state, sizeof state, save)) {
        fprintf(stderr, "hipid train: --save: path too long (%zu characters)\n", strlen(save));
        return HIPID_EXIT_USAGE;
    }
    if (save && outclaim_take(&lk, save, "checkpoint", in, 3, stale, &e) != HIPID_OK) {
        fprintf(stderr, "hipid train: --save: %s\n", e.msg);
        return HIPID_EXIT_FAIL;
    }
    if (save && stale[0]) fprintf(stderr, "hipid train: note: took over the lock of %s from %s (no longer running)\n", save, stale);
    if (save) remove_killed_tmp(save, state);
    if (init && !(start = model_load(init, 1, 1, &e))) {
        fprintf(stderr, "hipid train: --init: %s\n", e.msg);
        fsafe_unlock(&lk);
        return HIPID_EXIT_FAIL;
    }
    o.cfg.init = start;
    if ((rc = fit_data_load(&f, &o, &e)) != HIPID_OK) {
        fprintf(stderr, "hipid train: %s\n", e.msg);
        model_free(start);
        fsafe_unlock(&lk);
        return train_status(rc);
    }
    augment_format(aug, sizeof aug, &o.cfg.aug);
    printf("data %s: %d images %dx%d, %d classes; train %d, validation %d%s; model %s, %d thread(s), augment %s\n",
           o.data, f.d.n, f.d.size, f.d.size, f.d.n_classes, f.n_train, f.n_val, f.n_test ? ", test held out" : "",
           o.cfg.model, o.cfg.threads, aug);
    if (save) { /* Slurm's time limit sends SIGTERM (or --signal's SIGUSR1) first: save the run and go */
        o.state = state;
        o.stop = &g_stop;
        signal(SIGTERM, on_stop);
        signal(SIGUSR1, on_stop);
    }
    if ((rc = fit_train(&m, &r, &f, &o, &e)) == FIT_STOPPED) {
        printf("stopped by signal %d: the run so far is in %s; the same command continues it\n", (int)g_stop, state);
        status = HIPID_EXIT_INTERRUPTED;
        goto done;
    }
    if (rc != HIPID_OK) {
        status = train_status(rc);
        fprintf(stderr, "hipid train: %s\n", e.msg);
        goto done;
    }
    printf("final train_acc %.4f val_acc %.4f", r.last.train_acc, r.last.val_acc);
    if (f.n_test > 0) printf(" test_acc %.4f (%d images)", r.test_acc, f.n_test);
    printf("\n");
    status = 0;
    if (save && model_save(m, save, &e) != HIPID_OK) {
        fprintf(stderr, "hipid train: %s\n", e.msg);
        status = HIPID_EXIT_FAIL;
    } else if (save && remove(state) != 0 && errno != ENOENT) {
        fprintf(stderr, "hipid train: note: could not remove the finished run's %s (%s)\n", state, strerror(errno));
    }
done:
    model_free(m);
    model_free(start);
    fit_data_free(&f);
    fsafe_unlock(&lk);
    return status;
}
