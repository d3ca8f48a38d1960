/* vk_mem: buffers, their memory, and copies between host and device. */
#ifndef NPU_VK_MEM_H
#define NPU_VK_MEM_H

#include "vk_ctx.h"

struct npu_vk_buf {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map;      /* host-visible buffers stay mapped; NULL for device-local */
    bool cached;    /* host-visible and HOST_CACHED (fast to read on the host) */
};

enum npu_vk_where {
    NPU_VK_DEVICE,  /* device-local: the network and the state */
    NPU_VK_HOST,    /* host-visible, coherent, preferably cached: uploads and readback */
};

/* Index of a memory type allowed by type_bits with all `required` flags,
 * preferring one that also has `preferred`; UINT32_MAX if none. */
uint32_t npu_vk_find_memory_type(const struct npu_vk_ctx *ctx, uint32_t type_bits,
                                 VkMemoryPropertyFlags required,
                                 VkMemoryPropertyFlags preferred);

/* A storage buffer (also usable as transfer source/destination and, for
 * device-local ones, indirect arguments).  size 0 allocates a small buffer so
 * every binding is valid. */
int npu_vk_buf_create(struct npu_vk_ctx *ctx, struct npu_vk_buf *b, VkDeviceSize size,
                      enum npu_vk_where where, struct npu_err *err);

/* NULL-safe, and safe on a zeroed or half-made buffer. */
void npu_vk_buf_destroy(struct npu_vk_ctx *ctx, struct npu_vk_buf *b);

/* Host <-> device-local copies through a bounded staging buffer; each waits
 * for the device (with NPU_VK_FENCE_TIMEOUT_NS).  Only while nothing runs. */
int npu_vk_buf_write(struct npu_vk_ctx *ctx, struct npu_vk_buf *dst, const void *src,
                     VkDeviceSize size, struct npu_err *err);
/* Reads size bytes from src at byte offset src_off. */
int npu_vk_buf_read(struct npu_vk_ctx *ctx, struct npu_vk_buf *src, VkDeviceSize src_off,
                    void *dst, VkDeviceSize size, struct npu_err *err);
/* Fills the first size bytes with the 32-bit word `word`. */
int npu_vk_buf_fill(struct npu_vk_ctx *ctx, struct npu_vk_buf *dst, uint32_t word,
                    struct npu_err *err);

/* Submits one command buffer and waits for it, with the fence timeout. */
int npu_vk_submit_wait(struct npu_vk_ctx *ctx, VkCommandBuffer cb, struct npu_err *err);

#endif
