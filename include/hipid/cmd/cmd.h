/* cmd.h: the subcommands of bin/hipid. Each takes its own argc/argv (argv[0]
 * is the subcommand name), parses with getopt_long, answers --help, and
 * returns an exit status: 0 success, 1 failure, 2 usage error. */
#ifndef HIPID_CMD_H
#define HIPID_CMD_H

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

/* An option's value as a finite number > 0 into *v; 0 if it is one, else 1. */
int cmd_parse_positive(const char *s, double *v);

#endif
