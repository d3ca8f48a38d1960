/* The subcommands of the npusim binary.  Each cmd_* parses its own options,
 * prints, and returns the process exit code (an enum npu_status). */
#ifndef NPU_CMD_H
#define NPU_CMD_H

#include <stdio.h>

#include "err.h"

struct npu_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *usage;   /* full help text shown by `npusim help NAME` */
};

int cmd_run(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_network(int argc, char **argv);
int cmd_devices(int argc, char **argv);

/* Looks up a command (for `help NAME` and for usage errors). */
const struct npu_cmd *npu_cmd_find(const char *name);

/* Prints "npusim: MESSAGE" on stderr and returns err->code. */
int npu_cmd_fail(const struct npu_err *err);

/* Prints "npusim NAME: MESSAGE" and a pointer to the help, returns NPU_E_USAGE. */
int npu_cmd_usage_error(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints the command's usage text to f. */
void npu_cmd_print_usage(const char *name, FILE *f);

#endif
