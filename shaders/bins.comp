#version 460
// Step 5's sums, binned (pc.bin_shift != 0): between fill.comp, whose
// propagation appended each synaptic event to its target's bin (bin_add),
// and dyn.comp.  One workgroup per bin of 2^bin_shift targets adds the
// bin's events in shared memory, then adds each touched target's sum to
// its FCL entry and marks it a candidate, as fcl_add would have: dyn.comp
// cannot tell the two ways apart.  With 10M neurons the FCL is 80 MB, more
// than the L2 holds, so fcl_add's two atomics per event each went to DRAM;
// here the events are written once and read once, in order, and every
// target's FCL line is read and written once per burst (on the H200 at 10M:
// propagation 1141 -> 735 us plus 137 us here; docs/performance.md,
// change 47).
//
// The 64-bit sums are two 32-bit words per target, so no 64-bit shared
// atomics are needed: the low word's returning add says whether it carried.
// Integer sums do not depend on the order of the adds, so the result is
// the CPU's, bit for bit.
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x_id = NPU_BIN_SC_WG) in;
layout(constant_id = NPU_BIN_SC_SIZE) const uint BIN_MAX = 1u << NPU_BIN_MAX_SHIFT;
#define WG gl_WorkGroupSize.x
// Events each thread loads before it adds any: the loads are the wait.
#define BIN_UNROLL 4u

shared uint s_lo[BIN_MAX];
shared uint s_hi[BIN_MAX];
shared uint s_mark[BIN_MAX / 32u];

void add_event(uvec2 ev)
{
    uint i = ev.x & 0x7fffffffu;
    // the event's int64 two's complement, as (hi, lo)
    bool neg = (ev.x & 0x80000000u) != 0u && ev.y != 0u;
    uint lo = neg ? 0u - ev.y : ev.y;
    uint hi = neg ? 0xffffffffu : 0u;
    uint old = atomicAdd(s_lo[i], lo);
    hi += old + lo < old ? 1u : 0u; // the carry out of the low word
    if (hi != 0u)
        atomicAdd(s_hi[i], hi);
    atomicOr(s_mark[i >> 5], 1u << (i & 31u));
}

void main()
{
    uint t = gl_LocalInvocationID.x;
    uint size = 1u << pc.bin_shift;
    uint bins = (pc.n + size - 1u) >> pc.bin_shift;
    // split.comp has read the bands' counters: zero them for the next burst
    uint bands = pc.band_shift != 0u ? (pc.n + (1u << pc.band_shift) - 1u) >> pc.band_shift : 0u;
    if (t == 0u)
        for (uint b = gl_WorkGroupID.x; b < bands; b += gl_NumWorkGroups.x)
            band_count[b * NPU_BIN_COUNT_STRIDE] = 0u;
    for (uint g = gl_WorkGroupID.x; g < bins; g += gl_NumWorkGroups.x) {
        // the same for the whole workgroup
        uint total = min(bin_count[g * NPU_BIN_COUNT_STRIDE], pc.bin_cap);
        if (total == 0u)
            continue; // nothing to add, mark or clear
        for (uint i = t; i < size; i += WG) {
            s_lo[i] = 0u;
            s_hi[i] = 0u;
        }
        for (uint w = t; w < size / 32u; w += WG)
            s_mark[w] = 0u;
        barrier();
        uint at = g * pc.bin_cap;
        for (uint v0 = t; v0 < total; v0 += BIN_UNROLL * WG) {
            uvec2 ev[BIN_UNROLL];
            [[unroll]] for (uint u = 0u; u < BIN_UNROLL; u++) {
                uint v = v0 + u * WG;
                ev[u] = v < total ? bin_ev[at + v] : uvec2(0u);
            }
            [[unroll]] for (uint u = 0u; u < BIN_UNROLL; u++)
                if (v0 + u * WG < total)
                    add_event(ev[u]);
        }
        barrier();
        // Every thread has read the count: zero it for the next burst.
        if (t == 0u)
            bin_count[g * NPU_BIN_COUNT_STRIDE] = 0u;
        uint base = g << pc.bin_shift;
        uint len = min(size, pc.n - base);
        // Only this workgroup touches these targets in this dispatch; the
        // fill's stimuli and overflowing events are already in.  Their FCL
        // words are loaded BIN_UNROLL at a time too.
        for (uint i0 = t; i0 < len; i0 += BIN_UNROLL * WG) {
            bool hit[BIN_UNROLL];
            uint64_t f[BIN_UNROLL];
            [[unroll]] for (uint u = 0u; u < BIN_UNROLL; u++) {
                uint i = i0 + u * WG;
                hit[u] = i < len && (s_mark[i >> 5] & (1u << (i & 31u))) != 0u;
                f[u] = hit[u] ? fcl[base + i] : uint64_t(0);
            }
            [[unroll]] for (uint u = 0u; u < BIN_UNROLL; u++) {
                uint i = i0 + u * WG;
                if (!hit[u])
                    continue;
                fcl[base + i] = f[u] + (uint64_t(s_lo[i]) | (uint64_t(s_hi[i]) << 32));
                if (pc.cand_bits == 0u)
                    cand_stamp[base + i] = pc.burst;
            }
        }
        if (pc.cand_bits != 0u)
            for (uint w = t; w < (len + 31u) / 32u; w += WG)
                if (s_mark[w] != 0u)
                    cand_bits[pc.parity * cand_words() + (base >> 5) + w] |= s_mark[w];
        barrier(); // shared memory is free for the next bin
    }
}
