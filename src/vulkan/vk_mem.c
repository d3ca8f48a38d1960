#include "vk_mem.h"

#include <string.h>

/* Large transfers go through a staging buffer of this size, chunk by chunk,
 * so uploading a big network needs no second copy of it in host memory. */
#define STAGING_BYTES (UINT64_C(16) << 20)
#define MIN_BUFFER_BYTES 16

uint32_t npu_vk_find_memory_type(const struct npu_vk_ctx *ctx, uint32_t type_bits,
                                 VkMemoryPropertyFlags required,
                                 VkMemoryPropertyFlags preferred)
{
    uint32_t fallback = UINT32_MAX;
    for (uint32_t i = 0; i < ctx->mem.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = ctx->mem.memoryTypes[i].propertyFlags;
        if (!(type_bits & (1u << i)) || (f & required) != required)
            continue;
        if ((f & preferred) == preferred)
            return i;
        if (fallback == UINT32_MAX)
            fallback = i;
    }
    return fallback;
}

int npu_vk_buf_create(struct npu_vk_ctx *ctx, struct npu_vk_buf *b, VkDeviceSize size,
                      enum npu_vk_where where, struct npu_err *err)
{
    int rc;
    memset(b, 0, sizeof(*b));
    if (size < MIN_BUFFER_BYTES)
        size = MIN_BUFFER_BYTES;
    const VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                 (where == NPU_VK_DEVICE ? VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT : 0),
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VK_CHECK(ctx->vk.CreateBuffer(ctx->device, &info, NULL, &b->buf));
    b->size = size;
    VkMemoryRequirements req;
    ctx->vk.GetBufferMemoryRequirements(ctx->device, b->buf, &req);
    VkMemoryPropertyFlags required, preferred;
    if (where == NPU_VK_DEVICE) {
        required = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
        preferred = required;
    } else {
        required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        preferred = required | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    }
    uint32_t type = npu_vk_find_memory_type(ctx, req.memoryTypeBits, required, preferred);
    if (type == UINT32_MAX)
        return npu_err_set(err, NPU_E_BACKEND, "vulkan: no %s memory type for a buffer",
                           where == NPU_VK_DEVICE ? "device-local" : "host-visible coherent");
    const VkMemoryAllocateInfo ainfo = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    VK_CHECK(ctx->vk.AllocateMemory(ctx->device, &ainfo, NULL, &b->mem));
    b->cached = where == NPU_VK_HOST &&
                (ctx->mem.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    VK_CHECK(ctx->vk.BindBufferMemory(ctx->device, b->buf, b->mem, 0));
    if (where == NPU_VK_HOST)
        VK_CHECK(ctx->vk.MapMemory(ctx->device, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map));
    return NPU_OK;
error:
    return rc; /* the caller's destroy frees what was made */
}

void npu_vk_buf_destroy(struct npu_vk_ctx *ctx, struct npu_vk_buf *b)
{
    if (!ctx || !b || !ctx->device)
        return;
    if (b->map)
        ctx->vk.UnmapMemory(ctx->device, b->mem);
    if (b->buf)
        ctx->vk.DestroyBuffer(ctx->device, b->buf, NULL);
    if (b->mem)
        ctx->vk.FreeMemory(ctx->device, b->mem, NULL);
    memset(b, 0, sizeof(*b));
}

int npu_vk_submit_wait(struct npu_vk_ctx *ctx, VkCommandBuffer cb, struct npu_err *err)
{
    int rc;
    VkFence fence = VK_NULL_HANDLE;
    const VkFenceCreateInfo finfo = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VK_CHECK(ctx->vk.CreateFence(ctx->device, &finfo, NULL, &fence));
    const VkSubmitInfo sinfo = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cb,
    };
    VK_CHECK(ctx->vk.QueueSubmit(ctx->queue, 1, &sinfo, fence));
    VK_CHECK(ctx->vk.WaitForFences(ctx->device, 1, &fence, VK_TRUE, NPU_VK_FENCE_TIMEOUT_NS));
    rc = npu_vk_ctx_check_messages(ctx, err);
error:
    if (fence)
        ctx->vk.DestroyFence(ctx->device, fence, NULL);
    return rc;
}

static int begin_oneshot(struct npu_vk_ctx *ctx, VkCommandBuffer *cb, struct npu_err *err)
{
    int rc;
    const VkCommandBufferAllocateInfo ainfo = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = ctx->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VK_CHECK(ctx->vk.AllocateCommandBuffers(ctx->device, &ainfo, cb));
    const VkCommandBufferBeginInfo binfo = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    VK_CHECK(ctx->vk.BeginCommandBuffer(*cb, &binfo));
    return NPU_OK;
error:
    return rc;
}

static void free_cb(struct npu_vk_ctx *ctx, VkCommandBuffer cb)
{
    if (cb)
        ctx->vk.FreeCommandBuffers(ctx->device, ctx->pool, 1, &cb);
}

/* One chunk: copy between the staging buffer and dst/src at offset. */
static int copy_chunk(struct npu_vk_ctx *ctx, VkBuffer from, VkDeviceSize from_off, VkBuffer to,
                      VkDeviceSize to_off, VkDeviceSize size, struct npu_err *err)
{
    int rc;
    VkCommandBuffer cb = VK_NULL_HANDLE;
    rc = begin_oneshot(ctx, &cb, err);
    if (rc)
        goto error;
    const VkBufferCopy region = { .srcOffset = from_off, .dstOffset = to_off, .size = size };
    const VkMemoryBarrier before = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    const VkMemoryBarrier after = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_MEMORY_READ_BIT,
    };
    ctx->vk.CmdPipelineBarrier(cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                               VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &before, 0, NULL, 0, NULL);
    ctx->vk.CmdCopyBuffer(cb, from, to, 1, &region);
    ctx->vk.CmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                               VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_ALL_COMMANDS_BIT,
                               0, 1, &after, 0, NULL, 0, NULL);
    VK_CHECK(ctx->vk.EndCommandBuffer(cb));
    rc = npu_vk_submit_wait(ctx, cb, err);
error:
    free_cb(ctx, cb);
    return rc;
}

int npu_vk_buf_write(struct npu_vk_ctx *ctx, struct npu_vk_buf *dst, const void *src,
                     VkDeviceSize size, struct npu_err *err)
{
    struct npu_vk_buf st;
    VkDeviceSize chunk = size < STAGING_BYTES ? size : STAGING_BYTES;
    if (size == 0)
        return NPU_OK;
    int rc = npu_vk_buf_create(ctx, &st, chunk, NPU_VK_HOST, err);
    for (VkDeviceSize off = 0; !rc && off < size; off += chunk) {
        VkDeviceSize n = size - off < chunk ? size - off : chunk;
        memcpy(st.map, (const char *)src + off, n);
        rc = copy_chunk(ctx, st.buf, 0, dst->buf, off, n, err);
    }
    npu_vk_buf_destroy(ctx, &st);
    return rc;
}

int npu_vk_buf_read(struct npu_vk_ctx *ctx, struct npu_vk_buf *src, VkDeviceSize src_off,
                    void *dst, VkDeviceSize size, struct npu_err *err)
{
    struct npu_vk_buf st;
    VkDeviceSize chunk = size < STAGING_BYTES ? size : STAGING_BYTES;
    if (size == 0)
        return NPU_OK;
    int rc = npu_vk_buf_create(ctx, &st, chunk, NPU_VK_HOST, err);
    for (VkDeviceSize off = 0; !rc && off < size; off += chunk) {
        VkDeviceSize n = size - off < chunk ? size - off : chunk;
        rc = copy_chunk(ctx, src->buf, src_off + off, st.buf, 0, n, err);
        if (!rc)
            memcpy((char *)dst + off, st.map, n);
    }
    npu_vk_buf_destroy(ctx, &st);
    return rc;
}

int npu_vk_buf_fill(struct npu_vk_ctx *ctx, struct npu_vk_buf *dst, uint32_t word,
                    struct npu_err *err)
{
    VkCommandBuffer cb = VK_NULL_HANDLE;
    int rc = begin_oneshot(ctx, &cb, err);
    if (rc)
        goto error;
    ctx->vk.CmdFillBuffer(cb, dst->buf, 0, VK_WHOLE_SIZE, word);
    VK_CHECK(ctx->vk.EndCommandBuffer(cb));
    rc = npu_vk_submit_wait(ctx, cb, err);
error:
    free_cb(ctx, cb);
    return rc;
}
