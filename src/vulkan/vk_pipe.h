/* vk_pipe: the compute pipelines, built from the SPIR-V embedded at build
 * time (shaders/NAME.comp, embedded by vk_shaders.c), one descriptor set layout and one
 * push-constant range shared by every kernel (shaders/npu_layout.h). */
#ifndef NPU_VK_PIPE_H
#define NPU_VK_PIPE_H

#include "vk_ctx.h"

enum npu_vk_kernel {
    NPU_K_FILL,       /* compaction of b-1, stimuli and propagation of b */
    NPU_K_DYN,        /* dynamics of b, then the setup of b+1 */
    NPU_K_TEST_ARITH,
    NPU_K_COUNT
};

struct npu_vk_spirv {
    const char *name;
    const uint32_t *code[3];    /* [0] plain, [1] with DenormPreserve 32, [2] emulated flushing */
    size_t size[3];             /* bytes */
};

/* The embedded SPIR-V, indexed by enum npu_vk_kernel (vk_shaders.c). */
extern const struct npu_vk_spirv npu_vk_spirv[NPU_K_COUNT];

struct npu_vk_pipes {
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipe[NPU_K_COUNT];
};

/* Builds every pipeline, with the DenormPreserve variants when
 * ctx->denorm_preserve, or the flush-emulating ones when ctx->emulate_ftz.
 * On failure the caller still calls destroy. */
int npu_vk_pipes_create(struct npu_vk_ctx *ctx, struct npu_vk_pipes *p, struct npu_err *err);
void npu_vk_pipes_destroy(struct npu_vk_ctx *ctx, struct npu_vk_pipes *p);

#endif
