#include "net.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

uint32_t npu_net_area_find(const struct npu_net *net, uint32_t id)
{
    uint32_t lo = 0, hi = net->n_areas;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (net->areas[mid].base <= id)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int npu_net_area_index(const struct npu_net *net, const char *name)
{
    for (uint32_t a = 0; a < net->n_areas; a++)
        if (strcmp(net->areas[a].name, name) == 0)
            return (int)a;
    return -1;
}

void npu_net_coords(const struct npu_net *net, uint32_t id, uint32_t xyz[3])
{
    const struct npu_area *a = &net->areas[net->area_of[id]];
    uint32_t local = id - a->base;
    xyz[0] = local % a->dim[0];
    local /= a->dim[0];
    xyz[1] = local % a->dim[1];
    xyz[2] = local / a->dim[1];
}

size_t npu_net_bytes(const struct npu_net *net)
{
    return (size_t)net->n_areas * sizeof(struct npu_area)
         + (size_t)net->n_neurons * sizeof(uint16_t)
         + ((size_t)net->n_neurons + 1) * sizeof(uint32_t)
         + (size_t)net->n_synapses * (sizeof(uint32_t) + sizeof(uint16_t));
}

int npu_net_alloc_arrays(struct npu_net *net, struct npu_err *err)
{
    if (net->n_neurons > NPU_MAX_NEURONS)
        return npu_err_set(err, NPU_E_RESOURCE, "%u neurons: at most %u are supported",
                           net->n_neurons, NPU_MAX_NEURONS);
    if (net->n_synapses > NPU_MAX_SYNAPSES)
        return npu_err_set(err, NPU_E_RESOURCE,
                           "%llu synapses: at most %llu are supported",
                           (unsigned long long)net->n_synapses,
                           (unsigned long long)NPU_MAX_SYNAPSES);
    /* Both counts are bounded by 2^32 above, so these products fit size_t. */
    size_t n = net->n_neurons, s = net->n_synapses;
    net->area_of = malloc((n ? n : 1) * sizeof(uint16_t));
    net->syn_off = calloc(n + 1, sizeof(uint32_t));
    npu_mem_huge(net->syn_off, (n + 1) * sizeof(uint32_t));
    if (!net->syn_target) {
        net->syn_target = malloc((s ? s : 1) * sizeof(uint32_t));
        npu_mem_huge(net->syn_target, s * sizeof(uint32_t));
    }
    if (!net->syn_wp) {
        net->syn_wp = malloc((s ? s : 1) * sizeof(uint16_t));
        npu_mem_huge(net->syn_wp, s * sizeof(uint16_t));
    }
    if (!net->area_of || !net->syn_off || !net->syn_target || !net->syn_wp)
        return npu_err_set(err, NPU_E_RESOURCE,
                           "out of memory for %u neurons and %llu synapses (%.1f MiB)",
                           net->n_neurons, (unsigned long long)net->n_synapses,
                           (double)npu_net_bytes(net) / (1024.0 * 1024.0));
    return NPU_OK;
}

int npu_net_units_bound(const struct npu_net *net, struct npu_units_bound *b,
                        struct npu_err *err)
{
    *b = (struct npu_units_bound){ 0 };
    /* 16 bits, saturating: 2 MB at 1M neurons stays in cache, and no bound
     * that any backend accepts needs a larger count */
    uint16_t *fanin = calloc(net->n_neurons ? net->n_neurons : 1, sizeof(*fanin));
    if (!fanin)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the fan-in of %u neurons",
                           net->n_neurons);
    uint16_t most = 0;
    uint32_t units = 0;
    for (uint32_t s = 0; s < net->n_neurons; s++) {
        const struct npu_area *a = &net->areas[net->area_of[s]];
        uint32_t e = net->syn_off[s], end = net->syn_off[s + 1];
        if (!a->psp_uniform && end - e > 1)
            continue;
        for (; e < end; e++) {
            uint32_t wp = net->syn_wp[e];
            uint32_t u = (wp & 0xffu) * (a->mp_driven_psp ? 255u : wp >> 8);
            units = u > units ? u : units;
            uint16_t *f = &fanin[net->syn_target[e] & NPU_SYN_TARGET_MASK];
            if (*f < UINT16_MAX)
                ++*f;
            most = *f > most ? *f : most;
        }
    }
    free(fanin);
    b->max_fanin = most == UINT16_MAX ? NPU_FANIN_SATURATED : most;
    b->max_units = units;
    return NPU_OK;
}

void npu_net_free(struct npu_net *net)
{
    if (!net)
        return;
    free(net->areas);
    free(net->area_of);
    free(net->syn_off);
    free(net->syn_target);
    free(net->syn_wp);
    free(net);
}
