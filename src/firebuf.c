#include "firebuf.h"

#include <stdlib.h>
#include <string.h>

int npu_firebuf_reserve(struct npu_firebuf *b, uint32_t bursts, size_t fires, struct npu_err *err)
{
    if (bursts > b->cap_bursts || !b->off) {
        uint32_t *o = realloc(b->off, ((size_t)bursts + 1) * sizeof(*o));
        if (!o)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for a batch of %u bursts", bursts);
        b->off = o;
        b->cap_bursts = bursts;
    }
    if (fires > b->cap_fires || !b->id) {
        /* Doubling: a batch's fire count changes every time. */
        size_t cap = b->cap_fires ? b->cap_fires : 1024;
        while (cap < fires)
            cap *= 2;
        uint32_t *id = realloc(b->id, cap * sizeof(*id));
        if (id)
            b->id = id;
        float *mp = realloc(b->mp, cap * sizeof(*mp));
        if (mp)
            b->mp = mp;
        if (!id || !mp)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %zu fires", fires);
        b->cap_fires = cap;
    }
    return NPU_OK;
}

void npu_firebuf_free(struct npu_firebuf *b)
{
    free(b->off);
    free(b->id);
    free(b->mp);
    memset(b, 0, sizeof(*b));
}
