/* npu_layout: what the C side and the GLSL side of the Vulkan backend must
 * agree on: descriptor bindings, the push-constant block, the control block
 * and the packed per-area parameters.  Included by C (src/vulkan/) and by
 * every shader (glslc defines VULKAN).  Sizes are checked by static_assert
 * on the C side; std430 gives the same offsets because every member is a
 * 32-bit scalar or an array of them. */
#ifndef NPU_LAYOUT_H
#define NPU_LAYOUT_H

#ifndef VULKAN
#include <assert.h>
#include <stdint.h>
#define NPU_UINT uint32_t
#define NPU_FLOAT float
#else
#define NPU_UINT uint
#define NPU_FLOAT float
#endif

/* Threads per workgroup of every kernel. */
#define NPU_WG 64u

/* Neurons one dyn.comp invocation takes at a time, their loads in flight
 * together.  On the H200 at 1M (docs/performance.md, change 31) 2 and 3
 * were best; 4 needs 69 registers and lost occupancy. */
#define NPU_DYN_UNROLL 2u

/* The most range stimuli (power included) of a burst the dynamics apply
 * themselves, each neuron's picks decided where its state is loaded anyway,
 * instead of the fill's stimulus pass over the ranges' neurons and an
 * FCL atomic per pick.  Bursts with more ranges leave them to the fill. */
#define NPU_DYN_RANGES 4u

/* Descriptor set 0.  One set per in-flight slot: they differ only in the
 * INJECT and OUT buffers. */
#define NPU_B_AREA 0        /* struct npu_gpu_area[n_areas] */
#define NPU_B_AREA_OF 1     /* uint16[n] packed two per uint */
#define NPU_B_SYN_OFF 2     /* uint[n + 1] */
#define NPU_B_SYN_TGT 3     /* uint[S]: target | inhibitory bit */
#define NPU_B_SYN_WP 4      /* uint16[S] packed two per uint: weight | psp << 8 */
#define NPU_B_MP 5          /* float[n] */
#define NPU_B_CC 6          /* uint[n]: countdown | cfc << 16 */
#define NPU_B_FCL 7         /* uint64[n]: Q16 sums, two's complement */
#define NPU_B_CAND_STAMP 8  /* uint[n]: last burst the neuron was a candidate in (stamp
                             * mode; one word otherwise) */
#define NPU_B_CAND_BITS 9   /* uint[2 * ceil(n/32)]: candidates of the even / odd burst,
                             * one bit per neuron; burst b's fill clears b-1's half (bit
                             * mode; one word otherwise) */
#define NPU_B_FIRE_STAMP 10 /* uint[n]: last burst the neuron fired in */
#define NPU_B_FIRE_ROW 11   /* uvec2[n]: the last burst's fires (unordered), each as its
                             * row's [start, end) in SYN_TGT (sparse propagation) */
#define NPU_B_FIRE_INFO 12  /* uint[n]: same order, fire_info(): psp from the mp at
                             * firing | the area's NPU_AF_* << 8 */
#define NPU_B_LAST_MP 13    /* float[n]: mp at the neuron's last fire (dense propagation,
                             * ordered compaction) */
#define NPU_B_FIRE_BITS 14  /* uint[ceil(n/32)]: this burst's fires, one bit per neuron;
                             * cleared by the compaction */
#define NPU_B_BLOCK 15      /* uint[2 * blocks]: fires per block of NPU_FIRE_BLOCK neurons,
                             * then each block's exclusive prefix (dyn.comp's setup) */
#define NPU_B_CTL 16        /* struct npu_gpu_ctl */
#define NPU_B_UNITS 17      /* uint[n]: tagged sums of the undivided synaptic input
                             * (npu_fx_units_tag_shift), when push.units_k != 0; one
                             * word otherwise */
#define NPU_B_BIN_COUNT 18  /* uint[bins * NPU_BIN_COUNT_STRIDE]: events appended to each
                             * bin (binned propagation; one word otherwise), zeroed by
                             * bins.comp */
#define NPU_B_BIN_EV 19     /* uvec2[bins * bin_cap]: each bin's events,
                             * (target - bin start) | inhibitory << 31, contribution's
                             * magnitude; one word when not binned */
#define NPU_B_BAND_COUNT 20 /* uint[bands * NPU_BIN_COUNT_STRIDE]: events routed to each
                             * band (two-level binning; one word otherwise), zeroed by
                             * bins.comp */
#define NPU_B_BAND_EV 21    /* uvec2[bands * band_cap]: each band's events, (target - band
                             * start) | inhibitory << 31, magnitude; one word otherwise */
#define NPU_B_INJECT 22     /* per slot: the batch's explicit stimuli, uint[3 * entries]
                             * (id, q low, q high), then its ranges at word range_base,
                             * NPU_RANGE_WORDS each (power included) */
#define NPU_B_OUT 23        /* per slot, uint: off[batch+1], ids, mp bits, then from the
                             * even word events_base: uint64 events[batch] */
#define NPU_B_COUNT 24

/* The ordered compaction: one workgroup per block of NPU_FIRE_BLOCK neurons
 * (one 32-bit word of FIRE_BITS per thread) emits the block's fires in id
 * order at the block's prefix (fill.comp). */
#define NPU_FIRE_BLOCK (32u * NPU_WG)
/* Sparse propagation: lanes per fired neuron (one subgroup on NVIDIA), so
 * a workgroup takes NPU_WG / NPU_PROP_LANES fired neurons. */
#define NPU_PROP_LANES 32u

/* Binned propagation (bins.comp): the fill appends each synaptic event to
 * its target's bin of 2^bin_shift targets, and bins.comp sums each bin in
 * shared memory (two 32-bit words and a mark bit a target) with up to NPU_BIN_WG
 * threads, so bins hold 2^NPU_BIN_MIN_SHIFT (whole candidate-bit words) to
 * 2^NPU_BIN_MAX_SHIFT targets.  The bin size the kernel is built for and
 * its workgroup size are specialization constants (NPU_BIN_SC_*), set to
 * what the device's limits allow (Vulkan promises only 16 KiB of shared
 * memory and 128 invocations; lavapipe has 32 KiB). */
#define NPU_BIN_WG 1024u
#define NPU_BIN_SC_SIZE 0        /* constant_id: targets per bin, at most */
#define NPU_BIN_SC_WG 1          /* constant_id: the workgroup size */
/* BIN_COUNT words per bin: each bin's counter on a 128-byte line of its
 * own, since every event of the bin is a returning atomic on it (packed
 * 32 to a line, the 10M burst took 1822 us instead of 1205). */
#define NPU_BIN_COUNT_STRIDE 32u
#define NPU_BIN_MIN_SHIFT 5u
#define NPU_BIN_MAX_SHIFT 12u

/* Two-level binning (spread.comp, split.comp; pc.band_shift != 0): a
 * warp's events go to as many bins as it has lanes, so appending them
 * one by one made a write transaction per event (10M on the H200: 718 us
 * for scattered stores against 279 for its lanes' own regions).  Here a
 * workgroup stages NPU_ROUTE_UNROLL events per thread in shared memory,
 * sorted by destination, and writes each destination's run with
 * consecutive threads: first from the fired rows into bands of
 * 2^band_shift targets, then from each band into its bins.  A level has at
 * most NPU_ROUTE_MAX_DEST destinations (bands, or bins per band); the
 * workgroup is the specialization constant NPU_ROUTE_SC_WG. */
#define NPU_ROUTE_UNROLL 4u
#define NPU_ROUTE_MAX_DEST 256u
#define NPU_ROUTE_WG 512u  /* on the H200 at 10M: 863 us a burst against 899 (1024) and
                           * 932 (256), each on its best grid */
#define NPU_ROUTE_SC_WG 0

/* A range stimulus in INJECT (struct npu_inject_range, plus where its
 * threads start): neuron first + t of [first, first + count) gets q when
 * all != 0 or npu_fx_pick_hash(key, first + t) < threshold.  Thread v of a
 * burst's stimulus dispatch handles explicit entry v when v < inject_count,
 * else neuron v - vstart of the range with the largest vstart <= v. */
#define NPU_RANGE_FIRST 0
#define NPU_RANGE_COUNT 1
#define NPU_RANGE_KEY 2
#define NPU_RANGE_THRESHOLD 3
#define NPU_RANGE_ALL 4
#define NPU_RANGE_Q_LO 5
#define NPU_RANGE_Q_HI 6
#define NPU_RANGE_VSTART 7
#define NPU_RANGE_WORDS 8

/* Area flags (npu_gpu_area.snooze_flags >> 16). */
#define NPU_AF_LIMIT 1u
#define NPU_AF_ACCUMULATE 2u
#define NPU_AF_MP_PSP 4u
#define NPU_AF_UNIFORM 8u
#define NPU_AF_CONST_WP 16u /* every synapse of the area is npu_gpu_area.wp_const */

/* Arithmetic self-test modes (test_arith.comp). */
#define NPU_TEST_TO_FLOAT 0u   /* in: int64 pairs -> out: float bits of npu_fx_to_float */
#define NPU_TEST_UNIFORM 1u    /* in: (i, b) pairs -> out: pcg, float bits of npu_fx_uniform */
#define NPU_TEST_PSP 2u        /* in: float bits of mp -> out: npu_fx_psp_from_mp */
#define NPU_TEST_CONTRIB 3u    /* in: (w, psp, inh, uniform, k) -> out: int64 pair */
#define NPU_TEST_FLOAT_OPS 4u  /* in: (a, b) float bits -> out: a + b, a * b (the hardware's) */
#define NPU_TEST_EXACT 5u      /* in: (a, b) float bits -> out: NPU_TEST_EXACT_WORDS words:
                                * f32_add, f32_mul, f32_add_exact, f32_mul_exact,
                                * f32_add_sel and f32_mul_sel under emulated flushing,
                                * lt | le << 1 | gt << 2 | ge << 3 */
#define NPU_TEST_EXACT_WORDS 7u
#define NPU_TEST_FIRES 6u      /* in: (excitability bits, i, b) -> out: fx_fires */
#define NPU_TEST_PICK 7u       /* in: (key, i) pairs -> out: fx_pick_hash */

/* Dense-or-sparse choice: the dense kernel runs when count * 256 >= n * ratio. */
#define NPU_DENSE_SCALE 256u

/* The control block, all device-side: counts, the propagation mode, and
 * the count of dynamics workgroups that have finished the burst (the last
 * one does the per-burst setup; dyn.comp). */
#define NPU_CTL_CAND_COUNT 0  /* [2]: candidates of the even / odd burst */
#define NPU_CTL_FIRE_COUNT 2  /* [2]: fires of the even / odd burst */
#define NPU_CTL_PROP_DENSE 4  /* 1: the next propagation is dense */
#define NPU_CTL_DYN_DONE 5    /* dynamics workgroups done with this burst */
#define NPU_CTL_OUT_END 6     /* fires of the batch so far (device copy of OUT's off[j+1]) */
#define NPU_CTL_EVENTS 8      /* uint64 (words 8, 9): synaptic events of this burst's fires */
#define NPU_CTL_WORDS 10

/* Parts of fill.comp a dispatch runs (npu_gpu_push.phases). */
#define NPU_FILL_COMPACT 1u   /* step 7 of the batch's burst compact_j */
#define NPU_FILL_STIMULI 2u   /* steps 3 and 4 of this burst */
#define NPU_FILL_PROPAGATE 4u /* step 5 of this burst */

struct npu_gpu_ctl {
    NPU_UINT cand_count[2];
    NPU_UINT fire_count[2];
    NPU_UINT prop_dense;
    NPU_UINT dyn_done;
    NPU_UINT out_end;
    NPU_UINT pad;
    NPU_UINT events[2];       /* low, high */
};

struct npu_gpu_area {
    NPU_FLOAT threshold;
    NPU_FLOAT threshold_limit;
    NPU_FLOAT keep;
    NPU_FLOAT excitability;
    NPU_UINT refractory_cfl;  /* refractory | cfl << 16 */
    NPU_UINT snooze_flags;    /* snooze | NPU_AF_* << 16 */
    NPU_UINT wp_const;        /* with NPU_AF_CONST_WP: every synapse's weight | psp << 8 */
    NPU_UINT pad;
};

struct npu_gpu_push {
    NPU_UINT n;            /* neurons */
    NPU_UINT burst;        /* burst number, from 1 */
    NPU_UINT parity;       /* burst & 1: which half of the candidate / fire lists is this burst's */
    NPU_UINT j;            /* burst index inside the batch */
    NPU_UINT inject_off;   /* first explicit stimulus of this burst in INJECT */
    NPU_UINT inject_count;
    NPU_UINT ids_base;     /* OUT word of the first fire id */
    NPU_UINT mp_base;      /* OUT word of the first fire mp */
    NPU_UINT range_base;   /* INJECT word of the batch's first range */
    NPU_UINT range_off;    /* first range of this burst */
    NPU_UINT range_count;
    NPU_UINT stim_total;   /* inject_count + the neurons of this burst's ranges */
    NPU_UINT prop_ratio;   /* dense propagation when fires * 256 >= n * prop_ratio */
    NPU_UINT dyn_ratio;    /* dense dynamics when candidates * 256 >= n * dyn_ratio */
    NPU_UINT group_cap;    /* most workgroups per dispatch; kernels loop over the rest */
    NPU_UINT mode;         /* test mode */
    NPU_UINT area_cache;   /* areas the dynamics copy to shared memory: n_areas when
                            * <= NPU_WG, else 0 (read from AREA per neuron) */
    NPU_UINT phases;       /* fill.comp: NPU_FILL_* */
    NPU_UINT compact_j;    /* fill.comp: the batch's burst whose fires it compacts */
    NPU_UINT events_base;  /* OUT word of events[0] (even) */
    NPU_UINT cand_bits;    /* 1: candidates are marked in CAND_BITS, 0: in CAND_STAMP */
    NPU_UINT units_k;      /* undivided synaptic input goes to UNITS, each event adding
                            * 2^units_k + contribution; 0: to FCL like the rest */
    NPU_UINT reset_idle;   /* 1: some area does not accumulate, so the dynamics zero
                            * the mp of its neurons that are not candidates */
    NPU_UINT dyn_ranges;   /* this burst's ranges (from range_off) the dynamics apply,
                            * <= NPU_DYN_RANGES; 0: the fill applies them (stim_total
                            * counts their neurons) */
    NPU_UINT bin_shift;    /* binned propagation: targets per bin = 1 << bin_shift;
                            * 0: the propagation adds into FCL directly */
    NPU_UINT bin_cap;      /* events each bin holds; the rest go to FCL */
    NPU_UINT band_shift;   /* two-level binning: targets per band = 1 << band_shift;
                            * 0: the fill appends to the bins directly */
    NPU_UINT band_cap;     /* events each band holds; the rest go to FCL */
};

#ifndef VULKAN
static_assert(sizeof(struct npu_gpu_ctl) == NPU_CTL_WORDS * 4, "ctl layout");
static_assert(sizeof(struct npu_gpu_area) == 32, "area layout");
static_assert(sizeof(struct npu_gpu_push) == 112, "push constant layout");
static_assert(sizeof(struct npu_gpu_push) <= 128, "push constants fit the 128-byte minimum");
static_assert(NPU_WG % NPU_PROP_LANES == 0, "propagation lanes");
static_assert(NPU_ROUTE_WG % NPU_PROP_LANES == 0, "routing lane groups");
static_assert(NPU_DYN_RANGES * NPU_RANGE_WORDS <= NPU_WG, "one word per thread to load the ranges");
#endif

#endif
