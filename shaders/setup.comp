#version 460
// After the dynamics, one workgroup: the exclusive prefix sum of the fires
// per block (the compaction's output positions), the burst's end offset in
// the readback buffer, the next burst's propagation mode and grid, and zero
// counts for the next burst, so a whole batch runs with no host round trip.
#include "common.glsl"
layout(local_size_x = NPU_SETUP_WG) in;

shared uint sums[NPU_SETUP_WG];

void main()
{
    uint t = gl_LocalInvocationID.x;
    uint nb = fire_blocks();
    uint per = (nb + NPU_SETUP_WG - 1u) / NPU_SETUP_WG;
    uint a = min(t * per, nb), e = min(a + per, nb);
    uint s = 0u;
    for (uint g = a; g < e; g++)
        s += block[g];
    sums[t] = s;
    for (uint d = 1u; d < NPU_SETUP_WG; d <<= 1) {
        barrier();
        uint x = t >= d ? sums[t - d] : 0u;
        barrier();
        sums[t] += x;
    }
    uint run = sums[t] - s; // exclusive prefix of this thread's first block
    for (uint g = a; g < e; g++) {
        block[nb + g] = run;
        run += block[g];
    }
    if (t == 0u) {
        uint p = pc.parity;
        uint fc = ctl[CTL_FIRE_COUNT + p];
        outw[pc.j + 1u] = outw[pc.j] + fc;
        bool d = dense_for(fc, pc.prop_ratio);
        ctl[NPU_CTL_PROP_DENSE] = d ? 1u : 0u;
        ctl[NPU_ARGS_PROP] = d ? groups_for(pc.n, NPU_WG) : groups_for(fc, NPU_WG / NPU_PROP_LANES);
        ctl[NPU_ARGS_PROP + 1u] = 1u;
        ctl[NPU_ARGS_PROP + 2u] = 1u;
        ctl[CTL_CAND_COUNT + (p ^ 1u)] = 0u;
        ctl[CTL_FIRE_COUNT + (p ^ 1u)] = 0u;
    }
}
