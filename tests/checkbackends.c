/* checkbackends: the Vulkan backend against the CPU reference, in the manner
 * of dav1d's checkasm.  Seeded random networks (every neuron parameter,
 * inhibitory synapses, a hub with a fan-in of about n/2: with 255 * 255
 * synapses in the large networks it overflows any 32-bit sum, with light
 * ones it takes the tagged sums near their bound; leaks that decay into and
 * through the subnormals, subnormal thresholds, limits and firing windows
 * only a subnormal mp is in) and random stimuli run through both backends
 * via the npu_backend API, with several batch sizes, with the dense and
 * sparse kernels forced, with the tagged 32-bit sums on and off
 * (NPUSIM_VK_UNITS), with the range stimuli applied by the fill or by the
 * dynamics (NPUSIM_VK_DYN_RANGES), with the binned propagation at several
 * bin sizes and capacities (NPUSIM_VK_BINS, _BIN_SHIFT, _BIN_CAP), with the
 * two-level binning (NPUSIM_VK_BANDS, _BAND_SHIFT, _BAND_CAP, _ROUTE_WG), and with
 * the kernels that emulate a device flushing
 * subnormals (NPUSIM_VK_EMULATE_FTZ); fire queues (ids, mp bits) and the
 * final state must be identical.  A failure prints the seed that replays it.
 *
 *   checkbackends [--seed=N] [--iterations=K] [--bursts=B] [--verbose]
 *
 * Exit: 0 same, 1 different or failed, 77 no Vulkan device (skip). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fixed.h"

#define SKIP 77

struct combo {
    uint32_t batch;    /* 0: the backend's automatic size */
    const char *dense; /* NPUSIM_VK_DENSE */
    const char *ftz;   /* NPUSIM_VK_EMULATE_FTZ: "1" runs the kernels as a device that
                        * flushes subnormals would (lavapipe preserves them) */
    const char *area_cache; /* NPUSIM_VK_AREA_CACHE: "0" makes the dynamics read the area
                             * parameters per neuron (the path for more than 64 areas) */
    const char *groups; /* NPUSIM_VK_FILL_GROUPS, _DYN_GROUPS, _BIN_GROUPS and
                         * _ROUTE_GROUPS: "0" the
                         * default grids; a few workgroups make every grid-stride
                         * loop go round, as on networks far larger than the grid */
    const char *cand; /* NPUSIM_VK_CAND: candidate marks, "stamps" or "bits" */
    const char *units; /* NPUSIM_VK_UNITS: "off" keeps all synaptic input in the int64
                        * FCL; "auto" uses tagged 32-bit sums where the network allows */
    const char *ranges; /* NPUSIM_VK_DYN_RANGES: "0" leaves the range stimuli to the
                         * fill; "" the default (the dynamics apply up to 4 a burst) */
    const char *dyn_groups; /* NPUSIM_VK_DYN_GROUPS where not groups: a few dynamics
                             * workgroups with the fill's default grid, so that each
                             * workgroup runs many passes and takes fire slots many
                             * times (the default grid gives these networks one pass
                             * each, and llvmpipe refuses a small fill grid for most) */
    const char *bins; /* NPUSIM_VK_BINS, NULL for "" (by size: off for these networks) */
    const char *bin_shift; /* NPUSIM_VK_BIN_SHIFT: bins of 2^shift targets; NULL the default */
    const char *bin_cap; /* NPUSIM_VK_BIN_CAP: a bin's events, the rest overflow into
                          * the FCL; NULL the default */
    const char *bands; /* NPUSIM_VK_BANDS: two-level binning; NULL for "" (by the bins'
                        * number: off for these networks) */
    const char *band_shift; /* NPUSIM_VK_BAND_SHIFT: bands of at least 2^shift targets */
    const char *band_cap; /* NPUSIM_VK_BAND_CAP: a band's events, the rest overflow into
                           * the FCL */
    const char *route_wg; /* NPUSIM_VK_ROUTE_WG: the routing kernels' workgroup */
};

static const struct combo combos[] = {
    { 1, "auto", "0", "1", "0", "stamps", "auto", "", NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { 3, "never", "0", "1", "1", "bits", "auto", "0", NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { 3, "always", "0", "0", "0", "stamps", "auto", "", NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { 64, "always", "0", "1", "3", "bits", "auto", "1", NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { 64, "never", "0", "1", "0", "stamps", "off", "", NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { 0, "auto", "0", "1", "0", "bits", "auto", "0", "2",
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { 1, "never", "1", "0", "2", "bits", "auto", "", NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { 64, "always", "1", "1", "0", "stamps", "auto", "2", NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { 0, "auto", "0", "1", "0", "bits", "off", "", NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    { 1, "never", "0", "1", "0", "stamps", "auto", "0", "3",
      NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    /* binned: small bins that the hubs overflow; one-event bins, so that
     * nearly every event overflows, with the dense kernels; 64-target bins
     * on three-workgroup grids, so that each workgroup takes several */
    { 3, "never", "0", "1", "0", "bits", "auto", "", NULL,
      "on", "5", NULL, "off", NULL, NULL, NULL },
    { 1, "always", "0", "1", "0", "stamps", "auto", "0", NULL,
      "on", NULL, "1", "off", NULL, NULL, NULL },
    { 0, "auto", "1", "0", "3", "bits", "auto", "", NULL,
      "on", "6", NULL, "off", NULL, NULL, NULL },
    /* two-level binning: small bins and bands on three-workgroup grids, so
     * that each workgroup routes many rows and batches; one-event bands, so
     * that nearly every event overflows at the first level; two-event bins
     * under 64-thread routing workgroups, with the dense kernels where
     * chosen */
    { 3, "never", "0", "1", "3", "bits", "auto", "", NULL,
      "on", "5", NULL, "on", "7", NULL, NULL },
    { 1, "never", "0", "1", "0", "stamps", "auto", "0", NULL,
      "on", "6", NULL, "on", NULL, "1", NULL },
    { 0, "auto", "1", "0", "0", "bits", "auto", "", NULL,
      "on", "5", "2", "on", "8", NULL, "64" },
};
#define N_COMBOS (sizeof(combos) / sizeof(combos[0]))

static uint64_t rng;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
    return n ? (uint32_t)(rnd() % n) : 0;
}

static float unit(void)
{
    return (float)(rnd() >> 40) * 0x1p-24f;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

struct stimuli {
    uint32_t bursts;
    uint32_t *off; /* [bursts + 1] */
    uint32_t *id;
    int64_t *q;
    size_t n, cap;
    uint32_t *range_off; /* [bursts + 1] */
    struct npu_inject_range *ranges;
    size_t n_ranges, cap_ranges;
};

struct result {
    uint32_t *off;  /* [bursts + 1] */
    uint32_t *id;
    uint32_t *mp;   /* bits */
    size_t n, cap;
    struct npu_state st;
};

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "checkbackends: out of memory\n");
        exit(1);
    }
    return p;
}

struct syn {
    uint32_t target;
    uint16_t wp;
    uint32_t order;
};

static int cmp_syn(const void *a, const void *b)
{
    const struct syn *x = a, *y = b;
    uint32_t tx = x->target & NPU_SYN_TARGET_MASK, ty = y->target & NPU_SYN_TARGET_MASK;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

static struct npu_net *random_net(bool huge)
{
    struct npu_net *net = calloc(1, sizeof(*net));
    net->n_areas = huge ? 3 + below(2) : 1 + below(6);
    net->areas = calloc(net->n_areas, sizeof(*net->areas));
    /* One network in six is large (up to ~30k neurons): many blocks of the
     * ordered compaction (NPU_FIRE_BLOCK neurons each) and of its prefix
     * sum.  A huge one (the caller's choice) has 138k to 256k neurons: more
     * blocks than the setup has threads (NPU_WG), so each thread sums
     * several, and still small enough for a batch of 64 on lavapipe. */
    uint32_t scale = below(6) == 0 ? 8 : 1;
    /* Half the networks have light synapses, so that their synaptic input
     * fits tagged 32-bit sums (npu_fx_units_tag_shift), some of them close
     * to the bound; the others overflow any 32-bit sum at the hub. */
    uint32_t wmax = below(2) ? 256 : 4;
    uint32_t n = 0;
    for (uint32_t a = 0; a < net->n_areas; a++) {
        struct npu_area *ar = &net->areas[a];
        snprintf(ar->name, sizeof(ar->name), "area%u", a);
        ar->dim[0] = huge ? 256 + below(64) : 1 + below(12 * scale);
        ar->dim[1] = huge ? 180 + below(20) : 1 + below(6 * scale);
        ar->dim[2] = huge ? 1 : 1 + below(3);
        ar->count = ar->dim[0] * ar->dim[1] * ar->dim[2];
        ar->base = n;
        n += ar->count;
        /* Subnormal thresholds and limits: a device that flushes compares a
         * subnormal mp (or threshold) as 0, so these fire differently there
         * unless the comparisons are exact. */
        const float thresholds[] = { 1.0f, 2.5f, 0.5f, 0x1p-140f, 0.0f, -0x1p-140f, 0x1p-149f,
                                     0x1p-126f, 0x1.fffffcp-127f, -0.0f };
        ar->threshold = below(3) ? thresholds[below(10)] : 0.05f + 8.0f * unit();
        ar->has_limit = below(3) == 0;
        ar->threshold_limit = ar->threshold + 5.0f * unit();
        if (below(3) == 0) {
            /* a firing window that only a subnormal or zero mp is in */
            const float limits[] = { 0x1p-128f, 0x1p-135f, 0x1p-149f, 0.0f, 0x1.fffffcp-127f };
            ar->threshold = ar->threshold < 0.0f || below(2) ? -0x1p-140f : 0x1p-145f;
            ar->has_limit = true;
            ar->threshold_limit = limits[below(5)];
        }
        bool window = ar->has_limit && fabsf(ar->threshold_limit) < 0x1p-126f;
        /* keep = 1 - leak: 0 (signed zeros), 2^-24 and ~1e-6 (fast decay into
         * and through the subnormals), 0.1 and 0.5 (slow decay, rounding at
         * subnormal precision for many bursts). */
        const float leaks[] = { 0.0f, 0.1f, 0.5f, 0.999999f, 0.9999999f, 1.0f, 0.99999994f,
                                0.9f, 0.99f };
        ar->leak = below(3) ? leaks[below(9)] : unit();
        if (window && below(4)) { /* decays into the window, charge kept */
            const float wleaks[] = { 0.999999f, 0.9f, 0.99999994f, 0.5f, 0.99f };
            ar->leak = wleaks[below(5)];
        }
        ar->keep = 1.0f - ar->leak;
        const float exc[] = { 1.0f, 0.0f, 0.999f, 0.3f, 0.998f, 0x1p-140f };
        ar->excitability = below(2) ? exc[below(6)] : unit();
        ar->refractory = (uint16_t)(below(2) ? 0 : below(4));
        const uint16_t cfls[] = { 0, 1, 2, 3, 65535 };
        ar->cfl = cfls[below(5)];
        ar->snooze = (uint16_t)(below(2) ? 0 : below(4));
        ar->accumulate = window ? below(4) != 0 : below(2);
        ar->power = below(4) == 0;
        ar->mp_driven_psp = below(4) == 0;
        ar->psp_uniform = below(3) != 0;
    }
    net->n_neurons = n;
    /* A third of the areas give all their synapses one weight and psp, so
     * that the backends' constant-weight paths (npu_net_area_wp) run; in a
     * quarter of the networks every area does, so that the Vulkan backend
     * uploads no per-synapse weights at all. */
    uint16_t *area_wp = calloc(net->n_areas, sizeof(*area_wp));
    bool all_const = below(4) == 0;
    for (uint32_t a = 0; a < net->n_areas; a++)
        if (all_const || below(3) == 0)
            area_wp[a] = (uint16_t)(1 + below(wmax - 1) + (below(wmax) << 8)); /* weight != 0 */
    uint32_t hub = below(n);
    /* In half the networks up to four broadcasters, sources with 129 to 700
     * synapses: rows longer than one pass of the kernels' lanes (4 x 32
     * synapses), which the other rows (at most 13) never are. */
    uint32_t broadcaster[4] = { n, n, n, n };
    if (below(2))
        for (uint32_t b = 0, nb = 1 + below(4); b < nb; b++)
            broadcaster[b] = below(n);
    uint32_t src_area = 0;
    struct syn **per = calloc(n, sizeof(*per));
    uint32_t *deg = calloc(n, sizeof(*deg));
    uint64_t total = 0;
    for (uint32_t s = 0; s < n; s++) {
        while (s >= net->areas[src_area].base + net->areas[src_area].count)
            src_area++;
        uint16_t cw = area_wp[src_area];
        uint32_t d = below(3) ? below(12) : 0;
        for (uint32_t b = 0; b < 4; b++)
            if (s == broadcaster[b])
                d = 129 + below(572);
        bool to_hub = below(2) == 0;
        per[s] = calloc(d + 1, sizeof(struct syn));
        for (uint32_t k = 0; k < d; k++) {
            uint32_t w = below(4) ? below(wmax) : wmax - 1, p = below(4) ? below(wmax) : wmax - 1;
            per[s][k] = (struct syn){ .target = below(n) | (below(4) ? 0 : NPU_SYN_INHIBITORY),
                                      .wp = cw ? cw : (uint16_t)(w | p << 8), .order = k };
        }
        if (to_hub) /* fan-in of ~n/2 of the strongest synapses */
            per[s][d++] = (struct syn){ .target = hub | (below(8) ? 0 : NPU_SYN_INHIBITORY),
                                        .wp = cw ? cw : (uint16_t)((wmax - 1) | (wmax - 1) << 8),
                                        .order = d };
        qsort(per[s], d, sizeof(struct syn), cmp_syn);
        deg[s] = d;
        total += d;
    }
    net->n_synapses = total;
    struct npu_err err;
    if (npu_net_alloc_arrays(net, &err)) {
        fprintf(stderr, "checkbackends: %s\n", err.msg);
        exit(1);
    }
    uint32_t k = 0;
    for (uint32_t a = 0; a < net->n_areas; a++)
        for (uint32_t i = 0; i < net->areas[a].count; i++)
            net->area_of[net->areas[a].base + i] = (uint16_t)a;
    for (uint32_t s = 0; s < n; s++) {
        net->syn_off[s] = k;
        for (uint32_t j = 0; j < deg[s]; j++, k++) {
            net->syn_target[k] = per[s][j].target;
            net->syn_wp[k] = per[s][j].wp;
        }
        free(per[s]);
    }
    net->syn_off[n] = k;
    free(per);
    free(deg);
    free(area_wp);
    return net;
}

static void stim_add(struct stimuli *st, uint32_t id, int64_t q)
{
    if (st->n == st->cap) {
        st->cap = st->cap ? 2 * st->cap : 256;
        st->id = xrealloc(st->id, st->cap * sizeof(*st->id));
        st->q = xrealloc(st->q, st->cap * sizeof(*st->q));
    }
    st->id[st->n] = id;
    st->q[st->n++] = q;
}

static int64_t random_q(void)
{
    switch (below(6)) {
    case 0: return (int64_t)below(8) * NPU_Q_ONE;
    case 1: return 1;
    case 2: return -(int64_t)below(3 * NPU_Q_ONE);
    case 3: return (int64_t)1000000 * NPU_Q_ONE;
    default: return npu_fx_from_double(6.0 * (double)unit() - 1.0);
    }
}

static void range_add(struct stimuli *st, const struct npu_inject_range *r)
{
    if (st->n_ranges == st->cap_ranges) {
        st->cap_ranges = st->cap_ranges ? 2 * st->cap_ranges : 64;
        st->ranges = xrealloc(st->ranges, st->cap_ranges * sizeof(*st->ranges));
    }
    st->ranges[st->n_ranges++] = *r;
}

/* Range stimuli (whole areas, `random P`): whole areas and arbitrary
 * sub-ranges, overlapping each other and the explicit entries, with `all`
 * and pick thresholds from 0 (picks nothing) through tiny, half and
 * nearly-all to UINT32_MAX. */
static void random_ranges(struct stimuli *st, const struct npu_net *net, uint32_t b)
{
    uint32_t n = net->n_neurons, k = below(3) ? below(4) : 0;
    for (uint32_t g = 0; g < k; g++) {
        struct npu_inject_range r = { .key = (uint32_t)rnd(), .q = random_q() };
        if (below(2)) {
            const struct npu_area *ar = &net->areas[below(net->n_areas)];
            r.first = ar->base;
            r.count = ar->count;
        } else {
            r.first = below(n);
            r.count = below(n - r.first + 1); /* 0 .. up to the end */
        }
        const uint32_t thresholds[] = { 0, 1, 0x01000000u, 0x80000000u, 0xfff00000u,
                                        UINT32_MAX };
        if (below(3) == 0)
            r.all = 1;
        else
            r.threshold = below(2) ? thresholds[below(6)] : (uint32_t)rnd();
        r.key ^= b;
        range_add(st, &r);
    }
}

static void random_stimuli(struct stimuli *st, const struct npu_net *net, uint32_t bursts)
{
    uint32_t n = net->n_neurons;
    memset(st, 0, sizeof(*st));
    st->bursts = bursts;
    st->off = calloc(bursts + 1, sizeof(*st->off));
    st->range_off = calloc(bursts + 1, sizeof(*st->range_off));
    /* A few neurons get +1 and -1 every burst: candidates with a zero sum, so
     * their mp only leaks, down into the subnormals where keep is tiny. */
    /* Half of them, where there are any, in an area whose firing window only
     * a subnormal or zero mp is in. */
    uint32_t decay[16], windows[8], nw = 0;
    for (uint32_t a = 0; a < net->n_areas && nw < 8; a++)
        if (net->areas[a].has_limit && fabsf(net->areas[a].threshold_limit) < 0x1p-126f)
            windows[nw++] = a;
    for (int i = 0; i < 16; i++) {
        const struct npu_area *w = nw && (i & 2) ? &net->areas[windows[below(nw)]] : NULL;
        decay[i] = w ? w->base + below(w->count) : below(n);
    }
    for (uint32_t b = 0; b < bursts; b++) {
        st->off[b] = (uint32_t)st->n;
        st->range_off[b] = (uint32_t)st->n_ranges;
        random_ranges(st, net, b + 1);
        uint32_t count = below(4) ? below(n / 3 + 2) : 0;
        if (below(8) == 0)
            count = n; /* a burst where most neurons are candidates */
        for (uint32_t k = 0; k < count; k++)
            stim_add(st, below(n), random_q());
        for (int i = 0; i < 16; i++) {
            /* charge them up (half of them negative), some now and then, the
             * others only at the start so slow leaks reach the subnormals too */
            if (b < 2 || (i < 4 && b % 9 == 0))
                stim_add(st, decay[i], (i & 1) ? -NPU_Q_ONE / 3 : NPU_Q_ONE / 3);
            stim_add(st, decay[i], 1);
            stim_add(st, decay[i], -1);
            if (i >= 12 && below(2))
                stim_add(st, decay[i], 0); /* a zero-sum candidate by one stimulus */
        }
    }
    st->off[bursts] = (uint32_t)st->n;
    st->range_off[bursts] = (uint32_t)st->n_ranges;
}

static void result_free(struct result *r)
{
    free(r->off);
    free(r->id);
    free(r->mp);
    npu_state_free(&r->st);
    memset(r, 0, sizeof(*r));
}

static int run_all(struct npu_backend *be, const struct npu_net *net, const struct stimuli *st,
                   struct result *res, struct npu_err *err)
{
    memset(res, 0, sizeof(*res));
    res->off = calloc(st->bursts + 1, sizeof(*res->off));
    uint32_t batch = be->ops->max_batch(be);
    uint32_t next = 1, done = 0;
    unsigned in_flight = 0;
    int rc = NPU_OK;
    while (done < st->bursts) {
        while (in_flight < NPU_BACKEND_MAX_IN_FLIGHT && next <= st->bursts) {
            uint32_t count = st->bursts - next + 1 < batch ? st->bursts - next + 1 : batch;
            const struct npu_inject in = {
                .first_burst = next, .count = count, .off = st->off + (next - 1),
                .id = st->id, .q = st->q, .range_off = st->range_off + (next - 1),
                .ranges = st->ranges,
            };
            rc = be->ops->submit(be, &in, err);
            if (rc) {
                /* collect what is in flight, so the backend can be used again */
                struct npu_err drain;
                struct npu_fires f;
                while (in_flight-- > 0)
                    (void)be->ops->collect(be, &f, &drain);
                return rc;
            }
            in_flight++;
            next += count;
        }
        struct npu_fires f;
        rc = be->ops->collect(be, &f, err);
        if (rc)
            return rc;
        in_flight--;
        if (f.first_burst != done + 1)
            return npu_err_set(err, NPU_E_INTERNAL, "collected burst %u, expected %u",
                               f.first_burst, done + 1);
        for (uint32_t j = 0; j < f.count; j++) {
            /* A backend that counts the events itself must count the
             * out-degrees of exactly the fires it returns. */
            uint64_t ev = 0;
            for (uint32_t k = f.off[j]; k < f.off[j + 1]; k++)
                ev += npu_net_outdeg(net, f.id[k]);
            if (f.events && f.events[j] != ev)
                return npu_err_set(err, NPU_E_INTERNAL, "burst %u: the backend counted %llu "
                                   "synaptic events, its fires have %llu", f.first_burst + j,
                                   (unsigned long long)f.events[j], (unsigned long long)ev);
            res->off[done + j] = (uint32_t)res->n;
            for (uint32_t k = f.off[j]; k < f.off[j + 1]; k++) {
                if (res->n == res->cap) {
                    res->cap = res->cap ? 2 * res->cap : 1024;
                    res->id = xrealloc(res->id, res->cap * sizeof(*res->id));
                    res->mp = xrealloc(res->mp, res->cap * sizeof(*res->mp));
                }
                res->id[res->n] = f.id[k];
                res->mp[res->n++] = fbits(f.mp[k]);
            }
        }
        done += f.count;
        res->off[done] = (uint32_t)res->n;
    }
    return be->ops->read_state(be, &res->st, err);
}

/* Returns true when equal; otherwise prints where they first differ. */
static bool compare(const struct result *a, const struct result *b, uint32_t bursts,
                    const char *what)
{
    for (uint32_t j = 0; j < bursts; j++) {
        uint32_t ka = a->off[j], ea = a->off[j + 1], kb = b->off[j], eb = b->off[j + 1];
        while (ka < ea || kb < eb) {
            if (ka < ea && kb < eb && a->id[ka] == b->id[kb] && a->mp[ka] == b->mp[kb]) {
                ka++;
                kb++;
                continue;
            }
            uint32_t ia = ka < ea ? a->id[ka] : UINT32_MAX, ib = kb < eb ? b->id[kb] : UINT32_MAX;
            uint32_t id = ia < ib ? ia : ib;
            printf("  %s: burst %u: first difference at neuron %u: cpu %s", what, j + 1, id,
                   ia == id ? "fires" : "does not fire");
            if (ia == id)
                printf(" (mp %08x)", a->mp[ka]);
            printf(", vulkan %s", ib == id ? "fires" : "does not fire");
            if (ib == id)
                printf(" (mp %08x)", b->mp[kb]);
            printf("\n");
            return false;
        }
    }
    for (uint32_t i = 0; i < a->st.n; i++) {
        if (fbits(a->st.mp[i]) != fbits(b->st.mp[i]) || a->st.countdown[i] != b->st.countdown[i] ||
            a->st.cfc[i] != b->st.cfc[i]) {
            printf("  %s: final state differs first at neuron %u: cpu mp %a countdown %u cfc %u, "
                   "vulkan mp %a countdown %u cfc %u\n", what, i, (double)a->st.mp[i],
                   a->st.countdown[i], a->st.cfc[i], (double)b->st.mp[i], b->st.countdown[i],
                   b->st.cfc[i]);
            return false;
        }
    }
    return true;
}

static bool opt_u64(const char *arg, const char *name, uint64_t *v)
{
    size_t len = strlen(name);
    if (strncmp(arg, name, len) != 0 || arg[len] != '=')
        return false;
    *v = strtoull(arg + len + 1, NULL, 0);
    return true;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1, iterations = 6, bursts = 60;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (opt_u64(argv[i], "--seed", &seed) || opt_u64(argv[i], "--iterations", &iterations) ||
            opt_u64(argv[i], "--bursts", &bursts))
            continue;
        if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
            continue;
        }
        fprintf(stderr, "usage: checkbackends [--seed=N] [--iterations=K] [--bursts=B] "
                        "[--verbose]\n");
        return 2;
    }
    if (bursts < 1 || bursts > 100000)
        bursts = 60;

    struct npu_backend *vk[N_COMBOS] = { 0 };
    struct npu_err err = { 0 };
    for (size_t c = 0; c < N_COMBOS; c++) {
        struct npu_backend_cfg cfg = { .device_index = NPU_DEVICE_ANY, .validation = !getenv("NPUSIM_NO_VALIDATION"),
                                       .batch = combos[c].batch };
        setenv("NPUSIM_VK_DENSE", combos[c].dense, 1);
        setenv("NPUSIM_VK_EMULATE_FTZ", combos[c].ftz, 1);
        setenv("NPUSIM_VK_AREA_CACHE", combos[c].area_cache, 1);
        setenv("NPUSIM_VK_FILL_GROUPS", combos[c].groups, 1);
        setenv("NPUSIM_VK_BIN_GROUPS", combos[c].groups, 1);
        setenv("NPUSIM_VK_DYN_GROUPS", combos[c].dyn_groups ? combos[c].dyn_groups
                                                           : combos[c].groups, 1);
        setenv("NPUSIM_VK_CAND", combos[c].cand, 1);
        setenv("NPUSIM_VK_UNITS", combos[c].units, 1);
        setenv("NPUSIM_VK_DYN_RANGES", combos[c].ranges, 1);
        setenv("NPUSIM_VK_BINS", combos[c].bins ? combos[c].bins : "", 1);
        setenv("NPUSIM_VK_BIN_SHIFT", combos[c].bin_shift ? combos[c].bin_shift : "", 1);
        setenv("NPUSIM_VK_BIN_CAP", combos[c].bin_cap ? combos[c].bin_cap : "", 1);
        setenv("NPUSIM_VK_BANDS", combos[c].bands ? combos[c].bands : "", 1);
        setenv("NPUSIM_VK_BAND_SHIFT", combos[c].band_shift ? combos[c].band_shift : "", 1);
        setenv("NPUSIM_VK_BAND_CAP", combos[c].band_cap ? combos[c].band_cap : "", 1);
        setenv("NPUSIM_VK_ROUTE_WG", combos[c].route_wg ? combos[c].route_wg : "", 1);
        setenv("NPUSIM_VK_ROUTE_GROUPS", combos[c].groups, 1);
        int rc = npu_backend_vulkan.create(&cfg, &vk[c], &err);
        if (rc == NPU_E_BACKEND) {
            printf("SKIP: %s\n", err.msg);
            return SKIP;
        }
        if (rc) {
            fprintf(stderr, "FAIL: vulkan create: %s\n", err.msg);
            return 1;
        }
    }
    printf("checkbackends: cpu vs vulkan on %s, seed %" PRIu64 ", %" PRIu64 " iterations of %"
           PRIu64 " bursts\n", vk[0]->device, seed, iterations, bursts);

    int status = 0;
    uint64_t fires = 0, subnormals = 0, subnormal_fires = 0, tagged = 0, skipped = 0;
    for (uint64_t it = 0; it < iterations && !status; it++) {
        uint64_t s = seed + it;
        rng = s;
        /* Every 16th seed's network is huge (138k neurons or more): more
         * than NPU_WG fire blocks, so the setup's prefix sum runs over
         * several blocks per thread, as on large networks.  By seed, so
         * that the replay line reproduces it. */
        bool huge = s % 16 == 3;
        struct npu_net *net = random_net(huge);
        struct stimuli st;
        /* fewer bursts for a huge one: it is there for its size */
        random_stimuli(&st, net, huge && bursts > 20 ? 20 : (uint32_t)bursts);
        const int64_t powers[] = { 0, NPU_Q_ONE, NPU_Q_ONE * 3 / 10, -NPU_Q_ONE };
        struct npu_run_params params = { .power_q = powers[below(4)] };
        struct npu_units_bound ub;
        if (npu_net_units_bound(net, &ub, &err)) {
            fprintf(stderr, "FAIL: %s\n", err.msg);
            return 1;
        }
        uint32_t units_k = npu_fx_units_tag_shift(&ub);
        tagged += units_k != 0;

        struct npu_backend *cpu = NULL;
        struct result ref;
        int rc = npu_backend_open(&npu_backend_cpu, &(struct npu_backend_cfg){ .batch = 0 }, net,
                                  &params, &cpu, &err);
        if (!rc)
            rc = run_all(cpu, net, &st, &ref, &err);
        npu_backend_destroy(cpu);
        if (rc) {
            printf("FAIL seed %" PRIu64 ": cpu: %s\n", s, err.msg);
            status = 1;
        }
        fires += ref.n;
        for (size_t k = 0; k < ref.n; k++)
            if ((ref.mp[k] & 0x7f800000u) == 0 && (ref.mp[k] & 0x7fffffu) != 0)
                subnormal_fires++;
        for (uint32_t i = 0; i < ref.st.n; i++)
            if (ref.st.mp[i] != 0.0f && fabsf(ref.st.mp[i]) < 0x1p-126f)
                subnormals++;
        if (verbose)
            printf("seed %" PRIu64 ": %u areas, %u neurons, %" PRIu64 " synapses, %zu stimuli, "
                   "%zu ranges, %zu fires, units shift %u (fan-in %u, units %u)\n", s,
                   net->n_areas, net->n_neurons, net->n_synapses, st.n, st.n_ranges, ref.n,
                   units_k, ub.max_fanin, ub.max_units);
        size_t net_skipped = 0;
        for (size_t c = 0; c < N_COMBOS && !status; c++) {
            char what[200];
            snprintf(what, sizeof(what), "vulkan batch=%u%s dense=%s %s units=%s%s%s%s%s%s%s%s%s%s%s%s%s%s",
                     combos[c].batch, combos[c].batch ? "" : " (auto)", combos[c].dense,
                     combos[c].cand, combos[c].units,
                     *combos[c].ranges ? " dyn ranges=" : "", combos[c].ranges,
                     strcmp(combos[c].ftz, "1") == 0 ? " flushing emulated" : "",
                     strcmp(combos[c].area_cache, "0") == 0 ? " no area cache" : "",
                     strcmp(combos[c].groups, "0") == 0 ? "" : " groups=",
                     strcmp(combos[c].groups, "0") == 0 ? "" : combos[c].groups,
                     combos[c].dyn_groups ? " dyn groups=" : "",
                     combos[c].dyn_groups ? combos[c].dyn_groups : "",
                     combos[c].bins ? " bins" : "",
                     combos[c].bin_shift ? " shift=" : "",
                     combos[c].bin_shift ? combos[c].bin_shift : "",
                     combos[c].bin_cap ? " cap=" : "", combos[c].bin_cap ? combos[c].bin_cap : "");
            const struct { const char *name, *v; } two_level[] = {
                { "bands", combos[c].bands }, { "band shift", combos[c].band_shift },
                { "band cap", combos[c].band_cap }, { "route wg", combos[c].route_wg },
            };
            for (size_t k = 0; k < sizeof(two_level) / sizeof(two_level[0]); k++)
                if (two_level[k].v)
                    snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s=%s",
                             two_level[k].name, two_level[k].v);
            struct result got = { 0 };   /* freed even when the upload fails */
            rc = vk[c]->ops->upload(vk[c], net, &params, &err);
            if (rc == NPU_E_RESOURCE) {
                /* too big for this device in this combination: a fixed
                 * batch whose readback it cannot hold (lavapipe allows 128
                 * MiB per buffer), or a grid of a few workgroups whose
                 * loops lavapipe would cut short; refusing is right */
                if (verbose)
                    printf("  %s: skipped for this network: %s\n", what, err.msg);
                skipped++;
                net_skipped++;
                continue;
            }
            if (!rc)
                rc = run_all(vk[c], net, &st, &got, &err);
            if (rc == NPU_E_RESOURCE) {   /* the same, found at a batch's submit */
                if (verbose)
                    printf("  %s: skipped for this network: %s\n", what, err.msg);
                skipped++;
                net_skipped++;
                result_free(&got);
                continue;
            }
            if (rc) {
                printf("FAIL seed %" PRIu64 " (replay: --seed=%" PRIu64 " --iterations=1) %s: %s\n",
                       s, s, what, err.msg);
                status = 1;
            } else if (!compare(&ref, &got, st.bursts, what)) {
                printf("FAIL seed %" PRIu64 " (replay: --seed=%" PRIu64 " --iterations=1): "
                       "%s differs from cpu\n", s, s, what);
                status = 1;
            }
            result_free(&got);
        }
        if (!status && net_skipped == N_COMBOS) {
            printf("FAIL seed %" PRIu64 ": the device refused every combination\n", s);
            status = 1;
        }
        result_free(&ref);
        free(st.off);
        free(st.id);
        free(st.q);
        free(st.range_off);
        free(st.ranges);
        npu_net_free(net);
    }
    for (size_t c = 0; c < N_COMBOS; c++)
        npu_backend_destroy(vk[c]);
    /* Both ways of summing must have been compared, or this run proved
     * nothing about one of them. */
    if (!status && iterations >= 20 && (tagged == 0 || tagged == iterations)) {
        printf("FAIL: %" PRIu64 " of %" PRIu64 " networks fit tagged 32-bit sums; the "
               "generator must make both kinds\n", tagged, iterations);
        status = 1;
    }
    if (!status)
        printf("ok: identical fire queues and state (%" PRIu64 " fires compared per backend, "
               "%" PRIu64 " of them at a subnormal mp, %" PRIu64 " subnormal mp in the final "
               "states; %" PRIu64 " of %" PRIu64 " networks in tagged 32-bit sums; %" PRIu64
               " runs skipped where the device refused the combination as too big)\n", fires,
               subnormal_fires, subnormals, tagged, iterations, skipped);
    return status;
}
