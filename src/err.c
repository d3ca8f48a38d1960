#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int npu_err_setv(struct npu_err *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        /* Formatted aside first: callers may pass err->msg itself as an
         * argument (to add to a message), and vsnprintf's output must not
         * overlap its input. */
        char msg[NPU_ERR_MSG_MAX];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        err->code = code;
        memcpy(err->msg, msg, sizeof(msg));
    }
    return code;
}

int npu_err_set(struct npu_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    npu_err_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int npu_err_prefix(struct npu_err *err, const char *fmt, ...)
{
    if (!err)
        return NPU_E_INTERNAL;
    char prefix[NPU_ERR_MSG_MAX], old[NPU_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Truncating an over-long message is the intent, not a bug. */
    size_t n = strlen(prefix);
    if (n > sizeof(err->msg) - 3)
        n = sizeof(err->msg) - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof(err->msg) - n - 3;
    size_t m = strnlen(old, room);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return err->code;
}

const char *npu_status_name(int code)
{
    switch (code) {
    case NPU_OK: return "ok";
    case NPU_E_DIFFER: return "differ";
    case NPU_E_USAGE: return "usage";
    case NPU_E_INPUT: return "input";
    case NPU_E_IO: return "io";
    case NPU_E_TRACE: return "trace";
    case NPU_E_BACKEND: return "backend";
    case NPU_E_RESOURCE: return "resource";
    case NPU_E_DEVICE: return "device";
    case NPU_E_INTERRUPTED: return "interrupted";
    default: return "internal";
    }
}

void npu_warn(struct npu_warnings *w, const char *fmt, ...)
{
    if (!w)
        return;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        char **m = realloc(w->msg, cap * sizeof(*m));
        if (!m)
            return;  /* a lost warning is better than a failed run */
        w->msg = m;
        w->cap = cap;
    }
    char buf[NPU_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    w->msg[w->n] = strdup(buf);
    if (w->msg[w->n])
        w->n++;
}

void npu_warnings_free(struct npu_warnings *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->msg[i]);
    free(w->msg);
    w->msg = NULL;
    w->n = w->cap = 0;
}
