#version 460
// Step 6 (FEAGI's neural dynamics) on a fixed grid: the workgroups stride
// over all neurons; a neuron is a candidate of this burst when it is marked
// (its CAND_STAMP, or its bit in this burst's half of CAND_BITS;
// common.glsl, fcl_add), its tagged units word is not zero (units_add), or
// one of the burst's range stimuli picks it (steps 3 and 4 for bursts of at
// most NPU_DYN_RANGES ranges, applied here rather than by the fill).
// A neuron that is not a candidate is not touched (SEMANTICS.md), so it
// costs one or two coalesced loads, except that in an area that does not
// accumulate its mp is zeroed (step 1 of the next burst, done here so that
// the stored state is always the CPU's).  There is no candidate list.
//
// Fires are counted per subgroup (ballot) over the NPU_DYN_UNROLL passes it
// takes at a time: one lane adds the subgroup's count to the burst's fire
// count (its base in the unordered fire list) and each pass's to its
// block's count, the firing lanes take consecutive slots from the ballots'
// exclusive bit counts and write there each fire's row and fire_info for
// the next propagation.  FIRE_BITS gets one atomicOr per fire (no
// return value, no contention); the compaction clears it.  The area
// parameters are copied to shared memory once per workgroup when there are
// at most NPU_WG areas.
//
// The last workgroup to finish also does the burst's setup (setup_next), so
// a burst costs two dispatches (fill.comp, this) and two barriers.
#include "common.glsl"
#include "dynamics.glsl"
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_EXT_control_flow_attributes : require
layout(local_size_x = NPU_WG) in;

shared area_t s_area[NPU_WG];
shared uint s_rng[NPU_DYN_RANGES * NPU_RANGE_WORDS];
shared uint s_sums[NPU_WG];
shared uint64_t s_events[NPU_WG];
shared bool s_last;

// Block counts the setup loads at a time.
#define SETUP_LOADS 8u

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
    // Thread 0's control words first: its loads are then in flight while
    // the block counts load.
    uint p = pc.parity;
    uint fc = 0u, end0 = 0u;
    uint64_t ev = uint64_t(0);
    if (t == 0u) {
        fc = atomicAdd(ctl[CTL_FIRE_COUNT + p], 0u);
        end0 = pc.j == 0u ? 0u : ctl[NPU_CTL_OUT_END];
        ev = atomicExchange(ctl64[NPU_CTL_EVENTS / 2u], uint64_t(0));
    }
    // Each thread's run of blocks, SETUP_LOADS counts at a time issued
    // before any is used: these loads are the serial tail of every burst
    // (the plain loop, which may wait for each in turn, made the 1M burst
    // 1.5 us slower; docs/performance.md, change 35).
    uint nb = fire_blocks();
    uint per = (nb + NPU_WG - 1u) / NPU_WG;
    uint a = min(t * per, nb), e = min(a + per, nb);
    uint s = 0u;
    for (uint g = a; g < e; g += SETUP_LOADS) {
        uint v[SETUP_LOADS];
        [[unroll]] for (uint k = 0u; k < SETUP_LOADS; k++)
            v[k] = g + k < e ? block_c[g + k] : 0u;
        [[unroll]] for (uint k = 0u; k < SETUP_LOADS; k++)
            s += v[k];
    }
    s_sums[t] = s;
    for (uint d = 1u; d < NPU_WG; d <<= 1) {
        barrier();
        uint x = t >= d ? s_sums[t - d] : 0u;
        barrier();
        s_sums[t] += x;
    }
    uint run = s_sums[t] - s; // exclusive prefix of this thread's first block
    for (uint g = a; g < e; g += SETUP_LOADS) {
        uint v[SETUP_LOADS];
        [[unroll]] for (uint k = 0u; k < SETUP_LOADS; k++)
            v[k] = g + k < e ? block_c[g + k] : 0u;
        [[unroll]] for (uint k = 0u; k < SETUP_LOADS; k++) {
            if (g + k < e)
                block[nb + g + k] = run;
            run += v[k];
        }
    }
    if (t == 0u) {
        // OUT is host memory: written, never read, since a read from the
        // device is a round trip over the bus.
        uint end = end0 + fc;
        ctl[NPU_CTL_OUT_END] = end;
        outw[pc.j + 1u] = end;
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
        s_area[t].wp_const = areas[t].wp_const;
    }
    uint rw = pc.dyn_ranges * NPU_RANGE_WORDS;
    if (t < rw)
        s_rng[t] = inject[pc.range_base + pc.range_off * NPU_RANGE_WORDS + t];
    barrier();
    uint p = pc.parity;
    uint stride = gl_NumWorkGroups.x * NPU_WG;
    // synaptic events of this thread's fires (their out-degrees), so the
    // host does not look up a row per fire to count them
    uint64_t events = 0;
    // NPU_DYN_UNROLL passes at a time, each step's loads for all of them
    // issued before any is used, since the scan waits on memory latency
    // (1M on the H200: 37 -> 33 us), and one returning atomic per subgroup
    // for all their fires.
    for (uint i0 = gl_GlobalInvocationID.x; i0 < pc.n; i0 += NPU_DYN_UNROLL * stride) {
        bool cand[NPU_DYN_UNROLL], marked[NPU_DYN_UNROLL], fired[NPU_DYN_UNROLL];
        bool picked[NPU_DYN_UNROLL];
        uint64_t stim[NPU_DYN_UNROLL];
        uint u[NPU_DYN_UNROLL], aw[NPU_DYN_UNROLL], c[NPU_DYN_UNROLL], mps[NPU_DYN_UNROLL];
        uint m[NPU_DYN_UNROLL];
        uint64_t sum[NPU_DYN_UNROLL];
        area_t ar[NPU_DYN_UNROLL];
        [[unroll]] for (uint k = 0u; k < NPU_DYN_UNROLL; k++) {
            uint i = i0 + k * stride;
            bool live = i < pc.n;
            marked[k] = live && (pc.cand_bits != 0u
                                     ? (cand_bits[p * cand_words() + (i >> 5)] & (1u << (i & 31u))) != 0u
                                     : cand_stamp[i] == pc.burst);
            u[k] = live && pc.units_k != 0u ? units[i] : 0u;
            // Not only for candidates: most neurons are candidates, so
            // these lines are read anyway, and waiting for the test first
            // would add a round trip to every pass.
            aw[k] = live ? area_of(i) : 0u;
            c[k] = live ? cc[i] : 0u;
            mps[k] = live ? mp[i] : 0u;
        }
        // Steps 3 and 4 for the burst's ranges (pc.dyn_ranges), while the
        // loads above are in flight: a picked neuron is a candidate and its
        // sum gets q (the sums are exact integers, so where q is added
        // does not matter).
        [[unroll]] for (uint k = 0u; k < NPU_DYN_UNROLL; k++) {
            uint i = i0 + k * stride;
            picked[k] = false;
            stim[k] = uint64_t(0);
            for (uint r = 0u; r < rw; r += NPU_RANGE_WORDS) {
                if (i - s_rng[r + NPU_RANGE_FIRST] < s_rng[r + NPU_RANGE_COUNT] &&
                    (s_rng[r + NPU_RANGE_ALL] != 0u ||
                     fx_pick_hash(s_rng[r + NPU_RANGE_KEY], i) < s_rng[r + NPU_RANGE_THRESHOLD])) {
                    picked[k] = true;
                    stim[k] += uint64_t(s_rng[r + NPU_RANGE_Q_LO]) |
                               (uint64_t(s_rng[r + NPU_RANGE_Q_HI]) << 32);
                }
            }
        }
        [[unroll]] for (uint k = 0u; k < NPU_DYN_UNROLL; k++) {
            uint i = i0 + k * stride;
            cand[k] = marked[k] || u[k] != 0u || picked[k];
            bool look = cand[k] || (pc.reset_idle != 0u && i < pc.n);
            if (n_cached != 0u)
                ar[k] = s_area[aw[k]];
            else if (look)
                ar[k] = areas[aw[k]];
            sum[k] = (marked[k] ? fcl[i] : uint64_t(0)) + stim[k];
        }
        [[unroll]] for (uint k = 0u; k < NPU_DYN_UNROLL; k++) {
            uint i = i0 + k * stride;
            fired[k] = false;
            m[k] = 0u;
            if (marked[k])
                fcl[i] = uint64_t(0);
            if (u[k] != 0u) {
                sum[k] += units_sum(u[k]); // mod 2^64: the int64 sum of everything
                units[i] = 0u;
            }
            if (cand[k])
                fired[k] = dynamics(i, ar[k], sum[k], c[k], mps[k], m[k]);
            else if (pc.reset_idle != 0u && i < pc.n &&
                     ((ar[k].snooze_flags >> 16) & NPU_AF_ACCUMULATE) == 0u && mps[k] != 0u)
                mp[i] = 0u;
        }
        // One atomicAdd per subgroup on the fire count for all the passes,
        // and one per pass on its block's count (a pass's NPU_WG neurons of
        // a workgroup lie in one block).
        uvec4 vote[NPU_DYN_UNROLL];
        uint cnt[NPU_DYN_UNROLL], total = 0u;
        [[unroll]] for (uint k = 0u; k < NPU_DYN_UNROLL; k++) {
            vote[k] = subgroupBallot(fired[k]);
            cnt[k] = subgroupBallotBitCount(vote[k]);
            total += cnt[k];
        }
        if (total == 0u)
            continue;
        uint k0 = 0u;
        if (subgroupElect()) {
            k0 = atomicAdd(ctl[CTL_FIRE_COUNT + p], total);
            [[unroll]] for (uint k = 0u; k < NPU_DYN_UNROLL; k++)
                if (cnt[k] != 0u)
                    atomicAdd(block[(i0 + k * stride) / NPU_FIRE_BLOCK], cnt[k]);
        }
        k0 = subgroupBroadcastFirst(k0);
        [[unroll]] for (uint k = 0u; k < NPU_DYN_UNROLL; k++) {
            uint i = i0 + k * stride;
            if (fired[k]) {
                uint a = syn_off[i], e = syn_off[i + 1u];
                events += uint64_t(e - a);
                uint at = k0 + subgroupBallotExclusiveBitCount(vote[k]);
                fire_row[at] = uvec2(a, e);
                fire_info_w[at] = fire_info(ar[k].snooze_flags >> 16, ar[k].wp_const, m[k]);
                atomicOr(fire_bits[i >> 5], 1u << (i & 31u));
            }
            k0 += cnt[k];
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
