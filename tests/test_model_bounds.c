/* test_model_bounds: model_check_memory against what model_create really
 * allocates, and the spec bounds of model.h.
 *
 * - For presets and hand specs (conv with stride and kernel, residual blocks
 *   with and without projection, pool, dropout, dense, in-place relu after a
 *   view), at several batches and thread counts, the total that
 *   model_check_memory computes without allocating equals model_create's
 *   n_bytes (which model_alloc counts allocation by allocation), and
 *   extra_copies adds exactly that many copies of parameters and buffers.
 * - A model larger than mem_available_bytes() is refused by both with one
 *   line naming the layer (1-based index, token) and the bytes, and nothing
 *   is allocated (the test would abort in xmalloc otherwise).
 * - Channel, kernel and unit bounds, and a flat vector longer than an int.
 * Negative control: a total off by one float would fail the equality. */
#include <stdio.h>
#include <string.h>

#include "hipid/base/common.h"
#include "hipid/nn/model.h"
#include "testutil.h"

static void same_bytes(const char *spec, Shape in, int K, int B, int T) {
    ErrBuf e = {{0}};
    double bytes = -1.0, bytes3 = -1.0;
    int rc = model_check_memory(spec, in, K, B, T, 0, &bytes, &e);
    EXPECT(rc == HIPID_OK, "%s: check refused: %s", spec, e.msg);
    Model *m = model_create(spec, in, K, B, T, 1, &e);
    REQUIRE(m != NULL, "%s: model_create failed: %s", spec, e.msg);
    EXPECT(bytes == (double)m->n_bytes, "%s at batch %d, %d thread(s): check says %.0f bytes, model_alloc %zu", spec,
           B, T, bytes, m->n_bytes);
    model_check_memory(spec, in, K, B, T, 3, &bytes3, &e);
    double want = bytes + 3.0 * 4.0 * (double)(m->n_params + m->n_buffers);
    EXPECT(bytes3 == want, "%s: 3 extra copies give %.0f bytes, expected %.0f", spec, bytes3, want);
    model_free(m);
}

static void refused(const char *spec, Shape in, int B, const char *want1, const char *want2) {
    ErrBuf e = {{0}};
    int rc = model_check_memory(spec, in, 2, B, 1, 0, NULL, &e);
    EXPECT(rc == HIPID_ERR, "%s: accepted by model_check_memory", spec);
    EXPECT(strstr(e.msg, want1) && strstr(e.msg, want2) && !strchr(e.msg, '\n'),
           "%s: message '%s' lacks '%s' or '%s'", spec, e.msg, want1, want2);
    ErrBuf e2 = {{0}};
    Model *m = model_create(spec, in, 2, B, 1, 1, &e2);
    EXPECT(m == NULL, "%s: model_create built it", spec);
    EXPECT(strcmp(e.msg, e2.msg) == 0, "%s: model_create says '%s', the check '%s'", spec, e2.msg, e.msg);
    model_free(m);
}

int main(void) {
    Shape img = {1, 32, 32};
    const char *specs[] = {"cnn-paper", "dnn-paper", "resnet-small", "c8k5s2,r,bn,mp2,fl,r,fc16,do0.3",
                           "c4,r,res4,res8s2,gap", "c3k1,mp3,c6k3s2,r,do0.5", "fl,fc7,r,bn"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        for (int B = 1; B <= 16; B *= 4)
            for (int T = 1; T <= 3; T += 2) same_bytes(specs[i], img, 3, B, T);
    same_bytes("c5,r,mp", (Shape){1, 17, 23}, 4, 5, 2);

    /* too large for any machine: the layer, the kind and "available" named */
    refused("c16,r,c60000,r,gap", (Shape){1, 4096, 4096}, 64, "layer 3 'c60000'", "of activations for batch 64 at 4096x4096");
    refused("fl,fc100000000", (Shape){1, 4096, 4096}, 2, "layer 2 'fc100000000'", "of parameters");
    refused("c16,r,c60000,r,gap", (Shape){1, 4096, 4096}, 64, "more than the", "available");

    /* the bounds of model.h */
    refused("c65536", img, 2, "spec token 'c65536'", "at most 65535 channels");
    refused("c99999,r", img, 2, "spec token 'c99999'", "at most 65535 channels");
    refused("res70000", img, 2, "spec token 'res70000'", "at most 65535 channels");
    refused("c8k257", img, 2, "spec token 'c8k257'", "kernel of at most 255");
    refused("fc100000001", img, 2, "spec token 'fc100000001'", "at most 100000000 units");
    refused("c9999999999", img, 2, "spec token 'c9999999999'", "expected c<out>");
    refused("c60000,c60000,fl", (Shape){1, 256, 256}, 1, "spec token 'fl'", "more than the 2147483647");

    /* helpers of common.h used in these messages */
    char b[96];
    EXPECT(strcmp(fmt_bytes(b, sizeof b, 3.2e12), "3.2 TB") == 0, "fmt_bytes(3.2e12) = '%s'", b);
    EXPECT(strcmp(fmt_bytes(b, sizeof b, 840), "840 B") == 0, "fmt_bytes(840) = '%s'", b);
    EXPECT(strcmp(fmt_bytes(b, sizeof b, 999999), "1.0 MB") == 0, "fmt_bytes(999999) = '%s'", b);
    char longs[300];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    str_cut(b, sizeof b, longs);
    EXPECT(strncmp(b, longs, 60) == 0 && strcmp(b + 60, "...(299 characters)") == 0, "str_cut gives '%s'", b);
    EXPECT(strcmp(str_cut(b, sizeof b, "c16,r"), "c16,r") == 0, "a short string stays: '%s'", b);
    EXPECT(mem_available_bytes() > 0, "mem_available_bytes %.0f", mem_available_bytes());
    return tu_exit_status();
}
