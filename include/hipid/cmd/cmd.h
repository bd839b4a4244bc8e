/* cmd.h: the subcommands of bin/hipid. Each takes its own argc/argv (argv[0]
 * is the subcommand name), parses with getopt_long, answers --help, and
 * returns an exit status: 0 success, 1 failure, 2 usage error. */
#ifndef HIPID_CMD_H
#define HIPID_CMD_H

#include <stddef.h>

int cmd_prep(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_slurm(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* An option's value as a finite number > 0 into *v; 0 if it is one, else 1. */
int cmd_parse_positive(const char *s, double *v);

/* The trial file --model names (into trial), or with best the trial that
 * predictor_pick_best chooses from the results folder --model names (of
 * family if not NULL; the choice is reported on stderr). Returns 0, or the
 * exit status after one line "hipid CMD: ..." on stderr: usage (2) for a
 * folder without best or best without a folder, failure (1) when the index
 * has no usable trial. Shared by predict and export. */
int cmd_choose_trial(char *trial, size_t cap, const char *cmd, const char *model, int best, const char *family);

#endif
