/* The compute kernels' SPIR-V, compiled by glslc at build time
 * (shaders/meson.build) and embedded: nothing is read at run time. */
#include "vk_pipe.h"

static const uint32_t spv_reset_0[] =
#include "reset.0.spv.h"
;

static const uint32_t spv_reset_1[] =
#include "reset.1.spv.h"
;

static const uint32_t spv_reset_2[] =
#include "reset.2.spv.h"
;

static const uint32_t spv_inject_0[] =
#include "inject.0.spv.h"
;

static const uint32_t spv_inject_1[] =
#include "inject.1.spv.h"
;

static const uint32_t spv_inject_2[] =
#include "inject.2.spv.h"
;

static const uint32_t spv_prop_sparse_0[] =
#include "prop_sparse.0.spv.h"
;

static const uint32_t spv_prop_sparse_1[] =
#include "prop_sparse.1.spv.h"
;

static const uint32_t spv_prop_sparse_2[] =
#include "prop_sparse.2.spv.h"
;

static const uint32_t spv_prop_dense_0[] =
#include "prop_dense.0.spv.h"
;

static const uint32_t spv_prop_dense_1[] =
#include "prop_dense.1.spv.h"
;

static const uint32_t spv_prop_dense_2[] =
#include "prop_dense.2.spv.h"
;

static const uint32_t spv_dyn_sparse_0[] =
#include "dyn_sparse.0.spv.h"
;

static const uint32_t spv_dyn_sparse_1[] =
#include "dyn_sparse.1.spv.h"
;

static const uint32_t spv_dyn_sparse_2[] =
#include "dyn_sparse.2.spv.h"
;

static const uint32_t spv_dyn_dense_0[] =
#include "dyn_dense.0.spv.h"
;

static const uint32_t spv_dyn_dense_1[] =
#include "dyn_dense.1.spv.h"
;

static const uint32_t spv_dyn_dense_2[] =
#include "dyn_dense.2.spv.h"
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
    [NPU_K_RESET] = K(reset),
    [NPU_K_INJECT] = K(inject),
    [NPU_K_PROP_SPARSE] = K(prop_sparse),
    [NPU_K_PROP_DENSE] = K(prop_dense),
    [NPU_K_DYN_SPARSE] = K(dyn_sparse),
    [NPU_K_DYN_DENSE] = K(dyn_dense),
    [NPU_K_SETUP] = K(setup),
    [NPU_K_COMPACT] = K(compact),
    [NPU_K_TEST_ARITH] = K(test_arith),
};
