/* fsafe.h: how hipid touches the file system when it matters (issue #16).
 *
 *  - Inputs are opened only when they are regular files (after following
 *    symlinks) of bounded size: a FIFO, a device or a directory given where a
 *    file is expected is a one-line error, never a hang or an unbounded read.
 *  - Outputs never replace anything that is not a regular file (a device, a
 *    directory, a FIFO, a socket) and never one of the same command's inputs
 *    (same st_dev and st_ino, so a hard link or another spelling of the path
 *    is caught too).
 *  - Temporary files are named per process ("<path>.tmp.<host>.<pid>"), so
 *    two processes writing the same output never share one.
 *  - Advisory locks (flock on a lock file) name their holder: the file holds
 *    "host=<h> pid=<p> since=<ISO 8601 UTC> cmd=<c>". An exclusive holder
 *    removes its lock file when it lets go (unlinked while still locked; a
 *    taker checks after flock that the path still names the file it locked).
 *    The kernel drops a lock when its process dies, so a lock file left by a
 *    killed process is simply taken over ("stale"); nothing is ever deleted
 *    on the strength of a guess.
 *
 * Every function returns HIPID_OK or HIPID_ERR with one line in e that names
 * the path, what it was expected to be ("job file", "manifest", ...) and what
 * was found. */
#ifndef HIPID_FSAFE_H
#define HIPID_FSAFE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "hipid/base/common.h"

/* Caps on text inputs (job files, manifests, splits CSVs): whole file and
 * one line. Larger inputs are refused with the cap in the message. */
#define FSAFE_TEXT_MAX ((size_t)16 << 20) /* 16 MiB */
#define FSAFE_LINE_MAX ((size_t)64 << 10) /* 64 KiB */

/* "a regular file", "a directory", "a FIFO", "a character device", ... of a
 * stat's st_mode, for messages. */
const char *fsafe_kind(mode_t mode);

/* path must exist and be a regular file after following symlinks, of at most
 * max_bytes bytes (0: no cap). `what` names it in the message. */
int fsafe_input(const char *path, const char *what, size_t max_bytes, ErrBuf *e);

/* Read a whole text input (checked by fsafe_input with max_bytes) into a
 * malloc'd NUL-terminated buffer; *n gets its length. A NUL byte or a line
 * longer than max_line is an error naming the line number. The file is
 * opened with O_NONBLOCK and checked again with fstat after opening, so a
 * FIFO swapped in between the two checks cannot block the read. */
int fsafe_read_text(char **out, size_t *n, const char *path, const char *what, size_t max_bytes,
                    size_t max_line, ErrBuf *e);

/* An output path is safe when it is missing or a regular file, and is none
 * of inputs[0..n_inputs) (NULL entries and missing inputs are skipped).
 * Refusals name the path and what it is ("a character device", "the input
 * manifest list.csv"). */
int fsafe_output(const char *path, const char *what, const char *const *inputs, int n_inputs, ErrBuf *e);

/* "<path>.tmp.<host>.<pid>" into buf (cap bytes); an error if it does not fit. */
int fsafe_tmp_name(char *buf, size_t cap, const char *path, ErrBuf *e);

/* Finish a file written under tmp (fsafe_tmp_name of path) and closed: if
 * ok, rename it onto path, refused (fsafe_output) if path has meanwhile
 * become anything but a regular file; otherwise, or if that fails, remove
 * tmp, so path keeps what it held. err is the errno of the failed write or
 * close (0: unknown); a full disk or quota is named ("No space left on
 * device"). The message names tmp and what was written. */
int fsafe_commit(const char *tmp, const char *path, int ok, int err, const char *what, ErrBuf *e);
/* The same for a stdio stream f open on tmp: closes it (any write error of
 * the stream counts) and commits. */
int fsafe_fclose_commit(FILE *f, const char *tmp, const char *path, const char *what, ErrBuf *e);

/* True (1) if name (a base name or a path) is a temporary file of fsafe_tmp_name
 * written by a process of this host that no longer exists; 0 otherwise
 * (another host's, a live process's, or not a temporary name at all). */
int fsafe_tmp_is_stale(const char *name);

/* Remove the temporary files of dead processes of this host
 * (fsafe_tmp_is_stale: a killed run's leftovers) in folder dir whose names
 * start with prefix (NULL: any); returns how many. */
int fsafe_remove_stale_tmp(const char *dir, const char *prefix);

typedef struct {
    int fd; /* -1 when not held */
    int shared;
    char path[4096];
} FsafeLock;

/* Take the lock file lock_path (created if missing) without waiting:
 * exclusive, or shared if `shared` (several shared holders may coexist, an
 * exclusive one excludes all; a shared request waits up to a second for an
 * exclusive holder, which may be the last shared holder emptying the file on
 * its way out). If another process holds it, HIPID_ERR with
 * "<what> is in use by host=H pid=P since=T (lock file L); ..." On success the
 * holder line is written into the file (for a shared lock: this holder's line
 * replaces the previous one). If the file named a holder that is gone (a lock
 * not held any more), *stale_holder (if not NULL, cap 256) gets that old line,
 * else "". */
int fsafe_lock(FsafeLock *l, const char *lock_path, const char *what, int shared, char *stale_holder,
               ErrBuf *e);
/* Release; a no-op for a lock not held. An exclusive lock's file is removed
 * (so a line found at takeover is a dead holder's); a shared lock's stays. */
void fsafe_unlock(FsafeLock *l);

#endif
