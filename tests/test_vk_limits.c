/* Resource limits of the Vulkan backend: a network or batch that cannot fit
 * is refused with NPU_E_RESOURCE and the numbers, before anything is
 * allocated; an impossible device index is NPU_E_BACKEND.  Exit 77 (skip)
 * without a device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define SKIP 77

static struct npu_net *line_net(uint32_t n)
{
    struct npu_net *net = calloc(1, sizeof(*net));
    net->n_areas = 1;
    net->areas = calloc(1, sizeof(*net->areas));
    net->areas[0] = (struct npu_area){ .name = "a", .count = n, .dim = { n, 1, 1 },
                                       .threshold = 1.0f, .keep = 1.0f, .excitability = 1.0f };
    net->n_neurons = n;
    net->n_synapses = 0;
    struct npu_err err;
    if (npu_net_alloc_arrays(net, &err))
        abort();
    memset(net->area_of, 0, n * sizeof(uint16_t));
    return net;
}

static int open_with(struct npu_backend_cfg cfg, const struct npu_net *net, struct npu_err *err)
{
    struct npu_backend *be = NULL;
    struct npu_run_params params = { 0 };
    int rc = npu_backend_open(&npu_backend_vulkan, &cfg, net, &params, &be, err);
    npu_backend_destroy(be);
    return rc;
}

int main(void)
{
    struct npu_err err = { 0 };
    struct npu_net *small = line_net(100);
    struct npu_backend_cfg cfg = { .device_index = NPU_DEVICE_ANY, .validation = !getenv("NPUSIM_NO_VALIDATION") };
    int rc = open_with(cfg, small, &err);
    if (rc == NPU_E_BACKEND) {
        printf("SKIP: %s\n", err.msg);
        npu_net_free(small);
        return SKIP;
    }
    int fails = 0;
#define EXPECT(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                             \
            fprintf(stderr, " (rc %d: %s)\n", rc, err.msg);                    \
            fails++;                                                           \
        } else {                                                               \
            printf("ok: %s\n", err.msg[0] ? err.msg : "opened");               \
        }                                                                      \
        memset(&err, 0, sizeof(err));                                          \
    } while (0)
    EXPECT(rc == 0, "a 100-neuron network opens");

    cfg.max_device_bytes = 4096;
    rc = open_with(cfg, small, &err);
    EXPECT(rc == NPU_E_RESOURCE && strstr(err.msg, "the limit is 4096"),
           "max_device_bytes is enforced");
    cfg.max_device_bytes = 0;

    /* Every neuron firing every burst of a 2^20-burst batch cannot be read back. */
    struct npu_net *big = line_net(1u << 16);
    cfg.batch = 1u << 20;
    rc = open_with(cfg, big, &err);
    EXPECT(rc == NPU_E_RESOURCE && strstr(err.msg, "readback"), "an oversized batch is refused");
    cfg.batch = 0;

    /* The automatic batch shrinks to fit instead. */
    rc = open_with(cfg, big, &err);
    EXPECT(rc == 0, "the automatic batch fits");

    /* A network that fits only without the bins: the automatic choice
     * drops them, a forced one is refused.  The smallest limit that the
     * plain layout fits is what its refusal says it needs. */
    setenv("NPUSIM_VK_BINS", "off", 1);
    cfg.max_device_bytes = 4096;
    rc = open_with(cfg, small, &err);
    unsigned long long need = 0;
    EXPECT(rc == NPU_E_RESOURCE && sscanf(err.msg, "vulkan: %llu bytes needed", &need) == 1,
           "the refusal says how many bytes are needed");
    cfg.max_device_bytes = need;
    rc = open_with(cfg, small, &err);
    EXPECT(rc == 0, "the plain layout opens at exactly what it needs");
    setenv("NPUSIM_VK_BINS", "auto", 1);
    setenv("NPUSIM_VK_BINS_FROM", "1", 1);
    rc = open_with(cfg, small, &err);
    EXPECT(rc == 0, "the automatic choice drops bins that do not fit");
    setenv("NPUSIM_VK_BINS", "on", 1);
    rc = open_with(cfg, small, &err);
    EXPECT(rc == NPU_E_RESOURCE && strstr(err.msg, "the limit is"),
           "forced bins that do not fit are refused");
    cfg.max_device_bytes = 0;
    rc = open_with(cfg, small, &err);
    EXPECT(rc == 0, "forced bins open without the limit");
    unsetenv("NPUSIM_VK_BINS_FROM");

    /* The same a level up: 2048 bins of 32 targets that fit without the
     * bands drop them in the automatic choice; forced bands are refused. */
    setenv("NPUSIM_VK_BIN_SHIFT", "5", 1);
    setenv("NPUSIM_VK_BANDS", "off", 1);
    cfg.max_device_bytes = 4096;
    rc = open_with(cfg, big, &err);
    need = 0;
    EXPECT(rc == NPU_E_RESOURCE && sscanf(err.msg, "vulkan: %llu bytes needed", &need) == 1,
           "the refusal without the bands says how many bytes are needed");
    cfg.max_device_bytes = need;
    rc = open_with(cfg, big, &err);
    EXPECT(rc == 0, "the one-level layout opens at exactly what it needs");
    setenv("NPUSIM_VK_BANDS", "auto", 1);
    rc = open_with(cfg, big, &err);
    EXPECT(rc == 0, "the automatic choice drops bands that do not fit");
    setenv("NPUSIM_VK_BANDS", "on", 1);
    rc = open_with(cfg, big, &err);
    EXPECT(rc == NPU_E_RESOURCE && strstr(err.msg, "the limit is"),
           "forced bands that do not fit are refused");
    cfg.max_device_bytes = 0;
    rc = open_with(cfg, big, &err);
    EXPECT(rc == 0, "forced bands open without the limit");
    unsetenv("NPUSIM_VK_BANDS");
    unsetenv("NPUSIM_VK_BIN_SHIFT");
    unsetenv("NPUSIM_VK_BINS");

    cfg.device_index = 1000;
    rc = open_with(cfg, small, &err);
    EXPECT(rc == NPU_E_BACKEND && strstr(err.msg, "no device 1000"), "a missing device index");

    npu_net_free(small);
    npu_net_free(big);
    return fails ? 1 : 0;
}
