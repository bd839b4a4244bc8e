/* outclaim.c: see outclaim.h. */
#include "hipid/base/outclaim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int outclaim_take(FsafeLock *l, const char *out, const char *what, const char *const *inputs, int n_inputs,
                  char *stale, ErrBuf *e) {
    char lock[4200], who[4200];
    l->fd = -1;
    if (stale) stale[0] = '\0';
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/') n--;
    if (n + 6 > sizeof lock) return hipid_err(e, "%s: path too long", out);
    if (fsafe_output(out, what, inputs, n_inputs, e) != HIPID_OK) return HIPID_ERR;
    /* the folder first: its absence is the likelier mistake than the lock's */
    const char *slash = memrchr(out, '/', n);
    snprintf(lock, sizeof lock, "%.*s", slash ? (slash == out ? 1 : (int)(slash - out)) : 1, slash ? out : ".");
    if (access(lock, W_OK) != 0)
        return hipid_err(e, "%s: cannot write into folder %s: %s", out, lock, strerror(errno));
    snprintf(lock, sizeof lock, "%.*s.lock", (int)n, out);
    snprintf(who, sizeof who, "output %s %.*s", what, (int)n, out);
    return fsafe_lock(l, lock, who, 0, stale, e);
}
