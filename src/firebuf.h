/* npu_firebuf: a batch's fire queues in one growable set of arrays, the
 * shape collect() hands out (struct npu_fires): burst j's fires are
 * id[off[j] .. off[j+1]) with their mp at firing.  Used by the CPU backend
 * for its in-flight batches and by the trace queue for its copies. */
#ifndef NPU_FIREBUF_H
#define NPU_FIREBUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct npu_firebuf {
    uint32_t *off;          /* [cap_bursts + 1] */
    uint32_t *id;
    float *mp;
    uint32_t cap_bursts;
    size_t cap_fires;
};

/* Room for `bursts` bursts and `fires` fires; keeps what is there. */
int npu_firebuf_reserve(struct npu_firebuf *b, uint32_t bursts, size_t fires, struct npu_err *err);
void npu_firebuf_free(struct npu_firebuf *b);

#endif
