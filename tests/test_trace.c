/* Unit tests of npu_trace: round trips, truncation at every byte, a bit flip
 * at every bit, version and overwrite refusals, write errors. */
#include <errno.h>
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace.h"
#include "tracequeue.h"

static char tmpdir[256];

static void path_in_tmp(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static struct npu_trace_area test_areas[] = {
    { .name = "in put", .base = 0, .count = 24, .dim = { 4, 3, 2 } },
    { .name = "v1", .base = 24, .count = 10, .dim = { 10, 1, 1 } },
    { .name = "out\\odd\nname", .base = 40, .count = 60, .dim = { 5, 4, 3 } },
};

static char *test_overrides[] = { "scenario.power=0.5", "network.area v1.threshold=2", "" };

static struct npu_trace_header make_header(bool potentials)
{
    return (struct npu_trace_header){
        .program = "npusim test",
        .backend = "cpu",
        .device = "host\\cpu\nline two",
        .network_name = "net",
        .network_path = "/some/dir with space/net.ini",
        .scenario_path = NULL,
        .network_digest = UINT64_C(0x0123456789abcdef),
        .scenario_digest = UINT64_C(0xfedcba9876543210),
        .seed = UINT64_MAX,
        .n_overrides = 3,
        .overrides = test_overrides,
        .n_neurons = 100,
        .bursts_planned = 7,
        .potentials = potentials,
        .n_areas = 3,
        .areas = test_areas,
    };
}

/* A small scripted run: bursts 1..6, some empty. */
struct burst_spec {
    uint32_t n;
    uint32_t ids[6];
    uint32_t mp_bits[6];
};

static const struct burst_spec script[] = {
    { 0, { 0 }, { 0 } },
    { 3, { 0, 1, 99 }, { 0x3f800000, 0x80000000, 0x00000001 } },   /* 1.0, -0.0, min subnormal */
    { 0, { 0 }, { 0 } },
    { 1, { 42 }, { 0x007fffff } },                                   /* max subnormal */
    { 5, { 2, 3, 4, 60, 98 }, { 0x7f7fffff, 0xff7fffff, 0x00800000, 0xbf800000, 0x41200000 } },
    { 0, { 0 }, { 0 } },
};
#define N_SCRIPT (sizeof(script) / sizeof(script[0]))

/* Writes the script; ends[b] = file size after burst b (ends[0] = header). */
static void write_script(const char *path, bool potentials, bool finish, uint64_t *ends)
{
    struct npu_trace_header h = make_header(potentials);
    struct npu_trace_writer *w;
    struct npu_err err = { 0 };
    unlink(path);
    assert_int_equal(npu_trace_writer_open(path, false, &h, &w, &err), NPU_OK);
    if (ends)
        ends[0] = npu_trace_writer_bytes(w);
    for (uint32_t b = 0; b < N_SCRIPT; b++) {
        float mp[6];
        for (uint32_t k = 0; k < script[b].n; k++)
            mp[k] = u2f(script[b].mp_bits[k]);
        assert_int_equal(npu_trace_writer_burst(w, b + 1, script[b].n, script[b].ids,
                                                potentials ? mp : NULL, &err), NPU_OK);
        if (ends)
            ends[b + 1] = npu_trace_writer_bytes(w);
    }
    if (finish) {
        assert_int_equal(npu_trace_writer_close(w, NPU_TRACE_END_INTERRUPTED, &err), NPU_OK);
    } else {
        assert_int_equal(npu_trace_writer_flush(w, &err), NPU_OK);
        npu_trace_writer_abort(w);
    }
}

static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Reads every burst, checking each against the script.  Returns the final
 * code of next() (0 or an error) and the number of bursts read. */
static int read_and_check(struct npu_trace_reader *r, bool potentials, uint32_t *nread,
                          struct npu_err *err)
{
    uint32_t burst, n;
    const uint32_t *ids;
    const float *mp;
    int rc;
    *nread = 0;
    while ((rc = npu_trace_reader_next(r, &burst, &n, &ids, &mp, err)) == 1) {
        const struct burst_spec *s = &script[*nread];
        assert_int_equal(burst, *nread + 1);
        assert_int_equal(n, s->n);
        for (uint32_t k = 0; k < n; k++)
            assert_int_equal(ids[k], s->ids[k]);
        if (potentials) {
            assert_non_null(mp);
            for (uint32_t k = 0; k < n; k++)
                assert_int_equal(f2u(mp[k]), s->mp_bits[k]);
        } else {
            assert_null(mp);
        }
        (*nread)++;
    }
    return rc;
}

static void roundtrip(bool potentials)
{
    char path[512];
    path_in_tmp(path, sizeof(path), potentials ? "rt_pot.trace" : "rt_nopot.trace");
    write_script(path, potentials, true, NULL);

    struct npu_trace_reader *r;
    struct npu_err err = { 0 };
    assert_int_equal(npu_trace_reader_open(path, &r, &err), NPU_OK);
    const struct npu_trace_header *h = npu_trace_reader_header(r);
    struct npu_trace_header want = make_header(potentials);
    assert_int_equal(h->version, NPU_TRACE_VERSION);
    assert_string_equal(h->program, want.program);
    assert_string_equal(h->backend, want.backend);
    assert_string_equal(h->device, want.device);
    assert_string_equal(h->network_name, want.network_name);
    assert_string_equal(h->network_path, want.network_path);
    assert_string_equal(h->scenario_path, "");   /* NULL is written as absent */
    assert_true(h->network_digest == want.network_digest);
    assert_true(h->scenario_digest == want.scenario_digest);
    assert_true(h->seed == want.seed);
    assert_int_equal(h->n_overrides, want.n_overrides);
    for (uint32_t i = 0; i < h->n_overrides; i++)
        assert_string_equal(h->overrides[i], want.overrides[i]);
    assert_int_equal(h->n_neurons, want.n_neurons);
    assert_int_equal(h->bursts_planned, want.bursts_planned);
    assert_int_equal(h->potentials, potentials);
    assert_int_equal(h->n_areas, want.n_areas);
    for (uint32_t i = 0; i < h->n_areas; i++) {
        assert_string_equal(h->areas[i].name, want.areas[i].name);
        assert_int_equal(h->areas[i].base, want.areas[i].base);
        assert_int_equal(h->areas[i].count, want.areas[i].count);
        for (int d = 0; d < 3; d++)
            assert_int_equal(h->areas[i].dim[d], want.areas[i].dim[d]);
    }
    assert_int_equal(npu_trace_area_find(h, 0), 0);
    assert_int_equal(npu_trace_area_find(h, 23), 0);
    assert_int_equal(npu_trace_area_find(h, 24), 1);
    assert_int_equal(npu_trace_area_find(h, 35), 3);   /* the gap 34..39 */
    assert_int_equal(npu_trace_area_find(h, 99), 2);

    uint32_t nread;
    assert_int_equal(read_and_check(r, potentials, &nread, &err), 0);
    assert_int_equal(nread, N_SCRIPT);
    struct npu_trace_status st;
    npu_trace_reader_status(r, &st);
    assert_true(st.complete);
    assert_int_equal(st.end, NPU_TRACE_END_INTERRUPTED);
    assert_int_equal(st.last_burst, N_SCRIPT);
    assert_int_equal(st.total_fires, 9);
    /* next() after the end keeps returning 0 */
    uint32_t b, n;
    const uint32_t *ids;
    const float *mp;
    assert_int_equal(npu_trace_reader_next(r, &b, &n, &ids, &mp, &err), 0);
    npu_trace_reader_close(r);
}

static void test_roundtrip_potentials(void **state)
{
    (void)state;
    roundtrip(true);
}

static void test_roundtrip_no_potentials(void **state)
{
    (void)state;
    roundtrip(false);
}

/* Ids near 2^32 take 5-byte varints; a single fire, a full burst. */
/* State probes: each record carries the probes' mp, bit for bit, and the
 * header stores the ids as runs; with and without fired potentials. */
static void test_probes(void **state)
{
    (void)state;
    for (int pot = 0; pot < 2; pot++) {
        char path[512];
        path_in_tmp(path, sizeof(path), "probes.trace");
        unlink(path);
        uint32_t probes[] = { 3, 4, 5, 9, 40, 41, 99 };
        struct npu_trace_header h = { .n_neurons = 100, .potentials = pot, .n_probes = 7,
                                      .probes = probes };
        struct npu_trace_writer *w;
        struct npu_err err = { 0 };
        assert_int_equal(npu_trace_writer_open(path, false, &h, &w, &err), NPU_OK);
        float pv[3][7] = {
            { 0.0f, -0.0f, FLT_TRUE_MIN, 1e-40f, 1.5f, -2.25f, FLT_MAX },
            { 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f },
            { -1e-38f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f },
        };
        uint32_t ids[] = { 4, 77 };
        float mp[] = { 1.25f, 3.5f };
        /* A missing probe array is the caller's bug. */
        assert_int_equal(npu_trace_writer_burst(w, 1, 0, NULL, NULL, &err), NPU_E_INTERNAL);
        for (uint32_t b = 1; b <= 3; b++)
            assert_int_equal(npu_trace_writer_burst_probes(w, b, b == 2 ? 2 : 0, ids, mp, pv[b - 1], &err),
                             NPU_OK);
        assert_int_equal(npu_trace_writer_close(w, NPU_TRACE_END_COMPLETE, &err), NPU_OK);

        struct npu_trace_reader *r;
        assert_int_equal(npu_trace_reader_open(path, &r, &err), NPU_OK);
        const struct npu_trace_header *rh = npu_trace_reader_header(r);
        assert_int_equal(rh->n_probes, 7);
        for (uint32_t k = 0; k < 7; k++)
            assert_int_equal(rh->probes[k], probes[k]);
        uint32_t b, n;
        const uint32_t *rid;
        const float *rmp;
        for (uint32_t want = 1; want <= 3; want++) {
            assert_int_equal(npu_trace_reader_next(r, &b, &n, &rid, &rmp, &err), 1);
            assert_int_equal(b, want);
            assert_int_equal(n, want == 2 ? 2 : 0);
            const float *got = npu_trace_reader_probes(r);
            assert_non_null(got);
            for (uint32_t k = 0; k < 7; k++)
                assert_int_equal(f2u(got[k]), f2u(pv[want - 1][k]));
            if (want == 2 && pot)
                assert_int_equal(f2u(rmp[1]), f2u(3.5f));
        }
        assert_int_equal(npu_trace_reader_next(r, &b, &n, &rid, &rmp, &err), 0);
        npu_trace_reader_close(r);

        /* Probes out of order or out of range: refused when writing. */
        uint32_t bad[] = { 5, 5 };
        h.probes = bad;
        h.n_probes = 2;
        unlink(path);
        assert_int_equal(npu_trace_writer_open(path, false, &h, &w, &err), NPU_E_INTERNAL);
    }
}

static void test_big_ids(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof(path), "big.trace");
    unlink(path);
    struct npu_trace_header h = { .n_neurons = UINT32_MAX, .potentials = true };
    struct npu_trace_writer *w;
    struct npu_err err = { 0 };
    assert_int_equal(npu_trace_writer_open(path, false, &h, &w, &err), NPU_OK);
    uint32_t ids1[] = { 0, 127, 128, 16383, 16384, UINT32_MAX - 2, UINT32_MAX - 1 };
    float mp1[] = { -0.0f, FLT_MIN, -FLT_MAX, FLT_TRUE_MIN, 1e-40f, 3.0f, -1.0f };
    uint32_t ids2[] = { UINT32_MAX - 1 };
    float mp2[] = { 0.1f };
    assert_int_equal(npu_trace_writer_burst(w, 1, 7, ids1, mp1, &err), NPU_OK);
    assert_int_equal(npu_trace_writer_burst(w, 2, 1, ids2, mp2, &err), NPU_OK);
    assert_int_equal(npu_trace_writer_burst(w, 3, 0, NULL, NULL, &err), NPU_OK);
    assert_int_equal(npu_trace_writer_close(w, NPU_TRACE_END_COMPLETE, &err), NPU_OK);

    struct npu_trace_reader *r;
    assert_int_equal(npu_trace_reader_open(path, &r, &err), NPU_OK);
    uint32_t b, n;
    const uint32_t *ids;
    const float *mp;
    assert_int_equal(npu_trace_reader_next(r, &b, &n, &ids, &mp, &err), 1);
    assert_int_equal(n, 7);
    for (uint32_t k = 0; k < n; k++) {
        assert_int_equal(ids[k], ids1[k]);
        assert_int_equal(f2u(mp[k]), f2u(mp1[k]));
    }
    assert_int_equal(npu_trace_reader_next(r, &b, &n, &ids, &mp, &err), 1);
    assert_int_equal(b, 2);
    assert_int_equal(ids[0], ids2[0]);
    assert_int_equal(f2u(mp[0]), f2u(mp2[0]));
    assert_int_equal(npu_trace_reader_next(r, &b, &n, &ids, &mp, &err), 1);
    assert_int_equal(n, 0);
    assert_int_equal(npu_trace_reader_next(r, &b, &n, &ids, &mp, &err), 0);
    struct npu_trace_status st;
    npu_trace_reader_status(r, &st);
    assert_true(st.complete);
    assert_int_equal(st.end, NPU_TRACE_END_COMPLETE);
    assert_int_equal(st.total_fires, 8);
    npu_trace_reader_close(r);
}

static void truncate_all(bool potentials, bool finish)
{
    char path[512], cut[512];
    path_in_tmp(path, sizeof(path), "trunc.trace");
    path_in_tmp(cut, sizeof(cut), "trunc_cut.trace");
    uint64_t ends[N_SCRIPT + 1];
    write_script(path, potentials, finish, ends);
    size_t len;
    unsigned char *data = slurp(path, &len);

    for (size_t l = 0; l < len; l++) {
        spit(cut, data, l);
        struct npu_trace_reader *r;
        struct npu_err err = { 0 };
        int rc = npu_trace_reader_open(cut, &r, &err);
        if (l < ends[0]) {
            assert_int_equal(rc, NPU_E_TRACE);
            assert_non_null(strstr(err.msg, "cut short inside the header"));
            continue;
        }
        assert_int_equal(rc, NPU_OK);
        uint32_t nread;
        assert_int_equal(read_and_check(r, potentials, &nread, &err), 0);
        uint32_t expect = 0;
        while (expect < N_SCRIPT && ends[expect + 1] <= l)
            expect++;
        assert_int_equal(nread, expect);
        struct npu_trace_status st;
        npu_trace_reader_status(r, &st);
        assert_false(st.complete);
        assert_int_equal(st.last_burst, expect);
        npu_trace_reader_close(r);
    }
    free(data);
}

static void test_truncate_every_byte(void **state)
{
    (void)state;
    truncate_all(true, true);
    truncate_all(false, true);
    truncate_all(true, false);   /* a killed run: no end record at all */
}

static void flip_all(bool potentials)
{
    char path[512], bad[512];
    path_in_tmp(path, sizeof(path), "flip.trace");
    path_in_tmp(bad, sizeof(bad), "flip_bad.trace");
    write_script(path, potentials, true, NULL);
    size_t len;
    unsigned char *data = slurp(path, &len);

    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            data[i] ^= (unsigned char)(1u << bit);
            spit(bad, data, len);
            data[i] ^= (unsigned char)(1u << bit);
            struct npu_trace_reader *r;
            struct npu_err err = { 0 };
            int rc = npu_trace_reader_open(bad, &r, &err);
            if (rc != NPU_OK) {
                assert_int_equal(rc, NPU_E_TRACE);
                continue;
            }
            /* Whatever was read before the flip must be the real data;
             * the flip itself must surface as corruption. */
            uint32_t nread;
            rc = read_and_check(r, potentials, &nread, &err);
            if (rc != NPU_E_TRACE)
                fail_msg("flip of bit %d at byte %zu not detected (rc %d)", bit, i, rc);
            /* The error stays. */
            uint32_t b, n;
            const uint32_t *ids;
            const float *mp;
            assert_int_equal(npu_trace_reader_next(r, &b, &n, &ids, &mp, &err), NPU_E_TRACE);
            npu_trace_reader_close(r);
        }
    }
    free(data);
}

static void test_flip_every_bit(void **state)
{
    (void)state;
    flip_all(true);
    flip_all(false);
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof(path), "trail.trace");
    write_script(path, true, true, NULL);
    FILE *f = fopen(path, "ab");
    fputc(0, f);
    fclose(f);
    struct npu_trace_reader *r;
    struct npu_err err = { 0 };
    assert_int_equal(npu_trace_reader_open(path, &r, &err), NPU_OK);
    uint32_t nread;
    assert_int_equal(read_and_check(r, true, &nread, &err), NPU_E_TRACE);
    assert_non_null(strstr(err.msg, "after the end record"));
    npu_trace_reader_close(r);
}

static void test_newer_version(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof(path), "newer.trace");
    write_script(path, true, true, NULL);
    size_t len;
    unsigned char *data = slurp(path, &len);
    data[8] = NPU_TRACE_VERSION + 1;
    spit(path, data, len);
    free(data);
    struct npu_trace_reader *r = (void *)1;
    struct npu_err err = { 0 };
    assert_int_equal(npu_trace_reader_open(path, &r, &err), NPU_E_TRACE);
    assert_null(r);
    assert_non_null(strstr(err.msg, "trace format version 2 is newer than this npusim reads (1)"));
}

static void test_missing_and_not_a_trace(void **state)
{
    (void)state;
    char path[512];
    struct npu_trace_reader *r;
    struct npu_err err = { 0 };
    path_in_tmp(path, sizeof(path), "does-not-exist.trace");
    assert_int_equal(npu_trace_reader_open(path, &r, &err), NPU_E_IO);
    path_in_tmp(path, sizeof(path), "text.trace");
    spit(path, "hello world, not a trace\n", 25);
    assert_int_equal(npu_trace_reader_open(path, &r, &err), NPU_E_TRACE);
    assert_non_null(strstr(err.msg, "not an npusim trace"));
}

static void test_overwrite(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof(path), "exists.trace");
    write_script(path, true, true, NULL);
    struct npu_trace_header h = make_header(false);
    struct npu_trace_writer *w;
    struct npu_err err = { 0 };
    assert_int_equal(npu_trace_writer_open(path, false, &h, &w, &err), NPU_E_IO);
    assert_null(w);
    assert_non_null(strstr(err.msg, "exists"));
    /* the refused open left the old trace alone */
    struct npu_trace_reader *r;
    assert_int_equal(npu_trace_reader_open(path, &r, &err), NPU_OK);
    assert_true(npu_trace_reader_header(r)->potentials);
    npu_trace_reader_close(r);

    assert_int_equal(npu_trace_writer_open(path, true, &h, &w, &err), NPU_OK);
    assert_int_equal(npu_trace_writer_close(w, NPU_TRACE_END_COMPLETE, &err), NPU_OK);
    assert_int_equal(npu_trace_reader_open(path, &r, &err), NPU_OK);
    assert_false(npu_trace_reader_header(r)->potentials);
    npu_trace_reader_close(r);
    npu_trace_writer_close(NULL, NPU_TRACE_END_COMPLETE, &err);
    npu_trace_writer_abort(NULL);
    npu_trace_reader_close(NULL);
    npu_trace_header_free(NULL);
}

static void test_writer_rejects_bad_input(void **state)
{
    (void)state;
    char path[512];
    path_in_tmp(path, sizeof(path), "bad_input.trace");
    unlink(path);
    struct npu_trace_header h = make_header(false);
    struct npu_trace_writer *w;
    struct npu_err err = { 0 };
    assert_int_equal(npu_trace_writer_open(path, false, &h, &w, &err), NPU_OK);
    uint32_t desc[] = { 5, 5 }, big[] = { 100 };
    assert_int_equal(npu_trace_writer_burst(w, 2, 0, NULL, NULL, &err), NPU_E_INTERNAL);
    assert_int_equal(npu_trace_writer_burst(w, 1, 2, desc, NULL, &err), NPU_E_INTERNAL);
    assert_int_equal(npu_trace_writer_burst(w, 1, 1, big, NULL, &err), NPU_E_INTERNAL);
    assert_int_equal(npu_trace_writer_burst(w, 1, 1, desc, NULL, &err), NPU_OK);
    assert_int_equal(npu_trace_writer_close(w, NPU_TRACE_END_ERROR, &err), NPU_OK);

    struct npu_trace_area overlap[] = {
        { .name = "a", .base = 0, .count = 10, .dim = { 10, 1, 1 } },
        { .name = "b", .base = 5, .count = 10, .dim = { 10, 1, 1 } },
    };
    h.areas = overlap;
    h.n_areas = 2;
    unlink(path);
    assert_int_equal(npu_trace_writer_open(path, false, &h, &w, &err), NPU_E_INTERNAL);
    assert_int_equal(access(path, F_OK), -1);   /* nothing created */
}

/* A full disk: /dev/full fails every write with ENOSPC. */
static void test_write_error(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    struct npu_trace_header h = make_header(true);
    struct npu_trace_writer *w;
    struct npu_err err = { 0 };
    /* The header is flushed when the trace is created, so a full disk is
     * reported there, before any burst runs. */
    assert_int_equal(npu_trace_writer_open("/dev/full", true, &h, &w, &err), NPU_E_IO);
    assert_non_null(strstr(err.msg, "/dev/full"));
    assert_non_null(strstr(err.msg, strerror(ENOSPC)));
}

/* Two identical runs give identical bytes: nothing time-dependent. */
static void test_deterministic(void **state)
{
    (void)state;
    char a[512], b[512];
    path_in_tmp(a, sizeof(a), "det_a.trace");
    path_in_tmp(b, sizeof(b), "det_b.trace");
    write_script(a, true, true, NULL);
    write_script(b, true, true, NULL);
    size_t la, lb;
    void *da = slurp(a, &la), *db = slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    free(da);
    free(db);
}

/* The trace queue encodes a batch of many fires on several threads
 * (tracequeue.c, from 65536 fires and two cores): the file must be the
 * same bytes as one written burst by burst, also when a burst in the
 * middle of such a batch is bad (the records before it are written, and
 * its error is the one reported). */
static void test_queue_parallel(void **state)
{
    (void)state;
    enum { BURSTS = 20, PER = 12000, BAD = 17 };
    struct npu_trace_header h = make_header(true);
    h.n_neurons = 1000000;
    h.bursts_planned = BURSTS;
    uint32_t *off = calloc(BURSTS + 1, sizeof(*off));
    uint32_t *ids = calloc((size_t)BURSTS * PER, sizeof(*ids));
    float *mp = calloc((size_t)BURSTS * PER, sizeof(*mp));
    assert_true(off && ids && mp);
    uint32_t x = 7, n = 0;
    for (uint32_t j = 0; j < BURSTS; j++) {
        uint32_t count = j >= 8 && j < 11 ? j : PER, id = 0;   /* a small batch in between */
        for (uint32_t k = 0; k < count; k++) {
            x = x * 1664525u + 1013904223u;
            id += 1 + (x >> 26);
            ids[n] = id;
            mp[n++] = u2f(0x41a00000u + (x & 0xffffu));
        }
        off[j + 1] = n;
    }
    ids[off[BAD] + 100] = ids[off[BAD] + 99];   /* not ascending */
    char a[512], b[512];
    path_in_tmp(a, sizeof(a), "queue_par.trace");
    path_in_tmp(b, sizeof(b), "queue_seq.trace");
    struct npu_err err;
    struct npu_trace_writer *wa, *wb;
    assert_int_equal(npu_trace_writer_open(a, true, &h, &wa, &err), NPU_OK);
    assert_int_equal(npu_trace_writer_open(b, true, &h, &wb, &err), NPU_OK);
    struct npu_tq *q;
    assert_int_equal(npu_tq_start(wa, 0, &q, &err), NPU_OK);
    const uint32_t batches[][2] = { { 0, 8 }, { 8, 11 }, { 11, BURSTS } };
    uint32_t rel[BURSTS + 1];
    for (int g = 0; g < 3; g++) {
        uint32_t j0 = batches[g][0], j1 = batches[g][1];
        for (uint32_t j = j0; j <= j1; j++)
            rel[j - j0] = off[j];
        struct npu_fires f = { .first_burst = j0 + 1, .count = j1 - j0, .off = rel, .id = ids, .mp = mp };
        assert_int_equal(npu_tq_push(q, &f, NULL, &err), NPU_OK);
    }
    err.msg[0] = 0;
    assert_int_equal(npu_tq_finish(q, NULL, &err), NPU_E_INTERNAL);
    assert_non_null(strstr(err.msg, "burst 18: id"));
    assert_int_equal(npu_trace_writer_close(wa, NPU_TRACE_END_ERROR, &err), NPU_OK);
    int rc = NPU_OK;
    for (uint32_t j = 0; j < BURSTS && !rc; j++)
        rc = npu_trace_writer_burst(wb, j + 1, off[j + 1] - off[j], ids + off[j], mp + off[j], &err);
    assert_int_equal(rc, NPU_E_INTERNAL);
    assert_int_equal(npu_trace_writer_close(wb, NPU_TRACE_END_ERROR, &err), NPU_OK);
    size_t la, lb;
    void *da = slurp(a, &la), *db = slurp(b, &lb);
    assert_true(la > (size_t)14 * PER * 5);   /* the 14 full bursts before the bad one */
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    free(da);
    free(db);
    free(off);
    free(ids);
    free(mp);
}

int main(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/npu_test_trace.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_potentials),
        cmocka_unit_test(test_roundtrip_no_potentials),
        cmocka_unit_test(test_big_ids),
        cmocka_unit_test(test_probes),
        cmocka_unit_test(test_truncate_every_byte),
        cmocka_unit_test(test_flip_every_bit),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_newer_version),
        cmocka_unit_test(test_missing_and_not_a_trace),
        cmocka_unit_test(test_overwrite),
        cmocka_unit_test(test_writer_rejects_bad_input),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_queue_parallel),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    /* Leave the directory on failure: its files are the evidence. */
    if (failed == 0) {
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            return 1;
    }
    return failed;
}
