#include "vk_pipe.h"

#include <string.h>

#include "npu_layout.h"

int npu_vk_pipes_create(struct npu_vk_ctx *ctx, struct npu_vk_pipes *p, struct npu_err *err)
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
    for (int k = 0; k < NPU_K_COUNT; k++) {
        const VkShaderModuleCreateInfo minfo = {
            .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
            .codeSize = npu_vk_spirv[k].size[variant],
            .pCode = npu_vk_spirv[k].code[variant],
        };
        VK_CHECK(ctx->vk.CreateShaderModule(ctx->device, &minfo, NULL, &module));
        const VkComputePipelineCreateInfo cinfo = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
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
