/* outclaim.h: an output a command is about to write, claimed for the time it
 * writes it (issue #16). Two steps of fsafe.h in the order every writer needs
 * them: fsafe_output (the path is missing or a regular file, and none of the
 * command's inputs), then an exclusive fsafe_lock on "<out>.lock", so two
 * commands writing one output never interleave: the second one fails at
 * once with the first one's holder line. The lock file is removed when the
 * lock is released (fsafe_unlock); one left by a killed writer is taken over. */
#ifndef HIPID_OUTCLAIM_H
#define HIPID_OUTCLAIM_H

#include "hipid/base/common.h"
#include "hipid/base/fsafe.h"

/* Check out (named `what` in messages, e.g. "data set") against inputs
 * [0..n_inputs) (NULL entries skipped), then lock it. On success l holds the
 * lock (release with fsafe_unlock) and stale (cap 256, may be NULL) gets the
 * line of a dead holder whose lock was taken over, else "". On failure l
 * holds nothing and e has one line naming the path or the holder. A trailing
 * '/' of out (a folder output) is not part of the lock file's name. */
int outclaim_take(FsafeLock *l, const char *out, const char *what, const char *const *inputs, int n_inputs,
                  char *stale, ErrBuf *e);

#endif
