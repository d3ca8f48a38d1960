/* The compute kernels' SPIR-V, compiled by glslc at build time
 * (shaders/meson.build) and embedded: nothing is read at run time. */
#include "vk_pipe.h"

static const uint32_t spv_fill_0[] =
#include "fill.0.spv.h"
;

static const uint32_t spv_fill_1[] =
#include "fill.1.spv.h"
;

static const uint32_t spv_fill_2[] =
#include "fill.2.spv.h"
;

static const uint32_t spv_dyn_0[] =
#include "dyn.0.spv.h"
;

static const uint32_t spv_dyn_1[] =
#include "dyn.1.spv.h"
;

static const uint32_t spv_dyn_2[] =
#include "dyn.2.spv.h"
;

static const uint32_t spv_bins_0[] =
#include "bins.0.spv.h"
;

static const uint32_t spv_bins_1[] =
#include "bins.1.spv.h"
;

static const uint32_t spv_bins_2[] =
#include "bins.2.spv.h"
;

static const uint32_t spv_spread_0[] =
#include "spread.0.spv.h"
;

static const uint32_t spv_spread_1[] =
#include "spread.1.spv.h"
;

static const uint32_t spv_spread_2[] =
#include "spread.2.spv.h"
;

static const uint32_t spv_split_0[] =
#include "split.0.spv.h"
;

static const uint32_t spv_split_1[] =
#include "split.1.spv.h"
;

static const uint32_t spv_split_2[] =
#include "split.2.spv.h"
;

static const uint32_t spv_test_arith_0[] =
#include "test_arith.0.spv.h"
;

static const uint32_t spv_test_arith_1[] =
#include "test_arith.1.spv.h"
;

static const uint32_t spv_test_arith_2[] =
#include "test_arith.2.spv.h"
;

#define K(name) { #name, { spv_##name##_0, spv_##name##_1, spv_##name##_2 }, \
                 { sizeof(spv_##name##_0), sizeof(spv_##name##_1), sizeof(spv_##name##_2) } }

const struct npu_vk_spirv npu_vk_spirv[NPU_K_COUNT] = {
    [NPU_K_FILL] = K(fill),
    [NPU_K_DYN] = K(dyn),
    [NPU_K_BINS] = K(bins),
    [NPU_K_SPREAD] = K(spread),
    [NPU_K_SPLIT] = K(split),
    [NPU_K_TEST_ARITH] = K(test_arith),
};
