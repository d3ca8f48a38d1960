/* The Vulkan compute backend: the ops table and the recording of batches.
 *
 * Everything a burst touches lives on the device between bursts; a batch
 * of bursts is one command buffer of two dispatches per burst on fixed
 * grids, whose kernels read their counts and modes from device memory, so
 * the host only uploads the batch's stimuli before and reads the fire lists
 * after.  docs/vulkan.md has the picture. */
#include "vk_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixed.h"
#include "npu_layout.h"
#include "vk_ctx.h"
#include "vk_mem.h"
#include "vk_pipe.h"

#define N_SLOTS NPU_BACKEND_MAX_IN_FLIGHT
#define N_DEVICE_BUFFERS NPU_B_INJECT /* bindings below INJECT are shared by both slots */

/* The automatic batch size keeps one slot's readback buffer, sized for the
 * worst case (every neuron fires every burst), under this many bytes. */
#define READBACK_BUDGET (UINT64_C(256) << 20)
#define MAX_AUTO_BATCH 256u
#define INITIAL_INJECT_WORDS 4096u

/* Both kernels run on fixed grids (grid-stride loops), so no pass has to
 * size them and no dispatch is indirect: one workgroup per NPU_WG neurons,
 * capped.  NPUSIM_VK_DYN_GROUPS and NPUSIM_VK_FILL_GROUPS override the caps
 * for tuning.  (A fill grid of one workgroup per 256 neurons was 27% slower
 * per burst at 10k on the H100: too few warps to hide the propagation's
 * chain of dependent loads.) */
#define DEFAULT_DYN_GROUPS 2048u
#define DEFAULT_FILL_GROUPS 4096u
#define FILL_NEURONS_PER_GROUP NPU_WG

/* From this many neurons on, candidates are marked in a bitmap (an atomicOr
 * into n/8 bytes) instead of a stamp per neuron (a plain store into 4n
 * bytes): on the H100 the bitmap halved the propagation at 10M neurons,
 * where the stamps and the FCL no longer fit the L2 cache, was 3% faster
 * at 1M and 20% slower at 100k (same-word atomics).  NPUSIM_VK_CAND=bits or
 * stamps forces one (tests, tuning). */
#define CAND_BITS_MIN_NEURONS 500000u

/* Tagged 32-bit sums (npu_fx_units_tag_shift) up to this many neurons.  On
 * the H200, per burst against the int64 FCL: 1M 98 vs 109 us, 2M 201 vs
 * 216, 4M 394 vs 458, but 7M 1289 vs 997 and 10M 1.7-1.9 vs 1.6 ms (4.4 ms
 * over the first 20 bursts); the cause of the loss is not found
 * (docs/performance.md, change 24).  NPUSIM_VK_UNITS=on uses them at any
 * size, off never. */
#define UNITS_MAX_NEURONS 4000000u

/* Binned propagation (shaders/bins.comp) from this many neurons on, where
 * the FCL (8 bytes a neuron) is too big for the L2 and the propagation's
 * atomics go to DRAM: on the H200, with the two-level binning, 5M neurons
 * were even (509 us a burst without, 508 with) and 6M 12% faster (685 ->
 * 605); with one level only from 7M (docs/performance.md, changes 47 and
 * 48).  NPUSIM_VK_BINS=on|off forces it (tests, tuning),
 * NPUSIM_VK_BINS_FROM=N moves the threshold (a device with another L2);
 * NPUSIM_VK_BIN_SHIFT (bins of 2^shift targets) and NPUSIM_VK_BIN_CAP
 * (events a bin holds before the rest go to the FCL) are testing
 * knobs.  The default capacity is 4 events per target in all: the
 * benchmark's bursts have 2.5. */
#define BINS_MIN_NEURONS 5500000u
#define BIN_EVENTS_PER_TARGET 4u

/* Two-level binning (spread.comp, split.comp) where the bins are this many
 * or more: with one level, a warp's events went to as many bins as it has
 * lanes, a write transaction each.  NPUSIM_VK_BANDS=on|off forces it,
 * NPUSIM_VK_BAND_SHIFT (bands of at least 2^shift targets: raised where
 * the network would have more bands than a level has destinations) and
 * NPUSIM_VK_BAND_CAP are testing knobs; the default bands are about the
 * square root of the bins, of 4 events per target each. */
#define BANDS_MIN_BINS 256u
/* spread.comp's and split.comp's grid: two workgroups of NPU_ROUTE_WG per
 * SM of the H200 (132), the best of 132 to 2112 at 10M (863 us a burst,
 * 943 at 2112); fewer where the network has under 8192 neurons per
 * workgroup, since each workgroup of split.comp visits every band. */
#define DEFAULT_ROUTE_GROUPS 264u
#define ROUTE_NEURONS_PER_GROUP 8192u

/* Mesa's llvmpipe (lavapipe) ends every loop of a shader invocation once
 * the invocation has run this many loop iterations in all (gallivm's
 * LP_MAX_TGSI_LOOP_ITERATIONS, 65535, shared by all its loops), without an
 * error: the kernels' grid-stride loops would silently stop short.  On that
 * driver the backend bounds each invocation's iterations for the worst
 * case and refuses what could go over, with some room for the loops the
 * estimate simplifies. */
#define LLVMPIPE_LOOP_LIMIT 60000u

/* Dense kernels run when count * 256 >= n * ratio (shaders/common.glsl). */
#define DEFAULT_PROP_RATIO 128u  /* half the neurons fired */
#define DEFAULT_DYN_RATIO 64u    /* a quarter are candidates */
#define NEVER_DENSE_RATIO 512u

/* Where one burst's stimuli lie in the slot's INJECT buffer. */
struct vk_stim {
    uint32_t inject_off, inject_count;   /* explicit entries */
    uint32_t range_off, range_count;     /* ranges, power included */
    uint32_t dyn_ranges;                 /* range_count when the dynamics apply them, or 0 */
    uint32_t total;                      /* threads of the fill's stimulus part */
};

/* Timestamp labels: a query's label says what ran since the previous one.
 * Profiling (NPUSIM_VK_PROFILE=1) runs fill.comp's three parts as three
 * dispatches, so each has its own label. */
enum {
    L_COMPACT, L_STIMULI, L_PROPAGATE, L_SPREAD, L_SPLIT, L_BINS, L_DYN, L_COUNT,
    TS_START = L_COUNT, TS_BATCH
};
static const char *const label_names[L_COUNT] = {
    [L_COMPACT] = "compact", [L_STIMULI] = "stimuli", [L_PROPAGATE] = "propagate",
    [L_SPREAD] = "spread", [L_SPLIT] = "split", [L_BINS] = "bins", [L_DYN] = "dyn+setup",
};

struct vk_slot {
    VkQueryPool qpool;      /* timestamps; VK_NULL_HANDLE when the queue has none */
    uint32_t n_queries;     /* written by the recorded batch */
    uint8_t *qlabel;        /* [queries]: L_*, TS_START or TS_BATCH */
    struct npu_vk_buf inject;     /* host-visible: the host writes the batch's stimuli */
    struct npu_vk_buf inject_dev; /* device-local copy the kernels read (NPU_B_INJECT) */
    uint64_t inject_bytes;        /* bytes of inject the recorded batch copies */
    struct vk_stim *stim;   /* [batch] */
    uint32_t range_base;    /* INJECT word of the first range */
    struct npu_vk_buf out;
    VkDescriptorSet set;
    VkCommandBuffer cb;
    VkFence fence;
    uint32_t first_burst;
    uint32_t count;
};

struct vk_backend {
    struct npu_backend base;
    struct npu_vk_ctx ctx;
    struct npu_vk_pipes pipes;
    VkDescriptorPool dpool;
    struct npu_vk_buf buf[N_DEVICE_BUFFERS];
    struct vk_slot slot[N_SLOTS];

    struct npu_backend_cfg cfg;
    bool uploaded;
    uint32_t n;
    struct npu_inject_range *power;   /* one all-neurons range per power area */
    uint32_t n_power;                 /* power ranges; 0 when the amount is 0 */
    uint32_t batch;
    uint32_t next_burst;
    unsigned head;          /* oldest slot in flight */
    unsigned in_flight;
    uint32_t prop_ratio, dyn_ratio, group_cap, dyn_groups_max, fill_groups_max;
    uint32_t dyn_ranges_max;  /* most ranges of a burst the dynamics apply (NPU_DYN_RANGES) */
    uint32_t dyn_groups, fill_groups, fire_blocks;
    uint32_t n_areas;
    bool syn_wp;              /* some row reads SYN_WP (an area without one weight) */
    bool reset_idle;          /* push constant: some area does not accumulate */
    uint32_t area_cache;      /* push constant: areas dyn.comp copies to shared memory */
    bool no_area_cache;       /* NPUSIM_VK_AREA_CACHE=0 (testing knob) */
    const char *cand_mode;    /* NPUSIM_VK_CAND: "bits", "stamps" or NULL (by size) */
    bool cand_bits;           /* candidates in CAND_BITS, not CAND_STAMP */
    int units_force;          /* NPUSIM_VK_UNITS: 1 on, -1 off, 0 by size and bound */
    uint32_t units_k;         /* push constant: tagged units shift, 0 when not used */
    int bins_force;           /* NPUSIM_VK_BINS: 1 on, -1 off, 0 by size */
    uint32_t bins_from;       /* by size: from this many neurons (NPUSIM_VK_BINS_FROM) */
    uint32_t bin_shift_knob;  /* NPUSIM_VK_BIN_SHIFT, 0 when not set */
    uint32_t bin_cap_knob;    /* NPUSIM_VK_BIN_CAP, 0 when not set */
    uint32_t bin_shift;       /* push constant: 0 when the propagation is not binned */
    uint32_t bin_cap;         /* push constant: events per bin */
    uint32_t bins, bin_groups, bin_groups_max;
    int bands_force;          /* NPUSIM_VK_BANDS: 1 on, -1 off, 0 by the bins' number */
    uint32_t band_shift_knob; /* NPUSIM_VK_BAND_SHIFT, 0 when not set */
    uint32_t band_cap_knob;   /* NPUSIM_VK_BAND_CAP, 0 when not set */
    uint32_t band_shift;      /* push constant: 0 without two-level binning */
    uint32_t band_cap;        /* push constant: events per band */
    uint32_t bands, route_groups, route_groups_max;
    bool loop_limited;        /* the driver cuts loops short (LLVMPIPE_LOOP_LIMIT) */
    uint64_t fill_iters;      /* worst-case loop iterations of a fill.comp invocation
                               * before its stimuli (checked per burst) */

    /* Device timestamps (docs/vulkan.md, "Measuring"). */
    bool timestamps;        /* the queue has them */
    bool profile;           /* NPUSIM_VK_PROFILE=1: one per kernel, printed at destroy */
    uint32_t max_queries;
    uint64_t *qres;
    double device_ns;       /* sum over collected batches of end - start */
    double kernel_ns[L_COUNT];
    uint64_t kernel_runs[L_COUNT];
    uint64_t batches, bursts;
};

static struct vk_backend *to_vk(struct npu_backend *be)
{
    return (struct vk_backend *)be;
}

static void print_profile(const struct vk_backend *be)
{
    /* A testing and tuning knob (NPUSIM_VK_PROFILE=1), hence stderr. */
    fprintf(stderr, "npusim vulkan profile: %s\n", be->base.device);
    if (!be->timestamps) {
        fprintf(stderr, "  the queue has no timestamps\n");
        return;
    }
    double per = be->bursts ? be->device_ns / 1e3 / (double)be->bursts : 0.0;
    fprintf(stderr, "  %llu batches (batch %u), %llu bursts; device busy %.6f s, %.2f us/burst; "
            "readback %s\n", (unsigned long long)be->batches, be->batch,
            (unsigned long long)be->bursts, be->device_ns * 1e-9, per,
            be->slot[0].out.cached ? "host-cached" : "NOT host-cached (slow host reads)");
    fprintf(stderr, "  per kernel (each dispatch followed by a barrier and a timestamp, so "
            "nothing overlaps; fill.comp's parts run as separate dispatches):\n");
    for (int k = 0; k < L_COUNT; k++)
        if (be->kernel_runs[k])
            fprintf(stderr, "    %-12s %10.3f ms %9llu runs %9.2f us/run %8.2f us/burst %5.1f%%\n",
                    label_names[k], be->kernel_ns[k] / 1e6,
                    (unsigned long long)be->kernel_runs[k],
                    be->kernel_ns[k] / 1e3 / (double)be->kernel_runs[k],
                    be->bursts ? be->kernel_ns[k] / 1e3 / (double)be->bursts : 0.0,
                    be->device_ns > 0 ? 100.0 * be->kernel_ns[k] / be->device_ns : 0.0);
    /* the driver's view of each kernel (registers, shared memory), where
     * it has VK_KHR_pipeline_executable_properties */
    char stats[4096];
    npu_vk_pipes_stats(&be->ctx, &be->pipes, stats, sizeof(stats));
    fprintf(stderr, "  %s\n", stats);
}

static void free_queries(struct vk_backend *be)
{
    for (int s = 0; s < N_SLOTS; s++) {
        if (be->slot[s].qpool)
            be->ctx.vk.DestroyQueryPool(be->ctx.device, be->slot[s].qpool, NULL);
        be->slot[s].qpool = VK_NULL_HANDLE;
        free(be->slot[s].qlabel);
        be->slot[s].qlabel = NULL;
        be->slot[s].n_queries = 0;
    }
    free(be->qres);
    be->qres = NULL;
    be->max_queries = 0;
}

static void vk_destroy(struct npu_backend *be_)
{
    struct vk_backend *be = to_vk(be_);
    if (!be)
        return;
    struct npu_vk_ctx *ctx = &be->ctx;
    if (be->profile && be->uploaded)
        print_profile(be);
    if (ctx->device) {
        ctx->vk.DeviceWaitIdle(ctx->device);
        free_queries(be);
        for (int s = 0; s < N_SLOTS; s++) {
            npu_vk_buf_destroy(ctx, &be->slot[s].inject);
            npu_vk_buf_destroy(ctx, &be->slot[s].inject_dev);
            npu_vk_buf_destroy(ctx, &be->slot[s].out);
            free(be->slot[s].stim);
            if (be->slot[s].fence)
                ctx->vk.DestroyFence(ctx->device, be->slot[s].fence, NULL);
        }
        for (int b = 0; b < N_DEVICE_BUFFERS; b++)
            npu_vk_buf_destroy(ctx, &be->buf[b]);
        if (be->dpool)
            ctx->vk.DestroyDescriptorPool(ctx->device, be->dpool, NULL);
        npu_vk_pipes_destroy(ctx, &be->pipes);
    }
    npu_vk_ctx_destroy(ctx); /* frees the command buffers with the pool */
    free(be->power);
    free(be);
}

static uint32_t ratio_from_env(const char *mode, uint32_t dflt)
{
    /* NPUSIM_VK_DENSE=always|never: a testing knob that forces the dense or
     * the sparse kernels, so both are compared against the CPU. */
    if (mode && strcmp(mode, "always") == 0)
        return 0;
    if (mode && strcmp(mode, "never") == 0)
        return NEVER_DENSE_RATIO;
    return dflt;
}

/* A numeric testing or tuning knob in [lo, hi]; *out = dflt when it is
 * not set. */
static int knob_u32(const char *name, uint32_t lo, uint32_t hi, uint32_t dflt, uint32_t *out,
                    struct npu_err *err)
{
    const char *v = getenv(name);
    *out = dflt;
    if (!v || !*v)
        return NPU_OK;
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (*end || x < lo || x > hi)
        return npu_err_set(err, NPU_E_USAGE, "%s=%.40s: expected %u to %u", name, v, lo, hi);
    *out = (uint32_t)x;
    return NPU_OK;
}

/* A knob of on, off or auto: *out = 1, -1 or 0 (also when not set). */
static int knob_mode(const char *name, int *out, struct npu_err *err)
{
    const char *v = getenv(name);
    *out = 0;
    if (!v || !*v || strcmp(v, "auto") == 0)
        return NPU_OK;
    if (strcmp(v, "on") == 0 || strcmp(v, "off") == 0) {
        *out = strcmp(v, "on") == 0 ? 1 : -1;
        return NPU_OK;
    }
    return npu_err_set(err, NPU_E_USAGE, "%s=%.40s: expected on, off or auto", name, v);
}

static int vk_create(const struct npu_backend_cfg *cfg, struct npu_backend **out,
                     struct npu_err *err)
{
    int rc;
    *out = NULL;
    struct vk_backend *be = calloc(1, sizeof(*be));
    if (!be)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    be->base.ops = &npu_backend_vulkan;
    be->cfg = *cfg;
    struct npu_vk_ctx *ctx = &be->ctx;
    rc = npu_vk_ctx_create(ctx, cfg, err);
    if (rc)
        goto error;
    /* NPUSIM_VK_EMULATE_FTZ=1: a testing knob that loads the kernels which
     * feed the exact float functions a flushing device's results (emulated),
     * so a device that preserves subnormals runs what a flushing one does. */
    const char *ftz = getenv("NPUSIM_VK_EMULATE_FTZ");
    ctx->emulate_ftz = ftz && strcmp(ftz, "1") == 0;
    /* Float results are exact in every variant (common.glsl, "Exact
     * binary32"); this says where the subnormals are handled. */
    snprintf(be->base.device, sizeof(be->base.device), "%.180s (Vulkan %u.%u, %s)",
             ctx->props.deviceName, VK_API_VERSION_MAJOR(ctx->props.apiVersion),
             VK_API_VERSION_MINOR(ctx->props.apiVersion),
             ctx->emulate_ftz ? "exact subnormals, flushing emulated"
             : ctx->denorm_preserve ? "exact subnormals, preserved by the device"
                                    : "exact subnormals, in software");
    /* NPUSIM_VK_ROUTE_WG: spread.comp's and split.comp's workgroup (tuning);
     * a power of two, so that it is whole groups of NPU_PROP_LANES */
    uint32_t route_wg;
    rc = knob_u32("NPUSIM_VK_ROUTE_WG", NPU_PROP_LANES, NPU_ROUTE_WG, 0, &route_wg, err);
    if (!rc && (route_wg & (route_wg - 1)))
        rc = npu_err_set(err, NPU_E_USAGE, "NPUSIM_VK_ROUTE_WG=%u: expected a power of two",
                         route_wg);
    if (!rc)
        rc = npu_vk_pipes_create(ctx, &be->pipes, route_wg, err);
    if (rc)
        goto error;

    const VkDescriptorPoolSize size = {
        .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .descriptorCount = NPU_B_COUNT * N_SLOTS,
    };
    const VkDescriptorPoolCreateInfo pinfo = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = N_SLOTS,
        .poolSizeCount = 1,
        .pPoolSizes = &size,
    };
    VK_CHECK(ctx->vk.CreateDescriptorPool(ctx->device, &pinfo, NULL, &be->dpool));
    for (int s = 0; s < N_SLOTS; s++) {
        struct vk_slot *sl = &be->slot[s];
        const VkDescriptorSetAllocateInfo ainfo = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = be->dpool,
            .descriptorSetCount = 1,
            .pSetLayouts = &be->pipes.set_layout,
        };
        VK_CHECK(ctx->vk.AllocateDescriptorSets(ctx->device, &ainfo, &sl->set));
        const VkCommandBufferAllocateInfo cinfo = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            .commandPool = ctx->pool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            .commandBufferCount = 1,
        };
        VK_CHECK(ctx->vk.AllocateCommandBuffers(ctx->device, &cinfo, &sl->cb));
        const VkFenceCreateInfo finfo = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
        VK_CHECK(ctx->vk.CreateFence(ctx->device, &finfo, NULL, &sl->fence));
    }
    const char *mode = getenv("NPUSIM_VK_DENSE");
    be->prop_ratio = ratio_from_env(mode, DEFAULT_PROP_RATIO);
    be->dyn_ratio = ratio_from_env(mode, DEFAULT_DYN_RATIO);
    be->group_cap = ctx->props.limits.maxComputeWorkGroupCount[0];
    if (be->group_cap > 65535u)
        be->group_cap = 65535u;
    const char *prof = getenv("NPUSIM_VK_PROFILE");
    be->profile = prof && strcmp(prof, "1") == 0;
    be->timestamps = ctx->timestamp_bits > 0 && ctx->props.limits.timestampPeriod > 0.0f;
    /* Grid caps for tuning, and for checkbackends, whose few workgroups
     * make every grid-stride loop go round (0: the default).
     * NPUSIM_VK_BIN_GROUPS caps bins.comp's grid, one workgroup per bin
     * by default.  NPUSIM_VK_DYN_RANGES=0..4: a testing and tuning knob; 0
     * leaves every range stimulus to the fill, so checkbackends compares
     * both ways. */
    rc = knob_u32("NPUSIM_VK_DYN_GROUPS", 0, UINT32_MAX, 0, &be->dyn_groups_max, err);
    if (!rc)
        rc = knob_u32("NPUSIM_VK_FILL_GROUPS", 0, UINT32_MAX, 0, &be->fill_groups_max, err);
    if (!rc)
        rc = knob_u32("NPUSIM_VK_BIN_GROUPS", 0, UINT32_MAX, 0, &be->bin_groups_max, err);
    if (!rc)
        rc = knob_u32("NPUSIM_VK_ROUTE_GROUPS", 0, UINT32_MAX, DEFAULT_ROUTE_GROUPS,
                      &be->route_groups_max, err);
    if (!rc)
        rc = knob_u32("NPUSIM_VK_DYN_RANGES", 0, NPU_DYN_RANGES, NPU_DYN_RANGES,
                      &be->dyn_ranges_max, err);
    if (rc)
        goto error;
    if (!be->dyn_groups_max)
        be->dyn_groups_max = DEFAULT_DYN_GROUPS;
    if (!be->fill_groups_max)
        be->fill_groups_max = DEFAULT_FILL_GROUPS;
    if (!be->bin_groups_max)
        be->bin_groups_max = be->group_cap;
    be->dyn_groups_max = be->dyn_groups_max < be->group_cap ? be->dyn_groups_max : be->group_cap;
    be->fill_groups_max = be->fill_groups_max < be->group_cap ? be->fill_groups_max : be->group_cap;
    be->bin_groups_max = be->bin_groups_max < be->group_cap ? be->bin_groups_max : be->group_cap;
    if (!be->route_groups_max)
        be->route_groups_max = DEFAULT_ROUTE_GROUPS;
    if (be->route_groups_max > be->group_cap)
        be->route_groups_max = be->group_cap;
    /* NPUSIM_VK_AREA_CACHE=0: a testing knob that makes the dynamics read
     * the area parameters from the buffer per neuron, as they do with more
     * than NPU_WG areas, so checkbackends covers that path too. */
    const char *ac = getenv("NPUSIM_VK_AREA_CACHE");
    be->no_area_cache = ac && strcmp(ac, "0") == 0;
    be->cand_mode = getenv("NPUSIM_VK_CAND");
    /* NPUSIM_VK_UNITS=off|on|auto: a testing and tuning knob; off keeps every
     * contribution in the int64 FCL, so checkbackends compares both ways of
     * summing, on ignores the size limit. */
    rc = knob_mode("NPUSIM_VK_UNITS", &be->units_force, err);
    if (!rc)
        rc = knob_mode("NPUSIM_VK_BINS", &be->bins_force, err);
    if (!rc)
        rc = knob_u32("NPUSIM_VK_BIN_SHIFT", NPU_BIN_MIN_SHIFT, be->pipes.bin_max_shift, 0,
                      &be->bin_shift_knob, err);
    if (!rc)
        rc = knob_u32("NPUSIM_VK_BIN_CAP", 1, 1u << 24, 0, &be->bin_cap_knob, err);
    if (!rc)
        rc = knob_u32("NPUSIM_VK_BINS_FROM", 1, UINT32_MAX, BINS_MIN_NEURONS, &be->bins_from,
                      err);
    if (!rc)
        rc = knob_mode("NPUSIM_VK_BANDS", &be->bands_force, err);
    if (!rc)
        rc = knob_u32("NPUSIM_VK_BAND_SHIFT", NPU_BIN_MIN_SHIFT + 1, 31, 0,
                      &be->band_shift_knob, err);
    if (!rc)
        rc = knob_u32("NPUSIM_VK_BAND_CAP", 1, 1u << 28, 0, &be->band_cap_knob, err);
    if (rc)
        goto error;
    *out = &be->base;
    return NPU_OK;
error:
    vk_destroy(&be->base);
    return rc;
}

static void update_set(struct vk_backend *be, struct vk_slot *sl)
{
    VkDescriptorBufferInfo info[NPU_B_COUNT];
    VkWriteDescriptorSet w[NPU_B_COUNT];
    for (uint32_t b = 0; b < NPU_B_COUNT; b++) {
        const struct npu_vk_buf *buf = b == NPU_B_INJECT ? &sl->inject_dev
                                     : b == NPU_B_OUT ? &sl->out : &be->buf[b];
        info[b] = (VkDescriptorBufferInfo){ .buffer = buf->buf, .offset = 0,
                                            .range = VK_WHOLE_SIZE };
        w[b] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = sl->set,
            .dstBinding = b,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &info[b],
        };
    }
    be->ctx.vk.UpdateDescriptorSets(be->ctx.device, NPU_B_COUNT, w, 0, NULL);
}

/* Words of one slot's readback buffer for a batch of `batch` bursts. */
static uint64_t out_events_base(uint64_t batch, uint64_t n)
{
    return (batch + 1 + 2 * batch * n + 1) & ~UINT64_C(1);   /* even: uint64 aligned */
}

static uint64_t out_words(uint64_t batch, uint64_t n)
{
    return out_events_base(batch, n) + 2 * batch;
}

static void free_device_buffers(struct vk_backend *be)
{
    for (int b = 0; b < N_DEVICE_BUFFERS; b++)
        npu_vk_buf_destroy(&be->ctx, &be->buf[b]);
    for (int s = 0; s < N_SLOTS; s++) {
        npu_vk_buf_destroy(&be->ctx, &be->slot[s].inject);
        npu_vk_buf_destroy(&be->ctx, &be->slot[s].inject_dev);
        npu_vk_buf_destroy(&be->ctx, &be->slot[s].out);
    }
    be->uploaded = false;
}

static uint64_t device_local_heap(const struct npu_vk_ctx *ctx)
{
    uint64_t best = 0;
    for (uint32_t h = 0; h < ctx->mem.memoryHeapCount; h++)
        if ((ctx->mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            ctx->mem.memoryHeaps[h].size > best)
            best = ctx->mem.memoryHeaps[h].size;
    return best;
}

static const char *const buffer_names[N_DEVICE_BUFFERS] = {
    "areas", "area_of", "syn_off", "syn_target", "syn_wp", "mp", "countdown/cfc", "fcl",
    "cand_stamp", "cand_bits", "fire_stamp", "fire_row", "fire_info", "last_mp", "fire_bits",
    "block", "ctl", "units", "bin_count", "bin_events", "band_count", "band_events",
};

/* A level of binning's two buffers: a counter on a line of its own per
 * stream (bin or band), and cap events of 8 bytes each; one word each
 * when there are no streams.  The kernels index the events in 32 bits. */
static int stream_sizes(uint32_t streams, uint32_t cap, const char *what, const char *knob,
                        uint64_t *count_bytes, uint64_t *ev_bytes, struct npu_err *err)
{
    *count_bytes = streams ? (uint64_t)streams * NPU_BIN_COUNT_STRIDE * 4 : 4;
    *ev_bytes = streams ? (uint64_t)streams * cap * 8 : 8;
    if ((uint64_t)streams * cap > UINT32_MAX)
        return npu_err_set(err, NPU_E_RESOURCE, "vulkan: %u %s of %u events each are more "
                           "than 2^32 events (use a smaller NPUSIM_VK_%s_CAP)",
                           streams, what, cap, knob);
    return NPU_OK;
}

/* Sizes every buffer, picks the batch, and refuses what cannot fit before
 * anything is allocated. */
static int plan(struct vk_backend *be, const struct npu_net *net,
                uint64_t size[N_DEVICE_BUFFERS], struct npu_err *err)
{
    const VkPhysicalDeviceLimits *lim = &be->ctx.props.limits;
    uint64_t n = net->n_neurons, s = net->n_synapses;
    size[NPU_B_AREA] = (uint64_t)net->n_areas * sizeof(struct npu_gpu_area);
    size[NPU_B_AREA_OF] = (n + 1) / 2 * 4;
    size[NPU_B_SYN_OFF] = (n + 1) * 4;
    size[NPU_B_SYN_TGT] = s * 4;
    size[NPU_B_SYN_WP] = be->syn_wp ? (s + 1) / 2 * 4 : 4;
    size[NPU_B_MP] = n * 4;
    size[NPU_B_CC] = n * 4;
    size[NPU_B_FCL] = n * 8;
    if (be->cand_mode && (strcmp(be->cand_mode, "bits") == 0 || strcmp(be->cand_mode, "stamps") == 0))
        be->cand_bits = strcmp(be->cand_mode, "bits") == 0;
    else
        be->cand_bits = n >= CAND_BITS_MIN_NEURONS;
    size[NPU_B_CAND_STAMP] = be->cand_bits ? 4 : n * 4;
    size[NPU_B_CAND_BITS] = be->cand_bits ? 2 * ((n + 31) / 32) * 4 : 4;
    size[NPU_B_FIRE_STAMP] = n * 4;
    size[NPU_B_FIRE_ROW] = n * 8;
    size[NPU_B_FIRE_INFO] = n * 4;
    size[NPU_B_LAST_MP] = n * 4;
    size[NPU_B_FIRE_BITS] = (n + 31) / 32 * 4;
    size[NPU_B_BLOCK] = 2 * ((n + NPU_FIRE_BLOCK - 1) / NPU_FIRE_BLOCK) * 4;
    size[NPU_B_CTL] = sizeof(struct npu_gpu_ctl);
    size[NPU_B_UNITS] = be->units_k ? n * 4 : 4;
    int rc = stream_sizes(be->bin_shift ? be->bins : 0, be->bin_cap, "bins", "BIN",
                          &size[NPU_B_BIN_COUNT], &size[NPU_B_BIN_EV], err);
    if (!rc)
        rc = stream_sizes(be->band_shift ? be->bands : 0, be->band_cap, "bands", "BAND",
                          &size[NPU_B_BAND_COUNT], &size[NPU_B_BAND_EV], err);
    if (rc)
        return rc;

    uint64_t range = lim->maxStorageBufferRange;
    uint64_t max_alloc = be->ctx.max_alloc ? be->ctx.max_alloc : UINT64_MAX;
    uint64_t cap = range < max_alloc ? range : max_alloc;
    uint64_t total = 0;
    for (int b = 0; b < N_DEVICE_BUFFERS; b++) {
        if (size[b] > cap)
            return npu_err_set(err, NPU_E_RESOURCE,
                               "vulkan: the %s buffer needs %llu bytes; %s allows %llu per "
                               "buffer (maxStorageBufferRange %llu, maxMemoryAllocationSize "
                               "%llu): %u neurons, %llu synapses is too big for this device",
                               buffer_names[b], (unsigned long long)size[b],
                               be->ctx.props.deviceName, (unsigned long long)cap,
                               (unsigned long long)range, (unsigned long long)max_alloc,
                               net->n_neurons, (unsigned long long)s);
        total += size[b];
    }

    /* Readback: the worst case of every neuron firing every burst. */
    uint64_t per_burst = 2 * n * 4 + 4 + 8;
    uint64_t batch;
    if (be->cfg.batch) {
        batch = be->cfg.batch;
        if (out_words(batch, n) * 4 > cap)
            return npu_err_set(err, NPU_E_RESOURCE,
                               "vulkan: --batch=%llu needs a %llu-byte readback buffer "
                               "(every neuron firing every burst); the device allows %llu",
                               (unsigned long long)batch,
                               (unsigned long long)(out_words(batch, n) * 4),
                               (unsigned long long)cap);
    } else {
        uint64_t budget = READBACK_BUDGET < cap ? READBACK_BUDGET : cap;
        batch = budget / per_burst;
        if (batch > MAX_AUTO_BATCH)
            batch = MAX_AUTO_BATCH;
        while (batch > 1 && out_words(batch, n) * 4 > cap)
            batch--;
        if (batch < 1)
            batch = 1;
        if (out_words(batch, n) * 4 > cap)
            return npu_err_set(err, NPU_E_RESOURCE,
                               "vulkan: one burst of %u neurons needs a %llu-byte readback "
                               "buffer; the device allows %llu", net->n_neurons,
                               (unsigned long long)(out_words(1, n) * 4),
                               (unsigned long long)cap);
    }
    be->batch = (uint32_t)batch;
    uint64_t readback = N_SLOTS * out_words(batch, n) * 4;
    uint64_t heap = device_local_heap(&be->ctx);
    if (total > heap)
        return npu_err_set(err, NPU_E_RESOURCE,
                           "vulkan: the network and state need %llu bytes of device memory; "
                           "the largest device-local heap of %s has %llu",
                           (unsigned long long)total, be->ctx.props.deviceName,
                           (unsigned long long)heap);
    if (be->cfg.max_device_bytes && total + readback > be->cfg.max_device_bytes)
        return npu_err_set(err, NPU_E_RESOURCE,
                           "vulkan: %llu bytes needed (network and state %llu, readback %llu "
                           "for batches of %llu); the limit is %llu",
                           (unsigned long long)(total + readback), (unsigned long long)total,
                           (unsigned long long)readback, (unsigned long long)batch,
                           (unsigned long long)be->cfg.max_device_bytes);
    return NPU_OK;
}

static int check_net(const struct npu_net *net, struct npu_err *err)
{
    /* the kernels' 32-bit synapse indices step past a row's end by up to
     * four strides of NPU_PROP_LANES before they compare */
    if (net->n_synapses > UINT32_MAX - 4 * NPU_PROP_LANES)
        return npu_err_set(err, NPU_E_RESOURCE,
                           "vulkan: %llu synapses: the backend takes at most %u",
                           (unsigned long long)net->n_synapses, UINT32_MAX - 4 * NPU_PROP_LANES);
    if (net->syn_off[net->n_neurons] != net->n_synapses)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: syn_off[n] = %u, not %llu",
                           net->syn_off[net->n_neurons],
                           (unsigned long long)net->n_synapses);
    for (uint32_t i = 0; i < net->n_neurons; i++)
        if (net->syn_off[i] > net->syn_off[i + 1] || net->area_of[i] >= net->n_areas)
            return npu_err_set(err, NPU_E_INTERNAL, "vulkan: bad CSR or area at neuron %u", i);
    for (uint64_t k = 0; k < net->n_synapses; k++)
        if ((net->syn_target[k] & NPU_SYN_TARGET_MASK) >= net->n_neurons)
            return npu_err_set(err, NPU_E_INTERNAL, "vulkan: synapse %llu targets %u of %u",
                               (unsigned long long)k, net->syn_target[k] & NPU_SYN_TARGET_MASK,
                               net->n_neurons);
    return NPU_OK;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

/* The most loop iterations one invocation of each kernel can run on this
 * network with the chosen grids, every neuron firing (the worst case):
 * fill.comp without its stimuli (the compaction's blocks, the candidate
 * clear, the sparse or the dense propagation of rows of up to max_deg
 * synapses), and dyn.comp.  Only for llvmpipe (LLVMPIPE_LOOP_LIMIT). */
static int check_loop_limit(struct vk_backend *be, const struct npu_net *net,
                            struct npu_err *err)
{
    uint64_t n = net->n_neurons, max_deg = 0, syn = net->n_synapses;
    for (uint32_t s = 0; s < net->n_neurons; s++)
        max_deg = npu_net_outdeg(net, s) > max_deg ? npu_net_outdeg(net, s) : max_deg;
    uint64_t fg = be->fill_groups, blocks = be->fire_blocks;
    uint64_t compact = ceil_div(blocks, fg) * (6 + 32 + NPU_FIRE_BLOCK / NPU_WG + 2);
    uint64_t clear = ceil_div(ceil_div(n, 32), fg * NPU_WG);
    /* r rows of one lane group (or thread), of at most max_deg and in all
     * at most syn synapses: loop iterations of `per` synapses each */
#define ROWS_ITERS(r, per) (2 * (r) + ceil_div((r) * max_deg < syn ? (r) * max_deg : syn, (per)))
    uint64_t lanes_per_group = NPU_WG / NPU_PROP_LANES;
    uint64_t rows = ceil_div(n, fg * lanes_per_group);
    uint64_t sparse = ROWS_ITERS(rows, NPU_PROP_LANES);
    rows = ceil_div(n, fg * NPU_WG);
    uint64_t dense = ROWS_ITERS(rows, 1);
    be->fill_iters = compact + clear + (sparse > dense ? sparse : dense);
    /* dyn.comp's passes, NPU_DYN_UNROLL at a time in seven loops of as many
     * (counted as loops, in case the driver does not unroll them), one of
     * them over up to NPU_DYN_RANGES ranges each */
    uint64_t dyn = ceil_div(n, (uint64_t)be->dyn_groups * NPU_WG * NPU_DYN_UNROLL) *
                       (1 + (7 + NPU_DYN_RANGES) * NPU_DYN_UNROLL) +
                   2 * ceil_div(blocks, NPU_WG) + 12;
    /* bins.comp: per bin, its count, the clear, its events (the bin full
     * at worst) and the sums' and marks' writes */
    uint64_t bins = 0;
    if (be->bin_shift) {
        uint64_t size = UINT64_C(1) << be->bin_shift;
        bins = ceil_div(be->bins, be->bin_groups) *
               (1 + ceil_div(be->bin_cap, be->pipes.bin_wg) + 4 * ceil_div(size, be->pipes.bin_wg));
    }
    if (bins > dyn)
        dyn = bins;
    /* spread.comp: per batch, the serial prefix over the bands, the
     * write-out and the search for the next row, for rows of up to max_deg
     * synapses; split.comp: per band, the band full at worst, the same per
     * batch over the band's bins */
    if (be->band_shift) {
        uint64_t rwg = be->pipes.route_wg, rg = be->route_groups;
        uint64_t per = UINT64_C(1) << (be->band_shift - be->bin_shift);
        uint64_t lanes = rwg / NPU_PROP_LANES, slice = NPU_ROUTE_UNROLL * NPU_PROP_LANES;
        rows = ceil_div(n, rg * lanes);
        uint64_t spread = ROWS_ITERS(rows, slice) * (ceil_div(be->bands, 8) + NPU_ROUTE_UNROLL + 3);
        uint64_t split = be->bands * (1 + ceil_div(ceil_div(be->band_cap, rwg * NPU_ROUTE_UNROLL),
                                                   rg) * (ceil_div(per, 8) + NPU_ROUTE_UNROLL + 2));
        uint64_t route = spread > split ? spread : split;
        if (route > dyn)
            dyn = route;
    }
#undef ROWS_ITERS
    if (be->fill_iters > LLVMPIPE_LOOP_LIMIT || dyn > LLVMPIPE_LOOP_LIMIT)
        return npu_err_set(err, NPU_E_RESOURCE,
                           "vulkan: %s stops any shader loop after 65535 iterations, and with "
                           "%u neurons (rows of up to %llu synapses) on grids of %u, %u and %u "
                           "workgroups one invocation could need %llu: too big for this device "
                           "(use a GPU or --backend=cpu)", be->ctx.props.deviceName,
                           net->n_neurons, (unsigned long long)max_deg, be->fill_groups,
                           be->dyn_groups, be->route_groups,
                           (unsigned long long)(be->fill_iters > dyn ? be->fill_iters : dyn));
    return NPU_OK;
}

/* Two-level binning on top of the bins, where chosen: bands of 2^s
 * targets, s the smallest that leaves a level no more destinations than
 * route() takes (a thread each, NPU_ROUTE_MAX_DEST at most) from the
 * knob's shift or, by default, from the one that makes bands and bins per
 * band about the same number. */
static int choose_bands(struct vk_backend *be, const struct npu_net *net, bool bands_ok,
                        struct npu_err *err)
{
    be->band_shift = 0;
    be->band_cap = 0;
    be->bands = 0;
    if (!be->bin_shift || !net->n_neurons || be->bands_force < 0 ||
        (be->bands_force == 0 && (!bands_ok || be->bins < BANDS_MIN_BINS)))
        return NPU_OK;
    uint32_t dmax = be->pipes.route_wg < NPU_ROUTE_MAX_DEST ? be->pipes.route_wg
                                                            : NPU_ROUTE_MAX_DEST;
    uint32_t s = be->band_shift_knob;
    if (!s) {
        uint32_t lg = 0;
        while ((UINT64_C(1) << lg) < be->bins)
            lg++;
        s = be->bin_shift + (lg + 1) / 2;
    }
    if (s <= be->bin_shift)
        s = be->bin_shift + 1;
    while (s < 31 && ((uint64_t)net->n_neurons + (UINT64_C(1) << s) - 1) >> s > dmax)
        s++;
    if ((UINT64_C(1) << (s - be->bin_shift)) > dmax) {
        if (be->bands_force == 0)
            return NPU_OK;
        return npu_err_set(err, NPU_E_RESOURCE,
                           "NPUSIM_VK_BANDS=on: %u neurons in bins of %u targets need bands "
                           "of 2^%u targets, whose %llu bins each are more than the %u a band "
                           "can split into (use larger bins or NPUSIM_VK_BANDS=off)",
                           net->n_neurons, 1u << be->bin_shift, s,
                           (unsigned long long)(UINT64_C(1) << (s - be->bin_shift)), dmax);
    }
    be->band_shift = s;
    uint64_t cap = (uint64_t)BIN_EVENTS_PER_TARGET << s;
    be->band_cap = be->band_cap_knob ? be->band_cap_knob
                                     : (uint32_t)(cap < UINT32_MAX ? cap : UINT32_MAX);
    be->bands = (uint32_t)(((uint64_t)net->n_neurons + (UINT64_C(1) << s) - 1) >> s);
    return NPU_OK;
}

/* How the synaptic input is summed on the device: binned (where allowed
 * and chosen, in one or two levels), in tagged 32-bit units, or in the
 * int64 FCL alone. */
static int choose_sums(struct vk_backend *be, const struct npu_net *net, bool bins_ok,
                       bool bands_ok, struct npu_err *err)
{
    int rc;
    be->bin_shift = 0;
    be->bin_cap = 0;
    be->bins = 0;
    if (be->bins_force > 0 ||
        (be->bins_force == 0 && bins_ok && net->n_neurons >= be->bins_from)) {
        be->bin_shift = be->bin_shift_knob ? be->bin_shift_knob : be->pipes.bin_max_shift;
        be->bin_cap = be->bin_cap_knob ? be->bin_cap_knob
                                       : BIN_EVENTS_PER_TARGET << be->bin_shift;
        be->bins = (uint32_t)(((uint64_t)net->n_neurons + (1u << be->bin_shift) - 1) >>
                              be->bin_shift);
    }
    rc = choose_bands(be, net, bands_ok, err);
    if (rc)
        return rc;
    /* Tagged 32-bit sums for the undivided synaptic input where the network
     * allows them: one atomic per synaptic event instead of an add and a
     * candidate mark, into half the bytes (npu_fx_units_tag_shift).  The
     * bound is a pass over the synapses (about 0.3 s at 100M).  Binned
     * events carry their contribution, so the units are not used with them. */
    be->units_k = 0;
    if (!be->bin_shift &&
        (be->units_force > 0 || (be->units_force == 0 && net->n_neurons <= UNITS_MAX_NEURONS))) {
        struct npu_units_bound ub;
        rc = npu_net_units_bound(net, &ub, err);
        if (rc)
            return rc;
        be->units_k = npu_fx_units_tag_shift(&ub);
    }
    return NPU_OK;
}

static int vk_upload(struct npu_backend *be_, const struct npu_net *net,
                     const struct npu_run_params *params, struct npu_err *err)
{
    struct vk_backend *be = to_vk(be_);
    struct npu_vk_ctx *ctx = &be->ctx;
    uint64_t size[N_DEVICE_BUFFERS];
    struct npu_gpu_area *areas = NULL;
    int rc;

    if (be->in_flight)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: upload with batches in flight");
    free_device_buffers(be);
    rc = check_net(net, err);
    if (rc)
        return rc;

    be->n = net->n_neurons;
    int64_t power_q = params ? params->power_q : 0;
    /* Power (step 4) is a range with every neuron of each power area, added
     * to every burst's ranges; the stimulus kernel expands it. */
    free(be->power);
    be->power = calloc(net->n_areas ? net->n_areas : 1, sizeof(*be->power));
    be->n_areas = net->n_areas;
    be->reset_idle = false;
    be->area_cache = !be->no_area_cache && net->n_areas <= NPU_WG ? net->n_areas : 0;
    areas = calloc(net->n_areas ? net->n_areas : 1, sizeof(*areas));
    if (!areas || !be->power) {
        rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        goto error;
    }
    be->n_power = 0;
    /* Rows of areas whose synapses share one weight and psp do not read
     * SYN_WP (fire_info carries it), so a network of only such areas gets
     * none: 2 of its 6 bytes per synapse. */
    be->syn_wp = false;
    for (uint32_t a = 0; a < net->n_areas; a++) {
        const struct npu_area *ar = &net->areas[a];
        uint32_t flags = (ar->has_limit ? NPU_AF_LIMIT : 0) |
                         (ar->accumulate ? NPU_AF_ACCUMULATE : 0) |
                         (ar->mp_driven_psp ? NPU_AF_MP_PSP : 0) |
                         (ar->psp_uniform ? NPU_AF_UNIFORM : 0);
        uint16_t wp = 0;
        if (npu_net_area_wp(net, a, &wp))
            flags |= NPU_AF_CONST_WP;
        else if (net->syn_off[ar->base] != net->syn_off[ar->base + ar->count])
            be->syn_wp = true;
        areas[a] = (struct npu_gpu_area){
            .threshold = ar->threshold,
            .threshold_limit = ar->threshold_limit,
            .keep = ar->keep,
            .excitability = ar->excitability,
            .refractory_cfl = ar->refractory | (uint32_t)ar->cfl << 16,
            .snooze_flags = ar->snooze | flags << 16,
            .wp_const = wp,
        };
        be->reset_idle |= !ar->accumulate && ar->count > 0;
        if (ar->power && power_q != 0 && ar->count > 0)
            be->power[be->n_power++] = (struct npu_inject_range){
                .first = ar->base, .count = ar->count, .all = 1, .q = power_q,
            };
    }

    /* The bins and bands are speed-ups: where the layout with them does
     * not fit the device (or max_device_bytes) but one with fewer levels
     * does, the automatic choice drops them, the bands first.  Forced
     * bands keep the bins they need. */
    bool bins_ok = true, bands_ok = true;
    for (;;) {
        rc = choose_sums(be, net, bins_ok, bands_ok, err);
        if (!rc)
            rc = plan(be, net, size, err);
        if (rc == NPU_E_RESOURCE && be->band_shift && be->bands_force == 0)
            bands_ok = false;
        else if (rc == NPU_E_RESOURCE && be->bin_shift && be->bins_force == 0 &&
                 be->bands_force <= 0)
            bins_ok = false;
        else
            break;
        memset(err, 0, sizeof(*err));
    }
    if (rc)
        goto error;
    for (int b = 0; b < N_DEVICE_BUFFERS; b++) {
        rc = npu_vk_buf_create(ctx, &be->buf[b], size[b], NPU_VK_DEVICE, err);
        if (rc)
            goto error;
    }
    for (int s = 0; s < N_SLOTS; s++) {
        rc = npu_vk_buf_create(ctx, &be->slot[s].inject, INITIAL_INJECT_WORDS * 4,
                               NPU_VK_HOST, err);
        if (!rc)
            rc = npu_vk_buf_create(ctx, &be->slot[s].inject_dev, INITIAL_INJECT_WORDS * 4,
                                   NPU_VK_DEVICE, err);
        if (!rc)
            rc = npu_vk_buf_create(ctx, &be->slot[s].out, out_words(be->batch, be->n) * 4,
                                   NPU_VK_HOST, err);
        if (rc)
            goto error;
        free(be->slot[s].stim);
        be->slot[s].stim = calloc(be->batch, sizeof(struct vk_stim));
        if (!be->slot[s].stim) {
            rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory");
            goto error;
        }
        update_set(be, &be->slot[s]);
    }

    free_queries(be);
    if (be->timestamps) {
        /* start, end; with profiling one after every dispatch (at most 5
         * per burst plus the closing compaction) */
        be->max_queries = be->profile ? 2 + 6 * be->batch : 2;
        be->qres = calloc(be->max_queries, sizeof(*be->qres));
        if (!be->qres) {
            rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory");
            goto error;
        }
        for (int s = 0; s < N_SLOTS; s++) {
            const VkQueryPoolCreateInfo qinfo = {
                .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                .queryType = VK_QUERY_TYPE_TIMESTAMP,
                .queryCount = be->max_queries,
            };
            VK_CHECK(ctx->vk.CreateQueryPool(ctx->device, &qinfo, NULL, &be->slot[s].qpool));
            be->slot[s].qlabel = calloc(be->max_queries, 1);
            if (!be->slot[s].qlabel) {
                rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory");
                goto error;
            }
        }
    }
    be->device_ns = 0;
    memset(be->kernel_ns, 0, sizeof(be->kernel_ns));
    memset(be->kernel_runs, 0, sizeof(be->kernel_runs));
    be->batches = be->bursts = 0;

    /* uint16 arrays are uploaded as they lie in memory: two per 32-bit word,
     * the even index in the low half (little-endian hosts and devices). */
    rc = npu_vk_buf_write(ctx, &be->buf[NPU_B_AREA], areas, size[NPU_B_AREA], err);
    if (!rc)
        rc = npu_vk_buf_write(ctx, &be->buf[NPU_B_AREA_OF], net->area_of,
                              (uint64_t)net->n_neurons * 2, err);
    if (!rc)
        rc = npu_vk_buf_write(ctx, &be->buf[NPU_B_SYN_OFF], net->syn_off,
                              size[NPU_B_SYN_OFF], err);
    if (!rc)
        rc = npu_vk_buf_write(ctx, &be->buf[NPU_B_SYN_TGT], net->syn_target,
                              size[NPU_B_SYN_TGT], err);
    if (!rc && be->syn_wp)
        rc = npu_vk_buf_write(ctx, &be->buf[NPU_B_SYN_WP], net->syn_wp,
                              net->n_synapses * 2, err);
    for (int b = NPU_B_MP; !rc && b <= NPU_B_BLOCK; b++)
        rc = npu_vk_buf_fill(ctx, &be->buf[b], 0, err);
    for (int b = NPU_B_UNITS; !rc && b <= NPU_B_BIN_COUNT; b++)
        rc = npu_vk_buf_fill(ctx, &be->buf[b], 0, err);
    if (!rc)
        rc = npu_vk_buf_fill(ctx, &be->buf[NPU_B_BAND_COUNT], 0, err);
    if (rc)
        goto error;

    /* Zero counts: burst 1 has nothing to propagate. */
    const uint32_t ctl[NPU_CTL_WORDS] = { 0 };
    rc = npu_vk_buf_write(ctx, &be->buf[NPU_B_CTL], ctl, sizeof(ctl), err);
    if (rc)
        goto error;
    be->fire_blocks = (uint32_t)((net->n_neurons + (uint64_t)NPU_FIRE_BLOCK - 1) / NPU_FIRE_BLOCK);
    uint32_t dg = (uint32_t)(((uint64_t)net->n_neurons + NPU_WG - 1) / NPU_WG);
    be->dyn_groups = dg < be->dyn_groups_max ? (dg ? dg : 1) : be->dyn_groups_max;
    uint32_t fg = (uint32_t)(((uint64_t)net->n_neurons + FILL_NEURONS_PER_GROUP - 1) /
                             FILL_NEURONS_PER_GROUP);
    be->fill_groups = fg < be->fill_groups_max ? (fg ? fg : 1) : be->fill_groups_max;
    be->bin_groups = be->bins < be->bin_groups_max ? be->bins : be->bin_groups_max;
    /* DEFAULT_ROUTE_GROUPS, or one per ROUTE_NEURONS_PER_GROUP if fewer */
    uint32_t rg = (uint32_t)(((uint64_t)net->n_neurons + ROUTE_NEURONS_PER_GROUP - 1) /
                             ROUTE_NEURONS_PER_GROUP);
    be->route_groups = rg < be->route_groups_max ? (rg ? rg : 1) : be->route_groups_max;
    be->next_burst = 1;
    be->loop_limited = be->ctx.props.vendorID == VK_VENDOR_ID_MESA &&
                       strstr(be->ctx.props.deviceName, "llvmpipe") != NULL;
    if (be->loop_limited) {
        rc = check_loop_limit(be, net, err);
        if (rc)
            goto error;
    }
    be->uploaded = true;
    free(areas);
    return NPU_OK;
error:
    free(areas);
    free_device_buffers(be);
    return rc;
}

static uint32_t vk_max_batch(struct npu_backend *be)
{
    return to_vk(be)->batch ? to_vk(be)->batch : 1;
}

static void barrier(struct npu_vk_ctx *ctx, VkCommandBuffer cb)
{
    const VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
    };
    ctx->vk.CmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                               VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}

static void dispatch(struct vk_backend *be, VkCommandBuffer cb, enum npu_vk_kernel k,
                     const struct npu_gpu_push *pc, uint32_t groups)
{
    const struct npu_vk_fn *vk = &be->ctx.vk;
    vk->CmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, be->pipes.pipe[k]);
    vk->CmdPushConstants(cb, be->pipes.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(*pc), pc);
    vk->CmdDispatch(cb, groups, 1, 1);
}

static struct npu_gpu_push push_for(const struct vk_backend *be, uint32_t first_burst,
                                    uint32_t j, uint32_t batch)
{
    uint32_t b = first_burst + j;
    return (struct npu_gpu_push){
        .n = be->n,
        .burst = b,
        .parity = b & 1u,
        .j = j,
        .ids_base = batch + 1,
        .mp_base = batch + 1 + batch * be->n,
        .events_base = (uint32_t)out_events_base(batch, be->n),
        .cand_bits = be->cand_bits,
        .units_k = be->units_k,
        .reset_idle = be->reset_idle,
        .prop_ratio = be->prop_ratio,
        .dyn_ratio = be->dyn_ratio,
        .group_cap = be->group_cap,
        .area_cache = be->area_cache,
        .bin_shift = be->bin_shift,
        .bin_cap = be->bin_cap,
        .band_shift = be->band_shift,
        .band_cap = be->band_cap,
    };
}

/* A timestamp once everything recorded before it has finished; label says
 * what ran since the previous one.  Profiling puts a barrier and a
 * timestamp after every dispatch; otherwise only the batch's start and
 * end are stamped. */
static void stamp(struct vk_backend *be, struct vk_slot *sl, unsigned label)
{
    if (!sl->qpool || sl->n_queries >= be->max_queries)
        return;
    if (label < L_COUNT && !be->profile)
        return;
    if (label < L_COUNT)
        barrier(&be->ctx, sl->cb);
    sl->qlabel[sl->n_queries] = (uint8_t)label;
    be->ctx.vk.CmdWriteTimestamp(sl->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, sl->qpool,
                                 sl->n_queries++);
}

/* A dispatch of kernel k, then, when profiling, its timestamp. */
static void run_kernel(struct vk_backend *be, struct vk_slot *sl, enum npu_vk_kernel k,
                       const struct npu_gpu_push *pc, uint32_t groups, unsigned label)
{
    dispatch(be, sl->cb, k, pc, groups);
    stamp(be, sl, label);
}

/* fill.comp with the given parts; profiling runs each part as a dispatch
 * of its own, with its own timestamp. */
static void fill(struct vk_backend *be, struct vk_slot *sl, struct npu_gpu_push *pc,
                 uint32_t phases)
{
    static const struct { uint32_t phase; unsigned label; } parts[] = {
        { NPU_FILL_COMPACT, L_COMPACT },
        { NPU_FILL_STIMULI, L_STIMULI },
        { NPU_FILL_PROPAGATE, L_PROPAGATE },
    };
    if (!be->profile) {
        pc->phases = phases;
        dispatch(be, sl->cb, NPU_K_FILL, pc, be->fill_groups);
        return;
    }
    for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++)
        if (phases & parts[k].phase) {
            pc->phases = parts[k].phase;
            dispatch(be, sl->cb, NPU_K_FILL, pc, be->fill_groups);
            stamp(be, sl, parts[k].label);
        }
}

static void copy_inject(struct vk_backend *be, struct vk_slot *sl, VkCommandBuffer cb)
{
    if (!sl->inject_bytes)
        return;
    const VkBufferCopy region = { .srcOffset = 0, .dstOffset = 0, .size = sl->inject_bytes };
    be->ctx.vk.CmdCopyBuffer(cb, sl->inject.buf, sl->inject_dev.buf, 1, &region);
}

/* Records bursts first_burst .. first_burst+count-1 (see docs/vulkan.md). */
static void record_batch(struct vk_backend *be, struct vk_slot *sl,
                         const struct npu_inject *in)
{
    const struct npu_vk_fn *vk = &be->ctx.vk;
    VkCommandBuffer cb = sl->cb;
    uint32_t batch = be->batch;

    /* Makes the previous submission's device writes visible to this one. */
    const VkMemoryBarrier top = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT,
    };
    sl->n_queries = 0;
    if (sl->qpool)
        vk->CmdResetQueryPool(cb, sl->qpool, 0, be->max_queries);
    /* The kernels read the stimuli from device memory: one copy per batch
     * (the top barrier below orders it before them). */
    copy_inject(be, sl, cb);
    vk->CmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                           VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1, &top, 0, NULL, 0, NULL);
    stamp(be, sl, TS_START);
    vk->CmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, be->pipes.layout, 0, 1,
                              &sl->set, 0, NULL);
    /* Two dispatches and two barriers per burst: fill (compaction of b-1
     * next to the stimuli and propagation of b: disjoint writes, the FCL
     * adds are atomics), then the dynamics of b with the setup of b+1.
     * Binned propagation puts the bins' sums between the two (three). */
    for (uint32_t j = 0; j < in->count; j++) {
        struct npu_gpu_push pc = push_for(be, in->first_burst, j, batch);
        const struct vk_stim *st = &sl->stim[j];
        pc.inject_off = st->inject_off;
        pc.inject_count = st->inject_count;
        pc.range_base = sl->range_base;
        pc.range_off = st->range_off;
        pc.range_count = st->range_count;
        pc.dyn_ranges = st->dyn_ranges;
        pc.stim_total = st->total;
        pc.compact_j = j - 1;
        fill(be, sl, &pc, (j > 0 ? NPU_FILL_COMPACT : 0) |
                              (st->total ? NPU_FILL_STIMULI : 0) | NPU_FILL_PROPAGATE);
        if (be->band_shift) {
            /* next to the fill: it does the dense case, this the sparse one */
            run_kernel(be, sl, NPU_K_SPREAD, &pc, be->route_groups, L_SPREAD);
            barrier(&be->ctx, cb);
            run_kernel(be, sl, NPU_K_SPLIT, &pc, be->route_groups, L_SPLIT);
        }
        barrier(&be->ctx, cb);
        if (be->bin_shift) {
            run_kernel(be, sl, NPU_K_BINS, &pc, be->bin_groups, L_BINS);
            barrier(&be->ctx, cb);
        }
        run_kernel(be, sl, NPU_K_DYN, &pc, be->dyn_groups, L_DYN);
        barrier(&be->ctx, cb);
    }
    struct npu_gpu_push last = push_for(be, in->first_burst, in->count - 1, batch);
    last.compact_j = in->count - 1;
    fill(be, sl, &last, NPU_FILL_COMPACT);
    stamp(be, sl, TS_BATCH);
    const VkMemoryBarrier to_host = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    vk->CmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                           0, 1, &to_host, 0, NULL, 0, NULL);
}

/* Grows one of the slot's host-visible buffers to hold `words` words. */
static int ensure_host(struct vk_backend *be, struct vk_slot *sl, struct npu_vk_buf *buf,
                       uint64_t words, struct npu_err *err)
{
    if (words * 4 <= buf->size)
        return NPU_OK;
    uint64_t want = buf->size;
    while (want < words * 4)
        want *= 2;
    uint64_t cap = be->ctx.props.limits.maxStorageBufferRange;
    if (want > cap)
        want = words * 4;
    if (want > cap)
        return npu_err_set(err, NPU_E_RESOURCE,
                           "vulkan: a batch's stimuli need %llu bytes; the device allows %llu "
                           "per buffer (use a smaller --batch)",
                           (unsigned long long)(words * 4), (unsigned long long)cap);
    npu_vk_buf_destroy(&be->ctx, buf);
    int rc = npu_vk_buf_create(&be->ctx, buf, want, NPU_VK_HOST, err);
    if (rc)
        return rc;
    if (buf == &sl->inject) { /* and its device-local copy, the same size */
        npu_vk_buf_destroy(&be->ctx, &sl->inject_dev);
        rc = npu_vk_buf_create(&be->ctx, &sl->inject_dev, want, NPU_VK_DEVICE, err);
        if (rc)
            return rc;
    }
    update_set(be, sl);
    return NPU_OK;
}

static int bad_range(const struct vk_backend *be, const struct npu_inject_range *r,
                     struct npu_err *err)
{
    return npu_err_set(err, NPU_E_INTERNAL, "vulkan: range stimulus [%u, +%u) of %u neurons",
                       r->first, r->count, be->n);
}

/* Fills the slot's INJECT buffer: the batch's explicit entries, then its
 * ranges with each burst's power ranges appended, and where each burst's
 * part is.  O(entries + ranges): the kernel expands the ranges. */
static int write_stimuli(struct vk_backend *be, struct vk_slot *sl, const struct npu_inject *in,
                         struct npu_err *err)
{
    uint64_t n_stim = in->off[in->count] - in->off[0];
    uint64_t n_ranges = (uint64_t)be->n_power * in->count;
    if (in->range_off)
        n_ranges += in->range_off[in->count] - in->range_off[0];
    uint64_t range_base = 3 * n_stim;
    int rc = ensure_host(be, sl, &sl->inject, range_base + NPU_RANGE_WORDS * n_ranges, err);
    if (rc)
        return rc;
    if (range_base > UINT32_MAX)
        return npu_err_set(err, NPU_E_RESOURCE, "vulkan: too many stimuli in one batch");
    uint32_t *w = sl->inject.map;
    for (uint64_t k = 0; k < n_stim; k++) {
        uint32_t id = in->id[in->off[0] + k];
        if (id >= be->n)
            return npu_err_set(err, NPU_E_INTERNAL, "vulkan: stimulus for neuron %u of %u",
                               id, be->n);
        uint64_t q = (uint64_t)in->q[in->off[0] + k];
        w[3 * k] = id;
        w[3 * k + 1] = (uint32_t)q;
        w[3 * k + 2] = (uint32_t)(q >> 32);
    }
    sl->range_base = (uint32_t)range_base;
    sl->inject_bytes = (range_base + NPU_RANGE_WORDS * n_ranges) * 4;
    uint32_t *rw = w + range_base;
    uint32_t nr = 0;
    for (uint32_t j = 0; j < in->count; j++) {
        struct vk_stim *st = &sl->stim[j];
        st->inject_off = in->off[j] - in->off[0];
        st->inject_count = in->off[j + 1] - in->off[j];
        st->range_off = nr;
        uint64_t total = st->inject_count;
        uint32_t g0 = in->range_off ? in->range_off[j] : 0;
        uint32_t g1 = in->range_off ? in->range_off[j + 1] : 0;
        for (uint32_t g = g0; g < g1 + be->n_power; g++) {
            const struct npu_inject_range *r = g < g1 ? &in->ranges[g] : &be->power[g - g1];
            if (r->first > be->n || r->count > be->n - r->first)
                return bad_range(be, r, err);
            if (r->count == 0 || (!r->all && r->threshold == 0))
                continue; /* picks nothing */
            uint32_t *d = rw + (size_t)nr * NPU_RANGE_WORDS;
            d[NPU_RANGE_FIRST] = r->first;
            d[NPU_RANGE_COUNT] = r->count;
            d[NPU_RANGE_KEY] = r->key;
            d[NPU_RANGE_THRESHOLD] = r->threshold;
            d[NPU_RANGE_ALL] = r->all ? 1u : 0u;
            d[NPU_RANGE_Q_LO] = (uint32_t)(uint64_t)r->q;
            d[NPU_RANGE_Q_HI] = (uint32_t)((uint64_t)r->q >> 32);
            d[NPU_RANGE_VSTART] = (uint32_t)total;
            total += r->count;
            nr++;
            if (total > UINT32_MAX)
                return npu_err_set(err, NPU_E_RESOURCE, "vulkan: burst %u stimulates more than "
                                   "2^32 neurons (use fewer overlapping stimuli)",
                                   in->first_burst + j);
        }
        st->range_count = nr - st->range_off;
        /* few ranges: the dynamics apply them, and the fill only the
         * explicit entries */
        st->dyn_ranges = st->range_count <= be->dyn_ranges_max ? st->range_count : 0;
        if (st->dyn_ranges)
            total = st->inject_count;
        st->total = (uint32_t)total;
        if (be->loop_limited) {
            /* the stimuli's loop, with its search over the ranges */
            uint64_t search = 1;
            while ((UINT64_C(1) << search) <= st->range_count)
                search++;
            uint64_t it = be->fill_iters + ceil_div(total, (uint64_t)be->fill_groups * NPU_WG) *
                                               (1 + search);
            if (it > LLVMPIPE_LOOP_LIMIT)
                return npu_err_set(err, NPU_E_RESOURCE,
                                   "vulkan: %s stops any shader loop after 65535 iterations, "
                                   "and burst %u's %llu stimuli could need %llu in one "
                                   "invocation: too many for this device (use a GPU or "
                                   "--backend=cpu)", be->ctx.props.deviceName,
                                   in->first_burst + j, (unsigned long long)total,
                                   (unsigned long long)it);
        }
    }
    return NPU_OK;
}

static int vk_submit(struct npu_backend *be_, const struct npu_inject *in, struct npu_err *err)
{
    struct vk_backend *be = to_vk(be_);
    struct npu_vk_ctx *ctx = &be->ctx;
    int rc;
    if (!be->uploaded)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: submit before upload");
    if (be->in_flight >= N_SLOTS)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: %u batches already in flight",
                           be->in_flight);
    if (in->count < 1 || in->count > be->batch)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: batch of %u bursts (1..%u allowed)",
                           in->count, be->batch);
    if (in->first_burst != be->next_burst)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: batch starts at burst %u, expected %u",
                           in->first_burst, be->next_burst);
    struct vk_slot *sl = &be->slot[(be->head + be->in_flight) % N_SLOTS];

    rc = write_stimuli(be, sl, in, err);
    if (rc)
        return rc;
    ((uint32_t *)sl->out.map)[0] = 0; /* off[0]; the dynamics' setup writes the rest */

    VK_CHECK(ctx->vk.ResetCommandBuffer(sl->cb, 0));
    const VkCommandBufferBeginInfo binfo = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VK_CHECK(ctx->vk.BeginCommandBuffer(sl->cb, &binfo));
    record_batch(be, sl, in);
    VK_CHECK(ctx->vk.EndCommandBuffer(sl->cb));
    VK_CHECK(ctx->vk.ResetFences(ctx->device, 1, &sl->fence));
    const VkSubmitInfo sinfo = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &sl->cb,
    };
    VK_CHECK(ctx->vk.QueueSubmit(ctx->queue, 1, &sinfo, sl->fence));
    sl->first_burst = in->first_burst;
    sl->count = in->count;
    be->in_flight++;
    be->next_burst += in->count;
    return npu_vk_ctx_check_messages(ctx, err);
error:
    return rc;
}

static int vk_collect(struct npu_backend *be_, struct npu_fires *out, struct npu_err *err)
{
    struct vk_backend *be = to_vk(be_);
    struct npu_vk_ctx *ctx = &be->ctx;
    int rc;
    memset(out, 0, sizeof(*out));
    if (!be->in_flight)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: collect with nothing submitted");
    struct vk_slot *sl = &be->slot[be->head];
    VkResult r = ctx->vk.WaitForFences(ctx->device, 1, &sl->fence, VK_TRUE,
                                       NPU_VK_FENCE_TIMEOUT_NS);
    if (r == VK_TIMEOUT)
        return npu_err_set(err, NPU_E_DEVICE,
                           "vulkan: bursts %u..%u did not finish within %llu s (device hung?)",
                           sl->first_burst, sl->first_burst + sl->count - 1,
                           (unsigned long long)(NPU_VK_FENCE_TIMEOUT_NS / 1000000000u));
    VK_CHECK(r);
    be->head = (be->head + 1) % N_SLOTS;
    be->in_flight--;
    rc = npu_vk_ctx_check_messages(ctx, err);
    if (rc)
        return rc;

    if (sl->n_queries >= 2) {
        VK_CHECK(ctx->vk.GetQueryPoolResults(ctx->device, sl->qpool, 0, sl->n_queries,
                                             sl->n_queries * sizeof(uint64_t), be->qres,
                                             sizeof(uint64_t), VK_QUERY_RESULT_64_BIT |
                                             VK_QUERY_RESULT_WAIT_BIT));
        uint64_t mask = ctx->timestamp_bits >= 64 ? UINT64_MAX
                                                  : (UINT64_C(1) << ctx->timestamp_bits) - 1;
        double period = ctx->props.limits.timestampPeriod;
        for (uint32_t q = 1; q < sl->n_queries; q++) {
            double ns = (double)((be->qres[q] - be->qres[q - 1]) & mask) * period;
            if (sl->qlabel[q] < L_COUNT) {
                be->kernel_ns[sl->qlabel[q]] += ns;
                be->kernel_runs[sl->qlabel[q]]++;
            }
        }
        be->device_ns += (double)((be->qres[sl->n_queries - 1] - be->qres[0]) & mask) * period;
    }
    be->batches++;
    be->bursts += sl->count;

    /* The device wrote each burst's fires in ascending id order (ordered
     * compaction), so they are returned in place, in the mapped readback
     * buffer (host-cached where the device has such memory); this pass only
     * checks them. */
    const uint32_t *w = sl->out.map;
    uint32_t count = sl->count;
    const uint32_t *ids = w + be->batch + 1;
    const uint32_t *mps = ids + (uint64_t)be->batch * be->n;
    if (w[0] != 0 || w[count] > (uint64_t)count * be->n)
        return npu_err_set(err, NPU_E_DEVICE, "vulkan: the device reported %u fires in %u "
                           "bursts of %u neurons", w[count], count, be->n);
    for (uint32_t j = 0; j < count; j++) {
        uint32_t a = w[j], e = w[j + 1];
        if (a > e)
            return npu_err_set(err, NPU_E_DEVICE, "vulkan: corrupt fire offsets in burst %u",
                               sl->first_burst + j);
        uint32_t prev = 0;
        for (uint32_t k = a; k < e; k++) {
            uint32_t id = ids[k];
            if (id >= be->n || (k > a && id <= prev))
                return npu_err_set(err, NPU_E_DEVICE,
                                   "vulkan: burst %u: fire list holds neuron %u out of order, "
                                   "twice or out of range", sl->first_burst + j, id);
            prev = id;
        }
    }
    out->first_burst = sl->first_burst;
    out->count = count;
    out->off = w;
    out->id = ids;
    out->mp = (const float *)(const void *)mps;
    out->events = (const uint64_t *)(const void *)(w + out_events_base(be->batch, be->n));
    return NPU_OK;
error:
    return rc;
}

/* The probes' mp: only the id span they cover is read back, instead of
 * the whole state.  The stored mp is the CPU's: the dynamics zero the idle
 * neurons of areas that do not accumulate (dyn.comp). */
static int vk_read_mp(struct npu_backend *be_, const uint32_t *ids, uint32_t n, float *out,
                      struct npu_err *err)
{
    struct vk_backend *be = to_vk(be_);
    if (be->in_flight)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: read_mp with batches in flight");
    if (n == 0)
        return NPU_OK;
    uint32_t lo = ids[0], hi = ids[0];
    for (uint32_t k = 1; k < n; k++) {
        lo = ids[k] < lo ? ids[k] : lo;
        hi = ids[k] > hi ? ids[k] : hi;
    }
    if (hi >= be->n)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: probe %u is not a neuron", hi);
    size_t span = (size_t)hi - lo + 1;
    float *mp = malloc(span * sizeof(*mp));
    int rc = mp ? NPU_OK : npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    if (!rc)
        rc = npu_vk_buf_read(&be->ctx, &be->buf[NPU_B_MP], (VkDeviceSize)lo * 4, mp, span * 4, err);
    for (uint32_t k = 0; !rc && k < n; k++)
        out[k] = mp[ids[k] - lo];
    free(mp);
    return rc;
}

static int vk_read_state(struct npu_backend *be_, struct npu_state *out, struct npu_err *err)
{
    struct vk_backend *be = to_vk(be_);
    if (be->in_flight)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: read_state with batches in flight");
    if (!be->uploaded)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: read_state before upload");
    int rc = npu_state_alloc(out, be->n, err);
    if (rc)
        return rc;
    uint32_t *cc = malloc((be->n ? be->n : 1) * sizeof(*cc));
    if (!cc) {
        npu_state_free(out);
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    }
    rc = npu_vk_buf_read(&be->ctx, &be->buf[NPU_B_MP], 0, out->mp, (uint64_t)be->n * 4, err);
    if (!rc)
        rc = npu_vk_buf_read(&be->ctx, &be->buf[NPU_B_CC], 0, cc, (uint64_t)be->n * 4, err);
    for (uint32_t i = 0; !rc && i < be->n; i++) {
        out->countdown[i] = (uint16_t)(cc[i] & 0xffffu);
        out->cfc[i] = (uint16_t)(cc[i] >> 16);
    }
    free(cc);
    if (rc)
        npu_state_free(out);
    return rc;
}

bool npu_vk_denorm_preserve(const struct npu_backend *be)
{
    return ((const struct vk_backend *)be)->ctx.denorm_preserve;
}

int npu_vk_test_arith(struct npu_backend *be_, uint32_t mode, uint32_t n_items,
                      const uint32_t *in, uint32_t in_words, uint32_t *out, uint32_t out_words,
                      struct npu_err *err)
{
    struct vk_backend *be = to_vk(be_);
    struct npu_vk_ctx *ctx = &be->ctx;
    struct vk_slot *sl = &be->slot[0];
    VkCommandBuffer cb = sl->cb;
    int rc;
    if (!be->uploaded || be->in_flight)
        return npu_err_set(err, NPU_E_INTERNAL, "vulkan: test_arith needs an idle, uploaded backend");
    rc = ensure_host(be, sl, &sl->inject, in_words, err);
    if (!rc)
        rc = ensure_host(be, sl, &sl->out, out_words, err);
    if (rc)
        return rc;
    memcpy(sl->inject.map, in, (size_t)in_words * 4);
    sl->inject_bytes = (uint64_t)in_words * 4;
    VK_CHECK(ctx->vk.ResetCommandBuffer(cb, 0));
    const VkCommandBufferBeginInfo binfo = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VK_CHECK(ctx->vk.BeginCommandBuffer(cb, &binfo));
    copy_inject(be, sl, cb);
    const VkMemoryBarrier copied = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT,
    };
    ctx->vk.CmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                               VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &copied, 0, NULL, 0,
                               NULL);
    ctx->vk.CmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, be->pipes.layout, 0, 1,
                                  &sl->set, 0, NULL);
    struct npu_gpu_push pc = push_for(be, 1, 0, 1);
    pc.mode = mode;
    pc.inject_count = n_items;
    uint32_t groups = (uint32_t)(((uint64_t)n_items + NPU_WG - 1) / NPU_WG);
    dispatch(be, cb, NPU_K_TEST_ARITH, &pc, groups);
    const VkMemoryBarrier to_host = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    ctx->vk.CmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                               VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
    VK_CHECK(ctx->vk.EndCommandBuffer(cb));
    rc = npu_vk_submit_wait(ctx, cb, err);
    if (rc)
        return rc;
    memcpy(out, sl->out.map, (size_t)out_words * 4);
    return NPU_OK;
error:
    return rc;
}

static double vk_device_seconds(struct npu_backend *be_)
{
    struct vk_backend *be = to_vk(be_);
    return be->timestamps ? be->device_ns * 1e-9 : -1.0;
}

static void vk_memory(struct npu_backend *be_, uint64_t *device_local, uint64_t *host_visible)
{
    const struct vk_backend *be = to_vk(be_);
    uint64_t dev = 0, host = 0;
    for (int b = 0; b < N_DEVICE_BUFFERS; b++)
        dev += be->buf[b].size;
    for (int s = 0; s < N_SLOTS; s++) {
        dev += be->slot[s].inject_dev.size;
        host += be->slot[s].inject.size + be->slot[s].out.size;
    }
    *device_local = dev;
    *host_visible = host;
}

const struct npu_backend_ops npu_backend_vulkan = {
    .name = "vulkan",
    .create = vk_create,
    .upload = vk_upload,
    .max_batch = vk_max_batch,
    .submit = vk_submit,
    .collect = vk_collect,
    .read_state = vk_read_state,
    .read_mp = vk_read_mp,
    .destroy = vk_destroy,
    .device_seconds = vk_device_seconds,
    .memory = vk_memory,
};
