#version 460
// Step 6 (FEAGI's neural dynamics) on a fixed grid: the workgroups stride
// over all neurons; a neuron is a candidate of this burst when it is marked
// (its CAND_STAMP, or its bit in this burst's half of CAND_BITS;
// common.glsl, fcl_add) or its tagged units word is not zero (units_add).
// A neuron that is not a candidate is not touched (SEMANTICS.md), so it
// costs one or two coalesced loads, except that in an area that does not
// accumulate its mp is zeroed (step 1 of the next burst, done here so that
// the stored state is always the CPU's).  There is no candidate list.
//
// Fires are counted per subgroup (ballot): one lane adds the subgroup's
// count to the burst's fire count (its base in the unordered fire list) and
// to its block's count, the firing lanes take consecutive slots from the
// ballot's exclusive bit count.  FIRE_BITS gets one atomicOr per fire (no
// return value, no contention); the compaction clears it.  The area
// parameters are copied to shared memory once per workgroup when there are
// at most NPU_WG areas.
//
// The last workgroup to finish also does the burst's setup (setup_next), so
// a burst costs two dispatches (fill.comp, this) and two barriers.
#include "common.glsl"
#include "dynamics.glsl"
#extension GL_KHR_shader_subgroup_ballot : require
layout(local_size_x = NPU_WG) in;

shared area_t s_area[NPU_WG];
shared uint s_sums[NPU_WG];
shared uint64_t s_events[NPU_WG];
shared bool s_last;

// The block counts again, coherent: the setup reads the other workgroups'
// atomics with plain loads that go to the device-wide level and can all be
// in flight at once (an atomic read per block waits for each in turn).
layout(std430, binding = NPU_B_BLOCK) coherent readonly buffer BlockC { uint block_c[]; };

// After every workgroup's fires are counted: the exclusive prefix sum of
// the fires per block (the compaction's output positions), the burst's end
// offset in the readback buffer, the next burst's propagation mode, and
// zero counts for the next burst, so a whole batch runs with no host round
// trip.  Every workgroup made its counts visible (memoryBarrierBuffer)
// before counting itself done.
void setup_next(uint t)
{
    uint nb = fire_blocks();
    uint per = (nb + NPU_WG - 1u) / NPU_WG;
    uint a = min(t * per, nb), e = min(a + per, nb);
    uint s = 0u;
    for (uint g = a; g < e; g++)
        s += block_c[g];
    s_sums[t] = s;
    for (uint d = 1u; d < NPU_WG; d <<= 1) {
        barrier();
        uint x = t >= d ? s_sums[t - d] : 0u;
        barrier();
        s_sums[t] += x;
    }
    uint run = s_sums[t] - s; // exclusive prefix of this thread's first block
    for (uint g = a; g < e; g++) {
        block[nb + g] = run;
        run += block_c[g];
    }
    if (t == 0u) {
        uint p = pc.parity;
        uint fc = atomicAdd(ctl[CTL_FIRE_COUNT + p], 0u);
        // OUT is host memory: written, never read, since a read from the
        // device is a round trip over the bus.
        uint end = (pc.j == 0u ? 0u : ctl[NPU_CTL_OUT_END]) + fc;
        ctl[NPU_CTL_OUT_END] = end;
        outw[pc.j + 1u] = end;
        uint64_t ev = atomicExchange(ctl64[NPU_CTL_EVENTS / 2u], uint64_t(0));
        outw[pc.events_base + 2u * pc.j] = uint(ev);
        outw[pc.events_base + 2u * pc.j + 1u] = uint(ev >> 32);
        ctl[NPU_CTL_PROP_DENSE] = dense_for(fc, pc.prop_ratio) ? 1u : 0u;
        ctl[CTL_CAND_COUNT + (p ^ 1u)] = 0u;
        ctl[CTL_FIRE_COUNT + (p ^ 1u)] = 0u;
        ctl[NPU_CTL_DYN_DONE] = 0u; // every workgroup has counted itself
    }
}

void main()
{
    uint t = gl_LocalInvocationID.x;
    uint n_cached = pc.area_cache;
    if (t < n_cached) { // member by member: the buffer's and shared memory's struct types differ
        s_area[t].threshold = areas[t].threshold;
        s_area[t].threshold_limit = areas[t].threshold_limit;
        s_area[t].keep = areas[t].keep;
        s_area[t].excitability = areas[t].excitability;
        s_area[t].refractory_cfl = areas[t].refractory_cfl;
        s_area[t].snooze_flags = areas[t].snooze_flags;
    }
    barrier();
    uint p = pc.parity;
    uint stride = gl_NumWorkGroups.x * NPU_WG;
    // synaptic events of this thread's fires (their out-degrees), so the
    // host does not look up a row per fire to count them
    uint64_t events = 0;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) {
        bool fired = false;
        uint m = 0u;
        bool marked = pc.cand_bits != 0u
                          ? (cand_bits[p * cand_words() + (i >> 5)] & (1u << (i & 31u))) != 0u
                          : cand_stamp[i] == pc.burst;
        uint u = pc.units_k != 0u ? units[i] : 0u;
        if (marked || u != 0u || pc.reset_idle != 0u) {
            uint a = area_of(i);
            area_t ar;
            if (n_cached != 0u)
                ar = s_area[a];
            else
                ar = areas[a];
            if (marked || u != 0u)
                fired = dynamics(i, ar, marked, u, m);
            else if (((ar.snooze_flags >> 16) & NPU_AF_ACCUMULATE) == 0u && mp[i] != 0u)
                mp[i] = 0u;
        }
        // One atomicAdd per subgroup on the fire count and on the block's
        // count (a workgroup's NPU_WG neurons of one pass lie in one block).
        uvec4 vote = subgroupBallot(fired);
        uint cnt = subgroupBallotBitCount(vote);
        if (cnt == 0u)
            continue;
        uint k0 = 0u;
        if (subgroupElect()) {
            k0 = atomicAdd(ctl[CTL_FIRE_COUNT + p], cnt);
            atomicAdd(block[i / NPU_FIRE_BLOCK], cnt);
        }
        k0 = subgroupBroadcastFirst(k0);
        if (fired) {
            events += uint64_t(syn_off[i + 1u] - syn_off[i]);
            uint at = p * pc.n + k0 + subgroupBallotExclusiveBitCount(vote);
            fire_id[at] = i;
            fire_mp[at] = m;
            atomicOr(fire_bits[i >> 5], 1u << (i & 31u));
        }
    }
    // The workgroup's events, one atomic per workgroup.
    s_events[t] = events;
    for (uint d = NPU_WG / 2u; d > 0u; d >>= 1) {
        barrier();
        if (t < d)
            s_events[t] += s_events[t + d];
    }
    if (t == 0u && s_events[0] != uint64_t(0))
        atomicAdd(ctl64[NPU_CTL_EVENTS / 2u], s_events[0]);
    // This workgroup's counts (atomics) before its done count, for the
    // last workgroup's setup.
    memoryBarrierBuffer();
    barrier();
    if (t == 0u)
        s_last = atomicAdd(ctl[NPU_CTL_DYN_DONE], 1u) == gl_NumWorkGroups.x - 1u;
    barrier();
    if (s_last) {
        memoryBarrierBuffer();
        setup_next(t);
    }
}
