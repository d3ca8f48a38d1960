/* vk_pipe: the compute pipelines, built from the SPIR-V embedded at build
 * time (shaders/NAME.comp, embedded by vk_shaders.c), one descriptor set layout and one
 * push-constant range shared by every kernel (shaders/npu_layout.h). */
#ifndef NPU_VK_PIPE_H
#define NPU_VK_PIPE_H

#include "vk_ctx.h"

enum npu_vk_kernel {
    NPU_K_FILL,       /* compaction of b-1, stimuli and propagation of b */
    NPU_K_DYN,        /* dynamics of b, then the setup of b+1 */
    NPU_K_BINS,       /* binned propagation: each bin's events summed into FCL */
    NPU_K_SPREAD,     /* two-level binning: the sparse propagation into bands */
    NPU_K_SPLIT,      /* two-level binning: each band into its bins */
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
    bool stats;                 /* created with VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR */
    uint32_t bin_max_shift;     /* bins.comp holds bins of up to 2^bin_max_shift targets */
    uint32_t bin_wg;            /* bins.comp's workgroup size */
    uint32_t route_wg;          /* spread.comp's and split.comp's workgroup size */
};

/* Builds every pipeline, with the DenormPreserve variants when
 * ctx->denorm_preserve, or the flush-emulating ones when ctx->emulate_ftz.
 * route_wg: spread.comp's and split.comp's workgroup, at most what the
 * device allows; 0 the default.
 * On failure the caller still calls destroy. */
int npu_vk_pipes_create(struct npu_vk_ctx *ctx, struct npu_vk_pipes *p, uint32_t route_wg,
                        struct npu_err *err);
void npu_vk_pipes_destroy(struct npu_vk_ctx *ctx, struct npu_vk_pipes *p);

/* The driver's statistics of every pipeline (VK_KHR_pipeline_executable_
 * properties, captured under NPUSIM_VK_PROFILE=1): one line per kernel and
 * executable, "KERNEL: EXECUTABLE (subgroup N): name=value, name=value...".
 * What the statistics are (registers, shared memory, spills...) is the
 * driver's choice.  buf always ends up a NUL-terminated text to show,
 * whatever the return: NPU_OK; NPU_E_BACKEND when the pipelines have no
 * statistics (buf says why); NPU_E_DEVICE when a query failed (buf ends with
 * the failure); NPU_E_RESOURCE when out of host memory, or when buf is too
 * small (the text is cut). */
int npu_vk_pipes_stats(const struct npu_vk_ctx *ctx, const struct npu_vk_pipes *p, char *buf,
                       size_t len);

#endif
