#version 460
// Step 4 (power): the scenario's power amount into every power neuron.
#include "common.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    uint64_t q = uint64_t(pc.power_lo) | (uint64_t(pc.power_hi) << 32);
    for (uint k = gl_GlobalInvocationID.x; k < pc.n_power; k += gl_NumWorkGroups.x * NPU_WG)
        fcl_add(power_id[k], q);
}
