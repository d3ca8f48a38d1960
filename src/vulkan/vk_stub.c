/* Stands in for the Vulkan backend in builds without it (-Dvulkan=disabled,
 * or no Vulkan headers / glslc at build time). */
#include "backend.h"

static int stub_create(const struct npu_backend_cfg *cfg, struct npu_backend **out,
                       struct npu_err *err)
{
    (void)cfg;
    *out = NULL;
    return npu_err_set(err, NPU_E_BACKEND,
                       "this npusim was built without the Vulkan backend "
                       "(rebuild with Vulkan headers and glslc installed, -Dvulkan=enabled)");
}

const struct npu_backend_ops npu_backend_vulkan = {
    .name = "vulkan",
    .create = stub_create,
};
