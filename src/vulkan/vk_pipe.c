#include "vk_pipe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_layout.h"

int npu_vk_pipes_create(struct npu_vk_ctx *ctx, struct npu_vk_pipes *p, uint32_t route_wg,
                        struct npu_err *err)
{
    int rc = NPU_OK;
    VkShaderModule module = VK_NULL_HANDLE;
    VkDescriptorSetLayoutBinding bindings[NPU_B_COUNT];
    for (uint32_t b = 0; b < NPU_B_COUNT; b++)
        bindings[b] = (VkDescriptorSetLayoutBinding){
            .binding = b,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    const VkDescriptorSetLayoutCreateInfo dinfo = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = NPU_B_COUNT,
        .pBindings = bindings,
    };
    VK_CHECK(ctx->vk.CreateDescriptorSetLayout(ctx->device, &dinfo, NULL, &p->set_layout));
    const VkPushConstantRange range = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .offset = 0,
        .size = sizeof(struct npu_gpu_push),
    };
    const VkPipelineLayoutCreateInfo linfo = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &p->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &range,
    };
    VK_CHECK(ctx->vk.CreatePipelineLayout(ctx->device, &linfo, NULL, &p->layout));

    int variant = ctx->emulate_ftz ? 2 : ctx->denorm_preserve ? 1 : 0;
    /* The statistics can only be queried of pipelines created asking for
     * them; p->stats records that, whatever ctx says later. */
    p->stats = ctx->pipeline_stats;
    /* bins.comp's shared arrays and workgroup, as large as the device
     * allows (npu_layout.h) */
    const VkPhysicalDeviceLimits *lim = &ctx->props.limits;
    uint32_t wg = NPU_BIN_WG;
    /* A CPU device (lavapipe) runs a workgroup's invocations in turn, so a
     * wide one only adds barrier work: 256 made checkbackends 23% faster
     * there. */
    if (ctx->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
        wg = 256;
    while (wg > 32 && (wg > lim->maxComputeWorkGroupInvocations ||
                       wg > lim->maxComputeWorkGroupSize[0]))
        wg /= 2;
    uint32_t shift = NPU_BIN_MAX_SHIFT;
    while (shift > NPU_BIN_MIN_SHIFT &&
           (UINT64_C(1) << shift) * 8 + (UINT64_C(1) << shift) / 8 >
               lim->maxComputeSharedMemorySize)
        shift--;
    p->bin_wg = wg;
    p->bin_max_shift = shift;
    const uint32_t bin_sc[2] = { 1u << shift, wg };
    const VkSpecializationMapEntry bin_map[2] = {
        { .constantID = NPU_BIN_SC_SIZE, .offset = 0, .size = 4 },
        { .constantID = NPU_BIN_SC_WG, .offset = 4, .size = 4 },
    };
    const VkSpecializationInfo bin_spec = {
        .mapEntryCount = 2, .pMapEntries = bin_map, .dataSize = sizeof(bin_sc), .pData = bin_sc,
    };
    /* spread.comp and split.comp: NPU_ROUTE_UNROLL staged events per
     * thread, and a thread for each destination of a level */
    uint32_t rwg = wg < NPU_ROUTE_WG ? wg : NPU_ROUTE_WG;
    if (route_wg && route_wg < rwg)
        rwg = route_wg;
    while (rwg > NPU_PROP_LANES &&
           (uint64_t)rwg * NPU_ROUTE_UNROLL * 8 + 3 * 4 * NPU_ROUTE_MAX_DEST + 4 >
               lim->maxComputeSharedMemorySize)
        rwg /= 2;
    p->route_wg = rwg;
    const VkSpecializationMapEntry route_map = { .constantID = NPU_ROUTE_SC_WG, .offset = 0,
                                                 .size = 4 };
    const VkSpecializationInfo route_spec = {
        .mapEntryCount = 1, .pMapEntries = &route_map, .dataSize = 4, .pData = &p->route_wg,
    };
    for (int k = 0; k < NPU_K_COUNT; k++) {
        const VkShaderModuleCreateInfo minfo = {
            .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
            .codeSize = npu_vk_spirv[k].size[variant],
            .pCode = npu_vk_spirv[k].code[variant],
        };
        VK_CHECK(ctx->vk.CreateShaderModule(ctx->device, &minfo, NULL, &module));
        const VkComputePipelineCreateInfo cinfo = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .flags = p->stats ? VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR : 0,
            .stage = {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
                .pSpecializationInfo = k == NPU_K_BINS ? &bin_spec
                                     : k == NPU_K_SPREAD || k == NPU_K_SPLIT ? &route_spec
                                     : NULL,
            },
            .layout = p->layout,
        };
        VK_CHECK(ctx->vk.CreateComputePipelines(ctx->device, VK_NULL_HANDLE, 1, &cinfo, NULL,
                                                &p->pipe[k]));
        ctx->vk.DestroyShaderModule(ctx->device, module, NULL);
        module = VK_NULL_HANDLE;
    }
    return npu_vk_ctx_check_messages(ctx, err);
error:
    if (module)
        ctx->vk.DestroyShaderModule(ctx->device, module, NULL);
    return rc;
}

void npu_vk_pipes_destroy(struct npu_vk_ctx *ctx, struct npu_vk_pipes *p)
{
    if (!ctx || !p || !ctx->device)
        return;
    for (int k = 0; k < NPU_K_COUNT; k++)
        if (p->pipe[k])
            ctx->vk.DestroyPipeline(ctx->device, p->pipe[k], NULL);
    if (p->layout)
        ctx->vk.DestroyPipelineLayout(ctx->device, p->layout, NULL);
    if (p->set_layout)
        ctx->vk.DestroyDescriptorSetLayout(ctx->device, p->set_layout, NULL);
    memset(p, 0, sizeof(*p));
}

/* The text npu_vk_pipes_stats writes, cut (and marked so) when buf is full. */
struct text {
    char *buf;
    size_t len, used;
    bool cut;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    if (t->cut)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->len - t->used) {
        t->cut = true;
        t->used = t->len - 1;
        if (t->len > 4)
            memcpy(t->buf + t->len - 5, "...\n", 5);
        return;
    }
    t->used += (size_t)n;
}

/* A driver's name, bounded and on one line whatever the driver put in it. */
static void put_name(struct text *t, const char *name, size_t max)
{
    char s[VK_MAX_DESCRIPTION_SIZE];
    size_t i = 0;
    for (; i < max && i < sizeof(s) - 1 && name[i]; i++)
        s[i] = (unsigned char)name[i] < 0x20 ? ' ' : name[i];
    s[i] = '\0';
    put(t, "%s", s);
}

static void put_value(struct text *t, const VkPipelineExecutableStatisticKHR *st)
{
    switch (st->format) {
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR:
        put(t, "%s", st->value.b32 ? "true" : "false");
        break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR:
        put(t, "%lld", (long long)st->value.i64);
        break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
        put(t, "%llu", (unsigned long long)st->value.u64);
        break;
    case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR:
        put(t, "%g", st->value.f64);
        break;
    default:
        put(t, "?");
        break;
    }
}

/* One kernel's executables (a compute pipeline usually has one). */
static int put_kernel(const struct npu_vk_ctx *ctx, VkPipeline pipe, const char *kname,
                      struct text *t)
{
    const char *call = "vkGetPipelineExecutablePropertiesKHR";
    VkPipelineExecutablePropertiesKHR *ex = NULL;
    VkPipelineExecutableStatisticKHR *st = NULL;
    const VkPipelineInfoKHR pinfo = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR,
        .pipeline = pipe,
    };
    uint32_t n_ex = 0;
    VkResult r = ctx->vk.GetPipelineExecutablePropertiesKHR(ctx->device, &pinfo, &n_ex, NULL);
    if (r != VK_SUCCESS)
        goto failed;
    if (n_ex == 0) {
        put(t, "%s: no executables\n", kname);
        return NPU_OK;
    }
    ex = calloc(n_ex, sizeof(*ex));
    if (!ex)
        goto no_memory;
    for (uint32_t i = 0; i < n_ex; i++)
        ex[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR;
    /* VK_INCOMPLETE: fewer than counted, all of them filled */
    r = ctx->vk.GetPipelineExecutablePropertiesKHR(ctx->device, &pinfo, &n_ex, ex);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE)
        goto failed;
    call = "vkGetPipelineExecutableStatisticsKHR";
    for (uint32_t e = 0; e < n_ex; e++) {
        const VkPipelineExecutableInfoKHR einfo = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR,
            .pipeline = pipe,
            .executableIndex = e,
        };
        uint32_t n_st = 0;
        r = ctx->vk.GetPipelineExecutableStatisticsKHR(ctx->device, &einfo, &n_st, NULL);
        if (r != VK_SUCCESS)
            goto failed;
        free(st);
        st = calloc(n_st ? n_st : 1, sizeof(*st));
        if (!st)
            goto no_memory;
        for (uint32_t i = 0; i < n_st; i++)
            st[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
        r = ctx->vk.GetPipelineExecutableStatisticsKHR(ctx->device, &einfo, &n_st, st);
        if (r != VK_SUCCESS && r != VK_INCOMPLETE)
            goto failed;
        put(t, "%s: ", kname);
        put_name(t, ex[e].name, sizeof(ex[e].name));
        put(t, " (subgroup %u):", ex[e].subgroupSize);
        for (uint32_t i = 0; i < n_st; i++) {
            put(t, "%s", i ? ", " : " ");
            put_name(t, st[i].name, sizeof(st[i].name));
            put(t, "=");
            put_value(t, &st[i]);
        }
        put(t, "\n");
    }
    free(st);
    free(ex);
    return NPU_OK;
failed:
    put(t, "%s: %s failed: %s\n", kname, call, npu_vk_result_name(r));
    free(st);
    free(ex);
    return r == VK_ERROR_OUT_OF_HOST_MEMORY ? NPU_E_RESOURCE : NPU_E_DEVICE;
no_memory:
    put(t, "%s: out of host memory\n", kname);
    free(ex);
    return NPU_E_RESOURCE;
}

int npu_vk_pipes_stats(const struct npu_vk_ctx *ctx, const struct npu_vk_pipes *p, char *buf,
                       size_t len)
{
    if (!buf || len == 0)
        return NPU_E_RESOURCE;
    struct text t = { .buf = buf, .len = len };
    buf[0] = '\0';
    if (!ctx || !ctx->device || !p || !p->stats || !ctx->vk.GetPipelineExecutablePropertiesKHR) {
        /* The device has them, they were not asked for: say how to. */
        if (ctx && ctx->pipeline_stats_supported && !ctx->pipeline_stats)
            put(&t, "pipeline statistics not captured (set NPUSIM_VK_PROFILE=1)\n");
        else
            put(&t, "pipeline statistics unavailable (no "
                    VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME ")\n");
        return t.cut ? NPU_E_RESOURCE : NPU_E_BACKEND;
    }
    for (int k = 0; k < NPU_K_COUNT; k++) {
        if (!p->pipe[k])
            continue;
        int rc = put_kernel(ctx, p->pipe[k], npu_vk_spirv[k].name, &t);
        if (rc)
            return rc;
    }
    return t.cut ? NPU_E_RESOURCE : NPU_OK;
}
