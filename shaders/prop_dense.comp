#version 460
// Step 5, dense (FEAGI's dense synaptic propagation): one thread per neuron,
// skipping those that did not fire in the previous burst.  Chosen on the
// device when most neurons fired.
#include "common.glsl"
#include "propagate.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    if (pc.burst <= 1u)
        return; // stamps start at 0: nothing fired in "burst 0"
    for (uint s = gl_GlobalInvocationID.x; s < pc.n; s += gl_NumWorkGroups.x * NPU_WG)
        if (fire_stamp[s] == pc.burst - 1u)
            propagate(s, last_mp[s], 0u, 1u);
}
