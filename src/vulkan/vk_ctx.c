#include "vk_ctx.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_devices.h"

#define LOADER_NAME "libvulkan.so.1"
#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"
#define API_VERSION VK_API_VERSION_1_2

const char *npu_vk_result_name(VkResult r)
{
    switch (r) {
#define R(x) case x: return #x
    R(VK_SUCCESS);
    R(VK_NOT_READY);
    R(VK_TIMEOUT);
    R(VK_INCOMPLETE);
    R(VK_ERROR_OUT_OF_HOST_MEMORY);
    R(VK_ERROR_OUT_OF_DEVICE_MEMORY);
    R(VK_ERROR_INITIALIZATION_FAILED);
    R(VK_ERROR_DEVICE_LOST);
    R(VK_ERROR_MEMORY_MAP_FAILED);
    R(VK_ERROR_LAYER_NOT_PRESENT);
    R(VK_ERROR_EXTENSION_NOT_PRESENT);
    R(VK_ERROR_FEATURE_NOT_PRESENT);
    R(VK_ERROR_INCOMPATIBLE_DRIVER);
    R(VK_ERROR_TOO_MANY_OBJECTS);
    R(VK_ERROR_FORMAT_NOT_SUPPORTED);
    R(VK_ERROR_FRAGMENTED_POOL);
    R(VK_ERROR_UNKNOWN);
    R(VK_ERROR_OUT_OF_POOL_MEMORY);
    R(VK_ERROR_INVALID_EXTERNAL_HANDLE);
    R(VK_ERROR_FRAGMENTATION);
#undef R
    default:
        return "VK_ERROR_(unnamed)";
    }
}

int npu_vk_fail(struct npu_err *err, VkResult r, const char *call, const char *file, int line)
{
    int code = NPU_E_DEVICE;
    const char *hint = "";
    if (r == VK_ERROR_OUT_OF_HOST_MEMORY) {
        code = NPU_E_RESOURCE;
        hint = ": out of host memory";
    } else if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY) {
        hint = ": the device ran out of memory (try a smaller --batch or network)";
    } else if (r == VK_ERROR_DEVICE_LOST) {
        hint = ": the device was lost (driver reset, hang or crash)";
    } else if (r == VK_TIMEOUT) {
        hint = ": the device did not finish in time";
    } else if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED) {
        code = NPU_E_BACKEND;
    }
    return npu_err_set(err, code, "vulkan: %s failed: %s%s (%s:%d)", call,
                       npu_vk_result_name(r), hint, file, line);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT types,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)severity;
    (void)types;
    struct npu_vk_ctx *ctx = user;
    if (ctx->n_messages++ == 0)
        snprintf(ctx->first_message, sizeof(ctx->first_message), "%s",
                 data && data->pMessage ? data->pMessage : "(no text)");
    return VK_FALSE;
}

int npu_vk_ctx_check_messages(struct npu_vk_ctx *ctx, struct npu_err *err)
{
    if (!ctx->n_messages)
        return NPU_OK;
    return npu_err_set(err, NPU_E_DEVICE, "vulkan validation: %u message(s), first: \"%s\"",
                       ctx->n_messages, ctx->first_message);
}

static int open_loader(struct npu_vk_ctx *ctx, struct npu_err *err)
{
    ctx->lib = dlopen(LOADER_NAME, RTLD_NOW | RTLD_LOCAL);
    if (!ctx->lib)
        return npu_err_set(err, NPU_E_BACKEND,
                           "vulkan: cannot load the Vulkan loader %s (%s); install libvulkan1 "
                           "and a driver, or use --backend=cpu", LOADER_NAME, dlerror());
    /* dlsym returns void *; POSIX guarantees the function-pointer round trip. */
    void *sym = dlsym(ctx->lib, "vkGetInstanceProcAddr");
    if (!sym)
        return npu_err_set(err, NPU_E_BACKEND, "vulkan: %s has no vkGetInstanceProcAddr",
                           LOADER_NAME);
    memcpy(&ctx->vk.GetInstanceProcAddr, &sym, sizeof(sym));
    PFN_vkGetInstanceProcAddr gipa = ctx->vk.GetInstanceProcAddr;
    ctx->vk.CreateInstance = (PFN_vkCreateInstance)gipa(NULL, "vkCreateInstance");
    ctx->vk.EnumerateInstanceLayerProperties = (PFN_vkEnumerateInstanceLayerProperties)
        gipa(NULL, "vkEnumerateInstanceLayerProperties");
    ctx->vk.EnumerateInstanceVersion = (PFN_vkEnumerateInstanceVersion)
        gipa(NULL, "vkEnumerateInstanceVersion");
    if (!ctx->vk.CreateInstance || !ctx->vk.EnumerateInstanceLayerProperties)
        return npu_err_set(err, NPU_E_BACKEND, "vulkan: the loader lacks global entry points");
    uint32_t version = VK_API_VERSION_1_0;
    if (ctx->vk.EnumerateInstanceVersion)
        ctx->vk.EnumerateInstanceVersion(&version);
    if (version < API_VERSION)
        return npu_err_set(err, NPU_E_BACKEND,
                           "vulkan: the loader supports Vulkan %u.%u; 1.2 is needed",
                           VK_API_VERSION_MAJOR(version), VK_API_VERSION_MINOR(version));
    return NPU_OK;
}

#define LOAD_I(name)                                                                   \
    do {                                                                               \
        ctx->vk.name = (PFN_vk##name)ctx->vk.GetInstanceProcAddr(ctx->instance, "vk" #name); \
        if (!ctx->vk.name)                                                             \
            return npu_err_set(err, NPU_E_BACKEND, "vulkan: no entry point vk" #name); \
    } while (0)

static int load_instance_fns(struct npu_vk_ctx *ctx, struct npu_err *err)
{
    LOAD_I(DestroyInstance);
    LOAD_I(EnumeratePhysicalDevices);
    LOAD_I(GetPhysicalDeviceProperties);
    LOAD_I(GetPhysicalDeviceProperties2);
    LOAD_I(GetPhysicalDeviceFeatures2);
    LOAD_I(GetPhysicalDeviceMemoryProperties);
    LOAD_I(GetPhysicalDeviceQueueFamilyProperties);
    LOAD_I(EnumerateDeviceExtensionProperties);
    LOAD_I(CreateDevice);
    LOAD_I(GetDeviceProcAddr);
    return NPU_OK;
}

static bool has_layer(struct npu_vk_ctx *ctx, const char *name)
{
    uint32_t n = 0;
    if (ctx->vk.EnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkLayerProperties *layers = calloc(n, sizeof(*layers));
    if (!layers)
        return false;
    bool found = false;
    if (ctx->vk.EnumerateInstanceLayerProperties(&n, layers) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(layers[i].layerName, name) == 0)
                found = true;
    free(layers);
    return found;
}

static int create_instance(struct npu_vk_ctx *ctx, bool validation, struct npu_err *err)
{
    int rc;
    const char *layers[] = { VALIDATION_LAYER };
    const char *exts[] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };
    if (validation && !has_layer(ctx, VALIDATION_LAYER))
        return npu_err_set(err, NPU_E_BACKEND,
                           "vulkan: validation asked for but %s is not installed "
                           "(Debian: vulkan-validationlayers)", VALIDATION_LAYER);
    const VkDebugUtilsMessengerCreateInfoEXT msg_info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_message,
        .pUserData = ctx,
    };
    const VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "npusim",
        .pEngineName = "npusim",
        .apiVersion = API_VERSION,
    };
    const VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        /* chained so instance creation itself is validated too */
        .pNext = validation ? &msg_info : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = validation ? 1 : 0,
        .ppEnabledExtensionNames = exts,
    };
    VK_CHECK(ctx->vk.CreateInstance(&info, NULL, &ctx->instance));
    rc = load_instance_fns(ctx, err);
    if (rc)
        return rc;
    if (validation) {
        LOAD_I(CreateDebugUtilsMessengerEXT);
        LOAD_I(DestroyDebugUtilsMessengerEXT);
        VK_CHECK(ctx->vk.CreateDebugUtilsMessengerEXT(ctx->instance, &msg_info, NULL,
                                                      &ctx->messenger));
    }
    return NPU_OK;
error:
    /* No instance: Vulkan is not usable here, whatever the result was. */
    npu_err_prefix(err, "vulkan: no usable Vulkan driver (is one installed, such as "
                        "mesa-vulkan-drivers or the GPU vendor's?)");
    if (err)
        err->code = NPU_E_BACKEND;
    return NPU_E_BACKEND;
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

/* discrete > integrated > virtual > cpu > other */
static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static void describe(struct npu_vk_ctx *ctx, VkPhysicalDevice pd, uint32_t index,
                     struct npu_vk_device_info *d)
{
    memset(d, 0, sizeof(*d));
    d->index = index;
    VkPhysicalDeviceProperties p;
    ctx->vk.GetPhysicalDeviceProperties(pd, &p);
    snprintf(d->name, sizeof(d->name), "%s", p.deviceName);
    d->type = type_name(p.deviceType);
    d->driver_version = p.driverVersion;
    d->api_version = p.apiVersion;
    d->api_1_2 = p.apiVersion >= API_VERSION;

    VkPhysicalDeviceMemoryProperties m;
    ctx->vk.GetPhysicalDeviceMemoryProperties(pd, &m);
    d->n_heaps = m.memoryHeapCount < NPU_VK_MAX_HEAPS ? m.memoryHeapCount : NPU_VK_MAX_HEAPS;
    for (uint32_t h = 0; h < d->n_heaps; h++) {
        d->heap_size[h] = m.memoryHeaps[h].size;
        d->heap_device_local[h] = (m.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
    }
    if (!d->api_1_2)
        return; /* the 1.2 structures below may not be chained */

    VkPhysicalDeviceDriverProperties drv = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
    };
    VkPhysicalDeviceSubgroupProperties sg = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
        .pNext = &drv,
    };
    VkPhysicalDeviceFloatControlsProperties fc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FLOAT_CONTROLS_PROPERTIES,
        .pNext = &sg,
    };
    VkPhysicalDeviceProperties2 p2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = &fc,
    };
    ctx->vk.GetPhysicalDeviceProperties2(pd, &p2);
    snprintf(d->driver_name, sizeof(d->driver_name), "%s", drv.driverName);
    snprintf(d->driver_info, sizeof(d->driver_info), "%s", drv.driverInfo);
    d->denorm_preserve = fc.shaderDenormPreserveFloat32;
    /* dyn.comp aggregates its fire counts per subgroup (subgroupBallot);
     * every desktop driver and lavapipe have it, Vulkan 1.1 only promises
     * the basic subgroup operations. */
    d->subgroup_ballot = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                         (sg.supportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT);
    d->subgroup_size = sg.subgroupSize;

    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
    };
    VkPhysicalDeviceFeatures2 f2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &f12,
    };
    ctx->vk.GetPhysicalDeviceFeatures2(pd, &f2);
    d->int64 = f2.features.shaderInt64;
    d->int64_atomics = f12.shaderBufferInt64Atomics;
    /* Testing hook: NPUSIM_VK_HIDE_FEATURES=shaderInt64,shaderBufferInt64Atomics
     * makes every device look as if it lacked them, so the refusal of such
     * a device is tested on one that has them. */
    const char *hide = getenv("NPUSIM_VK_HIDE_FEATURES");
    if (hide && strstr(hide, "shaderBufferInt64Atomics"))
        d->int64_atomics = false;
    if (hide && strstr(hide, "shaderInt64") && !strstr(hide, "shaderInt64Atomics"))
        d->int64 = false;
    if (hide && strstr(hide, "subgroupBallot"))
        d->subgroup_ballot = false;
    d->usable = d->api_1_2 && d->int64 && d->int64_atomics && d->subgroup_ballot;
}

static const char *missing_feature(const struct npu_vk_device_info *d)
{
    if (!d->api_1_2)
        return "Vulkan 1.2";
    if (!d->int64)
        return "shaderInt64";
    if (!d->int64_atomics)
        return "shaderBufferInt64Atomics";
    if (!d->subgroup_ballot)
        return "subgroup ballot";
    return NULL;
}

static int enumerate(struct npu_vk_ctx *ctx, VkPhysicalDevice **pds, uint32_t *n,
                     struct npu_err *err)
{
    int rc;
    *pds = NULL;
    *n = 0;
    VK_CHECK(ctx->vk.EnumeratePhysicalDevices(ctx->instance, n, NULL));
    if (*n == 0)
        return NPU_OK;
    *pds = calloc(*n, sizeof(**pds));
    if (!*pds)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    VK_CHECK(ctx->vk.EnumeratePhysicalDevices(ctx->instance, n, *pds));
    return NPU_OK;
error:
    free(*pds);
    *pds = NULL;
    return rc;
}

static int pick_device(struct npu_vk_ctx *ctx, int want, uint32_t *picked, VkPhysicalDevice *out,
                       struct npu_err *err)
{
    VkPhysicalDevice *pds = NULL;
    uint32_t n = 0;
    int rc = enumerate(ctx, &pds, &n, err);
    if (rc)
        return rc;
    if (n == 0) {
        rc = npu_err_set(err, NPU_E_BACKEND, "vulkan: no Vulkan device (no driver installed?)");
        goto done;
    }
    struct npu_vk_device_info d;
    if (want >= 0) {
        if ((uint32_t)want >= n) {
            rc = npu_err_set(err, NPU_E_BACKEND, "vulkan: no device %d (there are %u; see "
                             "`npusim devices`)", want, n);
            goto done;
        }
        describe(ctx, pds[want], (uint32_t)want, &d);
        const char *miss = missing_feature(&d);
        if (miss) {
            rc = npu_err_set(err, NPU_E_BACKEND, "vulkan: device %d (%s) lacks %s", want,
                             d.name, miss);
            goto done;
        }
        *picked = (uint32_t)want;
        *out = pds[want];
        goto done;
    }
    int best_rank = -1;
    const char *why = NULL;
    char why_buf[300] = "";
    for (uint32_t i = 0; i < n; i++) {
        describe(ctx, pds[i], i, &d);
        VkPhysicalDeviceProperties p;
        ctx->vk.GetPhysicalDeviceProperties(pds[i], &p);
        int rank = type_rank(p.deviceType);
        if (want == NPU_DEVICE_HW_ONLY && rank < 3)
            continue;
        const char *miss = missing_feature(&d);
        if (miss) {
            snprintf(why_buf, sizeof(why_buf), "%s lacks %s", d.name, miss);
            why = why_buf;
            continue;
        }
        if (rank > best_rank) {
            best_rank = rank;
            *picked = i;
            *out = pds[i];
        }
    }
    if (best_rank < 0) {
        if (want == NPU_DEVICE_HW_ONLY && !why)
            rc = npu_err_set(err, NPU_E_BACKEND, "vulkan: no hardware GPU (only %u software "
                             "device(s); ask for one with --device=N)", n);
        else
            rc = npu_err_set(err, NPU_E_BACKEND, "vulkan: no usable device (%s)",
                             why ? why : "none found");
    }
done:
    free(pds);
    return rc;
}

static bool has_device_ext(struct npu_vk_ctx *ctx, VkPhysicalDevice pd, const char *name)
{
    uint32_t n = 0;
    if (ctx->vk.EnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *exts = calloc(n, sizeof(*exts));
    if (!exts)
        return false;
    bool found = false;
    /* VK_INCOMPLETE still fills the array it was given */
    VkResult r = ctx->vk.EnumerateDeviceExtensionProperties(pd, NULL, &n, exts);
    if (r == VK_SUCCESS || r == VK_INCOMPLETE)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(exts[i].extensionName, name) == 0)
                found = true;
    free(exts);
    return found;
}

/* VK_KHR_pipeline_executable_properties with its pipelineExecutableInfo
 * feature.  The feature structure may only be chained once the extension
 * is known to exist. */
static bool has_pipeline_stats(struct npu_vk_ctx *ctx, VkPhysicalDevice pd)
{
    if (!has_device_ext(ctx, pd, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME))
        return false;
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pe = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR,
    };
    VkPhysicalDeviceFeatures2 f2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &pe,
    };
    ctx->vk.GetPhysicalDeviceFeatures2(pd, &f2);
    return pe.pipelineExecutableInfo == VK_TRUE;
}

#define LOAD_D(name)                                                                   \
    do {                                                                               \
        ctx->vk.name = (PFN_vk##name)ctx->vk.GetDeviceProcAddr(ctx->device, "vk" #name); \
        if (!ctx->vk.name)                                                             \
            return npu_err_set(err, NPU_E_BACKEND, "vulkan: no entry point vk" #name); \
    } while (0)

static int load_device_fns(struct npu_vk_ctx *ctx, struct npu_err *err)
{
    LOAD_D(DestroyDevice);
    LOAD_D(GetDeviceQueue);
    LOAD_D(DeviceWaitIdle);
    LOAD_D(CreateBuffer);
    LOAD_D(DestroyBuffer);
    LOAD_D(GetBufferMemoryRequirements);
    LOAD_D(AllocateMemory);
    LOAD_D(FreeMemory);
    LOAD_D(BindBufferMemory);
    LOAD_D(MapMemory);
    LOAD_D(UnmapMemory);
    LOAD_D(CreateShaderModule);
    LOAD_D(DestroyShaderModule);
    LOAD_D(CreateDescriptorSetLayout);
    LOAD_D(DestroyDescriptorSetLayout);
    LOAD_D(CreatePipelineLayout);
    LOAD_D(DestroyPipelineLayout);
    LOAD_D(CreateComputePipelines);
    LOAD_D(DestroyPipeline);
    LOAD_D(CreateDescriptorPool);
    LOAD_D(DestroyDescriptorPool);
    LOAD_D(AllocateDescriptorSets);
    LOAD_D(UpdateDescriptorSets);
    LOAD_D(CreateCommandPool);
    LOAD_D(DestroyCommandPool);
    LOAD_D(AllocateCommandBuffers);
    LOAD_D(FreeCommandBuffers);
    LOAD_D(BeginCommandBuffer);
    LOAD_D(EndCommandBuffer);
    LOAD_D(ResetCommandBuffer);
    LOAD_D(CmdBindPipeline);
    LOAD_D(CmdBindDescriptorSets);
    LOAD_D(CmdPushConstants);
    LOAD_D(CmdDispatch);
    LOAD_D(CmdDispatchIndirect);
    LOAD_D(CmdPipelineBarrier);
    LOAD_D(CmdCopyBuffer);
    LOAD_D(CmdFillBuffer);
    LOAD_D(CreateFence);
    LOAD_D(DestroyFence);
    LOAD_D(ResetFences);
    LOAD_D(WaitForFences);
    LOAD_D(QueueSubmit);
    LOAD_D(CreateQueryPool);
    LOAD_D(DestroyQueryPool);
    LOAD_D(CmdResetQueryPool);
    LOAD_D(CmdWriteTimestamp);
    LOAD_D(GetQueryPoolResults);
    if (ctx->pipeline_stats) {
        /* Optional: without them the run goes on, only the statistics are
         * missing. */
        ctx->vk.GetPipelineExecutablePropertiesKHR = (PFN_vkGetPipelineExecutablePropertiesKHR)
            ctx->vk.GetDeviceProcAddr(ctx->device, "vkGetPipelineExecutablePropertiesKHR");
        ctx->vk.GetPipelineExecutableStatisticsKHR = (PFN_vkGetPipelineExecutableStatisticsKHR)
            ctx->vk.GetDeviceProcAddr(ctx->device, "vkGetPipelineExecutableStatisticsKHR");
        if (!ctx->vk.GetPipelineExecutablePropertiesKHR ||
            !ctx->vk.GetPipelineExecutableStatisticsKHR) {
            ctx->vk.GetPipelineExecutablePropertiesKHR = NULL;
            ctx->vk.GetPipelineExecutableStatisticsKHR = NULL;
            ctx->pipeline_stats = false;
        }
    }
    return NPU_OK;
}

int npu_vk_ctx_create(struct npu_vk_ctx *ctx, const struct npu_backend_cfg *cfg,
                      struct npu_err *err)
{
    int rc = open_loader(ctx, err);
    if (rc)
        return rc;
    rc = create_instance(ctx, cfg->validation, err);
    if (rc)
        return rc;
    uint32_t index = 0;
    rc = pick_device(ctx, cfg->device_index, &index, &ctx->phys, err);
    if (rc)
        return rc;

    struct npu_vk_device_info d;
    describe(ctx, ctx->phys, index, &d);
    ctx->denorm_preserve = d.denorm_preserve;
    ctx->vk.GetPhysicalDeviceProperties(ctx->phys, &ctx->props);
    ctx->vk.GetPhysicalDeviceMemoryProperties(ctx->phys, &ctx->mem);
    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
    };
    VkPhysicalDeviceProperties2 p2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = &m3,
    };
    ctx->vk.GetPhysicalDeviceProperties2(ctx->phys, &p2);
    ctx->max_alloc = m3.maxMemoryAllocationSize;

    uint32_t nq = 0;
    ctx->vk.GetPhysicalDeviceQueueFamilyProperties(ctx->phys, &nq, NULL);
    VkQueueFamilyProperties *qf = calloc(nq ? nq : 1, sizeof(*qf));
    if (!qf)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    ctx->vk.GetPhysicalDeviceQueueFamilyProperties(ctx->phys, &nq, qf);
    uint32_t family = UINT32_MAX;
    for (uint32_t i = 0; i < nq && family == UINT32_MAX; i++)
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            family = i;
            ctx->timestamp_bits = qf[i].timestampValidBits;
        }
    free(qf);
    if (family == UINT32_MAX)
        return npu_err_set(err, NPU_E_BACKEND, "vulkan: %s has no compute queue", d.name);
    ctx->queue_family = family;

    /* The driver's pipeline statistics come with the profiling knob only:
     * capturing them may cost compile time, and they are of no use to a
     * plain run. */
    ctx->pipeline_stats_supported = has_pipeline_stats(ctx, ctx->phys);
    const char *prof = getenv("NPUSIM_VK_PROFILE");
    ctx->pipeline_stats = ctx->pipeline_stats_supported && prof && strcmp(prof, "1") == 0;
    const char *dev_exts[] = { VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME };
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pe = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR,
        .pipelineExecutableInfo = VK_TRUE,
    };
    const float prio = 1.0f;
    const VkDeviceQueueCreateInfo qinfo = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = family,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
        .pNext = ctx->pipeline_stats ? &pe : NULL,
        .shaderBufferInt64Atomics = VK_TRUE,
    };
    const VkPhysicalDeviceFeatures2 f2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &f12,
        .features = { .shaderInt64 = VK_TRUE },
    };
    const VkDeviceCreateInfo dinfo = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &f2,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qinfo,
        .enabledExtensionCount = ctx->pipeline_stats ? 1 : 0,
        .ppEnabledExtensionNames = dev_exts,
    };
    VK_CHECK(ctx->vk.CreateDevice(ctx->phys, &dinfo, NULL, &ctx->device));
    rc = load_device_fns(ctx, err);
    if (rc)
        return rc;
    ctx->vk.GetDeviceQueue(ctx->device, family, 0, &ctx->queue);
    const VkCommandPoolCreateInfo pinfo = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = family,
    };
    VK_CHECK(ctx->vk.CreateCommandPool(ctx->device, &pinfo, NULL, &ctx->pool));
    return npu_vk_ctx_check_messages(ctx, err);
error:
    return rc;
}

void npu_vk_ctx_destroy(struct npu_vk_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->device) {
        ctx->vk.DeviceWaitIdle(ctx->device);
        if (ctx->pool)
            ctx->vk.DestroyCommandPool(ctx->device, ctx->pool, NULL);
        ctx->vk.DestroyDevice(ctx->device, NULL);
    }
    if (ctx->messenger)
        ctx->vk.DestroyDebugUtilsMessengerEXT(ctx->instance, ctx->messenger, NULL);
    if (ctx->instance)
        ctx->vk.DestroyInstance(ctx->instance, NULL);
    if (ctx->lib)
        dlclose(ctx->lib);
    memset(ctx, 0, sizeof(*ctx));
}

int npu_vk_list_devices(struct npu_vk_device_info **out, uint32_t *count, struct npu_err *err)
{
    struct npu_vk_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    *out = NULL;
    *count = 0;
    VkPhysicalDevice *pds = NULL;
    uint32_t n = 0;
    int rc = open_loader(&ctx, err);
    if (!rc)
        rc = create_instance(&ctx, false, err);
    if (!rc)
        rc = enumerate(&ctx, &pds, &n, err);
    if (!rc && n) {
        *out = calloc(n, sizeof(**out));
        if (!*out)
            rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        for (uint32_t i = 0; !rc && i < n; i++)
            describe(&ctx, pds[i], i, &(*out)[i]);
        if (!rc)
            *count = n;
    }
    free(pds);
    npu_vk_ctx_destroy(&ctx);
    return rc;
}
