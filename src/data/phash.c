/* phash.c: 256-bit DCT perceptual hash and near-duplicate clustering. See phash.h. */
#include "hipid/data/phash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "hipid/data/image.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Hash bits from the k x k coefficients c: bit i is c[i] > median (numpy's
 * median: the mean of the two middle values), most significant bit first in
 * word i/64. */
static void bits_above_median(uint64_t *h, const double *c, int k) {
    double s[256];
    int n = k * k;
    memcpy(s, c, sizeof(double) * n);
    qsort(s, n, sizeof *s, cmp_double);
    double med = 0.5 * (s[n / 2 - 1] + s[n / 2]);
    memset(h, 0, sizeof(uint64_t) * ((n + 63) / 64));
    for (int i = 0; i < n; i++)
        if (c[i] > med) h[i / 64] |= (uint64_t)1 << (63 - i % 64);
}

PHash phash_from_pixels(const uint8_t *px) {
    enum { N = PHASH_SIDE, K = 16 };
    double cosv[K][N], rows[N][K], c[2][K * K];
    for (int k = 0; k < K; k++)
        for (int x = 0; x < N; x++) cosv[k][x] = cos(M_PI * (2 * x + 1) * k / (2.0 * N));
    /* separable DCT-II, only the K lowest frequencies of each axis */
    for (int y = 0; y < N; y++)
        for (int u = 0; u < K; u++) {
            double s = 0;
            for (int x = 0; x < N; x++) s += px[y * N + x] * cosv[u][x];
            rows[y][u] = s;
        }
    for (int v = 0; v < K; v++)
        for (int u = 0; u < K; u++) {
            double s = 0;
            for (int y = 0; y < N; y++) s += cosv[v][y] * rows[y][u];
            c[0][v * K + u] = s;
            c[1][v * K + u] = u % 2 ? -s : s; /* the mirror image's coefficient */
        }
    PHash p;
    for (int o = 0; o < 2; o++) bits_above_median(p.h[o], c[o], K);
    p.flip = c[0][1] < 0;
    return p;
}

int phash_image(PHash *out, const uint8_t *px, int w, int h, ErrBuf *e) {
    GreyBuf g = {.w = w, .h = h, .px = (uint8_t *)px};
    int l, t, cw, ch, rc = HIPID_ERR;
    VipsImage *ctx = NULL, **v;
    void *mem = NULL;
    size_t size = 0;
    image_content_box(&l, &t, &cw, &ch, &g);
    ctx = vips_image_new();
    v = (VipsImage **)vips_object_local_array(VIPS_OBJECT(ctx), 4);
    if (!(v[0] = vips_image_new_from_memory(px, (size_t)w * h, w, h, 1, VIPS_FORMAT_UCHAR)) ||
        vips_extract_area(v[0], &v[1], l, t, cw, ch, NULL) ||
        vips_resize(v[1], &v[2], (double)PHASH_SIDE / cw, "vscale", (double)PHASH_SIDE / ch, NULL) ||
        vips_gravity(v[2], &v[3], VIPS_COMPASS_DIRECTION_CENTRE, PHASH_SIDE, PHASH_SIDE, "extend",
                     VIPS_EXTEND_COPY, NULL) ||
        !(mem = vips_image_write_to_memory(v[3], &size))) {
        hipid_err(e, "cannot resize for the perceptual hash (libvips: %.300s)", vips_error_buffer());
        vips_error_clear();
        goto error;
    }
    HIPID_CHECK(size == PHASH_SIDE * PHASH_SIDE);
    *out = phash_from_pixels(mem);
    rc = HIPID_OK;
error:
    g_free(mem);
    g_object_unref(ctx);
    return rc;
}

static int hamming(const uint64_t *a, const uint64_t *b, int n_words) {
    int d = 0;
    for (int i = 0; i < n_words; i++) d += __builtin_popcountll(a[i] ^ b[i]);
    return d;
}

static int min4(int a, int b, int c, int d) {
    int m = a < b ? a : b;
    m = m < c ? m : c;
    return m < d ? m : d;
}

int phash_distance(const PHash *a, const PHash *b) {
    enum { W = PHASH_WORDS };
    return min4(hamming(a->h[0], b->h[0], W), hamming(a->h[1], b->h[1], W), hamming(a->h[0], b->h[1], W),
                hamming(a->h[1], b->h[0], W));
}

int phash_cluster(int32_t *cluster, const PHash *h, int n, int threshold) {
    int32_t *parent = xmalloc(sizeof(int32_t) * (n ? n : 1));
    int *size = xcalloc(n ? n : 1, sizeof(int)), n_clusters = 0, n_multi = 0;
    for (int i = 0; i < n; i++) parent[i] = i;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (threshold >= 0 && phash_distance(&h[i], &h[j]) <= threshold) {
                uf_union(parent, i, j); /* root = smallest index */
            }
    for (int i = 0; i < n; i++) {
        int32_t r = uf_find(parent, i);
        cluster[i] = r == i ? n_clusters++ : cluster[r];
        if (++size[cluster[i]] == 2) n_multi++;
    }
    free(size);
    free(parent);
    return n_multi;
}
