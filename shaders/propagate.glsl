// One synapse (target word t, weight and psp word wp) of a source with k
// synapses.
void propagate_one(uint t, uint wp, bool mp_psp, uint psp_m, bool tagged, bool uniform_psp, uint k)
{
    uint psp = mp_psp ? psp_m : (wp >> 8);
    bool inh = (t & 0x80000000u) != 0u;
    if (tagged)
        units_add(t & 0x7fffffffu, (wp & 0xffu) * psp, inh);
    else
        syn_add(t & 0x7fffffffu, wp_magnitude(wp, mp_psp, psp_m, uniform_psp, k), inh);
}

// One synapse of a row whose synapses all have the same weight and psp:
// mag = weight * psp_used units (tagged) or contribution q's magnitude.
void propagate_const_one(uint t, bool tagged, uint mag, uint64_t q)
{
    bool inh = (t & 0x80000000u) != 0u;
    if (tagged)
        units_add(t & 0x7fffffffu, mag, inh);
    else
        syn_add(t & 0x7fffffffu, q, inh);
}

// Step 5 for the fired source whose row is [a, e) in SYN_TGT and whose
// fire_info() is info: lanes lane, lane + step, ... of its synapses.
void propagate_row(uint a, uint e, uint info, uint lane, uint step)
{
    uint flags = (info >> 8) & 0xffu;
    bool mp_psp = (flags & NPU_AF_MP_PSP) != 0u;
    bool uniform_psp = (flags & NPU_AF_UNIFORM) != 0u;
    uint psp_m = info & 0xffu;
    // undivided contributions are whole units: tagged 32-bit sums, where the
    // network's bound allows them
    bool tagged = pc.units_k != 0u && (uniform_psp || e - a <= 1u);
    // Four loads in flight per lane before the first add, so the adds do
    // not each wait on a row load (1M on the H200: 55 -> 47 us, change 30
    // in docs/performance.md); rows of up to 4 * step synapses are one pass.
    if ((flags & NPU_AF_CONST_WP) != 0u) {
        // The area's synapses all have one weight and psp: the row's
        // weight words are not loaded, and its contribution is computed once.
        uint wc = info >> 16, psp = mp_psp ? psp_m : (wc >> 8);
        uint mag = (wc & 0xffu) * psp;
        uint64_t q = wp_magnitude(wc, mp_psp, psp_m, uniform_psp, e - a);
        for (uint x0 = a + lane; x0 < e; x0 += 4u * step) {
            uint x1 = x0 + step, x2 = x1 + step, x3 = x2 + step;
            uint t0 = syn_tgt[x0];
            uint t1 = x1 < e ? syn_tgt[x1] : 0u;
            uint t2 = x2 < e ? syn_tgt[x2] : 0u;
            uint t3 = x3 < e ? syn_tgt[x3] : 0u;
            propagate_const_one(t0, tagged, mag, q);
            if (x1 < e)
                propagate_const_one(t1, tagged, mag, q);
            if (x2 < e)
                propagate_const_one(t2, tagged, mag, q);
            if (x3 < e)
                propagate_const_one(t3, tagged, mag, q);
        }
        return;
    }
    for (uint x0 = a + lane; x0 < e; x0 += 4u * step) {
        uint x1 = x0 + step, x2 = x1 + step, x3 = x2 + step;
        uint t0 = syn_tgt[x0], w0 = syn_wp(x0);
        uint t1 = x1 < e ? syn_tgt[x1] : 0u, w1 = x1 < e ? syn_wp(x1) : 0u;
        uint t2 = x2 < e ? syn_tgt[x2] : 0u, w2 = x2 < e ? syn_wp(x2) : 0u;
        uint t3 = x3 < e ? syn_tgt[x3] : 0u, w3 = x3 < e ? syn_wp(x3) : 0u;
        propagate_one(t0, w0, mp_psp, psp_m, tagged, uniform_psp, e - a);
        if (x1 < e)
            propagate_one(t1, w1, mp_psp, psp_m, tagged, uniform_psp, e - a);
        if (x2 < e)
            propagate_one(t2, w2, mp_psp, psp_m, tagged, uniform_psp, e - a);
        if (x3 < e)
            propagate_one(t3, w3, mp_psp, psp_m, tagged, uniform_psp, e - a);
    }
}

// The same for fired source s whose mp at firing was m (float bits), looked
// up here (the dense propagation, which has no fire list).
void propagate(uint s, uint m, uint lane, uint step)
{
    area_t ar = areas[area_of(s)];
    propagate_row(syn_off[s], syn_off[s + 1u], fire_info(ar.snooze_flags >> 16, ar.wp_const, m),
                  lane, step);
}
