/* fsafe.c: see fsafe.h. */
#include "hipid/base/fsafe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *fsafe_kind(mode_t m) {
    if (S_ISREG(m)) return "a regular file";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    return "an unknown kind of file";
}

static int check_stat(const struct stat *st, const char *path, const char *what, size_t max_bytes, ErrBuf *e) {
    if (!S_ISREG(st->st_mode))
        return hipid_err(e, "%s: the %s must be a regular file, found %s", path, what, fsafe_kind(st->st_mode));
    if (max_bytes && (unsigned long long)st->st_size > (unsigned long long)max_bytes)
        return hipid_err(e, "%s: the %s is %lld bytes, more than the %zu bytes hipid reads", path, what,
                         (long long)st->st_size, max_bytes);
    return HIPID_OK;
}

int fsafe_input(const char *path, const char *what, size_t max_bytes, ErrBuf *e) {
    struct stat st;
    if (stat(path, &st) != 0) return hipid_err(e, "%s: cannot read the %s: %s", path, what, strerror(errno));
    return check_stat(&st, path, what, max_bytes, e);
}

int fsafe_read_text(char **out, size_t *n, const char *path, const char *what, size_t max_bytes,
                    size_t max_line, ErrBuf *e) {
    struct stat st;
    char *buf = NULL;
    size_t used = 0;
    int fd = -1;
    *out = NULL;
    *n = 0;
    if (fsafe_input(path, what, max_bytes, e) != HIPID_OK) return HIPID_ERR;
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
        return hipid_err(e, "%s: cannot open the %s: %s", path, what, strerror(errno));
    if (fstat(fd, &st) != 0 || check_stat(&st, path, what, max_bytes, e) != HIPID_OK) {
        close(fd);
        return e && e->msg[0] ? HIPID_ERR : hipid_err(e, "%s: cannot stat the %s", path, what);
    }
    /* read up to max_bytes + 1: a file that grew after fstat is caught too */
    size_t cap = (size_t)st.st_size + 1, limit = max_bytes ? max_bytes : (size_t)-2;
    buf = xmalloc(cap + 1);
    for (;;) {
        if (used == cap) {
            if (used > limit) break;
            cap *= 2;
            buf = realloc(buf, cap + 1);
            if (!buf) hipid_die(__FILE__, __LINE__, "out of memory reading %s", path);
        }
        ssize_t got = read(fd, buf + used, cap - used);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int err = errno;
            close(fd);
            free(buf);
            return hipid_err(e, "%s: cannot read the %s: %s", path, what, strerror(err));
        }
        if (got == 0) break;
        used += (size_t)got;
    }
    close(fd);
    if (used > limit) {
        free(buf);
        return hipid_err(e, "%s: the %s is more than the %zu bytes hipid reads", path, what, max_bytes);
    }
    buf[used] = '\0';
    size_t line = 1, start = 0;
    for (size_t i = 0; i <= used; i++) {
        if (i < used && buf[i] == '\0') {
            free(buf);
            return hipid_err(e, "%s:%zu: the %s holds a NUL byte (binary, not text)", path, line, what);
        }
        if (i == used || buf[i] == '\n') {
            if (max_line && i - start > max_line) {
                free(buf);
                return hipid_err(e, "%s:%zu: line of %zu bytes, longer than the %zu a %s may have", path, line,
                                 i - start, max_line, what);
            }
            line++;
            start = i + 1;
        }
    }
    *out = buf;
    *n = used;
    return HIPID_OK;
}

int fsafe_output(const char *path, const char *what, const char *const *inputs, int n_inputs, ErrBuf *e) {
    struct stat st, in;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return HIPID_OK;
        return hipid_err(e, "%s: cannot check the %s: %s", path, what, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return hipid_err(e, "%s: refusing to write the %s over %s (only a regular file is replaced)", path, what,
                         fsafe_kind(st.st_mode));
    for (int i = 0; i < n_inputs; i++) {
        if (!inputs[i] || stat(inputs[i], &in) != 0) continue;
        if (in.st_dev == st.st_dev && in.st_ino == st.st_ino)
            return hipid_err(e, "%s: refusing to write the %s over an input of the same command (%s)", path,
                             what, inputs[i]);
    }
    return HIPID_OK;
}

static void host_name(char *buf, size_t cap) {
    if (gethostname(buf, cap) != 0) snprintf(buf, cap, "unknown");
    buf[cap - 1] = '\0';
    for (char *p = buf; *p; p++)
        if (*p == '/' || *p == ' ' || *p == '\n') *p = '_';
}

int fsafe_tmp_name(char *buf, size_t cap, const char *path, ErrBuf *e) {
    char host[256];
    host_name(host, sizeof host);
    if (snprintf(buf, cap, "%s.tmp.%s.%ld", path, host, (long)getpid()) >= (int)cap)
        return hipid_err(e, "%s: path too long", path);
    return HIPID_OK;
}

int fsafe_remove_stale_tmp(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    size_t np = prefix ? strlen(prefix) : 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char path[4200];
        if ((np && strncmp(ent->d_name, prefix, np) != 0) || !fsafe_tmp_is_stale(ent->d_name) ||
            snprintf(path, sizeof path, "%s/%s", dir, ent->d_name) >= (int)sizeof path)
            continue;
        n += remove(path) == 0;
    }
    closedir(d);
    return n;
}

int fsafe_commit(const char *tmp, const char *path, int ok, int err, const char *what, ErrBuf *e) {
    if (!ok) {
        remove(tmp);
        /* errno is named only when it can only be the write's: it may be left over from an earlier call */
        if (err == ENOSPC || err == EDQUOT) return hipid_err(e, "%s: writing the %s failed: %s", tmp, what, strerror(err));
        return hipid_err(e, "%s: writing the %s failed (disk full?)", tmp, what);
    }
    /* the last look before rename: it would replace a device or a FIFO */
    if (fsafe_output(path, what, NULL, 0, e) != HIPID_OK) {
        remove(tmp);
        return HIPID_ERR;
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        remove(tmp);
        return hipid_err(e, "%s: cannot rename %s into place: %s", path, tmp, strerror(err));
    }
    return HIPID_OK;
}

int fsafe_fclose_commit(FILE *f, const char *tmp, const char *path, const char *what, ErrBuf *e) {
    int ok = !ferror(f), err = ok ? 0 : errno;
    errno = 0;
    if (fclose(f) != 0) {
        ok = 0;
        if (errno) err = errno;
    }
    return fsafe_commit(tmp, path, ok, err, what, e);
}

int fsafe_tmp_is_stale(const char *name) {
    char host[256];
    const char *t = strstr(name, ".tmp."), *next;
    if (!t) return 0;
    while ((next = strstr(t + 1, ".tmp.")) != NULL) t = next; /* the last ".tmp." */
    const char *h = t + 5, *dot = strrchr(h, '.');
    if (!dot || dot == h) return 0;
    char *end = NULL;
    long pid = strtol(dot + 1, &end, 10);
    if (!end || *end || pid <= 0) return 0;
    host_name(host, sizeof host);
    if ((size_t)(dot - h) != strlen(host) || strncmp(h, host, (size_t)(dot - h)) != 0) return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* The holder line of an open lock file (first line, at most cap-1 bytes). */
static void read_holder(int fd, char *buf, size_t cap) {
    ssize_t got = pread(fd, buf, cap - 1, 0);
    buf[got > 0 ? got : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

static void write_holder(int fd) {
    char line[600], host[256], since[32], cmd[128] = "hipid";
    time_t now = time(NULL);
    struct tm tm;
    host_name(host, sizeof host);
    gmtime_r(&now, &tm);
    strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    FILE *c = fopen("/proc/self/comm", "r");
    if (c) {
        if (fgets(cmd, sizeof cmd, c)) cmd[strcspn(cmd, "\n")] = '\0';
        fclose(c);
    }
    int len = snprintf(line, sizeof line, "host=%s pid=%ld since=%s cmd=%s\n", host, (long)getpid(), since, cmd);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
        /* the lock holds; only the holder's name could not be written */
    }
}

int fsafe_lock(FsafeLock *l, const char *lock_path, const char *what, int shared, char *stale_holder,
               ErrBuf *e) {
    char old[256] = "";
    l->fd = -1;
    l->shared = shared;
    snprintf(l->path, sizeof l->path, "%s", lock_path);
    if (stale_holder) stale_holder[0] = '\0';
    /* An exclusive holder removes its lock file when it lets go, so the file
     * we locked may have been unlinked meanwhile: then lock the new one. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666);
        if (fd < 0)
            return hipid_err(e, "%s: cannot open the lock file of the %s: %s", lock_path, what, strerror(errno));
        struct stat st, now;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            return hipid_err(e, "%s: the lock file of the %s is not a regular file", lock_path, what);
        }
        int rc = flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB), err = rc ? errno : 0;
        /* The last shared holder out takes the file exclusively for a moment
         * to empty it (the sweep's shards): a shared request waits that out,
         * up to a second, before it calls the file in use. */
        for (int i = 0; rc != 0 && err == EWOULDBLOCK && shared && i < 100; i++) {
            usleep(10000);
            rc = flock(fd, LOCK_SH | LOCK_NB);
            err = rc ? errno : 0;
        }
        if (rc != 0) {
            if (err == EWOULDBLOCK) {
                /* the holder writes its line just after taking the lock */
                for (int i = 0; i < 20 && !old[0]; i++) {
                    read_holder(fd, old, sizeof old);
                    if (!old[0]) usleep(10000);
                }
            }
            close(fd);
            if (err == EWOULDBLOCK)
                return hipid_err(e, "%s is in use by %s (lock file %s); wait for it to finish or stop it", what,
                                 old[0] ? old : "another process", lock_path);
            return hipid_err(e, "%s: cannot lock the %s: %s", lock_path, what, strerror(err));
        }
        if (stat(lock_path, &now) != 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
            close(fd); /* unlinked by its last holder between our open and flock */
            continue;
        }
        /* a clean exclusive holder removes the file, so a line left in it is a
         * dead holder's (for a shared lock the named holder may still be
         * alive beside us: not stale) */
        read_holder(fd, old, sizeof old);
        if (stale_holder && old[0] && !shared) snprintf(stale_holder, 256, "%s", old);
        write_holder(fd);
        l->fd = fd;
        return HIPID_OK;
    }
    return hipid_err(e, "%s: the lock file of the %s keeps being replaced", lock_path, what);
}

void fsafe_unlock(FsafeLock *l) {
    if (l->fd < 0) return;
    /* exclusive: remove the file while still holding it (a waiter that opened
     * it sees the unlink after its flock and opens the new one) */
    if (!l->shared) unlink(l->path);
    flock(l->fd, LOCK_UN);
    close(l->fd);
    l->fd = -1;
}
