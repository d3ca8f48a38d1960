#version 460
// Step 6, dense (FEAGI's dense neural dynamics): one thread per neuron,
// skipping non-candidates (a neuron that is not a candidate is not touched,
// SEMANTICS.md).  Chosen on the device when most neurons are candidates.
#include "common.glsl"
#include "dynamics.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += gl_NumWorkGroups.x * NPU_WG)
        if (cand_stamp[i] == pc.burst)
            dynamics(i);
}
