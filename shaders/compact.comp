#version 460
// Step 7: copies this burst's fire list into the batch's host-visible
// readback buffer at the offset the setup kernel wrote.  The order is the
// atomics' order; the host sorts each burst by id after readback.
#include "common.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    uint p = pc.parity;
    uint cnt = ctl[CTL_FIRE_COUNT + p];
    uint base = outw[pc.j];
    for (uint k = gl_GlobalInvocationID.x; k < cnt; k += gl_NumWorkGroups.x * NPU_WG) {
        outw[pc.ids_base + base + k] = fire_id[p * pc.n + k];
        outw[pc.mp_base + base + k] = fire_mp[p * pc.n + k];
    }
}
