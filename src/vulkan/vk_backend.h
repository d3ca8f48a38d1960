/* The Vulkan backend's extra entry points, for tests only. */
#ifndef NPU_VK_BACKEND_H
#define NPU_VK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

/* Runs shaders/test_arith.comp in mode (NPU_TEST_*, shaders/npu_layout.h) on
 * n_items items: in holds in_words words, out receives out_words words.  be
 * must come from npu_backend_vulkan with a network uploaded and nothing in
 * flight. */
int npu_vk_test_arith(struct npu_backend *be, uint32_t mode, uint32_t n_items,
                      const uint32_t *in, uint32_t in_words, uint32_t *out, uint32_t out_words,
                      struct npu_err *err);

/* Whether the chosen device runs the DenormPreserve shader variants. */
bool npu_vk_denorm_preserve(const struct npu_backend *be);

#endif
