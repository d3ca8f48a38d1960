/* npu_netload: a network INI file (README.md, "Network files") into a built
 * struct npu_net. */
#ifndef NPU_NETLOAD_H
#define NPU_NETLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "inidoc.h"
#include "net.h"

struct npu_netload_opts {
    const struct npu_override *overrides;  /* network overrides (the `network.` prefix removed) */
    size_t n_overrides;
    uint64_t max_bytes;                    /* refuse networks needing more host memory; 0 = available RAM */
};

/* Loads, validates and builds.  Errors are "FILE:LINE: message" with
 * NPU_E_INPUT (bad content), NPU_E_IO (unreadable file) or NPU_E_RESOURCE
 * (too large).  Warnings are appended to warn (may be NULL). */
int npu_netload_file(const char *path, const struct npu_netload_opts *opts, struct npu_net **out,
                     struct npu_warnings *warn, struct npu_err *err);

/* Same, from an already parsed file (overrides not yet applied). */
int npu_netload_ini(struct npu_ini *ini, const struct npu_netload_opts *opts, struct npu_net **out,
                    struct npu_warnings *warn, struct npu_err *err);

/* Bytes of RAM the kernel reports available (MemAvailable), 0 if unknown. */
uint64_t npu_netload_mem_available(void);

#endif
