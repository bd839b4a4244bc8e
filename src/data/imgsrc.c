/* imgsrc.c: list source images from a class-folder tree or a manifest CSV;
 * read a file and its SHA-256; escape names. See imgsrc.h. */
#include "hipid/data/imgsrc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hipid/base/fsafe.h"

/* --- names ---------------------------------------------------------------- */

static char *escape(const char *raw, int is_name) {
    GString *out = g_string_sized_new(strlen(raw) + 8);
    const unsigned char *p = (const unsigned char *)raw;
    while (*p) {
        unsigned c = *p;
        if (c == '\\' && is_name) {
            g_string_append(out, "\\\\");
            p++;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            g_string_append(out, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            g_string_append_printf(out, "\\x%02x", c);
            p++;
        } else if (c < 0x80) {
            g_string_append_c(out, (char)c);
            p++;
        } else {
            size_t left = strlen((const char *)p);
            gunichar u = g_utf8_get_char_validated((const gchar *)p, (gssize)left);
            int len = u == (gunichar)-1 || u == (gunichar)-2 ? 1 : (int)(g_utf8_next_char(p) - (const gchar *)p);
            int keep = len > 1 && !(u >= 0x80 && u <= 0x9f);
            if (keep) g_string_append_len(out, (const gchar *)p, len);
            else
                for (int k = 0; k < len; k++) g_string_append_printf(out, "\\x%02x", p[k]);
            p += len;
        }
    }
    return g_string_free(out, FALSE);
}

/* GLib's allocator is malloc (GLib >= 2.46), so these may be freed with free. */
char *imgsrc_escape(const char *raw) { return escape(raw, 1); }
char *imgsrc_escape_text(const char *raw) { return escape(raw, 0); }

/* --- the list --------------------------------------------------------------- */

/* Append; rel and patient are raw (escaped here), path is kept raw. */
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
    l->rel_paths[l->n] = imgsrc_escape(rel);
    l->patient_ids[l->n] = imgsrc_escape(patient ? patient : "");
    HIPID_CHECK(l->paths[l->n] && l->rel_paths[l->n] && l->patient_ids[l->n]);
    l->labels[l->n] = label;
    l->rows[l->n] = row;
    l->n++;
}

/* A skip line "<rel escaped>: <reason>" (the reason may hold escaped names). */
static void list_skip(ImageList *l, const char *rel, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void list_skip(ImageList *l, const char *rel, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *name = imgsrc_escape(rel), *why = imgsrc_escape_text(reason);
    l->skips = realloc(l->skips, sizeof(char *) * (l->n_skips + 1));
    HIPID_CHECK(l->skips);
    l->skips[l->n_skips++] = g_strdup_printf("%s: %s", name, why);
    free(name);
    free(why);
    g_free(reason);
}

void imgsrc_free(ImageList *l) {
    if (!l) return;
    strv_free(l->class_names, l->n_classes);
    strv_free(l->paths, l->n);
    strv_free(l->rel_paths, l->n);
    strv_free(l->patient_ids, l->n);
    strv_free(l->skips, l->n_skips);
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

/* What path is after following symlinks, into *st (0 = ok); otherwise the
 * reason it cannot be followed, in why. */
static int follow(struct stat *st, char *why, size_t cap, const char *path) {
    struct stat lst;
    if (stat(path, st) == 0) return 0;
    int err = errno;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        char target[4096];
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        char *t = imgsrc_escape(target);
        if (err == ENOENT) snprintf(why, cap, "dangling symlink (its target %s does not exist)", t);
        else if (err == ELOOP) snprintf(why, cap, "symlink loop (the link to %s cannot be resolved)", t);
        else snprintf(why, cap, "broken symlink to %s: %s", t, strerror(err));
        free(t);
    } else
        snprintf(why, cap, "%s", err == ENOENT ? "no such file" : strerror(err));
    return -1;
}

/* --- folder tree -------------------------------------------------------------- */

typedef struct {
    ImageList *l;
    int cap;
    GHashTable *dirs;  /* "dev:ino" -> raw rel path of a folder entered (or a class folder) */
    GHashTable *files; /* "dev:ino" -> raw rel path of a file listed */
} Scan;

static char *devino(const struct stat *st) {
    return g_strdup_printf("%llx:%llx", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
}

/* Is folder a (raw rel) the folder b or one of its ancestors? "" is the root. */
static int is_ancestor(const char *a, const char *b) {
    size_t n = strlen(a);
    return n == 0 || (strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/'));
}

/* The visible entry names of dir, sorted; *n_hidden counts the others. NULL
 * with *n = -1 (errno set) if dir cannot be read. */
static char **read_names(const char *dir, int *n, int *n_hidden) {
    DIR *d = opendir(dir);
    struct dirent *ent;
    char **names = NULL;
    int cap = 0;
    *n = 0;
    if (!d) {
        *n = -1;
        return NULL;
    }
    while ((ent = readdir(d))) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
        if (ent->d_name[0] == '.') {
            if (n_hidden) (*n_hidden)++;
            continue;
        }
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

static int scan_dir(Scan *s, const char *dir, const char *rel, int label, int depth, ErrBuf *e);

/* Enter the folder path (rel) unless it was entered before or is too deep. */
static int enter_dir(Scan *s, const struct stat *st, const char *path, const char *rel, const char *parent_rel,
                     int label, int depth, ErrBuf *e) {
    char *key = devino(st);
    const char *seen = g_hash_table_lookup(s->dirs, key);
    if (seen) {
        char *as = imgsrc_escape(seen[0] ? seen : ".");
        if (is_ancestor(seen, parent_rel))
            list_skip(s->l, rel, "symlink loop (already scanned as %s%s)", seen[0] ? "" : "the root folder ", as);
        else
            list_skip(s->l, rel, "the same folder as %s, scanned once (as %s)", as, as);
        free(as);
        g_free(key);
        return HIPID_OK;
    }
    if (depth >= IMGSRC_MAX_DEPTH) {
        list_skip(s->l, rel, "too deep: more than %d nested folders in a class folder", IMGSRC_MAX_DEPTH);
        g_free(key);
        return HIPID_OK;
    }
    g_hash_table_insert(s->dirs, key, g_strdup(rel));
    return scan_dir(s, path, rel, label, depth, e);
}

/* Every visible entry of dir (rel from the root): regular files first, then
 * folders, each in sorted order; everything else a skip line. A class folder
 * (depth 0) that cannot be read or has no entries is an error. */
static int scan_dir(Scan *s, const char *dir, const char *rel, int label, int depth, ErrBuf *e) {
    int n, n_hidden = 0, rc = HIPID_OK;
    char path[8192], relp[8192], why[4400];
    char **names = read_names(dir, &n, &n_hidden);
    if (n < 0) {
        if (depth == 0) {
            char *d = imgsrc_escape(dir);
            hipid_err(e, "%s: cannot read the class folder: %s", d, strerror(errno));
            free(d);
            return HIPID_ERR;
        }
        list_skip(s->l, rel, "cannot read the folder: %s", strerror(errno));
        return HIPID_OK;
    }
    s->l->n_hidden += n_hidden;
    if (n == 0 && depth == 0) {
        char *d = imgsrc_escape(dir), *c = imgsrc_escape(rel);
        hipid_err(e, "%s: empty class folder (class '%s' has no files); remove it or add images", d, c);
        free(d);
        free(c);
        return HIPID_ERR;
    }
    struct stat *st = xmalloc(sizeof *st * (n ? n : 1));
    int *ok = xmalloc(sizeof(int) * (n ? n : 1));
    for (int pass = 0; pass < 2 && rc == HIPID_OK; pass++)
        for (int i = 0; i < n && rc == HIPID_OK; i++) {
            if (path_join(path, sizeof path, dir, names[i]) || path_join(relp, sizeof relp, rel, names[i])) {
                if (pass == 0) list_skip(s->l, names[i], "path too long (in %s)", rel);
                ok[i] = 0;
                continue;
            }
            if (pass == 0) {
                ok[i] = follow(&st[i], why, sizeof why, path) == 0;
                if (!ok[i]) {
                    list_skip(s->l, relp, "%s", why);
                    continue;
                }
                if (S_ISDIR(st[i].st_mode)) continue; /* second pass */
                struct stat lst;
                int link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
                if (!S_ISREG(st[i].st_mode)) {
                    list_skip(s->l, relp, "%s%s, not a regular file", link ? "a symlink to " : "",
                              fsafe_kind(st[i].st_mode));
                    continue;
                }
                char *key = devino(&st[i]);
                const char *first = g_hash_table_lookup(s->files, key);
                if (first) {
                    char *f = imgsrc_escape(first);
                    list_skip(s->l, relp, "the same file as %s (%s), counted once", f,
                              link ? "a symlink to it" : "a hard link");
                    free(f);
                    g_free(key);
                    continue;
                }
                g_hash_table_insert(s->files, key, g_strdup(relp));
                list_push(s->l, &s->cap, path, relp, label, "", 0);
            } else if (ok[i] && S_ISDIR(st[i].st_mode))
                rc = enter_dir(s, &st[i], path, relp, rel, label, depth + 1, e);
        }
    free(ok);
    free(st);
    strv_free(names, n);
    return rc;
}

int imgsrc_scan_folder(ImageList *l, const char *root, ErrBuf *e) {
    int n, n_classes = 0, rc = HIPID_ERR;
    char dir[8192], why[4400];
    Scan s = {.l = l};
    struct stat rst;
    memset(l, 0, sizeof *l);
    snprintf(l->root, sizeof l->root, "%s", root);
    char *root_esc = imgsrc_escape(root);
    snprintf(l->what, sizeof l->what, "folder %s", root_esc);
    char **names = read_names(root, &n, NULL);
    if (n < 0) {
        hipid_err(e, "%s: cannot read folder: %s", root_esc, strerror(errno));
        free(root_esc);
        return HIPID_ERR;
    }
    s.dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    s.files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if (stat(root, &rst) == 0) g_hash_table_insert(s.dirs, devino(&rst), g_strdup(""));
    /* the classes: folders after following symlinks; all of them are
     * registered before any is scanned, so a link from one class into
     * another is not read as images of the first */
    struct stat *st = xmalloc(sizeof *st * (n ? n : 1));
    int *is_class = xcalloc(n ? n : 1, sizeof(int));
    char **dup_of = xcalloc(n ? n : 1, sizeof(char *));
    for (int i = 0; i < n; i++) {
        if (path_join(dir, sizeof dir, root, names[i]) != HIPID_OK) {
            list_skip(l, names[i], "path too long");
            continue;
        }
        if (follow(&st[i], why, sizeof why, dir) != 0) {
            list_skip(l, names[i], "%s", why);
            continue;
        }
        if (S_ISREG(st[i].st_mode)) continue; /* a README beside the class folders */
        if (!S_ISDIR(st[i].st_mode)) {
            list_skip(l, names[i], "%s, not a class folder", fsafe_kind(st[i].st_mode));
            continue;
        }
        is_class[i] = 1;
        n_classes++;
        char *key = devino(&st[i]);
        const char *seen = g_hash_table_lookup(s.dirs, key);
        if (seen) {
            dup_of[i] = g_strdup(seen);
            g_free(key);
        } else
            g_hash_table_insert(s.dirs, key, g_strdup(names[i]));
    }
    if (n_classes == 0) {
        hipid_err(e, "%s: no class folders found; expected %s/<class>/<image files> or a manifest CSV", root_esc,
                  root_esc);
        goto error;
    }
    l->class_names = xcalloc(n_classes, sizeof(char *));
    for (int i = 0; i < n; i++)
        if (is_class[i]) l->class_names[l->n_classes++] = imgsrc_escape(names[i]);
    for (int i = 0, k = 0; i < n; i++) {
        if (!is_class[i]) continue;
        path_join(dir, sizeof dir, root, names[i]);
        if (dup_of[i]) {
            char *as = imgsrc_escape(dup_of[i][0] ? dup_of[i] : ".");
            list_skip(l, names[i], "the same folder as %s%s, scanned once (class '%s' gets no images from it)",
                      dup_of[i][0] ? "" : "the root folder ", as, l->class_names[k]);
            free(as);
        } else if (scan_dir(&s, dir, names[i], k, 0, e) != HIPID_OK)
            goto error;
        k++;
    }
    rc = HIPID_OK;
error:
    free(root_esc);
    free(st);
    free(is_class);
    strv_free(dup_of, n);
    strv_free(names, n);
    g_hash_table_destroy(s.dirs);
    g_hash_table_destroy(s.files);
    if (rc != HIPID_OK) imgsrc_free(l);
    return rc;
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
    char *text = NULL, *buf = NULL, *f[64];
    size_t len = 0;
    int line = 1, col_path = -1, col_label = -1, col_pid = -1, cap = 0, n_labels_cap = 0;
    char **labels = NULL; /* per row, owned until classes are known */
    memset(l, 0, sizeof *l);
    /* a regular file of bounded size only: a FIFO is refused, never read */
    if (fsafe_read_text(&text, &len, csv, "manifest", FSAFE_TEXT_MAX, FSAFE_LINE_MAX, e) != HIPID_OK) {
        char *msg = imgsrc_escape_text(e->msg);
        hipid_err(e, "%s", msg);
        free(msg);
        return HIPID_ERR;
    }
    /* one record is never longer than the whole text: fields are never cut */
    buf = xmalloc(len + 2);
    if (root) {
        snprintf(l->root, sizeof l->root, "%s", root);
    } else {
        char *dir = g_path_get_dirname(csv);
        snprintf(l->root, sizeof l->root, "%s", dir);
        g_free(dir);
    }
    char *csv_esc = imgsrc_escape(csv), *root_esc = imgsrc_escape(l->root);
    snprintf(l->what, sizeof l->what, "manifest %s (root %s)", csv_esc, root_esc);
    free(root_esc);
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* UTF-8 BOM */
    /* header */
    int nf = csv_record(&p, end, buf, len + 2, f, 64, &line);
    for (int i = 0; i < nf; i++) {
        trim(f[i]);
        if (g_ascii_strcasecmp(f[i], "path") == 0) col_path = i;
        else if (g_ascii_strcasecmp(f[i], "label") == 0) col_label = i;
        else if (g_ascii_strcasecmp(f[i], "patient_id") == 0) col_pid = i;
    }
    if (nf < 0 || col_path < 0 || col_label < 0) {
        char *f0 = imgsrc_escape(nf > 0 ? f[0] : ""), *f1 = imgsrc_escape(nf > 1 ? f[1] : "");
        hipid_err(e, "%s:1: expected a header row naming the columns path,label[,patient_id,...], found '%s%s%s'",
                  csv_esc, f0, nf > 1 ? "," : "", f1);
        free(f0);
        free(f1);
        goto error;
    }
    int need = (col_path > col_label ? col_path : col_label) + 1;
    while (p < end) {
        int row = line;
        nf = csv_record(&p, end, buf, len + 2, f, 64, &line);
        if (nf < 0) {
            hipid_err(e, "%s:%d: unterminated quoted field", csv_esc, row);
            goto error;
        }
        for (int i = 0; i < nf; i++) trim(f[i]);
        if (nf == 1 && f[0][0] == '\0') continue; /* blank line */
        if (nf < need || !f[col_path][0] || !f[col_label][0]) {
            hipid_err(e, "%s:%d: expected a path and a label (columns %d and %d), found %d field(s)%s", csv_esc, row,
                      col_path + 1, col_label + 1, nf, nf >= need ? " with an empty path or label" : "");
            goto error;
        }
        char full[8192];
        if (f[col_path][0] == '/' ? strlen(f[col_path]) >= sizeof full
                                  : path_join(full, sizeof full, l->root, f[col_path]) != HIPID_OK) {
            hipid_err(e, "%s:%d: path too long", csv_esc, row);
            goto error;
        }
        if (f[col_path][0] == '/') memcpy(full, f[col_path], strlen(f[col_path]) + 1);
        list_push(l, &cap, full, f[col_path], -1, col_pid >= 0 && col_pid < nf ? f[col_pid] : "", row);
        if (l->n > n_labels_cap) {
            n_labels_cap = cap;
            labels = realloc(labels, sizeof(char *) * n_labels_cap);
            HIPID_CHECK(labels);
        }
        labels[l->n - 1] = imgsrc_escape(f[col_label]); /* class names are stored escaped */
    }
    if (l->n == 0) {
        hipid_err(e, "%s: the manifest lists no images (only a header)", csv_esc);
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
    free(csv_esc);
    free(buf);
    free(text);
    return HIPID_OK;
error:
    strv_free(labels, l->n);
    imgsrc_free(l);
    free(csv_esc);
    free(buf);
    free(text);
    return HIPID_ERR;
}

/* --- file bytes ----------------------------------------------------------- */

/* Why path cannot be read as an image, into e (HIPID_ERR), or HIPID_OK with
 * its stat in *st. */
static int check_image(struct stat *st, const char *path, ErrBuf *e) {
    char why[4400];
    if (follow(st, why, sizeof why, path) != 0) {
        if (strcmp(why, "no such file") == 0) return hipid_err(e, "cannot open: no such file");
        return hipid_err(e, "%s", why);
    }
    if (!S_ISREG(st->st_mode)) return hipid_err(e, "%s, not a regular file", fsafe_kind(st->st_mode));
    if ((unsigned long long)st->st_size > (unsigned long long)IMGSRC_FILE_MAX)
        return hipid_err(e, "file too large for an image (%lld bytes, more than the %zu hipid reads)",
                         (long long)st->st_size, IMGSRC_FILE_MAX);
    return HIPID_OK;
}

int imgsrc_check_file(const char *path, ErrBuf *e) {
    struct stat st;
    if (check_image(&st, path, e) == HIPID_OK) return HIPID_OK;
    char *name = imgsrc_escape(path), *why = imgsrc_escape_text(e->msg);
    hipid_err(e, "%s: %s", name, why);
    free(name);
    free(why);
    return HIPID_ERR;
}

int imgsrc_read_file(uint8_t **bytes, size_t *n_bytes, char sha256_hex[65], const char *path, ErrBuf *e) {
    int fd = -1;
    struct stat st, fst = {0};
    uint8_t *buf = NULL;
    size_t got = 0, want;
    *bytes = NULL;
    *n_bytes = 0;
    if (sha256_hex) sha256_hex[0] = '\0';
    /* nothing but a regular file is opened: opening a device can have
     * effects of its own, opening a FIFO would wait for a writer */
    if (check_image(&st, path, e) != HIPID_OK) return HIPID_ERR;
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
        return hipid_err(e, "cannot open: %s", errno == ENOENT ? "no such file" : strerror(errno));
    if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) ||
        (unsigned long long)fst.st_size > (unsigned long long)IMGSRC_FILE_MAX) {
        close(fd);
        return hipid_err(e, "changed while opening (now %s of %lld bytes)", fsafe_kind(fst.st_mode),
                         (long long)fst.st_size);
    }
    /* read up to the size found + 1, so a file that grows is caught */
    want = (size_t)fst.st_size + 1;
    buf = xmalloc(want + 1);
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int err = errno;
            free(buf);
            close(fd);
            return hipid_err(e, "read error: %s", strerror(err));
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != (size_t)fst.st_size) {
        free(buf);
        return hipid_err(e, "read error: the file %s while reading", got < (size_t)fst.st_size ? "shrank" : "grew");
    }
    if (sha256_hex) {
        GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
        g_checksum_update(sum, buf, got);
        snprintf(sha256_hex, 65, "%s", g_checksum_get_string(sum));
        g_checksum_free(sum);
    }
    *bytes = buf;
    *n_bytes = got;
    return HIPID_OK;
}
