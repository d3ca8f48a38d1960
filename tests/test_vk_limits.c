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

/* Opens and closes; *device_local (when not NULL) gets the device-local
 * bytes the backend allocated. */
static int open_mem(struct npu_backend_cfg cfg, const struct npu_net *net, struct npu_err *err,
                    uint64_t *device_local)
{
    struct npu_backend *be = NULL;
    struct npu_run_params params = { 0 };
    int rc = npu_backend_open(&npu_backend_vulkan, &cfg, net, &params, &be, err);
    if (!rc && device_local) {
        uint64_t host = 0;
        be->ops->memory(be, device_local, &host);
    }
    npu_backend_destroy(be);
    return rc;
}

static int open_with(struct npu_backend_cfg cfg, const struct npu_net *net, struct npu_err *err)
{
    return open_mem(cfg, net, err, NULL);
}

static bool check(bool ok, const char *knob, const char *what, int rc, struct npu_err *err)
{
    if (ok)
        printf("ok: %s: %s\n", knob, err->msg[0] ? err->msg : "opened");
    else
        fprintf(stderr, "FAIL: %s: %s (rc %d: %s)\n", knob, what, rc, err->msg);
    memset(err, 0, sizeof(*err));
    return ok;
}

/* A network that fits the device only without the layout `knob` turns on
 * (the bins, the bands): the automatic choice drops it, a forced one is
 * refused.  The smallest limit that the layout without it fits is what
 * its refusal says it needs; `pin`, when not NULL, is set to "on" while
 * that layout is measured, so that the level below is in it.  Returns the
 * failed checks; leaves knob and pin unset. */
static int check_dropped(struct npu_backend_cfg cfg, const struct npu_net *net, const char *knob,
                         const char *pin)
{
    struct npu_err err = { 0 };
    unsigned long long need = 0;
    int fails = 0;
    if (pin)
        setenv(pin, "on", 1);
    setenv(knob, "off", 1);
    cfg.max_device_bytes = 4096;
    int rc = open_with(cfg, net, &err);
    fails += !check(rc == NPU_E_RESOURCE &&
                        sscanf(err.msg, "vulkan: %llu bytes needed", &need) == 1,
                    knob, "the refusal says how many bytes are needed", rc, &err);
    cfg.max_device_bytes = need;
    uint64_t off = 0, chosen = 0;
    rc = open_mem(cfg, net, &err, &off);
    fails += !check(rc == 0, knob, "off opens at exactly what it needs", rc, &err);
    /* the same layout as off, not one with fewer levels still */
    if (pin)
        unsetenv(pin);
    setenv(knob, "auto", 1);
    rc = open_mem(cfg, net, &err, &chosen);
    fails += !check(rc == 0 && chosen == off, knob, "the automatic choice drops what does not fit",
                    rc, &err);
    setenv(knob, "on", 1);
    rc = open_with(cfg, net, &err);
    fails += !check(rc == NPU_E_RESOURCE && strstr(err.msg, "the limit is"), knob,
                    "forced on, what does not fit is refused", rc, &err);
    cfg.max_device_bytes = 0;
    rc = open_with(cfg, net, &err);
    fails += !check(rc == 0, knob, "forced on opens without the limit", rc, &err);
    unsetenv(knob);
    return fails;
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

    /* A network that fits only without the bins drops them; one that fits
     * with 2048 bins of 32 targets but not with their bands drops those,
     * and only those (the same bytes as NPUSIM_VK_BANDS=off). */
    setenv("NPUSIM_VK_BINS_FROM", "1", 1);
    fails += check_dropped(cfg, small, "NPUSIM_VK_BINS", NULL);
    setenv("NPUSIM_VK_BIN_SHIFT", "5", 1);
    fails += check_dropped(cfg, big, "NPUSIM_VK_BANDS", "NPUSIM_VK_BINS");
    unsetenv("NPUSIM_VK_BIN_SHIFT");
    unsetenv("NPUSIM_VK_BINS_FROM");

    cfg.device_index = 1000;
    rc = open_with(cfg, small, &err);
    EXPECT(rc == NPU_E_BACKEND && strstr(err.msg, "no device 1000"), "a missing device index");

    npu_net_free(small);
    npu_net_free(big);
    return fails ? 1 : 0;
}
