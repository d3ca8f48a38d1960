#version 460
// Two-level binning's second level (npu_layout.h), between spread.comp and
// bins.comp: each band's events, read in order in batches of
// NPU_ROUTE_UNROLL per thread, routed into the band's bins of 2^bin_shift
// targets (route.glsl).  The batches of all bands are numbered in one
// sequence dealt out to the workgroups in turn, so that every workgroup
// gets a share of every band.  bins.comp zeroes the bands' counters.
#include "common.glsl"
#include "route.glsl"

// Batch c of band b's total events into ev: returns how many are this
// invocation's (the first k of ev).
uint load_batch(uint b, uint c, uint total, out uvec2 ev[NPU_ROUTE_UNROLL])
{
    uint k = 0u;
    [[unroll]] for (uint u = 0u; u < NPU_ROUTE_UNROLL; u++) {
        uint i = c * STAGE + u * RWG + gl_LocalInvocationID.x;
        ev[u] = uvec2(0u);
        if (i < total) {
            ev[u] = band_ev[b * pc.band_cap + i];
            k = u + 1u;
        }
    }
    return k;
}

void main()
{
    uint bands = (pc.n + (1u << pc.band_shift) - 1u) >> pc.band_shift;
    uint per = 1u << (pc.band_shift - pc.bin_shift); // bins per band
    uint wg = gl_WorkGroupID.x, groups = gl_NumWorkGroups.x;
    route_init();
    uint base = 0u; // batches of the bands before band b
    for (uint b = 0u; b < bands; b++) {
        // the same for the whole workgroup: nothing writes it in this dispatch
        uint total = min(band_count[b * NPU_BIN_COUNT_STRIDE], pc.band_cap);
        uint batches = (total + STAGE - 1u) / STAGE;
        // this workgroup's first batch number >= base
        uint j = base + (wg + groups - base % groups) % groups;
        // each batch's events are loaded before the previous batch is
        // routed, so the loads wait while it routes
        uvec2 ev[NPU_ROUTE_UNROLL];
        uint k = load_batch(b, j - base, total, ev);
        for (; j < base + batches; j += groups) {
            uvec2 cur[NPU_ROUTE_UNROLL] = ev;
            uint kc = k;
            k = j + groups < base + batches ? load_batch(b, j + groups - base, total, ev) : 0u;
            route(cur, kc, per, pc.bin_shift, b * per, b << pc.band_shift, true);
        }
        base += batches;
    }
}
