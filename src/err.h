/* npu_err: how library code reports failure.
 *
 * Library functions never print or exit. They return 0 on success or one of
 * the npu_status codes below, and fill a caller-owned struct npu_err with a
 * one-line message. The codes double as the process exit codes of every
 * command, so a script sees the same number for the same kind of trouble.
 */
#ifndef NPU_ERR_H
#define NPU_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum npu_status {
    NPU_OK = 0,
    NPU_E_DIFFER = 1,      /* diff: the traces differ (not an error elsewhere) */
    NPU_E_USAGE = 2,       /* bad command line */
    NPU_E_INPUT = 3,       /* bad network, scenario or --set value */
    NPU_E_IO = 4,          /* a file could not be read or written (disk full too) */
    NPU_E_TRACE = 5,       /* a trace is corrupt, or of an unsupported version */
    NPU_E_BACKEND = 6,     /* backend not available: not built, no loader, no device, missing feature */
    NPU_E_RESOURCE = 7,    /* out of host memory, or the network exceeds a limit */
    NPU_E_DEVICE = 8,      /* the device failed during the run (lost, out of device memory) */
    NPU_E_INTERRUPTED = 9, /* stopped by SIGINT/SIGTERM; the trace says where */
    NPU_E_INTERNAL = 70,   /* a bug in npusim */
};

#define NPU_ERR_MSG_MAX 1024

struct npu_err {
    int code;
    char msg[NPU_ERR_MSG_MAX];
};

/* Sets err (if not NULL) and returns code, so callers can `return npu_err_set(...)`.
 * err->msg may itself be one of the arguments. */
int npu_err_set(struct npu_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int npu_err_setv(struct npu_err *err, int code, const char *fmt, va_list ap);

/* Prefixes the existing message with "fmt: ", keeping the code. */
int npu_err_prefix(struct npu_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Short name of a status code, for docs and JSON ("input", "io", ...). */
const char *npu_status_name(int code);


/* Warnings for suspicious but legal input, collected by loaders for the
 * command to print.  Each is "WHERE: warning: message". */
struct npu_warnings {
    size_t n, cap;
    char **msg;
};

void npu_warn(struct npu_warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void npu_warnings_free(struct npu_warnings *w);

#endif
