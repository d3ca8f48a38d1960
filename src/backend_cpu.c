/* The CPU reference backend: SEMANTICS.md written out, one burst at a time.
 *
 * Cost follows the work of a burst, not the size of the network:
 *
 * - The FCL is a dense array of int64 sums that is all zero between bursts
 *   (the dynamics step reads each candidate's sum and clears it), plus a
 *   bitmap with one bit per neuron that says "candidate this burst" (a sum
 *   of 0 can still be a candidate).  Adding a synaptic contribution is one
 *   add into the sum array and one OR into a bitmap that stays in L2; no
 *   separate stamp array, so one cache miss per synaptic event, not two.
 * - Uniform synaptic contributions are +-weight * psp_used * 65536, so where
 *   the network proves it cannot overflow (npu_fx_units_fit_int32: the
 *   largest fan-in of such synapses times the largest weight * psp_used is
 *   at most INT32_MAX) they are summed in a second,
 *   int32 array in units of 65536 (`units`): half
 *   the bytes of the sums that propagation touches at random.  Step 6 adds
 *   units * 65536 to the int64 sum (stimuli and divided contributions) mod
 *   2^64, which is exactly the int64 sum of everything.
 * - Where the tighter bound of npu_fx_units_tag_shift holds too (the usual
 *   case), the units are tagged as on the GPU: each event adds 2^k + c, so
 *   the word is non-zero exactly when the neuron was touched and its low k
 *   bits, signed, are the sum.  Propagation then sets no candidate bit;
 *   step 6 ORs each word's non-zero lanes into the bitmap (the next
 *   burst's reset needs the whole set).
 * - Where every uniform contribution is excitatory and at least 1 and the
 *   largest sum fits 16 bits (npu_fx_units_fit_u16, e.g. the benchmarks'
 *   weight 1, psp 1 networks), the units are uint16 instead: a touched
 *   word cannot be 0, so no tag is needed, and the random adds touch half
 *   the bytes again (at 1M neurons a thread's 1 MB instead of 2 MB stays
 *   in its L2).
 * - Step 6 walks the candidate bitmap in id order, so the fire queue comes
 *   out already ordered by id (step 7 needs no sort), and mp, countdown and
 *   cfc are read in ascending order instead of at random.
 * - Step 1's reset touches only the previous burst's candidates (the only
 *   neurons whose mp can be non-zero while they do not accumulate); it is
 *   done in the same walk, word by word, just before the candidates of that
 *   word are updated.  Nothing between step 1 and step 6 reads mp, so this
 *   is the same as resetting first.  A bitmap of the neurons that do not
 *   accumulate masks each word, so where every area accumulates (the
 *   default) the reset costs nothing.
 *
 * Threads split the neurons into ranges of whole bitmap words.  Each thread
 * owns the FCL sums, bitmap words and state of its range: it adds only the
 * stimuli and synapses that target its range (rows are sorted by target, so
 * its part of a row is one slice) and runs step 6 on its candidates.  No
 * location is written by two threads, the sums are exact integers, and the
 * per-thread fire queues concatenated in range order are ordered by id, so
 * every thread count gives the same bits.  One thread is the plain
 * transcription: its range is the whole network.  Threads sync once per
 * burst (after step 6), then the caller's thread copies the fires out.
 *
 * Where step 5 adds only into small 16-bit or tagged units
 * (split_sources), the threads split the fired sources instead: each
 * claims chunks of all the fires and propagates whole rows into its own
 * copy of the units, and after a second barrier each adds the copies for
 * its range (fold_units).  Whole integer sums again, so the same bits. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "firebuf.h"
#include "fixed.h"

#define WORD_BITS 64
#define MAX_THREADS 16
/* From this many candidates in a bitmap word, step 6 takes the word's 64
 * neurons at once (dynamics_word) instead of visiting the candidates one by
 * one, where dynamics_word has a vector version for the CPU.
 * NPUSIM_CPU_DENSE=always|never forces one way, so the engine tests can
 * hold both to every rule. */
#define DENSE_MIN_DEFAULT 8
#define DENSE_NEVER (WORD_BITS + 1)
/* Below this many neurons per thread a burst is a few microseconds of work
 * and waking a second thread costs more than it saves. */
#define MIN_NEURONS_PER_THREAD 32768
/* The same where the threads split the sources (split_sources): two
 * threads lost at 1000 and 2000 neurons, were about even at 5000 and won
 * at 10k (30 against 43 us). */
#define MIN_NEURONS_PER_SPLIT_THREAD 4096
/* Rounds a barrier waiter polls before it sleeps on the condition variable. */
#define BARRIER_SPINS 20000
/* Propagation prefetches FCL sums only when they outgrow this (a core's
 * L2 on current x86): below it the prefetches are instructions for nothing. */
#define PREFETCH_SUMS_BYTES (1u << 20)
/* How far ahead propagation prefetches the FCL sum of a target. */
#define PREFETCH_AHEAD 8
/* area_wp of an area whose synapses do not all have one weight and psp. */
#define NO_CONST_WP UINT32_MAX
/* Up to this many neurons a random stimulus's picks hash each neuron
 * once, not twice (pick_pre, 1 MB at most): 10k and 100k bursts about 5%
 * faster.  At 1M the 4 MB table gave no clear gain (5 of 8 pairs), so
 * larger networks hash twice rather than hold 4 more bytes a neuron. */
#define PICK_PRE_MAX_NEURONS (1u << 18)
/* The largest units (16-bit or tagged) for which the workers split the
 * sources (split_sources): each adds into its own copy of all of them. */
#define SPLIT_SOURCES_MAX_BYTES (256u << 10)
/* The fewest fires a worker claims at a time with split_sources. */
#define SPLIT_CHUNK 32
/* How many fired sources ahead propagation prefetches a row. */
#define ROW_PREFETCH_AHEAD 4
#define CACHE_LINE 64
#define HUGE_PAGE (2u << 20)

/* One batch's fire queues, as collect() hands them out. */
struct slot {
    bool full;
    uint32_t first_burst, count;
    struct npu_firebuf buf;
    size_t n;             /* fires so far */
};

/* A fire queue: ids ascending, mp at firing. */
struct fireq {
    uint32_t *id;
    float *mp;
    uint32_t n;
};

struct cpu_backend;

/* Step 6 for one bitmap word (dynamics_word_body); returns its fires as a
 * mask (bit k: neuron i0 + k fired, with potential fire_mp[k]). */
typedef uint64_t dynamics_word_fn(struct cpu_backend *c, const struct npu_area *a, uint32_t i0,
                                  uint64_t bits, bool live, uint32_t b, float *fire_mp);

/* The touched lanes of a word of tagged or 16-bit units: bit k set where
 * the units of neuron i0 + k are not 0. */
typedef uint64_t nonzero_lanes_fn(const struct cpu_backend *c, uint32_t i0);

/* A random stimulus's picks of [first, first + n) as 64-bit masks
 * (pick_masks_c). */
typedef void pick_masks_fn(uint32_t key, uint32_t threshold, uint32_t first, uint32_t n,
                           const uint32_t *pick_pre, uint64_t *masks);

/* A zeroed array, on huge pages when large (see alloc_zeroed). */
struct zeroed {
    void *p;
    size_t bytes;
    bool mapped;                   /* from mmap, not calloc */
};

/* One thread's share: neurons [lo, hi), bitmap words [lo/64, hi/64).  On
 * cache lines of its own: the others read its fire queue header while it
 * writes its own fields. */
struct worker {
    _Alignas(CACHE_LINE) struct cpu_backend *c;
    uint32_t index;
    uint32_t lo, hi;
    uint16_t *units16;    /* the units this worker adds into: c->units16 and c->units, */
    int32_t *units;       /* or with split_sources its own copy of the one in use */
    struct fireq q[2];    /* fires of the even and odd bursts */
    pthread_t thread;
    bool started;
};

/* A reusable barrier that polls a little before it sleeps: a burst takes
 * microseconds to milliseconds, so a waiter usually does not need to sleep. */
struct barrier {
    _Alignas(CACHE_LINE) pthread_mutex_t m;
    pthread_cond_t cv;
    uint32_t n, waiting;
    atomic_uint gen;
};

/* The sensory input of the batch being run, for the workers. */
struct batch_job {
    const struct npu_inject *in;
    struct slot *slot;
    bool quit;
};

struct cpu_backend {
    struct npu_backend base;       /* first: the common part */
    const struct npu_net *net;
    int64_t power_q;
    uint32_t want_threads;         /* from the cfg; 0 = online CPUs */
    uint32_t dense_min;            /* candidates per word from which step 6 goes dense */
    bool prefetch_sums;            /* the sums do not fit in a core's cache */

    float *mp;
    uint16_t *countdown;
    uint16_t *cfc;

    struct zeroed sum_mem, units_mem;
    uint64_t *sum;                 /* FCL sums, zero outside a burst */
    int32_t *units;                /* uniform synaptic sums in units of 65536 (see the top),
                                    * zero outside a burst; all zero when !narrow */
    uint8_t *sum_live;             /* per bitmap word: 1 when its sums may be non-zero (with
                                    * narrow, the sums hold only stimuli and divided
                                    * contributions, so most words' are all zero) */
    uint16_t *units16;             /* with u16: the units in 16 bits, zero outside a burst */
    bool split_sources;            /* with u16 or tagged units: the workers split the fired
                                    * sources, not the targets (see split_sources()) */
    struct zeroed more_mem;        /* with split_sources: the copies of the units that
                                    * workers 1, 2, ... add into */
    int split_mode;                /* NPUSIM_CPU_SPLIT: 0 auto, 1 targets, 2 sources */
    bool narrow;                   /* uniform contributions go to units, not sum */
    uint32_t u16_room;             /* with u16: 65535 - the synapses' bound, the units a burst's
                                    * range stimuli may add (ranges_fit_units) */
    bool u16;                      /* with narrow: the units are units16, for a network whose
                                    * uniform contributions are all positive and small
                                    * (npu_fx_units_fit_u16): half the bytes of int32 units
                                    * for the random adds, and a word that is not zero says
                                    * "touched", so no candidate bit is set */
    uint32_t units_k;              /* with narrow: 0, or the tag shift of tagged units (each
                                    * event adds 2^k + c, npu_fx_units_tag_shift), which say
                                    * "touched" themselves, so no candidate bit is set */
    uint32_t units_mask, units_sign;   /* a units word's value: ((u & mask) ^ sign) - sign */
    int units_mode;                /* NPUSIM_CPU_UNITS: 0 auto, 1 off (int64 only), 2 int32
                                    * (never tagged), 3 tagged (int32, never 16 bits), for
                                    * the tests */
    dynamics_word_fn *dynamics_word;   /* dynamics_word_c or a vector version */
    pick_masks_fn *pick_masks;         /* pick_masks_c or a vector version */
    nonzero_lanes_fn *nonzero_lanes;   /* nonzero_lanes_c or a vector version */
    uint32_t *area_wp;             /* per area: the weight | psp << 8 word of all its
                                    * synapses (npu_net_area_wp), or NO_CONST_WP */
    bool const_wp_off;             /* NPUSIM_CPU_CONST_WP=off: every row decodes its words */
    bool any_var_wp;               /* some area's rows have weight words to read */
    uint16_t *row_split;           /* [n * (n_workers - 1)]: where worker v's first target
                                    * (its lo) lies in source s's row, as an offset from
                                    * the row's start, at s * (n_workers - 1) + v - 1;
                                    * NULL with one worker or a row longer than 65535 */
    uint64_t *cand[2];             /* candidate bitmaps of the even and odd bursts */
    uint32_t *pick_pre;            /* [n]: npu_fx_pcg(i), the half of npu_fx_pick_hash that
                                    * no burst changes; NULL above PICK_PRE_MAX_NEURONS */
    uint64_t *no_acc;              /* bitmap: the neuron's area does not accumulate (step 1
                                    * resets it); NULL when every area accumulates */
    uint32_t n_words;

    /* From here on, fields that change every burst or batch: on lines of
     * their own, away from the read-only ones above that the workers'
     * loops read all the time. */
    _Alignas(CACHE_LINE) uint32_t burst;   /* last burst run */
    struct slot slots[NPU_BACKEND_MAX_IN_FLIGHT];
    unsigned head, in_flight;      /* ring of submitted, not collected slots */

    uint32_t n_workers;            /* 1: no extra threads */
    bool threads_running;
    /* with split_sources: the next unclaimed fire of the even and odd
     * bursts' step 5, on a line of its own (every worker writes it) */
    _Alignas(CACHE_LINE) atomic_uint claim[2];
    struct worker w[MAX_THREADS];
    struct barrier bar;
    struct batch_job job;
};

static void barrier_init(struct barrier *b, uint32_t n)
{
    pthread_mutex_init(&b->m, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->n = n;
    b->waiting = 0;
    atomic_init(&b->gen, 0);
}

static void barrier_destroy(struct barrier *b)
{
    pthread_mutex_destroy(&b->m);
    pthread_cond_destroy(&b->cv);
}

static void barrier_wait(struct barrier *b)
{
    unsigned g = atomic_load_explicit(&b->gen, memory_order_acquire);
    pthread_mutex_lock(&b->m);
    if (++b->waiting == b->n) {
        b->waiting = 0;
        atomic_store_explicit(&b->gen, g + 1, memory_order_release);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->m);
        return;
    }
    pthread_mutex_unlock(&b->m);
    for (int k = 0; k < BARRIER_SPINS; k++)
        if (atomic_load_explicit(&b->gen, memory_order_acquire) != g)
            return;
    pthread_mutex_lock(&b->m);
    while (atomic_load_explicit(&b->gen, memory_order_acquire) == g)
        pthread_cond_wait(&b->cv, &b->m);
    pthread_mutex_unlock(&b->m);
}

/* A units word's value: the word itself, or a tagged word's low bits as a
 * signed number (mask and sign from c->units_mask, c->units_sign). */
static inline int32_t units_value(int32_t units, uint32_t mask, uint32_t sign)
{
    return (int32_t)(((uint32_t)units & mask) ^ sign) - (int32_t)sign;
}

/* The int64 sum of a neuron's input: its int64 sum plus its units word's
 * value times 65536, mod 2^64. */
static inline int64_t fcl_total(int64_t sum, int32_t units, uint32_t mask, uint32_t sign)
{
    int64_t v = units_value(units, mask, sign);
    return (int64_t)((uint64_t)sum + (uint64_t)(v * NPU_Q_ONE));
}

static inline void fcl_add(uint64_t *sum, uint8_t *sum_live, uint64_t *cand, uint32_t id,
                           int64_t q)
{
    /* Unsigned, so overflow wraps as the GPU's atomics do instead of being UB. */
    sum[id] += (uint64_t)q;
    sum_live[id / WORD_BITS] = 1;
    cand[id / WORD_BITS] |= UINT64_C(1) << (id % WORD_BITS);
}

/* First index in [lo, hi) of a row whose target is >= t, or hi (rows are
 * sorted by target).  Without branches: each halving's outcome is a coin
 * toss, and with a branch per halving the search of every fired row's
 * thread boundary was 7% of a 100k burst's samples (perf, two threads). */
static uint32_t row_lower_bound(const uint32_t *tgt, uint32_t lo, uint32_t hi, uint32_t t)
{
    if (lo >= hi)
        return lo;
    const uint32_t *base = tgt + lo;
    uint32_t n = hi - lo;
    while (n > 1) {
        uint32_t half = n / 2;
        base = (base[half] & NPU_SYN_TARGET_MASK) < t ? base + half : base;
        n -= half;
    }
    return (uint32_t)(base - tgt) + ((base[0] & NPU_SYN_TARGET_MASK) < t);
}

/* Every cache line of [p, q). */
static inline void prefetch_lines(const void *p, const void *q)
{
    const char *a = (const char *)((uintptr_t)p & ~(uintptr_t)(CACHE_LINE - 1));
    for (; a < (const char *)q; a += CACHE_LINE)
        __builtin_prefetch(a);
}

/* Worker v's slice [*e, *end) of source s's row: its synapses whose
 * targets are in [lo, hi).  From the row splits where there are any (a
 * search per fired row and thread boundary was 5-7% of a 100k burst's
 * samples, and the row prefetch needs the slice before the row is in the
 * cache), else by search. */
static inline void row_slice(const struct cpu_backend *c, const struct worker *w, uint32_t s,
                             uint32_t *e, uint32_t *end)
{
    const struct npu_net *net = c->net;
    uint32_t r0 = net->syn_off[s], r1 = net->syn_off[s + 1];
    uint32_t v = w->index, nb = c->n_workers - 1;
    if (c->split_sources) {
        *e = r0;
        *end = r1;
        return;
    }
    if (c->row_split) {
        const uint16_t *sp = c->row_split + (size_t)s * nb;
        *e = v > 0 ? r0 + sp[v - 1] : r0;
        *end = v < nb ? r0 + sp[v] : r1;
        return;
    }
    *e = w->lo > 0 ? row_lower_bound(net->syn_target, r0, r1, w->lo) : r0;
    *end = w->hi < net->n_neurons ? row_lower_bound(net->syn_target, *e, r1, w->hi) : r1;
}

/* Step 5 for one fired source s of area ar, restricted to the synapses
 * [e, end) of its row (a worker's slice). */
static void propagate_source(struct cpu_backend *c, uint64_t *cand, uint16_t *u16, int32_t *u32,
                             uint32_t s, uint32_t ar, float fire_mp, uint32_t e, uint32_t end)
{
    const struct npu_net *net = c->net;
    const struct npu_area *a = &net->areas[ar];
    const uint32_t *tgt = net->syn_target;
    const uint16_t *wp = net->syn_wp;
    uint64_t *sum = c->sum;
    uint32_t k = net->syn_off[s + 1] - net->syn_off[s];
    bool uniform = a->psp_uniform || k <= 1;
    uint32_t cw = c->area_wp[ar];

    if (c->u16 && uniform) {
        /* Every contribution here is excitatory, not mp-driven and fits
         * (npu_fx_units_fit_u16): no sign, no tag, no candidate bit, and
         * a target word is its id (no inhibitory bit to mask off). */
        uint16_t *u = u16;
        if (cw != NO_CONST_WP) {
            const uint16_t mag = (uint16_t)((cw & 0xff) * (cw >> 8));
            if (c->prefetch_sums)
                for (; e < end; e++) {
                    if (e + PREFETCH_AHEAD < end)
                        __builtin_prefetch(&u[tgt[e + PREFETCH_AHEAD]], 1);
                    u[tgt[e]] = (uint16_t)(u[tgt[e]] + mag);
                }
            else {
                /* four at a time: a quarter of the loop's own
                 * instructions, for its shortest path (10k: -8%) */
                for (; e + 4 <= end; e += 4) {
                    uint32_t t0 = tgt[e], t1 = tgt[e + 1], t2 = tgt[e + 2], t3 = tgt[e + 3];
                    u[t0] = (uint16_t)(u[t0] + mag);
                    u[t1] = (uint16_t)(u[t1] + mag);
                    u[t2] = (uint16_t)(u[t2] + mag);
                    u[t3] = (uint16_t)(u[t3] + mag);
                }
                for (; e < end; e++)
                    u[tgt[e]] = (uint16_t)(u[tgt[e]] + mag);
            }
            return;
        }
        for (; e < end; e++) {
            if (c->prefetch_sums && e + PREFETCH_AHEAD < end)
                __builtin_prefetch(&u[tgt[e + PREFETCH_AHEAD] & NPU_SYN_TARGET_MASK], 1);
            uint32_t w = wp[e];
            uint32_t id = tgt[e] & NPU_SYN_TARGET_MASK;
            u[id] = (uint16_t)(u[id] + (w & 0xff) * (w >> 8));
        }
        return;
    }
    if (c->narrow && uniform) {
        /* c = type * weight * psp_used, in units of 65536.  Tagged units
         * (units_k) add 2^k as well and need no candidate bit: step 6
         * reads "touched" from the word.  One loop for both: cachegrind
         * counts the same instructions as for a separate copy of each. */
        int32_t *units = u32;
        uint32_t mp_psp = a->mp_driven_psp ? npu_fx_psp_from_mp(fire_mp) : 0;
        const uint32_t tag = c->units_k ? UINT32_C(1) << c->units_k : 0;
        const bool mark = c->units_k == 0;
        if (cw != NO_CONST_WP) {
            /* One weight and psp for the whole row: the add is the same
             * for every synapse but for its sign, so no synapse's word is
             * loaded or decoded.  The sign by a mask, not a branch, which
             * would mispredict on rows that mix both. */
            uint32_t mag = (cw & 0xff) * (a->mp_driven_psp ? mp_psp : cw >> 8);
            uint32_t add_exc = tag + mag, twice = 2 * mag;
            for (; e < end; e++) {
                if (c->prefetch_sums && e + PREFETCH_AHEAD < end)
                    __builtin_prefetch(&units[tgt[e + PREFETCH_AHEAD] & NPU_SYN_TARGET_MASK], 1);
                uint32_t t = tgt[e];
                uint32_t id = t & NPU_SYN_TARGET_MASK;
                uint32_t inh = 0u - (t >> 31); /* NPU_SYN_INHIBITORY is the top bit */
                units[id] = (int32_t)((uint32_t)units[id] + (add_exc - (inh & twice)));
                if (mark)
                    cand[id / WORD_BITS] |= UINT64_C(1) << (id % WORD_BITS);
            }
            return;
        }
        for (; e < end; e++) {
            if (c->prefetch_sums && e + PREFETCH_AHEAD < end)
                __builtin_prefetch(&units[tgt[e + PREFETCH_AHEAD] & NPU_SYN_TARGET_MASK], 1);
            uint32_t t = tgt[e];
            uint32_t w = wp[e];
            uint32_t psp = a->mp_driven_psp ? mp_psp : w >> 8;
            uint32_t mag = (w & 0xff) * psp;
            uint32_t id = t & NPU_SYN_TARGET_MASK;
            /* unsigned: no overflow by the bound, and none to be undefined */
            uint32_t add = tag + ((t & NPU_SYN_INHIBITORY) ? 0u - mag : mag);
            units[id] = (int32_t)((uint32_t)units[id] + add);
            if (mark)
                cand[id / WORD_BITS] |= UINT64_C(1) << (id % WORD_BITS);
        }
        return;
    }
    if (cw != NO_CONST_WP) {
        /* One weight and psp for the row, as in the units loop: its two
         * contributions computed once, the sign's chosen by a mask. */
        uint32_t psp = a->mp_driven_psp ? npu_fx_psp_from_mp(fire_mp) : cw >> 8;
        uint64_t q_exc = (uint64_t)npu_fx_contribution(cw & 0xff, psp, false, a->psp_uniform, k);
        uint64_t q_inh = (uint64_t)npu_fx_contribution(cw & 0xff, psp, true, a->psp_uniform, k);
        for (; e < end; e++) {
            if (c->prefetch_sums && e + PREFETCH_AHEAD < end)
                __builtin_prefetch(&sum[tgt[e + PREFETCH_AHEAD] & NPU_SYN_TARGET_MASK], 1);
            uint32_t t = tgt[e];
            uint64_t inh = 0u - (uint64_t)(t >> 31); /* NPU_SYN_INHIBITORY is the top bit */
            fcl_add(sum, c->sum_live, cand, t & NPU_SYN_TARGET_MASK,
                    (int64_t)((q_exc & ~inh) | (q_inh & inh)));
        }
        return;
    }
    if (!a->mp_driven_psp && uniform) {
        /* The common case: c = type * weight * psp * 65536. */
        for (; e < end; e++) {
            if (c->prefetch_sums && e + PREFETCH_AHEAD < end)
                __builtin_prefetch(&sum[tgt[e + PREFETCH_AHEAD] & NPU_SYN_TARGET_MASK], 1);
            uint32_t t = tgt[e];
            uint32_t w = wp[e];
            int64_t mag = (int64_t)((w & 0xff) * (w >> 8)) << NPU_Q_SHIFT;
            fcl_add(sum, c->sum_live, cand, t & NPU_SYN_TARGET_MASK,
                    (t & NPU_SYN_INHIBITORY) ? -mag : mag);
        }
        return;
    }
    uint32_t mp_psp = a->mp_driven_psp ? npu_fx_psp_from_mp(fire_mp) : 0;
    for (; e < end; e++) {
        uint32_t t = tgt[e];
        uint32_t psp = a->mp_driven_psp ? mp_psp : (uint32_t)wp[e] >> 8;
        int64_t q = npu_fx_contribution(wp[e] & 0xff, psp, (t & NPU_SYN_INHIBITORY) != 0,
                                        a->psp_uniform, k);
        fcl_add(sum, c->sum_live, cand, t & NPU_SYN_TARGET_MASK, q);
    }
}

/* The number of set bits, in registers: __builtin_popcountll is a call
 * into libgcc on x86-64 without -mpopcnt (1% of a 10k burst's samples). */
static inline uint32_t popcount64(uint64_t x)
{
    x -= (x >> 1) & UINT64_C(0x5555555555555555);
    x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
    x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
    return (uint32_t)((x * UINT64_C(0x0101010101010101)) >> 56);
}

/* Bit k set where f[k] is 1, for 64 flags of 0 or 1: 8 flags at a time
 * into 8 bits by one multiply (each 0/1 byte lands in its own bit of the
 * top byte; no two partial products meet).  Then the set bits are taken
 * with one branch per bit, not one per 8 flags as well. */
static inline uint64_t flags_mask(const uint8_t *f)
{
    uint64_t m = 0;
    for (uint32_t j = 0; j < WORD_BITS; j += 8) {
        uint64_t x;
        memcpy(&x, f + j, sizeof(x));
        m |= ((x * UINT64_C(0x0102040810204080)) >> 56) << j;
    }
    return m;
}

/* Bit k set where u[k] != 0, for a word of 64 lanes: the compares as a
 * loop of bytes the compiler vectorises, then flags_mask. */
static uint64_t nonzero_lanes_c(const struct cpu_backend *c, uint32_t i0)
{
    uint8_t nz[WORD_BITS];
    if (c->u16)
        for (uint32_t k = 0; k < WORD_BITS; k++)
            nz[k] = c->units16[i0 + k] != 0;
    else
        for (uint32_t k = 0; k < WORD_BITS; k++)
            nz[k] = c->units[i0 + k] != 0;
    return flags_mask(nz);
}

/* Step 6 for one candidate; returns 1 when it fires. */
static int dynamics(struct cpu_backend *c, const struct npu_area *a, uint32_t i, uint32_t b,
                    float cand, float *fire_mp)
{
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
        if (npu_fx_fires(a->excitability, i, b)) {
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

static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }
static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* c ? a : b for c in {0, 1}, as bit masks: GCC's if-conversion, which the
 * vectoriser needs, gives up on chains of ?: (see dynamics_word). */
static inline uint32_t sel_u(uint32_t c, uint32_t a, uint32_t b)
{
    uint32_t m = 0u - c;
    return (a & m) | (b & ~m);
}

static inline int64_t sel_i64(uint32_t c, int64_t a, int64_t b)
{
    uint64_t m = 0u - (uint64_t)c;
    return (int64_t)(((uint64_t)a & m) | ((uint64_t)b & ~m));
}

static inline float sel_f(uint32_t c, float a, float b)
{
    union { float f; uint32_t u; } x = { .f = a }, y = { .f = b };
    x.u = sel_u(c, x.u, y.u);
    return x.f;
}

/* Step 6 for the candidates `bits` of the word of 64 neurons from i0;
 * those candidates all lie in area a.  The rules are those of dynamics(),
 * written as selects over every lane so the compiler makes vector code of
 * it: where most neurons are candidates (a busy network) that is several
 * times faster than visiting them one by one, and it gives the same bits
 * (the same binary32 operations, one rounding each, in the same order per
 * neuron).  Lanes whose bit is clear (not candidates, or of another area
 * of the word) are written back unchanged, which is why the state arrays
 * are padded to whole words.  fired[k] is 1 when lane k fires, fire_mp[k]
 * its mp then. */
static inline __attribute__((always_inline)) void
dynamics_word_body(struct cpu_backend *c, const struct npu_area *a, uint32_t i0, uint64_t bits,
                   bool live, bool draws, bool plain, bool u16, uint32_t b,
                   uint8_t *restrict fired, float *restrict fire_mp)
{
    float *restrict mp = c->mp + i0;
    uint16_t *restrict cdp = c->countdown + i0;
    uint16_t *restrict cfp = c->cfc + i0;
    uint64_t *restrict sum = c->sum + i0;
    int32_t *restrict units = u16 ? NULL : c->units + i0;
    uint16_t *restrict units16 = u16 ? c->units16 + i0 : NULL;
    /* plain: no consecutive fire limit and no threshold limit, a constant
     * of each inlined body, so those rules' selects fold away */
    const uint32_t limited = !plain && npu_cfl_limited(a->cfl);
    const uint32_t cfl = a->cfl;
    const float thr = a->threshold, lim = a->threshold_limit, keep = a->keep;
    const uint32_t has_limit = !plain && a->has_limit;
    const uint32_t refr = a->refractory;
    const uint32_t refr_snooze = min_u32((uint32_t)a->refractory + a->snooze, UINT16_MAX);
    const float exc = a->excitability;
    const uint32_t always = exc >= 0.999f, draw = draws & !always & (exc > 0.0f);
    const uint32_t umask = c->units_mask, usign = c->units_sign;
    uint32_t is_cand[WORD_BITS];

    const uint32_t lo_bits = (uint32_t)bits, hi_bits = (uint32_t)(bits >> 32);
    for (uint32_t k = 0; k < WORD_BITS / 2; k++) {
        is_cand[k] = (lo_bits >> k) & 1u;
        is_cand[k + WORD_BITS / 2] = (hi_bits >> k) & 1u;
    }
    /* Bitwise & and | on 0/1 values, not && and ||: no branches. */
    for (uint32_t k = 0; k < WORD_BITS; k++) {
        uint32_t on = is_cand[k];
        int64_t q = live ? (int64_t)sum[k] : 0;
        int32_t u = u16 ? (int32_t)units16[k] : units[k];
        /* without int64 sums, an int32 conversion: 16 lanes a vector,
         * not the 8 of int64 */
        float cand = live ? npu_fx_to_float(fcl_total(q, u, umask, usign))
                          : npu_fx_units_to_float(u16 ? u : units_value(u, umask, usign));
        if (live)
            sum[k] = (uint64_t)sel_i64(on, 0, q);
        if (u16)
            units16[k] = (uint16_t)sel_u(on, 0u, (uint32_t)u);
        else
            units[k] = (int32_t)sel_u(on, 0u, (uint32_t)u);
        uint32_t cd = cdp[k], cf = cfp[k];
        float m = mp[k];
        uint32_t at_limit = limited & (cf >= cfl);
        uint32_t busy = cd != 0;                                  /* 6.1 */
        uint32_t cd_dec = cd - 1u;
        uint32_t cd_ends = busy & (cd_dec == 0) & at_limit;
        float m2 = m + cand;                                      /* 6.2 */
        uint32_t above = (m2 >= thr) & (!has_limit | (m2 <= lim)) & !busy;
        uint32_t blocked = above & at_limit;                      /* 6.3.1 */
        /* drawn for every lane where the area draws at all; draws is a
         * constant of each inlined body, so the others skip the hash */
        uint32_t lucky = always | (draws && (draw & (npu_fx_uniform(i0 + k, b) < exc)));
        uint32_t fire = above & !blocked & lucky;                 /* 6.3.2 */
        uint32_t cf_fire = cf + (cf < UINT16_MAX);
        uint32_t new_cf = sel_u(limited, 0u, cf);                 /* 6.4 */
        new_cf = sel_u(fire, cf_fire, new_cf);
        new_cf = sel_u(blocked, 0u, new_cf);
        new_cf = sel_u(busy, sel_u(cd_ends, 0u, cf), new_cf);
        uint32_t cd_fire = sel_u(limited & (cf_fire >= cfl), refr_snooze, refr);
        uint32_t new_cd = sel_u(fire, cd_fire, cd);
        new_cd = sel_u(busy, cd_dec, new_cd);
        float new_m = sel_f(fire, 0.0f, m2 * keep);
        new_m = sel_f(blocked, m2, new_m);
        new_m = sel_f(busy, m, new_m);
        cfp[k] = (uint16_t)sel_u(on, new_cf, cf);
        cdp[k] = (uint16_t)sel_u(on, new_cd, cd);
        mp[k] = sel_f(on, new_m, m);
        fired[k] = (uint8_t)(on & fire);
        fire_mp[k] = m2;
    }
}

/* Whether area a's fires take a draw: not when it fires whenever it
 * reaches its threshold (excitability 1) or never (0). */
static inline bool area_draws(const struct npu_area *a)
{
    return !(a->excitability >= 0.999f) && a->excitability > 0.0f;
}

/* Whether area a has neither a consecutive fire limit nor a threshold
 * limit. */
static inline bool area_plain(const struct npu_area *a)
{
    return !npu_cfl_limited(a->cfl) && !a->has_limit;
}

/* The portable version, and where the compiler can make one the AVX-512
 * version (x86-64-v4 converts int64 to float in vector registers; AVX2
 * cannot, so it would gain nothing).  cpu_create picks one, as dav1d fills
 * its function tables: the plain C first, then the faster one where the
 * CPU has it. */
static inline __attribute__((always_inline)) void
dynamics_word_kind(struct cpu_backend *c, const struct npu_area *a, uint32_t i0, uint64_t bits,
                   bool live, bool u16, uint32_t b, uint8_t *fired, float *fire_mp)
{
    /* live and draws constant in each inlined body, so it is vectorised
     * without a conditional store, and an area that fires whenever it
     * reaches its threshold (excitability 1, or 0 that never fires) does
     * not hash every lane for a draw it does not use */
    bool draws = area_draws(a), plain = area_plain(a);
    if (live && draws)
        dynamics_word_body(c, a, i0, bits, true, true, false, u16, b, fired, fire_mp);
    else if (draws)
        dynamics_word_body(c, a, i0, bits, false, true, false, u16, b, fired, fire_mp);
    else if (live && plain)
        dynamics_word_body(c, a, i0, bits, true, false, true, u16, b, fired, fire_mp);
    else if (live)
        dynamics_word_body(c, a, i0, bits, true, false, false, u16, b, fired, fire_mp);
    else if (plain)
        dynamics_word_body(c, a, i0, bits, false, false, true, u16, b, fired, fire_mp);
    else
        dynamics_word_body(c, a, i0, bits, false, false, false, u16, b, fired, fire_mp);
}

static inline __attribute__((always_inline)) void
dynamics_word_live(struct cpu_backend *c, const struct npu_area *a, uint32_t i0, uint64_t bits,
                   bool live, uint32_t b, uint8_t *fired, float *fire_mp)
{
    if (c->u16)
        dynamics_word_kind(c, a, i0, bits, live, true, b, fired, fire_mp);
    else
        dynamics_word_kind(c, a, i0, bits, live, false, b, fired, fire_mp);
}

static uint64_t dynamics_word_c(struct cpu_backend *c, const struct npu_area *a, uint32_t i0,
                                uint64_t bits, bool live, uint32_t b, float *fire_mp)
{
    uint8_t fired[WORD_BITS];
    dynamics_word_live(c, a, i0, bits, live, b, fired, fire_mp);
    return flags_mask(fired);
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define HAVE_CPU_AVX512 1
#include <immintrin.h>

/* 16 lanes of the plain rules of step 6, from i0 (see dynamics_word_plain). */
__attribute__((target("arch=x86-64-v4"), always_inline))
static inline __mmask16 dynamics_lanes_plain(struct cpu_backend *c, const struct npu_area *a,
                                             uint32_t i0, __mmask16 on, bool live,
                                             __mmask16 lucky, float *fire_mp)
{
    __m512i v;                     /* the units' values */
    if (c->u16) {
        v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const void *)(c->units16 + i0)));
        _mm256_mask_storeu_epi16(c->units16 + i0, on, _mm256_setzero_si256());
    } else {
        __m512i sign = _mm512_set1_epi32((int32_t)c->units_sign);
        __m512i mask = _mm512_set1_epi32((int32_t)c->units_mask);
        v = _mm512_loadu_si512(c->units + i0);
        v = _mm512_sub_epi32(_mm512_xor_si512(_mm512_and_si512(v, mask), sign), sign);
        _mm512_mask_storeu_epi32(c->units + i0, on, _mm512_setzero_si512());
    }
    __m512 cand = _mm512_cvtepi32_ps(v);   /* npu_fx_units_to_float */
    if (live) {
        /* npu_fx_to_float(fcl_total()), 8 lanes of int64 at a time */
        uint64_t *sum = c->sum + i0;
        __m512i lo = _mm512_slli_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)), 16);
        __m512i hi = _mm512_slli_epi64(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)), 16);
        lo = _mm512_add_epi64(lo, _mm512_loadu_si512(sum));
        hi = _mm512_add_epi64(hi, _mm512_loadu_si512(sum + 8));
        _mm512_mask_storeu_epi64(sum, (__mmask8)on, _mm512_setzero_si512());
        _mm512_mask_storeu_epi64(sum + 8, (__mmask8)(on >> 8), _mm512_setzero_si512());
        cand = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtepi64_ps(lo)),
                                  _mm512_cvtepi64_ps(hi), 1);
        cand = _mm512_mul_ps(cand, _mm512_set1_ps(1.0f / 65536.0f));
    }
    __m256i cd = _mm256_loadu_si256((const void *)(c->countdown + i0));
    __m256i one = _mm256_set1_epi16(1);
    __mmask16 busy = _mm256_test_epi16_mask(cd, cd);                        /* 6.1 */
    __m512 m = _mm512_loadu_ps(c->mp + i0);
    __m512 m2 = _mm512_add_ps(m, cand);                                     /* 6.2 */
    __mmask16 fire = _mm512_mask_cmp_ps_mask(on & ~busy & lucky, m2,        /* 6.3 */
                                             _mm512_set1_ps(a->threshold), _CMP_GE_OQ);
    __m512 new_m = _mm512_mul_ps(m2, _mm512_set1_ps(a->keep));              /* 6.4 */
    new_m = _mm512_mask_mov_ps(new_m, fire, _mm512_setzero_ps());           /* 6.3.3 */
    new_m = _mm512_mask_mov_ps(new_m, busy, m);
    _mm512_mask_storeu_ps(c->mp + i0, on, new_m);
    __m256i new_cd = _mm256_mask_sub_epi16(cd, busy, cd, one);
    new_cd = _mm256_mask_mov_epi16(new_cd, fire, _mm256_set1_epi16((int16_t)a->refractory));
    _mm256_mask_storeu_epi16(c->countdown + i0, on, new_cd);
    __m256i cf = _mm256_loadu_si256((const void *)(c->cfc + i0));
    _mm256_mask_storeu_epi16(c->cfc + i0, fire, _mm256_adds_epu16(cf, one)); /* saturates */
    _mm512_storeu_ps(fire_mp, m2);
    return fire;
}

/* Step 6 for a word of an area with the plain rules only: no consecutive
 * fire limit, no threshold limit, and no draw (it fires whenever it
 * reaches the threshold, or never).  The other areas' words take
 * dynamics_word_body.  Written with intrinsics because GCC's vector code
 * for the body widens every 16-bit field to 32 bits and back and builds
 * its masks in scalar code: about 400 instructions a word, here about 130.
 * The same operations per lane as dynamics(), so the same bits. */
__attribute__((target("arch=x86-64-v4")))
static uint64_t dynamics_word_plain(struct cpu_backend *c, const struct npu_area *a, uint32_t i0,
                                    uint64_t bits, bool live, float *fire_mp)
{
    const __mmask16 lucky = a->excitability >= 0.999f ? 0xffff : 0;
    uint64_t fired = 0;
    for (uint32_t k = 0; k < WORD_BITS; k += 16) {
        __mmask16 on = (__mmask16)(bits >> k);
        if (live)
            fired |= (uint64_t)dynamics_lanes_plain(c, a, i0 + k, on, true, lucky, fire_mp + k) << k;
        else
            fired |= (uint64_t)dynamics_lanes_plain(c, a, i0 + k, on, false, lucky, fire_mp + k) << k;
    }
    return fired;
}

__attribute__((target("arch=x86-64-v4")))
static uint64_t dynamics_word_avx512(struct cpu_backend *c, const struct npu_area *a, uint32_t i0,
                                     uint64_t bits, bool live, uint32_t b, float *fire_mp)
{
    if (!area_draws(a) && area_plain(a))
        return dynamics_word_plain(c, a, i0, bits, live, fire_mp);
    uint8_t fired[WORD_BITS];
    dynamics_word_live(c, a, i0, bits, live, b, fired, fire_mp);
    return flags_mask(fired);
}

/* nonzero_lanes_c in 2 or 4 tests: 4% of a 10k burst's samples were the
 * portable version's compares and packing. */
__attribute__((target("arch=x86-64-v4")))
static uint64_t nonzero_lanes_avx512(const struct cpu_backend *c, uint32_t i0)
{
    if (c->u16) {
        __m512i lo = _mm512_loadu_si512(c->units16 + i0), hi = _mm512_loadu_si512(c->units16 + i0 + 32);
        return _mm512_test_epi16_mask(lo, lo) | (uint64_t)_mm512_test_epi16_mask(hi, hi) << 32;
    }
    uint64_t m = 0;
    for (uint32_t k = 0; k < WORD_BITS; k += 16) {
        __m512i v = _mm512_loadu_si512(c->units + i0 + k);
        m |= (uint64_t)_mm512_test_epi32_mask(v, v) << k;
    }
    return m;
}

static bool cpu_has_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}
#endif

/* Which neurons of [first, first+n) a random stimulus picks: picked[k] is
 * 1 when npu_fx_pick_hash(key, first + k) < threshold.  A loop of its own
 * so the compiler vectorises it; pcg's per-lane shifts need AVX2, hence a
 * clone chosen at load time where GCC can make one. */
#define PICK_BLOCK 256
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
static void pick_flags(uint32_t key, uint32_t threshold, uint32_t first, uint32_t n,
                       const uint32_t *pick_pre, uint8_t *picked)
{
    if (pick_pre) {
        const uint32_t *pre = pick_pre + first;   /* not [first + k]: that may wrap, */
        for (uint32_t k = 0; k < n; k++)          /* which would make it a gather */
            picked[k] = npu_fx_pcg(pre[k] ^ key) < threshold;
    } else {
        for (uint32_t k = 0; k < n; k++)
            picked[k] = npu_fx_pick_hash(key, first + k) < threshold;
    }
}

/* The picks of [first, first + n), n <= PICK_BLOCK, as masks: bit k of
 * masks[j] for neuron first + 64 j + k, none past n. */
static void pick_masks_c(uint32_t key, uint32_t threshold, uint32_t first, uint32_t n,
                         const uint32_t *pick_pre, uint64_t *masks)
{
    uint8_t picked[PICK_BLOCK];
    pick_flags(key, threshold, first, n, pick_pre, picked);
    memset(picked + n, 0, PICK_BLOCK - n);
    for (uint32_t k0 = 0; k0 < n; k0 += WORD_BITS)
        masks[k0 / WORD_BITS] = flags_mask(picked + k0);
}

#ifdef HAVE_CPU_AVX512
/* npu_fx_pcg on 16 lanes */
__attribute__((target("arch=x86-64-v4"), always_inline))
static inline __m512i pcg_lanes(__m512i x)
{
    __m512i s = _mm512_add_epi32(_mm512_mullo_epi32(x, _mm512_set1_epi32(747796405)),
                                 _mm512_set1_epi32((int32_t)2891336453u));
    __m512i sh = _mm512_add_epi32(_mm512_srli_epi32(s, 28), _mm512_set1_epi32(4));
    __m512i w = _mm512_mullo_epi32(_mm512_xor_si512(_mm512_srlv_epi32(s, sh), s),
                                   _mm512_set1_epi32(277803737));
    return _mm512_xor_si512(_mm512_srli_epi32(w, 22), w);
}

/* pick_masks_c with the compares straight into masks: the portable one's
 * flags and their packing were 5% of a 10k burst's samples. */
__attribute__((target("arch=x86-64-v4")))
static void pick_masks_avx512(uint32_t key, uint32_t threshold, uint32_t first, uint32_t n,
                              const uint32_t *pick_pre, uint64_t *masks)
{
    const __m512i vkey = _mm512_set1_epi32((int32_t)key), vthr = _mm512_set1_epi32((int32_t)threshold);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (uint32_t k0 = 0; k0 < n; k0 += WORD_BITS) {
        uint64_t m = 0;
        for (uint32_t j = 0; j < WORD_BITS && k0 + j < n; j += 16) {
            uint32_t left = n - (k0 + j);
            __mmask16 valid = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
            uint32_t i = first + k0 + j;
            __m512i h = pick_pre ? _mm512_maskz_loadu_epi32(valid, pick_pre + i)
                                 : pcg_lanes(_mm512_add_epi32(_mm512_set1_epi32((int32_t)i), lane));
            h = pcg_lanes(_mm512_xor_si512(h, vkey));
            m |= (uint64_t)_mm512_mask_cmplt_epu32_mask(valid, h, vthr) << j;
        }
        masks[k0 / WORD_BITS] = m;
    }
}
#endif

/* Whether burst j's range stimuli go into the 16-bit units: each a whole,
 * positive number of units (so a touched word is still never 0), and all
 * of them together, which one neuron may get, within the room the
 * synapses leave.  Then the burst's stimuli (random areas, whole areas)
 * neither add into the int64 sums nor mark their words live, and step 6
 * reads no int64 sums where nothing else added to them. */
static bool ranges_fit_units(const struct cpu_backend *c, const struct npu_inject *in, uint32_t j)
{
    if (!c->u16)
        return false;
    uint32_t total = 0;
    for (uint32_t g = in->range_off[j]; g < in->range_off[j + 1]; g++) {
        int64_t q = in->ranges[g].q;
        if (q < NPU_Q_ONE || q % NPU_Q_ONE != 0 || q / NPU_Q_ONE > c->u16_room - total)
            return false;
        total += (uint32_t)(q / NPU_Q_ONE);
    }
    return true;
}

/* A range stimulus's add: ru units into the 16-bit units where the burst's
 * ranges fit them (ranges_fit_units), else q into the FCL. */
static inline void range_add(struct cpu_backend *c, uint64_t *cand, uint16_t *u16, uint32_t i,
                             int64_t q, uint16_t ru)
{
    if (ru)
        u16[i] = (uint16_t)(u16[i] + ru);
    else
        fcl_add(c->sum, c->sum_live, cand, i, q);
}

/* With split_sources, worker w's range of every other worker's units
 * added into c->units16 or c->units, and zeroed for the next burst.  The
 * sums are of whole units (tagged: each event's 2^k + c) within the
 * units' bound, so the order of the adds does not matter. */
static void fold_units(struct cpu_backend *c, const struct worker *w)
{
    for (uint32_t v = 1; v < c->n_workers; v++) {
        if (c->u16) {
            uint16_t *restrict u = c->units16, *restrict o = c->w[v].units16;
            for (uint32_t i = w->lo; i < w->hi; i++) {
                u[i] = (uint16_t)(u[i] + o[i]);
                o[i] = 0;
            }
        } else {
            /* tagged words add as the events did: mod 2^32, within the bound */
            uint32_t *restrict u = (uint32_t *)c->units, *restrict o = (uint32_t *)c->w[v].units;
            for (uint32_t i = w->lo; i < w->hi; i++) {
                u[i] += o[i];
                o[i] = 0;
            }
        }
    }
}

/* Step 5 for the fires [f0, f1) of queue q (burst b-1's fires of one
 * worker's range), into worker w's part of the FCL. */
static void propagate_fires(struct cpu_backend *c, const struct worker *w, uint64_t *cand,
                            const struct fireq *q, uint32_t f0, uint32_t f1)
{
    const struct npu_net *net = c->net;
    /* in locals: the loop's stores could alias them, and re-reading
     * another worker's queue header each time costs cache traffic */
    const uint32_t n_fired = f1;   /* the loop's end, for the prefetch tests */
    const uint32_t *fired_id = q->id;
    const float *fired_mp = q->mp;
    /* The queue is ordered by id and areas are id ranges: the source's
     * area by walking them, not from area_of, whose entry for a random
     * source was a cache miss (7% of a 1M burst's samples). */
    uint32_t ar = 0, ar_end = net->n_areas ? net->areas[0].base + net->areas[0].count : 0;
    for (uint32_t f = f0; f < n_fired; f++) {
        /* Rows lie at random in a large array: ask for a later
         * source's row (and, before that, its offset and split)
         * early, only this worker's slice of it where the splits
         * say where that is. */
        if (f + 2 * ROW_PREFETCH_AHEAD < n_fired) {
            uint32_t s = fired_id[f + 2 * ROW_PREFETCH_AHEAD];
            __builtin_prefetch(&net->syn_off[s]);
            if (c->row_split)
                __builtin_prefetch(&c->row_split[(size_t)s * (c->n_workers - 1)]);
        }
        if (f + ROW_PREFETCH_AHEAD < n_fired) {
            uint32_t s = fired_id[f + ROW_PREFETCH_AHEAD];
            uint32_t p0 = net->syn_off[s], p1 = net->syn_off[s + 1];
            if (c->row_split)
                row_slice(c, w, s, &p0, &p1);
            prefetch_lines(&net->syn_target[p0], &net->syn_target[p1]);
            /* a constant-weight row's words are not read; the area
             * lookup, a miss at 1M, only where some rows have them */
            if (c->any_var_wp && c->area_wp[net->area_of[s]] == NO_CONST_WP)
                prefetch_lines(&net->syn_wp[p0], &net->syn_wp[p1]);
        }
        uint32_t s = fired_id[f], e, end;
        while (s >= ar_end) {
            ar++;
            ar_end = net->areas[ar].base + net->areas[ar].count;
        }
        row_slice(c, w, s, &e, &end);
        propagate_source(c, cand, w->units16, w->units, s, ar, fired_mp[f], e, end);
    }
}

/* Burst b, the batch's j-th, for the neurons of worker w.  The fires of
 * burst b-1 are in every worker's q[(b - 1) & 1]. */
static void run_burst(struct cpu_backend *c, struct worker *w, const struct npu_inject *in, uint32_t j,
                      uint32_t b)
{
    const struct npu_net *net = c->net;
    const uint32_t lo = w->lo, hi = w->hi;
    if (lo >= hi) {
        if (c->split_sources)
            barrier_wait(&c->bar);   /* the others wait there for every worker */
        return;
    }
    uint64_t *cand = c->cand[b & 1], *prev_cand = c->cand[(b - 1) & 1];

    /* 1. reset and 2. clear: see the walk of step 6; the sums are already 0. */

    /* 3. sensory */
    for (uint32_t k = in->off[j]; k < in->off[j + 1]; k++)
        if (in->id[k] >= lo && in->id[k] < hi)
            fcl_add(c->sum, c->sum_live, cand, in->id[k], in->q[k]);
    if (in->range_off) {
        const bool to_units = ranges_fit_units(c, in, j);
        for (uint32_t g = in->range_off[j]; g < in->range_off[j + 1]; g++) {
            const struct npu_inject_range *r = &in->ranges[g];
            uint32_t first = max_u32(r->first, lo), last = min_u32(r->first + r->count, hi);
            const uint16_t ru = to_units ? (uint16_t)(r->q >> NPU_Q_SHIFT) : 0;
            if (r->all) {
                for (uint32_t i = first; i < last; i++)
                    range_add(c, cand, w->units16, i, r->q, ru);
                continue;
            }
            uint64_t picked[PICK_BLOCK / WORD_BITS];
            for (uint32_t i0 = first; i0 < last; i0 += PICK_BLOCK) {
                uint32_t n = min_u32(PICK_BLOCK, last - i0);
                c->pick_masks(r->key, r->threshold, i0, n, c->pick_pre, picked);
                for (uint32_t k0 = 0; k0 < n; k0 += WORD_BITS)
                    for (uint64_t m = picked[k0 / WORD_BITS]; m; m &= m - 1)
                        range_add(c, cand, w->units16, i0 + k0 + (uint32_t)__builtin_ctzll(m), r->q,
                                  ru);
            }
        }
    }

    /* 4. power */
    if (c->power_q != 0)
        for (uint32_t a = 0; a < net->n_areas; a++)
            if (net->areas[a].power) {
                uint32_t first = max_u32(net->areas[a].base, lo);
                uint32_t last = min_u32(net->areas[a].base + net->areas[a].count, hi);
                for (uint32_t i = first; i < last; i++)
                    fcl_add(c->sum, c->sum_live, cand, i, c->power_q);
            }

    /* 5. propagate last burst's fires (every worker's queue, in any order:
     * the sums are exact) */
    if (c->split_sources) {
        /* Chunks of all the fires, claimed as they are done: the two
         * vCPUs of the benchmark machine ran one thread at 26 and 43 us,
         * so with equal shares the faster one waited at the barrier. */
        atomic_uint *next = &c->claim[b & 1];
        uint32_t total = 0;
        for (uint32_t v = 0; v < c->n_workers; v++)
            total += c->w[v].q[(b - 1) & 1].n;
        const uint32_t chunk = max_u32(SPLIT_CHUNK, total / (8 * c->n_workers));
        for (;;) {
            uint32_t k0 = atomic_fetch_add_explicit(next, chunk, memory_order_relaxed);
            if (k0 >= total)
                break;
            uint32_t k1 = min_u32(k0 + chunk, total), seen = 0;
            for (uint32_t v = 0; v < c->n_workers && seen < k1; v++) {
                uint32_t n_queue = c->w[v].q[(b - 1) & 1].n;
                if (seen + n_queue > k0)
                    propagate_fires(c, w, cand, &c->w[v].q[(b - 1) & 1], max_u32(k0, seen) - seen,
                                    min_u32(k1 - seen, n_queue));
                seen += n_queue;
            }
        }
    } else {
        for (uint32_t v = 0; v < c->n_workers; v++)
            propagate_fires(c, w, cand, &c->w[v].q[(b - 1) & 1], 0, c->w[v].q[(b - 1) & 1].n);
    }
    if (c->split_sources) {
        barrier_wait(&c->bar);   /* every worker's adds are in */
        if (w->index == 0)       /* not claimed again before burst b + 2 */
            atomic_store_explicit(&c->claim[b & 1], 0, memory_order_relaxed);
        fold_units(c, w);
    }

    /* 6. dynamics, candidates in id order, after step 1's reset of the
     * previous candidates; 7. the fires come out ordered by id. */
    struct fireq *q = &w->q[b & 1];
    uint32_t n_q = 0;             /* q->n, stored once at the end */
    uint32_t area = net->area_of[lo];
    uint32_t area_end = net->areas[area].base + net->areas[area].count;
    for (uint32_t wd = lo / WORD_BITS; wd < (hi + WORD_BITS - 1) / WORD_BITS; wd++) {
        uint64_t reset = c->no_acc ? prev_cand[wd] & c->no_acc[wd] : 0, bits = cand[wd];
        prev_cand[wd] = 0;   /* it is the bitmap of the next burst */
        if (c->units_k || c->u16) {
            /* tagged and 16-bit units set no bits: a word that is not
             * zero was touched; the next burst's reset needs the whole set */
            bits |= c->nonzero_lanes(c, wd * WORD_BITS);
            cand[wd] = bits;
        }
        while (reset) {
            c->mp[wd * WORD_BITS + (uint32_t)__builtin_ctzll(reset)] = 0.0f;
            reset &= reset - 1;
        }
        uint32_t i0 = wd * WORD_BITS;
        bool live = c->sum_live[wd];
        c->sum_live[wd] = 0;
        if (bits && popcount64(bits) >= c->dense_min) {
            /* One dynamics_word per area the word's candidates lie in,
             * in id order, so the fires stay ordered by id. */
            while (bits) {
                uint32_t k_lo = (uint32_t)__builtin_ctzll(bits);
                while (i0 + k_lo >= area_end) {
                    area++;
                    area_end = net->areas[area].base + net->areas[area].count;
                }
                uint32_t k_hi = min_u32(area_end - i0, WORD_BITS);
                uint64_t mine = k_hi == WORD_BITS ? bits : bits & ((UINT64_C(1) << k_hi) - 1);
                bits &= ~mine;
                float fire_mp[WORD_BITS];
                uint64_t m = c->dynamics_word(c, &net->areas[area], i0, mine, live, b, fire_mp);
                for (; m; m &= m - 1) {
                    uint32_t k = (uint32_t)__builtin_ctzll(m);
                    q->id[n_q] = i0 + k;
                    q->mp[n_q++] = fire_mp[k];
                }
            }
            continue;
        }
        while (bits) {
            uint32_t i = wd * WORD_BITS + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            while (i >= area_end) {
                area++;
                area_end = net->areas[area].base + net->areas[area].count;
            }
            float fmp;
            int32_t u = c->u16 ? (int32_t)c->units16[i] : c->units[i];
            int64_t s = fcl_total(live ? (int64_t)c->sum[i] : 0, u, c->units_mask,
                                  c->units_sign);
            if (live)
                c->sum[i] = 0;
            if (c->u16)
                c->units16[i] = 0;
            else
                c->units[i] = 0;
            if (dynamics(c, &net->areas[area], i, b, npu_fx_to_float(s), &fmp)) {
                q->id[n_q] = i;
                q->mp[n_q++] = fmp;
            }
        }
    }
    q->n = n_q;
}

/* Appends burst b's fires, every worker's queue in range order, to the
 * slot as its j-th burst.  The caller's thread only. */
static int slot_append(struct cpu_backend *c, struct slot *s, uint32_t j, uint32_t b, struct npu_err *err)
{
    size_t n = 0;
    for (uint32_t v = 0; v < c->n_workers; v++)
        n += c->w[v].q[b & 1].n;
    int rc = npu_firebuf_reserve(&s->buf, s->count, s->n + n, err);
    if (rc)
        return rc;
    s->buf.off[j] = (uint32_t)s->n;
    for (uint32_t v = 0; v < c->n_workers; v++) {
        const struct fireq *q = &c->w[v].q[b & 1];
        if (q->n == 0)
            continue;   /* the arrays may not exist yet: memcpy of NULL is undefined */
        memcpy(s->buf.id + s->n, q->id, q->n * sizeof(*q->id));
        memcpy(s->buf.mp + s->n, q->mp, q->n * sizeof(*q->mp));
        s->n += q->n;
    }
    return NPU_OK;
}

/* The bursts of the current job, by worker w; every worker runs them in
 * step, with one barrier per burst.  Worker v's burst b reads the fires of
 * b-1 from all queues and writes only its own queue of b, whose previous
 * content (b-2's) worker 0 copied out before it reached the barrier of b-1.
 * Returns worker 0's error, if copying out failed. */
static int run_job(struct cpu_backend *c, struct worker *w, struct npu_err *err)
{
    const struct npu_inject *in = c->job.in;
    /* Copied: after the last barrier the caller may return and free *in
     * while this worker still tests the loop condition. */
    const uint32_t count = in->count, first = in->first_burst;
    int rc = NPU_OK;
    for (uint32_t j = 0; j < count; j++) {
        uint32_t b = first + j;
        run_burst(c, w, in, j, b);
        if (c->n_workers > 1)
            barrier_wait(&c->bar);
        if (w->index == 0 && !rc)
            rc = slot_append(c, c->job.slot, j, b, err);
    }
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct cpu_backend *c = w->c;
    for (;;) {
        barrier_wait(&c->bar);      /* a job, or quit */
        if (c->job.quit)
            return NULL;
        run_job(c, w, NULL);
    }
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
    int rc = npu_firebuf_reserve(&s->buf, in->count, 0, err);
    if (rc)
        return rc;
    s->first_burst = in->first_burst;
    s->count = in->count;
    s->n = 0;
    c->job = (struct batch_job){ .in = in, .slot = s };
    if (c->n_workers > 1)
        barrier_wait(&c->bar);      /* start the workers */
    rc = run_job(c, &c->w[0], err);
    c->burst += in->count;
    if (rc)
        return rc;
    s->buf.off[in->count] = (uint32_t)s->n;
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
        .off = s->buf.off, .id = s->buf.id, .mp = s->buf.mp,
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

static void stop_workers(struct cpu_backend *c)
{
    if (c->threads_running) {
        c->job = (struct batch_job){ .quit = true };
        barrier_wait(&c->bar);
        for (uint32_t v = 1; v < c->n_workers; v++)
            if (c->w[v].started)
                pthread_join(c->w[v].thread, NULL);
        barrier_destroy(&c->bar);
        c->threads_running = false;
    }
    for (uint32_t v = 0; v < c->n_workers; v++)
        for (int k = 0; k < 2; k++) {
            free(c->w[v].q[k].id);
            free(c->w[v].q[k].mp);
        }
    memset(c->w, 0, sizeof(c->w));
    c->n_workers = 0;
}

/* Splits [0, n) into ranges of whole bitmap words, one per worker, and
 * starts the threads (with want_threads 0, one per CPU but at least
 * min_per_thread neurons each); worker 0 is the caller's thread. */
static int start_workers(struct cpu_backend *c, uint32_t n, uint32_t min_per_thread,
                         struct npu_err *err)
{
    uint32_t t = c->want_threads;
    if (t == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        t = cpus > 0 ? (uint32_t)cpus : 1;
        uint32_t useful = n / min_per_thread;
        t = min_u32(t, useful > 0 ? useful : 1);
    }
    t = min_u32(min_u32(t, MAX_THREADS), c->n_words);
    memset(c->w, 0, sizeof(c->w));
    c->n_workers = t;
    uint32_t words_per = c->n_words / t, extra = c->n_words % t, wd = 0;
    for (uint32_t v = 0; v < t; v++) {
        struct worker *w = &c->w[v];
        uint32_t nw = words_per + (v < extra);
        *w = (struct worker){ .c = c, .index = v, .lo = min_u32(wd * WORD_BITS, n),
                              .hi = min_u32((wd + nw) * WORD_BITS, n) };
        wd += nw;
        size_t cap = w->hi > w->lo ? w->hi - w->lo : 1;
        for (int k = 0; k < 2; k++) {
            w->q[k].id = malloc(cap * sizeof(uint32_t));
            w->q[k].mp = malloc(cap * sizeof(float));
            if (!w->q[k].id || !w->q[k].mp) {
                stop_workers(c);
                return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the fire queues");
            }
        }
    }
    if (t == 1)
        return NPU_OK;
    barrier_init(&c->bar, t);
    c->threads_running = true;
    for (uint32_t v = 1; v < t; v++) {
        if (pthread_create(&c->w[v].thread, NULL, worker_main, &c->w[v]) != 0) {
            /* The started ones wait at the barrier for all t: count the
             * missing ones as arrived so the quit gets through. */
            pthread_mutex_lock(&c->bar.m);
            c->bar.n = v;
            pthread_mutex_unlock(&c->bar.m);
            stop_workers(c);
            return npu_err_set(err, NPU_E_RESOURCE, "cannot start CPU worker thread %u of %u", v + 1, t);
        }
        c->w[v].started = true;
    }
    return NPU_OK;
}

static void free_zeroed(struct zeroed *z)
{
    if (z->mapped)
        munmap(z->p, z->bytes);
    else
        free(z->p);
    *z = (struct zeroed){ 0 };
}

/* bytes of zeros.  Propagation adds into the sums at random, so on large
 * networks they go on huge pages where the system allows it: fewer TLB
 * misses per synaptic event. */
static void *alloc_zeroed(struct zeroed *z, size_t bytes)
{
    *z = (struct zeroed){ .bytes = bytes };
    if (bytes >= HUGE_PAGE) {
        size_t mapped = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        void *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
            madvise(p, mapped, MADV_HUGEPAGE);
#endif
            *z = (struct zeroed){ .p = p, .bytes = mapped, .mapped = true };
            return p;
        }
    }
    z->p = calloc(bytes ? bytes : 1, 1);
    return z->p;
}

/* The bytes of one neuron's units word. */
static size_t units_bytes(const struct cpu_backend *c)
{
    return c->u16 ? sizeof(uint16_t) : sizeof(int32_t);
}

/* c->row_split for the workers' ranges: one search per source and
 * thread boundary here instead of one per fired source and boundary in
 * every burst.  None with one worker or split_sources (whole rows), or
 * where a row is too long for the 16-bit offsets (the bursts search
 * instead). */
static int make_row_splits(struct cpu_backend *c, struct npu_err *err)
{
    const struct npu_net *net = c->net;
    uint32_t nb = c->n_workers - 1;
    c->row_split = NULL;
    if (nb == 0 || c->split_sources)
        return NPU_OK;
    for (uint32_t s = 0; s < net->n_neurons; s++)
        if (net->syn_off[s + 1] - net->syn_off[s] > UINT16_MAX)
            return NPU_OK;
    size_t count = (size_t)net->n_neurons * nb;
    uint16_t *sp = malloc((count ? count : 1) * sizeof(*sp));
    if (!sp)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the row splits of %u neurons",
                           net->n_neurons);
    for (uint32_t s = 0; s < net->n_neurons; s++) {
        uint32_t r0 = net->syn_off[s], r1 = net->syn_off[s + 1], e = r0;
        for (uint32_t v = 1; v <= nb; v++) {
            e = row_lower_bound(net->syn_target, e, r1, c->w[v].lo);
            sp[(size_t)s * nb + v - 1] = (uint16_t)(e - r0);
        }
    }
    c->row_split = sp;
    return NPU_OK;
}

/* Whether the workers may split the fired sources instead of the targets
 * (split_sources).  Each worker then claims chunks of all the fires and
 * propagates whole rows into its own copy of all the units, and after a
 * barrier adds the others' copies for its range into
 * c->units16 or c->units (fold_units).  Every row is then read by one
 * worker, not partly by each: with target splits both paid about 25 ns
 * for every fired row, so a second thread did not pay at 10k.  Only
 * where step 5 adds nothing but 16-bit or tagged units (every row
 * uniform), since the int64 sums and the candidate bits have one writer
 * per range, and only where a copy is small, since each worker's adds
 * then range over all of it. */
static bool sources_splittable(const struct cpu_backend *c)
{
    const struct npu_net *net = c->net;
    size_t n = (size_t)c->n_words * WORD_BITS;
    /* tagged units set no candidate bits either; plain int32 ones do */
    if (!(c->u16 || c->units_k) || c->split_mode == 1 ||
        (c->split_mode == 0 && n * units_bytes(c) > SPLIT_SOURCES_MAX_BYTES))
        return false;
    for (uint32_t a = 0; a < net->n_areas; a++) {
        const struct npu_area *ar = &net->areas[a];
        for (uint32_t s = ar->base; !ar->psp_uniform && s < ar->base + ar->count; s++)
            if (net->syn_off[s + 1] - net->syn_off[s] > 1)
                return false;   /* a divided row: into the int64 sums */
    }
    return true;
}

/* Sets split_sources, where sources_splittable said so, and there are
 * threads, and the workers' copies of the units. */
static int split_sources(struct cpu_backend *c, bool splittable, struct npu_err *err)
{
    size_t n = (size_t)c->n_words * WORD_BITS;
    c->split_sources = splittable && c->n_workers > 1;
    atomic_init(&c->claim[0], 0);
    atomic_init(&c->claim[1], 0);
    for (uint32_t v = 0; v < c->n_workers; v++) {
        c->w[v].units16 = c->units16;
        c->w[v].units = c->units;
    }
    if (!c->split_sources)
        return NPU_OK;
    char *more = alloc_zeroed(&c->more_mem, (c->n_workers - 1) * n * units_bytes(c));
    if (!more)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the threads' units of %u neurons",
                           c->net->n_neurons);
    for (uint32_t v = 1; v < c->n_workers; v++) {
        void *copy = more + (v - 1) * n * units_bytes(c);
        if (c->u16)
            c->w[v].units16 = copy;
        else
            c->w[v].units = copy;
    }
    return NPU_OK;
}

static void free_arrays(struct cpu_backend *c)
{
    stop_workers(c);
    free(c->mp);
    free(c->countdown);
    free(c->cfc);
    free_zeroed(&c->sum_mem);
    free_zeroed(&c->units_mem);
    free_zeroed(&c->more_mem);
    c->split_sources = false;
    c->sum = NULL;
    c->units = NULL;
    c->units16 = NULL;
    free(c->cand[0]);
    free(c->pick_pre);
    free(c->cand[1]);
    free(c->no_acc);
    free(c->area_wp);
    c->area_wp = NULL;
    free(c->row_split);
    c->row_split = NULL;
    free(c->sum_live);
    c->sum_live = NULL;
    c->mp = NULL;
    c->countdown = c->cfc = NULL;
    c->cand[0] = c->cand[1] = c->no_acc = NULL;
    c->pick_pre = NULL;
}

static int cpu_upload(struct npu_backend *be, const struct npu_net *net,
                      const struct npu_run_params *params, struct npu_err *err)
{
    struct cpu_backend *c = (struct cpu_backend *)be;
    free_arrays(c);
    size_t n_real = net->n_neurons ? net->n_neurons : 1;
    c->net = net;
    c->power_q = params->power_q;
    c->n_words = (uint32_t)((n_real + WORD_BITS - 1) / WORD_BITS);
    /* whole words: dynamics_word reads and writes back all 64 lanes */
    size_t n = (size_t)c->n_words * WORD_BITS;
    c->mp = calloc(n, sizeof(*c->mp));
    c->countdown = calloc(n, sizeof(*c->countdown));
    c->cfc = calloc(n, sizeof(*c->cfc));
    c->cand[0] = calloc(c->n_words, sizeof(uint64_t));
    c->cand[1] = calloc(c->n_words, sizeof(uint64_t));
    c->sum_live = calloc(c->n_words, 1);
    c->sum = alloc_zeroed(&c->sum_mem, n * sizeof(uint64_t));
    c->area_wp = malloc((net->n_areas ? net->n_areas : 1) * sizeof(*c->area_wp));
    if (n_real <= PICK_PRE_MAX_NEURONS)
        c->pick_pre = malloc(n_real * sizeof(*c->pick_pre));
    if (!c->sum || !c->sum_live || !c->mp || !c->countdown || !c->cfc ||
        !c->cand[0] || !c->cand[1] || !c->area_wp ||
        (n_real <= PICK_PRE_MAX_NEURONS && !c->pick_pre)) {
        free_arrays(c);
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the state of %u neurons",
                           net->n_neurons);
    }
    for (uint32_t i = 0; c->pick_pre && i < n_real; i++)
        c->pick_pre[i] = npu_fx_pcg(i);
    for (uint32_t a = 0; a < net->n_areas; a++) {
        const struct npu_area *ar = &net->areas[a];
        if (ar->accumulate || ar->count == 0)
            continue;
        if (!c->no_acc && !(c->no_acc = calloc(c->n_words, sizeof(uint64_t)))) {
            free_arrays(c);
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the state of %u neurons",
                               net->n_neurons);
        }
        for (uint32_t i = ar->base; i < ar->base + ar->count; i++)
            c->no_acc[i / WORD_BITS] |= UINT64_C(1) << (i % WORD_BITS);
    }
    /* The bound is a pass over the synapses (about 0.3 s at 100M). */
    c->narrow = c->u16 = false;
    c->units_k = 0;
    if (c->units_mode != 1) {
        struct npu_units_bound ub;
        int rc = npu_net_units_bound(net, &ub, err);
        if (rc) {
            free_arrays(c);
            return rc;
        }
        c->narrow = npu_fx_units_fit_int32(&ub);
        c->u16 = c->narrow && c->units_mode == 0 && npu_fx_units_fit_u16(&ub);
        c->u16_room = c->u16 ? UINT16_MAX - ub.max_fanin * ub.max_units : 0;
        if (c->narrow && !c->u16 && (c->units_mode == 0 || c->units_mode == 3))
            c->units_k = npu_fx_units_tag_shift(&ub);
    }
    /* zero when !narrow: the dynamics read them all the same */
    void *units = alloc_zeroed(&c->units_mem, n * (c->u16 ? sizeof(uint16_t) : sizeof(int32_t)));
    if (!units) {
        free_arrays(c);
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the state of %u neurons",
                           net->n_neurons);
    }
    c->units = c->u16 ? NULL : units;
    c->units16 = c->u16 ? units : NULL;
    /* the identity for plain int32 units */
    c->units_mask = c->units_k ? (UINT32_C(1) << c->units_k) - 1 : UINT32_MAX;
    c->units_sign = c->units_k ? UINT32_C(1) << (c->units_k - 1) : 0;
    /* Rows of an area whose synapses share one word are propagated, and
     * prefetched, without their words. */
    c->any_var_wp = false;
    for (uint32_t a = 0; a < net->n_areas; a++) {
        const struct npu_area *ar = &net->areas[a];
        uint16_t wp;
        c->area_wp[a] = !c->const_wp_off && npu_net_area_wp(net, a, &wp) ? wp : NO_CONST_WP;
        bool has_rows = net->syn_off[ar->base + ar->count] > net->syn_off[ar->base];
        c->any_var_wp |= has_rows && c->area_wp[a] == NO_CONST_WP;
    }
    const bool splittable = sources_splittable(c);
    int rc = start_workers(c, net->n_neurons,
                           splittable ? MIN_NEURONS_PER_SPLIT_THREAD : MIN_NEURONS_PER_THREAD, err);
    if (rc) {
        free_arrays(c);
        return rc;
    }
    rc = split_sources(c, splittable, err);
    if (rc) {
        free_arrays(c);
        return rc;
    }
    /* each worker adds into its own range of the sums, or with
     * split_sources into its whole copy of the units */
    c->prefetch_sums = n * (c->u16 ? sizeof(uint16_t) : c->narrow ? sizeof(int32_t) : sizeof(uint64_t)) /
                       (c->split_sources ? 1 : c->n_workers) > PREFETCH_SUMS_BYTES;
    rc = make_row_splits(c, err);
    if (rc) {
        free_arrays(c);
        return rc;
    }
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
        npu_firebuf_free(&c->slots[k].buf);
    }
    free(c);
}

static int cpu_create(const struct npu_backend_cfg *cfg, struct npu_backend **out,
                      struct npu_err *err)
{
    /* aligned like its members (struct worker, struct barrier) */
    size_t bytes = (sizeof(struct cpu_backend) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    struct cpu_backend *c = aligned_alloc(CACHE_LINE, bytes);
    *out = NULL;
    if (!c)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    memset(c, 0, bytes);
    c->base.ops = &npu_backend_cpu;
    c->want_threads = cfg->threads;
    /* NPUSIM_CPU_ISA=portable keeps the plain C versions, so the tests can
     * hold them to the rules on a machine that would take the vector ones. */
    const char *isa = getenv("NPUSIM_CPU_ISA");
    bool portable = isa && strcmp(isa, "portable") == 0;
    if (isa && *isa && !portable) {
        free(c);
        return npu_err_set(err, NPU_E_USAGE, "NPUSIM_CPU_ISA is '%s', not portable", isa);
    }
    c->dynamics_word = dynamics_word_c;
    c->nonzero_lanes = nonzero_lanes_c;
    c->pick_masks = pick_masks_c;
    bool vector = false;
#ifdef HAVE_CPU_AVX512
    if (!portable && cpu_has_avx512()) {
        c->dynamics_word = dynamics_word_avx512;
        c->nonzero_lanes = nonzero_lanes_avx512;
        c->pick_masks = pick_masks_avx512;
        vector = true;
    }
#endif
    /* The portable dynamics_word takes about three times the instructions
     * of visiting the candidates one by one, so the automatic choice uses
     * it only in its vector versions. */
    const char *dense = getenv("NPUSIM_CPU_DENSE");
    c->dense_min = vector ? DENSE_MIN_DEFAULT : DENSE_NEVER;
    if (dense && strcmp(dense, "always") == 0)
        c->dense_min = 1;
    else if (dense && strcmp(dense, "never") == 0)
        c->dense_min = DENSE_NEVER;
    else if (dense && *dense) {
        free(c);
        return npu_err_set(err, NPU_E_USAGE, "NPUSIM_CPU_DENSE is '%s', not always or never",
                           dense);
    }
    /* NPUSIM_CPU_SPLIT=targets or =sources: how threads share step 5
     * (sources wherever the units allow it, whatever their size), so the
     * tests run both */
    const char *split = getenv("NPUSIM_CPU_SPLIT");
    c->split_mode = !split || !*split ? 0 : strcmp(split, "targets") == 0 ? 1
                    : strcmp(split, "sources") == 0 ? 2 : -1;
    if (c->split_mode < 0) {
        free(c);
        return npu_err_set(err, NPU_E_USAGE, "NPUSIM_CPU_SPLIT is '%s', not targets or sources",
                           split);
    }
    /* NPUSIM_CPU_UNITS=off sums everything in int64, =int32 in plain int32
     * units (never tagged), =tagged in tagged int32 units (never 16 bits),
     * so the engine tests hold each path to every rule as well. */
    const char *units = getenv("NPUSIM_CPU_UNITS");
    c->units_mode = !units || !*units ? 0 : strcmp(units, "off") == 0 ? 1
                  : strcmp(units, "int32") == 0 ? 2 : strcmp(units, "tagged") == 0 ? 3 : -1;
    if (c->units_mode < 0) {
        free(c);
        return npu_err_set(err, NPU_E_USAGE,
                           "NPUSIM_CPU_UNITS is '%s', not off, int32 or tagged", units);
    }
    /* NPUSIM_CPU_CONST_WP=off decodes every synapse's weight word even
     * where the area's are all one, so the engine tests hold both ways of
     * propagating to every rule. */
    const char *cw = getenv("NPUSIM_CPU_CONST_WP");
    if (cw && *cw && strcmp(cw, "off") != 0) {
        free(c);
        return npu_err_set(err, NPU_E_USAGE, "NPUSIM_CPU_CONST_WP is '%s', not off", cw);
    }
    c->const_wp_off = cw && *cw;
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
