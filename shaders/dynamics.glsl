// Step 6 for candidate i (SEMANTICS.md, "Dynamics") with the values its
// caller loaded ahead (so that several neurons' loads are in flight at
// once): sum, the int64 sum of its FCL entry and its tagged units word (the
// caller zeroes both: step 2 for the next burst); c, its CC word; mp_stored,
// its stored mp.  Step 1 (reset) is folded in: a neuron that does not
// accumulate enters every burst with mp 0 (the dynamics zero it in every
// burst it is not a candidate in, dyn.comp), so its stored mp is not used.
// mp and the float parameters are bit patterns; f32_add / f32_mul / f32_ge
// / f32_le (common.glsl) give the IEEE binary32 results whatever the
// denormal mode.
//
// Returns true when i fires, with its mp at firing in fired_mp; the caller
// records the fire (fire list, FIRE_BITS, counts), aggregated per subgroup.
bool dynamics(uint i, area_t ar, uint64_t sum, uint c, uint mp_stored, out uint fired_mp)
{
    fired_mp = 0u;
    uint cand = floatBitsToUint(fx_to_float(sum)); // 0 or >= 2^-16: exact

    uint refractory = ar.refractory_cfl & 0xffffu;
    uint cfl = ar.refractory_cfl >> 16;
    uint snooze = ar.snooze_flags & 0xffffu;
    uint flags = ar.snooze_flags >> 16;
    bool limited = cfl != 0u && cfl != 65535u;
    uint countdown = c & 0xffffu;
    uint cfc = c >> 16;

    if (countdown > 0u) {
        countdown -= 1u;
        if (countdown == 0u && limited && cfc >= cfl)
            cfc = 0u;
        cc[i] = countdown | (cfc << 16);
        if ((flags & NPU_AF_ACCUMULATE) == 0u)
            mp[i] = 0u; // what this burst's reset left (the stored value is stale)
        return false;
    }
    uint m = f32_add((flags & NPU_AF_ACCUMULATE) != 0u ? mp_stored : 0u, cand);
    if (f32_ge(m, ar.threshold) &&
        ((flags & NPU_AF_LIMIT) == 0u || f32_le(m, ar.threshold_limit))) {
        if (limited && cfc >= cfl) {
            cc[i] = countdown; // cfc = 0
            mp[i] = m;
            return false;
        }
        if (fx_fires(ar.excitability, i, pc.burst)) {
            fired_mp = m;
            last_mp[i] = m;
            fire_stamp[i] = pc.burst;
            mp[i] = 0u;
            cfc = min(cfc + 1u, 65535u);
            countdown = (limited && cfc >= cfl) ? min(refractory + snooze, 65535u) : refractory;
            cc[i] = countdown | (cfc << 16);
            return true;
        }
    }
    if (limited)
        cfc = 0u;
    mp[i] = f32_mul(m, ar.keep);
    cc[i] = countdown | (cfc << 16);
    return false;
}
