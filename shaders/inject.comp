#version 460
// Steps 3 and 4 (sensory and power) in one dispatch: thread v of the burst
// adds explicit stimulus v (an (id, q) entry) when v < inject_count, else
// neuron v - vstart of the range whose vstart is the largest <= v (ranges
// are whole areas, `random P` picks and the power areas, expanded here so
// the host's cost follows the number of stimuli, not of neurons).  The FCL
// sums are exact integers, so the order of the adds does not matter.
#include "common.glsl"
layout(local_size_x = NPU_WG) in;

uint rword(uint r, uint w)
{
    return inject[pc.range_base + (pc.range_off + r) * NPU_RANGE_WORDS + w];
}

void main()
{
    for (uint v = gl_GlobalInvocationID.x; v < pc.stim_total; v += gl_NumWorkGroups.x * NPU_WG) {
        if (v < pc.inject_count) {
            uint w = 3u * (pc.inject_off + v);
            fcl_add(inject[w], uint64_t(inject[w + 1u]) | (uint64_t(inject[w + 2u]) << 32));
            continue;
        }
        // binary search: the last range with vstart <= v (range 0 starts at inject_count)
        uint lo = 0u, hi = pc.range_count;
        while (hi - lo > 1u) {
            uint mid = (lo + hi) >> 1;
            if (rword(mid, NPU_RANGE_VSTART) <= v)
                lo = mid;
            else
                hi = mid;
        }
        uint i = rword(lo, NPU_RANGE_FIRST) + (v - rword(lo, NPU_RANGE_VSTART));
        if (rword(lo, NPU_RANGE_ALL) != 0u ||
            fx_pick_hash(rword(lo, NPU_RANGE_KEY), i) < rword(lo, NPU_RANGE_THRESHOLD))
            fcl_add(i, uint64_t(rword(lo, NPU_RANGE_Q_LO)) |
                           (uint64_t(rword(lo, NPU_RANGE_Q_HI)) << 32));
    }
}
