/* status_html.h: the live status page of a sweep, results/<job>/status.html,
 * and the progress files it is made from: the one module that writes and
 * reads both. No MPI: the scheduler tells it what the master knows.
 *
 * Progress files, results/<job>/progress/<family>-<hash>.txt, one per
 * running trial, written by the trial's group leader after every epoch
 * (a temporary name, then a rename, so a reader never sees half a file):
 *   # hipid-progress 1: epoch train_loss train_acc val_loss val_acc seconds
 *   1 1.79 0.21 1.75 0.25 0.84
 * one line per epoch so far (the whole history, a few hundred bytes). The
 * master keeps the curve when the trial ends and removes the file. Files
 * left by a killed run are overwritten when their trials run again.
 *
 * The page (format described in the README, "Watching a sweep") is one
 * self-contained HTML5 file: inline CSS and SVG, no JavaScript, no external
 * reference; it refreshes itself every STATUS_HTML_EVERY seconds while the
 * sweep runs. The master rewrites it at most that often (status_html_tick),
 * by a temporary name and a rename. It shows progress, an ETA (how it is
 * computed is on the page), each rank's busy share, the running trials with
 * their epoch, latest validation loss and a sparkline, the recent and the
 * failed trials (with reasons) and a table per family. */
#ifndef HIPID_STATUS_HTML_H
#define HIPID_STATUS_HTML_H

#include "hipid/base/common.h"
#include "hipid/sweep/study.h"
#include "hipid/sweep/trialfile.h"
#include "hipid/train/train.h"

#define STATUS_HTML_EVERY 5.0 /* default seconds between rewrites, and the page's refresh
                               * (hipid sweep --status-every) */

/* ---- the leader's side ---- */

/* RESULTS/progress/<family>-<hash>.txt of trial t. */
void status_progress_path(char *buf, size_t cap, const Study *s, const Trial *t);

/* Write the history hist[0..n) to path (temporary name, rename), creating
 * its folder. HIPID_ERR with a message naming the file on failure. */
int status_progress_write(const char *path, const EpochRecord *hist, int n, ErrBuf *e);

/* ---- the master's side ---- */

typedef struct StatusHtml StatusHtml;

enum { STATUS_RUNNING = 0, STATUS_FINISHED, STATUS_INTERRUPTED };

/* A page for the study's run: sum (n_plan, the master's current states,
 * borrowed and read at every write), todo (n_todo plan indices this run
 * trains, copied), n_ranks world ranks with hosts[k * host_len] their host
 * names (copied). The page is RESULTS/status.html, or with n_shards > 1
 * RESULTS/status-shard<I>of<N>.html for --shard I/N (array tasks share the
 * folder; each master writes its own). Returns NULL (e filled) if the
 * results folder is unusable. */
StatusHtml *status_html_create(const Study *st, int shard, int n_shards, const TrialSummary *sum, const int *todo, int n_todo,
                               int n_ranks, const char *hosts, int host_len, ErrBuf *e);
void status_html_free(StatusHtml *s); /* NULL: no-op */

/* RESULTS/status.html. */
const char *status_html_path(const StatusHtml *s);

/* started, ended and tick are no-ops on a NULL page (status page off). */

/* Trial idx was handed to the group of world ranks [first, first + n). */
void status_html_started(StatusHtml *s, int idx, int first, int n);
/* Trial idx ended (sum[idx] already updated), or was stopped by a signal
 * (stopped: it stays to run and keeps its progress file). Keeps its curve
 * from the progress file, then removes the file. */
void status_html_ended(StatusHtml *s, int idx, int stopped);

/* Seconds between rewrites and the page's refresh (>= 1; default
 * STATUS_HTML_EVERY). */
void status_html_set_every(StatusHtml *s, double seconds);

/* Rewrite the page if its interval (status_html_set_every) in seconds have passed since the last
 * write; cheap otherwise (one clock read). Errors are printed once. */
void status_html_tick(StatusHtml *s);

/* Write the page now. state: STATUS_*; busy and elapsed (n_ranks seconds)
 * when known (at the end), else the busy shares come from the trials'
 * start and end times seen by the master. */
int status_html_write(StatusHtml *s, int state, const double *busy, const double *elapsed, ErrBuf *e);

#endif
