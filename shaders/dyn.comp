#version 460
// Step 6 (FEAGI's sparse and dense neural dynamics in one kernel, on a
// fixed grid so no setup pass sizes it): sparse, one thread per entry of
// this burst's candidate list, or dense when most neurons are candidates,
// one thread per neuron skipping non-candidates (a neuron that is not a
// candidate is not touched, SEMANTICS.md).  Grid-stride loops either way.
#include "common.glsl"
#include "dynamics.glsl"
layout(local_size_x = NPU_WG) in;

void main()
{
    uint cnt = ctl[CTL_CAND_COUNT + pc.parity];
    uint stride = gl_NumWorkGroups.x * NPU_WG;
    if (dense_for(cnt, pc.dyn_ratio)) {
        for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride)
            if (cand_stamp[i] == pc.burst)
                dynamics(i);
    } else {
        for (uint k = gl_GlobalInvocationID.x; k < cnt; k += stride)
            dynamics(cand_list[pc.parity * pc.n + k]);
    }
}
