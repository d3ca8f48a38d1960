/* npu_net: a built network, ready for any backend.
 *
 * Neurons are dense ids 0..n_neurons-1, numbered area by area in file order
 * and, inside an area, x fastest: id = base + x + X*(y + Y*z).  Every neuron
 * of an area shares the area's parameters, so per-neuron storage is only the
 * area index; backends keep the dynamic state themselves.
 *
 * Synapses are a CSR by source: the outgoing synapses of neuron s are
 * [syn_off[s], syn_off[s+1]), ordered by target (ties keep creation order).
 * Each synapse is 6 bytes: a 32-bit target whose top bit marks it inhibitory,
 * and a 16-bit weight|psp<<8.
 */
#ifndef NPU_NET_H
#define NPU_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define NPU_Q_SHIFT 16
#define NPU_Q_ONE (INT64_C(1) << NPU_Q_SHIFT)      /* FCL fixed point: units of 2^-16 */
#define NPU_SYN_INHIBITORY UINT32_C(0x80000000)     /* in syn_target */
#define NPU_SYN_TARGET_MASK UINT32_C(0x7fffffff)
#define NPU_MAX_NEURONS UINT32_C(0x7fffffff)        /* ids must leave the inhibitory bit free */
#define NPU_MAX_SYNAPSES UINT64_C(0xffffffff)       /* syn_off is 32-bit */
#define NPU_MAX_AREAS 65535u                        /* area_of is 16-bit */
#define NPU_NAME_MAX 64
#define NPU_CFL_UNLIMITED_ALT 65535u                /* cfl 0 and 65535 both mean unlimited */

struct npu_area {
    char name[NPU_NAME_MAX];
    uint32_t base;          /* first neuron id */
    uint32_t count;         /* dim[0]*dim[1]*dim[2] */
    uint32_t dim[3];

    float threshold;
    float threshold_limit;  /* meaningful only when has_limit */
    float leak;             /* as given; keep = 1.0f - leak, computed once */
    float keep;
    float excitability;
    uint16_t refractory;
    uint16_t cfl;           /* consecutive fire limit; 0 or 65535 = unlimited */
    uint16_t snooze;
    bool has_limit;
    bool accumulate;        /* mp_charge_accumulation */
    bool power;
    bool mp_driven_psp;
    bool psp_uniform;       /* psp_uniform_distribution */
};

struct npu_net {
    char name[NPU_NAME_MAX];
    uint64_t seed;
    uint64_t digest;        /* XXH3 of the resolved network description */

    uint32_t n_areas;
    struct npu_area *areas;

    uint32_t n_neurons;
    uint16_t *area_of;      /* [n_neurons] */

    uint64_t n_synapses;
    uint32_t *syn_off;      /* [n_neurons + 1] */
    uint32_t *syn_target;   /* [n_synapses], NPU_SYN_INHIBITORY | target */
    uint16_t *syn_wp;       /* [n_synapses], weight | psp << 8 */
};

static inline bool npu_cfl_limited(uint16_t cfl)
{
    return cfl != 0 && cfl != NPU_CFL_UNLIMITED_ALT;
}

static inline uint32_t npu_net_outdeg(const struct npu_net *net, uint32_t s)
{
    return net->syn_off[s + 1] - net->syn_off[s];
}

/* Area index holding neuron id, by binary search over the area table. */
uint32_t npu_net_area_find(const struct npu_net *net, uint32_t id);

/* Index of the area called name, or -1. */
int npu_net_area_index(const struct npu_net *net, const char *name);

/* Coordinates of neuron id inside its area. */
void npu_net_coords(const struct npu_net *net, uint32_t id, uint32_t xyz[3]);

/* What bounds a neuron's synaptic input, so that a backend may sum it in
 * 32 bits.  Only "undivided" synapses count: those of a source whose
 * contributions are not divided by its out-degree (psp_uniform, or a single
 * synapse), each adding +-weight * psp_used units (of 2^-16) at most once a
 * burst.  Divided contributions are not whole units and stay int64. */
#define NPU_FANIN_SATURATED UINT32_MAX
struct npu_units_bound {
    uint32_t max_fanin;  /* most undivided synapses into one neuron, or
                          * NPU_FANIN_SATURATED from 65535 on */
    uint32_t max_units;  /* largest weight * psp_used among them (psp_used is
                          * taken as 255 for an mp-driven source) */
    uint32_t min_units;  /* smallest, with psp_used taken as 0 for an
                          * mp-driven source; 0 where there are none */
    bool any_inhibitory; /* some of them are inhibitory */
};

/* One pass over the synapses with a 16-bit count per neuron. */
int npu_net_units_bound(const struct npu_net *net, struct npu_units_bound *b,
                        struct npu_err *err);

/* Whether every synapse of area a's neurons has the same weight | psp << 8
 * word, and which (*wp).  False for an area without synapses.  One pass
 * over the area's rows, stopping at the first that differs. */
bool npu_net_area_wp(const struct npu_net *net, uint32_t a, uint16_t *wp);

/* Host bytes held by the network's arrays. */
size_t npu_net_bytes(const struct npu_net *net);

/* Allocates the per-neuron and synapse arrays for the sizes already set in
 * net (n_neurons, n_synapses); synapse arrays already set (malloc'ed, of
 * n_synapses entries) are kept. Checks sizes before multiplying. */
int npu_net_alloc_arrays(struct npu_net *net, struct npu_err *err);

/* Frees everything net owns and the struct itself. NULL is fine. */
void npu_net_free(struct npu_net *net);

#endif
