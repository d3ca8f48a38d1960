#version 460
// Step 5 (FEAGI's sparse and dense synaptic propagation in one kernel; the
// setup kernel of the previous burst chose the mode and the grid):
// - sparse: NPU_PROP_LANES lanes (a subgroup on NVIDIA) per entry of the
//   previous burst's fire list, striding over the source's synapses, so a
//   workgroup takes NPU_WG / NPU_PROP_LANES fired neurons;
// - dense: one thread per neuron, skipping those whose fire_stamp is not b-1.
#include "common.glsl"
#include "propagate.glsl"
layout(local_size_x = NPU_WG) in;

#define PER_GROUP (NPU_WG / NPU_PROP_LANES)

void main()
{
    if (pc.burst <= 1u)
        return; // nothing fired in "burst 0"
    uint q = pc.parity ^ 1u;
    if (ctl[NPU_CTL_PROP_DENSE] != 0u) {
        for (uint s = gl_GlobalInvocationID.x; s < pc.n; s += gl_NumWorkGroups.x * NPU_WG)
            if (fire_stamp[s] == pc.burst - 1u)
                propagate(s, last_mp[s], 0u, 1u);
        return;
    }
    uint cnt = ctl[CTL_FIRE_COUNT + q];
    uint lane = gl_LocalInvocationID.x % NPU_PROP_LANES;
    for (uint f = gl_WorkGroupID.x * PER_GROUP + gl_LocalInvocationID.x / NPU_PROP_LANES; f < cnt;
         f += gl_NumWorkGroups.x * PER_GROUP)
        propagate(fire_id[q * pc.n + f], fire_mp[q * pc.n + f], lane, NPU_PROP_LANES);
}
