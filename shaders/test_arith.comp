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
        outw[k] = fx_psp_from_mp(uintBitsToFloat(inject[k]));
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
    }
}
