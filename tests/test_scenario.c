/* Unit tests of the scenario loader and the stimulus expansion: burst
 * schedules, neuron selections (all, list, box, random P), potentials in
 * Q16 with round-half-even, and FILE:LINE errors.  Scenario and network
 * files are written to a fresh directory under /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "inject.h"
#include "net.h"
#include "netload.h"
#include "scenario.h"

static char tmpdir[256];
static char scn_path[300], net_path[300];

/* pre: 5 neurons (ids 0-4); r: 4x3x2 (ids 5-28); big: 100x100x1 (29-10028) */
static const char net_text[] =
    "[area pre]\nsize = 5x1x1\n"
    "[area r]\nsize = 4x3x2\n"
    "[area big]\nsize = 100x100x1\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/npusim-scn-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(scn_path, sizeof(scn_path), "%s/s.ini", tmpdir);
    snprintf(net_path, sizeof(net_path), "%s/n.ini", tmpdir);
    FILE *f = fopen(net_path, "w");
    if (!f)
        return -1;
    fputs(net_text, f);
    return fclose(f) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(scn_path);
    unlink(net_path);
    rmdir(tmpdir);
    return 0;
}

/* Writes the scenario ("[scenario]\nnetwork = n.ini\n" + body) and loads it. */
static int load_scn(const char *body, struct npu_scenario **out, struct npu_err *err)
{
    char text[4096];
    snprintf(text, sizeof(text), "[scenario]\nnetwork = n.ini\n%s", body);
    write_file(scn_path, text);
    memset(err, 0, sizeof(*err));
    return npu_scn_load(scn_path, NULL, 0, out, err);
}

/* Loads the scenario and its network and resolves the stimuli. */
static struct npu_scenario *load_all(const char *body, struct npu_net **net)
{
    struct npu_scenario *scn;
    struct npu_err err;
    if (load_scn(body, &scn, &err))
        fail_msg("npu_scn_load: %s", err.msg);
    assert_string_equal(scn->network_path, net_path);
    struct npu_netload_opts opts = { .max_bytes = UINT64_C(1) << 30 };
    if (npu_netload_file(scn->network_path, &opts, net, NULL, &err))
        fail_msg("npu_netload_file: %s", err.msg);
    struct npu_warnings warn = { 0 };
    if (npu_scn_resolve(scn, *net, &warn, &err))
        fail_msg("npu_scn_resolve: %s", err.msg);
    npu_warnings_free(&warn);
    return scn;
}

static const struct npu_inject *build(const struct npu_scenario *scn, const struct npu_net *net,
                                      uint32_t first, uint32_t count, struct npu_inject_buf *buf)
{
    /* Whole areas and random picks come as ranges the backend expands;
     * flattened here, the test sees every (neuron, q) entry. */
    struct npu_err err = { 0 };
    struct npu_inject_buf raw = { 0 };
    if (npu_inject_build(scn, net, first, count, &raw, &err))
        fail_msg("npu_inject_build: %s", err.msg);
    if (npu_inject_flatten(&raw.view, buf, &err))
        fail_msg("npu_inject_flatten: %s", err.msg);
    npu_inject_buf_free(&raw);
    assert_int_equal(buf->view.first_burst, first);
    assert_int_equal(buf->view.count, count);
    return &buf->view;
}

static void expect_error(const char *body, int line, const char *frag)
{
    struct npu_scenario *scn;
    struct npu_err err;
    int rc = load_scn(body, &scn, &err);
    char where[400];
    snprintf(where, sizeof(where), "%s:%d: ", scn_path, line);
    assert_null(scn);
    if (rc != NPU_E_INPUT || strncmp(err.msg, where, strlen(where)) != 0 || !strstr(err.msg, frag))
        fail_msg("expected %d '%s...%s', got %d: %s", NPU_E_INPUT, where, frag, rc, err.msg);
}

/* ------------------------------------------------------------------------ */

/* bursts = 1-50, 60, 70-100/10: ranges inclusive, steps counted from the
 * first burst of the range; no `bursts` key means every burst. */
static void test_schedule(void **state)
{
    (void)state;
    struct npu_net *net;
    struct npu_scenario *scn = load_all(
        "[stimulus s]\narea = r\npotential = 1\nbursts = 1-50, 60, 70-100/10\n"
        "[stimulus t]\narea = r\npotential = 1\nbursts = 3-20/7,2\n"
        "[stimulus u]\narea = r\npotential = 1\n", &net);
    assert_int_equal(scn->n_stims, 3);
    for (uint32_t b = 0; b <= 200; b++) {
        bool s = (b >= 1 && b <= 50) || b == 60 || b == 70 || b == 80 || b == 90 || b == 100;
        bool t = b == 3 || b == 10 || b == 17 || b == 2;
        assert_int_equal(npu_scn_scheduled(&scn->stims[0], b), s);
        assert_int_equal(npu_scn_scheduled(&scn->stims[1], b), t);
        assert_true(npu_scn_scheduled(&scn->stims[2], b));
    }
    assert_false(npu_scn_scheduled(&scn->stims[0], UINT32_MAX));
    npu_scn_free(scn);
    npu_net_free(net);
}

/* The schedule drives npu_inject_build: a burst gets the stimulus exactly
 * when it is scheduled, across batch boundaries. */
static void test_schedule_inject(void **state)
{
    (void)state;
    struct npu_net *net;
    struct npu_scenario *scn = load_all(
        "[stimulus s]\narea = pre\nneurons = 2,0,0\npotential = 1\nbursts = 1-5, 9, 12-30/4\n", &net);
    struct npu_inject_buf buf = { 0 };
    for (uint32_t first = 1; first <= 30; first += 7) {
        const struct npu_inject *in = build(scn, net, first, 7, &buf);
        for (uint32_t j = 0; j < 7; j++) {
            uint32_t b = first + j;
            bool s = b <= 5 || b == 9 || b == 12 || b == 16 || b == 20 || b == 24 || b == 28;
            assert_int_equal(in->off[j + 1] - in->off[j], s ? 1 : 0);
            if (s) {
                assert_int_equal(in->id[in->off[j]], 2);
                assert_int_equal(in->q[in->off[j]], 65536);
            }
        }
    }
    npu_inject_buf_free(&buf);
    npu_scn_free(scn);
    npu_net_free(net);
}

/* Selections: all (the area in id order), a list of x,y,z (in the order
 * given), a box (z, y, x nested: ascending ids); stimuli in file order. */
static void test_selections(void **state)
{
    (void)state;
    struct npu_net *net;
    struct npu_scenario *scn = load_all(
        "[stimulus all]\narea = r\npotential = 1\nbursts = 1\n"
        "[stimulus list]\narea = r\nneurons = 1,2,0; 3,0,1;0,0,0\npotential = 2\nbursts = 2\n"
        "[stimulus box]\narea = r\nneurons = box 1-2,0-1,1-1\npotential = -0.5\nbursts = 2\n"
        "[stimulus one]\narea = r\nneurons = box 3,2,1\npotential = 0.25\nbursts = 3\n", &net);
    struct npu_inject_buf buf = { 0 };
    const struct npu_inject *in = build(scn, net, 1, 3, &buf);
    assert_int_equal(in->off[0], 0);
    assert_int_equal(in->off[1], 24);
    for (uint32_t k = 0; k < 24; k++) {
        assert_int_equal(in->id[k], 5 + k);
        assert_int_equal(in->q[k], 65536);
    }
    /* id = base + x + X*(y + Y*z) with base 5, X 4, Y 3 */
    static const uint32_t ids2[] = { 5 + 1 + 4 * 2, 5 + 3 + 4 * 3, 5,
                                     5 + 1 + 4 * 3, 5 + 2 + 4 * 3, 5 + 1 + 4 * 4, 5 + 2 + 4 * 4 };
    static const int64_t q2[] = { 131072, 131072, 131072, -32768, -32768, -32768, -32768 };
    assert_int_equal(in->off[2] - in->off[1], 7);
    assert_memory_equal(in->id + in->off[1], ids2, sizeof(ids2));
    assert_memory_equal(in->q + in->off[1], q2, sizeof(q2));
    assert_int_equal(in->off[3] - in->off[2], 1);
    assert_int_equal(in->id[in->off[2]], 5 + 3 + 4 * (2 + 3 * 1));
    assert_int_equal(in->q[in->off[2]], 16384);
    npu_inject_buf_free(&buf);
    npu_scn_free(scn);
    npu_net_free(net);
}

/* One burst's ids of stimulus list `in` burst j. */
static uint32_t count_in(const struct npu_inject *in, uint32_t j)
{
    return in->off[j + 1] - in->off[j];
}

/* random P: each neuron of the area with probability P, about P*N per burst,
 * ascending and distinct, redrawn every burst, the same for the same seed
 * (whatever the batching), different for another seed. */
static void test_random_selection(void **state)
{
    (void)state;
    struct npu_net *net;
    struct npu_scenario *s1 = load_all("[stimulus n]\narea = big\nneurons = random 0.25\npotential = 0.5\n", &net);
    struct npu_net *net2;
    struct npu_scenario *s2 = load_all("[stimulus n]\narea = big\nneurons = random 0.25\npotential = 0.5\n", &net2);
    struct npu_net *net3;
    struct npu_scenario *s3 = load_all("seed = 8\n[stimulus n]\narea = big\nneurons = random 0.25\n"
                                       "potential = 0.5\n", &net3);
    struct npu_inject_buf b1 = { 0 }, b2 = { 0 }, b3 = { 0 };
    const struct npu_inject *i1 = build(s1, net, 1, 10, &b1);
    for (uint32_t j = 0; j < 10; j++) {
        uint32_t n = count_in(i1, j);
        assert_true(n > 2200 && n < 2800);     /* mean 2500, sd 43 */
        for (uint32_t k = i1->off[j]; k < i1->off[j + 1]; k++) {
            assert_true(i1->id[k] >= 29 && i1->id[k] < 10029);
            assert_int_equal(i1->q[k], 32768);
            if (k > i1->off[j])
                assert_true(i1->id[k - 1] < i1->id[k]);
        }
    }
    /* redrawn: bursts 1 and 2 differ */
    assert_false(count_in(i1, 0) == count_in(i1, 1) &&
                 memcmp(i1->id, i1->id + i1->off[1], count_in(i1, 0) * sizeof(uint32_t)) == 0);
    /* same seed, other batching: burst 4..6 alone give the same lists */
    const struct npu_inject *i2 = build(s2, net2, 4, 3, &b2);
    for (uint32_t j = 0; j < 3; j++) {
        assert_int_equal(count_in(i2, j), count_in(i1, 3 + j));
        assert_memory_equal(i2->id + i2->off[j], i1->id + i1->off[3 + j], count_in(i2, j) * sizeof(uint32_t));
    }
    /* another seed: another pattern */
    const struct npu_inject *i3 = build(s3, net3, 1, 1, &b3);
    assert_true(count_in(i3, 0) > 2200 && count_in(i3, 0) < 2800);
    assert_false(count_in(i3, 0) == count_in(i1, 0) &&
                 memcmp(i3->id, i1->id, count_in(i3, 0) * sizeof(uint32_t)) == 0);
    npu_inject_buf_free(&b1);
    npu_inject_buf_free(&b2);
    npu_inject_buf_free(&b3);
    npu_scn_free(s1);
    npu_scn_free(s2);
    npu_scn_free(s3);
    npu_net_free(net);
    npu_net_free(net2);
    npu_net_free(net3);
}

/* random 0 picks nothing, random 1 the whole area. */
static void test_random_extremes(void **state)
{
    (void)state;
    struct npu_net *net;
    struct npu_scenario *scn = load_all(
        "[stimulus none]\narea = big\nneurons = random 0\npotential = 1\n"
        "[stimulus every]\narea = r\nneurons = random 1\npotential = 1\n", &net);
    struct npu_inject_buf buf = { 0 };
    const struct npu_inject *in = build(scn, net, 1, 2, &buf);
    for (uint32_t j = 0; j < 2; j++) {
        assert_int_equal(count_in(in, j), 24);
        for (uint32_t k = 0; k < 24; k++)
            assert_int_equal(in->id[in->off[j] + k], 5 + k);
    }
    npu_inject_buf_free(&buf);
    npu_scn_free(scn);
    npu_net_free(net);
}

/* Potentials become round_half_even(p * 65536): the exact ties 0.5, 1.5,
 * 2.5 and -1.5 units of 2^-16 go to the even neighbour; power too. */
static void test_potential_rounding(void **state)
{
    (void)state;
    static const struct { const char *text; int64_t q; } cases[] = {
        { "0.00000762939453125", 0 },      /* 0.5 * 2^-16 */
        { "0.00002288818359375", 2 },      /* 1.5 * 2^-16 */
        { "0.00003814697265625", 2 },      /* 2.5 * 2^-16 */
        { "0.00005340576171875", 4 },      /* 3.5 * 2^-16 */
        { "-0.00002288818359375", -2 },
        { "-0.00000762939453125", 0 },
        { "0.0000076293945312500001", 0 }, /* rounds to the same double */
        { "0.00000763", 1 },               /* just above the tie */
        { "1.5", 98304 },
        { "-2.75", -180224 },
        { "1e-9", 0 },
        { "1000000000", INT64_C(65536000000000) },
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char body[512];
        snprintf(body, sizeof(body), "power = %s\n[stimulus s]\narea = pre\npotential = %s\n",
                 cases[k].text, cases[k].text);
        struct npu_scenario *scn;
        struct npu_err err;
        if (load_scn(body, &scn, &err))
            fail_msg("%s: %s", cases[k].text, err.msg);
        if (scn->stims[0].q != cases[k].q || scn->power_q != cases[k].q)
            fail_msg("potential %s: got %lld / power %lld, want %lld", cases[k].text,
                     (long long)scn->stims[0].q, (long long)scn->power_q, (long long)cases[k].q);
        npu_scn_free(scn);
    }
    expect_error("[stimulus s]\narea = pre\npotential = 1e10\n", 5, "potential");
}

/* Errors carry FILE:LINE of the offending key (or section). */
static void test_errors(void **state)
{
    (void)state;
    /* lines 1-2 are [scenario] and network */
    expect_error("[stimulus s]\narea = r\npotential = 1\nbursts = 5-3\n", 6, "backwards");
    expect_error("[stimulus s]\narea = r\npotential = 1\nbursts = 0-3\n", 6, "numbered from 1");
    expect_error("[stimulus s]\narea = r\npotential = 1\nbursts = 1-10/0\n", 6, "step");
    expect_error("[stimulus s]\narea = r\npotential = 1\nbursts = 1-10 x\n", 6, "unexpected 'x'");
    expect_error("[stimulus s]\narea = r\npotential = 1\nbursts = ,\n", 6, "bursts");
    expect_error("[stimulus s]\narea = r\nneurons = box 1-2,0-1\npotential = 1\n", 5, "expected box");
    expect_error("[stimulus s]\narea = r\nneurons = 1,2\npotential = 1\n", 5, "neurons");
    expect_error("[stimulus s]\narea = r\nneurons = 1,2,0 4,0,0\npotential = 1\n", 5, "neurons");
    expect_error("[stimulus s]\narea = r\nneurons = random 1.5\npotential = 1\n", 5, "neurons");
    expect_error("[stimulus s]\narea = r\npotential = abc\n", 5, "not a number");
    expect_error("[stimulus s]\narea = r\npotential = nan\n", 5, "not a finite number");
    expect_error("[stimulus s]\npotential = 1\n", 3, "needs `area`");
    expect_error("[stimulus s]\narea = r\n", 3, "needs `potential`");
    expect_error("[stimulus s]\narea = r\npotential = 1\nintensity = 2\n", 6, "unknown key 'intensity'");
    expect_error("bursts = -1\n", 3, "bursts");
    expect_error("backend = gpu\n", 3, "backend 'gpu'");
    expect_error("\n[stimuli s]\narea = r\n", 4, "unknown section [stimuli s]");
    expect_error("[record]\npotentials = maybe\n", 4, "not a boolean");
}

/* Resolving against the network: an unknown area or a coordinate outside
 * the area is an error at the stimulus section's FILE:LINE. */
static void test_resolve_errors(void **state)
{
    (void)state;
    static const struct { const char *body; const char *frag; } cases[] = {
        { "[stimulus s]\narea = nowhere\npotential = 1\n", "no area 'nowhere'" },
        { "[stimulus s]\narea = r\nneurons = 4,0,0\npotential = 1\n", "outside area 'r'" },
        { "[stimulus s]\narea = r\nneurons = 0,0,2\npotential = 1\n", "outside area 'r'" },
        { "[stimulus s]\narea = r\nneurons = box 0-1,0-3,0-0\npotential = 1\n", "outside area 'r'" },
    };
    struct npu_netload_opts opts = { .max_bytes = UINT64_C(1) << 30 };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct npu_scenario *scn;
        struct npu_net *net;
        struct npu_err err;
        assert_int_equal(load_scn(cases[k].body, &scn, &err), NPU_OK);
        assert_int_equal(npu_netload_file(scn->network_path, &opts, &net, NULL, &err), NPU_OK);
        struct npu_warnings warn = { 0 };
        assert_int_equal(npu_scn_resolve(scn, net, &warn, &err), NPU_E_INPUT);
        char where[400];
        /* The line of the offending key: `area` for an unknown area, else `neurons`. */
        snprintf(where, sizeof(where), "%s:%d: ", scn_path, k == 0 ? 4 : 5);
        if (strncmp(err.msg, where, strlen(where)) != 0 || !strstr(err.msg, cases[k].frag))
            fail_msg("expected '%s...%s', got %s", where, cases[k].frag, err.msg);
        npu_warnings_free(&warn);
        npu_scn_free(scn);
        npu_net_free(net);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_schedule_inject),
        cmocka_unit_test(test_selections),
        cmocka_unit_test(test_random_selection),
        cmocka_unit_test(test_random_extremes),
        cmocka_unit_test(test_potential_rounding),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_resolve_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
