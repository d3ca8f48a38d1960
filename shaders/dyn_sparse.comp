#version 460
// Step 6, sparse (FEAGI's sparse neural dynamics): one thread per entry of
// this burst's candidate list.
#include "common.glsl"
#include "dynamics.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    uint cnt = ctl[CTL_CAND_COUNT + pc.parity];
    for (uint k = gl_GlobalInvocationID.x; k < cnt; k += gl_NumWorkGroups.x * NPU_WG)
        dynamics(cand_list[pc.parity * pc.n + k]);
}
