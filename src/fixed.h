/* npu_fx: the exact arithmetic of SEMANTICS.md that every backend shares.
 *
 * The GLSL side re-implements these (shaders/common.glsl); the backend
 * comparison tests are what keep the two the same.
 */
#ifndef NPU_FIXED_H
#define NPU_FIXED_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "net.h"

/* round_half_even(p * 65536) for a potential read from a file. p is finite
 * and bounded by the loader (NPU_POTENTIAL_MAX), so the product fits. */
#define NPU_POTENTIAL_MAX 1.0e9

static inline int64_t npu_fx_from_double(double p)
{
    /* nearbyint uses the current rounding mode, which is to-nearest-even
     * unless someone changed it; the product is exact (scaling by 2^16). */
    return (int64_t)nearbyint(p * 65536.0);
}

/* cand = (float)sum * (1.0f / 65536): int64 -> float rounds to nearest even. */
static inline float npu_fx_to_float(int64_t sum)
{
    return (float)sum * (1.0f / 65536.0f);
}

/* npu_fx_to_float(v * 65536) for a whole number of units v, as one int32
 * conversion.  The same float: v * 2^16 is exact in int64, rounding to
 * binary32 commutes with scaling by a power of two (no overflow or
 * underflow for |v| < 2^31), and the final * 2^-16 is exact. */
static inline float npu_fx_units_to_float(int32_t v)
{
    return (float)v;
}

/* psp_used for mp_driven_psp: clamp to [0,255], round half away from zero. */
static inline uint32_t npu_fx_psp_from_mp(float mp)
{
    float x = mp;
    if (!(x > 0.0f))
        x = 0.0f;
    if (x > 255.0f)
        x = 255.0f;
    float r = floorf(x);
    if (x - r >= 0.5f)
        r += 1.0f;
    return (uint32_t)r;
}

/* Contribution of one synapse in Q16.  k = the source's outgoing synapse
 * count, used only when the source area has psp_uniform_distribution = false. */
static inline int64_t npu_fx_contribution(uint32_t weight, uint32_t psp_used,
                                          int inhibitory, int uniform, uint32_t k)
{
    int64_t mag = (int64_t)weight * (int64_t)psp_used * NPU_Q_ONE;
    if (!uniform && k > 1)
        mag = (mag + (int64_t)(k / 2)) / (int64_t)k;
    return inhibitory ? -mag : mag;
}

/* Uniform (undivided) synaptic input in 32 bits, where the network's
 * npu_units_bound allows it; the result is the same int64 sum.
 *
 * An int32 sum of +-weight * psp_used (the CPU's units) holds any neuron's
 * input when fanin * units <= INT32_MAX. */
static inline bool npu_fx_units_fit_int32(const struct npu_units_bound *b)
{
    return b->max_fanin != NPU_FANIN_SATURATED &&
           (uint64_t)b->max_fanin * b->max_units <= INT32_MAX;
}

/* A uint16 sum of weight * psp_used (the CPU's narrowest units) holds any
 * neuron's input when every such contribution is excitatory and at least 1
 * and fanin * units <= 65535.  Then the word is not zero exactly when the
 * neuron was touched, so it needs neither a tag nor a candidate bit. */
static inline bool npu_fx_units_fit_u16(const struct npu_units_bound *b)
{
    return b->max_fanin != NPU_FANIN_SATURATED && !b->any_inhibitory && b->min_units >= 1 &&
           (uint64_t)b->max_fanin * b->max_units <= UINT16_MAX;
}

/* A tagged uint32 sum (the Vulkan units): each event adds 2^k + c, so one
 * atomic carries both the sum and "was touched".  After count events
 * S = count * 2^k + sum with |sum| <= fanin * units < 2^(k-1) and
 * S < 2^32, so S != 0 exactly when the neuron was touched (2^k > 2 * units),
 * and sum is S's low k bits read as a signed number.  Returns the smallest
 * such k (1..31), or 0 when none fits. */
static inline uint32_t npu_fx_units_tag_shift(const struct npu_units_bound *b)
{
    if (b->max_fanin == NPU_FANIN_SATURATED)
        return 0;
    uint64_t most = (uint64_t)b->max_fanin * b->max_units;
    uint32_t k = 1;
    while (k < 32 && (UINT64_C(1) << (k - 1)) <= most)
        k++;
    if (k >= 32 || ((uint64_t)b->max_fanin << k) + most > UINT32_MAX)
        return 0;
    return k;
}

static inline uint32_t npu_fx_units_tag_event(int32_t c, uint32_t k)
{
    return (UINT32_C(1) << k) + (uint32_t)c;
}

static inline int32_t npu_fx_units_tag_sum(uint32_t s, uint32_t k)
{
    uint32_t sign = UINT32_C(1) << (k - 1);
    uint32_t low = k < 32 ? s & ((UINT32_C(1) << k) - 1) : s;
    return (int32_t)(low ^ sign) - (int32_t)sign;
}

static inline uint32_t npu_fx_pcg(uint32_t x)
{
    uint32_t s = x * 747796405u + 2891336453u;
    uint32_t w = ((s >> ((s >> 28) + 4u)) ^ s) * 277803737u;
    return (w >> 22) ^ w;
}

/* The excitability draw of neuron i in burst b. */
static inline float npu_fx_uniform(uint32_t i, uint32_t b)
{
    uint32_t h = npu_fx_pcg(i * 2654435761u + b * 1597334677u);
    return (float)h * 0x1p-32f;
}

/* The hash a random stimulus compares with its threshold for neuron i;
 * key already mixes the scenario seed, the stimulus and the burst. */
static inline uint32_t npu_fx_pick_hash(uint32_t key, uint32_t i)
{
    return npu_fx_pcg(npu_fx_pcg(i) ^ key);
}

/* round(p * 2^32) for a pick probability 0 <= p < 1 (p >= 1 is `all`). */
static inline uint32_t npu_fx_pick_threshold(double p)
{
    double t = nearbyint(p * 4294967296.0);
    return t >= 4294967295.0 ? UINT32_MAX : (uint32_t)t;
}

static inline int npu_fx_fires(float excitability, uint32_t i, uint32_t b)
{
    if (excitability >= 0.999f)
        return 1;
    if (excitability <= 0.0f)
        return 0;
    return npu_fx_uniform(i, b) < excitability;
}

#endif
