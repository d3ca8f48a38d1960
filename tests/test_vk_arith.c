/* The exact arithmetic of SEMANTICS.md on the Vulkan device, against
 * src/fixed.h and the host's IEEE binary32: int64 -> float rounding (ties
 * included), the pcg draw, the excitability decision, the mp-driven psp
 * rounding, the integer contribution, and the exact float add, multiply and
 * compares of common.glsl (the functions the dynamics kernel calls, their
 * integer paths forced, and their fast/slow choice under emulated flushing)
 * over subnormal edge cases and millions of random pairs.  The hardware's own
 * float + and * on subnormals are only reported.  Exit 77 (skip) without a
 * device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "fixed.h"
#include "npu_layout.h"
#include "vulkan/vk_backend.h"

#define SKIP 77
#define N_RANDOM 20000
#define N_EXACT_RANDOM (4u << 20) /* random pairs for the exact add / mul / compares */
#define EXACT_CHUNK (1u << 20)

static unsigned failures;

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static struct npu_net *tiny_net(void)
{
    struct npu_net *net = calloc(1, sizeof(*net));
    net->n_areas = 1;
    net->areas = calloc(1, sizeof(*net->areas));
    net->areas[0] = (struct npu_area){ .name = "a", .count = 1, .dim = { 1, 1, 1 },
                                       .threshold = 1.0f, .keep = 1.0f, .excitability = 1.0f };
    net->n_neurons = 1;
    net->n_synapses = 0;
    struct npu_err err;
    if (npu_net_alloc_arrays(net, &err))
        abort();
    net->area_of[0] = 0;
    return net;
}

static int run(struct npu_backend *be, uint32_t mode, uint32_t n, const uint32_t *in,
               uint32_t in_words, uint32_t *out, uint32_t out_words)
{
    struct npu_err err = { 0 };
    int rc = npu_vk_test_arith(be, mode, n, in, in_words, out, out_words, &err);
    if (rc)
        fprintf(stderr, "test_arith mode %u: %s\n", mode, err.msg);
    return rc;
}

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            if (failures++ < 20) {                                            \
                fprintf(stderr, __VA_ARGS__);                                 \
                fputc('\n', stderr);                                          \
            }                                                                 \
        }                                                                     \
    } while (0)

static int test_to_float(struct npu_backend *be)
{
    enum { N_FIXED = 64 };
    uint32_t n = N_FIXED + N_RANDOM;
    int64_t *v = calloc(n, sizeof(*v));
    uint32_t *in = calloc(2 * (size_t)n, sizeof(*in));
    uint32_t *out = calloc(n, sizeof(*out));
    uint32_t k = 0;
    const int64_t fixed[] = {
        0, 1, -1, 65536, -65536, (1 << 24) - 1, 1 << 24, (1 << 24) + 1, (1 << 24) + 2,
        (1 << 24) + 3, -((1 << 24) + 1), -((1 << 24) + 3), (INT64_C(1) << 25) + 2,
        (INT64_C(1) << 25) + 6, (INT64_C(1) << 40) + (INT64_C(1) << 16),
        (INT64_C(1) << 40) + (INT64_C(3) << 16), INT64_MAX, INT64_MIN, INT64_MIN + 1,
        INT64_C(0x7fffff8000000000), INT64_C(0x7fffffbfffffffff), INT64_C(0xffffff) << 39,
        (INT64_C(0xffffff) << 39) + (INT64_C(1) << 38), INT64_C(4261478400),
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        v[k++] = fixed[i];
    /* Ties at every shift: m * 2^s + 2^(s-1) with an odd and an even m. */
    for (int s = 1; s <= 38 && k + 2 <= N_FIXED; s += 2) {
        v[k++] = ((INT64_C(0xabcdef) | 1) << s) + (INT64_C(1) << (s - 1));
        v[k++] = -(((INT64_C(0xabcdee)) << s) + (INT64_C(1) << (s - 1)));
    }
    while (k < n) {
        uint64_t r = rnd();
        int shift = (int)(rnd() % 64);
        int64_t x = (int64_t)(r >> shift);
        if (rnd() & 1)
            x = -x;
        if ((rnd() & 3) == 0) /* force a tie */
            x = (x & ~INT64_C(0xff)) | 0x80;
        v[k++] = x;
    }
    for (uint32_t i = 0; i < n; i++) {
        in[2 * i] = (uint32_t)(uint64_t)v[i];
        in[2 * i + 1] = (uint32_t)((uint64_t)v[i] >> 32);
    }
    int rc = run(be, NPU_TEST_TO_FLOAT, n, in, 2 * n, out, n);
    for (uint32_t i = 0; !rc && i < n; i++)
        CHECK(out[i] == fbits(npu_fx_to_float(v[i])),
              "to_float(%lld): device %08x, host %08x", (long long)v[i], out[i],
              fbits(npu_fx_to_float(v[i])));
    free(v);
    free(in);
    free(out);
    return rc;
}

static int test_uniform(struct npu_backend *be)
{
    uint32_t n = N_RANDOM;
    uint32_t *in = calloc(2 * (size_t)n, sizeof(*in));
    uint32_t *out = calloc(2 * (size_t)n, sizeof(*out));
    for (uint32_t i = 0; i < n; i++) {
        in[2 * i] = i < 100 ? i : (uint32_t)rnd();
        in[2 * i + 1] = i < 100 ? 1 + i % 7 : (uint32_t)rnd();
    }
    int rc = run(be, NPU_TEST_UNIFORM, n, in, 2 * n, out, 2 * n);
    for (uint32_t i = 0; !rc && i < n; i++) {
        uint32_t id = in[2 * i], b = in[2 * i + 1];
        uint32_t h = npu_fx_pcg(id * 2654435761u + b * 1597334677u);
        CHECK(out[2 * i] == h, "pcg(%u, %u): device %08x, host %08x", id, b, out[2 * i], h);
        CHECK(out[2 * i + 1] == fbits(npu_fx_uniform(id, b)),
              "uniform(%u, %u): device %08x, host %08x", id, b, out[2 * i + 1],
              fbits(npu_fx_uniform(id, b)));
    }
    free(in);
    free(out);
    return rc;
}

static int test_psp(struct npu_backend *be)
{
    const float fixed[] = { -1.0f, 0.0f, -0.0f, 0.49999997f, 0.5f, 1.5f, 2.5f, 2.4999998f,
                            254.5f, 254.49998f, 255.0f, 255.5f, 1e9f, 1e-40f, -1e-40f,
                            0x1p-149f, 3.75f, 127.5f, 0x1p-126f, 0x1.fffffcp-127f,
                            -0x1p-149f, 0x1.fffffep-2f, 0.5f, 0x1.000002p-1f,
                            0x1.fffffep+7f, 254.99998f, 0x1p-24f, 1.0f, 0x1.000002p+0f };
    uint32_t nf = sizeof(fixed) / sizeof(fixed[0]);
    uint32_t n = nf + N_RANDOM;
    uint32_t *in = calloc(n, sizeof(*in));
    uint32_t *out = calloc(n, sizeof(*out));
    for (uint32_t i = 0; i < n; i++)
        in[i] = fbits(i < nf ? fixed[i] : (float)((double)(rnd() % 3000000) / 10000.0 - 10.0));
    int rc = run(be, NPU_TEST_PSP, n, in, n, out, n);
    for (uint32_t i = 0; !rc && i < n; i++)
        CHECK(out[i] == npu_fx_psp_from_mp(bitsf(in[i])), "psp(%.9g): device %u, host %u",
              (double)bitsf(in[i]), out[i], npu_fx_psp_from_mp(bitsf(in[i])));
    free(in);
    free(out);
    return rc;
}

static int test_contribution(struct npu_backend *be)
{
    uint32_t n = N_RANDOM;
    uint32_t *in = calloc(5 * (size_t)n, sizeof(*in));
    uint32_t *out = calloc(2 * (size_t)n, sizeof(*out));
    const uint32_t ks[] = { 0, 1, 2, 3, 7, 1000, 65537, 0x80000001u, UINT32_MAX };
    for (uint32_t i = 0; i < n; i++) {
        uint32_t *w = in + 5 * i;
        w[0] = i < 256 ? i : (uint32_t)(rnd() % 256);
        w[1] = i < 256 ? 255 - i : (uint32_t)(rnd() % 256);
        w[2] = (uint32_t)(rnd() & 1);
        w[3] = (uint32_t)(rnd() & 1);
        w[4] = (rnd() & 1) ? ks[rnd() % (sizeof(ks) / sizeof(ks[0]))] : (uint32_t)(rnd() % 500);
    }
    int rc = run(be, NPU_TEST_CONTRIB, n, in, 5 * n, out, 2 * n);
    for (uint32_t i = 0; !rc && i < n; i++) {
        const uint32_t *w = in + 5 * i;
        int64_t c = npu_fx_contribution(w[0], w[1], (int)w[2], (int)w[3], w[4]);
        uint64_t dev = (uint64_t)out[2 * i] | (uint64_t)out[2 * i + 1] << 32;
        CHECK(dev == (uint64_t)c, "contribution(w %u, psp %u, inh %u, uniform %u, k %u): "
              "device %lld, host %lld", w[0], w[1], w[2], w[3], w[4], (long long)dev,
              (long long)c);
    }
    free(in);
    free(out);
    return rc;
}

/* The hardware's own float add and multiply, one rounding each.  Normal
 * results must match on every device; subnormal ones must match when the
 * device preserves denormals, and are reported otherwise (the kernels do not
 * depend on them: test_exact). */
static int test_float_ops(struct npu_backend *be, bool preserve)
{
    const float sub[][2] = {
        { 0x1p-130f, 1.0f }, { 0x1p-149f, 1.0f }, { 0x1p-126f, 0.5f }, { 0x1p-120f, 0x1p-10f },
        { 0x1.8p-127f, 0x1p-1f }, { 1e-38f, 0.75f }, { 0x1p-130f, 0.0f },
    };
    uint32_t ns = sizeof(sub) / sizeof(sub[0]);
    uint32_t n = ns + N_RANDOM;
    uint32_t *in = calloc(2 * (size_t)n, sizeof(*in));
    uint32_t *out = calloc(2 * (size_t)n, sizeof(*out));
    for (uint32_t i = 0; i < n; i++) {
        float a, b;
        if (i < ns) {
            a = sub[i][0];
            b = sub[i][1];
        } else {
            /* normal range: exponents well away from overflow and underflow */
            a = ldexpf((float)(rnd() % 16777216) / 16777216.0f + 0.5f, (int)(rnd() % 40) - 20);
            b = ldexpf((float)(rnd() % 16777216) / 16777216.0f + 0.5f, (int)(rnd() % 40) - 20);
            if (rnd() & 1)
                b = -b;
        }
        in[2 * i] = fbits(a);
        in[2 * i + 1] = fbits(b);
    }
    int rc = run(be, NPU_TEST_FLOAT_OPS, n, in, 2 * n, out, 2 * n);
    unsigned flushed = 0;
    for (uint32_t i = 0; !rc && i < n; i++) {
        float a = bitsf(in[2 * i]), b = bitsf(in[2 * i + 1]);
        float s = a + b, m = a * b;
        bool same = out[2 * i] == fbits(s) && out[2 * i + 1] == fbits(m);
        if (i < ns && !preserve) {
            if (!same) {
                flushed++;
                printf("  subnormal: %a + %a = %a (host %a), %a * %a = %a (host %a)\n",
                       (double)a, (double)b, (double)bitsf(out[2 * i]), (double)s, (double)a,
                       (double)b, (double)bitsf(out[2 * i + 1]), (double)m);
            }
            continue;
        }
        CHECK(same, "%a + %a: device %08x host %08x; %a * %a: device %08x host %08x",
              (double)a, (double)b, out[2 * i], fbits(s), (double)a, (double)b,
              out[2 * i + 1], fbits(m));
    }
    if (!rc && !preserve)
        printf("hardware float ops without DenormPreserve: %u of %u subnormal cases differ from "
               "the host (the kernels use the exact functions instead)\n", flushed, ns);
    free(in);
    free(out);
    return rc;
}

/* ---- exact float add, multiply and compares (common.glsl f32_*) ---- */

/* Magnitudes (bit patterns) around every boundary that flushing or the
 * subnormal rounding can move: the smallest and largest subnormals, FLT_MIN
 * and its neighbours, halves and ties at subnormal precision, factors whose
 * products land at 2^-150 / 2^-149 / just under 2^-126, and large values for
 * overflow.  Every signed pair of them is tested. */
static const uint32_t edge_mag[] = {
    0x00000000, 0x00000001, 0x00000002, 0x00000003, 0x00000005, 0x003fffff, 0x00400000,
    0x00400001, 0x007ffffd, 0x007ffffe, 0x007fffff, 0x00800000, 0x00800001, 0x00800002,
    0x00bfffff, 0x00c00000, 0x00ffffff, 0x01000000, 0x01000001, 0x01800000,
    0x33800000 /* 2^-24 */, 0x33000000 /* 2^-25 */, 0x34000000 /* 2^-23 */,
    0x3effffff, 0x3f000000 /* 0.5 */, 0x3f000001, 0x3f3fffff, 0x3f400000 /* 0.75 */,
    0x3f7fbe77 /* 0.999 */, 0x3f7fffff /* 1 - 2^-24 */, 0x3f800000 /* 1 */, 0x3f800001,
    0x3fc00000 /* 1.5 */, 0x40000000 /* 2 */, 0x40400000 /* 3 */,
    0x1a000000 /* 2^-75 */, 0x1a000001, 0x1a3504f3 /* ~2^-74.5 */, 0x1a800000 /* 2^-74 */,
    0x19800000 /* 2^-76 */, 0x0d800000 /* 2^-100 */, 0x32800000 /* 2^-26 */,
    0x26800000 /* 2^-50 */, 0x2f800000 /* 2^-32 */, 0x4b000000 /* 2^23 */,
    0x4b800000 /* 2^24 */, 0x5f800000 /* 2^64 */, 0x7effffff, 0x7f000000 /* 2^127 */,
    0x7f7ffffe, 0x7f7fffff /* FLT_MAX */, 0x437f0000 /* 255 */, 0x3dcccccd /* 0.1 */,
};
#define N_EDGE_MAG (sizeof(edge_mag) / sizeof(edge_mag[0]))

static uint32_t rnd_exp_frac(uint32_t exp_lo, uint32_t exp_hi)
{
    uint32_t e = exp_lo + (uint32_t)(rnd() % (exp_hi - exp_lo + 1));
    uint32_t frac = (uint32_t)rnd() & 0x7fffff;
    switch (rnd() % 4) {
    case 0: frac &= 0x7c0000; break;               /* few significant bits: ties */
    case 1: frac = (uint32_t)(rnd() % 8); break;   /* tiny integers when subnormal */
    default: break;
    }
    return e << 23 | frac;
}

/* A random pair biased toward tiny exponents, subnormal results of add and
 * multiply, cancellation and ties; never infinite or NaN inputs. */
static void rnd_pair(uint32_t *a, uint32_t *b)
{
    uint32_t x, y;
    switch (rnd() % 8) {
    case 0: case 1: /* both tiny: subnormal sums and differences */
        x = rnd_exp_frac(0, 3);
        y = rnd_exp_frac(0, 26);
        break;
    case 2: case 3: { /* products near and below 2^-126: ea + eb in [98, 134] */
        uint32_t s = 98 + (uint32_t)(rnd() % 37);
        uint32_t ea = (uint32_t)(rnd() % (s + 1));
        if (ea > 254)
            ea = 254;
        uint32_t eb = s - ea > 254 ? 254 : s - ea;
        x = rnd_exp_frac(ea, ea);
        y = rnd_exp_frac(eb, eb);
        break;
    }
    case 4: /* near cancellation: b = -a plus a few ulps */
        x = rnd_exp_frac(0, rnd() % 2 ? 30 : 254);
        y = x + (uint32_t)(rnd() % 7) - 3;
        if ((y & 0x7f800000) == 0x7f800000 || (y & 0x80000000) != (x & 0x80000000))
            y = x;
        y ^= 0x80000000;
        break;
    case 5: /* a subnormal against anything smallish: alignment, sticky bits */
        x = rnd_exp_frac(0, 0);
        y = rnd_exp_frac(0, 70);
        break;
    case 6: /* a subnormal times a factor around 1 (mp * keep) */
        x = rnd_exp_frac(0, 0);
        y = rnd_exp_frac(100, 140);
        break;
    default: /* anything finite */
        x = rnd_exp_frac(0, 254);
        y = rnd_exp_frac(0, 254);
        break;
    }
    if (rnd() & 1)
        x ^= 0x80000000;
    if (rnd() & 1)
        y ^= 0x80000000;
    if (rnd() & 1) {
        *a = x;
        *b = y;
    } else {
        *a = y;
        *b = x;
    }
}

static const char *const exact_what[] = {
    "f32_add", "f32_mul", "f32_add_exact", "f32_mul_exact", "f32_add_sel (flushing)",
    "f32_mul_sel (flushing)", "compare mask",
};

static int test_exact(struct npu_backend *be)
{
    const uint32_t nedge = 2 * N_EDGE_MAG;
    const uint32_t n_pairs_edge = nedge * nedge;
    const uint32_t total = n_pairs_edge + N_EXACT_RANDOM;
    const uint32_t W = NPU_TEST_EXACT_WORDS;
    uint32_t *in = calloc(2 * (size_t)EXACT_CHUNK, sizeof(*in));
    uint32_t *out = calloc((size_t)W * EXACT_CHUNK, sizeof(*out));
    unsigned long bad[NPU_TEST_EXACT_WORDS] = { 0 };
    unsigned long subnormal_results = 0, zero_results = 0;
    int rc = 0;
    for (uint32_t done = 0; !rc && done < total;) {
        uint32_t n = total - done < EXACT_CHUNK ? total - done : EXACT_CHUNK;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t idx = done + k;
            if (idx < n_pairs_edge) {
                uint32_t i = idx / nedge, j = idx % nedge;
                in[2 * k] = edge_mag[i / 2] | (i & 1u) << 31;
                in[2 * k + 1] = edge_mag[j / 2] | (j & 1u) << 31;
            } else {
                rnd_pair(&in[2 * k], &in[2 * k + 1]);
            }
        }
        rc = run(be, NPU_TEST_EXACT, n, in, 2 * n, out, W * n);
        for (uint32_t k = 0; !rc && k < n; k++) {
            float a = bitsf(in[2 * k]), b = bitsf(in[2 * k + 1]);
            uint32_t s = fbits(a + b), m = fbits(a * b);
            uint32_t cmp = (uint32_t)(a < b) | (uint32_t)(a <= b) << 1 |
                           (uint32_t)(a > b) << 2 | (uint32_t)(a >= b) << 3;
            const uint32_t want[NPU_TEST_EXACT_WORDS] = { s, m, s, m, s, m, cmp };
            for (uint32_t w = 0; w < W; w++) {
                if (out[W * k + w] == want[w])
                    continue;
                bad[w]++;
                CHECK(0, "%s(%a [%08x], %a [%08x]): device %08x, host %08x", exact_what[w],
                      (double)a, in[2 * k], (double)b, in[2 * k + 1], out[W * k + w], want[w]);
            }
            subnormal_results += ((s & 0x7f800000) == 0 && (s & 0x7fffff)) +
                                 ((m & 0x7f800000) == 0 && (m & 0x7fffff));
            zero_results += ((s & 0x7fffffff) == 0) + ((m & 0x7fffffff) == 0);
        }
        done += n;
    }
    if (!rc) {
        printf("exact float ops: %u pairs (%u signed edge pairs, %u random), %lu subnormal and "
               "%lu zero results; mismatches:", total, n_pairs_edge, N_EXACT_RANDOM,
               subnormal_results, zero_results);
        for (uint32_t w = 0; w < W; w++)
            printf(" %s %lu%s", exact_what[w], bad[w], w + 1 < W ? "," : "\n");
    }
    free(in);
    free(out);
    return rc;
}

/* fx_fires against npu_fx_fires, subnormal and boundary excitabilities
 * included, with the one draw whose hash is 0 (u = 0 < any positive
 * excitability, subnormal or not). */
static int test_fires(struct npu_backend *be)
{
    const uint32_t exc[] = {
        0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x2f800000,
        0x2f7fffff, 0x2f800001, 0x3e99999a /* 0.3 */, 0x3f7fbe76, 0x3f7fbe77 /* 0.999 */,
        0x3f7fbe78, 0x3f800000, 0xbf800000, 0x3f000000, 0x30000000,
    };
    const uint32_t ne = sizeof(exc) / sizeof(exc[0]);
    /* pcg(449710063) == 0; i for burst 1 with i * 2654435761 + 1597334677 == that */
    const uint32_t zero_x = 449710063u, inv = 244002641u; /* inv * 2654435761 == 1 mod 2^32 */
    const uint32_t zero_i = (zero_x - 1597334677u) * inv;
    if (npu_fx_pcg(zero_i * 2654435761u + 1u * 1597334677u) != 0) {
        fprintf(stderr, "test_fires: the zero-hash draw is wrong\n");
        return 1;
    }
    uint32_t n = 2 * ne + N_RANDOM;
    uint32_t *in = calloc(3 * (size_t)n, sizeof(*in));
    uint32_t *out = calloc(n, sizeof(*out));
    for (uint32_t k = 0; k < n; k++) {
        uint32_t *w = in + 3 * k;
        if (k < 2 * ne) {
            w[0] = exc[k % ne];
            w[1] = k < ne ? zero_i : (uint32_t)rnd();
            w[2] = k < ne ? 1u : (uint32_t)rnd();
        } else {
            w[0] = rnd() & 1 ? exc[rnd() % ne] : fbits((float)(rnd() >> 40) * 0x1p-24f);
            w[1] = (uint32_t)rnd();
            w[2] = (uint32_t)rnd();
        }
    }
    int rc = run(be, NPU_TEST_FIRES, n, in, 3 * n, out, n);
    for (uint32_t k = 0; !rc && k < n; k++) {
        const uint32_t *w = in + 3 * k;
        uint32_t want = (uint32_t)npu_fx_fires(bitsf(w[0]), w[1], w[2]);
        CHECK(out[k] == want, "fires(exc %a [%08x], i %u, b %u): device %u, host %u",
              (double)bitsf(w[0]), w[0], w[1], w[2], out[k], want);
    }
    free(in);
    free(out);
    return rc;
}

/* The random-stimulus pick hash (npu_fx_pick_hash), on random and edge keys. */
static int test_pick(struct npu_backend *be)
{
    uint32_t n = N_RANDOM;
    uint32_t *in = calloc(2 * (size_t)n, sizeof(*in));
    uint32_t *out = calloc(n, sizeof(*out));
    const uint32_t edge[] = { 0, 1, 0x7fffffffu, 0x80000000u, 0xffffffffu };
    for (uint32_t k = 0; k < n; k++) {
        in[2 * k] = k < 25 ? edge[k % 5] : (uint32_t)rnd();
        in[2 * k + 1] = k < 25 ? edge[k / 5] : (uint32_t)rnd();
    }
    int rc = run(be, NPU_TEST_PICK, n, in, 2 * n, out, n);
    for (uint32_t k = 0; !rc && k < n; k++) {
        uint32_t want = npu_fx_pick_hash(in[2 * k], in[2 * k + 1]);
        CHECK(out[k] == want, "pick_hash(key %08x, i %u): device %08x, host %08x", in[2 * k],
              in[2 * k + 1], out[k], want);
    }
    free(in);
    free(out);
    return rc;
}

int main(void)
{
    struct npu_backend_cfg cfg = { .device_index = NPU_DEVICE_ANY, .validation = !getenv("NPUSIM_NO_VALIDATION") };
    struct npu_err err = { 0 };
    struct npu_backend *be = NULL;
    struct npu_net *net = tiny_net();
    struct npu_run_params params = { 0 };
    int rc = npu_backend_open(&npu_backend_vulkan, &cfg, net, &params, &be, &err);
    npu_net_free(net);
    if (rc == NPU_E_BACKEND) {
        printf("SKIP: %s\n", err.msg);
        return SKIP;
    }
    if (rc) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        return 1;
    }
    bool preserve = npu_vk_denorm_preserve(be);
    printf("device: %s\n", be->device);
    rc = test_to_float(be);
    if (!rc)
        rc = test_uniform(be);
    if (!rc)
        rc = test_psp(be);
    if (!rc)
        rc = test_contribution(be);
    if (!rc)
        rc = test_float_ops(be, preserve);
    if (!rc)
        rc = test_fires(be);
    if (!rc)
        rc = test_exact(be);
    if (!rc)
        rc = test_pick(be);
    npu_backend_destroy(be);
    if (rc || failures) {
        fprintf(stderr, "FAIL: %u mismatches\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
