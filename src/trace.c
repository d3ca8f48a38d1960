/* npu_trace: see trace.h and docs/trace-format.md for the byte layout.
 *
 * Every byte after the magic and version is covered by a checksum that is
 * checked before the bytes are trusted, so a flipped length field reads as
 * corruption rather than as a file that ends early.  Only running out of
 * file (EOF) means "cut short".
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#define MAGIC "NPUTRACE"
#define MAGIC_LEN 8
#define PREFIX_LEN 16               /* magic, u32 version, u32 payload length */
#define HEADER_SUM_LEN 8            /* XXH3_64bits of prefix + payload */

/* Fuzz builds (libFuzzer defines this) read past bad checksums, so the
 * fuzzer can reach the parsing behind them instead of stopping at a hash it
 * cannot forge.  Never defined in a normal build. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define SUM_BAD(a, b) ((void)(a), (void)(b), 0)
#else
#define SUM_BAD(a, b) ((a) != (b))
#endif
/* Generous: 65535 areas of ~100 bytes plus overrides fit many times over. */
#define HEADER_PAYLOAD_MAX (UINT32_C(64) << 20)
#define REC_HEAD_LEN 20             /* burst, n, len, payload sum, head sum */
#define REC_HEAD_SUMMED 16          /* the head sum covers the first 16 bytes */
#define END_BURST 0                 /* burst field of the end record */
#define END_PAYLOAD_LEN 12          /* u32 bursts + u64 fires */
#define VARINT_MAX 5                /* LEB128 bytes for a uint32 */
#define SUM_SEED 0
/* Payload bytes read per step when growing a buffer, so a corrupt length
 * costs at most about twice the bytes the file really holds. */
#define READ_STEP (size_t)(1 << 16)

/* ---- little-endian helpers ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Decodes one canonical LEB128 uint32 from [*p, end); false if malformed. */
static bool get_varint(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < VARINT_MAX; i++) {
        if (*p >= end)
            return false;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            /* A zero last byte after the first would be a second spelling
             * of the same number; the writer never makes one. */
            if (i > 0 && b == 0)
                return false;
            if (v > UINT32_MAX)
                return false;
            *out = (uint32_t)v;
            return true;
        }
    }
    return false;
}

/* ---- header validation shared by writer and reader ---- */

static int check_areas(const struct npu_trace_header *h, struct npu_err *err)
{
    uint64_t next_free = 0;
    for (uint32_t i = 0; i < h->n_areas; i++) {
        const struct npu_trace_area *a = &h->areas[i];
        if (memchr(a->name, '\0', sizeof(a->name)) == NULL)
            return npu_err_set(err, NPU_E_TRACE, "area %" PRIu32 ": name is not terminated", i);
        uint64_t vol = (uint64_t)a->dim[0] * a->dim[1] * a->dim[2];
        if (vol != a->count)
            return npu_err_set(err, NPU_E_TRACE,
                               "area '%s': count %" PRIu32 " is not %" PRIu32 "*%" PRIu32
                               "*%" PRIu32, a->name, a->count, a->dim[0], a->dim[1], a->dim[2]);
        /* Ascending and disjoint, so npu_trace_area_find can bisect. */
        if (a->base < next_free)
            return npu_err_set(err, NPU_E_TRACE,
                               "area '%s': base %" PRIu32 " overlaps or precedes the area before it",
                               a->name, a->base);
        next_free = (uint64_t)a->base + a->count;
        if (next_free > h->n_neurons)
            return npu_err_set(err, NPU_E_TRACE,
                               "area '%s': ids %" PRIu32 "..%" PRIu64 " exceed n_neurons %" PRIu32,
                               a->name, a->base, next_free - 1, h->n_neurons);
    }
    return NPU_OK;
}

uint32_t npu_trace_area_find(const struct npu_trace_header *hdr, uint32_t id)
{
    uint32_t lo = 0, hi = hdr->n_areas;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct npu_trace_area *a = &hdr->areas[mid];
        if (id < a->base)
            hi = mid;
        else if (id - a->base >= a->count)
            lo = mid + 1;
        else
            return mid;
    }
    return hdr->n_areas;
}

/* ---- header text: key=value lines, see docs/trace-format.md ---- */

struct strbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct strbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->oom = true;
        return;
    }
    sb_add(b, tmp, (size_t)n);
}

/* Values may hold any byte but NUL; newline and backslash are escaped so a
 * line is always one key. */
static void sb_escaped(struct strbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            sb_add(b, "\\\\", 2);
        else if (*s == '\n')
            sb_add(b, "\\n", 2);
        else if (*s == '\r')
            sb_add(b, "\\r", 2);
        else
            sb_add(b, s, 1);
    }
}

static void sb_kv(struct strbuf *b, const char *key, const char *val)
{
    if (!val)
        return;
    sb_add(b, key, strlen(key));
    sb_add(b, "=", 1);
    sb_escaped(b, val);
    sb_add(b, "\n", 1);
}

static void header_text(struct strbuf *b, const struct npu_trace_header *h)
{
    sb_kv(b, "program", h->program);
    sb_kv(b, "backend", h->backend);
    sb_kv(b, "device", h->device);
    sb_kv(b, "network_name", h->network_name);
    sb_kv(b, "network_path", h->network_path);
    sb_kv(b, "scenario_path", h->scenario_path);
    sb_printf(b, "network_digest=%016" PRIx64 "\n", h->network_digest);
    sb_printf(b, "scenario_digest=%016" PRIx64 "\n", h->scenario_digest);
    sb_printf(b, "seed=%" PRIu64 "\n", h->seed);
    sb_printf(b, "n_neurons=%" PRIu32 "\n", h->n_neurons);
    sb_printf(b, "bursts_planned=%" PRIu32 "\n", h->bursts_planned);
    sb_printf(b, "potentials=%d\n", h->potentials ? 1 : 0);
    for (uint32_t i = 0; i < h->n_overrides; i++)
        sb_kv(b, "override", h->overrides[i] ? h->overrides[i] : "");
    for (uint32_t i = 0; i < h->n_areas; i++) {
        const struct npu_trace_area *a = &h->areas[i];
        /* The name goes last: it may hold spaces. */
        sb_printf(b, "area=%" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32 " ",
                  a->base, a->count, a->dim[0], a->dim[1], a->dim[2]);
        sb_escaped(b, a->name);
        sb_add(b, "\n", 1);
    }
    /* Probes as runs of consecutive ids: a box of an area is a few lines. */
    for (uint32_t i = 0; i < h->n_probes;) {
        uint32_t j = i + 1;
        while (j < h->n_probes && h->probes[j] == h->probes[j - 1] + 1)
            j++;
        sb_printf(b, "probe=%" PRIu32 " %" PRIu32 "\n", h->probes[i], j - i);
        i = j;
    }
}

/* ---- writer ---- */

struct npu_trace_writer {
    FILE *f;
    char *path;
    uint32_t n_neurons;
    bool potentials;
    uint32_t n_probes;
    uint32_t last_burst;
    uint64_t total_fires;
    uint64_t bytes;
    bool failed;                  /* a write failed: the file is unusable */
    struct npu_trace_rec rec;     /* npu_trace_writer_burst_probes' own */
};

static int io_error(struct npu_trace_writer *w, const char *what, int e, struct npu_err *err)
{
    w->failed = true;
    return npu_err_set(err, NPU_E_IO, "%s: %s: %s", w->path, what, strerror(e));
}

static int write_bytes(struct npu_trace_writer *w, const void *p, size_t n, struct npu_err *err)
{
    if (n == 0)
        return NPU_OK;
    errno = 0;
    if (fwrite(p, 1, n, w->f) != n)
        return io_error(w, "write failed", errno ? errno : EIO, err);
    w->bytes += n;
    return NPU_OK;
}

static int reserve(const struct npu_trace_writer *w, struct npu_trace_rec *rec, size_t need,
                   struct npu_err *err)
{
    if (need <= rec->cap)
        return NPU_OK;
    uint8_t *p = realloc(rec->buf, need);
    if (!p)
        return npu_err_set(err, NPU_E_RESOURCE, "%s: out of memory for a %zu-byte trace record",
                           w->path, need);
    rec->buf = p;
    rec->cap = need;
    return NPU_OK;
}

/* The record head (with both checksums) for a payload of len bytes. */
static void put_head(uint8_t *head, uint32_t burst, uint32_t n, const uint8_t *payload, size_t len)
{
    put_u32(head, burst);
    put_u32(head + 4, n);
    put_u32(head + 8, (uint32_t)len);
    put_u32(head + 12, XXH32(payload, len, SUM_SEED));
    put_u32(head + 16, XXH32(head, REC_HEAD_SUMMED, SUM_SEED));
}

/* Writes one record: head then payload. */
static int write_record(struct npu_trace_writer *w, uint32_t burst, uint32_t n,
                        const uint8_t *payload, size_t len, struct npu_err *err)
{
    uint8_t head[REC_HEAD_LEN];
    put_head(head, burst, n, payload, len);
    int rc = write_bytes(w, head, sizeof(head), err);
    if (rc)
        return rc;
    return write_bytes(w, payload, len, err);
}

int npu_trace_writer_open(const char *path, bool overwrite, const struct npu_trace_header *hdr,
                          struct npu_trace_writer **out, struct npu_err *err)
{
    *out = NULL;
    int rc = check_areas(hdr, err);
    for (uint32_t i = 0; !rc && i < hdr->n_probes; i++)
        if (hdr->probes[i] >= hdr->n_neurons || (i > 0 && hdr->probes[i] <= hdr->probes[i - 1]))
            rc = npu_err_set(err, NPU_E_INTERNAL, "probe %" PRIu32 " out of range or not ascending",
                             hdr->probes[i]);
    if (rc) {
        /* A header the reader would refuse is the caller's bug. */
        npu_err_prefix(err, "%s: bad trace header", path);
        if (err)
            err->code = NPU_E_INTERNAL;
        return NPU_E_INTERNAL;
    }

    struct strbuf text = { 0 };
    header_text(&text, hdr);
    if (text.oom || text.len > HEADER_PAYLOAD_MAX) {
        free(text.p);
        return npu_err_set(err, NPU_E_RESOURCE, "%s: trace header too large", path);
    }

    struct npu_trace_writer *w = calloc(1, sizeof(*w));
    char *pathcopy = strdup(path);
    size_t hlen = PREFIX_LEN + text.len + HEADER_SUM_LEN;
    uint8_t *hbuf = malloc(hlen);
    if (!w || !pathcopy || !hbuf) {
        free(w);
        free(pathcopy);
        free(hbuf);
        free(text.p);
        return npu_err_set(err, NPU_E_RESOURCE, "%s: out of memory", path);
    }
    w->path = pathcopy;
    w->n_neurons = hdr->n_neurons;
    w->potentials = hdr->potentials;
    w->n_probes = hdr->n_probes;

    memcpy(hbuf, MAGIC, MAGIC_LEN);
    put_u32(hbuf + 8, NPU_TRACE_VERSION);
    put_u32(hbuf + 12, (uint32_t)text.len);
    if (text.len)
        memcpy(hbuf + PREFIX_LEN, text.p, text.len);
    put_u64(hbuf + PREFIX_LEN + text.len, XXH3_64bits(hbuf, PREFIX_LEN + text.len));
    free(text.p);

    /* O_EXCL: a finished trace is a result; never clobber it by accident. */
    int flags = O_WRONLY | O_CREAT | (overwrite ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, 0666);
    if (fd < 0) {
        int e = errno;
        if (e == EEXIST)
            rc = npu_err_set(err, NPU_E_IO, "%s: file exists (use --force to overwrite)", path);
        else
            rc = npu_err_set(err, NPU_E_IO, "%s: cannot create: %s", path, strerror(e));
        goto fail;
    }
    w->f = fdopen(fd, "wb");
    if (!w->f) {
        int e = errno;
        close(fd);
        rc = npu_err_set(err, NPU_E_IO, "%s: %s", path, strerror(e));
        goto fail;
    }
    rc = write_bytes(w, hbuf, hlen, err);
    /* On disk at once: a run killed before its first burst still leaves a
     * trace that reads as cut short, not one with half a header. */
    if (!rc)
        rc = npu_trace_writer_flush(w, err);
    if (rc)
        goto fail;
    free(hbuf);
    *out = w;
    return NPU_OK;

fail:
    free(hbuf);
    npu_trace_writer_abort(w);
    return rc;
}

int npu_trace_writer_burst(struct npu_trace_writer *w, uint32_t burst, uint32_t n,
                           const uint32_t *ids, const float *mp, struct npu_err *err)
{
    return npu_trace_writer_burst_probes(w, burst, n, ids, mp, NULL, err);
}

static void put_floats(uint8_t **p, const float *v, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++) {
        uint32_t bits;
        memcpy(&bits, &v[k], sizeof(bits));
        put_u32(*p, bits);
        *p += 4;
    }
}

int npu_trace_encode(const struct npu_trace_writer *w, uint32_t burst, uint32_t n,
                     const uint32_t *ids, const float *mp, const float *probe_mp,
                     struct npu_trace_rec *rec, struct npu_err *err)
{
    /* Caller bugs, caught here so they never reach the file. */
    if (burst == END_BURST)
        return npu_err_set(err, NPU_E_INTERNAL, "%s: burst %" PRIu32 " is the end record's",
                           w->path, burst);
    if (n > w->n_neurons)
        return npu_err_set(err, NPU_E_INTERNAL, "%s: burst %" PRIu32 ": %" PRIu32
                           " fires but only %" PRIu32 " neurons", w->path, burst, n, w->n_neurons);
    if (w->potentials && n > 0 && !mp)
        return npu_err_set(err, NPU_E_INTERNAL, "%s: burst %" PRIu32 ": no potentials given",
                           w->path, burst);
    if (w->n_probes && !probe_mp)
        return npu_err_set(err, NPU_E_INTERNAL, "%s: burst %" PRIu32 ": no probe values given",
                           w->path, burst);

    size_t per_id = VARINT_MAX + (w->potentials ? sizeof(float) : 0);
    int rc = reserve(w, rec, REC_HEAD_LEN + (size_t)n * per_id + (size_t)w->n_probes * 4 + 1, err);
    if (rc)
        return rc;

    uint8_t *payload = rec->buf + REC_HEAD_LEN, *p = payload;
    for (uint32_t k = 0; k < n; k++) {
        if (ids[k] >= w->n_neurons || (k > 0 && ids[k] <= ids[k - 1]))
            return npu_err_set(err, NPU_E_INTERNAL,
                               "%s: burst %" PRIu32 ": id %" PRIu32 " at position %" PRIu32
                               " is out of range or not ascending", w->path, burst, ids[k], k);
        p += put_varint(p, k == 0 ? ids[0] : ids[k] - ids[k - 1] - 1);
    }
    if (w->potentials)
        put_floats(&p, mp, n);
    if (w->n_probes)
        put_floats(&p, probe_mp, w->n_probes);
    put_head(rec->buf, burst, n, payload, (size_t)(p - payload));
    rec->len = (size_t)(p - rec->buf);
    rec->burst = burst;
    rec->n = n;
    return NPU_OK;
}

int npu_trace_writer_append(struct npu_trace_writer *w, const struct npu_trace_rec *rec,
                            struct npu_err *err)
{
    if (w->failed)
        return npu_err_set(err, NPU_E_IO, "%s: an earlier write failed", w->path);
    if (rec->burst != w->last_burst + 1)
        return npu_err_set(err, NPU_E_INTERNAL, "%s: burst %" PRIu32 " written after burst %" PRIu32,
                           w->path, rec->burst, w->last_burst);
    int rc = write_bytes(w, rec->buf, rec->len, err);
    if (rc)
        return rc;
    w->last_burst = rec->burst;
    w->total_fires += rec->n;
    return NPU_OK;
}

void npu_trace_rec_free(struct npu_trace_rec *rec)
{
    free(rec->buf);
    *rec = (struct npu_trace_rec){ 0 };
}

int npu_trace_writer_burst_probes(struct npu_trace_writer *w, uint32_t burst, uint32_t n,
                                  const uint32_t *ids, const float *mp, const float *probe_mp,
                                  struct npu_err *err)
{
    if (w->failed)
        return npu_err_set(err, NPU_E_IO, "%s: an earlier write failed", w->path);
    if (burst != w->last_burst + 1)
        return npu_err_set(err, NPU_E_INTERNAL, "%s: burst %" PRIu32 " written after burst %" PRIu32,
                           w->path, burst, w->last_burst);
    int rc = npu_trace_encode(w, burst, n, ids, mp, probe_mp, &w->rec, err);
    return rc ? rc : npu_trace_writer_append(w, &w->rec, err);
}

int npu_trace_writer_flush(struct npu_trace_writer *w, struct npu_err *err)
{
    if (w->failed)
        return npu_err_set(err, NPU_E_IO, "%s: an earlier write failed", w->path);
    if (fflush(w->f) != 0)
        return io_error(w, "write failed", errno, err);
    return NPU_OK;
}

uint64_t npu_trace_writer_bytes(const struct npu_trace_writer *w)
{
    return w->bytes;
}

static void writer_free(struct npu_trace_writer *w)
{
    npu_trace_rec_free(&w->rec);
    free(w->path);
    free(w);
}

int npu_trace_writer_close(struct npu_trace_writer *w, enum npu_trace_end how,
                           struct npu_err *err)
{
    if (!w)
        return NPU_OK;
    int rc = NPU_OK;
    if (w->failed) {
        rc = npu_err_set(err, NPU_E_IO, "%s: an earlier write failed", w->path);
    } else if ((unsigned)how > NPU_TRACE_END_ERROR) {
        /* Closed without an end record: the file reads as cut short. */
        rc = npu_err_set(err, NPU_E_INTERNAL, "%s: bad end kind %d", w->path, (int)how);
    } else {
        uint8_t end[END_PAYLOAD_LEN];
        put_u32(end, w->last_burst);
        put_u64(end + 4, w->total_fires);
        rc = write_record(w, END_BURST, (uint32_t)how, end, sizeof(end), err);
        if (!rc && fflush(w->f) != 0)
            rc = io_error(w, "write failed", errno, err);
    }
    /* fclose can be the first to see a full disk (NFS, delayed allocation). */
    if (fclose(w->f) != 0 && !rc)
        rc = npu_err_set(err, NPU_E_IO, "%s: close failed: %s", w->path, strerror(errno));
    writer_free(w);
    return rc;
}

void npu_trace_writer_abort(struct npu_trace_writer *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    writer_free(w);
}

/* ---- reader ---- */

struct npu_trace_reader {
    FILE *f;
    char *path;
    struct npu_trace_header hdr;
    uint64_t offset;              /* file offset of the next record */
    uint8_t *buf;
    size_t cap;
    uint32_t *ids;
    float *mp;
    size_t ids_cap;
    float *probe_mp;              /* [hdr.n_probes] of the last burst read */
    uint32_t last_burst;
    uint64_t total_fires;
    bool done;
    bool complete;
    enum npu_trace_end end;
    int failed;                   /* sticky error code */
    char failed_msg[NPU_ERR_MSG_MAX];
};

/* Reads up to n bytes into r->buf at off, growing it only as bytes arrive.
 * Sets *got; returns NPU_E_IO on a read error, NPU_E_RESOURCE on OOM. */
static int read_grow(struct npu_trace_reader *r, size_t off, size_t n, size_t *got,
                     struct npu_err *err)
{
    *got = 0;
    while (*got < n) {
        size_t step = n - *got < READ_STEP ? n - *got : READ_STEP;
        size_t need = off + *got + step;
        if (need > r->cap) {
            size_t cap = r->cap ? r->cap : READ_STEP;
            while (cap < need)
                cap *= 2;
            uint8_t *p = realloc(r->buf, cap);
            if (!p)
                return npu_err_set(err, NPU_E_RESOURCE, "%s: out of memory", r->path);
            r->buf = p;
            r->cap = cap;
        }
        size_t k = fread(r->buf + off + *got, 1, step, r->f);
        *got += k;
        if (k < step) {
            if (ferror(r->f))
                return npu_err_set(err, NPU_E_IO, "%s: read failed: %s", r->path, strerror(errno));
            break;
        }
    }
    return NPU_OK;
}

/* Undoes sb_escaped into a new string: NPU_OK, NPU_E_TRACE for a bad escape,
 * NPU_E_RESOURCE when out of memory. */
static int unescape(const char *s, size_t n, char **out)
{
    *out = NULL;
    char *o = malloc(n + 1);
    if (!o)
        return NPU_E_RESOURCE;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            o[j++] = s[i];
            continue;
        }
        char c = ++i < n ? s[i] : '\0';
        if (c == '\\')
            o[j++] = '\\';
        else if (c == 'n')
            o[j++] = '\n';
        else if (c == 'r')
            o[j++] = '\r';
        else {
            free(o);
            return NPU_E_TRACE;
        }
    }
    o[j] = '\0';
    *out = o;
    return NPU_OK;
}

static bool parse_u64(const char *s, size_t n, int base, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_area(const char *s, size_t n, struct npu_trace_area *a)
{
    uint32_t v[5];
    size_t i = 0;
    for (size_t k = 0; k < 5; k++) {
        size_t start = i;
        while (i < n && s[i] != ' ')
            i++;
        uint64_t x = 0;
        if (i == n || !parse_u64(s + start, i - start, 10, UINT32_MAX, &x))
            return false;
        v[k] = (uint32_t)x;
        i++;
    }
    char *name;
    if (unescape(s + i, n - i, &name) != NPU_OK)
        return false;             /* OOM too: rare enough to read as corrupt */
    size_t len = strlen(name);
    bool ok = len < sizeof(a->name);
    if (ok)
        memcpy(a->name, name, len + 1);
    free(name);
    a->base = v[0];
    a->count = v[1];
    a->dim[0] = v[2];
    a->dim[1] = v[3];
    a->dim[2] = v[4];
    return ok;
}

/* "FIRST COUNT": appends a run of probe ids; runs must ascend, not touch,
 * and stay below n_neurons (checked against it after the header). */
static int parse_probe_run(struct npu_trace_header *h, const char *s, size_t n)
{
    const char *sp = memchr(s, ' ', n);
    uint64_t first, count;
    if (!sp || !parse_u64(s, (size_t)(sp - s), 10, UINT32_MAX, &first) ||
        !parse_u64(sp + 1, n - (size_t)(sp - s) - 1, 10, UINT32_MAX, &count) || count == 0 ||
        first + count > UINT32_MAX || (uint64_t)h->n_probes + count > UINT32_MAX)
        return NPU_E_TRACE;
    if (h->n_probes && first <= h->probes[h->n_probes - 1])
        return NPU_E_TRACE;
    /* Bounded by the header's own size limit: a run is checked against
     * n_neurons before any record is read. */
    if (count > (UINT64_C(1) << 31))
        return NPU_E_TRACE;
    uint32_t *p = realloc(h->probes, (size_t)(h->n_probes + count) * sizeof(*p));
    if (!p)
        return NPU_E_RESOURCE;
    h->probes = p;
    for (uint64_t k = 0; k < count; k++)
        h->probes[h->n_probes++] = (uint32_t)(first + k);
    return NPU_OK;
}

static int parse_header(struct npu_trace_reader *r, const char *text, size_t len,
                        struct npu_err *err)
{
    struct npu_trace_header *h = &r->hdr;
    if (len && text[len - 1] != '\n')
        return npu_err_set(err, NPU_E_TRACE, "header does not end with a newline");
    if (memchr(text, '\0', len))
        return npu_err_set(err, NPU_E_TRACE, "header holds a NUL byte");

    size_t n_areas = 0, n_over = 0;
    for (const char *p = text; p < text + len; p = (const char *)memchr(p, '\n', (size_t)(text + len - p)) + 1) {
        size_t left = (size_t)(text + len - p);
        if (left > 5 && memcmp(p, "area=", 5) == 0)
            n_areas++;
        else if (left > 9 && memcmp(p, "override=", 9) == 0)
            n_over++;
    }
    if (n_areas) {
        h->areas = calloc(n_areas, sizeof(*h->areas));
        if (!h->areas)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    }
    if (n_over) {
        h->overrides = calloc(n_over, sizeof(*h->overrides));
        if (!h->overrides)
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    }

    struct { const char *key; char **dst; } strs[] = {
        { "program", &h->program },
        { "backend", &h->backend },
        { "device", &h->device },
        { "network_name", &h->network_name },
        { "network_path", &h->network_path },
        { "scenario_path", &h->scenario_path },
    };
    bool have_neurons = false, have_pot = false;
    for (const char *p = text; p < text + len;) {
        const char *eol = memchr(p, '\n', (size_t)(text + len - p));
        const char *eq = memchr(p, '=', (size_t)(eol - p));
        if (!eq)
            return npu_err_set(err, NPU_E_TRACE, "header line without '='");
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vlen = (size_t)(eol - v);
/* k must be a string literal */
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(p, k, klen) == 0)
        bool ok = true, known = false;
        uint64_t x = 0;
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
            if (klen == strlen(strs[i].key) && memcmp(p, strs[i].key, klen) == 0) {
                known = true;
                if (*strs[i].dst)
                    return npu_err_set(err, NPU_E_TRACE, "repeated header key '%s'", strs[i].key);
                int urc = unescape(v, vlen, strs[i].dst);
                if (urc == NPU_E_RESOURCE)
                    return npu_err_set(err, urc, "out of memory");
                ok = urc == NPU_OK;
            }
        }
        if (known) {
        } else if (KEY("network_digest")) {
            ok = vlen == 16 && parse_u64(v, vlen, 16, UINT64_MAX, &h->network_digest);
        } else if (KEY("scenario_digest")) {
            ok = vlen == 16 && parse_u64(v, vlen, 16, UINT64_MAX, &h->scenario_digest);
        } else if (KEY("seed")) {
            ok = parse_u64(v, vlen, 10, UINT64_MAX, &h->seed);
        } else if (KEY("n_neurons")) {
            ok = !have_neurons && parse_u64(v, vlen, 10, UINT32_MAX, &x);
            h->n_neurons = (uint32_t)x;
            have_neurons = true;
        } else if (KEY("bursts_planned")) {
            ok = parse_u64(v, vlen, 10, UINT32_MAX, &x);
            h->bursts_planned = (uint32_t)x;
        } else if (KEY("potentials")) {
            ok = !have_pot && parse_u64(v, vlen, 10, 1, &x);
            h->potentials = x == 1;
            have_pot = true;
        } else if (KEY("override")) {
            char *o;
            int urc = unescape(v, vlen, &o);
            if (urc == NPU_E_RESOURCE)
                return npu_err_set(err, urc, "out of memory");
            ok = urc == NPU_OK;
            if (ok)
                h->overrides[h->n_overrides++] = o;
        } else if (KEY("area")) {
            ok = parse_area(v, vlen, &h->areas[h->n_areas]);
            h->n_areas++;
        } else if (KEY("probe")) {
            int prc = parse_probe_run(h, v, vlen);
            if (prc == NPU_E_RESOURCE)
                return npu_err_set(err, prc, "out of memory for the probe list");
            ok = prc == NPU_OK;
        }
        /* Other keys are additions a later writer of version 1 may make. */
#undef KEY
        if (!ok)
            return npu_err_set(err, NPU_E_TRACE, "bad header line '%.*s'", (int)(eol - p), p);
        p = eol + 1;
    }
    if (!have_neurons || !have_pot)
        return npu_err_set(err, NPU_E_TRACE, "header lacks n_neurons or potentials");
    if (h->n_probes && h->probes[h->n_probes - 1] >= h->n_neurons)
        return npu_err_set(err, NPU_E_TRACE, "probe %" PRIu32 " is not a neuron (n_neurons %" PRIu32 ")",
                           h->probes[h->n_probes - 1], h->n_neurons);
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (!*strs[i].dst && !(*strs[i].dst = strdup("")))
            return npu_err_set(err, NPU_E_RESOURCE, "out of memory");
    return check_areas(h, err);
}

static int read_header(struct npu_trace_reader *r, struct npu_err *err)
{
    size_t got;
    int rc = read_grow(r, 0, PREFIX_LEN, &got, err);
    if (rc)
        return rc;
    if (got < MAGIC_LEN || memcmp(r->buf, MAGIC, MAGIC_LEN) != 0) {
        if (got < MAGIC_LEN && memcmp(r->buf, MAGIC, got) == 0)
            return npu_err_set(err, NPU_E_TRACE, "cut short inside the header");
        return npu_err_set(err, NPU_E_TRACE, "not an npusim trace (bad magic)");
    }
    if (got < PREFIX_LEN)
        return npu_err_set(err, NPU_E_TRACE, "cut short inside the header");
    /* Magic and version are the only bytes every version keeps in place, so
     * the version is judged before a checksum this build may not know. */
    uint32_t version = get_u32(r->buf + 8);
    if (version > NPU_TRACE_VERSION)
        return npu_err_set(err, NPU_E_TRACE,
                           "trace format version %" PRIu32 " is newer than this npusim reads (%d)",
                           version, NPU_TRACE_VERSION);
    if (version == 0)
        return npu_err_set(err, NPU_E_TRACE, "corrupt header: format version 0");
    uint32_t len = get_u32(r->buf + 12);
    if (len > HEADER_PAYLOAD_MAX)
        return npu_err_set(err, NPU_E_TRACE, "corrupt header: length %" PRIu32 " too large", len);
    size_t want = (size_t)len + HEADER_SUM_LEN;
    rc = read_grow(r, PREFIX_LEN, want, &got, err);
    if (rc)
        return rc;
    if (got < want)
        return npu_err_set(err, NPU_E_TRACE, "cut short inside the header");
    uint64_t sum = get_u64(r->buf + PREFIX_LEN + len);
    if (SUM_BAD(sum, XXH3_64bits(r->buf, PREFIX_LEN + (size_t)len)))
        return npu_err_set(err, NPU_E_TRACE, "corrupt header: checksum mismatch");
    r->hdr.version = version;
    rc = parse_header(r, (const char *)r->buf + PREFIX_LEN, len, err);
    if (rc)
        return npu_err_prefix(err, "corrupt header");
    r->offset = PREFIX_LEN + want;
    return NPU_OK;
}

int npu_trace_reader_open(const char *path, struct npu_trace_reader **out, struct npu_err *err)
{
    *out = NULL;
    struct npu_trace_reader *r = calloc(1, sizeof(*r));
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return npu_err_set(err, NPU_E_RESOURCE, "%s: out of memory", path);
    }
    /* One slot up front, so *mp is non-NULL with potentials even before the
     * first fire. */
    r->ids = malloc(sizeof(*r->ids));
    r->mp = malloc(sizeof(*r->mp));
    if (!r->ids || !r->mp) {
        npu_trace_reader_close(r);
        return npu_err_set(err, NPU_E_RESOURCE, "%s: out of memory", path);
    }
    r->ids_cap = 1;
    r->f = fopen(path, "rb");
    if (!r->f) {
        int e = errno;
        npu_trace_reader_close(r);
        return npu_err_set(err, NPU_E_IO, "%s: %s", path, strerror(e));
    }
    int rc = read_header(r, err);
    if (!rc && r->hdr.n_probes && !(r->probe_mp = malloc((size_t)r->hdr.n_probes * sizeof(float))))
        rc = npu_err_set(err, NPU_E_RESOURCE, "out of memory for %" PRIu32 " probes", r->hdr.n_probes);
    if (rc) {
        npu_err_prefix(err, "%s", path);
        npu_trace_reader_close(r);
        return rc;
    }
    *out = r;
    return NPU_OK;
}

const struct npu_trace_header *npu_trace_reader_header(const struct npu_trace_reader *r)
{
    return &r->hdr;
}

static int corrupt(struct npu_trace_reader *r, struct npu_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int corrupt(struct npu_trace_reader *r, struct npu_err *err, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    r->failed = NPU_E_TRACE;
    snprintf(r->failed_msg, sizeof(r->failed_msg),
             "%s: corrupt trace at byte %" PRIu64 " (after burst %" PRIu32 "): %s",
             r->path, r->offset, r->last_burst, what);
    return npu_err_set(err, NPU_E_TRACE, "%s", r->failed_msg);
}

/* A read error or OOM is as final as corruption. */
static int fail_sticky(struct npu_trace_reader *r, int rc, struct npu_err *err)
{
    r->failed = rc;
    snprintf(r->failed_msg, sizeof(r->failed_msg), "%s", err ? err->msg : "read failed");
    return rc;
}

static int cut_short(struct npu_trace_reader *r)
{
    r->done = true;
    return 0;
}

static int read_end(struct npu_trace_reader *r, uint32_t how, uint32_t len, uint32_t psum,
                    struct npu_err *err)
{
    if (len != END_PAYLOAD_LEN || how > NPU_TRACE_END_ERROR)
        return corrupt(r, err, "malformed end record");
    size_t got;
    int rc = read_grow(r, 0, len, &got, err);
    if (rc)
        return fail_sticky(r, rc, err);
    if (got < len)
        return cut_short(r);
    if (SUM_BAD(XXH32(r->buf, len, SUM_SEED), psum))
        return corrupt(r, err, "end record checksum mismatch");
    uint32_t bursts = get_u32(r->buf);
    uint64_t fires = get_u64(r->buf + 4);
    if (bursts != r->last_burst || fires != r->total_fires)
        return corrupt(r, err, "end record says %" PRIu32 " bursts and %" PRIu64
                       " fires, the file holds %" PRIu32 " and %" PRIu64,
                       bursts, fires, r->last_burst, r->total_fires);
    r->offset += REC_HEAD_LEN + len;
    if (fgetc(r->f) != EOF)
        return corrupt(r, err, "data after the end record");
    if (ferror(r->f)) {
        npu_err_set(err, NPU_E_IO, "%s: read failed: %s", r->path, strerror(errno));
        return fail_sticky(r, NPU_E_IO, err);
    }
    r->complete = true;
    r->end = (enum npu_trace_end)how;
    r->done = true;
    return 0;
}

int npu_trace_reader_next(struct npu_trace_reader *r, uint32_t *burst, uint32_t *n,
                          const uint32_t **ids, const float **mp, struct npu_err *err)
{
    if (r->failed)
        return npu_err_set(err, r->failed, "%s", r->failed_msg);
    if (r->done)
        return 0;

    size_t got;
    int rc = read_grow(r, 0, REC_HEAD_LEN, &got, err);
    if (rc)
        return fail_sticky(r, rc, err);
    if (got < REC_HEAD_LEN)
        return cut_short(r);
    uint8_t head[REC_HEAD_LEN];
    memcpy(head, r->buf, sizeof(head));
    if (SUM_BAD(get_u32(head + 16), XXH32(head, REC_HEAD_SUMMED, SUM_SEED)))
        return corrupt(r, err, "record header checksum mismatch");
    uint32_t b = get_u32(head), cnt = get_u32(head + 4), len = get_u32(head + 8);
    uint32_t psum = get_u32(head + 12);
    if (b == END_BURST)
        return read_end(r, cnt, len, psum, err);
    if (b != r->last_burst + 1)
        return corrupt(r, err, "burst %" PRIu32 " follows burst %" PRIu32, b, r->last_burst);
    if (cnt > r->hdr.n_neurons)
        return corrupt(r, err, "burst %" PRIu32 ": %" PRIu32 " fires but %" PRIu32 " neurons",
                       b, cnt, r->hdr.n_neurons);
    uint64_t pot_bytes = (r->hdr.potentials ? (uint64_t)cnt * 4 : 0) + (uint64_t)r->hdr.n_probes * 4;
    if (len < cnt + pot_bytes || len > (uint64_t)cnt * VARINT_MAX + pot_bytes)
        return corrupt(r, err, "burst %" PRIu32 ": payload length %" PRIu32
                       " does not fit %" PRIu32 " fires", b, len, cnt);
    rc = read_grow(r, 0, len, &got, err);
    if (rc)
        return fail_sticky(r, rc, err);
    if (got < len)
        return cut_short(r);
    if (SUM_BAD(XXH32(r->buf, len, SUM_SEED), psum))
        return corrupt(r, err, "burst %" PRIu32 ": payload checksum mismatch", b);

    if (cnt > r->ids_cap) {
        uint32_t *ni = realloc(r->ids, (size_t)cnt * sizeof(*ni));
        if (ni)
            r->ids = ni;
        float *nm = realloc(r->mp, (size_t)cnt * sizeof(*nm));
        if (nm)
            r->mp = nm;
        if (!ni || !nm) {
            npu_err_set(err, NPU_E_RESOURCE, "%s: out of memory for %" PRIu32 " fires",
                        r->path, cnt);
            return fail_sticky(r, NPU_E_RESOURCE, err);
        }
        r->ids_cap = cnt;
    }
    const uint8_t *p = r->buf, *id_end = r->buf + (len - pot_bytes);
    uint64_t id = 0;
    for (uint32_t k = 0; k < cnt; k++) {
        uint32_t d;
        if (!get_varint(&p, id_end, &d))
            return corrupt(r, err, "burst %" PRIu32 ": bad id encoding", b);
        id = k == 0 ? d : id + d + 1;
        if (id >= r->hdr.n_neurons)
            return corrupt(r, err, "burst %" PRIu32 ": id %" PRIu64 " >= n_neurons %" PRIu32,
                           b, id, r->hdr.n_neurons);
        r->ids[k] = (uint32_t)id;
    }
    if (p != id_end)
        return corrupt(r, err, "burst %" PRIu32 ": payload length does not match its ids", b);
    for (uint32_t k = 0; k < cnt && r->hdr.potentials; k++) {
        uint32_t bits = get_u32(p + 4 * (size_t)k);
        memcpy(&r->mp[k], &bits, sizeof(bits));
    }
    if (r->hdr.n_probes) {
        const uint8_t *q = p + (r->hdr.potentials ? 4 * (size_t)cnt : 0);
        for (uint32_t k = 0; k < r->hdr.n_probes; k++) {
            uint32_t bits = get_u32(q + 4 * (size_t)k);
            memcpy(&r->probe_mp[k], &bits, sizeof(bits));
        }
    }

    r->offset += REC_HEAD_LEN + len;
    r->last_burst = b;
    r->total_fires += cnt;
    *burst = b;
    *n = cnt;
    *ids = r->ids;
    *mp = r->hdr.potentials ? r->mp : NULL;
    return 1;
}

void npu_trace_reader_status(const struct npu_trace_reader *r, struct npu_trace_status *st)
{
    st->complete = r->complete;
    st->end = r->end;
    st->last_burst = r->last_burst;
    st->total_fires = r->total_fires;
}

void npu_trace_reader_close(struct npu_trace_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    npu_trace_header_free(&r->hdr);
    free(r->buf);
    free(r->ids);
    free(r->mp);
    free(r->probe_mp);
    free(r->path);
    free(r);
}

void npu_trace_header_free(struct npu_trace_header *hdr)
{
    if (!hdr)
        return;
    free(hdr->program);
    free(hdr->backend);
    free(hdr->device);
    free(hdr->network_name);
    free(hdr->network_path);
    free(hdr->scenario_path);
    for (uint32_t i = 0; i < hdr->n_overrides; i++)
        free(hdr->overrides[i]);
    free(hdr->overrides);
    free(hdr->areas);
    free(hdr->probes);
    memset(hdr, 0, sizeof(*hdr));
}

const float *npu_trace_reader_probes(const struct npu_trace_reader *r)
{
    return r->hdr.n_probes ? r->probe_mp : NULL;
}
