#version 460
// Step 3 (sensory): this burst's host-expanded stimuli, (id, q) pairs.
#include "common.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    for (uint k = gl_GlobalInvocationID.x; k < pc.inject_count; k += gl_NumWorkGroups.x * NPU_WG) {
        uint w = 3u * (pc.inject_off + k);
        fcl_add(inject[w], uint64_t(inject[w + 1u]) | (uint64_t(inject[w + 2u]) << 32));
    }
}
