/* npu_sim: the run driver.  Expands stimuli batch by batch, keeps up to two
 * batches in flight on the backend, and hands each collected batch to the
 * trace writer's own thread (tracequeue.h) while the next batches run. */
#ifndef NPU_SIM_H
#define NPU_SIM_H

#include <signal.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "net.h"
#include "scenario.h"
#include "trace.h"

struct npu_sim_stats {
    uint32_t bursts;          /* bursts completed (the trace holds fewer if writing failed) */
    uint64_t fires;
    uint64_t syn_events;      /* synapses of fired neurons that were propagated */
    double wall_s;            /* the burst loop only, not loading */
    /* Where the host's time went, inside wall_s: building stimuli, submit()
     * (uploads, recording), collect() (waiting for the device, sorting), and
     * handing the trace its batches (a copy; counting fires and events is
     * in here too).  A device backend is host-bound when these add up to
     * wall_s. */
    double inject_s, submit_s, collect_s, trace_s;
    /* Seconds the trace thread spent encoding and writing: off the loop's
     * path unless the loop had to wait for it (then inside trace_s). */
    double writer_s;
};

typedef void (*npu_sim_progress_fn)(void *ctx, uint32_t done, uint32_t total, double elapsed_s);

struct npu_sim_opts {
    uint32_t batch;                      /* bursts per submission; 0 = the backend's largest */
    struct npu_trace_writer *trace;      /* NULL: no trace */
    volatile sig_atomic_t *stop;         /* set by a signal handler: stop after the current batch */
    npu_sim_progress_fn progress;        /* called after each batch; may be NULL */
    void *progress_ctx;
    uint64_t *area_fires;                /* [n_areas] fire counts per area, or NULL */
};

/* Runs scn->bursts bursts.  Returns NPU_OK, NPU_E_INTERRUPTED when *stop
 * was set (stats say how far it got), or the backend's or trace's error. */
int npu_sim_run(const struct npu_net *net, const struct npu_scenario *scn, struct npu_backend *be,
                const struct npu_sim_opts *opts, struct npu_sim_stats *stats, struct npu_err *err);

#endif
