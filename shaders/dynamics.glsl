// Step 6 for candidate i (SEMANTICS.md, "Dynamics"), which also consumes and
// zeroes its FCL entry (step 2 for the next burst).
void dynamics(uint i)
{
    precise float cand = fx_to_float(fcl[i]);
    fcl[i] = uint64_t(0);

    area_t ar = areas[area_of(i)];
    uint refractory = ar.refractory_cfl & 0xffffu;
    uint cfl = ar.refractory_cfl >> 16;
    uint snooze = ar.snooze_flags & 0xffffu;
    uint flags = ar.snooze_flags >> 16;
    bool limited = cfl != 0u && cfl != 65535u;
    uint c = cc[i];
    uint countdown = c & 0xffffu;
    uint cfc = c >> 16;

    if (countdown > 0u) {
        countdown -= 1u;
        if (countdown == 0u && limited && cfc >= cfl)
            cfc = 0u;
        cc[i] = countdown | (cfc << 16);
        return;
    }
    precise float m = mp[i] + cand;
    if (m >= ar.threshold && ((flags & NPU_AF_LIMIT) == 0u || m <= ar.threshold_limit)) {
        if (limited && cfc >= cfl) {
            cc[i] = countdown; // cfc = 0
            mp[i] = m;
            return;
        }
        if (fx_fires(ar.excitability, i, pc.burst)) {
            uint k = atomicAdd(ctl[CTL_FIRE_COUNT + pc.parity], 1u);
            fire_id[pc.parity * pc.n + k] = i;
            fire_mp[pc.parity * pc.n + k] = m;
            last_mp[i] = m;
            fire_stamp[i] = pc.burst;
            mp[i] = 0.0;
            cfc = min(cfc + 1u, 65535u);
            countdown = (limited && cfc >= cfl) ? min(refractory + snooze, 65535u) : refractory;
            cc[i] = countdown | (cfc << 16);
            return;
        }
    }
    if (limited)
        cfc = 0u;
    precise float leaked = m * ar.keep;
    mp[i] = leaked;
    cc[i] = countdown | (cfc << 16);
}
