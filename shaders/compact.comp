#version 460
// Step 7: this burst's fires, in ascending id order, into the batch's
// host-visible readback buffer.  One workgroup per block of NPU_FIRE_BLOCK
// neurons, one FIRE_BITS word per thread: a prefix sum of the words' bit
// counts inside the block, plus the block's prefix from setup.comp, gives
// each fire its position; mp at firing comes from last_mp.  Clears the bits
// and the block's count for the next burst.  Empty blocks return at once.
#include "common.glsl"
layout(local_size_x = NPU_WG) in;

shared uint sums[NPU_WG];

void main()
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
        sums[t] = c;
        for (uint d = 1u; d < NPU_WG; d <<= 1) {
            barrier();
            uint x = t >= d ? sums[t - d] : 0u;
            barrier();
            sums[t] += x;
        }
        uint k = outw[pc.j] + block[nb + g] + sums[t] - c;
        if (bits != 0u)
            fire_bits[w] = 0u;
        while (bits != 0u) {
            uint b = findLSB(bits);
            bits &= bits - 1u;
            uint i = w * 32u + b;
            outw[pc.ids_base + k] = i;
            outw[pc.mp_base + k] = last_mp[i];
            k++;
        }
        barrier(); // every thread has read block[g] and sums[]
        if (t == 0u)
            block[g] = 0u;
    }
}
