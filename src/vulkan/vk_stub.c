/* Stands in for the Vulkan backend in builds without it (-Dvulkan=disabled,
 * or no Vulkan headers / glslc at build time). */
#include "backend.h"
#include "vk_devices.h"

#define NOT_BUILT "this npusim was built without the Vulkan backend " \
                  "(rebuild with Vulkan headers and glslc installed, -Dvulkan=enabled)"

static int stub_create(const struct npu_backend_cfg *cfg, struct npu_backend **out,
                       struct npu_err *err)
{
    (void)cfg;
    *out = NULL;
    return npu_err_set(err, NPU_E_BACKEND, NOT_BUILT);
}

const struct npu_backend_ops npu_backend_vulkan = {
    .name = "vulkan",
    .create = stub_create,
};

int npu_vk_list_devices(struct npu_vk_device_info **out, uint32_t *count, struct npu_err *err)
{
    *out = NULL;
    *count = 0;
    return npu_err_set(err, NPU_E_BACKEND, NOT_BUILT);
}
