/* Shared by the fuzz targets: limits that keep one input cheap, and checks
 * of what a successful load must satisfy (a crash here is a finding). */
#ifndef NPU_FUZZ_H
#define NPU_FUZZ_H

#include <stdint.h>
#include <stdlib.h>

#include "net.h"

/* Refuse networks above this: the fuzzer looks for crashes, not for OOM. */
#define FUZZ_MAX_BYTES (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_check_net(const struct npu_net *net)
{
    if (net->syn_off[0] != 0 || net->syn_off[net->n_neurons] != net->n_synapses)
        abort();
    for (uint32_t s = 0; s < net->n_neurons; s++) {
        if (net->syn_off[s] > net->syn_off[s + 1])
            abort();
        for (uint32_t e = net->syn_off[s]; e < net->syn_off[s + 1]; e++) {
            uint32_t t = net->syn_target[e] & NPU_SYN_TARGET_MASK;
            if (t >= net->n_neurons)
                abort();
            if (e > net->syn_off[s] && (net->syn_target[e - 1] & NPU_SYN_TARGET_MASK) > t)
                abort();
        }
    }
}

#endif
