// The exact arithmetic of SEMANTICS.md on the device, and the buffers every
// kernel shares.  Mirrors src/fixed.h; tests/test_vk_arith.c and
// tests/checkbackends.c keep the two the same.
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_EXT_shader_atomic_int64 : require
#extension GL_EXT_spirv_intrinsics : require
#extension GL_GOOGLE_include_directive : require

#include "npu_layout.h"

#if NPU_DENORM_PRESERVE
// SPV_KHR_float_controls: Capability DenormPreserve (4464), ExecutionMode
// DenormPreserve (4459) for 32-bit floats.  Built only into the variant the
// backend picks when shaderDenormPreserveFloat32 is true.
spirv_execution_mode(extensions = ["SPV_KHR_float_controls"], capabilities = [4464], 4459, 32);
#endif

layout(push_constant) uniform Push { npu_gpu_push pc; };

struct area_t {
    float threshold;
    float threshold_limit;
    float keep;
    float excitability;
    uint refractory_cfl;
    uint snooze_flags;
    uint pad0;
    uint pad1;
};

layout(std430, binding = NPU_B_AREA) readonly buffer AreaB { area_t areas[]; };
layout(std430, binding = NPU_B_AREA_OF) readonly buffer AreaOfB { uint area_of_w[]; };
layout(std430, binding = NPU_B_SYN_OFF) readonly buffer SynOffB { uint syn_off[]; };
layout(std430, binding = NPU_B_SYN_TGT) readonly buffer SynTgtB { uint syn_tgt[]; };
layout(std430, binding = NPU_B_SYN_WP) readonly buffer SynWpB { uint syn_wp_w[]; };
layout(std430, binding = NPU_B_MP) buffer MpB { float mp[]; };
layout(std430, binding = NPU_B_CC) buffer CcB { uint cc[]; };
layout(std430, binding = NPU_B_FCL) buffer FclB { uint64_t fcl[]; };
layout(std430, binding = NPU_B_CAND_STAMP) buffer CandStampB { uint cand_stamp[]; };
layout(std430, binding = NPU_B_CAND_LIST) buffer CandListB { uint cand_list[]; };
layout(std430, binding = NPU_B_FIRE_STAMP) buffer FireStampB { uint fire_stamp[]; };
layout(std430, binding = NPU_B_FIRE_ID) buffer FireIdB { uint fire_id[]; };
layout(std430, binding = NPU_B_FIRE_MP) buffer FireMpB { float fire_mp[]; };
layout(std430, binding = NPU_B_LAST_MP) buffer LastMpB { float last_mp[]; };
layout(std430, binding = NPU_B_POWER) readonly buffer PowerB { uint power_id[]; };
layout(std430, binding = NPU_B_CTL) buffer CtlB { uint ctl[]; };
layout(std430, binding = NPU_B_INJECT) readonly buffer InjectB { uint inject[]; };
layout(std430, binding = NPU_B_OUT) buffer OutB { uint outw[]; };

#define CTL_CAND_COUNT 0u
#define CTL_FIRE_COUNT 2u

uint area_of(uint i)
{
    return (area_of_w[i >> 1] >> ((i & 1u) * 16u)) & 0xffffu;
}

uint syn_wp(uint k)
{
    return (syn_wp_w[k >> 1] >> ((k & 1u) * 16u)) & 0xffffu;
}

// Unsigned 64-bit integer to float32, rounded to nearest, ties to even, with
// integer operations only, so no driver conversion is trusted.
float u64_to_f32_rne(uint64_t m)
{
    if (m < (uint64_t(1) << 24))
        return float(uint(m)); // exact: fits the 24-bit significand
    uint hi = uint(m >> 32);
    int e = hi != 0u ? 32 + findMSB(hi) : findMSB(uint(m)); // 24 .. 63
    uint shift = uint(e - 23);
    uint64_t mant = m >> shift;
    uint64_t rem = m & ((uint64_t(1) << shift) - uint64_t(1));
    uint64_t halfway = uint64_t(1) << (shift - 1u);
    if (rem > halfway || (rem == halfway && (mant & uint64_t(1)) != uint64_t(0)))
        mant += uint64_t(1);
    if (mant == (uint64_t(1) << 24)) {
        mant >>= 1;
        e += 1;
    }
    uint bits = (uint(e + 127) << 23) | (uint(mant) & 0x7fffffu);
    return uintBitsToFloat(bits);
}

// npu_fx_to_float: (float)sum * (1.0f / 65536), sum a two's complement int64.
float fx_to_float(uint64_t sum)
{
    bool neg = int64_t(sum) < int64_t(0);
    uint64_t mag = neg ? uint64_t(0) - sum : sum;
    precise float f = u64_to_f32_rne(mag);
    if (neg)
        f = -f; // sign flip is exact
    precise float r = f * (1.0 / 65536.0);
    return r;
}

uint fx_pcg(uint x)
{
    uint s = x * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28) + 4u)) ^ s) * 277803737u;
    return (w >> 22) ^ w;
}

float fx_uniform(uint i, uint b)
{
    uint h = fx_pcg(i * 2654435761u + b * 1597334677u);
    precise float u = u64_to_f32_rne(uint64_t(h)) * uintBitsToFloat(0x2f800000u); // 2^-32
    return u;
}

bool fx_fires(float excitability, uint i, uint b)
{
    if (excitability >= 0.999)
        return true;
    if (excitability <= 0.0)
        return false;
    return fx_uniform(i, b) < excitability;
}

uint fx_psp_from_mp(float mpv)
{
    precise float x = mpv;
    if (!(x > 0.0))
        x = 0.0;
    if (x > 255.0)
        x = 255.0;
    precise float r = floor(x);
    precise float d = x - r;
    if (d >= 0.5)
        r += 1.0;
    return uint(r);
}

// npu_fx_contribution as a two's complement uint64, so adds wrap (defined).
uint64_t fx_contribution(uint weight, uint psp_used, bool inhibitory, bool uniform_psp, uint k)
{
    uint64_t mag = uint64_t(weight) * uint64_t(psp_used) * uint64_t(65536);
    if (!uniform_psp && k > 1u)
        mag = (mag + uint64_t(k / 2u)) / uint64_t(k);
    return inhibitory ? uint64_t(0) - mag : mag;
}

// Adds v to target t's FCL entry and makes t a candidate of this burst: the
// first adder (the one that swaps the stamp) appends t to the candidate list.
void fcl_add(uint t, uint64_t v)
{
    atomicAdd(fcl[t], v);
    if (cand_stamp[t] != pc.burst && atomicExchange(cand_stamp[t], pc.burst) != pc.burst) {
        uint k = atomicAdd(ctl[CTL_CAND_COUNT + pc.parity], 1u);
        cand_list[pc.parity * pc.n + k] = t;
    }
}

// Workgroups needed for count items at per items each, capped; kernels loop.
uint groups_for(uint count, uint per)
{
    return min((count + per - 1u) / per, pc.group_cap);
}
