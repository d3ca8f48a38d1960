#version 460
// Step 5, sparse, with two-level binning (pc.band_shift != 0; npu_layout.h):
// dispatched next to fill.comp, whose propagation part then does only the
// dense case.  Each group of NPU_PROP_LANES invocations takes entries of
// b-1's fire list as fill.comp's sparse propagation does, but a slice of
// up to NPU_ROUTE_UNROLL * NPU_PROP_LANES synapses per batch, so that the
// whole workgroup's batch is routed into the bands of 2^band_shift targets
// together (route.glsl).  split.comp then splits each band into its bins.
//
// A batch waits at route()'s barriers for the slowest group, so each
// group's next slice is loaded before the current one is routed, and its
// next fire-list entry one row ahead of that.
#include "common.glsl"
#include "route.glsl"

#define GROUPS (RWG / NPU_PROP_LANES)
#define SLICE (NPU_ROUTE_UNROLL * NPU_PROP_LANES)

// Fire-list entry f of cnt: its row [a, e) and fire_info; an empty row past the end.
void load_row(uint f, uint cnt, out uint a, out uint e, out uint info)
{
    uvec2 row = f < cnt ? fire_row[f] : uvec2(0u);
    a = row.x;
    e = row.y;
    info = f < cnt ? fire_info_w[f] : 0u;
}

// This lane's synapse words of the slice of [x, e) (weights only where the
// area has more than one).
void load_slice(uint x, uint e, uint info, out uint t[NPU_ROUTE_UNROLL],
                out uint w[NPU_ROUTE_UNROLL])
{
    uint lane = gl_LocalInvocationID.x % NPU_PROP_LANES;
    bool const_wp = (((info >> 8) & NPU_AF_CONST_WP) != 0u);
    [[unroll]] for (uint u = 0u; u < NPU_ROUTE_UNROLL; u++) {
        uint s = x + lane + u * NPU_PROP_LANES;
        t[u] = s < e ? syn_tgt[s] : 0u;
        w[u] = s < e && !const_wp ? syn_wp(s) : 0u;
    }
}

void main()
{
    // uniform: the whole workgroup leaves
    if (pc.burst <= 1u || ctl[NPU_CTL_PROP_DENSE] != 0u)
        return;
    uint cnt = ctl[CTL_FIRE_COUNT + (pc.parity ^ 1u)];
    uint lane = gl_LocalInvocationID.x % NPU_PROP_LANES;
    uint f = gl_WorkGroupID.x * GROUPS + gl_LocalInvocationID.x / NPU_PROP_LANES;
    uint fstride = gl_NumWorkGroups.x * GROUPS;
    uint bands = (pc.n + (1u << pc.band_shift) - 1u) >> pc.band_shift;
    // the group's row [a, e) with its next slice at x (loaded into t, w),
    // and the next fire-list entry's row [na, ne)
    uint a, e, info, na, ne, ninfo;
    load_row(f, cnt, a, e, info);
    while (f < cnt && a >= e) { // empty rows have nothing to route
        f += fstride;
        load_row(f, cnt, a, e, info);
    }
    load_row(f + fstride, cnt, na, ne, ninfo);
    uint x = a;
    uint t[NPU_ROUTE_UNROLL], w[NPU_ROUTE_UNROLL];
    load_slice(x, e, info, t, w);
    route_init();
    for (;;) {
        uvec2 ev[NPU_ROUTE_UNROLL];
        uint k = 0u;
        if (f < cnt) {
            uint flags = (info >> 8) & 0xffu;
            bool mp_psp = (flags & NPU_AF_MP_PSP) != 0u;
            bool uniform_psp = (flags & NPU_AF_UNIFORM) != 0u;
            bool const_wp = (flags & NPU_AF_CONST_WP) != 0u;
            uint wc = info >> 16, psp_m = info & 0xffu;
            // binned sums carry the contribution, so the tagged units are off
            uint q = uint(wp_magnitude(wc, mp_psp, psp_m, uniform_psp, e - a));
            [[unroll]] for (uint u = 0u; u < NPU_ROUTE_UNROLL; u++) {
                if (x + lane + u * NPU_PROP_LANES >= e)
                    break;
                uint m = const_wp ? q : uint(wp_magnitude(w[u], mp_psp, psp_m, uniform_psp, e - a));
                ev[u] = uvec2(t[u], m);
                k = u + 1u;
            }
            x += SLICE;
            if (x >= e) { // the row is done: on to the prefetched entry
                f += fstride;
                a = na;
                e = ne;
                info = ninfo;
                while (f < cnt && a >= e) {
                    f += fstride;
                    load_row(f, cnt, a, e, info);
                }
                x = a;
                load_row(f + fstride, cnt, na, ne, ninfo);
            }
            if (f < cnt)
                load_slice(x, e, info, t, w);
        }
        if (route(ev, k, bands, pc.band_shift, 0u, 0u, false) == 0u)
            break; // no group had a row left
    }
}
