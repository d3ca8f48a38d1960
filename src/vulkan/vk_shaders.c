/* The compute kernels' SPIR-V, compiled by glslc at build time
 * (shaders/meson.build) and embedded: nothing is read at run time. */
#include "vk_pipe.h"

static const uint32_t spv_inject_0[] =
#include "inject.0.spv.h"
;

static const uint32_t spv_inject_1[] =
#include "inject.1.spv.h"
;

static const uint32_t spv_inject_2[] =
#include "inject.2.spv.h"
;

static const uint32_t spv_prop_0[] =
#include "prop.0.spv.h"
;

static const uint32_t spv_prop_1[] =
#include "prop.1.spv.h"
;

static const uint32_t spv_prop_2[] =
#include "prop.2.spv.h"
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

static const uint32_t spv_setup_0[] =
#include "setup.0.spv.h"
;

static const uint32_t spv_setup_1[] =
#include "setup.1.spv.h"
;

static const uint32_t spv_setup_2[] =
#include "setup.2.spv.h"
;

static const uint32_t spv_compact_0[] =
#include "compact.0.spv.h"
;

static const uint32_t spv_compact_1[] =
#include "compact.1.spv.h"
;

static const uint32_t spv_compact_2[] =
#include "compact.2.spv.h"
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
    [NPU_K_INJECT] = K(inject),
    [NPU_K_PROP] = K(prop),
    [NPU_K_DYN] = K(dyn),
    [NPU_K_SETUP] = K(setup),
    [NPU_K_COMPACT] = K(compact),
    [NPU_K_TEST_ARITH] = K(test_arith),
};
