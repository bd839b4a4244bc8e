/* main.c: runs a harness without libFuzzer. Every argument is a file, or a
 * folder whose files are read; each file's bytes go once through
 * LLVMFuzzerTestOneInput. A crash (a sanitizer report, an abort) is the
 * failure; otherwise prints how many inputs ran and exits 0 (or aborts,
 * with FUZZ_SELFTEST_ABORT set: the test's own check). The regression driver
 * of tests/test_fuzz_regress.sh (see fuzz.h). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path) {
    size_t n;
    uint8_t *p = fuzz_read(path, &n);
    fprintf(stderr, "input %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(p, n);
    free(p);
    return 1;
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    int n_run = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            perror(argv[i]);
            return 2;
        }
        if (!S_ISDIR(sb.st_mode)) {
            n_run += run_file(argv[i]);
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            perror(argv[i]);
            return 2;
        }
        char **names = NULL;
        int n = 0;
        for (struct dirent *de; (de = readdir(d));) {
            if (de->d_name[0] == '.') continue;
            names = realloc(names, sizeof(char *) * (n + 1));
            names[n++] = strdup(de->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof(char *), name_cmp);
        for (int j = 0; j < n; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], names[j]);
            if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) n_run += run_file(path);
            free(names[j]);
        }
        free(names);
    }
    printf("%d inputs ran\n", n_run);
    if (getenv("FUZZ_SELFTEST_ABORT")) abort(); /* tests/test_fuzz_regress.sh: is a crash seen? */
    return 0;
}
