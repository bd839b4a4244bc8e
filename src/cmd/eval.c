/* cmd/eval.c: `hipid eval`: a saved model (a train checkpoint or a sweep
 * trial's best weights) on every image of a data set, with loss, accuracy
 * and the confusion matrix. */
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/cmd/cmd.h"
#include "hipid/nn/ops.h"
#include "hipid/sweep/trialfile.h"
#include "hipid/train/train.h"

static void eval_usage(FILE *f) {
    fprintf(f, "usage: hipid eval --checkpoint M.h5 --data D.h5 [--threads T]\n"
               "  --checkpoint PATH   a model written by hipid train --save   (required)\n"
               "  --data PATH         hipid data set (HDF5)                    (required)\n"
               "  --threads T         OpenMP threads                           [OMP_NUM_THREADS or all]\n"
               "Prints loss, accuracy and the confusion matrix (rows: true class).\n");
}

/* conf (K, K), zeroed by the caller: rows true class, columns the argmax
 * of m's logits, over every image of d; a second pass over the data keeps
 * train_evaluate simple. */
static void confusion(long *conf, Model *m, const Dataset *d, const int *idx, int B) {
    int K = d->n_classes;
    float *x = xmalloc_f32((size_t)B * d->size * d->size);
    for (int s = 0; s < d->n; s += B) {
        int nb = d->n - s < B ? d->n - s : B;
        dataset_gather_f32(x, d, idx + s, nb, m->input_mean, m->input_std);
        const float *z = model_forward(m, x, nb, 0);
        for (int i = 0; i < nb; i++) {
            int best = 0;
            for (int k = 1; k < K; k++)
                if (z[(long)i * K + k] > z[(long)i * K + best]) best = k;
            conf[(long)d->labels[s + i] * K + best]++;
        }
    }
    free(x);
}

/* Evaluate ckpt (a train checkpoint or a sweep trial file) on every image
 * of data and print the result; returns the exit status. */
static int run_eval(const char *ckpt, const char *data, int threads) {
    ErrBuf e = {{0}};
    Dataset d;
    if (dataset_load(&d, data, &e) != HIPID_OK) {
        fprintf(stderr, "hipid eval: %s\n", e.msg);
        return HIPID_EXIT_FAIL;
    }
    int status = HIPID_EXIT_FAIL, B = 32, K = d.n_classes;
    /* a sweep's trial file serves as well: its best weights */
    Model *m = trialfile_is_trial(ckpt) ? trialfile_load_model(ckpt, "best", B, threads, &e)
                                        : model_load(ckpt, B, threads, &e);
    int *idx = NULL;
    long *conf = NULL;
    if (!m) {
        fprintf(stderr, "hipid eval: %s\n", e.msg);
        goto done;
    }
    if (m->in.h != d.size || m->in.w != d.size || m->in.c != 1 || m->n_classes != K) {
        fprintf(stderr, "hipid eval: %s expects %dx%d images and %d classes; %s has %dx%d and %d\n",
                ckpt, m->in.h, m->in.w, m->n_classes, data, d.size, d.size, K);
        goto done;
    }
    idx = xmalloc(sizeof(int) * (d.n ? d.n : 1));
    for (int i = 0; i < d.n; i++) idx[i] = i;
    float loss, acc;
    train_evaluate(&loss, &acc, m, &d, idx, d.n, NULL);
    conf = xcalloc((size_t)K * K, sizeof *conf);
    confusion(conf, m, &d, idx, B);
    printf("%s on %s: %d images, loss %.4f, accuracy %.4f\n", ckpt, data, d.n, loss, acc);
    printf("confusion (rows true, columns predicted):\n");
    for (int i = 0; i < K; i++) {
        printf("  %-24s", d.class_names[i]);
        for (int j = 0; j < K; j++) printf(" %6ld", conf[(long)i * K + j]);
        printf("\n");
    }
    status = 0;
done:
    free(conf);
    free(idx);
    model_free(m);
    dataset_free(&d);
    return status;
}

int cmd_eval(int argc, char **argv) {
    static const struct option opts[] = {{"checkpoint", required_argument, 0, 'c'},
                                          {"data", required_argument, 0, 'd'},
                                          {"threads", required_argument, 0, 't'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    const char *ckpt = NULL, *data = NULL;
    int threads = omp_get_max_threads(), c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': ckpt = optarg; break;
        case 'd': data = optarg; break;
        case 't':
            if (cli_threads("eval", optarg, &threads) != HIPID_OK) return HIPID_EXIT_USAGE;
            break;
        case 'h': eval_usage(stdout); return 0;
        default: fprintf(stderr, "hipid eval: see hipid eval --help\n"); return HIPID_EXIT_USAGE;
        }
    }
    if (!ckpt || !data || optind < argc) {
        fprintf(stderr, "hipid eval: --checkpoint and --data are required, nothing else (see --help)\n");
        return HIPID_EXIT_USAGE;
    }
    return run_eval(ckpt, data, threads);
}
