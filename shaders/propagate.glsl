// Step 5 for one fired source s whose mp at firing was m (float bits): lanes lane, lane +
// step, ... of its outgoing synapses.
void propagate(uint s, uint m, uint lane, uint step)
{
    uint flags = areas[area_of(s)].snooze_flags >> 16;
    bool mp_psp = (flags & NPU_AF_MP_PSP) != 0u;
    bool uniform_psp = (flags & NPU_AF_UNIFORM) != 0u;
    uint a = syn_off[s];
    uint e = syn_off[s + 1u];
    uint psp_m = mp_psp ? fx_psp_from_mp(m) : 0u;
    // undivided contributions are whole units: tagged 32-bit sums, where the
    // network's bound allows them
    bool tagged = pc.units_k != 0u && (uniform_psp || e - a <= 1u);
    for (uint x = a + lane; x < e; x += step) {
        uint t = syn_tgt[x];
        uint wp = syn_wp(x);
        uint psp = mp_psp ? psp_m : (wp >> 8);
        bool inh = (t & 0x80000000u) != 0u;
        if (tagged)
            units_add(t & 0x7fffffffu, (wp & 0xffu) * psp, inh);
        else
            fcl_add(t & 0x7fffffffu, fx_contribution(wp & 0xffu, psp, inh, uniform_psp, e - a));
    }
}
