#include "tracequeue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "firebuf.h"

/* One batch, copied out of the backend's arrays (off from 0). */
struct tq_buf {
    bool full;
    uint32_t first_burst, count;
    struct npu_firebuf f;
    float *probe;           /* [n_probes] */
};

struct npu_tq {
    struct npu_trace_writer *w;
    uint32_t n_probes;
    struct tq_buf buf[2];
    unsigned put, take;     /* next buffer to fill / to write */
    pthread_mutex_t m;
    pthread_cond_t filled, emptied;
    bool quit;
    bool failed;            /* a write failed: err holds why, nothing more is written */
    struct npu_err err;
    double busy_s;
    pthread_t thread;
};

static void buf_free(struct tq_buf *b)
{
    npu_firebuf_free(&b->f);
    free(b->probe);
}

/* Everything but the thread, which has been joined or never started. */
static void tq_free(struct npu_tq *q)
{
    pthread_mutex_destroy(&q->m);
    pthread_cond_destroy(&q->filled);
    pthread_cond_destroy(&q->emptied);
    buf_free(&q->buf[0]);
    buf_free(&q->buf[1]);
    free(q);
}

static int write_batch(struct npu_tq *q, const struct tq_buf *b, struct npu_err *err)
{
    for (uint32_t j = 0; j < b->count; j++) {
        uint32_t lo = b->f.off[j], hi = b->f.off[j + 1];
        int rc = npu_trace_writer_burst_probes(q->w, b->first_burst + j, hi - lo, b->f.id + lo,
                                               b->f.mp + lo, q->n_probes ? b->probe : NULL, err);
        if (rc)
            return rc;
    }
    return npu_trace_writer_flush(q->w, err);
}

static void *tq_main(void *arg)
{
    struct npu_tq *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->m);
        while (!q->buf[q->take].full && !q->quit)
            pthread_cond_wait(&q->filled, &q->m);
        if (!q->buf[q->take].full) {
            pthread_mutex_unlock(&q->m);
            return NULL;
        }
        bool skip = q->failed;
        pthread_mutex_unlock(&q->m);

        /* The buffer is this thread's until it is marked empty again. */
        struct npu_err err = { 0 };
        double t = npu_clock_now();
        int rc = skip ? NPU_OK : write_batch(q, &q->buf[q->take], &err);
        double dt = npu_clock_now() - t;

        pthread_mutex_lock(&q->m);
        q->busy_s += dt;
        if (rc && !q->failed) {
            q->failed = true;
            q->err = err;
        }
        q->buf[q->take].full = false;
        q->take ^= 1;
        pthread_cond_signal(&q->emptied);
        pthread_mutex_unlock(&q->m);
    }
}

int npu_tq_start(struct npu_trace_writer *w, uint32_t n_probes, struct npu_tq **out,
                 struct npu_err *err)
{
    *out = NULL;
    struct npu_tq *q = calloc(1, sizeof(*q));
    if (!q)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for the trace queue");
    q->w = w;
    q->n_probes = n_probes;
    pthread_mutex_init(&q->m, NULL);
    pthread_cond_init(&q->filled, NULL);
    pthread_cond_init(&q->emptied, NULL);
    for (int k = 0; k < 2 && n_probes; k++)
        if (!(q->buf[k].probe = malloc((size_t)n_probes * sizeof(float)))) {
            tq_free(q);
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %u probes", n_probes);
        }
    if (pthread_create(&q->thread, NULL, tq_main, q) != 0) {
        tq_free(q);
        return npu_err_set(err, NPU_E_RESOURCE, "cannot start the trace writer thread");
    }
    *out = q;
    return NPU_OK;
}

int npu_tq_push(struct npu_tq *q, const struct npu_fires *f, const float *probe_mp,
                struct npu_err *err)
{
    if (q->n_probes && f->count != 1)
        return npu_err_set(err, NPU_E_INTERNAL, "trace queue: %u bursts in a probed batch", f->count);
    pthread_mutex_lock(&q->m);
    while (q->buf[q->put].full && !q->failed)
        pthread_cond_wait(&q->emptied, &q->m);
    if (q->failed) {
        int code = q->err.code;
        if (err)
            *err = q->err;
        pthread_mutex_unlock(&q->m);
        return code;
    }
    pthread_mutex_unlock(&q->m);

    /* Not full, so the thread does not touch it. */
    struct tq_buf *b = &q->buf[q->put];
    uint32_t base = f->off[0];
    size_t n = f->off[f->count] - base;
    int rc = npu_firebuf_reserve(&b->f, f->count, n, err);
    if (rc)
        return rc;
    for (uint32_t j = 0; j <= f->count; j++)
        b->f.off[j] = f->off[j] - base;
    if (n) {
        memcpy(b->f.id, f->id + base, n * sizeof(*b->f.id));
        memcpy(b->f.mp, f->mp + base, n * sizeof(*b->f.mp));
    }
    if (q->n_probes)
        memcpy(b->probe, probe_mp, (size_t)q->n_probes * sizeof(float));
    b->first_burst = f->first_burst;
    b->count = f->count;

    pthread_mutex_lock(&q->m);
    b->full = true;
    q->put ^= 1;
    pthread_cond_signal(&q->filled);
    pthread_mutex_unlock(&q->m);
    return NPU_OK;
}

int npu_tq_finish(struct npu_tq *q, double *busy_s, struct npu_err *err)
{
    if (busy_s)
        *busy_s = 0.0;
    if (!q)
        return NPU_OK;
    pthread_mutex_lock(&q->m);
    q->quit = true;
    pthread_cond_signal(&q->filled);
    pthread_mutex_unlock(&q->m);
    pthread_join(q->thread, NULL);
    int rc = NPU_OK;
    if (q->failed) {
        rc = q->err.code;
        if (err)
            *err = q->err;
    }
    if (busy_s)
        *busy_s = q->busy_s;
    tq_free(q);
    return rc;
}
