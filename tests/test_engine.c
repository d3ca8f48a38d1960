/* Behaviour tests of the burst engine: one test (at least) for every rule of
 * SEMANTICS.md, run on the CPU reference backend through the backend API.
 *
 * Networks are built by hand, expected values are computed here with
 * explicit binary32 operations (or integers for the fixed-point FCL), never
 * by calling src/fixed.h, so a mistake there shows up as a failure here.
 * Each test names the rule it checks in the comment above it. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "fixed.h"
#include "net.h"

/* ------------------------------------------------------------------------ */
/* Helpers: building networks, running bursts, comparing bits.              */

#define Q1 INT64_C(65536)                 /* 1.0 in FCL units */
#define QOF(x) ((int64_t)((x) * 65536.0)) /* only for values that are exact in Q16 */
#define FQ_MAX 65536

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

/* Compares the bits, so -0.0 vs 0.0 and any last-bit difference fail. */
#define assert_float_bits(a, b) assert_int_equal(f2u(a), f2u(b))

static struct npu_area area_at(uint32_t base, uint32_t count)
{
    return (struct npu_area){
        .name = "a",
        .base = base,
        .count = count,
        .dim = { count, 1, 1 },
        .threshold = 1.0f,
        .leak = 0.0f,
        .keep = 1.0f,
        .excitability = 1.0f,
        .accumulate = true,
        .psp_uniform = true,
    };
}

static void set_leak(struct npu_area *a, float leak)
{
    a->leak = leak;
    a->keep = 1.0f - leak;   /* binary32, as the loader does */
}

struct syn {
    uint32_t s, t;
    uint8_t w, psp;
    bool inh;
};

/* A network of the given areas (consecutive, the last one ends the id
 * range) and synapses (any order: a stable counting sort by source keeps
 * the given order per source, which callers give ascending by target). */
static struct npu_net *build(const struct npu_area *areas, uint32_t n_areas, const struct syn *syn,
                             uint64_t n_syn)
{
    struct npu_err err = { 0 };
    struct npu_net *net = calloc(1, sizeof(*net));
    assert_non_null(net);
    net->areas = calloc(n_areas, sizeof(*net->areas));
    assert_non_null(net->areas);
    memcpy(net->areas, areas, n_areas * sizeof(*areas));
    for (uint32_t a = 0; a < n_areas; a++)
        snprintf(net->areas[a].name, sizeof(net->areas[a].name), "a%u", a);
    net->n_areas = n_areas;
    net->n_neurons = areas[n_areas - 1].base + areas[n_areas - 1].count;
    net->n_synapses = n_syn;
    assert_int_equal(npu_net_alloc_arrays(net, &err), NPU_OK);
    for (uint32_t a = 0; a < n_areas; a++)
        for (uint32_t i = 0; i < areas[a].count; i++)
            net->area_of[areas[a].base + i] = (uint16_t)a;
    memset(net->syn_off, 0, ((size_t)net->n_neurons + 1) * sizeof(uint32_t));
    for (uint64_t e = 0; e < n_syn; e++)
        net->syn_off[syn[e].s + 1]++;
    for (uint32_t s = 0; s < net->n_neurons; s++)
        net->syn_off[s + 1] += net->syn_off[s];
    uint32_t *fill = calloc(net->n_neurons + 1, sizeof(uint32_t));
    assert_non_null(fill);
    for (uint64_t e = 0; e < n_syn; e++) {
        uint32_t at = net->syn_off[syn[e].s] + fill[syn[e].s]++;
        net->syn_target[at] = syn[e].t | (syn[e].inh ? NPU_SYN_INHIBITORY : 0);
        net->syn_wp[at] = (uint16_t)(syn[e].w | (syn[e].psp << 8));
    }
    free(fill);
    return net;
}

struct fq {
    uint32_t n;
    uint32_t id[FQ_MAX];
    float mp[FQ_MAX];
};

struct inj {
    uint32_t id;
    int64_t q;
};

/* One backend, stepped one burst at a time. */
struct eng {
    struct npu_backend *be;
    uint32_t b;            /* last burst run */
    struct fq fq;          /* its fire queue */
    struct npu_state st;   /* state after it, after eng_state() */
};

static struct eng *eng_open_threads(const struct npu_net *net, int64_t power_q, uint32_t threads)
{
    struct npu_err err = { 0 };
    struct eng *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    struct npu_backend_cfg cfg = { .device_index = NPU_DEVICE_ANY, .threads = threads };
    struct npu_run_params params = { .power_q = power_q };
    int rc = npu_backend_open(&npu_backend_cpu, &cfg, net, &params, &e->be, &err);
    if (rc)
        fail_msg("npu_backend_open: %s", err.msg);
    return e;
}

static struct eng *eng_open(const struct npu_net *net, int64_t power_q)
{
    return eng_open_threads(net, power_q, 0);
}

static void eng_close(struct eng *e)
{
    npu_state_free(&e->st);
    npu_backend_destroy(e->be);
    free(e);
}

/* Runs the next burst with the given stimuli and range stimuli; returns
 * its fire queue. */
static const struct fq *eng_step_ranges(struct eng *e, const struct inj *in, uint32_t n,
                                        const struct npu_inject_range *ranges, uint32_t n_ranges)
{
    struct npu_err err = { 0 };
    uint32_t *id = malloc((n ? n : 1) * sizeof(uint32_t));
    int64_t *q = malloc((n ? n : 1) * sizeof(int64_t));
    assert_non_null(id);
    assert_non_null(q);
    for (uint32_t k = 0; k < n; k++) {
        id[k] = in[k].id;
        q[k] = in[k].q;
    }
    uint32_t off[2] = { 0, n }, range_off[2] = { 0, n_ranges };
    struct npu_inject inject = { .first_burst = e->b + 1, .count = 1, .off = off, .id = id, .q = q,
                                 .range_off = n_ranges ? range_off : NULL, .ranges = ranges };
    if (e->be->ops->submit(e->be, &inject, &err))
        fail_msg("submit: %s", err.msg);
    free(id);
    free(q);
    struct npu_fires f;
    if (e->be->ops->collect(e->be, &f, &err))
        fail_msg("collect: %s", err.msg);
    e->b++;
    assert_int_equal(f.first_burst, e->b);
    assert_int_equal(f.count, 1);
    e->fq.n = f.off[1] - f.off[0];
    assert_true(e->fq.n <= FQ_MAX);
    for (uint32_t k = 0; k < e->fq.n; k++) {
        e->fq.id[k] = f.id[f.off[0] + k];
        e->fq.mp[k] = f.mp[f.off[0] + k];
    }
    return &e->fq;
}

static const struct fq *eng_step(struct eng *e, const struct inj *in, uint32_t n)
{
    return eng_step_ranges(e, in, n, NULL, 0);
}

static const struct fq *eng_step0(struct eng *e)
{
    return eng_step(e, NULL, 0);
}

static const struct fq *eng_step1(struct eng *e, uint32_t id, int64_t q)
{
    struct inj in = { id, q };
    return eng_step(e, &in, 1);
}

static const struct npu_state *eng_state(struct eng *e)
{
    struct npu_err err = { 0 };
    npu_state_free(&e->st);
    if (e->be->ops->read_state(e->be, &e->st, &err))
        fail_msg("read_state: %s", err.msg);
    return &e->st;
}

/* The fire queue must be exactly these (id, mp bits) pairs. */
static void expect_fires(const struct fq *fq, uint32_t n, const uint32_t *id, const float *mp)
{
    assert_int_equal(fq->n, n);
    for (uint32_t k = 0; k < n; k++) {
        assert_int_equal(fq->id[k], id[k]);
        assert_float_bits(fq->mp[k], mp[k]);
    }
}

static void expect_no_fires(const struct fq *fq)
{
    assert_int_equal(fq->n, 0);
}

static void expect_one_fire(const struct fq *fq, uint32_t id, float mp)
{
    expect_fires(fq, 1, &id, &mp);
}

/* ------------------------------------------------------------------------ */
/* Step 1: reset.                                                           */

/* 1: every neuron with accumulate = false starts the burst at mp = 0, even
 * one that is not a candidate this burst; accumulating neurons keep theirs. */
static void test_step1_reset_non_accumulating(void **state)
{
    (void)state;
    struct npu_area a[2] = { area_at(0, 1), area_at(1, 1) };
    a[0].accumulate = false;
    a[0].threshold = a[1].threshold = 4.0f;
    struct npu_net *net = build(a, 2, NULL, 0);
    struct eng *e = eng_open(net, 0);

    struct inj both3[] = { { 0, 3 * Q1 }, { 1, 3 * Q1 } };
    expect_no_fires(eng_step(e, both3, 2));
    assert_float_bits(eng_state(e)->mp[0], 3.0f);   /* reset comes at the next burst */
    assert_float_bits(e->st.mp[1], 3.0f);

    /* Neuron 0 restarts from 0 (2 < 4), neuron 1 accumulates to 5 and fires. */
    struct inj both2[] = { { 0, 2 * Q1 }, { 1, 2 * Q1 } };
    expect_one_fire(eng_step(e, both2, 2), 1, 5.0f);
    assert_float_bits(eng_state(e)->mp[0], 2.0f);

    /* Not a candidate in burst 3, still reset. */
    expect_no_fires(eng_step1(e, 1, 3 * Q1));
    assert_float_bits(eng_state(e)->mp[0], 0.0f);
    assert_float_bits(e->st.mp[1], 3.0f);

    /* Burst 4: neither a candidate: neuron 1 keeps its 3, neuron 0 stays 0. */
    expect_no_fires(eng_step0(e));
    assert_float_bits(eng_state(e)->mp[0], 0.0f);
    assert_float_bits(e->st.mp[1], 3.0f);
    eng_close(e);
    npu_net_free(net);
}

/* 1: a non-accumulating neuron whose burst ended with a non-zero mp (it
 * leaked below threshold) is reset although it gets nothing for two bursts. */
static void test_step1_reset_after_leak(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 1);
    a.accumulate = false;
    a.threshold = 10.0f;
    set_leak(&a, 0.25f);
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    expect_no_fires(eng_step1(e, 0, 4 * Q1));
    assert_float_bits(eng_state(e)->mp[0], 3.0f);     /* 4 * 0.75 */
    expect_no_fires(eng_step0(e));
    assert_float_bits(eng_state(e)->mp[0], 0.0f);
    expect_no_fires(eng_step0(e));
    assert_float_bits(eng_state(e)->mp[0], 0.0f);
    expect_no_fires(eng_step1(e, 0, 1 * Q1));
    assert_float_bits(eng_state(e)->mp[0], 0.75f);    /* (0 + 1) * 0.75, not (0.x + 1) */
    eng_close(e);
    npu_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Steps 2-5: the FCL of one burst.                                         */

/* 2: the FCL is cleared every burst: last burst's sums neither add to this
 * burst's nor make a neuron a candidate again. */
static void test_step2_clear(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 1);
    a.threshold = 10.0f;
    set_leak(&a, 0.5f);
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    expect_no_fires(eng_step1(e, 0, 3 * Q1));
    assert_float_bits(eng_state(e)->mp[0], 1.5f);
    expect_no_fires(eng_step1(e, 0, 1 * Q1));
    assert_float_bits(eng_state(e)->mp[0], 1.25f);   /* (1.5 + 1) * 0.5; uncleared: (1.5 + 4) * 0.5 */
    expect_no_fires(eng_step0(e));
    assert_float_bits(eng_state(e)->mp[0], 1.25f);   /* not a candidate: no leak */
    eng_close(e);
    npu_net_free(net);
}

/* 3: a stimulus of burst b is added in burst b only, to its neuron only. */
static void test_step3_sensory(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 3);
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    expect_one_fire(eng_step1(e, 1, QOF(1.5)), 1, 1.5f);
    expect_no_fires(eng_step0(e));
    const struct npu_state *st = eng_state(e);
    assert_float_bits(st->mp[0], 0.0f);
    assert_float_bits(st->mp[2], 0.0f);
    eng_close(e);
    npu_net_free(net);
}

/* 3 with range stimuli (whole areas, `random P`) on top of explicit ones
 * and synaptic input, each neuron getting the exact sum of what reaches
 * it.  The CPU's 16-bit units (every synapse excitatory, fan-in 1 times
 * 255 * 255 leaves room for 510 units) also take a burst's range stimuli
 * where each is a whole positive number of units and together they fit
 * that room: 3 + 5 and then exactly 510 do, 300 + 211 do not (with the
 * synapse's 65025 they would wrap to 0 in 16 bits), and neither do 0 (a
 * candidate all the same, so it leaks), -5 nor 1.5. */
static void test_step3_range_stimuli(void **state)
{
    (void)state;
    enum { N = 130 };
    struct npu_area a = area_at(0, N);       /* three bitmap words */
    a.threshold = 1e30f;
    set_leak(&a, 0.5f);
    struct npu_area s = area_at(N, 2);
    const struct syn syn[] = { { N, 5, 255, 1, false }, { N + 1, 70, 255, 255, false } };
    struct npu_area areas[] = { a, s };
    struct npu_net *net = build(areas, 2, syn, 2);
    struct eng *e = eng_open(net, 0);
    const uint32_t key = 0x9e3779b9u, half = 0x80000000u;
    const struct npu_inject_range r1[] = {
        { .first = 0, .count = N, .all = 1, .q = 3 * Q1 },
        { .first = 0, .count = N, .key = key, .threshold = half, .q = 5 * Q1 },
    };
    const struct npu_inject_range r2[] = { { .first = 0, .count = N, .all = 1, .q = 510 * Q1 } };
    const struct npu_inject_range r3[] = {
        { .first = 0, .count = N, .all = 1, .q = 300 * Q1 },
        { .first = 0, .count = N, .all = 1, .q = 211 * Q1 },
    };
    const struct npu_inject_range r4[] = {
        { .first = 0, .count = 64, .all = 1, .q = 0 },
        { .first = 64, .count = N - 64, .all = 1, .q = 2 * Q1 },
    };
    const struct npu_inject_range r5[] = {
        { .first = 0, .count = N, .all = 1, .q = 4 * Q1 },
        { .first = 100, .count = N - 100, .all = 1, .q = -5 * Q1 },
    };
    const struct npu_inject_range r6[] = { { .first = 0, .count = N, .all = 1, .q = QOF(1.5) } };
    double want[N];
    uint32_t picks = 0;
    for (uint32_t i = 0; i < N; i++) {
        bool picked = npu_fx_pick_hash(key, i) < half;
        picks += picked;
        want[i] = (3.0 + (picked ? 5.0 : 0.0)) * 0.5;
    }
    assert_true(picks > 20 && picks < N - 20);
    struct inj fire_s[] = { { N, Q1 }, { N + 1, Q1 } };
    uint32_t s_id[] = { N, N + 1 };
    float s_mp[] = { 1.0f, 1.0f };
    expect_fires(eng_step_ranges(e, fire_s, 2, r1, 2), 2, s_id, s_mp);
    struct inj in2[] = { { N + 1, Q1 }, { 6, QOF(0.25) } };
    expect_one_fire(eng_step_ranges(e, in2, 2, r2, 1), N + 1, 1.0f);
    for (uint32_t i = 0; i < N; i++)
        want[i] = (want[i] + 510.0 + (i == 5 ? 255.0 : i == 70 ? 65025.0 : i == 6 ? 0.25 : 0.0)) * 0.5;
    expect_no_fires(eng_step_ranges(e, NULL, 0, r3, 2));
    for (uint32_t i = 0; i < N; i++)
        want[i] = (want[i] + 511.0 + (i == 70 ? 65025.0 : 0.0)) * 0.5;
    expect_no_fires(eng_step_ranges(e, NULL, 0, r4, 2));
    for (uint32_t i = 0; i < N; i++)
        want[i] = (want[i] + (i < 64 ? 0.0 : 2.0)) * 0.5;
    expect_no_fires(eng_step_ranges(e, NULL, 0, r5, 2));
    for (uint32_t i = 0; i < N; i++)
        want[i] = (want[i] + (i < 100 ? 4.0 : -1.0)) * 0.5;
    expect_no_fires(eng_step_ranges(e, NULL, 0, r6, 1));
    for (uint32_t i = 0; i < N; i++)
        want[i] = (want[i] + 1.5) * 0.5;
    const struct npu_state *st = eng_state(e);
    for (uint32_t i = 0; i < N; i++)
        assert_float_bits(st->mp[i], (float)want[i]);
    eng_close(e);
    npu_net_free(net);
}

/* 3: a random range picks exactly the neurons of npu_fx_pick_hash in
 * [first, first + count), on a range that starts and ends inside a bitmap
 * word, in a network small enough for the CPU's table of the hash's first
 * half and in one above its 2^18 neurons, which hashes twice. */
static void check_random_picks(uint32_t n)
{
    struct npu_area a = area_at(0, n);
    a.threshold = 1e30f;
    set_leak(&a, 0.5f);
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    const uint32_t key = 0x2545f491u, third = 0x55555555u, first = n / 3 + 7;
    const struct npu_inject_range r[] = {
        { .first = first, .count = n - first - 5, .key = key, .threshold = third, .q = 6 * Q1 },
    };
    expect_no_fires(eng_step_ranges(e, NULL, 0, r, 1));
    const struct npu_state *st = eng_state(e);
    uint32_t picks = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool picked = i >= first && i < n - 5 && npu_fx_pick_hash(key, i) < third;
        picks += picked;
        assert_float_bits(st->mp[i], picked ? 3.0f : 0.0f);
    }
    assert_true(picks > (n - first) / 4 && picks < (n - first) / 2);
    eng_close(e);
    npu_net_free(net);
}

static void test_step3_random_picks(void **state)
{
    (void)state;
    check_random_picks(1000);
    check_random_picks((1u << 18) + 100);
}

/* 3 + FCL: two stimuli on the same neuron in the same burst add up. */
static void test_sensory_two_stimuli_add(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 2);
    a.threshold = 1.25f;
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    struct inj in[] = { { 1, QOF(0.75) }, { 0, QOF(0.75) }, { 1, QOF(0.5) } };
    expect_one_fire(eng_step(e, in, 3), 1, 1.25f);
    assert_float_bits(eng_state(e)->mp[0], 0.75f);
    eng_close(e);
    npu_net_free(net);
}

/* 4: the power amount goes to every neuron of every power area each burst,
 * adding to sensory input; other areas get nothing. */
static void test_step4_power(void **state)
{
    (void)state;
    struct npu_area a[2] = { area_at(0, 2), area_at(2, 1) };
    a[0].power = true;
    a[0].threshold = a[1].threshold = 2.0f;
    struct npu_net *net = build(a, 2, NULL, 0);
    struct eng *e = eng_open(net, QOF(0.75));
    expect_no_fires(eng_step1(e, 0, QOF(0.5)));
    const struct npu_state *st = eng_state(e);
    assert_float_bits(st->mp[0], 1.25f);
    assert_float_bits(st->mp[1], 0.75f);
    assert_float_bits(st->mp[2], 0.0f);
    expect_one_fire(eng_step0(e), 0, 2.0f);
    expect_one_fire(eng_step0(e), 1, 2.25f);
    st = eng_state(e);
    assert_float_bits(st->mp[0], 0.75f);
    assert_float_bits(st->mp[1], 0.0f);
    assert_float_bits(st->mp[2], 0.0f);
    eng_close(e);
    npu_net_free(net);
}

/* 4 + backend.h: power 0 is off: power neurons are not candidates, so they
 * neither leak nor count their refractory period down. */
static void test_power_zero_is_off(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 2);
    a.power = true;
    a.threshold = 1.0f;
    a.refractory = 3;
    set_leak(&a, 0.5f);
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    struct inj in[] = { { 0, Q1 }, { 1, QOF(0.5) } };
    expect_one_fire(eng_step(e, in, 2), 0, 1.0f);
    for (int k = 0; k < 5; k++) {
        expect_no_fires(eng_step0(e));
        const struct npu_state *st = eng_state(e);
        assert_int_equal(st->countdown[0], 3);
        assert_float_bits(st->mp[1], 0.25f);
    }
    eng_close(e);
    npu_net_free(net);
}

/* 5: the neurons that fired in burst b-1 (and only those) send each
 * outgoing synapse's contribution, type * weight * psp, in burst b; a chain
 * 0 -> 5 -> 6 -> 7 -> 8 moves one neuron per burst. */
static void test_step5_propagate(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 4);
    struct npu_area b = area_at(4, 5);
    b.threshold = 6.0f;
    struct syn syn[] = {
        { 0, 1, 1, 1, true },    /* -1 */
        { 0, 5, 2, 3, false },   /* +6 */
        { 3, 2, 1, 1, false },   /* 3 never fires */
        { 5, 6, 3, 2, false },
        { 6, 7, 6, 1, false },
        { 7, 4, 1, 1, true },
        { 7, 8, 1, 6, false },
    };
    struct npu_area areas[] = { a, b };
    struct npu_net *net = build(areas, 2, syn, 7);
    struct eng *e = eng_open(net, 0);
    expect_one_fire(eng_step1(e, 0, Q1), 0, 1.0f);   /* not in the same burst */
    expect_one_fire(eng_step0(e), 5, 6.0f);
    const struct npu_state *st = eng_state(e);
    assert_float_bits(st->mp[1], -1.0f);
    assert_float_bits(st->mp[2], 0.0f);
    expect_one_fire(eng_step0(e), 6, 6.0f);           /* 0's fire is not re-sent */
    assert_float_bits(eng_state(e)->mp[1], -1.0f);
    expect_one_fire(eng_step0(e), 7, 6.0f);
    expect_one_fire(eng_step0(e), 8, 6.0f);
    assert_float_bits(eng_state(e)->mp[4], -1.0f);
    expect_no_fires(eng_step0(e));
    eng_close(e);
    npu_net_free(net);
}

/* 5 again where every synapse is excitatory with weight * psp >= 1, which
 * the CPU sums in 16-bit units: weight and psp multiply, in rows of their
 * own words (area a) and in rows of an area whose synapses share one (b),
 * two synapses to one target add, and the two areas of one bitmap word
 * each keep their own input. */
static void test_step5_propagate_excitatory(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 4);
    struct npu_area b = area_at(4, 5);
    a.threshold = b.threshold = 100.0f;
    struct syn syn[] = {
        { 0, 1, 3, 5, false },   /* +15 */
        { 0, 2, 2, 7, false },   /* +14 */
        { 0, 5, 4, 4, false },   /* +16 */
        { 0, 5, 1, 2, false },   /* +2 */
        { 0, 8, 1, 1, false },   /* +1 */
        { 3, 6, 9, 9, false },   /* 3 never fires */
        { 4, 5, 3, 3, false },   /* +9: b's one word, a row long enough */
        { 4, 6, 3, 3, false },   /* +9   for the unrolled loop, with two */
        { 4, 6, 3, 3, false },   /* +9   synapses to one target inside */
        { 4, 7, 3, 3, false },   /* +9   one block of four, */
        { 4, 8, 3, 3, false },   /* +9   and one after it */
    };
    struct npu_area areas[] = { a, b };
    struct npu_net *net = build(areas, 2, syn, sizeof(syn) / sizeof(syn[0]));
    struct eng *e = eng_open(net, 0);
    struct inj in[] = { { 0, 100 * Q1 }, { 4, 100 * Q1 } };
    uint32_t id1[] = { 0, 4 };
    float mp1[] = { 100.0f, 100.0f };
    expect_fires(eng_step(e, in, 2), 2, id1, mp1);
    expect_no_fires(eng_step0(e));
    const struct npu_state *st = eng_state(e);
    const float want[9] = { 0.0f, 15.0f, 14.0f, 0.0f, 0.0f, 27.0f, 18.0f, 9.0f, 10.0f };
    for (int i = 0; i < 9; i++)
        assert_float_bits(st->mp[i], want[i]);
    expect_no_fires(eng_step0(e));           /* nothing is sent twice */
    st = eng_state(e);
    for (int i = 0; i < 9; i++)
        assert_float_bits(st->mp[i], want[i]);
    eng_close(e);
    npu_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Fixed-point FCL.                                                         */

/* FCL: sums are exact int64 in units of 2^-16: 2^24 + 2^-16 - 2^24 is 2^-16,
 * where float32 summation would give 0. */
static void test_fcl_exact_integer_sum(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 2);
    a.threshold = 1e30f;
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    const int64_t big = INT64_C(1) << 40;
    struct inj in[] = { { 0, big }, { 0, 1 }, { 0, -big },
                        { 1, 1 }, { 1, big }, { 1, -big }, { 1, 1 } };
    expect_no_fires(eng_step(e, in, 7));
    const struct npu_state *st = eng_state(e);
    assert_float_bits(st->mp[0], 0x1p-16f);
    assert_float_bits(st->mp[1], 0x1p-15f);
    eng_close(e);
    npu_net_free(net);
}

/* FCL: the CPU sums uniform synaptic input in int32 units of 65536 only
 * where no neuron has more than 33025 incoming synapses (33025 * 255 * 255
 * < 2^31); at the edge the sums are still exact.  One target gets one
 * synapse from each of n_src sources of weight 255 and psp 255, all firing
 * in burst 1: 33025 of them sum to 2,147,450,625 units, excitatory or
 * inhibitory, in the int32 path; 33026 sum to 2,147,515,650, which int32
 * cannot hold, so the int64 path must take them.  mp_driven_psp sources
 * whose synapses say psp 1 fire at mp 300 and so pass on 255. */
static void fcl_units_edge(uint32_t n_src, uint8_t psp, bool inhibitory, bool mp_driven)
{
    struct npu_area a[2] = { area_at(0, n_src), area_at(n_src, 1) };
    a[0].mp_driven_psp = mp_driven;
    a[1].threshold = 1e30f;
    struct syn *syn = calloc(n_src, sizeof(*syn));
    struct inj *in = calloc(n_src, sizeof(*in));
    assert_non_null(syn);
    assert_non_null(in);
    for (uint32_t s = 0; s < n_src; s++) {
        syn[s] = (struct syn){ .s = s, .t = n_src, .w = 255, .psp = mp_driven ? 1 : psp,
                               .inh = inhibitory };
        in[s] = (struct inj){ s, mp_driven ? QOF(300.0) : QOF(1.0) };
    }
    int64_t total = (int64_t)n_src * 255 * (mp_driven ? 255 : psp) * (inhibitory ? -1 : 1);
    struct npu_net *net = build(a, 2, syn, n_src);
    struct eng *e = eng_open(net, 0);
    assert_int_equal(eng_step(e, in, n_src)->n, n_src);   /* every source fires */
    expect_no_fires(eng_step0(e));
    const struct npu_state *st = eng_state(e);
    assert_float_bits(st->mp[n_src], (float)(total * NPU_Q_ONE) * (1.0f / 65536));
    eng_close(e);
    npu_net_free(net);
    free(syn);
    free(in);
}

static void test_fcl_units_edge(void **state)
{
    (void)state;
    assert_true((int64_t)33025 * 255 * 255 <= INT32_MAX);
    assert_true((int64_t)33026 * 255 * 255 > INT32_MAX);
    fcl_units_edge(33025, 255, false, false);
    fcl_units_edge(33025, 255, true, false);
    fcl_units_edge(33026, 255, false, false);
    fcl_units_edge(33026, 255, true, false);
    fcl_units_edge(33025, 255, false, true);
    fcl_units_edge(33026, 255, false, true);
    /* and the 16-bit units' edge: 257 * 255 = 65535 fits them (read as a
     * signed 16-bit number it would be -1); 258 * 255 = 65790 does not (in
     * 16 bits it would be 254) */
    fcl_units_edge(257, 1, false, false);
    fcl_units_edge(258, 1, false, false);
    fcl_units_edge(257, 1, true, false);
}

/* The bound behind both 32-bit sums: the largest fan-in of undivided
 * synapses (psp_uniform sources, or sources with one synapse) and their
 * largest weight * psp_used, psp_used being 255 for an mp-driven source
 * whatever its synapses say; divided synapses do not count. */
static void test_units_bound(void **state)
{
    (void)state;
    struct npu_area a[4] = { area_at(0, 3), area_at(3, 2), area_at(5, 1), area_at(6, 2) };
    a[1].mp_driven_psp = true;
    a[2].psp_uniform = false; /* one synapse: not divided */
    a[3].psp_uniform = false; /* two synapses each: divided */
    const struct syn syn[] = {
        { 0, 7, 10, 20, false }, { 1, 7, 3, 4, true }, { 2, 6, 1, 1, false },
        { 3, 7, 2, 1, false },    /* mp-driven: 2 * 255 */
        { 5, 7, 100, 200, false },
        { 6, 0, 255, 255, false }, { 6, 1, 255, 255, false },
        { 7, 0, 255, 255, false }, { 7, 1, 255, 255, false },
    };
    struct npu_net *net = build(a, 4, syn, sizeof(syn) / sizeof(syn[0]));
    struct npu_units_bound b;
    struct npu_err err;
    assert_int_equal(npu_net_units_bound(net, &b, &err), NPU_OK);
    assert_int_equal(b.max_fanin, 4);              /* into 7: from 0, 1, 3 and 5 */
    assert_int_equal(b.max_units, 100 * 200);
    assert_int_equal(b.min_units, 0);              /* mp-driven: psp_used may be 0 */
    assert_true(b.any_inhibitory);                 /* 1 -> 7 */
    npu_net_free(net);
    /* without those two: the smallest is 2 -> 6's 1 * 1; the divided
     * synapses' weights and signs do not count */
    a[1].mp_driven_psp = false;
    struct syn syn2[sizeof(syn) / sizeof(syn[0])];
    memcpy(syn2, syn, sizeof(syn));
    syn2[1].inh = false;
    syn2[2].w = 7;
    syn2[3].w = 1;                                 /* 3 -> 7: 1 * 1 */
    syn2[5].w = 0;
    syn2[5].inh = true;                            /* divided: 6 -> 0 */
    net = build(a, 4, syn2, sizeof(syn2) / sizeof(syn2[0]));
    assert_int_equal(npu_net_units_bound(net, &b, &err), NPU_OK);
    assert_int_equal(b.min_units, 1);
    assert_false(b.any_inhibitory);
    npu_net_free(net);
    /* the fan-in count saturates rather than wrap */
    struct npu_area big[2] = { area_at(0, 65535), area_at(65535, 1) };
    struct syn *many = calloc(65535, sizeof(*many));
    assert_non_null(many);
    for (uint32_t k = 0; k < 65535; k++)
        many[k] = (struct syn){ .s = k, .t = 65535, .w = 1, .psp = 1 };
    net = build(big, 2, many, 65534);
    assert_int_equal(npu_net_units_bound(net, &b, &err), NPU_OK);
    assert_int_equal(b.max_fanin, 65534);
    npu_net_free(net);
    net = build(big, 2, many, 65535);
    assert_int_equal(npu_net_units_bound(net, &b, &err), NPU_OK);
    assert_int_equal(b.max_fanin, NPU_FANIN_SATURATED);
    assert_false(npu_fx_units_fit_int32(&b));
    assert_int_equal(npu_fx_units_tag_shift(&b), 0);
    npu_net_free(net);
    free(many);
}

/* The bound's pass over threads (from 4M synapses on): each thread counts
 * its sources into its own array and the counts are summed, so a fan-in
 * split across threads is whole, saturation still starts at 65535, and the
 * largest and smallest weight * psp and an inhibitory synapse may come
 * from any thread's part. */
static void test_units_bound_threads(void **state)
{
    (void)state;
    const uint32_t n_src = 71000, x = n_src, rot = 200;
    struct npu_area a[2] = { area_at(0, n_src), area_at(n_src, 1 + rot) };
    const uint32_t x_counts[] = { 65534, 65535 };
    for (int c = 0; c < 2; c++) {
        uint64_t n_syn = (uint64_t)n_src * 59 + x_counts[c];
        struct syn *syn = calloc(n_syn, sizeof(*syn));
        assert_non_null(syn);
        uint64_t k = 0;
        for (uint32_t s = 0; s < n_src; s++) {
            /* the sources before x_counts[c] feed x, which lies in both halves */
            if (s < x_counts[c])
                syn[k++] = (struct syn){ .s = s, .t = x, .w = 1, .psp = 1 };
            for (uint32_t j = 0; j < 59; j++)
                syn[k++] = (struct syn){ .s = s, .t = x + 1 + (s + j) % rot, .w = 1, .psp = 1 };
        }
        syn[k - 1].w = 200;   /* the last source's: in the last thread's part */
        syn[k - 1].psp = 100;
        if (c == 1) {         /* and, there too, the smallest and an inhibitory one */
            syn[k - 2].w = 0;
            syn[k - 3].inh = true;
        }
        assert_true(k == n_syn && n_syn >= (UINT64_C(1) << 22));
        struct npu_net *net = build(a, 2, syn, n_syn);
        struct npu_units_bound b;
        struct npu_err err;
        assert_int_equal(npu_net_units_bound(net, &b, &err), NPU_OK);
        assert_int_equal(b.max_fanin, c == 0 ? 65534 : NPU_FANIN_SATURATED);
        assert_int_equal(b.max_units, 200 * 100);
        assert_int_equal(b.min_units, c == 0 ? 1 : 0);
        assert_int_equal(b.any_inhibitory, c == 1);
        npu_net_free(net);
        free(syn);
    }
}

/* Tagged 32-bit sums (the Vulkan units): for each bound, every count of
 * events from 1 to the fan-in and every sum they can make within
 * +-count * units must come back exactly from the uint32 total, touched
 * must read as non-zero, and the shift must be the smallest that does so
 * (one less fails at the extreme sum).  Without a shift that fits, the
 * largest one fails somewhere. */
static bool tag_roundtrip(uint32_t fanin, uint32_t units, uint32_t k)
{
    const uint32_t counts[] = { 1, 2, 3, fanin / 2, fanin - 1, fanin };
    for (size_t n = 0; n < sizeof(counts) / sizeof(counts[0]); n++) {
        uint32_t count = counts[n];
        if (count < 1 || count > fanin)
            continue;
        int64_t most = (int64_t)count * units;
        const int64_t sums[] = { -most, -most + 1, -1, 0, 1, most - 1, most };
        for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++) {
            if (sums[i] < -most || sums[i] > most)
                continue;
            /* count events summing to sums[i]: full ones of +-units, one
             * remainder, zeros; the atomics add them mod 2^32 in any order */
            int64_t mag = sums[i] < 0 ? -sums[i] : sums[i];
            uint32_t full = units ? (uint32_t)(mag / units) : 0;
            int32_t sign = sums[i] < 0 ? -1 : 1;
            int32_t rem = (int32_t)(mag - (int64_t)full * units) * sign;
            uint32_t zeros = count - full - (full < count ? 1 : 0);
            uint32_t total = full * npu_fx_units_tag_event(sign * (int32_t)units, k) +
                             zeros * npu_fx_units_tag_event(0, k);
            if (full < count)
                total += npu_fx_units_tag_event(rem, k);
            else if (rem != 0)
                return false;
            if (total == 0 || npu_fx_units_tag_sum(total, k) != sums[i])
                return false;
        }
    }
    return true;
}

static void test_units_tag(void **state)
{
    (void)state;
    const uint32_t bounds[][2] = {
        { 1, 0 }, { 1, 1 }, { 3, 1 }, { 4, 1 }, { 5, 3 }, { 1, 65025 }, { 7, 9 }, { 100, 1 },
        { 127, 129 }, { 128, 128 }, { 300, 65025 }, { 3000, 9 }, { 16383, 1 }, { 33025, 1 },
    };
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        struct npu_units_bound b = { .max_fanin = bounds[i][0], .max_units = bounds[i][1] };
        uint32_t k = npu_fx_units_tag_shift(&b);
        if (k == 0) {
            assert_false(tag_roundtrip(b.max_fanin, b.max_units, 31));
            continue;
        }
        assert_true(tag_roundtrip(b.max_fanin, b.max_units, k));
        if (k > 1 && b.max_units > 0)
            assert_false(tag_roundtrip(b.max_fanin, b.max_units, k - 1));
    }
    /* 2^(k-1) must exceed the largest sum, 128 * 128 = 2^14, not equal it */
    assert_int_equal(npu_fx_units_tag_shift(&(struct npu_units_bound){ .max_fanin = 128, .max_units = 128 }), 16);
    assert_int_equal(npu_fx_units_tag_shift(&(struct npu_units_bound){ .max_fanin = 1, .max_units = 65025 }), 17);
    /* no room: for the sum (300 * 65025 needs k = 26, then 300 * 2^26 >
     * 2^32), and for the count (33025 * 2^17 > 2^32) */
    assert_int_equal(npu_fx_units_tag_shift(&(struct npu_units_bound){ .max_fanin = 300, .max_units = 65025 }), 0);
    assert_int_equal(npu_fx_units_tag_shift(&(struct npu_units_bound){ .max_fanin = 33025, .max_units = 1 }), 0);
}

/* 16-bit units: only where every undivided contribution is excitatory and
 * at least 1 (so a touched word is never 0) and the largest sum is at most
 * 65535. */
static void test_units_u16(void **state)
{
    (void)state;
    const struct { uint32_t fanin, max, min; bool inh, fits; } cases[] = {
        { 257, 255, 1, false, true },  { 258, 255, 1, false, false },
        { 1, 65025, 65025, false, true }, { 2, 65025, 3, false, false },
        { 65535, 1, 1, false, true },  { 100, 1, 0, false, false },
        { 100, 1, 1, true, false },    { NPU_FANIN_SATURATED, 1, 1, false, false },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct npu_units_bound b = { .max_fanin = cases[i].fanin, .max_units = cases[i].max,
                                     .min_units = cases[i].min, .any_inhibitory = cases[i].inh };
        assert_int_equal(npu_fx_units_fit_u16(&b), cases[i].fits);
    }
}

/* FCL: cand = (float)sum * (1.0f / 65536), the int64 -> float conversion
 * rounding once, to nearest, ties to even. */
static void test_fcl_int64_to_float_rounding(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 5);
    a.threshold = 1e30f;
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    const int64_t p24 = INT64_C(1) << 24, p60 = INT64_C(1) << 60, p36 = INT64_C(1) << 36;
    struct inj in[] = {
        { 0, p24 + 1 },            /* tie: down to even 2^24 */
        { 1, p24 + 3 },            /* tie: up to even 2^24 + 4 */
        { 2, p60 + p36 + 1 },      /* above the tie: up; via double it would tie and go down */
        { 3, -(p24 + 3) },         /* ties are symmetric */
        { 4, p24 + 2 },            /* exact */
    };
    expect_no_fires(eng_step(e, in, 5));
    const struct npu_state *st = eng_state(e);
    assert_float_bits(st->mp[0], 256.0f);
    assert_float_bits(st->mp[1], 256.0f + 0x1p-14f);
    assert_float_bits(st->mp[2], 0x1p44f + 0x1p21f);
    assert_float_bits(st->mp[3], -(256.0f + 0x1p-14f));
    assert_float_bits(st->mp[4], 256.0f + 0x1p-15f);
    /* The double-rounding path really differs for neuron 2. */
    assert_true((float)(double)(p60 + p36 + 1) != 0x1p60f + 0x1p37f);
    eng_close(e);
    npu_net_free(net);
}

/* The dense step 6 converts a sum of whole units as int32: it must be the
 * float of the int64 sum, ties and large values included. */
static void test_units_to_float(void **state)
{
    (void)state;
    const int32_t edge[] = { 0, 1, -1, 255, 65535, (1 << 24) - 1, 1 << 24, (1 << 24) + 1,
                             (1 << 24) + 3, -((1 << 24) + 3), (1 << 25) + 6, INT32_MAX,
                             INT32_MIN, INT32_MIN + 1 };
    for (size_t k = 0; k < sizeof(edge) / sizeof(edge[0]); k++)
        assert_float_bits(npu_fx_units_to_float(edge[k]),
                          npu_fx_to_float((int64_t)edge[k] * NPU_Q_ONE));
    uint32_t x = 12345;
    for (int k = 0; k < 100000; k++) {
        x = npu_fx_pcg(x);
        int32_t v = (int32_t)(x >> (k % 24));   /* every magnitude */
        assert_float_bits(npu_fx_units_to_float(v), npu_fx_to_float((int64_t)v * NPU_Q_ONE));
    }
}

/* FCL: a neuron is a candidate once anything was added, even if the sum is
 * 0: threshold 0 fires on +0 and on +1 - 1 and on a weight-0 synapse; a
 * below-threshold neuron leaks on +0.5 - 0.5; a refractory neuron counts
 * down on +1 - 1; a neuron given nothing is not touched. */
static void test_candidate_with_zero_sum(void **state)
{
    (void)state;
    struct npu_area z = area_at(0, 4);      /* 0..3 */
    z.threshold = 0.0f;
    struct npu_area l = area_at(4, 2);      /* 4, 5 */
    l.threshold = 10.0f;
    set_leak(&l, 0.5f);
    struct npu_area r = area_at(6, 1);      /* 6 */
    r.refractory = 5;
    struct syn syn[] = { { 0, 2, 0, 200, false } };
    struct npu_area areas[] = { z, l, r };
    struct npu_net *net = build(areas, 3, syn, 1);
    struct eng *e = eng_open(net, 0);
    struct inj in1[] = { { 0, 0 }, { 1, Q1 }, { 1, -Q1 }, { 5, 4 * Q1 }, { 6, Q1 } };
    uint32_t id1[] = { 0, 1, 6 };
    float mp1[] = { 0.0f, 0.0f, 1.0f };
    expect_fires(eng_step(e, in1, 5), 3, id1, mp1);
    assert_float_bits(eng_state(e)->mp[5], 2.0f);
    assert_int_equal(e->st.countdown[6], 5);
    /* Burst 2: 0's weight-0 synapse makes 2 a candidate; 5 and 6 get x - x. */
    struct inj in2[] = { { 5, QOF(0.5) }, { 6, Q1 }, { 5, -QOF(0.5) }, { 6, -Q1 } };
    expect_one_fire(eng_step(e, in2, 4), 2, 0.0f);
    const struct npu_state *st = eng_state(e);
    assert_float_bits(st->mp[5], 1.0f);     /* (2.0 + 0) * 0.5 */
    assert_int_equal(st->countdown[6], 4);
    /* Burst 3: nothing added anywhere: threshold-0 neurons 1, 3 stay quiet. */
    expect_no_fires(eng_step0(e));
    st = eng_state(e);
    assert_float_bits(st->mp[5], 1.0f);
    assert_int_equal(st->countdown[6], 4);
    eng_close(e);
    npu_net_free(net);
}

/* FCL, psp_uniform_distribution = false: a source with k > 1 outgoing
 * synapses contributes type * ((weight * psp * 65536 + k/2) / k), integer
 * division with the magnitude rounded half up; the flag is the *source*
 * area's; k = 1 is not divided. */
static void test_psp_non_uniform_division(void **state)
{
    (void)state;
    struct npu_area src = area_at(0, 3);      /* 0: k = 3, 1: k = 1 */
    src.psp_uniform = false;
    struct npu_area usrc = area_at(3, 1);     /* 3: uniform source, k = 3 */
    struct npu_area tgt = area_at(4, 7);      /* 4..10 */
    tgt.threshold = 1e30f;
    tgt.psp_uniform = false;                  /* a target's flag does not matter */
    struct syn syn[] = {
        { 0, 4, 1, 2, false },
        { 0, 5, 1, 2, true },
        { 0, 6, 255, 255, false },
        { 1, 7, 3, 1, false },
        { 3, 8, 1, 2, false },
        { 3, 9, 1, 2, false },
        { 3, 10, 1, 2, true },
    };
    struct npu_area areas[] = { src, usrc, tgt };
    struct npu_net *net = build(areas, 3, syn, 7);
    struct eng *e = eng_open(net, 0);
    struct inj in[] = { { 0, Q1 }, { 1, Q1 }, { 3, Q1 } };
    uint32_t id1[] = { 0, 1, 3 };
    float mp1[] = { 1.0f, 1.0f, 1.0f };
    expect_fires(eng_step(e, in, 3), 3, id1, mp1);
    expect_no_fires(eng_step0(e));
    /* 2*65536 = 131072 = 3*43690 + 2: 43690.67 rounds to 43691 (truncation: 43690). */
    const int64_t c4 = (2 * 65536 + 3 / 2) / 3;
    assert_int_equal(c4, 43691);
    const int64_t c6 = ((int64_t)255 * 255 * 65536 + 1) / 3;
    const struct npu_state *st = eng_state(e);
    assert_float_bits(st->mp[4], (float)c4 * (1.0f / 65536));
    assert_float_bits(st->mp[5], (float)-c4 * (1.0f / 65536));
    assert_float_bits(st->mp[6], (float)c6 * (1.0f / 65536));
    assert_float_bits(st->mp[7], 3.0f);
    assert_float_bits(st->mp[8], 2.0f);
    assert_float_bits(st->mp[9], 2.0f);
    assert_float_bits(st->mp[10], -2.0f);
    eng_close(e);
    npu_net_free(net);
}

/* FCL, psp_uniform_distribution = false: an exact tie (weight*psp*65536/k =
 * 0.5 with k = 2^17) rounds the magnitude up, for excitatory (+1) and
 * inhibitory (-1) synapses alike. */
static void test_psp_non_uniform_tie_half_up(void **state)
{
    (void)state;
    const uint32_t k = 1u << 17;
    struct npu_area src = area_at(0, 1);
    src.psp_uniform = false;
    struct npu_area tgt = area_at(1, k);
    tgt.threshold = 1e30f;
    struct syn *syn = calloc(k, sizeof(*syn));
    assert_non_null(syn);
    for (uint32_t t = 0; t < k; t++)
        syn[t] = (struct syn){ 0, 1 + t, 1, 1, (t & 1) != 0 };
    struct npu_area areas[] = { src, tgt };
    struct npu_net *net = build(areas, 2, syn, k);
    free(syn);
    struct eng *e = eng_open(net, 0);
    expect_one_fire(eng_step1(e, 0, Q1), 0, 1.0f);
    expect_no_fires(eng_step0(e));
    const struct npu_state *st = eng_state(e);
    for (uint32_t t = 0; t < k; t++)
        assert_float_bits(st->mp[1 + t], (t & 1) ? -0x1p-16f : 0x1p-16f);
    eng_close(e);
    npu_net_free(net);
}

/* FCL, mp_driven_psp: psp_used is the source's mp at its last fire, clamped
 * to [0, 255] and rounded half away from zero; the synapse's psp is ignored. */
static void test_mp_driven_psp(void **state)
{
    (void)state;
    static const struct { double x; int psp; } cases[] = {
        { 2.5, 3 },               /* half away from zero (half-even: 2) */
        { 3.5, 4 },
        { 2.5 - 0x1p-16, 2 },     /* just below the half */
        { 0.5, 1 },
        { 254.5, 255 },
        { 300.0, 255 },           /* clamp high */
        { -3.0, 0 },              /* clamp low */
        { 7.0, 7 },
    };
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    struct npu_area src = area_at(0, N);
    src.mp_driven_psp = true;
    src.threshold = -1000.0f;
    struct npu_area tgt = area_at(N, 2 * N);
    tgt.threshold = 1e30f;
    struct syn syn[2 * N];
    for (uint32_t i = 0; i < N; i++) {
        syn[2 * i] = (struct syn){ i, N + 2 * i, 2, 9, false };
        syn[2 * i + 1] = (struct syn){ i, N + 2 * i + 1, 2, 9, true };
    }
    struct npu_area areas[] = { src, tgt };
    struct npu_net *net = build(areas, 2, syn, 2 * N);
    struct eng *e = eng_open(net, 0);
    struct inj in[N];
    uint32_t id[N];
    float mp[N];
    for (uint32_t i = 0; i < N; i++) {
        in[i] = (struct inj){ i, QOF(cases[i].x) };
        id[i] = i;
        mp[i] = (float)cases[i].x;
    }
    expect_fires(eng_step(e, in, N), N, id, mp);
    expect_no_fires(eng_step0(e));
    const struct npu_state *st = eng_state(e);
    for (uint32_t i = 0; i < N; i++) {
        assert_float_bits(st->mp[N + 2 * i], (float)(2 * cases[i].psp));
        assert_float_bits(st->mp[N + 2 * i + 1], cases[i].psp ? (float)(-2 * cases[i].psp) : 0.0f);
    }
    eng_close(e);
    npu_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Step 6: dynamics.                                                        */

/* 6.1: countdown > 0: count down, no fire, cand discarded (mp stays 0, the
 * big input is not kept for later); fires again once countdown is 0. */
static void test_6_1_countdown_discards(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 1);
    a.refractory = 2;
    set_leak(&a, 0.5f);
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    expect_one_fire(eng_step1(e, 0, Q1), 0, 1.0f);
    assert_int_equal(eng_state(e)->countdown[0], 2);
    expect_no_fires(eng_step1(e, 0, 5 * Q1));
    assert_int_equal(eng_state(e)->countdown[0], 1);
    assert_float_bits(e->st.mp[0], 0.0f);
    expect_no_fires(eng_step1(e, 0, 5 * Q1));
    assert_int_equal(eng_state(e)->countdown[0], 0);
    assert_float_bits(e->st.mp[0], 0.0f);
    expect_no_fires(eng_step1(e, 0, QOF(0.5)));
    assert_float_bits(eng_state(e)->mp[0], 0.25f);
    expect_one_fire(eng_step1(e, 0, QOF(0.75)), 0, 1.0f);
    eng_close(e);
    npu_net_free(net);
}

/* 6.1: when the countdown reaches 0 and the consecutive limit was hit
 * (cfc >= cfl), cfc resets; a countdown that ends below the limit keeps cfc. */
static void test_6_1_countdown_end_resets_cfc(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 1);
    a.refractory = 1;
    a.cfl = 2;
    a.snooze = 2;
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    static const struct { bool fires; uint16_t countdown, cfc; } want[] = {
        { true, 1, 1 },     /* 1: cfc 1 < 2: countdown = refractory */
        { false, 0, 1 },    /* 2: countdown ends below the limit: cfc kept */
        { true, 3, 2 },     /* 3: cfc 2 >= 2: countdown = refractory + snooze */
        { false, 2, 2 },
        { false, 1, 2 },
        { false, 0, 0 },    /* 6: countdown ends at the limit: cfc = 0 */
        { true, 1, 1 },
    };
    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        const struct fq *fq = eng_step1(e, 0, Q1);
        if (want[k].fires)
            expect_one_fire(fq, 0, 1.0f);
        else
            expect_no_fires(fq);
        const struct npu_state *st = eng_state(e);
        assert_int_equal(st->countdown[0], want[k].countdown);
        assert_int_equal(st->cfc[0], want[k].cfc);
    }
    eng_close(e);
    npu_net_free(net);
}

/* Non-candidates are not touched: no leak, no countdown, no cfc change. */
static void test_non_candidates_untouched(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 2);
    a.refractory = 4;
    a.cfl = 3;
    a.threshold = 2.0f;
    set_leak(&a, 0.5f);
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    struct inj in[] = { { 0, 2 * Q1 }, { 1, 3 * Q1 } };
    uint32_t id[] = { 0, 1 };
    float mp[] = { 2.0f, 3.0f };
    expect_fires(eng_step(e, in, 2), 2, id, mp);
    for (int k = 0; k < 4; k++)
        expect_no_fires(eng_step1(e, 1, 10 * Q1));
    /* 0: countdown 4 untouched; 1: countdown 4 -> 0 */
    expect_no_fires(eng_step1(e, 1, 1 * Q1));
    const struct npu_state *st = eng_state(e);
    assert_int_equal(st->countdown[0], 4);
    assert_int_equal(st->cfc[0], 1);
    assert_float_bits(st->mp[1], 0.5f);
    assert_int_equal(st->cfc[1], 0);            /* limited, not fired: cfc = 0 */
    for (int k = 0; k < 3; k++) {
        expect_no_fires(eng_step0(e));
        st = eng_state(e);
        assert_float_bits(st->mp[1], 0.5f);
        assert_int_equal(st->countdown[0], 4);
        assert_int_equal(st->cfc[0], 1);
    }
    eng_close(e);
    npu_net_free(net);
}

/* 6.3: fires when mp >= threshold and, with a limit, mp <= threshold_limit
 * (both inclusive); outside the window it leaks as not fired (6.4). */
static void test_6_3_threshold_window(void **state)
{
    (void)state;
    struct npu_area w = area_at(0, 4);
    w.threshold = 1.0f;
    w.threshold_limit = 2.0f;
    w.has_limit = true;
    set_leak(&w, 0.5f);
    struct npu_area open = area_at(4, 1);
    open.threshold = 1.0f;
    open.threshold_limit = 2.0f;     /* ignored: no limit */
    struct npu_area areas[] = { w, open };
    struct npu_net *net = build(areas, 2, NULL, 0);
    struct eng *e = eng_open(net, 0);
    struct inj in[] = { { 0, Q1 }, { 1, 2 * Q1 }, { 2, QOF(2.5) }, { 3, QOF(0.75) }, { 4, QOF(2.5) } };
    uint32_t id[] = { 0, 1, 4 };
    float mp[] = { 1.0f, 2.0f, 2.5f };
    expect_fires(eng_step(e, in, 5), 3, id, mp);
    const struct npu_state *st = eng_state(e);
    assert_float_bits(st->mp[2], 1.25f);
    assert_float_bits(st->mp[3], 0.375f);
    assert_int_equal(st->countdown[2], 0);
    /* 2 leaked into the window: 1.25 + 0 fires now. */
    expect_one_fire(eng_step1(e, 2, 0), 2, 1.25f);
    eng_close(e);
    npu_net_free(net);
}

/* 6.3.1: at the threshold with cfc >= cfl: cfc = 0, no fire, no leak (mp
 * keeps mp + cand), no countdown; the next input fires from there. */
static void test_6_3_1_consecutive_limit_blocks(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 1);
    a.cfl = 2;
    set_leak(&a, 0.5f);
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    expect_one_fire(eng_step1(e, 0, Q1), 0, 1.0f);
    expect_one_fire(eng_step1(e, 0, Q1), 0, 1.0f);
    assert_int_equal(eng_state(e)->cfc[0], 2);
    assert_int_equal(e->st.countdown[0], 0);   /* refractory 0 + snooze 0 */
    expect_no_fires(eng_step1(e, 0, QOF(1.5)));
    const struct npu_state *st = eng_state(e);
    assert_int_equal(st->cfc[0], 0);
    assert_float_bits(st->mp[0], 1.5f);        /* leaked would be 0.75 */
    assert_int_equal(st->countdown[0], 0);
    expect_one_fire(eng_step1(e, 0, QOF(0.25)), 0, 1.75f);
    assert_int_equal(eng_state(e)->cfc[0], 1);
    eng_close(e);
    npu_net_free(net);
}

/* The draw of SEMANTICS.md 6.3.2, written out again from the text. */
static uint32_t ref_pcg(uint32_t x)
{
    uint32_t s = x * 747796405u + 2891336453u;
    uint32_t w = ((s >> ((s >> 28) + 4u)) ^ s) * 277803737u;
    return (w >> 22) ^ w;
}

static float ref_u(uint32_t i, uint32_t b)
{
    uint32_t h = ref_pcg(i * 2654435761u + b * 1597334677u);
    return (float)h / 4294967296.0f;
}

static bool ref_fires(float e, uint32_t i, uint32_t b)
{
    if (e >= 0.999f)
        return true;
    if (e <= 0.0f)
        return false;
    return ref_u(i, b) < e;
}

static bool in_queue(const struct fq *fq, uint32_t id)
{
    for (uint32_t k = 0; k < fq->n; k++)
        if (fq->id[k] == id)
            return true;
    return false;
}

/* 6.3.2: the hash itself, against values computed in Python. */
static void test_6_3_2_pcg_known_answers(void **state)
{
    (void)state;
    assert_int_equal(ref_pcg(0), 0x07bb2fe2u);
    assert_int_equal(ref_pcg(1), 0xa8beea3cu);
    assert_int_equal(ref_pcg(12345), 0xf45ead0eu);
    assert_int_equal(ref_pcg(0xdeadbeefu), 0x67299972u);
    assert_int_equal(ref_pcg(5u * 2654435761u + 3u * 1597334677u), 0xd11f5525u);
    assert_true(0.999f >= 0.999);   /* 0.999f is not below the decimal 0.999 */
}

/* 6.3.2 + 6.4: excitability 0 never fires, >= 0.999 always, in between
 * exactly when u < e with the pcg draw of (neuron id, burst number); a
 * failed draw leaks like any non-fire. */
static void test_6_3_2_excitability(void **state)
{
    (void)state;
    enum { PER = 300, BURSTS = 20, NA = 6 };
    /* Areas 4 and 5 are single neurons whose excitability equals a draw. */
    const uint32_t i4 = 4 * PER, i5 = 4 * PER + 1;
    uint32_t b4 = 0, b5 = 0;
    for (uint32_t b = 1; b <= BURSTS && !(b4 && b5); b++) {
        if (!b4 && ref_u(i4, b) > 0.01f && ref_u(i4, b) < 0.99f)
            b4 = b;
        if (!b5 && ref_u(i5, b) > 0.01f && ref_u(i5, b) < 0.99f)
            b5 = b;
    }
    assert_true(b4 && b5);
    const float ex[NA] = {
        0.0f, 0.999f, 0.5f, nextafterf(0.999f, 0.0f),
        ref_u(i4, b4),                     /* u == e: must not fire (u < e) */
        nextafterf(ref_u(i5, b5), 1.0f),   /* u just below e: fires */
    };
    struct npu_area a[NA];
    for (uint32_t k = 0, base = 0; k < NA; base += a[k].count, k++) {
        a[k] = area_at(base, k < 4 ? PER : 1);
        a[k].excitability = ex[k];
        a[k].accumulate = false;
        set_leak(&a[k], 0.5f);
    }
    struct npu_net *net = build(a, NA, NULL, 0);
    const uint32_t n = net->n_neurons;
    struct eng *e = eng_open(net, 0);
    struct inj *in = calloc(n, sizeof(*in));
    assert_non_null(in);
    for (uint32_t i = 0; i < n; i++)
        in[i] = (struct inj){ i, Q1 };
    uint32_t always_lucky = 0, fired_half = 0, failed_near = 0;
    for (uint32_t b = 1; b <= BURSTS; b++) {
        const struct fq *fq = eng_step(e, in, n);
        const struct npu_state *st = eng_state(e);
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            float ei = ex[net->area_of[i]];
            bool f = ref_fires(ei, i, b);
            if (f) {
                assert_true(k < fq->n);
                assert_int_equal(fq->id[k], i);
                assert_float_bits(fq->mp[k], 1.0f);
                k++;
            }
            assert_float_bits(st->mp[i], f ? 0.0f : 0.5f);
            always_lucky += net->area_of[i] == 1 && ref_u(i, b) >= ei;
            fired_half += net->area_of[i] == 2 && f;
            failed_near += net->area_of[i] == 3 && !f;
        }
        assert_int_equal(fq->n, k);
        if (b == b4)
            assert_false(in_queue(fq, i4));
        if (b == b5)
            assert_true(in_queue(fq, i5));
    }
    /* The cases above really happened. */
    assert_true(always_lucky > 0);
    assert_true(failed_near > 0);
    assert_true(fired_half > PER * BURSTS * 4 / 10 && fired_half < PER * BURSTS * 6 / 10);
    free(in);
    eng_close(e);
    npu_net_free(net);
}

/* 6.3.3: on fire: (i, mp) recorded, mp = 0, cfc + 1, countdown = refractory,
 * or min(refractory + snooze, 65535) when the limit is reached. */
static void test_6_3_3_on_fire(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 1);   /* unlimited */
    a.refractory = 3;
    a.snooze = 7;
    struct npu_area b = area_at(1, 1);   /* limited: 2 */
    b.refractory = 3;
    b.snooze = 7;
    b.cfl = 2;
    struct npu_area c = area_at(2, 1);   /* refractory + snooze saturates */
    c.refractory = 65535;
    c.snooze = 10;
    c.cfl = 1;
    struct npu_area areas[] = { a, b, c };
    struct npu_net *net = build(areas, 3, NULL, 0);
    struct eng *e = eng_open(net, 0);
    struct inj in[] = { { 0, QOF(1.5) }, { 1, QOF(1.5) }, { 2, QOF(1.5) } };
    uint32_t id[] = { 0, 1, 2 };
    float mp[] = { 1.5f, 1.5f, 1.5f };
    expect_fires(eng_step(e, in, 3), 3, id, mp);
    const struct npu_state *st = eng_state(e);
    for (int i = 0; i < 3; i++) {
        assert_float_bits(st->mp[i], 0.0f);
        assert_int_equal(st->cfc[i], 1);
    }
    assert_int_equal(st->countdown[0], 3);
    assert_int_equal(st->countdown[1], 3);
    assert_int_equal(st->countdown[2], 65535);
    for (int k = 0; k < 3; k++)
        expect_no_fires(eng_step(e, in, 2));
    expect_fires(eng_step(e, in, 2), 2, id, mp);
    st = eng_state(e);
    assert_int_equal(st->cfc[0], 2);
    assert_int_equal(st->countdown[0], 3);
    assert_int_equal(st->cfc[1], 2);
    assert_int_equal(st->countdown[1], 10);
    eng_close(e);
    npu_net_free(net);
}

/* 6.3.3: cfc saturates at 65535; cfl 0 and cfl 65535 both mean unlimited,
 * so such neurons fire every burst forever. */
static void test_6_3_3_cfc_saturates(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 1);
    struct npu_area b = area_at(1, 1);
    b.cfl = 65535;
    struct npu_area areas[] = { a, b };
    struct npu_net *net = build(areas, 2, NULL, 0);
    struct eng *e = eng_open(net, 0);
    struct npu_err err = { 0 };
    enum { BATCH = 64 };
    uint32_t off[BATCH + 1], id[2 * BATCH];
    int64_t q[2 * BATCH];
    for (uint32_t j = 0; j <= BATCH; j++)
        off[j] = 2 * j;
    for (uint32_t k = 0; k < 2 * BATCH; k++) {
        id[k] = k & 1;
        q[k] = Q1;
    }
    const uint32_t total = 65536 + 4 * BATCH;
    for (uint32_t first = 1; first <= total; first += BATCH) {
        struct npu_inject in = { .first_burst = first, .count = BATCH, .off = off, .id = id, .q = q };
        assert_int_equal(e->be->ops->submit(e->be, &in, &err), NPU_OK);
        struct npu_fires f;
        assert_int_equal(e->be->ops->collect(e->be, &f, &err), NPU_OK);
        for (uint32_t j = 0; j < BATCH; j++) {
            assert_int_equal(f.off[j + 1] - f.off[j], 2);
            assert_int_equal(f.id[f.off[j]], 0);
            assert_int_equal(f.id[f.off[j] + 1], 1);
        }
        if (first == 1 + 1023 * BATCH) {   /* after burst 65536 */
            const struct npu_state *st = eng_state(e);
            assert_int_equal(st->cfc[0], 65535);
            assert_int_equal(st->cfc[1], 65535);
        }
    }
    const struct npu_state *st = eng_state(e);
    assert_int_equal(st->cfc[0], 65535);
    assert_int_equal(st->cfc[1], 65535);
    assert_int_equal(st->countdown[1], 0);
    eng_close(e);
    npu_net_free(net);
}

/* 6.4: not fired: a limited neuron's cfc resets, an unlimited one's does
 * not; mp = mp * keep. */
static void test_6_4_not_fired(void **state)
{
    (void)state;
    struct npu_area lim = area_at(0, 1);
    lim.cfl = 3;
    set_leak(&lim, 0.25f);
    struct npu_area unl = area_at(1, 1);
    set_leak(&unl, 0.25f);
    struct npu_area areas[] = { lim, unl };
    struct npu_net *net = build(areas, 2, NULL, 0);
    struct eng *e = eng_open(net, 0);
    struct inj in1[] = { { 0, Q1 }, { 1, Q1 } };
    uint32_t id[] = { 0, 1 };
    float mp[] = { 1.0f, 1.0f };
    expect_fires(eng_step(e, in1, 2), 2, id, mp);
    struct inj in2[] = { { 0, QOF(0.5) }, { 1, QOF(0.5) } };
    expect_no_fires(eng_step(e, in2, 2));
    const struct npu_state *st = eng_state(e);
    assert_int_equal(st->cfc[0], 0);
    assert_int_equal(st->cfc[1], 1);
    assert_float_bits(st->mp[0], 0.375f);
    assert_float_bits(st->mp[1], 0.375f);
    eng_close(e);
    npu_net_free(net);
}

/* 7: the fire queue is ordered by neuron id, whatever the order in which
 * neurons became candidates (stimulus order, synapse order). */
static void test_7_fire_queue_sorted(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 12);
    struct syn syn[] = { { 11, 10, 1, 1, false }, { 11, 5, 1, 1, false }, { 11, 1, 1, 1, false } };
    struct npu_net *net = build(&a, 1, syn, 3);
    struct eng *e = eng_open(net, 0);
    struct inj in[] = { { 9, Q1 }, { 3, Q1 }, { 11, Q1 }, { 7, Q1 }, { 0, Q1 } };
    uint32_t id1[] = { 0, 3, 7, 9, 11 };
    float mp1[] = { 1.0f, 1.0f, 1.0f, 1.0f, 1.0f };
    expect_fires(eng_step(e, in, 5), 5, id1, mp1);
    struct inj in2[] = { { 8, QOF(1.25) }, { 2, QOF(1.5) } };
    uint32_t id2[] = { 1, 2, 5, 8, 10 };
    float mp2[] = { 1.0f, 1.5f, 1.0f, 1.25f, 1.0f };
    expect_fires(eng_step(e, in2, 2), 5, id2, mp2);
    eng_close(e);
    npu_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Floating point.                                                          */

/* Floating point: every operation is one binary32 rounding: mp = (mp + cand)
 * rounded, then * keep rounded; evaluating (mp + cand) * keep in double and
 * rounding once would give a different bit for these inputs.  (A fused
 * multiply-add has no operand pair to fuse here: mp + sum * 2^-16 is exact,
 * so "no FMA" is covered by the bit checks, not by a separate case.) */
static void test_float32_single_rounding(void **state)
{
    (void)state;
    struct npu_area a = area_at(0, 1);
    a.threshold = 1000.0f;
    set_leak(&a, 0.9f);
    struct npu_net *net = build(&a, 1, NULL, 0);
    struct eng *e = eng_open(net, 0);
    const volatile float keep = 1.0f - 0.9f;
    const int64_t q2 = 136807;
    volatile float mp1 = 1.0f * keep;
    volatile float cand2 = (float)q2 * (1.0f / 65536);
    volatile float sum2 = mp1 + cand2;
    volatile float mp2 = sum2 * keep;
    assert_true((float)(((double)mp1 + (double)cand2) * (double)keep) != mp2);
    expect_no_fires(eng_step1(e, 0, Q1));
    assert_float_bits(eng_state(e)->mp[0], mp1);
    expect_no_fires(eng_step1(e, 0, q2));
    assert_float_bits(eng_state(e)->mp[0], mp2);
    /* a few more steps with inputs that are not small */
    volatile float mp = mp2;
    for (int64_t k = 1; k <= 20; k++) {
        int64_t qk = k * 1234567 + 89;
        volatile float c = (float)qk * (1.0f / 65536);
        volatile float s = mp + c;
        mp = s * keep;
        expect_no_fires(eng_step1(e, 0, qk));
        assert_float_bits(eng_state(e)->mp[0], mp);
    }
    eng_close(e);
    npu_net_free(net);
}

/* Floating point: tiny values leak into subnormals exactly as IEEE binary32
 * does, with no flush to zero: with keep ~0.7 they stop at the smallest
 * subnormal (0.7 * 2^-149 rounds back up), with keep ~0.4 they reach zero,
 * a negative one through -0.0, and -0.0 + 0 is +0.0 in the burst after. */
static void test_subnormal_leak(void **state)
{
    (void)state;
    struct npu_area a[2] = { area_at(0, 2), area_at(2, 2) };
    a[0].threshold = a[1].threshold = 10.0f;
    set_leak(&a[0], 0.3f);
    set_leak(&a[1], 0.6f);
    struct npu_net *net = build(a, 2, NULL, 0);
    struct eng *e = eng_open(net, 0);
    const volatile float keep[4] = { 1.0f - 0.3f, 1.0f - 0.3f, 1.0f - 0.6f, 1.0f - 0.6f };
    volatile float mp[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    struct inj in1[] = { { 0, Q1 }, { 1, -Q1 }, { 2, Q1 }, { 3, -Q1 } };
    struct inj in0[] = { { 0, 0 }, { 1, 0 }, { 2, 0 }, { 3, 0 } };
    uint32_t n_sub[4] = { 0 }, neg_zero = 0;
    for (uint32_t b = 1; b <= 400; b++) {
        expect_no_fires(eng_step(e, b == 1 ? in1 : in0, 4));
        const struct npu_state *st = eng_state(e);
        for (int i = 0; i < 4; i++) {
            int64_t q = b == 1 ? in1[i].q : in0[i].q;
            volatile float cand = (float)q * (1.0f / 65536);
            volatile float sum = mp[i] + cand;
            mp[i] = sum * keep[i];
            assert_float_bits(st->mp[i], mp[i]);
            n_sub[i] += fpclassify(mp[i]) == FP_SUBNORMAL;
        }
        neg_zero += mp[3] == 0.0f && signbit(mp[3]);
    }
    for (int i = 0; i < 4; i++)
        assert_true(n_sub[i] > 10);
    assert_float_bits(mp[0], FLT_TRUE_MIN);
    assert_float_bits(mp[1], -FLT_TRUE_MIN);
    assert_float_bits(mp[2], 0.0f);
    assert_float_bits(mp[3], 0.0f);
    assert_int_equal(neg_zero, 1);
    eng_close(e);
    npu_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Batching and determinism.                                                */

/* A deterministic generator for the test inputs themselves. */
static uint64_t lcg(uint64_t *s)
{
    *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return *s >> 33;
}

/* A busy network that uses every feature, and its stimuli. */
/* excitatory: no inhibitory synapse and no mp-driven psp, so that the CPU
 * sums the uniform input in 16-bit units; divided: area 0 divides a fire's
 * drive among its synapses (so its rows add into the int64 sums) */
static struct npu_net *busy_net_kind(uint64_t seed, bool excitatory, bool divided)
{
    enum { NA = 4, PER = 80 };
    struct npu_area a[NA];
    for (uint32_t k = 0; k < NA; k++)
        a[k] = area_at(k * PER, PER);
    set_leak(&a[0], 0.1f);
    a[0].refractory = 1;
    a[0].psp_uniform = !divided;
    a[1].threshold = 2.5f;
    a[1].threshold_limit = 9.0f;
    a[1].has_limit = true;
    a[1].cfl = 3;
    a[1].snooze = 2;
    set_leak(&a[1], 0.3f);
    a[2].accumulate = false;
    a[2].excitability = 0.7f;
    a[2].mp_driven_psp = !excitatory;
    a[3].power = true;
    a[3].threshold = 1.7f;
    set_leak(&a[3], 0.05f);
    a[3].refractory = 2;
    a[3].cfl = 5;
    a[3].snooze = 1;
    const uint32_t n = NA * PER, fan = 6;
    struct syn *syn = calloc((size_t)n * fan, sizeof(*syn));
    assert_non_null(syn);
    uint64_t s = seed, m = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t[6];
        for (uint32_t k = 0; k < fan; k++)
            t[k] = (uint32_t)(lcg(&s) % n);
        for (uint32_t x = 1; x < fan; x++)   /* ascending targets per source */
            for (uint32_t y = x; y > 0 && t[y - 1] > t[y]; y--) {
                uint32_t tmp = t[y];
                t[y] = t[y - 1];
                t[y - 1] = tmp;
            }
        for (uint32_t k = 0; k < fan; k++)
            syn[m++] = (struct syn){ i, t[k], (uint8_t)(1 + lcg(&s) % 3), (uint8_t)(1 + lcg(&s) % 2),
                                     lcg(&s) % 4 == 0 && !excitatory };
    }
    struct npu_net *net = build(a, NA, syn, m);
    free(syn);
    return net;
}

static struct npu_net *busy_net(uint64_t seed)
{
    return busy_net_kind(seed, false, true);
}

struct sched {
    uint32_t bursts;
    uint32_t *off, *id;
    int64_t *q;
    uint32_t *range_off;              /* [bursts + 1], or NULL: no range stimuli */
    struct npu_inject_range *ranges;
};

static struct sched busy_sched(uint32_t n_neurons, uint32_t bursts, uint64_t seed)
{
    struct sched sc = { .bursts = bursts };
    const uint32_t per = 12;
    sc.off = calloc(bursts + 1, sizeof(uint32_t));
    sc.id = calloc((size_t)bursts * per, sizeof(uint32_t));
    sc.q = calloc((size_t)bursts * per, sizeof(int64_t));
    assert_true(sc.off && sc.id && sc.q);
    uint64_t s = seed;
    uint32_t n = 0;
    for (uint32_t b = 0; b < bursts; b++) {
        sc.off[b] = n;
        uint32_t k = (uint32_t)(lcg(&s) % (per + 1));
        for (uint32_t j = 0; j < k; j++) {
            sc.id[n] = (uint32_t)(lcg(&s) % n_neurons);
            sc.q[n++] = (int64_t)(lcg(&s) % (3 * Q1)) - Q1 / 2;
        }
    }
    sc.off[bursts] = n;
    return sc;
}

/* Adds range stimuli to sc: in most bursts a whole area and a random
 * fifth of the network, of whole units (which the CPU's 16-bit units
 * take), and in some bursts one of 1.5 units as well (which makes that
 * burst's ranges go into the FCL). */
static void sched_add_ranges(struct sched *sc, uint32_t n_neurons, uint32_t per_area, uint64_t seed)
{
    sc->range_off = calloc(sc->bursts + 1, sizeof(uint32_t));
    sc->ranges = calloc((size_t)sc->bursts * 3, sizeof(*sc->ranges));
    assert_true(sc->range_off && sc->ranges);
    uint64_t s = seed;
    uint32_t n = 0;
    for (uint32_t b = 0; b < sc->bursts; b++) {
        sc->range_off[b] = n;
        if (lcg(&s) % 4 == 0)
            continue;
        uint32_t area = (uint32_t)(lcg(&s) % (n_neurons / per_area));
        sc->ranges[n++] = (struct npu_inject_range){ .first = area * per_area, .count = per_area,
                                                     .all = 1, .q = (int64_t)(1 + lcg(&s) % 2) * Q1 };
        sc->ranges[n++] = (struct npu_inject_range){ .first = 0, .count = n_neurons,
                                                     .key = (uint32_t)lcg(&s), .threshold = 0x33333333u,
                                                     .q = 2 * Q1 };
        if (lcg(&s) % 5 == 0)
            sc->ranges[n++] = (struct npu_inject_range){ .first = 0, .count = n_neurons / 2,
                                                         .all = 1, .q = QOF(1.5) };
    }
    sc->range_off[sc->bursts] = n;
}

static void sched_free(struct sched *sc)
{
    free(sc->off);
    free(sc->id);
    free(sc->q);
    free(sc->range_off);
    free(sc->ranges);
}

/* Every fire of a run as (burst, id, mp bits), in order. */
struct trace {
    size_t n, cap;
    uint32_t (*rec)[3];
};

static void trace_add(struct trace *t, const struct npu_fires *f)
{
    for (uint32_t j = 0; j < f->count; j++)
        for (uint32_t k = f->off[j]; k < f->off[j + 1]; k++) {
            if (t->n == t->cap) {
                t->cap = t->cap ? 2 * t->cap : 1024;
                t->rec = realloc(t->rec, t->cap * sizeof(*t->rec));
                assert_non_null(t->rec);
            }
            t->rec[t->n][0] = f->first_burst + j;
            t->rec[t->n][1] = f->id[k];
            t->rec[t->n][2] = f2u(f->mp[k]);
            t->n++;
        }
}

/* Runs the schedule in batches of `batch`, keeping two batches in flight as
 * the driver does, and returns the trace and the final state. */
static struct trace run_batched(struct npu_backend *be, const struct sched *sc, uint32_t batch,
                                struct npu_state *final)
{
    struct npu_err err = { 0 };
    struct trace t = { 0 };
    uint32_t next = 1, in_flight = 0;
    while (next <= sc->bursts || in_flight > 0) {
        if (next <= sc->bursts && in_flight < NPU_BACKEND_MAX_IN_FLIGHT) {
            uint32_t c = sc->bursts - next + 1 < batch ? sc->bursts - next + 1 : batch;
            struct npu_inject in = { .first_burst = next, .count = c, .off = sc->off + (next - 1),
                                     .id = sc->id, .q = sc->q,
                                     .range_off = sc->range_off ? sc->range_off + (next - 1) : NULL,
                                     .ranges = sc->ranges };
            if (be->ops->submit(be, &in, &err))
                fail_msg("submit: %s", err.msg);
            next += c;
            in_flight++;
            continue;
        }
        struct npu_fires f;
        if (be->ops->collect(be, &f, &err))
            fail_msg("collect: %s", err.msg);
        in_flight--;
        trace_add(&t, &f);
    }
    if (be->ops->read_state(be, final, &err))
        fail_msg("read_state: %s", err.msg);
    return t;
}

static void assert_same_run(const struct trace *a, const struct npu_state *sa,
                            const struct trace *b, const struct npu_state *sb)
{
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->rec, b->rec, a->n * sizeof(*a->rec));
    assert_int_equal(sa->n, sb->n);
    assert_memory_equal(sa->mp, sb->mp, sa->n * sizeof(float));
    assert_memory_equal(sa->countdown, sb->countdown, sa->n * sizeof(uint16_t));
    assert_memory_equal(sa->cfc, sb->cfc, sa->n * sizeof(uint16_t));
}

/* 5 + 7 across batches: batching (1, 3, 64 bursts per submission, two in
 * flight) does not change a single bit of the fire queues or the state. */
static void test_batching_invariant(void **state)
{
    (void)state;
    struct npu_net *net = busy_net(11);
    struct sched sc = busy_sched(net->n_neurons, 400, 12);
    static const uint32_t sizes[] = { 1, 3, 64 };
    struct trace t[3];
    struct npu_state st[3];
    for (int k = 0; k < 3; k++) {
        struct eng *e = eng_open(net, QOF(0.375));
        assert_true(sizes[k] <= e->be->ops->max_batch(e->be));
        t[k] = run_batched(e->be, &sc, sizes[k], &st[k]);
        eng_close(e);
    }
    /* The run is busy enough to mean something: fires in most bursts, from
     * every area, over the whole run. */
    assert_true(t[0].n > 2000);
    uint32_t seen_area[4] = { 0 };
    for (size_t r = 0; r < t[0].n; r++)
        seen_area[net->area_of[t[0].rec[r][1]]]++;
    for (int a = 0; a < 4; a++)
        assert_true(seen_area[a] > 0);
    assert_true(t[0].rec[t[0].n - 1][0] > 390);
    for (int k = 1; k < 3; k++)
        assert_same_run(&t[0], &st[0], &t[k], &st[k]);
    for (int k = 0; k < 3; k++) {
        free(t[k].rec);
        npu_state_free(&st[k]);
    }
    sched_free(&sc);
    npu_net_free(net);
}

/* Runs sc on net (power 0.375) with each of the n thread counts, at the
 * matching batch size, under each NPUSIM_CPU_SPLIT, and asserts that every
 * run gives the first's fires and state, and that the first has more than
 * 1000 fires. */
static void assert_thread_counts_agree(const struct npu_net *net, const struct sched *sc,
                                       const uint32_t *threads, const uint32_t *batches, int n)
{
    /* each thread count with each way the CPU's threads may share step 5
     * (split by targets, or by sources where the units allow it) */
    static const char *const splits[] = { "", "targets", "sources" };
    struct trace t0, t;
    struct npu_state st0, st;
    for (size_t m = 0; m < sizeof(splits) / sizeof(splits[0]); m++) {
        setenv("NPUSIM_CPU_SPLIT", splits[m], 1);
        for (int k = 0; k < n; k++) {
            struct eng *e = eng_open_threads(net, QOF(0.375), threads[k]);
            t = run_batched(e->be, sc, batches[k], &st);
            eng_close(e);
            if (m == 0 && k == 0) {
                assert_true(t.n > 1000);
                t0 = t;
                st0 = st;
                continue;
            }
            assert_same_run(&t0, &st0, &t, &st);
            free(t.rec);
            npu_state_free(&st);
        }
    }
    unsetenv("NPUSIM_CPU_SPLIT");
    free(t0.rec);
    npu_state_free(&st0);
}

/* assert_thread_counts_agree for 1, 2, 3 and 5 threads on
 * busy_net_kind(seed, excitatory, divided), with busy_sched's stimuli
 * (seed + 1) and, with ranges, range stimuli too (seed + 2). */
static void assert_busy_thread_counts(uint64_t seed, bool excitatory, bool divided, bool ranges)
{
    struct npu_net *net = busy_net_kind(seed, excitatory, divided);
    struct sched sc = busy_sched(net->n_neurons, 300, seed + 1);
    if (ranges)
        sched_add_ranges(&sc, net->n_neurons, 80, seed + 2);
    static const uint32_t threads[] = { 1, 2, 3, 5 }, batches[] = { 7, 7, 1, 7 };
    assert_thread_counts_agree(net, &sc, threads, batches, 4);
    sched_free(&sc);
    npu_net_free(net);
}

/* Candidates are independent and FCL sums exact, so the thread count of
 * the CPU backend cannot change a bit: 1, 2, 3 and 5 threads (5 = one
 * 64-neuron word each on this 320-neuron network, so area boundaries fall
 * inside and across the threads' ranges) give the same fires and state. */
static void test_thread_count_invariant(void **state)
{
    (void)state;
    assert_busy_thread_counts(13, false, true, false);
}

/* The same on a network of excitatory synapses only, with range
 * stimuli: the CPU then sums in 16-bit units, the ranges included where
 * they fit, and each worker adds only into its own range of them. */
static void test_thread_count_excitatory(void **state)
{
    (void)state;
    assert_busy_thread_counts(15, true, true, true);
}

/* The same where no row is divided either: the CPU's threads may then
 * split the fired sources instead of the targets, each adding into its
 * own copy of the 16-bit units, and the copies are summed after a
 * barrier (NPUSIM_CPU_SPLIT=sources, the automatic choice at this size). */
static void test_thread_count_split_sources(void **state)
{
    (void)state;
    assert_busy_thread_counts(18, true, false, true);
}

/* The same with inhibitory synapses and an mp-driven area, which the CPU
 * sums in tagged 32-bit units: split by sources, each worker's copy of
 * those units is added into the one step 6 reads. */
static void test_thread_count_split_tagged(void **state)
{
    (void)state;
    assert_busy_thread_counts(23, false, false, false);
}

/* The same with a row longer than the CPU backend's 16-bit row splits
 * (more than 65535 synapses): the workers then find their slices of every
 * row by search, and 2 and 3 threads must still give 1 thread's run. */
static void test_thread_count_long_row(void **state)
{
    (void)state;
    const uint32_t n1 = 70000, fan = 2;
    struct npu_area a[2] = { area_at(0, 4), area_at(4, n1) };
    a[0].power = true;              /* 0.375 a burst: fires every third burst */
    a[1].threshold = 2.5f;
    set_leak(&a[1], 0.1f);
    uint64_t n_syn = n1 + (uint64_t)n1 * fan;
    struct syn *syn = calloc(n_syn, sizeof(*syn));
    assert_non_null(syn);
    uint64_t k = 0, seed = 21;
    for (uint32_t t = 0; t < n1; t++)   /* neuron 0 reaches every neuron of a1 */
        syn[k++] = (struct syn){ .s = 0, .t = 4 + t, .w = 1, .psp = 1 };
    for (uint32_t i = 0; i < n1; i++) {
        uint32_t t0 = 4 + (uint32_t)(lcg(&seed) % n1), t1 = 4 + (uint32_t)(lcg(&seed) % n1);
        syn[k++] = (struct syn){ .s = 4 + i, .t = t0 < t1 ? t0 : t1, .w = 2, .psp = 1 };
        syn[k++] = (struct syn){ .s = 4 + i, .t = t0 < t1 ? t1 : t0, .w = 1, .psp = 1,
                                 .inh = i % 5 == 0 };
    }
    struct npu_net *net = build(a, 2, syn, k);
    free(syn);
    struct sched sc = busy_sched(net->n_neurons, 40, 22);
    static const uint32_t threads[] = { 1, 2, 3 }, batches[] = { 7, 7, 7 };
    assert_thread_counts_agree(net, &sc, threads, batches, 3);
    sched_free(&sc);
    npu_net_free(net);
}

/* A dense, one-loop-per-step model of SEMANTICS.md "One burst", written
 * from the text (not from the backend), run on the busy network. */
struct ref_model {
    const struct npu_net *net;
    int64_t power_q;
    float *mp;
    uint16_t *cd, *cfc;
    int64_t *sum;
    bool *cand;
    uint32_t *fid, n_f;     /* last burst's fires */
    float *fmp;
};

static uint32_t ref_psp_from_mp(float x)
{
    if (!(x >= 0.0f))
        x = 0.0f;
    if (x > 255.0f)
        x = 255.0f;
    float r = floorf(x);
    if (x - r >= 0.5f)
        r = r + 1.0f;
    return (uint32_t)r;
}

static void ref_burst(struct ref_model *m, uint32_t b, const uint32_t *id, const int64_t *q, uint32_t n_in,
                      struct trace *t)
{
    const struct npu_net *net = m->net;
    const uint32_t n = net->n_neurons;
    for (uint32_t i = 0; i < n; i++) {                       /* 1, 2 */
        if (!net->areas[net->area_of[i]].accumulate)
            m->mp[i] = 0.0f;
        m->sum[i] = 0;
        m->cand[i] = false;
    }
    for (uint32_t k = 0; k < n_in; k++) {                    /* 3 */
        m->sum[id[k]] += q[k];
        m->cand[id[k]] = true;
    }
    if (m->power_q != 0)                                     /* 4 */
        for (uint32_t i = 0; i < n; i++)
            if (net->areas[net->area_of[i]].power) {
                m->sum[i] += m->power_q;
                m->cand[i] = true;
            }
    for (uint32_t f = 0; f < m->n_f; f++) {                  /* 5 */
        uint32_t src = m->fid[f];
        const struct npu_area *a = &net->areas[net->area_of[src]];
        int64_t k = net->syn_off[src + 1] - net->syn_off[src];
        for (uint32_t e = net->syn_off[src]; e < net->syn_off[src + 1]; e++) {
            int64_t w = net->syn_wp[e] & 0xff;
            int64_t psp = a->mp_driven_psp ? ref_psp_from_mp(m->fmp[f]) : net->syn_wp[e] >> 8;
            int64_t c = w * psp * 65536;
            if (!a->psp_uniform && k > 1)
                c = (c + k / 2) / k;
            if (net->syn_target[e] & NPU_SYN_INHIBITORY)
                c = -c;
            uint32_t to = net->syn_target[e] & NPU_SYN_TARGET_MASK;
            m->sum[to] += c;
            m->cand[to] = true;
        }
    }
    m->n_f = 0;
    for (uint32_t i = 0; i < n; i++) {                       /* 6, 7 */
        if (!m->cand[i])
            continue;
        const struct npu_area *a = &net->areas[net->area_of[i]];
        bool limited = a->cfl != 0 && a->cfl != 65535;
        float cand = (float)m->sum[i] * (1.0f / 65536);
        if (m->cd[i] > 0) {
            m->cd[i]--;
            if (m->cd[i] == 0 && limited && m->cfc[i] >= a->cfl)
                m->cfc[i] = 0;
            continue;
        }
        m->mp[i] = m->mp[i] + cand;
        if (m->mp[i] >= a->threshold && (!a->has_limit || m->mp[i] <= a->threshold_limit)) {
            if (limited && m->cfc[i] >= a->cfl) {
                m->cfc[i] = 0;
                continue;
            }
            if (ref_fires(a->excitability, i, b)) {
                m->fid[m->n_f] = i;
                m->fmp[m->n_f++] = m->mp[i];
                m->mp[i] = 0.0f;
                if (m->cfc[i] < 65535)
                    m->cfc[i]++;
                uint32_t cd = limited && m->cfc[i] >= a->cfl ? (uint32_t)a->refractory + a->snooze
                                                              : a->refractory;
                m->cd[i] = (uint16_t)(cd > 65535 ? 65535 : cd);
                continue;
            }
        }
        if (limited)
            m->cfc[i] = 0;
        m->mp[i] = m->mp[i] * a->keep;
    }
    struct npu_fires f = { .first_burst = b, .count = 1, .off = (uint32_t[]){ 0, m->n_f },
                           .id = m->fid, .mp = m->fmp };
    trace_add(t, &f);
}

/* All of "One burst" at once: the backend equals the model written from
 * SEMANTICS.md on a busy network, fire for fire and bit for bit. */
static void test_reference_model(void **state)
{
    (void)state;
    struct npu_net *net = busy_net(21);
    struct sched sc = busy_sched(net->n_neurons, 500, 22);
    const uint32_t n = net->n_neurons;
    struct ref_model m = { .net = net, .power_q = QOF(0.375) };
    m.mp = calloc(n, sizeof(float));
    m.cd = calloc(n, sizeof(uint16_t));
    m.cfc = calloc(n, sizeof(uint16_t));
    m.sum = calloc(n, sizeof(int64_t));
    m.cand = calloc(n, sizeof(bool));
    m.fid = calloc(n, sizeof(uint32_t));
    m.fmp = calloc(n, sizeof(float));
    assert_true(m.mp && m.cd && m.cfc && m.sum && m.cand && m.fid && m.fmp);
    struct trace want = { 0 };
    for (uint32_t b = 1; b <= sc.bursts; b++)
        ref_burst(&m, b, sc.id + sc.off[b - 1], sc.q + sc.off[b - 1], sc.off[b] - sc.off[b - 1], &want);
    struct eng *e = eng_open(net, QOF(0.375));
    struct npu_state st;
    struct trace got = run_batched(e->be, &sc, 64, &st);
    assert_true(want.n > 3000);
    for (size_t k = 0; k < want.n && k < got.n; k++)
        if (memcmp(want.rec[k], got.rec[k], sizeof(want.rec[k])) != 0)
            fail_msg("fire %zu: model (burst %u, id %u, mp %#x), backend (burst %u, id %u, mp %#x)", k,
                     want.rec[k][0], want.rec[k][1], want.rec[k][2], got.rec[k][0], got.rec[k][1],
                     got.rec[k][2]);
    assert_int_equal(want.n, got.n);
    assert_memory_equal(st.mp, m.mp, n * sizeof(float));
    assert_memory_equal(st.countdown, m.cd, n * sizeof(uint16_t));
    assert_memory_equal(st.cfc, m.cfc, n * sizeof(uint16_t));
    npu_state_free(&st);
    eng_close(e);
    free(want.rec);
    free(got.rec);
    free(m.mp);
    free(m.cd);
    free(m.cfc);
    free(m.sum);
    free(m.cand);
    free(m.fid);
    free(m.fmp);
    sched_free(&sc);
    npu_net_free(net);
}

/* Determinism: two backend instances over the same network, run side by
 * side, give identical results; upload() resets an instance to burst 0 so
 * a second run on it repeats the first; a different stimulus seed differs. */
static void test_determinism(void **state)
{
    (void)state;
    struct npu_net *net = busy_net(5);
    struct sched sc = busy_sched(net->n_neurons, 300, 6);
    struct eng *e1 = eng_open(net, QOF(0.375));
    struct eng *e2 = eng_open(net, QOF(0.375));
    struct npu_state s1, s2, s3, s4;
    struct trace t1 = run_batched(e1->be, &sc, 7, &s1);
    struct trace t2 = run_batched(e2->be, &sc, 7, &s2);
    assert_true(t1.n > 1000);
    assert_same_run(&t1, &s1, &t2, &s2);

    struct npu_err err = { 0 };
    struct npu_run_params params = { .power_q = QOF(0.375) };
    assert_int_equal(e1->be->ops->upload(e1->be, net, &params, &err), NPU_OK);
    struct trace t3 = run_batched(e1->be, &sc, 64, &s3);
    assert_same_run(&t1, &s1, &t3, &s3);

    struct sched other = busy_sched(net->n_neurons, 300, 7);
    assert_int_equal(e2->be->ops->upload(e2->be, net, &params, &err), NPU_OK);
    struct trace t4 = run_batched(e2->be, &other, 64, &s4);
    assert_true(t4.n != t1.n || memcmp(t4.rec, t1.rec, t1.n * sizeof(*t1.rec)) != 0);

    free(t1.rec);
    free(t2.rec);
    free(t3.rec);
    free(t4.rec);
    npu_state_free(&s1);
    npu_state_free(&s2);
    npu_state_free(&s3);
    npu_state_free(&s4);
    sched_free(&sc);
    sched_free(&other);
    eng_close(e1);
    eng_close(e2);
    npu_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step1_reset_non_accumulating),
        cmocka_unit_test(test_step1_reset_after_leak),
        cmocka_unit_test(test_step2_clear),
        cmocka_unit_test(test_step3_sensory),
        cmocka_unit_test(test_step3_range_stimuli),
        cmocka_unit_test(test_step3_random_picks),
        cmocka_unit_test(test_sensory_two_stimuli_add),
        cmocka_unit_test(test_step4_power),
        cmocka_unit_test(test_power_zero_is_off),
        cmocka_unit_test(test_step5_propagate),
        cmocka_unit_test(test_step5_propagate_excitatory),
        cmocka_unit_test(test_fcl_exact_integer_sum),
        cmocka_unit_test(test_fcl_units_edge),
        cmocka_unit_test(test_units_bound),
        cmocka_unit_test(test_units_bound_threads),
        cmocka_unit_test(test_units_tag),
        cmocka_unit_test(test_units_u16),
        cmocka_unit_test(test_fcl_int64_to_float_rounding),
        cmocka_unit_test(test_units_to_float),
        cmocka_unit_test(test_candidate_with_zero_sum),
        cmocka_unit_test(test_psp_non_uniform_division),
        cmocka_unit_test(test_psp_non_uniform_tie_half_up),
        cmocka_unit_test(test_mp_driven_psp),
        cmocka_unit_test(test_6_1_countdown_discards),
        cmocka_unit_test(test_6_1_countdown_end_resets_cfc),
        cmocka_unit_test(test_non_candidates_untouched),
        cmocka_unit_test(test_6_3_threshold_window),
        cmocka_unit_test(test_6_3_1_consecutive_limit_blocks),
        cmocka_unit_test(test_6_3_2_pcg_known_answers),
        cmocka_unit_test(test_6_3_2_excitability),
        cmocka_unit_test(test_6_3_3_on_fire),
        cmocka_unit_test(test_6_3_3_cfc_saturates),
        cmocka_unit_test(test_6_4_not_fired),
        cmocka_unit_test(test_7_fire_queue_sorted),
        cmocka_unit_test(test_float32_single_rounding),
        cmocka_unit_test(test_subnormal_leak),
        cmocka_unit_test(test_batching_invariant),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_thread_count_invariant),
        cmocka_unit_test(test_thread_count_excitatory),
        cmocka_unit_test(test_thread_count_split_sources),
        cmocka_unit_test(test_thread_count_split_tagged),
        cmocka_unit_test(test_thread_count_long_row),
        cmocka_unit_test(test_reference_model),
    };
    /* Step 6 has two paths (a candidate at a time, or a whole bitmap word
     * in vector code) and the FCL four ways of summing (int64 only,
     * uniform synaptic input in int32 units where it provably fits, in
     * tagged int32 units that mark candidates themselves where their
     * tighter bound holds, or in uint16 units where every such input is
     * positive and small, the default where it holds); each combination
     * must meet every rule on its own, and so must the automatic choice.  The "always"
     * groups also decode every synapse's weight word where an area's are
     * all one (NPUSIM_CPU_CONST_WP=off), so that each way of summing runs
     * both ways of propagating. */
    static const char *const modes[] = { "never", "always" };
    static const char *const units[] = { "", "off", "int32", "tagged" };
    int failed = 0;
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            setenv("NPUSIM_CPU_DENSE", modes[m], 1);
            setenv("NPUSIM_CPU_UNITS", units[u], 1);
            setenv("NPUSIM_CPU_CONST_WP", m ? "off" : "", 1);
            char name[128];
            snprintf(name, sizeof(name), "engine, NPUSIM_CPU_DENSE=%s NPUSIM_CPU_UNITS=%s%s",
                     modes[m], units[u], m ? " NPUSIM_CPU_CONST_WP=off" : "");
            printf("[ MODE     ] %s\n", name);   /* cmocka's output does not name groups */
            failed += cmocka_run_group_tests_name(name, tests, NULL, NULL);
        }
    unsetenv("NPUSIM_CPU_UNITS");
    unsetenv("NPUSIM_CPU_CONST_WP");
    /* and the portable dynamics_word, which a machine with a vector one
     * would otherwise never run */
    setenv("NPUSIM_CPU_DENSE", "always", 1);
    setenv("NPUSIM_CPU_ISA", "portable", 1);
    printf("[ MODE     ] engine, NPUSIM_CPU_DENSE=always NPUSIM_CPU_ISA=portable\n");
    failed += cmocka_run_group_tests_name("engine, NPUSIM_CPU_DENSE=always NPUSIM_CPU_ISA=portable",
                                          tests, NULL, NULL);
    unsetenv("NPUSIM_CPU_ISA");
    unsetenv("NPUSIM_CPU_DENSE");
    printf("[ MODE     ] engine, automatic choices\n");
    failed += cmocka_run_group_tests_name("engine, automatic choices", tests, NULL, NULL);
    return failed;
}
