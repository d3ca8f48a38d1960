/* The CPU reference backend: SEMANTICS.md written out, one burst at a time.
 *
 * Cost follows the work of a burst, not the size of the network: the FCL is
 * a dense sum array whose entries are valid only for neurons stamped with
 * the current burst number, so clearing it is free; step 1's reset touches
 * only the previous burst's candidates, the only neurons whose mp can be
 * non-zero while they do not accumulate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fixed.h"

struct fire {
    uint32_t id;
    float mp;
};

/* One batch's fire queues, as collect() hands them out. */
struct slot {
    bool full;
    uint32_t first_burst, count;
    uint32_t *off;        /* [cap_bursts + 1] */
    uint32_t cap_bursts;
    uint32_t *id;
    float *mp;
    size_t n, cap;
};

struct cpu_backend {
    struct npu_backend base;       /* first: the common part */
    const struct npu_net *net;
    int64_t power_q;

    float *mp;
    uint16_t *countdown;
    uint16_t *cfc;

    uint64_t *sum;                 /* FCL, valid where stamp == current burst */
    uint32_t *stamp;
    uint32_t *cand;                /* this burst's candidates, insertion order */
    uint32_t n_cand;
    uint32_t *prev_cand;           /* last burst's, for step 1 */
    uint32_t n_prev_cand;

    struct fire *fires;            /* this burst's fires, sorted by id */
    uint32_t n_fires;
    struct fire *prev_fires;       /* last burst's, the input of step 5 */
    uint32_t n_prev_fires;

    uint32_t burst;                /* last burst run */
    struct slot slots[NPU_BACKEND_MAX_IN_FLIGHT];
    unsigned head, in_flight;      /* ring of submitted, not collected slots */
};

static void fcl_add(struct cpu_backend *c, uint32_t id, int64_t q)
{
    if (c->stamp[id] != c->burst) {
        c->stamp[id] = c->burst;
        c->sum[id] = 0;
        c->cand[c->n_cand++] = id;
    }
    /* Unsigned, so overflow wraps as the GPU's atomics do instead of being UB. */
    c->sum[id] += (uint64_t)q;
}

static int cmp_fire(const void *a, const void *b)
{
    uint32_t x = ((const struct fire *)a)->id, y = ((const struct fire *)b)->id;
    return (x > y) - (x < y);
}

static void propagate(struct cpu_backend *c)
{
    const struct npu_net *net = c->net;
    for (uint32_t f = 0; f < c->n_prev_fires; f++) {
        uint32_t s = c->prev_fires[f].id;
        const struct npu_area *a = &net->areas[net->area_of[s]];
        uint32_t lo = net->syn_off[s], hi = net->syn_off[s + 1];
        uint32_t k = hi - lo;
        uint32_t mp_psp = a->mp_driven_psp ? npu_fx_psp_from_mp(c->prev_fires[f].mp) : 0;
        for (uint32_t e = lo; e < hi; e++) {
            uint32_t t = net->syn_target[e];
            uint32_t wp = net->syn_wp[e];
            uint32_t psp = a->mp_driven_psp ? mp_psp : wp >> 8;
            int64_t q = npu_fx_contribution(wp & 0xff, psp, (t & NPU_SYN_INHIBITORY) != 0,
                                            a->psp_uniform, k);
            fcl_add(c, t & NPU_SYN_TARGET_MASK, q);
        }
    }
}

/* Step 6 for one candidate; returns 1 when it fires. */
static int dynamics(struct cpu_backend *c, uint32_t i, float cand, float *fire_mp)
{
    const struct npu_area *a = &c->net->areas[c->net->area_of[i]];
    bool limited = npu_cfl_limited(a->cfl);

    if (c->countdown[i] > 0) {
        c->countdown[i]--;
        if (c->countdown[i] == 0 && limited && c->cfc[i] >= a->cfl)
            c->cfc[i] = 0;
        return 0;
    }
    float mp = c->mp[i] + cand;
    if (mp >= a->threshold && (!a->has_limit || mp <= a->threshold_limit)) {
        if (limited && c->cfc[i] >= a->cfl) {
            c->cfc[i] = 0;
            c->mp[i] = mp;
            return 0;
        }
        if (npu_fx_fires(a->excitability, i, c->burst)) {
            *fire_mp = mp;
            c->mp[i] = 0.0f;
            if (c->cfc[i] < UINT16_MAX)
                c->cfc[i]++;
            if (limited && c->cfc[i] >= a->cfl) {
                uint32_t cd = (uint32_t)a->refractory + a->snooze;
                c->countdown[i] = (uint16_t)(cd > UINT16_MAX ? UINT16_MAX : cd);
            } else {
                c->countdown[i] = a->refractory;
            }
            return 1;
        }
    }
    if (limited)
        c->cfc[i] = 0;
    c->mp[i] = mp * a->keep;
    return 0;
}

static void run_burst(struct cpu_backend *c, const uint32_t *inj_id, const int64_t *inj_q,
                      uint32_t n_inj, const struct npu_inject_range *ranges, uint32_t n_ranges)
{
    const struct npu_net *net = c->net;
    c->burst++;

    /* 1. reset; 2. clear (implicit: stamps of the old burst are stale). */
    for (uint32_t k = 0; k < c->n_prev_cand; k++) {
        uint32_t i = c->prev_cand[k];
        if (!net->areas[net->area_of[i]].accumulate)
            c->mp[i] = 0.0f;
    }
    c->n_cand = 0;

    /* 3. sensory */
    for (uint32_t k = 0; k < n_inj; k++)
        fcl_add(c, inj_id[k], inj_q[k]);
    for (uint32_t g = 0; g < n_ranges; g++) {
        const struct npu_inject_range *r = &ranges[g];
        for (uint32_t i = r->first; i < r->first + r->count; i++)
            if (r->all || npu_fx_pick_hash(r->key, i) < r->threshold)
                fcl_add(c, i, r->q);
    }

    /* 4. power */
    if (c->power_q != 0)
        for (uint32_t a = 0; a < net->n_areas; a++)
            if (net->areas[a].power)
                for (uint32_t i = net->areas[a].base; i < net->areas[a].base + net->areas[a].count; i++)
                    fcl_add(c, i, c->power_q);

    /* 5. propagate last burst's fires */
    propagate(c);

    /* 6. dynamics */
    c->n_fires = 0;
    for (uint32_t k = 0; k < c->n_cand; k++) {
        uint32_t i = c->cand[k];
        float fmp;
        if (dynamics(c, i, npu_fx_to_float((int64_t)c->sum[i]), &fmp))
            c->fires[c->n_fires++] = (struct fire){ i, fmp };
    }
    /* 7. the fire queue, ordered by id */
    qsort(c->fires, c->n_fires, sizeof(c->fires[0]), cmp_fire);

    struct fire *tf = c->prev_fires;
    c->prev_fires = c->fires;
    c->fires = tf;
    c->n_prev_fires = c->n_fires;
    uint32_t *tc = c->prev_cand;
    c->prev_cand = c->cand;
    c->cand = tc;
    c->n_prev_cand = c->n_cand;
}

static int slot_reserve(struct slot *s, uint32_t bursts, size_t n, struct npu_err *err)
{
    if (bursts + 1 > s->cap_bursts + 1 || !s->off) {
        uint32_t *o = realloc(s->off, ((size_t)bursts + 1) * sizeof(*o));
        if (!o)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for a batch of %u bursts", bursts);
        s->off = o;
        s->cap_bursts = bursts;
    }
    if (n > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < n)
            cap *= 2;
        uint32_t *id = realloc(s->id, cap * sizeof(*id));
        if (id)
            s->id = id;
        float *mp = realloc(s->mp, cap * sizeof(*mp));
        if (mp)
            s->mp = mp;
        if (!id || !mp)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %zu fires", n);
        s->cap = cap;
    }
    return NPU_OK;
}

static int cpu_submit(struct npu_backend *be, const struct npu_inject *in, struct npu_err *err)
{
    struct cpu_backend *c = (struct cpu_backend *)be;
    if (c->in_flight == NPU_BACKEND_MAX_IN_FLIGHT)
        return npu_err_set(err, NPU_E_INTERNAL, "cpu backend: more than %d batches in flight",
                           NPU_BACKEND_MAX_IN_FLIGHT);
    if (in->first_burst != c->burst + 1)
        return npu_err_set(err, NPU_E_INTERNAL, "cpu backend: batch starts at burst %u, expected %u",
                           in->first_burst, c->burst + 1);
    struct slot *s = &c->slots[(c->head + c->in_flight) % NPU_BACKEND_MAX_IN_FLIGHT];
    int rc = slot_reserve(s, in->count, 0, err);
    if (rc)
        return rc;
    s->first_burst = in->first_burst;
    s->count = in->count;
    s->n = 0;
    for (uint32_t j = 0; j < in->count; j++) {
        uint32_t lo = in->off[j], hi = in->off[j + 1];
        uint32_t glo = in->range_off ? in->range_off[j] : 0;
        uint32_t ghi = in->range_off ? in->range_off[j + 1] : 0;
        run_burst(c, in->id + lo, in->q + lo, hi - lo, in->ranges + glo, ghi - glo);
        rc = slot_reserve(s, in->count, s->n + c->n_prev_fires, err);
        if (rc)
            return rc;
        s->off[j] = (uint32_t)s->n;
        for (uint32_t k = 0; k < c->n_prev_fires; k++) {
            s->id[s->n + k] = c->prev_fires[k].id;
            s->mp[s->n + k] = c->prev_fires[k].mp;
        }
        s->n += c->n_prev_fires;
    }
    s->off[in->count] = (uint32_t)s->n;
    s->full = true;
    c->in_flight++;
    return NPU_OK;
}

static int cpu_collect(struct npu_backend *be, struct npu_fires *out, struct npu_err *err)
{
    struct cpu_backend *c = (struct cpu_backend *)be;
    if (c->in_flight == 0)
        return npu_err_set(err, NPU_E_INTERNAL, "cpu backend: collect with nothing submitted");
    struct slot *s = &c->slots[c->head];
    *out = (struct npu_fires){
        .first_burst = s->first_burst, .count = s->count,
        .off = s->off, .id = s->id, .mp = s->mp,
    };
    s->full = false;
    c->head = (c->head + 1) % NPU_BACKEND_MAX_IN_FLIGHT;
    c->in_flight--;
    return NPU_OK;
}

static uint32_t cpu_max_batch(struct npu_backend *be)
{
    (void)be;
    return 64;
}

static int cpu_read_state(struct npu_backend *be, struct npu_state *out, struct npu_err *err)
{
    struct cpu_backend *c = (struct cpu_backend *)be;
    int rc = npu_state_alloc(out, c->net->n_neurons, err);
    if (rc)
        return rc;
    memcpy(out->mp, c->mp, (size_t)out->n * sizeof(float));
    memcpy(out->countdown, c->countdown, (size_t)out->n * sizeof(uint16_t));
    memcpy(out->cfc, c->cfc, (size_t)out->n * sizeof(uint16_t));
    return NPU_OK;
}

static int cpu_read_mp(struct npu_backend *be, const uint32_t *ids, uint32_t n, float *out,
                       struct npu_err *err)
{
    struct cpu_backend *c = (struct cpu_backend *)be;
    if (c->in_flight)
        return npu_err_set(err, NPU_E_INTERNAL, "cpu backend: read_mp with batches in flight");
    for (uint32_t k = 0; k < n; k++)
        out[k] = c->mp[ids[k]];
    return NPU_OK;
}

static void free_arrays(struct cpu_backend *c)
{
    free(c->mp);
    free(c->countdown);
    free(c->cfc);
    free(c->sum);
    free(c->stamp);
    free(c->cand);
    free(c->prev_cand);
    free(c->fires);
    free(c->prev_fires);
    c->mp = NULL;
    c->countdown = c->cfc = NULL;
    c->sum = NULL;
    c->stamp = c->cand = c->prev_cand = NULL;
    c->fires = c->prev_fires = NULL;
}

static int cpu_upload(struct npu_backend *be, const struct npu_net *net,
                      const struct npu_run_params *params, struct npu_err *err)
{
    struct cpu_backend *c = (struct cpu_backend *)be;
    free_arrays(c);
    size_t n = net->n_neurons ? net->n_neurons : 1;
    c->net = net;
    c->power_q = params->power_q;
    c->mp = calloc(n, sizeof(*c->mp));
    c->countdown = calloc(n, sizeof(*c->countdown));
    c->cfc = calloc(n, sizeof(*c->cfc));
    c->sum = malloc(n * sizeof(*c->sum));
    c->stamp = calloc(n, sizeof(*c->stamp));
    c->cand = malloc(n * sizeof(*c->cand));
    c->prev_cand = malloc(n * sizeof(*c->prev_cand));
    c->fires = malloc(n * sizeof(*c->fires));
    c->prev_fires = malloc(n * sizeof(*c->prev_fires));
    if (!c->mp || !c->countdown || !c->cfc || !c->sum || !c->stamp || !c->cand ||
        !c->prev_cand || !c->fires || !c->prev_fires) {
        free_arrays(c);
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the state of %u neurons",
                           net->n_neurons);
    }
    c->n_cand = c->n_prev_cand = c->n_fires = c->n_prev_fires = 0;
    c->burst = 0;
    c->head = c->in_flight = 0;
    return NPU_OK;
}

static void cpu_destroy(struct npu_backend *be)
{
    struct cpu_backend *c = (struct cpu_backend *)be;
    if (!c)
        return;
    free_arrays(c);
    for (int k = 0; k < NPU_BACKEND_MAX_IN_FLIGHT; k++) {
        free(c->slots[k].off);
        free(c->slots[k].id);
        free(c->slots[k].mp);
    }
    free(c);
}

static int cpu_create(const struct npu_backend_cfg *cfg, struct npu_backend **out,
                      struct npu_err *err)
{
    (void)cfg;
    struct cpu_backend *c = calloc(1, sizeof(*c));
    *out = NULL;
    if (!c)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    c->base.ops = &npu_backend_cpu;
    snprintf(c->base.device, sizeof(c->base.device), "host CPU (reference)");
    *out = &c->base;
    return NPU_OK;
}

const struct npu_backend_ops npu_backend_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .upload = cpu_upload,
    .max_batch = cpu_max_batch,
    .submit = cpu_submit,
    .collect = cpu_collect,
    .read_state = cpu_read_state,
    .read_mp = cpu_read_mp,
    .destroy = cpu_destroy,
};
