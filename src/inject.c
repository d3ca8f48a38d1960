#include "inject.h"

#include <stdlib.h>
#include <string.h>

#include "rng.h"

static int push(struct npu_inject_buf *b, size_t *n, uint32_t id, int64_t q, struct npu_err *err)
{
    if (*n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        uint32_t *i = realloc(b->id, cap * sizeof(*i));
        if (i)
            b->id = i;
        int64_t *v = realloc(b->q, cap * sizeof(*v));
        if (v)
            b->q = v;
        if (!i || !v)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %zu stimulus entries", cap);
        b->cap = cap;
    }
    b->id[*n] = id;
    b->q[*n] = q;
    (*n)++;
    return NPU_OK;
}

/* `random P` in burst b: each neuron of the area with probability P,
 * independently and redrawn every burst, by geometric skips. */
static int add_random(const struct npu_scenario *scn, uint32_t si, const struct npu_area *ar,
                      uint32_t b, struct npu_inject_buf *buf, size_t *n, struct npu_err *err)
{
    const struct npu_stim *st = &scn->stims[si];
    int rc = NPU_OK;
    if (st->probability <= 0.0)
        return NPU_OK;
    if (st->probability >= 1.0) {
        for (uint32_t k = 0; k < ar->count && !rc; k++)
            rc = push(buf, n, ar->base + k, st->q, err);
        return rc;
    }
    double l1p = npu_rng_log(1.0 - st->probability);
    if (!(l1p < 0.0))
        return NPU_OK;  /* P so small that 1-P rounds to 1: nothing is ever picked */
    uint64_t k = 0;
    for (uint64_t draw = 0; !rc; draw++) {
        double gap = npu_rng_log(npu_rng_unit(npu_rng_hash4(scn->seed, si, b, draw))) / l1p;
        if (gap >= (double)ar->count)
            break;
        k += (uint64_t)gap;
        if (k >= ar->count)
            break;
        rc = push(buf, n, ar->base + (uint32_t)k, st->q, err);
        k++;
    }
    return rc;
}

int npu_inject_build(const struct npu_scenario *scn, const struct npu_net *net, uint32_t first,
                     uint32_t count, struct npu_inject_buf *buf, struct npu_err *err)
{
    if (count + 1 > buf->cap_bursts) {
        uint32_t *o = realloc(buf->off, ((size_t)count + 1) * sizeof(*o));
        if (!o)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        buf->off = o;
        buf->cap_bursts = (size_t)count + 1;
    }
    size_t n = 0;
    int rc = NPU_OK;
    for (uint32_t j = 0; j < count && !rc; j++) {
        uint32_t b = first + j;
        buf->off[j] = (uint32_t)n;
        for (uint32_t si = 0; si < scn->n_stims && !rc; si++) {
            const struct npu_stim *st = &scn->stims[si];
            if (!npu_scn_scheduled(st, b))
                continue;
            const struct npu_area *ar = &net->areas[st->area];
            switch (st->sel) {
            case NPU_SEL_ALL:
                for (uint32_t k = 0; k < ar->count && !rc; k++)
                    rc = push(buf, &n, ar->base + k, st->q, err);
                break;
            case NPU_SEL_LIST:
            case NPU_SEL_BOX:
                for (uint32_t k = 0; k < st->n_ids && !rc; k++)
                    rc = push(buf, &n, st->ids[k], st->q, err);
                break;
            case NPU_SEL_RANDOM:
                rc = add_random(scn, si, ar, b, buf, &n, err);
                break;
            }
        }
        if (n > UINT32_MAX)
            rc = npu_err_set(err, NPU_E_RESOURCE, "more than 2^32 stimulus entries in one batch");
    }
    if (rc)
        return rc;
    buf->off[count] = (uint32_t)n;
    buf->view = (struct npu_inject){
        .first_burst = first, .count = count, .off = buf->off, .id = buf->id, .q = buf->q,
    };
    return NPU_OK;
}

void npu_inject_buf_free(struct npu_inject_buf *buf)
{
    if (!buf)
        return;
    free(buf->off);
    free(buf->id);
    free(buf->q);
    memset(buf, 0, sizeof(*buf));
}
