#version 460
// Everything between two dynamics passes, in one dispatch on a fixed grid
// (grid-stride loops), because on a GPU a burst's fixed cost is its
// dispatches and barriers, not its arithmetic:
//
// - step 7 of burst b-1: its fires, in ascending id order, into the batch's
//   host-visible readback buffer (compact_fires);
// - steps 3 and 4 of burst b: sensory and power stimuli (inject_stimuli);
// - step 5 of burst b: propagation of b-1's fires (propagate_fires; its
//   sparse case is spread.comp's with two-level binning).
//
// The three write disjoint data (readback, FIRE_BITS and BLOCK clears versus
// FCL adds and candidate bits; the FCL adds are atomics on exact integers,
// so their order does not matter), so they need no barrier between them.
// In bit mode the propagation part also clears b-1's half of CAND_BITS,
// which b-1's dynamics have read and b+1's fill will fill.
// pc.phases says which of them run: a batch's last dispatch only compacts,
// and NPUSIM_VK_PROFILE=1 runs them as three dispatches to time each.
#include "common.glsl"
#include "propagate.glsl"
layout(local_size_x = NPU_WG) in;

shared uint s_sums[NPU_WG];
shared uint s_ids[NPU_FIRE_BLOCK];

// Step 7 for the burst that was the batch's j-th: one block of
// NPU_FIRE_BLOCK neurons per workgroup pass, one FIRE_BITS word per thread.
// The prefix sum of the words' bit counts inside the block plus the block's
// prefix (written by the dynamics' last workgroup) place each fire.  The
// ids are staged in shared memory so the writes to host-visible memory are
// consecutive words (whole PCIe bursts, not a scattered word per fire);
// mp at firing comes from last_mp.  Clears the bits and the block's count
// for the next burst.  Empty blocks are skipped.
void compact_fires(uint j)
{
    uint t = gl_LocalInvocationID.x;
    uint nb = fire_blocks();
    uint words = (pc.n + 31u) / 32u;
    for (uint g = gl_WorkGroupID.x; g < nb; g += gl_NumWorkGroups.x) {
        uint cnt = block[g]; // the same for the whole workgroup
        if (cnt == 0u)
            continue;
        uint w = g * NPU_WG + t;
        uint bits = w < words ? fire_bits[w] : 0u;
        uint c = bitCount(bits);
        s_sums[t] = c;
        for (uint d = 1u; d < NPU_WG; d <<= 1) {
            barrier();
            uint x = t >= d ? s_sums[t - d] : 0u;
            barrier();
            s_sums[t] += x;
        }
        uint k = s_sums[t] - c;
        if (bits != 0u)
            fire_bits[w] = 0u;
        while (bits != 0u) {
            uint b = findLSB(bits);
            bits &= bits - 1u;
            s_ids[k++] = w * 32u + b;
        }
        barrier(); // s_ids is complete; every thread has read block[g]
        // where burst j's fires start in OUT: the batch's fires so far
        // (burst j is the batch's last burst so far) less its own
        uint first = pc.burst - pc.j;
        uint at = ctl[NPU_CTL_OUT_END] - ctl[CTL_FIRE_COUNT + ((first + j) & 1u)] + block[nb + g];
        for (uint x = t; x < cnt; x += NPU_WG) {
            uint i = s_ids[x];
            outw[pc.ids_base + at + x] = i;
            outw[pc.mp_base + at + x] = last_mp[i];
        }
        barrier(); // s_ids and s_sums are free for the next block
        if (t == 0u)
            block[g] = 0u;
    }
}

uint rword(uint r, uint w)
{
    return inject[pc.range_base + (pc.range_off + r) * NPU_RANGE_WORDS + w];
}

// Steps 3 and 4: item v of the burst adds explicit stimulus v (an (id, q)
// entry) when v < inject_count, else neuron v - vstart of the range whose
// vstart is the largest <= v (ranges are whole areas, `random P` picks and
// the power areas, expanded here so the host's cost follows the number of
// stimuli, not of neurons).
void inject_stimuli()
{
    for (uint v = gl_GlobalInvocationID.x; v < pc.stim_total; v += gl_NumWorkGroups.x * NPU_WG) {
        if (v < pc.inject_count) {
            uint w = 3u * (pc.inject_off + v);
            fcl_add(inject[w], uint64_t(inject[w + 1u]) | (uint64_t(inject[w + 2u]) << 32));
            continue;
        }
        // binary search: the last range with vstart <= v (range 0 starts at inject_count)
        uint lo = 0u, hi = pc.range_count;
        while (hi - lo > 1u) {
            uint mid = (lo + hi) >> 1;
            if (rword(mid, NPU_RANGE_VSTART) <= v)
                lo = mid;
            else
                hi = mid;
        }
        uint i = rword(lo, NPU_RANGE_FIRST) + (v - rword(lo, NPU_RANGE_VSTART));
        if (rword(lo, NPU_RANGE_ALL) != 0u ||
            fx_pick_hash(rword(lo, NPU_RANGE_KEY), i) < rword(lo, NPU_RANGE_THRESHOLD))
            fcl_add(i, uint64_t(rword(lo, NPU_RANGE_Q_LO)) |
                           (uint64_t(rword(lo, NPU_RANGE_Q_HI)) << 32));
    }
}

#define PER_GROUP (NPU_WG / NPU_PROP_LANES)

// Step 5, FEAGI's sparse and dense propagation; the dynamics' last
// workgroup of b-1 chose the mode:
// - sparse: NPU_PROP_LANES lanes (a subgroup on NVIDIA) per entry of b-1's
//   unordered fire list, striding over the source's synapses (the list is
//   overwritten by b's dynamics, after the barrier that follows this);
// - dense: one thread per neuron, skipping those whose fire_stamp is not b-1.
void propagate_fires()
{
    if (pc.cand_bits != 0u) {
        uint words = cand_words();
        uint prev = (pc.parity ^ 1u) * words;
        for (uint w = gl_GlobalInvocationID.x; w < words; w += gl_NumWorkGroups.x * NPU_WG)
            cand_bits[prev + w] = 0u;
    }
    if (pc.burst <= 1u)
        return; // nothing fired in "burst 0"
    uint q = pc.parity ^ 1u;
    if (ctl[NPU_CTL_PROP_DENSE] != 0u) {
        for (uint s = gl_GlobalInvocationID.x; s < pc.n; s += gl_NumWorkGroups.x * NPU_WG)
            if (fire_stamp[s] == pc.burst - 1u)
                propagate(s, last_mp[s], 0u, 1u);
        return;
    }
    if (pc.band_shift != 0u)
        return; // spread.comp, dispatched next to this, has the sparse case
    // Each fire's record holds its row and its area's flags, so the lanes
    // start on the row at once: looking up the source's offsets and area
    // here would put two dependent loads before it (the dynamics load the
    // offsets anyway, to count the events).
    uint cnt = ctl[CTL_FIRE_COUNT + q];
    uint lane = gl_LocalInvocationID.x % NPU_PROP_LANES;
    uint f = gl_WorkGroupID.x * PER_GROUP + gl_LocalInvocationID.x / NPU_PROP_LANES;
    uint fstride = gl_NumWorkGroups.x * PER_GROUP;
    for (; f < cnt; f += fstride) {
        uvec2 row = fire_row[f];
        propagate_row(row.x, row.y, fire_info_w[f], lane, NPU_PROP_LANES);
    }
}

void main()
{
    if ((pc.phases & NPU_FILL_COMPACT) != 0u)
        compact_fires(pc.compact_j);
    if ((pc.phases & NPU_FILL_STIMULI) != 0u)
        inject_stimuli();
    if ((pc.phases & NPU_FILL_PROPAGATE) != 0u)
        propagate_fires();
}
