#include "sim.h"

#include "clock.h"

#include <stdlib.h>
#include <string.h>

#include "inject.h"
#include "tracequeue.h"

/* Accounts for one collected batch and queues it for the trace. */
static int consume(const struct npu_net *net, const struct npu_scenario *scn, const struct npu_fires *f,
                   const float *probe_mp, const struct npu_sim_opts *opts, struct npu_tq *tq,
                   struct npu_sim_stats *st, struct npu_err *err)
{
    for (uint32_t j = 0; j < f->count; j++) {
        uint32_t b = f->first_burst + j, lo = f->off[j], hi = f->off[j + 1];
        st->fires += hi - lo;
        /* Ids ascend and areas are id ranges in order, so per-area counts
         * are a walk along both instead of a lookup per fire. */
        if (opts->area_fires) {
            uint32_t a = 0;
            for (uint32_t k = lo; k < hi;) {
                uint32_t end = net->areas[a].base + net->areas[a].count, k0 = k;
                while (k < hi && f->id[k] < end)
                    k++;
                opts->area_fires[a++] += k - k0;
            }
        }
        /* A burst's fires are propagated in the next burst, if there is one. */
        if (b < scn->bursts) {
            uint64_t ev = 0;
            if (f->events)
                ev = f->events[j];
            else
                for (uint32_t k = lo; k < hi; k++)
                    ev += npu_net_outdeg(net, f->id[k]);
            st->syn_events += ev;
        }
        st->bursts = b;
    }
    return tq ? npu_tq_push(tq, f, probe_mp, err) : NPU_OK;
}

int npu_sim_run(const struct npu_net *net, const struct npu_scenario *scn, struct npu_backend *be,
                const struct npu_sim_opts *opts, struct npu_sim_stats *st, struct npu_err *err)
{
    memset(st, 0, sizeof(*st));
    uint32_t batch = be->ops->max_batch(be);
    if (opts->batch && opts->batch < batch)
        batch = opts->batch;
    /* State probes read the state after every burst, which needs the
     * backend idle: one burst per submission, nothing ahead. */
    uint32_t max_in_flight = NPU_BACKEND_MAX_IN_FLIGHT;
    float *probe_mp = NULL;
    if (scn->n_probes) {
        batch = 1;
        max_in_flight = 1;
        if (!(probe_mp = malloc((size_t)scn->n_probes * sizeof(float))))
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %u probes", scn->n_probes);
    }
    if (batch == 0)
        batch = 1;

    struct npu_inject_buf inj = { 0 };
    uint32_t next = 1, in_flight = 0;
    bool stopping = false;
    struct npu_tq *tq = NULL;
    int rc = opts->trace ? npu_tq_start(opts->trace, scn->n_probes, &tq, err) : NPU_OK;
    if (rc) {
        free(probe_mp);
        return rc;
    }
    double t0 = npu_clock_now();

    while (!rc && (in_flight > 0 || (next <= scn->bursts && !stopping))) {
        /* Keep the backend busy: submit ahead before writing what is back. */
        while (!rc && !stopping && next <= scn->bursts && in_flight < max_in_flight) {
            uint32_t count = scn->bursts - next + 1 < batch ? scn->bursts - next + 1 : batch;
            double t = npu_clock_now();
            rc = npu_inject_build(scn, net, next, count, &inj, err);
            double t2 = npu_clock_now();
            st->inject_s += t2 - t;
            if (!rc)
                rc = be->ops->submit(be, &inj.view, err);
            st->submit_s += npu_clock_now() - t2;
            if (!rc) {
                next += count;
                in_flight++;
            }
        }
        if (rc || in_flight == 0)
            break;
        struct npu_fires f;
        double t = npu_clock_now();
        rc = be->ops->collect(be, &f, err);
        double t2 = npu_clock_now();
        st->collect_s += t2 - t;
        if (rc)
            break;
        in_flight--;
        if (probe_mp)
            rc = npu_backend_read_mp(be, scn->probe_ids, scn->n_probes, probe_mp, err);
        if (!rc)
            rc = consume(net, scn, &f, probe_mp, opts, tq, st, err);
        st->trace_s += npu_clock_now() - t2;
        if (opts->progress)
            opts->progress(opts->progress_ctx, st->bursts, scn->bursts, npu_clock_now() - t0);
        if (opts->stop && *opts->stop)
            stopping = true;
    }
    /* After an error, drain what is in flight so the backend is idle. */
    while (in_flight > 0) {
        struct npu_fires f;
        struct npu_err ignored;
        if (be->ops->collect(be, &f, &ignored))
            break;
        in_flight--;
    }
    /* Everything handed over is written, also after an error elsewhere. */
    struct npu_err tq_err;
    int tq_rc = npu_tq_finish(tq, &st->writer_s, &tq_err);
    if (!rc && tq_rc) {
        rc = tq_rc;
        if (err)
            *err = tq_err;
    }
    st->wall_s = npu_clock_now() - t0;
    npu_inject_buf_free(&inj);
    free(probe_mp);
    if (!rc && stopping && st->bursts < scn->bursts)
        rc = npu_err_set(err, NPU_E_INTERRUPTED, "interrupted after burst %u of %u", st->bursts,
                         scn->bursts);
    return rc;
}
