#version 460
// Unit tests of the exact arithmetic (tests/test_vk_arith.c): inputs in the
// INJECT buffer, results in OUT, one item per thread.
#include "common.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    uint k = gl_GlobalInvocationID.x;
    if (k >= pc.inject_count)
        return;
    if (pc.mode == NPU_TEST_TO_FLOAT) {
        uint64_t s = uint64_t(inject[2u * k]) | (uint64_t(inject[2u * k + 1u]) << 32);
        outw[k] = floatBitsToUint(fx_to_float(s));
    } else if (pc.mode == NPU_TEST_UNIFORM) {
        uint i = inject[2u * k], b = inject[2u * k + 1u];
        outw[2u * k] = fx_pcg(i * 2654435761u + b * 1597334677u);
        outw[2u * k + 1u] = floatBitsToUint(fx_uniform(i, b));
    } else if (pc.mode == NPU_TEST_PSP) {
        outw[k] = fx_psp_from_mp(inject[k]);
    } else if (pc.mode == NPU_TEST_CONTRIB) {
        uint w = 5u * k;
        uint64_t c = fx_contribution(inject[w], inject[w + 1u], inject[w + 2u] != 0u,
                                     inject[w + 3u] != 0u, inject[w + 4u]);
        outw[2u * k] = uint(c);
        outw[2u * k + 1u] = uint(c >> 32);
    } else if (pc.mode == NPU_TEST_FLOAT_OPS) {
        precise float a = uintBitsToFloat(inject[2u * k]);
        precise float b = uintBitsToFloat(inject[2u * k + 1u]);
        precise float s = a + b;
        precise float m = a * b;
        outw[2u * k] = floatBitsToUint(s);
        outw[2u * k + 1u] = floatBitsToUint(m);
    } else if (pc.mode == NPU_TEST_EXACT) {
        // The functions the dynamics kernel uses, their integer paths
        // forced, and their fast/slow choice under emulated flushing.
        uint a = inject[2u * k], b = inject[2u * k + 1u];
        precise float fa = uintBitsToFloat(f32_daz(a));
        precise float fb = uintBitsToFloat(f32_daz(b));
        precise float fs = fa + fb;
        precise float fm = fa * fb;
        uint o = NPU_TEST_EXACT_WORDS * k;
        outw[o + 0u] = f32_add(a, b);
        outw[o + 1u] = f32_mul(a, b);
        outw[o + 2u] = f32_add_exact(a, b);
        outw[o + 3u] = f32_mul_exact(a, b);
        outw[o + 4u] = f32_add_sel(a, b, f32_ftz(floatBitsToUint(fs)));
        outw[o + 5u] = f32_mul_sel(a, b, f32_ftz(floatBitsToUint(fm)));
        outw[o + 6u] = (f32_lt(a, b) ? 1u : 0u) | (f32_le(a, b) ? 2u : 0u) |
                       (f32_gt(a, b) ? 4u : 0u) | (f32_ge(a, b) ? 8u : 0u);
    } else if (pc.mode == NPU_TEST_FIRES) {
        outw[k] = fx_fires(inject[3u * k], inject[3u * k + 1u], inject[3u * k + 2u]) ? 1u : 0u;
    } else if (pc.mode == NPU_TEST_PICK) {
        outw[k] = fx_pick_hash(inject[2u * k], inject[2u * k + 1u]);
    }
}
