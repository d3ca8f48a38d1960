#include "backend.h"

#include <stdlib.h>
#include <string.h>

static const struct npu_backend_ops *const backends[] = {
    &npu_backend_cpu,
    &npu_backend_vulkan,
};

const struct npu_backend_ops *npu_backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

int npu_backend_open(const struct npu_backend_ops *ops, const struct npu_backend_cfg *cfg,
                     const struct npu_net *net, const struct npu_run_params *params,
                     struct npu_backend **out, struct npu_err *err)
{
    struct npu_backend *be = NULL;
    *out = NULL;
    int rc = ops->create(cfg, &be, err);
    if (rc)
        return rc;
    rc = be->ops->upload(be, net, params, err);
    if (rc) {
        be->ops->destroy(be);
        return rc;
    }
    *out = be;
    return NPU_OK;
}

void npu_backend_destroy(struct npu_backend *be)
{
    if (be)
        be->ops->destroy(be);
}

int npu_backend_read_mp(struct npu_backend *be, const uint32_t *ids, uint32_t n, float *out,
                        struct npu_err *err)
{
    if (be->ops->read_mp)
        return be->ops->read_mp(be, ids, n, out, err);
    /* Probes are a debugging aid: reading the whole state per burst is slow
     * on a big network but cannot disagree with read_state. */
    struct npu_state st;
    int rc = be->ops->read_state(be, &st, err);
    if (rc)
        return rc;
    for (uint32_t k = 0; k < n; k++)
        out[k] = st.mp[ids[k]];
    npu_state_free(&st);
    return NPU_OK;
}

int npu_state_alloc(struct npu_state *st, uint32_t n, struct npu_err *err)
{
    memset(st, 0, sizeof(*st));
    st->n = n;
    st->mp = calloc(n ? n : 1, sizeof(float));
    st->countdown = calloc(n ? n : 1, sizeof(uint16_t));
    st->cfc = calloc(n ? n : 1, sizeof(uint16_t));
    if (!st->mp || !st->countdown || !st->cfc) {
        npu_state_free(st);
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the state of %u neurons", n);
    }
    return NPU_OK;
}

void npu_state_free(struct npu_state *st)
{
    if (!st)
        return;
    free(st->mp);
    free(st->countdown);
    free(st->cfc);
    memset(st, 0, sizeof(*st));
}
