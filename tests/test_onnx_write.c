/* test_onnx_write.c: onnx_write's refusals, without the command line.
 *
 * A layer kind without an ONNX form (a layer given an ops table the writer
 * does not know, as a new kind added to layers.c would be) fails with one
 * line naming the layer, and so do an output that is a folder and an output
 * in a missing folder; none of them leaves a file (neither OUT nor its
 * temporary file) behind, and an existing OUT stays as it was. A good model
 * is written (tests/test_onnx.py checks the file's contents with python3-onnx).
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hipid/nn/onnx.h"
#include "testutil.h"

/* Entries of folder dir other than . and .. */
static int n_entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    if (d) closedir(d);
    return n;
}

int main(void) {
    ErrBuf e = {{0}};
    char dir[512], out[600], missing[600];
    const char *tmp = getenv("TEST_TMP");
    snprintf(dir, sizeof dir, "%s/onnx_write.%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    REQUIRE(mkdir(dir, 0777) == 0, "mkdir %s", dir);
    snprintf(out, sizeof out, "%s/m.onnx", dir);
    snprintf(missing, sizeof missing, "%s/no/m.onnx", dir);
    Model *m = model_create("c4,bn,r,mp2,fc8,do0.5", (Shape){1, 8, 8}, 3, 1, 1, 1, &e);
    REQUIRE(m, "model_create: %s", e.msg);
    char *names[3] = {"a", "b", "c"};
    OnnxInfo info = {.class_names = names, .n_classes = 3, .preprocessing = "test"};

    EXPECT(onnx_write(m, &info, dir, &e) == HIPID_ERR && strstr(e.msg, "is a folder"), "folder: %s", e.msg);
    EXPECT(onnx_write(m, &info, missing, &e) == HIPID_ERR && strstr(e.msg, missing), "missing folder: %s", e.msg);
    EXPECT(n_entries(dir) == 0, "nothing written by the refusals (%d entries)", n_entries(dir));

    FILE *f = fopen(out, "w");
    REQUIRE(f && fputs("old\n", f) >= 0 && fclose(f) == 0, "write %s", out);
    static const LayerOps odd = {"odd", NULL, NULL};
    const LayerOps *keep = m->layers[2]->ops;
    m->layers[2]->ops = &odd;
    EXPECT(onnx_check_model(m, &e) == HIPID_ERR && strstr(e.msg, "layer 2 'r' (odd)"), "check: %s", e.msg);
    EXPECT(onnx_write(m, &info, out, &e) == HIPID_ERR && strstr(e.msg, "layer 2 'r' (odd) has no ONNX form") &&
               !strchr(e.msg, '\n'), "unsupported layer: %s", e.msg);
    char buf[16] = "";
    f = fopen(out, "r");
    EXPECT(f && fgets(buf, sizeof buf, f) && strcmp(buf, "old\n") == 0 && n_entries(dir) == 1,
           "an existing OUT is untouched and no temporary file is left (%d entries)", n_entries(dir));
    if (f) fclose(f);
    printf("info: unsupported layer: %s\n", e.msg);

    m->layers[2]->ops = keep;
    EXPECT(onnx_write(m, &info, out, &e) == HIPID_OK, "write: %s", e.msg);
    struct stat st;
    EXPECT(stat(out, &st) == 0 && st.st_size > 100 && n_entries(dir) == 1, "written whole, no temporary file");
    info.n_classes = 2;
    EXPECT(onnx_write(m, &info, out, &e) == HIPID_ERR && strstr(e.msg, "2 class names"), "class count: %s", e.msg);
    model_free(m);
    remove(out);
    rmdir(dir);
    return tu_exit_status();
}
