/* npu_inject: expands a scenario's stimuli into the per-burst (neuron, Q16)
 * lists a backend injects (struct npu_inject).  Cost follows the stimulated
 * neurons, not the network: `random P` draws geometric gaps between picked
 * neurons instead of a coin per neuron. */
#ifndef NPU_INJECT_H
#define NPU_INJECT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "net.h"
#include "scenario.h"

struct npu_inject_buf {
    struct npu_inject view;       /* what to hand to submit() */
    uint32_t *off;
    uint32_t *id;
    int64_t *q;
    size_t cap_bursts, cap;
};

/* Fills buf with bursts first..first+count-1. */
int npu_inject_build(const struct npu_scenario *scn, const struct npu_net *net, uint32_t first,
                     uint32_t count, struct npu_inject_buf *buf, struct npu_err *err);

void npu_inject_buf_free(struct npu_inject_buf *buf);

#endif
