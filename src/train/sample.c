/* sample.c: class-balanced epoch orders. See sample.h. */
#include "hipid/train/sample.h"

#include <stdlib.h>

#include "hipid/base/common.h"
#include "hipid/base/rng.h"

#define TAG_BALANCED 0xBA1Au

void sample_balanced_epoch(int *order, int n_out, const int *train_idx, int n_train,
                           const int32_t *labels, int n_classes, uint64_t seed, uint64_t epoch) {
    if (n_out <= 0) return;
    HIPID_CHECK(n_train > 0 && n_classes > 0);
    int *count = xcalloc(n_classes, sizeof(int)), *start = xcalloc(n_classes + 1, sizeof(int));
    int *fill = xcalloc(n_classes, sizeof(int)), *members = xmalloc(sizeof(int) * n_train);
    int *present = xmalloc(sizeof(int) * n_classes), *quota = xcalloc(n_classes, sizeof(int));
    for (int i = 0; i < n_train; i++) {
        int c = labels[train_idx[i]];
        HIPID_CHECK(c >= 0 && c < n_classes);
        count[c]++;
    }
    int n_present = 0;
    for (int c = 0; c < n_classes; c++) {
        start[c + 1] = start[c] + count[c];
        if (count[c]) present[n_present++] = c;
    }
    for (int i = 0; i < n_train; i++) {
        int c = labels[train_idx[i]];
        members[start[c] + fill[c]++] = train_idx[i];
    }
    /* equal quotas; the remainder goes to classes drawn afresh each epoch */
    Rng r = rng_stream(seed, TAG_BALANCED, epoch, (uint64_t)n_classes);
    rng_shuffle(&r, present, n_present);
    for (int j = 0; j < n_present; j++)
        quota[present[j]] = n_out / n_present + (j < n_out % n_present ? 1 : 0);
    int pos = 0;
    for (int c = 0; c < n_classes; c++) {
        int *m = members + start[c];
        Rng rc = rng_stream(seed, TAG_BALANCED, epoch, (uint64_t)c);
        for (int j = 0; j < quota[c]; j++) {
            if (j % count[c] == 0) rng_shuffle(&rc, m, count[c]); /* a fresh permutation per pass */
            order[pos++] = m[j % count[c]];
        }
    }
    Rng rs = rng_stream(seed, TAG_BALANCED, epoch, (uint64_t)n_classes + 1);
    rng_shuffle(&rs, order, n_out);
    free(count);
    free(start);
    free(fill);
    free(members);
    free(present);
    free(quota);
}
