/* npu_tq: writes the trace on a thread of its own, so encoding and writing
 * a batch overlap the next batches instead of delaying them.
 *
 * The caller hands over each collected batch with npu_tq_push(), which
 * copies it (the backend reuses its arrays on the next collect) into one of
 * two buffers and returns; the thread encodes the bursts into the trace
 * writer and flushes them.  A failed write (a full disk, say) is reported
 * by the next push and by npu_tq_finish(), and nothing after it is written,
 * so the file reads back as cut short at the last complete record, as it
 * does when written without the queue. */
#ifndef NPU_TRACEQUEUE_H
#define NPU_TRACEQUEUE_H

#include "backend.h"
#include "err.h"
#include "trace.h"

struct npu_tq;

/* Starts the thread for writer w, whose records carry n_probes probe
 * values.  w stays the caller's; it must not be used until finish. */
int npu_tq_start(struct npu_trace_writer *w, uint32_t n_probes, struct npu_tq **out,
                 struct npu_err *err);

/* Queues the batch f, with probe_mp (n_probes values) for its bursts; with
 * probes a batch is one burst.  Waits while both buffers are queued.
 * Returns the thread's error once a write has failed. */
int npu_tq_push(struct npu_tq *q, const struct npu_fires *f, const float *probe_mp,
                struct npu_err *err);

/* Writes and flushes everything queued, stops the thread and frees q (NULL
 * is fine).  Returns the first error; *busy_s (may be NULL) gets the
 * seconds the thread spent writing. */
int npu_tq_finish(struct npu_tq *q, double *busy_s, struct npu_err *err);

#endif
