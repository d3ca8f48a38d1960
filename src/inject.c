#include "inject.h"

#include <stdlib.h>
#include <string.h>

#include "fixed.h"
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

static int push_range(struct npu_inject_buf *b, size_t *n, const struct npu_inject_range *r,
                      struct npu_err *err)
{
    if (*n == b->cap_ranges) {
        size_t cap = b->cap_ranges ? b->cap_ranges * 2 : 64;
        struct npu_inject_range *g = realloc(b->ranges, cap * sizeof(*g));
        if (!g)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %zu stimuli", cap);
        b->ranges = g;
        b->cap_ranges = cap;
    }
    b->ranges[(*n)++] = *r;
    return NPU_OK;
}

static int reserve_bursts(struct npu_inject_buf *b, uint32_t count, struct npu_err *err)
{
    if (count + 1 <= b->cap_bursts)
        return NPU_OK;
    uint32_t *o = realloc(b->off, ((size_t)count + 1) * sizeof(*o));
    if (o)
        b->off = o;
    uint32_t *r = realloc(b->range_off, ((size_t)count + 1) * sizeof(*r));
    if (r)
        b->range_off = r;
    if (!o || !r)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    b->cap_bursts = (size_t)count + 1;
    return NPU_OK;
}

uint32_t npu_inject_key(uint64_t seed, uint32_t stim, uint32_t burst)
{
    return (uint32_t)(npu_rng_hash4(seed, UINT64_C(0x73746d), stim, burst) >> 32);
}

static void set_view(struct npu_inject_buf *b, uint32_t first, uint32_t count)
{
    b->view = (struct npu_inject){
        .first_burst = first, .count = count, .off = b->off, .id = b->id, .q = b->q,
        .range_off = b->range_off, .ranges = b->ranges,
    };
}

int npu_inject_build(const struct npu_scenario *scn, const struct npu_net *net, uint32_t first,
                     uint32_t count, struct npu_inject_buf *buf, struct npu_err *err)
{
    int rc = reserve_bursts(buf, count, err);
    if (rc)
        return rc;
    size_t n = 0, nr = 0;
    for (uint32_t j = 0; j < count && !rc; j++) {
        uint32_t b = first + j;
        buf->off[j] = (uint32_t)n;
        buf->range_off[j] = (uint32_t)nr;
        for (uint32_t si = 0; si < scn->n_stims && !rc; si++) {
            const struct npu_stim *st = &scn->stims[si];
            if (!npu_scn_scheduled(st, b))
                continue;
            const struct npu_area *ar = &net->areas[st->area];
            struct npu_inject_range r = { .first = ar->base, .count = ar->count, .q = st->q };
            switch (st->sel) {
            case NPU_SEL_ALL:
                r.all = 1;
                rc = push_range(buf, &nr, &r, err);
                break;
            case NPU_SEL_RANDOM:
                if (st->probability >= 1.0) {
                    r.all = 1;
                } else {
                    r.threshold = npu_fx_pick_threshold(st->probability);
                    r.key = npu_inject_key(scn->seed, si, b);
                }
                if (r.all || r.threshold > 0)
                    rc = push_range(buf, &nr, &r, err);
                break;
            case NPU_SEL_LIST:
            case NPU_SEL_BOX:
                for (uint32_t k = 0; k < st->n_ids && !rc; k++)
                    rc = push(buf, &n, st->ids[k], st->q, err);
                break;
            }
        }
        if (n > UINT32_MAX || nr > UINT32_MAX)
            rc = npu_err_set(err, NPU_E_RESOURCE, "more than 2^32 stimulus entries in one batch");
    }
    if (rc)
        return rc;
    buf->off[count] = (uint32_t)n;
    buf->range_off[count] = (uint32_t)nr;
    set_view(buf, first, count);
    return NPU_OK;
}

int npu_inject_flatten(const struct npu_inject *in, struct npu_inject_buf *out, struct npu_err *err)
{
    int rc = reserve_bursts(out, in->count, err);
    size_t n = 0, nr = 0;
    for (uint32_t j = 0; j < in->count && !rc; j++) {
        out->off[j] = (uint32_t)n;
        out->range_off[j] = 0;
        for (uint32_t k = in->off[j]; k < in->off[j + 1] && !rc; k++)
            rc = push(out, &n, in->id[k], in->q[k], err);
        for (uint32_t g = in->range_off ? in->range_off[j] : 0;
             in->range_off && g < in->range_off[j + 1] && !rc; g++) {
            const struct npu_inject_range *r = &in->ranges[g];
            for (uint32_t i = r->first; i < r->first + r->count && !rc; i++)
                if (r->all || npu_fx_pick_hash(r->key, i) < r->threshold)
                    rc = push(out, &n, i, r->q, err);
        }
        if (n > UINT32_MAX)
            rc = npu_err_set(err, NPU_E_RESOURCE, "more than 2^32 stimulus entries in one batch");
    }
    if (rc)
        return rc;
    out->off[in->count] = (uint32_t)n;
    out->range_off[in->count] = (uint32_t)nr;
    set_view(out, in->first_burst, in->count);
    return NPU_OK;
}

void npu_inject_buf_free(struct npu_inject_buf *buf)
{
    if (!buf)
        return;
    free(buf->off);
    free(buf->id);
    free(buf->q);
    free(buf->range_off);
    free(buf->ranges);
    memset(buf, 0, sizeof(*buf));
}
