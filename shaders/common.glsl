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

// The float parameters are read as their bit patterns: every float operation
// on them goes through the exact functions below (see "Exact binary32").
struct area_t {
    uint threshold;       // float bits
    uint threshold_limit; // float bits
    uint keep;            // float bits
    uint excitability;    // float bits
    uint refractory_cfl;
    uint snooze_flags;
    uint wp_const; // with NPU_AF_CONST_WP
    uint pad1;
};

layout(std430, binding = NPU_B_AREA) readonly buffer AreaB { area_t areas[]; };
layout(std430, binding = NPU_B_AREA_OF) readonly buffer AreaOfB { uint area_of_w[]; };
layout(std430, binding = NPU_B_SYN_OFF) readonly buffer SynOffB { uint syn_off[]; };
layout(std430, binding = NPU_B_SYN_TGT) readonly buffer SynTgtB { uint syn_tgt[]; };
layout(std430, binding = NPU_B_SYN_WP) readonly buffer SynWpB { uint syn_wp_w[]; };
layout(std430, binding = NPU_B_MP) buffer MpB { uint mp[]; };          // float bits
layout(std430, binding = NPU_B_CC) buffer CcB { uint cc[]; };
layout(std430, binding = NPU_B_FCL) buffer FclB { uint64_t fcl[]; };
layout(std430, binding = NPU_B_CAND_STAMP) buffer CandStampB { uint cand_stamp[]; };
layout(std430, binding = NPU_B_CAND_BITS) buffer CandBitsB { uint cand_bits[]; };
layout(std430, binding = NPU_B_FIRE_STAMP) buffer FireStampB { uint fire_stamp[]; };
layout(std430, binding = NPU_B_FIRE_ROW) buffer FireRowB { uvec2 fire_row[]; };
layout(std430, binding = NPU_B_FIRE_INFO) buffer FireInfoB { uint fire_info_w[]; };
layout(std430, binding = NPU_B_LAST_MP) buffer LastMpB { uint last_mp[]; };  // float bits
layout(std430, binding = NPU_B_FIRE_BITS) buffer FireBitsB { uint fire_bits[]; };
layout(std430, binding = NPU_B_BLOCK) buffer BlockB { uint block[]; };
layout(std430, binding = NPU_B_CTL) buffer CtlB { uint ctl[]; };
layout(std430, binding = NPU_B_CTL) buffer Ctl64B { uint64_t ctl64[]; };
layout(std430, binding = NPU_B_UNITS) buffer UnitsB { uint units[]; };
layout(std430, binding = NPU_B_BIN_COUNT) buffer BinCountB { uint bin_count[]; };
layout(std430, binding = NPU_B_BIN_EV) buffer BinEvB { uvec2 bin_ev[]; };
layout(std430, binding = NPU_B_BAND_COUNT) buffer BandCountB { uint band_count[]; };
layout(std430, binding = NPU_B_BAND_EV) buffer BandEvB { uvec2 band_ev[]; };
layout(std430, binding = NPU_B_INJECT) readonly buffer InjectB { uint inject[]; };
layout(std430, binding = NPU_B_OUT) buffer OutB { uint outw[]; };

#define CTL_CAND_COUNT NPU_CTL_CAND_COUNT
#define CTL_FIRE_COUNT NPU_CTL_FIRE_COUNT

// Words of one half of CAND_BITS.
uint cand_words()
{
    return (pc.n + 31u) / 32u;
}

uint fire_blocks()
{
    return (pc.n + NPU_FIRE_BLOCK - 1u) / NPU_FIRE_BLOCK;
}

bool dense_for(uint count, uint ratio)
{
    return uint64_t(count) * uint64_t(NPU_DENSE_SCALE) >= uint64_t(pc.n) * uint64_t(ratio);
}

uint area_of(uint i)
{
    return (area_of_w[i >> 1] >> ((i & 1u) * 16u)) & 0xffffu;
}

uint syn_wp(uint k)
{
    return (syn_wp_w[k >> 1] >> ((k & 1u) * 16u)) & 0xffffu;
}

// ---- Exact binary32 ------------------------------------------------------
//
// SEMANTICS.md: IEEE binary32, one rounding per operation, and flushing
// subnormals must not change results.  Devices without
// shaderDenormPreserveFloat32 (an H100 on driver 580, for one) flush
// subnormal inputs and results of float arithmetic and comparisons to zero,
// so every float operation whose result reaches the state or the trace works
// on bit patterns (uint) here:
//
// - comparisons map the bits to an order-preserving integer;
// - add and multiply take the hardware result when it cannot have been
//   changed by flushing (no subnormal input, a normal or infinite result)
//   and otherwise compute the IEEE result with integer arithmetic.
//
// Loads and stores of floats are plain bit moves; values are kept as uint
// anyway so no float-typed move is ever involved.  Inputs are finite (the
// loader validates them); infinities are handled, NaN is not produced.

#define F32_SIGN 0x80000000u
#define F32_ABS 0x7fffffffu
#define F32_EXP 0x7f800000u // also +infinity
#define F32_FRAC 0x007fffffu

// Sign-magnitude to two's complement: the integer order is the float order,
// and -0 and +0 both map to 0.
int f32_key(uint x)
{
    int m = int(x & F32_ABS);
    return (x & F32_SIGN) != 0u ? -m : m;
}

bool f32_lt(uint a, uint b) { return f32_key(a) < f32_key(b); }
bool f32_le(uint a, uint b) { return f32_key(a) <= f32_key(b); }
bool f32_gt(uint a, uint b) { return f32_key(a) > f32_key(b); }
bool f32_ge(uint a, uint b) { return f32_key(a) >= f32_key(b); }

// Subnormal (not zero): biased exponent 0, fraction non-zero.
bool f32_is_subnormal(uint x)
{
    return (x & F32_ABS) - 1u < F32_FRAC;
}

// Significand with the hidden bit, and the exponent a subnormal really has (1).
uint f32_sig(uint x)
{
    return (x & F32_FRAC) | ((x & F32_EXP) != 0u ? 0x00800000u : 0u);
}

int f32_exp(uint x)
{
    return max(int((x & F32_EXP) >> 23), 1);
}

int msb64(uint64_t v) // v != 0
{
    uint hi = uint(v >> 32);
    return hi != 0u ? 32 + findMSB(hi) : findMSB(uint(v));
}

// sign | round(v * 2^(e0 - 150)) for 0 < v < 2^62: rounds to nearest, ties to
// even, at the precision of the result (24 bits when normal, the fixed
// quantum 2^-149 when subnormal), overflows to infinity.
uint f32_round_pack(uint sign, uint64_t v, int e0)
{
    int p = msb64(v);
    // keep at most 24 bits, and no bit below 2^-149 (biased exponent >= 1)
    int shift = max(p - 23, 1 - e0);
    if (shift > p + 1)
        return sign; // v < 2^(shift-1): below half the smallest subnormal
    uint mant;
    if (shift <= 0) {
        mant = uint(v << uint(-shift)); // exact
    } else {
        mant = uint(v >> uint(shift));
        uint64_t rem = v & ((uint64_t(1) << uint(shift)) - uint64_t(1));
        uint64_t halfway = uint64_t(1) << uint(shift - 1);
        if (rem > halfway || (rem == halfway && (mant & 1u) != 0u))
            mant += 1u;
    }
    // mant < 2^23 only for a subnormal (q = 1); a carry to 2^24 (or to 2^23
    // from a subnormal) moves into the exponent field by the addition.
    int q = e0 + shift; // biased exponent, >= 1
    if (q >= 255)
        return sign | F32_EXP;
    uint bits = (uint(q - 1) << 23) + mant;
    return sign | min(bits, F32_EXP);
}

// a + b, IEEE binary32 round to nearest even, integer arithmetic only.
uint f32_add_exact(uint a, uint b)
{
    if ((a & F32_ABS) < (b & F32_ABS)) {
        uint t = a;
        a = b;
        b = t;
    }
    uint ma = a & F32_ABS, mb = b & F32_ABS; // ma >= mb
    if (mb == 0u)
        return ma == 0u ? (a & b) : a; // x + 0 = x; -0 + -0 = -0, +0 + -0 = +0
    if (ma >= F32_EXP) // infinity (inf - inf does not occur: inputs are finite)
        return a;
    int ea = f32_exp(a);
    uint d = uint(ea - f32_exp(b));
    // 32 guard bits below the larger significand; b's bits shifted out
    // beyond those become a sticky bit (only when d > 32, where the result
    // rounds at bit 31 or above, so the sticky bit decides nothing but
    // "above or below").
    uint64_t A = uint64_t(f32_sig(a)) << 32;
    uint64_t B = uint64_t(f32_sig(b)) << 32;
    if (d >= 58u) {
        B = uint64_t(1);
    } else if (d > 0u) {
        uint64_t lost = B & ((uint64_t(1) << d) - uint64_t(1));
        B = (B >> d) | (lost != uint64_t(0) ? uint64_t(1) : uint64_t(0));
    }
    uint64_t r;
    if (((a ^ b) & F32_SIGN) != 0u) {
        r = A - B;
        if (r == uint64_t(0))
            return 0u; // x + (-x) = +0
    } else {
        r = A + B;
    }
    return f32_round_pack(a & F32_SIGN, r, ea - 32);
}

// a * b, IEEE binary32 round to nearest even, integer arithmetic only.
uint f32_mul_exact(uint a, uint b)
{
    uint sign = (a ^ b) & F32_SIGN;
    uint ma = a & F32_ABS, mb = b & F32_ABS;
    if (ma >= F32_EXP || mb >= F32_EXP) // infinity (inf * 0 does not occur)
        return sign | F32_EXP;
    if (ma == 0u || mb == 0u)
        return sign;
    uint64_t v = uint64_t(f32_sig(a)) * uint64_t(f32_sig(b)); // < 2^48
    return f32_round_pack(sign, v, f32_exp(a) + f32_exp(b) - 150);
}

// Given hw, the device's own a + b: hw when flushing cannot have changed it
// (no subnormal input and a normal or infinite result: the exact sum of
// such inputs is a multiple of 2^-149, so it is either >= 2^-126 or a
// subnormal that needs no rounding, which a flushing device would have
// turned into zero), else the integer computation.  Zero results also go
// the slow way (x + (-x), or a flushed subnormal).
uint f32_add_sel(uint a, uint b, uint hw)
{
    if ((hw & F32_EXP) != 0u && !f32_is_subnormal(a) && !f32_is_subnormal(b))
        return hw;
    return f32_add_exact(a, b);
}

// Given hw, the device's own a * b: hw when both inputs are normal and the
// result is normal or infinite (a rounded result >= 2^-126 is also the IEEE
// result: rounding at the subnormal quantum gives 2^-126 there too), else
// the integer computation (zero inputs return at once).
uint f32_mul_sel(uint a, uint b, uint hw)
{
    if ((hw & F32_EXP) != 0u && (a & F32_EXP) != 0u && (b & F32_EXP) != 0u)
        return hw;
    return f32_mul_exact(a, b);
}

// A flushing device, emulated (subnormal inputs read as zero, subnormal
// results written as zero, sign kept): what the NPU_EMULATE_FTZ variant of
// every kernel feeds f32_add_sel / f32_mul_sel instead of the hardware
// result, so a device that preserves subnormals (lavapipe) runs the choice
// a flushing one makes.  test_arith.comp uses them too.
uint f32_daz(uint x)
{
    return f32_is_subnormal(x) ? (x & F32_SIGN) : x;
}

uint f32_ftz(uint x)
{
    return (x & F32_EXP) == 0u ? (x & F32_SIGN) : x;
}

#ifndef NPU_EMULATE_FTZ
#define NPU_EMULATE_FTZ 0
#endif
#if NPU_EMULATE_FTZ
#define F32_HW_IN(x) f32_daz(x)
#define F32_HW_OUT(x) f32_ftz(x)
#else
#define F32_HW_IN(x) (x)
#define F32_HW_OUT(x) (x)
#endif

// The two operations the dynamics use: exact whatever the denormal mode.
uint f32_add(uint a, uint b)
{
    precise float r = uintBitsToFloat(F32_HW_IN(a)) + uintBitsToFloat(F32_HW_IN(b));
    return f32_add_sel(a, b, F32_HW_OUT(floatBitsToUint(r)));
}

uint f32_mul(uint a, uint b)
{
    precise float r = uintBitsToFloat(F32_HW_IN(a)) * uintBitsToFloat(F32_HW_IN(b));
    return f32_mul_sel(a, b, F32_HW_OUT(floatBitsToUint(r)));
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

// npu_fx_pick_hash: the hash a random stimulus compares with its threshold
// for neuron i (key mixes the scenario seed, the stimulus and the burst).
uint fx_pick_hash(uint key, uint i)
{
    return fx_pcg(fx_pcg(i) ^ key);
}

float fx_uniform(uint i, uint b)
{
    uint h = fx_pcg(i * 2654435761u + b * 1597334677u);
    precise float u = u64_to_f32_rne(uint64_t(h)) * uintBitsToFloat(0x2f800000u); // 2^-32
    return u;
}

#define F32_0_999 0x3f7fbe77u // 0.999f
#define F32_HALF 0x3f000000u  // 0.5f
#define F32_255 0x437f0000u   // 255.0f

// excitability: float bits.  Compared on bits, so a subnormal excitability
// is not taken for 0.  u is 0 or >= 2^-32, computed exactly in any mode.
bool fx_fires(uint excitability, uint i, uint b)
{
    if (f32_ge(excitability, F32_0_999))
        return true;
    if (f32_le(excitability, 0u))
        return false;
    return f32_lt(floatBitsToUint(fx_uniform(i, b)), excitability);
}

// mpv: float bits.  Clamp to [0, 255], round half away from zero.  Below 0.5
// (subnormals included) the result is 0 (floor(x) = 0, x - 0 < 0.5), decided
// on the bits; from 0.5 on, floor(x), x - floor(x) (0 or >= 2^-24) and r + 1
// are exact normal operations, unaffected by flushing.
uint fx_psp_from_mp(uint mpv)
{
    if (f32_lt(mpv, F32_HALF)) // also every value <= 0
        return 0u;
    if (f32_ge(mpv, F32_255))
        return 255u;
    precise float x = uintBitsToFloat(mpv);
    precise float r = floor(x);
    precise float d = x - r;
    if (f32_ge(floatBitsToUint(d), F32_HALF))
        r += 1.0;
    return uint(r);
}

// What the propagation needs of a fired source besides its row, so that it
// need not look up the source's area: the psp its mp at firing, m (float
// bits), gives in an mp-driven area | its area's flags (NPU_AF_*, under
// 256) << 8 | the area's wp_const << 16 where it has one.
uint fire_info(uint flags, uint wp_const, uint m)
{
    return (flags << 8) | ((flags & NPU_AF_MP_PSP) != 0u ? fx_psp_from_mp(m) : 0u) |
           ((flags & NPU_AF_CONST_WP) != 0u ? wp_const << 16 : 0u);
}

// npu_fx_contribution as a two's complement uint64, so adds wrap (defined).
uint64_t fx_contribution(uint weight, uint psp_used, bool inhibitory, bool uniform_psp, uint k)
{
    uint64_t mag = uint64_t(weight) * uint64_t(psp_used) * uint64_t(65536);
    if (!uniform_psp && k > 1u)
        mag = (mag + uint64_t(k / 2u)) / uint64_t(k);
    return inhibitory ? uint64_t(0) - mag : mag;
}

// The magnitude of a synapse's contribution from its weight | psp << 8 word
// wp (the synapse's, or its area's one), the psp being psp_m (from the
// source's mp at firing) where the area has mp_psp; k: the row's synapses.
uint64_t wp_magnitude(uint wp, bool mp_psp, uint psp_m, bool uniform_psp, uint k)
{
    return fx_contribution(wp & 0xffu, mp_psp ? psp_m : (wp >> 8), false, uniform_psp, k);
}

// Adds v to target t's FCL entry and makes t a candidate of this burst.
// A separate mark is needed because a candidate's sum may be exactly 0.
// Stamp mode: a plain store of the burst number (every writer of this burst
// stores the same value, so whichever lands last leaves it; the barrier
// after the dispatch makes it visible to the dynamics).  Bit mode (large
// networks, where 4 bytes per neuron no longer stay in the L2): an atomicOr
// into this burst's half of CAND_BITS.
void fcl_add(uint t, uint64_t v)
{
    atomicAdd(fcl[t], v);
    if (pc.cand_bits != 0u)
        atomicOr(cand_bits[pc.parity * cand_words() + (t >> 5)], 1u << (t & 31u));
    else
        cand_stamp[t] = pc.burst;
}

// Binned propagation (pc.bin_shift != 0): appends the event to its target's
// bin for bins.comp to sum in shared memory, so the burst's random adds
// stay on chip instead of each going to a line of the FCL in DRAM.  An
// event that finds its bin full is added to the FCL directly: the sums are
// exact integers, so where an event is added does not change them.
void bin_add(uint t, uint mag, bool inhibitory)
{
    uint bin = t >> pc.bin_shift;
    uint slot = atomicAdd(bin_count[bin * NPU_BIN_COUNT_STRIDE], 1u);
    if (slot < pc.bin_cap)
        bin_ev[bin * pc.bin_cap + slot] =
            uvec2((t & ((1u << pc.bin_shift) - 1u)) | (inhibitory ? 0x80000000u : 0u), mag);
    else
        fcl_add(t, inhibitory ? uint64_t(0) - uint64_t(mag) : uint64_t(mag));
}

// One synaptic event: contribution magnitude mag (< 2^32: weight * psp *
// 65536 at most, divided or not), negative when inhibitory.
void syn_add(uint t, uint64_t mag, bool inhibitory)
{
    if (pc.bin_shift != 0u)
        bin_add(t, uint(mag), inhibitory);
    else
        fcl_add(t, inhibitory ? uint64_t(0) - mag : mag);
}

// Adds undivided contribution c (+-weight * psp_used units) to target t's
// tagged sum: one atomic that also says "t was touched" (npu_fx_units_tag_shift
// in src/fixed.h has the bound that makes this exact).
void units_add(uint t, uint c, bool inhibitory)
{
    atomicAdd(units[t], (1u << pc.units_k) + (inhibitory ? 0u - c : c));
}

// The Q16 sum a tagged units word u != 0 holds: its low units_k bits, signed,
// times 65536, as a two's complement uint64 (npu_fx_units_tag_sum).
uint64_t units_sum(uint u)
{
    int v = bitfieldExtract(int(u), 0, int(pc.units_k));
    return uint64_t(int64_t(v)) * uint64_t(65536);
}

// Workgroups needed for count items at per items each, capped; kernels loop.
uint groups_for(uint count, uint per)
{
    return min((count + per - 1u) / per, pc.group_cap);
}
