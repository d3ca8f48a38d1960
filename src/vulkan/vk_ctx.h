/* vk_ctx: the Vulkan loader (dlopened at run time), instance, device choice
 * and the function pointers every other vk_*.c file calls through. */
#ifndef NPU_VK_CTX_H
#define NPU_VK_CTX_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"

/* Every vk* call that returns a VkResult goes through VK_CHECK: on failure it
 * fills err with the call, the result's name and file:line, sets rc and
 * jumps to the function's error: label.  The function must declare
 * `int rc` and `struct npu_err *err`. */
#define VK_CHECK(call)                                                          \
    do {                                                                        \
        VkResult vk_r_ = (call);                                                \
        if (vk_r_ != VK_SUCCESS) {                                              \
            rc = npu_vk_fail(err, vk_r_, #call, __FILE__, __LINE__);            \
            goto error;                                                         \
        }                                                                       \
    } while (0)

struct npu_vk_fn {
    PFN_vkGetInstanceProcAddr GetInstanceProcAddr;
    PFN_vkCreateInstance CreateInstance;
    PFN_vkEnumerateInstanceLayerProperties EnumerateInstanceLayerProperties;
    PFN_vkEnumerateInstanceVersion EnumerateInstanceVersion;

    PFN_vkDestroyInstance DestroyInstance;
    PFN_vkEnumeratePhysicalDevices EnumeratePhysicalDevices;
    PFN_vkGetPhysicalDeviceProperties GetPhysicalDeviceProperties;
    PFN_vkGetPhysicalDeviceProperties2 GetPhysicalDeviceProperties2;
    PFN_vkGetPhysicalDeviceFeatures2 GetPhysicalDeviceFeatures2;
    PFN_vkGetPhysicalDeviceMemoryProperties GetPhysicalDeviceMemoryProperties;
    PFN_vkGetPhysicalDeviceQueueFamilyProperties GetPhysicalDeviceQueueFamilyProperties;
    PFN_vkEnumerateDeviceExtensionProperties EnumerateDeviceExtensionProperties;
    PFN_vkCreateDevice CreateDevice;
    PFN_vkGetDeviceProcAddr GetDeviceProcAddr;
    PFN_vkCreateDebugUtilsMessengerEXT CreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT DestroyDebugUtilsMessengerEXT;

    PFN_vkDestroyDevice DestroyDevice;
    PFN_vkGetDeviceQueue GetDeviceQueue;
    PFN_vkDeviceWaitIdle DeviceWaitIdle;
    PFN_vkCreateBuffer CreateBuffer;
    PFN_vkDestroyBuffer DestroyBuffer;
    PFN_vkGetBufferMemoryRequirements GetBufferMemoryRequirements;
    PFN_vkAllocateMemory AllocateMemory;
    PFN_vkFreeMemory FreeMemory;
    PFN_vkBindBufferMemory BindBufferMemory;
    PFN_vkMapMemory MapMemory;
    PFN_vkUnmapMemory UnmapMemory;
    PFN_vkCreateShaderModule CreateShaderModule;
    PFN_vkDestroyShaderModule DestroyShaderModule;
    PFN_vkCreateDescriptorSetLayout CreateDescriptorSetLayout;
    PFN_vkDestroyDescriptorSetLayout DestroyDescriptorSetLayout;
    PFN_vkCreatePipelineLayout CreatePipelineLayout;
    PFN_vkDestroyPipelineLayout DestroyPipelineLayout;
    PFN_vkCreateComputePipelines CreateComputePipelines;
    PFN_vkDestroyPipeline DestroyPipeline;
    PFN_vkCreateDescriptorPool CreateDescriptorPool;
    PFN_vkDestroyDescriptorPool DestroyDescriptorPool;
    PFN_vkAllocateDescriptorSets AllocateDescriptorSets;
    PFN_vkUpdateDescriptorSets UpdateDescriptorSets;
    PFN_vkCreateCommandPool CreateCommandPool;
    PFN_vkDestroyCommandPool DestroyCommandPool;
    PFN_vkAllocateCommandBuffers AllocateCommandBuffers;
    PFN_vkFreeCommandBuffers FreeCommandBuffers;
    PFN_vkBeginCommandBuffer BeginCommandBuffer;
    PFN_vkEndCommandBuffer EndCommandBuffer;
    PFN_vkResetCommandBuffer ResetCommandBuffer;
    PFN_vkCmdBindPipeline CmdBindPipeline;
    PFN_vkCmdBindDescriptorSets CmdBindDescriptorSets;
    PFN_vkCmdPushConstants CmdPushConstants;
    PFN_vkCmdDispatch CmdDispatch;
    PFN_vkCmdDispatchIndirect CmdDispatchIndirect;
    PFN_vkCmdPipelineBarrier CmdPipelineBarrier;
    PFN_vkCmdCopyBuffer CmdCopyBuffer;
    PFN_vkCmdFillBuffer CmdFillBuffer;
    PFN_vkCreateFence CreateFence;
    PFN_vkDestroyFence DestroyFence;
    PFN_vkResetFences ResetFences;
    PFN_vkWaitForFences WaitForFences;
    PFN_vkQueueSubmit QueueSubmit;
    PFN_vkCreateQueryPool CreateQueryPool;
    PFN_vkDestroyQueryPool DestroyQueryPool;
    PFN_vkCmdResetQueryPool CmdResetQueryPool;
    PFN_vkCmdWriteTimestamp CmdWriteTimestamp;
    PFN_vkGetQueryPoolResults GetQueryPoolResults;

    /* VK_KHR_pipeline_executable_properties; NULL unless ctx->pipeline_stats. */
    PFN_vkGetPipelineExecutablePropertiesKHR GetPipelineExecutablePropertiesKHR;
    PFN_vkGetPipelineExecutableStatisticsKHR GetPipelineExecutableStatisticsKHR;
};

#define NPU_VK_MSG_MAX 768

struct npu_vk_ctx {
    void *lib;                  /* dlopen handle of libvulkan.so.1 */
    struct npu_vk_fn vk;
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    uint32_t timestamp_bits;    /* the queue family's timestampValidBits; 0: no timestamps */
    VkCommandPool pool;         /* resettable command buffers, this thread only */
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    uint64_t max_alloc;         /* maxMemoryAllocationSize */
    bool denorm_preserve;       /* shaderDenormPreserveFloat32: use the preserving shaders */
    bool emulate_ftz;           /* NPUSIM_VK_EMULATE_FTZ=1: the flush-emulating shaders (tests) */
    /* The driver's statistics of the compiled pipelines (register counts
     * and the like, npu_vk_pipes_stats): asked for with NPUSIM_VK_PROFILE=1,
     * on when the device has VK_KHR_pipeline_executable_properties. */
    bool pipeline_stats_supported; /* the device has the extension and its feature */
    bool pipeline_stats;           /* ... and it is enabled, its functions loaded */

    /* Validation messages, recorded by the debug-utils callback. */
    unsigned n_messages;
    char first_message[NPU_VK_MSG_MAX];
};

/* How long a fence wait may take before the run ends with NPU_E_DEVICE
 * instead of hanging. */
#define NPU_VK_FENCE_TIMEOUT_NS (UINT64_C(120) * 1000000000u)

/* Maps a failed VkResult to a status (device lost / out of device memory:
 * NPU_E_DEVICE; host memory: NPU_E_RESOURCE; others NPU_E_DEVICE) and writes
 * "CALL failed: VK_ERROR_... (file:line)". Returns the status. */
int npu_vk_fail(struct npu_err *err, VkResult r, const char *call, const char *file, int line);
const char *npu_vk_result_name(VkResult r);

/* Opens the loader, creates the instance and the device chosen by
 * cfg->device_index (see backend.h).  ctx must be zeroed.  On failure the
 * caller still calls npu_vk_ctx_destroy(). */
int npu_vk_ctx_create(struct npu_vk_ctx *ctx, const struct npu_backend_cfg *cfg,
                      struct npu_err *err);

/* NULL-safe; waits for the device to be idle first. */
void npu_vk_ctx_destroy(struct npu_vk_ctx *ctx);

/* NPU_E_DEVICE with the first validation message if any was recorded. */
int npu_vk_ctx_check_messages(struct npu_vk_ctx *ctx, struct npu_err *err);

#endif
