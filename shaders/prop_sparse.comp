#version 460
// Step 5, sparse (FEAGI's sparse synaptic propagation): one workgroup per
// entry of the previous burst's fire list, its threads striding over the
// source's synapses.
#include "common.glsl"
#include "propagate.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    uint q = pc.parity ^ 1u;
    uint cnt = ctl[CTL_FIRE_COUNT + q];
    for (uint f = gl_WorkGroupID.x; f < cnt; f += gl_NumWorkGroups.x)
        propagate(fire_id[q * pc.n + f], fire_mp[q * pc.n + f], gl_LocalInvocationID.x, NPU_WG);
}
