#include "net.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The bound's pass splits the synapses over threads from this many on (at
 * 1B synapses the fan-in counts no longer fit a core's cache and the pass
 * took 8 s on one thread), each thread counting its sources' synapses into
 * a fan-in array of its own; the counts are then summed.  The result does
 * not depend on the split. */
#define BOUND_THREADS_MIN_SYNAPSES (UINT64_C(1) << 22)
#define MAX_BOUND_THREADS 4

struct bound_job {
    const struct npu_net *net;
    uint32_t s0, s1;        /* sources */
    uint16_t *fanin;        /* [n_neurons], saturating */
    uint32_t units, min_units;
    bool any_synapse, any_inhibitory;
};

static void *bound_run(void *arg)
{
    struct bound_job *j = arg;
    const struct npu_net *net = j->net;
    uint32_t units = 0, min_units = UINT32_MAX, inh = 0;
    bool any = false;
    for (uint32_t s = j->s0; s < j->s1; s++) {
        const struct npu_area *a = &net->areas[net->area_of[s]];
        uint32_t e = net->syn_off[s], end = net->syn_off[s + 1];
        if (!a->psp_uniform && end - e > 1)
            continue;
        any |= e < end;
        for (; e < end; e++) {
            uint32_t wp = net->syn_wp[e];
            uint32_t u = (wp & 0xffu) * (a->mp_driven_psp ? 255u : wp >> 8);
            uint32_t u_min = a->mp_driven_psp ? 0u : u;
            units = u > units ? u : units;
            min_units = u_min < min_units ? u_min : min_units;
            inh |= net->syn_target[e];
            uint16_t *f = &j->fanin[net->syn_target[e] & NPU_SYN_TARGET_MASK];
            if (*f < UINT16_MAX)
                ++*f;
        }
    }
    j->units = units;
    j->min_units = any ? min_units : 0;
    j->any_synapse = any;
    j->any_inhibitory = (inh & NPU_SYN_INHIBITORY) != 0;
    return NULL;
}

bool npu_net_area_wp(const struct npu_net *net, uint32_t a, uint16_t *wp)
{
    const struct npu_area *ar = &net->areas[a];
    uint32_t e = net->syn_off[ar->base], end = net->syn_off[ar->base + ar->count];
    if (e == end)
        return false;
    uint16_t w = net->syn_wp[e];
    /* an or of differences, so the compiler vectorises the scan */
    for (; e < end; e += 4096) {
        uint32_t stop = end - e < 4096 ? end : e + 4096;
        uint16_t diff = 0;
        for (uint32_t k = e; k < stop; k++)
            diff |= net->syn_wp[k] ^ w;
        if (diff)
            return false;
    }
    *wp = w;
    return true;
}

/* The first source whose synapses start at or after synapse k. */
static uint32_t source_at(const struct npu_net *net, uint64_t k)
{
    uint32_t lo = 0, hi = net->n_neurons;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (net->syn_off[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int npu_net_units_bound(const struct npu_net *net, struct npu_units_bound *b,
                        struct npu_err *err)
{
    *b = (struct npu_units_bound){ 0 };
    size_t n = net->n_neurons ? net->n_neurons : 1;
    long cpus = net->n_synapses >= BOUND_THREADS_MIN_SYNAPSES ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    uint32_t nt = cpus > MAX_BOUND_THREADS ? MAX_BOUND_THREADS : cpus > 1 ? (uint32_t)cpus : 1;
    struct bound_job job[MAX_BOUND_THREADS] = { { 0 } };
    /* 16 bits, saturating: 2 MB at 1M neurons, and no bound that any
     * backend accepts needs a larger count; fewer threads if memory is
     * short */
    for (uint32_t t = 0; t < nt; t++)
        if (!(job[t].fanin = calloc(n, sizeof(uint16_t)))) {
            if (t == 0)
                return npu_err_set(err, NPU_E_RESOURCE,
                                   "out of memory for the fan-in of %u neurons", net->n_neurons);
            nt = t;
        }
    pthread_t th[MAX_BOUND_THREADS];
    bool started[MAX_BOUND_THREADS] = { false };
    for (uint32_t t = 0; t < nt; t++) {
        job[t].net = net;
        job[t].s0 = source_at(net, net->n_synapses * t / nt);
        job[t].s1 = t + 1 == nt ? net->n_neurons : source_at(net, net->n_synapses * (t + 1) / nt);
    }
    for (uint32_t t = 1; t < nt; t++)
        started[t] = pthread_create(&th[t], NULL, bound_run, &job[t]) == 0;
    bound_run(&job[0]);
    for (uint32_t t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            bound_run(&job[t]);   /* no thread: this one does it */
    }
    uint32_t most = 0, units = 0, min_units = UINT32_MAX;
    bool any = false;
    for (uint32_t t = 0; t < nt; t++) {
        units = job[t].units > units ? job[t].units : units;
        if (job[t].any_synapse)
            min_units = job[t].min_units < min_units ? job[t].min_units : min_units;
        any |= job[t].any_synapse;
        b->any_inhibitory |= job[t].any_inhibitory;
    }
    for (size_t i = 0; i < net->n_neurons; i++) {
        uint32_t f = 0;
        for (uint32_t t = 0; t < nt; t++)
            f += job[t].fanin[i];
        most = f > most ? f : most;
    }
    for (uint32_t t = 0; t < nt; t++)
        free(job[t].fanin);
    b->max_fanin = most >= UINT16_MAX ? NPU_FANIN_SATURATED : most;
    b->max_units = units;
    b->min_units = any ? min_units : 0;
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
