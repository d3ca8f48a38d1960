#version 460
// One thread: turns device-side counts into indirect dispatch sizes, so a
// whole batch of bursts runs with no host round trip.
#include "common.glsl"
layout(local_size_x = 1) in;

void set_args(uint w, uint x)
{
    ctl[w] = x;
    ctl[w + 1u] = 1u;
    ctl[w + 2u] = 1u;
}

bool dense(uint count, uint ratio)
{
    return uint64_t(count) * uint64_t(NPU_DENSE_SCALE) >= uint64_t(pc.n) * uint64_t(ratio);
}

void main()
{
    uint p = pc.parity;
    if (pc.mode == NPU_SETUP_DYN) {
        uint c = ctl[CTL_CAND_COUNT + p];
        bool d = dense(c, pc.dyn_ratio);
        set_args(NPU_ARGS_DYN_SPARSE, d ? 0u : groups_for(c, NPU_WG));
        set_args(NPU_ARGS_DYN_DENSE, d ? groups_for(pc.n, NPU_WG) : 0u);
    } else {
        uint fc = ctl[CTL_FIRE_COUNT + p];
        outw[pc.j + 1u] = outw[pc.j] + fc;
        set_args(NPU_ARGS_COMPACT, groups_for(fc, NPU_WG));
        bool d = dense(fc, pc.prop_ratio);
        set_args(NPU_ARGS_PROP_SPARSE, d ? 0u : groups_for(fc, 1u));
        set_args(NPU_ARGS_PROP_DENSE, d ? groups_for(pc.n, NPU_WG) : 0u);
        set_args(NPU_ARGS_RESET, groups_for(ctl[CTL_CAND_COUNT + p], NPU_WG));
        ctl[CTL_CAND_COUNT + (p ^ 1u)] = 0u;
        ctl[CTL_FIRE_COUNT + (p ^ 1u)] = 0u;
    }
}
