#include "connect.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "rng.h"

/* The fanout rule splits its sources over threads from this many synapses
 * on, at most MAX_GEN_THREADS of them: each source's targets depend only on
 * (seed, index, source), and each source owns a fixed slice of the output,
 * so the result is the same for any thread count. */
#define GEN_THREADS_MIN_SYNAPSES (UINT64_C(1) << 22)
#define MAX_GEN_THREADS 8

/* Growable output, with the overall synapse limit checked on every append. */
static int reserve(struct npu_conn_out *o, uint64_t n, size_t *cap, struct npu_err *err)
{
    if (n > NPU_MAX_SYNAPSES)
        return npu_err_set(err, NPU_E_RESOURCE, "more than %llu synapses",
                           (unsigned long long)NPU_MAX_SYNAPSES);
    if (n <= *cap)
        return NPU_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < n)
        c *= 2;
    uint32_t *t = realloc(o->tgt, c * sizeof(*t));
    if (t)
        o->tgt = t;
    uint16_t *w = realloc(o->wp, c * sizeof(*w));
    if (w)
        o->wp = w;
    if (!t || !w)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory for %llu synapses",
                           (unsigned long long)n);
    npu_mem_huge(t, c * sizeof(*t));
    npu_mem_huge(w, c * sizeof(*w));
    *cap = c;
    return NPU_OK;
}

static void insertion_sort(uint32_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t x = v[i], j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* Up to this many keys, sort_u32 distributes them into buckets by their top
 * bits and then insertion-sorts (few inversions are left): for a row's 100
 * random targets that is about a third of the work of the radix passes,
 * whose 256 counters per pass cost more than the keys. */
#define BUCKET_SORT_MAX 1024u

/* The keys by their top bits into at least n buckets (a power of two),
 * stably, so only keys of the same bucket can be out of order; then an
 * insertion sort.  n <= BUCKET_SORT_MAX; tmp holds n. */
static void bucket_sort(uint32_t *v, uint32_t n, uint32_t *tmp)
{
    uint32_t most = 0;
    for (uint32_t i = 0; i < n; i++)
        most = v[i] > most ? v[i] : most;
    uint32_t bits = 0, nb = 1;
    while (nb < n) {
        nb <<= 1;
        bits++;
    }
    uint32_t width = 0;   /* significant bits of the largest key */
    while (width < 32 && (most >> width) != 0)
        width++;
    uint32_t shift = width > bits ? width - bits : 0;
    uint32_t count[BUCKET_SORT_MAX + 1];
    memset(count, 0, (nb + 1) * sizeof(count[0]));
    for (uint32_t i = 0; i < n; i++)
        count[(v[i] >> shift) + 1]++;
    for (uint32_t d = 0; d < nb; d++)
        count[d + 1] += count[d];
    for (uint32_t i = 0; i < n; i++)
        tmp[count[v[i] >> shift]++] = v[i];
    memcpy(v, tmp, n * sizeof(*v));
    insertion_sort(v, n);
}

/* Ascending.  Few keys: insertion sort; up to BUCKET_SORT_MAX: buckets;
 * more: LSD radix sort, 8 bits a pass, skipping passes where every key
 * shares the digit (target ids of one area rarely use the top byte).  tmp
 * holds n. */
static void sort_u32(uint32_t *v, uint32_t n, uint32_t *tmp)
{
    if (n <= 32) {
        insertion_sort(v, n);
        return;
    }
    if (n <= BUCKET_SORT_MAX) {
        bucket_sort(v, n, tmp);
        return;
    }
    uint32_t *src = v, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        uint32_t count[257] = { 0 };
        for (uint32_t i = 0; i < n; i++)
            count[((src[i] >> shift) & 0xff) + 1]++;
        if (count[((src[0] >> shift) & 0xff) + 1] == n)
            continue;
        for (int d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (uint32_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 0xff]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
}

/* Appends one synapse, growing the arrays as needed. */
static int push(struct npu_conn_out *o, size_t *cap, uint32_t tgt, uint16_t wp, struct npu_err *err)
{
    int rc = reserve(o, o->n + 1, cap, err);
    if (!rc) {
        o->tgt[o->n] = tgt;
        o->wp[o->n++] = wp;
    }
    return rc;
}

/* The fanout rule's k = sp->fanout distinct targets of source s, as local
 * indices below T, ascending, into buf; tmp holds k.  (k <= T: the loader
 * checks it.) */
static void fanout_targets(const struct npu_conn_spec *sp, uint64_t seed, uint32_t index,
                           uint32_t s, uint32_t T, uint32_t *buf, uint32_t *tmp)
{
    uint32_t k = sp->fanout;
    if ((uint64_t)k * 4 >= T) {
        /* Dense: selection sampling walks the targets once. */
        uint32_t need = k, n = 0;
        for (uint32_t t = 0; t < T && need > 0; t++) {
            uint64_t h = npu_rng_hash4(seed, index, s, t);
            if (npu_rng_below(h, T - t) < need) {
                buf[n++] = t;
                need--;
            }
        }
        return;
    }
    /* Sparse: draw, sort, drop repeats, draw again for the missing ones. */
    uint64_t draw = 0;
    uint32_t n = 0;
    while (n < k) {
        for (uint32_t i = n; i < k; i++)
            buf[i] = npu_rng_below(npu_rng_hash4(seed, index, s, draw++), T);
        sort_u32(buf, k, tmp);
        uint32_t m = 1;
        for (uint32_t i = 1; i < k; i++)
            if (buf[i] != buf[m - 1])
                buf[m++] = buf[i];
        n = m;
    }
}

/* The random rule for one source s: appends its targets in ascending order.
 * buf and tmp hold fanout entries (NULL for a probability rule). */
static int random_targets(const struct npu_conn_spec *sp, uint64_t seed, uint32_t index, uint32_t s,
                          const struct npu_area *B, uint32_t inh, uint16_t wp, struct npu_conn_out *o,
                          size_t *cap, uint32_t *buf, uint32_t *tmp, struct npu_err *err)
{
    uint32_t T = B->count;
    int rc = NPU_OK;
    if (sp->probability > 0.0) {
        if (sp->probability >= 1.0) {
            for (uint32_t t = 0; t < T && !rc; t++)
                rc = push(o, cap, inh | (B->base + t), wp, err);
            return rc;
        }
        /* Geometric skips: the gap to the next chosen pair is
         * floor(ln u / ln(1-p)), the same distribution as a coin per pair
         * at a cost proportional to the pairs chosen. */
        double l1p = npu_rng_log(1.0 - sp->probability);
        uint64_t t = 0;
        for (uint64_t draw = 0; !rc; draw++) {
            double u = npu_rng_unit(npu_rng_hash4(seed, index, s, draw));
            double gap = npu_rng_log(u) / l1p;
            if (gap >= (double)T)
                break;
            t += (uint64_t)gap;
            if (t >= T)
                break;
            rc = push(o, cap, inh | (B->base + (uint32_t)t), wp, err);
            t++;
        }
        return rc;
    }
    uint32_t k = sp->fanout;
    fanout_targets(sp, seed, index, s, T, buf, tmp);
    for (uint32_t i = 0; i < k && !rc; i++)
        rc = push(o, cap, inh | (B->base + buf[i]), wp, err);
    return rc;
}

/* One thread's share of a fanout rule: sources [k0, k1) of area A, each
 * writing its fanout targets into its own slice of the reserved output. */
struct fanout_job {
    const struct npu_conn_spec *sp;
    uint64_t seed;
    uint32_t index, base, k0, k1, inh;
    uint16_t wp;
    const struct npu_area *B;
    struct npu_conn_out *o;
    uint32_t *buf, *tmp;
};

static void *fanout_run(void *arg)
{
    const struct fanout_job *j = arg;
    uint32_t k = j->sp->fanout;
    for (uint32_t i = j->k0; i < j->k1; i++) {
        fanout_targets(j->sp, j->seed, j->index, j->base + i, j->B->count, j->buf, j->tmp);
        uint64_t at = (uint64_t)i * k;
        for (uint32_t x = 0; x < k; x++) {
            j->o->tgt[at + x] = j->inh | (j->B->base + j->buf[x]);
            j->o->wp[at + x] = j->wp;
        }
        j->o->count[i] = k;
    }
    return NULL;
}

/* The fanout rule over threads (GEN_THREADS_MIN_SYNAPSES); the output is
 * already reserved for A->count * fanout synapses.  Returns false when
 * threads or their buffers are not to be had (or the rule is too small to
 * split); the caller then generates in one thread, which overwrites
 * whatever the threads that did start wrote. */
static bool fanout_parallel(const struct npu_conn_spec *sp, uint64_t seed, uint32_t index,
                            const struct npu_area *A, const struct npu_area *B, uint32_t inh,
                            uint16_t wp, struct npu_conn_out *o, long cpus)
{
    uint32_t nt = cpus > MAX_GEN_THREADS ? MAX_GEN_THREADS : cpus > 1 ? (uint32_t)cpus : 1;
    if (nt < 2 || (uint64_t)A->count * sp->fanout < GEN_THREADS_MIN_SYNAPSES)
        return false;
    struct fanout_job job[MAX_GEN_THREADS];
    pthread_t th[MAX_GEN_THREADS];
    uint32_t started = 0;
    bool ok = true;
    for (uint32_t t = 0; t < nt; t++) {
        job[t] = (struct fanout_job){
            .sp = sp, .seed = seed, .index = index, .base = A->base,
            .k0 = (uint32_t)((uint64_t)A->count * t / nt),
            .k1 = (uint32_t)((uint64_t)A->count * (t + 1) / nt),
            .inh = inh, .wp = wp, .B = B, .o = o,
            .buf = malloc((size_t)sp->fanout * sizeof(uint32_t)),
            .tmp = malloc((size_t)sp->fanout * sizeof(uint32_t)),
        };
        ok = ok && job[t].buf && job[t].tmp;
    }
    /* thread 0 is this one */
    for (uint32_t t = 1; ok && t < nt; t++, started++)
        if (pthread_create(&th[t], NULL, fanout_run, &job[t]) != 0)
            break;
    if (ok && started == nt - 1)
        fanout_run(&job[0]);
    for (uint32_t t = 1; t <= started; t++)
        pthread_join(th[t], NULL);
    bool done = ok && started == nt - 1;
    for (uint32_t t = 0; t < nt; t++) {
        free(job[t].buf);
        free(job[t].tmp);
    }
    if (done)
        o->n = (uint64_t)A->count * sp->fanout;
    return done;
}

/* Local target block of one source axis coordinate under the projector. */
static void project_axis(uint32_t x, uint32_t S, uint32_t D, uint32_t *lo, uint32_t *hi)
{
    uint64_t a = (uint64_t)x * D / S;
    uint64_t b = ((uint64_t)(x + 1) * D + S - 1) / S;   /* ceil */
    *lo = (uint32_t)a;
    *hi = b > a ? (uint32_t)(b - 1) : (uint32_t)a;
    if (*hi >= D)
        *hi = D - 1;
}

static int gen_rule(const struct npu_net *net, const struct npu_conn_spec *sp, uint64_t seed,
                    uint32_t index, struct npu_conn_out *o, struct npu_err *err)
{
    const struct npu_area *A = &net->areas[sp->src], *B = &net->areas[sp->dst];
    uint16_t wp = (uint16_t)(sp->weight | (sp->psp << 8));
    uint32_t inh = sp->inhibitory ? NPU_SYN_INHIBITORY : 0;
    size_t cap = 0;
    uint32_t *buf = NULL, *tmp = NULL;
    int rc = NPU_OK;

    o->first = A->base;
    o->n_src = A->count;
    o->count = calloc(A->count, sizeof(uint32_t));
    if (!o->count)
        return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    if (sp->rule == NPU_RULE_RANDOM && sp->fanout > 0) {
        buf = malloc((size_t)sp->fanout * sizeof(*buf));
        tmp = malloc((size_t)sp->fanout * sizeof(*tmp));
        if (!buf || !tmp) {
            free(buf);
            free(tmp);
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
        }
    }
    /* Rules whose count is known up front get their arrays at once, instead
     * of growing (and copying) them by doubling. */
    if (sp->rule != NPU_RULE_RANDOM || sp->probability == 0.0)
        rc = reserve(o, npu_connect_estimate(net, sp), &cap, err);
    /* NPUSIM_GEN_THREADS=N: a testing knob (1 to MAX_GEN_THREADS), so the
     * tests compare the threaded result with the one-thread one */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("NPUSIM_GEN_THREADS");
    if (!rc && env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end != '\0' || v < 1 || v > MAX_GEN_THREADS)
            rc = npu_err_set(err, NPU_E_USAGE, "NPUSIM_GEN_THREADS is '%.40s', not a number "
                             "from 1 to %d", env, MAX_GEN_THREADS);
        cpus = v;
    }
    if (!rc && sp->rule == NPU_RULE_RANDOM && sp->probability == 0.0 &&
        fanout_parallel(sp, seed, index, A, B, inh, wp, o, cpus)) {
        free(buf);
        free(tmp);
        return NPU_OK;
    }

    for (uint32_t k = 0; k < A->count && !rc; k++) {
        uint32_t s = A->base + k;
        uint64_t before = o->n;
        switch (sp->rule) {
        case NPU_RULE_ALL_TO_ALL:
            rc = reserve(o, o->n + B->count, &cap, err);
            for (uint32_t t = 0; !rc && t < B->count; t++) {
                o->tgt[o->n] = inh | (B->base + t);
                o->wp[o->n++] = wp;
            }
            break;
        case NPU_RULE_ONE_TO_ONE:
            rc = reserve(o, o->n + 1, &cap, err);
            if (!rc) {
                o->tgt[o->n] = inh | (B->base + k);
                o->wp[o->n++] = wp;
            }
            break;
        case NPU_RULE_PROJECTOR: {
            uint32_t c[3] = { k % A->dim[0], (k / A->dim[0]) % A->dim[1], k / A->dim[0] / A->dim[1] };
            uint32_t lo[3], hi[3];
            for (int d = 0; d < 3; d++)
                project_axis(c[d], A->dim[d], B->dim[d], &lo[d], &hi[d]);
            uint64_t m = (uint64_t)(hi[0] - lo[0] + 1) * (hi[1] - lo[1] + 1) * (hi[2] - lo[2] + 1);
            rc = reserve(o, o->n + m, &cap, err);
            for (uint32_t z = lo[2]; !rc && z <= hi[2]; z++)
                for (uint32_t y = lo[1]; y <= hi[1]; y++)
                    for (uint32_t x = lo[0]; x <= hi[0]; x++) {
                        o->tgt[o->n] = inh | (B->base + x + B->dim[0] * (y + B->dim[1] * z));
                        o->wp[o->n++] = wp;
                    }
            break;
        }
        case NPU_RULE_RANDOM:
            rc = random_targets(sp, seed, index, s, B, inh, wp, o, &cap, buf, tmp, err);
            break;
        case NPU_RULE_FILE:
            rc = npu_err_set(err, NPU_E_INTERNAL, "file rule in gen_rule");
            break;
        }
        o->count[k] = (uint32_t)(o->n - before);
    }
    free(buf);
    free(tmp);
    if (rc)
        npu_err_prefix(err, "%s: [%s]", sp->where, sp->section);
    return rc;
}

struct row {
    uint32_t src, tgt;   /* tgt carries the inhibitory bit */
    uint16_t wp;
    uint64_t seq;        /* file order, to keep ties stable */
};

static int cmp_row(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    uint32_t xt = x->tgt & NPU_SYN_TARGET_MASK, yt = y->tgt & NPU_SYN_TARGET_MASK;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    if (xt != yt)
        return xt < yt ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Parses one unsigned decimal field; the whole field must be the number. */
static int field_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static char *trim_field(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

#define CSV_MAX_LINE 256

static int gen_file(const struct npu_net *net, const struct npu_conn_spec *sp,
                    struct npu_conn_out *o, struct npu_err *err)
{
    uint32_t lo_s = 0, hi_s = net->n_neurons, lo_t = 0, hi_t = net->n_neurons;
    if (!sp->wildcard) {
        lo_s = net->areas[sp->src].base;
        hi_s = lo_s + net->areas[sp->src].count;
        lo_t = net->areas[sp->dst].base;
        hi_t = lo_t + net->areas[sp->dst].count;
    }
    FILE *f = fopen(sp->file, "rb");
    if (!f)
        return npu_err_set(err, NPU_E_IO, "%s: [%s]: cannot open %s: %s", sp->where, sp->section,
                           sp->file, strerror(errno));
    struct row *rows = NULL;
    size_t n = 0, cap = 0;
    char line[CSV_MAX_LINE + 2];
    long lineno = 0;
    int rc = NPU_OK;
#define CSV_FAIL(code, ...) do { \
        char m_[512]; snprintf(m_, sizeof(m_), __VA_ARGS__); \
        rc = npu_err_set(err, code, "%s:%ld: %s (file rule of [%s])", sp->file, lineno, m_, sp->section); \
        goto done; } while (0)

    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n')
            CSV_FAIL(NPU_E_INPUT, "line longer than %d bytes", CSV_MAX_LINE);
        if (memchr(line, '\0', len) != NULL && strlen(line) != len)
            CSV_FAIL(NPU_E_INPUT, "NUL byte");
        char *l = trim_field(line);
        if (lineno == 1) {
            if (strcmp(l, "source,target,weight,psp,type") != 0)
                CSV_FAIL(NPU_E_INPUT, "expected the header `source,target,weight,psp,type`");
            continue;
        }
        if (!*l)
            continue;
        char *fld[5];
        int nf = 0;
        char *save = NULL;
        for (char *tok = strtok_r(l, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (nf == 5)
                CSV_FAIL(NPU_E_INPUT, "more than 5 fields");
            fld[nf++] = trim_field(tok);
        }
        if (nf != 5)
            CSV_FAIL(NPU_E_INPUT, "expected 5 fields source,target,weight,psp,type, got %d", nf);
        uint64_t s, t, w, p;
        if (field_u64(fld[0], UINT32_MAX, &s) || s < lo_s || s >= hi_s)
            CSV_FAIL(NPU_E_INPUT, "source '%s' is not a neuron id in [%u, %u)", fld[0], lo_s, hi_s);
        if (field_u64(fld[1], UINT32_MAX, &t) || t < lo_t || t >= hi_t)
            CSV_FAIL(NPU_E_INPUT, "target '%s' is not a neuron id in [%u, %u)", fld[1], lo_t, hi_t);
        if (field_u64(fld[2], 255, &w))
            CSV_FAIL(NPU_E_INPUT, "weight '%s' is not an integer in 0..255", fld[2]);
        if (field_u64(fld[3], 255, &p))
            CSV_FAIL(NPU_E_INPUT, "psp '%s' is not an integer in 0..255", fld[3]);
        uint32_t inh;
        if (strcmp(fld[4], "1") == 0)
            inh = 0;
        else if (strcmp(fld[4], "-1") == 0)
            inh = NPU_SYN_INHIBITORY;
        else
            CSV_FAIL(NPU_E_INPUT, "type '%s' must be 1 (excitatory) or -1 (inhibitory)", fld[4]);
        if (n == cap) {
            if (n >= NPU_MAX_SYNAPSES)
                CSV_FAIL(NPU_E_RESOURCE, "more than %llu synapses", (unsigned long long)NPU_MAX_SYNAPSES);
            size_t c = cap ? cap * 2 : 4096;
            /* A huge file fails here, with the numbers, rather than when the
             * system runs out of memory. */
            if (sp->max_bytes && (uint64_t)c * sizeof(*rows) > sp->max_bytes)
                CSV_FAIL(NPU_E_RESOURCE, "more than %zu rows would exceed the memory limit (%llu bytes)",
                         n, (unsigned long long)sp->max_bytes);
            struct row *r = realloc(rows, c * sizeof(*r));
            if (!r)
                CSV_FAIL(NPU_E_RESOURCE, "out of memory after %zu synapses", n);
            rows = r;
            cap = c;
        }
        rows[n] = (struct row){ (uint32_t)s, inh | (uint32_t)t, (uint16_t)(w | (p << 8)), n };
        n++;
    }
    if (ferror(f)) {
        rc = npu_err_set(err, NPU_E_IO, "%s: read error", sp->file);
        goto done;
    }
    if (lineno == 0) {
        /* No line to point at: FILE:0: would read as a line number. */
        rc = npu_err_set(err, NPU_E_INPUT,
                         "%s: empty file (expected the header `source,target,weight,psp,type`) "
                         "(file rule of [%s])", sp->file, sp->section);
        goto done;
    }

    qsort(rows, n, sizeof(*rows), cmp_row);
    o->first = lo_s;
    o->n_src = hi_s - lo_s;
    o->count = calloc(o->n_src ? o->n_src : 1, sizeof(uint32_t));
    o->tgt = malloc((n ? n : 1) * sizeof(uint32_t));
    o->wp = malloc((n ? n : 1) * sizeof(uint16_t));
    npu_mem_huge(o->tgt, n * sizeof(uint32_t));
    npu_mem_huge(o->wp, n * sizeof(uint16_t));
    if (!o->count || !o->tgt || !o->wp) {
        rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory for %zu synapses", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        o->count[rows[i].src - lo_s]++;
        o->tgt[i] = rows[i].tgt;
        o->wp[i] = rows[i].wp;
    }
    o->n = n;
#undef CSV_FAIL
done:
    free(rows);
    fclose(f);
    return rc;
}

uint64_t npu_connect_estimate(const struct npu_net *net, const struct npu_conn_spec *sp)
{
    if (sp->rule == NPU_RULE_FILE)
        return 0;
    const struct npu_area *A = &net->areas[sp->src], *B = &net->areas[sp->dst];
    switch (sp->rule) {
    case NPU_RULE_ALL_TO_ALL:
        return (uint64_t)A->count * B->count;
    case NPU_RULE_ONE_TO_ONE:
        return A->count;
    case NPU_RULE_PROJECTOR: {
        /* Per axis, the blocks cover the destination at least once; at most
         * ceil(D/S)+1 targets per source coordinate. */
        uint64_t n = A->count;
        for (int d = 0; d < 3; d++) {
            uint64_t per = (B->dim[d] + A->dim[d] - 1) / A->dim[d] + 1;
            n = n * (per < B->dim[d] ? per : B->dim[d]);
        }
        return n;
    }
    case NPU_RULE_RANDOM:
        if (sp->probability > 0.0)
            return (uint64_t)((double)A->count * (double)B->count * sp->probability);
        return (uint64_t)A->count * sp->fanout;
    default:
        return 0;
    }
}

int npu_connect_generate(const struct npu_net *net, const struct npu_conn_spec *spec,
                         uint64_t seed, uint32_t index, struct npu_conn_out *out,
                         struct npu_err *err)
{
    memset(out, 0, sizeof(*out));
    int rc = spec->rule == NPU_RULE_FILE ? gen_file(net, spec, out, err)
                                         : gen_rule(net, spec, seed, index, out, err);
    if (rc)
        npu_connect_out_free(out);
    return rc;
}

void npu_connect_out_free(struct npu_conn_out *out)
{
    if (!out)
        return;
    free(out->count);
    free(out->tgt);
    free(out->wp);
    memset(out, 0, sizeof(*out));
}
