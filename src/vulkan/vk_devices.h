/* npu_vk_devices: the device list behind `npusim devices`.  Present in every
 * build: without Vulkan compiled in it fails with NPU_E_BACKEND. */
#ifndef NPU_VK_DEVICES_H
#define NPU_VK_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define NPU_VK_MAX_HEAPS 16

struct npu_vk_device_info {
    uint32_t index;
    char name[256];
    const char *type;           /* "discrete", "integrated", "virtual", "cpu", "other" */
    char driver_name[256];
    char driver_info[256];
    uint32_t driver_version;    /* raw VkPhysicalDeviceProperties.driverVersion */
    uint32_t api_version;       /* VK_MAKE_API_VERSION encoding */
    uint32_t n_heaps;
    uint64_t heap_size[NPU_VK_MAX_HEAPS];
    bool heap_device_local[NPU_VK_MAX_HEAPS];
    bool api_1_2;               /* Vulkan 1.2 or later: needed */
    bool int64;                 /* shaderInt64: needed */
    bool int64_atomics;         /* shaderBufferInt64Atomics: needed */
    bool subgroup_ballot;       /* VK_SUBGROUP_FEATURE_BALLOT_BIT in compute: needed */
    uint32_t subgroup_size;
    bool denorm_preserve;       /* shaderDenormPreserveFloat32: used when present */
    bool usable;                /* every needed feature is present */
};

/* Lists the devices.  *out is malloc'd (caller frees); *count may be 0. */
int npu_vk_list_devices(struct npu_vk_device_info **out, uint32_t *count, struct npu_err *err);

#endif
