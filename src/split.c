/* split.c: stratified, group-aware splits. See split.h. */
#include "hipid/split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hipid/rng.h"

int split_holdout(int *train_idx, int *n_train, int *val_idx, int *n_val,
                  const int32_t *labels, const int32_t *groups, int n, int n_classes,
                  double frac, uint64_t seed, char *const *class_names, ErrBuf *e) {
    /* map each group to its first image's label and its size */
    int max_g = 0;
    for (int i = 0; i < n; i++) max_g = groups[i] > max_g ? groups[i] : max_g;
    int n_g = max_g + 1;
    int *g_label = xmalloc(sizeof(int) * n_g), *g_size = xcalloc(n_g, sizeof(int));
    int *in_val = xcalloc(n_g, sizeof(int)), *order = xmalloc(sizeof(int) * n_g);
    int *c_count = xcalloc(n_classes, sizeof(int)), *c_val = xcalloc(n_classes, sizeof(int));
    int rc = HIPID_OK;
    for (int g = 0; g < n_g; g++) g_label[g] = -1;
    for (int i = 0; i < n; i++) {
        int g = groups[i];
        if (g_label[g] < 0) g_label[g] = labels[i];
        g_size[g]++;
        c_count[labels[i]]++;
    }
    for (int g = 0; g < n_g; g++) order[g] = g;
    Rng r = rng_stream(seed, 0x5B17u, 0, 0);
    rng_shuffle(&r, order, n_g);
    for (int c = 0; c < n_classes; c++) {
        int target = (int)lround(frac * c_count[c]);
        for (int j = 0; j < n_g && c_val[c] < target; j++) {
            int g = order[j];
            if (g_label[g] != c || in_val[g]) continue;
            if (c_val[c] + g_size[g] > target && c_val[c] > 0) continue;
            in_val[g] = 1;
            c_val[c] += g_size[g];
        }
    }
    /* count training images per class over all images: a group mixing labels
     * counts towards its first label only, so c_val alone can miss that it
     * took a class's last training image */
    memset(c_val, 0, sizeof(int) * n_classes);
    for (int i = 0; i < n; i++) c_val[labels[i]] += !in_val[groups[i]];
    for (int c = 0; c < n_classes; c++)
        if (c_count[c] > 0 && c_val[c] == 0 && frac < 1.0) {
            rc = hipid_err(e, "class '%s' has %d image(s) in %s: too few to hold out %.0f%% and keep "
                              "some for training", class_names ? class_names[c] : "?", c_count[c],
                           "its groups", 100.0 * frac);
            goto done;
        }
    *n_train = *n_val = 0;
    for (int i = 0; i < n; i++) {
        if (in_val[groups[i]]) val_idx[(*n_val)++] = i;
        else train_idx[(*n_train)++] = i;
    }
done:
    free(g_label);
    free(g_size);
    free(in_val);
    free(order);
    free(c_count);
    free(c_val);
    return rc;
}
