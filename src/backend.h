/* npu_backend: the interface every burst engine implements.
 *
 * A backend is a const table of function pointers (struct npu_backend_ops);
 * its private struct embeds struct npu_backend first.  Backends are chosen
 * by name from npu_backend_find(); an unknown name is an error.
 *
 * Bursts run in batches so a GPU can record many bursts per submission:
 *
 *     create(cfg) -> upload(net) -> { submit(batch) ... collect(&fires) }* -> destroy
 *
 * At most NPU_BACKEND_MAX_IN_FLIGHT batches may be submitted and not yet
 * collected; collect() returns the oldest.  The driver submits batch k+1
 * before writing batch k's fires, so a device runs while the host writes.
 * Batches must be consecutive: each starts at the burst after the last one.
 */
#ifndef NPU_BACKEND_H
#define NPU_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "net.h"

#define NPU_BACKEND_MAX_IN_FLIGHT 2

/* Device choice: the best device with the needed features (discrete, then
 * integrated, then any, so lavapipe too), or only a real GPU, which is what
 * --backend=auto asks for: create() then fails with NPU_E_BACKEND and the
 * driver falls back to the CPU. */
#define NPU_DEVICE_ANY (-1)
#define NPU_DEVICE_HW_ONLY (-2)

struct npu_backend_cfg {
    int device_index;        /* >= 0: that device; NPU_DEVICE_ANY; NPU_DEVICE_HW_ONLY */
    bool validation;         /* Vulkan: enable the Khronos validation layer */
    uint32_t batch;          /* bursts per submission; 0 = automatic */
    uint64_t max_device_bytes; /* 0 = the device's own limit */
    uint32_t threads;        /* CPU: worker threads; 0 = automatic (online CPUs, fewer
                              * for small networks).  Results do not depend on it. */
};

struct npu_run_params {
    int64_t power_q;         /* Q16 amount added to every power neuron each burst; 0 = off */
};

/* A stimulus over a contiguous id range that the backend expands itself,
 * so `neurons = all` and `random P` over a large area cost the host nothing
 * per neuron and can be generated on a device: neuron i of
 * [first, first+count) gets q when `all`, or when
 * npu_fx_pick_hash(key, i) < threshold (see src/fixed.h). */
struct npu_inject_range {
    uint32_t first, count;
    uint32_t key;            /* stream of this (scenario seed, stimulus, burst) */
    uint32_t threshold;      /* pick probability * 2^32 */
    uint32_t all;            /* 1: every neuron, threshold unused */
    uint32_t pad_;
    int64_t q;
};

/* Sensory input of one batch.  Burst first_burst+j injects q[k] into
 * neuron id[k] for k in [off[j], off[j+1]) (explicit neurons: lists and
 * boxes), and the ranges [range_off[j], range_off[j+1]).  Only read during
 * submit. */
struct npu_inject {
    uint32_t first_burst;    /* bursts are numbered from 1 */
    uint32_t count;
    const uint32_t *off;     /* [count + 1] */
    const uint32_t *id;
    const int64_t *q;
    const uint32_t *range_off;                 /* [count + 1], or NULL: no ranges */
    const struct npu_inject_range *ranges;
};

/* Fire queues of one batch, as collect() returns them.  Within each burst ids
 * are strictly ascending and mp[k] is the membrane potential of id[k] at
 * firing.  The arrays belong to the backend and stay valid until the next
 * submit/collect/destroy. */
struct npu_fires {
    uint32_t first_burst;
    uint32_t count;
    const uint32_t *off;     /* [count + 1] */
    const uint32_t *id;
    const float *mp;
    /* [count]: synaptic events of each burst's fires (the sum of their
     * out-degrees), where the backend counts them itself; NULL: the caller
     * counts them from the ids. */
    const uint64_t *events;
};

/* A copy of the dynamic state, for tests and probes.  Caller frees with
 * npu_state_free(). */
struct npu_state {
    uint32_t n;
    float *mp;
    uint16_t *countdown;
    uint16_t *cfc;
};

struct npu_backend;

struct npu_backend_ops {
    const char *name;
    /* Opens the device (if any).  On failure *out is NULL and err says why;
     * NPU_E_BACKEND means "not available here". */
    int (*create)(const struct npu_backend_cfg *cfg, struct npu_backend **out,
                  struct npu_err *err);
    /* Takes the network (a device backend copies it to the device; the CPU
     * backend reads it in place, so net must outlive the backend) and resets
     * the state to burst 0: mp 0, countdown 0, cfc 0, no previous fires. */
    int (*upload)(struct npu_backend *be, const struct npu_net *net,
                  const struct npu_run_params *params, struct npu_err *err);
    /* Largest batch the backend accepts (>= 1). */
    uint32_t (*max_batch)(struct npu_backend *be);
    int (*submit)(struct npu_backend *be, const struct npu_inject *in, struct npu_err *err);
    int (*collect)(struct npu_backend *be, struct npu_fires *out, struct npu_err *err);
    /* State after the last collected batch.  Only with nothing in flight. */
    int (*read_state)(struct npu_backend *be, struct npu_state *out, struct npu_err *err);
    /* Membrane potentials of the given neurons after the last collected
     * burst, into out[n]; only with nothing in flight.  Optional: without
     * it npu_backend_read_mp() goes through read_state. */
    int (*read_mp)(struct npu_backend *be, const uint32_t *ids, uint32_t n, float *out,
                   struct npu_err *err);
    void (*destroy)(struct npu_backend *be);
    /* Optional (NULL: not measured, as on the CPU): seconds the device spent
     * executing the batches collected so far, from its own timestamps;
     * negative when the device cannot tell. */
    double (*device_seconds)(struct npu_backend *be);
    /* Optional (NULL: the backend holds only ordinary host memory, which
     * the process's RSS counts): bytes allocated through the device's API
     * now, in device-local memory and in host-visible memory (upload and
     * readback buffers).  Nothing is freed before destroy or the next
     * upload, so after a run this is its peak. */
    void (*memory)(struct npu_backend *be, uint64_t *device_local, uint64_t *host_visible);
};

struct npu_backend {
    const struct npu_backend_ops *ops;
    char device[256];        /* human-readable device name, for the trace header */
};

extern const struct npu_backend_ops npu_backend_cpu;
extern const struct npu_backend_ops npu_backend_vulkan; /* a stub that says why when not built */

/* Looks a backend up by name ("cpu", "vulkan"); NULL if unknown. */
const struct npu_backend_ops *npu_backend_find(const char *name);

/* create + upload in one step; on failure *out is NULL. */
int npu_backend_open(const struct npu_backend_ops *ops, const struct npu_backend_cfg *cfg,
                     const struct npu_net *net, const struct npu_run_params *params,
                     struct npu_backend **out, struct npu_err *err);

/* NULL is fine. */
void npu_backend_destroy(struct npu_backend *be);

/* The state probes' values: ops->read_mp, or read_state and a pick. */
int npu_backend_read_mp(struct npu_backend *be, const uint32_t *ids, uint32_t n, float *out,
                        struct npu_err *err);

int npu_state_alloc(struct npu_state *st, uint32_t n, struct npu_err *err);
void npu_state_free(struct npu_state *st);

#endif
