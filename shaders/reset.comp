#version 460
// Step 1 (reset) for the previous burst's candidates, the only neurons that
// can hold a non-zero mp: non-accumulating ones go back to 0.  (Step 2, the
// FCL clear, happens in the dynamics kernels: each consumes and zeroes its
// entry, so the FCL is all zero between bursts.)
#include "common.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    uint q = pc.parity ^ 1u;
    uint cnt = ctl[CTL_CAND_COUNT + q];
    for (uint k = gl_GlobalInvocationID.x; k < cnt; k += gl_NumWorkGroups.x * NPU_WG) {
        uint i = cand_list[q * pc.n + k];
        if (((areas[area_of(i)].snooze_flags >> 16) & NPU_AF_ACCUMULATE) == 0u)
            mp[i] = 0u;
    }
}
