/* npu_inject: turns a scenario's stimuli into the per-burst input of a
 * backend (struct npu_inject).  Explicit neurons (lists, boxes) become
 * (neuron, Q16) entries; whole areas and `random P` become range
 * descriptors that the backend expands, so the host's cost per burst
 * follows the number of stimuli, not the neurons they touch. */
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
    uint32_t *range_off;
    struct npu_inject_range *ranges;
    size_t cap_bursts, cap, cap_ranges;
};

/* Fills buf with bursts first..first+count-1. */
int npu_inject_build(const struct npu_scenario *scn, const struct npu_net *net, uint32_t first,
                     uint32_t count, struct npu_inject_buf *buf, struct npu_err *err);

/* Expands in's ranges into explicit entries: out->view holds the same input
 * with no ranges (for backends that take explicit lists only). */
int npu_inject_flatten(const struct npu_inject *in, struct npu_inject_buf *out, struct npu_err *err);

/* The stream key of stimulus `stim` of a scenario with `seed` in burst b. */
uint32_t npu_inject_key(uint64_t seed, uint32_t stim, uint32_t burst);

void npu_inject_buf_free(struct npu_inject_buf *buf);

#endif
