/* check_prep.c: expose prep's pieces to the Python cross-checks.
 *
 *   check_prep dump OUT.bin RADIUS FILE...
 *       for each image: decode, shrink to the working size (S=128), background
 *       step (RADIUS, 0 = skip), Otsu mask, largest 8-connected component.
 *       OUT.bin holds one record per image: int32 w, h, threshold,
 *       n_components, then four uint8 planes (h, w): the grey image, the Otsu
 *       input, the Otsu mask (0/1) and the largest component (0/1).
 *   check_prep cropbox DUMP.bin MARGIN
 *       for each record of a dump: prep_crop_box of its largest component at
 *       MARGIN; prints "x0 y0 side" per record ("none" for an empty mask).
 *   check_prep hash FILE...
 *       prints "<hash> <mirror-hash> <flip> <file>" (hex) for each image: the
 *       perceptual hash prep computes (after decode and working-size shrink).
 *   check_prep otsu < HISTS
 *       one histogram per line (256 counts); prints one threshold per line.
 *   check_prep split DATA.h5 N_SEEDS
 *       runs split_holdout (val 0.2) with seeds 1..N on the data set and fails
 *       (testutil.h's EXPECT, exit 1) if it errs or any group straddles train
 *       and validation, stopping at the first such seed; prints "ok ..." and
 *       the summary line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "hipid/data/dataset.h"
#include "hipid/data/imgsrc.h"
#include "hipid/data/prep.h"
#include "hipid/data/split.h"
#include "testutil.h"

static int dump(const char *out_path, double radius, char **files, int n_files) {
    FILE *out = fopen(out_path, "wb");
    ErrBuf e = {{0}};
    PrepConfig c = prep_config_default(128);
    if (!out) {
        fprintf(stderr, "check_prep: cannot write %s\n", out_path);
        return 1;
    }
    for (int i = 0; i < n_files; i++) {
        uint8_t *bytes = NULL;
        size_t n_bytes = 0;
        char sha[65];
        GreyBuf g = {0};
        uint64_t hist[256];
        if (imgsrc_read_file(&bytes, &n_bytes, sha, files[i], &e) || image_decode(&g, bytes, n_bytes, &e) ||
            image_shrink(&g, c.work_max, &e)) {
            fprintf(stderr, "check_prep: %s: %s\n", files[i], e.msg);
            return 1;
        }
        size_t n = (size_t)g.w * g.h;
        uint8_t *orig = xmalloc(n), *mask = xmalloc(n), *keep = xmalloc(n);
        memcpy(orig, g.px, n);
        if ((radius > 0 && prep_background(&g, radius, &e)) || prep_histogram(hist, &g, &e)) {
            fprintf(stderr, "check_prep: %s: %s\n", files[i], e.msg);
            return 1;
        }
        int32_t head[4] = {g.w, g.h, otsu_threshold(hist), 0};
        for (size_t k = 0; k < n; k++) mask[k] = g.px[k] > head[2];
        image_largest_component(keep, mask, g.w, g.h, &head[3]);
        fwrite(head, sizeof head, 1, out);
        fwrite(orig, 1, n, out);
        fwrite(g.px, 1, n, out);
        fwrite(mask, 1, n, out);
        fwrite(keep, 1, n, out);
        free(orig);
        free(mask);
        free(keep);
        free(bytes);
        grey_free(&g);
    }
    return fclose(out) == 0 ? 0 : 1;
}

static int crop_boxes(const char *path, double margin) {
    FILE *in = fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "check_prep: cannot read %s\n", path);
        return 1;
    }
    int32_t head[4];
    while (fread(head, sizeof head, 1, in) == 1) {
        size_t n = (size_t)head[0] * head[1];
        uint8_t *planes = xmalloc(4 * n);
        if (fread(planes, 1, 4 * n, in) != 4 * n) {
            fprintf(stderr, "check_prep: %s: truncated record\n", path);
            free(planes);
            fclose(in);
            return 1;
        }
        int x0, y0, side;
        if (prep_crop_box(planes + 3 * n, head[0], head[1], margin, &x0, &y0, &side)) printf("%d %d %d\n", x0, y0, side);
        else printf("none\n");
        free(planes);
    }
    fclose(in);
    return 0;
}

static int hash_files(char **files, int n_files) {
    ErrBuf e = {{0}};
    PrepConfig c = prep_config_default(128);
    for (int i = 0; i < n_files; i++) {
        uint8_t *bytes = NULL;
        size_t n_bytes = 0;
        char sha[65];
        GreyBuf g = {0};
        PHash h;
        if (imgsrc_read_file(&bytes, &n_bytes, sha, files[i], &e) || image_decode(&g, bytes, n_bytes, &e) ||
            image_shrink(&g, c.work_max, &e) || phash_image(&h, g.px, g.w, g.h, &e)) {
            fprintf(stderr, "check_prep: %s: %s\n", files[i], e.msg);
            return 1;
        }
        for (int o = 0; o < 2; o++) {
            for (int j = 0; j < PHASH_WORDS; j++) printf("%016llx", (unsigned long long)h.h[o][j]);
            printf(" ");
        }
        printf("%d %s\n", h.flip, files[i]);
        free(bytes);
        grey_free(&g);
    }
    return 0;
}

static int otsu_lines(void) {
    uint64_t hist[256];
    for (;;) {
        for (int i = 0; i < 256; i++) {
            unsigned long long v;
            if (scanf("%llu", &v) != 1) return i == 0 ? 0 : 1;
            hist[i] = v;
        }
        printf("%d\n", otsu_threshold(hist));
    }
}

static int split_check(const char *path, int n_seeds) {
    Dataset d;
    ErrBuf e = {{0}};
    if (dataset_load(&d, path, &e)) {
        fprintf(stderr, "check_prep: %s\n", e.msg);
        return 1;
    }
    int *tr = xmalloc(sizeof(int) * d.n), *va = xmalloc(sizeof(int) * d.n), n_tr, n_va, bad = 0;
    int8_t *side = xmalloc(d.n);
    for (int seed = 1; seed <= n_seeds && !bad; seed++) {
        int rc = split_holdout(tr, &n_tr, va, &n_va, d.labels, d.groups, d.n, d.n_classes, 0.2, (uint64_t)seed,
                               d.class_names, &e);
        EXPECT(rc == HIPID_OK, "split_holdout: %s", e.msg);
        if (rc != HIPID_OK) break;
        for (int i = 0; i < n_tr; i++) side[tr[i]] = 0;
        for (int i = 0; i < n_va; i++) side[va[i]] = 1;
        for (int i = 0; i < d.n && !bad; i++)
            for (int j = i + 1; j < d.n && !bad; j++) {
                if (d.groups[i] != d.groups[j]) continue;
                EXPECT(side[i] == side[j], "seed %d: group %d split: %s (%s) vs %s (%s)", seed, d.groups[i],
                       d.source_paths[i], side[i] ? "val" : "train", d.source_paths[j], side[j] ? "val" : "train");
                bad = side[i] != side[j];
            }
    }
    int n_groups = 0;
    for (int i = 0; i < d.n; i++) n_groups = d.groups[i] + 1 > n_groups ? d.groups[i] + 1 : n_groups;
    if (!tu_failures) printf("ok split_holdout keeps all %d groups whole over %d seeds\n", n_groups, n_seeds);
    free(side);
    free(tr);
    free(va);
    dataset_free(&d);
    return tu_exit_status();
}

int main(int argc, char **argv) {
    int rc = 2;
    if (VIPS_INIT(argv[0])) return 1;
    vips_cache_set_max(0);
    if (argc >= 4 && strcmp(argv[1], "dump") == 0) rc = dump(argv[2], atof(argv[3]), argv + 4, argc - 4);
    else if (argc == 4 && strcmp(argv[1], "cropbox") == 0) rc = crop_boxes(argv[2], atof(argv[3]));
    else if (argc >= 2 && strcmp(argv[1], "hash") == 0) rc = hash_files(argv + 2, argc - 2);
    else if (argc == 2 && strcmp(argv[1], "otsu") == 0) rc = otsu_lines();
    else if (argc == 4 && strcmp(argv[1], "split") == 0) rc = split_check(argv[2], atoi(argv[3]));
    else fprintf(stderr, "usage: check_prep dump OUT.bin RADIUS FILE... | cropbox DUMP.bin MARGIN | hash FILE... | otsu < HISTS | split DATA.h5 N\n");
    vips_shutdown();
    return rc;
}
