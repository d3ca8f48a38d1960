#include "tracequeue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "firebuf.h"

/* One batch, copied out of the backend's arrays (off from 0). */
struct tq_buf {
    bool full;
    uint32_t first_burst, count;
    struct npu_firebuf f;
    float *probe;           /* [n_probes] */
};

/* Encoder threads: a batch of many fires is encoded on several threads,
 * each taking a run of its bursts, and then appended in order; the file is
 * the same bytes as when one thread writes it (npu_trace_encode). */
#define TQ_MAX_ENCODERS 8u
#define TQ_PARALLEL_MIN_FIRES 65536u

struct tq_part {
    uint32_t j0, j1;        /* the batch's bursts [j0, j1) */
    uint32_t done;          /* records encoded: j0 + done is the first not */
    int rc;                 /* why the next one failed, if done < j1 - j0 */
    struct npu_err err;
};

struct npu_tq;

struct tq_helper {
    struct npu_tq *q;
    uint32_t k;             /* its part */
};

struct npu_tq {
    struct npu_trace_writer *w;
    uint32_t n_probes;
    struct tq_buf buf[2];
    struct npu_trace_rec *recs; /* [recs_cap], one per burst of the batch */
    uint32_t recs_cap;
    /* the encoders: part 0 is the queue's thread, parts 1.. the helpers */
    uint32_t n_enc;
    struct tq_part part[TQ_MAX_ENCODERS];
    struct tq_helper helper[TQ_MAX_ENCODERS];
    pthread_t helper_thread[TQ_MAX_ENCODERS];
    const struct tq_buf *job;   /* the batch being encoded */
    uint64_t job_gen;           /* bumped per parallel batch */
    uint32_t parts_left;        /* helpers not done with this batch */
    bool helpers_quit;
    pthread_cond_t job_ready, job_done;
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

/* Everything but the threads, which have been joined or never started. */
static void tq_free(struct npu_tq *q)
{
    pthread_mutex_destroy(&q->m);
    pthread_cond_destroy(&q->filled);
    pthread_cond_destroy(&q->emptied);
    pthread_cond_destroy(&q->job_ready);
    pthread_cond_destroy(&q->job_done);
    buf_free(&q->buf[0]);
    buf_free(&q->buf[1]);
    for (uint32_t j = 0; j < q->recs_cap; j++)
        npu_trace_rec_free(&q->recs[j]);
    free(q->recs);
    free(q);
}

/* Encodes part p's bursts of batch b into their records, stopping at the
 * first that fails. */
static void encode_part(struct npu_tq *q, const struct tq_buf *b, struct tq_part *p)
{
    p->done = 0;
    p->rc = NPU_OK;
    for (uint32_t j = p->j0; j < p->j1; j++, p->done++) {
        uint32_t lo = b->f.off[j], hi = b->f.off[j + 1];
        p->rc = npu_trace_encode(q->w, b->first_burst + j, hi - lo, b->f.id + lo, b->f.mp + lo,
                                 q->n_probes ? b->probe : NULL, &q->recs[j], &p->err);
        if (p->rc)
            return;
    }
}

static void *helper_main(void *arg)
{
    struct tq_helper *h = arg;
    struct npu_tq *q = h->q;
    uint64_t seen = 0;
    pthread_mutex_lock(&q->m);
    for (;;) {
        while (q->job_gen == seen && !q->helpers_quit)
            pthread_cond_wait(&q->job_ready, &q->m);
        if (q->helpers_quit)
            break;
        seen = q->job_gen;
        const struct tq_buf *b = q->job;
        pthread_mutex_unlock(&q->m);
        encode_part(q, b, &q->part[h->k]);
        pthread_mutex_lock(&q->m);
        if (--q->parts_left == 0)
            pthread_cond_signal(&q->job_done);
    }
    pthread_mutex_unlock(&q->m);
    return NULL;
}

/* Grows the per-burst records to n, the new ones empty. */
static int recs_reserve(struct npu_tq *q, uint32_t n, struct npu_err *err)
{
    if (n <= q->recs_cap)
        return NPU_OK;
    struct npu_trace_rec *r = realloc(q->recs, (size_t)n * sizeof(*r));
    if (!r)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %u trace records", n);
    memset(r + q->recs_cap, 0, (size_t)(n - q->recs_cap) * sizeof(*r));
    q->recs = r;
    q->recs_cap = n;
    return NPU_OK;
}

/* Writes batch b: on this thread alone when it is small, else encoded by
 * every encoder (a run of bursts each) and appended in burst order.  Either
 * way the records before a failing burst are written and its error is the
 * one returned. */
static int write_batch(struct npu_tq *q, const struct tq_buf *b, struct npu_err *err)
{
    uint32_t fires = b->f.off[b->count];
    if (q->n_enc < 2 || b->count < 2 || fires < TQ_PARALLEL_MIN_FIRES) {
        for (uint32_t j = 0; j < b->count; j++) {
            uint32_t lo = b->f.off[j], hi = b->f.off[j + 1];
            int rc = npu_trace_writer_burst_probes(q->w, b->first_burst + j, hi - lo,
                                                   b->f.id + lo, b->f.mp + lo,
                                                   q->n_probes ? b->probe : NULL, err);
            if (rc)
                return rc;
        }
        return npu_trace_writer_flush(q->w, err);
    }
    int rc = recs_reserve(q, b->count, err);
    if (rc)
        return rc;
    for (uint32_t k = 0; k < q->n_enc; k++) {
        q->part[k].j0 = (uint32_t)((uint64_t)b->count * k / q->n_enc);
        q->part[k].j1 = (uint32_t)((uint64_t)b->count * (k + 1) / q->n_enc);
    }
    pthread_mutex_lock(&q->m);
    q->job = b;
    q->parts_left = q->n_enc - 1;
    q->job_gen++;
    pthread_cond_broadcast(&q->job_ready);
    pthread_mutex_unlock(&q->m);
    encode_part(q, b, &q->part[0]);
    pthread_mutex_lock(&q->m);
    while (q->parts_left)
        pthread_cond_wait(&q->job_done, &q->m);
    pthread_mutex_unlock(&q->m);
    for (uint32_t k = 0; k < q->n_enc; k++) {
        const struct tq_part *p = &q->part[k];
        for (uint32_t j = p->j0; j < p->j0 + p->done; j++)
            if ((rc = npu_trace_writer_append(q->w, &q->recs[j], err)))
                return rc;
        if (p->rc) {
            *err = p->err;
            return p->rc;
        }
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
    pthread_cond_init(&q->job_ready, NULL);
    pthread_cond_init(&q->job_done, NULL);
    for (int k = 0; k < 2 && n_probes; k++)
        if (!(q->buf[k].probe = malloc((size_t)n_probes * sizeof(float)))) {
            tq_free(q);
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %u probes", n_probes);
        }
    if (pthread_create(&q->thread, NULL, tq_main, q) != 0) {
        tq_free(q);
        return npu_err_set(err, NPU_E_RESOURCE, "cannot start the trace writer thread");
    }
    /* Helpers where there are cores for them; with none (or when one
     * cannot start) fewer encoders share the work, which stays correct. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t want = cpus > (long)TQ_MAX_ENCODERS ? TQ_MAX_ENCODERS : cpus > 1 ? (uint32_t)cpus : 1;
    q->n_enc = 1;
    while (q->n_enc < want) {
        struct tq_helper *h = &q->helper[q->n_enc];
        h->q = q;
        h->k = q->n_enc;
        if (pthread_create(&q->helper_thread[q->n_enc], NULL, helper_main, h) != 0)
            break;
        q->n_enc++;
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
    pthread_mutex_lock(&q->m);
    q->helpers_quit = true;
    pthread_cond_broadcast(&q->job_ready);
    pthread_mutex_unlock(&q->m);
    for (uint32_t k = 1; k < q->n_enc; k++)
        pthread_join(q->helper_thread[k], NULL);
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
