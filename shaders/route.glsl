// Routing for the two-level binning (npu_layout.h, "Two-level binning"):
// a workgroup's batch of up to NPU_ROUTE_UNROLL events per thread is
// counted per destination, staged in shared memory sorted by destination,
// and written out with consecutive threads on consecutive slots of each
// destination's stream, so a warp's stores are a few transactions instead
// of one per event.  Each destination's slots come from one returning
// atomic per batch on its counter.  An event whose destination is full
// goes to the FCL, as bin_add does: the sums are exact integers, so where
// an event is added does not change them.  Included by spread.comp and
// split.comp after common.glsl.
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = NPU_ROUTE_SC_WG) in;
#define RWG gl_WorkGroupSize.x
#define STAGE (NPU_ROUTE_UNROLL * RWG)

shared uvec2 s_ev[STAGE];                 // the batch, sorted by destination
shared uint s_cnt[NPU_ROUTE_MAX_DEST];    // the batch's events per destination
shared uint s_off[NPU_ROUTE_MAX_DEST];    // where each destination's run starts in s_ev
shared uint s_at[NPU_ROUTE_MAX_DEST];     // and in its stream
shared uint s_total;                      // the batch's events

// Before the first route(): no destination has events.
void route_init()
{
    for (uint i = gl_LocalInvocationID.x; i < NPU_ROUTE_MAX_DEST; i += RWG)
        s_cnt[i] = 0u;
    barrier();
}

// Routes this invocation's events ev[0..k) (x: target | inhibitory << 31,
// y: the contribution's magnitude; targets relative to t_base) to the d
// streams first .. first + d - 1, target t going to stream first +
// (t >> shift) as (t & (2^shift - 1)) | inhibitory << 31: the bins
// (BIN_COUNT, BIN_EV, bin_cap) when to_bins, else the bands.  Called by the
// whole workgroup (it has barriers), with d <= min(RWG, NPU_ROUTE_MAX_DEST).
// Returns the batch's events, the same in every invocation.
uint route(uvec2 ev[NPU_ROUTE_UNROLL], uint k, uint d, uint shift, uint first, uint t_base,
           bool to_bins)
{
    uint lid = gl_LocalInvocationID.x;
    uint rank[NPU_ROUTE_UNROLL];
    [[unroll]] for (uint u = 0u; u < NPU_ROUTE_UNROLL; u++)
        if (u < k)
            rank[u] = atomicAdd(s_cnt[(ev[u].x & 0x7fffffffu) >> shift], 1u);
    barrier();
    if (lid < d) {
        // d is small (64 at 10M): a serial prefix over broadcast reads, 8
        // at a time without an inner loop (llvmpipe counts loop iterations:
        // LLVMPIPE_LOOP_LIMIT in the backend)
        uint off = 0u;
        for (uint i0 = 0u; i0 < lid; i0 += 8u) {
#define ROUTE_ADD(i) off += i0 + i < lid ? s_cnt[min(i0 + i, NPU_ROUTE_MAX_DEST - 1u)] : 0u
            ROUTE_ADD(0u); ROUTE_ADD(1u); ROUTE_ADD(2u); ROUTE_ADD(3u);
            ROUTE_ADD(4u); ROUTE_ADD(5u); ROUTE_ADD(6u); ROUTE_ADD(7u);
#undef ROUTE_ADD
        }
        uint c = s_cnt[lid];
        s_off[lid] = off;
        uint g = (first + lid) * NPU_BIN_COUNT_STRIDE;
        s_at[lid] = c == 0u ? 0u
                  : to_bins ? atomicAdd(bin_count[g], c) : atomicAdd(band_count[g], c);
        if (lid == d - 1u)
            s_total = off + c;
    }
    barrier();
    // the counts were last read above; the next batch adds after the barrier below
    if (lid < d)
        s_cnt[lid] = 0u;
    [[unroll]] for (uint u = 0u; u < NPU_ROUTE_UNROLL; u++)
        if (u < k)
            s_ev[s_off[(ev[u].x & 0x7fffffffu) >> shift] + rank[u]] = ev[u];
    barrier();
    uint total = s_total;
    uint cap = to_bins ? pc.bin_cap : pc.band_cap;
    for (uint i = lid; i < total; i += RWG) {
        uvec2 e = s_ev[i];
        uint t = e.x & 0x7fffffffu, dd = t >> shift;
        uint slot = s_at[dd] + (i - s_off[dd]);
        uint at = (first + dd) * cap + slot;
        uvec2 o = uvec2((t & ((1u << shift) - 1u)) | (e.x & 0x80000000u), e.y);
        if (slot >= cap)
            fcl_add(t_base + t, (e.x & 0x80000000u) != 0u ? uint64_t(0) - uint64_t(e.y)
                                                          : uint64_t(e.y));
        else if (to_bins)
            bin_ev[at] = o;
        else
            band_ev[at] = o;
    }
    barrier(); // s_ev, s_off and s_at are free for the next batch
    return total;
}
