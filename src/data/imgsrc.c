/* imgsrc.c: list source images from a class-folder tree or a manifest CSV;
 * read a file and its SHA-256. See imgsrc.h. */
#include "hipid/data/imgsrc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 16 /* nested folders inside a class folder; guards symlink loops */

static void list_push(ImageList *l, int *cap, const char *path, const char *rel, int label,
                      const char *patient, int row) {
    if (l->n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        l->paths = realloc(l->paths, sizeof(char *) * *cap);
        l->rel_paths = realloc(l->rel_paths, sizeof(char *) * *cap);
        l->patient_ids = realloc(l->patient_ids, sizeof(char *) * *cap);
        l->labels = realloc(l->labels, sizeof(int32_t) * *cap);
        l->rows = realloc(l->rows, sizeof(int) * *cap);
        HIPID_CHECK(l->paths && l->rel_paths && l->patient_ids && l->labels && l->rows);
    }
    l->paths[l->n] = strdup(path);
    l->rel_paths[l->n] = strdup(rel);
    l->patient_ids[l->n] = strdup(patient ? patient : "");
    HIPID_CHECK(l->paths[l->n] && l->rel_paths[l->n] && l->patient_ids[l->n]);
    l->labels[l->n] = label;
    l->rows[l->n] = row;
    l->n++;
}

void imgsrc_free(ImageList *l) {
    if (!l) return;
    strv_free(l->class_names, l->n_classes);
    strv_free(l->paths, l->n);
    strv_free(l->rel_paths, l->n);
    strv_free(l->patient_ids, l->n);
    free(l->labels);
    free(l->rows);
    memset(l, 0, sizeof *l);
}

/* out = a/b; fails if it does not fit */
static int path_join(char *out, size_t cap, const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb + 1 > cap) return HIPID_ERR;
    memcpy(out, a, la);
    out[la] = '/';
    memcpy(out + la + 1, b, lb + 1);
    return HIPID_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names of the visible entries of dir that are folders (want_dirs)
 * or regular files; NULL with *n = -1 if dir cannot be read. */
static char **list_dir(const char *dir, int want_dirs, int *n) {
    DIR *d = opendir(dir);
    struct dirent *ent;
    char **names = NULL, path[8192];
    int cap = 0;
    *n = 0;
    if (!d) {
        *n = -1;
        return NULL;
    }
    while ((ent = readdir(d))) {
        struct stat st;
        if (ent->d_name[0] == '.') continue;
        if (path_join(path, sizeof path, dir, ent->d_name) != HIPID_OK) continue;
        if (stat(path, &st) != 0) continue; /* dangling link */
        if (want_dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, sizeof(char *) * cap);
            HIPID_CHECK(names);
        }
        names[(*n)++] = strdup(ent->d_name);
    }
    closedir(d);
    if (*n) qsort(names, *n, sizeof *names, cmp_str);
    return names;
}

/* Add every file under dir (recursively, sorted; rel is dir relative to the root). */
static int scan_class(ImageList *l, int *cap, const char *dir, const char *rel, int label, int depth,
                      ErrBuf *e) {
    int n_files, n_dirs, rc = HIPID_OK;
    char path[8192], relp[8192];
    char **files = list_dir(dir, 0, &n_files);
    if (n_files < 0) return hipid_err(e, "%s: cannot read folder: %s", dir, strerror(errno));
    for (int i = 0; i < n_files && rc == HIPID_OK; i++) {
        if (path_join(path, sizeof path, dir, files[i]) || path_join(relp, sizeof relp, rel, files[i]))
            rc = hipid_err(e, "%s: path too long", dir);
        else
            list_push(l, cap, path, relp, label, "", 0);
    }
    strv_free(files, n_files);
    if (rc != HIPID_OK) return rc;
    if (depth >= MAX_DEPTH) return HIPID_OK;
    char **dirs = list_dir(dir, 1, &n_dirs);
    for (int i = 0; i < n_dirs && rc == HIPID_OK; i++) {
        if (path_join(path, sizeof path, dir, dirs[i]) || path_join(relp, sizeof relp, rel, dirs[i]))
            rc = hipid_err(e, "%s: path too long", dir);
        else
            rc = scan_class(l, cap, path, relp, label, depth + 1, e);
    }
    strv_free(dirs, n_dirs > 0 ? n_dirs : 0);
    return rc;
}

int imgsrc_scan_folder(ImageList *l, const char *root, ErrBuf *e) {
    int n_dirs, cap = 0;
    char dir[8192];
    memset(l, 0, sizeof *l);
    snprintf(l->root, sizeof l->root, "%s", root);
    snprintf(l->what, sizeof l->what, "folder %s", root);
    char **dirs = list_dir(root, 1, &n_dirs);
    if (n_dirs < 0) return hipid_err(e, "%s: cannot read folder: %s", root, strerror(errno));
    if (n_dirs == 0) {
        free(dirs);
        return hipid_err(e, "%s: no class folders found; expected %s/<class>/<image files> "
                            "or a manifest CSV", root, root);
    }
    l->class_names = dirs;
    l->n_classes = n_dirs;
    for (int k = 0; k < n_dirs; k++) {
        int before = l->n;
        if (path_join(dir, sizeof dir, root, dirs[k]) != HIPID_OK) {
            hipid_err(e, "%s: path too long", root);
            goto error;
        }
        if (scan_class(l, &cap, dir, dirs[k], k, 0, e) != HIPID_OK) goto error;
        if (l->n == before) {
            hipid_err(e, "%s: empty class folder (class '%s' has no files); remove it or add images", dir,
                      dirs[k]);
            goto error;
        }
    }
    return HIPID_OK;
error:
    imgsrc_free(l);
    return HIPID_ERR;
}

/* --- manifest CSV ------------------------------------------------------- */

/* One CSV record from *p (RFC 4180: quotes, doubled quotes, CRLF). Fields are
 * written into buf, NUL-separated; returns the field count, *line advances
 * over the newlines consumed; -1 on an unterminated quote. */
static int csv_record(const char **p, const char *end, char *buf, size_t cap, char **fields, int max_fields,
                      int *line) {
    size_t n = 0;
    int nf = 0, quoted = 0;
    const char *s = *p;
    fields[nf++] = buf;
    while (s < end) {
        char ch = *s++;
        if (quoted) {
            if (ch == '"' && s < end && *s == '"') ch = *s++;
            else if (ch == '"') {
                quoted = 0;
                continue;
            } else if (ch == '\n')
                (*line)++;
        } else if (ch == '"') {
            quoted = 1;
            continue;
        } else if (ch == ',') {
            if (n < cap) buf[n++] = '\0';
            if (nf < max_fields) fields[nf++] = buf + n;
            continue;
        } else if (ch == '\r' && s < end && *s == '\n') {
            continue;
        } else if (ch == '\n') {
            (*line)++;
            break;
        }
        if (n + 1 < cap) buf[n++] = ch;
    }
    if (n < cap) buf[n] = '\0';
    buf[cap - 1] = '\0';
    *p = s;
    return quoted ? -1 : nf;
}

static void trim(char *s) {
    size_t n = strlen(s), i = 0;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    while (s[i] == ' ' || s[i] == '\t') i++;
    if (i) memmove(s, s + i, n - i + 1);
}

int imgsrc_read_manifest(ImageList *l, const char *csv, const char *root, ErrBuf *e) {
    char *text = NULL, buf[16384], *f[64];
    gsize len = 0;
    GError *gerr = NULL;
    int line = 1, col_path = -1, col_label = -1, col_pid = -1, cap = 0, n_labels_cap = 0;
    char **labels = NULL; /* per row, owned until classes are known */
    memset(l, 0, sizeof *l);
    if (!g_file_get_contents(csv, &text, &len, &gerr)) {
        hipid_err(e, "%s: cannot read manifest: %s", csv, gerr->message);
        g_error_free(gerr);
        return HIPID_ERR;
    }
    if (root) {
        snprintf(l->root, sizeof l->root, "%s", root);
    } else {
        char *dir = g_path_get_dirname(csv);
        snprintf(l->root, sizeof l->root, "%s", dir);
        g_free(dir);
    }
    snprintf(l->what, sizeof l->what, "manifest %s (root %s)", csv, l->root);
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* UTF-8 BOM */
    /* header */
    int nf = csv_record(&p, end, buf, sizeof buf, f, 64, &line);
    for (int i = 0; i < nf; i++) {
        trim(f[i]);
        if (g_ascii_strcasecmp(f[i], "path") == 0) col_path = i;
        else if (g_ascii_strcasecmp(f[i], "label") == 0) col_label = i;
        else if (g_ascii_strcasecmp(f[i], "patient_id") == 0) col_pid = i;
    }
    if (nf < 0 || col_path < 0 || col_label < 0) {
        hipid_err(e, "%s:1: expected a header row naming the columns path,label[,patient_id,...], found '%s%s%s'",
                  csv, nf > 0 ? f[0] : "", nf > 1 ? "," : "", nf > 1 ? f[1] : "");
        goto error;
    }
    int need = (col_path > col_label ? col_path : col_label) + 1;
    while (p < end) {
        int row = line;
        nf = csv_record(&p, end, buf, sizeof buf, f, 64, &line);
        if (nf < 0) {
            hipid_err(e, "%s:%d: unterminated quoted field", csv, row);
            goto error;
        }
        for (int i = 0; i < nf; i++) trim(f[i]);
        if (nf == 1 && f[0][0] == '\0') continue; /* blank line */
        if (nf < need || !f[col_path][0] || !f[col_label][0]) {
            hipid_err(e, "%s:%d: expected a path and a label (columns %d and %d), found %d field(s)%s", csv, row,
                      col_path + 1, col_label + 1, nf, nf >= need ? " with an empty path or label" : "");
            goto error;
        }
        char full[8192];
        if (f[col_path][0] == '/' ? strlen(f[col_path]) >= sizeof full
                                  : path_join(full, sizeof full, l->root, f[col_path]) != HIPID_OK) {
            hipid_err(e, "%s:%d: path too long", csv, row);
            goto error;
        }
        if (f[col_path][0] == '/') memcpy(full, f[col_path], strlen(f[col_path]) + 1);
        list_push(l, &cap, full, f[col_path], -1, col_pid >= 0 && col_pid < nf ? f[col_pid] : "", row);
        if (l->n > n_labels_cap) {
            n_labels_cap = cap;
            labels = realloc(labels, sizeof(char *) * n_labels_cap);
            HIPID_CHECK(labels);
        }
        labels[l->n - 1] = strdup(f[col_label]);
    }
    if (l->n == 0) {
        hipid_err(e, "%s: the manifest lists no images (only a header)", csv);
        goto error;
    }
    /* classes: sorted distinct labels */
    char **sorted = xmalloc(sizeof(char *) * l->n);
    memcpy(sorted, labels, sizeof(char *) * l->n);
    qsort(sorted, l->n, sizeof *sorted, cmp_str);
    l->class_names = xmalloc(sizeof(char *) * l->n);
    for (int i = 0; i < l->n; i++)
        if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0) l->class_names[l->n_classes++] = strdup(sorted[i]);
    free(sorted);
    for (int i = 0; i < l->n; i++) {
        char **hit = bsearch(&labels[i], l->class_names, l->n_classes, sizeof(char *), cmp_str);
        HIPID_CHECK(hit);
        l->labels[i] = (int32_t)(hit - l->class_names);
    }
    strv_free(labels, l->n);
    g_free(text);
    return HIPID_OK;
error:
    strv_free(labels, l->n);
    imgsrc_free(l);
    g_free(text);
    return HIPID_ERR;
}

/* --- file bytes ----------------------------------------------------------- */

int imgsrc_read_file(uint8_t **bytes, size_t *n_bytes, char sha256_hex[65], const char *path, ErrBuf *e) {
    int fd = -1;
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    *bytes = NULL;
    *n_bytes = 0;
    sha256_hex[0] = '\0';
    if ((fd = open(path, O_RDONLY)) < 0)
        return hipid_err(e, "cannot open: %s", errno == ENOENT ? "no such file" : strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hipid_err(e, "not a regular file");
    }
    if (st.st_size > ((off_t)1 << 30)) {
        close(fd);
        return hipid_err(e, "file too large for an image (%lld bytes)", (long long)st.st_size);
    }
    buf = xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int err = errno;
            free(buf);
            close(fd);
            return hipid_err(e, "read error: %s", r < 0 ? strerror(err) : "file shrank while reading");
        }
        got += (size_t)r;
    }
    close(fd);
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, buf, got);
    snprintf(sha256_hex, 65, "%s", g_checksum_get_string(sum));
    g_checksum_free(sum);
    *bytes = buf;
    *n_bytes = got;
    return HIPID_OK;
}
