/* The exact arithmetic of SEMANTICS.md on the Vulkan device, against
 * src/fixed.h: int64 -> float rounding (ties included), the pcg draw, the
 * mp-driven psp rounding, the integer contribution, and float + and * (with
 * subnormals, whose handling is reported).  Exit 77 (skip) without a device. */
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
                            0x1p-149f, 3.75f, 127.5f };
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

/* Float add and multiply, one rounding each.  Normal results must match on
 * every device; subnormal ones must match when the device preserves
 * denormals, and are reported otherwise. */
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
        printf("device without DenormPreserve: %u of %u subnormal cases differ from the host\n",
               flushed, ns);
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
    npu_backend_destroy(be);
    if (rc || failures) {
        fprintf(stderr, "FAIL: %u mismatches\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
